"""Batched story candidates (story-candidate v4): the hot stage sends ONE message per batch of
raw articles, and the story stage processes its candidates in order with the guarantees of
single candidates: a bad candidate is dead-lettered on its own, a replayed batch changes
nothing, and the single candidates (v3) of the previous release are still read."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson

from streams.settings import Settings
from streams.stories.cluster import story_id_for
from streams.validation import schema_errors
from streams.worker import story_stage
from streams.worker.app import create_app
from streams.worker.context import WorkerContext
from tests.agents.test_agents import Capture, _copy, _other_story, _raw, _sample_candidate
from tests.agents.test_agents import rasid as rasid  # the fixture
from tests.conftest import SAMPLE


def _batch(*candidates: dict[str, Any]) -> bytes:
    return orjson.dumps({"schema_version": 4, "candidates": list(candidates)})


async def _results(ctx: Any, n: int) -> list[Any]:
    """The agent's first n outcomes, once it has yielded them (events put without waiting)."""
    for _ in range(500):
        if len(ctx.results) >= n:
            break
        await asyncio.sleep(0.01)
    return [ctx.results[i] for i in range(n)]


async def test_hot_stage_sends_one_candidate_message_per_batch(tmp_path: Path) -> None:
    # a batch waits up to 1 s for more (5 ms by default, which a loaded machine can miss
    # between two puts): the three articles are one batch
    rasid = create_app(Settings(data_dir=tmp_path, web_port=16066, batch_within_seconds=1.0))
    bodies = [
        SAMPLE.read_text(encoding="utf-8"),
        "قال مسؤول عراقي في بغداد إن الوضع الأمني مستقر.",
        "أعلنت وزارة الصحة المصرية في القاهرة عن حملة تطعيم جديدة.",
    ]
    capture = Capture()
    with capture.install(rasid):
        async with rasid.app.agents["rasid.articles"].test_context() as ctx:
            for i, body in enumerate(bodies):  # all queued before the agent takes a batch
                await ctx.put(_raw(body, id=f"a-{i}"), key=f"a-{i}".encode(), wait=False)
            results = await _results(ctx, len(bodies))
    (message,) = capture.on("rasid.alerts.stories")  # one message for the three articles
    assert schema_errors("story-candidates", message) == []
    items = message["candidates"]
    assert [c["article_id"] for c in items] == ["a-0", "a-1", "a-2"]  # in processing order
    assert all(schema_errors("story-candidate", c) == [] for c in items)
    assert [e["id"] for e in capture.on("rasid.articles.enriched")] == ["a-0", "a-1", "a-2"]
    assert results == [f"alerts:{len(c['hits'])}" for c in items]
    assert items[0]["hits"] and not items[1]["hits"]


async def test_a_bad_candidate_in_a_batch_is_dead_lettered_alone(rasid: WorkerContext) -> None:
    _, candidate = await _sample_candidate(rasid)
    bad = {**_copy(candidate, "bad-1", "outlet2"), "at": "not a time"}
    broken = _copy(candidate, "bug-1", "outlet4")  # a bug while clustering it
    copy = _copy(candidate, "copy-3", "outlet3")
    real_assign = story_stage.assign_story

    def assign(article_id: str, *args: Any, **kwargs: Any) -> Any:
        if article_id == "bug-1":
            raise RuntimeError("boom")
        return real_assign(article_id, *args, **kwargs)

    capture = Capture()
    n = len({h["rule"] for h in candidate["hits"]})
    with capture.install(rasid), patch.object(story_stage, "assign_story", assign):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            await ctx.put(_batch(candidate, bad, broken, copy), key=b"batch")
            assert ctx.results[0] == f"alerts:{2 * n} schema_violation processing_error"
    letters = capture.on("rasid.deadletter")
    assert [(x["reason"], x["stage"]) for x in letters] == [
        ("schema_violation", "alert"),
        ("processing_error", "alert"),
    ]
    assert [orjson.loads(base64.b64decode(x["value_b64"]))["article_id"] for x in letters] == [
        "bad-1",
        "bug-1",
    ]  # each letter keeps its own candidate, re-publishable as a v3 message
    assert letters[0]["detail"].startswith("candidate 2 of 4: ")
    assert "boom" in letters[1]["detail"] and letters[1]["detail"].startswith("candidate 3 of 4")
    red = [a for a in capture.on("rasid.alerts") if a["rule"] == "red-line"]
    assert [(a["status"], a["revision"]) for a in red] == [("new", 1), ("updated", 2)]
    assert [a["id"] for a in red[-1]["articles"]] == [candidate["article_id"], "copy-3"]


async def test_a_replayed_batch_sends_no_duplicate_alerts(rasid: WorkerContext) -> None:
    """A batch processed again (a crash after its alerts, before its ack) changes nothing."""
    _, candidate = await _sample_candidate(rasid)
    batch = _batch(
        candidate, _copy(candidate, "copy-2", "outlet2"), _other_story(candidate, "x", "o")
    )
    capture = Capture()
    stage = rasid.stories
    with capture.install(rasid):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            await ctx.put(batch, key=b"batch")
            stories = {k: dict(v) for k, v in stage.stories.items()}
            first = list(capture.on("rasid.alerts"))
            await ctx.put(batch, key=b"batch")
            assert ctx.results[1] == "alerts:0"
    n = len({h["rule"] for h in candidate["hits"]})
    assert ctx.results[0] == f"alerts:{3 * n}"  # opened, updated, and the unrelated story
    assert capture.on("rasid.alerts") == first  # nothing sent again
    assert {k: dict(v) for k, v in stage.stories.items()} == stories
    assert {a["story_id"] for a in first} == {
        story_id_for(candidate["article_id"]),
        story_id_for("x"),
    }


async def test_single_v3_candidates_and_batches_mix(rasid: WorkerContext) -> None:
    """During a rolling upgrade the topic holds single candidates (v3, the previous release)
    and batches (v4): both feed the same stories."""
    _, candidate = await _sample_candidate(rasid)
    assert candidate["schema_version"] == 3
    capture = Capture()
    with capture.install(rasid):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            await ctx.put(orjson.dumps(candidate), key=candidate["article_id"].encode())
            await ctx.put(_batch(_copy(candidate, "copy-2", "outlet2")), key=b"batch")
            await ctx.put(b'{"schema_version": 4, "candidates": []}', key=b"empty")
    n = len({h["rule"] for h in candidate["hits"]})
    assert [ctx.results[i] for i in range(3)] == [f"alerts:{n}", f"alerts:{n}", "schema_violation"]
    red = [a for a in capture.on("rasid.alerts") if a["rule"] == "red-line"]
    assert [(a["status"], a["revision"]) for a in red] == [("new", 1), ("updated", 2)]
    (letter,) = capture.on("rasid.deadletter")  # an unusable batch: its own bytes kept
    assert base64.b64decode(letter["value_b64"]) == b'{"schema_version": 4, "candidates": []}'
