"""Timing of the stage-history functions on a synthetic 0.9M-row history (200k deals)."""

import time

import numpy as np
import pandas as pd

import funnelkit as fk

rng = np.random.default_rng(0)
n_deals = 200_000
stages = [f"s{i}" for i in range(7)]
k = rng.integers(1, 9, n_deals)  # entries per deal
deal = np.repeat(np.arange(n_deals), k)
stage = rng.integers(0, 7, deal.size)
t = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 86400, deal.size), unit="s")
h = pd.DataFrame({"deal_id": deal, "stage": np.array(stages, dtype=object)[stage], "entered_at": t})
closed = pd.Series(
    pd.Timestamp("2025-01-01") - pd.to_timedelta(rng.integers(0, 200, n_deals), unit="D")
)
closed[rng.random(n_deals) < 0.5] = pd.NaT
deals = pd.DataFrame(
    {
        "deal_id": np.arange(n_deals),
        "closed_at": closed,
        "amount": rng.random(n_deals) * 1e4,
        "team": rng.choice(list("abcd"), n_deals),
    }
)
print(f"{len(h):,} history rows, {n_deals:,} deals")
for name, f in [
    ("stage_conversion furthest", lambda: fk.stage_conversion(h, stages)),
    ("stage_conversion strict", lambda: fk.stage_conversion(h, stages, policy="strict")),
    ("stage_conversion by team", lambda: fk.stage_conversion(h, stages, by="team", deals=deals)),
    ("time_in_stage", lambda: fk.time_in_stage(h, stages, deals=deals)),
    (
        "time_in_stage cumulative",
        lambda: fk.time_in_stage(h, stages, deals=deals, basis="cumulative"),
    ),
    ("stalled p90", lambda: fk.stalled(h, stages, deals=deals)),
]:
    t0 = time.perf_counter()
    f()
    print(f"{name:28s} {time.perf_counter() - t0:6.2f} s")
