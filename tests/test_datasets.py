"""The bundled sample tells one consistent story and holds the planted truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from funnelkit.datasets import STAGES, load_sample, make_events


@pytest.fixture(scope="module")
def sample():
    return load_sample()


def test_same_seed_same_tables_other_seed_differs(sample):
    again = load_sample(seed=0)
    pd.testing.assert_frame_equal(sample.deals, again.deals)
    pd.testing.assert_frame_equal(sample.events, again.events)
    other = load_sample(seed=1)
    assert not sample.deals["amount"].equals(other.deals["amount"])


def test_columns_and_dtypes(sample):
    assert list(sample.deals.columns) == [
        "deal_id", "created_at", "closed_at", "status", "amount", "stage", "owner",
        "channel", "lost_reason", "industry", "company_size", "region",
    ]  # fmt: skip
    assert list(sample.history.columns) == ["deal_id", "stage", "entered_at"]
    assert list(sample.touches.columns) == ["user_id", "timestamp", "channel", "response"]
    assert list(sample.costs.columns) == ["channel", "month", "cost"]
    assert sample.events["timestamp"].dtype == "datetime64[ns]"
    assert sample.deals["deal_id"].is_unique
    assert sample.stages == STAGES
    assert len(STAGES) == 7


def test_nothing_after_the_export_date(sample):
    assert sample.events["timestamp"].max() <= sample.as_of
    assert sample.history["entered_at"].max() <= sample.as_of
    assert sample.touches["timestamp"].max() <= sample.as_of
    assert sample.deals["closed_at"].max() <= sample.as_of


def test_status_matches_close_dates_and_history(sample):
    d = sample.deals.set_index("deal_id")
    open_ = d["status"] == "open"
    assert d.loc[open_, "closed_at"].isna().all()
    assert d.loc[~open_, "closed_at"].notna().all()
    assert (d.loc[~open_, "closed_at"] >= d.loc[~open_, "created_at"]).all()
    assert d.loc[d["status"] != "lost", "lost_reason"].isna().all()
    assert d.loc[d["status"] == "lost", "lost_reason"].notna().all()
    h = sample.history.sort_values(["deal_id", "entered_at"], kind="stable")
    last = h.groupby("deal_id")["stage"].last()
    assert (last.reindex(d.index) == d["stage"]).all()
    first = h.groupby("deal_id")["entered_at"].min()
    assert (first.reindex(d.index) == d["created_at"]).all()
    reached_close = set(h.loc[h["stage"] == "negotiation and close", "deal_id"])
    assert set(d.index[d["status"] == "won"]) <= reached_close
    retained = set(h.loc[h["stage"] == "retention", "deal_id"])
    assert retained <= set(d.index[d["status"] == "won"])


def test_events_mirror_history(sample):
    e = sample.events
    stage_events = e[e["event"].isin(STAGES)]
    left = stage_events[["user_id", "event", "timestamp"]].set_axis(
        ["deal_id", "stage", "entered_at"], axis=1
    )
    key = ["deal_id", "entered_at", "stage"]
    pd.testing.assert_frame_equal(
        left.sort_values(key).reset_index(drop=True),
        sample.history.sort_values(key).reset_index(drop=True),
    )
    d = sample.deals.set_index("deal_id")
    won_events = e.loc[e["event"] == "won"].set_index("user_id")["timestamp"]
    assert (won_events == d.loc[won_events.index, "closed_at"]).all()
    assert set(won_events.index) == set(d.index[d["status"] == "won"])


def test_touches_happen_in_prospecting(sample):
    h = sample.history
    entered = h[h["stage"] == "prospecting"].groupby("deal_id")["entered_at"].min()
    qualified = h[h["stage"] == "qualification"].groupby("deal_id")["entered_at"].min()
    t = sample.touches
    assert set(t["user_id"]) <= set(entered.index)
    assert (t["timestamp"].to_numpy() > entered.reindex(t["user_id"]).to_numpy()).all()
    q = qualified.reindex(t["user_id"]).to_numpy()
    has_q = ~pd.isna(q)
    assert (t["timestamp"].to_numpy()[has_q] <= q[has_q]).all()
    # exactly one positive reply per qualified prospect, and it is the last touch
    pos = t[t["response"] == "positive"]
    assert pos["user_id"].is_unique
    last = t.groupby("user_id")["timestamp"].max()
    assert (pos.set_index("user_id")["timestamp"] == last.reindex(pos["user_id"])).all()


def test_reply_chance_falls_with_each_touch(sample):
    t = sample.touches.copy()
    t["n"] = t.groupby("user_id").cumcount() + 1
    rate = t.groupby("n")["response"].apply(lambda r: (r == "positive").mean())
    assert rate.iloc[0] > rate.iloc[3] > rate.iloc[7] * 0.9


def test_planted_behaviours_move_leads_forward(sample):
    e = sample.events
    reached = lambda s: set(e.loc[e["event"] == s, "user_id"])  # noqa: E731
    qual, contact = reached("qualification"), reached("contact") | reached("proposal")

    def rate(behaviour):
        did = reached(behaviour) & qual
        return len(did & contact) / len(did), len((qual - did) & contact) / len(qual - did)

    with_demo, without_demo = rate("demo request")
    assert with_demo > without_demo + 0.15
    with_video, without_video = rate("video view")
    assert abs(with_video - without_video) < 0.1


def test_channels_reps_and_segments(sample):
    d = sample.deals
    assert d["channel"].nunique() >= 5
    assert d["owner"].nunique() >= 6
    assert {"industry", "company_size", "region"} <= set(d.columns)
    won = d["status"] == "won"
    by_channel = won.groupby(d["channel"]).mean()
    assert by_channel["referral"] > by_channel["outbound email"] * 3
    # deal sizes are skewed: mean well above median
    assert d["amount"].mean() > 1.3 * d["amount"].median()
    cost = sample.costs.groupby("channel")["cost"].sum() / d.groupby("channel").size()
    assert cost["events"] > 4 * cost["organic search"]


def test_lost_reasons_depend_on_stage(sample):
    lost = sample.deals[sample.deals["status"] == "lost"]
    early = lost[lost["stage"] == "lead generation"]["lost_reason"].value_counts(normalize=True)
    late = lost[lost["stage"] == "negotiation and close"]["lost_reason"].value_counts(
        normalize=True
    )
    assert early.index[0] == "not a fit"
    assert "lost to competitor" in late.index[:2]
    assert "not a fit" not in late.index


def test_open_and_stalled_deals_exist(sample):
    d = sample.deals
    open_ = d[d["status"] == "open"]
    assert len(open_) > 100
    h = sample.history.sort_values("entered_at")
    since = sample.as_of - h.groupby("deal_id")["entered_at"].max()
    open_since = since.reindex(open_["deal_id"])
    assert (open_since > pd.Timedelta(days=60)).sum() >= 5


def test_bad_parameters():
    with pytest.raises(fk.InvalidParameterError, match="'n_leads' parameter of load_sample"):
        load_sample(n_leads=0)
    with pytest.raises(fk.InvalidParameterError, match="'seed' parameter of load_sample"):
        load_sample(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(fk.InvalidParameterError, match="'n_events' parameter of make_events"):
        make_events(-5)


def test_make_events_shape_and_funnel():
    df = make_events(20_000, seed=3)
    assert len(df) == 20_000
    assert list(df.columns) == ["user_id", "timestamp", "event"]
    assert isinstance(df["event"].dtype, pd.CategoricalDtype)
    assert df["timestamp"].dtype == "datetime64[ns]"
    counts = df["event"].value_counts()
    # each funnel step is rarer than the previous one
    steps = ["visit", "signup", "demo", "proposal", "won"]
    assert np.all(np.diff(counts[steps].to_numpy()) < 0)
    pd.testing.assert_frame_equal(df, make_events(20_000, seed=3))
