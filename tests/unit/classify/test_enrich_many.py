"""`enrich_many` (issue 13, round fifteen): several articles enriched step by step (every field
tokenised and scanned, then the regions of all, then the topics of all) give exactly the
messages `enrich` gives one by one, in the same order, whatever the mix of articles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.classify.enrich import enrich, enrich_many, parse_raw
from streams.classify.topics import classify_topics, classify_topics_many
from streams.model import ParsedArticle
from streams.settings import Settings
from streams.worker.pipeline import Pipeline

NOW = datetime(2024, 12, 1, 12, 0, tzinfo=UTC)
SAMPLE = Path(__file__).parents[2] / "fixtures" / "baghdadtoday-2024-12-01-sayyida-zaynab.txt"

RAWS: list[dict[str, Any]] = [
    {"source": "baghdadtoday", "body": SAMPLE.read_text("utf-8")},
    {
        "source": "agency",
        "title": "انفجار عبوة ناسفة في الموصل",
        "body": "الموصل - أفاد مصدر أمني بانفجار عبوة ناسفة قرب سوق المدينة صباح اليوم.",
    },
    {"source": "x", "body": "RT @AJABreaking: عاجل | قوى الحرية والتغيير في #السودان: بيان"},
    {
        "source": "desk",
        "title": "البنك المركزي يرفع سعر الفائدة",
        "body": "قال البنك المركزي المصري إنه رفع سعر الفائدة لمواجهة التضخم https://t.co/x",
        "published_at": "2024-11-30T09:00:00+03:00",
        "url": "https://example.com/a/1",
    },
    {"source": "sport", "title": "الهلال يفوز على النصر", "body": "فاز الهلال على النصر 2-1."},
    {"source": "empty-ish", "title": "غزة", "body": "غزة"},
    {"source": "latin", "body": "Reuters: talks in Doha ended without a deal, officials said."},
]


def _items(raws: list[dict[str, Any]]) -> list[tuple[dict[str, Any], ParsedArticle]]:
    return [(raw, parse_raw(raw, tz=UTC, now=NOW)) for raw in raws]


@pytest.mark.parametrize(
    "picked",
    [
        pytest.param([], id="none"),
        pytest.param([0], id="one-article"),
        pytest.param([2], id="one-post"),
        pytest.param(list(range(len(RAWS))), id="all-in-order"),
        pytest.param(list(range(len(RAWS)))[::-1], id="all-reversed"),
        pytest.param([1, 1, 3, 1], id="repeats"),  # the same fields again within one call
        pytest.param([0, 1, 2, 3, 4, 5, 6] * 3, id="more-fields-than-8-recent"),
    ],
)
def test_enrich_many_gives_what_enrich_gives_one_by_one(picked: list[int]) -> None:
    items = _items([RAWS[i] for i in picked])
    one_by_one = [enrich(raw, parsed, now=NOW) for raw, parsed in items]
    together = enrich_many(items, now=NOW)
    assert orjson.dumps(together) == orjson.dumps(one_by_one)  # same keys, order and values


def test_the_pipeline_checks_and_returns_the_same_messages() -> None:
    pipe = Pipeline.load(Settings())
    parsed = [pipe.parse(orjson.dumps(raw), NOW) for raw in RAWS]
    one_by_one = [pipe.enrich(raw, article, NOW) for raw, article in parsed]
    assert pipe.enrich_many(parsed, NOW) == one_by_one
    assert [m["regions"] for m in one_by_one[:2]] != [[], []]  # the table classifies something


@pytest.mark.parametrize(
    "picked",
    [
        pytest.param([], id="none"),
        pytest.param([1], id="one"),
        pytest.param(list(range(len(RAWS))), id="all"),
        pytest.param([4, 2, 4], id="repeats"),
    ],
)
@pytest.mark.parametrize(
    "section",
    [
        pytest.param(None, id="no-section"),
        pytest.param("رياضة", id="a-section-that-names-a-topic"),
        pytest.param("أخبار", id="a-section-that-does-not"),
    ],
)
def test_classify_topics_many_gives_what_classify_topics_gives(
    picked: list[int], section: str | None
) -> None:
    items = [(p.title, p.body, section) for _, p in _items([RAWS[i] for i in picked])] + [
        ("#كاريكاتير | رسم اليوم", "رسم", section)
    ]  # a genre mark: decided by the lexicons
    assert classify_topics_many(items) == [
        classify_topics(title, body, section=s) for title, body, s in items
    ]
