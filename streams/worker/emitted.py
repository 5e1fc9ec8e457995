"""The ids of the article-level hits the match stage already forwarded, for a bounded time.

Why: a replayed or re-published article must not reach the story stage with its hits again.
Before issue 20 this was one table entry per hit id, never expired, so every start replayed
the whole history (1M entries: 132 s to ready, +308 MB). Now:

- an id is kept for `horizon_seconds` (RASID_ALERT_DEDUP_DAYS), the replay horizon: past it, a
  re-published article's hits go to the story stage again, which still drops them while its
  story is open (docs/guarantees.md says what that means for subscribers);
- ids are stored as 8-byte hashes, grouped in shards of one partition and one hour, one table
  record per shard. A start reads a few records per partition and hour, not one per alert, and
  memory holds 8 bytes in the shard plus one set entry per id of the horizon;
- a shard is written at most every `flush_every` seconds (from the agent, with an event of its
  partition current: faust sends a table write to that event's changelog partition), and an
  expired shard is deleted there too (a tombstone), so the compacted changelog stays small.

Pure code: the table is any mutable mapping (a faust Table in the worker, a dict in tests).
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field

SHARD_IDS = 50_000  # ids per shard record: 400 KB, under Kafka's 1 MB default message limit
VERSION = b"\x01"  # first byte of a shard record: its encoding


def id_hash(alert_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(alert_id.encode(), digest_size=8).digest(), "little")


def shard_key(partition: int, hour: int, seq: int) -> str:
    return f"{partition}/{hour}/{seq}"


def parse_key(key: str) -> tuple[int, int, int] | None:
    """(partition, hour, seq) of a shard key; None for anything else (ignored)."""
    parts = key.split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def encode(hashes: Iterable[int]) -> bytes:
    return VERSION + array("Q", sorted(hashes)).tobytes()


def decode(value: bytes) -> array[int]:
    if not value or value[:1] != VERSION or (len(value) - 1) % 8:
        raise ValueError("not an emitted-ids shard")
    out = array("Q")
    out.frombytes(value[1:])
    return out


@dataclass
class _Shard:
    hashes: array[int] = field(default_factory=lambda: array("Q"))
    dirty: bool = False


class EmittedIds:
    """Which alert ids were forwarded in the last `horizon_seconds`, persisted in `table`."""

    def __init__(
        self,
        table: MutableMapping[str, bytes],
        *,
        horizon_seconds: float,
        flush_every: float = 10.0,
        shard_ids: int = SHARD_IDS,
    ) -> None:
        self.table = table
        self.horizon = horizon_seconds
        self.flush_every = flush_every
        self.shard_ids = shard_ids
        self.shards: dict[tuple[int, int, int], _Shard] = {}
        self.hashes: set[int] = set()
        self.last_flush: dict[int, float] = {}
        self.doomed: set[str] = set()  # expired keys found by reload, deleted by flush
        self.partitions: set[int] = set()  # the source partitions this worker owns
        self.stale = True

    def reassigned(self, partitions: Iterable[int]) -> None:
        """The worker's partitions changed: `reload` before the next lookup (faust recovers the
        table in between)."""
        self.partitions = set(partitions)
        self.stale = True

    def _hour(self, now: float) -> int:
        return int(now // 3600)

    def _expired(self, hour: int, now: float) -> bool:
        return (hour + 1) * 3600 < now - self.horizon

    def reload(self, now: float) -> None:
        """Rebuild from the table (after faust recovered it for the partitions this worker now
        owns); shards not yet written that belong to those partitions are kept."""
        owned = self.partitions
        kept = {k: s for k, s in self.shards.items() if k[0] in owned and s.dirty}
        self.shards = {}
        self.doomed = set()
        for key, value in list(self.table.items()):
            where = parse_key(key) if isinstance(key, str) else None
            if where is None or where[0] not in owned:
                continue
            if self._expired(where[1], now):
                self.doomed.add(key)
                continue
            try:
                self.shards[where] = _Shard(decode(value))
            except (TypeError, ValueError):
                continue  # not ours: left alone
        for where, shard in kept.items():
            loaded = self.shards.get(where)
            if loaded is not None:
                merged = set(loaded.hashes) | set(shard.hashes)
                shard = _Shard(array("Q", sorted(merged)), dirty=True)
            self.shards[where] = shard
        self.hashes = {h for s in self.shards.values() for h in s.hashes}
        self.stale = False

    def seen(self, alert_id: str) -> bool:
        return id_hash(alert_id) in self.hashes

    def remember(self, alert_ids: Iterable[str], partition: int, now: float) -> None:
        """Note ids forwarded from `partition` (written by the next `flush` of it)."""
        hour = self._hour(now)
        for alert_id in alert_ids:
            h = id_hash(alert_id)
            if h in self.hashes:
                continue
            shard = self._current(partition, hour)
            shard.hashes.append(h)
            shard.dirty = True
            self.hashes.add(h)

    def _current(self, partition: int, hour: int) -> _Shard:
        seq = 0
        while True:
            shard = self.shards.setdefault((partition, hour, seq), _Shard())
            if len(shard.hashes) < self.shard_ids:
                return shard
            seq += 1

    def flush(self, partition: int, now: float, *, force: bool = False) -> int:
        """Write this partition's changed shards and delete its expired ones, at most every
        `flush_every` seconds unless forced. Call with an event of `partition` current (faust).
        Returns the number of table writes and deletes."""
        if not force and now - self.last_flush.get(partition, float("-inf")) < self.flush_every:
            return 0
        self.last_flush[partition] = now
        changes = 0
        for key in [k for k in self.doomed if k.startswith(f"{partition}/")]:
            self.doomed.discard(key)
            if key in self.table:
                del self.table[key]
                changes += 1
        for where, shard in list(self.shards.items()):
            if where[0] != partition:
                continue
            key = shard_key(*where)
            if self._expired(where[1], now):
                del self.shards[where]
                self.hashes.difference_update(shard.hashes)
                if key in self.table:
                    del self.table[key]
                    changes += 1
            elif shard.dirty:
                self.table[key] = encode(shard.hashes)
                shard.dirty = False
                changes += 1
        return changes

    def __len__(self) -> int:
        return len(self.hashes)
