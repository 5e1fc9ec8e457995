"""How the detector's state records are laid out in a compacted changelog table: a journal of
segments (docs/trends.md, "State"; issue 13, round eleven).

Pure code, no faust. The detector gives the records that changed since its last write
(`TrendDetector.take_changes`: key → its state record, None for an evicted key); the layout
before this one wrote each as a table record of its own, one changelog message per key and
write. With a large rule pack nearly every alert opens a rule key of its own, so the keys of a
write are distinct and that was ~8 messages per article. Here a write is one **segment**: a
table record `~seg:<n>` (n increasing) holding all of the write's entries; a key's state is
its entry in the latest segment that has one (an entry without a value: the key was evicted).

Compaction, our own (Kafka's keeps the latest record per table key, i.e. every segment):
a segment none of whose entries is the latest of its key any more is deleted (a tombstone);
while the segments hold more than `ratio` times the live entries' bytes (plus `slack_bytes`),
the oldest segment's live entries are copied into the write (as they are: nothing is encoded
again) and it is deleted. A deletion entry is dropped when its segment is compacted: that
segment is then the oldest, so no older one holds the key. Deletions are written after the
segments that replace them, so a crash in between leaves entries twice, never none.

The layout before (one record per key, `~global` included) is read as the oldest layer:
`restore` takes both, and the next `write` moves its live records into segments and deletes
them, as `fold_legacy` does for the story alerts' records.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SEGMENT_PREFIX = "~seg:"
MAGIC = b"\x00tj1"  # not JSON: a reader of the per-key layout fails on it, never misreads it
_HEAD = struct.Struct("<II")  # an entry: its key's UTF-8 length, its value's (or _NONE)
_NONE = 0xFFFFFFFF  # an entry without a value: the key was evicted
SEGMENT_BYTES = 512 * 1024  # a segment's entries at most (Kafka takes 1 MB a message)
SLACK_BYTES = 1 << 20  # garbage always allowed before the oldest segment is compacted
# The segments' bytes allowed per live byte (plus SLACK_BYTES) before compaction copies the
# oldest segment's live entries forward (RASID_TRENDS_JOURNAL_RATIO). At 2 the garbage may grow
# as large as the live bytes: 13.8 MB held at 100,000 articles of bench/state_growth.py
# --worker-pace 100; 1.25 held 9.0 MB, for +11 µs of CPU and ~+50% changelog bytes per article
# (bench/journal.py; docs/performance.md, "Memory: round fifteen"). The default keeps the
# broker's bytes: an operator short of memory, not of broker bandwidth, lowers it.
RATIO = 2.0
_LEGACY = -1  # where a key's record of the per-key layout is


def segment_key(n: int) -> str:
    return f"{SEGMENT_PREFIX}{n}"


def segment_number(key: str) -> int | None:
    """n of a segment's table key; None for a record of the per-key layout."""
    if not key.startswith(SEGMENT_PREFIX):
        return None
    return int(key[len(SEGMENT_PREFIX) :])


def encode(entries: Iterable[tuple[str, bytes | None]]) -> bytes:
    """A segment's record: MAGIC, then per entry its header, its key, its value."""
    parts = [MAGIC]
    for key, value in entries:
        raw = key.encode("utf-8")
        parts += (_HEAD.pack(len(raw), _NONE if value is None else len(value)), raw)
        if value is not None:
            parts.append(value)
    return b"".join(parts)


def decode(blob: bytes) -> list[tuple[str, bytes | None]]:
    """The entries of a segment's record, in order (ValueError if it is not one)."""
    if not blob.startswith(MAGIC):
        raise ValueError("not a trend state segment")
    out: list[tuple[str, bytes | None]] = []
    i, end, head = len(MAGIC), len(blob), _HEAD.size
    while i < end:
        klen, vlen = _HEAD.unpack_from(blob, i)
        i += head
        key = blob[i : i + klen].decode("utf-8")
        i += klen
        if vlen == _NONE:
            out.append((key, None))
        else:
            out.append((key, blob[i : i + vlen]))
            i += vlen
    if i != end:
        raise ValueError("a truncated trend state segment")
    return out


def entry_size(key: str, value: bytes | None) -> int:
    return _HEAD.size + len(key.encode("utf-8")) + (0 if value is None else len(value))


@dataclass(slots=True)
class _Segment:
    blob: bytes  # its record (the table holds the same object): live entries are copied out
    size: int  # its entries' bytes
    live: int  # of which entries still the latest of their key


