"""Stage history metrics: hand-made histories, per-deal references, properties, errors.

Every expected number below is worked out by hand in the comments or by the
slow per-deal references in this file (plain loops, written from the
definitions in docs/stages.md), never copied from the output.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelkit as fk
from funnelkit import ColumnNotFoundError, FunnelkitWarning, InvalidDataError, InvalidParameterError

STAGES = ["A", "B", "C", "D"]
DAY = pd.Timedelta(days=1)


def make_history(rows):
    """rows: (deal, stage, day number) -> history with 2025-01-01 + day."""
    deal, stage, day = zip(*rows, strict=True) if rows else ((), (), ())
    return pd.DataFrame(
        {
            "deal_id": list(deal),
            "stage": list(stage),
            "entered_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(list(day), unit="D"),
        }
    )


# d1 runs A B C D in order; d2 skips B; d3 moves back C -> B; d4 enters A twice;
# d5 starts at B; d6 enters C before B.
HAND = make_history(
    [
        ("d1", "A", 0),
        ("d1", "B", 1),
        ("d1", "C", 2),
        ("d1", "D", 3),
        ("d2", "A", 0),
        ("d2", "C", 2),
        ("d3", "A", 0),
        ("d3", "B", 1),
        ("d3", "C", 2),
        ("d3", "B", 4),
        ("d4", "A", 0),
        ("d4", "A", 1),
        ("d4", "B", 2),
        ("d5", "B", 1),
        ("d5", "C", 3),
        ("d6", "A", 0),
        ("d6", "C", 1),
        ("d6", "B", 2),
    ]
)


def wilson(k, n, z=1.959963984540054):
    """Wilson score interval, written out from the textbook formula."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half) if k else 0.0, min(1.0, centre + half) if k < n else 1.0


# ----------------------------------------------------------------------------
# stage_conversion: hand-made cases
# ----------------------------------------------------------------------------
def test_furthest_by_hand():
    res = fk.stage_conversion(HAND, STAGES)
    # furthest: d1 D, d2 C, d3 C, d4 B, d5 C, d6 C
    # A: all 6 (d5 never entered A -> skipped); B: all 6 (d2 skipped);
    # C: d1 d2 d3 d5 d6 = 5; D: d1 = 1
    assert res["stage"].tolist() == STAGES
    assert res["deals"].tolist() == [6, 6, 5, 1]
    assert res["skipped"].tolist() == [1, 1, 0, 0]
    np.testing.assert_allclose(res["conversion"], [1, 6 / 6, 5 / 6, 1 / 5])
    np.testing.assert_allclose(res["overall"], [1, 1, 5 / 6, 1 / 6])
    lo, hi = wilson(1, 5)
    assert res["conversion_low"][3] == pytest.approx(lo)
    assert res["conversion_high"][3] == pytest.approx(hi)
    lo, hi = wilson(5, 6)
    assert res["overall_low"][2] == pytest.approx(lo)
    assert res["overall_high"][2] == pytest.approx(hi)
    # the first stage is 1 by definition: the exact interval [1, 1], as in conversion()
    assert (
        res[["conversion_low", "conversion_high", "overall_low", "overall_high"]].iloc[0].tolist()
        == [1.0] * 4
    )


def test_strict_by_hand():
    res = fk.stage_conversion(HAND, STAGES, policy="strict")
    # d1: A B C D; d2: A (B skipped); d3: A B C; d4: A B; d5: nothing (no A);
    # d6: A then B at day 2, C only at day 1 (before B) -> A B
    assert res["deals"].tolist() == [5, 4, 2, 1]
    assert res["skipped"].tolist() == [0, 0, 0, 0]
    np.testing.assert_allclose(res["conversion"], [1, 4 / 5, 2 / 4, 1 / 2])
    np.testing.assert_allclose(res["overall"], [1, 4 / 5, 2 / 5, 1 / 5])


def test_any_by_hand_counts_reentries_once():
    res = fk.stage_conversion(HAND, STAGES, policy="any")
    # A: d1 d2 d3 d4 (twice, once counted) d6 = 5; B: d1 d3 (twice) d4 d5 d6 = 5;
    # C: d1 d2 d3 d5 d6 = 5; D: d1
    assert res["deals"].tolist() == [5, 5, 5, 1]
    np.testing.assert_allclose(res["conversion"], [1, 1, 1, 1 / 5])
    # ratios of counts, not proportions: no intervals
    assert res[["conversion_low", "overall_high"]].isna().all().all()


def test_any_ratio_can_exceed_one():
    h = make_history([("x", "B", 0), ("y", "B", 0), ("z", "A", 0)])
    res = fk.stage_conversion(h, ["A", "B"], policy="any")
    assert res["deals"].tolist() == [1, 2]
    assert res["conversion"][1] == 2.0


def test_strict_moves_back_then_forward_counts():
    # A B A B C: the chain A(0) B(1) C(4) exists
    h = make_history([("x", s, d) for s, d in zip("ABABC", range(5), strict=True)])
    assert fk.stage_conversion(h, ["A", "B", "C"], policy="strict")["deals"].tolist() == [1, 1, 1]


def test_strict_ties_count_as_in_order():
    h = make_history([("x", "B", 0), ("x", "A", 0)])
    assert fk.stage_conversion(h, ["A", "B"], policy="strict")["deals"].tolist() == [1, 1]


def test_by_groups_sorted_missing_own_group_and_sum_to_total():
    deals = pd.DataFrame(
        {"deal_id": ["d1", "d2", "d3", "d4", "d5", "d6", "extra"]}
        | {"team": ["y", "x", "y", None, "x", "x", "z"]}
    )
    res = fk.stage_conversion(HAND, STAGES, by="team", deals=deals)
    assert res["team"].iloc[::4].tolist()[:2] == ["x", "y"]
    assert pd.isna(res["team"].iloc[8])
    assert len(res) == 12  # "extra" has no history: no group
    # x = d2 d5 d6: furthest C, C, C -> A 3, B 3, C 3, D 0
    assert res["deals"][:4].tolist() == [3, 3, 3, 0]
    # y = d1 d3: D, C -> 2, 2, 2, 1; missing = d4: B -> 1, 1, 0, 0
    assert res["deals"][4:8].tolist() == [2, 2, 2, 1]
    assert res["deals"][8:].tolist() == [1, 1, 0, 0]
    total = fk.stage_conversion(HAND, STAGES)
    summed = res.groupby("stage", sort=False)["deals"].sum()
    assert summed.tolist() == total["deals"].tolist()
    # D after C=3 with 0 deals: conversion 0, not NaN
    assert res["conversion"][3] == 0.0


def test_result_dtypes_and_index():
    res = fk.stage_conversion(HAND, STAGES)
    assert isinstance(res.index, pd.RangeIndex)
    assert res["deals"].dtype == np.int64
    assert res["skipped"].dtype == np.int64
    for c in ("conversion", "conversion_low", "conversion_high", "overall"):
        assert res[c].dtype == np.float64


def test_empty_history():
    # no deals, no rows (as in every function: 0 rows in, an empty well-typed table out)
    res = fk.stage_conversion(make_history([]), STAGES)
    full = fk.stage_conversion(HAND, STAGES)
    assert len(res) == 0
    assert list(res.columns) == list(full.columns)
    # strings: object on 0 rows, str on pandas 3 when there are values to infer from
    kinds = [("O" if pd.api.types.is_string_dtype(t) else t.kind) for t in res.dtypes]
    assert kinds == [("O" if pd.api.types.is_string_dtype(t) else t.kind) for t in full.dtypes]


