"""Every rasid_* metric, in one place. Label values come only from fixed sets (stages,
dead-letter reasons, severities) or from the configured rule ids, never from message content."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from .errors import DeadLetterReason, Stage

SEVERITIES = ("info", "low", "medium", "high", "critical")

STAGE_IN = Counter("rasid_stage_in_total", "Messages that entered a pipeline stage.", ["stage"])
STAGE_OUT = Counter("rasid_stage_out_total", "Messages a pipeline stage passed on.", ["stage"])
STAGE_ERRORS = Counter(
    "rasid_stage_errors_total",
    "Messages a pipeline stage sent to the dead-letter topic.",
    ["stage"],
)
STAGE_SECONDS = Histogram(
    "rasid_stage_seconds",
    "Time spent processing one message in a stage.",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DEADLETTERS = Counter(
    "rasid_deadletters_total", "Messages sent to the dead-letter topic, by reason.", ["reason"]
)
ALERTS = Counter(
    "rasid_alerts_total", "Alerts emitted, by rule and severity.", ["rule", "severity"]
)
ALERTS_SUPPRESSED = Counter(
    "rasid_alerts_suppressed_total",
    "Alerts not emitted again because their id was already emitted (replay, restart, re-publish).",
)
RULES_LOADED = Gauge("rasid_rules_loaded", "Enabled watch-list rules in the running matcher.")

# Create every fixed label combination up front so dashboards see zeros, not gaps.
for _stage in Stage:
    for _metric in (STAGE_IN, STAGE_OUT, STAGE_ERRORS):
        _metric.labels(stage=_stage.value)
for _reason in DeadLetterReason:
    DEADLETTERS.labels(reason=_reason.value)


@contextmanager
def stage(which: Stage) -> Iterator[None]:
    """Count a message into a stage, and out of it with its duration if the block succeeds.
    (Failures are counted by the dead-letter path, with their reason.)"""
    STAGE_IN.labels(stage=which.value).inc()
    started = time.perf_counter()
    yield
    STAGE_SECONDS.labels(stage=which.value).observe(time.perf_counter() - started)
    STAGE_OUT.labels(stage=which.value).inc()
