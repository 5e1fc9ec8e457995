"""Value types shared by the core modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ParsedArticle:
    """What the parser recovers from a raw page; all text is original (not normalised)."""

    title: str
    body: str
    section: str | None = None
    published_at: datetime | None = None  # timezone-aware when known
    dateline: str | None = None  # e.g. «بغداد» from «بغداد اليوم - بغداد»


@dataclass(frozen=True, slots=True)
class Evidence:
    """A piece of original text that supports a label or a match.

    `field` names the article field ("title" or "body"); `start`/`end` are offsets into that
    field's original text, so a UI can highlight exactly what was found.
    """

    text: str
    field: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Label:
    """A classification result (region ISO code or topic code) with its score and evidence."""

    code: str
    score: float
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
