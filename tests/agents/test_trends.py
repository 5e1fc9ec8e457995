"""The trends stage in the story agent (faust test_context, no broker): a burst of new stories
gives one trend record per level on the trends topic, a replay gives nothing new, and a worker
that takes the story partition over continues from the table instead of re-warming."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.classify.places import Gazetteer
from streams.rules import RuleSet
from streams.settings import Settings
from streams.stories.features import story_features
from streams.trends.detector import GLOBAL, LEVELS
from streams.trends.journal import Journal
from streams.validation import schema_errors
from streams.worker.app import create_app
from streams.worker.context import WorkerContext
from streams.worker.pipeline import Pipeline
from tests.agents.test_agents import Capture

LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
# The burst starts an hour ago: the stories stay inside the story window (48 h, wall clock).
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=10)


def word(n: int) -> str:
    """A made-up word per number: stories that share no word never join."""
    out = ""
    for _ in range(4):
        n, r = divmod(n, len(LETTERS))
        out += LETTERS[r]
    return out


def candidate(
    n: int,
    minutes: float,
    *,
    source: str = "outlet1",
    regions: tuple[str, ...] = ("IQ",),
    topics: tuple[str, ...] = ("security",),
    extra: int = 0,
) -> dict[str, Any]:
    """A v3 candidate of story number `n` (its own words), published `minutes` after START."""
    words = [word(1000 * n + i) for i in range(30)] + [word(999_000 + i) for i in range(extra)]
    title = " ".join(words[:6])
    at = (START + timedelta(minutes=minutes)).isoformat()
    return {
        "schema_version": 3,
        "article_id": f"a-{n}-{source}",
        "revision": 1,
        "source": source,
        "at": at,
        "event_at": at,
        "title": title,
        "regions": list(regions),
        "topics": list(topics),
        "features": story_features(title, " ".join(words) + ".").as_message(),
        "hits": [],
    }


def app_for(settings: Settings) -> WorkerContext:
    """The worker's app; its pipeline not warmed up (only the story agent runs here)."""
    rules = RuleSet.from_yaml(settings.rules_file)
    return create_app(settings, Pipeline(settings, rules, Gazetteer.load()))


def quick(tmp_path: Path, **extra: Any) -> Settings:
    """Trends judged from the start: windows of 15 min and 1 h, a key after 1 h of history."""
    return Settings(
        data_dir=tmp_path,
        trends_windows_minutes=[15, 60],
        trends_warmup_hours=0,
        trends_warmup_events=0,
        trends_key_warmup_hours=1,
        **extra,
    )


@pytest.fixture
async def rasid(tmp_path: Path) -> AsyncIterator[WorkerContext]:
    yield app_for(quick(tmp_path, web_port=16067))


BASELINE = [candidate(n, 120 * n) for n in range(4)]  # a story every 2 h, hours 0-6
BURST = [candidate(100 + n, 480 + n) for n in range(14)]  # 14 stories in 14 min, hour 8


async def _feed(rasid: WorkerContext, capture: Capture, messages: list[dict[str, Any]]) -> None:
    async with rasid.app.agents["rasid.stories"].test_context() as ctx:
        for i, message in enumerate(messages):
            await ctx.put(orjson.dumps(message), key=message["article_id"].encode())
            assert ctx.results[i] == "alerts:0"


def _trends(capture: Capture) -> list[dict[str, Any]]:
    return capture.on("rasid.trends")


async def test_a_burst_gives_one_record_per_level_and_a_replay_none(rasid: WorkerContext) -> None:
    capture = Capture()
    with capture.install(rasid):
        await _feed(rasid, capture, BASELINE)
        assert _trends(capture) == []  # the usual rate: nothing
        await _feed(rasid, capture, BURST)
        records = _trends(capture)
        for record in records:
            assert schema_errors("trend", record) == []
        by_key: dict[str, list[str]] = {}
        for record in records:
            by_key.setdefault(record["key"], []).append(record["level"])
        # one record per level and key, rising; the article's region × topic reaches extreme
        assert set(by_key) == {"IQ|security", "IQ|*", "*|security"}
        for levels in by_key.values():
            assert levels == sorted(set(levels), key=LEVELS.index), levels
        assert by_key["IQ|security"] == list(LEVELS)
        assert len({r["id"] for r in records}) == len(records)
        # the records say why: the burst's stories, with their headlines
        titles = {c["title"] for c in BURST}
        assert all(s["headline"] in titles for r in records for s in r["top_stories"])
        assert all(r["new_stories"] >= 3 and r["count"] > r["expected"] for r in records)
        # keyed by trend id
        keys = [k for name, k, _ in capture.sent if name == "rasid.trends"]
        assert keys == [r["id"].encode() for r in records]
        # the same candidates again (a replay after a crash): no record, nothing counted
        before = rasid.trends.detector.to_state() if rasid.trends else {}
        await _feed(rasid, capture, BASELINE + BURST)
        assert _trends(capture) == records
        assert rasid.trends is not None
        after = rasid.trends.detector.to_state()
        assert {k: v for k, v in after.items() if k != GLOBAL} == {
            k: v for k, v in before.items() if k != GLOBAL
        }


