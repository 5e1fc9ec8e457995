"""Politeness and retry policy, as plain logic over an injected clock: exponential backoff per
feed or page, a minimum interval between requests to one host (pushed back by a server's
Retry-After), robots.txt rules per host (RFC 9309, parsed by Protego as Scrapy does), and the
sites and addresses the ingester may reach at all (HostPolicy)."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from protego import Protego

# Answers that mean "not now" rather than "never": Request Timeout, Too Many Requests, Service
# Unavailable. The page is asked for again later, and the host is given a rest.
TRANSIENT_STATUSES = frozenset({408, 429, 503})
# The longest a server's Retry-After may hold a host back (a silly value must not stall it).
RETRY_AFTER_CAP = 3600.0
# 429 without a Retry-After: rest the host this long anyway (a 503 without one only backs off
# the URL: it is as often one page's backend as the whole site).
DEFAULT_HOST_REST = 30.0


@dataclass
class Backoff:
    """After the n-th consecutive failure of a key, wait base·2ⁿ⁻¹ seconds (capped at `cap`,
    ±`jitter` so many feeds failing together do not retry in lockstep); a success resets."""

    base: float = 30.0
    cap: float = 3600.0
    jitter: float = 0.1
    rng: Callable[[], float] = random.random
    _failures: dict[str, int] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        raw = min(self.cap, self.base * 2.0 ** (failures - 1))
        return raw * (1.0 + self.jitter * (2.0 * self.rng() - 1.0))

    def failure(self, key: str, now: float, retry_after: float | None = None) -> float:
        """Record a failure; return the time before the next attempt is allowed."""
        n = self._failures.get(key, 0) + 1
        self._failures[key] = n
        wait = self.delay(n)
        if retry_after is not None:  # the server said how long: never retry sooner
            wait = max(wait, min(retry_after, self.cap))
        self._until[key] = now + wait
        return wait

    def success(self, key: str) -> bool:
        """Forget the key's failures; True if there were any (so a caller knows whether its
        persisted record needs clearing)."""
        had = self._failures.pop(key, None) is not None
        self._until.pop(key, None)
        return had

    def until(self, key: str) -> float:
        """The clock time before which the key is not tried (0 when it is ready)."""
        return self._until.get(key, 0.0)

    def restore(self, key: str, failures: int, until: float) -> None:
        """Take back a key's state after a restart (`until` on this backoff's clock)."""
        if failures > 0:
            self._failures[key] = failures
            self._until[key] = until

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def ready(self, key: str, now: float) -> bool:
        return now >= self._until.get(key, 0.0)


@dataclass
class HostSchedule:
    """At most one request start per `interval` seconds per host (a robots.txt Crawl-delay
    can only make it longer). `reserve` books the next free slot and says how long to wait;
    a host told to rest (Retry-After) is not asked at all until the rest ends."""

    interval: float = 1.0
    _next: dict[str, float] = field(default_factory=dict)
    _delay: dict[str, float] = field(default_factory=dict)
    _rest: dict[str, float] = field(default_factory=dict)

    def set_crawl_delay(self, host: str, seconds: float | None) -> None:
        if seconds is None:
            self._delay.pop(host, None)
        else:
            self._delay[host] = min(float(seconds), 60.0)  # a silly delay must not stall us

    def interval_for(self, host: str) -> float:
        return max(self.interval, self._delay.get(host, 0.0))

    def reserve(self, host: str, now: float) -> float:
        start = max(now, self._next.get(host, now))
        self._next[host] = start + self.interval_for(host)
        return start - now

    def rest(self, host: str, now: float, seconds: float) -> float:
        """No request to the host before now + seconds (capped): a 429/503 Retry-After applies
        to the whole host, not only to the URL that got it. Returns when the rest ends."""
        until = max(self._rest.get(host, 0.0), now + min(max(seconds, 0.0), RETRY_AFTER_CAP))
        self._rest[host] = until
        return until

    def resting(self, host: str, now: float) -> float:
        """Seconds the host still rests (0: it may be asked)."""
        until = self._rest.get(host)
        if until is None:
            return 0.0
        if until <= now:
            del self._rest[host]
            return 0.0
        return until - now


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


# RFC 9309 §2.5: parse at least 500 KiB; more is ignored.
ROBOTS_MAX_CHARS = 512 * 1024


@dataclass(frozen=True)
class RobotsRules:
    """robots.txt of one host, as fetched. RFC 9309: a 4xx means no rules (all allowed); a
    5xx or an unreachable host means "disallow everything" until the next try. Matching is
    RFC 9309's (Protego): `*` and `$` in paths, the longest matching rule wins, Allow wins a
    tie; the standard library's robotparser knows neither and takes the first match."""

    parser: Protego | None
    allow_all: bool = False
    fetched_at: float = 0.0

    @classmethod
    def from_response(cls, status: int | None, text: str, now: float) -> RobotsRules:
        if status is not None and 200 <= status < 300:
            try:
                parser = Protego.parse(text[:ROBOTS_MAX_CHARS])
            except Exception:  # a parser on hostile input: unreadable = no rules (4xx-like)
                return cls(None, allow_all=True, fetched_at=now)
            return cls(parser, fetched_at=now)
        if status is not None and 400 <= status < 500:
            return cls(None, allow_all=True, fetched_at=now)
        return cls(None, allow_all=False, fetched_at=now)

    @property
    def unreachable(self) -> bool:
        return self.parser is None and not self.allow_all

    def allowed(self, agent: str, url: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, agent))

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay is not None else None

    @property
    def sitemaps(self) -> list[str]:
        """The `Sitemap:` URLs of the file (any group)."""
        return [] if self.parser is None else [str(u) for u in self.parser.sitemaps]

    def expired(self, now: float, ttl: float) -> bool:
        # Unreachable robots.txt is retried sooner than a good one is refreshed.
        return now - self.fetched_at >= (min(ttl, 300.0) if self.unreachable else ttl)


