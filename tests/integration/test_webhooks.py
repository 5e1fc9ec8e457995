"""`rasid webhooks` on the real broker with a real worker, delivering to receivers on loopback:
signed POSTs, retries after injected 500s, dead letters after N failures, and a receiver that
is down for a while gets everything once when it comes back."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from streams.validation import schema_errors
from streams.webhooks.policy import verify
from tests.integration.conftest import Env, Worker, free_port, stop_process
from tests.integration.subscribers import IRAQ, article

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 3
# The receivers listen on 127.0.0.1, which deliveries may only reach when the operator allows
# private targets (the default refuses them: streams/webhooks/policy.py url_problem).
PRIVATE = {"RASID_WEBHOOK_ALLOW_PRIVATE": "true"}


class Dispatcher:
    def __init__(self, env: Env, log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        environ = self.env.environ()
        environ.update(
            RASID_WEBHOOK_PORT=str(self.port),
            RASID_WEBHOOK_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
            RASID_WEBHOOK_BACKOFF_BASE_SECONDS="0.2",
            RASID_WEBHOOK_BACKOFF_MAX_SECONDS="1",
            RASID_WEBHOOK_TIMEOUT_SECONDS="5",
            **PRIVATE,
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "webhooks"],
            env=environ,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.wait(lambda status: status["ready"])

    def status(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/readyz"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return dict(orjson.loads(resp.read()))
        except urllib.error.HTTPError as exc:
            return dict(orjson.loads(exc.read()))

    def wait(self, predicate: Any, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.log()
            try:
                if predicate(self.status()):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise AssertionError("dispatcher condition not met\n" + self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        stop_process(self.proc, timeout=20)


@dataclass
class Receiver:
    """A webhook receiver on loopback. `fail_first[path]` 500s before it accepts."""

    port: int = field(default_factory=free_port)
    fail_first: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.path, dict(request.headers), body))
        path = request.path
        if path == "/broken":
            return web.Response(status=500)
        if self.fail_first.get(path, 0) > 0:
            self.fail_first[path] -= 1
            return web.Response(status=500)
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{name}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def bodies(self, path: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
        return [(h, orjson.loads(b)) for p, h, b in self.requests if p == path]


@pytest.fixture(scope="module")
def dispatcher(
    env: Env, worker: Worker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dispatcher]:
    env.rasid("topics")
    d = Dispatcher(env, tmp_path_factory.mktemp("webhooks") / "webhooks.log")
    d.start()
    yield d
    d.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def _subscribe(env: Env, d: Dispatcher, url: str, *args: str) -> dict[str, Any]:
    """Add a subscription and wait until the dispatcher has it (its /readyz counts them: no
    ids there); every test removes its own at the end (the `_cleanup` fixture)."""
    before = d.status()["subscriptions"]
    record = orjson.loads(env.rasid("subscriptions", "add", url, *args, extra_env=PRIVATE))
    d.wait(lambda status: status["subscriptions"] == before + 1)
    ADDED.append(record["id"])
    return dict(record)


ADDED: list[str] = []


@pytest.fixture(autouse=True)
def _cleanup(env: Env, dispatcher: Dispatcher) -> Iterator[None]:
    """Remove the test's subscriptions: the next test starts with none (counts stay exact)."""
    yield
    while ADDED:
        env.rasid("subscriptions", "remove", ADDED.pop())
    dispatcher.wait(lambda status: status["subscriptions"] == 0)


async def _until(predicate: Any, timeout: float = 90.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.3)
    raise AssertionError("condition not met in time")


def _for(
    receiver: Receiver, path: str, article_id: str
) -> list[tuple[dict[str, str], dict[str, Any]]]:
    return [
        (h, p)
        for h, p in receiver.bodies(path)
        if p.get("type") == "alert" and p["alert"]["article"]["id"] == article_id
    ]


