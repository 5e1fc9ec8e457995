"""The console's vendored npm files (streams/api/static/vendor/, built by scripts/build_console)
are exactly what web/package-lock.json names: each file's package and version match the lock
and the pinned dependency, its SHA-256 matches the manifest, each has its licence, and nothing
else sits in vendor/. No npm needed: a hand-edited or stale file fails here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from streams.resources import static_path

ROOT = Path(__file__).resolve().parents[3]
VENDOR = static_path() / "vendor"


def _json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


MANIFEST = _json(VENDOR / "manifest.json")
LOCK = _json(ROOT / "web" / "package-lock.json")
PACKAGE = _json(ROOT / "web" / "package.json")


@pytest.mark.parametrize("entry", MANIFEST["files"], ids=lambda e: e["file"])
def test_each_vendored_file_is_the_locked_package_file(entry: dict[str, str]) -> None:
    path = VENDOR / entry["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], (
        f"{entry['file']} differs from what scripts/build_console copied: rebuild it"
    )
    locked = LOCK["packages"][f"node_modules/{entry['package']}"]
    assert locked["version"] == entry["version"]
    assert locked["integrity"].startswith("sha512-")
    # a direct dependency, pinned exactly: the build never floats to another version
    assert PACKAGE["dependencies"][entry["package"]] == entry["version"]
    assert LOCK["packages"][""]["dependencies"][entry["package"]] == entry["version"]
    assert (VENDOR / "licenses" / f"{entry['package']}.txt").read_text("utf-8").strip()


def test_nothing_unlisted_is_vendored() -> None:
    listed = {e["file"] for e in MANIFEST["files"]} | {"manifest.json"}
    present = {p.name for p in VENDOR.iterdir() if p.is_file()}
    assert present == listed
    licences = {p.stem for p in (VENDOR / "licenses").iterdir()}
    assert licences == {e["package"] for e in MANIFEST["files"]}


def test_the_outline_is_natural_earth_topojson() -> None:
    topo = _json(VENDOR / "countries-50m.json")
    assert topo["type"] == "Topology"
    countries = topo["objects"]["countries"]["geometries"]
    names = {g["properties"]["name"] for g in countries}
    assert {"Iraq", "Syria", "Egypt", "Bahrain", "Palestine", "Lebanon"} <= names  # the region
