"""Percentiles with their spread, for bench/pipeline.py's latency runs (pure, no I/O).

A p99 over 37 alerts is their second-largest value: it moved 77–128 ms between runs of the same
code. These helpers say how firm a percentile is (a bootstrap interval, the percentile of each
window) and which step of the path an article's latency went to (`tail_steps`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile by nearest rank (the value at rank round(q% × (n - 1))); NaN if
    empty."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def bootstrap_interval(
    values: Sequence[float], q: float, *, level: float = 0.95, rounds: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """A `level` percentile-bootstrap interval of `pct(values, q)`: the percentile of `rounds`
    resamples (with replacement, seeded: the same figures print for the same samples), and
    the (1 - level)/2 and (1 + level)/2 quantiles of those. (NaN, NaN) if empty."""
    if not values:
        return float("nan"), float("nan")
    rng = random.Random(seed)
    n = len(values)
    estimates = sorted(pct(rng.choices(values, k=n), q) for _ in range(rounds))
    tail = (1 - level) / 2 * 100
    return pct(estimates, tail), pct(estimates, 100 - tail)


def windows_needed(min_samples: int, first: int, max_windows: int) -> int:
    """How many windows (the first one included) to run so that about `min_samples` samples
    are pooled, when the first window gave `first`; at least 1, at most `max_windows`."""
    if min_samples <= first:
        return 1
    if first <= 0:
        return max_windows
    return max(1, min(max_windows, math.ceil(min_samples / first)))


def tail_steps(
    rows: Sequence[Mapping[str, float]], total: str, q: float = 95.0
) -> dict[str, tuple[float, float]]:
    """Where the slowest articles' time went: for each step (every key of the rows but
    `total`), its median over all rows and over the rows whose `total` is at or above the
    q-th percentile of `total` (the tail). A step whose tail median is far above its overall
    median holds the tail. Rows missing a step are left out of that step only."""
    if not rows:
        return {}
    cut = pct([r[total] for r in rows], q)
    tail = [r for r in rows if r[total] >= cut]
    steps = [k for k in rows[0] if k != total]
    return {
        step: (
            pct([r[step] for r in rows if step in r], 50),
            pct([r[step] for r in tail if step in r], 50),
        )
        for step in steps
    }
