"""The trend journal's garbage bound (streams/trends/journal.py `ratio`, round fifteen): the
segments hold at most `ratio` times the live entries' bytes plus the slack and one write, a
lower ratio holds less and copies more, and every ratio restores the same state."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from streams.settings import Settings
from streams.trends.journal import RATIO, Journal
from streams.worker import trend_stage
from tests.unit.trends.test_journal import Changes, random_steps


def run(ratio: float, steps: list[Changes], segment_bytes: int, slack: int) -> dict[str, object]:
    journal = Journal(segment_bytes, slack, ratio)
    table: dict[str, bytes] = {}
    state: dict[str, bytes] = {}
    sizes, excess, written = [], 0, 0
    for changes in steps:
        for key, value in journal.write(changes):
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
                written += len(value)
        for key, value in changes:
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
        stats = journal.stats()
        sizes.append(stats["bytes"])
        excess = max(excess, stats["bytes"] - ratio * stats["live_bytes"] - slack)
    return {
        "restored": Journal().restore(table.items()),
        "state": state,
        "mean": sum(sizes) / len(sizes),
        "excess": excess,
        "written": written,
    }


CASES = [  # ratio, segment bytes, slack
    (1.0, 600, 0),
    (1.25, 600, 0),
    (1.5, 2000, 1000),
    (2.0, 600, 0),
    (1.0, 100_000, 0),  # one segment a write
]


@pytest.mark.parametrize(("ratio", "segment_bytes", "slack"), CASES)
@pytest.mark.parametrize("seed", [1, 2])
def test_the_segments_stay_within_ratio_times_the_live_bytes(
    ratio: float, segment_bytes: int, slack: int, seed: int
) -> None:
    got = run(ratio, random_steps(seed, 300, 400), segment_bytes, slack)
    assert got["restored"] == got["state"]
    # over the bound by at most a few writes (≤ 13 entries of ≤ 400 bytes each): the
    # compaction budget of one write, and the newest segments, never compacted
    assert got["excess"] <= 3 * max(segment_bytes, 6000)


@pytest.mark.parametrize("seed", [3, 4])
def test_a_lower_ratio_holds_less_and_copies_more(seed: int) -> None:
    steps = random_steps(seed, 300, 400)
    runs = [run(ratio, steps, 600, 0) for ratio in (1.0, 1.25, 1.5, 2.0)]
    assert all(r["restored"] == r["state"] == runs[0]["state"] for r in runs)
    means = [r["mean"] for r in runs]
    assert means == sorted(means) and len(set(means)) == len(means), means
    written = [r["written"] for r in runs]
    assert written == sorted(written, reverse=True), written


def test_the_default_ratio_and_its_floor() -> None:
    assert Journal().ratio == RATIO
    assert RATIO == Settings().trends_journal_ratio == 2.0  # the changelog bytes of before
    with pytest.raises(ValueError):
        Journal(ratio=0.9)


@pytest.mark.parametrize(("env", "ratio"), [(None, RATIO), ("1", 1.0), ("2", 2.0), ("1.5", 1.5)])
def test_the_worker_journal_takes_the_setting(
    env: str | None, ratio: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RASID_TRENDS_JOURNAL_RATIO reaches the stage's journal, and the one `refresh` rebuilds."""
    if env is not None:
        monkeypatch.setenv("RASID_TRENDS_JOURNAL_RATIO", env)
    app = SimpleNamespace(topic=lambda *a, **k: None, Table=lambda *a, **k: {})
    stage = trend_stage.declare(app, Settings())
    assert stage is not None and stage.journal.ratio == ratio
    trend_stage.refresh(stage)  # stale after declare: the journal is rebuilt from the table
    assert stage.journal.ratio == ratio and not stage.stale


@pytest.mark.parametrize("env", ["0.9", "0", "5"])
def test_a_ratio_out_of_bounds_is_refused(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASID_TRENDS_JOURNAL_RATIO", env)
    with pytest.raises(ValidationError):
        Settings()
