"""Funnels over event logs: ``funnel_entities``, ``conversion``, ``dropoff``, ``time_to_convert``.

Validation and glue around :mod:`funnelkit._kernels`: columns are checked and
turned into integer arrays once (event names to step numbers on category
codes, entity ids to integer codes, times to nanoseconds); the kernel reduces
the log to one row per entity; the metric functions aggregate that table.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from scipy import stats

from funnelkit._dask import is_dask
from funnelkit._kernels import (
    MAX_HALL_STEPS,
    MAX_SHARED_STEPS,
    NAT,
    Exclusion,
    FunnelTable,
    Rows,
    attempts_kernel,
    best_per_entity,
    empty_table,
    feature_kernel,
    funnel_kernel,
    linked_components,
    lookup_blocks,
    resolve_jobs,
    take_table,
)
from funnelkit._periods import period_starts
from funnelkit._stats import segment_vs_rest, wilson_interval
from funnelkit._validate import (
    as_datetime,
    as_list,
    check_ci,
    check_date,
    check_duration,
    check_frame,
    check_not_null,
    check_option,
    closest,
    param_error,
    require_columns,
    warn_dropped,
)
from funnelkit.columns import Columns, takes_columns
from funnelkit.errors import InvalidParameterError

__all__ = ["conversion", "dropoff", "funnel_entities", "time_to_convert"]

I64 = np.ndarray[Any, np.dtype[np.int64]]
Step = Hashable | Sequence[Hashable]
Order = Literal["ordered", "strict", "any"]
Ties = Literal["allow", "strict"]
Attribution = Literal["first", "last"]
Count = Literal["entities", "attempts"]
Exclude = Any  # {name or tuple of names: (i, j)} or [(name or list of names, (i, j)), ...]

ORDERS: tuple[Order, ...] = ("ordered", "strict", "any")
TIES: tuple[Ties, ...] = ("allow", "strict")
ATTRIBUTIONS: tuple[Attribution, ...] = ("first", "last")
COUNTS: tuple[Count, ...] = ("entities", "attempts")
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)


# ----------------------------------------------------------------------------
# validation and preparation
# ----------------------------------------------------------------------------
def _parse_steps(steps: Any, *, func: str) -> tuple[list[list[Hashable]], list[str]]:
    """Steps as lists of event names, and their labels ("demo | trial")."""
    expected = "a non-empty list of event names or lists of event names"
    if isinstance(steps, str | bytes) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise param_error(func, "steps", expected, steps)
    names: list[list[Hashable]] = []
    for item in steps:
        if isinstance(item, str) or not isinstance(item, Sequence | set | frozenset):
            group: list[Hashable] = [item]
        else:
            group = list(dict.fromkeys(item))
            if not group:
                raise param_error(func, "steps", expected + " (no empty lists)", steps)
        for name in group:
            if name is None or (isinstance(name, float) and np.isnan(name)):
                raise param_error(func, "steps", expected + " (no missing names)", steps)
            if not isinstance(name, Hashable):
                raise param_error(func, "steps", expected, steps)
        names.append(group)
    labels: list[str] = []
    for group in names:
        label = " | ".join(str(n) for n in group)
        base, k = label, 2
        while label in labels:
            label = f"{base} #{k}"
            k += 1
        labels.append(label)
    return names, labels


def _check_flag(value: Any, *, name: str, func: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise param_error(func, name, "True or False", value)
    return bool(value)


def _time_ns(events: pd.DataFrame, column: str) -> tuple[I64, Any]:
    """Event times as int64 ns (UTC when tz-aware; NAT for missing) and the time zone."""
    s = events[column]
    dtype = s.dtype
    # the fast paths take nanosecond columns only: any other unit goes through the
    # shared date reader, which refuses dates outside the ns range instead of wrapping
    if isinstance(dtype, pd.DatetimeTZDtype) and dtype.unit == "ns":
        tz = dtype.tz
        values = s.array.tz_convert("UTC").tz_localize(None)
        arr = np.asarray(values, dtype="datetime64[ns]")
    elif isinstance(dtype, np.dtype) and dtype == np.dtype("datetime64[ns]"):
        tz = None
        arr = s.to_numpy()
    else:
        parsed = as_datetime(events, column, table="events", keyword="time")
        tz = parsed.dt.tz
        if tz is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        arr = parsed.to_numpy(dtype="datetime64[ns]")
    return cast(I64, arr.view(np.int64)), tz


def _event_codes(events: pd.DataFrame, column: str, names: list[Hashable]) -> tuple[Any, I64, Any]:
    """Small integer codes of the event column, and a lookup code -> index in ``names``.

    ``lookup[code]`` is -1 for events that fill no step (its last entry
    serves code -1, a missing event).  Also returns the categories of a
    categorical column (else None).
    """
    s = events[column]
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        lookup = np.append(pd.Index(names).get_indexer(cats), -1).astype(np.int64)
        return s.cat.codes.to_numpy(), lookup, list(cats)
    lookup = np.append(np.arange(len(names)), -1).astype(np.int64)
    if len(s) == 0:
        return np.zeros(0, dtype=np.int8), lookup, None
    # a hash lookup: -1 for events that fill no step.  (pd.Categorical with values
    # outside its categories is deprecated in pandas 3.)
    if s.dtype == object:
        # a plain array: no dtype inference on a pandas object (pandas 2.3 / 3 transition)
        codes = pd.Index(names, dtype=object).get_indexer(s.to_numpy(dtype=object))
    else:
        codes = pd.Index(names).get_indexer(s)
    return codes.astype(np.int64, copy=False), lookup, None


def _unknown_steps(
    uniques: list[Any],
    column: str,
    names: list[Hashable],
    found: Sequence[bool],
    *,
    func: str,
    n_step: int = 0,
) -> InvalidParameterError:
    """The error for steps naming events absent from ``uniques`` (the column's distinct values).

    ``names[n_step:]`` (when ``n_step`` > 0) are exclusion events, reported as ``exclude``.
    """
    try:
        existing = sorted(uniques)
    except TypeError:
        existing = sorted(uniques, key=str)
    missing = [n for n, f in zip(names, found, strict=True) if not f]
    param = "steps"
    if n_step and all(not f for f in found[n_step:]) and all(found[:n_step]):
        param = "exclude"
    elif n_step:
        missing = [n for n, f in zip(names[:n_step], found[:n_step], strict=True) if not f]
    first = missing[0]
    msg = (
        f"The {param!r} parameter of {func} names {len(missing)} event(s) that do not occur in "
        f"events[{column!r}]: {missing!r}. Existing events: {existing!r}."
    )
    hint = closest(first, [str(e) for e in existing])
    if hint is not None:
        msg += f" Hint: did you mean {hint!r}?"
    return InvalidParameterError(msg)


@dataclass(frozen=True)
class _Prepared:
    """Validated events, ready for the kernel."""

    events: pd.DataFrame  # the (possibly null-filtered) input, never modified
    positions: I64  # positions in `events` of the kernel's rows
    codes: I64  # entity code per kernel row
    time: I64  # ns per kernel row
    members: list[I64]  # per step, positions into the kernel rows
    disjoint: bool
    labels: list[str]
    by: list[Hashable]
    tz: Any
    entity: Hashable
    all_rows: bool  # kernel rows are every valid row (else only step rows)
    exclusions: tuple[Exclusion, ...] = ()
    hold: I64 | None = None  # sorted code of the held values per kernel row
    as_of_ns: int | None = None  # observation date (ns, UTC); later rows are left out
    # sorted distinct entity codes of every valid row (funnel_entities with step rows only)
    all_ids: I64 | None = None


@dataclass(frozen=True)
class _Options:
    """Checked parameters of an event funnel function (no data)."""

    names_per_step: list[list[Hashable]]
    labels: list[str]
    names: list[Hashable]  # distinct event names of all steps
    per_step_idx: list[list[int]]  # per step, indices into `names`
    disjoint: bool
    by: list[Hashable]
    entity: str
    time: str
    event: str
    window: int | None  # ns
    order: Order
    ties: Ties
    attribution: Attribution
    dropna: bool
    n_step_names: int = 0  # names[:n_step_names] fill steps, the rest are exclusion events
    exclude: tuple[tuple[int, int, tuple[int, ...]], ...] = ()  # (first, last, name indices)
    step_windows: tuple[int | None, ...] | None = None  # ns
    count: Count = "entities"
    hold: tuple[Hashable, ...] = ()
    as_of: Any = None  # the parameter as given (read in the data's time zone)
    as_of_ns: int | None = None  # resolved for Dask partitions (the whole log's latest event)
    mature_only: bool = False
    first_by: tuple[Hashable, ...] = ()  # by columns read at the step-1 event whatever attribution
    # (column, period alias): a by column that is no column of the log but the calendar
    # period of each table row's step-1 time (conversion_over_time's entry period)
    start_period: tuple[Hashable, str] | None = None

    @property
    def read_by(self) -> list[Hashable]:
        """The ``by`` columns read from the log's rows (all but the start period)."""
        if self.start_period is None:
            return self.by
        return [c for c in self.by if c != self.start_period[0]]

    @property
    def rows(self) -> Rows:
        """Which rows of the winning chain the kernel reports: those the ``by`` values come from."""
        if not self.read_by:
            return "none"
        if self.first_by and self.attribution == "last":
            return "both"
        return self.attribution

    @property
    def features(self) -> bool:
        """Whether an option of the feature kernel is used (else the plain kernels run)."""
        return bool(
            self.exclude or self.step_windows is not None or self.hold or self.count == "attempts"
        )

    @property
    def maturity(self) -> bool:
        """Whether maturity is reported (``as_of`` given or ``mature_only``)."""
        return self.as_of is not None or self.mature_only

    @property
    def horizon(self) -> int | None:
        """Longest time a chain may take (ns): the window, else the sum of the step windows."""
        if self.window is not None:
            return self.window
        if self.step_windows is not None and all(w is not None for w in self.step_windows):
            return sum(w for w in self.step_windows if w is not None)
        return None


@dataclass(frozen=True)
class _Counts:
    """What one frame's preparation left out or found (summed over Dask partitions)."""

    n_rows: int  # input rows
    n_null: int  # rows left out: null entity
    n_nat: int  # of the rest, rows left out: missing time
    found: tuple[bool, ...]  # per name in `names`: occurs in some input row
    tz: Any  # time zone of the time column (None: naive)


def _options(
    events: pd.DataFrame,
    steps: Any,
    *,
    func: str,
    entity: str,
    time: str,
    event: str,
    window: Any,
    order: Any,
    ties: Any,
    by: Any,
    attribution: Any,
    dropna: Any,
    exclude: Any = None,
    step_windows: Any = None,
    count: Any = "entities",
    hold: Any = None,
    as_of: Any = None,
    mature_only: Any = False,
    first_by: tuple[Hashable, ...] = (),
    start_period: tuple[Hashable, str] | None = None,
) -> _Options:
    """Check the parameters and that ``events`` (or its Dask meta) has the columns.

    ``start_period``: ``(column, period)``, a ``by`` column computed from the
    table (the calendar period of each row's step-1 time), not read from the log.
    """
    names_per_step, labels = _parse_steps(steps, func=func)
    by_cols = as_list(by)
    require_columns(events, {"entity": entity, "time": time, "event": event}, table="events")
    for col in by_cols:
        if start_period is None or col != start_period[0]:
            require_columns(events, {"by": col}, table="events")
    order_ = check_option(order, ORDERS, name="order", func=func)
    ties_ = check_option(ties, TIES, name="ties", func=func)
    attribution_ = check_option(attribution, ATTRIBUTIONS, name="attribution", func=func)
    if isinstance(window, int | np.integer) and not isinstance(window, bool) and window == 0:
        window = pd.Timedelta(0)  # 0 is unambiguous in any unit
    td = check_duration(window, name="window", func=func)
    window_ns = None if td is None else int(td.value)
    drop = _check_flag(dropna, name="dropna", func=func)
    names = list(dict.fromkeys(n for group in names_per_step for n in group))
    per_step_idx = [[names.index(n) for n in group] for group in names_per_step]
    disjoint = sum(len(g) for g in names_per_step) == len(names)
    if not disjoint and (order_ == "any" or (order_ == "strict" and ties_ == "allow")):
        msg = (
            f"The 'steps' parameter of {func} lists an event in more than one step, which "
            f"order={order_!r}" + (" with ties='allow'" if order_ == "strict" else "") + " does "
            "not support. Use order='ordered' (or order='strict' with ties='strict'), or give "
            "each step its own events."
        )
        raise InvalidParameterError(msg)

    if not disjoint and ties_ == "allow":
        _check_shared_steps(names_per_step, func=func)
    n_step_names = len(names)
    k = len(names_per_step)
    excl = _parse_exclude(exclude, names_per_step, func=func)
    exclude_idx: list[tuple[int, int, tuple[int, ...]]] = []
    for group, (i, j) in excl:
        idx = []
        for n in group:
            if n not in names:
                names.append(n)
            idx.append(names.index(n))
        exclude_idx.append((i - 1, j - 1, tuple(idx)))
    sw = _parse_step_windows(step_windows, k, func=func)
    count_ = check_option(count, COUNTS, name="count", func=func)
    hold_cols = as_list(hold)
    for col in hold_cols:
        require_columns(events, {"hold": col}, table="events")
    if len(set(hold_cols)) < len(hold_cols):
        raise param_error(func, "hold", "distinct column names", hold)
    if as_of is not None:  # parseable; read in the data's time zone by _prepare
        check_date(as_of, tz="UTC", name="as_of", func=func)
    mature = _check_flag(mature_only, name="mature_only", func=func)
    used = [
        name
        for name, on in (
            ("exclude", bool(excl)),
            ("step_windows", sw is not None),
            ("hold", bool(hold_cols)),
            ("count='attempts'", count_ == "attempts"),
        )
        if on
    ]
    if used and order_ != "ordered":
        msg = (
            f"{func}: {', '.join(used)} is only supported with order='ordered', not "
            f"order={order_!r}. Use order='ordered' or leave out {used[0]}."
        )
        raise InvalidParameterError(msg)
    if used and not disjoint:
        msg = (
            f"{func}: {', '.join(used)} needs steps that share no event; the 'steps' parameter "
            "lists an event in more than one step. Give each step its own events."
        )
        raise InvalidParameterError(msg)
    if hold_cols and count_ == "attempts":
        msg = (
            f"{func}: hold= and count='attempts' cannot be combined (an attempt is an entity's, "
            "not a held value's). Use one of them."
        )
        raise InvalidParameterError(msg)
    opts = _Options(
        names_per_step=names_per_step,
        labels=labels,
        names=names,
        per_step_idx=per_step_idx,
        disjoint=disjoint,
        by=by_cols,
        entity=entity,
        time=time,
        event=event,
        window=window_ns,
        order=order_,
        ties=ties_,
        attribution=attribution_,
        dropna=drop,
        n_step_names=n_step_names,
        exclude=tuple(exclude_idx),
        step_windows=sw,
        count=count_,
        hold=tuple(hold_cols),
        as_of=as_of,
        mature_only=mature,
        first_by=tuple(first_by),
        start_period=start_period,
    )
    if mature and opts.horizon is None and count_ == "entities":
        msg = (
            f"The 'mature_only' parameter of {func} needs a window (or a duration in every "
            "step window): without one an entity's funnel never closes. Pass window=..."
        )
        raise InvalidParameterError(msg)
    if mature and count_ == "attempts" and window_ns is None:
        msg = (
            f"The 'mature_only' parameter of {func} with count='attempts' needs a window: "
            "without one an unconverted attempt never ends. Pass window=..."
        )
        raise InvalidParameterError(msg)
    return opts


def _check_shared_steps(names_per_step: list[list[Hashable]], *, func: str) -> None:
    """Limits of the exact check for steps that share events (ties allowed)."""
    k = len(names_per_step)
    if k > MAX_SHARED_STEPS:
        msg = (
            f"The 'steps' parameter of {func} has {k} steps and lists an event in more than "
            f"one step; with ties='allow' that is supported for at most {MAX_SHARED_STEPS} "
            "steps. Use ties='strict', or give each step its own events (e.g. rename repeats "
            "'view' -> 'view 1', 'view 2' in the log)."
        )
        raise InvalidParameterError(msg)
    names = list(dict.fromkeys(n for g in names_per_step for n in g))
    patterns = sorted({sum(1 << j for j, g in enumerate(names_per_step) if n in g) for n in names})
    for mask, pats in linked_components(patterns):
        size = bin(mask).count("1")
        if len(pats) > 1 and size > MAX_HALL_STEPS:
            linked = [names_per_step[j] for j in range(k) if mask >> j & 1]
            msg = (
                f"The 'steps' parameter of {func} links {size} steps by shared events "
                f"({linked!r}); with ties='allow' at most {MAX_HALL_STEPS} steps may be linked "
                "that way (the exact check enumerates their subsets). Use ties='strict', or "
                "split the steps that list several events so fewer of them share one."
            )
            raise InvalidParameterError(msg)


def _parse_exclude(
    exclude: Any, names_per_step: list[list[Hashable]], *, func: str
) -> list[tuple[list[Hashable], tuple[int, int]]]:
    """Exclusions as (event names, (i, j)) with 1 <= i < j <= len(steps)."""
    if exclude is None:
        return []
    k = len(names_per_step)
    expected = (
        "a mapping {event name: (i, j)} or a list of (event name or list of names, (i, j)) "
        f"pairs, with steps 1 <= i < j <= {k}"
    )
    if isinstance(exclude, dict):
        items = list(exclude.items())
    elif isinstance(exclude, Sequence) and not isinstance(exclude, str | bytes):
        items = list(exclude)
        if not all(
            isinstance(x, Sequence) and not isinstance(x, str) and len(x) == 2 for x in items
        ):
            raise param_error(func, "exclude", expected, exclude)
    else:
        raise param_error(func, "exclude", expected, exclude)
    step_names = {n for g in names_per_step for n in g}
    out: list[tuple[list[Hashable], tuple[int, int]]] = []
    for key, span in items:
        group = list(key) if isinstance(key, list | tuple | set | frozenset) else [key]
        if not group or any(n is None for n in group):
            raise param_error(func, "exclude", expected, exclude)
        if (
            not isinstance(span, Sequence)
            or isinstance(span, str)
            or len(span) != 2
            or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in span)
            or not 1 <= int(span[0]) < int(span[1]) <= k
        ):
            raise param_error(func, "exclude", expected + f" (span {span!r})", exclude)
        clash = [n for n in group if n in step_names]
        if clash:
            msg = (
                f"The 'exclude' parameter of {func} names funnel steps: {clash!r}. An exclusion "
                "event must not be a step; use another event name."
            )
            raise InvalidParameterError(msg)
        out.append((group, (int(span[0]), int(span[1]))))
    return out


