"""The stage-history reader and the per-deal path it gives.

One reader for every function that reads a stage history next to a deal
table (``pipeline``, ``plan``, ``lost_deals``, ``revival_candidates``,
``deal_entities``): the same column checks, the same join rule (history deal
ids must be deal ids of the same kind), the same observation date, and the
same order of same-instant entries (by stage order).

:func:`deal_paths` reduces the entries to one row per deal: the furthest
stage reached, the first entry time of each stage, the current stage at
``as_of`` and the stage of a lost deal's last entry before its close.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from funnelkit._deals_validate import check_unique_deals
from funnelkit._stage_kernels import presorted, sort_order
from funnelkit._validate import (
    N_EXAMPLES,
    as_datetime,
    check_frame,
    check_not_null,
    datetime_to_ns,
    plain,
    require_columns,
    time_zone,
    warn_dropped,
)
from funnelkit.errors import InvalidDataError

IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
NAT = np.iinfo(np.int64).min
NS_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True)
class HistoryEntries:
    """Validated history rows: one per entry, joined to the deal table."""

    deal: IntArray  #: row position of the entry's deal in the deal table
    stage: np.ndarray[Any, np.dtype[np.object_]]  #: the stage value of the entry
    t: IntArray  #: entry time, ns (UTC when tz-aware)
    tz: Any  #: time zone of the entry times (None when naive)
    n_rows: int  #: rows of the history as given

    def restrict(self, rows: IntArray, n_input: int) -> HistoryEntries:
        """Keep the entries of the deal-table rows ``rows``, renumbered 0..len(rows)-1."""
        new = np.full(n_input, -1, dtype=np.int64)
        new[rows] = np.arange(rows.size, dtype=np.int64)
        pos = new[self.deal]
        keep = pos >= 0
        return HistoryEntries(pos[keep], self.stage[keep], self.t[keep], self.tz, self.n_rows)

    @property
    def latest(self) -> int:
        """The latest entry time (NAT when there is none)."""
        return int(self.t.max()) if self.t.size else NAT


def id_kind(values: Any) -> str:
    """A coarse kind of a deal-id array: number, string, or the dtype's name."""
    arr = pd.Series(values)
    if pd.api.types.is_numeric_dtype(arr.dtype) and not pd.api.types.is_bool_dtype(arr.dtype):
        return "number"
    non_null = arr.dropna()
    if pd.api.types.is_string_dtype(arr.dtype) or (
        len(non_null) and non_null.map(type).eq(str).all()
    ):
        return "string"
    return str(arr.dtype)


def join_ids(
    history_ids: Any,
    deal_ids: Any,
    *,
    deal: Hashable,
    errors: str | None,
    func: str,
    history_deal: Hashable | None = None,
    unit: str = "rows",
) -> IntArray:
    """Row position in the deal table of each history id (-1 for dropped rows).

    A history whose ids are of another kind than the deal table's (``"1"``
    against ``1``) is an error naming both tables; history deals absent from
    the deal table are an error, or with ``errors="warn"`` left out with a
    count.  ``errors=None``: the function has no ``errors=`` option (always
    raise, and do not suggest it).  ``unit`` names what ``history_ids`` are
    ("rows", or "deals" for unique ids).
    """
    h_col = deal if history_deal is None else history_deal
    h_ids = np.asarray(history_ids)
    d_ids = np.asarray(deal_ids)
    index = pd.Index(d_ids)
    if not index.is_unique:  # the history is read before the deal table's own checks
        series = isinstance(deal_ids, pd.Series)
        frame = deal_ids.to_frame() if series else pd.DataFrame({deal: d_ids})
        check_unique_deals(frame, deal)
    if h_ids.size and d_ids.size:
        h_kind, d_kind = id_kind(h_ids), id_kind(d_ids)
        if h_kind != d_kind:
            msg = (
                f"history[{h_col!r}] holds {h_kind} deal ids but deals[{deal!r}] holds "
                f"{d_kind} ids (e.g. {plain(h_ids[0])!r} vs {plain(d_ids[0])!r}), so no "
                f"history row would join its deal. Convert one of them first, e.g. "
                f"history[{h_col!r}] = history[{h_col!r}].astype(deals[{deal!r}].dtype)."
            )
            raise InvalidDataError(msg, column=str(h_col), reason="id_mismatch", n_rows=h_ids.size)
    pos: IntArray = index.get_indexer(h_ids).astype(np.int64)
    missing = pos < 0
    if missing.any():
        n_bad = int(missing.sum())
        unknown = pd.unique(h_ids[missing])
        if errors != "warn":
            msg = (
                f"history has {n_bad:,} of {h_ids.size:,} {unit} whose deal "
                f"(history[{h_col!r}]) is not in deals[{deal!r}] ({len(unknown):,} deals, "
                f"first: {plain(unknown[0])!r}). Pass the deal table with every deal of the history"
                + (
                    f" or filter the history first "
                    f"(history[history[{h_col!r}].isin(deals[{deal!r}])])."
                    if errors is None
                    else f", filter the history first "
                    f"(history[history[{h_col!r}].isin(deals[{deal!r}])]), or pass "
                    f"errors='warn' to leave those rows out with a warning."
                )
            )
            raise InvalidDataError(
                msg,
                column=str(h_col),
                reason="missing_deal",
                n_rows=n_bad,
                examples=pd.DataFrame({h_col: unknown[:N_EXAMPLES]}),
            )
        warn_dropped(
            n_bad, h_ids.size, f"their deal is not in deals[{deal!r}] (history rows)", func=func
        )
    return pos


