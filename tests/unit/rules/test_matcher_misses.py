"""The matcher's cheaper paths (docs/performance.md, "Rules at scale: round fourteen") give what
the plain ones gave: a field's symbol string when some of its words are new (only those are
looked up), the lattice's two-token spans (read from the pairs listed at compile time, pruned
when no choice can pair), the matches reported (exactness from the token words, the span's
text and snippet shared between rules), and `word_stems` without the stems cache."""

from __future__ import annotations

import sys

import pytest

from streams.rules import RuleSet, matcher
from streams.rules.automaton import TermAutomaton
from streams.rules.stems import word_stems
from streams.text.arabic import tokenize
from tests.unit.rules.reference_walk import build_trie, reference_scan

STEMS = sys.modules["streams.rules.stems"]  # the module (the package's `stems` is the function)

TERMS = [("بعد", "الظهر"), ("عد", "تنازلي"), ("خط", "احمر"), ("قبل", "عد"), ("الخط",)]


def _alone(word: str) -> str:
    """A word's symbol from an automaton that has seen nothing else."""
    return TermAutomaton(TERMS).string([word])


@pytest.mark.parametrize(
    ("seen", "field"),
    [
        ([], ["خط", "احمر"]),  # every word new
        (["خط", "احمر"], ["خط", "احمر"]),  # none new
        (["احمر"], ["خط", "احمر", "كلمة"]),  # new first and last
        (["خط"], ["خط", "بعد", "بعد", "خط"]),  # a new word twice (ambiguous, too)
        (["بعد", "قبل"], ["وبعد", "بعد", "قبل", "عد", "الظهر"]),  # new in the middle
        ([], ["", "خطة", "خطه", ""]),  # empty words (cut), «ة»
    ],
)
def test_a_field_with_new_words_has_the_symbols_each_word_has_alone(
    seen: list[str], field: list[str]
) -> None:
    automaton = TermAutomaton(TERMS)
    automaton.string(seen)
    assert automaton.string(field) == "".join(_alone(w) for w in field)
    assert set(automaton.memo) == set(seen) | set(field)
    assert automaton.string(field) == "".join(_alone(w) for w in field)  # all seen now


def _rules(*phrases: str) -> RuleSet:
    with pytest.MonkeyPatch.context() as m:
        m.setattr(matcher, "PREFILTER_KEYS", 0)  # as a large pack: every token looked up
        return RuleSet.from_dicts(
            [
                {"id": f"r{i}", "title": "t", "severity": "low", "match": {"phrase": [p]}}
                for i, p in enumerate(phrases)
            ]
        )


@pytest.mark.parametrize(
    ("phrases", "text", "expected"),
    [
        # «بعد» is ambiguous (the word «بعد», and «ب» + «عد»)
        (["بعد الظهر", "عد"], "قبل بعد الظهر", {("بعد", "الظهر"): [(1, 3)], ("عد",): [(1, 2)]}),
        # no choice of «بعد» is in a pair: its one-word terms only
        (["بعد", "عد", "قبل الظهر"], "قبل بعد الظهر", {("بعد",): [(1, 2)], ("عد",): [(1, 2)]}),
        # a choice second in a pair that the token before starts
        (["قبل عد", "بعد"], "قبل بعد", {("قبل", "عد"): [(0, 2)], ("بعد",): [(1, 2)]}),
        # the token before starts pairs, but not with a choice of «بعد»
        (["قبل الظهر", "بعد", "عد"], "قبل بعد", {("بعد",): [(1, 2)], ("عد",): [(1, 2)]}),
        # the token after is a second, but of another first
        (["قبل الظهر", "بعد تنازلي", "عد"], "بعد الظهر", {("عد",): [(0, 1)]}),
        # followed by a token with no key, and at the end of the text
        (["بعد تنازلي", "عد"], "بعد كلمة بعد", {("عد",): [(0, 1), (2, 3)]}),
        # both tokens ambiguous; the second token's choices are seconds
        (["بعد عد", "عد"], "بعد بعد", {("بعد", "عد"): [(0, 2)], ("عد",): [(0, 1), (1, 2)]}),
        # a break between the pair's tokens
        (["بعد الظهر", "عد"], "بعد. الظهر", {("عد",): [(0, 1)]}),
    ],
)
def test_two_token_spans_through_an_ambiguous_token(
    phrases: list[str], text: str, expected: dict[tuple[str, ...], list[tuple[int, int]]]
) -> None:
    rules = _rules(*phrases)
    terms = [t.words for t in rules._terms]
    assert len(rules._automaton.choices("بعد")) == 2
    for _ in range(2):  # the second time with the memos warm
        got = {terms[t]: s for t, s in rules._scan(text).occurrences.items()}
        want = reference_scan(build_trie(terms), text, tokenize(text))
        assert got == expected
        assert got == {terms[t]: s for t, s in want.items()}