def agent_token(user_agent: str) -> str:
    """'RasidBot/0.1 (+contact)' → 'RasidBot': the product token robots.txt groups name."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"


# ---------------------------------------------------------------------- where it may go
def site_of(url_or_host: str) -> str:
    """The site a URL or host belongs to: its lower-case host name, without a port and without
    a leading «www.» (so www.example.com and example.com are one site)."""
    text = url_or_host if "//" in url_or_host else f"//{url_or_host}"
    host = (urlsplit(text).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def non_public(address: str) -> bool:
    """An address the ingester must not reach unless told it may: loopback, private (RFC 1918,
    unique-local), link-local (cloud metadata at 169.254.169.254), multicast, reserved,
    unspecified, CGNAT; an IPv4-mapped IPv6 address counts as its IPv4 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def ip_literal(host: str) -> str | None:
    """The address if `host` (from a URL, maybe bracketed) is an IP literal, else None."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        return None
    return bare


@dataclass(frozen=True)
class HostPolicy:
    """Every outbound request goes to a site an operator allowed: the sites of the URLs in the
    sources file (feeds, listings, sitemaps, home pages, `hosts`, `discover_hosts`, the Telegram
    base) and RASID_INGEST_ALLOWED_HOSTS, and their subdomains. A feed's article links, a
    sitemap's children, a redirect or a canonical link to any other site are not fetched.
    Names that resolve to a non-public address are refused too (streams/ingest/http.py checks
    every resolved address, so DNS cannot point an allowed name at the metadata service),
    unless `allow_private` (tests and on-premises sources)."""

    sites: frozenset[str] = frozenset()
    allow_private: bool = False
    any_site: bool = False  # only for tools and tests that fetch what they are given

    @classmethod
    def of(cls, urls_or_hosts: Iterable[str], *, allow_private: bool = False) -> HostPolicy:
        sites = frozenset(s for s in (site_of(u) for u in urls_or_hosts) if s)
        return cls(sites, allow_private)

    def refusal(self, url: str) -> str | None:
        """Why `url` must not be fetched, or None if it may."""
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        if not host:
            return "no host"
        literal = ip_literal(host)
        if literal is not None and not self.allow_private and non_public(literal):
            return f"non-public address {literal}"
        if self.any_site:
            return None
        labels = host.split(".")
        if any(".".join(labels[i:]) in self.sites for i in range(len(labels))):
            return None  # the site itself or a subdomain of it
        return f"host {host} is not an allowed site"
