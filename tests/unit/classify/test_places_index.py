"""The region classifier's precomputed tables (streams/classify/places.py): each gives what the
word-by-word definition gives, for every word, so `locate` decides exactly as before.

- `clitic_forms` is the inverse of `word_variants`, and `_endings` what every form ends with
  (the shared automaton's keys: a token that can start a name is always a candidate);
- `Gazetteer.flags` (one table lookup) equals the classes of a word's variants;
- `PhraseIndex.matches` (candidates from the automaton, per-word memo) equals a plain scan of
  every token, longest phrase first, against the full gazetteer and the topic lexicon alike;
- `_evidence` keeps one piece per place, at most MAX_EVIDENCE.
"""

from __future__ import annotations

import json
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.classify.places import (
    _CONTEXT_LISTS,
    MAX_EVIDENCE,
    GazetteerEntry,
    PhraseIndex,
    _endings,
    _evidence,
    _Hit,
    clitic_forms,
    default_gazetteer,
    word_variants,
)
from streams.resources import data_file
from streams.text.arabic import tokenize

T = TypeVar("T")
GAZ = default_gazetteer()


def reference_matches(index: PhraseIndex[T], words: list[str]) -> list[tuple[int, int, T]]:
    """What the index must find, by the definition: at every token not inside a match, the
    longest phrase whose first word is one of the token's variants (the earlier variant for
    one size), else a prefix term; every token looked at, no memo, no automaton."""
    out: list[tuple[int, int, T]] = []
    j = 0
    while j < len(words):
        found: tuple[int, T] | None = None
        for size in range(min(index.max_len, len(words) - j), 0, -1):
            for v in word_variants(words[j]):
                hit = index._exact.get((v, *words[j + 1 : j + size]))
                if hit is not None:
                    found = (size, hit)
                    break
            if found is not None:
                break
        if found is None and index._prefix:
            prefix = index._prefix_lookup(words[j])
            if prefix is not None:
                found = (1, prefix)
        if found is None:
            j += 1
        else:
            out.append((j, j + found[0], found[1]))
            j += found[0]
    return out


_GAZ_DOC = json.loads(data_file("gazetteer.json").read_text("utf-8"))
_CLASSES: dict[str, int] = {}
for _key, _flag in _CONTEXT_LISTS:
    for _w in _GAZ_DOC.get(_key, []):
        _CLASSES[_w] = _CLASSES.get(_w, 0) | _flag


def flags_by_definition(word: str) -> int:
    """The classes of a word: those of each of its variants."""
    found = 0
    for v in word_variants(word):
        found |= _CLASSES.get(v, 0)
    return found


# -- clitic_forms and _endings -----------------------------------------------------------

WORDS = ["العراق", "دمشق", "الرقه", "قال", "وزير", "ال", "عمان", "في", "الله", "اعلنت", "مصر"]


@pytest.mark.parametrize("word", WORDS)
def test_every_clitic_form_has_the_word_among_its_variants(word: str) -> None:
    forms = clitic_forms(word)
    assert forms[0] == word
    for form in forms:
        assert word in word_variants(form), form


@pytest.mark.parametrize(
    ("word", "form", "expected"),
    [
        ("العراق", "بالعراق", True),  # the proclitic carries the article
        ("العراق", "للعراق", True),
        ("العراق", "وللعراق", True),
        ("العراق", "والعراق", True),
        ("دمشق", "بدمشق", True),
        ("دمشق", "وبدمشق", True),
        ("دمشق", "بالدمشق", False),  # «بال» gives «الدمشق», not «دمشق»
        ("قم", "وقم", False),  # a stem of 2 letters keeps its proclitic
        ("الرقه", "فرقه", False),  # a bare «ف» never re-adds the article
    ],
)
def test_clitic_forms_cases(word: str, form: str, expected: bool) -> None:
    assert (form in clitic_forms(word)) is expected
    assert (word in word_variants(form)) is expected


_LETTERS = "اوبلفكتهنيمرعق"


@settings(max_examples=300, deadline=None)
@given(word=st.text(_LETTERS, min_size=1, max_size=8))
def test_clitic_forms_invert_word_variants(word: str) -> None:
    for v in word_variants(word):
        assert word in clitic_forms(v), (word, v)
        assert any(word.endswith(e) for e in _endings(v)), (word, v)


@pytest.mark.parametrize("word", WORDS)
def test_every_form_ends_with_an_ending(word: str) -> None:
    for form in clitic_forms(word):
        assert any(form.endswith(e) for e in _endings(word)), form


# -- Gazetteer.flags --------------------------------------------------------------------

CONTEXT_WORDS = sorted(_CLASSES)


def test_flags_of_every_context_word_and_its_proclitic_forms() -> None:
    assert CONTEXT_WORDS
    for word in CONTEXT_WORDS:
        assert GAZ.flags(word) == flags_by_definition(word) != 0, word
        for p in ("و", "ف", "ب", "ل", "وال", "بال", "لل"):
            assert GAZ.flags(p + word) == flags_by_definition(p + word), p + word
            assert GAZ.flags(p + word[2:]) == flags_by_definition(p + word[2:]), p + word


