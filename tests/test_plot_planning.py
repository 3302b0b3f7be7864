"""plot_plan: what is drawn is what the plan says."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.testing.decorators import check_figures_equal
from matplotlib.ticker import FuncFormatter

import funnelkit as fk
from funnelkit import ColumnNotFoundError, InvalidParameterError
from funnelkit.plotting._common import PALETTE


@pytest.fixture
def result():
    return fk.deals_needed(
        1_000_000,
        avg_deal=50_000,
        win_rate=0.25,
        stage_rates={"lead": 0.3, "qualified": 0.5},
        confidence=0.9,
    )


def test_bars_are_the_counts(result):
    _fig, ax = plt.subplots()
    out = fk.plot_plan(result, ax=ax)
    assert out is ax
    assert len(plt.get_fignums()) == 1
    needed_bars, conf_bars = ax.containers
    assert [b.get_width() for b in needed_bars] == [534, 160, 80, 20]
    assert [b.get_width() for b in conf_bars] == result["needed_for_confidence"].tolist()
    # expected-value bar above its confidence bar, top of the funnel at the top
    centres = [b.get_y() + b.get_height() / 2 for b in needed_bars]
    assert centres == pytest.approx([-0.2, 0.8, 1.8, 2.8])
    assert ax.get_ylim() == (3.5, -0.5)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "lead",
        "qualified",
        "opportunity",
        "won",
    ]
    labels = [t.get_text() for t in ax.texts]
    expected = [f"{v:,}" for v in result["needed"]] + [
        f"{v:,}" for v in result["needed_for_confidence"]
    ]
    assert labels == expected
    assert needed_bars[0].get_facecolor() == pytest.approx((0.0, 114 / 255, 178 / 255, 1.0))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    p = result["p_hit_target"].iloc[0]
    assert legend == [
        f"expected-value plan (reaches the target {p:.0%} of the time)",
        "needed for the chosen confidence",
    ]
    assert ax.get_xlabel() == "deals"


def test_thousands_separators_and_log_scale():
    res = fk.deals_needed(
        50_000_000, avg_deal=10_000, win_rate=0.2, stage_rates={"lead": 0.1}, confidence=0.8
    )
    ax = fk.plot_plan(res, scale="log")
    assert ax.get_xscale() == "log"
    assert ax.texts[0].get_text() == f"{res['needed'].iloc[0]:,}"
    assert "," in ax.texts[0].get_text()
    assert ax.xaxis.get_major_formatter()(25_000, 0) == "25,000"


def test_without_confidence_one_bar_per_stage():
    res = fk.deals_needed(100_000, avg_deal=10_000, win_rate=0.5)
    ax = fk.plot_plan(res, annotate=False)
    (bars,) = ax.containers
    assert [b.get_width() for b in bars] == [20, 10]
    assert [b.get_height() for b in bars] == pytest.approx([0.6, 0.6])
    assert len(ax.texts) == 0


def test_kwargs_go_to_barh(result):
    ax = fk.plot_plan(result, edgecolor="black", alpha=0.5)
    assert all(b.get_alpha() == 0.5 for c in ax.containers for b in c)
    assert ax.containers[1][0].get_edgecolor() == (0.0, 0.0, 0.0, 0.5)


def test_plots_the_plan_result():
    deals = pd.DataFrame(
        {
            "deal_id": ["a", "b", "c", "d"],
            "created_at": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]),
            "closed_at": pd.to_datetime(["2025-02-01", "2025-02-02", "2025-02-13", None]),
            "status": ["won", "lost", "won", "open"],
            "amount": [100.0, 50.0, 300.0, 80.0],
        }
    )
    res = fk.plan(deals, 2_000, period_end="2025-06-01")
    ax = fk.plot_plan(res)
    assert [b.get_width() for b in ax.containers[0]] == res["needed"].tolist()


def test_uses_the_current_axes_by_default(result):
    _fig, ax = plt.subplots()
    assert fk.plot_plan(result) is ax


def test_bad_input(result):
    with pytest.raises(
        InvalidParameterError,
        match=r"'result' parameter of plot_plan must be the "
        r"DataFrame returned by funnelkit\.deals_needed",
    ):
        fk.plot_plan(result.to_dict())
    with pytest.raises(ColumnNotFoundError, match=r"Column 'needed' \(result=\) not found"):
        fk.plot_plan(result.drop(columns="needed"))
    with pytest.raises(InvalidParameterError, match=r"The 'scale' parameter of plot_plan"):
        fk.plot_plan(result, scale="sqrt")


def test_input_unchanged(result):
    before = result.copy()
    fk.plot_plan(result)
    pd.testing.assert_frame_equal(result, before)


@check_figures_equal(extensions=["png"])
def test_figure_matches_a_hand_built_one(fig_test, fig_ref):
    res = pd.DataFrame(
        {
            "stage": ["lead", "opportunity", "won"],
            "conversion": [0.5, 0.25, np.nan],
            "needed": [1200, 600, 150],
            "needed_for_confidence": [1500, 700, 150],
            "p_hit_target": [0.5, 0.52, 1.0],
        }
    )
    for fig in (fig_test, fig_ref):  # rows short enough: fonts at full size, no compacting
        fig.set_size_inches(6.4, 3.2)
    fk.plot_plan(res, ax=fig_test.subplots())

    from matplotlib.transforms import offset_copy

    fig_ref.set_layout_engine("constrained")
    ax = fig_ref.subplots()
    y = np.array([0.0, 1.0, 2.0])
    a = ax.barh(
        y - 0.2,
        [1200, 600, 150],
        height=0.4,
        color=PALETTE[0],
        label="expected-value plan (reaches the target 50% of the time)",
    )
    b = ax.barh(
        y + 0.2,
        [1500, 700, 150],
        height=0.4,
        color=PALETTE[1],
        label="needed for the chosen confidence",
    )
    ax.bar_label(a, labels=["1,200", "600", "150"], padding=3, fontsize=8)
    ax.bar_label(b, labels=["1,500", "700", "150"], padding=3, fontsize=8)
    ax.set_yticks(y, ["lead", "opportunity", "won"], fontsize=9)
    ax.set_ylim(2.5, -0.5)
    # compact counts on the axis: 1.0k, 500
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda v, _: f"{v / 1e3:.1f}k" if v >= 1e3 else f"{v:,.0f}")
    )
    ax.margins(x=0.15)
    ax.set_xlabel("deals")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(
        "Deals needed at each stage for the target",
        loc="left",
        fontsize="medium",
        fontweight="bold",
    )
    below = offset_copy(ax.transAxes, fig=fig_ref, y=-32, units="points")
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(0.0, 0.0),
        bbox_transform=below,
        frameon=False,
        fontsize="small",
        ncols=1,
        borderaxespad=0.0,
    )
