"""The trends stage of the worker: burst detection (streams/trends/, docs/trends.md) on what the
story agent decides, in the same agent.

After a candidate's story assignment and its alerts' acks (`observe`, from story_stage.process),
the article is fed to the detector under its region/topic keys (a new story; an outlet joining
one) and under `rule:<id>` for each alert that opened or gained an outlet, the same events as
`rasid trends` makes offline (streams/trends/offline.py `article_events`). The trend records
it causes go to `<prefix>.trends`, keyed by trend id, and are acknowledged by the broker before
the detector's changed state is written to the changelog-backed table "trends" (`flush`, once
per candidate message): a crash in between re-sends the same ids (at-least-once; a record id is
a function of key, window, window start and level). The table has one partition, like the story
tables, so that one detector sees every article; after a partition assignment the detector is
rebuilt from it (`from_state` continues exactly), never re-warmed. A flush's changed keys go
into one table record, a journal segment (streams/trends/journal.py), not one record per key:
with a large rule pack that was ~8 changelog messages per article.

A replayed candidate (re-delivered after a crash, its story state already written) must count
nothing: its story assignment says "joined", so whether its outlet is new to the story is read
from the story's copies (`new_outlet`), and a key that already counted this outlet on this story
is not fed again (`TrendDetector.reported`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from streams import metrics
from streams.errors import Stage
from streams.kafka import names
from streams.kafka.names import CHANGELOG
from streams.settings import Settings
from streams.stories.cluster import Assignment
from streams.stories.features import StoryFeatures
from streams.trends.detector import TrendDetector, TrendEvent, TrendParams, Window
from streams.trends.journal import Journal
from streams.trends.offline import article_events, terms_of
from streams.validation import check_outgoing
from streams.worker.batches import Outgoing, deliver

if TYPE_CHECKING:
    from streams.worker.context import WorkerContext

log = logging.getLogger("rasid.trends")

Fed = list[tuple[TrendEvent, tuple[str, ...]]]


def window_name(minutes: int) -> str:
    """15 → "15m", 60 → "1h", 1440 → "1d": the `window` of a record."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


MAX_CELLS = 576  # buckets in the longest window, per key (two lists of them): 2 days of 5 min


def trend_params(settings: Settings) -> TrendParams:
    """The one place RASID_TRENDS_* become detector parameters (ValueError if inconsistent)."""
    minutes = sorted(set(settings.trends_windows_minutes))
    if minutes[-1] // settings.trends_bucket_minutes > MAX_CELLS:
        raise ValueError(f"the longest trend window holds more than {MAX_CELLS} buckets")
    windows = tuple(Window(window_name(m), m * 60) for m in minutes)
    return TrendParams(
        windows=windows,
        bucket_seconds=settings.trends_bucket_minutes * 60,
        grace_seconds=settings.trends_grace_minutes * 60,
        outlet_weight=settings.trends_outlet_weight,
        half_life_hours=settings.trends_half_life_hours,
        key_warmup_hours=settings.trends_key_warmup_hours,
        global_warmup_hours=settings.trends_warmup_hours,
        global_warmup_events=settings.trends_warmup_events,
        max_keys=settings.trends_max_keys,
    )


@dataclass
class TrendStage:
    topic: Any  # <prefix>.trends (faust topic, raw bytes)
    table: Any  # faust Table "trends": journal segments (bytes; see streams/trends/journal.py)
    params: TrendParams
    detector: TrendDetector
    journal: Journal = field(default_factory=Journal)  # what the table's segments hold
    stale: bool = True  # rebuild the detector from the table before the next article
    late: int = 0  # the detector's late events already counted in the metric


def declare(app: Any, settings: Settings) -> TrendStage | None:
    """The trends topic and table on the worker's app; None when RASID_TRENDS_ENABLED is off."""
    if not settings.trends_enabled:
        return None
    params = trend_params(settings)
    return TrendStage(
        topic=app.topic(
            names.trends(settings),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.topic_partitions,
            replicas=settings.topic_replication,
        ),
        table=app.Table(
            "trends",
            default=None,
            key_type=str,
            value_type=bytes,  # raw: the detector's own JSON records
            partitions=1,  # one detector sees every article (the candidates topic has one)
            extra_topic_configs=CHANGELOG,
        ),
        params=params,
        detector=TrendDetector(params),
        journal=Journal(ratio=settings.trends_journal_ratio),  # its garbage bound
    )


