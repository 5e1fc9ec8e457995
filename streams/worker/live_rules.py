"""The live rule store: every worker reads ALL of the compacted rules topic (no consumer
group, every partition assigned), compiles the rules into one RuleSet and swaps it into the
pipeline atomically whenever a rule changes. Also the topic I/O that `rasid rules` uses.

Why not a faust agent: an agent joins the worker's consumer group, and the group would split
the rule partitions between workers — each would see only some rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError

from streams import metrics
from streams.kafka.admin import create_missing
from streams.kafka.partitions import wait_for_partitions
from streams.rules import RuleFile, RuleSet, load_rule_file
from streams.rules.gcpause import gc_paused
from streams.rules.messages import (
    LiveMessages,
    RuleState,
    plan_push,
    push_header,
    read_push_header,
)
from streams.settings import Settings
from streams.times import utcnow

if TYPE_CHECKING:
    from streams.worker.context import WorkerContext

log = logging.getLogger("rasid.rules")

POLL_MS = 250  # how long one fetch waits for a first record (it returns as soon as one is in)
# After reading to the topic's end, how long to wait for more before compiling: a pack being
# pushed arrives over a second or so, and compiling what came so far only to compile it all
# again moments later doubled a reload. A push hands every record to the producer at once,
# so its records follow each other far closer than this.
SETTLE_MS = 200
MAX_CATCH_UP_S = 30.0  # records arriving for longer than this: compile what is there
# A push whose last record has not come (its records say how many it has: `push_header`):
# read on while its records keep coming less than this apart, however long the settle is;
# after this long without one (the push died), compile what is there.
PUSH_GAP_S = 5.0
# One fetch may bring this much of the rules topic (aiokafka's default is 1 MB a partition:
# a 10,000-rule pack was five fetches, each a round trip after folding the previous one).
FETCH_BYTES = 16 * 1024 * 1024
# A push's records go out in batches of this much (aiokafka's default, 16 kB, made a
# 10,000-rule pack ~270 produce requests, one after the other); under the broker's default
# limit of 1 MB a batch.
BATCH_BYTES = 512 * 1024
RULES_TOPIC_CONFIG = {
    "cleanup.policy": "compact",
    # compact soon after a change, so the topic stays small and a restart reads little
    "min.cleanable.dirty.ratio": "0.1",
    "segment.ms": "3600000",
    "delete.retention.ms": "86400000",  # tombstones stay a day: slow readers see deletes
}


async def ensure_rules_topic(settings: Settings, *, attempts: int = 30) -> bool:
    """Create the compacted rules topic (one partition: a handful of small messages) if it
    does not exist; return whether it was created."""
    topic = NewTopic(
        settings.topic_rules, 1, settings.topic_replication, topic_configs=RULES_TOPIC_CONFIG
    )
    return bool(await create_missing(settings, [topic], attempts=attempts))


class RuleReader:
    """Reads the rules topic into a RuleState: to the end first, then follows it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = RuleState()
        self.consumer: AIOKafkaConsumer | None = None
        self.partitions: list[TopicPartition] = []
        self.end_offsets: dict[TopicPartition, int] = {}
        self.fold_seconds = 0.0  # folding records on a thread, since `took` was last called
        self.fold_records = 0
        # The last record read, as its push header tells: part of a push whose last record
        # has not come (`push_open`), or a push's last record (`push_ended`); neither for a
        # record without one. `last_record_at`: when it was read (monotonic); `last_written`:
        # its timestamp (epoch s).
        self.push_open = False
        self.push_ended = False
        self.last_record_at = 0.0
        self.last_written = 0.0

    async def start(self) -> None:
        await ensure_rules_topic(self.settings)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=FETCH_BYTES,
            fetch_max_bytes=FETCH_BYTES,
        )
        self.consumer = consumer  # before it starts: `stop` closes one cancelled meanwhile
        await consumer.start()
        topic = self.settings.topic_rules
        self.partitions = await wait_for_partitions(consumer, topic, timeout=30.0)
        if not self.partitions:
            raise RuntimeError(f"rules topic {topic} has no partitions")
        consumer.assign(self.partitions)
        await consumer.seek_to_beginning(*self.partitions)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None

    async def read_to_end(self) -> bool:
        """Read every record up to the end offsets as of now; return whether rules changed."""
        assert self.consumer is not None
        ends = await self.consumer.end_offsets(self.partitions)
        self.end_offsets = dict(ends)
        changed = False
        while True:
            pending = [tp for tp in self.partitions if await self.consumer.position(tp) < ends[tp]]
            if not pending:
                return changed
            changed |= await self.poll(timeout_ms=1000)

    async def catch_up(self, settle_ms: int = SETTLE_MS) -> bool:
        """After a fetch that brought records: read on while records keep coming, until the
        end the last fetch saw is reached and `settle_ms` passes without a record (a pack
        still being published is read whole before the caller compiles); for at most
        MAX_CATCH_UP_S. Return whether the live rules changed.

        The end is the fetches' high watermark, not `end_offsets`: that request waits behind
        the consumer's fetch in flight, which the broker holds up to fetch.max.wait (500 ms)
        when there is nothing new.

        A push's records say how many it has (`push_header`): after its last one, at the end,
        reading stops without the settle; while it is not all in, reading goes on however far
        apart its records come, until none came for PUSH_GAP_S (the push died). Records
        without the header (an older push's, or a delete's) settle as they always did."""
        assert self.consumer is not None
        deadline = time.monotonic() + MAX_CATCH_UP_S
        changed = False
        while time.monotonic() < deadline:
            if self.push_ended and await self._at_high_watermark():
                break  # a whole push is in and nothing follows it: nothing to settle for
            got, more = await self._fetch(settle_ms)
            changed |= more
            if got or not await self._at_high_watermark():
                continue
            if self.push_open and time.monotonic() - self.last_record_at < PUSH_GAP_S:
                continue  # a push still arriving: its next batch is late, not missing
            break
        if self.push_open:
            log.warning(
                "compiling a push that did not arrive whole",
                extra={"quiet_s": round(time.monotonic() - self.last_record_at, 1)},
            )
        return changed

    def push_in_flight(self) -> bool:
        """The last record read is part of a push whose last record has not come, and it was
        written less than PUSH_GAP_S ago: a push is arriving (at a start, the first load
        waits for it; a push that died long ago, or records compacted away, do not hold a
        start up)."""
        return self.push_open and time.time() - self.last_written < PUSH_GAP_S

    async def _at_high_watermark(self) -> bool:
        assert self.consumer is not None
        for tp in self.partitions:
            high = self.consumer.highwater(tp)
            if high is not None and await self.consumer.position(tp) < high:
                return False
        return True

    async def poll(self, timeout_ms: int = POLL_MS) -> bool:
        """One fetch; return whether the live rules changed."""
        return (await self._fetch(timeout_ms))[1]

    async def _fetch(self, timeout_ms: int) -> tuple[bool, bool]:
        """One fetch: (whether it brought records, whether the live rules changed)."""
        assert self.consumer is not None
        batch = await self.consumer.getmany(*self.partitions, timeout_ms=timeout_ms)
        got = [r for part in batch.values() for r in part]
        if not got:
            return False, False
        self._note_push(got[-1])
        records = [(r.key, r.value) for r in got]
        # Checking and parsing 10,000 rules takes a good fraction of a second: on the loop it
        # would hold the agents, /metrics and heartbeats. Only this task touches the state, so
        # folding it on a thread is safe.
        started = time.perf_counter()
        try:
            return True, await asyncio.to_thread(self._fold, records)
        finally:
            self.fold_seconds += time.perf_counter() - started
            self.fold_records += len(records)

    def _note_push(self, last: Any) -> None:
        """Where the last record read stands in its push (its header), and when it came."""
        mark = read_push_header(last.headers)
        self.push_open = mark is not None and mark[1] + 1 < mark[2]
        self.push_ended = mark is not None and mark[1] + 1 == mark[2]
        self.last_record_at = time.monotonic()
        self.last_written = last.timestamp / 1000

    def _fold(self, records: list[tuple[bytes | None, bytes | None]]) -> bool:
        return self.state.apply_all(records)

    def took(self) -> dict[str, float]:
        """What the fetches since the last call folded, and how long that took (wall clock,
        on its thread): for the "rules loaded" log line."""
        out = {"records": self.fold_records, "fold_ms": round(self.fold_seconds * 1000, 1)}
        self.fold_seconds, self.fold_records = 0.0, 0
        return out

    def is_empty(self) -> bool:
        """Nothing was ever written: every end offset is 0. (A topic whose rules were all
        deleted is not empty, and must not get the default pack back.)"""
        return self.state.records == 0 and not any(self.end_offsets.values())


