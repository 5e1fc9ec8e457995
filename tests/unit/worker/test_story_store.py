"""StoryStore: every story in memory; in the table only those with two articles or an alert."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from streams.worker.story_store import StoryStore


def _story(size: int) -> dict[str, Any]:
    return {"size": size, "last_seen": 1.0}


def test_one_article_stories_stay_in_memory_until_they_grow_or_alert() -> None:
    table: dict[str, Any] = {}
    store = StoryStore(table)
    store["single"] = _story(1)
    store["pair"] = _story(2)
    store["alerted"] = _story(1)
    store.keep("alerted")
    assert set(table) == {"pair", "alerted"}
    assert set(store) == {"single", "pair", "alerted"} and len(store) == 3
    store["single"] = _story(2)  # a second article joined: now worth a restart
    assert table["single"]["size"] == 2
    store["alerted"] = _story(1)  # kept stories are written on every change
    assert table["alerted"] == _story(1)


def test_after_a_partition_assignment_the_table_is_the_truth() -> None:
    table: dict[str, Any] = {"restored": _story(3)}
    store = StoryStore(table)
    store["memory-only"] = _story(1)
    store.forget_memory()
    assert store.get("memory-only") is None and store["restored"] == _story(3)
    assert list(store) == ["restored"]  # read from the table once, then served from memory
    with pytest.raises(KeyError):
        store["missing"]


@pytest.mark.parametrize("where", ["memory", "table"])
def test_delete_removes_a_story_everywhere(where: str) -> None:
    table: dict[str, Any] = {}
    store = StoryStore(table)
    store["s"] = _story(1 if where == "memory" else 2)
    del store["s"]
    assert "s" not in table and store.get("s") is None and len(store) == 0
    with pytest.raises(KeyError):
        del store["s"]


def test_a_state_restored_from_the_changelog_is_made_compact_and_clusters_alike() -> None:
    """A rolling upgrade restores the stories table from its changelog, written by the
    previous release: JSON objects, centroids as term → weight objects. The store makes the
    body centroid compact in place (the table's own object: its JSON, what faust would write
    again, does not change) and clustering goes on exactly as on the stories never written."""
    from faust.serializers import codecs

    from streams.stories.cluster import Centroid, Clusterer
    from tests.unit.stories.test_stories import _assign

    steps = [("a", "s1", "story", 0), ("b", "s2", "rewrite", 30), ("c", "s3", "other", 60)]
    live = Clusterer()
    for step in steps:
        _assign(live, *step)
    written = {sid: codecs.dumps("json", s) for sid, s in live.stories.items()}
    restored = {sid: codecs.loads("json", b) for sid, b in written.items()}
    assert all(type(s["body"]) is dict for s in restored.values())  # the previous shape
    store = StoryStore(restored)
    again = Clusterer(stories=store, index=copy.deepcopy(live.index), df=copy.deepcopy(live.df))
    for sid, raw in written.items():
        story = store[sid]
        assert story is restored[sid] and type(story["body"]) is Centroid
        assert codecs.dumps("json", story) == raw
    got = _assign(again, "d", "s4", "rewrite", 90)
    want = _assign(live, "d", "s4", "rewrite", 90)
    assert got == want and not got.is_new
    assert codecs.dumps("json", store[got.story_id]) == codecs.dumps(
        "json", live.stories[got.story_id]
    )
