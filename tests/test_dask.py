"""Dask inputs: the event functions give exactly the pandas results, on a 2-process cluster."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk

dask = pytest.importorskip("dask", reason="dask is not installed (funnelkit[dask])")
dd = pytest.importorskip("dask.dataframe", reason="dask is not installed (funnelkit[dask])")
distributed = pytest.importorskip("distributed", reason="distributed is not installed")

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:dask.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:tornado.*"),
    pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning"),
]

STEPS = ["visit", "signup", "demo", "won"]
NOISE = ["click", "email"]
FUNCS = [fk.funnel_entities, fk.conversion, fk.dropoff, fk.time_to_convert]
BASE = pd.Timestamp("2025-03-01")


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cluster = distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        )
        c = distributed.Client(cluster)
    # the task-based shuffle is faster on these small logs; tests marked "p2p" use
    # distributed's peer-to-peer shuffle (its default, used on large data)
    with dask.config.set({"dataframe.shuffle.method": "tasks"}):
        yield c
    c.close()
    cluster.close()


@pytest.fixture
def local():
    """Dask's single-threaded scheduler in this process: the same code path, no cluster."""
    with dask.config.set({"scheduler": "sync", "dataframe.shuffle.method": "tasks"}):
        yield


@pytest.fixture
def p2p(client):
    with dask.config.set({"dataframe.shuffle.method": "p2p"}):
        yield client


