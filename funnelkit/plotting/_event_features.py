"""Pictures of the event-funnel features: conversion over time, paths, time histograms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelkit.errors import InvalidParameterError
from funnelkit.plotting._common import check_result, color, get_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_conversion_over_time"]


def _empty(ax: Axes, text: str = "no entities") -> Axes:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_conversion_over_time(
    result: pd.DataFrame,
    *,
    step: str | None = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Draw the conversion of each entry period to one step, immature periods hollow.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.conversion_over_time`.
    step : str, optional
        The step whose ``overall`` conversion (share of the period's step-1
        entities that reached it) is drawn; default the last step.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default the current Axes (``plt.gca()``).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` (the line of each group).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: one line per group (``by``) over the periods,
        filled markers for mature periods and hollow ones for the periods
        whose window had not elapsed (their conversion is still rising).

    Raises
    ------
    InvalidParameterError
        ``result`` is not a :func:`funnelkit.conversion_over_time` result, or
        ``step`` is not one of its steps.

    See Also
    --------
    funnelkit.conversion_over_time : Computes the table drawn here.

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
    >>> res = fk.conversion_over_time(ev, ["visit", "buy"], window="3D")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_conversion_over_time(res, ax=ax)
    >>> ax.lines[0].get_ydata().tolist()
    [0.5, 1.0, 0.0]
    >>> plt.close(fig)
    """
    func = "plot_conversion_over_time"
    cols = ["period", "step", "entities", "overall", "mature"]
    check_result(result, cols, func=func, source="conversion_over_time")
    ax = get_ax(ax)
    if len(result) == 0:
        return _empty(ax)
    steps = list(dict.fromkeys(result["step"]))
    target = steps[-1] if step is None else step
    if target not in steps:
        msg = f"The 'step' parameter of {func} must be one of {steps!r}. Got {step!r} instead."
        raise InvalidParameterError(msg)
    by = list(result.columns[: list(result.columns).index("period")])
    rows = result[result["step"] == target]
    if by:
        keys = rows[by].astype(object).where(rows[by].notna(), "(missing)").astype(str)
        labels = keys.agg(" / ".join, axis=1).to_numpy()
    else:
        labels = np.full(len(rows), "", dtype=object)
    for g, label in enumerate(dict.fromkeys(labels)):
        part = rows[labels == label]
        x = part["period"]
        y = part["overall"].to_numpy(dtype=float)
        c = color(g)
        (line,) = ax.plot(x, y, color=c, label=label or None, **kwargs)
        mature = part["mature"].to_numpy(dtype=bool)
        ax.scatter(x[mature], y[mature], color=c, zorder=3)
        ax.scatter(x[~mature], y[~mature], facecolors="white", edgecolors=c, zorder=3)
        line.set_gid(label or "all")
    ax.set_ylim(0, 1.05)
    first = steps[0]
    ax.set_ylabel(f"{first} → {target}" if target != first else f"{first}")
    ax.set_xlabel("entry period")
    ax.yaxis.set_major_formatter(_percent())
    if by:
        ax.legend(title=" / ".join(str(b) for b in by))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0)
