"""Event-funnel features (issue 14): exclusions, step windows, attempts, held properties, maturity.

Hand-made cases with the expected values worked out in the comments, and the
brute-force reference (``tests/reference.py``, every chain enumerated) under
hypothesis on tie-heavy random logs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnelkit as fk
from tests.reference import funnel_entities_ref, funnel_features_ref, quantile_ref
from tests.strategies import BASE, event_logs

DAY = 86400
EPOCH = pd.Timestamp("2024-01-01")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def log(rows, *, unit="D"):
    """rows: (user, time offset in `unit`, event[, extra]) -> events DataFrame."""
    df = pd.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "timestamp": EPOCH + pd.to_timedelta([r[1] for r in rows], unit=unit),
            "event": [r[2] for r in rows],
        }
    )
    if rows and len(rows[0]) > 3:
        df["product_id"] = [r[3] for r in rows]
    return df


def levels(df, steps, **kw):
    res = fk.funnel_entities(df, steps, **kw)
    return dict(zip(res["user_id"], res["reached"], strict=True))


def day(n):
    return EPOCH + pd.Timedelta(days=n)


# ----------------------------------------------------------------------------
# 1. exclusion steps
# ----------------------------------------------------------------------------
def exclusion_case():
    rows = []
    # 1: signup, cancel, pay: the cancel lies between steps 1 and 3 -> the chain stops at 1
    rows += [(1, 0, "signup"), (1, 1, "cancel"), (1, 2, "trial"), (1, 3, "pay")]
    # 2: the same, then a clean second try: signup@4, trial@5, pay@6 -> 3
    rows += [(2, 0, "signup"), (2, 1, "cancel"), (2, 2, "trial")]
    rows += [(2, 4, "signup"), (2, 5, "trial"), (2, 6, "pay")]
    # 3: cancel before the funnel starts and after it ends: not in between -> 3
    rows += [(3, 0, "cancel"), (3, 1, "signup"), (3, 2, "trial"), (3, 3, "pay"), (3, 4, "cancel")]
    # 4: cancel at the same instant as the step-3 event: not strictly between -> 3
    rows += [(4, 0, "signup"), (4, 1, "trial"), (4, 2, "pay"), (4, 2, "cancel")]
    # 5: cancel between trial and pay -> the chain stops at trial: 2
    rows += [(5, 0, "signup"), (5, 1, "trial"), (5, 2, "cancel"), (5, 3, "pay")]
    # 6: cancel right after signup, then a trial and pay -> 1 (no clean chain past step 1)
    rows += [(6, 0, "signup"), (6, 0.5, "cancel"), (6, 1, "trial"), (6, 2, "pay")]
    return log(rows)


def test_exclusion_whole_funnel_by_hand():
    df = exclusion_case()
    got = levels(df, ["signup", "trial", "pay"], exclude={"cancel": (1, 3)})
    assert got == {1: 1, 2: 3, 3: 3, 4: 3, 5: 2, 6: 1}
    # without the exclusion everybody converts
    assert set(levels(df, ["signup", "trial", "pay"]).values()) == {3}


def test_exclusion_span_by_hand():
    df = exclusion_case()
    # span (2, 3): only a cancel between trial and pay counts: entity 5 stops at 2
    got = levels(df, ["signup", "trial", "pay"], exclude={"cancel": (2, 3)})
    assert got == {1: 3, 2: 3, 3: 3, 4: 3, 5: 2, 6: 3}
    # span (1, 2): entities 1 (cancel@1 before trial@2) and 6 stop at 1; 2's second try is clean
    got = levels(df, ["signup", "trial", "pay"], exclude={"cancel": (1, 2)})
    assert got == {1: 1, 2: 3, 3: 3, 4: 3, 5: 3, 6: 1}


def test_exclusion_winning_chain_times_and_lists():
    df = exclusion_case()
    res = fk.funnel_entities(df, ["signup", "trial", "pay"], exclude={"cancel": (1, 3)})
    # entity 2's winning chain is the clean second try
    row = res.loc[res["user_id"] == 2].iloc[0]
    assert [row["signup"], row["trial"], row["pay"]] == [day(4), day(5), day(6)]
    df2 = pd.concat([df, log([(7, 0, "signup"), (7, 1, "refund"), (7, 2, "trial")])])
    kw = {"exclude": [(["cancel", "refund"], (1, 2))]}
    assert levels(df2, ["signup", "trial"], **kw)[7] == 1
    assert levels(df2, ["signup", "trial"], exclude={("cancel", "refund"): (1, 2)})[7] == 1


def test_exclusion_moves_the_attribution_rows_by_hand():
    """The exclusion takes away the chain that completes first; the next one starts and ends
    on other rows, so the by= values of both attributions change (entity 1).  Entity 2 has
    no exclusion row and keeps its chain."""
    rows = [(1, 0, "a", "s"), (1, 1, "b", "s"), (1, 1.5, "x", "s"), (1, 2, "c", "s")]
    rows += [(1, 3, "a", "t"), (1, 4, "b", "t"), (1, 5, "c", "u")]
    rows += [(2, 0, "a", "s"), (2, 1, "b", "s"), (2, 2, "c", "u"), (2, 3, "a", "t")]
    df = log(rows)
    steps, kw = ["a", "b", "c"], {"exclude": {"x": (2, 3)}, "by": "product_id"}
    first = fk.funnel_entities(df, steps, attribution="first", **kw).set_index("user_id")
    last = fk.funnel_entities(df, steps, attribution="last", **kw).set_index("user_id")
    assert first["product_id"].to_dict() == {1: "t", 2: "s"}
    assert last["product_id"].to_dict() == {1: "u", 2: "u"}
    assert first.loc[1, ["a", "b", "c"]].tolist() == [day(3), day(4), day(5)]
    assert first.loc[2, ["a", "b", "c"]].tolist() == [day(0), day(1), day(2)]
    plain = fk.funnel_entities(df, steps, by="product_id").set_index("user_id")
    assert plain["product_id"].to_dict() == {1: "s", 2: "s"}


def test_exclusion_conversion_counts():
    df = exclusion_case()
    res = fk.conversion(df, ["signup", "trial", "pay"], exclude={"cancel": (1, 3)})
    # levels 1, 3, 3, 3, 2, 1 -> at least step 1: 6, step 2: 4, step 3: 3
    assert res["entities"].tolist() == [6, 4, 3]
    drop = fk.dropoff(df, ["signup", "trial", "pay"], exclude={"cancel": (1, 3)})
    assert drop["lost"].tolist() == [2, 1]


def test_docs_exclusion_example_posthog_mixpanel():
    # docs/events.md: A tries twice; the first try is cancelled
    ev = log([("A", 0, "signup"), ("A", 1, "cancel"), ("A", 2, "signup"), ("A", 3, "pay")])
    ev = pd.concat([ev, log([("B", 0, "signup"), ("B", 1, "cancel"), ("B", 2, "pay")])])
    assert levels(ev, ["signup", "pay"], exclude={"cancel": (1, 2)}) == {"A": 2, "B": 1}
    # with attempts: A's one attempt (no window) keeps the clean chain and converts
    res = fk.funnel_entities(
        ev, ["signup", "pay"], exclude={"cancel": (1, 2)}, count="attempts"
    ).set_index("user_id")
    assert res.loc["A", "attempt"] == 1
    assert res.loc["A", "reached"] == 2


# ----------------------------------------------------------------------------
# 2. a window per step
# ----------------------------------------------------------------------------
def test_step_windows_by_hand():
    rows = []
    # 1: b one day after a, c four days after b: [None, 2D] stops at b
    rows += [(1, 0, "a"), (1, 1, "b"), (1, 5, "c")]
    # 2: a second b at day 4 is within 2 days of c@5 -> 3, the chain goes through b@4
    rows += [(2, 0, "a"), (2, 1, "b"), (2, 4, "b"), (2, 5, "c")]
    # 3: exactly on the step window (inclusive) -> 3
    rows += [(3, 0, "a"), (3, 3, "b"), (3, 5, "c")]
    # 4: c six days after b: [None, 2D] -> 2; with [2D, None] b@3 is 3 days after a@0 but
    #    1 day after the later a@2 -> 3
    rows += [(4, 0, "a"), (4, 2, "a"), (4, 3, "b"), (4, 9, "c")]
    df = log(rows)
    res = fk.funnel_entities(df, ["a", "b", "c"], step_windows=[None, "2D"])
    assert res["reached"].tolist() == [2, 3, 3, 2]
    assert res.loc[1, "b"] == day(4)
    assert res.loc[2, "b"] == day(3)
    # entity 3: b@3 is 3 days after a@0 -> 1
    res = fk.funnel_entities(df, ["a", "b", "c"], step_windows=["2D", None])
    assert res["reached"].tolist() == [3, 3, 1, 3]
    assert res.loc[3, "a"] == day(2)
    # combined with the overall window: entity 4's chain a@2..c@9 takes 7 days
    assert levels(df, ["a", "b", "c"], step_windows=["2D", None], window="6D")[4] == 2


# ----------------------------------------------------------------------------
# 4. attempts
# ----------------------------------------------------------------------------
def test_attempts_worked_examples():
    # A B A B -> 2 attempts, both converted
    ev1 = log([("u1", 0, "A"), ("u1", 1, "B"), ("u1", 2, "A"), ("u1", 3, "B")])
    # A A B -> 1 attempt (the second A falls inside the first attempt), converted
    ev2 = log([("u2", 0, "A"), ("u2", 1, "A"), ("u2", 2, "B")])
    # A, A 20 days later, B a day after, 10-day window -> 2 attempts, the second converts
    ev3 = log([("u3", 0, "A"), ("u3", 20, "A"), ("u3", 21, "B")])
    ev = pd.concat([ev1, ev2, ev3], ignore_index=True)
    res = fk.funnel_entities(ev, ["A", "B"], window="10D", count="attempts")
    assert res["user_id"].tolist() == ["u1", "u1", "u2", "u3", "u3"]
    assert res["attempt"].tolist() == [1, 2, 1, 1, 2]
    assert res["reached"].tolist() == [2, 2, 2, 1, 2]
    assert res["A"].tolist() == [day(0), day(2), day(1), day(0), day(20)]
    conv = fk.conversion(ev, ["A", "B"], window="10D", count="attempts")
    assert conv["entities"].tolist() == [5, 4]
    assert conv["conversion"].tolist()[1] == pytest.approx(4 / 5)
    # per entity the same log gives 3 entities, all converted
    assert fk.conversion(ev, ["A", "B"], window="10D")["entities"].tolist() == [3, 3]


def test_attempts_without_window_and_edges():
    # without a window an attempt ends only by converting: A, A (20 days), B -> 1 attempt
    ev = log([("u", 0, "A"), ("u", 20, "A"), ("u", 21, "B"), ("v", 0, "x")])
    res = fk.funnel_entities(ev, ["A", "B"], count="attempts")
    assert res["attempt"].tolist() == [1, 0]
    assert res["reached"].tolist() == [2, 0]
    # a step-1 event at the instant the previous attempt converted does not start one
    ev = log([("u", 0, "A"), ("u", 1, "B"), ("u", 1, "A"), ("u", 2, "A")])
    res = fk.funnel_entities(ev, ["A", "B"], count="attempts")
    assert res["attempt"].tolist() == [1, 2]
    assert res["reached"].tolist() == [2, 1]
    # (the first attempt's winning chain starts at the later A@1: ties allowed, latest start)
    assert res["A"].tolist() == [day(1), day(2)]
    # a window running out at day 10 (inclusive): an A on day 10 belongs to attempt 1
    ev = log([("u", 0, "A"), ("u", 10, "A"), ("u", 10.5, "A"), ("u", 11, "B")])
    res = fk.funnel_entities(ev, ["A", "B"], window="10D", count="attempts")
    assert res["attempt"].tolist() == [1, 2]
    assert res["reached"].tolist() == [1, 2]
    assert res["A"].tolist() == [day(0), day(10.5)]


def test_attempts_time_to_convert_and_dropoff():
    ev = log([("u1", 0, "A"), ("u1", 1, "B"), ("u1", 2, "A"), ("u1", 5, "B"), ("u2", 0, "A")])
    ttc = fk.time_to_convert(ev, ["A", "B"], count="attempts")
    # attempts: u1 #1 (1 day), u1 #2 (3 days), u2 #1 (never) -> 2 converters, mean 2 days
    assert ttc["entities"].tolist() == [2]
    assert ttc["mean"].tolist() == [pd.Timedelta(days=2)]
    drop = fk.dropoff(ev, ["A", "B"], count="attempts")
    assert drop["entities"].tolist() == [3]
    assert drop["lost"].tolist() == [1]


# ----------------------------------------------------------------------------
# 5. held properties
# ----------------------------------------------------------------------------
def test_hold_by_hand():
    rows = []
    # 1: views p1, carts p2, buys p2: no step 1 for p2 before the cart -> per p1: 1, p2: 0... ->
    #    but p2's cart has no p2 view; p2 has no step 1 at all -> best is p1 with level 1
    rows += [(1, 0, "view", "p1"), (1, 1, "cart", "p2"), (1, 2, "buy", "p2")]
    # 2: views p1 and p2, carts p2, buys p1: p1 -> view, buy? no cart p1 -> 1; p2 -> 2
    rows += [(2, 0, "view", "p1"), (2, 1, "view", "p2"), (2, 2, "cart", "p2"), (2, 3, "buy", "p1")]
    # 3: all on p3 -> 3
    rows += [(3, 0, "view", "p3"), (3, 1, "cart", "p3"), (3, 2, "buy", "p3")]
    df = log(rows)
    steps = ["view", "cart", "buy"]
    assert levels(df, steps, hold="product_id") == {1: 1, 2: 2, 3: 3}
    assert levels(df, steps) == {1: 3, 2: 3, 3: 3}
    res = fk.funnel_entities(df, steps, hold="product_id", by="product_id")
    # entity 2's winning chain is on p2, starting at the p2 view
    assert res.loc[1, "view"] == day(1)
    assert res["product_id"].tolist() == ["p1", "p2", "p3"]
    conv = fk.conversion(df, steps, hold=["product_id"])
    assert conv["entities"].tolist() == [3, 2, 1]


@pytest.mark.parametrize("offset", [0, -(2**40), 2**61, -(2**62)])
def test_hold_with_integer_ids_of_any_size(offset):
    """The same log with its user ids shifted (negative, or near the int64 edge): the
    same held-property funnel, per user."""
    rows = [(1, 0, "view", "p1"), (1, 1, "cart", "p2"), (1, 2, "buy", "p2")]
    rows += [(2, 0, "view", "p1"), (2, 1, "view", "p2"), (2, 2, "cart", "p2"), (2, 3, "buy", "p1")]
    rows += [(3, 0, "view", "p3"), (3, 1, "cart", "p3"), (3, 2, "buy", "p3"), (4, 0, "cart", "p1")]
    df = log(rows)
    df["user_id"] = df["user_id"].astype(np.int64) + np.int64(offset)
    steps = ["view", "cart", "buy"]
    res = fk.funnel_entities(df, steps, hold="product_id", by="product_id")
    assert (res["user_id"] - np.int64(offset)).tolist() == [1, 2, 3, 4]
    assert res["reached"].tolist() == [1, 2, 3, 0]
    assert res["product_id"].tolist()[:3] == ["p1", "p2", "p3"]
    assert fk.conversion(df, steps, hold="product_id")["entities"].tolist() == [3, 2, 1]


def test_hold_ties_between_values_take_the_first_value():
    # two values with the same chain times: the value that sorts first (p1) supplies `by`
    df = log([(1, 0, "view", "p2"), (1, 0, "view", "p1"), (1, 1, "cart", "p1")])
    df = pd.concat([df, log([(1, 1, "cart", "p2")])], ignore_index=True)
    df["product_id"] = df["product_id"].fillna("p2")
    res = fk.funnel_entities(df, ["view", "cart"], hold="product_id", by="product_id")
    assert res["product_id"].tolist() == ["p1"]


# ----------------------------------------------------------------------------
# 6. maturity
# ----------------------------------------------------------------------------
def test_as_of_and_mature_only_by_hand():
    rows = []
    rows += [(1, 0, "a"), (1, 2, "b")]  # converted
    rows += [(2, 0, "a")]  # entered day 0, 7-day window over by day 7: mature non-converter
    rows += [(3, 8, "a")]  # entered day 8: its window runs to day 15: open at day 10
    rows += [(4, 0, "a"), (4, 9, "a")]  # a second entry on day 9 keeps it open
    rows += [(5, 9, "a"), (5, 12, "b")]  # converts on day 12, after as_of = day 10
    df = log(rows)
    res = fk.funnel_entities(df, ["a", "b"], window="7D", as_of=day(10))
    assert res["user_id"].tolist() == [1, 2, 3, 4, 5]
    assert res["reached"].tolist() == [2, 1, 1, 1, 1]  # the day-12 b is after as_of
    assert res["mature"].tolist() == [True, True, False, False, False]
    conv = fk.conversion(df, ["a", "b"], window="7D", as_of=day(10), mature_only=True)
    assert conv["entities"].tolist() == [2, 1]
    conv = fk.conversion(df, ["a", "b"], window="7D", as_of=day(10))
    assert conv["entities"].tolist() == [5, 1]
    # default as_of: the latest event (day 12): entity 3 (8 + 7 = 15) still open, 4 too (16)
    conv = fk.conversion(df, ["a", "b"], window="7D", mature_only=True)
    assert conv["entities"].tolist() == [3, 2]  # 1, 2 and 5 (converted)
    # with the step windows only, the horizon is their sum (2 + 3 days)
    res = fk.funnel_entities(df, ["a", "b"], step_windows=["5D"], as_of=day(10))
    assert res["mature"].tolist() == [True, True, False, False, False]


def test_mature_only_attempts():
    # attempts of 10 days: u's first attempt (day 0) ran out on day 10, the second is open
    ev = log([("u", 0, "A"), ("u", 14, "A"), ("v", 0, "A"), ("v", 1, "B"), ("w", 15, "x")])
    res = fk.funnel_entities(ev, ["A", "B"], window="10D", count="attempts", as_of=day(15))
    assert res["attempt"].tolist() == [1, 2, 1, 0]
    assert res["mature"].tolist() == [True, False, True, False]
    conv = fk.conversion(ev, ["A", "B"], window="10D", count="attempts", mature_only=True)
    assert conv["entities"].tolist() == [2, 1]


def test_as_of_time_zone():
    df = log([(1, 0, "a"), (1, 1, "b")])
    df["timestamp"] = df["timestamp"].dt.tz_localize("Europe/Berlin")
    # 2024-01-02 00:00 Berlin is the b; as_of a minute before it leaves b out
    res = fk.funnel_entities(df, ["a", "b"], as_of="2024-01-01 23:59")
    assert res["reached"].tolist() == [1]
    res = fk.funnel_entities(df, ["a", "b"], as_of="2024-01-02 00:00")
    assert res["reached"].tolist() == [2]


# ----------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------
def test_errors_name_the_problem():
    df = exclusion_case()
    steps = ["signup", "trial", "pay"]
    with pytest.raises(fk.InvalidParameterError, match=r"'exclude'.*1 <= i < j <= 3"):
        fk.conversion(df, steps, exclude={"cancel": (2, 2)})
    with pytest.raises(fk.InvalidParameterError, match=r"'exclude'.*1 <= i < j <= 3"):
        fk.conversion(df, steps, exclude={"cancel": (1, 4)})
    with pytest.raises(fk.InvalidParameterError, match=r"'exclude'.*names funnel steps"):
        fk.conversion(df, steps, exclude={"trial": (1, 3)})
    with pytest.raises(fk.InvalidParameterError, match=r"'exclude'.*do not occur.*'cancel'"):
        fk.conversion(df, steps, exclude={"cancle": (1, 3)})
    with pytest.raises(fk.InvalidParameterError, match=r"'exclude'"):
        fk.conversion(df, steps, exclude="cancel")
    with pytest.raises(fk.InvalidParameterError, match=r"'step_windows'.*2 durations"):
        fk.conversion(df, steps, step_windows=["1D"])
    with pytest.raises(fk.InvalidParameterError, match=r"'step_windows'"):
        fk.conversion(df, steps, step_windows=["1D", "-1D"])
    with pytest.raises(fk.InvalidParameterError, match=r"'count'"):
        fk.conversion(df, steps, count="sessions")
    with pytest.raises(fk.ColumnNotFoundError, match=r"hold="):
        fk.conversion(df, steps, hold="product")
    with pytest.raises(fk.InvalidParameterError, match=r"exclude.*order='ordered'.*'strict'"):
        fk.conversion(df, steps, exclude={"cancel": (1, 3)}, order="strict")
    with pytest.raises(fk.InvalidParameterError, match=r"count='attempts'.*order='ordered'"):
        fk.conversion(df, steps, count="attempts", order="any")
    with pytest.raises(fk.InvalidParameterError, match=r"step_windows.*share no event"):
        fk.conversion(df, ["signup", ["signup", "trial"]], step_windows=["1D"])
    df["product_id"] = "p"
    with pytest.raises(fk.InvalidParameterError, match=r"hold= and count='attempts'"):
        fk.conversion(df, steps, hold="product_id", count="attempts")
    with pytest.raises(fk.InvalidParameterError, match=r"'mature_only'.*needs a window"):
        fk.conversion(df, steps, mature_only=True)
    with pytest.raises(fk.InvalidParameterError, match=r"'mature_only'.*attempts.*window"):
        fk.conversion(df, steps, mature_only=True, count="attempts", step_windows=["1D", "1D"])
    with pytest.raises(fk.InvalidParameterError, match=r"'mature_only'"):
        fk.conversion(df, steps, mature_only="yes", window="1D")
    with pytest.raises(fk.InvalidParameterError, match=r"'as_of'"):
        fk.conversion(df, steps, as_of="not a date")
    with pytest.raises(fk.InvalidParameterError, match=r"'as_of'.*naive"):
        fk.conversion(df, steps, as_of=pd.Timestamp("2024-01-01", tz="UTC"))


def test_inputs_unchanged():
    df = exclusion_case()
    df["product_id"] = ["p1", "p2"] * (len(df) // 2) + ["p1"] * (len(df) % 2)
    before = df.copy()
    kw = dict(exclude={"cancel": (1, 3)}, step_windows=["3D", None], window="9D", as_of=day(5))
    for func in (fk.funnel_entities, fk.conversion, fk.dropoff, fk.time_to_convert):
        func(df, ["signup", "trial", "pay"], **kw)
        func(df, ["signup", "trial", "pay"], hold="product_id", mature_only=True, window="2D")
        func(df, ["signup", "trial", "pay"], count="attempts", window="2D")
    pd.testing.assert_frame_equal(df, before)


# ----------------------------------------------------------------------------
# the brute-force reference, under hypothesis
# ----------------------------------------------------------------------------
def disjoint_steps():
    return st.integers(1, 4).flatmap(
        lambda k: st.permutations(["a", "b", "c", "d"]).map(lambda p: list(p[:k]))
    )


durations = st.sampled_from([None, "0s", "500ms", "1s", "2s"])


@st.composite
def feature_options(draw, k):
    kw: dict = {"ties": draw(st.sampled_from(["allow", "strict"]))}
    kw["window"] = draw(st.sampled_from([None, "1s", "2s", "3s"]))
    if k > 1 and draw(st.booleans()):
        kw["step_windows"] = draw(st.lists(durations, min_size=k - 1, max_size=k - 1))
    if k > 1 and draw(st.booleans()):
        i = draw(st.integers(1, k - 1))
        j = draw(st.integers(i + 1, k))
        kw["exclude"] = {draw(st.sampled_from(["x", ("x", "y")])): (i, j)}
    mode = draw(st.sampled_from(["entities", "hold", "attempts"]))
    if mode == "hold":
        kw["hold"] = ["seg"]
    elif mode == "attempts":
        kw["count"] = "attempts"
    if draw(st.booleans()):
        kw["by"] = ["seg"]
        kw["attribution"] = draw(st.sampled_from(["first", "last"]))
    if draw(st.booleans()):
        kw["as_of"] = BASE + pd.Timedelta(milliseconds=draw(st.integers(0, 10)) * 500)
    if kw["window"] is not None and draw(st.booleans()):
        kw["mature_only"] = True
    return kw


def present(df, steps, kw):
    names = set(df["event"])
    excl = [n for key in kw.get("exclude", {}) for n in ((key,) if isinstance(key, str) else key)]
    return set(steps) <= names and set(excl) <= names


@SETTINGS
@given(event_logs(max_entities=4, max_rows=8), disjoint_steps(), st.data())
def test_features_match_reference(df, steps, data):
    kw = data.draw(feature_options(len(steps)))
    if not present(df, steps, kw):
        return
    got = fk.funnel_entities(df, steps, **kw)
    exp = funnel_features_ref(df, steps, **kw)
    pd.testing.assert_frame_equal(got, exp)
    # the aggregates count the same units
    conv = fk.conversion(df, steps, **{k: v for k, v in kw.items() if k != "by"})
    units = exp if "mature" not in exp else exp.loc[exp["mature"] | ~kw.get("mature_only", False)]
    counts = [int((units["reached"] >= s).sum()) for s in range(1, len(steps) + 1)]
    if counts[0]:
        assert conv["entities"].tolist() == counts
    else:
        assert len(conv) == 0
    if len(steps) > 1:
        ttc = fk.time_to_convert(df, steps, **{k: v for k, v in kw.items() if k != "by"})
        done = units[units["reached"] == len(steps)]
        dur = (done[steps[-1]] - done[steps[0]]).to_numpy(dtype="timedelta64[ns]").view("int64")
        if len(ttc):
            assert ttc["entities"].tolist() == [len(dur)]
            if len(dur):
                assert ttc["median"].iloc[0] == quantile_ref(list(dur), 0.5)
            else:
                assert pd.isna(ttc["median"].iloc[0])


@SETTINGS
@given(event_logs(max_entities=4, max_rows=8, segment=False), disjoint_steps(), st.data())
def test_plain_reference_agrees_with_feature_reference(df, steps, data):
    """Without options, the feature kernel's chain is the plain kernel's (same step times)."""
    window = data.draw(st.sampled_from([None, "1s", "3s"]))
    ties = data.draw(st.sampled_from(["allow", "strict"]))
    if not set(steps) <= set(df["event"]):
        return
    plain = fk.funnel_entities(df, steps, window=window, ties=ties)
    pd.testing.assert_frame_equal(plain, funnel_entities_ref(df, steps, window=window, ties=ties))
    # a no-op step window (None everywhere) runs the feature kernel
    if len(steps) > 1:
        feat = fk.funnel_entities(
            df, steps, window=window, ties=ties, step_windows=[None] * (len(steps) - 1)
        )
        pd.testing.assert_frame_equal(feat, plain)


@SETTINGS
@given(event_logs(max_entities=4, max_rows=8, segment=False), disjoint_steps(), st.data())
def test_as_of_with_every_order(df, steps, data):
    """as_of = the plain reference on the rows up to as_of; mature by its definition."""
    order = data.draw(st.sampled_from(["ordered", "strict", "any"]))
    window = data.draw(st.sampled_from(["0s", "1s", "3s"]))
    cut = BASE + pd.Timedelta(milliseconds=500 * data.draw(st.integers(0, 10)))
    if not set(steps) <= set(df["event"]):
        return
    got = fk.funnel_entities(df, steps, order=order, window=window, as_of=cut)
    kept = df[df["timestamp"] <= cut]
    exp = funnel_entities_ref(kept, steps, order=order, window=window)
    starters = steps if order == "any" else steps[:1]  # events a still-open chain starts at
    last = kept[kept["event"].isin(starters)].groupby("user_id")["timestamp"].max()
    # reindex, not map: pandas 3 cannot map through an empty datetime Series (no starter kept)
    open_until = pd.Series(last.reindex(exp["user_id"]).to_numpy(), index=exp.index)
    open_until = open_until + pd.Timedelta(window)
    exp["mature"] = (exp["reached"] == len(steps)) | (
        (exp["reached"] > 0) & (open_until <= cut).fillna(False).astype(bool)
    )
    pd.testing.assert_frame_equal(got, exp)
    conv = fk.conversion(df, steps, order=order, window=window, as_of=cut, mature_only=True)
    mature = exp[exp["mature"]]
    if len(mature):
        counts = [int((mature["reached"] >= k).sum()) for k in range(1, len(steps) + 1)]
        assert conv["entities"].tolist() == counts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs(max_entities=4, max_rows=8), disjoint_steps(), st.data())
def test_feature_properties(df, steps, data):
    """Shuffling rows changes nothing; an exclusion never raises a level; wider step windows
    never lower one; holding a property never raises one."""
    if len(steps) < 2 or not set(steps) <= set(df["event"]) or "x" not in set(df["event"]):
        return
    seed = data.draw(st.integers(0, 2**16))
    kw = {"exclude": {"x": (1, len(steps))}, "step_windows": ["1s"] * (len(steps) - 1)}
    res = fk.funnel_entities(df, steps, **kw)
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pd.testing.assert_frame_equal(fk.funnel_entities(shuffled, steps, **kw), res)
    plain = fk.funnel_entities(df, steps)
    assert (res["reached"].to_numpy() <= plain["reached"].to_numpy()).all()
    wider = fk.funnel_entities(df, steps, step_windows=["2s"] * (len(steps) - 1))
    narrow = fk.funnel_entities(df, steps, step_windows=["1s"] * (len(steps) - 1))
    assert (narrow["reached"].to_numpy() <= wider["reached"].to_numpy()).all()
    held = fk.funnel_entities(df, steps, hold="seg")
    assert (held["reached"].to_numpy() <= plain["reached"].to_numpy()).all()


def test_larger_random_logs_match_reference():
    """Denser logs than hypothesis draws (more rows per entity, more chains)."""
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 25, n),
            "timestamp": BASE + pd.to_timedelta(rng.integers(0, 30, n), unit="s"),
            "event": rng.choice(["a", "b", "c", "x", "y"], n),
            "seg": rng.choice(["s", "t"], n),
        }
    )
    steps = ["a", "b", "c"]
    for kw in (
        {"window": "10s", "exclude": {"x": (1, 3)}, "step_windows": ["4s", "6s"]},
        {"hold": ["seg"], "window": "8s", "exclude": {"y": (2, 3)}},
        {"count": "attempts", "window": "6s", "step_windows": [None, "3s"], "by": ["seg"]},
        {"count": "attempts", "exclude": {("x", "y"): (1, 2)}, "ties": "strict"},
        {"window": "5s", "as_of": BASE + pd.Timedelta(seconds=20), "mature_only": True},
        # the entities an exclusion reaches are rerun: their attribution rows too
        {"window": "10s", "exclude": {"x": (1, 3)}, "by": ["seg"], "attribution": "first"},
        {"exclude": {"y": (2, 3)}, "by": ["seg"], "attribution": "last", "ties": "strict"},
    ):
        pd.testing.assert_frame_equal(
            fk.funnel_entities(df, steps, **kw), funnel_features_ref(df, steps, **kw)
        )


# ----------------------------------------------------------------------------
# 6. triggers: as_of, min_age, mature_only
# ----------------------------------------------------------------------------
def trigger_case():
    rows = []
    # old leads (step 1 on day 0): 4 with "mail" of which 2 move on; 4 without, 2 move on
    for i in range(8):
        rows.append((i, 0, "lead"))
        if i < 4:
            rows.append((i, 1, "mail"))
        if i % 2 == 0:
            rows.append((i, 5, "won"))
    # recent leads (day 28), none has moved on yet; none has opened a mail yet
    for i in range(8, 12):
        rows.append((i, 28, "lead"))
    return log(rows)


def test_triggers_min_age_and_mature_only_by_hand():
    df = trigger_case()
    res = fk.triggers(df, ["lead", "won"], min_entities=1, min_age=None).set_index("behaviour")
    # all 12 leads (min_age=None): with mail 4 (2 won), without 8 (2 won)
    assert res.loc["mail", "entities_with"] == 4
    assert res.loc["mail", "entities_without"] == 8
    assert res.loc["mail", "converted_without"] == 2
    # min_age 10 days before the latest event (day 28): only the 8 old leads
    res = fk.triggers(df, ["lead", "won"], min_entities=1, min_age="10D").set_index("behaviour")
    assert res.loc["mail", "entities_with"] == 4
    assert res.loc["mail", "entities_without"] == 4
    assert res.loc["mail", "odds_ratio"] == pytest.approx(1.0)
    # mature_only with a 7-day window: the recent leads' window is open on day 28
    res = fk.triggers(df, ["lead", "won"], min_entities=1, window="7D", mature_only=True)
    assert res.set_index("behaviour").loc["mail", "entities_without"] == 4
    # as_of day 3: nobody has won yet, later events are ignored, the recent leads do not exist
    res = fk.triggers(df, ["lead", "won"], min_entities=1, as_of=day(3)).set_index("behaviour")
    assert res.loc["mail", "entities_with"] == 4
    assert res.loc["mail", "converted_with"] + res.loc["mail", "converted_without"] == 0
    with pytest.raises(fk.InvalidParameterError, match=r"'mature_only'.*needs a window"):
        fk.triggers(df, ["lead", "won"], mature_only=True)
    with pytest.raises(fk.InvalidParameterError, match=r"'min_age'"):
        fk.triggers(df, ["lead", "won"], min_age="-1D")


def test_triggers_as_of_ends_the_interval():
    # a mail on day 9 counts for a non-converter only when as_of is on or after day 9
    df = log([(1, 0, "lead"), (1, 9, "mail"), (2, 0, "lead"), (2, 1, "won"), (3, 9.5, "x")])
    res = fk.triggers(df, ["lead", "won"], min_entities=1, as_of=day(8))
    assert res.set_index("behaviour").loc["mail", "entities_with"] == 0
    res = fk.triggers(df, ["lead", "won"], min_entities=1, as_of=day(9))
    assert res.set_index("behaviour").loc["mail", "entities_with"] == 1


def test_sample_newsletter_is_not_a_trigger_once_open_leads_are_left_out():
    sample = fk.datasets.load_sample(seed=0)
    stages = list(sample.stages)
    naive = fk.triggers(sample.events, stages, at_step=2, min_age=None).set_index("behaviour")
    # the censoring artefact the issue reports (planted to do nothing), without the default
    # min_age="auto"
    assert naive.loc["newsletter open", "p_adjusted"] < 0.05
    for kw in ({"min_age": "90D"}, {"window": "90D", "mature_only": True}):
        res = fk.triggers(sample.events, stages, at_step=2, **kw).set_index("behaviour")
        assert res.loc["newsletter open", "p_adjusted"] > 0.05, kw
        assert (
            res.loc["newsletter open", "odds_ratio_low"]
            < 1
            < res.loc["newsletter open", "odds_ratio_high"]
        )


# ----------------------------------------------------------------------------
# 9. long funnels
# ----------------------------------------------------------------------------
def test_fifty_step_funnels_run_and_match_reference():
    rng = np.random.default_rng(50)
    steps = [f"s{i:02d}" for i in range(50)]
    rows = []
    depths = [50, 50, 45, *rng.integers(0, 51, 9).tolist()]
    for user, depth in enumerate(depths):
        times = np.sort(rng.integers(0, 200, depth))
        rows += [(user, int(t), steps[i]) for i, t in enumerate(times)]
        rows += [(user, int(rng.integers(0, 200)), steps[int(rng.integers(0, 50))])]  # a stray step
        rows += [(user, int(rng.integers(0, 200)), "noise")]
    df = log(rows, unit="s")
    for kw in ({}, {"window": "150s"}, {"ties": "strict"}):
        pd.testing.assert_frame_equal(
            fk.funnel_entities(df, steps, **kw), funnel_entities_ref(df, steps, **kw)
        )
    kw = {"step_windows": ["20s"] * 49, "exclude": {"noise": (10, 40)}}
    pd.testing.assert_frame_equal(
        fk.funnel_entities(df, steps, **kw), funnel_features_ref(df, steps, **kw)
    )
    # a step listing several events that shares one with another step, 50 steps long
    shared = [steps[0], [steps[0], steps[1]], *steps[2:]]
    pd.testing.assert_frame_equal(
        fk.funnel_entities(df, shared), funnel_entities_ref(df, shared), check_like=True
    )
    # 50 repeats of one event: each step needs its own view
    views = log([(u, t, "view") for u, n in ((1, 60), (2, 50), (3, 7)) for t in range(n)])
    assert levels(views, ["view"] * 50) == {1: 50, 2: 50, 3: 7}


# ----------------------------------------------------------------------------
# 3. conversion over time
# ----------------------------------------------------------------------------
def over_time_case():
    rows = []
    # week of Mon 1 Jan 2024: users 1, 2 enter; 1 buys
    rows += [(1, 0, "visit"), (1, 1, "buy"), (2, 2, "visit")]
    # week of 8 Jan: users 3, 4, 5 enter (5 on Sunday the 14th); 3 and 5 buy
    rows += [(3, 7, "visit"), (3, 9, "buy"), (4, 8, "visit"), (5, 13, "visit"), (5, 14, "buy")]
    # user 6: visits on the 3rd, again on the 16th and buys on the 17th: with a 5-day window
    # the winning chain starts on the 16th -> week of 15 Jan
    rows += [(6, 2, "visit"), (6, 15, "visit"), (6, 16, "buy")]
    return log(rows)


def test_conversion_over_time_by_hand():
    df = over_time_case()
    res = fk.conversion_over_time(df, ["visit", "buy"], period="W", window="5D")
    assert res["period"].tolist() == [day(0), day(0), day(7), day(7), day(14), day(14)]
    assert res["step"].tolist() == ["visit", "buy"] * 3
    assert res["entities"].tolist() == [2, 1, 3, 2, 1, 1]
    np.testing.assert_allclose(res["conversion"], [1, 0.5, 1, 2 / 3, 1, 1])
    # latest event: the 17th (day 16). Week 1 ends on the 8th, + 5 days = 13th: mature;
    # week 2 ends on the 15th, + 5 = 20th > 17th: not; week 3 neither
    assert res["mature"].tolist() == [True, True, False, False, False, False]
    # as_of the 21st (day 20): week 2 mature too (events after as_of would be ignored)
    res = fk.conversion_over_time(df, ["visit", "buy"], window="5D", as_of=day(20))
    assert res["mature"].tolist() == [True, True, True, True, False, False]
    # no window: a funnel never closes, no period is mature
    res = fk.conversion_over_time(df, ["visit", "buy"])
    assert not res["mature"].any()
    # months: everything in January
    res = fk.conversion_over_time(df, ["visit", "buy"], period="M", window="5D")
    assert res["period"].tolist() == [day(0), day(0)]
    assert res["entities"].tolist() == [6, 4]


@pytest.mark.parametrize(
    ("attribution", "seed", "period", "extra"),
    [
        ("first", 3, "W", {}),
        ("last", 5, "W", {}),
        ("first", 7, "6h", {}),
        ("last", 9, "D", {"exclude": {"x": (1, 3)}}),
        ("first", 11, "W", {"hold": "seg"}),
    ],
)
def test_conversion_over_time_equals_plain_pandas_on_the_entity_table(
    attribution, seed, period, extra
):
    """Each (group, period) = funnel_entities (by values read as ``attribution`` says)
    grouped by its by value and the period of its step-1 time."""
    rng = np.random.default_rng(seed)
    n = 600
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 120, n),
            "timestamp": EPOCH + pd.to_timedelta(rng.integers(0, 60 * 24, n), unit="h"),
            "event": rng.choice(["a", "b", "c", "x"], n),
            "seg": rng.choice(["s", "t"], n),
        }
    )
    steps = ["a", "b", "c"]
    kw = {"window": "4D", "by": "seg", "attribution": attribution, **extra}
    per = fk.funnel_entities(df, steps, **kw)
    per = per[per["reached"] > 0]
    per = per.assign(period=per["a"].dt.to_period(period).dt.start_time)
    exp = (
        per.groupby(["seg", "period"])["reached"]
        .apply(lambda r: [int((r >= k).sum()) for k in (1, 2, 3)])
        .explode()
        .astype("int64")
    )
    res = fk.conversion_over_time(df, steps, period=period, **kw)
    assert res["entities"].tolist() == exp.tolist()
    assert res[["seg", "period"]].drop_duplicates().shape[0] == len(exp) // 3
    keys = res[["seg", "period"]].drop_duplicates()
    assert list(map(tuple, keys.to_numpy())) == list(dict.fromkeys(k[:2] for k in exp.index))


def test_conversion_over_time_time_zone_calendar():
    # 23:30 UTC on Sunday 7 Jan is 00:30 on Monday 8 Jan in Berlin: the next week there
    df = pd.DataFrame(
        {
            "user_id": [1, 1],
            "timestamp": pd.to_datetime(["2024-01-07 23:30", "2024-01-08 01:00"], utc=True),
            "event": ["visit", "buy"],
        }
    )
    res = fk.conversion_over_time(df, ["visit", "buy"])
    assert res["period"].tolist() == [pd.Timestamp("2024-01-01", tz="UTC")] * 2
    df["timestamp"] = df["timestamp"].dt.tz_convert("Europe/Berlin")
    res = fk.conversion_over_time(df, ["visit", "buy"])
    assert res["period"].tolist() == [pd.Timestamp("2024-01-08", tz="Europe/Berlin")] * 2
    assert str(res["period"].dtype) == "datetime64[ns, Europe/Berlin]"  # the data's zone


def test_conversion_over_time_attempts_and_errors():
    ev = log([("u", 0, "A"), ("u", 1, "B"), ("u", 9, "A"), ("u", 10, "B")])
    res = fk.conversion_over_time(ev, ["A", "B"], count="attempts")
    # attempt 1 enters in week 1, attempt 2 on the 10th (week 2)
    assert res["period"].tolist() == [day(0), day(0), day(7), day(7)]
    assert res["entities"].tolist() == [1, 1, 1, 1]
    with pytest.raises(fk.InvalidParameterError, match=r"'period'.*alias"):
        fk.conversion_over_time(ev, ["A", "B"], period="fortnight")
    ev["period"] = "x"
    with pytest.raises(fk.InvalidParameterError, match=r"'by'.*'period'"):
        fk.conversion_over_time(ev, ["A", "B"], by="period")
    # a column named "period" in the log is fine otherwise
    assert fk.conversion_over_time(ev, ["A", "B"])["period"].tolist()[0] == day(0)


def test_plot_conversion_over_time():
    import matplotlib.pyplot as plt

    df = over_time_case()
    df["seg"] = np.where(df["user_id"] % 2 == 0, "even", "odd")
    res = fk.conversion_over_time(df, ["visit", "buy"], window="5D", by="seg")
    fig, ax = plt.subplots()
    out = fk.plot_conversion_over_time(res, ax=ax)
    assert out is ax
    assert plt.get_fignums() == [fig.number]
    # even: users 2 (week 1, no buy), 4 (week 2, no), 6 (week 3, buys); odd: 1, 3 + 5, -
    assert [line.get_gid() for line in ax.lines] == ["even", "odd"]
    assert ax.lines[0].get_ydata().tolist() == [0.0, 0.0, 1.0]
    assert ax.lines[1].get_ydata().tolist() == [1.0, 1.0]
    # hollow markers for the immature weeks: even has 2 of them, odd 1
    hollow = [c for c in ax.collections if tuple(c.get_facecolor()[0]) == (1, 1, 1, 1)]
    assert [len(c.get_offsets()) for c in hollow] == [2, 1]
    with pytest.raises(fk.InvalidParameterError, match="'step'"):
        fk.plot_conversion_over_time(res, step="pay", ax=ax)


# ----------------------------------------------------------------------------
# 8. time-to-convert histograms
# ----------------------------------------------------------------------------
def test_time_to_convert_bins_by_hand():
    # converters after 1, 2, 2, 5 and 9 days; one never converts
    rows = [(i, 0, "visit") for i in range(6)]
    rows += [(i, d, "buy") for i, d in enumerate([1, 2, 2, 5, 9])]
    df = log(rows)
    res = fk.time_to_convert(df, ["visit", "buy"], bins=["0D", "2D", "6D", "9D"])
    assert res["bin_low"].tolist() == [pd.Timedelta(days=d) for d in (0, 2, 6)]
    assert res["bin_high"].tolist() == [pd.Timedelta(days=d) for d in (2, 6, 9)]
    # [0, 2): 1 day; [2, 6): 2, 2, 5; [6, 9]: 9 (the last bin is closed)
    assert res["entities"].tolist() == [1, 3, 1]
    np.testing.assert_allclose(res["share"], [0.2, 0.6, 0.2])
    # edges that leave some out: 9 days is in no bin, shares are of all 5 converters
    res = fk.time_to_convert(df, ["visit", "buy"], bins=["1D", "3D"])
    assert res["entities"].tolist() == [3]
    np.testing.assert_allclose(res["share"], [0.6])
    # 4 equal bins over [1, 9] days: edges 1, 3, 5, 7, 9 -> 1, 2, 2 | - | 5 | 9
    res = fk.time_to_convert(df, ["visit", "buy"], bins=4)
    assert res["bin_low"].tolist() == [pd.Timedelta(days=d) for d in (1, 3, 5, 7)]
    assert res["entities"].tolist() == [3, 0, 1, 1]


def test_time_to_convert_auto_bins_linear_and_log():
    rng = np.random.default_rng(8)
    # times within one order of magnitude: numpy's "auto" edges
    secs = rng.integers(3600, 20000, 300)
    rows = [(i, 0, "a") for i in range(300)] + [(i, int(s), "b") for i, s in enumerate(secs)]
    df = log(rows, unit="s")
    res = fk.time_to_convert(df, ["a", "b"], bins="auto")
    counts, edges = np.histogram(secs.astype(float) * 1e9, bins="auto")
    assert res["entities"].tolist() == counts.tolist()
    np.testing.assert_allclose(res["bin_low"].to_numpy(dtype="int64"), edges[:-1], atol=1)
    # from 1 second to 30 days: log-spaced, ~5 bins per factor of 10, first bin [0, 1 s)
    secs = np.r_[0, 1, 10, 100, 1000, 10_000, 100_000, 2_592_000, rng.integers(1, 2_592_000, 50)]
    rows = [(i, 0, "a") for i in range(secs.size)] + [(i, int(s), "b") for i, s in enumerate(secs)]
    res = fk.time_to_convert(log(rows, unit="s"), ["a", "b"], bins="auto", by=None)
    low = res["bin_low"].to_numpy(dtype="int64")
    high = res["bin_high"].to_numpy(dtype="int64")
    assert low[0] == 0
    assert high[0] == 1_000_000_000
    ratios = high[1:] / low[1:]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-6)
    assert ratios[0] == pytest.approx(
        10 ** (np.log10(2_592_000) / np.ceil(5 * np.log10(2_592_000)))
    )
    assert res["entities"].sum() == secs.size
    # per group: the same bins, counts add up to the total
    df = log(rows, unit="s")
    df["seg"] = np.where(df["user_id"] % 2 == 0, "even", "odd")
    by = fk.time_to_convert(df, ["a", "b"], bins="auto", by="seg")
    assert by.groupby("seg")["entities"].sum().tolist() == [29, 29]
    np.testing.assert_array_equal(
        by.groupby("bin_low", sort=False)["entities"].sum().to_numpy(), res["entities"].to_numpy()
    )
    with pytest.raises(fk.InvalidParameterError, match="'bins'"):
        fk.time_to_convert(df, ["a", "b"], bins=["2D", "1D"])
    with pytest.raises(fk.InvalidParameterError, match="'bins'"):
        fk.time_to_convert(df, ["a", "b"], bins=0)


def test_plot_time_to_convert_histogram():
    import matplotlib.pyplot as plt

    rows = [(i, 0, "visit") for i in range(6)]
    rows += [(i, d, "buy") for i, d in enumerate([1, 2, 2, 5, 9])]
    res = fk.time_to_convert(log(rows), ["visit", "buy"], bins=["0D", "2D", "6D", "9D"])
    fig, ax = plt.subplots()
    out = fk.plot_time_to_convert(res, ax=ax)
    assert out is ax
    assert plt.get_fignums() == [fig.number]
    (patch,) = ax.patches
    values, edges, _baseline = patch.get_data()
    np.testing.assert_allclose(values, [0.2, 0.6, 0.2])
    np.testing.assert_allclose(edges, [0, 2, 6, 9])
    assert ax.get_xlabel() == "visit → buy (days)"
    assert ax.get_xscale() == "linear"
    secs = [0, 1, 100, 10_000, 1_000_000]
    rows = [(i, 0, "a") for i in range(5)] + [(i, s, "b") for i, s in enumerate(secs)]
    res = fk.time_to_convert(log(rows, unit="s"), ["a", "b"], bins="auto")
    fig, ax = plt.subplots()
    fk.plot_time_to_convert(res, ax=ax)
    assert ax.get_xscale() == "symlog"


# ----------------------------------------------------------------------------
# 7. paths after a drop-off and between steps
# ----------------------------------------------------------------------------
def paths_case():
    rows = []
    # steps cart -> pay -> done; users 1-3 stop at cart, 4-5 go on
    rows += [(1, 0, "cart"), (1, 1, "pricing"), (1, 2, "faq"), (1, 3, "exit"), (1, 4, "x")]
    rows += [(2, 0, "cart"), (2, 1, "pricing"), (2, 2, "faq"), (2, 3, "exit")]
    rows += [(3, 0, "pricing"), (3, 1, "cart")]  # nothing after its cart
    rows += [(4, 0, "cart"), (4, 1, "coupon"), (4, 2, "pay"), (4, 3, "done")]
    rows += [(5, 0, "cart"), (5, 1, "coupon"), (5, 1.5, "faq"), (5, 2, "pay"), (5, 9, "exit")]
    return log(rows)


def test_next_events_dropped_by_hand():
    df = paths_case()
    res = fk.next_events(df, ["cart", "pay", "done"], after_step=1, depth=3)
    # 1 and 2: pricing, faq, exit (1's fourth event is past the depth); 3: nothing
    assert res["path"].tolist() == ["pricing → faq → exit", "(no further events)"]
    assert res["entities"].tolist() == [2, 1]
    np.testing.assert_allclose(res["share"], [2 / 3, 1 / 3])
    np.testing.assert_allclose(res["cumulative_share"], [2 / 3, 1])
    assert res["entities_studied"].tolist() == [3, 3]
    assert res["event_1"].tolist() == ["pricing", None]
    assert res["step"].tolist() == ["cart", "cart"]
    # depth 1, top 1
    res = fk.next_events(df, ["cart", "pay", "done"], depth=1, top=1)
    assert res["path"].tolist() == ["pricing"]
    np.testing.assert_allclose(res["share"], [2 / 3])


def test_next_events_converted_all_and_between():
    df = paths_case()
    steps = ["cart", "pay", "done"]
    res = fk.next_events(df, steps, who="converted", depth=2)
    # 4: coupon, pay; 5: coupon, faq -> ties in count are ordered by their text
    assert res["path"].tolist() == ["coupon → faq", "coupon → pay"]
    res = fk.next_events(df, steps, who="converted", between=True, depth=5)
    # between cart and pay: 4 did coupon; 5 did coupon, faq
    assert res["path"].tolist() == ["coupon", "coupon → faq"]
    assert res["entities"].tolist() == [1, 1]
    res = fk.next_events(df, steps, who="all", depth=1)
    assert res["path"].tolist() == ["coupon", "pricing", "(no further events)"]
    assert res["entities"].tolist() == [2, 2, 1]
    # after the last step (the converters of the whole funnel): user 4 did nothing more
    res = fk.next_events(df, steps, after_step=3, who="all")
    assert res["path"].tolist() == ["(no further events)"]
    # as_of: user 1's and 2's exits on day 3 are after it
    res = fk.next_events(df, steps, depth=3, as_of=day(2))
    assert res["path"].tolist() == ["pricing → faq", "(no further events)"]
    with pytest.raises(fk.InvalidParameterError, match=r"'between'.*who='converted'"):
        fk.next_events(df, steps, between=True)
    with pytest.raises(fk.InvalidParameterError, match=r"'after_step'.*1 to 3"):
        fk.next_events(df, steps, after_step=4)
    with pytest.raises(fk.InvalidParameterError, match=r"'after_step'.*next step"):
        fk.next_events(df, steps, after_step=3, who="converted")
    with pytest.raises(fk.InvalidParameterError, match="'who'"):
        fk.next_events(df, steps, who="lost")
    with pytest.raises(fk.InvalidParameterError, match="'depth'"):
        fk.next_events(df, steps, depth=0)
    with pytest.raises(fk.InvalidParameterError, match=r"'steps' parameter of next_events"):
        fk.next_events(df, ["cart", "pya"])


def test_next_events_match_a_plain_loop():
    rng = np.random.default_rng(11)
    n = 500
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 60, n),
            "timestamp": BASE + pd.to_timedelta(rng.integers(0, 40, n), unit="s"),
            "event": rng.choice(["a", "b", "c", "x", "y"], n),
        }
    )
    steps = ["a", "b", "c"]
    per = fk.funnel_entities(df, steps, window="10s")
    for who, k, between in (("dropped", 1, False), ("converted", 2, True), ("all", 2, False)):
        paths = {}
        for _, row in per.iterrows():
            level = row["reached"]
            if not {"dropped": level == k, "converted": level > k, "all": level >= k}[who]:
                continue
            t_k = row[steps[k - 1]]
            mine = df[(df["user_id"] == row["user_id"]) & (df["timestamp"] > t_k)]
            if between:
                mine = mine[mine["timestamp"] < row[steps[k]]]
            mine = mine.reset_index().sort_values(["timestamp", "index"])
            path = " → ".join(mine["event"].iloc[:3]) or "(no further events)"
            paths[path] = paths.get(path, 0) + 1
        exp = sorted(paths.items(), key=lambda kv: (-kv[1], kv[0]))
        res = fk.next_events(
            df, steps, after_step=k, who=who, between=between, window="10s", top=None
        )
        assert list(zip(res["path"], res["entities"], strict=True)) == exp


def paths_ref(df, per, steps, k, who, between, depth, by=()):
    """Plain loop over the rows of ``per`` (entities or attempts): {(group, path): count}."""
    paths = {}
    for _, row in per.iterrows():
        level = row["reached"]
        if not {"dropped": level == k, "converted": level > k, "all": level >= k}[who]:
            continue
        mine = df[(df["user_id"] == row["user_id"]) & (df["timestamp"] > row[steps[k - 1]])]
        if between:
            mine = mine[mine["timestamp"] < row[steps[k]]]
        mine = mine.reset_index().sort_values(["timestamp", "index"])
        path = " → ".join(mine["event"].iloc[:depth]) or "(no further events)"
        key = (*(row[c] for c in by), path)
        paths[key] = paths.get(key, 0) + 1
    return paths


def random_paths_log(seed, n=500):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 60, n),
            "timestamp": BASE + pd.to_timedelta(rng.integers(0, 40, n), unit="s"),
            "event": rng.choice(["a", "b", "c", "x", "y"], n),
            "seg": rng.choice(["s", "t", "u"], n),  # varies within an entity
        }
    )


@pytest.mark.parametrize("attribution", ["first", "last"])
def test_next_events_by_match_a_plain_loop_per_group(attribution):
    df = random_paths_log(12)
    steps = ["a", "b", "c"]
    per = fk.funnel_entities(df, steps, window="10s", by="seg", attribution=attribution)
    for who, k, between in (("dropped", 1, False), ("converted", 2, True), ("all", 2, False)):
        exp = paths_ref(df, per, steps, k, who, between, 2, by=("seg",))
        res = fk.next_events(
            df,
            steps,
            after_step=k,
            who=who,
            between=between,
            window="10s",
            top=None,
            depth=2,
            by="seg",
            attribution=attribution,
        )
        got = dict(zip(zip(res["seg"], res["path"], strict=True), res["entities"], strict=True))
        assert got == exp
        # groups sorted; within a group most common first, ties by text; shares per group
        assert res["seg"].tolist() == sorted(res["seg"])
        for seg, part in res.groupby("seg"):
            studied = sum(v for (g, _), v in exp.items() if g == seg)
            assert (part["entities_studied"] == studied).all()
            np.testing.assert_allclose(part["share"], part["entities"] / studied)
            np.testing.assert_allclose(part["cumulative_share"], np.cumsum(part["share"]))
            keys = list(zip(-part["entities"], part["path"], strict=True))
            assert keys == sorted(keys)
    # top applies within each group
    res = fk.next_events(df, steps, window="10s", by="seg", top=1, attribution=attribution)
    assert res["seg"].tolist() == sorted(set(res["seg"]))


def test_next_events_by_a_constant_segment_equals_the_segment_alone():
    df = random_paths_log(13)
    df["seg"] = np.where(df["user_id"] % 3 == 0, "even", "odd")  # one value per entity
    steps = ["a", "b", "c"]
    res = fk.next_events(df, steps, window="10s", by="seg", top=3, depth=2)
    for seg in ("even", "odd"):
        alone = fk.next_events(df[df["seg"] == seg], steps, window="10s", top=3, depth=2)
        mine = res[res["seg"] == seg].drop(columns="seg").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone)


def test_next_events_attempts_match_a_plain_loop():
    df = random_paths_log(14)
    steps = ["a", "b"]
    per = fk.funnel_entities(df, steps, window="5s", count="attempts")
    for who, k, between in (("dropped", 1, False), ("converted", 1, True), ("all", 1, False)):
        exp = paths_ref(df, per, steps, k, who, between, 3)
        res = fk.next_events(
            df,
            steps,
            after_step=k,
            who=who,
            between=between,
            window="5s",
            top=None,
            count="attempts",
        )
        assert {(p,): n for p, n in zip(res["path"], res["entities"], strict=True)} == exp
        assert res["entities_studied"].iloc[0] == sum(exp.values())


def test_next_events_attempts_by_hand():
    # u: A@0 B@1 (attempt 1 converts), A@2 x@3 (attempt 2 stops at A); v: A@0 y@1
    ev = log(
        [("u", 0, "A"), ("u", 1, "B"), ("u", 2, "A"), ("u", 3, "x"), ("v", 0, "A"), ("v", 1, "y")]
    )
    res = fk.next_events(ev, ["A", "B"], count="attempts", who="all", depth=2)
    assert res["path"].tolist() == ["B → A", "x", "y"]
    assert res["entities_studied"].tolist() == [3, 3, 3]
    res = fk.next_events(ev, ["A", "B"], count="attempts", who="dropped", depth=2)
    assert res["path"].tolist() == ["x", "y"]  # attempt 2 of u, and v
    # counting entities, u's winning chain A@0 -> B@1 converted: only v stopped at A
    res = fk.next_events(ev, ["A", "B"], who="dropped", depth=2)
    assert res["path"].tolist() == ["y"]
    with pytest.raises(fk.InvalidParameterError, match="'count'"):
        fk.next_events(ev, ["A", "B"], count="sessions")
    ev["path"] = "p"
    with pytest.raises(fk.InvalidParameterError, match=r"'by'.*'path'"):
        fk.next_events(ev, ["A", "B"], by="path")
    with pytest.raises(fk.ColumnNotFoundError, match="channel"):
        fk.next_events(ev, ["A", "B"], by="channel")


def test_next_events_mature_only_studies_those_that_really_stopped():
    df = paths_case()
    steps = ["cart", "pay", "done"]
    # as_of day 2, window 2 days: users 1 and 2 (cart on day 0) are past their window;
    # user 3 (cart on day 1) could still pay by day 3, so it has not dropped yet
    res = fk.next_events(df, steps, window="2D", as_of=day(2))
    assert res["entities"].tolist() == [2, 1]
    res = fk.next_events(df, steps, window="2D", as_of=day(2), mature_only=True)
    assert res["path"].tolist() == ["pricing → faq"]
    assert res["entities_studied"].tolist() == [2]
    with pytest.raises(fk.InvalidParameterError, match=r"'mature_only'.*window"):
        fk.next_events(df, steps, mature_only=True)


def test_next_events_by_on_no_rows_is_typed():
    ev = log([("u", 0, "A")]).assign(seg="s").iloc[:0]
    res = fk.next_events(ev, ["A", "B"], by="seg", depth=2)
    assert len(res) == 0
    assert list(res.columns) == [
        "seg",
        "step",
        "path",
        "event_1",
        "event_2",
        "entities",
        "share",
        "cumulative_share",
        "entities_studied",
    ]
    assert res["entities"].dtype == np.int64


def test_conversion_over_time_attribution_reads_by_at_the_deepest_step():
    # user 1 enters in week 1 by ads and buys in week 2 by mail; user 2 ads both times
    ev = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3],
            "timestamp": pd.to_datetime(
                ["2025-01-06", "2025-01-14", "2025-01-07", "2025-01-08", "2025-01-13"]
            ),
            "event": ["visit", "buy", "visit", "buy", "visit"],
            "channel": ["ads", "mail", "ads", "ads", "mail"],
        }
    )
    steps = ["visit", "buy"]
    first = fk.conversion_over_time(ev, steps, by="channel")
    assert list(zip(first["channel"], first["period"].dt.day, first["entities"], strict=True)) == [
        ("ads", 6, 2),
        ("ads", 6, 2),
        ("mail", 13, 1),
        ("mail", 13, 0),
    ]
    last = fk.conversion_over_time(ev, steps, by="channel", attribution="last")
    # user 1 moves to mail but stays in the week of its visit (the 6th)
    assert list(zip(last["channel"], last["period"].dt.day, last["entities"], strict=True)) == [
        ("ads", 6, 1),
        ("ads", 6, 1),
        ("mail", 6, 1),
        ("mail", 6, 1),
        ("mail", 13, 1),
        ("mail", 13, 0),
    ]


def test_plot_next_events():
    import matplotlib.pyplot as plt

    res = fk.next_events(paths_case(), ["cart", "pay", "done"])
    fig, ax = plt.subplots()
    out = fk.plot_next_events(res, ax=ax)
    assert out is ax
    assert plt.get_fignums() == [fig.number]
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [2 / 3, 1 / 3])
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "pricing → faq → exit",
        "(no further events)",
    ]
    assert [t.get_text() for t in ax.texts] == ["67% (2)", "33% (1)"]


def test_plot_next_events_by_group():
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    df = paths_case()
    df["seg"] = np.where(df["user_id"].isin([1, 3, 4]), "a", "b")
    res = fk.next_events(df, ["cart", "pay", "done"], depth=2, by="seg")
    # a: users 1 (pricing → faq) and 3 (nothing); b: user 2 (pricing → faq)
    fig, ax = plt.subplots()
    fk.plot_next_events(res, ax=ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "a · (no further events)",
        "a · pricing → faq",
        "b · pricing → faq",
    ]
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [0.5, 0.5, 1.0])
    faces = [mcolors.to_hex(p.get_facecolor()) for p in ax.patches]
    assert faces[0] == faces[1] != faces[2]
    assert "each seg" in ax.get_xlabel()
    plt.close(fig)


def test_conversion_over_time_mature_only_and_next_events_hold():
    df = over_time_case()
    # latest event day 16, window 5 days: 2 (last visit day 2) and 4 (day 8) are mature
    # non-buyers, 1, 3, 5 and 6 converted: everybody is mature, the counts are unchanged
    res = fk.conversion_over_time(df, ["visit", "buy"], window="5D", mature_only=True)
    assert res["entities"].tolist() == [2, 1, 3, 2, 1, 1]
    res = fk.conversion_over_time(
        df, ["visit", "buy"], window="5D", mature_only=True, as_of=day(10)
    )
    # as_of day 10: users 1 (converted), 2 (day 2 + 5 <= 10) mature; 3 converted on day 9;
    # 4 (day 8) open; 5 and 6's later events are ignored, 6's day-2 visit is mature
    assert res["period"].tolist() == [day(0), day(0), day(7), day(7)]
    assert res["entities"].tolist() == [3, 1, 1, 1]
    ev = log([(1, 0, "cart", "p1"), (1, 1, "cart", "p2"), (1, 2, "buy", "p2"), (1, 3, "x", "p1")])
    res = fk.next_events(ev, ["cart", "buy"], who="converted", hold="product_id")
    # the winning chain is on p2 (cart@1): next events after day 1: buy, x
    assert res["path"].tolist() == ["buy → x"]


def test_strict_ties_step_times_with_hold_and_attempts_by_hand():
    # a@0, b@0, b@1, c@1, c@2 with ties="strict": the chain is a@0 -> b@1 -> c@2 (b@0
    # ties with a, c@1 ties with b@1); hold and attempts report the same step times
    rows = [(1, 0, "a", "p"), (1, 0, "b", "p"), (1, 1, "b", "p"), (1, 1, "c", "p")]
    rows += [(1, 2, "c", "p")]
    df = log(rows)
    want = [day(0), day(1), day(2)]
    for kw in ({}, {"hold": "product_id"}, {"count": "attempts"}):
        res = fk.funnel_entities(df, ["a", "b", "c"], ties="strict", **kw)
        assert res["reached"].tolist() == [3], kw
        assert res[["a", "b", "c"]].iloc[0].tolist() == want, kw


@pytest.mark.parametrize("tz", [None, "Europe/Berlin", "America/New_York"])
def test_period_starts_equal_plain_pandas_to_period(tz):
    """Periods of a day or longer are found once per day: the same starts as per row."""
    from funnelkit.event_features import _period_starts

    rng = np.random.default_rng(1)
    secs = rng.integers(-400 * DAY, 400 * DAY, 20_000)  # both sides of 1970, over DST changes
    t = pd.Series(pd.Timestamp("1970-01-05") + pd.to_timedelta(secs, unit="s"))
    t[[3, 7]] = pd.NaT
    if tz is not None:
        t = t.dt.tz_localize("UTC").dt.tz_convert(tz)
    df = pd.DataFrame({"timestamp": t})
    wall = t.dt.tz_localize(None) if tz is not None else t
    for period in ["D", "2D", "W", "W-MON", "M", "Q", "Y", "h", "24h"]:
        want = wall.dt.to_period(period).dt.start_time.astype("datetime64[ns]")
        if tz is not None:
            want = want.dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
        got = _period_starts(df, "timestamp", period, "p")["p"]
        pd.testing.assert_series_equal(got, want, check_names=False, obj=period)
        # the categorical form (periods of a day or longer): the same starts, as
        # sorted categories of the periods present
        cat = _period_starts(df, "timestamp", period, "p", categorical=True)["p"]
        if period in ("h", "24h"):
            pd.testing.assert_series_equal(cat, want, check_names=False, obj=period)
            continue
        assert isinstance(cat.dtype, pd.CategoricalDtype), period
        cats = cat.cat.categories
        assert cats.is_monotonic_increasing, period
        assert cats.is_unique, period
        assert set(cats) == set(want.dropna()), period
        back = cat.astype(cats.dtype)
        pd.testing.assert_series_equal(back, want, check_names=False, obj=period)


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(-1, 6), min_size=3, max_size=3), max_size=30),
    wide=st.booleans(),
)
def test_distinct_paths_equal_numpy_unique_rows(rows, wide):
    """Paths counted as base-n numbers (or, too wide for 62 bits, as rows) = np.unique."""
    from funnelkit.event_features import _distinct_rows

    keyed = np.asarray(rows, dtype=np.int64).reshape(len(rows), 3)
    n_names = 7 if not wide else 2**40  # 2**40 per digit: three digits need 120 bits
    paths, counts = _distinct_rows(keyed, n_names)
    exp_paths, exp_counts = np.unique(keyed, axis=0, return_counts=True)
    order = np.lexsort(paths.T[::-1]) if len(paths) else np.arange(0)
    np.testing.assert_array_equal(paths[order], exp_paths.reshape(-1, 3))
    np.testing.assert_array_equal(counts[order], exp_counts)
