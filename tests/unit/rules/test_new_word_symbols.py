"""A new word's symbol, the cheaper way (docs/performance.md, "Rules at scale: round sixteen"):
its classes from `stems_in` (stems and key lookups in one pass) instead of `word_stems`, and
each ambiguous set's choices that can start / be second in a pair kept for the lattice. Each
gives what the plain way gave."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest

from streams.rules.automaton import TermAutomaton
from streams.rules.stems import phrase_keys, stems_in, word_stems

# Every proclitic, stem shape and ending `stems` knows, combined: words with «ة», with «ت»
# before a pronoun, duals and plurals, tanween alef, short words at the two-letter limit.
PREFIXES = ["", "و", "ف", "ب", "ك", "ل", "ال", "وال", "بال", "لل", "فبال", "وكال", "ولل"]
CORES = ["خط", "خطه", "خطة", "عبو", "مسلح", "احمر", "بعد", "عد", "الله", "له", "ت", "هم"]
SUFFIXES = [
    *("", "ا", "ان", "ين", "ون", "ات", "تان", "تين", "ة"),
    *("ه", "ها", "هم", "هما", "كم", "كما", "كن", "نا", "ي", "تهم", "اتها", "تيه"),
]
WORDS = list(dict.fromkeys("".join(p) for p in product(PREFIXES, CORES, SUFFIXES)))


class _Everything(dict[str, str]):
    """Every string is a key, standing for itself: `stems_in` then gives every stem."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return key


def test_the_table_holds_every_kind_of_word() -> None:
    assert len(WORDS) > 3_000
    assert any(len(word_stems(w)) >= 8 for w in WORDS)


@pytest.mark.parametrize("word", WORDS[:: len(WORDS) // 40])
def test_stems_in_everything_is_word_stems(word: str) -> None:
    assert stems_in(word, _Everything()) == set(word_stems(word))


def test_stems_in_is_word_stems_for_every_word_of_the_table() -> None:
    keys = {k: i for i, k in enumerate(sorted({s for w in WORDS[::7] for s in word_stems(w)}))}
    for word in WORDS:
        assert stems_in(word, _Everything()) == set(word_stems(word)), word
        assert stems_in(word, keys) == {keys[s] for s in word_stems(word) if s in keys}, word


@pytest.mark.parametrize(
    ("word", "keys", "expected"),
    [
        ("والخطة", {"خطه": 1, "خط": 2}, {1}),  # «ة»: not «خط» + the pronoun «ه»
        ("والخطه", {"خطه": 1, "خط": 2}, {1, 2}),  # «ه»: maybe the pronoun
        ("خطتهم", {"خطه": 1}, {1}),  # «ت» before a pronoun: «ة»
        ("عبوات", {"عبوه": 3, "عبو": 4}, {3, 4}),
        ("كلمة", {"خط": 1}, set()),
        ("لل", {"لل": 5}, {5}),  # never stripped below two letters
    ],
)
def test_stems_in_looks_up_the_stems(word: str, keys: dict[str, int], expected: set[int]) -> None:
    assert stems_in(word, keys) == expected == {keys[s] for s in word_stems(word) if s in keys}


TERMS = [("بعد", "الظهر"), ("عد", "تنازلي"), ("خط", "احمر"), ("قبل", "عد"), ("الخط",), ("بعد",)]


def _plain_symbol(automaton: TermAutomaton, word: str) -> str:
    """The symbol as the plain way makes it: from the word's choices (`choices`)."""
    choices = automaton.choices(word)
    if not choices:
        return automaton._filler
    if len(choices) == 1:
        return choices[0]
    return automaton._sets[choices]


@pytest.mark.parametrize(
    "words",
    [
        ["بعد", "وبعد", "فبعد", "بعد"],  # one set of classes, three words
        ["ولعد", "بعد", "بلعد", "الخط", "والخط", "خط"],  # several sets, single classes
        ["كلمة", "الظهر", "بعدها", "وبعدهم", "عد"],
        ["بعد"] * 3,
    ],
)
def test_a_words_symbol_is_the_one_its_choices_give(words: list[str]) -> None:
    automaton = TermAutomaton(TERMS)
    got = [automaton._remember(w) for w in words]
    assert got == [_plain_symbol(automaton, w) for w in words]
    assert automaton.string(words) == "".join(got)
    # the same symbol whatever was seen first (a fresh automaton, the words reversed)
    again = TermAutomaton(TERMS)
    assert [again._remember(w) for w in reversed(words)] == list(reversed(got)) or any(
        len(automaton.choices(w)) > 1
        for w in words  # (an ambiguous set's symbol is its rank)
    )


@pytest.mark.parametrize(
    ("terms", "word", "firsts", "seconds"),
    [
        # «بعد»: the word «بعد» and «عد»; «بعد» starts a pair, «عد» is second in one
        ([("بعد", "الظهر"), ("قبل", "عد"), ("عد",)], "بعد", ["بعد"], ["عد"]),
        # both choices start one, neither is second
        ([("بعد", "الظهر"), ("عد", "تنازلي")], "بعد", ["بعد", "عد"], []),
        # one-word terms only
        ([("بعد",), ("عد",)], "بعد", [], []),
    ],
)
def test_an_ambiguous_sets_pair_choices(
    terms: list[tuple[str, ...]], word: str, firsts: list[str], seconds: list[str]
) -> None:
    automaton = TermAutomaton(terms)
    symbol = automaton._remember(word)
    choices, _, first, second = automaton._choices[symbol[0]]

    def symbols(words: list[str]) -> set[Any]:
        return {automaton.choices(w)[0] for w in words}

    assert len(choices) == 2
    assert set(first) == symbols(firsts) and set(second) == symbols(seconds)
    assert list(first) == [c for c in choices if c in first]  # in the choices' order
    assert all(k in automaton.keys for w in firsts + seconds for k in phrase_keys(w))