class Journal:
    """Which segment holds each key's latest entry, and what each segment still holds: turns
    the detector's changes into table writes (`write`), and the table back into the
    detector's state (`restore`)."""

    def __init__(
        self,
        segment_bytes: int = SEGMENT_BYTES,
        slack_bytes: int = SLACK_BYTES,
        ratio: float = RATIO,
    ):
        if ratio < 1:
            raise ValueError("a journal holds at least its live entries: ratio >= 1")
        self.segment_bytes = segment_bytes
        self.slack_bytes = slack_bytes
        self.ratio = ratio
        self._segments: dict[int, _Segment] = {}  # oldest first (numbers only grow)
        self._where: dict[str, tuple[int, int]] = {}  # key → (segment or _LEGACY, entry bytes)
        self._legacy: dict[str, bytes] = {}  # the per-key layout's records not yet moved
        self._next = 0
        self._size = 0  # all segments' entries' bytes
        self._live = 0  # of which the latest of their key

    def stats(self) -> dict[str, int]:
        return {
            "segments": len(self._segments),
            "bytes": self._size,
            "live_bytes": self._live,
            "legacy": len(self._legacy),
        }

    def restore(self, records: Iterable[tuple[str, bytes | None]]) -> dict[str, bytes]:
        """The detector's state (key → record, for `TrendDetector.from_state`) from the
        table's records in any order: the per-key layout's first, then the segments in
        order, a later entry replacing an earlier one. Call on a fresh journal."""
        segments: dict[int, bytes] = {}
        state: dict[str, bytes] = {}
        for key, value in records:
            if value is None:
                continue
            n = segment_number(key)
            if n is None:
                self._legacy[key] = value
                state[key] = value
                self._where[key] = (_LEGACY, entry_size(key, value))
            else:
                segments[n] = value
        for n in sorted(segments):
            blob = segments[n]
            seg = self._segments[n] = _Segment(blob, 0, 0)
            for key, value in decode(blob):
                size = entry_size(key, value)
                self._place(key, n, size)
                seg.size += size
                self._size += size
                if value is None:
                    state.pop(key, None)
                else:
                    state[key] = value
            self._next = n + 1
        return state

    def write(self, changes: Sequence[tuple[str, bytes | None]]) -> list[tuple[str, bytes | None]]:
        """The table writes for the detector's `changes`, in order: the new segments (with
        the records of the per-key layout and the compacted segments' live entries moved
        in), then the records and segments they replace (None: delete)."""
        entries: dict[str, bytes | None] = {}
        for key, value in changes:
            if value is not None or key in self._where:  # an evicted key never written: none
                entries[key] = value
        deleted: list[str] = []
        if self._legacy:  # the per-key layout: its live records move into this write
            for key, value in self._legacy.items():
                if key not in entries and self._where[key][0] == _LEGACY:
                    entries[key] = value
            deleted += self._legacy
            self._legacy.clear()
        fresh = self._next
        chunks = self._chunks(entries)
        # Compaction: the segments written before this one, oldest first.
        budget = max(2 * sum(size for _, _, size in chunks), self.segment_bytes)
        copied, gone = 0, []
        for n, seg in list(self._segments.items()):
            if n >= fresh:
                break
            if seg.live and (
                self._size <= self.ratio * self._live + self.slack_bytes or copied > budget
            ):
                continue  # the oldest still live: keep it (and look only for dead ones)
            if seg.live:
                for key, value in decode(seg.blob):
                    where = self._where.get(key)
                    if where is None or where[0] != n:
                        continue  # replaced since
                    if value is None:  # nothing older holds the key: the entry can go
                        del self._where[key]
                        seg.live -= where[1]
                        self._live -= where[1]
                        continue
                    copied += where[1]
                    self._add(chunks, key, value)
            self._size -= seg.size
            self._live -= seg.live  # 0 unless it had live entries, now copied
            del self._segments[n]
            gone.append(n)
        writes: list[tuple[str, bytes | None]] = []
        for n, chunk, _ in chunks:
            blob = encode(chunk)
            self._segments[n].blob = blob
            writes.append((segment_key(n), blob))
        writes += [(key, None) for key in deleted]  # the per-key layout's before segments':
        writes += [(segment_key(n), None) for n in gone]  # see the docstring
        return writes

    # ------------------------------------------------------------ internals
    def _chunks(
        self, entries: dict[str, bytes | None]
    ) -> list[tuple[int, list[tuple[str, bytes | None]], int]]:
        chunks: list[tuple[int, list[tuple[str, bytes | None]], int]] = []
        for key, value in entries.items():
            self._add(chunks, key, value)
        return chunks

    def _add(
        self,
        chunks: list[tuple[int, list[tuple[str, bytes | None]], int]],
        key: str,
        value: bytes | None,
    ) -> None:
        """Append an entry to the write's last segment (a new one past segment_bytes)."""
        size = entry_size(key, value)
        if not chunks or (chunks[-1][2] + size > self.segment_bytes and chunks[-1][1]):
            n = self._next
            self._next += 1
            self._segments[n] = _Segment(b"", 0, 0)
            chunks.append((n, [], 0))
        n, chunk, total = chunks[-1]
        chunk.append((key, value))
        chunks[-1] = (n, chunk, total + size)
        self._place(key, n, size)
        self._segments[n].size += size
        self._size += size

    def _place(self, key: str, n: int, size: int) -> None:
        """Entry `key` of segment n (`size` bytes) is now the key's latest."""
        old = self._where.get(key)
        if old is not None and old[0] != _LEGACY:  # (the per-key layout's are not counted)
            self._live -= old[1]
            self._segments[old[0]].live -= old[1]
        self._where[key] = (n, size)
        self._segments[n].live += size
        self._live += size
