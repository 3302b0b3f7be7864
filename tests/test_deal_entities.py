"""deal_entities against a slow, obviously correct per-deal reading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk


def reference(deals, history, stages, as_of):
    """One deal at a time, in plain Python."""
    rows = []
    for _, deal in deals.iterrows():
        if deal["created_at"] > as_of:
            continue
        closed = deal["closed_at"]
        status = deal["status"] if deal["status"] in ("won", "lost") else "open"
        if pd.notna(closed) and closed > as_of:
            status, closed = "open", pd.NaT
        if status == "open":
            closed = pd.NaT
        mine = history[(history["deal_id"] == deal["deal_id"]) & (history["entered_at"] <= as_of)]
        mine = mine.assign(pos=mine["stage"].map(stages.index)).sort_values(["entered_at", "pos"])
        reached = [stages.index(deal["stage"])] if deal["stage"] in stages else []
        reached += mine["pos"].tolist()
        furthest = stages[max(reached)] if reached else np.nan
        current = mine["stage"].iloc[-1] if len(mine) else deal["stage"]
        lost_at = np.nan
        if status == "lost":
            before = mine[mine["entered_at"] <= closed]
            lost_at = before["stage"].iloc[-1] if len(before) else deal["stage"]
        end = as_of if status == "open" else closed
        row = {
            "deal_id": deal["deal_id"],
            "status": status,
            "furthest_stage": furthest,
            "current_stage": current,
            "lost_at": lost_at,
            "cycle": end - deal["created_at"],
            "censored": status == "open",
        }
        for s in stages:
            times = mine.loc[mine["stage"] == s, "entered_at"]
            row[f"entered_{s}"] = times.min() if len(times) else pd.NaT
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("shift_days", [0, -120])
def test_deal_entities_equals_the_per_deal_reference(shift_days):
    s = fk.datasets.load_sample(n_leads=600)
    stages = list(s.stages)
    as_of = s.as_of + pd.Timedelta(days=shift_days)
    if shift_days:
        with pytest.warns(fk.FunnelkitWarning, match="created after as_of"):
            got = fk.deal_entities(s.deals, history=s.history, stages=stages, as_of=as_of)
    else:
        got = fk.deal_entities(s.deals, history=s.history, stages=stages, as_of=as_of)
    ref = reference(s.deals, s.history, stages, as_of)
    assert len(got) == len(ref) > 0
    for col in ref.columns:
        pd.testing.assert_series_equal(
            got[col].reset_index(drop=True),
            ref[col].reset_index(drop=True),
            check_dtype=False,
            obj=col,
        )
    # the deal table's other columns come along unchanged
    kept = s.deals.set_index("deal_id").loc[got["deal_id"], "owner"].to_numpy()
    np.testing.assert_array_equal(got["owner"].to_numpy(), kept)


def test_deal_entities_is_independent_of_row_order():
    s = fk.datasets.load_sample(n_leads=400)
    stages = list(s.stages)
    a = fk.deal_entities(s.deals, history=s.history, stages=stages)
    b = fk.deal_entities(
        s.deals.iloc[::-1], history=s.history.sample(frac=1, random_state=1), stages=stages
    )
    b = b.sort_values("deal_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a.sort_values("deal_id").reset_index(drop=True), b)


def test_win_probability_is_the_pipeline_stage_chance_and_feeds_target_probability():
    s = fk.datasets.load_sample(n_leads=800)
    stages = list(s.stages)
    ents = fk.deal_entities(s.deals, history=s.history, stages=stages, as_of=s.as_of)
    # plain pandas: a stage's chance = won / closed among the closed deals that reached
    # it or a later stage (a won deal went through every stage)
    depth = ents["furthest_stage"].map({n: i for i, n in enumerate(stages)}).fillna(0)
    closed = ents[ents["status"] != "open"]
    depth_c = np.where(closed["status"] == "won", len(stages) - 1, depth[closed.index])
    chance = {st: (closed["status"][depth_c >= i] == "won").mean() for i, st in enumerate(stages)}
    opened = ents[ents["status"] == "open"]
    expected = opened["current_stage"].map(chance).to_numpy(dtype=float)
    np.testing.assert_allclose(opened["win_probability"].to_numpy(), expected)
    assert (ents.loc[ents["status"] == "won", "win_probability"] == 1.0).all()
    assert (ents.loc[ents["status"] == "lost", "win_probability"] == 0.0).all()
    # the same weighted value per stage as pipeline, and a ready input for planning
    pipe = fk.pipeline(s.deals, stages=stages, history=s.history, as_of=s.as_of)
    weighted = (opened["amount"] * opened["win_probability"]).groupby(opened["current_stage"]).sum()
    for _, row in pipe[pipe["open"] > 0].iterrows():
        assert weighted[row["stage"]] == pytest.approx(row["weighted_value"])
    res = fk.target_probability(500_000, open_deals=opened, probability="win_probability")
    assert res.loc[0, "expected_revenue"] == pytest.approx(pipe["weighted_value"].sum())
    # without a history there is no stage chance: open deals get NaN
    no_hist = fk.deal_entities(s.deals, stages=stages, as_of=s.as_of)
    assert no_hist.loc[no_hist["status"] == "open", "win_probability"].isna().all()