def test_times_as_strings_tz_and_units():
    h = HAND.copy()
    h["entered_at"] = h["entered_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    a = fk.stage_conversion(h, STAGES, policy="strict")
    h2 = HAND.copy()
    h2["entered_at"] = (
        h2["entered_at"].dt.tz_localize("Europe/Berlin").astype("datetime64[s, Europe/Berlin]")
    )
    b = fk.stage_conversion(h2, STAGES, policy="strict")
    pd.testing.assert_frame_equal(a, b)


def test_unknown_stages_error_lists_them_with_closest_match():
    h = pd.concat([HAND, make_history([("d9", "b", 5), ("d9", "Cc", 6), ("d8", "zzz", 1)])])
    with pytest.raises(InvalidDataError, match=r"3 of 21 rows.*'b' \(closest: 'B'\)") as info:
        fk.stage_conversion(h, STAGES)
    assert "'zzz'," not in str(info.value)
    assert "unknown='ignore'" in str(info.value)
    assert info.value.n_rows == 3
    res = fk.stage_conversion(h, STAGES, unknown="ignore")
    pd.testing.assert_frame_equal(res, fk.stage_conversion(HAND, STAGES))


def test_errors():
    with pytest.raises(ColumnNotFoundError, match=r"'deal_id' \(deal=\).*Hint: pass deal='deal'"):
        fk.stage_conversion(HAND.rename(columns={"deal_id": "deal"}), STAGES)
    with pytest.raises(ColumnNotFoundError, match=r"entered="):
        fk.stage_conversion(HAND, STAGES, entered="timestamp")
    with pytest.raises(InvalidParameterError, match=r"'policy' parameter of stage_conversion"):
        fk.stage_conversion(HAND, STAGES, policy="ordered")
    with pytest.raises(InvalidParameterError, match=r"'stages'.*repeats \['A'\]"):
        fk.stage_conversion(HAND, ["A", "B", "A"])
    with pytest.raises(InvalidParameterError, match=r"'stages' parameter"):
        fk.stage_conversion(HAND, "ABCD")
    with pytest.raises(InvalidParameterError, match=r"'stages' parameter"):
        fk.stage_conversion(HAND, [])
    with pytest.raises(InvalidParameterError, match=r"'ci' parameter"):
        fk.stage_conversion(HAND, STAGES, ci=95)
    with pytest.raises(InvalidParameterError, match=r"'unknown' parameter"):
        fk.stage_conversion(HAND, STAGES, unknown="drop")
    with pytest.raises(InvalidParameterError, match=r"needs the deal table"):
        fk.stage_conversion(HAND, STAGES, by="team")
    with pytest.raises(InvalidParameterError, match=r"'history' argument.*DataFrame"):
        fk.stage_conversion(HAND.to_dict(), STAGES)
    nulls = HAND.copy()
    nulls.loc[[2, 5], "deal_id"] = None
    with pytest.raises(InvalidDataError, match=r"history\['deal_id'\] has 2 of 18 rows that are"):
        fk.stage_conversion(nulls, STAGES)
    bad_time = HAND.astype({"entered_at": object})
    bad_time.loc[4, "entered_at"] = "soon"
    with pytest.raises(InvalidDataError, match=r"1 of 18 rows that are not datetimes"):
        fk.stage_conversion(bad_time, STAGES)


def test_by_errors_missing_and_duplicate_deals():
    deals = pd.DataFrame({"deal_id": ["d1", "d2", "d3"], "team": ["x", "y", "x"]})
    with pytest.raises(
        InvalidDataError, match=r"history has 3 of 6 deals whose deal .* not in deals"
    ):
        fk.stage_conversion(HAND, STAGES, by="team", deals=deals)
    dup = pd.DataFrame({"deal_id": ["d1", "d1"], "team": ["x", "y"]})
    with pytest.raises(InvalidDataError, match=r"2 of 2 rows with a repeated deal id"):
        fk.stage_conversion(HAND, STAGES, by="team", deals=dup)
    full = pd.DataFrame({"deal_id": [f"d{i}" for i in range(1, 7)], "team": list("xyxyxy")})
    with pytest.raises(ColumnNotFoundError, match=r"'tam' \(by=\).*Hint: pass by='team'"):
        fk.stage_conversion(HAND, STAGES, by="tam", deals=full)


# ----------------------------------------------------------------------------
# stage_conversion: references and properties
# ----------------------------------------------------------------------------
def reference_conversion(history, stages, policy):
    """Per-deal loop; strict by brute force over every choice of entries."""
    pos = {s: i for i, s in enumerate(stages)}
    k_n = len(stages)
    counts, skipped = [0] * k_n, [0] * k_n
    for _, g in history.groupby("deal_id"):
        entries = [(pos[s], t) for s, t in zip(g["stage"], g["entered_at"], strict=True)]
        entered = {k for k, _ in entries}
        if policy == "furthest":
            counted = set(range(max(entered) + 1))
        elif policy == "any":
            counted = set(entered)
        else:
            counted = set()
            for k in range(k_n):
                options = [[t for kk, t in entries if kk == j] for j in range(k + 1)]
                if any(
                    all(a <= b for a, b in itertools.pairwise(chain))
                    for chain in itertools.product(*options)
                ):
                    counted.add(k)
        for k in counted:
            counts[k] += 1
            skipped[k] += k not in entered
    return counts, skipped


histories = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.sampled_from(STAGES),
        st.integers(0, 6),
    ),
    max_size=18,
).map(make_history)


@settings(max_examples=120, deadline=None)
@given(histories, st.sampled_from(["furthest", "strict", "any"]))
def test_matches_reference(history, policy):
    res = fk.stage_conversion(history, STAGES, policy=policy)
    if history.empty:
        assert res.empty
        return
    counts, skipped = reference_conversion(history, STAGES, policy)
    assert res["deals"].tolist() == counts
    assert res["skipped"].tolist() == skipped


@settings(max_examples=60, deadline=None)
@given(histories, st.randoms(use_true_random=False))
def test_properties(history, rnd):
    before = history.copy()
    f = fk.stage_conversion(history, STAGES)["deals"].to_numpy()
    s = fk.stage_conversion(history, STAGES, policy="strict")["deals"].to_numpy()
    a = fk.stage_conversion(history, STAGES, policy="any")["deals"].to_numpy()
    assert (np.diff(f) <= 0).all()  # furthest never increases
    assert (np.diff(s) <= 0).all()
    assert (s <= f).all()
    assert (a >= s).all()
    assert (a <= f).all()
    pd.testing.assert_frame_equal(history, before)  # input unchanged
    perm = list(range(len(history)))
    rnd.shuffle(perm)
    shuffled = history.iloc[perm]
    for policy in ("furthest", "strict", "any"):
        pd.testing.assert_frame_equal(
            fk.stage_conversion(shuffled, STAGES, policy=policy),
            fk.stage_conversion(history, STAGES, policy=policy),
        )


