"""The collector pause around bulk rule work: on inside, restored after, counted when nested
or concurrent, and never turned on when it was off."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from streams.rules.gcpause import gc_paused


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_paused_inside_and_restored_after_even_on_error() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_nested_pauses_restore_only_when_the_outer_ends() -> None:
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner one ending does not turn it back on
    assert gc.isenabled()


def test_concurrent_pauses_restore_when_the_last_one_ends() -> None:
    inside, release = threading.Barrier(2), threading.Event()

    def other() -> None:
        with gc_paused():
            inside.wait()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    with gc_paused():
        inside.wait()
    assert not gc.isenabled()  # the other thread's pause is still on
    release.set()
    thread.join()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()
