"""Time funnelkit.conversion against ClickHouse, DuckDB and Polars on one event log.

Ordered funnel visit -> signup -> demo -> proposal -> won with a 7-day window on
funnelkit.datasets.make_events (10 million rows by default).  Every engine runs on
the same pandas DataFrame, interleaved in one process; medians of the runs and
ratios to ClickHouse are printed.  Then the same for a plain string ``event``
column (funnelkit and ClickHouse), and the peak memory of one funnelkit call.

usage: python benchmarks/bench_funnel.py [--rows 10000000] [--repeats 5] [--skip-peers]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _peers import PEERS, STEPS

import funnelkit as fk
from funnelkit.datasets import make_events

WINDOW_S = 7 * 86400


def run_funnelkit(df, window_s):
    res = fk.conversion(df, STEPS, window=pd.Timedelta(seconds=window_s))
    return tuple(int(x) for x in res["entities"])


def timed(fn, *args):
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def bench(df, engines, repeats):
    times = {name: [] for name in engines}
    results = {}
    for _ in range(repeats):
        for name, fn in engines.items():
            seconds, out = timed(fn, df, WINDOW_S)
            times[name].append(seconds)
            results[name] = out
    return {name: statistics.median(v) for name, v in times.items()}, results


def report(title, medians, results, base):
    print(f"\n{title}")
    print(f"{'engine':<34} {'seconds':>8} {'ratio':>7}  entities per step")
    for name, sec in medians.items():
        print(f"{name:<34} {sec:8.3f} {sec / medians[base]:7.2f}  {results[name]}")
    ok = len({tuple(r) for r in results.values()}) == 1
    print("all engines agree" if ok else "ENGINES DISAGREE")


def peak_memory(df):
    gc.collect()
    tracemalloc.start()
    run_funnelkit(df, WINDOW_S)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-peers", action="store_true", help="only funnelkit and chdb")
    args = parser.parse_args()

    t0 = time.perf_counter()
    df = make_events(args.rows, seed=args.seed)
    size = df.memory_usage(deep=True).sum()
    print(
        f"{len(df):,} events, {df['user_id'].nunique():,} entities, "
        f"{size / 2**20:,.0f} MiB in memory; made in {time.perf_counter() - t0:.1f} s; "
        f"{args.repeats} interleaved runs, medians"
    )
    base = "clickhouse (chdb windowFunnel)"
    engines = {"funnelkit conversion": run_funnelkit}
    peers = {base: PEERS[base]} if args.skip_peers else PEERS
    engines.update(peers)
    medians, results = bench(df, engines, args.repeats)
    report("categorical event column", medians, results, base)

    text = df.assign(event=df["event"].astype(str).astype(object))
    engines = {"funnelkit conversion": run_funnelkit, base: PEERS[base]}
    medians, results = bench(text, engines, args.repeats)
    report("plain string event column (object dtype)", medians, results, base)

    peak = peak_memory(df)
    print(
        f"\npeak memory of one funnelkit call (tracemalloc, categorical): {peak / 2**20:,.0f} MiB "
        f"= {peak / size:.2f}x the input ({size / 2**20:,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
