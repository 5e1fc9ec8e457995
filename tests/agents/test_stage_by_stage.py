"""A batch of raw articles runs parse, enrich and match stage by stage (`Pipeline.core_many`)
and each article's output is what it gets alone; an article left out (bad input, a bug, past
its deadline) is dead-lettered alone, and the batch's others go on."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson
import pytest

from streams.settings import Settings
from streams.worker import agents
from streams.worker.app import create_app
from tests.agents.test_agents import Capture, _raw
from tests.conftest import SAMPLE

POSTS = [
    _raw(SAMPLE.read_text(encoding="utf-8")),
    _raw("عاجل | انفجار سيارة مفخخة في بغداد ومقتل ثلاثة"),
    b"{not json",
    _raw("فاز المنتخب العراقي على نظيره السوري في دمشق بهدفين."),
]


async def _run(
    tmp_path: Path, port: int, *, together: bool, fail: bool = False, **settings: Any
) -> Any:
    rasid = create_app(Settings(data_dir=tmp_path / str(port), web_port=port, **settings))
    capture = Capture()
    agent = rasid.app.agents["rasid.articles"]
    batches: list[int] = []
    real = rasid.pipeline.core_many

    def spy(values: list[bytes], *args: Any) -> Any:
        batches.append(len(values))
        if fail:
            raise RuntimeError("boom")
        return real(values, *args)

    with capture.install(rasid), patch.object(rasid.pipeline, "core_many", spy):
        async with agent.test_context() as ctx:
            if together:  # put at once: taken as one batch
                await asyncio.gather(
                    *(ctx.put(v, key=str(i).encode()) for i, v in enumerate(POSTS))
                )
            else:
                for i, value in enumerate(POSTS):
                    await ctx.put(value, key=str(i).encode())
            results = dict(ctx.results)
    return capture, batches, results


def _enriched(capture: Capture) -> list[bytes]:
    out = []
    for message in capture.on("rasid.articles.enriched"):
        message = {k: v for k, v in message.items() if k != "ingested_at"}  # the clock
        out.append(orjson.dumps(message, option=orjson.OPT_SORT_KEYS))
    return sorted(out)


async def test_a_batch_gives_each_article_what_it_gets_alone(tmp_path: Path) -> None:
    together, batches, results = await _run(tmp_path, 16071, together=True)
    alone, single, results_alone = await _run(tmp_path, 16072, together=False)
    assert max(batches) >= 2 and single == []  # one batch stage by stage; alone, never
    assert sorted(results.values()) == sorted(results_alone.values())
    assert "invalid_json" in results.values() and "alerts:0" in results.values()
    assert any(r not in {"alerts:0", "invalid_json"} for r in results.values())  # an alert
    assert _enriched(together) == _enriched(alone) and len(_enriched(together)) == 3
    (letter,) = together.on("rasid.deadletter")
    assert letter["reason"] == "invalid_json" and letter["stage"] == "parse"
    hits = sorted(len(c["hits"]) for c in together.candidates())
    assert hits == sorted(len(c["hits"]) for c in alone.candidates())


async def test_a_slow_article_in_a_batch_is_dead_lettered_alone(tmp_path: Path) -> None:
    # Past the deadline the batch leaves every article to run alone (its charge includes the
    # batch's enrich), and only the slow one is too slow there.
    rasid_settings = {"article_deadline_seconds": 0.05}
    rasid = create_app(Settings(data_dir=tmp_path, web_port=16073, **rasid_settings))
    real_enrich = rasid.pipeline.enrich
    real_many = rasid.pipeline.enrich_many

    def spin() -> None:
        until = time.thread_time() + 0.1
        while time.thread_time() < until:
            pass

    def slow_enrich(raw: dict[str, Any], *args: Any) -> dict[str, Any]:
        if raw["body"].startswith("بطيء"):
            spin()
        return real_enrich(raw, *args)

    def slow_many(items: list[Any], *args: Any) -> list[dict[str, Any]]:
        if any(raw["body"].startswith("بطيء") for raw, _ in items):
            spin()
        return real_many(items, *args)

    capture = Capture()
    agent = rasid.app.agents["rasid.articles"]
    with (
        capture.install(rasid),
        patch.object(rasid.pipeline, "enrich", slow_enrich),
        patch.object(rasid.pipeline, "enrich_many", slow_many),
    ):
        async with agent.test_context() as ctx:
            values = [
                _raw("بطيء: قال مسؤول عراقي في بغداد إن الوضع مستقر."),
                _raw("قال مسؤول عراقي في بغداد إن الوضع الأمني مستقر."),
            ]
            await asyncio.gather(*(ctx.put(v, key=str(i).encode()) for i, v in enumerate(values)))
            results = sorted(ctx.results.values())
    assert results == ["alerts:0", "too_slow"]
    (letter,) = capture.on("rasid.deadletter")
    assert letter["reason"] == "too_slow" and letter["stage"] == "enrich"
    assert len(capture.on("rasid.articles.enriched")) == 1


@pytest.mark.parametrize(
    ("case", "most_bytes", "fail"),
    [
        ("batch over the byte bound", 1000, False),  # held tokens bounded: one by one
        ("core_many itself raised", agents.STAGE_BY_STAGE_BYTES, True),
    ],
)
async def test_a_batch_not_run_stage_by_stage_runs_one_by_one(
    tmp_path: Path, case: str, most_bytes: int, fail: bool
) -> None:
    alone, _, results_alone = await _run(tmp_path, 16074, together=False)
    with patch.object(agents, "STAGE_BY_STAGE_BYTES", most_bytes):
        got, batches, results = await _run(tmp_path, 16075, together=True, fail=fail)
    assert batches == ([len(POSTS)] if fail else []), case
    assert sorted(results.values()) == sorted(results_alone.values()), case
    assert _enriched(got) == _enriched(alone) and len(_enriched(got)) == 3, case