def random_log(seed, *, n_entities=40, n_events=400, string_ids=False):
    """Events of a few entities in random row order, so entities span input partitions."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, n_entities, n_events)
    names = np.array(STEPS + NOISE)
    # step events more likely in order: a per-entity offset plus small jumps, many ties
    t = rng.integers(0, 12, n_events) * 86400 // 2 + (ids % 5) * 3600
    df = pd.DataFrame(
        {
            "user_id": [f"u{i:03d}" for i in ids] if string_ids else ids.astype(np.int64),
            "timestamp": BASE + pd.to_timedelta(t, unit="s"),
            "event": names[rng.integers(0, len(names), n_events)],
            "seg": np.array(["a", "b", "c"])[rng.integers(0, 3, n_events)],
        }
    )
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def check_same(pdf, ddf, func, steps=STEPS, **kw):
    """The Dask result equals the pandas result on the same (computed) data."""
    with warnings.catch_warnings(record=True) as w_pd:
        warnings.simplefilter("always")
        expected = func(pdf, steps, **kw)
    with warnings.catch_warnings(record=True) as w_dd:
        warnings.simplefilter("always")
        got = func(ddf, steps, **kw)
    pd.testing.assert_frame_equal(got, expected)
    ours = [str(w.message) for w in w_pd if issubclass(w.category, fk.FunnelkitWarning)]
    theirs = [str(w.message) for w in w_dd if issubclass(w.category, fk.FunnelkitWarning)]
    assert theirs == ours
    return got


OPTIONS = [
    {},
    {"window": "2D"},
    {"window": "3D", "by": "seg"},
    {"order": "strict", "ties": "strict", "by": "seg", "attribution": "last"},
    {"order": "any", "window": "4D"},
]


@pytest.mark.parametrize(
    ("npartitions", "scheduler"), [(1, "sync"), (3, "cluster"), (7, "sync"), (4, "sync")]
)
def test_equals_pandas_on_random_logs(request, npartitions, scheduler):
    if scheduler == "sync":
        request.getfixturevalue("local")
    else:
        request.getfixturevalue("client")
    for seed in range(2 if scheduler == "sync" else 1):
        pdf = random_log(seed + 10 * npartitions, string_ids=npartitions == 7)
        ddf = dd.from_pandas(pdf, npartitions=npartitions, sort=False)
        # the same data as the Dask frame holds it (Dask may convert strings to pyarrow)
        same = ddf.compute().reset_index(drop=True)
        assert same[["user_id"]].nunique().item() > 20
        options = OPTIONS if scheduler == "sync" else OPTIONS[:4]  # all four functions
        for i, kw in enumerate(options):
            func = FUNCS[(seed + i) % len(FUNCS)]
            check_same(same, ddf, func, **kw)


def test_entities_split_across_input_partitions(client):
    pdf = random_log(99)
    ddf = dd.from_pandas(pdf, npartitions=5, sort=False)
    owners = [set(part["user_id"]) for part in dask.compute(*ddf.to_delayed())]
    split = [u for u in pdf["user_id"].unique() if sum(u in s for s in owners) > 1]
    assert len(split) > 10  # the test means something
    for func in [fk.funnel_entities, fk.conversion]:
        check_same(ddf.compute(), ddf, func, window="3D", by="seg")


def test_all_four_functions_every_option_count(local):
    pdf = random_log(5, n_entities=60, n_events=900)
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)
    same = ddf.compute()
    res = check_same(same, ddf, fk.conversion, window="5D", by="seg")
    # by-groups sum to the total, also on Dask
    total = fk.conversion(ddf, STEPS, window="5D")
    assert (res.groupby("step", sort=False)["entities"].sum().to_numpy() == total["entities"]).all()
    check_same(same, ddf, fk.time_to_convert, from_step="signup", to_step="won", by="seg")


def test_nulls_and_missing_times_one_warning_each(client):
    pdf = random_log(3).astype({"user_id": "float64"})
    pdf.loc[[1, 50, 200], "user_id"] = np.nan
    pdf.loc[[2, 3, 100, 300], "timestamp"] = pd.NaT
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)
    got = check_same(ddf.compute(), ddf, fk.conversion, dropna=True, window="3D")
    assert got["entities"].iloc[0] > 0
    with pytest.warns(fk.FunnelkitWarning) as record:
        fk.dropoff(ddf, STEPS, dropna=True)
    msgs = [str(w.message) for w in record]
    assert msgs == [
        "dropoff: left out 3 of 400 rows because events['user_id'] is null.",
        "dropoff: left out 4 of 397 rows because events['timestamp'] is missing (NaT).",
    ]


def test_null_entity_error_counts_all_partitions(local):
    pdf = random_log(4).astype({"user_id": "float64"})
    pdf.loc[[7, 150, 390], "user_id"] = np.nan
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)
    with pytest.raises(fk.InvalidDataError, match=r"has 3 of 400 rows that are null") as err:
        fk.conversion(ddf, STEPS)
    assert err.value.n_rows == 3
    assert err.value.column == "user_id"


def test_unknown_step_checked_over_all_partitions(local):
    pdf = random_log(6)
    # "won" occurs in one row only: one partition sees it, the others do not
    pdf["event"] = pdf["event"].replace("won", "visit")
    pdf.loc[399, "event"] = "won"
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)
    check_same(ddf.compute(), ddf, fk.conversion)
    with pytest.raises(fk.InvalidParameterError, match=r"do not occur.*'wonn'.*did you mean 'won'"):
        fk.conversion(ddf, ["visit", "wonn"])


def test_time_zones_and_string_times(local):
    pdf = random_log(7)
    pdf["timestamp"] = pdf["timestamp"].dt.tz_localize("Europe/Paris")
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    got = check_same(ddf.compute(), ddf, fk.funnel_entities, window="3D")
    assert str(got["visit"].dt.tz) == "Europe/Paris"
    pdf["timestamp"] = pdf["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    check_same(ddf.compute(), ddf, fk.time_to_convert, window="3D")


def test_lazy_parquet(p2p, tmp_path):
    pytest.importorskip("pyarrow", reason="pyarrow is not installed")
    pdf = random_log(8, n_entities=80, n_events=1200)
    for i in range(4):  # entities span files
        pdf.iloc[i * 300 : (i + 1) * 300].to_parquet(tmp_path / f"part-{i}.parquet")
    ddf = dd.read_parquet(tmp_path)
    assert ddf.npartitions == 4
    same = ddf.compute()
    for func in FUNCS:
        check_same(same, ddf, func, window="4D", by="seg")


def test_input_not_modified(local):
    pdf = random_log(9)
    before = pdf.copy()
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    fk.conversion(ddf, STEPS, by="seg")
    pd.testing.assert_frame_equal(pdf, before)
    pd.testing.assert_frame_equal(ddf.compute(), dd.from_pandas(before, npartitions=3).compute())


def test_parameters_checked_before_any_work(local):
    ddf = dd.from_pandas(random_log(1), npartitions=2)
    with pytest.raises(fk.ColumnNotFoundError, match="entity"):
        fk.conversion(ddf, STEPS, entity="user")
    with pytest.raises(fk.InvalidParameterError, match="window"):
        fk.conversion(ddf, STEPS, window="soon")
    with pytest.raises(fk.InvalidParameterError, match="pandas or Dask DataFrame"):
        fk.conversion(ddf["event"], STEPS)


def test_import_funnelkit_does_not_import_dask():
    code = "import sys, funnelkit; print(any(m.split('.')[0] == 'dask' for m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="."
    )
    assert out.stdout.strip() == "False"


def test_helpful_error_without_dask(monkeypatch):
    from funnelkit import _dask

    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    with pytest.raises(ImportError, match=r'pip install "funnelkit\[dask\]"'):
        _dask.require_dask("Reading a Dask DataFrame")


def test_ties_broken_by_input_order_across_partitions(local):
    # every entity: three "visit" rows at one instant, in three input partitions, segs in
    # a rotating order; then a "signup". The pandas rule (the first row in input order
    # wins a tie) picks the seg of the entity's row in the first partition.
    n = 30
    rows = []
    for part in range(3):
        for u in range(n):
            rows.append((u, 0, "visit", "abc"[(u + part) % 3]))
    rows += [(u, 3600, "signup", "z") for u in range(n)]
    pdf = pd.DataFrame(rows, columns=["user_id", "t", "event", "seg"])
    pdf["timestamp"] = BASE + pd.to_timedelta(pdf.pop("t"), unit="s")
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)
    steps = ["visit", "signup"]
    got = check_same(ddf.compute(), ddf, fk.funnel_entities, steps, by="seg")
    assert got["seg"].tolist() == ["abc"[u % 3] for u in range(n)]
    check_same(ddf.compute(), ddf, fk.conversion, steps, by="seg")


def test_mean_exact_whatever_the_row_order():
    # durations of 2**60 ns + 1, 2**60 ns + 2 (about 36 years): the float64 mean is off;
    # the exact mean is 2**60 + 1.5, rounded half to even: 2**60 + 2
    big = 2**60
    pdf = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2],
            "timestamp": pd.to_datetime([0, big + 1, 0, big + 2], unit="ns"),
            "event": ["a", "b", "a", "b"],
        }
    )
    for order in ([0, 1, 2, 3], [2, 3, 0, 1]):
        res = fk.time_to_convert(pdf.iloc[order], ["a", "b"])
        assert res["mean"].iloc[0] == pd.Timedelta(big + 2, unit="ns")


def test_functions_without_dask_support_say_so(local):
    ddf = dd.from_pandas(random_log(2), npartitions=2)
    with pytest.raises(fk.InvalidParameterError, match=r"does not take a Dask DataFrame yet"):
        fk.compare_segments(ddf, ["visit", "signup"], by="seg")


# ----------------------------------------------------------------------------
# the feature options (issue 14): exclusions, step windows, attempts, hold, maturity
# ----------------------------------------------------------------------------
FEATURE_OPTIONS = [
    {"exclude": {"click": (1, 4)}, "window": "3D"},
    {"step_windows": ["1D", None, "2D"], "by": "seg"},
    {"count": "attempts", "window": "2D", "exclude": {("click", "email"): (2, 3)}},
    {"hold": "seg", "window": "4D", "attribution": "last", "by": "seg"},
    {"hold": "seg", "exclude": {"email": (1, 3)}},
    {"window": "2D", "mature_only": True},
    {"count": "attempts", "window": "3D", "as_of": "2025-03-05", "mature_only": True},
    {"step_windows": [None, "1D", None], "as_of": "2025-03-04", "ties": "strict"},
]


@pytest.mark.parametrize("npartitions", [1, 4])
def test_feature_options_equal_pandas(local, npartitions):
    pdf = random_log(70 + npartitions)
    ddf = dd.from_pandas(pdf, npartitions=npartitions, sort=False)
    same = ddf.compute().reset_index(drop=True)
    for i, kw in enumerate(FEATURE_OPTIONS):
        for func in (FUNCS[i % len(FUNCS)], fk.conversion):
            check_same(same, ddf, func, **kw)


def test_conversion_over_time_equals_pandas(local):
    pdf = random_log(78)
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    same = ddf.compute().reset_index(drop=True)
    for kw in (
        {"period": "D", "window": "2D"},
        {"period": "W", "by": "seg", "count": "attempts", "window": "1D"},
        {"period": "D", "exclude": {"click": (1, 3)}, "as_of": "2025-03-04"},
        {"period": "W", "by": "seg", "attribution": "last", "window": "2D"},
    ):
        check_same(same, ddf, fk.conversion_over_time, **kw)
    # histograms: the bins come from all partitions' durations together
    for kw in ({"bins": "auto"}, {"bins": 5, "by": "seg"}, {"bins": ["0s", "1D", "3D"]}):
        check_same(same, ddf, fk.time_to_convert, **kw)


def test_next_events_equal_pandas(local):
    pdf = random_log(79)
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)
    same = ddf.compute().reset_index(drop=True)
    for kw in (
        {"window": "2D"},
        {"who": "converted", "between": True, "after_step": 2, "top": None},
        {"who": "all", "depth": 2, "exclude": {"click": (1, 2)}, "as_of": "2025-03-05"},
        {"by": "seg", "attribution": "last", "top": 3, "window": "2D"},
        {"count": "attempts", "window": "1D", "who": "all", "by": "seg"},
        {"count": "attempts", "window": "1D", "who": "converted", "between": True},
        {"window": "1D", "mature_only": True, "as_of": "2025-03-05", "by": "seg"},
    ):
        check_same(same, ddf, fk.next_events, **kw)


def test_triggers_maturity_equal_pandas(local):
    pdf = random_log(77)
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    same = ddf.compute().reset_index(drop=True)
    for kw in ({"min_age": "2D"}, {"window": "2D", "mature_only": True}, {"as_of": "2025-03-04"}):
        check_triggers(same, ddf, min_entities=1, **kw)
    # by: the groups of all partitions matched on their values; "auto" min_age over the log
    got = check_triggers(same, ddf, by="seg", window="2D", mature_only=True)
    assert got["seg"].nunique() > 1
    check_triggers(same, ddf, by="seg")
    # the funnel options reach every partition's engine
    for kw in (
        {"order": "strict", "min_entities": 1},
        {"ties": "strict", "by": "seg", "attribution": "last", "min_entities": 1},
    ):
        check_triggers(same, ddf, **kw)


# ----------------------------------------------------------------------------
# triggers
# ----------------------------------------------------------------------------
TRIGGER_OPTIONS = [
    {},
    {"at_step": 2, "window": "3D"},
    {"candidates": ["click"], "min_entities": 3},
    {"at_step": 1, "window": "1D", "min_entities": 5},
    {"by": "seg", "min_entities": 2},
    {"by": ["seg"], "at_step": 2, "window": "3D", "candidates": ["email"]},
]


def check_triggers(pdf, ddf, steps=STEPS, **kw):
    with warnings.catch_warnings(record=True) as w_pd:
        warnings.simplefilter("always")
        expected = fk.triggers(pdf, steps, **kw)
    with warnings.catch_warnings(record=True) as w_dd:
        warnings.simplefilter("always")
        got = fk.triggers(ddf, steps, **kw)
    pd.testing.assert_frame_equal(got, expected)
    ours = [str(w.message) for w in w_pd if issubclass(w.category, fk.FunnelkitWarning)]
    assert [str(w.message) for w in w_dd if issubclass(w.category, fk.FunnelkitWarning)] == ours
    return got


@pytest.mark.parametrize("npartitions", [1, 4, 7])
def test_triggers_equal_pandas_on_random_logs(local, npartitions):
    pdf = random_log(30 + npartitions, n_entities=60, n_events=800, string_ids=npartitions == 7)
    ddf = dd.from_pandas(pdf, npartitions=npartitions, sort=False)
    same = ddf.compute()
    if npartitions > 1:  # entities split across input partitions
        owners = [set(part["user_id"]) for part in dask.compute(*ddf.to_delayed())]
        assert sum(sum(u in s for s in owners) > 1 for u in same["user_id"].unique()) > 10
    for kw in TRIGGER_OPTIONS:
        got = check_triggers(same, ddf, **kw)
        assert got["entities_with"].sum() > 0  # the test means something
    check_triggers(same, ddf, [["visit", "click"], "signup", "won"])


def test_triggers_on_the_cluster_with_missing_times(client):
    pdf = random_log(41, n_entities=60, n_events=800)
    pdf.loc[[3, 300, 700], "timestamp"] = pd.NaT
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    got = check_triggers(ddf.compute(), ddf, window="4D")  # one warning, total counts
    assert len(got) == len(NOISE)


def test_triggers_candidates_global_and_checked(local):
    pdf = random_log(42)
    # "email" occurs in one row only: one partition sees it, the others do not
    pdf["event"] = pdf["event"].replace("email", "click")
    pdf.loc[399, "event"] = "email"
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)
    got = check_triggers(ddf.compute(), ddf, min_entities=1)
    assert sorted(got["behaviour"]) == ["click", "email"]
    with pytest.raises(fk.InvalidParameterError, match=r"not in the log.*Did you mean 'click'"):
        fk.triggers(ddf, STEPS, candidates=["clik"])
    with pytest.raises(fk.InvalidParameterError, match="at_step"):
        fk.triggers(ddf, STEPS, at_step=4)
    with pytest.raises(fk.ColumnNotFoundError, match="entity"):
        fk.triggers(ddf, STEPS, entity="user")


def test_triggers_input_not_modified_and_null_ids_refused(local):
    pdf = random_log(43).astype({"user_id": "float64"})
    before = pdf.copy()
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    fk.triggers(ddf, STEPS, window="3D")
    pd.testing.assert_frame_equal(pdf, before)
    pdf.loc[[5, 390], "user_id"] = np.nan
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    with pytest.raises(fk.InvalidDataError, match=r"has 2 of 400 rows that are null"):
        fk.triggers(ddf, STEPS)


# ----------------------------------------------------------------------------
# touches_to_response, touches_summary
# ----------------------------------------------------------------------------
TOUCH_FUNCS = [fk.touches_to_response, fk.touches_summary]
TOUCH_OPTIONS = [
    {},
    {"by": "seg"},
    {"channel": "ch"},
    {"channel": "ch", "by": ["seg", "region"]},
    {"positive": ["positive", "meeting booked"], "by": "region"},
    {"positive": lambda s: s.str.startswith("pos").fillna(False).astype(bool)},
]


def random_touches(seed, *, n_prospects=50, n_touches=500, string_ids=False):
    """A touch log in random row order (prospects span input partitions), many ties."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, n_prospects, n_touches)
    responses = np.array(["positive", "negative", "no reply", "meeting booked", None], dtype=object)
    df = pd.DataFrame(
        {
            "user_id": [f"p{i:03d}" for i in ids] if string_ids else ids.astype(np.int64),
            "timestamp": BASE + pd.to_timedelta(rng.integers(0, 15, n_touches), unit="D"),
            "response": responses[rng.choice(5, n_touches, p=[0.08, 0.2, 0.6, 0.04, 0.08])],
            "ch": np.array(["email", "call", "meeting", None], dtype=object)[
                rng.choice(4, n_touches, p=[0.6, 0.25, 0.1, 0.05])
            ],
            # constant per prospect, with missing values (their own group)
            "region": np.array(["north", "south", None], dtype=object)[ids % 3],
            "seg": np.array(["a", "b", "c"])[rng.integers(0, 3, n_touches)],
        }
    )
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def check_touches(pdf, ddf, func, **kw):
    if func is fk.touches_summary:
        kw.pop("max_touches", None)
    expected = func(pdf, **kw)
    got = func(ddf, **kw)
    pd.testing.assert_frame_equal(got, expected)
    return got


