"""The rule store on the real broker, without a worker: first start seeds the default pack,
a later start after deleting everything does not, and a bad message never replaces a rule."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from streams.rules import RuleSet, default_rules_path
from streams.rules.messages import RuleState
from streams.settings import Settings
from streams.worker.live_rules import LiveRules, publish, read_rules
from tests.integration.conftest import BOOTSTRAP

pytestmark = pytest.mark.integration


def _settings() -> Settings:
    assert BOOTSTRAP
    return Settings(
        kafka_bootstrap=BOOTSTRAP,
        topic_rules=f"rasid-test-rules-{uuid.uuid4().hex[:8]}",
        rules_path=default_rules_path(),
    )


async def _load(settings: Settings) -> tuple[RuleSet, RuleState]:
    got: list[tuple[RuleSet, RuleState]] = []
    live = LiveRules(settings, lambda ruleset, state: got.append((ruleset, state)))
    try:
        await live.load()
    finally:
        assert live.reader is not None
        await live.reader.stop()
    (result,) = got
    return result


async def test_first_start_seeds_then_never_again() -> None:
    settings = _settings()
    ruleset, state = await _load(settings)
    expected = RuleSet.from_yaml(default_rules_path())
    assert sorted(ruleset.rule_ids) == sorted(expected.rule_ids)
    versions = {spec.id: spec.version for spec in expected.specs}  # as the pack has them
    assert {k: m["version"] for k, m in state.messages.items()} == versions

    # a second start reads the same rules and pushes nothing
    _, state2 = await _load(settings)
    assert state2.fingerprint() == state.fingerprint()
    assert state2.records == state.records

    # everything deleted: the topic is not empty, so the pack does not come back
    await publish(settings, [(rule_id, None) for rule_id in state.messages])
    ruleset3, state3 = await _load(settings)
    assert len(ruleset3) == 0 and state3.messages == {}


async def test_bad_message_is_rejected_and_the_good_rule_stays() -> None:
    settings = _settings()
    _, state = await _load(settings)
    good: dict[str, Any] = state.messages["red-line"]
    broken = {**good, "version": 9, "rule": {**good["rule"], "severity": "urgent", "version": 9}}
    await publish(settings, [("red-line", orjson.dumps(broken)), ("junk", b"{not json")])
    after = await read_rules(settings)
    assert after.messages["red-line"]["version"] == good["version"]
    assert set(after.rejected) == {"red-line", "junk"}
    assert "severity" in after.rejected["red-line"]


async def test_a_batch_of_records_lands_in_the_order_given() -> None:
    """`publish` hands every record to the producer before awaiting the acks; a rule changed
    and then deleted in one batch is deleted, and one deleted then re-added is live."""
    settings = _settings()
    _, state = await _load(settings)
    good: dict[str, Any] = state.messages["red-line"]
    newer = {**good, "version": good["version"] + 1}
    newer["rule"] = {**good["rule"], "version": newer["version"]}
    kept = next(rule_id for rule_id in sorted(state.messages) if rule_id != "red-line")
    batch: list[tuple[str, bytes | None]] = [("red-line", orjson.dumps(newer)), ("red-line", None)]
    batch += [(rule_id, None) for rule_id in state.messages if rule_id != "red-line"]
    batch.append((kept, orjson.dumps(state.messages[kept])))
    await publish(settings, batch * 50)  # many records in flight at once
    after = await read_rules(settings)
    assert set(after.messages) == {kept}
