"""One formatter for result tables: the terminal, the HTML report and its CSV files.

Metric functions always return raw numbers; this module only renders them.

* Durations: **one unit per column**, days for sales tables
  (``durations="d"``), chosen from the column's typical value for event
  tables (``durations="auto"``: days, hours or minutes).
* Money and counts without stray decimals: a float column whose values are
  all whole numbers shows none; a money column (``value``, ``revenue``,
  ``cost``, ...) shows whole units once its typical value is 10 or more;
  every cell of a column has the same number of decimals.
* Rates (``conversion``, ``win_rate``, ``*_low``, ...) as percentages.
* Dates without a time when every value of the column is a midnight, else
  to the minute (never seconds).
* CSV files (:func:`csv_frame`): durations as numbers of days in a column
  named ``<name>_days``, dates in ISO 8601, and text cells that a
  spreadsheet would run as a formula (starting with ``= + - @``, tab or
  carriage return) prefixed with ``'``.

Wide tables are laid out in column blocks (:func:`column_blocks`) that repeat
the leading label columns, so that nothing scrolls sideways: the terminal
demo fits 100 characters and the report's tables fit an A4 page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

#: How durations are shown: days, hours or minutes, or chosen from the data.
DurationUnit = Literal["auto", "d", "h", "min"]

#: Column names (or name endings) whose float values are shares in [0, 1].
RATE_WORDS = (
    "conversion",
    "overall",
    "rate",
    "share",
    "_low",
    "_high",
    "cumulative",
    "probability",
    "lift_share",
    "win_rate",
    "lead_to_won",
    "p_hit_target",
)

#: Words of a column name that mark money (amounts, values, costs, per-lead money).
MONEY_WORDS = (
    "value",
    "revenue",
    "amount",
    "cost",
    "target",
    "avg_deal",
    "avg_won_deal",
    "velocity",
    "expected",
    "total",
    "mean",
    "median",
    "p10",
    "p25",
    "p75",
    "p90",
)

#: Unit written after the cells of a column, by column name.
UNITS = {"velocity": " / day"}

#: Ratio columns (not shares): two decimals and a times sign.
RATIO_NAMES = ("coverage", "required_coverage", "lift", "odds_ratio", "over_ratio")

_DAY_NS = 86_400 * 10**9
_UNIT_NS = {"d": _DAY_NS, "h": 3_600 * 10**9, "min": 60 * 10**9}
_UNIT_TEXT = {"d": "d", "h": "h", "min": "min"}
MISSING = "–"
ELLIPSIS = "…"


def is_rate_column(name: Any) -> bool:
    """True when a column name says its values are shares in [0, 1].

    Examples
    --------
    >>> is_rate_column("conversion_low"), is_rate_column("lift"), is_rate_column("deals")
    (True, False, False)
    """
    text = str(name)
    if text.startswith(("odds_ratio", "lift")) and not text.startswith("lift_share"):
        return False  # ratios, not shares (triggers)
    return any(text == w or text.endswith(w) or text.startswith(w) for w in RATE_WORDS)


def is_money_column(name: Any) -> bool:
    """True when a column name says its values are money.

    Examples
    --------
    >>> is_money_column("open_value"), is_money_column("cost_per_lead"), is_money_column("roi")
    (True, True, False)
    """
    text = str(name).lower()
    if is_rate_column(text):
        return False
    words = text.split("_")
    return any(w in text if "_" in w else w in words for w in MONEY_WORDS)


def _is_ratio_column(name: Any) -> bool:
    text = str(name)
    return text in RATIO_NAMES or text.startswith(("lift", "odds_ratio"))


def _finite(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any] = values[np.isfinite(values)]
    return out


def _typical(values: np.ndarray[Any, Any]) -> float:
    """The median size of the non-zero finite values (0 when there are none)."""
    v = np.abs(_finite(values))
    v = v[v > 0]
    return float(np.median(v)) if len(v) else 0.0


def duration_unit(values: pd.Series | Sequence[Any]) -> Literal["d", "h", "min"]:
    """The unit that reads a duration column best: its typical value is at least 1.

    Examples
    --------
    >>> import pandas as pd
    >>> duration_unit(pd.to_timedelta(["30min", "3h", "5h"]))
    'h'
    >>> duration_unit(pd.to_timedelta(["20h", "2D", "9D"]))
    'd'
    """
    ns = pd.to_timedelta(pd.Series(values)).to_numpy(dtype="m8[ns]").astype(np.int64)
    ns = ns[ns != np.iinfo(np.int64).min].astype(np.float64)
    typical = _typical(ns)
    if typical >= _UNIT_NS["d"]:
        return "d"
    if typical >= _UNIT_NS["h"]:
        return "h"
    return "min" if typical > 0 else "d"


def _decimals(name: Any, values: np.ndarray[Any, Any]) -> int:
    """Decimals for every cell of a float column."""
    finite = _finite(values)
    if len(finite) and bool(np.all(finite == np.round(finite))):
        return 0  # whole numbers: counts, whole money
    typical = _typical(values)
    if is_money_column(name):
        return 0 if typical >= 10 else 2
    if _is_ratio_column(name):
        return 2
    if typical >= 1000:
        return 0
    if typical >= 10 or typical == 0:
        return 1
    return 2 if typical >= 0.01 else 4


def _is_midnight(s: pd.Series) -> bool:
    v = s.dropna()
    if v.empty:
        return True
    return bool((v == v.dt.normalize()).all())


def column_formatters(
    df: pd.DataFrame, *, durations: DurationUnit = "d"
) -> dict[Any, Callable[[Any], str]]:
    """One formatter per column, the same for every cell of the column.

    Text columns have none (they are shown as they are).

    Parameters
    ----------
    df : pandas.DataFrame
        A result table.
    durations : {"auto", "d", "h", "min"}, default="d"
        Unit of every duration column: ``"d"`` for sales tables, or
        ``"auto"`` to choose one per column from its typical value.

    Returns
    -------
    dict
        Column name -> function from a cell's value to its text.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"median": pd.to_timedelta(["1D", "20h"]),
    ...                    "cost_per_lead": [91.26, 142.4], "rate": [0.25, 1.0]})
    >>> fmt = column_formatters(df, durations="d")
    >>> [fmt["median"](v) for v in df["median"]]
    ['1.0 d', '0.8 d']
    >>> [fmt["cost_per_lead"](v) for v in df["cost_per_lead"]]
    ['91', '142']
    >>> [fmt["rate"](v) for v in df["rate"]]
    ['25.0%', '100.0%']
    """
    out: dict[Any, Callable[[Any], str]] = {}
    for name, dtype in df.dtypes.items():
        s = df[name]
        if isinstance(s, pd.DataFrame):  # duplicate column names: each is formatted alike
            s = s.iloc[:, 0]
        if pd.api.types.is_timedelta64_dtype(dtype):
            out[name] = _duration_formatter(s, durations)
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            out[name] = _date_formatter(_is_midnight(s))
        elif pd.api.types.is_bool_dtype(dtype):
            out[name] = _fmt_bool
        elif pd.api.types.is_integer_dtype(dtype):
            out[name] = _fmt_int
        elif pd.api.types.is_float_dtype(dtype):
            out[name] = _float_formatter(name, s)
    return out


def _duration_formatter(s: pd.Series, durations: DurationUnit) -> Callable[[Any], str]:
    unit = duration_unit(s) if durations == "auto" else durations
    if unit not in _UNIT_NS:
        msg = (
            f"The 'durations' parameter must be one of 'auto', 'd', 'h', 'min'. "
            f"Got {durations!r} instead."
        )
        raise ValueError(msg)
    size = _UNIT_NS[unit]
    text = _UNIT_TEXT[unit]

    def fmt(v: Any) -> str:
        if _isna(v):
            return MISSING
        return f"{pd.Timedelta(v).value / size:,.1f} {text}"

    return fmt


def _date_formatter(dates_only: bool) -> Callable[[Any], str]:
    pattern = "%Y-%m-%d" if dates_only else "%Y-%m-%d %H:%M"

    def fmt(v: Any) -> str:
        if _isna(v):
            return MISSING
        return str(pd.Timestamp(v).strftime(pattern))

    return fmt


def _fmt_bool(v: Any) -> str:
    if v is True or v is np.True_:
        return "yes"
    if v is False or v is np.False_:
        return "no"
    return MISSING


def _fmt_int(v: Any) -> str:
    return MISSING if _isna(v) else f"{int(v):,}"


def _fmt_p(v: Any) -> str:
    if _isna(v):
        return MISSING
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def _float_formatter(name: Any, s: pd.Series) -> Callable[[Any], str]:
    if str(name).startswith(("p_value", "p_adjusted")):  # p-values: small ones stay readable
        return _fmt_p
    if is_rate_column(name):
        return lambda v: MISSING if _isna(v) else _inf(v) or f"{v:.1%}"
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    places = _decimals(name, values)
    unit = UNITS.get(str(name), "×" if _is_ratio_column(name) else "")

    def fmt(v: Any) -> str:
        if _isna(v):
            return MISSING
        return _inf(v) or f"{v:,.{places}f}{unit}"

    return fmt


def _inf(v: float) -> str:
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    return ""


def _isna(v: Any) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # a list or array in a cell
        return False


def text_cell(v: Any) -> str:
    """A text cell as shown: missing values as a dash, lists as ``a | b``."""
    if isinstance(v, list | tuple):
        return " | ".join(str(x) for x in v)
    return MISSING if _isna(v) else str(v)


def format_cells(
    df: pd.DataFrame, *, durations: DurationUnit = "d"
) -> list[tuple[list[str], bool]]:
    """Every column's cells as text, and whether the column is numeric (right-aligned)."""
    formatters = column_formatters(df, durations=durations)
    out = []
    for j, name in enumerate(df.columns):
        fmt = formatters.get(name)
        values = df.iloc[:, j].tolist()
        if fmt is None:
            out.append(([text_cell(v) for v in values], False))
        else:
            dtype = df.dtypes.iloc[j]
            numeric = not (
                pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
            )
            out.append(([fmt(v) for v in values], numeric))
    return out


