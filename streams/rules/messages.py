"""Rules on the compacted topic: message building, content hashes, version bumps, and the
folded state (rule id → latest message) that a worker or the CLI compiles into a RuleSet.

Pure: no Kafka here. `streams.worker.live_rules` does the I/O.

A message carries the rule as written plus the named lists it references, so each message
is self-contained and a list change shows up as a change of every rule that uses it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping
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
    digest: str | None = None,
) -> dict[str, Any]:
    """The topic's message for a rule (`digest`: its `content_hash`, if already computed)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "id": str(rule["id"]),
        "version": version,
        "rule": {**rule, "version": version},
        "lists": dict(lists),
        "content_hash": digest or content_hash(rule, lists),
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
    Unchanged means the live message's rule and lists hash to the file's, not only that its
    `content_hash` field says so: `current` may be a `LiveMessages`, whose rules are checked
    against the schema but not parsed, and a message whose text is the valid file rule's is
    one a worker parses (a message that only claims the hash is re-published).
    """
    plan: list[PlannedChange] = []
    for doc in files:
        for spec in doc.specs:
            raw, lists = doc.raw_rule(spec.id), doc.lists_for(spec)
            live = current.get(spec.id)
            digest = content_hash(raw, lists)
            if (
                live is not None
                and live["content_hash"] == digest
                and content_hash(live["rule"], live["lists"]) == digest
            ):
                plan.append(
                    PlannedChange(spec.id, "unchanged", live["version"], live["version"], None)
                )
                continue
            previous = int(live["version"]) if live is not None else None
            version = spec.version if previous is None else max(spec.version, previous + 1)
            message = build_message(
                raw,
                lists,
                version=version,
                now=now,
                updated_by=updated_by,
                source_file=doc.path,
                digest=digest,
            )
            action = "create" if live is None else "update"
            plan.append(PlannedChange(spec.id, action, version, previous, message))
    return plan


def check_message(rule_id: str, value: bytes) -> tuple[dict[str, Any] | None, str]:
    """A record's message if it is JSON, valid against the schema and keyed by its own rule
    id, else (None, why): every check of a worker's but the rule's own (`parse_rule`)."""
    from streams.validation import schema_errors, surely_valid

    try:
        message = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc}"
    # the compiled validator first: the reference one, which names every problem, took
    # 60% of a 10,000-rule reload; it runs only for a message that fails
    if not surely_valid("rule-message", message) and (
        errors := schema_errors("rule-message", message)
    ):
        return None, "; ".join(errors[:3])
    if message["id"] != rule_id or message["rule"].get("id") != rule_id:
        return None, f"key {rule_id!r} does not match rule id"
    return message, ""


class LiveMessages(Mapping[str, dict[str, Any]]):
    """The rules topic as `rasid rules push` needs it: rule id → the latest message a worker
    keeps, looked at only for the ids asked for.

    Folding keeps each id's raw records since its last tombstone; `[id]` checks them newest
    first (`check_message`) and answers the first that passes, as `RuleState` keeps the last
    good message. A push asks only for its file's rules and reads only their version and
    content hash, so neither the topic's other rules nor the rules' own text are parsed (the
    fold of `RuleState`, which parses every rule on the topic, was about half of a 10,000-rule
    push's CPU). The one check left out is `parse_rule`: a message that passes the schema
    but not the rule checks counts as live here (the push bumps its version), where a worker
    rejects it; `plan_push` still re-publishes it, since its text cannot be a valid rule's.
    """

    def __init__(self) -> None:
        self._values: dict[str, list[bytes]] = {}  # id → its records since its last tombstone
        self._checked: dict[str, dict[str, Any] | None] = {}
        self.records = 0  # records read, tombstones included

    def apply_all(self, records: Iterable[tuple[bytes | None, bytes | None]]) -> bool:
        """Fold records in order; return whether any came (nothing is checked here)."""
        came = False
        for key, value in records:
            came = True
            self.records += 1
            rule_id = (key or b"").decode("utf-8", errors="replace")
            self._checked.pop(rule_id, None)
            if value is None:
                self._values.pop(rule_id, None)
            else:
                self._values.setdefault(rule_id, []).append(value)
        return came

    def __getitem__(self, rule_id: str) -> dict[str, Any]:
        if rule_id not in self._checked:
            found = None
            for value in reversed(self._values.get(rule_id, ())):
                found, _ = check_message(rule_id, value)
                if found is not None:
                    break
            self._checked[rule_id] = found
        message = self._checked[rule_id]
        if message is None:
            raise KeyError(rule_id)
        return message

    def __iter__(self) -> Iterator[str]:
        return (rule_id for rule_id in list(self._values) if rule_id in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


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
        self.records += 1
        rule_id = (key or b"").decode("utf-8", errors="replace")
        if value is None:  # tombstone
            self.rejected.pop(rule_id, None)
            self.specs.pop(rule_id, None)
            return self.messages.pop(rule_id, None) is not None
        message, why = check_message(rule_id, value)
        if message is None:
            return self._reject(rule_id, why)
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


# Every record a push writes carries this header, "<push id> <index> <count>" (ASCII), so that
# a worker reading a push still arriving waits for its last record before compiling (never a
# part of the pack; 1-2 s more when a busy machine spaced the push's batches past the settle
# time) and compiles as soon as it is in (no settle after it). A header, not a marker record:
# a worker that predates it reads only keys and values, and a record without one (an older
# push) is read as before.
PUSH_HEADER = "rasid-push"


def push_header(push_id: str, index: int, count: int) -> tuple[str, bytes]:
    """The header of record `index` (from 0) of the `count` records of push `push_id`."""
    return PUSH_HEADER, f"{push_id} {index} {count}".encode("ascii")


def read_push_header(headers: Iterable[tuple[str, bytes]] | None) -> tuple[str, int, int] | None:
    """(push id, index, count) from a record's headers; None without one, or for one that does
    not read as a push's (the record is then read as an older push's: nothing waits on it)."""
    for name, value in headers or ():
        if name != PUSH_HEADER:
            continue
        try:
            push_id, index, count = bytes(value).decode("ascii").split(" ")
            position, total = int(index), int(count)
        except (TypeError, ValueError):  # (UnicodeDecodeError is a ValueError)
            return None
        return (push_id, position, total) if push_id and 0 <= position < total else None
    return None


def problems_text(problems: Iterable[Problem]) -> str:
    return "\n".join(str(p) for p in problems)
