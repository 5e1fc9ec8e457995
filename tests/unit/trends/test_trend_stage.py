"""The pure parts of the worker's trend stage (streams/worker/trend_stage.py): what a story
candidate feeds the detector, and the settings → parameters mapping."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from streams.settings import Settings
from streams.stories.cluster import Assignment
from streams.stories.features import StoryFeatures, story_features
from streams.trends.detector import DEFAULTS, TrendDetector, TrendEvent, Window
from streams.trends.offline import article_events
from streams.worker import trend_stage
from streams.worker.batches import Outgoing
from streams.worker.trend_stage import (
    TrendStage,
    detect,
    event_time,
    fed,
    new_outlet,
    rule_changes,
    trend_params,
    window_name,
    with_rule_titles,
)

NO_FEATURES = StoryFeatures({}, {}, {}, (), (), "-")


def story(*copies: tuple[str, str]) -> dict[str, Any]:
    return {
        "copies": [list(c) for c in copies],
        "sources": list(dict.fromkeys(s for s, _ in copies)),
    }


JOINED = Assignment("s-1", False, 0.9, size=2)


@pytest.mark.parametrize(
    ("state", "assignment", "source", "expected"),
    [
        (story(("a", "f1"), ("b", "f2")), JOINED, "b", True),  # b's first article on it
        (story(("a", "f1"), ("b", "f2"), ("b", "f3")), JOINED, "b", False),  # b again
        (story(("b", "f1"), ("a", "f2"), ("b", "f3")), JOINED, "b", False),
        (story(("a", "f1"), ("b", "f2")), JOINED, "a", False),  # the last pair is not its own
        (story(("a", "f1")), Assignment("s-1", True, 1.0), "a", False),  # opened it
        (story(("a", "f1"), ("b", "f2")), Assignment("s-1", False, 0.9, copy=True), "b", False),
        (story(("a", "f1"), ("b", "f2")), Assignment("s-1", False, 1.0, revised=True), "b", False),
        (None, JOINED, "b", False),
    ],
)
def test_an_outlet_is_new_to_a_story_once(
    state: dict[str, Any] | None, assignment: Assignment, source: str, expected: bool
) -> None:
    assert new_outlet(state, assignment, source) is expected


def alert(rule: str, status: str, *articles: tuple[str, str]) -> dict[str, Any]:
    return {
        "rule": rule,
        "status": status,
        "articles": [{"id": i, "source": s} for i, s in articles],
    }


def test_rule_events_come_from_the_alerts_that_opened_or_gained_the_outlet() -> None:
    alerts = [
        alert("opened", "new", ("x", "b")),
        alert("gained", "updated", ("w", "a"), ("x", "b")),
        alert("same-outlet", "updated", ("v", "b"), ("x", "b")),
        alert("revision", "updated", ("x", "b"), ("w", "a")),  # x revised, not last
    ]
    assert rule_changes(alerts, "x", "b") == [("opened", True), ("gained", False)]


@pytest.mark.parametrize(
    ("event_at", "at", "expected"),
    [
        ("2026-01-01T10:00:00+00:00", "2026-01-01T11:00:00+00:00", "2026-01-01T10:00:00+00:00"),
        # dated in the future (or in a wrong time zone): never after it was ingested
        ("2026-01-01T15:00:00+03:00", "2026-01-01T11:00:00+00:00", "2026-01-01T11:00:00+00:00"),
    ],
)
def test_event_time_is_published_never_after_ingested(
    event_at: str, at: str, expected: str
) -> None:
    from datetime import datetime

    assert (
        event_time({"event_at": event_at, "at": at}) == datetime.fromisoformat(expected).timestamp()
    )


def cand(**extra: Any) -> dict[str, Any]:
    return {
        "article_id": "x",
        "source": "b",
        "at": "2026-01-01T11:00:00+00:00",
        "event_at": "2026-01-01T10:00:00+00:00",
        "title": "عنوان",
        "regions": ["IQ"],
        "topics": ["security"],
        **extra,
    }


def test_a_candidate_feeds_the_same_events_as_the_offline_run() -> None:
    features = story_features("انفجار في بغداد", "وقع انفجار في بغداد صباح اليوم.")
    a = Assignment("s-1", True, 1.0)
    alerts = [alert("r1", "new", ("x", "b"))]
    got = fed(cand(), features, a, story(("b", "f")), alerts, DEFAULTS)
    from streams.trends.offline import terms_of

    want = article_events(
        at=event_time(cand()),
        source="b",
        headline="عنوان",
        terms=terms_of(features),
        regions=["IQ"],
        topics=["security"],
        assignment=a,
        new_outlet=False,
        rules=[("r1", True)],
    )
    assert got == want
    (article, keys), (rule, rule_keys) = got
    assert keys == ("IQ|security", "IQ|*", "*|security") and article.is_new_story
    assert rule_keys == ("rule:r1",) and rule.is_new_story and article.terms


def test_an_old_candidate_counts_only_under_its_rules() -> None:
    """Versions 1 and 2 (decoded with no title, regions or topics)."""
    old = cand(title="", regions=[], topics=[])
    alerts = [alert("r1", "updated", ("w", "a"), ("x", "b"))]
    got = fed(old, NO_FEATURES, JOINED, story(("a", "f"), ("b", "g")), alerts, DEFAULTS)
    assert [(e.key, keys, e.is_new_story, e.new_outlet) for e, keys in got] == [
        ("rule:r1", ("rule:r1",), False, True)
    ]


def test_a_replayed_event_is_not_counted_again() -> None:
    detector = TrendDetector()
    event = TrendEvent(1e9, "IQ|*", "s-1", True, "b", False)
    events = [(event, ("IQ|*", "*|security"))]
    detect(detector, 1e9, events)
    first = detector.to_state()
    detect(detector, 1e9, events)  # the same article again
    assert detector.to_state() == first
    assert detector.reported("IQ|*", "s-1", "b") and not detector.reported("IQ|*", "s-1", "c")
    keys = ("IQ|*", "*|security", "SY|*")
    assert detector.unreported(keys, "s-1", "b") == ("SY|*",)
    assert detector.unreported(keys, "s-1", "c") is keys


@pytest.mark.parametrize(
    ("minutes", "name"), [(15, "15m"), (60, "1h"), (360, "6h"), (1440, "1d"), (90, "90m")]
)
def test_window_names(minutes: int, name: str) -> None:
    assert window_name(minutes) == name


def test_settings_map_to_parameters() -> None:
    assert trend_params(Settings()) == DEFAULTS  # the defaults are the detector's
    p = trend_params(
        Settings(
            trends_windows_minutes=[60, 15, 15],
            trends_grace_minutes=10,
            trends_outlet_weight=0.25,
            trends_max_keys=100,
            trends_warmup_hours=1,
            trends_warmup_events=5,
            trends_key_warmup_hours=2,
        )
    )
    assert p.windows == (Window("15m", 900), Window("1h", 3600))
    assert (p.grace_seconds, p.outlet_weight, p.max_keys) == (600, 0.25, 100)
    assert (p.global_warmup_hours, p.global_warmup_events, p.key_warmup_hours) == (1, 5, 2)


@pytest.mark.parametrize(
    "bad",
    [
        {"trends_windows_minutes": [7]},  # not a multiple of the 5-minute bucket
        {"trends_grace_minutes": 60, "trends_windows_minutes": [15, 60]},  # grace ≥ longest
        {"trends_bucket_minutes": 7},  # does not divide an hour
        {"trends_bucket_minutes": 1, "trends_windows_minutes": [15, 1440]},  # 1,440 cells a key
    ],
)
def test_inconsistent_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        trend_params(Settings(**bad))


@pytest.mark.parametrize(
    "bad",
    [
        {"trends_windows_minutes": []},
        {"trends_windows_minutes": [5000]},
        {"trends_max_keys": 50_000},
    ],
)
def test_out_of_range_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)


# ---------------------------------------------------------------- a record refused for good
def _burst_cands() -> list[dict[str, Any]]:
    """A regular key (one story an hour for four days), then a story a minute."""
    t0 = 1_520_035_200.0
    times = [t0 + h * 3600 + 1800 for h in range(96)]
    times += [t0 + 96 * 3600 + 60 * j for j in range(60)]
    return [
        cand(
            article_id=f"a{i}",
            at=datetime.fromtimestamp(at, UTC).isoformat(),
            event_at=datetime.fromtimestamp(at, UTC).isoformat(),
            regions=["IQ"],
            topics=[],
        )
        for i, at in enumerate(times)
    ]


def _ctx(refuse: set[int]) -> SimpleNamespace:
    params = replace(DEFAULTS, global_warmup_hours=24, global_warmup_events=20)
    stage = TrendStage(topic=None, table={}, params=params, detector=TrendDetector(params))
    stage.stale = False
    return SimpleNamespace(trends=stage, stories=SimpleNamespace(stories={}), refuse=refuse)


async def _run(ctx: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every candidate through `observe` then `flush` (as the story agent does, a candidate a
    message), the detector rebuilt from the table after each: the levels sent."""
    sent: list[str] = []
    calls = 0

    async def deliver(out: list[Outgoing]) -> list[Outgoing]:
        nonlocal calls
        calls += 1
        if calls in ctx.refuse:
            out[0].error = ValueError("too large")
            return out[:1]
        sent.extend(orjson.loads(o.value)["level"] for o in out)
        return []

    monkeypatch.setattr(trend_stage, "deliver", deliver)
    stage = ctx.trends
    for i, c in enumerate(_burst_cands()):
        with contextlib.suppress(RuntimeError):  # the story agent dead-letters it, goes on
            await trend_stage.observe(ctx, c, NO_FEATURES, Assignment(f"s{i}", True, 1.0), [])
        trend_stage.flush(ctx)
        stage.stale = True  # as after a partition assignment: rebuilt from the table
        trend_stage.refresh(stage)
    return sent


