"""Calendar periods of event times (the entry periods of ``conversion_over_time``)."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from funnelkit._kernels import NAT

I64 = np.ndarray[Any, np.dtype[np.int64]]

_DAY = np.int64(86_400_000_000_000)


def whole_days(period: str) -> bool:
    """Whether every period of the alias starts at a midnight (a day or longer)."""
    offset = pd.PeriodDtype(period).freq  # the period alias (not the offset alias) read
    if isinstance(offset, pd.offsets.Tick):  # fixed spans: Day (pandas 2), hours and finer
        # a period starts at its time floored to the base unit ("24h" at the hour)
        return bool(offset.base.nanos % 86_400_000_000_000 == 0)
    return True  # calendar offsets: days, weeks, months, quarters, years, business days


def period_starts(
    t_ns: I64, tz: Any, period: str, *, categorical: bool = False
) -> pd.Series | pd.Categorical:
    """The start of the calendar period of each time (ns, UTC; NAT for missing).

    Periods are cut on the local wall clock of ``tz`` (None: naive times) and
    the starts keep the zone.  A period of a day or longer depends on the
    calendar day only: its start is found once per distinct day, not once per
    time.  ``categorical``: periods of a day or longer come as a categorical of
    the starts (sorted categories, small integer codes: an eighth of the memory
    of a datetime column on a long log, and grouped from its codes); a
    Series of datetimes otherwise.
    """
    wall = pd.Series(t_ns.view("datetime64[ns]"))
    if tz is not None:
        wall = wall.dt.tz_localize("UTC").dt.tz_convert(tz).dt.tz_localize(None)
    if not whole_days(period):
        wall = wall.where(t_ns != NAT)
        starts = wall.dt.to_period(period).dt.start_time.astype("datetime64[ns]")
        return _localized(starts, tz)
    wall_ns = wall.to_numpy(dtype="datetime64[ns]").view(np.int64)
    ok = wall_ns != NAT
    every = bool(ok.all())  # the usual case: no gathers
    rel = wall_ns // _DAY if every else wall_ns[ok] // _DAY
    first = int(rel.min()) if rel.size else 0
    rel -= np.int64(first)  # in place: one array of every time, not two
    present = np.zeros(int(rel.max()) + 1 if rel.size else 0, dtype=bool)
    present[rel] = True
    distinct = np.flatnonzero(present).astype(np.int64)
    day_start = pd.Series(((distinct + first) * _DAY).view("datetime64[ns]"))
    per_day = day_start.dt.to_period(period).dt.start_time.astype("datetime64[ns]")
    lookup = np.zeros(present.size, dtype=np.int64)
    lookup[distinct] = per_day.to_numpy().view(np.int64)
    if categorical:
        return _period_categorical(lookup, distinct, rel, every, ok, tz)
    if every:
        start_ns = lookup[rel]
    else:
        start_ns = np.full(wall_ns.size, NAT, dtype=np.int64)
        start_ns[ok] = lookup[rel]
    return _localized(pd.Series(start_ns.view("datetime64[ns]")), tz)


def _localized(starts: pd.Series, tz: Any) -> pd.Series:
    """Wall-clock starts in the zone ``tz`` (as they are when None)."""
    if tz is None:
        return starts
    return cast(pd.Series, starts.dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward"))


def _period_categorical(
    lookup: I64,
    distinct: I64,
    rel: I64,
    every: bool,
    ok: np.ndarray[Any, np.dtype[np.bool_]],
    tz: Any,
) -> pd.Categorical:
    """The period start of each time as a categorical (see :func:`period_starts`).

    ``lookup[d]`` is the start (wall clock, ns) of the period of day ``d`` for the
    ``distinct`` days present; ``rel`` the day of each time that is not missing (``ok``).
    """
    starts = np.unique(lookup[distinct])  # sorted: the categories
    day_code = np.zeros(lookup.size, dtype=np.int64)
    day_code[distinct] = np.searchsorted(starts, lookup[distinct])
    small = np.int8 if starts.size < 2**7 else np.int16 if starts.size < 2**15 else np.int32
    if every:
        codes = day_code.astype(small)[rel]
    else:
        codes = np.full(ok.size, -1, dtype=small)
        codes[ok] = day_code.astype(small)[rel]
    categories = pd.DatetimeIndex(starts.view("datetime64[ns]"))
    if tz is not None:
        categories = categories.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return cast(
        pd.Categorical, pd.Categorical.from_codes(codes, categories=categories, validate=False)
    )
