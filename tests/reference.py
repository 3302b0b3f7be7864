"""Slow, obviously-correct per-entity references (loops allowed here only).

Funnels are computed by enumerating every chain of distinct rows, straight
from the definitions in ``docs/events.md``; no cleverness, no numpy kernels.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

NAT = pd.NaT


def _chains(rows, steps, window, order, ties):
    """Every valid chain (tuple of row positions) of one entity's rows.

    rows: list of (time_ns, event, position); steps: list of sets of events.
    """
    out = []

    def interrupted(p, q, k):
        # a row strictly between p and q in time that does not fill step k
        tp, tq = rows[p][0], rows[q][0]
        return any(tp < t < tq and ev not in steps[k] for t, ev, _ in rows)

    def extend(chain):
        out.append(tuple(chain))
        k = len(chain)
        if k == len(steps):
            return
        last = chain[-1]
        t_last = rows[last][0]
        t_first = rows[chain[0]][0]
        for r, (t, ev, _) in enumerate(rows):
            if r in chain or ev not in steps[k]:
                continue
            if ties == "strict" and not t > t_last:
                continue
            if ties == "allow" and not t >= t_last:
                continue
            if window is not None and t - t_first > window:
                continue
            if order == "strict" and interrupted(last, r, k - 1):
                continue
            extend([*chain, r])

    for r, (_t, ev, _) in enumerate(rows):
        if ev in steps[0]:
            extend([r])
    return out


def entity_funnel(rows, steps, window=None, order="ordered", ties="allow"):
    """(reached, step times list, first_row position, last_row position) of one entity."""
    steps = [set(s) for s in steps]
    k_steps = len(steps)
    if order == "any":
        return _entity_any(rows, steps, window)
    chains = _chains(rows, steps, window, order, ties)
    if not chains:
        return 0, [None] * k_steps, None, None
    level = max(len(c) for c in chains)
    deepest = [c for c in chains if len(c) == level]
    end = min(rows[c[-1]][0] for c in deepest)
    start = max(rows[c[0]][0] for c in deepest if rows[c[-1]][0] == end)
    with_start = [c for c in deepest if rows[c[0]][0] == start]
    times = []
    for j in range(level):
        if order == "strict":
            times.append(max(rows[c[j]][0] for c in with_start if rows[c[-1]][0] == end))
        else:
            times.append(min(rows[c[j]][0] for c in with_start))
    return level, times + [None] * (k_steps - level), *_attribution(rows, steps, times)


def _entity_any(rows, steps, window):
    k_steps = len(steps)
    best, best_s = 0, None
    for s in sorted({t for t, ev, _ in rows if any(ev in st for st in steps)}):
        level = 0
        for st in steps:
            hit = any(
                ev in st and s <= t and (window is None or t - s <= window) for t, ev, _ in rows
            )
            if not hit:
                break
            level += 1
        if level > best:
            best, best_s = level, s
    if best == 0:
        return 0, [None] * k_steps, None, None
    times = [min(t for t, ev, _ in rows if ev in steps[j] and t >= best_s) for j in range(best)]
    return best, times + [None] * (k_steps - best), *_attribution(rows, steps, times)


def _attribution(rows, steps, times):
    level = len(times)
    first = min(p for t, ev, p in rows if ev in steps[0] and t == times[0])
    last = min(p for t, ev, p in rows if ev in steps[level - 1] and t == times[level - 1])
    return first, last


def funnel_entities_ref(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    entity="user_id",
    time="timestamp",
    event="event",
    window=None,
    order="ordered",
    ties="allow",
    by: Sequence[Hashable] = (),
    attribution="first",
    labels=None,
) -> pd.DataFrame:
    """Reference ``funnel_entities``: one row per entity, sorted by entity."""
    steps = [[s] if isinstance(s, str) else list(s) for s in steps]
    if labels is None:
        labels = []
        for s in steps:
            label, k = " | ".join(s), 2
            while label in labels:
                label = f"{' | '.join(s)} #{k}"
                k += 1
            labels.append(label)
    w = None if window is None else pd.Timedelta(window).value
    ts = pd.to_datetime(events[time])
    tz = ts.dt.tz
    ns = (ts.dt.tz_convert("UTC").dt.tz_localize(None) if tz is not None else ts).astype(
        "datetime64[ns]"
    )
    ns = ns.to_numpy().view("int64")
    records = []
    groups: dict = {}
    for pos, (ent, t, ev) in enumerate(zip(events[entity], ns, events[event], strict=True)):
        groups.setdefault(ent, []).append((int(t), ev, pos))
    for ent in sorted(groups):
        rows = groups[ent]
        level, times, first, last = entity_funnel(rows, steps, w, order, ties)
        rec = {entity: ent, "reached": level}
        for lab, t in zip(labels, times, strict=True):
            rec[lab] = NAT if t is None else pd.Timestamp(t)
        if by:
            if level == 0:
                pos = min(rows, key=lambda r: (r[0], r[2]))[2]
            else:
                pos = first if attribution == "first" else last
            for col in by:
                rec[col] = events[col].iloc[pos]
        records.append(rec)
    out = pd.DataFrame(records, columns=[entity, "reached", *labels, *by])
    out["reached"] = out["reached"].astype("int64")
    for lab in labels:
        out[lab] = pd.to_datetime(out[lab]).astype("datetime64[ns]")
        if tz is not None:
            out[lab] = out[lab].dt.tz_localize("UTC").dt.tz_convert(tz)
    for col in by:  # the input's dtype, missing values as they were
        out[col] = pd.Series([r[col] for r in records], dtype=events[col].dtype)
    out[entity] = pd.Series([r[entity] for r in records], dtype=events[entity].dtype)
    return out


def conversion_counts_ref(per_entity: pd.DataFrame, n_steps: int) -> list[int]:
    """Entities reaching at least step k from a reference per-entity table."""
    return [int((per_entity["reached"] >= k).sum()) for k in range(1, n_steps + 1)]


def quantile_ref(values_ns: Sequence[int], q: float) -> pd.Timedelta:
    """numpy's default (linear) quantile of durations, rounded to ns."""
    if len(values_ns) == 0:
        return pd.NaT
    return pd.Timedelta(int(np.round(np.quantile(np.asarray(values_ns, dtype=np.float64), q))))


