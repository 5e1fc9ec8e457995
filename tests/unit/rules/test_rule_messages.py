"""Rules on the topic: messages, version bumps on push, folding the compacted topic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from streams.rules import parse_document
from streams.rules.messages import (
    LiveMessages,
    RuleState,
    build_message,
    content_hash,
    plan_push,
)
from streams.validation import schema_errors

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LISTS = {"transit": ["مترو", "قطار"]}


def rule(**extra: Any) -> dict[str, Any]:
    return {
        "id": "red-line",
        "version": 1,
        "title": "Red line",
        "severity": "high",
        "match": {"phrase": "خط احمر", "unless_near": {"terms": [{"list": "transit"}]}},
        **extra,
    }


def doc(*rules: dict[str, Any], lists: dict[str, Any] | None = None) -> Any:
    parsed = parse_document(
        {"rules": list(rules), "lists": LISTS if lists is None else lists}, "f.yaml"
    )
    assert parsed.problems == []
    return parsed


def test_message_is_valid_and_self_contained() -> None:
    (change,) = plan_push([doc(rule())], {}, now=NOW, updated_by="amal")
    assert (change.action, change.version, change.previous_version) == ("create", 1, None)
    message = change.message
    assert message is not None
    assert schema_errors("rule-message", message) == []
    assert message["lists"] == LISTS  # the referenced list travels with the rule
    assert message["rule"]["version"] == 1
    assert (message["updated_by"], message["source_file"]) == ("amal", "f.yaml")


def test_only_referenced_lists_are_shipped() -> None:
    plain = rule(match="اغتيال")
    (change,) = plan_push([doc(plain)], {}, now=NOW)
    assert change.message is not None and change.message["lists"] == {}


def test_version_bumps_only_on_change() -> None:
    live = {"red-line": build_message(rule(version=3), LISTS, version=3, now=NOW)}
    (same,) = plan_push([doc(rule(version=1))], live, now=NOW)
    assert (same.action, same.version, same.message) == ("unchanged", 3, None)
    (changed,) = plan_push([doc(rule(title="Red lines"))], live, now=NOW)
    assert (changed.action, changed.version, changed.previous_version) == ("update", 4, 3)
    assert changed.message is not None and changed.message["rule"]["version"] == 4
    # a written version above the live one wins
    (jump,) = plan_push([doc(rule(title="Red lines", version=10))], live, now=NOW)
    assert jump.version == 10


def test_a_list_change_is_a_rule_change() -> None:
    live = {"red-line": build_message(rule(), LISTS, version=1, now=NOW)}
    (change,) = plan_push([doc(rule(), lists={"transit": ["مترو", "قطار", "ترام"]})], live, now=NOW)
    assert (change.action, change.version) == ("update", 2)


def test_content_hash_ignores_version_only() -> None:
    assert content_hash(rule(version=1), LISTS) == content_hash(rule(version=7), LISTS)
    assert content_hash(rule(), LISTS) != content_hash(rule(severity="low"), LISTS)
    assert content_hash(rule(), LISTS) != content_hash(rule(), {"transit": ["مترو"]})


def _value(r: dict[str, Any], version: int = 1) -> bytes:
    return orjson.dumps(build_message(r, LISTS, version=version, now=NOW))


def test_state_folds_updates_and_tombstones() -> None:
    state = RuleState()
    assert state.apply(b"red-line", _value(rule())) is True
    assert state.apply(b"red-line", _value(rule())) is False  # same content and version
    assert state.apply(b"red-line", _value(rule(title="x"), 2)) is True
    assert state.messages["red-line"]["version"] == 2
    assert state.ruleset().match({"body": "خط احمر"})[0].rule_version == 2
    assert state.ruleset().match({"body": "الخط الأحمر للمترو"}) == []  # list from the message
    assert state.apply(b"red-line", None) is True
    assert state.apply(b"red-line", None) is False  # deleting twice changes nothing
    assert len(state.ruleset()) == 0
    assert state.records == 5


def test_invalid_messages_never_replace_a_good_rule() -> None:
    state = RuleState()
    state.apply(b"red-line", _value(rule()))
    bad_rule = build_message(rule(), LISTS, version=2, now=NOW)
    bad_rule["rule"]["severity"] = "urgent"
    cases = [
        (b"red-line", b"{not json"),
        (b"red-line", orjson.dumps({"schema_version": 1})),
        (b"other-id", _value(rule())),  # key and rule id disagree
        (b"red-line", orjson.dumps(bad_rule)),
    ]
    for key, value in cases:
        assert state.apply(key, value) is False
    assert state.messages["red-line"]["version"] == 1
    assert set(state.rejected) == {"red-line", "other-id"}
    assert "severity" in state.rejected["red-line"]
    state.apply(b"red-line", _value(rule(), 3))
    assert "red-line" not in state.rejected


def test_fingerprint_and_order_are_deterministic() -> None:
    a, b = RuleState(), RuleState()
    other = rule(id="assassination", match="اغتيال")
    a.apply(b"red-line", _value(rule()))
    a.apply(b"assassination", _value(other))
    b.apply(b"assassination", _value(other))
    b.apply(b"red-line", _value(rule()))
    assert a.fingerprint() == b.fingerprint()
    assert a.ruleset().rule_ids == b.ruleset().rule_ids == ["assassination", "red-line"]
    b.apply(b"red-line", _value(rule(title="y"), 2))
    assert a.fingerprint() != b.fingerprint()


def test_a_push_of_many_rules_plans_each_from_its_own_text() -> None:
    rules = [rule(id=f"r-{i}", title=f"rule {i}", match=f"كلمة{i}") for i in range(2000)]
    plan = plan_push([doc(*rules)], {}, now=NOW)
    assert [c.id for c in plan] == [r["id"] for r in rules]
    for change, written in zip(plan, rules, strict=True):
        assert change.message is not None
        assert change.message["rule"]["title"] == written["title"]
        assert change.message["content_hash"] == content_hash(written, {})


def test_raw_rule_is_the_first_written_with_that_id() -> None:
    parsed = parse_document(
        {"rules": [rule(), "not a rule", rule(title="second")], "lists": LISTS}, "f.yaml"
    )
    assert parsed.problems  # the duplicate id and the string are reported
    assert parsed.raw_rule("red-line")["title"] == "Red line"
    assert parsed.raw_rule("red-line") is parsed.rules[0]


def test_apply_all_folds_like_apply_one_by_one() -> None:
    other = rule(id="assassination", match="اغتيال")
    records: list[tuple[bytes | None, bytes | None]] = [
        (b"red-line", _value(rule())),
        (b"assassination", _value(other)),
        (b"red-line", b"{not json"),  # rejected: the good rule stays
        (b"assassination", None),
        (b"red-line", _value(rule(title="x"), 2)),
    ]
    one_by_one, bulk = RuleState(), RuleState()
    changed = [one_by_one.apply(k, v) for k, v in records]
    assert bulk.apply_all(records) is any(changed) is True
    assert bulk.messages == one_by_one.messages and bulk.rejected == one_by_one.rejected
    assert bulk.specs == one_by_one.specs and bulk.records == 5
    assert bulk.apply_all([(b"red-line", _value(rule(title="x"), 2))]) is False  # no change


def _claiming(r: dict[str, Any], claimed: dict[str, Any], version: int) -> bytes:
    """A message whose `content_hash` field is `claimed`'s, but whose rule is `r`."""
    message = build_message(r, LISTS, version=version, now=NOW)
    message["content_hash"] = content_hash(claimed, LISTS)
    return orjson.dumps(message)


