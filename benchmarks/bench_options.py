"""What each event-funnel option costs next to the plain ordered funnel.

Ordered funnel visit -> signup -> demo -> proposal -> won with a 7-day window on
funnelkit.datasets.make_events (2 million rows by default), plus a 3-valued
``product`` column for ``hold=``.  Every variant runs on the same DataFrame,
interleaved in one process; the medians and the ratio to the plain ordered
funnel are printed.  Run it with nothing else on the machine.

``--threads 1`` runs funnelkit's kernels in one thread.

usage: python benchmarks/bench_options.py [--rows 2000000] [--repeats 5] [--threads N]
       [--generator make_events|shared]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _gen import generate
from _peers import STEPS

import funnelkit as fk
from funnelkit import _kernels
from funnelkit.datasets import make_events

WINDOW = pd.Timedelta(days=7)


def variants(df):
    as_of = df["timestamp"].max() - pd.Timedelta(days=30)
    return {
        "plain ordered (conversion)": lambda: fk.conversion(df, STEPS, window=WINDOW),
        "exclude={'logout': (2, 4)}": lambda: fk.conversion(
            df, STEPS, window=WINDOW, exclude={"logout": (2, 4)}
        ),
        "step_windows=[1D, 2D, 3D, 1D]": lambda: fk.conversion(
            df, STEPS, window=WINDOW, step_windows=["1D", "2D", "3D", "1D"]
        ),
        "count='attempts'": lambda: fk.conversion(df, STEPS, window=WINDOW, count="attempts"),
        "hold='product'": lambda: fk.conversion(df, STEPS, window=WINDOW, hold="product"),
        "as_of + mature_only": lambda: fk.conversion(
            df, STEPS, window=WINDOW, as_of=as_of, mature_only=True
        ),
        "conversion_over_time(period='W')": lambda: fk.conversion_over_time(
            df, STEPS, window=WINDOW, period="W"
        ),
        "order='strict'": lambda: fk.conversion(df, STEPS, window=WINDOW, order="strict"),
        "order='any'": lambda: fk.conversion(df, STEPS, window=WINDOW, order="any"),
        # analyses on the same engine (not options): what they cost beside the funnel
        "next_events(after_step=2)": lambda: fk.next_events(df, STEPS, window=WINDOW, after_step=2),
        "next_events(after_step=2, by='product')": lambda: fk.next_events(
            df, STEPS, window=WINDOW, after_step=2, by="product"
        ),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None, help="default: 42, shared: 7")
    parser.add_argument(
        "--generator",
        choices=["make_events", "shared"],
        default="make_events",
        help="funnelkit.datasets.make_events, or the shared generator (benchmarks/_gen.py)",
    )
    parser.add_argument("--threads", type=int, default=None, help="funnelkit kernel threads")
    parser.add_argument(
        "--memory", action="store_true", help="also the peak memory of one call (tracemalloc)"
    )
    args = parser.parse_args()
    if args.threads is not None:
        _kernels.MAX_THREADS = args.threads
    if args.generator == "shared":
        df = generate(args.rows, seed=7 if args.seed is None else args.seed)
    else:
        df = make_events(args.rows, seed=42 if args.seed is None else args.seed)
    rng = np.random.default_rng(42 if args.seed is None else args.seed)
    df["product"] = pd.Categorical(rng.choice(["a", "b", "c"], size=len(df)))
    runs = variants(df)
    times = {name: [] for name in runs}
    names = list(runs)
    for r in range(args.repeats):
        # interleaved, so drift hits every variant alike, in an order that turns each
        # round, so no variant always follows the same one (a large call leaves the
        # allocator and the page tables in a state the next call pays for)
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            t0 = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - t0)
    medians = {name: statistics.median(v) for name, v in times.items()}
    base = medians["plain ordered (conversion)"]
    load = os.getloadavg()
    print(
        f"{args.generator}: {args.rows:,} events, {df['user_id'].nunique():,} entities, "
        "7-day window, "
        f"median of {args.repeats} interleaved runs; load average at the end "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; pandas {pd.__version__}, "
        f"numpy {np.__version__}; kernel threads {_kernels.resolve_jobs(None, 10**12)}"
    )
    print(f"{'variant':<42} {'seconds':>8} {'x plain':>8}")
    for name, sec in medians.items():
        print(f"{name:<42} {sec:8.3f} {sec / base:8.2f}")
    if args.memory:
        import tracemalloc

        size = df.memory_usage(deep=True).sum()
        print(f"\npeak memory of one call (tracemalloc); input {size / 2**20:,.0f} MiB")
        for name, fn in runs.items():
            gc.collect()
            tracemalloc.start()
            fn()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"{name:<42} {peak / 2**20:8,.0f} MiB {peak / size:7.2f}x")


if __name__ == "__main__":
    main()
