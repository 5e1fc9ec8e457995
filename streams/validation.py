"""Message schemas (schemas/*.json) and the checks at the boundary: decode on the way in,
validate on the way in and out.

Two validators per schema: jsonschema-rs (compiled Rust, a few µs) answers first, and only a
"valid" answer is taken from it; anything it rejects goes through the reference validator
(python-jsonschema, ~1 ms for an enriched article), which decides and explains, so error
messages and dead-letter reasons are always the reference's. tests/unit/test_fastschema.py
checks that the fast one never accepts what the reference rejects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from streams import resources
from streams.errors import BadInput, DeadLetterReason, SchemaViolation
from streams.times import maybe_rfc3339

SCHEMA_DIR = resources.schema_dir()  # packaged copy of the top-level schemas/
SCHEMA_FILES = {
    "raw-article": "raw-article.v2.json",  # v2: `revision`; v1 messages are valid v2
    "enriched-article": "enriched-article.v3.json",  # v3: labels' `name`, `revision`
    "enriched-article-v2": "enriched-article.v2.json",  # written by the previous release
    "enriched-article-v1": "enriched-article.v1.json",  # written by earlier releases
    "alert": "alert.v3.json",  # one alert per rule and story (rasid.alerts); v3: names
    "alert-v2": "alert.v2.json",  # the previous release's: upgraded on read (streams/alerts.py)
    "alert-hit": "alert.v1.json",  # one rule on one article, before story grouping
    "story-candidates": "story-candidate.v4.json",  # v4: one message per hot-stage batch
    "story-candidate": "story-candidate.v3.json",  # one candidate: an item of v4, or alone
    "story-candidate-v2": "story-candidate.v2.json",  # read during a rolling upgrade
    "story-candidate-v1": "story-candidate.v1.json",  # read during a rolling upgrade
    "apikey": "apikey.v1.json",
    "subscription": "subscription.v2.json",  # v2: `kinds` (alerts, trends), `trend_filters`
    "subscription-v1": "subscription.v1.json",  # still read: alerts only
    "delivery-deadletter": "delivery-deadletter.v1.json",
    "webhook-progress": "webhook-progress.v2.json",  # v2 names the topic (rasid.trends)
    "webhook-progress-v1": "webhook-progress.v1.json",  # rasid.alerts' progress, still written
    "deadletter": "deadletter.v1.json",
    "rule-message": "rule-message.v1.json",
    "rules-file": "rules.v1.json",
    "trend": "trend.v2.json",  # rasid.trends (streams/trends/detector.py); v1 records are valid v2
    "trend-v1": "trend.v1.json",  # the previous release's (no rule titles)
}


def _schema(kind: str) -> Any:
    return orjson.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_bytes())


@cache
def validator(kind: str) -> Draft202012Validator:
    schema = _schema(kind)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def _fast(kind: str) -> jsonschema_rs.Draft202012Validator:
    return jsonschema_rs.Draft202012Validator(_schema(kind), validate_formats=True)


def surely_valid(kind: str, message: Any) -> bool:
    """True only if the message is valid; False means "ask the reference validator"."""
    return bool(_fast(kind).is_valid(message))


def is_valid(kind: str, message: Any) -> bool:
    return surely_valid(kind, message) or validator(kind).is_valid(message)


def all_valid(kind: str, messages: Iterable[Any]) -> bool:
    """`is_valid` of every message (e.g. a story candidate's hits)."""
    return all(is_valid(kind, m) for m in messages)


def decode_valid(
    kind: str, value: bytes | None, what: str, *, older: Mapping[int, str] | None = None
) -> Any:
    """Bytes Rasid wrote itself (enriched articles, story candidates) → the message, or
    BadInput: invalid_json, or schema_violation saying it is not a valid `what`. `older`:
    schema_version → kind of the earlier versions still read (a rolling upgrade)."""
    try:
        message = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise BadInput(DeadLetterReason.INVALID_JSON, str(exc)) from None
    return check_valid(kind, message, what, older=older)


def check_valid(
    kind: str, message: Any, what: str, *, older: Mapping[int, str] | None = None
) -> Any:
    """`decode_valid` for a message already decoded (e.g. one item of a batch)."""
    if older and isinstance(message, dict) and message.get("schema_version") in older:
        kind = older[message["schema_version"]]
    if not is_valid(kind, message):
        raise BadInput(DeadLetterReason.SCHEMA_VIOLATION, f"not a valid {what}")
    return message


def schema_errors(kind: str, message: Any) -> list[str]:
    """All problems of a message against its schema, as 'path: message' lines."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator(kind).iter_errors(message)
    ]


def check_outgoing(kind: str, message: dict[str, Any]) -> None:
    """Raise SchemaViolation if a message Rasid is about to send is malformed."""
    if surely_valid(kind, message):
        return
    error = best_match(validator(kind).iter_errors(message))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "<root>"
        raise SchemaViolation(f"{kind} {path}: {error.message}")


def decode_raw(value: bytes | None, *, max_bytes: int) -> dict[str, Any]:
    """Bytes from rasid.articles.raw → a valid raw-article dict, or BadInput with the reason."""
    if value is None:
        raise BadInput(DeadLetterReason.INVALID_JSON, "empty message (no value)")
    if len(value) > max_bytes:
        raise BadInput(DeadLetterReason.TOO_LARGE, f"{len(value)} bytes > limit {max_bytes}")
    try:
        # orjson checks the whole input is UTF-8 before it parses (it accepts no invalid
        # UTF-8), so the bytes are decoded by Python only to name a failure's reason: bad
        # UTF-8 anywhere is INVALID_UTF8 with the codec's message, as when it was checked first
        message = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise BadInput(DeadLetterReason.INVALID_UTF8, str(bad)) from None
        raise BadInput(DeadLetterReason.INVALID_JSON, str(exc)) from None
    if not isinstance(message, dict):
        raise BadInput(
            DeadLetterReason.SCHEMA_VIOLATION, f"expected an object, got {type(message).__name__}"
        )
    body = message.get("body")
    if isinstance(body, str) and not body.strip():
        raise BadInput(DeadLetterReason.EMPTY_BODY, "body is empty")
    if not surely_valid("raw-article", message):
        error = best_match(validator("raw-article").iter_errors(message))
        if error is not None:
            path = "/".join(str(p) for p in error.absolute_path) or "<root>"
            raise BadInput(DeadLetterReason.SCHEMA_VIOLATION, f"{path}: {error.message}"[:500])
    for field in _TIME_FIELDS:
        if field in message:
            _check_time(field, message[field])
    return message


_TIME_FIELDS = ("published_at", "fetched_at")
# A day to spare at each end of Python's calendar: any UTC offset (±14:00 at most) and the
# parser's day arithmetic around the time stay inside years 1 … 9999.
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)


def _check_time(field: str, value: Any) -> None:
    """BadInput(INVALID_TIME) for a schema-valid time outside what calendar arithmetic can
    handle (e.g. 9999-12-31T23:59:59-14:00, past year 9999 in UTC): bad input, not a bug."""
    when = maybe_rfc3339(value)
    if when is None:
        return  # the schema's format check owns malformed strings
    try:
        in_range = _EARLIEST <= when.astimezone(UTC) <= _LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise BadInput(
            DeadLetterReason.INVALID_TIME,
            f"{field}: {str(value)[:60]} is outside {_EARLIEST.date()} … {_LATEST.date()} UTC",
        )
