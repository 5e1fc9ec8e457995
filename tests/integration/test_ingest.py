"""rasid ingest and rasid replay on the real broker: new items are published once, a
restarted ingester (state read back from the compacted topic) publishes nothing new, and a
replay publishes every line of an archive once across an interruption."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.ingest_fixture_server import FixtureServer, sources_yaml
from tests.integration.conftest import Env, free_port
from tests.integration.conftest import read_topic as _read_topic

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "replay-sample.jsonl.gz"


def environ(env: Env, tag: str, **extra: str) -> dict[str, str]:
    """This test's own raw and state topics, so other tests' counts never see our messages."""
    out = env.environ()
    out.update(
        RASID_TOPIC_RAW=f"{env.prefix}.{tag}.raw",
        RASID_TOPIC_INGEST_STATE=f"{env.prefix}.{tag}.ingest-state",
        RASID_INGEST_TIMEOUT="2",
        RASID_INGEST_CONNECT_TIMEOUT="2",
        RASID_INGEST_HOST_INTERVAL="0",
        RASID_INGEST_BACKOFF_BASE="60",
        RASID_LOG_LEVEL="WARNING",
    )
    out.update(extra)
    return out


def rasid(environment: dict[str, str], *args: str, timeout: float = 120) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=environment,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    lines = proc.stdout.decode().strip().splitlines()
    return dict(orjson.loads(lines[-1]))


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 60.0, settle: float = 3.0
) -> list[dict[str, Any]]:
    """All messages of a topic, each with its Kafka key as "key"."""
    return await _read_topic(
        bootstrap, topic, expect=expect, timeout=timeout, settle=settle, with_key=True
    )


@pytest.fixture(scope="module")
def server() -> Iterator[FixtureServer]:
    with FixtureServer(slow_seconds=6.0).running() as s:
        yield s


EXPECTED_PATHS = {
    "/news/1001.html",
    "/news/1002.html",
    "/news/1003.html",
    "/news/1004.html",
    "/news/1005.html",
    "/news/1006.html",
    "/news/broken-markup.html",
    "/news/slow.html",
    "/private/2001.html",
}


def paths(messages: list[dict[str, Any]], base: str) -> list[str]:
    return sorted(m["url"].removeprefix(base) for m in messages)


async def test_ingest_publishes_once_and_a_restart_publishes_nothing(
    env: Env, server: FixtureServer, tmp_path: Path
) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(sources_yaml(server.base, interval=1.0), encoding="utf-8")
    environment = environ(env, "ingest", RASID_SOURCES_PATH=str(sources))
    raw_topic = environment["RASID_TOPIC_RAW"]

    first = rasid(environment, "ingest", "--once")
    assert first["new"] == 9, first
    messages = await read_topic(env.bootstrap, raw_topic, expect=9)
    assert paths(messages, server.base) == sorted(EXPECTED_PATHS)
    for message in messages:
        assert message["key"] and message["fetched_at"] and message["url"] and message["source"]
    assert len({m["key"] for m in messages}) == 9

    # The dedup state lives in a compacted topic.
    admin = AIOKafkaAdminClient(bootstrap_servers=env.bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, environment["RASID_TOPIC_INGEST_STATE"])
        described = await admin.describe_configs([resource])
        entries = {c[0]: c[1] for c in described[0].resources[0][4]}
        assert "compact" in entries["cleanup.policy"]
    finally:
        await admin.close()

    # A new process (a restart) reads the state back from Kafka: nothing new.
    second = rasid(environment, "ingest", "--once")
    assert second["new"] == 0, second
    assert len(await read_topic(env.bootstrap, raw_topic, expect=9)) == 9

    # The long-running service: several polls, metrics served, still nothing new.
    port = free_port()
    log_path = tmp_path / "ingest.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "ingest"],
            env={**environment, "RASID_INGEST_WEB_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        polls_before = len(server.hits("/feeds/rss2.xml"))
        deadline = time.monotonic() + 90
        body = ""
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                body = ""
            if len(server.hits("/feeds/rss2.xml")) >= polls_before + 3 and body:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("ingest did not poll 3 times\n" + log_path.read_text()[-3000:])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            assert orjson.loads(r.read())["ready"] is True
        assert (
            'rasid_ingest_fetches_total{kind="feed",outcome="not_modified",source="fixture"}'
            in body
        )
        assert (
            'rasid_ingest_fetches_total{kind="feed",outcome="timeout",source="flaky"} 1.0' in body
        )
        assert 'rasid_ingest_articles_total{source="fixture"} 0.0' in body
        assert 'rasid_ingest_last_success_timestamp_seconds{source="fixture"}' in body
        assert "rasid_ingest_fetch_seconds_bucket" in body
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0, log_path.read_text(errors="replace")[-3000:]
    assert len(await read_topic(env.bootstrap, raw_topic, expect=9)) == 9


async def test_ingest_state_is_shared_between_processes(
    env: Env, server: FixtureServer, tmp_path: Path
) -> None:
    """Two processes with different source files over the same state: the second one skips
    what the first published, even under another URL (the AMP copy of 1005)."""
    first_file = tmp_path / "first.yaml"
    first_file.write_text(
        f"schema_version: 1\nsources:\n  - name: fixture\n    feeds: ['{server.base}/feeds/rss2.xml']\n"
    )
    second_file = tmp_path / "second.yaml"
    second_file.write_text(
        f"schema_version: 1\nsources:\n  - name: fixture\n    feeds: ['{server.base}/feeds/atom.xml']\n"
    )
    first_env = environ(env, "shared", RASID_SOURCES_PATH=str(first_file))
    second_env = environ(env, "shared", RASID_SOURCES_PATH=str(second_file))
    assert rasid(first_env, "ingest", "--once")["new"] == 7
    report = rasid(second_env, "ingest", "--once")
    # /print/1004 has 1004's text; the AMP URL of 1005 is 1005: nothing new.
    assert report["new"] == 0 and report["duplicates"] == 1, report
    messages = await read_topic(env.bootstrap, first_env["RASID_TOPIC_RAW"], expect=7)
    assert len(messages) == 7


async def test_replay_publishes_every_line_once_and_resumes(env: Env, tmp_path: Path) -> None:
    environment = environ(env, "replay", RASID_REPLAY_CHECKPOINT_DIR=str(tmp_path / "ckpt"))
    raw_topic = environment["RASID_TOPIC_RAW"]
    first = rasid(environment, "replay", "--jsonl", str(SAMPLE), "--max", "4", "--rate", "50")
    assert (first["published"], first["done"], first["resumed_from_line"]) == (4, False, 0)
    second = rasid(environment, "replay", "--jsonl", str(SAMPLE), "--rate", "50")
    assert second["published"] == 6 and second["done"] is True
    assert second["resumed_from_line"] == first["last_line"] > 0
    assert second["skipped"] >= 1  # the invalid and the empty records, counted not published
    messages = await read_topic(env.bootstrap, raw_topic, expect=10)
    assert len(messages) == 10
    keys = sorted(m["key"] for m in messages)
    assert len(set(keys)) == 10
    assert {f"TEST-alsumaria-{n}" for n in (1, 2, 5, 7)} <= set(keys)
    ant = next(m for m in messages if m["key"] == "TEST-shafaq-3")
    assert ant["body"].startswith("أعلنت قيادة شرطة كركوك")
    assert ant["published_at"] == "2024-12-03T13:00:00+03:00"
    # Finished: running it again publishes nothing; --from-start would publish all again.
    third = rasid(environment, "replay", "--jsonl", str(SAMPLE))
    assert third["published"] == 0
    assert len(await read_topic(env.bootstrap, raw_topic, expect=10)) == 10


async def test_replay_source_filter(env: Env, tmp_path: Path) -> None:
    environment = environ(env, "replay-filter", RASID_REPLAY_CHECKPOINT_DIR=str(tmp_path))
    report = rasid(environment, "replay", "--jsonl", str(SAMPLE), "--source", "shafaq")
    assert report["published"] == 5 and report["done"] is True
    messages = await read_topic(env.bootstrap, environment["RASID_TOPIC_RAW"], expect=5)
    assert {m["source"] for m in messages} == {"shafaq"} and len(messages) == 5
