"""Event funnels: hand-made cases, the brute-force reference, ClickHouse, properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import funnelkit as fk
from tests.reference import funnel_entities_ref, quantile_ref
from tests.strategies import BASE as BASE_TIME
from tests.strategies import NOISE, STEP_EVENTS, event_logs, funnels, orders, ties_options, windows

DAY = 86400
EPOCH = pd.Timestamp("2024-01-01")
BENCH_STEPS = ["visit", "signup", "demo", "proposal", "won"]
CATS = [*STEP_EVENTS, *NOISE]
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def log(rows, *, unit="s"):
    """rows: (user, time offset in `unit`, event[, seg]) -> events DataFrame."""
    df = pd.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "timestamp": EPOCH + pd.to_timedelta([r[1] for r in rows], unit=unit),
            "event": [r[2] for r in rows],
        }
    )
    if rows and len(rows[0]) > 3:
        df["seg"] = [r[3] for r in rows]
    return df


def levels(df, steps, **kw):
    res = fk.funnel_entities(df, steps, **kw)
    return dict(zip(res["user_id"], res["reached"], strict=True))


# ----------------------------------------------------------------------------
# hand-made cases (expected values worked out by hand in the comments)
# ----------------------------------------------------------------------------
def small_case():
    """16 entities, 7-day window; expected levels under ClickHouse windowFunnel semantics."""
    w = 7 * DAY
    rows, exp = [], {}
    # 1: full funnel in order
    rows += [(1, 0, "visit"), (1, 10, "signup"), (1, 20, "demo"), (1, 30, "proposal")]
    rows += [(1, 40, "won")]
    exp[1] = 5
    # 2: signup 8 days after the visit, outside the window
    rows += [(2, 0, "visit"), (2, 8 * DAY, "signup")]
    exp[2] = 1
    # 3: visit, signup, demo all at t=100 (listed out of order): ties count as in order
    rows += [(3, 100, "signup"), (3, 100, "visit"), (3, 100, "demo"), (3, 50, "click")]
    exp[3] = 3
    # 4: chain from visit@0 gets signup@1d; demo@8d is 8 days after that start;
    #    visit@6d starts a chain that has no signup after it -> level 2
    rows += [(4, 0, "visit"), (4, DAY, "signup"), (4, 6 * DAY, "visit"), (4, 8 * DAY, "demo")]
    rows += [(4, 9 * DAY, "proposal")]
    exp[4] = 2
    # 5: signup before the visit does not count
    rows += [(5, 0, "signup"), (5, 10, "visit"), (5, 20, "demo")]
    exp[5] = 1
    # 6: exactly on the window boundary (inclusive)
    rows += [(6, 0, "visit"), (6, w, "signup")]
    exp[6] = 2
    # 7: one second past the boundary
    rows += [(7, 0, "visit"), (7, w + 1, "signup")]
    exp[7] = 1
    # 8: only other events
    rows += [(8, 0, "click"), (8, 5, "login")]
    exp[8] = 0
    # 9: the later visit (7d) starts the chain that reaches signup@8d
    rows += [(9, 0, "visit"), (9, 7 * DAY, "visit"), (9, 8 * DAY, "signup")]
    exp[9] = 2
    # 10: the visit@9d does not rescue the signup@3d (which came before it)
    rows += [(10, 0, "visit"), (10, 3 * DAY, "signup"), (10, 9 * DAY, "visit")]
    rows += [(10, 9 * DAY + 5, "demo")]
    exp[10] = 2
    # 11: demo before signup is skipped, the demo after it counts; won skips proposal
    rows += [(11, 0, "visit"), (11, 1, "demo"), (11, 2, "signup"), (11, 3, "demo"), (11, 4, "won")]
    exp[11] = 3
    # 12: duplicated rows at one time
    rows += [(12, 5, "visit"), (12, 5, "visit"), (12, 5, "signup"), (12, 5, "signup")]
    exp[12] = 2
    # 13: the whole funnel at one timestamp, listed in reverse
    rows += [(13, 7, s) for s in reversed(BENCH_STEPS)]
    exp[13] = 5
    # 14: the signup@6d belongs to the chain from visit@0; demo@7.5d is 7.5 days after it,
    #     and the visit@6.5d came after the signup -> level 2
    rows += [(14, 0, "visit"), (14, 6 * DAY, "signup"), (14, 6 * DAY + 43200, "visit")]
    rows += [(14, 7 * DAY + 43200, "demo")]
    exp[14] = 2
    # 15: the second chain (visit@10d) reaches proposal@16d; won@18d is 8 days after it
    rows += [(15, 0, "visit"), (15, DAY, "signup"), (15, 10 * DAY, "visit")]
    rows += [(15, 11 * DAY, "signup"), (15, 12 * DAY, "demo"), (15, 16 * DAY, "proposal")]
    rows += [(15, 18 * DAY, "won")]
    exp[15] = 4
    # 16: won before everything, then a chain of 4
    rows += [(16, 0, "won"), (16, 1, "visit"), (16, 2, "signup"), (16, 3, "demo")]
    rows += [(16, 4, "proposal")]
    exp[16] = 4
    df = log(rows)
    df["event"] = pd.Categorical(df["event"], categories=[*BENCH_STEPS, "click", "login"])
    return df, exp


def test_small_case_levels():
    df, exp = small_case()
    assert levels(df, BENCH_STEPS, window="7D") == exp


def test_small_case_conversion_by_hand():
    df, _ = small_case()
    res = fk.conversion(df, BENCH_STEPS, window="7D")
    # levels: 5,1,3,2,1,2,1,0,2,2,3,2,5,2,4,4 -> at least 1: 15 (all but #8),
    # >=2: 12, >=3: 6 (#1,3,11,13,15,16), >=4: 4 (#1,13,15,16), >=5: 2 (#1,13)
    assert res["step"].tolist() == BENCH_STEPS
    assert res["entities"].tolist() == [15, 12, 6, 4, 2]
    np.testing.assert_allclose(res["conversion"], [1, 12 / 15, 6 / 12, 4 / 6, 2 / 4])
    np.testing.assert_allclose(res["overall"], [1, 12 / 15, 6 / 15, 4 / 15, 2 / 15])
    assert res["dropped"].tolist() == [0, 3, 6, 2, 2]
    lo, hi = wilson(np.array([12, 6, 4, 2]), np.array([15, 12, 6, 4]), 0.95)
    np.testing.assert_allclose(res["conversion_low"][1:], lo)
    np.testing.assert_allclose(res["conversion_high"][1:], hi)
    assert res["conversion_low"][0] == res["conversion_high"][0] == 1.0


def wilson(k, n, ci):
    """Wilson score interval, written out from the formula."""
    z = stats.norm.ppf(0.5 + ci / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.where(k == 0, 0, centre - half), np.where(k == n, 1, centre + half)


def test_ties_allow_and_strict():
    rows = [(1, 100, "signup"), (1, 100, "visit"), (1, 100, "demo")]
    rows += [(2, 0, "visit"), (2, 0, "signup"), (2, 5, "signup")]
    df = log(rows)
    steps = ["visit", "signup", "demo"]
    # allow: all at t=100 count in step order -> 3; u2: signup@0 -> 2
    assert levels(df, steps) == {1: 3, 2: 2}
    # strict: nothing after visit@100 -> 1; u2: signup@5 -> 2
    assert levels(df, steps, ties="strict") == {1: 1, 2: 2}
    fe = fk.funnel_entities(df, steps, ties="strict")
    assert fe.loc[1, "signup"] == EPOCH + pd.Timedelta(seconds=5)
    fe = fk.funnel_entities(df, steps)
    assert fe.loc[1, "signup"] == EPOCH


def test_strict_order():
    steps = ["a", "b", "c"]
    rows = [(1, t, e) for t, e in enumerate("aabbcc")]  # repeats of the step just reached: 3
    rows += [(2, t, e) for t, e in enumerate("adbc")]  # d interrupts a -> b: 1
    rows += [(3, t, e) for t, e in enumerate("abac")]  # a between b and c is not b: 2
    rows += [(4, t, e) for t, e in enumerate("abbc")]  # 3
    df = log(rows)
    assert levels(df, steps, order="strict") == {1: 3, 2: 1, 3: 2, 4: 3}
    # ordered lets other events in between
    assert levels(df, steps) == {1: 3, 2: 3, 3: 3, 4: 3}
    # strict, u1 = a@0 a@1 b@2 b@3 c@4 c@5: b@3 cannot follow a (b@2 lies between), so the
    # chain is a@1 (the a next to b), b@2, then c@4 (b@3 between is a repeat of b)
    fe = fk.funnel_entities(df, steps, order="strict").set_index("user_id")
    sec = pd.Timedelta(seconds=1)
    assert fe.loc[1, ["a", "b", "c"]].tolist() == [EPOCH + sec, EPOCH + 2 * sec, EPOCH + 4 * sec]


def test_any_order():
    steps = ["a", "b", "c"]
    df = log([(1, 0, "c"), (1, 1, "b"), (1, 2, "a")])
    assert levels(df, steps, order="any") == {1: 3}
    assert levels(df, steps) == {1: 1}
    # 1 s window: [0, 1] lacks a -> 0; [1, 2] holds b and a -> 2
    assert levels(df, steps, order="any", window="1s") == {1: 2}


def test_window_zero_and_none():
    df = log([(1, 0, "a"), (1, 0, "b"), (1, 1, "c"), (1, 10**6, "d")])
    steps = ["a", "b", "c", "d"]
    assert levels(df, steps, window=0) == {1: 2}
    assert levels(df, steps, window="0s") == {1: 2}
    assert levels(df, steps, window="1s") == {1: 3}
    assert levels(df, steps, window=pd.Timedelta(days=30)) == {1: 4}
    assert levels(df, steps, window=None) == {1: 4}


def test_step_lists_and_labels():
    rows = [(1, 0, "visit"), (1, 1, "trial"), (1, 2, "buy"), (2, 0, "visit"), (2, 1, "demo")]
    df = log(rows)
    steps = ["visit", ["demo", "trial"], "buy"]
    res = fk.conversion(df, steps)
    assert res["step"].tolist() == ["visit", "demo | trial", "buy"]
    assert res["entities"].tolist() == [2, 2, 1]
    fe = fk.funnel_entities(df, steps)
    assert list(fe.columns) == ["user_id", "reached", "visit", "demo | trial", "buy"]


def test_one_event_fills_one_step():
    steps = ["view", "view", "buy"]
    rows = [(1, 0, "view"), (1, 1, "buy")]  # one view cannot fill two steps: 1
    rows += [(2, 0, "view"), (2, 0, "view"), (2, 0, "buy")]  # two views at one time: 3
    rows += [(3, 0, "view"), (3, 1, "view"), (3, 2, "buy")]  # 3
    df = log(rows)
    assert levels(df, steps) == {1: 1, 2: 3, 3: 3}
    assert fk.conversion(df, steps)["step"].tolist() == ["view", "view #2", "buy"]
    # an event listed in two steps (ClickHouse would let one row fill both)
    df2 = log([(1, 0, "a"), (1, 1, "c"), (2, 0, "b")])
    assert levels(df2, ["a", ["a", "b"], "c"]) == {1: 1, 2: 0}
    df3 = log([(1, 0, "a"), (1, 0, "a"), (1, 1, "c"), (2, 0, "b")])
    assert levels(df3, ["a", ["a", "b"], "c"]) == {1: 3, 2: 0}
    # no "a" at all (a declared category): b@2 fills step 1, nothing fills step 2, so b@3
    # cannot be step 3
    df4 = log([(1, 2, "b"), (1, 3, "b")])
    df4["event"] = pd.Categorical(df4["event"], categories=["a", "b"])
    assert levels(df4, ["b", "a", ["a", "b"]]) == {1: 1}


def test_winning_chain_and_attribution():
    # visits @0 (seg p) and @5 (seg q), signup @6 (seg r): both chains reach 2, the
    # deepest completes first at 6; the latest start is the visit @5.
    rows = [(1, 0, "visit", "p"), (1, 5, "visit", "q"), (1, 6, "signup", "r")]
    rows += [(2, 3, "click", "s"), (2, 1, "login", "t")]  # reached 0: earliest event (t)
    df = log(rows)
    fe = fk.funnel_entities(df, ["visit", "signup"], window="7s", by="seg")
    assert fe["seg"].tolist() == ["q", "t"]
    assert fe.loc[0, "visit"] == EPOCH + pd.Timedelta(seconds=5)
    fe = fk.funnel_entities(df, ["visit", "signup"], window="7s", by="seg", attribution="last")
    assert fe["seg"].tolist() == ["r", "t"]
    # ordered: each step's first occurrence after the previous one (signup@1, not @5)
    df = log([(1, 0, "visit"), (1, 1, "signup"), (1, 5, "signup"), (1, 6, "demo")])
    fe = fk.funnel_entities(df, ["visit", "signup", "demo"])
    assert fe.loc[0, "signup"] == EPOCH + pd.Timedelta(seconds=1)


def test_missing_segment_is_its_own_group():
    rows = [(1, 0, "a", "x"), (1, 1, "b", "x"), (2, 0, "a", None), (3, 0, "a", None)]
    rows += [(3, 2, "b", None)]
    df = log(rows)
    res = fk.conversion(df, ["a", "b"], by="seg")
    assert len(res) == 4
    assert res["seg"].iloc[:2].tolist() == ["x", "x"]
    assert res["seg"].iloc[2:].isna().all()
    assert res["entities"].tolist() == [1, 1, 2, 1]


def test_time_zones_units_and_precision():
    df = log([(1, 0, "a"), (1, 1, "b"), (2, 0, "a")], unit="ns")
    base = fk.funnel_entities(df, ["a", "b"], ties="strict")
    # nanosecond apart, strictly later: kept
    assert base["reached"].tolist() == [2, 1]
    assert base.loc[0, "b"] - base.loc[0, "a"] == pd.Timedelta(1, unit="ns")
    berlin = df.assign(timestamp=df["timestamp"].dt.tz_localize("Europe/Berlin"))
    res = fk.funnel_entities(berlin, ["a", "b"], ties="strict")
    assert str(res["a"].dt.tz) == "Europe/Berlin"
    assert res.loc[0, "b"] == berlin["timestamp"].iloc[1]
    coarse = log([(1, 0, "a"), (1, 2, "b"), (2, 0, "a")])
    expected = fk.conversion(coarse, ["a", "b"])
    for unit in ("s", "ms", "us"):
        other = coarse.assign(timestamp=coarse["timestamp"].astype(f"datetime64[{unit}]"))
        pd.testing.assert_frame_equal(fk.conversion(other, ["a", "b"]), expected)
    strings = coarse.assign(timestamp=coarse["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    pd.testing.assert_frame_equal(fk.conversion(strings, ["a", "b"]), expected)


def test_entity_and_event_dtypes():
    df = log([(1, 0, "a"), (1, 1, "b"), (2, 0, "a")])
    expected = fk.conversion(df, ["a", "b"])
    for ids in (["u1", "u1", "u2"], [1.5, 1.5, 2.5], pd.Categorical(["x", "x", "y"])):
        pd.testing.assert_frame_equal(fk.conversion(df.assign(user_id=ids), ["a", "b"]), expected)
    cat = df.assign(event=pd.Categorical(df["event"], categories=["b", "a", "z"]))
    pd.testing.assert_frame_equal(fk.conversion(cat, ["a", "b"]), expected)
    fe = fk.funnel_entities(df.assign(user_id=["u1", "u1", "u2"]), ["a", "b"])
    assert fe["user_id"].tolist() == ["u1", "u2"]


def test_median_time_and_time_to_convert_by_hand():
    d = DAY
    rows = [(1, 0, "visit"), (1, d, "signup"), (2, 0, "visit"), (2, 3 * d, "signup")]
    rows += [(3, 0, "visit"), (3, 4 * d, "signup"), (4, 0, "visit"), (4, 10 * d, "signup")]
    rows += [(5, 0, "visit")]
    df = log(rows)
    res = fk.conversion(df, ["visit", "signup"])
    # deltas 1, 3, 4, 10 days -> median (3 + 4) / 2
    assert pd.isna(res.loc[0, "median_time"])
    assert res.loc[1, "median_time"] == pd.Timedelta(days=3.5)
    ttc = fk.time_to_convert(df, ["visit", "signup"])
    days = pd.Timedelta(days=1)
    assert ttc.loc[0, "entities"] == 4
    # mean 18 / 4; linear quantiles: p10 at 0.3 -> 1 + 0.3 * 2, p25 at 0.75 -> 1 + 0.75 * 2,
    # p75 at 2.25 -> 4 + 0.25 * 6, p90 at 2.7 -> 4 + 0.7 * 6
    assert ttc.loc[0, "mean"] == 4.5 * days
    assert ttc.loc[0, "p10"] == pd.Timedelta(days=1, hours=14, minutes=24)  # 1.6 days
    assert ttc.loc[0, "p25"] == 2.5 * days
    assert ttc.loc[0, "median"] == 3.5 * days
    assert ttc.loc[0, "p75"] == 5.5 * days
    assert ttc.loc[0, "p90"] == pd.Timedelta(days=8, hours=4, minutes=48)  # 8.2 days
    assert ttc[["from_step", "to_step"]].iloc[0].tolist() == ["visit", "signup"]


def median_interval_ref(values, ci):
    """Order-statistic interval of a median, by explicit coverage sums (slow, obvious).

    The widest-k search: the largest k whose interval [x_(k), x_(n-k+1)] has
    coverage P(k <= B <= n - k) >= ci for B ~ Binomial(n, 1/2).
    """
    x = np.sort(np.asarray(values))
    n = len(x)
    best = None
    for k in range(1, n // 2 + 1):
        coverage = sum(math.comb(n, b) for b in range(k, n - k + 1)) / 2**n
        if coverage >= ci:
            best = k
    if best is None:
        return pd.NaT, pd.NaT
    return x[best - 1], x[n - best]


@pytest.mark.parametrize("ci", [0.95, 0.8])
def test_time_to_convert_median_interval_is_two_order_statistics(ci):
    rng = np.random.default_rng(5)
    rows = []
    for user in range(300):
        rows.append((user, 0, "visit"))
        if user % 5:  # 240 converters, in three segments of different sizes
            rows.append((user, int(rng.integers(1, 10 * DAY)), "signup"))
    df = log(rows)
    df["segment"] = np.where(df["user_id"] < 20, "tiny", np.where(df["user_id"] < 120, "a", "b"))
    res = fk.time_to_convert(df, ["visit", "signup"], by="segment", ci=ci)
    ent = fk.funnel_entities(df, ["visit", "signup"], by="segment")
    for _, row in res.iterrows():
        mine = ent[(ent["segment"] == row["segment"]) & (ent["reached"] == 2)]
        dur = ((mine["signup"] - mine["visit"]) / pd.Timedelta(1, "ns")).astype(np.int64)
        low, high = median_interval_ref(dur.to_numpy(), ci)
        assert row["entities"] == len(dur)
        assert row["median_low"] == pd.Timedelta(low, "ns")
        assert row["median_high"] == pd.Timedelta(high, "ns")
        assert row["median_low"] <= row["median"] <= row["median_high"]
    # too few converters for any interval at that level: NaT, never a made-up bound
    two = log([(1, 0, "visit"), (1, DAY, "signup"), (2, 0, "visit"), (2, 2 * DAY, "signup")])
    few = fk.time_to_convert(two, ["visit", "signup"], ci=0.95)
    assert pd.isna(few.loc[0, "median_low"])
    assert pd.isna(few.loc[0, "median_high"])


def test_time_to_convert_steps():
    df, _ = small_case()
    res = fk.time_to_convert(df, BENCH_STEPS, window="7D", from_step="signup", to_step="demo")
    # entities reaching demo: #1 (10 s), #3 (0 s), #11 (signup@2 -> demo@3: 1 s),
    # #13 (0 s), #15 (signup@11d -> demo@12d), #16 (1 s)
    assert res.loc[0, "entities"] == 6
    assert res.loc[0, "median"] == pd.Timedelta(seconds=1)
    assert res.loc[0, "p90"] == pd.Timedelta(seconds=10 + 0.5 * (DAY - 10))
    with pytest.raises(fk.InvalidParameterError, match=r"to_step.*after from_step"):
        fk.time_to_convert(df, BENCH_STEPS, from_step="demo", to_step="signup")
    with pytest.raises(fk.InvalidParameterError, match=r"from_step.*step labels"):
        fk.time_to_convert(df, BENCH_STEPS, from_step="nope")


def test_dropoff_by_hand():
    df, _ = small_case()
    res = fk.dropoff(df, BENCH_STEPS, window="7D")
    # counts 15, 12, 6, 4, 2 -> lost 3, 6, 2, 2
    assert res["from_step"].tolist() == BENCH_STEPS[:-1]
    assert res["to_step"].tolist() == BENCH_STEPS[1:]
    assert res["entities"].tolist() == [15, 12, 6, 4]
    assert res["lost"].tolist() == [3, 6, 2, 2]
    np.testing.assert_allclose(res["lost_share"], [0.2, 0.5, 2 / 6, 0.5])
    assert res["rank"].tolist() == [2, 1, 3, 3]
    assert res["biggest_leak"].tolist() == [False, True, False, False]
    assert "p_value" not in res


def test_dropoff_by_segment_tests():
    rows = []
    # segment x: 40 visit, 30 sign up; segment y: 40 visit, 10 sign up
    for i in range(80):
        seg = "x" if i < 40 else "y"
        rows.append((i, 0, "visit", seg))
        if i < 30 or 40 <= i < 50:
            rows.append((i, 1, "signup", seg))
    df = log(rows)
    res = fk.dropoff(df, ["visit", "signup"], by="seg")
    assert res["seg"].tolist() == ["x", "y"]
    assert res["lost"].tolist() == [10, 30]
    assert res["rest_entities"].tolist() == [40, 40]
    assert res["rest_lost"].tolist() == [30, 10]
    # the pooled two-proportion z-test equals the chi-square test without correction
    p = stats.chi2_contingency([[10, 30], [30, 10]], correction=False)[1]
    np.testing.assert_allclose(res["p_value"], [p, p])
    # Holm with two equal p-values: both 2p
    np.testing.assert_allclose(res["p_adjusted"], [min(2 * p, 1)] * 2)


def _depth_log(plan, steps):
    """plan: {segment: {depth: users}} -> a log where each user does the first `depth` steps."""
    rows, user = [], 0
    for seg, depths in plan.items():
        for depth, users in depths.items():
            for _ in range(users):
                rows += [(user, j, steps[j], seg) for j in range(depth)]
                user += 1
    return log(rows)


def _holm_by_hand(p):
    order = np.argsort(p)
    m = len(p)
    adj = np.minimum(1, np.maximum.accumulate(np.asarray(p)[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


def test_dropoff_by_tests_each_segment_against_the_rest_holm_per_transition():
    steps = ["visit", "signup", "demo", "buy"]
    plan = {
        "x": {1: 10, 2: 20, 3: 25, 4: 5},
        "y": {1: 25, 2: 20, 3: 10, 4: 5},
        "z": {1: 10, 2: 15, 3: 5, 4: 10},
    }
    df = _depth_log(plan, steps)
    res = fk.dropoff(df, steps, by="seg")
    # the reference: plain pandas counts, scipy's 2x2 chi-square (= the pooled z-test),
    # Holm by hand within each transition
    depth = df.groupby("user_id").agg(seg=("seg", "first"), depth=("event", "size"))
    for t in range(3):
        reached = depth[depth["depth"] >= t + 1].groupby("seg").size()
        moved = depth[depth["depth"] >= t + 2].groupby("seg").size().reindex(reached.index)
        lost = reached - moved.fillna(0).astype(int)
        raw = []
        for seg in reached.index:
            n, k = reached[seg], lost[seg]
            rn, rk = reached.sum() - n, lost.sum() - k
            raw.append(stats.chi2_contingency([[k, n - k], [rk, rn - rk]], correction=False)[1])
        rows = res[res["from_step"] == steps[t]].set_index("seg").loc[reached.index]
        assert rows["rest_entities"].tolist() == (reached.sum() - reached).tolist()
        assert rows["rest_lost"].tolist() == (lost.sum() - lost).tolist()
        np.testing.assert_allclose(rows["p_value"], raw, rtol=1e-9)
        np.testing.assert_allclose(rows["p_adjusted"], _holm_by_hand(raw), rtol=1e-12)
    # one family per transition: a shorter funnel leaves the shared transitions' p_adjusted
    short = fk.dropoff(df, steps[:2], by="seg")
    first = res[res["from_step"] == "visit"].reset_index(drop=True)
    np.testing.assert_array_equal(short["p_adjusted"], first["p_adjusted"])


def test_by_multiple_columns_sum_to_total():
    df, _ = small_case()
    df["a"] = df["user_id"] % 2
    df["b"] = np.where(df["user_id"] > 8, "hi", None)
    total = fk.conversion(df, BENCH_STEPS, window="7D")
    res = fk.conversion(df, BENCH_STEPS, window="7D", by=["a", "b"])
    assert list(res.columns[:3]) == ["a", "b", "step"]
    summed = res.groupby("step", sort=False)["entities"].sum()
    assert summed.tolist() == total["entities"].tolist()


def test_empty_input_well_typed():
    df = log([(1, 0, "a")]).iloc[:0]
    res = fk.conversion(df, ["a", "b"])
    assert len(res) == 0
    assert res["entities"].dtype == np.int64
    assert res["median_time"].dtype == "timedelta64[ns]"
    fe = fk.funnel_entities(df, ["a", "b"], by="event")
    assert list(fe.columns) == ["user_id", "reached", "a", "b", "event"]
    assert fe["reached"].dtype == np.int64
    assert fe["a"].dtype == "datetime64[ns]"
    assert len(fk.dropoff(df, ["a", "b"])) == 0
    ttc = fk.time_to_convert(df, ["a", "b"])
    assert len(ttc) == 0
    assert ttc["median"].dtype == "timedelta64[ns]"


def test_null_time_left_out_with_warning():
    df = log([(1, 0, "a"), (1, 1, "b"), (2, 0, "a")])
    df.loc[1, "timestamp"] = pd.NaT
    with pytest.warns(fk.FunnelkitWarning, match=r"left out 1 of 3 rows.*NaT"):
        res = fk.conversion(df, ["a", "b"])
    assert res["entities"].tolist() == [2, 0]


def test_null_entity_raises_or_drops():
    df = log([("u1", 0, "a"), (None, 1, "b"), ("u2", 0, "a")])
    with pytest.raises(fk.InvalidDataError, match=r"'user_id'.*1 of 3 rows.*null") as info:
        fk.conversion(df, ["a", "b"])
    assert info.value.n_rows == 1
    with pytest.warns(fk.FunnelkitWarning, match="left out 1 of 3 rows"):
        res = fk.conversion(df, ["a", "b"], dropna=True)
    assert res["entities"].tolist() == [2, 0]


def test_errors():
    df = log([(1, 0, "visit"), (1, 1, "signup")])
    with pytest.raises(fk.ColumnNotFoundError, match=r"entity=.*Available columns"):
        fk.conversion(df, ["visit"], entity="uid")
    with pytest.raises(fk.ColumnNotFoundError, match=r"by=.*Hint: pass by='event'"):
        fk.conversion(df, ["visit"], by="evnt")
    with pytest.raises(fk.InvalidParameterError, match=r"sigup.*Existing events.*'signup'"):
        fk.conversion(df, ["visit", "sigup"])
    with pytest.raises(fk.InvalidParameterError, match="'window' parameter of conversion"):
        fk.conversion(df, ["visit"], window="-3D")
    with pytest.raises(fk.InvalidParameterError, match="'window'"):
        fk.conversion(df, ["visit"], window=7)
    with pytest.raises(fk.InvalidParameterError, match="'order'"):
        fk.conversion(df, ["visit"], order="sequential")
    with pytest.raises(fk.InvalidParameterError, match="'ties'"):
        fk.funnel_entities(df, ["visit"], ties="loose")
    with pytest.raises(fk.InvalidParameterError, match="'attribution'"):
        fk.conversion(df, ["visit"], attribution="middle")
    with pytest.raises(fk.InvalidParameterError, match="'ci'"):
        fk.conversion(df, ["visit"], ci=95)
    with pytest.raises(fk.InvalidParameterError, match="'dropna'"):
        fk.conversion(df, ["visit"], dropna="yes")
    with pytest.raises(fk.InvalidParameterError, match=r"'steps'.*non-empty list"):
        fk.conversion(df, "visit")
    with pytest.raises(fk.InvalidParameterError, match=r"'steps'.*non-empty list"):
        fk.conversion(df, [])
    with pytest.raises(fk.InvalidParameterError, match="no empty lists"):
        fk.conversion(df, ["visit", []])
    with pytest.raises(fk.InvalidParameterError, match="at least two steps"):
        fk.dropoff(df, ["visit"])
    with pytest.raises(fk.InvalidParameterError, match=r"more than one step.*order='any'"):
        fk.conversion(df, ["visit", "visit"], order="any")
    with pytest.raises(fk.InvalidParameterError, match=r"'events' argument.*DataFrame"):
        fk.conversion([1, 2], ["visit"])
    bad_time = df.assign(timestamp=["2024-01-01", "n/a"])
    with pytest.raises(fk.InvalidDataError, match="not datetimes"):
        fk.conversion(bad_time, ["visit"])
    with pytest.raises(fk.InvalidDataError, match="holds numbers"):
        fk.conversion(df.assign(timestamp=[1, 2]), ["visit"])


# ----------------------------------------------------------------------------
# the brute-force reference and properties (hypothesis)
# ----------------------------------------------------------------------------
def categorical(df):
    values = df["event"].to_numpy(dtype=object)
    return df.assign(event=pd.Categorical(values, categories=pd.Index(CATS, dtype=object)))


@SETTINGS
@given(
    df=event_logs(),
    steps=funnels(),
    window=windows,
    order=orders,
    ties=ties_options,
    attribution=st.sampled_from(["first", "last"]),
)
def test_funnel_entities_matches_reference(df, steps, window, order, ties, attribution):
    df = categorical(df)
    kw = {"window": window, "order": order, "ties": ties}
    got = fk.funnel_entities(df, steps, by="seg", attribution=attribution, **kw)
    exp = funnel_entities_ref(df, steps, by=["seg"], attribution=attribution, **kw)
    pd.testing.assert_frame_equal(got, exp, check_dtype=False)
    assert got["reached"].dtype == np.int64


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=event_logs(segment=False), steps=funnels(overlap=True), window=windows)
def test_overlapping_steps_match_reference(df, steps, window):
    df = categorical(df)
    for ties in ("allow", "strict"):
        got = fk.funnel_entities(df, steps, window=window, ties=ties)
        exp = funnel_entities_ref(df, steps, window=window, ties=ties)
        pd.testing.assert_frame_equal(got, exp, check_dtype=False)


@SETTINGS
@given(df=event_logs(varying_segment=False), steps=funnels(), window=windows, order=orders)
def test_conversion_and_time_to_convert_match_reference(df, steps, window, order):
    df = categorical(df)
    ref = funnel_entities_ref(df, steps, window=window, order=order, by=["seg"])
    ref = ref[ref["reached"] > 0]
    res = fk.conversion(df, steps, window=window, order=order)
    k = len(steps)
    counts = [int((ref["reached"] >= j).sum()) for j in range(1, k + 1)]
    assert res["entities"].tolist() == (counts if counts[0] else [])
    labels = list(ref.columns[2 : 2 + k])
    for j in range(1, k if counts and counts[0] else 0):
        deltas = (ref[labels[j]] - ref[labels[j - 1]]).dropna()
        exp = quantile_ref(deltas.to_numpy().view("int64").tolist(), 0.5)
        got = res.loc[j, "median_time"]
        assert (pd.isna(got) and pd.isna(exp)) or got == exp
    if k >= 2 and counts[0]:
        ttc = fk.time_to_convert(df, steps, window=window, order=order, by="seg")
        for _, row in ttc.iterrows():
            seg = row["seg"]
            mine = ref[ref["seg"].isna()] if pd.isna(seg) else ref[ref["seg"] == seg]
            d = (mine[labels[-1]] - mine[labels[0]]).dropna().to_numpy().view("int64").tolist()
            assert row["entities"] == len(d)
            names = ["p10", "p25", "median", "p75", "p90"]
            for name, q in zip(names, [0.1, 0.25, 0.5, 0.75, 0.9], strict=True):
                exp = quantile_ref(d, q)
                assert (pd.isna(row[name]) and pd.isna(exp)) or row[name] == exp
            if d:
                assert abs(row["mean"] - pd.Timedelta(round(np.mean(d)))) <= pd.Timedelta(1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    df=event_logs(varying_segment=False),
    steps=funnels(),
    window=windows,
    order=orders,
    ties=ties_options,
    seed=st.integers(0, 2**16),
)
def test_properties(df, steps, window, order, ties, seed):
    df = categorical(df)
    before = df.copy()
    kw = {"window": window, "order": order, "ties": ties}
    res = fk.conversion(df, steps, **kw)
    pd.testing.assert_frame_equal(df, before)  # input unchanged
    # shuffling rows changes nothing
    shuffled = df.sample(frac=1, random_state=seed)
    pd.testing.assert_frame_equal(fk.conversion(shuffled, steps, **kw), res)
    pd.testing.assert_frame_equal(
        fk.funnel_entities(shuffled, steps, **kw), fk.funnel_entities(df, steps, **kw)
    )
    # entities never increase along the steps
    assert (np.diff(res["entities"].to_numpy()) <= 0).all()
    # by-groups sum back to the total
    by = fk.conversion(df, steps, by="seg", **kw)
    assert by.groupby("step", sort=False)["entities"].sum().tolist() == res["entities"].tolist()
    # a wider window never converts fewer (per entity)
    wide = fk.funnel_entities(df, steps, window=None, order=order, ties=ties)
    narrow = fk.funnel_entities(df, steps, **kw)
    assert (wide["reached"].to_numpy() >= narrow["reached"].to_numpy()).all()
    # dropoff agrees with conversion
    if len(steps) >= 2 and len(res):
        drop = fk.dropoff(df, steps, **kw)
        assert drop["lost"].tolist() == res["dropped"].tolist()[1:]


# ----------------------------------------------------------------------------
# ClickHouse windowFunnel
# ----------------------------------------------------------------------------
def clickhouse_levels(frame, steps, window_seconds, modes=()):
    """windowFunnel's level per user; a step listing several events is ``event IN (...)``."""
    chdb = pytest.importorskip("chdb", reason="chdb (ClickHouse) is not installed")
    conds = ", ".join(
        "event IN (" + ", ".join(f"'{e}'" for e in ([s] if isinstance(s, str) else s)) + ")"
        for s in steps
    )
    params = ", ".join([str(window_seconds), *(f"'{m}'" for m in modes)])
    sql = (
        f"SELECT user_id, windowFunnel({params})(toDateTime(timestamp), {conds}) "
        "FROM Python(frame) GROUP BY user_id ORDER BY user_id"
    )
    out = chdb.query(sql, "CSV").data().strip()
    return {int(a): int(b) for a, b in (line.split(",") for line in out.splitlines() if line)}