def register(ctx: WorkerContext) -> None:
    """Drop the detector when partitions are assigned: the agent rebuilds it from the table
    (after the table's recovery) before its next article."""
    stage = ctx.trends
    if stage is None:
        return

    def stale(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        stage.detector, stage.stale = TrendDetector(stage.params), True

    ctx.app.on_partitions_assigned.connect(stale)


def refresh(stage: TrendStage) -> None:
    """The detector from the table, if it may be stale (from the agent)."""
    if not stage.stale:
        return
    started = time.perf_counter()
    stage.journal = Journal(ratio=stage.journal.ratio)  # RASID_TRENDS_JOURNAL_RATIO kept
    state = stage.journal.restore(stage.table.items())
    stage.detector = TrendDetector.from_state(state, stage.params)
    stage.late = stage.detector.stats()["late"]
    stage.stale = False
    metrics.TREND_KEYS.set(stage.detector.stats()["keys"])
    log.info(
        "trend detector restored",
        extra={
            "keys": len(state),
            "watermark": stage.detector.watermark,
            **stage.journal.stats(),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )


# ------------------------------------------------------------------ pure: what is fed
def event_time(cand: dict[str, Any]) -> float:
    """The candidate's event time (published, else fetched, else ingested), never later than
    when it was ingested: a page dated in the future must not move the watermark ahead."""
    at = datetime.fromisoformat(cand["at"]).timestamp()
    return min(datetime.fromisoformat(cand["event_at"]).timestamp(), at)


def new_outlet(story: dict[str, Any] | None, assignment: Assignment, source: str) -> bool:
    """Whether an article that joined a story brought an outlet the story did not have: its
    (source, fingerprint) pair is the story's last, and the only one of its source. (A story
    remembers its last 200 pairs: past that, an outlet's earlier ones may be forgotten.)"""
    if assignment.is_new or assignment.copy or assignment.revised or not story:
        return False
    copies = story.get("copies") or []
    if not copies or copies[-1][0] != source:
        return False
    return sum(1 for s, _ in copies if s == source) == 1


def rule_changes(
    alerts: list[dict[str, Any]], article_id: str, source: str
) -> list[tuple[str, bool]]:
    """(rule, opened) for each alert just sent that opened on its story (status new) or gained
    the article's outlet (the article is its last, and the only one of its source)."""
    out = []
    for alert in alerts:
        if alert["status"] == "new":
            out.append((alert["rule"], True))
            continue
        articles = alert["articles"]
        if (
            articles
            and articles[-1]["id"] == article_id
            and sum(1 for a in articles if a["source"] == source) == 1
        ):
            out.append((alert["rule"], False))
    return out


def fed(
    cand: dict[str, Any],
    features: StoryFeatures,
    assignment: Assignment,
    story: dict[str, Any] | None,
    alerts: list[dict[str, Any]],
    params: TrendParams,
) -> Fed:
    """What the detector is fed for one candidate (decoded as story_stage._decode does:
    versions 1 and 2 have no title, regions or topics, and count only under their rules)."""
    outlet = new_outlet(story, assignment, cand["source"])
    return fed_with(cand, features, assignment, outlet, alerts, params)


def fed_with(
    cand: dict[str, Any],
    features: StoryFeatures,
    assignment: Assignment,
    outlet_new: bool,
    alerts: list[dict[str, Any]],
    params: TrendParams,
) -> Fed:
    """`fed`, given whether the article brought its story a new outlet (`new_outlet`)."""
    return article_events(
        at=event_time(cand),
        source=cand["source"],
        headline=cand["title"],
        terms=terms_of(features),
        regions=cand["regions"],
        topics=cand["topics"],
        assignment=assignment,
        new_outlet=outlet_new,
        rules=rule_changes(alerts, cand["article_id"], cand["source"]),
        params=params,
    )


def detect(detector: TrendDetector, at: float, events: Fed) -> list[dict[str, Any]]:
    """Feed one article; the records it causes. A key that already counted this outlet on
    this story (a replayed candidate) is left out."""
    detector.advance(at)
    records: list[dict[str, Any]] = []
    for event, keys in events:
        fresh = detector.unreported(keys, event.story_id, event.source)
        if fresh:
            records += detector.observe_keys(event, fresh)
    return records


TITLE_CHARS = 300  # trend.v2 `rule_title`, `rule_title_en`


def with_rule_titles(
    records: list[dict[str, Any]], alerts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A rule's record carries the rule's titles (trend.v2) from the alert that fed its key:
    the console names the rule without having loaded one of its alerts."""
    by_rule = {a["rule"]: a for a in alerts}
    for record in records:
        alert = by_rule.get(record.get("rule"))
        if alert is None:
            continue
        for name in ("rule_title", "rule_title_en"):
            title = alert.get(name)
            if isinstance(title, str) and title:
                record[name] = title[:TITLE_CHARS]
    return records


# ------------------------------------------------------------------ the agent's calls
@dataclass(frozen=True, slots=True)
class Pending:
    """A candidate for the detector, taken right after its story assignment (whether its
    outlet is new to the story is read then: a later candidate of the same story message may
    add copies before this one is fed, once its alerts are acknowledged)."""

    cand: dict[str, Any]
    features: StoryFeatures
    assignment: Assignment
    outlet_new: bool


def pending(
    ctx: WorkerContext, cand: dict[str, Any], features: StoryFeatures, assignment: Assignment
) -> Pending | None:
    """The candidate as the detector will take it (`observe_pending`); None without trends."""
    if ctx.trends is None:
        return None
    story = ctx.stories.stories.get(assignment.story_id)
    return Pending(cand, features, assignment, new_outlet(story, assignment, cand["source"]))


async def observe(
    ctx: WorkerContext,
    cand: dict[str, Any],
    features: StoryFeatures,
    assignment: Assignment,
    alerts: list[dict[str, Any]],
) -> int:
    """One candidate after its story assignment and its alerts' acks: its trend records sent
    and acknowledged (their state is written by `flush`). Returns the records sent."""
    return await observe_pending(ctx, pending(ctx, cand, features, assignment), alerts)


async def observe_pending(
    ctx: WorkerContext, taken: Pending | None, alerts: list[dict[str, Any]]
) -> int:
    """`observe` of a candidate taken by `pending` (after its alerts' acks)."""
    stage = ctx.trends
    if stage is None or taken is None:
        return 0
    cand = taken.cand
    with metrics.stage(Stage.TREND):
        refresh(stage)
        events = fed_with(
            cand, taken.features, taken.assignment, taken.outlet_new, alerts, stage.params
        )
        records = with_rule_titles(detect(stage.detector, event_time(cand), events), alerts)
    if not records:
        return 0
    # The detector has already raised these keys' levels in memory; what is flushed to the
    # table must not say a record went out that did not: a record that cannot be sent
    # (refused for good, or not even built) has its level change retracted, so the key's
    # next event re-judges it and sends it then. (Transient failures are retried by deliver.)
    try:
        out = []
        for record in records:
            check_outgoing("trend", record)
            out.append(Outgoing(stage.topic, record["id"].encode(), orjson.dumps(record)))
        refused = await deliver(out)
    except BaseException:
        stage.detector.retract(records)
        raise
    if refused:
        ids = {o.key for o in refused}
        stage.detector.retract([r for r in records if r["id"].encode() in ids])
        raise RuntimeError(f"trend record refused by Kafka: {refused[0].error!r}")
    for record in records:
        metrics.TRENDS.labels(level=record["level"], kind=record["kind"]).inc()
        log.info(
            "trend",
            extra={
                "trend_id": record["id"],
                "key": record["key"],
                "level": record["level"],
                "window": record["window"],
                "count": record["count"],
                "expected": record["expected"],
            },
        )
    return len(records)


def flush(ctx: WorkerContext) -> int:
    """Write the detector's changed keys to the table (from the agent, the event current),
    after the records of the message's candidates were acknowledged: one journal segment
    (more past 512 KB), and the segments it makes obsolete deleted. Returns the keys written."""
    stage = ctx.trends
    if stage is None or stage.stale:
        return 0
    table = stage.table
    changes = stage.detector.take_changes()
    for key, value in stage.journal.write(changes):
        if value is not None:
            table[key] = value
        elif table.get(key) is not None:
            del table[key]  # a tombstone
    stats = stage.detector.stats()
    metrics.TREND_KEYS.set(stats["keys"])
    if stats["late"] > stage.late:
        metrics.TREND_LATE.inc(stats["late"] - stage.late)
        stage.late = stats["late"]
    return len(changes)
