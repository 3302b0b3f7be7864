"""funnelkit.conversion on a Dask DataFrame read lazily from Parquet, beside the pandas path.

Synthetic events (funnelkit.datasets.make_events, one chunk per seed, ids offset so
chunks never share a user) are written as Parquet files, one per chunk.  Then the
ordered funnel visit -> signup -> demo -> proposal -> won with a 7-day window runs

- on a distributed.LocalCluster (processes, one thread each) over dd.read_parquet;
  with --by-entity, the files are written sorted by user and read with the user as the
  index and its divisions (``index="user_id", calculate_divisions=True``): every user
  in one partition, so nothing is shuffled;
- with pandas on the same files read into memory (when --pandas is given), and the
  two results are compared.

Printed: wall time, events/s, peak resident memory of each worker (and of this
process for pandas).

usage: python benchmarks/bench_dask.py [--rows 20000000] [--chunk 5000000]
       [--workers 2] [--dir /tmp/funnelkit-bench-dask] [--pandas] [--by-entity]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import funnelkit as fk
from funnelkit.datasets import make_events

STEPS = ["visit", "signup", "demo", "proposal", "won"]
ID_OFFSET = 100_000_000  # make_events ids stay below 10_000_000 + 5 * n_users


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_parquet(path: Path, rows: int, chunk: int, by_entity: bool = False) -> None:
    stamp = path / (f"_rows-{rows}-chunk-{chunk}" + ("-by-entity" if by_entity else ""))
    if stamp.exists():
        print(f"reusing {path}")
        return
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    t0 = time.perf_counter()
    for i, start in enumerate(range(0, rows, chunk)):
        ev = make_events(min(chunk, rows - start), seed=i)
        ev["user_id"] += i * ID_OFFSET
        if by_entity:  # each file's users in order (its row-group statistics give divisions)
            ev = ev.sort_values(["user_id", "timestamp"], kind="stable")
        ev.to_parquet(path / f"part-{i:04d}.parquet", index=False)
    stamp.touch()
    print(f"wrote {rows:,} events to {path} in {time.perf_counter() - t0:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--chunk", type=int, default=5_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/funnelkit-bench-dask"))
    parser.add_argument("--pandas", action="store_true", help="also run the pandas path")
    parser.add_argument(
        "--by-entity",
        action="store_true",
        help="files sorted by user, read with the user as index and divisions: no shuffle",
    )
    args = parser.parse_args()

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    if args.by_entity and args.dir == parser.get_default("dir"):
        args.dir = args.dir.with_name(args.dir.name + "-by-entity")
    write_parquet(args.dir, args.rows, args.chunk, args.by_entity)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    try:
        if args.by_entity:
            events = dd.read_parquet(args.dir, index="user_id", calculate_divisions=True)
            assert events.known_divisions, "the files share users: no divisions"
        else:
            events = dd.read_parquet(args.dir)
        t0 = time.perf_counter()
        res_dask = fk.conversion(events, STEPS, window="7D")
        wall = time.perf_counter() - t0
        peaks = client.run(peak_rss_mib)
        print(
            f"dask   {args.rows:>13,} events  {wall:7.1f} s  {args.rows / wall:12,.0f} events/s  "
            f"{args.workers} workers x 1 thread, {events.npartitions} partitions"
            + (", by entity (no shuffle)" if args.by_entity else "")
            + "; peak RSS per "
            "worker: " + ", ".join(f"{v:,.0f} MiB" for v in peaks.values())
        )
    finally:
        client.close()
        cluster.close()
    print(res_dask[["step", "entities", "conversion", "median_time"]].to_string(index=False))

    if args.pandas:
        t0 = time.perf_counter()
        df = pd.read_parquet(args.dir)  # the files in order: the rows the partitions hold
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        res_pd = fk.conversion(df, STEPS, window="7D")
        wall = time.perf_counter() - t0
        print(
            f"pandas {len(df):>13,} events  {wall:7.1f} s  {len(df) / wall:12,.0f} events/s  "
            f"(read: {t_read:.1f} s); peak RSS of the process: {peak_rss_mib():,.0f} MiB"
        )
        pd.testing.assert_frame_equal(res_dask, res_pd)
        print("results equal")


if __name__ == "__main__":
    main()