def _parse_step_windows(value: Any, k: int, *, func: str) -> tuple[int | None, ...] | None:
    """One duration (ns) or None per transition; None when not given."""
    if value is None:
        return None
    expected = f"a list of {k - 1} durations or None (one per transition between steps)"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != k - 1:
        raise param_error(func, "step_windows", expected, value)
    out: list[int | None] = []
    for w in value:
        if isinstance(w, int | np.integer) and not isinstance(w, bool) and w == 0:
            w = pd.Timedelta(0)
        td = check_duration(w, name="step_windows", func=func)
        out.append(None if td is None else int(td.value))
    return tuple(out)


def _prepare(
    events: pd.DataFrame,
    opts: _Options,
    *,
    func: str,
    all_rows: bool,
    report: bool = True,
    every_entity: bool = False,
) -> tuple[_Prepared, _Counts]:
    """Turn a checked frame into the kernel's arrays.

    With ``report=True`` (a whole log) null entities raise (or are dropped with
    a warning), missing times are dropped with a warning and unknown steps
    raise.  With ``report=False`` (one Dask partition) null entities and
    missing times are dropped silently and everything is counted in the
    returned :class:`_Counts`, for the caller to report once for all
    partitions.
    """
    df = original = events
    entity, time, event, names = opts.entity, opts.time, opts.event, opts.names
    n_null = 0
    ent_dtype = df[entity].dtype
    if not (isinstance(ent_dtype, np.dtype) and ent_dtype.kind in "iub"):  # those hold no nulls
        if report:
            df = check_not_null(
                df, entity, table="events", keyword="entity", dropna=opts.dropna, func=func
            )
            n_null = len(original) - len(df)
        else:
            null = df[entity].isna().to_numpy()
            n_null = int(null.sum())
            if n_null:
                df = df.loc[~null]
    t_ns, tz = _time_ns(df, time)
    valid = t_ns != NAT
    n_bad = int(len(df) - np.count_nonzero(valid))
    if n_bad and report:
        warn_dropped(n_bad, len(df), f"events[{time!r}] is missing (NaT)", func=func)
    as_of_ns = _resolve_as_of(opts, t_ns, valid, tz, func=func)
    filtered = n_bad > 0
    if as_of_ns is not None and opts.as_of is not None:
        late = t_ns > as_of_ns
        if late.any():  # events after the observation date are ignored
            valid = valid & ~late
            filtered = True
    ev_codes, lookup, categories = _event_codes(df, event, names)
    if all_rows:
        positions = np.flatnonzero(valid) if filtered else np.arange(len(df), dtype=np.int64)
    else:
        is_step = lookup_blocks(lookup >= 0, ev_codes)
        positions = np.flatnonzero(is_step & valid if filtered else is_step)
    positions = positions.astype(np.int64, copy=False)
    every_row = positions.size == len(df)  # all rows kept, in order: no gathers
    kept_codes = ev_codes if every_row else ev_codes[positions]

    @functools.cache
    def sub() -> I64:  # index into `names` of each kept row, -1: other (made when needed)
        return cast(I64, lookup_blocks(lookup, kept_codes))

    # a partition reports what it saw (combined with "or"); a whole log with valid rows raises
    found = [report] * len(names)
    if (report and len(df) - n_bad > 0) or (not report and len(original) > 0):
        if categories is not None:
            found = [n in set(categories) for n in names]
        else:
            named = sub()
            counts = np.bincount(named[named >= 0], minlength=len(names))
            if not counts.all():  # look again at every input row (some were left out)
                every_codes, _, _ = _event_codes(original, event, names)
                every = lookup_blocks(lookup, every_codes)
                counts = np.bincount(every[every >= 0], minlength=len(names))
            found = [bool(c) for c in counts]
        if report and not all(found):
            uniques = list(pd.unique(original[event].dropna()))
            raise _unknown_steps(uniques, event, names, found, func=func, n_step=opts.n_step_names)
    members: list[I64] = []
    per_step_idx = opts.per_step_idx
    if opts.disjoint:
        step_of_name = np.full(len(names) + 1, len(per_step_idx), dtype=np.int32)
        for j, idx in enumerate(per_step_idx):
            step_of_name[idx] = j
        # step of each event code (the last entry: code -1, a missing event), so the
        # rows are read once; small integers where the steps are few
        small = np.int16 if len(per_step_idx) < 2**15 else np.int32
        step = lookup_blocks(step_of_name[lookup].astype(small), kept_codes)
        if all_rows:  # most rows fill no step: split the step rows only
            in_step = np.flatnonzero(step < len(per_step_idx)).astype(np.int64, copy=False)
            step_in = step[in_step]
            for j in range(len(per_step_idx)):
                members.append(in_step[np.flatnonzero(step_in == j)])
        else:
            for j in range(len(per_step_idx)):
                members.append(np.flatnonzero(step == j).astype(np.int64, copy=False))
    else:
        for idx in per_step_idx:
            lut = np.zeros(len(names) + 1, dtype=bool)
            lut[idx] = True
            members.append(np.flatnonzero(lut[sub()]).astype(np.int64))
    codes = _entity_codes(df[entity], positions, every_row)
    exclusions = []
    for first, last, name_idx in opts.exclude:
        lut = np.zeros(len(names) + 1, dtype=bool)
        lut[list(name_idx)] = True
        exclusions.append(Exclusion(first, last, np.flatnonzero(lut[sub()]).astype(np.int64)))
    hold = None
    if opts.hold:
        hold_values = _take_rows(df, opts.hold, positions)
        hold, _ = _group_codes(hold_values, list(opts.hold))
    prepared = _Prepared(
        events=df,
        positions=positions,
        codes=codes,
        time=_read_only(t_ns) if every_row else t_ns[positions],
        members=members,
        disjoint=opts.disjoint,
        labels=opts.labels,
        by=opts.by,
        tz=tz,
        entity=entity,
        all_rows=all_rows,
        exclusions=tuple(exclusions),
        hold=hold,
        as_of_ns=as_of_ns,
        all_ids=_distinct_ids(df[entity], valid, filtered) if every_entity else None,
    )
    counts_ = _Counts(len(original), n_null, n_bad, tuple(found), tz)
    return prepared, counts_


