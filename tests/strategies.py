"""Hypothesis strategies: small event logs full of ties, repeats and disorder."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

STEP_EVENTS = ["a", "b", "c", "d"]
NOISE = ["x", "y"]
BASE = pd.Timestamp("2025-03-01")


@st.composite
def event_logs(
    draw,
    *,
    max_entities: int = 5,
    max_rows: int = 9,
    segment: bool = True,
    varying_segment: bool = True,
) -> pd.DataFrame:
    """An event log: user_id, timestamp, event (+ seg).

    Few distinct times (0..5 s, in half-second steps) so ties are common; step
    events repeat and come in any order; may be empty or have one entity.
    """
    n_entities = draw(st.integers(1, max_entities))
    n = draw(st.integers(0, max_rows * n_entities // 2 + 1))
    ids = draw(st.lists(st.integers(0, n_entities - 1), min_size=n, max_size=n))
    half_seconds = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))
    events = draw(st.lists(st.sampled_from(STEP_EVENTS + NOISE), min_size=n, max_size=n))
    df = pd.DataFrame(
        {
            "user_id": np.asarray(ids, dtype=np.int64) + 100,
            "timestamp": BASE + pd.to_timedelta(np.asarray(half_seconds) * 500, unit="ms"),
            "event": events,
        }
    )
    if segment:
        if varying_segment:
            segs = draw(st.lists(st.sampled_from(["s", "t", None]), min_size=n, max_size=n))
        else:
            values = st.sampled_from(["s", "t", None])
            per_entity = draw(st.lists(values, min_size=n_entities, max_size=n_entities))
            segs = [per_entity[i] for i in ids]
        df["seg"] = pd.Series(segs, dtype=object)
    return df


@st.composite
def funnels(draw, *, overlap: bool = False) -> list:
    """A list of 1..4 steps over a..d: names or lists of names (disjoint unless overlap)."""
    if overlap:
        k = draw(st.integers(1, 5))
        pool = [["a"], ["b"], ["a"], ["a", "b"], ["c"], "b", "a", ["b", "c"]]
        return [draw(st.sampled_from(pool)) for _ in range(k)]
    k = draw(st.integers(1, 4))
    order = draw(st.permutations(STEP_EVENTS))
    steps: list = [order[i] for i in range(k)]
    if k < 4 and draw(st.booleans()):
        steps[-1] = [steps[-1], order[k]]
    return steps


windows = st.sampled_from([None, "0s", "1s", "1500ms", "3s", pd.Timedelta(seconds=10)])
orders = st.sampled_from(["ordered", "strict", "any"])
ties_options = st.sampled_from(["allow", "strict"])


DEAL_STAGES = ["lead", "demo", "offer", "contract"]
DEAL_BASE = pd.Timestamp("2025-01-01")
REASONS = ["budget", "timing", "price", None]


@st.composite
def deal_tables(
    draw, *, max_deals: int = 8
) -> tuple[pd.DataFrame, pd.DataFrame, list, pd.Timestamp]:
    """A deal table, its stage history, the stages and an observation date.

    Few distinct days (0..14), so history entries of a deal often share an
    instant; entries skip stages, move back and repeat; deals are open, won or
    lost (an open deal may carry an expected close date); amounts may be
    missing; ``as_of`` may fall before some entries, closes and creations.
    Returns ``(deals, history, stages, as_of)``; no entry comes before its
    deal's creation; some come after its close.
    """
    n = draw(st.integers(1, max_deals))
    created = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))
    status = draw(st.lists(st.sampled_from(["won", "lost", "open"]), min_size=n, max_size=n))
    length = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    expected = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    amounts = draw(
        st.lists(
            st.one_of(st.none(), st.sampled_from([0.0, 10.0, 25.0, 40.0])), min_size=n, max_size=n
        )
    )
    table_stage = draw(st.lists(st.sampled_from(DEAL_STAGES), min_size=n, max_size=n))
    reasons = draw(st.lists(st.sampled_from(REASONS), min_size=n, max_size=n))
    owners = draw(st.lists(st.sampled_from(["ann", "bob", "cy"]), min_size=n, max_size=n))
    channels = draw(st.lists(st.sampled_from(["ads", "web"]), min_size=n, max_size=n))
    closed = [
        DEAL_BASE + pd.Timedelta(days=c + k) if s != "open" or e else pd.NaT
        for c, k, s, e in zip(created, length, status, expected, strict=True)
    ]
    deals = pd.DataFrame(
        {
            "deal_id": np.arange(n, dtype=np.int64) + 1,
            "created_at": DEAL_BASE + pd.to_timedelta(np.asarray(created), unit="D"),
            "closed_at": pd.to_datetime(pd.Series(closed, dtype="datetime64[ns]")),
            "status": status,
            "amount": pd.Series(amounts, dtype=np.float64),
            "stage": table_stage,
            "lost_reason": pd.Series(
                [r if s == "lost" else None for r, s in zip(reasons, status, strict=True)],
                dtype=object,
            ),
            "owner": owners,
            "channel": channels,
        }
    )
    rows: list[tuple[int, str, pd.Timestamp]] = []
    for i in range(n):
        k = draw(st.integers(0, 4))
        # up to 3 days after a close (a stage such as retention may follow it)
        last = length[i] + 3 if status[i] != "open" else 8
        days = draw(st.lists(st.integers(0, last), min_size=k, max_size=k))
        names = draw(st.lists(st.sampled_from(DEAL_STAGES), min_size=k, max_size=k))
        rows += [
            (i + 1, s, DEAL_BASE + pd.Timedelta(days=created[i] + d))
            for s, d in zip(names, days, strict=True)
        ]
    history = pd.DataFrame(rows, columns=["deal_id", "stage", "entered_at"])
    history = history.astype({"deal_id": np.int64, "stage": object, "entered_at": "datetime64[ns]"})
    perm = draw(st.permutations(range(len(history))))
    history = history.iloc[list(perm)].reset_index(drop=True)
    as_of = DEAL_BASE + pd.Timedelta(days=draw(st.integers(0, 16)))
    return deals, history, list(DEAL_STAGES), as_of
