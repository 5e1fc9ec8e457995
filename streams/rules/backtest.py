"""Backtest: what a rule set would have fired on past articles — hits, hit rate, sample
snippets, and (with labels: article id → expected rule ids) precision and recall per rule.

Pure: the CLI (`rasid rules backtest`) reads the archive or the topic and feeds articles in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.rules import RuleHit, RuleSpec

SAMPLES = 5


@dataclass
class _RuleStats:
    id: str
    title: str
    severity: str
    version: int
    hits: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)
    tp: int = 0
    fp: int = 0
    fn: int = 0


class Backtest:
    """Accumulates the hits of one rule set over a stream of articles."""

    def __init__(self, specs: Iterable[RuleSpec], *, samples: int = SAMPLES) -> None:
        self.stats = {
            s.id: _RuleStats(s.id, s.title, s.severity, s.version) for s in specs if s.enabled
        }
        self.samples = samples
        self.articles = 0
        self.labelled = 0
        self.errors = 0

    def add(
        self,
        article_id: str,
        title: str,
        hits: Iterable[RuleHit],
        expected: Iterable[str] | None = None,
    ) -> None:
        """One article and the rules that fired on it; `expected` = its labels, if labelled."""
        self.articles += 1
        fired = set()
        for hit in hits:
            stats = self.stats.get(hit.rule_id)
            if stats is None:
                continue
            fired.add(hit.rule_id)
            stats.hits += 1
            if len(stats.samples) < self.samples and hit.matches:
                m = hit.matches[0]
                stats.samples.append(
                    {
                        "article": article_id,
                        "title": title,
                        "field": m.field,
                        "text": m.text,
                        "snippet": m.snippet,
                    }
                )
        if expected is None:
            return
        self.labelled += 1
        wanted = set(expected)
        for rule_id, stats in self.stats.items():
            if rule_id in fired and rule_id in wanted:
                stats.tp += 1
            elif rule_id in fired:
                stats.fp += 1
            elif rule_id in wanted:
                stats.fn += 1

    def report(self) -> dict[str, Any]:
        rules = []
        for s in self.stats.values():
            row: dict[str, Any] = {
                "id": s.id,
                "version": s.version,
                "title": s.title,
                "severity": s.severity,
                "hits": s.hits,
                "hit_rate": s.hits / self.articles if self.articles else 0.0,
                "samples": s.samples,
            }
            if self.labelled:
                row.update(
                    tp=s.tp,
                    fp=s.fp,
                    fn=s.fn,
                    precision=s.tp / (s.tp + s.fp) if s.tp + s.fp else None,
                    recall=s.tp / (s.tp + s.fn) if s.tp + s.fn else None,
                )
            rules.append(row)
        return {
            "articles": self.articles,
            "labelled": self.labelled,
            "errors": self.errors,
            "rules": rules,
        }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_report(report: Mapping[str, Any], *, samples: bool = True) -> str:
    """A readable table (one row per rule), then the sample hits per rule."""
    labelled = bool(report["labelled"])
    header = ["rule", "sev", "hits", "hit rate"] + (
        ["P", "R", "tp", "fp", "fn"] if labelled else []
    )
    rows = []
    for r in report["rules"]:
        row = [r["id"], r["severity"], str(r["hits"]), _pct(r["hit_rate"])]
        if labelled:
            row += [
                _pct(r["precision"]),
                _pct(r["recall"]),
                str(r["tp"]),
                str(r["fp"]),
                str(r["fn"]),
            ]
        rows.append(row)
    widths = [
        max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
        for i, h in enumerate(header)
    ]
    lines = [
        f"{report['articles']} articles"
        + (f", {report['labelled']} labelled" if labelled else "")
        + (f", {report['errors']} unreadable" if report["errors"] else ""),
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    if samples:
        for r in report["rules"]:
            if not r["samples"]:
                continue
            lines.append("")
            lines.append(f"{r['id']} — sample hits:")
            for s in r["samples"]:
                lines.append(f"  [{s['article']}] «{s['text']}» … {s['snippet']}")
    return "\n".join(lines)
