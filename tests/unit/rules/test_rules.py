"""Watch-list rules: validation, stemming, matching semantics, default pack, reference article."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from streams.rules import (
    Match,
    RuleError,
    RuleHit,
    RuleSet,
    default_rules_path,
    load_rule_file,
    phrase_keys,
    stems,
)
from streams.text.arabic import normalize

FIXTURE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "baghdadtoday-2024-12-01-sayyida-zaynab.txt"
)

RED_LINE: dict[str, Any] = {
    "id": "red-line",
    "title": "Red line",
    "severity": "high",
    "phrases": ["خط احمر", "خطوط حمراء", "خطوط حمر"],
    "unless_near": {
        "terms": ["مترو", "المترو", "قطار", "القطار", "انفاق", "الانفاق"],
        "within": 3,
    },
}

_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")


def strip_marks(text: str) -> str:
    """Remove harakat, tanween, shadda and tatweel."""
    return _MARKS.sub("", text)


def decorate(text: str) -> str:
    """Add tatweel after each word's first letter and a fatha after its last letter."""
    return " ".join(w[0] + "ـــ" + w[1:] + "َ" for w in text.split())


def rules(*overrides: Mapping[str, Any]) -> RuleSet:
    return RuleSet.from_dicts([{**RED_LINE, **o} for o in overrides] or [RED_LINE])


def red_line_matches(text: str, ruleset: RuleSet | None = None) -> list[Match]:
    hits = (ruleset or rules()).match({"body": text})
    return [m for h in hits if h.rule_id == "red-line" for m in h.matches]


# --------------------------------------------------------------------------------------------
# Red-line variants: every form matches, with correct original offsets
# --------------------------------------------------------------------------------------------

# (form as it appears in the article, phrase variant expected to be reported)
RED_LINE_FORMS = [
    ("خط احمر", "خط احمر"),
    ("خط أحمر", "خط احمر"),
    ("الخط الأحمر", "خط احمر"),
    ("خطاً أحمر", "خط احمر"),
    ("خطا احمر", "خط احمر"),
    ("خطوط حمراء", "خطوط حمراء"),
    ("الخطوط الحمر", "خطوط حمر"),
    ("الخطوط الحمراء", "خطوط حمراء"),
    ("خطوطاً حمراء", "خطوط حمراء"),
    ("والخط الأحمر", "خط احمر"),
    ("بالخط الأحمر", "خط احمر"),
    ("للخطوط الحمراء", "خطوط حمراء"),
    ("خطٌّ أحمرُ", "خط احمر"),
    ("خطـــوط حمـــراء", "خطوط حمراء"),
    ("والخطوطَ الحمراء", "خطوط حمراء"),
    ("فالخط الأحمر", "خط احمر"),
    ("وللخطوط الحمراء", "خطوط حمراء"),
    # possessives are accepted on purpose: «their/our red line» is the same idiom
    ("خطهم الأحمر", "خط احمر"),
    ("خطنا الأحمر", "خط احمر"),
    ("خطوطهم الحمراء", "خطوط حمراء"),
]


def _variants() -> list[Any]:
    out = []
    for form, term in RED_LINE_FORMS:
        plain = strip_marks(form)
        out.append(pytest.param(form, term, id=f"as-written:{form}"))
        if plain != form:
            out.append(pytest.param(plain, term, id=f"plain:{plain}"))
        out.append(pytest.param(decorate(plain), term, id=f"decorated:{plain}"))
    return out


@pytest.mark.parametrize(("form", "term"), _variants())
@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", ""),
        ("قال القيادي إن المنطقة ", " ولن نسمح بتجاوزه."),
        ("«", "»"),
    ],
)
def test_red_line_form_matches_with_original_offsets(
    form: str, term: str, before: str, after: str
) -> None:
    text = before + form + after
    ruleset = rules()
    hits = ruleset.match({"body": text})
    assert [h.rule_id for h in hits] == ["red-line"]
    (match,) = hits[0].matches
    assert match.term == term
    assert match.field == "body"
    assert match.text == form
    assert (match.start, match.end) == (len(before), len(before) + len(form))
    assert text[match.start : match.end] == match.text


