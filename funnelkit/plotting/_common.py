"""Helpers shared by every plot: the Axes, the palette, number formats."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from funnelkit._validate import require_columns
from funnelkit.errors import InvalidParameterError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008), black last.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)


def get_ax(ax: Axes | None) -> Axes:
    """Return ``ax``, or the current Axes (``plt.gca()``) when None."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()


def color(i: int) -> str:
    """The i-th palette colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def check_result(result: Any, columns: list[str], *, func: str, source: str) -> pd.DataFrame:
    """Check that ``result`` is the result table of ``source`` (has its columns)."""
    if not isinstance(result, pd.DataFrame):
        msg = (
            f"The 'result' parameter of {func} must be the DataFrame returned by "
            f"funnelkit.{source}. Got {type(result).__name__} instead."
        )
        raise InvalidParameterError(msg)
    for column in columns:
        require_columns(result, {"result": column}, table=f"the {source} result")
    return result


def fmt_count(v: float) -> str:
    """``12345`` -> ``'12,345'``."""
    return f"{v:,.0f}"


def fmt_pct(v: float, digits: int = 1) -> str:
    """``0.1234`` -> ``'12.3%'``."""
    return "–" if pd.isna(v) else f"{v:.{digits}%}"


def fmt_money(v: float) -> str:
    """Compact money: ``1234567`` -> ``'1.23M'``, ``45600`` -> ``'45.6k'``."""
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.2f}B"
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:,.0f}"
