"""Pathological but admissible messages are processed in bounded time (issue 20, item 1).

Every raw message the size limit admits must go through parse, enrich, match and alert in
time bounded by a small multiple of its length: no algorithm may be quadratic in a word's,
a line's or the text's length. Hypothesis builds the worst cases (one enormous word, runs of
diacritics, stacked proclitics, bidi marks, thousands of dates, digit runs, long lines) near
the size limit; the bound asserted is generous (2 s plus three times ordinary text of the
size limit) because it guards against blow-up, not a benchmark. The worker's own per-article deadline
(`RASID_ARTICLE_DEADLINE_SECONDS`, dead letter `too_slow`) is tested in
tests/agents/test_deadline.py.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.errors import BadInput
from streams.settings import Settings
from streams.worker.pipeline import Pipeline

PIPE = Pipeline.load(Settings())  # the default size limit: 1,000,000 bytes
NOW = datetime(2024, 12, 1, 12, tzinfo=UTC)
MAX_CHARS = 450_000  # Arabic letters are 2 bytes in UTF-8: ~900 KB, under the limit

# Units repeated into one body: each is hostile when repeated, on its own or mixed.
UNITS = st.sampled_from(
    [
        "ع",  # one enormous word
        "وبال",  # stacked proclitics, no space
        "اقتصاد",  # a word that starts with a prefix key of the topic lexicons
        "\u064e\u0651",  # harakat: dropped by normalisation
        "ع\u064e\u0651\u0652",  # a letter buried in diacritics
        "\u200f\u202e",  # bidi controls
        "ع\u200f",  # letters glued by bidi marks
        "ـ",  # tatweel
        "1",  # one long number
        "12:30",  # times
        "1 يناير 2024 ",  # many dates
        "2024-12-01",
        "منذ ساعه و",  # «ago» chains
        "اليوم الاحد ",
        "خط احمر ",  # ordinary words, many of them
        "العراق ",
        "\n",
        "ع\n",  # many one-letter lines
        "<div>",
        "-",
        "/",
    ]
)


def _raw(body: str, title: str) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "source": "hostile",
            "url": "https://example.org/a",
            "title": title,
            "body": body,
            "fetched_at": "2024-12-01T12:00:00+00:00",
        }
    )


@st.composite
def hostile(draw: st.DrawFn) -> tuple[str, str, str]:
    sizes = st.one_of(st.sampled_from([MAX_CHARS, MAX_CHARS // 10]), st.integers(1, MAX_CHARS))
    parts = draw(st.lists(st.tuples(UNITS, sizes), min_size=1, max_size=3))
    share = MAX_CHARS // len(parts)
    body = "".join(unit * max(1, min(count, share) // len(unit)) for unit, count in parts)
    title_unit = draw(UNITS)
    title = title_unit * max(1, draw(st.integers(1, 2000)) // len(title_unit))
    recipe = f"body {[(u, min(c, share) // len(u)) for u, c in parts]}, title {title_unit!r}"
    return body, title, recipe


def _process(value: bytes) -> float:
    """CPU seconds of this thread: a blow-up shows in CPU time, while wall time also counts
    whatever else the machine runs (a shared CI runner stretched it 5-10x)."""
    started = time.thread_time()
    _stages(value)
    return time.thread_time() - started


def _stages(value: bytes) -> None:
    try:
        raw, parsed = PIPE.parse(value, NOW)
        enriched = PIPE.enrich(raw, parsed, NOW)
    except BadInput:
        return
    PIPE.alerts(enriched, PIPE.match(enriched), NOW)


# Ordinary news text near the size limit is the yardstick: the code is linear but pure Python
# (~3 µs per byte here), so a hostile text may cost a few times ordinary text of its size,
# never orders of magnitude more (the quadratic prefix lookup took minutes).
ORDINARY = _raw("قال مسؤول عراقي في بغداد إن الوضع الأمني مستقر. " * 9_000, "عنوان")
BOUND_SECONDS = 2.0 + 3 * min(_process(ORDINARY) for _ in range(2))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(hostile())
def test_hostile_text_is_processed_in_bounded_time(case: tuple[str, str, str]) -> None:
    body, title, recipe = case
    value = _raw(body, title)
    took = _process(value)
    assert took < BOUND_SECONDS, f"{took:.2f} s for {len(value)} bytes: {recipe}"


def test_one_enormous_word_is_linear() -> None:
    # The case of issue 20: every prefix of a 400k-letter word was sliced and hashed (~23 s).
    assert _process(_raw("وبال" + "ع" * 400_000, "عنوان")) < 2.0
