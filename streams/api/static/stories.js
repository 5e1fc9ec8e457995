// Alerts grouped by story: the API sends one alert per rule and story (and a new message for
// each revision); an analyst reads one card per story. Pure (no DOM).

import { fold, severityRank, SEVERITIES } from "./arabic.js";

const KEEP_EVIDENCE = 20; // revisions' matches kept per alert (the API keeps only the latest)

function time(iso) {
  const t = Date.parse(iso || "");
  return Number.isNaN(t) ? 0 : t;
}

export class Story {
  constructor(id) {
    this.id = id;
    this.alerts = new Map(); // alert id → its newest revision
    this.evidence = new Map(); // alert id → [{revision, article, matches, explanation}]
    this.version = 0; // bumped on every change: a card is rebuilt only when it changed
  }

  get list() {
    return [...this.alerts.values()].sort(
      (a, b) => severityRank(b.severity) - severityRank(a.severity) || a.rule.localeCompare(b.rule));
  }

  get severity() {
    let best = "info";
    for (const a of this.alerts.values()) {
      if (severityRank(a.severity) > severityRank(best)) best = a.severity;
    }
    return best;
  }

  get escalated() {
    return [...this.alerts.values()].some(a => a.escalated);
  }

  get status() {
    if (this.escalated) return "escalated";
    const updated = [...this.alerts.values()].some(a => a.revision > 1 || a.status === "updated");
    return updated ? "updated" : "new";
  }

  get updatedAt() {
    let t = 0;
    for (const a of this.alerts.values()) t = Math.max(t, time(a.updated_at || a.alerted_at));
    return t;
  }

  get createdAt() {
    let t = Infinity;
    for (const a of this.alerts.values()) t = Math.min(t, time(a.created_at || a.alerted_at));
    return t === Infinity ? 0 : t;
  }

  // Every article of the story, once (the latest revision of each), oldest first.
  get articles() {
    const byId = new Map();
    const order = [];
    for (const a of [...this.alerts.values()].sort((x, y) => time(x.created_at) - time(y.created_at))) {
      for (const art of a.articles || [a.article]) {
        if (!art) continue;
        const seen = byId.get(art.id);
        if (!seen) order.push(art.id);
        if (!seen || (art.revision || 1) > (seen.revision || 1)) byId.set(art.id, art);
      }
    }
    return order.map(id => byId.get(id)); // as the alerts list them: in the order they came
  }

  get sources() {
    const out = [];
    for (const art of this.articles) if (!out.includes(art.source)) out.push(art.source);
    for (const a of this.alerts.values()) {
      for (const s of a.sources || []) if (!out.includes(s)) out.push(s);
    }
    return out;
  }

  codes(kind) { // "regions" | "topics": the union, in first-seen order
    const out = [];
    for (const a of this.list) for (const c of a[kind] || []) if (!out.includes(c)) out.push(c);
    return out;
  }

  // Display names carried by the alerts (alert.v3 `names`), merged.
  names(kind) {
    const out = {};
    for (const a of this.alerts.values()) Object.assign(out, (a.names || {})[kind] || {});
    return out;
  }

  // Why each region or topic: code → {score, found: [..]}, over every revision seen.
  explanation(kind) {
    const out = new Map();
    for (const revisions of this.evidence.values()) {
      for (const r of revisions) {
        for (const e of ((r.explanation || {})[kind]) || []) {
          const slot = out.get(e.code) || { score: 0, found: [] };
          slot.score = Math.max(slot.score, e.score || 0);
          for (const f of e.found || []) if (!slot.found.includes(f)) slot.found.push(f);
          out.set(e.code, slot);
        }
      }
    }
    return out;
  }

  // Each match with the article it was found in, per rule, newest revision first.
  matches() {
    const out = [];
    for (const a of this.list) {
      const seen = new Set();
      const revisions = (this.evidence.get(a.id) || []).slice().sort((x, y) => y.revision - x.revision);
      for (const r of revisions) {
        for (const m of r.matches || []) {
          const key = (r.article && r.article.id) + "|" + m.field + "|" + m.start;
          if (seen.has(key)) continue;
          seen.add(key);
          out.push({ alert: a, article: r.article, match: m });
        }
      }
    }
    return out;
  }