@pytest.mark.parametrize("npartitions", [1, 4, 7])
def test_touches_equal_pandas_on_random_logs(local, npartitions):
    pdf = random_touches(npartitions, string_ids=npartitions == 7)
    ddf = dd.from_pandas(pdf, npartitions=npartitions, sort=False)
    same = ddf.compute()  # the data as Dask holds it (strings may become pyarrow)
    if npartitions > 1:  # prospects split across input partitions
        owners = [set(part["user_id"]) for part in dask.compute(*ddf.to_delayed())]
        assert sum(sum(u in s for s in owners) > 1 for u in same["user_id"].unique()) > 10
    for i, kw in enumerate(TOUCH_OPTIONS):
        for func in TOUCH_FUNCS:
            got = check_touches(same, ddf, func, **kw)
            assert len(got) > 0
        check_touches(same, ddf, fk.touches_to_response, max_touches=3, **kw)
        if i == 0:  # by-groups sum to the total, also on Dask
            by = fk.touches_to_response(ddf, by="seg").groupby("touch")["responded"].sum()
            total = fk.touches_to_response(ddf).set_index("touch")["responded"]
            pd.testing.assert_series_equal(by, total)


def test_touches_on_the_cluster_numbers_and_string_times(client):
    pdf = random_touches(21, n_prospects=80, n_touches=900)
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    same = ddf.compute()
    check_touches(same, ddf, fk.touches_to_response, channel="ch", by="region")
    check_touches(same, ddf, fk.touches_summary, by="seg")
    # times as ISO strings with an offset, and as plain touch numbers
    pdf["timestamp"] = (
        pdf["timestamp"].dt.tz_localize("Europe/Paris").dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    )
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    check_touches(ddf.compute(), ddf, fk.touches_to_response, by="seg")
    pdf["timestamp"] = np.random.default_rng(0).integers(0, 9, len(pdf))
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    check_touches(ddf.compute(), ddf, fk.touches_summary, channel="ch")


