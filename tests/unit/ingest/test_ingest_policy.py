"""Backoff, per-host spacing, robots.txt, dedup state and the sources file: pure logic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from streams.ingest.dedup import (
    DedupState,
    Validators,
    hash_key,
    published_records,
    record_errors,
    seen_records,
    url_key,
    validators_record,
)
from streams.ingest.policy import Backoff, HostSchedule, RobotsRules, agent_token, host_of
from streams.ingest.sources import SourcesError, load_sources, parse_sources, parse_timezone

REPO = Path(__file__).resolve().parents[3]


# ---------------------------------------------------------------- backoff
def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    b = Backoff(base=10, cap=100, jitter=0)
    waits = [b.failure("f", now=0) for _ in range(6)]
    assert waits == [10, 20, 40, 80, 100, 100]
    assert not b.ready("f", now=99) and b.ready("f", now=100)
    b.success("f")
    assert b.ready("f", now=0) and b.failures("f") == 0
    assert b.failure("f", now=0) == 10


def test_backoff_jitter_stays_within_bounds() -> None:
    low = Backoff(base=100, jitter=0.1, rng=lambda: 0.0).failure("k", now=0)
    high = Backoff(base=100, jitter=0.1, rng=lambda: 1.0).failure("k", now=0)
    assert (low, high) == pytest.approx((90.0, 110.0))


def test_backoff_honours_retry_after_but_not_beyond_the_cap() -> None:
    b = Backoff(base=10, cap=600, jitter=0)
    assert b.failure("k", now=0, retry_after=120) == 120
    assert b.failure("j", now=0, retry_after=5) == 10  # never sooner than our own backoff
    assert b.failure("x", now=0, retry_after=86400) == 600


def test_backoff_keys_are_independent() -> None:
    b = Backoff(base=10, jitter=0)
    b.failure("a", now=0)
    assert not b.ready("a", now=5) and b.ready("b", now=5)


# ---------------------------------------------------------------- host spacing
def test_host_schedule_spaces_requests_per_host() -> None:
    s = HostSchedule(interval=2.0)
    assert [s.reserve("h", now=0.0) for _ in range(3)] == [0.0, 2.0, 4.0]
    assert s.reserve("other", now=0.0) == 0.0
    assert s.reserve("h", now=10.0) == 0.0  # idle long enough: no wait


def test_crawl_delay_lengthens_but_never_shortens_the_interval() -> None:
    s = HostSchedule(interval=2.0)
    s.set_crawl_delay("h", 5.0)
    assert s.interval_for("h") == 5.0
    s.set_crawl_delay("h", 0.5)
    assert s.interval_for("h") == 2.0
    s.set_crawl_delay("h", 10_000)
    assert s.interval_for("h") == 60.0


def test_host_of() -> None:
    assert host_of("HTTPS://News.Example:8443/a?b") == "https://news.example:8443"


# ---------------------------------------------------------------- robots.txt
ROBOTS = """
User-agent: RasidBot
Disallow: /private/
Crawl-delay: 3

