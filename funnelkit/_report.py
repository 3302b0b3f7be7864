"""The HTML report: every analysis the inputs allow, in one self-contained file.

:func:`report` runs the sections of :data:`SECTIONS` (pipeline now, funnel
and drop-off, cycle length, win rate and reps, channels, touches, triggers,
stalled and revival lists, revenue plan) on a user's tables.  Sections call
the public funnelkit functions directly, with the user's frames as given and
the column schema of the analysis (one mapping from role to column, see
:data:`ROLE_DEFAULTS`), so every table of the report is exactly what the
function returns for the same arguments.  A part of a section whose inputs
are not given, or whose precondition fails (no won deals yet), is skipped
with the reason; the rest is written.  A section yields *items*:
``(title, table)`` or ``(title, table, draw)`` with ``draw(ax) -> Axes``.

``funnelkit demo`` (:mod:`funnelkit._demo`) runs the same sections, once, on
the bundled sample.  The page is written by :func:`write_report`: tables
through :mod:`funnelkit._format` (one unit per duration column, blocks of
columns that fit an A4 page), pictures as base64 PNG, every piece of user
data HTML-escaped, no external resources; the CSV files through
:func:`funnelkit._format.csv_frame` (durations in days, ISO dates, formula
cells neutralised).  Files in ``out`` that the report did not write (not in
its :data:`MANIFEST`) are never replaced without ``overwrite=True``.  The
functions' warnings become notes of the running call only (:data:`_NOTES`,
:class:`_WarningsRouter`).  The ``funnelkit report`` command
(:func:`add_report_parser`, :func:`run_report_command`) reads CSV / Parquet
exports and names the file in every error.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as _dt
import hashlib
import html
import io
import os
import re
import sys
import time
import types
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from funnelkit._format import (
    DurationUnit,
    column_blocks,
    format_cells,
    key_columns,
    repeated_keys,
    to_csv_text,
)
from funnelkit._sales_data import SalesData
from funnelkit._validate import as_datetime, check_frame, param_error, require_columns
from funnelkit._version import __version__
from funnelkit.deals import (
    channel_yield,
    coverage,
    deal_size,
    leaderboard,
    pipeline,
    sales_cycle,
    sales_velocity,
    win_curve,
    win_rate,
)
from funnelkit.errors import (
    ColumnNotFoundError,
    FunnelkitError,
    FunnelkitWarning,
    InvalidDataError,
    InvalidParameterError,
)
from funnelkit.events import conversion, dropoff, time_to_convert
from funnelkit.planning import plan
from funnelkit.plotting._deals import (
    plot_channel_yield,
    plot_leaderboard,
    plot_pipeline,
    plot_sales_cycle,
    plot_win_curve,
)
from funnelkit.plotting._events import plot_dropoff, plot_funnel, plot_time_to_convert
from funnelkit.plotting._planning import plot_plan
from funnelkit.plotting._stages import plot_stage_conversion, plot_time_in_stage
from funnelkit.plotting._touches import plot_touches, plot_triggers
from funnelkit.stages import (
    lost_deals,
    revival_candidates,
    stage_conversion,
    stalled,
    time_in_stage,
)
from funnelkit.touches import touches_summary, touches_to_response
from funnelkit.triggers import triggers

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Draw = Callable[["Axes"], "Axes"]
#: A section item: ``(title, table)`` or ``(title, table, draw)``.
Item = tuple[str, pd.DataFrame] | tuple[str, pd.DataFrame, Draw]

#: Rows of a table shown in the page (the CSV file has them all).
MAX_HTML_ROWS = 25
#: Size of every picture, inches, and its resolution.
FIGSIZE = (8.0, 4.6)
DPI = 110

#: Every role of the column schema and its default: a column name, or for the
#: value roles (``won``, ``lost``, ``positive``) the value that marks it.
ROLE_DEFAULTS: dict[str, str] = {
    # events (entity, time) and touches (entity, time, channel, response)
    "entity": "user_id",
    "time": "timestamp",
    "event": "event",
    # deals
    "deal": "deal_id",
    "created": "created_at",
    "closed": "closed_at",
    "status": "status",
    "amount": "amount",
    "stage": "stage",
    "owner": "owner",
    "channel": "channel",
    "lost_reason": "lost_reason",
    "currency": "currency",
    "expected_close": "expected_close",
    # stage history (deal, stage, entered)
    "entered": "entered_at",
    # touches (and touch counts: entity, contacts, response)
    "response": "response",
    "contacts": "contacts",
    # costs (channel, cost)
    "cost": "cost",
    # values
    "won": "won",
    "lost": "lost",
    "positive": "positive",
}
#: Roles whose value is a value of a column (of ``status``, ``response``), not a column.
VALUE_ROLES = ("won", "lost", "positive")


class _Skip(Exception):
    """A part of a section cannot run; the message is the reason."""


@dataclass
class Inputs:
    """The tables a report runs on, the column schema, and a label per table.

    The frames are the user's, unchanged: every function the report calls
    gets them as they are, with the column names of ``columns``.
    """

    deals: pd.DataFrame
    history: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    steps: list[Any] | None = None  # event names, or lists of names (any fills the step)
    touches: pd.DataFrame | None = None
    costs: pd.DataFrame | None = None
    stages: list[str] | None = None
    target: float | None = None
    as_of: pd.Timestamp | None = None
    period_end: pd.Timestamp | None = None
    columns: dict[str, Any] = field(default_factory=lambda: dict(ROLE_DEFAULTS))
    labels: dict[str, str] = field(default_factory=dict)

    def label(self, table: str) -> str:
        return self.labels.get(table, table)

    def tables(self) -> dict[str, pd.DataFrame | None]:
        """The tables by name (None: not given)."""
        return {
            "deals": self.deals,
            "history": self.history,
            "events": self.events,
            "touches": self.touches,
            "costs": self.costs,
        }

    def col(self, role: str) -> Any:
        """The column (or value) that plays ``role``."""
        return self.columns[role]

    def kw(self, *roles: str) -> dict[str, Any]:
        """The keywords ``{role: column}`` for a function without ``columns=``.

        The event and touch functions do not take ``columns=`` yet.
        """
        return {r: self.columns[r] for r in roles}

    def period(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The plan's period: ``as_of`` to ``period_end`` (exclusive)."""
        if self.as_of is None or self.period_end is None:  # pragma: no cover - set by make_inputs
            msg = "the period is set by make_inputs"
            raise _Skip(msg)
        return self.as_of, self.period_end


@dataclass
class SectionResult:
    """What one section produced: items, or the reason it was skipped."""

    name: str
    items: list[Item] = field(default_factory=list)
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Unit of the durations of each item: days for sales tables, "auto" for event tables.
    units: list[DurationUnit] = field(default_factory=list)

    def unit(self, i: int) -> DurationUnit:
        """The duration unit of item ``i`` (days unless a part said otherwise)."""
        return self.units[i] if i < len(self.units) else "d"


Part = Callable[[Inputs], list[Item]]


@dataclass(frozen=True)
class Section:
    """A section of the report: a name and its parts (each may skip, with a reason)."""

    name: str
    parts: tuple[Part, ...]


# ----------------------------------------------------------------------------
# helpers for sections
# ----------------------------------------------------------------------------
def _item(title: str, table: pd.DataFrame, plot: Callable[..., Axes] | None = None) -> Item:
    """An item; with a picture drawn by ``plot(table, ax=ax)`` when given."""
    if plot is None:
        return (title, table)

    def draw(ax: Axes) -> Axes:  # long labels shortened: laying them out takes seconds
        return _sales_words(plot(short_labels(table), ax=ax))

    return (title, table, draw)


#: The pictures' own phrases in the report's sales wording (user labels stay as they are).
SALES_PHRASES = {
    "Where entities drop off": "Where leads drop off",
    "What entities did next": "What leads did next",
    "share of entities lost": "share of leads lost",
    "entities lost": "leads lost",
}


def _sales_words(ax: Axes) -> Axes:
    """Say "leads", not "entities", in a picture's title and axis labels (their fixed words)."""
    for loc in ("left", "center", "right"):
        text = ax.get_title(loc=loc)
        for old, new in SALES_PHRASES.items():
            if text.startswith(old):
                ax.set_title(new + text[len(old) :], loc=loc, fontsize="medium", fontweight="bold")
                break
    for get, put in ((ax.get_xlabel, ax.set_xlabel), (ax.get_ylabel, ax.set_ylabel)):
        text = get()
        if text in SALES_PHRASES:
            put(SALES_PHRASES[text])
    return ax


def _need(inp: Inputs, table: str, *roles: str) -> None:
    """Skip unless the table has the columns of ``roles``."""
    df = inp.tables()[table]
    if df is None:
        return
    missing = [r for r in roles if inp.col(r) not in df.columns]
    if missing:
        names = " or ".join(f"{inp.col(r)!r} ({r}=)" for r in missing)
        plural = "s" if len(missing) > 1 else ""
        msg = f"{inp.label(table)} has no {names} column{plural}"
        raise _Skip(msg)


def _need_history(inp: Inputs, what: str) -> pd.DataFrame:
    if inp.history is None:
        msg = f"{what} needs a stage history (history=, --history)"
        raise _Skip(msg)
    return inp.history


def _need_events(inp: Inputs, what: str = "the event funnel") -> tuple[pd.DataFrame, list[Any]]:
    if inp.events is None or inp.steps is None:
        msg = f"{what} needs an event log and its steps (events= and steps=, --events and --steps)"
        raise _Skip(msg)
    return inp.events, inp.steps


def _need_touches(inp: Inputs) -> pd.DataFrame:
    if inp.touches is None:
        msg = "needs a touch log (touches=, --touches)"
        raise _Skip(msg)
    return inp.touches


def _need_target(inp: Inputs, what: str) -> float:
    if inp.target is None:
        msg = f"{what} needs a revenue target (target=, --target)"
        raise _Skip(msg)
    return inp.target


