"""The trend keys hold one object per value where they held copies (issue 13; docs/performance.md
"Memory: round fourteen"): the term counts' and story reports' floats (`_shared`), the
outlets' names (interned) and, after a restore, the strings and term tuples that every key
counting a story repeats in its record. Same values: the same records and state bytes."""

from __future__ import annotations

from typing import Any

import pytest

from streams.trends import detector as detector_module
from streams.trends.detector import GLOBAL, TrendDetector, TrendEvent, TrendParams
from tests.unit.trends.test_detector import busy_events

KEYS = ["IQ|*", "SY|*", "*|security", "rule:r1", "GULF|*", "EG|*"]
SMALL = dict(global_warmup_hours=24, global_warmup_events=20, key_warmup_hours=12.0)


def _run(
    params: TrendParams, events: list[tuple[TrendEvent, tuple[str, ...]]]
) -> tuple[TrendDetector, list[Any], list[list[tuple[str, bytes | None]]]]:
    detector = TrendDetector(params)
    records, written = [], []
    for i, (event, keys) in enumerate(events, 1):
        records += detector.observe_keys(event, keys)
        if i % 3 == 0:
            written.append(detector.take_changes())
    return detector, records, written


def _floats(detector: TrendDetector) -> list[float]:
    out: list[float] = []
    for ks in detector._keys.values():
        out += ks.terms.values()
        out += (s.reports for s in ks.stories.values())
    return out


CASES = [
    # (params, seed): terms halved (terms_cap), pruned (max_terms), story slots pruned
    (TrendParams(max_stories=3, max_terms=4, terms_cap=12.0, max_keys=4, **SMALL), 1),
    (TrendParams(max_stories=2, max_terms=2, terms_cap=5.0, max_keys=6, **SMALL), 2),
    (TrendParams(max_stories=16, max_terms=64, terms_cap=256.0, **SMALL), 3),
]


@pytest.mark.parametrize(("params", "seed"), CASES)
def test_shared_values_give_the_same_records_and_states(
    params: TrendParams, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = busy_events(seed, 2500, KEYS)
    detector, records, written = _run(params, events)
    with monkeypatch.context() as m:  # every value its own object, as before
        m.setattr(detector_module, "_FLOATS", {})
        m.setattr(detector_module, "_shared", lambda x: x)
        m.setattr(detector_module, "intern", lambda x: x)
        plain, plain_records, plain_written = _run(params, events)
    assert records == plain_records
    assert written == plain_written
    assert detector.to_state() == plain.to_state()
    assert sum(len(w) for w in written) > 500


@pytest.mark.parametrize(("params", "seed"), CASES)
def test_equal_counts_and_outlets_are_one_object(params: TrendParams, seed: int) -> None:
    detector, _, _ = _run(params, busy_events(seed, 2500, KEYS))
    values = _floats(detector)
    assert len(values) > 20
    assert len({id(v) for v in values}) == len(set(values))  # one object per value
    names = [
        name for ks in detector._keys.values() for s in ks.stories.values() for name in s.sources
    ]
    assert len({id(n) for n in names}) == len(set(names))


@pytest.mark.parametrize("cap", [0, 1, 3])
def test_the_shared_floats_are_bounded(cap: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detector_module, "FLOATS_CAP", cap)
    monkeypatch.setattr(detector_module, "_FLOATS", {})
    params, seed = CASES[0]
    events = busy_events(seed, 1500, KEYS)
    detector, records, _ = _run(params, events)
    assert len(detector_module._FLOATS) == cap
    monkeypatch.setattr(detector_module, "FLOATS_CAP", 4096)
    monkeypatch.setattr(detector_module, "_FLOATS", {})
    again, again_records, _ = _run(params, events)
    assert records == again_records
    assert detector.to_state() == again.to_state()


@pytest.mark.parametrize(("params", "seed"), CASES)
def test_a_restored_detector_shares_what_its_records_repeat(params: TrendParams, seed: int) -> None:
    detector, _, _ = _run(params, busy_events(seed, 2500, KEYS))
    state = detector.to_state()
    restored = TrendDetector.from_state(state, params)
    assert restored.to_state() == state  # the same state, byte for byte
    by_value: dict[Any, set[int]] = {}
    for ks in restored._keys.values():
        for sid, s in ks.stories.items():
            for x in (sid, s.title, s.terms, *s.terms, *s.sources):
                by_value.setdefault(x, set()).add(id(x))
        for t in ks.terms:
            by_value.setdefault(t, set()).add(id(t))
    assert len(by_value) > 20
    assert all(len(ids) == 1 for ids in by_value.values())
    values = _floats(restored)
    assert len({id(v) for v in values}) == len(set(values))
    assert GLOBAL in state
