"""Deal pipeline metrics: pipeline, win rate, deal size, sales cycle, velocity, ...

Every function takes a deal table (one row per deal: created and closed
dates, status, amount, stage, owner, channel) and returns a tidy DataFrame.
Open deals are never thrown away: the censoring-aware estimators treat them
as right-censored at ``as_of``.  Definitions: ``docs/deals.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from funnelkit._deals_validate import (
    LOST,
    NAT,
    OPEN,
    WON,
    DealArrays,
    currency_column,
    drop_unusable,
    group_codes,
    group_targets,
    read_deals,
    to_timedelta,
    with_keys,
)
from funnelkit._group_stats import (
    QUANTILES,
    beta_binomial_prior,
    grouped_count,
    grouped_mean,
    grouped_quantiles,
    grouped_sum,
)
from funnelkit._history import HistoryEntries, deal_paths, read_history, stage_win_counts
from funnelkit._stats import wilson_interval
from funnelkit._survival import (
    aalen_johansen,
    conditional_quantile,
    conditional_quantile_interval,
)
from funnelkit._validate import (
    as_amount,
    as_list,
    check_ci,
    check_date,
    check_frame,
    check_option,
    check_positive,
    ns_to_datetime,
    param_error,
    require_columns,
    timestamp_ns,
    warn_dropped,
)
from funnelkit.columns import Columns, takes_columns
from funnelkit.errors import ColumnNotFoundError, InvalidDataError, InvalidParameterError

__all__ = [
    "channel_yield",
    "coverage",
    "deal_entities",
    "deal_size",
    "leaderboard",
    "pipeline",
    "sales_cycle",
    "sales_velocity",
    "win_curve",
    "win_rate",
]

By = Hashable | Sequence[Hashable] | None
DateLike = pd.Timestamp | str | None
Errors = Literal["raise", "warn"]
DAY_NS = 86_400 * 10**9


# ----------------------------------------------------------------------------
# shared pieces
# ----------------------------------------------------------------------------
def _outcome_mask(d: DealArrays, outcome: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
    codes = {"won": [WON], "lost": [LOST], "open": [OPEN], "closed": [WON, LOST]}[outcome]
    return np.isin(d.outcome, codes)


def _need_as_of(d: DealArrays, *, func: str) -> None:
    if d.as_of == NAT and len(d.outcome):
        msg = (
            f"{func}: the deals have no created or closed dates, so there is no observation "
            f"date. Pass as_of= explicitly."
        )
        raise InvalidDataError(msg, column=None, reason="no_dates", n_rows=len(d.frame))


def _drop_amount_na(d: DealArrays, rows: Any, what: str, *, func: str) -> DealArrays:
    """Leave out the rows in ``rows`` whose amount is missing (with a warning)."""
    amounts = d.amount if d.amount is not None else np.zeros(len(d.outcome))
    mask = rows & np.isnan(amounts)
    return drop_unusable(d, mask, f"{what} have no amount", func=func)


def _durations(d: DealArrays) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Created -> closed (closed deals) or -> as_of (open deals), int ns."""
    end = np.where(d.outcome == OPEN, d.as_of, d.closed)
    return (end - d.created).astype(np.int64)


def _split_by_group(codes: Any, n_groups: int) -> list[np.ndarray[Any, np.dtype[np.intp]]]:
    """Row positions of each group (one stable sort, no scan per group)."""
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=n_groups))[:-1]
    return list(np.split(order, bounds))


def _cycle_table(
    d: DealArrays, outcome: str, ci: float = 0.95
) -> tuple[dict[str, Any], np.ndarray[Any, np.dtype[np.float64]]]:
    """Measures of :func:`sales_cycle` per group, and the censoring-aware median in ns."""
    g = d.n_groups
    dur = _durations(d)
    if outcome == "closed":
        events = (d.outcome != OPEN).astype(np.int64)
        k = 1
    else:
        events = d.outcome
        k = WON if outcome == "won" else LOST
    hit = events == k
    other = (events != k) & (events != 0)
    naive = grouped_quantiles(d.codes[hit], dur[hit], g, list(QUANTILES.values()))
    adjusted = np.full(g, np.nan)
    low = np.full(g, np.nan)
    high = np.full(g, np.nan)
    for gi, rows in enumerate(_split_by_group(d.codes, g)):
        if rows.size:
            t, f, f_lo, f_hi, *_ = aalen_johansen(dur[rows], events[rows], k, ci)
            adjusted[gi] = conditional_quantile(t, f, 0.5)
            low[gi], high[gi] = conditional_quantile_interval(t, f, f_lo, f_hi, 0.5)
    measures = {
        "deals": grouped_count(d.codes[hit], g),
        "other_outcome": grouped_count(d.codes[other], g),
        "open": grouped_count(d.codes[events == 0], g),
        "median": to_timedelta(adjusted),
        "median_low": to_timedelta(low),
        "median_high": to_timedelta(high),
        "naive_mean": to_timedelta(grouped_mean(d.codes[hit], dur[hit], g)),
        **{f"naive_{q}": to_timedelta(naive[:, i]) for i, q in enumerate(QUANTILES)},
    }
    return measures, adjusted


def _rate(k: Any, n: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, k / n, np.nan)


def _stage_order(
    stages: Sequence[Any] | None,
    table_stage: np.ndarray[Any, np.dtype[np.object_]],
    entries: HistoryEntries | None,
    *,
    func: str,
) -> list[Any]:
    """The given stages (distinct), else every stage seen in the deal table and history, sorted."""
    if stages is not None:
        order = list(stages)
        if len(set(order)) != len(order):
            raise param_error(func, "stages", "a list of distinct stage names", stages)
        return order
    seen = np.concatenate([table_stage] + ([] if entries is None else [entries.stage]))
    return sorted(pd.unique(seen[pd.notna(seen)]).tolist(), key=str)


