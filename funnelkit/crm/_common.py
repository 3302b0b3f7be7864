"""What every CRM reader shares: loading a source, stage metadata, the canonical tables."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnelkit._io import load_records, parse_amounts, parse_dates, read_table
from funnelkit._sales_data import SalesData
from funnelkit._validate import closest, plain
from funnelkit.errors import (
    ColumnNotFoundError,
    FunnelkitWarning,
    InvalidDataError,
    InvalidParameterError,
)

#: A CRM file, a DataFrame, or a list of API records.
Source = str | Path | pd.DataFrame | Sequence[Mapping[str, Any]]

DEAL_COLUMNS = (
    "deal_id",
    "created_at",
    "closed_at",
    "status",
    "amount",
    "stage",
    "owner",
    "channel",
    "lost_reason",
    "currency",
    "expected_close",
    "pipeline",
    "name",
)
#: Optional deal columns, dropped when the source has none of their values.
OPTIONAL = ("currency", "expected_close", "pipeline", "name")


@dataclass
class Loaded:
    """A source as read: a flat frame, or API records; and how to name it."""

    frame: pd.DataFrame | None
    records: list[dict[str, Any]] | None
    where: str

    def table(self) -> pd.DataFrame:
        """The source as a (flat) DataFrame."""
        if self.frame is not None:
            return self.frame
        return pd.json_normalize(self.records or [])


def load(source: Any, *, what: str, func: str) -> Loaded:
    """Read a path, a DataFrame or a list of records."""
    if isinstance(source, pd.DataFrame):
        return Loaded(source, None, f"the {what} table")
    if isinstance(source, str | Path):
        path = Path(source)
        if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
            return Loaded(None, load_records(path, what=what), path.name)
        return Loaded(read_table(path), None, path.name)
    if isinstance(source, Sequence) and all(isinstance(r, Mapping) for r in source):
        return Loaded(None, [dict(r) for r in source], f"the {what} records")
    msg = (
        f"The '{what}' argument of {func} must be a path (.csv, .xlsx, .json, .jsonl), a "
        f"pandas DataFrame or a list of API records (dicts). Got {type(source).__name__} instead."
    )
    raise InvalidParameterError(msg)


def pick(df: pd.DataFrame, names: Sequence[str]) -> str | None:
    """The first of ``names`` that is a column of ``df`` (case and spaces ignored)."""
    lookup = {str(c).strip().casefold(): c for c in df.columns}
    for name in names:
        hit = lookup.get(name.strip().casefold())
        if hit is not None:
            return str(hit)
    return None


def need(df: pd.DataFrame, names: Sequence[str], *, what: str, where: str, crm: str) -> str:
    """Like :func:`pick`, but a missing column is a clear error."""
    hit = pick(df, names)
    if hit is None:
        available = [str(c) for c in df.columns]
        shown = available if len(available) <= 15 else [*available[:15], "..."]
        msg = (
            f"{where}: no {what} column (looked for {list(names)!r}) in this {crm} export. "
            f"Available columns: {shown}."
        )
        hint = closest(names[0], available)
        if hint is not None:
            msg += f" Closest: {hint!r}."
        msg += f" Is this a {crm} file? Export it again with that column."
        raise ColumnNotFoundError(msg)
    return hit


def column(df: pd.DataFrame, names: Sequence[str]) -> pd.Series:
    """The first matching column, or an all-missing one."""
    hit = pick(df, names)
    if hit is None:
        result: pd.Series = pd.Series(None, index=df.index, dtype="object")
        return result
    return df[hit]


def text(s: pd.Series) -> pd.Series:
    """Values as stripped strings (object dtype), None where missing or empty."""
    out = s.astype("string").str.strip()
    out = out.where(out.str.len() > 0)
    result: pd.Series = out.astype("object").where(out.notna().to_numpy(), None)
    return result


def truthy(s: pd.Series) -> pd.Series:
    """CRM booleans (``true``/``1``/``Y``/``Да``) as a bool Series; missing is False."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(bool)
    t = s.astype("string").str.strip().str.casefold()
    return t.isin(["true", "1", "1.0", "y", "yes", "да", "t"]).fillna(False).astype(bool)