def won_deals(inp: Inputs) -> int:
    """How many deals were won by ``as_of`` (status equal to the ``won`` value)."""
    deals = inp.deals
    won = deals[inp.col("status")].to_numpy() == inp.col("won")
    closed = as_datetime(deals, inp.col("closed"), table="deals", keyword="closed")
    if inp.as_of is not None:
        tz = getattr(closed.dtype, "tz", None)
        as_of = inp.as_of
        if (tz is None) != (as_of.tz is None):
            as_of = as_of.tz_localize(tz) if tz is not None else as_of.tz_localize(None)
        won &= (closed <= as_of).to_numpy()
    return int(won.sum())


def _need_won(inp: Inputs, what: str) -> None:
    """Precondition of a part measured from won deals: at least one won by ``as_of``."""
    if won_deals(inp) == 0:
        when = "" if inp.as_of is None else f" by {inp.as_of:%Y-%m-%d}"
        msg = (
            f"{what} is measured from won deals, and {inp.label('deals')} has no deal "
            f"with {inp.col('status')} == {inp.col('won')!r}{when} yet"
        )
        raise _Skip(msg)


def _run_parts(
    parts: Sequence[Part], inp: Inputs, notes: list[str], units: list[DurationUnit] | None = None
) -> list[Item]:
    """Run the parts of a section; skip the section only when none ran."""
    items: list[Item] = []
    reasons: list[str] = []
    for part in parts:
        try:
            made = part(inp)
        except _Skip as skip:
            reasons.append(str(skip))
            continue
        items.extend(made)
        if units is not None:  # event tables choose their unit from the data, sales use days
            units.extend(["auto" if part in _EVENT_PARTS else "d"] * len(made))
    if not items:
        raise _Skip("; ".join(dict.fromkeys(reasons)) or "nothing to show")
    notes.extend(f"not shown: {r}" for r in dict.fromkeys(reasons))
    return items


# ----------------------------------------------------------------------------
# notes: the functions' warnings, collected per call
# ----------------------------------------------------------------------------
#: The notes of the report running in this thread (context), or None outside a report.
_STDLIB_WARNINGS = warnings  # this module's own ``warnings`` is routed too

_NOTES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "funnelkit_report_notes", default=None
)


def note(message: str) -> None:
    """Add a note under the running section, or warn when no report is running."""
    notes = _NOTES.get()
    if notes is None:
        warnings.warn(message, FunnelkitWarning, stacklevel=3)
    else:
        notes.append(message)


class _WarningsRouter(types.ModuleType):
    """The ``warnings`` module as funnelkit's own modules see it during a report.

    ``warn`` of a :class:`FunnelkitWarning` goes to the notes of the report
    running in the calling thread (a context variable: each thread, each
    call, its own list), before any filter; every other warning, and every
    warning outside a report, goes to :func:`warnings.warn` unchanged. No
    process-wide ``warnings.catch_warnings`` is involved, so two reports
    running at once keep their notes apart and no one else's warning is
    caught.
    """

    def __init__(self) -> None:
        super().__init__("warnings")

    def __getattr__(self, name: str) -> Any:
        return getattr(_STDLIB_WARNINGS, name)

    def warn(
        self,
        message: Any,
        category: type[Warning] | None = None,
        stacklevel: int = 1,
        source: Any = None,
        **kwargs: Any,
    ) -> None:
        notes = _NOTES.get()
        if isinstance(message, Warning):
            kind: type[Warning] = type(message)
        else:
            kind = category if category is not None else UserWarning
        if notes is not None and issubclass(kind, FunnelkitWarning):
            notes.append(str(message))
            return
        _STDLIB_WARNINGS.warn(message, category, stacklevel + 1, source, **kwargs)


_ROUTER = _WarningsRouter()


def _route_warnings() -> None:
    """Let every loaded funnelkit module warn through :class:`_WarningsRouter` (idempotent)."""
    for name, module in list(sys.modules.items()):
        if (name == "funnelkit" or name.startswith("funnelkit.")) and getattr(
            module, "warnings", None
        ) is _STDLIB_WARNINGS:
            module.warnings = _ROUTER  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------
# the sections
# ----------------------------------------------------------------------------
def _pipeline(inp: Inputs) -> list[Item]:
    _need(inp, "deals", "stage", "amount")
    # measured stage probabilities need the funnel order: given, or inferred from the history
    given = inp.history is not None or inp.stages is not None
    stages, history = funnel_of(inp) if given else (None, inp.history)
    res = pipeline(inp.deals, stages=stages, history=history, as_of=inp.as_of, columns=inp.columns)
    return [_item("Open pipeline by stage", res, plot_pipeline)]


def _coverage(inp: Inputs) -> list[Item]:
    target = _need_target(inp, "coverage")
    _need(inp, "deals", "amount")
    as_of, end = inp.period()
    res = coverage(inp.deals, target, as_of=as_of, period_end=end, columns=inp.columns)
    return [_item(f"Coverage of the target, {period_name(as_of, end)}", res)]


def _conversion(inp: Inputs) -> list[Item]:
    ev, st = _need_events(inp)
    res = conversion(ev, st, as_of=inp.as_of, **inp.kw("entity", "time", "event"))
    return [_item("Conversion through the funnel", res, plot_funnel)]


def _dropoff(inp: Inputs) -> list[Item]:
    ev, st = _need_events(inp)
    res = dropoff(ev, st, as_of=inp.as_of, **inp.kw("entity", "time", "event"))
    return [_item("Where leads drop off", res, plot_dropoff)]


def _time_to_convert(inp: Inputs) -> list[Item]:
    ev, st = _need_events(inp)
    kws: dict[str, Any] = {"as_of": inp.as_of, **inp.kw("entity", "time", "event")}
    if inp.col("channel") in ev.columns:
        res = time_to_convert(ev, st, by=inp.col("channel"), **kws)
        return [_item("Time to convert, by channel", res, plot_time_to_convert)]
    return [_item("Time to convert", time_to_convert(ev, st, **kws), plot_time_to_convert)]


def _stage_conversion(inp: Inputs) -> list[Item]:
    stages, history = _funnel_history(inp, "stage-to-stage conversion")
    res = stage_conversion(history, stages, deals=inp.deals, columns=inp.columns)
    return [_item("Stage-to-stage conversion", res, plot_stage_conversion)]


def _sales_cycle(inp: Inputs) -> list[Item]:
    kws: dict[str, Any] = {"columns": inp.columns}
    res = sales_cycle(inp.deals, as_of=inp.as_of, **kws)
    if inp.col("channel") not in inp.deals.columns:
        return [_item("Sales cycle (created to won)", res, plot_sales_cycle)]
    by_channel = sales_cycle(inp.deals, by=inp.col("channel"), as_of=inp.as_of, **kws)
    return [
        _item("Sales cycle (created to won)", res),
        _item("Sales cycle by channel", by_channel, plot_sales_cycle),
    ]


def _win_curve(inp: Inputs) -> list[Item]:
    res = win_curve(inp.deals, as_of=inp.as_of, columns=inp.columns)
    shown = at_milestones(res)

    def draw(ax: Axes) -> Axes:  # the picture draws the whole curve
        return plot_win_curve(res, ax=ax)

    return [("Chance of winning within t days", shown, draw)]


def _time_in_stage(inp: Inputs) -> list[Item]:
    stages, history = _funnel_history(inp, "time in stage")
    # with the deals, a closed deal's stay ends at its close: lost deals do not sit forever
    res = time_in_stage(
        history,
        stages,
        as_of=inp.as_of,
        deals=inp.deals,
        columns=inp.columns,
    )
    return [_item("Time in stage", res, plot_time_in_stage)]


def _win_rate(inp: Inputs) -> list[Item]:
    kws: dict[str, Any] = {"as_of": inp.as_of, "columns": inp.columns}
    items = [_item("Win rate of closed deals", win_rate(inp.deals, **kws))]
    if inp.col("channel") in inp.deals.columns:
        res = win_rate(inp.deals, by=inp.col("channel"), **kws)
        items.append(_item("Win rate by channel", res))
    return items


def _deal_size(inp: Inputs) -> list[Item]:
    _need(inp, "deals", "amount")
    _need_won(inp, "the size of won deals")
    return [_item("Size of won deals", deal_size(inp.deals, as_of=inp.as_of, columns=inp.columns))]


def _velocity(inp: Inputs) -> list[Item]:
    _need(inp, "deals", "amount")
    res = sales_velocity(inp.deals, as_of=inp.as_of, columns=inp.columns)
    return [_item("Sales velocity", res)]


def _leaderboard(inp: Inputs) -> list[Item]:
    _need(inp, "deals", "owner", "amount")
    res = leaderboard(inp.deals, as_of=inp.as_of, columns=inp.columns)
    return [_item("Rep leaderboard", res, plot_leaderboard)]


def _channel_yield(inp: Inputs) -> list[Item]:
    _need(inp, "deals", "channel", "amount")
    _need(inp, "costs", "channel", "cost")
    res = channel_yield(inp.deals, costs=inp.costs, as_of=inp.as_of, columns=inp.columns)
    return [_item("Channel yield", res, plot_channel_yield)]


def _touches_to_response(inp: Inputs) -> list[Item]:
    res = touches_to_response(
        _need_touches(inp), **inp.kw("entity", "time", "response", "positive")
    )
    return [_item("Response by touch number", res, plot_touches)]


def _touches_summary(inp: Inputs) -> list[Item]:
    res = touches_summary(_need_touches(inp), **inp.kw("entity", "time", "response", "positive"))
    return [_item("Touches summary", res)]


def _triggers(inp: Inputs) -> list[Item]:
    events, steps = _need_events(inp, "the trigger analysis")
    candidates = behaviours(
        events, steps, entity=inp.col("entity"), time=inp.col("time"), event=inp.col("event")
    )
    if not candidates:
        msg = "the event log has no events besides the steps and terminal events"
        raise _Skip(msg)
    items: list[Item] = []
    for at_step in range(1, len(steps)):
        res = triggers(
            events,
            steps,
            at_step=at_step,
            candidates=candidates,
            as_of=inp.as_of,
            **inp.kw("entity", "time", "event"),
        )
        res = res[res["entities_with"] > 0].reset_index(drop=True)  # behaviours nobody did
        if res.empty or bool(res["small_sample"].all()):
            continue  # too few entities did anything at this step: nothing to read
        before, after = _label(steps[at_step - 1]), _label(steps[at_step])
        items.append(_item(f"Behaviours between {before} and {after}", res, plot_triggers))
    if not items:
        msg = "every behaviour has too few entities at every step"
        raise _Skip(msg)
    note(
        "Triggers show association, not causation: leads who request a demo may "
        "differ from those who do not in ways the data does not record."
    )
    return items