async def read_rules(settings: Settings) -> RuleState:
    """The current rules, read once (for the CLI)."""
    reader = RuleReader(settings)
    await reader.start()
    try:
        await reader.read_to_end()
    finally:
        await reader.stop()
    return reader.state


async def publish(
    settings: Settings, records: list[tuple[str, bytes | None]], *, producer: Any = None
) -> None:
    """Write (rule id, value or None for a tombstone) records and wait for the acks.

    Every record is handed to the producer first and the acks are awaited together: one
    round trip per batch, not per rule (a 10,000-rule pack one by one took minutes, and the
    workers compiled the half-pushed set on every fetch). One partition, one producer: the
    records stay in order. Each carries `push_header` (this push, its place, how many): a
    worker compiles once the last is in."""
    own = producer is None
    if own:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", max_batch_size=BATCH_BYTES
        )
        await producer.start()
    push_id, count = uuid.uuid4().hex[:12], len(records)
    try:
        acks = [
            await producer.send(
                settings.topic_rules,
                value,
                key=key.encode(),
                headers=[push_header(push_id, index, count)],
            )
            for index, (key, value) in enumerate(records)
        ]
        await asyncio.gather(*acks)
    finally:
        if own:
            await producer.stop()


class _LiveReader(RuleReader):
    """Reads the rules topic for a push: the records are kept as they are (`LiveMessages`),
    and only the ones the plan asks for are decoded and checked."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.live = LiveMessages()

    def _fold(self, records: list[tuple[bytes | None, bytes | None]]) -> bool:
        return self.live.apply_all(records)


async def read_live(settings: Settings) -> LiveMessages:
    """The rules topic's records as a push plans from them, read once."""
    reader = _LiveReader(settings)
    try:  # (cancelled while starting too: `rasid rules push` reads while it checks the file)
        await reader.start()
        await reader.read_to_end()
    finally:
        await reader.stop()
    return reader.live


