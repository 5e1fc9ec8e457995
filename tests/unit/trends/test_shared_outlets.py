"""The story slots that one outlet reported hold one shared `(outlet,)` tuple per outlet
(`_one_outlet`; issue 13, docs/performance.md "Memory: round sixteen"), running and restored,
where each slot held a tuple of its own. Equal tuples: the same records and state bytes."""

from __future__ import annotations

import pytest

from streams.trends import detector as detector_module
from streams.trends.detector import TrendDetector, TrendParams
from tests.unit.trends.test_detector import busy_events
from tests.unit.trends.test_shared_values import CASES, KEYS, _run


def _singles(detector: TrendDetector) -> list[tuple[str, ...]]:
    return [
        s.sources
        for ks in detector._keys.values()
        for s in ks.stories.values()
        if len(s.sources) == 1
    ]


def _fresh(m: pytest.MonkeyPatch) -> None:
    m.setattr(detector_module, "_ONE_OUTLET", {})


@pytest.mark.parametrize(("params", "seed"), CASES)
def test_shared_outlet_tuples_give_the_same_records_and_states(
    params: TrendParams, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = busy_events(seed, 2500, KEYS)
    _fresh(monkeypatch)
    detector, records, written = _run(params, events)
    with monkeypatch.context() as m:  # a tuple of its own per slot, as before
        m.setattr(detector_module, "_one_outlet", lambda source: (source,))
        m.setattr(detector_module, "_outlets", lambda sources: sources)
        plain, plain_records, plain_written = _run(params, events)
    assert records == plain_records
    assert written == plain_written
    assert detector.to_state() == plain.to_state()
    singles = _singles(detector)
    assert len(singles) > len(set(singles))  # outlets repeat across slots
    assert len({id(t) for t in singles}) == len(set(singles))  # one tuple per outlet
    plain_singles = _singles(plain)
    assert len({id(t) for t in plain_singles}) > len(set(plain_singles))  # the test can fail
    restored = TrendDetector.from_state(detector.to_state(), params)
    assert restored.to_state() == detector.to_state()
    again = _singles(restored)
    assert len({id(t) for t in again}) == len(set(again))


@pytest.mark.parametrize("cap", [0, 1, 3])
def test_the_shared_outlet_tuples_are_bounded(cap: int, monkeypatch: pytest.MonkeyPatch) -> None:
    params, seed = CASES[0]
    events = busy_events(seed, 1500, KEYS)
    _fresh(monkeypatch)
    monkeypatch.setattr(detector_module, "OUTLETS_CAP", cap)
    detector, records, _ = _run(params, events)
    assert len(detector_module._ONE_OUTLET) == cap
    monkeypatch.setattr(detector_module, "OUTLETS_CAP", 4096)
    _fresh(monkeypatch)
    again, again_records, _ = _run(params, events)
    assert len(detector_module._ONE_OUTLET) > cap
    assert records == again_records
    assert detector.to_state() == again.to_state()
