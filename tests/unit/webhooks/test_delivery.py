"""The dispatcher's POST against real local HTTP servers (no broker): redirects are never
followed, and hosts resolving to forbidden addresses are refused before any connection."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from streams.settings import Settings
from streams.webhooks.service import CheckedResolver, Dispatcher, ForbiddenTarget, new_session

RECORD = {"id": "sub1", "secret": "s" * 32}
PAYLOAD = {"delivery_id": "d1", "type": "alert", "alert": {"id": "a"}}


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[str]]]:
    """/hook answers 307 to /elsewhere; → (base URL, paths that received a POST)."""
    hits: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPTemporaryRedirect("/elsewhere")

    async def elsewhere(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/elsewhere", elsewhere)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", hits
    await runner.cleanup()


async def _post(url: str, **settings: Any) -> tuple[int | None, str]:
    d = Dispatcher(Settings(kafka_bootstrap="127.0.0.1:1", **settings))
    d.session = new_session(d.settings)
    try:
        return await d.post({**RECORD, "url": url}, PAYLOAD)
    finally:
        await d.session.close()


async def test_a_redirect_is_not_followed(receiver: tuple[str, list[str]]) -> None:
    base, hits = receiver
    status, _ = await _post(base + "/hook", webhook_allow_private=True)
    assert status == 307  # a refusal: dead-lettered, not re-posted elsewhere
    assert hits == ["/hook"]


async def test_loopback_receivers_are_refused_unless_allowed(
    receiver: tuple[str, list[str]],
) -> None:
    base, hits = receiver
    status, error = await _post(base + "/elsewhere")
    assert status is None and error.startswith("forbidden")
    port = base.rsplit(":", 1)[1]
    status, error = await _post(f"http://0x7f000001:{port}/elsewhere")
    assert status is None and error.startswith("forbidden")
    assert hits == []  # nothing was sent
    status, _ = await _post(base + "/elsewhere", webhook_allow_private=True)
    assert status == 204 and hits == ["/elsewhere"]


async def test_a_name_resolving_to_loopback_is_refused_at_connection(
    receiver: tuple[str, list[str]],
) -> None:
    name = socket.gethostname()
    try:
        address = ipaddress.ip_address(socket.getaddrinfo(name, None)[0][4][0])
    except OSError:
        pytest.skip("this machine's name does not resolve")
    if address.is_global:
        pytest.skip("this machine's name resolves to a global address")
    base, hits = receiver
    port = base.rsplit(":", 1)[1]
    status, error = await _post(f"http://{name}:{port}/elsewhere")
    assert status is None and "resolves to a forbidden address" in error
    assert hits == []


class _Stub:
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: Any = 0) -> list[dict[str, Any]]:
        return [{"hostname": host, "host": a, "port": port} for a in self.addresses]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("addresses", "allowed"),
    [
        (("93.184.216.34",), True),
        (("93.184.216.34", "127.0.0.1"), False),  # one bad address spoils the host
        (("169.254.169.254",), False),
        (("::ffff:10.0.0.1",), False),
    ],
)
async def test_every_resolved_address_is_checked(addresses: tuple[str, ...], allowed: bool) -> None:
    resolver = CheckedResolver(allow_private=False)
    resolver.inner = _Stub(*addresses)  # type: ignore[assignment]
    if allowed:
        assert [r["host"] for r in await resolver.resolve("h.example", 443)] == list(addresses)
    else:
        with pytest.raises(ForbiddenTarget):
            await resolver.resolve("h.example", 443)


async def test_readyz_lists_no_subscription_ids() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from streams.webhooks.service import SubscriptionQueue, _web

    d = Dispatcher(Settings(kafka_bootstrap="127.0.0.1:1"))
    record = {"id": "9c0e5a1b2c3d", "url": "https://h.example/x", "secret": "s" * 32}
    for sub_id, down in (("9c0e5a1b2c3d", True), ("0a1b2c3d4e5f", False)):
        queue = SubscriptionQueue({**record, "id": sub_id, "filters": {}}, d)
        queue.down = down
        d.subscriptions[sub_id] = queue
    d.subs_ready.set()
    d.alerts_ready.set()
    async with TestClient(TestServer(_web(d))) as client:
        resp = await client.get("/readyz")
        body = await resp.json()
        text = await resp.text()
    assert body["subscriptions"] == 2 and body["down"] == 1
    assert "9c0e5a1b2c3d" not in text and "0a1b2c3d4e5f" not in text
