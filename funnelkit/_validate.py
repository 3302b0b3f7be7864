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

import datetime as dt
import difflib
import re
import warnings
from collections import Counter
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
    """Check that ``data`` is a usable table and return it as a pandas DataFrame.

    A pandas DataFrame is returned as it is (not modified, not copied).  A
    Polars DataFrame or a pyarrow Table (or RecordBatch) is converted once,
    with its own ``to_pandas()``; neither library is imported here (they are
    recognised by the module their type comes from).  Anything else is an
    :class:`InvalidParameterError` naming its type.  Duplicated column
    names and MultiIndex columns are an :class:`InvalidDataError`: a column
    role must name exactly one column.
    """
    frame: pd.DataFrame = (
        data if isinstance(data, pd.DataFrame) else _to_pandas(data, table=table, func=func)
    )
    check_columns(frame, table=table)
    return frame


#: Table types converted with their ``to_pandas()`` method: (root module, type name).
_CONVERTIBLE = {
    ("polars", "DataFrame"),
    ("pyarrow", "Table"),
    ("pyarrow", "RecordBatch"),
}


def _to_pandas(data: Any, *, table: str, func: str) -> pd.DataFrame:
    """Convert a Polars DataFrame or a pyarrow Table; refuse anything else by its type."""
    kind = type(data)
    root = kind.__module__.partition(".")[0]
    got = kind.__name__ if root == "builtins" else f"{root}.{kind.__name__}"
    if (root, kind.__name__) in _CONVERTIBLE and callable(getattr(data, "to_pandas", None)):
        try:
            out = data.to_pandas()
        except Exception as exc:  # e.g. polars without pyarrow installed
            msg = (
                f"The '{table}' argument of {func} is a {got} that could not be converted "
                f"to pandas ({type(exc).__name__}: {exc}). Convert it yourself first, "
                f"e.g. {table}.to_pandas()."
            )
            raise InvalidParameterError(msg) from exc
        if isinstance(out, pd.DataFrame):
            return out
    msg = (
        f"The '{table}' argument of {func} must be a pandas DataFrame (or a Polars "
        f"DataFrame or a pyarrow Table). Got {got} instead."
    )
    if root == "dask":
        msg = (
            f"The '{table}' argument of {func} must be a pandas DataFrame: {func} does not "
            f"take a Dask DataFrame yet (funnel_entities, conversion, dropoff, "
            f"time_to_convert, touches_to_response, touches_summary and triggers do). "
            f"Pass {table}.compute() if it fits in memory."
        )
    elif root == "polars" and kind.__name__ == "LazyFrame":
        msg += f" Collect it first: {table}.collect()."
    elif isinstance(data, pd.Series):
        msg += f" Pass {table}.to_frame() or a DataFrame with the needed columns."
    raise InvalidParameterError(msg)


def check_columns(df: pd.DataFrame, *, table: str) -> None:
    """Refuse MultiIndex columns and duplicated column names (a role must name one column)."""
    columns = df.columns
    if isinstance(columns, pd.MultiIndex):
        msg = (
            f"{table} has MultiIndex columns (first: {plain(columns[0])!r}); funnelkit names "
            f"each column by one label. Flatten them first, e.g. "
            f"{table}.columns = ['_'.join(map(str, c)) for c in {table}.columns]."
        )
        raise InvalidDataError(msg, reason="multiindex_columns", n_rows=len(df))
    dup = columns.duplicated(keep=False)
    if dup.any():
        names = list(dict.fromkeys(plain(c) for c in columns[dup]))
        counts = columns[dup].value_counts()
        first = names[0]
        msg = (
            f"{table} has {len(names)} duplicated column name(s): {_short_list(names)} "
            f"({first!r} appears {int(counts[first])} times), so a keyword naming one of them "
            f"is ambiguous. Rename or drop the duplicates first, e.g. "
            f"{table}.loc[:, ~{table}.columns.duplicated()]."
        )
        raise InvalidDataError(msg, column=str(first), reason="duplicate_columns", n_rows=len(df))


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