@pytest.mark.parametrize(("form", "term"), [pytest.param(f, t, id=f) for f, t in RED_LINE_FORMS])
def test_red_line_form_matches_in_title(form: str, term: str) -> None:
    title = f"الفصائل: منطقة السيدة زينب {form}"
    hits = rules().match({"title": title, "body": ""})
    (match,) = hits[0].matches
    assert (match.field, match.text, match.term) == ("title", form, term)
    assert title[match.start : match.end] == form


# --------------------------------------------------------------------------------------------
# Near misses
# --------------------------------------------------------------------------------------------

NEAR_MISSES = [
    pytest.param("الخط الأخضر", id="green-line"),
    pytest.param("خطة حمراء", id="red-plan-ta-marbuta"),
    pytest.param("خطة أحمر", id="plan-masc-adj"),
    pytest.param("البحر الأحمر", id="red-sea"),
    pytest.param("الخط الأحمر للمترو", id="metro-red-line"),
    pytest.param("الخط الأحمر لمترو الدوحة", id="metro-red-line-doha"),
    pytest.param("محطات القطار على الخط الأحمر", id="train-before"),
    pytest.param("افتتاح الخط الأحمر في الأنفاق", id="tunnels-after"),
    pytest.param("خطوط جوية", id="airlines"),
    pytest.param("الخطوط الجوية العراقية", id="iraqi-airways"),
    pytest.param("خط أخضر أحمر", id="interrupted"),
    pytest.param("هذا هو الخط. أحمر اللون كان", id="across-sentence"),
    pytest.param("الخط\nالأحمر", id="across-line"),
    pytest.param("الصليب الأحمر", id="red-cross"),
    pytest.param("خطوات حمراء", id="steps"),
    pytest.param("خطير أحمر", id="dangerous"),
]


@pytest.mark.parametrize("text", NEAR_MISSES)
@pytest.mark.parametrize("style", ["as-written", "plain", "decorated"])
def test_near_miss_does_not_match(text: str, style: str) -> None:
    if style == "plain":
        text = strip_marks(text)
    elif style == "decorated":
        text = "\n".join(decorate(line) for line in strip_marks(text).split("\n"))
    assert rules().match({"title": text, "body": text}) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the negative term is further than `within` (3) tokens away: the phrase stands
        pytest.param("الخط الأحمر لن نسمح بتجاوزه أبدا ولا المترو", ["الخط الأحمر"], id="far"),
        pytest.param("الخط الأحمر لن نسمح المترو", [], id="gap-3"),
        pytest.param("المترو لن نسمح الخط الأحمر", [], id="gap-3-before"),
        pytest.param("المترو لن نسمح بتجاوز الخط الأحمر", ["الخط الأحمر"], id="gap-4-before"),
        # only the occurrence near the metro is dropped
        pytest.param(
            "الخط الأحمر للمترو مغلق اليوم. أما السيادة فهي خط أحمر عندنا",
            ["خط أحمر"],
            id="one-of-two-dropped",
        ),
        # proclitics and articles on the negative term are stripped too
        pytest.param("الخط الأحمر بالقطار", [], id="bi-qitar"),
        pytest.param("الخط الأحمر وللأنفاق", [], id="wa-lil-anfaq"),
    ],
)
def test_unless_near_window(text: str, expected: list[str]) -> None:
    assert [m.text for m in red_line_matches(text)] == expected


def test_unless_near_is_per_field() -> None:
    hits = rules().match({"title": "الخط الأحمر", "body": "افتتاح خط المترو الجديد"})
    assert [(m.field, m.text) for m in hits[0].matches] == [("title", "الخط الأحمر")]


