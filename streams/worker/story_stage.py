"""The story stage of the worker: every article clustered into a story, and one alert per rule
and story instead of one per article.

Design (docs/subscribers.md, "Story grouping"): the hot agent sends every article, with its story
features (streams/stories/features.py) and its new hits, to `<alerts>.stories`, a topic with ONE
partition. The `rasid.stories` agent consumes it and owns three changelog-backed tables with one
partition (story → state, alert id → current alert, document-frequency snapshots) and an
in-memory inverted index (term → stories), rebuilt from the stories after every partition
assignment. A story spans articles with unrelated keys, so the lookup needs every live story in
one place; one partition gives that without a two-phase protocol across partitions. Its limit:
story assignment runs in one process at a time (faust moves the partition on failure), at the
cost measured by bench/story_stage.py; docs/subscribers.md says how it would be split further.
"""

from __future__ import annotations

import heapq
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from sys import intern
from typing import TYPE_CHECKING, Any

import orjson
from faust.streams import _current_event
from faust.types import EventT

from streams import metrics
from streams.errors import BadInput, DeadLetterReason, Stage
from streams.ids import alert_id
from streams.kafka import names as topics
from streams.kafka.names import CHANGELOG
from streams.settings import Settings
from streams.stories.cluster import (
    StoryIndex,
    StoryParams,
    assign_story,
    expired_keys,
    story_alert,
)
from streams.stories.docfreq import DocFreq
from streams.stories.features import StoryFeatures, places_of, story_features
from streams.times import utcnow
from streams.validation import check_outgoing, check_valid, decode_valid, is_valid
from streams.worker import observe, trend_stage
from streams.worker.batches import Outgoing, deliver, failure_step
from streams.worker.emitted import EmittedIds
from streams.worker.story_store import StoryStore

if TYPE_CHECKING:
    from streams.worker.context import WorkerContext

log = logging.getLogger("rasid.stories")


@dataclass
class StoryStage:
    topic: Any
    stories: StoryStore  # story id → state; the faust table "stories" behind it

    alerts: Any  # faust Table: alert id → {"alert": current alert (v3; v2 from the previous release), "at": seconds}
    docfreq: Any  # faust Table: "df-NN" → a shard of the document-frequency snapshot
    params: StoryParams
    escalate_at: int
    max_live: int  # live stories held; beyond it the least recently reported close early
    last_prune: float = 0.0
    last_snapshot: float = 0.0
    # In memory, rebuilt from the tables whenever partitions were assigned (the tables may have
    # moved in between): the inverted index (term → stories) and the document frequencies.
    index: StoryIndex = field(default_factory=StoryIndex)
    df: DocFreq = field(default_factory=DocFreq)
    stale: bool = True