# ----------------------------------------------------------------------------
# the feature options: exclusions, step windows, held properties, attempts, maturity
# ----------------------------------------------------------------------------
def _feature_chains(rows, steps, window, step_windows, exclude, ties):
    """Every valid ordered chain (tuple of row indices) under the feature options.

    exclude: list of (set of names, i, j) with 0-based steps i < j: no
    exclusion row strictly between the chain's step-i time and its step-j
    time, or its last step's time when the chain stops between i and j.
    """
    out = []
    k_steps = len(steps)
    excl = [([t for t, ev, _ in rows if ev in names], i, j) for names, i, j in exclude]

    def clean(chain):
        times = [rows[r][0] for r in chain]
        for xs, i, j in excl:
            end = min(j, len(chain) - 1)
            if end > i and any(times[i] < x < times[end] for x in xs):
                return False
        return True

    def extend(chain):
        out.append(tuple(chain))
        k = len(chain)
        if k == k_steps:
            return
        t_last, t_first = rows[chain[-1]][0], rows[chain[0]][0]
        for r, (t, ev, _) in enumerate(rows):
            if r in chain or ev not in steps[k]:
                continue
            if (ties == "strict" and t <= t_last) or (ties == "allow" and t < t_last):
                continue
            if window is not None and t - t_first > window:
                continue
            sw = step_windows[k - 1] if step_windows is not None else None
            if sw is not None and t - t_last > sw:
                continue
            if clean([*chain, r]):
                extend([*chain, r])

    for r, (_t, ev, _) in enumerate(rows):
        if ev in steps[0]:
            extend([r])
    return out


def entity_features(rows, steps, window=None, step_windows=None, exclude=(), ties="allow"):
    """(level, step times, first_row, last_row) of one entity under the feature options.

    Winning chain: the deepest, then the one completing first, then the one
    starting last; step times: the componentwise earliest of the chains with
    that start and end (itself a valid chain).
    """
    steps = [set(s) for s in steps]
    k_steps = len(steps)
    chains = _feature_chains(rows, steps, window, step_windows, exclude, ties)
    if not chains:
        return 0, [None] * k_steps, None, None
    level = max(len(c) for c in chains)
    deepest = [c for c in chains if len(c) == level]
    end = min(rows[c[-1]][0] for c in deepest)
    start = max(rows[c[0]][0] for c in deepest if rows[c[-1]][0] == end)
    best = [c for c in deepest if rows[c[-1]][0] == end and rows[c[0]][0] == start]
    times = [min(rows[c[j]][0] for c in best) for j in range(level)]
    return level, times + [None] * (k_steps - level), *_attribution(rows, steps, times)


def _value_rank(values):
    """Sort key of held values as pandas groupby sorts them (missing last)."""

    def key(v):
        return tuple((pd.isna(x), "" if pd.isna(x) else x) for x in v)

    return {v: i for i, v in enumerate(sorted(set(values), key=key))}


