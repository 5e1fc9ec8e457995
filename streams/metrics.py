"""Every rasid_* metric, in one place. Label values come only from fixed sets (stages,
dead-letter reasons, severities) or from the configured rule ids, never from message content."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from streams.errors import DeadLetterReason, Stage

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
STORY_ASSIGNMENTS = Counter(
    "rasid_story_assignments_total",
    "Articles assigned to a story: opened a new one (new), joined a live one (joined), were"
    " the same text from the same outlet again (copy: no alert update), or a later revision"
    " of an article already in a live story (revised: that story and its alerts updated).",
    ["outcome"],
)
STORY_ALERTS = Counter(
    "rasid_story_alerts_total", "Story alerts emitted, by status (new, updated).", ["status"]
)
STORY_CLOSE_REASONS = ("window", "capacity")
STORIES_CLOSED = Counter(
    "rasid_stories_closed_total",
    "Stories the story stage forgot: quiet for the whole story window (window), or the least"
    " recently reported ones beyond RASID_STORY_MAX_LIVE (capacity: closed early to bound memory).",
    ["reason"],
)
for _reason in STORY_CLOSE_REASONS:
    STORIES_CLOSED.labels(reason=_reason)
STORIES_LIVE = Gauge(
    "rasid_stories_live", "Live stories the story stage holds in memory (this worker)."
)
TREND_LEVELS = ("elevated", "high", "extreme")  # streams/trends/detector.py LEVELS
TREND_KINDS = ("region_topic", "region", "topic", "rule", "other")
TRENDS = Counter(
    "rasid_trends_total",
    "Trend records sent to the trends topic (a key entered or escalated to a level), by level"
    " and kind of key.",
    ["level", "kind"],
)
TREND_LATE = Counter(
    "rasid_trend_late_events_total",
    "Articles counted by the trend detector older than its watermark minus the grace period:"
    " into the baseline only, never into a window.",
)
TREND_KEYS = Gauge(
    "rasid_trend_keys", "Keys (region × topic, region, topic, rule) the trend detector holds."
)
for _level in TREND_LEVELS:
    for _kind in TREND_KINDS:
        TRENDS.labels(level=_level, kind=_kind)
API_STREAMS = Gauge("rasid_api_streams", "Open Server-Sent Events streams (rasid api).")
API_REQUESTS = Counter(
    "rasid_api_requests_total", "API requests, by route and status class.", ["route", "status"]
)
TREND_RECORDS_INVALID = Counter(
    "rasid_trend_records_invalid_total",
    "Records of the trends topic skipped by a reader (rasid api, rasid webhooks) because they"
    " are not valid trend.v2 JSON (or are over 256 KiB).",
    ["reader"],
)
for _reader in ("api", "webhooks"):
    TREND_RECORDS_INVALID.labels(reader=_reader)
WEBHOOK_DELIVERIES = Counter(
    "rasid_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (delivered, retry, deadletter, held, throttled, "
    "down, ping).",
    ["outcome"],
)
WEBHOOK_PAUSED = Gauge(
    "rasid_webhook_subscriptions_paused",
    "Subscriptions paused because their receiver was unreachable past "
    "RASID_WEBHOOK_DOWN_LIMIT_SECONDS (deliveries dead-lettered until a ping gets a 2xx).",
)
WEBHOOK_SECONDS = Histogram(
    "rasid_webhook_seconds", "Duration of one webhook POST (successful or not)."
)
RULES_LOADED = Gauge("rasid_rules_loaded", "Enabled watch-list rules in the running matcher.")
DELIVERY_RETRIES = Counter(
    "rasid_delivery_retries_total",
    "Sends to Kafka retried after a transient failure (broker away, leader moved, timeout).",
)
BATCH_SIZE = Histogram(
    "rasid_agent_batch_messages",
    "Input messages an agent took and delivered as one batch.",
    ["stage"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
RULE_VERSION = Gauge(
    "rasid_rule_version", "Version of each live rule (from the rules topic).", ["rule"]
)
RULES_GENERATION = Counter(
    "rasid_rules_reloads_total", "Rule sets compiled from the rules topic and swapped in."
)
RULES_REJECTED = Gauge(
    "rasid_rules_rejected", "Messages on the rules topic ignored because they are invalid."
)

# rasid ingest (docs/ingest.md): `source` comes from the sources file, the rest from fixed sets.
INGEST_KINDS = ("feed", "listing", "page", "telegram", "sitemap", "home")  # home: feed discovery
INGEST_OUTCOMES = (
    "ok", "not_modified", "client_error", "server_error", "timeout", "network_error",
    "robots_disallowed", "too_large", "unparseable", "rate_limited", "not_allowed",
)  # fmt: skip
# Why a fetch of a source failed: the HTTP status for the common ones, its class for others,
# else what happened instead of an answer (a fixed set: no status from the wire as a label).
INGEST_FAILURE_STATUSES = (
    "400", "401", "403", "404", "408", "410", "429", "451", "500", "502", "503", "504",
    "4xx", "5xx", "timeout", "network_error", "robots_disallowed", "too_large", "unparseable",
    "host_resting", "not_allowed",
)  # fmt: skip
INGEST_FETCHES = Counter(
    "rasid_ingest_fetches_total",
    "HTTP fetches by the ingester, by source, kind and outcome.",
    ["source", "kind", "outcome"],
)
INGEST_FETCH_SECONDS = Histogram(
    "rasid_ingest_fetch_seconds",
    "Time to fetch a feed, listing or page (request sent to body read).",
    ["source", "kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
INGEST_ARTICLES = Counter(
    "rasid_ingest_articles_total", "New articles published to the raw topic, by source.", ["source"]
)
INGEST_DUPLICATES = Counter(
    "rasid_ingest_duplicates_total",
    "Items not published because their URL or content was already published.",
    ["source", "reason"],
)
INGEST_LAST_SUCCESS = Gauge(
    "rasid_ingest_last_success_timestamp_seconds",
    "Unix time of the last successful feed or listing poll, by source.",
    ["source"],
)
INGEST_SOURCE_FAILURES = Counter(
    "rasid_ingest_source_failures_total",
    "Failed fetches (feeds, listings and pages) by source and status: the HTTP status (common"
    " ones; else 4xx/5xx) or timeout, network_error, robots_disallowed, too_large, unparseable,"
    " host_resting, not_allowed (a site or address the operator did not allow). `source` values come only from the operator's sources file (a bounded"
    " set).",
    ["source", "status"],
)
INGEST_SOURCE_FAILING = Gauge(
    "rasid_ingest_source_consecutive_failures",
    "Consecutive failed polls of the source's worst feed, listing, Telegram channel, sitemap"
    " or home page (0: every one answered at its last poll). `source` values come only from the operator's sources file.",
    ["source"],
)
INGEST_REVISIONS = Counter(
    "rasid_ingest_revisions_total",
    "Articles published again as a later revision (title or text changed), by source.",
    ["source"],
)


def ingest_sources(names: list[str]) -> None:
    """Create the ingest series of the configured sources up front (zeros, not gaps)."""
    for name in names:
        INGEST_ARTICLES.labels(source=name)
        INGEST_REVISIONS.labels(source=name)
        INGEST_SOURCE_FAILING.labels(source=name).set(0)
        for status in INGEST_FAILURE_STATUSES:
            INGEST_SOURCE_FAILURES.labels(source=name, status=status)
        for reason in ("url", "content"):
            INGEST_DUPLICATES.labels(source=name, reason=reason)
        for kind in INGEST_KINDS:
            for outcome in INGEST_OUTCOMES:
                INGEST_FETCHES.labels(source=name, kind=kind, outcome=outcome)


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
    counted_in, seconds, counted_out = _STAGE_CHILDREN[which]
    counted_in.inc()
    started = time.perf_counter()
    yield
    seconds.observe(time.perf_counter() - started)
    counted_out.inc()


def stage_passed(which: Stage, seconds: float) -> None:
    """Count a message into and out of a stage that a batch ran for it (`Pipeline.core_many`):
    `seconds` is its part of the batch's CPU time."""
    counted_in, observed, counted_out = _STAGE_CHILDREN[which]
    counted_in.inc()
    observed.observe(seconds)
    counted_out.inc()


