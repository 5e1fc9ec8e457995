"""What rules produce and what can be wrong with them: matches, hits, problems, severities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streams import resources
from streams.errors import RasidError


@dataclass(frozen=True, slots=True)
class Match:
    """One matched occurrence of a rule phrase in an article field.

    `start`/`end` are offsets into the ORIGINAL text of `field`, so
    ``fields[m.field][m.start:m.end] == m.text``.
    """

    term: str  # the phrase variant, as written in the rule, that matched
    text: str  # the original text matched, e.g. «والخطوطَ الحمراء»
    field: str  # "title" or "body"
    start: int
    end: int
    snippet: str  # single-line original context around the match


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired on an article, with every (deduplicated) match it found."""

    rule_id: str
    rule_version: int
    severity: str
    title: str
    matches: tuple[Match, ...]
    title_en: str | None = None  # the rule's English title, when it has one


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a rule file: where (file, rule, field) and what."""

    message: str
    rule: str | None = None  # rule id, or "#N" (position) when the id itself is unusable
    field: str | None = None  # dotted path inside the rule, e.g. "match.any[1].phrase"
    file: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.rule:
            parts.append(f"rule {self.rule}")
        if self.field:
            parts.append(f"field {self.field!r}")
        parts.append(self.message)
        return ": ".join(parts)


class RuleError(RasidError, ValueError):
    """Invalid rule definitions. ``str()`` is the first problem; ``problems`` has them all."""

    def __init__(self, message: str | Problem, problems: Sequence[Problem] = ()) -> None:
        first = message if isinstance(message, Problem) else Problem(str(message))
        self.problems: list[Problem] = list(problems) or [first]
        super().__init__(str(first))


def default_rules_path() -> Path:
    """The default watch-list packaged with Rasid (a copy of ``deploy/rules/default.yaml``; in
    a checkout, that file itself)."""
    return resources.rule_pack()