def key_columns(df: pd.DataFrame, *, limit: int = 3) -> int:
    """How many leading label columns identify a row (repeated in every column block).

    The leading columns that are not numbers (text, categories, dates), at
    most ``limit`` of them; a leading ``rank`` column counts too.

    Examples
    --------
    >>> import pandas as pd
    >>> key_columns(pd.DataFrame({"channel": ["a"], "outcome": ["won"], "deals": [3]}))
    2
    """
    n = 0
    for j, name in enumerate(df.columns):
        dtype = df.dtypes.iloc[j]
        label = not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
        ) or (j == 0 and str(name) == "rank")
        if not label or n >= limit:
            break
        n += 1
    return n


def repeated_keys(df: pd.DataFrame, keys: int) -> list[int]:
    """The key columns worth repeating in every block: those that differ between rows.

    A key that holds one value in every row (the step of a triggers table)
    is shown in the first block only; when every key is constant, the last
    one is repeated.

    Examples
    --------
    >>> import pandas as pd
    >>> repeated_keys(pd.DataFrame({"step": ["a", "a"], "behaviour": ["x", "y"]}), 2)
    [1]
    """
    if len(df) <= 1:
        return list(range(keys))
    varying = []
    for j in range(keys):
        text = df.iloc[:, j].astype(str).to_numpy()
        if bool((text != text[0]).any()):
            varying.append(j)
    return varying or ([keys - 1] if keys else [])


