"""The fast schema check (jsonschema-rs) never calls valid what the reference validator
(python-jsonschema, streams/validation.py) rejects: it is only trusted when it says "valid".
That holds for the hot path's messages and for rule files and rule messages (`rasid rules
validate/push` and the live store take only its "valid" and ask the reference, which names
the problems, otherwise)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules import default_rules_path, load_rule_file, read_yaml
from streams.rules.messages import plan_push
from streams.settings import Settings
from streams.validation import surely_valid, validator
from streams.worker.pipeline import Pipeline
from tests.conftest import SAMPLE
from tests.unit.test_fuzz_input import JSON

NOW = datetime(2024, 12, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def samples() -> dict[str, Any]:
    pipe = Pipeline.load(Settings())
    raw = {"schema_version": 1, "source": "baghdadtoday", "body": SAMPLE.read_text("utf-8")}
    enriched, alerts = pipe.classify(orjson.dumps(raw))
    (change, *_) = plan_push([load_rule_file(default_rules_path())], {}, now=NOW)
    return {
        "raw-article": raw,
        "enriched-article": enriched,
        "alert-hit": alerts[0],
        "rules-file": read_yaml(default_rules_path()),
        "rule-message": change.message,
    }


def test_valid_messages_are_valid_for_both(samples: dict[str, dict[str, Any]]) -> None:
    for kind, message in samples.items():
        assert validator(kind).is_valid(message)
        assert surely_valid(kind, message), kind


# Values that trip the differences between validators: bools vs integers, floats, dates
# with and without zones, trailing newlines against "$" in patterns, wrong containers.
EDGE = st.one_of(
    JSON,
    st.sampled_from(
        [
            True, 1.0, 1.5, -1, 2**70, "", "ar\n", "ar", "AR", "x" * 3,
            "2024-12-01T10:39:00+03:00", "2024-12-01T10:39:00", "2024-12-01 10:39:00Z",
            "2024-02-30T00:00:00Z", "2024-12-01T24:00:00Z", "2024-12-01t10:39:00z",
            "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef\n",
            "text/html", "text/html\n", [], {},
        ]
    ),
)  # fmt: skip


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(
        ["raw-article", "enriched-article", "alert-hit", "rules-file", "rule-message"]
    ),
    data=st.data(),
)
def test_fast_check_never_accepts_what_the_reference_rejects(
    samples: dict[str, dict[str, Any]], kind: str, data: st.DataObject
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