@pytest.mark.parametrize(
    ("within", "text", "matches"),
    [
        (0, "الخط الأحمر للمترو", True),  # 0: only an overlapping term would cancel
        (1, "الخط الأحمر للمترو", False),  # 1: adjacent tokens cancel
        (1, "الخط الأحمر في المترو", True),
        (2, "الخط الأحمر في المترو", False),
        (2, "المترو في الخط الأحمر", False),
    ],
)
def test_unless_near_within_counts_tokens(within: int, text: str, matches: bool) -> None:
    ruleset = rules({"unless_near": {"terms": ["مترو"], "within": within}})
    assert bool(red_line_matches(text, ruleset)) is matches


# --------------------------------------------------------------------------------------------
# Stemming
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "stem"),
    [
        ("والخط", "خط"),
        ("بالخط", "خط"),
        ("للخطوط", "خطوط"),
        ("وللخطوط", "خطوط"),
        ("فالخط", "خط"),
        ("كالخط", "خط"),
        ("وبالخط", "خط"),
        ("خطا", "خط"),  # tanween alef
        ("خطوطا", "خطوط"),
        ("خطهم", "خط"),
        ("خطها", "خط"),
        ("خطهما", "خط"),
        ("خطكم", "خط"),
        ("خطنا", "خط"),
        ("خطي", "خط"),
        ("عبوات", "عبوه"),  # feminine plural → singular in «ة»
        ("عبوتين", "عبوه"),  # dual
        ("عبوته", "عبوه"),  # «ة» becomes «ت» before a pronoun
        ("سياراتهم", "سياره"),
        ("احمران", "احمر"),
        ("مسلحون", "مسلح"),
        ("مسلحين", "مسلح"),
        ("للمترو", "مترو"),
        ("بالقطار", "قطار"),
    ],
)
def test_stems_contain(token: str, stem: str) -> None:
    assert stem in stems(token)
    assert token in stems(token)


@pytest.mark.parametrize(
    ("token", "ta_marbuta", "not_stem"),
    [
        ("خطه", True, "خط"),  # «خطة»: the «ة» is not the pronoun «ه»
        ("بك", False, "ك"),  # never below two letters
        ("وا", False, "ا"),
        ("الي", False, "ي"),
        ("لل", False, ""),
        ("خط", False, "خ"),
    ],
)
def test_stems_do_not_over_strip(token: str, ta_marbuta: bool, not_stem: str) -> None:
    result = stems(token, ta_marbuta)
    assert not_stem not in result
    assert all(len(s) >= 2 for s in result)


def test_stems_strip_pronoun_ha_when_not_ta_marbuta() -> None:
    assert "خط" in stems("خطه", False)


@pytest.mark.parametrize(
    ("word", "keys"),
    [
        ("الخط", {"الخط", "خط"}),
        ("خط", {"خط"}),
        ("الي", {"الي"}),  # would leave one letter
        ("احمر", {"احمر"}),
    ],
)
def test_phrase_keys(word: str, keys: set[str]) -> None:
    assert phrase_keys(word) == keys


def test_phrase_written_with_article_matches_bare_form() -> None:
    ruleset = RuleSet.from_dicts(
        [{"id": "r", "title": "t", "severity": "low", "phrases": ["الخط الأحمر"]}]
    )
    (hit,) = ruleset.match({"body": "هذه خط احمر"})
    assert [(m.text, m.term) for m in hit.matches] == [("خط احمر", "الخط الأحمر")]


# --------------------------------------------------------------------------------------------
# Hits, deduplication, ordering, snippets
# --------------------------------------------------------------------------------------------


def test_hit_carries_rule_metadata() -> None:
    ruleset = rules({"version": 7, "title": "Red line declarations"})
    (hit,) = ruleset.match({"body": "خط احمر"})
    assert isinstance(hit, RuleHit)
    assert (hit.rule_id, hit.rule_version, hit.severity, hit.title) == (
        "red-line",
        7,
        "high",
        "Red line declarations",
    )


def test_hit_carries_the_english_title_when_the_rule_has_one() -> None:
    (with_en,) = rules({"title": "إعلان خط أحمر", "title_en": " Red line "}).match(
        {"body": "خط احمر"}
    )
    assert (with_en.title, with_en.title_en) == ("إعلان خط أحمر", "Red line")
    (without,) = rules().match({"body": "خط احمر"})
    assert without.title_en is None


