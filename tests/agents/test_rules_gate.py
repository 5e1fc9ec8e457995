"""With live rules (the worker), the article agent matches nothing before the rule set from the
rules topic is loaded, and readiness says so; a swapped rule set is used by the next message."""

from __future__ import annotations

import asyncio
from pathlib import Path
from unittest.mock import patch

import orjson

from streams.rules import RuleSet
from streams.settings import Settings
from streams.worker.app import create_app
from tests.agents.test_agents import Capture, _raw
from tests.conftest import SAMPLE


async def test_article_agent_waits_for_rules_then_uses_the_swapped_set(tmp_path: Path) -> None:
    rasid = create_app(Settings(data_dir=tmp_path, web_port=16067), live_rules=True)
    assert rasid.readiness.rules_loaded is False
    assert not rasid.readiness.rules_ready.is_set()
    only = RuleSet.from_dicts(
        [{"id": "zaynab", "version": 4, "title": "t", "severity": "low", "match": "السيدة زينب"}]
    )
    capture = Capture()
    agent = rasid.app.agents["rasid.articles"]
    with capture.install(rasid), patch.object(rasid.pipeline, "rules", only):
        async with agent.test_context() as ctx:
            put = asyncio.create_task(ctx.put(_raw(SAMPLE.read_text(encoding="utf-8")), key=b"k"))
            await asyncio.sleep(0.5)
            assert not put.done()  # held back: no rules loaded yet
            assert capture.sent == []
            rasid.readiness.rules_ready.set()
            await asyncio.wait_for(put, 10)
            assert ctx.results[0] == "alerts:1"
    # Whichever topic carries it (alerts, or stories), the alert names the rule and version.
    sent = [orjson.dumps(value).decode() for _, _, value in capture.sent]
    assert any('"rule":"zaynab"' in v and '"rule_version":4' in v for v in sent), sent


async def test_offline_app_is_ready_at_once(tmp_path: Path) -> None:
    rasid = create_app(Settings(data_dir=tmp_path, web_port=16068))
    assert rasid.readiness.rules_ready.is_set()
    assert rasid.readiness.rules_loaded is True
