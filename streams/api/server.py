"""`rasid api`: the HTTP API for alert subscribers (aiohttp), a process of its own.

    GET /                 the live console (no key needed to load it; it asks for one)
    GET /static/…         its scripts, styles and vendored map data (streams/api/static/)
    GET /names            display names of region and topic codes (streams/data/names.yaml)
    GET /places           where places an alert names are: coordinates for the console's map
    GET /alerts           recent alerts (last revision of each), filters, search (q), cursor pages
    GET /alerts/stream    Server-Sent Events, same filters, Last-Event-ID resume, heartbeats;
                          `events=alerts,trends` adds `event: trend` records
    GET /trends           recent trend records (issue 19: bursts), filters, cursor pagination
    POST /alerts/stream/ticket  a one-use ticket for the stream (browsers' EventSource)
    GET /openapi.json     the OpenAPI document (committed as schemas/openapi.v1.json)
    GET /healthz /readyz /metrics

It reads `rasid.alerts` itself (no consumer group: every API process sees every alert, so they
scale out behind a load balancer), `rasid.trends` (streams/api/trends.py) and the compacted keys
topic. Stream event ids are Kafka positions of the alerts topic (streams/api/access.py
encode_position), valid on any API process; trend events carry no id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import time
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from streams import health, metrics, resources
from streams.api.access import (
    ApiKey,
    TicketLedger,
    bearer,
    check_token,
    decode_position,
    encode_position,
    sse,
)
from streams.api.feed import ALERTS_ONLY, AlertFeed, Entry, KeyStore, supervise
from streams.api.http import Runner, json_error, json_errors
from streams.api.limits import KeyLimits
from streams.api.openapi import openapi
from streams.api.search import AlertSearch
from streams.api.trends import TrendEntry, TrendFeed, TrendFilter
from streams.classify import names as display_names
from streams.classify.geo import CODE, MAX_TEXT, default_geo
from streams.filters import AlertFilter
from streams.ingest.sources import SourcesError, load_sources
from streams.kafka import names as topics
from streams.settings import Settings

log = logging.getLogger("rasid.api")

STATIC = resources.static_path()
PAGE = STATIC / "index.html"
MAX_LIMIT = 500
MAX_PLACES = 100  # `at` values of one GET /places

# Every response: not framed (clickjacking), not sniffed, no Referer to the outlets the console
# links to. The page may run only its own files (no inline script or style, no eval) and talk
# only to this API; everything else is data and may run nothing.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ANONYMOUS = ApiKey(id="anonymous", name="anonymous", token_hash="")

FEED: web.AppKey[AlertFeed] = web.AppKey("feed", AlertFeed)
KEYS: web.AppKey[KeyStore] = web.AppKey("keys", KeyStore)
TRENDS: web.AppKey[TrendFeed] = web.AppKey("trends", TrendFeed)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
TICKETS: web.AppKey[TicketLedger] = web.AppKey("tickets", TicketLedger)
LIMITS: web.AppKey[KeyLimits] = web.AppKey("limits", KeyLimits)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="rasid"'
    return json_error(status, message, headers or None)


def _count(route: str, status: int) -> None:
    metrics.API_REQUESTS.labels(route=route, status=f"{status // 100}xx").inc()


class KeyRevoked(Exception):
    """Ends a stream whose key was revoked."""


def authenticate(request: web.Request, *, ticket: bool = False) -> ApiKey | None:
    """The key of a request: `Authorization: Bearer …`; on the stream also a one-use `ticket`
    (browsers' EventSource cannot set headers) or, still accepted, `access_token` (it is
    redacted from the access log, but a URL also lands in proxies' logs and browser history)."""
    if not request.app[SETTINGS].api_keys_required:
        return ANONYMOUS
    keys = request.app[KEYS].keys
    if ticket and request.query.get("ticket"):
        return request.app[TICKETS].redeem(request.query["ticket"], keys, time.time())
    token = bearer(request.headers.get("Authorization")) or request.query.get("access_token")
    if not token:
        return None
    return check_token(token, keys)


def too_many(request: web.Request, key: ApiKey, route: str) -> web.Response | None:
    """A 429 if this key is over its request rate (not applied when keys are not required)."""
    if not request.app[SETTINGS].api_keys_required:
        return None
    wait = request.app[LIMITS].request(key.id, time.monotonic())
    if wait is None:
        return None
    _count(route, 429)
    return _error(
        429, "too many requests for this key; retry later", headers={"Retry-After": str(wait)}
    )


def _filter(request: web.Request) -> AlertFilter:
    query = request.query
    return AlertFilter.from_params(
        {
            "region": query.getall("region", []),
            "topic": query.getall("topic", []),
            "rule": query.getall("rule", []),
            "severity": query.get("severity"),
            "since": query.get("since"),
            "until": query.get("until"),
        }
    )


def _cursor(value: str) -> tuple[int, int, int]:
    parts = value.split("-")
    if len(parts) != 3 or not all(x.isascii() and x.isdigit() and len(x) <= 19 for x in parts):
        raise ValueError("cursor: not a next_cursor of this API")
    t, p, o = (int(x) for x in parts)
    return (t, p, o)


def _limit(value: str) -> int:
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_LIMIT):
        raise ValueError(f"limit must be an integer 1..{MAX_LIMIT}")
    return int(value)


