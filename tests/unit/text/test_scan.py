"""The matchers' shared Aho-Corasick automaton (streams.text.scan): what it lets through,
and that the matchers built on it keep proclitics, suffixes, «ة» and offsets as before."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.classify.places import PhraseIndex
from streams.rules import RuleSet
from streams.rules.stems import phrase_keys, word_stems
from streams.text import scan
from streams.text.arabic import tokenize
from streams.text.scan import Compiled, Prefilter, candidates


def ruleset(*phrases: str, **match: Any) -> RuleSet:
    return RuleSet.from_dicts(
        [{"id": "r", "title": "r", "severity": "low", "match": match or {"phrase": list(phrases)}}]
    )


def rule_matches(rs: RuleSet, text: str) -> list[tuple[str, int, int]]:
    return [(m.text, m.start, m.end) for h in rs.match({"body": text}) for m in h.matches]


def index_matches(index: PhraseIndex[str], text: str) -> list[tuple[str, str]]:
    tokens = tokenize(text)
    out = []
    for m in index.find(tokens):
        start, end = tokens.span(m.start, m.end)
        out.append((m.payload, text[start:end]))
    return out


# -- the automaton itself ------------------------------------------------------------------


def _compiled(
    endings: tuple[str, ...] = (), substrings: tuple[str, ...] = (), words: tuple[str, ...] = ()
) -> Compiled:
    p = Prefilter(endings, substrings, words)
    p.bit = 1
    return Compiled([p])


@pytest.mark.parametrize(
    ("words", "endings", "substrings", "expected"),
    [
        # an ending key hits a token that ends with it, wherever the token starts
        (["في", "العراق", "وعراقي"], ("عراق",), (), [1]),
        (["للعراق", "عراق", "عراقه"], ("عراق",), (), [0, 1]),
        # a substring key hits anywhere inside a token, never across two tokens
        (["مخططات", "خ", "ط"], (), ("خط",), [0]),
        (["الاقتصادية", "اقتصاد"], (), ("اقتصاد",), [0, 1]),
        # a token hit by several keys is listed once; the first and the last token are found
        (["خطط", "الخط", "سلام"], ("سلام",), ("خط", "ط"), [0, 1, 2]),
        ([], ("عراق",), (), []),
        # a blank word (a token too long to keep) still counts as a token
        (["العراق", "", "عراق", ""], ("عراق",), (), [0, 2]),
        (["لا", "شيء"], (), (), []),
    ],
)
def test_scan_maps_hits_to_tokens(
    words: list[str], endings: tuple[str, ...], substrings: tuple[str, ...], expected: list[int]
) -> None:
    compiled = _compiled(endings, substrings)
    p = compiled.members[0]
    assert list(compiled.scan(words).tokens_for(p)) == expected


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.text("ابلعرق", max_size=5), max_size=10),
    endings=st.lists(st.text("ابلعرق", min_size=1, max_size=3), max_size=3),
    substrings=st.lists(st.text("ابلعرق", min_size=2, max_size=3), max_size=3),
    exact=st.lists(st.text("ابلعرق", min_size=1, max_size=3), max_size=3),
)
def test_scan_finds_exactly_the_tokens_a_check_of_every_token_finds(
    words: list[str], endings: list[str], substrings: list[str], exact: list[str]
) -> None:
    """Blank words (a too long token) included: the hits land on the right token indexes."""
    compiled = _compiled(tuple(endings), tuple(substrings), tuple(exact))
    expected = [
        i
        for i, w in enumerate(words)
        if any(w.endswith(k) for k in endings) or any(k in w for k in substrings) or w in exact
    ]
    assert list(compiled.scan(words).tokens_for(compiled.members[0])) == expected


_KEYS = st.lists(st.text("ابلعرق", min_size=1, max_size=4), max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(st.text("ابلعرق", max_size=6), max_size=10),
    keys=st.lists(st.tuples(_KEYS, _KEYS, _KEYS), min_size=1, max_size=3),
)
def test_every_matcher_gets_its_tokens_from_the_keys_left_in_the_automaton(
    words: list[str], keys: list[tuple[list[str], list[str], list[str]]]
) -> None:
    """Keys covered by shorter ones (an ending's suffix, a substring inside a key) are left
    out of the automaton; every prefilter still gets exactly the tokens its own keys hit."""
    prefilters = []
    for slot, (endings, substrings, exact) in enumerate(keys):
        p = Prefilter(endings, [k for k in substrings if len(k) >= 2], exact)
        p.bit = 1 << slot
        prefilters.append(p)
    compiled = Compiled(prefilters)
    hits = compiled.scan(words)
    for p in prefilters:
        expected = [
            i
            for i, w in enumerate(words)
            if any(map(w.endswith, p.endings)) or any(k in w for k in p.substrings) or w in p.words
        ]
        assert list(hits.tokens_for(p)) == expected


def test_covered_keys_are_left_out_of_the_automaton() -> None:
    both = Prefilter(
        endings=("العراق", "عراق"), substrings=("قتصاد", "اقتصاد"), words=("عراق", "قاد")
    )
    both.bit = 1
    other = Prefilter(endings=("لعراق",))  # another matcher's key: its bit is not covered
    other.bit = 2
    compiled = Compiled([both, other])
    assert compiled.automaton is not None
    # left out: «العراق » (ends with «عراق » and «لعراق »: bits 1 and 2), « عراق » (a word
    # that ends with «عراق »), «اقتصاد» (contains «قتصاد»)
    assert sorted(compiled.automaton.keys()) == sorted([" قاد ", "عراق ", "قتصاد", "لعراق "])
    words = ["بالعراق", "قاد", "الاقتصادي", "عراق", "لعراق"]
    assert list(compiled.scan(words).tokens_for(both)) == [0, 1, 2, 3, 4]
    assert list(compiled.scan(words).tokens_for(other)) == [0, 4]


@settings(max_examples=100, deadline=None)
@given(text=st.lists(st.sampled_from(["العراق", "خطة", "والعراقية", "ة", "ب" * 70, "، ", " "])))
def test_a_scan_of_the_tokens_joined_words_is_the_scan_of_the_words(text: list[str]) -> None:
    tokens = tokenize("".join(text))
    compiled = _compiled(("عراق", "ه"), ("خط",), ("ب",))
    p = compiled.members[0]
    by_words = compiled.scan(tokens.words)
    by_joined = compiled.scan(tokens.words, tokens.joined)
    assert (by_joined.tokens, by_joined.masks) == (by_words.tokens, by_words.masks)
    assert list(by_joined.tokens_for(p)) == [
        i for i, w in enumerate(tokens.words) if w.endswith(("عراق", "ه")) or "خط" in w or w == "ب"
    ]


def test_a_word_key_hits_that_token_only() -> None:
    compiled = _compiled(words=("د", "ام"))
    p = compiled.members[0]
    words = ["د", "بعد", "ام", "العام", "امام", "د"]
    assert list(compiled.scan(words).tokens_for(p)) == [0, 2, 5]


def test_a_too_short_substring_key_means_every_token() -> None:
    p = Prefilter(substrings=("ب", "عراق"))
    assert p.everywhere
    p.bit = 1
    assert list(Compiled([p]).scan(["في", "بغداد", "اليوم"]).tokens_for(p)) == [0, 1, 2]
    assert Prefilter(endings=("د",)).everywhere is False  # ending keys may be one letter


def test_one_scan_serves_every_matcher_of_a_field() -> None:
    places = PhraseIndex([("العراق", "IQ")])
    lexicon = PhraseIndex([("اقتصاد*", "economy")])
    rules = ruleset("خط احمر")
    tokens = tokenize("الاقتصاد في العراق خط أحمر")
    assert candidates(tokens, places.prefilter) == [2]
    hits = tokens.scan_hits
    assert candidates(tokens, lexicon.prefilter) == [0]
    assert candidates(tokens, rules._prefilter) == [3]
    assert tokens.scan_hits is hits  # read off the same scan


def test_a_new_matcher_recompiles_and_old_scans_are_redone() -> None:
    places = PhraseIndex([("العراق", "IQ")])
    tokens = tokenize("سوريا والعراق")
    assert candidates(tokens, places.prefilter) == [1]
    before = scan.current()
    later = PhraseIndex([("سوريا", "SY")])
    assert scan.current() is not before
    assert candidates(tokens, later.prefilter) == [0]
    assert candidates(tokens, places.prefilter) == [1]
    assert index_matches(later, "سوريا والعراق") == [("SY", "سوريا")]


def test_a_dead_matchers_slot_is_reused() -> None:
    first = PhraseIndex([("العراق", "IQ")])
    bit = first.prefilter.bit
    del first
    gc.collect()
    second = PhraseIndex([("لبنان", "LB")])
    # the lowest free slot is taken, and the dead matcher's slot is free: never a higher one
    # (earlier tests may have freed lower slots too, so not necessarily the same one)
    assert second.prefilter.bit <= bit
    assert index_matches(second, "في لبنان والعراق") == [("LB", "لبنان")]


# -- the matchers on top of it: unchanged behaviour ----------------------------------------

GAZETTEER = PhraseIndex(
    [("العراق", "IQ"), ("دمشق", "SY"), ("المملكة العربية السعودية", "SA"), ("غزة", "PS")]
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # proclitics on the first word, the article re-added where the proclitic carried it
        ("والعراق", [("IQ", "والعراق")]),
        ("بالعراق", [("IQ", "بالعراق")]),
        ("للعراق", [("IQ", "للعراق")]),
        ("وبالعراق وفالعراق", [("IQ", "وبالعراق"), ("IQ", "وفالعراق")]),
        ("بدمشق ودمشق", [("SY", "بدمشق"), ("SY", "ودمشق")]),
        ("عراق العراقي", []),  # no article where the name has one; no suffixes on names
        ("في المملكة العربية السعودية", [("SA", "المملكة العربية السعودية")]),
        ("وللمملكة العربية السعودية", [("SA", "وللمملكة العربية السعودية")]),
        ("في غزة وغزه", [("PS", "غزة"), ("PS", "وغزه")]),
        # with diacritics and tatweel: evidence is the original text, marks included
        ("في العِراقِ اليوم", [("IQ", "العِراقِ")]),
        ("في دمـــشقَ", [("SY", "دمـــشقَ")]),
    ],
)
def test_gazetteer_names_with_proclitics(text: str, expected: list[tuple[str, str]]) -> None:
    assert index_matches(GAZETTEER, text) == expected


LEXICON = PhraseIndex([("اقتصاد*", "economy"), ("البنك المركزي", "economy"), ("حج", "religion")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("الاقتصادية", [("economy", "الاقتصادية")]),
        ("وللاقتصاد", [("economy", "وللاقتصاد")]),
        ("اقتصاديون", [("economy", "اقتصاديون")]),
        ("قال البنك المركزي", [("economy", "البنك المركزي")]),
        ("وللبنك المركزي", [("economy", "وللبنك المركزي")]),
        # classifiers match on tokens: punctuation between them does not stop a phrase
        ("البنك. المركزي", [("economy", "البنك. المركزي")]),
        # a proclitic is stripped only down to a stem of three letters or more
        ("موسم حج وحج", [("religion", "حج")]),
        ("الحج حجر", []),
    ],
)
def test_lexicon_terms(text: str, expected: list[tuple[str, str]]) -> None:
    assert index_matches(LEXICON, text) == expected


@pytest.mark.parametrize(
    ("phrases", "text", "expected"),
    [
        # proclitics on a rule phrase word, with and without the article
        (["العراق"], "والعراق", [("والعراق", 0, 7)]),
        (["العراق"], "بالعراق", [("بالعراق", 0, 7)]),
        (["العراق"], "للعراق", [("للعراق", 0, 6)]),
        (["العراق"], "عراق", [("عراق", 0, 4)]),  # the article is optional in rules
        # «ة»: a final «ة» is never the pronoun «ه»
        (["خط احمر"], "خطة حمراء", []),
        (["خط احمر"], "خطه الاحمر", [("خطه الاحمر", 0, 10)]),
        (["خط احمر"], "خطهم الأحمر", [("خطهم الأحمر", 0, 11)]),
        (["خطة سلام"], "خطتهم للسلام", [("خطتهم للسلام", 0, 12)]),
        (["خطة سلام"], "خطة السلام", [("خطة السلام", 0, 10)]),
        (["خطة سلام"], "خط السلام", []),
        # suffixes: plural, dual, possessive, tanween alef
        (["عبوة ناسفة"], "عبوات ناسفة", [("عبوات ناسفة", 0, 11)]),
        (["عبوة ناسفة"], "عبوتين ناسفتين", [("عبوتين ناسفتين", 0, 14)]),
        (["مسلح"], "المسلحون", [("المسلحون", 0, 8)]),
        (["خطا"], "خطاً", [("خطاً", 0, 4)]),
        # a phrase never runs across a sentence break
        (["خط احمر"], "هذا خط. أحمر", []),
        (["خط احمر"], "هذا خط\nأحمر", []),
        (["خط احمر"], "هذا خط، أحمر", []),
        # offsets into the original text, diacritics and tatweel included
        (["خط احمر"], "تجاوزَ الخطَّ الأحمرَ اليوم", [("الخطَّ الأحمرَ", 7, 21)]),
        (["العراق"], "في العِـراقِ", [("العِـراقِ", 3, 12)]),
    ],
)
def test_rule_phrases(phrases: list[str], text: str, expected: list[tuple[str, int, int]]) -> None:
    found = rule_matches(ruleset(*phrases), text)
    assert found == expected
    for match_text, start, end in found:
        assert text[start:end] == match_text


def test_a_short_rule_key_is_looked_for_with_its_endings() -> None:
    # «به»: stems() may add the «ه» (for «ت», «ات»), and «ب» alone would hit every token
    rs = ruleset("به")
    assert rs._prefilter.substrings == {"به", "بت", "بات"}
    assert rule_matches(rs, "مرحبا به") == [("به", 6, 8)]


# -- the keys are a necessary condition: every token a matcher accepts is a candidate ---------

_LETTERS = "اوبلفكتهةنيمرع"
_word = st.text(_LETTERS, min_size=1, max_size=7)
_words = st.lists(_word, min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(phrases=st.lists(_word, min_size=1, max_size=5), text=_words)
def test_every_token_a_phrase_index_accepts_is_a_candidate(
    phrases: list[str], text: list[str]
) -> None:
    index = PhraseIndex([(p, p) for p in phrases] + [(phrases[0] + "*", "prefix")])
    tokens = tokenize(" ".join(text))
    hit = set(candidates(tokens, index.prefilter))
    for i, word in enumerate(tokens.words):
        if index._entry(word) is not None:
            assert i in hit, (phrases, word)


@settings(max_examples=150, deadline=None)
@given(phrases=st.lists(_word, min_size=1, max_size=5), text=_words)
def test_every_token_that_starts_a_rule_term_is_a_candidate(
    phrases: list[str], text: list[str]
) -> None:
    rs = ruleset(*phrases)
    if rs._prefilter is None:
        return  # a one-letter key: the matcher looks at every token
    tokens = tokenize(" ".join(text))
    hit = set(candidates(tokens, rs._prefilter))
    first = {k for t in rs._terms for k in phrase_keys(t.words[0])}
    for i, word in enumerate(tokens.words_keeping_ta_marbuta):
        if not word_stems(word).isdisjoint(first):
            assert i in hit, (phrases, word)
