"""`stems` keeps no cache of its own (issue 13, round fifteen): the rule automaton memoises its
words itself (`word_stems`), so a word's stems are computed afresh on every call, and a phrase
walk over more distinct words than any cache of stems held (8,192 before) finds the same
matches as over a few."""

from __future__ import annotations

import pytest

from streams.rules import RuleSet
from streams.rules.stems import stems, word_stems

RED_LINE = {
    "id": "red-line",
    "title": "Red line",
    "severity": "high",
    "phrases": ["خط احمر", "خطوط حمراء"],
}

TEXT = "قال إن هذا خط احمر وإن تلك خطوط حمراء لا يمكن تجاوزها"


def _filler(n: int) -> list[str]:
    """n distinct Arabic-letter words (none a rule word)."""
    letters = "بتثجحخدذرزسشصضطظعغفقكلمن"
    out = []
    for i in range(n):
        word, k = "", i
        for _ in range(4):
            word += letters[k % len(letters)]
            k //= len(letters)
        out.append("س" + word)
    return out


def test_stems_is_not_cached() -> None:
    assert not hasattr(stems, "cache_info")
    assert not hasattr(stems, "__wrapped__")
    # a fresh frozenset each call: nothing is kept between calls
    assert stems("والخطوط") == stems("والخطوط")
    assert stems("والخطوط") is not stems("والخطوط")


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        # (a word of `words_keeping_ta_marbuta`, what `word_stems` gives: `stems` of its folded
        # form, a final «ة» not stripped as a pronoun)
        ("خطة", stems("خطه", True)),
        ("خطه", stems("خطه", False)),
        ("الخطوط", stems("الخطوط", False)),
        ("عبوات", stems("عبوات", False)),
        ("المدينة", stems("المدينه", True)),
        ("ةة", stems("هه", True)),
    ],
)
def test_word_stems_is_stems_of_the_folded_word(word: str, expected: frozenset[str]) -> None:
    assert word_stems(word) == expected


def test_word_stems_keeps_a_final_ta_marbuta_from_being_a_pronoun() -> None:
    assert "خط" not in word_stems("خطة")  # «خطة» (a plan) is not «خط» + «ه»
    assert "خط" in word_stems("خطه")  # «خطه» (his line) is


def test_matches_after_more_distinct_words_than_a_cache_held() -> None:
    ruleset = RuleSet.from_dicts([RED_LINE])
    before = [(h.rule_id, h.matches) for h in ruleset.match({"body": TEXT})]
    assert before and before[0][0] == "red-line" and len(before[0][1]) == 2
    for word in _filler(8192 + 500):
        stems(word)
    after = [(h.rule_id, h.matches) for h in RuleSet.from_dicts([RED_LINE]).match({"body": TEXT})]
    assert after == before
