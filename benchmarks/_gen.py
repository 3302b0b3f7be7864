"""The second synthetic event log of the funnel benchmarks (the team's shared generator).

``generate(n_events, seed)``: user_id int64 (sparse ids), timestamp datetime64[ns]
(second resolution), categorical event (12 types: the 5 funnel steps and 7 noise
types); about 50% drop-off per step, exponential gaps between steps (mean 1.5
days, so some chains pass the 7-day window), 5% zero gaps (ties), repeated and
out-of-order steps, and a time-ordered file with 5% late rows.  It differs from
``funnelkit.datasets.make_events`` in its activity per user (gamma weights) and
its noise, so the benchmarks report both.
"""

import numpy as np
import pandas as pd

STEPS = ["visit", "signup", "demo", "proposal", "won"]
NOISE = ["page_view", "click", "scroll", "search", "email_open", "login", "logout"]
EVENTS = STEPS + NOISE
DAY = 86400
EPOCH = np.datetime64("2024-01-01T00:00:00", "s")


def generate(n_events: int, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_users = n_events // 10
    # sparse, non-contiguous user ids
    ids = 10_000_000 + rng.choice(n_users * 5, size=n_users, replace=False).astype(np.int64)
    # heavy-tailed activity per user (gamma weights), exactly n_events rows
    w = rng.gamma(1.0, 1.0, n_users)
    w /= w.sum()
    u = np.sort(rng.choice(n_users, size=n_events, p=w))  # user index per event, grouped
    # rank of the event inside its user
    starts = np.r_[0, np.flatnonzero(np.diff(u)) + 1]
    counts = np.diff(np.r_[starts, n_events])
    rank = np.arange(n_events) - np.repeat(starts, counts)
    # funnel depth per user: P(depth>=1)=0.9, then ~50% drop per step
    d = np.zeros(n_users, dtype=np.int64)
    alive = rng.random(n_users) < 0.9
    d[alive] = 1
    for _k in range(4):
        alive &= rng.random(n_users) < 0.5
        d[alive] += 1
    d_ev = d[u]
    is_step = rank < d_ev
    # step gaps: exp(mean 1.5d), 5% zero gap (ties)
    gap = rng.exponential(1.5 * DAY, n_events).astype(np.int64)
    gap[rng.random(n_events) < 0.05] = 0
    gap[rank == 0] = 0
    start = rng.integers(0, 60 * DAY, n_users)
    # cumulative gaps inside each user along the rank order (only used for step rows)
    g = np.where(is_step, gap, 0)
    cs = np.cumsum(g)
    cs -= np.repeat(cs[starts] - g[starts], counts)
    ts = start[u] + cs
    # non-step rows: noise (85%) or a random funnel step (15%) at a random time
    other = ~is_step
    n_other = int(other.sum())
    ts_other = start[u[other]] + rng.integers(-2 * DAY, 20 * DAY, n_other)
    ev_other = np.where(
        rng.random(n_other) < 0.15,
        rng.integers(0, len(STEPS), n_other),
        rng.integers(len(STEPS), len(EVENTS), n_other),
    )
    ts[other] = ts_other
    ev = np.empty(n_events, dtype=np.int8)
    ev[is_step] = rank[is_step]
    ev[other] = ev_other
    # extra exact ties: 1% of non-step rows copy the timestamp of the previous row of the same user
    tie = other & (rng.random(n_events) < 0.01) & (rank > 0)
    idx = np.flatnonzero(tie)
    ts[idx] = ts[idx - 1]
    # file order: time-ordered with 5% late arrivals (up to 6h)
    jitter = np.where(rng.random(n_events) < 0.05, rng.integers(0, 6 * 3600, n_events), 0)
    order = np.argsort(ts + jitter, kind="stable")
    df = pd.DataFrame(
        {
            "user_id": ids[u][order],
            "timestamp": (EPOCH + ts[order].astype("timedelta64[s]")).astype("datetime64[ns]"),
            "event": pd.Categorical.from_codes(ev[order], categories=EVENTS),
        }
    )
    return df