@settings(max_examples=40, deadline=None)
@given(
    df=event_logs(segment=False, max_rows=12),
    k=st.integers(1, 4),
    window=st.sampled_from([0, 1, 2, 4, 2**31]),
)
def test_equals_clickhouse_window_funnel(df, k, window):
    pytest.importorskip("chdb", reason="chdb (ClickHouse) is not installed")
    if df.empty:
        return
    # ClickHouse DateTime has whole seconds
    frame = df.assign(timestamp=df["timestamp"].dt.floor("s"), event=df["event"].astype(object))
    steps = STEP_EVENTS[:k]
    ch = clickhouse_levels(frame, steps, window)
    ours = levels(categorical(frame), steps, window=pd.Timedelta(seconds=window))
    assert ours == ch


@settings(max_examples=150, deadline=None)
@given(
    df=event_logs(segment=False, max_rows=12),
    steps=funnels(overlap=True),
    window=st.sampled_from([0, 1, 2, 4, 2**31]),
    ties=st.sampled_from(["allow", "strict"]),
)
def test_shared_events_equal_clickhouse_strict_once(df, steps, window, ties):
    """One event fills at most one step: ClickHouse's 'strict_once' mode.

    Steps that repeat an event (``["a", "a", "b"]``) or list events another
    step lists too (``[["a", "b"], "b"]``); ``ties="strict"`` adds
    'strict_increase' (each step strictly later than the previous one).
    """
    pytest.importorskip("chdb", reason="chdb (ClickHouse) is not installed")
    frame = df.assign(timestamp=df["timestamp"].dt.floor("s"), event=df["event"].astype(object))
    names = {e for s in steps for e in ([s] if isinstance(s, str) else s)}
    if frame.empty or not names <= set(frame["event"]):
        return  # funnelkit refuses steps naming absent events
    modes = ("strict_once",) if ties == "allow" else ("strict_once", "strict_increase")
    ours = levels(frame, steps, window=pd.Timedelta(seconds=window), ties=ties)
    assert ours == clickhouse_levels(frame, steps, window, modes)