def check_history(
    history: Any, *, deal: str, stage: str, entered: str, func: str
) -> tuple[pd.DataFrame, pd.Series]:
    """The checks every reader of a stage history makes; the frame and its entry times.

    A table (pandas, or converted once), the three columns present, no missing
    deal, stage or entry time (an error naming the column, the count and the
    fix), entry times read by the one date parser.
    """
    h = check_frame(history, table="history", func=func)
    require_columns(h, {"deal": deal, "stage": stage, "entered": entered}, table="history")
    check_not_null(h, deal, table="history", keyword="deal", func=func)
    check_not_null(h, stage, table="history", keyword="stage", func=func)
    check_not_null(h, entered, table="history", keyword="entered", func=func)
    return h, as_datetime(h, entered, table="history", keyword="entered")


def read_history(
    history: Any,
    deal_ids: Any,
    *,
    deal: str,
    stage: str,
    entered: str,
    errors: str,
    func: str,
) -> HistoryEntries:
    """Check a stage history and join it to the deal ids of the deal table."""
    h, times = check_history(history, deal=deal, stage=stage, entered=entered, func=func)
    pos = join_ids(h[deal].to_numpy(), deal_ids, deal=deal, errors=errors, func=func)
    keep = pos >= 0
    return HistoryEntries(
        deal=pos[keep],
        stage=h[stage].to_numpy(dtype=object)[keep],
        t=datetime_to_ns(times)[keep],
        tz=time_zone(times),
        n_rows=len(h),
    )


@dataclass(frozen=True)
class DealPaths:
    """One entry per deal of the deal table: where its history took it."""

    furthest: IntArray  #: furthest stage position reached (-1: none)
    entry: IntArray  #: (n_deals, n_stages) first entry into each stage, NAT when never
    current: np.ndarray[Any, np.dtype[np.object_]]  #: stage of the last entry (NaN: none)
    current_pos: IntArray  #: position of ``current`` in the stages (-1: none, or not there)
    last_before_close: np.ndarray[Any, np.dtype[np.object_]]  #: last stage entered by close
    has_history: BoolArray  #: the deal has at least one entry by ``as_of``


def deal_paths(
    entries: HistoryEntries | None,
    stages: Sequence[Hashable],
    *,
    n_deals: int,
    as_of: int,
    closed: IntArray,
    table_stage: np.ndarray[Any, np.dtype[np.object_]] | None = None,
) -> DealPaths:
    """Reduce the history entries to one path per deal.

    Entries after ``as_of`` are ignored.  Same-instant entries are ordered by
    the position of their stage in ``stages`` (stages not in ``stages`` after
    them), so the current stage never depends on row order.  Without history
    rows, a deal's current stage is its ``table_stage`` value, and its furthest
    stage the position of that value in ``stages``.
    """
    n_st = len(stages)
    index = pd.Index(list(stages))
    furthest = np.full(n_deals, -1, dtype=np.int64)
    entry = np.full((n_deals, n_st), NAT, dtype=np.int64)
    current = np.full(n_deals, np.nan, dtype=object)
    before_close = np.full(n_deals, np.nan, dtype=object)
    has = np.zeros(n_deals, dtype=bool)
    if table_stage is not None:
        current = table_stage.astype(object).copy()
        before_close = current.copy()
        furthest = index.get_indexer(table_stage).astype(np.int64)
    current_pos = furthest.copy()
    if entries is not None and entries.t.size:
        use = entries.t <= as_of
        if use.all():
            d, st, t = entries.deal, entries.stage, entries.t
        else:
            d, st, t = entries.deal[use], entries.stage[use], entries.t[use]
        spos = index.get_indexer(st).astype(np.int64)
        tie = np.where(spos >= 0, spos, n_st)
        # stages outside ``stages``: by their sorted value, never by row order
        outside = spos < 0
        keys: tuple[IntArray, ...] = (tie, t, d)
        if outside.any():
            by_value = np.zeros(st.size, dtype=np.int64)
            labels = pd.Series(st[outside], dtype=object).astype(str)
            by_value[outside] = pd.factorize(labels, sort=True)[0]
            keys = (by_value, *keys)
        if not presorted(keys):  # exports are often in order already: no gathers then
            # entries equal in every key carry the same stage value: their order is free
            order = sort_order(keys, stable=False)
            d, t, spos = d[order], t[order], spos[order]
            src = order  # the stage values stay in place: gathered only where read
        else:
            src = None
        has[d] = True
        last = np.ones(d.size, dtype=bool)
        last[:-1] = d[1:] != d[:-1]
        # stage values from the small table of names (a random gather of the entries'
        # objects is slow); only stages outside ``stages`` are read from the entries
        names = np.empty(n_st + 1, dtype=object)
        for k, name in enumerate(stages):
            names[k] = name

        def values(rows: IntArray) -> np.ndarray[Any, np.dtype[np.object_]]:
            out: np.ndarray[Any, np.dtype[np.object_]] = names[spos[rows]]
            odd = np.flatnonzero(spos[rows] < 0)
            if odd.size:
                out[odd] = st[(rows if src is None else src[rows])[odd]]
            return out

        at_last = np.flatnonzero(last)
        current[d[at_last]] = values(at_last)
        current_pos[d[at_last]] = spos[at_last]
        # the last entry at or before the deal's close (the stage it closed at)
        close = np.where(closed[d] == NAT, NS_MAX, closed[d])
        at = np.flatnonzero(t <= close)
        dk = d[at]
        last_ok = np.ones(dk.size, dtype=bool)
        last_ok[:-1] = dk[1:] != dk[:-1]
        closing = at[last_ok]
        before_close[dk[last_ok]] = values(closing)
        # first entry into each stage: rows are in (deal, time) order, so a deal's first
        # row of a stage is where the deal changes among that stage's rows
        for k in range(n_st):
            sel = np.flatnonzero(spos == k)
            if sel.size == 0:
                continue
            dk = d[sel]
            head = np.ones(sel.size, dtype=bool)
            head[1:] = dk[1:] != dk[:-1]
            entry[dk[head], k] = t[sel[head]]
        if n_st:
            entered = entry != NAT
            last_k = n_st - 1 - np.argmax(entered[:, ::-1], axis=1)
            furthest = np.maximum(furthest, np.where(entered.any(axis=1), last_k, -1))
    return DealPaths(
        furthest=furthest,
        entry=entry,
        current=current,
        current_pos=current_pos,
        last_before_close=before_close,
        has_history=has,
    )


