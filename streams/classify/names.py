"""Display names of region and topic codes (`streams/data/names.yaml`): {"ar": …, "en": …}.

What a person reads instead of a code, in enriched articles (each label's `name`), alerts
(`names`) and the live page. The file is loaded once; tests/unit/classify/test_names.py checks
that every code the classifiers can emit has both names. A code without a name (an alert of an
older release, a region a newer gazetteer added) falls back to the code itself, so a message is
never refused for a missing name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Literal

import yaml

from streams.resources import data_file

Kind = Literal["region", "topic"]
KINDS: tuple[Kind, ...] = ("region", "topic")
_SECTIONS: dict[Kind, str] = {"region": "regions", "topic": "topics"}
_LANGS = ("ar", "en")


def _entry(kind: str, code: Any, value: Any) -> dict[str, str]:
    if not isinstance(code, str) or not code:
        raise ValueError(f"names.yaml {kind}: code {code!r} is not a string")
    if not isinstance(value, Mapping) or set(value) != set(_LANGS):
        raise ValueError(f"names.yaml {kind} {code}: needs exactly {' and '.join(_LANGS)}")
    out = {lang: value[lang] for lang in _LANGS}
    if not all(isinstance(v, str) and v.strip() for v in out.values()):
        raise ValueError(f"names.yaml {kind} {code}: names must be non-empty strings")
    return out


def parse(doc: Any) -> dict[Kind, dict[str, dict[str, str]]]:
    """The names file's content → kind → code → {"ar", "en"}; ValueError says what is wrong."""
    if not isinstance(doc, Mapping):
        raise ValueError("names.yaml must be a mapping")
    table: dict[Kind, dict[str, dict[str, str]]] = {}
    for kind in KINDS:
        section = doc.get(_SECTIONS[kind])
        if not isinstance(section, Mapping):
            raise ValueError(f"names.yaml: `{_SECTIONS[kind]}` must be a mapping")
        table[kind] = {code: _entry(kind, code, value) for code, value in section.items()}
    return table


@lru_cache(maxsize=1)
def table() -> dict[Kind, dict[str, dict[str, str]]]:
    """The packaged names, loaded once."""
    return parse(yaml.safe_load(data_file("names.yaml").read_text("utf-8")))


def known(kind: Kind, code: str) -> bool:
    return code in table()[kind]


def name(kind: Kind, code: str) -> dict[str, str]:
    """{"ar", "en"} of a region (ISO code) or topic code; the code itself for both if unknown.
    A fresh dict each call: messages that carry it may be changed by their owner."""
    entry = table()[kind].get(code)
    return dict(entry) if entry is not None else {"ar": code, "en": code}


def names_of(regions: Iterable[str], topics: Iterable[str]) -> dict[str, dict[str, Any]]:
    """An alert's `names`: {"regions": {code: name}, "topics": {code: name}}."""
    return {
        "regions": {code: name("region", code) for code in regions},
        "topics": {code: name("topic", code) for code in topics},
    }
