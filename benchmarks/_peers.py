"""Peer engines for the ordered, windowed funnel (the team's shared benchmark peers).

Semantics = ClickHouse windowFunnel(window)(ts, event=s1, ..., event=sK), default mode.
Every function returns a tuple: entities with level >= k, k = 1..K.  Timestamps in whole
seconds (ClickHouse's DateTime).  Expects columns user_id, timestamp, event (str or category).
"""

from __future__ import annotations

import numpy as np

STEPS = ["visit", "signup", "demo", "proposal", "won"]
K = len(STEPS)
BIG_WINDOW = 2**32  # "no window" for windowFunnel on DateTime (UInt32 seconds)
IN_LIST = ", ".join(f"'{s}'" for s in STEPS)
CASE_STEP = "CASE event " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STEPS)) + " END"


def levels_to_reach(pairs):
    """[(level, count), ...] -> users with level >= k for k=1..K."""
    cnt = np.zeros(K + 1, dtype=np.int64)
    for lvl, c in pairs:
        cnt[int(lvl)] += int(c)
    return tuple(int(x) for x in np.cumsum(cnt[::-1])[::-1][1:])


def chdb_df(df, window):
    import chdb

    w = BIG_WINDOW if window is None else window
    conds = ", ".join(f"event = '{s}'" for s in STEPS)
    sql = (
        f"SELECT level, count() AS c FROM (SELECT user_id, windowFunnel({w})"
        f"(toDateTime(timestamp), {conds}) AS level FROM Python(df) "
        f"WHERE event IN ({IN_LIST}) GROUP BY user_id) GROUP BY level ORDER BY level"
    )
    res = chdb.query(sql, "CSV")  # chdb resolves `df` from this frame
    lines = res.data().strip().splitlines()
    return levels_to_reach([tuple(map(int, line.split(","))) for line in lines])


def _duckdb_sql(src, window):
    base = (
        f"SELECT user_id AS u, epoch_ns(timestamp) // 1000000000 AS t, {CASE_STEP} AS s "
        f"FROM {src} WHERE event IN ({IN_LIST})"
    )
    parts = [f"b AS MATERIALIZED ({base})", "v0 AS (SELECT u, t, t AS bb FROM b WHERE s = 0)"]
    for j in range(1, K):
        wcond = "" if window is None else f"WHERE q.t <= p.bb + {window}"
        parts.append(
            f"v{j} AS MATERIALIZED (SELECT q.u, q.t, p.bb FROM "
            f"(SELECT u, t FROM b WHERE s = {j}) q ASOF JOIN v{j - 1} p "
            f"ON q.u = p.u AND q.t >= p.t {wcond})"
        )
    sel = ", ".join(f"(SELECT count(DISTINCT u) FROM v{j})" for j in range(K))
    return "WITH " + ",\n".join(parts) + f"\nSELECT {sel}"


def duckdb_df(df, window):
    import duckdb

    con = duckdb.connect()
    con.register("events", df)
    return tuple(int(x) for x in con.execute(_duckdb_sql("events", window)).fetchone())


def polars_df(df, window):
    """Per-step sorted packed keys; level j by join_asof onto valid level j-1 keys."""
    import polars as pl

    frame = pl.from_pandas(df)
    base = (
        frame.lazy()
        .filter(pl.col("event").cast(pl.String).is_in(STEPS))
        .select(
            u=pl.col("user_id"),
            t=pl.col("timestamp").dt.epoch("s"),
            s=pl.col("event")
            .cast(pl.String)
            .replace_strict(dict(zip(STEPS, range(K), strict=True)), return_dtype=pl.Int64),
        )
        .collect()
    )
    if base.height == 0:
        return (0,) * K
    st = base.select(umin=pl.col("u").min(), tmin=pl.col("t").min(), tmax=pl.col("t").max()).row(
        0, named=True
    )
    tb = max(int(st["tmax"] - st["tmin"]).bit_length(), 1)
    big = 2**tb
    keyed = base.lazy().select(
        key=(pl.col("u") - st["umin"]) * big + (pl.col("t") - st["tmin"]), s=pl.col("s")
    )
    parts = pl.collect_all(
        [keyed.filter(pl.col("s") == j).select("key").sort("key") for j in range(K)]
    )
    p = parts[0].with_columns(pkey=pl.col("key"), b=pl.col("key") % big)
    reach = [p.select((pl.col("key") // big).n_unique()).item()]
    for j in range(1, K):
        valid = pl.col("pkey").is_not_null() & (pl.col("pkey") // big == pl.col("key") // big)
        if window is not None:
            valid = valid & (pl.col("key") % big <= pl.col("b") + window)
        p = (
            parts[j]
            .lazy()
            .join_asof(p.lazy().select("key", "pkey", "b"), on="key", strategy="backward")
            .filter(valid)
            .select("key", pl.col("key").alias("pkey"), "b")
            .collect()
        )
        reach.append(p.select((pl.col("key") // big).n_unique()).item())
    return tuple(int(x) for x in reach)


PEERS = {
    "clickhouse (chdb windowFunnel)": chdb_df,
    "duckdb (ASOF joins)": duckdb_df,
    "polars (sort + join_asof)": polars_df,
}
