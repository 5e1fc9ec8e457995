// The trends panel (issue 19): bursts of new stories in a region, a topic or a rule, as the
// worker's trend stage reports them (trend.v2 records from GET /trends and `event: trend`).

import { el, timeEl } from "./dom.js";
import { number, plural } from "./arabic.js";

export const LEVELS = ["elevated", "high", "extreme"];
// How unusual the count is (the detector's p_day thresholds), not how grave the news: words
// of their own, so that a level is never read as an alert's severity («عالية», «حرجة»).
export const LEVEL = { elevated: "ملحوظ", high: "قوي", extreme: "استثنائي" };
// Region groups the detector counts besides countries (streams/trends/detector.py).
const GROUPS = { GULF: "دول الخليج" };

// «خلال …»: the genitive forms after a preposition.
const SPANS = {
  m: { zero: "{n} دقيقة", one: "دقيقة", two: "دقيقتين", few: "{n} دقائق", many: "{n} دقيقة", other: "{n} دقيقة" },
  h: { zero: "{n} ساعة", one: "ساعة", two: "ساعتين", few: "{n} ساعات", many: "{n} ساعة", other: "{n} ساعة" },
  d: { zero: "{n} يوم", one: "يوم", two: "يومين", few: "{n} أيام", many: "{n} يومًا", other: "{n} يوم" },
  s: { zero: "{n} ثانية", one: "ثانية", two: "ثانيتين", few: "{n} ثوانٍ", many: "{n} ثانية", other: "{n} ثانية" },
};

// "15m" → «خلال 15 دقيقة», "1h" → «خلال ساعة», "6h" → «خلال 6 ساعات».
export function windowLabel(window) {
  const m = /^(\d+)([smhd])$/.exec(String(window || ""));
  if (!m) return String(window || "");
  return "خلال " + plural(Number(m[1]), SPANS[m[2]]);
}

function decimal(x) {
  return number(Math.round(Number(x || 0) * 10) / 10);
}

// The key in Arabic: «العراق · الأمن», «العراق · كل الموضوعات», «الأمن · كل المناطق», or the
// rule's title: that of its alerts loaded on the page, else the one the record carries
// (trend.v2 `rule_title`), else the rule id.
export function ruleLabel(trend, ctx) {
  const id = trend.rule || String(trend.key || "").replace(/^rule:/, "");
  const known = ctx.ruleTitle(id);
  return known && known !== id ? known : (trend.rule_title || id);
}

export function keyLabel(trend, ctx) {
  const region = trend.region ? (GROUPS[trend.region] || ctx.regionName(trend.region).ar) : null;
  const topic = trend.topic ? ctx.topicName(trend.topic).ar : null;
  if (trend.kind === "rule" || trend.rule) return "القاعدة: " + ruleLabel(trend, ctx);
  if (region && topic) return `${region} · ${topic}`;
  if (region) return `${region} · كل الموضوعات`;
  if (topic) return `${topic} · كل المناطق`;
  return trend.key;
}

export function trendItem(trend, ctx) {
  const level = LEVELS.includes(trend.level) ? trend.level : "elevated";
  const li = el("li", `trend level-${level}`);
  li.dataset.trend = trend.id;
  li.dataset.key = trend.key;
  li.dataset.level = level;

  const top = el("div", "top");
  top.append(el("span", "level", LEVEL[level]));
  const key = el("span", "key", keyLabel(trend, ctx));
  key.dir = "auto";
  key.title = trend.key;
  top.append(key);
  li.append(top);

  const counts = el("p", "counts");
  counts.append(el("span", "window", windowLabel(trend.window)), " · ",
    el("span", "count", `${decimal(trend.count)} مقابل ${decimal(trend.expected)} متوقَّعًا`));
  if (trend.ratio) counts.append(" ", el("span", "ratio", `(×${decimal(trend.ratio)})`));
  counts.title = `قصص جديدة: ${number(trend.new_stories || 0)} · مصادر انضمّت: ${number(trend.new_outlets || 0)}`;
  li.append(counts);

  const stories = el("ul", "trend-stories");
  for (const s of (trend.top_stories || []).slice(0, 3)) {
    const item = el("li", "trend-story");
    item.dataset.story = s.story_id;
    const headline = el(ctx.hasStory(s.story_id) ? "button" : "span", "headline", s.headline || s.story_id);
    headline.dir = "auto";
    if (headline.tagName === "BUTTON") {
      headline.type = "button";
      headline.addEventListener("click", () => ctx.open(s.story_id));
    }
    item.append(headline, " ", el("span", "sources", plural((s.sources || []).length, SOURCES)));
    stories.append(item);
  }
  if (stories.children.length) li.append(stories);

  const terms = (trend.terms || []).slice(0, 8);
  if (terms.length) {
    const t = el("p", "terms");
    t.append(el("span", "label", "كلمات صاعدة: "));
    for (const term of terms) {
      const chip = el("span", "term", term.term);
      chip.title = `${number(Math.round((term.window_share || 0) * 100))}٪ من قصص النافذة`
        + ` مقابل ${number(Math.round((term.baseline_share || 0) * 100))}٪ قبلها`;
      t.append(chip);
    }
    li.append(t);
  }
  const when = el("p", "when");
  when.append("رُصد ", timeEl(trend.detected_at));
  li.append(when);
  return li;
}

const SOURCES = {
  zero: "", one: "مصدر واحد", two: "مصدران",
  few: "{n} مصادر", many: "{n} مصدرًا", other: "{n} مصدر",
};
