"""A re-sent story alert is byte-identical (issue 20, item 4).

A worker killed between the broker's ack of an alert and the alerts-table write processes the
candidate again from a stage that never saw it: the alert it sends must be the same bytes, so
the idempotent producer and any subscriber see a repeat, not a new alert with new times."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson

from streams.settings import Settings
from streams.worker.app import create_app
from tests.agents.test_agents import _copy, _sample_candidate


async def _alert_bytes(tmp: Path, feed: list[dict[str, Any]], wall: datetime) -> list[bytes]:
    """The raw alert values a fresh story stage sends for `feed`, with the clock at `wall`."""
    rasid = create_app(Settings(data_dir=tmp, web_port=16072))
    sent: list[bytes] = []

    async def fake_send(topic: Any, *, key: bytes, value: bytes) -> asyncio.Future[None]:
        if topic.get_topic_name() == "rasid.alerts":
            sent.append(value)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut

    with (
        patch.object(type(rasid.topics.raw), "send", fake_send),
        patch("streams.worker.story_stage.utcnow", return_value=wall),
    ):
        async with rasid.app.agents["rasid.stories"].test_context() as ctx:
            for message in feed:
                await ctx.put(orjson.dumps(message), key=message["article_id"].encode())
    return sent


async def test_the_same_candidates_from_a_fresh_stage_give_identical_bytes(tmp_path: Path) -> None:
    source = create_app(Settings(data_dir=tmp_path / "source", web_port=16073))
    _, candidate = await _sample_candidate(source)
    feed = [candidate, _copy(candidate, "copy-2", "outlet2")]  # a new alert, then an update
    first = await _alert_bytes(tmp_path / "a", feed, datetime(2030, 1, 1, tzinfo=UTC))
    again = await _alert_bytes(tmp_path / "b", feed, datetime(2030, 1, 1, 0, 5, tzinfo=UTC))
    assert first and first == again
    alerts = [orjson.loads(v) for v in first]
    assert {a["alerted_at"] for a in alerts} == {candidate["at"]}  # the article's time
