"""Human-friendly text rendering of result tables (CLI and report).

Counts get thousands separators, rates become percentages, durations read
as days.  Used by the CLI and the report only; metric functions always
return raw numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

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


def is_rate_column(name: Any) -> bool:
    """True when a column name says its values are shares in [0, 1]."""
    text = str(name)
    if text.startswith(("odds_ratio", "lift")):  # ratios, not shares (triggers)
        return False
    return any(text == w or text.endswith(w) or text.startswith(w) for w in RATE_WORDS)


def _fmt_timedelta(v: Any) -> str:
    if pd.isna(v):
        return "–"
    days = pd.Timedelta(v) / pd.Timedelta(days=1)
    if abs(days) >= 1:
        return f"{days:,.1f} d"
    hours = days * 24
    if abs(hours) >= 1:
        return f"{hours:,.1f} h"
    return f"{hours * 60:,.1f} min"


def column_formatters(df: pd.DataFrame) -> dict[Any, Callable[[Any], str]]:
    """Formatter per column for :meth:`pandas.DataFrame.to_string` / ``to_html``."""
    out: dict[Any, Callable[[Any], str]] = {}
    for name, dtype in df.dtypes.items():
        if pd.api.types.is_timedelta64_dtype(dtype):
            out[name] = _fmt_timedelta
        elif pd.api.types.is_bool_dtype(dtype):
            out[name] = lambda v: (
                "yes"
                if v is True or v is np.True_
                else ("no" if v is False or v is np.False_ else "–")
            )
        elif pd.api.types.is_integer_dtype(dtype):
            out[name] = lambda v: "–" if pd.isna(v) else f"{int(v):,}"
        elif pd.api.types.is_float_dtype(dtype):
            if is_rate_column(name):
                out[name] = lambda v: "–" if pd.isna(v) else f"{v:.1%}"
            else:
                out[name] = lambda v: "–" if pd.isna(v) else _fmt_number(v)
    return out


def _fmt_number(v: float) -> str:
    if not np.isfinite(v):
        return str(v)
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:,.2f}"
    return f"{v:.3g}"


def _isna(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT


def format_frame(df: pd.DataFrame, *, max_rows: int | None = 30) -> str:
    """Render a result table as aligned text for the terminal.

    Examples
    --------
    >>> import pandas as pd
    >>> print(format_frame(pd.DataFrame({"step": ["a", "b"], "entities": [1200, 300],
    ...                                  "conversion": [1.0, 0.25]})))
    step  entities  conversion
    a        1,200      100.0%
    b          300       25.0%
    """
    if max_rows is not None and len(df) > max_rows:
        df = df.head(max_rows)
    formatters = column_formatters(df)
    columns: list[list[str]] = []
    for name in df.columns:
        fmt = formatters.get(name)
        values = df[name].tolist()
        cells = [fmt(v) if fmt else ("–" if _isna(v) else str(v)) for v in values]
        width = max([len(str(name))] + [len(c) for c in cells])
        if fmt is None:  # text: left-aligned
            columns.append([str(name).ljust(width)] + [c.ljust(width) for c in cells])
        else:  # numbers: right-aligned
            columns.append([str(name).rjust(width)] + [c.rjust(width) for c in cells])
    text = "\n".join("  ".join(row) for row in zip(*columns, strict=True)) if columns else ""
    return "\n".join(line.rstrip() for line in text.splitlines())