def column_blocks(
    widths: Sequence[int],
    *,
    keys: int,
    width: int,
    max_columns: int | None = None,
    gap: int = 2,
    repeat: Sequence[int] | None = None,
) -> list[list[int]]:
    """Split columns into blocks that fit ``width``; every block starts with the keys.

    Parameters
    ----------
    widths : sequence of int
        The width of each column (header or widest cell), in characters.
    keys : int
        How many leading columns every block repeats.
    width : int
        The room of a block, in characters (columns are ``gap`` apart).
    max_columns : int, optional
        At most this many columns per block, keys included.
    gap : int, default=2
        Characters between two columns.
    repeat : sequence of int, optional
        The keys that later blocks repeat (default: every key).

    Returns
    -------
    list of list of int
        The column positions of each block, keys first. A column wider than
        the room left beside the keys gets a block of its own.

    Examples
    --------
    >>> column_blocks([5, 10, 10, 10], keys=1, width=30)
    [[0, 1, 2], [0, 3]]
    >>> column_blocks([5, 10, 10, 10], keys=1, width=80)
    [[0, 1, 2, 3]]
    """
    n = len(widths)
    keys = min(keys, n)
    key_cols = list(range(keys)) if repeat is None else [j for j in repeat if j < keys]
    if len(key_cols) > 1 and sum(widths[j] for j in key_cols) + gap * len(key_cols) > width // 2:
        key_cols = key_cols[:1]  # wide labels: repeat only the first
    start = sum(widths[j] for j in key_cols) + gap * max(len(key_cols) - 1, 0)
    cap = max_columns if max_columns is not None else n
    blocks: list[list[int]] = []
    current = list(range(keys))
    used = sum(widths[:keys]) + gap * max(keys - 1, 0)
    for j in range(keys, n):
        extra = widths[j] + (gap if current else 0)
        if len(current) > len(key_cols) and (used + extra > width or len(current) >= cap):
            blocks.append(current)
            current = list(key_cols)
            used = start
            extra = widths[j] + (gap if current else 0)
        current.append(j)
        used += extra
    if current or not blocks:
        blocks.append(current)
    return blocks


