"""processors.alerts.tails against the textbook sums (exact rationals where possible)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from processors.alerts.tails import poisson_sf, quasi_poisson_sf


def exact_sf(x: int, mu: Fraction) -> float:
    """P(X >= x) = 1 - sum_{k < x} e^-mu mu^k / k!, the sum in exact rationals."""
    head = sum(mu ** k / math.factorial(k) for k in range(x))
    return float(1 - Fraction(math.exp(-float(mu))) * head)


@pytest.mark.parametrize(("x", "mu"), [(1, "0.1"), (3, "5"), (5, "0.3"), (9, "0.41"),
                                       (10, "20"), (12, "2.5")])
def test_poisson_sf_matches_the_sum(x: int, mu: str) -> None:
    assert poisson_sf(x, float(mu)) == pytest.approx(exact_sf(x, Fraction(mu)), rel=1e-9)


def test_tiny_tails_keep_their_precision_and_edges() -> None:
    # P(X >= 30 | 1) = e^-1 sum_{k>=30} 1/k!: the first terms dominate.
    direct = math.exp(-1) * sum(1 / math.factorial(k) for k in range(30, 60))
    assert poisson_sf(30, 1.0) == pytest.approx(direct, rel=1e-12)
    assert poisson_sf(0, 3.0) == 1.0 and poisson_sf(4, 0.0) == 0.0
    assert 0 < poisson_sf(2000, 1000.0) < 1e-100


def test_quasi_poisson_is_wider_and_equal_at_dispersion_one() -> None:
    assert quasi_poisson_sf(40, 20.0, 1.0) == poisson_sf(40, 20.0)
    assert quasi_poisson_sf(40, 20.0, 0.5) == poisson_sf(40, 20.0)  # never narrower
    assert quasi_poisson_sf(40, 20.0, 4.0) > 100 * poisson_sf(40, 20.0)
