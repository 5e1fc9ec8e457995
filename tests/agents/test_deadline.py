"""The hot stage's per-article deadline (issue 20, item 1): an article whose stages together
take longer than `RASID_ARTICLE_DEADLINE_SECONDS` is dead-lettered as `too_slow` at the next
stage boundary, and the next article is processed as usual."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from unittest.mock import patch

from streams.errors import DeadLetterReason
from streams.settings import Settings
from streams.validation import schema_errors
from streams.worker.app import create_app
from tests.agents.test_agents import Capture, _raw


async def test_an_article_over_the_deadline_is_dead_lettered_as_too_slow(tmp_path: Path) -> None:
    rasid = create_app(Settings(data_dir=tmp_path, web_port=16067, article_deadline_seconds=0.05))
    real_enrich = rasid.pipeline.enrich

    def slow_enrich(raw: dict[str, Any], *args: Any) -> dict[str, Any]:
        if raw["body"].startswith("بطيء"):
            spin_until = time.thread_time() + 0.1  # CPU time: stands in for a pathological text
            while time.thread_time() < spin_until:
                pass
        return real_enrich(raw, *args)

    capture = Capture()
    agent = rasid.app.agents["rasid.articles"]
    with capture.install(rasid), patch.object(rasid.pipeline, "enrich", slow_enrich):
        async with agent.test_context() as ctx:
            await ctx.put(_raw("بطيء: قال مسؤول عراقي في بغداد إن الوضع مستقر."))
            await ctx.put(_raw("قال مسؤول عراقي في بغداد إن الوضع الأمني مستقر."))
            assert ctx.results == {0: "too_slow", 1: "alerts:0"}
    (letter,) = capture.on("rasid.deadletter")
    assert letter["reason"] == DeadLetterReason.TOO_SLOW == "too_slow"
    assert letter["stage"] == "enrich"
    assert schema_errors("deadletter", letter) == []
    assert len(capture.on("rasid.articles.enriched")) == 1
