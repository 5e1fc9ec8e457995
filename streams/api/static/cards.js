// A story's card in the list, and its detail view.

import { el, isolated, timeEl, linkOrText, highlighted } from "./dom.js";
import { SEVERITY, STATUS, COUNTS, plural, number } from "./arabic.js";

const FIELD = { title: "العنوان", body: "النص" };

function tag(kind, code, name) {
  // The Arabic name; the code stays in data-code and, with the English name, in the tooltip.
  const t = el("span", "tag " + kind, name.ar);
  t.dataset.code = code;
  t.title = name.en && name.en !== name.ar ? `${code} · ${name.en}` : code;
  if (name.ar === code) t.dir = "ltr";
  return t;
}

function ruleChip(alert) {
  const r = isolated("span", "rule", alert.rule_title || alert.rule);
  r.dataset.rule = alert.rule;
  r.title = [alert.rule_title_en, alert.rule].filter(Boolean).join(" · ");
  return r;
}

function outlet(article, ctx) {
  const li = el("li", "outlet");
  li.dataset.article = article.id;
  const src = isolated("span", "source", ctx.sourceName(article.source));
  src.title = article.source;
  li.append(src, linkOrText(article.title, article.url, "headline"));
  li.append(timeEl(article.published_at, "published"));
  if (!article.published_at) li.lastChild.textContent = "—";
  return li;
}

export function card(story, ctx) {
  const c = el("article", `story sev-${story.severity}`);
  const articles = story.articles;
  c.dataset.story = story.id;
  c.dataset.articles = articles.map(a => a.id).join(" ");
  c.dataset.status = story.status;
  if (ctx.isUnread(story)) c.classList.add("unread");
  c.tabIndex = 0;

  const top = el("div", "top");
  top.append(el("span", "sev", SEVERITY[story.severity] || story.severity));
  top.append(el("span", `state state-${story.status}`, STATUS[story.status]));
  const published = story.publishedAt();
  const when = timeEl(published || new Date(story.updatedAt).toISOString(), "when");
  if (!published) when.classList.add("processed");
  top.append(when);
  const size = el("span", "size");
  size.append(el("span", "count-sources", plural(story.sources.length, COUNTS.sources)));
  if (articles.length !== story.sources.length) {
    size.append(" · ", el("span", "count-articles", plural(articles.length, COUNTS.articles)));
  }
  top.append(size);
  c.append(top);

  const title = el("h3", "title");
  const first = articles[0];
  title.append(first ? linkOrText(first.title, first.url) : el("span", null, story.id));
  c.append(title);

  const rules = el("div", "rules");
  for (const a of story.list) rules.append(ruleChip(a));
  c.append(rules);

  const best = story.matches()[0];
  if (best) c.append(highlighted(best.match.snippet, best.match.text));

  const outlets = el("ul", "outlets");
  for (const a of articles.slice(0, 6)) outlets.append(outlet(a, ctx));
  if (articles.length > 6) outlets.append(el("li", "more-outlets", "+ " + number(articles.length - 6)));
  c.append(outlets);

  const tags = el("div", "tags");
  for (const code of story.codes("regions")) tags.append(tag("region", code, ctx.regionName(code, story)));
  for (const code of story.codes("topics")) tags.append(tag("topic", code, ctx.topicName(code, story)));
  c.append(tags);

  const actions = el("div", "actions");
  const open = el("button", "open", "التفاصيل");
  open.type = "button";
  open.addEventListener("click", () => ctx.open(story.id));
  const ack = el("button", "ack", ctx.isUnread(story) ? "تمّ الاطلاع" : "مقروءة");
  ack.type = "button";
  ack.disabled = !ctx.isUnread(story);
  ack.addEventListener("click", () => ctx.acknowledge(story.id));
  actions.append(open, ack);
  c.append(actions);
  c.addEventListener("keydown", e => {
    if (e.key === "Enter" && e.target === c) ctx.open(story.id);
  });
  return c;
}

function section(title, cls) {
  const s = el("section", "detail-section " + cls);
  s.append(el("h3", null, title));
  return s;
}

function evidence(kind, story, ctx) {
  const names = kind === "regions" ? ctx.regionName : ctx.topicName;
  const why = story.explanation(kind);
  const list = el("ul", "evidence " + kind);
  for (const code of story.codes(kind)) {
    const li = el("li");
    li.dataset.code = code;
    li.append(tag(kind === "regions" ? "region" : "topic", code, names(code, story)));
    const e = why.get(code);
    if (e) {
      li.append(el("span", "score", `${number(Math.round(e.score * 100))}٪`));
      const found = el("span", "found");
      for (const f of e.found) found.append(el("q", null, f));
      li.append(found);
    }
    list.append(li);
  }
  return list;
}

export function detail(story, ctx) {
  const box = el("div", `detail-body sev-${story.severity}`);
  box.dataset.story = story.id;
  const head = el("header", "detail-head");
  const top = el("div", "top");
  top.append(el("span", "sev", SEVERITY[story.severity]));
  top.append(el("span", `state state-${story.status}`, STATUS[story.status]));
  const size = el("span", "size");
  size.append(el("span", "count-sources", plural(story.sources.length, COUNTS.sources)), " · ",
    el("span", "count-articles", plural(story.articles.length, COUNTS.articles)));
  top.append(size);
  head.append(top);
  const first = story.articles[0];
  head.append(el("h2", "title", first ? first.title : story.id));
  const times = el("p", "times");
  times.append("أول رصد: ", timeEl(new Date(story.createdAt).toISOString()),
    " · آخر تحديث: ", timeEl(new Date(story.updatedAt).toISOString()));
  head.append(times);
  box.append(head);

  const why = section("لماذا نُبِّه؟", "why");
  for (const a of story.list) {
    const rule = el("div", "rule-block");
    rule.dataset.rule = a.rule;
    const line = el("p", "rule-line");
    line.append(ruleChip(a), el("span", `sev sev-${a.severity}`, SEVERITY[a.severity]));
    if (a.escalated) {
      line.append(el("span", "escalation",
        `رُفعت من «${SEVERITY[a.rule_severity] || a.rule_severity}» لأن ${plural(a.sources.length, COUNTS.sources)} نقلت القصة`));
    }
    rule.append(line);
    const list = el("ul", "matches");
    for (const m of story.matches().filter(x => x.alert.id === a.id)) {
      const li = el("li", "match");
      const where = el("p", "where");
      where.append(el("span", "field", FIELD[m.match.field] || m.match.field), " · ");
      where.append(isolated("span", "source", ctx.sourceName(m.article.source)), " · ");
      where.append(isolated("span", "term", "«" + m.match.term + "»"));
      li.append(where, highlighted(m.match.snippet, m.match.text));
      list.append(li);
    }
    rule.append(list);
    why.append(rule);
  }
  box.append(why);

  const regions = section("المناطق ولماذا", "regions");
  regions.append(evidence("regions", story, ctx));
  const topics = section("الموضوعات ولماذا", "topics");
  topics.append(evidence("topics", story, ctx));
  box.append(regions, topics);

  const arts = section("المقالات", "articles");
  const ol = el("ol", "outlets");
  for (const a of story.articles) ol.append(outlet(a, ctx));
  arts.append(ol);
  box.append(arts);
  return box;
}