def _label(step: Any) -> str:
    """A step's readable name: ``"demo | trial"`` for a list of events."""
    return step if isinstance(step, str) else " | ".join(str(s) for s in step)


def behaviours(
    events: pd.DataFrame,
    steps: Sequence[Any],
    *,
    entity: str = "user_id",
    time: str = "timestamp",
    event: str = "event",
) -> list[str]:
    """Candidate behaviours: events that are not steps and not terminal.

    A terminal event (every occurrence is the entity's last event, such as
    ``lost``) cannot be something a lead does on its way to the next step.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2],
    ...                    "timestamp": pd.to_datetime(["2025-01-0%d" % d for d in range(1, 7)]),
    ...                    "event": ["lead", "demo", "won", "lead", "trial", "lost"]})
    >>> behaviours(ev, ["lead", "won"])
    ['demo', 'trial']
    """
    step_names = {str(n) for step in steps for n in ([step] if isinstance(step, str) else step)}
    ev = events[[entity, time, event]].dropna()
    ev = ev.assign(**{time: as_datetime(ev, time, table="events", keyword="time")})
    ev = ev.sort_values([entity, time], kind="stable")
    is_last = ~ev[entity].duplicated(keep="last")
    share_last = is_last.groupby(ev[event].astype(str), observed=True).mean()
    return sorted(
        str(name)
        for name, share in share_last.items()
        if str(name) not in step_names and share < 1.0
    )


def _stalled(inp: Inputs) -> list[Item]:
    stages, history = _funnel_history(inp, "stalled deals")
    res = stalled(history, stages, deals=inp.deals, as_of=inp.as_of, columns=inp.columns)
    return [_item("Stalled open deals", res)]


def _lost_deals(inp: Inputs) -> list[Item]:
    _need(inp, "deals", "lost_reason", "amount")
    given = inp.stages is not None or inp.history is not None
    stages, history = funnel_of(inp) if given else (None, inp.history)
    res = lost_deals(inp.deals, history=history, stages=stages, columns=inp.columns)
    return [_item("Lost deals by stage and reason", res)]


def _revival(inp: Inputs) -> list[Item]:
    _need(inp, "deals", "lost_reason", "amount")
    stages, history = funnel_of(inp, "the revival list")
    res = revival_candidates(
        inp.deals, history=history, stages=stages, as_of=inp.as_of, columns=inp.columns
    )
    return [_item("Lost deals worth reviving", res)]


def _plan(inp: Inputs) -> list[Item]:
    target = _need_target(inp, "the revenue plan")
    _need(inp, "deals", "amount")
    _need_won(inp, "the revenue plan")
    as_of, end = inp.period()
    kws: dict[str, Any] = {}
    history = inp.history
    if history is not None:
        kws["stages"], history = funnel_of(inp)
    res = plan(
        inp.deals,
        target,
        history=history,
        as_of=as_of,
        period_end=end,
        columns=inp.columns,
        **kws,
    )
    entering = res["time_left"].iloc[:-1].dropna()  # the last row, won, is entered by a win
    if len(entering) and bool((entering < pd.Timedelta(0)).all()):
        note(
            f"Every enter_by date of the plan is already past on {as_of:%Y-%m-%d}: "
            f"deals that enter any stage now typically close after "
            f"{end - pd.Timedelta(days=1):%Y-%m-%d}. Give a later period_end "
            f"(period_end=, --period-end) for a plan that can still be met."
        )
    return [_item(f"Plan for a target of {target:,.0f}, {period_name(as_of, end)}", res, plot_plan)]


#: Parts whose tables come from the event log: their durations choose a unit from the data.
_EVENT_PARTS: frozenset[Part] = frozenset({_conversion, _dropoff, _time_to_convert, _triggers})

#: The report's sections, in order: computed once, shown by the report and the demo.
SECTIONS: list[Section] = [
    Section("Pipeline now", (_pipeline, _coverage)),
    Section("Funnel and drop-off", (_conversion, _dropoff, _time_to_convert, _stage_conversion)),
    Section("Cycle length", (_sales_cycle, _win_curve, _time_in_stage)),
    Section("Win rate and reps", (_win_rate, _deal_size, _velocity, _leaderboard)),
    Section("Channels", (_channel_yield,)),
    Section("Touches", (_touches_to_response, _touches_summary)),
    Section("Triggers", (_triggers,)),
    Section("Stalled and revival lists", (_stalled, _lost_deals, _revival)),
    Section("Revenue plan", (_plan,)),
]


#: Horizons at which a long curve (``win_curve``) is read in the page.
MILESTONE_DAYS = (7, 14, 30, 60, 90, 180, 365, 730)


def at_milestones(curve: pd.DataFrame) -> pd.DataFrame:
    """A :func:`funnelkit.win_curve` read at 7, 14, 30, ... days after creation.

    Per group (the columns before ``t``) and horizon ``t``: ``won`` and
    ``lost``, the deals won and lost within ``t`` of their creation
    (cumulative counts), and the curve's ``cumulative_win`` (with its interval)
    in effect at ``t``: the last step at or before it, 0 before the first.

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"t": pd.to_timedelta([1, 8, 20, 400], unit="D"),
    ...                       "at_risk": [10, 9, 8, 2], "won": [0, 1, 1, 1],
    ...                       "lost": [1, 0, 0, 0], "cumulative_win": [0.0, 0.1, 0.2, 0.3]})
    >>> table = at_milestones(curve)
    >>> table["t"].dt.days.tolist()
    [7, 14, 30, 60, 90, 180, 365, 730]
    >>> table["won"].tolist()
    [0, 1, 2, 2, 2, 2, 2, 3]
    >>> table["lost"].tolist()
    [1, 1, 1, 1, 1, 1, 1, 1]
    >>> table["cumulative_win"].tolist()
    [0.0, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.3]
    """
    by = list(curve.columns[: list(curve.columns).index("t")])
    rates = [c for c in curve.columns if c.startswith("cumulative_win")]
    horizons = pd.to_timedelta(list(MILESTONE_DAYS), unit="D")
    groups: Any = curve.groupby(by, sort=False, dropna=False) if by else [((), curve)]
    blocks = []
    for key, block in groups:  # one block per group: a handful, never one per deal
        block = block.sort_values("t", kind="stable")
        pos = block["t"].searchsorted(horizons, side="right") - 1
        won = np.concatenate([[0], block["won"].cumsum().to_numpy()])[pos + 1]
        lost = np.concatenate([[0], block["lost"].cumsum().to_numpy()])[pos + 1]
        table: dict[str, Any] = {}
        keys = key if isinstance(key, tuple) else (key,)
        for name, value in zip(by, keys, strict=True):
            table[name] = [value] * len(horizons)
        table["t"] = horizons
        table["won"] = won.astype(np.int64)
        table["lost"] = lost.astype(np.int64)
        for name in rates:
            values = np.concatenate([[0.0], block[name].to_numpy(dtype=np.float64)])
            table[name] = values[pos + 1]
        blocks.append(pd.DataFrame(table))
    if not blocks:
        empty = {**{c: curve[c] for c in by}, "t": curve["t"], "won": curve["won"]}
        return cast(pd.DataFrame, pd.DataFrame(empty).iloc[:0])
    return cast(pd.DataFrame, pd.concat(blocks, ignore_index=True))


def default_period_end(as_of: pd.Timestamp) -> pd.Timestamp:
    """End (exclusive) of the report's planning period: at least one full quarter.

    The period runs from ``as_of`` to the end of the first calendar quarter
    that starts on or after ``as_of``'s day, so it always holds a full quarter
    (and the rest of the current one).

    Examples
    --------
    >>> import pandas as pd
    >>> default_period_end(pd.Timestamp("2025-06-30"))  # data ending on a quarter end
    Timestamp('2025-10-01 00:00:00')
    >>> default_period_end(pd.Timestamp("2025-05-14 15:00"))
    Timestamp('2025-10-01 00:00:00')
    >>> default_period_end(pd.Timestamp("2025-07-01"))
    Timestamp('2025-10-01 00:00:00')
    """
    day = as_of.normalize()
    naive = day.tz_localize(None) if day.tz is not None else day
    start = day if naive == naive.to_period("Q").start_time else _next_quarter(day)
    return _next_quarter(start)


def _next_quarter(day: pd.Timestamp) -> pd.Timestamp:
    naive = day.tz_localize(None) if day.tz is not None else day
    start = pd.Timestamp((naive.to_period("Q") + 1).start_time)
    return cast(pd.Timestamp, start.tz_localize(day.tz)) if day.tz is not None else start


