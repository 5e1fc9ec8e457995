"""Trends for subscribers (issue 19) without a broker: the trend filter, the API's trend buffer
(bounds, repeats, invalid records), GET /trends (filters, scope, paging, errors, 429) and the
stream's `event: trend` (asked for with `events=`, scoped and filtered, never in the alert ids)."""

from __future__ import annotations

import asyncio
import hashlib
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from streams.api.access import ApiKey, hash_token, new_token
from streams.api.server import FEED, KEYS, TRENDS, build_app
from streams.api.trends import TrendFeed, TrendFilter
from streams.settings import Settings
from streams.validation import schema_errors
from tests.unit.api.test_feed import record

GULF = ["AE", "BH", "KW", "OM", "QA", "SA"]


def trend_record(
    n: int = 0,
    *,
    key: str = "IQ|security",
    level: str = "elevated",
    detected_at: str = "2026-12-03T06:00:00+00:00",
    **over: Any,
) -> dict[str, Any]:
    """A valid trend.v1 record of `key` (the scope fields as the detector derives them)."""
    scope: dict[str, Any]
    if key.startswith("rule:"):
        scope = {"kind": "rule", "rule": key[5:], "regions": [], "topics": []}
    else:
        region, _, topic = key.partition("|")
        scope = {"kind": {"*": "topic"}.get(region, "region" if topic == "*" else "region_topic")}
        if region != "*":
            scope["region"] = region
        if topic != "*":
            scope["topic"] = topic
        scope["regions"] = [] if region == "*" else GULF if region == "GULF" else [region]
        scope["topics"] = [] if topic == "*" else [topic]
    trend = {
        "schema_version": 1,
        "id": hashlib.sha256(f"{key}\x1f{n}\x1f{level}".encode()).hexdigest()[:32],
        "key": key,
        **scope,
        "level": level,
        "previous_level": None,
        "window": "1h",
        "window_seconds": 3600,
        "window_start": "2026-12-03T05:00:00+00:00",
        "window_end": detected_at,
        "since": detected_at,
        "detected_at": detected_at,
        "count": 9.5,
        "new_stories": 8,
        "new_outlets": 3,
        "expected": 1.2,
        "ratio": 7.917,
        "p_value": 1e-6,
        "p_day": 2.4e-4,
        "score": 3.62,
        "baseline": {
            "rate_per_hour": 1.2,
            "stream_factor": 1.0,
            "seasonal_factor": 1.0,
            "history_hours": 400,
            "half_life_hours": 168,
        },
        "top_stories": [
            {
                "story_id": f"st-{n}",
                "headline": "انفجار في بغداد",
                "size": 4,
                "reports": 2.5,
                "sources": ["a", "b"],
                "first_seen": "2026-12-03T05:10:00+00:00",
                "last_seen": "2026-12-03T05:50:00+00:00",
            }
        ],
        "terms": [
            {"term": "انفجار", "count": 3, "window_share": 0.4, "baseline_share": 0.02, "ratio": 20}
        ],
        **over,
    }
    assert schema_errors("trend", trend) == []
    return trend


def trend_message(partition: int, offset: int, trend: dict[str, Any] | bytes) -> Any:
    value = trend if isinstance(trend, bytes) else orjson.dumps(trend)
    return SimpleNamespace(
        partition=partition,
        offset=offset,
        timestamp=1_700_000_100_000 + offset,
        value=value,
        key=None,
    )


def trend_feed(**kw: Any) -> TrendFeed:
    feed = TrendFeed("unused:9092", "rasid.trends", **kw)
    feed._start(0, 0, 0)
    return feed


