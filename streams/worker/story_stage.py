"""The story stage of the worker: one alert per rule and story instead of one per article.

Design (docs/subscribers.md, "Story grouping"): the match agent runs on every partition of the
enriched topic (keyed by article id) and sends each article that fired rules, with its MinHash
signature, to `<alerts>.stories`, a topic with ONE partition. The `rasid.stories` agent consumes
it and owns two changelog-backed tables with one partition (story → state, alert id → current
alert) and an in-memory LSH index (band → story), rebuilt from the stories after every
partition assignment. A story spans articles with unrelated keys, so a lookup by signature
needs all bands in one place; one partition gives that without a two-phase protocol across
partitions. Its limit: story assignment runs in one process at a time (faust moves the
partition on failure). That stage only sees articles that fired a rule (signatures are
computed by the parallel match agents). The band index is not a table because every article
touches 64 bands: as changelog messages they cost ~14 ms per alerting article and flooded
faust's producer buffer (docs/subscribers.md).
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from faust.streams import _current_event
from faust.types import EventT

from streams import metrics
from streams.errors import BadInput, DeadLetterReason, Stage
from streams.ids import alert_id
from streams.kafka import names as topics
from streams.settings import Settings
from streams.stories.cluster import (
    BandKey,
    StoryParams,
    assign_story,
    band_index,
    candidate_message,
    expired_keys,
    minhash,
    params_tag,
    story_alert,
)
from streams.times import utcnow
from streams.validation import check_outgoing, decode_valid, is_valid
from streams.worker import observe
from streams.worker.batches import Outgoing, deliver, failure_step

if TYPE_CHECKING:
    from streams.worker.context import WorkerContext

log = logging.getLogger("rasid.stories")


@dataclass
class StoryStage:
    topic: Any
    stories: Any  # faust Table: story id → {"sigs", "articles", "sources", "first_seen", …}
    alerts: Any  # faust Table: alert id → {"alert": current alert.v2, "at": seconds}
    params: StoryParams
    escalate_at: int
    last_prune: float = 0.0
    # band key → {"story", "at"}: in memory, rebuilt from `stories` (core.stories.band_index)
    # whenever partitions were assigned, since the stories table may have moved in between.
    bands: dict[BandKey, dict[str, Any]] = field(default_factory=dict)
    bands_stale: bool = True


def refresh_bands(stage: StoryStage, now: float) -> None:
    """Rebuild the band index from the stories table if it may be out of date."""
    if not stage.bands_stale:
        return
    started = time.perf_counter()
    stage.bands = band_index(stage.stories, stage.params, now - stage.params.window_seconds)
    stage.bands_stale = False
    log.info(
        "story band index rebuilt",
        extra={
            "stories": len(stage.stories),
            "bands": len(stage.bands),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )


def params_from(settings: Settings) -> StoryParams:
    return StoryParams(
        window_seconds=settings.story_window_hours * 3600.0,
        shingle_size=settings.story_shingle_size,
        bands=settings.story_bands,
        rows=settings.story_rows,
        threshold=settings.story_threshold,
    )


def outgoing(
    stage: StoryStage, enriched: dict[str, Any], hits: list[dict[str, Any]]
) -> list[Outgoing]:
    """Match-agent side: the article's new hits (already filtered against the emitted table),
    with its signature, as one message to the story stage (none if there are no hits)."""
    if not hits:
        return []
    message = candidate_message(enriched, hits, stage.params)
    check_outgoing("story-candidate", message)
    return [Outgoing(stage.topic, enriched["id"].encode(), orjson.dumps(message))]


def forwarded(emitted: Any, hits: list[dict[str, Any]]) -> None:
    """After the broker acknowledged the candidate: remember its hit ids, so a re-published or
    replayed article costs the single-partition stage nothing. A crash before this forwards it
    again, and the story stage finds the article already in its alert (no fake update)."""
    for hit in hits:
        emitted[hit["id"]] = hit["alerted_at"]


def _decode(value: bytes | None) -> dict[str, Any]:
    message = decode_valid("story-candidate", value, "story candidate")
    for hit in message["hits"]:
        if not is_valid("alert-hit", hit):
            raise BadInput(DeadLetterReason.SCHEMA_VIOLATION, "a hit is not a valid alert.v1")
    return dict(message)


async def process(ctx: WorkerContext, stage: StoryStage, value: bytes | None) -> int:
    """One candidate: assign its story, open or update one alert per hit; return alerts sent."""
    cand = _decode(value)
    at = datetime.fromisoformat(cand["at"]).timestamp()
    sig = cand["signature"]
    if cand["signature_params"] != params_tag(stage.params) or len(sig) != stage.params.num_perm:
        # Made under other settings (a rolling change): not comparable, so its own story.
        log.warning("signature parameters differ", extra={"article_id": cand["article_id"]})
        sig = list(minhash({cand["article_id"]}, stage.params.num_perm))
    assignment = assign_story(
        cand["article_id"],
        cand["source"],
        sig,
        at,
        bands=stage.bands,
        stories=stage.stories,
        params=stage.params,
    )
    metrics.STORY_ASSIGNMENTS.labels(outcome="new" if assignment.is_new else "joined").inc()
    # One alert per rule (each its own id): all sent at once, then every ack awaited. The
    # alert state is stored only after its ack, so a crash in between re-sends, never skips.
    sending = []
    for hit in cand["hits"]:
        aid = alert_id(hit["rule"], hit["rule_version"], assignment.story_id)
        previous = stage.alerts.get(aid)
        alert = story_alert(
            hit,
            assignment.story_id,
            previous["alert"] if previous else None,
            now=_alert_time(cand["at"], previous),
            escalate_at=stage.escalate_at,
        )
        if alert is None:  # this article is already in the alert: a replay, not news
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


async def _dead_letter(ctx: WorkerContext, event: EventT[Any], exc: Exception) -> str:
    step = failure_step(ctx.topics.deadletter, event, Stage.ALERT, exc)
    await deliver(step.out)
    if step.done is not None:
        step.done()
    return step.outcome


PRUNE_EVERY = 600.0  # seconds


def prune(stage: StoryStage, now: float) -> int:
    """Forget bands, stories and alerts older than the window; the tables' tombstones keep
    their changelogs small. Run from the agent (faust only lets a stream's event modify a table),
    at most every PRUNE_EVERY seconds. Returns how many keys were deleted."""
    if now - stage.last_prune < PRUNE_EVERY:
        return 0
    stage.last_prune = now
    horizon = now - stage.params.window_seconds
    deleted = 0
    for table, stamp in ((stage.bands, "at"), (stage.stories, "last_seen"), (stage.alerts, "at")):
        for key in expired_keys(table, stamp, horizon):
            del table[key]
            deleted += 1
    return deleted


def declare(app: Any, settings: Settings) -> StoryStage:
    """The story topic and tables on the worker's app (the agent comes with `register`)."""
    table_args: dict[str, Any] = {"default": None, "key_type": str, "partitions": 1}
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
        stories=app.Table("stories", **table_args),
        alerts=app.Table("story-alerts", **table_args),
        params=params_from(settings),
        escalate_at=settings.story_escalate_sources,
    )


def register(ctx: WorkerContext) -> None:
    """The story agent, and the band index's reset on partition assignment."""
    app, settings, stage = ctx.app, ctx.settings, ctx.stories

    def bands_stale(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Rebuilt by the agent, after the tables' recovery; dropped now so a worker that lost
        # the story partition does not keep the index in memory.
        stage.bands, stage.bands_stale = {}, True

    app.on_partitions_assigned.connect(bands_stale)

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
                    refresh_bands(stage, now)
                    prune(stage, now)
                    outcome = f"alerts:{await process(ctx, stage, event.message.value)}"
                except Exception as exc:  # bad input or a bug: dead-letter it, keep going
                    outcome = await _dead_letter(ctx, event, exc)
                finally:
                    _current_event.reset(token)
                await stream.ack(event)
                yield outcome