# ----------------------------------------------------------------------------
# the per-deal table
# ----------------------------------------------------------------------------
@takes_columns(renamed={"time": "entered"}, moved_positional=("history",))
def deal_entities(
    deals: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    stages: Sequence[Hashable] | None = None,
    as_of: DateLike = None,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    stage: str = "stage",
    entered: str = "entered_at",
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """One row per deal, as it stood at ``as_of``: the table every deal metric aggregates.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table, one row per deal.
    history : pandas.DataFrame, optional
        Stage history, one row per stage entry (columns ``deal``, ``stage`` and
        ``entered``); its deal ids must be deal ids of ``deals``.
    stages : list, optional
        The stages in funnel order: needed for the furthest stage and the
        entry time of each stage.  Default: the stages of the deal table and
        the history, sorted (then ``furthest_stage`` follows that order).
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    stage : str, default="stage"
        Column holding the stage name.
    entered : str, default="entered_at"
        Column of the stage history holding the time the deal entered the stage:
        datetime64 of any unit or time zone, or ISO 8601 strings (formerly ``time=``,
        which still works for one release with a FutureWarning).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per deal existing at ``as_of``, in input order: the deal table's
        columns (``status`` replaced by the status at ``as_of``: ``"won"``,
        ``"lost"`` or ``"open"``; ``closed`` NaT for deals open at ``as_of``),
        then ``furthest_stage`` (the furthest stage of ``stages`` reached in
        the history or the deal table's ``stage``), ``current_stage`` (the
        stage of the last entry by ``as_of``, else the deal table's stage),
        ``lost_at`` (lost deals: the stage of the last entry at or before the
        close), ``entered_<stage>`` (first entry into each stage, NaT when
        never), ``cycle`` (timedelta64[ns]: created to closed, or to ``as_of``
        while open), ``censored`` (bool: still open at ``as_of``) and
        ``win_probability`` (float64: 1 for won deals, 0 for lost ones; an
        open deal gets its current stage's win probability as
        :func:`funnelkit.pipeline` gives it — the share won among the closed
        deals that reached that stage or a later one — NaN without a history).
        The open rows can go straight to
        ``target_probability(open_deals=..., probability="win_probability")``.

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals`` or ``history``.
    InvalidDataError
        Duplicated or null deal ids, unparseable dates or amounts, history ids
        that do not join the deals, contradictory rows (unless
        ``errors="warn"``).

    See Also
    --------
    funnel_entities : The per-entity table of an event funnel.
    pipeline, lost_deals : Aggregates of this table.

    Notes
    -----
    Same-instant history entries are ordered by stage order, so no column
    depends on the order of the rows.  Deals created after ``as_of`` are left
    out; deals closed after it are open.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3],
    ...     "created_at": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-02"]),
    ...     "closed_at": pd.to_datetime(["2025-02-01", None, "2025-01-20"]),
    ...     "status": ["lost", "open", "won"],
    ...     "amount": [100.0, 50.0, 80.0],
    ...     "stage": ["demo", "lead", "demo"],
    ... })
    >>> history = pd.DataFrame({
    ...     "deal_id": [1, 1, 2, 3],
    ...     "stage": ["lead", "demo", "lead", "lead"],
    ...     "entered_at": pd.to_datetime(["2025-01-01", "2025-01-10", "2025-01-05",
    ...                                   "2025-01-02"]),
    ... })
    >>> per = fk.deal_entities(deals, history=history, stages=["lead", "demo"], as_of="2025-02-10")
    >>> per[["deal_id", "status", "furthest_stage", "current_stage", "lost_at", "cycle"]]
       deal_id status furthest_stage current_stage lost_at   cycle
    0        1   lost           demo          demo    demo 31 days
    1        2   open           lead          lead     NaN 36 days
    2        3    won           demo          lead     NaN 18 days
    """
    func = "deal_entities"
    raw = check_frame(deals, table="deals", func=func)
    require_columns(raw, {"deal": deal, "stage": stage}, table="deals")
    entries = None
    if history is not None:
        entries = read_history(
            history,
            raw[deal],
            deal=deal,
            stage=stage,
            entered=entered,
            errors=errors,
            func=func,
        )
    d = read_deals(
        raw,
        func=func,
        deal=deal,
        created=created,
        closed=closed,
        status=status,
        won=won,
        lost=lost,
        errors=errors,
        amount=amount if amount in raw.columns else None,
        as_of=as_of,
        observed=NAT if entries is None else entries.latest,
    )
    table_stage = d.frame[stage].to_numpy(dtype=object)
    order = _stage_order(stages, table_stage, entries, func=func)
    if entries is not None:
        entries = entries.restrict(d.rows, len(raw))
    paths = deal_paths(
        entries,
        order,
        n_deals=len(d.outcome),
        as_of=d.as_of,
        closed=d.closed,
        table_stage=table_stage,
    )
    names = np.array([*order, np.nan], dtype=object)
    # the reader's frame is already the deals' own copy (a selection of rows): a
    # shallow copy gets the new index and columns (assigning a column replaces it,
    # never writes into the shared data), no third copy of every column
    out = d.frame.copy(deep=False)
    out.index = pd.RangeIndex(len(out))
    out[status] = np.array(["open", "won", "lost"], dtype=object)[d.outcome]
    out[closed] = ns_to_datetime(d.closed, d.tz).to_numpy()
    out["furthest_stage"] = names[np.where(paths.furthest >= 0, paths.furthest, len(order))]
    out["current_stage"] = paths.current
    out["lost_at"] = np.where(d.outcome == LOST, paths.last_before_close, np.nan)
    for k, name in enumerate(order):
        out[f"entered_{name}"] = ns_to_datetime(paths.entry[:, k], entries.tz if entries else d.tz)
    cycle = np.where(d.created == NAT, np.nan, _durations(d).astype(np.float64))
    out["cycle"] = to_timedelta(cycle)
    out["censored"] = d.outcome == OPEN
    # the chance that each deal is won, by the one definition pipeline and plan use:
    # an open deal gets its current stage's share won among the closed deals that
    # reached that stage or a later one (with a history; NaN without)
    win_p = np.where(d.outcome == WON, 1.0, np.where(d.outcome == LOST, 0.0, np.nan))
    if entries is not None and len(order):
        n = len(d.outcome)
        total, wins = stage_win_counts(
            paths.furthest, d.outcome, np.zeros(n, dtype=np.int64), 1, len(order)
        )
        stage_p = _rate(wins, total)
        cur = paths.current_pos
        opened = np.flatnonzero((d.outcome == OPEN) & (cur >= 0))
        win_p[opened] = stage_p[cur[opened]]
    out["win_probability"] = win_p
    result: pd.DataFrame = out
    return result


# ----------------------------------------------------------------------------
# win rate
# ----------------------------------------------------------------------------
@takes_columns()
def win_rate(
    deals: pd.DataFrame,
    *,
    basis: Literal["closed", "created"] = "closed",
    weighted: bool = False,
    weight: str | None = None,
    by: By = None,
    as_of: DateLike = None,
    ci: float = 0.95,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Win rate (close rate) of a deal table, with a Wilson interval.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table, one row per deal.
    basis : {"closed", "created"}, default="closed"
        ``"closed"``: won / (won + lost), the rate among decided deals.
        ``"created"``: won / every deal created (a cohort rate; open deals
        count as not won yet).
    weighted : bool, default=False
        Weight each deal by its ``amount``: the value-weighted win rate, e.g. won
        value / closed value.
    weight : str, optional
        Deprecated spelling of ``weighted=True, amount=weight`` (works for one
        release with a FutureWarning).
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per group, columns: the ``by`` columns, then

        - ``won``, ``lost``, ``open`` (int64): deals with each status;
        - ``closed`` (int64): ``won + lost``, the rate's denominator with
          ``basis="closed"`` (``closed + open`` with ``basis="created"``;
          weighted, the denominator is their summed amounts);
        - ``win_rate`` (float64): the win rate;
        - ``win_rate_low``, ``win_rate_high`` (float64): the Wilson interval;
        - ``basis`` (str): ``"closed"`` or ``"created"``, with
          ``" (weighted by <column>)"`` when weighted.

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals``.
    InvalidDataError
        Duplicated or null deal ids, unparseable dates, contradictory rows
        (unless ``errors="warn"``), negative weights.
    InvalidParameterError
        Bad ``basis`` / ``ci``, or no status equals ``won``/``lost`` but one
        differs only in case (the message gives the fix).

    See Also
    --------
    win_curve : the probability of winning within t days, censoring-aware.
    leaderboard : win rates per rep, shrunk toward the team rate.

    Notes
    -----
    ``basis="closed"`` answers "of the deals decided, how many did we win?"
    and ignores open deals, which makes young cohorts look like old ones
    only once they are decided.  ``basis="created"`` counts open deals as
    not won (yet): it grows as a cohort ages, so compare cohorts of the same
    age, or use :func:`win_curve`.  With ``basis="created"`` rows without a
    created date are left out with a warning (they belong to no cohort).

    Weighted rates use the Wilson interval at Kish's effective sample size
    ``n_eff = (sum w)^2 / sum w^2`` (an approximation).  Pitfall: exports
    that record lost deals with value 0 (the Maven CRM data does) make the
    value-weighted closed rate 1.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3, 4, 5],
    ...     "created_at": pd.to_datetime(["2025-01-01"] * 5),
    ...     "closed_at": pd.to_datetime(["2025-02-01", "2025-02-11", "2025-03-01", None, None]),
    ...     "status": ["won", "lost", "won", "open", "open"],
    ...     "amount": [100.0, 50.0, 300.0, 80.0, 20.0],
    ... })
    >>> fk.win_rate(deals)
       won  lost  open  closed  win_rate  win_rate_low  win_rate_high   basis
    0    2     1     2       3  0.666667       0.20766       0.938508  closed
    >>> fk.win_rate(deals, basis="created")[["won", "open", "win_rate"]]
       won  open  win_rate
    0    2     2       0.4
    """
    func = "win_rate"
    check_option(basis, ["closed", "created"], name="basis", func=func)
    cl = check_ci(ci, func=func)
    if weight is not None:
        warnings.warn(
            f"win_rate(weight={weight!r}) is now spelled win_rate(weighted=True, "
            f"amount={weight!r}); weight= will stop working in the next release.",
            FutureWarning,
            stacklevel=3,
        )
        weighted, amount = True, weight
    if not isinstance(weighted, bool | np.bool_):
        raise param_error(func, "weighted", "True or False", weighted)
    d = read_deals(
        deals,
        func=func,
        deal=deal,
        created=created,
        closed=closed,
        status=status,
        won=won,
        lost=lost,
        errors=errors,
        amount=amount if weighted else None,
        by=by,
        as_of=as_of,
        currency=currency_column(columns) if weighted else None,
    )
    if basis == "created":
        d = drop_unusable(
            d,
            d.created == NAT,
            "they have no created date (basis='created' counts deals by creation)",
            func=func,
        )
    if weighted:
        d = _drop_amount_na(d, np.ones(len(d.outcome), dtype=bool), "deals", func=func)
    g = d.n_groups
    n_won = grouped_count(d.codes[d.outcome == WON], g)
    n_lost = grouped_count(d.codes[d.outcome == LOST], g)
    n_open = grouped_count(d.codes[d.outcome == OPEN], g)
    in_denominator = d.outcome != OPEN if basis == "closed" else np.ones(len(d.outcome), bool)
    den: np.ndarray[Any, Any]
    if not weighted:
        num = n_won.astype(np.float64)
        den = grouped_count(d.codes[in_denominator], g)
        k_eff, n_eff = num, den.astype(np.float64)
        label: str = basis
    else:
        w = d.amount if d.amount is not None else np.zeros(0)
        num = grouped_sum(d.codes[d.outcome == WON], w[d.outcome == WON], g)
        den = grouped_sum(d.codes[in_denominator], w[in_denominator], g)
        sq = grouped_sum(d.codes[in_denominator], w[in_denominator] ** 2, g)
        with np.errstate(divide="ignore", invalid="ignore"):
            n_eff = np.where(sq > 0, den**2 / sq, 0.0)
        k_eff = _rate(num, den) * n_eff
        k_eff = np.nan_to_num(k_eff)
        label = f"{basis} (weighted by {amount})"
    rate = _rate(num, den)
    lo, hi = wilson_interval(k_eff, n_eff, cl)
    return with_keys(
        d.keys,
        {
            "won": n_won,
            "lost": n_lost,
            "open": n_open,
            "closed": (n_won + n_lost).astype(np.int64),
            "win_rate": rate,
            "win_rate_low": lo,
            "win_rate_high": hi,
            "basis": label,
        },
    )


# ----------------------------------------------------------------------------
# deal size
# ----------------------------------------------------------------------------
@takes_columns()
def deal_size(
    deals: pd.DataFrame,
    *,
    outcome: Literal["won", "lost", "open", "closed"] = "won",
    by: By = None,
    as_of: DateLike = None,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Deal size (average deal, «средний чек»): amounts of the deals with one outcome.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table, one row per deal.
    outcome : {"won", "lost", "open", "closed"}, default="won"
        Which deals to measure: won, lost, still open, or closed (won or lost).
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, ``outcome`` (str), ``deals``
        (int64, deals measured), ``mean``, ``p10``, ``p25``, ``median``,
        ``p75``, ``p90`` (float64, linear-interpolation quantiles; NaN when
        ``deals`` is 0) and ``value`` (float64, the summed amount).

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals``.
    InvalidDataError
        Duplicated or null deal ids, amounts that are not non-negative
        numbers, contradictory rows (unless ``errors="warn"``).
    InvalidParameterError
        Bad ``outcome``.

    See Also
    --------
    win_rate, sales_velocity

    Notes
    -----
    Deals with that outcome and no amount are left out with a warning (they
    are not counted as 0).  The mean is pulled up by a few large deals; the
    median and quartiles show the typical deal.  Lost deals recorded with
    value 0 (common in exports) make ``outcome="lost"`` meaningless.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3, 4],
    ...     "created_at": pd.to_datetime(["2025-01-01"] * 4),
    ...     "closed_at": pd.to_datetime(["2025-02-01", "2025-02-11", "2025-03-01", None]),
    ...     "status": ["won", "lost", "won", "open"],
    ...     "amount": [100.0, 50.0, 300.0, 80.0],
    ... })
    >>> fk.deal_size(deals)
      outcome  deals   mean    p10    p25  median    p75    p90  value
    0     won      2  200.0  120.0  150.0   200.0  250.0  280.0  400.0
    """
    func = "deal_size"
    check_option(outcome, ["won", "lost", "open", "closed"], name="outcome", func=func)
    d = read_deals(
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
        by=by,
        as_of=as_of,
        currency=currency_column(columns),
        need={"won": ("won",), "lost": ("lost",), "open": (), "closed": ()}[outcome],
    )
    d = _drop_amount_na(d, _outcome_mask(d, outcome), f"{outcome} deals", func=func)
    sel = _outcome_mask(d, outcome)
    g = d.n_groups
    v = d.amount[sel] if d.amount is not None else np.zeros(0)
    q = grouped_quantiles(d.codes[sel], v, g, list(QUANTILES.values()))
    return with_keys(
        d.keys,
        {
            "outcome": outcome,
            "deals": grouped_count(d.codes[sel], g),
            "mean": grouped_mean(d.codes[sel], v, g),
            **{name: q[:, i] for i, name in enumerate(QUANTILES)},
            "value": grouped_sum(d.codes[sel], v, g),
        },
    )


