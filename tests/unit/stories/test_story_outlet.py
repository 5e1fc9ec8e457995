"""The outlet rule of the story stage: joining a story the article's own outlet has already
reported takes `StoryParams.outlet_threshold` (an outlet seldom files two reports of one event;
its second article on a story is more often a reaction or a side story)."""

from __future__ import annotations

from typing import Any

import pytest

from streams.settings import Settings
from streams.stories.cluster import (
    MAX_STORY_SOURCES,
    Clusterer,
    StoryParams,
    copy_key,
    packaged_join,
    packaged_model,
    reported_by,
    story_id_for,
)
from streams.stories.features import StoryFeatures, story_features
from tests.unit.stories.test_stories import REWRITE, REWRITE_TITLE, STORY, TITLE  # shared texts


def _features(title: str, body: str) -> StoryFeatures:
    return story_features(title, body, ["بغداد"])


def _many(n: int) -> list[str]:
    return [f"s{i}" for i in range(n)]


@pytest.mark.parametrize(
    ("sources", "copies", "source", "expected"),
    [
        (["s1", "s2"], [], "s1", True),
        (["s1", "s2"], [], "s3", False),
        # past the listed outlets: the story's copy pairs (its last articles) tell
        (_many(MAX_STORY_SOURCES), [("late", 7)], "late", True),
        (_many(MAX_STORY_SOURCES), [["late", 7]], "late", True),  # read back from the table
        (_many(MAX_STORY_SOURCES), [("late", 7)], "other", False),
        # below the cap an outlet not listed has no article in the story, whatever the copies
        (_many(3), [("late", 7)], "late", False),
    ],
)
def test_reported_by(sources: list[str], copies: list[Any], source: str, expected: bool) -> None:
    assert reported_by({"sources": sources, "copies": copies}, source) is expected


@pytest.mark.parametrize(
    ("outlet_threshold", "second_source", "joins"),
    [
        (0.0, "s1", True),  # no outlet rule: the join threshold alone
        (0.0, "s2", True),
        (0.999999, "s2", True),  # another outlet: the join threshold alone
        (0.999999, "s1", False),  # the same outlet's rewrite needs more than it has
        (0.5, "s1", True),  # below the join threshold: the join threshold rules
    ],
)
def test_joining_a_story_the_outlet_reported_takes_the_outlet_threshold(
    outlet_threshold: float, second_source: str, joins: bool
) -> None:
    c = Clusterer(StoryParams(outlet_threshold=outlet_threshold, anchor=0.2))
    first = c.add("a", "s1", _features(TITLE, STORY), 0)
    second = c.add("b", second_source, _features(REWRITE_TITLE, REWRITE), 60)
    assert first.is_new
    assert StoryParams().threshold < 0.999999  # the rewrite passes the join threshold
    assert (second.story_id == first.story_id) is joins
    assert second.is_new is not joins


@pytest.mark.parametrize("outlet_threshold", [0.0, 1.0])
def test_an_outlet_filing_the_same_text_again_is_still_a_copy(outlet_threshold: float) -> None:
    """The same text from the same outlet under another id is found as a copy of the story
    (no alert update), however high the outlet threshold: it is not a second report."""
    c = Clusterer(StoryParams(outlet_threshold=outlet_threshold))
    c.add("a", "s1", _features(TITLE, STORY), 0)
    c.add("b", "s2", _features(REWRITE_TITLE, REWRITE), 30)
    again = c.add("c", "s1", _features(TITLE, STORY), 60)
    assert (again.story_id, again.copy, again.size) == (story_id_for("a"), True, 2)
    assert (
        copy_key("s1", _features(TITLE, STORY).fingerprint) in c.stories[again.story_id]["copies"]
    )


def test_the_packaged_outlet_threshold_is_above_the_join_threshold() -> None:
    _, threshold, _ = packaged_model()
    params = StoryParams()
    assert threshold < params.outlet_threshold < 1.0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),  # the packaged model's
        ({"RASID_STORY_OUTLET_THRESHOLD": "0.9"}, 0.9),
        ({"RASID_STORY_OUTLET_THRESHOLD": "0"}, 0.0),  # off: the join threshold for every story
    ],
)
def test_the_outlet_threshold_is_a_setting(
    env: dict[str, str], expected: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    params = StoryParams.from_settings(Settings())
    want = packaged_join()["outlet_threshold"] if expected is None else expected
    assert params.outlet_threshold == want
