"""Dask DataFrames in, pandas results out: the machinery, not the metrics.

The event functions reduce a log partition by partition once every entity's
events sit in one partition; this module does the Dask part of that (select
the columns, filter each input partition, shuffle by entity, reduce each
output partition, bring the small results back) and nothing else.  The
reductions themselves are the pandas path's own functions, passed in.

Nothing here imports dask at module level: ``import funnelkit`` stays free
of it.  A Dask DataFrame is recognised by the module of its type, so a Dask
input implies that dask is installed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd

from funnelkit.errors import InvalidDataError, InvalidParameterError

S = TypeVar("S")
R = TypeVar("R")

N_EXAMPLES = 5
INSTALL = 'pip install "funnelkit[dask]"'


def is_dask(obj: Any) -> bool:
    """Whether ``obj`` is a Dask collection (without importing dask)."""
    return type(obj).__module__.partition(".")[0] in ("dask", "dask_expr")


def require_dask(what: str) -> None:
    """Raise a helpful ImportError when dask (and distributed) are not installed."""
    try:
        import dask.dataframe  # noqa: F401
    except ImportError as exc:
        msg = f"{what} needs Dask, an optional extra of funnelkit: {INSTALL}"
        raise ImportError(msg) from exc


def meta_frame(events: Any, *, func: str) -> pd.DataFrame:
    """The empty pandas frame describing a Dask DataFrame's columns and dtypes.

    A named index that is not also a column reads as a column (as
    :func:`with_index_column` gives it), so ``entity=`` may name the index.
    """
    meta = getattr(events, "_meta", None)
    if not isinstance(meta, pd.DataFrame):
        msg = (
            f"The 'events' argument of {func} must be a pandas or Dask DataFrame. "
            f"Got {type(events).__module__}.{type(events).__name__} instead."
        )
        raise InvalidParameterError(msg)
    if _index_as_column(meta):
        return cast(pd.DataFrame, meta.reset_index())
    return meta


def _index_as_column(meta: pd.DataFrame) -> bool:
    name = meta.index.name
    return name is not None and name not in meta.columns


def with_index_column(events: Any) -> Any:
    """The Dask frame with a named index that is not a column made a column.

    Partition by partition (no data moves), so partition ``i`` keeps its rows.
    """
    return events.reset_index() if _index_as_column(events._meta) else events


def partitioned_by(events: Any, entity: Hashable) -> bool:
    """Whether every value of ``entity`` sits in one partition: no shuffle is needed.

    True when ``entity`` is the index with known, strictly increasing
    divisions (``set_index(entity)``, or ``read_parquet(..., index=entity,
    calculate_divisions=True)`` on files that do not share an entity): each
    partition holds the index values from its division up to the next one.
    """
    if events._meta.index.name != entity or not events.known_divisions:
        return False
    inner = list(events.divisions[:-1])
    try:
        return all(a < b for a, b in itertools.pairwise(inner))
    except TypeError:  # values that do not compare: shuffle to be safe
        return False


def _bounds(entity: Hashable, part: pd.DataFrame) -> tuple[Any, Any] | None:
    """The smallest and largest entity of a partition's kept rows (None: no rows).

    Ids that do not order (mixed types) give ``(nan, nan)``, which no range
    check passes.
    """
    values = part[entity].dropna()
    if values.empty:
        return None
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.dtype.categories.dtype)
    try:
        return values.min(), values.max()
    except TypeError:
        return float("nan"), float("nan")


def _disjoint(bounds: list[tuple[Any, Any] | None]) -> bool:
    """Whether the partitions' entity ranges overlap nowhere (each entity in one)."""
    try:
        spans = sorted(b for b in bounds if b is not None)
        return all(hi < lo for (_, hi), (lo, _) in itertools.pairwise(spans))
    except TypeError:  # values that do not compare: not known to be disjoint
        return False