def test_matches_in_title_and_body_in_order() -> None:
    title = "الفصائل: زينب خط احمر"
    body = "قالت الفصائل إن المنطقة خط أحمر، وإن الخطوط الحمراء واضحة."
    (hit,) = rules().match({"title": title, "body": body})
    fields = {"title": title, "body": body}
    assert [(m.field, m.text) for m in hit.matches] == [
        ("title", "خط احمر"),
        ("body", "خط أحمر"),
        ("body", "الخطوط الحمراء"),
    ]
    for m in hit.matches:
        assert fields[m.field][m.start : m.end] == m.text


def test_same_span_from_several_variants_is_reported_once_with_closest_variant() -> None:
    ruleset = RuleSet.from_dicts(
        [
            {
                "id": "r",
                "title": "t",
                "severity": "low",
                "phrases": ["خط احمر", "الخط الأحمر", "خط أحمر"],
            }
        ]
    )
    (hit,) = ruleset.match({"body": "الخط الأحمر ثم خط احمر"})
    assert [(m.text, m.term) for m in hit.matches] == [
        ("الخط الأحمر", "الخط الأحمر"),
        ("خط احمر", "خط احمر"),
    ]


def test_nested_match_is_dropped_in_favour_of_longer() -> None:
    ruleset = RuleSet.from_dicts(
        [
            {
                "id": "bomb",
                "title": "t",
                "severity": "high",
                "phrases": ["عبوة ناسفة", "انفجار عبوة ناسفة", "ناسفة"],
            }
        ]
    )
    (hit,) = ruleset.match({"body": "انفجار عبوة ناسفة في بغداد"})
    assert [(m.text, m.term) for m in hit.matches] == [("انفجار عبوة ناسفة", "انفجار عبوة ناسفة")]


def test_overlapping_matches_of_different_variants_are_both_reported() -> None:
    ruleset = RuleSet.from_dicts(
        [{"id": "bomb", "title": "t", "severity": "high", "phrases": ["انفجار عبوة", "عبوة ناسفة"]}]
    )
    (hit,) = ruleset.match({"body": "انفجار عبوة ناسفة"})
    assert [(m.text, m.start, m.end) for m in hit.matches] == [
        ("انفجار عبوة", 0, 11),
        ("عبوة ناسفة", 7, 17),
    ]


def test_rules_share_terms_but_report_their_own_variant() -> None:
    ruleset = RuleSet.from_dicts(
        [
            {"id": "a", "title": "A", "severity": "low", "phrases": ["عبوة ناسفة"]},
            {"id": "b", "title": "B", "severity": "high", "phrases": ["عبوه ناسفه"]},
        ]
    )
    hits = ruleset.match({"body": "عبوات ناسفة"})
    assert [(h.rule_id, h.matches[0].term, h.matches[0].text) for h in hits] == [
        ("a", "عبوة ناسفة", "عبوات ناسفة"),
        ("b", "عبوه ناسفه", "عبوات ناسفة"),
    ]


def test_snippet_is_single_line_and_cut_at_word_boundaries() -> None:
    words = [f"كلمة{i}" for i in range(40)]
    body = "سطر سابق\n" + " ".join(words[:20]) + " خط أحمر " + " ".join(words[20:]) + "\nسطر لاحق"
    (match,) = red_line_matches(body)
    assert "\n" not in match.snippet
    assert "خط أحمر" in match.snippet
    left, right = match.snippet.split("خط أحمر")
    assert 0 < len(left) <= 61 and 0 < len(right) <= 61
    assert set(match.snippet.split()) <= set(body.split())  # only whole words
    assert "سطر" not in match.snippet


def test_snippet_stays_in_paragraph() -> None:
    body = "عنوان\nالمنطقة خط أحمر.\nفقرة أخرى"
    (match,) = red_line_matches(body)
    assert match.snippet == "المنطقة خط أحمر."


