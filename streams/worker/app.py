"""The worker's faust application: configuration, topics, tables, and the wiring of its stages
(agents.py: parse+enrich and match; story_stage.py: one alert per rule and story)."""

from __future__ import annotations

import functools
import gc
from functools import lru_cache
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import REGISTRY

from streams import metrics
from streams.kafka.names import CHANGELOG
from streams.rules import RuleSet
from streams.settings import Settings
from streams.worker import agents, faust_fixes, observe, story_stage, trend_stage, web
from streams.worker import live_rules as rules_topic
from streams.worker.batches import Packer
from streams.worker.context import Readiness, StoryHandOff, Topics, WorkerContext
from streams.worker.emitted import EmittedIds
from streams.worker.pipeline import Pipeline

# Bounds of one story-candidate message (schemas/story-candidate.v4.json allows 500 items); a
# candidate is ~2-8 KB, so a default batch of 20 articles is one message of ~100 KB.
CANDIDATES_PER_MESSAGE = 500
CANDIDATE_MESSAGE_BYTES = 512 * 1024

# The cyclic collector's youngest generation, in net allocations. CPython's 700 is a fraction
# of one article: the objects of a batch in flight (a story message's decoded candidates, its
# alerts awaiting their acks) outlive two young collections, reach the oldest generation and
# trigger full collections of the whole heap. A 10,000-rule worker made 16 of ~0.25 s each in
# a 2,000-article run (bench/rules_scale.py, ~1 ms of CPU per article; docs/performance.md
# "Rules at scale: round thirteen"); with 10,000 they die young: one.
GC_YOUNG = 10_000


def tune_gc() -> None:
    """The worker process's collector thresholds (GC_YOUNG; a larger one is kept)."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, GC_YOUNG), middle, old)


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
) -> WorkerContext:
    faust_fixes.install(
        idempotent_producer=settings.producer_idempotent
    )  # no commit past an unprocessed message (streams/worker/faust_fixes.py)
    # faust creates only the last level; the default, .cache/worker, is relative to the
    # working directory, which may have no .cache yet.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir),
        autodiscover=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        web_host=settings.web_host,
        web_bind=settings.web_host,  # faust listens on 0.0.0.0 unless told otherwise
        web_port=settings.web_port,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.consumer_session_timeout_seconds,
        broker_heartbeat_interval=settings.consumer_heartbeat_interval_seconds,
        consumer_group_instance_id=settings.instance_id or None,
        producer_acks=-1,
        # Articles are 1-20 KB: the 16 KB default batch would send most of them alone.
        producer_max_batch_size=1_048_576,
        producer_linger=settings.producer_linger_seconds,
        producer_request_timeout=settings.producer_request_timeout_seconds,
        agent_supervisor="mode.OneForOneSupervisor",
    )
    # A worker's rules come from the rules topic: compiling the rule file here as well would
    # cost seconds for a large pack, and its count on rasid_rules_loaded would hide a worker
    # that never gets its live rules (RasidNoRulesLoaded). It starts empty, matching nothing.
    pipe = pipeline or Pipeline.load(settings, RuleSet([]) if live_rules else None)
    metrics.RULES_LOADED.set(len(pipe.rules))
    readiness = Readiness()
    if len(pipe.rules) > 0:
        readiness.rules_arrived()
    ctx = WorkerContext(
        app=app,
        settings=settings,
        pipeline=pipe,
        topics=Topics(
            raw=_topic(app, settings.topic_raw, settings),
            enriched=_topic(app, settings.topic_enriched, settings),
            alerts=_topic(app, settings.topic_alerts, settings),
            deadletter=_topic(app, settings.topic_deadletter, settings),
        ),
        emitted=EmittedIds(
            app.Table(
                "emitted-ids",  # was "emitted-alerts" (one record per id, never expired)
                default=None,
                key_type=str,
                value_type=bytes,
                partitions=settings.topic_partitions,
                extra_topic_configs=CHANGELOG,
            ),
            horizon_seconds=settings.alert_dedup_days * 86400.0,
        ),
        stories=story_stage.declare(app, settings),
        trends=trend_stage.declare(app, settings),  # fed by the story agent (docs/trends.md)
        readiness=readiness,
    )
    if live_rules:  # the worker: rules come from the rules topic, readiness waits for them
        rules_topic.attach(ctx)
        tune_gc()  # the worker process (`rasid worker`) only
    else:  # tests, offline use: the rules file given to the pipeline
        readiness.rules_arrived()
    # The hot stage hands every article and its new hits to the story stage through these
    # calls only: one story-candidate message per batch of raw articles (v4), bounded so it
    # stays well under Kafka's 1 MB default message size.
    hand_off = StoryHandOff(
        candidate=story_stage.candidate,
        forwarded=functools.partial(story_stage.forwarded, ctx.emitted),
        packer=Packer(
            ctx.stories.topic,
            story_stage.BATCH_HEAD,
            story_stage.BATCH_TAIL,
            max_items=CANDIDATES_PER_MESSAGE,
            max_bytes=CANDIDATE_MESSAGE_BYTES,
        ),
    )

    def reassigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        assigned = args[0] if args else kwargs.get("assigned", ())  # faust sends the TP set
        ctx.emitted.reassigned(tp.partition for tp in assigned if tp.topic == settings.topic_raw)

    app.on_partitions_assigned.connect(reassigned)
    agents.register(ctx, hand_off)
    story_stage.register(ctx)  # one alert per rule and story (docs/subscribers.md)
    trend_stage.register(ctx)  # its detector rebuilt from its table after an assignment
    web.register(ctx)
    observe.register(ctx)  # lag timer, source gauges, rule-set version
    # faust's own sensors (messages, commits, lag …) feed the same registry as rasid_*.
    app.monitor = PrometheusMonitor(metrics=_faust_metrics())
    return ctx


@lru_cache(maxsize=1)
def _faust_metrics() -> FaustMetrics:
    # Created once per process: a registry refuses the same metric names twice.
    return FaustMetrics.create(REGISTRY, "faust")
