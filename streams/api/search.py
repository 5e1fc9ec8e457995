"""`GET /alerts?q=…`: search the alerts the API holds, beyond the page a console has loaded.

A case-insensitive substring match, in the project's normalised Arabic (streams/text/arabic.py
`normalize`: hamza forms, alef maqsura, ta marbuta, Persian letters and Arabic-Indic digits
folded, diacritics, tatweel and bidi marks dropped, Latin case-folded), so «أحمر» finds «احمر»
and «RED» finds «Red». What is searched: the rule's titles (`rule_title`, `rule_title_en`), the
headlines of the alert's articles and the matched phrases (each match's rule term and the text
it matched). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from streams.text.arabic import normalize

MAX_QUERY = 200  # characters of `q`; a longer one is a 400
MAX_FIELD = 2000  # characters of one searched field (headlines and phrases are far shorter)


def _texts(alert: Mapping[str, Any]) -> Iterator[str]:
    for key in ("rule_title", "rule_title_en"):
        yield alert.get(key) or ""
    article = alert.get("article")
    if isinstance(article, Mapping):
        yield article.get("title") or ""
    for art in alert.get("articles") or ():
        if isinstance(art, Mapping):
            yield art.get("title") or ""
    for match in alert.get("matches") or ():
        if isinstance(match, Mapping):
            yield match.get("term") or ""
            yield match.get("text") or ""


def haystack(alert: Mapping[str, Any]) -> str:
    """The searched fields of an alert, normalised, one per line (a query has no line break).
    Cached per (id, revision): a revision's content never changes, and the cache makes a
    search of the whole buffer (10,000 alerts) a walk of lookups, not of normalisations."""
    key = (alert.get("id"), alert.get("revision"))
    cacheable = isinstance(key[1], int) and isinstance(key[0], str) and bool(_ID.match(key[0]))
    cached = _CACHE.get(key) if cacheable else None
    if cached is not None:
        return cached
    texts = (t[:MAX_FIELD] for t in _texts(alert) if isinstance(t, str) and t)
    text = "\n".join(" ".join(normalize(t).split()) for t in texts)
    if cacheable:
        if len(_CACHE) >= CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]  # the oldest
        _CACHE[key] = text
    return text


_CACHE: dict[tuple[Any, Any], str] = {}
_ID = re.compile(r"[0-9a-f]{32}\Z")  # an alert id (schemas/alert.v3.json)
CACHE_SIZE = 50_000  # alerts (the API buffers 10,000 by default)


@dataclass(frozen=True, slots=True)
class AlertSearch:
    """The normalised query; `matches` is true when any searched field contains it."""

    needle: str

    @classmethod
    def parse(cls, q: str | None) -> AlertSearch | None:
        """None for no query (or only spaces); ValueError if it is too long."""
        if q is None:
            return None
        if len(q) > MAX_QUERY:
            raise ValueError(f"q must be at most {MAX_QUERY} characters")
        needle = " ".join(normalize(q).split())
        return cls(needle) if needle else None

    def matches(self, alert: Mapping[str, Any]) -> bool:
        return self.needle in haystack(alert)
