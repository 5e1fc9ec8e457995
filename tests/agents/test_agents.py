"""Agent tier: the real agents in faust's test_context (no broker). Sends to other topics are
captured, so these tests check what each agent emits for what it receives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson
import pytest

from streams.app import Rasid, create_app
from streams.settings import Settings
from streams.validation import schema_errors
from tests.conftest import SAMPLE


class Capture:
    """Stands in for Topic.send: records (topic, key, value) and returns a resolved future."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, Any]]] = []

    def install(self, rasid: Rasid) -> Any:
        capture = self

        async def fake_send(topic: Any, *, key: bytes, value: bytes) -> asyncio.Future[None]:
            capture.sent.append((topic.get_topic_name(), key, orjson.loads(value)))
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            fut.set_result(None)
            return fut

        return patch.object(type(rasid.raw), "send", fake_send)

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [value for name, _, value in self.sent if name == topic]


@pytest.fixture
async def rasid(tmp_path: Path) -> AsyncIterator[Rasid]:
    settings = Settings(data_dir=tmp_path, web_port=16066)
    yield create_app(settings)


def _raw(body: str, **extra: Any) -> bytes:
    return orjson.dumps({"schema_version": 1, "source": "baghdadtoday", "body": body, **extra})


async def test_parse_agent_enriches_the_sample(rasid: Rasid) -> None:
    capture = Capture()
    agent = rasid.app.agents["rasid.parse"]
    with capture.install(rasid):
        async with agent.test_context() as ctx:
            event = await ctx.put(_raw(SAMPLE.read_text(encoding="utf-8")))
            assert ctx.results[0] == "enriched", ctx.results
    (enriched,) = capture.on("rasid.articles.enriched")
    assert schema_errors("enriched-article", enriched) == []
    assert enriched["title"].startswith("الفصائل تعلق على أحداث سوريا")
    assert {"SY", "IQ"} <= {r["code"] for r in enriched["regions"]}
    assert event is not None
    assert capture.on("rasid.deadletter") == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b'{"source": "s", "body": ""}', "empty_body"),
        (b'{"source": 5, "body": "x"}', "schema_violation"),
        (b'{"source": "s", "body": "\xc3\x28"}', "invalid_utf8"),
    ],
)
async def test_parse_agent_dead_letters_bad_input_and_goes_on(
    rasid: Rasid, value: bytes, reason: str
) -> None:
    capture = Capture()
    agent = rasid.app.agents["rasid.parse"]
    with capture.install(rasid):
        async with agent.test_context() as ctx:
            await ctx.put(value)
            await ctx.put(_raw("قال مسؤول عراقي في بغداد إن الوضع الأمني مستقر."))
            assert ctx.results == {0: reason, 1: "enriched"}
    (letter,) = capture.on("rasid.deadletter")
    assert letter["reason"] == reason
    assert schema_errors("deadletter", letter) == []
    assert len(capture.on("rasid.articles.enriched")) == 1


async def test_processing_bug_is_dead_lettered_not_raised(rasid: Rasid) -> None:
    capture = Capture()
    agent = rasid.app.agents["rasid.parse"]
    with (
        capture.install(rasid),
        patch.object(rasid.pipeline, "enrich", side_effect=RuntimeError("boom")),
    ):
        async with agent.test_context() as ctx:
            await ctx.put(_raw("نص"))
            assert ctx.results[0] == "processing_error"
    (letter,) = capture.on("rasid.deadletter")
    assert letter["stage"] == "enrich"
    assert "boom" in letter["detail"]


async def test_match_agent_alerts_once_per_article(rasid: Rasid) -> None:
    enriched, _ = rasid.pipeline.classify(_raw(SAMPLE.read_text(encoding="utf-8")))
    capture = Capture()
    agent = rasid.app.agents["rasid.match"]
    with capture.install(rasid):
        async with agent.test_context() as ctx:
            await ctx.put(orjson.dumps(enriched), key=enriched["id"].encode())
            await ctx.put(orjson.dumps(enriched), key=enriched["id"].encode())
            first, second = ctx.results[0], ctx.results[1]
    alerts = capture.on("rasid.alerts")
    red = [a for a in alerts if a["rule"] == "red-line"]
    assert len(red) == 1
    assert first == f"alerts:{len(alerts)}"
    assert second == "alerts:0"  # the same article again: every alert id already emitted
    for alert in alerts:
        assert schema_errors("alert", alert) == []
