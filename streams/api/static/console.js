// Rasid's analyst console: one card per story, live over SSE, filters kept in the URL, a map,
// alerts per hour, a detail view, read marks and notifications kept in this browser.
//
// Data: GET /alerts (paged; the first pages of the chosen period), then /alerts/stream from
// the first page's position, opened with a one-use ticket (the key never goes in a URL);
// GET /names (region, topic and outlet names), GET /places (map positions).

import { StoryStore, hourly } from "./stories.js";
import { card, detail } from "./cards.js";
import { MapView } from "./map.js";
import { Timeline } from "./timeline.js";
import { csvText } from "./csv.js";
import { trendItem } from "./trends.js";
import {
  SEVERITY, SEVERITIES, COUNTS, plural, fold, severityRank, number, hourLabel, dateTime,
} from "./arabic.js";

const TITLE = "راصد — لوحة المحلل";
// `?page=N` (1–500) sets both page sizes below to N: a small view, for tests and slow links.
const PAGE_PARAM = (() => {
  const n = Number(new URLSearchParams(location.search).get("page"));
  return Number.isInteger(n) && n >= 1 && n <= 500 ? n : null;
})();
const PAGE = PAGE_PARAM || 40; // cards shown, and added by «عرض المزيد»
const FETCH = PAGE_PARAM || 500; // alerts per GET /alerts
const SEARCH_DELAY = 400; // ms after the last key stroke before the search asks the API
const FIRST_PAGES = 3; // pages loaded when the view opens
const MAX_STORIES = 800; // kept in memory; the oldest are dropped and paged back on demand
const READ_MAX = 3000; // read marks kept in localStorage
const PLACES_BATCH = 40;
const RANGES = { "1h": 1, "6h": 6, "24h": 24, "7d": 168, all: null };
const HOUR = 3600 * 1000;
const TRENDS_SHOWN = 6; // trends listed in the panel (newest first)
const TRENDS_KEPT = 200;

const $ = id => document.getElementById(id);
const store = new StoryStore();
const cards = new Map(); // story id → {version, unread, el}
const state = {
  key: "",
  filters: {},
  generation: 0,
  source: null,
  lastId: null,
  cursor: null,
  until: null,
  exhausted: true,
  shown: PAGE,
  busy: false,
  names: { regions: {}, topics: {}, sources: {} },
  rules: new Map(), // rule id → {title, en}
  places: new Map(), // "CODE:found" → position or null
  pending: new Set(),
  placesTimer: null,
  renderTimer: null,
  fresh: new Set(),
  open: null,
  openVersion: -1,
  hours: 24,
  choices: "",
  trends: new Map(), // trend id → trend record (v2; v1 from an older worker)
  trendsOn: false, // the API has GET /trends (an older one answers 404: no panel)
  trendsShown: "",
};

// ---- kept in the browser

function load(name, fallback) {
  try {
    const v = JSON.parse(localStorage.getItem(name));
    return v == null ? fallback : v;
  } catch {
    return fallback;
  }
}
function save(name, value) {
  try {
    localStorage.setItem(name, JSON.stringify(value));
  } catch { /* private mode, full: the console works without */ }
}
const prefs = Object.assign({ notify: false, sound: false, theme: "auto" }, load("rasid-prefs", {}));
let read = load("rasid-read", {}); // story id → the story's last update the user has seen

