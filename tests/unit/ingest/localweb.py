"""A small news web for ingest tests: an aiohttp server on 127.0.0.1 in the test's own event
loop, whose pages, feeds and answers (status, headers, delay) a test sets and changes between
polls; every request is recorded. Fixture pages come from tests/fixtures/ingest/losses, with
{BASE} replaced by the server's address; feeds are written by `rss`."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from aiohttp import web

from streams.ingest.dedup import DedupState, record_errors
from streams.ingest.http import FetcherConfig
from streams.ingest.policy import HostPolicy

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ingest" / "losses"
UA = "RasidBot/0.1 (test; +https://example.invalid/bot)"
# The local test server: its site, and loopback addresses allowed.
LOOPBACK = HostPolicy.of(["127.0.0.1"], allow_private=True)


def fetcher_config(**overrides: Any) -> FetcherConfig:
    """A fetcher for the local server: no politeness delay, short timeouts."""
    values: dict[str, Any] = {
        "user_agent": UA,
        "timeout": 2.0,
        "connect_timeout": 1.0,
        "host_interval": 0.0,
        "host_concurrency": 4,
        "policy": LOOPBACK,
    }
    values.update(overrides)
    return FetcherConfig(**values)


@dataclass
class Answer:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    etag: bool = False  # answer 304 to a matching If-None-Match


@dataclass
class Hit:
    path: str
    status: int
    at: float
    headers: dict[str, str]


class LocalWeb:
    def __init__(self) -> None:
        self.answers: dict[str, Answer | list[Answer]] = {
            "/robots.txt": Answer(b"User-agent: *\nAllow: /\n", headers=_TEXT)
        }
        self.hits: list[Hit] = []
        self.base = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> LocalWeb:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        # Handlers still sleeping (slow answers the client gave up on) are cut at exit.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    # ------------------------------------------------------------------ content
    def set(self, path: str, body: str | bytes, **kw: Any) -> None:
        """Serve `body` at `path` ({BASE} replaced); HTML unless headers say otherwise."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        data = data.replace(b"{BASE}", self.base.encode())
        headers = kw.pop("headers", None) or {"Content-Type": "text/html; charset=utf-8"}
        self.answers[path] = Answer(data, headers=headers, **kw)

    def sequence(self, path: str, answers: list[Answer]) -> None:
        """Answer `path` with these, one per request (the last one repeats)."""
        self.answers[path] = answers

    def fixture(self, path: str, name: str, **kw: Any) -> None:
        self.set(path, (FIXTURES / name).read_bytes(), **kw)

    def feed(self, path: str, items: Sequence[dict[str, str]], **kw: Any) -> None:
        headers = kw.pop("headers", None) or {"Content-Type": "application/rss+xml"}
        self.set(path, rss(items), headers=headers, etag=True, **kw)

    def hits_of(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        answer = self.answers.get(request.path)
        if isinstance(answer, list):
            done = len(self.hits_of(request.path))
            answer = answer[min(done, len(answer) - 1)]
        hit = Hit(request.path, 0, time.monotonic(), dict(request.headers))
        self.hits.append(hit)
        if answer is None:
            hit.status = 404
            return web.Response(status=404, text="not found")
        if answer.delay:
            await asyncio.sleep(answer.delay)
        headers = dict(answer.headers)
        if answer.etag:
            tag = '"' + hashlib.sha256(answer.body).hexdigest()[:16] + '"'
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                hit.status = 304
                return web.Response(status=304, headers={"ETag": tag})
        hit.status = answer.status
        return web.Response(status=answer.status, body=answer.body, headers=headers)


_TEXT = {"Content-Type": "text/plain"}


def rss(items: Sequence[dict[str, str]]) -> str:
    """An RSS 2.0 feed: each item's title, link, description, pubDate ({BASE} allowed)."""
    parts = []
    for item in items:
        fields = "".join(
            f"<{k}>{escape(v) if k != 'link' else v}</{k}>"
            for k, v in item.items()
            if k in {"title", "link", "description", "pubDate", "guid"}
        )
        parts.append(f"<item>{fields}</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>شبكة الراصد التجريبية</title><link>{BASE}/</link>"
        f"<description>اختبار</description>{''.join(parts)}</channel></rss>"
    )


def article(
    title: str, paragraphs: Sequence[str], *, head: str = "", sidebar: Sequence[str] = ()
) -> str:
    """A normal article page (tests/fixtures/ingest/losses/article-template.html)."""
    template = (FIXTURES / "article-template.html").read_text(encoding="utf-8")
    return (
        template.replace("{TITLE}", escape(title))
        .replace("{HEAD}", head)
        .replace("{PARAGRAPHS}", "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs))
        .replace(
            "{SIDEBAR}",
            "".join(
                f'<li><a href="/news/{9000 + i}.html">{escape(s)}</a></li>'
                for i, s in enumerate(sidebar)
            ),
        )
    )


class MemoryStore:
    """The state topic as a list: `rebuilt()` is what a restarted process would read."""

    def __init__(self, log: list[tuple[str, bytes | None]] | None = None, **state: Any) -> None:
        self.log: list[tuple[str, bytes | None]] = list(log or [])
        self._state_args = state
        self.state = DedupState(**state)
        for key, value in self.log:
            self.state.apply(key, value)

    async def put(self, records: Sequence[tuple[str, bytes | None]]) -> None:
        for key, value in records:
            assert value is None or record_errors(value) == [], (key, value)  # as KafkaState
            self.state.apply(key, value)
            self.log.append((key, value))

    def rebuilt(self, **state: Any) -> MemoryStore:
        return MemoryStore(self.log, **{**self._state_args, **state})


class MemorySink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def publish(self, message: dict[str, Any]) -> str:
        from streams.ids import article_id

        self.messages.append(message)
        return article_id(message)
