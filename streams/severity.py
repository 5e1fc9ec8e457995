"""Alert severities, lowest first: the one list that rules, stories, filters, metrics and the
CLI share."""

from __future__ import annotations

from typing import Final

SEVERITIES: Final[tuple[str, ...]] = ("info", "low", "medium", "high", "critical")
RANK: Final[dict[str, int]] = {s: i for i, s in enumerate(SEVERITIES)}


def rank(severity: str | None) -> int:
    """Position in SEVERITIES; -1 for an unknown or missing severity."""
    return RANK.get(severity or "", -1)


def raised(severity: str) -> str:
    """One level up, capped at the highest."""
    return SEVERITIES[min(RANK[severity] + 1, len(SEVERITIES) - 1)]