# ----------------------------------------------------------------------------
# time_in_stage
# ----------------------------------------------------------------------------
# x: A(0) B(2) A(5) B(6, and again 7: same stay) C(9), closed won day 12
# y: A(0) B(4), still open;  z: A(1) C(3), closed day 2 before entering C
#    (a post-close stage: C stays open)
TIS = make_history(
    [
        ("x", "A", 0),
        ("x", "B", 2),
        ("x", "A", 5),
        ("x", "B", 6),
        ("x", "B", 7),
        ("x", "C", 9),
        ("y", "A", 0),
        ("y", "B", 4),
        ("z", "A", 1),
        ("z", "C", 3),
    ]
)
TIS_DEALS = pd.DataFrame(
    {
        "deal_id": ["x", "y", "z"],
        "closed_at": pd.to_datetime(["2025-01-13", None, "2025-01-03"]),
        "amount": [10.0, 20.0, 30.0],
        "team": ["t1", "t2", "t1"],
    }
)


def test_time_in_stage_by_hand():
    res = fk.time_in_stage(TIS, ["A", "B", "C"], deals=TIS_DEALS, as_of="2025-01-21")
    # as_of = day 20.
    # A: x 0->2 (2), x 5->6 (1), y 0->4 (4), z 1->3 (2): 4 visits, all ended
    # B: x 2->5 (3), x 6->9 (3, the day-7 row continues the stay), y 4->20 (16, open)
    # C: x 9->12 (3, closed), z 3->20 (17, open: entered after closing day 2)
    assert res["deals"].tolist() == [3, 2, 2]
    assert res["visits"].tolist() == [4, 3, 2]
    assert res["closed"].tolist() == [4, 2, 1]
    assert res["open"].tolist() == [0, 1, 1]
    assert res["total_days"].tolist() == [9, 22, 20]
    # A: 1 2 2 4 all ended: S(1)=.75, S(2)=.25 -> median 2
    # B: 3 3 16+: S(3) = 1/3 -> median 3;  C: 3 17+: S(3) = .5 -> median 3
    assert (res["median"] / DAY).tolist() == [2, 3, 3]
    assert (res["naive_median"] / DAY).tolist() == [2, 3, 3]
    assert res["total_days"].dtype == "float64"
    assert res["median"].dtype == "timedelta64[ns]"


def test_time_in_stage_bases():
    kw = {"deals": TIS_DEALS, "as_of": "2025-01-21"}
    latest = fk.time_in_stage(TIS, ["A", "B", "C"], basis="latest", **kw)
    # A latest: x 1, y 4, z 2 -> median 2; B: x 3, y 16+ -> S(3)=.5 -> 3
    assert (latest["closed"] + latest["open"]).tolist() == [3, 2, 2]
    assert (latest["median"] / DAY).tolist() == [2, 3, 3]
    cum = fk.time_in_stage(TIS, ["A", "B", "C"], basis="cumulative", **kw)
    # A: x 2+1=3, y 4, z 2 -> sorted 2 3 4 -> median 3
    # B: x 3+3 = 6, y 16+ -> median 6; C unchanged
    assert (cum["median"] / DAY).tolist() == [3, 6, 3]
    assert cum["open"].tolist() == [0, 1, 1]
    assert (cum["total_days"] == latest["total_days"]).all()


def test_time_in_stage_without_deals_and_median_not_reached():
    res = fk.time_in_stage(TIS, ["A", "B", "C"], as_of="2025-01-21")
    # without deals nothing closes: C = x 9->20 (11+), z 17+ -> no median
    assert res["open"].tolist() == [0, 1, 2]
    assert pd.isna(res["median"][2])
    assert pd.isna(res["naive_median"][2])


def test_time_in_stage_default_as_of_is_latest_date():
    # latest date: history day 9 vs closing day 12 -> day 12
    res = fk.time_in_stage(TIS, ["A", "B", "C"], deals=TIS_DEALS)
    assert res["total_days"].tolist() == [9, 6 + 8, 3 + 9]


def test_time_in_stage_by_group():
    res = fk.time_in_stage(TIS, ["A", "B", "C"], deals=TIS_DEALS, by="team", as_of="2025-01-21")
    assert res["team"].tolist() == ["t1"] * 3 + ["t2"] * 3
    # t2 = y: A 4 (ended), B 16 (open)
    assert res["visits"].tolist() == [3, 2, 2, 1, 1, 0]
    assert res["total_days"][3:].tolist() == [4, 16, 0]
    assert pd.isna(res["median"][5])


def test_time_in_stage_rows_after_as_of_left_out_with_warning():
    with pytest.warns(FunnelkitWarning, match=r"left out 1 of 10 rows because the deal entered"):
        res = fk.time_in_stage(TIS, ["A", "B", "C"], as_of="2025-01-08")
    # as_of = day 7: only x's C row (day 9) is later; x's day-7 B row is kept
    assert res["visits"].tolist() == [4, 3, 1]


def test_time_in_stage_tz_aware_and_as_of():
    h = TIS.assign(entered_at=TIS["entered_at"].dt.tz_localize("UTC"))
    d = TIS_DEALS.assign(closed_at=TIS_DEALS["closed_at"].dt.tz_localize("UTC"))
    a = fk.time_in_stage(h, ["A", "B", "C"], deals=d, as_of="2025-01-21")
    b = fk.time_in_stage(TIS, ["A", "B", "C"], deals=TIS_DEALS, as_of="2025-01-21")
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(InvalidDataError, match=r"mixes naive and time-zone-aware"):
        fk.time_in_stage(h, ["A", "B", "C"], deals=TIS_DEALS)
    with pytest.raises(InvalidParameterError, match=r"'as_of'.*time-zone-aware"):
        fk.time_in_stage(TIS, ["A", "B", "C"], as_of=pd.Timestamp("2025-01-21", tz="UTC"))
    with pytest.raises(InvalidParameterError, match=r"'as_of' parameter of time_in_stage"):
        fk.time_in_stage(TIS, ["A", "B", "C"], as_of="someday")
    with pytest.raises(InvalidParameterError, match=r"'basis' parameter"):
        fk.time_in_stage(TIS, ["A", "B", "C"], basis="first")
    with pytest.raises(ColumnNotFoundError, match=r"'closed_at' \(closed=\) not found in deals"):
        fk.time_in_stage(TIS, ["A", "B", "C"], deals=TIS_DEALS.drop(columns="closed_at"))


def reference_stays(history, stages, closed, as_of):
    """Per-deal loop: list of (stage, duration, observed)."""
    pos = {s: i for i, s in enumerate(stages)}
    out = []
    for d, g in history.groupby("deal_id"):
        entries = sorted(
            (t, pos[s]) for s, t in zip(g["stage"], g["entered_at"], strict=True) if t <= as_of
        )
        merged = []
        for t, k in entries:
            if not merged or merged[-1][1] != k:
                merged.append((t, k))
        for i, (t, k) in enumerate(merged):
            if i + 1 < len(merged):
                out.append((k, merged[i + 1][0] - t, True))
            else:
                c = closed.get(d, pd.NaT)
                if pd.notna(c) and t <= c <= as_of:
                    out.append((k, c - t, True))
                else:
                    out.append((k, as_of - t, False))
    return out


def km_median(durations, observed):
    """Product-limit estimate, written out: first t with S(t) <= 0.5."""
    s = 1.0
    for t in sorted({d for d, o in zip(durations, observed, strict=True) if o}):
        at_risk = sum(d >= t for d in durations)
        ended = sum(d == t and o for d, o in zip(durations, observed, strict=True))
        s *= 1 - ended / at_risk
        if s <= 0.5 + 1e-12:
            return t
    return pd.NaT


