"""The worker process raises the cyclic collector's youngest threshold (streams/worker/app.py
`tune_gc`): a batch's objects in flight die young instead of triggering full collections of a
10,000-rule worker's heap. Only the worker (`create_app(live_rules=True)`) does it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.worker import app as worker_app


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ((700, 10, 10), (worker_app.GC_YOUNG, 10, 10)),  # CPython's default
        ((700, 5, 20), (worker_app.GC_YOUNG, 5, 20)),  # the older generations are kept
        ((50_000, 10, 10), (50_000, 10, 10)),  # a larger one (set by an operator) is kept
    ],
)
def test_tune_gc(before: tuple[int, int, int], after: tuple[int, int, int]) -> None:
    gc.set_threshold(*before)
    worker_app.tune_gc()
    assert gc.get_threshold() == after


@pytest.mark.parametrize(("live_rules", "young"), [(True, worker_app.GC_YOUNG), (False, 700)])
def test_only_the_worker_tunes_it(tmp_path: Path, live_rules: bool, young: int) -> None:
    gc.set_threshold(700, 10, 10)
    worker_app.create_app(Settings(data_dir=tmp_path, web_port=16068), live_rules=live_rules)
    assert gc.get_threshold()[0] == young
