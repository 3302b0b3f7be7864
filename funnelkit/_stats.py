"""Small, vectorised statistics shared by the metric functions.

Wilson score intervals for proportions, Holm's step-down adjustment (over one
family or within blocks), the two-proportion z-test and its segment-against-the-
rest form shared by :func:`funnelkit.dropoff` and
:func:`funnelkit.compare_segments`.  Pure numpy / scipy; no pandas, no
validation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def wilson_interval(successes: Any, trials: Any, ci: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Wilson score interval for ``successes / trials``, elementwise.

    Where ``trials == 0`` both bounds are NaN.

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = float(stats.norm.ppf(0.5 + ci / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
        lo = np.clip(centre - half, 0.0, 1.0)
        hi = np.clip(centre + half, 0.0, 1.0)
    # exact ends: no successes -> lower bound 0, all successes -> upper bound 1
    lo = np.where(k == 0, 0.0, lo)
    hi = np.where(k == n, 1.0, hi)
    empty = n == 0
    lo = np.where(empty, np.nan, lo)
    hi = np.where(empty, np.nan, hi)
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def holm(pvalues: Any, blocks: Any = None) -> FloatArray:
    """Holm step-down adjusted p-values (NaN entries are ignored and kept NaN).

    With ``blocks`` (one label per p-value), each block is its own family:
    the adjustment runs within a block, and ``m`` is the number of non-NaN
    p-values of that block.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    >>> holm([0.01, 0.04, 0.03, 0.02], blocks=[0, 0, 1, 1]).round(2).tolist()
    [0.02, 0.04, 0.04, 0.04]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    if blocks is None:
        order = np.argsort(q, kind="stable")
        adjusted = np.maximum.accumulate((m - np.arange(m)) * q[order])
        res = np.empty(m)
        res[order] = np.minimum(adjusted, 1.0)
        out[ok] = res
        return out
    labels = np.broadcast_to(np.asarray(blocks), p.shape)[ok]
    _, block = np.unique(labels, return_inverse=True)
    block = block.reshape(-1).astype(np.int64)
    order = np.lexsort((q, block))  # by block, then by p (stable)
    sorted_block = block[order]
    size = np.bincount(block)
    start = np.cumsum(size) - size
    position = np.arange(m) - start[sorted_block]
    scaled = np.minimum((size[sorted_block] - position) * q[order], 1.0)
    # running maximum within each block, exact: on the ranks of the values, offset by
    # block so that a block never sees the maximum of the one before
    values = np.sort(scaled)
    rank = np.searchsorted(values, scaled)
    offset = sorted_block * m
    running = np.maximum.accumulate(rank + offset) - offset
    res = np.empty(m)
    res[order] = values[running]
    out[ok] = res
    return out


def two_proportion_test(k1: Any, n1: Any, k2: Any, n2: Any) -> FloatArray:
    """Two-sided p-value of the pooled two-proportion z-test, elementwise.

    NaN where either group is empty or the pooled rate is 0 or 1 (no
    variation: the test says nothing).

    Examples
    --------
    >>> round(float(two_proportion_test(30, 100, 50, 100)), 4)
    0.0039
    """
    k1 = np.asarray(k1, dtype=np.float64)
    n1 = np.asarray(n1, dtype=np.float64)
    k2 = np.asarray(k2, dtype=np.float64)
    n2 = np.asarray(n2, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (k1 + k2) / (n1 + n2)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        z = (k1 / n1 - k2 / n2) / se
        p = 2 * stats.norm.sf(np.abs(z))
    bad = (n1 == 0) | (n2 == 0) | ~(se > 0)
    return np.asarray(np.where(bad, np.nan, p), dtype=np.float64)


class SegmentTest(NamedTuple):
    """The result of :func:`segment_vs_rest`, one entry per segment."""

    rest_converted: Any
    rest_entered: Any
    p_value: FloatArray
    p_adjusted: FloatArray


def segment_vs_rest(converted: Any, entered: Any, blocks: Any = None) -> SegmentTest:
    """Each segment against all the other segments pooled: z-test and Holm, elementwise.

    ``converted[i]`` of ``entered[i]`` entities of segment ``i`` converted.
    The rest of segment ``i`` is the sum over the other segments of its block
    (of all segments when ``blocks`` is None); its test is the pooled
    two-proportion z-test (:func:`two_proportion_test`) of ``converted[i] /
    entered[i]`` against ``rest_converted[i] / rest_entered[i]``, and the
    Holm adjustment (:func:`holm`) runs within each block: one block, one
    family.  The test of ``entered - converted`` (those lost) against the rest
    has the same p-value.

    Parameters
    ----------
    converted, entered : array_like of int
        Counts per segment, the same shape.
    blocks : array_like, optional
        A label per segment: segments with the same label are compared with
        each other (e.g. one label per funnel transition); default one block.

    Returns
    -------
    SegmentTest
        ``rest_converted``, ``rest_entered`` (the dtype of the counts),
        ``p_value`` (NaN where a side has no entities or the pooled rate is 0
        or 1) and ``p_adjusted`` (float64), each of the counts' shape.

    Examples
    --------
    >>> res = segment_vs_rest([20, 35, 30], [100, 100, 100])
    >>> res.rest_converted.tolist(), res.rest_entered.tolist()
    ([65, 50, 55], [200, 200, 200])
    >>> res.p_value.round(4).tolist(), res.p_adjusted.round(4).tolist()
    ([0.0235, 0.07, 0.6506], [0.0705, 0.14, 0.6506])
    >>> segment_vs_rest([3, 1], [4, 2]).p_value.round(4).tolist()
    [0.5403, 0.5403]
    """
    k = np.asarray(converted)
    n = np.asarray(entered)
    labels = None if blocks is None else np.broadcast_to(np.asarray(blocks), k.shape).reshape(-1)
    if labels is None:
        rest_k = k.sum() - k
        rest_n = n.sum() - n
    else:
        _, block = np.unique(labels, return_inverse=True)
        block = block.reshape(-1)
        total_k = np.zeros(int(block.max(initial=-1)) + 1, dtype=k.dtype)
        total_n = np.zeros(total_k.shape, dtype=n.dtype)
        np.add.at(total_k, block, k.reshape(-1))
        np.add.at(total_n, block, n.reshape(-1))
        rest_k = (total_k[block] - k.reshape(-1)).reshape(k.shape)
        rest_n = (total_n[block] - n.reshape(-1)).reshape(n.shape)
    p = two_proportion_test(k, n, rest_k, rest_n)
    adjusted = holm(p.reshape(-1), labels).reshape(p.shape)
    return SegmentTest(rest_k, rest_n, p, adjusted)
