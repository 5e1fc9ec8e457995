"""The compiled schema check of rule files and rule messages (jsonschema-rs) never calls
valid what the reference validator rejects: `rasid rules validate/push` and the live store
take only its "valid" and ask the reference, which names the problems, otherwise."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules import default_rules_path, load_rule_file, read_yaml
from streams.rules.messages import plan_push
from streams.validation import surely_valid, validator
from tests.unit.test_fastschema import EDGE, _paths


@pytest.fixture(scope="module")
def samples() -> dict[str, Any]:
    pack = read_yaml(default_rules_path())
    (change, *_) = plan_push(
        [load_rule_file(default_rules_path())], {}, now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return {"rules-file": pack, "rule-message": change.message}


def test_the_default_pack_and_its_messages_are_valid_for_both(samples: dict[str, Any]) -> None:
    for kind, doc in samples.items():
        assert validator(kind).is_valid(doc)
        assert surely_valid(kind, doc), kind


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(["rules-file", "rule-message"]), data=st.data())
def test_fast_check_never_accepts_what_the_reference_rejects(
    samples: dict[str, Any], kind: str, data: st.DataObject
) -> None:
    doc = copy.deepcopy(samples[kind])
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = data.draw(EDGE)
    if surely_valid(kind, doc):
        assert validator(kind).is_valid(doc), doc
