"""Stage history: stage conversion, time in stage, stalled, lost and revivable deals.

A stage history has one row per stage entry of a deal (``deal``, ``stage``,
``entered_at``), as CRMs export it (HubSpot "date entered stage",
Salesforce OpportunityHistory, Pipedrive / amoCRM / Bitrix24 status changes).
Definitions: ``docs/stages.md``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from funnelkit import _stage_kernels as kern
from funnelkit._deals_validate import (
    LOST,
    DealArrays,
    group_codes,
    latest_observed,
    read_deals,
)
from funnelkit._deals_validate import NAT as DEAL_NAT
from funnelkit._history import (
    DealPaths,
    HistoryEntries,
    check_history,
    deal_paths,
    furthest_stage,
    join_ids,
    read_history,
)
from funnelkit._stats import wilson_interval
from funnelkit._validate import (
    N_EXAMPLES,
    as_amount,
    as_datetime,
    as_list,
    check_ci,
    check_date,
    check_duration,
    check_option,
    check_positive,
    closest,
    datetime_to_ns,
    param_error,
    require_columns,
    time_zone,
    timestamp_ns,
    warn_dropped,
)
from funnelkit.columns import Columns, takes_columns
from funnelkit.errors import InvalidDataError, InvalidParameterError

#: Nanoseconds in a day.
NS_PER_DAY = 86_400 * 10**9

__all__ = [
    "lost_deals",
    "revival_candidates",
    "stage_conversion",
    "stalled",
    "time_in_stage",
]

Policy = Literal["furthest", "strict", "any"]
Basis = Literal["visits", "latest", "cumulative"]
Unknown = Literal["raise", "ignore"]

#: Lost reasons treated as recoverable by :func:`revival_candidates` by default.
RECOVERABLE_REASONS = ("timing", "budget", "no budget", "no decision")

IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
NAT = np.iinfo(np.int64).min
_DATE = "a date (Timestamp or ISO string) or None"


# ----------------------------------------------------------------------------
# validation helpers (this module's tables)
# ----------------------------------------------------------------------------
def _check_stages(stages: Any, *, func: str) -> list[Hashable]:
    """``stages`` must be a non-empty sequence of distinct stage names."""
    expected = "a non-empty list of distinct stage names"
    if isinstance(stages, str | bytes) or not isinstance(stages, Sequence | pd.Index):
        raise param_error(func, "stages", expected, stages)
    out = list(stages)
    if not out:
        raise param_error(func, "stages", expected, stages)
    seen: set[Hashable] = set()
    dupes = [s for s in out if s in seen or seen.add(s)]  # type: ignore[func-returns-value]
    if dupes:
        msg = (
            f"The 'stages' parameter of {func} must be {expected}. "
            f"Got {out!r} instead, which repeats {dupes!r}."
        )
        raise InvalidParameterError(msg)
    return out


@dataclass(frozen=True)
class _History:
    """A validated stage history, sorted by (deal, time, stage position)."""

    ids: pd.Index  # deal id of each code
    deal: IntArray
    stage: IntArray
    t: IntArray
    tz: Any
    stages: list[Hashable]


def _read_history(
    history: Any,
    stages: Any,
    *,
    deal: str,
    stage: str,
    entered: str,
    unknown: Any,
    func: str,
) -> _History:
    names = _check_stages(stages, func=func)
    check_option(unknown, ("raise", "ignore"), name="unknown", func=func)
    df, times = check_history(history, deal=deal, stage=stage, entered=entered, func=func)
    values = df[stage]
    pos = pd.Index(names).get_indexer(values.to_numpy(dtype=object))
    bad = pos < 0
    if bad.any():
        if unknown == "raise":
            raise _unknown_stage_error(df, stage, bad, names)
        keep = ~bad
    else:
        keep = np.ones(len(df), dtype=bool)
    t = datetime_to_ns(times)[keep]
    codes, ids = pd.factorize(df[deal].to_numpy()[keep])
    codes = codes.astype(np.int64)
    stage_pos = pos[keep].astype(np.int64)
    order = kern.sort_entries(codes, stage_pos, t)
    return _History(
        ids=pd.Index(ids),
        deal=codes[order],
        stage=stage_pos[order],
        t=t[order],
        tz=time_zone(times),
        stages=names,
    )


def _unknown_stage_error(
    df: pd.DataFrame, stage: str, bad: BoolArray, names: list[Hashable]
) -> InvalidDataError:
    unknown = pd.unique(df[stage].to_numpy(dtype=object)[bad])
    shown = []
    for value in unknown[:10]:
        hint = closest(value, names)
        shown.append(f"{value!r}" + (f" (closest: {hint!r})" if hint is not None else ""))
    more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
    n_bad = int(bad.sum())
    msg = (
        f"history[{stage!r}] has {n_bad:,} of {len(df):,} rows with stages not in "
        f"'stages': {', '.join(shown)}{more}. Fix the names, add them to 'stages', "
        f"or pass unknown='ignore' to leave those rows out."
    )
    return InvalidDataError(
        msg,
        column=str(stage),
        reason="unknown_stage",
        n_rows=n_bad,
        examples=df.iloc[np.flatnonzero(bad)[:N_EXAMPLES]],
    )


def _read_deal_table(
    deals: Any,
    *,
    func: str,
    deal: str,
    closed: str,
    created: str,
    status: str,
    won: Any,
    lost: Any,
    optional: tuple[str, ...],
    amount: str | None = None,
    columns: dict[str, Hashable | None] | None = None,
    errors: str = "raise",
) -> DealArrays:
    """The deal table of a stage function, read by the one deal reader.

    The same checks and messages as every deal function (ids, dates, amounts,
    status values, contradictory rows); ``optional`` names the roles among
    created, closed and status whose column the table may lack. No ``as_of``
    here: a stage function applies its own to the history.
    """
    return read_deals(
        deals,
        func=func,
        deal=deal,
        created=created,
        closed=closed,
        status=status,
        won=won,
        lost=lost,
        errors=errors,
        amount=amount,
        columns=columns,
        need=(),
        optional=optional,
    )


def _joined(
    h: _History, deals: pd.DataFrame, deal: str, *, errors: str, func: str
) -> tuple[_History, IntArray]:
    """The history of the deals in ``deals``, and each kept deal's row there.

    History deals absent from the deal table are an error naming both tables,
    or with ``errors="warn"`` left out with a count (the shared join rule).
    """
    pos = join_ids(
        h.ids.to_numpy(), deals[deal].to_numpy(), deal=deal, errors=errors, func=func,
        unit="deals",
    )  # fmt: skip
    keep = pos >= 0
    if keep.all():
        return h, pos
    code = np.cumsum(keep, dtype=np.int64) - 1  # the kept deals renumbered 0..k-1
    rows = keep[h.deal]
    kept = _History(h.ids[keep], code[h.deal[rows]], h.stage[rows], h.t[rows], h.tz, h.stages)
    return kept, pos[keep]


def _align(ids: pd.Index, deals: pd.DataFrame, deal: str) -> IntArray:
    """Row position in ``deals`` of every history deal; the shared join rule (kinds, missing)."""
    return join_ids(
        ids.to_numpy(), deals[deal].to_numpy(), deal=deal, errors=None, func="", unit="deals"
    )


def _same_zone(tz_a: Any, tz_b: Any, *, what: str) -> None:
    if (tz_a is None) != (tz_b is None):
        msg = (
            f"{what} mixes naive and time-zone-aware datetimes ({tz_a} vs {tz_b}). "
            f"Convert both to the same zone, e.g. with pd.to_datetime(..., utc=True)."
        )
        raise InvalidDataError(msg, column=None, reason="mixed_tz", n_rows=0)


def _as_of_ns(as_of: Any, tz: Any, default: int, *, func: str) -> int:
    """Observation date in ns (UTC ns when the data are tz-aware)."""
    if as_of is None:
        return default
    return timestamp_ns(check_date(as_of, tz=tz, name="as_of", func=func))


def _groups(
    ids: pd.Index, deals: pd.DataFrame | None, by: list[Hashable], deal: str, *, func: str
) -> tuple[IntArray, pd.DataFrame]:
    """Group code of every deal and the sorted group keys (one row per group)."""
    n = len(ids)
    if not by:
        # no deals, no group: a 0-row history gives a 0-row result
        return np.zeros(n, dtype=np.int64), pd.DataFrame(index=pd.RangeIndex(1 if n else 0))
    if deals is None:
        msg = (
            f"The 'by' parameter of {func} needs the deal table: by={by!r} columns come "
            f"from 'deals' joined on the deal id. Pass deals=..."
        )
        raise InvalidParameterError(msg)
    for c in by:
        require_columns(deals, {"by": c}, table="deals")
    pos = _align(ids, deals, deal)
    frame = deals[by].iloc[pos].reset_index(drop=True)
    grouped = frame.groupby(by, dropna=False, sort=True)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)
    keys = grouped.size().index.to_frame(index=False)
    keys.columns = by
    return codes, keys


def _assemble(keys: pd.DataFrame, stages: list[Hashable], measures: dict[str, Any]) -> pd.DataFrame:
    """One row per (group, stage): the group keys, ``stage``, then the measures."""
    n_groups, n_stages = len(keys), len(stages)
    columns: dict[Hashable, Any] = {
        c: keys[c].to_numpy()[np.repeat(np.arange(n_groups), n_stages)] for c in keys.columns
    }
    columns["stage"] = pd.Series(list(stages) * n_groups, dtype=None)
    for name, values in measures.items():
        columns[name] = values.to_numpy() if isinstance(values, pd.Series) else values
    out: pd.DataFrame = pd.DataFrame(columns)
    for c in keys.columns:  # keep the dtypes of the by columns
        out[c] = out[c].astype(keys[c].dtype)
    return out


def _td(values: IntArray) -> pd.Series:
    """int64 ns (``NAT`` = missing) -> ``timedelta64[ns]`` Series."""
    out: pd.Series = pd.Series(np.asarray(values, dtype=np.int64).view("timedelta64[ns]"))
    return out


# ----------------------------------------------------------------------------
# stage_conversion
# ----------------------------------------------------------------------------
@takes_columns(renamed={"time": "entered"})
def stage_conversion(
    history: pd.DataFrame,
    stages: Sequence[Hashable],
    *,
    deal: str = "deal_id",
    stage: str = "stage",
    entered: str = "entered_at",
    policy: Policy = "furthest",
    by: Hashable | Sequence[Hashable] | None = None,
    deals: pd.DataFrame | None = None,
    closed: str = "closed_at",
    created: str = "created_at",
    status: str = "status",
    won: Any = "won",
    lost: Any = "lost",
    ci: float = 0.95,
    unknown: Unknown = "raise",
    errors: Literal["raise", "warn"] = "raise",
    as_of: Any = None,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Stage-to-stage conversion from a stage history.

    How many deals reached each stage, the share that went on from the
    previous stage and from the first, under one of three counting policies.

    Parameters
    ----------
    history : pandas.DataFrame
        Stage history: one row per stage entry of a deal.
    stages : list of str
        The pipeline stages in order.
    deal : str, default="deal_id"
        Column that identifies the deal.
    stage : str, default="stage"
        Column holding the stage name.
    entered : str, default="entered_at"
        Column of the stage history holding the time the deal entered the stage:
        datetime64 of any unit or time zone, or ISO 8601 strings (formerly ``time=``,
        which still works for one release with a FutureWarning).
    policy : {"furthest", "strict", "any"}, default="furthest"
        Which stages a deal counts at. ``"furthest"``: every stage up to the
        furthest it entered (robust to skipped stages and moves back);
        ``"strict"``: stages 1..k entered in this order, none skipped;
        ``"any"``: every stage it ever entered.
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    deals : pandas.DataFrame, optional
        Deal table (one row per deal) holding the ``by`` columns, joined on
        ``deal``. Every deal of the history needs a row. It is read by the deal
        reader of every deal function (the same checks and messages); its
        ``closed``, ``created`` and ``status`` columns are checked when present.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    created : str, default="created_at"
        Column holding the date the deal was created.
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    unknown : {"raise", "ignore"}, default="raise"
        What to do with history rows whose stage is not in ``stages``: raise an
        error listing them, or leave those rows out.
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory deals (closed before created; won or lost with
        no close date) and with history entries of deals that are not in ``deals``:
        raise InvalidDataError, or leave them out with a FunnelkitWarning.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per (group, stage), stages in the given order, with the
        ``by`` columns, then:

        - ``stage``: the stage name;
        - ``deals`` (int64): deals counted at the stage under ``policy``;
        - ``conversion`` (float64): ``deals`` / ``deals`` of the previous stage
          (1.0 at the first stage; NaN when the previous stage has none);
        - ``conversion_low``, ``conversion_high`` (float64): Wilson interval
          of ``conversion`` ([1, 1] at the first stage);
        - ``overall`` (float64): ``deals`` / ``deals`` of the first stage;
        - ``overall_low``, ``overall_high`` (float64): Wilson interval of
          ``overall``;
        - ``skipped`` (int64): deals counted at the stage without a recorded
          entry into it (only ``"furthest"`` counts such deals).

    Raises
    ------
    ColumnNotFoundError
        A keyword names a column that is not in the table.
    InvalidDataError
        Null ids, stages or times; unparseable times; a stage not in
        ``stages`` (with ``unknown="raise"``); a history deal missing from
        ``deals``; repeated deal ids in ``deals``.
    InvalidParameterError
        Bad ``stages``, ``policy``, ``ci`` or ``unknown``; ``by`` without ``deals``.

    See Also
    --------
    time_in_stage : Time deals spend in each stage.
    stalled : Open deals stuck in their stage.

    Notes
    -----
    A deal counts once per stage however often it re-entered it. For
    ``"furthest"`` and ``"strict"`` the deals counted at a stage are a subset
    of those at the previous stage, so ``conversion`` and ``overall`` are
    proportions with Wilson intervals. Under ``"any"`` a deal may enter a
    later stage without the earlier one, so the ratios can exceed 1; they are
    ratios of counts, and their interval columns are NaN. The first stage's
    ``conversion`` and ``overall`` are 1 by definition, with the exact
    interval [1, 1] (as in :func:`funnelkit.conversion`).

    ``"strict"`` follows the history in time order: a deal counts at stage k
    when it entered stage 1, then stage 2 at or after that, ..., then stage
    k (other entries, such as moves back, may come in between). Entries with
    equal times are taken in stage order.

    Deals present only in ``deals`` (no history row) are not counted.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> history = pd.DataFrame({
    ...     "deal_id": ["a", "a", "a", "b", "b", "c"],
    ...     "stage": ["lead", "demo", "offer", "lead", "offer", "lead"],
    ...     "entered_at": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-09",
    ...                                   "2025-01-02", "2025-01-04", "2025-01-03"]),
    ... })
    >>> res = fk.stage_conversion(history, ["lead", "demo", "offer"])
    >>> res[["stage", "deals", "conversion", "overall", "skipped"]]
      stage  deals  conversion   overall  skipped
    0  lead      3    1.000000  1.000000        0
    1  demo      2    0.666667  0.666667        1
    2 offer      2    1.000000  0.666667        0
    >>> fk.stage_conversion(history, ["lead", "demo", "offer"], policy="strict")["deals"].tolist()
    [3, 1, 1]
    >>> fk.stage_conversion(history, ["lead", "demo", "offer"], policy="any")["deals"].tolist()
    [3, 1, 2]
    """
    func = "stage_conversion"
    check_option(policy, ("furthest", "strict", "any"), name="policy", func=func)
    level = check_ci(ci, func=func)
    h = _read_history(
        history, stages, deal=deal, stage=stage, entered=entered, unknown=unknown, func=func
    )
    if as_of is not None:  # entries after as_of had not happened yet
        cutoff = _as_of_ns(as_of, h.tz, 0, func=func)
        seen = h.t <= cutoff
        h = _History(h.ids, h.deal[seen], h.stage[seen], h.t[seen], h.tz, h.stages)
    by_cols = as_list(by)
    if deals is not None:
        deals = _read_deal_table(
            deals,
            func=func,
            deal=deal,
            closed=closed,
            created=created,
            status=status,
            won=won,
            lost=lost,
            optional=("created", "closed", "status"),
            errors=errors,
        ).frame
        h, _ = _joined(h, deals, deal, errors=errors, func=func)
    gcode, keys = _groups(h.ids, deals, by_cols, deal, func=func)
    n_deals, n_stages, n_groups = len(h.ids), len(h.stages), len(keys)

    entered_m = kern.entered_matrix(h.deal, h.stage, n_deals, n_stages)
    if policy == "furthest":
        counted = kern.counted_furthest(entered_m)
    elif policy == "strict":
        counted = kern.counted_strict(h.deal, h.stage, h.t, n_deals, n_stages)
    else:
        counted = entered_m
    counts = np.zeros((n_groups, n_stages), dtype=np.int64)
    np.add.at(counts, gcode, counted.astype(np.int64))
    skipped = np.zeros((n_groups, n_stages), dtype=np.int64)
    np.add.at(skipped, gcode, (counted & ~entered_m).astype(np.int64))

    prev = np.concatenate([counts[:, :1], counts[:, :-1]], axis=1)
    first = np.repeat(counts[:, :1], n_stages, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        conv = np.where(prev > 0, counts / np.maximum(prev, 1), np.nan)
        overall = np.where(first > 0, counts / np.maximum(first, 1), np.nan)
    conv_lo, conv_hi = wilson_interval(counts, prev, level)
    all_lo, all_hi = wilson_interval(counts, first, level)
    # the first stage is 1 by definition: an exact [1, 1] (as conversion() gives)
    for arr in (conv_lo, conv_hi, all_lo, all_hi):
        arr[:, 0] = np.where(counts[:, 0] > 0, 1.0, np.nan)
        if policy == "any":
            arr[:] = np.nan

    return _assemble(
        keys,
        h.stages,
        {
            "deals": counts.ravel(),
            "conversion": conv.ravel().astype(np.float64),
            "conversion_low": conv_lo.ravel(),
            "conversion_high": conv_hi.ravel(),
            "overall": overall.ravel().astype(np.float64),
            "overall_low": all_lo.ravel(),
            "overall_high": all_hi.ravel(),
            "skipped": skipped.ravel(),
        },
    )


# ----------------------------------------------------------------------------
# stays (time_in_stage, stalled)
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Stays:
    h: _History
    stays: kern.Stays
    closed: IntArray  # closing ns per deal code, NS_MAX while open
    as_of: int
    deals: pd.DataFrame | None
    pos: IntArray | None  # row of each deal code in ``deals``


def _read_stays(
    history: Any,
    stages: Any,
    *,
    deals: Any,
    as_of: Any,
    deal: str,
    stage: str,
    entered: str,
    closed: str,
    amount: str | None,
    unknown: Any,
    func: str,
    status: str = "status",
    won: Any = "won",
    lost: Any = "lost",
    created: str = "created_at",
    errors: str = "raise",
) -> _Stays:
    h = _read_history(
        history, stages, deal=deal, stage=stage, entered=entered, unknown=unknown, func=func
    )
    deal_df: pd.DataFrame | None = None
    pos: IntArray | None = None
    created_ns = np.empty(0, dtype=np.int64)
    closed_ns = np.empty(0, dtype=np.int64)
    if deals is not None:
        d = _read_deal_table(
            deals,
            func=func,
            deal=deal,
            closed=closed,
            created=created,
            status=status,
            won=won,
            lost=lost,
            optional=("created", "status"),
            amount=amount,
            errors=errors,
        )
        deal_df, created_ns, closed_ns = d.frame, d.created, d.closed
        h, pos = _joined(h, deal_df, deal, errors=errors, func=func)
        _same_zone(h.tz, d.tz, what="history times and deals closing dates")
        # closing time of each history deal; NS_MAX while open (the deal reader's rule)
        ns = np.where(d.closed == DEAL_NAT, kern.NS_MAX, d.closed)
        close = ns[pos] if len(h.ids) else np.empty(0, dtype=np.int64)
    else:
        close = np.full(len(h.ids), kern.NS_MAX, dtype=np.int64)
    # every closed deal's close is an observation, with a history or not (the one rule)
    default = latest_observed(h.t, closed_ns, created_ns)
    cutoff = _as_of_ns(as_of, h.tz, default, func=func)
    after = h.t > cutoff
    if after.any():
        warn_dropped(
            int(after.sum()), int(h.t.size), "the deal entered the stage after as_of", func=func
        )
        keep = ~after
        h = _History(h.ids, h.deal[keep], h.stage[keep], h.t[keep], h.tz, h.stages)
    st = kern.stays(h.deal, h.stage, h.t, close, cutoff)
    return _Stays(h, st, close, cutoff, deal_df, pos)


@takes_columns(renamed={"time": "entered"})
def time_in_stage(
    history: pd.DataFrame,
    stages: Sequence[Hashable],
    *,
    as_of: Any = None,
    basis: Basis = "visits",
    by: Hashable | Sequence[Hashable] | None = None,
    deals: pd.DataFrame | None = None,
    deal: str = "deal_id",
    stage: str = "stage",
    entered: str = "entered_at",
    closed: str = "closed_at",
    created: str = "created_at",
    status: str = "status",
    won: Any = "won",
    lost: Any = "lost",
    unknown: Unknown = "raise",
    errors: Literal["raise", "warn"] = "raise",
    ci: float = 0.95,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Time deals spend in each stage, with open stays treated as censored.

    Parameters
    ----------
    history : pandas.DataFrame
        Stage history: one row per stage entry of a deal.
    stages : list of str
        The pipeline stages in order.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    basis : {"visits", "latest", "cumulative"}, default="visits"
        What one duration is: ``"visits"``: every stay (a re-entry is a
        separate visit); ``"latest"``: each deal's last stay in the stage;
        ``"cumulative"``: the sum of each deal's stays in the stage.
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    deals : pandas.DataFrame, optional
        Deal table (one row per deal): its ``closed`` dates end the last stay
        of closed deals, and it holds the ``by`` columns. Every deal of the
        history needs a row. With a ``status`` column, a deal is closed
        only when its status is ``won`` or ``lost`` (an open deal's close date is
        the CRM's expected date: ignored, with a warning); without one, a close
        date means closed.
    deal : str, default="deal_id"
        Column that identifies the deal.
    stage : str, default="stage"
        Column holding the stage name.
    entered : str, default="entered_at"
        Column of the stage history holding the time the deal entered the stage:
        datetime64 of any unit or time zone, or ISO 8601 strings (formerly ``time=``,
        which still works for one release with a FutureWarning).
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    created : str, default="created_at"
        Column holding the date the deal was created.
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    unknown : {"raise", "ignore"}, default="raise"
        What to do with history rows whose stage is not in ``stages``: raise an
        error listing them, or leave those rows out.
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory deals (closed before created; won or lost with
        no close date) and with history entries of deals that are not in ``deals``:
        raise InvalidDataError, or leave them out with a FunnelkitWarning.
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per (group, stage) with the ``by`` columns, then:

        - ``stage``: the stage name;
        - ``deals`` (int64): deals that entered the stage;
        - ``visits`` (int64): stays in the stage (re-entries counted separately);
        - ``closed`` (int64): durations (per ``basis``) that ended;
        - ``open`` (int64): durations still running at ``as_of`` (censored);
        - ``total_days`` (float64): time spent in the stage by all deals, in
          days, open stays counted up to ``as_of`` (a float: such sums can
          exceed the ~292 years a nanosecond Timedelta holds);
        - ``median`` (timedelta64[ns]): Kaplan–Meier median duration,
          open stays censored (NaT when fewer than half have ended);
        - ``median_low``, ``median_high`` (timedelta64[ns]): its ``ci``
          interval, where the upper and lower pointwise bounds of the
          Kaplan–Meier curve (Greenwood, log(-log)) cross one half
          (Brookmeyer and Crowley 1982; NaT where a bound never does);
        - ``naive_median`` (timedelta64[ns]): median of the ended durations
          only (biased short; for reconciliation with CRM reports).

    Raises
    ------
    ColumnNotFoundError
        A keyword names a column that is not in the table.
    InvalidDataError
        Null or unparseable values; a stage not in ``stages`` (with
        ``unknown="raise"``); a history deal missing from ``deals``.
    InvalidParameterError
        Bad ``stages``, ``basis``, ``as_of`` or ``unknown``; ``by`` without ``deals``.

    Warns
    -----
    FunnelkitWarning
        When history rows after ``as_of`` are left out.

    See Also
    --------
    stalled : Open deals whose current stay is unusually long.
    stage_conversion : How many deals reach each stage.

    Notes
    -----
    A stay starts when the deal enters a stage and ends when it enters
    another one. Consecutive entries into the same stage are one stay. The
    last stay of a deal ends when the deal closes (``deals[closed]`` at or
    after the entry and not after ``as_of``); otherwise, including a stage
    entered after closing (e.g. retention), it is open at ``as_of`` and
    censored. Without ``deals``, every deal's last stay is open.

    Dropping open stays would bias times short (the long ones are still
    running), so medians are Kaplan–Meier estimates: at each ended duration
    t, S(t) is multiplied by 1 - d/n (d stays ending at t, n stays lasting at
    least t); the median is the first t with S(t) <= 0.5.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> history = pd.DataFrame({
    ...     "deal_id": ["a", "a", "a", "b", "b", "c"],
    ...     "stage": ["lead", "demo", "lead", "lead", "demo", "lead"],
    ...     "entered_at": pd.to_datetime(["2025-01-01", "2025-01-03", "2025-01-04",
    ...                                   "2025-01-01", "2025-01-05", "2025-01-08"]),
    ... })
    >>> res = fk.time_in_stage(history, ["lead", "demo"], as_of="2025-01-10")
    >>> res[["stage", "deals", "visits", "closed", "open", "total_days", "median"]]
      stage  deals  visits  closed  open  total_days  median
    0  lead      3       4       2     2        14.0  4 days
    1  demo      2       2       1     1         6.0  1 days
    """
    func = "time_in_stage"
    cl = check_ci(ci, func=func)
    check_option(basis, ("visits", "latest", "cumulative"), name="basis", func=func)
    by_cols = as_list(by)
    s = _read_stays(
        history,
        stages,
        deals=deals,
        as_of=as_of,
        deal=deal,
        stage=stage,
        entered=entered,
        closed=closed,
        status=status,
        won=won,
        lost=lost,
        created=created,
        amount=None,
        unknown=unknown,
        func=func,
        errors=errors,
    )
    h, st = s.h, s.stays
    gcode, keys = _groups(h.ids, s.deals, by_cols, deal, func=func)
    n_stages, n_groups = len(h.stages), len(keys)
    size = n_groups * n_stages

    stay_key = gcode[st.deal] * n_stages + st.stage
    visits = np.bincount(stay_key, minlength=size).astype(np.int64)
    dur = st.end - st.start
    # in days, as a float: a sum of many stays can pass the ~292 years a
    # nanosecond timedelta64 holds
    total_days = np.bincount(stay_key, weights=dur / NS_PER_DAY, minlength=size)
    # the distinct (deal, stage) pairs, by marking a table of them (no sort, no hash)
    seen = np.zeros(max(len(h.ids), 1) * n_stages, dtype=bool)
    seen[st.deal * n_stages + st.stage] = True
    pair = np.flatnonzero(seen).astype(np.int64)
    n_entered = np.bincount(
        gcode[pair // n_stages] * n_stages + pair % n_stages, minlength=size
    ).astype(np.int64)

    u_deal, u_stage, u_dur, u_obs = kern.per_deal_stage(st, n_stages, basis)
    u_key = gcode[u_deal] * n_stages + u_stage
    n_closed = np.bincount(u_key[u_obs], minlength=size).astype(np.int64)
    n_open = np.bincount(u_key[~u_obs], minlength=size).astype(np.int64)

    median = np.full(size, NAT, dtype=np.int64)
    median_low = np.full(size, NAT, dtype=np.int64)
    median_high = np.full(size, NAT, dtype=np.int64)
    # few (group, stage) cells: a 16-bit key sorts by radix, in one pass per byte
    small = size <= np.iinfo(np.uint16).max
    order = np.argsort(u_key.astype(np.uint16) if small else u_key, kind="stable")
    bounds = np.searchsorted(u_key[order], np.arange(size + 1))
    for j in np.flatnonzero(np.diff(bounds) > 0):  # one Kaplan–Meier per (group, stage)
        idx = order[bounds[j] : bounds[j + 1]]
        m, m_low, m_high = kern.km_quantile_ns(u_dur[idx], u_obs[idx], 0.5, cl)
        for arr, v in ((median, m), (median_low, m_low), (median_high, m_high)):
            if v is not None:
                arr[j] = v
    naive = (
        pd.Series(u_dur[u_obs].view("timedelta64[ns]"))
        .groupby(u_key[u_obs])
        .median()
        .reindex(np.arange(size))
    )

    return _assemble(
        keys,
        h.stages,
        {
            "deals": n_entered,
            "visits": visits,
            "closed": n_closed,
            "open": n_open,
            "total_days": total_days.astype(np.float64),
            "median": _td(median),
            "median_low": _td(median_low),
            "median_high": _td(median_high),
            "naive_median": naive.to_numpy(dtype="timedelta64[ns]"),
        },
    )


# ----------------------------------------------------------------------------
# stalled
# ----------------------------------------------------------------------------
def _parse_threshold(threshold: Any, *, func: str) -> tuple[str, float]:
    """``("quantile", q)`` for ``"p90"``-style strings, else ``("fixed", ns)``."""
    expected = "a quantile like 'p90' or a non-negative duration like '30D'"
    if isinstance(threshold, str) and threshold[:1] in ("p", "P"):
        try:
            q = float(threshold[1:])
        except ValueError:
            raise param_error(func, "max_stay", expected, threshold) from None
        if not 0 < q < 100:
            raise param_error(func, "max_stay", expected, threshold)
        return "quantile", q / 100.0
    try:
        td = check_duration(threshold, name="max_stay", func=func, allow_none=False)
    except InvalidParameterError:
        raise param_error(func, "max_stay", expected, threshold) from None
    assert td is not None  # allow_none=False
    return "fixed", float(td.value)


@takes_columns(renamed={"time": "entered", "threshold": "max_stay"})
def stalled(
    history: pd.DataFrame,
    stages: Sequence[Hashable],
    *,
    as_of: Any = None,
    max_stay: str | pd.Timedelta = "p90",
    by: Hashable | Sequence[Hashable] | None = None,
    deals: pd.DataFrame | None = None,
    deal: str = "deal_id",
    stage: str = "stage",
    entered: str = "entered_at",
    closed: str = "closed_at",
    created: str = "created_at",
    status: str = "status",
    won: Any = "won",
    lost: Any = "lost",
    amount: str = "amount",
    unknown: Unknown = "raise",
    errors: Literal["raise", "warn"] = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Open deals stuck in their current stage longer than a threshold.

    Parameters
    ----------
    history : pandas.DataFrame
        Stage history: one row per stage entry of a deal.
    stages : list of str
        The pipeline stages in order.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    max_stay : str or pandas.Timedelta, default="p90"
        ``"pNN"``: the NN-th percentile of the stage's ended stays (data-driven,
        one threshold per stage, and per group with ``by``); or a fixed duration
        such as ``"30D"``.
    by : str or list of str, optional
        Column(s) of ``deals`` to group by: the group columns come first in the
        result, groups sorted, and a ``"pNN"`` threshold is measured within each
        group (a stay is judged against its own team's history).  Needs ``deals``.
    deals : pandas.DataFrame, optional
        Deal table (one row per deal): closed deals are left out, ``amount``
        gives the value at risk. Every deal of the history needs a row. With a
        ``status`` column, a deal is closed only when its status is ``won`` or
        ``lost`` (an open deal's close date is the CRM's expected date: ignored,
        with a warning); without one, a close date means closed.
    deal : str, default="deal_id"
        Column that identifies the deal.
    stage : str, default="stage"
        Column holding the stage name.
    entered : str, default="entered_at"
        Column of the stage history holding the time the deal entered the stage:
        datetime64 of any unit or time zone, or ISO 8601 strings (formerly ``time=``,
        which still works for one release with a FutureWarning).
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    created : str, default="created_at"
        Column holding the date the deal was created.
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    unknown : {"raise", "ignore"}, default="raise"
        What to do with history rows whose stage is not in ``stages``: raise an
        error listing them, or leave those rows out.
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory deals (closed before created; won or lost with
        no close date) and with history entries of deals that are not in ``deals``:
        raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per stalled deal, highest amount first (then longest
        over), with columns:

        - the ``by`` columns;
        - the deal id, named after the ``deal`` column;
        - ``stage``: its current stage;
        - when it entered that stage, named after the ``entered`` column;
        - ``time_in_stage`` (timedelta64[ns]): ``as_of`` - that entry time;
        - ``threshold`` (timedelta64[ns]): the stage's threshold;
        - ``over`` (timedelta64[ns]): ``time_in_stage`` - ``threshold``;
        - ``over_ratio`` (float64): ``time_in_stage`` / ``threshold``;
        - the deal's amount (float64), named after the ``amount`` column
          (NaN without ``deals``).

    Raises
    ------
    ColumnNotFoundError
        A keyword names a column that is not in the table.
    InvalidDataError
        Null or unparseable values; a stage not in ``stages``; a history
        deal missing from ``deals``; negative amounts.
    InvalidParameterError
        Bad ``stages``, ``max_stay``, ``as_of`` or ``unknown``.

    Warns
    -----
    FunnelkitWarning
        When history rows after ``as_of`` are left out.

    See Also
    --------
    time_in_stage : The distribution of stays per stage.

    Notes
    -----
    A deal is open when ``deals`` gives no closing date on or before
    ``as_of`` (without ``deals`` every deal is open). It is stalled when its
    current stay is strictly longer than the threshold. Percentile thresholds
    use the ended stays of that stage (numpy's linear quantile); a stage
    with no ended stay has no threshold, and its deals are not listed. Ended
    stays are a biased sample (open long stays are missing), so ``"p90"``
    is a pragmatic alarm level, not a survival estimate.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> history = pd.DataFrame({
    ...     "deal_id": ["a", "a", "b", "b", "c"],
    ...     "stage": ["lead", "demo", "lead", "demo", "lead"],
    ...     "entered_at": pd.to_datetime(["2025-01-01", "2025-01-03", "2025-01-01",
    ...                                   "2025-01-05", "2025-01-02"]),
    ... })
    >>> res = fk.stalled(history, ["lead", "demo"], as_of="2025-01-20", max_stay="10D")
    >>> res[["deal_id", "stage", "time_in_stage", "threshold", "over"]]
      deal_id stage time_in_stage threshold   over
    0       c  lead       18 days   10 days 8 days
    1       a  demo       17 days   10 days 7 days
    2       b  demo       15 days   10 days 5 days
    """
    func = "stalled"
    kind, value = _parse_threshold(max_stay, func=func)
    s = _read_stays(
        history,
        stages,
        deals=deals,
        as_of=as_of,
        deal=deal,
        stage=stage,
        entered=entered,
        closed=closed,
        status=status,
        won=won,
        lost=lost,
        created=created,
        amount=amount,
        unknown=unknown,
        func=func,
        errors=errors,
    )
    h, st = s.h, s.stays
    by_cols = as_list(by, func=func)
    gcode, keys = _groups(h.ids, s.deals, by_cols, deal, func=func)
    n_stages = len(h.stages)
    dur = st.end - st.start
    stay_cell = gcode[st.deal] * n_stages + st.stage  # (group, stage) of each stay
    limit = np.full(len(keys) * n_stages, NAT, dtype=np.int64)
    if kind == "fixed":
        limit[:] = int(value)
    else:
        done_cell, done_dur = stay_cell[st.observed], dur[st.observed]
        for k in np.unique(done_cell):  # one quantile per (group, stage): a handful
            limit[k] = int(np.round(np.quantile(done_dur[done_cell == k], value)))
    current = st.last & (s.closed[st.deal] > s.as_of)
    lim = limit[stay_cell]
    flagged = current & (lim != NAT) & (dur > lim)
    idx = np.flatnonzero(flagged)
    d_code = st.deal[idx]
    if s.deals is not None and s.pos is not None:
        amounts = as_amount(s.deals, amount, table="deals").to_numpy(dtype=np.float64)
        value_at_risk = amounts[s.pos[d_code]] if idx.size else np.empty(0)
    else:
        value_at_risk = np.full(idx.size, np.nan)
    time_in = dur[idx]
    limits = lim[idx]
    over = time_in - limits
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(limits > 0, time_in / np.where(limits > 0, limits, 1), np.inf)
    # groups in order; within one, highest value first (NaN last), then furthest over,
    # then deal id order
    vkey = np.where(np.isnan(value_at_risk), np.inf, -value_at_risk)
    order = np.lexsort((d_code, -over, vkey, gcode[d_code]))
    idx, d_code = idx[order], d_code[order]
    stage_names = np.array(h.stages, dtype=object)
    entered_at = pd.Series(st.start[idx].view("datetime64[ns]"))
    if h.tz is not None:
        entered_at = entered_at.dt.tz_localize("UTC").dt.tz_convert(h.tz)
    group_columns = {c: keys[c].iloc[gcode[d_code]].reset_index(drop=True) for c in by_cols}
    result: pd.DataFrame = pd.DataFrame(
        {
            **group_columns,
            deal: pd.Series(h.ids.to_numpy()[d_code] if idx.size else [], dtype=h.ids.dtype),
            "stage": pd.Series(stage_names[st.stage[idx]], dtype=object),
            entered: entered_at,
            "time_in_stage": _td(time_in[order]),
            "threshold": _td(limits[order]),
            "over": _td(over[order]),
            "over_ratio": ratio[order].astype(np.float64),
            amount: value_at_risk[order].astype(np.float64),
        }
    )
    return result


# ----------------------------------------------------------------------------
# lost deals and revival candidates
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Lost:
    """The lost deals of a deal table, with the stage each was lost at."""

    rows: IntArray  # row positions in deals
    lost_at: pd.Series  # object, NaN when unknown
    deals: pd.DataFrame
    arrays: DealArrays  # the deal table as the deal reader read it
    entries: HistoryEntries | None = None  # the history as the history reader read it
    paths: DealPaths | None = None  # per deal, from every entry (no as_of cut)


def _stage_words(names: list[Hashable], depth: int) -> str:
    """The stage reached and its place, "negotiation (5 of 6)" (depth -1: unknown)."""
    if depth < 0:
        return f"an unknown stage (? of {len(names)})"
    return f"{names[depth]} ({depth + 1} of {len(names)})"


def _lost_stage(
    deals: Any,
    history: Any,
    *,
    deal: str,
    stage: str,
    entered: str,
    status: str,
    won: Any,
    lost: Any,
    closed: str,
    created: str,
    amount: str,
    lost_reason: str,
    need_closed: bool,
    func: str,
    stages: list[Hashable] | None = None,
    errors: str = "raise",
) -> _Lost:
    """Find the lost deals and the stage each was lost at."""
    columns: dict[str, Hashable | None] = {"lost_reason": lost_reason}
    if history is None:
        columns["stage"] = stage
    # the close date is needed to place a loss in the history or before as_of
    closed_needed = need_closed or history is not None
    d = _read_deal_table(
        deals,
        func=func,
        deal=deal,
        closed=closed,
        created=created,
        status=status,
        won=won,
        lost=lost,
        optional=("created",) if closed_needed else ("created", "closed"),
        amount=amount,
        columns=columns,
        errors=errors,
    )
    df = d.frame
    rows = np.flatnonzero(d.outcome == LOST).astype(np.int64)
    fallback = (
        df[stage].to_numpy(dtype=object)[rows]
        if stage in df.columns
        else np.full(rows.size, np.nan, dtype=object)
    )
    if history is None:
        return _Lost(rows, pd.Series(fallback, dtype=object), df, d)
    entries = read_history(
        history,
        df[deal].to_numpy(),
        deal=deal,
        stage=stage,
        entered=entered,
        errors=errors,
        func=func,
    )
    close_s = as_datetime(df, closed, table="deals", keyword="closed")
    _same_zone(entries.tz, time_zone(close_s), what="history times and deals closing dates")
    # the stage of each lost deal's last entry at or before its close (ties by stage order)
    paths = deal_paths(
        entries,
        [] if stages is None else stages,
        n_deals=len(df),
        as_of=kern.NS_MAX,
        closed=datetime_to_ns(close_s),
        table_stage=df[stage].to_numpy(dtype=object) if stage in df.columns else None,
    )
    lost_at = paths.last_before_close[rows]
    return _Lost(rows, pd.Series(lost_at, dtype=object), df, d, entries, paths)


def _stage_order(values: pd.Series, stages: list[Hashable] | None, counts: pd.Series) -> Any:
    """Sort key for stage names: position in ``stages``, then most lost first."""
    if stages is None:
        return -counts.to_numpy(dtype=np.float64)
    pos = pd.Index(stages).get_indexer(values.to_numpy(dtype=object)).astype(np.float64)
    pos[pos < 0] = len(stages) + 1
    return pos


@takes_columns(renamed={"time": "entered"}, moved_positional=("history",))
def lost_deals(
    deals: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    stages: Sequence[Hashable] | None = None,
    deal: str = "deal_id",
    stage: str = "stage",
    entered: str = "entered_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    closed: str = "closed_at",
    created: str = "created_at",
    lost_reason: str = "lost_reason",
    as_of: Any = None,
    by: Hashable | Sequence[Hashable] | None = None,
    errors: Literal["raise", "warn"] = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Where and why deals are lost: lost deals by stage lost at × reason.

    Parameters
    ----------
    deals : pandas.DataFrame
        Deal table, one row per deal.
    history : pandas.DataFrame, optional
        Stage history: one row per stage entry of a deal. When given, the
        stage a deal was lost at is the last stage it entered on or before its
        closing date.
    stages : list of str, optional
        The pipeline stages in order, to order the result. Default: stages
        with the most lost deals first.
    deal : str, default="deal_id"
        Column that identifies the deal.
    stage : str, default="stage"
        Column holding the stage name.
    entered : str, default="entered_at"
        Column of the stage history holding the time the deal entered the stage:
        datetime64 of any unit or time zone, or ISO 8601 strings (formerly ``time=``,
        which still works for one release with a FutureWarning).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    created : str, default="created_at"
        Column holding the date the deal was created.
    lost_reason : str, default="lost_reason"
        Column of ``deals`` holding why the deal was lost.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    by : str or list of str, optional
        Column(s) of ``deals`` to group by; one result block per group, groups sorted. Missing
        values form their own group.  Shares are within each group.
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory deals (closed before created; won or lost with
        no close date) and with history entries of deals that are not in ``deals``:
        raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per (group, stage lost at, reason), groups sorted, stages in
        order, then reasons with the most deals first; missing stages or
        reasons form their own group (NaN), placed last. Columns:

        - the ``by`` columns;
        - ``stage``: stage the deal was lost at;
        - ``lost_reason``: the reason recorded;
        - ``deals`` (int64): lost deals;
        - ``value`` (float64): the total ``amount`` of those that have one;
        - ``no_amount`` (int64): lost deals without an amount (in ``deals``,
          not in ``value``);
        - ``share`` (float64): ``deals`` / all lost deals of the group;
        - ``stage_share`` (float64): ``deals`` / lost deals at this stage;
        - ``value_share`` (float64): ``value`` / value of all lost deals of
          the group.

    Raises
    ------
    ColumnNotFoundError
        A keyword names a column that is not in the table.
    InvalidDataError
        Null or repeated deal ids; bad times or amounts.
    InvalidParameterError
        Bad ``stages``.

    See Also
    --------
    revival_candidates : Lost deals worth another try.

    Notes
    -----
    Without ``history``, or for a lost deal with no history row on or before
    its closing date, the stage lost at is the deal table's ``stage`` (when
    that column exists; NaN otherwise). Shares use all lost deals as the
    denominator, so they sum to 1.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3, 4, 5],
    ...     "status": ["lost", "lost", "won", "lost", "open"],
    ...     "stage": ["demo", "offer", "offer", "demo", "lead"],
    ...     "amount": [100.0, 300.0, 500.0, 100.0, 50.0],
    ...     "lost_reason": ["budget", "price", None, "budget", None],
    ... })
    >>> fk.lost_deals(deals, stages=["lead", "demo", "offer"]).drop(columns="no_amount")
       stage lost_reason  deals  value     share  stage_share  value_share
    0   demo      budget      2  200.0  0.666667          1.0          0.4
    1  offer       price      1  300.0  0.333333          1.0          0.6
    """
    func = "lost_deals"
    order_stages = None if stages is None else _check_stages(stages, func=func)
    info = _lost_stage(
        deals,
        history,
        deal=deal,
        stage=stage,
        entered=entered,
        status=status,
        won=won,
        lost=lost,
        closed=closed,
        created=created,
        amount=amount,
        lost_reason=lost_reason,
        need_closed=as_of is not None,
        errors=errors,
        func=func,
        stages=order_stages,
    )
    if as_of is not None:  # a deal lost after as_of was still open then
        close_s = as_datetime(info.deals, closed, table="deals", keyword="closed")
        cutoff = _as_of_ns(as_of, time_zone(close_s), 0, func=func)
        close = datetime_to_ns(close_s)[info.rows]
        by_then = (close == NAT) | (close <= cutoff)
        info = replace(
            info, rows=info.rows[by_then], lost_at=info.lost_at[by_then].reset_index(drop=True)
        )
    df = info.deals
    by_cols = as_list(by)
    for c in by_cols:
        require_columns(df, {"by": c}, table="deals")
    amounts = as_amount(df, amount, table="deals").to_numpy(dtype=np.float64)[info.rows]
    unknown = np.isnan(amounts)  # counted in deals, not in value: see no_amount
    frame = pd.DataFrame(
        {
            **{c: df[c].to_numpy()[info.rows] for c in by_cols},
            "stage": info.lost_at.to_numpy(dtype=object),
            "lost_reason": df[lost_reason].to_numpy(dtype=object)[info.rows],
            "value": amounts,
            "no_amount": unknown.astype(np.int64),
        }
    )
    keys = [*by_cols, "stage", "lost_reason"]
    out = (
        frame.groupby(keys, dropna=False, sort=False)
        .agg(deals=("value", "size"), value=("value", "sum"), no_amount=("no_amount", "sum"))
        .reset_index()
    )
    group = (
        out.groupby(by_cols, dropna=False, sort=True).ngroup().to_numpy()
        if by_cols
        else np.zeros(len(out), dtype=np.int64)
    )
    in_group = [pd.Series(group, index=out.index)]
    stage_total = out.groupby([*in_group, "stage"], dropna=False, sort=False)["deals"].transform(
        "sum"
    )
    stage_key = _stage_order(out["stage"], order_stages, stage_total)
    na_stage = out["stage"].isna().to_numpy()
    na_reason = out["lost_reason"].isna().to_numpy()
    names = np.where(na_stage, "", out["stage"].to_numpy(dtype=object)).astype(str)
    reasons = np.where(na_reason, "", out["lost_reason"].to_numpy(dtype=object)).astype(str)
    order = np.lexsort(
        (reasons, na_reason, -out["deals"].to_numpy(), names, stage_key, na_stage, group)
    )
    out = out.iloc[order].reset_index(drop=True)
    group = group[order]
    g = pd.Series(group)
    out["deals"] = out["deals"].astype(np.int64)
    out["value"] = out["value"].astype(np.float64)
    out["no_amount"] = out["no_amount"].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_lost = out.groupby(g)["deals"].transform("sum").to_numpy(dtype=np.float64)
        total_value = out.groupby(g)["value"].transform("sum").to_numpy(dtype=np.float64)
        per_stage = out.groupby([g, out["stage"]], dropna=False)["deals"].transform("sum")
        out["share"] = (out["deals"] / n_lost).astype(np.float64)
        out["stage_share"] = (out["deals"] / per_stage).astype(np.float64)
        out["value_share"] = np.where(total_value > 0, out["value"] / total_value, np.nan)
    out["value_share"] = out["value_share"].astype(np.float64)
    shown = [
        *by_cols,
        "stage",
        "lost_reason",
        "deals",
        "value",
        "no_amount",
        "share",
        "stage_share",
        "value_share",
    ]
    result: pd.DataFrame = out[shown]
    return result


@takes_columns(renamed={"time": "entered"}, moved_positional=("history",))
def revival_candidates(
    deals: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    stages: Sequence[Hashable],
    as_of: Any = None,
    reasons: Sequence[Any] | None = None,
    min_age: str | pd.Timedelta | None = None,
    top: int | None = None,
    by: Hashable | Sequence[Hashable] | None = None,
    deal: str = "deal_id",
    stage: str = "stage",
    entered: str = "entered_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    closed: str = "closed_at",
    created: str = "created_at",
    lost_reason: str = "lost_reason",
    errors: Literal["raise", "warn"] = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Lost deals worth another try, ranked.

    A candidate was lost for a recoverable reason, long enough ago; the list
    puts deals that got furthest first, then the most valuable.

    Parameters
    ----------
    deals : pandas.DataFrame
        Deal table, one row per deal.
    history : pandas.DataFrame, optional
        Stage history: one row per stage entry of a deal. When given, the
        furthest stage reached is the furthest of the history's entries by
        ``as_of`` and the deal table's ``stage`` (as in
        :func:`deal_entities`).
    stages : list of str
        The pipeline stages in order (later = closer to a sale).
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    reasons : list of str, optional
        Lost reasons counted as recoverable (compared case-insensitively).
        Default: ``("timing", "budget", "no budget", "no decision")``.
    min_age : str or pandas.Timedelta, optional
        Only deals lost at least this long before ``as_of`` (e.g. ``"90D"``).
        Default: no minimum.
    top : int, optional
        Keep only the first ``top`` candidates.
    by : str or list of str, optional
        Column(s) to group by: the group columns come first, groups sorted, each
        group ranked on its own (``top`` keeps the first ones of each group).
    deal : str, default="deal_id"
        Column that identifies the deal.
    stage : str, default="stage"
        Column holding the stage name.
    entered : str, default="entered_at"
        Column of the stage history holding the time the deal entered the stage:
        datetime64 of any unit or time zone, or ISO 8601 strings (formerly ``time=``,
        which still works for one release with a FutureWarning).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    created : str, default="created_at"
        Column holding the date the deal was created.
    lost_reason : str, default="lost_reason"
        Column of ``deals`` holding why the deal was lost.
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory deals (closed before created; won or lost with
        no close date) and with history entries of deals that are not in ``deals``:
        raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first, with columns:

        - ``rank`` (int64): 1 = best;
        - the deal id, named after the ``deal`` column;
        - ``furthest_stage``: furthest stage the deal reached;
        - ``stage_number`` (int64): its position in ``stages`` (1 = first;
          0 when the deal's stages are not in ``stages``);
        - ``lost_at``: the stage it was lost at;
        - ``lost_reason``: the (recoverable) reason;
        - the deal value (float64), named after the ``amount`` column;
        - when it was lost, named after the ``closed`` column;
        - ``age`` (timedelta64[ns]): ``as_of`` - the close;
        - ``why`` (str): the reasons it is listed, in words.

    Raises
    ------
    ColumnNotFoundError
        A keyword names a column that is not in the table.
    InvalidDataError
        Null or repeated deal ids; bad times or amounts.
    InvalidParameterError
        Bad ``stages``, ``reasons``, ``min_age``, ``top`` or ``as_of``.

    See Also
    --------
    lost_deals : Where and why deals are lost.

    Notes
    -----
    Ranking is lexicographic, so each position is explainable: furthest
    stage reached (later first), then ``amount`` (higher first; missing
    last), then age (older first), then deal id. Deals whose furthest stage
    is not in ``stages`` rank below those whose stage is known.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": ["a", "b", "c", "d"],
    ...     "status": ["lost", "lost", "lost", "won"],
    ...     "stage": ["offer", "demo", "offer", "offer"],
    ...     "amount": [100.0, 900.0, 300.0, 50.0],
    ...     "lost_reason": ["Budget", "timing", "competitor", None],
    ...     "closed_at": pd.to_datetime(["2025-01-10", "2025-03-01", "2025-02-01",
    ...                                  "2025-02-01"]),
    ... })
    >>> res = fk.revival_candidates(deals, stages=["lead", "demo", "offer"], as_of="2025-04-01")
    >>> res[["rank", "deal_id", "furthest_stage", "lost_reason", "amount", "age"]]
       rank deal_id furthest_stage lost_reason  amount     age
    0     1    a          offer      Budget   100.0 81 days
    1     2    b           demo      timing   900.0 31 days
    >>> print(res["why"][0])
    reached offer (3 of 3); lost for 'Budget' (recoverable); lost 81 days ago; value 100
    """
    func = "revival_candidates"
    names = _check_stages(stages, func=func)
    if reasons is None:
        wanted = list(RECOVERABLE_REASONS)
    elif isinstance(reasons, str) or not isinstance(reasons, Sequence | set | frozenset):
        raise param_error(func, "reasons", "a list of lost reasons or None", reasons)
    else:
        wanted = list(reasons)
    min_td = check_duration(min_age, name="min_age", func=func)
    if top is not None:
        check_positive(top, name="top", func=func, integer=True)
    info = _lost_stage(
        deals,
        history,
        deal=deal,
        stage=stage,
        entered=entered,
        status=status,
        won=won,
        lost=lost,
        closed=closed,
        created=created,
        amount=amount,
        lost_reason=lost_reason,
        need_closed=True,
        errors=errors,
        func=func,
        stages=names,
    )
    df = info.deals
    rows = info.rows
    n_stages = len(names)

    # the observation date: creation dates, close dates of closed deals only (an open
    # deal's date in closed= is the CRM's expected close date) and the history entries
    close, tz = info.arrays.closed, info.arrays.tz
    close_s = as_datetime(df, closed, table="deals", keyword="closed")
    h_t = np.empty(0, dtype=np.int64) if info.entries is None else info.entries.t
    default = latest_observed(close, info.arrays.created, h_t)
    cutoff = _as_of_ns(as_of, tz, default, func=func)
    # furthest stage at as_of: the deal table's stage and the history entries by then
    # (the one per-deal path of deal_entities; later entries did not exist yet). With no
    # entry after as_of, the paths the lost stages came from are those paths already.
    paths = info.paths
    if paths is None or info.entries is None or bool((info.entries.t > cutoff).any()):
        depth = furthest_stage(
            info.entries,
            names,
            rows=rows,
            n_deals=len(df),
            as_of=cutoff,
            table_stage=df[stage].to_numpy(dtype=object) if stage in df.columns else None,
        )
    else:
        depth = paths.furthest[rows]
    close = close[rows]
    # a deal lost after as_of was not lost yet at as_of
    not_yet = (close != NAT) & (close > cutoff)
    age = np.where(close == NAT, NAT, cutoff - close)

    reason_values = df[lost_reason].to_numpy(dtype=object)[rows]
    # a handful of distinct reasons: normalise those, not every deal's
    reason_code, reason_uniq = pd.factorize(pd.Series(reason_values, dtype=object))
    norm = pd.Series(reason_uniq, dtype=object).astype("string").str.strip().str.lower()
    wanted_norm = {str(r).strip().lower() for r in wanted}
    is_wanted = np.r_[norm.isin(wanted_norm).fillna(False).to_numpy(dtype=bool), False]
    keep = is_wanted[reason_code] & ~not_yet  # code -1 (missing reason): the False
    if min_td is not None:
        # no in-place &=: under copy-on-write (pandas 3) to_numpy() may be read-only
        keep = keep & (age != NAT) & (age >= min_td.value)
    amounts = as_amount(df, amount, table="deals").to_numpy(dtype=np.float64)[rows]

    sel = np.flatnonzero(keep)
    d_depth, d_amount, d_age = depth[sel], amounts[sel], age[sel]
    ids = df[deal].to_numpy()[rows][sel]
    # last tie-break: deal id order (ids of mixed types: first appearance); numbers
    # order themselves (no objects made of them)
    id_key: Any
    if ids.dtype.kind in "iuf":
        id_key = ids
    else:
        try:
            id_key = pd.factorize(pd.Series(ids, dtype=object), sort=True)[0]
        except TypeError:
            id_key = pd.factorize(pd.Series(ids, dtype=object))[0]
    by_cols = as_list(by, func=func)
    for c in by_cols:
        require_columns(df, {"by": c}, table="deals")
    if by_cols:
        group = group_codes(df.iloc[rows[sel]], by_cols)[0]  # missing values: a group
    else:
        group = np.zeros(sel.size, dtype=np.int64)
    order = np.lexsort(
        (
            id_key,
            -np.where(d_age == NAT, np.iinfo(np.int64).min + 1, d_age).astype(np.float64),
            np.where(np.isnan(d_amount), np.inf, -d_amount),
            -d_depth,
            group,
        )
    )
    # rank within each group (groups in order); top= keeps the first ones of each
    g_sorted = group[order]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]]) if order.size else order
    rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
    if top is not None:
        order, rank = order[rank < int(top)], rank[rank < int(top)]
    sel, d_depth, d_amount, d_age = sel[order], d_depth[order], d_amount[order], d_age[order]
    stage_names = np.array([*names, np.nan], dtype=object)
    furthest = stage_names[np.where(d_depth >= 0, d_depth, n_stages)]
    closed_vals = close_s.iloc[rows[sel]].reset_index(drop=True)
    age_s = _td(d_age)
    days = (age_s / pd.Timedelta(days=1)).round().astype("Int64").astype("string")
    # the words before the age depend on (stage reached, reason) only: a few distinct
    # pairs, written once each
    n_codes = len(reason_uniq) + 1
    pair = (d_depth + 1) * n_codes + (reason_code[sel] + 1)
    pairs, pair_code = np.unique(pair, return_inverse=True)
    reason_names: np.ndarray[Any, Any] = np.array([np.nan, *reason_uniq], dtype=object)
    prefix = np.array(
        [
            f"reached {_stage_words(names, int(p // n_codes) - 1)}; lost for "
            f"'{reason_names[int(p % n_codes)]}' (recoverable); lost "
            for p in pairs
        ],
        dtype=object,
    )
    # whole amounts repeat: each distinct one is written once (np.round and format both
    # round half to even on the float's exact value, so the words are the same)
    whole, which = np.unique(np.round(d_amount), return_inverse=True)
    words = np.array(["{:,.0f}".format(x) for x in whole], dtype=object)  # noqa: UP032
    value_words = np.where(np.isnan(d_amount), "unknown", words[which.reshape(-1)]).astype(object)
    # object arrays add element by element in C (no per-row Python)
    why = (
        prefix[pair_code.reshape(-1)]
        + days.fillna("?").to_numpy(dtype=object)
        + " days ago; value "
        + value_words
    )
    result: pd.DataFrame = pd.DataFrame(
        {
            **{c: df[c].iloc[rows[sel]].reset_index(drop=True) for c in by_cols},
            "rank": (rank + 1).astype(np.int64),
            deal: pd.Series(ids[order], dtype=df[deal].dtype),
            "furthest_stage": pd.Series(furthest, dtype=object),
            "stage_number": np.where(d_depth >= 0, d_depth + 1, 0).astype(np.int64),
            "lost_at": pd.Series(info.lost_at.to_numpy(dtype=object)[sel], dtype=object),
            "lost_reason": pd.Series(reason_values[sel], dtype=object),
            amount: d_amount.astype(np.float64),
            closed: closed_vals,
            "age": age_s,
            "why": pd.Series(why, dtype=object),
        }
    )
    return result
