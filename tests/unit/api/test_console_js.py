"""The console's pure modules (streams/api/static/arabic.js, stories.js) run in node: Arabic
plurals and dates, the http(s)-only link check, search folding, and grouping alerts into
stories (revisions, escalation, trimming, alerts per hour). Skipped where node is missing
(the browser test tests/integration/test_live_page.py runs the same module in chromium)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from streams.resources import static_path

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node not installed")


def run(body: str) -> Any:
    """Run ES module code that ends with `out(value)`; → value (through JSON)."""
    static = static_path().as_uri()
    script = (
        f'import * as ar from "{static}/arabic.js";\n'
        f'import * as st from "{static}/stories.js";\n'
        "const out = v => process.stdout.write(JSON.stringify(v));\n" + body
    )
    assert NODE is not None
    proc = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "sources",
            ["لا مصادر", "مصدر واحد", "مصدران", "3 مصادر", "10 مصادر", "11 مصدرًا", "99 مصدرًا", "100 مصدر", "102 مصدر"],
        ),
        (
            "articles",
            ["لا مقالات", "مقال واحد", "مقالان", "3 مقالات", "10 مقالات", "11 مقالًا", "99 مقالًا", "100 مقال", "102 مقال"],
        ),
        (
            "stories",
            ["لا قصص", "قصة واحدة", "قصتان", "3 قصص", "10 قصص", "11 قصة", "99 قصة", "100 قصة", "102 قصة"],
        ),
    ],
)  # fmt: skip
def test_arabic_counts_have_their_dual_and_plural_forms(kind: str, expected: list[str]) -> None:
    counts = [0, 1, 2, 3, 10, 11, 99, 100, 102]
    assert run(f"out({counts}.map(n => ar.plural(n, ar.COUNTS.{kind})))") == expected


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("https://www.example.org/news/1?a=b#c", "https://www.example.org/news/1?a=b#c"),
        ("http://example.org", "http://example.org/"),
        ("HTTPS://EXAMPLE.ORG/x", "https://example.org/x"),
        ("javascript:alert(1)", None),
        (" javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox(1)", None),
        ("file:///etc/passwd", None),
        ("ftp://example.org/x", None),
        ("/relative/path", None),
        ("//example.org/x", None),
        ("", None),
        (None, None),
        ("https://" + "a" * 5000 + ".example", None),
    ],
)
def test_only_http_and_https_urls_become_links(url: str | None, href: str | None) -> None:
    assert run(f"out(ar.safeHref({json.dumps(url)}))") == href


def test_dates_are_arabic_in_the_viewers_zone() -> None:
    got = run(
        """
        const at = "2026-03-14T09:05:00Z";
        out([
          ar.dateTime(at, {timeZone: "Asia/Baghdad", now: new Date("2026-06-01T00:00:00Z")}),
          ar.dateTime(at, {timeZone: "Asia/Baghdad", now: new Date("2027-01-01T12:00:00Z")}),
          ar.dateTime(at, {timeZone: "America/New_York", now: new Date("2026-06-01T00:00:00Z")}),
          ar.dateTime(null), ar.dateTime("not a date"),
          ar.ago(new Date(Date.now() - 2 * 60 * 1000).toISOString()),
          ar.ago(new Date(Date.now() - 2 * 3600 * 1000).toISOString()),
        ]);
        """
    )
    plain = [" ".join(s.replace("\u200f", "").replace("\u202f", " ").split()) for s in got]
    assert plain == [
        "14 مارس في 12:05 م",  # this year: no year; the published time in Baghdad (UTC+3)
        "14 مارس 2026 في 12:05 م",
        "14 مارس في 5:05 ص",
        "",
        "",
        "قبل دقيقتين",  # the dual
        "قبل ساعتين",
    ]


def test_search_folds_arabic_spelling() -> None:
    assert run('out(["الأمنيّة", "إلى", "مستشفى", "مؤتمر", "ـالقــدس", "ABC"].map(ar.fold))') == [
        "الامنيه",
        "الي",
        "مستشفي",
        "موتمر",
        "القدس",
        "abc",
    ]


STORE = """
const alert = (id, rule, revision, severity, articles, at, extra = {}) => ({
  id, rule, rule_title: "عنوان " + rule, story_id: "st-1", revision, severity,
  status: revision > 1 ? "updated" : "new", sources: [...new Set(articles.map(a => a.source))],
  articles, article: articles[articles.length - 1], regions: ["IQ"], topics: ["security"],
  matches: [{term: "خط احمر", text: "خط أحمر", field: "body", start: 3, end: 10, snippet: "…خط أحمر…"}],
  explanation: {regions: [{code: "IQ", score: 0.6, found: ["بغداد"]}], topics: []},
  created_at: "2026-03-14T09:00:00Z", updated_at: at, ...extra,
});
const a1 = {id: "art-1", source: "shafaq", title: "أول", url: "https://x/1", published_at: null};
const a2 = {id: "art-2", source: "ina", title: "ثان", url: "javascript:x", published_at: "2026-03-14T09:30:00Z"};
const a2b = {...a2, title: "ثان منقح", revision: 2};
const store = new st.StoryStore();
"""


def test_alerts_of_one_story_make_one_story() -> None:
    got = run(
        STORE
        + """
        const changes = [
          store.add(alert("r1", "red-line", 1, "high", [a1], "2026-03-14T09:00:00Z")).change,
          store.add(alert("r2", "troops", 1, "medium", [a1], "2026-03-14T09:00:01Z")).change,
          store.add(alert("r1", "red-line", 2, "high", [a1, a2], "2026-03-14T09:31:00Z")).change,
          store.add(alert("r1", "red-line", 2, "high", [a1, a2], "2026-03-14T09:31:00Z")).change,
          store.add(alert("r1", "red-line", 1, "high", [a1], "2026-03-14T09:00:00Z")).change,
          store.add(alert("r1", "red-line", 3, "critical", [a1, a2b], "2026-03-14T09:40:00Z",
                          {escalated: true, rule_severity: "high"})).change,
        ];
        const s = store.stories.get("st-1");
        out({changes, stories: store.stories.size, alerts: s.alerts.size, severity: s.severity,
             status: s.status, sources: s.sources, articles: s.articles.map(a => a.title),
             rules: s.list.map(a => a.rule), published: s.publishedAt(),
             found: [...s.explanation("regions").entries()],
             matches: s.matches().length, search: [s.matchesSearch(ar.fold("منقح")),
             s.matchesSearch(ar.fold("غائب"))]});
        """
    )
    # new; another rule on it; an update; the same revision again and an older one change
    # nothing; an update that escalates
    assert got["changes"] == ["new", "updated", "updated", None, None, "escalated"]
    assert (got["stories"], got["alerts"]) == (1, 2)
    assert (got["severity"], got["status"]) == ("critical", "escalated")
    assert got["sources"] == ["shafaq", "ina"]
    assert got["articles"] == ["أول", "ثان منقح"]  # each article once, its latest revision
    assert got["rules"] == ["red-line", "troops"]  # the most severe first
    assert got["published"] == "2026-03-14T09:30:00Z"
    assert got["found"] == [["IQ", {"score": 0.6, "found": ["بغداد"]}]]
    assert got["matches"] >= 2  # each revision's matches, kept for the detail view
    assert got["search"] == [True, False]


def test_trimming_keeps_the_latest_stories_and_says_where_to_page_from() -> None:
    got = run(
        STORE
        + """
        for (let i = 0; i < 5; i += 1) {
          store.add({...alert("a" + i, "red-line", 1, "high", [a1], `2026-03-14T09:0${i}:00Z`),
                     story_id: "st-" + i});
        }
        const cut = store.trim(3);
        out({cut: new Date(cut).toISOString(), kept: store.sorted().map(s => s.id),
             alerts: store.alertCount, again: store.trim(3)});
        """
    )
    assert got["kept"] == ["st-4", "st-3", "st-2"]  # newest activity first
    assert got["cut"] == "2026-03-14T09:01:00.000Z"  # page back from the newest one dropped
    assert got["alerts"] == 3
    assert got["again"] is None


def test_alerts_per_hour_count_the_hours_they_opened_in() -> None:
    got = run(
        STORE
        + """
        const now = Date.parse("2026-03-14T12:20:00Z");
        store.add({...alert("x1", "red-line", 1, "high", [a1], "2026-03-14T12:00:00Z"),
                   story_id: "st-a", created_at: "2026-03-14T12:05:00Z"});
        store.add({...alert("x2", "red-line", 1, "critical", [a1], "2026-03-14T12:00:00Z"),
                   story_id: "st-b", created_at: "2026-03-14T12:10:00Z"});
        store.add({...alert("x3", "red-line", 1, "low", [a1], "2026-03-14T10:00:00Z"),
                   story_id: "st-c", created_at: "2026-03-14T10:59:59Z"});
        store.add({...alert("x4", "red-line", 1, "low", [a1], "2026-03-12T10:00:00Z"),
                   story_id: "st-d", created_at: "2026-03-12T10:00:00Z"});
        const bins = st.hourly(store.sorted(), 24, now);
        out({n: bins.length, first: new Date(bins[0].start).toISOString(),
             last: [bins[23].count, bins[23].severity], ten: [bins[21].count, bins[21].severity],
             total: bins.reduce((t, b) => t + b.count, 0),
             week: st.hourly(store.sorted(), 168, now).reduce((t, b) => t + b.count, 0)});
        """
    )
    assert got["n"] == 24
    assert got["first"] == "2026-03-13T13:00:00.000Z"  # the 24 hours up to the current one
    assert got["last"] == [2, "critical"]
    assert got["ten"] == [1, "low"]
    assert got["total"] == 3  # two days ago is outside the day …
    assert got["week"] == 4  # … and inside the week


def _imported(module: str) -> str:
    return f'const m = await import("{static_path().as_uri()}/{module}");\n'


def test_csv_cells_are_quoted_and_never_formulas() -> None:
    got = run(
        _imported("csv.js")
        + r"""
        out({cells: ["plain", "a,b", 'say "x"', "two\nlines", "=1+1", "+971", "-2", "@SUM(A1)",
                     "\t=x", "عنوان، عربي", "", null, 3].map(m.csvCell),
             text: m.csvText([["h1", "h2"], ["=HYPERLINK(\"http://x\",\"y\")", "ok"]])});
        """
    )
    assert got["cells"] == [
        "plain",
        '"a,b"',
        '"say ""x"""',
        '"two\nlines"',
        "'=1+1",
        "'+971",
        "'-2",
        "'@SUM(A1)",
        "'\t=x",
        "عنوان، عربي",  # the Arabic comma is not a separator
        "",
        "",
        "3",
    ]
    assert got["text"] == '\ufeffh1,h2\r\n"\'=HYPERLINK(""http://x"",""y"")",ok\r\n'


