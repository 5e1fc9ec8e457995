"""Politeness and retry policy, as plain logic over an injected clock: exponential backoff per
feed, a minimum interval between requests to one host, and robots.txt rules per host."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser


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

    def success(self, key: str) -> None:
        self._failures.pop(key, None)
        self._until.pop(key, None)

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def ready(self, key: str, now: float) -> bool:
        return now >= self._until.get(key, 0.0)


@dataclass
class HostSchedule:
    """At most one request start per `interval` seconds per host (a robots.txt Crawl-delay
    can only make it longer). `reserve` books the next free slot and says how long to wait."""

    interval: float = 1.0
    _next: dict[str, float] = field(default_factory=dict)
    _delay: dict[str, float] = field(default_factory=dict)

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


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


@dataclass(frozen=True)
class RobotsRules:
    """robots.txt of one host, as fetched. RFC 9309: a 4xx means no rules (all allowed); a
    5xx or an unreachable host means "disallow everything" until the next try."""

    parser: RobotFileParser | None
    allow_all: bool = False
    fetched_at: float = 0.0

    @classmethod
    def from_response(cls, status: int | None, text: str, now: float) -> RobotsRules:
        if status is not None and 200 <= status < 300:
            parser = RobotFileParser()
            parser.parse(text.splitlines())
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
        return self.parser.can_fetch(agent, url)

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay is not None else None

    def expired(self, now: float, ttl: float) -> bool:
        # Unreachable robots.txt is retried sooner than a good one is refreshed.
        return now - self.fetched_at >= (min(ttl, 300.0) if self.unreachable else ttl)


def agent_token(user_agent: str) -> str:
    """'RasidBot/0.1 (+contact)' → 'RasidBot': the product token robots.txt groups name."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"