def _rule(rid: str, match: dict[str, object]) -> dict[str, object]:
    return {"id": rid, "title": rid, "severity": "low", "match": match}


RED = _rule("red", {"phrase": ["الخط الأحمر", "خط احمر"]})
RED_NEAR = _rule("near", {"near": {"terms": ["خط", "احمر"], "within": 3}})
RED_ALSO = _rule("also", {"phrase": ["خطوط حمراء", "خط احمر"]})


@pytest.mark.parametrize(
    ("text", "rules", "found"),
    [
        # the exact phrase wins
        ("تجاوز الخط الأحمر", [RED], {"red": [("الخط الأحمر", "الخط الأحمر")]}),
        ("تجاوز خط احمر", [RED], {"red": [("خط احمر", "خط احمر")]}),
        # 1 exact word against 0
        ("وتجاوزوا خطهم الأحمر", [RED], {"red": [("الخط الأحمر", "خطهم الأحمر")]}),
        # near: each occurrence anchors once per group, reported once
        (
            "خط احمر ثم خط احمر",
            [RED_NEAR],
            {"near": [("خط", "خط"), ("احمر", "احمر"), ("خط", "خط"), ("احمر", "احمر")]},
        ),
        # the same span in two rules: each its own term, the same text and snippet
        (
            "قال: خط احمر.\nثم",
            [RED, RED_ALSO],
            {"red": [("خط احمر", "خط احمر")], "also": [("خط احمر", "خط احمر")]},
        ),
        (
            "خط احمر خطوط حمراء",
            [RED, RED_ALSO],
            {
                "red": [("خط احمر", "خط احمر")],
                "also": [("خط احمر", "خط احمر"), ("خطوط حمراء", "خطوط حمراء")],
            },
        ),
    ],
)
def test_matches_reported_alike_whatever_else_fired(
    text: str, rules: list[dict[str, object]], found: dict[str, list[tuple[str, str]]]
) -> None:
    together = RuleSet.from_dicts(rules).match({"title": "خط احمر", "body": text})
    body = {h.rule_id: [(m.term, m.text) for m in h.matches if m.field == "body"] for h in together}
    assert body == found
    for hit in together:  # as the rule alone finds them: text, offsets, snippet
        alone = RuleSet.from_dicts([r for r in rules if r["id"] == hit.rule_id])
        assert alone.match({"title": "خط احمر", "body": text}) == [hit]
    for hit in together:
        for m in hit.matches:
            field = text if m.field == "body" else "خط احمر"
            assert field[m.start : m.end] == m.text
            assert m.text in m.snippet


@pytest.mark.parametrize(
    ("word", "stem"),
    [("والخطوط", "خطوط"), ("خطتهم", "خطه"), ("خطة", "خطه"), ("عبوات", "عبوه"), ("بك", "بك")],
)
def test_word_stems_are_the_folded_words_stems(word: str, stem: str) -> None:
    got = word_stems(word)
    assert stem in got
    folded = word.replace("ة", "ه")
    assert got == STEMS.stems(folded, word.endswith("ة"))
