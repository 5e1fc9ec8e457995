"""The matcher evaluates a rule only when one term of EVERY group it requires occurred (not
just its trigger), so a large rule set costs little for rules half-present in an article; and
what fires is exactly what full evaluation finds."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest

from streams.rules import RuleSet


def _rules(match: dict[str, Any]) -> RuleSet:
    return RuleSet.from_dicts([{"id": "r", "title": "t", "severity": "low", "match": match}])


ALL = {"all": [{"phrase": ["خط احمر"]}, {"phrase": ["مجلس الامن"]}]}
NEAR = {"near": {"terms": ["صاروخ", "مطار"], "within": 4}}
ANY_OF_ALL = {"any": [ALL, {"phrase": ["هدنة"]}]}
NOT = {"all": [{"phrase": ["خط احمر"]}, {"not": {"phrase": ["تمرين"]}}]}


@pytest.mark.parametrize(
    ("match", "text", "evaluated", "fires"),
    [
        (ALL, "قال إن هذا خط أحمر.", False, False),  # one part only: not even evaluated
        (ALL, "مجلس الأمن يجتمع.", False, False),
        (ALL, "قال أمام مجلس الأمن إن هذا خط أحمر.", True, True),
        (NEAR, "سقط صاروخ في الحقل.", False, False),
        (NEAR, "سقط صاروخ قرب المطار.", True, True),
        (NEAR, "سقط صاروخ في الحقل الواسع البعيد جدا عن مدرج المطار.", True, False),
        (ANY_OF_ALL, "أعلنت هدنة.", True, True),  # `any`: one of its triggers suffices
        (ANY_OF_ALL, "قال إن هذا خط أحمر.", True, False),
        (NOT, "قال إن هذا خط أحمر.", True, True),  # `not` requires nothing to occur
        (NOT, "خط أحمر في تمرين.", True, False),
    ],
)
def test_a_rule_is_evaluated_only_when_every_required_group_occurred(
    match: dict[str, Any], text: str, evaluated: bool, fires: bool
) -> None:
    rules = _rules(match)
    calls: list[object] = []
    real = RuleSet._eval

    def counting(self: RuleSet, expr: Any, scans: Any) -> Any:
        calls.append(expr)
        return real(self, expr, scans)

    with patch.object(RuleSet, "_eval", counting):
        hits = rules.match({"body": text})
    assert bool(calls) == evaluated
    assert bool(hits) == fires


def test_a_phrase_never_spans_a_break_even_when_checked_late() -> None:
    """Breaks are looked at only when a multi-word term is found: the result is the same."""
    rules = _rules({"phrase": ["خط احمر جديد"]})
    assert rules.match({"body": "هذا خط أحمر جديد"})
    assert not rules.match({"body": "هذا خط. أحمر جديد"})
    assert not rules.match({"body": "هذا خط أحمر. جديد"})
    assert not rules.match({"body": "هذا خط أحمر\nجديد"})


def test_same_sentence_counts_sentence_ends_between_the_tokens() -> None:
    rules = _rules({"same_sentence": ["صاروخ", "مطار"]})
    assert rules.match({"body": "قبل ذلك. سقط صاروخ، قرب المطار الدولي. ثم هدأ"})
    assert not rules.match({"body": "سقط صاروخ. أغلق المطار"})
    assert not rules.match({"body": "سقط صاروخ!! وأغلق المطار"})
    assert not rules.match({"body": "سقط صاروخ\nأغلق المطار"})
