"""Grouped numpy reductions and the empirical-Bayes prior of the deal metrics.

No pandas, no validation, no Python loop over rows or groups (only over the
handful of requested quantiles).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, special

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

#: The one quantile set of every distribution table (deal sizes, cycles, times to
#: convert), in this order; the column names are the keys.
QUANTILES: dict[str, float] = {"p10": 0.1, "p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}


def grouped_count(codes: IntArray, n_groups: int) -> IntArray:
    """Rows per group."""
    return np.bincount(codes, minlength=n_groups).astype(np.int64)


def grouped_sum(codes: IntArray, values: Any, n_groups: int) -> FloatArray:
    """Sum of ``values`` per group (0 for empty groups)."""
    v = np.asarray(values, dtype=np.float64)
    return np.bincount(codes, weights=v, minlength=n_groups).astype(np.float64)


def grouped_mean(codes: IntArray, values: Any, n_groups: int) -> FloatArray:
    """Mean of ``values`` per group (NaN for empty groups)."""
    n = grouped_count(codes, n_groups)
    s = grouped_sum(codes, values, n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, s / n, np.nan)


def grouped_quantiles(codes: IntArray, values: Any, n_groups: int, qs: list[float]) -> FloatArray:
    """Linear-interpolation quantiles (numpy's / pandas' default) per group.

    Returns an array of shape ``(n_groups, len(qs))``; NaN rows for empty groups.

    Examples
    --------
    >>> grouped_quantiles(np.array([0, 0, 0, 1]), [3.0, 1.0, 2.0, 5.0], 3, [0.5, 0.25])
    array([[2. , 1.5],
           [5. , 5. ],
           [nan, nan]])
    """
    v = np.asarray(values, dtype=np.float64)
    order = np.lexsort((v, codes))
    v = v[order]
    counts = grouped_count(codes, n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    out = np.full((n_groups, len(qs)), np.nan)
    ok = counts > 0
    for j, q in enumerate(qs):
        pos = starts[ok] + q * (counts[ok] - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        frac = pos - lo
        out[ok, j] = v[lo] + (v[hi] - v[lo]) * frac
    return out


#: Bounds of the prior strength alpha + beta searched by :func:`beta_binomial_prior`.
PRIOR_STRENGTH = (1e-2, 1e6)


def beta_binomial_prior(successes: Any, trials: Any) -> tuple[float, float]:
    """Maximum-likelihood Beta(alpha, beta) prior of per-group rates (beta-binomial).

    Fits the mean ``mu`` and the strength ``s = alpha + beta`` of the Beta
    prior by maximising the beta-binomial likelihood of the groups with at
    least one trial: a vectorised grid search over (mu, log s), refined by
    L-BFGS-B with the analytic gradient, s bounded to :data:`PRIOR_STRENGTH`
    (the upper bound means "no spread between groups": full pooling).  NaN,
    NaN when fewer than two groups have trials or every group has the same
    all-or-nothing rate (nothing to shrink toward).

    Examples
    --------
    >>> a, b = beta_binomial_prior([80, 2, 30, 10], [120, 2, 60, 40])
    >>> round(a / (a + b), 2)
    0.51
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    use = n > 0
    k, n = k[use], n[use]
    total = n.sum()
    if k.size < 2 or k.sum() in (0.0, total):
        return float("nan"), float("nan")

    def loglik(a: Any, b: Any) -> Any:
        # sum over groups of log B(k + a, n - k + b) - log B(a, b) (binomial terms dropped)
        a = np.asarray(a)[..., None]
        b = np.asarray(b)[..., None]
        return (special.betaln(k + a, n - k + b) - special.betaln(a, b)).sum(axis=-1)

    lo, hi = np.log(PRIOR_STRENGTH[0]), np.log(PRIOR_STRENGTH[1])
    mus = np.linspace(0.005, 0.995, 100)[:, None]
    logs = np.linspace(lo, hi, 80)[None, :]
    grid = loglik(mus * np.exp(logs), (1 - mus) * np.exp(logs))
    i, j = np.unravel_index(int(np.argmax(grid)), grid.shape)
    x0 = np.array([np.log(mus[i, 0] / (1 - mus[i, 0])), logs[0, j]])

    def nll(x: FloatArray) -> tuple[float, FloatArray]:
        mu = 1.0 / (1.0 + np.exp(-x[0]))
        s = np.exp(x[1])
        a, b = mu * s, (1.0 - mu) * s
        value = float(loglik(a, b))
        ga = float((special.digamma(k + a) - special.digamma(n + s)).sum())
        ga -= k.size * float(special.digamma(a) - special.digamma(s))
        gb = float((special.digamma(n - k + b) - special.digamma(n + s)).sum())
        gb -= k.size * float(special.digamma(b) - special.digamma(s))
        grad = np.array([(ga - gb) * s * mu * (1 - mu), ga * a + gb * b])
        return -value, -grad

    res = optimize.minimize(nll, x0, jac=True, method="L-BFGS-B", bounds=[(-30.0, 30.0), (lo, hi)])
    best = res.x if res.fun <= -float(grid[i, j]) else x0
    mu = 1.0 / (1.0 + np.exp(-best[0]))
    s = float(np.exp(best[1]))
    return float(mu * s), float((1.0 - mu) * s)
