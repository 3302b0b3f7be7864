"""Censoring-aware estimators on numpy arrays (no pandas, no validation).

Kaplan–Meier for one event type; Aalen–Johansen cumulative incidence for
competing outcomes (won / lost, with open deals censored).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def kaplan_meier(
    durations: Any, observed: Any
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Kaplan–Meier survival curve.

    Parameters
    ----------
    durations : array of float
        Time to the event or to censoring (any unit, >= 0).
    observed : array of bool
        True where the event happened, False where censored.

    Returns
    -------
    times, survival, at_risk, events : arrays
        One entry per distinct time at which at least one event happened,
        sorted; ``survival`` is S(t) just after that time.  Censorings at the
        same time as events are counted at risk (the usual convention).

    Examples
    --------
    >>> t, s, n, d = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
    >>> t.tolist(), s.round(3).tolist()
    ([1.0, 2.0, 3.0], [0.8, 0.6, 0.3])
    """
    d = np.asarray(durations, dtype=np.float64)
    e = np.asarray(observed, dtype=bool)
    if d.size == 0:
        empty = np.empty(0)
        return empty, empty, empty, empty
    times, inverse = np.unique(d, return_inverse=True)
    rank, survival, at_risk, events = kaplan_meier_ranked(inverse.reshape(-1), times.size, e)
    return times[rank].astype(np.float64), survival, at_risk, events


def kaplan_meier_ranked(
    rank: Any, n_times: int, observed: Any
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], FloatArray, FloatArray, FloatArray]:
    """:func:`kaplan_meier` of durations given as ranks ``0..n_times-1`` of their distinct values.

    For a caller that has ranked its durations already (one sort, not two).
    Returns the ranks with an event, then survival, at risk and events there.
    """
    e = np.asarray(observed, dtype=bool)
    events = np.bincount(rank, weights=e, minlength=n_times)
    total = np.bincount(rank, minlength=n_times).astype(np.float64)
    at_risk = rank.size - np.concatenate(([0.0], np.cumsum(total)[:-1]))
    keep = np.flatnonzero(events > 0).astype(np.int64)
    events, at_risk = events[keep], at_risk[keep]
    survival = np.cumprod(1.0 - events / at_risk)
    f = np.float64
    return keep, survival.astype(f), at_risk.astype(f), events.astype(f)


def survival_quantile(times: FloatArray, survival: FloatArray, q: float) -> float:
    """Smallest time t with ``1 - S(t) >= q`` (NaN when the curve never gets there).

    Examples
    --------
    >>> survival_quantile(np.array([1.0, 2.0, 3.0]), np.array([0.8, 0.6, 0.3]), 0.5)
    3.0
    """
    reached = np.flatnonzero(1.0 - survival >= q - 1e-12)
    return float(times[reached[0]]) if reached.size else float("nan")


