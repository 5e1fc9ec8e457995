"""Alert filters (regions, topics, rules, minimum severity, since, until): the scope of an API key and
the selection of a webhook subscription. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.severity import RANK as SEVERITY_RANK
from streams.severity import SEVERITIES, rank
from streams.times import parse_rfc3339


def split_values(values: Sequence[str] | str | None) -> frozenset[str]:
    """'IQ,SY' or ['IQ', 'SY,LB'] → {'IQ', 'SY', 'LB'}."""
    if values is None:
        return frozenset()
    if isinstance(values, str):
        values = [values]
    return frozenset(v.strip() for item in values for v in item.split(",") if v.strip())


def time_param(params: Mapping[str, Any], name: str) -> datetime | None:
    """An optional RFC 3339 parameter; ValueError names it (without quoting its value)."""
    value = params.get(name) or None
    if value is None:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise ValueError(f"{name} must be an RFC 3339 time") from None


def scope_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The fields alert and trend filters share, from query parameters or a subscription
    record: regions (upper-cased), topics, rules, since, until. ValueError names a bad one."""
    return {
        "regions": frozenset(
            r.upper() for r in split_values(params.get("region") or params.get("regions"))
        ),
        "topics": split_values(params.get("topic") or params.get("topics")),
        "rules": split_values(params.get("rule") or params.get("rules")),
        "since": time_param(params, "since"),
        "until": time_param(params, "until"),
    }


def in_range(stamp: str | None, since: datetime | None, until: datetime | None) -> bool:
    """Whether an RFC 3339 `stamp` lies within since..until (both inclusive, None: open). A
    record without a stamp is outside any range."""
    if not (since or until):
        return True
    if not stamp:
        return False
    at = parse_rfc3339(stamp)
    return not ((since and at < since) or (until and at > until))


@dataclass(frozen=True)
class AlertFilter:
    """What a subscriber asked for. Empty sets mean "any"; regions and topics match when the
    alert has at least one of them; severity is a minimum."""

    regions: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    min_severity: str | None = None
    since: datetime | None = None
    until: datetime | None = None  # the API's time range (the console's older pages, an hour)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AlertFilter:
        """From query parameters or a subscription record; ValueError names a bad one."""
        severity = params.get("severity") or params.get("min_severity") or None
        if severity is not None and severity not in SEVERITY_RANK:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        return cls(min_severity=severity, **scope_params(params))

    def matches(self, alert: Mapping[str, Any]) -> bool:
        if self.regions and not self.regions & set(alert.get("regions", ())):
            return False
        if self.topics and not self.topics & set(alert.get("topics", ())):
            return False
        if self.rules and alert.get("rule") not in self.rules:
            return False
        if self.min_severity and rank(alert.get("severity")) < rank(self.min_severity):
            return False
        stamp = alert.get("updated_at") or alert.get("alerted_at")
        return in_range(stamp, self.since, self.until)

    def as_dict(self) -> dict[str, Any]:
        return {
            "regions": sorted(self.regions),
            "topics": sorted(self.topics),
            "rules": sorted(self.rules),
            "min_severity": self.min_severity,
        }