async def test_a_record_refused_for_good_is_sent_at_the_next_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The detector's level is raised in memory before its record is sent: if the broker
    refuses the record, the table must not say it went out (else it is lost for good)."""
    whole = await _run(_ctx(set()), monkeypatch)
    assert whole == ["elevated", "high", "extreme"]
    # the first record refused: sent at the key's next event (the old order lost it: high,
    # extreme), the others as before
    assert await _run(_ctx({1}), monkeypatch) == whole


def test_a_rule_record_carries_the_rule_titles_of_its_alert() -> None:
    records = [
        {"kind": "rule", "rule": "r1", "key": "rule:r1"},
        {"kind": "rule", "rule": "r2", "key": "rule:r2"},
        {"kind": "region", "key": "IQ|*"},
    ]
    alerts = [
        {"rule": "r1", "rule_title": "خط أحمر" * 100, "rule_title_en": "Red line"},
        {"rule": "r2", "rule_title": "تفجير"},
    ]
    got = with_rule_titles(records, alerts)
    assert got[0]["rule_title"] == ("خط أحمر" * 100)[:300] and got[0]["rule_title_en"] == "Red line"
    assert got[1]["rule_title"] == "تفجير" and "rule_title_en" not in got[1]
    assert "rule_title" not in got[2]