# ----------------------------------------------------------------------------
# sales cycle and win curve
# ----------------------------------------------------------------------------
@takes_columns()
def sales_cycle(
    deals: pd.DataFrame,
    *,
    outcome: Literal["won", "lost", "closed"] = "won",
    by: By = None,
    as_of: DateLike = None,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    ci: float = 0.95,
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Sales cycle: time from created to closed, with open deals kept as censored.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table, one row per deal.
    outcome : {"won", "lost", "closed"}, default="won"
        The outcome whose timing is measured; with ``"won"`` (``"lost"``) the
        other outcome is a competing risk, with ``"closed"`` there is none.
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, then

        - ``outcome`` (str);
        - ``deals`` (int64): deals that reached the outcome by ``as_of``;
        - ``other_outcome`` (int64): deals that reached the competing outcome
          (0 with ``outcome="closed"``);
        - ``open`` (int64): deals open at ``as_of`` (right-censored, never
          dropped);
        - ``median`` (timedelta64[ns]): the censoring-aware median time to
          the outcome among deals that reach it (see Notes);
        - ``median_low``, ``median_high`` (timedelta64[ns]): its ``ci``
          interval (NaT where the interval's curve never reaches the level);
        - ``naive_mean``, ``naive_p10``, ``naive_p25``, ``naive_median``,
          ``naive_p75``, ``naive_p90`` (timedelta64[ns]): the naive figures over the
          ``deals`` with the outcome only — what CRM dashboards show, kept for
          reconciliation.

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals``.
    InvalidDataError
        Duplicated or null deal ids, unparseable dates, contradictory rows
        (unless ``errors="warn"``), no dates at all.
    InvalidParameterError
        Bad ``outcome`` or ``as_of``.

    See Also
    --------
    win_curve : the cumulative incidence curve behind ``median``.

    Notes
    -----
    Durations run from ``created`` to ``closed`` for closed deals and to
    ``as_of`` for open ones.  Deals closed after ``as_of`` count as open at
    ``as_of``; deals created after it, and deals with no created date, are
    left out with a warning.

    ``median`` uses the Aalen–Johansen cumulative incidence
    F(t) of the outcome, with the other outcome as a competing risk and open
    deals censored: F(t) = sum over outcome times t_i <= t of
    S(t_i-) d_i / n_i, with S the Kaplan–Meier probability of still being
    open.  The median is the first t with F(t) >= F(t_max) / 2: "half of the
    deals that reach the outcome within the follow-up reach it by t".  The
    naive median is biased low when many deals are open (slow deals are
    still open); ``median`` gives the open deals their weight.  Its interval
    inverts the pointwise interval of F (as :func:`win_curve` gives it): the
    lower end is the first t where F's upper bound reaches F(t_max) / 2, the
    upper end the first t where its lower bound does (Brookmeyer and Crowley
    1982; the level F(t_max) / 2 is held fixed).
    NaT when no deal of the group reached the outcome.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3, 4, 5, 6],
    ...     "created_at": pd.to_datetime(["2025-01-01"] * 3 + ["2025-01-30", "2025-01-25",
    ...                                                         "2025-01-01"]),
    ...     "closed_at": pd.to_datetime(["2025-01-11", "2025-01-16", "2025-01-21", None, None,
    ...                                  "2025-02-20"]),
    ...     "status": ["won", "won", "lost", "open", "open", "won"],
    ... })
    >>> res = fk.sales_cycle(deals, as_of="2025-03-01")
    >>> res[["deals", "other_outcome", "open", "median", "naive_median"]]
       deals  other_outcome  open  median naive_median
    0      3              1     2 50 days      15 days

    The naive median (15 days) ignores the two deals open for 30 and 35
    days; weighting them in, half of the eventual wins take 50 days.
    """
    func = "sales_cycle"
    check_option(outcome, ["won", "lost", "closed"], name="outcome", func=func)
    cl = check_ci(ci, func=func)
    d = read_deals(
        deals,
        func=func,
        deal=deal,
        created=created,
        closed=closed,
        status=status,
        won=won,
        lost=lost,
        errors=errors,
        by=by,
        as_of=as_of,
    )
    _need_as_of(d, func=func)
    d = drop_unusable(
        d, d.created == NAT, "they have no created date, so no cycle can be measured", func=func
    )
    measures, _ = _cycle_table(d, outcome, cl)
    return with_keys(d.keys, {"outcome": outcome, **measures})


@takes_columns()
def win_curve(
    deals: pd.DataFrame,
    *,
    by: By = None,
    as_of: DateLike = None,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    ci: float = 0.95,
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Probability that a deal is won within t of its creation (cumulative incidence).

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table, one row per deal.
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per (group, time at which some deal of the group was won or
        lost), sorted by time: the ``by`` columns, then ``t``
        (timedelta64[ns], time since creation), ``at_risk`` (int64, deals
        still open just before t), ``won`` and ``lost`` (int64, deals won /
        lost at t), ``cumulative_win`` (float64, P(won within t)) and
        ``cumulative_win_low``, ``cumulative_win_high`` (float64, the pointwise
        ``ci`` interval).  Before the first row the probability is 0.

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals``.
    InvalidDataError
        Duplicated or null deal ids, unparseable dates, contradictory rows
        (unless ``errors="warn"``), no dates at all.
    InvalidParameterError
        Bad ``as_of``.

    See Also
    --------
    sales_cycle, win_rate

    Notes
    -----
    Aalen–Johansen estimator with losing as a competing risk and open deals
    censored at ``as_of``: F(t) = sum over t_i <= t of S(t_i-) w_i / n_i
    (S: Kaplan–Meier probability of being still open, w_i deals won at t_i,
    n_i at risk).  Unlike ``1 - KaplanMeier(won)``, which treats lost deals as
    if they might still be won, F stays below the share that can be won.
    The interval is the log(-log) transform of the Greenwood-type variance
    (Collett 2015, p. 411; the same as lifelines' ``AalenJohansenFitter``).
    F(t) at the same t is comparable between young and old cohorts, unlike
    the win rate on created deals.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3, 4],
    ...     "created_at": pd.to_datetime(["2025-01-01"] * 4),
    ...     "closed_at": pd.to_datetime(["2025-01-11", "2025-01-21", None, "2025-02-10"]),
    ...     "status": ["won", "lost", "open", "won"],
    ... })
    >>> fk.win_curve(deals, as_of="2025-02-01")[["t", "at_risk", "won", "lost", "cumulative_win"]]
            t  at_risk  won  lost  cumulative_win
    0 10 days        4    1     0            0.25
    1 20 days        3    0     1            0.25
    """
    func = "win_curve"
    cl = check_ci(ci, func=func)
    d = read_deals(
        deals,
        func=func,
        deal=deal,
        created=created,
        closed=closed,
        status=status,
        won=won,
        lost=lost,
        errors=errors,
        by=by,
        as_of=as_of,
    )
    _need_as_of(d, func=func)
    d = drop_unusable(
        d, d.created == NAT, "they have no created date, so no cycle can be measured", func=func
    )
    dur = _durations(d)
    parts: dict[str, list[Any]] = {
        k: [] for k in ("t", "at_risk", "won", "lost", "cumulative_win", "low", "high")
    }
    counts = []
    for rows in _split_by_group(d.codes, d.n_groups):
        t, f, lo, hi, n, dw, d_all = aalen_johansen(dur[rows], d.outcome[rows], WON, cl)
        dl = d_all - dw  # the only other outcome is lost
        counts.append(t.size)
        for key, val in zip(parts, (t, n, dw, dl, f, lo, hi), strict=True):
            parts[key].append(val)
    cat = {k: np.concatenate(v) if v else np.empty(0) for k, v in parts.items()}
    return with_keys(
        d.keys,
        {
            "t": to_timedelta(cat["t"]),
            "at_risk": cat["at_risk"].astype(np.int64),
            "won": cat["won"].astype(np.int64),
            "lost": cat["lost"].astype(np.int64),
            "cumulative_win": cat["cumulative_win"].astype(np.float64),
            "cumulative_win_low": cat["low"].astype(np.float64),
            "cumulative_win_high": cat["high"].astype(np.float64),
        },
        repeat=counts,
    )


