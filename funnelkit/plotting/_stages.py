"""Pictures of stage-history results: stage conversion and time in stage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelkit.plotting._common import (
    check_result,
    color,
    fit_rows,
    fmt_count,
    fmt_pct,
    get_ax,
    group_keys,
    heatmap,
    label,
    legend_label,
    legend_outside,
    set_title,
    shorten,
)
from funnelkit.plotting._events import MAX_BAR_GROUPS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_stage_conversion", "plot_time_in_stage"]


def _split_groups(result: pd.DataFrame) -> tuple[list[str], list[pd.DataFrame]]:
    """Group labels and blocks of a result whose ``by`` columns come before ``stage``."""
    by = _by(result)
    if not by:
        return [""], [result]
    keys = group_keys(result, by)
    names = list(dict.fromkeys(keys))
    return names, [result[keys == n] for n in names]


def _by(result: pd.DataFrame) -> list[Any]:
    return list(result.columns[: list(result.columns).index("stage")])


def _suffix(result: pd.DataFrame, names: list[str]) -> str:
    by = _by(result)
    if not by:
        return ""
    text = f" by {' / '.join(str(b) for b in by)}"
    return text + f": {shorten(names[0], 28)}" if len(names) == 1 else text


def _stage_heatmap(
    ax: Axes,
    names: list[str],
    blocks: list[pd.DataFrame],
    stages: list[Any],
    value: str,
    text: Any,
    **kw: Any,
) -> Axes:
    """Many groups: one row per group, one cell per stage."""
    values = np.full((len(names), len(stages)), np.nan)
    texts = np.full(values.shape, "", dtype=object)
    for r, block in enumerate(blocks):
        cols = pd.Index(stages).get_indexer(block["stage"].to_numpy(dtype=object))
        for c, (_, row) in zip(cols, block.iterrows(), strict=True):
            values[r, c] = row[value]
            texts[r, c] = text(row)
    return heatmap(
        ax,
        values,
        rows=[label(n) for n in names],
        columns=[label(s, 18) for s in stages],
        texts=texts,
        **kw,
    )


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
        groups, one bar per group within each stage (more than 4 groups: a
        heatmap, one row per group, of the share reaching each stage).
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
    names, blocks = _split_groups(result)
    n_groups = len(blocks)
    stages = list(pd.unique(result["stage"].to_numpy(dtype=object)))
    many = n_groups > MAX_BAR_GROUPS
    ax = get_ax(ax, rows=n_groups if many else len(stages) * n_groups)
    set_title(ax, "Stage-to-stage conversion" + _suffix(result, names))
    if many:
        return _stage_heatmap(
            ax, names, blocks, stages, "overall",
            lambda row: f"{fmt_pct(row['overall'], 0)} · {fmt_count(row['deals'])}",
            vmin=0.0, vmax=1.0, colorbar="share reaching the stage",
            percent=True,
        )  # fmt: skip
    y = np.arange(len(stages), dtype=np.float64)
    height = 0.8 / n_groups
    notes: list[Any] = []
    for i, block in enumerate(blocks):
        c = color if (color is not None and n_groups == 1) else _palette(i)
        pos = pd.Index(stages).get_indexer(block["stage"].to_numpy(dtype=object))
        yy = y[pos] - 0.4 + height * (i + 0.5)
        deals = block["deals"].to_numpy(dtype=np.float64)
        skipped = block["skipped"].to_numpy(dtype=np.float64)
        recorded = deals - skipped
        name = legend_label(names[i]) if n_groups > 1 else "recorded entry"
        ax.barh(yy, recorded, height=height, color=c, label=name, **kwargs)
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
            notes += ax.bar_label(bars, labels=texts, padding=4, fontsize="small")
    ax.set_yticks(y, [label(s) for s in stages])
    ax.set_ylim(len(stages) - 0.5, -0.5)
    ax.set_xlabel("deals")
    ax.xaxis.set_major_formatter(_count_formatter())
    top = float(result["deals"].max()) if len(result) else 1.0
    ax.set_xlim(0, max(top, 1.0) * (1.9 if annotate else 1.05))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if n_groups > 1 or float(result["skipped"].sum()) > 0:
        legend_outside(ax)
    fit_rows(ax, notes, per_row=n_groups, compact=True)
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
        groups, one bar per group within each stage (more than 4 groups: a
        heatmap, one row per group, of the median days).
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
    names, blocks = _split_groups(result)
    n_groups = len(blocks)
    stages = list(pd.unique(result["stage"].to_numpy(dtype=object)))
    many = n_groups > MAX_BAR_GROUPS
    ax = get_ax(ax, rows=n_groups if many else len(stages) * n_groups)
    set_title(ax, "Median time in stage" + _suffix(result, names))
    day = pd.Timedelta(days=1)
    if many:
        frame = result.assign(_days=pd.to_timedelta(result["median"]) / day)
        _names, blocks = _split_groups(frame)
        return _stage_heatmap(
            ax, names, blocks, stages, "_days",
            lambda row: "–" if pd.isna(row["_days"]) else f"{row['_days']:,.1f} d",
            cmap="Purples", vmin=0.0, colorbar="median days (grey: not reached)",
        )  # fmt: skip
    y = np.arange(len(stages), dtype=np.float64)
    height = 0.8 / n_groups
    notes: list[Any] = []
    for i, block in enumerate(blocks):
        c = color if (color is not None and n_groups == 1) else _palette(i)
        pos = pd.Index(stages).get_indexer(block["stage"].to_numpy(dtype=object))
        yy = y[pos] - 0.4 + height * (i + 0.5)
        median = (pd.to_timedelta(block["median"]) / day).to_numpy(dtype=np.float64)
        width = np.nan_to_num(median, nan=0.0)
        name = legend_label(names[i]) if n_groups > 1 else None
        bars = ax.barh(yy, width, height=height, color=c, label=name, **kwargs)
        if annotate:
            texts = [
                ("median not reached" if np.isnan(m) else f"{m:,.1f} d") + f" ({fmt_count(o)} open)"
                for m, o in zip(median, block["open"], strict=True)
            ]
            notes += ax.bar_label(bars, labels=texts, padding=4, fontsize="small")
    ax.set_yticks(y, [label(s) for s in stages])
    ax.set_ylim(len(stages) - 0.5, -0.5)
    ax.set_xlabel("median days in stage (open stays censored)")
    med = (pd.to_timedelta(result["median"]) / day).max()
    top = float(med) if pd.notna(med) and med > 0 else 1.0
    ax.set_xlim(0, top * (1.6 if annotate else 1.05))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if n_groups > 1:
        legend_outside(ax)
    fit_rows(ax, notes, per_row=n_groups, compact=True)
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