function token() {
  const m = location.hash.match(/(?:^#|&)key=([^&]+)/);
  if (m) {
    localStorage.setItem("rasid-key", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem("rasid-key") || "";
}
const auth = () => ({ Authorization: "Bearer " + state.key });

// ---- filters, kept in the URL (a view can be shared; the key never is)

const CODE = /^[A-Z]{2}$/;
function readFilters() {
  const p = new URLSearchParams(location.search);
  const f = {
    region: p.get("region") || "",
    topic: (p.get("topic") || "").slice(0, 64),
    rule: (p.get("rule") || "").slice(0, 100),
    severity: p.get("severity") || "",
    range: p.get("range") || "24h",
    from: p.get("from") || "",
    q: (p.get("q") || "").slice(0, 200),
  };
  if (!CODE.test(f.region)) f.region = "";
  if (!SEVERITIES.includes(f.severity)) f.severity = "";
  if (!(f.range in RANGES)) f.range = "24h";
  if (f.from && Number.isNaN(Date.parse(f.from))) f.from = "";
  return f;
}
function writeFilters() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) {
    if (v && !(k === "range" && v === "24h")) p.set(k, v);
  }
  if (PAGE_PARAM) p.set("page", String(PAGE_PARAM));
  const q = p.toString();
  history.replaceState(null, "", location.pathname + (q ? "?" + q : "") + location.hash);
}
function serverParams() {
  const f = state.filters;
  const p = new URLSearchParams();
  for (const k of ["region", "topic", "rule", "severity"]) if (f[k]) p.set(k, f[k]);
  // The search goes to the API too (GET /alerts?q=…): it finds stories older than the pages
  // loaded; live events are searched here (visible()), the stream has no `q`.
  if (f.q.trim()) p.set("q", f.q.trim());
  if (f.from) {
    const start = Date.parse(f.from);
    p.set("since", new Date(start).toISOString());
    p.set("until", new Date(start + HOUR - 1).toISOString());
  } else if (RANGES[f.range]) {
    p.set("since", new Date(Date.now() - RANGES[f.range] * HOUR).toISOString());
  }
  return p;
}

// ---- names

function regionName(code, story) {
  return (story && story.names("regions")[code]) || state.names.regions[code] || { ar: code, en: code };
}
function topicName(code, story) {
  return (story && story.names("topics")[code]) || state.names.topics[code] || { ar: code, en: code };
}
function sourceName(id) {
  return state.names.sources[id] || id;
}
async function loadNames() {
  try {
    const r = await fetch("/names");
    if (r.ok) state.names = Object.assign({ regions: {}, topics: {}, sources: {} }, await r.json());
  } catch { /* codes are shown instead */ }
  state.choices = "";
  scheduleRender();
}

// ---- status, counter

function setStatus(cls, text) {
  const s = $("status");
  s.className = "status" + (cls ? " " + cls : "");
  s.textContent = text;
}
const isUnread = story => (read[story.id] || 0) < story.updatedAt;

function acknowledge(id) {
  const story = store.stories.get(id);
  if (!story) return;
  read[id] = story.updatedAt;
  saveRead();
  scheduleRender();
}
function saveRead() {
  const entries = Object.entries(read);
  if (entries.length > READ_MAX) {
    entries.sort((a, b) => b[1] - a[1]);
    read = Object.fromEntries(entries.slice(0, READ_MAX));
  }
  save("rasid-read", read);
}

// ---- loading

function closeStream() {
  if (state.source) {
    state.source.close();
    state.source = null;
  }
}

async function fetchPage(cursor, gen) {
  const q = serverParams();
  q.set("limit", String(FETCH));
  if (cursor) q.set("cursor", cursor);
  if (state.until && !(q.get("until") && Date.parse(q.get("until")) < state.until)) {
    q.set("until", new Date(state.until).toISOString());
  }
  const r = await fetch("/alerts?" + q, { headers: auth() });
  if (gen !== state.generation) return null;
  if (r.status === 401) {
    invalidKey();
    return null;
  }
  if (!r.ok) throw new Error("GET /alerts " + r.status);
  const page = await r.json();
  if (gen !== state.generation) return null;
  for (const alert of page.alerts) ingest(alert, false);
  return page;
}

async function connect() {
  const gen = ++state.generation;
  closeStream();
  store.clear();
  cards.clear();
  Object.assign(state, { cursor: null, until: null, exhausted: true, shown: PAGE, lastId: null });
  render();
  state.key = token();
  if (!state.key) {
    setStatus("", "بلا مفتاح");
    openKeyDialog();
    return;
  }
  setStatus("", "جارٍ التحميل…");
  let position;
  try {
    let page = await fetchPage(null, gen);
    if (!page) return;
    position = page.position;
    for (let n = 1; page.next_cursor && n < FIRST_PAGES; n += 1) {
      page = await fetchPage(page.next_cursor, gen);
      if (!page) return;
    }
    state.cursor = page.next_cursor;
    state.exhausted = !page.next_cursor;
  } catch {
    setStatus("", "تعذّر التحميل، إعادة المحاولة…");
    setTimeout(() => gen === state.generation && connect(), 5000);
    return;
  }
  await loadTrends(gen);
  render();
  openFromHash();
  openStream(position, gen);
}

// ---- trends (issue 19): GET /trends, then `event: trend` on the same stream

async function loadTrends(gen) {
  state.trends.clear();
  // The view's region, topic, rule and period, as the stream applies them to `event: trend`
  // (the period on `detected_at`); no search, no severity (a trend has none).
  const q = serverParams();
  q.delete("q");
  q.delete("severity");
  q.set("limit", "50");
  let ok = false;
  try {
    const r = await fetch("/trends?" + q, { headers: auth() });
    if (gen !== state.generation) return;
    if (r.ok) {
      const page = await r.json();
      const list = Array.isArray(page) ? page : page.trends;
      if (Array.isArray(list)) {
        for (const t of list) addTrend(t);
        ok = true;
      }
    }
  } catch { /* no panel: the alerts go on */ }
  if (gen !== state.generation) return;
  state.trendsOn = ok;
  $("trends-panel").hidden = !ok;
}

function addTrend(trend) {
  if (!trend || typeof trend.id !== "string" || typeof trend.key !== "string") return false;
  if (state.trends.has(trend.id)) return false;
  state.trends.set(trend.id, trend);
  if (state.trends.size > TRENDS_KEPT) {
    const oldest = sortedTrends().at(-1);
    state.trends.delete(oldest.id);
  }
  return true;
}

function sortedTrends() {
  const at = t => Date.parse(t.detected_at || "") || 0;
  return [...state.trends.values()].sort((a, b) => at(b) - at(a));
}

function wantedTrend(t) {
  const f = state.filters;
  if (f.region && t.region !== f.region && !(t.regions || []).includes(f.region)) return false;
  if (f.topic && t.topic !== f.topic && !(t.topics || []).includes(f.topic)) return false;
  if (f.rule && t.rule !== f.rule) return false;
  return true;
}

const trendCtx = {
  regionName, topicName,
  ruleTitle: id => (state.rules.get(id) || {}).title || id,
  hasStory: id => store.stories.has(id),
  open: id => openStory(id),
};

function renderTrends() {
  if (!state.trendsOn) return;
  const list = sortedTrends().filter(wantedTrend);
  const shown = list.slice(0, TRENDS_SHOWN);
  // rebuilt only when what it shows changed (the list, names, rule titles, stories loaded)
  const signature = JSON.stringify([list.length,
    shown.map(t => [t.id, (t.top_stories || []).map(x => trendCtx.hasStory(x.story_id))]),
    Object.keys(state.names.regions).length, [...state.rules.values()].map(r => r.title)]);
  if (signature === state.trendsShown) return;
  state.trendsShown = signature;
  $("trends").replaceChildren(...shown.map(t => trendItem(t, trendCtx)));
  $("trends-empty").hidden = list.length > 0;
  $("trends-count").textContent = list.length ? `(${number(list.length)})` : "";
}

function invalidKey() {
  localStorage.removeItem("rasid-key");
  state.key = "";
  closeStream();
  setStatus("", "مفتاح غير صالح");
  openKeyDialog();
}

async function openStream(from, gen) {
  // EventSource cannot send the key in a header, and a key in a URL would end up in logs:
  // the key buys a one-use ticket (POST, Authorization header); every (re)connection takes a
  // new one and resumes from the last event received.
  if (gen !== state.generation) return;
  const retry = () => {
    setStatus("", "إعادة الاتصال…");
    setTimeout(() => openStream(state.lastId, gen), 3000);
  };
  let t;
  try {
    t = await fetch("/alerts/stream/ticket", { method: "POST", headers: auth() });
  } catch {
    retry();
    return;
  }
  if (gen !== state.generation) return;
  if (t.status === 401) {
    invalidKey();
    return;
  }
  if (!t.ok) {
    retry();
    return;
  }
  const { ticket } = await t.json();
  state.lastId = from;
  const q = serverParams();
  q.delete("q");
  q.set("ticket", ticket);
  if (from) q.set("last_event_id", from);
  if (state.trendsOn) q.set("events", "alerts,trends");
  const es = new EventSource("/alerts/stream?" + q);
  state.source = es;
  es.onopen = () => setStatus("live", "مباشر");
  es.onerror = () => {
    es.close();
    if (state.source === es) {
      state.source = null;
      retry();
    }
  };
  es.addEventListener("alert", ev => {
    state.lastId = ev.lastEventId;
    let alert;
    try {
      alert = JSON.parse(ev.data);
    } catch {
      return;
    }
    ingest(alert, true);
    const cut = store.trim(MAX_STORIES);
    if (cut) Object.assign(state, { cursor: null, until: cut, exhausted: false });
    scheduleRender();
  });
  es.addEventListener("trend", ev => {
    if (ev.lastEventId) state.lastId = ev.lastEventId;
    let trend;
    try {
      trend = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (addTrend(trend)) scheduleRender();
  });
}

function ingest(alert, live) {
  const { story, change } = store.add(alert);
  if (!story || !change) return;
  if (alert.rule) {
    state.rules.set(alert.rule, { title: alert.rule_title || alert.rule, en: alert.rule_title_en || "" });
  }
  wantPlaces(story);
  if (live) {
    state.fresh.add(story.id);
    alarm(story, change);
  }
}

async function more() {
  const total = visible().length;
  if (state.shown < total) {
    state.shown += PAGE;
    render();
    return;
  }
  if (state.exhausted || state.busy) return;
  state.busy = true;
  $("more").disabled = true;
  const gen = state.generation;
  try {
    const page = await fetchPage(state.cursor, gen);
    if (page) {
      state.cursor = page.next_cursor;
      state.exhausted = !page.next_cursor;
      state.shown += PAGE;
    }
  } catch {
    setStatus(state.source ? "live" : "", "تعذّر تحميل الأقدم");
  } finally {
    state.busy = false;
    $("more").disabled = false;
    render();
  }
}

// ---- map positions

function placeKeys(story) {
  const why = story.explanation("regions");
  const out = [];
  for (const code of story.codes("regions")) {
    if (!CODE.test(code)) continue;
    const found = ((why.get(code) || {}).found || []).filter(f => f && f.length <= 100);
    out.push({ code, keys: (found.length ? found : [code]).map(f => code + ":" + f) });
  }
  return out;
}
function wantPlaces(story) {
  for (const { keys } of placeKeys(story)) {
    for (const k of keys) if (!state.places.has(k)) state.pending.add(k);
  }
  if (state.pending.size && !state.placesTimer) state.placesTimer = setTimeout(fetchPlaces, 300);
}
async function fetchPlaces() {
  state.placesTimer = null;
  const batch = [...state.pending].slice(0, PLACES_BATCH);
  if (!batch.length || !state.key) return;
  const q = new URLSearchParams();
  for (const k of batch) q.append("at", k);
  try {
    const r = await fetch("/places?" + q, { headers: auth() });
    if (r.ok) {
      const { places } = await r.json();
      for (const k of batch) state.places.set(k, places[k] || null);
    } else if (r.status === 400) {
      for (const k of batch) state.places.set(k, null);
    }
  } catch { /* tried again with the next batch */ }
  for (const k of batch) state.pending.delete(k);
  if (state.pending.size) state.placesTimer = setTimeout(fetchPlaces, 1000);
  scheduleRender();
}
function markers(stories) {
  const byKey = new Map();
  for (const story of stories) {
    const mine = new Set();
    for (const { code, keys } of placeKeys(story)) {
      const points = keys.map(k => state.places.get(k)).filter(Boolean);
      const exact = points.filter(p => p.exact);
      // a place named in the story is drawn there; the country's centre only without one
      for (const p of exact.length ? exact : points.slice(0, 1)) {
        const key = p.exact ? code + "|" + p.name : code;
        if (mine.has(key)) continue;
        mine.add(key);
        let m = byKey.get(key);
        if (!m) {
          const label = p.exact ? (p.label || p.name) : regionName(code, story).ar;
          m = { key, code, lat: p.lat, lon: p.lon, exact: p.exact, label, count: 0, severity: "info" };
          byKey.set(key, m);
        }
        m.count += 1;
        if (severityRank(story.severity) > severityRank(m.severity)) m.severity = story.severity;
      }
    }
  }
  return [...byKey.values()];
}

// ---- notifications and sound (high and critical, new or escalated, live only)

let audio = null;
function beep(severity) {
  if (!audio) return;
  if (audio.state === "suspended") audio.resume();
  const t0 = audio.currentTime;
  const n = severity === "critical" ? 3 : 1;
  for (let i = 0; i < n; i += 1) {
    const t = t0 + i * 0.3;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = severity === "critical" ? 880 : 660;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.3);
  }
}
function alarm(story, change) {
  if (change === "updated" || severityRank(story.severity) < severityRank("high")) return;
  if (prefs.sound) beep(story.severity);
  if (prefs.notify && "Notification" in window && Notification.permission === "granted") {
    const what = change === "escalated" ? "تصعيد" : "قصة جديدة";
    const n = new Notification(`راصد · ${SEVERITY[story.severity]} · ${what}`, {
      body: story.headline(), tag: story.id, lang: "ar", dir: "rtl",
    });
    n.onclick = () => {
      window.focus();
      openStory(story.id);
      n.close();
    };
  }
}

// ---- rendering

function visible() {
  const q = fold(state.filters.q.trim());
  return store.sorted(s => s.matchesSearch(q));
}
function scheduleRender() {
  if (!state.renderTimer) {
    state.renderTimer = setTimeout(() => {
      state.renderTimer = null;
      render();
    }, 150);
  }
}
const ctx = {
  regionName, topicName, sourceName, isUnread, acknowledge,
  open: id => openStory(id),
};

function render() {
  const stories = visible();
  renderList(stories);
  renderSummary(stories);
  renderChoices();
  if (timeline) renderTimeline(stories);
  if (map) map.render(markers(stories), state.filters.region);
  renderTrends();
  if (state.open) {
    const story = store.stories.get(state.open);
    if (story && story.version !== state.openVersion) showDetail(story);
  }
}

function renderList(stories) {
  const list = $("stories");
  const shown = stories.slice(0, state.shown);
  const els = shown.map(story => {
    const unread = isUnread(story);
    let c = cards.get(story.id);
    if (!c || c.version !== story.version || c.unread !== unread) {
      c = { version: story.version, unread, el: card(story, ctx) };
      cards.set(story.id, c);
    }
    if (state.fresh.has(story.id)) {
      c.el.classList.add("fresh");
      setTimeout(() => c.el.classList.remove("fresh"), 2500);
    }
    return c.el;
  });
  state.fresh.clear();
  els.forEach((e, i) => {
    if (list.children[i] !== e) list.insertBefore(e, list.children[i] || null);
  });
  while (list.children.length > els.length) list.lastElementChild.remove(); // older cards trimmed
  for (const id of cards.keys()) if (!store.stories.has(id)) cards.delete(id);
  $("empty").hidden = stories.length > 0;
  const more = $("more");
  const hidden = stories.length - shown.length;
  more.hidden = hidden <= 0 && state.exhausted;
  more.textContent = hidden > 0 ? `عرض المزيد (${number(hidden)})` : "تحميل الأقدم";
}

function renderSummary(stories) {
  let alerts = 0;
  for (const s of stories) alerts += s.alerts.size;
  const unread = stories.filter(isUnread).length;
  $("summary").textContent = `${plural(stories.length, COUNTS.stories)} · ${plural(alerts, COUNTS.alerts)}`
    + (unread ? ` · ${plural(unread, COUNTS.unread)}` : "");
  const badge = $("unread");
  badge.hidden = !unread;
  badge.textContent = number(unread);
  badge.title = plural(unread, COUNTS.unread);
  document.title = unread ? `(${number(unread)}) ${TITLE}` : TITLE;
  $("ack-all").disabled = !unread;
}

function option(value, text, title) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  if (title) o.title = title;
  return o;
}
function group(label, options) {
  const g = document.createElement("optgroup");
  g.label = label;
  g.append(...options);
  return g;
}
function byArabic(a, b) {
  return a[1].localeCompare(b[1], "ar");
}
function renderChoices() {
  const present = { regions: new Set(), topics: new Set() };
  for (const s of store.stories.values()) {
    for (const c of s.codes("regions")) present.regions.add(c);
    for (const c of s.codes("topics")) present.topics.add(c);
  }
  const f = state.filters;
  const signature = JSON.stringify([[...present.regions].sort(), [...present.topics].sort(),
    [...state.rules.keys()].sort(), Object.keys(state.names.regions).length, f.region, f.topic, f.rule]);
  if (signature === state.choices) return;
  const busy = ["f-region", "f-topic", "f-rule"].includes((document.activeElement || {}).id);
  if (busy) return; // not under an open list; the next render does it
  state.choices = signature;

  const regionOf = c => [c, regionName(c).ar, regionName(c).en];
  const here = [...present.regions].map(regionOf).sort(byArabic);
  const all = Object.keys(state.names.regions).filter(c => !present.regions.has(c)).map(regionOf).sort(byArabic);
  if (f.region && !present.regions.has(f.region) && !state.names.regions[f.region]) all.unshift(regionOf(f.region));
  const region = $("f-region");
  region.replaceChildren(option("", "كل المناطق"),
    group("في التنبيهات الحالية", here.map(([c, ar, en]) => option(c, ar, `${c} · ${en}`))),
    group("كل الدول", all.map(([c, ar, en]) => option(c, ar, `${c} · ${en}`))));
  region.value = f.region;

  const topicOf = c => [c, topicName(c).ar, topicName(c).en];
  const codes = new Set([...Object.keys(state.names.topics), ...present.topics]);
  if (f.topic) codes.add(f.topic);
  const topic = $("f-topic");
  topic.replaceChildren(option("", "كل الموضوعات"),
    ...[...codes].map(topicOf).sort(byArabic).map(([c, ar, en]) => option(c, ar, `${c} · ${en}`)));
  topic.value = f.topic;

  const rules = [...state.rules.entries()].map(([id, r]) => [id, r.title, r.en]);
  if (f.rule && !state.rules.has(f.rule)) rules.push([f.rule, f.rule, ""]);
  const rule = $("f-rule");
  rule.replaceChildren(option("", "كل القواعد"),
    ...rules.sort(byArabic).map(([id, title, en]) => option(id, title, [en, id].filter(Boolean).join(" · "))));
  rule.value = f.rule;
}

function syncForm() {
  const f = state.filters;
  $("f-q").value = f.q;
  $("f-severity").value = f.severity;
  $("f-range").value = f.range;
  $("f-range").disabled = Boolean(f.from);
  const chip = $("hour-chip");
  chip.hidden = !f.from;
  if (f.from) chip.firstElementChild.textContent = "الساعة: " + hourLabel(Date.parse(f.from), { withDay: true });
  state.choices = "";
}

let timeline = null;
function renderTimeline(stories) {
  const bins = hourly(stories, state.hours);
  timeline.render(bins, state.filters.from ? Date.parse(state.filters.from) : null);
  for (const b of document.querySelectorAll(".timeline-tools button")) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.hours) === state.hours));
  }
}

