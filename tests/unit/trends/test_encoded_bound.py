"""The trend keys' encoded parts (kept after a dump so that the next dump re-encodes only what
changed) are kept for the ENCODED_KEYS most recently written keys only, and a key that forgot
them writes the same bytes (issue 13; docs/performance.md "Memory: round thirteen": the parts
were ~45% of the detector's memory)."""

from __future__ import annotations

import pytest

from streams.trends import detector as detector_module
from streams.trends.detector import GLOBAL, TrendDetector, TrendEvent, TrendParams
from tests.unit.trends.test_detector import busy_events

KEYS = ["IQ|*", "SY|*", "*|security", "rule:r1", "GULF|*", "EG|*", "*|politics", "rule:r2"]
PARAMS = TrendParams(
    max_stories=3,
    max_terms=4,
    terms_cap=12.0,
    max_keys=6,  # evictions too
    global_warmup_hours=24,
    global_warmup_events=20,
    key_warmup_hours=12.0,
)


def _holding(detector: TrendDetector) -> int:
    """Keys that hold encoded parts of their last dump."""
    return sum(
        ks.story_blobs is not None or ks.season_blob is not None or ks.term_pos is not None
        for ks in detector._keys.values()
    )


def _written(
    events: list[tuple[TrendEvent, tuple[str, ...]]], every: int, bound: int | None = None
) -> list[list[tuple[str, bytes | None]]]:
    """What take_changes gives after every `every` events; with `bound`, checked after each."""
    detector = TrendDetector(PARAMS)
    out = []
    for i, (event, keys) in enumerate(events, 1):
        detector.observe_keys(event, keys)
        if i % every == 0:
            out.append(detector.take_changes())
            if bound is not None:
                assert _holding(detector) <= bound
    return out


@pytest.mark.parametrize(
    ("bound", "every", "seed"),
    [
        (0, 1, 1),  # every write encodes the whole state
        (1, 1, 2),
        (2, 1, 1),
        (2, 5, 2),  # several events between writes: dirty terms and touched stories pile up
        (4, 3, 3),
    ],
)
def test_a_key_that_forgot_its_parts_writes_the_same_bytes(
    bound: int, every: int, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = busy_events(seed, 2500, KEYS)
    reference = _written(events, every)  # the default bound: above the 6 keys, never forgets
    monkeypatch.setattr(detector_module, "ENCODED_KEYS", bound)
    bounded = _written(events, every, bound)
    assert bounded == reference
    assert sum(len(w) for w in bounded) > 1000


@pytest.mark.parametrize("bound", [0, 1, 3])
def test_only_the_most_recently_written_keys_keep_their_parts(
    bound: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detector_module, "ENCODED_KEYS", bound)
    detector = TrendDetector(PARAMS)
    # The policy, as a list each: the keys last written keeping their parts and the keys last
    # written whole, least recent first. A key in either is written keeping its parts; any
    # other is written whole (dump_whole) and keeps none.
    kept: list[str] = []
    whole: list[str] = []
    both = 0
    for event, keys in busy_events(4, 400, KEYS):
        detector.observe_keys(event, keys)
        for key, state in detector.take_changes():
            if key == GLOBAL:
                continue
            again = key in kept or key in whole
            kept = [k for k in kept if k != key]
            whole = [k for k in whole if k != key]
            if state is not None:
                (kept if again else whole).append(key)
        kept, whole = (kept[-bound:], whole[-bound:]) if bound else ([], [])
        for key, ks in detector._keys.items():
            holds = ks.story_blobs is not None or ks.term_pos is not None
            assert holds == (key in kept), key
            both += holds
    assert both > 0 or bound == 0  # the test sees keys that keep their parts