@settings(max_examples=80, deadline=None)
@given(histories, st.dictionaries(st.sampled_from("abcde"), st.integers(0, 8)), st.integers(3, 9))
def test_time_in_stage_matches_reference(history, closing, as_of_day):
    base = pd.Timestamp("2025-01-01")
    closed = {d: base + day * DAY for d, day in closing.items()}
    deal_ids = sorted(set(history["deal_id"]))
    deals = pd.DataFrame(
        {"deal_id": deal_ids, "closed_at": [closed.get(d, pd.NaT) for d in deal_ids]}
    ).astype({"closed_at": "datetime64[ns]"})
    as_of = base + as_of_day * DAY
    before = history.copy()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FunnelkitWarning)
        res = fk.time_in_stage(history, STAGES, deals=deals, as_of=as_of)
    pd.testing.assert_frame_equal(history, before)
    if history.empty:
        assert res.empty
        return
    stays = reference_stays(history, STAGES, closed, as_of)
    for k in range(len(STAGES)):
        mine = [(d, o) for kk, d, o in stays if kk == k]
        row = res.iloc[k]
        assert row["visits"] == len(mine)
        assert row["open"] == sum(not o for _, o in mine)
        expected_total = sum((d for d, _ in mine), pd.Timedelta(0)) / pd.Timedelta(days=1)
        assert row["total_days"] == pytest.approx(expected_total, rel=1e-12, abs=1e-9)
        expected = km_median([d for d, _ in mine], [o for _, o in mine]) if mine else pd.NaT
        assert (pd.isna(row["median"]) and pd.isna(expected)) or (row["median"] == expected)


@pytest.mark.parametrize("ci", [0.95, 0.7])
def test_time_in_stage_median_interval_matches_lifelines(ci):
    lifelines = pytest.importorskip("lifelines", reason="lifelines is the test-only reference")
    sample = fk.datasets.load_sample()
    res = fk.time_in_stage(sample.history, sample.stages, deals=sample.deals, ci=ci)
    closed = dict(zip(sample.deals["deal_id"], sample.deals["closed_at"], strict=True))
    stays = reference_stays(sample.history, sample.stages, closed, sample.as_of)
    checked = 0
    for k, name in enumerate(sample.stages):
        d = np.array([x / pd.Timedelta(seconds=1) for kk, x, _ in stays if kk == k])
        o = np.array([obs for kk, _, obs in stays if kk == k])
        if not o.any():
            assert pd.isna(res["median_low"][k])
            assert pd.isna(res["median_high"][k])
            continue
        km = lifelines.KaplanMeierFitter(alpha=1 - ci).fit(d, event_observed=o)
        bounds = lifelines.utils.median_survival_times(km.confidence_interval_)
        low, high = (float(v) for v in bounds.iloc[0])  # lifelines: lower, upper bound
        for got, expected in ((res["median_low"][k], low), (res["median_high"][k], high)):
            if np.isinf(expected):  # lifelines: the bound never crosses one half
                assert pd.isna(got), name
            else:
                assert got / pd.Timedelta(seconds=1) == pytest.approx(expected), name
        assert res["median_low"][k] <= res["median"][k] <= res["median_high"][k] or pd.isna(
            res["median_high"][k]
        )
        checked += 1
    assert checked >= 4


def test_time_in_stage_median_matches_lifelines_on_sample():
    lifelines = pytest.importorskip("lifelines", reason="lifelines is the test-only reference")
    sample = fk.datasets.load_sample()
    res = fk.time_in_stage(sample.history, sample.stages, deals=sample.deals)
    closed = dict(zip(sample.deals["deal_id"], sample.deals["closed_at"], strict=True))
    stays = reference_stays(sample.history, sample.stages, closed, sample.as_of)
    for k, name in enumerate(sample.stages):
        d = np.array([x / pd.Timedelta(seconds=1) for kk, x, _ in stays if kk == k])
        o = np.array([obs for kk, _, obs in stays if kk == k])
        if not o.any():
            assert pd.isna(res["median"][k])
            continue
        km = lifelines.KaplanMeierFitter().fit(d, event_observed=o)
        expected = km.median_survival_time_
        got = res["median"][k] / pd.Timedelta(seconds=1)
        assert got == pytest.approx(expected), name
        assert res["open"][k] == (~o).sum()


# ----------------------------------------------------------------------------
# stalled
# ----------------------------------------------------------------------------
def test_stalled_fixed_threshold_by_hand():
    deals = TIS_DEALS.copy()
    res = fk.stalled(TIS, ["A", "B", "C"], deals=deals, max_stay="10D", as_of="2025-01-21")
    # open at day 20: only y (x and z closed); y in B since day 4 -> 16 days, over by 6
    assert res["deal_id"].tolist() == ["y"]
    assert res["stage"].tolist() == ["B"]
    assert res["entered_at"].tolist() == [pd.Timestamp("2025-01-05")]
    assert res["time_in_stage"][0] == 16 * DAY
    assert res["threshold"][0] == 10 * DAY
    assert res["over"][0] == 6 * DAY
    assert res["over_ratio"][0] == pytest.approx(1.6)
    assert res["amount"][0] == 20.0


def test_stalled_quantile_threshold_and_sorting():
    # stage B ended stays: 2, 4, 6, 8 days -> p50 = 5 days (linear)
    rows = []
    for i, length in enumerate([2, 4, 6, 8]):
        rows += [(f"e{i}", "B", 0), (f"e{i}", "C", length)]
    rows += [("o1", "B", 10), ("o2", "B", 13), ("o3", "B", 16), ("o4", "B", 12)]
    h = make_history(rows)
    deals = pd.DataFrame(
        {
            "deal_id": ["e0", "e1", "e2", "e3", "o1", "o2", "o3", "o4"],
            "closed_at": pd.to_datetime([None] * 8),
            "amount": [1.0, 1, 1, 1, 50, 50, 10, np.nan],
        }
    )
    res = fk.stalled(h, ["B", "C"], deals=deals, max_stay="p50", as_of="2025-01-21")
    # day 20: o1 10 days, o2 7, o3 4 (not over 5), o4 8; C stays (e*) have no
    # ended C stay -> no threshold -> not listed
    assert (res["threshold"] / DAY).tolist() == [5, 5, 5]
    # value 50, 50 (o1 further over first), then NaN last
    assert res["deal_id"].tolist() == ["o1", "o2", "o4"]
    assert (res["over"] / DAY).tolist() == [5, 2, 3]
    assert np.isnan(res["amount"][2])


def test_stalled_without_deals_and_errors():
    res = fk.stalled(TIS, ["A", "B", "C"], max_stay=pd.Timedelta(days=10), as_of="2025-01-21")
    # no deals: everyone open; x in C since 9 (11 days), y in B 16, z in C 17
    assert res["deal_id"].tolist() == ["z", "y", "x"]
    assert res["amount"].isna().all()
    for bad in ("p0", "p100", "pxx", "-3D", 5, None):
        with pytest.raises(InvalidParameterError, match=r"'max_stay' parameter of stalled"):
            fk.stalled(TIS, ["A", "B", "C"], max_stay=bad)
    with pytest.raises(ColumnNotFoundError, match=r"'amount' \(amount=\)"):
        fk.stalled(TIS, ["A", "B", "C"], deals=TIS_DEALS.drop(columns="amount"))
    neg = TIS_DEALS.assign(amount=[1.0, -2.0, 3.0])
    with pytest.raises(InvalidDataError, match=r"negative"):
        fk.stalled(TIS, ["A", "B", "C"], deals=neg, max_stay="1D")


