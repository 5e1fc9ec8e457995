"""The burst detector (streams/trends/detector.py): pure, event-time driven, no broker."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pytest

from streams.trends.detector import (
    GLOBAL,
    TrendDetector,
    TrendEvent,
    TrendParams,
    Window,
    keys_for,
    trend_id,
)
from streams.trends.poisson import tail
from streams.validation import schema_errors

H = 3600.0
DAY = 86400.0
T0 = 1_520_035_200.0  # 2018-03-03T00:00:00Z, a midnight
KEY = "IQ|security"


class Feed:
    """A detector and every record it gave; each record is checked against trend.v1."""

    def __init__(self, params: TrendParams | None = None) -> None:
        self.detector = TrendDetector(params)
        self.records: list[dict[str, Any]] = []

    def __call__(self, events: Iterable[TrendEvent]) -> list[dict[str, Any]]:
        out = []
        for event in events:
            out += self.detector.observe(event)
        for record in out:
            assert schema_errors("trend", record) == [], record
        self.records += out
        return out


def ev(
    at: float,
    story: str,
    *,
    key: str = KEY,
    new: bool = True,
    source: str = "bbc",
    joined: bool = False,
    headline: str = "",
    terms: tuple[str, ...] = (),
) -> TrendEvent:
    return TrendEvent(at, key, story, new, source, joined, headline, terms)


def hourly(days: float, *, start: float = T0, key: str = KEY, minute: int = 30) -> list[TrendEvent]:
    """One new story an hour, at the same minute: a perfectly regular key."""
    hours = int(days * 24)
    return [
        ev(start + h * H + minute * 60, f"bg-{key}-{start + h * H}", key=key, terms=(f"t{h % 7}",))
        for h in range(hours)
    ]


def poisson(days: float, per_hour: float, seed: int, *, start: float = T0) -> list[float]:
    rng = random.Random(seed)
    times, t = [], start
    while True:
        t += rng.expovariate(per_hour / H)
        if t >= start + days * DAY:
            return times
        times.append(t)


def p_day(count: float, expected: float = 0.5, per_day: float = 96) -> float:
    """What the detector's levels are set on, for a 15-minute window (96 a day): the Poisson
    tail × the windows a day holds × (count − expected), the sliding-window correction."""
    return tail(count, expected) * per_day * max(1.0, count - expected)


def burst(at: float, n: int, *, gap: float = 15.0, key: str = KEY) -> list[TrendEvent]:
    return [
        ev(at + j * gap, f"burst-{key}-{at}-{j}", key=key, headline="burst", terms=("z", f"u{j}"))
        for j in range(n)
    ]


# ---------------------------------------------------------------- keys and parameters
@pytest.mark.parametrize(
    ("regions", "topics", "expected"),
    [
        (["IQ"], ["security"], ["IQ|security", "IQ|*", "*|security"]),
        (
            ["IQ", "SY", "LB"],  # the first two regions only
            ["security", "politics", "economy"],
            [
                "IQ|security",
                "IQ|politics",
                "SY|security",
                "SY|politics",
                "IQ|*",
                "SY|*",
                "*|security",
                "*|politics",
            ],
        ),
        (["SA"], ["economy"], ["SA|economy", "GULF|economy", "SA|*", "GULF|*", "*|economy"]),
        (["QA", "AE"], [], ["QA|*", "AE|*", "GULF|*"]),  # one group key for two members
        ([], ["sports"], ["*|sports"]),
        ([], [], []),
        (["IQ", "IQ"], ["security", ""], ["IQ|security", "IQ|*", "*|security"]),
    ],
)
def test_keys_of_an_article(regions: list[str], topics: list[str], expected: list[str]) -> None:
    assert keys_for(regions, topics) == expected


@pytest.mark.parametrize(
    "bad",
    [
        {"bucket_seconds": 7},
        {"windows": (Window("7m", 420), Window("1h", 3600))},  # not a multiple of 5 min
        {"windows": ()},
        {"grace_seconds": 86400},  # as long as the longest window
        {"thresholds": (1e-5, 1e-3, 1e-7)},
        {"thresholds": (1e-3, 1e-5)},
        {"calm_p": 1e-4},
        {"max_keys": 0},
        {"max_gap_hours": 0},
    ],
)
def test_bad_parameters_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        TrendParams(**bad)


@pytest.mark.parametrize(
    "event",
    [
        ev(T0, "s", key=""),
        ev(T0, "s", key="x" * 201),
        ev(T0, ""),
        ev(T0, "s" * 201),
        ev(float("nan"), "s"),
        ev(float("inf"), "s"),
    ],
)
def test_bad_events_are_refused(event: TrendEvent) -> None:
    with pytest.raises(ValueError):
        TrendDetector().observe(event)


# ---------------------------------------------------------------- quiet stays quiet
@pytest.mark.parametrize(
    ("per_hour", "days", "seeds"), [(0.3, 60, 30), (2.0, 30, 30), (12.0, 21, 8)]
)
def test_a_flat_poisson_stream_stays_quiet_after_warm_up(
    per_hour: float, days: int, seeds: int
) -> None:
    """A calm key reaches `elevated` about once in 1,000 key-days (p_day < 1e-3), never a
    higher level: over seeded streams, at most a few records, all elevated."""
    records: list[dict[str, Any]] = []
    key_days = 0
    for seed in range(seeds):
        feed = Feed()
        for i, at in enumerate(poisson(days, per_hour, seed)):
            feed([ev(at, f"s{i}")])
        records += feed.records
        key_days += feed.detector.stats()["key_days"]
    # judged, past the warm-up (a sparse stream takes longer to fill 168 distinct hours)
    assert key_days >= seeds * 10
    assert len(records) <= max(2, key_days // 200)  # without the scaling: dozens
    assert {r["level"] for r in records} <= {"elevated"}


def test_a_regular_stream_after_an_outage_stays_quiet_and_still_sees_a_burst() -> None:
    feed = Feed()
    feed(hourly(10))
    resume = T0 + 15 * DAY  # five days without a single event: an outage, not news
    assert feed(hourly(3 + 10 / 24, start=resume)) == []
    records = feed(burst(resume + 3 * DAY + 10 * H, 12))
    assert records and records[0]["level"] == "elevated"
    assert records[0]["baseline"]["rate_per_hour"] == pytest.approx(1.0, rel=1e-6)


# ---------------------------------------------------------------- bursts
def test_a_burst_of_new_stories_goes_elevated_then_high_then_extreme() -> None:
    feed = Feed()
    assert feed(hourly(10 + 10 / 24)) == []  # up to 09:30 on day 10
    at = T0 + 10 * DAY + 10 * H  # 10:00, half an hour after the last regular story
    out = []
    for j, event in enumerate(burst(at, 20)):
        for record in feed([event]):
            out.append((j + 1, record))
    assert [r["level"] for _, r in out] == ["elevated", "high", "extreme"]
    assert [r["previous_level"] for _, r in out] == [None, "elevated", "high"]
    for n, r in out:
        assert r["key"] == KEY and r["kind"] == "region_topic"
        assert (r["region"], r["topic"], r["regions"], r["topics"]) == (
            "IQ",
            "security",
            ["IQ"],
            ["security"],
        )
        # the 15-minute window holds the burst alone; its expected count is the floor, as one
        # story an hour is 0.25 in 15 minutes
        assert r["window"] == "15m" and r["window_seconds"] == 900
        assert (r["count"], r["new_stories"], r["new_outlets"]) == (n, n, 0)
        assert r["expected"] == 0.5
        assert r["baseline"]["rate_per_hour"] == pytest.approx(1.0, rel=1e-6)
        assert r["baseline"]["seasonal_factor"] == pytest.approx(1.0, abs=0.05)
        assert r["baseline"]["stream_factor"] == pytest.approx(1.0, rel=1e-6)
        assert r["p_value"] == tail(n, 0.5)
        assert r["p_day"] == pytest.approx(p_day(n))
        assert r["window_start"] == "2018-03-13T09:50:00+00:00"
        assert r["since"] == out[0][1]["detected_at"]
        assert r["top_stories"][0]["headline"] == "burst"
        assert r["terms"][0]["term"] == "z"  # in every story of the window, never before
    # each level at the first count whose p_day crosses its threshold, not later
    for (n, _), threshold in zip(out, TrendParams().thresholds, strict=True):
        assert p_day(n) < threshold <= p_day(n - 1)
    assert len({r["id"] for _, r in out}) == 3
    assert out[0][1]["id"] == trend_id(KEY, "15m", int(at // 300) - 2, "elevated")


def test_one_record_per_level_and_a_new_episode_after_the_calm() -> None:
    feed = Feed()
    feed(hourly(10 + 10 / 24))
    first = feed(burst(T0 + 10 * DAY + 10 * H, 9))
    assert [r["level"] for r in first] == ["elevated", "high"]
    assert feed(burst(T0 + 10 * DAY + 10 * H + 200, 1)) == []  # still high: nothing new
    assert feed(hourly(2, start=T0 + 10 * DAY + 11 * H)) == []  # calm again
    again = feed(burst(T0 + 12 * DAY + 11 * H, 8))
    assert again and again[0]["level"] == "elevated" and again[0]["previous_level"] is None
    assert again[0]["id"] not in {r["id"] for r in first}


def test_ten_copies_of_one_story_count_once() -> None:
    def first_record(copies: int) -> dict[str, Any]:
        feed = Feed()
        feed(hourly(10))
        at = T0 + 10 * DAY + 10 * H
        for j in range(20):
            story = f"b{j}"
            feed([ev(at + 30 * j, story, headline="burst")])
            # the same outlet again (a copy, an update): not news
            feed([ev(at + 30 * j + 1, story, new=False) for _ in range(copies)])
            if feed.records:
                return feed.records[0]
        raise AssertionError("no record")

    alone, copied = first_record(0), first_record(9)
    assert copied["count"] == alone["count"] == copied["new_stories"]
    assert copied["new_outlets"] == 0
    assert copied["id"] == alone["id"]


def test_outlets_joining_a_story_count_half_each_and_once() -> None:
    feed = Feed()
    feed(hourly(10))
    at = T0 + 10 * DAY + 10 * H
    for j in range(6):
        story = f"b{j}"
        feed([ev(at + 30 * j, story, source="bbc", headline="burst")])
        feed([ev(at + 30 * j + 1, story, new=False, source="cnn", joined=True)])
        feed([ev(at + 30 * j + 2, story, new=False, source="cnn")])  # cnn again: nothing
    assert feed.records
    r = feed.records[0]
    assert r["count"] == r["new_stories"] + 0.5 * r["new_outlets"]
    assert r["new_outlets"] in (r["new_stories"], r["new_stories"] - 1)
    story = r["top_stories"][0]
    assert story["sources"] == ["bbc", "cnn"] and story["reports"] == 1.5
    # the same count of new stories alone would not have been enough yet
    assert p_day(r["new_stories"], r["expected"]) >= TrendParams().thresholds[0]


# ---------------------------------------------------------------- warm-up, late events
def test_warm_up_suppresses_verdicts() -> None:
    feed = Feed()
    feed(hourly(1.5))
    assert feed(burst(T0 + 36 * H, 30)) == []  # the stream is 36 hours old
    feed(hourly(8.5, start=T0 + 37 * H))
    new_key = "SY|security"  # a key first seen now: its own history is too short
    assert feed(burst(T0 + 10 * DAY, 30, key=new_key)) == []
    assert feed(burst(T0 + 10 * DAY + 30 * H, 30)) != []  # the old key is past both


def test_late_events_go_into_the_baseline_only() -> None:
    params = TrendParams()
    feed = Feed(params)
    feed(hourly(10))
    now = T0 + 10 * DAY + 10 * H
    feed([ev(now, "now", key="LB|*")])  # the watermark
    before = orjson.loads(feed.detector.to_state()[KEY])
    late = now - params.grace_seconds - 60
    assert feed(burst(late, 20, gap=1)) == []  # older than watermark − grace: no window
    after = orjson.loads(feed.detector.to_state()[KEY])
    assert after["late"] - before["late"] == 20 == feed.detector.stats()["late"]
    assert before["hour"] < after["hour"]  # the key's earlier hours closed into its rate ...
    assert after["acc"] == 20  # ... and the late events are in its current hour's count
    within = now - params.grace_seconds + 60
    records = feed(burst(within, 20, gap=1))
    assert records and records[0]["window_start"] <= records[0]["detected_at"]


# ---------------------------------------------------------------- determinism and state
def _scenario() -> list[TrendEvent]:
    events = hourly(10) + hourly(10, key="IQ|*", minute=40)
    for day in (10, 12, 15):
        events += burst(T0 + day * DAY + 9 * H, 15) + burst(T0 + day * DAY + 9 * H, 12, key="IQ|*")
    events += hourly(6, start=T0 + 10 * DAY + 11 * H)
    return sorted(events, key=lambda e: (e.at, e.key, e.story_id))


def test_the_same_input_gives_the_same_bytes() -> None:
    runs = []
    for _ in range(2):
        feed = Feed()
        feed(_scenario())
        runs.append(([orjson.dumps(r) for r in feed.records], feed.detector.to_state()))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) >= 6


@pytest.mark.parametrize("split", [0.3, 0.97, 0.99])
def test_a_restored_detector_continues_exactly(split: float) -> None:
    events = _scenario()
    cut = int(len(events) * split)
    whole = Feed()
    whole(events)
    first = Feed()
    first(events[:cut])
    # as a changelog table restores it: one record per key, in any order
    restored = TrendDetector.from_state(dict(reversed(first.detector.to_state().items())))
    rest = Feed()
    rest.detector = restored
    rest(events[cut:])
    assert first.records + rest.records == whole.records
    assert restored.to_state() == whole.detector.to_state()


def test_changes_rebuild_the_same_detector() -> None:
    """What the worker would keep in a table: the changes, applied as they come."""
    events = _scenario()
    feed = Feed(TrendParams(max_keys=1))  # two keys, one slot: evictions as well
    table: dict[str, bytes] = {}
    for i, event in enumerate(events):
        feed([event])
        if i % 50 == 0 or i == len(events) - 1:
            for key, state in feed.detector.take_changes():
                if state is None:
                    table.pop(key, None)
                else:
                    table[key] = state
    assert GLOBAL in table and len(table) == 2
    assert table == feed.detector.to_state()
    assert feed.detector.take_changes() == []


def test_state_stays_bounded_under_100k_distinct_keys() -> None:
    params = TrendParams(max_keys=1000)
    detector = TrendDetector(params)
    gone = 0
    for i in range(10_000):
        keys = [f"K{i}-{j}|x" for j in range(10)]
        detector.observe_keys(ev(T0 + i, f"s{i}"), keys)
        gone += sum(1 for _, state in detector.take_changes() if state is None)
    assert detector.stats()["keys"] == 1000
    assert detector.stats()["evicted"] == gone == 99_000
    state = detector.to_state()
    assert len(state) == 1001
    assert "K9999-9|x" in state and "K0-0|x" not in state  # the least recently active went


def test_state_per_key_stays_bounded() -> None:
    params = TrendParams()
    feed = Feed(params)
    feed(hourly(10))
    at = T0 + 10 * DAY
    for j in range(20_000):  # a story a second for 5.5 hours, each with new words
        feed(
            [
                ev(
                    at + j,
                    f"s{j}",
                    headline="h" * 1000,
                    source=f"outlet{j % 50}",
                    terms=tuple(f"w{j}-{k}" for k in range(30)),
                )
            ]
        )
        feed([ev(at + j, f"s{j % 7}", new=False, joined=True, source=f"o{j}")])
    state = orjson.loads(feed.detector.to_state()[KEY])
    assert len(state["stories"]) <= 2 * params.max_stories
    assert all(len(s[1]) <= params.max_headline_chars for s in state["stories"])
    assert all(len(s[3]) <= params.max_sources for s in state["stories"])
    assert len(state["terms"]) <= 4 * params.max_terms
    assert len(state["cells"]) <= max(w.seconds for w in params.windows) // 300
    assert len(feed.detector.to_state()[KEY]) < 64_000
    assert all(len(r["top_stories"]) <= params.top_stories for r in feed.records)
    assert all(len(r["terms"]) <= params.top_terms for r in feed.records)


BUSY_KEYS = ("IQ|*", "SY|*", "*|security", "rule:r1", "GULF|*")


def busy_events(
    seed: int, n: int = 3000, keys: Sequence[str] = BUSY_KEYS
) -> list[tuple[TrendEvent, tuple[str, ...]]]:
    """Random events on a few keys over a week: stories opened and joined, late ones, a
    small vocabulary, so that small caps prune story slots, fade and prune term counts
    (also tests/unit/trends/test_encoded_bound.py)."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(40)] + ["دوما", "كيماوي", "انتخابات"]
    out, at, opened = [], T0, 0
    for _ in range(n):
        at += rng.expovariate(1 / 200)
        late = rng.random() < 0.05
        new = opened == 0 or rng.random() < 0.6
        story = f"s{opened}" if new else f"s{rng.randrange(opened)}"
        opened += new
        event = TrendEvent(
            at - (3 * H if late else 0.0),
            "-",
            story,
            new,
            f"o{rng.randrange(7)}",
            not new,
            rng.choice(["", "خبر عاجل", "headline"]),
            tuple(rng.sample(words, 5)),
            rng.randrange(1, 9),
        )
        out.append((event, tuple(rng.sample(keys, rng.randrange(1, 4)))))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_a_key_state_written_from_its_cached_parts_is_its_whole_json(seed: int) -> None:
    """A key's record is spliced from the parts encoded at its last dump and re-encodes only
    what changed: whenever it is written, it must be the bytes a detector that never wrote it
    gives at the end (one plain encoding of the whole), and compact JSON as orjson writes it."""
    params = TrendParams(
        max_stories=3,
        max_terms=4,
        terms_cap=12.0,
        max_keys=4,
        global_warmup_hours=24,
        global_warmup_events=20,
        key_warmup_hours=12.0,
    )
    events = busy_events(seed)
    detectors = [TrendDetector(params) for _ in range(3)]
    every = (1, 7, 0)  # after every event, every 7 events, never (one dump at the end)
    written = 0
    records: list[list[bytes]] = [[], [], []]
    for i, (event, keys) in enumerate(events, 1):
        for detector, n, out in zip(detectors, every, records, strict=True):
            out += [orjson.dumps(r) for r in detector.observe_keys(event, keys)]
            if n and i % n == 0:
                for _, state in detector.take_changes():
                    if state is not None:
                        assert state == orjson.dumps(orjson.loads(state))
                        written += 1
    states = [d.to_state() for d in detectors]
    assert states[0] == states[1] == states[2]
    assert records[0] == records[1] == records[2]
    assert written > 3000
    stats = detectors[0].stats()
    assert stats["evicted"] > 0 and stats["late"] > 0
    # the caps were reached: story slots pruned, term counts faded
    kept = [orjson.loads(v) for k, v in states[0].items() if k != GLOBAL]
    assert all(len(k["stories"]) <= 2 * params.max_stories for k in kept)
    assert all(k["terms_total"] <= params.terms_cap for k in kept)  # faded (>12 new stories)