def truncate(text: str, limit: int | None) -> str:
    """Cut a text to ``limit`` characters, ending with an ellipsis when cut.

    Examples
    --------
    >>> truncate("negotiation and close", 10)
    'negotiati…'
    """
    if limit is None or len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def format_frame(
    df: pd.DataFrame,
    *,
    max_rows: int | None = 30,
    width: int | None = None,
    durations: DurationUnit = "d",
    max_text: int | None = None,
    rename: Mapping[str, str] | None = None,
    max_blocks: int | None = None,
) -> str:
    """Render a result table as aligned text for the terminal.

    Parameters
    ----------
    df : pandas.DataFrame
        A result table.
    max_rows : int or None, default=30
        Show at most this many rows (the first).
    width : int, optional
        Lay a wide table out in blocks of columns, each at most ``width``
        characters wide and each repeating the leading label columns.
    durations : {"auto", "d", "h", "min"}, default="d"
        Unit of the duration columns (see :func:`column_formatters`).
    max_text : int, optional
        Cut text cells longer than this, with an ellipsis.
    rename : mapping, optional
        Headers to show instead of column names.
    max_blocks : int, optional
        Show at most this many blocks of columns; a last line names how many
        columns are left out.

    Returns
    -------
    str
        The table; blocks of columns are separated by a blank line.

    Examples
    --------
    >>> import pandas as pd
    >>> print(format_frame(pd.DataFrame({"step": ["a", "b"], "entities": [1200, 300],
    ...                                  "conversion": [1.0, 0.25]})))
    step  entities  conversion
    a        1,200      100.0%
    b          300       25.0%
    >>> wide = pd.DataFrame({"step": ["a", "b"], "won": [1, 2], "lost": [3, 4]})
    >>> print(format_frame(wide, width=9))
    step  won
    a       1
    b       2
    <BLANKLINE>
    step  lost
    a        3
    b        4
    """
    if max_rows is not None and len(df) > max_rows:
        df = df.head(max_rows)
    names = [str((rename or {}).get(str(c), c)) for c in df.columns]
    columns: list[list[str]] = []
    widths: list[int] = []
    for header, (cells, numeric) in zip(names, format_cells(df, durations=durations), strict=True):
        if not numeric:
            cells = [truncate(c, max_text) for c in cells]
        w = max([len(header)] + [len(c) for c in cells])
        if numeric:
            columns.append([header.rjust(w)] + [c.rjust(w) for c in cells])
        else:  # text: left-aligned
            columns.append([header.ljust(w)] + [c.ljust(w) for c in cells])
        widths.append(w)
    if not columns:
        return ""
    if width is None:
        blocks = [list(range(len(columns)))]
    elif len(df) == 1 and sum(widths) + 2 * (len(widths) - 1) > width:
        # one wide row (a summary): one line per column, name then value
        w = max(len(h) for h in names)
        lines = [f"{h.ljust(w)}  {col[1].strip()}" for h, col in zip(names, columns, strict=True)]
        return "\n".join(line.rstrip() for line in lines)
    else:
        keys = key_columns(df)
        blocks = column_blocks(widths, keys=keys, width=width, repeat=repeated_keys(df, keys))
    hidden = 0
    if max_blocks is not None and len(blocks) > max_blocks:
        shown = {j for block in blocks[:max_blocks] for j in block}
        hidden = len(columns) - len(shown)
        blocks = blocks[:max_blocks]
    texts = []
    for block in blocks:
        rows = zip(*(columns[j] for j in block), strict=True)
        texts.append("\n".join("  ".join(row).rstrip() for row in rows))
    text = "\n\n".join(texts)
    if hidden:
        text += f"\n... {hidden} more column{'s' if hidden > 1 else ''}"
    return text


