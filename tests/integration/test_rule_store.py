"""The rule store on the real broker, without a worker: first start seeds the default pack,
a later start after deleting everything does not, and a bad message never replaces a rule."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streams.rules import RuleSet, default_rules_path
from streams.rules.messages import RuleState, build_message, push_header
from streams.settings import Settings
from streams.times import utcnow
from streams.worker.live_rules import LiveRules, ensure_rules_topic, publish, read_rules
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


async def test_a_start_inside_a_push_being_written_loads_the_whole_push() -> None:
    """A worker that starts while a push is being written (its end offsets fall inside the
    push) waits for the push's last record before its first load: the hot stage never gets
    a part of a pack. The records' push header is what tells it; keys and values are as a
    worker that predates the header reads them."""
    settings = _settings()
    await ensure_rules_topic(settings)
    now = utcnow()
    ids = [f"slow-{i}" for i in range(6)]
    rules = [{"id": i, "title": i, "severity": "low", "match": f"كلمة {i}"} for i in ids]
    values = [orjson.dumps(build_message(rule, {}, version=1, now=now)) for rule in rules]
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()

    async def send(indexes: range) -> None:
        for index in indexes:
            header = push_header("slow-push", index, len(ids))
            sent = await producer.send(
                settings.topic_rules, values[index], key=ids[index].encode(), headers=[header]
            )
            await sent

    try:
        await send(range(3))
        loading = asyncio.create_task(_load(settings))
        await asyncio.sleep(2.0)
        assert not loading.done()  # waiting for the rest of the push
        await send(range(3, 6))
        ruleset, state = await asyncio.wait_for(loading, 30)
    finally:
        await producer.stop()
    assert sorted(ruleset.rule_ids) == ids
    assert sorted(state.messages) == ids