User-agent: *
Disallow: /
"""


@pytest.mark.parametrize(
    ("agent", "url", "allowed"),
    [
        ("RasidBot", "https://e.com/news/1.html", True),
        ("RasidBot", "https://e.com/private/1.html", False),
        ("OtherBot", "https://e.com/news/1.html", False),
    ],
)
def test_robots_rules(agent: str, url: str, allowed: bool) -> None:
    rules = RobotsRules.from_response(200, ROBOTS, now=0)
    assert rules.allowed(agent, url) is allowed


def test_robots_crawl_delay_and_status_handling() -> None:
    assert RobotsRules.from_response(200, ROBOTS, now=0).crawl_delay("RasidBot") == 3.0
    # RFC 9309: no robots.txt (4xx) → everything allowed; 5xx / unreachable → nothing.
    assert RobotsRules.from_response(404, "", now=0).allowed("RasidBot", "https://e.com/x")
    assert not RobotsRules.from_response(503, "", now=0).allowed("RasidBot", "https://e.com/x")
    assert not RobotsRules.from_response(None, "", now=0).allowed("RasidBot", "https://e.com/x")


def test_robots_expiry_retries_unreachable_sooner() -> None:
    good = RobotsRules.from_response(200, ROBOTS, now=0)
    down = RobotsRules.from_response(None, "", now=0)
    assert not good.expired(now=1000, ttl=3600) and good.expired(now=3600, ttl=3600)
    assert down.expired(now=300, ttl=3600)


def test_agent_token() -> None:
    assert agent_token("RasidBot/0.1 (+https://x)") == "RasidBot"
    assert agent_token("") == "*"


# ---------------------------------------------------------------- dedup state
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://e.com/news/1.html", "https://E.com/news/1.html/?utm_source=x"),
        ("https://e.com/amp/news/1.html", "https://e.com/news/1.html#top"),
        ("https://amp.e.com/news/1", "https://e.com/news/1?amp=1"),
    ],
)
def test_url_key_folds_variants(a: str, b: str) -> None:
    assert url_key(a) == url_key(b)


def test_url_key_separates_articles() -> None:
    assert url_key("https://e.com/news?id=1") != url_key("https://e.com/news?id=2")


def test_state_folds_records_like_a_compacted_topic() -> None:
    state = DedupState()
    records = published_records(
        article_id="url-1",
        source="s",
        urls=["https://e.com/a?utm_source=x", "https://e.com/a", "https://e.com/a-canonical"],
        content_hash="abc",
        at="2024-12-01T00:00:00+00:00",
    )
    assert len(records) == 3  # two distinct URL keys and the hash
    for key, value in records:
        state.apply(key, value)
    assert state.seen_url("http://e.com/a") and state.seen_url("https://e.com/a-canonical")
    assert state.seen_content("abc") and not state.seen_content("abd")
    assert orjson.loads(records[0][1])["id"] == "url-1"
    # A tombstone forgets.
    state.apply(hash_key("abc"), None)
    assert not state.seen_content("abc")
    # Validators: the latest value per feed wins.
    key, value = validators_record("https://e.com/rss", Validators('"e1"', None))
    state.apply(key, value)
    state.apply(*validators_record("https://e.com/rss", Validators('"e2"', "Tue, 03 Dec 2024")))
    assert state.validators_for("https://e.com/rss").request_headers() == {
        "If-None-Match": '"e2"',
        "If-Modified-Since": "Tue, 03 Dec 2024",
    }
    assert state.validators_for("https://e.com/other").request_headers() == {}
    state.apply("v:https://e.com/rss", b"not json")  # ignored, never raises
    state.apply("zzz", b"{}")


def test_seen_records_mark_urls_only() -> None:
    state = DedupState()
    for key, value in seen_records(
        urls=["https://e.com/p/1", "https://e.com/p/1"], source="s", reason="content", at="t"
    ):
        state.apply(key, value)
    assert state.seen_url("https://e.com/p/1") and state.hashes == set()


# ---------------------------------------------------------------- sources file
def test_the_shipped_sources_file_is_valid() -> None:
    sources = load_sources(REPO / "deploy" / "sources.yaml")
    names = [s.name for s in sources]
    assert len(names) == len(set(names)) >= 8
    assert {"baghdadtoday", "ina", "shafaq", "bbcarabic"} <= set(names)
    assert all(s.feeds or s.listings for s in sources)
    assert "alarabiya" not in names  # enabled: false
    bbc = next(s for s in sources if s.name == "bbcarabic")
    assert bbc.region is None and bbc.weight == 0.8 and bbc.language == "ar"


def doc(**source: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "sources": [{"name": "s", "feeds": ["https://e.com/rss"], **source}],
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"schema_version": 1},
        {"schema_version": 2, "sources": []},
        {"schema_version": 1, "sources": [{"name": "s"}]},  # neither feeds nor listings
        doc(name="Bad Name"),
        doc(feeds=["ftp://e.com/rss"]),
        doc(interval_seconds=0),
        doc(weight=2),
        doc(colour="red"),
        doc(timezone="Mars/Olympus"),
        doc(listings=[{"url": "https://e.com/", "link_pattern": "("}]),
        {"schema_version": 1, "sources": [doc()["sources"][0], doc()["sources"][0]]},
    ],
)
def test_invalid_sources_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(SourcesError):
        parse_sources(bad)


def test_defaults_apply_and_sources_override() -> None:
    data = yaml.safe_load(
        """
schema_version: 1
defaults: {interval_seconds: 60, timezone: "+02:00", weight: 0.9}
sources:
  - {name: a, feeds: ["https://a.example/rss"]}
  - {name: b, feeds: ["https://b.example/rss"], interval_seconds: 30, fetch_pages: false}
"""
    )
    a, b = parse_sources(data)
    assert (a.interval_seconds, a.weight, a.fetch_pages) == (60, 0.9, True)
    assert (b.interval_seconds, b.fetch_pages) == (30, False)
    assert a.tz.utcoffset(None).total_seconds() == 7200  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value", "hours"),
    [("+03:00", 3), ("-0430", -4.5), ("UTC+3", 3), ("UTC", 0), ("Asia/Baghdad", 3)],
)
def test_parse_timezone(value: str, hours: float) -> None:
    from datetime import datetime

    offset = datetime(2024, 12, 1, tzinfo=parse_timezone(value)).utcoffset()
    assert offset is not None and offset.total_seconds() == hours * 3600


def test_state_records_match_their_schema() -> None:
    at = "2024-12-01T00:00:00+00:00"
    values = [
        v
        for _, v in published_records(
            article_id="a", source="s", urls=["https://e.com/a"], content_hash="h", at=at
        )
        + seen_records(urls=["https://e.com/b"], source="s", reason="robots_disallowed", at=at)
        + [validators_record("https://e.com/rss", Validators('"e"', None))]
    ]
    assert all(record_errors(v) == [] for v in values)
    assert record_errors(b'{"schema_version": 1, "source": "s"}')
    assert record_errors(b'{"id": "a", "source": "s", "url": "u", "at": "yesterday"}')
    assert record_errors(b"nope")