def _distinct_ids(s: pd.Series, valid: Any, filtered: bool) -> I64:
    """Sorted distinct codes (:func:`_entity_codes`) of the valid rows (integer, categorical)."""
    raw = s.cat.codes.to_numpy() if isinstance(s.dtype, pd.CategoricalDtype) else s.to_numpy()
    if filtered:
        raw = raw[valid]
    return _sorted_distinct(raw.astype(np.int64, copy=False))


def _small_range(codes: I64) -> bool:
    """Whether an int64 table over the codes' range is cheaper than sorting or hashing them."""
    return int(codes.max()) - int(codes.min()) <= 4 * codes.size + 1024


#: Codes per block of :func:`_sorted_distinct`'s marking (a 512 KiB buffer).
_MARK_BLOCK = 65_536


def _sorted_distinct(codes: I64) -> I64:
    """The distinct integer codes, sorted.

    Marked in a table over their range when it is small (``np.unique`` hashes
    or sorts, and numpy 2 hashes large integer arrays slowly).
    """
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo, hi = np.int64(codes.min()), int(codes.max())
    if hi - int(lo) > 32 * codes.size + 2**20:  # a bool per value of the range: 32 bytes a code
        return cast(I64, np.unique(codes).astype(np.int64))
    present = np.zeros(hi - int(lo) + 1, dtype=bool)
    jobs = resolve_jobs(None, codes.size)
    cuts = np.linspace(0, codes.size, jobs + 1).astype(np.int64).tolist()

    def mark(i: int) -> None:
        # in blocks through one buffer: the offsets of a long log are never all in memory
        buf = np.empty(min(_MARK_BLOCK, cuts[i + 1] - cuts[i]), dtype=np.int64)
        for a in range(cuts[i], cuts[i + 1], _MARK_BLOCK):
            b = min(a + _MARK_BLOCK, cuts[i + 1])
            part = np.subtract(codes[a:b], lo, out=buf[: b - a])
            present[part] = True

    if jobs == 1:
        mark(0)
    else:  # numpy lets go of the GIL while scattering; every thread writes only True
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="funnelkit") as pool:
            list(pool.map(mark, range(jobs)))
    return cast(I64, np.flatnonzero(present).astype(np.int64) + lo)


def _subset_positions(uniq: I64, sub: I64) -> I64:
    """Positions in the sorted distinct codes ``uniq`` of ``sub``, sorted codes of ``uniq``.

    Marks in a table over the range when ``sub`` has no repeats and the range
    is small (two passes in order), else a binary search.
    """
    if uniq.size == 0 or sub.size == 0:
        return np.zeros(sub.size, dtype=np.int64)
    lo, hi = int(uniq[0]), int(uniq[-1])
    if hi - lo > 8 * uniq.size + 1024 or not bool(np.all(sub[1:] > sub[:-1])):
        return cast(I64, np.searchsorted(uniq, sub).astype(np.int64))
    hit = np.zeros(hi - lo + 1, dtype=bool)
    hit[sub - lo] = True
    return cast(I64, np.flatnonzero(hit[uniq - lo]).astype(np.int64))


def _positions_in(uniq: I64, codes: I64) -> I64:
    """The position of each code in the sorted distinct codes ``uniq``; -1 where absent.

    A lookup table over ``uniq``'s range when it is small, else a binary search.
    """
    out = np.full(codes.size, -1, dtype=np.int64)
    if uniq.size == 0 or codes.size == 0:
        return out
    lo, hi = int(uniq[0]), int(uniq[-1])
    inside = (codes >= lo) & (codes <= hi)
    every = bool(inside.all())
    sub = codes if every else codes[inside]
    if hi - lo <= 4 * codes.size + 1024:
        table = np.full(hi - lo + 1, -1, dtype=np.int64)
        table[uniq - lo] = np.arange(uniq.size, dtype=np.int64)
        found = table[sub - lo]
    else:
        pos = np.searchsorted(uniq, sub)
        found = np.where(uniq[np.minimum(pos, uniq.size - 1)] == sub, pos, -1).astype(np.int64)
    if every:
        return cast(I64, found)
    out[inside] = found
    return out


def _ids_from_codes(s: pd.Series) -> bool:
    """Whether an id column's codes (:func:`_entity_codes`) are its values or category codes."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return True
    return isinstance(dtype, np.dtype) and (
        dtype.kind == "i" or (dtype.kind == "u" and dtype.itemsize < 8)
    )


def _resolve_as_of(opts: _Options, t_ns: I64, valid: Any, tz: Any, *, func: str) -> int | None:
    """The observation date in ns (UTC): ``as_of`` read in the data's zone, else the latest event.

    None when maturity is not asked for.  A Dask partition gets the whole
    log's value in ``opts.as_of_ns``.
    """
    if opts.as_of_ns is not None:
        return opts.as_of_ns
    if opts.as_of is not None:
        ts = check_date(opts.as_of, tz=tz, name="as_of", func=func)
        if ts.tz is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        return int(ts.as_unit("ns").value)
    if not opts.mature_only:
        return None
    ok = t_ns[valid]
    return int(ok.max()) if ok.size else None


def _entity_codes(s: pd.Series, positions: I64, every_row: bool = False) -> I64:
    """Integer code per selected row: the ids themselves when they are integers.

    ``every_row``: ``positions`` is every row in order, so an int64 id column is
    read as it is (a read-only view, no copy).
    """
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cat = s.cat.codes.to_numpy()
        return cast(I64, (cat if every_row else cat[positions]).astype(np.int64))
    if isinstance(dtype, np.dtype) and (
        dtype.kind == "i" or (dtype.kind == "u" and dtype.itemsize < 8)
    ):
        if every_row:
            return _read_only(s.to_numpy().astype(np.int64, copy=False))
        return cast(I64, s.to_numpy()[positions].astype(np.int64, copy=False))
    values = s.to_numpy()[positions] if isinstance(dtype, np.dtype) else s.take(positions)
    codes, _ = pd.factorize(values)
    return codes.astype(np.int64)


def _read_only(values: I64) -> I64:
    """A read-only view of ``values`` (the caller's data, shared with the kernel)."""
    view = values.view()
    view.flags.writeable = False
    return cast(I64, view)


def _dense_codes(codes: I64) -> tuple[I64, int]:
    """Codes renumbered 0..n-1 in sorted order, and n."""
    dense, uniq = _dense_codes_uniq(codes)
    return dense, int(uniq.size)


def _dense_codes_uniq(codes: I64) -> tuple[I64, I64]:
    """Codes renumbered 0..n-1 in sorted order, and the distinct codes (sorted)."""
    if codes.size == 0:
        return codes, codes
    if _small_range(codes):  # a lookup table over the code range: no sort, no hashing
        uniq = _sorted_distinct(codes)
        return _positions_in(uniq, codes), uniq
    uniq, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), uniq.astype(np.int64)


@dataclass(frozen=True)
class _Run:
    """The kernel's per-entity (or per-attempt) table, and what the options add to it."""

    table: FunnelTable
    attempt: I64 | None  # attempt number per table row (count="attempts")
    mature: np.ndarray[Any, np.dtype[np.bool_]] | None  # per table row (as_of / mature_only)

    def counted(self, opts: _Options) -> FunnelTable:
        """The rows the aggregates count: all, or the mature ones with ``mature_only``."""
        if opts.mature_only and self.mature is not None:
            return take_table(self.table, np.flatnonzero(self.mature).astype(np.int64))
        return self.table


