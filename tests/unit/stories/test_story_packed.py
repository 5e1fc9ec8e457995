"""A live story's `first` held as its JSON bytes (`First`) and its copy pairs packed from
COPIES_PACKED_FROM on (`Copies`): issue 13, docs/performance.md "Memory: round sixteen". The
same assignments and the same table JSON as the object form they replace (a dict `first`, a
list of tuples), whether the stories stay in memory or are read back from the table."""

from __future__ import annotations

import copy
import ctypes
import json
import random
import struct
import sys
from typing import Any

import orjson
import pytest
from faust.utils import json as faust_json

from streams.stories import cluster
from streams.stories.cluster import (
    COPIES_PACKED_FROM,
    MAX_COPIES,
    MAX_STORY_SOURCES,
    Clusterer,
    Copies,
    First,
    _copies,
    _first_of,
    _with_copy,
    compact,
    copy_key,
    opener,
    state_json,
)
from streams.worker.story_store import StoryStore

from .test_stories import _features

# (article id, outlet, text, seconds): one story that passes MAX_STORY_SOURCES outlets and
# MAX_COPIES pairs, with same-outlet copies (the same text again) and a second story
KINDS = ("story", "rewrite", "story", "other")


def _steps(n: int, seed: int) -> list[tuple[str, str, str, float]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        outlet = f"o{rng.randrange(MAX_STORY_SOURCES + 150)}"
        out.append((f"a{i}", outlet, rng.choice(KINDS), 30.0 * i))
    return out


def _old_form(m: pytest.MonkeyPatch) -> None:
    """The object form of before: `first` a dict, the copies a list of tuples at any length."""
    m.setattr(cluster, "COPIES_PACKED_FROM", 10**9)
    m.setattr(cluster.First, "of", staticmethod(lambda first: first))


def _table_json(story: dict[str, Any]) -> bytes:
    return bytes(faust_json.dumps(story))  # what the worker's table writes (faust's codec)


def _run(steps: list[tuple[str, str, str, float]], restore: bool) -> tuple[list[Any], Clusterer]:
    c = Clusterer()
    got = []
    for aid, outlet, kind, at in steps:
        got.append(c.add(aid, outlet, _features(kind), at))
        if restore:  # every story read back from the table, as a restarted worker has it
            for sid, story in list(c.stories.items()):
                c.stories[sid] = compact(orjson.loads(_table_json(story)))
    return got, c


@pytest.mark.parametrize(("n", "seed"), [(12, 1), (40, 2), (260, 3), (520, 4)])
@pytest.mark.parametrize("restore", [False, True])
def test_packed_stories_assign_and_store_as_the_object_form(
    n: int, seed: int, restore: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = _steps(n, seed)
    got, packed = _run(steps, restore)
    with monkeypatch.context() as m:
        _old_form(m)
        want, old = _run(steps, False)
    assert got == want
    assert list(packed.stories) == list(old.stories)
    for sid, story in old.stories.items():
        assert type(story.get("first", {})) is dict and type(story["copies"]) is list
        mine = packed.stories[sid]
        assert _table_json(mine) == _table_json(story)
        assert orjson.dumps(mine, default=state_json) == orjson.dumps(story, default=state_json)
        assert json.dumps(mine, default=state_json) == json.dumps(story, default=state_json)
        assert opener(mine) == opener(story)
        if story["size"] >= 2:
            assert type(mine["first"]) is First and mine["first"] == story["first"]
        copies = _copies(mine["copies"])  # as the next update reads it (restore: JSON lists)
        assert (type(copies) is Copies) is (len(story["copies"]) >= COPIES_PACKED_FROM)
        assert copies == story["copies"]
    longest = max(old.stories.values(), key=lambda s: len(s["copies"]))
    assert len(longest["copies"]) >= (
        MAX_COPIES if n > 400 else COPIES_PACKED_FROM if n > 12 else 1
    )
    assert len(longest["sources"]) == (MAX_STORY_SOURCES if n > 200 else len(longest["sources"]))


def test_a_story_written_by_the_old_code_is_restored_and_extended() -> None:
    """A table record of the old object form (dict `first`, list copies) is read back through
    the StoryStore, packed in place (no write: the same JSON) and extended as the old code
    would have."""
    steps = _steps(240, 5)
    with pytest.MonkeyPatch.context() as m:
        _old_form(m)
        _, old = _run(steps[:200], False)
        written = {sid: _table_json(s) for sid, s in old.stories.items()}
        df = copy.deepcopy(old.df)
        old_rest = [old.add(aid, o, _features(k), at) for aid, o, k, at in steps[200:]]
        old_final = {sid: _table_json(s) for sid, s in old.stories.items()}
    table = {sid: orjson.loads(data) for sid, data in written.items()}
    store = StoryStore(table)
    for sid, data in written.items():
        story = store[sid]
        assert _table_json(story) == data  # packed in place: the same JSON, no write needed
        if story["size"] >= 2:
            assert type(story["first"]) is First
    c = Clusterer(stories=store)
    c.index = cluster.StoryIndex.build(store, c.params, horizon=0.0)
    c.df = df  # the same document frequencies (their table is not what this tests)
    rest = [c.add(aid, o, _features(k), at) for aid, o, k, at in steps[200:]]
    assert rest == old_rest
    assert {sid: _table_json(store[sid]) for sid in old_final} == old_final


PAIRS = [("o1", 0), ("o2", 2**63 - 1), ("o1", 5), ("o3", 5), ("o2", 1 << 40)]


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 50, 199, 200, 201, 450])
def test_copies_hold_the_pairs_of_the_list(n: int) -> None:
    rng = random.Random(n)
    ref: list[tuple[str, int]] = []
    copies: Any = []
    for i in range(n):
        key = PAIRS[i] if i < len(PAIRS) else (f"o{rng.randrange(9)}", rng.getrandbits(63))
        ref = [*ref, key][-MAX_COPIES:]
        copies = _with_copy(copies, key)
        assert (type(copies) is Copies) is (len(ref) >= COPIES_PACKED_FROM)
    assert list(copies) == ref and copies == ref and len(copies) == len(ref)
    assert orjson.dumps(copies, default=state_json) == orjson.dumps(ref)
    assert _copies(json.loads(json.dumps(ref))) == ref  # as the table gives it back
    for key in ref:
        assert key in copies
    for source, digest in ref[:20]:
        assert (source + "x", digest) not in copies
        if (source, digest + 1) not in ref:
            assert (source, digest + 1) not in copies
    if n:
        assert copies[-1] == ref[-1] and copies[0] == ref[0]


