"""Pure subscriber logic: filters, key scopes and tokens, stream positions, SSE framing, webhook
signatures, backoff, quiet hours, throttling; and the committed OpenAPI document."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from streams.api.access import (
    ApiKey,
    bearer,
    check_token,
    decode_position,
    encode_position,
    hash_token,
    new_token,
    sse,
    token_key_id,
)
from streams.api.openapi import render
from streams.filters import AlertFilter
from streams.webhooks.policy import (
    QuietHours,
    Throttle,
    backoff,
    delivery_id,
    hold_until,
    retryable,
    sign,
    verify,
)

ROOT = Path(__file__).resolve().parents[3]


def _alert(**kw: Any) -> dict[str, Any]:
    base = {
        "id": "a" * 32,
        "rule": "red-line",
        "story_id": "st-" + "0" * 24,
        "severity": "high",
        "regions": ["IQ", "SY"],
        "topics": ["security"],
        "updated_at": "2024-12-01T10:00:00+00:00",
    }
    return {**base, **kw}


@pytest.mark.parametrize(
    ("params", "alert", "expected"),
    [
        ({}, _alert(), True),
        ({"region": "IQ"}, _alert(), True),
        ({"region": "iq"}, _alert(), True),  # codes are upper-cased
        ({"region": "EG,LB"}, _alert(), False),
        ({"region": ["EG", "SY"]}, _alert(), True),  # repeated parameter
        ({"topic": "security"}, _alert(), True),
        ({"topic": "economy"}, _alert(), False),
        ({"rule": "red-line,bombing-ied"}, _alert(), True),
        ({"rule": "bombing-ied"}, _alert(), False),
        ({"severity": "medium"}, _alert(), True),
        ({"severity": "high"}, _alert(), True),
        ({"severity": "critical"}, _alert(), False),
        ({"since": "2024-12-01T09:00:00Z"}, _alert(), True),
        ({"since": "2024-12-01T11:00:00+00:00"}, _alert(), False),
        ({"since": "2024-12-01T13:30:00+03:00"}, _alert(), False),
        ({"region": "IQ", "topic": "economy"}, _alert(), False),  # every filter must hold
        ({"region": "IQ"}, _alert(regions=[]), False),
    ],
)
def test_filter(params: dict[str, Any], alert: dict[str, Any], expected: bool) -> None:
    assert AlertFilter.from_params(params).matches(alert) is expected


@pytest.mark.parametrize(
    ("params", "message"),
    [({"severity": "urgent"}, "severity"), ({"since": "yesterday"}, "since")],
)
def test_filter_rejects_bad_parameters(params: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AlertFilter.from_params(params)


@pytest.mark.parametrize(
    ("regions", "topics", "alert", "allowed"),
    [
        ((), (), _alert(), True),
        (("IQ",), (), _alert(), True),
        (("EG",), (), _alert(), False),
        (("EG",), (), _alert(regions=[]), False),
        ((), ("security",), _alert(), True),
        ((), ("economy",), _alert(), False),
        (("IQ",), ("economy",), _alert(), False),  # both scopes apply
    ],
)
def test_key_scope(
    regions: tuple[str, ...], topics: tuple[str, ...], alert: dict[str, Any], allowed: bool
) -> None:
    key = ApiKey("k", "n", "h", frozenset(regions), frozenset(topics))
    assert key.allows(alert) is allowed


def test_tokens_are_checked_against_their_hash_only() -> None:
    key_id, token = new_token()
    assert token_key_id(token) == key_id
    key = ApiKey(key_id, "desk", hash_token(token))
    assert token not in str(key.record())  # at rest: the hash, never the token
    keys = {key_id: key}
    assert check_token(token, keys) == key
    assert check_token(token + "x", keys) is None
    assert check_token(f"rsd_{key_id}_guess", keys) is None
    assert check_token("rsd_unknown_x", keys) is None
    assert check_token("garbage", keys) is None
    assert ApiKey.from_record(key.record()) == key


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer(header: str | None, token: str | None) -> None:
    assert bearer(header) == token


@pytest.mark.parametrize(
    "position", [{}, {0: 0}, {0: 5, 1: 0, 2: 123456}, {0: 35, 1: 36, 2: 10**12}]
)
def test_positions_round_trip(position: dict[int, int]) -> None:
    encoded = encode_position(position)
    assert encoded.startswith("1.")
    assert decode_position(encoded) == {p: position.get(p, 0) for p in range(len(position))}


@pytest.mark.parametrize("bad", ["", "2.a.b", "1.z!", "x"])
def test_bad_positions(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_position(bad)


def test_sse_framing() -> None:
    assert sse('{"a":1}', event="alert", id="1.5") == b'id: 1.5\nevent: alert\ndata: {"a":1}\n\n'
    assert sse("x") == b"data: x\n\n"


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"alert":"\xd8\xae"}'
    expected = hmac.new(b"s3cret-s3cret-s3cret", body, hashlib.sha256).hexdigest()
    assert sign("s3cret-s3cret-s3cret", body) == "sha256=" + expected
    assert verify("s3cret-s3cret-s3cret", body, "sha256=" + expected)
    assert not verify("s3cret-s3cret-s3cret", body + b" ", "sha256=" + expected)


def test_delivery_id_is_stable_per_revision() -> None:
    assert delivery_id("s", "a", 1) == delivery_id("s", "a", 1)
    assert len({delivery_id("s", "a", 1), delivery_id("s", "a", 2), delivery_id("t", "a", 1)}) == 3


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (30, 60.0)]
)
def test_backoff_is_exponential_capped_and_jittered(attempt: int, ceiling: float) -> None:
    rng = random.Random(attempt)
    delays = [backoff(attempt, base=1.0, cap=60.0, rng=rng) for _ in range(300)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > 0.8 * ceiling  # the whole range is used …
    assert len(set(delays)) > 250  # … and spread out (jitter)


@pytest.mark.parametrize(
    ("status", "retry"),
    [(None, True), (500, True), (503, True), (429, True), (400, False), (404, False), (410, False)],
)
def test_retryable(status: int | None, retry: bool) -> None:
    assert retryable(status) is retry


BAGHDAD = timezone(timedelta(hours=3))


@pytest.mark.parametrize(
    ("window", "local", "active"),
    [
        ("22:00-07:00", time(23, 30), True),
        ("22:00-07:00", time(3, 0), True),
        ("22:00-07:00", time(7, 0), False),
        ("22:00-07:00", time(12, 0), False),
        ("13:00-14:00", time(13, 30), True),
        ("13:00-14:00", time(14, 30), False),
    ],
)
def test_quiet_hours(window: str, local: time, active: bool) -> None:
    quiet = QuietHours.parse(window, BAGHDAD)
    now = datetime(2024, 12, 1, local.hour, local.minute, tzinfo=BAGHDAD).astimezone(UTC)
    assert quiet.active(now) is active


def test_quiet_hours_hold_all_but_critical() -> None:
    quiet = QuietHours.parse("22:00-07:00", BAGHDAD)
    night = datetime(2024, 12, 1, 23, 30, tzinfo=BAGHDAD)
    until = hold_until(_alert(severity="high"), quiet, night)
    assert until == datetime(2024, 12, 2, 7, 0, tzinfo=BAGHDAD)
    assert hold_until(_alert(severity="critical"), quiet, night) is None  # bypass
    assert hold_until(_alert(), quiet, datetime(2024, 12, 1, 12, 0, tzinfo=BAGHDAD)) is None
    assert hold_until(_alert(), None, night) is None


def test_throttle_per_rule_and_story_lets_escalations_through() -> None:
    t = Throttle(600)
    assert t.allow(_alert(), 0)
    assert not t.allow(_alert(), 10)  # same rule and story, within 10 min
    assert t.allow(_alert(story_id="st-" + "1" * 24), 10)  # another story
    assert t.allow(_alert(rule="bombing-ied"), 10)  # another rule
    assert t.allow(_alert(severity="critical"), 20)  # escalated: news
    assert t.allow(_alert(), 700)  # the window passed
    assert Throttle(0).allow(_alert(), 0) and Throttle(0).allow(_alert(), 0)


def test_committed_openapi_matches_the_served_document() -> None:
    committed = (ROOT / "schemas" / "openapi.v1.json").read_bytes()
    assert committed == render(), "regenerate: python -m streams.api.openapi"