async def test_an_outlet_joining_counts_and_a_copy_does_not(rasid: WorkerContext) -> None:
    capture = Capture()
    stage = rasid.trends
    assert stage is not None
    with capture.install(rasid):
        await _feed(rasid, capture, [candidate(1, 0)])
        # the same story from another outlet (same words: it joins), the same text again
        # (a copy), and a longer version from that outlet (joins, not a copy)
        joined = candidate(1, 5, source="outlet2")
        copy = {**joined, "article_id": "a-1-outlet2-copy"}
        again = {**candidate(1, 6, source="outlet2", extra=3), "article_id": "a-1-outlet2-bis"}
        await _feed(rasid, capture, [joined, copy, again])
    (story,) = [s for s in rasid.stories.stories.values() if s["size"] > 1]
    assert story["sources"] == ["outlet1", "outlet2"] and story["size"] == 3
    events = stage.detector.stats()["events"]
    assert events == 2  # the opener, and outlet2 once (its copy and second article: nothing)


async def test_a_new_owner_continues_from_the_table(rasid: WorkerContext) -> None:
    """After a partition assignment the detector is rebuilt from the table: the same state,
    no second warm-up, and the burst still raises its records."""
    capture = Capture()
    stage = rasid.trends
    assert stage is not None
    with capture.install(rasid):
        await _feed(rasid, capture, BASELINE)
        state = stage.detector.to_state()
        assert Journal().restore(stage.table.items()) == state  # every change written
        await rasid.app.on_partitions_assigned.send(set())
        assert stage.stale and stage.detector.watermark is None  # what a new owner starts with
        await _feed(rasid, capture, BURST)
    assert not stage.stale
    assert {r["key"] for r in _trends(capture)} >= {"IQ|security"}  # no re-warming
    # and the same records as a worker that was never interrupted
    records, _ = await _records_uninterrupted(rasid, 16068)
    assert _trends(capture) == records


def stage_dir(rasid: WorkerContext) -> Path:
    return Path(rasid.settings.data_dir) / "other"


async def test_trends_can_be_turned_off(tmp_path: Path) -> None:
    rasid = app_for(Settings(data_dir=tmp_path, web_port=16069, trends_enabled=False))
    assert rasid.trends is None and "trends" not in rasid.app.tables
    capture = Capture()
    with capture.install(rasid):
        await _feed(rasid, capture, [candidate(1, 0)])
    assert _trends(capture) == []


async def _records_uninterrupted(rasid: WorkerContext, port: int) -> tuple[list[Any], Any]:
    """The records and final state of a worker that saw BASELINE + BURST with no restart."""
    other = app_for(quick(stage_dir(rasid), web_port=port, app_id=f"rasid-other-{port}"))
    capture = Capture()
    with capture.install(other):
        await _feed(other, capture, BASELINE + BURST)
    assert other.trends is not None
    return _trends(capture), other.trends.detector.to_state()


async def test_rebuilt_from_the_journal_after_every_message_the_same_records(
    rasid: WorkerContext,
) -> None:
    """The table's journal segments hold exactly the detector's state: rebuilt from them
    before every candidate, the worker sends the same records and ends in the same state as
    one never interrupted."""
    capture = Capture()
    stage = rasid.trends
    assert stage is not None
    with capture.install(rasid):
        for cand in BASELINE + BURST:
            await rasid.app.on_partitions_assigned.send(set())
            await _feed(rasid, capture, [cand])
    assert all(k.startswith("~seg:") for k in stage.table)
    records, state = await _records_uninterrupted(rasid, 16070)
    assert records and _trends(capture) == records
    assert stage.detector.to_state() == state


async def test_a_table_of_the_per_key_layout_is_read_back_and_converted(
    rasid: WorkerContext,
) -> None:
    """The release before wrote one table record per key: a worker of this one restores the
    detector from them (continuing exactly) and moves them into a journal segment."""
    capture = Capture()
    stage = rasid.trends
    assert stage is not None
    with capture.install(rasid):
        await _feed(rasid, capture, BASELINE)
        state = stage.detector.to_state()
        for key in list(stage.table.keys()):  # the table as the release before left it
            del stage.table.data[key]
        for key, value in state.items():
            stage.table.data[key] = value
        await rasid.app.on_partitions_assigned.send(set())
        await _feed(rasid, capture, BURST[:1])
        assert all(k.startswith("~seg:") for k in stage.table)  # converted
        await _feed(rasid, capture, BURST[1:])
    records, final = await _records_uninterrupted(rasid, 16071)
    assert records and _trends(capture) == records
    assert stage.detector.to_state() == final
