"""`rasid webhooks` delivers trends (issue 19) on the real broker: a subscription of kind
trends (`rasid subscriptions add --kind trends`) receives the trend.v1 records of the
deployment's trends topic that pass its filters, signed, once; alert-only subscriptions get
none. No worker is needed: the records are published as the worker's trend stage writes them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest

from streams.webhooks.policy import verify
from tests.integration.conftest import BOOTSTRAP, Env, new_env
from tests.integration.test_api_trends import publish
from tests.integration.test_webhooks import PRIVATE, Dispatcher, Receiver
from tests.unit.api.test_trends import trend_record

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trends_env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    assert BOOTSTRAP
    return new_env(BOOTSTRAP, tmp_path_factory.mktemp("trends-webhooks"), name="trendhooks")


@pytest.fixture(scope="module")
def dispatcher(trends_env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dispatcher]:
    d = Dispatcher(trends_env, tmp_path_factory.mktemp("webhooks") / "webhooks.log")
    d.start()  # creates the topics it reads, the trends topic included
    yield d
    d.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def subscribe(env: Env, d: Dispatcher, url: str, *args: str) -> dict[str, Any]:
    before = d.status()["subscriptions"]
    record = orjson.loads(env.rasid("subscriptions", "add", url, *args, extra_env=PRIVATE))
    d.wait(lambda status: status["subscriptions"] == before + 1)
    return dict(record)


async def test_a_trends_subscription_receives_signed_trends(
    trends_env: Env, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    trends = subscribe(
        trends_env, dispatcher, receiver.url("trends"), "--kind", "trends",
        "--region", "IQ", "--level", "high",
    )  # fmt: skip
    assert trends["schema_version"] == 2 and trends["kinds"] == ["trends"]
    subscribe(trends_env, dispatcher, receiver.url("alerts"))  # alerts only (the default)
    wanted = trend_record(1, key="IQ|security", level="high")
    await publish(
        trends_env,
        trend_record(2, key="IQ|security", level="elevated"),  # below the level asked for
        trend_record(3, key="SY|*", level="extreme"),  # another region
        b"not a trend",  # skipped, holds nothing back
        wanted,
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not receiver.bodies("/trends"):
        assert loop.time() < deadline, dispatcher.log()
        await asyncio.sleep(0.3)
    await asyncio.sleep(3)  # nothing more may come
    [(headers, payload)] = receiver.bodies("/trends")
    assert payload["type"] == "trend" and payload["subscription_id"] == trends["id"]
    assert payload["trend"] == wanted
    assert headers["X-Rasid-Delivery"] == payload["delivery_id"]
    body = next(b for p, _, b in receiver.requests if p == "/trends")
    assert verify(trends["secret"], body, headers["X-Rasid-Signature"], now=time.time())
    assert receiver.bodies("/alerts") == []  # an alerts subscription gets no trend
