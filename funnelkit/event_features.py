"""Event-funnel analyses built on the funnel engine: conversion by entry period, paths.

* :func:`conversion_over_time`: the funnel of each calendar period of entry
  (the period of the winning chain's step-1 event), with maturity.
* :func:`next_events`: what entities did after the step where they stopped
  (or between two steps).

Both reduce the log with the engine of :mod:`funnelkit.events` (one
implementation of chains) and aggregate its per-entity table.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from funnelkit._dask import is_dask
from funnelkit._kernels import NAT
from funnelkit._validate import (
    as_list,
    check_ci,
    check_date,
    check_frame,
    param_error,
    require_columns,
)
from funnelkit.errors import InvalidParameterError
from funnelkit.events import (
    Count,
    Exclude,
    Order,
    Step,
    Ties,
    _compute,
    _conversion_table,
    _dask_latest,
    _time_ns,
)

__all__ = ["conversion_over_time"]

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


def _period_starts(part: pd.DataFrame, time: str, period: str, column: str) -> pd.DataFrame:
    """``part`` with a column holding the start of each row's calendar period.

    Periods are calendar periods in the data's time zone (a tz-aware column is
    cut on its local wall clock); the start keeps the zone.  A shallow copy:
    the input frame is not modified.
    """
    t_ns, tz = _time_ns(part, time)
    wall = pd.Series(t_ns.view("datetime64[ns]"), index=part.index)
    wall = wall.where(t_ns != NAT)
    if tz is not None:
        wall = wall.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
    starts = wall.dt.to_period(period).dt.start_time.astype("datetime64[ns]")
    if tz is not None:
        starts = starts.dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    out = part.copy(deep=False)
    out[column] = starts
    return cast(pd.DataFrame, out)


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
    dropna: bool = False,
    exclude: Exclude = None,
    step_windows: Sequence[pd.Timedelta | str | None] | None = None,
    count: Count = "entities",
    hold: str | Sequence[str] | None = None,
    as_of: pd.Timestamp | str | None = None,
    ci: float = 0.95,
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
        Column(s) to group by (read, like the period, at the step-1 event of
        the winning chain); the groups come before the period.
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
    ci : float, default=0.95
        Confidence level of the Wilson score intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (group, period, step), groups and periods sorted, steps in
        the order given; only periods in which some entity entered:

        - the ``by`` columns;
        - ``period`` (datetime64[ns], in the data's time zone): the start of
          the calendar period of the winning chain's step-1 event;
        - ``step``, ``entities``, ``conversion``, ``overall``, ``dropped``,
          ``conversion_low``, ``conversion_high``, ``median_time``: as in
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
        framed = cast(Any, events).map_partitions(
            _period_starts, time, period_, column, meta=_period_starts(meta, time, period_, column)
        )
    else:
        framed = _period_starts(meta, time, period_, column)
    kw: dict[str, Any] = dict(entity=entity, time=time, event=event, window=window, order=order)
    kw.update(ties=ties, by=[*by_cols, column], attribution="first", dropna=dropna)
    kw.update(exclude=exclude, step_windows=step_windows, count=count, hold=hold, as_of=as_of)
    opts, g = _compute(func, framed, steps, kw)
    out = _conversion_table(opts, g, ci_)
    out = out.rename(columns={column: PERIOD_COLUMN})
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