def map_entities(
    events: Any,
    *,
    entity: str,
    columns: list[Hashable],
    prefilter: Callable[[pd.DataFrame], tuple[np.ndarray[Any, Any], S]],
    reduce: Callable[[pd.DataFrame], R],
) -> tuple[list[S], list[R]]:
    """Filter, shuffle by entity, reduce; return every partition's stats and result.

    A log already partitioned by entity (:func:`partitioned_by`) is not
    shuffled: each input partition is reduced where it is.

    ``prefilter`` runs on each input partition (restricted to ``columns``) and
    returns the positions of the rows to keep and some statistics; the kept
    rows are shuffled so that each entity's rows land in one partition, put
    back in input order (ties in time are broken by it, as in pandas), and
    reduced there by ``reduce``.
    Both lists are computed in one pass (the input is read once) and brought
    back to the caller; each item must be small.
    """
    require_dask("A Dask DataFrame as input")  # e.g. dask without its dataframe extra
    import dask as dask_untyped
    import dask.dataframe as dd

    dask = cast(Any, dask_untyped)  # dask's top level is not typed
    in_place = partitioned_by(events, entity)
    ddf = with_index_column(events)[columns]
    row = _ROW
    while row in ddf.columns:
        row += "_"
    meta = ddf._meta.assign(**{row: np.zeros(0, dtype=np.int64)})
    pre = [
        dask.delayed(_filter_and_number, nout=2)(prefilter, row, i, part)
        for i, part in enumerate(ddf.to_delayed())
    ]
    stats = [p[1] for p in pre]
    if in_place:
        # every entity's rows already in one partition: reduce them where they are, and
        # check it on the way (the entity ranges of the partitions must not overlap)
        bounds = [dask.delayed(_bounds)(entity, p[0]) for p in pre]
        results = [dask.delayed(_restore_order)(reduce, row, p[0]) for p in pre]
        stats_out, results_out, bounds_out = dask.compute(stats, results, bounds)
        if _disjoint(list(bounds_out)):
            return list(stats_out), list(results_out)
    kept = dd.from_delayed([p[0] for p in pre], meta=meta, verify_meta=False)
    shuffled = kept.shuffle(on=entity)
    results = [dask.delayed(_restore_order)(reduce, row, part) for part in shuffled.to_delayed()]
    stats_out, results_out = dask.compute(stats, results)
    return list(stats_out), list(results_out)


_ROW = "__funnelkit_row"
_ROW_BITS = 40  # rows per input partition < 2**40


def _filter_and_number(
    prefilter: Callable[[pd.DataFrame], tuple[np.ndarray[Any, Any], S]],
    row: str,
    index: int,
    part: pd.DataFrame,
) -> tuple[pd.DataFrame, S]:
    """Filter one input partition; number the kept rows by their place in the whole input."""
    keep, stats = prefilter(part)
    number = (np.int64(index) << np.int64(_ROW_BITS)) + keep.astype(np.int64)
    return part.iloc[keep].assign(**{row: number}), stats


def _restore_order(reduce: Callable[[pd.DataFrame], R], row: str, part: pd.DataFrame) -> R:
    """Put a shuffled partition back in input order (ties are broken by it), then reduce."""
    order = np.argsort(part[row].to_numpy(), kind="stable")
    return reduce(part.iloc[order].drop(columns=row))


def null_error(
    events: Any, column: str, n_null: int, n_rows: int, *, table: str, dropna: bool = True
) -> InvalidDataError:
    """The pandas path's null-id error, with counts over all partitions.

    ``dropna``: the function offers ``dropna=`` (then the message suggests it).
    """
    events = with_index_column(events)
    examples = events.loc[events[column].isna()].head(N_EXAMPLES, npartitions=-1)
    first = ""
    if len(examples):
        first = f" (first: {examples[column].iloc[0]!r} at index {examples.index[0]!r})"
    msg = (
        f"{table}[{column!r}] has {n_null:,} of {n_rows:,} rows that are null{first}. "
        f"Drop or fill them first (e.g. {table}.dropna(subset=[{column!r}]))"
        + (", or pass dropna=True to leave them out with a warning." if dropna else ".")
    )
    return InvalidDataError(msg, column=column, reason="null", n_rows=n_null, examples=examples)


def distinct(events: Any, column: str) -> list[Any]:
    """Distinct non-null values of a column (for error messages)."""
    return list(with_index_column(events)[column].dropna().unique().compute())


def check_one_time_zone(zones: list[Any], *, column: str) -> None:
    """Refuse partitions whose time strings parsed to different time zones."""
    names = sorted({str(z) for z in zones})
    if len(names) > 1:
        msg = (
            f"events[{column!r}] mixes time zones across partitions ({', '.join(names)}). "
            f"Convert it to one time zone first (e.g. pd.to_datetime(..., utc=True))."
        )
        raise InvalidDataError(msg, column=column, reason="mixed_tz")