# ---------------------------------------------------------------- the filter
@pytest.mark.parametrize(
    ("params", "key", "level", "expected"),
    [
        ({}, "IQ|security", "elevated", True),
        ({"region": ["IQ"]}, "IQ|security", "elevated", True),
        ({"region": ["iq,sy"]}, "IQ|*", "elevated", True),  # codes are upper-cased
        ({"region": ["SY"]}, "IQ|security", "elevated", False),
        ({"region": ["SA"]}, "GULF|*", "elevated", True),  # a member of the group
        ({"region": ["GULF"]}, "GULF|security", "elevated", True),  # the group itself
        ({"region": ["IQ"]}, "*|security", "elevated", False),  # topic-only: no region
        ({"topic": ["security"]}, "*|security", "elevated", True),
        ({"topic": ["politics"]}, "IQ|security", "elevated", False),
        ({"topic": ["security"]}, "IQ|*", "elevated", False),
        ({"rule": ["red-line"]}, "rule:red-line", "elevated", True),
        ({"rule": ["red-line"]}, "IQ|security", "elevated", False),
        ({"level": "high"}, "IQ|security", "elevated", False),
        ({"level": "high"}, "IQ|security", "high", True),
        ({"level": "high"}, "IQ|security", "extreme", True),
        ({"min_level": "extreme"}, "IQ|security", "high", False),
        ({"since": "2026-12-03T06:00:00Z"}, "IQ|security", "elevated", True),  # inclusive
        ({"since": "2026-12-03T06:00:01Z"}, "IQ|security", "elevated", False),
        ({"until": "2026-12-03T05:59:59Z"}, "IQ|security", "elevated", False),
        ({"until": "2026-12-03T09:00:00+03:00"}, "IQ|security", "elevated", True),
    ],
)
def test_trend_filter(params: dict[str, Any], key: str, level: str, expected: bool) -> None:
    trend = trend_record(key=key, level=level)
    assert TrendFilter.from_params(params).matches(trend) is expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"level": "urgent"}, "level must be one of elevated, high, extreme"),
        ({"since": "yesterday"}, "since must be an RFC 3339 time"),
        ({"until": "2026-13-01"}, "until must be an RFC 3339 time"),
    ],
)
def test_bad_trend_filters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrendFilter.from_params(params)


def test_a_scoped_key_sees_trends_as_it_sees_alerts() -> None:
    """ApiKey.allows unchanged: a scoped key needs one of its regions AND one of its topics, so
    a topic-only trend (no regions) is hidden from a region-scoped key, a region-only trend
    (no topics) from a topic-scoped key, and a rule trend (neither) from any scoped key."""
    iq = ApiKey("k", "iq", "h", regions=frozenset({"IQ"}))
    security = ApiKey("k", "sec", "h", topics=frozenset({"security"}))
    both = ApiKey("k", "both", "h", regions=frozenset({"SA"}), topics=frozenset({"security"}))
    cases = {
        "IQ|security": (True, True, False),
        "IQ|*": (True, False, False),
        "*|security": (False, True, False),
        "GULF|security": (False, True, True),  # SA is a member of the Gulf
        "rule:red-line": (False, False, False),
    }
    for key, expected in cases.items():
        trend = trend_record(key=key)
        assert (iq.allows(trend), security.allows(trend), both.allows(trend)) == expected, key
        assert ApiKey("k", "all", "h").allows(trend)  # an unscoped key sees everything


