"""The ingester against a local HTTP server (127.0.0.1) serving fixture feeds and pages, with
in-memory state and sink (the Kafka wiring is tested in tests/integration/test_ingest.py)."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import yaml

from streams import metrics
from streams.extract.parse import parse_article
from streams.ingest.dedup import DedupState, record_errors
from streams.ingest.http import Fetcher, FetcherConfig
from streams.ingest.policy import Backoff
from streams.ingest.service import Ingester
from streams.ingest.sources import parse_sources
from streams.settings import Settings
from streams.validation import schema_errors
from tests.ingest_fixture_server import FixtureServer, sources_yaml
from tests.unit.ingest.localweb import UA, fetcher_config


class MemoryStore:
    """The state topic as a list: `rebuilt()` is what a restarted process would read."""

    def __init__(self, log: list[tuple[str, bytes | None]] | None = None) -> None:
        self.log: list[tuple[str, bytes | None]] = list(log or [])
        self.state = DedupState()
        for key, value in self.log:
            self.state.apply(key, value)

    async def put(self, records: Sequence[tuple[str, bytes | None]]) -> None:
        for key, value in records:
            # as KafkaState checks (None: a tombstone)
            assert value is None or record_errors(value) == [], (key, value)
            self.state.apply(key, value)
            self.log.append((key, value))

    def rebuilt(self) -> MemoryStore:
        return MemoryStore(self.log)


class MemorySink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def publish(self, message: dict[str, Any]) -> str:
        from streams.ids import article_id

        self.messages.append(message)
        return article_id(message)


@pytest.fixture(scope="module")
def server() -> Iterator[FixtureServer]:
    with FixtureServer(slow_seconds=3.0).running() as s:
        yield s


def config(**overrides: Any) -> FetcherConfig:
    return fetcher_config(**{"timeout": 1.0, **overrides})


def sources(server: FixtureServer) -> list[Any]:
    return parse_sources(yaml.safe_load(sources_yaml(server.base)))


async def run_once(server: FixtureServer, store: MemoryStore, sink: MemorySink) -> Any:
    async with Fetcher(config()) as fetcher:
        ingester = Ingester(sources(server), fetcher, store, sink, backoff=Backoff(base=30))
        return await ingester.run_once()


def by_path(sink: MemorySink) -> dict[str, dict[str, Any]]:
    return {m["url"].split("127.0.0.1", 1)[1].split("/", 1)[1]: m for m in sink.messages}


async def test_first_poll_publishes_each_article_once(server: FixtureServer) -> None:
    store, sink = MemoryStore(), MemorySink()
    report = await run_once(server, store, sink)
    published = by_path(sink)
    assert sorted(published) == [
        "news/1001.html",
        "news/1002.html",
        "news/1003.html",
        "news/1004.html",
        "news/1005.html",
        "news/1006.html",
        "news/broken-markup.html",
        "news/slow.html",
        "private/2001.html",
    ]
    assert len(sink.messages) == 9 == report.new
    # /print/1004 is 1004's text under another URL; the AMP copy of 1005 is caught by its URL.
    assert report.duplicates == 1
    for message in sink.messages:
        assert schema_errors("raw-article", message) == []
        assert message["fetched_at"] and message["source"] in {"fixture", "loose", "listing"}
    # The tracking parameters are gone from the published URL.
    assert published["news/1001.html"]["url"].endswith("/news/1001.html")
    assert published["news/1001.html"]["published_at"] == "2024-12-01T09:30:00+03:00"
    # A zone-less feed time is read in the source's timezone (Asia/Baghdad).
    assert published["news/1002.html"]["published_at"] == "2024-12-01T10:15:00+03:00"
    assert published["news/1006.html"]["source"] == "listing"


async def test_non_utf8_pages_are_decoded_before_publishing(server: FixtureServer) -> None:
    store, sink = MemoryStore(), MemorySink()
    await run_once(server, store, sink)
    published = by_path(sink)
    for path, words in [
        ("news/1002.html", "مشروعا جديدا لتحلية مياه الشرب في قضاء أبي الخصيب"),  # windows-1256
        ("news/1003.html", "استضاف مجلس النواب العراقي"),  # iso-8859-6, undeclared
    ]:
        message = published[path]
        assert message["content_type"] == "text/html"
        assert words in message["body"]
        assert "\ufffd" not in message["body"]
        # …and the worker's parser reads the article out of what we sent.
        parsed = parse_article(
            message["body"], content_type="text/html", tz=Settings().tz_for_source("x")
        )
        assert words in parsed.body
        assert message["lang"] == "ar"


async def test_every_published_message_goes_through_the_worker_pipeline(
    server: FixtureServer,
) -> None:
    """What the ingester sends is what the worker can parse: no message would be dead-lettered,
    and the headline the worker finds is the article's."""
    import orjson

    from streams.worker.pipeline import Pipeline

    store, sink = MemoryStore(), MemorySink()
    await run_once(server, store, sink)
    pipeline = Pipeline.load(Settings())
    titles = {}
    for message in sink.messages:
        enriched, _ = pipeline.classify(orjson.dumps(message))
        titles[message["url"].rsplit("/", 1)[1]] = enriched["title"]
        assert enriched["body"].strip()
    assert titles["1002.html"] == "محافظ البصرة يفتتح مشروعا لتحلية مياه الشرب"
    assert titles["1003.html"] == "البرلمان العراقي يستضيف وزير الكهرباء لمناقشة أزمة الصيف"


