"""The trends table's journal layout (streams/trends/journal.py): what is restored is the
detector's latest state, whatever the writes, evictions, compactions, crashes between a write's
table records and the per-key layout of the release before."""

from __future__ import annotations

import random

import pytest

from streams.trends.journal import Journal, decode, encode, segment_key

Changes = list[tuple[str, bytes | None]]


def apply(table: dict[str, bytes], writes: Changes) -> None:
    """What the worker's flush does with the journal's writes on a faust table."""
    for key, value in writes:
        if value is not None:
            table[key] = value
        else:
            table.pop(key, None)


def run(
    steps: list[Changes], *, segment_bytes: int, slack_bytes: int, table: dict[str, bytes]
) -> tuple[Journal, dict[str, bytes]]:
    """Every step's changes through one journal onto `table`; the state they leave."""
    journal = Journal(segment_bytes, slack_bytes)
    state = journal.restore(table.items())
    for changes in steps:
        apply(table, journal.write(changes))
        for key, value in changes:
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
    return journal, state


def random_steps(seed: int, keys: int, steps: int) -> list[Changes]:
    """Hot keys rewritten often, cold ones written once, evictions, values of varying size."""
    rng = random.Random(seed)
    out: list[Changes] = []
    for step in range(steps):
        changes: Changes = [("~global", f"g{step}".encode())]
        for _ in range(rng.randint(0, 12)):
            k = rng.choice([f"IQ|{rng.randint(0, 5)}", f"rule:{rng.randint(0, keys)}"])
            if rng.random() < 0.1:
                changes.append((k, None))
            else:
                changes.append((k, bytes([step % 251]) * rng.randint(1, 400)))
        out.append(list(dict(changes).items()))  # a key once per write, as take_changes
    return out


@pytest.mark.parametrize(
    ("seed", "keys", "segment_bytes", "slack_bytes"),
    [
        (1, 50, 1 << 20, 1 << 20),  # one segment a write, no compaction
        (2, 50, 600, 0),  # several segments a write, compaction at every chance
        (3, 5000, 2000, 4000),  # cold keys: copied forward by compaction
        (4, 3, 300, 0),  # few keys rewritten all the time: dead segments go
    ],
)
def test_the_table_restores_the_latest_state(
    seed: int, keys: int, segment_bytes: int, slack_bytes: int
) -> None:
    table: dict[str, bytes] = {}
    steps = random_steps(seed, keys, 300)
    journal, state = run(steps, segment_bytes=segment_bytes, slack_bytes=slack_bytes, table=table)
    assert Journal().restore(table.items()) == state
    assert all(k.startswith("~seg:") for k in table)
    stats = journal.stats()
    assert stats["segments"] == len(table)
    assert stats["bytes"] == sum(len(v) - 4 for v in table.values())  # MAGIC is 4 bytes
    # bounded: at most twice the live bytes, the slack and what one write adds
    assert stats["bytes"] <= 2 * stats["live_bytes"] + slack_bytes + 3 * max(segment_bytes, 6000)
    # and a journal restored from the table goes on as the one that wrote it
    again = Journal(segment_bytes, slack_bytes)
    again.restore(table.items())
    assert again.stats() == stats
    more = random_steps(seed + 100, keys, 50)
    copy = dict(table)
    for changes in more:
        apply(copy, again.write(changes))
    check = dict(state)
    for changes in more:
        for key, value in changes:
            if value is None:
                check.pop(key, None)
            else:
                check[key] = value
    assert Journal().restore(copy.items()) == check


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_a_crash_inside_a_write_leaves_each_key_old_or_new(seed: int) -> None:
    """A write's table records go out in order; after any prefix of them every key restores
    to its state before the write or after it: never lost, never older."""
    table: dict[str, bytes] = {}
    steps = random_steps(seed, 40, 200)
    journal = Journal(500, 0)
    before: dict[str, bytes] = {}
    for changes in steps:
        writes = journal.write(changes)
        after = dict(before)
        for key, value in changes:
            if value is None:
                after.pop(key, None)
            else:
                after[key] = value
        for cut in range(len(writes) + 1):
            partial = dict(table)
            apply(partial, writes[:cut])
            got = Journal().restore(partial.items())
            for key in before.keys() | after.keys():
                assert got.get(key) in (before.get(key), after.get(key)), (key, cut)
                if before.get(key) == after.get(key):
                    assert got.get(key) == before.get(key)
        apply(table, writes)
        before = after


