"""touches_to_response, touches_summary, touches_from_counts.

Every figure is checked against hand-computed tables (worked out in the
comments) or against the slow per-prospect reference below (plain Python
loops, obviously correct), lifelines' Kaplan–Meier, and a plain pandas
computation on the real UCI bank-marketing data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

import funnelkit as fk

COLS = ["at_risk", "responded", "censored", "response_rate", "cumulative", "share_of_responders"]


# ----------------------------------------------------------------------------
# the slow reference (loops allowed in tests only)
# ----------------------------------------------------------------------------
def reference_prospects(log, *, positive=("positive",), by=None):
    """{entity: (touches to response or last touch, responded, group, channels)}."""
    rows = list(log.itertuples(index=False))
    cols = list(log.columns)
    out = {}
    for pos, row in enumerate(rows):
        rec = dict(zip(cols, row, strict=True))
        out.setdefault(rec["user_id"], []).append((rec["timestamp"], pos, rec))
    result = {}
    for ent, items in out.items():
        items.sort(key=lambda x: (x[0], x[1]))  # time, then input order
        n = len(items)
        responded = False
        channels = []
        for i, (_, _, rec) in enumerate(items, start=1):
            channels.append(rec.get("channel"))
            if rec["response"] in positive:
                n, responded = i, True
                break
        group = items[0][2][by] if by else None
        result[ent] = (n, responded, group, channels)
    return result


def reference_table(log, *, positive=("positive",)):
    pros = reference_prospects(log, positive=positive)
    n_max = max(t for t, _, _, _ in pros.values())
    total_resp = sum(r for _, r, _, _ in pros.values())
    rows = []
    surv = 1.0
    for n in range(1, n_max + 1):
        at_risk = sum(1 for t, _, _, _ in pros.values() if t >= n)
        resp = sum(1 for t, r, _, _ in pros.values() if t == n and r)
        cens = sum(1 for t, r, _, _ in pros.values() if t == n and not r)
        surv *= 1 - resp / at_risk
        got = sum(1 for t, r, _, _ in pros.values() if t <= n and r)
        share = got / total_resp if total_resp else math.nan
        rows.append((n, at_risk, resp, cens, resp / at_risk, 1 - surv, share))
    return pd.DataFrame(rows, columns=["touch", *COLS])


# ----------------------------------------------------------------------------
# hand-computed tables
# ----------------------------------------------------------------------------
@pytest.fixture
def log():
    # p1: t1 no reply, t2 positive, t2 no reply (tie: input order), t3 positive (ignored) -> 2
    # p2: t5 no reply, t5 positive (tie: input order)                                    -> 2
    # p3: t1 positive                                                                    -> 1
    # p4: t1, t2, t3 no reply                                          censored at 3
    # p5: t1 negative                                                  censored at 1
    return pd.DataFrame(
        {
            "user_id": ["p4", "p1", "p2", "p1", "p5", "p4", "p3", "p1", "p2", "p4", "p1"],
            "timestamp": [1, 3, 5, 2, 1, 2, 1, 2, 5, 3, 1],
            "response": [
                "no reply",
                "positive",
                "no reply",
                "positive",
                "negative",
                "no reply",
                "positive",
                "no reply",
                "positive",
                None,
                "no reply",
            ],
        }
    )


def test_hand_computed_hazards_and_cumulative(log):
    res = fk.touches_to_response(log)
    # touch 1: at risk p1..p5 = 5; p3 responds; p5 censored. rate 1/5; cum 0.2; share 1/3
    # touch 2: at risk p1, p2, p4 = 3; p1, p2 respond. rate 2/3; S = 0.8 * 1/3 -> cum 11/15
    # touch 3: at risk p4 = 1; censored. rate 0; cum 11/15; share 3/3
    expected = pd.DataFrame(
        {
            "touch": [1, 2, 3],
            "at_risk": [5, 3, 1],
            "responded": [1, 2, 0],
            "censored": [1, 0, 1],
            "response_rate": [0.2, 2 / 3, 0.0],
            "cumulative": [0.2, 11 / 15, 11 / 15],
            "share_of_responders": [1 / 3, 1.0, 1.0],
        }
    )
    assert list(res.columns) == [
        "touch",
        "at_risk",
        "responded",
        "censored",
        "response_rate",
        "response_rate_low",
        "response_rate_high",
        "cumulative",
        "share_of_responders",
    ]
    assert_frame_equal(res[expected.columns], expected)
    assert isinstance(res.index, pd.RangeIndex)
    for col in ["touch", "at_risk", "responded", "censored"]:
        assert res[col].dtype == np.int64
    # Wilson bounds from scipy for 1/5, 2/3, 0/1
    from scipy import stats

    for i, (k, n) in enumerate([(1, 5), (2, 3), (0, 1)]):
        ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert res["response_rate_low"][i] == pytest.approx(ref.low, abs=1e-12)
        assert res["response_rate_high"][i] == pytest.approx(ref.high, abs=1e-12)


def test_ties_are_broken_by_input_order(log):
    # swap p1's two rows at t=2: now "no reply" comes first, so p1's first
    # positive is its t=3 touch (touch 4 would not exist: touches are 1,2,3 then 4)
    swapped = log.copy()
    i, j = 3, 7  # p1 t2 positive, p1 t2 no reply
    swapped.iloc[[i, j]] = swapped.iloc[[j, i]].to_numpy()
    res = fk.touches_to_response(swapped)
    # p1 now: t1 no reply, t2 no reply, t2 positive -> touch 3
    # touch 3: at risk p1, p4 = 2; p1 responds, p4 censored
    assert res["at_risk"].tolist() == [5, 3, 2]
    assert res["responded"].tolist() == [1, 1, 1]
    assert res["censored"].tolist() == [1, 0, 1]


def test_never_responders_are_censored_not_dropped(log):
    res = fk.touches_to_response(log)
    # p4 and p5 never responded: they are in the touch-1 denominator
    assert res["at_risk"][0] == log["user_id"].nunique()
    assert res["censored"].sum() == 2
    assert res["responded"].sum() + res["censored"].sum() == 5


def test_summary_by_hand(log):
    res = fk.touches_summary(log, min_rate=0.1)
    # responders p1 (2), p2 (2), p3 (1): median 2, mean 5/3; 3 of 5 responded
    # rates 0.2, 2/3, 0 -> first below 0.1 is touch 3 -> stop after 2
    expected = pd.DataFrame(
        {
            "prospects": [5],
            "responders": [3],
            "response_rate": [0.6],
            "median_touches": [2.0],
            "mean_touches": [5 / 3],
            "share_never_responded": [0.4],
            "stop_after": [2.0],
        }
    )
    assert_frame_equal(res[expected.columns], expected)
    # a threshold above the first touch's rate: stop after 0 touches
    assert fk.touches_summary(log, min_rate=0.5)["stop_after"][0] == 0.0
    # never below the threshold -> NaN
    log2 = pd.DataFrame({"user_id": ["a", "b"], "timestamp": [1, 1], "response": ["positive"] * 2})
    assert np.isnan(fk.touches_summary(log2, min_rate=0.5)["stop_after"][0])


def test_summary_median_of_even_count():
    log = pd.DataFrame(
        {
            "user_id": ["a", "b", "b", "b", "c", "c", "d"],
            "timestamp": [1, 1, 2, 3, 1, 2, 1],
            "response": ["positive", "x", "x", "positive", "x", "x", "x"],
        }
    )
    res = fk.touches_summary(log)
    # responders: a (1), b (3) -> median 2.0, mean 2.0; c, d never
    assert res["median_touches"][0] == 2.0
    assert res["mean_touches"][0] == 2.0
    assert res["share_never_responded"][0] == 0.5


@pytest.fixture
def channel_log():
    # a: email (no), call (positive) -> 2;  b: email, email, no reply -> censored at 2
    # c: call (positive) -> 1
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-03", "2024-01-01", "2024-01-02", "2024-01-05"]
            ),
            "channel": ["email", "call", "email", "email", "call"],
            "response": ["no reply", "positive", "no reply", "no reply", "positive"],
        }
    )


def test_channel_split_by_hand(channel_log):
    res = fk.touches_to_response(channel_log, channel="channel")
    # overall: touch 1 Y=3 d=1 (c); touch 2 Y=2 d=1 (a), b censored. S1 = 2/3.
    # call: touch 1 Y=1 d=1, cum = 1 * 1/3; touch 2 Y=1 d=1, cum = 1/3 + 2/3 * 1/2 = 2/3
    # email: touch 1 Y=2 d=0; touch 2 Y=1 (b) d=0 censored 1; cum 0
    expected = pd.DataFrame(
        {
            "touch": [1, 1, 2, 2],
            "channel": ["call", "email", "call", "email"],
            "at_risk": [1, 2, 1, 1],
            "responded": [1, 0, 1, 0],
            "censored": [0, 0, 0, 1],
            "response_rate": [1.0, 0.0, 1.0, 0.0],
            "cumulative": [1 / 3, 0.0, 2 / 3, 0.0],
            "share_of_responders": [0.5, 0.0, 1.0, 0.0],
        }
    )
    assert_frame_equal(res[expected.columns], expected, check_dtype=False)
    assert res["touch"].dtype == np.int64


def test_channel_summary_mix_by_hand(channel_log):
    res = fk.touches_summary(channel_log, channel="channel")
    # call: touches while waiting a#2, c#1 = 2, both responses -> rate 1;
    #   responders a, c had 1 + 1 calls -> mean 1.0; share 2/2
    # email: a#1, b#1, b#2 = 3, no response; responders' emails a 1 + c 0 -> 0.5; share 0
    expected = pd.DataFrame(
        {
            "channel": ["call", "email"],
            "touches": [2, 3],
            "responded": [2, 0],
            "response_rate": [1.0, 0.0],
            "mean_touches": [1.0, 0.5],
            "share_of_responders": [1.0, 0.0],
        }
    )
    assert_frame_equal(res[expected.columns], expected, check_dtype=False)
    assert res["touches"].dtype == np.int64


def test_channel_rows_sum_to_the_all_channel_table(channel_log):
    whole = fk.touches_to_response(channel_log)
    split = fk.touches_to_response(channel_log, channel="channel")
    summed = split.groupby("touch", as_index=False)[COLS[:3] + COLS[4:]].sum(min_count=1)
    assert_frame_equal(summed, whole[["touch", *COLS[:3], *COLS[4:]]])


def test_by_groups_taken_at_first_touch_and_sorted():
    log = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "c", "d"],
            "timestamp": [2, 1, 1, 1, 1],
            # a's first touch (t=1) is in segment "y"; its later touch says "x"
            "seg": ["x", "y", "x", None, "y"],
            "response": ["positive", "no", "positive", "positive", "no"],
        }
    )
    res = fk.touches_to_response(log, by="seg")
    # x: b (responds at 1). y: a (responds at 2), d (censored at 1). NaN: c (1).
    assert res["seg"].tolist()[:3] == ["x", "y", "y"]
    assert pd.isna(res["seg"].iloc[3])
    assert res["touch"].tolist() == [1, 1, 2, 1]
    assert res["at_risk"].tolist() == [1, 2, 1, 1]
    assert res["responded"].tolist() == [1, 0, 1, 1]
    assert res["cumulative"].tolist() == [1.0, 0.0, 1.0, 1.0]
    summ = fk.touches_summary(log, by="seg")
    assert summ["prospects"].tolist() == [1, 2, 1]
    assert summ["responders"].tolist() == [1, 1, 1]


def test_max_touches_only_cuts_rows(log):
    full = fk.touches_to_response(log)
    cut = fk.touches_to_response(log, max_touches=2)
    assert_frame_equal(cut, full.iloc[:2])


def test_positive_as_list_and_callable(log):
    as_list = fk.touches_to_response(log, positive=["positive", "negative"])
    as_call = fk.touches_to_response(log, positive=lambda s: s.isin(["positive", "negative"]))
    assert_frame_equal(as_list, as_call)
    # p5's negative now counts: touch 1 has 2 responses
    assert as_list["responded"][0] == 2


def test_datetime_times_any_unit_and_tz(channel_log):
    ref = fk.touches_to_response(channel_log)
    for ts in [
        channel_log["timestamp"].astype("datetime64[s]"),
        channel_log["timestamp"].dt.tz_localize("Europe/Lisbon"),
        channel_log["timestamp"].dt.strftime("%Y-%m-%d"),
    ]:
        assert_frame_equal(fk.touches_to_response(channel_log.assign(timestamp=ts)), ref)


def test_empty_log():
    empty = pd.DataFrame({"user_id": pd.Series([], dtype=object), "timestamp": [], "response": []})
    res = fk.touches_to_response(empty)
    assert len(res) == 0
    assert "cumulative" in res.columns
    assert len(fk.touches_summary(empty)) == 0


# ----------------------------------------------------------------------------
# properties against the reference
# ----------------------------------------------------------------------------
@st.composite
def touch_logs(draw):
    n = draw(st.integers(1, 40))
    ids = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))  # many ties
    resp = draw(
        st.lists(
            st.sampled_from(["positive", "negative", "no reply", None]), min_size=n, max_size=n
        )
    )
    chan = draw(st.lists(st.sampled_from(["email", "call"]), min_size=n, max_size=n))
    seg = draw(st.lists(st.sampled_from(["x", "y", None]), min_size=n, max_size=n))
    return pd.DataFrame(
        {"user_id": ids, "timestamp": times, "response": resp, "channel": chan, "seg": seg}
    )


def _call(func, log, **kw):
    """Call a touch function; a log without any positive response warns, and only then."""
    if log["response"].eq("positive").any():
        return func(log, **kw)
    with pytest.warns(fk.FunnelkitWarning, match=r"positive='positive'"):
        return func(log, **kw)


@settings(max_examples=150, deadline=None)
@given(touch_logs())
def test_matches_reference_and_leaves_input_alone(log):
    before = log.copy()
    res = _call(fk.touches_to_response, log)
    assert_frame_equal(log, before)
    ref = reference_table(log)
    assert_frame_equal(res[["touch", *COLS]], ref, check_dtype=False)
    summ = _call(fk.touches_summary, log)
    pros = reference_prospects(log)
    resp_t = [t for t, r, _, _ in pros.values() if r]
    assert summ["prospects"][0] == len(pros)
    assert summ["responders"][0] == len(resp_t)
    if resp_t:
        assert summ["median_touches"][0] == pytest.approx(float(np.median(resp_t)))
        assert summ["mean_touches"][0] == pytest.approx(float(np.mean(resp_t)))
    else:
        assert np.isnan(summ["median_touches"][0])


@settings(max_examples=100, deadline=None)
@given(touch_logs(), st.integers(0, 2**32 - 1))
def test_row_order_is_irrelevant_apart_from_ties(log, seed):
    # a random permutation that keeps rows with equal (entity, time) in input order
    perm = np.random.default_rng(seed).permutation(len(log))
    key = (log["user_id"] + "|" + log["timestamp"].astype(str)).to_numpy()[perm]
    slots = pd.DataFrame({"k": key, "p": perm})
    perm = slots.groupby("k")["p"].transform(lambda x: np.sort(x.to_numpy())).to_numpy()
    shuffled = log.iloc[perm]
    assert_frame_equal(_call(fk.touches_to_response, shuffled), _call(fk.touches_to_response, log))
    assert_frame_equal(_call(fk.touches_summary, shuffled), _call(fk.touches_summary, log))


@settings(max_examples=100, deadline=None)
@given(touch_logs())
def test_by_groups_and_channels_add_up(log):
    whole = _call(fk.touches_to_response, log)
    by = _call(fk.touches_to_response, log, by="seg")
    # responders and prospects at touch 1 add up over groups
    first = by[by["touch"] == 1]
    assert first["at_risk"].sum() == whole["at_risk"][0]
    assert by["responded"].sum() == whole["responded"].sum()
    # per group equals the reference on that group's prospects
    pros = reference_prospects(log, by="seg")
    for key, grp in by.groupby("seg", dropna=False):
        members = [e for e, v in pros.items() if v[2] == key or (pd.isna(key) and pd.isna(v[2]))]
        ref = reference_table(log[log["user_id"].isin(members)])
        assert_frame_equal(grp[["touch", *COLS]].reset_index(drop=True), ref, check_dtype=False)
    split = _call(fk.touches_to_response, log, channel="channel")
    summed = split.groupby("touch", as_index=False)[COLS[:3] + COLS[4:]].sum(min_count=1)
    want = whole[["touch", *COLS[:3], *COLS[4:]]]
    assert_frame_equal(summed, want, check_dtype=False)
    both = _call(fk.touches_to_response, log, channel="channel", by="seg")
    keys = ["seg", "touch"]
    summed = both.groupby(keys, as_index=False, dropna=False)[COLS[:3] + COLS[4:]].sum(min_count=1)
    assert_frame_equal(summed, by[[*keys, *COLS[:3], *COLS[4:]]], check_dtype=False)


def test_cumulative_agrees_with_lifelines(rng):
    lifelines = pytest.importorskip("lifelines")
    n = 400
    counts = rng.integers(1, 9, n)
    yes = rng.random(n) < 0.4
    df = pd.DataFrame({"user_id": np.arange(n), "contacts": counts, "response": yes})
    log = fk.touches_from_counts(df, positive=True)
    res = fk.touches_to_response(log, time="touch", positive=True)
    kmf = lifelines.KaplanMeierFitter().fit(counts, event_observed=yes)
    surv = kmf.survival_function_at_times(res["touch"].to_numpy()).to_numpy()
    np.testing.assert_allclose(res["cumulative"].to_numpy(), 1 - surv, atol=1e-12)


# ----------------------------------------------------------------------------
# touches_from_counts
# ----------------------------------------------------------------------------
def test_from_counts_by_hand():
    df = pd.DataFrame({"id": [7, 3], "n": [3, 2], "y": ["no", "yes"]})
    log = fk.touches_from_counts(df, entity="id", contacts="n", response="y", positive="yes")
    # the response column is named after the input's
    expected = pd.DataFrame(
        {
            "id": [7, 7, 7, 3, 3],
            "touch": [1, 2, 3, 1, 2],
            "y": [False, False, False, False, True],
        }
    )
    assert_frame_equal(log, expected)
    # the id dtype survives (categorical ids stay categorical)
    cat = df.astype({"id": "category"})
    log_cat = fk.touches_from_counts(cat, entity="id", contacts="n", response="y", positive="yes")
    assert log_cat["id"].dtype == cat["id"].dtype
    res = fk.touches_to_response(log, entity="id", time="touch", response="y", positive=True)
    # touch 1: 2 at risk, 0; touch 2: 2 at risk, 1 (id 3); touch 3: 1 at risk (7), censored
    assert res["at_risk"].tolist() == [2, 2, 1]
    assert res["responded"].tolist() == [0, 1, 0]
    assert res["censored"].tolist() == [0, 0, 1]


def test_from_counts_zero_contacts_warn_and_contradictions_fail():
    df = pd.DataFrame({"user_id": ["a", "b"], "contacts": [0, 2], "response": ["no", "yes"]})
    with pytest.warns(
        fk.FunnelkitWarning, match=r"left out 1 of 2 rows.*prospects\['contacts'\] is 0"
    ):
        log = fk.touches_from_counts(df, positive="yes")
    assert log["user_id"].tolist() == ["b", "b"]
    bad = df.assign(response=["yes", "no"])
    with pytest.raises(fk.InvalidDataError, match=r"positive outcome but 0 contacts \(contacts=\)"):
        fk.touches_from_counts(bad, positive="yes")


@pytest.mark.parametrize(
    "counts", [[1.5, 2], [-1, 2], [np.nan, 2], ["x", 2], [True, False]], ids=str
)
def test_from_counts_bad_counts(counts):
    df = pd.DataFrame({"user_id": ["a", "b"], "contacts": counts, "response": ["no", "no"]})
    with pytest.raises(
        fk.InvalidDataError, match=r"prospects\['contacts'\].*whole numbers >= 0 \(contacts=\)"
    ):
        fk.touches_from_counts(df)


def test_from_counts_duplicate_ids_and_missing_columns():
    df = pd.DataFrame({"user_id": ["a", "a"], "contacts": [1, 2], "response": ["no", "no"]})
    with pytest.raises(fk.InvalidDataError, match=r"2 of 2 rows with repeated ids"):
        fk.touches_from_counts(df)
    with pytest.raises(fk.ColumnNotFoundError, match=r"contacts=.*Hint: pass contacts='contacts'"):
        fk.touches_from_counts(df, contacts="contact")
    with pytest.raises(fk.ColumnNotFoundError, match=r"response=.*Hint: pass response='response'"):
        fk.touches_from_counts(df, response="responses")


def test_real_bank_marketing(shared_data):
    path = shared_data / "uci_bank_marketing" / "bank-additional-full.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    bank = pd.read_csv(path, sep=";")
    assert len(bank) == 41_188
    bank = bank.rename_axis("client").reset_index()
    before = bank.copy()
    log = fk.touches_from_counts(
        bank, entity="client", contacts="campaign", response="y", positive="yes"
    )
    assert_frame_equal(bank, before)
    assert len(log) == bank["campaign"].sum()
    assert log.columns.tolist() == ["client", "touch", "y"]
    res = fk.touches_to_response(log, entity="client", time="touch", response="y", positive=True)

    # plain pandas: responders need `campaign` touches; others are censored there
    yes = bank["y"] == "yes"
    t = bank["campaign"]
    touches = np.arange(1, t.max() + 1)
    at_risk = np.array([(t >= n).sum() for n in touches])
    responded = np.array([((t == n) & yes).sum() for n in touches])
    keep = at_risk > 0
    touches, at_risk, responded = touches[keep], at_risk[keep], responded[keep]
    rate = responded / at_risk
    cumulative = 1 - np.cumprod(1 - rate)
    share = np.cumsum(responded) / yes.sum()
    assert res["touch"].tolist() == touches.tolist()
    np.testing.assert_array_equal(res["at_risk"], at_risk)
    np.testing.assert_array_equal(res["responded"], responded)
    np.testing.assert_allclose(res["response_rate"], rate)
    np.testing.assert_allclose(res["cumulative"], cumulative)
    np.testing.assert_allclose(res["share_of_responders"], share)
    # figures quoted in docs/touches.md
    assert res["at_risk"][0] == 41_188
    assert res["responded"][:3].tolist() == [2300, 1211, 574]
    summ = fk.touches_summary(log, entity="client", time="touch", response="y", positive=True)
    assert summ["responders"][0] == 4640 == yes.sum()
    assert summ["median_touches"][0] == t[yes].median()
    assert summ["mean_touches"][0] == pytest.approx(t[yes].mean())


# ----------------------------------------------------------------------------
# errors
# ----------------------------------------------------------------------------
def test_missing_columns(log):
    with pytest.raises(fk.ColumnNotFoundError, match=r"'uid' \(entity=\).*Available columns"):
        fk.touches_to_response(log, entity="uid")
    with pytest.raises(fk.ColumnNotFoundError, match=r"response=.*Hint: pass response='response'"):
        fk.touches_summary(log, response="responses")
    with pytest.raises(fk.ColumnNotFoundError, match=r"channel="):
        fk.touches_to_response(log, channel="channel")
    with pytest.raises(fk.ColumnNotFoundError, match=r"by="):
        fk.touches_to_response(log, by="segment")


def test_bad_values(log):
    with pytest.raises(fk.InvalidDataError, match=r"touches\['user_id'\] has 1 of 11 rows.*null"):
        fk.touches_to_response(log.assign(user_id=[None, *log["user_id"][1:]]))
    with pytest.raises(fk.InvalidDataError, match=r"touches\['timestamp'\] has 1 of 11"):
        fk.touches_to_response(log.assign(timestamp=[np.nan, *log["timestamp"][1:]]))
    with pytest.raises(fk.InvalidDataError, match=r"not datetimes"):
        fk.touches_to_response(log.assign(timestamp=["n/a"] * len(log)))
    with pytest.raises(fk.InvalidDataError, match=r"infinite"):
        fk.touches_to_response(log.assign(timestamp=[np.inf] + [1.0] * (len(log) - 1)))
    with pytest.raises(fk.InvalidDataError, match=r"booleans"):
        fk.touches_to_response(log.assign(timestamp=True))
    with pytest.raises(fk.InvalidParameterError, match=r"'touches' argument"):
        fk.touches_to_response(log.to_dict())


def test_bad_parameters(log):
    with pytest.raises(fk.InvalidParameterError, match=r"'max_touches'.*positive integer"):
        fk.touches_to_response(log, max_touches=0)
    with pytest.raises(fk.InvalidParameterError, match=r"'ci' parameter.*\(0, 1\)"):
        fk.touches_to_response(log, ci=95)
    with pytest.raises(fk.InvalidParameterError, match=r"'min_rate' parameter of touches_summ"):
        fk.touches_summary(log, min_rate=1.5)
    with pytest.raises(fk.InvalidParameterError, match=r"'positive' parameter.*one bool per row"):
        fk.touches_to_response(log, positive=lambda s: "yes")
    with pytest.raises(fk.InvalidParameterError, match=r"'positive' parameter"):
        fk.touches_to_response(log, positive=lambda s: s.nope())


# ----------------------------------------------------------------------------
# the positive= check on a Dask log: over all partitions, not per partition
# ----------------------------------------------------------------------------
def test_dask_log_positive_checked_over_all_partitions():
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    log = pd.DataFrame(
        {
            "user_id": [f"u{i // 3}" for i in range(60)],
            "timestamp": np.tile([1, 2, 3], 20),
            "response": ["no reply"] * 59 + ["positive"],
        }
    )
    with dask.config.set({"scheduler": "sync", "dataframe.shuffle.method": "tasks"}):
        # the only positive sits in one partition: no warning from the others
        ddf = dd.from_pandas(log, npartitions=4, sort=False)
        assert_frame_equal(fk.touches_summary(ddf), fk.touches_summary(log))
        near = dd.from_pandas(log.replace("positive", "Positive"), npartitions=4, sort=False)
        with pytest.raises(fk.InvalidDataError, match=r"Pass positive='Positive'\."):
            fk.touches_summary(near)
        none = dd.from_pandas(log.replace("positive", "no reply"), npartitions=4, sort=False)
        with pytest.warns(fk.FunnelkitWarning, match=r"values found are \['no reply'\]") as rec:
            res = fk.touches_summary(none)
        assert len([w for w in rec if issubclass(w.category, fk.FunnelkitWarning)]) == 1
        assert res["responders"].tolist() == [0]


def test_dask_log_with_offsets_across_dst_equals_pandas():
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    # winter offsets in the first rows, summer offsets later: partitions parse to
    # +01:00, UTC or +02:00; all are instants and the result equals the pandas one
    winter = [f"2024-03-{d:02d}T10:00:00+01:00" for d in range(1, 11)]
    summer = [f"2024-04-{d:02d}T10:00:00+02:00" for d in range(1, 11)]
    users = ["w1", "w2", "w3", "w4", "w5", "s1", "s2", "s3", "s4", "s5"]
    log = pd.DataFrame(
        {
            "user_id": np.repeat(users, 2),  # w-users touched in winter only, s-users in summer
            "timestamp": winter + summer,
            "response": ["no", "positive"] * 10,
        }
    )
    with dask.config.set({"scheduler": "sync", "dataframe.shuffle.method": "tasks"}):
        ddf = dd.from_pandas(log, npartitions=5, sort=False)
        assert_frame_equal(fk.touches_to_response(ddf), fk.touches_to_response(log))


def test_touches_from_counts_old_df_keyword_works_for_one_release():
    counts = pd.DataFrame({"user_id": [1, 2], "contacts": [2, 1], "response": ["positive", "no"]})
    with pytest.warns(FutureWarning, match=r"touches_from_counts\(df=...\) is now spelled"):
        old = fk.touches_from_counts(df=counts)
    pd.testing.assert_frame_equal(old, fk.touches_from_counts(prospects=counts))
    assert len(old) == 3  # 2 + 1 touches


# the hand-built log of CLIENTS: a gets 2 calls and says yes at the 2nd, b 1, c 3
CLIENTS = pd.DataFrame({"client": ["a", "b", "c"], "calls": [2, 1, 3], "y": ["yes", "no", "no"]})
CLIENTS_LOG = pd.DataFrame(
    {
        "client": ["a", "a", "b", "c", "c", "c"],
        "touch": [1, 2, 1, 1, 2, 3],
        "y": [False, True, False, False, False, False],
    }
)


def test_touches_from_counts_old_count_and_outcome_keywords_work_for_one_release():
    before = CLIENTS.copy()
    new = fk.touches_from_counts(
        CLIENTS, entity="client", contacts="calls", response="y", positive="yes"
    )
    assert_frame_equal(new, CLIENTS_LOG)
    with pytest.warns(FutureWarning, match=r"touches_from_counts\(count=...\) is now spelled"):
        old = fk.touches_from_counts(
            CLIENTS, entity="client", count="calls", response="y", positive="yes"
        )
    assert_frame_equal(old, CLIENTS_LOG)
    with pytest.warns(FutureWarning, match=r"touches_from_counts\(outcome=...\) is now spelled"):
        old = fk.touches_from_counts(
            CLIENTS, entity="client", contacts="calls", outcome="y", positive="yes"
        )
    assert_frame_equal(old, CLIENTS_LOG)
    with pytest.warns(FutureWarning) as record:
        old = fk.touches_from_counts(
            CLIENTS, entity="client", count="calls", outcome="y", positive="yes"
        )
    assert {str(w.message).split("(")[1].split("=")[0] for w in record} == {"count", "outcome"}
    assert_frame_equal(old, CLIENTS_LOG)
    assert_frame_equal(CLIENTS, before)


@pytest.mark.parametrize(
    ("old", "new"),
    [({"count": "calls"}, {"contacts": "calls"}), ({"outcome": "y"}, {"response": "y"})],
)
def test_touches_from_counts_old_and_new_spelling_together_is_an_error(old, new):
    (old_kw,), (new_kw,) = old, new
    with pytest.raises(fk.InvalidParameterError, match=rf"pass {new_kw}= only \({old_kw}= is"):
        fk.touches_from_counts(CLIENTS, entity="client", positive="yes", **old, **new)


def test_touches_from_counts_reads_the_old_default_outcome_column_with_a_warning():
    prospects = pd.DataFrame({"user_id": [1, 2], "contacts": [2, 1], "outcome": ["positive", "no"]})
    expected = pd.DataFrame(
        {"user_id": [1, 1, 2], "touch": [1, 2, 1], "outcome": [False, True, False]}
    )
    with pytest.warns(FutureWarning, match=r"no 'response' column.*old default column 'outcome'"):
        log = fk.touches_from_counts(prospects)
    assert_frame_equal(log, expected)
    with pytest.warns(FutureWarning, match=r"old default column 'outcome'"):
        log = fk.touches_from_counts(prospects=prospects)
    assert_frame_equal(log, expected)
    # no fallback (and no warning) once response is given, by keyword or by columns=
    assert_frame_equal(fk.touches_from_counts(prospects, response="outcome"), expected)
    assert_frame_equal(fk.touches_from_counts(prospects, columns={"response": "outcome"}), expected)
    with pytest.raises(fk.ColumnNotFoundError, match=r"response="):
        fk.touches_from_counts(prospects, response="response")
    with pytest.raises(fk.ColumnNotFoundError, match=r"response="):
        fk.touches_from_counts(prospects, columns=fk.Columns(response="response"))
    # a table with both columns reads "response", without a warning
    both = prospects.assign(response=["no", "positive"])
    got = fk.touches_from_counts(both)
    assert got.columns.tolist() == ["user_id", "touch", "response"]
    assert got["response"].tolist() == [False, False, True]


def test_touches_from_counts_one_mapping_serves_the_whole_touch_analysis():
    cols = fk.Columns(entity="client", contacts="calls", response="y", positive="yes")
    log = fk.touches_from_counts(CLIENTS, columns=cols)
    assert_frame_equal(log, CLIENTS_LOG)
    assert_frame_equal(fk.touches_from_counts(CLIENTS, columns=dict(cols)), CLIENTS_LOG)
    res = fk.touches_to_response(log, time="touch", positive=True, columns=cols)
    # touch 1: a, b, c at risk, none; touch 2: a, c, a responds; touch 3: c, censored
    assert res["at_risk"].tolist() == [3, 2, 1]
    assert res["responded"].tolist() == [0, 1, 0]
    assert res["censored"].tolist() == [1, 0, 1]
    summ = fk.touches_summary(log, time="touch", positive=True, columns=cols)
    assert summ["responders"].tolist() == [1]
    assert summ["prospects"].tolist() == [3]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"entity": "client", "response": "client"}, r"response='client' and entity='client'"),
        ({"entity": "client", "response": "touch"}, r"response='touch' .* log's own 'touch'"),
        ({"entity": "touch", "response": "y"}, r"entity='touch' .* log's own 'touch'"),
    ],
)
def test_touches_from_counts_refuses_colliding_output_columns(kw, message):
    prospects = CLIENTS.assign(touch=["x", "y", "z"])
    with pytest.raises(fk.InvalidParameterError, match=message):
        fk.touches_from_counts(prospects, contacts="calls", positive="yes", **kw)
    # the same through columns=
    with pytest.raises(fk.InvalidParameterError, match=message):
        fk.touches_from_counts(prospects, positive="yes", columns={"contacts": "calls", **kw})
