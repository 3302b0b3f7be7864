"""Censoring-aware estimators on numpy arrays (no pandas, no validation).

Kaplan–Meier for one event type; the deal-metric code adds Aalen–Johansen
cumulative incidence for competing outcomes here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
    events = np.bincount(inverse, weights=e, minlength=times.size)
    total = np.bincount(inverse, minlength=times.size).astype(np.float64)
    at_risk = d.size - np.concatenate(([0.0], np.cumsum(total)[:-1]))
    keep = events > 0
    times, events, at_risk = times[keep], events[keep], at_risk[keep]
    survival = np.cumprod(1.0 - events / at_risk)
    f = np.float64
    return times.astype(f), survival.astype(f), at_risk.astype(f), events.astype(f)


def survival_quantile(times: FloatArray, survival: FloatArray, q: float) -> float:
    """Smallest time t with ``1 - S(t) >= q`` (NaN when the curve never gets there).

    Examples
    --------
    >>> survival_quantile(np.array([1.0, 2.0, 3.0]), np.array([0.8, 0.6, 0.3]), 0.5)
    3.0
    """
    reached = np.flatnonzero(1.0 - survival >= q - 1e-12)
    return float(times[reached[0]]) if reached.size else float("nan")
