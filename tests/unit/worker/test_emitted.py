"""The forwarded-hit ids: bounded in time, persisted as a few shard records per partition and
hour (streams/worker/emitted.py)."""

from __future__ import annotations

import pytest

from streams.worker.emitted import EmittedIds, decode, encode, id_hash, parse_key, shard_key

DAY = 86400.0
T0 = 1_780_000_000.0  # some instant in 2026


def ids(n: int, tag: str = "a") -> list[str]:
    return [f"{tag}{i:031d}" for i in range(n)]


def store(table: dict[str, bytes] | None = None, **kw: float) -> EmittedIds:
    emitted = EmittedIds(
        {} if table is None else table,
        horizon_seconds=kw.pop("horizon", 30 * DAY),
        flush_every=kw.pop("flush_every", 10.0),
        shard_ids=int(kw.pop("shard_ids", 50_000)),
    )
    emitted.reassigned([0, 1])
    emitted.reload(T0)
    return emitted


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("0/494444/0", (0, 494444, 0)),
        ("12/494444/3", (12, 494444, 3)),
        ("0/494444", None),
        ("a/1/2", None),
        ("0/1/2/3", None),
        ("", None),
        ("-1/1/2", None),
    ],
)
def test_shard_keys(key: str, parsed: tuple[int, int, int] | None) -> None:
    assert parse_key(key) == parsed
    if parsed is not None:
        assert shard_key(*parsed) == key


@pytest.mark.parametrize("bad", [b"", b"\x02" + b"\0" * 8, b"\x01" + b"\0" * 7])
def test_decode_refuses_what_is_not_a_shard(bad: bytes) -> None:
    with pytest.raises(ValueError):
        decode(bad)


def test_encode_decode_round_trip_sorted() -> None:
    hashes = [id_hash(i) for i in ids(100)]
    assert list(decode(encode(hashes))) == sorted(hashes)
    assert len(encode(hashes)) == 1 + 8 * 100  # 8 bytes an id