  headline() {
    const arts = this.articles;
    return arts.length ? arts[0].title : "";
  }

  // The time an analyst cares about: when the latest article was published (the time the
  // alert was processed only if no article says).
  publishedAt() {
    let best = null;
    for (const art of this.articles) {
      if (art.published_at && (!best || time(art.published_at) > time(best))) best = art.published_at;
    }
    return best;
  }

  // What GET /alerts?q= searches (streams/api/search.py: rule titles, headlines, the phrases
  // matched), and the snippets around them: a story the API found is always shown.
  matchesSearch(folded) {
    if (!folded) return true;
    const has = text => fold(text).includes(folded);
    return this.articles.some(a => has(a.title))
      || [...this.alerts.values()].some(a => has(a.rule_title) || has(a.rule_title_en))
      || this.matches().some(m => has(m.match.snippet) || has(m.match.term) || has(m.match.text));
  }
}

export class StoryStore {
  constructor() {
    this.stories = new Map();
    this.alertStory = new Map(); // alert id → story id
  }

  clear() {
    this.stories.clear();
    this.alertStory.clear();
  }

  get alertCount() {
    return this.alertStory.size;
  }

  // → {story, change}: change is "new" (a story not seen before), "updated" (a newer revision
  // of one of its alerts, or a new rule on it), "escalated" (… that raised its severity), or
  // null (a revision already held or older: nothing to show).
  add(alert) {
    if (!alert || !alert.id || !alert.story_id) return { story: null, change: null };
    let story = this.stories.get(alert.story_id);
    const fresh = !story;
    if (fresh) {
      story = new Story(alert.story_id);
      this.stories.set(story.id, story);
    }
    const held = story.alerts.get(alert.id);
    const revisions = story.evidence.get(alert.id) || [];
    if (!revisions.some(r => r.revision === alert.revision)) {
      revisions.push({
        revision: alert.revision || 1,
        article: alert.article,
        matches: alert.matches || [],
        explanation: alert.explanation || {},
      });
      revisions.sort((x, y) => y.revision - x.revision);
      revisions.length = Math.min(revisions.length, KEEP_EVIDENCE);
      story.evidence.set(alert.id, revisions);
    }
    if (held && (held.revision || 1) >= (alert.revision || 1)) return { story, change: null };
    const before = story.severity;
    story.alerts.set(alert.id, alert);
    this.alertStory.set(alert.id, story.id);
    story.version += 1;
    if (fresh) return { story, change: "new" };
    return { story, change: severityRank(story.severity) > severityRank(before) ? "escalated" : "updated" };
  }

  // Newest activity first.
  sorted(filter = () => true) {
    return [...this.stories.values()].filter(filter).sort((a, b) => b.updatedAt - a.updatedAt);
  }

  // Keeps the `max` most recently active stories; → the last-activity time of the newest one
  // dropped (older pages are then fetched up to it), or null when nothing was dropped.
  trim(max) {
    if (this.stories.size <= max) return null;
    const order = this.sorted();
    let cut = 0;
    for (const story of order.slice(max)) {
      cut = Math.max(cut, story.updatedAt);
      this.stories.delete(story.id);
      for (const id of story.alerts.keys()) this.alertStory.delete(id);
    }
    return cut;
  }
}

// Alerts opened per hour (by `created_at`) over the `hours` before `now`, for these stories:
// [{start (ms), count, severity (the highest)}], oldest first.
export function hourly(stories, hours, now = Date.now()) {
  const hour = 3600 * 1000;
  const end = Math.floor(now / hour) * hour + hour;
  const start = end - hours * hour;
  const bins = Array.from({ length: hours }, (_, i) => ({ start: start + i * hour, count: 0, severity: null }));
  for (const story of stories) {
    for (const a of story.alerts.values()) {
      const t = time(a.created_at || a.alerted_at);
      if (t < start || t >= end) continue;
      const bin = bins[Math.floor((t - start) / hour)];
      bin.count += 1;
      if (!bin.severity || severityRank(a.severity) > severityRank(bin.severity)) bin.severity = a.severity;
    }
  }
  return bins;
}

export { SEVERITIES };
