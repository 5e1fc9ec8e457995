"""rasid ingest and rasid replay on the real broker: new items are published once, a
restarted ingester (state read back from the compacted topic) publishes nothing new, and a
replay publishes every line of an archive once across an interruption."""

from __future__ import annotations

import signal
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

from streams.ingest.dedup import url_key
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
        RASID_INGEST_ALLOW_PRIVATE_ADDRESSES="true",  # the fixture server is on 127.0.0.1
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
        # The flaky feeds failed in the --once runs: their backoff (60 s) came back from the
        # state topic, so this process has not asked them again yet.
        assert (
            'rasid_ingest_fetches_total{kind="feed",outcome="timeout",source="flaky"} 0.0' in body
        )
        assert 'rasid_ingest_source_consecutive_failures{source="flaky"} 1.0' in body
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


async def test_ingest_once_breaks_down_per_source_and_sigterm_mid_poll_ends_fast(
    env: Env, server: FixtureServer, tmp_path: Path
) -> None:
    """Issue 18: `--once` prints each source's counts and HTTP statuses; SIGTERM while a page
    is still loading ends the service within 10 s (exit 0), and the next run publishes every
    article once — none twice."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(sources_yaml(server.base, interval=1.0), encoding="utf-8")
    # A long request timeout: the slow page (6 s) is in flight when the signal comes.
    environment = environ(
        env, "sigterm", RASID_SOURCES_PATH=str(sources), RASID_INGEST_TIMEOUT="30"
    )
    slow_before = len(server.hits("/news/slow.html"))
    port = free_port()
    log_path = tmp_path / "ingest.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "ingest"],
            env={**environment, "RASID_INGEST_WEB_PORT": str(port), "RASID_LOG_LEVEL": "INFO"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while len(server.hits("/news/slow.html")) == slow_before:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the slow page was never requested"
            time.sleep(0.05)
        proc.terminate()
        started = time.monotonic()
        proc.wait(timeout=30)
        stopped_in = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, log_path.read_text(errors="replace")[-3000:]
    assert stopped_in < 10, stopped_in
    assert '"polled"' in log_path.read_text(errors="replace")  # the heartbeat

    report = rasid(environment, "ingest", "--once")
    per_source = report["per_source"]
    assert set(per_source) == {"fixture", "loose", "listing", "flaky"}
    for counts in per_source.values():
        assert set(counts) >= {"new", "revisions", "duplicates", "errors", "statuses"}
    # The interrupted feed kept no validators: read in full, its pending items published.
    assert per_source["fixture"]["statuses"].get("200", 0) >= 1 and per_source["fixture"]["new"]
    assert report["statuses"] == {
        k: sum(c["statuses"].get(k, 0) for c in per_source.values()) for k in report["statuses"]
    }
    messages = await read_topic(env.bootstrap, environment["RASID_TOPIC_RAW"], expect=9)
    assert paths(messages, server.base) == sorted(EXPECTED_PATHS)  # each once
    assert {m["revision"] for m in messages} == {1} and {m["schema_version"] for m in messages} == {
        2
    }


async def test_an_interrupted_replay_exits_non_zero_and_writes_the_dedup_state(
    env: Env, tmp_path: Path
) -> None:
    environment = environ(env, "replay-int", RASID_REPLAY_CHECKPOINT_DIR=str(tmp_path / "ckpt"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "replay", "--jsonl", str(SAMPLE), "--rate", "2"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(4.0)  # a few lines sent (2 per second), most not yet
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode(errors="replace")[-2000:]
    summary = orjson.loads(out.decode().strip().splitlines()[-1])
    assert summary["interrupted"] is True and summary["done"] is False
    assert 0 < summary["published"] < 10
    raw = await read_topic(
        env.bootstrap, environment["RASID_TOPIC_RAW"], expect=summary["published"]
    )
    state = await read_topic(env.bootstrap, environment["RASID_TOPIC_INGEST_STATE"], expect=1)
    with_url = [m for m in raw if m.get("url")]
    assert with_url and len(state) == len({url_key(m["url"]) for m in with_url})
    assert {s["key"] for s in state} == {url_key(m["url"]) for m in with_url}
    assert {s["id"] for s in state} == {m["key"] for m in with_url}
    # Resumed, it finishes: exit 0, every line once.
    second = rasid(environment, "replay", "--jsonl", str(SAMPLE))
    assert second["done"] is True and second["interrupted"] is False
    assert summary["published"] + second["published"] == 10
