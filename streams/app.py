"""The faust application: topics, the dedup table, agents and web views.

Agents are short loops: take the message, call the pipeline (pure code), send, count. Every
failure is handled here explicitly: the message goes to the dead-letter topic with its reason,
and the loop goes on. Agent concurrency stays 1: faust can lose messages above that (faust
issue #606); scale out with partitions and worker processes instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import faust
import orjson
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import EventT
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from . import metrics
from .errors import BadInput, DeadLetterReason, Stage
from .pipeline import Pipeline, dead_letter, utcnow
from .settings import Settings

log = logging.getLogger("rasid.worker")


@dataclass
class Rasid:
    """The app plus the handles tests and the CLI need."""

    app: faust.App
    pipeline: Pipeline
    raw: Any
    enriched: Any
    alerts: Any
    deadletter: Any
    emitted: Any  # faust Table: alert id → alerted_at, backed by a changelog topic
    state: dict[str, bool] = field(default_factory=dict)


def _topic(app: faust.App, name: str, settings: Settings) -> Any:
    # Values are raw bytes: decoding is ours, so a bad message becomes a dead letter with a
    # reason instead of a serializer exception inside faust.
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
        replicas=settings.topic_replication,
    )


def create_app(settings: Settings, pipeline: Pipeline | None = None) -> Rasid:
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir),
        autodiscover=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        web_host=settings.web_host,
        web_port=settings.web_port,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Articles are 1-20 KB: the 16 KB default batch would send most of them alone.
        producer_max_batch_size=1_048_576,
        producer_linger_ms=5,
        agent_supervisor="mode.OneForOneSupervisor",
    )
    pipe = pipeline or Pipeline.load(settings)
    metrics.RULES_LOADED.set(len(pipe.rules))
    rasid = Rasid(
        app=app,
        pipeline=pipe,
        raw=_topic(app, settings.topic_raw, settings),
        enriched=_topic(app, settings.topic_enriched, settings),
        alerts=_topic(app, settings.topic_alerts, settings),
        deadletter=_topic(app, settings.topic_deadletter, settings),
        emitted=app.Table(
            "emitted-alerts",
            default=None,
            key_type=str,
            value_type=str,
            partitions=settings.topic_partitions,
        ),
        state={"rules_loaded": len(pipe.rules) > 0},
    )
    _register_agents(rasid)
    _register_views(rasid)
    # faust's own sensors (messages, commits, lag …) feed the same registry as rasid_*.
    app.monitor = PrometheusMonitor(metrics=_faust_metrics())
    return rasid


@lru_cache(maxsize=1)
def _faust_metrics() -> FaustMetrics:
    # Created once per process: a registry refuses the same metric names twice.
    return FaustMetrics.create(REGISTRY, "faust")


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


def _register_agents(rasid: Rasid) -> None:
    app, pipe = rasid.app, rasid.pipeline

    @app.agent(rasid.raw, name="rasid.parse", concurrency=1)
    async def parse_and_enrich(stream: Any) -> AsyncIterator[str]:
        event: EventT[Any]
        async for event in stream.events():
            stage = Stage.PARSE
            try:
                now = utcnow()
                metrics.STAGE_IN.labels(stage=Stage.PARSE.value).inc()
                started = time.perf_counter()
                raw, parsed = pipe.parse(event.message.value, now)
                metrics.STAGE_SECONDS.labels(stage=Stage.PARSE.value).observe(
                    time.perf_counter() - started
                )
                metrics.STAGE_OUT.labels(stage=Stage.PARSE.value).inc()
                stage = Stage.ENRICH
                metrics.STAGE_IN.labels(stage=Stage.ENRICH.value).inc()
                started = time.perf_counter()
                enriched = pipe.enrich(raw, parsed, now)
                await _send(rasid.enriched, enriched["id"].encode(), enriched)
                metrics.STAGE_SECONDS.labels(stage=Stage.ENRICH.value).observe(
                    time.perf_counter() - started
                )
                metrics.STAGE_OUT.labels(stage=Stage.ENRICH.value).inc()
                outcome = "enriched"
            except BadInput as exc:
                await _dead_letter(rasid, event, stage, exc.reason, exc.detail)
                outcome = exc.reason.value
            except Exception as exc:  # a bug must not stop the stream or lose the message
                log.exception("processing error in %s", stage.value)
                await _dead_letter(
                    rasid, event, stage, DeadLetterReason.PROCESSING_ERROR, repr(exc)
                )
                outcome = DeadLetterReason.PROCESSING_ERROR.value
            yield outcome

    @app.agent(rasid.enriched, name="rasid.match", concurrency=1)
    async def match_and_alert(stream: Any) -> AsyncIterator[str]:
        event: EventT[Any]
        async for event in stream.events():
            stage = Stage.MATCH
            emitted = 0
            try:
                now = utcnow()
                metrics.STAGE_IN.labels(stage=Stage.MATCH.value).inc()
                started = time.perf_counter()
                enriched, hits = pipe.match(event.message.value)
                metrics.STAGE_SECONDS.labels(stage=Stage.MATCH.value).observe(
                    time.perf_counter() - started
                )
                metrics.STAGE_OUT.labels(stage=Stage.MATCH.value).inc()
                if hits:
                    stage = Stage.ALERT
                    metrics.STAGE_IN.labels(stage=Stage.ALERT.value).inc()
                    started = time.perf_counter()
                    for alert in pipe.alerts(enriched, hits, now):
                        if rasid.emitted.get(alert["id"]) is not None:
                            metrics.ALERTS_SUPPRESSED.inc()
                            continue
                        await _send(rasid.alerts, alert["id"].encode(), alert)
                        # Remember only after the broker has the alert: a crash in between
                        # repeats the same id, which subscribers drop (at-least-once).
                        rasid.emitted[alert["id"]] = alert["alerted_at"]
                        emitted += 1
                        metrics.ALERTS.labels(rule=alert["rule"], severity=alert["severity"]).inc()
                        log.info(
                            "alert",
                            extra={
                                "alert_id": alert["id"],
                                "rule": alert["rule"],
                                "article_id": enriched["id"],
                            },
                        )
                    metrics.STAGE_SECONDS.labels(stage=Stage.ALERT.value).observe(
                        time.perf_counter() - started
                    )
                    metrics.STAGE_OUT.labels(stage=Stage.ALERT.value).inc()
                outcome = f"alerts:{emitted}"
            except BadInput as exc:
                await _dead_letter(rasid, event, stage, exc.reason, exc.detail)
                outcome = exc.reason.value
            except Exception as exc:
                log.exception("processing error in %s", stage.value)
                await _dead_letter(
                    rasid, event, stage, DeadLetterReason.PROCESSING_ERROR, repr(exc)
                )
                outcome = DeadLetterReason.PROCESSING_ERROR.value
            yield outcome


def _register_views(rasid: Rasid) -> None:
    app = rasid.app

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        checks = {
            "rules_loaded": rasid.state.get("rules_loaded", False),
            "consumer_assigned": bool(app.consumer.assignment()) and not app.rebalancing,
        }
        ok = all(checks.values())
        return web.json({"ready": ok, **checks}, status=200 if ok else 503)
