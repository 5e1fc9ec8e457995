"""Operational observations: what the agents report to metrics.py beyond stage counts.

The agents call two functions — `article_enriched` and `alert_sent` — and `register` adds the
periodic consumer-lag measurement and the per-source gauges to the app. Everything that turns
message content into a metric label goes through a bounded set here (see docs/metrics.md):

- source: the sources configured in RASID_SOURCE_INTERVALS, then the first
  RASID_METRICS_MAX_SOURCES other sources seen, then "other";
- region: ISO codes present in the gazetteer, else "other"; "none" for an article without one;
- topic: the fixed topic codes, else "other"; "none" for an article without one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streams import metrics
from streams.classify.topics import TOPICS
from streams.kafka import names
from streams.resources import data_file
from streams.rules.gcpause import gc_paused
from streams.rules.spec import parse_yaml
from streams.times import epoch

if TYPE_CHECKING:
    from streams.settings import Settings
    from streams.worker.context import WorkerContext

log = logging.getLogger("rasid.worker")

OTHER = "other"
NONE = "none"


class SourceLabels:
    """Maps a source id to a bounded metric label."""

    def __init__(self, configured: Iterable[str] = (), cap: int = 50) -> None:
        self.configured = frozenset(configured)
        self.cap = cap
        self._extra: set[str] = set()

    def __call__(self, source: str) -> str:
        if source in self.configured or source in self._extra:
            return source
        if len(self._extra) < self.cap and source and source != OTHER:
            self._extra.add(source)
            return source
        return OTHER


@lru_cache(maxsize=1)
def region_codes() -> frozenset[str]:
    """Every ISO code the gazetteer can give an article (185 today)."""
    text = data_file("gazetteer.json").read_text("utf-8")
    codes: set[str] = set()
    for entry in json.loads(text)["entries"]:
        codes.update(entry["codes"])
    # Only ISO 3166 alpha-2 shapes: a malformed code in the data must not become a label.
    return frozenset(c for c in codes if len(c) == 2 and c.isascii() and c.isupper())


def bounded(code: str, allowed: frozenset[str]) -> str:
    return code if code in allowed else OTHER


def label_codes(labels: Iterable[Mapping[str, Any]], allowed: frozenset[str]) -> list[str]:
    """Label codes of an enriched article's regions or topics, bounded; ["none"] if empty."""
    codes = sorted({bounded(str(label["code"]), allowed) for label in labels})
    return codes or [NONE]


def ruleset_version(path: Path) -> str:
    """The rule file's own `version` and a digest of its bytes: changes with every edit."""
    try:
        data = path.read_bytes()
    except OSError:
        return "unknown"
    with gc_paused():  # a pack's document is all kept until it is dropped: see gcpause
        doc = parse_yaml(data)  # as streams.rules reads packs (yaml.safe_load: ~4 s, 10k rules)
    declared = doc.get("version", "?") if isinstance(doc, dict) else "?"
    return f"{declared}-{hashlib.sha256(data).hexdigest()[:8]}"


def consumer_lag(
    end: Mapping[Any, int], committed: Mapping[Any, int | None], earliest: Mapping[Any, int]
) -> dict[Any, int]:
    """Lag per partition: log end minus the committed offset (the earliest offset when nothing
    was committed yet: the group starts from the beginning)."""
    out = {}
    for tp, end_offset in end.items():
        done = committed.get(tp)
        if done is None:
            done = earliest.get(tp, 0)
        out[tp] = max(0, end_offset - done)
    return out


