"""Shared statistics checked against independent computations (scipy, by hand)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from funnelkit._stats import holm, two_proportion_test, wilson_interval


def test_wilson_against_textbook_formula():
    # Wilson (1927) for 8/10 at 95%, computed by hand with z = 1.959964
    z = 1.959963984540054
    p, n = 0.8, 10
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    lo, hi = wilson_interval(8, 10)
    assert np.isclose(lo, centre - half)
    assert np.isclose(hi, centre + half)


def test_wilson_agrees_with_scipy_binomtest():
    for k, n in [(0, 5), (3, 7), (50, 120), (7, 7)]:
        ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.9, method="wilson")
        lo, hi = wilson_interval(k, n, 0.9)
        assert np.isclose(lo, ref.low, atol=1e-12)
        assert np.isclose(hi, ref.high, atol=1e-12)


def test_wilson_empty_is_nan():
    lo, hi = wilson_interval(np.array([0, 1]), np.array([0, 2]))
    assert np.isnan(lo[0])
    assert np.isnan(hi[0])
    assert 0 < lo[1] < 0.5 < hi[1] < 1


@given(st.integers(0, 500), st.integers(1, 500), st.floats(0.5, 0.999))
def test_wilson_contains_the_estimate(k, n, ci):
    k = min(k, n)
    lo, hi = wilson_interval(k, n, ci)
    assert 0 <= lo <= k / n <= hi <= 1


def test_holm_by_hand():
    # sorted p: 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
    assert np.allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    out = holm([np.nan, 0.5, 0.2])
    assert np.isnan(out[0])
    assert np.allclose(out[1:], [0.5, 0.4])


def test_two_proportion_matches_chi_square_without_correction():
    table = np.array([[30, 70], [50, 50]])
    chi2 = stats.chi2_contingency(table, correction=False)
    assert np.isclose(two_proportion_test(30, 100, 50, 100), chi2.pvalue)
    assert np.isnan(two_proportion_test(0, 10, 0, 10))
    assert np.isnan(two_proportion_test(1, 0, 1, 10))
