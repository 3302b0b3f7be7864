"""Numpy kernels for stage histories (no pandas, no validation, no loop over deals).

Input convention: one row per stage entry, already sorted by (deal, time,
stage position) — see :func:`sort_entries` — with

* ``deal``: int64 deal codes ``0 .. n_deals - 1``,
* ``stage``: int64 stage positions ``0 .. n_stages - 1`` (order of ``stages``),
* ``t``: int64 nanoseconds.

The only Python loops run over stages (a handful), never over deals or rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from funnelkit._survival import kaplan_meier_ranked, km_interval, survival_quantile

IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: Larger than any real time in nanoseconds.
NS_MAX = np.iinfo(np.int64).max


def presorted(keys: Sequence[IntArray]) -> bool:
    """Whether the rows are already in ``np.lexsort(keys)`` order (the last key primary).

    Histories and logs are often exported in order; checking costs a pass or two over
    the keys (it stops at the first key that leaves no tie), where the sort costs several.
    """
    n = keys[0].size if keys else 0
    if n < 2:
        return True
    tied: np.ndarray[Any, np.dtype[np.bool_]] | None = None  # rows i, i + 1 equal so far
    for key in reversed(keys):  # primary key first
        step = np.diff(key)
        if tied is None:
            if bool((step < 0).any()):
                return False
            tied = step == 0
        else:
            if bool((step[tied] < 0).any()):
                return False
            tied &= step == 0
        if not tied.any():
            return True
    return True


def lexsort_presorted(keys: Sequence[IntArray]) -> IntArray:
    """``np.lexsort(keys)`` (stable), in one pass when the rows are already in order."""
    if presorted(keys):
        return np.arange(keys[0].size if keys else 0, dtype=np.int64)
    return np.lexsort(tuple(keys)).astype(np.int64)


def sort_entries(deal: IntArray, stage: IntArray, t: IntArray) -> IntArray:
    """Order of the rows by (deal, time, stage position): ties go by stage order."""
    return lexsort_presorted((stage, t, deal))


def entered_matrix(deal: IntArray, stage: IntArray, n_deals: int, n_stages: int) -> BoolArray:
    """``out[d, k]``: deal ``d`` has at least one recorded entry into stage ``k``."""
    out = np.zeros((n_deals, n_stages), dtype=bool)
    out[deal, stage] = True
    return out


def counted_furthest(entered: BoolArray) -> BoolArray:
    """Policy ``furthest``: counted at every stage up to the furthest one entered."""
    n_stages = entered.shape[1]
    # furthest position entered, -1 when none
    furthest = np.where(entered.any(axis=1), n_stages - 1 - np.argmax(entered[:, ::-1], axis=1), -1)
    out: BoolArray = np.arange(n_stages)[None, :] <= furthest[:, None]
    return out


def counted_strict(
    deal: IntArray, stage: IntArray, t: IntArray, n_deals: int, n_stages: int
) -> BoolArray:
    """Policy ``strict``: stages 1..k entered in this order (time never decreasing).

    Greedy chain: the earliest entry into stage 1, then the earliest entry into
    stage 2 at or after it, and so on; the chain stops at the first stage with
    no such entry.  Greedy earliest matching finds the longest chain.
    """
    out = np.zeros((n_deals, n_stages), dtype=bool)
    prev = np.full(n_deals, np.iinfo(np.int64).min, dtype=np.int64)
    alive = np.ones(n_deals, dtype=bool)
    for k in range(n_stages):
        rows = (stage == k) & alive[deal]
        rows &= t >= prev[deal]
        nxt = np.full(n_deals, NS_MAX, dtype=np.int64)
        np.minimum.at(nxt, deal[rows], t[rows])
        alive = nxt < NS_MAX
        out[:, k] = alive
        prev = nxt
    return out


class Stays(NamedTuple):
    """One row per visit of a deal to a stage (consecutive duplicates merged)."""

    deal: IntArray
    stage: IntArray
    start: IntArray
    end: IntArray
    observed: BoolArray  # False: the stay is still open at ``end`` (censored)
    last: BoolArray  # the deal's last stay


def stays(
    deal: IntArray,
    stage: IntArray,
    t: IntArray,
    closed_at: IntArray,
    as_of: int,
) -> Stays:
    """Cut the sorted entries of each deal into stays.

    A stay ends when the deal enters another stage.  The last stay of a deal
    ends at ``closed_at[deal]`` when the deal closed (``closed_at <= as_of``)
    at or after entering it; otherwise it is open at ``as_of`` (censored).
    ``closed_at`` uses ``NS_MAX`` for deals that are not closed.
    Consecutive entries into the same stage are one stay.
    """
    n = deal.size
    keep = np.ones(n, dtype=bool)
    keep[1:] = (deal[1:] != deal[:-1]) | (stage[1:] != stage[:-1])
    d, s, start = deal[keep], stage[keep], t[keep]
    m = d.size
    last = np.ones(m, dtype=bool)
    last[:-1] = d[1:] != d[:-1]
    end = np.empty(m, dtype=np.int64)
    end[:-1] = start[1:]
    close = closed_at[d]
    closes_here = last & (close <= as_of) & (close >= start)
    end = np.where(last, np.where(closes_here, close, as_of), end)
    observed = ~last | closes_here
    return Stays(d, s, start, end, observed, last)


def per_deal_stage(
    st: Stays, n_stages: int, basis: str
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    """Reduce stays to one unit per (deal, stage) or keep every visit.

    Returns ``(deal, stage, duration_ns, observed)`` per unit.  ``basis``:
    ``"visits"`` keeps every stay; ``"latest"`` keeps each deal's last stay in
    the stage; ``"cumulative"`` sums a deal's stays in the stage (open when the
    last of them is open).
    """
    dur = st.end - st.start
    if basis == "visits":
        return st.deal, st.stage, dur, st.observed
    key = st.deal * n_stages + st.stage
    order = np.lexsort((st.start, key))
    key_sorted = key[order]
    last_of_key = np.ones(key.size, dtype=bool)
    last_of_key[:-1] = key_sorted[1:] != key_sorted[:-1]
    idx_last = order[last_of_key]
    if basis == "latest":
        return st.deal[idx_last], st.stage[idx_last], dur[idx_last], st.observed[idx_last]
    group = np.cumsum(np.concatenate(([True], last_of_key[:-1]))) - 1
    total = np.zeros(int(idx_last.size), dtype=np.int64)
    np.add.at(total, group, dur[order])
    return st.deal[idx_last], st.stage[idx_last], total, st.observed[idx_last]


def km_quantile_ns(
    durations: IntArray, observed: BoolArray, q: float, ci: float = 0.95
) -> tuple[int | None, int | None, int | None]:
    """Kaplan–Meier q-quantile of integer nanosecond durations (exact, via ranks).

    Returns the quantile and its ``ci`` interval: the first times where the
    upper and the lower pointwise bound of S (Greenwood, log(-log)) reach
    ``1 - q`` (Brookmeyer and Crowley 1982).  None where a curve never gets
    there (too many open stays).
    """
    if durations.size == 0:
        return None, None, None
    uniq, ranks = np.unique(durations, return_inverse=True)  # the one sort
    rank, surv, at_risk, events = kaplan_meier_ranked(ranks.reshape(-1), uniq.size, observed)
    low, high = km_interval(surv, at_risk, events, ci)
    times = rank.astype(np.float64)
    out: list[int | None] = []
    for curve in (surv, low, high):
        r = survival_quantile(times, curve, q)
        out.append(None if np.isnan(r) else int(uniq[int(r)]))
    return out[0], out[1], out[2]