class Observer:
    """Turns what the agents did into rasid_* observations (configured by `register`)."""

    def __init__(self) -> None:
        self.sources = SourceLabels()
        self.topics = frozenset(TOPICS)
        # the last alert's ingested_at and its epoch: an article's alerts (~5 an article at
        # 10,000 rules) are observed one after another and share it
        self._ingested: tuple[Any, float | None] = (None, None)

    def configure(self, settings: Settings, now: float | None = None) -> None:
        self.sources = SourceLabels(settings.source_intervals, settings.metrics_max_sources)
        started = time.time() if now is None else now
        metrics.SOURCE_EXPECTED_INTERVAL.clear()
        for source, seconds in settings.source_intervals.items():
            metrics.SOURCE_EXPECTED_INTERVAL.labels(source=source).set(seconds)
            # A configured source that never shows up after a restart is silent since then.
            metrics.SOURCE_LAST_ARTICLE.labels(source=source).set(started)

    def article_enriched(
        self, enriched: Mapping[str, Any], message: Any = None, now: float | None = None
    ) -> None:
        """An enriched article was acknowledged by the broker."""
        now = time.time() if now is None else now
        source = self.sources(str(enriched.get("source", "")))
        metrics.ARTICLES.labels(source=source).inc()
        metrics.SOURCE_LAST_ARTICLE.labels(source=source).set(now)
        for region in label_codes(enriched.get("regions", ()), region_codes()):
            metrics.ARTICLE_REGIONS.labels(region=region).inc()
        for topic in label_codes(enriched.get("topics", ()), self.topics):
            metrics.ARTICLE_TOPICS.labels(topic=topic).inc()
        ingested = epoch(enriched.get("ingested_at"))
        published = epoch(enriched.get("published_at"))
        if ingested is not None and published is not None:
            # Clock skew or a page dated in the future: counted as zero, not dropped.
            metrics.PUBLISHED_TO_INGESTED.observe(max(0.0, ingested - published))
        kafka_ts = getattr(message, "timestamp", None)
        if ingested is not None and isinstance(kafka_ts, int | float) and kafka_ts > 0:
            metrics.KAFKA_TO_INGESTED.observe(max(0.0, ingested - kafka_ts))
        log.debug(
            "article",
            extra={
                "article_id": enriched.get("id"),
                "source": enriched.get("source"),
                "topic": getattr(message, "topic", None),
                "partition": getattr(message, "partition", None),
                "offset": getattr(message, "offset", None),
            },
        )

    def alert_sent(self, alert: Mapping[str, Any], now: float | None = None) -> None:
        """An alert was acknowledged by the broker: the end of the end-to-end latency."""
        now = time.time() if now is None else now
        text = alert.get("ingested_at")
        last, ingested = self._ingested
        if not isinstance(text, str) or text != last:
            ingested = epoch(text)
            self._ingested = (text, ingested)
        if ingested is not None:
            metrics.INGESTED_TO_ALERTED.observe(max(0.0, now - ingested))


OBSERVER = Observer()


# The agents call these after the broker acknowledged a message: a failure here must not
# dead-letter a message that was processed, so it is logged and swallowed.
def article_enriched(enriched: Mapping[str, Any], message: Any = None) -> None:
    try:
        OBSERVER.article_enriched(enriched, message)
    except Exception:
        log.warning("article metrics failed", exc_info=True)


def alert_sent(alert: Mapping[str, Any], now: float | None = None) -> None:
    """`now`: when the broker acknowledged it (the story stage's whole send: one clock read)."""
    try:
        OBSERVER.alert_sent(alert, now)
    except Exception:
        log.warning("alert metrics failed", exc_info=True)


async def measure_lag(app: Any, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """Consumer lag of this worker's assigned partitions of `topics`; updates the gauge."""
    consumer = app.consumer
    wanted = set(topics)
    tps = sorted(
        (tp for tp in consumer.assignment() if tp.topic in wanted),
        key=lambda tp: (tp.topic, tp.partition),
    )
    lags: dict[tuple[str, int], int] = {}
    if tps:
        end = await consumer.highwaters(*tps)
        # faust's record of what it committed (it is updated on each commit).
        committed = {tp: consumer._committed_offset.get(tp) for tp in tps}
        missing = [tp for tp, offset in committed.items() if offset is None]
        earliest = await consumer.earliest_offsets(*missing) if missing else {}
        lags = {
            (tp.topic, tp.partition): lag
            for tp, lag in consumer_lag(end, committed, earliest).items()
        }
    # Replace the whole series set at once: partitions moved to another worker disappear.
    metrics.CONSUMER_LAG.clear()
    for (topic, partition), lag in lags.items():
        metrics.CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(lag)
    metrics.CONSUMER_LAG_UPDATED.set_to_current_time()
    return lags


def register(ctx: WorkerContext) -> None:
    """Per-source gauges, the rule set's version, and the periodic consumer-lag timer."""
    settings = ctx.settings
    OBSERVER.configure(settings)
    if ctx.readiness.rules_loaded:  # rules from the file; live rules publish their own
        metrics.set_ruleset(len(ctx.pipeline.rules), ruleset_version(settings.rules_file))
    app = ctx.app
    # What this worker's group consumes: raw articles (the hot stage) and story candidates.
    topics = (settings.topic_raw, names.story_candidates(settings))

    async def consumer_lag_timer() -> None:
        if app.rebalancing:
            return
        try:
            await measure_lag(app, topics)
        except Exception:  # a failed measurement must never stop the worker
            log.warning("consumer lag measurement failed", exc_info=True)

    app.timer(settings.lag_interval_seconds, name="rasid.consumer_lag")(consumer_lag_timer)