def test_trend_windows_levels_and_keys_read_in_arabic() -> None:
    got = run(
        _imported("trends.js")
        + """
        const ctx = {regionName: c => ({IQ: {ar: "العراق"}}[c] || {ar: c}),
                     topicName: c => ({security: {ar: "الأمن"}}[c] || {ar: c}),
                     ruleTitle: id => ({"red-line": "إعلان خط أحمر"}[id] || id)};
        out({windows: ["15m", "1h", "2h", "6h", "1d", "2d", "11h", "bad"].map(m.windowLabel),
             levels: m.LEVELS.map(l => m.LEVEL[l]),
             keys: [{kind: "region_topic", key: "IQ|security", region: "IQ", topic: "security"},
                    {kind: "region", key: "IQ|*", region: "IQ"},
                    {kind: "region", key: "GULF|*", region: "GULF"},
                    {kind: "topic", key: "*|security", topic: "security"},
                    {kind: "rule", key: "rule:red-line", rule: "red-line"},
                    {kind: "other", key: "odd"}].map(t => m.keyLabel(t, ctx))});
        """
    )
    assert got["windows"] == [
        "خلال 15 دقيقة",
        "خلال ساعة",
        "خلال ساعتين",
        "خلال 6 ساعات",
        "خلال يوم",
        "خلال يومين",
        "خلال 11 ساعة",
        "bad",
    ]
    assert got["levels"] == ["ملحوظ", "قوي", "استثنائي"]
    assert got["keys"] == [
        "العراق · الأمن",
        "العراق · كل الموضوعات",
        "دول الخليج · كل الموضوعات",
        "الأمن · كل المناطق",
        "القاعدة: إعلان خط أحمر",
        "odd",
    ]


