"""Stage-history pictures: read back what was drawn; one figure-level comparison."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.testing.decorators import check_figures_equal
from matplotlib.ticker import FuncFormatter

import funnelkit as fk
from funnelkit import ColumnNotFoundError, InvalidParameterError

HISTORY = pd.DataFrame(
    {
        # a: A B C; b: A C (B skipped); c: A; d: B (A skipped)
        "deal_id": ["a", "a", "a", "b", "b", "c", "d"],
        "stage": ["A", "B", "C", "A", "C", "A", "B"],
        "entered_at": pd.to_datetime(
            [
                "2025-01-01",
                "2025-01-03",
                "2025-01-06",
                "2025-01-01",
                "2025-01-05",
                "2025-01-02",
                "2025-01-04",
            ]
        ),
    }
)
DEALS = pd.DataFrame(
    {
        "deal_id": ["a", "b", "c", "d"],
        "team": ["x", "y", "x", "y"],
        "closed_at": pd.to_datetime([None] * 4),
    }
)


def test_stage_conversion_bars_and_labels():
    res = fk.stage_conversion(HISTORY, ["A", "B", "C"])
    # furthest: a C, b C, c A, d B -> A 4 (d skipped), B 3 (b skipped), C 2
    _, ax = plt.subplots()
    n_figs = len(plt.get_fignums())
    out = fk.plot_stage_conversion(res, ax=ax)
    assert out is ax
    assert len(plt.get_fignums()) == n_figs
    widths = [p.get_width() for p in ax.patches]
    assert widths == [3, 2, 2, 1, 1, 0]  # recorded bars, then skipped parts
    lefts = [p.get_x() for p in ax.patches[3:]]
    assert lefts == [3, 2, 2]
    texts = [t.get_text() for t in ax.texts]
    assert texts == [
        "4 (1 skipped)",
        "3 (1 skipped) · 75.0% of previous · 75.0% overall",
        "2 · 66.7% of previous · 50.0% overall",
    ]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B", "C"]
    assert ax.yaxis_inverted()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "counted, no recorded entry (skipped)" in legend
    # skipped parts are drawn distinctly: hatched and translucent
    assert ax.patches[3].get_hatch() == "//"
    assert ax.patches[3].get_alpha() < 1


def test_stage_conversion_thousands_and_groups():
    res = fk.stage_conversion(HISTORY, ["A", "B", "C"], by="team", deals=DEALS)
    ax = fk.plot_stage_conversion(res, annotate=False)
    assert len(ax.patches) == 2 * 2 * 3
    assert not ax.texts
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["x", "y"]
    big = pd.DataFrame(
        {
            "stage": ["A", "B"],
            "deals": [12345, 2000],
            "conversion": [1.0, 2000 / 12345],
            "overall": [1.0, 2000 / 12345],
            "skipped": [0, 0],
        }
    )
    _, ax = plt.subplots()
    fk.plot_stage_conversion(big, ax=ax)
    assert ax.texts[0].get_text() == "12,345"
    assert ax.texts[1].get_text() == "2,000 · 16.2% of previous · 16.2% overall"


@check_figures_equal(extensions=["png"])
def test_stage_conversion_figure(fig_test, fig_ref):
    res = fk.stage_conversion(HISTORY, ["A", "B", "C"], policy="strict")
    # strict: A a b c = 3; B a = 1; C a = 1; nothing skipped -> no legend
    for fig in (fig_test, fig_ref):  # rows short enough: fonts at full size, no compacting
        fig.set_size_inches(6.4, 2.4)
    fk.plot_stage_conversion(res, ax=fig_test.subplots(), annotate=False)
    fig_ref.set_layout_engine("constrained")
    ax = fig_ref.subplots()
    ax.barh([0, 1, 2], [3, 1, 1], height=0.8, color="#0072B2")
    ax.barh([0, 1, 2], [0, 0, 0], left=[3, 1, 1], height=0.8, color="#0072B2", alpha=0.35)
    ax.set_yticks([0, 1, 2], ["A", "B", "C"], fontsize=9)
    ax.set_ylim(2.5, -0.5)
    ax.set_xlabel("deals")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlim(0, 3 * 1.05)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title("Stage-to-stage conversion", loc="left", fontsize="medium", fontweight="bold")


def test_time_in_stage_bars_and_labels():
    res = fk.time_in_stage(HISTORY, ["A", "B", "C"], as_of="2025-01-11")
    # A: a 0->2 (2), b 0->4 (4), c 1->10 open (9): S(2) = 2/3, S(4) = 1/3 -> 4 days
    # B: a 2->5 (3), d 3->10 open (7): S(3) = .5 -> 3; C: all open -> not reached
    ax = fk.plot_time_in_stage(res)
    assert [p.get_width() for p in ax.patches] == [4, 3, 0]
    assert [t.get_text() for t in ax.texts] == [
        "4.0 d (1 open)",
        "3.0 d (1 open)",
        "median not reached (2 open)",
    ]
    assert ax.get_xlabel() == "median days in stage (open stays censored)"


def test_time_in_stage_groups_and_kwargs():
    res = fk.time_in_stage(HISTORY, ["A", "B", "C"], by="team", deals=DEALS)
    ax = fk.plot_time_in_stage(res, edgecolor="black")
    assert len(ax.patches) == 6
    assert all(np.allclose(p.get_edgecolor(), (0, 0, 0, 1)) for p in ax.patches)


def test_plot_errors():
    with pytest.raises(InvalidParameterError, match=r"DataFrame returned by funnelkit.stage_conv"):
        fk.plot_stage_conversion([1, 2])
    tis = fk.time_in_stage(HISTORY, ["A", "B", "C"])
    with pytest.raises(ColumnNotFoundError, match=r"'conversion'.*stage_conversion result"):
        fk.plot_stage_conversion(tis)
    with pytest.raises(ColumnNotFoundError, match=r"'median'.*time_in_stage result"):
        fk.plot_time_in_stage(fk.stage_conversion(HISTORY, ["A", "B", "C"]))