def period_name(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """The planning period in words, its last day included.

    Examples
    --------
    >>> import pandas as pd
    >>> period_name(pd.Timestamp("2025-06-30"), pd.Timestamp("2025-10-01"))
    'closing 2025-06-30 to 2025-09-30 (to the end of Q3 2025)'
    >>> period_name(pd.Timestamp("2025-06-30"), pd.Timestamp("2025-08-15"))
    'closing 2025-06-30 to 2025-08-14'
    """
    last = end - pd.Timedelta(days=1) if end == end.normalize() else end
    text = f"closing {start:%Y-%m-%d} to {last:%Y-%m-%d}"
    naive = end.tz_localize(None) if end.tz is not None else end
    if naive == naive.to_period("Q").start_time:
        q = naive.to_period("Q") - 1
        text += f" (to the end of Q{q.quarter} {q.year})"
    return text


def stages_of(inp: Inputs, what: str = "this part") -> list[str]:
    """The stage order: as given, else inferred from the history."""
    if inp.stages is not None:
        return inp.stages
    if inp.history is None:
        msg = (
            f"{what} needs the stage order (stages=, --stages) "
            "or a stage history (history=, --history)"
        )
        raise _Skip(msg)
    return infer_stages(
        inp.history, deal=inp.col("deal"), stage=inp.col("stage"), entered=inp.col("entered")
    )


def funnel_stages(inp: Inputs, what: str = "this part") -> list[str]:
    """The run's one funnel: the stage order up to the sale (every stage section uses it)."""
    return pre_sale_stages(stages_of(inp, what), inp)


def _funnel_history(inp: Inputs, what: str) -> tuple[list[str], pd.DataFrame]:
    """The funnel and its stage history, for a part that needs the history."""
    _need_history(inp, what)
    stages, history = funnel_of(inp)
    if history is None:  # pragma: no cover - checked by _need_history
        raise _Skip(what)
    return stages, history


def funnel_of(inp: Inputs, what: str = "this part") -> tuple[list[str], pd.DataFrame | None]:
    """The funnel's stages and the stage history of those stages, with a note when cut.

    Stages after the sale (entered only by won deals: retention, onboarding)
    are not steps of the funnel: every stage section leaves them out, and
    their history rows with them, and says so.
    """
    stages = stages_of(inp, what)
    funnel = pre_sale_stages(stages, inp)
    after = [s for s in stages if s not in funnel]
    history = inp.history
    if after and history is not None:  # the page's header says so (describe)
        history = history[~history[inp.col("stage")].astype(str).isin(after).to_numpy()]
    return funnel, history


def pre_sale_stages(stages: Sequence[str], inp: Inputs) -> list[str]:
    """Drop trailing stages that only won deals enter (retention, onboarding, ...).

    A revenue plan counts the deals needed *before* the sale; a stage after it
    is not a step towards the target.

    Examples
    --------
    >>> import pandas as pd
    >>> deals = pd.DataFrame({"deal_id": [1, 2], "status": ["won", "lost"],
    ...                       "stage": ["retention", "demo"]})
    >>> pre_sale_stages(["lead", "demo", "retention"], Inputs(deals))
    ['lead', 'demo']
    """
    deal, stage = inp.col("deal"), inp.col("stage")
    deals = inp.deals
    entries = inp.history if inp.history is not None else deals
    if stage not in entries.columns:
        return list(stages)
    status = deals.set_index(deal)[inp.col("status")]
    status = status[~status.index.duplicated()]
    is_won = entries[deal].map(status).to_numpy() == inp.col("won")
    only_won = pd.Series(is_won).groupby(entries[stage].astype(str).to_numpy()).all()
    out = list(stages)
    while len(out) > 1 and bool(only_won.get(str(out[-1]), False)):
        out.pop()
    return out


def infer_stages(
    history: pd.DataFrame,
    *,
    deal: str = "deal_id",
    stage: str = "stage",
    entered: str = "entered_at",
) -> list[str]:
    """Order stages by when deals typically enter them (median rank of entry).

    Examples
    --------
    >>> import pandas as pd
    >>> h = pd.DataFrame({"deal_id": [1, 1, 1, 2, 2],
    ...                   "stage": ["lead", "demo", "won", "lead", "demo"],
    ...                   "entered_at": pd.to_datetime(["2025-01-01", "2025-01-03",
    ...                       "2025-01-09", "2025-01-02", "2025-01-04"])})
    >>> infer_stages(h)
    ['lead', 'demo', 'won']
    """
    h = history[[deal, stage, entered]].dropna()
    h = h.assign(**{entered: as_datetime(h, entered, table="history", keyword="entered")})
    first = h.groupby([deal, stage], sort=False, observed=True)[entered].min()
    rank = first.groupby(level=deal, observed=True).rank(method="first")
    order = rank.groupby(level=stage, observed=True).mean().sort_values(kind="stable")
    return [str(s) for s in order.index]


# ----------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------
_TABLE_NAMES = ("deals", "history", "events", "touches", "costs")


def _with_file(exc: FunnelkitError, inp: Inputs, tables: Sequence[str]) -> FunnelkitError:
    """Prefix the error message with the input it is about (the file, in the CLI)."""
    text = str(exc)
    found = [(text.find(t), t) for t in _TABLE_NAMES if t in text and t in inp.labels]
    which = [min(found)[1]] if found else list(tables)
    prefix = ", ".join(inp.label(t) for t in which)
    exc.args = (f"{prefix}: {text}", *exc.args[1:])
    return exc


def run_sections(
    inp: Inputs,
    *,
    echo: Callable[[str], None] | None = None,
    sections: Sequence[Section] = SECTIONS,
) -> list[SectionResult]:
    """Run every section once; a FunnelkitError names the input file and stops the run."""
    results: list[SectionResult] = []
    used = [t for t, df in inp.tables().items() if df is not None]
    _route_warnings()
    for i, section in enumerate(sections, start=1):
        if echo is not None:
            echo(f"[{i}/{len(sections)}] {section.name} ...")
        res = SectionResult(section.name)
        start = time.perf_counter()
        # the functions' own warnings (rows left out, ...) become notes under the section,
        # collected for this call only; any other warning is passed on, never hidden
        caught: list[str] = []
        token = _NOTES.set(caught)
        try:
            res.items = _run_parts(section.parts, inp, res.notes, res.units)
        except _Skip as skip:
            res.skipped = str(skip)
        except FunnelkitError as exc:
            raise _with_file(exc, inp, used) from None
        finally:
            _NOTES.reset(token)
        res.notes.extend(n for n in dict.fromkeys(caught) if n not in res.notes)
        res.seconds = time.perf_counter() - start
        if echo is not None:
            if res.skipped is not None:
                echo(wrap(f"skipped: {res.skipped}", indent="      "))
            else:
                echo(f"      {len(res.items)} table(s) in {res.seconds:.1f} s")
            for text in res.notes:
                echo(wrap(f"note: {text}", indent="      "))
        results.append(res)
    return results


#: Width of the terminal output of the demo and the command line.
TERMINAL_WIDTH = 100


def wrap(text: str, *, indent: str = "", width: int = TERMINAL_WIDTH) -> str:
    """Wrap a sentence for the terminal, continuation lines indented two more.

    Examples
    --------
    >>> print(wrap("note: one two three", indent="  ", width=14))
      note: one
        two three
    """
    import textwrap

    return textwrap.fill(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=True,
        break_on_hyphens=False,
    )


def slug(text: str, *, limit: int = 80) -> str:
    """File-name-safe version of a title; letters of every script are kept.

    Letters and digits of any alphabet stay (so step names in Cyrillic or
    Greek give distinct names), everything else becomes ``_``; a title longer
    than ``limit`` is cut and ends with a short hash of the whole title.

    Examples
    --------
    >>> slug("Plan for a target of 1,000,000")
    'plan_for_a_target_of_1_000_000'
    >>> slug("Behaviours between Лид and Сделка")
    'behaviours_between_лид_and_сделка'
    >>> slug("<>?*")
    'table_cbc7848f'
    """
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    out = re.sub(r"[\W_]+", "_", text).strip("_")
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    if not out:
        return f"table_{digest}"
    if len(out) > limit:
        out = out[: limit - 9].rstrip("_") + "_" + digest
    return out


# ----------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------
#: Room of a table block in the page, in characters: fits the width of an A4 page.
PAGE_CHARS = 100
#: At most this many columns in one table block (the key columns included).
MAX_BLOCK_COLUMNS = 9
#: Text cells are laid out as at most this wide: longer text wraps in its cell.
WRAP_CHARS = 28
#: Headers shown with sales words (the CSV files keep the functions' names).
SALES_WORDS = {
    "entities": "leads",
    "entities_with": "leads_with",
    "entities_without": "leads_without",
}
#: Text columns shown as sentences above their table, not as a column.
SENTENCE_COLUMNS = ("verdict",)
#: Labels longer than this are shortened in the pictures (the tables keep them whole).
PICTURE_LABEL_CHARS = 40

_CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #0072B2;
        --band: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
       font: 15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto,
             "Helvetica Neue", Arial, sans-serif; }
header { background: var(--band); border-bottom: 1px solid var(--line); }
header .wrap, main { max-width: 1080px; margin: 0 auto; padding: 1.2rem 1.5rem; }
h1 { margin: 0 0 .3rem; font-size: 1.7rem; }
h2 { margin: 2.4rem 0 .6rem; padding-bottom: .3rem; border-bottom: 2px solid var(--accent);
     font-size: 1.35rem; }
h3 { margin: 1.6rem 0 .5rem; font-size: 1.05rem; }
.meta { color: var(--muted); margin: 0; }
nav.toc { background: var(--band); border: 1px solid var(--line); border-radius: 6px;
          padding: .6rem 1.2rem; margin-top: 1rem; }
