"""The rule automaton's symbol memo (streams/rules/automaton.py `SYMBOLS_CAP`, round fifteen):
full before 10,000 ANT articles, so it is flat from there (issue 13), and at its cap a field's
symbols are still those each word has alone."""

from __future__ import annotations

from itertools import islice, product

import pytest

from streams.rules import automaton
from streams.rules.automaton import TermAutomaton

# distinct words the automaton's memo saw in ANT's first 10,000 articles (default pack;
# bench/state_growth.py --worker-pace 100 --structures, "Memory: round fourteen/fifteen")
ANT_10K_SYMBOL_WORDS = 37_675
TERMS = [("بعد", "الظهر"), ("عد", "تنازلي"), ("خط", "احمر"), ("قبل", "عد"), ("الخط",)]
_LETTERS = "بتثجحخدذرزسشصضطظعغفقكلمنهي"


def test_the_cap_is_full_before_10000_articles() -> None:
    assert 10_000 <= automaton.SYMBOLS_CAP < ANT_10K_SYMBOL_WORDS
    assert TermAutomaton(TERMS).memo.cap == automaton.SYMBOLS_CAP


@pytest.mark.parametrize(("cap", "extra"), [(8, 1), (8, 30), (100, 250), (1000, 3)])
def test_past_its_cap_the_memo_stays_under_it_and_symbols_stay_the_same(
    cap: int, extra: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(automaton, "SYMBOLS_CAP", cap)
    small, fresh = TermAutomaton(TERMS), TermAutomaton(TERMS)
    monkeypatch.setattr(automaton, "SYMBOLS_CAP", 10**9)
    reference = TermAutomaton(TERMS)  # never evicts
    made_up = ["".join(p) for p in islice(product(_LETTERS, repeat=4), cap + extra)]
    words = [w for t in TERMS for w in t] + made_up + ["وبعد", "خطه", "الخط"]
    for i, word in enumerate(words):
        assert small.string([word]) == reference.string([word]) == fresh.string([word])
        assert len(small.memo) <= cap, i
        fresh.memo.clear()  # every word a miss: what a symbol computed alone is
    assert small.string(words) == reference.string(words)