def as_list(
    value: Hashable | Sequence[Hashable] | None, *, name: str = "by", func: str = ""
) -> list[Hashable]:
    """Normalise a ``by=``-style argument to a list of column names.

    A column named twice is an :class:`InvalidParameterError` (grouping by it
    twice is never what was meant); ``name`` and ``func`` word the message.
    """
    if value is None:
        return []
    if isinstance(value, pd.Index | pd.Series | np.ndarray):
        columns = list(value)
    elif isinstance(value, str | bytes) or not isinstance(value, Sequence):
        return [value]
    else:
        columns = list(value)
    try:
        counts = Counter(columns)
    except TypeError:  # unhashable items: the column lookup reports them
        return columns
    twice = [column for column, n in counts.items() if n > 1]
    if twice:
        where = f" of {func}" if func else ""
        once = list(counts)
        msg = (
            f"The {name!r} parameter{where} names {_short_list(twice)} more than once. "
            f"Name each column once: {name}={once!r}."
        )
        raise InvalidParameterError(msg)
    return columns


def check_by(
    df: pd.DataFrame,
    by: Hashable | Sequence[Hashable] | None,
    *,
    table: str,
    func: str,
    name: str = "by",
) -> list[Hashable]:
    """Normalise ``by=`` to a list and check it: each column present, none named twice.

    Returns the list of column names (empty for None).  A column named twice
    is an :class:`InvalidParameterError`; a missing one a
    :class:`ColumnNotFoundError` with a hint.
    """
    columns = as_list(by, name=name, func=func)
    for column in columns:
        try:
            require_columns(df, {name: column}, table=table)
        except TypeError:  # an unhashable item, e.g. a list inside the list
            raise param_error(func, name, "a column name or a list of column names", by) from None
    return columns


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
    dropna: bool | None = None,
    func: str = "",
) -> pd.DataFrame:
    """Refuse (or, with ``dropna=True``, drop with a warning) null ids.

    ``dropna`` is the calling function's own ``dropna=`` value, or None when
    the function has no such option: the error message suggests
    ``dropna=True`` only when the caller can take it.  Returns ``df`` itself
    when nothing is null, else a filtered copy.
    """
    mask = df[column].isna().to_numpy()
    if not mask.any():
        return df
    if dropna:
        warn_dropped(int(mask.sum()), len(df), f"{table}[{column!r}] is null", func=func)
        out: pd.DataFrame = df.loc[~mask]
        return out
    fix = f"Drop or fill them first (e.g. {table}.dropna(subset=[{column!r}]))"
    fix += ", or pass dropna=True to leave them out with a warning." if dropna is False else "."
    raise _invalid(
        df,
        mask,
        table=table,
        column=column,
        reason="null",
        what=f"that are null ({keyword}=)",
        fix=fix,
    )


def warn_dropped(n_dropped: int, n_total: int, why: str, *, func: str) -> None:
    """Emit the standard warning for rows left out of a metric."""
    where = f"{func}: " if func else ""
    warnings.warn(
        f"{where}left out {n_dropped:,} of {n_total:,} rows because {why}.",
        FunnelkitWarning,
        stacklevel=3,
    )


# ----------------------------------------------------------------------------
# dates
# ----------------------------------------------------------------------------
#: The dates funnelkit computes with: pandas' nanosecond range.
DATE_MIN: pd.Timestamp = pd.Timestamp.min.ceil("s")
DATE_MAX: pd.Timestamp = pd.Timestamp.max.floor("s")
_NS_PER = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_NAT = np.iinfo(np.int64).min
#: An ISO 8601 time with a UTC offset at the end: "...T10:00:00+01:00", "... 10:00Z".
_OFFSET = r"[T\s]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)\s*$"
#: The year of an ISO 8601 date string.
_YEAR = r"^\s*([+-]?\d{4,})-"


def _is_far(value: Any) -> bool:
    """Whether a datetime object lies outside the nanosecond range (by its year)."""
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[s]").astype(object)
    return isinstance(value, dt.date) and not (DATE_MIN.year <= value.year <= DATE_MAX.year)


def _range_text() -> str:
    return f"{DATE_MIN:%Y-%m-%d} to {DATE_MAX:%Y-%m-%d}"


