"""Pictures of touches-to-response and behaviour-trigger results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelkit.plotting._common import (
    MISSING,
    check_result,
    color,
    fit_rows,
    fmt_pct,
    get_ax,
    heatmap,
    label,
    legend_below,
    legend_label,
    legend_outside,
    percent_axis,
    plain_log_axis,
    root_figure,
    set_title,
    shorten,
)
from funnelkit.plotting._events import MAX_BAR_GROUPS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_TOUCH_COLUMNS = [
    "touch",
    "at_risk",
    "responded",
    "censored",
    "response_rate",
    "response_rate_low",
    "response_rate_high",
    "cumulative",
    "share_of_responders",
]


def _group_labels(result: pd.DataFrame, keys: list[Any]) -> pd.Series:
    """One text label per row from the grouping columns (``by`` and channel)."""
    if not keys:
        return pd.Series([""] * len(result), index=result.index)
    parts = [result[k].astype(object).where(result[k].notna(), MISSING).astype(str) for k in keys]
    label: pd.Series = parts[0]
    for p in parts[1:]:
        label = label + " / " + p
    return label


def plot_touches(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Draw the response rate per touch with Wilson whiskers and the cumulative share.

    Bars show the response rate of each touch number (the discrete hazard),
    black whiskers its Wilson interval; a line with markers shows the
    cumulative share of prospects with a positive response by that touch.
    Both are shares, read on the same percentage axis.  A result with
    ``by`` or ``channel`` columns gets one colour per group, bars side by
    side; with more than 4 groups it is a heatmap of the response rate, one
    row per group, one cell per touch.

    Parameters
    ----------
    result : pandas.DataFrame
        The table returned by :func:`funnelkit.touches_to_response`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on. Default: the current Axes (``plt.gca()``).
    annotate : bool, default=True
        Write each bar's rate above it (one group only, so labels do not
        collide).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.bar`.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    InvalidParameterError
        When ``result`` is not a DataFrame.
    ColumnNotFoundError
        When ``result`` lacks a column of the touches_to_response result.

    See Also
    --------
    touches_to_response : the table drawn here.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> log = pd.DataFrame({"user_id": ["a", "a", "b", "c", "c"],
    ...                     "timestamp": [1, 2, 1, 1, 2],
    ...                     "response": ["no", "positive", "positive", "no", "no"]})
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_touches(fk.touches_to_response(log), ax=ax)
    >>> [round(float(p.get_height()), 3) for p in ax.patches]
    [0.333, 0.5]
    >>> plt.close(fig)
    """
    res = check_result(
        result,
        ["touch", "response_rate", "response_rate_low", "response_rate_high", "cumulative"],
        func="plot_touches",
        source="touches_to_response",
    )
    from matplotlib.ticker import MaxNLocator

    keys = [c for c in res.columns if c not in _TOUCH_COLUMNS]
    labels = _group_labels(res, keys)
    groups = list(dict.fromkeys(labels.tolist()))
    n_groups = max(len(groups), 1)
    many = n_groups > MAX_BAR_GROUPS
    ax = get_ax(ax, rows=n_groups if many else 0)
    what = " by " + " / ".join(str(k) for k in keys) if keys else ""
    if keys and n_groups == 1:
        what += f": {shorten(groups[0], 28)}"
    set_title(ax, "Response by touch number" + what)
    if many:
        return _touch_heatmap(ax, res, labels, groups)
    width = 0.8 / n_groups
    notes: list[Any] = []
    for i, name in enumerate(groups):
        part = res[(labels == name).to_numpy()]
        touch = part["touch"].to_numpy(dtype=float)
        x = touch - 0.4 + width * (i + 0.5)
        rate = part["response_rate"].to_numpy(dtype=float)
        low = part["response_rate_low"].to_numpy(dtype=float)
        high = part["response_rate_high"].to_numpy(dtype=float)
        tag = f"{shorten(name, 28)}: " if name and n_groups > 1 else ""
        bar_kws = {"color": color(i), "alpha": 0.85, **kwargs}
        ax.bar(
            x, np.nan_to_num(rate), width, label=legend_label(f"{tag}response rate at touch", 60),
            **bar_kws,
        )  # fmt: skip
        ok = ~np.isnan(rate)
        ax.errorbar(
            x[ok],
            rate[ok],
            yerr=[rate[ok] - low[ok], high[ok] - rate[ok]],
            fmt="none",
            ecolor="#333333",
            elinewidth=1,
            capsize=2,
        )
        ax.plot(
            touch,
            part["cumulative"].to_numpy(dtype=float),
            marker="o",
            color=color(i),
            linestyle="-",
            label=legend_label(f"{tag}cumulative share responded", 60),
        )
        if annotate and n_groups == 1:
            # above the whisker, so the interval never strikes through the label
            for xi, r, h in zip(x[ok], rate[ok], np.nan_to_num(high[ok]), strict=True):
                notes.append(
                    ax.annotate(
                        fmt_pct(r), (xi, h), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize="small",
                    )
                )  # fmt: skip
    percent_axis(ax.yaxis)
    touches = np.unique(res["touch"].to_numpy())
    if touches.size <= 15:
        ax.set_xticks(touches)  # every touch number
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    values = res[["response_rate_high", "cumulative"]].to_numpy(dtype=float)
    top = float(np.nanmax(values, initial=0.0)) if values.size else 0.0
    ax.set_ylim(0, min(1.0, max(top, 0.05)) * 1.18)
    ax.set_xlabel("touch number")
    ax.set_ylabel("share of prospects")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if n_groups > 1:
        legend_outside(ax)
    else:
        legend_below(ax, ncols=2)
    _fit_bar_notes(ax, notes, touches.size)
    return ax


