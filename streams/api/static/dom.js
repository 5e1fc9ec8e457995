// DOM helpers. Text goes in as text nodes only (never innerHTML), links through safeHref.

import { dateTime, fullDateTime, ago, safeHref } from "./arabic.js";

const SVG = "http://www.w3.org/2000/svg";

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

export function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// A piece of text in its own direction (a Latin rule title or outlet id in Arabic text).
export function isolated(tag, cls, text) {
  const e = el(tag, cls, text);
  e.dir = "auto";
  return e;
}

// A <time>: Arabic date, the exact time and how long ago in the tooltip.
export function timeEl(iso, cls) {
  const t = el("time", cls, dateTime(iso));
  if (iso) {
    t.dateTime = iso;
    t.title = fullDateTime(iso) + " · " + ago(iso);
  }
  return t;
}

// The headline as a link when the URL is http(s), as plain text otherwise.
export function linkOrText(text, url, cls) {
  const href = safeHref(url);
  if (!href) return el("span", cls, text);
  const a = el("a", cls, text);
  a.href = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

// The snippet with the matched phrase in <mark> (every occurrence).
export function highlighted(snippet, phrase, cls = "snippet") {
  const p = el("p", cls);
  const text = String(snippet || "");
  if (!phrase) {
    p.textContent = text;
    return p;
  }
  let at = 0;
  for (let i = text.indexOf(phrase); i >= 0; i = text.indexOf(phrase, at)) {
    p.append(text.slice(at, i), el("mark", null, phrase));
    at = i + phrase.length;
  }
  p.append(text.slice(at));
  return p;
}
