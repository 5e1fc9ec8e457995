"""A story slot holds its headline as JSON bytes (`_Story.title`: orjson kept a UTF-8 copy
inside every Arabic headline it encoded), and a key not written recently is encoded whole
(`_Key.dump_whole`, no parts kept); the records, the changes and the state are HEAD's bytes
(issue 13; docs/performance.md, "Memory: round seventeen"). The fixture was written by HEAD's
code (d3ae499) from `events(17, 1500)` below."""

from __future__ import annotations

import ctypes
import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.trends import detector as detector_module
from streams.trends.detector import TrendDetector, TrendEvent, TrendParams

FIXTURE = Path(__file__).parent / "data" / "head_trend_state.json"
T0 = 1_700_000_000.0
HEADLINES = [
    "",
    "خبر عاجل في بغداد",
    'a "quoted" \\ back\\slash',
    "tab\tnew\nline\x01\x1f",
    "😀 𝕏 emoji",
    "ا" * 400,  # past max_headline_chars
    "headline",
]
KEYS = ["IQ|*", "SY|*", "*|security", "rule:r1", "rule:r2"]
PARAMS = TrendParams(
    max_stories=3,
    max_terms=4,
    terms_cap=12.0,
    max_keys=6,
    global_warmup_hours=24,
    global_warmup_events=20,
    key_warmup_hours=12.0,
)


def events(seed: int, n: int) -> list[tuple[TrendEvent, tuple[str, ...]]]:
    """Sparse events with bursts (records), every kind of headline, stories joined later
    (an empty headline replaced), a few keys pruned and evicted."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(20)] + ["دوما", "كيماوي"]
    out, at, opened = [], T0, 0
    for i in range(n):
        at += rng.expovariate(1 / (10 if (i // 40) % 5 == 4 else 900))  # bursts
        new = opened == 0 or rng.random() < 0.6
        story = f"s{opened}" if new else f"s{rng.randrange(opened)}"
        opened += new
        headline = rng.choice(HEADLINES)
        event = TrendEvent(
            at,
            "-",
            story,
            new,
            f"o{rng.randrange(5)}",
            not new,
            headline,
            tuple(rng.sample(words, 4)),
            rng.randrange(1, 9),
        )
        out.append((event, tuple(rng.sample(KEYS, rng.randrange(1, 4)))))
    return out


def _sha(state: dict[str, bytes]) -> str:
    return hashlib.sha256(
        b"".join(k.encode() + b"\0" + state[k] for k in sorted(state))
    ).hexdigest()


@pytest.mark.parametrize("encoded_keys", [0, 2, 256])
def test_a_state_written_by_head_restores_and_extends_as_head_extended_it(
    encoded_keys: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detector_module, "ENCODED_KEYS", encoded_keys)
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    state = {k: v.encode() for k, v in fixture["state"].items()}
    detector = TrendDetector.from_state(state, PARAMS)
    assert detector.to_state() == state  # the same bytes back
    records: list[dict[str, Any]] = []
    changes = hashlib.sha256()
    for i, (event, keys) in enumerate(events(17, 1500)[1000:], 1):
        records += detector.observe_keys(event, keys)
        if i % 7 == 0:
            for key, value in detector.take_changes():
                changes.update(key.encode() + b"\0" + (value or b"-") + b"\n")
    assert len(records) == fixture["records"] > 0
    dumped = b"\n".join(json.dumps(r, sort_keys=True, ensure_ascii=False).encode() for r in records)
    assert hashlib.sha256(dumped).hexdigest() == fixture["records_sha256"]
    assert changes.hexdigest() == fixture["changes_sha256"]
    assert _sha(detector.to_state()) == fixture["state_after_sha256"]
    shown = {s["headline"] for r in records for s in r["top_stories"]}
    assert {"ا" * PARAMS.max_headline_chars, 'a "quoted" \\ back\\slash'} <= shown


@pytest.mark.parametrize("headline", HEADLINES)
def test_a_slot_holds_its_headline_as_the_json_of_the_cut_headline(headline: str) -> None:
    detector = TrendDetector(PARAMS)
    event = TrendEvent(T0, "-", "s1", True, "o1", False, headline, ("w",), 1)
    detector.observe_keys(event, ("IQ|*", "rule:r1"))
    cut = headline[: PARAMS.max_headline_chars]
    slots = [ks.stories["s1"] for ks in detector._keys.values()]
    assert all(s.headline == cut for s in slots)
    assert all(s.title == orjson.dumps(cut) for s in slots)
    assert len({id(s.title) for s in slots}) == 1  # one object for the article's keys
    # a bytes object of its own size, not orjson's whole output buffer (checked where the
    # block is malloc's own: past pymalloc's 512 bytes)
    if len(slots[0].title) > 512:
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError:
            pytest.skip("no glibc")
        libc.malloc_usable_size.restype = ctypes.c_size_t
        usable = libc.malloc_usable_size(ctypes.c_void_p(id(slots[0].title)))
        assert usable <= sys.getsizeof(slots[0].title) + 64
    for key, value in detector.take_changes():
        if key != detector_module.GLOBAL:
            assert value is not None
            assert orjson.loads(value)["stories"][0][1] == cut


def test_a_story_first_seen_without_a_headline_takes_the_next_one() -> None:
    detector = TrendDetector(PARAMS)
    detector.observe_keys(TrendEvent(T0, "-", "s1", True, "o1", False, "", ("w",), 1), ("IQ|*",))
    detector.observe_keys(
        TrendEvent(T0 + 60, "-", "s1", False, "o2", True, "عنوان", ("w",), 2), ("IQ|*",)
    )
    detector.observe_keys(
        TrendEvent(T0 + 90, "-", "s1", False, "o3", True, "آخر", ("w",), 3), ("IQ|*",)
    )
    assert detector._keys["IQ|*"].stories["s1"].headline == "عنوان"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_key_encoded_whole_writes_its_spliced_bytes(seed: int) -> None:
    """dump_whole (one orjson.dumps, no parts kept) against dump (parts spliced) at every
    write, keys with and without parts; then the spliced dump again, from no parts."""
    detector = TrendDetector(PARAMS)
    compared = 0
    for i, (event, keys) in enumerate(events(seed, 1200), 1):
        detector.observe_keys(event, keys)
        if i % 5:
            continue
        for ks in detector._keys.values():
            spliced = ks.dump()
            assert ks.story_blobs is not None  # it keeps its parts
            whole = ks.dump_whole()
            assert whole == spliced
            assert ks.story_blobs is None and ks.term_pos is None and not ks.touched
            assert ks.dump() == spliced
            compared += 1
    assert compared > 500
