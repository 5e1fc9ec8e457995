"""Trends on `rasid api` with the real broker (issue 19): trend.v1 records published to the
deployment's trends topic are served by GET /trends and as `event: trend` on the SSE stream,
within each key's scope; an invalid record is skipped. No worker is needed: the records are
published as the worker's trend stage would write them (keyed by trend id)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import BOOTSTRAP, Env, new_env
from tests.integration.subscribers import Api, create_key, stream
from tests.unit.api.test_trends import trend_record

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trends_env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    assert BOOTSTRAP
    return new_env(BOOTSTRAP, tmp_path_factory.mktemp("trends-api"), name="trends")


@pytest.fixture(scope="module")
def api(trends_env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    # Nothing created the trends topic before: the API creates it and is ready.
    log = tmp_path_factory.mktemp("api") / "api.log"
    server = Api(trends_env, log, RASID_API_HEARTBEAT_SECONDS="1")
    server.start()
    yield server
    server.stop()


async def publish(env: Env, *values: dict[str, Any] | bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=env.bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            if isinstance(value, bytes):
                await producer.send_and_wait(f"{env.prefix}.trends", value, key=b"bad")
            else:
                body = orjson.dumps(value)
                await producer.send_and_wait(f"{env.prefix}.trends", body, key=value["id"].encode())
    finally:
        await producer.stop()


async def get(url: str, token: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, orjson.loads(await resp.read())


async def until_trends(api: Api, token: str, query: str, count: int) -> list[dict[str, Any]]:
    """GET /trends until it holds `count` records (keys and records arrive within moments)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    body: Any = None
    while loop.time() < deadline:
        status, body = await get(f"{api.url}/trends{query}", token)
        if status == 200 and len(body["trends"]) >= count:
            return list(body["trends"])
        await asyncio.sleep(0.3)
    raise AssertionError(f"trends never arrived: {body}")


async def test_trends_are_served_within_each_keys_scope(trends_env: Env, api: Api) -> None:
    everything = create_key(trends_env, "trends-all")
    iraq = create_key(trends_env, "trends-iq", "--region", "IQ")
    records = [
        trend_record(1, key="IQ|security", detected_at="2026-12-03T06:00:00+00:00"),
        trend_record(2, key="SY|*", level="high", detected_at="2026-12-03T07:00:00+00:00"),
        trend_record(3, key="*|security", detected_at="2026-12-03T08:00:00+00:00"),
        trend_record(4, key="IQ|*", level="extreme", detected_at="2026-12-03T09:00:00+00:00"),
    ]
    await publish(trends_env, records[0], records[1], b"{not a trend", records[2], records[3])
    got = await until_trends(api, everything, "", 4)
    assert [t["id"] for t in got] == [r["id"] for r in reversed(records)]  # the bad one skipped
    assert got == list(reversed(records))
    scoped = await until_trends(api, iraq, "", 2)
    assert [t["key"] for t in scoped] == ["IQ|*", "IQ|security"]
    high = await until_trends(api, everything, "?level=high&limit=1", 1)
    assert [t["key"] for t in high] == ["IQ|*"]
    status, page = await get(f"{api.url}/trends?level=high&limit=1", everything)
    assert status == 200 and page["next_cursor"]
    status, rest = await get(
        f"{api.url}/trends?level=high&cursor={page['next_cursor']}", everything
    )
    assert [t["key"] for t in rest["trends"]] == ["SY|*"] and rest["next_cursor"] is None
    status, bad = await get(f"{api.url}/trends?level=urgent", everything)
    assert status == 400 and "level" in bad["error"]


async def test_trend_events_on_the_stream(trends_env: Env, api: Api) -> None:
    iraq = create_key(trends_env, "stream-iq", "--region", "IQ")
    await until_trends(api, iraq, "", 0)  # the API knows the key
    async with (
        stream(api.url, iraq, query="?events=alerts,trends") as both,
        stream(api.url, iraq) as alerts_only,
    ):
        wanted = trend_record(10, key="IQ|politics", level="high")
        await publish(
            trends_env,
            trend_record(11, key="SY|politics", level="extreme"),  # out of the key's scope
            wanted,
        )
        event = await both.next(timeout=30)
        assert event.event == "trend" and event.id is None
        assert event.data == wanted
        with pytest.raises(TimeoutError):  # the alerts-only stream gets no trend
            await alerts_only.next(timeout=3)
        assert alerts_only.comments  # … only its heartbeats
