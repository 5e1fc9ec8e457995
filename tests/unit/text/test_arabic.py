"""Normalisation, offsets and tokenisation of Arabic text (streams.text.arabic)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.text.arabic import normalize, normalize_with_offsets, tokenize

FIXTURE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "baghdadtoday-2024-12-01-sayyida-zaynab.txt"
)

# (original, normalised) — one row per folding rule.
FOLDINGS = [
    pytest.param("أحمر", "احمر", id="alef-hamza-above"),
    pytest.param("إعادة", "اعاده", id="alef-hamza-below+ta-marbuta"),
    pytest.param("آخر", "اخر", id="alef-madda"),
    pytest.param("ٱلله", "الله", id="alef-wasla"),
    pytest.param("مؤتمر", "موتمر", id="waw-hamza"),
    pytest.param("طائرة", "طايره", id="ya-hamza+ta-marbuta"),
    pytest.param("الى", "الي", id="alef-maqsura"),
    pytest.param("مدينة", "مدينه", id="ta-marbuta"),
    pytest.param("کرکوک", "كركوك", id="persian-kaf"),
    pytest.param("گوران", "كوران", id="gaf"),
    pytest.param("ایران", "ايران", id="farsi-ya"),
    pytest.param("ھەولێر", "ههولير", id="kurdish-heh-ae-ya"),
    pytest.param("ﻻ", "لا", id="nfkc-lam-alef-ligature"),
    pytest.param("ﷲ", "الله", id="nfkc-allah-ligature"),
    pytest.param("ISIS", "isis", id="ascii-casefold"),
]

# (original, normalised) — characters that must disappear.
REMOVALS = [
    pytest.param("خَطّ", "خط", id="fatha+shadda"),
    pytest.param("خطٌّ", "خط", id="dammatan+shadda"),
    pytest.param("خطاً", "خطا", id="fathatan"),
    pytest.param("بِسْمِ", "بسم", id="kasra+sukun"),
    pytest.param("كتابٍ", "كتاب", id="kasratan"),
    pytest.param("رحمٰن", "رحمن", id="superscript-alef"),
    pytest.param("خطـــوط", "خطوط", id="tatweel"),
    pytest.param("خط\u200cاحمر", "خطاحمر", id="zwnj"),
    pytest.param("خط\u200dاحمر", "خطاحمر", id="zwj"),
    pytest.param("خط\u200bاحمر", "خطاحمر", id="zwsp"),
    pytest.param("\u200fخط\u200e", "خط", id="rlm-lrm"),
    pytest.param("\u202bخط\u202c", "خط", id="rle-pdf"),
    pytest.param("\u2067خط\u2069", "خط", id="rli-pdi"),
    pytest.param("\ufeffخط", "خط", id="bom"),
    pytest.param("\u061cخط", "خط", id="arabic-letter-mark"),
    pytest.param("خ\u00adط", "خط", id="soft-hyphen"),
    pytest.param("الصلوٰة", "الصلوه", id="quranic-superscript"),
]

DIGITS = [
    pytest.param("٠١٢٣٤٥٦٧٨٩", "0123456789", id="arabic-indic"),
    pytest.param("۰۱۲۳۴۵۶۷۸۹", "0123456789", id="persian"),
    pytest.param("0123456789", "0123456789", id="ascii"),
    pytest.param("٢٠٢٤", "2024", id="year-arabic-indic"),
    pytest.param("۱۴۰۳", "1403", id="year-persian"),
    pytest.param("٣٫٥", "3.5", id="arabic-decimal-separator"),
    pytest.param("١٬٠٠٠", "1,000", id="arabic-thousands-separator"),
]


@pytest.mark.parametrize(("original", "expected"), FOLDINGS + REMOVALS + DIGITS)
def test_normalize(original: str, expected: str) -> None:
    assert normalize(original) == expected


@pytest.mark.parametrize(("original", "expected"), FOLDINGS + REMOVALS + DIGITS)
def test_normalize_with_offsets_agrees_with_normalize(original: str, expected: str) -> None:
    norm = normalize_with_offsets(original)
    assert norm.original == original
    assert norm.text == expected
    assert len(norm.offsets) == len(norm.text) + 1
    assert norm.offsets[-1] == len(original)
    # offsets never go backwards and each normalised char comes from its original char
    assert list(norm.offsets) == sorted(norm.offsets)
    for i, ch in enumerate(norm.text):
        assert ch in normalize(original[norm.offsets[i]])


def test_normalize_is_idempotent() -> None:
    text = "قالَ: «الخطُّ الأحمرُ» ـــ ١٢٣ ﷲ ﻻ ھەولێر"
    assert normalize(normalize(text)) == normalize(text)


@pytest.mark.parametrize(
    ("original", "start", "end", "expected"),
    [
        # «خطٌّ» is 4 chars; the span of «خط» runs over the trailing harakat
        pytest.param("خطٌّ أحمرُ", 0, 2, "خطٌّ", id="trailing-harakat"),
        pytest.param("خطٌّ أحمرُ", 3, 7, "أحمرُ", id="second-word"),
        pytest.param("خطـــوط حمراء", 0, 4, "خطـــوط", id="inner-tatweel"),
        pytest.param("خطاً", 0, 3, "خطاً", id="tanween-before-alef"),
        pytest.param("ﷲ أكبر", 0, 4, "ﷲ", id="ligature-expands"),
        pytest.param("\u200fخط\u200f", 0, 2, "خط\u200f", id="trailing-rlm-is-dropped-char"),
        pytest.param("abc", 1, 1, "", id="empty-span"),
    ],
)
def test_original_span(original: str, start: int, end: int, expected: str) -> None:
    norm = normalize_with_offsets(original)
    o_start, o_end = norm.original_span(start, end)
    assert original[o_start:o_end] == expected


def test_offsets_for_ligature_point_at_same_char() -> None:
    norm = normalize_with_offsets("ﷲ أكبر")
    assert norm.text == "الله اكبر"
    assert norm.offsets[:5] == (0, 0, 0, 0, 1)


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        pytest.param("والخطَّ الأحمرَ", [("والخط", "والخطَّ"), ("الاحمر", "الأحمرَ")], id="diacritics"),
        pytest.param(
            "خطـــوط حمـــراء", [("خطوط", "خطـــوط"), ("حمراء", "حمـــراء")], id="tatweel"
        ),
        pytest.param("خطاً أحمرَ.", [("خطا", "خطاً"), ("احمر", "أحمرَ")], id="tanween+punct"),
        pytest.param(
            "بغداد (١ كانون الأول ٢٠٢٤)",
            [
                ("بغداد", "بغداد"),
                ("1", "١"),
                ("كانون", "كانون"),
                ("الاول", "الأول"),
                ("2024", "٢٠٢٤"),
            ],
            id="digits",
        ),
        pytest.param(
            "\u200fسوريا\u200f: دمشق", [("سوريا", "سوريا\u200f"), ("دمشق", "دمشق")], id="rlm"
        ),
        pytest.param("الـ45", [("ال45", "الـ45")], id="tatweel-before-digits"),
        pytest.param("«بغداد اليوم»", [("بغداد", "بغداد"), ("اليوم", "اليوم")], id="quotes"),
        pytest.param("", [], id="empty"),
        pytest.param(" ... ، ؛ ", [], id="punctuation-only"),
    ],
)
def test_tokenize_spans(original: str, expected: list[tuple[str, str]]) -> None:
    tokens = tokenize(original)
    assert [(t.text, original[t.start : t.end]) for t in tokens] == expected
    for t in tokens:
        assert normalize(original[t.start : t.end]) == t.text


@pytest.fixture
def fixture_text() -> str:
    return FIXTURE.read_text(encoding="utf-8")


def test_tokenize_fixture_spans_round_trip(fixture_text: str) -> None:
    tokens = tokenize(fixture_text)
    assert len(tokens) > 300
    previous_end = 0
    for t in tokens:
        assert t.start >= previous_end
        assert normalize(fixture_text[t.start : t.end]) == t.text
        previous_end = t.end


def test_one_to_one_characters_fold_to_exactly_one() -> None:
    # normalize_with_offsets skips these without looking them up: each must fold to one char.
    from streams.text import arabic

    chars = [chr(c) for c in range(0x110000) if arabic._MAYBE_NOT_ONE.match(chr(c)) is None]
    assert 100 < len(chars) < 400
    assert all(len(arabic._fold_char(ch)) == 1 for ch in chars)


# --- the fast paths agree with folding character by character --------------------------------

# Texts whose offset map is not the identity: harakat, tatweel, alef and ya forms, ligatures
# that expand, bidi marks, Latin capitals and Arabic-Indic digits, dropped characters at both
# ends.
OFFSET_TEXTS = [
    pytest.param("خطـــوط حمـــراء", id="tatweel"),
    pytest.param("الخطُّ الأحمرُ خطاً", id="diacritics+tanween-at-end"),
    pytest.param("أإآٱ ؤئى ةً يْ", id="alef-waw-ya-forms"),
    pytest.param("ﷲ أكبر ﻻ بأس", id="ligatures-expand"),
    pytest.param("\u200fسوريا\u200f: دمشق\u200e", id="bidi-marks"),
    pytest.param("ISIS في ٢٠٢٤ و«CNN» 3.5٪ ½ ²ـ", id="latin-digits"),
    pytest.param("ـــــَ", id="only-dropped"),
    pytest.param("الـ45 ABC١٢ـxــ", id="mixed-runs"),
    pytest.param("\u064eبَ\u0640", id="starts-and-ends-dropped"),
]


def _reference_map(text: str) -> list[int]:
    """The original index of every normalised character, plus len(text): char by char."""
    from streams.text import arabic

    offsets: list[int] = []
    for i, ch in enumerate(text):
        offsets.extend([i] * len(arabic._fold_char(ch)))
    return [*offsets, len(text)]


def _reference_span(text: str, offsets: list[int], start: int, end: int) -> tuple[int, int]:
    """original_span as first written: the end runs on over dropped characters."""
    from streams.text import arabic

    orig_end = offsets[end - 1] + 1
    while orig_end < offsets[end] and not arabic._fold_char(text[orig_end]):
        orig_end += 1
    return offsets[start], orig_end


@pytest.mark.parametrize("text", OFFSET_TEXTS)
def test_original_span_agrees_with_the_per_character_map(text: str) -> None:
    norm = normalize_with_offsets(text)
    offsets = _reference_map(text)
    assert list(norm.offsets) == offsets
    assert not norm.is_identity
    n = len(norm.text)
    for start in range(n):
        for end in range(start + 1, n + 1):
            assert norm.original_span(start, end) == _reference_span(text, offsets, start, end)


@pytest.mark.parametrize("text", OFFSET_TEXTS)
def test_token_spans_agree_with_the_per_character_map(text: str) -> None:
    tokens = tokenize(text)
    offsets = _reference_map(text)
    starts_ends = [m.span() for m in re.finditer(r"\w+", tokens.norm.text)]
    for first in range(len(tokens)):
        for end in range(first + 1, len(tokens) + 1):
            expected = _reference_span(
                text, offsets, starts_ends[first][0], starts_ends[end - 1][1]
            )
            assert tokens.span(first, end) == expected


def test_normalize_folds_every_common_character_as_fold_char_does() -> None:
    # normalize pre-folds the frequent letters with str.replace and translates only the runs
    # `_CHANGED_RUN` finds: together they must fold every character exactly as `_fold_char`.
    from streams.text import arabic

    chars = [chr(c) for c in (*range(0x20, 0x250), *range(0x600, 0x700), *range(0x2000, 0x2070))]
    chars += [chr(c) for c in range(0xFB50, 0xFE00, 7)] + [chr(c) for c in range(0xFE70, 0xFF00)]
    for ch in chars:
        assert normalize(ch) == arabic._fold_char(ch), hex(ord(ch))
    text = "ب".join(chars)
    assert normalize(text) == "".join(arabic._fold_char(ch) for ch in text)
    assert normalize_with_offsets(text).kept_ta_marbuta == "".join(
        arabic._fold_char(ch, True) for ch in text
    )
