"""The files Rasid ships inside the package, found through importlib.resources, never through
the source tree: an installed wheel has no checkout next to it.

    streams/schemas/               JSON Schemas (the repository's top-level schemas/)
    streams/data/rules/default.yaml the default rule pack (deploy/rules/default.yaml)
    streams/data/sources.yaml      the example sources file (deploy/sources.yaml)
    streams/data/*.json, *.yaml    gazetteer and lexicons
    streams/api/static/            the live page

In the repository `streams/schemas`, `streams/data/rules/default.yaml` and
`streams/data/sources.yaml` are relative symlinks to the top-level copies, so an editable install
reads those; building a wheel copies the files they point at (package-data in pyproject.toml).
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def package_root() -> Traversable:
    return resources.files("streams")


def schema_dir() -> Traversable:
    """The message and file schemas (top-level `schemas/` in the repository)."""
    return package_root() / "schemas"


def schema(name: str) -> Traversable:
    """One schema file, e.g. `schema("alert.v2.json")`."""
    return schema_dir() / name


def data_file(name: str) -> Traversable:
    """A classifier data file of streams/data, e.g. `data_file("gazetteer.json")`."""
    return package_root() / "data" / name


def static_dir() -> Traversable:
    """The live console's files (`rasid api` serves index.html at /, the rest under /static/)."""
    return package_root() / "api" / "static"


def static_path() -> Path:
    """static_dir() as a filesystem path (aiohttp serves files from a directory)."""
    return _as_path(static_dir())


def _as_path(item: Traversable) -> Path:
    """A packaged file as a filesystem path (pip installs wheels unpacked, and editable installs
    point into the checkout, so the package is always on disk). Symlinks are resolved: in a
    checkout, messages then name the operator-facing copy (deploy/…)."""
    if not isinstance(item, Path):
        raise RuntimeError(f"packaged file {item} is not on the filesystem")
    return item.resolve()


def rule_pack() -> Path:
    """The packaged default rule pack (a copy of deploy/rules/default.yaml)."""
    return _as_path(package_root() / "data" / "rules" / "default.yaml")


def sources_file() -> Path:
    """The packaged example sources file (a copy of deploy/sources.yaml)."""
    return _as_path(package_root() / "data" / "sources.yaml")
