"""Pictures of the deal metrics: pipeline, sales cycle, win curve, leaderboard, channels."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from funnelkit._validate import check_option
from funnelkit.plotting._common import (
    MAX_COLORS,
    MISSING,
    by_title,
    check_result,
    color,
    count_axis,
    fit_columns,
    fit_rows,
    fmt_count,
    fmt_money,
    fmt_pct,
    get_ax,
    group_keys,
    label,
    legend_below,
    legend_label,
    legend_outside,
    money_axis,
    percent_axis,
    root_figure,
    set_title,
    shorten,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DAY = pd.Timedelta(days=1)


def _by_columns(result: pd.DataFrame, first_measure: str) -> list[Any]:
    """The ``by`` columns of a result: those before its first measure column."""
    cols = list(result.columns)
    return cols[: cols.index(first_measure)]


def _labels(result: pd.DataFrame, by: list[Any]) -> list[str]:
    """One text per row from the ``by`` columns (``(missing)`` for a missing key)."""
    if not by:
        return ["all deals"] * len(result)
    return [str(k) for k in group_keys(result, by)]


def _by_suffix(by: list[Any]) -> str:
    return f" by {' / '.join(str(b) for b in by)}" if by else ""


def _money_axis(ax: Axes) -> None:
    money_axis(ax.xaxis)


def plot_pipeline(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    annotate: bool = True,
    **kwargs: Any,
) -> Axes:
    """Open pipeline value per stage, weighted and unweighted.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.pipeline`; with ``by`` groups, the
        stages are summed over the groups.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default ``plt.gca()``.
    annotate : bool, default=True
        Write the value, weighted value and deal count beside each bar.
    **kwargs
        Passed to the ``ax.barh`` call that draws the value bars.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.  One horizontal bar per stage (first stage on
        top): a light bar for the value and, when probabilities are known, a
        dark bar for the weighted value inside it.  When no open deal has an
        amount (every ``value`` missing), the bars are the open deals
        instead, and the labels say "value unknown".

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> res = pd.DataFrame({"stage": ["contact", "proposal"], "open": [3, 2],
    ...                     "value": [300.0, 500.0], "closed": [10, 8],
    ...                     "win_probability": [0.2, 0.5], "win_probability_low": [0.1, 0.3],
    ...                     "win_probability_high": [0.4, 0.7], "weighted_value": [60.0, 250.0],
    ...                     "mean_age": pd.to_timedelta([5, 9], unit="D")})
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_pipeline(res, ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['contact', 'proposal']
    >>> plt.close(fig)
    """
    func = "plot_pipeline"
    res = check_result(
        result, ["stage", "open", "value", "weighted_value"], func=func, source="pipeline"
    )
    table = res.groupby("stage", sort=False)[["open", "value", "weighted_value"]].sum(min_count=1)
    ax = get_ax(ax, rows=len(table))
    y = np.arange(len(table))
    values = table["value"].to_numpy(dtype=float)
    counts = table["open"].to_numpy(dtype=float)
    unknown = bool(np.isnan(values).all()) and len(table) > 0
    # no stage has a known amount: draw the open deals instead of bars of length 0
    drawn = counts if unknown else np.nan_to_num(values)
    kw: dict[str, Any] = {"color": color(4), "label": "open deals" if unknown else "value"}
    bars = ax.barh(y, drawn, **(kw | kwargs))
    weighted = table["weighted_value"].to_numpy(dtype=float)
    has_weighted = not np.isnan(weighted).all()
    if has_weighted:
        ax.barh(y, np.nan_to_num(weighted), height=0.4, color=color(0), label="weighted value")
    notes: list[Any] = []
    if annotate:
        texts = []
        for n, v, w in zip(table["open"], values, weighted, strict=True):
            text = "value unknown" if np.isnan(v) else f"{fmt_money(v)}"
            if not np.isnan(w):
                text += f" (weighted {fmt_money(w)})"
            texts.append(f"{text} · {int(n):,} deals")
        notes = ax.bar_label(bars, labels=texts, padding=3, fontsize="small")
    ax.set_yticks(y, [label(s) for s in table.index])
    ax.set_ylim(len(table) - 0.5, -0.5)
    if unknown:
        count_axis(ax.xaxis)
        ax.set_xlabel("open deals (no open deal has an amount)")
    else:
        _money_axis(ax)
        ax.set_xlabel("open pipeline value")
    set_title(ax, "Open pipeline by stage")
    ax.margins(x=0.45 if annotate else 0.05)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    legend_below(ax, ncols=2)
    fit_rows(ax, notes, compact=True)
    return ax


def plot_sales_cycle(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Sales cycle per group: quartile range, naive and censoring-aware medians.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.sales_cycle`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default ``plt.gca()``.
    **kwargs
        Passed to the ``ax.hlines`` call that draws the naive p25–p75 ranges.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.  One row per group (first on top), in days: a
        line from the naive p25 to p75, a circle at the naive median and a
        diamond at the censoring-aware ``median``; tick labels give the group
        and ``deals`` / ``open`` (shown as "n=…, … open").

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> d = pd.to_timedelta
    >>> res = pd.DataFrame({"outcome": ["won"], "deals": [40], "other_outcome": [30],
    ...                     "open": [12], "median": d([31], unit="D"),
    ...                     "naive_mean": d([30], unit="D"), "naive_median": d([25], unit="D"),
    ...                     "naive_p25": d([12], unit="D"), "naive_p75": d([41], unit="D"),
    ...                     "naive_p90": d([60], unit="D")})
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_sales_cycle(res, ax=ax)
    >>> ax.get_yticklabels()[0].get_text()
    'all deals (n=40, 12 open)'
    >>> plt.close(fig)
    """
    func = "plot_sales_cycle"
    res = check_result(
        result,
        ["outcome", "deals", "open", "median", "naive_median", "naive_p25", "naive_p75"],
        func=func,
        source="sales_cycle",
    )
    by = _by_columns(res, "outcome")
    ax = get_ax(ax, rows=len(res))
    labels = _labels(res, by)
    y = np.arange(len(res))

    def days(col: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.asarray(res[col] / DAY, dtype=np.float64)

    p25, p75 = days("naive_p25"), days("naive_p75")
    kw: dict[str, Any] = {"color": color(0), "alpha": 0.35, "height": 0.5, "label": "p25–p75"}
    kw |= kwargs
    ax.barh(y, np.nan_to_num(p75 - p25), left=np.nan_to_num(p25), **kw)
    naive, adjusted = days("naive_median"), days("median")
    ax.plot(naive, y, "o", color=color(0), label="median of closed deals only")
    ax.plot(adjusted, y, "D", color=color(5), label="median adjusted for open deals")
    notes: list[Any] = []
    stacked = np.vstack([p75, naive, adjusted])
    right = np.where(
        np.isnan(stacked).all(axis=0), 0.0, np.nan_to_num(stacked, nan=-np.inf).max(axis=0)
    )
    for yi, m, a, r in zip(y, naive, adjusted, right, strict=True):
        text = "adjusted " + ("not reached" if np.isnan(a) else f"{a:,.0f} d")
        text += " · closed only " + ("–" if np.isnan(m) else f"{m:,.0f} d")
        notes.append(
            ax.annotate(
                text, (0.0 if np.isnan(r) else r, yi), xytext=(6, 0), textcoords="offset points",
                va="center", fontsize="small",
            )
        )  # fmt: skip
    ticks = [
        label(f"{shorten(lab, 28)} (n={n:,}, {o:,} open)", 60)
        for lab, n, o in zip(labels, res["deals"], res["open"], strict=True)
    ]
    ax.set_yticks(y, ticks)
    ax.set_ylim(len(res) - 0.5, -0.5)
    outcome = str(res["outcome"].iloc[0]) if len(res) else "won"
    ax.set_xlim(left=0)
    ax.margins(x=0.45)
    ax.set_xlabel(f"days from created to {outcome}")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    set_title(ax, f"Sales cycle (created to {outcome}){_by_suffix(by)}")
    legend_below(ax, ncols=3)
    fit_rows(ax, notes, compact=True)
    return ax


def plot_win_curve(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    band: bool = True,
    **kwargs: Any,
) -> Axes:
    """Probability of winning within t days, one step curve per group, with bands.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.win_curve`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default ``plt.gca()``.
    band : bool, default=True
        Shade the pointwise interval.
    **kwargs
        Passed to each ``ax.step`` call that draws a curve.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.  Each curve starts at (0 days, 0%) and steps up
        at each win; the legend gives each group's last probability.  With
        more than 8 groups (one colour each would not be distinct), one row
        per group instead: the chance of winning by its last day, with the
        interval.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> res = pd.DataFrame({"t": pd.to_timedelta([10, 20], unit="D"), "at_risk": [4, 3],
    ...                     "won": [1, 0], "lost": [0, 1], "cumulative_win": [0.25, 0.25],
    ...                     "cumulative_win_low": [0.04, 0.04], "cumulative_win_high": [0.7, 0.7]})
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_win_curve(res, ax=ax)
    >>> ax.get_lines()[0].get_ydata().tolist()
    [0.0, 0.25, 0.25]
    >>> plt.close(fig)
    """
    func = "plot_win_curve"
    res = check_result(
        result,
        ["t", "cumulative_win", "cumulative_win_low", "cumulative_win_high"],
        func=func,
        source="win_curve",
    )
    by = _by_columns(res, "t")
    blocks: list[tuple[pd.DataFrame, str | None]]
    if by:
        keys = group_keys(res, by)
        blocks = [(res[keys == k], str(k)) for k in dict.fromkeys(keys)]
    else:
        blocks = [(res, None)]
    many = len(blocks) > MAX_COLORS
    ax = get_ax(ax, rows=len(blocks) if many else 0)
    title = "Win curve (open deals censored, losses competing)" + _by_suffix(by)
    if many:
        return _win_dots(ax, blocks, title=title)
    for i, (block, name) in enumerate(blocks):
        t = np.concatenate(([0.0], np.asarray(block["t"] / DAY, dtype=float)))
        p = np.concatenate(([0.0], block["cumulative_win"].to_numpy(dtype=float)))
        shown = None if name is None else f"{shorten(name, 28)} ({fmt_pct(p[-1], 0)})"
        kw: dict[str, Any] = {"color": color(i), "where": "post"} | kwargs
        (line,) = ax.step(t, p, label=None if shown is None else legend_label(shown, 40), **kw)
        if band:
            lo = np.concatenate(([0.0], block["cumulative_win_low"].to_numpy(dtype=float)))
            hi = np.concatenate(([0.0], block["cumulative_win_high"].to_numpy(dtype=float)))
            ax.fill_between(t, lo, hi, step="post", color=line.get_color(), alpha=0.2, lw=0)
        if name is None:
            ax.annotate(
                fmt_pct(p[-1]), (t[-1], p[-1]), xytext=(4, 0), textcoords="offset points",
                va="center", fontsize="small", color=line.get_color(),
            )  # fmt: skip
    percent_axis(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.margins(x=0.08)
    ax.set_xlabel("days since the deal was created")
    ax.set_ylabel("won within t days")
    set_title(ax, title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if by:
        legend_outside(ax, title=f"{by_title(by)} (won by the end)")
    return ax


def _win_dots(ax: Axes, blocks: list[tuple[pd.DataFrame, str | None]], *, title: str) -> Axes:
    """Many groups: one row per group, the chance of winning by its last day, with interval."""
    end = np.array([float(b["t"].iloc[-1] / DAY) if len(b) else np.nan for b, _ in blocks])
    p = np.array([float(b["cumulative_win"].iloc[-1]) if len(b) else np.nan for b, _ in blocks])
    lo = np.array(
        [float(b["cumulative_win_low"].iloc[-1]) if len(b) else np.nan for b, _ in blocks]
    )
    hi = np.array(
        [float(b["cumulative_win_high"].iloc[-1]) if len(b) else np.nan for b, _ in blocks]
    )
    y = np.arange(len(blocks), dtype=float)
    err = np.nan_to_num(np.vstack([p - lo, hi - p]))
    ax.errorbar(p, y, xerr=err, fmt="o", color=color(0), capsize=3, label="won by the last day")
    notes = [
        ax.annotate(
            f"{fmt_pct(pi, 0)} by day {ei:,.0f}", (1.0, yi), xycoords=("axes fraction", "data"),
            xytext=(6, 0), textcoords="offset points", va="center", fontsize="small",
        )
        for yi, pi, ei in zip(y, p, end, strict=True)
    ]  # fmt: skip
    ax.set_yticks(y, [label(name) for _, name in blocks])
    ax.set_ylim(len(blocks) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    percent_axis(ax.xaxis)
    ax.set_xlabel("won by the group's last day (interval: pointwise)")
    set_title(ax, title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fit_rows(ax, notes, compact=True)
    return ax


def plot_leaderboard(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Rep win rates with intervals, and the shrunk rate they are ranked by.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.leaderboard`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default ``plt.gca()``.
    **kwargs
        Passed to the ``ax.errorbar`` call that draws the raw rates.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.  One row per rep in rank order (best on top): a
        dot at the raw win rate with its Wilson interval, a diamond at
        ``win_rate_shrunk``; tick labels give rank, rep and won / closed.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> res = pd.DataFrame({"owner": ["ann", "bob"], "rank": [1, 2], "deals": [130, 2],
    ...                     "won": [80, 2], "lost": [40, 0], "open": [10, 0],
    ...                     "won_value": [8e5, 2e4], "win_rate": [0.667, 1.0],
    ...                     "win_rate_low": [0.58, 0.34], "win_rate_high": [0.74, 1.0],
    ...                     "win_rate_shrunk": [0.66, 0.62],
    ...                     "naive_median_cycle": pd.to_timedelta([30, 12], unit="D"),
    ...                     "open_value": [1e5, 0.0]})
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_leaderboard(res, ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['1. ann (80/120)', '2. bob (2/2)']
    >>> plt.close(fig)
    """
    func = "plot_leaderboard"
    res = check_result(
        result,
        ["rank", "won", "lost", "win_rate", "win_rate_low", "win_rate_high", "win_rate_shrunk"],
        func=func,
        source="leaderboard",
    )
    ax = get_ax(ax, rows=len(res))
    res = res.sort_values("rank", kind="stable")
    owner = res.columns[0]
    y = np.arange(len(res))
    rate = res["win_rate"].to_numpy(dtype=float)
    err = np.nan_to_num(np.vstack([rate - res["win_rate_low"], res["win_rate_high"] - rate]))
    kw: dict[str, Any] = {"fmt": "o", "color": color(0), "capsize": 3}
    kw["label"] = "win rate (Wilson interval)"
    ax.errorbar(rate, y, xerr=err, **(kw | kwargs))
    shrunk = res["win_rate_shrunk"].to_numpy(dtype=float)
    ax.plot(shrunk, y, "D", color=color(5), label="shrunk toward the team (ranked by)")
    notes = [
        ax.annotate(
            fmt_pct(s), (1.0, yi), xycoords=("axes fraction", "data"), xytext=(6, 0),
            textcoords="offset points", va="center", fontsize="small", color=color(5),
        )
        for yi, s in zip(y, shrunk, strict=True)
    ]  # fmt: skip
    closed = res["won"] + res["lost"]
    owners = [MISSING if pd.isna(o) else o for o in res[owner]]
    ticks = [
        label(f"{r}. {shorten(o, 26)} ({w:,}/{c:,})", 48)
        for r, o, w, c in zip(res["rank"], owners, res["won"], closed, strict=True)
    ]
    ax.set_yticks(y, ticks)
    ax.set_ylim(len(res) - 0.5, -0.5)
    top = np.nanmax(np.r_[res["win_rate_high"].to_numpy(dtype=float), shrunk, 0.05])
    ax.set_xlim(0, min(1.0, float(top) * 1.05))
    percent_axis(ax.xaxis)
    ax.set_xlabel("win rate (won / closed)")
    set_title(ax, "Rep leaderboard (ranked by the shrunk win rate, right)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _legend_right_of_notes(ax)
    fit_rows(ax, notes, compact=True)
    return ax


#: Panels of :func:`plot_channel_yield` with ``metric="auto"``.
AUTO_METRICS = {
    True: ("won_value", "cost", "cost_per_won", "roi"),  # costs known
    False: ("leads", "lead_to_won", "won_value"),
}

_METRIC_NAMES = {
    "won_value": "value won",
    "lead_to_won": "leads won (won / leads)",
    "won_value_per_lead": "value won per lead",
    "roi": "ROI = (value won - cost) / cost",
    "leads": "leads",
    "cost": "cost",
    "cost_per_won": "cost per won deal",
}

_METRICS = [
    "auto",
    "won_value",
    "lead_to_won",
    "won_value_per_lead",
    "roi",
    "leads",
    "cost",
    "cost_per_won",
]


def _metric_text(metric: str, v: float) -> str:
    if np.isnan(v):
        return "–"
    if metric == "roi":
        return f"{v:,.1f}×"
    if metric == "leads":
        return fmt_count(v)
    if metric == "lead_to_won":
        return fmt_pct(v)
    return fmt_money(v)


def _legend_right_of_notes(ax: Axes) -> None:
    """The legend right of the Axes, past the column of notes drawn there."""
    from matplotlib.transforms import offset_copy

    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        bbox_transform=offset_copy(ax.transAxes, fig=root_figure(ax), x=48, units="points"),
        frameon=False,
        fontsize="small",
        borderaxespad=0.0,
    )


def plot_channel_yield(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    metric: Literal[
        "auto",
        "won_value",
        "lead_to_won",
        "won_value_per_lead",
        "roi",
        "leads",
        "cost",
        "cost_per_won",
    ] = "auto",
    **kwargs: Any,
) -> Axes:
    """Channels side by side on what they bring and what they cost, or on one measure.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.channel_yield`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default ``plt.gca()``.
    metric : {"auto", "won_value", "lead_to_won", "won_value_per_lead", "roi", "leads", "cost", \
"cost_per_won"}, default="auto"
        The column drawn.  ``"auto"`` draws one panel per measure, side by
        side, the channels as rows: value won, cost, cost per won deal and
        ROI when the result was computed with ``costs``; leads, leads won and
        value won otherwise.  The first release's ``"revenue"``,
        ``"conversion"`` and ``"revenue_per_lead"`` still work for one
        release, with a FutureWarning.  ``"roi"``, ``"cost"`` and ``"cost_per_won"`` need
        a result computed with ``costs``.
    **kwargs
        Passed to the ``ax.barh`` call (each panel's, with ``"auto"``).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: channels in the result's order (highest revenue
        on top), bars labelled with the value and, for conversion alone, its
        interval drawn as whiskers.  Panels share one Axes; each panel's bars
        are scaled to its own largest value, their labels give the values.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> res = pd.DataFrame({"channel": ["seo", "ads"], "leads": [30, 40], "won": [6, 4],
    ...                     "open": [3, 5], "lead_to_won": [0.2, 0.1],
    ...                     "lead_to_won_low": [0.1, 0.04], "lead_to_won_high": [0.37, 0.23],
    ...                     "won_value": [6000.0, 2500.0], "won_value_per_lead": [200.0, 62.5],
    ...                     "avg_won_deal": [1000.0, 625.0]})
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = fk.plot_channel_yield(res, ax=ax, metric="won_value")
    >>> [float(p.get_width()) for p in ax.patches]
    [6000.0, 2500.0]
    >>> ax = fk.plot_channel_yield(res, ax=plt.figure().subplots())
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['leads', 'leads won (won / leads)', 'value won']
    >>> plt.close("all")
    """
    func = "plot_channel_yield"
    renamed = {"revenue": "won_value", "conversion": "lead_to_won",
               "revenue_per_lead": "won_value_per_lead"}  # fmt: skip
    if metric in renamed:
        warnings.warn(
            f"plot_channel_yield(metric={metric!r}) is now metric={renamed[metric]!r} "
            f"(channel_yield's column was renamed); {metric!r} will stop working in the "
            "next release.",
            FutureWarning,
            stacklevel=2,
        )
        metric = renamed[metric]  # type: ignore[assignment]
    check_option(metric, _METRICS, name="metric", func=func)
    if metric == "auto":
        check_result(
            result, ["leads", "lead_to_won", "won_value"], func=func, source="channel_yield"
        )
        has_cost = "cost" in result.columns and bool(result["cost"].notna().any())
        metrics = [m for m in AUTO_METRICS[has_cost] if m in result.columns]
    else:
        metrics = [metric]
    res = check_result(
        result, ["leads", "lead_to_won", *metrics], func=func, source="channel_yield"
    )
    ax = get_ax(ax, rows=len(res))
    channel = res.columns[0]
    y = np.arange(len(res))
    channels = [MISSING if pd.isna(c) else c for c in res[channel]]
    ax.set_yticks(y, [label(c) for c in channels])
    ax.set_ylim(len(res) - 0.5, -0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if metric == "auto":
        panel_notes = _yield_panels(ax, res, metrics, **kwargs)
        set_title(
            ax, "Channel yield: " + ", ".join(_METRIC_NAMES[m].split(" = ")[0] for m in metrics)
        )
        fit_rows(ax, panel_notes, compact=True)
        fit_columns(ax)
        return ax
    values = res[metric].to_numpy(dtype=float)
    kw: dict[str, Any] = {"color": color(0)}
    if metric == "lead_to_won":
        lo = values - res["lead_to_won_low"].to_numpy(dtype=float)
        hi = res["lead_to_won_high"].to_numpy(dtype=float) - values
        kw["xerr"] = np.nan_to_num(np.vstack([lo, hi]))
        kw["error_kw"] = {"ecolor": "0.3", "capsize": 3}
    bars = ax.barh(y, np.nan_to_num(values), **(kw | kwargs))
    notes: list[Any] = []
    if metric == "lead_to_won":
        # labels past the whiskers
        high = np.nan_to_num(res["lead_to_won_high"].to_numpy(dtype=float))
        for yi, h, v in zip(y, high, values, strict=True):
            notes.append(
                ax.annotate(
                    fmt_pct(v), (h, yi), xytext=(3, 0), textcoords="offset points", va="center",
                    fontsize="small",
                )
            )  # fmt: skip
    else:
        labels = [_metric_text(metric, v) for v in values]
        notes = ax.bar_label(bars, labels=labels, padding=3, fontsize="small")
    if metric == "lead_to_won":
        percent_axis(ax.xaxis)
    elif metric in ("won_value", "won_value_per_lead", "cost", "cost_per_won"):
        _money_axis(ax)
    ax.set_xlabel(_METRIC_NAMES[metric])
    set_title(ax, f"Channel yield: {_METRIC_NAMES[metric]}")
    ax.margins(x=0.2)
    fit_rows(ax, notes, compact=True)
    return ax


def _yield_panels(ax: Axes, res: pd.DataFrame, metrics: list[str], **kwargs: Any) -> list[Any]:
    """One panel per measure in one Axes: bars scaled to the panel, labelled with the value."""
    y = np.arange(len(res), dtype=float)
    width, gap = 0.6, 0.4  # bar room and label room of a panel, in x units
    notes: list[Any] = []
    for k, metric in enumerate(metrics):
        values = res[metric].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        lo = min(0.0, float(finite.min())) if finite.size else 0.0
        hi = max(0.0, float(finite.max())) if finite.size else 1.0
        scale = width / (hi - lo) if hi > lo else 0.0
        zero = k * (width + gap) + (-lo) * scale
        lengths = np.nan_to_num(values) * scale
        kw: dict[str, Any] = {"color": color(k), "height": 0.7} | kwargs
        ax.barh(y, lengths, left=zero, **kw)
        ax.axvline(zero, color="0.6", lw=0.8)
        for yi, v, length in zip(y, values, lengths, strict=True):
            notes.append(
                ax.annotate(
                    _metric_text(metric, v), (zero + max(length, 0.0), yi), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize="small",
                )
            )  # fmt: skip
    ax.set_xlim(-0.02, len(metrics) * (width + gap) - gap * 0.2)
    ax.set_xticks(
        [k * (width + gap) + width / 2 for k in range(len(metrics))],
        [_METRIC_NAMES[m].split(" = ")[0] for m in metrics],
    )
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", length=0)
    ax.spines["bottom"].set_visible(False)
    if "roi" in metrics:
        ax.set_xlabel("ROI = (value won - cost) / cost; bars scaled within each panel")
    else:
        ax.set_xlabel("bars scaled within each panel")
    return notes
