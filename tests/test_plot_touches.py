"""plot_touches and plot_triggers: read back what was drawn."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.testing.decorators import check_figures_equal

import funnelkit as fk


@pytest.fixture
def result():
    log = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "c", "c", "d", "d"],
            "timestamp": [1, 2, 3, 1, 1, 2, 1, 2],
            "channel": ["email", "call", "email", "call", "email", "email", "call", "email"],
            "response": ["no", "no", "positive", "positive", "no", "positive", "no", "no"],
        }
    )
    # touch 1: 4 at risk, b responds -> 25%; touch 2: a, c, d -> c responds, d censored -> 1/3;
    # touch 3: a -> 1/1
    return fk.touches_to_response(log), fk.touches_to_response(log, channel="channel")


def test_bars_whiskers_line_and_labels(result):
    res, _ = result
    fig, ax = plt.subplots()
    out = fk.plot_touches(res, ax=ax)
    assert out is ax
    assert plt.gcf() is fig
    assert len(plt.get_fignums()) == 1
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.25, 1 / 3, 1.0])
    centres = [p.get_x() + p.get_width() / 2 for p in ax.patches]
    np.testing.assert_allclose(centres, [1, 2, 3])
    # the cumulative line: 0.25, 1 - 0.75 * 2/3 = 0.5, 1.0
    (line,) = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    np.testing.assert_allclose(line.get_ydata(), [0.25, 0.5, 1.0])
    # whiskers: one vertical segment per bar from the Wilson low to high
    segs = ax.collections[0].get_segments()
    np.testing.assert_allclose([s[0][1] for s in segs], res["response_rate_low"])
    np.testing.assert_allclose([s[1][1] for s in segs], res["response_rate_high"])
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["25.0%", "33.3%", "100.0%"]
    assert ax.yaxis.get_major_formatter()(0.5, 0) == "50%"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]


def test_groups_side_by_side(result):
    _, split = result
    ax = fk.plot_touches(split)
    assert len(ax.patches) == len(split)
    colours = {tuple(p.get_facecolor()) for p in ax.patches}
    assert len(colours) == 2
    assert not ax.texts  # no bar labels with several groups
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "call: response rate at touch" in labels
    assert "email: cumulative share responded" in labels


@check_figures_equal(extensions=["png"])
def test_figure_matches_hand_built(fig_test, fig_ref):
    res = pd.DataFrame(
        {
            "touch": [1, 2],
            "at_risk": [10, 5],
            "responded": [5, 1],
            "censored": [0, 4],
            "response_rate": [0.5, 0.2],
            "response_rate_low": [0.2, 0.05],
            "response_rate_high": [0.8, 0.6],
            "cumulative": [0.5, 0.6],
            "share_of_responders": [5 / 6, 1.0],
        }
    )
    fk.plot_touches(res, ax=fig_test.subplots())
    from matplotlib.ticker import PercentFormatter
    from matplotlib.transforms import offset_copy

    fig_ref.set_layout_engine("constrained")
    ax = fig_ref.subplots()
    bars = ax.bar(
        [1, 2], [0.5, 0.2], 0.8, color="#0072B2", alpha=0.85, label="response rate at touch"
    )
    ax.errorbar(
        [1, 2],
        [0.5, 0.2],
        yerr=[[0.3, 0.15], [0.3, 0.4]],
        fmt="none",
        ecolor="#333333",
        elinewidth=1,
        capsize=2,
    )
    ax.plot([1, 2], [0.5, 0.6], marker="o", color="#0072B2", label="cumulative share responded")
    del bars
    # rate labels above the whiskers' tops (0.8, 0.6), clear of the interval
    for x, text, top in ((1, "50.0%", 0.8), (2, "20.0%", 0.6)):
        ax.annotate(
            text,
            (x, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize="small",
        )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xticks([1, 2])
    ax.set_ylim(0, 0.8 * 1.18)
    ax.set_xlabel("touch number")
    ax.set_ylabel("share of prospects")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title("Response by touch number", loc="left", fontsize="medium", fontweight="bold")
    below = offset_copy(ax.transAxes, fig=fig_ref, y=-32, units="points")
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(0.0, 0.0),
        bbox_transform=below,
        frameon=False,
        fontsize="small",
        ncols=2,
        borderaxespad=0.0,
    )


def test_plot_touches_errors():
    with pytest.raises(fk.InvalidParameterError, match=r"must be the DataFrame returned by"):
        fk.plot_touches([1, 2])
    with pytest.raises(fk.ColumnNotFoundError, match=r"'cumulative'"):
        fk.plot_touches(
            pd.DataFrame(
                {
                    "touch": [1],
                    "response_rate": [0.1],
                    "response_rate_low": [0],
                    "response_rate_high": [1],
                }
            )
        )


@pytest.fixture
def trig():
    return pd.DataFrame(
        {
            "behaviour": ["demo", "video", "webinar"],
            "conversion_with": [0.6, 0.3, 0.5],
            "conversion_without": [0.3, 0.33, 0.3],
            "odds_ratio": [3.0, 0.9, 2.0],
            "odds_ratio_low": [1.5, 0.5, 0.4],
            "odds_ratio_high": [6.0, 1.6, 10.0],
            "small_sample": [False, False, True],
        }
    )


def test_forest_plot(trig):
    _fig, ax = plt.subplots()
    assert fk.plot_triggers(trig, ax=ax) is ax
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["demo", "video", "webinar (small sample)"]
    # first row on top
    lo, hi = ax.get_ylim()
    assert lo > hi
    # points: the errorbar data lines
    pts = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    np.testing.assert_allclose(pts[0].get_xdata(), [3.0, 0.9])
    np.testing.assert_allclose(pts[0].get_ydata(), [0, 1])
    np.testing.assert_allclose(pts[1].get_xdata(), [2.0])
    assert pts[1].get_markerfacecolor() == "white"
    # interval bars
    segs = ax.collections[0].get_segments()
    np.testing.assert_allclose([(s[0][0], s[1][0]) for s in segs], [(1.5, 6.0), (0.5, 1.6)])
    assert ax.texts[0].get_text() == "OR 3.00  (60.0% with vs 30.0% without)"
    # the no-association line at 1
    assert any(np.allclose(ln.get_xdata(), [1, 1]) for ln in ax.get_lines())


def test_plot_triggers_errors(trig):
    with pytest.raises(fk.ColumnNotFoundError, match=r"'small_sample'"):
        fk.plot_triggers(trig.drop(columns="small_sample"))
