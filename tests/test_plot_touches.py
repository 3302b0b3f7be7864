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


def by_table(segments, behaviours, ratio, small=None):
    """A triggers table with ``by="plan"``: one block per segment, ``ratio[s][b]`` its odds."""
    rows = []
    for s, seg in enumerate(segments):
        for b, beh in enumerate(behaviours):
            r = ratio[s][b]
            rows.append(
                {
                    "plan": seg,
                    "from_step": "visit",
                    "to_step": "buy",
                    "behaviour": beh,
                    "conversion_with": 0.5,
                    "conversion_without": 0.25,
                    "odds_ratio": r,
                    "odds_ratio_low": r / 2,
                    "odds_ratio_high": r * 2,
                    "small_sample": bool(small[s][b]) if small is not None else False,
                }
            )
    return pd.DataFrame(rows)


def test_by_table_one_row_per_segment_and_behaviour():
    nan = float("nan")
    res = by_table(
        ["free", "pro"],
        ["demo", "video", "webinar"],
        [[3.0, 0.5, nan], [4.0, 1.5, 0.8]],
        small=[[False, True, False], [False, False, True]],
    )
    _fig, ax = plt.subplots()
    fk.plot_triggers(res, ax=ax)
    # the segment leads each label; free's webinar has no odds ratio and is left out
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [
        "free · demo",
        "free · video (small sample)",
        "pro · demo",
        "pro · video",
        "pro · webinar (small sample)",
    ]
    assert ax.get_title(loc="left") == "Behaviours linked to moving on: visit → buy, by plan"
    # one colour per segment: free's points (filled demo, hollow video) then pro's
    pts = [ln for ln in ax.get_lines() if ln.get_marker() == "o" and len(ln.get_xdata())]
    got = [(list(ln.get_xdata()), list(ln.get_ydata()), ln.get_color()) for ln in pts]
    assert got == [
        ([3.0], [0.0], "#0072B2"),
        ([0.5], [1.0], "#0072B2"),
        ([4.0, 1.5], [2.0, 3.0], "#E69F00"),
        ([0.8], [4.0], "#E69F00"),
    ]
    assert [ln.get_markerfacecolor() == "white" for ln in pts] == [False, True, False, True]
    # the intervals: low = OR / 2, high = OR * 2, row by row
    segs = [s for c in ax.collections for s in c.get_segments()]
    ends = sorted((float(s[0][1]), float(s[0][0]), float(s[1][0])) for s in segs)
    expected = [(0, 1.5, 6.0), (1, 0.25, 1.0), (2, 2.0, 8.0), (3, 0.75, 3.0), (4, 0.4, 1.6)]
    np.testing.assert_allclose(ends, expected)
    # a thin line between the two segments, and the notes beside each row
    assert any(np.allclose(ln.get_ydata(), [1.5, 1.5]) for ln in ax.get_lines())
    assert [t.get_text().split("  ")[0] for t in ax.texts] == [
        "OR 3.00", "OR 0.50", "OR 4.00", "OR 1.50", "OR 0.80",
    ]  # fmt: skip
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["odds ratio", "small sample"]


def test_by_table_from_triggers_labels_every_block():
    ev = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "c", "c", "c", "d", "d"],
            # pro: a demos and buys, b watches the video; free: c the video and buys, d demos
            "event": ["visit", "demo", "buy", "visit", "video", "visit", "video", "buy", "visit",
                      "demo"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
                                         "2024-01-01", "2024-01-05", "2024-01-01",
                                         "2024-01-02", "2024-01-04", "2024-01-01",
                                         "2024-01-03"]),
        }
    )  # fmt: skip
    ev["plan"] = ev["user_id"].map({"a": "pro", "b": "pro", "c": "free", "d": "free"})
    res = fk.triggers(ev, ["visit", "buy"], by="plan", min_entities=1, min_age=None)
    ax = fk.plot_triggers(res, ax=plt.figure().subplots())
    kept = res[np.isfinite(res["odds_ratio"])]
    assert len(kept) == 4
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        f"{p} · {b}" for p, b in zip(kept["plan"], kept["behaviour"], strict=True)
    ]


def test_many_segments_heatmap_of_odds_ratios():
    segments = [f"seg {i}" for i in range(10)]
    nan = float("nan")
    # video: 0.5 everywhere; demo: 2 ** (i - 3); webinar: 4 (one segment without a value);
    # newsletter: no odds ratio anywhere (left out, as the rows leave such behaviours out)
    ratio = [[0.5, 2.0 ** (i - 3), nan if i == 2 else 4.0, nan] for i in range(10)]
    small = [[i == 1, False, i == 5, True] for i in range(10)]
    res = by_table(segments, ["video", "demo", "webinar", "newsletter"], ratio, small)
    ax = fk.plot_triggers(res, ax=plt.figure(figsize=(8, 6)).subplots())
    # the segments are rows, the behaviours columns, highest median odds ratio first:
    # webinar (4), then demo (median of 2**-3 .. 2**6 is 2**1.5), then video (0.5)
    assert [t.get_text() for t in ax.get_yticklabels()] == segments
    assert [t.get_text() for t in ax.get_xticklabels()] == ["webinar", "demo", "video"]
    cells = np.ma.filled(ax.images[0].get_array(), np.nan)
    expected = np.log10(
        np.array([[nan if i == 2 else 4.0, 2.0 ** (i - 3), 0.5] for i in range(10)])
    )
    np.testing.assert_allclose(cells, expected)
    # the odds ratio written in its cell, "–" where there is none
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in ax.texts}  # fmt: skip
    assert texts[(0, 2)] == "0.50"
    assert texts[(3, 1)] == "1.00"
    assert texts[(9, 1)] == "64"
    assert texts[(2, 0)] == "–"
    # small samples hatched: seg 1's video and seg 5's webinar
    hatched = sorted((p.get_y() + 0.5, p.get_x() + 0.5) for p in ax.patches if p.get_hatch())
    np.testing.assert_allclose(hatched, [(1, 2), (5, 0)])
    # the colour bar reads odds ratios, centred on 1
    image = ax.images[0]
    assert image.norm.vmin == -image.norm.vmax
    assert image.colorbar.ax.yaxis.get_major_formatter()(0.0, 0) == "1"
