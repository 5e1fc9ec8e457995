from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
        (b'{"source": "x", "body": "t", "schema_version": 3}', DeadLetterReason.SCHEMA_VIOLATION),
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


@pytest.mark.parametrize("field", ["fetched_at", "published_at"])
@pytest.mark.parametrize(
    "when",
    [
        "9999-12-31T23:59:59-14:00",  # schema-valid, but past year 9999 in UTC
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T20:00:00Z",  # in range, but not once shown in a +14:00 source's time
    ],
)
def test_a_time_out_of_range_is_bad_input_not_a_bug(field: str, when: str) -> None:
    """Issue 20: year 9999 at −14:00 overflowed in the parser and became processing_error."""
    from datetime import UTC, datetime

    from streams.settings import Settings
    from streams.worker.pipeline import Pipeline

    value = orjson.dumps({**OK, "body": "قال مسؤول عراقي اليوم في بغداد", field: when})
    with pytest.raises(BadInput) as caught:
        decode_raw(value, max_bytes=10_000)
    assert caught.value.reason is DeadLetterReason.INVALID_TIME == "invalid_time"
    with pytest.raises(BadInput):  # the whole stage too, not an OverflowError
        Pipeline.load(Settings()).parse(value, datetime(2024, 12, 1, tzinfo=UTC))


def test_a_time_at_the_edge_of_the_range_is_accepted() -> None:
    message = {
        **OK,
        "fetched_at": "9999-12-30T00:00:00+14:00",
        "published_at": "0001-01-02T10:00:00Z",
    }
    assert decode_raw(orjson.dumps(message), max_bytes=10_000) == message


def test_duplicated_keys_last_one_wins() -> None:
    """Documented in docs/guarantees.md "Bad input": like most JSON parsers (orjson, Python's
    json), the last value of a repeated key is the one used."""
    value = b'{"source": "x", "body": "first", "body": "second", "source": "y"}'
    assert decode_raw(value, max_bytes=10_000) == {"source": "y", "body": "second"}


@pytest.mark.parametrize(
    ("message", "ok"),
    [
        ({"source": "x", "body": "t", "schema_version": 2, "id": "a", "revision": 2}, True),
        ({"source": "x", "body": "t", "schema_version": 1}, True),  # v1 messages stay valid
        ({"source": "x", "body": "t", "schema_version": 2, "revision": 2}, False),  # needs id
        ({"source": "x", "body": "t", "id": "a", "revision": 0}, False),
    ],
)
def test_raw_article_revisions(message: dict[str, object], ok: bool) -> None:
    assert (schema_errors("raw-article", message) == []) is ok


def _reason_decoding_first(value: bytes) -> tuple[DeadLetterReason, str] | None:
    """What decode_raw said before issue 13, round nine (UTF-8 checked before orjson): the
    reason and detail for undecodable or unparsable bytes, None for a parsed message."""
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return DeadLetterReason.INVALID_UTF8, str(exc)
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return DeadLetterReason.INVALID_JSON, str(exc)
    return None


@settings(max_examples=400, deadline=None)
@given(
    st.binary(max_size=8),
    st.sampled_from(
        [
            (b'{"source": "x", "body": "', b'"}'),  # inside a string of a valid message
            (b'{"source": "x", "body": "t"}', b""),  # after a complete object
            (b"", b'{"source": "x", "body": "t"}'),  # before it
            (b'{"source": "x", "body": ', b'"t"}'),  # where a value should be
            (b"[", b"]"),
        ]
    ),
)
def test_bad_bytes_name_the_same_reason_as_a_utf8_check_first(
    junk: bytes, around: tuple[bytes, bytes]
) -> None:
    """decode_raw lets orjson reject invalid UTF-8 and decodes only after a failure: for any
    bytes the reason and the detail are what decoding first would have said (bad UTF-8
    anywhere, even after a JSON error, is INVALID_UTF8 with the codec's message)."""
    value = around[0] + junk + around[1]
    expected = _reason_decoding_first(value)
    try:
        decode_raw(value, max_bytes=10_000)
    except BadInput as exc:
        if expected is not None:
            assert (exc.reason, exc.detail) == expected
        else:  # parsed: a later check (schema, empty body) rejected it
            assert exc.reason not in {DeadLetterReason.INVALID_UTF8, DeadLetterReason.INVALID_JSON}
    else:
        assert expected is None
