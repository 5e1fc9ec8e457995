"""The stems cache is bounded (STEMS_CACHE) and a phrase walk past an evicted word finds the
same matches as with every word cached."""

from __future__ import annotations

import sys

from streams.rules import RuleSet
from streams.rules.stems import STEMS_CACHE

# the module (`streams.rules.stems` as an attribute of the package is the function)
STEMS = sys.modules["streams.rules.stems"]

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


def test_stems_cache_stays_at_its_cap_and_matches_after_eviction() -> None:
    ruleset = RuleSet.from_dicts([RED_LINE])
    before = [(h.rule_id, h.matches) for h in ruleset.match({"body": TEXT})]
    assert before and before[0][0] == "red-line" and len(before[0][1]) == 2
    # more distinct words than the cache holds: the rule's words are evicted
    filler = _filler(STEMS_CACHE + 500)
    for word in filler:
        STEMS.stems(word)
    info = STEMS.stems.cache_info()
    assert info.maxsize == STEMS_CACHE
    assert info.currsize == STEMS_CACHE
    assert STEMS.stems("احمر") == STEMS.stems.__wrapped__("احمر")
    after = [(h.rule_id, h.matches) for h in RuleSet.from_dicts([RED_LINE]).match({"body": TEXT})]
    assert after == before