def funnel_features_ref(
    events: pd.DataFrame,
    steps: Sequence,
    *,
    entity="user_id",
    time="timestamp",
    event="event",
    window=None,
    step_windows=None,
    exclude=None,
    hold: Sequence[Hashable] = (),
    count="entities",
    ties="allow",
    by: Sequence[Hashable] = (),
    attribution="first",
    as_of=None,
    mature_only=False,
) -> pd.DataFrame:
    """Reference ``funnel_entities`` with the feature options (one row per entity / attempt).

    ``exclude`` is a dict {name or tuple of names: (i, j)} (1-based);
    ``as_of`` a Timestamp (naive data) or None.
    """
    steps = [[s] if isinstance(s, str) else list(s) for s in steps]
    labels = [" | ".join(s) for s in steps]
    k_steps = len(steps)
    w = None if window is None else pd.Timedelta(window).value
    sw = (
        None
        if step_windows is None
        else [None if x is None else pd.Timedelta(x).value for x in step_windows]
    )
    excl = []
    for names, (i, j) in (exclude or {}).items():
        group = set(names) if isinstance(names, tuple) else {names}
        excl.append((group, i - 1, j - 1))
    ns = pd.to_datetime(events[time]).astype("datetime64[ns]").to_numpy().view("int64")
    cut = None if as_of is None else pd.Timestamp(as_of).value
    if mature_only and cut is None:
        cut = int(ns.max())
    horizon = w
    if horizon is None and sw is not None and all(x is not None for x in sw):
        horizon = sum(sw)
    groups: dict = {}
    for pos, (ent, t, ev) in enumerate(zip(events[entity], ns, events[event], strict=True)):
        if as_of is not None and t > cut:
            continue
        groups.setdefault(ent, []).append((int(t), ev, pos))
    hold = list(hold)
    if hold:
        all_values = [
            tuple(events[c].iloc[p] for c in hold) for rows in groups.values() for _, _, p in rows
        ]
        rank = _value_rank(all_values)
    records = []
    for ent in sorted(groups):
        rows = groups[ent]
        units = []  # (attempt, level, times, first, last, deadline)
        if count == "attempts":
            prev_end, number = None, 0
            while True:
                starts = [
                    t for t, ev, _ in rows if ev in steps[0] and (prev_end is None or t > prev_end)
                ]
                if not starts:
                    break
                number += 1
                s = min(starts)
                dl = None if w is None else s + w
                sub = [r for r in rows if r[0] >= s and (dl is None or r[0] <= dl)]
                level, times, first, last = entity_features(sub, steps, None, sw, excl, ties)
                units.append((number, level, times, first, last, dl))
                if level == k_steps:
                    prev_end = times[-1]
                elif dl is None:
                    break
                else:
                    prev_end = dl
        elif hold:
            by_value: dict = {}
            for r in rows:
                by_value.setdefault(tuple(events[c].iloc[r[2]] for c in hold), []).append(r)
            cands = []
            for value, sub in by_value.items():
                level, times, first, last = entity_features(sub, steps, w, sw, excl, ties)
                if level:
                    cands.append(
                        (
                            -level,
                            times[level - 1],
                            -times[0],
                            rank[value],
                            (None, level, times, first, last, None),
                        )
                    )
            if cands:
                units.append(min(cands, key=lambda c: c[:4])[4])
        else:
            level, times, first, last = entity_features(rows, steps, w, sw, excl, ties)
            if level:
                units.append((None, level, times, first, last, None))
        last_start = max((t for t, ev, _ in rows if ev in steps[0]), default=None)
        if not units:
            units = [(0 if count == "attempts" else None, 0, [None] * k_steps, None, None, None)]
        for number, level, times, first, last, dl in units:
            rec = {entity: ent}
            if count == "attempts":
                rec["attempt"] = number
            rec["reached"] = level
            for lab, t in zip(labels, times, strict=True):
                rec[lab] = NAT if t is None else pd.Timestamp(t)
            if by:
                if level == 0:
                    pos = min(rows, key=lambda r: (r[0], r[2]))[2]
                else:
                    pos = first if attribution == "first" else last
                for col in by:
                    rec[col] = events[col].iloc[pos]
            if as_of is not None or mature_only:
                if level == 0:
                    mature = False
                elif level == k_steps:
                    mature = True
                elif count == "attempts":
                    mature = dl is not None and dl <= cut
                else:
                    mature = horizon is not None and last_start + horizon <= cut
                rec["mature"] = mature
                if mature_only and level and not mature:
                    continue
            records.append(rec)
    cols = [entity, *(["attempt"] if count == "attempts" else []), "reached", *labels, *by]
    if as_of is not None or mature_only:
        cols.append("mature")
    out = pd.DataFrame(records, columns=cols)
    for c in ("reached", *(["attempt"] if count == "attempts" else [])):
        out[c] = out[c].astype("int64")
    for lab in labels:
        out[lab] = pd.to_datetime(out[lab]).astype("datetime64[ns]")
    for col in by:
        out[col] = pd.Series([r[col] for r in records], dtype=events[col].dtype)
    if "mature" in out:
        out["mature"] = out["mature"].astype(bool)
    out[entity] = pd.Series([r[entity] for r in records], dtype=events[entity].dtype)
    return out
