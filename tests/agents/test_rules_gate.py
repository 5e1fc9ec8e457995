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


def _gauge(name: str, **labels: str) -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels)


async def test_live_worker_starts_with_no_rules_and_does_not_read_the_rule_file(
    tmp_path: Path,
) -> None:
    # The rule file is never compiled nor read by a live worker: its rules come from the topic.
    # Until they do, rasid_rules_loaded is 0 (RasidNoRulesLoaded fires if they never come) and
    # rasid_ruleset_info names no version of the file.
    missing = tmp_path / "no-such-pack.yaml"
    offline = create_app(Settings(data_dir=tmp_path, web_port=16069))
    assert len(offline.pipeline.rules) > 0
    assert _gauge("rasid_rules_loaded") == len(offline.pipeline.rules)
    from streams import metrics

    metrics.RULESET_INFO.clear()
    rasid = create_app(
        Settings(data_dir=tmp_path, web_port=16070, rules_path=missing), live_rules=True
    )
    assert len(rasid.pipeline.rules) == 0
    assert _gauge("rasid_rules_loaded") == 0
    assert list(metrics.RULESET_INFO.collect()[0].samples) == []
    assert rasid.readiness.rules_loaded is False
