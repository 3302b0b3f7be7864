"""Pictures of event funnels: ``plot_funnel``, ``plot_dropoff``, ``plot_time_to_convert``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from funnelkit.errors import InvalidParameterError
from funnelkit.plotting._common import PALETTE, check_result, color, fmt_count, fmt_pct, get_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_dropoff", "plot_funnel", "plot_time_to_convert"]

#: Colour of the biggest leak in :func:`plot_dropoff` (Okabe–Ito vermillion).
LEAK_COLOR = PALETTE[5]


def _by_columns(result: pd.DataFrame, key: str) -> list[Any]:
    """The by columns of a result: every column before ``key``."""
    cols = list(result.columns)
    return cols[: cols.index(key)]


def _groups(result: pd.DataFrame, by: list[Any]) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per group, in the result's order."""
    if not by:
        return [("", result)]
    keys = result[by].astype(object).where(result[by].notna(), "(missing)").astype(str)
    label = keys.agg(" / ".join, axis=1)
    order = list(dict.fromkeys(label))
    return [(lab, result[label.to_numpy() == lab]) for lab in order]


def _check_option(value: Any, options: tuple[str, ...], *, name: str, func: str) -> None:
    if value not in options:
        msg = (
            f"The {name!r} parameter of {func} must be one of "
            + ", ".join(repr(o) for o in options)
            + f". Got {value!r} instead."
        )
        raise InvalidParameterError(msg)


def _empty(ax: Axes) -> Axes:
    """An empty result: say so instead of drawing nothing."""
    ax.text(0.5, 0.5, "no entities", transform=ax.transAxes, ha="center", va="center")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def funnel_labels(rows: pd.DataFrame, *, short: bool = False) -> list[str]:
    """Bar labels of :func:`plot_funnel`: count, conversion from previous, overall share."""
    out: list[str] = []
    for i, (n, conv, overall) in enumerate(
        zip(rows["entities"], rows["conversion"], rows["overall"], strict=True)
    ):
        if i == 0:
            out.append(fmt_count(n))
        elif short:
            out.append(f"{fmt_count(n)} · {fmt_pct(conv)}")
        else:
            out.append(
                f"{fmt_count(n)} · {fmt_pct(conv)} of previous · {fmt_pct(overall)} of first"
            )
    return out


