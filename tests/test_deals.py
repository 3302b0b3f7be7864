"""Deal metrics checked against hand-computed tables, lifelines and brute force."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import funnelkit as fk
from funnelkit import ColumnNotFoundError, FunnelkitWarning, InvalidDataError, InvalidParameterError

D = pd.Timedelta(days=1)


def ts(*days):
    """Dates as days after 2025-01-01 (None = NaT)."""
    base = pd.Timestamp("2025-01-01")
    return pd.Series([pd.NaT if x is None else base + x * D for x in days], dtype="datetime64[ns]")


@pytest.fixture
def deals():
    # id  created  closed  status  amount  owner  channel  stage
    #  1     0      10      won     100     ann    ads      proposal
    #  2     0      20      lost     50     ann    ads      contact
    #  3     5      35      won     300     bob    seo      proposal
    #  4    10      --      open     80     bob    ads      contact
    #  5    20      --      open     20     ann    seo      proposal
    #  6    30      40      lost     10     bob    seo      proposal
    return pd.DataFrame(
        {
            "deal_id": [1, 2, 3, 4, 5, 6],
            "created_at": ts(0, 0, 5, 10, 20, 30),
            "closed_at": ts(10, 20, 35, None, None, 40),
            "status": ["won", "lost", "won", "open", "open", "lost"],
            "amount": [100.0, 50.0, 300.0, 80.0, 20.0, 10.0],
            "owner": ["ann", "ann", "bob", "bob", "ann", "bob"],
            "channel": ["ads", "ads", "seo", "ads", "seo", "seo"],
            "stage": ["proposal", "contact", "proposal", "contact", "proposal", "proposal"],
        }
    )


# ----------------------------------------------------------------------------
# win_rate
# ----------------------------------------------------------------------------
def test_win_rate_closed_by_hand(deals):
    res = fk.win_rate(deals)
    # won 2 (ids 1, 3), lost 2 (2, 6), open 2 -> 2 / 4
    assert res.loc[0, ["won", "lost", "open", "closed"]].tolist() == [2, 2, 2, 4]
    assert res.loc[0, "win_rate"] == 0.5
    ref = stats.binomtest(2, 4).proportion_ci(method="wilson")
    assert np.isclose(res.loc[0, "win_rate_low"], ref.low)
    assert np.isclose(res.loc[0, "win_rate_high"], ref.high)
    assert res.loc[0, "basis"] == "closed"
    assert isinstance(res.index, pd.RangeIndex)
    assert res["won"].dtype == np.int64
    assert res["win_rate"].dtype == np.float64


def test_win_rate_created_and_weighted_by_hand(deals):
    res = fk.win_rate(deals, basis="created")
    assert res.loc[0, ["closed", "open"]].sum() == 6  # the denominator: every deal
    assert np.isclose(res.loc[0, "win_rate"], 2 / 6)
    w = fk.win_rate(deals, weighted=True)
    # won value 100 + 300 = 400, closed value 400 + 50 + 10 = 460
    assert w.loc[0, "closed"] == 4  # a count of deals, not of money
    assert np.isclose(w.loc[0, "win_rate"], 400 / 460)
    assert w.loc[0, "basis"] == "closed (weighted by amount)"
    # Kish effective n = 460^2 / (100^2 + 50^2 + 300^2 + 10^2)
    n_eff = 460**2 / (100**2 + 50**2 + 300**2 + 10**2)
    ref = stats.binomtest(1, 2)  # only to get the Wilson formula through scipy's z
    del ref
    z = stats.norm.ppf(0.975)
    p = 400 / 460
    centre = (p + z**2 / (2 * n_eff)) / (1 + z**2 / n_eff)
    half = z / (1 + z**2 / n_eff) * np.sqrt(p * (1 - p) / n_eff + z**2 / (4 * n_eff**2))
    assert np.isclose(w.loc[0, "win_rate_low"], centre - half)
    assert np.isclose(w.loc[0, "win_rate_high"], centre + half)


def test_win_rate_by_group_by_hand(deals):
    res = fk.win_rate(deals, by="owner")
    assert res["owner"].tolist() == ["ann", "bob"]
    # ann: won 1 lost 1 open 1; bob: won 1 lost 1 open 1
    assert res[["won", "lost", "open"]].to_numpy().tolist() == [[1, 1, 1], [1, 1, 1]]
    assert res.columns.tolist()[:2] == ["owner", "won"]


def test_win_rate_missing_group_value_forms_its_own_group(deals):
    df = deals.assign(owner=["ann", None, "bob", "bob", "ann", None])
    res = fk.win_rate(df, by="owner")
    assert len(res) == 3
    assert res["owner"].isna().iloc[-1]
    assert res["won"].sum() == 2


def deal_tables():
    @st.composite
    def strat(draw):
        n = draw(st.integers(1, 25))
        created = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
        length = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
        status = draw(st.lists(st.sampled_from(["won", "lost", "open"]), min_size=n, max_size=n))
        amount = draw(st.lists(st.integers(0, 1000), min_size=n, max_size=n))
        group = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
        closed = [
            None if s == "open" else c + k for s, c, k in zip(status, created, length, strict=True)
        ]
        return pd.DataFrame(
            {
                "deal_id": [f"d{i}" for i in range(n)],
                "created_at": ts(*created),
                "closed_at": ts(*closed),
                "status": status,
                "amount": np.array(amount, dtype=float),
                "owner": group,
                "channel": group,
            }
        )

    return strat()


@pytest.mark.filterwarnings("ignore:.*has no (won|lost)=:funnelkit.errors.FunnelkitWarning")
@settings(max_examples=100, deadline=None)
@given(deal_tables(), st.randoms(use_true_random=False))
def test_properties_order_groups_inputs(df, rnd):
    before = df.copy()
    shuffled = df.sample(frac=1, random_state=rnd.randint(0, 10**6))
    sums = {
        fk.win_rate: ["won", "lost", "open", "closed"],
        fk.deal_size: ["deals", "value"],
        fk.sales_cycle: ["deals", "other_outcome", "open"],
    }
    for func, columns in sums.items():
        whole = func(df)
        # row order is irrelevant
        pd.testing.assert_frame_equal(whole, func(shuffled))
        # by-groups sum back to the total
        grouped = func(df, by="owner")
        for col in columns:
            assert np.isclose(grouped[col].sum(), whole[col].sum())
    pd.testing.assert_frame_equal(fk.win_curve(df), fk.win_curve(shuffled))
    assert fk.leaderboard(df)["deals"].sum() == len(df)
    assert fk.channel_yield(df)["leads"].sum() == len(df)
    pd.testing.assert_frame_equal(df, before)


# ----------------------------------------------------------------------------
# deal_size
# ----------------------------------------------------------------------------
def test_deal_size_by_hand(deals):
    res = fk.deal_size(deals)
    # won amounts 100, 300: mean 200, p10 120, p25 150, median 200, p75 250, p90 280,
    # value 400 (linear interpolation between the two)
    assert list(res.columns) == [
        "outcome", "deals", "mean", "p10", "p25", "median", "p75", "p90", "value"
    ]  # fmt: skip
    figures = ["deals", "mean", "p10", "p25", "median", "p75", "p90", "value"]
    assert res.loc[0, figures].tolist() == [2, 200.0, 120.0, 150.0, 200.0, 250.0, 280.0, 400.0]
    closed = fk.deal_size(deals, outcome="closed", by="channel")
    # ads: closed 100, 50 -> mean 75; seo: 300, 10 -> mean 155
    assert closed["channel"].tolist() == ["ads", "seo"]
    assert closed["mean"].tolist() == [75.0, 155.0]
    assert closed["deals"].tolist() == [2, 2]


def test_deal_size_quantiles_match_numpy(rng):
    amounts = rng.gamma(2.0, 500.0, size=57)
    df = pd.DataFrame(
        {
            "deal_id": range(57),
            "created_at": ts(*([0] * 57)),
            "closed_at": ts(*([3] * 57)),
            "status": "won",
            "amount": amounts,
        }
    )
    res = fk.deal_size(df)
    q = np.quantile(amounts, [0.5, 0.25, 0.75])
    assert np.allclose(res.loc[0, ["median", "p25", "p75"]].to_numpy(float), q)
    assert np.isclose(res.loc[0, "mean"], amounts.mean())


def test_deal_size_missing_amount_warns_and_is_left_out(deals):
    df = deals.assign(amount=[np.nan, 50.0, 300.0, 80.0, 20.0, 10.0])
    with pytest.warns(FunnelkitWarning, match=r"deal_size: left out 1 of 6 rows .*won deals have"):
        res = fk.deal_size(df)
    assert res.loc[0, "deals"] == 1
    assert res.loc[0, "mean"] == 300.0


def test_empty_group_gives_nan_not_error(deals):
    res = fk.deal_size(deals, outcome="won", by="stage")
    # contact: no won deal
    row = res[res["stage"] == "contact"].iloc[0]
    assert row["deals"] == 0
    assert np.isnan(row["mean"])
    assert row["value"] == 0.0


# ----------------------------------------------------------------------------
# sales_cycle and win_curve
# ----------------------------------------------------------------------------
def test_sales_cycle_naive_by_hand(deals):
    res = fk.sales_cycle(deals, as_of="2025-03-01")
    # won cycles: 10 and 30 days -> mean 20, median 20, p25 15, p75 25, p90 28
    row = res.iloc[0]
    assert (row["deals"], row["other_outcome"], row["open"]) == (2, 2, 2)
    assert row["naive_mean"] == 20 * D
    assert row["naive_median"] == 20 * D
    assert row["naive_p25"] == 15 * D
    assert row["naive_p75"] == 25 * D
    assert row["naive_p90"] == 28 * D
    assert res["naive_mean"].dtype == "timedelta64[ns]"
    lost = fk.sales_cycle(deals, outcome="lost", as_of="2025-03-01").iloc[0]
    # lost cycles: 20 and 10 days
    assert lost["naive_median"] == 15 * D
    assert lost["deals"] == 2


def test_censoring_aware_median_by_hand(deals):
    # durations (as_of = day 59): won 10, lost 20, won 30, open 49, open 39, lost 10
    # t=10: n=6, 1 won + 1 lost -> F = 1/6, S = 4/6
    # t=20: n=4, lost          -> S = 3/6
    # t=30: n=3, won           -> F = 1/6 + 3/6 * 1/3 = 2/6
    # half of F(end) = 1/6 -> reached at t = 10
    res = fk.sales_cycle(deals, as_of="2025-03-01")
    # the censoring-aware median has the plain name
    assert res.loc[0, "median"] == 10 * D
    curve = fk.win_curve(deals, as_of="2025-03-01")
    assert curve["t"].tolist() == [10 * D, 20 * D, 30 * D]
    assert curve["at_risk"].tolist() == [6, 4, 3]
    assert curve["won"].tolist() == [1, 0, 1]
    assert curve["lost"].tolist() == [1, 1, 0]
    assert np.allclose(curve["cumulative_win"], [1 / 6, 1 / 6, 2 / 6])


def test_as_of_censors_later_closes_and_leaves_out_later_creations(deals):
    # as_of day 25: deals 3 (closed day 35), 4, 5 are open; 6 (created day 30) is left out
    with pytest.warns(FunnelkitWarning, match=r"left out 1 of 6 rows because they were created"):
        res = fk.sales_cycle(deals, as_of="2025-01-26")
    assert (res.loc[0, "deals"], res.loc[0, "other_outcome"], res.loc[0, "open"]) == (1, 1, 3)


def _lifelines_or_skip():
    return pytest.importorskip("lifelines", reason="lifelines (test-only reference) not installed")


def random_deals(rng, n=300, *, groups=False):
    """Deals with no tie between a win and a loss time (lifelines would jitter those)."""
    created = rng.integers(0, 200, size=n)
    status = rng.choice(["won", "lost", "open"], size=n, p=[0.4, 0.35, 0.25])
    # wins on even days, losses on odd days: ties only within one outcome
    length = rng.integers(1, 60, size=n) * 2 + (status == "lost")
    closed = [
        None if s == "open" else int(c + k) for s, c, k in zip(status, created, length, strict=True)
    ]
    df = pd.DataFrame(
        {
            "deal_id": np.arange(n),
            "created_at": ts(*created.tolist()),
            "closed_at": ts(*closed),
            "status": status,
            "amount": rng.gamma(2.0, 100.0, size=n).round(),
        }
    )
    if groups:
        df["segment"] = rng.choice(["x", "y"], size=n)
    return df


def test_win_curve_matches_lifelines_aalen_johansen(rng):
    lifelines = _lifelines_or_skip()
    df = random_deals(rng)
    as_of = pd.Timestamp("2025-06-01")  # day 151: many deals still open or created later
    curve = fk.win_curve(df[df["created_at"] <= as_of], as_of=as_of)
    # reference durations and codes, written independently
    sub = df[df["created_at"] <= as_of]
    closed_by = sub["closed_at"].notna() & (sub["closed_at"] <= as_of)
    end = sub["closed_at"].where(closed_by, as_of)
    dur = ((end - sub["created_at"]) / D).to_numpy()
    code = np.where(closed_by, np.where(sub["status"] == "won", 1, 2), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ajf = lifelines.AalenJohansenFitter(calculate_variance=True)
        ajf.fit(dur, code, event_of_interest=1)
    ref = ajf.cumulative_density_.iloc[:, 0]
    t = (curve["t"] / D).to_numpy()
    assert np.allclose(curve["cumulative_win"], ref.loc[t].to_numpy())
    ci = ajf.confidence_interval_
    lo_ref = ci.iloc[:, 0].loc[t].to_numpy()  # lifelines names its lower bound "upper"
    hi_ref = ci.iloc[:, 1].loc[t].to_numpy()
    ok = ~np.isnan(lo_ref)  # lifelines gives NaN where every deal at risk closes
    assert ok.sum() > 10
    assert np.allclose(curve["cumulative_win_low"][ok], lo_ref[ok])
    assert np.allclose(curve["cumulative_win_high"][ok], hi_ref[ok])


def test_censoring_aware_median_matches_lifelines(rng):
    lifelines = _lifelines_or_skip()
    df = random_deals(rng, groups=True)
    as_of = pd.Timestamp("2025-08-01")
    df = df[df["created_at"] <= as_of]
    res = fk.sales_cycle(df, by="segment", as_of=as_of)
    for seg, sub in df.groupby("segment"):
        closed_by = sub["closed_at"].notna() & (sub["closed_at"] <= as_of)
        end = sub["closed_at"].where(closed_by, as_of)
        dur = ((end - sub["created_at"]) / D).to_numpy()
        code = np.where(closed_by, np.where(sub["status"] == "won", 1, 2), 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ajf = lifelines.AalenJohansenFitter(calculate_variance=False)
            ajf.fit(dur, code, event_of_interest=1)
        cif = ajf.cumulative_density_.iloc[:, 0]
        target = cif.iloc[-1] / 2
        expected = cif.index[np.argmax(cif.to_numpy() >= target - 1e-12)]
        got = res.loc[res["segment"] == seg, "median"].iloc[0]
        assert got == expected * D
        naive = np.median(dur[code == 1])
        assert res.loc[res["segment"] == seg, "naive_median"].iloc[0] == naive * D


@pytest.mark.parametrize("ci", [0.95, 0.8])
def test_median_interval_inverts_lifelines_cif_interval(rng, ci):
    # the interval of sales_cycle's median, from lifelines' pointwise CIF interval: the
    # first t where the upper bound reaches F(t_max) / 2, and where the lower bound does
    lifelines = _lifelines_or_skip()
    df = random_deals(rng, n=600, groups=True)
    as_of = pd.Timestamp("2025-08-01")
    df = df[df["created_at"] <= as_of]
    res = fk.sales_cycle(df, by="segment", as_of=as_of, ci=ci)
    curve = fk.win_curve(df, by="segment", as_of=as_of, ci=ci)
    for seg, sub in df.groupby("segment"):
        closed_by = sub["closed_at"].notna() & (sub["closed_at"] <= as_of)
        end = sub["closed_at"].where(closed_by, as_of)
        dur = ((end - sub["created_at"]) / D).to_numpy()
        code = np.where(closed_by, np.where(sub["status"] == "won", 1, 2), 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ajf = lifelines.AalenJohansenFitter(calculate_variance=True, alpha=1 - ci)
            ajf.fit(dur, code, event_of_interest=1)
        cif = ajf.cumulative_density_.iloc[:, 0]
        bounds = ajf.confidence_interval_
        low_curve = bounds.iloc[:, 0].fillna(cif)  # NaN where the bound collapses onto F
        high_curve = bounds.iloc[:, 1].fillna(cif)
        level = cif.iloc[-1] / 2

        def first_at(curve, level=level):
            hit = curve.to_numpy() >= level - 1e-12
            return curve.index[np.argmax(hit)] * D if hit.any() else pd.NaT

        row = res[res["segment"] == seg].iloc[0]
        assert row["median_low"] == first_at(high_curve)
        expected_high = first_at(low_curve)
        assert (pd.isna(row["median_high"]) and pd.isna(expected_high)) or (
            row["median_high"] == expected_high
        )
        assert row["median_low"] <= row["median"]
        # the win curve carries the same pointwise interval at the same level
        mine = curve[curve["segment"] == seg]
        t = (mine["t"] / D).to_numpy()
        ok = ~bounds.iloc[:, 0].loc[t].isna().to_numpy()
        assert np.allclose(mine["cumulative_win_low"][ok], bounds.iloc[:, 0].loc[t][ok])


def test_narrower_level_gives_a_narrower_median_interval(rng):
    df = random_deals(rng, n=600)
    as_of = pd.Timestamp("2025-08-01")
    df = df[df["created_at"] <= as_of]
    wide = fk.sales_cycle(df, as_of=as_of, ci=0.99).iloc[0]
    narrow = fk.sales_cycle(df, as_of=as_of, ci=0.5).iloc[0]
    assert wide["median_low"] <= narrow["median_low"] <= narrow["median"]
    assert narrow["median"] <= narrow["median_high"] <= wide["median_high"]
    with pytest.raises(InvalidParameterError, match="'ci'"):
        fk.sales_cycle(df, as_of=as_of, ci=1.5)


def test_closed_outcome_is_one_minus_kaplan_meier(rng):
    lifelines = _lifelines_or_skip()
    df = random_deals(rng)
    as_of = pd.Timestamp("2025-06-01")
    df = df[df["created_at"] <= as_of]
    res = fk.sales_cycle(df, outcome="closed", as_of=as_of)
    closed_by = df["closed_at"].notna() & (df["closed_at"] <= as_of)
    dur = ((df["closed_at"].where(closed_by, as_of) - df["created_at"]) / D).to_numpy()
    kmf = lifelines.KaplanMeierFitter().fit(dur, closed_by.to_numpy())
    f = 1 - kmf.survival_function_.iloc[:, 0]
    expected = f.index[np.argmax(f.to_numpy() >= f.iloc[-1] / 2 - 1e-12)]
    assert res.loc[0, "median"] == expected * D


def brute_force_cif(dur, code, k):
    """Aalen–Johansen by a plain loop over the distinct times."""
    surv, cif, out = 1.0, 0.0, {}
    for t in sorted({x for x, c in zip(dur, code, strict=True) if c > 0}):
        at_risk = sum(1 for x in dur if x >= t)
        d_all = sum(1 for x, c in zip(dur, code, strict=True) if x == t and c > 0)
        d_k = sum(1 for x, c in zip(dur, code, strict=True) if x == t and c == k)
        cif += surv * d_k / at_risk
        surv *= 1 - d_all / at_risk
        out[t] = cif
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.sampled_from([0, 1, 2])), min_size=1, max_size=30))
def test_aalen_johansen_kernel_against_brute_force_with_ties(pairs):
    from funnelkit._survival import aalen_johansen

    dur = np.array([p[0] for p in pairs])
    code = np.array([p[1] for p in pairs])
    t, f, lo, hi, _, _, _ = aalen_johansen(dur, code, 1)
    ref = brute_force_cif(dur.tolist(), code.tolist(), 1)
    assert t.tolist() == list(ref)
    assert np.allclose(f, list(ref.values()))
    assert np.all((lo <= f + 1e-12) & (f <= hi + 1e-12))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 15), st.sampled_from([0, 1, 2, 3])), min_size=1, max_size=30),
    st.sampled_from([0, 2**61 - 16, 2**61, 2**62, -5, None]),
    st.sampled_from([1, 3]),
)
def test_aalen_johansen_one_sort_and_unique_paths_agree(pairs, base, k):
    """Integer durations below 2**61 take the packed sort, the others np.unique: same curve.

    ``base`` shifts the durations across the packing's limit (and below 0); None makes
    them floats. Codes 2 and 3 are both competing outcomes when k is 1.
    """
    from funnelkit._survival import aalen_johansen, cumulative_incidence

    small = [p[0] for p in pairs]
    code = np.array([p[1] for p in pairs])
    dur = np.array(small, dtype=np.float64) if base is None else np.array(small) + base
    t, f, _, _, n, dk, d = aalen_johansen(dur, code, k)
    ref = brute_force_cif(small, code.tolist(), k)
    offset = 0 if base is None else base
    assert (t - offset).tolist() == list(ref)
    assert t.dtype == dur.dtype
    assert np.allclose(f, list(ref.values()))
    t2, f2, n2, dk2, d2 = cumulative_incidence(dur, code, k)
    np.testing.assert_array_equal(dk2, dk)
    np.testing.assert_array_equal(t2, t)
    np.testing.assert_array_equal(f2, f)
    np.testing.assert_array_equal(n2, n)
    np.testing.assert_array_equal(d2, d)
    # events k and all outcomes at each time, counted by hand
    for i, ti in enumerate((t - offset).tolist()):
        at = [c for x, c in zip(small, code.tolist(), strict=True) if x == ti]
        assert dk[i] == sum(c == k for c in at)
        assert d[i] == sum(c > 0 for c in at)
        assert n[i] == sum(x >= ti for x in small)


# ----------------------------------------------------------------------------
# pipeline
# ----------------------------------------------------------------------------
@pytest.fixture
def history():
    # stage entries (days): deal 1 contact 1, proposal 5; deal 2 contact 2;
    # deal 3 proposal 6 (skipped contact); deal 4 contact 11; deal 5 contact 21, proposal 25;
    # deal 6 contact 31, proposal 32, contact 33 (moved back), proposal 34
    return pd.DataFrame(
        {
            "deal_id": [1, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6],
            "stage": [
                "contact",
                "proposal",
                "contact",
                "proposal",
                "contact",
                "contact",
                "proposal",
                "contact",
                "proposal",
                "contact",
                "proposal",
            ],
            "entered_at": ts(1, 5, 2, 6, 11, 21, 25, 31, 32, 33, 34),
        }
    )


def test_pipeline_with_history_by_hand(deals, history):
    res = fk.pipeline(deals, stages=["contact", "proposal"], history=history, as_of="2025-02-20")
    # as_of day 50; open: 4 (contact, 80, age 40), 5 (proposal, 20, age 30)
    # a closed deal counts at every stage up to the furthest it reached (a won deal at
    # every stage): contact (the first stage): 1 won, 2 lost, 3 won, 6 lost -> 2/4;
    # proposal or later: 1 (won), 3 (won), 6 (lost; reached proposal) -> 2/3
    assert res["stage"].tolist() == ["contact", "proposal"]
    assert res["open"].tolist() == [1, 1]
    assert res["value"].tolist() == [80.0, 20.0]
    assert res["closed"].tolist() == [4, 3]
    assert np.allclose(res["win_probability"], [2 / 4, 2 / 3])
    assert np.allclose(res["weighted_value"], [80 / 2, 40 / 3])
    assert res["mean_age"].tolist() == [40 * D, 30 * D]
    lo, hi = stats.binomtest(2, 4).proportion_ci(method="wilson")
    assert np.isclose(res.loc[0, "win_probability_low"], lo)
    assert np.isclose(res.loc[0, "win_probability_high"], hi)


def test_pipeline_history_after_as_of_is_ignored(deals, history):
    # as_of day 36: deal 6 closed day 40 -> open (stage proposal); deal 3 closed 35 counts
    res = fk.pipeline(deals, stages=["contact", "proposal"], history=history, as_of="2025-02-06")
    # open: 4 contact; 5 proposal; 6 proposal. closed by day 36: 1 won, 2 lost, 3 won;
    # contact: all three -> 2/3; proposal or later: 1, 3 (won) -> 2/2
    assert res["open"].tolist() == [1, 2]
    assert res["closed"].tolist() == [3, 2]
    assert np.allclose(res["win_probability"], [2 / 3, 1.0])


def test_pipeline_stage_on_as_of_comes_from_history(deals, history):
    # as_of day 33: open deals 3 (closed day 35; proposal since day 6), 4 (contact),
    # 5 (proposal since day 25), 6 (moved back to contact on day 33; proposal in deals)
    # contact: 4, 6 -> 80 + 10; proposal: 3, 5 -> 300 + 20
    # closed by day 33: 1 (won; contact, proposal), 2 (lost; contact)
    res = fk.pipeline(deals, stages=["contact", "proposal"], history=history, as_of="2025-02-03")
    assert res["open"].tolist() == [2, 2]
    assert res["value"].tolist() == [90.0, 320.0]
    assert res["closed"].tolist() == [2, 1]
    assert np.allclose(res["win_probability"], [0.5, 1.0])
    # without history, deal 6 sits at the stage of the deal table (proposal)
    plain = fk.pipeline(deals, stages=["contact", "proposal"], as_of="2025-02-03")
    assert plain["value"].tolist() == [80.0, 330.0]


def test_pipeline_mapping_and_no_probabilities(deals):
    res = fk.pipeline(deals, probabilities={"contact": 0.2, "proposal": 0.5})
    assert res["stage"].tolist() == ["contact", "proposal"]  # sorted when stages is None
    assert np.allclose(res["weighted_value"], [16.0, 10.0])
    assert res["win_probability_low"].isna().all()
    plain = fk.pipeline(deals, stages=["proposal", "contact", "won"])
    assert plain["stage"].tolist() == ["proposal", "contact", "won"]
    assert plain["open"].tolist() == [1, 1, 0]
    assert plain["weighted_value"].isna().all()


def test_pipeline_errors(deals):
    with pytest.raises(InvalidParameterError, match=r"'probabilities' .*missing: \['proposal'\]"):
        fk.pipeline(deals, probabilities={"contact": 0.2})
    with pytest.raises(InvalidParameterError, match=r"numbers in \[0, 1\]"):
        fk.pipeline(deals, probabilities={"contact": 1.2, "proposal": 0.5})
    with pytest.warns(FunnelkitWarning, match="open at a stage not in stages"):
        res = fk.pipeline(deals, stages=["proposal"])
    assert res["open"].tolist() == [1]
    with pytest.raises(ColumnNotFoundError, match=r"entered=.*history"):
        fk.pipeline(deals, history=pd.DataFrame({"deal_id": [1], "stage": ["x"], "at": [1]}))


# ----------------------------------------------------------------------------
# velocity, coverage
# ----------------------------------------------------------------------------
def test_sales_velocity_by_hand(deals):
    res = fk.sales_velocity(deals, as_of="2025-03-01")
    # open 2, win rate 2/4, avg won deal 200, cycle (sales_cycle's median) 10 days
    # velocity = 2 * 0.5 * 200 / 10 = 20 per day
    row = res.iloc[0]
    assert (row["open"], row["closed"]) == (2, 4)
    assert row["win_rate"] == 0.5
    assert row["avg_won_deal"] == 200.0
    assert row["cycle"] == 10 * D
    assert np.isclose(row["velocity"], 20.0)


def test_coverage_by_hand(deals):
    res = fk.coverage(deals, 500.0, as_of="2025-03-01")
    # open value 80 + 20 = 100 for 500 -> 0.2; win rate 0.5 -> required 2.0
    row = res.iloc[0]
    assert row["open_value"] == 100.0
    assert row["coverage"] == 0.2
    assert row["required_coverage"] == 2.0
    assert row["verdict"].startswith("drying up")
    assert "900 more open value" in row["verdict"]  # 2 * 500 - 100
    res = fk.coverage(deals, 500.0, as_of="2025-03-01", period_start="2025-01-15")
    # won since day 14: deal 3 (300) -> remaining 200 -> coverage 0.5
    assert res.loc[0, "won_value"] == 300.0
    assert res.loc[0, "coverage"] == 0.5
    healthy = fk.coverage(deals, 40.0, as_of="2025-03-01")
    assert healthy.loc[0, "verdict"].startswith("healthy")
    met = fk.coverage(deals, 100.0, as_of="2025-03-01", period_start="2025-01-01")
    assert met.loc[0, "remaining_target"] == 0.0
    assert met.loc[0, "verdict"].startswith("target met")
    late = fk.coverage(deals, 500.0, as_of="2025-03-01", period_end="2025-03-05")
    assert late.loc[0, "time_left"] == 4 * D
    assert "longer than the 4 days left" in late.loc[0, "verdict"]


def test_coverage_parameter_errors(deals):
    with pytest.raises(InvalidParameterError, match="'target' parameter of coverage"):
        fk.coverage(deals, -5)
    with pytest.raises(InvalidParameterError, match="'period_end' parameter"):
        fk.coverage(deals, 5, as_of="2025-03-01", period_end="2025-02-01")


# ----------------------------------------------------------------------------
# leaderboard
# ----------------------------------------------------------------------------
def team(spec):
    rows = []
    for owner, n_won, n_lost in spec:
        rows += [(owner, "won")] * n_won + [(owner, "lost")] * n_lost
    n = len(rows)
    return pd.DataFrame(
        {
            "deal_id": range(n),
            "created_at": ts(*([0] * n)),
            "closed_at": ts(*([20] * n)),
            "status": [r[1] for r in rows],
            "amount": 10.0,
            "owner": [r[0] for r in rows],
        }
    )


def test_leaderboard_small_sample_does_not_top():
    df = team([("newbie", 2, 0), ("star", 80, 40), ("avg1", 50, 50), ("avg2", 30, 45),
               ("avg3", 45, 40), ("weak", 20, 60)])  # fmt: skip
    res = fk.leaderboard(df)
    assert res.loc[0, "owner"] == "star"
    assert res.loc[0, "rank"] == 1
    newbie = res[res["owner"] == "newbie"].iloc[0]
    assert newbie["win_rate"] == 1.0
    assert newbie["win_rate_shrunk"] < res.loc[0, "win_rate_shrunk"]
    # shrunk rates lie between the rep's raw rate and the team's
    team_rate = 227 / 462
    between = (res["win_rate_shrunk"] - res["win_rate"]) * (res["win_rate_shrunk"] - team_rate)
    assert (between <= 1e-12).all()
    assert res["rank"].tolist() == sorted(res["rank"].tolist())


def test_beta_binomial_prior_is_the_likelihood_maximum():
    from funnelkit._group_stats import beta_binomial_prior

    k = np.array([2, 80, 50, 30, 45, 20])
    n = np.array([2, 120, 100, 75, 85, 80])
    a, b = beta_binomial_prior(k, n)

    def loglik(a, b):
        return stats.betabinom.logpmf(k, n, a, b).sum()

    best = loglik(a, b)
    # a brute-force grid over mean and strength never does better
    for mu in np.linspace(0.3, 0.7, 41):
        for s in np.geomspace(1, 1e4, 60):
            assert loglik(mu * s, (1 - mu) * s) <= best + 1e-6


def test_leaderboard_by_hand(deals):
    res = fk.leaderboard(deals, as_of="2025-03-01")
    # ann: deals 1 (won 100), 2 (lost), 5 (open 20); bob: 3 (won 300), 4 (open 80), 6 (lost)
    assert set(res["owner"]) == {"ann", "bob"}
    ann = res[res["owner"] == "ann"].iloc[0]
    bob = res[res["owner"] == "bob"].iloc[0]
    assert (ann["deals"], ann["won"], ann["lost"], ann["open"]) == (3, 1, 1, 1)
    assert (ann["won_value"], ann["open_value"]) == (100.0, 20.0)
    assert (bob["won_value"], bob["open_value"]) == (300.0, 80.0)
    assert ann["naive_median_cycle"] == 10 * D
    assert bob["naive_median_cycle"] == 30 * D
    # equal records -> equal shrunk rate, tie broken by won value
    assert ann["win_rate_shrunk"] == bob["win_rate_shrunk"]
    assert np.isclose(ann["win_rate_shrunk"], 0.5, atol=1e-4)
    assert res["owner"].tolist() == ["bob", "ann"]
    assert res["rank"].tolist() == [1, 1]


# ----------------------------------------------------------------------------
# channel_yield
# ----------------------------------------------------------------------------
def test_channel_yield_by_hand(deals):
    costs = pd.DataFrame(
        {
            "channel": ["ads", "ads", "seo", "tv"],
            "month": ts(0, 31, 0, 0),
            "cost": [30.0, 20.0, 150.0, 5.0],
        }
    )
    res = fk.channel_yield(deals, costs=costs)
    # ads: leads 3, won 1 (100); seo: leads 3, won 1 (300); tv: only costs
    assert res["channel"].tolist() == ["seo", "ads", "tv"]
    assert res["leads"].tolist() == [3, 3, 0]
    assert res["won_value"].tolist() == [300.0, 100.0, 0.0]
    assert np.allclose(res["lead_to_won"][:2], [1 / 3, 1 / 3])
    assert np.allclose(res["won_value_per_lead"][:2], [100.0, 100 / 3])
    assert res["cost"].tolist() == [150.0, 50.0, 5.0]
    assert np.allclose(res["cost_per_lead"][:2], [50.0, 50 / 3])
    assert np.allclose(res["cost_per_won"][:2], [150.0, 50.0])
    assert np.allclose(res["roi"], [1.0, 1.0, -1.0])
    assert np.isnan(res.loc[2, "lead_to_won"])
    plain = fk.channel_yield(deals)
    assert "cost" not in plain.columns
    assert plain["avg_won_deal"].tolist() == [300.0, 100.0]


def test_channel_yield_costs_errors(deals):
    with pytest.raises(ColumnNotFoundError, match=r"cost=.*costs.*Hint: pass cost='Cost'"):
        fk.channel_yield(deals, costs=pd.DataFrame({"channel": ["ads"], "Cost": [1.0]}))
    with pytest.raises(InvalidDataError, match="negative"):
        fk.channel_yield(deals, costs=pd.DataFrame({"channel": ["ads"], "cost": [-1.0]}))


# ----------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------
def test_missing_column_names_keyword(deals):
    with pytest.raises(ColumnNotFoundError, match=r"Column 'closed_at' \(closed=\).*Hint"):
        fk.win_rate(deals.rename(columns={"closed_at": "close_date"}))
    with pytest.raises(ColumnNotFoundError, match=r"\(by=\)"):
        fk.win_rate(deals, by="region")
    with pytest.raises(ColumnNotFoundError, match=r"'amt' \(amount=\).*Hint: pass amount='amount'"):
        fk.win_rate(deals, weighted=True, amount="amt")
    with pytest.raises(InvalidDataError, match=r"negative values \(amount=\)"):
        fk.win_rate(deals.assign(amount=-deals["amount"]), weighted=True)
    with pytest.warns(FutureWarning, match=r"now spelled win_rate\(weighted=True, amount='amount'"):
        old = fk.win_rate(deals, weight="amount")
    pd.testing.assert_frame_equal(old, fk.win_rate(deals, weighted=True))


def test_closed_before_created_raises_or_warns(deals):
    bad = deals.copy()
    bad.loc[2, "closed_at"] = pd.Timestamp("2024-12-01")
    with pytest.raises(InvalidDataError, match=r"1 of 6 rows closed before they were created") as e:
        fk.sales_cycle(bad)
    assert e.value.reason == "closed_before_created"
    assert e.value.n_rows == 1
    assert e.value.examples.index.tolist() == [2]
    with pytest.warns(FunnelkitWarning, match="left out 1 of 6 rows because they are contrad"):
        res = fk.win_rate(bad, errors="warn")
    assert res.loc[0, "won"] == 1


def test_won_without_close_date_raises(deals):
    bad = deals.copy()
    bad.loc[0, "closed_at"] = pd.NaT
    with pytest.raises(InvalidDataError, match=r"won or lost .* but have no close date"):
        fk.deal_size(bad)
    with pytest.raises(InvalidParameterError, match="'errors' parameter"):
        fk.deal_size(bad, errors="ignore")


def test_duplicate_and_null_ids(deals):
    dup = deals.assign(deal_id=[1, 1, 2, 3, 4, 5])
    with pytest.raises(InvalidDataError, match="2 of 6 rows with a repeated deal id"):
        fk.win_rate(dup)
    null = deals.assign(deal_id=[1, None, 2, 3, 4, 5])
    with pytest.raises(InvalidDataError, match="null"):
        fk.win_rate(null)


def test_status_spelling_hint(deals):
    caps = deals.assign(status=deals["status"].str.capitalize())
    with pytest.raises(
        InvalidDataError, match=r"values are compared exactly. Pass won='Won', lost='Lost'"
    ):
        fk.win_rate(caps)
    res = fk.win_rate(caps, won="Won", lost="Lost")
    assert res.loc[0, "win_rate"] == 0.5
    with pytest.raises(InvalidParameterError, match="'lost' parameter"):
        fk.win_rate(deals, won="x", lost="x")


def test_bad_parameters(deals):
    with pytest.raises(InvalidParameterError, match="'basis' parameter of win_rate"):
        fk.win_rate(deals, basis="all")
    with pytest.raises(InvalidParameterError, match="'ci' parameter"):
        fk.win_rate(deals, ci=95)
    with pytest.raises(InvalidParameterError, match="'outcome' parameter of sales_cycle"):
        fk.sales_cycle(deals, outcome="open")
    with pytest.raises(InvalidParameterError, match="'as_of' parameter"):
        fk.sales_cycle(deals, as_of="not a date")
    with pytest.raises(InvalidParameterError, match="'deals' argument of win_rate"):
        fk.win_rate([1, 2])
    with pytest.raises(InvalidDataError, match="not datetimes"):
        fk.sales_cycle(deals.assign(created_at=["x"] * 6))


def test_missing_created_date_is_left_out_of_cycle(deals):
    df = deals.copy()
    df.loc[3, "created_at"] = pd.NaT
    with pytest.warns(FunnelkitWarning, match="left out 1 of 6 rows because they have no created"):
        res = fk.sales_cycle(df, as_of="2025-03-01")
    assert res.loc[0, "open"] == 1
    # win_rate on closed deals does not need the created date
    assert fk.win_rate(df).loc[0, "open"] == 2


def test_time_zones_and_string_dates(deals):
    aware = deals.assign(
        created_at=deals["created_at"].dt.tz_localize("Europe/Berlin"),
        closed_at=deals["closed_at"].dt.tz_localize("Europe/Berlin"),
    )
    res = fk.sales_cycle(aware, as_of="2025-03-01")
    ref = fk.sales_cycle(deals, as_of="2025-03-01")
    pd.testing.assert_frame_equal(res, ref)
    strings = deals.assign(
        created_at=deals["created_at"].dt.strftime("%Y-%m-%d"),
        closed_at=deals["closed_at"].dt.strftime("%Y-%m-%d"),
    )
    pd.testing.assert_frame_equal(fk.sales_cycle(strings, as_of="2025-03-01"), ref)


# ----------------------------------------------------------------------------
# real data: Maven CRM opportunities
# ----------------------------------------------------------------------------
def test_maven_crm_against_plain_pandas(shared_data):
    path = shared_data / "maven_crm_sales_opportunities" / "sales_pipeline.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    raw = pd.read_csv(path)
    before = raw.copy()
    keys = {
        "deal": "opportunity_id",
        "created": "engage_date",
        "closed": "close_date",
        "status": "deal_stage",
        "won": "Won",
        "lost": "Lost",
    }
    # plain pandas references
    n_won = (raw["deal_stage"] == "Won").sum()
    n_lost = (raw["deal_stage"] == "Lost").sum()
    wr = fk.win_rate(raw, **keys)
    assert (wr.loc[0, "won"], wr.loc[0, "lost"], wr.loc[0, "open"]) == (4238, 2473, 2089)
    assert np.isclose(wr.loc[0, "win_rate"], n_won / (n_won + n_lost))
    assert round(wr.loc[0, "win_rate"], 4) == 0.6315  # the figure quoted for this dataset

    size = fk.deal_size(raw, amount="close_value", **keys)
    won_values = raw.loc[raw["deal_stage"] == "Won", "close_value"]
    assert size.loc[0, "deals"] == len(won_values)
    assert np.isclose(size.loc[0, "mean"], won_values.mean())
    assert np.isclose(size.loc[0, "median"], won_values.median())
    assert np.isclose(size.loc[0, "value"], won_values.sum())

    # Prospecting rows have no engage date: left out of the cycle with a warning
    with pytest.warns(FunnelkitWarning, match="left out 500 of 8,800 rows .*no created date"):
        cyc = fk.sales_cycle(raw, **keys)
    won = raw[raw["deal_stage"] == "Won"]
    days = pd.to_datetime(won["close_date"]) - pd.to_datetime(won["engage_date"])
    assert cyc.loc[0, "deals"] == 4238
    assert cyc.loc[0, "open"] == 1589
    assert cyc.loc[0, "naive_median"] == days.median()
    assert abs(cyc.loc[0, "naive_mean"] - days.mean()) < pd.Timedelta("1us")
    assert cyc.loc[0, "naive_p90"] == days.quantile(0.9)
    assert cyc.loc[0, "median"] >= cyc.loc[0, "naive_median"]  # open deals are slow ones
    with pytest.warns(FunnelkitWarning, match="no created date"):
        closed = fk.sales_cycle(raw, outcome="closed", **keys)
    assert closed.loc[0, "naive_median"] == 45 * D  # the quoted "45-day median sales cycle"

    with pytest.warns(FunnelkitWarning, match="no amount"):
        lb = fk.leaderboard(raw, owner="sales_agent", amount="close_value", **keys)
    per_rep = raw.groupby("sales_agent")["deal_stage"].value_counts().unstack(fill_value=0)
    assert len(lb) == len(per_rep) == 30
    merged = lb.set_index("sales_agent").join(per_rep)
    assert (merged["won"] == merged["Won"]).all()
    assert (merged["lost"] == merged["Lost"]).all()
    assert (merged["deals"] == per_rep.sum(axis=1).loc[merged.index]).all()
    won_value = won.groupby("sales_agent")["close_value"].sum()
    assert np.allclose(merged["won_value"], won_value.reindex(merged.index).fillna(0))
    assert np.allclose(merged["win_rate"], merged["Won"] / (merged["Won"] + merged["Lost"]))
    assert lb["rank"].min() == 1
    pd.testing.assert_frame_equal(raw, before)


def test_empty_and_all_open_tables_give_empty_or_nan_results(deals):
    empty = deals.iloc[:0]
    # no deals: no rows, the columns and dtypes of a full result
    res = fk.win_rate(empty)
    assert len(res) == 0
    full = fk.win_rate(deals)
    assert list(res.columns) == list(full.columns)
    # strings: object on 0 rows, str on pandas 3 when there are values to infer from
    kinds = [("O" if pd.api.types.is_string_dtype(t) else t.kind) for t in res.dtypes]
    assert kinds == [("O" if pd.api.types.is_string_dtype(t) else t.kind) for t in full.dtypes]
    assert len(fk.leaderboard(empty)) == 0
    assert fk.leaderboard(empty).columns[0] == "owner"
    assert len(fk.win_curve(empty, as_of="2025-01-01")) == 0
    assert len(fk.sales_cycle(empty)) == 0
    # deals without any date have no observation date: as_of= is needed
    undated = deals.assign(created_at=pd.NaT, closed_at=pd.NaT, status="open")
    with (
        pytest.warns(FunnelkitWarning, match="has no (won|lost)="),
        pytest.raises(InvalidDataError, match=r"no created or closed dates.*as_of="),
    ):
        fk.sales_cycle(undated)
    all_open = deals.assign(status="open", closed_at=pd.NaT)
    with (
        pytest.warns(FunnelkitWarning, match=r"has no won='won' value in 6 rows"),
        pytest.warns(FunnelkitWarning, match=r"has no lost='lost' value in 6 rows"),
    ):
        cyc = fk.sales_cycle(all_open)
    assert cyc.loc[0, "open"] == 6
    assert pd.isna(cyc.loc[0, "median"])
    with pytest.warns(FunnelkitWarning, match="has no (won|lost)="):
        cov = fk.coverage(all_open, 100.0)
    assert cov.loc[0, "verdict"].startswith("unknown")


def test_result_dtypes(deals):
    wc = fk.win_curve(deals, as_of="2025-03-01")
    assert wc["t"].dtype == "timedelta64[ns]"
    assert wc["at_risk"].dtype == np.int64
    pl = fk.pipeline(deals, stages=["contact", "proposal"])
    assert pl["open"].dtype == np.int64
    assert pl["mean_age"].dtype == "timedelta64[ns]"
    lb = fk.leaderboard(deals)
    assert lb["rank"].dtype == np.int64
    assert lb["naive_median_cycle"].dtype == "timedelta64[ns]"
    for res in (wc, pl, lb, fk.channel_yield(deals), fk.sales_velocity(deals)):
        assert isinstance(res.index, pd.RangeIndex)


def test_more_error_and_warning_paths(deals, history):
    aware = deals.assign(created_at=deals["created_at"].dt.tz_localize("UTC"))
    with pytest.raises(InvalidDataError, match="mix naive and time-zone-aware"):
        fk.sales_cycle(aware)
    with pytest.raises(InvalidParameterError, match=r"'as_of' parameter .* naive date"):
        fk.sales_cycle(deals, as_of=pd.Timestamp("2025-03-01", tz="UTC"))
    with pytest.raises(InvalidParameterError, match=r"'probabilities' parameter .* mapping"):
        fk.pipeline(deals, probabilities=[0.1, 0.5])
    with pytest.raises(InvalidParameterError, match=r"'stages' parameter .* distinct"):
        fk.pipeline(deals, stages=["contact", "contact"])
    with pytest.raises(InvalidParameterError, match="'period_start' parameter"):
        fk.coverage(deals, 10, as_of="2025-02-01", period_start="2025-03-01")
    with pytest.raises(InvalidParameterError, match="'costs' argument of channel_yield"):
        fk.channel_yield(deals, costs={"ads": 1.0})
    # warnings: each says how many rows and why
    no_time = history.assign(entered_at=history["entered_at"].where(history.index != 0))
    # the same rule as every history function: a null entry time is an error
    with pytest.raises(InvalidDataError, match=r"history\['entered_at'\] has 1 of 11 rows"):
        fk.pipeline(deals, stages=["contact", "proposal"], history=no_time)
    with pytest.raises(InvalidParameterError, match="needs the stages in funnel order"):
        fk.pipeline(deals, history=history)
    no_stage = deals.assign(stage=[None, "contact", "proposal", None, "proposal", "proposal"])
    with pytest.warns(FunnelkitWarning, match="left out 1 of 6 rows because they are open and"):
        res = fk.pipeline(no_stage)  # deal 1 is won: its missing stage does not matter
    assert res["open"].sum() == 1
    no_amount = deals.assign(amount=[100.0, 50.0, 300.0, np.nan, 20.0, 10.0])
    with pytest.warns(FunnelkitWarning, match="open and have no amount"):
        res = fk.pipeline(no_amount, stages=["contact", "proposal"])
    assert res["open"].tolist() == [1, 1]
    # the contact deal's amount is unknown: its value is unknown, not 0
    assert np.isnan(res["value"].iloc[0])
    assert res["value"].iloc[1] == 20.0
    assert res["no_amount"].tolist() == [1, 0]
    with pytest.warns(FunnelkitWarning, match="open and have no amount"):
        cov = fk.coverage(no_amount, 100.0)
    assert cov.loc[0, "open_value"] == 20.0
    assert cov.loc[0, "open_no_amount"] == 1
    # known amounts (20) are below the 2x the 50 % win rate requires: the value is not
    # known, so the verdict says so instead of "drying up"
    assert cov.loc[0, "verdict"].startswith("unknown: 1 of the 2 open deals have no amount")
    no_created = deals.assign(created_at=deals["created_at"].where(deals.index != 3))
    with pytest.warns(FunnelkitWarning, match=r"no created date \(left out of mean_age\)"):
        res = fk.pipeline(no_created, stages=["contact", "proposal"], as_of="2025-03-01")
    assert res["open"].tolist() == [1, 1]
    assert pd.isna(res.loc[0, "mean_age"])
    costs = pd.DataFrame({"channel": ["ads", "seo"], "cost": [np.nan, 5.0]})
    with pytest.warns(FunnelkitWarning, match=r"costs\['cost'\] is null"):
        res = fk.channel_yield(deals, costs=costs)
    assert res.set_index("channel").loc["seo", "cost"] == 5.0
