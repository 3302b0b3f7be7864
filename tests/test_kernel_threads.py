"""The event-funnel kernels split by entity across threads give the single thread's result.

Entities are independent, so cutting the entity codes into ranges, one thread
each, must change nothing: every array of the result is compared bit for bit
with the one-thread run (hypothesis, on small logs with ties, repeats, shared
events, extreme codes and more threads than entities), and the public
functions with the split forced on every call are checked against the slow
per-entity reference of ``tests/reference.py``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnelkit as fk
from funnelkit import _kernels as K
from funnelkit.datasets import make_events
from tests.reference import funnel_entities_ref, funnel_features_ref
from tests.strategies import event_logs, funnels, orders, ties_options, windows
from tests.test_event_features import disjoint_steps, present
from tests.test_event_features import feature_options as all_feature_options
from tests.test_events import categorical

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECOND = 1_000_000_000
FIELDS = ("entities", "reached", "step_time", "first_row", "last_row")


def assert_same_table(got, want):
    for name in FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype == np.int64, name
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)


@st.composite
def kernel_logs(draw, *, shared: bool = False):
    """(codes, time, members): few entities (any int64 codes), few times, 1..4 steps."""
    n = draw(st.integers(0, 60))
    big = st.integers(-(2**62), 2**62)
    small = st.integers(0, 40)
    pool = draw(st.lists(st.one_of(small, big), min_size=1, max_size=8, unique=True))
    codes = np.asarray(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)), np.int64)
    ticks = np.asarray(draw(st.lists(st.integers(0, 12), min_size=n, max_size=n)), np.int64)
    # half seconds from a base; sometimes a huge spread (rank-compressed key times)
    spread = draw(st.sampled_from([SECOND // 2, 10**15]))
    time = np.int64(1_700_000_000) * SECOND + ticks * np.int64(spread)
    k = draw(st.integers(1, 4))
    step = np.asarray(draw(st.lists(st.integers(-1, k - 1), min_size=n, max_size=n)), np.int64)
    also = step
    if shared:  # some rows fill a second step
        also = np.asarray(draw(st.lists(st.integers(-1, k - 1), min_size=n, max_size=n)), np.int64)
    members = [np.flatnonzero((step == j) | (also == j)).astype(np.int64) for j in range(k)]
    return codes, time, members, step


thread_counts = st.sampled_from([2, 3, 5])
kernel_windows = st.sampled_from([None, 0, SECOND, 3 * SECOND, 10**16])


@SETTINGS
@given(
    log=kernel_logs(),
    jobs=thread_counts,
    window=kernel_windows,
    order=orders,
    ties=ties_options,
    rows=st.sampled_from([True, "first", "last", "none"]),
)
def test_funnel_kernel_threads_bit_identical(log, jobs, window, order, ties, rows):
    codes, time, members, _ = log
    kw = dict(window=window, order=order, ties=ties, rows=rows)
    one = K.funnel_kernel(codes, time, members, n_jobs=1, **kw)
    assert_same_table(K.funnel_kernel(codes, time, members, n_jobs=jobs, **kw), one)


@SETTINGS
@given(log=kernel_logs(shared=True), jobs=thread_counts, window=kernel_windows, ties=ties_options)
def test_funnel_kernel_threads_shared_events(log, jobs, window, ties):
    codes, time, members, _ = log
    orders_ok = ["ordered", "strict"] if ties == "strict" else ["ordered"]
    for order in orders_ok:
        kw = dict(window=window, order=order, ties=ties, rows=True)
        one = K.funnel_kernel(codes, time, members, n_jobs=1, **kw)
        assert_same_table(K.funnel_kernel(codes, time, members, n_jobs=jobs, **kw), one)


@st.composite
def feature_options(draw, k: int, other_rows: np.ndarray):
    """Step windows and exclusions (rows of no step) for a k-step funnel."""
    sw = None
    if k > 1 and draw(st.booleans()):
        choice = st.sampled_from([None, 0, SECOND, 2 * SECOND])
        sw = draw(st.lists(choice, min_size=k - 1, max_size=k - 1))
    exclusions = []
    if k > 1 and other_rows.size:
        for _ in range(draw(st.integers(0, 2))):
            first = draw(st.integers(0, k - 2))
            last = draw(st.integers(first + 1, k - 1))
            keep = draw(st.lists(st.booleans(), min_size=other_rows.size, max_size=other_rows.size))
            exclusions.append(K.Exclusion(first, last, other_rows[np.asarray(keep, dtype=bool)]))
    return sw, exclusions


@SETTINGS
@given(
    log=kernel_logs(), jobs=thread_counts, window=kernel_windows, ties=ties_options, data=st.data()
)
def test_feature_and_attempts_kernels_threads_bit_identical(log, jobs, window, ties, data):
    codes, time, members, step = log
    sw, exclusions = data.draw(feature_options(len(members), np.flatnonzero(step == -1)))
    kw = dict(window=window, step_windows=sw, exclusions=exclusions, ties=ties, rows=True)
    one = K.feature_kernel(codes, time, members, n_jobs=1, **kw)
    assert_same_table(K.feature_kernel(codes, time, members, n_jobs=jobs, **kw), one)
    t1, num1, dl1 = K.attempts_kernel(codes, time, members, n_jobs=1, **kw)
    tj, numj, dlj = K.attempts_kernel(codes, time, members, n_jobs=jobs, **kw)
    assert_same_table(tj, t1)
    np.testing.assert_array_equal(numj, num1)
    np.testing.assert_array_equal(dlj, dl1)


@contextlib.contextmanager
def split_always(cores=3):
    """Every kernel call splits across ``cores`` threads, however small the log."""
    saved = K.MIN_ROWS_PER_THREAD, K.available_cores
    K.MIN_ROWS_PER_THREAD, K.available_cores = 1, lambda: cores
    try:
        yield
    finally:
        K.MIN_ROWS_PER_THREAD, K.available_cores = saved


@SETTINGS
@given(
    df=event_logs(),
    steps=funnels(),
    window=windows,
    order=orders,
    ties=ties_options,
    attribution=st.sampled_from(["first", "last"]),
)
def test_public_functions_split_match_reference(df, steps, window, order, ties, attribution):
    df = categorical(df)
    kw = {"window": window, "order": order, "ties": ties}
    with split_always():
        got = fk.funnel_entities(df, steps, by="seg", attribution=attribution, **kw)
    exp = funnel_entities_ref(df, steps, by=["seg"], attribution=attribution, **kw)
    pd.testing.assert_frame_equal(got, exp, check_dtype=False)


@SETTINGS
@given(df=event_logs(segment=False), steps=funnels(overlap=True), window=windows)
def test_shared_events_split_match_reference(df, steps, window):
    df = categorical(df)
    with split_always():
        got = fk.funnel_entities(df, steps, window=window)
    exp = funnel_entities_ref(df, steps, window=window)
    pd.testing.assert_frame_equal(got, exp, check_dtype=False)


@SETTINGS
@given(event_logs(max_entities=4, max_rows=8), disjoint_steps(), st.data())
def test_features_split_match_reference(df, steps, data):
    kw = data.draw(all_feature_options(len(steps)))
    if not present(df, steps, kw):
        return
    with split_always():
        got = fk.funnel_entities(df, steps, **kw)
    pd.testing.assert_frame_equal(got, funnel_features_ref(df, steps, **kw))


def test_medium_log_every_order_and_option_same_with_threads():
    """A generated log large enough to split by default: 1 thread vs 2 and 4."""
    df = make_events(60_000, seed=3)
    df["product"] = pd.Categorical(np.random.default_rng(3).choice(["a", "b"], size=len(df)))
    steps = ["visit", "signup", "demo", "proposal", "won"]
    calls = {
        "ordered": dict(window="7D"),
        "strict": dict(window="7D", order="strict"),
        "any": dict(window="7D", order="any"),
        "exclude": dict(window="7D", exclude={"logout": (2, 4)}),
        "step_windows": dict(step_windows=["1D", "2D", "3D", "1D"]),
        "attempts": dict(window="3D", count="attempts"),
        "hold": dict(window="7D", hold="product"),
    }
    for name, kw in calls.items():
        with split_always(1):
            one = fk.funnel_entities(df, steps, **kw)
            one_by = fk.conversion(df, steps, by="product", **kw)
        for cores in (2, 4):
            with split_always(cores):
                pd.testing.assert_frame_equal(fk.funnel_entities(df, steps, **kw), one, obj=name)
                # by= reads the attribution rows: they must be the input's rows
                got = fk.conversion(df, steps, by="product", **kw)
                pd.testing.assert_frame_equal(got, one_by, obj=name)


def test_resolve_jobs():
    cores = K.available_cores()
    assert cores >= 1
    # small logs stay in the calling thread; large ones use the cores, up to the cap
    assert K.resolve_jobs(None, 0) == 1
    assert K.resolve_jobs(None, K.MIN_ROWS_PER_THREAD - 1) == 1
    assert K.resolve_jobs(None, 10**12) == min(cores, K.MAX_THREADS)
    assert K.resolve_jobs(None, 2 * K.MIN_ROWS_PER_THREAD) == min(cores, K.MAX_THREADS, 2)
    # as given, at most one thread per row
    assert K.resolve_jobs(3, 10) == 3
    assert K.resolve_jobs(3, 2) == 2
    assert K.resolve_jobs(np.int64(2), 10) == 2
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n_jobs must be None or an integer >= 1"):
            K.resolve_jobs(bad, 10)


def test_code_bounds_cut_rows_evenly_and_keep_entities_whole():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 1000, size=100_000)
    cuts = K._code_bounds(codes, 4)
    assert cuts == sorted(cuts)
    sizes = np.diff(np.searchsorted(np.sort(codes), [codes.min(), *cuts, codes.max() + 1]))
    assert sizes.min() > 0.2 * codes.size  # about a quarter each
    # one entity: no cut can split it, so a single range comes back
    assert len(K._code_bounds(np.full(1000, 7), 4)) <= 1


@SETTINGS
@given(data=st.data(), shuffle=st.booleans())
def test_best_per_entity_matches_a_plain_loop(data, shuffle):
    """The best sub-entity: deepest, then earliest completion, latest start, smallest rank."""
    n_ent = data.draw(st.integers(1, 5))
    n_h = data.draw(st.integers(1, 4))
    k = 3
    subs = sorted(data.draw(st.sets(st.integers(0, n_ent * n_h - 1), min_size=1)))
    entity_of = np.arange(n_ent * n_h, dtype=np.int64) // n_h
    rank = np.arange(n_ent * n_h, dtype=np.int64) % n_h
    reached = np.asarray(
        data.draw(st.lists(st.integers(1, k), min_size=len(subs), max_size=len(subs)))
    )
    times = np.asarray(
        data.draw(st.lists(st.integers(0, 3), min_size=len(subs) * k, max_size=len(subs) * k))
    ).reshape(-1, k)
    times = np.sort(times, axis=1)
    step_time = np.where(np.arange(k) < reached[:, None], times, K.NAT).astype(np.int64)
    rows = np.arange(len(subs), dtype=np.int64)
    table = K.FunnelTable(
        np.asarray(subs, np.int64), reached.astype(np.int64), step_time, rows, rows
    )
    if shuffle:  # the order the callers do not give: the fallback sort
        table = K.take_table(
            table, np.asarray(data.draw(st.permutations(range(len(subs)))), np.int64)
        )
    got = K.best_per_entity(table, entity_of[table.entities], rank[table.entities])
    want = {}
    for i, code in enumerate(table.entities.tolist()):
        r = int(table.reached[i])
        score = (-r, int(table.step_time[i, r - 1]), -int(table.step_time[i, 0]), int(rank[code]))
        e = int(entity_of[code])
        if e not in want or score < want[e][0]:
            want[e] = (score, int(table.first_row[i]))
    assert got.entities.tolist() == sorted(want)
    assert got.first_row.tolist() == [want[e][1] for e in sorted(want)]


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 5)), min_size=1, max_size=60),
    pick=st.data(),
    wide=st.booleans(),
)
def test_first_rows_of_entities_is_the_smallest_row_with_the_key(rows, pick, wide):
    """Each target (one key per entity, present among the rows): the smallest member
    row carrying it, by a scan of the rows; the table path and the sorting path agree."""
    ent = np.array([e for e, _ in rows], dtype=np.int64) * (10**12 if wide else 1)
    t = np.array([x for _, x in rows], dtype=np.int64)
    keys = K._make_keys(ent, t)
    member_keys = keys.pack(ent, t)
    members = np.sort(
        np.random.default_rng(len(rows)).choice(10 * len(rows), len(rows), replace=False)
    ).astype(np.int64)
    by_entity: dict[int, list[int]] = {}
    for k in member_keys.tolist():
        by_entity.setdefault(int(keys.ent(np.array([k]))[0]), []).append(k)
    chosen = sorted(pick.draw(st.sampled_from(v)) for v in by_entity.values())
    targets = np.array(chosen, dtype=np.int64)
    want = [int(members[member_keys == k].min()) for k in chosen]
    got = K._first_rows_of_entities(keys, members, member_keys, targets)
    assert got.tolist() == want
    assert K._first_rows(members, member_keys, targets).tolist() == want