def _run(prep: _Prepared, opts: _Options, rows: Rows) -> _Run:
    k = len(prep.members)
    attempt: I64 | None = None
    deadline: I64 | None = None
    if prep.codes.size == 0:
        table = empty_table(k)
        if opts.count == "attempts":
            attempt = deadline = np.zeros(0, dtype=np.int64)
    elif not opts.features:
        table = funnel_kernel(
            prep.codes,
            prep.time,
            prep.members,
            window=opts.window,
            order=opts.order,
            ties=opts.ties,
            rows=rows,
            disjoint=prep.disjoint,
        )
    else:
        fkw: dict[str, Any] = dict(
            window=opts.window,
            step_windows=opts.step_windows,
            exclusions=prep.exclusions,
            ties=opts.ties,
            rows=rows,
        )
        if opts.count == "attempts":
            table, attempt, deadline = attempts_kernel(prep.codes, prep.time, prep.members, **fkw)
        elif prep.hold is not None:
            # each (entity, held value) is a funnel of its own; the entity keeps the best
            n_h = int(prep.hold.max()) + 1
            cmin = int(prep.codes.min())
            if (int(prep.codes.max()) - cmin + 1) * n_h <= 16 * prep.codes.size + 1024:
                # sub-entity (code - cmin) * n_h + held value, in (entity, value) order as
                # it is: no renumbering (the kernel takes codes of any range; this one
                # has at most 4 bits more than dense codes)
                sub = (prep.codes - np.int64(cmin)) * np.int64(n_h) + prep.hold
                per_value = feature_kernel(sub, prep.time, prep.members, **fkw)
                ent, rank = np.divmod(per_value.entities, np.int64(n_h))
                best = best_per_entity(per_value, ent, rank)
                table = dataclasses.replace(best, entities=best.entities + np.int64(cmin))
            else:
                dense, n_ent = _dense_codes(prep.codes)  # sorted order, as np.unique's inverse
                uniq = np.zeros(n_ent, dtype=np.int64)
                uniq[dense] = prep.codes
                sub, n_sub = _dense_codes(dense * np.int64(n_h) + prep.hold)
                entity_of = np.zeros(n_sub, dtype=np.int64)
                entity_of[sub] = dense
                rank = np.zeros(n_sub, dtype=np.int64)
                rank[sub] = prep.hold
                per_value = feature_kernel(sub, prep.time, prep.members, **fkw)
                codes_ = per_value.entities
                best = best_per_entity(per_value, entity_of[codes_], rank[codes_])
                table = dataclasses.replace(best, entities=uniq[best.entities].astype(np.int64))
        else:
            table = feature_kernel(prep.codes, prep.time, prep.members, **fkw)
    mature = _mature(prep, opts, table, deadline) if opts.maturity else None
    return _Run(table, attempt, mature)


