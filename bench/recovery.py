#!/usr/bin/env python3
"""Recovery time after `kill -9` on a real broker: from the kill of a worker, restarted at
once with the same settings, to its first output for an article sent after the kill.

Usage:
    .venv/bin/python bench/recovery.py [--bootstrap HOST:PORT] [--runs N]

Two configurations of the same code, each on fresh topics and its own consumer group:

- `faust defaults`: what the worker ran with before issue 20 (session timeout 60 s, heartbeat
  3 s, no static membership);
- `rasid defaults`: RASID_CONSUMER_SESSION_TIMEOUT_SECONDS=10, heartbeat 3 s, and static
  membership (RASID_INSTANCE_ID, the same id across the restart, as a pod's hostname is);
- `session 10 s, no static membership`: to tell the two changes apart.

A probe article (unique url) is sent every 0.5 s from the kill on; the figure is the time from
the kill to the first enriched message of a probe. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parent.parent
BODY = (ROOT / "tests" / "fixtures" / "baghdadtoday-2024-12-01-sayyida-zaynab.txt").read_text(
    encoding="utf-8"
)
CONFIGS = {
    "faust defaults": {
        "RASID_CONSUMER_SESSION_TIMEOUT_SECONDS": "60",
        "RASID_CONSUMER_HEARTBEAT_INTERVAL_SECONDS": "3",
        "RASID_INSTANCE_ID": "",
    },
    "rasid defaults": {},
    "session 10 s, no static membership": {"RASID_INSTANCE_ID": ""},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """A process's resident memory, MB (Linux /proc)."""
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


class Worker:
    def __init__(self, bootstrap: str, overrides: dict[str, str], tmp: Path) -> None:
        self.prefix = f"rasid-recovery-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.log = tmp / f"{self.prefix}.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RASID_KAFKA_BOOTSTRAP": bootstrap,
            "RASID_APP_ID": self.prefix,
            "RASID_TOPIC_RAW": f"{self.prefix}.raw",
            "RASID_TOPIC_ENRICHED": f"{self.prefix}.enriched",
            "RASID_TOPIC_ALERTS": f"{self.prefix}.alerts",
            "RASID_TOPIC_DEADLETTER": f"{self.prefix}.deadletter",
            "RASID_TOPIC_RULES": f"{self.prefix}.rules",
            "RASID_TOPIC_PARTITIONS": "3",
            "RASID_WEB_PORT": str(self.port),
            "RASID_DATA_DIR": str(tmp / self.prefix),
            "RASID_LOG_LEVEL": "WARNING",
            "RASID_INSTANCE_ID": f"{self.prefix}-0",
            **overrides,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "streams.cli", *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, f"see {self.log}"
            try:
                url = f"http://127.0.0.1:{self.port}/readyz"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise SystemExit(f"worker not ready in {timeout} s; see {self.log}")

    def kill_9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def article(url: str) -> bytes:
    return orjson.dumps({"schema_version": 1, "source": "baghdadtoday", "url": url, "body": BODY})


async def first_output(
    worker: Worker, producer: AIOKafkaProducer, tag: str, since: float | None = None
) -> float:
    """Send a probe every 0.5 s from now on; seconds from `since` (default: now) until the
    first one comes out enriched."""
    consumer = AIOKafkaConsumer(
        worker.env["RASID_TOPIC_ENRICHED"],
        bootstrap_servers=worker.env["RASID_KAFKA_BOOTSTRAP"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    started = time.monotonic() if since is None else since
    await consumer.start()
    try:

        async def probes() -> None:
            for i in range(10_000):
                await producer.send_and_wait(
                    worker.env["RASID_TOPIC_RAW"],
                    article(f"https://probe/{tag}/{i}"),
                    key=f"{tag}-{i}".encode(),
                )
                await asyncio.sleep(0.5)

        sending = asyncio.create_task(probes())
        try:
            async for msg in consumer:
                assert msg.value is not None
                if f"https://probe/{tag}/" in (orjson.loads(msg.value).get("url") or ""):
                    return time.monotonic() - started
                if time.monotonic() - started > 300:
                    break
        finally:
            sending.cancel()
    finally:
        await consumer.stop()
    return float("nan")


async def measure(bootstrap: str, name: str, overrides: dict[str, str], tmp: Path) -> float:
    worker = Worker(bootstrap, overrides, tmp)
    worker.cli("topics")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        worker.start()
        worker.wait_ready()
        await first_output(worker, producer, "warm")  # the group is stable, output flows
        await asyncio.sleep(2)
        worker.kill_9()
        killed = time.monotonic()
        worker.start()  # restarted at once, as a container restart does
        return await first_output(worker, producer, "after-kill", since=killed)
    finally:
        await producer.stop()
        worker.stop()


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="rasid-recovery-") as tmp:
        print(f"kill -9 → restart → first output (s), {args.runs} run(s) each")
        for name, overrides in CONFIGS.items():
            figures = [
                await measure(args.bootstrap, name, overrides, Path(tmp)) for _ in range(args.runs)
            ]
            shown = ", ".join(f"{f:.1f}" for f in figures)
            print(f"  {name:38} {shown}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("RASID_TEST_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument("--runs", type=int, default=1)
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