async def alerts_view(request: web.Request) -> web.Response:
    key = authenticate(request)
    if key is None:
        _count("alerts", 401)
        return _error(401, "a valid API key is required (Authorization: Bearer …)")
    if (refused := too_many(request, key, "alerts")) is not None:
        return refused
    try:
        wanted = _filter(request)
        search = AlertSearch.parse(request.query.get("q"))
        limit = _limit(request.query.get("limit", "50"))
        before = _cursor(request.query["cursor"]) if request.query.get("cursor") else None
    except ValueError as exc:
        _count("alerts", 400)
        return _error(400, str(exc))
    feed = request.app[FEED]
    page, more = feed.page(
        before,
        limit,
        lambda e: (
            key.allows(e.alert)
            and wanted.matches(e.alert)
            and (search is None or search.matches(e.alert))
        ),
    )
    _count("alerts", 200)
    # The alerts as the feed holds them, already serialized: nothing is encoded twice.
    body = b"".join(
        (
            b'{"alerts":[',
            ",".join(e.data for e in page).encode(),
            b'],"next_cursor":',
            orjson.dumps("-".join(map(str, page[-1].cursor)) if more and page else None),
            # Open the stream from here (last_event_id) to miss nothing after this page.
            b',"position":',
            orjson.dumps(encode_position(feed.position)),
            b"}",
        )
    )
    return web.Response(body=body, content_type="application/json")


def _trend_filter(request: web.Request) -> TrendFilter:
    query = request.query
    return TrendFilter.from_params(
        {
            "region": query.getall("region", []),
            "topic": query.getall("topic", []),
            "rule": query.getall("rule", []),
            "level": query.get("level"),
            "since": query.get("since"),
            "until": query.get("until"),
        }
    )


EVENT_KINDS = {"alerts": "alert", "trends": "trend"}


def _events(value: str | None) -> frozenset[str]:
    """`events=alerts,trends` → the kinds of entries a stream gets (default: alerts only, so
    an existing client sees no change)."""
    if value is None or not value.strip():
        return ALERTS_ONLY
    names = {v.strip() for v in value.split(",") if v.strip()}
    if not names or not names <= EVENT_KINDS.keys():
        raise ValueError("events must be alerts, trends or alerts,trends")
    return frozenset(EVENT_KINDS[n] for n in names)


async def trends_view(request: web.Request) -> web.Response:
    """Recent trend records, newest first (by when the API's topic received them), filtered
    and scoped like /alerts: a scoped key sees only trends whose regions and topics meet its
    scope (ApiKey.allows, the rule alerts follow)."""
    key = authenticate(request)
    if key is None:
        _count("trends", 401)
        return _error(401, "a valid API key is required (Authorization: Bearer …)")
    if (refused := too_many(request, key, "trends")) is not None:
        return refused
    try:
        wanted = _trend_filter(request)
        limit = _limit(request.query.get("limit", "50"))
        before = _cursor(request.query["cursor"]) if request.query.get("cursor") else None
    except ValueError as exc:
        _count("trends", 400)
        return _error(400, str(exc))
    page, more = request.app[TRENDS].page(
        before, limit, lambda e: key.allows(e.trend) and wanted.matches(e.trend)
    )
    _count("trends", 200)
    body = b"".join(
        (
            b'{"trends":[',
            ",".join(e.data for e in page).encode(),
            b'],"next_cursor":',
            orjson.dumps("-".join(map(str, page[-1].cursor)) if more and page else None),
            b"}",
        )
    )
    return web.Response(body=body, content_type="application/json")


async def ticket_view(request: web.Request) -> web.Response:
    """A one-use ticket for GET /alerts/stream?ticket=…, for the key of the Authorization
    header only (never from a query string, and never from another ticket)."""
    settings = request.app[SETTINGS]
    token = bearer(request.headers.get("Authorization"))
    key = check_token(token, request.app[KEYS].keys) if token else None
    if not settings.api_keys_required:
        key = ANONYMOUS
    if key is None:
        _count("ticket", 401)
        return _error(401, "a valid API key is required (Authorization: Bearer …)")
    if (refused := too_many(request, key, "ticket")) is not None:
        return refused
    _count("ticket", 200)
    ttl = settings.api_ticket_seconds
    return _json(
        {"ticket": request.app[TICKETS].issue(key, time.time()), "expires_in": int(ttl)},
        headers={"Cache-Control": "no-store"},
    )