def test_empty_and_missing_fields() -> None:
    assert rules().match({}) == []
    assert rules().match({"title": "", "body": ""}) == []


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_filters", "article", "fires"),
    [
        ({}, {}, True),
        ({"regions": ["IQ", "SY"]}, {"regions": ["SY"]}, True),
        ({"regions": ["iq"]}, {"regions": ["IQ"]}, True),
        ({"regions": ["IQ"]}, {"regions": ["lb", "iq"]}, True),
        ({"regions": ["IQ", "SY"]}, {"regions": ["LB"]}, False),
        ({"regions": ["IQ"]}, {}, False),
        ({"topics": ["security"]}, {"topics": ["security", "politics"]}, True),
        ({"topics": ["security"]}, {"topics": ["sport"]}, False),
        ({"topics": ["security"]}, {"regions": ["IQ"]}, False),
        ({"regions": ["IQ"], "topics": ["security"]}, {"regions": ["IQ"]}, False),
        (
            {"regions": ["IQ"], "topics": ["security"]},
            {"regions": ["IQ"], "topics": ["security"]},
            True,
        ),
        ({"sources": ["baghdadtoday"]}, {"source": "baghdadtoday"}, True),
        ({"sources": ["baghdadtoday"]}, {"source": "shafaq"}, False),
        ({"sources": ["baghdadtoday"]}, {}, False),
        ({}, {"regions": ["LB"], "topics": ["sport"], "source": "x"}, True),
    ],
)
def test_filters(rule_filters: dict[str, Any], article: dict[str, Any], fires: bool) -> None:
    ruleset = rules(rule_filters)
    hits = ruleset.match({"body": "المنطقة خط احمر"}, **article)
    assert bool(hits) is fires


def test_disabled_rule_is_not_compiled() -> None:
    ruleset = RuleSet.from_dicts(
        [
            {**RED_LINE, "enabled": False},
            {"id": "other", "title": "o", "severity": "low", "phrases": ["اغتيال"]},
        ]
    )
    assert len(ruleset) == 1
    assert ruleset.rule_ids == ["other"]
    assert ruleset.match({"body": "خط احمر"}) == []


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, r"rule 'red-line': field 'colour': unknown key"),
        ({"severity": "urgent"}, r"rule 'red-line': field 'severity'"),
        ({"severity": None}, r"rule 'red-line': field 'severity'"),
        ({"phrases": ["خط احمر", ""]}, r"rule 'red-line': field 'phrases': empty phrase"),
        ({"phrases": ["  ...  "]}, r"rule 'red-line': field 'phrases': empty phrase"),
        ({"phrases": []}, r"rule 'red-line': field 'phrases'"),
        ({"phrases": "خط احمر"}, r"rule 'red-line': field 'phrases'"),
        ({"phrases": [3]}, r"rule 'red-line': field 'phrases'"),
        ({"id": "Red Line"}, r"rule #1: field 'id'"),
        ({"id": ""}, r"rule #1: field 'id'"),
        ({"version": 0}, r"rule 'red-line': field 'version'"),
        ({"version": "2"}, r"rule 'red-line': field 'version'"),
        ({"version": True}, r"rule 'red-line': field 'version'"),
        ({"title": ""}, r"rule 'red-line': field 'title'"),
        ({"title_en": " "}, r"rule 'red-line': field 'title_en'"),
        ({"title_en": 3}, r"rule 'red-line': field 'title_en'"),
        ({"enabled": "yes"}, r"rule 'red-line': field 'enabled'"),
        ({"regions": "IQ"}, r"rule 'red-line': field 'regions'"),
        ({"topics": [""]}, r"rule 'red-line': field 'topics'"),
        ({"unless_near": ["مترو"]}, r"rule 'red-line': field 'unless_near'"),
        (
            {"unless_near": {"terms": ["مترو"], "distance": 2}},
            r"rule 'red-line': field 'unless_near.distance': unknown key",
        ),
        ({"unless_near": {"terms": []}}, r"rule 'red-line': field 'unless_near.terms'"),
        (
            {"unless_near": {"terms": ["مترو", "ـ"]}},
            r"rule 'red-line': field 'unless_near.terms': empty phrase",
        ),
        (
            {"unless_near": {"terms": ["مترو"], "within": -1}},
            r"rule 'red-line': field 'unless_near.within'",
        ),
    ],
)
def test_invalid_rule(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        RuleSet.from_dicts([{**RED_LINE, **change}])


def test_missing_required_field() -> None:
    rule = {k: v for k, v in RED_LINE.items() if k != "severity"}
    with pytest.raises(RuleError, match=r"rule 'red-line': field 'severity'"):
        RuleSet.from_dicts([rule])


def test_duplicate_id() -> None:
    with pytest.raises(RuleError, match=r"rule 'red-line': field 'id': duplicate"):
        RuleSet.from_dicts([RED_LINE, {**RED_LINE, "title": "again"}])


def test_rule_must_be_mapping() -> None:
    with pytest.raises(RuleError, match=r"rule #2: must be a mapping"):
        RuleSet.from_dicts([RED_LINE, ["not", "a", "rule"]])  # type: ignore[list-item]


def test_rule_error_is_value_error() -> None:
    assert issubclass(RuleError, ValueError)


def test_defaults() -> None:
    ruleset = RuleSet.from_dicts(
        [{"id": "r_1", "title": "t", "severity": "info", "phrases": ["اغتيال"]}]
    )
    (hit,) = ruleset.match({"body": "عملية اغتيال"})
    assert hit.rule_version == 1
    assert len(ruleset) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("rules: [\n", "not valid YAML"),
        ("- id: x\n", "'rules' list"),
        ("rulez: []\n", "'rules' list"),
        ("rules: []\nextra: 1\n", "unknown top-level key 'extra'"),
        ("rules:\n  - id: x\n    title: t\n    severity: bad\n    phrases: [a]\n", "'x'"),
    ],
)
def test_from_yaml_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RuleError, match=message):
        RuleSet.from_yaml(path)


