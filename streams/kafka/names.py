"""Names of the subscriber topics, and their creation.

Unless set explicitly, each name is derived from the alerts topic's prefix, so a deployment that
renames its topics (or a test run with its own prefix) gets its own subscriber topics too:
`rasid.alerts` → `rasid.alerts.stories`, `rasid.apikeys`, `rasid.subscriptions`,
`rasid.deliveries.deadletter`, `rasid.trends`.
"""

from __future__ import annotations

from aiokafka.admin import NewTopic

from streams.kafka.admin import create_missing
from streams.settings import Settings

COMPACTED = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"}
# The worker's table changelogs (faust adds cleanup.policy=compact): Kafka compacts only closed
# segments, and by default a segment closes after 7 days or 1 GB, so a table whose keys are
# rewritten (story state, the emitted-ids shards, document-frequency snapshots) or deleted
# (expired stories) kept every old version for a week, and every start read them all back.
CHANGELOG = {
    "segment.ms": str(3_600_000),
    "min.cleanable.dirty.ratio": "0.1",
    "delete.retention.ms": str(3_600_000),
}


# The worker's tables (streams/worker/app.py, story_stage.py); faust names their changelogs
# "<app id>-<table>-changelog".
TABLES = ("emitted-ids", "stories", "story-alerts", "story-docfreq", "trends")


def changelogs(settings: Settings) -> list[str]:
    return [f"{settings.app_id}-{table}-changelog" for table in TABLES]


def prefix(settings: Settings) -> str:
    alerts = settings.topic_alerts
    return alerts[: -len(".alerts")] if alerts.endswith(".alerts") else alerts


def story_candidates(settings: Settings) -> str:
    return settings.topic_story_candidates or f"{settings.topic_alerts}.stories"


def apikeys(settings: Settings) -> str:
    return settings.topic_apikeys or f"{prefix(settings)}.apikeys"


def subscriptions(settings: Settings) -> str:
    return settings.topic_subscriptions or f"{prefix(settings)}.subscriptions"


def deliveries_deadletter(settings: Settings) -> str:
    return settings.topic_deliveries_deadletter or f"{prefix(settings)}.deliveries.deadletter"


def webhook_progress(settings: Settings) -> str:
    return settings.topic_webhook_progress or f"{prefix(settings)}.webhooks.progress"


def trends(settings: Settings) -> str:
    """Burst records (trend.v2), keyed by trend id, written by the story agent."""
    return settings.topic_trends or f"{prefix(settings)}.trends"


async def ensure(settings: Settings, *, attempts: int = 30) -> list[str]:
    """Create the subscriber topics that are missing (the compacted ones with one partition:
    they hold a handful of small records that every reader loads whole)."""
    wanted = [
        NewTopic(apikeys(settings), 1, settings.topic_replication, topic_configs=COMPACTED),
        NewTopic(subscriptions(settings), 1, settings.topic_replication, topic_configs=COMPACTED),
        NewTopic(
            webhook_progress(settings), 1, settings.topic_replication, topic_configs=COMPACTED
        ),
        NewTopic(
            deliveries_deadletter(settings), settings.topic_partitions, settings.topic_replication
        ),
    ]
    return await create_missing(settings, wanted, attempts=attempts)