async def test_pages_go_as_slim_html_and_fallbacks_as_summary(server: FixtureServer) -> None:
    store, sink = MemoryStore(), MemorySink()
    await run_once(server, store, sink)
    published = by_path(sink)
    page = published["news/1001.html"]
    assert page["content_type"] == "text/html"
    assert "var tracker" not in page["body"] and "font-family" not in page["body"]
    assert "اعتقال خلية مؤلفة من خمسة أشخاص" in page["body"]
    # robots.txt forbids /private/: the feed's summary is published, the page never requested.
    private = published["private/2001.html"]
    assert private["content_type"] == "text/plain"
    assert private["body"].startswith("ملخص الخبر من الخلاصة")
    assert server.hits("/private/2001.html") == []
    # The page timed out: the feed's full content (content:encoded) stands in.
    slow = published["news/slow.html"]
    assert slow["content_type"] == "text/plain"
    assert slow["body"].splitlines()[0].startswith("ملخص كامل من الخلاصة")
    # Broken markup still yields the article.
    assert "اعتقال خلية" in published["news/broken-markup.html"]["body"]


async def test_second_poll_and_restart_publish_nothing_new(server: FixtureServer) -> None:
    store, sink = MemoryStore(), MemorySink()
    await run_once(server, store, sink)
    assert len(sink.messages) == 9
    before = len(server.hits("/feeds/rss2.xml"))
    again = await run_once(server, store, sink)
    assert len(sink.messages) == 9 and again.new == 0
    # The second poll was conditional and answered 304.
    second = server.hits("/feeds/rss2.xml")[before:]
    assert second and all(r.status == 304 for r in second)
    assert all(r.headers.get("If-None-Match") for r in second)
    # A restarted process rebuilds its state from the log alone.
    restarted = store.rebuilt()
    assert restarted.state.urls == store.state.urls
    fresh_sink = MemorySink()
    report = await run_once(server, restarted, fresh_sink)
    assert fresh_sink.messages == [] and report.new == 0


async def test_restart_without_validators_still_publishes_nothing(server: FixtureServer) -> None:
    store, sink = MemoryStore(), MemorySink()
    await run_once(server, store, sink)
    # Drop the ETags: the feeds come back in full, and the URL/content state alone must hold.
    without = MemoryStore([(k, v) for k, v in store.log if not k.startswith("v:")])
    assert without.state.validators == {}
    sink2 = MemorySink()
    report = await run_once(server, without, sink2)
    assert sink2.messages == [] and report.new == 0


