"""The agents: short loops that take a message, call the pipeline (pure code), send, count.

Every failure is handled here explicitly: the message goes to the dead-letter topic with its
reason, and the loop goes on (faust would ack a message whose agent raised, and lose it).
Messages are taken in batches and acknowledged only once the broker has acknowledged all
their output; sends that fail because the broker is away are retried (streams/worker/batches.py).
Agent concurrency stays 1: faust can lose messages above that (faust issue #606); scale out
with partitions and worker processes instead.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError
from faust.types import EventT

from streams import metrics
from streams.errors import DeadLetterReason, Stage
from streams.text.arabic import holding_tokens
from streams.times import utcnow
from streams.worker import observe
from streams.worker.batches import Outgoing, Step, dead_letter_step, failure_step, run_batch
from streams.worker.pipeline import Core

if TYPE_CHECKING:
    from streams.worker.context import StoryHandOff, WorkerContext

log = logging.getLogger("rasid.worker")
CORE_STAGES = (Stage.PARSE, Stage.ENRICH, Stage.MATCH)  # the order of `Core.seconds`
# A larger batch (RASID_BATCH_MAX_MESSAGES is 20; ANT's articles are ~2.6 KB) runs article
# by article: what a batch run stage by stage holds, its tokens (~30 times its raw bytes:
# 1.3-1.8 MB for 20 ANT articles), stays under ~8 MB whatever the articles' sizes.
STAGE_BY_STAGE_MAX = 64
STAGE_BY_STAGE_BYTES = 256 * 1024


def _out(topic: Any, key: bytes, value: dict[str, Any]) -> Outgoing:
    return Outgoing(topic, key, orjson.dumps(value))


def register(ctx: WorkerContext, hand_off: StoryHandOff) -> None:
    app, pipe, topics = ctx.app, ctx.pipeline, ctx.topics
    batch_max = pipe.settings.batch_max_messages
    within = pipe.settings.batch_within_seconds
    deadline_seconds = pipe.settings.article_deadline_seconds

    def too_slow(event: EventT[Any], stage: Stage, started: float) -> Step | None:
        """A dead letter if the article is past its deadline after `stage`, else None."""
        took = time.thread_time() - started
        if took <= deadline_seconds:
            return None
        detail = f"{took:.3f} s after stage {stage.value} > {deadline_seconds} s"
        return dead_letter_step(topics.deadletter, event, stage, DeadLetterReason.TOO_SLOW, detail)

    def process_one(event: EventT[Any], queued: set[str], cores: dict[int, Core]) -> Step:
        """One raw article through every stage: parse, enrich, match, story candidate (taken
        from `cores` when the batch ran them stage by stage)."""
        stage = Stage.PARSE
        started = time.thread_time()
        try:
            now = utcnow()
            core = cores.get(id(event))
            if core is not None:
                for done_stage, seconds in zip(CORE_STAGES, core.seconds, strict=True):
                    metrics.stage_passed(done_stage, seconds)
                enriched, hits = core.enriched, core.hits
            else:
                with metrics.stage(Stage.PARSE):
                    raw, parsed = pipe.parse(event.message.value, now)
                if late := too_slow(event, stage, started):
                    return late
                stage = Stage.ENRICH
                with metrics.stage(Stage.ENRICH):
                    enriched = pipe.enrich(raw, parsed, now)
                if late := too_slow(event, stage, started):
                    return late
                stage = Stage.MATCH
                with metrics.stage(Stage.MATCH):
                    hits = pipe.match(enriched)
                if late := too_slow(event, stage, started):
                    return late
            alerts: list[dict[str, Any]] = []
            if hits:
                stage = Stage.ALERT
                with metrics.stage(Stage.ALERT):
                    alerts = [a for a in pipe.alerts(enriched, hits, now) if _new(ctx, a, queued)]
            # The enriched article for other readers, and its story candidate with the new
            # hits (one alert per rule and story), packed with the batch's other candidates
            # into one message: sent and acknowledged with the batch.
            out = [_out(topics.enriched, enriched["id"].encode(), enriched)]
            item = hand_off.candidate(enriched, alerts)
        except Exception as exc:  # a bug must not stop the stream or lose the message
            return failure_step(topics.deadletter, event, stage, exc)

        def done() -> None:
            observe.article_enriched(enriched, event.message)
            hand_off.forwarded(alerts, event.message.partition)

        return Step(f"alerts:{len(alerts)}", out, done, item)

    def stage_by_stage(events: list[EventT[Any]]) -> dict[int, Core]:
        """Parse, enrich and match of a batch's articles, stage by stage (`core_many`: the
        same output for less CPU); an article it leaves out runs alone in `process_one`, where
        its failure or deadline is found and dead-lettered as before."""
        values = [event.message.value for event in events]
        try:
            cores = pipe.core_many(values, utcnow(), deadline_seconds)
        except Exception:  # never expected (it catches its own); then every article runs alone
            log.exception("stage-by-stage batch failed; its articles run one by one")
            return {}
        return {id(e): core for e, core in zip(events, cores, strict=True) if core is not None}

    def refused(event: EventT[Any], exc: BaseException) -> Step:
        """The article whose output (the enriched article, above all) Kafka refused for good."""
        reason = DeadLetterReason.PROCESSING_ERROR
        if isinstance(exc, (MessageSizeTooLargeError, RecordTooLargeError)):
            reason = DeadLetterReason.TOO_LARGE
        detail = f"output refused by Kafka: {exc!r}"
        return dead_letter_step(topics.deadletter, event, Stage.ENRICH, reason, detail)

    # The one hot stage: a batch of raw articles is processed, all its output sent, every ack
    # awaited, and only then are the batch's events acknowledged (streams/worker/batches.py):
    # at-least-once, without a broker round trip per message.
    @app.agent(topics.raw, name="rasid.articles", concurrency=1)
    async def articles(stream: Any) -> AsyncIterator[str]:
        await ctx.readiness.rules_ready.wait()  # nothing is matched before the full rule set
        async for events in stream.noack_take(batch_max, within=within):
            if ctx.emitted.stale:  # partitions were assigned: faust recovered the table since
                _reload(ctx)
            queued: set[str] = set()  # alert ids this batch sends (the table learns them after)
            # The batch's tokens are held until it is sent (~1.5 MB for 20 articles): its
            # story candidates, built after every article was enriched, read them too.
            by_stage = 2 <= len(events) <= STAGE_BY_STAGE_MAX and (
                sum(len(e.message.value or b"") for e in events) <= STAGE_BY_STAGE_BYTES
            )
            with holding_tokens() if by_stage else contextlib.nullcontext():
                cores = stage_by_stage(events) if by_stage else {}
                handle = functools.partial(process_one, queued=queued, cores=cores)
                outcomes = await run_batch(
                    stream, events, handle, refused, "articles", hand_off.packer
                )
            for outcome in outcomes:
                yield outcome


def _reload(ctx: WorkerContext) -> None:
    started = time.perf_counter()
    ctx.emitted.reload(utcnow().timestamp())
    log.info(
        "emitted ids reloaded",
        extra={
            "ids": len(ctx.emitted),
            "shards": len(ctx.emitted.shards),
            "seconds": round(time.perf_counter() - started, 3),
        },
    )


def _new(ctx: WorkerContext, alert: dict[str, Any], queued: set[str]) -> bool:
    """False (and counted) if this alert id was emitted before or is already in the batch."""
    if alert["id"] in queued or ctx.emitted.seen(alert["id"]):
        metrics.ALERTS_SUPPRESSED.inc()
        return False
    queued.add(alert["id"])
    return True
