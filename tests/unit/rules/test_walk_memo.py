"""The matcher reads a word's symbol from its memo of words when the word is known there, else
computes it from the word's stems: what it finds must not depend on which words the memo has
seen."""

from __future__ import annotations

from typing import Any

import pytest

from streams.rules import RuleSet, matcher


def _rules(*phrases: str) -> RuleSet:
    return RuleSet.from_dicts(
        [
            {"id": f"r{i}", "title": "t", "severity": "low", "match": {"phrase": [p]}}
            for i, p in enumerate(phrases)
        ]
    )


def _found(rules: RuleSet, text: str) -> list[tuple[str, tuple[Any, ...]]]:
    return [
        (h.rule_id, tuple((m.term, m.start, m.end) for m in h.matches))
        for h in rules.match({"body": text})
    ]


PHRASES = ("خطة السلام", "مجلس الأمن الدولي", "وقف إطلاق النار", "السلام")
TEXTS = [
    "رفض مجلس الأمن الدولي خطته للسلام، ثم أعلن وقف إطلاق النار.",
    "قال إن خطة السلام ماتت. ووقف إطلاق النار صامد في مجلسي الأمن.",
    "مجلس الأمن. الدولي يجتمع",  # a break inside the phrase: no match
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_walk_finds_the_same_whatever_the_memo_has_seen(text: str) -> None:
    cold = _rules(*PHRASES)
    expected = _found(cold, text)  # the following words are new to the memo here
    warm = _rules(*PHRASES)
    for other in TEXTS:  # every word of every text seen as a start first
        warm.match({"body": other})
    assert _found(warm, text) == expected
    assert _found(cold, text) == expected  # the same ruleset again, its memo now warm


def test_the_phrases_are_found_and_a_break_stops_a_walk() -> None:
    rules = _rules(*PHRASES)
    # «خطته للسلام»: the pronoun and the proclitic are stripped; «السلام» follows «خطة» and is
    # itself a start (its stems come from the memo), «الأمن» is not (they are computed)
    assert _found(rules, TEXTS[0]) == [
        ("r0", (("خطة السلام", 22, 33),)),
        ("r1", (("مجلس الأمن الدولي", 4, 21),)),
        ("r2", (("وقف إطلاق النار", 43, 58),)),
        ("r3", (("السلام", 27, 33),)),
    ]
    assert {rid for rid, _ in _found(rules, TEXTS[1])} == {"r0", "r2", "r3"}  # «مجلسي الأمن»
    assert _found(rules, TEXTS[2]) == []


def test_a_memo_entry_is_the_words_symbol(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = _rules(*PHRASES)
    rules.match({"body": TEXTS[1]})
    automaton = rules._automaton
    assert automaton.memo["خطة"] == automaton._symbol_of[automaton._key_class["خطه"]]
    assert len(automaton.memo["ووقف"]) == automaton.width  # one symbol, whatever its stems
    assert "قال" not in automaton.memo  # it cannot start a term, none before it reaches it
    monkeypatch.setattr(matcher, "PREFILTER_KEYS", 0)  # as a large pack: every word looked up
    large = _rules(*PHRASES)
    large.match({"body": TEXTS[1]})
    assert large._automaton.memo["ماتت"] == large._automaton._filler