def test_clickhouse_default_mode_lets_one_event_fill_two_steps():
    """The documented difference: without 'strict_once' one view fills both view steps."""
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 2],
            "timestamp": pd.to_datetime(
                [
                    *("2025-01-01 00:00:00", "2025-01-01 00:00:01"),
                    *("2025-01-01 00:00:00", "2025-01-01 00:00:01", "2025-01-01 00:00:02"),
                ]
            ),
            "event": ["view", "buy", "view", "view", "buy"],
        }
    )
    steps = ["view", "view", "buy"]
    # user 1 viewed once: funnelkit and strict_once stop at 1 view, the default mode says 3
    assert clickhouse_levels(frame, steps, 100) == {1: 3, 2: 3}
    assert clickhouse_levels(frame, steps, 100, ("strict_once",)) == {1: 1, 2: 3}
    assert levels(frame, steps, window="100s") == {1: 1, 2: 3}


def test_equals_clickhouse_on_small_case():
    pytest.importorskip("chdb", reason="chdb (ClickHouse) is not installed")
    df, exp = small_case()
    frame = df.assign(event=df["event"].astype(str))
    assert clickhouse_levels(frame, BENCH_STEPS, 7 * DAY) == exp


def test_conversion_interval_levels():
    df, _ = small_case()
    wide = fk.conversion(df, BENCH_STEPS, window="7D", ci=0.99)
    narrow = fk.conversion(df, BENCH_STEPS, window="7D", ci=0.8)
    assert (wide["conversion_low"] <= narrow["conversion_low"]).all()
    assert (wide["conversion_high"] >= narrow["conversion_high"]).all()
    assert math.isclose(narrow["conversion"][1], 0.8)


