"""Developing stories, ingest side: a URL seen before whose title or text changed is published
again with the same id as the next revision (schema raw-article v2), bounded in number and
time; the state records that make it so (ingest-state v2) and the v1 records still read."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
import yaml

from streams.ingest.dedup import (
    DedupState,
    backoff_record,
    host_rest_record,
    published_records,
    record_errors,
    seen_records,
    text_fingerprint,
    url_key,
)
from streams.ingest.http import Fetcher
from streams.ingest.replay import state_records, to_raw
from streams.ingest.service import Ingester
from streams.ingest.sources import Source, parse_sources
from streams.validation import schema_errors
from tests.unit.ingest.localweb import (
    LocalWeb,
    MemorySink,
    MemoryStore,
    article,
    fetcher_config,
)

PATH = "/news/9101.html"
TITLE = "عاجل | انفجار في منطقة الكرادة وسط بغداد"
ONE_LINE = ["انفجار يهز منطقة الكرادة وسط بغداد، ولا معلومات بعد عن إصابات."]
FULL = [
    "هز انفجار عنيف منطقة الكرادة وسط بغداد مساء اليوم، ناجم عن عبوة ناسفة وضعت قرب سوق شعبي.",
    "وقالت خلية الإعلام الأمني إن الانفجار أسفر عن إصابة ستة مدنيين بجروح نقلوا إلى مستشفى قريب.",
    "وأضافت أن القوات الأمنية طوقت المكان وفتحت تحقيقا لمعرفة الجهة التي تقف وراء التفجير.",
]
FULLER = [*FULL, "وأعلنت وزارة الصحة لاحقا ارتفاع عدد المصابين إلى تسعة بينهم امرأتان."]

config = fetcher_config


def sources(base: str, **extra: Any) -> list[Source]:
    more = "".join(f", {k}: {v}" for k, v in extra.items())
    doc = f"schema_version: 1\nsources:\n  - {{name: outlet, feeds: ['{base}/rss.xml']{more}}}\n"
    return parse_sources(yaml.safe_load(doc))


class Outlet:
    """One article page and the feed listing it; both can change between polls."""

    def __init__(self, web: LocalWeb) -> None:
        self.web = web

    def serve(
        self, title: str, paragraphs: list[str], summary: str, sidebar: tuple[str, ...] = ()
    ) -> None:
        self.web.set(PATH, article(title, paragraphs, sidebar=sidebar))
        entry = {"title": title, "link": "{BASE}" + PATH, "description": summary}
        self.web.feed("/rss.xml", [entry])


async def poll(
    web: LocalWeb, store: MemoryStore, sink: MemorySink, **kw: Any
) -> tuple[Ingester, Any]:
    srcs = kw.pop("srcs", None) or sources(web.base)
    async with Fetcher(config()) as fetcher:
        ingester = Ingester(srcs, fetcher, store, sink, **kw)
        return ingester, await ingester.run_once()


async def test_a_breaking_line_growing_into_an_article_is_published_as_revisions() -> None:
    async with LocalWeb() as web:
        outlet = Outlet(web)
        store, sink = MemoryStore(), MemorySink()
        outlet.serve(TITLE, ONE_LINE, "انفجار في الكرادة")
        await poll(web, store, sink)
        (first,) = sink.messages
        assert (first["schema_version"], first["revision"]) == (2, 1)
        assert "انفجار يهز منطقة الكرادة" in first["body"]
        await poll(web, store, sink)  # nothing changed: nothing published
        assert len(sink.messages) == 1 and len(web.hits_of(PATH)) == 1

        # The outlet grows the line into an article; its feed entry changes with it.
        outlet.serve(TITLE, FULL, "انفجار في الكرادة يصيب ستة مدنيين")
        _, report = await poll(web, store, sink)
        assert report.revisions == 1 and report.new == 0
        second = sink.messages[-1]
        assert second["id"] == first["id"] and second["url"] == first["url"]
        assert (second["schema_version"], second["revision"]) == (2, 2)
        assert "إصابة ستة مدنيين" in second["body"]

        # The entry changes again but the page's text does not (only its sidebar): looked
        # at, not published; and not looked at again until the entry changes again.
        outlet.serve(TITLE, FULL, "تفاصيل انفجار الكرادة", sidebar=("خبر جديد في الشريط",))
        _, report = await poll(web, store, sink)
        assert report.revisions == 0 and len(sink.messages) == 2
        assert len(web.hits_of(PATH)) == 3
        # A restarted process reads the whole feed again (it has a new item): the entry is
        # known from the state topic, so its page is not asked for.
        web.set("/news/9199.html", article("خبر آخر", FULL[1:]))
        entries = [
            {"title": "خبر آخر", "link": "{BASE}/news/9199.html"},
            {"title": TITLE, "link": "{BASE}" + PATH, "description": "تفاصيل انفجار الكرادة"},
        ]
        web.feed("/rss.xml", entries)
        _, report = await poll(web, store.rebuilt(), sink)
        assert report.new == 1 and len(web.hits_of(PATH)) == 3

        # A restarted process counts on from the state topic.
        outlet.serve("انفجار الكرادة: تسعة مصابين", FULLER, "ارتفاع عدد المصابين")
        await poll(web, store.rebuilt(), sink)
        third = sink.messages[-1]
        assert (third["id"], third["revision"]) == (first["id"], 3)
        assert third["title"] == "انفجار الكرادة: تسعة مصابين"
    for message in sink.messages:
        assert schema_errors("raw-article", message) == []


async def test_revisions_are_bounded_in_number_and_time() -> None:
    async with LocalWeb() as web:
        outlet = Outlet(web)
        store, sink = MemoryStore(), MemorySink()
        wall = [time.time()]
        kw = {"max_revisions": 2, "revision_window": 3600.0, "wall": lambda: wall[0]}
        outlet.serve(TITLE, ONE_LINE, "أ")
        await poll(web, store, sink, **kw)
        outlet.serve(TITLE, FULL, "ب")
        await poll(web, store, sink, **kw)
        outlet.serve(TITLE, FULLER, "ج")  # a third version: over the limit of 2
        await poll(web, store, sink, **kw)
        assert [m["revision"] for m in sink.messages] == [1, 2]
        hits = len(web.hits_of(PATH))

        store2, sink2 = MemoryStore(), MemorySink()
        web.set("/news/9102.html", article("خبر آخر", ONE_LINE))
        web.feed(
            "/rss.xml", [{"title": "خبر آخر", "link": "{BASE}/news/9102.html", "description": "د"}]
        )
        await poll(web, store2, sink2, **kw)
        web.set("/news/9102.html", article("خبر آخر", FULL))
        web.feed(
            "/rss.xml", [{"title": "خبر آخر", "link": "{BASE}/news/9102.html", "description": "هـ"}]
        )
        wall[0] += 3601  # past the window: the page is not even asked for
        await poll(web, store2, sink2, **kw)
        assert [m["revision"] for m in sink2.messages] == [1]
        assert len(web.hits_of("/news/9102.html")) == 1
        assert len(web.hits_of(PATH)) == hits


async def test_feed_text_sources_revise_without_fetching_pages() -> None:
    async with LocalWeb() as web:
        store, sink = MemoryStore(), MemorySink()
        srcs = sources(web.base, fetch_pages="false")
        for text in (ONE_LINE[0], " ".join(FULL), " ".join(FULL)):
            web.feed("/rss.xml", [{"title": TITLE, "link": "{BASE}" + PATH, "description": text}])
            await poll(web, store, sink, srcs=srcs)
    assert [m["revision"] for m in sink.messages] == [1, 2]
    assert sink.messages[1]["body"] == " ".join(FULL)
    assert web.hits_of(PATH) == []


async def test_urls_published_by_the_previous_version_are_read_but_never_revised() -> None:
    async with LocalWeb() as web:
        outlet = Outlet(web)
        url = web.base + PATH
        v1 = orjson.dumps(
            {
                "schema_version": 1,
                "id": "url-old",
                "source": "outlet",
                "url": url,
                "at": "2024-12-01T00:00:00+00:00",
            }
        )
        store, sink = MemoryStore([(url_key(url), v1)]), MemorySink()
        assert store.state.seen_url(url) and store.state.published == {}
        outlet.serve(TITLE, FULL, "ملخص جديد")
        await poll(web, store, sink)
    assert sink.messages == [] and web.hits_of(PATH) == []


# ---------------------------------------------------------------- the state records (pure)
def test_published_records_round_trip_and_match_schema_v2() -> None:
    now = time.time()
    at = "2024-12-05T10:00:00+00:00"
    fp = text_fingerprint("t", "نص")
    state = DedupState(revision_window=10**12, clock=lambda: now)
    records = published_records(
        article_id="url-1",
        source="s",
        urls=["https://e.com/a?utm_source=x", "https://e.com/a-canonical"],
        content_hash="abc",
        at=at,
        revision=3,
        first_at="2024-12-05T08:00:00+00:00",
        fp=fp,
        ff="0123456789abcdef",
    )
    records += [
        backoff_record("https://e.com/rss", 2, now + 60),
        host_rest_record("https://e.com", now + 30),
        *seen_records(urls=["https://e.com/b"], source="s", reason="timeout", at=at),
    ]
    for key, value in records:
        assert value is not None and record_errors(value) == [], key
        state.apply(key, value)
    entry = state.published_for(["https://e.com/a"])
    assert entry is not None and (entry.id, entry.revision, entry.fp) == ("url-1", 3, fp)
    assert entry.first_at == pytest.approx(1733385600.0)
    assert state.seen_content("abc") and state.seen_url("https://e.com/b")
    assert state.backoffs["https://e.com/rss"][0] == 2
    assert state.host_rest["https://e.com"] == pytest.approx(now + 30, abs=1)
    # Tombstones forget; a v1 value is still a seen URL.
    state.apply(*backoff_record("https://e.com/rss", None))
    assert "https://e.com/rss" not in state.backoffs
    assert record_errors(b'{"schema_version": 2, "failures": 0, "until": "2024-12-05T10:00:00Z"}')
    assert record_errors(
        b'{"schema_version": 2, "id": "a", "source": "s", "url": "u", "at": "2024-12-05T10:00:00Z", "fp": "xyz"}'
    )


def test_revision_data_is_kept_only_within_the_window() -> None:
    clock = [1_733_400_000.0]
    state = DedupState(revision_window=3600.0, clock=lambda: clock[0])
    fresh = "2024-12-05T11:50:00+00:00"  # 10 minutes before the clock
    old = "2024-12-05T09:00:00+00:00"
    for name, first in (("fresh", fresh), ("old", old)):
        for key, value in published_records(
            article_id=name, source="s", urls=[f"https://e.com/{name}"], content_hash=None,
            at=first, first_at=first, fp=text_fingerprint(None, name),
        ):  # fmt: skip
            state.apply(key, value)
    assert state.seen_url("https://e.com/old") and state.seen_url("https://e.com/fresh")
    assert [e.id for e in state.published.values()] == ["fresh"]
    clock[0] += 3600
    assert state.prune() == 1 and state.published == {}


def test_replay_writes_the_dedup_state_of_its_articles() -> None:
    from datetime import timedelta, timezone

    record = {
        "id": "ANT-1",
        "source": "shafaq",
        "url": "https://e.com/n/1?utm_source=x",
        "text": "نص الخبر",
        "time": "2024-12-03 13:00",
    }
    message = to_raw(record, tz=timezone(timedelta(hours=3)))
    assert message is not None and schema_errors("raw-article", message) == []
    assert (message["schema_version"], message["revision"]) == (2, 1)
    records = state_records(message, "ANT-1", now=1_733_400_000.0)
    state = DedupState()
    for key, value in records:
        assert record_errors(value) == []
        state.apply(key, value)
    assert state.seen_url("https://e.com/n/1") and state.published == {}  # never revised
    assert state_records({"source": "s", "body": "x"}, "sha-1", now=0.0) == []


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("عنوان", "سطر أول.\nسطر ثان."), ("عنوان", "  سطر أول.   سطر ثان.  "), True),  # layout
        (("عنوان", "نشر منذ 5 دقائق. انفجار"), ("عنوان", "نشر منذ ساعتين. انفجار"), True),
        (("t", "posted 3 minutes ago: x"), ("t", "posted 2 hours ago: x"), True),
        (("عنوان", "قتل 12 شخصا"), ("عنوان", "قتل 15 شخصا"), False),  # a changed number is news
        (("عاجل | انفجار", "نص"), ("انفجار", "نص"), False),  # the title counts
        (("عنوان", "نص"), ("عنوان", "نص أطول"), False),
    ],
)
def test_text_fingerprint_ignores_layout_and_ticking_ages_only(
    a: tuple[str, str], b: tuple[str, str], same: bool
) -> None:
    assert (text_fingerprint(*a) == text_fingerprint(*b)) is same


async def test_a_new_url_redirecting_to_a_published_article_is_a_duplicate_once() -> None:
    async with LocalWeb() as web:
        outlet = Outlet(web)
        store, sink = MemoryStore(), MemorySink()
        outlet.serve(TITLE, FULL, "ملخص")
        await poll(web, store, sink)
        web.set("/go/9101", b"", status=302, headers={"Location": PATH})
        entries = [
            {"title": "نسخة أخرى", "link": "{BASE}/go/9101"},
            {"title": TITLE, "link": "{BASE}" + PATH, "description": "ملخص"},
        ]
        web.feed("/rss.xml", entries)
        _, report = await poll(web, store, sink)
        assert (report.new, report.revisions, report.duplicates) == (0, 0, 1)
        web.feed("/rss.xml", [*entries, {"title": "خبر", "link": "{BASE}/news/none"}])
        await poll(web, store, sink)  # the feed read again: the redirecting URL is known now
    assert len(web.hits_of("/go/9101")) == 1 and len(sink.messages) == 1