def test_stalled_planted_in_sample():
    sample = fk.datasets.load_sample()
    before = sample.deals.copy()
    res = fk.stalled(sample.history, sample.stages, deals=sample.deals, max_stay="p75")
    pd.testing.assert_frame_equal(sample.deals, before)
    # the sample stalls 20% of deals 5x longer in proposal or negotiation: the
    # deals far over their stage's p75 are those
    far = res[res["over_ratio"] >= 2]
    assert len(far) >= 3
    assert set(far["stage"]) <= {"proposal", "negotiation and close"}
    fixed = fk.stalled(sample.history, sample.stages, deals=sample.deals, max_stay="45D")
    assert len(fixed) >= 5
    assert set(fixed["stage"]) <= {"proposal", "negotiation and close"}
    # every listed deal is open and really over its threshold
    open_ids = set(sample.deals.loc[sample.deals["closed_at"].isna(), "deal_id"])
    assert set(res["deal_id"]) <= open_ids
    assert (res["time_in_stage"] > res["threshold"]).all()
    assert res["amount"].is_monotonic_decreasing


# ----------------------------------------------------------------------------
# lost_deals
# ----------------------------------------------------------------------------
LOST = pd.DataFrame(
    {
        "deal_id": [1, 2, 3, 4, 5, 6],
        "status": ["lost", "lost", "lost", "won", "lost", "open"],
        "stage": ["C", "B", "A", "C", "B", "A"],
        "amount": [100.0, 50.0, 20.0, 500.0, np.nan, 5.0],
        "lost_reason": ["price", "budget", "budget", None, None, None],
        "closed_at": pd.to_datetime(
            ["2025-01-10", "2025-01-06", "2025-01-03", "2025-01-09", "2025-01-08", None]
        ),
    }
)
LOST_HISTORY = make_history(
    [
        # deal 1 lost in B on day 9; its C row on day 12 is after closing
        (1, "A", 0),
        (1, "B", 4),
        (1, "C", 12),
        (2, "A", 0),
        (2, "B", 5),
        # deal 3: no history -> the deal table's stage (A)
        (5, "A", 1),
    ]
)


def test_lost_deals_from_deal_table():
    res = fk.lost_deals(LOST, stages=["A", "B", "C"])
    # lost: 1 C price 100; 2 B budget 50; 3 A budget 20; 5 B (no reason) NaN amount
    assert res["stage"].tolist() == ["A", "B", "B", "C"]
    assert res["lost_reason"].tolist()[:2] == ["budget", "budget"]
    assert pd.isna(res["lost_reason"][2])
    assert res["deals"].tolist() == [1, 1, 1, 1]
    assert res["value"].tolist() == [20.0, 50.0, 0.0, 100.0]
    np.testing.assert_allclose(res["share"], [0.25] * 4)
    np.testing.assert_allclose(res["stage_share"], [1, 0.5, 0.5, 1])
    np.testing.assert_allclose(res["value_share"], [20 / 170, 50 / 170, 0, 100 / 170])
    assert res["deals"].dtype == np.int64


def test_lost_deals_from_history():
    res = fk.lost_deals(LOST, history=LOST_HISTORY)
    # from history: 1 -> B (day 4; C at day 12 is after closing day 9), 2 -> B,
    # 3 -> A (deal table), 5 -> A (history day 1 <= closing day 7)
    # no stages: the stage with the most lost deals first: B (2) then A (2):
    # tie -> by name A... B has 2, A has 2 -> names: A first
    assert res["stage"].tolist() == ["A", "A", "B", "B"]
    assert res["lost_reason"].tolist()[0] == "budget"
    assert pd.isna(res["lost_reason"][1])
    # B: budget 1 (50) and price 1 (100) -> equal counts, by reason name
    assert res["lost_reason"].tolist()[2:] == ["budget", "price"]
    assert res["value"].tolist() == [20.0, 0.0, 50.0, 100.0]
    assert res["share"].sum() == pytest.approx(1.0)


def test_lost_deals_errors():
    with pytest.raises(ColumnNotFoundError, match=r"'lost_reason' \(lost_reason=\)"):
        fk.lost_deals(LOST.drop(columns="lost_reason"))
    with pytest.raises(ColumnNotFoundError, match=r"'closed_at' \(closed=\)"):
        fk.lost_deals(LOST.drop(columns="closed_at"), history=LOST_HISTORY)
    with pytest.raises(ColumnNotFoundError, match=r"'entered_at' \(entered=\)"):
        fk.lost_deals(LOST, history=LOST_HISTORY.rename(columns={"entered_at": "t"}))
    with pytest.raises(InvalidParameterError, match=r"'stages' parameter of lost_deals"):
        fk.lost_deals(LOST, stages="ABC")


def test_lost_deals_stage_specific_reasons_in_sample():
    sample = fk.datasets.load_sample()
    res = fk.lost_deals(sample.deals, history=sample.history, stages=sample.stages)
    found = res.groupby("stage")["lost_reason"].agg(set).to_dict()
    # the sample's planted reasons per stage (funnelkit.datasets docs)
    assert found == {
        "lead generation": {"not a fit", "duplicate"},
        "prospecting": {"no response", "not interested"},
        "qualification": {"no budget", "not a fit", "timing"},
        "contact": {"no budget", "timing", "no decision", "went silent"},
        "proposal": {"price", "lost to competitor", "no decision", "timing"},
        "negotiation and close": {"lost to competitor", "price", "no decision"},
    }
    n_lost = int((sample.deals["status"] == "lost").sum())
    assert res["deals"].sum() == n_lost
    # stage order as given
    order = [sample.stages.index(s) for s in res["stage"]]
    assert order == sorted(order)


# ----------------------------------------------------------------------------
# revival_candidates
# ----------------------------------------------------------------------------
def test_revival_ranking_filters_and_why():
    deals = LOST.assign(lost_reason=["Timing ", "budget", "budget", None, "price", None])
    res = fk.revival_candidates(
        deals, history=LOST_HISTORY, stages=["A", "B", "C"], as_of="2025-01-31"
    )
    # recoverable: 1 (timing, furthest C from the deal table), 2 (budget, B), 3 (budget, A)
    assert res["deal_id"].tolist() == [1, 2, 3]
    assert res["rank"].tolist() == [1, 2, 3]
    assert res["furthest_stage"].tolist() == ["C", "B", "A"]
    assert res["stage_number"].tolist() == [3, 2, 1]
    assert res["lost_at"].tolist() == ["B", "B", "A"]
    assert (res["age"] / DAY).tolist() == [21, 25, 28]
    assert res["why"][0] == (
        "reached C (3 of 3); lost for 'Timing ' (recoverable); lost 21 days ago; value 100"
    )
    aged = fk.revival_candidates(
        deals, history=LOST_HISTORY, stages=["A", "B", "C"], as_of="2025-01-31", min_age="24D"
    )
    assert aged["deal_id"].tolist() == [2, 3]
    top = fk.revival_candidates(deals, stages=["A", "B", "C"], top=1, reasons=["price"])
    assert top["deal_id"].tolist() == [5]


