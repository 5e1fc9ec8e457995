"""`rasid api` on the real broker, next to a real worker: keys, GET /alerts, the SSE stream
(live delivery, Last-Event-ID resume, heartbeats), scoped keys, the OpenAPI document."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from streams.validation import schema_errors
from tests.integration.conftest import Env, Worker, new_env
from tests.integration.subscribers import EGYPT, IRAQ, Api, article, create_key, stream

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api(env: Env, worker: Worker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env.rasid("topics")
    server = Api(env, tmp_path_factory.mktemp("api") / "api.log", RASID_API_HEARTBEAT_SECONDS="1")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def full_key(env: Env, api: Api) -> str:
    return create_key(env, "newsroom")


async def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, orjson.loads(await resp.read())


async def _wait_key(api: Api, token: str, timeout: float = 30.0) -> None:
    """Keys are read from their topic: a new one works within a moment."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        status, _ = await _get(f"{api.url}/alerts?limit=1", token)
        if status == 200:
            return
        await asyncio.sleep(0.3)
    raise AssertionError("key never accepted")


async def test_missing_or_wrong_key_is_401(api: Api, full_key: str) -> None:
    await _wait_key(api, full_key)
    for path in ("/alerts", "/alerts/stream"):
        for token in (None, "rsd_000000000000_wrong", full_key[:-1] + "x", "not-a-token"):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with (
                aiohttp.ClientSession() as session,
                session.get(api.url + path, headers=headers) as resp,
            ):
                assert resp.status == 401, (path, token)
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    status, body = await _get(f"{api.url}/alerts?severity=urgent", full_key)
    assert status == 400 and "severity" in body["error"]


async def test_keys_are_stored_hashed(env: Env, api: Api, full_key: str) -> None:
    from streams.cli.subscribers import read_compacted
    from streams.settings import Settings

    settings = Settings(kafka_bootstrap=env.bootstrap, topic_alerts=env.topics["alerts"])
    records = await read_compacted(settings, f"{env.prefix}.apikeys")
    raw = orjson.dumps(records).decode()
    _, key_id, secret = full_key.split("_", 2)  # the secret may contain "_" itself
    assert full_key not in raw and secret not in raw
    assert records[key_id]["token_sha256"] == hashlib.sha256(full_key.encode()).hexdigest()
    assert schema_errors("apikey", records[key_id]) == []


async def test_stream_delivers_a_new_alert_and_resumes_with_last_event_id(
    env: Env, api: Api, full_key: str
) -> None:
    await _wait_key(api, full_key)
    first, second, third = (article(IRAQ) for _ in range(3))
    async with stream(api.url, full_key) as s:
        await env.produce([first[1]])
        got, _ = await s.until(lambda e: e.data["article"]["id"] == first[0], timeout=90)
        assert got.event == "alert" and got.id
        assert got.data["rule"] == "red-line" and got.data["status"] == "new"
        assert schema_errors("alert", got.data) == []
        # idle: heartbeats keep the connection open (1 s in this test)
        with pytest.raises(TimeoutError):
            await s.next(timeout=2.5)
        assert any("heartbeat" in c for c in s.comments)
    resume_from = got.id
    # Disconnected: two more alerts happen meanwhile.
    await env.produce([second[1], third[1]])
    await env.read_all("alerts", expect=1, timeout=60, settle=1)  # let the worker catch up
    async with stream(api.url, full_key, last_event_id=resume_from) as s:
        seen = await s.collect({second[0], third[0]}, timeout=90)
    ids = [e.data["article"]["id"] for e in seen]
    assert first[0] not in ids  # no repeat of what was seen before the disconnect
    assert ids.count(second[0]) == 1 and ids.count(third[0]) == 1  # no gap, no repeat


async def test_scoped_key_never_receives_other_regions(env: Env, api: Api, full_key: str) -> None:
    eg_token = create_key(env, "cairo-desk", "--region", "EG")
    await _wait_key(api, eg_token)
    iraq, egypt = article(IRAQ), article(EGYPT)
    async with stream(api.url, eg_token) as scoped, stream(api.url, full_key) as everything:
        await env.produce([iraq[1]])
        await env.produce([egypt[1]])
        # the unscoped stream sees both (in either order: different partitions) …
        await everything.collect({iraq[0], egypt[0]}, timeout=90, settle=0.5)
        # … the scoped one only Egypt's, and nothing from Iraq even after both arrived
        seen = await scoped.collect({egypt[0]}, timeout=30, settle=2.0)
        assert all("EG" in e.data["regions"] for e in seen)
        assert iraq[0] not in {e.data["article"]["id"] for e in seen}
    status, page = await _get(f"{api.url}/alerts?limit=500", eg_token)
    assert status == 200 and page["alerts"]
    assert all("EG" in a["regions"] for a in page["alerts"])
    status, page = await _get(f"{api.url}/alerts?limit=500", full_key)
    assert {iraq[0], egypt[0]} <= {a["article"]["id"] for a in page["alerts"]}


