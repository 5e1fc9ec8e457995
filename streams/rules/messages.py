"""Rules on the compacted topic: message building, content hashes, version bumps, and the
folded state (rule id → latest message) that a worker or the CLI compiles into a RuleSet.

Pure: no Kafka here. `streams.worker.live_rules` does the I/O.

A message carries the rule as written plus the named lists it references, so each message
is self-contained and a list change shows up as a change of every rule that uses it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streams.rules import Problem, RuleError, RuleFile, RuleSet, RuleSpec, parse_rule
from streams.rules.gcpause import gc_paused

SCHEMA_VERSION = 1

log = logging.getLogger("rasid.rules")


def content_hash(rule: Mapping[str, Any], lists: Mapping[str, Any]) -> str:
    """What a rule says, ignoring its version: equal hashes mean nothing to push."""
    body = {k: v for k, v in rule.items() if k != "version"}
    canonical = orjson.dumps({"rule": body, "lists": lists}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:32]


def build_message(
    rule: Mapping[str, Any],
    lists: Mapping[str, Any],
    *,
    version: int,
    now: datetime,
    updated_by: str | None = None,
    source_file: str | None = None,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": str(rule["id"]),
        "version": version,
        "rule": {**rule, "version": version},
        "lists": dict(lists),
        "content_hash": content_hash(rule, lists),
        "updated_at": now.isoformat(),
        "updated_by": updated_by,
        "source_file": source_file,
    }


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """What `rasid rules push` does with one rule."""

    id: str
    action: str  # "create", "update" or "unchanged"
    version: int
    previous_version: int | None
    message: dict[str, Any] | None  # None when unchanged


def plan_push(
    files: Iterable[RuleFile],
    current: Mapping[str, Mapping[str, Any]],
    *,
    now: datetime,
    updated_by: str | None = None,
) -> list[PlannedChange]:
    """Decide, per rule of the (valid) files, whether to publish it and with which version.

    A changed rule gets max(its written version, the live version + 1), so versions only
    ever go up and every change yields new alert ids; an unchanged rule is not re-published.
    """
    plan: list[PlannedChange] = []
    for doc in files:
        for spec in doc.specs:
            raw, lists = doc.raw_rule(spec.id), doc.lists_for(spec)
            live = current.get(spec.id)
            digest = content_hash(raw, lists)
            if live is not None and live["content_hash"] == digest:
                plan.append(
                    PlannedChange(spec.id, "unchanged", live["version"], live["version"], None)
                )
                continue
            previous = int(live["version"]) if live is not None else None
            version = spec.version if previous is None else max(spec.version, previous + 1)
            message = build_message(
                raw, lists, version=version, now=now, updated_by=updated_by, source_file=doc.path
            )
            action = "create" if live is None else "update"
            plan.append(PlannedChange(spec.id, action, version, previous, message))
    return plan


@dataclass
class RuleState:
    """The rules topic folded by key: the latest valid message per rule id.

    Invalid messages never replace a good rule (a worker keeps matching with what it had);
    they are remembered in `rejected` with the reason.
    """

    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    specs: dict[str, RuleSpec] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # key → why
    records: int = 0  # records read, tombstones included

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        """Fold one record; return whether the live rule set changed."""
        from streams.validation import schema_errors, surely_valid

        self.records += 1
        rule_id = (key or b"").decode("utf-8", errors="replace")
        if value is None:  # tombstone
            self.rejected.pop(rule_id, None)
            self.specs.pop(rule_id, None)
            return self.messages.pop(rule_id, None) is not None
        try:
            message = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return self._reject(rule_id, f"invalid JSON: {exc}")
        # the compiled validator first: the reference one, which names every problem, took
        # 60% of a 10,000-rule reload; it runs only for a message that fails
        if not surely_valid("rule-message", message) and (
            errors := schema_errors("rule-message", message)
        ):
            return self._reject(rule_id, "; ".join(errors[:3]))
        if message["id"] != rule_id or message["rule"].get("id") != rule_id:
            return self._reject(rule_id, f"key {rule_id!r} does not match rule id")
        try:
            spec = parse_rule(message["rule"], message["lists"])
        except RuleError as exc:
            return self._reject(rule_id, "; ".join(str(p) for p in exc.problems[:3]))
        self.rejected.pop(rule_id, None)
        old = self.messages.get(rule_id)
        self.messages[rule_id] = message
        self.specs[rule_id] = spec
        return (
            old is None
            or old["content_hash"] != message["content_hash"]
            or (old["version"] != message["version"])
        )

    def apply_all(self, records: Iterable[tuple[bytes | None, bytes | None]]) -> bool:
        """Fold records in order (`apply` each); return whether the live rule set changed."""
        changed = False
        with gc_paused():
            for key, value in records:
                changed |= self.apply(key, value)
        return changed

    def _reject(self, rule_id: str, why: str) -> bool:
        self.rejected[rule_id] = why
        log.warning("rule message rejected", extra={"rule": rule_id, "reason": why[:300]})
        return False

    def ruleset(self) -> RuleSet:
        """Compile the live rules (sorted by id, so every worker builds the same set)."""
        with gc_paused():
            return RuleSet([self.specs[k] for k in sorted(self.specs)])

    def fingerprint(self) -> str:
        """Short hash of (id, version) of every live rule: equal on workers that agree."""
        pairs = sorted((k, int(m["version"])) for k, m in self.messages.items())
        return hashlib.sha256(orjson.dumps(pairs)).hexdigest()[:12]


def problems_text(problems: Iterable[Problem]) -> str:
    return "\n".join(str(p) for p in problems)