def aalen_johansen(
    durations: Any, outcome: Any, k: int, ci: float = 0.95
) -> tuple[
    np.ndarray[Any, Any], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray
]:
    """Aalen–Johansen cumulative incidence of outcome ``k`` with competing outcomes.

    Parameters
    ----------
    durations : array of int or float
        Time to the outcome or to censoring (any unit, >= 0).
    outcome : array of int
        0 where censored, else the outcome code (1, 2, ...).
    k : int
        The outcome of interest; every other non-zero code is a competing risk.
    ci : float
        Confidence level of the pointwise interval.

    Returns
    -------
    times, cif, low, high, at_risk, events_k, events_all : arrays
        One entry per distinct time at which any outcome happened, sorted
        (``times`` keeps the dtype of ``durations``).  ``cif`` is F_k(t) just
        after that time; ``low``/``high`` the log(-log) interval from the
        Greenwood-type variance of Collett (2015, p. 411), as in lifelines.
        ``at_risk`` counts entities still open just before t, ``events_k``
        the outcomes k at t, ``events_all`` all outcomes at t.

    Notes
    -----
    With S the all-cause Kaplan–Meier survival, n_i at risk, d_i all outcomes
    and d_ki outcomes k at t_i:  F_k(t) = sum_{t_i <= t} S(t_{i-1}) d_ki / n_i.
    Censorings tied with outcomes count as at risk.  Ties between different
    outcomes need no jitter: both leave the risk set at t_i.

    Examples
    --------
    >>> t, f, lo, hi, n, dk, d = aalen_johansen([1, 2, 3, 4], [1, 2, 0, 1], 1)
    >>> t.tolist(), f.round(3).tolist()
    ([1, 2, 4], [0.25, 0.25, 0.75])
    """
    times, cif, lag, at_risk, ev_k, ev_all = _incidence(durations, outcome, k)
    if times.size == 0:
        return times, cif, cif, cif, cif, cif, cif
    # variance (Collett 2015, p. 411), with prefix sums:
    #   sum a_i (F - F_i)^2 + sum b_i - 2 sum c_i (F - F_i)
    left = at_risk - ev_all
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(left > 0, ev_all / (at_risk * left), 0.0)
    b = lag**2 * ev_k * (at_risk - ev_k) / at_risk**3
    c = lag * ev_k / at_risk**2
    sa, saf, saff = np.cumsum(a), np.cumsum(a * cif), np.cumsum(a * cif**2)
    sc, scf = np.cumsum(c), np.cumsum(c * cif)
    var = cif**2 * sa - 2 * cif * saf + saff + np.cumsum(b) - 2 * (cif * sc - scf)
    var = np.maximum(var, 0.0)
    z = float(stats.norm.ppf(0.5 + ci / 2.0))
    # over: exp(exp(large)) is inf for F near 0 or 1; the bound then goes to its limit
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_f = np.log(cif)
        centre = np.log(-log_f)
        se = np.sqrt(var) / (cif * np.abs(log_f))
        low = np.exp(-np.exp(centre + z * se))
        high = np.exp(-np.exp(centre - z * se))
    # F = 0: nothing happened yet -> [0, 0]; F = 1: the interval collapses to 1
    low = np.where(cif <= 0, 0.0, np.where(cif >= 1, 1.0, low))
    high = np.where(cif <= 0, 0.0, np.where(cif >= 1, 1.0, high))
    f = np.float64
    return (
        times,
        cif.astype(f),
        low.astype(f),
        high.astype(f),
        at_risk.astype(f),
        ev_k.astype(f),
        ev_all.astype(f),
    )


