"""`rasid api` handlers on a real aiohttp server without a broker: the feed and the key store
are filled by hand (build_app(..., readers=False))."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.api.server import FEED, build_app
from streams.settings import Settings
from tests.unit.api.test_feed import record

PARTITIONS = 3


def settings(**kw: Any) -> Settings:
    base: dict[str, Any] = {
        "kafka_bootstrap": "127.0.0.1:1",
        "api_keys_required": False,
        "api_heartbeat_seconds": 0.2,
    }
    return Settings(**{**base, **kw})


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    app = build_app(settings(), readers=False)
    feed = app[FEED]
    for p in range(PARTITIONS):
        feed._start(p, 0, 0)
    for o in range(5):
        feed.add(record(o % PARTITIONS, o // PARTITIONS))
    feed.ready.set()
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.mark.parametrize(
    "last_event_id",
    [
        "1.-5",
        "1.0.-1.0",
        "1.0.0.0.0",  # four partitions; the topic has three
        "1." + ".".join(["0"] * 3000),
        "2.0",
        "garbage",
    ],
)
async def test_bad_last_event_id_is_a_400_before_the_stream_starts(
    client: TestClient[Any, Any], last_event_id: str
) -> None:
    for how in ("header", "query"):
        if how == "header":
            resp = await client.get("/alerts/stream", headers={"Last-Event-ID": last_event_id})
        else:
            resp = await client.get("/alerts/stream", params={"last_event_id": last_event_id})
        assert resp.status == 400, (how, last_event_id)
        assert resp.content_type == "application/json"
        body = await resp.read()
        assert b"\n" not in body.strip()
        error = (await resp.json())["error"]
        assert "Last-Event-ID" in error
        assert last_event_id[2:] not in error or len(last_event_id) < 5


async def test_good_last_event_id_resumes(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/alerts/stream", headers={"Last-Event-ID": "1.1.1.0"})
    assert resp.status == 200
    seen: list[str] = []
    while len(seen) < 2:
        line = (await resp.content.readline()).decode().strip()
        if line.startswith("data: "):
            seen.append(line)
    # after 1.1.1.0: partition 0 offset 1 and partition 2 offset 0 (p1 o0 was already seen)
    assert '"a-0-1"' in seen[0] + seen[1] and '"a-2-0"' in seen[0] + seen[1]
    resp.close()