async def stream_view(request: web.Request) -> web.StreamResponse:
    key = authenticate(request, ticket=True)
    if key is None:
        _count("stream", 401)
        return _error(401, "a valid API key is required (Authorization: Bearer …)")
    if (refused := too_many(request, key, "stream")) is not None:
        return refused
    feed, settings = request.app[FEED], request.app[SETTINGS]
    last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    if last and not feed.first:  # the topic's partitions are not known yet
        _count("stream", 503)
        return _error(503, "alerts not loaded yet; retry", headers={"Retry-After": "2"})
    try:
        wanted = _filter(request)
        kinds = _events(request.query.get("events"))
        trends = _trend_filter(request) if "trend" in kinds else None
        # Checked against the topic's real partitions before the stream starts: a bad id is a
        # 400, never a stream that opens and then closes.
        resume = decode_position(last, partitions=len(feed.first)) if last else None
    except ValueError as exc:
        _count("stream", 400)
        return _error(400, str(exc))
    limits = request.app[LIMITS]
    if settings.api_keys_required and not limits.open_stream(key.id):
        _count("stream", 429)
        return _error(
            429,
            f"too many open streams for this key (at most {settings.api_key_streams})",
            headers={"Retry-After": "5"},
        )
    try:
        return await _stream(request, key, wanted, resume, kinds, trends)
    finally:
        if settings.api_keys_required:
            limits.close_stream(key.id)


async def _stream(
    request: web.Request,
    key: ApiKey,
    wanted: AlertFilter,
    resume: dict[int, int] | None,
    kinds: frozenset[str] = ALERTS_ONLY,
    trends: TrendFilter | None = None,
) -> web.StreamResponse:
    feed, settings = request.app[FEED], request.app[SETTINGS]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # proxies: do not buffer the stream
        }
    )
    await response.prepare(request)
    _count("stream", 200)
    # before the backlog snapshot: nothing falls in between
    queue = feed.subscribe(key.id, kinds)
    position = dict(resume) if resume is not None else dict(feed.position)

    async def send(entry: Entry | TrendEntry) -> None:
        if feed.is_revoked(queue):
            raise KeyRevoked
        if isinstance(entry, TrendEntry):
            # No id: an SSE client keeps the last id it was given (an alert position), so
            # Last-Event-ID resumes the alerts exactly; trends are not replayed on a resume
            # (GET /trends?since=… fills the gap).
            if trends is not None and key.allows(entry.trend) and trends.matches(entry.trend):
                await response.write(sse(entry.data, event="trend"))
            return
        if entry.offset < position.get(entry.partition, 0):
            return  # already sent (backlog and live queue overlap)
        position[entry.partition] = entry.offset + 1
        if key.allows(entry.alert) and wanted.matches(entry.alert):
            event = entry.alert.get("status", "new")
            await response.write(sse(entry.data, event="alert", id=encode_position(position)))
            log.debug("sent %s as %s", entry.alert["id"], event)

    try:
        await response.write(b"retry: 3000\n\n")
        if resume is not None and "alert" in kinds:
            sent = 0
            async for entry in feed.backlog(resume):
                await send(entry)
                sent += 1
                if sent % 100 == 0:
                    # a long backlog must not hold the event loop: live streams go on meanwhile
                    await asyncio.sleep(0)
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), settings.api_heartbeat_seconds)
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            if item is None:  # shutting down, or too slow
                break
            await send(item)
    except KeyRevoked:
        pass  # its key was revoked while it was sending the backlog
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the client went away
    finally:
        feed.unsubscribe(queue)
    return response


async def page_view(request: web.Request) -> web.Response:
    return web.Response(
        body=PAGE.read_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-cache"},
    )


async def openapi_view(request: web.Request) -> web.Response:
    return _json(openapi())


def _source_titles(path: Path) -> dict[str, str]:
    """Outlet id → its title in the sources file (`rasid ingest`'s), where it has one."""
    try:
        return {s.name: s.title for s in load_sources(path) if s.title}
    except SourcesError:
        log.warning("sources file unreadable: outlets are shown by id", exc_info=True)
        return {}


@cache
def _names_body(sources: Path) -> bytes:
    table = display_names.table()
    return orjson.dumps(
        {"regions": table["region"], "topics": table["topic"], "sources": _source_titles(sources)}
    )


