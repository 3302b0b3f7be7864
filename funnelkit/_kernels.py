"""Per-entity funnel kernels: pure numpy on integer arrays, no pandas.

Entry point: :func:`funnel_kernel`.  It takes already-validated arrays

* ``codes``  int64 entity code per row (any order, need not be dense),
* ``time``   int64 nanoseconds per row (no NaT),
* ``members`` one increasing int64 array of row positions per step: the rows
  whose event fills that step,

and returns a :class:`FunnelTable`: per entity that reached step 1, the
deepest step reached, the time of each step of the winning chain, and the rows
of its first and deepest step (for attribution).

Definitions (``K`` steps, window ``w``; times compared as integers):

* ``order="ordered"``: a *chain* is a sequence of distinct rows
  ``r1, ..., rk`` with ``ri`` filling step ``i`` and ``t(r1) <= ... <= t(rk)``
  (``<`` with ``ties="strict"``) and ``t(rk) - t(r1) <= w``.  The level is the
  largest ``k`` with a chain.  Equal to ClickHouse ``windowFunnel`` (default
  mode) when no event fills two steps.
* ``order="strict"``: as ordered, and no row of the entity lies strictly in
  time between ``r(i-1)`` and ``ri`` unless it fills step ``i-1`` (a repeat of
  the step just reached).
* ``order="any"``: level ``k`` when some interval ``[s, s + w]`` (``s`` the
  time of a step row) holds a row of each of steps ``1..k``.

Winning chain (ordered / strict): among the chains of the deepest level, the
one that completes first; among those, the one with the latest start.  Its
step times: ``ordered`` - the earliest time of each step among those chains
(the first occurrence after the previous step); ``strict`` - the occurrence
adjacent to the next step (the latest).  ``any``: the earliest interval start
``s`` reaching the deepest level, and each step's first occurrence at or after
``s``.  Attribution rows: among the rows filling the step at the chosen time,
the first in input order.

Algorithm (ordered): the latest chain start reachable at level ``j`` never
decreases along an entity's time, so level ``j`` follows from level ``j - 1``
with one sorted search per step (``searchsorted`` of the step's sorted
``(entity, time)`` keys into the previous level's valid keys).  Only the rows
of each step are sorted, and from step 2 on only those of entities still in
the funnel; there is no loop over rows or entities.

Entities are independent: a log partitioned by entity (e.g. a Dask DataFrame
shuffled on the entity column) can be reduced partition by partition with
:func:`funnel_kernel` and the per-entity tables concatenated.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import numpy as np

I64 = np.ndarray[Any, np.dtype[np.int64]]
Bool = np.ndarray[Any, np.dtype[np.bool_]]

Rows = bool | Literal["first", "last", "both", "none"]

#: Integer value that stands for NaT in time arrays.
NAT = np.iinfo(np.int64).min
_EMPTY: I64 = np.zeros(0, dtype=np.int64)
#: Most steps linked by shared events (a step listing several events that shares
#: one with another step, ties allowed): the exact check enumerates the subsets
#: of each group of linked steps.
MAX_HALL_STEPS = 12
#: Most steps when steps share events and ties are allowed (one bit per step).
MAX_SHARED_STEPS = 62
_RESOLUTIONS = (86_400_000_000_000, 1_000_000_000, 1_000_000, 1_000, 1)


@dataclass(frozen=True)
class FunnelTable:
    """Per-entity result of :func:`funnel_kernel` (entities that reached step 1).

    Attributes
    ----------
    entities : int64 array (n,)
        Sorted entity codes (from ``codes``) with at least one step-1 row.
    reached : int64 array (n,)
        Deepest step reached, 1..K.
    step_time : int64 array (n, K)
        Time (ns) of each step of the winning chain; ``NAT`` beyond ``reached``.
    first_row : int64 array (n,)
        Row position of the winning chain's step-1 row (-1 when not asked for).
    last_row : int64 array (n,)
        Row position of the winning chain's deepest row (-1 when not asked for).
    """

    entities: I64
    reached: I64
    step_time: I64
    first_row: I64
    last_row: I64

    @property
    def n_steps(self) -> int:
        """Number of steps K."""
        return int(self.step_time.shape[1])

    def counts(self) -> I64:
        """Entities reaching at least step k, k = 1..K."""
        hist = np.bincount(self.reached, minlength=self.n_steps + 1)
        return np.cumsum(hist[::-1])[::-1][1:].astype(np.int64)


def empty_table(n_steps: int) -> FunnelTable:
    """A :class:`FunnelTable` with no entities."""
    return FunnelTable(
        _EMPTY,
        _EMPTY,
        np.zeros((0, n_steps), dtype=np.int64),
        _EMPTY,
        _EMPTY,
    )


# ----------------------------------------------------------------------------
# (entity, time) packed into one sortable int64 key
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Keys:
    """Packs (entity code, time) into one int64 whose order is (entity, time)."""

    cmin: int
    shift: int
    tmin: int
    g: int
    uniq_codes: I64 | None  # entity codes were made dense: code = uniq_codes[rel]
    uniq_times: I64 | None  # times were rank-compressed: time = uniq_times[kt]

    @property
    def mask(self) -> int:
        return (1 << self.shift) - 1

    def rel_codes(self, codes: I64) -> I64:
        if self.uniq_codes is not None:
            return cast(I64, np.searchsorted(self.uniq_codes, codes).astype(np.int64))
        return cast(I64, codes - np.int64(self.cmin))

    def key_time(self, t: I64) -> I64:
        if self.uniq_times is not None:
            return cast(I64, np.searchsorted(self.uniq_times, t).astype(np.int64))
        if self.g == 1:
            return cast(I64, t - np.int64(self.tmin))
        return cast(I64, (t - np.int64(self.tmin)) // np.int64(self.g))

    def pack(self, codes: I64, t: I64) -> I64:
        return cast(I64, (self.rel_codes(codes) << self.shift) | self.key_time(t))

    def pack_rel(self, rel: I64, kt: I64) -> I64:
        return cast(I64, (rel << self.shift) | kt)

    def ent(self, key: I64) -> I64:
        return cast(I64, key >> self.shift)

    def kt(self, key: I64) -> I64:
        return cast(I64, key & np.int64(self.mask))

    def codes_of(self, rel: I64) -> I64:
        if self.uniq_codes is not None:
            return cast(I64, self.uniq_codes[rel])
        return cast(I64, rel + np.int64(self.cmin))

    def real(self, kt: I64) -> I64:
        """Key times back to nanoseconds."""
        if self.uniq_times is not None:
            return cast(I64, self.uniq_times[kt])
        if self.g == 1:
            return cast(I64, kt + np.int64(self.tmin))
        return cast(I64, kt * np.int64(self.g) + np.int64(self.tmin))

    def within(self, kt_end: I64, kt_start: I64, window: int | None) -> Bool:
        """``time(end) - time(start) <= window`` (True everywhere when None)."""
        if window is None:
            return np.ones(kt_end.shape, dtype=bool)
        if self.uniq_times is not None:
            return (self.real(kt_end) - self.real(kt_start)) <= window
        return (kt_end - kt_start) <= window // self.g


#: Values per block of the passes over every row that keep no result per row
#: (a 512 KiB buffer: the temporaries stay in the cache, no fresh memory).
BLOCK = 65_536


def _blocks(n: int) -> range:
    return range(0, n, BLOCK)


def lookup_blocks(table: Any, idx: Any) -> Any:
    """``table[idx]``, read in blocks.

    Small integer ``idx`` (int8 category codes, say) are widened to the
    index type a block at a time, not into one temporary the size of ``idx``.
    """
    out = np.empty(idx.shape[0], dtype=table.dtype)
    for a in _blocks(idx.shape[0]):
        out[a : a + BLOCK] = table[idx[a : a + BLOCK]]
    return out


def time_unit(time: I64, tmin: int, span: int) -> int:
    """The coarsest of day, s, ms, us dividing every ``time - tmin`` (1 when none).

    ``tmin`` is the smallest time and ``span`` the largest offset; a unit
    longer than the span is never taken.  Read in blocks through one buffer
    (the first block is a cheap look before the whole array).
    """
    t0 = np.int64(tmin)
    buf = np.empty(min(BLOCK, time.size), dtype=np.int64)

    def divides(r: np.int64) -> bool:
        for a in _blocks(time.size):
            part = buf[: min(BLOCK, time.size - a)]
            np.subtract(time[a : a + BLOCK], t0, out=part)
            if np.remainder(part, r, out=part).any():
                return False
        return True

    for res in _RESOLUTIONS:
        if res <= span and divides(np.int64(res)):
            return res
    return 1


def _make_keys(codes: I64, time: I64) -> _Keys:
    cmin, cmax = int(codes.min()), int(codes.max())
    tmin, tmax = int(time.min()), int(time.max())
    span = tmax - tmin
    g = time_unit(time, tmin, span) if span > 0 else 1
    tbits = max((span // g).bit_length(), 1)
    cbits = max((cmax - cmin).bit_length(), 1)
    uniq_codes: I64 | None = None
    uniq_times: I64 | None = None
    if cbits + tbits > 62:
        uniq_times = _sorted_unique(time)
        tbits = max((len(uniq_times) - 1).bit_length(), 1)
        g = 1
    if cbits + tbits > 62:
        uniq_codes = _sorted_unique(codes)
        cbits = max((len(uniq_codes) - 1).bit_length(), 1)
    return _Keys(cmin, tbits, tmin, g, uniq_codes, uniq_times)


def _sorted_unique(values: I64) -> I64:
    """Sorted distinct values (a sort and a mask; numpy's unique may hash, slower here)."""
    v = np.sort(values)
    if v.size == 0:
        return v
    return cast(I64, v[np.r_[True, v[1:] != v[:-1]]])


def _run_starts(ent: I64) -> I64:
    """Positions where a sorted entity array starts a new entity."""
    if ent.size == 0:
        return _EMPTY
    return np.flatnonzero(np.r_[True, ent[1:] != ent[:-1]]).astype(np.int64)


def _first_rows_of_entities(keys: _Keys, members: I64, keys_of_members: I64, targets: I64) -> I64:
    """:func:`_first_rows` when each target is a different entity's key.

    With a small code range, no sort: a table of each entity's target marks the
    member rows that carry its key, and the smallest such row per entity is kept.
    """
    if targets.size == 0:
        return np.empty(0, dtype=np.int64)
    t_ent = keys.ent(targets)
    span = int(t_ent.max()) + 1
    if span > 8 * keys_of_members.size + 1024:
        return _first_rows(members, keys_of_members, targets)
    slot = np.full(span, -1, dtype=np.int64)  # the target of each entity (-1: none)
    slot[t_ent] = np.arange(targets.size, dtype=np.int64)
    s = slot[np.minimum(keys.ent(keys_of_members), span - 1)]
    hit = np.flatnonzero((s >= 0) & (targets[np.maximum(s, 0)] == keys_of_members))
    first = np.full(targets.size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, s[hit], members[hit])
    return first


def _first_rows(members: I64, keys_of_members: I64, targets: I64) -> I64:
    """For each target key, the first (in input order) member row with that key."""
    order = np.argsort(keys_of_members)
    sk = keys_of_members[order]
    rows = members[order]
    # equal keys may come in any order: take the smallest row of each run of equal keys
    starts = _run_starts(sk)
    run_min = np.minimum.reduceat(rows, starts) if starts.size else rows
    pos = np.searchsorted(sk, targets, side="left")  # always the start of a run
    return cast(I64, run_min[np.searchsorted(starts, pos)].astype(np.int64))


def linked_components(patterns: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Components of steps linked by shared patterns: (step bit mask, pattern indices).

    ``patterns`` are bit masks of steps (one per kind of row); two patterns
    sharing a step belong to one component.
    """
    comps: list[tuple[int, list[int]]] = []
    for i, pat in enumerate(patterns):
        mask, members = pat, [i]
        rest = []
        for cm, cp in comps:
            if cm & mask:
                mask |= cm
                members += cp
            else:
                rest.append((cm, cp))
        comps = [*rest, (mask, sorted(members))]
    return comps


def _check_disjoint(members: Sequence[I64], n_rows: int) -> bool:
    seen = np.zeros(n_rows, dtype=np.int8)
    for m in members:
        seen[m] += 1
    return not bool((seen > 1).any())


# ----------------------------------------------------------------------------
# the work split by entity across threads
# ----------------------------------------------------------------------------
#: Most threads a call starts when ``n_jobs`` is None.
MAX_THREADS = 8
#: Fewest kernel rows per thread when ``n_jobs`` is None: smaller logs stay in
#: the calling thread (starting threads and the per-part work would cost more
#: than the split saves).
MIN_ROWS_PER_THREAD = 100_000

T = TypeVar("T")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_jobs(n_jobs: int | None, n_rows: int) -> int:
    """Threads for a kernel call over ``n_rows`` rows.

    None: one per available core, at most :data:`MAX_THREADS` and at most one
    per :data:`MIN_ROWS_PER_THREAD` rows (so small logs run in the calling
    thread).  An integer >= 1 is used as given (at most one thread per row).
    """
    if n_jobs is None:
        return max(1, min(available_cores(), MAX_THREADS, n_rows // MIN_ROWS_PER_THREAD))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs < 1:
        msg = f"n_jobs must be None or an integer >= 1, got {n_jobs!r}"
        raise ValueError(msg)
    return max(1, min(int(n_jobs), n_rows))


@dataclass(frozen=True)
class _Part:
    """The rows of one range of entity codes: positions into the input arrays."""

    members: list[I64]
    exclusions: list[Exclusion]


def _code_bounds(codes: I64, parts: int) -> list[int]:
    """Code thresholds cutting the entities into ``parts`` ranges of about equal rows.

    Quantiles of a regular sample of the codes; equal thresholds merge, so
    fewer ranges may come back.  Range ``i`` is ``bounds[i] <= code < bounds[i + 1]``
    with the first and last ranges open.
    """
    step = max(1, codes.size // 65_536)
    sample = np.sort(codes[::step])
    cuts = [int(sample[(sample.size * i) // parts]) for i in range(1, parts)]
    return sorted(set(cuts))


def _make_part(
    codes: I64,
    members: Sequence[I64],
    exclusions: Sequence[Exclusion],
    lo: int | None,
    hi: int | None,
) -> _Part:
    """The member and exclusion rows whose entity code lies in ``[lo, hi)`` (None: open).

    The rows stay positions into the input arrays (no copy of codes or
    times).
    """

    def inside(c: I64) -> Bool:
        if lo is not None and hi is not None:
            return cast(Bool, (c >= lo) & (c < hi))
        if lo is not None:
            return cast(Bool, c >= lo)
        if hi is not None:
            return cast(Bool, c < hi)
        return np.ones(c.shape, dtype=bool)

    if 4 * (sum(m.size for m in members) + sum(e.rows.size for e in exclusions)) < codes.size:
        # few rows (the entities an exclusion reaches, say): look up their codes only
        def mine_of(r: I64) -> I64:
            return cast(I64, r[inside(codes[r])])

        return _Part(
            [mine_of(m) for m in members],
            [Exclusion(e.first, e.last, mine_of(e.rows)) for e in exclusions],
        )
    # one pass over the codes (cheaper than looking up the codes of each step's rows)
    mine = inside(codes)
    mem = [m[mine[m]] for m in members]
    ex = [Exclusion(e.first, e.last, e.rows[mine[e.rows]]) for e in exclusions]
    return _Part(mem, ex)


def _by_entity(
    fn: Callable[[_Part], T],
    codes: I64,
    time: I64,
    members: Sequence[I64],
    exclusions: Sequence[Exclusion],
    jobs: int,
) -> list[T]:
    """``fn`` on each part of the rows cut by entity code, one thread per part.

    Entities are independent, so the parts' results, in code order, are the
    whole log's.  Each thread selects its own rows (the selection is part of
    the work split).  The pool belongs to the call and is shut down before
    returning; an exception in a thread is raised here.
    """
    cuts = _code_bounds(codes, jobs)
    bounds: list[int | None] = [None, *cuts, None]

    def one(i: int) -> T:
        return fn(_make_part(codes, members, exclusions, bounds[i], bounds[i + 1]))

    with ThreadPoolExecutor(max_workers=len(bounds) - 1, thread_name_prefix="funnelkit") as pool:
        return list(pool.map(one, range(len(bounds) - 1)))


def concat_tables(tables: Sequence[FunnelTable], n_steps: int) -> FunnelTable:
    """Tables of consecutive entity ranges as one (step times column-contiguous)."""
    if not tables:
        return empty_table(n_steps)
    n = sum(t.entities.size for t in tables)
    step_time = np.empty((n_steps, n), dtype=np.int64).T  # the kernel's layout
    at = 0
    for t in tables:
        step_time[at : at + t.entities.size] = t.step_time
        at += t.entities.size
    return FunnelTable(
        np.concatenate([t.entities for t in tables]),
        np.concatenate([t.reached for t in tables]),
        step_time,
        np.concatenate([t.first_row for t in tables]),
        np.concatenate([t.last_row for t in tables]),
    )


# ----------------------------------------------------------------------------
# the kernel
# ----------------------------------------------------------------------------
def funnel_kernel(
    codes: I64,
    time: I64,
    members: Sequence[I64],
    *,
    window: int | None,
    order: Literal["ordered", "strict", "any"] = "ordered",
    ties: Literal["allow", "strict"] = "allow",
    rows: Rows = True,
    disjoint: bool | None = None,
    n_jobs: int | None = None,
) -> FunnelTable:
    """Reduce an event log to one funnel row per entity that reached step 1.

    Parameters
    ----------
    codes, time : int64 arrays
        Entity code and time (ns) per row, aligned, no NaT.
    members : list of int64 arrays
        For each step, the increasing positions of the rows that fill it.
        ``order="strict"`` needs every row of the entities (other events
        interrupt); the other orders only look at member rows.
    window : int or None
        Largest allowed ``t_last - t_first`` in ns (inclusive); None = no limit.
    order, ties : str
        See the module docstring.
    rows : bool or {"first", "last", "both", "none"}
        Which attribution rows to find (each costs an argsort of a step's
        rows); True = both, False = none.
    disjoint : bool, optional
        Whether no row fills two steps (computed when None).
    n_jobs : int, optional
        Threads to split the entities over (see :func:`resolve_jobs`; None =
        one per core, up to ``MAX_THREADS``, and one for small logs).  The
        result does not depend on it.

    Returns
    -------
    FunnelTable
    """
    n_steps = len(members)
    if n_steps == 0 or members[0].size == 0:
        return empty_table(n_steps)
    if disjoint is None:
        disjoint = _check_disjoint(members, codes.size)
    if not disjoint and (order != "ordered") and not (order == "strict" and ties == "strict"):
        msg = f"order={order!r} needs steps that share no event (ties='allow')"
        raise ValueError(msg)
    kw: dict[str, Any] = dict(window=window, order=order, ties=ties, rows=rows, disjoint=disjoint)
    work = codes.size if order == "strict" else sum(m.size for m in members)
    jobs = resolve_jobs(n_jobs, work)
    if order == "strict":
        # strict reads every row: one set of keys for all of them, shared by the threads
        # (each reads the rows of its own entities through their table)
        kw["every_keys"] = _make_keys(codes, time)
    if jobs > 1:
        tables = _by_entity(
            lambda p: _funnel_kernel_one(codes, time, p.members, **kw),
            codes,
            time,
            members,
            (),
            jobs,
        )
        return concat_tables(tables, n_steps)
    return _funnel_kernel_one(codes, time, members, **kw)


def _funnel_kernel_one(
    codes: I64,
    time: I64,
    members: Sequence[I64],
    *,
    window: int | None,
    order: Literal["ordered", "strict", "any"],
    ties: Literal["allow", "strict"],
    rows: Rows,
    disjoint: bool,
    every_keys: _Keys | None = None,
) -> FunnelTable:
    """:func:`funnel_kernel` in the calling thread (``disjoint`` known and checked).

    ``every_keys``: ``order="strict"``'s keys of every row (made here when None).
    """
    n_steps = len(members)
    if n_steps == 0 or members[0].size == 0:
        return empty_table(n_steps)
    if order == "strict":
        keys = _make_keys(codes, time) if every_keys is None else every_keys
        return _strict(keys, codes, time, members, window, ties, rows, disjoint)
    used = np.concatenate(list(members))
    if used.size < codes.size:
        keys = _make_keys(codes[used], time[used])
    else:
        keys = _make_keys(codes, time)
    if order == "any":
        return _any(keys, codes, time, members, window, rows)
    if not disjoint and ties == "allow":
        return _ordered_tail(keys, codes, time, members, window, rows)
    return _ordered(keys, codes, time, members, window, ties, rows)


def _finish(
    keys: _Keys,
    codes: I64,
    time: I64,
    members: Sequence[I64],
    ent_rel: I64,
    reached: I64,
    kt_steps: I64,
    rows: Rows,
) -> FunnelTable:
    """Convert key-time step times to ns and find the attribution rows."""
    n = ent_rel.size
    n_steps = kt_steps.shape[1]
    step_time = np.full((n_steps, n), NAT, dtype=np.int64).T  # columns contiguous
    for j in range(n_steps):
        sel = np.flatnonzero(reached > j)  # (few entities reach the later steps)
        if sel.size == 0:
            break
        step_time[sel, j] = keys.real(kt_steps[sel, j])
    first_row = np.full(n, -1, dtype=np.int64)
    last_row = np.full(n, -1, dtype=np.int64)
    if rows in (True, "first", "both") and n:
        m0 = members[0]
        first_row = _first_rows_of_entities(
            keys, m0, keys.pack(codes[m0], time[m0]), keys.pack_rel(ent_rel, kt_steps[:, 0])
        )
    if rows in (True, "last", "both") and n:
        for j in range(n_steps):
            sel = np.flatnonzero(reached == j + 1)
            if sel.size == 0:
                continue
            mj = members[j]
            last_row[sel] = _first_rows_of_entities(
                keys,
                mj,
                keys.pack(codes[mj], time[mj]),
                keys.pack_rel(ent_rel[sel], kt_steps[sel, j]),
            )
    return FunnelTable(keys.codes_of(ent_rel), reached, step_time, first_row, last_row)


def _sorted_step_keys(keys: _Keys, codes: I64, time: I64, members: Sequence[I64]) -> list[I64]:
    return [np.sort(keys.pack(codes[m], time[m])) for m in members]


def _levels_to_entities(
    keys: _Keys,
    level_keys: list[I64],
    level_b: list[I64],
    level_pred: list[I64] | None = None,
) -> tuple[I64, I64, I64, I64, list[I64], list[I64]]:
    """Entities reaching step 1, their level, the winning chain's start and end.

    Returns ``(ent_rel, reached, start_kt, end_kt, first_pos per level,
    entity index per level)``; the start / end are those of the first valid
    row at the deepest level (earliest completion; its start is the latest).
    With ``level_pred`` (per level, each valid row's predecessor among the
    previous level's valid rows) a row's entity comes from its predecessor's,
    else from a sorted search.
    """
    ent1 = keys.ent(level_keys[0])
    st1 = _run_starts(ent1)
    ent_rel = ent1[st1]
    n = ent_rel.size
    reached = np.zeros(n, dtype=np.int64)
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    first_pos: list[I64] = []
    ent_idx: list[I64] = []
    row_ent = _EMPTY
    if level_pred is not None:
        mark = np.zeros(ent1.size, dtype=np.int64)
        mark[st1] = 1
        row_ent = np.cumsum(mark) - 1  # entity index of each level-1 row
    for j, (vk, vb) in enumerate(zip(level_keys, level_b, strict=True)):
        ent = keys.ent(vk)
        st = _run_starts(ent)
        if level_pred is None:
            idx = np.searchsorted(ent_rel, ent[st])
        else:
            if j > 0:
                row_ent = row_ent[level_pred[j]]
            idx = row_ent[st]
        reached[idx] += 1
        start[idx] = vb[st]
        end[idx] = keys.kt(vk[st])
        first_pos.append(st)
        ent_idx.append(idx)
    return ent_rel, reached, start, end, first_pos, ent_idx


class _Alive:
    """The entities still in the funnel, by relative code (when the code range is small).

    ``sorted_keys`` packs and sorts only the rows of a step whose entity has a
    valid row at the level before (the others cannot advance).
    """

    def __init__(self, keys: _Keys, first: I64, n_rows: int) -> None:
        self.keys = keys
        self.span = int(keys.ent(first[-1:]).max()) + 1 if first.size else 0
        small = self.span <= 8 * n_rows + 1024
        # one more slot, never marked: where every code past the entities' is looked up
        self.mark: Bool | None = np.zeros(self.span + 1, dtype=bool) if small else None

    def sorted_keys(self, codes: I64, time: I64, rows: I64, valid: I64) -> I64:
        """Sorted keys of ``rows`` of the entities of ``valid`` (sorted keys).

        None valid: no row can advance (empty).  A code range too wide for the
        table: every row of ``rows``.
        """
        keys, mark = self.keys, self.mark
        if valid.size == 0:
            return _EMPTY
        if mark is None:
            return cast(I64, np.sort(keys.pack(codes[rows], time[rows])))
        mark[:] = False
        mark[keys.ent(valid)] = True
        rel = keys.rel_codes(codes[rows])
        live = np.flatnonzero(mark.take(rel, mode="clip"))  # rel >= 0: codes of the keys
        q = keys.pack_rel(rel[live], keys.key_time(time[rows[live]]))
        q.sort()
        return q


def _ordered(
    keys: _Keys,
    codes: I64,
    time: I64,
    members: Sequence[I64],
    window: int | None,
    ties: str,
    rows: Rows,
) -> FunnelTable:
    """Ordered funnel when no row fills two steps (or ties are strict)."""
    n_steps = len(members)
    m0 = members[0]
    steps = [np.sort(keys.pack(codes[m0], time[m0]))]
    side: Literal["left", "right"] = "left" if ties == "strict" else "right"
    vk = steps[0]
    vb = keys.kt(vk)  # chain start (key time) of each valid row
    e1 = keys.ent(vk)
    st = _run_starts(e1)
    ent_rel = e1[st]
    mark = np.zeros(vk.size, dtype=np.int64)
    mark[st] = 1
    vidx = np.cumsum(mark) - 1  # entity index (into ent_rel) of each valid row
    reached = np.ones(ent_rel.size, dtype=np.int64)
    start = vb[st]  # start of the first valid row per entity at the deepest level so far
    alive = _Alive(keys, vk, codes.size)
    for j in range(1, n_steps):
        q = alive.sorted_keys(codes, time, members[j], vk)
        steps.append(q)
        if vk.size == 0 or q.size == 0:
            steps.extend([_EMPTY] * (n_steps - 1 - j))
            break
        pos = np.searchsorted(vk, q, side=side) - 1
        pc = np.maximum(pos, 0)
        ok = (pos >= 0) & (keys.ent(vk[pc]) == keys.ent(q))
        b = vb[pc]
        ok &= keys.within(keys.kt(q), b, window)
        vk, vb, vidx = q[ok], b[ok], vidx[pc[ok]]
        if vk.size == 0:
            break
        st = _run_starts(vidx)
        reached[vidx[st]] = j + 1
        start[vidx[st]] = vb[st]
    # step times: from the winning start, each step's first occurrence after the previous
    kt_steps = np.zeros((n_steps, ent_rel.size), dtype=np.int64).T
    kt_steps[:, 0] = start
    side_next: Literal["left", "right"] = "right" if ties == "strict" else "left"
    for j in range(1, n_steps):
        sel = np.flatnonzero(reached > j)
        if sel.size == 0:
            break
        target = keys.pack_rel(ent_rel[sel], kt_steps[sel, j - 1])
        pos = np.searchsorted(steps[j], target, side=side_next)
        kt_steps[sel, j] = keys.kt(steps[j][pos])
    return _finish(keys, codes, time, members, ent_rel, reached, kt_steps, rows)


def _ordered_tail(
    keys: _Keys,
    codes: I64,
    time: I64,
    members: Sequence[I64],
    window: int | None,
    rows: Rows,
) -> FunnelTable:
    """Ordered funnel, ties allowed, when some row fills several steps.

    Works on groups of rows sharing (entity, time).  A chain ending at level
    ``j`` in group G uses steps ``m..j`` at G's time (its *tail*) on distinct
    rows, and before that a chain of level ``m - 1`` ending strictly earlier.
    The tail is feasible when G's rows can fill steps ``m..j`` one row each;
    feasible tails form an interval ``[m*, j]`` and the best (latest) start
    comes from the longest one.  Feasibility is a matching of steps to rows,
    decided exactly by Hall's condition on the count of rows per *membership
    pattern* (the set of steps a row fills); it enumerates the subsets of the
    tail's steps, so it is meant for funnels of a handful of steps.
    """
    n_steps = len(members)
    n_rows = codes.size
    # membership pattern per row (bit j = fills step j)
    pattern = np.zeros(n_rows, dtype=np.int64)
    for j, mem in enumerate(members):
        pattern[mem] |= np.int64(1) << j
    rows_any = np.flatnonzero(pattern)
    key_rows = keys.pack(codes[rows_any], time[rows_any])
    pats, pat_idx = np.unique(pattern[rows_any], return_inverse=True)
    # groups of (entity, time) with the count of rows per pattern
    gkeys, ginv = np.unique(key_rows, return_inverse=True)
    counts = np.zeros((gkeys.size, pats.size), dtype=np.int64)
    np.add.at(counts, (ginv, pat_idx), 1)
    gent = keys.ent(gkeys)
    gkt = keys.kt(gkeys)
    plist = pats.tolist()
    separate = all(a & b == 0 for i, a in enumerate(plist) for b in plist[i + 1 :])
    covered = 0
    for pat in plist:
        covered |= pat
    components = linked_components(plist)

    def feasible(lo: int, hi: int, sel: I64) -> Bool:
        """Whether groups ``sel`` can fill steps lo..hi (inclusive) with distinct rows."""
        ok = np.ones(sel.size, dtype=bool)
        width = hi - lo + 1
        c = counts[sel]
        tail = ((1 << width) - 1) << lo
        if tail & ~covered:  # a step no row fills
            return np.zeros(sel.size, dtype=bool)
        if separate:
            # each step fills from one pattern only: count per pattern
            for p, pat in enumerate(pats.tolist()):
                need = bin(pat & tail).count("1")
                if need:
                    ok &= c[:, p] >= need
            return ok
        # Hall's condition: for every subset T of the needed steps, the rows
        # whose pattern meets T number at least |T|.  It splits over the
        # components of steps linked by shared patterns (a row's pattern lies
        # in one component), so the subsets of each component's part of the
        # tail are enumerated: 2**size each (the public functions allow at
        # most MAX_HALL_STEPS linked steps).
        for comp_mask, comp_pats in components:
            part = comp_mask & tail
            if not part:
                continue
            if len(comp_pats) == 1:
                p = comp_pats[0]
                ok &= c[:, p] >= bin(plist[p] & tail).count("1")
                continue
            sub = part
            while sub:
                meets = (pats & sub) != 0
                have = c[:, meets].sum(axis=1) if meets.any() else np.zeros(sel.size, np.int64)
                ok &= have >= bin(sub).count("1")
                sub = (sub - 1) & part
        return ok

    level_gpos: list[I64] = []  # valid groups per level (positions into gkeys)
    level_b: list[I64] = []  # own best start per valid group
    level_pmax: list[I64] = []  # running max start per entity (for later lookups)
    for j in range(n_steps):
        cand = np.flatnonzero(counts[:, ((pats >> j) & 1) == 1].sum(axis=1) > 0)
        best = np.full(cand.size, -1, dtype=np.int64)
        found = np.zeros(cand.size, dtype=bool)
        # longest feasible tail first: m = 0 (whole chain at this time) -> start = t
        for m in range(0, j + 1):
            todo = np.flatnonzero(~found)
            if todo.size == 0:
                break
            ok = feasible(m, j, cand[todo])
            if m == 0:
                hit = todo[ok]
                best[hit] = gkt[cand[hit]]
                found[hit] = True
                continue
            # chain of level m (0-based m-1) ending strictly before this group
            prev_g = level_gpos[m - 1]
            hit = todo[ok]
            if prev_g.size and hit.size:
                pk = gkeys[prev_g]
                pos = np.searchsorted(pk, gkeys[cand[hit]], side="left") - 1
                pc = np.maximum(pos, 0)
                good = (pos >= 0) & (gent[prev_g[pc]] == gent[cand[hit]])
                best[hit[good]] = level_pmax[m - 1][pc[good]]
                found[hit[good]] = True
                # a feasible tail without a predecessor: a shorter tail cannot do better
                found[hit[~good]] = True
            else:
                found[hit] = True
        valid = best >= 0
        valid &= keys.within(gkt[cand], np.maximum(best, 0), window)
        gpos = cand[valid]
        b = best[valid]
        # running max of the start within each entity (b never exceeds the group time)
        packed = keys.pack_rel(gent[gpos], b)
        pmax = keys.kt(np.maximum.accumulate(packed)) if packed.size else _EMPTY
        level_gpos.append(gpos)
        level_b.append(b)
        level_pmax.append(pmax)
    level_keys = [gkeys[g] for g in level_gpos]
    ent_rel, reached, start, _end, _fp, _ei = _levels_to_entities(keys, level_keys, level_b)
    # step times: greedy from the start.  Step j stays at the previous step's
    # time when that group can also fill it (Hall, with the earlier steps at
    # that time), else it takes the first step-j row strictly later.
    steps = _sorted_step_keys(keys, codes, time, members)
    n = ent_rel.size
    kt_steps = np.zeros((n, n_steps), dtype=np.int64)
    kt_steps[:, 0] = start
    for j in range(1, n_steps):
        sel = np.flatnonzero(reached > j)
        if sel.size == 0:
            break
        prev = kt_steps[sel, j - 1]
        target = keys.pack_rel(ent_rel[sel], prev)
        grp = np.searchsorted(gkeys, target)
        tail = np.full(sel.size, j - 1, dtype=np.int64)
        still = np.ones(sel.size, dtype=bool)
        for i in range(j - 2, -1, -1):
            still &= kt_steps[sel, i] == prev
            tail[still] = i
        same = np.zeros(sel.size, dtype=bool)
        for lo in np.unique(tail).tolist():
            at = np.flatnonzero(tail == lo)
            same[at] = feasible(int(lo), j, grp[at])
        pos = np.searchsorted(steps[j], target, side="right")
        pc = np.minimum(pos, max(steps[j].size - 1, 0))
        later = keys.kt(steps[j][pc]) if steps[j].size else prev
        kt_steps[sel, j] = np.where(same, prev, later)
    return _finish(keys, codes, time, members, ent_rel, reached, kt_steps, rows)


def _strict(
    keys: _Keys,
    codes: I64,
    time: I64,
    members: Sequence[I64],
    window: int | None,
    ties: str,
    rows: Rows,
    disjoint: bool,
) -> FunnelTable:
    """Strict order: only repeats of the step just reached may lie between steps.

    ``codes`` / ``time`` hold every row that may interrupt (all rows of the
    entities in ``members``, maybe more); ``keys`` are made from all of them.
    """
    n_steps = len(members)
    # each step's rows of the entities with a valid row at the level before (only
    # those can advance; step j - 1's rows of an entity still in at level j are kept)
    steps = [np.sort(keys.pack(codes[members[0]], time[members[0]]))]
    all_keys: I64 | None = None  # every row of the entities that can pass step 1, sorted
    side: Literal["left", "right"] = "left" if ties == "strict" else "right"
    vk = steps[0]
    vb = keys.kt(vk)
    level_keys, level_b, level_pred = [vk], [vb], [_EMPTY]
    alive = _Alive(keys, vk, codes.size)
    for j in range(1, n_steps):
        q = alive.sorted_keys(codes, time, members[j], vk)
        steps.append(q)
        if vk.size == 0 or q.size == 0:
            vk, vb, pc = _EMPTY, _EMPTY, _EMPTY
        else:
            pos = np.searchsorted(vk, q, side=side) - 1
            pc = np.maximum(pos, 0)
            ok = (pos >= 0) & (keys.ent(vk[pc]) == keys.ent(q))
            b = vb[pc]
            ok &= keys.within(keys.kt(q), b, window)
            # no row strictly between p and q other than rows of step j-1: the rows in
            # between among all rows (n_all) no more than among step j-1's (n_rep; keys
            # in between belong to the same entity; when p and q tie both are <= 0)
            # (searched only for the rows that pass the other tests)
            cand = np.flatnonzero(ok)
            qc, pk = q[cand], vk[pc[cand]]
            if all_keys is None:
                all_keys = _entity_rows_keys(keys, codes, time, keys.ent(qc))
            prev = steps[j - 1]
            n_rep = np.searchsorted(prev, qc, "left") - np.searchsorted(prev, pk, "right")
            # n_all <= n_rep, n_all = (rows before q) - (rows up to p): the row m - 1
            # (m = rows before q - n_rep) lies at or before p, or there is none
            m = np.searchsorted(all_keys, qc, "left") - n_rep
            ok[cand] = (m <= 0) | (all_keys[np.maximum(m - 1, 0)] <= pk)
            vk, vb, pc = q[ok], b[ok], pc[ok]
        level_keys.append(vk)
        level_b.append(vb)
        level_pred.append(pc)
    ent_rel, reached, _start, _end, first_pos, ent_idx = _levels_to_entities(
        keys, level_keys, level_b, level_pred
    )
    # trace back from the earliest valid row of the deepest level
    n = ent_rel.size
    kt_steps = np.zeros((n, n_steps), dtype=np.int64)
    cur = np.full(n, -1, dtype=np.int64)
    for j in range(n_steps - 1, -1, -1):
        fp, idx = first_pos[j], ent_idx[j]
        new = reached[idx] == j + 1
        cur[idx[new]] = fp[new]
        active = np.flatnonzero(reached > j)
        kt_steps[active, j] = keys.kt(level_keys[j][cur[active]])
        if j > 0:
            cur[active] = level_pred[j][cur[active]]
    return _finish(keys, codes, time, members, ent_rel, reached, kt_steps, rows)


def _entity_rows_keys(keys: _Keys, codes: I64, time: I64, ent: I64) -> I64:
    """Sorted keys of every row of the entities ``ent`` (relative codes).

    All rows when the code range is too wide for a table of entities.  Read
    in blocks, so no temporary the size of the input.
    """
    span = int(ent.max()) + 1 if ent.size else 0
    if keys.uniq_codes is not None or span > 8 * codes.size + 1024:
        return cast(I64, np.sort(keys.pack(codes, time)))
    mark = np.zeros(span + 1, dtype=bool)  # the last slot: every code past the entities'
    mark[ent] = True
    # in blocks through one buffer; of the result only the filled pages are touched
    out = np.empty(codes.size, dtype=np.int64)
    buf = np.empty(min(BLOCK, codes.size), dtype=np.int64)
    n = 0
    for a in _blocks(codes.size):
        rel = buf[: min(BLOCK, codes.size - a)]
        np.subtract(codes[a : a + BLOCK], np.int64(keys.cmin), out=rel)
        sel = np.flatnonzero(mark.take(rel, mode="clip"))  # past the entities: the last slot
        out[n : n + sel.size] = keys.pack_rel(rel[sel], keys.key_time(time[a + sel]))
        n += sel.size
    found = out[:n]
    found.sort()
    return cast(I64, found)


def _any(
    keys: _Keys,
    codes: I64,
    time: I64,
    members: Sequence[I64],
    window: int | None,
    rows: Rows,
) -> FunnelTable:
    """Any order: steps 1..k each occur inside one interval [s, s + window]."""
    n_steps = len(members)
    steps = _sorted_step_keys(keys, codes, time, members)
    starts = _sorted_unique(np.concatenate(steps))
    sent = keys.ent(starts)
    skt = keys.kt(starts)
    n_s = starts.size
    lvl = np.zeros(n_s, dtype=np.int64)
    nxt = np.zeros((n_steps, n_s), dtype=np.int64).T  # columns contiguous
    # the starts still alive (every step so far inside the window), and their latest
    # step time: each step looks at those only (few starts reach the later steps)
    alive = np.arange(n_s, dtype=np.int64)
    last = skt
    for j in range(n_steps):
        sj = steps[j]
        if sj.size == 0 or alive.size == 0:
            break
        # each live start's first step-j key at or after it: the keys sort by (entity,
        # time), so it is the next key in step j's sorted keys if it is the same entity's
        if alive.size > sj.size + n_s // 2:
            # most starts alive: one search per step-j key in the starts, and the next
            # one carried back to every start by a running minimum from the end (step
            # j's keys are among the starts) costs less than one search per start
            nextpos = np.full(n_s, n_s, dtype=np.int64)
            loc = np.searchsorted(starts, sj)
            nextpos[loc] = loc
            nextpos = np.minimum.accumulate(nextpos[::-1])[::-1][alive]
            there = nextpos < n_s
            found = starts[np.minimum(nextpos, n_s - 1)]
        else:
            pos = np.searchsorted(sj, starts[alive])
            there = pos < sj.size
            found = sj[np.minimum(pos, sj.size - 1)]
        exists = there & (keys.ent(found) == sent[alive])
        kt_j = keys.kt(found)
        nxt[alive, j] = kt_j
        last = np.maximum(last, kt_j)
        keep = exists & keys.within(last, skt[alive], window)
        alive, last = alive[keep], last[keep]
        lvl[alive] += 1
    # entity level = max over its starts; winning start = earliest start at that level
    st = _run_starts(sent)
    reached_all = np.maximum.reduceat(lvl, st) if st.size else _EMPTY
    counts = np.diff(np.r_[st, starts.size])
    ent_level = np.repeat(reached_all, counts)
    win = lvl == ent_level
    # first winning start per entity
    cand = np.flatnonzero(win & (ent_level > 0))
    cent = sent[cand]
    first = cand[_run_starts(cent)]
    ent_rel = sent[first]
    reached = lvl[first]
    kt_steps = nxt[first]
    return _finish(keys, codes, time, members, ent_rel, reached, kt_steps, rows)


# ----------------------------------------------------------------------------
# the feature kernel: exclusions, step windows, held properties, attempts
# ----------------------------------------------------------------------------
#: Largest int64, "no deadline".
NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Exclusion:
    """Rows (positions) of an exclusion event and the 0-based span of steps it guards.

    A chain is invalid when one of ``rows`` lies strictly in time between its
    step-``first`` and step-``last`` events.
    """

    first: int
    last: int
    rows: I64


def feature_kernel(
    codes: I64,
    time: I64,
    members: Sequence[I64],
    *,
    window: int | None,
    step_windows: Sequence[int | None] | None = None,
    exclusions: Sequence[Exclusion] = (),
    ties: Literal["allow", "strict"] = "allow",
    rows: Rows = True,
    earliest: bool = True,
    n_jobs: int | None = None,
) -> FunnelTable:
    """Ordered funnel with step windows and exclusions (steps share no event).

    Definitions as in :func:`funnel_kernel` (``order="ordered"``), plus: step
    ``k + 1`` within ``step_windows[k]`` of step ``k``; no row of an
    exclusion strictly between its span's two steps.

    Valid chains are closed under the componentwise maximum of their times
    (each constraint is checked on the chain that supplies the later time),
    so among the chains ending at a row there is a latest one, and it grows
    with the row's time.  Level ``j`` therefore follows from level ``j - 1``
    by one sorted search (the latest valid predecessor), as in the plain
    kernel; each valid row carries its latest chain's start and, per
    exclusion, the time of the first exclusion row after the span's first
    step (a deadline).  An exclusion stops a chain from passing any step of
    its span after its first step: a chain of ``m`` steps with ``i < m <= j``
    must have no exclusion row strictly between its step-``i`` and last times.

    Winning chain, as in the plain kernel: the deepest chain that completes
    first, and of those the one that starts last; its step times are the
    earliest such chain's (valid chains with a given start and end are also
    closed under the componentwise minimum).  The latest chain comes from
    tracing back the predecessors; with ``earliest=True`` the earliest one
    comes from the same kernel run backwards in time on the chains' fixed
    start and end: greedily from the start (each step's first occurrence
    after the previous one), and where that chain breaks a step window or an
    exclusion, from the same kernel run backwards in time
    (:func:`_earliest_chains`), once per level reached.

    ``n_jobs``: threads to split the entities over, as in :func:`funnel_kernel`.
    """
    n_steps = len(members)
    if n_steps == 0 or members[0].size == 0:
        return empty_table(n_steps)
    kw: dict[str, Any] = dict(
        window=window, step_windows=step_windows, ties=ties, rows=rows, earliest=earliest
    )
    work = sum(m.size for m in members) + sum(e.rows.size for e in exclusions)
    jobs = resolve_jobs(n_jobs, work)
    if jobs > 1:
        tables = _by_entity(
            lambda p: _feature_part(codes, time, p.members, p.exclusions, **kw),
            codes,
            time,
            members,
            exclusions,
            jobs,
        )
        return concat_tables(tables, n_steps)
    return _feature_part(codes, time, members, exclusions, **kw)


def _feature_part(
    codes: I64,
    time: I64,
    members: Sequence[I64],
    exclusions: Sequence[Exclusion],
    *,
    window: int | None,
    step_windows: Sequence[int | None] | None,
    ties: Literal["allow", "strict"],
    rows: Rows,
    earliest: bool,
) -> FunnelTable:
    """:func:`feature_kernel` in the calling thread, the exclusions run only where they matter.

    An exclusion only takes chains away, and only chains of at least
    ``first + 2`` steps (it lies between its step ``first`` and a later one)
    of an entity that has one of its rows.  So the kernel runs without the
    exclusions on every entity (the plain kernel when no step window is
    set), then with them on the entities that have a row of an exclusion and
    reached ``first + 2`` steps without it, whose rows of the table it
    replaces: usually a small share of the entities.
    """
    kw: dict[str, Any] = dict(window=window, ties=ties, rows=rows)
    fkw: dict[str, Any] = dict(step_windows=step_windows, earliest=earliest, **kw)
    if earliest and (step_windows is None or all(w is None for w in step_windows)):
        # no step window: without the exclusions this is the plain ordered funnel
        base = _funnel_kernel_one(codes, time, members, order="ordered", disjoint=True, **kw)
    else:
        base = _feature_one(codes, time, members, exclusions=(), **fkw)
    if not exclusions:
        return base
    if base.entities.size == 0:
        return base
    find = _code_finder(base.entities, codes.size)
    touched = np.zeros(base.entities.size, dtype=bool)
    for e in exclusions:
        pos = find(codes[e.rows])
        pos = pos[pos >= 0]
        touched[pos[base.reached[pos] >= e.first + 2]] = True
    sel = np.flatnonzero(touched)
    if sel.size == 0:
        return base
    rerun = _code_finder(base.entities[sel], codes.size)

    def keep(r: I64) -> I64:
        return cast(I64, r[rerun(codes[r]) >= 0])

    sub = _feature_one(
        codes,
        time,
        [keep(m) for m in members],
        exclusions=[Exclusion(e.first, e.last, keep(e.rows)) for e in exclusions],
        **fkw,
    )
    # an entity's step-1 rows are all kept, and one step is never excluded: the
    # same entities come back, in the same (sorted) order
    if not np.array_equal(sub.entities, base.entities[sel]):  # pragma: no cover
        msg = "feature_kernel: the entities rerun with the exclusions changed"
        raise RuntimeError(msg)
    base.reached[sel] = sub.reached
    base.step_time[sel] = sub.step_time
    base.first_row[sel] = sub.first_row
    base.last_row[sel] = sub.last_row
    return base


def _feature_one(
    codes: I64,
    time: I64,
    members: Sequence[I64],
    *,
    window: int | None,
    step_windows: Sequence[int | None] | None,
    exclusions: Sequence[Exclusion],
    ties: Literal["allow", "strict"],
    rows: Rows,
    earliest: bool,
) -> FunnelTable:
    """:func:`feature_kernel` in the calling thread."""
    n_steps = len(members)
    if n_steps == 0 or members[0].size == 0:
        return empty_table(n_steps)
    sw = list(step_windows) if step_windows is not None else [None] * (n_steps - 1)
    used = np.concatenate([*members, *(e.rows for e in exclusions)])
    keys = _make_keys(codes[used], time[used])
    steps = _sorted_step_keys(keys, codes, time, members)
    ex_keys = [np.sort(keys.pack(codes[e.rows], time[e.rows])) for e in exclusions]
    side: Literal["left", "right"] = "left" if ties == "strict" else "right"

    def deadline(k: I64, ex: I64) -> I64:
        """Time of the first exclusion row strictly after each key (same entity)."""
        if ex.size == 0 or k.size == 0:
            return np.full(k.size, NEVER, dtype=np.int64)
        pos = np.searchsorted(ex, k, side="right")
        pc = np.minimum(pos, ex.size - 1)
        same = (pos < ex.size) & (keys.ent(ex[pc]) == keys.ent(k))
        return cast(I64, np.where(same, keys.real(keys.kt(ex[pc])), NEVER))

    vk = steps[0]
    vb = keys.kt(vk)
    dl = [
        deadline(vk, ex_keys[i]) if e.first == 0 else np.full(vk.size, NEVER, np.int64)
        for i, e in enumerate(exclusions)
    ]
    level_keys, level_b, level_pred = [vk], [vb], [_EMPTY]
    for j in range(1, n_steps):
        q = steps[j]
        if vk.size == 0 or q.size == 0:
            vk, vb, pc = _EMPTY, _EMPTY, _EMPTY
            dl = [_EMPTY for _ in exclusions]
        else:
            pos = np.searchsorted(vk, q, side=side) - 1
            pc = np.maximum(pos, 0)
            ok = (pos >= 0) & (keys.ent(vk[pc]) == keys.ent(q))
            b = vb[pc]
            ok &= keys.within(keys.kt(q), b, window)
            tq = keys.real(keys.kt(q))
            w = sw[j - 1]
            if w is not None:
                ok &= tq - keys.real(keys.kt(vk[pc])) <= w
            for i, e in enumerate(exclusions):
                if e.first < j <= e.last:
                    ok &= tq <= dl[i][pc]
            vk, vb, pc = q[ok], b[ok], pc[ok]
            dl = [
                deadline(vk, ex_keys[i]) if e.first == j else d[pc]
                for i, (e, d) in enumerate(zip(exclusions, dl, strict=True))
            ]
        level_keys.append(vk)
        level_b.append(vb)
        level_pred.append(pc)
    ent_rel, reached, _start, _end, first_pos, ent_idx = _levels_to_entities(
        keys, level_keys, level_b, level_pred
    )
    n = ent_rel.size
    kt_steps = np.zeros((n, n_steps), dtype=np.int64)
    cur = np.full(n, -1, dtype=np.int64)
    for j in range(n_steps - 1, -1, -1):
        fp, idx = first_pos[j], ent_idx[j]
        new = reached[idx] == j + 1
        cur[idx[new]] = fp[new]
        active = np.flatnonzero(reached > j)
        kt_steps[active, j] = keys.kt(level_keys[j][cur[active]])
        if j > 0:
            cur[active] = level_pred[j][cur[active]]
    if earliest and n_steps > 1 and (reached > 1).any():
        # the earliest chain from the winning start: each step's first occurrence
        # after the previous one (as the plain kernel).  It is the earliest of all
        # chains from that start, so when it meets the step windows and exclusions
        # it is the earliest valid one (and completes at the earliest completion);
        # the entities whose greedy chain breaks a rule go through the backward run.
        greedy = kt_steps.copy()
        side_next: Literal["left", "right"] = "right" if ties == "strict" else "left"
        for j in range(1, n_steps):
            sel = np.flatnonzero(reached > j)
            if sel.size == 0:
                break
            target = keys.pack_rel(ent_rel[sel], greedy[sel, j - 1])
            greedy[sel, j] = keys.kt(steps[j][np.searchsorted(steps[j], target, side=side_next)])
        bad = np.zeros(n, dtype=bool)
        for j, w in enumerate(sw):  # step j + 1 within w of step j
            if w is None:
                continue
            sel = np.flatnonzero(reached > j + 1)
            gap = keys.real(greedy[sel, j + 1]) - keys.real(greedy[sel, j])
            bad[sel] |= gap > w
        for i, e in enumerate(exclusions):
            # no exclusion row strictly between the span's first step and the
            # chain's last step within the span
            sel = np.flatnonzero(reached - 1 > e.first)
            if sel.size == 0:
                continue
            last_in = np.minimum(e.last, reached[sel] - 1)
            dl_first = deadline(keys.pack_rel(ent_rel[sel], greedy[sel, e.first]), ex_keys[i])
            bad[sel] |= keys.real(greedy[sel, last_in]) > dl_first
        np.copyto(kt_steps, greedy, where=~bad[:, None])  # the good rows' greedy chains
        redo = np.flatnonzero(bad)
        if redo.size:
            real = _earliest_chains(
                codes,
                time,
                members,
                keys.codes_of(ent_rel[redo]),
                reached[redo],
                keys.real(kt_steps[redo, 0]),
                keys.real(kt_steps[redo, reached[redo] - 1]),
                window=window,
                step_windows=sw,
                exclusions=exclusions,
                ties=ties,
            )
            kt_redo = keys.key_time(real.ravel()).reshape(-1, n_steps)
            kt_steps[redo] = np.where(np.arange(n_steps) < reached[redo, None], kt_redo, 0)
    return _finish(keys, codes, time, members, ent_rel, reached, kt_steps, rows)


def _earliest_chains(
    codes: I64,
    time: I64,
    members: Sequence[I64],
    ent_codes: I64,
    reached: I64,
    start: I64,
    end: I64,
    *,
    window: int | None,
    step_windows: Sequence[int | None],
    exclusions: Sequence[Exclusion],
    ties: Literal["allow", "strict"],
) -> I64:
    """Step times (ns, (n, K)) of the earliest valid chain from ``start`` to ``end`` per entity.

    For the entities of each level L >= 2: the feature kernel on negated times
    with the steps L..1 reversed, step 1 held to its time ``start`` and step
    L to ``end``; its latest chain backwards is the earliest forwards.
    ``ent_codes`` are sorted.  Entries beyond an entity's level are 0.
    """
    n, n_steps = ent_codes.size, len(members)
    out = np.zeros((n, n_steps), dtype=np.int64)
    find = _code_finder(ent_codes, codes.size)
    lv_dtype = np.int16 if n_steps < 2**15 else np.int64

    def by_level(r: I64) -> tuple[I64, I64, I64]:
        """Rows of entities at level >= 2, grouped by level (input order within a level).

        Returns ``(rows, entity position, bounds)``: level L's rows are
        ``rows[bounds[L]:bounds[L + 1]]``.
        """
        e = find(codes[r])
        mine = np.flatnonzero(e >= 0)  # usually few: the entities sent back
        lv = reached[e[mine]].astype(lv_dtype)
        keep = mine[lv > 1]
        lv = lv[lv > 1]
        o = np.argsort(lv, kind="stable")  # a radix sort on small integers
        order = keep[o]
        bounds = np.searchsorted(lv[o], np.arange(n_steps + 2))
        return cast(I64, r[order]), cast(I64, e[order]), cast(I64, bounds.astype(np.int64))

    step_rows = [by_level(m) for m in members]
    ex_rows = [by_level(e.rows) for e in exclusions]
    # the backward runs read only these rows: a compact copy of their codes and negated
    # times, the rows renumbered (positions into it, in the order above)
    picked = [r for r, _e, _b in (*step_rows, *ex_rows)]
    offsets = np.cumsum([0, *(r.size for r in picked)]).tolist()
    every = np.concatenate(picked)
    sub_codes, neg = codes[every], -time[every]
    step_rows = [
        (np.arange(o, o + r.size, dtype=np.int64), e, b)
        for o, (r, e, b) in zip(offsets[: len(members)], step_rows, strict=True)
    ]
    ex_rows = [
        (np.arange(o, o + r.size, dtype=np.int64), e, b)
        for o, (r, e, b) in zip(offsets[len(members) : -1], ex_rows, strict=True)
    ]
    for level in np.unique(reached[reached > 1]).tolist():
        sel = np.flatnonzero(reached == level)
        group = ent_codes[sel]
        rev: list[I64] = []
        for j in range(level - 1, -1, -1):
            rj, ej, bj = step_rows[j]
            r, pos = rj[bj[level] : bj[level + 1]], ej[bj[level] : bj[level + 1]]
            if j == 0:
                r = r[neg[r] == -start[pos]]
            elif j == level - 1:
                r = r[neg[r] == -end[pos]]
            rev.append(r)
        rev_ex = []
        for e, (rx, _ex, bx) in zip(exclusions, ex_rows, strict=True):
            if e.first >= level - 1:
                continue
            stop = min(e.last, level - 1)
            rev_ex.append(
                Exclusion(level - 1 - stop, level - 1 - e.first, rx[bx[level] : bx[level + 1]])
            )
        sw_rev = [step_windows[level - 2 - k] for k in range(level - 1)]
        back = _feature_one(
            sub_codes,
            neg,
            rev,
            window=window,
            step_windows=sw_rev,
            exclusions=rev_ex,
            ties=ties,
            rows="none",
            earliest=False,
        )
        idx = sel[np.searchsorted(group, back.entities)]
        for b in range(level):
            out[idx, level - 1 - b] = -back.step_time[:, b]
    return out


def _code_finder(sorted_codes: I64, n_rows: int) -> Callable[[I64], I64]:
    """A lookup: codes -> their positions in ``sorted_codes`` (distinct), -1 when absent.

    A table over the code range when it is small next to ``n_rows`` (no
    binary search over random codes), else a sorted search.
    """
    size = sorted_codes.size
    if size == 0:
        return lambda c: np.full(c.size, -1, dtype=np.int64)
    lo, hi = int(sorted_codes[0]), int(sorted_codes[-1])
    int64 = np.iinfo(np.int64)
    if hi - lo <= 4 * n_rows + 1024 and int64.min < lo and hi < int64.max:
        # a -1 at both ends: a code clipped to [lo - 1, hi + 1] reads the table as it is
        table = np.full(hi - lo + 3, -1, dtype=np.int64)
        table[sorted_codes - np.int64(lo - 1)] = np.arange(size, dtype=np.int64)

        def find_table(c: I64) -> I64:
            rel = np.clip(c, lo - 1, hi + 1)
            rel -= np.int64(lo - 1)
            return cast(I64, table[rel])

        return find_table

    def find_sorted(c: I64) -> I64:
        pos = np.minimum(np.searchsorted(sorted_codes, c), size - 1)
        return cast(I64, np.where(sorted_codes[pos] == c, pos, -1))

    return find_sorted


def take_table(table: FunnelTable, sel: I64) -> FunnelTable:
    """The rows ``sel`` of a :class:`FunnelTable`."""
    st = table.step_time
    if st.flags.f_contiguous and not st.flags.c_contiguous:
        # the kernel's layout (columns contiguous): a row gather would stride over every
        # column; gather each column into a table of the same layout instead
        step_time = np.empty((st.shape[1], sel.size), dtype=st.dtype).T
        for j in range(st.shape[1]):
            np.take(st[:, j], sel, out=step_time[:, j])
    else:
        step_time = st[sel]
    return FunnelTable(
        table.entities[sel],
        table.reached[sel],
        step_time,
        table.first_row[sel],
        table.last_row[sel],
    )


def best_per_entity(table: FunnelTable, ent: I64, rk: I64) -> FunnelTable:
    """Reduce a table over sub-entities (entity x held value) to one row per entity.

    ``ent[i]`` is the entity of the table's row ``i`` (a sub-entity) and
    ``rk[i]`` the sort position of its held value.  The best sub-entity:
    deepest level, then the earliest completion, then the latest start, then
    the smallest ``rk``.  The result's ``entities`` are entity codes, sorted.
    """
    if table.entities.size == 0:
        return table
    # rows in (entity, rank) order (as the callers' sub-entity codes give them)
    if (
        ent.size > 1
        and not ((ent[1:] > ent[:-1]) | ((ent[1:] == ent[:-1]) & (rk[1:] > rk[:-1]))).all()
    ):
        order = np.lexsort((rk, ent))
        table, ent = take_table(table, order), ent[order]
    n = ent.size
    end = table.step_time[np.arange(n), table.reached - 1]
    start = table.step_time[:, 0]
    grp = np.cumsum(np.r_[0, ent[1:] != ent[:-1]]).astype(np.int64)
    # keep the rows with the best value of each criterion in turn (every entity keeps
    # at least one); the first row left has the smallest rank
    cand = np.arange(n, dtype=np.int64)
    for value in (-table.reached, end, -start):
        v, g = value[cand], grp[cand]
        best_v = np.minimum.reduceat(v, _run_starts(g))
        cand = cand[v == best_v[g]]  # every entity is still present: best_v[k] is entity k's
    first = cand[_run_starts(grp[cand])]
    best = take_table(table, first)
    return dataclasses.replace(best, entities=ent[first])


def attempts_kernel(
    codes: I64,
    time: I64,
    members: Sequence[I64],
    *,
    window: int | None,
    step_windows: Sequence[int | None] | None = None,
    exclusions: Sequence[Exclusion] = (),
    ties: Literal["allow", "strict"] = "allow",
    rows: Rows = True,
    n_jobs: int | None = None,
) -> tuple[FunnelTable, I64, I64]:
    """One row per attempt: ``(table, attempt number (1-based), attempt deadline)``.

    An attempt starts at an entity's first step-1 row, its chains lie within
    ``[start, start + window]`` (no limit without a window); it ends when the
    last step is completed (the earliest completion) or when the window runs
    out, and the next attempt starts at the first step-1 row strictly after
    that.  The deadline is ``start + window`` (``NEVER`` without a window).
    One round of :func:`feature_kernel` per attempt number (a loop over
    attempts, not over entities or rows) on the rows still of use: each
    round drops the rows up to the end of the attempts it closed, so the
    work is the rows times the attempts they wait through, and a log whose
    busiest entity has thousands of attempts takes thousands of rounds.
    Table rows are sorted by (entity, attempt).  ``n_jobs``: threads to
    split the entities over, as in :func:`funnel_kernel`.
    """
    n_steps = len(members)
    if n_steps == 0 or members[0].size == 0:
        return empty_table(n_steps), _EMPTY, _EMPTY
    kw: dict[str, Any] = dict(window=window, step_windows=step_windows, ties=ties, rows=rows)
    work = sum(m.size for m in members) + sum(e.rows.size for e in exclusions)
    jobs = resolve_jobs(n_jobs, work)
    if jobs > 1:
        outs = _by_entity(
            lambda p: _attempts_one(codes, time, p.members, exclusions=p.exclusions, **kw),
            codes,
            time,
            members,
            exclusions,
            jobs,
        )
        return (
            concat_tables([o[0] for o in outs], n_steps),
            np.concatenate([o[1] for o in outs]),
            np.concatenate([o[2] for o in outs]),
        )
    return _attempts_one(codes, time, members, exclusions=exclusions, **kw)


def _attempts_one(
    codes: I64,
    time: I64,
    members: Sequence[I64],
    *,
    window: int | None,
    step_windows: Sequence[int | None] | None,
    exclusions: Sequence[Exclusion],
    ties: Literal["allow", "strict"],
    rows: Rows,
) -> tuple[FunnelTable, I64, I64]:
    """:func:`attempts_kernel` in the calling thread."""
    n_steps = len(members)
    m0 = members[0]
    if n_steps == 0 or m0.size == 0:
        return empty_table(n_steps), _EMPTY, _EMPTY
    c0 = codes[m0]
    ent_codes = _sorted_unique(c0)
    find = _code_finder(ent_codes, codes.size)  # a code table, not a search per row
    inv = find(c0)
    t0 = time[m0]
    n_ent = ent_codes.size
    # one slot per entity and a last one for the rows of entities with no step-1 row
    # (entity index -1): never open, so no attempt uses them and the first round drops them
    prev_end = np.full(n_ent + 1, NAT, dtype=np.int64)  # NAT: no attempt yet (below any time)
    open_ = np.ones(n_ent + 1, dtype=bool)
    open_[n_ent] = False
    tables: list[FunnelTable] = []
    numbers: list[I64] = []
    deadlines: list[I64] = []
    number = 0

    def pooled(r: I64) -> tuple[I64, I64, I64]:
        # rows with their entity index (into ent_codes, -1: no step-1 row) and time
        return r, find(codes[r]), time[r]

    # the rows still of use, shrinking round by round (each round drops what it
    # consumed), each carried with its entity and time (no gathers of them per round)
    pool = [pooled(m) for m in members]
    pool_ex = [pooled(e.rows) for e in exclusions]
    while True:
        cand = open_[inv] & (t0 > prev_end[inv])
        if not cand.any():
            break
        number += 1
        start = np.full(n_ent + 1, NEVER, dtype=np.int64)
        np.minimum.at(start, inv[cand], t0[cand])
        has = start != NEVER
        limit = np.full(n_ent + 1, NEVER, dtype=np.int64)
        if window is not None:
            limit[has] = start[has] + window
        # start is NEVER where no attempt starts (closed entities, the last slot)

        def drop(p: tuple[I64, I64, I64], start: I64 = start) -> tuple[I64, I64, I64]:
            # rows before this attempt's start serve no attempt from now on (each starts
            # after the previous one ended)
            r, e, t = p
            ok = np.flatnonzero(t >= start[e])
            return r[ok], e[ok], t[ok]

        def keep(p: tuple[I64, I64, I64], limit: I64 = limit) -> I64:
            r, e, t = p
            return cast(I64, r[t <= limit[e]])

        pool = [drop(p) for p in pool]
        pool_ex = [drop(p) for p in pool_ex]
        sub_members = [keep(p) for p in pool]
        sub_ex = [
            Exclusion(e.first, e.last, keep(p)) for e, p in zip(exclusions, pool_ex, strict=True)
        ]
        tab = _feature_part(
            codes,
            time,
            sub_members,
            sub_ex,
            window=None,
            step_windows=step_windows,
            ties=ties,
            rows=rows,
            earliest=True,
        )
        idx = find(tab.entities)
        done = tab.reached == n_steps
        end = np.where(done, tab.step_time[:, n_steps - 1], limit[idx])
        prev_end[idx] = end
        open_[idx] = end != NEVER
        tables.append(tab)
        numbers.append(np.full(tab.entities.size, number, dtype=np.int64))
        deadlines.append(limit[idx])
        later = open_[inv] & (t0 > prev_end[inv])
        inv, t0 = inv[later], t0[later]
    table = FunnelTable(
        np.concatenate([t.entities for t in tables]),
        np.concatenate([t.reached for t in tables]),
        np.concatenate([t.step_time for t in tables]),
        np.concatenate([t.first_row for t in tables]),
        np.concatenate([t.last_row for t in tables]),
    )
    number_all = np.concatenate(numbers)
    deadline_all = np.concatenate(deadlines)
    # each round's rows are sorted by entity and the rounds follow each other: a stable
    # sort by entity (merging the rounds' runs) gives the (entity, attempt) order
    order = np.argsort(table.entities, kind="stable")
    return take_table(table, order), number_all[order], deadline_all[order]