async def push_files(
    settings: Settings,
    files: list[RuleFile],
    *,
    updated_by: str | None = None,
    live: LiveMessages | None = None,
) -> list[Any]:
    """Publish the changed rules of valid files; return the plan (what was done per rule).

    The topic is read with `read_live` (unless the caller read it: `live`), not `read_rules`:
    the plan needs each file rule's live version and content hash, not every live rule
    parsed (see `LiveMessages`)."""
    import orjson

    if live is None:
        live = await read_live(settings)
    with gc_paused():  # 10,000 messages built and kept: see streams.rules.gcpause
        plan = plan_push(files, live, now=utcnow(), updated_by=updated_by)
        records = [(c.id, orjson.dumps(c.message)) for c in plan if c.message is not None]
    if records:
        await publish(settings, list(records))
    return plan


class LiveRules:
    """The worker side: load before matching, then follow; swap the pipeline's RuleSet."""

    def __init__(self, settings: Settings, on_change: Callable[[RuleSet, RuleState], None]) -> None:
        self.settings = settings
        self.on_change = on_change
        self.reader: RuleReader | None = None
        self.versions: dict[str, int] | None = None  # rasid_rule_version as last published

    async def load(self) -> None:
        reader = RuleReader(self.settings)
        await reader.start()
        self.reader = reader
        await reader.read_to_end()
        if reader.is_empty():
            await self.push_default_pack()
            await reader.read_to_end()
        if reader.push_in_flight():  # the end offsets fell inside a push: not a partial set
            await reader.catch_up()
        await self._swap(reader.state)

    async def push_default_pack(self) -> None:
        """First start: the topic was never written, so seed it with the default pack."""
        path = self.settings.rules_file
        doc = load_rule_file(path)
        if doc.problems:
            log.error(
                "default rule pack invalid, not pushed",
                extra={"path": str(path), "problems": [str(p) for p in doc.problems[:10]]},
            )
            return
        plan = await push_files(self.settings, [doc], updated_by="rasid-worker (first start)")
        log.info("default rule pack pushed", extra={"path": str(path), "rules": len(plan)})

    async def follow(self) -> None:
        """Apply every later change (new, changed, deleted rules) as it arrives."""
        assert self.reader is not None
        while True:
            try:
                if await self.reader.poll():
                    # read on while the records keep coming (a pack is pushed over a second
                    # or so: 10,000 rules are ~4 MB), then compile once
                    first = time.perf_counter()
                    await self.reader.catch_up()
                    read_ms = round((time.perf_counter() - first) * 1000, 1)
                    await self._swap(self.reader.state, catch_up_ms=read_ms)
            except asyncio.CancelledError:
                raise
            except Exception:  # the worker keeps matching with the rules it has
                log.exception("reading the rules topic failed; retrying")
                await asyncio.sleep(1.0)

    async def run(self) -> None:
        while True:
            try:
                await self.load()
                break
            except (KafkaError, OSError, RuntimeError):
                log.exception("loading rules failed; retrying")
                if self.reader is not None:
                    await self.reader.stop()
                    self.reader = None
                await asyncio.sleep(2.0)
        try:
            await self.follow()
        finally:
            if self.reader is not None:
                await self.reader.stop()

    async def _swap(self, state: RuleState, **timings: float) -> None:
        """Compile `state` (on a thread) and swap it in. Logged with the time each step took
        (`timings`: the caller's; reading and folding the records, compiling, and the part on
        the event loop): where a reload's seconds go."""
        started = time.perf_counter()

        def compile_() -> tuple[RuleSet, str, dict[str, int]]:
            versions = {k: int(m["version"]) for k, m in state.messages.items()}
            return state.ruleset(), state.fingerprint(), versions

        # ~0.3 s of CPU for 10,000 rules: off the loop
        ruleset, fingerprint, versions = await asyncio.to_thread(compile_)
        compiled = time.perf_counter()
        self.on_change(ruleset, state)  # in the loop: the pipeline sees the old or the new set
        metrics.set_ruleset(len(ruleset), fingerprint)  # rasid_ruleset_info{version}
        metrics.RULES_GENERATION.inc()
        metrics.RULES_REJECTED.set(len(state.rejected))
        self._publish_versions(versions)
        log.info(
            "rules loaded",
            extra={
                "rules": len(ruleset),
                "fingerprint": fingerprint,
                "versions": dict(sorted(versions.items())),
                "rejected": sorted(state.rejected),
                "compile_ms": round((compiled - started) * 1000, 1),
                "swap_ms": round((time.perf_counter() - compiled) * 1000, 1),
                **(self.reader.took() if self.reader is not None else {}),
                **timings,
            },
        )

    def _publish_versions(self, versions: dict[str, int]) -> None:
        """rasid_rule_version{rule}: set whole on the first load, then only the rules that
        changed or went (10,000 labels set anew took ~50 ms of the event loop per reload)."""
        last = self.versions
        if last is None:
            metrics.RULE_VERSION.clear()
            last = {}
        for rule_id in last.keys() - versions.keys():
            with contextlib.suppress(KeyError):  # cleared meanwhile: nothing to remove
                metrics.RULE_VERSION.remove(rule_id)
        for rule_id, version in versions.items():
            if last.get(rule_id) != version:
                metrics.RULE_VERSION.labels(rule=rule_id).set(version)
        self.versions = versions


def attach(ctx: WorkerContext) -> LiveRules:
    """Wire the live rules into a worker: readiness stays false and the match agent waits
    until the whole topic has been read once."""
    ctx.readiness.waiting_for_rules()

    def on_change(ruleset: RuleSet, state: RuleState) -> None:
        ctx.pipeline.rules = ruleset  # one attribute store: the agent sees old or new set
        ctx.readiness.rules_arrived()

    live = LiveRules(ctx.settings, on_change)

    async def rules_follower() -> None:
        await live.run()

    ctx.app.task(rules_follower)  # started with the worker, cancelled when it stops

    return live