async def names_view(request: web.Request) -> web.Response:
    """Arabic and English names of every region and topic code, and the outlets' titles (the
    console's filters and cards)."""
    return web.Response(
        body=_names_body(request.app[SETTINGS].sources_file),
        content_type="application/json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def _places_query(values: list[str]) -> list[tuple[str, str, str]]:
    """`at` values, each `CODE:place as written` → (value, code, text); ValueError if bad."""
    if not 1 <= len(values) <= MAX_PLACES:
        raise ValueError(f"at: 1 to {MAX_PLACES} values CODE:name")
    out = []
    for value in values:
        code, sep, text = value.partition(":")
        if not (sep and CODE.match(code) and text.strip() and len(text) <= MAX_TEXT):
            raise ValueError(f"at must be CODE:name (an ISO code, a name of 1-{MAX_TEXT} chars)")
        out.append((value, code, text))
    return out


async def places_view(request: web.Request) -> web.Response:
    """Map positions of places as alerts give them (`explanation.regions[].found` with the
    region's code): the place's coordinates, or its country's centre (`exact: false`)."""
    key = authenticate(request)
    if key is None:
        _count("places", 401)
        return _error(401, "a valid API key is required (Authorization: Bearer …)")
    if (refused := too_many(request, key, "places")) is not None:
        return refused
    try:
        wanted = _places_query(request.query.getall("at", []))
    except ValueError as exc:
        _count("places", 400)
        return _error(400, str(exc))
    geo = default_geo()
    places = {}
    for value, code, text in wanted:
        point = geo.locate(code, text)
        places[value] = point.as_dict() if point is not None else None
    _count("places", 200)
    return _json(
        {"places": places, "attribution": geo.attribution},
        headers={"Cache-Control": "private, max-age=86400"},
    )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    html = response.content_type == "text/html"
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP if html else DATA_CSP)
    if request.path.startswith("/static/"):
        # Revalidated on every load (ETag / Last-Modified: a 304 when unchanged), so a new
        # release's console is never mixed with cached files of the old one.
        response.headers.setdefault("Cache-Control", "no-cache")


def build_app(settings: Settings, *, readers: bool = True) -> web.Application:
    """The API app; `readers=False` (tests) leaves the feed and the key store to the caller."""
    app = web.Application(middlewares=[json_errors])
    app[SETTINGS] = settings
    app[FEED] = AlertFeed(
        settings.kafka_bootstrap, settings.topic_alerts, settings.api_buffer_alerts
    )
    app[KEYS] = KeyStore(
        settings.kafka_bootstrap, topics.apikeys(settings), on_revoke=app[FEED].revoke
    )
    feed = app[FEED]
    app[TRENDS] = TrendFeed(
        settings.kafka_bootstrap,
        topics.trends(settings),
        fan_out=lambda e: feed.fan_out(e, "trend"),
    )
    secret = settings.api_ticket_secret.get_secret_value().encode() or secrets.token_bytes(32)
    app[TICKETS] = TicketLedger(secret, settings.api_ticket_seconds)
    app[LIMITS] = KeyLimits(
        rate=settings.api_key_requests_per_second,
        burst=settings.api_key_burst,
        streams=settings.api_key_streams,
    )
    app.router.add_get("/", page_view)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/names", names_view)
    app.router.add_get("/places", places_view)
    app.router.add_get("/alerts", alerts_view)
    app.router.add_get("/alerts/stream", stream_view)
    app.router.add_post("/alerts/stream/ticket", ticket_view)
    app.router.add_get("/trends", trends_view)
    app.router.add_get("/openapi.json", openapi_view)
    app.on_response_prepare.append(security_headers)
    health.add_routes(
        app,
        lambda: {
            "alerts_loaded": app[FEED].ready.is_set(),
            "keys_loaded": app[KEYS].ready.is_set(),
            "trends_loaded": app[TRENDS].ready.is_set(),
        },
    )

    async def run_readers(app: web.Application) -> Any:
        tasks = [
            asyncio.create_task(supervise("alerts", app[FEED].run)),
            asyncio.create_task(supervise("keys", app[KEYS].run)),
            asyncio.create_task(supervise("trends", app[TRENDS].run)),
        ]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close_streams(app: web.Application) -> None:
        app[FEED].close_streams()

    if readers:
        app.cleanup_ctx.append(run_readers)
    app.on_shutdown.append(close_streams)
    return app


async def serve(settings: Settings) -> None:
    from streams.kafka.admin import ensure_topics

    await ensure_topics(settings)
    await topics.ensure(settings)
    runner = Runner(build_app(settings), shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.api_host, settings.api_port)
    await site.start()
    log.info("api listening", extra={"host": settings.api_host, "port": settings.api_port})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
