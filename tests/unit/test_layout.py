"""The repository's own rules, checked without running anything: every integration test module
is marked (so `make unit`'s `-m "not integration"` and the tiers stay apart), and the lock files
agree with pyproject.toml (so `scripts/bootstrap` installs what the project declares)."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INTEGRATION = ROOT / "tests" / "integration"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", re.MULTILINE)


def _has_tests(tree: ast.Module) -> bool:
    return any(
        (isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"))
        or (isinstance(node, ast.ClassDef) and node.name.startswith("Test"))
        for node in tree.body
    )


def _is_integration_mark(node: ast.expr) -> bool:
    """`pytest.mark.integration`, alone or in a list/tuple of marks."""
    if isinstance(node, ast.List | ast.Tuple):
        return any(_is_integration_mark(element) for element in node.elts)
    return ast.unparse(node) == "pytest.mark.integration"


def _marked(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        and _is_integration_mark(node.value)
        for node in tree.body
    )


def test_every_integration_module_carries_the_marker() -> None:
    modules = sorted(INTEGRATION.glob("*.py"))
    with_tests = {p: ast.parse(p.read_text(encoding="utf-8")) for p in modules}
    with_tests = {p: tree for p, tree in with_tests.items() if _has_tests(tree)}
    assert with_tests, "no test modules found under tests/integration"
    unmarked = [p.name for p, tree in with_tests.items() if not _marked(tree)]
    assert unmarked == [], (
        f"add `pytestmark = pytest.mark.integration` at module level to {unmarked}: "
        "make unit deselects integration tests by this marker"
    )


def _name(requirement: str) -> str:
    """PEP 503 normalised distribution name of a requirement string."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text(encoding="utf-8")
    return {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in PIN.findall(text)}


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project: dict[str, Any] = tomllib.load(f)["project"]
    return project


def test_the_locks_pin_every_declared_dependency(project: dict[str, Any]) -> None:
    runtime = [_name(r) for r in project["dependencies"]]
    dev = [_name(r) for r in project["optional-dependencies"]["dev"]]
    missing_runtime = sorted(set(runtime) - set(_pins("requirements.lock")))
    missing_dev = sorted(set(runtime + dev) - set(_pins("requirements-dev.lock")))
    assert missing_runtime == [] and missing_dev == [], (
        f"not in the locks (run make lock): runtime {missing_runtime}, dev {missing_dev}"
    )


def test_the_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    differ = {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}
    assert differ == {}, f"requirements.lock and requirements-dev.lock differ (make lock): {differ}"


def test_faust_is_pinned_exactly(project: dict[str, Any]) -> None:
    """streams/worker/faust_fixes.py patches faust's internals: a new faust is a deliberate
    change, never an accident of resolution."""
    faust = [r for r in project["dependencies"] if _name(r) == "faust-streaming"]
    assert len(faust) == 1 and "==" in faust[0], faust
    assert _pins("requirements-dev.lock")["faust-streaming"] == faust[0].split("==")[1].strip()
