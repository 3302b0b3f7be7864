"""Pictures of the deal metrics: pipeline, sales cycle, win curve, leaderboard, channels."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from funnelkit._validate import check_option
from funnelkit.plotting._common import check_result, color, fmt_money, fmt_pct, get_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DAY = pd.Timedelta(days=1)


def _by_columns(result: pd.DataFrame, first_measure: str) -> list[Any]:
    """The ``by`` columns of a result: those before its first measure column."""
    cols = list(result.columns)
    return cols[: cols.index(first_measure)]


def _labels(result: pd.DataFrame, by: list[Any]) -> list[str]:
    if not by:
        return ["all deals"] * len(result)
    parts = result[by].astype(object).where(result[by].notna(), "(missing)").astype(str)
    return [" / ".join(row) for row in parts.itertuples(index=False, name=None)]


def _money_axis(ax: Axes) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_money(v)))


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
        dark bar for the weighted value inside it.

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
    ax = get_ax(ax)
    table = res.groupby("stage", sort=False)[["open", "value", "weighted_value"]].sum(min_count=1)
    y = np.arange(len(table))
    kw: dict[str, Any] = {"color": color(4), "label": "value"} | kwargs
    bars = ax.barh(y, table["value"].to_numpy(dtype=float), **kw)
    weighted = table["weighted_value"].to_numpy(dtype=float)
    has_weighted = not np.isnan(weighted).all()
    if has_weighted:
        ax.barh(y, np.nan_to_num(weighted), height=0.4, color=color(0), label="weighted value")
    if annotate:
        texts = []
        for n, v, w in zip(table["open"], table["value"], weighted, strict=True):
            text = f"{fmt_money(v)}"
            if not np.isnan(w):
                text += f" (weighted {fmt_money(w)})"
            texts.append(f"{text} · {int(n):,} deals")
        ax.bar_label(bars, labels=texts, padding=3, fontsize="small")
    ax.set_yticks(y, [str(s) for s in table.index])
    ax.invert_yaxis()
    _money_axis(ax)
    ax.set_xlabel("open pipeline value")
    ax.set_title("Open pipeline by stage")
    ax.margins(x=0.35)
    ax.legend(loc="lower right", frameon=False)
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
        and ``n`` / ``open``.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> d = pd.to_timedelta
    >>> res = pd.DataFrame({"outcome": ["won"], "n": [40], "n_other": [30], "open": [12],
    ...                     "median": d([31], unit="D"), "naive_mean": d([30], unit="D"),
    ...                     "naive_median": d([25], unit="D"), "naive_p25": d([12], unit="D"),
    ...                     "naive_p75": d([41], unit="D"), "naive_p90": d([60], unit="D")})
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
        ["outcome", "n", "open", "median", "naive_median", "naive_p25", "naive_p75"],
        func=func,
        source="sales_cycle",
    )
    ax = get_ax(ax)
    labels = _labels(res, _by_columns(res, "outcome"))
    y = np.arange(len(res))

    def days(col: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        return np.asarray(res[col] / DAY, dtype=np.float64)

    kw: dict[str, Any] = {"color": color(0), "linewidth": 3, "alpha": 0.6, "label": "p25–p75"}
    kw |= kwargs
    ax.hlines(y, days("naive_p25"), days("naive_p75"), **kw)
    ax.plot(days("naive_median"), y, "o", color=color(0), label="median (closed deals only)")
    ax.plot(days("median"), y, "D", color=color(5), label="median adjusted for open deals")
    for yi, m, a in zip(y, days("naive_median"), days("median"), strict=True):
        if not np.isnan(a):
            ax.annotate(
                f"{a:,.0f} d", (a, yi), xytext=(0, 7), textcoords="offset points",
                ha="center", fontsize="small", color=color(5),
            )  # fmt: skip
        if not np.isnan(m):
            ax.annotate(
                f"{m:,.0f} d", (m, yi), xytext=(0, -12), textcoords="offset points",
                ha="center", fontsize="small", color=color(0),
            )  # fmt: skip
    ticks = [
        f"{lab} (n={n:,}, {o:,} open)"
        for lab, n, o in zip(labels, res["n"], res["open"], strict=True)
    ]
    ax.set_yticks(y, ticks)
    ax.set_ylim(len(res) - 0.5, -0.5)
    outcome = str(res["outcome"].iloc[0]) if len(res) else "won"
    ax.set_xlim(left=0)
    ax.set_xlabel(f"days from created to {outcome}")
    ax.set_title("Sales cycle")
    ax.legend(loc="best", frameon=False, fontsize="small")
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
        at each win; its end is labelled with the last probability.

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
    from matplotlib.ticker import PercentFormatter

    ax = get_ax(ax)
    by = _by_columns(res, "t")
    blocks: list[tuple[pd.DataFrame, str | None]]
    if by:
        groups = res.groupby(by, sort=False, dropna=False)
        blocks = [(block, _labels(block.iloc[:1], by)[0]) for _, block in groups]
    else:
        blocks = [(res, None)]
    for i, (block, label) in enumerate(blocks):
        t = np.concatenate(([0.0], np.asarray(block["t"] / DAY, dtype=float)))
        p = np.concatenate(([0.0], block["cumulative_win"].to_numpy(dtype=float)))
        kw: dict[str, Any] = {"color": color(i), "label": label, "where": "post"} | kwargs
        (line,) = ax.step(t, p, **kw)
        if band:
            lo = np.concatenate(([0.0], block["cumulative_win_low"].to_numpy(dtype=float)))
            hi = np.concatenate(([0.0], block["cumulative_win_high"].to_numpy(dtype=float)))
            ax.fill_between(t, lo, hi, step="post", color=line.get_color(), alpha=0.2, lw=0)
        ax.annotate(
            fmt_pct(p[-1]), (t[-1], p[-1]), xytext=(4, 0), textcoords="offset points",
            va="center", fontsize="small", color=line.get_color(),
        )  # fmt: skip
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("days since the deal was created")
    ax.set_ylabel("won within t days")
    ax.set_title("Win curve (open deals censored, losses competing)")
    if by:
        ax.legend(frameon=False, fontsize="small")
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
    from matplotlib.ticker import PercentFormatter

    ax = get_ax(ax)
    res = res.sort_values("rank", kind="stable")
    owner = res.columns[0]
    y = np.arange(len(res))
    rate = res["win_rate"].to_numpy(dtype=float)
    err = np.vstack([rate - res["win_rate_low"], res["win_rate_high"] - rate])
    kw: dict[str, Any] = {"fmt": "o", "color": color(0), "capsize": 3}
    kw["label"] = "win rate (Wilson interval)"
    ax.errorbar(rate, y, xerr=err, **(kw | kwargs))
    shrunk = res["win_rate_shrunk"].to_numpy(dtype=float)
    ax.plot(shrunk, y, "D", color=color(5), label="shrunk toward the team (ranked by)")
    for yi, s in zip(y, shrunk, strict=True):
        ax.annotate(
            fmt_pct(s), (s, yi), xytext=(0, 7), textcoords="offset points", ha="center",
            fontsize="small", color=color(5),
        )  # fmt: skip
    closed = res["won"] + res["lost"]
    ticks = [
        f"{r}. {o} ({w:,}/{c:,})"
        for r, o, w, c in zip(res["rank"], res[owner], res["won"], closed, strict=True)
    ]
    ax.set_yticks(y, ticks)
    ax.set_ylim(len(res) - 0.5, -0.5)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("win rate (won / closed)")
    ax.set_title("Rep leaderboard")
    ax.legend(loc="best", frameon=False, fontsize="small")
    return ax


def plot_channel_yield(
    result: pd.DataFrame,
    *,
    ax: Axes | None = None,
    metric: Literal["won_value", "lead_to_won", "won_value_per_lead", "roi", "leads"] = "won_value",
    **kwargs: Any,
) -> Axes:
    """One bar per channel for a channel-yield measure, labelled.

    Parameters
    ----------
    result : pandas.DataFrame
        The result of :func:`funnelkit.channel_yield`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default ``plt.gca()``.
    metric : {"won_value", "lead_to_won", "won_value_per_lead", "roi", "leads"}, default="won_value"
        The column drawn (``"roi"`` needs a result computed with ``costs``).
        The first release's ``"revenue"``, ``"conversion"`` and
        ``"revenue_per_lead"`` still work for one release, with a FutureWarning.
    **kwargs
        Passed to the ``ax.barh`` call.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: channels in the result's order (highest won value
        on top), bars labelled with the value and, for ``lead_to_won``, its
        interval drawn as whiskers.

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
    >>> ax = fk.plot_channel_yield(res, ax=ax)
    >>> [float(p.get_width()) for p in ax.patches]
    [6000.0, 2500.0]
    >>> plt.close(fig)
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
    check_option(
        metric, ["won_value", "lead_to_won", "won_value_per_lead", "roi", "leads"],
        name="metric", func=func,
    )  # fmt: skip
    res = check_result(result, ["leads", "lead_to_won", metric], func=func, source="channel_yield")
    ax = get_ax(ax)
    channel = res.columns[0]
    values = res[metric].to_numpy(dtype=float)
    y = np.arange(len(res))
    kw: dict[str, Any] = {"color": [color(i) for i in range(len(res))]}
    if metric == "lead_to_won":
        lo = values - res["lead_to_won_low"].to_numpy(dtype=float)
        hi = res["lead_to_won_high"].to_numpy(dtype=float) - values
        kw["xerr"] = np.vstack([lo, hi])
        kw["error_kw"] = {"ecolor": "0.3", "capsize": 3}
    bars = ax.barh(y, np.nan_to_num(values), **(kw | kwargs))
    if metric == "lead_to_won":
        # labels past the whiskers
        high = np.nan_to_num(res["lead_to_won_high"].to_numpy(dtype=float))
        for yi, h, v in zip(y, high, values, strict=True):
            ax.annotate(
                fmt_pct(v), (h, yi), xytext=(3, 0), textcoords="offset points", va="center",
                fontsize="small",
            )  # fmt: skip
        labels = ["" for _ in values]
    elif metric == "roi":
        labels = ["–" if np.isnan(v) else f"{v:,.1f}×" for v in values]
    elif metric == "leads":
        labels = [f"{v:,.0f}" for v in values]
    else:
        labels = [fmt_money(v) for v in values]
    ax.bar_label(bars, labels=labels, padding=3, fontsize="small")
    ax.set_yticks(y, [str(c) for c in res[channel]])
    ax.set_ylim(len(res) - 0.5, -0.5)
    if metric == "lead_to_won":
        from matplotlib.ticker import PercentFormatter

        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    elif metric in ("won_value", "won_value_per_lead"):
        _money_axis(ax)
    names = {
        "won_value": "value won",
        "lead_to_won": "leads won (won / leads)",
        "won_value_per_lead": "value won per lead",
        "roi": "ROI = (value won - cost) / cost",
        "leads": "leads",
    }
    ax.set_xlabel(names[metric])
    ax.set_title(f"Channel yield: {names[metric]}")
    ax.margins(x=0.2)
    return ax
