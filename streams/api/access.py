"""API keys (tokens stored hashed, bearer parsing), stream positions for Server-Sent Events
resume, and SSE framing. Pure: no I/O."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


# ------------------------------------------------------------------ stream tickets
# EventSource cannot set headers, and a token in a URL ends up in logs and browser history:
# the page trades its key (Authorization header) for a short-lived, one-use ticket and opens
# the stream with ?ticket=. A ticket is `<key id>.<expiry>.<nonce>.<mac>`, the MAC keyed with
# the API's ticket secret (RASID_API_TICKET_SECRET, the same on every API process) over the
# rest and the key's token hash: a revoked or replaced key's tickets are void.
TICKET_PREFIX = "tkt"


def issue_ticket(secret: bytes, key: ApiKey, now: float, ttl: float) -> str:
    expires = int(now + ttl)
    nonce = secrets.token_urlsafe(12)
    body = f"{TICKET_PREFIX}.{key.id}.{expires}.{nonce}"
    return f"{body}.{_ticket_mac(secret, body, key)}"


def _ticket_mac(secret: bytes, body: str, key: ApiKey) -> str:
    return hmac.new(secret, f"{body}.{key.token_hash}".encode(), hashlib.sha256).hexdigest()


class TicketLedger:
    """Checks tickets and remembers the used ones until they expire (one use each)."""

    def __init__(self, secret: bytes, ttl: float) -> None:
        self.secret, self.ttl = secret, ttl
        self.used: dict[str, float] = {}  # nonce → expiry

    def issue(self, key: ApiKey, now: float) -> str:
        return issue_ticket(self.secret, key, now, self.ttl)

    def redeem(self, ticket: str, keys: Mapping[str, ApiKey], now: float) -> ApiKey | None:
        self.used = {n: t for n, t in self.used.items() if t >= now}
        parts = ticket.split(".")
        if len(parts) != 5 or parts[0] != TICKET_PREFIX or not parts[2].isdigit():
            return None
        _, key_id, expires, nonce, mac = parts
        key = keys.get(key_id)
        if key is None or not now <= int(expires) <= now + self.ttl + 1 or nonce in self.used:
            return None
        body = ".".join(parts[:4])
        if not hmac.compare_digest(_ticket_mac(self.secret, body, key), mac):
            return None
        self.used[nonce] = float(expires)
        return key


# ------------------------------------------------------------------ stream positions
def encode_position(position: Mapping[int, int]) -> str:
    """Next offset to deliver for every partition of the alerts topic, as one SSE event id:
    '1.' + base-36 offsets in partition order. Kafka's offsets make it exact (no gaps, no
    repeats, whatever the interleaving of partitions) and valid across API restarts."""
    if not position:
        return "1."
    size = max(position) + 1
    return "1." + ".".join(_b36(position.get(p, 0)) for p in range(size))


_OFFSET = re.compile(r"[0-9a-z]{1,13}")  # 36^13 > 2^63: any Kafka offset, nothing more


def decode_position(value: str, partitions: int | None = None) -> dict[int, int]:
    """An event id back to a position. With `partitions` (the topic's), an id naming more
    partitions than that is refused too. Errors never echo the value (it is the client's)."""
    version, _, rest = value.strip().partition(".")
    if version != "1":
        raise ValueError("Last-Event-ID: not an event id of this stream")
    if not rest:
        return {}
    parts = rest.split(".")
    if partitions is not None and len(parts) > partitions:
        raise ValueError(
            f"Last-Event-ID: names {len(parts)} partitions, the alerts topic has {partitions}"
        )
    if not all(_OFFSET.fullmatch(v) for v in parts):
        raise ValueError("Last-Event-ID: offsets are base-36 numbers, 0 or more")
    return {p: int(v, 36) for p, v in enumerate(parts)}


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
