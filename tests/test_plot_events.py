"""Pictures of event funnels: read back what was drawn."""

from __future__ import annotations

import re

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.testing.decorators import check_figures_equal

import funnelkit as fk

EPOCH = pd.Timestamp("2024-01-01")
STEPS = ["visit", "signup", "buy"]


@pytest.fixture
def events():
    rows = []
    # segment p: 6 visit, 4 sign up, 1 buys; segment q: 4 visit, 3 sign up, 2 buy
    for i in range(10):
        seg = "p" if i < 6 else "q"
        rows.append((i, 0, "visit", seg))
        if i in (0, 1, 2, 3, 6, 7, 8):
            rows.append((i, 3600 * (i + 1), "signup", seg))
        if i in (0, 6, 7):
            rows.append((i, 86400 * (i + 1), "buy", seg))
    return pd.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "timestamp": [EPOCH + pd.Timedelta(seconds=r[1]) for r in rows],
            "event": [r[2] for r in rows],
            "seg": [r[3] for r in rows],
        }
    )


def test_plot_funnel_bars_and_labels(events):
    res = fk.conversion(events, STEPS)
    fig, ax = plt.subplots()
    out = fk.plot_funnel(res, ax=ax)
    assert out is ax
    assert plt.get_fignums() == [fig.number]
    widths = [p.get_width() for p in ax.patches]
    assert widths == [10, 7, 3]
    # centred: each bar's middle at 0
    assert [p.get_x() + p.get_width() / 2 for p in ax.patches] == [0, 0, 0]
    texts = [t.get_text() for t in ax.texts]
    # 7 of 10 = 70.0%; 3 of 7 = 42.9%, 3 of 10 = 30.0%
    assert texts == [
        "10",
        "7 · 70.0% of previous · 70.0% of first",
        "3 · 42.9% of previous · 30.0% of first",
    ]
    assert [t.get_text() for t in ax.get_yticklabels()] == STEPS


def test_plot_funnel_whiskers(events):
    res = fk.conversion(events, STEPS)
    ax = fk.plot_funnel(res, whiskers=True, annotate=False)
    segments = ax.collections[0].get_segments()
    # whisker of step 2 spans previous count x Wilson bounds, halved around the right end
    lo, hi = res.loc[1, ["conversion_low", "conversion_high"]]
    (x0, _), (x1, _) = segments[1]
    np.testing.assert_allclose([x0, x1], [3.5 - (7 - 10 * lo) / 2, 3.5 + (10 * hi - 7) / 2])


def test_plot_funnel_by_side_and_overlay(events):
    res = fk.conversion(events, STEPS, by="seg")
    ax = fk.plot_funnel(res)
    assert [p.get_width() for p in ax.patches] == [6, 4, 1, 4, 3, 2]
    assert {t.get_text() for t in ax.texts} >= {"p", "q"}
    fills = {mcolors.to_hex(p.get_facecolor()) for p in ax.patches}
    assert fills == {fk.plotting._common.PALETTE[0].lower(), fk.plotting._common.PALETTE[1].lower()}
    plt.close("all")
    ax = fk.plot_funnel(res, layout="overlay")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["p", "q"]
    assert all(p.get_height() == pytest.approx(0.4) for p in ax.patches)


@check_figures_equal(extensions=["png"])
def test_plot_funnel_figure(fig_test, fig_ref):
    res = pd.DataFrame(
        {
            "step": ["a", "b"],
            "entities": [100, 40],
            "conversion": [1.0, 0.4],
            "overall": [1.0, 0.4],
        }
    )
    fk.plot_funnel(res, ax=fig_test.subplots(), annotate=False)
    fig_ref.set_layout_engine("constrained")
    ax = fig_ref.subplots()
    ax.barh([0, 1], [100, 40], height=0.8, left=[-50, -20], color="#0072B2")
    ax.set_yticks([0, 1], ["a", "b"], fontsize=9)
    ax.set_ylim(1.5, -0.5)
    ax.set_xticks([])
    ax.set_xlim(-55, 50 + 5)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title("Conversion through the funnel", loc="left", fontsize="medium", fontweight="bold")