async def test_polite_client_headers_gzip_and_robots(server: FixtureServer) -> None:
    async with Fetcher(config()) as fetcher:
        result = await fetcher.get(f"{server.base}/news/1001.html")
    assert result.ok
    hit = server.hits("/news/1001.html")[-1]
    assert hit.headers["User-Agent"] == UA
    assert "gzip" in hit.headers["Accept-Encoding"]
    # The server sent gzip; the client hands back the decompressed page.
    raw = server._content("news-1001.html")
    assert result.content == raw and gzip.compress(raw) != raw
    assert server.hits("/robots.txt"), "robots.txt is read before the first page"


@pytest.mark.parametrize(
    ("path", "outcome", "status"),
    [
        ("/feeds/missing.xml", "client_error", 404),
        ("/feeds/error.xml", "server_error", 500),
        ("/feeds/slow.xml", "timeout", None),
        ("/private/2001.html", "robots_disallowed", None),
    ],
)
async def test_fetch_outcomes(
    server: FixtureServer, path: str, outcome: str, status: int | None
) -> None:
    async with Fetcher(config(timeout=0.5)) as fetcher:
        result = await fetcher.get(server.base + path)
    assert result.outcome == outcome
    assert result.status == status


async def test_conditional_get_answers_304(server: FixtureServer) -> None:
    async with Fetcher(config()) as fetcher:
        first = await fetcher.get(f"{server.base}/feeds/atom.xml")
        assert first.ok and first.validators.etag
        second = await fetcher.get(f"{server.base}/feeds/atom.xml", validators=first.validators)
    assert second.outcome == "not_modified" and second.content == b""


async def test_failing_feeds_are_counted_and_backed_off(server: FixtureServer) -> None:
    flaky = [s for s in sources(server) if s.name == "flaky"]

    def count(outcome: str) -> float:
        value = metrics.INGEST_FETCHES.labels(
            source="flaky", kind="feed", outcome=outcome
        )._value.get()
        return float(value)

    before = {o: count(o) for o in ("client_error", "server_error", "timeout", "unparseable")}
    now = [1000.0]
    async with Fetcher(config(timeout=0.5)) as fetcher:
        ingester = Ingester(
            flaky,
            fetcher,
            MemoryStore(),
            MemorySink(),
            backoff=Backoff(base=60, jitter=0),
            clock=lambda: now[0],
        )
        report = await ingester.run_once()
        assert report.errors == 4 and report.new == 0
        for outcome in before:
            assert count(outcome) == before[outcome] + 1
        hits = len(server.hits("/feeds/error.xml"))
        now[0] += 30  # within the first backoff (60 s): not asked again
        await ingester.run_once()
        assert len(server.hits("/feeds/error.xml")) == hits
        now[0] += 31  # past it: asked again, and the next wait doubles
        await ingester.run_once()
        assert len(server.hits("/feeds/error.xml")) == hits + 1
        assert ingester.backoff.failures(f"{server.base}/feeds/error.xml") == 2


async def test_requests_to_one_host_are_spaced(server: FixtureServer) -> None:
    before = time.time()  # the fixture server stamps requests with time.time()
    async with Fetcher(config(host_interval=0.3, host_concurrency=4)) as fetcher:
        await fetcher.get(f"{server.base}/news/1004.html")  # robots.txt and one page
        start = len(server.requests)
        await asyncio.gather(*(fetcher.get(f"{server.base}/news/1004.html") for _ in range(4)))
    times = sorted(r.at for r in server.requests[start:])
    assert len(times) == 4
    # The page was sent after `before` and each of the four at least 0.3 s after the one
    # before it, so the last cannot reach the server before `before` + 1.2 s. A bound on when
    # requests arrive, not on the gaps between arrivals: a loaded machine can delay one
    # request's arrival and shrink the next gap (it did, under load 10), never advance one.
    assert times[-1] - before >= 4 * 0.3 - 0.01