@settings(max_examples=40, deadline=None)
@given(
    df=event_logs(segment=False),
    steps=funnels(),
    order=orders,
    spread=st.sampled_from(["ids", "times", "both"]),
)
def test_extreme_ids_and_time_spans_match_reference(df, steps, order, spread):
    """Ids over the whole int64 range and ns-precise times over decades (no packing shortcut)."""
    df = categorical(df)
    if spread in ("ids", "both"):
        df["user_id"] = np.where(df["user_id"] % 2 == 0, -(2**62), 2**62) + df["user_id"]
    if spread in ("times", "both"):
        offset = (df["user_id"] % 3).to_numpy() * (40 * 365 * DAY * 10**9) + 1
        df["timestamp"] = pd.Timestamp("1950-01-01") + pd.to_timedelta(
            offset + (df["timestamp"] - BASE_TIME).to_numpy().view("int64"), unit="ns"
        )
    got = fk.funnel_entities(df, steps, window="2s", order=order)
    exp = funnel_entities_ref(df, steps, window="2s", order=order)
    pd.testing.assert_frame_equal(got, exp, check_dtype=False)


def test_docs_worked_example():
    """The worked example of docs/events.md."""
    rows = [(1, 0, "visit"), (1, 1, "signup"), (1, 3, "demo"), (2, 0, "visit"), (2, 8, "signup")]
    rows += [(3, 0, "visit"), (3, 6, "visit"), (3, 8, "signup"), (3, 9, "demo")]
    rows += [(4, 0, "visit"), (4, 3, "signup"), (4, 9, "visit"), (4, 9, "demo")]
    rows += [(5, 0, "signup"), (5, 1, "visit")]
    df = log([(u, d * DAY, e) for u, d, e in rows])
    steps = ["visit", "signup", "demo"]
    assert levels(df, steps, window="7D") == {1: 3, 2: 1, 3: 3, 4: 2, 5: 1}
    res = fk.conversion(df, steps, window="7D")
    assert res["entities"].tolist() == [5, 3, 2]
    np.testing.assert_allclose(res["conversion"], [1.0, 0.6, 2 / 3])
    np.testing.assert_allclose(res["overall"], [1.0, 0.6, 0.4])
    assert res["dropped"].tolist() == [0, 2, 1]
    # user 3's winning chain starts at the later visit (day 6)
    fe = fk.funnel_entities(df, steps, window="7D").set_index("user_id")
    assert fe.loc[3, "visit"] == EPOCH + pd.Timedelta(days=6)