# ----------------------------------------------------------------------------
# pipeline
# ----------------------------------------------------------------------------
@takes_columns(renamed={"time": "entered"}, moved_positional=("stages",))
def pipeline(
    deals: pd.DataFrame,
    *,
    stages: Sequence[str] | None = None,
    history: pd.DataFrame | None = None,
    as_of: DateLike = None,
    probabilities: Mapping[str, float] | None = None,
    by: By = None,
    ci: float = 0.95,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    stage: str = "stage",
    entered: str = "entered_at",
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Open pipeline per stage: deals, value, weighted value, mean age.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table, one row per deal; ``stage`` holds each open deal's
        current stage (with ``history``, the stage on ``as_of`` is taken from
        the history instead).
    stages : list of str, optional
        The stages to report, in this order (stages without open deals get a
        row of zeros).  Default: the stages of the open deals, sorted.
    history : pandas.DataFrame, optional
        Stage history, one row per stage entry of a deal (columns ``deal``,
        ``stage`` and ``entered``).  When given and ``probabilities`` is None,
        each stage's win probability is measured from it (see Notes).
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    probabilities : mapping of str to float, optional
        Win probability per stage, e.g. the CRM's stage weights; overrides
        ``history``.  Must cover every reported stage.
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    stage : str, default="stage"
        Column holding the stage name.
    entered : str, default="entered_at"
        Column of the stage history holding the time the deal entered the stage:
        datetime64 of any unit or time zone, or ISO 8601 strings (formerly ``time=``,
        which still works for one release with a FutureWarning).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per (group, stage): the ``by`` columns, then ``stage``,
        ``open`` (int64, open deals at that stage on ``as_of``), ``value``
        (float64, the summed amount of those that have one; NaN when none
        has), ``no_amount`` (int64, open deals there without an amount),
        ``closed`` (int64, the deals closed by ``as_of`` counted at the stage:
        the denominator of the measured win probability; 0 when
        ``probabilities`` is given), ``win_probability``,
        ``win_probability_low``, ``win_probability_high`` (float64, the chance
        that a deal at that stage is won, with its Wilson interval; the interval
        is NaN for given probabilities), ``weighted_value`` (float64, value ×
        win probability) and ``mean_age`` (timedelta64[ns], mean time since
        creation of the open deals on ``as_of``).

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals`` or ``history``.
    InvalidDataError
        Duplicated or null deal ids, unparseable dates or amounts,
        contradictory rows (unless ``errors="warn"``).
    InvalidParameterError
        ``probabilities`` misses a stage or holds a value outside [0, 1].

    See Also
    --------
    coverage, sales_velocity

    Notes
    -----
    With ``history``, an open deal sits at the last stage it entered by
    ``as_of`` (so a past ``as_of`` shows the pipeline as it was); deals with no
    history entry keep the stage of the deal table.

    Measured win probability of stage s (the one definition, shared with
    :func:`plan`): among the deals closed by ``as_of`` that reached s or a
    later stage by ``as_of`` (every deal counts at the first stage, a won
    deal at every stage), the share that were won.  Neither ``history`` nor
    ``probabilities``: ``win_probability`` and ``weighted_value`` are NaN.
    Open deals with no amount count in ``open`` but not in ``value``; open
    deals with no created date are left out of ``mean_age``; open deals at a
    stage not in ``stages`` are left out (each with a warning).

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3, 4, 5],
    ...     "created_at": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-21", "2025-01-11",
    ...                                   "2025-01-02"]),
    ...     "closed_at": pd.to_datetime(["2025-01-31", None, None, None, "2025-01-25"]),
    ...     "status": ["won", "open", "open", "open", "lost"],
    ...     "amount": [100.0, 50.0, 30.0, 20.0, 10.0],
    ...     "stage": ["proposal", "proposal", "proposal", "contact", "contact"],
    ... })
    >>> fk.pipeline(deals, stages=["contact", "proposal"], probabilities={"contact": 0.1,
    ...             "proposal": 0.5})[["stage", "open", "value", "weighted_value", "mean_age"]]
          stage  open  value  weighted_value mean_age
    0   contact      1   20.0             2.0  20 days
    1  proposal      2   80.0            40.0  20 days
    """
    func = "pipeline"
    cl = check_ci(ci, func=func)
    entries = None
    if history is not None:
        raw = check_frame(deals, table="deals", func=func)
        require_columns(raw, {"deal": deal}, table="deals")
        entries = read_history(
            history,
            raw[deal],
            deal=deal,
            stage=stage,
            entered=entered,
            errors=errors,
            func=func,
        )
    d = read_deals(
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
        columns={"stage": stage},
        by=by,
        as_of=as_of,
        observed=NAT if entries is None else entries.latest,
        currency=currency_column(columns),
    )
    _need_as_of(d, func=func)
    table_stage = d.frame[stage].to_numpy(dtype=object)
    order = _stage_order(stages, table_stage, entries, func=func)
    names = order
    if entries is not None:
        entries = entries.restrict(d.rows, len(raw))
    paths = deal_paths(
        entries,
        order,
        n_deals=len(d.outcome),
        as_of=d.as_of,
        closed=d.closed,
        table_stage=table_stage,
    )
    # the stage an open deal was in on as_of: its last entry by then (ties by stage order)
    current, current_pos = paths.current, paths.current_pos
    is_open = d.outcome == OPEN
    no_stage = np.zeros(len(current), dtype=bool)
    unplaced = np.flatnonzero(is_open & (current_pos < 0))  # a stage in stages is never NaN
    no_stage[unplaced] = pd.isna(current[unplaced])
    d = drop_unusable(d, no_stage, "they are open and have no stage", func=func)
    keep_rows = ~no_stage
    current, furthest = current[keep_rows], paths.furthest[keep_rows]
    current_pos = current_pos[keep_rows]
    is_open = d.outcome == OPEN
    if stages is None:
        names = sorted(pd.unique(current[is_open]).tolist(), key=str)
        if entries is not None and probabilities is None:
            msg = (
                f"{func} measures each stage's win probability from the history among the "
                f"deals that reached the stage or a later one, so it needs the stages in "
                f"funnel order: pass stages=[...] (or probabilities= to give them)."
            )
            raise InvalidParameterError(msg)
    else:
        outside = is_open & (current_pos < 0)
        d = drop_unusable(d, outside, "they are open at a stage not in stages", func=func)
        current, furthest = current[~outside], furthest[~outside]
        current_pos = current_pos[~outside]
        is_open = d.outcome == OPEN
    n_st, g = len(names), d.n_groups
    # positions in names (stages given: the paths' positions; else the open stages sorted)
    stage_idx = current_pos if stages is not None else pd.Index(names).get_indexer(current)
    cell = d.codes * n_st + stage_idx
    open_cell = cell[is_open]
    n_deals = grouped_count(open_cell, g * n_st)
    amounts = d.amount if d.amount is not None else np.zeros(len(cell))
    has_amount = ~np.isnan(amounts)
    if (is_open & ~has_amount).any():
        warn_dropped(
            int((is_open & ~has_amount).sum()),
            len(cell),
            "they are open and have no amount (counted in deals, not in value)",
            func=func,
        )
    value = grouped_sum(cell[is_open & has_amount], amounts[is_open & has_amount], g * n_st)
    no_amount = grouped_count(cell[is_open & ~has_amount], g * n_st)
    # an unknown amount is never 0: a stage whose open deals all lack one has no value
    value = np.where((n_deals > 0) & (no_amount == n_deals), np.nan, value)
    has_created = d.created != NAT
    if (is_open & ~has_created).any():
        warn_dropped(
            int((is_open & ~has_created).sum()),
            len(cell),
            "they are open and have no created date (left out of mean_age)",
            func=func,
        )
    aged = is_open & has_created
    mean_age = grouped_mean(cell[aged], (d.as_of - d.created[aged]).astype(np.float64), g * n_st)

    closed_n = np.zeros(g * n_st, dtype=np.int64)
    prob = np.full(g * n_st, np.nan)
    lo = np.full(g * n_st, np.nan)
    hi = np.full(g * n_st, np.nan)
    if probabilities is not None:
        prob = np.tile(_check_probabilities(probabilities, names, func=func), g)
    elif entries is not None:
        closed_n, won_n = stage_win_counts(furthest, d.outcome, d.codes, g, n_st)
        prob = _rate(won_n, closed_n)
        lo, hi = wilson_interval(won_n, closed_n, cl)
    return with_keys(
        d.keys,
        {
            "stage": np.array(names * g, dtype=object),
            "open": n_deals,
            "value": value,
            "no_amount": no_amount,
            "closed": closed_n,
            "win_probability": prob,
            "win_probability_low": lo,
            "win_probability_high": hi,
            "weighted_value": value * prob,
            "mean_age": to_timedelta(mean_age),
        },
        repeat=n_st,
    )


def _check_probabilities(
    probabilities: Mapping[str, float], names: list[str], *, func: str
) -> np.ndarray[Any, np.dtype[np.float64]]:
    if not isinstance(probabilities, Mapping):
        raise param_error(func, "probabilities", "a mapping stage -> probability", probabilities)
    missing = [s for s in names if s not in probabilities]
    if missing:
        raise param_error(
            func,
            "probabilities",
            f"a mapping that covers every stage (missing: {missing})",
            dict(probabilities),
        )
    out = np.empty(len(names))
    for i, s in enumerate(names):
        v = probabilities[s]
        ok = isinstance(v, int | float | np.number) and not isinstance(v, bool)
        if not ok or not 0.0 <= float(v) <= 1.0:
            raise param_error(
                func, "probabilities", f"numbers in [0, 1] (stage {s!r})", dict(probabilities)
            )
        out[i] = float(v)
    return out


# ----------------------------------------------------------------------------
# velocity and coverage
# ----------------------------------------------------------------------------
@takes_columns()
def sales_velocity(
    deals: pd.DataFrame,
    *,
    by: By = None,
    as_of: DateLike = None,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Sales velocity: money per day flowing through the pipeline, with its inputs.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table, one row per deal.
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per group: the ``by`` columns, then ``open`` (int64,
        open on ``as_of``), ``closed`` (int64, won + lost: the win
        rate's denominator), ``win_rate`` (float64, won / closed),
        ``avg_won_deal`` (float64, mean amount of won deals), ``cycle``
        (timedelta64[ns], censoring-aware median time to win, as
        ``sales_cycle``'s ``median``) and ``velocity`` (float64,
        money per day).

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals``.
    InvalidDataError
        Duplicated or null deal ids, unparseable dates or amounts,
        contradictory rows (unless ``errors="warn"``).
    InvalidParameterError
        Bad ``as_of``.

    See Also
    --------
    win_rate, deal_size, sales_cycle

    Notes
    -----
    velocity = open × win_rate × avg_won_deal ÷ cycle (in days).  It is
    the revenue per day the current pipeline yields if today's rates hold.
    The cycle is the censoring-aware median (not the naive one, which is too
    short when many deals are open).  Won deals without amount are left out
    of ``avg_won_deal``; deals without created date are left out of ``cycle``
    (each with a warning).  NaN when a group has no won deal.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3, 4, 5],
    ...     "created_at": pd.to_datetime(["2025-01-01"] * 5),
    ...     "closed_at": pd.to_datetime(["2025-01-11", "2025-01-11", "2025-01-21", None, None]),
    ...     "status": ["won", "won", "lost", "open", "open"],
    ...     "amount": [100.0, 200.0, 50.0, 80.0, 20.0],
    ... })
    >>> fk.sales_velocity(deals)
       open  closed  win_rate  avg_won_deal   cycle  velocity
    0     2       3  0.666667         150.0 10 days      20.0
    """
    func = "sales_velocity"
    d = read_deals(
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
        by=by,
        as_of=as_of,
        currency=currency_column(columns),
    )
    _need_as_of(d, func=func)
    g = d.n_groups
    n_open = grouped_count(d.codes[d.outcome == OPEN], g)
    n_won = grouped_count(d.codes[d.outcome == WON], g)
    n_closed = grouped_count(d.codes[d.outcome != OPEN], g)
    for_size = _drop_amount_na(d, d.outcome == WON, "won deals", func=func)
    is_won = for_size.outcome == WON
    amounts = for_size.amount if for_size.amount is not None else np.zeros(0)
    avg = grouped_mean(for_size.codes[is_won], amounts[is_won], g)
    for_cycle = drop_unusable(
        d, d.created == NAT, "they have no created date, so no cycle can be measured", func=func
    )
    _, cycle_ns = _cycle_table(for_cycle, "won")
    rate = _rate(n_won, n_closed)
    with np.errstate(divide="ignore", invalid="ignore"):
        velocity = np.where(cycle_ns > 0, n_open * rate * avg / (cycle_ns / DAY_NS), np.nan)
    return with_keys(
        d.keys,
        {
            "open": n_open,
            "closed": n_closed,
            "win_rate": rate,
            "avg_won_deal": avg,
            "cycle": to_timedelta(cycle_ns),
            "velocity": velocity,
        },
    )


