"""Deal pictures: what is drawn is read back and compared with the result tables."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.testing.decorators import check_figures_equal

import funnelkit as fk
from funnelkit import ColumnNotFoundError, InvalidParameterError
from funnelkit.plotting._common import PALETTE

D = pd.Timedelta(days=1)


@pytest.fixture
def deals():
    base = pd.Timestamp("2025-01-01")
    created = [0, 0, 5, 10, 20, 30, 2, 4]
    closed = [10, 20, 35, None, None, 40, 12, None]
    return pd.DataFrame(
        {
            "deal_id": range(8),
            "created_at": [base + c * D for c in created],
            "closed_at": [pd.NaT if c is None else base + c * D for c in closed],
            "status": ["won", "lost", "won", "open", "open", "lost", "won", "open"],
            "amount": [100.0, 50.0, 300.0, 80.0, 20.0, 10.0, 1500.0, 2500.0],
            "owner": ["ann", "ann", "bob", "bob", "ann", "bob", "cy", "cy"],
            "channel": ["ads", "ads", "seo", "ads", "seo", "seo", "seo", "ads"],
            "stage": ["proposal", "contact", "proposal", "contact", "proposal", "proposal",
                      "proposal", "proposal"],
        }
    )  # fmt: skip


def test_plot_pipeline_bars_equal_values(deals):
    res = fk.pipeline(deals, stages=["contact", "proposal"], probabilities={"contact": 0.1,
                                                                     "proposal": 0.5})  # fmt: skip
    _fig, ax = plt.subplots()
    out = fk.plot_pipeline(res, ax=ax)
    assert out is ax
    assert len(plt.get_fignums()) == 1
    widths = [p.get_width() for p in ax.patches]
    # value bars then weighted bars: contact 80 (8), proposal 20 + 2500 = 2520 (1260)
    assert widths == pytest.approx([80.0, 2520.0, 8.0, 1260.0])
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["80 (weighted 8) · 1 deals", "2.5k (weighted 1.3k) · 2 deals"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["contact", "proposal"]
    assert ax.patches[0].get_facecolor()[:3] == pytest.approx(
        tuple(int(PALETTE[4][i : i + 2], 16) / 255 for i in (1, 3, 5))
    )


def test_plot_pipeline_without_probabilities_draws_only_values(deals):
    res = fk.pipeline(deals, stages=["contact", "proposal"])
    ax = fk.plot_pipeline(res)
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.texts] == ["80 · 1 deals", "2.5k · 2 deals"]


def test_plot_pipeline_without_any_amount_draws_the_open_deals(deals):
    # a CRM export whose open deals all lack an amount (Maven's): bars of length 0 and
    # "-" labels said nothing; the open deals are drawn and the labels say why
    with pytest.warns(fk.FunnelkitWarning, match="3 of 8 rows.*no amount"):
        res = fk.pipeline(deals.assign(amount=np.nan), stages=["contact", "proposal"])
    assert res["value"].isna().all()
    ax = fk.plot_pipeline(res)
    # open: contact deal 3; proposal deals 4 and 7
    assert [p.get_width() for p in ax.patches] == [1.0, 2.0]
    assert [t.get_text() for t in ax.texts] == [
        "value unknown · 1 deals",
        "value unknown · 2 deals",
    ]
    assert ax.get_xlabel() == "open deals (no open deal has an amount)"
    # one stage known, one unknown: money bars, the unknown one says so
    some = deals.assign(amount=np.where(deals["deal_id"] == 3, np.nan, deals["amount"]))
    ax2 = plt.figure().add_subplot()
    with pytest.warns(fk.FunnelkitWarning, match="1 of 8 rows"):
        partial = fk.pipeline(some, stages=["contact", "proposal"])
    fk.plot_pipeline(partial, ax=ax2)
    assert ax2.texts[0].get_text() == "value unknown · 1 deals"
    assert ax2.get_xlabel() == "open pipeline value"


def test_plot_sales_cycle_draws_quartiles_and_medians(deals):
    res = fk.sales_cycle(deals, by="channel", as_of="2025-03-01")
    _fig, ax = plt.subplots()
    fk.plot_sales_cycle(res, ax=ax)
    # the p25-p75 range is a bar per row
    for bar, (_, row) in zip(ax.patches, res.iterrows(), strict=True):
        assert bar.get_x() == pytest.approx(row["naive_p25"] / D)
        assert bar.get_x() + bar.get_width() == pytest.approx(row["naive_p75"] / D)
    naive, adjusted = ax.get_lines()[:2]
    assert np.allclose(naive.get_xdata(), res["naive_median"] / D, equal_nan=True)
    assert np.allclose(adjusted.get_xdata(), res["median"] / D, equal_nan=True)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    # ads: deals 0 (won), 1 (lost), 3, 7 (open); seo: 2, 6 (won), 4 (open), 5 (lost)
    assert ticks == ["ads (n=1, 2 open)", "seo (n=2, 1 open)"]
    assert ticks == [
        f"{c} (n={n}, {o} open)"
        for c, n, o in zip(res["channel"], res["deals"], res["open"], strict=True)
    ]


def test_plot_win_curve_steps_match_result(deals):
    res = fk.win_curve(deals, as_of="2025-03-01", by="owner")
    ax = fk.plot_win_curve(res)
    lines = ax.get_lines()
    assert len(lines) == res["owner"].nunique()
    for line, (_, block) in zip(lines, res.groupby("owner"), strict=True):
        assert line.get_xdata().tolist() == [0.0, *(block["t"] / D).tolist()]
        assert line.get_ydata().tolist() == [0.0, *block["cumulative_win"].tolist()]
        # the legend names the group and its last probability
        assert (
            line.get_label() == f"{block['owner'].iloc[0]} ({block['cumulative_win'].iloc[-1]:.0%})"
        )
    assert len(ax.collections) == len(lines)  # one band each
    assert ax.get_title(loc="left").startswith("Win curve")
    no_band = fk.plot_win_curve(res, ax=plt.figure().add_subplot(), band=False)
    assert len(no_band.collections) == 0


def test_plot_leaderboard_rows_in_rank_order(deals):
    res = fk.leaderboard(deals, as_of="2025-03-01")
    ax = fk.plot_leaderboard(res)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    expected = [
        f"{r}. {o} ({w}/{w + lo})"
        for r, o, w, lo in zip(res["rank"], res["owner"], res["won"], res["lost"], strict=True)
    ]
    assert ticks == expected
    shrunk = ax.get_lines()[-1]
    assert np.allclose(shrunk.get_xdata(), res["win_rate_shrunk"])
    assert [t.get_text() for t in ax.texts] == [f"{v:.1%}" for v in res["win_rate_shrunk"]]


def test_plot_channel_yield_metrics(deals):
    costs = pd.DataFrame({"channel": ["ads", "seo"], "cost": [100.0, 200.0]})
    res = fk.channel_yield(deals, costs=costs)
    ax = fk.plot_channel_yield(res, metric="won_value")
    # seo value won 300 + 1500 = 1800; ads 100
    assert [p.get_width() for p in ax.patches] == [1800.0, 100.0]
    assert [t.get_text() for t in ax.texts] == ["1.8k", "100"]
    # default: panels of value won, cost, cost per won and ROI, values written out
    ax = fk.plot_channel_yield(res, ax=plt.figure().add_subplot())
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "value won",
        "cost",
        "cost per won deal",
        "ROI",
    ]
    # seo: cost 200, 2 won -> 100 per won, ROI 8; ads: cost 100, 1 won, ROI 0
    assert [t.get_text() for t in ax.texts] == [
        "1.8k",
        "100",
        "200",
        "100",
        "100",
        "100",
        "8.0×",
        "0.0×",
    ]
    widths = [p.get_width() for p in ax.patches]
    assert widths[0] / widths[1] == pytest.approx(18.0)  # bars keep their ratio in a panel
    ax = fk.plot_channel_yield(res, metric="roi", ax=plt.figure().add_subplot())
    # (1800 - 200) / 200 = 8, (100 - 100) / 100 = 0
    assert [t.get_text() for t in ax.texts] == ["8.0×", "0.0×"]
    ax = fk.plot_channel_yield(res, metric="lead_to_won", ax=plt.figure().add_subplot())
    # seo 2 of 4 leads, ads 1 of 4
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.5, 0.25])
    assert [t.get_text() for t in ax.texts if t.get_text()] == ["50.0%", "25.0%"]
    # the first release's metric names still work for one release, with a FutureWarning
    with pytest.warns(FutureWarning, match="metric='lead_to_won'"):
        old = fk.plot_channel_yield(res, metric="conversion", ax=plt.figure().add_subplot())
    assert [p.get_width() for p in old.patches] == pytest.approx([0.5, 0.25])


def test_plot_errors(deals):
    with pytest.raises(InvalidParameterError, match=r"DataFrame returned by funnelkit\.pipeline"):
        fk.plot_pipeline([1, 2])
    with pytest.raises(ColumnNotFoundError, match="not found in the win_curve result"):
        fk.plot_win_curve(fk.win_rate(deals))
    with pytest.raises(InvalidParameterError, match="'metric' parameter of plot_channel_yield"):
        fk.plot_channel_yield(fk.channel_yield(deals), metric="profit")
    with pytest.raises(ColumnNotFoundError, match="roi"):
        fk.plot_channel_yield(fk.channel_yield(deals), metric="roi")


@check_figures_equal(extensions=["png"])
def test_plot_channel_yield_figure(fig_test, fig_ref):
    res = pd.DataFrame(
        {
            "channel": ["seo", "ads"],
            "leads": [30, 40],
            "won": [6, 4],
            "open": [3, 5],
            "lead_to_won": [0.2, 0.1],
            "lead_to_won_low": [0.1, 0.04],
            "lead_to_won_high": [0.37, 0.23],
            "won_value": [6000.0, 2500.0],
            "won_value_per_lead": [200.0, 62.5],
            "avg_won_deal": [1000.0, 625.0],
        }
    )
    for fig in (fig_test, fig_ref):  # short rows: fonts at full size, no compacting
        fig.set_size_inches(6.4, 1.8)
    fk.plot_channel_yield(res, ax=fig_test.add_subplot(), metric="won_value")
    from matplotlib.ticker import FuncFormatter

    fig_ref.set_layout_engine("constrained")
    ax = fig_ref.add_subplot()
    ax.set_yticks([0, 1], ["seo", "ads"], fontsize=9)
    ax.set_ylim(1.5, -0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    bars = ax.barh([0, 1], [6000.0, 2500.0], color=PALETTE[0])
    ax.bar_label(bars, labels=["6.0k", "2.5k"], padding=3, fontsize=8)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fk.plotting._common.fmt_money(v)))
    ax.set_xlabel("value won")
    ax.set_title("Channel yield: value won", loc="left", fontsize="medium", fontweight="bold")
    ax.margins(x=0.2)
