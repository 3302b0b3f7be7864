"""triggers and compare_segments: hand-computed 2x2 tables, planted effects, the sample's truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from scipy import stats

import funnelkit as fk
from tests.strategies import STEP_EVENTS

Z95 = 1.959963984540054


def day(d):
    return pd.Timestamp("2024-01-01") + pd.Timedelta(days=d)


def log_from(rows):
    return pd.DataFrame(
        [(u, e, day(d)) for u, e, d in rows], columns=["user_id", "event", "timestamp"]
    )


@pytest.fixture
def events():
    return log_from(
        [
            ("u1", "visit", 0), ("u1", "demo", 1), ("u1", "signup", 2),
            ("u2", "visit", 0), ("u2", "demo", 1),
            ("u3", "visit", 0), ("u3", "signup", 2), ("u3", "demo", 3),  # demo after signup
            ("u4", "demo", 0), ("u4", "visit", 1),  # demo before the visit
            ("u5", "visit", 0), ("u5", "signup", 1),
            ("u6", "visit", 0), ("u6", "demo", 0), ("u6", "signup", 5),  # demo at visit time
            ("u7", "visit", 0), ("u7", "chat", 1), ("u7", "signup", 1),  # chat at signup time
            ("u8", "visit", 0),
            ("u9", "chat", 0),  # never visits
        ]
    )  # fmt: skip


def test_hand_computed_table(events):
    before = events.copy()
    res = fk.triggers(events, ["visit", "signup"], min_entities=1, min_age=None)
    assert_frame_equal(events, before)
    assert res["behaviour"].tolist() == ["demo", "chat"]
    demo = res.iloc[0]
    # at the visit step: u1..u8. demo in [visit, signup): u1 (signed up), u2 (no), u6 (signed up)
    # without: u3, u5, u7 signed up; u4, u8 did not.  a=2 b=1 c=3 d=2
    assert (demo["from_step"], demo["to_step"]) == ("visit", "signup")
    assert demo["entities_with"] == 3
    assert demo["converted_with"] == 2
    assert demo["entities_without"] == 5
    assert demo["converted_without"] == 3
    assert demo["conversion_with"] == pytest.approx(2 / 3)
    assert demo["conversion_without"] == pytest.approx(3 / 5)
    assert demo["lift"] == pytest.approx(10 / 9)
    ref = stats.binomtest(2, 3).proportion_ci(confidence_level=0.95, method="wilson")
    assert demo["conversion_with_low"] == pytest.approx(ref.low)
    assert demo["conversion_with_high"] == pytest.approx(ref.high)
    assert demo["odds_ratio"] == pytest.approx(4 / 3)
    se = math.sqrt(1 / 2 + 1 + 1 / 3 + 1 / 2)
    assert demo["odds_ratio_low"] == pytest.approx(4 / 3 * math.exp(-Z95 * se))
    assert demo["odds_ratio_high"] == pytest.approx(4 / 3 * math.exp(Z95 * se))
    # Fisher by hand: margins 3 with, 5 converted, 8 in all; P(a=x) = C(5,x) C(3,3-x) / 56
    # = 1, 15, 30, 10 (/56); observed 30/56; every table is as or less likely -> p = 1
    assert demo["p_value"] == pytest.approx(1.0)
    assert not demo["small_sample"]
    # chat only at u7's signup time (excluded: strictly before the next step) -> nobody
    chat = res.iloc[1]
    assert chat["entities_with"] == 0
    assert chat["entities_without"] == 8
    assert np.isnan(chat["odds_ratio"])
    assert np.isnan(chat["p_value"])
    assert chat["small_sample"]
    assert res["entities_with"].dtype == np.int64
    assert res["small_sample"].dtype == bool


def test_zero_cells_get_the_half_correction():
    # with: w1, w2 both convert (b = 0); without: o1 converts, o2, o3 do not
    ev = log_from(
        [
            ("w1", "a", 0), ("w1", "x", 1), ("w1", "b", 2),
            ("w2", "a", 0), ("w2", "x", 1), ("w2", "b", 2),
            ("o1", "a", 0), ("o1", "b", 2),
            ("o2", "a", 0), ("o3", "a", 0),
        ]
    )  # fmt: skip
    row = fk.triggers(ev, ["a", "b"], min_entities=1).iloc[0]
    # a=2 b=0 c=1 d=2 -> (2.5 * 2.5) / (0.5 * 1.5) = 8.333...
    assert row["odds_ratio"] == pytest.approx(6.25 / 0.75)
    se = math.sqrt(1 / 2.5 + 1 / 0.5 + 1 / 1.5 + 1 / 2.5)
    assert row["odds_ratio_low"] == pytest.approx(6.25 / 0.75 * math.exp(-Z95 * se))
    assert row["lift"] == pytest.approx(1.0 / (1 / 3))
    # Fisher by hand: margins 2 with, 3 converted, N=5: P(a=x) = C(3,x) C(2,2-x) / 10
    # x=0: 1, x=1: 6, x=2: 3 -> observed 3/10, p = (1 + 3) / 10
    assert row["p_value"] == pytest.approx(0.4)


def test_window_bounds_non_converters():
    ev = log_from(
        [
            ("a", "visit", 0), ("a", "demo", 1),  # inside a 2-day window
            ("b", "visit", 0), ("b", "demo", 3),  # after the window closed
            ("c", "visit", 0), ("c", "signup", 1),
        ]
    )  # fmt: skip
    no_window = fk.triggers(ev, ["visit", "signup"], min_entities=1).iloc[0]
    assert no_window["entities_with"] == 2
    windowed = fk.triggers(ev, ["visit", "signup"], window="2D", min_entities=1).iloc[0]
    assert windowed["entities_with"] == 1
    assert windowed["entities_without"] == 2
    # window 0: every step at one instant; c's signup a day later no longer converts
    instant = fk.triggers(ev, ["visit", "signup"], window=0, min_entities=1).iloc[0]
    assert instant["entities_with"] == 0
    assert instant["converted_without"] == 0


def test_at_step_and_list_steps():
    ev = log_from(
        [
            ("a", "visit", 0), ("a", "trial", 1), ("a", "pay", 2), ("a", "card", 3),
            ("b", "visit", 0), ("b", "demo", 1), ("b", "card", 2), ("b", "call", 3),
            ("c", "visit", 0), ("c", "trial", 1), ("c", "call", 4),
        ]
    )  # fmt: skip
    # step 2 is "trial" or "demo"; at_step=2: a, b, c reached it; a, b paid (pay or card)
    res = fk.triggers(ev, ["visit", ["trial", "demo"], ["pay", "card"]], at_step=2, min_entities=1)
    call = res.set_index("behaviour").loc["call"]
    # call: c only (b's call is after its card) -> with 1 (0 converted), without 2 (2)
    assert call["entities_with"] == 1
    assert call["converted_with"] == 0
    assert call["converted_without"] == 2
    assert "visit" not in res["behaviour"].tolist()


@pytest.fixture
def planted(rng):
    """3,000 leads; 'trigger' raises moving on (+1.5 logit), three noise behaviours do not."""
    n = 3000
    names = ["trigger", "noise a", "noise b", "noise c"]
    did = rng.random((n, len(names))) < 0.3
    p = 1 / (1 + np.exp(-(-0.5 + 1.5 * did[:, 0])))
    moved = rng.random(n) < p
    start = rng.uniform(0, 30, n)
    stay = rng.uniform(1, 10, n)
    users = np.array([f"u{i:04d}" for i in range(n)])
    parts = [pd.DataFrame({"user_id": users, "event": "lead", "t": start})]
    parts.append(pd.DataFrame({"user_id": users[moved], "event": "qualified",
                               "t": (start + stay)[moved]}))  # fmt: skip
    for j, name in enumerate(names):
        who = did[:, j]
        when = start + rng.uniform(0.05, 0.95, n) * stay
        parts.append(pd.DataFrame({"user_id": users[who], "event": name, "t": when[who]}))
    ev = pd.concat(parts, ignore_index=True).sample(frac=1, random_state=1)
    ev["timestamp"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(ev.pop("t"), unit="D")
    return ev.reset_index(drop=True)


def test_planted_trigger_is_found_and_noise_is_not(planted):
    res = fk.triggers(planted, ["lead", "qualified"])
    assert res["behaviour"].iloc[0] == "trigger"
    top = res.iloc[0]
    assert top["p_adjusted"] < 1e-10
    assert top["odds_ratio_low"] < math.exp(1.5) < top["odds_ratio_high"]
    noise = res[res["behaviour"].str.startswith("noise")]
    assert (noise["p_adjusted"] > 0.05).all()
    assert ((noise["odds_ratio_low"] < 1) & (noise["odds_ratio_high"] > 1)).all()
    # Holm by hand on the four p-values
    p = res["p_value"].to_numpy()
    order = np.argsort(p)
    adj = np.minimum(1, np.maximum.accumulate(p[order] * np.array([4, 3, 2, 1])))
    np.testing.assert_allclose(res["p_adjusted"].to_numpy()[order], adj)
    # Fisher p-values against scipy on the reported counts
    for _, r in res.iterrows():
        table = [
            [r["converted_with"], r["entities_with"] - r["converted_with"]],
            [r["converted_without"], r["entities_without"] - r["converted_without"]],
        ]
        assert r["p_value"] == pytest.approx(stats.fisher_exact(table)[1])


def test_default_min_age_is_the_longest_time_to_move_on(events):
    # the longest visit -> signup time among entities that signed up: u6, 5 days; the
    # data end on day 5, so only entities that visited on day 0 are old enough (u4
    # visited on day 1 and is left out)
    auto = fk.triggers(events, ["visit", "signup"], min_entities=1)
    explicit = fk.triggers(events, ["visit", "signup"], min_entities=1, min_age="5D")
    assert_frame_equal(auto, explicit)
    every = fk.triggers(events, ["visit", "signup"], min_entities=1, min_age=None)
    n_auto = auto["entities_with"] + auto["entities_without"]
    n_every = every["entities_with"] + every["entities_without"]
    assert (n_every - n_auto).tolist() == [1, 1]


def test_newsletter_open_is_not_a_trigger_by_default():
    """The sample plants 'newsletter open' to do nothing: open leads made it look helpful."""
    s = fk.datasets.load_sample()
    stages = list(s.stages)
    res = fk.triggers(s.events, stages, at_step=2).set_index("behaviour")
    assert res.loc["newsletter open", "p_adjusted"] > 0.05
    naive = fk.triggers(s.events, stages, at_step=2, min_age=None).set_index("behaviour")
    assert naive.loc["newsletter open", "p_adjusted"] < 0.05


def test_per_entity_reference(planted):
    """The 2x2 counts equal a plain per-entity loop over the funnel_entities table."""
    res = fk.triggers(planted, ["lead", "qualified"], min_age=None).set_index("behaviour")
    per = fk.funnel_entities(planted, ["lead", "qualified"]).set_index("user_id")
    counts = {}
    for user, grp in planted.groupby("user_id"):
        t1, t2 = per.loc[user, "lead"], per.loc[user, "qualified"]
        moved = per.loc[user, "reached"] >= 2
        done = set()
        for _, row in grp.iterrows():
            if row["event"] in ("lead", "qualified"):
                continue
            if row["timestamp"] >= t1 and (not moved or row["timestamp"] < t2):
                done.add(row["event"])
        for name in res.index:
            key = (name, name in done)
            n, k = counts.get(key, (0, 0))
            counts[key] = (n + 1, k + int(moved))
    for name in res.index:
        assert res.loc[name, "entities_with"] == counts.get((name, True), (0, 0))[0]
        assert res.loc[name, "converted_with"] == counts.get((name, True), (0, 0))[1]
        assert res.loc[name, "entities_without"] == counts[(name, False)][0]
        assert res.loc[name, "converted_without"] == counts[(name, False)][1]


def test_small_samples_are_flagged_and_ranked_last(planted):
    rare = pd.DataFrame(
        {
            "user_id": ["u0000", "u0001"],
            "event": "rare",
            "timestamp": planted["timestamp"].max() + pd.Timedelta(days=1),
        }
    )
    ev = pd.concat([planted, rare], ignore_index=True)
    res = fk.triggers(ev, ["lead", "qualified"], min_entities=25)
    assert res["behaviour"].iloc[-1] == "rare"
    assert res["small_sample"].tolist() == [False] * 4 + [True]
    # ranked by odds ratio among the others
    ors = res["odds_ratio"].to_numpy()[:4]
    assert (np.diff(ors) <= 0).all()


def test_candidates_restrict_and_keep_order_of_rank(planted):
    res = fk.triggers(planted, ["lead", "qualified"], candidates=["noise a", "trigger"])
    assert res["behaviour"].tolist() == ["trigger", "noise a"]


def test_sample_planted_behaviours_rank_above_noise():
    sample = fk.datasets.load_sample(seed=0)
    stages = list(sample.stages)
    noise = {"video view", "newsletter open", "webinar", "content download"}
    # qualification -> contact: a demo request moves leads on, a video view does not
    q = fk.triggers(sample.events, stages, at_step=3)
    ranked = q[~q["small_sample"]]["behaviour"].tolist()
    assert ranked[0] == "demo request"
    assert ranked.index("demo request") < ranked.index("video view")
    demo = q.set_index("behaviour").loc["demo request"]
    assert demo["odds_ratio_low"] > 1
    assert demo["p_adjusted"] < 0.001
    # contact -> proposal: a free trial moves leads on, a webinar does not
    c = fk.triggers(sample.events, stages, at_step=4)
    ranked = c[~c["small_sample"]]["behaviour"].tolist()
    assert ranked[0] == "free trial"
    trial = c.set_index("behaviour").loc["free trial"]
    assert trial["odds_ratio_low"] > 1
    for frame in (q, c):
        rows = frame[frame["behaviour"].isin(noise) & ~frame["small_sample"]]
        assert (rows["odds_ratio_low"] < 1).all(), rows


# ----------------------------------------------------------------------------
# triggers(by=)
# ----------------------------------------------------------------------------
@pytest.fixture
def seg_events():
    """Segment x, y, none (constant per entity); z never visits."""
    ev = log_from(
        [
            ("u1", "visit", 0), ("u1", "demo", 1), ("u1", "signup", 2),
            ("u2", "visit", 0), ("u2", "demo", 5),
            ("u5", "visit", 0), ("u5", "signup", 1),
            ("u7", "visit", 0), ("u7", "chat", 1), ("u7", "signup", 1),  # chat at signup time
            ("u11", "visit", 2), ("u11", "demo", 3),  # young: 3 days old on day 5
            ("u3", "visit", 0), ("u3", "signup", 2), ("u3", "demo", 3),  # demo after signup
            ("u4", "demo", 0), ("u4", "visit", 1),  # demo before the visit; 4 days old
            ("u6", "visit", 0), ("u6", "demo", 0), ("u6", "signup", 5),  # 5 days to move on
            ("u8", "visit", 0),
            ("u9", "chat", 0),  # never visits
            ("u10", "visit", 0), ("u10", "demo", 1), ("u10", "signup", 2),
        ]
    )  # fmt: skip
    seg = {"u1": "x", "u2": "x", "u5": "x", "u7": "x", "u11": "x", "u3": "y", "u4": "y"}
    seg |= {"u6": "y", "u8": "y", "u9": "z", "u10": None}
    ev["seg"] = ev["user_id"].map(seg)
    return ev


def group_events(ev, column, value):
    """The events of the entities whose (constant) ``column`` is ``value``: plain pandas."""
    hit = ev[column].isna() if pd.isna(value) else ev[column] == value
    return ev[ev["user_id"].isin(ev.loc[hit, "user_id"])].reset_index(drop=True)


def check_blocks(res, ev, by, steps, **kw):
    """Each group's block equals triggers without by on the group's entities alone."""
    seen = res[by].drop_duplicates().reset_index(drop=True)
    assert len(seen) > 1
    for _, key in seen.iterrows():
        part = ev
        hit = np.ones(len(res), dtype=bool)
        for col in by:
            part = group_events(part, col, key[col])
            hit &= (res[col].isna() if pd.isna(key[col]) else res[col] == key[col]).to_numpy()
        block = res[hit].drop(columns=by).reset_index(drop=True)
        alone = fk.triggers(part, steps, **kw)
        done = block["behaviour"].isin(alone["behaviour"]).to_numpy()
        assert_frame_equal(block[done].reset_index(drop=True), alone)
        # candidates the group never did at all: no one with, no statistic
        rest = block[~done]
        assert not rest["behaviour"].isin(part["event"]).any()
        assert (rest["entities_with"] == 0).all()
        assert rest["odds_ratio"].isna().all()


def test_by_hand_computed_blocks(seg_events):
    ev = seg_events
    before = ev.copy()
    res = fk.triggers(ev, ["visit", "signup"], by="seg", min_entities=1)
    assert_frame_equal(ev, before)
    assert list(res.columns[:4]) == ["seg", "from_step", "to_step", "behaviour"]
    # z never reached the first step: no block; the missing segment comes last
    assert res["seg"].tolist()[:4] == ["x", "x", "y", "y"]
    assert res["seg"].iloc[4:].isna().all()
    assert len(res) == 6
    # the same candidates (those of the whole log) in every group
    assert all(
        sorted(b) == ["chat", "demo"] for _, b in res.groupby("seg", dropna=False)["behaviour"]
    )
    # min_age "auto" is the longest visit -> signup of the whole log (u6, 5 days) and as_of
    # its latest event (day 5): entities that visited on day 0; u11 (x) and u4 (y) are out
    rows = res.set_index([res["seg"].fillna("none"), "behaviour"])
    cells = ["converted_with", "entities_with", "converted_without", "entities_without"]
    # x: u1 (demo, signed up), u2 (demo, no), u5 and u7 (no demo, signed up)
    assert rows.loc[("x", "demo"), cells].tolist() == [1, 2, 2, 2]
    # u7's chat is at its signup time: not before the next step
    assert rows.loc[("x", "chat"), cells].tolist() == [0, 0, 3, 4]
    # y: u6 (demo at visit time, signed up); u3 (demo after signup) and u8 without
    assert rows.loc[("y", "demo"), cells].tolist() == [1, 1, 1, 2]
    assert rows.loc[("y", "chat"), cells].tolist() == [0, 0, 2, 3]  # u3 and u6 signed up
    assert rows.loc[("none", "demo"), cells].tolist() == [1, 1, 0, 0]
    # x's demo: a=1 b=1 c=2 d=0 -> a zero cell: (1.5 * 0.5) / (1.5 * 2.5) = 0.2
    assert rows.loc[("x", "demo"), "odds_ratio"] == pytest.approx(0.2)
    # y's demo: a=1 b=0 c=1 d=1 -> (1.5 * 1.5) / (0.5 * 1.5) = 3
    assert rows.loc[("y", "demo"), "odds_ratio"] == pytest.approx(3.0)
    # one entity and nobody without it: nothing to compare, as without by
    assert np.isnan(rows.loc[("none", "demo"), "odds_ratio"])
    assert np.isnan(rows.loc[("none", "demo"), "p_value"])
    # Holm within a group: x has one defined p-value (chat has none), so it is not adjusted
    assert rows.loc[("x", "demo"), "p_adjusted"] == rows.loc[("x", "demo"), "p_value"]
    assert res["seg"].dtype == ev["seg"].dtype
    assert res["entities_with"].dtype == np.int64


def test_by_blocks_equal_triggers_on_each_group(seg_events):
    steps = ["visit", "signup"]
    every = fk.triggers(seg_events, steps, by="seg", min_entities=1, min_age=None)
    check_blocks(every, seg_events, ["seg"], steps, min_entities=1, min_age=None)
    # as_of and the "auto" min_age are those of the whole log (day 5, 5 days): each block is
    # triggers on the group alone with them given
    res = fk.triggers(seg_events, steps, by="seg", min_entities=1)
    check_blocks(res, seg_events, ["seg"], steps, min_entities=1, as_of=day(5), min_age="5D")
    # on x alone "auto" would be 2 days (u1), which keeps u11
    x = group_events(seg_events, "seg", "x")
    alone = fk.triggers(x, steps, min_entities=1)
    assert (alone["entities_with"] + alone["entities_without"]).tolist() == [5, 5]
    block = res[res["seg"] == "x"]
    assert (block["entities_with"] + block["entities_without"]).tolist() == [4, 4]


def test_by_blocks_equal_triggers_on_each_group_of_the_sample():
    sample = fk.datasets.load_sample()
    ev, stages = sample.events, list(sample.stages)
    kw = dict(at_step=3, as_of=ev["timestamp"].max(), min_age="60D")
    res = fk.triggers(ev, stages, by="channel", **kw)
    check_blocks(res, ev, ["channel"], stages, **kw)
    assert res["channel"].tolist() == sorted(res["channel"])
    assert res["channel"].nunique() == ev["channel"].nunique()
    # two columns, a window, another step
    kw = dict(at_step=4, window="120D", as_of=ev["timestamp"].max(), min_age="30D")
    two = fk.triggers(ev, stages, by=["region", "company_size"], **kw)
    assert list(two.columns[:3]) == ["region", "company_size", "from_step"]
    check_blocks(two, ev, ["region", "company_size"], stages, **kw)
    # the groups together hold every entity of the table without by
    whole = fk.triggers(ev, stages, **kw).set_index("behaviour")
    total = two.groupby("behaviour")[["entities_with", "converted_with", "entities_without"]].sum()
    # (the groupby's index is str on pandas 3, the result's behaviour column object)
    assert_frame_equal(
        total,
        whole.loc[total.index, total.columns],
        check_names=False,
        check_index_type=False,
    )


def test_by_errors_and_zero_rows(seg_events):
    steps = ["visit", "signup"]
    with pytest.raises(fk.ColumnNotFoundError, match=r"by=.*Hint: pass by='seg'"):
        fk.triggers(seg_events, steps, by="sge")
    with pytest.raises(fk.ColumnNotFoundError, match=r"by="):
        fk.triggers(seg_events, steps, by=["seg", "plan"])
    with pytest.raises(
        fk.InvalidParameterError, match=r"'by' parameter of triggers names \['seg'\] more than once"
    ):
        fk.triggers(seg_events, steps, by=["seg", "seg"])
    full = fk.triggers(seg_events, steps, by="seg", min_entities=1)
    empty = fk.triggers(seg_events.iloc[:0], steps, by="seg", min_entities=1)
    assert len(empty) == 0
    assert isinstance(empty.index, pd.RangeIndex)
    assert list(empty.columns) == list(full.columns)
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    cat = seg_events.astype({"seg": "category"})
    assert fk.triggers(cat.iloc[:0], steps, by="seg")["seg"].dtype == cat["seg"].dtype


def test_by_reads_the_value_at_the_winning_chain_start(seg_events):
    # u1 changes segment after its visit: its block is that of the visit's value
    ev = seg_events.copy()
    ev.loc[(ev["user_id"] == "u1") & (ev["event"] != "visit"), "seg"] = "y"
    res = fk.triggers(ev, ["visit", "signup"], by="seg", min_entities=1, min_age=None)
    x = res[(res["seg"] == "x") & (res["behaviour"] == "demo")].iloc[0]
    assert (x["entities_with"], x["converted_with"]) == (3, 1)  # u1, u2, u11
    # the without-by table of the same log is the sum over the groups
    whole = fk.triggers(ev, ["visit", "signup"], min_entities=1, min_age=None)
    assert res["entities_with"].sum() == whole["entities_with"].sum()


# ----------------------------------------------------------------------------
# compare_segments
# ----------------------------------------------------------------------------
@pytest.fixture
def segmented():
    rows = []
    # ads: 4 visit, 3 sign up, 1 buys; mail: 2 visit, 1 signs up, 1 buys
    for u, n in [("a1", 3), ("a2", 2), ("a3", 2), ("a4", 1), ("m1", 3), ("m2", 1)]:
        for k, name in enumerate(["visit", "signup", "buy"][:n]):
            rows.append((u, name, k))
    ev = log_from(rows)
    ev["channel"] = ev["user_id"].str[0].map({"a": "ads", "m": "mail"})
    return ev


def test_compare_segments_by_hand(segmented):
    before = segmented.copy()
    res = fk.compare_segments(segmented, ["visit", "signup", "buy"], by="channel")
    assert_frame_equal(segmented, before)
    assert res["step"].tolist() == ["signup", "buy"]
    assert res["channel_a"].tolist() == ["ads", "ads"]
    assert res["channel_b"].tolist() == ["mail", "mail"]
    # signup: ads 3/4, mail 1/2
    s = res.iloc[0]
    assert (s["entities_a"], s["converted_a"], s["entities_b"], s["converted_b"]) == (4, 3, 2, 1)
    assert s["difference"] == pytest.approx(0.25)
    assert s["cohens_h"] == pytest.approx(
        2 * math.asin(math.sqrt(0.75)) - 2 * math.asin(math.sqrt(0.5))
    )
    # 2x2 chi-square by hand: N (ad - bc)^2 / (row and column margins) = 6 * 4 / 64
    assert s["chi2"] == pytest.approx(0.375)
    assert s["dof"] == 1
    assert s["chi2_p_value"] == pytest.approx(stats.chi2.sf(0.375, 1))
    # the pooled z-test of two proportions is the same test: z^2 = chi2
    assert s["p_value"] == pytest.approx(s["chi2_p_value"])
    assert not s["differs"]
    # buy: ads 1/3, mail 1/1; chi2 = 4 (1*0 - 2*1)^2 / (3 * 1 * 2 * 2) = 4/3
    b = res.iloc[1]
    assert (b["entities_a"], b["converted_a"], b["entities_b"], b["converted_b"]) == (3, 1, 1, 1)
    assert b["chi2"] == pytest.approx(4 / 3)
    assert b["difference"] == pytest.approx(-2 / 3)
    assert res["dof"].dtype == np.int64


def test_compare_segments_three_segments_holm_and_planted_difference(rng):
    n = 900
    seg = np.repeat(["a", "b", "c"], n // 3)
    p = np.select([seg == "a", seg == "b"], [0.3, 0.3], 0.5)
    moved = rng.random(n) < p
    users = np.array([f"u{i}" for i in range(n)])
    ev = pd.concat(
        [
            pd.DataFrame({"user_id": users, "event": "visit", "timestamp": day(0), "seg": seg}),
            pd.DataFrame({"user_id": users[moved], "event": "buy", "timestamp": day(1),
                          "seg": seg[moved]}),
        ],
        ignore_index=True,
    )  # fmt: skip
    res = fk.compare_segments(ev, ["visit", "buy"], by="seg")
    assert list(zip(res["seg_a"], res["seg_b"], strict=True)) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
    ]
    assert bool(res["differs"].iloc[0])
    assert res["dof"].iloc[0] == 2
    # chi-square against scipy on the same 2x3 table
    k = np.array([moved[seg == s].sum() for s in "abc"])
    table = np.vstack([k, 300 - k])
    ref = stats.chi2_contingency(table, correction=False)
    assert res["chi2"].iloc[0] == pytest.approx(ref[0])
    # pairwise p-values: 2x2 chi-square (scipy) equals the z-test; Holm by hand
    raw = []
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        raw.append(stats.chi2_contingency(table[:, [i, j]], correction=False)[1])
    np.testing.assert_allclose(res["p_value"], raw)
    order = np.argsort(raw)
    adj = np.minimum(1, np.maximum.accumulate(np.array(raw)[order] * [3, 2, 1]))
    np.testing.assert_allclose(res["p_adjusted"].to_numpy()[order], adj)
    # a vs b have the same true rate; c differs from both
    assert res["significant"].tolist() == [False, True, True]


def test_compare_segments_missing_segment_is_its_own_group(segmented):
    ev = segmented.copy()
    ev.loc[ev["user_id"] == "m2", "channel"] = None
    res = fk.compare_segments(ev, ["visit", "signup"], by="channel")
    assert res["channel_a"].tolist()[:2] == ["ads", "ads"]
    assert res["channel_b"].tolist()[0] == "mail"
    assert pd.isna(res["channel_b"].iloc[1])


def test_compare_segments_against_rest_by_hand(segmented):
    before = segmented.copy()
    res = fk.compare_segments(segmented, ["visit", "signup", "buy"], by="channel", against="rest")
    assert_frame_equal(segmented, before)
    assert list(res.columns) == [
        "step", "channel", "entities", "converted", "conversion",
        "rest_entities", "rest_converted", "rest_conversion", "difference", "cohens_h",
        "p_value", "p_adjusted", "significant", "chi2", "dof", "chi2_p_value", "differs",
    ]  # fmt: skip
    assert res["step"].tolist() == ["signup", "signup", "buy", "buy"]
    assert res["channel"].tolist() == ["ads", "mail", "ads", "mail"]
    # signup: ads 3/4 against mail 1/2 and the other way round
    assert res["entities"].tolist() == [4, 2, 3, 1]
    assert res["converted"].tolist() == [3, 1, 1, 1]
    assert res["rest_entities"].tolist() == [2, 4, 1, 3]
    assert res["rest_converted"].tolist() == [1, 3, 1, 1]
    np.testing.assert_allclose(res["difference"], [0.25, -0.25, -2 / 3, 2 / 3])
    h = 2 * math.asin(math.sqrt(0.75)) - 2 * math.asin(math.sqrt(0.5))
    assert res["cohens_h"].iloc[0] == pytest.approx(h)
    assert res["cohens_h"].iloc[1] == pytest.approx(-h)
    # the 2x2 chi-squares by hand: 6 * 4 / 64 and 4 * 4 / 12; the z-test is the same test
    p_signup, p_buy = stats.chi2.sf(0.375, 1), stats.chi2.sf(4 / 3, 1)
    np.testing.assert_allclose(res["p_value"], [p_signup, p_signup, p_buy, p_buy])
    # Holm across the two segments of a transition: the one test counted twice
    np.testing.assert_allclose(res["p_adjusted"], np.minimum(1, 2 * res["p_value"]))
    np.testing.assert_allclose(res["chi2"], [0.375, 0.375, 4 / 3, 4 / 3])
    assert res["dof"].tolist() == [1, 1, 1, 1]
    assert not res["significant"].any()
    assert not res["differs"].any()
    for col in ("entities", "converted", "rest_entities", "rest_converted", "dof"):
        assert res[col].dtype == np.int64


def test_compare_segments_against_rest_three_segments_matches_a_loop(rng):
    n = 900
    seg = np.repeat(["a", "b", "c"], n // 3)
    visited = np.ones(n, dtype=bool)
    signed = rng.random(n) < np.select([seg == "a", seg == "b"], [0.6, 0.5], 0.4)
    bought = signed & (rng.random(n) < np.select([seg == "a", seg == "b"], [0.2, 0.5], 0.5))
    users = np.array([f"u{i}" for i in range(n)])
    ev = pd.concat(
        [
            pd.DataFrame({"user_id": users[m], "event": name, "timestamp": day(d), "seg": seg[m]})
            for name, d, m in [("visit", 0, visited), ("signup", 1, signed), ("buy", 2, bought)]
        ],
        ignore_index=True,
    )
    res = fk.compare_segments(ev, ["visit", "signup", "buy"], by="seg", against="rest")
    assert res["seg"].tolist() == ["a", "b", "c"] * 2
    for t, (had, got) in enumerate([(visited, signed), (signed, bought)]):
        block = res.iloc[3 * t : 3 * t + 3]
        raw = []
        for s in "abc":  # a plain loop per segment: the segment against all the others
            mine, rest = seg == s, seg != s
            k1, n1 = got[mine].sum(), had[mine].sum()
            k2, n2 = got[rest].sum(), had[rest].sum()
            pooled = (k1 + k2) / (n1 + n2)
            z = (k1 / n1 - k2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
            raw.append(2 * stats.norm.sf(abs(z)))
            row = block[block["seg"] == s].iloc[0]
            assert (row["entities"], row["converted"]) == (n1, k1)
            assert (row["rest_entities"], row["rest_converted"]) == (n2, k2)
            assert row["rest_conversion"] == pytest.approx(k2 / n2)
        np.testing.assert_allclose(block["p_value"], raw, rtol=1e-9)
        order = np.argsort(raw)
        adj = np.minimum(1, np.maximum.accumulate(np.array(raw)[order] * [3, 2, 1]))
        np.testing.assert_allclose(block["p_adjusted"].to_numpy()[order], adj, rtol=1e-12)
        np.testing.assert_array_equal(block["significant"], block["p_adjusted"] < 0.05)
        # the chi-square columns are those of the pairs table
        pairs = fk.compare_segments(ev, ["visit", "signup", "buy"], by="seg")
        chi = pairs.iloc[3 * t]
        assert block["chi2"].tolist() == [chi["chi2"]] * 3
        assert block["differs"].tolist() == [chi["differs"]] * 3
    # the planted difference at buy: segment a buys less than the rest
    buy_a = res[(res["step"] == "buy") & (res["seg"] == "a")].iloc[0]
    assert buy_a["significant"]
    assert buy_a["difference"] < 0


def test_compare_segments_against_pairs_is_the_default(segmented):
    steps = ["visit", "signup", "buy"]
    default = fk.compare_segments(segmented, steps, by="channel")
    assert_frame_equal(
        fk.compare_segments(segmented, steps, by="channel", against="pairs"), default
    )
    assert "channel_a" in default


def test_compare_segments_against_must_be_pairs_or_rest(segmented):
    match = r"'against' parameter of compare_segments must be one of 'pairs', 'rest'.*'others'"
    with pytest.raises(fk.InvalidParameterError, match=match):
        fk.compare_segments(segmented, ["visit", "signup"], by="channel", against="others")


def test_compare_forwards_against(segmented):
    steps = ["visit", "signup", "buy"]
    new = fk.compare_segments(segmented, steps, by="channel", against="rest")
    with pytest.warns(FutureWarning, match=r"compare is renamed"):
        old = fk.compare(segmented, steps, by="channel", against="rest")
    assert_frame_equal(old, new)


@st.composite
def two_segment_logs(draw):
    """A log of two segments ("s", "t"; or "s" and missing): users do the first d steps."""
    n_steps = draw(st.integers(2, 4))
    steps = list(STEP_EVENTS[:n_steps])
    other = draw(st.sampled_from(["t", None]))
    rows, segs = [], []
    for seg in ("s", other):
        for depth in range(1, n_steps + 1):
            # one entity of "s" goes all the way, so that every step occurs
            least = 1 if seg == "s" and depth == n_steps else 0
            for _ in range(draw(st.integers(least, 12))):
                user = f"u{len(segs)}"
                rows += [(user, steps[j], j) for j in range(depth)]
                segs += [seg] * depth
    ev = log_from(rows)
    ev["seg"] = pd.Series(segs, dtype=object)
    return ev, steps


@settings(max_examples=100, deadline=None)
@given(case=two_segment_logs())
def test_against_rest_with_two_segments_is_the_pairs_test(case):
    ev, steps = case
    pairs = fk.compare_segments(ev, steps, by="seg")
    rest = fk.compare_segments(ev, steps, by="seg", against="rest")
    # every transition: each segment and its rest make up the same whole
    for _, block in rest.groupby("step", sort=False):
        totals = block["entities"] + block["rest_entities"]
        assert (totals == block["entities"].sum()).all()
    if rest["seg"].nunique(dropna=False) < 2:
        return
    # the rest of each segment is the other: both rows carry the pooled z-test of the pair
    p_rest = rest["p_value"].to_numpy().reshape(-1, 2)
    p_pair = pairs["p_value"].to_numpy()
    np.testing.assert_array_equal(p_rest[:, 0], p_rest[:, 1])
    np.testing.assert_array_equal(p_rest[:, 0], p_pair)
    # and Holm, counting the one test twice, doubles it (capped at 1)
    expected = np.minimum(1, 2 * rest["p_value"].to_numpy())
    np.testing.assert_allclose(rest["p_adjusted"], expected, rtol=1e-15)
    # the z-test of the pair is the 2x2 chi-square: the chi2_p_value of the transition
    np.testing.assert_allclose(p_rest[:, 0], pairs["chi2_p_value"], rtol=1e-9)


# ----------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------
def test_trigger_errors(events):
    steps = ["visit", "signup"]
    with pytest.raises(fk.InvalidParameterError, match=r"'at_step' parameter of triggers.*1 to 1"):
        fk.triggers(events, steps, at_step=2)
    with pytest.raises(fk.InvalidParameterError, match=r"'at_step'"):
        fk.triggers(events, steps, at_step=True)
    with pytest.raises(fk.InvalidParameterError, match=r"not in the log: \['dem'\].*'demo'"):
        fk.triggers(events, steps, candidates=["dem"])
    with pytest.raises(fk.InvalidParameterError, match=r"must not contain funnel steps"):
        fk.triggers(events, steps, candidates=["signup"])
    with pytest.raises(fk.InvalidParameterError, match=r"'candidates'.*list of event names"):
        fk.triggers(events, steps, candidates="demo")
    with pytest.raises(fk.InvalidParameterError, match=r"'steps'.*at least 2"):
        fk.triggers(events, ["visit"])
    with pytest.raises(fk.InvalidParameterError, match=r"'min_entities'.*positive integer"):
        fk.triggers(events, steps, min_entities=0)
    with pytest.raises(fk.InvalidParameterError, match=r"'ci'"):
        fk.triggers(events, steps, ci=1.5)
    with pytest.raises(fk.InvalidParameterError, match=r"'window'"):
        fk.triggers(events, steps, window=-3)
    with pytest.raises(fk.ColumnNotFoundError, match=r"event=.*Hint: pass event='event'"):
        fk.triggers(events, steps, event="events")


def test_compare_segments_errors(segmented):
    steps = ["visit", "signup"]
    with pytest.raises(fk.ColumnNotFoundError, match=r"by=.*Hint: pass by='channel'"):
        fk.compare_segments(segmented, steps, by="chanel")
    with pytest.raises(fk.InvalidParameterError, match=r"'by' parameter of compare_segments"):
        fk.compare_segments(segmented, steps, by=[])
    with pytest.raises(fk.InvalidParameterError, match=r"'alpha' parameter of compare_segments"):
        fk.compare_segments(segmented, steps, by="channel", alpha=0)
    with pytest.raises(fk.InvalidParameterError, match=r"'events' argument of compare_segments"):
        fk.compare_segments(segmented.to_numpy(), steps, by="channel")


def test_row_order_is_irrelevant(planted):
    res = fk.triggers(planted, ["lead", "qualified"])
    again = fk.triggers(planted.sort_values(["timestamp", "user_id"]), ["lead", "qualified"])
    assert_frame_equal(res, again)
    seg = planted.assign(seg=np.where(planted["user_id"].str[-1].isin(list("01234")), "x", "y"))
    a = fk.compare_segments(seg, ["lead", "qualified"], by="seg")
    b = fk.compare_segments(seg.iloc[::-1], ["lead", "qualified"], by="seg")
    assert_frame_equal(a, b)


def test_time_zones_and_strings_give_the_same_table(events):
    ref = fk.triggers(events, ["visit", "signup"], min_entities=1)
    aware = events.assign(timestamp=events["timestamp"].dt.tz_localize("America/Sao_Paulo"))
    assert_frame_equal(fk.triggers(aware, ["visit", "signup"], min_entities=1), ref)
    text = events.assign(timestamp=events["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    assert_frame_equal(fk.triggers(text, ["visit", "signup"], min_entities=1), ref)


def test_compare_segments_with_two_by_columns(segmented):
    ev = segmented.assign(
        size=segmented["user_id"].map(lambda u: "big" if u in ("a1", "m1") else "small")
    )
    res = fk.compare_segments(ev, ["visit", "signup"], by=["channel", "size"])
    assert list(res.columns[:5]) == ["step", "channel_a", "size_a", "channel_b", "size_b"]
    # segments sorted: (ads, big) a1; (ads, small) a2..a4; (mail, big) m1; (mail, small) m2
    assert len(res) == 6
    first = res.iloc[0]
    assert (first["channel_a"], first["size_a"], first["channel_b"], first["size_b"]) == (
        "ads",
        "big",
        "ads",
        "small",
    )
    # a1 signed up (1/1); a2, a3 did, a4 did not (2/3)
    assert (first["converted_a"], first["entities_a"]) == (1, 1)
    assert (first["converted_b"], first["entities_b"]) == (2, 3)
    assert first["dof"] == 3


def test_compare_is_the_old_name_of_compare_segments(segmented):
    steps = ["visit", "signup", "buy"]
    new = fk.compare_segments(segmented, steps, by="channel")
    with pytest.warns(FutureWarning, match=r"compare is renamed funnelkit\.compare_segments"):
        old = fk.compare(segmented, steps, by="channel")
    assert_frame_equal(old, new)
    # every argument reaches the new function, column roles too
    renamed = segmented.rename(columns={"user_id": "lead", "timestamp": "at"})
    cols = {"entity": "lead", "time": "at"}
    new = fk.compare_segments(renamed, steps, by="channel", window="1D", alpha=0.2, columns=cols)
    with pytest.warns(FutureWarning, match=r"compare_segments\(events, steps, by=\.\.\.\)"):
        old = fk.compare(renamed, steps, by="channel", window="1D", alpha=0.2, columns=cols)
    assert_frame_equal(old, new)
    assert "compare" not in fk.__all__
    assert "compare_segments" in fk.__all__
    with pytest.warns(FutureWarning), pytest.raises(fk.ColumnNotFoundError, match=r"by="):
        fk.compare(segmented, steps, by="chanel")


def _options_case():
    t = pd.Timestamp("2025-01-01")
    rows = [
        ("u1", 0, "visit", "ads"), ("u1", 1, "x", "ads"), ("u1", 2, "demo", "ads"),
        ("u1", 3, "buy", "mail"),
        ("u2", 0, "visit", "ads"), ("u2", 1, "buy", "ads"),
        ("u3", 0, "visit", "mail"),
    ]  # fmt: skip
    return pd.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "timestamp": [t + pd.Timedelta(hours=r[1]) for r in rows],
            "event": [r[2] for r in rows],
            "channel": [r[3] for r in rows],
        }
    )


def test_triggers_take_the_funnel_options():
    ev = _options_case()
    kw = dict(candidates=["demo"], min_entities=1, min_age=None)
    # ordered: u1 did the demo and bought; u2 bought without; u3 did neither
    res = fk.triggers(ev, ["visit", "buy"], **kw)
    assert res[["entities_with", "converted_with", "entities_without", "converted_without"]].iloc[
        0
    ].tolist() == [1, 1, 2, 1]
    # strict: x and demo come between u1's visit and buy, so u1 stops at visit
    res = fk.triggers(ev, ["visit", "buy"], order="strict", **kw)
    assert res[["entities_with", "converted_with", "entities_without", "converted_without"]].iloc[
        0
    ].tolist() == [1, 0, 2, 1]
    # attribution: u1's channel at its deepest step (buy) is mail
    first = fk.triggers(ev, ["visit", "buy"], by="channel", **kw)
    last = fk.triggers(ev, ["visit", "buy"], by="channel", attribution="last", **kw)
    assert first.set_index("channel")["entities_with"].to_dict() == {"ads": 1, "mail": 0}
    assert last.set_index("channel")["entities_with"].to_dict() == {"ads": 0, "mail": 1}
    # ties="strict": buy at the visit's instant does not follow it
    tied = ev.assign(timestamp=ev["timestamp"].where(ev["user_id"] != "u2", ev["timestamp"].min()))
    allow = fk.triggers(tied, ["visit", "buy"], **kw)
    strict = fk.triggers(tied, ["visit", "buy"], ties="strict", **kw)
    assert allow["converted_without"].tolist() == [1]
    assert strict["converted_without"].tolist() == [0]
    with pytest.raises(fk.InvalidParameterError, match=r"order='any' is not supported"):
        fk.triggers(ev, ["visit", "buy"], order="any", **kw)


def test_triggers_and_compare_segments_dropna():
    ev = _options_case()
    bad = pd.concat([ev, ev.iloc[[0]].assign(user_id=None)], ignore_index=True)
    kw = dict(candidates=["demo"], min_entities=1, min_age=None)
    with pytest.raises(fk.InvalidDataError, match="user_id"):
        fk.triggers(bad, ["visit", "buy"], **kw)
    with pytest.warns(fk.FunnelkitWarning, match="1 of 8 rows"):
        res = fk.triggers(bad, ["visit", "buy"], dropna=True, **kw)
    pd.testing.assert_frame_equal(res, fk.triggers(ev, ["visit", "buy"], **kw))
    with pytest.warns(fk.FunnelkitWarning, match="1 of 8 rows"):
        seg = fk.compare_segments(bad, ["visit", "buy"], by="channel", dropna=True)
    pd.testing.assert_frame_equal(seg, fk.compare_segments(ev, ["visit", "buy"], by="channel"))
    # compare_segments: ads has u1 and u2 (both buy), mail u3
    cols = ["entities_a", "entities_b", "converted_a", "converted_b"]
    first = fk.compare_segments(ev, ["visit", "buy"], by="channel")
    assert first[cols].iloc[0].tolist() == [2, 1, 2, 0]
    # attribution="last": u1 bought through mail, so ads has u2, mail u1 and u3
    last = fk.compare_segments(ev, ["visit", "buy"], by="channel", attribution="last")
    assert last[cols].iloc[0].tolist() == [1, 2, 1, 1]
    # order="strict": x and demo interrupt u1 between visit and buy
    strict = fk.compare_segments(ev, ["visit", "buy"], by="channel", order="strict")
    assert strict[cols].iloc[0].tolist() == [2, 1, 1, 0]
