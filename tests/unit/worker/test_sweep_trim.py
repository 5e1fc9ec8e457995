"""malloc_trim after a story sweep (`heap.trim`, called by `story_stage.prune`), a glibc call
skipped elsewhere; the sweep's period is RASID_STORY_PRUNE_SECONDS."""

from __future__ import annotations

import pytest

from streams.settings import Settings
from streams.worker import heap, story_stage
from streams.worker.story_store import StoryStore

glibc = pytest.mark.skipif(heap._glibc() is None, reason="the C library is not glibc")


@glibc
def test_trim_runs_under_glibc_and_says_how_long_it_took() -> None:
    blocks = [bytearray(256 * 1024) for _ in range(64)]  # ~16 MB from malloc, then freed
    del blocks
    took = heap.trim()
    assert took is not None
    assert 0.0 <= took < 5.0


def test_without_glibc_trim_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_glibc", lambda: None)
    assert heap.trim() is None


def _stage(prune_every: float) -> story_stage.StoryStage:
    settings = Settings(story_prune_seconds=prune_every)
    return story_stage.StoryStage.of(
        settings, topic=None, stories=StoryStore({}), alerts={}, docfreq={}
    )


@pytest.mark.parametrize(
    ("last_seen", "closes", "trims"),
    [
        (0.0, 1, 1),  # quiet for longer than the window: closed, the heap trimmed
        (1_000_000.0, 0, 0),  # reported within the window: kept, nothing to trim
    ],
)
def test_a_sweep_runs_every_prune_every_seconds_and_trims_after_closing(
    monkeypatch: pytest.MonkeyPatch, last_seen: float, closes: int, trims: int
) -> None:
    calls: list[None] = []
    monkeypatch.setattr(heap, "trim", lambda: calls.append(None))
    stage = _stage(prune_every=60.0)
    stage.last_prune = 1_000_000.0 - 30.0  # the last sweep 30 s ago: not due yet
    stage.stories["st-a"] = {"last_seen": last_seen, "size": 2}
    story_stage.prune(stage, 1_000_000.0)
    assert len(stage.stories) == 1 and calls == []
    story_stage.prune(stage, 1_000_000.0 + 31.0)  # 61 s since the last sweep: due
    assert len(stage.stories) == 1 - closes
    assert len(calls) == trims
    assert stage.last_prune == 1_000_031.0


def test_the_sweep_period_is_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_STORY_PRUNE_SECONDS", "0.5")
    assert Settings().story_prune_seconds == 0.5
    monkeypatch.setenv("RASID_STORY_PRUNE_SECONDS", "0")
    with pytest.raises(ValueError):
        Settings()