def test_a_rule_trend_is_named_without_its_alerts() -> None:
    """A rule's trend record carries the rule's title (trend.v2): the panel shows it when no
    alert of the rule is loaded; a loaded alert's title wins; a v1 record shows the id."""
    got = run(
        _imported("trends.js")
        + """
        const loaded = {"red-line": "إعلان خط أحمر"};
        const ctx = {regionName: c => ({ar: c}), topicName: c => ({ar: c}),
                     ruleTitle: id => loaded[id] || id};
        const rule = (id, extra) => ({kind: "rule", key: "rule:" + id, rule: id, ...extra});
        out([rule("bombing-ied", {rule_title: "تفجير بعبوة ناسفة"}),
             rule("red-line", {rule_title: "عنوان قديم"}),
             rule("bombing-ied", {}),
             {kind: "rule", key: "rule:x"}].map(t => m.keyLabel(t, ctx)));
        """
    )
    assert got == [
        "القاعدة: تفجير بعبوة ناسفة",
        "القاعدة: إعلان خط أحمر",
        "القاعدة: bombing-ied",
        "القاعدة: x",
    ]


def test_search_folds_as_the_api_does() -> None:
    """The console's fold and the API's normalize (streams/api/search.py) agree on what a
    search meets, so a story the API found is also shown."""
    from streams.text.arabic import normalize

    words = ["الأحمر", "إيران", "کرکوک", "مستشفى", "مدرسة", "٢٠٢٦", "۱۲", "ـالقــدس", "ABC Def"]
    assert run(f"out({json.dumps(words)}.map(ar.fold))") == [normalize(w) for w in words]
