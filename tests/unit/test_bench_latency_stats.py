"""bench/latency_stats.py: the percentile, its bootstrap interval, the number of latency
windows and the tail's steps that bench/pipeline.py prints (the bench itself asserts
nothing, so the arithmetic its figures rest on is checked here)."""

from __future__ import annotations

import math

import pytest

from bench import pipeline
from bench.latency_stats import bootstrap_interval, pct, tail_steps, windows_needed


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 99, 5.0),
        ([3.0, 1.0, 2.0], 0, 1.0),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([3.0, 1.0, 2.0], 100, 3.0),
        (list(range(1, 101)), 99, 99.0),  # rank round(0.99 × 99) = 98: the 99th value
        (list(range(1, 38)), 99, 37.0),  # 37 samples: the p99 is their maximum
        (list(range(1, 301)), 99, 297.0),  # 300 samples: three values above it
    ],
)
def test_pct_is_the_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert pct(values, q) == expected


def test_pct_of_nothing_is_nan() -> None:
    assert math.isnan(pct([], 99))


@pytest.mark.parametrize(
    ("values", "q", "lo", "hi"),
    [
        ([7.0] * 50, 99, 7.0, 7.0),  # no spread: the interval is the value
        ([1.0, 2.0], 50, 1.0, 2.0),
    ],
)
def test_bootstrap_interval_bounds(values: list[float], q: float, lo: float, hi: float) -> None:
    assert bootstrap_interval(values, q) == (lo, hi)


def test_bootstrap_interval_narrows_with_more_samples_and_holds_the_estimate() -> None:
    few = [float(i % 97) for i in range(40)]
    many = [float(i % 97) for i in range(4000)]
    f_lo, f_hi = bootstrap_interval(few, 99)
    m_lo, m_hi = bootstrap_interval(many, 99)
    assert f_lo <= pct(few, 99) <= f_hi
    assert m_lo <= pct(many, 99) <= m_hi
    assert m_hi - m_lo < f_hi - f_lo


def test_bootstrap_interval_is_seeded() -> None:
    values = [float(i * 7 % 53) for i in range(200)]
    assert bootstrap_interval(values, 95) == bootstrap_interval(values, 95)
    assert all(math.isnan(x) for x in bootstrap_interval([], 99))


@pytest.mark.parametrize(
    ("min_samples", "first", "max_windows", "expected"),
    [
        (300, 37, 30, 9),  # ceil(300 / 37)
        (300, 300, 30, 1),
        (300, 500, 30, 1),
        (0, 0, 30, 1),  # --min-alerts 0: one window, the old run
        (300, 0, 30, 30),  # no alert in the first window: as many as allowed
        (300, 5, 30, 30),  # capped
        (300, 1, 1, 1),
    ],
)
def test_windows_needed(min_samples: int, first: int, max_windows: int, expected: int) -> None:
    assert windows_needed(min_samples, first, max_windows) == expected


def test_tail_steps_names_the_step_that_holds_the_tail() -> None:
    # 39 fast articles, 1 slow one whose time went to "story stage": the p99 of 40 is the max
    rows = [{"picked up": 10.0, "story stage": 5.0, "total": 15.0} for _ in range(39)]
    rows.append({"picked up": 11.0, "story stage": 300.0, "total": 311.0})
    split = tail_steps(rows, "total", 99)
    assert set(split) == {"picked up", "story stage"}
    assert split["picked up"] == (10.0, 11.0)
    assert split["story stage"] == (5.0, 300.0)


def test_tail_steps_of_nothing() -> None:
    assert tail_steps([], "total") == {}


def test_step_rows_need_every_point() -> None:
    points = {"ingested": 1.010, "enriched_out": 1.020, "candidate_seen": 1.030}
    full = {**points, "alert_out": 1.050, "alert_seen": 1.060}
    rows = pipeline.step_rows({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": full, "b": points})
    assert len(rows) == 1  # "b" has no alert, "c" nothing at all
    row = rows[0]
    assert row["picked up"] == pytest.approx(10.0)
    assert row["story stage"] == pytest.approx(20.0)
    assert row["total"] == pytest.approx(60.0)
    steps = sum(v for k, v in row.items() if k != "total")
    assert steps == pytest.approx(row["total"])