# ---------------------------------------------------------------- the buffer
def test_the_buffer_is_bounded_in_count_and_bytes() -> None:
    by_count = trend_feed(size=5)
    for n in range(12):
        by_count.add(trend_message(0, n, trend_record(n)))
    assert len(by_count.buffer) == 5 and len(by_count.by_id) == 5
    assert [e.offset for e in by_count.buffer] == list(range(7, 12))
    one = len(orjson.dumps(trend_record(0)))
    by_bytes = trend_feed(max_bytes=3 * one + one // 2)  # room for three records
    for n in range(10):
        by_bytes.add(trend_message(0, n, trend_record(n)))
    assert len(by_bytes.buffer) == 3 and by_bytes.bytes <= by_bytes.max_bytes
    assert sorted(by_bytes.by_id) == sorted(trend_record(n)["id"] for n in (7, 8, 9))


def test_a_repeated_record_is_kept_once_and_not_streamed_again() -> None:
    streamed: list[str] = []
    feed = trend_feed(fan_out=lambda e: streamed.append(e.trend["id"]))
    first, second = trend_record(1), trend_record(2)
    for offset, trend in enumerate([first, second, first]):  # the worker sent `first` twice
        feed.add(trend_message(0, offset, trend))
    assert streamed == [first["id"], second["id"]]
    page, more = feed.page(None, 10, lambda e: True)
    assert [e.trend["id"] for e in page] == [first["id"], second["id"]] and not more
    assert page[0].offset == 2  # the newest copy


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[1, 2]",
        orjson.dumps({**trend_record(), "level": "apocalyptic"}),
        orjson.dumps({k: v for k, v in trend_record().items() if k != "count"}),
        orjson.dumps({**trend_record(), "pad": "x" * 300_000}),  # over the size bound
        b"",
    ],
    ids=["json", "array", "level", "missing", "huge", "empty"],
)
def test_an_invalid_record_is_skipped_and_counted(value: bytes) -> None:
    def skipped() -> float:
        labels = {"reader": "api"}
        return REGISTRY.get_sample_value("rasid_trend_records_invalid_total", labels) or 0.0

    before = skipped()
    feed = trend_feed()
    feed.add(trend_message(0, 0, value))
    feed.add(trend_message(0, 1, trend_record(1)))
    assert feed.skipped == 1 and skipped() == before + 1
    assert [e.offset for e in feed.buffer] == [1] and feed.position == {0: 2}


def test_a_restarted_reader_starts_a_buffer_back_and_then_goes_on() -> None:
    feed = TrendFeed("unused:9092", "rasid.trends", size=100)
    assert feed._start(0, 0, 1000) == 900  # at most a buffer's worth of history
    assert feed._start(1, 40, 60) == 40
    feed.add(trend_message(0, 950, trend_record()))
    assert feed._start(0, 0, 1200) == 951  # a restarted reader goes on where it was


# ---------------------------------------------------------------- GET /trends
def settings(**kw: Any) -> Settings:
    base: dict[str, Any] = {"kafka_bootstrap": "127.0.0.1:1", "api_heartbeat_seconds": 0.2}
    return Settings(**{**base, **kw})


KEYS_OF = {
    "all": {},
    "iq": {"regions": frozenset({"IQ"})},
    "security": {"topics": frozenset({"security"})},
}


def app_with_trends(**kw: Any) -> tuple[web.Application, dict[str, str]]:
    """An app that requires keys (one per KEYS_OF scope → its token), with two alerts and six
    trends in the buffers."""
    app = build_app(settings(**kw), readers=False)
    tokens = {}
    for name, scope in KEYS_OF.items():
        key_id, token = new_token()
        app[KEYS].keys[key_id] = ApiKey(key_id, name, hash_token(token), **scope)
        tokens[name] = token
    app[KEYS].ready.set()
    feed = app[FEED]
    feed._start(0, 0, 0)
    feed.add(record(0, 0, regions=["IQ"], topics=["security"]))
    feed.ready.set()
    trends = app[TRENDS]
    trends._start(0, 0, 0)
    for offset, (key, level) in enumerate(TRENDS_IN):
        hour = 6 + offset
        at = f"2026-12-03T{hour:02d}:00:00+00:00"
        trends.add(
            trend_message(0, offset, trend_record(offset, key=key, level=level, detected_at=at))
        )
    trends.ready.set()
    return app, tokens


TRENDS_IN = [
    ("IQ|security", "elevated"),  # 06:00
    ("IQ|*", "high"),  # 07:00
    ("*|security", "elevated"),  # 08:00
    ("SY|politics", "extreme"),  # 09:00
    ("rule:red-line", "high"),  # 10:00
    ("GULF|security", "elevated"),  # 11:00
]


def keys_of(body: dict[str, Any]) -> list[str]:
    return [t["key"] for t in body["trends"]]