#: The readers take no ``decimal=`` / ``dayfirst=``: an ambiguous file is read with
#: :func:`funnelkit.read_table` first, and its DataFrame passed on.
_READ_FIRST = {
    "ambiguous_decimal": (
        "Pass decimal=',' or decimal='.'.",
        "Read the file with fk.read_table(path, decimal=',') (or decimal='.') and pass the "
        "DataFrame to the reader.",
    ),
    "ambiguous_date": (
        "Pass dayfirst=True or dayfirst=False (CLI: --dayfirst).",
        "Read the file with fk.read_table(path, dayfirst=True) (or dayfirst=False) and pass "
        "the DataFrame to the reader (CLI: --dayfirst).",
    ),
}


def _read_first(err: InvalidDataError) -> InvalidDataError:
    """The parser's error with the fix a CRM reader's caller can apply."""
    old, new = _READ_FIRST[err.reason]
    return InvalidDataError(
        str(err).replace(old, new),
        column=err.column,
        reason=err.reason,
        n_rows=err.n_rows,
        examples=err.examples,
    )


def amounts(s: pd.Series, *, where: str, column: str) -> pd.Series:
    """Money to float (NaN unknown)."""
    try:
        return parse_amounts(s, where=where, column=column).reset_index(drop=True)
    except InvalidDataError as err:
        if err.reason in _READ_FIRST:
            raise _read_first(err) from None
        raise


def dates(s: pd.Series, *, where: str, column: str, unit: str | None = None) -> pd.Series:
    """Dates to datetimes (see :func:`funnelkit._io.parse_dates`)."""
    try:
        return parse_dates(s, where=where, column=column, unit=unit).reset_index(drop=True)
    except InvalidDataError as err:
        if err.reason in _READ_FIRST:
            raise _read_first(err) from None
        raise


def as_ids(values: pd.Series) -> pd.Series:
    """Ids as int64 when every one is an integer, else as strings."""
    s = values.reset_index(drop=True)
    if pd.api.types.is_integer_dtype(s):
        return s.astype("int64")
    t = s.astype("string").str.strip()
    t = t.str.replace(r"\.0$", "", regex=True)
    if t.notna().all() and t.str.fullmatch(r"-?\d{1,18}").all():
        return t.astype("int64")
    result: pd.Series = t.astype("object").where(t.notna().to_numpy(), None)
    return result


@dataclass
class Stages:
    """Stage metadata: per pipeline, the working stages in order and the closing ones."""

    #: pipeline label -> working stage labels in order
    order: dict[str, list[str]] = field(default_factory=dict)
    #: (pipeline or None, stage id or label) -> stage label
    labels: dict[Any, str] = field(default_factory=dict)
    #: stage labels / ids that mean won / lost
    won: set[str] = field(default_factory=set)
    lost: set[str] = field(default_factory=set)
    #: pipeline id -> label
    pipelines: dict[str, str] = field(default_factory=dict)
    #: stage id -> the label of its pipeline, where stage ids are unique across pipelines
    stage_pipeline: dict[str, str] = field(default_factory=dict)

    def label(self, stage: Any, pipeline: Any = None) -> Any:
        """The label of a stage id (itself when unknown)."""
        if stage is None or (isinstance(stage, float) and np.isnan(stage)):
            return None
        key = str(stage)
        return self.labels.get((str(pipeline), key), self.labels.get((None, key), key))

    @property
    def known(self) -> bool:
        """Whether any stage order is known."""
        return bool(self.order)


