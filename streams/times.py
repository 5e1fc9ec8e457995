"""Wall-clock and RFC 3339 times, in one place: every message time Rasid reads or writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_rfc3339(value: str) -> datetime:
    """RFC 3339 / ISO 8601 (a trailing Z is accepted); a naive time is taken as UTC.

    ValueError for anything else.
    """
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def maybe_rfc3339(value: Any) -> datetime | None:
    """Like parse_rfc3339, but None for a missing or unparseable value."""
    if not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


def epoch(value: Any) -> float | None:
    """RFC 3339 string → Unix time, or None."""
    parsed = maybe_rfc3339(value)
    return parsed.timestamp() if parsed is not None else None
