"""The worker's faust application: configuration, topics, tables, and the wiring of its stages
(agents.py: parse+enrich and match; story_stage.py: one alert per rule and story)."""

from __future__ import annotations

import functools
import weakref
from functools import lru_cache
from typing import Any

import faust
from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, CollectionT, EventT, Message, PendingMessage, StreamT
from faust.types.transports import ProducerT
from prometheus_client import REGISTRY

from streams import metrics
from streams.kafka.names import CHANGELOG
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
        producer_linger_ms=5,
        producer_request_timeout=settings.producer_request_timeout_seconds,
        agent_supervisor="mode.OneForOneSupervisor",
    )
    pipe = pipeline or Pipeline.load(settings)
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
    # (its labelled series looked up once each, not on every table operation and send)
    app.monitor = CachedPrometheusMonitor(metrics=_faust_metrics())
    return ctx


class CachedPrometheusMonitor(PrometheusMonitor):
    """faust's PrometheusMonitor with its labelled series looked up once each.

    faust's monitor calls prometheus-client's `labels(...)` (keyword sorting, a tuple of
    strings, a lock) on every table get/set/del, every send and every message in: at 10,000
    rules ~30 times per article. Here each labelled child is kept in a dict keyed by what
    faust builds its labels from (topic, partition, table name, stream), so an update is a
    dict lookup and the child's own increment. Same metrics, names, labels and values; the
    base `Monitor`'s own counters are kept as faust keeps them. faust removes the topic and
    partition series on a rebalance (`_clear_partition_related_metrics`): the cache is
    emptied with them, so a series removed is created again on its next update."""

    def __init__(self, metrics: FaustMetrics, **kwargs: Any) -> None:
        super().__init__(metrics=metrics, **kwargs)
        self._labelled: dict[Any, Any] = {}  # (which metric, label values) -> labelled child
        self._streams: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def _child(self, key: tuple[Any, ...], family: Any, **labels: Any) -> Any:
        child = self._labelled.get(key)
        if child is None:
            child = self._labelled[key] = family.labels(**labels)
        return child

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        Monitor.on_message_in(self, tp, offset, message)
        m = self._metrics
        m.messages_received.inc()
        m.active_messages.inc()
        self._child(("in", tp.topic), m.messages_received_per_topics, topic=tp.topic).inc()
        self._child(
            ("in", tp),
            m.messages_received_per_topics_partition,
            topic=tp.topic,
            partition=tp.partition,
        ).set(offset)

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[Any, Any] | None:
        state = Monitor.on_stream_event_in(self, tp, offset, stream, event)
        m = self._metrics
        m.total_events.inc()
        m.total_active_events.inc()
        child = self._streams.get(stream)
        if child is None:
            label = f"stream.{self._stream_label(stream)}.events"
            child = self._streams[stream] = m.total_events_per_stream.labels(stream=label)
        child.inc()
        return state

    def _table_op(self, table: CollectionT, operation: str) -> Any:
        return self._child(
            (operation, table.name),
            self._metrics.table_operations,
            table=f"table.{table.name}",
            operation=operation,
        )

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        Monitor.on_table_get(self, table, key)
        self._table_op(table, self.KEYS_RETRIEVED).inc()

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        Monitor.on_table_set(self, table, key, value)
        self._table_op(table, self.KEYS_UPDATED).inc()

    def on_table_del(self, table: CollectionT, key: Any) -> None:
        Monitor.on_table_del(self, table, key)
        self._table_op(table, self.KEYS_DELETED).inc()

    def on_send_initiated(
        self, producer: ProducerT, topic: str, message: PendingMessage, keysize: int, valsize: int
    ) -> Any:
        metric = self._metrics.topic_messages_sent
        self._child(("sent", topic), metric, topic=f"topic.{topic}").inc()
        return Monitor.on_send_initiated(self, producer, topic, message, keysize, valsize)

    def count(self, metric_name: str, count: int = 1) -> None:
        Monitor.count(self, metric_name, count=count)
        metric = self._metrics.count_metrics_by_name
        self._child(("count", metric_name), metric, metric=metric_name).inc(count)

    def on_tp_commit(self, tp_offsets: Any) -> None:
        Monitor.on_tp_commit(self, tp_offsets)
        metric = self._metrics.topic_partition_offset_commited
        for tp, offset in tp_offsets.items():
            self._child(("commit", tp), metric, topic=tp.topic, partition=tp.partition).set(offset)

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        Monitor.track_tp_end_offset(self, tp, offset)
        metric = self._metrics.topic_partition_end_offset
        self._child(("end", tp), metric, topic=tp.topic, partition=tp.partition).set(offset)

    def _clear_partition_related_metrics(self) -> None:
        super()._clear_partition_related_metrics()
        self._labelled.clear()
        self._streams.clear()


@lru_cache(maxsize=1)
def _faust_metrics() -> FaustMetrics:
    # Created once per process: a registry refuses the same metric names twice.
    return FaustMetrics.create(REGISTRY, "faust")
