"""Pictures of the event-funnel features: conversion over time, paths, time histograms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelkit.errors import InvalidParameterError
from funnelkit.plotting._common import (
    MAX_COLORS,
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
    legend_label,
    legend_outside,
    no_data,
    percent_axis,
    plain_log_axis,
    set_title,
    shorten,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_conversion_over_time", "plot_next_events", "plot_time_histogram"]


def _empty(ax: Axes, text: str = "no entities") -> Axes:
    return no_data(ax, text)


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
        With more than 8 groups, a heatmap instead: one row per group, one
        cell per period, immature periods hatched.

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
    steps = list(dict.fromkeys(result["step"]))
    target = steps[-1] if step is None else step
    if len(result) and target not in steps:
        msg = f"The 'step' parameter of {func} must be one of {steps!r}. Got {step!r} instead."
        raise InvalidParameterError(msg)
    by = list(result.columns[: list(result.columns).index("period")])
    rows = result[result["step"] == target]
    labels = group_keys(rows, by)
    names = list(dict.fromkeys(labels))
    many = len(names) > MAX_COLORS
    ax = get_ax(ax, rows=len(names) if many else 0)
    if len(result) == 0:
        return _empty(ax)
    first = steps[0]
    what = f"{shorten(first, 24)} → {shorten(target, 24)}" if target != first else shorten(first)
    by_text = f" by {' / '.join(str(b) for b in by)}" if by else ""
    if by and len(names) == 1:
        by_text += f": {shorten(names[0], 28)}"
    set_title(ax, f"Conversion over time, {what}{by_text}")
    if many:
        return _over_time_heatmap(ax, rows, labels, names)
    for g, name in enumerate(names):
        part = rows[labels == name]
        x = part["period"]
        y = part["overall"].to_numpy(dtype=float)
        c = color(g)
        shown = legend_label(name) if name and len(names) > 1 else None
        (line,) = ax.plot(x, y, color=c, label=shown, **kwargs)
        mature = part["mature"].to_numpy(dtype=bool)
        ax.scatter(x[mature], y[mature], color=c, zorder=3)
        ax.scatter(x[~mature], y[~mature], facecolors="white", edgecolors=c, zorder=3)
        line.set_gid(name or "all")
    if pd.api.types.is_datetime64_any_dtype(rows["period"]):
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator: Any = AutoDateLocator(minticks=3, maxticks=6)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(label(what, 40))
    ax.set_xlabel("entry period (hollow: window not over yet, still rising)")
    ax.yaxis.set_major_formatter(_percent())
    if by and len(names) > 1:
        legend_outside(ax, title=by_title(by))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def _over_time_heatmap(
    ax: Axes, rows: pd.DataFrame, labels: np.ndarray[Any, Any], names: list[str]
) -> Axes:
    """Many groups: one row per group, one cell per period; immature periods hatched."""
    periods = list(dict.fromkeys(rows["period"]))
    share = np.full((len(names), len(periods)), np.nan)
    young = np.zeros(share.shape, dtype=bool)
    texts = np.full(share.shape, "", dtype=object)
    r_of = {n: i for i, n in enumerate(names)}
    c_of = {p: i for i, p in enumerate(periods)}
    for k, p, v, m in zip(labels, rows["period"], rows["overall"], rows["mature"], strict=True):
        r, c = r_of[k], c_of[p]
        share[r, c] = v
        young[r, c] = not bool(m)
        texts[r, c] = fmt_pct(v, 0)
    heatmap(
        ax,
        share,
        rows=[label(n) for n in names],
        columns=[_period_text(p) for p in periods],
        texts=texts,
        vmin=0.0,
        colorbar="conversion of the period's entrants",
        percent=True,
        hatch=young,
    )
    ax.set_xlabel("entry period (hatched: window not over yet)")
    ax.xaxis.set_label_position("top")
    return ax


def _period_text(p: Any) -> str:
    if isinstance(p, pd.Timestamp):
        return p.strftime("%Y-%m-%d") if (p.hour, p.minute) == (0, 0) else str(p)
    return str(p)


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0)


_UNITS = ((86_400e9, "days"), (3_600e9, "hours"), (60e9, "minutes"), (1e9, "seconds"))


def plot_time_histogram(result: pd.DataFrame, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Draw a ``time_to_convert(..., bins=...)`` histogram: one step outline per group.

    The x axis is in days, hours, minutes or seconds (whichever reads best),
    logarithmic (``symlog`` when a bin starts at 0) when the bins are
    log-spaced; the y axis is the share of each group's converters, so groups
    of different sizes compare.  ``kwargs`` go to
    :meth:`matplotlib.axes.Axes.stairs`.  Called by
    :func:`funnelkit.plot_time_to_convert`.
    """
    cols = ["from_step", "to_step", "bin_low", "bin_high", "entities", "share"]
    check_result(result, cols, func="plot_time_to_convert", source="time_to_convert")
    by = list(result.columns[: list(result.columns).index("from_step")])
    keys = group_keys(result, by)
    names = list(dict.fromkeys(keys))
    ax = get_ax(ax, rows=len(names) if len(names) > MAX_COLORS else 0)
    if len(result) == 0:
        return _empty(ax, "no converters")
    hi_ns = result["bin_high"].to_numpy(dtype="timedelta64[ns]").view(np.int64)
    top = float(hi_ns.max())
    scale, unit = next(((s, u) for s, u in _UNITS if top >= s), (1e9, "seconds"))
    first = result.iloc[0]
    what = f"{shorten(first['from_step'], 24)} → {shorten(first['to_step'], 24)}"
    by_text = f" by {' / '.join(str(b) for b in by)}" if by else ""
    set_title(
        ax,
        f"Time to convert, {what}{by_text}"
        + (f": {shorten(names[0], 28)}" if by and len(names) == 1 else ""),
    )
    if len(names) > MAX_COLORS:
        return _histogram_heatmap(ax, result, keys, names, scale=scale, unit=unit)
    edges_all = np.array([], dtype=float)
    for g, name in enumerate(names):
        part = result[keys == name]
        lo = part["bin_low"].to_numpy(dtype="timedelta64[ns]").view(np.int64) / scale
        hi = part["bin_high"].to_numpy(dtype="timedelta64[ns]").view(np.int64) / scale
        edges = np.r_[lo, hi[-1:]]
        edges_all = edges
        share = part["share"].to_numpy(dtype=float)
        shown = legend_label(name) if name and len(names) > 1 else None
        patch = ax.stairs(share, edges, color=color(g), label=shown, **kwargs)
        patch.set_gid(name or "all")
    positive = edges_all[edges_all > 0]
    if positive.size >= 2 and positive.max() / positive.min() >= 100:
        if edges_all[0] == 0:
            ax.set_xscale("symlog", linthresh=float(positive.min()))
        else:
            ax.set_xscale("log")
        plain_log_axis(ax.xaxis, float(positive.min()), float(positive.max()))
    ax.set_xlabel(label(f"{what} ({unit})", 60))
    ax.set_ylabel("share of converters")
    percent_axis(ax.yaxis)
    if by and len(names) > 1:
        legend_outside(ax, title=by_title(by))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def _histogram_heatmap(
    ax: Axes,
    result: pd.DataFrame,
    keys: np.ndarray[Any, Any],
    names: list[str],
    *,
    scale: float,
    unit: str,
) -> Axes:
    """Many groups: one row per group, one cell per bin, coloured by the share of converters."""
    lo_ns = result["bin_low"].to_numpy(dtype="timedelta64[ns]").view(np.int64)
    hi_ns = result["bin_high"].to_numpy(dtype="timedelta64[ns]").view(np.int64)
    bins = list(dict.fromkeys(zip(lo_ns.tolist(), hi_ns.tolist(), strict=True)))
    share = np.full((len(names), len(bins)), np.nan)
    row = {n: i for i, n in enumerate(names)}
    col = {b: i for i, b in enumerate(bins)}
    for k, lo, hi, s in zip(keys, lo_ns, hi_ns, result["share"], strict=True):
        share[row[k], col[(int(lo), int(hi))]] = s
    columns = [f"{fmt_plain(lo / scale)}–{fmt_plain(hi / scale)}" for lo, hi in bins]
    heatmap(
        ax,
        share,
        rows=[label(n) for n in names],
        columns=columns,
        texts=None,
        vmin=0.0,
        colorbar="share of the group's converters",
        percent=True,
    )
    ax.set_xlabel(f"time to convert ({unit})")
    ax.xaxis.set_label_position("top")
    return ax