def _fit_bar_notes(ax: Axes, notes: list[Any], n: int) -> None:
    """Labels above narrow bars: upright when they do not fit across, thinned when crowded."""
    if not notes:
        return
    fig = root_figure(ax)
    fig.draw_without_rendering()
    lo, hi = ax.get_xlim()
    pitch = ax.get_window_extent().width * 72.0 / fig.dpi / max(hi - lo, 1e-9)
    if pitch >= 34:
        return
    size = min(8.0, max(6.0, pitch / 1.3))
    step = max(1, int(np.ceil(6.0 * 1.3 / max(pitch, 1e-9))))
    for i, t in enumerate(notes):
        t.set_rotation(90)
        t.set_fontsize(size)
        t.set_visible(i % step == 0)
    top = ax.get_ylim()[1]
    ax.set_ylim(0, top * 1.15)


def _touch_heatmap(ax: Axes, res: pd.DataFrame, labels: pd.Series, groups: list[str]) -> Axes:
    """Many groups: one row per group, one cell per touch number, coloured by the rate."""
    touches = np.unique(res["touch"].to_numpy())
    rate = np.full((len(groups), touches.size), np.nan)
    texts = np.full(rate.shape, "", dtype=object)
    last = []
    for r, name in enumerate(groups):
        part = res[(labels == name).to_numpy()]
        cols = np.searchsorted(touches, part["touch"].to_numpy())
        rate[r, cols] = part["response_rate"].to_numpy(dtype=float)
        texts[r, cols] = [fmt_pct(v, 0) for v in part["response_rate"]]
        cum = part["cumulative"].to_numpy(dtype=float)
        last.append(f"{shorten(name, 24)} ({fmt_pct(cum[-1] if cum.size else np.nan, 0)})")
    heatmap(
        ax,
        rate,
        rows=[label(t, 40) for t in last],
        columns=[str(int(t)) for t in touches],
        texts=texts,
        cmap="Greens",
        vmin=0.0,
        colorbar="response rate at the touch",
        percent=True,
    )
    ax.set_xlabel("touch number (row: group, share responded by its last touch)")
    ax.xaxis.set_label_position("top")
    return ax


