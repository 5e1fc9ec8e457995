"""The worker's app factory: settings reach faust, and the stages are wired by the factory."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings
from streams.worker.app import create_app


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
async def test_web_server_binds_to_the_configured_host(tmp_path: Path, host: str) -> None:
    ctx = create_app(Settings(data_dir=tmp_path, web_host=host, web_port=16069))
    assert ctx.app.conf.web_bind == host


async def test_factory_registers_the_hot_stage_and_the_story_stage(tmp_path: Path) -> None:
    ctx = create_app(Settings(data_dir=tmp_path, web_port=16070))
    assert set(ctx.app.agents) == {"rasid.articles", "rasid.stories"}
    assert ctx.readiness.rules_loaded and ctx.readiness.rules_ready.is_set()


async def test_session_heartbeat_and_static_membership_reach_the_consumer(tmp_path: Path) -> None:
    """Issue 20, item 5: faust's 60 s session timeout kept a killed worker's partitions idle
    for a minute; a restarted worker rejoins as the same static member (group.instance.id)."""
    import socket

    ctx = create_app(Settings(data_dir=tmp_path, web_port=16075))
    conf = ctx.app.conf
    assert (conf.broker_session_timeout, conf.broker_heartbeat_interval) == (10.0, 3.0)
    assert conf.consumer_group_instance_id == socket.gethostname()
    consumer = ctx.app.consumer._thread._create_worker_consumer(ctx.app.transport)
    try:
        coordinator_args = (consumer._group_instance_id, consumer._session_timeout_ms)
        assert coordinator_args == (socket.gethostname(), 10_000)
        assert consumer._heartbeat_interval_ms == 3_000
    finally:
        consumer._closed = True


async def test_static_membership_can_be_turned_off(tmp_path: Path) -> None:
    ctx = create_app(Settings(data_dir=tmp_path, web_port=16076, instance_id=""))
    assert ctx.app.conf.consumer_group_instance_id is None


async def test_every_table_changelog_is_compacted_hourly(tmp_path: Path) -> None:
    """Issue 20, item 4: the tables' changelogs roll a segment every hour (so Kafka compacts
    them), and `names.changelogs` (what the worker re-configures at start) names them all."""
    from streams.kafka.names import CHANGELOG, TABLES, changelogs

    settings = Settings(data_dir=tmp_path, web_port=16077)
    ctx = create_app(settings)
    assert set(ctx.app.tables) == set(TABLES)
    names = set()
    for table in ctx.app.tables.values():
        assert table.extra_topic_configs == CHANGELOG
        names.add(table.changelog_topic.get_topic_name())
    assert names == set(changelogs(settings))


@pytest.mark.parametrize(("seconds", "linger_ms"), [(0.005, 5), (0.0, 0), (0.02, 20)])
async def test_producer_linger_reaches_the_producer(
    tmp_path: Path, seconds: float, linger_ms: int
) -> None:
    """The agents await their sends' acks, so the producer's linger is waiting on every hop:
    RASID_PRODUCER_LINGER_SECONDS sets it (docs/performance.md, "Latency: round ten")."""
    ctx = create_app(Settings(data_dir=tmp_path, web_port=16078, producer_linger_seconds=seconds))
    assert ctx.app.producer.linger_ms == linger_ms
    assert ctx.app.producer._settings_default()["linger_ms"] == linger_ms
