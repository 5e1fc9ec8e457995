"""The faust application: configuration, topics and the dedup table. The agents live in
agents.py, the web views in web.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import REGISTRY

from streams import metrics
from streams.settings import Settings
from streams.worker import agents, faust_fixes, observe, web
from streams.worker import live_rules as rule_store
from streams.worker import story_stage as story_agent
from streams.worker.pipeline import Pipeline


@dataclass
class Rasid:
    """The app plus the handles tests and the CLI need."""

    app: faust.App
    pipeline: Pipeline
    raw: Any
    enriched: Any
    alerts: Any
    deadletter: Any
    emitted: Any  # faust Table: article-level hit id → alerted_at (forwarded to the story stage)
    state: dict[str, bool] = field(default_factory=dict)
    # Set once the full rule set is loaded; the match agent waits for it (rule_store.py).
    rules_ready: asyncio.Event = field(default_factory=asyncio.Event)
    stories: Any = None  # subscribers.story_agent.StoryStage: topic, tables, parameters


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


def create_app(
    settings: Settings, pipeline: Pipeline | None = None, *, live_rules: bool = False
) -> Rasid:
    faust_fixes.install()  # no commit past an unprocessed message (streams/worker/faust_fixes.py)
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
        producer_request_timeout=settings.producer_request_timeout_seconds,
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
    if live_rules:  # the worker: rules come from the rules topic, readiness waits for them
        rule_store.attach(rasid, settings)
    else:  # tests, offline use: the rules file given to the pipeline
        rasid.rules_ready.set()
    agents.register(rasid)
    story_agent.register(rasid)  # one alert per rule and story (docs/subscribers.md)
    web.register(rasid)
    observe.register(rasid, settings)  # lag timer, source gauges, rule-set version
    # faust's own sensors (messages, commits, lag …) feed the same registry as rasid_*.
    app.monitor = PrometheusMonitor(metrics=_faust_metrics())
    return rasid


@lru_cache(maxsize=1)
def _faust_metrics() -> FaustMetrics:
    # Created once per process: a registry refuses the same metric names twice.
    return FaustMetrics.create(REGISTRY, "faust")
