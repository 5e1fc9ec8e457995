"""Integration tier: a real Apache Kafka broker (started by scripts/test through scripts/kafka)
and a real `rasid worker` process. Each test session uses its own topics and consumer group, so
it never sees a developer's data or an earlier run's."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

BOOTSTRAP = os.environ.get("RASID_TEST_BOOTSTRAP")

pytestmark = pytest.mark.integration


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if BOOTSTRAP:
        return
    skip = pytest.mark.skip(reason="RASID_TEST_BOOTSTRAP not set: run through scripts/test")
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Env:
    """One isolated Rasid deployment on the test broker."""

    bootstrap: str
    prefix: str
    web_port: int
    data_dir: Path

    @property
    def topics(self) -> dict[str, str]:
        return {k: f"{self.prefix}.{k}" for k in ("raw", "enriched", "alerts", "deadletter")}

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RASID_KAFKA_BOOTSTRAP=self.bootstrap,
            RASID_APP_ID=self.prefix,
            RASID_TOPIC_RAW=self.topics["raw"],
            RASID_TOPIC_ENRICHED=self.topics["enriched"],
            RASID_TOPIC_ALERTS=self.topics["alerts"],
            RASID_TOPIC_DEADLETTER=self.topics["deadletter"],
            RASID_TOPIC_RULES=f"{self.prefix}.rules",  # compacted rules topic (rule_store.py)
            RASID_WEB_PORT=str(self.web_port),
            RASID_DATA_DIR=str(self.data_dir),
            RASID_TOPIC_PARTITIONS="3",
            RASID_MAX_BODY_BYTES="200000",
            # A send the broker leaves pending (e.g. "not leader" on a loaded machine) fails
            # after a minute and is retried by the worker (streams/worker/batches.py), instead
            # of stalling the session's worker for the default 20 minutes.
            RASID_PRODUCER_REQUEST_TIMEOUT_SECONDS="60",
        )
        return env

    def rasid(
        self,
        *args: str,
        input: bytes | None = None,
        timeout: float = 60,
        extra_env: dict[str, str] | None = None,
    ) -> bytes:
        """Run the real CLI against this deployment; return stdout."""
        proc = subprocess.run(
            [sys.executable, "-m", "streams.cli", *args],
            env={**self.environ(), **(extra_env or {})},
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
        return proc.stdout

    async def produce(self, values: list[bytes], key: bytes | None = None) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(self.topics["raw"], value, key=key)
        finally:
            await producer.stop()

    async def read_all(
        self, kind: str, *, expect: int, timeout: float = 60.0, settle: float = 3.0
    ) -> list[dict[str, Any]]:
        """Read one of this deployment's topics (see read_topic)."""
        return await read_topic(
            self.bootstrap, self.topics[kind], expect=expect, timeout=timeout, settle=settle
        )


def new_env(bootstrap: str, tmp: Path, prefix: str | None = None, *, name: str = "own") -> Env:
    """A deployment of its own on the test broker: topics and consumer group (the prefix; pass
    another env's to share them), web port and data dir."""
    data_dir = tmp / f"worker-{uuid.uuid4().hex[:6]}"
    data_dir.mkdir()
    return Env(
        bootstrap=bootstrap,
        prefix=prefix or f"rasid-{name}-{uuid.uuid4().hex[:8]}",
        web_port=free_port(),
        data_dir=data_dir,
    )


async def assign_from_beginning(
    consumer: AIOKafkaConsumer, topic: str, deadline: float = float("inf")
) -> None:
    """Assign every partition of `topic` (waiting until the broker knows it, or `deadline`),
    positioned at the beginning."""
    parts: set[int] = set()
    while not parts and time.monotonic() < deadline:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await asyncio.sleep(0.5)
    tps = [TopicPartition(topic, p) for p in parts]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)


def wait_ready(
    proc: subprocess.Popen[bytes], url: str, log_path: Path, what: str, timeout: float
) -> None:
    """Wait until `url` (a process's /readyz) answers 200; fail with the end of the process's
    log if it exits or the time runs out."""
    import urllib.error
    import urllib.request

    def tail() -> str:
        return log_path.read_text(errors="replace")[-4000:]

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited\n{tail()}"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} not ready in time\n{tail()}")


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    """SIGTERM a child process if it still runs; SIGKILL it after `timeout` seconds."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expect: int,
    timeout: float = 60.0,
    settle: float = 3.0,
    with_key: bool = False,
) -> list[dict[str, Any]]:
    """Read a topic from the beginning until `expect` messages arrived and nothing more came
    for `settle` seconds (so a duplicate would be seen), or until `timeout`. With `with_key`,
    each message also carries its Kafka key as "key"."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        await assign_from_beginning(consumer, topic, deadline)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got = [
                {"key": r.key.decode() if r.key else None, **orjson.loads(r.value)}
                if with_key
                else orjson.loads(r.value)
                for recs in batch.values()
                for r in recs
            ]
            if got:
                out.extend(got)
                quiet_since = time.monotonic()
            elif len(out) >= expect and time.monotonic() - quiet_since >= settle:
                break
    finally:
        await consumer.stop()
    return out


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    assert BOOTSTRAP
    return Env(
        bootstrap=BOOTSTRAP,
        prefix=f"rasid-test-{uuid.uuid4().hex[:8]}",
        web_port=free_port(),
        data_dir=tmp_path_factory.mktemp("worker"),
    )


class Worker:
    def __init__(self, env: Env, log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_log = ""  # what the last start logged until the worker was ready
        # Its own static group membership, kept across restarts like a pod's hostname: two
        # workers of one test must not share the machine's hostname (the default).
        self.instance_id = f"test-worker-{uuid.uuid4().hex[:8]}"

    def start(self) -> None:
        started_at = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env={**self.env.environ(), "RASID_INSTANCE_ID": self.instance_id},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()
        with self.log_path.open("rb") as f:
            f.seek(started_at)
            self.start_log = f.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 90.0) -> None:
        assert self.proc is not None
        url = f"http://127.0.0.1:{self.env.web_port}/readyz"
        wait_ready(self.proc, url, self.log_path, "worker", timeout)

    def tail_log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        stop_process(self.proc)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture(scope="session")
def worker(env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    env.rasid("topics")
    w = Worker(env, tmp_path_factory.mktemp("logs") / "worker.log")
    w.start()
    yield w
    w.stop()