@takes_columns()
def coverage(
    deals: pd.DataFrame,
    target: float | Mapping[Any, float],
    *,
    by: By = None,
    as_of: DateLike = None,
    period_start: DateLike = None,
    period_end: DateLike = None,
    ci: float = 0.95,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Pipeline coverage: open pipeline value ÷ the target still to win.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table, one row per deal.
    target : float or mapping
        Revenue target of the period (> 0).  With ``by``: the same target for
        every group, or a mapping from group value (a tuple of values for
        several ``by`` columns) to that group's target.
    by : str or list of str, optional
        Column(s) to group by (one row per group, groups sorted; missing values
        form their own group), e.g. ``by="region"`` for each region's coverage
        of its own target.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    period_start : datetime-like, optional
        Start of the target's period: deals won from then to ``as_of``
        already count toward the target.  Default: none do (``target`` is
        what remains to win).
    period_end : datetime-like, optional
        End of the target's period: the verdict then also compares the time
        left with the median time to win.
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per group (one row without ``by``): the ``by`` columns, then
        ``as_of`` (datetime), ``target``, ``won_value`` (won in the
        period so far), ``remaining_target`` (float64, target - won_value,
        at least 0), ``open``
        (int64, deals open on ``as_of``), ``open_value`` (float64, summed amount of the open deals
        that have one; NaN when none has), ``open_no_amount`` (int64, open
        deals without an amount), ``coverage`` (float64,
        open_value / remaining_target; NaN when nothing remains),
        ``win_rate``, ``win_rate_low``, ``win_rate_high`` (float64, won /
        (won + lost) of all deals closed by ``as_of``), ``required_coverage``
        (float64, 1 / win_rate), ``time_left`` (timedelta64[ns], to
        ``period_end``; NaT without it), ``cycle`` (timedelta64[ns],
        censoring-aware median time to win) and ``verdict`` (str, plain
        words).

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals``.
    InvalidDataError
        Duplicated or null deal ids, unparseable dates or amounts,
        contradictory rows (unless ``errors="warn"``).
    InvalidParameterError
        ``target`` not positive; ``period_start`` after ``as_of`` or
        ``period_end`` before it.

    See Also
    --------
    pipeline, win_rate

    Notes
    -----
    A pipeline of value V with win rate p yields about p·V, so it covers the
    remaining target R when V / R >= 1 / p: that is the required coverage
    (the sales rule of thumb "3× coverage" is 1 / p for p = 33%).  The win
    rate counts deals, the coverage counts money: when big deals are won
    less often than small ones, the required coverage is higher than shown.
    Open deals without amount are left out of ``open_value`` with a warning
    and counted in ``open_no_amount``: an unknown amount is never taken as 0,
    so unless the known amounts alone are enough (healthy), the verdict is
    "unknown" — not "drying up" — while open deals lack an amount.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3, 4, 5],
    ...     "created_at": pd.to_datetime(["2025-01-01"] * 5),
    ...     "closed_at": pd.to_datetime(["2025-01-11", "2025-01-21", "2025-01-31", None, None]),
    ...     "status": ["won", "lost", "lost", "open", "open"],
    ...     "amount": [100.0, 50.0, 80.0, 300.0, 200.0],
    ... })
    >>> res = fk.coverage(deals, 200.0)
    >>> res[["remaining_target", "open_value", "coverage", "required_coverage"]]
       remaining_target  open_value  coverage  required_coverage
    0             200.0       500.0       2.5                3.0
    >>> print(res["verdict"][0])
    drying up: the open pipeline (500) covers 2.5× the remaining target (200), below the 3.0×
    the win rate of 33.3% requires; about 100 more open value is needed.
    """
    func = "coverage"
    if isinstance(target, Mapping) and by is None:
        raise param_error(func, "target", "a positive number (a mapping needs by=)", target)
    if not isinstance(target, Mapping):
        check_positive(target, name="target", func=func)  # before the table is read
    cl = check_ci(ci, func=func)
    d = read_deals(
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
        by=by,
        as_of=as_of,
        currency=currency_column(columns),
    )
    _need_as_of(d, func=func)
    start = _period_bound(period_start, d, name="period_start", func=func)
    end = _period_bound(period_end, d, name="period_end", func=func)
    if start is not None and start > d.as_of:
        raise param_error(func, "period_start", "a date on or before as_of", period_start)
    if end is not None and end < d.as_of:
        raise param_error(func, "period_end", "a date on or after as_of", period_end)
    amounts = d.amount if d.amount is not None else np.zeros(len(d.outcome))
    missing = (d.outcome == OPEN) & np.isnan(amounts)
    if missing.any():
        warn_dropped(
            int(missing.sum()),
            len(amounts),
            "they are open and have no amount (not in open_value; see open_no_amount)",
            func=func,
        )
    goals = group_targets(target, d.keys, func=func)
    for_cycle = drop_unusable(
        d, d.created == NAT, "they have no created date, so no cycle can be measured", func=func
    )
    cycles = _cycle_table(for_cycle, "won")[1]  # one censoring-aware median per group
    rows = [
        _coverage_row(d.subset(d.codes == g), goals[g], start, end, float(cycles[g]), cl)
        for g in range(d.n_groups)  # one row per group: a handful, never one per deal
    ]
    columns_out = {k: [r[k] for r in rows] for k in _COVERAGE_COLUMNS}
    result = with_keys(
        d.keys,
        {
            "as_of": ns_to_datetime(np.full(d.n_groups, d.as_of, dtype=np.int64), d.tz),
            "target": np.asarray(columns_out["target"], dtype=np.float64),
            "won_value": np.asarray(columns_out["won_value"], dtype=np.float64),
            "remaining_target": np.asarray(columns_out["remaining_target"], dtype=np.float64),
            "open": np.asarray(columns_out["open"], dtype=np.int64),
            "open_value": np.asarray(columns_out["open_value"], dtype=np.float64),
            "open_no_amount": np.asarray(columns_out["open_no_amount"], dtype=np.int64),
            "coverage": np.asarray(columns_out["coverage"], dtype=np.float64),
            "win_rate": np.asarray(columns_out["win_rate"], dtype=np.float64),
            "win_rate_low": np.asarray(columns_out["win_rate_low"], dtype=np.float64),
            "win_rate_high": np.asarray(columns_out["win_rate_high"], dtype=np.float64),
            "required_coverage": np.asarray(columns_out["required_coverage"], dtype=np.float64),
            "time_left": to_timedelta(np.asarray(columns_out["time_left"], dtype=np.float64)),
            "cycle": to_timedelta(np.asarray(columns_out["cycle"], dtype=np.float64)),
            "verdict": np.asarray(columns_out["verdict"], dtype=object),
        },
    )
    if not len(d.outcome):  # no deals: no row
        result = result.iloc[:0].reset_index(drop=True)
    return result


_COVERAGE_COLUMNS = (
    "target", "won_value", "remaining_target", "open", "open_value", "open_no_amount",
    "coverage", "win_rate", "win_rate_low", "win_rate_high", "required_coverage",
    "time_left", "cycle", "verdict",
)  # fmt: skip


def _coverage_row(
    d: DealArrays, goal: float, start: int | None, end: int | None, cycle_ns: float, cl: float
) -> dict[str, Any]:
    """The coverage figures and verdict of one group's deals."""
    amounts = d.amount if d.amount is not None else np.zeros(len(d.outcome))
    is_open = d.outcome == OPEN
    missing = is_open & np.isnan(amounts)
    n_missing = int(missing.sum())
    all_unknown = bool(is_open.any()) and n_missing == int(is_open.sum())
    open_value = float("nan") if all_unknown else float(np.nansum(amounts[is_open]))
    won_value = 0.0
    if start is not None:
        in_period = (d.outcome == WON) & (d.closed >= start)
        won_value = float(np.nansum(amounts[in_period]))
    remaining = max(goal - won_value, 0.0)
    n_won = int((d.outcome == WON).sum())
    n_closed = int((d.outcome != OPEN).sum())
    rate = n_won / n_closed if n_closed else float("nan")
    lo, hi = wilson_interval(n_won, n_closed, cl)
    required = 1.0 / rate if rate > 0 else float("inf") if n_closed else float("nan")
    cov = open_value / remaining if remaining > 0 else float("nan")
    left_ns = float(end - d.as_of) if end is not None else float("nan")
    verdict = _verdict(goal, won_value, remaining, open_value, cov, rate, required)
    if n_missing and remaining > 0 and not verdict.startswith("healthy"):
        n_open = int(is_open.sum())
        known = (
            "none of them has one"
            if all_unknown
            else f"the {n_open - n_missing:,} with an amount cover {cov:.1f}× the remaining "
            f"target ({remaining:,.0f}) against the {required:.1f}× the win rate requires"
        )
        verdict = (
            f"unknown: {n_missing:,} of the {n_open:,} open deals have no amount, so the open "
            f"pipeline's value is not known; {known}. Fill the amounts (or estimate them) "
            f"to judge the coverage."
        )
    if remaining > 0 and end is not None and cycle_ns > left_ns:
        verdict += (
            f" The median time to win ({cycle_ns / DAY_NS:,.0f} days) is longer than the "
            f"{left_ns / DAY_NS:,.0f} days left, so much of this pipeline will close after "
            f"period_end."
        )
    return {
        "target": goal,
        "won_value": won_value,
        "remaining_target": remaining,
        "open": int(is_open.sum()),
        "open_value": open_value,
        "open_no_amount": n_missing,
        "coverage": cov,
        "win_rate": rate,
        "win_rate_low": float(np.asarray(lo).reshape(-1)[0]),
        "win_rate_high": float(np.asarray(hi).reshape(-1)[0]),
        "required_coverage": required,
        "time_left": left_ns,
        "cycle": cycle_ns,
        "verdict": verdict,
    }