def _bad_rule(version: int) -> bytes:
    """Valid against the schema, rejected by the rule checks (a worker drops it)."""
    message = build_message(rule(), LISTS, version=version, now=NOW)
    message["rule"]["severity"] = "urgent"
    return orjson.dumps(message)


CHANGED = rule(title="Red lines")
# (case, the topic's records, the file's rule, what a push does: action, version, previous)
PUSH_CASES: list[tuple[str, list[tuple[bytes, bytes | None]], dict[str, Any], tuple]] = [
    ("empty topic", [], rule(), ("create", 1, None)),
    ("same text", [(b"red-line", _value(rule(), 3))], rule(), ("unchanged", 3, 3)),
    ("changed text", [(b"red-line", _value(rule(), 3))], CHANGED, ("update", 4, 3)),
    (
        "only the version differs",
        [(b"red-line", _value(rule(), 3))],
        rule(version=2),
        ("unchanged", 3, 3),
    ),
    (
        "the latest record counts",
        [(b"red-line", _value(rule(), 1)), (b"red-line", _value(CHANGED, 2))],
        CHANGED,
        ("unchanged", 2, 2),
    ),
    (
        "deleted",
        [(b"red-line", _value(rule(), 3)), (b"red-line", None)],
        rule(),
        ("create", 1, None),
    ),
    (
        "deleted, then again",
        [(b"red-line", _value(rule(), 3)), (b"red-line", None), (b"red-line", _value(rule(), 5))],
        rule(),
        ("unchanged", 5, 5),
    ),
    (
        "invalid JSON after a good one",
        [(b"red-line", _value(rule(), 3)), (b"red-line", b"{not json")],
        rule(),
        ("unchanged", 3, 3),
    ),
    (
        "schema violation after a good one",
        [(b"red-line", _value(rule(), 3)), (b"red-line", orjson.dumps({"schema_version": 1}))],
        CHANGED,
        ("update", 4, 3),
    ),
    (
        "key and rule id disagree",
        [(b"red-line", _value(rule(id="other"), 3))],
        rule(),
        ("create", 1, None),
    ),
    (
        "only invalid records",
        [(b"red-line", b"[]"), (b"red-line", b"{")],
        rule(),
        ("create", 1, None),
    ),
    (
        "the hash field lies",
        [(b"red-line", _claiming(CHANGED, rule(), 3))],
        rule(),
        ("update", 4, 3),
    ),
    (
        "other rules on the topic",
        [(b"other", _value(rule(id="other"), 7))],
        rule(),
        ("create", 1, None),
    ),
]


