"""Pictures of event funnels: ``plot_funnel``, ``plot_dropoff``, ``plot_time_to_convert``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from funnelkit.errors import InvalidParameterError
from funnelkit.plotting._common import (
    PALETTE,
    by_title,
    check_result,
    color,
    count_axis,
    fit_rows,
    fmt_count,
    fmt_pct,
    footnote,
    get_ax,
    group_keys,
    heatmap,
    label,
    legend_below,
    legend_label,
    legend_outside,
    no_data,
    percent_axis,
    set_title,
    shorten,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_dropoff", "plot_funnel", "plot_time_to_convert"]

#: Colour of the biggest leak in :func:`plot_dropoff` (Okabe–Ito vermillion).
LEAK_COLOR = PALETTE[5]

#: Most groups drawn as bars (side by side, overlaid or grouped); more groups
#: are drawn as a heatmap, one row per group.
MAX_BAR_GROUPS = 4


def _by_columns(result: pd.DataFrame, key: str) -> list[Any]:
    """The by columns of a result: every column before ``key``."""
    cols = list(result.columns)
    return cols[: cols.index(key)]


def _groups(result: pd.DataFrame, by: list[Any]) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows) per group, in the result's order; a missing key is ``(missing)``."""
    if not by:
        return [("", result)]
    keys = group_keys(result, by)
    order = list(dict.fromkeys(keys))
    return [(lab, result[keys == lab]) for lab in order]


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
    return no_data(ax)


