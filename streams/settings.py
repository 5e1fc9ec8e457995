"""The one settings object. Every tunable comes from the environment with the RASID_ prefix;
nothing else in the code base reads os.environ.

Nothing defaults to the source tree (an installed wheel has none): file settings left unset mean
the copy packaged in `streams/` (streams/resources.py), and state goes under `.cache/` of the
working directory."""

from __future__ import annotations

import socket
from datetime import timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams import resources

# Where processes keep state unless told otherwise: relative to the working directory.
STATE_DIR = Path(".cache")


def _story_join(name: str) -> float:
    """The packaged story model's join setting `name` (bench/train_story_model.py and
    bench/dedup_eval.py chose them)."""
    from streams.stories.cluster import packaged_join

    return packaged_join()[name]


@lru_cache(maxsize=64)  # per article (tz_for_source): a few distinct settings values
def _parse_utc_offset(value: str) -> timezone:
    """'+03:00' / '-0430' / '3' → a fixed-offset timezone."""
    v = value.strip().upper().removeprefix("UTC")
    sign = -1 if v.startswith("-") else 1
    v = v.lstrip("+-")
    digits = v.replace(":", "")
    if len(digits) <= 2:
        hours, minutes = digits or "0", "0"
    else:
        hours, minutes = digits[:-2], digits[-2:]
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RASID_", env_file=None, extra="ignore")

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    app_id: str = "rasid"
    topic_raw: str = "rasid.articles.raw"
    topic_enriched: str = "rasid.articles.enriched"
    topic_alerts: str = "rasid.alerts"
    topic_deadletter: str = "rasid.deadletter"
    topic_rules: str = "rasid.rules"  # compacted, keyed by rule id (streams/worker/live_rules.py)
    topic_partitions: int = Field(6, ge=1)
    # The worker's consumer group membership (docs/guarantees.md, "Recovery times"): a worker
    # that stops heartbeating loses its partitions after the session timeout (faust's default
    # is 60 s); a worker restarted with the same instance id (static membership, Kafka's
    # group.instance.id) gets its partitions back without waiting for that. Two workers must
    # never share an instance id; "" turns static membership off.
    consumer_session_timeout_seconds: float = Field(10.0, gt=0)
    consumer_heartbeat_interval_seconds: float = Field(3.0, gt=0)
    instance_id: str = Field(default_factory=socket.gethostname)
    topic_replication: int = Field(1, ge=1)

    # Worker
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    data_dir: Path = STATE_DIR / "worker"  # faust data dir (table state)
    log_level: str = "INFO"
    max_body_bytes: int = Field(1_000_000, ge=1)  # raw message size limit; larger → dead letter
    # An article whose stages (parse, enrich, match, alert) take longer than this is
    # dead-lettered as `too_slow` at the next stage boundary (docs/guarantees.md "Bad input").
    article_deadline_seconds: float = Field(0.2, gt=0)
    # Agents take up to this many messages at once, waiting at most this long for more, and
    # deliver the batch's output together before acknowledging it (docs/performance.md).
    batch_max_messages: int = Field(20, ge=1)  # 20 × ~5 ms per article bounds a batch's delay
    batch_within_seconds: float = Field(0.005, gt=0)
    # How long the producer keeps retrying a send by itself before failing it (faust's default,
    # 20 min); the parse and match agents then retry it until the broker is back
    # (streams/worker/batches.py). Tests shorten it to make sends really fail during an outage.
    producer_request_timeout_seconds: float = Field(1200.0, gt=0)
    # How long the producer holds a batch for more sends before it goes out. The agents await
    # their sends' acks before they take the next batch, so this is waiting added to each hop;
    # a batch's sends are issued in one loop and still go out together with none. 0 since
    # round ten: p99 ingest → alert 93 / 93 ms against 102 / 161 ms with 5 ms at half
    # capacity, no loss of throughput (docs/performance.md, "Latency: round ten").
    producer_linger_seconds: float = Field(0.0, ge=0, le=1)
    # aiokafka's idempotent producer (streams/worker/faust_fixes.py patch 4). Off by default:
    # after an outage longer than the request timeout its expired batches leave a sequence gap
    # and every later send fails with OutOfOrderSequenceNumber until the worker restarts
    # (tests/integration/test_faults.py, the long outage). Re-sent alerts are byte-identical
    # anyway, so a duplicate from a client retry is exact and harmless (docs/guarantees.md).
    producer_idempotent: bool = False
    # /readyz turns 503 once the broker has been unreachable this long (failed sends, or the
    # metadata probe run every broker_probe_interval_seconds); 200 again at the first success.
    broker_unready_after_seconds: float = Field(30.0, gt=0)
    broker_probe_interval_seconds: float = Field(5.0, gt=0)

    # Operations (docs/metrics.md, docs/operations.md)
    # JSON {"source": seconds}: the longest expected gap between two articles of each source;
    # these sources always get their own metric label (RasidSourceSilent watches them).
    source_intervals: dict[str, float] = Field(default_factory=dict)
    metrics_max_sources: int = Field(50, ge=0)  # other sources seen beyond this: label "other"
    lag_interval_seconds: float = Field(10.0, gt=0)  # how often consumer lag is measured
    shutdown_timeout_seconds: float = Field(20.0, gt=0)  # SIGTERM → exit bound

    # Content
    rules_path: Path | None = None  # unset: the packaged default pack (see rules_file)
    default_utc_offset: str = "+03:00"  # Iraqi outlets publish in Baghdad time
    source_utc_offsets: dict[str, str] = Field(default_factory=dict)  # JSON: {"bbc": "+00:00"}

    # Ingest (rasid ingest / rasid replay; docs/ingest.md)
    sources_path: Path | None = None  # unset: the packaged example file (see sources_file)
    topic_ingest_state: str = "rasid.ingest.state"  # compacted: seen URLs, content hashes
    ingest_state_retention_days: float = Field(90.0, ge=0)  # 0: remember forever
    # Deployments should add a contact: "RasidBot/0.1 (+https://your.site/bot; ops@your.site)"
    ingest_user_agent: str = "RasidBot/0.1 (Arabic news monitoring)"
    ingest_connect_timeout: float = Field(10.0, gt=0)
    ingest_timeout: float = Field(30.0, gt=0)  # whole request, body included
    ingest_host_concurrency: int = Field(2, ge=1)  # requests in flight per host
    ingest_host_interval: float = Field(1.0, ge=0)  # seconds between request starts per host
    ingest_backoff_base: float = Field(30.0, gt=0)  # first retry delay after a failed fetch
    ingest_backoff_max: float = Field(3600.0, gt=0)
    ingest_max_page_bytes: int = Field(5_000_000, ge=1)  # larger responses are refused
    ingest_robots_ttl: float = Field(3600.0, gt=0)
    # Public Telegram channels are read from <base>/s/<channel>; tests point it at 127.0.0.1.
    ingest_telegram_base: str = Field("https://t.me", pattern=r"^https?://[^/?#]+/?$")
    # Sitemap entries and Telegram posts older than this are not published (monitoring, not
    # archiving); a Telegram post already published is revised whatever its age.
    ingest_max_age_hours: float = Field(48.0, gt=0)
    ingest_web_port: int = 6067  # /metrics, /healthz of the ingest process
    # A page that fails for now (timeout, 408/429/5xx) with no feed summary to fall back on is
    # retried with backoff at later polls, at most this many times, then given up.
    ingest_page_max_attempts: int = Field(8, ge=1)
    # Revisions (docs/ingest.md): a published URL whose title or text changed is published
    # again under the same id as the next revision, up to this revision number, and only
    # within this many hours of its first publication.
    ingest_max_revisions: int = Field(20, ge=1, le=100_000)
    ingest_revision_window_hours: float = Field(48.0, ge=0)
    # SIGTERM/SIGINT: `rasid ingest` abandons fetches in flight and exits within this bound.
    ingest_shutdown_seconds: float = Field(8.0, gt=0)
    # Where `rasid ingest` may go (streams/ingest/policy.py HostPolicy): the sites of the
    # sources file's URLs and their subdomains, plus these (comma-separated host names, e.g. a
    # CDN or feed host whose links lead to the outlet). Names that resolve to loopback, private
    # or link-local addresses are refused unless RASID_INGEST_ALLOW_PRIVATE_ADDRESSES.
    ingest_allowed_hosts: str = Field("", max_length=10_000)
    ingest_allow_private_addresses: bool = False
    replay_checkpoint_dir: Path = STATE_DIR / "replay"

    # Stories and subscribers (docs/subscribers.md)
    story_window_hours: float = Field(48.0, gt=0)  # a story not seen for this long is closed
    # Live stories held (~10 KB each); beyond it the least recently reported close early.
    story_max_live: int = Field(20_000, ge=100, le=1_000_000)
    # Seconds between the story stage's window sweeps (closing stories, forgetting old alerts,
    # then handing freed heap pages back: streams/worker/heap.py).
    story_prune_seconds: float = Field(600.0, gt=0, le=86_400)
    # forwarded hit ids are remembered this long: the horizon within which a replayed or
    # re-published article raises nothing again (streams/worker/emitted.py)
    alert_dedup_days: float = Field(30.0, gt=0)
    # min. probability (streams/data/story_model.json) that an article reports a story's event
    story_threshold: float = Field(default_factory=lambda: _story_join("threshold"), gt=0, lt=1)
    # ... and against the story's first article (0: not checked)
    story_anchor: float = Field(default_factory=lambda: _story_join("anchor"), ge=0, lt=1)
    # ... to join a story the article's own outlet has reported already (0: story_threshold)
    story_outlet_threshold: float = Field(
        default_factory=lambda: _story_join("outlet_threshold"), ge=0, lt=1
    )
    story_escalate_sources: int = Field(3, ge=0)  # distinct sources that raise severity; 0: off
    # Derived from topic_alerts' prefix when unset: <prefix>.alerts.stories, <prefix>.apikeys, …
    topic_story_candidates: str | None = None
    topic_apikeys: str | None = None
    topic_subscriptions: str | None = None
    topic_deliveries_deadletter: str | None = None
    topic_webhook_progress: str | None = None
    topic_trends: str | None = None  # <prefix>.trends (streams/trends/, docs/trends.md)
    # Burst detection in the story agent (docs/trends.md#settings; streams/worker/trend_stage.py
    # trend_params maps these to TrendParams, which checks that they fit together).
    trends_enabled: bool = True
    trends_windows_minutes: list[int] = Field(
        default_factory=lambda: [15, 60, 360, 1440], min_length=1, max_length=6
    )
    trends_bucket_minutes: int = Field(5, ge=1, le=60)  # must divide an hour and every window
    trends_grace_minutes: int = Field(30, ge=0)  # older events: baseline only, never a window
    trends_outlet_weight: float = Field(0.5, ge=0, le=1)  # an outlet joining a story
    trends_half_life_hours: float = Field(168.0, gt=0)  # of the keys' baseline rates
    trends_key_warmup_hours: float = Field(72.0, ge=0)  # a key's own history before a verdict
    trends_warmup_hours: int = Field(168, ge=0)  # the stream's distinct hours before any
    trends_warmup_events: int = Field(200, ge=0)  # and its counted articles
    trends_max_keys: int = Field(4096, ge=1, le=20_000)  # least recently active evicted
    # the trend journal's segments held per live byte before compaction (streams/trends/journal.py)
    trends_journal_ratio: float = Field(2.0, ge=1, le=4)
    api_host: str = "127.0.0.1"
    api_port: int = 6068  # rasid api: /alerts, /alerts/stream, the live page
    api_keys_required: bool = True
    api_heartbeat_seconds: float = Field(15.0, gt=0)
    api_buffer_alerts: int = Field(10_000, ge=1)  # recent alerts kept in memory for /alerts
    # What one key may cost (streams/api/limits.py): requests per second with a burst, and open
    # streams; over them the API answers 429 with Retry-After. Not applied without keys.
    api_key_requests_per_second: float = Field(20.0, gt=0)
    api_key_burst: int = Field(40, ge=1)
    api_key_streams: int = Field(10, ge=1)
    # Stream tickets (POST /alerts/stream/ticket): one use, valid this long, signed with this
    # secret; set the same secret on every API process behind a load balancer (unset: a random
    # one per process, so a ticket only works on the process that issued it).
    api_ticket_seconds: float = Field(60.0, gt=0, le=600)
    api_ticket_secret: SecretStr = SecretStr("")
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_max_attempts: int = Field(8, ge=1)  # then the delivery is dead-lettered
    webhook_backoff_base_seconds: float = Field(1.0, gt=0)
    webhook_backoff_max_seconds: float = Field(300.0, gt=0)
    webhook_port: int = 6069  # rasid webhooks: /metrics, /healthz
    # Deliveries (and `subscriptions add`) may target loopback, private, link-local addresses:
    # receivers on a private network, tests on 127.0.0.1. Off: global addresses only (SSRF).
    webhook_allow_private: bool = False
    # a receiver unreachable this long: its queue is dead-lettered and the subscription paused
    # (pinged every backoff cap; resumed by a 2xx)
    webhook_down_limit_seconds: float = Field(1800.0, gt=0)

    @field_validator("trends_windows_minutes")
    @classmethod
    def _check_windows(cls, v: list[int]) -> list[int]:
        # a key holds one cell per bucket of the longest window: two days at most
        if any(not 1 <= m <= 2880 for m in v):
            raise ValueError("trend windows are 1 to 2880 minutes")
        return v

    @field_validator("rules_path", "sources_path", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("default_utc_offset")
    @classmethod
    def _check_offset(cls, v: str) -> str:
        _parse_utc_offset(v)
        return v

    def tz_for_source(self, source: str) -> tzinfo:
        """The timezone an outlet writes its local times in."""
        return _parse_utc_offset(self.source_utc_offsets.get(source, self.default_utc_offset))

    @property
    def rules_file(self) -> Path:
        """The rule pack to load: RASID_RULES_PATH, else the packaged default pack."""
        return resources.rule_pack() if self.rules_path is None else self.rules_path

    @property
    def sources_file(self) -> Path:
        """The sources file of `rasid ingest`: RASID_SOURCES_PATH, else the packaged example."""
        return resources.sources_file() if self.sources_path is None else self.sources_path

    @property
    def topics(self) -> tuple[str, str, str, str]:
        return (self.topic_raw, self.topic_enriched, self.topic_alerts, self.topic_deadletter)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