def test_many_repeated_steps_and_the_shared_list_limit():
    # 12 views in a row: each step needs its own view; 3 users with 12, 11 and 5 views
    rows = [(u, t, "view") for u, n in ((1, 12), (2, 11), (3, 5)) for t in range(n)]
    rows += [(1, 0, "view"), (3, 100, "buy")]  # a tie: two views at t=0 for user 1
    df = log(rows)
    assert levels(df, ["view"] * 12) == {1: 12, 2: 11, 3: 5}
    # a step listing several events shares one with another step: only the linked steps
    # (here 2) are enumerated, so long funnels run; user 1 has two views at t=0, user 3 a buy
    steps = ["view", ["view", "buy"], *[f"s{i}" for i in range(9)]]
    df2 = pd.concat([df, log([(1, 1, "s0"), (1, 2, "s1"), (2, 0, "s0")])], ignore_index=True)
    df2 = pd.concat([df2, log([(9, i, f"s{i}") for i in range(9)])], ignore_index=True)
    # 1: view0, view0 (or view1), s0@1, s1@2 -> 4; 2: view0, view1, no s0 after -> 2; 3: 2
    assert levels(df2, steps) == {1: 4, 2: 2, 3: 2, 9: 0}
    # more than MAX_HALL_STEPS (12) steps linked by shared events: the error says what to do
    linked = [[f"e{i}", f"e{i + 1}"] for i in range(13)]
    with pytest.raises(fk.InvalidParameterError, match=r"links 13 steps.*at most 12.*strict"):
        fk.conversion(log([(1, 0, "e0"), (1, 1, "e1")]), linked)


