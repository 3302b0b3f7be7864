"""Behaviour triggers and segment comparison on top of the event-funnel engine.

Both functions first reduce the event log to one row per entity with
:func:`funnelkit.funnel_entities` (the deepest step reached and the time of
each step of the winning chain) and never re-implement funnel logic.
:func:`triggers` then reduces (rows, per-entity table) to additive 2x2
counts (:func:`_trigger_counts`) and builds its table from them
(:func:`_trigger_table`); on a Dask log the same reduction runs on each
partition after the shuffle by entity, and the counts are summed.

* :func:`triggers`: among entities that reached a step, does doing a
  behaviour before the next step go with moving on more often?  2x2 tables
  per behaviour, odds ratios, Fisher exact tests, Holm adjustment.
* :func:`compare_segments`: does conversion at each step differ across segments?
  Chi-square test of homogeneity per transition, pairwise two-proportion
  tests (Holm), differences and Cohen's h.

Both measure association, not causation.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from scipy import stats

from funnelkit._dask import is_dask
from funnelkit._stats import holm, segment_vs_rest, two_proportion_test, wilson_interval
from funnelkit._validate import (
    as_datetime,
    as_list,
    check_by,
    check_ci,
    check_date,
    check_duration,
    check_fraction,
    check_frame,
    check_option,
    check_positive,
    closest,
    datetime_to_ns,
    param_error,
    require_columns,
)
from funnelkit.columns import Columns, takes_columns
from funnelkit.errors import FunnelkitWarning, InvalidParameterError
from funnelkit.events import _block, _dask_entity_map, _group_codes, funnel_entities

__all__ = ["compare_segments", "triggers"]

Step = str | Sequence[str]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

_NAT = np.iinfo(np.int64).min
_NEVER = np.iinfo(np.int64).max


def _step_names(steps: Any, *, func: str) -> list[list[str]]:
    """The event names of each step (a step is a name or a list of names)."""
    if isinstance(steps, str) or not isinstance(steps, Sequence) or len(steps) < 2:
        raise param_error(func, "steps", "a list of at least 2 steps", steps)
    out: list[list[str]] = []
    for step in steps:
        names = [step] if isinstance(step, str) else list(step)
        if not names:
            raise param_error(func, "steps", "a list of event names or lists of names", steps)
        out.append(names)
    return out


def _funnel_entities(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
    entity: str,
    time: str,
    event: str,
    window: Any,
    by: list[str] | None = None,
    as_of: pd.Timestamp | None = None,
    mature_only: bool = False,
    order: Any = "ordered",
    ties: Any = "allow",
    attribution: Any = "first",
    dropna: bool = False,
) -> pd.DataFrame:
    """The event-funnel engine's per-entity table (the one funnel implementation)."""
    return funnel_entities(
        events,
        list(steps),
        entity=entity,
        time=time,
        event=event,
        window=window,
        order=order,
        ties=ties,
        by=by or None,
        attribution=attribution,
        dropna=dropna,
        as_of=as_of,
        mature_only=mature_only,
    )


def _check_order(order: Any, *, func: str) -> str:
    """``"ordered"`` or ``"strict"``: a behaviour lies between two steps done in order."""
    if order == "any":
        msg = (
            f"{func} looks at what entities did between step k and step k + 1, which needs "
            "the steps in order: order='any' is not supported. Use order='ordered' (other "
            "events may come between steps) or order='strict'."
        )
        raise InvalidParameterError(msg)
    return str(order)


def _check_window(window: Any, *, func: str) -> pd.Timedelta | None:
    """A window as funnel_entities reads it: a duration, ``0`` or None."""
    if isinstance(window, int | np.integer) and not isinstance(window, bool) and window == 0:
        zero: pd.Timedelta = pd.Timedelta(0)
        return zero
    return check_duration(window, name="window", func=func)


def _step_times(per: pd.DataFrame, k: int) -> IntArray:
    """Nanoseconds of step ``k`` (0-based column after ``reached``); NaT -> ``_NAT``."""
    col = per.columns[2 + k]
    return datetime_to_ns(per[col])