def plot_next_events(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Draw the most common sequences of next events as horizontal bars, most common on top.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.next_events`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default the current Axes (``plt.gca()``).
    annotate : bool, default=True
        Label each bar with its share of the entities studied and their count.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.barh` (the bars).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: one bar per sequence, as long as its share of the
        entities studied, the sequence as the tick label.  A result with
        ``by`` columns draws its groups one after the other, each tick label
        led by the group (``"pro · pricing → exit"``), a colour per group up
        to 8 groups.

    Raises
    ------
    InvalidParameterError
        ``result`` is not a :func:`funnelkit.next_events` result.

    See Also
    --------
    funnelkit.next_events : Computes the table drawn here.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 2, 2, 3, 4, 4],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01",
    ...                                  "2025-01-03", "2025-01-01", "2025-01-01",
    ...                                  "2025-01-02"]),
    ...     "event": ["cart", "exit", "cart", "pricing", "cart", "cart", "buy"],
    ... })
    >>> res = fk.next_events(ev, ["cart", "buy"], depth=1)
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_next_events(res, ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['(no further events)', 'exit', 'pricing']
    >>> plt.close(fig)
    """
    func = "plot_next_events"
    check_result(
        result,
        ["step", "path", "entities", "share", "entities_studied"],
        func=func,
        source="next_events",
    )
    ax = get_ax(ax, rows=len(result))
    if len(result) == 0:
        return _empty(ax)
    y = np.arange(len(result), dtype=float)
    share = result["share"].to_numpy(dtype=float)
    by = list(result.columns[: list(result.columns).index("step")])
    keys = group_keys(result, by)
    groups = list(dict.fromkeys(keys))
    if by and len(groups) <= MAX_COLORS:  # a colour per group; past that the labels say it
        kwargs.setdefault("color", [color(groups.index(g)) for g in keys])
    kwargs.setdefault("color", color(0))
    bars = ax.barh(y, share, **kwargs)
    notes: list[Any] = []
    if annotate:
        texts = [f"{s:.0%} ({n:,})" for s, n in zip(share, result["entities"], strict=True)]
        notes = ax.bar_label(bars, texts, padding=3, fontsize="small")
    paths = [str(p) for p in result["path"]]
    ticks = [f"{g} · {p}" for g, p in zip(keys, paths, strict=True)] if by else paths
    ax.set_yticks(y, [label(t, 48) for t in ticks])
    ax.set_ylim(len(result) - 0.5, -0.5)
    after = shorten(result["step"].iloc[0], 30)
    if by:
        xlabel = f"share of the entities studied in each {by_title(by)}"
    else:
        xlabel = f"share of the {int(result['entities_studied'].iloc[0]):,} entities studied"
    ax.set_xlabel(label(xlabel, 60))
    ax.xaxis.set_major_formatter(_percent())
    ax.margins(x=0.15 if annotate else 0.02)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    set_title(ax, f"What entities did next, after {after}")
    fit_rows(ax, notes, compact=True)
    return ax
