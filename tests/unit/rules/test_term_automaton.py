"""The rule terms' automaton over token symbols (streams.rules.automaton) finds exactly the
occurrences the phrase-key trie walk found (tests/unit/rules/reference_walk.py), in the same
order: on chosen cases (ambiguous tokens, breaks, spellings, «ة», possessives, overlaps, the
end of the text) and on generated token sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules import RuleSet, matcher
from streams.rules import automaton as automaton_module
from streams.rules.stems import phrase_keys, word_stems
from streams.text.arabic import tokenize
from streams.text.scan import candidates
from tests.unit.rules.reference_walk import build_trie, reference_scan

Occurrences = dict[tuple[str, ...], list[tuple[int, int]]]


def _rules(*phrases: str, prefiltered: bool = True) -> RuleSet:
    """`prefiltered=False`: as a large pack, which scans every token (no prefilter)."""
    with pytest.MonkeyPatch.context() as m:
        if not prefiltered:
            m.setattr(matcher, "PREFILTER_KEYS", 0)
        rules = RuleSet.from_dicts(
            [
                {"id": f"r{i}", "title": "t", "severity": "low", "match": {"phrase": [p]}}
                for i, p in enumerate(phrases)
            ]
        )
    if not prefiltered:
        assert rules._prefilter is None
    return rules


def _both(rules: RuleSet, text: str) -> tuple[Occurrences, Occurrences]:
    """(the automaton's occurrences, the reference walk's), by term words."""
    terms = [t.words for t in rules._terms]
    got = rules._scan(text).occurrences
    want = reference_scan(build_trie(terms), text, tokenize(text))
    return {terms[t]: spans for t, spans in got.items()}, {
        terms[t]: spans for t, spans in want.items()
    }


CASES = [
    # (phrases, text, {phrase as normalised words: token spans}): each also equals the walk
    pytest.param(
        ["بعد الظهر", "عد تنازلي"],
        "بعد الظهر بدأ بعد تنازلي",  # «بعد» is the word «بعد» and «ب» + «عد»: ambiguous
        {("بعد", "الظهر"): [(0, 2)], ("عد", "تنازلي"): [(3, 5)]},
        id="ambiguous-token",
    ),
    pytest.param(
        ["بعد", "عد"],
        "وبعد ذلك",
        {("بعد",): [(0, 1)], ("عد",): [(0, 1)]},
        id="ambiguous-one-word-terms",
    ),
    pytest.param(
        ["بعد الظهر", "عد تنازلي", "قبل بعد"],
        "قبل بعد تنازلي",  # two spans through one ambiguous token, with two choices
        {("قبل", "بعد"): [(0, 2)], ("عد", "تنازلي"): [(1, 3)]},
        id="ambiguous-both-sides",
    ),
    pytest.param(
        ["بعد عد", "عد بعد"],
        "بعد بعد",  # two ambiguous tokens in one span
        {("بعد", "عد"): [(0, 2)], ("عد", "بعد"): [(0, 2)]},
        id="adjacent-ambiguous-tokens",
    ),
    pytest.param(
        ["بعد", "عد"],
        "بعد البعد",  # «البعد» is only «بعد»: found by the string scan, before the lattice
        {("بعد",): [(0, 1), (1, 2)], ("عد",): [(0, 1)]},
        id="occurrences-in-order-of-start",
    ),
    pytest.param(
        ["بعد مجلس الأمن", "عد تنازلي", "مجلس بعد"],
        "بعد مجلس الأمن ثم مجلس بعد",  # three-word spans through an ambiguous token
        {("بعد", "مجلس", "الامن"): [(0, 3)], ("مجلس", "بعد"): [(4, 6)]},
        id="ambiguous-in-a-three-word-span",
    ),
    pytest.param(
        ["مجلس الأمن الدولي"],
        "مجلس الأمن. الدولي يجتمع، مجلس الأمن، الدولي",
        {},
        id="break-inside-a-phrase",
    ),
    pytest.param(
        ["مجلس الأمن الدولي", "بعد مجلس الأمن"],
        "بعد مجلس الأمن\nالدولي",  # a line break; an ambiguous start before it
        {("بعد", "مجلس", "الامن"): [(0, 3)]},
        id="break-after-a-three-word-span",
    ),
    pytest.param(
        ["الخط الأحمر", "خط"],
        "الخط الأحمر",  # «الخط» is stored as «الخط» and «خط»: found once
        {("الخط", "الاحمر"): [(0, 2)], ("خط",): [(0, 1)]},
        id="two-spellings-found-once",
    ),
    pytest.param(
        ["خط احمر"],
        "خطة حمراء وخطه الأحمر",  # «خطة» is a plan, «خطه» his line
        {("خط", "احمر"): [(2, 4)]},
        id="ta-marbuta-is-not-a-pronoun",
    ),
    pytest.param(
        ["خط احمر"],
        "تجاوزوا خطهم الأحمر وخطوطا حمراء",
        {("خط", "احمر"): [(1, 3)]},  # «خطوطا» is a plural, not a stem of «خط»
        id="possessives",
    ),
    pytest.param(
        ["خطة السلام"],
        "رفض خطتهم للسلام",  # خطتهم → خطت → خطه
        {("خطه", "السلام"): [(1, 3)]},
        id="ta-marbuta-before-a-pronoun",
    ),
    pytest.param(
        ["السلام", "قمة"],
        "السلام عليكم قمة السلام",
        {("السلام",): [(0, 1), (3, 4)], ("قمه",): [(2, 3)]},
        id="one-word-terms",
    ),
    pytest.param(
        ["مجلس الأمن", "الأمن الدولي", "مجلس الأمن الدولي", "الدولي"],
        "مجلس الأمن الدولي",
        {
            ("مجلس", "الامن"): [(0, 2)],
            ("الامن", "الدولي"): [(1, 3)],
            ("مجلس", "الامن", "الدولي"): [(0, 3)],
            ("الدولي",): [(2, 3)],
        },
        id="overlapping-terms",
    ),
    pytest.param(
        ["وقف إطلاق النار"],
        "أعلن الطرفان وقف إطلاق النار",
        {("وقف", "اطلاق", "النار"): [(2, 5)]},
        id="at-the-end-of-the-text",
    ),
    pytest.param(["وقف إطلاق النار"], "وقف إطلاق", {}, id="cut-off-at-the-end"),
]


@pytest.mark.parametrize("prefiltered", [True, False])
@pytest.mark.parametrize(("phrases", "text", "expected"), CASES)
def test_cases(phrases: list[str], text: str, expected: Occurrences, prefiltered: bool) -> None:
    got, want = _both(_rules(*phrases, prefiltered=prefiltered), text)
    assert got == expected
    assert got == want


def test_the_ambiguous_cases_are_ambiguous() -> None:
    automaton = _rules("بعد الظهر", "عد تنازلي")._automaton
    assert len(automaton.choices("بعد")) == 2
    assert len(automaton.choices("وبعد")) == 2
    # «الخط»'s stems are «الخط» and «خط»; every phrase word keyed «الخط» is keyed «خط»
    assert len(_rules("الخط الأحمر")._automaton.choices("الخط")) == 1


def test_classes_share_spellings() -> None:
    automaton = _rules("الخط الأحمر")._automaton
    assert automaton.spellings == 1  # «الخط»/«خط» and «الأحمر»/«أحمر»: one class each
    assert automaton.spellings < _rules("الخط الأحمر", "خط")._automaton.spellings


# -- generated: few letters, so that stems, proclitics and endings collide often ---------------

_LETTERS = "اوبلفكتهةنيمرعد"
_word = st.text(_LETTERS, min_size=1, max_size=6)
_phrase = st.lists(_word, min_size=1, max_size=4).map(" ".join)
_gap = st.sampled_from([" ", " ", " ", " و", "، ", ". ", "\n", " - "])


@st.composite
def _text(draw: st.DrawFn, phrases: list[str]) -> str:
    # words drawn from the phrases (with proclitics and endings) and at random
    pool = [w for p in phrases for w in p.split()]
    parts = []
    for _ in range(draw(st.integers(1, 25))):
        if pool and draw(st.booleans()):
            word = draw(st.sampled_from(["", "و", "ب", "ال", "وال", "بال", "لل", "ف"]))
            word += draw(st.sampled_from(pool))
            word += draw(st.sampled_from(["", "", "ه", "ها", "هم", "ات", "ان", "ين", "ا", "ي"]))
        else:
            word = draw(_word)
        parts.append(word + draw(_gap))
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), phrases=st.lists(_phrase, min_size=1, max_size=8), pre=st.booleans())
def test_the_automaton_finds_what_the_trie_walk_finds(
    data: st.DataObject, phrases: list[str], pre: bool
) -> None:
    rules = _rules(*phrases, prefiltered=pre)
    for _ in range(3):  # the second and third texts with the memos warm
        text = data.draw(_text(phrases))
        got, want = _both(rules, text)
        assert got == want, text


@settings(max_examples=100, deadline=None)
@given(data=st.data(), phrases=st.lists(_phrase, min_size=1, max_size=8))
def test_the_same_when_the_memos_turn_over(data: st.DataObject, phrases: list[str]) -> None:
    # a tiny word memo, and ambiguous symbols that run out at every field
    rules = _rules(*phrases)
    rules._automaton.memo.cap = 4
    with pytest.MonkeyPatch.context() as m:
        m.setattr(automaton_module, "_AMBIGUOUS_END", automaton_module._AMBIGUOUS_FIRST + 2)
        for _ in range(3):
            text = data.draw(_text(phrases))
            got, want = _both(rules, text)
            assert got == want, text


@settings(max_examples=200, deadline=None)
@given(data=st.data(), phrases=st.lists(_phrase, min_size=1, max_size=8))
def test_every_token_that_can_start_a_term_passes_the_prefilter(
    data: st.DataObject, phrases: list[str]
) -> None:
    rules = _rules(*phrases)
    if rules._prefilter is None:
        return  # a one-letter key: every token is looked at
    tokens = tokenize(data.draw(_text(phrases)))
    hit = set(candidates(tokens, rules._prefilter))
    first = {k for t in rules._terms for k in phrase_keys(t.words[0])}
    for i, word in enumerate(tokens.words_keeping_ta_marbuta):
        if not word_stems(word).isdisjoint(first):
            assert i in hit, word


@pytest.mark.parametrize(
    ("phrase", "prefiltered"),
    [("الله", True), ("حزب الله", True), ("عبوة", True), ("به", True), ("ه", False)],
)
def test_short_keys_keep_the_prefilter_narrow(phrase: str, prefiltered: bool) -> None:
    # «الله» is keyed «له» too: «له», «لت», «لات» are looked for, not every token with «ل»
    rules = _rules(phrase)
    assert (rules._prefilter is not None) is prefiltered
    if phrase == "الله":
        assert candidates(tokenize("قال له حزب الله اليوم"), rules._prefilter) == [1, 3]
    if phrase == "حزب الله":
        assert candidates(tokenize("قال له حزب الله اليوم"), rules._prefilter) == [2]


def test_a_large_pack_stays_out_of_the_shared_automaton() -> None:
    with pytest.MonkeyPatch.context() as m:
        m.setattr(matcher, "PREFILTER_KEYS", 1)
        rules = RuleSet.from_dicts(
            [{"id": "r", "title": "t", "severity": "low", "match": {"phrase": ["خط احمر"]}}]
        )
    assert rules._prefilter is None
    assert [h.rule_id for h in rules.match({"body": "تجاوز الخط الأحمر"})] == ["r"]


def test_a_rule_set_without_terms_finds_nothing() -> None:
    assert RuleSet([])._scan("أي نص").occurrences == {}


def test_ambiguous_symbols_never_reach_the_filler_plane() -> None:
    # Two ambiguous symbols left before the filler: one is taken by the first field, and the
    # second field's candidates bring two more. The scan must make room before it remembers
    # them, else the second is the filler itself, taken for a word that starts nothing, and
    # its phrase is missed.
    rules = _rules("بعد الظهر", "عد تنازلي", "لعد يوم", "بلعد يوم")
    assert len({rules._automaton.choices(w) for w in ("بعد", "ولعد", "بلعد")}) == 3
    with pytest.MonkeyPatch.context() as m:
        m.setattr(automaton_module, "_AMBIGUOUS_FIRST", ord(automaton_module.FILLER) - 2)
        m.setattr(automaton_module, "_AMBIGUOUS_END", ord(automaton_module.FILLER))
        for text in ("بعد الظهر", "ولعد يوم بلعد يوم"):
            got, want = _both(rules, text)
            assert got == want
            assert all(ord(c) < ord(automaton_module.FILLER) for c in rules._automaton._choices)