def test_inputs_unchanged_by_every_function():
    df, _ = small_case()
    df["seg"] = np.where(df["user_id"] % 3 == 0, "x", None)
    df["timestamp"] = df["timestamp"].dt.tz_localize("America/New_York")
    df.index = df.index[::-1] * 10  # an index that is not a RangeIndex
    before = df.copy()
    kw = {"window": "7D", "by": "seg"}
    fe = fk.funnel_entities(df, BENCH_STEPS, **kw)
    fk.conversion(df, BENCH_STEPS, **kw)
    fk.dropoff(df, BENCH_STEPS, **kw)
    fk.time_to_convert(df, BENCH_STEPS, **kw)
    pd.testing.assert_frame_equal(df, before)
    assert isinstance(fe.index, pd.RangeIndex)
    assert str(fe["visit"].dt.tz) == "America/New_York"


# ----------------------------------------------------------------------------
# real data: Olist marketing funnel (MQL -> closed deal)
# ----------------------------------------------------------------------------
def olist_events(folder):
    mql = pd.read_csv(folder / "olist_marketing_qualified_leads_dataset.csv")
    won = pd.read_csv(folder / "olist_closed_deals_dataset.csv")
    mql["first_contact_date"] = pd.to_datetime(mql["first_contact_date"])
    won["won_date"] = pd.to_datetime(won["won_date"])
    events = pd.concat(
        [
            mql.assign(event="mql", timestamp=mql["first_contact_date"])[
                ["mql_id", "timestamp", "event", "origin"]
            ],
            won.merge(mql[["mql_id", "origin"]], on="mql_id").assign(
                event="won", timestamp=lambda d: d["won_date"]
            )[["mql_id", "timestamp", "event", "origin"]],
        ],
        ignore_index=True,
    )
    return mql, won, events


