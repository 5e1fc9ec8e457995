"""The sources file (deploy/sources.yaml, schema schemas/sources.v1.json) → Source objects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from streams import resources
from streams.errors import RasidError

SCHEMA_PATH = resources.schema("sources.v1.json")

DEFAULTS: dict[str, Any] = {
    "interval_seconds": 300.0,
    "language": "ar",
    "timezone": "+03:00",
    "region": None,
    "weight": 0.5,
    "fetch_pages": True,
    "enabled": True,
}

_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


class SourcesError(RasidError, ValueError):
    """The sources file is missing, not YAML, or does not match its schema."""


def parse_timezone(value: str) -> tzinfo:
    """'Asia/Baghdad' or '+03:00' / 'UTC+3' → tzinfo."""
    m = _OFFSET.match(value.strip())
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0)))
    if value.strip().upper() in {"UTC", "Z", "GMT"}:
        return UTC
    try:
        return ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SourcesError(f"unknown timezone {value!r}") from exc


@dataclass(frozen=True, slots=True)
class Listing:
    url: str
    link_pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    feeds: tuple[str, ...] = ()
    listings: tuple[Listing, ...] = ()
    interval_seconds: float = 300.0
    language: str = "ar"
    tz: tzinfo = field(default=timezone(timedelta(hours=3)))
    region: str | None = None
    weight: float = 0.5
    fetch_pages: bool = True
    title: str | None = None
    # Beyond feeds and listings (docs/ingest.md): public Telegram channels (t.me/s/<name>),
    # sitemaps (URLs, and/or those robots.txt of `home` names), feeds found on `home`.
    telegram: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    sitemaps_from_robots: bool = False
    home: str | None = None
    discover: bool = False
    discover_hosts: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()  # other sites its articles may be on (HostPolicy)

    def urls(self) -> list[str]:
        """Every URL and host the operator wrote for this source: what HostPolicy allows."""
        return [
            *self.feeds,
            *(listing.url for listing in self.listings),
            *self.sitemaps,
            *([self.home] if self.home else []),
            *self.discover_hosts,
            *self.hosts,
        ]


def _validator() -> Draft202012Validator:
    schema = orjson.loads(SCHEMA_PATH.read_bytes())
    return Draft202012Validator(schema)


def parse_sources(data: Any) -> list[Source]:
    """A decoded sources document → the enabled sources (SourcesError if it is invalid)."""
    error = best_match(_validator().iter_errors(data))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "<root>"
        raise SourcesError(f"sources {path}: {error.message}")
    defaults = {**DEFAULTS, **(data.get("defaults") or {})}
    out: list[Source] = []
    names: set[str] = set()
    for item in data["sources"]:
        conf = {**defaults, **item}
        if conf["name"] in names:
            raise SourcesError(f"duplicate source name {conf['name']!r}")
        names.add(conf["name"])
        if not conf["enabled"]:
            continue
        listings = []
        for listing in conf.get("listings") or []:
            pattern = listing.get("link_pattern")
            try:
                compiled = re.compile(pattern) if pattern else None
            except re.error as exc:
                raise SourcesError(f"source {conf['name']}: bad link_pattern: {exc}") from exc
            listings.append(Listing(listing["url"], compiled))
        sitemaps = conf.get("sitemaps") or []
        sitemaps = [sitemaps] if isinstance(sitemaps, str) else sitemaps
        out.append(
            Source(
                name=conf["name"],
                feeds=tuple(conf.get("feeds") or ()),
                listings=tuple(listings),
                interval_seconds=float(conf["interval_seconds"]),
                language=conf["language"],
                tz=parse_timezone(conf["timezone"]),
                region=conf["region"],
                weight=float(conf["weight"]),
                fetch_pages=bool(conf["fetch_pages"]),
                title=conf.get("title"),
                telegram=tuple(dict.fromkeys(conf.get("telegram") or ())),
                sitemaps=tuple(dict.fromkeys(u for u in sitemaps if u != "robots")),
                sitemaps_from_robots="robots" in sitemaps,
                home=conf.get("home"),
                discover=bool(conf.get("discover", False)),
                discover_hosts=tuple(h.lower() for h in conf.get("discover_hosts") or ()),
                hosts=tuple(h.lower() for h in conf.get("hosts") or ()),
            )
        )
    return out


def load_sources(path: Path) -> list[Source]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SourcesError(f"cannot read {path}: {exc}") from exc
    return parse_sources(data)