def test_from_yaml_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - id: kidnap\n"
        "    title: Kidnapping\n"
        "    severity: medium\n"
        "    phrases: [اختطاف]\n",
        encoding="utf-8",
    )
    ruleset = RuleSet.from_yaml(str(path))
    assert ruleset.rule_ids == ["kidnap"]
    (hit,) = ruleset.match({"body": "عملية اختطافٍ جديدة"})
    assert hit.matches[0].text == "اختطافٍ"


def test_empty_ruleset() -> None:
    ruleset = RuleSet.from_dicts([])
    assert len(ruleset) == 0
    assert ruleset.rule_ids == []
    assert ruleset.match({"body": "خط احمر"}) == []


# --------------------------------------------------------------------------------------------
# Default pack and the reference article
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_pack() -> RuleSet:
    return RuleSet.from_yaml(default_rules_path())


def test_default_rules_path() -> None:
    path = default_rules_path()
    assert path.is_file()
    assert path.parts[-3:] == ("deploy", "rules", "default.yaml")


def test_default_pack_loads(default_pack: RuleSet) -> None:
    assert len(default_pack) >= 6
    assert default_pack.rule_ids[0] == "red-line"
    assert {
        "red-line",
        "factions-redeployment",
        "bombing-ied",
        "drone-strike",
        "assassination",
        "kidnapping",
    } <= set(default_pack.rule_ids)
    (hit,) = default_pack.match({"body": "خط احمر"})
    assert hit.severity == "high"


_ARABIC_LETTER = re.compile("[\u0621-\u064a]")


def test_default_pack_titles_are_arabic_with_an_english_title() -> None:
    """What analysts read is Arabic: every rule of the default pack has an Arabic `title` (no
    Latin letters: a bidi mix renders badly) and its English `title_en`."""
    pack = load_rule_file(default_rules_path())
    assert pack.problems == [] and pack.specs
    for spec in pack.specs:
        assert _ARABIC_LETTER.search(spec.title), spec.id
        assert not re.search("[A-Za-z]", spec.title), spec.id
        assert spec.title_en and re.search("[A-Za-z]", spec.title_en), spec.id
        assert not _ARABIC_LETTER.search(spec.title_en), spec.id


