"""Validation layer: column checks, dtype coercion and parameter checks.

Every public function calls these first and gets back clean pandas / numpy
objects; nothing below this layer checks input again.  No computation of
metrics happens here.

Message templates (see ``docs/errors.md``):

* missing column: ``Column 'user_id' (entity=) not found in events. Available
  columns: ['uid', 'event', 'ts']. Hint: pass entity='uid'.``
* bad values: ``events['timestamp'] has 3 of 1,204 rows that are not datetimes
  (first: 'n/a' at index 17). <fix>``
* bad parameter: ``The 'window' parameter of conversion must be a non-negative
  duration or None. Got '-3D' instead.``
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from funnelkit.errors import (
    ColumnNotFoundError,
    FunnelkitWarning,
    InvalidDataError,
    InvalidParameterError,
)

T = TypeVar("T")

#: How many offending rows an :class:`InvalidDataError` carries in ``.examples``.
N_EXAMPLES = 5


# ----------------------------------------------------------------------------
# tables and columns
# ----------------------------------------------------------------------------
def check_frame(data: Any, *, table: str, func: str) -> pd.DataFrame:
    """Check that ``data`` is a pandas DataFrame (not modified, not copied)."""
    if not isinstance(data, pd.DataFrame):
        msg = (
            f"The '{table}' argument of {func} must be a pandas DataFrame. "
            f"Got {type(data).__name__} instead."
        )
        if type(data).__module__.partition(".")[0] == "dask":
            msg = (
                f"The '{table}' argument of {func} must be a pandas DataFrame: {func} does not "
                f"take a Dask DataFrame yet (funnel_entities, conversion, dropoff, "
                f"time_to_convert, touches_to_response, touches_summary and triggers do). "
                f"Pass {table}.compute() if it fits in memory."
            )
        raise InvalidParameterError(msg)
    return data


def require_columns(
    df: pd.DataFrame, columns: Mapping[str, Hashable | None], *, table: str
) -> None:
    """Check that every ``keyword -> column`` of ``columns`` is in ``df``.

    ``None`` values are skipped (optional columns).  The error names the
    keyword, lists the available columns and suggests the closest match.
    """
    available = list(df.columns)
    for keyword, column in columns.items():
        if column is None or column in df.columns:
            continue
        msg = (
            f"Column {column!r} ({keyword}=) not found in {table}. "
            f"Available columns: {_short_list(available)}."
        )
        hint = closest(column, available)
        if hint is not None:
            msg += f" Hint: pass {keyword}={hint!r}."
        raise ColumnNotFoundError(msg)


def closest(name: Any, options: Iterable[Any]) -> Any | None:
    """Return the option closest to ``name`` (``difflib``), or None."""
    opts = [o for o in options if isinstance(o, str)]
    if not isinstance(name, str) or not opts:
        return None
    lowered = {o.lower(): o for o in opts}
    if name.lower() in lowered:
        return lowered[name.lower()]
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None


def as_list(value: Hashable | Sequence[Hashable] | None) -> list[Hashable]:
    """Normalise a ``by=``-style argument to a list of column names."""
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def _short_list(values: Sequence[Any], limit: int = 20) -> str:
    values = list(values)
    if len(values) <= limit:
        return repr(values)
    return repr(values[:limit])[:-1] + f", ... ({len(values) - limit} more)]"


def plain(value: Any) -> Any:
    """A numpy scalar as its Python value (numpy 2 prints np.int64(17) otherwise)."""
    return value.item() if isinstance(value, np.generic) else value


def _invalid(
    df: pd.DataFrame,
    mask: np.ndarray[Any, np.dtype[np.bool_]],
    *,
    table: str,
    column: str,
    reason: str,
    what: str,
    fix: str,
) -> InvalidDataError:
    """Build an :class:`InvalidDataError` for the rows of ``df`` where ``mask``."""
    n_bad = int(mask.sum())
    positions = np.flatnonzero(mask)
    first = positions[0]
    value, label = plain(df[column].iloc[first]), plain(df.index[first])
    msg = (
        f"{table}[{column!r}] has {n_bad:,} of {len(df):,} rows {what} "
        f"(first: {value!r} at index {label!r}). {fix}"
    )
    return InvalidDataError(
        msg,
        column=str(column),
        reason=reason,
        n_rows=n_bad,
        examples=df.iloc[positions[:N_EXAMPLES]],
    )


# ----------------------------------------------------------------------------
# column values
# ----------------------------------------------------------------------------
def check_not_null(
    df: pd.DataFrame,
    column: str,
    *,
    table: str,
    keyword: str,
    dropna: bool = False,
    func: str = "",
) -> pd.DataFrame:
    """Refuse (or, with ``dropna=True``, drop with a warning) null ids.

    Returns ``df`` itself when nothing is null, else a filtered copy.
    """
    mask = df[column].isna().to_numpy()
    if not mask.any():
        return df
    if dropna:
        warn_dropped(int(mask.sum()), len(df), f"{table}[{column!r}] is null", func=func)
        out: pd.DataFrame = df.loc[~mask]
        return out
    raise _invalid(
        df,
        mask,
        table=table,
        column=column,
        reason="null",
        what="that are null",
        fix=(
            f"Drop or fill them first (e.g. {table}.dropna(subset=[{column!r}])), "
            f"or pass dropna=True to leave them out with a warning."
        ),
    )


def warn_dropped(n_dropped: int, n_total: int, why: str, *, func: str) -> None:
    """Emit the standard warning for rows left out of a metric."""
    where = f"{func}: " if func else ""
    warnings.warn(
        f"{where}left out {n_dropped:,} of {n_total:,} rows because {why}.",
        FunnelkitWarning,
        stacklevel=3,
    )


def as_datetime(
    df: pd.DataFrame,
    column: str,
    *,
    table: str,
    keyword: str = "time",
) -> pd.Series:
    """Return ``df[column]`` as ``datetime64[ns]`` (naive or tz-aware).

    Accepts datetimes of any unit and time zone and strings in ISO 8601 form.
    Nulls stay ``NaT`` (the caller decides whether to drop them).  Raises
    :class:`InvalidDataError` for numbers, unparseable strings and mixed
    time zones.
    """
    s = df[column]
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.astype(pd.DatetimeTZDtype("ns", s.dtype.tz))
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s.astype("datetime64[ns]")
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        msg = (
            f"{table}[{column!r}] ({keyword}=) holds numbers ({s.dtype}), not datetimes. "
            f"Convert it first, e.g. {table}[{column!r}] = "
            f"pd.to_datetime({table}[{column!r}], unit='s') for Unix seconds."
        )
        raise InvalidDataError(msg, column=column, reason="numeric", n_rows=len(df))
    notna = s.notna().to_numpy()
    values = s[notna]
    # mixed time zones among Python datetime / Timestamp objects
    tzs = {getattr(v, "tzinfo", None) is not None for v in values if not isinstance(v, str)}
    if len(tzs) > 1 or (
        len(tzs) == 1
        and True in tzs
        and len({str(v.tzinfo) for v in values if not isinstance(v, str)}) > 1
    ):
        mask = notna.copy()
        msg = (
            f"{table}[{column!r}] ({keyword}=) mixes time zones (or naive and aware "
            f"datetimes) in {len(values):,} rows. Convert all of them to one zone, "
            f"e.g. pd.to_datetime({table}[{column!r}], utc=True)."
        )
        raise InvalidDataError(
            msg,
            column=column,
            reason="mixed_tz",
            n_rows=len(values),
            examples=df.iloc[np.flatnonzero(mask)[:N_EXAMPLES]],
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(s, errors="coerce", format="ISO8601")
    except (ValueError, TypeError) as exc:  # e.g. mixed offsets in strings
        msg = (
            f"{table}[{column!r}] ({keyword}=) could not be read as datetimes: {exc}. "
            f"Convert it first with pd.to_datetime(..., utc=True) or an explicit format=."
        )
        raise InvalidDataError(msg, column=column, reason="not_datetime", n_rows=len(df)) from exc
    bad = notna & parsed.isna().to_numpy()
    if bad.any():
        raise _invalid(
            df,
            bad,
            table=table,
            column=column,
            reason="not_datetime",
            what="that are not datetimes",
            fix=(
                f"Convert with pd.to_datetime({table}[{column!r}], errors='coerce') "
                f"(give format= for non-ISO dates) and drop or fill those rows."
            ),
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.astype(pd.DatetimeTZDtype("ns", parsed.dtype.tz))
    return parsed.astype("datetime64[ns]")


def datetime_to_ns(s: pd.Series) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Return ``datetime64[ns]`` values as int64 nanoseconds (UTC when tz-aware).

    ``NaT`` becomes ``numpy.iinfo(int64).min``.
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.to_numpy(dtype="datetime64[ns]").view(np.int64)


def ns_to_datetime(values: np.ndarray[Any, Any], tz: Any = None) -> pd.Series:
    """Inverse of :func:`datetime_to_ns`: int64 ns (``iinfo.min`` = NaT) to datetimes."""
    out: pd.Series = pd.Series(np.asarray(values, dtype=np.int64).view("datetime64[ns]"))
    if tz is not None:
        return cast(pd.Series, out.dt.tz_localize("UTC").dt.tz_convert(tz))
    return out


def time_zone(s: pd.Series) -> Any:
    """The time zone of a datetime Series, or None when naive."""
    return s.dtype.tz if isinstance(s.dtype, pd.DatetimeTZDtype) else None


def as_amount(
    df: pd.DataFrame,
    column: str,
    *,
    table: str,
    keyword: str = "amount",
    allow_negative: bool = False,
) -> pd.Series:
    """Return ``df[column]`` as float64; refuse non-numbers and negative amounts.

    Nulls stay NaN (the caller decides whether to leave them out).
    """
    s = df[column]
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        values = pd.to_numeric(s, errors="coerce")
        bad = (s.notna() & values.isna()).to_numpy()
        if bad.any():
            raise _invalid(
                df,
                bad,
                table=table,
                column=column,
                reason="not_numeric",
                what=f"that are not numbers ({keyword}=)",
                fix=(
                    f"Convert with pd.to_numeric({table}[{column!r}], errors='coerce') "
                    f"after removing currency signs and thousands separators."
                ),
            )
        s = values
    out = s.astype("float64")
    if not allow_negative:
        neg = (out < 0).to_numpy()
        if neg.any():
            raise _invalid(
                df,
                neg,
                table=table,
                column=column,
                reason="negative",
                what=f"with negative values ({keyword}=)",
                fix="Amounts must be >= 0; fix or drop those rows (refunds belong elsewhere).",
            )
    return out


# ----------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------
def param_error(func: str, name: str, expected: str, got: Any) -> InvalidParameterError:
    """The standard parameter error (scikit-learn's wording)."""
    msg = f"The {name!r} parameter of {func} must be {expected}. Got {got!r} instead."
    return InvalidParameterError(msg)


def check_date(value: Any, *, tz: Any, name: str, func: str) -> pd.Timestamp:
    """Parse a date parameter (``as_of``, ``period_end``, ...) into the data's time zone.

    ``tz`` is the time zone of the data (None when the data are naive): a naive
    date is read in that zone, an aware one converted to it; an aware date for
    naive data is refused, as is anything that is not a date.
    """
    expected = "a date (a Timestamp or an ISO 8601 string)"
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise param_error(func, name, expected, value) from None
    if pd.isna(ts):
        raise param_error(func, name, expected, value)
    if tz is not None:
        aware: pd.Timestamp = ts.tz_localize(tz) if ts.tz is None else ts.tz_convert(tz)
        return aware
    if ts.tz is not None:
        msg = (
            f"The {name!r} parameter of {func} must be a time-zone naive date like the "
            f"data; it is time-zone-aware. Got {value!r} instead."
        )
        raise InvalidParameterError(msg)
    naive: pd.Timestamp = ts
    return naive


def timestamp_ns(ts: pd.Timestamp) -> int:
    """A Timestamp as int64 nanoseconds (UTC when tz-aware), like :func:`datetime_to_ns`."""
    if ts.tz is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return int(ts.as_unit("ns").value)


def check_option(value: T, options: Sequence[T], *, name: str, func: str) -> T:
    """Check that ``value`` is one of ``options``."""
    if value not in options:
        expected = "one of " + ", ".join(repr(o) for o in options)
        raise param_error(func, name, expected, value)
    return value


def check_duration(
    value: Any, *, name: str, func: str, allow_none: bool = True
) -> pd.Timedelta | None:
    """Parse a non-negative duration: a Timedelta, a string like ``"7D"`` or None."""
    expected = "a non-negative duration" + (" or None" if allow_none else "")
    if value is None:
        if allow_none:
            return None
        raise param_error(func, name, expected, value)
    if isinstance(value, bool | int | float | np.number):
        raise param_error(func, name, expected + " (a Timedelta or a string like '7D')", value)
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise param_error(func, name, expected, value) from None
    if pd.isna(td) or td < pd.Timedelta(0):
        raise param_error(func, name, expected, value)
    return cast(pd.Timedelta, td)


def check_fraction(
    value: Any,
    *,
    name: str,
    func: str,
    low_inclusive: bool = False,
    high_inclusive: bool = False,
) -> float:
    """Check a number in (0, 1), with either end optionally included."""
    lo = "[" if low_inclusive else "("
    hi = "]" if high_inclusive else ")"
    expected = f"a number in {lo}0, 1{hi}"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise param_error(func, name, expected, value)
    v = float(value)
    ok_low = v >= 0 if low_inclusive else v > 0
    ok_high = v <= 1 if high_inclusive else v < 1
    if not (ok_low and ok_high) or np.isnan(v):
        raise param_error(func, name, expected, value)
    return v


def check_ci(ci: Any, *, func: str) -> float:
    """Check a confidence level in (0, 1)."""
    return check_fraction(ci, name="ci", func=func)


def check_positive(value: Any, *, name: str, func: str, integer: bool = False) -> float:
    """Check a finite number > 0 (an int when ``integer``)."""
    kind = "a positive integer" if integer else "a positive number"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise param_error(func, name, kind, value)
    if integer and not float(value).is_integer():
        raise param_error(func, name, kind, value)
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise param_error(func, name, kind, value)
    return v


def check_callable_or_values(
    value: Any, *, name: str, func: str
) -> Callable[[pd.Series], np.ndarray[Any, np.dtype[np.bool_]]]:
    """Turn a value, a list of values or a callable into a row predicate."""
    if callable(value):

        def pred(s: pd.Series) -> np.ndarray[Any, np.dtype[np.bool_]]:
            out = np.asarray(value(s))
            if out.dtype != np.bool_ or out.shape != (len(s),):
                raise param_error(func, name, "a callable returning one bool per row", value)
            return out

        return pred
    values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]

    def isin(s: pd.Series) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return s.isin(values).to_numpy(dtype=bool)

    return isin