@pytest.mark.parametrize("max_bytes", [5_000_000, 100_000])
async def test_large_pages_are_read_whole_or_refused(server: FixtureServer, max_bytes: int) -> None:
    async with Fetcher(config(max_bytes=max_bytes, timeout=10.0)) as fetcher:
        result = await fetcher.get(f"{server.base}/news/big.html")
    if max_bytes == 100_000:
        assert result.outcome == "too_large" and result.content == b""
    else:
        assert result.ok and len(result.content) > 600_000
        assert result.content.count("فقرة طويلة لملء الصفحة".encode()) == 40 * 400
        assert result.content.rstrip().endswith(b"</html>")


async def test_fetch_pages_false_publishes_the_feed_text_only(server: FixtureServer) -> None:
    doc = yaml.safe_load(
        f"""
schema_version: 1
sources:
  - name: summaries
    fetch_pages: false
    feeds: ["{server.base}/feeds/rss1.rdf"]
"""
    )
    before = len(server.hits("/news/1006.html"))
    sink = MemorySink()
    async with Fetcher(config()) as fetcher:
        report = await Ingester(parse_sources(doc), fetcher, MemoryStore(), sink).run_once()
    assert report.new == 1
    (message,) = sink.messages
    assert message["content_type"] == "text/plain"
    assert message["body"] == "شهدت مدينة الموصل هطول أمطار غزيرة."
    assert message["published_at"] == "2024-12-04T07:45:00+03:00"
    assert len(server.hits("/news/1006.html")) == before  # the page was not fetched


async def test_a_page_that_fails_for_now_is_retried_at_the_next_poll(server: FixtureServer) -> None:
    doc = yaml.safe_load(
        f"""
schema_version: 1
sources:
  - name: retry
    feeds: ["{server.base}/feeds/retry.xml"]
"""
    )
    store, sink = MemoryStore(), MemorySink()
    now = [1000.0]
    async with Fetcher(config()) as fetcher:
        ingester = Ingester(
            parse_sources(doc),
            fetcher,
            store,
            sink,
            backoff=Backoff(base=30, jitter=0),
            clock=lambda: now[0],
        )
        first = await ingester.run_once()
        assert (first.new, first.retry) == (0, 1)
        # The feed's ETag was not kept: the next poll gets the feed in full, not a 304.
        assert store.state.validators_for(f"{server.base}/feeds/retry.xml").etag is None
        # Within the page's backoff it is not asked again; after it, it is.
        early = await ingester.run_once()
        assert (early.new, early.retry) == (0, 1)
        assert len(server.hits("/news/flaky.html")) == 1
        now[0] += 31
        second = await ingester.run_once()
    assert second.new == 1
    assert [r.status for r in server.hits("/feeds/retry.xml")][-1] == 200
    assert [r.status for r in server.hits("/news/flaky.html")] == [503, 200]
    assert "شهدت مدينة الموصل" in sink.messages[0]["body"]


async def test_redirects_are_followed_hop_by_hop_under_robots_rules(server: FixtureServer) -> None:
    async with Fetcher(config()) as fetcher:
        moved = await fetcher.get(f"{server.base}/go/1004")
        private = await fetcher.get(f"{server.base}/go/private")
        loop = await fetcher.get(f"{server.base}/go/loop")
    assert moved.ok and moved.url == f"{server.base}/go/1004"
    assert moved.final_url == f"{server.base}/news/1004.html"
    assert "ارتفاع أسعار الذهب".encode() in moved.content
    # The redirect target is under /private/: refused without being requested.
    assert private.outcome == "robots_disallowed"
    assert server.hits("/private/2001.html") == []
    assert loop.outcome == "client_error" and "redirects" in loop.detail


async def test_a_redirected_robots_txt_is_followed(server: FixtureServer) -> None:
    with FixtureServer(robots_redirect=f"{server.base}/robots.txt").running() as other:
        async with Fetcher(config()) as fetcher:
            blocked = await fetcher.get(f"{other.base}/private/2001.html")
            allowed = await fetcher.get(f"{other.base}/news/1004.html")
    assert blocked.outcome == "robots_disallowed" and allowed.ok
    assert [r.status for r in other.hits("/robots.txt")] == [301]
    assert other.hits("/private/2001.html") == []
