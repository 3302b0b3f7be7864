"""Event-funnel analyses built on the funnel engine: conversion by entry period, paths.

* :func:`conversion_over_time`: the funnel of each calendar period of entry
  (the period of the winning chain's step-1 event), with maturity.
* :func:`next_events`: what entities did after the step where they stopped
  (or between two steps).

Both reduce the log with the engine of :mod:`funnelkit.events` (one
implementation of chains) and aggregate its per-entity table.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from funnelkit._dask import is_dask
from funnelkit._kernels import NAT
from funnelkit._periods import period_starts
from funnelkit._validate import (
    as_list,
    check_ci,
    check_date,
    check_frame,
    param_error,
    require_columns,
)
from funnelkit.columns import Columns, takes_columns
from funnelkit.errors import InvalidParameterError
from funnelkit.events import (
    I64,
    Attribution,
    Count,
    Exclude,
    Order,
    Step,
    Ties,
    _compute,
    _conversion_table,
    _dask_entity_map,
    _dask_latest,
    _entity_table,
    _options,
    _positions_in,
    _prepare,
    _sort_entities,
    _sorted_distinct,
    _time_ns,
)

__all__ = ["conversion_over_time", "next_events"]

PERIOD_COLUMN = "period"


def _check_period(period: Any, *, func: str) -> str:
    """A pandas period alias ("D", "W", "M", "Q", "Y", "W-MON", ...)."""
    expected = "a pandas period alias such as 'D', 'W', 'W-MON', 'M', 'Q' or 'Y'"
    if not isinstance(period, str):
        raise param_error(func, "period", expected, period)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pd.Series(pd.to_datetime(["2024-01-01"])).dt.to_period(period)
    except (ValueError, TypeError, FutureWarning, DeprecationWarning):
        raise param_error(func, "period", expected, period) from None
    return period


def _period_starts(
    part: pd.DataFrame, time: str, period: str, column: str, *, categorical: bool = False
) -> pd.DataFrame:
    """``part`` with a column holding the start of each row's calendar period.

    See :func:`funnelkit._periods.period_starts`.  A shallow copy: the input
    frame is not modified.
    """
    t_ns, tz = _time_ns(part, time)
    starts = period_starts(t_ns, tz, period, categorical=categorical)
    out = part.copy(deep=False)
    if isinstance(starts, pd.Series):
        starts = starts.set_axis(part.index)
    out[column] = starts
    return cast(pd.DataFrame, out)


@takes_columns()
def conversion_over_time(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
    period: str = "W",
    entity: str = "user_id",
    time: str = "timestamp",
    event: str = "event",
    window: pd.Timedelta | str | int | None = None,
    order: Order = "ordered",
    ties: Ties = "allow",
    by: str | Sequence[str] | None = None,
    attribution: Attribution = "first",
    dropna: bool = False,
    exclude: Exclude = None,
    step_windows: Sequence[pd.Timedelta | str | None] | None = None,
    count: Count = "entities",
    hold: str | Sequence[str] | None = None,
    as_of: pd.Timestamp | str | None = None,
    mature_only: bool = False,
    ci: float = 0.95,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """The funnel of each entry period: entities, conversion and maturity per (period, step).

    Parameters
    ----------
    events : pandas.DataFrame or dask.dataframe.DataFrame
        The event log: one row per event of an entity.  A Dask DataFrame
        (``funnelkit[dask]``) gives the same result, computed partition by
        partition after a shuffle by entity (see ``docs/dask.md``).
    steps : list of str or list of lists of str
        The funnel's steps in order.  Each item is an event name, or a list of
        event names any of which fills the step (labelled ``"a | b"``).
    period : str, default="W"
        Calendar period of entry, a pandas period alias: ``"D"``, ``"W"``
        (weeks starting on Monday), ``"W-SAT"`` (weeks ending on Saturday),
        ``"M"``, ``"Q"``, ``"Y"``.  Cut in the data's time zone.
    entity : str, default="user_id"
        Column that identifies the entity (a user, a lead, a prospect).
    time : str, default="timestamp"
        Column holding the event time: datetime64 of any unit or time zone, or ISO 8601 strings.
    event : str, default="event"
        Column holding the event name.
    window : Timedelta, str or 0, optional
        Longest time from a chain's step-1 event to its last step (inclusive),
        e.g. ``"7D"``; None means no limit, ``0`` means all steps at one instant.
    order : {"ordered", "strict", "any"}, default="ordered"
        ``"ordered"``: steps in order, other events may come between;
        ``"strict"``: between two consecutive steps only repeats of the first of
        them may occur; ``"any"``: steps in any order within one window.
    ties : {"allow", "strict"}, default="allow"
        ``"allow"``: an event at the same time as the previous step counts as
        after it (as ClickHouse does); ``"strict"``: each step must be strictly
        later than the previous one.  Ignored when ``order="any"``.
    by : str or list of str, optional
        Column(s) to group by (read as ``attribution`` says; the period is
        always that of the winning chain's step-1 event); the groups come
        before the period.
    attribution : {"first", "last"}, default="first"
        Where a ``by`` value that varies within an entity is read: at the
        step-1 event of the entity's winning chain (``"first"``) or at its
        deepest step reached (``"last"``).
    dropna : bool, default=False
        Leave out rows whose entity is missing (with a warning) instead of
        raising :class:`~funnelkit.InvalidDataError`.
    exclude : dict or list of pairs, optional
        Exclusion steps: ``{"cancel": (1, 3)}`` (or ``[(["cancel", "refund"],
        (1, 3))]``) makes a chain invalid when a ``cancel`` event lies strictly
        between its step-1 and step-3 events (steps 1-based, ``(1,
        len(steps))`` the whole funnel).  The entity keeps its deepest valid
        chain, so a later clean attempt still counts.
    step_windows : list of (Timedelta, str or None), optional
        One limit per transition: step k + 1 must come within
        ``step_windows[k - 1]`` of step k (inclusive; None: no limit).
        Combines with ``window``.
    count : {"entities", "attempts"}, default="entities"
        ``"attempts"``: an entity re-enters the funnel at its first step-1
        event after its previous attempt ended (by completing the last step,
        or when ``window`` from the attempt's first step-1 event ran out), and
        every attempt counts once (the ``entities`` columns then count
        attempts).
    hold : str or list of str, optional
        Column(s) held constant: every step of a chain carries the same
        value(s); an entity's level is the best over the values it has
        (missing values form a value of their own).
    as_of : Timestamp or str, optional
        Observation date: events after it are ignored, and maturity is
        judged at it (default: the latest event).  Read in the data's time
        zone.
    mature_only : bool, default=False
        Count only entities whose funnel is closed by ``as_of``: converted,
        or the window from their last step-1 event had elapsed (with
        ``count="attempts"``: attempts whose window had run out).  Needs a
        window.
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
        One row per (group, period, step), groups and periods sorted, steps in
        the order given; only periods in which some entity entered:

        - the ``by`` columns;
        - ``period`` (datetime64[ns], in the data's time zone): the start of
          the calendar period of the winning chain's step-1 event;
        - ``step``, ``entities``, ``conversion``, ``overall``, ``dropped``,
          ``conversion_low``, ``conversion_high``, ``overall_low``,
          ``overall_high``, ``median_time``: as in
          :func:`funnelkit.conversion`, for the entities that entered in that
          period;
        - ``mature`` (bool): whether the window (without one, the sum of the
          step windows) from the end of the period had elapsed by ``as_of``,
          so that every entity of the period had its full window; False for
          every period without a window.

    Raises
    ------
    ColumnNotFoundError
        A column named by ``entity``, ``time``, ``event``, ``by`` or ``hold``
        is missing.
    InvalidDataError
        ``entity`` has missing values (unless ``dropna=True``) or ``time`` does
        not hold datetimes.
    InvalidParameterError
        ``period`` is not a period alias, a ``by`` column is named
        ``"period"``, or another parameter is invalid (as in
        :func:`funnelkit.conversion`).

    See Also
    --------
    conversion : The same table for all entry periods together.
    plot_conversion_over_time : Conversion per period, open periods marked.

    Notes
    -----
    An entity counts in the period of its winning chain's step-1 event (with
    ``count="attempts"``, each attempt in the period of its own).  The latest
    periods are usually immature: their entities have not all had the full
    window to convert, so their conversion is biased low; compare only
    ``mature`` periods, or pass ``as_of``.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 2, 3, 3, 4],
    ...     "timestamp": pd.to_datetime(["2025-01-06", "2025-01-07", "2025-01-08",
    ...                                  "2025-01-13", "2025-01-14", "2025-01-20"]),
    ...     "event": ["visit", "buy", "visit", "visit", "buy", "visit"],
    ... })
    >>> res = fk.conversion_over_time(ev, ["visit", "buy"], period="W", window="3D")

    The week of 13 January ends on the 20th; with 3 days of window its
    entities are complete on the 23rd, after the latest event (the 20th):

    >>> res[["period", "step", "entities", "conversion", "mature"]]
          period   step  entities  conversion  mature
    0 2025-01-06  visit         2         1.0    True
    1 2025-01-06    buy         1         0.5    True
    2 2025-01-13  visit         1         1.0   False
    3 2025-01-13    buy         1         1.0   False
    4 2025-01-20  visit         1         1.0   False
    5 2025-01-20    buy         0         0.0   False
    """
    func = "conversion_over_time"
    period_ = _check_period(period, func=func)
    ci_ = check_ci(ci, func=func)
    by_cols = as_list(by)
    if PERIOD_COLUMN in by_cols:
        msg = (
            f"The 'by' parameter of {func} names a column {PERIOD_COLUMN!r}, the name of the "
            "result's period column. Rename that column first."
        )
        raise InvalidParameterError(msg)
    dask_input = is_dask(events)
    if dask_input:
        from funnelkit import _dask

        meta = _dask.meta_frame(events, func=func)
    else:
        meta = check_frame(events, table="events", func=func)
    require_columns(meta, {"time": time}, table="events")  # before the period is computed
    column = PERIOD_COLUMN
    while column in meta.columns:
        column = f"_{column}"
    if dask_input:
        # the input's own template: an entity index (and its divisions) is kept
        template = _period_starts(cast(Any, events)._meta, time, period_, column)
        framed = cast(Any, events).map_partitions(
            _period_starts, time, period_, column, meta=template
        )
    kw: dict[str, Any] = dict(entity=entity, time=time, event=event, window=window, order=order)
    kw.update(ties=ties, by=[*by_cols, column], attribution=attribution, dropna=dropna)
    if dask_input:
        kw.update(first_by=(column,))  # each partition's rows carry their period
    else:
        # the period of each table row's step-1 time, computed on the table (no column
        # over every row of the log)
        framed = meta
        kw.update(start_period=(column, period_))
    kw.update(exclude=exclude, step_windows=step_windows, count=count, hold=hold, as_of=as_of)
    kw.update(mature_only=mature_only)
    opts, g = _compute(func, framed, steps, kw)
    out = _conversion_table(opts, g, ci_)
    out = out.rename(columns={column: PERIOD_COLUMN})
    period_col = out[PERIOD_COLUMN]
    if isinstance(period_col.dtype, pd.CategoricalDtype):  # the starts as datetimes again
        out[PERIOD_COLUMN] = period_col.astype(period_col.cat.categories.dtype)
    # maturity: the window from the end of each period had elapsed by as_of
    horizon = opts.horizon
    cut = _cut(events, meta, opts.entity, time, as_of, dask_input, func=func)
    starts = out[PERIOD_COLUMN]
    if len(out) and horizon is not None and cut is not None:
        local = starts.dt.tz_localize(None) if starts.dt.tz is not None else starts
        ends = (local.dt.to_period(period_) + 1).dt.start_time.astype("datetime64[ns]")
        if starts.dt.tz is not None:
            ends = ends.dt.tz_localize(starts.dt.tz, ambiguous=True, nonexistent="shift_forward")
            ends = ends.dt.tz_convert("UTC").dt.tz_localize(None)
        end_ns = ends.to_numpy(dtype="datetime64[ns]").view(np.int64)
        out["mature"] = end_ns + np.int64(horizon) <= np.int64(cut) + 1
    else:
        out["mature"] = np.zeros(len(out), dtype=bool)
    return cast(pd.DataFrame, out)


def _cut(
    events: Any,
    meta: pd.DataFrame,
    entity: str,
    time: str,
    as_of: Any,
    dask_input: bool,
    *,
    func: str,
) -> int | None:
    """The observation date in ns (UTC): ``as_of``, or the latest event; None if no events."""
    if dask_input:
        latest, tz = _dask_latest(events, entity, time)
    else:
        t_ns, tz = _time_ns(meta, time)
        ok = t_ns[(t_ns != NAT) & ~meta[entity].isna().to_numpy()]
        latest = int(ok.max()) if ok.size else None
    if as_of is None:
        return latest
    ts = check_date(as_of, tz=tz, name="as_of", func=func)
    if ts.tz is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(ts.as_unit("ns").value)


WHO = ("dropped", "converted", "all")
NONE_PATH = "(no further events)"


@takes_columns()
def next_events(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
    after_step: int = 1,
    depth: int = 3,
    who: Literal["dropped", "converted", "all"] = "dropped",
    between: bool = False,
    top: int | None = 10,
    entity: str = "user_id",
    time: str = "timestamp",
    event: str = "event",
    window: pd.Timedelta | str | int | None = None,
    order: Order = "ordered",
    ties: Ties = "allow",
    by: str | Sequence[str] | None = None,
    attribution: Attribution = "first",
    dropna: bool = False,
    exclude: Exclude = None,
    step_windows: Sequence[pd.Timedelta | str | None] | None = None,
    count: Count = "entities",
    hold: str | Sequence[str] | None = None,
    as_of: pd.Timestamp | str | None = None,
    mature_only: bool = False,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """What entities did next: the most common sequences of events after a funnel step.

    Parameters
    ----------
    events : pandas.DataFrame or dask.dataframe.DataFrame
        The event log: one row per event of an entity.  A Dask DataFrame
        (``funnelkit[dask]``) gives the same result, computed partition by
        partition after a shuffle by entity (see ``docs/dask.md``).
    steps : list of str or list of lists of str
        The funnel's steps in order.  Each item is an event name, or a list of
        event names any of which fills the step (labelled ``"a | b"``).
    after_step : int, default=1
        The step k (1-based) after whose event the sequences start (the time
        of step k in the entity's winning chain).
    depth : int, default=3
        How many events make a sequence (fewer when the entity has fewer).
    who : {"dropped", "converted", "all"}, default="dropped"
        The entities studied: those whose chain stopped at step k
        (``reached == k``), those that went on (``reached > k``), or all that
        reached step k.
    between : bool, default=False
        Only the events strictly between step k and step k + 1, of the
        entities that went on (``who`` must be ``"converted"``): what
        converters did on the way.
    top : int or None, default=10
        Keep the ``top`` most common sequences (None: all).
    entity : str, default="user_id"
        Column that identifies the entity (a user, a lead, a prospect).
    time : str, default="timestamp"
        Column holding the event time: datetime64 of any unit or time zone, or ISO 8601 strings.
    event : str, default="event"
        Column holding the event name.
    window : Timedelta, str or 0, optional
        Longest time from a chain's step-1 event to its last step (inclusive),
        e.g. ``"7D"``; None means no limit, ``0`` means all steps at one instant.
    order : {"ordered", "strict", "any"}, default="ordered"
        ``"ordered"``: steps in order, other events may come between;
        ``"strict"``: between two consecutive steps only repeats of the first of
        them may occur; ``"any"``: steps in any order within one window.
    ties : {"allow", "strict"}, default="allow"
        ``"allow"``: an event at the same time as the previous step counts as
        after it (as ClickHouse does); ``"strict"``: each step must be strictly
        later than the previous one.  Ignored when ``order="any"``.
    by : str or list of str, optional
        Column(s) to group by; one block of sequences per group, groups
        sorted, missing values a group of their own.  ``top``, ``share`` and
        ``entities_studied`` are per group.
    attribution : {"first", "last"}, default="first"
        Where a ``by`` value that varies within an entity is read: at the
        step-1 event of the entity's winning chain (``"first"``) or at its
        deepest step reached (``"last"``).
    dropna : bool, default=False
        Leave out rows whose entity is missing (with a warning) instead of
        raising :class:`~funnelkit.InvalidDataError`.
    exclude : dict or list of pairs, optional
        Exclusion steps: ``{"cancel": (1, 3)}`` (or ``[(["cancel", "refund"],
        (1, 3))]``) makes a chain invalid when a ``cancel`` event lies strictly
        between its step-1 and step-3 events (steps 1-based, ``(1,
        len(steps))`` the whole funnel).  The entity keeps its deepest valid
        chain, so a later clean attempt still counts.
    step_windows : list of (Timedelta, str or None), optional
        One limit per transition: step k + 1 must come within
        ``step_windows[k - 1]`` of step k (inclusive; None: no limit).
        Combines with ``window``.
    count : {"entities", "attempts"}, default="entities"
        ``"attempts"``: an entity re-enters the funnel at its first step-1
        event after its previous attempt ended (by completing the last step,
        or when ``window`` from the attempt's first step-1 event ran out), and
        every attempt is studied on its own: its next events follow its own
        step-k event (``entities`` and ``entities_studied`` then count
        attempts).
    hold : str or list of str, optional
        Column(s) held constant: every step of a chain carries the same
        value(s); an entity's level is the best over the values it has
        (missing values form a value of their own).
    as_of : Timestamp or str, optional
        Observation date: events after it are ignored, and maturity is
        judged at it (default: the latest event).  Read in the data's time
        zone.
    mature_only : bool, default=False
        Study only entities whose funnel is closed by ``as_of``: converted,
        or the window from their last step-1 event had elapsed (with
        ``count="attempts"``: attempts whose window had run out).  Needs a
        window.  With ``who="dropped"`` this keeps the entities that have
        really stopped, not those still inside their window.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per (group, sequence), groups sorted, within a group the
        most common first (ties: in order of the sequences' text):

        - the ``by`` columns;
        - ``step`` (str): the label of step k;
        - ``path`` (str): the events joined by ``" → "``, or ``"(no further
          events)"``;
        - ``event_1`` ... ``event_<depth>`` (object): the events, None past
          the end of a shorter sequence;
        - ``entities`` (int64): entities whose next events are this sequence;
        - ``share`` (float64): of the group's entities studied (all of them,
          not only the ``top``);
        - ``cumulative_share`` (float64): of this and the more common ones;
        - ``entities_studied`` (int64): the group's entities studied.

    Raises
    ------
    ColumnNotFoundError
        A column named by ``entity``, ``time``, ``event``, ``by`` or ``hold``
        is missing.
    InvalidDataError
        ``entity`` has missing values (unless ``dropna=True``) or ``time`` does
        not hold datetimes.
    InvalidParameterError
        ``after_step``, ``depth``, ``who``, ``between`` or ``top`` is invalid,
        a ``by`` column has the name of a result column, or another
        parameter is invalid (as in :func:`funnelkit.funnel_entities`).

    See Also
    --------
    funnel_entities : The per-entity table (step times) this starts from.
    plot_next_events : The sequences as bars.

    Notes
    -----
    "After" is strictly later in time than the step-k event of the entity's
    winning chain (events at the same instant are left out, since their order
    is not known); events at one instant keep their input order.  Every event
    of the entity counts, funnel steps included.  Each studied entity has one
    sequence, so ``entities`` add up to ``entities_studied`` over a group's
    sequences (before ``top``).  With ``count="attempts"`` an attempt's
    next events may include those of the entity's next attempt.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 1, 2, 2, 2, 3, 3],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03",
    ...                                  "2025-01-01", "2025-01-02", "2025-01-04",
    ...                                  "2025-01-01", "2025-01-02"]),
    ...     "event": ["cart", "pricing", "exit", "cart", "pricing", "exit", "cart", "buy"],
    ... })
    >>> res = fk.next_events(ev, ["cart", "buy"], depth=2)
    >>> res[["path", "entities", "share"]]
                  path  entities  share
    0  pricing → exit         2    1.0

    Per plan: each group has its own sequences and shares.

    >>> ev["plan"] = ["free"] * 3 + ["pro"] * 3 + ["free"] * 2
    >>> res = fk.next_events(ev, ["cart", "buy"], depth=2, by="plan")
    >>> res[["plan", "path", "entities", "share", "entities_studied"]]
       plan            path  entities  share  entities_studied
    0  free  pricing → exit         1    1.0                 1
    1   pro  pricing → exit         1    1.0                 1
    """
    func = "next_events"
    names_count = _n_steps(steps, func=func)
    if (
        isinstance(after_step, bool)
        or not isinstance(after_step, int | np.integer)
        or not 1 <= after_step <= names_count
    ):
        raise param_error(func, "after_step", f"an integer from 1 to {names_count}", after_step)
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1:
        raise param_error(func, "depth", "a positive integer", depth)
    if who not in WHO:
        raise param_error(func, "who", "one of " + ", ".join(repr(w) for w in WHO), who)
    if not isinstance(between, bool | np.bool_):
        raise param_error(func, "between", "True or False", between)
    if top is not None and (
        isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1
    ):
        raise param_error(func, "top", "a positive integer or None", top)
    k = int(after_step)
    if (who == "converted" or between) and k == names_count:
        raise param_error(
            func, "after_step", f"a step with a next step (1 to {names_count - 1})", after_step
        )
    if between and who != "converted":
        msg = (
            f"The 'between' parameter of {func} looks at converters only: pass "
            f"who='converted' with between=True (got who={who!r})."
        )
        raise InvalidParameterError(msg)
    by_cols = as_list(by)
    taken = {"step", "path", "entities", "share", "cumulative_share", "entities_studied"}
    taken |= {f"event_{i + 1}" for i in range(int(depth))}
    clash = [c for c in by_cols if c in taken]
    if clash:
        msg = (
            f"The 'by' parameter of {func} names a column {clash[0]!r}, the name of one of the "
            "result's columns. Rename that column first."
        )
        raise InvalidParameterError(msg)
    kw: dict[str, Any] = dict(entity=entity, time=time, event=event, window=window, order=order)
    kw.update(ties=ties, dropna=dropna, exclude=exclude, step_windows=step_windows, as_of=as_of)
    kw.update(hold=hold, by=by_cols or None, attribution=attribution, count=count)
    kw.update(mature_only=mature_only)
    offset = 3 if count == "attempts" else 2  # entity, (attempt), reached, then the steps
    reduce = functools.partial(
        _path_counts,
        k,
        int(depth),
        who,
        bool(between),
        entity,
        time,
        event,
        by_cols,
        offset,
        names_count,
    )
    if is_dask(events):
        labels, parts = _dask_entity_map(events, list(steps), reduce, **kw)
        if not parts:
            meta = cast(pd.DataFrame, cast(Any, events)._meta)
            parts = [reduce(meta, _no_rows(meta, by_cols, offset, names_count))]
        counts = pd.concat(parts, ignore_index=True)
    else:
        df = check_frame(events, table="events", func=func)
        opts = _options(df, steps, func=func, **kw)
        # the studied entities reached step k >= 1: the step rows hold all of them
        prep, _ = _prepare(df, opts, func=func, all_rows=opts.order == "strict")
        per = _sort_entities(_entity_table(prep, opts), entity)
        labels = list(opts.labels)
        cut = None if as_of is None else _cut(df, df, entity, time, as_of, False, func=func)
        rows = df if cut is None else _before(df, time, cut)
        counts = reduce(rows, per)
    return _path_table(counts, labels[k - 1], int(depth), top, by_cols)


def _n_steps(steps: Any, *, func: str) -> int:
    from funnelkit.events import _parse_steps

    return len(_parse_steps(steps, func=func)[0])


def _no_rows(meta: pd.DataFrame, by: list[Any], offset: int, n_steps: int) -> pd.DataFrame:
    """An empty per-entity table of the shape :func:`_path_counts` reads."""
    cols: dict[Any, Any] = {f"_c{i}": pd.Series([], dtype=np.int64) for i in range(offset)}
    for j in range(n_steps):
        cols[f"_s{j}"] = pd.Series([], dtype="datetime64[ns]")
    per = pd.DataFrame(cols)
    for c in by:
        per[c] = meta[c].iloc[:0].to_numpy()
    return cast(pd.DataFrame, per)


def _before(df: pd.DataFrame, time: str, cut: int) -> pd.DataFrame:
    t_ns, _ = _time_ns(df, time)
    kept: pd.DataFrame = df.iloc[np.flatnonzero((t_ns != NAT) & (t_ns <= cut))]
    return kept


def _path_counts(
    k: int,
    depth: int,
    who: str,
    between: bool,
    entity: str,
    time: str,
    event: str,
    by: list[Any],
    offset: int,
    n_steps: int,
    rows: pd.DataFrame,
    per: pd.DataFrame,
) -> pd.DataFrame:
    """Rows studied per (group, sequence of next events), for the rows of ``per`` (additive).

    ``per`` is the engine's per-entity (or per-attempt) table of the entities
    of ``rows``: its deepest step reached at column ``offset - 1``, its step
    times from column ``offset``, then the ``by`` columns.  Each studied row
    of ``per`` takes the first ``depth`` events of its entity strictly after
    its step-``k`` time (and, with ``between``, strictly before its step
    ``k + 1``): one sorted search per studied row on the entity's events
    sorted by (entity, time, input order), no loop over entities.
    """
    cols = [f"event_{i + 1}" for i in range(depth)]
    reached = per.iloc[:, offset - 1].to_numpy(dtype=np.int64)
    if who == "dropped":
        study = reached == k
    elif who == "converted":
        study = reached > k
    else:
        study = reached >= k
    studied = np.flatnonzero(study)
    if studied.size == 0:
        empty: dict[str, Any] = {c: per[c].iloc[:0] for c in by}
        empty.update({c: pd.Series([], dtype=object) for c in cols})
        empty["entities"] = pd.Series([], dtype=np.int64)
        return cast(
            pd.DataFrame, pd.DataFrame({c: v.reset_index(drop=True) for c, v in empty.items()})
        )
    step_cols = list(range(offset, offset + n_steps))
    t_k = _column_ns(per.iloc[studied, step_cols[k - 1]])
    t_next = _column_ns(per.iloc[studied, step_cols[k]]) if between else None
    row_ent, stud_ent, n_ids = _entity_index(per[entity], rows[entity], studied)
    t_ns, _ = _time_ns(rows, time)
    # only rows strictly after some studied step-k time of their entity can follow it
    after = np.full(n_ids, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(after, stud_ent, t_k)
    keep = (row_ent >= 0) & (t_ns != NAT)
    keep &= t_ns > after[np.maximum(row_ent, 0)]
    pos = np.flatnonzero(keep)
    # one sort of the rows and the studied rows' step-k times together, by (entity,
    # time, rows before a query at its own time, input order): the rows that follow a
    # query are the next rows of its entity
    n_r, n_q = pos.size, studied.size
    order = np.lexsort(
        (
            np.concatenate([pos, np.zeros(n_q, dtype=np.int64)]),
            np.concatenate([np.zeros(n_r, dtype=np.int8), np.ones(n_q, dtype=np.int8)]),
            np.concatenate([t_ns[pos], t_k]),
            np.concatenate([row_ent[pos], stud_ent]),
        )
    )
    is_query = order >= n_r
    at = np.flatnonzero(is_query)
    first = np.empty(n_q, dtype=np.int64)
    first[order[at] - n_r] = at - np.arange(at.size, dtype=np.int64)  # rows before it
    pos = pos[order[~is_query]]
    s_ent = row_ent[pos].astype(np.int64)
    s_t = t_ns[pos]
    idx = first[:, None] + np.arange(depth, dtype=np.int64)[None, :]
    valid = idx < s_t.size
    idx = np.minimum(idx, max(s_t.size - 1, 0))
    if s_t.size:
        valid &= s_ent[idx] == stud_ent[:, None]
        if t_next is not None:
            valid &= s_t[idx] < t_next[:, None]
    names, uniques = _event_names(rows[event], pos)
    grid = np.where(valid, names[idx] if s_t.size else -1, -1).astype(np.int64)
    if by:
        values = per[by].iloc[studied].reset_index(drop=True)
        gcode = values.groupby(by, dropna=False, sort=False, observed=True).ngroup().to_numpy()
        group_first = np.full(int(gcode.max()) + 1, len(values), dtype=np.int64)
        np.minimum.at(group_first, gcode, np.arange(len(values), dtype=np.int64))
        keyed = np.column_stack([gcode.astype(np.int64), grid])
    else:
        keyed = grid
    paths, counts = _distinct_rows(keyed, len(uniques))
    labels = np.asarray([*list(uniques), None], dtype=object)  # -1: past the end
    body = paths[:, 1:] if by else paths
    out = pd.DataFrame({c: labels[body[:, i]] for i, c in enumerate(cols)})
    if by:
        groups = values.iloc[group_first[paths[:, 0]]].reset_index(drop=True)
        out = pd.concat([groups, out], axis=1)
    out["entities"] = counts.astype(np.int64)
    return cast(pd.DataFrame, out)


def _entity_index(ids: pd.Series, row_ids: pd.Series, studied: I64) -> tuple[I64, I64, int]:
    """Entity number (-1: not in ``ids``) of each row, of each studied row, and how many.

    Integer and categorical ids go through a lookup table over their codes;
    other ids through a hash lookup.
    """
    a = ids.cat.codes.to_numpy() if isinstance(ids.dtype, pd.CategoricalDtype) else ids.to_numpy()
    b = (
        row_ids.cat.codes.to_numpy()
        if isinstance(row_ids.dtype, pd.CategoricalDtype) and row_ids.dtype == ids.dtype
        else row_ids.to_numpy()
    )
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":  # tables where the ranges allow
        a64, b64 = a.astype(np.int64, copy=False), b.astype(np.int64, copy=False)
        uniq = _sorted_distinct(a64)
        return _positions_in(uniq, b64), _positions_in(uniq, a64[studied]), int(uniq.size)
    index = pd.Index(ids).unique()
    row_ent = index.get_indexer(row_ids).astype(np.int64)
    stud_ent = index.get_indexer(ids.iloc[studied]).astype(np.int64)
    return row_ent, stud_ent, len(index)


def _event_names(events: pd.Series, pos: I64) -> tuple[I64, Any]:
    """Codes of the events at ``pos`` (-1: missing) and the names they stand for."""
    if isinstance(events.dtype, pd.CategoricalDtype):
        return events.cat.codes.to_numpy().astype(np.int64)[pos], list(events.cat.categories)
    codes, uniques = pd.factorize(events.take(pos).astype(object), use_na_sentinel=True)
    return codes.astype(np.int64), list(uniques)


def _distinct_rows(keyed: I64, n_names: int) -> tuple[I64, I64]:
    """The distinct rows of an integer matrix and their counts (``np.unique(axis=0)``).

    Each row (a group code, then event codes from -1) is one number in base
    ``n_names + 1`` when that fits in 62 bits: one 1-D count, not a sort of rows.
    """
    if keyed.size == 0:
        return keyed.reshape(0, keyed.shape[1]), np.zeros(0, dtype=np.int64)
    shifted = keyed + 1  # -1 (past the end) becomes 0
    base = max(n_names + 1, int(shifted.max()) + 1, 2)
    if keyed.shape[1] * math.log2(base) < 62:
        weights = base ** np.arange(keyed.shape[1] - 1, -1, -1, dtype=np.int64)
        number = shifted @ weights
        uniq, counts = np.unique(number, return_counts=True)
        digits = (uniq[:, None] // weights[None, :]) % base
        return (digits - 1).astype(np.int64), counts.astype(np.int64)
    paths, counts = np.unique(keyed, axis=0, return_counts=True)
    return paths, counts.astype(np.int64)


def _column_ns(col: pd.Series) -> I64:
    from funnelkit._validate import datetime_to_ns

    return datetime_to_ns(col)


def _path_table(
    counts: pd.DataFrame, step: str, depth: int, top: int | None, by: list[Any]
) -> pd.DataFrame:
    """The ranked table of :func:`next_events` from (possibly several partitions') counts.

    Groups sorted (missing last), within a group the most common sequences
    first; ``top``, shares and ``entities_studied`` are per group.
    """
    cols = [f"event_{i + 1}" for i in range(depth)]
    if len(counts):
        summed = counts.groupby(
            [*by, *cols], dropna=False, sort=False, as_index=False, observed=True
        )["entities"].sum()
        counts = cast(pd.DataFrame, summed).reset_index(drop=True)
    paths = [
        " → ".join(str(v) for v in row if v is not None and not pd.isna(v)) or NONE_PATH
        for row in counts[cols].itertuples(index=False)
    ]  # one string per distinct sequence (the result's rows), not per entity
    entities = counts["entities"].to_numpy(dtype=np.int64)
    if by and len(counts):
        group = counts.groupby(by, dropna=False, sort=True, observed=True).ngroup().to_numpy()
        group = group.astype(np.int64)
    else:
        group = np.zeros(len(counts), dtype=np.int64)
    totals = np.bincount(group, weights=entities).astype(np.int64) if len(counts) else group
    out = pd.DataFrame({c: counts[c].reset_index(drop=True) for c in by})
    out["step"] = pd.Series([step] * len(counts), dtype=str)
    out["path"] = pd.Series(paths, dtype=object)  # object also on 0 rows
    for c in cols:  # object with None past the end (pandas 3 would infer str and NaN)
        events_c = counts[c].astype(object).where(counts[c].notna(), None).to_numpy()
        out[c] = pd.Series(events_c, index=out.index, dtype=object)
    out["entities"] = entities
    order = np.lexsort((out["path"].to_numpy(dtype=str), -entities, group))
    out, group = out.iloc[order].reset_index(drop=True), group[order]
    first = np.r_[0, np.flatnonzero(np.diff(group)) + 1] if group.size else group
    rank = np.arange(group.size) - np.repeat(first, np.diff(np.r_[first, group.size]))
    if top is not None:
        kept = rank < top
        out, group = out.loc[kept].reset_index(drop=True), group[kept]
    total = totals[group] if group.size else np.zeros(0, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(
            total > 0, out["entities"].to_numpy(np.float64) / np.maximum(total, 1), 0.0
        )
    out["share"] = share
    cum = pd.Series(share).groupby(group).cumsum().to_numpy() if group.size else share
    out["cumulative_share"] = cum
    out["entities_studied"] = total.astype(np.int64)
    return cast(pd.DataFrame, out)
