#!/usr/bin/env python3
"""`rasid api` under load on a real broker (issue 16, item 5).

Usage:
    .venv/bin/python bench/api_load.py [--bootstrap HOST:PORT] [--seconds S] [--forged N]

Fresh topics; 10,000 alerts (~2.5 KB each, schema-valid: the sample page through the worker's code) on the alerts topic and 51 API keys, then `rasid
api` is started and, from a second process (the load generator, so it does not share the API's
event loop):

- 200 SSE clients stay connected (`Authorization` header); a probe alert carrying its send
  time (`updated_at`) is published every 0.5 s, and each client notes when it received it;
- 50 clients, one key each, request `GET /alerts?limit=50` back to back for S seconds;
- with `--forged N`, N more streams open with the forged `Last-Event-ID: 1.` (from the start
  of the topic; with `--buffer B` < 10,000 the API keeps B alerts and reads up to a buffer per
  partition back from Kafka for each of them).

It prints requests/s, request latency (median, p95), 429 answers, SSE delivery latency of the
probes (median, p95, max over all clients) and the API's peak RSS. It asserts nothing. The
targets (issue 16): ≥ 500 req/s, SSE delivery < 0.5 s, RSS ≤ 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from recovery import free_port, rss_mb  # noqa: E402

from streams.api.access import ApiKey, hash_token, new_token  # noqa: E402
from streams.validation import is_valid  # noqa: E402

ALERTS = 10_000
SSE_CLIENTS = 200
LIST_CLIENTS = 50
PARTITIONS = 3


@functools.cache
def template() -> dict[str, Any]:
    """A real alert (schema alert.v3): the sample page through the worker's own core and story
    alert code, so the API serves what it serves in production."""
    from streams.settings import Settings
    from streams.stories.cluster import story_alert
    from streams.times import utcnow
    from streams.worker.pipeline import Pipeline

    pipe = Pipeline.load(Settings())
    now = utcnow()
    body = (ROOT / "tests" / "fixtures" / "baghdadtoday-2024-12-01-sayyida-zaynab.txt").read_text()
    raw = {"schema_version": 1, "id": "load-0", "source": "outlet-one", "body": body,
           "url": "https://x.test/0", "content_type": "text/plain"}  # fmt: skip
    enriched = pipe.enriched(orjson.dumps(raw), now)
    hit = pipe.alerts(enriched, pipe.match(enriched), now)[0]
    made = story_alert(hit, "st-" + "0" * 24, None, now=now.isoformat(), escalate_at=3)
    assert made is not None and is_valid("alert", made), "the template alert must be valid"
    return made


PROBE_RULE = "load-probe"  # the probes' rule id: how the clients tell them apart
PROBE = f'"rule":"{PROBE_RULE}"'.encode()


def alert(n: int, *, probe: bool = False) -> dict[str, Any]:
    """The n-th alert: the template with its own id, story and severity; a probe carries its
    send time as `updated_at` (microseconds)."""
    now = datetime.now(UTC).isoformat()
    return {
        **template(),
        "id": f"{n:032x}",
        "story_id": f"st-{n:024x}",
        "rule": PROBE_RULE if probe else template()["rule"],
        "severity": ("high", "critical", "medium")[n % 3],
        "alerted_at": now,
        "updated_at": now,
    }


async def setup(bootstrap: str, prefix: str) -> list[str]:
    """The alerts and the keys on the broker; returns the keys' tokens."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(f"{prefix}.alerts", PARTITIONS, 1),
                NewTopic(f"{prefix}.apikeys", 1, 1, topic_configs={"cleanup.policy": "compact"}),
            ]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    tokens = []
    try:
        for n in range(ALERTS):
            await producer.send(f"{prefix}.alerts", orjson.dumps(alert(n)), key=b"%d" % n)
        for i in range(LIST_CLIENTS + 1):
            key_id, token = new_token()
            key = ApiKey(
                id=key_id,
                name=f"bench-{i}",
                token_hash=hash_token(token),
                created_at=datetime.now(UTC).isoformat(),
            )
            await producer.send(
                f"{prefix}.apikeys", orjson.dumps(key.record()), key=key_id.encode()
            )
            tokens.append(token)
        await producer.flush()
    finally:
        await producer.stop()
    return tokens


def load(url: str, tokens: list[str], seconds: float, forged: int, out: Any) -> None:
    """The load generator (its own process): runs the clients, puts its figures on `out`."""
    out.put(asyncio.run(_load(url, tokens, seconds, forged)))