def plot_funnel(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    whiskers: bool = False,
    layout: Literal["side", "overlay"] = "side",
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Draw a funnel: one centred horizontal bar per step, as wide as its entities.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.conversion`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default the current Axes (``plt.gca()``).
    whiskers : bool, default=False
        Draw the Wilson interval of each step's conversion as a whisker on the
        bar's right end (the interval of the count: previous count times the
        interval bounds).
    layout : {"side", "overlay"}, default="side"
        With ``by`` groups: one funnel per group side by side, each titled
        with its group (``"side"``), or all funnels centred on one axis, bars
        of the groups stacked thinly within each step and a legend naming the
        groups (``"overlay"``).
    annotate : bool, default=True
        Label each bar with its count, its conversion from the previous step and
        its share of the first step.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.barh` (e.g. ``alpha``, ``edgecolor``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    InvalidParameterError
        ``result`` is not a :func:`funnelkit.conversion` result, or ``layout``
        is not one of the options.

    See Also
    --------
    funnelkit.conversion : Computes the table drawn here.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 2, 2, 3],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01",
    ...                                  "2025-01-04", "2025-01-03"]),
    ...     "event": ["visit", "buy", "visit", "buy", "visit"],
    ... })
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_funnel(fk.conversion(ev, ["visit", "buy"]), ax=ax)
    >>> [round(p.get_width()) for p in ax.patches]
    [3, 2]
    >>> plt.close(fig)
    """
    func = "plot_funnel"
    cols = ["step", "entities", "conversion", "overall"]
    if whiskers:
        cols += ["conversion_low", "conversion_high"]
    check_result(result, cols, func=func, source="conversion")
    _check_option(layout, ("side", "overlay"), name="layout", func=func)
    ax = get_ax(ax)
    if len(result) == 0:
        return _empty(ax)
    by = _by_columns(result, "step")
    groups = _groups(result, by)
    steps = list(dict.fromkeys(result["step"]))
    y = np.arange(len(steps), dtype=float)
    widest = float(result["entities"].max()) if len(result) else 1.0
    n = len(groups)
    height = 0.8 if layout == "side" or n == 1 else 0.8 / n
    gap = widest * (1.9 if annotate else 1.15)
    for g, (label, rows) in enumerate(groups):
        pos = y[[steps.index(s) for s in rows["step"]]]
        centre = g * gap if layout == "side" else 0.0
        if layout == "overlay" and n > 1:
            pos = pos - 0.4 + height * (g + 0.5)
        width = rows["entities"].to_numpy(dtype=float)
        bars = ax.barh(
            pos,
            width,
            height=height,
            left=centre - width / 2,
            color=color(g),
            label=label or None,
            **kwargs,
        )
        if whiskers:
            prev = np.r_[width[:1], width[:-1]]
            lo = prev * rows["conversion_low"].to_numpy(dtype=float)
            hi = prev * rows["conversion_high"].to_numpy(dtype=float)
            right = centre + width / 2
            xerr = np.vstack([(width - lo) / 2, (hi - width) / 2])
            ax.errorbar(
                right, pos, xerr=np.nan_to_num(xerr), fmt="none", ecolor="0.2", capsize=3, lw=1
            )
        if annotate:
            short = layout == "side" and n > 1
            ax.bar_label(bars, labels=funnel_labels(rows, short=short), padding=4, fontsize="small")
        if layout == "side" and n > 1:
            ax.text(centre, -0.6, label, ha="center", va="bottom", fontweight="bold")
    ax.set_yticks(y, steps)
    ax.set_ylim(len(steps) - 0.5, -0.6 if layout == "side" and n > 1 else -0.5)
    ax.set_xticks([])
    last = (n - 1) * gap if layout == "side" else 0.0
    room = (0.9 if n == 1 or layout == "overlay" else 0.75) * widest if annotate else 0.05 * widest
    ax.set_xlim(-widest * 0.55, last + widest * 0.5 + room)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    if by and layout == "overlay":
        ax.legend(title=" / ".join(str(b) for b in by), frameon=False, loc="lower right")
    return ax


def plot_dropoff(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    share: bool = False,
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Draw where entities leave: one horizontal bar per transition, the biggest leak marked.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.dropoff`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default the current Axes (``plt.gca()``).
    share : bool, default=False
        Bar length = ``lost_share`` instead of ``lost`` (entities).
    annotate : bool, default=True
        Label each bar with entities lost and share lost; with ``by`` groups, a
        ``*`` marks a segment whose drop differs from the rest (Holm-adjusted
        p < 0.05).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.barh`.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    InvalidParameterError
        ``result`` is not a :func:`funnelkit.dropoff` result.

    See Also
    --------
    funnelkit.dropoff : Computes the table drawn here.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 1, 2, 2, 3],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-05",
    ...                                  "2025-01-01", "2025-01-03", "2025-01-03"]),
    ...     "event": ["visit", "signup", "buy", "visit", "signup", "visit"],
    ... })
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_dropoff(fk.dropoff(ev, ["visit", "signup", "buy"]), ax=ax)
    >>> [round(p.get_width()) for p in ax.patches]
    [1, 1]
    >>> plt.close(fig)
    """
    func = "plot_dropoff"
    check_result(
        result,
        ["from_step", "to_step", "lost", "lost_share", "biggest_leak"],
        func=func,
        source="dropoff",
    )
    ax = get_ax(ax)
    if len(result) == 0:
        return _empty(ax)
    by = _by_columns(result, "from_step")
    groups = _groups(result, by)
    transitions = list(dict.fromkeys(zip(result["from_step"], result["to_step"], strict=True)))
    names = [f"{a} → {b}" if len(f"{a}{b}") <= 24 else f"{a} →\n{b}" for a, b in transitions]
    y = np.arange(len(transitions), dtype=float)
    n = len(groups)
    height = 0.8 / n
    for g, (label, rows) in enumerate(groups):
        keys = list(zip(rows["from_step"], rows["to_step"], strict=True))
        pos = y[[transitions.index(k) for k in keys]] - 0.4 + height * (g + 0.5)
        values = rows["lost_share" if share else "lost"].to_numpy(dtype=float)
        leak = rows["biggest_leak"].to_numpy(dtype=bool)
        base = color(g) if n > 1 else color(0)
        colors = [LEAK_COLOR if (n == 1 and k) else base for k in leak]
        bars = ax.barh(
            pos, np.nan_to_num(values), height=height, color=colors, label=label or None, **kwargs
        )
        if annotate:
            star = (
                rows["p_adjusted"].to_numpy(dtype=float) < 0.05
                if "p_adjusted" in rows
                else np.zeros(len(rows), dtype=bool)
            )
            texts = [
                f"{fmt_count(lost)} ({fmt_pct(s)})" + (" *" if st else "")
                for lost, s, st in zip(rows["lost"], rows["lost_share"], star, strict=True)
            ]
            ax.bar_label(bars, labels=texts, padding=3, fontsize="small")
    ax.set_yticks(y, names)
    ax.set_ylim(len(transitions) - 0.5, -0.5)
    if share:
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("share of entities lost")
    else:
        from matplotlib.ticker import FuncFormatter

        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt_count(v)))
        ax.set_xlabel("entities lost")
    ax.margins(x=0.25 if annotate else 0.05)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if by:
        ax.legend(title=" / ".join(str(b) for b in by), frameon=False)
    return ax


