"""Every deal, stage and touch function on 10k, 100k and 1M deals, with growth per 10x.

Synthetic tables of a B2B team: N deals (30% won, 40% lost, 30% open; 8 channels,
30 reps, 4 regions), 2.5 stage-history rows and 4 touches per deal on average.
Beside funnelkit, the plain-pandas code a user would write for three of the
figures (win rate by channel, stage conversion, naive medians of time in stage).

    python benchmarks/bench_deals.py                 # 10k, 100k, 1M deals
    python benchmarks/bench_deals.py --sizes 10000 100000 --repeats 5
    python benchmarks/bench_deals.py --shuffled      # tables in random row order

Prints, per function and size, the median of the repeats (interleaved: every
function once per round, the order turning each round), the time per deal, and the
growth factor per 10x (10 = linear). Targets (issue "Faster than ClickHouse"): every
deal, stage and touch function under 1 s on 1M deals, plan under 2 s, none growing
faster than linearly. Run it with nothing else on the machine; it prints the load
average."""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

import funnelkit as fk

STAGES = ["lead", "qualified", "demo", "proposal", "negotiation", "close"]
CHANNELS = ["ads", "seo", "referral", "events", "partner", "email", "social", "direct"]
REASONS = ["price", "timing", "no budget", "competitor", "no decision", "other"]
DAY = np.int64(86_400 * 10**9)