async def _load(url: str, tokens: list[str], seconds: float, forged: int) -> dict[str, Any]:
    import aiohttp

    delays: list[float] = []
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def sse(token: str, last_event_id: str | None = None) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
            try:
                async with session.get(
                    f"{url}/alerts/stream", headers=headers, timeout=timeout
                ) as resp:
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                    async for line in resp.content:
                        if line.startswith(b"data: ") and PROBE in line:
                            doc = orjson.loads(line[6:])
                            if not last_event_id:
                                sent = datetime.fromisoformat(doc["updated_at"]).timestamp()
                                delays.append(time.time() - sent)
            except (aiohttp.ClientError, asyncio.CancelledError):
                pass

        async def lister(token: str) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            while time.monotonic() < stop:
                started = time.perf_counter()
                async with session.get(f"{url}/alerts?limit=50", headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                    if resp.status == 200:
                        latencies.append(time.perf_counter() - started)
                    elif resp.status == 429:
                        await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))

        # spread over the keys: one key may hold RASID_API_KEY_STREAMS (10) streams
        streams = [asyncio.create_task(sse(tokens[i % len(tokens)])) for i in range(SSE_CLIENTS)]
        streams += [asyncio.create_task(sse(tokens[i % len(tokens)], "1.")) for i in range(forged)]
        await asyncio.sleep(3)  # connected
        started = time.monotonic()
        stop = started + seconds
        await asyncio.gather(*(lister(tokens[i]) for i in range(LIST_CLIENTS)))
        elapsed = time.monotonic() - started
        await asyncio.sleep(2)
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
    return {
        "requests": len(latencies),
        "elapsed": elapsed,
        "latencies": latencies,
        "delays": delays,
        "statuses": statuses,
    }


async def probes(bootstrap: str, topic: str, stop: asyncio.Event) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1)
    await producer.start()
    sent = 0
    try:
        while not stop.is_set():
            doc = alert(ALERTS + sent, probe=True)
            await producer.send_and_wait(topic, orjson.dumps(doc), key=b"probe")
            sent += 1
            await asyncio.sleep(0.5)
    finally:
        await producer.stop()
    return sent


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def main_async(args: argparse.Namespace) -> None:
    prefix = f"rasid-apiload-{uuid.uuid4().hex[:8]}"
    tokens = await setup(args.bootstrap, prefix)
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASID_KAFKA_BOOTSTRAP": args.bootstrap,
        "RASID_APP_ID": prefix,
        "RASID_TOPIC_ALERTS": f"{prefix}.alerts",
        "RASID_TOPIC_RAW": f"{prefix}.raw",
        "RASID_TOPIC_ENRICHED": f"{prefix}.enriched",
        "RASID_TOPIC_DEADLETTER": f"{prefix}.deadletter",
        "RASID_TOPIC_PARTITIONS": str(PARTITIONS),
        "RASID_API_PORT": str(port),
        "RASID_LOG_LEVEL": "WARNING",
        "RASID_API_BUFFER_ALERTS": str(args.buffer),
    }
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "api.log"
        api = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "api"],
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError):  # not up yet
                    if time.monotonic() > deadline or api.poll() is not None:
                        raise SystemExit(log.read_text()[-2000:]) from None
                    await asyncio.sleep(0.5)
            await asyncio.sleep(3)  # the keys and the buffer are loaded
            print(f"api ready ({prefix}); load for {args.seconds:g} s", file=sys.stderr)
            idle_rss = rss_mb(api.pid)
            queue: Any = multiprocessing.get_context("spawn").Queue()
            gen = multiprocessing.get_context("spawn").Process(
                target=load,
                args=(f"http://127.0.0.1:{port}", tokens, args.seconds, args.forged, queue),
            )
            gen.start()
            stop = asyncio.Event()
            sender = asyncio.create_task(probes(args.bootstrap, f"{prefix}.alerts", stop))
            peak = idle_rss
            # read the figures while the generator runs: a child cannot exit before the
            # parent took what it put on the queue
            result = asyncio.create_task(asyncio.to_thread(queue.get, True, args.seconds + 120))
            while not result.done():
                peak = max(peak, rss_mb(api.pid))
                await asyncio.sleep(0.2)
            figures = result.result()
            gen.join(timeout=30)
            stop.set()
            sent = await sender
        finally:
            api.terminate()
            api.wait(timeout=30)
    lat, delays = figures["latencies"], figures["delays"]
    print(
        f"GET /alerts?limit=50, {LIST_CLIENTS} clients: "
        f"{figures['requests'] / figures['elapsed']:.0f} req/s, "
        f"median {1000 * statistics.median(lat):.1f} ms, p95 {1000 * pct(lat, 95):.1f} ms; "
        f"statuses {figures['statuses']}"
    )
    print(
        f"SSE, {SSE_CLIENTS} clients (+{args.forged} forged resumes): {len(delays)} probe "
        f"deliveries of {sent} probes, median {1000 * statistics.median(delays):.0f} ms, "
        f"p95 {1000 * pct(delays, 95):.0f} ms, max {1000 * max(delays):.0f} ms"
        if delays
        else f"SSE: no probe delivered ({sent} sent)"
    )
    print(f"API RSS: {idle_rss:.0f} MB idle with {ALERTS} alerts, peak {peak:.0f} MB under load")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19492")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--forged", type=int, default=0)
    # smaller than the 10,000 alerts: a forged resume reads the rest back from Kafka
    parser.add_argument("--buffer", type=int, default=10_000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
