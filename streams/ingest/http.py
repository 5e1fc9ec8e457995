"""The HTTP client of the ingester (aiohttp): timeouts, gzip, conditional GET, a clear
User-Agent, robots.txt, per-host concurrency and request spacing, a rest for a host that
answered 429 or 503 (its Retry-After, else a default), and only the sites and addresses the
operator allowed (on every redirect hop, and on every address DNS gives). Policy lives in
policy.py."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from streams.ingest.dedup import Validators
from streams.ingest.policy import (
    DEFAULT_HOST_REST,
    HostPolicy,
    HostSchedule,
    RobotsRules,
    agent_token,
    host_of,
    non_public,
)

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str  # the URL asked for
    final_url: str  # after redirects
    outcome: str  # one of streams.metrics.INGEST_OUTCOMES ("redirect" only inside get)
    status: int | None = None
    content: bytes = b""
    content_type: str | None = None
    validators: Validators = field(default_factory=Validators)
    retry_after: float | None = None
    seconds: float = 0.0
    detail: str = ""
    rest: float | None = None  # this answer (429/503) made the host rest this many seconds

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _error_outcome(status: int) -> str:
    """408 and 429 are "not now", not "never" (policy.TRANSIENT_STATUSES): they must not be
    filed with the permanent 4xx."""
    if status == 408:
        return "timeout"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "client_error"


class NonPublicAddress(OSError):
    """A name resolved only to addresses the ingester must not reach."""


class PublicResolver(AbstractResolver):
    """DNS answers without the non-public addresses (HostPolicy): checked on what the socket
    will connect to, so a name an operator allowed cannot be pointed at 127.0.0.1 or the cloud
    metadata service later (DNS rebinding)."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [r for r in found if not non_public(r["host"])]
        if not public:
            raise NonPublicAddress(f"{host} resolves only to non-public addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


@dataclass
class FetcherConfig:
    user_agent: str
    connect_timeout: float = 10.0
    timeout: float = 30.0
    host_concurrency: int = 2
    host_interval: float = 1.0
    max_bytes: int = 5_000_000
    robots_ttl: float = 3600.0
    policy: HostPolicy = field(default_factory=HostPolicy)  # default: nothing is allowed


class Fetcher:
    """One aiohttp session for the whole ingester; `get` never raises for network trouble,
    it returns a FetchResult with the outcome."""

    def __init__(self, config: FetcherConfig) -> None:
        self.config = config
        self.agent = agent_token(config.user_agent)
        self.schedule = HostSchedule(config.host_interval)
        self._session: aiohttp.ClientSession | None = None
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._refused: dict[str, str] = {}  # host → why its robots.txt was not asked for

    async def __aenter__(self) -> Fetcher:
        self._session = aiohttp.ClientSession(
            headers={
                "User-Agent": self.config.user_agent,
                "Accept-Encoding": "gzip, deflate",
                "Accept-Language": "ar, en;q=0.5",
            },
            timeout=aiohttp.ClientTimeout(
                total=self.config.timeout, sock_connect=self.config.connect_timeout
            ),
            connector=aiohttp.TCPConnector(
                limit=64,
                ttl_dns_cache=300,
                resolver=None if self.config.policy.allow_private else PublicResolver(),
            ),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(
        self, url: str, headers: dict[str, str] | None = None, accept: str | None = None
    ) -> FetchResult:
        assert self._session is not None, "use `async with Fetcher(...)`"
        host = host_of(url)
        sem = self._semaphores.setdefault(host, asyncio.Semaphore(self.config.host_concurrency))
        async with sem:
            wait = self.schedule.reserve(host, time.monotonic())
            if wait > 0:
                await asyncio.sleep(wait)
            started = time.perf_counter()
            hdrs = dict(headers or {})
            if accept:
                hdrs["Accept"] = accept
            try:
                async with self._session.get(url, headers=hdrs, allow_redirects=False) as resp:
                    final = str(resp.url)
                    common = {
                        "url": url,
                        "final_url": final,
                        "status": resp.status,
                        "content_type": resp.headers.get("Content-Type"),
                    }
                    location = resp.headers.get("Location")
                    if resp.status in _REDIRECTS and location:
                        return FetchResult(
                            outcome="redirect",
                            seconds=time.perf_counter() - started,
                            detail=urljoin(url, location),
                            **common,  # type: ignore[arg-type]
                        )
                    if resp.status == 304:
                        return FetchResult(
                            outcome="not_modified",
                            seconds=time.perf_counter() - started,
                            validators=Validators(
                                resp.headers.get("ETag"), resp.headers.get("Last-Modified")
                            ),
                            **common,  # type: ignore[arg-type]
                        )
                    if resp.status >= 400:
                        retry_after = _retry_after(resp.headers.get("Retry-After"))
                        rest = None
                        if resp.status == 429:  # too many requests: the whole host rests
                            rest = retry_after if retry_after is not None else DEFAULT_HOST_REST
                        elif resp.status == 503 and retry_after is not None:
                            rest = retry_after  # the host said for how long it is down
                        if rest is not None:
                            self.schedule.rest(host, time.monotonic(), rest)
                        return FetchResult(
                            outcome=_error_outcome(resp.status),
                            retry_after=retry_after,
                            seconds=time.perf_counter() - started,
                            detail=f"HTTP {resp.status}",
                            rest=rest,
                            **common,  # type: ignore[arg-type]
                        )
                    length = resp.content_length
                    if length is not None and length > self.config.max_bytes:
                        return FetchResult(
                            outcome="too_large",
                            seconds=time.perf_counter() - started,
                            detail=f"{length} bytes",
                            **common,  # type: ignore[arg-type]
                        )
                    # Read to the end (read(n) returns as soon as *some* bytes are there),
                    # counting decompressed bytes so a gzip bomb stops at the limit too.
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.content.iter_chunked(65536):
                        size += len(chunk)
                        if size > self.config.max_bytes:
                            break
                        chunks.append(chunk)
                    body = b"".join(chunks)
                    if size > self.config.max_bytes:
                        return FetchResult(
                            outcome="too_large",
                            seconds=time.perf_counter() - started,
                            detail=f"more than {self.config.max_bytes} bytes",
                            **common,  # type: ignore[arg-type]
                        )
                    return FetchResult(
                        outcome="ok",
                        content=body,
                        validators=Validators(
                            resp.headers.get("ETag"), resp.headers.get("Last-Modified")
                        ),
                        seconds=time.perf_counter() - started,
                        **common,  # type: ignore[arg-type]
                    )
            except TimeoutError:
                return FetchResult(
                    url,
                    url,
                    "timeout",
                    seconds=time.perf_counter() - started,
                    detail=f"no complete answer in {self.config.timeout}s",
                )
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                if isinstance(exc, NonPublicAddress) or isinstance(exc.__cause__, NonPublicAddress):
                    return FetchResult(
                        url, url, "not_allowed", detail=str(exc.__cause__ or exc)[:300]
                    )
                return FetchResult(
                    url,
                    url,
                    "network_error",
                    seconds=time.perf_counter() - started,
                    detail=f"{type(exc).__name__}: {exc}"[:300],
                )

    def rest_host(self, host: str, seconds: float) -> None:
        """Make a host rest (a Retry-After remembered across a restart)."""
        self.schedule.rest(host, time.monotonic(), seconds)

    async def robots(self, url: str) -> RobotsRules:
        """robots.txt of the URL's host, fetched at most once per TTL (concurrent callers
        wait for the one fetch)."""
        host = host_of(url)
        lock = self._robots_locks.setdefault(host, asyncio.Lock())
        async with lock:
            rules = self._robots.get(host)
            now = time.monotonic()
            if rules is None or rules.expired(now, self.config.robots_ttl):
                result = await self._request(f"{host}/robots.txt", accept="text/plain")
                if result.outcome == "not_allowed":  # its address: not cached, DNS may change
                    self._refused[host] = result.detail
                    return RobotsRules.from_response(None, "", now)
                self._refused.pop(host, None)
                for _ in range(MAX_REDIRECTS):  # RFC 9309: follow at least five redirects
                    if result.outcome != "redirect":
                        break
                    refusal = self.config.policy.refusal(result.detail)
                    if refusal is not None:  # read as unreachable: nothing is fetched
                        result = FetchResult(result.url, result.detail, "network_error")
                        break
                    result = await self._request(result.detail, accept="text/plain")
                status = result.status
                if result.outcome == "redirect":
                    status = 404  # RFC 9309 §2.3.1.2: too many redirects = unavailable
                elif result.outcome in {"network_error", "timeout"}:
                    status = None  # unreachable: disallow everything for now
                text = result.content.decode("utf-8", errors="replace")
                rules = RobotsRules.from_response(status, text, now)
                self._robots[host] = rules
                self.schedule.set_crawl_delay(host, rules.crawl_delay(self.agent))
            return rules

    async def get(
        self, url: str, *, validators: Validators | None = None, accept: str | None = None
    ) -> FetchResult:
        """GET with robots.txt checked first (on every redirect hop, too) and a conditional
        request when validators are given."""
        if urlsplit(url).scheme not in {"http", "https"}:
            return FetchResult(url, url, "client_error", detail="not an http(s) URL")
        headers = validators.request_headers() if validators else {}
        target = url
        seconds = 0.0
        for _ in range(MAX_REDIRECTS + 1):
            if urlsplit(target).scheme not in {"http", "https"}:
                return FetchResult(url, target, "client_error", detail="redirect to non-http URL")
            refusal = self.config.policy.refusal(target)
            if refusal is not None:  # never asked, robots.txt neither
                return FetchResult(url, target, "not_allowed", seconds=seconds, detail=refusal)
            resting = self.schedule.resting(host_of(target), time.monotonic())
            if resting > 0:  # told to come back later: not asked (robots.txt neither)
                return FetchResult(
                    url, target, "rate_limited", retry_after=resting, detail="host resting"
                )
            rules = await self.robots(target)
            if not rules.allowed(self.agent, target):
                refused = self._refused.get(host_of(target))
                if refused is not None:
                    return FetchResult(url, target, "not_allowed", detail=refused)
                return FetchResult(url, target, "robots_disallowed", detail="robots.txt")
            result = await self._request(target, headers, accept)
            seconds += result.seconds
            if result.outcome != "redirect":
                return replace(result, url=url, seconds=seconds)
            target = result.detail  # each hop gets the robots.txt check and host spacing
        return FetchResult(
            url, target, "client_error", seconds=seconds, detail="too many redirects"
        )
