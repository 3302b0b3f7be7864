"""Small, vectorised statistics shared by the metric functions.

Wilson score intervals for proportions, Holm's step-down adjustment and the
two-proportion z-test.  Pure numpy / scipy; no pandas, no validation.
"""

from __future__ import annotations

from typing import Any

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


def holm(pvalues: Any) -> FloatArray:
    """Holm step-down adjusted p-values (NaN entries are ignored and kept NaN).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * q[order])
    res = np.empty(m)
    res[order] = np.minimum(adjusted, 1.0)
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
