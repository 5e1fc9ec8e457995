"""Helpers of the subscriber integration tests: the `rasid api` process, an SSE client, unique
articles that raise red-line alerts with known regions."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.integration.conftest import Env, free_port, stop_process, wait_ready

# The matcher fires red-line on both; the classifier gives Egypt (EG) to the first and
# Iraq (IQ) to the second, never the other's.
EGYPT = "قال وزير الخارجية المصري في القاهرة اليوم إن أمن مصر المائي خط أحمر ({tag})، وإن سد النهضة يهدد حصة مصر من مياه النيل."
IRAQ = "قال نائب في البرلمان العراقي في بغداد اليوم إن أمن الحدود خط أحمر ({tag}) وإن القوات الأمنية في البصرة والموصل في حالة تأهب."


def article(template: str, source: str = "testwire") -> tuple[str, bytes]:
    """A fresh article → (id, raw bytes). Forty random words make it its own story (two
    articles of one template would otherwise be near-duplicates, i.e. one story)."""
    tag = " ".join(uuid.uuid4().hex[:8] for _ in range(40))
    aid = f"sub-{uuid.uuid4().hex[:12]}"
    body = template.format(tag=tag)
    raw = {"schema_version": 1, "id": aid, "source": source, "title": body[:60], "body": body}
    return aid, orjson.dumps(raw)


class Api:
    def __init__(self, env: Env, log_path: Path, **extra_env: str) -> None:
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.extra_env = extra_env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        environ = self.env.environ()
        environ.update(RASID_API_PORT=str(self.port), **self.extra_env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "api"],
            env=environ,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_ready(self.proc, f"{self.url}/readyz", self.log_path, "api", timeout)

    def stop(self) -> None:
        stop_process(self.proc, timeout=20)


def create_key(env: Env, name: str, *scope: str) -> str:
    out = orjson.loads(env.rasid("keys", "create", name, *scope))
    token = out["token"]
    assert isinstance(token, str)
    return token


@dataclass
class Event:
    id: str | None
    event: str | None
    data: Any


@dataclass
class Stream:
    response: aiohttp.ClientResponse
    comments: list[str] = field(default_factory=list)

    async def next(self, timeout: float) -> Event:
        """The next event (comments such as heartbeats are recorded, not returned)."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    raise EOFError("stream closed")
                line = raw.decode().rstrip("\n")
                if not line:
                    if "data" in fields:
                        return Event(
                            fields.get("id"), fields.get("event"), orjson.loads(fields["data"])
                        )
                    fields.clear()
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    async def collect(
        self, article_ids: set[str], timeout: float, settle: float = 2.0
    ) -> list[Event]:
        """Every event until alerts of all these articles arrived, plus `settle` seconds more
        (so a repeat would be seen)."""
        seen: list[Event] = []
        deadline = time.monotonic() + timeout
        while not article_ids <= {e.data["article"]["id"] for e in seen}:
            seen.append(await self.next(max(0.1, deadline - time.monotonic())))
        try:
            while True:
                seen.append(await self.next(settle))
        except TimeoutError:
            pass
        return seen

    async def until(self, predicate: Any, timeout: float) -> tuple[Event, list[Event]]:
        """Read until an event satisfies `predicate`; return it and every event read."""
        seen: list[Event] = []
        deadline = time.monotonic() + timeout
        while True:
            event = await self.next(max(0.1, deadline - time.monotonic()))
            seen.append(event)
            if predicate(event):
                return event, seen


@asynccontextmanager
async def stream(
    url: str, token: str | None, *, last_event_id: str | None = None, query: str = ""
) -> AsyncIterator[Stream]:
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"{url}/alerts/stream{query}", headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        yield Stream(response)