def test_olist_funnel_matches_plain_pandas(shared_data):
    mql, won, events = olist_events(shared_data / "olist_marketing_funnel")
    joined = mql.merge(won[["mql_id", "won_date"]], on="mql_id", how="left")
    delay = joined["won_date"] - joined["first_contact_date"]
    for window in (None, "90D"):
        ok = delay >= pd.Timedelta(0)
        if window is not None:
            ok &= delay <= pd.Timedelta(window)
        res = fk.conversion(events, ["mql", "won"], entity="mql_id", window=window, by="origin")
        expected = (
            joined.assign(won=ok)
            .groupby("origin", dropna=False, sort=True)["won"]
            .agg(["size", "sum"])
        )
        assert res["entities"][res["step"] == "mql"].tolist() == expected["size"].tolist()
        assert res["entities"][res["step"] == "won"].tolist() == expected["sum"].tolist()
        assert res["origin"].isna().any() == mql["origin"].isna().any()
    ttc = fk.time_to_convert(events, ["mql", "won"], entity="mql_id")
    d = delay[delay >= pd.Timedelta(0)]
    assert ttc.loc[0, "entities"] == len(d)
    assert ttc.loc[0, "median"] == d.median()


def test_partitions_by_entity_concatenate_to_the_whole():
    """Entities are independent: a log split by entity gives the same per-entity rows."""
    df, _ = small_case()
    whole = fk.funnel_entities(df, BENCH_STEPS, window="7D")
    parts = [df[df["user_id"] % 3 == r] for r in range(3)]
    pieces = pd.concat([fk.funnel_entities(p, BENCH_STEPS, window="7D") for p in parts])
    pieces = pieces.sort_values("user_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(pieces, whole)


@pytest.mark.parametrize(
    "kind", ["int64", "int32", "uint16", "uint64", "category", "string", "object"]
)
def test_funnel_entities_keeps_every_id_and_its_dtype(kind):
    """One row per entity, ids equal to the log's distinct ids, in the log's dtype."""
    rng = np.random.default_rng(5)
    raw = rng.choice([3, 9, 40, 41, 7000], size=60)
    ev = pd.DataFrame(
        {
            "user_id": raw,
            "timestamp": BASE_TIME + pd.to_timedelta(rng.integers(0, 50, 60), unit="s"),
            "event": rng.choice(["a", "b", "x"], size=60),
        }
    )
    if kind == "category":
        ev["user_id"] = pd.Categorical(
            ev["user_id"].astype(str), categories=["7000", "9", "3", "40", "41"]
        )
    elif kind in ("string", "object"):
        ev["user_id"] = ev["user_id"].astype(str).astype(kind)
    else:
        ev["user_id"] = ev["user_id"].astype(kind)
    res = fk.funnel_entities(ev, ["a", "b"])
    assert res["user_id"].dtype == ev["user_id"].dtype
    assert sorted(map(str, res["user_id"])) == sorted(map(str, pd.unique(ev["user_id"])))
    # each entity's level, by a plain loop
    for uid, level in zip(res["user_id"], res["reached"], strict=True):
        mine = ev[ev["user_id"] == uid].sort_values("timestamp", kind="stable")
        t_a = mine.loc[mine["event"] == "a", "timestamp"]
        if t_a.empty:
            assert level == 0
            continue
        after = mine[(mine["event"] == "b") & (mine["timestamp"] >= t_a.min())]
        assert level == (2 if len(after) else 1)


def test_funnel_entities_fast_and_general_paths_list_the_same_entities():
    """Integer ids (step rows only, ids from codes) against the same log with string ids."""
    t0 = pd.Timestamp("2025-01-01")
    ev = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 5, 6, 7, 7, 8],
            "timestamp": [t0, t0 + pd.Timedelta("1h"), t0, pd.NaT, t0 + pd.Timedelta("30D"),
                          t0, t0 + pd.Timedelta("2h"), t0 + pd.Timedelta("3h")],
            "event": ["a", "b", "a", "a", "a", "x", "y", "b"],
        }
    )  # fmt: skip
    kw = dict(as_of=t0 + pd.Timedelta("10D"))
    with pytest.warns(fk.FunnelkitWarning, match="missing"):
        fast = fk.funnel_entities(ev, ["a", "b"], **kw)
    with pytest.warns(fk.FunnelkitWarning, match="missing"):
        general = fk.funnel_entities(ev.assign(user_id=ev["user_id"].astype(str)), ["a", "b"], **kw)
    # 5: only a missing time; 6: only after as_of -> not listed; 7, 8: no step 1 -> level 0
    assert fast["user_id"].tolist() == [1, 2, 7, 8]
    assert fast["reached"].tolist() == [2, 1, 0, 0]
    pd.testing.assert_frame_equal(fast.drop(columns="user_id"), general.drop(columns="user_id"))
    assert general["user_id"].tolist() == ["1", "2", "7", "8"]


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 6), st.integers(-(10**15), 10**15)), max_size=60),
    ci=st.sampled_from([0.5, 0.9, 0.95]),
)
def test_grouped_quantiles_group_by_group_equal_one_full_sort(data, ci):
    """The partial sorts per group give the full sort's quantiles and median intervals."""
    from funnelkit import events as ev_mod

    if not data:
        return
    g = np.asarray([d[0] for d in data], dtype=np.int64)
    v = np.asarray([d[1] for d in data], dtype=np.int64)
    n_groups = int(g.max()) + 1
    qs = [0.1, 0.25, 0.5, 0.75, 0.9]
    few = ev_mod._group_quantiles(g, n_groups, v, qs)
    few_iv = ev_mod._group_median_interval(g, n_groups, v, ci)
    saved = ev_mod._FEW_GROUPS
    try:
        ev_mod._FEW_GROUPS = 0  # the one-sort path
        full = ev_mod._group_quantiles(g, n_groups, v, qs)
        full_iv = ev_mod._group_median_interval(g, n_groups, v, ci)
    finally:
        ev_mod._FEW_GROUPS = saved
    if n_groups > 1:
        np.testing.assert_array_equal(few, full)
        np.testing.assert_array_equal(few_iv[0], full_iv[0])
        np.testing.assert_array_equal(few_iv[1], full_iv[1])
    # and numpy's linear quantile, group by group, to the nanosecond (up to rounding)
    for k in range(n_groups):
        mine = v[g == k]
        if mine.size:
            exp = np.quantile(mine.astype(np.float64), qs)
            assert np.all(np.abs(few[k] - exp) <= 1 + 1e-9 * np.abs(exp))


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.sampled_from(["b", "a", "c", None]), min_size=1, max_size=30),
    ordered=st.booleans(),
)
def test_categorical_groups_equal_pandas_groupby(values, ordered):
    """Group codes read off a categorical's codes = pandas' groupby on it."""
    from funnelkit.events import _group_codes

    col = pd.Categorical(values, categories=["c", "a", "b", "unused"], ordered=ordered)
    frame = pd.DataFrame({"seg": col})
    gcode, groups = _group_codes(frame, ["seg"])
    gb = frame.groupby(["seg"], dropna=False, sort=True, observed=True)
    ref = gb.ngroup().to_numpy()
    np.testing.assert_array_equal(gcode, ref)
    # one row per group: the group's value, in the column's dtype
    first = [int(np.flatnonzero(ref == k)[0]) for k in range(int(ref.max()) + 1)]
    expected = frame.iloc[first].reset_index(drop=True)
    pd.testing.assert_frame_equal(groups, expected, check_categorical=True)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_sorted_distinct_in_blocks_on_any_threads(monkeypatch, threads):
    """Marked block by block (a block smaller than a thread's share, one not dividing it)
    and on several threads: np.unique's answer."""
    from funnelkit import _kernels, events

    monkeypatch.setattr(events, "_MARK_BLOCK", 7)
    monkeypatch.setattr(_kernels, "MAX_THREADS", threads)
    monkeypatch.setattr(events, "resolve_jobs", lambda n_jobs, work: threads)
    rng = np.random.default_rng(threads)
    codes = rng.integers(-40, 400, 1_001) * 3 + 10**12
    np.testing.assert_array_equal(events._sorted_distinct(codes), np.unique(codes))
    np.testing.assert_array_equal(events._sorted_distinct(codes[:5]), np.unique(codes[:5]))


@settings(max_examples=200, deadline=None)
@given(
    known=st.lists(st.integers(-50, 50), max_size=20),
    codes=st.lists(st.integers(-60, 60), max_size=30),
    wide=st.booleans(),
)
def test_lookup_tables_equal_sorting(known, codes, wide):
    """Distinct codes and their positions (-1 where absent), by table or binary search."""
    from funnelkit.events import _dense_codes_uniq, _positions_in, _sorted_distinct

    scale = 10**15 if wide else 1  # a wide range takes np.unique and searchsorted
    k = np.asarray(known, dtype=np.int64) * scale
    c = np.asarray(codes, dtype=np.int64) * scale
    uniq = _sorted_distinct(k)
    np.testing.assert_array_equal(uniq, np.unique(k))
    index = {v: i for i, v in enumerate(uniq.tolist())}
    assert _positions_in(uniq, c).tolist() == [index.get(v, -1) for v in c.tolist()]
    dense, u = _dense_codes_uniq(c)
    np.testing.assert_array_equal(u, np.unique(c))
    np.testing.assert_array_equal(dense, np.searchsorted(np.unique(c), c))