nav.toc ol { margin: .3rem 0; padding-left: 1.4rem; }
nav.toc a { color: var(--accent); text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
.tag { display: inline-block; font-size: .75rem; padding: 0 .4rem; border-radius: 3px;
       background: #e4e7eb; color: var(--muted); margin-left: .3rem; }
.skipped { color: var(--muted); font-style: italic; }
.verdict { margin: .3rem 0 .5rem; padding: .4rem .7rem; border-left: 3px solid var(--accent);
           background: var(--band); }
.notes { color: var(--muted); font-size: .85rem; margin: .4rem 0; padding-left: 1.2rem; }
figure { margin: .6rem 0 1rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
/* no sideways scrolling: wide tables are split into blocks of columns that repeat
   the key columns, and text wraps inside its cell */
.table-wrap { max-width: 100%; overflow: visible; }
table { border-collapse: collapse; font-size: .85rem; margin: .3rem 0 .6rem; max-width: 100%;
        table-layout: auto; font-variant-numeric: tabular-nums; }
th, td { padding: .28rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top;
         white-space: normal; overflow-wrap: anywhere; word-break: break-word; }
th { text-align: left; background: var(--band); font-weight: 600; }
/* headers break only at their underscores (<wbr>), key cells between words: a column is
   never narrower than its longest word ("conversio-n", "opportuni-ty" on a printout) */
th, td.key { overflow-wrap: break-word; word-break: normal; }
td.num, th.num { text-align: right; }
td.num { white-space: nowrap; }
td.key { font-weight: 500; }
tbody tr:nth-child(even) { background: #fafbfc; }
.cont { color: var(--muted); font-size: .8rem; margin: .4rem 0 0; }
.more { color: var(--muted); font-size: .8rem; margin: 0 0 1rem; }
footer { color: var(--muted); font-size: .8rem; max-width: 1080px; margin: 2rem auto;
         padding: 0 1.5rem; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size: 10pt; }
  header { background: none; border: 0; }
  header .wrap, main, footer { max-width: none; margin: 0; padding: 0; }
  nav.toc { display: none; }
  h2 { break-before: auto; break-after: avoid; }
  h3, .verdict { break-after: avoid; }
  figure { break-inside: avoid; }
  figure img { max-height: 230mm; max-width: 100%; width: auto; }
  table { font-size: 8.5pt; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def sentences(table: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """The verdict sentences of a table, and the table without them.

    Examples
    --------
    >>> import pandas as pd
    >>> text, rest = sentences(pd.DataFrame({"coverage": [2.0], "verdict": ["on track"]}))
    >>> text, list(rest.columns)
    (['on track'], ['coverage'])
    """
    names = [c for c in table.columns if str(c) in SENTENCE_COLUMNS]
    if not names or table.empty:
        return [], table
    keys = key_columns(table.drop(columns=names))
    out = []
    for _, row in table.iterrows():
        for name in names:
            if _missing(row[name]):
                continue
            prefix = ", ".join(str(row.iloc[j]) for j in range(keys))
            text = str(row[name])
            out.append(f"{prefix}: {text}" if prefix and len(table) > 1 else text)
    return out, table.drop(columns=names)


def table_html(
    df: pd.DataFrame, *, max_rows: int = MAX_HTML_ROWS, durations: DurationUnit = "d"
) -> str:
    """Render a result table as HTML ``<table>`` blocks that fit an A4 page (cells escaped).

    A table wider than :data:`PAGE_CHARS` (or than :data:`MAX_BLOCK_COLUMNS`
    columns) is split into blocks of columns; each block repeats the table's
    key columns (its leading labels), so no column is hidden behind a
    sideways scroll. Verdict sentences are written above the table.

    Examples
    --------
    >>> import pandas as pd
    >>> print(table_html(pd.DataFrame({"step": ["<b>"], "entities": [1200]})))
    <div class="table-wrap"><table>
    <thead><tr><th>step</th><th class="num">leads</th></tr></thead>
    <tbody>
    <tr><td class="key">&lt;b&gt;</td><td class="num">1,200</td></tr>
    </tbody></table></div>
    """
    text_lines, shown_all = sentences(df)
    shown = shown_all.head(max_rows)
    cells = format_cells(shown, durations=durations)
    headers = [SALES_WORDS.get(str(c), str(c)) for c in shown.columns]
    widths = [  # headers wrap at their underscores, text cells at their spaces
        max(
            [max(len(w) + 1 for w in h.split("_"))]
            + [min(len(c), WRAP_CHARS) if not num else len(c) for c in col]
        )
        for h, (col, num) in zip(headers, cells, strict=True)
    ]
    keys = key_columns(shown)
    blocks = column_blocks(
        widths,
        keys=keys,
        width=PAGE_CHARS,
        max_columns=MAX_BLOCK_COLUMNS,
        gap=3,
        repeat=repeated_keys(shown, keys),
    )
    parts = [f'<p class="verdict">{_esc(t)}</p>' for t in text_lines]
    if len(shown) == 1 and len(blocks) > 1:  # one wide row: one line per column
        rows = [
            f"<tr><th>{_header(h)}</th>"
            f'<td class="{"num" if num else "key"}">{_esc(col[0])}</td></tr>'
            for h, (col, num) in zip(headers, cells, strict=True)
        ]
        body = "\n".join(rows)
        parts.append(
            f'<div class="table-wrap"><table class="one-row">\n<tbody>\n{body}\n'
            f"</tbody></table></div>"
        )
        blocks = []
    for b, block in enumerate(blocks):
        if b:
            parts.append(
                f'<p class="cont">Continued ({b + 1} of {len(blocks)}): more columns '
                f"of the same rows.</p>"
            )
        head = "".join(
            f'<th class="num">{_header(headers[j])}</th>'
            if cells[j][1]
            else f"<th>{_header(headers[j])}</th>"
            for j in block
        )
        rows = []
        for r in range(len(shown)):
            tds = []
            for j in block:
                col, num = cells[j]
                kind = "num" if num else ("key" if j < keys else "")
                cls = f' class="{kind}"' if kind else ""
                tds.append(f"<td{cls}>{_esc(col[r])}</td>")
            rows.append(f"<tr>{''.join(tds)}</tr>")
        body = "\n".join(rows)
        parts.append(
            f'<div class="table-wrap"><table>\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body + chr(10) if rows else ''}</tbody></table></div>"
        )
    if len(df) > max_rows:
        parts.append(
            f'<p class="more">First {max_rows} of {len(df):,} rows; all in the CSV file.</p>'
        )
    return "\n".join(parts)


def _header(name: str) -> str:
    """A column name for a header cell: escaped, and free to wrap after its underscores."""
    return "_<wbr>".join(_esc(part) for part in name.split("_"))


def _missing(v: Any) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    return isinstance(v, float) and bool(np.isnan(v))


def short_labels(table: pd.DataFrame, limit: int = PICTURE_LABEL_CHARS) -> pd.DataFrame:
    """The table with text cells longer than ``limit`` shortened, for a picture.

    A shortened label keeps its start and ends with ``…`` and a short hash of
    the whole label, so two long labels stay two labels. Laying out a
    100,000-character tick label takes matplotlib seconds; the table and its
    CSV keep every label whole.

    Examples
    --------
    >>> import pandas as pd
    >>> t = short_labels(pd.DataFrame({"stage": ["a" * 50, "demo"], "deals": [1, 2]}), 10)
    >>> [len(s) for s in t["stage"]], t["stage"].iloc[1]
    ([14, 4], 'demo')
    """
    out = table
    for j, name in enumerate(table.columns):
        s = table.iloc[:, j]
        if pd.api.types.is_numeric_dtype(s.dtype) or not (
            pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)
        ):
            continue
        values = s.tolist()
        if not any(isinstance(v, str) and len(v) > limit for v in values):
            continue

        def cut(v: Any) -> Any:
            if not isinstance(v, str) or len(v) <= limit:
                return v
            digest = hashlib.sha1(v.encode("utf-8")).hexdigest()[:4]
            return f"{v[: limit - 1]}…{digest}"

        if out is table:
            out = table.copy()
        out[name] = pd.Series([cut(v) for v in values], index=s.index, dtype=object)
    return out


def render_png(draw: Draw, rows: int = 0) -> bytes:
    """Draw on a fresh, stand-alone Figure (no pyplot, no global state); PNG bytes.

    ``rows`` (the table's rows) makes the figure taller past about 13 rows, so that a
    picture with one row per rep, channel or group labels every row (up to 14 in.).
    """
    from matplotlib.figure import Figure

    height = min(max(FIGSIZE[1], 1.8 + 0.22 * rows), 14.0)
    fig = Figure(figsize=(FIGSIZE[0], height), layout="constrained")
    ax = fig.subplots()
    draw(ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def _anchor(i: int, name: str) -> str:
    return f"s{i}-{slug(name)}"


#: The file in ``out`` that lists what the report wrote (a re-run may replace those).
MANIFEST = ".funnelkit-report"


if TYPE_CHECKING:
    _PathBase = Path
else:
    _PathBase = type(Path())  # PosixPath or WindowsPath: subclassable on every Python


class ReportPath(_PathBase):
    """The path of a written ``report.html``; in Jupyter it shows the report inline.

    A :class:`pathlib.Path` in every other respect (``.name``,
    ``.read_text()``, ``open()``, ...).
    """

    def _repr_html_(self) -> str:
        if not self.is_file():
            return f"<code>{_esc(self)}</code>"
        page = self.read_text(encoding="utf-8")
        return (
            f'<iframe title="{_esc(self.name)}" srcdoc="{_esc(page)}" '
            'style="width:100%;height:720px;border:1px solid #d9e2ec"></iframe>'
        )


def check_out(out: Any, *, func: str = "report") -> Path:
    """The ``out`` folder as a Path; an empty name or an existing file is refused.

    Examples
    --------
    >>> check_out("funnelkit-report").name
    'funnelkit-report'
    """
    try:
        text = os.fspath(out)
    except TypeError:
        raise param_error(func, "out", "a folder name or path", out) from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        msg = (
            f"The 'out' parameter of {func} must name a folder. Got {text!r} instead, which "
            f"would write into the current folder. Pass out='.' for that, or a new folder "
            f"such as out='funnelkit-report'."
        )
        raise InvalidParameterError(msg)
    path = Path(text)
    if path.exists() and not path.is_dir():
        msg = (
            f"The 'out' parameter of {func} must name a folder, but '{path}' is a file. "
            f"Pass a folder name, e.g. out='funnelkit-report'."
        )
        raise InvalidParameterError(msg)
    return path


def _written_before(out: Path) -> set[str]:
    try:
        lines = (out / MANIFEST).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    return {line for line in lines if line and not line.startswith("#")}


def _claim(out: Path, names: Sequence[str], *, overwrite: bool, func: str) -> set[str]:
    """Refuse to replace files the report did not write; the names written before."""
    before = _written_before(out)
    if not out.is_dir():
        return before
    clash = [n for n in names if n not in before and (out / n).exists()]
    if clash and not overwrite:
        shown = ", ".join(repr(n) for n in clash[:5])
        more = f" and {len(clash) - 5} more" if len(clash) > 5 else ""
        msg = (
            f"The 'out' folder '{out}' of {func} already holds {len(clash)} file"
            f"{'s' if len(clash) > 1 else ''} that funnelkit did not write and would "
            f"replace: {shown}{more}. Pass overwrite=True (--force on the command line) "
            f"to replace them, or choose another folder."
        )
        raise InvalidParameterError(msg)
    return before


def _write_manifest(out: Path, names: Sequence[str]) -> None:
    text = "# Files written by funnelkit's report; a re-run may replace them.\n"
    (out / MANIFEST).write_text(text + "".join(f"{n}\n" for n in sorted(names)), "utf-8")


def write_report(
    out: Path,
    results: Sequence[SectionResult],
    *,
    title: str,
    summary: Sequence[str] = (),
    echo: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> ReportPath:
    """Write ``report.html`` plus one CSV per table and one PNG per picture.

    Every file is prepared first; an existing file in ``out`` that an earlier
    report did not write (it is not in the folder's :data:`MANIFEST`) is
    refused unless ``overwrite``, before anything is written. Files of an
    earlier report that this one does not write again are removed.
    """
    out = check_out(out)
    files: dict[str, bytes] = {}
    parts: list[str] = []
    toc: list[str] = []
    n_pictures = 0
    for i, res in enumerate(results, start=1):
        anchor = _anchor(i, res.name)
        if res.skipped is not None:
            toc.append(
                f'<li><a href="#{anchor}">{_esc(res.name)}</a><span class="tag">skipped</span></li>'
            )
            parts.append(
                f'<section id="{anchor}"><h2>{i}. {_esc(res.name)}</h2>\n'
                f'<p class="skipped">Skipped: {_esc(res.skipped)}.</p></section>'
            )
            continue
        toc.append(f'<li><a href="#{anchor}">{_esc(res.name)}</a></li>')
        body = [f'<section id="{anchor}"><h2>{i}. {_esc(res.name)}</h2>']
        for k, item in enumerate(res.items):
            item_title, table = item[0], item[1]
            stem = f"{i:02d}_{slug(item_title)}"
            n = 2
            while f"{stem}.csv" in files:  # two titles of one slug: both kept
                stem = f"{i:02d}_{slug(item_title)}_{n}"
                n += 1
            files[f"{stem}.csv"] = to_csv_text(table).encode("utf-8")
            body.append(f"<h3>{_esc(item_title)}</h3>")
            if len(item) == 3:
                try:
                    png = render_png(item[2], rows=len(table))
                except Exception as exc:  # a picture must not cost the whole report
                    msg = f"picture not drawn: {type(exc).__name__}: {exc}"
                    body.append(f'<p class="skipped">{_esc(msg)}</p>')
                    if echo is not None:
                        echo(f"      warning: {item_title}: {msg}")
                else:
                    files[f"{stem}.png"] = png
                    n_pictures += 1
                    data = base64.b64encode(png).decode("ascii")
                    body.append(
                        f'<figure><img src="data:image/png;base64,{data}" '
                        f'alt="{_esc(item_title)}"></figure>'
                    )
            body.append(table_html(table, durations=res.unit(k)))
        if res.notes:
            body.append(
                '<ul class="notes">' + "".join(f"<li>{_esc(n)}</li>" for n in res.notes) + "</ul>"
            )
        body.append("</section>")
        parts.append("\n".join(body))
    n_shown = sum(r.skipped is None for r in results)
    meta = "".join(f'<p class="meta">{_esc(line)}</p>' for line in summary)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><div class="wrap">
<h1>{_esc(title)}</h1>
{meta}
<p class="meta">{n_shown} of {len(results)} sections shown; skipped sections say why.
Durations of sales tables are in days; CSV files hold them as numbers of days.</p>
<nav class="toc"><strong>Contents</strong><ol>
{chr(10).join(toc)}
</ol></nav>
</div></header>
<main>
{chr(10).join(parts)}
</main>
<footer>Made with funnelkit {_esc(__version__)}. Rates are shares of the stated
denominators; intervals are Wilson score intervals; open deals are censored, not dropped.
</footer>
</body>
</html>
"""
    files["report.html"] = page.encode("utf-8")
    before = _claim(out, list(files), overwrite=overwrite, func="report")
    out.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, sorted(before | set(files)))  # a crash midway still knows its files
    for name, content in files.items():
        (out / name).write_bytes(content)
    for name in sorted(before - set(files)):  # an earlier report's files not written now
        stale = out / name
        if stale.is_file() and stale.parent == out:
            stale.unlink()
    _write_manifest(out, list(files))
    path = ReportPath(out / "report.html")
    if echo is not None:
        echo(f"Wrote {path} ({n_shown} sections, {n_pictures} pictures)")
        echo(f"and {len(files) - 1} CSV/PNG files beside it.")
    return path


# ----------------------------------------------------------------------------
# the public function
# ----------------------------------------------------------------------------
#: The roles each table must have for any section to run: checked up front.
_REQUIRED = {
    "deals": ("deal", "created", "closed", "status"),
    "history": ("deal", "stage", "entered"),
    "events": ("entity", "time", "event"),
    "touches": ("entity", "time", "response"),
    "costs": (),
}
_DATES = {
    "deals": ("created", "closed"),
    "history": ("entered",),
    "events": ("time",),
    "touches": ("time",),
    "costs": (),
}


def report(
    deals: pd.DataFrame | SalesData,
    *,
    history: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    steps: Sequence[str | Sequence[str]] | None = None,
    touches: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    stages: Sequence[str] | None = None,
    target: float | None = None,
    as_of: pd.Timestamp | str | None = None,
    period_end: pd.Timestamp | str | None = None,
    columns: Mapping[str, str] | None = None,
    won: str | None = None,
    lost: str | None = None,
    positive: str | None = None,
    column_map: Mapping[str, str] | None = None,
    out: str | os.PathLike[str] = "funnelkit-report",
    overwrite: bool = False,
    title: str = "Funnel report",
    progress: bool = False,
) -> ReportPath:
    """Write an HTML report of every analysis the given tables allow.

    Runs, in order, the sections *pipeline now*, *funnel and drop-off*,
    *cycle length*, *win rate and reps*, *channels*, *touches*, *triggers*,
    *stalled and revival lists* and *revenue plan* and writes one
    self-contained ``report.html`` (pictures embedded as PNG, tables as HTML,
    no network access needed to open it) into ``out``, beside one CSV file
    per table and one PNG file per picture. Every table is the result of a
    public funnelkit function called on the tables as given, with
    ``columns``. A part whose inputs are not given (no stage history, no
    event log, no target) or whose precondition fails (no won deals yet) is
    listed in the report as skipped, with the reason; the rest is written.

    Parameters
    ----------
    deals : pandas.DataFrame or SalesData
        The deal table: deal id, creation date, close date and status (won /
        lost / anything else is open) and, for the sections that use them,
        amount, stage, owner, channel and lost reason.  Or a
        :class:`funnelkit.SalesData` (what ``fk.crm.read_<crm>`` and
        ``fk.datasets.load_sample`` return): its deals, history, stages,
        events, touches, costs and as_of fill the arguments not given.
    history : pandas.DataFrame, optional
        Stage history, one row per stage entry: deal id, stage, entry time.
    events : pandas.DataFrame, optional
        Event log: entity, time, event. Needs ``steps``.
    steps : list, optional
        The funnel steps of ``events``, in order: event names, or lists of
        names (any of them fills the step), as in :func:`funnelkit.conversion`.
    touches : pandas.DataFrame, optional
        Outreach log: entity, time, response.
    costs : pandas.DataFrame, optional
        Spend per channel (channel, cost) for the channel section.
    stages : list of str, optional
        The stage order. Default: inferred from ``history`` (stages ordered
        by when deals typically enter them).
    target : float, optional
        Revenue target for the coverage figure and the revenue plan; both are
        skipped without it.
    as_of : datetime-like, optional
        Observation date of every section: deals still open at this date are
        censored here. Default: the latest date observed in the tables
        (creation dates, close dates of won or lost deals, stage entries,
        events; never "today").
    period_end : datetime-like, optional
        End (exclusive) of the period of the target, for the coverage figure
        and the revenue plan. Default: the end of the first full calendar
        quarter after ``as_of`` (from 2025-06-30: 2025-10-01, so the period is
        never a single day); the period is named in the section titles.
    columns : dict of str to str, optional
        The column schema: role -> column name, plus the value roles
        ``won``, ``lost`` (values of ``status``) and ``positive`` (of
        ``response``). Roles: ``deal``, ``created``, ``closed``, ``status``,
        ``amount``, ``stage``, ``owner``, ``channel``, ``lost_reason``,
        ``currency``, ``expected_close``; ``entered`` (the history's entry
        time); ``entity``, ``time``, ``event``, ``response``, ``contacts``;
        ``cost``. One mapping serves every table; a column may serve two roles (e.g.
        ``{"status": "deal_stage", "stage": "deal_stage"}``). Missing roles
        take the default column names (``deal_id``, ``created_at``, ...).
        The tables are never renamed or rewritten.
    won : str, optional
        Value of the status column meaning the deal was won; overrides
        ``columns["won"]`` (default ``"won"``).
    lost : str, optional
        Value of the status column meaning the deal was lost; overrides
        ``columns["lost"]`` (default ``"lost"``). Any other value means open.
    positive : str, optional
        Value of the response column meaning a positive reply; overrides
        ``columns["positive"]`` (default ``"positive"``).
    column_map : dict of str to str, optional
        Deprecated, use ``columns``: ``{your column: funnelkit's default
        column}``, e.g. ``{"Opportunity ID": "deal_id"}``. Emits a
        ``FutureWarning``.
    out : str or path, default="funnelkit-report"
        Folder to write into (created if needed). An empty name is refused
        (pass ``"."`` for the current folder).
    overwrite : bool, default=False
        Replace files in ``out`` that funnelkit did not write. By default
        the report refuses, before writing anything, to replace any file
        that an earlier report did not write (the folder's
        ``.funnelkit-report`` file lists what it wrote; those a re-run
        replaces, and removes when it no longer writes them).
    title : str, default="Funnel report"
        Title of the page.
    progress : bool, default=False
        Print one line per section (and what was skipped) while running.

    Returns
    -------
    ReportPath
        The path of the written ``report.html`` (a :class:`pathlib.Path`);
        in Jupyter, the report shows inline.

    Raises
    ------
    ColumnNotFoundError
        A table lacks a column every section needs (deals: ``deal``,
        ``created``, ``closed``, ``status``; history: ``deal``, ``stage``,
        ``entered``; events: ``entity``, ``time``, ``event``; touches:
        ``entity``, ``time``, ``response``). A column only some parts need
        (``amount``, ``owner``, ``channel``, ``lost_reason``, ...) skips those
        parts, with the reason.
    InvalidDataError
        A table's values cannot be used (unparseable dates, negative amounts,
        ...); the message starts with the table's name (the file name, from
        the command line).
    InvalidParameterError
        ``events`` without ``steps`` (or the reverse), a non-positive
        ``target``, an unknown role in ``columns``, ``period_end`` not after
        ``as_of``; an empty ``out``, or files in ``out`` that the report
        would replace without ``overwrite=True``.

    See Also
    --------
    funnelkit.datasets.load_sample : tables in the expected shape.

    Notes
    -----
    Every name that comes from the data (stages, channels, reps, reasons) is
    HTML-escaped, so a stage called ``<script>`` shows as text. Warnings of
    the functions (rows left out, ...) become notes under their section,
    collected for this call only (two reports running in two threads keep
    their notes apart). Tables longer than 25 rows show their first 25 rows;
    the CSV files hold every row.

    The page prints on A4 without hidden columns: a wide table is split
    into blocks of columns that repeat its key columns, and text wraps in its
    cell. Durations read in days (event tables: in the unit their values
    call for); the CSV files hold durations as numbers of days (columns
    named ``<name>_days``), dates in ISO 8601, and text that a spreadsheet
    would run as a formula (``= + - @``) with a leading ``'``.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "id": ["D1", "D2", "D3", "D4"],
    ...     "created_at": pd.to_datetime(["2025-01-02", "2025-01-05", "2025-02-01",
    ...                                   "2025-02-10"]),
    ...     "closed_at": pd.to_datetime(["2025-02-01", "2025-03-01", None, None]),
    ...     "state": ["Won", "Lost", "Open", "Open"],
    ...     "amount": [12_000.0, 8_000.0, 20_000.0, 5_000.0],
    ...     "stage": ["proposal", "demo", "proposal", "demo"],
    ... })
    >>> columns = {"deal": "id", "status": "state", "won": "Won", "lost": "Lost"}
    >>> path = fk.report(deals, columns=columns, out=tempfile.mkdtemp())
    >>> path.name
    'report.html'
    >>> "Pipeline now" in path.read_text()
    True
    """
    folder = check_out(out)
    _claim(folder, ["report.html"], overwrite=overwrite, func="report")  # before any work
    if isinstance(deals, SalesData):
        data = deals
        deals = data.deals
        history = data.history if history is None else history
        stages = list(data.stages) if stages is None and data.stages else stages
        # the event funnel needs its steps: the data's events are used when steps are given
        events = data.events if events is None and steps is not None else events
        touches = data.touches if touches is None else touches
        costs = data.costs if costs is None else costs
        as_of = data.as_of if as_of is None else as_of
    if column_map is not None:
        warnings.warn(
            "The 'column_map' parameter of report is deprecated and will be removed in the "
            "next release; pass columns={role: column} instead, e.g. "
            "columns={'deal': 'Opportunity ID'}.",
            FutureWarning,
            stacklevel=2,
        )
    inp = make_inputs(
        deals,
        history=history,
        events=events,
        steps=steps,
        touches=touches,
        costs=costs,
        stages=stages,
        target=target,
        as_of=as_of,
        period_end=period_end,
        columns=_merge_columns(columns, column_map, won=won, lost=lost, positive=positive),
    )
    echo = print if progress else None
    results = run_sections(inp, echo=echo)
    return write_report(
        folder, results, title=title, summary=describe(inp), echo=echo, overwrite=overwrite
    )


def columns_from_column_map(column_map: Mapping[str, str]) -> dict[str, str]:
    """Translate a deprecated ``{your column: default column}`` map into ``columns``.

    Examples
    --------
    >>> columns_from_column_map({"Opportunity ID": "deal_id", "Value": "amount"})
    {'deal': 'Opportunity ID', 'amount': 'Value'}
    """
    by_default = {v: k for k, v in ROLE_DEFAULTS.items() if k not in VALUE_ROLES}
    out: dict[str, str] = {}
    for old, new in column_map.items():
        role = by_default.get(new)
        if role is None:
            msg = (
                f"The column map renames {old!r} to {new!r}, which is not a column funnelkit "
                f"reads; known columns: {', '.join(by_default)}. Pass columns={{role: column}} "
                f"instead, roles: {', '.join(ROLE_DEFAULTS)}."
            )
            raise InvalidParameterError(msg)
        out[role] = old
    return out


def _merge_columns(
    columns: Mapping[str, str] | None,
    column_map: Mapping[str, str] | None,
    *,
    won: str | None = None,
    lost: str | None = None,
    positive: str | None = None,
) -> dict[str, str]:
    """One mapping: the deprecated map, then ``columns``, then explicit values."""
    out = columns_from_column_map(column_map) if column_map else {}
    if columns is not None:
        if not isinstance(columns, Mapping):
            err = param_error("report", "columns", "a mapping of role to column name", columns)
            raise err
        out.update(columns)
    for role, value in (("won", won), ("lost", lost), ("positive", positive)):
        if value is not None:
            out[role] = value
    return out


def check_columns(columns: Mapping[Any, Any], *, func: str = "report") -> dict[str, Any]:
    """Check a column schema (known roles, string columns); fill in the defaults.

    Examples
    --------
    >>> check_columns({"deal": "opportunity_id"})["deal"]
    'opportunity_id'
    >>> check_columns({})["entered"]
    'entered_at'
    """
    unknown = [r for r in columns if r not in ROLE_DEFAULTS]
    if unknown:
        import difflib

        hints = [difflib.get_close_matches(str(r), list(ROLE_DEFAULTS), n=1) for r in unknown]
        hint = "".join(
            f" Did you mean {h[0]!r} for {r!r}?" for r, h in zip(unknown, hints, strict=True) if h
        )
        msg = (
            f"The 'columns' parameter of {func} has unknown role"
            f"{'s' if len(unknown) > 1 else ''} {', '.join(repr(r) for r in unknown)}. "
            f"Roles: {', '.join(ROLE_DEFAULTS)}.{hint}"
        )
        raise InvalidParameterError(msg)
    bad = {
        r: c
        for r, c in columns.items()
        if (r in VALUE_ROLES and c is None)
        or (r not in VALUE_ROLES and (not isinstance(c, str) or not c))
    }
    if bad:
        role, col = next(iter(bad.items()))
        msg = (
            f"The 'columns' parameter of {func} must map each role to a column name "
            f"(a non-empty string; won, lost and positive to a value). Got {col!r} for {role!r}."
        )
        raise InvalidParameterError(msg)
    return {**ROLE_DEFAULTS, **columns}


def make_inputs(
    deals: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    steps: Sequence[str | Sequence[str]] | None = None,
    touches: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    stages: Sequence[str] | None = None,
    target: float | None = None,
    as_of: pd.Timestamp | str | None = None,
    period_end: pd.Timestamp | str | None = None,
    columns: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Inputs:
    """Check the report's tables and parameters; the tables are kept as given."""
    labels = dict(labels or {})
    cols = check_columns(columns or {})
    if (events is None) != (steps is None):
        given, missing = ("events", "steps") if steps is None else ("steps", "events")
        msg = (
            f"The '{missing}' parameter of report is required when '{given}' is given: "
            f"the event funnel needs both the event log and its steps."
        )
        raise InvalidParameterError(msg)
    if steps is not None and (isinstance(steps, str) or len(list(steps)) < 2):
        err = param_error("report", "steps", "a list of at least two event names", steps)
        raise err
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int | float) or not target > 0
    ):
        err = param_error("report", "target", "a positive number or None", target)
        raise err
    tables = {"deals": deals, "history": history, "events": events, "touches": touches}
    tables["costs"] = costs
    latest: list[pd.Timestamp] = []
    for table, df in tables.items():
        if df is None:
            continue
        latest.extend(_check_table(df, table, cols, labels.get(table, table)))
    as_of_ts = _date_param(as_of, "as_of")
    if as_of_ts is None:
        as_of_ts = max(latest) if latest else None
    if as_of_ts is None:  # nothing observed at all: an empty deal table
        as_of_ts = pd.Timestamp("1970-01-01")
    end = _date_param(period_end, "period_end")
    if end is None:
        end = default_period_end(as_of_ts)
    elif _naive(end) <= _naive(as_of_ts):
        err = param_error("report", "period_end", f"a date after as_of ({as_of_ts})", period_end)
        raise err
    return Inputs(
        deals=deals,
        history=history,
        events=events,
        steps=None if steps is None else [s if isinstance(s, str) else list(s) for s in steps],
        touches=touches,
        costs=costs,
        stages=None if stages is None else [str(s) for s in stages],
        target=None if target is None else float(target),
        as_of=as_of_ts,
        period_end=end,
        columns=cols,
        labels=labels,
    )


def _naive(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_convert("UTC").tz_localize(None) if ts.tz is not None else ts


def _date_param(value: Any, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        ts = pd.NaT
    if not isinstance(ts, pd.Timestamp) or pd.isna(ts):
        err = param_error("report", name, "a date such as '2025-06-30' or None", value)
        raise err
    return ts


def _check_table(df: Any, table: str, cols: Mapping[str, str], label: str) -> list[pd.Timestamp]:
    """Check the columns every section needs and that the dates parse; the latest dates seen."""
    frame = check_frame(df, table=table, func="report")
    try:
        require_columns(frame, {r: cols[r] for r in _REQUIRED[table]}, table=table)
        dates = {r: as_datetime(frame, cols[r], table=table, keyword=r) for r in _DATES[table]}
    except ColumnNotFoundError as exc:
        text = re.sub(r"Hint: pass (\w+)=(\S+?)\.?$", r"Hint: pass columns={'\1': \2}.", str(exc))
        exc.args = (f"{label}: {text}" if label != table else text, *exc.args[1:])
        raise
    except FunnelkitError as exc:
        if label != table:
            exc.args = (f"{label}: {exc}", *exc.args[1:])
        raise
    observed = []
    for role, s in dates.items():
        if table == "deals" and role == "closed":  # an open deal's date is only expected
            closed = frame[cols["status"]].isin([cols["won"], cols["lost"]]).to_numpy()
            s = s[closed]
        if s.notna().any():
            observed.append(pd.Timestamp(s.max()))
    return observed


def describe(inp: Inputs) -> list[str]:
    """Lines for the page header: the input tables (rows, source) and the settings."""
    tables = [
        f"{inp.label(t)} ({len(df):,} rows)" for t, df in inp.tables().items() if df is not None
    ]
    lines = ["Inputs: " + ", ".join(tables) + "."]
    if inp.stages is not None or inp.history is not None:
        stages = stages_of(inp)
        funnel = pre_sale_stages(stages, inp)
        after = [s for s in stages if s not in funnel]
        text = "Funnel: " + " → ".join(funnel) + "."
        if after:
            one = len(after) == 1
            text += (
                f" Left out after the sale: {', '.join(after)} (entered only by won "
                f"deals{'' if one else ', each'})."
            )
        lines.append(text)
    if inp.steps is not None:
        lines.append("Event funnel: " + " → ".join(_label(s) for s in inp.steps) + ".")
    settings = []
    if inp.as_of is not None:
        settings.append(f"as of {inp.as_of:%Y-%m-%d}")
    if inp.target is not None and inp.as_of is not None and inp.period_end is not None:
        settings.append(
            f"revenue target {inp.target:,.0f} {period_name(inp.as_of, inp.period_end)}"
        )
    changed = {r: c for r, c in inp.columns.items() if ROLE_DEFAULTS[r] != c}
    if changed:
        settings.append("columns " + ", ".join(f"{r}={c}" for r, c in changed.items()))
    if settings:
        lines.append("Settings: " + ", ".join(settings) + ".")
    now = _dt.datetime.now(_dt.timezone.utc)
    lines.append(f"Generated {now:%Y-%m-%d %H:%M} UTC by funnelkit {__version__}.")
    return lines


# ----------------------------------------------------------------------------
# command line: ``funnelkit report``
# ----------------------------------------------------------------------------
_READERS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: Path, table: str) -> pd.DataFrame:
    """Read a CSV/TSV (optionally compressed) or Parquet export; errors name the file."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz", ".zst"):
        suffixes = suffixes[:-1]
    kind = _READERS.get(suffixes[-1] if suffixes else "")
    if kind is None:
        msg = (
            f"The --{table} file '{path}' has an unsupported type. "
            f"Give a .csv, .tsv or .parquet file (CSV may be gzip-compressed)."
        )
        raise InvalidParameterError(msg)
    if not path.is_file():
        msg = f"The --{table} file '{path}' does not exist."
        raise InvalidParameterError(msg)
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except (ValueError, ImportError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = f"The --{table} file '{path}' could not be read as {kind.upper()}: {first}"
        raise InvalidDataError(msg, reason="unreadable_file") from None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _column_map(text: str) -> dict[str, str]:
    import argparse

    out: dict[str, str] = {}
    for pair in _split(text):
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            msg = f"expected old=new pairs separated by commas, got {pair!r}"
            raise argparse.ArgumentTypeError(msg)
        out[old.strip()] = new.strip()
    return out


def parse_columns(text: str) -> dict[str, str]:
    """Parse ``--columns role=column,...`` (every subcommand's one syntax).

    Examples
    --------
    >>> parse_columns("deal=opportunity_id, status=deal_stage,stage=deal_stage,won=Won")
    {'deal': 'opportunity_id', 'status': 'deal_stage', 'stage': 'deal_stage', 'won': 'Won'}
    """
    import argparse

    out: dict[str, str] = {}
    for pair in text.split(","):
        role, sep, column = (part.strip() for part in pair.partition("="))
        if not sep or not role or not column:
            msg = (
                f"invalid --columns {text!r}: expected ROLE=COLUMN pairs separated by commas, "
                f"e.g. deal=opportunity_id,amount=close_value; got {pair.strip()!r}"
            )
            raise argparse.ArgumentTypeError(msg)
        if role not in ROLE_DEFAULTS:
            import difflib

            close = difflib.get_close_matches(role, list(ROLE_DEFAULTS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = (
                f"invalid --columns {text!r}: unknown role {role!r}{hint}; "
                f"roles: {', '.join(ROLE_DEFAULTS)}"
            )
            raise argparse.ArgumentTypeError(msg)
        if role in out:
            msg = f"invalid --columns {text!r}: role {role!r} is given twice; name each role once"
            raise argparse.ArgumentTypeError(msg)
        out[role] = column
    return out


def add_columns_argument(parser: Any) -> None:
    """``--columns ROLE=COLUMN,...``: the same option in every subcommand."""
    parser.add_argument(
        "--columns",
        type=parse_columns,
        default={},
        metavar="ROLE=COLUMN,...",
        help=(
            "your column names (and status/response values) by role, when they differ from "
            "the defaults, e.g. deal=opportunity_id,status=deal_stage,stage=deal_stage,"
            "won=Won,lost=Lost; roles: " + ", ".join(ROLE_DEFAULTS)
        ),
    )


def cli_hint(text: str) -> str:
    """Spell a function's ``Hint: pass amount='x'`` for the command line."""
    text = re.sub(r"Hint: pass columns=\{'(\w+)': '([^']*)'\}", r"Hint: pass --columns \1=\2", text)
    return re.sub(r"Hint: pass (\w+)='([^']*)'", r"Hint: pass --columns \1=\2", text)


def add_report_parser(sub: Any) -> None:
    """Add the ``report`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "report",
        help="write the HTML report for your own CSV/Parquet exports",
        description=(
            "Run every analysis your exports allow and write report.html (pictures "
            "embedded), one CSV per table and one PNG per picture into --out. "
            "Parts the inputs do not allow are listed as skipped, with the reason. "
            "Default columns: deals deal_id, created_at, closed_at, status, amount, stage, "
            "owner, channel, lost_reason; history deal_id, stage, entered_at; events "
            "user_id, timestamp, event; touches user_id, timestamp, response. "
            "Name yours with --columns ROLE=COLUMN,..."
        ),
    )
    p.add_argument("--deals", type=Path, required=True, metavar="FILE", help="deal table")
    p.add_argument("--history", type=Path, metavar="FILE", help="stage history")
    p.add_argument("--events", type=Path, metavar="FILE", help="event log (needs --steps)")
    p.add_argument("--steps", type=_split, metavar="A,B,C", help="funnel steps of the event log")
    p.add_argument("--touches", type=Path, metavar="FILE", help="outreach touches")
    p.add_argument("--costs", type=Path, metavar="FILE", help="spend per channel and month")
    p.add_argument("--stages", type=_split, metavar="A,B,C", help="stage order (default: inferred)")
    p.add_argument("--target", type=float, help="revenue target for the plan and coverage")
    p.add_argument("--as-of", dest="as_of", metavar="DATE", help="observation date (YYYY-MM-DD)")
    p.add_argument(
        "--period-end",
        dest="period_end",
        metavar="DATE",
        help="end (exclusive) of the target's period (default: the end of the first full "
        "quarter after --as-of)",
    )
    add_columns_argument(p)
    p.add_argument(
        "--won", help="status value of a won deal (default: won; same as --columns won=)"
    )
    p.add_argument("--lost", help="status value of a lost deal (default: lost)")
    p.add_argument("--positive", help="response value meaning a positive reply")
    p.add_argument(
        "--column-map",
        type=_column_map,
        default=None,
        metavar="OLD=NEW,...",
        help="deprecated, use --columns: your column = funnelkit's default column, e.g. "
        "'Opportunity ID=deal_id'",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("funnelkit-report"),
        help="folder to write into (default: ./funnelkit-report)",
    )
    p.add_argument("--title", default="Funnel report", help="title of the page")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace files in --out that funnelkit did not write (default: refuse)",
    )


def run_report_command(args: Any, *, echo: Callable[[str], None] = print) -> int:
    """Run ``funnelkit report`` from parsed arguments; return the exit code."""
    import sys

    if (args.events is None) != (args.steps is None):
        print("funnelkit report: error: --events and --steps go together", file=sys.stderr)
        return 2
    if args.column_map is not None:
        warnings.warn(
            "--column-map is deprecated and will be removed in the next release; use "
            "--columns ROLE=COLUMN,... instead, e.g. --columns deal='Opportunity ID'.",
            FutureWarning,
            stacklevel=2,
        )
    overwrite = bool(getattr(args, "force", False))
    out = check_out(args.out)
    _claim(out, ["report.html"], overwrite=overwrite, func="report")  # before any work
    files = {t: getattr(args, t) for t in _TABLE_NAMES if getattr(args, t, None) is not None}
    tables: dict[str, pd.DataFrame] = {}
    for table, path in files.items():
        echo(f"Reading {table} from {path} ...")
        tables[table] = read_table(path, table)
    labels = {t: f"{t} file '{p}'" for t, p in files.items()}
    columns = _merge_columns(
        args.columns, args.column_map, won=args.won, lost=args.lost, positive=args.positive
    )
    try:
        inp = make_inputs(
            tables["deals"],
            history=tables.get("history"),
            events=tables.get("events"),
            steps=args.steps,
            touches=tables.get("touches"),
            costs=tables.get("costs"),
            stages=args.stages,
            target=args.target,
            as_of=args.as_of,
            period_end=args.period_end,
            columns=columns,
            labels=labels,
        )
        results = run_sections(inp, echo=echo)
    except FunnelkitError as exc:
        exc.args = (cli_hint(str(exc)), *exc.args[1:])
        raise
    write_report(
        args.out,
        results,
        title=args.title,
        summary=describe(inp),
        echo=echo,
        overwrite=overwrite,
    )
    skipped = [r for r in results if r.skipped is not None]
    if skipped:
        echo(f"Skipped {len(skipped)} of {len(results)} sections:")
        for r in skipped:
            echo(f"  {r.name}: {r.skipped}")
    return 0