def test_touches_ties_broken_by_input_order_across_partitions(local):
    # each prospect: a "positive" and a "no reply" at one instant, in different input
    # partitions; the first in input order is touch 1. Prospects alternate which comes first.
    n = 20
    first = [(u, 0, "positive" if u % 2 else "no reply") for u in range(n)]
    second = [(u, 0, "no reply" if u % 2 else "positive") for u in range(n)]
    pdf = pd.DataFrame(first + second, columns=["user_id", "timestamp", "response"])
    ddf = dd.from_pandas(pdf, npartitions=2, sort=False)
    got = check_touches(ddf.compute(), ddf, fk.touches_to_response)
    # 10 respond at touch 1, the other 10 at touch 2 (computed by hand)
    assert got["responded"].tolist() == [10, 10]
    assert got["at_risk"].tolist() == [20, 10]


def test_touches_null_ids_and_times_refused_counting_all_partitions(local):
    pdf = random_touches(3).astype({"user_id": "float64"})
    pdf.loc[[5, 250, 480], "user_id"] = np.nan
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)
    with pytest.raises(fk.InvalidDataError, match=r"has 3 of 500 rows that are null") as err:
        fk.touches_to_response(ddf)
    assert err.value.column == "user_id"
    with pytest.raises(fk.InvalidDataError, match=r"has 3 of 500 rows that are null"):
        fk.touches_to_response(pdf)  # the same message as pandas
    pdf = random_touches(3)
    pdf.loc[[7, 300], "timestamp"] = pd.NaT
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)
    with pytest.raises(fk.InvalidDataError, match=r"\['timestamp'\] has 2 of 500 rows") as err:
        fk.touches_summary(ddf)
    assert err.value.n_rows == 2


