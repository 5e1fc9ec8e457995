"""Webhook delivery policy, pure: HMAC signatures, delivery ids, retry backoff, which statuses
are retried, quiet hours and throttling."""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from streams.severity import RANK as SEVERITY_RANK


def sign(secret: str, body: bytes) -> str:
    """X-Rasid-Signature: 'sha256=' + hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, body), signature)


def delivery_id(subscription_id: str, alert_id: str, revision: int) -> str:
    """X-Rasid-Delivery: the same for every retry of one delivery (an idempotency key)."""
    digest = hashlib.sha256(f"{subscription_id}\x1f{alert_id}\x1f{revision}".encode())
    return digest.hexdigest()[:32]


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry `attempt` (1, 2, …): exponential, capped, "full jitter"
    (uniform in [0, min(cap, base·2^(attempt-1))]) so retries of many deliveries spread out."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(0.0, ceiling)


def retryable(status: int | None) -> bool:
    """None: a timeout or connection failure. 5xx and 429 are worth retrying; other 4xx are
    the receiver rejecting this payload for good."""
    return status is None or status >= 500 or status == 429


@dataclass(frozen=True)
class QuietHours:
    """A daily window (local time of `tz`) in which only critical alerts are delivered at once;
    the others wait until it ends. start > end spans midnight (22:00–07:00)."""

    start: time
    end: time
    tz: tzinfo = UTC

    @classmethod
    def parse(cls, spec: str, tz: tzinfo = UTC) -> QuietHours:
        """'22:00-07:00'."""
        a, _, b = spec.partition("-")
        return cls(time.fromisoformat(a.strip()), time.fromisoformat(b.strip()), tz)

    def active(self, now: datetime) -> bool:
        t = now.astimezone(self.tz).time()
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def ends_after(self, now: datetime) -> datetime:
        """The first moment at or after `now` when the window is over."""
        local = now.astimezone(self.tz)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end


def hold_until(
    alert: Mapping[str, Any], quiet: QuietHours | None, now: datetime
) -> datetime | None:
    """When a delivery may go out: None = now. Critical alerts bypass quiet hours."""
    if quiet is None or alert.get("severity") == "critical" or not quiet.active(now):
        return None
    return quiet.ends_after(now)


@dataclass
class Throttle:
    """At most one delivery per (rule, story) per `seconds`; escalations always go through
    (a story that became more severe is news)."""

    seconds: float
    last: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)

    def allow(self, alert: Mapping[str, Any], now: float) -> bool:
        if self.seconds <= 0:
            return True
        key = (alert["rule"], alert.get("story_id") or alert["id"])
        seen = self.last.get(key)
        severity = alert.get("severity", "info")
        if (
            seen is not None
            and now - seen[0] < self.seconds
            and SEVERITY_RANK.get(severity, 0) <= SEVERITY_RANK.get(seen[1], 0)
        ):
            return False
        self.last[key] = (now, severity)
        return True
