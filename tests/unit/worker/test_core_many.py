"""`Pipeline.core_many`: a batch parsed, enriched and matched stage by stage gives each article
exactly what one article at a time gives, and leaves to the caller (None) every article whose
failure or deadline must be found alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

import orjson
import pytest

from streams.settings import Settings
from streams.worker.pipeline import Core, Pipeline
from tests.conftest import SAMPLE

NOW = datetime(2024, 12, 1, 9, 0, tzinfo=UTC)
PIPE = Pipeline.load(Settings())


def _raw(body: str, **extra: Any) -> bytes:
    return orjson.dumps({"schema_version": 1, "source": "baghdadtoday", "body": body, **extra})


SAMPLE_RAW = _raw(SAMPLE.read_text(encoding="utf-8"))
POST = _raw("عاجل | انفجار سيارة مفخخة في بغداد ومقتل ثلاثة")
TITLED = _raw("أعلنت وزارة النفط العراقية ارتفاع صادرات الخام.", title="النفط في البصرة")
SPORT = _raw("فاز المنتخب العراقي على نظيره السوري في دمشق بهدفين.")
NOT_JSON = b"{not json"
NO_BODY = orjson.dumps({"schema_version": 1, "source": "baghdadtoday"})


def alone(value: bytes) -> tuple[dict[str, Any], list[Any]]:
    raw, parsed = PIPE.parse(value, NOW)
    enriched = PIPE.enrich(raw, parsed, NOW)
    return enriched, PIPE.match(enriched)


@pytest.mark.parametrize(
    ("values", "left_out"),
    [
        ([SAMPLE_RAW, POST], set()),
        ([POST, TITLED, SPORT, SAMPLE_RAW], set()),
        ([SAMPLE_RAW, SAMPLE_RAW, POST, POST], set()),  # the same text twice in a batch
        ([NOT_JSON, SAMPLE_RAW, NO_BODY, SPORT], {0, 2}),  # parse failures: run alone
        ([NOT_JSON, NO_BODY], {0, 1}),
        ([SPORT], set()),
    ],
)
def test_each_article_gets_what_it_gets_alone(values: list[bytes], left_out: set[int]) -> None:
    cores = PIPE.core_many(values, NOW, deadline=10.0)
    assert {i for i, c in enumerate(cores) if c is None} == left_out
    for value, core in zip(values, cores, strict=True):
        if core is not None:
            enriched, hits = alone(value)
            assert orjson.dumps(core.enriched) == orjson.dumps(enriched)
            assert core.hits == hits
            assert len(core.seconds) == 3 and min(core.seconds) >= 0


def test_the_sample_matches_the_default_pack_in_a_batch() -> None:
    (core, _) = PIPE.core_many([SAMPLE_RAW, POST], NOW, deadline=10.0)
    assert isinstance(core, Core) and core.hits  # the pack's rules fire on the sample


def test_an_enrich_bug_leaves_every_article_to_run_alone() -> None:
    with patch.object(PIPE, "enrich_many", side_effect=RuntimeError("boom")):
        assert PIPE.core_many([SAMPLE_RAW, POST, SPORT], NOW, deadline=10.0) == [None] * 3


def test_a_match_bug_leaves_that_article_alone() -> None:
    real = PIPE.match

    def match(enriched: dict[str, Any]) -> list[Any]:
        if "المنتخب" in enriched["body"]:
            raise RuntimeError("boom")
        return real(enriched)

    with patch.object(PIPE, "match", match):
        cores = PIPE.core_many([SAMPLE_RAW, SPORT, POST], NOW, deadline=10.0)
    assert [c is None for c in cores] == [False, True, False]


@pytest.mark.parametrize(("deadline", "kept"), [(1e-9, 0), (10.0, 3)])
def test_an_article_whose_charge_passes_the_deadline_runs_alone(deadline: float, kept: int) -> None:
    # The charge (its parse + the batch's whole enrich + its match) is never below its own
    # cost, so an article kept here would not have been too slow alone either.
    cores = PIPE.core_many([SAMPLE_RAW, POST, SPORT], NOW, deadline=deadline)
    assert sum(c is not None for c in cores) == kept