def test_touches_checked_before_any_work_and_inputs_unchanged(local):
    pdf = random_touches(4)
    before = pdf.copy()
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False)
    with pytest.raises(fk.ColumnNotFoundError, match="channel"):
        fk.touches_to_response(ddf, channel="medium")
    with pytest.raises(fk.InvalidParameterError, match="max_touches"):
        fk.touches_to_response(ddf, max_touches=0)
    with pytest.raises(fk.InvalidParameterError, match="positive"):  # checked on real rows
        fk.touches_to_response(ddf, positive=lambda s: 1)
    fk.touches_to_response(ddf, channel="ch", by="seg")
    fk.touches_summary(ddf, channel="ch")
    pd.testing.assert_frame_equal(pdf, before)
    pd.testing.assert_frame_equal(ddf.compute(), dd.from_pandas(before, npartitions=3).compute())


def test_olist_real_data_equals_pandas(local, shared_data):
    from tests.test_events import olist_events

    _, _, events = olist_events(shared_data / "olist_marketing_funnel")
    ddf = dd.from_pandas(events.sample(frac=1.0, random_state=0), npartitions=3, sort=False)
    same = ddf.compute()
    for func in (fk.conversion, fk.time_to_convert):
        check_same(same, ddf, func, ["mql", "won"], entity="mql_id", window="90D", by="origin")


