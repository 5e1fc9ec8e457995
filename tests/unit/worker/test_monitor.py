"""The worker's faust monitor: the same faust_* series as faust's PrometheusMonitor."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.worker.app import CachedPrometheusMonitor


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in registry.collect():
        for s in family.samples:
            if s.name.endswith("_created"):
                continue  # creation times differ between the two registries
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


class _Owner:  # a stream's task owner (an agent), weakly referenced by faust's monitor
    pass


class _Stream:  # what the monitor reads of a faust stream (weakly referenced, as faust does)
    shortlabel = "Stream: Topic: raw"
    task_owner = _Owner()


def _drive(monitor: Any) -> None:
    """What faust calls on a worker: messages in, events, table operations, sends, commits,
    a rebalance (which removes the topic and partition series), then more of the same."""
    raw, cands = TP("raw", 0), TP("cands", 3)
    stories = SimpleNamespace(name="stories")
    trends = SimpleNamespace(name="trends")
    stream = _Stream()

    def traffic(rounds: int) -> None:
        for i in range(rounds):
            for tp in (raw, cands):
                monitor.on_message_in(tp, 100 + i, SimpleNamespace(time_in=None))
                monitor.on_stream_event_in(tp, 100 + i, stream, None)
                monitor.track_tp_end_offset(tp, 200 + i)
            monitor.on_table_get(stories, "a")
            monitor.on_table_set(stories, "a", b"x")
            monitor.on_table_set(trends, "k", b"y")
            monitor.on_table_del(trends, "k")
            monitor.on_send_initiated(None, "alerts", None, 1, 2)
            monitor.on_send_initiated(None, "raw-changelog", None, 1, 2)
            monitor.count("commits", 2)
            monitor.on_tp_commit({raw: 100 + i, cands: 100 + i})

    traffic(3)
    monitor._clear_partition_related_metrics()  # what on_rebalance_start/end call
    traffic(2)


def test_same_series_and_values_as_faust_monitor() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    faust_monitor = PrometheusMonitor(metrics=FaustMetrics.create(theirs, "faust"))
    cached = CachedPrometheusMonitor(metrics=FaustMetrics.create(ours, "faust"))
    _drive(faust_monitor)
    _drive(cached)
    expected = _samples(theirs)
    assert _samples(ours) == expected
    # the series faust removed on the rebalance are back with the updates made after it
    sent = ("faust_topic_messages_sent_total", (("topic", "topic.alerts"),))
    assert expected[sent] == 2.0
    assert (
        "faust_table_operations_total",
        (("operation", "keys_updated"), ("table", "table.stories")),
    ) in expected
    # faust's own counters (the base Monitor) are kept too
    assert cached.messages_sent == faust_monitor.messages_sent == 10
    assert cached.tables["trends"].keys_deleted == 5