def make_tables(n: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Deals, stage history (about 2.5 rows per deal) and touches (4 per deal)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-01-01", "ns").astype(np.int64)
    created = start + rng.integers(0, 700, n) * DAY + rng.integers(0, DAY, n)
    status = rng.choice(np.array(["won", "lost", "open"], dtype=object), n, p=[0.3, 0.4, 0.3])
    length = (rng.gamma(2.0, 20.0, n) * DAY).astype(np.int64) + DAY
    closed = np.where(status == "open", np.iinfo(np.int64).min, created + length)
    n_entries = np.clip(1 + rng.poisson(1.5, n), 1, len(STAGES))
    furthest = n_entries - 1
    stage_names = np.array(STAGES, dtype=object)
    deals = pd.DataFrame(
        {
            "deal_id": np.arange(n, dtype=np.int64),
            "created_at": created.view("datetime64[ns]"),
            "closed_at": closed.view("datetime64[ns]"),
            "status": status,
            "amount": np.round(rng.lognormal(9.0, 1.0, n), -2),
            "stage": stage_names[furthest],
            "owner": np.array([f"rep {i:02d}" for i in range(30)], dtype=object)[
                rng.integers(0, 30, n)
            ],
            "channel": np.array(CHANNELS, dtype=object)[rng.integers(0, len(CHANNELS), n)],
            "region": np.array(["EMEA", "NA", "APAC", "LATAM"], dtype=object)[
                rng.integers(0, 4, n)
            ],
            "lost_reason": np.where(
                status == "lost", np.array(REASONS, dtype=object)[rng.integers(0, 6, n)], None
            ),
        }
    )
    # history: stages 0 .. furthest in order, entered between creation and the close
    deal = np.repeat(np.arange(n), n_entries)
    first = np.repeat(np.cumsum(n_entries) - n_entries, n_entries)
    k = np.arange(deal.size) - first
    span = np.where(status == "open", 300 * DAY, length)[deal]
    entered = created[deal] + (span * k) // (n_entries[deal] + 1)
    history = pd.DataFrame(
        {
            "deal_id": deal.astype(np.int64),
            "stage": stage_names[k],
            "entered_at": entered.view("datetime64[ns]"),
        }
    )
    # touches: 4 per prospect, some answered
    who = np.repeat(np.arange(n), 4)
    when = created[who] + np.tile(np.arange(4), n) * 3 * DAY + rng.integers(0, DAY, who.size)
    touches = pd.DataFrame(
        {
            "user_id": who.astype(np.int64),
            "timestamp": when.view("datetime64[ns]"),
            "channel": np.array(["email", "call", "linkedin"], dtype=object)[
                rng.integers(0, 3, who.size)
            ],
            "response": rng.choice(
                np.array(["positive", "negative", "no reply"], dtype=object),
                who.size,
                p=[0.05, 0.05, 0.9],
            ),
        }
    )
    return {"deals": deals, "history": history, "touches": touches}


def pandas_win_rate(deals: pd.DataFrame) -> pd.Series:
    closed = deals[deals["status"].isin(["won", "lost"])]
    return (closed["status"] == "won").groupby(closed["channel"]).mean()


def pandas_stage_conversion(history: pd.DataFrame) -> pd.Series:
    order = {s: i for i, s in enumerate(STAGES)}
    furthest = history["stage"].map(order).groupby(history["deal_id"]).max()
    counts = pd.Series([(furthest >= i).sum() for i in range(len(STAGES))], index=STAGES)
    return counts / counts.shift(1)


def pandas_naive_medians(history: pd.DataFrame) -> pd.Series:
    h = history.sort_values(["deal_id", "entered_at"])
    nxt = h.groupby("deal_id")["entered_at"].shift(-1)
    stay = nxt - h["entered_at"]
    return stay.groupby(h["stage"]).median()


def calls(t: dict[str, pd.DataFrame]) -> dict[str, Callable[[], object]]:
    d, h, tc = t["deals"], t["history"], t["touches"]
    as_of = pd.Timestamp("2025-01-01")
    return {
        "win_rate by channel": lambda: fk.win_rate(d, by="channel", as_of=as_of),
        "  plain pandas": lambda: pandas_win_rate(d),
        "deal_size": lambda: fk.deal_size(d, as_of=as_of),
        "sales_cycle": lambda: fk.sales_cycle(d, by="channel", as_of=as_of),
        "win_curve": lambda: fk.win_curve(d, as_of=as_of),
        "pipeline (history)": lambda: fk.pipeline(d, stages=STAGES, history=h, as_of=as_of),
        "sales_velocity": lambda: fk.sales_velocity(d, as_of=as_of),
        "coverage": lambda: fk.coverage(d, 1e6, as_of=as_of),
        "leaderboard": lambda: fk.leaderboard(d, as_of=as_of),
        "channel_yield": lambda: fk.channel_yield(d, as_of=as_of),
        "deal_entities": lambda: fk.deal_entities(d, history=h, stages=STAGES, as_of=as_of),
        "stage_conversion": lambda: fk.stage_conversion(h, STAGES),
        "  plain pandas ": lambda: pandas_stage_conversion(h),
        "time_in_stage": lambda: fk.time_in_stage(h, STAGES, deals=d, as_of=as_of),
        "  plain pandas (naive)": lambda: pandas_naive_medians(h),
        "stalled": lambda: fk.stalled(h, STAGES, deals=d, as_of=as_of),
        "lost_deals": lambda: fk.lost_deals(d, history=h, stages=STAGES),
        "revival_candidates": lambda: fk.revival_candidates(
            d, history=h, stages=STAGES, as_of=as_of
        ),
        "touches_to_response": lambda: fk.touches_to_response(tc),
        "touches_summary": lambda: fk.touches_summary(tc),
        # two targets per deal: the open deals' expected revenue (about 260 per deal at this
        # as_of) covers 5 per deal 50 times over, so the revenue draws are skipped; 260 per
        # deal is a target the pipeline may or may not reach, so they are simulated
        "plan (target 5/deal)": lambda: fk.plan(
            d, 5.0 * len(d), history=h, stages=STAGES, as_of=as_of
        ),
        "plan (target 260/deal)": lambda: fk.plan(
            d, 260.0 * len(d), history=h, stages=STAGES, as_of=as_of
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--shuffled",
        action="store_true",
        help="shuffle the rows of every table (the tables are made in deal and time order, "
        "as CRM exports usually come; shuffled, the history and touch functions sort)",
    )
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"pandas {pd.__version__}, numpy {np.__version__}, funnelkit {fk.__version__}")
    results: dict[str, dict[int, float]] = {}
    for n in args.sizes:
        tables = make_tables(n)
        if args.shuffled:
            tables = {
                k: v.sample(frac=1.0, random_state=1).reset_index(drop=True)
                for k, v in tables.items()
            }
        print(
            f"{n:,} deals: {len(tables['history']):,} history rows, "
            f"{len(tables['touches']):,} touches"
        )
        fns = calls(tables)
        times: dict[str, list[float]] = {name: [] for name in fns}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rows left out: the timing is the point here
            names = list(fns)
            for r in range(args.repeats):  # interleaved: every function once per round,
                # in an order that turns each round (no function always follows the same one)
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    t0 = time.perf_counter()
                    fns[name]()
                    times[name].append(time.perf_counter() - t0)
        for name, ts in times.items():
            results.setdefault(name, {})[n] = statistics.median(ts)
    sizes = args.sizes
    head = f"{'function':26s}" + "".join(f"{n:>12,}" for n in sizes)
    head += f"{'ns/deal':>10s}{'x per 10x':>11s}  target"
    print()
    print(head)
    for name, by_n in results.items():
        row = f"{name:26s}" + "".join(f"{by_n[n]:11.3f}s" for n in sizes)
        big = sizes[-1]
        row += f"{by_n[big] / big * 1e9:10.0f}"
        if len(sizes) > 1:
            steps = np.log10(sizes[-1] / sizes[-2])
            growth = (by_n[sizes[-1]] / by_n[sizes[-2]]) ** (1 / steps)
            row += f"{growth:11.1f}"
        else:
            row += f"{'':11s}"
        if big >= 1_000_000 and not name.startswith("  "):
            limit = 2.0 if name.startswith("plan") else 1.0
            row += f"  {'ok' if by_n[big] < limit else 'OVER'} (< {limit:.0f} s)"
        print(row)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