async def test_alerts_filters_and_cursor_pagination(env: Env, api: Api, full_key: str) -> None:
    arts = [article(EGYPT) for _ in range(3)]
    await env.produce([raw for _, raw in arts])
    ids = {aid for aid, _ in arts}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while loop.time() < deadline:
        _, page = await _get(f"{api.url}/alerts?region=EG&limit=500", full_key)
        if ids <= {a["article"]["id"] for a in page["alerts"]}:
            break
        await asyncio.sleep(0.5)
    everything = [a["id"] for a in page["alerts"]]
    # page through two at a time: the same alerts, in the same order, none twice
    paged: list[str] = []
    cursor = None
    while True:
        url = f"{api.url}/alerts?region=EG&limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, body = await _get(url, full_key)
        assert status == 200
        paged += [a["id"] for a in body["alerts"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert paged == everything
    _, none = await _get(f"{api.url}/alerts?region=EG&severity=critical", full_key)
    assert all(a["severity"] == "critical" for a in none["alerts"])
    _, other = await _get(f"{api.url}/alerts?region=EG&rule=no-such-rule", full_key)
    assert other["alerts"] == []
    _, iraq_only = await _get(f"{api.url}/alerts?region=IQ&limit=500", full_key)
    assert not ids & {a["article"]["id"] for a in iraq_only["alerts"]}


async def test_openapi_is_served_and_committed(api: Api) -> None:
    status, served = await _get(f"{api.url}/openapi.json")
    assert status == 200
    committed = orjson.loads((ROOT / "schemas" / "openapi.v1.json").read_bytes())
    assert served == committed
    assert {"/alerts", "/alerts/stream"} <= set(served["paths"])


async def test_many_concurrent_streams_all_get_the_alert(env: Env, api: Api, full_key: str) -> None:
    # one key may hold RASID_API_KEY_STREAMS (10) streams: five keys, ten streams each
    keys = [full_key, *(create_key(env, f"many-{i}") for i in range(4))]
    for key in keys:
        await _wait_key(api, key)
    clients = 50
    aid, raw = article(IRAQ)
    async with contextlib.AsyncExitStack() as stack:
        streams = [
            await stack.enter_async_context(stream(api.url, keys[i % len(keys)]))
            for i in range(clients)
        ]
        status, metrics_text = await _text(f"{api.url}/metrics")
        assert status == 200
        open_streams = float(
            next(
                line.split()[-1]
                for line in metrics_text.splitlines()
                if line.startswith("rasid_api_streams ")
            )
        )
        assert open_streams >= clients
        await env.produce([raw])
        got = await asyncio.gather(
            *(s.until(lambda e: e.data["article"]["id"] == aid, timeout=90) for s in streams)
        )
    assert len(got) == clients
    assert len({event.id for event, _ in got}) == 1  # the same position for everyone


async def _text(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


async def test_a_resume_from_before_the_buffer_reads_back_from_kafka(
    env: Env, tmp_path: Path
) -> None:
    """Issue 16, item 5: the API keeps 12 alerts; a stream resuming from the start of the topic
    gets the 18 older ones read back from Kafka (in chunks) and the 12 buffered, each once.
    (A read-back covers at most one buffer per partition: 10 alerts per partition here.)"""
    from aiokafka import AIOKafkaProducer

    own = new_env(env.bootstrap, tmp_path, name="readback")
    own.rasid("topics")
    producer = AIOKafkaProducer(bootstrap_servers=own.bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(30):
            doc = {"id": f"readback-{n:02d}", "status": "new", "article": {"id": f"art-{n:02d}"}}
            await producer.send_and_wait(
                own.topics["alerts"], orjson.dumps(doc), key=b"%d" % n, partition=n % 3
            )
    finally:
        await producer.stop()
    token = create_key(own, "readback")
    server = Api(own, tmp_path / "api.log", RASID_API_BUFFER_ALERTS="12")
    server.start()
    try:
        await _wait_key(server, token)
        ids = {f"art-{n:02d}" for n in range(30)}
        async with stream(server.url, token, last_event_id="1.0.0.0") as s:
            events = await s.collect(ids, timeout=60)
    finally:
        server.stop()
    got = [e.data["article"]["id"] for e in events]
    assert sorted(got) == sorted(ids)  # every one, once
