"""Rule files are read with libyaml's safe parser when PyYAML has it: the same documents as
the pure-Python safe loader, and the same refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streams.rules import default_rules_path, load_rule_file, read_yaml

CASES = [
    ("rules: []\n", {"rules": []}),
    ("a: 'خط احمر'\nb: [1, 2.5, true, null]\n", {"a": "خط احمر", "b": [1, 2.5, True, None]}),
    ("when: 2024-12-01\n", {"when": yaml.safe_load("d: 2024-12-01")["d"]}),
    ("x: &a [1]\ny: *a\n", {"x": [1], "y": [1]}),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_the_same_documents_as_the_safe_loader(tmp_path: Path, text: str, expected: object) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    assert read_yaml(path) == yaml.safe_load(text) == expected


def test_the_default_pack_reads_the_same() -> None:
    path = default_rules_path()
    assert read_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "text",
    [
        "rules: [\n",
        "x: !!python/object/apply:os.system ['true']\n",  # no arbitrary objects
    ],
)
def test_unsafe_or_broken_yaml_is_a_problem_not_a_crash(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    doc = load_rule_file(path)
    assert doc.specs == [] and "not valid YAML" in str(doc.problems[0])
