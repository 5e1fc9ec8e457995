"""The Poisson upper tail the burst detector tests counts with (streams/trends/poisson.py)."""

from __future__ import annotations

import itertools
import math

import pytest

from streams.trends.poisson import tail


def _pmf_tail(k: int, mean: float) -> float:
    """P(X ≥ k) as 1 − Σ_{i<k} pmf(i), in exact rational steps for small k."""
    below = sum(math.exp(-mean) * mean**i / math.factorial(i) for i in range(k))
    return 1.0 - below


@pytest.mark.parametrize(
    ("count", "mean"),
    [(1, 0.5), (3, 0.5), (5, 0.5), (8, 0.5), (10, 2.0), (3, 5.0), (20, 30.0), (4, 4.0), (2, 0.01)],
)
def test_tail_is_the_poisson_upper_tail(count: int, mean: float) -> None:
    assert tail(count, mean) == pytest.approx(_pmf_tail(count, mean), rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(
    ("count", "mean", "expected"),
    [(0.0, 3.0, 1.0), (-1.0, 3.0, 1.0), (2.0, 0.0, 0.0)],
)
def test_tail_edges(count: float, mean: float, expected: float) -> None:
    assert tail(count, mean) == expected


def test_tail_is_continuous_and_falls_with_the_count_and_rises_with_the_mean() -> None:
    counts = [0.5 * i for i in range(1, 40)]
    values = [tail(c, 2.0) for c in counts]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert tail(3, 2.0) < tail(2.5, 2.0) < tail(2, 2.0)  # a half count lies in between
    assert tail(5, 1.0) < tail(5, 1.5) < tail(5, 2.0)


def test_tail_of_a_far_count_is_tiny_but_positive() -> None:
    assert 0.0 < tail(50, 1.0) < 1e-60
