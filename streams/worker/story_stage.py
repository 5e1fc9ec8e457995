"""The story stage of the worker: every article clustered into a story, and one alert per rule
and story instead of one per article.

Design (docs/subscribers.md, "Story grouping"): the hot agent sends every article, with its story
features (streams/stories/features.py) and its new hits, to `<alerts>.stories`, a topic with ONE
partition. The `rasid.stories` agent consumes it and owns three changelog-backed tables with one
partition (story → state, alert id → current alert, document-frequency snapshots) and an
in-memory inverted index (term → stories), rebuilt from the stories after every partition
assignment. A story spans articles with unrelated keys, so the lookup needs every live story in
one place; one partition gives that without a two-phase protocol across partitions. Its limit:
story assignment runs in one process at a time (faust moves the partition on failure), at the
cost measured by bench/story_stage.py; docs/subscribers.md says how it would be split further.
"""

from __future__ import annotations

import heapq
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from sys import intern
from typing import TYPE_CHECKING, Any

import orjson
from faust.streams import _current_event
from faust.types import EventT

from streams import metrics
from streams.errors import BadInput, DeadLetterReason, Stage
from streams.ids import alert_id
from streams.kafka import names as topics
from streams.kafka.names import CHANGELOG
from streams.settings import Settings
from streams.stories.cluster import (
    StoryIndex,
    StoryParams,
    assign_story,
    expired_keys,
    story_alert,
)
from streams.stories.docfreq import DocFreq
from streams.stories.features import StoryFeatures, places_of, story_features
from streams.times import utcnow
from streams.validation import all_valid, check_outgoing, check_valid, decode_valid
from streams.worker import heap, observe, trend_stage
from streams.worker.batches import Outgoing, deliver, failure_step
from streams.worker.emitted import EmittedIds
from streams.worker.story_store import StoryStore

if TYPE_CHECKING:
    from streams.worker.context import WorkerContext

log = logging.getLogger("rasid.stories")


@dataclass
class StoryStage:
    topic: Any
    stories: StoryStore  # story id → state; the faust table "stories" behind it

    alerts: Any  # faust Table "story-alerts": story id → its alerts' record (`alerts_record`)
    docfreq: Any  # faust Table: "df-NN" → a shard of the document-frequency snapshot
    params: StoryParams
    escalate_at: int
    max_live: int  # live stories held; beyond it the least recently reported close early
    prune_every: float  # seconds between window sweeps (RASID_STORY_PRUNE_SECONDS)
    last_prune: float = 0.0
    last_snapshot: float = 0.0
    # In memory, rebuilt from the tables whenever partitions were assigned (the tables may have
    # moved in between): the inverted index (term → stories) and the document frequencies.
    index: StoryIndex = field(default_factory=StoryIndex)
    df: DocFreq = field(default_factory=DocFreq)
    stale: bool = True

    @classmethod
    def of(
        cls,
        settings: Settings,
        *,
        topic: Any,
        stories: StoryStore,
        alerts: Any,
        docfreq: Any,
        max_live: int | None = None,
    ) -> StoryStage:
        """The stage on these tables, its parameters from the settings (`max_live`: another
        cap than RASID_STORY_MAX_LIVE, for the benches)."""
        return cls(
            topic=topic,
            stories=stories,
            alerts=alerts,
            docfreq=docfreq,
            params=StoryParams.from_settings(settings),
            escalate_at=settings.story_escalate_sources,
            max_live=max_live or settings.story_max_live,
            prune_every=settings.story_prune_seconds,
        )


