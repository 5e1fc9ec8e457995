"""One message through the stages, with no Kafka in sight: bytes in, messages out, or BadInput.

The agents call these and do the I/O; `rasid classify` calls them offline. Both therefore
produce exactly the same enriched articles and alerts.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from streams.classify.enrich import enrich, enrich_many, parse_raw
from streams.classify.places import Gazetteer
from streams.errors import BadInput, DeadLetterReason
from streams.extract.parse import ParseError
from streams.model import ParsedArticle
from streams.rules import RuleHit, RuleSet
from streams.rules.hits import build_alerts, match_article
from streams.settings import Settings
from streams.text.arabic import holding_tokens
from streams.times import utcnow
from streams.validation import check_outgoing, decode_raw


@dataclass(slots=True)
class Core:
    """One article of `Pipeline.core_many`: its enriched message, its rule hits and the CPU
    seconds of parse, of its share of the batch's enrich, and of match (for the metrics)."""

    enriched: dict[str, Any]
    hits: list[RuleHit]
    seconds: tuple[float, float, float]


@dataclass
class Pipeline:
    settings: Settings
    rules: RuleSet
    gazetteer: Gazetteer

    @classmethod
    def load(cls, settings: Settings, rules: RuleSet | None = None) -> Pipeline:
        """The stages with `rules`, or the settings' rule file compiled when none are given."""
        if rules is None:
            rules = RuleSet.from_yaml(settings.rules_file)
        pipe = cls(settings, rules, Gazetteer.load())
        pipe.warm_up()
        return pipe

    def warm_up(self) -> None:
        """Load what the stages load lazily (lexicons, compiled patterns) now, so the first
        article is not charged for it against RASID_ARTICLE_DEADLINE_SECONDS."""
        self.classify(_WARM_UP)

    # Stage "parse": bytes → valid raw message → parsed article.
    def parse(self, value: bytes | None, now: datetime) -> tuple[dict[str, Any], ParsedArticle]:
        raw = decode_raw(value, max_bytes=self.settings.max_body_bytes)
        try:
            parsed = parse_raw(raw, tz=self.settings.tz_for_source(raw["source"]), now=now)
        except ParseError as exc:
            raise BadInput(DeadLetterReason.UNPARSEABLE, str(exc)) from None
        return raw, parsed

    # Stage "enrich": parsed article → enriched-article message (validated on the way out).
    def enrich(self, raw: dict[str, Any], parsed: ParsedArticle, now: datetime) -> dict[str, Any]:
        enriched = enrich(raw, parsed, now=now, gazetteer=self.gazetteer)
        check_outgoing("enriched-article", enriched)
        return enriched

    # Stage "enrich" for several articles at once, classifier by classifier (the same
    # messages as `enrich` one by one, for less CPU: `classify.enrich.enrich_many`).
    def enrich_many(
        self, items: Sequence[tuple[dict[str, Any], ParsedArticle]], now: datetime
    ) -> list[dict[str, Any]]:
        messages = enrich_many(items, now=now, gazetteer=self.gazetteer)
        for enriched in messages:
            check_outgoing("enriched-article", enriched)
        return messages

    # Stage "match": enriched article → rule hits (the dict the enrich stage built, in the
    # same process: validated once on its way out, not decoded or checked again).
    def match(self, enriched: dict[str, Any]) -> list[RuleHit]:
        return match_article(enriched, self.rules)

    # Stage "alert": one article-level alert per hit (validated on the way out); the story
    # stage (streams/worker/story_stage.py) turns them into alert.v3 messages.
    def alerts(
        self, enriched: dict[str, Any], hits: list[RuleHit], now: datetime
    ) -> list[dict[str, Any]]:
        alerts = build_alerts(enriched, hits, now=now)
        for alert in alerts:
            check_outgoing("alert-hit", alert)
        return alerts

    def core_many(
        self, values: Sequence[bytes | None], now: datetime, deadline: float
    ) -> list[Core | None]:
        """Parse, enrich and match a batch stage by stage: every article parsed, then all
        enriched (`enrich_many`), then each matched, the fields' tokens held throughout. The
        same messages and hits as one article at a time, for less CPU (issue 13, round
        fifteen). None for an article the caller must run alone, where its own failure or
        deadline is found as before: its parse or match raised, `enrich_many` raised (then
        every article), or its charge passed `deadline` (CPU seconds). An article's charge is
        its parse, the whole batch's enrich and its match: never less than its own cost."""
        clock = time.thread_time
        out: list[Core | None] = [None] * len(values)
        with holding_tokens():
            parsed: list[tuple[int, dict[str, Any], ParsedArticle, float]] = []
            for i, value in enumerate(values):
                started = clock()
                try:
                    raw, article = self.parse(value, now)
                except Exception:  # run alone: dead-lettered there with its reason
                    continue
                parsed.append((i, raw, article, clock() - started))
            started = clock()
            try:
                messages = self.enrich_many([(raw, a) for _, raw, a, _ in parsed], now)
            except Exception:  # one article's bug: each runs alone, that one is dead-lettered
                return out
            enriching = clock() - started
            share = enriching / max(1, len(parsed))
            for (i, _, _, parsing), enriched in zip(parsed, messages, strict=True):
                started = clock()
                try:
                    hits = self.match(enriched)
                except Exception:
                    continue
                matching = clock() - started
                if parsing + enriching + matching <= deadline:
                    out[i] = Core(enriched, hits, (parsing, share, matching))
        return out

    def enriched(self, value: bytes, now: datetime) -> dict[str, Any]:
        """Parse and enrich, offline: raw bytes → enriched article (no rules matched)."""
        raw, parsed = self.parse(value, now)
        return self.enrich(raw, parsed, now)

    def classify(self, value: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """All stages at once, offline: raw bytes → (enriched article, alerts)."""
        now = utcnow()
        enriched = self.enriched(value, now)
        return enriched, self.alerts(enriched, self.match(enriched), now)


_WARM_UP = orjson.dumps(
    {"schema_version": 1, "source": "warm-up", "title": "بغداد", "body": "قال مسؤول 1 يناير 2024"}
)

# 700 KiB of original bytes is ~956 KB of base64: a letter stays under Kafka's 1 MB default.
DEADLETTER_MAX_VALUE_BYTES = 700 * 1024


def dead_letter(
    *,
    reason: DeadLetterReason,
    detail: str,
    stage: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    now: datetime,
) -> dict[str, Any]:
    """The dead-letter message: the original bytes, why they failed, and where they came from.

    Values over DEADLETTER_MAX_VALUE_BYTES keep only their beginning (the detail says so):
    base64 of a 1 MB message would exceed Kafka's default message size and never be delivered.
    """
    value = value or b""
    if len(value) > DEADLETTER_MAX_VALUE_BYTES:
        detail = f"value truncated to {DEADLETTER_MAX_VALUE_BYTES} of {len(value)} bytes; {detail}"
        value = value[:DEADLETTER_MAX_VALUE_BYTES]
    message = {
        "schema_version": 1,
        "reason": reason.value,
        "detail": detail[:2000],
        "stage": stage,
        "source_topic": topic,
        "partition": partition,
        "offset": offset,
        "key_b64": base64.b64encode(key).decode("ascii") if key is not None else None,
        "value_b64": base64.b64encode(value).decode("ascii"),
        "failed_at": now.isoformat(),
    }
    check_outgoing("deadletter", message)
    return message
