"""Enriched article + rule hits → alert messages with deterministic ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from streams.ids import alert_id
from streams.rules import RuleHit, RuleSet

SCHEMA_VERSION = 1


def _codes(labels: list[dict[str, Any]]) -> list[str]:
    return [str(label["code"]) for label in labels]


def match_article(enriched: Mapping[str, Any], rules: RuleSet) -> list[RuleHit]:
    """Run the watch-list over an enriched article's title and body."""
    return rules.match(
        {"title": enriched["title"], "body": enriched["body"]},
        regions=_codes(enriched["regions"]),
        topics=_codes(enriched["topics"]),
        source=enriched["source"],
        lang=enriched.get("lang"),
        breaking=bool(enriched.get("breaking", False)),
    )


def _explain(labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "code": label["code"],
            "score": label["score"],
            "found": sorted({e["text"] for e in label["evidence"]}),
        }
        for label in labels
    ]


def hit_key(enriched: Mapping[str, Any]) -> str:
    """What an article-level hit id names: the article, and its revision after the first, so
    each revision of an article is forwarded to the story stage once (replays are not)."""
    revision = int(enriched.get("revision", 1))
    return enriched["id"] if revision == 1 else f"{enriched['id']}#r{revision}"


def _article_part(enriched: Mapping[str, Any]) -> dict[str, Any]:
    """What every hit of one article says alike: the article, its labels and their evidence."""
    return {
        "article": {
            "id": enriched["id"],
            "source": enriched["source"],
            "url": enriched.get("url"),
            "title": enriched["title"],
            "published_at": enriched.get("published_at"),
        },
        "regions": _codes(enriched["regions"]),
        "topics": _codes(enriched["topics"]),
        "explanation": {
            "regions": _explain(enriched["regions"]),
            "topics": _explain(enriched["topics"]),
        },
        "key": hit_key(enriched),
    }


def build_alerts(
    enriched: Mapping[str, Any], hits: Sequence[RuleHit], *, now: datetime
) -> list[dict[str, Any]]:
    """The article-level hits (schema alert.v1) of one article: what the story stage turns into
    alerts. They share their article, labels and explanation objects (read-only): an article
    firing many rules (~5 hits an article at 10,000 rules) builds those once."""
    if not hits:
        return []
    part = _article_part(enriched)
    return [_alert(enriched, part, hit, now) for hit in hits]


def build_alert(enriched: Mapping[str, Any], hit: RuleHit, *, now: datetime) -> dict[str, Any]:
    """One article-level hit (see `build_alerts`)."""
    return _alert(enriched, _article_part(enriched), hit, now)


def _alert(
    enriched: Mapping[str, Any], part: dict[str, Any], hit: RuleHit, now: datetime
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": alert_id(hit.rule_id, hit.rule_version, part["key"]),
        "rule": hit.rule_id,
        "rule_version": hit.rule_version,
        "rule_title": hit.title,
        # optional in alert.v1: a rule without an English title makes the hit it always made
        **({"rule_title_en": hit.title_en} if hit.title_en is not None else {}),
        "severity": hit.severity,
        "article": part["article"],
        "regions": part["regions"],
        "topics": part["topics"],
        "explanation": part["explanation"],
        "matches": [
            {
                "term": m.term,
                "text": m.text,
                "field": m.field,
                "start": m.start,
                "end": m.end,
                "snippet": m.snippet,
            }
            for m in hit.matches
        ],
        "published_at": enriched.get("published_at"),
        "ingested_at": enriched["ingested_at"],
        "alerted_at": now.isoformat(),
    }
