"""A local HTTP server (127.0.0.1 only) serving the ingest fixtures in tests/fixtures/ingest:
feeds with ETag / Last-Modified (304 on a conditional GET), pages in several encodings, gzip,
robots.txt, 404, 500 and slow answers. It records every request so tests can check what the
ingester asked for (and what it did not ask for)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
LAST_MODIFIED = "Tue, 03 Dec 2024 09:00:00 GMT"

# path → (fixture file, Content-Type header)
PAGES = {
    "/news/1001.html": ("news-1001.html", "text/html; charset=utf-8"),
    "/news/1002.html": ("news-1002-windows-1256.html", "text/html"),  # <meta> says the charset
    "/news/1003.html": ("news-1003-iso-8859-6.html", "text/html"),  # says nothing at all
    "/news/1004.html": ("news-1004.html", "text/html; charset=utf-8"),
    "/print/1004": ("news-1004.html", "text/html; charset=utf-8"),  # same article, other URL
    "/news/1005.html": ("news-1005.html", "text/html; charset=utf-8"),
    "/news/1005.html/amp": ("news-1005.html", "text/html; charset=utf-8"),
    "/news/1006.html": ("news-1006.html", "text/html; charset=utf-8"),
    "/news/broken-markup.html": ("news-broken-markup.html", "text/html"),
    "/private/2001.html": ("private-2001.html", "text/html; charset=utf-8"),
    "/listing.html": ("listing.html", "text/html; charset=utf-8"),
    "/feeds/not-a-feed.html": ("not-a-feed.html", "text/html; charset=utf-8"),
}
FEEDS = {
    "/feeds/rss2.xml": "rss2.xml",
    "/feeds/atom.xml": "atom.xml",
    "/feeds/malformed.xml": "malformed.xml",
    "/feeds/rss1.rdf": "rss1.rdf",
    "/feeds/retry.xml": "retry.xml",
}
SLOW = {"/news/slow.html", "/feeds/slow.xml"}
ERRORS = {"/feeds/error.xml": 500, "/feeds/missing.xml": 404}


@dataclass
class Request:
    path: str
    query: str
    headers: dict[str, str]
    at: float
    status: int = 0


@dataclass
class FixtureServer:
    slow_seconds: float = 5.0
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    robots_redirect: str | None = None  # answer /robots.txt with a 301 to this URL
    _loop: asyncio.AbstractEventLoop | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def _content(self, name: str) -> bytes:
        return (FIXTURES / name).read_bytes().replace(b"{BASE}", self.base.encode())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        record = Request(request.path, request.query_string, dict(request.headers), time.time())
        self.requests.append(record)
        try:
            response = await self._respond(request)
        except web.HTTPException as exc:  # redirects are raised
            record.status = exc.status
            raise
        record.status = response.status
        return response

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in SLOW:
            await asyncio.sleep(self.slow_seconds)
            return web.Response(text="<rss version='2.0'><channel></channel></rss>")
        if path in ERRORS:
            return web.Response(status=ERRORS[path], text="error")
        if path == "/robots.txt" and self.robots_redirect:
            raise web.HTTPMovedPermanently(self.robots_redirect)
        if path == "/go/out":  # a redirect to wherever ?to= says (another site)
            raise web.HTTPFound(request.query["to"])
        if path.startswith("/go/"):  # redirects: to a page, into /private/, in a loop
            target = {"/go/1004": "/news/1004.html", "/go/private": "/private/2001.html"}
            raise web.HTTPFound(target.get(path, path))
        if path == "/robots.txt":
            return web.Response(body=self._content("robots.txt"), content_type="text/plain")
        if path in FEEDS:
            body = self._content(FEEDS[path])
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            headers = {
                "ETag": etag,
                "Last-Modified": LAST_MODIFIED,
                "Content-Type": "application/rss+xml",
            }
            return self._maybe_gzip(request, body, headers)
        if path == "/news/big.html":  # ~700 kB (gzip: ~15 kB), sent in slow pieces
            filler = "<p>" + "فقرة طويلة لملء الصفحة. " * 40 + "</p>\n"
            page = self._content("news-1004.html").decode()
            body = gzip.compress(page.replace("</article>", filler * 400 + "</article>").encode())
            stream = web.StreamResponse(
                headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}
            )
            await stream.prepare(request)
            for i in range(0, len(body), 1024):  # in pieces, with pauses: a slow network
                await stream.write(body[i : i + 1024])
                await asyncio.sleep(0.01)
            await stream.write_eof()
            return stream
        if path == "/news/flaky.html":  # 503 on the first request, the page afterwards
            if len(self.hits(path)) == 1:
                return web.Response(status=503, text="busy")
            body = self._content("news-1006.html")
            return self._maybe_gzip(request, body, {"Content-Type": "text/html; charset=utf-8"})
        if path in PAGES:
            name, content_type = PAGES[path]
            return self._maybe_gzip(request, self._content(name), {"Content-Type": content_type})
        return web.Response(status=404, text="not found")

    @staticmethod
    def _maybe_gzip(request: web.Request, body: bytes, headers: dict[str, str]) -> web.Response:
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            headers = {**headers, "Content-Encoding": "gzip"}
            body = gzip.compress(body)
        return web.Response(body=body, headers=headers)

    @contextmanager
    def running(self) -> Iterator[FixtureServer]:
        """Serve from a background thread (its own event loop) until the block ends."""
        ready = threading.Event()
        stop: asyncio.Event | None = None

        async def main() -> None:
            nonlocal stop
            stop = asyncio.Event()
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", self.handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
            self._loop = asyncio.get_running_loop()
            ready.set()
            await stop.wait()
            await runner.cleanup()

        thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        thread.start()
        assert ready.wait(30), "fixture server did not start"
        try:
            yield self
        finally:
            assert self._loop is not None and stop is not None
            self._loop.call_soon_threadsafe(stop.set)
            thread.join(30)


def sources_yaml(base: str, *, interval: float = 2.0) -> str:
    """A sources file for the fixture server."""
    return f"""schema_version: 1
defaults:
  interval_seconds: {interval}
  language: ar
  timezone: Asia/Baghdad
  region: IQ
sources:
  - name: fixture
    feeds: ["{base}/feeds/rss2.xml", "{base}/feeds/atom.xml"]
  - name: loose
    feeds: ["{base}/feeds/malformed.xml"]
  - name: listing
    listings:
      - url: "{base}/listing.html"
        link_pattern: '/news/\\d+\\.html$'
  - name: flaky
    feeds:
      - "{base}/feeds/missing.xml"
      - "{base}/feeds/error.xml"
      - "{base}/feeds/slow.xml"
      - "{base}/feeds/not-a-feed.html"
"""
