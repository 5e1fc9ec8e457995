"""API-side pure logic: alert filters, key scopes and tokens, stream positions, SSE framing;
and the committed OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.api.access import (
    ApiKey,
    TicketLedger,
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
from streams.filters import AlertFilter, in_range
from streams.times import parse_rfc3339

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


_T = "2024-12-01T10:00:00Z"


@pytest.mark.parametrize(
    ("stamp", "since", "until", "expected"),
    [
        (_T, None, None, True),
        (None, None, None, True),  # no range: a record without a stamp still passes
        (None, _T, None, False),  # a range: without a stamp it is outside
        ("", None, _T, False),
        (_T, _T, _T, True),  # both ends inclusive
        ("2024-12-01T09:59:59Z", _T, None, False),
        ("2024-12-01T10:00:01Z", None, _T, False),
        ("2024-12-01T12:59:00+03:00", _T, None, False),  # offsets compared as instants
        ("2024-12-01T13:00:00+03:00", _T, _T, True),
    ],
)
def test_in_range(stamp: str | None, since: str | None, until: str | None, expected: bool) -> None:
    bound = [parse_rfc3339(t) if t else None for t in (since, until)]
    assert in_range(stamp, bound[0], bound[1]) is expected


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


def test_committed_openapi_matches_the_served_document() -> None:
    committed = (ROOT / "schemas" / "openapi.v1.json").read_bytes()
    assert committed == render(), "regenerate: python -m streams.api.openapi"


@pytest.mark.parametrize(
    "bad",
    [
        "1.-5",  # a negative offset
        "1.0.-1",
        "1.+5",
        "1.1_0",  # int() would take it
        "1. 5",
        "1.5.",  # an empty offset
        "1." + "z" * 14,  # beyond any Kafka offset
        "1." + ".".join(["0"] * 4),  # more partitions than the topic has (3)
        "1." + ".".join(["0"] * 3000),
    ],
)
def test_positions_are_checked_against_the_topic(bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        decode_position(bad, partitions=3)
    assert bad[2:] not in str(caught.value)  # the value is not echoed


@pytest.mark.parametrize(
    ("good", "expected"),
    [("1.", {}), ("1.5", {0: 5}), ("1.a.0", {0: 10, 1: 0}), ("1.a.0.z", {0: 10, 1: 0, 2: 35})],
)
def test_positions_within_the_topic(good: str, expected: dict[int, int]) -> None:
    assert decode_position(good, partitions=3) == expected


def test_stream_tickets() -> None:
    key_id, token = new_token()
    key = ApiKey(key_id, "desk", hash_token(token))
    keys = {key_id: key}
    ledger = TicketLedger(b"k" * 32, ttl=60)
    ticket = ledger.issue(key, now=1000.0)
    assert token not in ticket and key.token_hash not in ticket
    assert ledger.redeem(ticket, keys, now=1030.0) == key
    assert ledger.redeem(ticket, keys, now=1031.0) is None  # one use
    late = ledger.issue(key, now=1000.0)
    assert ledger.redeem(late, keys, now=1061.0) is None  # expired
    other = TicketLedger(b"x" * 32, ttl=60)  # another secret: not ours
    assert ledger.redeem(other.issue(key, now=1000.0), keys, now=1001.0) is None
    forged = ledger.issue(key, now=1000.0).split(".")
    forged[2] = str(int(forged[2]) + 3600)  # a longer life
    assert ledger.redeem(".".join(forged), keys, now=1001.0) is None
    revoked = ledger.issue(key, now=1000.0)
    assert ledger.redeem(revoked, {}, now=1001.0) is None
    replaced = ApiKey(key_id, "desk", hash_token(token + "2"))  # same id, another token
    assert ledger.redeem(ledger.issue(key, 1000.0), {key_id: replaced}, now=1001.0) is None
    for junk in ("", "tkt", "tkt.a.b.c.d", token, "tkt." + key_id + ".x.y.z"):
        assert ledger.redeem(junk, keys, now=1001.0) is None
