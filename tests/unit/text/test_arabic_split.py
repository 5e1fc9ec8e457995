"""`Tokens` splits the text once (words and separators, «ة» kept) and derives the folded words
and every position from that split: the result must be what one regex pass per list gives."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.text.arabic import (
    MAX_WORD_CHARS,
    Tokens,
    cap_words,
    normalize_with_offsets,
)

_WORD = re.compile(r"\w+")

# Pieces that put separators at either end, «ة» inside and at the end of words, dropped and
# expanded characters (a non-identity offset map), words longer than MAX_WORD_CHARS (blanked)
# and characters from outside the Arabic block.
PIECES = st.sampled_from(
    [
        " ",
        "، ",
        ".\n",
        '"',
        "«",
        "»",
        "\u200f",
        "خطة",
        "ۃ",
        "ة",
        "مدينة",
        "الأحمرُ",
        "خطـــوط",
        "ﷲ",
        "ﻻ",
        "٢٠٢٤",
        "ISIS",
        "_",
        "é",
        "\U0001f600",
        "ب" * (MAX_WORD_CHARS + 1),
        "ة" * MAX_WORD_CHARS,
    ]
)
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=40).map("".join)


def _reference(text: str) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """Folded words, «ة»-kept words and normalised spans, each from its own regex pass."""
    norm = normalize_with_offsets(text)
    words = cap_words(_WORD.findall(norm.text))
    kept = cap_words(_WORD.findall(norm.kept_ta_marbuta))
    spans = [m.span() for m in _WORD.finditer(norm.text)]
    return words, kept, spans


@settings(max_examples=500, deadline=None)
@given(TEXT, st.data())
def test_one_split_gives_the_words_and_spans_of_separate_passes(
    text: str, data: st.DataObject
) -> None:
    words, kept, spans = _reference(text)
    tokens = Tokens(normalize_with_offsets(text))
    assert tokens.words == words
    assert tokens.words_keeping_ta_marbuta == kept
    # what the shared automaton scans: the folded words, blanked ones too, one space apart
    assert tokens.joined == " ".join(words)
    norm = tokens.norm
    assert tokens.original_spans() == [norm.original_span(s, e) for s, e in spans]
    if spans:
        first = data.draw(st.integers(0, len(spans) - 1))
        end = data.draw(st.integers(first + 1, len(spans)))
        assert tokens.span(first, end) == norm.original_span(spans[first][0], spans[end - 1][1])
        assert tokens[first].text == words[first]
        assert (tokens[-1].start, tokens[-1].end) == norm.original_span(*spans[-1])


@given(TEXT)
def test_spans_asked_for_before_the_full_list_agree(text: str) -> None:
    # asking for one span first must not change the others
    tokens = Tokens(normalize_with_offsets(text))
    fresh = Tokens(normalize_with_offsets(text))
    if len(tokens):
        last = len(tokens) - 1
        assert tokens.span(last, last + 1) == fresh.original_spans()[last]
    assert tokens.original_spans() == fresh.original_spans()


def test_edges_of_the_split() -> None:
    for text in ["", " ", "،،", "خطة", " خطة", "خطة ", " خطة، مدينة "]:
        words, kept, spans = _reference(text)
        tokens = Tokens(normalize_with_offsets(text))
        assert (tokens.words, tokens.words_keeping_ta_marbuta) == (words, kept), repr(text)
        assert tokens.original_spans() == spans, repr(text)
    tokens = Tokens(normalize_with_offsets(" خطة، مدينة "))
    assert tokens.words == ["خطه", "مدينه"]
    assert tokens.words_keeping_ta_marbuta == ["خطة", "مدينة"]
    assert tokens.original_spans() == [(1, 4), (6, 11)]
