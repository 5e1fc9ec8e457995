"""The paced feed of bench/pipeline.py's RSS run (its clock arithmetic) and state_growth's check
that a corpus coming round again meets closed stories: the figures these benches print rest on
them, so they are checked here (the benches themselves assert nothing)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench import pipeline, state_growth
from streams.settings import Settings


def test_the_paced_window_holds_what_the_real_window_holds() -> None:
    settings = SimpleNamespace(
        story_window_hours=48.0, alert_dedup_days=30.0, story_prune_seconds=600.0
    )
    clock = pipeline.Clock.of(5000, 100, settings)
    assert clock.scale == pytest.approx(1728.0)  # 100 articles/s against 5,000 a day
    window_s = float(clock.env()["RASID_STORY_WINDOW_HOURS"]) * 3600
    assert window_s * clock.pace == pytest.approx(10_000)  # 48 h of 5,000 a day
    assert clock.prune_every * clock.pace == pytest.approx(600 * 5000 / 86400)  # ~35 articles
    dedup_s = float(clock.env()["RASID_ALERT_DEDUP_DAYS"]) * 86400
    assert dedup_s * clock.pace == pytest.approx(150_000)  # 30 days of 5,000 a day
    assert "10,000 articles" in clock.describe()


def test_the_scaled_settings_are_valid_worker_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = pipeline.Clock.of(5000, 100, Settings())
    for name, value in clock.env().items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.story_window_hours * 3600 == pytest.approx(100.0)
    assert settings.alert_dedup_days * 86400 == pytest.approx(1500.0)


def test_the_bench_scales_the_worker_s_own_sweep_period(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = pipeline.Clock.of(5000, 100, Settings())
    assert clock.prune_seconds == Settings().story_prune_seconds == 600.0
    for name, value in clock.env().items():
        monkeypatch.setenv(name, value)
    assert Settings().story_prune_seconds == pytest.approx(600.0 / clock.scale)


def test_rewrites_counts_a_live_story_listing_one_article_from_two_cycles() -> None:
    cycled = 100
    stories = [
        {"articles": ["g-5-a1", "g-7-a2"]},  # one cycle, two articles
        {"articles": ["g-95-b1", "g-103-b2"]},  # spans a cycle boundary: new news
        {"articles": ["g-10-c1", "g-110-c1"]},  # the same text again while live: a rewrite
        {"articles": ["g-150-d-1"]},  # ids may hold dashes
    ]
    out = state_growth.rewrites(stories, cycled, cycle=1)
    assert "earlier cycle of the corpus 3," in out
    assert "two cycles 2," in out
    assert "rewritten) 1" in out
