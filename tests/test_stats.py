"""Shared statistics checked against independent computations (scipy, by hand)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from funnelkit._stats import holm, segment_vs_rest, two_proportion_test, wilson_interval


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


def holm_ref(pvalues):
    """Holm (1979) as written: the i-th smallest of m p-values times m - i + 1, running max."""
    p = [float(x) for x in pvalues]
    live = [i for i, x in enumerate(p) if not np.isnan(x)]
    out = [float("nan")] * len(p)
    ranked = sorted(live, key=lambda i: p[i])
    m = len(ranked)
    running = 0.0
    for step, i in enumerate(ranked):
        running = max(running, min(1.0, (m - step) * p[i]))
        out[i] = running
    return out


def z_test_ref(k1, n1, k2, n2):
    """The pooled two-proportion z-test, written out for one pair of groups."""
    if n1 == 0 or n2 == 0:
        return float("nan")
    pooled = (k1 + k2) / (n1 + n2)
    se = (pooled * (1 - pooled) * (1 / n1 + 1 / n2)) ** 0.5
    if not se > 0:
        return float("nan")
    z = (k1 / n1 - k2 / n2) / se
    return float(2 * stats.norm.sf(abs(z)))


p_values = st.one_of(st.just(float("nan")), st.floats(0, 1), st.sampled_from([0.01, 0.02, 0.5]))


@given(st.lists(st.tuples(p_values, st.integers(0, 3)), max_size=12))
def test_holm_within_blocks_is_holm_of_each_block(pairs):
    p = np.array([x for x, _ in pairs], dtype=np.float64)
    blocks = np.array([b for _, b in pairs], dtype=np.int64)
    got = holm(p, blocks=blocks)
    for b in set(blocks.tolist()):
        mask = blocks == b
        np.testing.assert_allclose(got[mask], holm_ref(p[mask]), rtol=0, atol=0)
    # one block is the plain adjustment
    np.testing.assert_array_equal(holm(p, blocks=np.zeros(len(p))), holm(p))
    np.testing.assert_allclose(holm(p), holm_ref(p), rtol=0, atol=0)


def test_holm_blocks_by_hand():
    # block "a": 0.01 * 2 = 0.02, 0.04 * 1 -> 0.04; block "b": 0.02 * 2, 0.03 -> 0.04, 0.04
    got = holm([0.01, 0.03, 0.04, 0.02, np.nan], blocks=["a", "b", "a", "b", "b"])
    np.testing.assert_allclose(got[:4], [0.02, 0.04, 0.04, 0.04])
    assert np.isnan(got[4])


def test_segment_vs_rest_two_by_two_by_hand():
    # segment 0: 3 of 4 converted; segment 1: 1 of 2. The rest of each is the other.
    res = segment_vs_rest(np.array([3, 1]), np.array([4, 2]))
    assert res.rest_converted.tolist() == [1, 3]
    assert res.rest_entered.tolist() == [2, 4]
    # chi-square of [[3, 1], [1, 1]] without correction: N (ad - bc)^2 / margins = 6 * 4 / 64
    p = stats.chi2.sf(0.375, 1)
    np.testing.assert_allclose(res.p_value, [p, p])
    # Holm of two equal p-values: both doubled, capped at 1 (here 2p = 1.08)
    assert 2 * p > 1
    np.testing.assert_allclose(res.p_adjusted, [1.0, 1.0])
    # a larger table of the same shares: 30 of 40 and 10 of 20, p small enough to double
    big = segment_vs_rest(np.array([30, 10]), np.array([40, 20]))
    # chi-square of [[30, 10], [10, 10]]: 60 (300 - 100)^2 / (40 * 20 * 40 * 20)
    q = stats.chi2.sf(60 * 200**2 / (40 * 20 * 40 * 20), 1)
    np.testing.assert_allclose(big.p_value, [q, q])
    np.testing.assert_allclose(big.p_adjusted, [2 * q, 2 * q])


@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 2)),
        min_size=1,
        max_size=8,
    )
)
def test_segment_vs_rest_matches_a_loop_per_segment(rows):
    entered = np.array([n for n, _, _ in rows], dtype=np.int64)
    converted = np.array([min(k, n) for n, k, _ in rows], dtype=np.int64)
    blocks = np.array([b for _, _, b in rows], dtype=np.int64)
    res = segment_vs_rest(converted, entered, blocks=blocks)
    expected_p = np.full(len(rows), np.nan)
    for i in range(len(rows)):
        others = (blocks == blocks[i]) & (np.arange(len(rows)) != i)
        k2, n2 = int(converted[others].sum()), int(entered[others].sum())
        assert (res.rest_converted[i], res.rest_entered[i]) == (k2, n2)
        expected_p[i] = z_test_ref(int(converted[i]), int(entered[i]), k2, n2)
    np.testing.assert_allclose(res.p_value, expected_p, rtol=1e-9, atol=1e-15)
    for b in set(blocks.tolist()):
        mask = blocks == b
        np.testing.assert_allclose(res.p_adjusted[mask], holm_ref(res.p_value[mask]), rtol=1e-12)
    # those lost give the same test
    lost = segment_vs_rest(entered - converted, entered, blocks=blocks)
    np.testing.assert_allclose(lost.p_value, res.p_value, rtol=1e-12)
    # no blocks: one block
    one = segment_vs_rest(converted, entered)
    same = segment_vs_rest(converted, entered, blocks=np.zeros(len(rows)))
    np.testing.assert_array_equal(one.p_value, same.p_value)
    np.testing.assert_array_equal(one.p_adjusted, same.p_adjusted)


def test_segment_vs_rest_matches_statsmodels():
    sm = pytest.importorskip(
        "statsmodels.stats.proportion",
        reason="statsmodels (a reference in the test extra) is not installed",
    )
    converted = np.array([20, 35, 30, 12])
    entered = np.array([100, 100, 100, 60])
    res = segment_vs_rest(converted, entered)
    for i in range(len(converted)):
        rest_k = converted.sum() - converted[i]
        rest_n = entered.sum() - entered[i]
        _, p = sm.proportions_ztest([converted[i], rest_k], [entered[i], rest_n])
        assert res.p_value[i] == pytest.approx(p, rel=1e-10)


def test_segment_vs_rest_keeps_the_shape_and_leaves_inputs_alone():
    converted = np.array([[1, 2], [3, 4], [0, 1]])
    entered = np.array([[5, 5], [6, 6], [2, 2]])
    before = converted.copy(), entered.copy()
    res = segment_vs_rest(converted, entered, blocks=np.array([[0, 1]] * 3))
    assert res.p_value.shape == (3, 2)
    assert res.rest_entered[:, 0].tolist() == [8, 7, 11]
    np.testing.assert_array_equal(converted, before[0])
    np.testing.assert_array_equal(entered, before[1])