@pytest.mark.parametrize(
    ("who", "query", "expected"),
    [
        ("all", "", [k for k, _ in reversed(TRENDS_IN)]),  # newest first
        ("iq", "", ["IQ|*", "IQ|security"]),  # scoped: its region only
        ("security", "", ["GULF|security", "*|security", "IQ|security"]),
        ("all", "?region=IQ", ["IQ|*", "IQ|security"]),
        ("all", "?region=SA", ["GULF|security"]),
        ("all", "?topic=security&level=elevated", ["GULF|security", "*|security", "IQ|security"]),
        ("all", "?level=high", ["rule:red-line", "SY|politics", "IQ|*"]),
        ("all", "?rule=red-line", ["rule:red-line"]),
        ("all", "?since=2026-12-03T08:00:00Z&until=2026-12-03T10:00:00Z",
         ["rule:red-line", "SY|politics", "*|security"]),
        ("iq", "?region=SY", []),  # a filter never widens the scope
    ],
)  # fmt: skip
async def test_get_trends_filters_and_scope(who: str, query: str, expected: list[str]) -> None:
    app, tokens = app_with_trends()
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/trends" + query, headers={"Authorization": f"Bearer {tokens[who]}"})
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    assert keys_of(body) == expected
    for trend in body["trends"]:
        assert schema_errors("trend", trend) == []


async def test_get_trends_pages_with_a_cursor() -> None:
    app, tokens = app_with_trends()
    auth = {"Authorization": f"Bearer {tokens['all']}"}
    seen: list[str] = []
    async with TestClient(TestServer(app)) as c:
        cursor = None
        for _ in range(10):
            params = {"limit": "4", **({"cursor": cursor} if cursor else {})}
            body = await (await c.get("/trends", params=params, headers=auth)).json()
            seen += keys_of(body)
            cursor = body["next_cursor"]
            if cursor is None:
                break
    assert seen == [k for k, _ in reversed(TRENDS_IN)]  # all of them, once, in order


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?level=urgent", 400),
        ("?limit=0", 400),
        ("?limit=501", 400),
        ("?cursor=a-b-c", 400),
        ("?since=yesterday", 400),
    ],
)
async def test_bad_trend_queries_are_400(query: str, status: int) -> None:
    app, tokens = app_with_trends()
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/trends" + query, headers={"Authorization": f"Bearer {tokens['all']}"})
        assert resp.status == status
        assert "error" in await resp.json()
        resp = await c.get("/trends")
        assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_trends_count_against_the_keys_request_rate() -> None:
    app, tokens = app_with_trends(api_key_requests_per_second=0.01, api_key_burst=3)
    async with TestClient(TestServer(app)) as c:
        statuses = []
        for _ in range(5):
            resp = await c.get("/trends", headers={"Authorization": f"Bearer {tokens['iq']}"})
            statuses.append(resp.status)
        assert statuses == [200, 200, 200, 429, 429]
        assert int(resp.headers["Retry-After"]) >= 1
        other = await c.get("/trends", headers={"Authorization": f"Bearer {tokens['all']}"})
        assert other.status == 200  # per key


def test_the_openapi_document_lists_trends() -> None:
    from streams.api.openapi import openapi

    doc = openapi()
    get = doc["paths"]["/trends"]["get"]
    assert {"200", "400", "401", "429"} <= set(get["responses"])
    assert {p["name"] for p in get["parameters"]} >= {
        "region", "topic", "rule", "level", "since", "until", "limit", "cursor",
    }  # fmt: skip
    stream = {p["name"] for p in doc["paths"]["/alerts/stream"]["get"]["parameters"]}
    assert {"events", "level"} <= stream
    assert doc["components"]["schemas"]["Trend"]["properties"]["level"] == {
        "$ref": "#/components/schemas/Trend_level"
    }
    assert "Trend_level" in doc["components"]["schemas"]