def _plan_row(plan: list[Any]) -> tuple:
    (change,) = plan
    assert (change.message is None) is (change.action == "unchanged")
    if change.message is not None:
        assert change.message["version"] == change.version
        assert change.message["content_hash"] == content_hash(change.message["rule"], LISTS)
    return change.action, change.version, change.previous_version


def test_a_push_plans_from_the_raw_topic_as_from_the_folded_state() -> None:
    """`LiveMessages` (what `rasid rules push` reads: records kept raw, checked on demand)
    plans every push as `RuleState` (every rule parsed) does."""
    for case, records, written, expected in PUSH_CASES:
        live, state = LiveMessages(), RuleState()
        assert live.apply_all(records) is bool(records)
        state.apply_all(records)
        assert live.records == state.records == len(records)
        from_raw = _plan_row(plan_push([doc(written)], live, now=NOW))
        from_state = _plan_row(plan_push([doc(written)], state.messages, now=NOW))
        assert from_raw == from_state == expected, case


def test_live_messages_is_the_folded_states_mapping() -> None:
    for case, records, _written, _expected in PUSH_CASES:
        live, state = LiveMessages(), RuleState()
        live.apply_all(records)
        state.apply_all(records)
        assert dict(live) == state.messages, case
        assert len(live) == len(state.messages) and set(live) == set(state.messages), case


def test_a_message_only_the_rule_checks_reject_counts_as_live_for_a_push() -> None:
    """The one check `LiveMessages` leaves out is the rule's own parse: such a message (a
    worker rejects it and keeps the rule it had) still yields a push of the file's rule, at a
    version above it, where the folded state saw the earlier good message."""
    records: list[tuple[bytes, bytes | None]] = [
        (b"red-line", _value(rule(), 3)),
        (b"red-line", _bad_rule(5)),
    ]
    live, state = LiveMessages(), RuleState()
    live.apply_all(records)
    state.apply_all(records)
    assert "red-line" in state.rejected
    assert _plan_row(plan_push([doc(rule())], state.messages, now=NOW)) == ("unchanged", 3, 3)
    assert _plan_row(plan_push([doc(rule())], live, now=NOW)) == ("update", 6, 5)
    alone = LiveMessages()
    alone.apply_all(records[1:])
    assert _plan_row(plan_push([doc(rule())], alone, now=NOW)) == ("update", 6, 5)


def test_the_plan_hashes_each_rule_once() -> None:
    """The message's hash is the plan's digest, not computed again (`build_message(digest=)`),
    and equal to what `content_hash` gives."""
    (change,) = plan_push([doc(CHANGED)], {}, now=NOW)
    assert change.message is not None
    assert change.message["content_hash"] == content_hash(CHANGED, LISTS)
    given = build_message(CHANGED, LISTS, version=1, now=NOW, digest="f" * 32)
    assert given["content_hash"] == "f" * 32