def test_revival_same_stage_ranks_by_amount_then_age():
    deals = pd.DataFrame(
        {
            "deal_id": ["a", "b", "c"],
            "status": ["lost"] * 3,
            "stage": ["B"] * 3,
            "amount": [10.0, 30.0, 10.0],
            "lost_reason": ["timing"] * 3,
            "closed_at": pd.to_datetime(["2025-01-05", "2025-01-05", "2025-01-02"]),
        }
    )
    res = fk.revival_candidates(deals, stages=["A", "B"])
    assert res["deal_id"].tolist() == ["b", "c", "a"]


@pytest.mark.parametrize(
    "ids",
    [[10, 2, -3, 7], [10.5, 2.0, -3.25, 7.0], ["k", "b", "a", "c"], [10, 2, -3, 7.5]],
    ids=["int", "float", "str", "mixed numbers"],
)
def test_revival_ties_rank_by_deal_id(ids):
    """Equal in stage, amount and age: the deal ids in their own order (numbers as numbers)."""
    deals = pd.DataFrame(
        {
            "deal_id": pd.Series(ids, dtype=object if isinstance(ids[0], str) else None),
            "status": ["lost"] * 4,
            "stage": ["B"] * 4,
            "amount": [10.0] * 4,
            "lost_reason": ["timing"] * 4,
            "closed_at": pd.to_datetime(["2025-01-05"] * 4),
        }
    )
    res = fk.revival_candidates(deals, stages=["A", "B"])
    assert res["deal_id"].tolist() == sorted(ids)
    assert res["rank"].tolist() == [1, 2, 3, 4]


def test_revival_errors():
    with pytest.raises(InvalidParameterError, match=r"'reasons' parameter"):
        fk.revival_candidates(LOST, stages=["A"], reasons="timing")
    with pytest.raises(InvalidParameterError, match=r"'top' parameter"):
        fk.revival_candidates(LOST, stages=["A"], top=0)
    with pytest.raises(InvalidParameterError, match=r"'min_age' parameter"):
        fk.revival_candidates(LOST, stages=["A"], min_age="soon")
    with pytest.raises(ColumnNotFoundError, match=r"'closed_at' \(closed=\)"):
        fk.revival_candidates(LOST.drop(columns="closed_at"), stages=["A"])


def test_revival_in_sample():
    sample = fk.datasets.load_sample()
    res = fk.revival_candidates(
        sample.deals, history=sample.history, stages=sample.stages, min_age="90D"
    )
    assert len(res) > 20
    assert set(res["lost_reason"]) <= {"timing", "no budget", "no decision"}
    assert (res["age"] >= pd.Timedelta(days=90)).all()
    assert res["stage_number"].is_monotonic_decreasing
    assert res["furthest_stage"].iloc[0] == "negotiation and close"
    lost = sample.deals.set_index("deal_id").loc[res["deal_id"]]
    assert (lost["status"] == "lost").all()


# ----------------------------------------------------------------------------
# cross-cutting: inputs unchanged, dtypes of ids and stages, groups sum up
# ----------------------------------------------------------------------------
def test_no_function_modifies_its_inputs():
    history, deals = LOST_HISTORY.copy(), LOST.copy()
    h0, d0 = history.copy(), deals.copy()
    stages = ["A", "B", "C"]
    fk.stage_conversion(history, stages, by="status", deals=deals, policy="strict")
    fk.time_in_stage(history, stages, deals=deals, by="status", basis="cumulative")
    fk.stalled(history, stages, deals=deals, max_stay="p50")
    fk.lost_deals(deals, history=history, stages=stages)
    fk.revival_candidates(deals, history=history, stages=stages, min_age="1D")
    pd.testing.assert_frame_equal(history, h0)
    pd.testing.assert_frame_equal(deals, d0)


def test_categorical_stages_and_integer_ids():
    h = HAND.assign(
        stage=pd.Categorical(HAND["stage"], categories=STAGES),
        deal_id=HAND["deal_id"].str[1:].astype(int),
    )
    pd.testing.assert_frame_equal(
        fk.stage_conversion(h, STAGES, policy="strict"),
        fk.stage_conversion(HAND, STAGES, policy="strict"),
    )
    res = fk.stalled(h, STAGES, max_stay="1D", as_of="2025-01-10")
    # every deal open; current stays: d1 D(3) 6d, d2 C(2) 7d, d3 B(4) 5d, d4 B(2) 7d,
    # d5 C(3) 6d, d6 B(2) 7d -> sorted by over: 2, 4, 6 (7d), then 1, 5 (6d), then 3
    assert res["deal_id"].tolist() == [2, 4, 6, 1, 5, 3]
    assert res["deal_id"].dtype == np.int64


def test_stalled_tz_aware_keeps_zone():
    h = TIS.assign(entered_at=TIS["entered_at"].dt.tz_localize("Asia/Tokyo"))
    res = fk.stalled(h, ["A", "B", "C"], max_stay="10D", as_of="2025-01-21")
    assert str(res["entered_at"].dt.tz) == "Asia/Tokyo"
    assert res["entered_at"].tolist()[0] == pd.Timestamp("2025-01-04", tz="Asia/Tokyo")


def test_revival_unknown_amount_is_said_in_words():
    deals = LOST.assign(lost_reason=["x", "x", "x", None, "timing", None])
    res = fk.revival_candidates(deals, stages=["A", "B", "C"], as_of="2025-01-31")
    assert res["deal_id"].tolist() == [5]
    assert res["why"][0].endswith("value unknown")


@settings(max_examples=40, deadline=None)
@given(histories, st.lists(st.sampled_from(["x", "y", None]), min_size=5, max_size=5))
def test_time_in_stage_groups_sum_to_total(history, teams):
    deals = pd.DataFrame(
        {
            "deal_id": list("abcde"),
            "team": teams,
            "closed_at": pd.to_datetime([None, "2025-01-04", None, "2025-01-09", None]),
        }
    )
    kw = {"deals": deals, "as_of": "2025-01-10"}
    total = fk.time_in_stage(history, STAGES, **kw)
    grouped = fk.time_in_stage(history, STAGES, by="team", **kw)
    if grouped.empty:  # no deal, no group
        assert (total["visits"] == 0).all()
        return
    for col in ("deals", "visits", "closed", "open"):
        summed = grouped.groupby("stage", sort=False)[col].sum()
        assert summed.reindex(STAGES).tolist() == total[col].tolist(), col
    summed = grouped.groupby("stage", sort=False)["total_days"].sum().reindex(STAGES)
    np.testing.assert_allclose(summed.to_numpy(), total["total_days"].to_numpy(), rtol=1e-12)


def test_many_unknown_stages_are_summarised():
    rows = [("u", f"x{i}", 0) for i in range(12)]
    with pytest.raises(InvalidDataError, match=r"12 of 12 rows.*'x9' and 2 more\."):
        fk.stage_conversion(make_history(rows), STAGES)


def test_stalled_zero_threshold_lists_every_open_deal():
    res = fk.stalled(TIS, ["A", "B", "C"], deals=TIS_DEALS, max_stay="0D", as_of="2025-01-21")
    # x and z closed by day 20; y open in B
    assert res["deal_id"].tolist() == ["y"]
    assert res["over_ratio"].tolist() == [np.inf]