def _mature(
    prep: _Prepared, opts: _Options, table: FunnelTable, deadline: I64 | None
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Whether each table row's level can no longer change by ``as_of``.

    Converted rows are mature.  An entity is otherwise mature when the window
    (or the sum of the step windows) from its *last* step-1 event (with
    ``order="any"``: its last event of any step, where an interval may start)
    had elapsed by ``as_of``: none of its chains can still grow.  An attempt is mature when its
    window had run out.  Without a window only converted rows are mature.
    """
    k = table.n_steps
    done = table.reached == k
    as_of = prep.as_of_ns
    if as_of is None or table.entities.size == 0:
        return cast("np.ndarray[Any, np.dtype[np.bool_]]", done)
    if deadline is not None:
        return cast("np.ndarray[Any, np.dtype[np.bool_]]", done | (deadline <= as_of))
    horizon = opts.horizon
    if horizon is None:
        return cast("np.ndarray[Any, np.dtype[np.bool_]]", done)
    # the last event that can start (or, in any order, be the start of) a chain still open
    m0 = prep.members[0] if opts.order != "any" else np.concatenate(prep.members)
    uniq, inv = np.unique(prep.codes[m0], return_inverse=True)
    last = np.full(uniq.size, NAT, dtype=np.int64)
    np.maximum.at(last, inv.reshape(-1), prep.time[m0])
    last_of = last[np.searchsorted(uniq, table.entities)]
    return cast("np.ndarray[Any, np.dtype[np.bool_]]", done | (last_of <= as_of - horizon))


@dataclass(frozen=True)
class _Summary:
    """What the aggregate functions need of the per-entity table, by group.

    Small next to the log: entity counts per (group, deepest step reached),
    and the step times of the entities that reached step 2 or deeper (the
    only ones with durations).  The summaries of Dask partitions are merged
    by :func:`_combine`.
    """

    groups: pd.DataFrame  # one row per group (the by columns), sorted
    hist: I64  # (n_groups, K + 1): entities per group by deepest step reached
    gcode: I64  # (m,) group of each entity that reached step 2 or deeper
    reached: I64  # (m,) its deepest step
    step_time: I64  # (m, K) its step times (ns)

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return int(self.hist.shape[0])


def _summarize(prep: _Prepared, table: FunnelTable, opts: _Options) -> _Summary:
    """Group the kernel's per-entity table (groups from values, codes local to this table).

    Each ``by`` value is read at the row ``opts.attribution`` names, except the
    columns of ``opts.first_by``, always read at the step-1 event.
    """
    n, k = table.entities.size, table.n_steps
    if not prep.by:
        n_groups = 1 if n else 0
        groups = pd.DataFrame(index=range(n_groups))
        gcode = np.zeros(n, dtype=np.int64)
    else:
        read = opts.read_by
        if read:
            rows = table.first_row if opts.attribution == "first" else table.last_row
            values = _take_rows(prep.events, read, prep.positions[rows])
        else:
            values = pd.DataFrame(index=pd.RangeIndex(n))
        if opts.first_by and opts.attribution != "first":
            at_start = _take_rows(prep.events, opts.first_by, prep.positions[table.first_row])
            for col in opts.first_by:
                values[col] = at_start[col]
        if opts.start_period is not None:
            # the period of the step-1 event: of its time, one per table row
            column, period = opts.start_period
            start_ns = np.ascontiguousarray(table.step_time[:, 0])
            values[column] = period_starts(start_ns, prep.tz, period, categorical=True)
            values = values[prep.by]
        gcode, groups = _group_codes(values, prep.by)
        n_groups = len(groups)
    hist = np.bincount(gcode * (k + 1) + table.reached, minlength=n_groups * (k + 1))
    deep = table.reached >= 2
    return _Summary(
        groups=groups,
        hist=hist.reshape(n_groups, k + 1).astype(np.int64),
        gcode=gcode[deep],
        reached=table.reached[deep],
        step_time=table.step_time[deep],
    )


def _take_rows(frame: pd.DataFrame, columns: Sequence[Hashable], positions: I64) -> pd.DataFrame:
    """The rows at ``positions`` of some columns, on a fresh RangeIndex.

    Column by column: selecting the columns as a frame first would copy them whole
    (every row of the log) before the few rows are taken.
    """
    out: pd.DataFrame = pd.DataFrame(
        {c: frame[c].take(positions).reset_index(drop=True) for c in columns},
        index=pd.RangeIndex(positions.size),
    )
    return out


def _group_codes(values: pd.DataFrame, by: list[Hashable]) -> tuple[I64, pd.DataFrame]:
    """Sorted group number of each row of ``values``, and one row per group."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64), values.iloc[:0].reset_index(drop=True)
    if len(by) == 1 and isinstance(values[by[0]].dtype, pd.CategoricalDtype):
        return _categorical_group_codes(values[by[0]], by[0])
    gb = values.groupby(by, dropna=False, sort=True, observed=True)
    gcode = gb.ngroup().to_numpy().astype(np.int64)
    n_groups = int(gcode.max()) + 1
    first = np.full(n_groups, n, dtype=np.int64)
    np.minimum.at(first, gcode, np.arange(n, dtype=np.int64))
    groups = values.iloc[first].reset_index(drop=True)
    return gcode, groups


def _categorical_group_codes(col: pd.Series, name: Hashable) -> tuple[I64, pd.DataFrame]:
    """:func:`_group_codes` of one categorical column, from its codes (no hashing).

    The groups pandas gives (``groupby(sort=True, dropna=False, observed=True)``):
    the categories that occur, in category order, then missing values.
    """
    codes = col.cat.codes.to_numpy().astype(np.int64)  # -1: missing
    n_cat = len(col.cat.categories)
    present = np.bincount(codes + 1, minlength=n_cat + 1) > 0
    seen = np.flatnonzero(present[1:]).astype(np.int64)  # category codes, in order
    renumber = np.full(n_cat + 1, -1, dtype=np.int64)
    renumber[seen + 1] = np.arange(seen.size, dtype=np.int64)
    group_codes = seen
    if present[0]:
        renumber[0] = seen.size
        group_codes = np.r_[seen, -1]
    dtype = cast(pd.CategoricalDtype, col.dtype)
    groups = pd.DataFrame({name: pd.Categorical.from_codes(group_codes, dtype=dtype)})
    return cast(I64, renumber[codes + 1]), groups


def _combine(parts: Sequence[_Summary], by: list[Hashable], k: int) -> _Summary:
    """Merge summaries of disjoint sets of entities; groups are matched on their values."""
    used = [p for p in parts if p.n_groups]
    if not used:
        return parts[0] if parts else _Summary(pd.DataFrame(), *_empty_summary_arrays(k))
    if by:
        local = pd.concat([p.groups for p in used], ignore_index=True)
        to_global, groups = _group_codes(local, by)
    else:
        to_global = np.zeros(len(used), dtype=np.int64)
        groups = pd.DataFrame(index=range(1))
    hist = np.zeros((len(groups), k + 1), dtype=np.int64)
    np.add.at(hist, to_global, np.concatenate([p.hist for p in used]))
    offsets = np.cumsum([0] + [p.n_groups for p in used])
    gcode = np.concatenate([to_global[o + p.gcode] for o, p in zip(offsets, used, strict=False)])
    return _Summary(
        groups=groups,
        hist=hist,
        gcode=gcode.astype(np.int64),
        reached=np.concatenate([p.reached for p in used]),
        step_time=np.concatenate([p.step_time for p in used]),
    )


def _empty_summary_arrays(k: int) -> tuple[I64, I64, I64, I64]:
    e = np.zeros(0, dtype=np.int64)
    return np.zeros((0, k + 1), dtype=np.int64), e, e, np.zeros((0, k), dtype=np.int64)


def _level_counts(s: _Summary) -> I64:
    """(n_groups, K) entities reaching at least step k in each group."""
    return cast(I64, np.cumsum(s.hist[:, ::-1], axis=1)[:, ::-1][:, 1:].astype(np.int64))


#: Up to this many groups, order statistics are found group by group with a partial sort
#: (values bucketed by a radix sort of the small group codes); past it, one full sort.
_FEW_GROUPS = 256


def _grouped_order_stats(
    gcode: I64, n_groups: int, values: I64, counts: I64, ranks: list[I64]
) -> list[I64]:
    """``values`` of each group at the 0-based ranks ``ranks[i][g]`` (-1: none), per list."""
    out = [np.full(n_groups, NAT, dtype=np.int64) for _ in ranks]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    if n_groups <= _FEW_GROUPS:
        small = gcode.astype(np.uint8 if n_groups <= 256 else np.uint16)
        v = values[np.argsort(small, kind="stable")]  # a radix sort: one pass per byte
        for g in np.flatnonzero(counts > 0):
            sub = v[starts[g] : starts[g] + counts[g]]
            wanted = sorted({int(r[g]) for r in ranks if r[g] >= 0})
            if not wanted:
                continue
            part = np.partition(sub, wanted)
            for o, r in zip(out, ranks, strict=True):
                if r[g] >= 0:
                    o[g] = part[r[g]]
        return out
    v = values[np.lexsort((values, gcode))]
    for o, r in zip(out, ranks, strict=True):
        ok = r >= 0
        o[ok] = v[starts[ok] + r[ok]]
    return out


def _group_median_interval(gcode: I64, n_groups: int, values: I64, ci: float) -> tuple[I64, I64]:
    """Distribution-free interval of each group's median: two order statistics.

    ``[x_(k), x_(n-k+1)]`` with ``k`` the ``(1 - ci) / 2`` quantile of
    Binomial(n, 1/2), which covers the median with probability at least
    ``ci`` (Conover 1999, section 3.2); NAT when ``n`` is too small for any
    ``k >= 1``.
    """
    low = np.full(n_groups, NAT, dtype=np.int64)
    high = np.full(n_groups, NAT, dtype=np.int64)
    if values.size == 0:
        return cast(I64, low), cast(I64, high)
    counts = np.bincount(gcode, minlength=n_groups)
    k = stats.binom.ppf((1.0 - ci) / 2.0, counts, 0.5).astype(np.int64)
    ok = (counts > 0) & (k >= 1)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    lo_pos = starts[ok] + k[ok] - 1
    hi_pos = starts[ok] + counts[ok] - k[ok]
    if n_groups == 1:
        v = np.partition(values, np.unique(np.r_[lo_pos, hi_pos]))
        low[ok] = v[lo_pos]
        high[ok] = v[hi_pos]
        return cast(I64, low), cast(I64, high)
    lo_rank = np.where(ok, k - 1, -1).astype(np.int64)
    hi_rank = np.where(ok, counts - k, -1).astype(np.int64)
    low, high = _grouped_order_stats(gcode, n_groups, values, counts, [lo_rank, hi_rank])
    return cast(I64, low), cast(I64, high)


def _group_quantiles(gcode: I64, n_groups: int, values: I64, qs: Sequence[float]) -> I64:
    """Linear-interpolation quantiles (numpy's default) per group, in int64; NAT if empty."""
    out = np.full((n_groups, len(qs)), NAT, dtype=np.int64)
    if values.size == 0:
        return out
    counts = np.bincount(gcode, minlength=n_groups)
    has = counts > 0
    if 1 < n_groups <= _FEW_GROUPS:  # partial sorts group by group, all quantiles at once
        ranks: list[I64] = []
        for q in qs:
            pos = q * (counts - 1)
            lo = np.where(has, np.floor(pos), -1).astype(np.int64)
            ranks += [lo, np.where(has, np.minimum(lo + 1, counts - 1), -1).astype(np.int64)]
        found = _grouped_order_stats(gcode, n_groups, values, counts, ranks)
        for i, q in enumerate(qs):
            a, b = found[2 * i], found[2 * i + 1]
            frac = q * (counts[has] - 1) - ranks[2 * i][has]
            out[has, i] = a[has] + np.round((b[has] - a[has]) * frac).astype(np.int64)
        return out
    if n_groups == 1:
        # one group: partial sorts at the needed order statistics only
        n = values.size
        ks = sorted({min(int(np.floor(q * (n - 1))) + d, n - 1) for q in qs for d in (0, 1)})
        v = np.partition(values, ks)
    else:
        v = values[np.lexsort((values, gcode))]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    for i, q in enumerate(qs):
        pos = q * (counts[has] - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, counts[has] - 1)
        frac = pos - lo
        a = v[starts[has] + lo]
        b = v[starts[has] + hi]
        out[has, i] = a + np.round((b - a) * frac).astype(np.int64)
    return out


def _group_means(gcode: I64, n_groups: int, values: I64) -> I64:
    """Mean per group in int64, exactly rounded (half to even); NAT if empty.

    Exact, so independent of the order of ``values`` (the Dask path combines
    partitions in another order): each value is cut into three 21-bit pieces
    whose sums are exact in float64 (below 2**53 for fewer than 2**32 values),
    and the division is carried out piece by piece in integers.
    """
    counts = np.bincount(gcode, minlength=n_groups).astype(np.int64)
    out = np.full(n_groups, NAT, dtype=np.int64)
    has = counts > 0
    if not has.any():
        return out
    mask = np.int64((1 << 21) - 1)
    pieces = [values >> np.int64(42), (values >> np.int64(21)) & mask, values & mask]
    sums = [
        np.bincount(gcode, weights=p.astype(np.float64), minlength=n_groups)[has].astype(np.int64)
        for p in pieces
    ]
    c = counts[has]
    quotient = np.zeros(c.size, dtype=np.int64)
    rest = np.zeros(c.size, dtype=np.int64)
    for piece_sum in sums:  # three steps of long division: value = sum_i piece_i * 2**(21 i)
        q, rest = np.divmod(rest * np.int64(1 << 21) + piece_sum, c)
        quotient = quotient * np.int64(1 << 21) + q
    up = (2 * rest > c) | ((2 * rest == c) & (quotient % 2 == 1))
    out[has] = quotient + up.astype(np.int64)
    return out


def _td(values: I64) -> pd.Series:
    out = pd.Series(np.asarray(values, dtype=np.int64).view("timedelta64[ns]"))
    return cast(pd.Series, out)


def _block(groups: pd.DataFrame, by: list[Hashable], repeat: int) -> pd.DataFrame:
    """The by columns, each group repeated ``repeat`` times."""
    if not by:
        return cast(pd.DataFrame, pd.DataFrame(index=range(len(groups) * repeat)))
    out = groups.iloc[np.repeat(np.arange(len(groups)), repeat)]
    return cast(pd.DataFrame, out.reset_index(drop=True))


def _step_index(
    value: Any, labels: list[str], names: list[list[Hashable]], *, name: str, func: str
) -> int:
    for i, (label, group) in enumerate(zip(labels, names, strict=True)):
        if value == label or (len(group) == 1 and value == group[0]):
            return i
    raise param_error(func, name, f"one of the step labels {labels!r}", value)


# ----------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------
@takes_columns()
def funnel_entities(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
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
    """How far each entity got through the funnel, and when it reached each step.

    Parameters
    ----------
    events : pandas.DataFrame or dask.dataframe.DataFrame
        The event log: one row per event of an entity.  A Dask DataFrame
        (``funnelkit[dask]``) gives the same result, computed partition by
        partition after a shuffle by entity (see ``docs/dask.md``).
    steps : list of str or list of lists of str
        The funnel's steps in order.  Each item is an event name, or a list of
        event names any of which fills the step (labelled ``"a | b"``).
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
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
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
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per entity with at least one event, sorted by entity:

        - the ``entity`` column (values and dtype as in ``events``);
        - ``reached`` (int64): deepest step reached, 0 to ``len(steps)``;
        - one column per step, named by its label (datetime64[ns], in the
          input's time zone): when the winning chain reached that step, NaT
          when it did not;
        - the ``by`` columns, read as ``attribution`` says (for entities that
          reached no step: at their earliest event);
        - with ``count="attempts"``: one row per attempt instead, and an
          ``attempt`` column (int64, 1, 2, ... after the entity column; 0 on
          the one row of an entity that never entered);
        - with ``as_of`` or ``mature_only``: ``mature`` (bool), whether the
          row's level can no longer change by ``as_of`` (see Notes); with
          ``mature_only`` the immature rows are left out.

    Raises
    ------
    ColumnNotFoundError
        A column named by ``entity``, ``time``, ``event`` or ``by`` is missing.
    InvalidDataError
        ``entity`` has missing values (unless ``dropna=True``) or ``time`` does
        not hold datetimes.
    InvalidParameterError
        A step names an event that does not occur (the message lists the
        events that do), or another parameter is out of range.

    See Also
    --------
    conversion : Entities, conversion and timing per step.

    Notes
    -----
    A *chain* is a sequence of distinct events filling steps 1, 2, ..., k in
    time order with ``t_k - t_1 <= window``.  An entity's level is the
    longest chain; a later step-1 event starts a new candidate chain while
    deeper chains keep their own start.  With ``order="ordered"`` and steps
    that share no event this equals ClickHouse ``windowFunnel`` (default
    mode).  One event fills at most one step of a chain: when an event is
    listed in two steps, ClickHouse lets one event fill both, funnelkit needs
    two events.

    The *winning chain* is the deepest chain that completes first; among
    those, the one that starts last.  Step times are the first occurrence of
    each step after the previous one (``order="strict"``: the occurrence next
    to the following step; ``order="any"``: the first occurrence at or after
    the start of the earliest window that reaches the deepest level).  Missing
    times are left out with a :class:`~funnelkit.FunnelkitWarning`.

    ``exclude``, ``step_windows``, ``hold`` and ``count="attempts"`` restrict
    the valid chains (``docs/events.md`` gives the rules and worked
    examples); the winning chain is chosen the same way.  A row is *mature*
    when it converted, or when the window (else the sum of the step windows)
    from the entity's last step-1 event had elapsed by ``as_of`` (an attempt:
    when its own window had run out): none of its chains can still grow.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 1, 2, 2, 3],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-05",
    ...                                  "2025-01-01", "2025-01-20", "2025-01-03"]),
    ...     "event": ["visit", "signup", "buy", "visit", "signup", "signup"],
    ... })
    >>> fk.funnel_entities(ev, ["visit", "signup", "buy"], window="7D")
       user_id  reached      visit     signup        buy
    0        1        3 2025-01-01 2025-01-02 2025-01-05
    1        2        1 2025-01-01        NaT        NaT
    2        3        0        NaT        NaT        NaT
    """
    func = "funnel_entities"
    kw: dict[str, Any] = dict(entity=entity, time=time, event=event, window=window, order=order)
    kw.update(ties=ties, by=by, attribution=attribution, dropna=dropna)
    kw.update(exclude=exclude, step_windows=step_windows, count=count, hold=hold)
    kw.update(as_of=as_of, mature_only=mature_only)
    if is_dask(events):
        _, parts = _dask_reduce(func, events, steps, kw, all_rows=True, want="entities")
        frames = [f for f in parts if len(f)] or list(parts[:1])
        return _sort_entities(pd.concat(frames, ignore_index=True), entity)
    df = check_frame(events, table="events", func=func)
    opts = _options(df, steps, func=func, **kw)
    # integer or categorical ids without by: the kernel reads the step rows only, and the
    # entities without one come from one pass over the id column
    fast = not opts.by and opts.order != "strict" and _ids_from_codes(df[entity])
    prep, _ = _prepare(df, opts, func=func, all_rows=not fast, every_entity=fast)
    return _sort_entities(_entity_table(prep, opts), entity)


def _entity_table(prep: _Prepared, opts: _Options) -> pd.DataFrame:
    """One row per entity of ``prep`` (in order of first appearance): level, step times, by.

    With ``count="attempts"``: one row per attempt (entities without one: a
    row with attempt 0).  With maturity: a ``mature`` column, and with
    ``mature_only`` the immature rows left out.
    """
    k = len(prep.members)
    if prep.all_ids is not None:
        # every entity, also those without a step row (integer or categorical ids, no by):
        # the kernel runs on the ids, and only its (sorted) entities are renumbered
        uniq = prep.all_ids
        dense_codes = prep.codes
        run = _run(prep, opts, rows=opts.rows)
        table = dataclasses.replace(run.table, entities=_subset_positions(uniq, run.table.entities))
    else:
        # dense entity codes 0..n-1, so per-entity arrays can be indexed by code
        dense_codes, uniq = _dense_codes_uniq(prep.codes)
        prep = dataclasses.replace(prep, codes=dense_codes)
        run = _run(prep, opts, rows=opts.rows)
        table = run.table
    n = int(uniq.size)
    ev = prep.events
    entity = opts.entity
    id_dtype = ev[entity].dtype
    # integer and categorical ids are their own codes: no representative row needed
    ids_from_codes = not opts.by and _ids_from_codes(ev[entity])
    if ids_from_codes:
        earliest = np.zeros(n, dtype=np.int64)  # unused: no by values to read
    else:
        # representative row per entity: its earliest event (first in input order on ties)
        first_time = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first_time, dense_codes, prep.time)
        at_first = np.flatnonzero(prep.time == first_time[dense_codes])
        earliest = np.full(n, dense_codes.size, dtype=np.int64)
        np.minimum.at(earliest, dense_codes[at_first], at_first)
    attr_rows = table.first_row if opts.attribution == "first" else table.last_row
    if run.attempt is not None:
        # attempt rows, plus one row (attempt 0) per entity that never entered
        none = np.ones(n, dtype=bool)
        none[table.entities] = False
        absent = np.flatnonzero(none).astype(np.int64)
        ent = np.concatenate([table.entities, absent])
        number = np.concatenate([run.attempt, np.zeros(absent.size, dtype=np.int64)])
        order = np.lexsort((number, ent))
        ent, number = ent[order], number[order]
        reached = np.concatenate([table.reached, np.zeros(absent.size, np.int64)])[order]
        times = np.concatenate([table.step_time, np.full((absent.size, k), NAT, np.int64)])[order]
        attr = np.concatenate([attr_rows, earliest[absent]])[order]
        mature = None
        if run.mature is not None:
            mature = np.concatenate([run.mature, np.zeros(absent.size, dtype=bool)])[order]
    else:
        idx = table.entities
        ent = np.arange(n, dtype=np.int64)
        number = None
        reached = np.zeros(n, dtype=np.int64)
        reached[idx] = table.reached
        times = np.full((k, n), NAT, dtype=np.int64).T  # columns contiguous: one block
        times[idx] = table.step_time
        attr = earliest.copy()
        if idx.size:
            attr[idx] = attr_rows
        mature = None
        if run.mature is not None:
            mature = np.zeros(n, dtype=bool)
            mature[idx] = run.mature
    if ids_from_codes:
        original = uniq[ent]
        if isinstance(id_dtype, pd.CategoricalDtype):
            id_col = pd.Series(pd.Categorical.from_codes(original, dtype=id_dtype))
        else:
            id_col = pd.Series(original.astype(id_dtype, copy=False))
        out = pd.DataFrame({entity: id_col})
    else:
        out = pd.DataFrame(
            {entity: ev[entity].take(prep.positions[earliest[ent]]).reset_index(drop=True)}
        )
    if number is not None:
        out["attempt"] = number
    out["reached"] = reached
    if prep.tz is None and len(set(opts.labels)) == k and not set(opts.labels) & set(out.columns):
        # one datetime64 block over the step columns, no copy per column
        block = pd.DataFrame(times.view("datetime64[ns]"), columns=list(opts.labels), copy=False)
        for at, (name, col) in enumerate(out.items()):  # the id (attempt) and reached first
            block.insert(at, name, col)
        out = block
    else:
        for j, label in enumerate(opts.labels):
            col = pd.Series(times[:, j].view("datetime64[ns]"))
            if prep.tz is not None:
                col = col.dt.tz_localize("UTC").dt.tz_convert(prep.tz)
            out[label] = col
    if opts.by:
        vals = _take_rows(ev, opts.by, prep.positions[attr])
        for col in opts.by:
            out[col] = vals[col]
    if mature is not None:
        out["mature"] = mature
        if opts.mature_only:
            out = out.loc[mature | (reached == 0)].reset_index(drop=True)
    return cast(pd.DataFrame, out)


def _sort_entities(out: pd.DataFrame, entity: str) -> pd.DataFrame:
    try:
        # integer and categorical ids come out of the kernel already in order
        if not out[entity].is_monotonic_increasing:
            out = out.sort_values(entity, kind="stable", na_position="last")
    except TypeError:
        out = out.iloc[np.argsort(out[entity].astype(str).to_numpy(), kind="stable")]
    index = out.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return out  # already numbered 0..n-1 (reset_index would copy every column)
    result: pd.DataFrame = out.reset_index(drop=True)
    return result


def _compute(func: str, events: Any, steps: Any, kw: dict[str, Any]) -> tuple[_Options, _Summary]:
    """Options and summary of a pandas or Dask event log: the input of the aggregates."""
    all_rows = kw["order"] == "strict"  # "strict" needs the other events between steps
    if is_dask(events):
        opts, parts = _dask_reduce(func, events, steps, kw, all_rows=all_rows, want="summary")
        return opts, _combine(parts, opts.by, len(opts.labels))
    df = check_frame(events, table="events", func=func)
    opts = _options(df, steps, func=func, **kw)
    prep, _ = _prepare(df, opts, func=func, all_rows=all_rows)
    run = _run(prep, opts, rows=opts.rows)
    return opts, _summarize(prep, run.counted(opts), opts)


# ----------------------------------------------------------------------------
# Dask: the same preparation and kernel per partition of a log shuffled by entity
# ----------------------------------------------------------------------------
def _partition_filter(
    opts: _Options, func: str, all_rows: bool, part: pd.DataFrame
) -> tuple[I64, _Counts]:
    """Positions of the rows the kernel will read (no nulls, NaT, other events); counts."""
    prep, counts = _prepare(part, opts, func=func, all_rows=all_rows, report=False)
    keep = prep.positions
    if counts.n_null:  # positions are into the rows left after dropping null entities
        keep = np.flatnonzero(~part[opts.entity].isna().to_numpy())[keep].astype(np.int64)
    return keep, counts


def _partition_reduce(
    opts: _Options,
    func: str,
    all_rows: bool,
    want: str | Callable[[pd.DataFrame, pd.DataFrame], Any],
    part: pd.DataFrame,
) -> Any:
    """Reduce one partition holding all the (kept) events of its entities.

    ``want``: "entities" (the per-entity table), "summary", or a callable
    reducing the partition's rows and their per-entity table further.
    """
    prep, _ = _prepare(part, opts, func=func, all_rows=all_rows, report=False)
    if want == "entities":
        return _entity_table(prep, opts)
    if callable(want):
        return want(part, _entity_table(prep, opts))
    run = _run(prep, opts, rows=opts.rows)
    return _summarize(prep, run.counted(opts), opts)


def _dask_reduce(
    func: str,
    events: Any,
    steps: Any,
    kw: dict[str, Any],
    *,
    all_rows: bool,
    want: str | Callable[[pd.DataFrame, pd.DataFrame], Any],
) -> tuple[_Options, list[Any]]:
    """Run ``_partition_reduce`` on every partition of the log shuffled by entity.

    Checks come first on the (empty) meta frame; null entities, missing times
    and unknown steps are counted over all partitions and reported once, as
    the pandas path does.
    """
    from funnelkit import _dask

    meta = _dask.meta_frame(events, func=func)
    opts = _options(meta, steps, func=func, **kw)
    _prepare(meta, opts, func=func, all_rows=all_rows)  # dtypes, on no rows
    if opts.mature_only and opts.as_of is None:  # the latest event of the whole log
        latest = _dask.with_index_column(events)[[opts.entity, opts.time]].map_partitions(
            functools.partial(_latest_event, opts.entity, opts.time),
            meta=pd.Series([], dtype=np.int64),
        )
        values = np.asarray(latest.compute(), dtype=np.int64)
        values = values[values != NAT]
        if values.size:
            opts = dataclasses.replace(opts, as_of_ns=int(values.max()))
    columns = list(dict.fromkeys([opts.entity, opts.time, opts.event, *opts.by, *opts.hold]))
    counts, parts = _dask.map_entities(
        events,
        entity=opts.entity,
        columns=columns,
        prefilter=functools.partial(_partition_filter, opts, func, all_rows),
        reduce=functools.partial(_partition_reduce, opts, func, all_rows, want),
    )
    n_rows = sum(c.n_rows for c in counts)
    n_null = sum(c.n_null for c in counts)
    n_nat = sum(c.n_nat for c in counts)
    if n_null:
        if not opts.dropna:
            raise _dask.null_error(events, opts.entity, n_null, n_rows, table="events")
        warn_dropped(n_null, n_rows, f"events[{opts.entity!r}] is null", func=func)
    if n_nat:
        warn_dropped(n_nat, n_rows - n_null, f"events[{opts.time!r}] is missing (NaT)", func=func)
    found = [any(f) for f in zip(*(c.found for c in counts), strict=True)]
    if n_rows - n_null - n_nat > 0 and not all(found):
        uniques = _dask.distinct(events, opts.event)
        raise _unknown_steps(
            uniques, opts.event, opts.names, found, func=func, n_step=opts.n_step_names
        )
    _dask.check_one_time_zone([c.tz for c in counts if c.n_rows], column=opts.time)
    return opts, parts


def _dask_latest(events: Any, entity: str, time: str) -> tuple[int | None, Any]:
    """The latest event time (ns, UTC) of a Dask log's rows with an entity, and the time zone."""
    from funnelkit import _dask

    meta = _dask.meta_frame(events, func="triggers")
    _, tz = _time_ns(meta, time)
    latest = _dask.with_index_column(events)[[entity, time]].map_partitions(
        functools.partial(_latest_event, entity, time), meta=pd.Series([], dtype=np.int64)
    )
    values = np.asarray(latest.compute(), dtype=np.int64)
    values = values[values != NAT]
    return (int(values.max()) if values.size else None), tz


def _latest_event(entity: str, time: str, part: pd.DataFrame) -> pd.Series:
    """The latest time (ns) of a partition's rows with an entity (NAT when none)."""
    t_ns, _ = _time_ns(part, time)
    t_ns = t_ns[~part[entity].isna().to_numpy()]
    t_ns = t_ns[t_ns != NAT]
    return pd.Series([int(t_ns.max()) if t_ns.size else NAT], dtype=np.int64)


def _dask_entity_map(
    events: Any,
    steps: Any,
    reduce: Callable[[pd.DataFrame, pd.DataFrame], Any],
    **kw: Any,
) -> tuple[list[str], list[Any]]:
    """``reduce(rows, funnel_entities(rows, steps, **kw))`` on each partition of a Dask log.

    The log is shuffled by entity first, so ``rows`` hold all the (kept)
    events of their entities; checks, warnings and errors are those of
    :func:`funnel_entities` on the whole log.  Returns the step labels and
    the list of the partitions' results.
    """
    full: dict[str, Any] = dict(order="ordered", ties="allow", by=None, attribution="first")
    full.update(dropna=False)
    full.update(kw)
    opts, parts = _dask_reduce("funnel_entities", events, steps, full, all_rows=True, want=reduce)
    return list(opts.labels), parts


@takes_columns()
def conversion(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
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
    """Entities reaching each funnel step, conversion rates with intervals, time taken.

    Parameters
    ----------
    events : pandas.DataFrame or dask.dataframe.DataFrame
        The event log: one row per event of an entity.  A Dask DataFrame
        (``funnelkit[dask]``) gives the same result, computed partition by
        partition after a shuffle by entity (see ``docs/dask.md``).
    steps : list of str or list of lists of str
        The funnel's steps in order.  Each item is an event name, or a list of
        event names any of which fills the step (labelled ``"a | b"``).
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
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
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
        One row per (group, step), steps in the order given, groups sorted:

        - the ``by`` columns;
        - ``step`` (str): the step's label;
        - ``entities`` (int64): entities that reached at least this step;
        - ``conversion`` (float64): ``entities / entities of the previous
          step`` (1.0 for step 1; NaN when the previous step has none);
        - ``overall`` (float64): ``entities / entities of step 1``;
        - ``dropped`` (int64): entities of the previous step that did not
          reach this one (0 for step 1);
        - ``conversion_low``, ``conversion_high`` (float64): Wilson interval
          of ``conversion`` at level ``ci`` ([1, 1] for step 1);
        - ``overall_low``, ``overall_high`` (float64): the same for ``overall``;
        - ``median_time`` (timedelta64[ns]): median time from the previous
          step to this one among the entities that reached this step (NaT for
          step 1).

    Raises
    ------
    ColumnNotFoundError
        A column named by ``entity``, ``time``, ``event`` or ``by`` is missing.
    InvalidDataError
        ``entity`` has missing values (unless ``dropna=True``) or ``time`` does
        not hold datetimes.
    InvalidParameterError
        A step names an event that does not occur (the message lists the
        events that do), or another parameter is out of range.

    See Also
    --------
    funnel_entities : The per-entity table behind these counts.
    dropoff : Where entities leave, ranked, with segment tests.
    time_to_convert : Distribution of the time between two steps.

    Notes
    -----
    An entity counts at step k when its deepest chain (see
    :func:`funnel_entities`) reaches k, so ``entities`` never increases
    along the steps.  Entities with events but none of step 1 are not
    counted.  With ``by``, each entity belongs to one group, so the groups'
    counts add up to the total.  Times are those of the winning chain:
    ``median_time`` of step k is the median of ``t_k - t_(k-1)``; for an even
    count, the mean of the two middle values.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 1, 2, 2, 3],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-05",
    ...                                  "2025-01-01", "2025-01-20", "2025-01-03"]),
    ...     "event": ["visit", "signup", "buy", "visit", "signup", "visit"],
    ... })
    >>> res = fk.conversion(ev, ["visit", "signup", "buy"], window="7D")
    >>> res[["step", "entities", "conversion", "overall", "dropped", "median_time"]]
         step  entities  conversion  overall  dropped median_time
    0   visit         3    1.000000 1.000000        0         NaT
    1  signup         1    0.333333 0.333333        2      1 days
    2     buy         1    1.000000 0.333333        0      3 days
    """
    func = "conversion"
    ci_ = check_ci(ci, func=func)
    kw: dict[str, Any] = dict(entity=entity, time=time, event=event, window=window, order=order)
    kw.update(ties=ties, by=by, attribution=attribution, dropna=dropna)
    kw.update(exclude=exclude, step_windows=step_windows, count=count, hold=hold)
    kw.update(as_of=as_of, mature_only=mature_only)
    opts, g = _compute(func, events, steps, kw)
    return _conversion_table(opts, g, ci_)


def _conversion_table(opts: _Options, g: _Summary, ci: float) -> pd.DataFrame:
    k = len(opts.labels)
    counts = _level_counts(g)  # (G, K)
    prev = np.concatenate([counts[:, :1], counts[:, :-1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        conv = np.where(prev > 0, counts / np.maximum(prev, 1), np.nan)
        overall = np.where(counts[:, :1] > 0, counts / np.maximum(counts[:, :1], 1), np.nan)
    lo, hi = wilson_interval(counts, prev, ci)
    all_lo, all_hi = wilson_interval(counts, np.repeat(counts[:, :1], k, axis=1), ci)
    for arr in (lo, hi, all_lo, all_hi):  # step 1 is 1 by definition: exactly [1, 1]
        arr[:, 0] = np.where(counts[:, 0] > 0, 1.0, np.nan)
    conv[:, 0] = np.where(counts[:, 0] > 0, 1.0, np.nan)
    med = np.full((g.n_groups, k), NAT, dtype=np.int64)
    st = g.step_time
    for j in range(1, k):
        sel = g.reached > j
        delta = st[sel, j] - st[sel, j - 1]
        med[:, j] = _group_quantiles(g.gcode[sel], g.n_groups, delta, [0.5])[:, 0]
    out = _block(g.groups, opts.by, k)
    out["step"] = pd.Series(np.tile(np.asarray(opts.labels, dtype=object), g.n_groups), dtype=str)
    out["entities"] = counts.ravel()
    out["conversion"] = conv.ravel()
    out["overall"] = overall.ravel()
    out["dropped"] = (prev - counts).ravel()
    out["conversion_low"] = lo.ravel()
    out["conversion_high"] = hi.ravel()
    out["overall_low"] = all_lo.ravel()
    out["overall_high"] = all_hi.ravel()
    out["median_time"] = _td(med.ravel())
    return out


@takes_columns()
def dropoff(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
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
    """Where entities leave the funnel: losses per transition, ranked, tested by segment.

    Parameters
    ----------
    events : pandas.DataFrame or dask.dataframe.DataFrame
        The event log: one row per event of an entity.  A Dask DataFrame
        (``funnelkit[dask]``) gives the same result, computed partition by
        partition after a shuffle by entity (see ``docs/dask.md``).
    steps : list of str or list of lists of str
        The funnel's steps in order.  Each item is an event name, or a list of
        event names any of which fills the step (labelled ``"a | b"``).
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
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
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
        One row per (group, transition from step k to step k + 1):

        - the ``by`` columns;
        - ``from_step``, ``to_step`` (str): the two steps' labels;
        - ``entities`` (int64): entities that reached ``from_step``;
        - ``lost`` (int64): of those, how many did not reach ``to_step``;
        - ``lost_share`` (float64): ``lost / entities`` (NaN when no entities);
        - ``lost_share_low``, ``lost_share_high`` (float64): its Wilson interval;
        - ``rank`` (int64): 1 for the transition losing most entities in its
          group, 2 for the next, ... (ties share the smaller rank);
        - ``biggest_leak`` (bool): ``rank == 1`` (and something was lost);

        and with ``by``:

        - ``rest_entities``, ``rest_lost`` (int64), ``rest_lost_share``
          (float64): the same for all other groups together;
        - ``p_value`` (float64): two-sided pooled two-proportion z-test of
          ``lost_share`` against ``rest_lost_share`` (NaN when either side has
          no entities or nobody, or everybody, was lost);
        - ``p_adjusted`` (float64): Holm-adjusted per transition: the family
          is the segments' tests of one ``from_step`` -> ``to_step``.

    Raises
    ------
    ColumnNotFoundError
        A column named by ``entity``, ``time``, ``event`` or ``by`` is missing.
    InvalidDataError
        ``entity`` has missing values (unless ``dropna=True``) or ``time`` does
        not hold datetimes.
    InvalidParameterError
        Fewer than two steps, a step names an event that does not occur, or
        another parameter is out of range.

    See Also
    --------
    conversion : The same counts as entities and rates per step.
    compare_segments : Conversion by segment, tested pairwise or against the rest.

    Notes
    -----
    ``lost_share`` is one minus the conversion of ``to_step`` in
    :func:`conversion`.  The test compares each segment with the rest of the
    population, not with the whole (which includes the segment); it is the
    test of ``compare_segments(..., against="rest")`` (the p-value of those
    lost equals that of those who moved on).  Holm's step-down adjustment
    controls the family-wise error within each transition, across its
    segments: adding a step does not change the other transitions'
    ``p_adjusted``.  With two segments both rows are the same test.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 1, 2, 2, 3],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-05",
    ...                                  "2025-01-01", "2025-01-03", "2025-01-03"]),
    ...     "event": ["visit", "signup", "buy", "visit", "signup", "visit"],
    ... })
    >>> res = fk.dropoff(ev, ["visit", "signup", "buy"])
    >>> res[["from_step", "to_step", "entities", "lost", "lost_share", "rank", "biggest_leak"]]
      from_step to_step  entities  lost  lost_share  rank  biggest_leak
    0     visit  signup         3     1    0.333333     1          True
    1    signup     buy         2     1    0.500000     1          True
    """
    func = "dropoff"
    ci_ = check_ci(ci, func=func)
    if not isinstance(steps, str | bytes) and isinstance(steps, Sequence) and len(steps) == 1:
        raise param_error(func, "steps", "a list of at least two steps", steps)
    kw: dict[str, Any] = dict(entity=entity, time=time, event=event, window=window, order=order)
    kw.update(ties=ties, by=by, attribution=attribution, dropna=dropna)
    kw.update(exclude=exclude, step_windows=step_windows, count=count, hold=hold)
    kw.update(as_of=as_of, mature_only=mature_only)
    opts, g = _compute(func, events, steps, kw)
    k = len(opts.labels)
    counts = _level_counts(g)
    n_from, n_to = counts[:, :-1], counts[:, 1:]
    lost = n_from - n_to
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n_from > 0, lost / np.maximum(n_from, 1), np.nan)
    lo, hi = wilson_interval(lost, n_from, ci_)
    # rank within group by entities lost (descending), ties share the smaller rank
    rank = (lost[:, None, :] > lost[:, :, None]).sum(axis=2) + 1
    out = _block(g.groups, opts.by, k - 1)
    labels = np.asarray(opts.labels, dtype=object)
    out["from_step"] = pd.Series(np.tile(labels[:-1], g.n_groups), dtype=str)
    out["to_step"] = pd.Series(np.tile(labels[1:], g.n_groups), dtype=str)
    out["entities"] = n_from.ravel()
    out["lost"] = lost.ravel()
    out["lost_share"] = share.ravel()
    out["lost_share_low"] = lo.ravel()
    out["lost_share_high"] = hi.ravel()
    out["rank"] = rank.ravel().astype(np.int64)
    out["biggest_leak"] = (rank == 1).ravel() & (lost.ravel() > 0)
    if opts.by:
        # one family per transition: the segments' tests of one from_step -> to_step
        transition = np.broadcast_to(np.arange(k - 1), n_from.shape)
        test = segment_vs_rest(lost, n_from, blocks=transition)
        rest_from, rest_lost = test.rest_entered, test.rest_converted
        with np.errstate(divide="ignore", invalid="ignore"):
            rest_share = np.where(rest_from > 0, rest_lost / np.maximum(rest_from, 1), np.nan)
        out["rest_entities"] = rest_from.ravel().astype(np.int64)
        out["rest_lost"] = rest_lost.ravel().astype(np.int64)
        out["rest_lost_share"] = rest_share.ravel()
        out["p_value"] = test.p_value.ravel()
        out["p_adjusted"] = test.p_adjusted.ravel()
    return out


@takes_columns()
def time_to_convert(
    events: pd.DataFrame,
    steps: Sequence[Step],
    *,
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
    from_step: str | None = None,
    to_step: str | None = None,
    bins: int | str | Sequence[pd.Timedelta | str] | None = None,
    ci: float = 0.95,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """How long converters take from one funnel step to a later one.

    Parameters
    ----------
    events : pandas.DataFrame or dask.dataframe.DataFrame
        The event log: one row per event of an entity.  A Dask DataFrame
        (``funnelkit[dask]``) gives the same result, computed partition by
        partition after a shuffle by entity (see ``docs/dask.md``).
    steps : list of str or list of lists of str
        The funnel's steps in order.  Each item is an event name, or a list of
        event names any of which fills the step (labelled ``"a | b"``).
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
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
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
    from_step : str, optional
        Label (or event name) of the step the clock starts at; default the
        first step.
    to_step : str, optional
        Label (or event name) of the step the clock stops at; default the last
        step.  Must come after ``from_step``.
    bins : "auto", int or list of durations, optional
        Return a histogram instead of the quantiles: ``"auto"`` chooses the
        bins (log-spaced when the times span two orders of magnitude or more,
        else numpy's ``"auto"`` rule), an int asks for that many equal bins,
        a list of durations gives the edges.  The same bins for every group.
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
        With ``bins``: one row per (group, bin): the ``by`` columns,
        ``from_step``, ``to_step``, ``bin_low``, ``bin_high``
        (timedelta64[ns]; bins hold ``bin_low <= t < bin_high``, the last one
        also ``t == bin_high``), ``entities`` (int64, converters in the bin) and
        ``share`` (float64, of the group's converters; converters outside
        given edges are in no bin).  Without ``bins``, one row per group:

        - the ``by`` columns;
        - ``from_step``, ``to_step`` (str): the two steps' labels;
        - ``entities`` (int64): converters, the entities that reached ``to_step``;
        - ``mean`` (timedelta64[ns]): mean of ``t(to_step) - t(from_step)``;
        - ``p10``, ``p25``, ``median``, ``p75``, ``p90`` (timedelta64[ns]):
          its quantiles (linear interpolation, numpy's default);
        - ``median_low``, ``median_high`` (timedelta64[ns]): a distribution-free
          ``ci`` interval of the median (two order statistics, see Notes; NaT
          with too few converters).

        Durations are NaT for a group without converters.

    Raises
    ------
    ColumnNotFoundError
        A column named by ``entity``, ``time``, ``event`` or ``by`` is missing.
    InvalidDataError
        ``entity`` has missing values (unless ``dropna=True``) or ``time`` does
        not hold datetimes.
    InvalidParameterError
        ``from_step`` / ``to_step`` is not a step or not in order, a step names
        an event that does not occur, or another parameter is out of range.

    See Also
    --------
    conversion : Median time per step among the entities that reached it.

    Notes
    -----
    Times are those of each entity's winning chain (see
    :func:`funnel_entities`), so ``t(to_step) - t(from_step)`` is never
    negative and, with a window, never longer than it.  Entities that did not
    reach ``to_step`` are not counted: this describes converters, it is not a
    survival estimate.  The median's interval is ``[x_(k), x_(n-k+1)]`` of the
    n sorted durations, with k the ``(1 - ci) / 2`` quantile of
    Binomial(n, 1/2): it covers the median with probability at least ``ci``
    (Conover 1999, section 3.2).

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 2, 2, 3],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01",
    ...                                  "2025-01-04", "2025-01-03"]),
    ...     "event": ["visit", "buy", "visit", "buy", "visit"],
    ... })
    >>> res = fk.time_to_convert(ev, ["visit", "buy"])
    >>> res[["from_step", "to_step", "entities", "mean", "median", "p90"]]
      from_step to_step  entities   mean median             p90
    0     visit     buy      2 2 days 2 days 2 days 19:12:00
    """
    func = "time_to_convert"
    cl = check_ci(ci, func=func)
    names, labels = _parse_steps(steps, func=func)
    a = (
        0
        if from_step is None
        else _step_index(from_step, labels, names, name="from_step", func=func)
    )
    b = (
        len(labels) - 1
        if to_step is None
        else _step_index(to_step, labels, names, name="to_step", func=func)
    )
    if b <= a:
        raise param_error(
            func, "to_step", f"a step after from_step {labels[a]!r} (steps: {labels!r})", to_step
        )
    kw: dict[str, Any] = dict(entity=entity, time=time, event=event, window=window, order=order)
    kw.update(ties=ties, by=by, attribution=attribution, dropna=dropna)
    kw.update(exclude=exclude, step_windows=step_windows, count=count, hold=hold)
    kw.update(as_of=as_of, mature_only=mature_only)
    edges_given = _check_bins(bins, func=func)
    opts, g = _compute(func, events, steps, kw)
    sel = g.reached > b
    dur = g.step_time[sel, b] - g.step_time[sel, a]
    gc = g.gcode[sel]
    if bins is not None:
        return _histogram(g, opts, gc, dur, bins, edges_given, labels[a], labels[b])
    qs = _group_quantiles(gc, g.n_groups, dur, QUANTILES)
    low, high = _group_median_interval(gc, g.n_groups, dur, cl)
    n_groups = g.n_groups
    out = _block(g.groups, opts.by, 1)
    out["from_step"] = pd.Series([labels[a]] * n_groups, dtype=str)
    out["to_step"] = pd.Series([labels[b]] * n_groups, dtype=str)
    out["entities"] = np.bincount(gc, minlength=g.n_groups).astype(np.int64)
    out["mean"] = _td(_group_means(gc, g.n_groups, dur))
    for i, name in enumerate(("p10", "p25", "median", "p75", "p90")):
        out[name] = _td(qs[:n_groups, i])
    out["median_low"] = _td(low[:n_groups])
    out["median_high"] = _td(high[:n_groups])
    return out


def _check_bins(bins: Any, *, func: str) -> I64 | None:
    """Validate ``bins``; the edges in ns when given as durations."""
    expected = "'auto', a positive int or an increasing list of durations"
    if bins is None or (isinstance(bins, str) and bins == "auto"):
        return None
    if isinstance(bins, int | np.integer) and not isinstance(bins, bool):
        if bins < 1:
            raise param_error(func, "bins", expected, bins)
        return None
    if isinstance(bins, str | bytes) or not isinstance(bins, Sequence) or len(bins) < 2:
        raise param_error(func, "bins", expected, bins)
    edges = []
    for value in bins:
        td = check_duration(value, name="bins", func=func, allow_none=False)
        edges.append(int(cast(pd.Timedelta, td).value))
    arr = np.asarray(edges, dtype=np.int64)
    if (np.diff(arr) <= 0).any():
        raise param_error(func, "bins", expected + " (strictly increasing)", bins)
    return cast(I64, arr)


def auto_edges(values: I64, n_bins: int | None = None) -> I64:
    """Histogram edges (ns) for durations: log-spaced over two or more orders of magnitude.

    Log-spaced: about 5 bins per factor of 10 from the smallest positive
    duration to the largest (a first bin ``[0, smallest)`` when some are 0);
    otherwise numpy's ``"auto"`` rule (or ``n_bins`` equal bins).  Edges are
    whole nanoseconds, strictly increasing.
    """
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo, hi = int(values.min()), int(values.max())
    if hi == lo:
        return np.asarray([lo, lo + 1], dtype=np.int64)
    positive = values[values > 0]
    if n_bins is None and positive.size and hi / int(positive.min()) >= 100:
        pmin = int(positive.min())
        n = int(np.clip(np.ceil(5 * np.log10(hi / pmin)), 5, 60))
        edges = np.rint(np.geomspace(pmin, hi, n + 1)).astype(np.int64)
        edges[0], edges[-1] = pmin, hi
        if lo == 0:
            edges = np.r_[np.int64(0), edges]
    else:
        rule: Any = "auto" if n_bins is None else n_bins
        fl = np.histogram_bin_edges(values.astype(np.float64), bins=rule)
        edges = np.rint(fl).astype(np.int64)
        edges[0], edges[-1] = lo, hi
    edges = np.unique(edges)
    return cast(I64, edges)


def _histogram(
    g: _Summary,
    opts: _Options,
    gc: I64,
    dur: I64,
    bins: Any,
    edges_given: I64 | None,
    from_label: str,
    to_label: str,
) -> pd.DataFrame:
    """Counts of durations per (group, bin), the same bins for every group."""
    if edges_given is not None:
        edges = edges_given
    else:
        edges = auto_edges(dur, None if isinstance(bins, str) else int(bins))
    n_bins = max(edges.size - 1, 0)
    n_groups = g.n_groups if n_bins else 0
    if n_bins:
        idx = np.searchsorted(edges, dur, side="right") - 1
        idx = np.where(dur == edges[-1], n_bins - 1, idx)  # the last bin is closed
        inside = (idx >= 0) & (idx < n_bins)
        flat = np.bincount(gc[inside] * n_bins + idx[inside], minlength=n_groups * n_bins)
        counts = flat.reshape(n_groups, n_bins).astype(np.int64)
    else:
        counts = np.zeros((0, 0), dtype=np.int64)
    total = np.bincount(gc, minlength=n_groups)[:n_groups] if n_groups else np.zeros(0, np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total[:, None] > 0, counts / np.maximum(total[:, None], 1), np.nan)
    out = _block(g.groups.iloc[:n_groups], opts.by, n_bins)
    size = n_groups * n_bins
    out["from_step"] = pd.Series([from_label] * size, dtype=str)
    out["to_step"] = pd.Series([to_label] * size, dtype=str)
    out["bin_low"] = _td(np.tile(edges[:-1], n_groups) if n_bins else np.zeros(0, np.int64))
    out["bin_high"] = _td(np.tile(edges[1:], n_groups) if n_bins else np.zeros(0, np.int64))
    out["entities"] = counts.ravel()
    out["share"] = share.ravel().astype(np.float64)
    return out
