"""The worker's C heap settings (streams/worker/heap.py): glibc calls, skipped elsewhere."""

from __future__ import annotations

import pytest

from streams.worker import heap

glibc = pytest.mark.skipif(heap._glibc() is None, reason="the C library is not glibc")


@glibc
def test_the_arena_cap_is_accepted_by_glibc() -> None:
    assert heap.cap_arenas(heap.ARENAS) is True


def test_without_glibc_nothing_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_glibc", lambda: None)
    assert heap.cap_arenas() is False