def _by_suffix(by: list[Any]) -> str:
    return f" by {' / '.join(str(b) for b in by)}" if by else ""


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
        groups (``"overlay"``).  With more than 4 groups (``MAX_BAR_GROUPS``)
        either layout becomes a heatmap: one row per group, one cell per
        step, coloured by the share of the group's first step.
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
    steps = list(dict.fromkeys(result["step"]))
    by = _by_columns(result, "step")
    groups = _groups(result, by)
    n = len(groups)
    ax = get_ax(ax, rows=n * len(steps) if n > MAX_BAR_GROUPS else len(steps))
    if len(result) == 0:
        return _empty(ax)
    title = "Conversion through the funnel" + _by_suffix(by)
    if by and n == 1:
        title += f": {shorten(groups[0][0], 28)}"
    if n > MAX_BAR_GROUPS:
        return _funnel_heatmap(ax, groups, steps, title=title)
    y = np.arange(len(steps), dtype=float)
    widest = float(result["entities"].max()) if len(result) else 1.0
    height = 0.8 if layout == "side" or n == 1 else 0.8 / n
    gap = widest * (1.9 if annotate else 1.15)
    notes: list[Any] = []
    for g, (name, rows) in enumerate(groups):
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
            label=legend_label(name) if name else None,
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
            short = n > 1
            notes += ax.bar_label(
                bars, labels=funnel_labels(rows, short=short), padding=4, fontsize="small"
            )
        if layout == "side" and n > 1:
            ax.text(
                centre, -0.6, label(name, max(8, 40 // n)), ha="center", va="bottom",
                fontweight="bold", fontsize="small",
            )  # fmt: skip
    ax.set_yticks(y, [label(s) for s in steps])
    ax.set_ylim(len(steps) - 0.5, -0.6 if layout == "side" and n > 1 else -0.5)
    ax.set_xticks([])
    last = (n - 1) * gap if layout == "side" else 0.0
    room = (0.9 if n == 1 or layout == "overlay" else 0.75) * widest if annotate else 0.05 * widest
    ax.set_xlim(-widest * 0.55, last + widest * 0.5 + room)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    set_title(ax, title)
    if by and layout == "overlay":
        legend_outside(ax, title=by_title(by))
    fit_rows(ax, notes, per_row=n if layout == "overlay" else 1)
    return ax


def _funnel_heatmap(
    ax: Axes, groups: list[tuple[str, pd.DataFrame]], steps: list[Any], *, title: str
) -> Axes:
    """Many groups: one row per group, one cell per step, coloured by the share of step 1."""
    set_title(ax, title)
    share = np.full((len(groups), len(steps)), np.nan)
    texts = np.full(share.shape, "", dtype=object)
    for r, (_name, rows) in enumerate(groups):
        for step, n, overall in zip(rows["step"], rows["entities"], rows["overall"], strict=True):
            c = steps.index(step)
            share[r, c] = overall
            texts[r, c] = f"{fmt_pct(overall, 0)} · {fmt_count(n)}"
    heatmap(
        ax,
        share,
        rows=[label(name) for name, _ in groups],
        columns=[label(s, 18) for s in steps],
        texts=texts,
        vmin=0.0,
        vmax=1.0,
        colorbar="share of the group's first step",
        percent=True,
    )
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
        ``*`` marks a segment whose drop differs from the rest (``p_adjusted``
        < 0.05, Holm within the transition), explained in a footnote.  With more than 4 groups the
        picture is a heatmap of the share lost, one row per group.
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
    by = _by_columns(result, "from_step")
    groups = _groups(result, by)
    n = len(groups)
    transitions = list(dict.fromkeys(zip(result["from_step"], result["to_step"], strict=True)))
    ax = get_ax(ax, rows=n if n > MAX_BAR_GROUPS else len(transitions) * 2)
    if len(result) == 0:
        return _empty(ax)
    title = "Where entities drop off" + _by_suffix(by)
    if by and n == 1:
        title += f": {shorten(groups[0][0], 28)}"
    star_note = "* the drop differs from the other groups' (Holm-adjusted p < 0.05)"
    if n > MAX_BAR_GROUPS:
        return _dropoff_heatmap(ax, groups, transitions, title=title, star_note=star_note)
    names = [_transition(a, b) for a, b in transitions]
    y = np.arange(len(transitions), dtype=float)
    height = 0.8 / n
    notes: list[Any] = []
    starred = False
    for g, (name, rows) in enumerate(groups):
        keys = list(zip(rows["from_step"], rows["to_step"], strict=True))
        pos = y[[transitions.index(k) for k in keys]] - 0.4 + height * (g + 0.5)
        values = rows["lost_share" if share else "lost"].to_numpy(dtype=float)
        leak = rows["biggest_leak"].to_numpy(dtype=bool)
        base = color(g) if n > 1 else color(0)
        colors = [LEAK_COLOR if (n == 1 and k) else base for k in leak]
        bars = ax.barh(
            pos,
            np.nan_to_num(values),
            height=height,
            color=colors,
            label=legend_label(name) if name else None,
            **kwargs,
        )
        if annotate:
            star = _stars(rows)
            starred = starred or bool(star.any())
            texts = [
                f"{fmt_count(lost)} ({fmt_pct(s)})" + (" *" if st else "")
                for lost, s, st in zip(rows["lost"], rows["lost_share"], star, strict=True)
            ]
            notes += ax.bar_label(bars, labels=texts, padding=3, fontsize="small")
    ax.set_yticks(y, names)
    ax.set_ylim(len(transitions) - 0.5, -0.5)
    if share:
        percent_axis(ax.xaxis)
        ax.set_xlabel("share of entities lost")
    else:
        count_axis(ax.xaxis)
        ax.set_xlabel("entities lost")
    ax.margins(x=0.25 if annotate else 0.05)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    set_title(ax, title)
    if n == 1 and bool(result["biggest_leak"].any()):
        from matplotlib.patches import Patch

        ax.legend(
            handles=[Patch(color=LEAK_COLOR, label="biggest leak")],
            loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize="small",
        )  # fmt: skip
    if by and n > 1:
        legend_outside(ax, title=by_title(by))
    if starred:
        footnote(ax, star_note)
    lines = max((nm.count("\n") + 1 for nm in names), default=1)
    fit_rows(ax, notes, lines=lines, per_row=n)
    return ax


def _transition(a: Any, b: Any) -> str:
    """``'a → b'``, on two lines when long; each step shortened."""
    a, b = shorten(a, 24), shorten(b, 24)
    text = f"{a} → {b}" if len(a) + len(b) <= 24 else f"{a} →\n{b}"
    return text.replace("$", r"\$")


def _stars(rows: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if "p_adjusted" not in rows:
        return np.zeros(len(rows), dtype=bool)
    return np.asarray(rows["p_adjusted"].to_numpy(dtype=float) < 0.05, dtype=bool)


def _dropoff_heatmap(
    ax: Axes,
    groups: list[tuple[str, pd.DataFrame]],
    transitions: list[tuple[Any, Any]],
    *,
    title: str,
    star_note: str,
) -> Axes:
    """Many groups: one row per group, one cell per transition, coloured by the share lost."""
    set_title(ax, title)
    lost = np.full((len(groups), len(transitions)), np.nan)
    texts = np.full(lost.shape, "", dtype=object)
    starred = False
    for r, (_name, rows) in enumerate(groups):
        keys = zip(rows["from_step"], rows["to_step"], strict=True)
        for key, s, st in zip(keys, rows["lost_share"], _stars(rows), strict=True):
            c = transitions.index(key)
            lost[r, c] = s
            texts[r, c] = fmt_pct(s, 0) + (" *" if st else "")
            starred = starred or bool(st)
    if starred:
        footnote(ax, star_note)
    heatmap(
        ax,
        lost,
        rows=[label(name) for name, _ in groups],
        columns=[label(f"→ {b}", 18) for _a, b in transitions],
        texts=texts,
        cmap="Oranges",
        vmin=0.0,
        vmax=1.0,
        colorbar="share lost at the step",
        percent=True,
    )
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
    ax = get_ax(ax, rows=len(result))
    if len(result) == 0:
        return _empty(ax)
    by = _by_columns(result, "from_step")
    groups = _groups(result, by)
    ns = {c: result[c].to_numpy(dtype="timedelta64[ns]").view(np.int64) for c in cols[3:]}
    finite = ns["p90"][result["entities"].to_numpy() > 0]
    scale, unit = _unit(float(finite.max()) if finite.size else 0.0)
    v = {c: np.where(result["entities"].to_numpy() > 0, a / scale, np.nan) for c, a in ns.items()}
    y = np.arange(len(result), dtype=float)
    ax.hlines(y, v["p10"], v["p90"], colors="0.3", lw=1.5, label="p10–p90")
    kw: dict[str, Any] = {"color": color(0), "label": "p25–p75"} | kwargs
    ax.barh(y, v["p75"] - v["p25"], left=v["p25"], height=0.5, **kw)
    ax.vlines(v["median"], y - 0.25, y + 0.25, colors="black", lw=2, label="median")
    notes: list[Any] = []
    if annotate:
        for yi, m, hi, c in zip(y, v["median"], v["p90"], result["entities"], strict=True):
            text = f"median {m:,.1f} {unit[0]} (n={fmt_count(c)})" if c else "no converters"
            notes.append(
                ax.annotate(
                    text,
                    (0.0 if np.isnan(hi) else hi, yi),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize="small",
                )
            )
    transitions = list(dict.fromkeys(zip(result["from_step"], result["to_step"], strict=True)))
    several = len(transitions) > 1
    labels = []
    for name, rows in groups:
        for a, b in zip(rows["from_step"], rows["to_step"], strict=True):
            parts = [shorten(name, 24)] if name else []
            if several or not name:
                parts.append(f"{shorten(a, 14)} → {shorten(b, 14)}" if several else "all")
            labels.append(label(" · ".join(parts), 40))
    ax.set_yticks(y, labels)
    ax.set_ylim(len(result) - 0.5, -0.5)
    first = result.iloc[0]
    what = f"{shorten(first['from_step'], 24)} → {shorten(first['to_step'], 24)}"
    ax.set_xlabel(label(f"{'time between steps' if several else what} ({unit})", 60))
    ax.set_xlim(left=0)
    ax.margins(x=0.3 if annotate else 0.05)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    set_title(ax, ("Time to convert" if several else f"Time to convert, {what}") + _by_suffix(by))
    legend_below(ax, ncols=3)
    fit_rows(ax, notes, compact=True)
    return ax