let map = null;

// ---- detail view (#story=… in the address: shareable with the filters)

function showDetail(story) {
  state.openVersion = story.version;
  $("detail-content").replaceChildren(detail(story, ctx));
  $("detail-ack").disabled = !isUnread(story);
}
function openStory(id) {
  const story = store.stories.get(id);
  if (!story) return;
  state.open = id;
  showDetail(story);
  const dialog = $("detail");
  if (!dialog.open) dialog.showModal();
  history.replaceState(null, "", location.pathname + location.search + "#story=" + encodeURIComponent(id));
  acknowledge(id); // read once opened
}
function closeStory() {
  state.open = null;
  state.openVersion = -1;
  if (location.hash.startsWith("#story=")) history.replaceState(null, "", location.pathname + location.search);
}
function openFromHash() {
  const m = location.hash.match(/^#story=([^&]+)/);
  if (m) openStory(decodeURIComponent(m[1]));
}

// ---- export

function exportCsv() {
  const rows = [["story_id", "severity", "status", "rules", "regions", "topics", "sources",
    "headline", "published_at", "updated_at", "urls"]];
  for (const s of visible()) {
    rows.push([
      s.id, s.severity, s.status,
      s.list.map(a => a.rule_title || a.rule).join(" | "),
      s.codes("regions").map(c => regionName(c, s).ar).join(" | "),
      s.codes("topics").map(c => topicName(c, s).ar).join(" | "),
      s.sources.map(sourceName).join(" | "),
      s.headline(), s.publishedAt() || "", new Date(s.updatedAt).toISOString(),
      s.articles.map(a => a.url || "").filter(Boolean).join(" "),
    ]);
  }
  const text = csvText(rows);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  a.download = `rasid-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, "-")}.csv`;
  document.body.append(a);
  a.click();
  setTimeout(() => {
    URL.revokeObjectURL(a.href);
    a.remove();
  }, 1000);
}

// ---- key, theme, toggles

function openKeyDialog() {
  const d = $("keybox");
  $("key").value = "";
  if (!d.open) d.showModal();
  $("key").focus();
}
function applyPrefs() {
  if (prefs.theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = prefs.theme;
  $("theme-toggle").textContent = "السمة: " + { auto: "تلقائية", dark: "داكنة", light: "فاتحة" }[prefs.theme];
  $("notify-toggle").setAttribute("aria-pressed", String(prefs.notify));
  $("sound-toggle").setAttribute("aria-pressed", String(prefs.sound));
  save("rasid-prefs", prefs);
}

function setFilter(name, value) {
  state.filters[name] = value;
  writeFilters();
  syncForm();
  connect();
}

function wire() {
  for (const [id, name] of [["f-region", "region"], ["f-topic", "topic"], ["f-rule", "rule"],
    ["f-severity", "severity"], ["f-range", "range"]]) {
    $(id).addEventListener("change", e => setFilter(name, e.target.value));
  }
  let typing = null;
  $("f-q").addEventListener("input", e => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      const q = e.target.value.slice(0, 200);
      if (q.trim() === state.filters.q.trim()) return;
      state.filters.q = q;
      writeFilters();
      connect(); // the API searches what it holds; paging goes on under the search
    }, SEARCH_DELAY);
  });
  $("filters").addEventListener("submit", e => e.preventDefault());
  $("hour-clear").addEventListener("click", () => setFilter("from", ""));
  $("f-reset").addEventListener("click", () => {
    state.filters = { region: "", topic: "", rule: "", severity: "", range: "24h", from: "", q: "" };
    writeFilters();
    syncForm();
    connect();
  });
  $("more").addEventListener("click", more);
  $("ack-all").addEventListener("click", () => {
    for (const s of visible()) read[s.id] = s.updatedAt;
    saveRead();
    render();
  });
  $("export").addEventListener("click", exportCsv);
  $("detail-close").addEventListener("click", () => $("detail").close());
  $("detail").addEventListener("close", closeStory);
  $("detail-ack").addEventListener("click", () => state.open && acknowledge(state.open));
  $("key-button").addEventListener("click", openKeyDialog);
  $("key-cancel").addEventListener("click", () => $("keybox").close());
  $("key-forget").addEventListener("click", () => {
    localStorage.removeItem("rasid-key");
    $("keybox").close();
    connect();
  });
  $("keyform").addEventListener("submit", e => {
    e.preventDefault();
    const key = $("key").value.trim();
    if (!key) return;
    localStorage.setItem("rasid-key", key);
    $("keybox").close();
    connect();
  });
  $("theme-toggle").addEventListener("click", () => {
    prefs.theme = { auto: "dark", dark: "light", light: "auto" }[prefs.theme] || "auto";
    applyPrefs();
  });
  $("sound-toggle").addEventListener("click", () => {
    prefs.sound = !prefs.sound;
    if (prefs.sound && !audio && window.AudioContext) audio = new AudioContext();
    applyPrefs();
    if (prefs.sound) beep("high");
  });
  $("notify-toggle").addEventListener("click", async () => {
    if (!prefs.notify && "Notification" in window && Notification.permission !== "granted") {
      const answer = await Notification.requestPermission();
      if (answer !== "granted") {
        setStatus(state.source ? "live" : "", "الإشعارات محظورة في المتصفح");
        return;
      }
    }
    prefs.notify = !prefs.notify;
    applyPrefs();
  });
  // a sound chosen earlier needs one gesture on the page before the browser plays it
  document.addEventListener("pointerdown", () => {
    if (prefs.sound && !audio && window.AudioContext) audio = new AudioContext();
  }, { once: true });
  for (const b of document.querySelectorAll(".timeline-tools button")) {
    b.addEventListener("click", () => {
      state.hours = Number(b.dataset.hours);
      render();
    });
  }
  window.addEventListener("storage", e => {
    if (e.key === "rasid-read") {
      read = load("rasid-read", {});
      scheduleRender();
    }
  });
  window.addEventListener("popstate", () => {
    state.filters = readFilters();
    syncForm();
    connect();
  });
  // on a narrow screen the panels are folded: the list comes first
  const narrow = window.matchMedia("(max-width: 700px)");
  const fold = () => {
    for (const id of ["filters-panel", "map-panel", "timeline-panel", "trends-panel"]) $(id).open = !narrow.matches;
  };
  narrow.addEventListener("change", fold);
  fold();
}

function tick() {
  const now = new Date();
  const clock = $("clock");
  clock.textContent = dateTime(now.toISOString());
  clock.dateTime = now.toISOString();
}

async function main() {
  state.filters = readFilters();
  state.hours = state.filters.range === "7d" || state.filters.range === "all" ? 168 : 24;
  applyPrefs();
  wire();
  syncForm();
  tick();
  setInterval(tick, 30 * 1000);
  setInterval(scheduleRender, 60 * 1000); // the timeline moves on each hour
  timeline = new Timeline($("timeline"), start => setFilter("from", new Date(start).toISOString()));
  const mapView = new MapView($("map"), code => setFilter("region", state.filters.region === code ? "" : code));
  mapView.load().then(() => {
    map = mapView;
    render();
  }, () => {
    $("map").textContent = "تعذّر تحميل الخريطة.";
  });
  loadNames();
  connect();
}

main();
