"""Touches to response: how many emails, calls or meetings it takes to get a reply.

A touch log has one row per touch (an email sent, a call made, a meeting held)
with the response it got.  Each prospect's touches are counted in time order;
the touch number of the first positive response is the prospect's "touches to
response".  Prospects who never responded are right-censored at their last
touch: they count as waiting at every touch they received, and are never
dropped.

Layers: :func:`_prepare` validates and returns numpy arrays sorted by
(prospect, time); :func:`_per_prospect` is the numpy kernel reducing them to
one row per prospect; :func:`_count` reduces those to additive counts per
(group, touch number[, channel]); the public functions turn the counts into
tidy tables.  A Dask log is counted partition by partition after a shuffle
by prospect (the same :func:`_prepare` and :func:`_count`), and the counts
are summed (:func:`_combine_counts`) before the same table code runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd

from funnelkit._dask import is_dask
from funnelkit._stage_kernels import presorted, sort_order
from funnelkit._stats import wilson_interval
from funnelkit._validate import (
    _invalid,
    as_datetime,
    as_list,
    check_by,
    check_ci,
    check_fraction,
    check_frame,
    check_not_null,
    check_positive,
    check_value_labels,
    datetime_to_ns,
    param_error,
    require_columns,
    time_zone,
    warn_dropped,
)
from funnelkit.columns import Columns, takes_columns
from funnelkit.errors import InvalidDataError, InvalidParameterError

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]

Positive = Hashable | Sequence[Hashable] | Callable[[pd.Series], Any]
P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["touches_from_counts", "touches_summary", "touches_to_response"]


# ----------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------
def _time_key(df: pd.DataFrame, time: str, *, func: str) -> tuple[np.ndarray[Any, Any], Any]:
    """Sortable numpy values of the time column (datetimes as ns, numbers as they are), tz."""
    check_not_null(df, time, table="touches", keyword="time", func=func)
    s = df[time]
    if pd.api.types.is_bool_dtype(s.dtype):
        msg = (
            f"touches[{time!r}] (time=) holds booleans, which cannot order touches. "
            f"Pass a column of datetimes, ISO 8601 strings or touch numbers."
        )
        raise InvalidDataError(msg, column=time, reason="not_datetime", n_rows=len(df))
    if pd.api.types.is_timedelta64_dtype(s.dtype):
        return s.to_numpy(dtype="timedelta64[ns]").view(np.int64), None
    if pd.api.types.is_integer_dtype(s.dtype):
        return s.to_numpy(dtype=np.int64), None
    if pd.api.types.is_float_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise _invalid(
                df,
                bad,
                table="touches",
                column=time,
                reason="not_finite",
                what="that are infinite (time=)",
                fix="Touch times must be finite numbers; fix or drop those rows.",
            )
        return values, None
    parsed = as_datetime(df, time, table="touches", keyword="time")
    return datetime_to_ns(parsed), time_zone(parsed)


@dataclass(frozen=True)
class _Prospects:
    """Per-prospect arrays (one entry per prospect) and the sorted touch rows."""

    #: touch number of the first positive response, or of the last touch when none
    touches: IntArray
    #: True when the prospect responded (False: censored at its last touch)
    responded: BoolArray
    #: row positions (into the input) of each prospect's first touch
    first_row: IntArray
    #: input row positions sorted by (prospect, time, input order)
    order: IntArray
    #: prospect index (0..n-1) of each sorted row
    prospect: IntArray
    #: touch number (1, 2, ...) of each sorted row
    touch: IntArray


def _prepare(
    touches: Any,
    *,
    func: str,
    entity: str,
    time: str,
    response: str,
    positive: Positive,
    channel: str | None,
    by: str | Sequence[str] | None,
    check_labels: bool = True,
) -> tuple[pd.DataFrame, list[Hashable], _Prospects, Any]:
    """Validate a touch log and reduce it to per-prospect arrays; also the time zone.

    With ``check_labels`` (off for one Dask partition, which may rightly hold
    no positive response), a log without any ``positive`` response gets the
    value-label check: a near miss or a boolean column is an error, else a
    warning naming the values found.
    """
    df = check_frame(touches, table="touches", func=func)
    require_columns(
        df,
        {"entity": entity, "time": time, "response": response, "channel": channel},
        table="touches",
    )
    by_cols = check_by(df, by, table="touches", func=func)
    check_not_null(df, entity, table="touches", keyword="entity", func=func)
    key, tz = _time_key(df, time, func=func)
    is_positive = _positive_mask(df[response], positive, name="positive", func=func)
    if check_labels and not is_positive.any():
        check_value_labels(
            df[response],
            {"positive": positive},
            table="touches",
            column=response,
            keyword="response",
            func=func,
        )
    codes, _ = pd.factorize(df[entity])
    pr = _per_prospect(np.asarray(codes, dtype=np.int64), key, is_positive)
    return df, by_cols, pr, tz


def _positive_mask(s: pd.Series, positive: Any, *, name: str, func: str) -> BoolArray:
    """Rows whose value is ``positive`` (a value, a list/tuple/set of values, or a callable)."""
    expected = "a value, a list of values, or a callable returning one bool per row"
    if callable(positive):
        try:
            out = np.asarray(positive(s))
        except Exception as exc:  # the user's callable failed on the column
            raise param_error(func, name, expected, positive) from exc
        if out.dtype != np.bool_ or out.shape != (len(s),):
            raise param_error(func, name, expected, positive)
        return out
    many = isinstance(positive, list | tuple | set | frozenset)
    values = list(positive) if many else [positive]
    try:
        return s.isin(values).to_numpy(dtype=bool)
    except TypeError as exc:  # unhashable values
        raise param_error(func, name, expected, positive) from exc


# ----------------------------------------------------------------------------
# kernel (numpy only)
# ----------------------------------------------------------------------------
def _per_prospect(codes: IntArray, key: np.ndarray[Any, Any], positive: BoolArray) -> _Prospects:
    """Sort touches by (prospect, time, input order); find each first positive touch.

    ``codes`` are prospect ids 0..n-1, ``key`` the sortable times, ``positive``
    the per-row response flags.  No loop over prospects.
    """
    n = codes.size
    key = np.asarray(key)
    if key.dtype.kind in "iu":  # one packed sort (or a radix pass); ties keep input order
        order = sort_order((key, codes), stable=True)
    elif presorted((key, codes)):  # exports often come in this order already
        order = np.arange(n, dtype=np.int64)
    else:
        # stable sorts: by time, then by prospect; equal times keep their input order
        by_time = np.argsort(key, kind="stable")
        order = by_time[np.argsort(codes[by_time], kind="stable")].astype(np.int64)
    c = codes[order]
    p = positive[order]
    starts = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1]))) if n else np.empty(0, int)
    counts = np.diff(np.append(starts, n))
    prospect = np.repeat(np.arange(starts.size), counts)
    touch = np.arange(n) - np.repeat(starts, counts) + 1
    hit = np.flatnonzero(p)
    who, first = np.unique(prospect[hit], return_index=True)
    touches = counts.astype(np.int64)
    touches[who] = touch[hit[first]]
    responded = np.zeros(starts.size, dtype=bool)
    responded[who] = True
    return _Prospects(
        touches=touches,
        responded=responded,
        first_row=order[starts],
        order=order,
        prospect=prospect.astype(np.int64),
        touch=touch.astype(np.int64),
    )


def _groups(
    df: pd.DataFrame, by_cols: list[Hashable], rows: IntArray
) -> tuple[IntArray, pd.DataFrame]:
    """Group code of each prospect (by values at its first touch) and the sorted keys."""
    if not by_cols:
        return np.zeros(rows.size, dtype=np.int64), pd.DataFrame(index=pd.RangeIndex(1))
    frame = df[by_cols].iloc[rows].reset_index(drop=True)
    grouped = frame.groupby(by_cols, dropna=False, sort=True, observed=True)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)
    keys = grouped.size().index.to_frame(index=False)
    keys.columns = by_cols
    return codes, keys


def _hazard_matrix(
    group: IntArray, touches: IntArray, responded: BoolArray, n_groups: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per (group, touch number) counts: at risk, responded, censored (index 0 unused)."""
    width = int(touches.max()) + 2 if touches.size else 2
    flat = group * width + touches
    ends = np.bincount(flat, minlength=n_groups * width).reshape(n_groups, width)
    events = np.bincount(flat, weights=responded, minlength=n_groups * width)
    events = events.reshape(n_groups, width)
    # at risk at touch n: prospects whose (response or censoring) touch is >= n
    at_risk = np.cumsum(ends[:, ::-1], axis=1)[:, ::-1]
    censored = (ends - events).astype(np.float64)
    return at_risk.astype(np.float64), events.astype(np.float64), censored