def test_plot_dropoff(events):
    res = fk.dropoff(events, STEPS)
    ax = fk.plot_dropoff(res)
    # lost: 10 -> 7 (3), 7 -> 3 (4): the second is the biggest leak
    assert [p.get_width() for p in ax.patches] == [3, 4]
    colors = [mcolors.to_hex(p.get_facecolor()) for p in ax.patches]
    assert colors == ["#0072b2", "#d55e00"]
    assert [t.get_text() for t in ax.texts] == ["3 (30.0%)", "4 (57.1%)"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["visit → signup", "signup → buy"]
    plt.close("all")
    ax = fk.plot_dropoff(res, share=True, annotate=False)
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [0.3, 4 / 7])


def test_plot_dropoff_by_marks_significant(events):
    res = fk.dropoff(events, STEPS, by="seg")
    res.loc[0, "p_adjusted"] = 0.01  # pretend: the test must show the star
    ax = fk.plot_dropoff(res)
    assert [p.get_width() for p in ax.patches] == [2, 3, 1, 1]
    texts = [t.get_text() for t in ax.texts]
    assert texts[0].endswith(" *")
    assert not any(t.endswith("*") for t in texts[1:])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["p", "q"]


def test_plot_dropoff_stars_follow_the_adjusted_p_values():
    # three segments with planted differences: users do the first `depth` steps
    steps = ["visit", "signup", "demo", "buy"]
    plan = {"x": [10, 20, 25, 5], "y": [25, 20, 10, 5], "z": [10, 15, 5, 10]}
    rows = []
    for seg, counts in plan.items():
        for depth, users in enumerate(counts, start=1):
            for _ in range(users):
                user = f"u{len(rows)}"
                rows += [(user, steps[j], pd.Timestamp("2025-01-01") + pd.Timedelta(days=j), seg)
                         for j in range(depth)]  # fmt: skip
    ev = pd.DataFrame(rows, columns=["user_id", "event", "timestamp", "seg"])
    res = fk.dropoff(ev, steps, by="seg")
    starred = (res["p_adjusted"] < 0.05).to_numpy()
    assert starred.any()  # the case shows both
    assert not starred.all()
    ax = fk.plot_dropoff(res)
    labels = [t.get_text() for t in ax.texts]
    bars = [t for t in labels if re.fullmatch(r"\d+ \(\d+\.\d%\)( \*)?", t)]
    assert len(bars) == len(res)
    assert [t.endswith(" *") for t in bars] == starred.tolist()
    plt.close("all")


def test_plot_time_to_convert(events):
    res = fk.time_to_convert(events, STEPS, by="seg")
    ax = fk.plot_time_to_convert(res)
    day = pd.Timedelta(days=1)
    boxes = ax.patches
    assert len(boxes) == 2
    for box, (_, row) in zip(boxes, res.iterrows(), strict=True):
        assert box.get_x() == pytest.approx(row["p25"] / day)
        assert box.get_width() == pytest.approx((row["p75"] - row["p25"]) / day)
    assert ax.get_xlabel() == "visit → buy (days)"
    # seg p: one buyer after 1 day; seg q: buyers after 7 and 8 days (median 7.5)
    assert [t.get_text() for t in ax.texts] == ["median 1.0 d (n=1)", "median 7.5 d (n=2)"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["p", "q"]


def test_plot_errors(events):
    with pytest.raises(fk.InvalidParameterError, match=r"result.*funnelkit\.conversion"):
        fk.plot_funnel([1, 2])
    with pytest.raises(fk.ColumnNotFoundError, match="entities"):
        fk.plot_funnel(pd.DataFrame({"step": ["a"]}))
    res = fk.conversion(events, STEPS)
    with pytest.raises(fk.InvalidParameterError, match="'layout'"):
        fk.plot_funnel(res, layout="stacked")
    with pytest.raises(fk.ColumnNotFoundError, match="from_step"):
        fk.plot_dropoff(res)
    with pytest.raises(fk.ColumnNotFoundError, match=r"'p10'.*time_to_convert result"):
        fk.plot_time_to_convert(fk.dropoff(events, STEPS))


def test_plots_of_empty_results(events):
    empty = events.iloc[:0]
    for ax in (
        fk.plot_funnel(fk.conversion(empty, STEPS), ax=plt.figure().subplots()),
        fk.plot_dropoff(fk.dropoff(empty, STEPS), ax=plt.figure().subplots()),
        fk.plot_time_to_convert(fk.time_to_convert(empty, STEPS), ax=plt.figure().subplots()),
    ):
        assert [t.get_text() for t in ax.texts] == ["no entities"]
        assert len(ax.patches) == 0
