"""Validation of deal tables (one row per deal / opportunity).

Resolves the deal-table keywords, maps the status column to won / lost /
open, finds contradictory rows and returns clean numpy arrays.  No metric is
computed here.

Outcome codes used by every deal metric: ``OPEN = 0``, ``WON = 1``,
``LOST = 2`` (the codes the Aalen–Johansen kernel takes: 0 = censored);
``CLOSED = 3`` (closed, outcome unknown) only for a table read without a
status column, which the stage-history functions allow.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from funnelkit._validate import (
    N_EXAMPLES,
    _invalid,
    as_amount,
    as_datetime,
    as_list,
    check_date,
    check_frame,
    check_not_null,
    check_option,
    check_positive,
    check_value_labels,
    datetime_to_ns,
    duration_ns,
    param_error,
    plain,
    require_columns,
    time_zone,
    timestamp_ns,
    warn_dropped,
)
from funnelkit.errors import FunnelkitWarning, InvalidDataError

OPEN, WON, LOST, CLOSED = 0, 1, 2, 3
NAT = np.iinfo(np.int64).min
IntArray = np.ndarray[Any, np.dtype[np.int64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: Shared numpydoc text of the ``errors=`` keyword.
ERRORS_DOC = """errors : {"raise", "warn"}, default="raise"
    What to do with contradictory rows (closed before created; won or lost with no
    close date): raise :class:`InvalidDataError`, or leave them out with a
    :class:`FunnelkitWarning`."""


@dataclass(frozen=True)
class DealArrays:
    """A validated deal table as aligned numpy arrays (one entry per kept row)."""

    frame: pd.DataFrame  #: the kept rows of the input (never modified)
    created: IntArray  #: ns since epoch (UTC when tz-aware); NAT where unknown
    closed: IntArray  #: ns since epoch; NAT while open (or closed after as_of)
    outcome: np.ndarray[Any, np.dtype[np.int64]]  #: OPEN / WON / LOST (/ CLOSED) at ``as_of``
    amount: FloatArray | None  #: float amounts (NaN where missing) or None
    as_of: int  #: observation date, ns
    tz: Any  #: time zone of the dates (None when naive)
    codes: IntArray  #: group number of each row (0.. n_groups-1)
    keys: pd.DataFrame  #: one row per group: the ``by`` values, sorted
    rows: IntArray  #: position of each kept row in the input table

    @property
    def n_groups(self) -> int:
        """Number of by-groups (1 without ``by``)."""
        return len(self.keys)

    def subset(self, keep: BoolArray) -> DealArrays:
        """The same table restricted to the rows where ``keep`` (groups kept)."""
        return DealArrays(
            frame=self.frame.iloc[np.flatnonzero(keep)],
            created=self.created[keep],
            closed=self.closed[keep],
            outcome=self.outcome[keep],
            amount=None if self.amount is None else self.amount[keep],
            as_of=self.as_of,
            tz=self.tz,
            codes=self.codes[keep],
            keys=self.keys,
            rows=self.rows[keep],
        )


def check_unique_deals(df: pd.DataFrame, deal: Hashable) -> None:
    """A deal table has one row per deal: repeated ids are an error with the fix."""
    dup = df[deal].duplicated(keep=False).to_numpy(dtype=bool)
    if dup.any():
        raise _invalid(
            df,
            dup,
            table="deals",
            column=str(deal),
            reason="duplicate",
            what="with a repeated deal id (deal=)",
            fix=f"A deal table has one row per deal: drop duplicates first (e.g. "
            f"deals.drop_duplicates(subset=[{deal!r}], keep='last')), or pass the stage history "
            f"as history= where the function takes one.",
        )


def read_deals(
    deals: Any,
    *,
    func: str,
    deal: str,
    created: str,
    closed: str,
    status: str,
    won: Any,
    lost: Any,
    errors: str,
    amount: str | None = None,
    amount_keyword: str = "amount",
    columns: dict[str, Hashable | None] | None = None,
    by: Hashable | Sequence[Hashable] | None = None,
    as_of: Any = None,
    observed: int = NAT,
    currency: Hashable | None = None,
    need: Sequence[str] = ("won", "lost"),
    optional: Sequence[str] = (),
) -> DealArrays:
    """Validate a deal table and return it as arrays.

    Checks: columns present; deal ids not null and unique; dates parse;
    amounts are non-negative numbers; the status values map to won/lost
    (a case-only mismatch such as ``'Won'`` vs ``won='won'`` is an error with
    a hint); contradictory rows (closed before created, won or lost without a
    close date) raise unless ``errors="warn"``.  Deals created after
    ``as_of`` are left out with a warning; deals closed after ``as_of`` count
    as open at ``as_of``.

    ``need`` lists the statuses the function's numbers depend on: a table
    with none of them gets a warning naming the values found.

    ``optional`` names the roles among ``"created"``, ``"closed"`` and
    ``"status"`` whose column the table may lack (the stage-history functions
    need only the deal id): a missing date column is all NaT (its checks have
    nothing to check); without a status column a deal is closed when it has a
    close date (outcome ``CLOSED``).

    ``currency`` names the currency column of a function that adds amounts:
    when that column is in the table and a by-group holds amounts in more
    than one currency, the amounts cannot be added (an error naming them).

    The default ``as_of`` is the latest date *observed*: creation dates,
    close dates of won and lost deals, and ``observed`` (the latest entry of
    the other tables passed, e.g. the stage history).  An open deal's close
    date is the CRM's expected close date, never an observation: it is
    ignored, with a warning.
    """
    df = check_frame(deals, table="deals", func=func)
    check_option(errors, ["raise", "warn"], name="errors", func=func)
    by_cols = as_list(by)
    dated = {"created": created, "closed": closed, "status": status}
    absent = {role for role in optional if dated[role] not in df.columns}
    needed: dict[str, Hashable | None] = {
        "deal": deal,
        **{role: col for role, col in dated.items() if role not in absent},
        amount_keyword: amount,
    }
    needed.update(columns or {})
    require_columns(df, needed, table="deals")
    for col in by_cols:
        require_columns(df, {"by": col}, table="deals")
    if won == lost:
        raise param_error(func, "lost", f"different from won={won!r}", lost)

    df = check_not_null(df, deal, table="deals", keyword="deal", func=func)
    check_unique_deals(df, deal)

    no_dates = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    created_s = (
        no_dates
        if "created" in absent
        else as_datetime(df, created, table="deals", keyword="created")
    )
    closed_s = (
        no_dates if "closed" in absent else as_datetime(df, closed, table="deals", keyword="closed")
    )
    tz_c, tz_d = time_zone(created_s), time_zone(closed_s)
    if (tz_c is None) != (tz_d is None) and created_s.notna().any() and closed_s.notna().any():
        msg = (
            f"deals[{created!r}] (created=) and deals[{closed!r}] (closed=) mix naive and "
            f"time-zone-aware dates. Convert both to one zone, e.g. with pd.to_datetime(..., "
            f"utc=True)."
        )
        raise InvalidDataError(msg, column=str(closed), reason="mixed_tz", n_rows=len(df))
    tz = tz_c if tz_c is not None else tz_d
    c_ns = datetime_to_ns(created_s)
    d_ns = datetime_to_ns(closed_s)
    amounts = (
        None
        if amount is None
        else as_amount(df, amount, table="deals", keyword=amount_keyword).to_numpy()
    )

    if "status" in absent:  # closed when it has a close date (the table says nothing else)
        outcome = np.where(d_ns != NAT, CLOSED, OPEN).astype(np.int64)
    else:
        st = df[status]
        # the distinct statuses once: the label checks and the outcome work on them
        value_codes, uniques = pd.factorize(st)
        distinct = pd.Index(uniques)
        n_rows = np.bincount(value_codes[value_codes >= 0], minlength=len(distinct))
        counts = pd.Series(n_rows, index=distinct).sort_values(ascending=False, kind="stable")
        # near misses ('Won', 'won ', 'Closed Won'), booleans and 0/1 are errors with the
        # exact fix; no won or no lost value at all is a warning naming the values found
        check_value_labels(
            st,
            {"won": won, "lost": lost},
            table="deals",
            column=status,
            keyword="status",
            func=func,
            warn_absent=need,
            counts=counts,
        )
        code_outcome = np.where(
            distinct.isin(_values(won)), WON, np.where(distinct.isin(_values(lost)), LOST, OPEN)
        ).astype(np.int64)
        outcome = np.append(code_outcome, OPEN)[value_codes]  # a null status (-1) is open

    has_c, has_d = c_ns != NAT, d_ns != NAT
    # an open deal's close date is an expected date, not an observation
    expected = has_d & (outcome == OPEN)
    if expected.any():
        _warn_expected_close(int(expected.sum()), closed, func=func)
        d_ns = np.where(expected, NAT, d_ns)
        has_d = d_ns != NAT

    bad_order = has_c & has_d & (d_ns < c_ns)
    # without a close-date column, a won or lost deal's date is not recorded (no contradiction)
    no_close = (outcome != OPEN) & ~has_d & ("closed" not in absent)
    keep = np.ones(len(df), dtype=bool)
    for mask, column, reason, what, fix in (
        (
            bad_order,
            closed,
            "closed_before_created",
            "closed before they were created (closed= earlier than created=)",
            "Fix the dates, or pass errors='warn' to leave those deals out with a warning.",
        ),
        (
            no_close,
            closed,
            "closed_without_date",
            f"that are won or lost ({status}= is {won!r} or {lost!r}) but have no close date",
            "Fill the close dates, or pass errors='warn' to leave those deals out with a warning.",
        ),
    ):
        if not mask.any():
            continue
        if errors == "raise":
            raise _bad_rows(df, mask, column=column, reason=reason, what=what, fix=fix)
        warn_dropped(
            int(mask.sum()),
            len(df),
            f"they are contradictory: {what.removeprefix('that are ')}",
            func=func,
        )
        keep &= ~mask

    # observation date
    if as_of is None:
        stamps = np.concatenate((c_ns[has_c & keep], d_ns[has_d & keep], [observed]))
        cutoff = int(stamps.max())
    else:
        cutoff = timestamp_ns(check_date(as_of, tz=tz, name="as_of", func=func))
        late = keep & has_c & (c_ns > cutoff)
        if late.any():
            warn_dropped(int(late.sum()), len(df), "they were created after as_of", func=func)
            keep &= ~late
        reopened = has_d & (d_ns > cutoff)
        outcome = np.where(reopened, OPEN, outcome)
        d_ns = np.where(reopened, NAT, d_ns)

    # groups (on all rows, so that groups with no usable rows still show)
    codes, keys = group_codes(df, by_cols)
    if amounts is not None and currency is not None and currency in df.columns:
        _check_one_currency(df, currency, codes, keys, by_cols, func=func)
    rows = np.flatnonzero(keep)
    # every cycle (created -> closed, or -> as_of while open) must fit in int64 ns
    end = np.where(outcome == OPEN, cutoff, d_ns)[rows]
    duration_ns(end, c_ns[rows], what=f"from deals[{created!r}] to the close or as_of")
    return DealArrays(
        frame=df.iloc[rows],
        created=c_ns[rows],
        closed=np.where(outcome == OPEN, NAT, d_ns)[rows],
        outcome=outcome[rows],
        amount=None if amounts is None else amounts[rows].astype(np.float64),
        as_of=cutoff,
        tz=tz,
        codes=codes[rows],
        keys=keys,
        rows=rows.astype(np.int64),
    )


def _check_one_currency(
    df: pd.DataFrame,
    currency: Hashable,
    codes: IntArray,
    keys: pd.DataFrame,
    by_cols: list[Hashable],
    *,
    func: str,
) -> None:
    """Refuse to add amounts of different currencies within one by-group."""
    cur = df[currency]
    known = cur.notna().to_numpy()
    if not known.any():
        return
    per_group = pd.DataFrame({"g": codes[known], "c": cur.to_numpy()[known]})
    n_cur = per_group.groupby("g")["c"].nunique()
    if (n_cur > 1).any():
        found = sorted(map(str, pd.unique(cur.dropna())))
        within = f" within a group of by={by_cols!r}" if by_cols else ""
        msg = (
            f"{func} adds deal amounts, but deals[{currency!r}] holds {len(found)} currencies"
            f"{within} ({', '.join(found[:10])}): amounts of different currencies are never "
            f"added. Pass by={[*by_cols, currency]!r} to get one result per currency, or "
            f"convert the amounts to one currency first."
        )
        raise InvalidDataError(msg, column=str(currency), reason="mixed_currency", n_rows=len(df))


def currency_column(columns: Any) -> Hashable:
    """The currency column of a ``columns=`` mapping (default ``"currency"``)."""
    if columns is not None and "currency" in columns:
        value: Hashable = columns["currency"]
        return value
    return "currency"


def _warn_expected_close(n: int, closed: Hashable, *, func: str) -> None:
    warnings.warn(
        f"{func}: {n:,} open deals have a date in deals[{closed!r}] "
        f"(closed=); CRMs store the expected close date there, so it is ignored (an open "
        f"deal is not closed, and its expected date is not an observation). Give won / "
        f"lost deals their status, or clear the column for open deals to silence this.",
        FunnelkitWarning,
        stacklevel=5,
    )


def latest_observed(*stamps: IntArray) -> int:
    """The latest of the given ns stamps (NAT ignored); 0 when there is none."""
    known = [a[a != NAT] for a in stamps]
    return max((int(a.max()) for a in known if a.size), default=0)


def close_dates(
    df: pd.DataFrame, *, closed: str, status: str, won: Any, lost: Any, func: str
) -> tuple[IntArray, pd.Series]:
    """Close dates (ns) of the deals that are closed, NAT for the others; the parsed column.

    With the ``status`` column in ``df`` (the deal reader's rule): a deal is
    closed only when its status is ``won`` or ``lost``; an open deal's date is
    the CRM's expected close date, ignored with a warning.  Without a status
    column every close date counts (the table says nothing else).
    """
    s = as_datetime(df, closed, table="deals", keyword="closed")
    ns = datetime_to_ns(s)
    if status in df.columns:
        check_value_labels(
            df[status],
            {"won": won, "lost": lost},
            table="deals",
            column=status,
            keyword="status",
            func=func,
            warn_absent=(),
        )
        is_closed = df[status].isin([*_values(won), *_values(lost)]).to_numpy(dtype=bool)
        expected = (ns != NAT) & ~is_closed
        if expected.any():
            _warn_expected_close(int(expected.sum()), closed, func=func)
            ns = np.where(expected, NAT, ns)
    return ns, s


def group_labels(keys: pd.DataFrame) -> list[Any]:
    """The label of each by-group: its value, or a tuple of values for several columns."""
    return [tuple(r) if keys.shape[1] > 1 else r[0] for r in keys.itertuples(index=False)]


def group_targets(target: Any, keys: pd.DataFrame, *, func: str) -> list[float]:
    """One positive target per by-group: the same number, or a mapping by group label."""
    if not isinstance(target, Mapping):
        return [check_positive(target, name="target", func=func)] * len(keys)
    labels = group_labels(keys)
    missing = [lab for lab in labels if lab not in target]
    if missing:
        raise param_error(
            func,
            "target",
            f"a positive number, or a mapping with a target for every group (missing: "
            f"{missing[:5]!r}{' ...' if len(missing) > 5 else ''})",
            dict(target),
        )
    return [check_positive(target[lab], name="target", func=func) for lab in labels]


def group_codes(df: pd.DataFrame, by_cols: list[Hashable]) -> tuple[IntArray, pd.DataFrame]:
    """Group number per row and the sorted group keys (missing values form a group)."""
    if not by_cols:
        # no deals, no group: every result on 0 rows has 0 rows
        n_groups = 1 if len(df) else 0
        return np.zeros(len(df), dtype=np.int64), pd.DataFrame(index=pd.RangeIndex(n_groups))
    grouped = df.groupby(by_cols, dropna=False, sort=True, observed=True)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)
    keys = grouped.size().reset_index()[by_cols]
    return codes, keys.reset_index(drop=True)


def with_keys(keys: pd.DataFrame, measures: dict[str, Any], *, repeat: Any = None) -> pd.DataFrame:
    """Tidy result: the by-columns (each group row repeated ``repeat`` times), then measures."""
    base = keys if repeat is None else keys.loc[keys.index.repeat(repeat)]
    out: pd.DataFrame = base.reset_index(drop=True).copy()
    for name, values in measures.items():
        # a label (str) stays an object column on 0 rows too
        out[name] = np.full(len(out), values, dtype=object) if isinstance(values, str) else values
    return out


def drop_unusable(
    d: DealArrays, mask: BoolArray, why: str, *, func: str, n_total: int | None = None
) -> DealArrays:
    """Leave out the rows where ``mask`` with the standard warning."""
    if not mask.any():
        return d
    warn_dropped(int(mask.sum()), n_total or len(mask), why, func=func)
    return d.subset(~mask)


def _values(value: Any) -> list[Any]:
    """A status value, or a list of them, as a list for ``isin``."""
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _bad_rows(
    df: pd.DataFrame, mask: BoolArray, *, column: str, reason: str, what: str, fix: str
) -> InvalidDataError:
    positions = np.flatnonzero(mask)
    n_bad = positions.size
    msg = (
        f"deals has {n_bad:,} of {len(df):,} rows {what} "
        f"(first at index {plain(df.index[positions[0]])!r}). {fix}"
    )
    return InvalidDataError(
        msg,
        column=str(column),
        reason=reason,
        n_rows=n_bad,
        examples=df.iloc[positions[:N_EXAMPLES]],
    )


def to_timedelta(ns: Any) -> pd.Series:
    """Float or int nanoseconds (NaN = missing) to a ``timedelta64[ns]`` Series."""
    values = np.asarray(ns, dtype=np.float64)
    out = np.where(np.isnan(values), NAT, np.round(np.nan_to_num(values))).astype(np.int64)
    result: pd.Series = pd.Series(out.view("timedelta64[ns]"))
    return result
