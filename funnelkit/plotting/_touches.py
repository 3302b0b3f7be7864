"""Pictures of touches-to-response and behaviour-trigger results."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelkit.plotting._common import (
    MAX_COLORS,
    MISSING,
    by_title,
    check_result,
    color,
    fit_rows,
    fmt_pct,
    fmt_plain,
    get_ax,
    group_keys,
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


def _trigger_by(res: pd.DataFrame) -> list[Any]:
    """The ``by`` columns of a triggers table: those before ``from_step``."""
    columns = list(res.columns)
    return columns[: columns.index("from_step")] if "from_step" in columns else []


def _odds_text(v: float) -> str:
    """An odds ratio as written on the picture: ``3.00``, ``25``, ``1.2e-03``."""
    if not np.isfinite(v):
        return "–"
    if v >= 10:
        return f"{v:,.0f}"
    return f"{v:.2f}" if v >= 0.01 else f"{v:.1e}"


def _steps_text(res: pd.DataFrame) -> str:
    """``": from → to"`` of a triggers table (empty without the step columns or rows)."""
    if not len(res) or not {"from_step", "to_step"} <= set(res.columns):
        return ""
    return f": {shorten(res['from_step'].iloc[0], 20)} → {shorten(res['to_step'].iloc[0], 20)}"


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

    A result with ``by`` (one block per segment) draws its segments one after
    the other, each tick label led by the segment (``"pro · demo"``), one
    colour per segment (small-sample rows hollow in it), a thin line between
    segments; with more than 8 segments it is a heatmap instead: one row per
    segment, one column per behaviour (the highest median odds ratio first;
    a behaviour with no odds ratio in any segment is left out), the cell
    coloured by the odds ratio on a log scale (blue above 1, red below) and
    hatched for a small sample.

    Parameters
    ----------
    result : pandas.DataFrame
        The table returned by :func:`funnelkit.triggers`, with or without
        ``by``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on. Default: the current Axes (``plt.gca()``).
    annotate : bool, default=True
        Write the odds ratio and the conversion with / without the behaviour
        beside each row (in the cells of the heatmap, the odds ratio).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.errorbar` (the behaviours with
        enough entities; not used by the heatmap).

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

    A table with ``by``: the segment leads each label.

    >>> seg = pd.concat([res.assign(plan="free"), res.assign(plan="pro")], ignore_index=True)
    >>> seg = seg.assign(from_step="visit", to_step="buy")[["plan", "from_step", "to_step",
    ...                                                     *res.columns]]
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_triggers(seg, ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['free · demo', 'free · video', 'pro · demo', 'pro · video']
    >>> plt.close(fig)
    """
    cols = ["behaviour", "odds_ratio", "odds_ratio_low", "odds_ratio_high", "small_sample"]
    res = check_result(result, cols, func="plot_triggers", source="triggers")
    by = _trigger_by(res)
    keys = group_keys(res, by)
    groups = list(dict.fromkeys(keys.tolist()))
    if by and len(groups) > MAX_COLORS:
        return _triggers_heatmap(ax, res, by, keys, groups, annotate=annotate)
    finite = np.isfinite(res["odds_ratio"].to_numpy(dtype=float))
    res, keys = res[finite], keys[finite]
    n = len(res)
    ax = get_ax(ax, rows=n)
    y = np.arange(n, dtype=float)
    ratio = res["odds_ratio"].to_numpy(dtype=float)
    low = res["odds_ratio_low"].to_numpy(dtype=float)
    high = res["odds_ratio_high"].to_numpy(dtype=float)
    small = res["small_sample"].to_numpy(dtype=bool)
    err = np.nan_to_num(np.vstack([ratio - low, high - ratio]))
    if by:
        _segment_rows(ax, ratio, y, err, small, keys, groups, kwargs)
    else:
        main_kws = {"fmt": "o", "color": color(0), "capsize": 3, "markersize": 6, **kwargs}
        if (~small).any():
            ax.errorbar(
                ratio[~small], y[~small], xerr=err[:, ~small], label="odds ratio", **main_kws
            )
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
    finite_values = np.r_[low, high, ratio, 1.0]
    finite_values = finite_values[np.isfinite(finite_values) & (finite_values > 0)]
    plain_log_axis(ax.xaxis, float(finite_values.min()), float(finite_values.max()))
    behaviours = res["behaviour"].tolist()
    if by and len(groups) > 1:
        # the segment leads the label, as in plot_next_events
        names = [
            label(f"{shorten(g, 30)} · {shorten(b, 26)}" + (" (small sample)" if s else ""), 64)
            for g, b, s in zip(keys.tolist(), behaviours, small.tolist(), strict=True)
        ]
    else:
        names = [
            label(f"{shorten(b, 26)} (small sample)" if s else b, 40)
            for b, s in zip(behaviours, small.tolist(), strict=True)
        ]
    ax.set_yticks(y, names)
    ax.set_ylim(max(n, 1) - 0.5, -0.5)  # first row on top
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
    title = "Behaviours linked to moving on" + (_steps_text(res) if n else "")
    if by:
        title += f", by {by_title(by)}"
        if len(groups) == 1:
            title += f": {shorten(groups[0], 28)}"
    set_title(ax, title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    legend_below(ax, ncols=2)
    fit_rows(ax, notes, compact=True)
    return ax


def _segment_rows(
    ax: Axes,
    ratio: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    err: np.ndarray[Any, Any],
    small: np.ndarray[Any, Any],
    keys: np.ndarray[Any, Any],
    groups: list[str],
    kwargs: dict[str, Any],
) -> None:
    """The rows of a by table: a colour per segment, small samples hollow, a line between."""
    for i, name in enumerate(groups):
        mine = keys == name
        if not mine.any():
            continue  # every behaviour of the segment without an odds ratio
        kws = {"fmt": "o", "color": color(i), "capsize": 3, "markersize": 6, **kwargs}
        full, few = mine & ~small, mine & small
        if full.any():
            ax.errorbar(ratio[full], y[full], xerr=err[:, full], **kws)
        if few.any():
            ax.errorbar(ratio[few], y[few], xerr=err[:, few], **{**kws, "markerfacecolor": "white"})
    # a thin line between two segments' blocks
    for edge in np.flatnonzero(keys[1:] != keys[:-1]):
        ax.axhline(float(edge) + 0.5, color="0.85", linewidth=0.8, zorder=0)
    # the legend explains the two marks (the segment is in each label), in no segment's colour
    ax.plot([], [], "o", color="0.35", label="odds ratio")
    ax.plot([], [], "o", color="0.35", markerfacecolor="white", label="small sample")


def _triggers_heatmap(
    ax: Axes | None,
    res: pd.DataFrame,
    by: list[Any],
    keys: np.ndarray[Any, Any],
    groups: list[str],
    *,
    annotate: bool,
) -> Axes:
    """Many segments: one row per segment, one column per behaviour, the odds ratio's colour."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    behaviours = list(dict.fromkeys(str(b) for b in res["behaviour"]))
    ratio = np.full((len(groups), len(behaviours)), np.nan)
    small = np.zeros(ratio.shape, dtype=bool)
    rows = np.array([groups.index(k) for k in keys.tolist()], dtype=np.intp)
    cols = np.array([behaviours.index(str(b)) for b in res["behaviour"]], dtype=np.intp)
    values = res["odds_ratio"].to_numpy(dtype=float)
    ok = np.isfinite(values) & (values > 0)
    ratio[rows[ok], cols[ok]] = values[ok]
    small[rows, cols] = res["small_sample"].to_numpy(dtype=bool)
    logs = np.log10(ratio)
    # strongest behaviour (highest median odds ratio over the segments) on the left;
    # a behaviour without an odds ratio in any segment is left out, as in the rows
    with warnings.catch_warnings():  # such a behaviour's median is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(logs, axis=0)
    order = np.argsort(-median, kind="stable")
    order = order[np.isfinite(median[order])]
    if not order.size:  # no odds ratio at all: the columns as they come, grey
        order = np.arange(len(behaviours))
    logs, small, ratio = logs[:, order], small[:, order], ratio[:, order]
    behaviours = [behaviours[j] for j in order]
    span = float(np.nanmax(np.abs(logs), initial=0.0)) if np.isfinite(logs).any() else 0.0
    span = max(span, np.log10(2.0))
    ax = get_ax(ax, rows=len(groups))
    before = len(ax.texts)
    heatmap(
        ax,
        logs,
        rows=[label(g, 40) for g in groups],
        columns=[label(b, 24) for b in behaviours],
        texts=np.vectorize(_odds_text, otypes=[object])(ratio) if annotate else None,
        cmap="RdBu",
        vmin=-span,
        vmax=span,
        colorbar="odds ratio of moving on (log scale)",
        hatch=small & np.isfinite(ratio),
    )
    image = ax.images[-1]
    # both ends of a diverging scale are dark: the cell's lightness picks the text colour
    for t in ax.texts[before:]:
        c, r = (round(float(v)) for v in t.get_position())
        if np.isfinite(logs[r, c]):
            red, green, blue, _ = image.cmap(image.norm(logs[r, c]))
            t.set_color(
                "white" if 0.2126 * red + 0.7152 * green + 0.0722 * blue < 0.45 else "black"
            )
    cbar = image.colorbar
    if cbar is not None:  # ticks in odds ratios, not in their logarithms
        nice = np.array([0.001, 0.01, 0.1, 0.2, 0.5, 1, 2, 5, 10, 100, 1000], dtype=float)
        nice = nice[np.abs(np.log10(nice)) <= span + 1e-9]
        if nice.size > 7:
            nice = nice[np.isin(nice, [0.001, 0.01, 0.1, 1, 10, 100, 1000])]
        cbar.ax.yaxis.set_major_locator(FixedLocator(np.log10(nice)))
        cbar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_plain(10.0**v)))
        cbar.ax.yaxis.set_minor_locator(FixedLocator([]))
    ax.set_xlabel("behaviour (cell: odds ratio; hatched: small sample; grey: none)")
    ax.xaxis.set_label_position("top")
    ax.set_ylabel(by_title(by))
    set_title(ax, f"Behaviours linked to moving on{_steps_text(res)}, by {by_title(by)}")
    return ax
