"""The Poisson upper tail P(X ≥ x | mean μ), for a real-valued count x.

Counts in the trend windows are weighted (a new story 1, an outlet joining a story 0.5: see
detector.py), so x can be 2.5. For integer x, P(X ≥ x) = P(x, μ), the regularised lower
incomplete gamma function, and P(a, μ) is the smooth continuation for real a: one formula for
both. Evaluated by its power series when μ < a + 1 (always, in the detector: it tests only
counts at least twice their expectation) and by Lentz's continued fraction for the complement
otherwise (Numerical Recipes, 2nd ed., §6.2). Pure float arithmetic: the same inputs give the
same bits on every run, which replays rely on.
"""

from __future__ import annotations

import math

_EPS = 1e-15
_TINY = 1e-300
_MAX_ITER = 500


def _lower_series(a: float, x: float) -> float:
    """P(a, x) by its series: x^a e^-x / Γ(a+1) · Σ x^n / ((a+1)…(a+n))."""
    term = total = 1.0 / a
    n = a
    for _ in range(_MAX_ITER):
        n += 1.0
        term *= x / n
        total += term
        if term < total * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_fraction(a: float, x: float) -> float:
    """Q(a, x) = 1 − P(a, x) by its continued fraction (modified Lentz)."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def tail(count: float, mean: float) -> float:
    """P(X ≥ count) for X ~ Poisson(mean); 1.0 for a count of 0 or less."""
    if count <= 0.0:
        return 1.0
    if mean <= 0.0:
        return 0.0
    if mean < count + 1.0:
        return min(1.0, _lower_series(count, mean))
    return max(0.0, 1.0 - _upper_fraction(count, mean))