def _km(at_risk: FloatArray, events: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Discrete hazard and Kaplan–Meier survival *before* each touch, per row."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, events / at_risk, 0.0)
    survival_after = np.cumprod(1.0 - hazard, axis=1)
    before = np.concatenate([np.ones((at_risk.shape[0], 1)), survival_after[:, :-1]], axis=1)
    return hazard, before


def _check_common(func: str, ci: float, max_touches: int | None = None) -> tuple[float, int | None]:
    ci = check_ci(ci, func=func)
    if max_touches is not None:
        check_positive(max_touches, name="max_touches", func=func, integer=True)
        max_touches = int(max_touches)
    return ci, max_touches


# ----------------------------------------------------------------------------
# additive counts: one set of prospects (a log, or one Dask partition) -> tables
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _TouchCounts:
    """Counts per (group, touch number[, channel]) of one set of prospects.

    Everything is a count of prospects or touches, so the counts of disjoint
    sets of prospects (Dask partitions) add up: :func:`_combine_counts`.
    Index 0 of the touch axis is unused.
    """

    by: list[Hashable]
    keys: pd.DataFrame  # one row per group (the by columns), sorted
    at_risk: FloatArray  # (G, W)
    events: FloatArray  # (G, W): first positive responses
    censored: FloatArray  # (G, W)
    channels: Any  # channel values (sorted, a pandas Index), or None without channel
    risk_c: FloatArray  # (G, W, C) waiting touches at touch n on channel c
    events_c: FloatArray  # (G, W, C)
    cens_c: FloatArray  # (G, W, C)
    mix_c: FloatArray  # (G, C): responders' touches on channel c up to their response
    tz: Any  # time zone of the time column (None: naive or numbers)


def _count(
    df: pd.DataFrame, by_cols: list[Hashable], pr: _Prospects, channel: str | None, tz: Any
) -> _TouchCounts:
    """Reduce per-prospect arrays to the additive counts (numpy, no loop over prospects)."""
    group, keys = _groups(df, by_cols, pr.first_row)
    n_groups = len(keys)
    at_risk, events, censored = _hazard_matrix(group, pr.touches, pr.responded, n_groups)
    width = at_risk.shape[1]
    channels = None
    empty = np.zeros((n_groups, width, 0))
    risk_c, events_c, cens_c, mix_c = empty, empty, empty, np.zeros((n_groups, 0))
    if channel is not None:
        ch_codes, channels = pd.factorize(df[channel], sort=True, use_na_sentinel=False)
        n_ch = max(len(channels), 1)
        # the touches made while the prospect was still waiting (later ones do not count)
        waiting = pr.touch <= pr.touches[pr.prospect]
        ch = np.asarray(ch_codes, dtype=np.int64)[pr.order[waiting]]
        who, touch = pr.prospect[waiting], pr.touch[waiting]
        is_end = touch == pr.touches[who]
        got = is_end & pr.responded[who]
        cell = (group[who] * width + touch) * n_ch + ch
        size = n_groups * width * n_ch
        shape = (n_groups, width, n_ch)
        risk_c = np.bincount(cell, minlength=size).reshape(shape).astype(np.float64)
        events_c = np.bincount(cell, weights=got, minlength=size).reshape(shape)
        cens_c = np.bincount(cell, weights=is_end & ~got, minlength=size).reshape(shape)
        flat = group[who] * n_ch + ch
        mix = np.bincount(flat, weights=pr.responded[who], minlength=n_groups * n_ch)
        mix_c = mix.reshape(n_groups, n_ch).astype(np.float64)
    return _TouchCounts(
        by_cols, keys, at_risk, events, censored, channels, risk_c, events_c, cens_c, mix_c, tz
    )


def _channel_values(channels: Any, cj: IntArray) -> Any:
    return (
        channels.take(cj) if channels is not None and len(channels) else pd.Series([], dtype=object)
    )


def _combine_counts(parts: Sequence[_TouchCounts]) -> _TouchCounts:
    """Sum the counts of disjoint sets of prospects; groups and channels matched on values."""
    first = parts[0]
    by = first.by
    if by:
        local = pd.concat([p.keys for p in parts], ignore_index=True)
        to_global, keys = _groups(local, by, np.arange(len(local), dtype=np.int64))
    else:
        to_global = np.zeros(len(parts), dtype=np.int64)
        keys = first.keys
    offsets = np.cumsum([0] + [len(p.keys) for p in parts])
    n_groups = len(keys)
    width = max(p.at_risk.shape[1] for p in parts)
    channels = None
    ch_global: list[IntArray] = [np.zeros(p.risk_c.shape[2], dtype=np.int64) for p in parts]
    n_ch = 0
    if first.channels is not None:
        with_values = [p.channels for p in parts if len(p.channels)]
        if with_values:
            every = with_values[0].append(with_values[1:])
            _, channels = pd.factorize(every, sort=True, use_na_sentinel=False)
            ch_global = [
                np.asarray(channels.get_indexer(p.channels), dtype=np.int64)
                if len(p.channels)
                else np.zeros(p.risk_c.shape[2], dtype=np.int64)
                for p in parts
            ]
        else:
            channels = first.channels
        n_ch = max(len(channels), 1)
    at_risk, events, censored = (np.zeros((n_groups, width)) for _ in range(3))
    risk_c, events_c, cens_c = (np.zeros((n_groups, width, n_ch)) for _ in range(3))
    mix_c = np.zeros((n_groups, n_ch))
    for p, o, cg in zip(parts, offsets, ch_global, strict=False):
        g = to_global[o : o + len(p.keys)] if by else to_global[:1].repeat(len(p.keys))
        w = p.at_risk.shape[1]
        np.add.at(at_risk, (g[:, None], np.arange(w)[None, :]), p.at_risk)
        np.add.at(events, (g[:, None], np.arange(w)[None, :]), p.events)
        np.add.at(censored, (g[:, None], np.arange(w)[None, :]), p.censored)
        if first.channels is not None and p.risk_c.shape[2]:
            at = (g[:, None, None], np.arange(w)[None, :, None], cg[None, None, :])
            np.add.at(risk_c, at, p.risk_c)
            np.add.at(events_c, at, p.events_c)
            np.add.at(cens_c, at, p.cens_c)
            np.add.at(mix_c, (g[:, None], cg[None, :]), p.mix_c)
    tz = next((p.tz for p in parts if p.tz is not None), None)
    return _TouchCounts(
        by, keys, at_risk, events, censored, channels, risk_c, events_c, cens_c, mix_c, tz
    )


def _counts_of(touches: Any, *, func: str, channel: str | None, **kw: Any) -> _TouchCounts:
    """The counts of a pandas touch log, or of a Dask one partition by partition."""
    if is_dask(touches):
        return _dask_counts(touches, func=func, channel=channel, **kw)
    df, by_cols, pr, tz = _prepare(touches, func=func, channel=channel, **kw)
    return _count(df, by_cols, pr, channel, tz)


def _partition_filter(entity: str, time: str, part: pd.DataFrame) -> tuple[IntArray, Any]:
    """Rows with an entity and a time (the rest are counted, and refused once for all)."""
    null_entity = part[entity].isna().to_numpy()
    null_time = part[time].isna().to_numpy()
    keep = np.flatnonzero(~(null_entity | null_time)).astype(np.int64)
    return keep, (len(part), int(null_entity.sum()), int((null_time & ~null_entity).sum()))


def _partition_counts(func: str, kw: dict[str, Any], part: pd.DataFrame) -> _TouchCounts:
    """Reduce one partition holding all the touches of its prospects."""
    df, by_cols, pr, tz = _prepare(part, func=func, check_labels=False, **kw)
    return _count(df, by_cols, pr, kw["channel"], tz)


def _dask_counts(touches: Any, *, func: str, **kw: Any) -> _TouchCounts:
    """Shuffle a Dask touch log by prospect, count each partition, sum the counts.

    The checks run first on the Dask frame's empty template; null prospects
    or times are counted over all partitions and refused with the pandas
    path's error.
    """
    from funnelkit import _dask

    meta = _dask.meta_frame(touches, func=func)
    meta_kw = dict(kw)
    if callable(meta_kw["positive"]):  # the user's callable is checked on real rows
        meta_kw["positive"] = "positive"
    _prepare(meta, func=func, **meta_kw)  # columns, dtypes, `positive`, on no rows
    entity, time = kw["entity"], kw["time"]
    extra = [kw["response"], kw["channel"], *as_list(kw["by"])]
    columns = list(dict.fromkeys([entity, time, *[c for c in extra if c is not None]]))
    stats, parts = _dask.map_entities(
        touches,
        entity=entity,
        columns=columns,
        prefilter=functools.partial(_partition_filter, entity, time),
        reduce=functools.partial(_partition_counts, func, kw),
    )
    n_rows = sum(s[0] for s in stats)
    for column, n_null in ((entity, sum(s[1] for s in stats)), (time, sum(s[2] for s in stats))):
        if n_null:
            raise _dask.null_error(touches, column, n_null, n_rows, table="touches", dropna=False)
    # strings with UTC offsets parse to a fixed offset or to UTC depending on the
    # offsets a partition happens to hold: all of them are instants, like UTC.  A
    # partition without touches has no zone to compare.
    zones = ["UTC" if isinstance(p.tz, dt.timezone) else p.tz for p in parts if p.at_risk.any()]
    _dask.check_one_time_zone(zones, column=time)
    combined = _combine_counts(parts)
    if n_rows and not combined.events.sum() and not callable(kw["positive"]):
        # no positive response anywhere: the value check on the distinct responses
        distinct = _dask.with_index_column(touches)[kw["response"]].drop_duplicates().compute()
        check_value_labels(
            distinct,
            {"positive": kw["positive"]},
            table="touches",
            column=kw["response"],
            keyword="response",
            func=func,
        )
    return combined


# ----------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------
@takes_columns()
def touches_to_response(
    touches: pd.DataFrame,
    *,
    entity: str = "user_id",
    time: str = "timestamp",
    response: str = "response",
    positive: Positive = "positive",
    channel: str | None = None,
    by: str | Sequence[str] | None = None,
    max_touches: int | None = None,
    ci: float = 0.95,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    r"""Response rate per touch number: how many touches it takes to get a positive reply.

    Each prospect's touches are numbered 1, 2, ... in time order; the touch
    that got the prospect's first positive response ends the count.
    Prospects who never responded are right-censored at their last touch:
    they count as waiting at every touch they received and are never dropped.

    Parameters
    ----------
    touches : pandas.DataFrame or dask.dataframe.DataFrame
        One row per touch (an email sent, a call made, a meeting held) with
        the response it got.  A Dask DataFrame (``funnelkit[dask]``) gives
        the same result, computed partition by partition after a shuffle by
        prospect (see ``docs/dask.md``).
    entity : str, default="user_id"
        Column that identifies the entity (a user, a lead, a prospect).
    time : str, default="timestamp"
        Column holding the event time: datetime64 of any unit or time zone, or ISO 8601 strings.
    response : str, default="response"
        Column holding the response a touch got.
    positive : value, list of values or callable, default="positive"
        Which values of ``response`` are a positive reply: one value, a list
        of values, or a callable taking the column and returning one bool per
        row.  Every other value, and nulls, mean no positive reply.  Values
        are compared exactly; when none matches, a near miss (``'Positive'``,
        ``'positive reply'``) or a boolean / 0-1 column is an error giving the
        exact ``positive=`` to pass (see Raises).
    channel : str, optional
        Column holding the channel of each touch (email, call, ...).  When
        given, the result is split by the channel of the touch (see Returns).
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    max_touches : int, optional
        Show touch numbers 1..``max_touches`` only.  Every figure shown is
        the same as without the cut (later touches still count in
        ``share_of_responders``' denominator).
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
        One row per touch number (and per group, and per channel when
        ``channel`` is given), with columns:

        - the ``by`` columns, if any;
        - ``touch`` (int64): the touch number n = 1, 2, ...;
        - the ``channel`` column (when given): the channel of touch n;
        - ``at_risk`` (int64): prospects who received touch n and had not
          responded positively before it;
        - ``responded`` (int64): prospects whose first positive response came
          at touch n;
        - ``censored`` (int64): prospects whose last touch was n, without a
          positive response (still waiting when the data ends);
        - ``response_rate`` (float64): ``responded / at_risk``, the discrete hazard of
          a first positive response at touch n;
        - ``response_rate_low``, ``response_rate_high`` (float64): its Wilson interval;
        - ``cumulative`` (float64): share of prospects with a positive
          response by touch n (one minus the Kaplan–Meier survival, so the
          censored prospects are accounted for);
        - ``share_of_responders`` (float64): of all prospects who responded
          at some touch, the share who did so by touch n (NaN when nobody in
          the group responded).

    Raises
    ------
    ColumnNotFoundError
        When a column named by ``entity``, ``time``, ``response``,
        ``channel`` or ``by`` is missing.
    InvalidDataError
        When ``entity`` or ``time`` holds nulls, ``time`` cannot be read as
        datetimes or numbers (or holds dates out of range, or naive and aware
        times mixed), or no response equals ``positive`` while one differs
        from it only by case, spaces or a leading/trailing word, or the
        responses are booleans or 0/1 (the message gives the ``positive=`` to
        pass).
    InvalidParameterError
        When ``positive``, ``max_touches``, ``by`` (a column named twice) or
        ``ci`` is invalid.

    Warns
    -----
    FunnelkitWarning
        When no response is positive at all (and none is a near miss): the
        message names the values found.

    See Also
    --------
    touches_summary : one row per group: responders, median touches, when to stop.
    touches_from_counts : build a touch log from one row per prospect with a contact count.

    Notes
    -----
    With :math:`Y_n` prospects at risk and :math:`d_n` first responses at
    touch n, ``response_rate`` is :math:`h_n = d_n / Y_n` and ``cumulative`` is
    :math:`1 - \prod_{m \le n} (1 - h_m)`.  A prospect censored at touch
    :math:`c` is at risk at touches 1..c: it got them and did not respond.
    When every prospect is followed until it responds or the outreach ends,
    ``cumulative`` at the last touch equals the plain share who responded.

    ``time`` may also hold plain numbers (touch numbers, seconds since a
    start, ...): here they are used only to put each prospect's touches in
    order, never as durations.  Touches with the same time are ordered as
    they appear in the input (a stable sort).
    Responses after the first positive one are ignored (the count stops at
    the first positive reply), and so are the touches after it.

    A prospect whose ``by`` values change between touches is placed in the
    group of its first touch.

    With ``channel``, the rows of one touch number split the all-channel
    figures: ``at_risk``, ``responded``, ``censored`` and ``cumulative``
    (the Aalen–Johansen cumulative incidence of a first response on that
    channel, :math:`\sum_{m \le n} S_{m-1} d_{m,c} / Y_m`) and
    ``share_of_responders`` sum over channels to the all-channel values,
    while ``response_rate`` is the response rate of touch n when it is made on that
    channel.  Every channel used in a group gets a row at every touch number
    of the group; ``at_risk`` is 0 (and ``response_rate`` NaN) where touch n was never
    made on that channel.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> log = pd.DataFrame({
    ...     "user_id": ["a", "a", "a", "b", "b", "c", "c", "c"],
    ...     "timestamp": [1, 2, 3, 1, 2, 1, 2, 3],
    ...     "response": ["no reply", "no reply", "positive", "positive", "no reply",
    ...                  "no reply", "negative", "no reply"],
    ... })
    >>> res = fk.touches_to_response(log)
    >>> res[["touch", "at_risk", "responded", "censored", "response_rate", "cumulative"]]
       touch  at_risk  responded  censored  response_rate  cumulative
    0      1        3          1         0       0.333333    0.333333
    1      2        2          0         0       0.000000    0.333333
    2      3        2          1         1       0.500000    0.666667
    """
    func = "touches_to_response"
    ci, max_touches = _check_common(func, ci, max_touches)
    kw: dict[str, Any] = dict(entity=entity, time=time, response=response, positive=positive)
    kw.update(channel=channel, by=by)
    return _response_table(_counts_of(touches, func=func, **kw), channel, ci, max_touches)


def _response_table(
    c: _TouchCounts, channel: str | None, ci: float, max_touches: int | None
) -> pd.DataFrame:
    """The table of :func:`touches_to_response` from the (summed) counts."""
    keys, at_risk, events, censored = c.keys, c.at_risk, c.events, c.censored
    hazard, before = _km(at_risk, events)
    total = events.sum(axis=1, keepdims=True)
    width = at_risk.shape[1]
    touch_grid = np.broadcast_to(np.arange(width), at_risk.shape)
    keep = (at_risk > 0) & (touch_grid >= 1)
    if max_touches is not None:
        keep &= touch_grid <= max_touches

    if channel is None:
        cumulative = 1.0 - np.cumprod(1.0 - hazard, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.cumsum(events, axis=1) / total
        gi, ni = np.nonzero(keep)
        out: pd.DataFrame = keys.iloc[gi].reset_index(drop=True)
        out["touch"] = ni.astype(np.int64)
        _fill(out, at_risk[gi, ni], events[gi, ni], censored[gi, ni], ci)
        out["cumulative"] = cumulative[gi, ni]
        out["share_of_responders"] = share[gi, ni]
        return out

    # ---- split by the channel of each touch (rows while still waiting) ----
    risk_c, events_c, cens_c = c.risk_c, c.events_c, c.cens_c
    with np.errstate(divide="ignore", invalid="ignore"):
        incidence = np.where(at_risk[:, :, None] > 0, events_c / at_risk[:, :, None], 0.0)
        cumulative_c = np.cumsum(before[:, :, None] * incidence, axis=1)
        share_c = np.cumsum(events_c, axis=1) / total[:, :, None]
    # every channel used in the group, at every touch number of the group, so the
    # channel rows of a touch number always sum to the all-channel figures
    used = risk_c.sum(axis=1) > 0
    gi, ni, cj = np.nonzero(keep[:, :, None] & used[:, None, :])
    out = keys.iloc[gi].reset_index(drop=True)
    out["touch"] = ni.astype(np.int64)
    out[channel] = _channel_values(c.channels, cj)
    _fill(out, risk_c[gi, ni, cj], events_c[gi, ni, cj], cens_c[gi, ni, cj], ci)
    out["cumulative"] = cumulative_c[gi, ni, cj]
    out["share_of_responders"] = share_c[gi, ni, cj]
    return out


def _fill(
    out: pd.DataFrame, at_risk: FloatArray, events: FloatArray, censored: FloatArray, ci: float
) -> None:
    """Add the count, rate and interval columns (in place, on a new frame)."""
    out["at_risk"] = at_risk.astype(np.int64)
    out["responded"] = events.astype(np.int64)
    out["censored"] = censored.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["response_rate"] = (events / at_risk).astype(np.float64)
    low, high = wilson_interval(events, at_risk, ci)
    out["response_rate_low"] = low
    out["response_rate_high"] = high


@takes_columns(renamed={"threshold": "min_rate"})
def touches_summary(
    touches: pd.DataFrame,
    *,
    entity: str = "user_id",
    time: str = "timestamp",
    response: str = "response",
    positive: Positive = "positive",
    channel: str | None = None,
    by: str | Sequence[str] | None = None,
    min_rate: float = 0.05,
    ci: float = 0.95,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Per group: how many prospects responded, after how many touches, and when to stop.

    Parameters
    ----------
    touches : pandas.DataFrame or dask.dataframe.DataFrame
        One row per touch (an email sent, a call made, a meeting held) with
        the response it got.  A Dask DataFrame (``funnelkit[dask]``) gives
        the same result, computed partition by partition after a shuffle by
        prospect (see ``docs/dask.md``).
    entity : str, default="user_id"
        Column that identifies the entity (a user, a lead, a prospect).
    time : str, default="timestamp"
        Column holding the event time: datetime64 of any unit or time zone, or ISO 8601 strings.
    response : str, default="response"
        Column holding the response a touch got.
    positive : value, list of values or callable, default="positive"
        Which values of ``response`` are a positive reply: one value, a list
        of values, or a callable taking the column and returning one bool per
        row.  Every other value, and nulls, mean no positive reply.  Values
        are compared exactly; when none matches, a near miss (``'Positive'``,
        ``'positive reply'``) or a boolean / 0-1 column is an error giving the
        exact ``positive=`` to pass (see Raises).
    channel : str, optional
        Column holding the channel of each touch (email, call, ...).  When
        given, the result is split by the channel of the touch (see Returns).
    by : str or list of str, optional
        Column(s) to group by; one result block per group, groups sorted. Missing values form their
        own group.
    min_rate : float, default=0.05
        Response rate per touch below which another touch is judged not worth
        making (for ``stop_after``).
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
        Without ``channel``: one row per group with the ``by`` columns, then

        - ``prospects`` (int64): prospects with at least one touch;
        - ``responders`` (int64): prospects with a positive response;
        - ``response_rate`` (float64): ``responders / prospects``, with its
          Wilson interval ``response_rate_low``, ``response_rate_high``;
        - ``median_touches``, ``mean_touches`` (float64): touches up to and
          including the first positive response, among responders (NaN when
          there are none);
        - ``share_never_responded`` (float64): ``1 - response_rate``: the
          censored prospects, still without a positive response at their
          last touch;
        - ``stop_after`` (float64): the touch number n after which the
          response rate of the next touch first falls below ``min_rate``
          (0 when even the first touch is below it; NaN when no touch
          number falls below it).

        With ``channel``: one row per group and channel value with the
        ``by`` columns, the ``channel`` column, then

        - ``touches`` (int64): touches on this channel made while the
          prospect was still waiting (up to and including the first
          positive response, or all touches of a non-responder);
        - ``responded`` (int64): first positive responses to a touch on this
          channel;
        - ``response_rate`` (float64): ``responded / touches``, with its Wilson
          interval ``response_rate_low``, ``response_rate_high``;
        - ``mean_touches`` (float64): the channel mix before the response:
          mean number of touches on this channel that responders received up
          to and including their first positive response;
        - ``share_of_responders`` (float64): share of the group's responders
          whose first positive response came on this channel.

    Raises
    ------
    ColumnNotFoundError
        When a column named by ``entity``, ``time``, ``response``,
        ``channel`` or ``by`` is missing.
    InvalidDataError
        When ``entity`` or ``time`` holds nulls, ``time`` cannot be read as
        datetimes or numbers (or holds dates out of range, or naive and aware
        times mixed), or no response equals ``positive`` while one differs
        from it only by case, spaces or a leading/trailing word, or the
        responses are booleans or 0/1 (the message gives the ``positive=`` to
        pass).
    InvalidParameterError
        When ``positive``, ``min_rate``, ``by`` (a column named twice) or
        ``ci`` is invalid.

    Warns
    -----
    FunnelkitWarning
        When no response is positive at all (and none is a near miss): the
        message names the values found.

    See Also
    --------
    touches_to_response : the per-touch hazards and cumulative shares.

    Notes
    -----
    ``time`` may also hold plain numbers (touch numbers, seconds since a
    start, ...), used only to put each prospect's touches in order; touches
    with the same time are ordered as they appear in the input.

    ``response_rate`` is the observed share: prospects still being worked
    count as not (yet) responded.  ``median_touches`` is taken over
    responders only, so it answers "how many touches did the ones who
    replied need?"; the share of all prospects reached by touch n is
    ``cumulative`` in :func:`touches_to_response`.

    ``stop_after`` is read from the per-touch rates of
    :func:`touches_to_response`: the first touch number n + 1 whose rate is
    below ``min_rate`` gives ``stop_after = n``.  Late touches reach few
    prospects, so check ``at_risk`` there before acting on it.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> log = pd.DataFrame({
    ...     "user_id": ["a", "a", "a", "b", "b", "c", "c", "c"],
    ...     "timestamp": [1, 2, 3, 1, 2, 1, 2, 3],
    ...     "response": ["no reply", "no reply", "positive", "positive", "no reply",
    ...                  "no reply", "negative", "no reply"],
    ... })
    >>> res = fk.touches_summary(log, min_rate=0.2)
    >>> res[["prospects", "responders", "response_rate", "median_touches", "stop_after"]]
       prospects  responders  response_rate  median_touches  stop_after
    0          3           2       0.666667             2.0         1.0
    """
    func = "touches_summary"
    ci, _ = _check_common(func, ci)
    min_rate = check_fraction(min_rate, name="min_rate", func=func)
    kw: dict[str, Any] = dict(entity=entity, time=time, response=response, positive=positive)
    kw.update(channel=channel, by=by)
    return _summary_table(_counts_of(touches, func=func, **kw), channel, ci, min_rate)


def _summary_table(
    c: _TouchCounts, channel: str | None, ci: float, threshold: float
) -> pd.DataFrame:
    """The table of :func:`touches_summary` from the (summed) counts."""
    keys, at_risk, events = c.keys, c.at_risk, c.events
    n_groups = len(keys)
    responders = events.sum(axis=1)

    if channel is not None:
        n_touch = c.risk_c.sum(axis=1)
        n_got = c.events_c.sum(axis=1)
        mix = c.mix_c
        gi, cj = np.nonzero(n_touch > 0)
        out: pd.DataFrame = keys.iloc[gi].reset_index(drop=True)
        out[channel] = _channel_values(c.channels, cj)
        out["touches"] = n_touch[gi, cj].astype(np.int64)
        out["responded"] = n_got[gi, cj].astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["response_rate"] = n_got[gi, cj] / n_touch[gi, cj]
            low, high = wilson_interval(n_got[gi, cj], n_touch[gi, cj], ci)
            out["response_rate_low"] = low
            out["response_rate_high"] = high
            out["mean_touches"] = mix[gi, cj] / responders[gi]
            out["share_of_responders"] = n_got[gi, cj] / responders[gi]
        return out

    # every prospect got touch 1; responders by touch number: medians and means
    prospects = at_risk[:, 1] if at_risk.shape[1] > 1 else np.zeros(n_groups)
    n_r = responders.astype(np.int64)
    has = n_r > 0
    below_or_at = np.cumsum(events, axis=1)  # responders with touches <= n
    lo_i = (n_r - 1) // 2
    hi_i = n_r // 2
    # the i-th smallest (0-based) touch count: the number of n with cum(n) <= i
    lo_v = (below_or_at <= lo_i[:, None]).sum(axis=1).astype(np.float64)
    hi_v = (below_or_at <= hi_i[:, None]).sum(axis=1).astype(np.float64)
    median = np.where(has, (lo_v + hi_v) / 2.0, np.nan)
    sums = (events * np.arange(events.shape[1])).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(at_risk > 0, events / at_risk, np.nan)
        mean = np.where(has, sums / n_r, np.nan)
        response_rate = responders / prospects
    rate[:, 0] = np.nan
    below = rate < threshold  # NaN compares False
    first_below = np.argmax(below, axis=1).astype(np.float64)
    stop_after = np.where(below.any(axis=1), first_below - 1.0, np.nan)
    low, high = wilson_interval(responders, prospects, ci)
    table = keys.reset_index(drop=True) if c.by else pd.DataFrame(index=pd.RangeIndex(n_groups))
    out = table
    out["prospects"] = prospects.astype(np.int64)
    out["responders"] = n_r
    out["response_rate"] = response_rate
    out["response_rate_low"] = low
    out["response_rate_high"] = high
    out["median_touches"] = median
    out["mean_touches"] = mean
    out["share_never_responded"] = 1.0 - response_rate
    out["stop_after"] = stop_after
    if not prospects.size or prospects.sum() == 0:
        out = out.iloc[0:0].reset_index(drop=True)
    return out


#: The output columns of :func:`touches_from_counts` besides ``entity`` and ``response``.
_LOG_TOUCH = "touch"


def _old_outcome_default(func: Callable[P, R]) -> Callable[P, R]:
    """Read the old default ``"outcome"`` column, with a FutureWarning, when response= is not given.

    Until this release ``touches_from_counts`` read ``outcome="outcome"``; it
    now reads ``response="response"``.  A caller who gives no ``response``
    (neither as a keyword, its old spelling ``outcome=`` nor through
    ``columns=``) and whose table has an ``"outcome"`` column but no
    ``"response"`` one keeps getting the old column for one release, warned.
    Applied inside :func:`~funnelkit.columns.takes_columns`, so the keyword
    renames and the ``columns=`` mapping are already in ``kwargs``.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if "response" not in kwargs:
            names = _column_names(args[0] if args else kwargs.get("prospects"))
            if "response" not in names and "outcome" in names:
                warnings.warn(
                    "touches_from_counts: the prospects have no 'response' column, so the "
                    "old default column 'outcome' was read. The default is now "
                    "response='response' and the fallback to 'outcome' will stop working "
                    "in the next release: pass response='outcome' (or rename the column "
                    "to 'response').",
                    FutureWarning,
                    stacklevel=3,
                )
                kwargs["response"] = "outcome"
        return func(*args, **kwargs)

    return wrapper


def _column_names(data: Any) -> list[Any]:
    """The column names of a pandas / Polars frame or a pyarrow Table (else none)."""
    try:
        if isinstance(data, pd.DataFrame):
            return list(data.columns)
        names = getattr(data, "column_names", None)  # pyarrow
        if names is None:
            names = getattr(data, "columns", None)  # Polars
        return [n for n in names if isinstance(n, Hashable)] if names is not None else []
    except Exception:  # not a frame at all: check_frame gives the error
        return []


def _check_output_names(entity: Hashable, response: Hashable, *, func: str) -> None:
    """The log's three columns (entity, touch, response) need three names."""

    def rename(suffix: str) -> str:
        new = f"{_LOG_TOUCH}_{suffix}"
        return (
            f"rename that column first, e.g. prospects.rename(columns={{{_LOG_TOUCH!r}: "
            f"{new!r}}}), and pass {new!r}"
        )

    if response == entity:
        msg = (
            f"{func}: response={response!r} and entity={entity!r} name the same column; "
            f"the touch log needs the prospect ids and the response apart. Pass the column "
            f"holding each prospect's outcome as response=."
        )
    elif response == _LOG_TOUCH:
        msg = (
            f"{func}: response={response!r} is the name of the log's own {_LOG_TOUCH!r} "
            f"column (the touch number); the response column is named after the input's, "
            f"so the two would collide: {rename('response')} as response=."
        )
    elif entity == _LOG_TOUCH:
        msg = (
            f"{func}: entity={entity!r} is the name of the log's own {_LOG_TOUCH!r} "
            f"column (the touch number); the entity column is named after the input's, "
            f"so the two would collide: {rename('id')} as entity=."
        )
    else:
        return
    raise InvalidParameterError(msg)


@takes_columns(renamed={"df": "prospects", "count": "contacts", "outcome": "response"})
@_old_outcome_default
def touches_from_counts(
    prospects: pd.DataFrame,
    *,
    entity: str = "user_id",
    contacts: str = "contacts",
    response: str = "response",
    positive: Positive = "positive",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Expand one row per prospect (a contact count and a response) into a touch log.

    Many exports hold only the number of contacts made to each prospect and
    the outcome (the prospect's response).  This builds the touch log
    :func:`touches_to_response` reads, assuming that a positive response came
    at the last contact.

    Parameters
    ----------
    prospects : pandas.DataFrame
        One row per prospect.  (Spelled ``df=`` before this release; the old
        spelling still works, with a FutureWarning.)
    entity : str, default="user_id"
        Column that identifies the entity (a user, a lead, a prospect).
    contacts : str, default="contacts"
        Column holding the number of contacts (touches) made to the prospect:
        whole numbers >= 0.  (Spelled ``count=`` before this release; the old
        spelling still works, with a FutureWarning.)
    response : str, default="response"
        Column holding the prospect's outcome, the same role as the
        ``response`` column of a touch log, so one ``columns=`` mapping
        serves the whole analysis.  (Spelled ``outcome=``, default
        ``"outcome"``, before this release: the old keyword still works with
        a FutureWarning, and so does a table with an ``"outcome"`` column and
        no ``"response"`` one when ``response`` is not given.)
    positive : value, list of values or callable, default="positive"
        Which values of ``response`` are a positive outcome: one value, a list
        of values, or a callable taking the column and returning one bool per
        row.  Every other value, and nulls, mean no positive outcome.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per touch, prospects in input order, with columns:

        - the ``entity`` column (same name and dtype as the input's);
        - ``touch`` (int64): 1..contacts, the time order of the touches;
        - the ``response`` column, named after the input's (bool): True only
          at the last touch of a prospect whose outcome is positive.

        Read it with ``touches_to_response(log, entity=<entity>,
        time="touch", response=<response>, positive=True)``: the same
        ``entity`` and ``response`` as here, and ``positive=True`` because
        the log holds booleans, not the input's values.  With one
        ``columns=`` mapping for the analysis, ``entity`` and ``response``
        carry over; pass ``time="touch"`` and ``positive=True`` explicitly
        (they take precedence over the mapping's ``time`` and ``positive``).

    Raises
    ------
    ColumnNotFoundError
        When ``entity``, ``contacts`` or ``response`` is missing.
    InvalidDataError
        When ``contacts`` holds nulls, negative or fractional numbers, when a
        prospect with a positive outcome has 0 contacts, when entity ids
        are null or repeated, or when no outcome equals ``positive`` while
        one differs from it only by case, spaces or a leading/trailing word,
        or the outcomes are booleans or 0/1.
    InvalidParameterError
        When ``positive`` is invalid; when ``response`` names the ``entity``
        column or ``"touch"``, or ``entity`` is ``"touch"`` (the log's
        columns would collide); when a keyword is given in both its old and
        new spelling.

    Warns
    -----
    FunnelkitWarning
        When prospects with 0 contacts (and no positive outcome) are left
        out: they were never touched, so they are not at risk at any touch;
        and when no outcome is positive at all (naming the values found).
    FutureWarning
        When an old keyword (``df=``, ``count=``, ``outcome=``) is used, or
        when ``response`` is not given and the table has only the old
        default column ``"outcome"``.

    See Also
    --------
    touches_to_response : the per-touch response rates of the log.

    Notes
    -----
    The documented assumption: the positive response, if any, came at the
    last contact (campaigns usually stop contacting a prospect once it says
    yes).  Under it, touches-to-response of a responder is its contact
    count, and a non-responder is censored at its contact count.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> clients = pd.DataFrame({"client": ["a", "b", "c"], "calls": [2, 1, 3],
    ...                         "y": ["yes", "no", "no"]})
    >>> log = fk.touches_from_counts(clients, entity="client", contacts="calls", response="y",
    ...                              positive="yes")
    >>> log
      client  touch      y
    0      a      1  False
    1      a      2   True
    2      b      1  False
    3      c      1  False
    4      c      2  False
    5      c      3  False
    >>> fk.touches_to_response(log, entity="client", time="touch", response="y",
    ...                        positive=True)[["touch", "at_risk", "responded", "response_rate"]]
       touch  at_risk  responded  response_rate
    0      1        3          0            0.0
    1      2        2          1            0.5
    2      3        1          0            0.0

    One mapping for the whole analysis:

    >>> cols = fk.Columns(entity="client", contacts="calls", response="y", positive="yes")
    >>> log = fk.touches_from_counts(clients, columns=cols)
    >>> fk.touches_to_response(log, time="touch", positive=True, columns=cols)[
    ...     ["touch", "at_risk", "responded"]]
       touch  at_risk  responded
    0      1        3          0
    1      2        2          1
    2      3        1          0
    """
    func = "touches_from_counts"
    data = check_frame(prospects, table="prospects", func=func)
    _check_output_names(entity, response, func=func)
    require_columns(
        data, {"entity": entity, "contacts": contacts, "response": response}, table="prospects"
    )
    check_not_null(data, entity, table="prospects", keyword="entity", func=func)
    dup = data[entity].duplicated(keep=False).to_numpy()
    if dup.any():
        raise _invalid(
            data,
            dup,
            table="prospects",
            column=entity,
            reason="duplicate",
            what="with repeated ids (entity=)",
            fix=(
                "touches_from_counts needs one row per prospect; aggregate first. A table "
                "without ids can use its row labels: df.rename_axis('user_id').reset_index()."
            ),
        )
    ids = data[entity].reset_index(drop=True)
    counts = _as_counts(data, contacts)
    good = _positive_mask(data[response], positive, name="positive", func=func)
    if not good.any():
        check_value_labels(
            data[response],
            {"positive": positive},
            table="prospects",
            column=response,
            keyword="response",
            func=func,
        )
    never = (counts == 0) & good
    if never.any():
        raise _invalid(
            data,
            never,
            table="prospects",
            column=contacts,
            reason="contradiction",
            what="with a positive outcome but 0 contacts (contacts=)",
            fix="A response needs a contact; fix those counts or outcomes.",
        )
    zero = counts == 0
    if zero.any():
        why = f"prospects[{contacts!r}] is 0 (never contacted)"
        warn_dropped(int(zero.sum()), len(data), why, func=func)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    touch = np.arange(total, dtype=np.int64) - np.repeat(starts, counts) + 1
    last = touch == np.repeat(counts, counts)
    out = pd.DataFrame({entity: ids.take(np.repeat(np.arange(len(data)), counts))})
    out = out.reset_index(drop=True)
    out[_LOG_TOUCH] = touch
    out[response] = last & np.repeat(good, counts)
    result: pd.DataFrame = out
    return result


def _as_counts(data: pd.DataFrame, contacts: str) -> IntArray:
    """The contact counts as int64 (whole numbers >= 0), or a clear error."""
    s = data[contacts]
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        values = pd.to_numeric(s, errors="coerce")
    else:
        values = s
    v = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(v) | (v < 0) | (v != np.floor(v))
    if pd.api.types.is_bool_dtype(s.dtype):
        bad[:] = True
    if bad.any():
        raise _invalid(
            data,
            bad,
            table="prospects",
            column=contacts,
            reason="not_count",
            what="that are not whole numbers >= 0 (contacts=)",
            fix="Contact counts must be whole numbers >= 0; fix or drop those rows.",
        )
    return v.astype(np.int64)