# A key's record as the first release (trend state version 1) wrote it, byte for byte (three
# events: s1 opened at T0, s2 opened 10 minutes later and joined by a second outlet).
_V1_KEY = (
    b'{"v":1,"seq":3,"first":422232,"head":5066786,"cells":[[2,1,0],[0,1,1]],"hour":422232,'
    b'"hod":0,"acc":2.5,"rate":[0.0,0.0],"season":[0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,'
    b'0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0],"season_total":0.0,"stories":'
    b'[["s1","\xd8\xae\xd8\xa8\xd8\xb1",1,["bbc"],1.0,1520035200.0,1520035200.0,["a","b"]],'
    b'["s2","x",3,["bbc","cnn"],1.5,1520035800.0,1520035805.0,["b"]]],"terms":[["a",1.0],'
    b'["b",2.0]],"terms_total":2.0,"level":0,"since":null,"late":0,"day":-1,"days":0}'
)


def test_a_state_written_by_the_first_release_loads_and_is_written_back_the_same() -> None:
    detector = TrendDetector.from_state({KEY: _V1_KEY})
    assert detector.to_state()[KEY] == _V1_KEY
    assert detector.reported(KEY, "s2", "cnn") and not detector.reported(KEY, "s2", "rt")
    # it goes on from there: the story's slot and the key's cells count the next event
    detector.observe(ev(T0 + 610, "s2", new=False, joined=True, source="rt"))
    state = orjson.loads(detector.to_state()[KEY])
    assert state["stories"][1][3] == ["bbc", "cnn", "rt"] and state["stories"][1][4] == 2.0
    assert state["cells"] == [[2, 1, 0], [0, 1, 2]]


