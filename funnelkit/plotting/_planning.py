"""Picture of a revenue-target plan: the reverse funnel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from funnelkit._validate import check_option
from funnelkit.plotting._common import (
    check_result,
    color,
    fit_rows,
    fmt_count,
    fmt_pct,
    get_ax,
    label,
    legend_below,
    money_axis,
    plain_log_axis,
    set_title,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_plan(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    scale: Literal["linear", "log"] = "linear",
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Draw a revenue-target plan: deals needed per stage, expected value vs confidence.

    One row of bars per stage, the top of the funnel at the top: the
    expected-value plan (``needed``) and, when present, the counts that
    reach the target with the chosen confidence (``needed_for_confidence``)
    side by side, each labelled with its count.  The legend says how often
    the expected-value plan reaches the target.

    Parameters
    ----------
    result : pandas.DataFrame
        The table returned by :func:`funnelkit.deals_needed` or
        :func:`funnelkit.plan`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default the current Axes (``plt.gca()``).
    scale : {"linear", "log"}, default="linear"
        Scale of the count axis; ``"log"`` keeps the bottom of a long funnel
        visible.
    annotate : bool, default=True
        Label each bar with its count.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.barh` (both sets of bars).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    InvalidParameterError
        ``result`` is not a DataFrame, or ``scale`` is not an option.
    ColumnNotFoundError
        ``result`` lacks ``stage``, ``needed`` or ``p_hit_target``.

    See Also
    --------
    deals_needed : Compute the plan from given rates.
    plan : Compute the plan from a deal table.

    Examples
    --------
    >>> import funnelkit as fk
    >>> res = fk.deals_needed(1_000_000, avg_deal=50_000, win_rate=0.25,
    ...                       stage_rates={"lead": 0.3, "qualified": 0.5}, confidence=0.9)
    >>> ax = fk.plot_plan(res)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['lead', 'qualified', 'opportunity', 'won']
    """
    func = "plot_plan"
    result = check_result(
        result, ["stage", "needed", "p_hit_target"], func=func, source="deals_needed"
    )
    check_option(scale, ("linear", "log"), name="scale", func=func)
    n = len(result)
    ax = get_ax(ax, rows=n)
    y = np.arange(n, dtype=np.float64)
    needed = result["needed"].to_numpy(dtype=np.float64)
    both = "needed_for_confidence" in result.columns
    height = 0.4 if both else 0.6
    offset = height / 2 if both else 0.0
    p = float(result["p_hit_target"].iloc[0]) if n else float("nan")
    bars = [
        ax.barh(
            y - offset,
            np.nan_to_num(needed),
            height=height,
            color=color(0),
            label=f"expected-value plan (reaches the target {fmt_pct(p, 0)} of the time)",
            **kwargs,
        )
    ]
    if both:
        bars.append(
            ax.barh(
                y + offset,
                np.nan_to_num(result["needed_for_confidence"].to_numpy(dtype=np.float64)),
                height=height,
                color=color(1),
                label="needed for the chosen confidence",
                **kwargs,
            )
        )
    notes: list[Any] = []
    if annotate:
        for container in bars:
            notes += ax.bar_label(
                container, labels=[fmt_count(b.get_width()) for b in container], padding=3,
                fontsize="small",
            )  # fmt: skip
    ax.set_yticks(y, [label(s) for s in result["stage"]])
    ax.set_ylim(n - 0.5, -0.5)  # top of the funnel at the top
    ax.set_xscale(scale)
    if scale == "log":
        plain_log_axis(ax.xaxis)
    else:
        money_axis(ax.xaxis)  # compact: 1.2k, 3.4M
    ax.margins(x=0.15)
    ax.set_xlabel("deals")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    set_title(ax, "Deals needed at each stage for the target")
    legend_below(ax, ncols=1)
    fit_rows(ax, notes, per_row=2 if both else 1, compact=True)
    return ax