# The labelled children, looked up once (`labels()` costs more than the update itself).
_STAGE_CHILDREN = {
    s: (
        STAGE_IN.labels(stage=s.value),
        STAGE_SECONDS.labels(stage=s.value),
        STAGE_OUT.labels(stage=s.value),
    )
    for s in Stage
}


# Other labelled children, by metric and label values, looked up once too: a counter updated
# per alert (rule × severity, status) would pay `labels()`' checks and lock on every call. As
# many as the metrics' own series, which prometheus-client keeps anyway.
_CHILDREN: dict[tuple[object, ...], Counter] = {}


def child(metric: Counter, *values: str) -> Counter:
    """`metric.labels(*values)`, looked up once per metric and label values."""
    key: tuple[object, ...] = (metric, *values)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*values)
    return found


# ---------------------------------------------------------------- operations (docs/metrics.md)
# Latency buckets resolve 5 ms … 10 min (the end-to-end SLO range); published → ingested also
# needs hours and days (outlets date pages to the day; archives are replayed).
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
AGE_BUCKETS = (*LATENCY_BUCKETS, 1800.0, 3600.0, 3 * 3600.0, 12 * 3600.0, 86400.0, 7 * 86400.0)

ARTICLES = Counter("rasid_articles_total", "Articles enriched, by source.", ["source"])
ARTICLE_REGIONS = Counter(
    "rasid_article_regions_total",
    "Region labels given to enriched articles (ISO codes from the gazetteer, or 'none').",
    ["region"],
)
ARTICLE_TOPICS = Counter(
    "rasid_article_topics_total",
    "Topic labels given to enriched articles (the fixed topic codes, or 'none').",
    ["topic"],
)
PUBLISHED_TO_INGESTED = Histogram(
    "rasid_published_to_ingested_seconds",
    "From an article's published_at to the worker ingesting it.",
    buckets=AGE_BUCKETS,
)
KAFKA_TO_INGESTED = Histogram(
    "rasid_raw_wait_seconds",
    "From the raw record's Kafka timestamp to the worker ingesting it (time queued in Kafka).",
    buckets=LATENCY_BUCKETS,
)
INGESTED_TO_ALERTED = Histogram(
    "rasid_ingested_to_alerted_seconds",
    "From ingested_at to the broker acknowledging the alert (through rasid.articles.enriched).",
    buckets=LATENCY_BUCKETS,
)
SOURCE_LAST_ARTICLE = Gauge(
    "rasid_source_last_article_timestamp_seconds",
    "Unix time of the last article seen from a source (configured sources start at worker start).",
    ["source"],
)
SOURCE_EXPECTED_INTERVAL = Gauge(
    "rasid_source_expected_interval_seconds",
    "Longest expected gap between two articles of a configured source (RASID_SOURCE_INTERVALS).",
    ["source"],
)
RULESET_INFO = Gauge(
    "rasid_ruleset_info", "The loaded rule set's version (value 1 on the current one).", ["version"]
)
RULESET_LOADED_AT = Gauge(
    "rasid_ruleset_loaded_timestamp_seconds", "Unix time the current rule set was loaded."
)
CONSUMER_LAG = Gauge(
    "rasid_consumer_lag",
    "Messages not yet committed by this worker: log end offset minus committed offset.",
    ["topic", "partition"],
)
CONSUMER_LAG_UPDATED = Gauge(
    "rasid_consumer_lag_updated_timestamp_seconds", "Unix time consumer lag was last measured."
)


def set_ruleset(count: int, version: str) -> None:
    """Publish the rule set now in use (call on every load or reload)."""
    RULES_LOADED.set(count)
    RULESET_INFO.clear()
    RULESET_INFO.labels(version=version).set(1)
    RULESET_LOADED_AT.set_to_current_time()