def plot_triggers(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Forest plot of the behaviour triggers: odds ratio with its interval, log scale.

    One row per behaviour, in the order of the result (the strongest
    trigger on top).  Behaviours flagged ``small_sample`` are drawn hollow
    and grey with "(small sample)" after their name; behaviours without an
    odds ratio (nobody, or everybody, did them) are left out.  The vertical
    line at 1 is "no association".  The odds ratio and the conversions with
    and without are written right of the Axes.

    Parameters
    ----------
    result : pandas.DataFrame
        The table returned by :func:`funnelkit.triggers` (with ``by``, one
        group's block: each row is drawn as one behaviour).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on. Default: the current Axes (``plt.gca()``).
    annotate : bool, default=True
        Write the odds ratio and the conversion with / without the behaviour
        beside each row.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.errorbar` (the behaviours with
        enough entities).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    InvalidParameterError
        When ``result`` is not a DataFrame.
    ColumnNotFoundError
        When ``result`` lacks a column of the triggers result.

    See Also
    --------
    triggers : the table drawn here.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> res = pd.DataFrame({"behaviour": ["demo", "video"], "odds_ratio": [3.0, 0.9],
    ...                     "odds_ratio_low": [1.5, 0.5], "odds_ratio_high": [6.0, 1.6],
    ...                     "conversion_with": [0.6, 0.3], "conversion_without": [0.3, 0.33],
    ...                     "small_sample": [False, False]})
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_triggers(res, ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['demo', 'video']
    >>> plt.close(fig)
    """
    cols = ["behaviour", "odds_ratio", "odds_ratio_low", "odds_ratio_high", "small_sample"]
    res = check_result(result, cols, func="plot_triggers", source="triggers")
    res = res[np.isfinite(res["odds_ratio"].to_numpy(dtype=float))]
    n = len(res)
    ax = get_ax(ax, rows=n)
    y = np.arange(n, dtype=float)
    ratio = res["odds_ratio"].to_numpy(dtype=float)
    low = res["odds_ratio_low"].to_numpy(dtype=float)
    high = res["odds_ratio_high"].to_numpy(dtype=float)
    small = res["small_sample"].to_numpy(dtype=bool)
    err = np.nan_to_num(np.vstack([ratio - low, high - ratio]))
    main_kws = {"fmt": "o", "color": color(0), "capsize": 3, "markersize": 6, **kwargs}
    if (~small).any():
        ax.errorbar(ratio[~small], y[~small], xerr=err[:, ~small], label="odds ratio", **main_kws)
    if small.any():
        ax.errorbar(
            ratio[small],
            y[small],
            xerr=err[:, small],
            fmt="o",
            color="#999999",
            markerfacecolor="white",
            capsize=3,
            markersize=6,
            label="small sample",
        )
    ax.axvline(1.0, color="#333333", linewidth=1, linestyle="--")
    ax.set_xscale("log")
    finite = np.r_[low, high, ratio, 1.0]
    finite = finite[np.isfinite(finite) & (finite > 0)]
    plain_log_axis(ax.xaxis, float(finite.min()), float(finite.max()))
    names = [
        label(f"{shorten(b, 26)} (small sample)" if s else b, 40)
        for b, s in zip(res["behaviour"].tolist(), small.tolist(), strict=True)
    ]
    ax.set_yticks(y, names)
    ax.set_ylim(n - 0.5, -0.5)  # first row on top
    ax.set_xlabel("odds ratio of moving on (log scale; 1 = no association)")
    notes: list[Any] = []
    if annotate:
        has_conv = {"conversion_with", "conversion_without"} <= set(res.columns)
        for i in range(n):
            text = f"OR {ratio[i]:.2f}" if ratio[i] >= 0.01 else f"OR {ratio[i]:.1e}"
            if has_conv:
                text += (
                    f"  ({fmt_pct(res['conversion_with'].iloc[i])} with vs "
                    f"{fmt_pct(res['conversion_without'].iloc[i])} without)"
                )
            notes.append(
                ax.annotate(
                    text,
                    (1.0, y[i]),
                    xycoords=("axes fraction", "data"),
                    xytext=(6, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize="small",
                )
            )
    title = "Behaviours linked to moving on"
    if n and {"from_step", "to_step"} <= set(res.columns):
        title += (
            f": {shorten(res['from_step'].iloc[0], 20)} → {shorten(res['to_step'].iloc[0], 20)}"
        )
    set_title(ax, title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    legend_below(ax, ncols=2)
    fit_rows(ax, notes, compact=True)
    return ax