def refresh(stage: StoryStage, now: float) -> None:
    """Rebuild the index and the document frequencies from the tables if they may be stale."""
    if not stage.stale:
        return
    started = time.perf_counter()
    folded = fold_legacy(stage.alerts)  # records of the previous release, if any: converted
    stage.index = StoryIndex.build(stage.stories, stage.params, now - stage.params.window_seconds)
    stage.df = DocFreq.load(dict(stage.docfreq.items()))
    stage.stale = False
    log.info(
        "story index rebuilt",
        extra={
            "stories": len(stage.stories),
            "terms": len(stage.index.postings),
            "documents": stage.df.docs,
            "alert_records_converted": folded,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )


SNAPSHOT_EVERY = 30.0  # seconds between document-frequency snapshots


def snapshot(stage: StoryStage, now: float) -> bool:
    """Write the document frequencies to their table (from the agent: table writes need the
    current event), at most every SNAPSHOT_EVERY seconds."""
    if now - stage.last_snapshot < SNAPSHOT_EVERY:
        return False
    stage.last_snapshot = now
    for key, shard in stage.df.shards().items():
        stage.docfreq[key] = shard
    return True


def candidate(enriched: dict[str, Any], hits: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    """Hot-stage side: every article, with its story features and its new hits (already
    filtered against the emitted table), as a v3 candidate (key, bytes); the hot stage packs
    the candidates of a batch into one v4 message (streams/worker/agents.py). The features come
    from the tokens the classifiers made of the same title and body (no second normalisation).
    Not schema-checked here: the story stage checks every candidate on its way in."""
    features = story_features(enriched["title"], enriched["body"], places_of(enriched))
    message = {
        "schema_version": 3,
        "article_id": enriched["id"],
        "revision": enriched.get("revision", 1),
        "source": enriched["source"],
        "at": enriched["ingested_at"],
        "event_at": enriched.get("published_at")
        or enriched.get("fetched_at")
        or enriched["ingested_at"],
        "title": enriched["title"][:300],
        "regions": [r["code"] for r in enriched["regions"]][:16],
        "topics": [t["code"] for t in enriched["topics"]][:16],
        "features": features.as_message(),
        "hits": hits,
    }
    return enriched["id"].encode(), orjson.dumps(message)


def forwarded(emitted: EmittedIds, hits: list[dict[str, Any]], partition: int) -> None:
    """After the broker acknowledged the candidate (with its event current): remember its hit
    ids, so a re-published or replayed article costs the single-partition stage nothing. A crash
    before the ids are written forwards them again, and the story stage finds the article
    already in its alert (no fake update)."""
    now = utcnow().timestamp()
    if hits:
        emitted.remember((hit["id"] for hit in hits), partition, now)
    emitted.flush(partition, now)


NO_FEATURES = StoryFeatures({}, {}, {}, (), (), "-")


BATCH_VERSION = 4  # story-candidate.v4: the candidates of one hot-stage batch
BATCH_HEAD = b'{"schema_version":4,"candidates":['  # + candidates joined by "," + BATCH_TAIL
BATCH_TAIL = b"]}"
_OLDER = {1: "story-candidate-v1", 2: "story-candidate-v2"}


def candidates(value: bytes | None) -> tuple[list[Any], bool]:
    """(the candidates of a message, decoded but each still to be checked on its own, whether
    it is a batch): a version-4 batch, or one candidate of version 1-3 (an earlier release).
    BadInput if the message itself is unusable."""
    try:
        message = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise BadInput(DeadLetterReason.INVALID_JSON, str(exc)) from None
    if isinstance(message, dict) and message.get("schema_version") == BATCH_VERSION:
        batch = check_valid("story-candidates", message, "story candidate batch")
        return list(batch["candidates"]), True
    return [message], False


def _decode(value: Any) -> tuple[dict[str, Any], StoryFeatures]:
    """A candidate (encoded, or one decoded item of a batch) of version 3, 2, or 1 (a worker of
    an earlier release, during a rolling upgrade: its MinHash signature is not comparable, so
    the article opens a story of its own and its alerts still go out)."""
    if isinstance(value, bytes):
        message = decode_valid("story-candidate", value, "story candidate", older=_OLDER)
    else:
        message = check_valid("story-candidate", value, "story candidate", older=_OLDER)
    if message["hits"] and not all_valid("alert-hit", message["hits"]):
        raise BadInput(DeadLetterReason.SCHEMA_VIOLATION, "a hit is not a valid alert.v1")
    # versions 1 and 2: first versions only, and nothing for the trends stage to count by
    cand = {"revision": 1, "event_at": message["at"], "title": "", "regions": [], "topics": []}
    cand.update(message)
    # one string per outlet, shared by the stories' sources and copies (sys.intern)
    cand["source"] = intern(message["source"])
    if message["schema_version"] == 1:
        return cand, NO_FEATURES
    return cand, StoryFeatures.from_message(message["features"])


@dataclass
class _Prepared:
    """One candidate through its story assignment, with its alerts built, not yet sent."""

    cand: dict[str, Any]
    story_id: str
    # (alert id, alert, its message, its story-alerts table entry: {"alert": state, "at": s})
    sending: list[tuple[str, dict[str, Any], Outgoing, dict[str, Any]]]
    trend: trend_stage.Pending | None
    at: float


@dataclass
class _Unsent:
    """Prepared candidates of one story message whose alerts are not acknowledged yet: sent
    together, one `deliver` for all of them (one produce request, one wait), instead of one
    per candidate. `entries` is what the story-alerts table will hold for them once they are
    acknowledged (story id → alert id → entry): the next candidates of the message build on
    it as they would on the stored records. An alert id is in it at most once (a second
    revision of an alert is sent only after the first one's ack: `deliver` may retry and
    reorder the messages of one call)."""

    prepared: list[tuple[int, _Prepared]] = field(default_factory=list)
    entries: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def holds(self, prepared: _Prepared) -> bool:
        unsent = self.entries.get(prepared.story_id, {})
        return any(aid in unsent for aid, _, _, _ in prepared.sending)

    def add(self, index: int, prepared: _Prepared) -> None:
        self.prepared.append((index, prepared))
        if prepared.sending:
            unsent = self.entries.setdefault(prepared.story_id, {})
            for aid, _, _, entry in prepared.sending:
                unsent[aid] = entry  # the same dict the table gets once acknowledged


def prepare(stage: StoryStage, ctx: WorkerContext, value: Any, unsent: _Unsent) -> _Prepared:
    """One article (one candidate: its bytes, or decoded, e.g. an item of a batch): assign its
    story; build one alert per hit (opened or updated), on its story's stored alerts and those
    of `unsent`; nothing sent yet."""
    cand, features = _decode(value)
    at = datetime.fromisoformat(cand["at"]).timestamp()
    with metrics.stage(Stage.STORY):
        assignment = assign_story(
            cand["article_id"],
            cand["source"],
            features,
            at,
            stories=stage.stories,
            index=stage.index,
            df=stage.df,
            params=stage.params,
            revision=cand["revision"],
        )
    outcome = (
        "copy"
        if assignment.copy
        else "revised"
        if assignment.revised
        else "new"
        if assignment.is_new
        else "joined"
    )
    metrics.child(metrics.STORY_ASSIGNMENTS, outcome).inc()
    if cand["hits"]:
        stage.stories.keep(assignment.story_id)  # an alert must find its story after a restart
    # One alert per rule (each its own id). The alerts' state is stored only after their
    # acks (`settle`), so a crash in between re-sends, never skips.
    story_id = assignment.story_id
    sending = []
    if cand["hits"]:
        record = stage.alerts.get(story_id)  # the story's alerts: one table read
        pending = unsent.entries.get(story_id, {})
        for hit in cand["hits"]:
            aid = alert_id(hit["rule"], hit["rule_version"], story_id)
            previous = pending.get(aid) or stored_alert(stage.alerts, record, aid)
            if assignment.copy and previous is not None:
                # the same text from the same outlet again: no revision, no webhook (a rule
                # that has no alert on the story yet, e.g. a new rule version, still opens one)
                metrics.ALERTS_SUPPRESSED.inc()
                continue
            alert = story_alert(
                hit,
                story_id,
                previous["alert"] if previous else None,
                now=_alert_time(cand["at"], previous),
                escalate_at=stage.escalate_at,
                revision=cand["revision"],
                aid=aid,
            )
            if alert is None:  # this article (this revision) is already in the alert: a replay
                metrics.ALERTS_SUPPRESSED.inc()
                continue
            check_outgoing("alert", alert)
            out = Outgoing(ctx.topics.alerts, aid.encode(), orjson.dumps(alert))
            sending.append((aid, alert, out, {"alert": alert_state(alert), "at": at}))
    # read now: a later candidate of the message may join the same story before this one's
    # trend events are fed (after its alerts' acks)
    trend = trend_stage.pending(ctx, cand, features, assignment)
    return _Prepared(cand, story_id, sending, trend, at)


async def settle(
    ctx: WorkerContext, stage: StoryStage, unsent: _Unsent
) -> tuple[int, list[tuple[int, Exception]]]:
    """Send the alerts of every candidate in `unsent` at once and wait for all their acks
    (transient broker failures are retried until they succeed: `deliver`); then, candidate by
    candidate in order, store its alerts (one table record per story), count and log them,
    and feed its trend events. A candidate whose alert the broker refused for good (e.g. too
    large) or whose trend records could not be sent fails alone: (index, error) is returned
    for it, with the number of alerts sent. `unsent` is emptied."""
    batch, unsent.prepared, unsent.entries = unsent.prepared, [], {}
    refused = await deliver([out for _, p in batch for _, _, out, _ in p.sending])
    lost = {id(out): out for out in refused}
    sent = 0
    failures: list[tuple[int, Exception]] = []
    changed: dict[str, dict[str, dict[str, Any]]] = {}  # story → its alerts acknowledged
    kept = []
    for index, p in batch:
        bad = next((lost[id(o)] for _, _, o, _ in p.sending if id(o) in lost), None)
        if bad is not None:
            failures.append((index, RuntimeError(f"alert refused by Kafka: {bad.error!r}")))
            continue
        kept.append((index, p))
        if p.sending:
            entries = changed.setdefault(p.story_id, {})
            for aid, _, _, entry in p.sending:
                entries[aid] = entry
    # one changelog record per story, however many of its alerts (and candidates) changed
    for story_id, entries in changed.items():
        store_alerts(stage.alerts, story_id, stage.alerts.get(story_id), entries)
    acked = time.time()  # every alert of the call was acknowledged by now
    logged = log.isEnabledFor(logging.INFO)
    for index, p in kept:
        for aid, alert, _, _ in p.sending:
            observe.alert_sent(alert, acked)
            metrics.child(metrics.ALERTS, alert["rule"], alert["severity"]).inc()
            metrics.child(metrics.STORY_ALERTS, alert["status"]).inc()
            if logged:
                log.info(
                    "alert",
                    extra={
                        "alert_id": aid,
                        "status": alert["status"],
                        "revision": alert["revision"],
                        "story_id": p.story_id,
                        "rule": alert["rule"],
                        "article_id": p.cand["article_id"],
                    },
                )
        # burst detection: the article, and the alerts that opened or gained its outlet
        try:
            await trend_stage.observe_pending(ctx, p.trend, [a for _, a, _, _ in p.sending])
        except Exception as exc:  # a trend record refused for good: this candidate fails
            failures.append((index, exc))
            continue
        sent += len(p.sending)
    return sent, failures


async def process(ctx: WorkerContext, stage: StoryStage, value: Any) -> int:
    """One article (one candidate: its bytes, or decoded, e.g. an item of a batch): assign its
    story; open or update one alert per hit; return alerts sent. Raises if it failed."""
    unsent = _Unsent()
    unsent.add(0, prepare(stage, ctx, value, unsent))
    sent, failures = await settle(ctx, stage, unsent)
    if failures:
        raise failures[0][1]
    return sent


def _alert_time(at: str, previous: dict[str, Any] | None) -> str:
    """The alert's `alerted_at`/`updated_at`: the candidate's time (the article's ingested_at),
    never the wall clock, so a candidate processed again after a crash between the alert's ack
    and the table write yields the same bytes. Never before the previous revision's time:
    candidates from different raw partitions can arrive slightly out of order."""
    if previous is not None:
        before = previous["alert"]["updated_at"]
        if datetime.fromisoformat(before) > datetime.fromisoformat(at):
            return str(before)
    return at


# ------------------------------------------------------------------ the story-alerts table
# Record version 2, one per story: story id → {"v": 2, "at": its alerts' latest update (epoch
# seconds), "alerts": {alert id: {"alert": the alert's state (`alert_state`), "at": seconds}}}.
# An article's alerts all belong to its story, so however many rules it fires, the story
# stage reads one record and writes one changelog record for them (one per alert before:
# at 10,000 rules ~5.5 changelog messages per article, each a faust send and its sensors).
# A story whose record would pass RECORD_BYTES (Kafka takes 1 MB a message) is spilled: its
# record becomes {"v": 2, "at": …, "spilled": true} and each of its alerts a record of its own,
# alert id → {"v": 2, "story": story id, "alert": state, "at": seconds}. The release before
# wrote version 1, one record per alert: alert id → {"alert": the whole alert (v3, or v2),
# "at": seconds}; `fold_legacy` converts those when the table is (re)loaded.
ALERTS_VERSION = 2
RECORD_BYTES = 512 * 1024
# What the next revision of an alert is built from (stories.cluster.story_alert reads these of
# the previous alert, _alert_time `updated_at`); the rest of the alert comes from the hit.
ALERT_STATE = ("articles", "sources", "regions", "topics", "created_at", "revision", "updated_at")


def alert_state(alert: dict[str, Any]) -> dict[str, Any]:
    """What the table keeps of a sent alert: the fields its next revision is built from."""
    return {key: alert[key] for key in ALERT_STATE}


def alerts_record(alerts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A story's record (version 2) holding `alerts` (alert id → {"alert": state, "at": s})."""
    latest = max(entry["at"] for entry in alerts.values())
    return {"v": ALERTS_VERSION, "at": latest, "alerts": alerts}


def alerts_of(record: Any) -> dict[str, dict[str, Any]]:
    """The alerts of a story's record (alert id → {"alert": state, "at": s}); {} for none (or
    a spilled story's: its alerts are records of their own)."""
    if not record:
        return {}
    alerts: dict[str, dict[str, Any]] = record.get("alerts", {})
    return alerts


def stored_alert(table: Any, record: Any, aid: str) -> dict[str, Any] | None:
    """The entry ({"alert": state, "at": s}) of alert `aid`, given its story's record."""
    if record and record.get("spilled"):
        own = table.get(aid)
        return own if own and "story" in own else None
    return alerts_of(record).get(aid)


def store_alerts(
    table: Any, story_id: str, record: Any, changed: dict[str, dict[str, Any]]
) -> None:
    """Write the `changed` alerts of a story whose record was `record`: one record for the
    story, unless it passes RECORD_BYTES (then the story is spilled, above)."""
    spilled = bool(record and record.get("spilled"))
    if not spilled:
        kept = {**alerts_of(record), **changed}
        new = alerts_record(kept)
        listed = sum(len(entry["alert"]["articles"]) + 1 for entry in kept.values())
        # An article listed takes ~0.3 kB, at most ~10 kB (its url and title at the raw
        # article's limits): the record is measured only when it could come near the bound.
        if listed * 10_240 <= RECORD_BYTES or len(orjson.dumps(new)) <= RECORD_BYTES:
            table[story_id] = new
            return
        changed = kept  # spilled now: every alert of the story moves to a record of its own
    latest = max([entry["at"] for entry in changed.values()] + [record["at"] if record else 0.0])
    for aid, entry in changed.items():
        table[aid] = {"v": ALERTS_VERSION, "story": story_id, **entry}
    table[story_id] = {"v": ALERTS_VERSION, "at": latest, "spilled": True}


def fold_legacy(table: Any) -> int:
    """Convert the version 1 records of `table` (one per alert id, written by the previous
    release) into their stories' records, then delete them (tombstones). An alert already
    stored in version 2 keeps the later revision of the two (a worker of the previous release
    may have taken the partition in between, during a rolling upgrade). Call with an event of
    the table's partition current (faust). Returns the number of records converted."""
    legacy = [(k, v) for k, v in list(table.items()) if v and "v" not in v]
    if not legacy:
        return 0
    by_story: dict[str, dict[str, dict[str, Any]]] = {}
    for aid, value in legacy:
        alert = value.get("alert")
        story = alert.get("story_id") if isinstance(alert, dict) else None
        if isinstance(story, str) and all(key in alert for key in ALERT_STATE):
            entry = {"alert": alert_state(alert), "at": value.get("at", 0.0)}
            by_story.setdefault(story, {})[aid] = entry
    for aid, _ in legacy:
        del table[aid]
    for story, entries in by_story.items():
        record = table.get(story)
        changed = {}
        for aid, entry in entries.items():
            kept = stored_alert(table, record, aid)
            if kept is None or kept["alert"]["revision"] < entry["alert"]["revision"]:
                changed[aid] = entry
        if changed:
            store_alerts(table, story, record, changed)
    return len(legacy)


def expire_alerts(table: Any, horizon: float) -> int:
    """Forget the alerts last updated before `horizon`: a story's record whose alerts all are
    goes (a tombstone), one with some is written again without them; a spilled story's
    alerts go one by one, its record with the last. Returns alerts forgotten."""
    forgotten = 0
    for key, record in list(table.items()):
        if not record:
            continue
        alerts = alerts_of(record)
        if record["at"] < horizon:
            del table[key]
            forgotten += len(alerts) if "alerts" in record else int("spilled" not in record)
            continue
        fresh = {aid: entry for aid, entry in alerts.items() if entry["at"] >= horizon}
        if len(fresh) < len(alerts):
            table[key] = alerts_record(fresh)
            forgotten += len(alerts) - len(fresh)
    return forgotten


async def process_message(ctx: WorkerContext, stage: StoryStage, event: EventT[Any]) -> str:
    """Every candidate of one message, in order. In a batch, the candidates' alerts are sent
    together (`settle`: once for the message, or earlier when a candidate revises an alert
    still unacknowledged) and a candidate that fails is dead-lettered on its own (its bytes,
    with the batch's offset) while the others go on; a message of one candidate (versions
    1-3) that fails raises (the caller dead-letters it)."""
    items, batched = candidates(event.message.value)
    if not batched:
        return f"alerts:{await process(ctx, stage, items[0])}"
    sent = 0
    failed: list[tuple[int, str]] = []  # (candidate index, its dead letter's outcome)
    unsent = _Unsent()

    async def send_unsent() -> None:
        nonlocal sent
        count, failures = await settle(ctx, stage, unsent)
        sent += count
        for index, exc in failures:
            failed.append((index, await _letter(index, exc)))

    async def _letter(index: int, exc: Exception) -> str:
        where = f"candidate {index + 1} of {len(items)}: "
        return await _dead_letter(ctx, event, exc, orjson.dumps(items[index]), where)

    for i, item in enumerate(items):
        try:
            prepared = prepare(stage, ctx, item, unsent)
        except Exception as exc:  # bad candidate or a bug: dead-letter it alone, keep going
            failed.append((i, await _letter(i, exc)))
            continue
        if unsent.holds(prepared):  # a revision of an alert not acknowledged yet
            await send_unsent()
        unsent.add(i, prepared)
    await send_unsent()
    return " ".join([f"alerts:{sent}", *(outcome for _, outcome in sorted(failed))])


async def _dead_letter(
    ctx: WorkerContext,
    event: EventT[Any],
    exc: Exception,
    value: bytes | None = None,
    where: str = "",
) -> str:
    step = failure_step(ctx.topics.deadletter, event, Stage.ALERT, exc, value=value, where=where)
    await deliver(step.out)
    if step.done is not None:
        step.done()
    return step.outcome


def prune(stage: StoryStage, now: float) -> int:
    """Forget stories and alerts older than the window, and the index's postings of closed
    stories; the tables' tombstones keep their changelogs small. Run from the agent (faust
    only lets a stream's event modify a table), at most every `prune_every` seconds (then, if
    stories closed, freed heap pages go back to the OS: `heap.trim`); and, as
    soon as more than `max_live` + 10% stories are live, close the least recently reported
    ones down to `max_live` - 10% (memory stays bounded whatever the rate; closing in chunks
    keeps the sort rare). Returns how many alerts, stories and postings were forgotten."""
    deleted = 0
    if now - stage.last_prune >= stage.prune_every:
        stage.last_prune = now
        horizon = now - stage.params.window_seconds
        deleted += expire_alerts(stage.alerts, horizon)
        swept = _close(stage, horizon, "window")
        deleted += swept
        if swept:
            heap.trim()
    slack = stage.max_live // 10
    if len(stage.index.seen) > stage.max_live + slack:
        # the last_seen of the (max_live - slack)-th most recent story: older ones close
        cutoff = heapq.nlargest(stage.max_live - slack, stage.index.seen.values())[-1]
        deleted += _close(stage, cutoff, "capacity")
    metrics.STORIES_LIVE.set(len(stage.index.seen))
    return deleted


def _close(stage: StoryStage, horizon: float, reason: str) -> int:
    """Close the stories last reported before `horizon` (their alerts stay until the window
    ends: a later report opens a new story, and with it a new alert)."""
    keys = expired_keys(stage.stories, "last_seen", horizon)
    for key in keys:
        del stage.stories[key]
    metrics.STORIES_CLOSED.labels(reason=reason).inc(len(keys))
    return len(keys) + stage.index.forget(horizon)


def declare(app: Any, settings: Settings) -> StoryStage:
    """The story topic and tables on the worker's app (the agent comes with `register`)."""
    table_args: dict[str, Any] = {
        "default": None,
        "key_type": str,
        "partitions": 1,
        "extra_topic_configs": CHANGELOG,  # compacted hourly, not weekly
    }
    return StoryStage.of(
        settings,
        # internal: faust creates it, with one partition, before it subscribes.
        topic=app.topic(
            topics.story_candidates(settings),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=1,
            replicas=settings.topic_replication,
            internal=True,
        ),
        stories=StoryStore(app.Table("stories", **table_args)),
        alerts=app.Table("story-alerts", **table_args),
        docfreq=app.Table("story-docfreq", **table_args),
    )


def register(ctx: WorkerContext) -> None:
    """The story agent, and the index's reset on partition assignment."""
    app, settings, stage = ctx.app, ctx.settings, ctx.stories

    def stale(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Rebuilt by the agent, after the tables' recovery; dropped now so a worker that lost
        # the story partition does not keep the index in memory.
        stage.index, stage.df, stage.stale = StoryIndex(), DocFreq(), True
        stage.stories.forget_memory()

    app.on_partitions_assigned.connect(stale)

    @app.agent(stage.topic, name="rasid.stories", concurrency=1)
    async def assign(stream: Any) -> Any:
        # Manual acks: an event is acknowledged only after its alerts were acknowledged by the
        # broker. (faust's auto-ack would ack the in-flight event when the agent is stopped
        # mid-way, e.g. on SIGTERM, and lose its alerts.)
        async for events in stream.noack_take(
            settings.batch_max_messages, within=settings.batch_within_seconds
        ):
            for event in events:
                # table writes find their changelog partition through the current event
                token = _current_event.set(weakref.ref(event))
                try:
                    now = utcnow().timestamp()
                    refresh(stage, now)
                    prune(stage, now)
                    outcome = await process_message(ctx, stage, event)
                    trend_stage.flush(ctx)  # the detector's state, after its records' acks
                    snapshot(stage, now)
                except Exception as exc:  # bad input or a bug: dead-letter it, keep going
                    outcome = await _dead_letter(ctx, event, exc)
                finally:
                    _current_event.reset(token)
                await stream.ack(event)
                yield outcome