def map_labels(stages: Stages, ids: pd.Series, pipelines: pd.Series | None = None) -> pd.Series:
    """Stage ids to labels, vectorized over the unique (pipeline, id) pairs."""
    ids = ids.reset_index(drop=True)
    if not stages.labels:
        return text(ids)
    pipe = (
        pd.Series([None] * len(ids), dtype="object")
        if pipelines is None
        else pipelines.reset_index(drop=True).astype("object")
    )
    key = pd.DataFrame({"p": pipe.astype("string"), "s": ids.astype("string").str.strip()})
    uniq = key.drop_duplicates().copy()
    uniq["label"] = [stages.label(s, p) for p, s in zip(uniq["p"], uniq["s"], strict=True)]
    out = key.merge(uniq, on=["p", "s"], how="left")["label"]
    result: pd.Series = out.astype("object").where(ids.notna().to_numpy(), None)
    return result


def derive_status(won: Any, lost: Any) -> pd.Series:
    """``won`` / ``lost`` / ``open`` from two boolean arrays."""
    won = np.asarray(won, dtype=bool)
    lost = np.asarray(lost, dtype=bool) & ~won
    result: pd.Series = pd.Series(
        np.where(won, "won", np.where(lost, "lost", "open")), dtype="object"
    )
    return result


def dedupe_history(history: pd.DataFrame) -> pd.DataFrame:
    """Sort by deal and time; drop rows repeating the previous stage of the same deal.

    With a ``pipeline`` column, a stage of the same name in another pipeline is
    another stage: a move between pipelines is kept.
    """
    h = history.sort_values(["deal_id", "entered_at"], kind="stable").reset_index(drop=True)
    same_deal = h["deal_id"].eq(h["deal_id"].shift())
    same_stage = h["stage"].eq(h["stage"].shift())
    if "pipeline" in h.columns:
        pipe = h["pipeline"].astype("object")
        prev = pipe.shift()
        same_stage &= pipe.eq(prev) | (pipe.isna() & prev.isna())
    result: pd.DataFrame = h[~(same_deal & same_stage)].reset_index(drop=True)
    return result


def order_from_history(history: pd.DataFrame, *, crm: str) -> list[str]:
    """Stage order from the history: stages sorted by their median entry position."""
    if history.empty:
        return []
    h = history.sort_values(["deal_id", "entered_at"], kind="stable")
    rank = h.groupby("deal_id", sort=False).cumcount()
    med = rank.groupby(h["stage"].to_numpy()).median()
    first = h.groupby("stage")["entered_at"].min()
    table = pd.DataFrame({"median": med, "first": first.reindex(med.index)})
    order = [str(s) for s in table.sort_values(["median", "first"], kind="stable").index]
    warnings.warn(
        f"{crm}: no stage metadata given, so the stage order {order} was inferred from the "
        f"history (stages sorted by median entry position). Pass the CRM's stage list "
        f"(stages=) to use its own order.",
        FunnelkitWarning,
        stacklevel=4,
    )
    return order


def align_zones(
    deals_tz: Any, history: pd.DataFrame, *, timezone: str | None, crm: str, where: str
) -> pd.DataFrame:
    """Make the history's entry times naive/aware like the deal table's."""
    if history.empty:
        return history
    h_aware = isinstance(history["entered_at"].dtype, pd.DatetimeTZDtype)
    d_aware = deals_tz is not None
    if h_aware == d_aware:
        return history
    if timezone is None:
        msg = (
            f"{crm}: the deals are {'UTC instants' if d_aware else 'local times (a UI export)'} "
            f"but the history ({where}) holds {'UTC instants' if h_aware else 'local times'}. "
            f"Pass timezone= (the CRM account's time zone, e.g. timezone='Europe/Moscow') to "
            f"express both in local time."
        )
        raise InvalidParameterError(msg)
    h = history.copy()
    if h_aware:
        h["entered_at"] = h["entered_at"].dt.tz_convert(timezone).dt.tz_localize(None)
    else:
        h["entered_at"] = h["entered_at"].dt.tz_localize(timezone).dt.tz_convert("UTC")
    result: pd.DataFrame = h
    return result