def test_lost_deal_without_closing_date_is_contradictory():
    # a lost deal with no close date is a contradictory row, as in every deal function
    deals = LOST.assign(closed_at=LOST["closed_at"].where(LOST["deal_id"] != 1))
    expected = (
        "deals has 1 of 6 rows that are won or lost (status= is 'won' or 'lost') but have no "
        "close date (first at index 0). Fill the close dates, or pass errors='warn' to leave "
        "those deals out with a warning."
    )
    with pytest.raises(InvalidDataError) as err:
        fk.lost_deals(deals, history=LOST_HISTORY, stages=["A", "B", "C"])
    assert str(err.value) == expected
    assert err.value.reason == "closed_without_date"
    with pytest.warns(FunnelkitWarning) as record:
        res = fk.lost_deals(deals, history=LOST_HISTORY, stages=["A", "B", "C"], errors="warn")
    messages = [str(w.message) for w in record]
    assert any("left out 1 of 6 rows" in m and "no close date" in m for m in messages)
    assert any("left out 3 of 6 rows because their deal is not in" in m for m in messages)
    # deal 1 left out (with its history rows); 3: table stage A; 5: entry A on day 1; 2: B
    assert res["stage"].tolist() == ["A", "A", "B"]
    assert res["lost_reason"].tolist()[0] == "budget"
    assert pd.isna(res["lost_reason"][1])
    assert res["deals"].sum() == 3


# ----------------------------------------------------------------------------
# the deal table of the stage functions: the deal reader's checks and messages
# ----------------------------------------------------------------------------
ONE_READER_HISTORY = make_history([(1, "A", 0), (1, "B", 4), (2, "A", 1), (3, "A", 2)])
ONE_READER_DEALS = pd.DataFrame(
    {
        "deal_id": [1, 2, 3],
        "created_at": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"]),
        "closed_at": pd.to_datetime(["2025-01-10", None, "2025-01-08"]),
        "status": ["won", "open", "lost"],
        "amount": [100.0, 20.0, 30.0],
        "stage": ["B", "A", "A"],
        "lost_reason": [None, None, "budget"],
    }
)
STAGE_CALLS = {
    "stage_conversion": lambda d, **kw: fk.stage_conversion(
        ONE_READER_HISTORY, ["A", "B"], deals=d, **kw
    ),
    "time_in_stage": lambda d, **kw: fk.time_in_stage(
        ONE_READER_HISTORY, ["A", "B"], deals=d, **kw
    ),
    "stalled": lambda d, **kw: fk.stalled(ONE_READER_HISTORY, ["A", "B"], deals=d, **kw),
    "lost_deals": lambda d, **kw: fk.lost_deals(d, history=ONE_READER_HISTORY, **kw),
    "revival_candidates": lambda d, **kw: fk.revival_candidates(
        d, history=ONE_READER_HISTORY, stages=["A", "B"], **kw
    ),
}


@pytest.mark.parametrize("func", list(STAGE_CALLS))
def test_stage_functions_refuse_a_near_miss_status_like_win_rate(func):
    deals = ONE_READER_DEALS.assign(status=["Closed Won", "open", "lost"])
    tail = (
        "deals['status'] (status=) has no won='won' but 'Closed Won' in 1 of 3 rows; values "
        "are compared exactly. Pass won='Closed Won', lost='lost'."
    )
    with pytest.raises(InvalidDataError) as ref:
        fk.win_rate(deals)
    assert str(ref.value) == f"win_rate: {tail}"
    with pytest.raises(InvalidDataError) as err:
        STAGE_CALLS[func](deals)
    assert str(err.value) == f"{func}: {tail}"
    assert err.value.reason == ref.value.reason
    # the fix the message gives works
    STAGE_CALLS[func](deals, won="Closed Won")


@pytest.mark.parametrize("func", list(STAGE_CALLS))
def test_stage_functions_refuse_a_deal_closed_before_created_like_pipeline(func):
    deals = ONE_READER_DEALS.assign(
        created_at=pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-09"])
    )
    expected = (
        "deals has 1 of 3 rows closed before they were created (closed= earlier than "
        "created=) (first at index 2). Fix the dates, or pass errors='warn' to leave those "
        "deals out with a warning."
    )
    with pytest.raises(InvalidDataError) as ref:
        fk.pipeline(deals, stages=["A", "B"])
    assert str(ref.value) == expected
    with pytest.raises(InvalidDataError) as err:
        STAGE_CALLS[func](deals)
    assert str(err.value) == expected
    assert err.value.reason == "closed_before_created"


def test_lost_deals_leaves_a_contradictory_deal_out_with_errors_warn():
    deals = ONE_READER_DEALS.assign(
        created_at=pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-09"])
    )
    with pytest.warns(FunnelkitWarning) as record:
        res = fk.lost_deals(deals, history=ONE_READER_HISTORY, errors="warn")
    messages = [str(w.message) for w in record]
    assert any("left out 1 of 3 rows" in m and "closed before" in m for m in messages)
    assert any("left out 1 of 4 rows because their deal is not in" in m for m in messages)
    assert len(res) == 0  # deal 3, the only lost deal, is the contradictory one


@pytest.mark.parametrize("func", ["time_in_stage", "stalled"])
def test_a_won_deal_without_close_date_is_contradictory_in_stays(func):
    deals = ONE_READER_DEALS.assign(closed_at=pd.to_datetime([None, None, "2025-01-08"]))
    with pytest.raises(InvalidDataError) as err:
        STAGE_CALLS[func](deals)
    assert err.value.reason == "closed_without_date"
    assert str(err.value).startswith("deals has 1 of 3 rows that are won or lost")


@pytest.mark.parametrize("func", list(STAGE_CALLS))
def test_stage_functions_give_the_deal_readers_duplicate_message(func):
    deals = ONE_READER_DEALS.assign(deal_id=[1, 2, 2])
    with pytest.raises(InvalidDataError) as ref:
        fk.win_rate(deals)
    with pytest.raises(InvalidDataError) as err:
        STAGE_CALLS[func](deals)
    assert str(err.value) == str(ref.value)
    assert "repeated deal id (deal=)" in str(err.value)


@pytest.mark.parametrize("func", list(STAGE_CALLS))
def test_stage_functions_refuse_mixed_time_zones_in_the_deal_table(func):
    deals = ONE_READER_DEALS.assign(created_at=ONE_READER_DEALS["created_at"].dt.tz_localize("UTC"))
    with pytest.raises(InvalidDataError, match="mix naive and time-zone-aware dates"):
        STAGE_CALLS[func](deals)


@pytest.mark.parametrize(
    ("amounts", "why"), [([np.inf, 20.0, 30.0], "infinite"), ([True, False, True], "booleans")]
)
@pytest.mark.parametrize("func", ["stalled", "lost_deals", "revival_candidates"])
def test_stage_functions_follow_the_amount_rules(func, amounts, why):
    deals = ONE_READER_DEALS.assign(amount=amounts)
    with pytest.raises(InvalidDataError, match=why) as ref:
        fk.pipeline(deals, stages=["A", "B"])
    with pytest.raises(InvalidDataError) as err:
        STAGE_CALLS[func](deals)
    assert str(err.value) == str(ref.value)


