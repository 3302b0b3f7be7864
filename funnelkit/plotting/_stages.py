"""Pictures of stage-history results: stage conversion and time in stage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelkit.plotting._common import check_result, color, fmt_count, fmt_pct, get_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_stage_conversion", "plot_time_in_stage"]


def _split_groups(result: pd.DataFrame) -> tuple[list[str], list[pd.DataFrame]]:
    """Group labels and blocks of a result whose ``by`` columns come before ``stage``."""
    by = list(result.columns[: list(result.columns).index("stage")])
    if not by:
        return [""], [result]
    keys = result[by].astype(object).where(result[by].notna(), "(missing)").astype(str)
    label = keys.agg(", ".join, axis=1)
    names = list(pd.unique(label))
    return names, [result[(label == n).to_numpy()] for n in names]


def plot_stage_conversion(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    color: str | None = None,
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Draw a :func:`funnelkit.stage_conversion` result as horizontal bars.

    One bar per stage, first stage on top, its length the number of deals.
    The part of a bar made of deals counted without a recorded entry
    (``skipped``) is drawn hatched and lighter, so a reader sees how much of
    a stage is inferred. Each bar is labelled with the count, the conversion
    from the previous stage and the overall conversion.

    Parameters
    ----------
    result : pandas.DataFrame
        The table returned by :func:`funnelkit.stage_conversion`; with ``by``
        groups, one bar per group within each stage.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on. Default: ``plt.gca()``.
    color : str, optional
        Bar colour (one group). Default: the first colour of the Okabe–Ito
        palette; groups take successive palette colours.
    annotate : bool, default=True
        Write count, conversion and overall beside each bar.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.barh` for the recorded part
        of the bars.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ColumnNotFoundError
        ``result`` lacks a column of a stage_conversion result.
    InvalidParameterError
        ``result`` is not a DataFrame.

    See Also
    --------
    funnelkit.stage_conversion : Computes the table.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> history = pd.DataFrame({
    ...     "deal_id": ["a", "a", "b", "b", "c"],
    ...     "stage": ["lead", "offer", "lead", "demo", "lead"],
    ...     "entered_at": pd.to_datetime(["2025-01-01", "2025-01-04", "2025-01-01",
    ...                                   "2025-01-02", "2025-01-03"]),
    ... })
    >>> res = fk.stage_conversion(history, ["lead", "demo", "offer"])
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_stage_conversion(res, ax=ax)
    >>> [float(p.get_width()) for p in ax.patches]
    [3.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    """
    func = "plot_stage_conversion"
    cols = ["stage", "deals", "conversion", "overall", "skipped"]
    result = check_result(result, cols, func=func, source="stage_conversion")
    ax = get_ax(ax)
    names, blocks = _split_groups(result)
    n_groups = len(blocks)
    stages = list(pd.unique(result["stage"].to_numpy(dtype=object)))
    y = np.arange(len(stages), dtype=np.float64)
    height = 0.8 / n_groups
    for i, block in enumerate(blocks):
        c = color if (color is not None and n_groups == 1) else _palette(i)
        pos = pd.Index(stages).get_indexer(block["stage"].to_numpy(dtype=object))
        yy = y[pos] - 0.4 + height * (i + 0.5)
        deals = block["deals"].to_numpy(dtype=np.float64)
        skipped = block["skipped"].to_numpy(dtype=np.float64)
        recorded = deals - skipped
        label = names[i] if n_groups > 1 else "recorded entry"
        ax.barh(yy, recorded, height=height, color=c, label=label, **kwargs)
        bars = ax.barh(
            yy,
            skipped,
            left=recorded,
            height=height,
            color=c,
            alpha=0.35,
            hatch="//",
            edgecolor=c,
            linewidth=0,
            label="counted, no recorded entry (skipped)" if i == n_groups - 1 else None,
        )
        if annotate:
            texts = [
                _conversion_label(n, sk, cv, ov, first=j == 0)
                for j, (n, sk, cv, ov) in enumerate(
                    zip(deals, skipped, block["conversion"], block["overall"], strict=True)
                )
            ]
            ax.bar_label(bars, labels=texts, padding=4, fontsize="small")
    ax.set_yticks(y, [str(s) for s in stages])
    ax.invert_yaxis()
    ax.set_xlabel("deals")
    ax.xaxis.set_major_formatter(_count_formatter())
    top = float(result["deals"].max()) if len(result) else 1.0
    ax.set_xlim(0, max(top, 1.0) * (1.6 if annotate else 1.05))
    if n_groups > 1 or float(result["skipped"].sum()) > 0:
        ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_time_in_stage(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    color: str | None = None,
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Draw a :func:`funnelkit.time_in_stage` result: median days per stage.

    One horizontal bar per stage (first stage on top) whose length is the
    Kaplan–Meier median time in the stage, in days. A stage whose median is
    not reached (too many stays still open) gets no bar and the label
    "median not reached".

    Parameters
    ----------
    result : pandas.DataFrame
        The table returned by :func:`funnelkit.time_in_stage`; with ``by``
        groups, one bar per group within each stage.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on. Default: ``plt.gca()``.
    color : str, optional
        Bar colour (one group). Default: the first colour of the Okabe–Ito
        palette; groups take successive palette colours.
    annotate : bool, default=True
        Write the median and the number of open stays beside each bar.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.barh`.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ColumnNotFoundError
        ``result`` lacks a column of a time_in_stage result.
    InvalidParameterError
        ``result`` is not a DataFrame.

    See Also
    --------
    funnelkit.time_in_stage : Computes the table.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> history = pd.DataFrame({
    ...     "deal_id": ["a", "a", "b", "b"],
    ...     "stage": ["lead", "demo", "lead", "demo"],
    ...     "entered_at": pd.to_datetime(["2025-01-01", "2025-01-03", "2025-01-01",
    ...                                   "2025-01-05"]),
    ... })
    >>> res = fk.time_in_stage(history, ["lead", "demo"], as_of="2025-01-11")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_time_in_stage(res, ax=ax)
    >>> [float(p.get_width()) for p in ax.patches]
    [2.0, 0.0]
    >>> [t.get_text() for t in ax.texts]
    ['2.0 d (0 open)', 'median not reached (2 open)']
    """
    func = "plot_time_in_stage"
    cols = ["stage", "median", "open", "closed"]
    result = check_result(result, cols, func=func, source="time_in_stage")
    ax = get_ax(ax)
    names, blocks = _split_groups(result)
    n_groups = len(blocks)
    stages = list(pd.unique(result["stage"].to_numpy(dtype=object)))
    y = np.arange(len(stages), dtype=np.float64)
    height = 0.8 / n_groups
    day = pd.Timedelta(days=1)
    for i, block in enumerate(blocks):
        c = color if (color is not None and n_groups == 1) else _palette(i)
        pos = pd.Index(stages).get_indexer(block["stage"].to_numpy(dtype=object))
        yy = y[pos] - 0.4 + height * (i + 0.5)
        median = (pd.to_timedelta(block["median"]) / day).to_numpy(dtype=np.float64)
        width = np.nan_to_num(median, nan=0.0)
        label = names[i] if n_groups > 1 else None
        bars = ax.barh(yy, width, height=height, color=c, label=label, **kwargs)
        if annotate:
            texts = [
                ("median not reached" if np.isnan(m) else f"{m:,.1f} d") + f" ({fmt_count(o)} open)"
                for m, o in zip(median, block["open"], strict=True)
            ]
            ax.bar_label(bars, labels=texts, padding=4, fontsize="small")
    ax.set_yticks(y, [str(s) for s in stages])
    ax.invert_yaxis()
    ax.set_xlabel("median days in stage (open stays censored)")
    med = (pd.to_timedelta(result["median"]) / day).max()
    top = float(med) if pd.notna(med) and med > 0 else 1.0
    ax.set_xlim(0, top * (1.45 if annotate else 1.05))
    if n_groups > 1:
        ax.legend(loc="lower right", fontsize="small")
    return ax


def _conversion_label(n: float, skipped: float, conv: float, overall: float, *, first: bool) -> str:
    """``'757 (57 skipped) · 63.6% of previous · 18.9% overall'``; the count alone first."""
    text = fmt_count(n)
    if skipped > 0:
        text += f" ({fmt_count(skipped)} skipped)"
    if first:
        return text
    return f"{text} · {fmt_pct(conv)} of previous · {fmt_pct(overall)} overall"


def _palette(i: int) -> str:
    return color(i)


def _count_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: fmt_count(v))
