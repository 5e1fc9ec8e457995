from __future__ import annotations

import orjson
import pytest

from streams.errors import BadInput, DeadLetterReason
from streams.validation import decode_raw, schema_errors

OK = {"source": "baghdadtoday", "body": "نص الخبر"}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, DeadLetterReason.INVALID_JSON),
        (b"", DeadLetterReason.INVALID_JSON),
        (b"not json", DeadLetterReason.INVALID_JSON),
        (b'{"source": "x", "body": "\xff"}', DeadLetterReason.INVALID_UTF8),
        (b"[1, 2]", DeadLetterReason.SCHEMA_VIOLATION),
        (b'"a string"', DeadLetterReason.SCHEMA_VIOLATION),
        (b'{"body": "text"}', DeadLetterReason.SCHEMA_VIOLATION),
        (b'{"source": "x"}', DeadLetterReason.SCHEMA_VIOLATION),
        (b'{"source": "x", "body": 1}', DeadLetterReason.SCHEMA_VIOLATION),
        (b'{"source": "", "body": "text"}', DeadLetterReason.SCHEMA_VIOLATION),
        (
            b'{"source": "x", "body": "t", "content_type": "application/pdf"}',
            DeadLetterReason.SCHEMA_VIOLATION,
        ),
        (
            b'{"source": "x", "body": "t", "published_at": "yesterday"}',
            DeadLetterReason.SCHEMA_VIOLATION,
        ),
        (b'{"source": "x", "body": "t", "schema_version": 2}', DeadLetterReason.SCHEMA_VIOLATION),
        (b'{"source": "x", "body": ""}', DeadLetterReason.EMPTY_BODY),
        (b'{"source": "x", "body": " \\n\\t "}', DeadLetterReason.EMPTY_BODY),
        (orjson.dumps({"source": "x", "body": "a" * 2000}), DeadLetterReason.TOO_LARGE),
    ],
)
def test_bad_raw_messages_carry_their_reason(value: bytes | None, reason: DeadLetterReason) -> None:
    with pytest.raises(BadInput) as info:
        decode_raw(value, max_bytes=1000)
    assert info.value.reason is reason
    assert info.value.detail


@pytest.mark.parametrize(
    "message",
    [
        OK,
        {
            **OK,
            "schema_version": 1,
            "id": "a-1",
            "url": "https://example.com/a",
            "content_type": "text/html",
            "published_at": "2024-12-01T10:39:00+03:00",
            "fetched_at": "2024-12-01T07:40:00Z",
            "lang": "ar",
            "title": "عنوان",
        },
        {**OK, "extra_field_from_a_producer": True},
    ],
)
def test_valid_raw_messages_decode(message: dict[str, object]) -> None:
    assert decode_raw(orjson.dumps(message), max_bytes=10_000) == message


def test_schema_errors_name_the_field() -> None:
    errors = schema_errors("alert", {"id": "nope"})
    assert any("required" in e for e in errors)
    assert schema_errors("raw-article", OK) == []