@takes_columns()
def triggers(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
    at_step: int = 1,
    entity: str = "user_id",
    time: str = "timestamp",
    event: str = "event",
    window: pd.Timedelta | str | int | None = None,
    order: Literal["ordered", "strict"] = "ordered",
    ties: Literal["allow", "strict"] = "allow",
    by: str | Sequence[str] | None = None,
    attribution: Literal["first", "last"] = "first",
    dropna: bool = False,
    candidates: Sequence[str] | None = None,
    min_entities: int = 25,
    ci: float = 0.95,
    as_of: pd.Timestamp | str | None = None,
    min_age: pd.Timedelta | str | None = "auto",
    mature_only: bool = False,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    r"""Which behaviours go with moving on from a funnel step: odds ratios, lifts, Fisher tests.

    Among the entities that reached step ``at_step``, each candidate
    behaviour splits them into those who did it after reaching the step and
    before the next one, and those who did not.  For each behaviour the table
    gives both groups' conversion to the next step, the lift, the odds ratio
    with its interval and Fisher's exact p-value, Holm-adjusted across the
    behaviours.  With ``by``, one such table per segment.  This is
    association, not causation.

    Parameters
    ----------
    events : pandas.DataFrame or dask.dataframe.DataFrame
        The event log: one row per event of an entity.  A Dask DataFrame
        (``funnelkit[dask]``) gives the same result, computed partition by
        partition after a shuffle by entity (see ``docs/dask.md``).
    steps : list of str or list of lists of str
        The funnel steps in order; each item is an event name or a list of
        names (any of them fills the step).
    at_step : int, default=1
        The step (1-based) whose entities are studied: conversion is from
        this step to the next.
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
        Column(s) to group by; one result block per group, groups sorted,
        each group tested (and Holm-adjusted) on its own entities.  A
        value that varies within an entity is read as ``attribution`` says.
        Missing values form their own group.
    attribution : {"first", "last"}, default="first"
        Where a ``by`` value that varies within an entity is read: at the
        step-1 event of the entity's winning chain (``"first"``) or at its
        deepest step reached (``"last"``).
    dropna : bool, default=False
        Leave out rows whose entity is missing (with a warning) instead of
        raising :class:`~funnelkit.InvalidDataError`.
    candidates : list of str, optional
        The behaviours (event names) to test.  Default: every event name in
        the log that is not a funnel step.  With ``by``, every group gets
        the same candidates.
    min_entities : int, default=25
        Behaviours done by fewer entities than this, or left undone by fewer,
        are flagged ``small_sample`` and ranked after the others.
    ci : float, default=0.95
        Confidence level of the intervals in the result (Returns says which).
    as_of : Timestamp or str, optional
        Observation date: events after it are ignored, and maturity is
        judged at it (default: the latest event).  Read in the data's time
        zone.
    min_age : Timedelta, str, "auto" or None, default="auto"
        Study only the entities that reached step ``at_step`` at least this
        long before ``as_of`` (e.g. ``"90D"``), so that recent entities, which
        have not had time to move on, do not count as non-converters.
        ``"auto"``: the longest time any entity of the log took from step
        ``at_step`` to the next (an entity younger than that may still move
        on); None studies every entity.
    mature_only : bool, default=False
        Study only entities whose funnel is closed by ``as_of`` (see
        :func:`funnelkit.funnel_entities`): converted, or the window from
        their last step-1 event had elapsed.  Needs a window.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per candidate behaviour, ranked (see Notes); with ``by``, one
        such block per group (groups sorted, missing values last), with columns:

        - the ``by`` columns (with ``by``), first;
        - ``from_step``, ``to_step`` (str): the labels of step ``at_step`` and of
          the next step, as in the columns of :func:`funnelkit.funnel_entities`;
        - ``behaviour`` (str): the candidate event name;
        - ``entities_with`` (int64): entities that reached ``from_step`` and did the
          behaviour in the interval;
        - ``converted_with`` (int64): those of them who reached ``to_step``;
        - ``conversion_with`` (float64): ``converted_with / entities_with``,
          with its Wilson interval ``conversion_with_low``,
          ``conversion_with_high``;
        - ``entities_without``, ``converted_without`` (int64),
          ``conversion_without``, ``conversion_without_low``,
          ``conversion_without_high`` (float64): the same for the others;
        - ``lift`` (float64): ``conversion_with / conversion_without``;
        - ``odds_ratio`` (float64): odds of moving on with the behaviour over
          the odds without, and its interval ``odds_ratio_low``,
          ``odds_ratio_high`` (Woolf's, at the same level ``ci``);
        - ``p_value`` (float64): two-sided Fisher exact test of the 2x2 table;
        - ``p_adjusted`` (float64): Holm-adjusted across the candidates (of
          the group, with ``by``);
        - ``small_sample`` (bool): fewer than ``min_entities`` with or without.

    Raises
    ------
    ColumnNotFoundError
        When ``entity``, ``time``, ``event`` or a ``by`` column is not a
        column of ``events``.
    InvalidDataError
        When the funnel engine refuses the log (null ids, unreadable times).
    InvalidParameterError
        When ``steps``, ``at_step``, ``window``, ``by`` (e.g. a column named
        twice), ``candidates``, ``min_entities`` or ``ci`` is invalid, or
        ``order="any"`` (a behaviour lies between two steps done in order).

    See Also
    --------
    funnel_entities : the per-entity table this is computed from.
    compare_segments : does conversion differ across segments?
    plot_triggers : forest plot of this table.

    Notes
    -----
    **Interval.** For an entity that reached step k (``at_step``) at time
    :math:`t_k`, a behaviour counts when its time t satisfies
    :math:`t_k \le t < t_{k+1}` if the entity reached step k + 1, else
    :math:`t_k \le t \le t_1 + w` with a window w (any time after
    :math:`t_k` without one).  Step times are those of the winning chain of
    :func:`funnelkit.funnel_entities`.  Entities that did not move on have
    more time to do a behaviour, which biases every behaviour slightly
    toward "does not help": compare the behaviours with each other, and use
    a ``window`` to even the intervals out.  Intervals end at ``as_of``.

    **Censoring.** An entity that reached step k shortly before the data end
    has had no time to move on, yet counts as "did not move on"; the older
    entities, which had time for both the behaviour and the next step, then
    make any common behaviour look helpful.  ``min_age`` (entities that
    reached step k at least that long before ``as_of``; by default the
    longest time any entity took to move on, so that an entity counts as not
    moving on only once it has waited longer than every entity that did) or
    ``mature_only`` (entities whose window has closed) leave the open ones
    out.

    **Statistics.** With a = converted with, b = not converted with,
    c = converted without, d = not converted without, the odds ratio is
    :math:`ad / bc`; when any cell is 0, 0.5 is added to every cell
    (Haldane–Anscombe).  The interval is Woolf's:
    :math:`\exp(\log OR \pm z \sqrt{1/a + 1/b + 1/c + 1/d})`.  Odds ratio,
    lift and p-value are NaN when nobody (or everybody) did the behaviour.

    **Ranking.** Behaviours with enough entities first, by odds ratio from
    highest (the strongest positive association) to lowest, then the
    ``small_sample`` ones in the same order; ties by p-value.  A large odds
    ratio on 3 entities says little, hence the flag.

    **Groups.** With ``by``, the groups are those of the entities that
    reached step 1, and each group's block is the table of those entities
    alone: the Holm adjustment runs over the candidates within the group
    (each segment is a question of its own, and adding a segment does not
    change the others' adjusted p-values), and so does the ranking.  The
    candidates, ``as_of`` (by default the latest event of the whole log:
    the observation date is the data's, not a group's) and the ``"auto"``
    ``min_age`` (the longest time to move on over the whole log) are the
    same for every group.  So each block equals :func:`triggers` without
    ``by`` on the events of the group's entities with that ``as_of`` and
    ``min_age`` given, less the candidates none of the group's entities did
    at all (here rows with ``entities_with`` 0 and NaN statistics).  A group
    where nobody reached ``at_step`` gives such rows for every candidate.

    **Association, not causation.** Leads who ask for a demo may be the ones
    who were going to buy anyway.  A high odds ratio says the behaviour and
    moving on go together; only an experiment (offering the behaviour to a
    random half) says whether the behaviour causes it.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": ["a", "a", "a", "b", "b", "c", "c", "c"],
    ...     "event": ["visit", "demo", "buy", "visit", "demo", "visit", "video", "buy"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
    ...                                  "2024-01-01", "2024-01-05", "2024-01-01",
    ...                                  "2024-01-02", "2024-01-04"]),
    ... })
    >>> res = fk.triggers(ev, ["visit", "buy"], min_entities=1)
    >>> res[["behaviour", "entities_with", "conversion_with", "conversion_without"]]
      behaviour  entities_with  conversion_with  conversion_without
    0     video              1              1.0                 0.5
    1      demo              2              0.5                 1.0

    One block per segment with ``by``:

    >>> ev["plan"] = ev["user_id"].map({"a": "pro", "b": "free", "c": "free"})
    >>> res = fk.triggers(ev, ["visit", "buy"], by="plan", min_entities=1)
    >>> res[["plan", "behaviour", "entities_with", "conversion_with", "conversion_without"]]
       plan behaviour  entities_with  conversion_with  conversion_without
    0  free     video              1              1.0                 0.0
    1  free      demo              1              0.0                 1.0
    2   pro      demo              1              1.0                 NaN
    3   pro     video              0              NaN                 1.0
    """
    func = "triggers"
    dask_input = is_dask(events)
    if dask_input:
        from funnelkit import _dask

        df = _dask.meta_frame(events, func=func)
    else:
        df = check_frame(events, table="events", func=func)
    names = _step_names(steps, func=func)
    require_columns(df, {"entity": entity, "time": time, "event": event}, table="events")
    by_cols = cast("list[str]", check_by(df, by, table="events", func=func))
    if (
        isinstance(at_step, bool)
        or not isinstance(at_step, int | np.integer)
        or not 1 <= at_step < len(names)
    ):
        expected = f"an integer from 1 to {len(names) - 1} (a step that has a next step)"
        raise param_error(func, "at_step", expected, at_step)
    win = _check_window(window, func=func)
    ci = check_ci(ci, func=func)
    min_n = int(check_positive(min_entities, name="min_entities", func=func, integer=True))
    auto_age = isinstance(min_age, str) and min_age == "auto"
    age = None if auto_age else check_duration(min_age, name="min_age", func=func)
    if not isinstance(mature_only, bool | np.bool_):
        raise param_error(func, "mature_only", "True or False", mature_only)
    if mature_only and win is None:
        msg = (
            "The 'mature_only' parameter of triggers needs a window: without one an entity's "
            "funnel never closes. Pass window=... or use min_age= instead."
        )
        raise InvalidParameterError(msg)
    if as_of is not None:
        check_date(as_of, tz="UTC", name="as_of", func=func)  # parseable; zone read below
    # the observation date: only needed to cut (as_of) or to judge age and maturity
    cut = None
    if as_of is not None or age is not None or mature_only or auto_age:
        cut = _observation_date(events, df, entity, time, as_of, dask_input, func=func)
    step_events = {n for step in names for n in step}
    # the candidates are global: from the event names of the whole log
    present = _dask.distinct(events, event) if dask_input else pd.unique(df[event].dropna())
    if candidates is None:
        cands = sorted((v for v in present if v not in step_events), key=str)
    else:
        cands = _check_candidates(candidates, present, step_events, func=func)
    k = int(at_step) - 1
    kw: dict[str, Any] = dict(entity=entity, time=time, event=event, window=win)
    kw.update(order=_check_order(order, func=func), ties=ties, dropna=dropna)
    cut_ns = None if cut is None else int(cut.tz_convert("UTC").value if cut.tz else cut.value)
    age_ns = None if age is None else int(age.value)
    fkw: dict[str, Any] = dict(as_of=cut, mature_only=bool(mature_only))
    longest = functools.partial(_longest_step_time, k)
    if dask_input:
        if auto_age:
            with warnings.catch_warnings():  # the counting pass below warns once
                warnings.simplefilter("ignore", FunnelkitWarning)
                _, tops = _dask_entity_map(events, list(steps), longest, **kw, **fkw)
            age_ns = max((t for t in tops if t is not None), default=None)
        count = functools.partial(_trigger_counts, cands, k, win, kw, cut_ns, age_ns, by_cols)
        fkw.update(by=by_cols or None, attribution=attribution)
        labels, parts = _dask_entity_map(events, list(steps), count, **kw, **fkw)
    else:
        per = _funnel_entities(df, steps, by=by_cols, attribution=attribution, **kw, **fkw)
        labels = [str(c) for c in per.columns[2 : 2 + len(names)]]
        if auto_age:
            age_ns = longest(df, per)
        parts = [_trigger_counts(cands, k, win, kw, cut_ns, age_ns, by_cols, df, per)]
    groups, counts = _sum_counts(parts, by_cols, len(cands), df[by_cols].iloc[:0])
    tables = [_trigger_table(c, cands, labels[k], labels[k + 1], ci, min_n) for c in counts]
    if not tables:  # with by, no entity entered the funnel: no group
        tables = [_trigger_table(np.zeros((2, 1)), [], labels[k], labels[k + 1], ci, min_n)]
    table = pd.concat(tables, ignore_index=True)
    if not by_cols:
        return table
    keys = _block(groups, cast("list[Hashable]", by_cols), len(cands))
    out: pd.DataFrame = pd.concat([keys, table], axis=1)
    return out


def _observation_date(
    events: Any,
    df: pd.DataFrame,
    entity: str,
    time: str,
    as_of: Any,
    dask_input: bool,
    *,
    func: str,
) -> pd.Timestamp | None:
    """``as_of`` in the data's time zone, or the latest event; None for an empty log."""
    if dask_input:
        from funnelkit.events import _dask_latest

        latest, tz = _dask_latest(events, entity, time)
    else:
        parsed = as_datetime(df, time, table="events", keyword="time")
        tz = parsed.dt.tz
        ns = datetime_to_ns(parsed)
        ns = ns[(ns != _NAT) & ~df[entity].isna().to_numpy()]
        latest = int(ns.max()) if ns.size else None
    if as_of is not None:
        return check_date(as_of, tz=tz, name="as_of", func=func)
    if latest is None:
        return None
    ts = pd.Timestamp(latest)
    out: pd.Timestamp = ts.tz_localize("UTC").tz_convert(tz) if tz is not None else ts
    return out


def _longest_step_time(k: int, df: pd.DataFrame, per: pd.DataFrame) -> int | None:
    """The longest time (ns) from step ``k`` to step ``k + 1`` among the entities that moved on."""
    reached = per["reached"].to_numpy(dtype=np.int64)
    moved = reached >= k + 2
    if not moved.any():
        return None
    return int((_step_times(per, k + 1)[moved] - _step_times(per, k)[moved]).max())


def _trigger_counts(
    cands: list[Any],
    k: int,
    win: pd.Timedelta | None,
    kw: dict[str, Any],
    cut: int | None,
    age: int | None,
    by: list[str],
    df: pd.DataFrame,
    per: pd.DataFrame,
) -> tuple[pd.DataFrame, FloatArray]:
    """Additive counts of one set of entities, per group: (n_groups, 2, n_candidates + 1).

    ``per`` is the funnel engine's per-entity table of the entities of
    ``df`` (with the ``by`` columns).  For each group: row 0, entities that
    did each candidate in their interval, then (last column) the entities
    that reached step ``k + 1``; row 1, those of them who moved on to the
    next step.  The groups are those of the entities that reached step 1,
    one row each in the returned frame (sorted; none without ``by``: one
    group of every entity).  Counts of disjoint sets of entities (Dask
    partitions) add up group by group (:func:`_sum_counts`).
    """
    entity, time, event = kw["entity"], kw["time"], kw["event"]
    reached = per["reached"].to_numpy(dtype=np.int64)
    start = _step_times(per, k)
    nxt = _step_times(per, k + 1)
    first = _step_times(per, 0)
    at = reached >= k + 1
    if age is not None and cut is not None:
        at &= start <= cut - age  # reached step k long enough before the observation date
    moved = at & (reached >= k + 2)
    limit = np.full(len(per), _NEVER, dtype=np.int64)
    if win is not None:
        limit = np.where(first != _NAT, first + win.value, _NEVER)
    if cut is not None:
        limit = np.minimum(limit, cut)

    # behaviour rows of the studied entities, with the entity's interval
    cand_index = pd.Index(cands)
    c_code = cand_index.get_indexer(df[event])
    e_code = pd.Index(per[entity]).get_indexer(df[entity])
    t = datetime_to_ns(as_datetime(df, time, table="events", keyword="time"))
    rows = np.flatnonzero((c_code >= 0) & (e_code >= 0) & (t != _NAT))
    e, c, tt = e_code[rows], c_code[rows], t[rows]
    inside = at[e] & (tt >= start[e]) & np.where(moved[e], tt < nxt[e], tt <= limit[e])
    n_c = len(cands)
    m = max(n_c, 1)
    pairs = np.unique(e[inside].astype(np.int64) * m + c[inside])
    did_c = pairs % m
    did_e = pairs // m
    # the group of each entity: those that never entered the funnel have none (-1)
    if by:
        entered = reached >= 1
        codes, groups = _group_codes(per.loc[entered, by].reset_index(drop=True), list(by))
        g = np.full(len(per), -1, dtype=np.int64)
        g[entered] = codes
    else:
        groups = pd.DataFrame(index=range(1))
        g = np.zeros(len(per), dtype=np.int64)
    n_g = len(groups)
    out = np.zeros((n_g, 2, n_c + 1), dtype=np.float64)
    cell = g[did_e] * m + did_c  # did_e are entities at the step: they entered
    size = n_g * m
    out[:, 0, :n_c] = np.bincount(cell, minlength=size).reshape(n_g, m)[:, :n_c]
    weights = moved[did_e].astype(np.float64)
    out[:, 1, :n_c] = np.bincount(cell, weights=weights, minlength=size).reshape(n_g, m)[:, :n_c]
    out[:, 0, n_c] = np.bincount(g[at], minlength=n_g)
    out[:, 1, n_c] = np.bincount(g[moved], minlength=n_g)
    return groups, out


def _sum_counts(
    parts: Sequence[tuple[pd.DataFrame, FloatArray]], by: list[str], n_c: int, empty: pd.DataFrame
) -> tuple[pd.DataFrame, FloatArray]:
    """Add up the counts of disjoint sets of entities; groups are matched on their values.

    Returns one row per group (sorted) and the counts (n_groups, 2, n_c + 1);
    without ``by`` one group, with ``by`` and no group ``empty`` (the ``by``
    columns, 0 rows) and no counts.
    """
    if not by:
        total = np.zeros((1, 2, n_c + 1), dtype=np.float64)
        for _, c in parts:
            total += c
        return pd.DataFrame(index=range(1)), total
    used = [(groups, c) for groups, c in parts if len(groups)]
    if not used:
        return empty.reset_index(drop=True), np.zeros((0, 2, n_c + 1), dtype=np.float64)
    local = pd.concat([groups for groups, _ in used], ignore_index=True)
    to_global, groups = _group_codes(local, list(by))
    out = np.zeros((len(groups), 2, n_c + 1), dtype=np.float64)
    np.add.at(out, to_global, np.concatenate([c for _, c in used]))
    return groups, out


def _trigger_table(
    counts: FloatArray, cands: list[Any], step: str, next_step: str, ci: float, min_n: int
) -> pd.DataFrame:
    """The table of :func:`triggers` from the (summed) counts."""
    n_c = len(cands)
    n_with, a = counts[0, :n_c], counts[1, :n_c]
    n_total, k_total = counts[0, n_c], counts[1, n_c]
    b = n_with - a
    cc = k_total - a
    d = (n_total - k_total) - b
    n_without = cc + d
    table = _two_by_two(a, b, cc, d, ci)
    w_low, w_high = wilson_interval(a, n_with, ci)
    o_low, o_high = wilson_interval(cc, n_without, ci)

    out = pd.DataFrame(
        {
            "from_step": pd.Series([step] * n_c, dtype=object),
            "to_step": pd.Series([next_step] * n_c, dtype=object),
            "behaviour": pd.Series(cands, dtype=object),
            "entities_with": n_with.astype(np.int64),
            "converted_with": a.astype(np.int64),
            "conversion_with": table["conversion_with"],
            "conversion_with_low": w_low,
            "conversion_with_high": w_high,
            "entities_without": n_without.astype(np.int64),
            "converted_without": cc.astype(np.int64),
            "conversion_without": table["conversion_without"],
            "conversion_without_low": o_low,
            "conversion_without_high": o_high,
            "lift": table["lift"],
            "odds_ratio": table["odds_ratio"],
            "odds_ratio_low": table["odds_ratio_low"],
            "odds_ratio_high": table["odds_ratio_high"],
            "p_value": table["p_value"],
            "p_adjusted": holm(table["p_value"]),
            "small_sample": (n_with < min_n) | (n_without < min_n),
        }
    )
    log_or = np.log(out["odds_ratio"].to_numpy(dtype=np.float64))
    order = np.lexsort(
        (
            np.nan_to_num(out["p_value"].to_numpy(dtype=np.float64), nan=2.0),
            -np.nan_to_num(log_or, nan=-np.inf),
            out["small_sample"].to_numpy(),
        )
    )
    result: pd.DataFrame = out.iloc[order].reset_index(drop=True)
    return result


def _check_candidates(
    candidates: Any, present: Any, step_events: set[str], *, func: str
) -> list[Any]:
    if isinstance(candidates, str) or not isinstance(candidates, Sequence):
        raise param_error(func, "candidates", "a list of event names or None", candidates)
    cands = list(dict.fromkeys(candidates))
    known = set(present)
    unknown = [x for x in cands if x not in known]
    if unknown:
        hint = closest(unknown[0], [str(v) for v in present])
        msg = (
            f"The 'candidates' parameter of triggers names events that are not in the log: "
            f"{unknown!r}."
        )
        if hint is not None:
            msg += f" Did you mean {hint!r}?"
        raise InvalidParameterError(msg)
    steps = [x for x in cands if x in step_events]
    if steps:
        msg = (
            f"The 'candidates' parameter of triggers must not contain funnel steps; "
            f"got {steps!r}. A step cannot be a behaviour done between steps."
        )
        raise InvalidParameterError(msg)
    return cands


def _two_by_two(
    a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, ci: float
) -> dict[str, FloatArray]:
    """Conversions, lift, odds ratio (Haldane–Anscombe, Woolf interval), Fisher p."""
    n1, n0 = a + b, c + d
    z = float(stats.norm.ppf(0.5 + ci / 2.0))
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    half = np.where(zero, 0.5, 0.0)
    a2, b2, c2, d2 = a + half, b + half, c + half, d + half
    defined = (n1 > 0) & (n0 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        conv1 = a / n1
        conv0 = c / n0
        lift = np.where(defined & (conv0 > 0), conv1 / conv0, np.nan)
        log_or = np.log(a2 * d2 / (b2 * c2))
        se = np.sqrt(1 / a2 + 1 / b2 + 1 / c2 + 1 / d2)
    odds = np.where(defined, np.exp(log_or), np.nan)
    low = np.where(defined, np.exp(log_or - z * se), np.nan)
    high = np.where(defined, np.exp(log_or + z * se), np.nan)
    # one Fisher test per candidate: a loop over behaviours, not over entities
    p = np.array(
        [
            stats.fisher_exact([[int(ai), int(bi)], [int(ci_), int(di)]])[1] if ok else np.nan
            for ai, bi, ci_, di, ok in zip(a, b, c, d, defined, strict=True)
        ],
        dtype=np.float64,
    )
    return {
        "conversion_with": np.asarray(conv1, dtype=np.float64),
        "conversion_without": np.asarray(conv0, dtype=np.float64),
        "lift": np.asarray(lift, dtype=np.float64),
        "odds_ratio": np.asarray(odds, dtype=np.float64),
        "odds_ratio_low": np.asarray(low, dtype=np.float64),
        "odds_ratio_high": np.asarray(high, dtype=np.float64),
        "p_value": p,
    }


@takes_columns()
def compare_segments(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
    by: str | Sequence[str],
    entity: str = "user_id",
    time: str = "timestamp",
    event: str = "event",
    window: pd.Timedelta | str | int | None = None,
    order: Literal["ordered", "strict", "any"] = "ordered",
    ties: Literal["allow", "strict"] = "allow",
    attribution: Literal["first", "last"] = "first",
    dropna: bool = False,
    against: Literal["pairs", "rest"] = "pairs",
    alpha: float = 0.05,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    r"""Does conversion at each funnel step differ across segments? Tests and effect sizes.

    For every transition from one step to the next, a chi-square test of
    homogeneity says whether the segments of ``by`` convert alike, and
    two-proportion tests (Holm-adjusted) say which segments differ, with the
    difference in conversion and Cohen's h: each pair of segments
    (``against="pairs"``) or each segment against all the others pooled
    (``against="rest"``, the test of :func:`funnelkit.dropoff`).

    Parameters
    ----------
    events : pandas.DataFrame
        The event log: one row per event of an entity.
    steps : list of str or list of lists of str
        The funnel steps in order; each item is an event name or a list of
        names (any of them fills the step).
    by : str or list of str
        Column(s) defining the segments to compare (attributed as in
        :func:`funnelkit.funnel_entities`).  Missing values form their own
        segment.
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
    attribution : {"first", "last"}, default="first"
        Where a ``by`` value that varies within an entity is read: at the
        step-1 event of the entity's winning chain (``"first"``) or at its
        deepest step reached (``"last"``).
    dropna : bool, default=False
        Leave out rows whose entity is missing (with a warning) instead of
        raising :class:`~funnelkit.InvalidDataError`.
    against : {"pairs", "rest"}, default="pairs"
        What a segment is tested against: ``"pairs"``, every other segment
        in turn (one row per pair); ``"rest"``, all the other segments pooled
        (one row per segment).
    alpha : float, default=0.05
        Significance level for the ``differs`` and ``significant`` columns.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per transition and pair of segments (segments sorted, pairs
        in that order), with columns:

        - ``step`` (str): the step entered (conversion from the step before);
        - ``<by>_a``, ``<by>_b``: the two segments compared, one pair of
          columns per ``by`` column;
        - ``entities_a``, ``entities_b`` (int64): entities of each segment
          that reached the previous step;
        - ``converted_a``, ``converted_b`` (int64): those who reached ``step``;
        - ``conversion_a``, ``conversion_b`` (float64): the conversions;
        - ``difference`` (float64): ``conversion_a - conversion_b``;
        - ``cohens_h`` (float64):
          :math:`2 \arcsin\sqrt{p_a} - 2 \arcsin\sqrt{p_b}`;
        - ``p_value`` (float64): pooled two-proportion z-test, two-sided;
        - ``p_adjusted`` (float64): Holm-adjusted across the pairs of the
          transition;
        - ``significant`` (bool): ``p_adjusted < alpha``;
        - ``chi2`` (float64), ``dof`` (int64), ``chi2_p_value`` (float64): the
          chi-square test of homogeneity of all segments at this transition
          (the same on every row of the transition);
        - ``differs`` (bool): ``chi2_p_value < alpha``: the yes/no answer.

        With ``against="rest"``: one row per transition and segment (segments
        sorted), with columns ``step``; the ``by`` columns; ``entities``,
        ``converted`` (int64) and ``conversion`` (float64) of the segment;
        ``rest_entities``, ``rest_converted`` (int64) and ``rest_conversion``
        (float64) of all other segments together; ``difference``
        (``conversion - rest_conversion``), ``cohens_h``, ``p_value`` (the
        pooled z-test of the segment against the rest), ``p_adjusted`` (Holm
        across the segments of the transition), ``significant``, and the
        chi-square columns and ``differs`` as above.

    Raises
    ------
    ColumnNotFoundError
        When ``entity``, ``time``, ``event`` or a ``by`` column is missing.
    InvalidDataError
        When the funnel engine refuses the log (null ids, unreadable times).
    InvalidParameterError
        When ``steps``, ``by``, ``window``, ``against`` or ``alpha`` is invalid.

    See Also
    --------
    funnel_entities : the per-entity table this is computed from.
    dropoff : losses per transition, each segment tested against the rest.
    triggers : which behaviours go with moving on.

    Notes
    -----
    The chi-square test uses the 2 x G table (converted / not converted by
    segment) of the segments with at least one entity at the previous step,
    without continuity correction, so with two segments it equals the square
    of the two-proportion z statistic.  It is NaN when every entity or none
    converted.  Cohen's h reads 0.2 small, 0.5 medium, 0.8 large.  Segments
    come from observational data: a difference is an association (leads from
    one channel may differ in size or industry), not proof that the channel
    causes it.

    With ``against="rest"`` and two segments, the rest of one segment is the
    other, so both rows carry the ``p_value`` of the pair (and Holm, counting
    the one test twice, doubles it); with more segments the segment's rest
    mixes the others, and a segment between two extremes may differ from
    each of them but not from their pool.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": ["a", "a", "b", "b", "c", "d", "d", "e"],
    ...     "event": ["visit", "buy", "visit", "buy", "visit", "visit", "buy", "visit"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02"] * 2 + ["2024-01-01"]
    ...                                 + ["2024-01-01", "2024-01-02", "2024-01-01"]),
    ...     "channel": ["ads", "ads", "ads", "ads", "ads", "mail", "mail", "mail"],
    ... })
    >>> res = fk.compare_segments(ev, ["visit", "buy"], by="channel")
    >>> res[["step", "channel_a", "channel_b", "conversion_a", "conversion_b", "differs"]]
      step channel_a channel_b  conversion_a  conversion_b  differs
    0  buy       ads      mail      0.666667           0.5    False
    >>> rest = fk.compare_segments(ev, ["visit", "buy"], by="channel", against="rest")
    >>> rest[["step", "channel", "conversion", "rest_conversion", "p_value"]].round(4)
      step channel  conversion  rest_conversion  p_value
    0  buy     ads      0.6667           0.5000   0.7094
    1  buy    mail      0.5000           0.6667   0.7094
    """
    func = "compare_segments"
    df = check_frame(events, table="events", func=func)
    names = _step_names(steps, func=func)
    by_cols = as_list(by)
    if not by_cols:
        raise param_error(func, "by", "a column name or a list of column names", by)
    require_columns(df, {"entity": entity, "time": time, "event": event}, table="events")
    for column in by_cols:
        require_columns(df, {"by": column}, table="events")
    win = _check_window(window, func=func)
    against = check_option(against, ("pairs", "rest"), name="against", func=func)
    alpha = check_fraction(alpha, name="alpha", func=func)

    per = _funnel_entities(
        df,
        steps,
        entity=entity,
        time=time,
        event=event,
        window=win,
        by=cast("list[str]", by_cols),
        order=order,
        ties=ties,
        attribution=attribution,
        dropna=dropna,
    )
    labels = [str(c) for c in per.columns[2 : 2 + len(names)]]
    grouped = per[by_cols].groupby(by_cols, dropna=False, sort=True, observed=True)
    g = grouped.ngroup().to_numpy(dtype=np.int64)
    keys = grouped.size().index.to_frame(index=False)
    keys.columns = by_cols
    n_groups = len(keys)
    reached = per["reached"].to_numpy(dtype=np.int64)
    n_steps = len(names)
    # entities of each group at each step: reached >= step
    at_least = np.zeros((n_groups, n_steps + 2), dtype=np.int64)
    np.add.at(at_least, (g, np.clip(reached, 0, n_steps)), 1)
    at_least = np.cumsum(at_least[:, ::-1], axis=1)[:, ::-1]  # at_least[:, s] = reached >= s
    if against == "rest":
        return _against_rest(at_least, keys, by_cols, labels, alpha)

    pairs = list(combinations(range(n_groups), 2))
    ia = np.array([p[0] for p in pairs], dtype=np.int64)
    ib = np.array([p[1] for p in pairs], dtype=np.int64)
    blocks = []
    for s in range(2, n_steps + 1):  # a loop over steps, not entities
        prev, conv = at_least[:, s - 1], at_least[:, s]
        chi2, dof, chi_p = _homogeneity(conv, prev)
        n_a, n_b = prev[ia], prev[ib]
        k_a, k_b = conv[ia], conv[ib]
        with np.errstate(divide="ignore", invalid="ignore"):
            p_a = k_a / n_a
            p_b = k_b / n_b
        h = _cohens_h(p_a, p_b)
        pv = two_proportion_test(k_a, n_a, k_b, n_b)
        block = pd.DataFrame({"step": pd.Series([labels[s - 1]] * len(pairs), dtype=object)})
        for col in by_cols:
            block[f"{col}_a"] = _segments(keys[col], ia)
        for col in by_cols:
            block[f"{col}_b"] = _segments(keys[col], ib)
        block["entities_a"] = n_a
        block["entities_b"] = n_b
        block["converted_a"] = k_a
        block["converted_b"] = k_b
        block["conversion_a"] = p_a.astype(np.float64)
        block["conversion_b"] = p_b.astype(np.float64)
        block["difference"] = (p_a - p_b).astype(np.float64)
        block["cohens_h"] = h.astype(np.float64)
        block["p_value"] = pv
        block["p_adjusted"] = holm(pv)
        block["significant"] = block["p_adjusted"].to_numpy() < alpha
        block["chi2"] = chi2
        block["dof"] = np.int64(dof)
        block["chi2_p_value"] = chi_p
        block["differs"] = bool(chi_p < alpha)
        blocks.append(block)
    out: pd.DataFrame = pd.concat(blocks, ignore_index=True)
    for col in ("entities_a", "entities_b", "converted_a", "converted_b", "dof"):
        out[col] = out[col].astype(np.int64)
    return out


@takes_columns()
def compare(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
    by: str | Sequence[str],
    entity: str = "user_id",
    time: str = "timestamp",
    event: str = "event",
    window: pd.Timedelta | str | int | None = None,
    against: Literal["pairs", "rest"] = "pairs",
    alpha: float = 0.05,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Deprecated: the former name of :func:`compare_segments`, for one release.

    Emits a :class:`FutureWarning` and returns ``compare_segments`` of the same
    arguments; the parameters, result and errors are those of
    :func:`compare_segments`.

    Parameters
    ----------
    events, steps, by, entity, time, event, window, against, alpha, columns
        As in :func:`compare_segments`.

    Returns
    -------
    pandas.DataFrame
        The table of :func:`compare_segments`.

    Examples
    --------
    Call the new name:

    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": ["a", "a", "b"],
    ...     "event": ["visit", "buy", "visit"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"]),
    ...     "channel": ["ads", "ads", "mail"],
    ... })
    >>> fk.compare_segments(ev, ["visit", "buy"], by="channel")["differs"].tolist()
    [False]
    """
    warnings.warn(
        "funnelkit.compare is renamed funnelkit.compare_segments; compare will be removed "
        "in the next release. Call fk.compare_segments(events, steps, by=...) instead.",
        FutureWarning,
        stacklevel=2,
    )
    return compare_segments(
        events,
        steps,
        by=by,
        entity=entity,
        time=time,
        event=event,
        window=window,
        against=against,
        alpha=alpha,
        columns=columns,
    )


def _cohens_h(p_a: Any, p_b: Any) -> Any:
    """Cohen's h of two proportions (NaN where either is NaN)."""
    return 2 * np.arcsin(np.sqrt(p_a)) - 2 * np.arcsin(np.sqrt(p_b))


def _against_rest(
    at_least: IntArray, keys: pd.DataFrame, by_cols: list[Any], labels: list[str], alpha: float
) -> pd.DataFrame:
    """``compare_segments(against="rest")``: each segment against the others pooled.

    ``at_least[g, s]`` counts the entities of segment ``g`` that reached step
    ``s`` (1-based); one row per (transition, segment), transitions first.
    """
    n_groups, n_steps = at_least.shape[0], len(labels)
    n_tr = n_steps - 1
    entered = at_least[:, 1:n_steps].T  # (transition, segment)
    converted = at_least[:, 2 : n_steps + 1].T
    transition = np.broadcast_to(np.arange(n_tr)[:, None], entered.shape)
    test = segment_vs_rest(converted, entered, blocks=transition)
    k, n = converted.ravel(), entered.ravel()
    rest_k, rest_n = test.rest_converted.ravel(), test.rest_entered.ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        p_seg = k / n
        p_rest = rest_k / rest_n
    h = _cohens_h(p_seg, p_rest)
    homogeneity = [_homogeneity(converted[t], entered[t]) for t in range(n_tr)]  # per step
    chi2, dof, chi_p = (np.repeat(np.array(v), n_groups) for v in zip(*homogeneity, strict=True))
    step = np.repeat(np.asarray(labels[1:], dtype=object), n_groups)
    out: pd.DataFrame = pd.DataFrame({"step": pd.Series(step, dtype=object)})
    segment = np.tile(np.arange(n_groups, dtype=np.int64), n_tr)
    for col in by_cols:
        out[col] = _segments(keys[col], segment)
    out["entities"] = n.astype(np.int64)
    out["converted"] = k.astype(np.int64)
    out["conversion"] = p_seg.astype(np.float64)
    out["rest_entities"] = rest_n.astype(np.int64)
    out["rest_converted"] = rest_k.astype(np.int64)
    out["rest_conversion"] = p_rest.astype(np.float64)
    out["difference"] = (p_seg - p_rest).astype(np.float64)
    out["cohens_h"] = h.astype(np.float64)
    out["p_value"] = test.p_value.ravel()
    out["p_adjusted"] = test.p_adjusted.ravel()
    out["significant"] = out["p_adjusted"].to_numpy() < alpha
    out["chi2"] = chi2.astype(np.float64)
    out["dof"] = dof.astype(np.int64)
    out["chi2_p_value"] = chi_p.astype(np.float64)
    out["differs"] = out["chi2_p_value"].to_numpy() < alpha
    return out


def _segments(keys: pd.Series, idx: IntArray) -> Any:
    """The segment values at ``idx``, in the ``by`` column's dtype.

    ``str`` stays ``str`` on pandas 3 also with no pair, where an empty object array
    would not infer it.
    """
    taken = keys.take(idx)
    if isinstance(taken.dtype, pd.CategoricalDtype):
        return taken.to_numpy()
    return taken.array


def _homogeneity(converted: IntArray, entered: IntArray) -> tuple[float, int, float]:
    """Chi-square test of homogeneity of conversion across groups (no correction)."""
    keep = entered > 0
    k, n = converted[keep].astype(np.float64), entered[keep].astype(np.float64)
    if k.size < 2 or k.sum() == 0 or k.sum() == n.sum():
        return float("nan"), max(int(k.size) - 1, 0), float("nan")
    table = np.vstack([k, n - k])
    res = stats.chi2_contingency(table, correction=False)
    return float(res[0]), int(res[2]), float(res[1])