async def test_signed_post_and_retries_after_500s(
    env: Env, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    ok = _subscribe(env, dispatcher, receiver.url("ok"), "--rule", "red-line")
    _subscribe(env, dispatcher, receiver.url("flaky"), "--rule", "red-line")
    receiver.fail_first["/flaky"] = 2  # two 500s, then accepted (attempt 3 of 3)
    aid, raw = article(IRAQ)
    await env.produce([raw])
    await _until(lambda: _for(receiver, "/ok", aid) and len(_for(receiver, "/flaky", aid)) >= 3)
    await asyncio.sleep(2)  # nothing more may come
    (headers, payload), *more = _for(receiver, "/ok", aid)
    assert not more  # delivered once
    raw_body = next(b for p, h, b in receiver.requests if p == "/ok" and orjson.loads(b) == payload)
    signature = headers["X-Rasid-Signature"]
    assert verify(ok["secret"], raw_body, signature, now=time.time())
    assert not verify("another secret of enough length", raw_body, signature, now=time.time())
    assert not verify(ok["secret"], raw_body, signature, now=time.time() + 600)  # a replay
    assert headers["X-Rasid-Delivery"] == payload["delivery_id"]
    assert schema_errors("alert", payload["alert"]) == []
    assert payload["alert"]["rule"] == "red-line"
    flaky = _for(receiver, "/flaky", aid)
    assert len(flaky) == 3  # two failures + the success, no more
    assert len({h["X-Rasid-Delivery"] for h, _ in flaky}) == 1  # same idempotency key


async def test_dead_letter_after_n_failures(
    env: Env, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    sub = _subscribe(env, dispatcher, receiver.url("broken"), "--rule", "red-line")
    aid, raw = article(IRAQ)
    await env.produce([raw])
    await _until(lambda: len(_for(receiver, "/broken", aid)) >= MAX_ATTEMPTS)
    letters = await _read(env, f"{env.prefix}.deliveries.deadletter")
    mine = [
        x
        for x in letters
        if x["subscription_id"] == sub["id"] and x["payload"]["alert"]["article"]["id"] == aid
    ]
    assert len(mine) == 1, letters
    letter = mine[0]
    assert schema_errors("delivery-deadletter", letter) == []
    assert letter["attempts"] == MAX_ATTEMPTS
    assert letter["last_status"] == 500
    await asyncio.sleep(2)
    assert len(_for(receiver, "/broken", aid)) == MAX_ATTEMPTS  # and then it stopped


async def _read(env: Env, topic: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=env.bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
            if not parts:
                await asyncio.sleep(0.5)
                continue
            tps = [TopicPartition(topic, p) for p in parts]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(timeout_ms=1000)
                out.extend(orjson.loads(r.value) for rs in batch.values() for r in rs)
            if out:
                return out
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
    return out


async def test_receiver_down_then_back_gets_everything_once(
    env: Env, dispatcher: Dispatcher
) -> None:
    receiver = Receiver()  # not started yet: connections are refused
    _subscribe(env, dispatcher, receiver.url("late"), "--rule", "red-line")
    arts = [article(IRAQ) for _ in range(3)]
    for _, raw in arts:
        await env.produce([raw])
    # the dispatcher finds it down (no attempts spent) …
    dispatcher.wait(lambda status: status["down"] == 1)  # this test's only subscription
    await asyncio.sleep(3)  # … for longer than MAX_ATTEMPTS quick retries would last
    await receiver.start()
    try:
        ids = [aid for aid, _ in arts]
        await _until(lambda: all(_for(receiver, "/late", aid) for aid in ids))
        await asyncio.sleep(2)
        got = [p["alert"]["article"]["id"] for _, p in receiver.bodies("/late")]
        # everything, once (alerts of different stories sit on different partitions of
        # rasid.alerts, so their relative order is not defined)
        assert sorted(got) == sorted(ids)
    finally:
        await receiver.stop()


async def test_one_down_receiver_causes_no_re_sends_to_others_after_a_restart(
    env: Env, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    """Issue 16, item 7: progress is kept per subscription. Before, the group's offsets
    waited for the down receiver, and a restart re-sent everything after them to everyone."""
    down = Receiver()  # not started: connections are refused
    _subscribe(env, dispatcher, receiver.url("fine"), "--rule", "red-line")
    _subscribe(env, dispatcher, down.url("away"), "--rule", "red-line")
    arts = [article(IRAQ) for _ in range(3)]
    ids = [aid for aid, _ in arts]
    for _, raw in arts:
        await env.produce([raw])
    await _until(lambda: all(_for(receiver, "/fine", aid) for aid in ids))
    dispatcher.wait(lambda status: status["down"] == 1)
    await asyncio.sleep(2)  # the progress of both is written (every second)
    dispatcher.stop()
    dispatcher.start()  # re-reads rasid.alerts from the group's offsets: before the 3 alerts
    await down.start()
    try:
        await _until(lambda: all(_for(down, "/away", aid) for aid in ids))
        await asyncio.sleep(3)
        assert sorted(p["alert"]["article"]["id"] for _, p in down.bodies("/away")) == sorted(ids)
        fine = [p["alert"]["article"]["id"] for _, p in receiver.bodies("/fine")]
        assert sorted(fine) == sorted(ids)  # once each: nothing re-sent after the restart
    finally:
        await down.stop()