def test_stage_conversion_needs_only_the_deal_id_and_by_columns():
    # no created, closed or status column: nothing of them to check
    deals = pd.DataFrame({"deal_id": [1, 2, 3], "team": ["x", "y", "x"]})
    res = fk.stage_conversion(ONE_READER_HISTORY, ["A", "B"], deals=deals, by="team")
    # team x: deals 1 (A, B) and 3 (A); team y: deal 2 (A)
    assert res["team"].tolist() == ["x", "x", "y", "y"]
    assert res["deals"].tolist() == [2, 1, 1, 0]


def test_stays_without_status_count_every_close_date():
    # without a status column a close date means closed (deal 1 leaves A on day 4,
    # B on day 9; deal 3 is closed on day 7)
    deals = ONE_READER_DEALS.drop(columns=["status", "created_at"])
    res = fk.time_in_stage(ONE_READER_HISTORY, ["A", "B"], deals=deals, as_of="2025-01-21")
    assert res["closed"].tolist() == [2, 1]  # A: deals 1 and 3; B: deal 1
    assert res["open"].tolist() == [1, 0]  # deal 2 still in A


def test_total_days_does_not_overflow_on_long_histories():
    # 2,000 deals x 200 years in one stage: far past what a ns Timedelta holds
    n = 2000
    history = pd.DataFrame(
        {
            "deal_id": np.arange(n),
            "stage": "lead",
            "entered_at": pd.Timestamp("1800-01-01"),
        }
    )
    res = fk.time_in_stage(history, ["lead"], as_of="2000-01-01")
    days = (pd.Timestamp("2000-01-01") - pd.Timestamp("1800-01-01")).days
    assert res.loc[0, "total_days"] == pytest.approx(n * days)


def test_old_threshold_keywords_work_for_one_release():
    with pytest.warns(FutureWarning, match=r"stalled\(threshold=...\) is now spelled max_stay="):
        old = fk.stalled(TIS, ["A", "B", "C"], threshold="10D", as_of="2025-01-21")
    pd.testing.assert_frame_equal(
        old, fk.stalled(TIS, ["A", "B", "C"], max_stay="10D", as_of="2025-01-21")
    )
    log = fk.datasets.load_sample().touches
    with pytest.warns(FutureWarning, match=r"touches_summary\(threshold=...\) is now spelled"):
        old = fk.touches_summary(log, threshold=0.2)
    pd.testing.assert_frame_equal(old, fk.touches_summary(log, min_rate=0.2))


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)), max_size=14),
    presort=st.booleans(),
)
def test_entry_order_equals_a_stable_sort_sorted_or_not(rows, presort):
    """(deal, time, stage) order: the shortcut for sorted input equals the full sort."""
    from funnelkit._stage_kernels import sort_entries

    if presort:
        rows = sorted(rows)
    deal, t, stage = (np.asarray([r[i] for r in rows], dtype=np.int64) for i in range(3))
    got = sort_entries(deal, stage, t)
    # identical entries are interchangeable: the rows in order, each once
    assert sorted(got.tolist()) == list(range(len(rows)))
    assert [rows[i] for i in got] == sorted(rows)


_KEY_VALUES = st.one_of(
    st.integers(0, 3),  # small codes: everything packs into one key
    st.integers(0, 3).map(lambda v: v * 86_400 * 10**9 + 1_700_000_000 * 10**9),  # whole days
    st.integers(-(2**62), 2**62),  # wide: no packing, lexsort or the radix pass
    # 60 bits whose low bits differ: packed coarsely, the tied rows sorted again
    st.tuples(st.integers(0, 3), st.integers(0, 3)).map(lambda v: v[0] * 2**58 + v[1]),
)


@settings(max_examples=400, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 5), _KEY_VALUES, _KEY_VALUES), max_size=12),
    wide_primary=st.booleans(),
    stable=st.booleans(),
)
def test_sort_order_equals_lexsort_on_every_path(data, wide_primary, stable):
    """One packed argsort, secondary keys packed plus a radix pass on the primary one,
    or np.lexsort: the same order as a sort by hand (ties in input order when stable)."""
    from funnelkit._stage_kernels import sort_order

    primary = [r[0] * (2**40 if wide_primary else 1) for r in data]
    cols = [np.asarray(primary, dtype=np.int64)] + [
        np.asarray([r[i] for r in data], dtype=np.int64) for i in (1, 2)
    ]
    rows = list(zip(primary, [r[1] for r in data], [r[2] for r in data], strict=True))
    got = sort_order(tuple(reversed(cols)), stable=stable).tolist()
    if stable:
        assert got == sorted(range(len(rows)), key=lambda i: (rows[i], i))
    else:
        assert sorted(got) == list(range(len(rows)))
        assert [rows[i] for i in got] == sorted(rows)


def _deals_for_hand(rows=("d1", "d2", "d3", "d4", "d5", "d6")):
    base = pd.Timestamp("2024-12-01")
    return pd.DataFrame(
        {
            "deal_id": list(rows),
            "created_at": [base] * len(rows),
            "closed_at": [pd.NaT] * len(rows),
            "status": ["open"] * len(rows),
            "amount": [100.0] * len(rows),
            "team": ["x", "y"] * (len(rows) // 2) + ["x"] * (len(rows) % 2),
        }
    )


@pytest.mark.parametrize("func", ["stage_conversion", "time_in_stage", "stalled"])
def test_stage_functions_take_errors_like_the_deal_functions(func):
    """errors="warn" leaves out contradictory deals and history deals not in the table."""
    f = getattr(fk, func)
    kw = dict(max_stay="1D") if func == "stalled" else {}
    kw["as_of"] = "2025-02-01"
    deals = _deals_for_hand()
    # d6 closed before it was created; d5 is not in the deal table at all
    bad = deals.copy()
    bad.loc[bad["deal_id"] == "d6", ["status", "closed_at"]] = ["lost", pd.Timestamp("2024-11-01")]
    bad = bad[bad["deal_id"] != "d5"]
    with pytest.raises(InvalidDataError, match="closed before"):
        f(HAND, STAGES, deals=bad, **kw)
    with pytest.raises(InvalidDataError, match="not in deals"):
        f(HAND, STAGES, deals=bad[bad["deal_id"] != "d6"], **kw)
    with pytest.warns(FunnelkitWarning) as caught:
        got = f(HAND, STAGES, deals=bad, errors="warn", by="team", **kw)
    texts = " ".join(str(w.message) for w in caught)
    assert "closed before" in texts
    assert "not in deals" in texts
    # the same as the clean inputs: the deals and history of d1 to d4 only
    clean = HAND[HAND["deal_id"].isin(["d1", "d2", "d3", "d4"])]
    expected = f(
        clean, STAGES, deals=deals[deals["deal_id"].isin(clean["deal_id"])], by="team", **kw
    )
    pd.testing.assert_frame_equal(got, expected)


@settings(max_examples=400, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
        max_size=10,
    ),
    presort=st.booleans(),
)
def test_presorted_says_whether_a_stable_sort_would_move_a_row(data, presort):
    from funnelkit._stage_kernels import presorted

    if presort:
        data = sorted(data)
    cols = [np.asarray([r[i] for r in data], dtype=np.int64) for i in range(4)]
    keys = tuple(reversed(cols))  # lexsort: the last key is the primary one
    identity = data == sorted(data)  # sorted by (col 0, col 1, ...), by hand
    assert presorted(keys) == identity
