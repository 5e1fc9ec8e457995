"""Hostile raw messages through the parse/enrich path (no broker): every one either raises
BadInput with a known dead-letter reason or yields a schema-valid enriched article.

Anything else — another exception, a hang, an invalid outgoing message — is a bug: in the
worker it would be dead-lettered as processing_error instead of being handled on purpose.
Also: the fast normalisation (str.translate) agrees with folding character by character."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.errors import BadInput, DeadLetterReason
from streams.settings import Settings
from streams.text import arabic
from streams.validation import schema_errors
from streams.worker.pipeline import Pipeline

PIPE = Pipeline.load(Settings(max_body_bytes=200_000))
NOW = datetime(2024, 12, 1, 12, tzinfo=UTC)
REASONS = set(DeadLetterReason) - {DeadLetterReason.PROCESSING_ERROR}

# Text that parsers and normalisers find awkward: Arabic with harakat and tatweel, bidi and
# zero-width controls, C0 controls, ligatures, surrogate-free astral characters, markup.
AWKWARD = st.sampled_from(
    [
        "خطٌّ أحمرُ",
        "الـــعراق",
        "\u202e\u202b\u200f\u200e\u2066\u2069\u061c",
        "\u200b\u200c\u200d\ufeff",
        "\x00\x01\x07\x1b\x7f",
        "ﻻ ﷲ ﷺ",
        "\U0001f600\U00010000",
        "<script>alert(1)</script>",
        "<div>" * 50,
        "&amp;&#x202e;&#0;",
        "\r\n\r\n|||",
        "آخر الأخبار\nعاجل",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=40), AWKWARD), max_size=30).map("".join)
JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _raw(**fields: Any) -> bytes:
    return orjson.dumps({"schema_version": 1, **fields})


def _nested(depth: int) -> bytes:
    return b'{"source": "x", "body": ' + b"[" * depth + b"]" * depth + b"}"


def _html_bomb(n: int) -> bytes:
    body = "<html><body>" + "<div><p>خط احمر</p>" * n + "</div>" * n + "</body></html>"
    return _raw(source="bomb", body=body, content_type="text/html")


def check(value: bytes) -> str:
    """Run one raw message through parse and enrich; return the outcome."""
    try:
        raw, parsed = PIPE.parse(value, NOW)
        enriched = PIPE.enrich(raw, parsed, NOW)
    except BadInput as exc:
        assert exc.reason in REASONS, exc
        return exc.reason.value
    assert schema_errors("enriched-article", enriched) == []
    # Every piece of evidence points at the original text it quotes.
    for label in (*enriched["regions"], *enriched["topics"]):
        for ev in label["evidence"]:
            assert enriched[ev["field"]][ev["start"] : ev["end"]] == ev["text"]
    hits = PIPE.match(enriched)
    PIPE.alerts(enriched, hits, NOW)  # validates each alert against its schema on the way out
    return "enriched"


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(value: bytes) -> None:
    check(value)


@FUZZ
@given(st.binary(min_size=1, max_size=200))
def test_invalid_utf8_inside_valid_json_shape(junk: bytes) -> None:
    value = b'{"source": "x", "body": "' + junk + b'\xff"}'
    assert check(value) in {"invalid_utf8", "invalid_json"}


@FUZZ
@given(JSON)
def test_arbitrary_json(doc: Any) -> None:
    check(json.dumps(doc).encode())


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["source", "body", "title", "url", "id", "content_type", "lang",
                         "published_at", "fetched_at", "schema_version", "extra"]),
        JSON,
        max_size=8,
    )
)  # fmt: skip
def test_wrong_field_types(doc: dict[str, Any]) -> None:
    check(json.dumps(doc).encode())


@FUZZ
@given(
    body=TEXT,
    title=st.one_of(st.none(), TEXT),
    content_type=st.sampled_from(["text/plain", "text/html"]),
)
def test_awkward_text_is_parsed_or_dead_lettered(
    body: str, title: str | None, content_type: str
) -> None:
    fields: dict[str, Any] = {"source": "fuzz", "body": body, "content_type": content_type}
    if title is not None:
        fields["title"] = title
    check(_raw(**fields))


def test_deeply_nested_json_is_dead_lettered() -> None:
    assert check(_nested(50_000)) == "invalid_json"  # orjson refuses depth > 1024
    assert check(_nested(500)) == "schema_violation"


def test_huge_body_is_dead_lettered_as_too_large() -> None:
    assert check(_raw(source="x", body="خط احمر " * 20_000)) == "too_large"


def test_html_bomb_is_handled() -> None:
    assert check(_html_bomb(2_000)) in {"enriched", "unparseable"}


def test_memory_stays_bounded_over_many_hostile_messages() -> None:
    values = [_html_bomb(100), _nested(800), b"\xff" * 5000, _raw(source="x", body="\u202e" * 9000)]
    for v in values * 2:  # warm caches first
        check(v)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for v in values * 10:
            check(v)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 5_000_000, f"{grown} bytes retained after 40 hostile messages"


def _slow_normalize(text: str) -> tuple[str, tuple[int, ...]]:
    """The reference: fold character by character; (normalised text, original index of each
    normalised character plus the original length)."""
    chars: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        folded = arabic._fold_char(ch)
        chars.append(folded)
        offsets.extend([i] * len(folded))
    offsets.append(len(text))
    return "".join(chars), tuple(offsets)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_fast_normalisation_equals_char_by_char_folding(text: str) -> None:
    fast = arabic.normalize_with_offsets(text)
    assert (fast.text, fast.offsets) == _slow_normalize(text)
    assert arabic.normalize(text) == fast.text


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_ta_marbuta_words_split_like_tokens(text: str) -> None:
    kept = arabic.words_keeping_ta_marbuta(arabic.normalize_with_offsets(text))
    assert [w.replace("ة", "ه") for w in kept] == arabic.tokenize(text).words


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_token_spans_agree_with_char_by_char_offsets(text: str) -> None:
    # The run-based offset map (and its shortcut when nothing was dropped or expanded) gives the
    # same spans as the per-character reference map.
    _, offsets = _slow_normalize(text)
    tokens = arabic.tokenize(text)
    spans = tokens.original_spans()
    assert len(spans) == len(tokens.words)
    norm_spans = [m.span() for m in arabic._WORD.finditer(tokens.norm.text)]
    for i, (start, end) in enumerate(spans):
        assert (tokens[i].start, tokens[i].end) == (start, end)
        assert start == offsets[norm_spans[i][0]]
        last = offsets[norm_spans[i][1] - 1]  # the original char of the token's last char
        assert end > last and arabic.normalize(text[last + 1 : end]) == ""  # + dropped marks
    if spans:
        assert tokens.span(0, len(spans)) == (spans[0][0], spans[-1][1])


@FUZZ
@given(
    when=st.datetimes(),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
    field=st.sampled_from(["fetched_at", "published_at"]),
)
def test_any_schema_valid_time_is_enriched_or_invalid_time(
    when: datetime, offset_minutes: int, field: str
) -> None:
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    stamp = f"{when.isoformat(timespec='seconds')}{sign}{hours:02d}:{minutes:02d}"
    body = "قال مسؤول عراقي اليوم في بغداد أمس الساعة 10 صباحا منذ ساعتين"
    assert check(_raw(source="x", title="بغداد", body=body, **{field: stamp})) in {
        "enriched",
        "invalid_time",
    }