def test_evicted_keys_stay_deleted_through_compaction() -> None:
    table: dict[str, bytes] = {}
    journal = Journal(1000, 0, 2.0)  # the steps below are sized for this ratio
    apply(table, journal.write([("rule:a", b"x" * 50), ("rule:b", b"y" * 50)]))
    apply(table, journal.write([("rule:a", None), ("rule:never-written", None)]))
    assert Journal().restore(table.items()) == {"rule:b": b"y" * 50}
    assert [k for k, _ in decode(table[segment_key(1)])] == ["rule:a"]  # a deletion entry
    for i in range(5):  # a hot key: its old segments are dead, deleted at once
        apply(table, journal.write([("IQ|*", bytes([i]) * 120)]))
    assert len(table) == 3
    # a big entry evicted: its segment is mostly garbage, the oldest are compacted
    apply(table, journal.write([("rule:c", b"c" * 400), ("rule:d", b"d")]))
    apply(table, journal.write([("rule:c", None)]))
    state = {"rule:b": b"y" * 50, "IQ|*": bytes([4]) * 120, "rule:d": b"d"}
    assert Journal().restore(table.items()) == state
    entries = [k for blob in table.values() for k, _ in decode(blob)]
    assert "rule:a" not in entries and segment_key(0) not in table  # went with the oldest
    # and rule:c's deletion entry, until its segment is the oldest
    assert sorted(entries) == sorted([*state, "rule:c"])


def test_the_per_key_layout_of_the_release_before_is_read_and_moved() -> None:
    """A table written by the release before (one record per key): restored as it is; the
    next write moves its records into a segment and deletes them."""
    legacy = {"~global": b'{"v":1}', "IQ|*": b'{"v":1,"a":1}', "rule:r1": b'{"v":1,"b":2}'}
    table = dict(legacy)
    journal = Journal()
    assert journal.restore(table.items()) == legacy
    writes = journal.write([("~global", b'{"v":1,"g":2}'), ("rule:r1", None)])
    # the segment first, then the old records' tombstones
    assert [k for k, v in writes if v is not None] == [segment_key(0)]
    assert {k for k, v in writes if v is None} == set(legacy)
    for cut in range(len(writes) + 1):  # a crash in between: nothing lost, nothing back
        partial = dict(legacy)
        apply(partial, writes[:cut])
        got = Journal().restore(partial.items())
        if cut == 0:
            assert got == legacy
        else:  # the segment: rule:r1 evicted, the rest as restored
            assert got == {"~global": b'{"v":1,"g":2}', "IQ|*": legacy["IQ|*"]}
    apply(table, writes)
    assert list(table) == [segment_key(0)]
    assert Journal().restore(table.items()) == {"~global": b'{"v":1,"g":2}', "IQ|*": legacy["IQ|*"]}


@pytest.mark.parametrize(
    "entries",
    [[], [("k", b"")], [("~global", None)], [("rule:خط", b"{}"), ("IQ|*", None), ("x", b"\x00")]],
)
def test_a_segment_decodes_to_its_entries(entries: Changes) -> None:
    assert decode(encode(entries)) == entries


@pytest.mark.parametrize("blob", [b'{"v":1}', encode([("k", b"abc")])[:-1]])
def test_a_record_that_is_no_segment_is_refused(blob: bytes) -> None:
    with pytest.raises(ValueError):
        decode(blob)