@pytest.mark.parametrize(("form", "term"), [pytest.param(f, t, id=f) for f, t in RED_LINE_FORMS])
def test_default_pack_red_line_forms(default_pack: RuleSet, form: str, term: str) -> None:
    hits = default_pack.match({"body": f"قال إن ذلك {form} بالنسبة لنا"})
    assert [(h.rule_id, [m.text for m in h.matches]) for h in hits] == [("red-line", [form])]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_default_pack_red_line_near_misses(default_pack: RuleSet, text: str) -> None:
    hits = default_pack.match({"body": text})
    assert "red-line" not in [h.rule_id for h in hits]


@pytest.mark.parametrize(
    ("text", "rule_id", "matched"),
    [
        ("انفجار عبوةٍ ناسفةٍ في الطارمية", "bombing-ied", "عبوةٍ ناسفةٍ"),
        ("تفكيك عبوتين ناسفتين", "bombing-ied", "عبوتين ناسفتين"),
        ("انفجار سيارة مفخخة", "bombing-ied", "سيارة مفخخة"),
        ("هجوم بطائرةٍ مسيّرة على قاعدة", "drone-strike", "بطائرةٍ مسيّرة"),
        ("غارات جوية على دير الزور", "drone-strike", "غارات جوية"),
        ("محاولة اغتيال فاشلة", "assassination", "محاولة اغتيال"),
        ("واغتيل ناشط في البصرة", "assassination", "واغتيل"),
        ("باختطاف صحفي", "kidnapping", "باختطاف"),
        ("قذائف الهاون سقطت", "rocket-attack", "قذائف الهاون"),
        ("إعادة انتشار الفصائل المسلحة", "factions-redeployment", "إعادة انتشار"),
        ("قوات الحشد الشعبي", "factions-redeployment", "الحشد الشعبي"),
    ],
)
def test_default_pack_other_rules(
    default_pack: RuleSet, text: str, rule_id: str, matched: str
) -> None:
    hits = {h.rule_id: h for h in default_pack.match({"body": text})}
    assert rule_id in hits
    assert matched in [m.text for m in hits[rule_id].matches]


def test_reference_article_whole_text(default_pack: RuleSet) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    hits = default_pack.match({"body": text}, regions=["IQ", "SY"])
    red = [h for h in hits if h.rule_id == "red-line"]
    assert len(red) == 1  # exactly one alert
    (hit,) = red
    assert hit.severity == "high"
    # once in the headline, once in the quote; both written «خط احمر»
    positions = [m.start() for m in re.finditer("خط احمر", text)]
    assert [(m.field, m.text, m.start, m.end) for m in hit.matches] == [
        ("body", "خط احمر", p, p + len("خط احمر")) for p in positions
    ]
    assert len(positions) == 2
    assert all("منطقة السيدة زينب خط احمر" in m.snippet for m in hit.matches)
    # the other rules that fire on this article (documented in the report); the article
    # names «جبهة تحرير الشام», which the named-armed-groups rule of the grown pack reports
    assert [h.rule_id for h in hits] == [
        "red-line",
        "factions-redeployment",
        "shrines-threat",
        "named-armed-groups",
    ]


def test_reference_article_title_and_body(default_pack: RuleSet) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    title = "الفصائل تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر ولن نتوانى بالدفاع عنها"
    body = text[text.index("اكد مصدر") :]
    fields = {"title": title, "body": body}
    (hit,) = [h for h in default_pack.match(fields) if h.rule_id == "red-line"]
    assert [(m.field, m.text) for m in hit.matches] == [
        ("title", "خط احمر"),
        ("body", "خط احمر"),
    ]
    for m in hit.matches:
        assert fields[m.field][m.start : m.end] == m.text
        assert normalize(m.text) == "خط احمر"
