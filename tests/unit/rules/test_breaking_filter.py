"""Rules may require breaking news (issue 15): `breaking: true` fires only on items marked
breaking, `false` never on them, no key on both; the enriched article carries the mark."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.rules import RuleError, RuleSet
from streams.settings import Settings
from streams.validation import schema_errors
from streams.worker.pipeline import Pipeline


def rule(**extra: Any) -> RuleSet:
    spec = {"id": "r", "title": "t", "severity": "low", "match": "انفجار", **extra}
    return RuleSet.from_dicts([spec])


@pytest.mark.parametrize(
    ("breaking_rule", "breaking_item", "fires"),
    [
        (None, False, True),
        (None, True, True),
        (True, True, True),
        (True, False, False),
        (False, False, True),
        (False, True, False),
    ],
)
def test_the_breaking_filter(breaking_rule: bool | None, breaking_item: bool, fires: bool) -> None:
    extra = {} if breaking_rule is None else {"breaking": breaking_rule}
    hits = rule(**extra).match({"body": "انفجار قرب ساحة التحرير"}, breaking=breaking_item)
    assert bool(hits) is fires


def test_breaking_must_be_a_boolean() -> None:
    with pytest.raises(RuleError, match="breaking"):
        rule(breaking="yes")


def test_a_breaking_line_is_marked_and_matched_end_to_end() -> None:
    pipe = Pipeline.load(Settings())
    pipe.rules = RuleSet.from_dicts(
        [
            {
                "id": "breaking-blast",
                "title": "انفجار عاجل",
                "severity": "high",
                "match": "انفجار",
                "breaking": True,
            }
        ]
    )
    for body, breaking in (
        ("عاجل | انفجار قرب ساحة التحرير وسط بغداد", True),
        ("انفجار قرب ساحة التحرير وسط بغداد صباح اليوم بحسب مصدر أمني", False),
    ):
        raw = orjson.dumps({"schema_version": 1, "source": "desk", "body": body})
        enriched, alerts = pipe.classify(raw)
        assert schema_errors("enriched-article", enriched) == []
        assert enriched["schema_version"] == 3
        assert enriched["breaking"] is breaking
        assert [a["rule"] for a in alerts] == (["breaking-blast"] if breaking else [])