def cumulative_incidence(
    durations: Any, outcome: Any, k: int
) -> tuple[np.ndarray[Any, Any], FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`aalen_johansen` without the interval: times, F_k, at risk, events k, all events.

    For callers that read the curve only (the plan's stage-to-close times), which
    skips the variance and the log(-log) interval at every distinct time.
    """
    times, cif, _, at_risk, ev_k, ev_all = _incidence(durations, outcome, k)
    return times, cif, at_risk, ev_k, ev_all


#: Outcome codes packed below the durations in :func:`_incidence`'s sort key.
_CODE_BITS = 2


def _incidence(
    durations: Any, outcome: Any, k: int
) -> tuple[np.ndarray[Any, Any], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Distinct outcome times with F_k, S(t-) (lag), at risk, outcomes k and all outcomes there.

    Integer durations in ``[0, 2**61)`` take one sort of a packed key, the
    duration above two bits of outcome class (0 censored, 1 outcome ``k``,
    2 another outcome); other durations are ranked with ``np.unique``.
    """
    d = np.asarray(durations)
    e = np.asarray(outcome, dtype=np.int64)
    if d.size == 0:
        empty = np.empty(0)
        return d[:0], empty, empty, empty, empty, empty
    cls = np.where(e == k, 1, np.where(e > 0, 2, 0)).astype(np.int64)
    packed = d.dtype.kind in "iu" and int(d.min()) >= 0 and int(d.max()) < 1 << (63 - _CODE_BITS)
    if packed:
        key = np.sort((d.astype(np.int64) << _CODE_BITS) | cls)
        t = key >> _CODE_BITS
        code = key & ((1 << _CODE_BITS) - 1)
        new = np.empty(t.size, dtype=bool)
        new[0] = True
        np.not_equal(t[1:], t[:-1], out=new[1:])
        first = np.flatnonzero(new)
        times = t[first].astype(d.dtype, copy=False)
        inverse = np.cumsum(new) - 1
        total = np.diff(np.append(first, t.size)).astype(np.float64)
    else:
        times, inverse = np.unique(d, return_inverse=True)
        inverse = inverse.reshape(-1)
        code = cls
        total = np.bincount(inverse, minlength=times.size).astype(np.float64)
    ev_all = np.bincount(inverse, weights=(code > 0).astype(np.float64), minlength=times.size)
    ev_k = np.bincount(inverse, weights=(code == 1).astype(np.float64), minlength=times.size)
    at_risk = d.size - np.concatenate(([0.0], np.cumsum(total)[:-1]))
    keep = ev_all > 0
    times, ev_all, ev_k, at_risk = times[keep], ev_all[keep], ev_k[keep], at_risk[keep]
    surv = np.cumprod(1.0 - ev_all / at_risk)
    lag = np.concatenate(([1.0], surv[:-1]))
    cif = np.cumsum(lag * ev_k / at_risk)
    f = np.float64
    return (
        times,
        cif.astype(f, copy=False),
        lag.astype(f, copy=False),
        at_risk.astype(f, copy=False),
        ev_k.astype(f, copy=False),
        ev_all.astype(f, copy=False),
    )


def km_interval(
    survival: FloatArray, at_risk: FloatArray, events: FloatArray, ci: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Pointwise interval of a Kaplan–Meier curve (as :func:`kaplan_meier` returns it).

    Greenwood's variance on the log(-log) scale (Kalbfleisch and Prentice
    2002, eq. 1.11; lifelines' default): with
    ``V = sum d_i / (n_i (n_i - d_i))``, the bounds are
    ``S ** exp(+- z sqrt(V) / |log S|)``.  Where S is 1 both bounds are 1;
    where it is 0 both are 0.

    Examples
    --------
    >>> t, s, n, d = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
    >>> low, high = km_interval(s, n, d)
    >>> bool(((low <= s) & (s <= high)).all())
    True
    """
    z = float(stats.norm.ppf(0.5 + ci / 2.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        greenwood = np.cumsum(events / (at_risk * (at_risk - events)))
        log_s = np.log(survival)
        se = np.sqrt(greenwood) / np.abs(log_s)
        low = survival ** np.exp(z * se)
        high = survival ** np.exp(-z * se)
    low = np.where(survival >= 1, 1.0, np.where(survival <= 0, 0.0, low))
    high = np.where(survival >= 1, 1.0, np.where(survival <= 0, 0.0, high))
    return low.astype(np.float64), high.astype(np.float64)


def first_time_at_or_above(times: np.ndarray[Any, Any], curve: FloatArray, level: float) -> float:
    """Smallest of ``times`` where ``curve >= level`` (NaN if never).

    The inversion behind the median intervals: applied to the bounds of a
    pointwise interval, it gives the times where the interval first covers the
    level (Brookmeyer and Crowley 1982; lifelines'
    ``median_survival_times(confidence_interval_)``).

    Examples
    --------
    >>> first_time_at_or_above(np.array([1, 2, 4]), np.array([0.2, 0.5, 0.9]), 0.5)
    2.0
    """
    reached = np.flatnonzero(curve >= level - 1e-12)
    return float(times[reached[0]]) if reached.size else float("nan")


def conditional_quantile_interval(
    times: np.ndarray[Any, Any], cif: FloatArray, low: FloatArray, high: FloatArray, q: float
) -> tuple[float, float]:
    """Interval of :func:`conditional_quantile` from the pointwise CIF interval.

    The level ``q * F(last)`` is held fixed (its own uncertainty is ignored):
    the lower end is where the upper CIF bound first reaches it, the upper end
    where the lower bound does (NaN when it never does).

    Examples
    --------
    Twenty deals closing on days 1 to 20, three of them lost, the last two open:

    >>> outcome = np.ones(20, dtype=int)
    >>> outcome[[3, 9, 15]], outcome[[18, 19]] = 2, 0
    >>> t, f, lo, hi, *_ = aalen_johansen(np.arange(1, 21), outcome, 1)
    >>> conditional_quantile(t, f, 0.5), conditional_quantile_interval(t, f, lo, hi, 0.5)
    (9.0, (5.0, 15.0))
    """
    if cif.size == 0 or not cif[-1] > 0:
        return float("nan"), float("nan")
    level = q * float(cif[-1])
    return first_time_at_or_above(times, high, level), first_time_at_or_above(times, low, level)


def conditional_quantile(times: np.ndarray[Any, Any], cif: FloatArray, q: float) -> float:
    """Smallest time t with ``F(t) >= q * F(last)``: the quantile among those who got there.

    NaN when the curve stays at 0.

    Examples
    --------
    >>> conditional_quantile(np.array([1, 2, 4]), np.array([0.25, 0.25, 0.75]), 0.5)
    4.0
    """
    if cif.size == 0 or not cif[-1] > 0:
        return float("nan")
    reached = np.flatnonzero(cif >= q * cif[-1] - 1e-12)
    return float(times[reached[0]])