def test_remembered_ids_are_seen_and_written_per_partition_and_hour() -> None:
    table: dict[str, bytes] = {}
    emitted = store(table)
    emitted.remember(ids(3), 0, T0)
    emitted.remember(ids(2, "b"), 1, T0)
    assert all(emitted.seen(i) for i in ids(3) + ids(2, "b"))
    assert not emitted.seen("c" * 32)
    assert table == {}  # nothing written before a flush
    assert emitted.flush(0, T0) == 1
    hour = int(T0 // 3600)
    assert list(table) == [f"0/{hour}/0"]  # only partition 0's shard: its event is current
    assert sorted(decode(table[f"0/{hour}/0"])) == sorted(id_hash(i) for i in ids(3))
    assert emitted.flush(1, T0) == 1
    assert set(table) == {f"0/{hour}/0", f"1/{hour}/0"}


def test_flush_waits_flush_every_seconds_unless_forced() -> None:
    table: dict[str, bytes] = {}
    emitted = store(table, flush_every=10.0)
    emitted.remember(ids(1), 0, T0)
    assert emitted.flush(0, T0) == 1
    emitted.remember(ids(2)[1:], 0, T0 + 1)
    assert emitted.flush(0, T0 + 5) == 0  # too soon: held in memory
    assert len(decode(next(iter(table.values())))) == 1
    assert emitted.flush(0, T0 + 11) == 1
    assert len(decode(next(iter(table.values())))) == 2
    assert emitted.flush(0, T0 + 30) == 0  # nothing changed: nothing written
    emitted.remember(ids(3)[2:], 0, T0 + 31)
    assert emitted.flush(0, T0 + 32, force=True) == 1


def test_an_id_is_remembered_once() -> None:
    table: dict[str, bytes] = {}
    emitted = store(table)
    emitted.remember(ids(2) + ids(2), 0, T0)
    emitted.remember(ids(2), 1, T0)  # already known (from another partition): not stored twice
    emitted.flush(0, T0)
    emitted.flush(1, T0)
    assert [len(decode(v)) for v in table.values()] == [2]


def test_shards_are_bounded_in_size() -> None:
    table: dict[str, bytes] = {}
    emitted = store(table, shard_ids=3)
    emitted.remember(ids(7), 0, T0)
    emitted.flush(0, T0)
    hour = int(T0 // 3600)
    assert sorted(table) == [f"0/{hour}/0", f"0/{hour}/1", f"0/{hour}/2"]
    assert sorted(len(decode(v)) for v in table.values()) == [1, 3, 3]


def test_a_restart_reads_the_shards_back() -> None:
    table: dict[str, bytes] = {}
    first = store(table)
    first.remember(ids(5), 0, T0)
    first.remember(ids(5, "b"), 1, T0 + 3600)  # another hour
    first.flush(0, T0)
    first.flush(1, T0 + 3600)
    second = EmittedIds(table, horizon_seconds=30 * DAY)
    assert second.stale
    second.reassigned([0, 1])
    second.reload(T0 + 7200)
    assert all(second.seen(i) for i in ids(5) + ids(5, "b"))
    assert len(second) == 10


def test_a_worker_keeps_only_the_partitions_it_owns() -> None:
    table: dict[str, bytes] = {}
    first = store(table)
    first.remember(ids(2), 0, T0)
    first.remember(ids(2, "b"), 1, T0)
    first.flush(0, T0)
    first.flush(1, T0)
    first.remember(ids(3)[2:], 0, T0 + 1)  # not written yet when the rebalance comes
    first.remember(ids(3, "b")[2:], 1, T0 + 1)
    first.reassigned([0])  # partition 1 went to another worker
    first.reload(T0 + 2)
    assert all(first.seen(i) for i in ids(3))  # partition 0, its unwritten id included
    assert not any(first.seen(i) for i in ids(3, "b"))
    assert first.flush(0, T0 + 20) == 1
    assert len(decode(table[f"0/{int(T0 // 3600)}/0"])) == 3


def test_ids_past_the_horizon_are_forgotten_and_their_shards_deleted() -> None:
    table: dict[str, bytes] = {}
    emitted = store(table, horizon=DAY)
    emitted.remember(ids(4), 0, T0)
    emitted.flush(0, T0)
    emitted.remember(ids(1, "b"), 0, T0 + DAY)
    emitted.flush(0, T0 + DAY)
    assert emitted.seen(ids(1)[0])  # a day old (within the shard's hour): still known
    later = T0 + DAY + 2 * 3600
    emitted.flush(0, later)
    assert not any(emitted.seen(i) for i in ids(4))
    assert emitted.seen(ids(1, "b")[0])
    assert len(table) == 1  # the old shard's record is deleted: a tombstone on the changelog


def test_expired_shards_found_at_start_are_deleted_by_the_first_flush() -> None:
    table: dict[str, bytes] = {}
    old = store(table, horizon=DAY)
    old.remember(ids(3), 0, T0)
    old.remember(ids(3, "b"), 1, T0)
    old.flush(0, T0)
    old.flush(1, T0)
    restarted = EmittedIds(table, horizon_seconds=DAY)
    restarted.reassigned([0, 1])
    restarted.reload(T0 + 3 * DAY)
    assert len(restarted) == 0
    assert len(table) == 2  # deleted only with an event of its partition current
    restarted.flush(0, T0 + 3 * DAY)
    assert all(k.startswith("1/") for k in table)
    restarted.flush(1, T0 + 3 * DAY)
    assert table == {}


def test_records_that_are_not_shards_are_left_alone() -> None:
    current = f"0/{int(T0 // 3600)}/0"
    table: dict[str, bytes] = {current: b"junk", "other": b"x"}
    emitted = store(table)
    assert len(emitted) == 0
    emitted.flush(0, T0)
    assert table == {current: b"junk", "other": b"x"}
