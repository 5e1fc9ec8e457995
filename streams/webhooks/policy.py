"""Webhook delivery policy, pure: HMAC signatures (timestamped), delivery ids, retry backoff, which statuses
are retried, quiet hours, throttling, and which URLs and addresses deliveries may reach."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from streams.severity import RANK as SEVERITY_RANK

SIGNATURE_TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """X-Rasid-Signature: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + the exact body>'.
    The time is signed with the body, so a captured request cannot be replayed later (the
    receiver refuses an old t); the scheme is Stripe's."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    now: float,
    tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """The receiver's check: a v1 signature of this body and the header's t, with t within
    `tolerance` seconds of `now`. Receivers also drop repeats by X-Rasid-Delivery."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        fields.setdefault(name, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, v) for v in fields.get("v1", []))


def mask_url(url: str) -> str:
    """A webhook URL for display (`subscriptions list`): no credentials, no query values (a
    receiver's token often sits there)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if parts.netloc != netloc:
        netloc = "***@" + netloc
    query = "&".join(
        f"{item.partition('=')[0]}=***" if "=" in item else item
        for item in parts.query.split("&")
        if item
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


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


# ---------------------------------------------------------------- where deliveries may go
# A webhook URL is chosen by whoever adds a subscription; the dispatcher then POSTs from inside
# the deployment. Without a check it would reach loopback, the cluster's private services and
# the cloud metadata endpoint (169.254.169.254) on the subscriber's behalf (SSRF). Only global
# unicast addresses are allowed unless the operator sets RASID_WEBHOOK_ALLOW_PRIVATE (receivers
# on a private network, tests on 127.0.0.1). The check runs when a subscription is added and,
# on the addresses the host resolves to, before every connection (service.py's resolver).
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_allowed(address: IpAddress, *, allow_private: bool = False) -> bool:
    """A global unicast address; with allow_private, anything but the unspecified address."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is None and address in _NAT64:
            mapped = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if mapped is not None:
            return address_allowed(mapped, allow_private=allow_private)
    if address.is_unspecified:
        return False
    if allow_private:
        return True
    return address.is_global and not address.is_multicast and not address.is_reserved


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse_ip(host: str) -> IpAddress | None:
    """The address a URL host names literally, in any form a resolver would accept: dotted,
    shortened (127.1), one number (2130706433), hex (0x7f000001, 0x7f.0.0.1), octal
    (0177.0.0.1), IPv6 (with an IPv4 tail or a zone). None: a name."""
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        try:
            if part.startswith("0x"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part[1:], 8))
            elif part.isdigit():
                numbers.append(int(part))
            else:
                return None
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for i, n in enumerate(head):
        value |= n << (24 - 8 * i)
    return ipaddress.IPv4Address(value)


_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def url_problem(url: str, *, allow_private: bool = False) -> str | None:
    """Why a webhook URL is refused (None: fine as far as the URL itself tells): http(s) only,
    a host, no credentials, no literal or local address outside the allowed ones. The message
    never quotes the URL (it may carry a token)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "the webhook URL is malformed"
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        got = f"a {scheme}: URL" if scheme else "no scheme"
        return f"the webhook URL must be http:// or https:// (got {got})"
    if not parts.hostname:
        return "the webhook URL has no host"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "the webhook URL may not carry credentials (user:password@); use the secret"
    if port == 0:
        return "the webhook URL has port 0"
    host = parts.hostname
    address = parse_ip(host)
    if address is not None:
        if not address_allowed(address, allow_private=allow_private):
            return (
                "the webhook URL names a loopback, private, link-local or reserved address "
                "(RASID_WEBHOOK_ALLOW_PRIVATE=true allows private receivers)"
            )
        return None
    name = host.rstrip(".").lower()
    if not allow_private and (name in _LOCAL_NAMES or name.endswith((".localhost", ".local"))):
        return "the webhook URL names a local host (RASID_WEBHOOK_ALLOW_PRIVATE=true allows it)"
    return None
