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
