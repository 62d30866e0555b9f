"""Tail probabilities of counts: Poisson and quasi-Poisson. Pure, standard library only.

``poisson_sf(x, mu)`` is P(X >= x) for X ~ Poisson(mu). It is the regularised lower
incomplete gamma function P(x, mu), which also gives a meaning to a non-integer x: the
quasi-Poisson tail of an over-dispersed count divides count and mean by the dispersion phi
(variance = phi x mean) and asks the Poisson tail of the scaled values.

The upper tail is summed term by term (no 1 - CDF cancellation), so the tiny probabilities
the detector compares with its threshold (1e-4 .. 1e-12) are accurate to a few ulps.
"""

from __future__ import annotations

import math

__all__ = ["poisson_sf", "quasi_poisson_sf"]

_EPS = 1e-15
_TINY = 1e-300
_MAX_TERMS = 100_000


def poisson_sf(x: float, mu: float) -> float:
    """P(X >= x) for X ~ Poisson(mu); x may be real (the regularised gamma P(x, mu))."""
    if x <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    if mu < x + 1:
        return _lower_series(x, mu)
    return max(0.0, 1.0 - _upper_fraction(x, mu))


def quasi_poisson_sf(x: float, mu: float, dispersion: float) -> float:
    """The tail of an over-dispersed count: Poisson(mu / phi) at x / phi, phi >= 1."""
    phi = max(1.0, dispersion)
    return poisson_sf(x / phi, mu / phi)


def _log_prefactor(a: float, x: float) -> float:
    return -x + a * math.log(x) - math.lgamma(a + 1.0)


def _lower_series(a: float, x: float) -> float:
    # P(a, x) = e^-x x^a / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n)); for integer a
    # these are exactly the Poisson terms P(X = a), P(X = a + 1), ... Converges fast when
    # x < a (the terms shrink by x / (a + n)).
    term = 1.0
    total = 1.0
    n = 0
    while n < _MAX_TERMS:
        n += 1
        term *= x / (a + n)
        total += term
        if term < total * _EPS:
            break
    return min(1.0, total * math.exp(_log_prefactor(a, x)))


def _upper_fraction(a: float, x: float) -> float:
    # Q(a, x) = 1 - P(a, x) by Lentz's continued fraction (x >= a + 1: the tail is not small).
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_TERMS):
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
    return min(1.0, math.exp(-x + a * math.log(x) - math.lgamma(a)) * h)