def neutralise(value: Any) -> Any:
    """A text cell that a spreadsheet cannot run as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    gets a leading ``'``; anything else (numbers included) is returned as is.

    Examples
    --------
    >>> neutralise("=HYPERLINK(1)"), neutralise("-5"), neutralise(-5), neutralise("web")
    ("'=HYPERLINK(1)", "'-5", -5, 'web')
    """
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The table as it goes into a CSV file for a spreadsheet.

    Durations become numbers of days in a column named ``<name>_days``;
    dates become ISO 8601 text (``2025-06-30``, or ``2025-06-30T14:05:00``
    when a value has a time; time zones keep their offset); text cells (and
    headers) that would run as a formula are neutralised
    (:func:`neutralise`). Numbers are kept as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"stage": ["=1+1", "demo"], "median": pd.to_timedelta(["36h", "2D"]),
    ...                    "as_of": pd.to_datetime(["2025-06-30", "2025-06-30"])})
    >>> csv_frame(df).to_dict("list")
    {'stage': ["'=1+1", 'demo'], 'median_days': [1.5, 2.0], 'as_of': ['2025-06-30', '2025-06-30']}
    """
    data: dict[str, Any] = {}
    for j, name in enumerate(df.columns):
        s = df.iloc[:, j]
        header = str(name)
        if pd.api.types.is_timedelta64_dtype(s.dtype):
            ns = s.to_numpy(dtype="m8[ns]").astype(np.int64)
            days = np.where(ns == np.iinfo(np.int64).min, np.nan, ns / _DAY_NS)
            values: Any = pd.Series(days, index=s.index, dtype=np.float64)
            if not header.endswith("_days"):
                header = f"{header}_days"
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            values = _iso(s)
        elif pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            values = s
        else:
            values = pd.Series(
                [v if _isna(v) else neutralise(text_cell(v)) for v in s.tolist()],
                index=s.index,
                dtype=object,
            )
        header = str(neutralise(header))
        while header in data:  # two columns of one name (a renamed duration): keep both
            header += "_"
        data[header] = values
    return cast(pd.DataFrame, pd.DataFrame(data, index=df.index))


def _iso(s: pd.Series) -> pd.Series:
    dates_only = _is_midnight(s)
    aware = getattr(s.dtype, "tz", None) is not None

    def one(v: Any) -> Any:
        if _isna(v):
            return None
        ts = pd.Timestamp(v)
        if dates_only:
            return ts.strftime("%Y-%m-%d")
        text = ts.strftime("%Y-%m-%dT%H:%M:%S")
        if aware:
            offset = ts.strftime("%z")
            text += offset[:3] + ":" + offset[3:] if offset else ""
        return text

    return cast(pd.Series, pd.Series([one(v) for v in s.tolist()], index=s.index, dtype=object))


def to_csv_text(df: pd.DataFrame) -> str:
    """The CSV text of :func:`csv_frame`: no index, RFC 4180 line ends.

    With CR LF as the line end, a cell holding a carriage return or a line
    break is quoted, so a spreadsheet keeps it in its cell.
    """
    return csv_frame(df).to_csv(index=False, lineterminator="\r\n")