@pytest.mark.parametrize("word", ["العراق", "المدينه", "كلمه", "", "x", "وقالت", "للمخرج"])
def test_flags_of_other_words(word: str) -> None:
    assert GAZ.flags(word) == flags_by_definition(word)


def test_aside_words_are_the_forms_with_an_aside_class() -> None:
    assert GAZ.aside_words <= set(GAZ.context_flags)
    assert all(GAZ.context_flags[w] for w in GAZ.context_flags)


# -- PhraseIndex.matches ----------------------------------------------------------------

GAZ_TEXTS = [
    "قال وزير الخارجية العراقي في بغداد إن العراق والمملكة العربية السعودية اتفقتا",
    "وصل الوفد إلى ام درمان ثم إلى ذي قار وبالعراق وللعراق ولبنان",
    "الولايات المتحدة الأمريكية والولايات المتحدة وأمريكا",
    "من دمشق وحمص السورية وريف دمشق وبدمشق د مشق",
    "الذي بعد العام دولار مليون وقد قايله",  # words the automaton lets through
    # first words shorter than a stem are whole-token keys: «وتل ابيب» and «بعد» are not them
    "تل ابيب وتل ابيب تل ابيب يافا وام درمان ام القيوين بعد وقد د",
    # a first word whose next word starts none of its names: «على» (folded «علي») alone
    "علي صبيح على الحدود وعلي صبيح علي",
    "",
]


@pytest.mark.parametrize("text", GAZ_TEXTS)
def test_matches_equal_a_scan_of_every_token(text: str) -> None:
    tokens = tokenize(text)
    expected = reference_matches(GAZ.index, tokens.words)
    assert GAZ.index.matches(tokens) == expected
    assert [(m.start, m.end, m.payload) for m in GAZ.index.find(tokens)] == expected


def _gazetteer_words() -> list[str]:
    words = {w for key in GAZ.index._exact for w in key}
    return sorted(words)[:: max(1, len(words) // 400)]  # a spread of a few hundred


_NAME_WORDS = _gazetteer_words()


@settings(max_examples=200, deadline=None)
@given(
    picks=st.lists(
        st.tuples(
            st.sampled_from(["", "و", "ب", "ل", "بال", "لل", "وال", "ف"]),
            st.sampled_from(_NAME_WORDS),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_matches_equal_a_scan_of_every_token_on_gazetteer_words(
    picks: list[tuple[str, str]],
) -> None:
    text = " ".join(p + w for p, w in picks)
    tokens = tokenize(text)
    assert GAZ.index.matches(tokens) == reference_matches(GAZ.index, tokens.words)


LEXICON = PhraseIndex(
    [
        ("اقتصاد*", "economy"),
        ("البنك المركزي", "bank"),
        ("البنك", "bank-alone"),
        ("بنك", "bank-bare"),
        ("حج", "religion"),
        ("خط احمر", "red-line"),
        ("خط", "line"),
    ]
)


@pytest.mark.parametrize(
    "text",
    [
        "قال البنك المركزي إن الاقتصاد والاقتصادي بخير",
        "وبالبنك المركزي وللبنك وبنك",
        "الحج خط احمر خط",
        "اقتصاديات واقتصاد",
    ],
)
def test_matches_with_prefix_terms_equal_a_scan_of_every_token(text: str) -> None:
    tokens = tokenize(text)
    assert LEXICON.matches(tokens) == reference_matches(LEXICON, tokens.words)


# -- _evidence --------------------------------------------------------------------------

_ENTRY = GazetteerEntry("العراق", (("IQ", 1.0),), "country", False, code_set=frozenset({"IQ"}))


def _hit(field: str, text: str, start: int, end: int) -> _Hit:
    return _Hit(_ENTRY, field, 1.0, text, start, end, (), 0, 1)


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([("body", 0, 6)], [("body", 0, 6)]),
        ([("title", 0, 6), ("body", 0, 6)], [("title", 0, 6), ("body", 0, 6)]),
        ([("body", 0, 6), ("body", 0, 6), ("body", 7, 13)], [("body", 0, 6), ("body", 7, 13)]),
        ([("body", 7 * k, 7 * k + 6) for k in range(30)],
         [("body", 7 * k, 7 * k + 6) for k in range(MAX_EVIDENCE)]),
    ],
)  # fmt: skip
def test_evidence_one_per_place_at_most_max(
    spans: list[tuple[str, int, int]], expected: list[tuple[str, int, int]]
) -> None:
    text = " ".join(["العراق"] * 30)
    got = _evidence([_hit(f, text, s, e) for f, s, e in spans])
    assert [(e.field, e.start, e.end) for e in got] == expected
    assert all(e.text == text[e.start : e.end] for e in got)