def is_open_now(d: pd.DataFrame) -> Any:
    """Mask of the open deals."""
    return (d["status"] == "open").to_numpy()


def finish(
    deals: pd.DataFrame,
    history: pd.DataFrame | None,
    stages: Stages,
    *,
    crm: str,
    func: str,
    pipeline: str | None,
    history_where: str = "history",
    timezone: str | None = None,
) -> SalesData:
    """Canonical SalesData from a raw deal table and raw history.

    ``deals`` holds ``deal_id, created_at, close_date, status, amount,
    stage`` (the CRM's current stage label) and any of ``owner, channel,
    lost_reason, currency, pipeline, name, expected_close``; ``history``
    holds ``deal_id, stage, entered_at`` (labels) or is None.
    """
    d = deals.reset_index(drop=True).copy()
    d["deal_id"] = as_ids(d["deal_id"])
    bad = d["deal_id"].isna().to_numpy()
    if bad.any():
        msg = f"{crm}: {int(bad.sum()):,} of {len(d):,} deals have no id. Remove those rows."
        raise InvalidDataError(msg, column="deal_id", reason="null", n_rows=int(bad.sum()))
    dup = d["deal_id"].duplicated().to_numpy()
    if dup.any():
        first = plain(d["deal_id"][dup].iloc[0])
        msg = (
            f"{crm}: {int(dup.sum()):,} deal ids appear more than once (first: {first!r}). "
            f"Export each deal once."
        )
        raise InvalidDataError(msg, column="deal_id", reason="duplicate", n_rows=int(dup.sum()))
    status = d["status"]
    close = d.pop("close_date")
    is_open = (status == "open").to_numpy()
    d["closed_at"] = close.where(~is_open)
    if "expected_close" not in d.columns:
        d["expected_close"] = close.where(is_open)
    if "pipeline" not in d.columns:
        d["pipeline"] = None
    closing = stages.won | stages.lost
    # ---- history -----------------------------------------------------------------
    if history is not None:
        h = history.reset_index(drop=True).copy()
        h["deal_id"] = as_ids(h["deal_id"])
        if h["deal_id"].dtype != d["deal_id"].dtype:
            h["deal_id"] = h["deal_id"].astype(str).astype("object")
            d["deal_id"] = d["deal_id"].astype(str).astype("object")
        h = h[h["entered_at"].notna().to_numpy() & h["stage"].notna().to_numpy()]
        unknown = ~h["deal_id"].isin(d["deal_id"]).to_numpy()
        if unknown.any():
            first = plain(h["deal_id"][unknown].iloc[0])
            msg = (
                f"{crm}: {int(unknown.sum()):,} of {len(h):,} history rows ({history_where}) "
                f"belong to deals that are not in the deal table (first: {first!r}). Export "
                f"the deals and the history together, or filter the history to those deals."
            )
            raise InvalidDataError(
                msg, column="deal_id", reason="missing_deal", n_rows=int(unknown.sum())
            )
        tz = getattr(d["created_at"].dtype, "tz", None)
        h = align_zones(tz, h, timezone=timezone, crm=crm, where=history_where)
        if "pipeline" not in h.columns:
            h["pipeline"] = h["deal_id"].map(d.set_index("deal_id")["pipeline"])
        h = h[~h["stage"].isin(closing).to_numpy()]
        h = dedupe_history(h)
        if stages.known:
            allowed = {s for order in stages.order.values() for s in order}
            unknown_stage = ~h["stage"].isin(allowed).to_numpy()
            if unknown_stage.any():
                values = sorted({str(v) for v in h["stage"][unknown_stage]})[:5]
                msg = (
                    f"{crm}: {int(unknown_stage.sum()):,} of {len(h):,} history rows "
                    f"({history_where}) name stages that are not in the stage metadata: "
                    f"{values}. Pass the stage list of every pipeline the deals use (or the "
                    f"current one)."
                )
                raise InvalidDataError(
                    msg, column="stage", reason="unknown_stage", n_rows=int(unknown_stage.sum())
                )
        last = h.groupby("deal_id", sort=False)["stage"].last()
        from_history = d["deal_id"].map(last)
        current = d["stage"].where(~d["stage"].isin(closing).to_numpy())
        d["stage"] = from_history.where(from_history.notna(), current)
    else:
        h = pd.DataFrame(
            {
                "deal_id": pd.Series([], dtype=d["deal_id"].dtype),
                "stage": pd.Series([], dtype="object"),
                "entered_at": pd.Series([], dtype=d["created_at"].dtype),
                "pipeline": pd.Series([], dtype="object"),
            }
        )
        d["stage"] = d["stage"].where(~d["stage"].isin(closing).to_numpy())
    if stages.known and not (history is not None and len(h)):
        allowed = {s for order in stages.order.values() for s in order}
        bad_stage = (d["stage"].notna() & ~d["stage"].isin(allowed)).to_numpy() & is_open
        if bad_stage.any():
            values = sorted({str(v) for v in d["stage"][bad_stage]})[:5]
            msg = (
                f"{crm}: {int(bad_stage.sum()):,} open deals sit at stages that are not in the "
                f"stage metadata: {values}. Pass the stage list of every pipeline the deals use."
            )
            raise InvalidDataError(
                msg, column="stage", reason="unknown_stage", n_rows=int(bad_stage.sum())
            )
    # ---- pipelines ----------------------------------------------------------------
    used = [p for p in pd.unique(d["pipeline"].dropna()) if p is not None]
    if pipeline is not None:
        if pipeline not in used and pipeline not in stages.order:
            msg = (
                f"The 'pipeline' parameter of {func} must be one of the pipelines of the "
                f"deals: {sorted(map(str, used))}. Got {pipeline!r} instead."
            )
            raise InvalidParameterError(msg)
        keep = (d["pipeline"] == pipeline).to_numpy()
        d = d[keep].reset_index(drop=True)
        # a deal moved in from another pipeline: its stage entries there are not this pipeline's
        in_pipe = (h["pipeline"].isna() | (h["pipeline"] == pipeline)).to_numpy()
        h = h[h["deal_id"].isin(d["deal_id"]).to_numpy() & in_pipe].reset_index(drop=True)
        used = [pipeline]
    # pipelines the deals passed through before moving to their current one
    moved = [p for p in pd.unique(h["pipeline"].dropna()) if p is not None and p not in used]
    if stages.known:
        orders = {tuple(stages.order[p]) for p in used if p in stages.order}
        other = {tuple(stages.order[p]) for p in moved if p in stages.order}
        if pipeline is None and orders and other - orders:
            listing = ", ".join(repr(p) for p in moved if tuple(stages.order.get(p, ())) in other)
            msg = (
                f"{crm}: the history ({history_where}) moves deals through pipelines with other "
                f"stages than the deals' current ones: {listing}. Pass pipeline= to analyse one "
                f"pipeline (its deals, and their stage entries in it)."
            )
            raise InvalidParameterError(msg)
        if not used or not orders:
            orders = {tuple(o) for o in stages.order.values()}
            # pipelines named differently in the deals: the one whose stages they use
            seen = set(h["stage"].dropna()) | set(d.loc[is_open_now(d), "stage"].dropna())
            fits = {o for o in orders if seen <= set(o)}
            if len(fits) == 1 or (fits and len(orders) > 1 and seen):
                orders = fits
        if len(orders) > 1:
            counts = d["pipeline"].value_counts()
            listing = ", ".join(f"{p!r} ({n:,} deals)" for p, n in counts.items())
            msg = (
                f"{crm}: the deals belong to {len(counts)} pipelines with different stages: "
                f"{listing}. Pass pipeline= to analyse one of them (stage order is per "
                f"pipeline)."
            )
            raise InvalidParameterError(msg)
        order = list(next(iter(orders)))
    else:
        if history is None or h.empty:
            warnings.warn(
                f"{crm}: the stage order is unknown (no stage metadata, no history), so stages "
                f"is empty; pass the CRM's stage list (stages=) for pipeline() and the stage "
                f"metrics.",
                FunnelkitWarning,
                stacklevel=3,
            )
        elif len(set(used) | set(moved)) > 1 and pipeline is None:
            counts = d["pipeline"].value_counts()
            listing = ", ".join(f"{p!r} ({n:,} deals)" for p, n in counts.items())
            msg = (
                f"{crm}: the deals belong to {len(counts)} pipelines ({listing}) and no stage "
                f"metadata gives their stage order. Pass pipeline= to analyse one of them."
            )
            if moved:
                msg += f" The history also moves deals through {sorted(map(str, moved))}."
            raise InvalidParameterError(msg)
        order = order_from_history(h, crm=crm) if history is not None and not h.empty else []
    # ---- shape --------------------------------------------------------------------
    if order:
        rank = {s: i for i, s in enumerate(order)}
        h = h.assign(_r=h["stage"].map(rank))
        h = h.sort_values(["deal_id", "entered_at", "_r"], kind="stable").drop(columns="_r")
    cols = [c for c in DEAL_COLUMNS if c in d.columns]
    extra = [c for c in d.columns if c not in DEAL_COLUMNS]
    d = d[cols + extra]
    for name in OPTIONAL:
        if name in d.columns and d[name].isna().all():
            d = d.drop(columns=name)
    for name in ("owner", "channel", "lost_reason", "stage", "name"):
        if name not in d.columns:
            d[name] = None
        elif name in d.columns:
            d[name] = d[name].astype("object").where(d[name].notna().to_numpy(), None)
    d = d[[c for c in DEAL_COLUMNS if c in d.columns] + extra]
    d["amount"] = d["amount"].astype("float64")
    h_cols = ["deal_id", "stage", "entered_at"]
    if "pipeline" in d.columns:
        h_cols.append("pipeline")
    h = h[h_cols].reset_index(drop=True)
    return SalesData(
        deals=canonical_dtypes(d.reset_index(drop=True)),
        history=canonical_dtypes(h),
        stages=tuple(order),
    )