# ---------------------------------------------------------------- the key's data layout
def test_events_within_the_grace_count_in_their_own_buckets() -> None:
    """A key keeps its non-empty buckets as running totals: an article up to the grace late
    goes into its own (earlier) bucket, a new one or one already counted, and every later
    total; what is written and restored is the same cells."""
    detector = TrendDetector()
    at = T0 + 3 * H  # bucket boundaries every 5 minutes from T0
    detector.observe(ev(at, "a"))
    detector.observe(ev(at + 20 * 60, "b"))  # the watermark, 4 buckets later
    detector.observe(ev(at + 10 * 60, "c", source="rt"))  # 2 buckets back: a new bucket
    detector.observe(ev(at + 60, "a", new=False, joined=True, source="cnn"))  # the first one
    state = orjson.loads(detector.to_state()[KEY])
    assert state["cells"] == [[4, 1, 1], [2, 1, 0], [0, 1, 0]]
    # restored, it counts the next events the same as the detector that wrote it
    restored = TrendDetector.from_state(detector.to_state())
    for d in (detector, restored):
        d.observe(ev(at + 15 * 60, "d"))  # 1 bucket back, between two kept ones
        d.observe(ev(at + 20 * 60 + 5, "b", new=False, joined=True, source="rt"))
    assert restored.to_state() == detector.to_state()
    state = orjson.loads(detector.to_state()[KEY])
    assert state["cells"] == [[4, 1, 1], [2, 1, 0], [1, 1, 0], [0, 1, 1]]
    # a day and 3 buckets later, three buckets have left the longest window (288 buckets)
    detector.observe(ev(at + DAY + 15 * 60 + 1, "e"))
    state = orjson.loads(detector.to_state()[KEY])
    assert state["cells"] == [[287, 1, 1], [0, 1, 0]]


