"""The rule language: every operator (phrase, list, any, all, not, near, same_sentence,
min_count, unless_near, filters), its Arabic edge cases, and the validation messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from streams.rules import (
    RuleError,
    RuleSet,
    check_rule_tests,
    default_rules_path,
    load_rule_file,
    parse_document,
)

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "schemas" / "rules.v1.json").read_text(encoding="utf-8")
)


def one(match: Any, lists: dict[str, Any] | None = None, **extra: Any) -> RuleSet:
    rule = {"id": "r", "title": "t", "severity": "low", "match": match, **extra}
    return RuleSet.from_dicts([rule], lists)


def fires(ruleset: RuleSet, text: str, **article: Any) -> bool:
    return bool(ruleset.match({"body": text}, **article))


def texts(ruleset: RuleSet, text: str) -> list[str]:
    return [m.text for h in ruleset.match({"body": text}) for m in h.matches]


# --------------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------------

FACTIONS = {"factions": ["الحشد الشعبي", "كتائب حزب الله", "عصائب أهل الحق"]}

OPERATOR_CASES: list[Any] = [
    # phrase: a string, or a list of variants (singular and broken plural)
    ("phrase-str", "عبوة ناسفة", None, "انفجار عبوتين ناسفتين", True),
    ("phrase-plural", {"phrase": ["عبوة ناسفة", "عبوات ناسفة"]}, None, "عبواتٌ ناسفة", True),
    ("phrase-clitics", {"phrase": "طائرة مسيرة"}, None, "وبطائرةٍ مسيّرةٍ", True),
    ("phrase-miss", {"phrase": "عبوة ناسفة"}, None, "عبوة مياه", False),
    # list: a named term list from `lists:`
    ("list-hit", {"list": "factions"}, FACTIONS, "بيان لكتائب حزب الله", True),
    ("list-hit-article", {"list": "factions"}, FACTIONS, "قوات الحشد الشعبي", True),
    ("list-miss", {"list": "factions"}, FACTIONS, "حزب الله اللبناني", False),
    # any / all / not
    ("any", {"any": ["اغتيال", "اختطاف"]}, None, "عملية اختطاف", True),
    ("any-miss", {"any": ["اغتيال", "اختطاف"]}, None, "عملية تهريب", False),
    ("all", {"all": ["قصف", "مطار"]}, None, "قصف قرب مطار بغداد", True),
    ("all-one-missing", {"all": ["قصف", "مطار"]}, None, "قصف على بلدة", False),
    ("all-across-sentences", {"all": ["قصف", "مطار"]}, None, "قصف. ثم أغلق المطار", True),
    ("not-absent", {"all": ["انفجار", {"not": "غاز"}]}, None, "انفجار في السوق", True),
    ("not-present", {"all": ["انفجار", {"not": "غاز"}]}, None, "انفجار أنبوب غاز", False),
    (
        "not-clitic",
        {"all": ["انفجار", {"not": {"phrase": "تمرين"}}]},
        None,
        "انفجار خلال التمرين",
        False,
    ),
    # near: any order, within N tokens (1 = adjacent)
    (
        "near-order-1",
        {"near": {"terms": ["الفصائل", "انتشار"], "within": 3}},
        None,
        "انتشار الفصائل",
        True,
    ),
    (
        "near-order-2",
        {"near": {"terms": ["الفصائل", "انتشار"], "within": 3}},
        None,
        "الفصائل أعادت انتشارها",
        True,
    ),
    (
        "near-too-far",
        {"near": {"terms": ["الفصائل", "انتشار"], "within": 2}},
        None,
        "الفصائل قررت بعد اجتماع انتشار",
        False,
    ),
    (
        "near-three-terms",
        {"near": {"terms": ["صواريخ", "قاعدة", "سقوط"], "within": 4}},
        None,
        "سقوط صواريخ على قاعدة عين الأسد",
        True,
    ),
    (
        "near-three-one-far",
        {"near": {"terms": ["صواريخ", "قاعدة", "سقوط"], "within": 4}},
        None,
        "سقوط صواريخ في منطقة زراعية بعيدة جدا عن أي قاعدة",
        False,
    ),
    (
        "near-group-variants",
        {"near": {"terms": [["مسيرة", "مسيرات"], ["استهدفت", "قصفت"]], "within": 2}},
        None,
        "مسيرات قصفت موقعا",
        True,
    ),
    (
        "near-list-group",
        {"near": {"terms": [{"list": "factions"}, "استنفار"], "within": 3}},
        FACTIONS,
        "استنفار في صفوف عصائب أهل الحق",
        True,
    ),
    # same_sentence: «.» «؟» «؛» and line breaks end a sentence; «،» and «:» do not
    (
        "same-sentence",
        {"same_sentence": ["هجوم", "كركوك"]},
        None,
        "هجوم مسلح، بحسب مصادر أمنية في محافظة كركوك",
        True,
    ),
    (
        "same-sentence-split",
        {"same_sentence": ["هجوم", "كركوك"]},
        None,
        "هجوم مسلح. وفي كركوك أمطار",
        False,
    ),
    (
        "same-sentence-question",
        {"same_sentence": ["هجوم", "كركوك"]},
        None,
        "هل وقع هجوم؟ كركوك هادئة",
        False,
    ),
    ("same-sentence-line", {"same_sentence": ["هجوم", "كركوك"]}, None, "هجوم\nكركوك", False),
    (
        "near-and-same-sentence",
        {"near": {"terms": ["هجوم", "كركوك"], "within": 5, "same_sentence": True}},
        None,
        "هجوم. كركوك",
        False,
    ),
    # min_count: K occurrences (distinct places) of the leaf's phrases
    ("min-count-met", {"phrase": "اشتباكات", "min_count": 2}, None, "اشتباكات ثم اشتباكات", True),
    (
        "min-count-variants",
        {"phrase": ["اشتباك", "اشتباكات"], "min_count": 2},
        None,
        "اشتباك واشتباكات",
        True,
    ),
    ("min-count-short", {"phrase": "اشتباكات", "min_count": 2}, None, "اشتباكات عنيفة", False),
    # unless_near inside the expression
    (
        "unless-near",
        {"phrase": "الخط الأحمر", "unless_near": {"terms": ["مترو"], "within": 2}},
        None,
        "الخط الأحمر للمترو",
        False,
    ),
    (
        "unless-near-far",
        {"phrase": "الخط الأحمر", "unless_near": {"terms": ["مترو"], "within": 2}},
        None,
        "السيادة خط أحمر وقد افتتح الوزير أمس محطة المترو",
        True,
    ),
    (
        "unless-near-list",
        {"phrase": "الخط الأحمر", "unless_near": {"terms": [{"list": "transport"}], "within": 2}},
        {"transport": ["مترو", "قطار", "أنفاق"]},
        "قطارات الخط الأحمر",
        False,
    ),
    (
        "unless-near-min-count",
        {"phrase": "خط احمر", "min_count": 2, "unless_near": {"terms": ["مترو"], "within": 1}},
        None,
        "خط احمر للمترو وخط احمر آخر",
        False,
    ),
    # nesting
    (
        "nested",
        {
            "any": [
                {"all": ["قصف", {"not": "تمرين"}]},
                {"near": {"terms": ["غارة", "جوية"], "within": 1}},
            ]
        },
        None,
        "غارة جوية على الحدود",
        True,
    ),
]


@pytest.mark.parametrize(
    ("match", "lists", "text", "expected"),
    [pytest.param(m, ls, t, e, id=name) for name, m, ls, t, e in OPERATOR_CASES],
)
def test_operator(match: Any, lists: dict[str, Any] | None, text: str, expected: bool) -> None:
    assert fires(one(match, lists), text) is expected


def test_matches_report_the_positive_occurrences_with_offsets() -> None:
    ruleset = one({"near": {"terms": ["الفصائل", ["انتشار", "تموضع"]], "within": 3}})
    text = "قررت الفصائل إعادة انتشارها حول المرقد"
    (hit,) = ruleset.match({"body": text})
    assert [(m.text, m.term) for m in hit.matches] == [
        ("الفصائل", "الفصائل"),
        ("انتشارها", "انتشار"),
    ]
    for m in hit.matches:
        assert text[m.start : m.end] == m.text


def test_not_contributes_no_match_and_all_reports_every_part() -> None:
    ruleset = one({"all": ["قصف", "مطار", {"not": "تمرين"}]})
    assert texts(ruleset, "قصف استهدف مطار أربيل") == ["قصف", "مطار"]


def test_near_in_title_and_body_is_per_field() -> None:
    ruleset = one({"near": {"terms": ["هجوم", "كركوك"], "within": 3}})
    assert ruleset.match({"title": "هجوم جديد", "body": "في كركوك"}) == []
    assert ruleset.match({"title": "هجوم في كركوك", "body": ""})


def test_all_across_title_and_body() -> None:
    ruleset = one({"all": ["هجوم", "كركوك"]})
    (hit,) = ruleset.match({"title": "هجوم جديد", "body": "في كركوك"})
    assert [(m.field, m.text) for m in hit.matches] == [("title", "هجوم"), ("body", "كركوك")]


def test_lang_filter() -> None:
    ruleset = one("اغتيال", lang=["ar"])
    assert fires(ruleset, "اغتيال", lang="ar")
    assert fires(ruleset, "اغتيال", lang="AR")
    assert not fires(ruleset, "اغتيال", lang="fa")
    assert not fires(ruleset, "اغتيال")


def test_filters_with_match_expression() -> None:
    ruleset = one({"all": ["قصف", "مطار"]}, regions=["IQ"], topics=["security"], sources=["ina"])
    text = "قصف مطار"
    assert fires(ruleset, text, regions=["IQ"], topics=["security"], source="ina")
    assert not fires(ruleset, text, regions=["SY"], topics=["security"], source="ina")
    assert not fires(ruleset, text, regions=["IQ"], topics=["sport"], source="ina")
    assert not fires(ruleset, text, regions=["IQ"], topics=["security"], source="x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("قصف بالطائرات المسيّرة", True),  # clitics + harakat + definite plural
        ("قصفٌ بطائرةٍ مُسيَّرةٍ", True),
        ("قصـــف بطائرة مسيرة", True),  # tatweel
        ("قصف بطائره مسيره", True),  # ta marbuta written as ha
        ("قصف بطائرة\u200cمسيرة", False),  # ZWNJ joins the words: one token, no match
        ("قصف بالطائرة. مسيرة شعبية", False),  # a phrase never crosses a sentence end
    ],
)
def test_arabic_edge_cases(text: str, expected: bool) -> None:
    ruleset = one({"all": ["قصف", {"phrase": ["طائرة مسيرة", "طائرات مسيرة"]}]})
    assert fires(ruleset, text) is expected


def test_only_rules_whose_terms_occur_are_evaluated() -> None:
    ruleset = RuleSet.from_dicts(
        [
            {
                "id": f"r{i}",
                "title": "t",
                "severity": "low",
                "match": {"all": [f"كلمة{i}", {"not": "لا"}]},
            }
            for i in range(50)
        ]
    )
    assert [h.rule_id for h in ruleset.match({"body": "نص فيه كلمة7 فقط"})] == ["r7"]
    assert ruleset.term_count == 51  # 50 positive terms and the shared negative one


def test_legacy_flat_form_equals_match_form() -> None:
    legacy = RuleSet.from_dicts(
        [
            {
                "id": "r",
                "title": "t",
                "severity": "low",
                "phrases": ["خط احمر"],
                "unless_near": {"terms": ["مترو"], "within": 3},
            }
        ]
    )
    modern = one({"phrase": ["خط احمر"], "unless_near": {"terms": ["مترو"], "within": 3}})
    for text in ["الخط الأحمر", "الخط الأحمر للمترو", "خطوط حمراء"]:
        assert fires(legacy, text) == fires(modern, text), text


# --------------------------------------------------------------------------------------------
# Validation: one problem per mistake, naming rule and field
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "field", "message"),
    [
        ({"phrase": "مترو|قطار"}, "match.phrase", "regex syntax is not supported"),
        ({"phrase": "(خط) احمر"}, "match.phrase", "regex syntax"),
        ({"phrase": "خط.*احمر"}, "match.phrase", "regex syntax"),
        ({"phrase": ""}, "match.phrase", "empty phrase"),
        ({"phrase": "ـــ"}, "match.phrase", "empty phrase"),
        ({"phrase": []}, "match.phrase", "non-empty list"),
        ({"list": "nope"}, "match.list", "list 'nope' is referenced but not defined"),
        ({"any": []}, "match.any", "non-empty list"),
        ({"any": ["قصف", {"phrase": "|"}]}, "match.any[1].phrase", "regex"),
        ({"all": ["قصف"], "any": ["قصف"]}, "match", "exactly one of"),
        ({"colour": "red"}, "match", "exactly one of"),
        ({"phrase": "قصف", "colour": "red"}, "match.colour", "unknown key"),
        ({"any": ["قصف"], "min_count": 2}, "match.min_count", "unknown key"),
        ({"phrase": "قصف", "min_count": 0}, "match.min_count", "positive integer"),
        ({"near": {"terms": ["قصف"], "within": 2}}, "match.near.terms", "at least two"),
        ({"near": {"terms": ["قصف", "مطار"]}}, "match.near", "within"),
        ({"near": {"terms": ["قصف", "مطار"], "within": -1}}, "match.near.within", "integer"),
        ({"near": {"terms": ["قصف", "مطار"], "within": 2, "gap": 1}}, "match.near.gap", "unknown"),
        ({"not": "قصف"}, "match", "none of its terms"),
        ({"any": ["قصف", {"not": "مطار"}]}, "match", "none of its terms"),
        (
            {"phrase": "قصف", "unless_near": {"terms": ["مترو"], "within": "3"}},
            "match.unless_near.within",
            "integer",
        ),
        (42, "match", "must be a phrase or a mapping"),
    ],
)
def test_invalid_match(match: Any, field: str, message: str) -> None:
    with pytest.raises(RuleError) as info:
        one(match)
    assert any(p.field == field and message in p.message for p in info.value.problems), [
        str(p) for p in info.value.problems
    ]
    assert all(p.rule == "'r'" for p in info.value.problems)


def test_every_problem_is_reported_once() -> None:
    doc = parse_document(
        {
            "rules": [
                {"id": "a", "title": "", "severity": "urgent", "colour": 1, "match": "قصف"},
                {"id": "b", "title": "t", "severity": "low", "match": {"list": "missing"}},
                {"id": "a", "title": "t", "severity": "low", "match": "قصف"},
                {"id": "c", "title": "t", "severity": "low"},
                {"id": "d", "title": "t", "severity": "low", "match": "قصف", "phrases": ["قصف"]},
            ]
        },
        "rules.yaml",
    )
    assert [str(p) for p in doc.problems] == [
        "rules.yaml: rule 'a': field 'colour': unknown key (allowed: breaking, description, enabled, id, "
        "lang, match, owner, phrases, regions, severity, sources, tags, tests, title, title_en, topics, "
        "unless_near, version)",
        "rules.yaml: rule 'a': field 'title': must be a non-empty string",
        "rules.yaml: rule 'a': field 'severity': must be one of info, low, medium, high, "
        "critical, got 'urgent'",
        "rules.yaml: rule 'b': field 'match.list': list 'missing' is referenced but not defined "
        "(under 'lists:')",
        "rules.yaml: rule 'a': field 'id': duplicate rule id",
        "rules.yaml: rule 'c': field 'match': missing: every rule needs a 'match' expression",
        "rules.yaml: rule 'd': field 'match': give either 'match' or the older "
        "'phrases'/'unless_near', not both",
    ]


def test_list_problems() -> None:
    doc = parse_document(
        {"lists": {"Bad Name": ["x"], "ok": ["قطار", "مترو|ترام"], "empty": []}, "rules": []}, "f"
    )
    assert [(p.field, p.message.split(" (")[0]) for p in doc.problems] == [
        ("lists", "list name 'Bad Name' must be a lowercase slug"),
        ("lists.ok", "regex syntax is not supported in phrase 'مترو|ترام'"),
        ("lists.empty", "must be a non-empty list of phrases"),
    ]


def test_rule_tests_are_checked() -> None:
    doc = parse_document(
        {
            "rules": [
                {
                    "id": "r",
                    "title": "t",
                    "severity": "low",
                    "match": "اغتيال",
                    "tests": {"fires": ["محاولة اغتيال", "خطف"], "quiet": ["اغتيال الشخصية"]},
                }
            ]
        },
        "f.yaml",
    )
    assert doc.problems == []
    assert [str(p) for p in check_rule_tests(doc.specs, "f.yaml")] == [
        "f.yaml: rule 'r': field 'tests.fires': does not fire on 'خطف'",
        "f.yaml: rule 'r': field 'tests.quiet': fires on 'اغتيال الشخصية'",
    ]


# --------------------------------------------------------------------------------------------
# The default pack: valid, schema-clean, every rule tested and its tests pass
# --------------------------------------------------------------------------------------------


def test_default_pack_passes_its_own_tests() -> None:
    doc = load_rule_file(default_rules_path())
    assert doc.problems == []
    assert all(spec.tests for spec in doc.specs), "every default rule carries tests"
    assert all(any(f for _, f in s.tests) and any(not f for _, f in s.tests) for s in doc.specs)
    assert check_rule_tests(doc.specs) == []


def test_default_pack_covers_the_issue() -> None:
    ids = set(RuleSet.from_yaml(default_rules_path()).rule_ids)
    assert {
        "red-line",
        "assassination",
        "bombing-ied",
        "drone-strike",
        "armed-clashes",
        "kidnapping",
        "rocket-attack-base-embassy",
        "factions-redeployment",
        "shrines-threat",
        "named-armed-groups",
    } <= ids


def test_default_pack_matches_the_json_schema() -> None:
    data = yaml.safe_load(default_rules_path().read_text(encoding="utf-8"))
    assert list(Draft202012Validator(SCHEMA).iter_errors(data)) == []


@pytest.mark.parametrize(
    "rule",
    [
        {"id": "r", "title": "t", "severity": "urgent", "match": "قصف"},
        {"id": "r", "title": "t", "severity": "low", "match": "قصف", "colour": "red"},
        {"id": "r", "title": "t", "severity": "low", "match": {"phrase": "مترو|قطار"}},
        {"id": "R R", "title": "t", "severity": "low", "match": "قصف"},
        {"id": "r", "title": "t", "severity": "low"},
        {"id": "r", "title": "t", "severity": "low", "match": {"near": {"terms": ["a", "b"]}}},
    ],
)
def test_schema_rejects_what_the_validator_rejects(rule: dict[str, Any]) -> None:
    assert list(Draft202012Validator(SCHEMA).iter_errors({"rules": [rule]}))
    assert parse_document({"rules": [rule]}).problems


def test_matches_per_hit_are_capped_title_first() -> None:
    ruleset = one("اشتباكات")
    body = " ".join(["اشتباكات"] * 40)
    (hit,) = ruleset.match({"title": "اشتباكات", "body": body})
    assert len(hit.matches) == 20
    assert hit.matches[0].field == "title"
    assert [m.start for m in hit.matches[1:]] == [i * len("اشتباكات ") for i in range(19)]


def test_a_phrase_checked_before_gives_the_same_result_and_a_bad_one_is_reported_again() -> None:
    """Checked phrases are remembered (a reload checks every phrase of every rule again): the
    remembered one is the same as a fresh check, and an invalid phrase is never remembered."""
    from streams.rules import parse_rule
    from streams.rules.spec import _PHRASES, Leaf

    written = "  الخطوط   الحمراء "
    _PHRASES.pop(written, None)
    rule = {"id": "r", "title": "t", "severity": "low", "match": {"phrase": written}}
    first, second = parse_rule(rule), parse_rule({**rule, "match": {"phrase": [written]}})
    assert first.expr == second.expr
    assert isinstance(second.expr, Leaf)
    (phrase,) = second.expr.phrases
    assert (phrase.written, phrase.words) == ("الخطوط الحمراء", ("الخطوط", "الحمراء"))
    assert _PHRASES[written] is phrase
    bad = {**rule, "match": {"phrase": "مترو|قطار"}}
    for _ in range(2):
        with pytest.raises(RuleError, match="regex syntax is not supported"):
            parse_rule(bad, position=0, file="f.yaml")
    assert "مترو|قطار" not in _PHRASES