def _period_bound(value: Any, d: DealArrays, *, name: str, func: str) -> int | None:
    if value is None:
        return None
    return timestamp_ns(check_date(value, tz=d.tz, name=name, func=func))


def _verdict(
    goal: float,
    won_value: float,
    remaining: float,
    open_value: float,
    cov: float,
    rate: float,
    required: float,
) -> str:
    if remaining <= 0:
        return f"target met: {won_value:,.0f} won against a target of {goal:,.0f}."
    if np.isnan(rate):
        return (
            f"unknown: no deal is closed yet, so the coverage the win rate requires cannot be "
            f"measured (open pipeline covers {cov:.1f}× the remaining target)."
        )
    if rate == 0:
        return (
            f"drying up: no closed deal was won, so no pipeline covers the remaining target "
            f"({remaining:,.0f})."
        )
    words = (
        f"the open pipeline ({open_value:,.0f}) covers {cov:.1f}× the remaining target "
        f"({remaining:,.0f}), {{}} the {required:.1f}× the win rate of {rate:.1%} requires"
    )
    if cov >= required:
        return "healthy: " + words.format("at or above") + "."
    gap = required * remaining - open_value
    return "drying up: " + words.format("below") + f"; about {gap:,.0f} more open value is needed."


# ----------------------------------------------------------------------------
# reps and channels
# ----------------------------------------------------------------------------
@takes_columns()
def leaderboard(
    deals: pd.DataFrame,
    *,
    owner: str = "owner",
    by: By = None,
    ci: float = 0.95,
    as_of: DateLike = None,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Rep leaderboard, ranked by a win rate shrunk toward the team's.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table, one row per deal.
    owner : str, default="owner"
        Column holding the deal owner (the sales rep).
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.  Reps are ranked within each group, and their rates are shrunk toward the
        group's own team rate (reps within a region are compared with that region).
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per rep (per group and rep with ``by``; groups sorted, reps by
        rank then won value within each): the ``by`` columns, ``owner`` (named
        after the column), ``rank`` (int64, 1 = best ``win_rate_shrunk``; ties share the
        best rank, as in 1, 1, 3), ``deals``, ``won``, ``lost``, ``open`` (int64), ``won_value``
        (float64), ``win_rate``, ``win_rate_low``, ``win_rate_high``
        (float64, won / (won + lost) with the Wilson interval),
        ``win_rate_shrunk`` (float64, see Notes), ``naive_median_cycle``
        (timedelta64[ns], naive median created -> closed of the rep's won
        deals) and ``open_value`` (float64, amount of open deals).

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals``.
    InvalidDataError
        Duplicated or null deal ids, unparseable dates or amounts,
        contradictory rows (unless ``errors="warn"``).
    InvalidParameterError
        Bad ``ci`` or ``as_of``.

    See Also
    --------
    win_rate, sales_cycle : ``sales_cycle(deals, by="owner")`` gives the
        censoring-aware cycle per rep.

    Notes
    -----
    Empirical Bayes (beta-binomial): each rep's true win rate is taken to
    come from a Beta(a, b) distribution fitted to all reps by maximum
    likelihood (``scipy.stats.betabinom``; a + b bounded to [0.01, 1e6]).
    The shrunk rate is the posterior mean ``(won + a) / (won + lost + a + b)``:
    a rep with few closed deals is pulled strongly toward the team's rate, a
    rep with many hardly at all, so 2 of 2 does not top 80 of 120 when the
    team wins about half.  a + b acts as a number of "prior deals": the
    smaller the spread between reps, the larger it is.  With fewer than two
    reps with closed deals (or all rates 0 or all 1) nothing is shrunk.
    A rep with no closed deal gets the team prior mean.  Reps with a
    missing owner form their own row.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": range(8),
    ...     "created_at": pd.to_datetime(["2025-01-01"] * 8),
    ...     "closed_at": pd.to_datetime(["2025-01-11"] * 7 + [None]),
    ...     "status": ["won", "won", "won", "lost", "won", "lost", "lost", "open"],
    ...     "amount": [10.0, 20.0, 30.0, 5.0, 50.0, 5.0, 5.0, 40.0],
    ...     "owner": ["ann", "ann", "ann", "ann", "bob", "cy", "cy", "cy"],
    ... })
    >>> fk.leaderboard(deals)[["owner", "rank", "won", "lost", "win_rate", "open_value"]]
      owner  rank  won  lost  win_rate  open_value
    0   ann     1    3     1      0.75         0.0
    1   bob     2    1     0      1.00         0.0
    2    cy     3    0     2      0.00        40.0
    """
    func = "leaderboard"
    cl = check_ci(ci, func=func)
    by_cols = as_list(by)
    if owner in by_cols:
        raise param_error(func, "by", f"columns other than owner={owner!r}", by)
    d = read_deals(
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
        columns={"owner": owner},
        by=[*by_cols, owner],
        as_of=as_of,
        currency=currency_column(columns),
    )
    g = d.n_groups
    amounts = d.amount if d.amount is not None else np.zeros(len(d.outcome))
    missing = np.isnan(amounts) & (d.outcome != LOST)
    if missing.any():
        warn_dropped(
            int(missing.sum()),
            len(amounts),
            "they are won or open and have no amount (left out of won_value / open_value)",
            func=func,
        )
    is_won, is_lost, is_open = d.outcome == WON, d.outcome == LOST, d.outcome == OPEN
    n_won = grouped_count(d.codes[is_won], g)
    n_lost = grouped_count(d.codes[is_lost], g)
    n_closed = n_won + n_lost
    rate = _rate(n_won, n_closed)
    lo, hi = wilson_interval(n_won, n_closed, cl)
    # the prior is fitted within each by-group: reps are compared with their own team
    team = (
        d.keys.groupby(by_cols, dropna=False, sort=False).ngroup().to_numpy()
        if by_cols
        else np.zeros(g, dtype=np.int64)
    )
    shrunk = rate.copy()
    for t in np.unique(team):
        in_team = team == t
        a, b = beta_binomial_prior(n_won[in_team], n_closed[in_team])
        if not np.isnan(a):
            shrunk[in_team] = (n_won[in_team] + a) / (n_closed[in_team] + a + b)
    cycled = is_won & (d.created != NAT)
    cyc = grouped_quantiles(
        d.codes[cycled], (d.closed[cycled] - d.created[cycled]).astype(np.float64), g, [0.5]
    )[:, 0]
    out = with_keys(
        d.keys,
        {
            "rank": np.zeros(g, dtype=np.int64),
            "deals": grouped_count(d.codes, g),
            "won": n_won,
            "lost": n_lost,
            "open": grouped_count(d.codes[is_open], g),
            "won_value": grouped_sum(d.codes[is_won], np.nan_to_num(amounts[is_won]), g),
            "win_rate": rate,
            "win_rate_low": lo,
            "win_rate_high": hi,
            "win_rate_shrunk": shrunk,
            "naive_median_cycle": to_timedelta(cyc),
            "open_value": grouped_sum(d.codes[is_open], np.nan_to_num(amounts[is_open]), g),
        },
    )
    ranks = out.groupby(team, sort=False)["win_rate_shrunk"].rank(method="min", ascending=False)
    sizes = pd.Series(team).map(pd.Series(team).value_counts()).to_numpy()
    out["rank"] = ranks.fillna(pd.Series(sizes, index=out.index)).astype(np.int64)
    order = np.lexsort((-out["won_value"].to_numpy(), out["rank"].to_numpy(), team))
    result: pd.DataFrame = out.iloc[order].reset_index(drop=True)
    return result


@takes_columns()
def channel_yield(
    deals: pd.DataFrame,
    *,
    channel: str = "channel",
    by: By = None,
    costs: pd.DataFrame | None = None,
    cost: str = "cost",
    as_of: DateLike = None,
    ci: float = 0.95,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    errors: Errors = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Which channel brings the most and best leads: conversion, revenue, cost, ROI.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal (or lead) table, one row per deal.
    channel : str, default="channel"
        Column holding the acquisition channel.
    by : str or list of str, optional
        Column(s) to group by as well as the channel (e.g. ``by="region"``: each
        region's channels, groups sorted, channels by won value within each).
        With ``costs``, the costs table needs the ``by`` columns too.
    costs : pandas.DataFrame, optional
        Spend per channel, possibly per period (rows are summed per channel),
        with columns ``channel`` and ``cost``.
    cost : str, default="cost"
        Column of ``costs`` holding the spend (non-negative numbers).
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date): raise InvalidDataError, or leave them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per channel, by won value (highest first): ``channel`` (named
        after the column), ``leads`` (int64, deals created), ``won``,
        ``open`` (int64), ``lead_to_won``, ``lead_to_won_low``,
        ``lead_to_won_high`` (float64, won / leads with the Wilson interval:
        the share of a channel's leads that were won, not the win rate over
        closed deals), ``won_value`` (float64, amount won by the won deals
        that have one; NaN when none has), ``won_no_amount`` (int64, won deals
        without an amount: counted in ``won``, not in ``won_value``),
        ``won_value_per_lead``, ``avg_won_deal`` (float64, over the won deals
        with an amount).  With ``costs``: ``cost`` (float64, NaN for a channel
        with no cost row), ``cost_per_lead``, ``cost_per_won`` and ``roi`` =
        (won_value - cost) / cost (float64).

    Raises
    ------
    ColumnNotFoundError
        A named column is not in ``deals`` or ``costs``.
    InvalidDataError
        Duplicated or null deal ids, unparseable dates, negative amounts or
        costs, contradictory rows (unless ``errors="warn"``).
    InvalidParameterError
        ``costs`` is not a DataFrame.

    See Also
    --------
    win_rate, leaderboard

    Notes
    -----
    Conversion is on the created basis: open leads count as not (yet) won,
    so a channel that started recently looks worse than it will be; compare
    ``open`` across channels, or :func:`win_curve` with ``by=channel``.
    Channels that appear only in ``costs`` get a row with 0 leads (money
    spent for nothing is worth seeing).  Costs and deals should cover the
    same period.  Won deals without amount count as leads and wins; only
    their revenue is unknown (``won_no_amount``, with a warning).

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": [1, 2, 3, 4, 5],
    ...     "created_at": pd.to_datetime(["2025-01-01"] * 5),
    ...     "closed_at": pd.to_datetime(["2025-01-11", "2025-01-11", None, "2025-01-21", None]),
    ...     "status": ["won", "lost", "open", "won", "open"],
    ...     "amount": [100.0, 50.0, 80.0, 300.0, 20.0],
    ...     "channel": ["ads", "ads", "ads", "referral", "referral"],
    ... })
    >>> costs = pd.DataFrame({"channel": ["ads", "ads", "referral"], "cost": [20.0, 30.0, 60.0]})
    >>> res = fk.channel_yield(deals, costs=costs)
    >>> res[["channel", "leads", "won", "won_value", "cost", "roi"]]
        channel  leads  won  won_value  cost  roi
    0  referral      2    1    300.0  60.0  4.0
    1       ads      3    1    100.0  50.0  1.0
    """
    func = "channel_yield"
    cl = check_ci(ci, func=func)
    by_cols = [c for c in as_list(by, func=func) if c != channel]
    key_cols = [*by_cols, channel]
    d = read_deals(
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
        columns={"channel": channel},
        by=key_cols,
        as_of=as_of,
        currency=currency_column(columns),
        need=("won",),
    )
    keys = d.keys
    spend = None
    if costs is not None:
        c = check_frame(costs, table="costs", func=func)
        need_cols = {"channel": channel, "cost": cost} | {f"by ({b})": b for b in by_cols}
        if by_cols and not set(by_cols) <= set(c.columns):
            absent = [b for b in by_cols if b not in c.columns]
            msg = (
                f"channel_yield(by={by_cols!r}) splits the costs by group: the costs table needs "
                f"the column(s) {absent!r} as well as {channel!r} (the cost of each channel in "
                f"each group). Add them to costs, or leave by= out to see every group together."
            )
            raise ColumnNotFoundError(msg)
        require_columns(c, need_cols, table="costs")
        values = as_amount(c, cost, table="costs", keyword="cost")
        if values.isna().any():
            warn_dropped(int(values.isna().sum()), len(c), f"costs[{cost!r}] is null", func=func)
        ccodes, ckeys = group_codes(c, key_cols)
        ok = values.notna().to_numpy()
        spend_by_key = grouped_sum(ccodes[ok], values.to_numpy()[ok], len(ckeys))
        cost_index = pd.MultiIndex.from_frame(ckeys[key_cols])
        extra = ckeys[~cost_index.isin(pd.MultiIndex.from_frame(keys[key_cols]))]
        if len(extra):
            keys = pd.concat([keys, extra], ignore_index=True)
        pos = cost_index.get_indexer(pd.MultiIndex.from_frame(keys[key_cols]))
        spend = np.where(pos >= 0, spend_by_key[pos], np.nan)
    g = len(keys)
    amounts = d.amount if d.amount is not None else np.zeros(len(d.outcome))
    is_won = d.outcome == WON
    # a won deal without an amount is still a lead and a win: only its revenue is unknown
    unknown = is_won & np.isnan(amounts)
    if unknown.any():
        warn_dropped(
            int(unknown.sum()),
            len(amounts),
            "they are won and have no amount (counted as leads and wins, not in won_value; "
            "see won_no_amount)",
            func=func,
        )
    known = is_won & ~unknown
    leads = grouped_count(d.codes, g)
    n_won = grouped_count(d.codes[is_won], g)
    n_known = grouped_count(d.codes[known], g)
    revenue = grouped_sum(d.codes[known], amounts[known], g)
    revenue = np.where((n_won > 0) & (n_known == 0), np.nan, revenue)
    lo, hi = wilson_interval(n_won, leads, cl)
    measures: dict[str, Any] = {
        "leads": leads,
        "won": n_won,
        "open": grouped_count(d.codes[d.outcome == OPEN], g),
        "lead_to_won": _rate(n_won, leads),
        "lead_to_won_low": lo,
        "lead_to_won_high": hi,
        "won_value": revenue,
        "won_no_amount": n_won - n_known,
        "won_value_per_lead": _rate(revenue, leads),
        "avg_won_deal": _rate(revenue, n_known),
    }
    if spend is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            roi = np.where(spend > 0, (revenue - spend) / spend, np.nan)
        measures |= {
            "cost": spend,
            "cost_per_lead": _rate(spend, leads),
            "cost_per_won": _rate(spend, n_won),
            "roi": roi,
        }
    out = with_keys(keys, measures)
    # by won value (highest first), within each by-group (groups sorted)
    value_key = np.nan_to_num(-out["won_value"].to_numpy(dtype=np.float64), nan=np.inf)
    if by_cols:
        group_pos, _ = group_codes(out, by_cols)
        order = np.lexsort((value_key, group_pos))
    else:
        order = np.argsort(value_key, kind="stable")
    result: pd.DataFrame = out.iloc[order].reset_index(drop=True)
    return result