@pytest.mark.parametrize("feed", ["scenario", "busy"])
def test_rebased_running_totals_change_nothing(feed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The running totals are rebased before the new stories' count nears 2**32; a rebase at
    every slide gives the same records and the same state."""
    import streams.trends.detector as detector_module

    if feed == "scenario":
        params, events = TrendParams(), [(e, (e.key,)) for e in _scenario()]
    else:
        params = TrendParams(global_warmup_hours=24, global_warmup_events=20)
        events = busy_events(1)
    runs = []
    for rebase in (detector_module._REBASE, 0):
        monkeypatch.setattr(detector_module, "_REBASE", rebase)
        detector, records = TrendDetector(params), []
        for event, keys in events:
            records += [orjson.dumps(r) for r in detector.observe_keys(event, keys)]
        runs.append((records, detector.to_state()))
    assert runs[0] == runs[1]
    assert runs[0][0] or feed == "busy"  # the scenario's bursts made records


def _reference_terms(
    stories: list[tuple[str, ...]], params: TrendParams
) -> tuple[dict[str, float], float]:
    """A key's term counts as the first release computed them (heapq.nlargest)."""
    import heapq

    counts: dict[str, float] = {}
    total = 0.0
    for terms in stories:
        for t in terms:
            counts[t] = counts.get(t, 0.0) + 1.0
        total += 1.0
        if total > params.terms_cap:
            counts = {t: c / 2 for t, c in counts.items() if c >= 1.0}
            total /= 2
        if len(counts) > 4 * params.max_terms:
            counts = {t: c for t, c in counts.items() if c > 1.0}
            if len(counts) > params.max_terms:
                counts = dict(
                    heapq.nlargest(params.max_terms, counts.items(), key=lambda kv: (kv[1], kv[0]))
                )
    return counts, total


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_term_counts_fade_and_keep_the_largest_in_order(seed: int) -> None:
    """The key's usual vocabulary: counts halved past terms_cap, pruned past 4 × max_terms to
    the max_terms largest by (count, term), largest first (ties broken by the term)."""
    params = TrendParams(max_terms=4, terms_cap=20.0)
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(30)]
    stories = [tuple(dict.fromkeys(rng.choices(words, k=6))) for _ in range(400)]
    detector = TrendDetector(params)
    for j, terms in enumerate(stories):
        detector.observe(ev(T0 + j * 60, f"s{j}", terms=terms))
        if j % 37 == 0 or j == len(stories) - 1:
            counts, total = _reference_terms(stories[: j + 1], params)
            state = orjson.loads(detector.to_state()[KEY])
            assert state["terms"] == [[t, c] for t, c in counts.items()]
            assert state["terms_total"] == total