def test_a_digest_across_two_pairs_is_not_a_pair() -> None:
    """`in` finds a digest's bytes only at a pair's boundary, not straddling two pairs."""
    pairs = [("o1", 0x0102030405060708), ("o1", 0x1112131415161718)] * 4
    copies = Copies.of(pairs)
    data = copies.digests
    straddle = struct.unpack("=q", data[4:12])[0]
    assert straddle not in {f for _, f in pairs}
    assert ("o1", straddle) not in copies
    assert ("o1", pairs[1][1]) in copies and ("o2", pairs[1][1]) not in copies


def test_first_is_the_dict_it_was_made_of() -> None:
    c = Clusterer()
    for i, kind in enumerate(["story", "rewrite", "story"]):
        c.add(f"a{i}", f"o{i}", _features(kind), 10.0 * i)
    (story,) = c.stories.values()
    first = story["first"]
    assert type(first) is First
    single = Clusterer()
    single.add("a0", "o0", _features("story"), 0.0)
    (alone,) = single.stories.values()
    want = _first_of(alone)
    assert first.value() == want and first == want and first == First.of(want)
    assert list(first.value()) == list(want)  # the same order, so the same dot products
    for name in ("title", "lead", "body"):
        assert list(first[name].items()) == list(want[name].items())
    assert orjson.dumps(first, default=state_json) == orjson.dumps(want)
    assert faust_json.dumps({"first": first}) == orjson.dumps({"first": want})
    assert copy_key("o0", _features("story").fingerprint) in story["copies"]


def test_first_holds_only_its_own_bytes() -> None:
    """`First.of` copies orjson's result, which keeps the whole buffer it wrote into (32 KB of
    malloc for ~2.3 KB of JSON: +33 MB of glibc heap at 10,000 articles of
    bench/state_growth.py before the copy)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        pytest.skip("no glibc")
    libc.malloc_usable_size.restype = ctypes.c_size_t
    single = Clusterer()
    single.add("a0", "o0", _features("story"), 0.0)
    (alone,) = single.stories.values()
    data = First.of(_first_of(alone)).data
    assert len(data) > 512  # a block of its own from malloc (past pymalloc's sizes)
    assert libc.malloc_usable_size(ctypes.c_void_p(id(data))) <= sys.getsizeof(data) + 64
