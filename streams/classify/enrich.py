"""Raw article → parsed article → enriched article (classified by region and topic)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from streams.classify.breaking import is_breaking
from streams.classify.names import Kind, name
from streams.classify.places import Gazetteer, Regions, locate
from streams.classify.topics import classify_topics, classify_topics_many
from streams.extract.parse import parse_article
from streams.ids import article_id
from streams.model import Label, ParsedArticle
from streams.text.arabic import holding_tokens, tokenize
from streams.text.scan import scan_hits
from streams.times import maybe_rfc3339

SCHEMA_VERSION = 3  # 2: `breaking`, `mentioned`; 3: labels' `name`, `revision`


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def label_dict(label: Label, kind: Kind) -> dict[str, Any]:
    return {
        "code": label.code,
        "name": name(kind, label.code),
        "score": round(label.score, 4),
        "evidence": [
            {"text": e.text, "field": e.field, "start": e.start, "end": e.end}
            for e in label.evidence
        ],
    }


def parse_raw(raw: Mapping[str, Any], *, tz: tzinfo, now: datetime) -> ParsedArticle:
    """Recover the article from a raw message. Raises parse.ParseError if nothing is left."""
    return parse_article(
        raw["body"],
        content_type=raw.get("content_type") or "text/plain",
        title=raw.get("title") or None,
        fetched_at=maybe_rfc3339(raw.get("fetched_at")) or now,
        tz=tz,
    )


def enrich(
    raw: Mapping[str, Any],
    parsed: ParsedArticle,
    *,
    now: datetime,
    gazetteer: Gazetteer | None = None,
) -> dict[str, Any]:
    """Classify a parsed article and build the enriched-article message."""
    regions = locate(parsed.title, parsed.body, dateline=parsed.dateline, gazetteer=gazetteer)
    topics = classify_topics(parsed.title, parsed.body, section=parsed.section)
    return _message(raw, parsed, now, regions, topics)


def enrich_many(
    items: Sequence[tuple[Mapping[str, Any], ParsedArticle]],
    *,
    now: datetime,
    gazetteer: Gazetteer | None = None,
) -> list[dict[str, Any]]:
    """`enrich` of each (raw, parsed) item, the same messages, step by step over the items:
    every field tokenised and scanned by the shared automaton, then the regions of every item,
    then their topics (`classify_topics_many`: the lexicons of all, then the model). Each step's tables and code then stay in the CPU caches
    across the items instead of pushing each other out per article (issue 13, round fifteen:
    `bench/stages.py --stage-major`). The fields' tokens are held meanwhile (`holding_tokens`:
    each field tokenised once, as one by one); a caller that matches the rules stage by stage
    too holds them around both."""
    with holding_tokens():
        for _, parsed in items:  # every field tokenised and scanned first, in a row
            for text in (parsed.title, parsed.dateline, parsed.body):
                if text:
                    scan_hits(tokenize(text))
        regions = [
            locate(parsed.title, parsed.body, dateline=parsed.dateline, gazetteer=gazetteer)
            for _, parsed in items
        ]
        topics = classify_topics_many([(p.title, p.body, p.section) for _, p in items])
    return [
        _message(raw, parsed, now, found, labels)
        for (raw, parsed), found, labels in zip(items, regions, topics, strict=True)
    ]


def _message(
    raw: Mapping[str, Any],
    parsed: ParsedArticle,
    now: datetime,
    regions: Regions,
    topics: list[Label],
) -> dict[str, Any]:
    """The enriched-article message of a classified article."""
    # A producer's explicit timestamp beats what the parser read off the page.
    published_at = maybe_rfc3339(raw.get("published_at")) or parsed.published_at
    return {
        "schema_version": SCHEMA_VERSION,
        "id": article_id(raw),
        "revision": raw.get("revision", 1),  # raw-article v2 (absent: a first version)
        "source": raw["source"],
        "url": raw.get("url"),
        "title": parsed.title,
        "section": parsed.section,
        "dateline": parsed.dateline,
        "lang": raw.get("lang") or "ar",
        "body": parsed.body,
        "content_type": raw.get("content_type") or "text/plain",
        "published_at": _iso(published_at),
        "fetched_at": _iso(maybe_rfc3339(raw.get("fetched_at"))),
        "ingested_at": now.isoformat(),
        "regions": [label_dict(r, "region") for r in regions.about],
        "mentioned": [label_dict(r, "region") for r in regions.mentioned],
        "topics": [label_dict(t, "topic") for t in topics],
        "breaking": is_breaking(parsed.title, parsed.body),
    }