def furthest_stage(
    entries: HistoryEntries | None,
    stages: Sequence[Hashable],
    *,
    rows: IntArray,
    n_deals: int,
    as_of: int,
    table_stage: np.ndarray[Any, np.dtype[np.object_]] | None = None,
) -> IntArray:
    """``deal_paths(...).furthest[rows]``: the furthest stage by ``as_of`` of some deals.

    Only what the furthest stage needs: the position of the deal table's stage
    and the deepest stage among the deals' entries at or before ``as_of`` (no
    sort; one pass over the entries of ``rows`` per stage).
    """
    index = pd.Index(list(stages))
    if table_stage is not None:
        out = index.get_indexer(table_stage[rows]).astype(np.int64)
    else:
        out = np.full(rows.size, -1, dtype=np.int64)
    if entries is None or entries.t.size == 0 or not len(stages):
        return cast(IntArray, out)
    slot = np.full(n_deals, -1, dtype=np.int64)  # position of each deal in rows
    slot[rows] = np.arange(rows.size, dtype=np.int64)
    at = slot[entries.deal]
    use = np.flatnonzero((at >= 0) & (entries.t <= as_of))
    spos = index.get_indexer(entries.stage[use])
    at = at[use]
    for k in range(len(stages)):
        sel = at[spos == k]
        out[sel] = np.maximum(out[sel], k)
    return cast(IntArray, out)


def stage_win_counts(
    furthest: IntArray, outcome: IntArray, codes: IntArray, n_groups: int, n_stages: int
) -> tuple[IntArray, IntArray]:
    """Closed deals counted at each (group, stage), and how many of them were won.

    The one definition of "the chance that a deal at stage s is won": among
    the deals closed by ``as_of`` that reached s or a later stage (every deal
    counts at the first stage, a won deal at every stage), the share that
    were won.  ``outcome`` uses
    the deal reader's codes (0 open, 1 won, 2 lost).
    """
    if n_stages == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    closed = outcome != 0
    won = outcome == 1
    # every deal was at the first stage; a won deal went through all of them
    depth = np.where(won, n_stages - 1, np.maximum(furthest, 0))
    # a closed deal counts at stages 0..depth: count the deals at each (group, depth),
    # then sum from the last stage down (no (deals x stages) matrix)
    cell = codes[closed] * n_stages + depth[closed]
    size = n_groups * n_stages
    at = np.bincount(cell, minlength=size).reshape(n_groups, n_stages)
    won_at = np.bincount(cell[won[closed]], minlength=size).reshape(n_groups, n_stages)
    total = np.cumsum(at[:, ::-1], axis=1)[:, ::-1].astype(np.int64)
    wins = np.cumsum(won_at[:, ::-1], axis=1)[:, ::-1].astype(np.int64)
    return total.ravel(), wins.ravel()
