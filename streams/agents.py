"""The agents: short loops that take a message, call the pipeline (pure code), send, count.

Every failure is handled here explicitly: the message goes to the dead-letter topic with its
reason, and the loop goes on (faust would ack a message whose agent raised, and lose it).
Agent concurrency stays 1: faust can lose messages above that (faust issue #606); scale out
with partitions and worker processes instead.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from faust.types import EventT

from . import metrics
from .errors import BadInput, DeadLetterReason, Stage
from .pipeline import dead_letter, utcnow

if TYPE_CHECKING:
    from .app import Rasid

log = logging.getLogger("rasid.worker")


async def _send(topic: Any, key: bytes, value: dict[str, Any]) -> None:
    """Send and wait for the broker's ack: only then may faust commit the input offset."""
    fut = await topic.send(key=key, value=orjson.dumps(value))
    await fut


async def _dead_letter(
    rasid: Rasid, event: EventT[Any], stage: Stage, reason: DeadLetterReason, detail: str
) -> None:
    msg = event.message
    letter = dead_letter(
        reason=reason,
        detail=detail,
        stage=stage.value,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key,
        value=msg.value,
        now=utcnow(),
    )
    await _send(rasid.deadletter, msg.key or b"", letter)
    metrics.DEADLETTERS.labels(reason=reason.value).inc()
    metrics.STAGE_ERRORS.labels(stage=stage.value).inc()
    log.warning(
        "dead letter",
        extra={
            "reason": reason.value,
            "detail": detail[:200],
            "topic": msg.topic,
            "partition": msg.partition,
            "offset": msg.offset,
        },
    )


def register(rasid: Rasid) -> None:
    app, pipe = rasid.app, rasid.pipeline

    @app.agent(rasid.raw, name="rasid.parse", concurrency=1)
    async def parse_and_enrich(stream: Any) -> AsyncIterator[str]:
        event: EventT[Any]
        async for event in stream.events():
            stage = Stage.PARSE
            try:
                now = utcnow()
                with metrics.stage(Stage.PARSE):
                    raw, parsed = pipe.parse(event.message.value, now)
                stage = Stage.ENRICH
                with metrics.stage(Stage.ENRICH):
                    enriched = pipe.enrich(raw, parsed, now)
                    await _send(rasid.enriched, enriched["id"].encode(), enriched)
                outcome = "enriched"
            except Exception as exc:  # a bug must not stop the stream or lose the message
                outcome = await _fail(rasid, event, stage, exc)
            yield outcome

    @app.agent(rasid.enriched, name="rasid.match", concurrency=1)
    async def match_and_alert(stream: Any) -> AsyncIterator[str]:
        event: EventT[Any]
        async for event in stream.events():
            stage = Stage.MATCH
            try:
                now = utcnow()
                with metrics.stage(Stage.MATCH):
                    enriched, hits = pipe.match(event.message.value)
                emitted = 0
                if hits:
                    stage = Stage.ALERT
                    with metrics.stage(Stage.ALERT):
                        for alert in pipe.alerts(enriched, hits, now):
                            emitted += await _emit_once(rasid, alert)
                outcome = f"alerts:{emitted}"
            except Exception as exc:
                outcome = await _fail(rasid, event, stage, exc)
            yield outcome


async def _emit_once(rasid: Rasid, alert: dict[str, Any]) -> int:
    """Send an alert unless its id was emitted before; return how many were sent (0 or 1)."""
    if rasid.emitted.get(alert["id"]) is not None:
        metrics.ALERTS_SUPPRESSED.inc()
        return 0
    await _send(rasid.alerts, alert["id"].encode(), alert)
    # Remembered only once the broker has the alert: a crash in between repeats the same id,
    # which subscribers drop (at-least-once).
    rasid.emitted[alert["id"]] = alert["alerted_at"]
    metrics.ALERTS.labels(rule=alert["rule"], severity=alert["severity"]).inc()
    log.info(
        "alert",
        extra={
            "alert_id": alert["id"],
            "rule": alert["rule"],
            "article_id": alert["article"]["id"],
        },
    )
    return 1


async def _fail(rasid: Rasid, event: EventT[Any], stage: Stage, exc: Exception) -> str:
    """Dead-letter the message that failed; return the reason (the agent's outcome)."""
    if isinstance(exc, BadInput):
        reason, detail = exc.reason, exc.detail
    else:
        log.exception("processing error in %s", stage.value)
        reason, detail = DeadLetterReason.PROCESSING_ERROR, repr(exc)
    await _dead_letter(rasid, event, stage, reason, detail)
    return reason.value
