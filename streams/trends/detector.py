"""The burst detector: "is something happening?" per region × topic and per rule.

Pure code, no faust, no wall clock: time comes from the events alone, so a replay of the same
input in the same order gives the same trend records, byte for byte (docs/trends.md).

What is counted. An article reaches the detector after story clustering, under each key it
belongs to (`keys_for`: its regions × topics, each region alone, each topic alone; `rule:<id>`
when an alert on it opens or gains an outlet). Only two things count: a **new story** (weight 1)
and an **outlet joining a story** it had not reported yet (weight `outlet_weight`, 0.5). More
articles of the same outlet on the same story, and copies, count nothing: ten copies of one story
are one event. Half a point per outlet: a story all five outlets carry weighs 3, more than a
story only one carries, less than five separate events.

Windows. Counts live in 5-minute buckets of event time (`published_at`, else `fetched_at`) and
are summed over sliding windows of 15 min, 1 h, 6 h and 1 d that end at the watermark (the latest
event time seen). An event older than watermark − `grace_seconds` (30 min) is **late**: it goes
into the key's baseline (so an outlet that always lags does not make the baseline too low),
is counted in `late`, and never into a window.

Baseline. Per key, an EWMA of its hourly counts (half-life 7 days; hours are closed as the
watermark passes them; bias-corrected while young) × an hour-of-day profile (the key's own 24
counts shrunk towards the whole stream's by a prior of `season_prior` events: hour-of-week is far
too sparse at a few events a day) × the stream factor (the whole stream's volume of the last two
days or so relative to its usual week: a source added or lost moves every key at once, and is
not news). The expected count of a window is floored at `min_expected`, so that a quiet key is
not "extreme" over two events. A silence of the whole stream longer than `max_gap_hours` is an
outage: its hours are left out of every rate.

Verdict. p = P(X ≥ count) under Poisson(expected) (streams/trends/poisson.py, continuous in the
count), for counts ≥ `min_count` and ≥ `min_ratio` × expected. Every event re-tests every sliding
window, so the levels are set on p_day = p × the windows a day holds × (count − expected) (the
Poisson clumping heuristic for a scan statistic): about how often a calm key shows such a window
per day. elevated below 1e-3, high below 1e-5, extreme below 1e-7. A key is judged after
`key_warmup_hours` of its own history, once the stream has `global_warmup_hours` distinct hours
and `global_warmup_events` counted articles. The key's level is the highest over its windows; a
record goes out when it enters a level or escalates, not per article; the episode ends when no
window is at p < `calm_p` any more.

Why. A record says the count, the expected count and how it was made, the window, the top
stories (headline, size, outlets) and the terms that grew: the terms of the window's stories
whose share is at least twice their share among the key's earlier stories (a fading count).

Bounded state. Per key: one cell per 5 minutes of the longest window, 24 profile counts, up to
2 × `max_stories` story slots, up to 4 × `max_terms` term counts; at most `max_keys` keys, the
least recently active evicted first (`take_changes` reports it as deleted).
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate, chain, compress, islice, repeat
from operator import and_, rshift, sub
from sys import intern
from typing import Any

import orjson
from orjson import Fragment

from streams.trends.poisson import tail

LEVELS = ("elevated", "high", "extreme")
GLOBAL = "~global"  # the state record of the whole stream (watermark, profile, counters)
ANY = "*"
RULE_PREFIX = "rule:"
GULF = frozenset({"AE", "BH", "KW", "OM", "QA", "SA"})  # the GCC states
DAY_HOURS = 24
_STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class TrendEvent:
    """One article as one key sees it, after story clustering."""

    at: float  # event time, seconds since the epoch
    key: str
    story_id: str
    is_new_story: bool  # the article opened its story
    source: str
    new_outlet: bool  # the article's outlet had not reported its story before
    headline: str = ""
    terms: tuple[str, ...] = ()
    story_size: int = 1  # articles in the story, this one included


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    seconds: int


@dataclass(frozen=True)
class TrendParams:
    windows: tuple[Window, ...] = (
        Window("15m", 900),
        Window("1h", 3600),
        Window("6h", 21600),
        Window("1d", 86400),  # at a few outlets, a day's event is spread over more than 6 h
    )
    bucket_seconds: int = 300
    grace_seconds: int = 1800
    outlet_weight: float = 0.5
    half_life_hours: float = 168.0  # the keys' rates and the stream's usual volume
    stream_half_life_hours: float = 48.0  # the stream's current volume
    key_warmup_hours: float = 72.0
    global_warmup_hours: int = 168  # distinct hours with events: a week of the daily rhythm
    global_warmup_events: int = 200
    max_gap_hours: int = 12  # a longer silence of the whole stream is an outage, not news
    thresholds: tuple[float, ...] = (1e-3, 1e-5, 1e-7)  # p_day of elevated, high, extreme
    calm_p: float = 1e-2
    min_count: float = 3.0
    min_ratio: float = 2.0
    min_expected: float = 0.5
    season_prior: float = 24.0  # a key's profile: events' worth of the stream's
    stream_season_prior: float = 480.0  # the stream's profile: events' worth of a flat one
    season_cap: float = 4096.0  # profile counts are halved past this sum: old hours fade
    max_keys: int = 4096
    max_stories: int = 16  # story slots kept per key (up to twice as many between prunes)
    top_stories: int = 5
    max_sources: int = 16
    max_terms: int = 64  # term counts kept per key (up to four times as many between prunes)
    terms_cap: float = 256.0  # term counts are halved past this many stories
    top_terms: int = 8
    min_term_count: float = 2.0  # stories of the window that share a term
    max_event_terms: int = 8
    max_term_chars: int = 40
    max_headline_chars: int = 300
    max_key_chars: int = 200
    max_regions: int = 2  # of an article, strongest first (keys_for)
    max_topics: int = 2
    region_groups: Mapping[str, frozenset[str]] = field(default_factory=lambda: {"GULF": GULF})

    def __post_init__(self) -> None:
        b = self.bucket_seconds
        if b <= 0 or 3600 % b:
            raise ValueError("bucket_seconds must divide an hour")
        if not self.windows or any(w.seconds <= 0 or w.seconds % b for w in self.windows):
            raise ValueError("every window must be a positive multiple of bucket_seconds")
        if not 0 <= self.grace_seconds < max(w.seconds for w in self.windows):
            raise ValueError("grace_seconds must be shorter than the longest window")
        if len(self.thresholds) != len(LEVELS) or list(self.thresholds) != sorted(
            self.thresholds, reverse=True
        ):
            raise ValueError("thresholds: one p-value per level, decreasing")
        if not self.calm_p >= self.thresholds[0]:
            raise ValueError("calm_p must be at least the elevated threshold")
        if min(self.max_keys, self.max_stories, self.max_terms, self.max_gap_hours) < 1:
            raise ValueError("max_keys, max_stories, max_terms, max_gap_hours must be positive")


DEFAULTS = TrendParams()


def keys_for(
    regions: Sequence[str], topics: Sequence[str], params: TrendParams = DEFAULTS
) -> list[str]:
    """The keys of an article from its regions and topics (strongest first): each of its
    first `max_regions` regions and the groups they belong to (the Gulf), crossed with each of
    its first `max_topics` topics; each region alone (`IQ|*`: an event filed under politics by
    one outlet and security by another is still one place's event); each topic alone
    (`*|security`: what no region key sees, e.g. articles with no place found)."""
    p = params
    regs = list(dict.fromkeys(r for r in regions[: p.max_regions] if r))
    regs += [g for g, members in p.region_groups.items() if any(r in members for r in regs)]
    tops = list(dict.fromkeys(t for t in topics[: p.max_topics] if t))
    keys = [f"{r}|{t}" for r in regs for t in tops]
    keys += [f"{r}|{ANY}" for r in regs]
    keys += [f"{ANY}|{t}" for t in tops]
    return keys


def trend_id(key: str, window: str, start_bucket: int, level: str) -> str:
    """One id per key, window, window start and level: a replay sends the same ids."""
    text = "\x1f".join((key, window, str(start_bucket), level))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _ewma(state: list[float], last: float, hours: int, decay: float) -> None:
    """Close `hours` hours into an EWMA [sum, weight]: the first with `last`, the rest empty.
    sum / weight is the mean per hour, bias-corrected while the history is short."""
    an = decay**hours
    state[0] = state[0] * an + last * decay ** (hours - 1)
    state[1] = state[1] * an + (1.0 - an) / (1.0 - decay)


def _fade(profile: list[float], total: float, cap: float) -> float:
    """Halve a profile past its cap (in place): old hours weigh less. Returns the new total."""
    if total <= cap:
        return total
    profile[:] = [x / 2 for x in profile]
    return total / 2


def _gate(p: TrendParams, below: float) -> float:
    """The count under which a window's p-value cannot be below `below` whatever its
    expected count: P(X ≥ count) grows with the mean, and the mean is at least min_expected.
    Found by bisection, a hair low (counts are multiples of 0.5): a window under it is
    skipped without computing its expected count, which changes no verdict."""
    lo, hi = 0.0, 1.0
    while tail(hi, p.min_expected) >= below:
        lo, hi = hi, hi * 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid, p.min_expected) >= below else (lo, mid)
    return max(p.min_count, lo - 1e-6)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


# Two counts in one int per cell and per window sum: new stories in the low 32 bits, outlets
# joining above them. A key keeps only its non-empty cells, as running totals (`_Key.bks`,
# `_Key.tot`): a window's sum is a bisection and one subtraction, and sliding drops what fell
# out of the longest window, whatever the windows and however far it slides. The totals are
# rebased before the low part nears 2**32 (`_REBASE`), so it never carries into the high one.
_SHIFT = 32
_LOW = (1 << _SHIFT) - 1
_JOINED = 1 << _SHIFT
_REBASE = 1 << 30
_TERM_BLOCK = 16  # term pairs joined together in a key's state record
_MAX_DIRTY = 64  # new stories' terms held for a key's next dump (then: encode all)
# Keys whose encoded parts are kept after their dump, the most recently written: a key's parts
# are ~45% of its memory (docs/performance.md, "Memory: round thirteen") and save CPU only
# when it is written again soon; a key written less recently encodes its whole state again,
# in one orjson.dumps (`_Key.dump_whole`), and keeps parts only if written again soon after.
ENCODED_KEYS = 256

# One float object per value of the term counts and story reports (sums of 1 and 0.5 and their
# halves: few values), where each count held a float of its own (32 bytes with its pool: 72,000
# counts at 40,000 articles; docs/performance.md, "Memory: round fourteen"). The same values, so
# the same records and states; bounded, and a value past the bound is kept as it is.
FLOATS_CAP = 4096
_FLOATS: dict[float, float] = {}


def _shared(x: float) -> float:
    """The one object kept for value `x` (the counts are positive: -0.0 never meets 0.0)."""
    v = _FLOATS.get(x)
    if v is None:
        if len(_FLOATS) >= FLOATS_CAP:
            return x
        v = _FLOATS[x] = x
    return v


# One tuple object per outlet for the story slots that one outlet reported (most of them:
# every slot held a 1-tuple of its own, 56 bytes; 15,402 slots at 100,000 articles of
# bench/state_growth.py, docs/performance.md "Memory: round sixteen"). Equal tuples, so the
# same records and states; bounded (outlets are few): past it, a tuple of its own.
OUTLETS_CAP = 4096
_ONE_OUTLET: dict[str, tuple[str]] = {}


def _one_outlet(source: str) -> tuple[str]:
    """The one `(source,)` tuple kept for an (interned) outlet name."""
    t = _ONE_OUTLET.get(source)
    if t is None:
        t = (source,)
        if len(_ONE_OUTLET) < OUTLETS_CAP:
            _ONE_OUTLET[source] = t
    return t


def _outlets(sources: tuple[str, ...]) -> tuple[str, ...]:
    """A slot's outlets as read back from a state record: a single outlet's tuple shared."""
    return _one_outlet(sources[0]) if len(sources) == 1 else sources


# A key's state record holds arrays of arrays (its story slots, its term pairs), spliced from
# their insides (`"a",1.0`) as cached since the last dump (`_Key.dump`). Cached parts are kept
# as slices or joins: a slice is a new bytes object of its own size, while orjson.dumps's
# result keeps the whole buffer it wrote into (about 2 KB for a short pair).


# A slot's headline is held as its JSON (`_title`): orjson caches a UTF-8 copy inside every
# non-ASCII str it encodes (+~200 bytes on a ~100-character Arabic headline, for as long as the
# str lives), and the slots' headlines were encoded at every dump. The JSON bytes are spliced
# into the record as they are (orjson.Fragment), the same bytes; a record's few top stories
# decode theirs. (docs/performance.md, "Memory: round seventeen".)
_NO_TITLE = b'""'


def _title(headline: str) -> bytes:
    """A headline's JSON, a bytes object of its own size (orjson's result keeps its buffer)."""
    return bytes(memoryview(orjson.dumps(headline))) if headline else _NO_TITLE


@dataclass(slots=True)
class _Story:
    """What a key remembers of a story it counted: for the top stories and the terms."""

    title: bytes  # the headline's JSON (one object shared by the keys that counted the story)
    size: int
    # its outlets, interned (few names: every article's candidate decoded its own copy); a
    # tuple, 32 bytes less than a list of one (most stories have one outlet under a key)
    sources: tuple[str, ...]
    reports: float  # weighted count of its events under this key (a `_shared` float)
    first: float
    last: float
    terms: Sequence[str]  # the article's cleaned terms (one tuple shared by its keys)

    @property
    def headline(self) -> str:
        out: str = orjson.loads(self.title)
        return out

    def slot(self, sid: str) -> list[Any]:
        """Its slot in the key's state record (the headline's JSON spliced in as it is)."""
        return [
            sid,
            Fragment(self.title),
            self.size,
            self.sources,
            self.reports,
            self.first,
            self.last,
            self.terms,
        ]

    def encode(self, sid: str) -> bytes:
        """Its slot, encoded without the brackets (see _Key.dump)."""
        return orjson.dumps(self.slot(sid))[1:-1]


@dataclass(slots=True)
class _Key:
    seq: int  # when it was last active (least recently active keys are evicted first)
    first: int  # the stream hour (`_clock`) when the key appeared: its history starts there
    head: int  # the bucket of the last cell
    # The non-empty cells (new + joined << 32) of the longest window, as running totals: the
    # buckets in increasing order after a first one at or before the window's start (its
    # total is what left the window), and the total up to each. The window of `span` buckets
    # ending at `head` sums to tot[-1] - tot[bisect_right(bks, head - span) - 1].
    bks: list[int]
    tot: list[int]
    hour: int  # the stream hour `acc` collects
    hod: int  # its hour of day (UTC)
    acc: float
    rate: list[float]  # EWMA [sum, weight] of the closed hours
    season: list[float]  # weighted events per hour of day (UTC)
    season_total: float
    stories: dict[str, _Story]
    terms: dict[str, float]
    terms_total: float
    level: int  # 0 none, else 1 + index in LEVELS
    since: float | None  # when the current episode began
    late: int
    day: int  # the last day (UTC) the key was judged
    days: int  # days judged
    # Per window, its expected count in bucket `exp_now` (< 0: not computed yet): it changes
    # only when a bucket or an hour closes, and the key's busy windows are judged often.
    exp_now: int = -1
    exp: list[float] = field(default_factory=list)
    # Its rate (`TrendDetector._rate`) in stream hour `rate_hour`: it changes only when an
    # hour closes (the key's own or the stream's factor).
    rate_hour: int = -1
    rate_now: float = 0.0
    # The state record's parts as encoded at the last dump (the worker writes a key after
    # every candidate message that changed it), and what changed since: only that is encoded
    # again. None: encode all (after a prune or a fade).
    season_blob: bytes | None = None  # season and season_total
    story_blobs: dict[str, bytes] | None = None  # one per story slot, in the order of `stories`
    touched: dict[str, None] = field(default_factory=dict)  # stories counted since
    term_pos: dict[str, int] | None = None  # a term's place in `terms`
    term_frags: list[bytes] = field(default_factory=list)  # its [term, count] pair
    term_blocks: list[bytes] = field(default_factory=list)  # the pairs, joined by blocks
    dirty: list[Sequence[str]] = field(default_factory=list)  # new stories' terms since

    def _cells(self) -> list[tuple[int, int, int]]:
        """The non-empty buckets, oldest first: (age, new, joined), at C speed."""
        bks, tot = self.bks, self.tot
        if len(bks) < 5:  # (most rule keys: a plain loop costs less than the iterators)
            head = self.head
            return [
                (head - bks[i], (tot[i] - tot[i - 1]) & _LOW, (tot[i] - tot[i - 1]) >> _SHIFT)
                for i in range(1, len(bks))
            ]
        cells = list(map(sub, islice(tot, 1, None), tot))
        return list(
            zip(
                map(sub, repeat(self.head), islice(bks, 1, None)),
                map(and_, cells, repeat(_LOW)),
                map(rshift, cells, repeat(_SHIFT)),
                strict=True,
            )
        )

    def dump_whole(self) -> bytes:
        """The key's state record (`dump`'s bytes) in one orjson.dumps, keeping no parts: for
        a key not written recently, which would rarely reuse them (with a large rule pack, a
        rule key is written once per alert: docs/performance.md, "Memory: round
        seventeen")."""
        self.forget_encoded()  # (parts kept would go stale: dropped)
        record = self._head()
        record["season"] = self.season
        record["season_total"] = self.season_total
        record["stories"] = [s.slot(sid) for sid, s in self.stories.items()]
        record["terms"] = list(self.terms.items())
        record.update(self._tail())
        return orjson.dumps(record)

    def _head(self) -> dict[str, Any]:
        """The record's fields before the season (in the record's order)."""
        return {
            "v": _STATE_VERSION,
            "seq": self.seq,
            "first": self.first,
            "head": self.head,
            "cells": self._cells(),
            "hour": self.hour,
            "hod": self.hod,
            "acc": self.acc,
            "rate": self.rate,
        }

    def _tail(self) -> dict[str, Any]:
        """The record's fields after the terms."""
        return {
            "terms_total": self.terms_total,
            "level": self.level,
            "since": self.since,
            "late": self.late,
            "day": self.day,
            "days": self.days,
        }

    def dump(self) -> bytes:
        """The key's state record: the same JSON as one orjson.dumps of the whole, spliced
        from cached parts (what changed since the last dump is encoded again)."""
        if self.season_blob is None:
            self.season_blob = orjson.dumps(
                {"season": self.season, "season_total": self.season_total}
            )[1:-1]
        blobs, stories = self.story_blobs, self.stories
        if blobs is None:
            blobs = self.story_blobs = {sid: s.encode(sid) for sid, s in stories.items()}
        else:  # a new story was added last to both dicts: same order
            for sid in self.touched:
                blobs[sid] = stories[sid].encode(sid)
        self.touched.clear()
        start = orjson.dumps(self._head())
        end = orjson.dumps(self._tail())
        terms = self._terms_json()
        # one join, the stories' and the terms' arrays of arrays spliced inside it
        return b"".join(
            (
                start[:-1],
                b",",
                self.season_blob,
                b',"stories":[[' if blobs else b',"stories":[]',
                b"],[".join(blobs.values()),
                b"]]" if blobs else b"",
                b',"terms":[[' if terms else b',"terms":[]',
                b"],[".join(terms),
                b"]]," if terms else b",",
                end[1:],
            )
        )

    def forget_encoded(self) -> None:
        """Drop the parts kept since the last dump: the next dump encodes the whole state
        (the same bytes)."""
        self.season_blob = None
        self.story_blobs = None
        self.touched.clear()
        self.term_pos = None
        self.term_frags = []
        self.term_blocks = []
        self.dirty.clear()

    def _terms_json(self) -> list[bytes]:
        """The term counts' JSON pairs (their insides, see _Key.dump), joined by blocks of
        _TERM_BLOCK: a new story changes a few counts, and only their blocks are joined
        again."""
        terms, dirty = self.terms, self.dirty
        if self.term_pos is None:
            self.term_pos = {t: i for i, t in enumerate(terms)}
            frags = self.term_frags = [orjson.dumps(pair)[1:-1] for pair in terms.items()]
            self.term_blocks = [
                b"],[".join(frags[i : i + _TERM_BLOCK]) for i in range(0, len(frags), _TERM_BLOCK)
            ]
        elif dirty:
            pos, frags, blocks = self.term_pos, self.term_frags, self.term_blocks
            stale = set()
            # A term counted for the first time was added last to `terms`: it goes last here.
            for t in dict.fromkeys(chain.from_iterable(dirty)):
                i = pos.get(t)
                if i is None:
                    i = pos[t] = len(frags)
                    frags.append(b"")
                frags[i] = orjson.dumps((t, terms[t]))[1:-1]
                stale.add(i // _TERM_BLOCK)
            for b in sorted(stale):
                block = b"],[".join(frags[b * _TERM_BLOCK : (b + 1) * _TERM_BLOCK])
                if b < len(blocks):
                    blocks[b] = block
                else:
                    blocks.append(block)
        dirty.clear()
        return self.term_blocks

    @classmethod
    def load(cls, data: bytes, spans: Sequence[int], shared: dict[Any, Any] | None = None) -> _Key:
        """A key from its state record. `shared` (one dict for all the keys of a restore)
        makes equal strings and term tuples one object, as the running detector held them: a
        story's id, headline and terms are in the record of every key that counted it. (Not
        `sys.intern`: interning every article's headline and story id left CPython's table of
        interned strings at its peak size, +3 MB after 200,000 of them.) Outlets' names,
        few, are interned."""
        d = orjson.loads(data)

        def share(x: Any) -> Any:
            return x if shared is None else shared.setdefault(x, x)

        def title(h: str) -> bytes:  # one JSON object per headline (keyed apart from strings)
            if shared is None:
                return _title(h)
            out: bytes | None = shared.get((_NO_TITLE, h))
            if out is None:
                out = shared[(_NO_TITLE, h)] = _title(h)
            return out

        if d.get("v") != _STATE_VERSION:
            raise ValueError(f"unknown trend key state version {d.get('v')!r}")
        width = max(spans)
        ks = cls(
            seq=int(d["seq"]),
            first=int(d["first"]),
            head=int(d["head"]),
            bks=[],
            tot=[],
            hour=int(d["hour"]),
            hod=int(d["hod"]),
            acc=float(d["acc"]),
            rate=[float(x) for x in d["rate"]],
            season=[float(x) for x in d["season"]],
            season_total=float(d["season_total"]),
            stories={
                share(str(sid)): _Story(
                    title(str(h)),
                    int(n),
                    _outlets(tuple(map(intern, map(str, src)))),
                    _shared(float(r)),
                    float(f),
                    float(la),
                    share(tuple(map(share, map(str, t)))),
                )
                for sid, h, n, src, r, f, la, t in d["stories"]
            },
            terms={share(str(t)): _shared(float(c)) for t, c in d["terms"]},
            terms_total=float(d["terms_total"]),
            level=int(d["level"]),
            since=None if d["since"] is None else float(d["since"]),
            late=int(d["late"]),
            day=int(d["day"]),
            days=int(d["days"]),
        )
        cells = [0] * width
        for age, new, joined in d["cells"]:
            if 0 <= int(age) < width:
                cells[width - 1 - int(age)] = int(new) + (int(joined) << _SHIFT)
        start = ks.head - width  # the bucket before the longest window
        ks.bks = [start, *(start + 1 + j for j in compress(range(width), cells))]
        ks.tot = [0, *accumulate(compress(cells, cells))]
        return ks


_GLOBAL = (
    "watermark",
    "hours",
    "skipped",
    "hour",
    "hod",
    "acc",
    "short",
    "long",
    "season",
    "season_total",
    "events",
    "seq",
    "late",
    "evicted",
    "key_days",
    "records",
)


@dataclass(slots=True)
class _Global:
    watermark: float | None = None
    hours: int = 0  # distinct hours the watermark entered
    skipped: int = 0  # hours of outages (gaps over max_gap_hours), left out of every rate
    hour: int = 0  # the stream hour `acc` collects
    hod: int = 0
    acc: float = 0.0
    short: list[float] = field(default_factory=lambda: [0.0, 0.0])  # EWMA [sum, weight]
    long: list[float] = field(default_factory=lambda: [0.0, 0.0])
    season: list[float] = field(default_factory=lambda: [0.0] * DAY_HOURS)
    season_total: float = 0.0
    events: int = 0  # counted articles (a new story or an outlet joining one)
    seq: int = 0
    late: int = 0
    evicted: int = 0
    key_days: int = 0  # (key, day) pairs judged: the denominator of the false-alarm rate
    records: list[int] = field(default_factory=lambda: [0] * len(LEVELS))

    def dump(self) -> bytes:
        return orjson.dumps({"v": _STATE_VERSION, **{k: getattr(self, k) for k in _GLOBAL}})

    @classmethod
    def load(cls, data: bytes) -> _Global:
        d = orjson.loads(data)
        if d.get("v") != _STATE_VERSION:
            raise ValueError(f"unknown trend state version {d.get('v')!r}")
        g = cls(**{k: d[k] for k in _GLOBAL})
        g.watermark = None if g.watermark is None else float(g.watermark)
        for name in ("acc", "season_total"):
            setattr(g, name, float(getattr(g, name)))
        g.short, g.long = [float(x) for x in g.short], [float(x) for x in g.long]
        g.season = [float(x) for x in g.season]
        return g


class TrendDetector:
    """Feed it events in arrival order (`observe`, or `observe_keys` for one article under
    several keys); it returns the trend records they cause, usually none."""

    def __init__(self, params: TrendParams | None = None) -> None:
        self.params = p = params or DEFAULTS
        self._keys: OrderedDict[str, _Key] = OrderedDict()
        self._g = _Global()
        self._changed: dict[str, None] = {}
        self._encoded: dict[str, None] = {}  # keys holding encoded parts, least recent first
        self._whole: dict[str, None] = {}  # keys last written whole (`take_changes`), the same
        self._per_hour = 3600 // p.bucket_seconds
        self._spans = [w.seconds // p.bucket_seconds for w in p.windows]
        self._longest = max(self._spans)
        self._per_day = [86400 / w.seconds for w in p.windows]
        # per window, then their least: for a calm key (can it rise?), in an episode (calm yet?)
        self._gates = tuple(
            [*gates, min(gates)]
            for gates in (
                [_gate(p, p.thresholds[0] / n) for n in self._per_day],
                [_gate(p, max(p.thresholds[0] / n, p.calm_p)) for n in self._per_day],
            )
        )
        self._decay = 0.5 ** (1.0 / p.half_life_hours)
        self._powers: dict[int, tuple[float, float, float]] = {}  # _ewma_powers
        self._short_decay = 0.5 ** (1.0 / p.stream_half_life_hours)
        self._windows: dict[int, tuple[int, list[tuple[int, int]], float]] = {}  # _window
        self._factor = (-1, 1.0)  # (stream hour, _stream_factor)
        self._terms_in: tuple[str, ...] = ()
        self._terms_out: tuple[str, ...] = ()
        self._title_in, self._title_out = "", _NO_TITLE

    # ------------------------------------------------------------ input
    @property
    def watermark(self) -> float | None:
        return self._g.watermark

    def advance(self, at: float) -> None:
        """Move the watermark to an event time (every article does, counted or not)."""
        if not math.isfinite(at):
            raise ValueError(f"event time must be finite, got {at!r}")
        g = self._g
        if g.watermark is not None and at <= g.watermark:
            return
        jump = 1 if g.watermark is None else int(at // 3600) - int(g.watermark // 3600)
        if jump > 0:
            g.hours += 1
        if jump > self.params.max_gap_hours:
            g.skipped += jump - 1  # the stream resumes where it stopped
        first = g.watermark is None
        g.watermark = at
        self._changed[GLOBAL] = None
        hour = self._clock(at)
        if first:
            g.hour, g.hod = hour, int(at // 3600) % DAY_HOURS
        elif hour > g.hour:
            _ewma(g.short, g.acc, hour - g.hour, self._short_decay)
            _ewma(g.long, g.acc, hour - g.hour, self._decay)
            g.season[g.hod] += g.acc
            g.season_total = _fade(g.season, g.season_total + g.acc, 64 * self.params.season_cap)
            g.acc = 0.0
            g.hour, g.hod = hour, int(at // 3600) % DAY_HOURS

    def observe(self, event: TrendEvent) -> list[dict[str, Any]]:
        """Count one event under its key; the trend records (trend.v2) it causes."""
        return self.observe_keys(event, (event.key,))

    def observe_keys(self, event: TrendEvent, keys: Sequence[str]) -> list[dict[str, Any]]:
        """Count one event under each of `keys` (its own `key` is not used): an article's
        region and topic keys share the work done once per article."""
        p = self.params
        for key in (*keys, event.story_id):
            if not key or len(key) > p.max_key_chars:
                raise ValueError(f"keys and story ids have 1 to {p.max_key_chars} characters")
        at = float(event.at)
        self.advance(at)
        new = event.is_new_story
        if not (new or event.new_outlet) or not keys:
            return []  # the same outlet again, or a copy: not news
        weight = _shared(1.0 if new else p.outlet_weight)  # a new story's reports
        g = self._g
        wm = g.watermark
        assert wm is not None
        g.events += 1
        g.acc += weight
        self._changed[GLOBAL] = None
        late = at < wm - p.grace_seconds
        if late:
            g.late += 1
        bucket = int(at // p.bucket_seconds)
        now = int(wm // p.bucket_seconds)
        terms = self._terms_of(event)
        hour = self._clock(wm)
        judged = g.hours >= p.global_warmup_hours and g.events >= p.global_warmup_events
        known, changed = self._keys, self._changed
        inc = 1 if new else _JOINED  # a packed cell (see _SHIFT)
        ow, warm = p.outlet_weight, p.key_warmup_hours
        day, hod = int(wm // 86400), int(wm // 3600) % DAY_HOURS
        sid, source = event.story_id, event.source
        cut, keep = intern(source[: p.max_key_chars]), p.max_sources > 0
        size = int(event.story_size) if event.story_size > 1 else 1
        full = 2 * p.max_stories
        title = self._title_of(event.headline)
        records: list[dict[str, Any]] = []
        # The hot path, once per key and article: kept inline (docs/trends.md, cost).
        for key in keys:
            g.seq += 1
            ks = known.get(key)
            if ks is None:
                ks = self._new_key(key, wm)
            else:
                ks.seq = g.seq
                known.move_to_end(key)
            changed[key] = None
            if ks.hour != hour:
                self._roll(ks, hour, hod)
            ks.acc += weight  # late or not, into the baseline
            if late:
                ks.late += 1
                continue
            if ks.head != now:
                self._slide(ks, now)
            bks, tot = ks.bks, ks.tot
            if bks[-1] < bucket:  # the first of its bucket
                bks.append(bucket)
                tot.append(tot[-1] + inc)
            elif bks[-1] == bucket:
                tot[-1] += inc
            else:  # into a past bucket (a late article, within the grace)
                self._add_past(bks, tot, bucket, inc)
            # the story, for the records' top stories and terms and the replay guard
            story = ks.stories.get(sid)
            if story is None:
                if len(ks.stories) >= full:
                    self._prune_stories(ks, wm)
                ks.stories[sid] = _Story(
                    title, size, _one_outlet(cut) if keep else (), weight, at, at, terms
                )
            else:
                if event.story_size > story.size:
                    story.size = int(event.story_size)
                story.reports = _shared(story.reports + weight)
                if at < story.first:
                    story.first = at
                if at > story.last:
                    story.last = at
                sources = story.sources
                if source not in sources and len(sources) < p.max_sources:
                    story.sources = (*sources, cut)
                if story.title == _NO_TITLE and title != _NO_TITLE:
                    story.title = title
            ks.touched[sid] = None
            if new:
                self._learn_terms(ks, terms)
            if judged and hour - ks.first >= warm and ks.rate[1] > 0:
                if day != ks.day:
                    ks.day = day
                    ks.days += 1
                    g.key_days += 1
                # A window below its gate cannot matter (see _gate): most events stop here.
                gates = self._gates[1 if ks.level else 0]
                x = tot[-1] - tot[0]  # the widest window: every window is inside it
                if (x & _LOW) + ow * (x >> _SHIFT) >= gates[-1]:
                    records += self._judge(key, ks, wm, now, gates)
                elif ks.level:
                    ks.level, ks.since = 0, None  # the episode is over
        return records

    def reported(self, key: str, story_id: str, source: str) -> bool:
        """Whether `key` already counted an event of `source` on `story_id` (while it holds the
        story: the stories of its longest window that matter most, up to `max_sources`
        outlets each). A source is new to a story only once, so this is a replay."""
        ks = self._keys.get(key)
        story = None if ks is None else ks.stories.get(story_id)
        return story is not None and source[: self.params.max_key_chars] in story.sources

    def unreported(self, keys: tuple[str, ...], story_id: str, source: str) -> tuple[str, ...]:
        """Those of `keys` that have not `reported` this source on this story (all: `keys`
        itself), in one call per event: the worker's replay guard."""
        cut, known = source[: self.params.max_key_chars], self._keys
        fresh = []
        for key in keys:
            ks = known.get(key)
            story = None if ks is None else ks.stories.get(story_id)
            if story is None or cut not in story.sources:
                fresh.append(key)
        return keys if len(fresh) == len(keys) else tuple(fresh)

    # ------------------------------------------------------------ state
    def retract(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Undo the level changes of records that could not be sent (refused for good): each
        key goes back to the level its record escalated from, so that its next event judges
        it again and sends the record then (at-least-once), instead of a state that says it
        was sent. The counts stay: the article was counted."""
        for record in reversed(records):
            ks = self._keys.get(record["key"])
            if ks is None or ks.level != LEVELS.index(record["level"]) + 1:
                continue
            previous = record["previous_level"]
            ks.level = LEVELS.index(previous) + 1 if previous else 0
            if not ks.level:
                ks.since = None  # the episode began with this record
            self._g.records[LEVELS.index(record["level"])] -= 1
            self._changed[record["key"]] = None
            self._changed[GLOBAL] = None

    def take_changes(self) -> list[tuple[str, bytes | None]]:
        """(key, state) of every key changed since the last call, None for an evicted key, and
        the stream's own record under GLOBAL: what a changelog table should store."""
        out: list[tuple[str, bytes | None]] = []
        encoded, whole = self._encoded, self._whole
        for key in self._changed:
            if key == GLOBAL:
                out.append((key, self._g.dump()))
                continue
            ks = self._keys.get(key)
            # A key keeps its parts while it is among the ENCODED_KEYS most recently written
            # with them. One not written recently is encoded whole, keeping none (with a large
            # rule pack most rule keys are written once in a while: they no longer push the
            # busy keys' parts out); written again soon after (`whole`), it keeps them.
            again = key in encoded or key in whole
            encoded.pop(key, None)
            whole.pop(key, None)
            if ks is None:
                out.append((key, None))
            elif again:
                out.append((key, ks.dump()))
                encoded[key] = None  # the most recent
            else:
                out.append((key, ks.dump_whole()))
                whole[key] = None
        self._changed.clear()
        while len(encoded) > ENCODED_KEYS:  # bounded: the least recently written forget theirs
            old = next(iter(encoded))
            del encoded[old]
            ks = self._keys.get(old)
            if ks is not None:
                ks.forget_encoded()
        while len(whole) > ENCODED_KEYS:  # (names only)
            del whole[next(iter(whole))]
        return out

    def to_state(self) -> dict[str, bytes]:
        """Everything: one JSON record per key, and the stream's under GLOBAL."""
        state = {GLOBAL: self._g.dump()}
        state.update((key, ks.dump()) for key, ks in self._keys.items())
        return state

    @classmethod
    def from_state(
        cls, state: Mapping[str, bytes], params: TrendParams | None = None
    ) -> TrendDetector:
        """A detector that continues exactly where `to_state` (or the changes) left off; the
        records may come in any order (a table restores them so)."""
        detector = cls(params)
        if GLOBAL in state:
            detector._g = _Global.load(state[GLOBAL])
        shared: dict[Any, Any] = {}  # equal strings and tuples of the records: one object
        keys = [(k, _Key.load(v, detector._spans, shared)) for k, v in state.items() if k != GLOBAL]
        del shared
        for key, ks in sorted(keys, key=lambda kv: kv[1].seq):
            detector._keys[key] = ks
        while len(detector._keys) > detector.params.max_keys:
            detector._keys.popitem(last=False)
        return detector

    def stats(self) -> dict[str, Any]:
        g = self._g
        return {
            "keys": len(self._keys),
            "events": g.events,
            "late": g.late,
            "evicted": g.evicted,
            "key_days": g.key_days,
            "records": dict(zip(LEVELS, g.records, strict=True)),
        }

    # ------------------------------------------------------------ internals
    def _clock(self, at: float) -> int:
        """The stream's hour: hours since the epoch, outages left out."""
        return int(at // 3600) - self._g.skipped

    def _new_key(self, key: str, wm: float) -> _Key:
        p, g = self.params, self._g
        ks = self._keys[key] = _Key(
            seq=g.seq,
            first=self._clock(wm),
            head=int(wm // p.bucket_seconds),
            bks=[int(wm // p.bucket_seconds) - self._longest],
            tot=[0],
            hour=self._clock(wm),
            hod=int(wm // 3600) % DAY_HOURS,
            acc=0.0,
            rate=[0.0, 0.0],
            season=[0.0] * DAY_HOURS,
            season_total=0.0,
            stories={},
            terms={},
            terms_total=0.0,
            level=0,
            since=None,
            late=0,
            day=-1,
            days=0,
        )
        if len(self._keys) > p.max_keys:
            gone, _ = self._keys.popitem(last=False)
            self._changed[gone] = None
            g.evicted += 1
        return ks

    def _roll(self, ks: _Key, hour: int, hod: int) -> None:
        """Close the hours between the key's last hour and `hour` (the watermark's stream hour,
        `hod` its hour of day) into its rate and its hour-of-day profile."""
        if hour > ks.hour:
            hours, acc = hour - ks.hour, ks.acc
            powers = self._powers.get(hours)
            if powers is None:
                powers = self._ewma_powers(hours)
            # _ewma(ks.rate, acc, hours, self._decay), its powers of the decay computed once
            an, last, gain = powers
            rate = ks.rate
            rate[0] = rate[0] * an + acc * last
            rate[1] = rate[1] * an + gain
            ks.season[ks.hod] += acc
            total = ks.season_total + acc
            cap = self.params.season_cap
            ks.season_total = total if total <= cap else _fade(ks.season, total, cap)
            ks.acc = 0.0
            ks.hour, ks.hod = hour, hod
            ks.season_blob = None

    def _ewma_powers(self, hours: int) -> tuple[float, float, float]:
        """What _ewma computes of the decay for `hours` closed hours (the same floats),
        remembered for the usual gaps."""
        decay = self._decay
        an = decay**hours
        powers = (an, decay ** (hours - 1), (1.0 - an) / (1.0 - decay))
        if hours < 4096:
            self._powers[hours] = powers
        return powers

    def _slide(self, ks: _Key, now: int) -> None:
        """Make the last cell that of bucket `now` (a later one): the cells older than the
        longest window are dropped, the last of them kept as the total before it."""
        ks.head = now
        bks, start = ks.bks, now - self._longest
        if len(bks) > 1 and bks[1] <= start:
            gone = bisect_right(bks, start) - 1
            del bks[:gone]
            tot = ks.tot
            del tot[:gone]
            if (tot[0] & _LOW) > _REBASE:  # keep the new stories' part far below 2**32
                base = tot[0]
                tot[:] = [x - base for x in tot]

    @staticmethod
    def _add_past(bks: list[int], tot: list[int], bucket: int, inc: int) -> None:
        """Count `inc` into an earlier bucket than the last: every total from it on grows."""
        i = bisect_left(bks, bucket)
        if i == 0:  # not after the longest window's start: in no window (grace is shorter)
            return
        if bks[i] != bucket:
            bks.insert(i, bucket)
            tot.insert(i, tot[i - 1])
        for j in range(i, len(tot)):
            tot[j] += inc

    def _sum(self, ks: _Key, i: int, now: int) -> int:
        """The packed sum of window i's cells, the window ending at bucket `now`."""
        tot = ks.tot
        return tot[-1] - tot[bisect_right(ks.bks, now - self._spans[i]) - 1]

    def _prune_stories(self, ks: _Key, wm: float) -> None:
        """Keep the max_stories that matter: in the longest window, most reports, latest (the
        sort keys are unique: the same as heapq.nlargest, at less cost)."""
        p = self.params
        horizon = wm - self._longest * p.bucket_seconds
        kept = sorted(
            ks.stories.items(),
            key=lambda kv: (kv[1].last >= horizon, kv[1].reports, kv[1].last, kv[0]),
            reverse=True,
        )[: p.max_stories]
        ks.stories = dict(sorted(kept, key=lambda kv: (kv[1].first, kv[0])))
        ks.story_blobs = None
        ks.touched.clear()

    def _terms_of(self, event: TrendEvent) -> tuple[str, ...]:
        """The event's terms, bounded and once each (the last tuple cleaned is remembered by
        identity: an article's events share one)."""
        if event.terms is self._terms_in:
            return self._terms_out
        p = self.params
        head = event.terms[: p.max_event_terms]
        if head and all(head) and max(map(len, head)) <= p.max_term_chars:
            out = tuple(dict.fromkeys(head))  # (the usual case, at C speed)
        else:
            out = tuple(dict.fromkeys(t[: p.max_term_chars] for t in head if t))
        self._terms_in, self._terms_out = event.terms, out
        return out

    def _title_of(self, headline: str) -> bytes:
        """The headline's JSON, cut to max_headline_chars (`_title`), made once for an
        article's keys and events (the last headline is remembered by identity)."""
        if headline is not self._title_in:
            cut = headline[: self.params.max_headline_chars]
            self._title_in, self._title_out = headline, _title(cut)
        return self._title_out

    def _learn_terms(self, ks: _Key, terms: tuple[str, ...]) -> None:
        """A bounded, fading count of the terms of the key's new stories: its usual
        vocabulary."""
        p = self.params
        counts, shared = ks.terms, _FLOATS.get
        for t in terms:
            c = counts.get(t, 0.0) + 1.0
            counts[t] = shared(c) or _shared(c)  # (c ≥ 1: never falsy)
        ks.terms_total += 1.0
        if len(ks.dirty) < _MAX_DIRTY:
            ks.dirty.append(terms)
        else:  # not dumped for long (offline): encode them all at the next dump
            ks.term_pos = None
            ks.dirty.clear()
        if ks.terms_total > p.terms_cap:
            counts = ks.terms = {t: _shared(c / 2) for t, c in counts.items() if c >= 1.0}
            ks.terms_total /= 2
            ks.term_pos = None
        if len(counts) > 4 * p.max_terms:
            # once-seen terms go first (a cheap pass), then the smallest counts if need be
            counts = ks.terms = {t: c for t, c in counts.items() if c > 1.0}
            if len(counts) > p.max_terms:
                # the max_terms largest by (count, term), largest first, as heapq.nlargest
                # gives them (the pairs are unique), in two stable sorts by C-level keys
                order = sorted(sorted(counts, reverse=True), key=counts.__getitem__, reverse=True)
                ks.terms = {t: counts[t] for t in order[: p.max_terms]}
            ks.term_pos = None

    def _window(self, span: int, now: int) -> tuple[list[tuple[int, int]], float]:
        """The window of `span` buckets ending at bucket `now`: its (hour of day, buckets),
        and the stream's profile summed over it × season_prior. The same for every key until
        the next bucket (the stream's profile changes only when an hour closes)."""
        cached = self._windows.get(span)
        if cached is not None and cached[0] == now:
            return cached[1], cached[2]
        per_hour, g = self._per_hour, self._g
        hours = []
        b = now - span + 1
        while b <= now:
            hour = b // per_hour
            end = min(now, hour * per_hour + per_hour - 1)
            hours.append((hour % DAY_HOURS, end - b + 1))
            b = end + 1
        flat = self.params.stream_season_prior / DAY_HOURS
        stream = sum(n * (g.season[hod] + flat) for hod, n in hours)
        stream *= self.params.season_prior / (g.season_total + flat * DAY_HOURS)
        self._windows[span] = (now, hours, stream)
        return hours, stream

    def _seasonal_hours(self, ks: _Key, span: int, now: int) -> float:
        """Σ over the window's buckets of the key's hour-of-day factor, in hours: the key's own
        profile shrunk towards the stream's (mean 1 over a day)."""
        if span % (DAY_HOURS * self._per_hour) == 0:
            return span / self._per_hour  # whole days: the profile's mean, 1
        hours, stream = self._window(span, now)
        season = ks.season
        own = sum(n * season[hod] for hod, n in hours)
        return (
            DAY_HOURS
            * (own + stream)
            / (ks.season_total + self.params.season_prior)
            / (self._per_hour)
        )

    def _stream_factor(self) -> float:
        """The stream's volume of the last day or so relative to its usual: a key's usual
        share of a stream that doubled (a source added) is twice as many events."""
        g = self._g
        if self._factor[0] == g.hour:
            return self._factor[1]  # it changes only when an hour closes
        if g.short[1] <= 0 or g.long[1] <= 0 or g.long[0] <= 0:
            factor = 1.0
        else:
            factor = (g.short[0] / g.short[1]) / (g.long[0] / g.long[1])
        self._factor = (g.hour, min(5.0, max(0.2, factor)))
        return self._factor[1]

    def _rate(self, ks: _Key) -> float:
        """The key's expected events per hour now, before the hour-of-day profile."""
        return ks.rate[0] / ks.rate[1] * self._stream_factor()

    def _judge(
        self, key: str, ks: _Key, wm: float, now: int, gates: Sequence[float]
    ) -> list[dict[str, Any]]:
        """The key's level after an event (it is past its warm-up and its widest window
        reaches the least of `gates`): a record if it rose."""
        p = self.params
        if ks.exp_now != now:
            ks.exp_now = now
            ks.exp = [-1.0] * len(self._spans)
        exp = ks.exp
        best: tuple[int, float, int, float, float, float] | None = None
        calm = True
        bks, tot = ks.bks, ks.tot
        top = tot[-1]
        spans, windows, per_hour = self._spans, self._windows, self._per_hour
        day, prior = DAY_HOURS * per_hour, p.season_prior
        for i, span in enumerate(spans):
            x = top - tot[bisect_right(bks, now - span) - 1]
            count = (x & _LOW) + p.outlet_weight * (x >> _SHIFT)
            if count < gates[i]:
                continue
            expected = exp[i]
            if expected < 0.0:  # _rate × _seasonal_hours (floored), the rate kept for its hour
                if ks.rate_hour != ks.hour:
                    ks.rate_hour, ks.rate_now = ks.hour, self._rate(ks)
                span = spans[i]
                if span % day:  # _seasonal_hours, with the window's hours as cached
                    cached = windows.get(span)
                    if cached is not None and cached[0] == now:
                        hours, stream = cached[1], cached[2]
                    else:
                        hours, stream = self._window(span, now)
                    season = ks.season
                    own = sum(n * season[hod] for hod, n in hours)
                    seasonal = DAY_HOURS * (own + stream) / (ks.season_total + prior) / per_hour
                else:  # whole days: the profile's mean, 1
                    seasonal = span / per_hour
                expected = exp[i] = max(ks.rate_now * seasonal, p.min_expected)
            if count < p.min_ratio * expected:
                continue
            pvalue = tail(count, expected)
            if pvalue < p.calm_p:
                calm = False
            # Every event re-tests every window: judged per test, a calm key would cross
            # 1e-3 about daily. p_day estimates how many windows a day a calm key shows as
            # extreme (the windows a day holds × p × count − expected, the Poisson clumping
            # heuristic for a sliding window), so the thresholds bound how often a calm key
            # reaches each level (elevated: about once in 1,000 key-days).
            scan = max(1.0, count - expected)
            daily = min(1.0, pvalue * self._per_day[i] * scan)
            level = sum(1 for t in p.thresholds if daily < t)
            if level and (best is None or (level, -daily) > (best[0], -best[1])):
                best = (level, daily, i, count, expected, pvalue)
        if calm and ks.level:
            ks.level, ks.since = 0, None  # the episode is over
        if best is None or best[0] <= ks.level:
            return []
        previous = ks.level
        ks.level = best[0]
        if ks.since is None:
            ks.since = wm
        self._g.records[best[0] - 1] += 1
        return [self._record(key, ks, best, previous, wm, now)]

    def _record(
        self,
        key: str,
        ks: _Key,
        best: tuple[int, float, int, float, float, float],
        previous: int,
        wm: float,
        now: int,
    ) -> dict[str, Any]:
        p = self.params
        level, daily, i, count, expected, pvalue = best
        window, span = p.windows[i], self._spans[i]
        start_bucket = now - span + 1
        start = start_bucket * p.bucket_seconds
        in_window = sorted(
            ((sid, s) for sid, s in ks.stories.items() if s.last >= start),
            key=lambda kv: (-kv[1].reports, -kv[1].last, kv[0]),
        )
        x = self._sum(ks, i, now)
        stories, outlets = x & _LOW, x >> _SHIFT
        assert ks.since is not None
        return {
            "schema_version": 2,  # trend.v2: rule titles may be added (trend_stage)
            "id": trend_id(key, window.name, start_bucket, LEVELS[level - 1]),
            "key": key,
            **self._scope(key),
            "level": LEVELS[level - 1],
            "previous_level": LEVELS[previous - 1] if previous else None,
            "window": window.name,
            "window_seconds": window.seconds,
            "window_start": _iso(start),
            "window_end": _iso((now + 1) * p.bucket_seconds),
            "since": _iso(ks.since),
            "detected_at": _iso(wm),
            "count": count,
            "new_stories": stories,
            "new_outlets": outlets,
            "expected": round(expected, 4),
            "ratio": round(count / expected, 3),
            "p_value": pvalue,
            "p_day": daily,
            "score": round(-math.log10(max(daily, 1e-300)), 3),
            "baseline": {
                "rate_per_hour": round(self._rate(ks), 4),
                "stream_factor": round(self._stream_factor(), 3),
                "seasonal_factor": round(
                    self._seasonal_hours(ks, span, now) * 3600 / window.seconds, 3
                ),
                "history_hours": self._clock(wm) - ks.first,
                "half_life_hours": p.half_life_hours,
            },
            "top_stories": [
                {
                    "story_id": sid,
                    "headline": s.headline,
                    "size": s.size,
                    "reports": s.reports,
                    "sources": list(s.sources),
                    "first_seen": _iso(s.first),
                    "last_seen": _iso(s.last),
                }
                for sid, s in in_window[: p.top_stories]
            ],
            "terms": self._grown_terms(ks, [s for _, s in in_window]),
        }

    def _scope(self, key: str) -> dict[str, Any]:
        """The key's parts, and the regions and topics a subscriber's filter sees."""
        if key.startswith(RULE_PREFIX):
            return {"kind": "rule", "rule": key[len(RULE_PREFIX) :], "regions": [], "topics": []}
        region, sep, topic = key.partition("|")
        if not sep:
            return {"kind": "other", "regions": [], "topics": []}
        out: dict[str, Any] = {}
        if region == ANY:
            out["kind"] = "topic"
        elif topic == ANY:
            out["kind"] = "region"
        else:
            out["kind"] = "region_topic"
        if region != ANY:
            out["region"] = region
        if topic != ANY:
            out["topic"] = topic
        members = self.params.region_groups.get(region)
        if region == ANY:
            out["regions"] = []
        else:
            out["regions"] = sorted(members) if members is not None else [region]
        out["topics"] = [] if topic == ANY else [topic]
        return out

    def _grown_terms(self, ks: _Key, stories: Sequence[_Story]) -> list[dict[str, Any]]:
        """Terms whose share of the window's stories exceeds their share of the key's usual
        vocabulary (the fading counts of its stories' terms), most grown first."""
        p = self.params
        total = len(stories)
        if total <= 0:
            return []
        counts: dict[str, float] = {}
        for s in stories:
            for t in s.terms:
                counts[t] = counts.get(t, 0.0) + 1.0
        grown = []
        for t, c in counts.items():
            if c < p.min_term_count:
                continue
            share = c / total
            usual = (ks.terms.get(t, 0.0) + 0.5) / (ks.terms_total + 1.0)
            ratio = share / usual
            if ratio >= 2.0:
                grown.append((c * math.log(ratio), t, c, share, usual, ratio))
        grown.sort(key=lambda g: (-g[0], g[1]))
        return [
            {
                "term": t,
                "count": c,
                "window_share": round(share, 4),
                "baseline_share": round(usual, 4),
                "ratio": round(ratio, 2),
            }
            for _, t, c, share, usual, ratio in grown[: p.top_terms]
        ]
