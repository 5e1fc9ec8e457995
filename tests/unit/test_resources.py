"""The files Rasid ships inside `streams/` (streams/resources.py): in a checkout they are the
repository's top-level copies (schemas/, deploy/rules/default.yaml, deploy/sources.yaml) through
relative symlinks, which a wheel build turns into real files (tests/integration/test_wheel.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path

import pytest

from streams import resources
from streams.validation import SCHEMA_FILES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "streams"


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("schemas", "schemas"),
        ("data/rules/default.yaml", "deploy/rules/default.yaml"),
        ("data/sources.yaml", "deploy/sources.yaml"),
    ],
)
def test_packaged_copies_are_relative_links_to_the_top_level_files(link: str, target: str) -> None:
    path = PACKAGE / link
    assert path.is_symlink(), f"streams/{link} must be a symlink to {target}"
    assert not os.path.isabs(os.readlink(path))  # relative: valid in any checkout and build copy
    assert path.resolve() == ROOT / target


@pytest.mark.parametrize(
    ("packaged", "top_level"),
    [
        (resources.rule_pack, "deploy/rules/default.yaml"),
        (resources.sources_file, "deploy/sources.yaml"),
    ],
)
def test_packaged_files_are_the_top_level_files(
    packaged: Callable[[], Path], top_level: str
) -> None:
    assert packaged().read_bytes() == (ROOT / top_level).read_bytes()


def test_every_schema_is_packaged() -> None:
    packaged = {p.name for p in resources.schema_dir().iterdir() if p.name.endswith(".json")}
    assert packaged == {p.name for p in (ROOT / "schemas").glob("*.json")}
    assert set(SCHEMA_FILES.values()) <= packaged
    for name in ("sources.v1.json", "ingest-state.v1.json", "openapi.v1.json"):
        assert name in packaged


@pytest.mark.parametrize(
    "item",
    [
        resources.data_file("gazetteer.json"),
        resources.data_file("topic_lexicons.yaml"),
        resources.static_dir() / "index.html",
        resources.schema("alert.v2.json"),
    ],
    ids=["gazetteer", "lexicons", "live page", "schema"],
)
def test_packaged_data_is_readable(item: Traversable) -> None:
    assert item.read_bytes()