def canonical_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """Dates at ns resolution (tz kept) and text as object, on every pandas version.

    pandas 3 parses and builds some dates at another resolution and infers its
    ``str`` dtype for text; the readers return the same dtypes everywhere.
    """
    out: pd.DataFrame = df.copy()
    for name in out.columns:
        s = out[name]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[name] = s.astype(pd.DatetimeTZDtype("ns", s.dtype.tz))
        elif pd.api.types.is_datetime64_dtype(s):
            out[name] = s.astype("datetime64[ns]")
        elif isinstance(s.dtype, pd.StringDtype):
            out[name] = s.astype("object").where(s.notna().to_numpy(), None)
    return out


def first_stage_rows(
    deals: pd.DataFrame, changes: pd.DataFrame, *, initial: pd.Series | None = None
) -> pd.DataFrame:
    """The creation row of each deal: the stage it was created in, at ``created_at``.

    ``changes`` are stage-change rows (``deal_id, stage, entered_at`` plus
    ``old`` = the stage before); a deal's initial stage is the ``old`` of its
    first change, or its current stage when it never changed stage.
    """
    c = changes.sort_values(["deal_id", "entered_at"], kind="stable")
    first_old = c.groupby("deal_id", sort=False)["old"].first()
    start = deals["deal_id"].map(first_old)
    current = deals["stage"] if initial is None else initial
    start = start.where(start.notna(), current)
    rows: pd.DataFrame = pd.DataFrame(
        {"deal_id": deals["deal_id"], "stage": start, "entered_at": deals["created_at"]}
    )
    return rows
