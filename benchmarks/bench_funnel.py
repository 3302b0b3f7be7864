"""Time funnelkit.conversion against ClickHouse, DuckDB and Polars on one event log.

Ordered funnel visit -> signup -> demo -> proposal -> won with a 7-day window on
funnelkit.datasets.make_events (10 million rows by default). Every engine runs on
the same pandas DataFrame, interleaved in one process (the order turns each round);
medians of the runs and ratios to ClickHouse are printed. Then the same for a plain
string ``event`` column (funnelkit and ClickHouse), for ``by=`` a categorical
segment (ClickHouse with the same GROUP BY), for ``funnel_entities`` (ClickHouse
returning the per-user levels as a DataFrame), and the peak memory of one funnelkit
call. The load average is printed with the figures: run it with nothing else on the
machine. ``--threads 1`` runs funnelkit's kernels in one thread.

usage: python benchmarks/bench_funnel.py [--rows 10000000] [--repeats 7] [--skip-peers]
       [--generator make_events|shared]
       [--threads N]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _gen import generate
from _peers import PEERS, STEPS, levels_to_reach

import funnelkit as fk
from funnelkit import _kernels
from funnelkit.datasets import make_events

WINDOW_S = 7 * 86400


def run_funnelkit(df, window_s):
    res = fk.conversion(df, STEPS, window=pd.Timedelta(seconds=window_s))
    return tuple(int(x) for x in res["entities"])


def run_funnelkit_by(df, window_s):
    res = fk.conversion(df, STEPS, window=pd.Timedelta(seconds=window_s), by="segment")
    return tuple(
        (str(seg), tuple(int(x) for x in part["entities"]))
        for seg, part in res.groupby("segment", observed=True, sort=True)
    )


def chdb_by(df, window_s):
    import chdb

    conds = ", ".join(f"event = '{s}'" for s in STEPS)
    steps = ", ".join(f"'{s}'" for s in STEPS)
    sql = (
        f"SELECT toString(segment) AS seg, level, count() AS c FROM (SELECT segment, user_id, "
        f"windowFunnel({window_s})(toDateTime(timestamp), {conds}) AS level FROM Python(df) "
        f"WHERE event IN ({steps}) GROUP BY segment, user_id) GROUP BY seg, level ORDER BY seg"
    )
    lines = chdb.query(sql, "CSV").data().strip().splitlines()
    per: dict = {}
    for line in lines:
        seg, level, c = line.split(",")
        per.setdefault(seg.strip('"'), []).append((int(level), int(c)))
    return tuple((seg, levels_to_reach(pairs)) for seg, pairs in sorted(per.items()))


def run_funnelkit_entities(df, window_s):
    res = fk.funnel_entities(df, STEPS, window=pd.Timedelta(seconds=window_s))
    return levels_to_reach(res["reached"].value_counts().items())


def chdb_entities(df, window_s):
    import chdb

    conds = ", ".join(f"event = '{s}'" for s in STEPS)
    steps = ", ".join(f"'{s}'" for s in STEPS)
    sql = (
        f"SELECT user_id, windowFunnel({window_s})(toDateTime(timestamp), {conds}) AS level "
        f"FROM Python(df) WHERE event IN ({steps}) GROUP BY user_id"
    )
    res = chdb.query(sql, "DataFrame")  # per-user levels, as a DataFrame
    return levels_to_reach(res["level"].value_counts().items())


def timed(fn, *args):
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def bench(df, engines, repeats):
    times = {name: [] for name in engines}
    results = {}
    names = list(engines)
    for r in range(repeats):
        # the order turns each round: an engine that leaves the allocator or the page
        # tables in a costly state (Polars, after a large query) is followed by each
        # engine in turn, not always by the same one
        for name in names[r % len(names) :] + names[: r % len(names)]:
            seconds, out = timed(engines[name], df, WINDOW_S)
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
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=None, help="default: 42, shared: 7")
    parser.add_argument(
        "--generator",
        choices=["make_events", "shared"],
        default="make_events",
        help="funnelkit.datasets.make_events, or the shared generator (benchmarks/_gen.py)",
    )
    parser.add_argument("--skip-peers", action="store_true", help="only funnelkit and chdb")
    parser.add_argument("--threads", type=int, default=None, help="funnelkit kernel threads")
    args = parser.parse_args()
    if args.threads is not None:
        _kernels.MAX_THREADS = args.threads

    t0 = time.perf_counter()
    if args.generator == "shared":
        df = generate(args.rows, seed=7 if args.seed is None else args.seed)
    else:
        df = make_events(args.rows, seed=42 if args.seed is None else args.seed)
    size = df.memory_usage(deep=True).sum()
    print(
        f"{args.generator}: {len(df):,} events, {df['user_id'].nunique():,} entities, "
        f"{size / 2**20:,.0f} MiB in memory; made in {time.perf_counter() - t0:.1f} s; "
        f"{args.repeats} interleaved runs (order turning), medians; funnelkit kernel threads: "
        f"{_kernels.resolve_jobs(None, 10**12)} (load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})"
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

    # a categorical segment, one value per user (so a per-user GROUP BY agrees)
    seg = df.assign(segment=pd.Categorical((df["user_id"] % 5).map("s{}".format)))
    engines = {"funnelkit conversion(by=segment)": run_funnelkit_by, base: chdb_by}
    medians, results = bench(seg, engines, args.repeats)
    report("by= a categorical segment (ClickHouse: the same GROUP BY)", medians, results, base)

    engines = {"funnelkit funnel_entities": run_funnelkit_entities, base: chdb_entities}
    medians, results = bench(df, engines, args.repeats)
    report("per-user levels as a DataFrame (funnel_entities)", medians, results, base)

    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    peak = peak_memory(df)
    print(
        f"\npeak memory of one funnelkit call (tracemalloc, categorical): {peak / 2**20:,.0f} MiB "
        f"= {peak / size:.2f}x the input ({size / 2**20:,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
