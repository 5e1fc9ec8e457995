"""Pure subscriber logic (no faust, no I/O): alert filters and key scopes, API tokens, stream
positions for Server-Sent Events, webhook signing, retry backoff, quiet hours, throttling."""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

SEVERITIES = ("info", "low", "medium", "high", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def _split(values: Sequence[str] | str | None) -> frozenset[str]:
    """'IQ,SY' or ['IQ', 'SY,LB'] → {'IQ', 'SY', 'LB'}."""
    if values is None:
        return frozenset()
    if isinstance(values, str):
        values = [values]
    return frozenset(v.strip() for item in values for v in item.split(",") if v.strip())


def parse_time(value: str) -> datetime:
    """RFC 3339 (a trailing Z is accepted); naive times are taken as UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AlertFilter:
    """What a subscriber asked for. Empty sets mean "any"; regions and topics match when the
    alert has at least one of them; severity is a minimum."""

    regions: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    min_severity: str | None = None
    since: datetime | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AlertFilter:
        """From query parameters or a subscription record; ValueError names a bad one."""
        severity = params.get("severity") or params.get("min_severity") or None
        if severity is not None and severity not in SEVERITY_RANK:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        since = params.get("since") or None
        try:
            since_at = parse_time(since) if since else None
        except ValueError:
            raise ValueError("since must be an RFC 3339 time") from None
        return cls(
            regions=frozenset(
                r.upper() for r in _split(params.get("region") or params.get("regions"))
            ),
            topics=_split(params.get("topic") or params.get("topics")),
            rules=_split(params.get("rule") or params.get("rules")),
            min_severity=severity,
            since=since_at,
        )

    def matches(self, alert: Mapping[str, Any]) -> bool:
        if self.regions and not self.regions & set(alert.get("regions", ())):
            return False
        if self.topics and not self.topics & set(alert.get("topics", ())):
            return False
        if self.rules and alert.get("rule") not in self.rules:
            return False
        if (
            self.min_severity
            and SEVERITY_RANK.get(alert.get("severity", ""), -1)
            < (SEVERITY_RANK[self.min_severity])
        ):
            return False
        if self.since:
            stamp = alert.get("updated_at") or alert.get("alerted_at")
            if not stamp or parse_time(stamp) < self.since:
                return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "regions": sorted(self.regions),
            "topics": sorted(self.topics),
            "rules": sorted(self.rules),
            "min_severity": self.min_severity,
        }


# ------------------------------------------------------------------ API keys
TOKEN_PREFIX = "rsd"


@dataclass(frozen=True)
class ApiKey:
    """A stored key: never the token itself, only its SHA-256 (tokens are 256-bit random, so a
    fast hash is enough; there is nothing to brute-force)."""

    id: str
    name: str
    token_hash: str
    regions: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    created_at: str = ""

    def allows(self, alert: Mapping[str, Any]) -> bool:
        """A scoped key sees only alerts with one of its regions and one of its topics."""
        if self.regions and not self.regions & set(alert.get("regions", ())):
            return False
        return not (self.topics and not self.topics & set(alert.get("topics", ())))

    def record(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "id": self.id,
            "name": self.name,
            "token_sha256": self.token_hash,
            "regions": sorted(self.regions),
            "topics": sorted(self.topics),
            "created_at": self.created_at,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ApiKey:
        return cls(
            id=record["id"],
            name=record["name"],
            token_hash=record["token_sha256"],
            regions=frozenset(record.get("regions", ())),
            topics=frozenset(record.get("topics", ())),
            created_at=record.get("created_at", ""),
        )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """(key id, token): the id is public (it names the key), the rest of the token is secret."""
    key_id = secrets.token_hex(6)
    return key_id, f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def token_key_id(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1]:
        return None
    return parts[1]


def check_token(token: str, keys: Mapping[str, ApiKey]) -> ApiKey | None:
    """The key a bearer token belongs to, or None (constant-time hash comparison)."""
    key_id = token_key_id(token)
    key = keys.get(key_id) if key_id else None
    if key is None or not hmac.compare_digest(key.token_hash, hash_token(token)):
        return None
    return key


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


# ------------------------------------------------------------------ stream positions
def encode_position(position: Mapping[int, int]) -> str:
    """Next offset to deliver for every partition of the alerts topic, as one SSE event id:
    '1.' + base-36 offsets in partition order. Kafka's offsets make it exact (no gaps, no
    repeats, whatever the interleaving of partitions) and valid across API restarts."""
    if not position:
        return "1."
    size = max(position) + 1
    return "1." + ".".join(_b36(position.get(p, 0)) for p in range(size))


def decode_position(value: str) -> dict[int, int]:
    version, _, rest = value.strip().partition(".")
    if version != "1":
        raise ValueError("unknown event id format")
    if not rest:
        return {}
    return {p: int(v, 36) for p, v in enumerate(rest.split("."))}


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def sse(data: str, *, event: str | None = None, id: str | None = None) -> bytes:
    """One Server-Sent Event (data may not contain newlines: JSON from orjson does not)."""
    lines = []
    if id is not None:
        lines.append(f"id: {id}")
    if event is not None:
        lines.append(f"event: {event}")
    lines.append(f"data: {data}")
    return ("\n".join(lines) + "\n\n").encode()


# ------------------------------------------------------------------ webhooks
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