def refresh(stage: StoryStage, now: float) -> None:
    """Rebuild the index and the document frequencies from the tables if they may be stale."""
    if not stage.stale:
        return
    started = time.perf_counter()
    stage.index = StoryIndex.build(stage.stories, stage.params, now - stage.params.window_seconds)
    stage.df = DocFreq.load(dict(stage.docfreq.items()))
    stage.stale = False
    log.info(
        "story index rebuilt",
        extra={
            "stories": len(stage.stories),
            "terms": len(stage.index.postings),
            "documents": stage.df.docs,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )


SNAPSHOT_EVERY = 30.0  # seconds between document-frequency snapshots


def snapshot(stage: StoryStage, now: float) -> bool:
    """Write the document frequencies to their table (from the agent: table writes need the
    current event), at most every SNAPSHOT_EVERY seconds."""
    if now - stage.last_snapshot < SNAPSHOT_EVERY:
        return False
    stage.last_snapshot = now
    for key, shard in stage.df.shards().items():
        stage.docfreq[key] = shard
    return True


def candidate(enriched: dict[str, Any], hits: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    """Hot-stage side: every article, with its story features and its new hits (already
    filtered against the emitted table), as a v3 candidate (key, bytes); the hot stage packs
    the candidates of a batch into one v4 message (streams/worker/agents.py). The features come
    from the tokens the classifiers made of the same title and body (no second normalisation).
    Not schema-checked here: the story stage checks every candidate on its way in."""
    features = story_features(enriched["title"], enriched["body"], places_of(enriched))
    message = {
        "schema_version": 3,
        "article_id": enriched["id"],
        "revision": enriched.get("revision", 1),
        "source": enriched["source"],
        "at": enriched["ingested_at"],
        "event_at": enriched.get("published_at")
        or enriched.get("fetched_at")
        or enriched["ingested_at"],
        "title": enriched["title"][:300],
        "regions": [r["code"] for r in enriched["regions"]][:16],
        "topics": [t["code"] for t in enriched["topics"]][:16],
        "features": features.as_message(),
        "hits": hits,
    }
    return enriched["id"].encode(), orjson.dumps(message)


def forwarded(emitted: EmittedIds, hits: list[dict[str, Any]], partition: int) -> None:
    """After the broker acknowledged the candidate (with its event current): remember its hit
    ids, so a re-published or replayed article costs the single-partition stage nothing. A crash
    before the ids are written forwards them again, and the story stage finds the article
    already in its alert (no fake update)."""
    now = utcnow().timestamp()
    if hits:
        emitted.remember((hit["id"] for hit in hits), partition, now)
    emitted.flush(partition, now)


NO_FEATURES = StoryFeatures({}, {}, {}, (), (), "-")


BATCH_VERSION = 4  # story-candidate.v4: the candidates of one hot-stage batch
BATCH_HEAD = b'{"schema_version":4,"candidates":['  # + candidates joined by "," + BATCH_TAIL
BATCH_TAIL = b"]}"
_OLDER = {1: "story-candidate-v1", 2: "story-candidate-v2"}


def candidates(value: bytes | None) -> tuple[list[Any], bool]:
    """(the candidates of a message, decoded but each still to be checked on its own, whether
    it is a batch): a version-4 batch, or one candidate of version 1-3 (an earlier release).
    BadInput if the message itself is unusable."""
    try:
        message = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise BadInput(DeadLetterReason.INVALID_JSON, str(exc)) from None
    if isinstance(message, dict) and message.get("schema_version") == BATCH_VERSION:
        batch = check_valid("story-candidates", message, "story candidate batch")
        return list(batch["candidates"]), True
    return [message], False


def _decode(value: Any) -> tuple[dict[str, Any], StoryFeatures]:
    """A candidate (encoded, or one decoded item of a batch) of version 3, 2, or 1 (a worker of
    an earlier release, during a rolling upgrade: its MinHash signature is not comparable, so
    the article opens a story of its own and its alerts still go out)."""
    if isinstance(value, bytes):
        message = decode_valid("story-candidate", value, "story candidate", older=_OLDER)
    else:
        message = check_valid("story-candidate", value, "story candidate", older=_OLDER)
    for hit in message["hits"]:
        if not is_valid("alert-hit", hit):
            raise BadInput(DeadLetterReason.SCHEMA_VIOLATION, "a hit is not a valid alert.v1")
    # versions 1 and 2: first versions only, and nothing for the trends stage to count by
    cand = {"revision": 1, "event_at": message["at"], "title": "", "regions": [], "topics": []}
    cand.update(message)
    # one string per outlet, shared by the stories' sources and copies (sys.intern)
    cand["source"] = intern(message["source"])
    if message["schema_version"] == 1:
        return cand, NO_FEATURES
    return cand, StoryFeatures.from_message(message["features"])


async def process(ctx: WorkerContext, stage: StoryStage, value: Any) -> int:
    """One article (one candidate: its bytes, or decoded, e.g. an item of a batch): assign its
    story; open or update one alert per hit; return alerts sent."""
    cand, features = _decode(value)
    at = datetime.fromisoformat(cand["at"]).timestamp()
    with metrics.stage(Stage.STORY):
        assignment = assign_story(
            cand["article_id"],
            cand["source"],
            features,
            at,
            stories=stage.stories,
            index=stage.index,
            df=stage.df,
            params=stage.params,
            revision=cand["revision"],
        )
    outcome = (
        "copy"
        if assignment.copy
        else "revised"
        if assignment.revised
        else "new"
        if assignment.is_new
        else "joined"
    )
    metrics.STORY_ASSIGNMENTS.labels(outcome=outcome).inc()
    if cand["hits"]:
        stage.stories.keep(assignment.story_id)  # an alert must find its story after a restart
    # One alert per rule (each its own id): all sent at once, then every ack awaited. The
    # alert state is stored only after its ack, so a crash in between re-sends, never skips.
    sending = []
    for hit in cand["hits"]:
        aid = alert_id(hit["rule"], hit["rule_version"], assignment.story_id)
        previous = stage.alerts.get(aid)
        if assignment.copy and previous is not None:
            # the same text from the same outlet again: no revision, no webhook (a rule that
            # has no alert on the story yet, e.g. a new rule version, still opens one)
            metrics.ALERTS_SUPPRESSED.inc()
            continue
        alert = story_alert(
            hit,
            assignment.story_id,
            previous["alert"] if previous else None,
            now=_alert_time(cand["at"], previous),
            escalate_at=stage.escalate_at,
            revision=cand["revision"],
        )
        if alert is None:  # this article (this revision) is already in the alert: a replay
            metrics.ALERTS_SUPPRESSED.inc()
            continue
        check_outgoing("alert", alert)
        sending.append((aid, alert, Outgoing(ctx.topics.alerts, aid.encode(), orjson.dumps(alert))))
    # Transient broker failures are retried until they succeed (delivery.deliver); only a
    # message the broker refuses for good (e.g. too large) fails, and the candidate with it.
    refused = await deliver([out for _, _, out in sending])
    if refused:
        raise RuntimeError(f"alert refused by Kafka: {refused[0].error!r}")
    for aid, alert, _ in sending:
        stage.alerts[aid] = {"alert": alert, "at": at}
        observe.alert_sent(alert)
        metrics.ALERTS.labels(rule=alert["rule"], severity=alert["severity"]).inc()
        metrics.STORY_ALERTS.labels(status=alert["status"]).inc()
        log.info(
            "alert",
            extra={
                "alert_id": aid,
                "status": alert["status"],
                "revision": alert["revision"],
                "story_id": assignment.story_id,
                "rule": alert["rule"],
                "article_id": cand["article_id"],
            },
        )
    # burst detection: the article, and the alerts that opened or gained its outlet
    await trend_stage.observe(ctx, cand, features, assignment, [a for _, a, _ in sending])
    return len(sending)


def _alert_time(at: str, previous: dict[str, Any] | None) -> str:
    """The alert's `alerted_at`/`updated_at`: the candidate's time (the article's ingested_at),
    never the wall clock, so a candidate processed again after a crash between the alert's ack
    and the table write yields the same bytes. Never before the previous revision's time:
    candidates from different raw partitions can arrive slightly out of order."""
    if previous is not None:
        before = previous["alert"]["updated_at"]
        if datetime.fromisoformat(before) > datetime.fromisoformat(at):
            return str(before)
    return at


async def process_message(ctx: WorkerContext, stage: StoryStage, event: EventT[Any]) -> str:
    """Every candidate of one message, in order, each through `process` (its alerts
    acknowledged by the broker before the next one starts). In a batch, a candidate that fails
    is dead-lettered on its own (its bytes, with the batch's offset) and the others go on; a
    message of one candidate (versions 1-3) that fails raises (the caller dead-letters it)."""
    items, batched = candidates(event.message.value)
    if not batched:
        return f"alerts:{await process(ctx, stage, items[0])}"
    sent, failed = 0, []
    for i, item in enumerate(items):
        try:
            sent += await process(ctx, stage, item)
        except Exception as exc:  # bad candidate or a bug: dead-letter it alone, keep going
            where = f"candidate {i + 1} of {len(items)}: "
            failed.append(await _dead_letter(ctx, event, exc, orjson.dumps(item), where))
    return " ".join([f"alerts:{sent}", *failed])


async def _dead_letter(
    ctx: WorkerContext,
    event: EventT[Any],
    exc: Exception,
    value: bytes | None = None,
    where: str = "",
) -> str:
    step = failure_step(ctx.topics.deadletter, event, Stage.ALERT, exc, value=value, where=where)
    await deliver(step.out)
    if step.done is not None:
        step.done()
    return step.outcome


PRUNE_EVERY = 600.0  # seconds


def prune(stage: StoryStage, now: float) -> int:
    """Forget stories and alerts older than the window, and the index's postings of closed
    stories; the tables' tombstones keep their changelogs small. Run from the agent (faust
    only lets a stream's event modify a table), at most every PRUNE_EVERY seconds; and, as
    soon as more than `max_live` + 10% stories are live, close the least recently reported
    ones down to `max_live` - 10% (memory stays bounded whatever the rate; closing in chunks
    keeps the sort rare). Returns how many keys were deleted."""
    deleted = 0
    if now - stage.last_prune >= PRUNE_EVERY:
        stage.last_prune = now
        horizon = now - stage.params.window_seconds
        for key in expired_keys(stage.alerts, "at", horizon):
            del stage.alerts[key]
            deleted += 1
        deleted += _close(stage, horizon, "window")
    slack = stage.max_live // 10
    if len(stage.index.seen) > stage.max_live + slack:
        # the last_seen of the (max_live - slack)-th most recent story: older ones close
        cutoff = heapq.nlargest(stage.max_live - slack, stage.index.seen.values())[-1]
        deleted += _close(stage, cutoff, "capacity")
    metrics.STORIES_LIVE.set(len(stage.index.seen))
    return deleted


def _close(stage: StoryStage, horizon: float, reason: str) -> int:
    """Close the stories last reported before `horizon` (their alerts stay until the window
    ends: a later report opens a new story, and with it a new alert)."""
    keys = expired_keys(stage.stories, "last_seen", horizon)
    for key in keys:
        del stage.stories[key]
    metrics.STORIES_CLOSED.labels(reason=reason).inc(len(keys))
    return len(keys) + stage.index.forget(horizon)


def declare(app: Any, settings: Settings) -> StoryStage:
    """The story topic and tables on the worker's app (the agent comes with `register`)."""
    table_args: dict[str, Any] = {
        "default": None,
        "key_type": str,
        "partitions": 1,
        "extra_topic_configs": CHANGELOG,  # compacted hourly, not weekly
    }
    return StoryStage(
        # internal: faust creates it, with one partition, before it subscribes.
        topic=app.topic(
            topics.story_candidates(settings),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=1,
            replicas=settings.topic_replication,
            internal=True,
        ),
        stories=StoryStore(app.Table("stories", **table_args)),
        alerts=app.Table("story-alerts", **table_args),
        docfreq=app.Table("story-docfreq", **table_args),
        params=StoryParams.from_settings(settings),
        escalate_at=settings.story_escalate_sources,
        max_live=settings.story_max_live,
    )


def register(ctx: WorkerContext) -> None:
    """The story agent, and the index's reset on partition assignment."""
    app, settings, stage = ctx.app, ctx.settings, ctx.stories

    def stale(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Rebuilt by the agent, after the tables' recovery; dropped now so a worker that lost
        # the story partition does not keep the index in memory.
        stage.index, stage.df, stage.stale = StoryIndex(), DocFreq(), True
        stage.stories.forget_memory()

    app.on_partitions_assigned.connect(stale)

    @app.agent(stage.topic, name="rasid.stories", concurrency=1)
    async def assign(stream: Any) -> Any:
        # Manual acks: an event is acknowledged only after its alerts were acknowledged by the
        # broker. (faust's auto-ack would ack the in-flight event when the agent is stopped
        # mid-way, e.g. on SIGTERM, and lose its alerts.)
        async for events in stream.noack_take(
            settings.batch_max_messages, within=settings.batch_within_seconds
        ):
            for event in events:
                # table writes find their changelog partition through the current event
                token = _current_event.set(weakref.ref(event))
                try:
                    now = utcnow().timestamp()
                    refresh(stage, now)
                    prune(stage, now)
                    outcome = await process_message(ctx, stage, event)
                    trend_stage.flush(ctx)  # the detector's state, after its records' acks
                    snapshot(stage, now)
                except Exception as exc:  # bad input or a bug: dead-letter it, keep going
                    outcome = await _dead_letter(ctx, event, exc)
                finally:
                    _current_event.reset(token)
                await stream.ack(event)
                yield outcome