def test_event_terms_are_bounded_cleaned_and_once_each() -> None:
    params = TrendParams(max_event_terms=4, max_term_chars=5)
    detector = TrendDetector(params)
    detector.observe(ev(T0, "a", terms=("abc", "", "abcdefgh", "abc", "x", "y")))
    detector.observe(ev(T0 + 60, "b", terms=("p", "q", "p")))
    state = orjson.loads(detector.to_state()[KEY])
    assert [s[7] for s in state["stories"]] == [["abc", "abcde"], ["p", "q"]]
    assert state["terms"] == [["abc", 1.0], ["abcde", 1.0], ["p", 1.0], ["q", 1.0]]


def test_a_key_rate_is_the_ewma_of_its_closed_hours() -> None:
    """Hours close into the key's rate as _ewma closes them, whatever the gap."""
    from streams.trends.detector import _ewma

    params = TrendParams()
    detector = TrendDetector(params)
    decay = 0.5 ** (1.0 / params.half_life_hours)
    rate, hour, acc = [0.0, 0.0], 0, 0.0
    rng = random.Random(5)
    for j in range(300):
        hour += rng.choice([0, 1, 1, 2, 5, 11])
        at = T0 + hour * H + 60
        state_hour = orjson.loads(detector.to_state().get(KEY, b'{"hour":-1}'))["hour"]
        detector.observe(ev(at, f"s{j}"))
        closed = orjson.loads(detector.to_state()[KEY])
        if state_hour >= 0 and closed["hour"] > state_hour:
            _ewma(rate, acc, closed["hour"] - state_hour, decay)
            acc = 0.0
        acc += 1.0
        assert closed["rate"] == rate