# ----------------------------------------------------------------------------
# a log already partitioned by entity: no shuffle
# ----------------------------------------------------------------------------
@pytest.fixture
def no_shuffle(monkeypatch):
    """Make any shuffle of a Dask DataFrame fail the test."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("the log was shuffled")

    monkeypatch.setattr(
        type(dd.from_pandas(pd.DataFrame({"a": [1]}), npartitions=1)), "shuffle", refuse
    )


def test_entity_index_with_divisions_is_not_shuffled(local, no_shuffle):
    pdf = random_log(81, n_entities=50, n_events=700)
    ddf = dd.from_pandas(pdf, npartitions=3, sort=False).set_index("user_id", npartitions=4)
    assert ddf.known_divisions
    same = ddf.compute().reset_index()  # the rows in the order the partitions hold them
    for func in FUNCS:
        check_same(same, ddf, func, window="2D")
    check_same(same, ddf, fk.conversion, by="seg", count="attempts", window="1D")
    check_same(same, ddf, fk.next_events, window="2D", by="seg")
    check_same(same, ddf, fk.conversion_over_time, period="D", window="2D")
    check_triggers(same, ddf, by="seg", min_entities=1)
    # without divisions the entity index is still read, by a shuffle
    with pytest.raises(AssertionError, match="shuffled"):
        fk.conversion(ddf.clear_divisions(), STEPS)


def test_entity_index_without_divisions_and_touches(local):
    pdf = random_log(82, n_entities=30, n_events=300)
    ddf = dd.from_pandas(pdf.set_index("user_id"), npartitions=3, sort=False)
    assert not ddf.known_divisions
    check_same(ddf.compute().reset_index(), ddf, fk.conversion, window="2D")
    touches = pdf.rename(columns={"event": "response"}).assign(
        response=lambda d: d["response"].eq("won").map({True: "positive", False: "none"})
    )
    t_dd = dd.from_pandas(touches, npartitions=2).set_index("user_id")
    t_pd = t_dd.compute().reset_index()
    pd.testing.assert_frame_equal(fk.touches_to_response(t_dd), fk.touches_to_response(t_pd))


def test_overlapping_partitions_are_shuffled_after_all(local, monkeypatch):
    """If the partitions turn out to share an entity, the shuffle runs: never a wrong count."""
    from funnelkit import _dask

    pdf = random_log(83, n_entities=40, n_events=500)
    ddf = dd.from_pandas(pdf, npartitions=4, sort=False)  # entities span partitions
    monkeypatch.setattr(_dask, "partitioned_by", lambda events, entity: True)
    check_same(ddf.compute().reset_index(drop=True), ddf, fk.conversion, window="2D", by="seg")
    assert _dask._disjoint([(1, 3), None, (4, 9)])
    assert not _dask._disjoint([(1, 4), (4, 9)])
    assert not _dask._disjoint([(1, 3), ("a", "b")])  # values that do not compare
    cats = pd.DataFrame({"user_id": pd.Categorical(["u2", "u1"])})  # unordered categories
    assert _dask._bounds("user_id", cats) == ("u1", "u2")
    mixed = _dask._bounds("user_id", pd.DataFrame({"user_id": ["u1", 7]}))
    assert not _dask._disjoint([mixed, (8, 9)])


def test_parquet_written_by_entity_reads_without_a_shuffle(local, no_shuffle, tmp_path):
    """Files that do not share an entity, read with the entity as index and divisions."""
    logs = [random_log(90 + i, n_entities=20, n_events=200) for i in range(3)]
    for i, log in enumerate(logs):
        log = log.assign(user_id=log["user_id"] + 1000 * i).sort_values("user_id", kind="stable")
        log.to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    ddf = dd.read_parquet(tmp_path, index="user_id", calculate_divisions=True)
    assert ddf.known_divisions
    same = ddf.compute().reset_index()
    for func in FUNCS:
        check_same(same, ddf, func, window="2D", by="seg")