# ---------------------------------------------------------------- SSE
async def _events(resp: Any, count: int, timeout: float = 5.0) -> list[dict[str, str]]:
    """The next `count` events of a stream, each {field: value}."""
    out: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        while len(out) < count:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if not line:
                if "data" in fields:
                    out.append(fields)
                fields = {}
                continue
            if line.startswith(":") or line.startswith("retry:"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
    return out


async def test_the_stream_carries_trends_only_when_asked() -> None:
    app, tokens = app_with_trends()
    auth = {"Authorization": f"Bearer {tokens['iq']}"}
    async with TestClient(TestServer(app)) as c:
        default = await c.get("/alerts/stream", headers=auth)
        both = await c.get("/alerts/stream", params={"events": "alerts,trends"}, headers=auth)
        only = await c.get("/alerts/stream", params={"events": "trends"}, headers=auth)
        high = await c.get("/alerts/stream?events=trends&level=high", headers=auth)
        for resp in (default, both, only, high):
            assert resp.status == 200
            await resp.content.readline()  # retry: 3000 — the stream is open
        trends, feed = app[TRENDS], app[FEED]
        trends.add(trend_message(0, 10, trend_record(10, key="SY|*")))  # out of scope
        trends.add(trend_message(0, 11, trend_record(11, key="IQ|security")))
        feed.add(record(0, 1, regions=["IQ"], topics=["security"]))
        trends.add(trend_message(0, 12, trend_record(12, key="IQ|*", level="high")))
        got_both = await _events(both, 3)
        assert [e["event"] for e in got_both] == ["trend", "alert", "trend"]
        trend_event = got_both[0]
        assert "id" not in trend_event  # Last-Event-ID stays the last alert's position
        assert orjson.loads(trend_event["data"]) == trend_record(11, key="IQ|security")
        assert got_both[1]["id"] == "1.2"  # the alert's id: the alerts topic's position
        got_only = await _events(only, 2)
        assert [orjson.loads(e["data"])["key"] for e in got_only] == ["IQ|security", "IQ|*"]
        assert {e["event"] for e in got_only} == {"trend"}
        got_high = await _events(high, 1)
        assert orjson.loads(got_high[0]["data"])["key"] == "IQ|*"
        got_default = await _events(default, 1)
        assert got_default[0]["event"] == "alert"  # an existing client sees no trend …
        feed.add(record(0, 2, regions=["IQ"], topics=["security"]))
        assert [e["event"] for e in await _events(default, 1)] == ["alert"]  # … ever
        for resp in (default, both, only, high):
            resp.close()


async def test_a_resume_with_trends_replays_alerts_only() -> None:
    app, tokens = app_with_trends()
    auth = {"Authorization": f"Bearer {tokens['all']}", "Last-Event-ID": "1.0"}
    async with TestClient(TestServer(app)) as c:
        resp = await c.get("/alerts/stream?events=alerts,trends", headers=auth)
        assert resp.status == 200
        resumed = await _events(resp, 1)
        assert resumed[0]["event"] == "alert" and resumed[0]["id"] == "1.1"  # the backlog
        app[TRENDS].add(trend_message(0, 20, trend_record(20)))
        assert (await _events(resp, 1))[0]["event"] == "trend"  # then live trends
        resp.close()
        only = await c.get("/alerts/stream?events=trends", headers=auth)
        app[TRENDS].add(trend_message(0, 21, trend_record(21)))
        first = (await _events(only, 1))[0]
        assert first["event"] == "trend"  # no alert backlog on a trends-only stream
        only.close()


@pytest.mark.parametrize("events", ["alert", "trends,bogus", ",", "alerts;trends"])
async def test_a_bad_events_parameter_is_a_400(events: str) -> None:
    app, tokens = app_with_trends()
    async with TestClient(TestServer(app)) as c:
        resp = await c.get(
            "/alerts/stream",
            params={"events": events},
            headers={"Authorization": f"Bearer {tokens['all']}"},
        )
        assert resp.status == 400
        assert (await resp.json())["error"] == "events must be alerts, trends or alerts,trends"