def _out_of_range_fix(table: str, column: str) -> str:
    return (
        f"funnelkit computes with dates from {_range_text()} (pandas' nanosecond range). "
        f"A far date like 9999-12-31 is usually a 'no end' sentinel: replace it with NaT, "
        f"e.g. {table}[{column!r}] = {table}[{column!r}].mask("
        f"{table}[{column!r}] > pd.Timestamp('2262-01-01'))."
    )


def _check_range(df: pd.DataFrame, s: pd.Series, *, table: str, column: str, keyword: str) -> None:
    """Refuse datetime64 values (any unit) outside the nanosecond range, vectorized."""
    values = s.array
    unit = str(getattr(values, "unit", "ns"))
    if unit == "ns":
        return
    i8 = np.asarray(getattr(values, "asi8"), dtype=np.int64)  # noqa: B009 (not in the stubs)
    per = _NS_PER[unit]
    low = -((-DATE_MIN.value) // per)  # ceil
    high = DATE_MAX.value // per
    bad = (i8 != _NAT) & ((i8 < low) | (i8 > high))
    if bad.any():
        raise _invalid(
            df,
            bad,
            table=table,
            column=column,
            reason="out_of_range",
            what=f"with dates out of range ({keyword}=)",
            fix=_out_of_range_fix(table, column),
        )


def _to_ns(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.astype(pd.DatetimeTZDtype("ns", s.dtype.tz))
    return s.astype("datetime64[ns]")


def _check_one_kind_of_time(
    df: pd.DataFrame,
    s: pd.Series,
    notna: np.ndarray[Any, np.dtype[np.bool_]],
    is_str: np.ndarray[Any, np.dtype[np.bool_]],
    *,
    table: str,
    column: str,
    keyword: str,
) -> None:
    """Refuse naive and aware values mixed, and datetime objects of several zones."""
    aware = np.zeros(len(s), dtype=bool)
    if is_str.any():
        strings = s[is_str].astype(str)
        aware[is_str] = strings.str.contains(_OFFSET, regex=True).to_numpy()
    objects = notna & ~is_str
    if objects.any():  # datetime / Timestamp objects: their tzinfo
        tzinfos = s[objects].map(lambda v: getattr(v, "tzinfo", None))
        has_zone = tzinfos.notna()
        aware[objects] = has_zone.to_numpy()
        aware_zones = {str(z) for z in tzinfos[has_zone]}
        # fixed UTC offsets (several across a DST change) are instants, read as UTC
        # like offset strings; several named zones are not
        fixed = bool(tzinfos[has_zone].map(lambda z: isinstance(z, dt.timezone)).all())
        if len(aware_zones) > 1 and not fixed:
            raise _invalid(
                df,
                objects,
                table=table,
                column=column,
                reason="mixed_tz",
                what=f"that mix time zones {sorted(aware_zones)} ({keyword}=)",
                fix=(
                    f"Convert all of them to one zone, e.g. "
                    f"pd.to_datetime({table}[{column!r}], utc=True)."
                ),
            )
    naive = notna & ~aware
    if aware.any() and naive.any():
        first_aware = plain(s.iloc[int(np.flatnonzero(aware)[0])])
        raise _invalid(
            df,
            naive,
            table=table,
            column=column,
            reason="mixed_tz",
            what=(
                f"without a time zone while {int(aware.sum()):,} carry one "
                f"(e.g. {first_aware!r}) ({keyword}=); naive and aware times in one column "
                f"are ambiguous"
            ),
            fix=(
                f"Give every value its offset, or localize the naive ones: "
                f"pd.to_datetime({table}[{column!r}], utc=True) reads naive values as UTC."
            ),
        )


def as_datetime(
    df: pd.DataFrame,
    column: str,
    *,
    table: str,
    keyword: str = "time",
) -> pd.Series:
    """Return ``df[column]`` as ``datetime64[ns]`` (naive or tz-aware).

    The one date parser of the library.  Accepts:

    * ``datetime64`` of any unit (``s``, ``ms``, ``us``, ``ns``), naive or
      with a time zone; the values are kept exactly (only the unit changes);
    * ISO 8601 strings.  Strings with UTC offsets become tz-aware: one offset
      throughout keeps that offset as the zone; several offsets (a local-time
      export across a DST change: ``+01:00`` and ``+02:00``) are unambiguous
      instants and are read in UTC;
    * Python ``datetime`` / ``Timestamp`` objects of one time zone, or of
      several fixed UTC offsets (read in UTC, like offset strings).

    Nulls stay ``NaT`` (the caller decides whether to drop them).  Raises
    :class:`InvalidDataError` for numbers (``numeric``), unparseable strings
    (``not_datetime``), dates outside pandas' nanosecond range, such as a
    ``9999-12-31`` sentinel (``out_of_range``), and naive values mixed with
    aware ones or objects of several named time zones (``mixed_tz``).
    """
    s = df[column]
    if isinstance(s.dtype, pd.ArrowDtype) and s.dtype.kind == "M":  # timestamp[unit][pyarrow]
        arrow = s.dtype.pyarrow_dtype
        unit, tz = str(arrow.unit), arrow.tz
        s = s.astype(pd.DatetimeTZDtype(unit, tz) if tz else np.dtype(f"datetime64[{unit}]"))
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        _check_range(df, s, table=table, column=column, keyword=keyword)
        return _to_ns(s)
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        msg = (
            f"{table}[{column!r}] ({keyword}=) holds numbers ({s.dtype}), not datetimes. "
            f"Convert it first, e.g. {table}[{column!r}] = "
            f"pd.to_datetime({table}[{column!r}], unit='s') for Unix seconds."
        )
        raise InvalidDataError(msg, column=column, reason="numeric", n_rows=len(df))
    notna = s.notna().to_numpy()
    kind = pd.api.types.infer_dtype(s, skipna=True) if notna.any() else "empty"
    is_str = np.zeros(len(s), dtype=bool)
    if kind == "string":
        is_str = notna
    elif kind not in ("empty", "datetime", "datetime64", "date"):  # a mixed object column
        is_str[notna] = s[notna].map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            first_try: pd.Series | None = pd.to_datetime(s, errors="coerce", format="ISO8601")
        except (ValueError, TypeError):  # mixed offsets (pandas >= 3 raises)
            first_try = None
    naive_result = first_try is not None and pd.api.types.is_datetime64_dtype(first_try.dtype)
    # (pandas turns an aware object after naive ones into NaT: check objects that failed)
    failed_objects = (
        naive_result
        and first_try is not None
        and bool((notna & ~is_str & first_try.isna().to_numpy()).any())
    )
    if not naive_result or failed_objects:
        # some values carry a zone: pandas would silently give naive ones the first
        # value's offset, so check that all of them carry one (strings: by their text)
        _check_one_kind_of_time(df, s, notna, is_str, table=table, column=column, keyword=keyword)
    parsed = first_try
    if (
        parsed is None
        or not pd.api.types.is_datetime64_any_dtype(parsed.dtype)
        # datetime objects of several fixed offsets: pandas keeps the first, drops the rest
        or (isinstance(parsed.dtype, pd.DatetimeTZDtype) and bool((notna & parsed.isna()).any()))
    ):
        # several UTC offsets: unambiguous instants, read in UTC
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(s, errors="coerce", format="ISO8601", utc=True)
        except (ValueError, TypeError) as exc:
            msg = (
                f"{table}[{column!r}] ({keyword}=) could not be read as datetimes: {exc}. "
                f"Convert it first with pd.to_datetime(..., utc=True) or an explicit format=."
            )
            raise InvalidDataError(
                msg, column=column, reason="not_datetime", n_rows=len(df)
            ) from exc
    bad = notna & parsed.isna().to_numpy()
    if bad.any():
        far = np.zeros(len(s), dtype=bool)
        bad_str = bad & is_str
        if bad_str.any():
            year = pd.to_numeric(
                s[bad_str].astype(str).str.extract(_YEAR, expand=False), errors="coerce"
            )
            far[bad_str] = ((year < DATE_MIN.year) | (year > DATE_MAX.year)).to_numpy()
        bad_obj = bad & ~is_str
        if bad_obj.any():  # datetime objects pandas could not hold in ns: out of range
            far[bad_obj] = s[bad_obj].map(_is_far).to_numpy(dtype=bool)
        if far.any():
            raise _invalid(
                df,
                far,
                table=table,
                column=column,
                reason="out_of_range",
                what=f"with dates out of range ({keyword}=)",
                fix=_out_of_range_fix(table, column),
            )
        raise _invalid(
            df,
            bad,
            table=table,
            column=column,
            reason="not_datetime",
            what=f"that are not datetimes ({keyword}=)",
            fix=(
                f"Convert with pd.to_datetime({table}[{column!r}], errors='coerce') "
                f"(give format= for non-ISO dates) and drop or fill those rows."
            ),
        )
    # pandas >= 3 may parse strings to a coarser unit: the range holds for it too
    _check_range(df, parsed, table=table, column=column, keyword=keyword)
    return _to_ns(parsed)


def datetime_to_ns(s: pd.Series) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Return datetime values as int64 nanoseconds (UTC when tz-aware).

    ``NaT`` becomes ``numpy.iinfo(int64).min``.  A unit other than ``ns`` is
    converted exactly; a value outside the nanosecond range is an
    :class:`InvalidDataError` (never a wrapped-around number): read columns
    with :func:`as_datetime` first to get the message naming the table.
    """
    unit = getattr(s.array, "unit", "ns")
    if unit != "ns":
        name = str(s.name) if s.name is not None else "values"
        _check_range(s.to_frame(name), s, table="data", column=name, keyword=name)
        s = _to_ns(s)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.to_numpy(dtype="datetime64[ns]").view(np.int64)


def duration_ns(
    end: np.ndarray[Any, np.dtype[np.int64]],
    start: np.ndarray[Any, np.dtype[np.int64]] | int,
    *,
    what: str,
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """``end - start`` of int64 nanoseconds, refusing a difference int64 cannot hold.

    Two dates in pandas' range can be up to 584 years apart, but an int64
    holds only 292 years of nanoseconds: such a difference would wrap around
    to a negative number.  ``NaT`` (``iinfo.min``) on either side gives
    ``NaT``.  ``what`` names the duration in the message (e.g.
    ``"deals['closed_at'] - deals['created_at']"``).
    """
    e = np.asarray(end, dtype=np.int64)
    b = np.asarray(start, dtype=np.int64)
    with np.errstate(over="ignore"):
        diff = e - b
    nat = (e == _NAT) | (b == _NAT)
    # overflow: the operands' signs differ and the result's sign differs from end's
    over = (((e ^ b) & (e ^ diff)) < 0) & ~nat
    if np.any(over):
        n_bad = int(np.count_nonzero(over))
        msg = (
            f"{n_bad:,} duration(s) {what} are longer than the 292 years funnelkit can "
            f"hold in nanoseconds. Check those dates (a 1900-01-01 or 2200-01-01 placeholder?) "
            f"and replace placeholders with NaT."
        )
        raise InvalidDataError(msg, reason="out_of_range", n_rows=n_bad)
    out: np.ndarray[Any, np.dtype[np.int64]] = np.where(nat, _NAT, diff)
    return out


def ns_to_datetime(values: np.ndarray[Any, Any], tz: Any = None) -> pd.Series:
    """Inverse of :func:`datetime_to_ns`: int64 ns (``iinfo.min`` = NaT) to datetimes."""
    out: pd.Series = pd.Series(np.asarray(values, dtype=np.int64).view("datetime64[ns]"))
    if tz is not None:
        return cast(pd.Series, out.dt.tz_localize("UTC").dt.tz_convert(tz))
    return out


def time_zone(s: pd.Series) -> Any:
    """The time zone of a datetime Series, or None when naive."""
    return s.dtype.tz if isinstance(s.dtype, pd.DatetimeTZDtype) else None


# ----------------------------------------------------------------------------
# amounts
# ----------------------------------------------------------------------------
def as_amount(
    df: pd.DataFrame,
    column: str,
    *,
    table: str,
    keyword: str = "amount",
    allow_negative: bool = False,
) -> pd.Series:
    """Return ``df[column]`` as float64; refuse non-numbers, booleans, infinities, negatives.

    Numbers stored as text (``"10.5"``) are read; booleans are refused, never
    read as 1 and 0.  Nulls stay NaN: a missing amount is unknown, and the
    caller decides how to count it.
    """
    s = df[column]
    is_bool_value: np.ndarray[Any, np.dtype[np.bool_]] | None = None
    if pd.api.types.is_bool_dtype(s.dtype):
        is_bool_value = s.notna().to_numpy()
    elif s.dtype == object:
        is_bool_value = s.map(type).isin([bool, np.bool_]).to_numpy()
    if is_bool_value is not None and is_bool_value.any():
        raise _invalid(
            df,
            is_bool_value,
            table=table,
            column=column,
            reason="boolean",
            what=f"that are booleans, not amounts ({keyword}=)",
            fix=(
                f"Pass the column that holds the money, or convert explicitly, "
                f"e.g. {table}[{column!r}].astype(float) if True means 1."
            ),
        )
    if not pd.api.types.is_numeric_dtype(s.dtype):
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
    arr = s.to_numpy(dtype=np.float64, na_value=np.nan)
    out: pd.Series = pd.Series(arr, index=s.index, name=s.name)
    infinite = np.isinf(arr)
    if infinite.any():
        raise _invalid(
            df,
            infinite,
            table=table,
            column=column,
            reason="not_finite",
            what=f"that are infinite ({keyword}=)",
            fix=(
                f"Amounts must be finite; replace them with NaN if unknown, e.g. "
                f"{table}[{column!r}].replace([np.inf, -np.inf], np.nan)."
            ),
        )
    if not allow_negative:
        neg = arr < 0
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
# value labels (status won/lost, response positive)
# ----------------------------------------------------------------------------
#: First words that negate a label: 'not positive' is no near miss of 'positive'.
_NEGATIONS = ("not", "no", "non", "never", "un")


def _label_text(value: Any) -> str | None:
    """A role value as compared for near misses: stripped, lower case (None: not text)."""
    return value.strip().lower() if isinstance(value, str) else None


def check_value_labels(
    s: pd.Series,
    expected: Mapping[str, Any],
    *,
    table: str,
    column: str,
    keyword: str | None = None,
    func: str = "",
    warn_absent: Sequence[str] | None = None,
    counts: pd.Series | None = None,
) -> None:
    """Check that a column holds the values its roles expect; refuse near misses.

    ``expected`` maps each role (the keyword a user passes, e.g. ``"won"``,
    ``"lost"`` or ``"positive"``) to its value, or to a list of values, as
    the user gave them.  Values are compared exactly (``Series.isin``).  For
    each role none of whose values occurs in ``s``:

    * **near miss** -> :class:`InvalidDataError` (``reason="value_label"``):
      a string value that equals the role value after ``.strip().lower()``
      (``'Won'``, ``' won '``), or that starts or ends with it as a whole word
      (``'Closed Won'``, ``'positive reply'``, ``'won_deal'``; not ``'not
      won'``).  The message gives the exact fix for *all* roles at once, e.g.
      ``won='Closed Won', lost='Closed Lost'`` (a list when several values
      match one role: ``positive=['Positive', 'Positive reply']``); a role
      that matched exactly keeps its value in the fix;
    * **booleans or 0/1** -> :class:`InvalidDataError` (``reason="boolean"``):
      the column holds only True/False (or only the numbers 0 and 1) while
      the role values are not of that kind; the fix gives the first role
      ``True`` (``1``) and the others ``False`` (``0``), e.g.
      ``won=True, lost=False`` or ``positive=True``;
    * **absent** -> :class:`FunnelkitWarning` naming the values found (the
      most frequent first): nothing matches that role, which is legitimate
      (no deal lost yet) but usually a mistake.

    Nothing is checked on an empty column, nor for a role whose value is None
    or a callable; an all-null column gets the warning.  The work is on the distinct values, not on
    the rows.  ``keyword`` names the column's own keyword (``status=``) in
    the messages.  ``warn_absent`` limits the absent-value warning to the roles
    a function's numbers depend on (default: every role); near misses and
    booleans are refused for every role.  ``counts``: the column's distinct
    non-null values with their row counts, most frequent first, when the
    caller has them already (else they are counted here).

    Examples
    --------
    >>> import pandas as pd
    >>> status = pd.Series(["Closed Won", "Closed Lost", "Open"])
    >>> try:
    ...     check_value_labels(status, {"won": "won", "lost": "lost"}, table="deals",
    ...                        column="status", keyword="status", func="win_rate")
    ... except InvalidDataError as err:
    ...     print(err.reason, "|", str(err).split("; ")[-1])
    value_label | values are compared exactly. Pass won='Closed Won', lost='Closed Lost'.
    >>> check_value_labels(status, {"won": "Closed Won", "lost": "Closed Lost"},
    ...                    table="deals", column="status")
    """
    wanted: dict[str, list[Any]] = {}
    for role, value in expected.items():
        if value is None or callable(value):
            continue
        many = isinstance(value, list | tuple | set | frozenset)
        wanted[role] = list(value) if many else [value]
    if not wanted or s.empty:
        return
    if counts is None:
        counts = s.dropna().value_counts(sort=True)
    n_values = int(counts.sum())
    where = f"{table}[{column!r}]" + (f" ({keyword}=)" if keyword else "")
    prefix = f"{func}: " if func else ""
    if n_values == 0:
        roles = ", ".join(f"{role}={expected[role]!r}" for role in wanted)
        msg = f"{prefix}{where} holds only nulls in {len(s):,} rows, so nothing matches {roles}."
        warnings.warn(msg, FunnelkitWarning, stacklevel=3)
        return
    counts = counts[counts > 0]  # a categorical lists its unused categories too
    distinct = pd.Index(counts.index)
    present = {role: bool(distinct.isin(vals).any()) for role, vals in wanted.items()}
    missing = [role for role, ok in present.items() if not ok]
    if not missing:
        return

    def fix_for(choice: Mapping[str, Any]) -> str:
        return ", ".join(f"{role}={value!r}" for role, value in choice.items())

    # booleans / 0-1 while the roles expect labels
    as_obj = pd.Series(distinct, dtype=object)
    all_bool = pd.api.types.is_bool_dtype(s.dtype) or (
        pd.api.types.infer_dtype(as_obj, skipna=True) == "boolean"
    )
    all_01 = (
        not all_bool
        and pd.api.types.is_numeric_dtype(s.dtype)
        and bool(distinct.isin([0, 1]).all())
    )
    role_is_label = all(
        not isinstance(v, bool | int | float | np.number) for vals in wanted.values() for v in vals
    )
    if (all_bool or all_01) and role_is_label:
        yes, no = (True, False) if all_bool else (1, 0)
        flags = {role: (yes if i == 0 else no) for i, role in enumerate(wanted)}
        what = "booleans (True/False)" if all_bool else "only the numbers 0 and 1"
        msg = (
            f"{prefix}{where} holds {what}, not the values "
            f"{fix_for({r: expected[r] for r in wanted})}. Pass {fix_for(flags)}."
        )
        raise InvalidDataError(msg, column=str(column), reason="boolean", n_rows=n_values)

    # near misses: same text after strip/lower, or the value as a leading/trailing word
    # (.str gives NaN for values that are not strings)
    lowered = as_obj.str.strip().str.lower()
    is_text = lowered.notna().to_numpy()
    norm = pd.Series(lowered[is_text].astype(str).to_numpy(), index=distinct[is_text])
    first_word = norm.str.extract(r"^([a-z]+)", expand=False).fillna("")
    negated = first_word.isin(_NEGATIONS).to_numpy()
    near: dict[str, list[Any]] = {}
    for role in missing:  # a few roles, vectorized over the distinct values
        hit = np.zeros(len(norm), dtype=bool)
        targets = [t for t in (_label_text(value) for value in wanted[role]) if t]
        for v in targets:
            word = re.escape(v)
            hit |= (norm == v).to_numpy()
            hit |= norm.str.contains(rf"^{word}[\W_]|[\W_]{word}$", regex=True).to_numpy()
        hit &= ~negated | norm.isin(targets).to_numpy()
        if hit.any():
            near[role] = [plain(x) for x in norm.index[hit]]
    if near:
        choice: dict[str, Any] = {}
        for role in wanted:
            if role in near:
                choice[role] = near[role][0] if len(near[role]) == 1 else near[role]
            else:
                choice[role] = expected[role]
        n_rows = int(counts[distinct.isin([v for vs in near.values() for v in vs])].sum())
        found = ", ".join(f"{v!r}" for vs in near.values() for v in vs)
        msg = (
            f"{prefix}{where} has no {fix_for({r: expected[r] for r in near})} but "
            f"{found} in {n_rows:,} of {len(s):,} rows; values are compared exactly. "
            f"Pass {fix_for(choice)}."
        )
        raise InvalidDataError(msg, column=str(column), reason="value_label", n_rows=n_rows)

    shown = [plain(v) for v in distinct[:10]]
    more = f" and {len(distinct) - 10:,} more" if len(distinct) > 10 else ""
    for role in missing:
        if warn_absent is not None and role not in warn_absent:
            continue
        msg = (
            f"{prefix}{where} has no {role}={expected[role]!r} value in {len(s):,} rows; "
            f"the values found are {shown!r}{more}. If one of them means {role}, pass "
            f"{role}=<that value>."
        )
        warnings.warn(msg, FunnelkitWarning, stacklevel=3)


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
    naive data is refused, as is anything that is not a date, a date outside
    pandas' nanosecond range, and a naive wall time that does not exist in
    ``tz`` (skipped at a DST change) or occurs twice there (repeated when the
    clocks go back): the message gives the unambiguous spellings.
    """
    expected = "a date (a Timestamp or an ISO 8601 string)"
    if isinstance(value, bool | int | float | np.number):
        raise param_error(func, name, expected, value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise param_error(func, name, expected, value) from None
    if pd.isna(ts):
        raise param_error(func, name, expected, value)
    naive_ts = ts.tz_localize(None) if ts.tz is not None else ts
    if not (DATE_MIN <= naive_ts <= DATE_MAX):
        raise param_error(func, name, f"a date from {_range_text()}", value)
    if tz is not None:
        if ts.tz is not None:
            converted: pd.Timestamp = ts.as_unit("ns").tz_convert(tz)
            return converted
        return _localize(ts.as_unit("ns"), tz, value=value, name=name, func=func)
    if ts.tz is not None:
        msg = (
            f"The {name!r} parameter of {func} must be a time-zone naive date like the "
            f"data; it is time-zone-aware. Got {value!r} instead."
        )
        raise InvalidParameterError(msg)
    naive: pd.Timestamp = ts.as_unit("ns")
    return naive


def _localize(ts: pd.Timestamp, tz: Any, *, value: Any, name: str, func: str) -> pd.Timestamp:
    """A naive date read in ``tz``; a nonexistent or ambiguous wall time is refused."""
    out = ts.tz_localize(tz, nonexistent="NaT", ambiguous="NaT")
    if not pd.isna(out):
        result: pd.Timestamp = out
        return result
    first = ts.tz_localize(tz, nonexistent="NaT", ambiguous=True)
    if pd.isna(first):  # nonexistent: the clocks skip it
        later = ts.tz_localize(tz, nonexistent="shift_forward")
        msg = (
            f"The {name!r} parameter of {func} is {value!r}, a wall time that does not exist "
            f"in {tz} (the clocks skip it at the DST change). Pass a time that exists, e.g. "
            f"{later.tz_localize(None).isoformat()!r}, or an aware date such as "
            f"{later.isoformat()!r}."
        )
        raise InvalidParameterError(msg)
    second = ts.tz_localize(tz, ambiguous=False)
    msg = (
        f"The {name!r} parameter of {func} is {value!r}, a wall time that occurs twice in "
        f"{tz} (the clocks go back at the DST change). Pass it with its UTC offset: "
        f"{first.isoformat()!r} (the first) or {second.isoformat()!r} (the second)."
    )
    raise InvalidParameterError(msg)


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