def _unit(max_ns: float) -> tuple[float, str]:
    """A readable time unit for durations up to ``max_ns``."""
    for ns, name in ((86_400e9, "days"), (3_600e9, "hours"), (60e9, "minutes")):
        if max_ns >= ns:
            return ns, name
    return 1e9, "seconds"


def plot_time_to_convert(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Draw time-to-convert distributions: p10–p90 line, p25–p75 box, median tick.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.time_to_convert`.  A histogram (its
        ``bins=`` result) is drawn as one step outline per group, on a log
        axis when the bins are log-spaced.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default the current Axes (``plt.gca()``).
    annotate : bool, default=True
        Label each row with its median and number of converters.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.barh` (the p25–p75 boxes; for a
        histogram, :meth:`matplotlib.axes.Axes.stairs`).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on; the x axis is in days, hours, minutes or seconds,
        whichever reads best.

    Raises
    ------
    InvalidParameterError
        ``result`` is not a :func:`funnelkit.time_to_convert` result.

    See Also
    --------
    funnelkit.time_to_convert : Computes the table drawn here.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> ev = pd.DataFrame({
    ...     "user_id": [1, 1, 2, 2, 3],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01",
    ...                                  "2025-01-04", "2025-01-03"]),
    ...     "event": ["visit", "buy", "visit", "buy", "visit"],
    ... })
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_time_to_convert(fk.time_to_convert(ev, ["visit", "buy"]), ax=ax)
    >>> ax.get_xlabel()
    'visit → buy (days)'
    >>> plt.close(fig)
    """
    func = "plot_time_to_convert"
    if isinstance(result, pd.DataFrame) and "bin_low" in result.columns:  # bins=...
        from funnelkit.plotting._event_features import plot_time_histogram

        return plot_time_histogram(result, ax=ax, **kwargs)
    cols = ["from_step", "to_step", "entities", "p10", "p25", "median", "p75", "p90"]
    check_result(result, cols, func=func, source="time_to_convert")
    ax = get_ax(ax)
    if len(result) == 0:
        return _empty(ax)
    by = _by_columns(result, "from_step")
    groups = _groups(result, by)
    ns = {c: result[c].to_numpy(dtype="timedelta64[ns]").view(np.int64) for c in cols[3:]}
    finite = ns["p90"][result["entities"].to_numpy() > 0]
    scale, unit = _unit(float(finite.max()) if finite.size else 0.0)
    v = {c: np.where(result["entities"].to_numpy() > 0, a / scale, np.nan) for c, a in ns.items()}
    y = np.arange(len(result), dtype=float)
    box_colors = [color(g) for g, (_lab, rows) in enumerate(groups) for _ in range(len(rows))]
    ax.hlines(y, v["p10"], v["p90"], colors="0.3", lw=1.5)
    ax.barh(y, v["p75"] - v["p25"], left=v["p25"], height=0.5, color=box_colors, **kwargs)
    ax.vlines(v["median"], y - 0.25, y + 0.25, colors="black", lw=2)
    if annotate:
        for yi, m, hi, c in zip(y, v["median"], v["p90"], result["entities"], strict=True):
            text = f"median {m:,.1f} {unit[0]} (n={fmt_count(c)})" if c else "no converters"
            ax.annotate(
                text,
                (0.0 if np.isnan(hi) else hi, yi),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize="small",
            )
    labels = [lab or "all" for lab, rows in groups for _ in range(len(rows))]
    ax.set_yticks(y, labels)
    ax.set_ylim(len(result) - 0.5, -0.5)
    first = result.iloc[0] if len(result) else None
    what = f"{first['from_step']} → {first['to_step']}" if first is not None else "time"
    ax.set_xlabel(f"{what} ({unit})")
    ax.margins(x=0.3 if annotate else 0.05)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax
