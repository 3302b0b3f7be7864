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

from funnelkit._kernels import time_unit
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


def _pack(keys: Sequence[IntArray], *, coarse: bool) -> tuple[IntArray, int] | None:
    """Integer keys (primary first) packed into one int64 that sorts like them, or None.

    Each key is offset by its minimum and, when every value is a multiple of a
    day, second, millisecond or microsecond, divided by it; None when the keys
    need more than 63 bits together, unless ``coarse``: then the widest key
    loses low bits.  Returns the packed key and, when coarsened, how many low
    bits follow the coarsened key (its rows may then tie where the keys
    differ); -1 when exact.
    """
    parts: list[tuple[IntArray, int]] = []
    for key in keys:
        if key.dtype.kind not in "iu":
            return None
        lo, hi = (int(key.min()), int(key.max())) if key.size else (0, 0)
        span = hi - lo
        if span >= 2**63:
            return None
        rel = (key - np.int64(lo)).astype(np.int64, copy=False)
        if span >= 2**20:
            unit = time_unit(rel, 0, span)
            if unit > 1:
                rel, span = rel // np.int64(unit), span // unit
        parts.append((rel, max(span.bit_length(), 1)))
    excess = sum(bits for _, bits in parts) - 63
    low = -1
    if excess > 0:
        wide = max(range(len(parts)), key=lambda i: parts[i][1])
        rel, bits = parts[wide]
        if not coarse or bits - excess < 1:
            return None
        parts[wide] = (rel >> np.int64(excess), bits - excess)
        low = sum(bits for _, bits in parts[wide + 1 :])
    out = np.zeros(keys[0].size if keys else 0, dtype=np.int64)
    for rel, bits in parts:
        out = (out << np.int64(bits)) | rel
    return out, low


def _refine(order: IntArray, prefix: IntArray, keys: Sequence[IntArray]) -> IntArray:
    """Sort again, by the full keys, the runs of rows whose coarse prefix ties."""
    ps = prefix[order]
    eq = ps[1:] == ps[:-1]
    if not eq.any():
        return order
    in_tie = np.zeros(order.size, dtype=bool)
    in_tie[1:] |= eq
    in_tie[:-1] |= eq
    run = np.cumsum(np.concatenate(([True], ~eq)))  # run number of each position
    pos = np.flatnonzero(in_tie)
    rows = order[pos]
    sub = np.lexsort((*(k[rows] for k in keys), run[pos]))  # stable: ties keep their order
    out: IntArray = order.copy()
    out[pos] = rows[sub]
    return out


def stable_code_order(codes: IntArray) -> IntArray:
    """Stable ``argsort`` of non-negative integer codes: radix passes on 16-bit digits."""
    hi = int(codes.max()) if codes.size else 0
    if hi < 2**16:
        return np.argsort(codes.astype(np.uint16), kind="stable").astype(np.int64)
    if hi < 2**32:
        low = np.argsort((codes & 0xFFFF).astype(np.uint16), kind="stable")
        high = np.argsort((codes[low] >> 16).astype(np.uint16), kind="stable")
        return low[high].astype(np.int64)
    return np.argsort(codes, kind="stable").astype(np.int64)


def sort_order(keys: Sequence[IntArray], *, stable: bool) -> IntArray:
    """The order of ``np.lexsort(keys)`` (the last key primary), without its cost.

    In one pass when the rows are already in order; else one ``argsort`` of the
    keys packed into an int64 (when they do not fit, the widest loses low bits
    and the rows that then tie are sorted again by the full keys), or of the
    secondary keys packed, then a stable radix pass on the primary key.
    ``stable=False``: rows equal in every key may come in any order (callers
    whose rows carry nothing else); ``stable=True`` keeps their input order.
    ``np.lexsort`` only when neither packing fits.
    """
    n = keys[0].size if keys else 0
    if presorted(keys):
        return np.arange(n, dtype=np.int64)
    kind: Any = "stable" if stable else None
    packed = _pack(list(keys)[::-1], coarse=True)
    if packed is not None:
        key, low = packed
        order = np.argsort(key, kind=kind).astype(np.int64)
        # coarsened (times in ns beside many codes): rows that tie on the coarse
        # prefix, usually few, are put in full order
        return order if low < 0 else _refine(order, key >> np.int64(low), keys)
    primary = keys[-1]
    rest = _pack(list(keys[:-1])[::-1], coarse=False) if len(keys) > 1 else None
    if rest is not None and primary.dtype.kind in "iu" and int(primary.min()) >= 0:
        order = np.argsort(rest[0], kind=kind)
        return order[stable_code_order(primary[order])].astype(np.int64)
    return np.lexsort(tuple(keys)).astype(np.int64)


def sort_entries(deal: IntArray, stage: IntArray, t: IntArray) -> IntArray:
    """Order of the rows by (deal, time, stage position): ties go by stage order.

    Entries equal in all three are interchangeable, so their order is free.
    """
    return sort_order((stage, t, deal), stable=False)


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
    lo = int(durations.min())
    if int(durations.max()) - lo < 2**62:
        # the one sort: each duration with its event flag in the lowest bit (no argsort)
        flagged = ((durations - np.int64(lo)) << np.int64(1)) | observed.astype(np.int64)
        packed = np.sort(flagged)
        t = packed >> np.int64(1)
        new = np.concatenate(([True], t[1:] != t[:-1]))
        uniq = t[new] + np.int64(lo)
        ranks = np.cumsum(new) - 1  # rank of each sorted duration among the distinct ones
        flags = (packed & np.int64(1)).astype(bool)
    else:
        uniq, inverse = np.unique(durations, return_inverse=True)
        ranks, flags = inverse.reshape(-1), observed
    rank, surv, at_risk, events = kaplan_meier_ranked(ranks, uniq.size, flags)
    low, high = km_interval(surv, at_risk, events, ci)
    times = rank.astype(np.float64)
    out: list[int | None] = []
    for curve in (surv, low, high):
        r = survival_quantile(times, curve, q)
        out.append(None if np.isnan(r) else int(uniq[int(r)]))
    return out[0], out[1], out[2]
