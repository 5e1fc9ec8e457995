"""`rasid api` handlers on a real aiohttp server without a broker: the feed and the key store
are filled by hand (build_app(..., readers=False))."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.api.access import ApiKey, hash_token, new_token
from streams.api.http import Runner
from streams.api.server import FEED, KEYS, build_app
from streams.logs import JsonFormatter
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


def app_of(**kw: Any) -> web.Application:
    app = build_app(settings(**kw), readers=False)
    feed = app[FEED]
    for p in range(PARTITIONS):
        feed._start(p, 0, 0)
    for o in range(5):
        feed.add(record(o % PARTITIONS, o // PARTITIONS))
    feed.ready.set()
    return app


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(app_of())) as c:
        yield c


@pytest.fixture
async def served() -> AsyncIterator[str]:
    """The app behind the runner `rasid api` uses (TestServer has aiohttp's own)."""
    runner = Runner(app_of())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


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


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/alerts?limit=abc", {}, 400),
        ("GET", "/alerts?limit=0", {}, 400),
        ("GET", "/alerts?cursor=a-b-c", {}, 400),
        ("GET", "/alerts?cursor=1-2", {}, 400),
        ("GET", "/alerts?since=yesterday", {}, 400),
        ("GET", "/alerts?severity=urgent", {}, 400),
        ("GET", "/nope", {}, 404),
        ("POST", "/alerts", {}, 405),
        ("GET", "/alerts?access_token=rsd_0123_" + "s" * 9000, {}, 400),  # URL > 8 KiB
        ("GET", "/alerts", {"X-Big": "rsd_0123_" + "s" * 9000}, 400),  # header > 8 KiB
    ],
)
async def test_errors_are_one_line_of_json_and_log_no_traceback(
    served: str,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, served + path, headers=headers) as resp,
    ):
        body = await resp.read()
        assert resp.status == status
        assert resp.content_type == "application/json"
    assert body.count(b"\n") == 0
    error = orjson.loads(body)["error"]
    for python in ("invalid literal", "Traceback", "bytearray", "Error:", "b'", "ValueError"):
        assert python not in error, error
    assert "sss" not in error  # what the client sent is not quoted back
    for rec in caplog.records:
        assert rec.levelno < logging.ERROR, rec.getMessage()
        assert rec.exc_info is None, rec.getMessage()
        assert "sssss" not in rec.getMessage()


# ---------------------------------------------------------------- keys, tickets, the access log
def keyed_app() -> tuple[web.Application, str]:
    """An app that requires keys, with one key; → (app, its token)."""
    app = app_of(api_keys_required=True)
    key_id, token = new_token()
    app[KEYS].keys[key_id] = ApiKey(key_id, "desk", hash_token(token))
    app[KEYS].ready.set()
    return app, token


async def _serve(app: web.Application) -> tuple[Runner, str]:
    runner = Runner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the process would have written: each record as the JSON log line."""
    formatter = JsonFormatter()
    return "\n".join(formatter.format(r) for r in caplog.records)


async def test_the_access_log_holds_no_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app, token = keyed_app()
    secret_part = token.split("_", 2)[2]
    runner, url = await _serve(app)
    try:
        async with aiohttp.ClientSession() as session:
            for path in (
                f"/alerts?access_token={token}&region=IQ",
                f"/alerts?region=IQ&ACCESS_TOKEN={token}",
                f"/alerts?access%5Ftoken={token}",  # a name spelled encoded
                f"/alerts?region={token}",  # a token where it does not belong
                f"/alerts/{token}",  # in a path (404)
            ):
                async with session.get(url + path) as resp:
                    assert resp.status in (200, 401, 404), path
                    await resp.read()
            async with session.post(
                url + "/alerts/stream/ticket", headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                ticket = (await resp.json())["ticket"]
            async with session.get(url + "/alerts/stream", params={"ticket": ticket}) as resp:
                assert resp.status == 200
    finally:
        await runner.cleanup()
    logged = _logged(caplog)
    assert "/alerts" in logged and "REDACTED" in logged  # the requests are logged …
    for secret in (token, secret_part, secret_part[:8], ticket, ticket.split(".")[-1][:8]):
        assert secret not in logged  # … without any token, whole or in part


async def test_stream_tickets_are_one_use_and_need_the_header() -> None:
    app, token = keyed_app()
    bearer_header = {"Authorization": f"Bearer {token}"}
    async with TestClient(TestServer(app)) as c:
        resp = await c.post("/alerts/stream/ticket")
        assert resp.status == 401
        resp = await c.post("/alerts/stream/ticket", params={"access_token": token})
        assert resp.status == 401  # the header only: a query string is not enough
        resp = await c.post("/alerts/stream/ticket", headers=bearer_header)
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        body = await resp.json()
        assert body["expires_in"] == 60 and token not in body["ticket"]
        resp = await c.get("/alerts/stream", params={"ticket": body["ticket"]})
        assert resp.status == 200
        resp.close()
        again = await c.get("/alerts/stream", params={"ticket": body["ticket"]})
        assert again.status == 401  # used
        resp = await c.get("/alerts", params={"ticket": body["ticket"]})
        assert resp.status == 401  # tickets open streams only


async def _until_closed(resp: aiohttp.ClientResponse, timeout: float) -> list[str]:
    """Lines read until the server ends the stream (TimeoutError if it does not)."""
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while raw := await resp.content.readline():
            lines.append(raw.decode().rstrip("\n"))
    return lines


@pytest.mark.parametrize("how", ["header", "ticket"])
async def test_revoking_a_key_closes_its_open_streams_within_5_s(how: str) -> None:
    app, token = keyed_app()
    key_id = token.split("_")[1]
    other_app_key, other_token = new_token()
    app[KEYS].keys[other_app_key] = ApiKey(other_app_key, "other", hash_token(other_token))
    async with TestClient(TestServer(app)) as c:
        if how == "header":
            resp = await c.get("/alerts/stream", headers={"Authorization": f"Bearer {token}"})
        else:
            t = await c.post("/alerts/stream/ticket", headers={"Authorization": f"Bearer {token}"})
            resp = await c.get("/alerts/stream", params={"ticket": (await t.json())["ticket"]})
        other = await c.get("/alerts/stream", headers={"Authorization": f"Bearer {other_token}"})
        assert resp.status == 200 and other.status == 200
        await resp.content.readline()  # retry: 3000 — the stream is open
        app[KEYS].add(SimpleNamespace(key=key_id.encode(), value=None))  # `rasid keys revoke`
        app[FEED].add(record(0, 99))  # an alert after the revocation
        started = asyncio.get_running_loop().time()
        lines = await _until_closed(resp, timeout=5.0)
        assert asyncio.get_running_loop().time() - started < 5.0
        assert not any(line.startswith("data:") and "a-0-99" in line for line in lines)
        # the other key's stream is untouched and gets the alert
        async with asyncio.timeout(5):
            while b"a-0-99" not in await other.content.readline():
                pass
        other.close()
        again = await c.get("/alerts/stream", headers={"Authorization": f"Bearer {token}"})
        assert again.status == 401
