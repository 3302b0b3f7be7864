"""The HTML report: every analysis the inputs allow, in one self-contained file.

:func:`report` runs a fixed list of sections (pipeline now, funnel and
drop-off, cycle length, win rate and reps, channels, touches, triggers,
stalled and revival lists, revenue plan) on a user's tables.  Each section
calls the public funnelkit functions by name; a section whose functions are
not available, or whose inputs are not given, is listed as skipped with the
reason.  A section yields *items*: ``(title, table)`` or
``(title, table, draw)`` with ``draw(ax) -> Axes`` (the same protocol as the
demo sections in :mod:`funnelkit._demo`).

The page is written by :func:`write_report`: tables through
:func:`funnelkit._format.column_formatters`, pictures as base64 PNG, every
piece of user data HTML-escaped, no external resources.  The ``funnelkit
report`` command (:func:`add_report_parser`, :func:`run_report_command`)
reads CSV / Parquet exports and names the file in every error.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from funnelkit._format import column_formatters
from funnelkit._validate import (
    as_datetime,
    check_frame,
    param_error,
    require_columns,
)
from funnelkit._version import __version__
from funnelkit.errors import (
    ColumnNotFoundError,
    FunnelkitError,
    InvalidDataError,
    InvalidParameterError,
)

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


class _Skip(Exception):
    """A section (or a part of one) cannot run; the message is the reason."""


class _Missing(_Skip):
    """The public function a part needs does not exist (yet) in this version."""


@dataclass
class Inputs:
    """The tables a report runs on, with a label naming where each came from."""

    deals: pd.DataFrame
    history: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    steps: list[Any] | None = None  # event names, or lists of names (any fills the step)
    touches: pd.DataFrame | None = None
    costs: pd.DataFrame | None = None
    stages: list[str] | None = None
    target: float | None = None
    as_of: pd.Timestamp | None = None
    positive: str = "positive"
    labels: dict[str, str] = field(default_factory=dict)

    def label(self, table: str) -> str:
        return self.labels.get(table, table)


@dataclass
class SectionResult:
    """What one section produced: items, or the reason it was skipped."""

    name: str
    items: list[Item] = field(default_factory=list)
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


# ----------------------------------------------------------------------------
# helpers for sections
# ----------------------------------------------------------------------------
def _fn(name: str) -> Callable[..., Any]:
    """The public funnelkit function ``name``, or skip when it does not exist."""
    import funnelkit

    func = getattr(funnelkit, name, None)
    if func is None:
        msg = f"funnelkit.{name}"
        raise _Missing(msg)
    return func  # type: ignore[no-any-return]


def _has(name: str) -> bool:
    import funnelkit

    return getattr(funnelkit, name, None) is not None


def _item(title: str, table: pd.DataFrame, plot: str | None = None, **plot_kws: Any) -> Item:
    """An item; with a picture when the plot function ``plot`` exists."""
    if plot is None or not _has(plot):
        return (title, table)
    func = _fn(plot)

    def draw(ax: Axes) -> Axes:
        return func(table, ax=ax, **plot_kws)  # type: ignore[no-any-return]

    return (title, table, draw)


def _need_columns(df: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        msg = f"{table} has no {' or '.join(repr(c) for c in missing)} column{plural}"
        raise _Skip(msg)


def _parts(parts: Sequence[Callable[[], list[Item]]], notes: list[str]) -> list[Item]:
    """Run the parts of a section; skip the section only when none ran."""
    items: list[Item] = []
    reasons: list[str] = []
    missing: list[str] = []
    for part in parts:
        try:
            items.extend(part())
        except _Missing as skip:
            missing.append(str(skip))
        except _Skip as skip:
            reasons.append(str(skip))
        except ColumnNotFoundError as exc:  # an optional column this part needs
            reasons.append(str(exc).rstrip("."))
    if missing:
        reasons.append(f"not available in this version: {', '.join(missing)}")
    if not items:
        raise _Skip("; ".join(dict.fromkeys(reasons)) or "nothing to show")
    notes.extend(f"not shown: {r}" for r in dict.fromkeys(reasons))
    return items


def _as_of(inp: Inputs) -> dict[str, Any]:
    return {} if inp.as_of is None else {"as_of": inp.as_of}


# ----------------------------------------------------------------------------
# the sections
# ----------------------------------------------------------------------------
def _pipeline_now(inp: Inputs, notes: list[str]) -> list[Item]:
    deals = inp.deals

    def pipeline() -> list[Item]:
        func = _fn("pipeline")
        _need_columns(deals, ["stage", "amount"], inp.label("deals"))
        kws: dict[str, Any] = {"history": inp.history, **_as_of(inp)}
        res = func(deals, inp.stages, **kws)
        return [_item("Open pipeline by stage", res, "plot_pipeline")]

    def coverage() -> list[Item]:
        func = _fn("coverage")
        if inp.target is None:
            msg = "coverage needs a revenue target (target=, --target)"
            raise _Skip(msg)
        return [_item("Coverage of the target", func(deals, inp.target, **_as_of(inp)))]

    return _parts([pipeline, coverage], notes)


def _funnel(inp: Inputs, notes: list[str]) -> list[Item]:
    events, steps = inp.events, inp.steps

    def need_events() -> tuple[pd.DataFrame, list[str]]:
        if events is None or steps is None:
            msg = (
                "the event funnel needs an event log and its steps "
                "(events= and steps=, --events and --steps)"
            )
            raise _Skip(msg)
        return events, steps

    def conversion() -> list[Item]:
        func = _fn("conversion")
        ev, st = need_events()
        return [_item("Conversion through the funnel", func(ev, st), "plot_funnel")]

    def dropoff() -> list[Item]:
        func = _fn("dropoff")
        ev, st = need_events()
        return [_item("Where entities drop off", func(ev, st), "plot_dropoff")]

    def time_to_convert() -> list[Item]:
        func = _fn("time_to_convert")
        ev, st = need_events()
        if "channel" in ev.columns:
            res = func(ev, st, by="channel")
            return [_item("Time to convert, by channel", res, "plot_time_to_convert")]
        return [_item("Time to convert", func(ev, st), "plot_time_to_convert")]

    def stage_conversion() -> list[Item]:
        func = _fn("stage_conversion")
        if inp.history is None:
            msg = "stage-to-stage conversion needs a stage history (history=, --history)"
            raise _Skip(msg)
        res = func(inp.history, _stages(inp), deals=inp.deals)
        return [_item("Stage-to-stage conversion", res, "plot_stage_conversion")]

    return _parts([conversion, dropoff, time_to_convert, stage_conversion], notes)


def _cycle(inp: Inputs, notes: list[str]) -> list[Item]:
    deals = inp.deals

    def sales_cycle() -> list[Item]:
        func = _fn("sales_cycle")
        items = [_item("Sales cycle (created to won)", func(deals, **_as_of(inp)))]
        if "channel" in deals.columns:
            res = func(deals, by="channel", **_as_of(inp))
            items.append(_item("Sales cycle by channel", res, "plot_sales_cycle"))
        else:
            items = [_item(items[0][0], items[0][1], "plot_sales_cycle")]
        return items

    def win_curve() -> list[Item]:
        func = _fn("win_curve")
        res = func(deals, **_as_of(inp))
        item = _item("Chance of winning within t days", res, "plot_win_curve")
        shown = at_milestones(res)
        # the picture draws the whole curve; the table reads it at a few horizons
        return [(item[0], shown, *item[2:])]

    def time_in_stage() -> list[Item]:
        func = _fn("time_in_stage")
        if inp.history is None:
            msg = "time in stage needs a stage history (history=, --history)"
            raise _Skip(msg)
        res = func(inp.history, _stages(inp), **_as_of(inp))
        return [_item("Time in stage", res, "plot_time_in_stage")]

    return _parts([sales_cycle, win_curve, time_in_stage], notes)


def _win_rate(inp: Inputs, notes: list[str]) -> list[Item]:
    deals = inp.deals

    def win_rate() -> list[Item]:
        func = _fn("win_rate")
        return [_item("Win rate of closed deals", func(deals))]

    def deal_size() -> list[Item]:
        func = _fn("deal_size")
        _need_columns(deals, ["amount"], inp.label("deals"))
        return [_item("Size of won deals", func(deals))]

    def velocity() -> list[Item]:
        func = _fn("sales_velocity")
        _need_columns(deals, ["amount"], inp.label("deals"))
        return [_item("Sales velocity", func(deals, **_as_of(inp)))]

    def leaderboard() -> list[Item]:
        func = _fn("leaderboard")
        _need_columns(deals, ["owner"], inp.label("deals"))
        return [_item("Rep leaderboard", func(deals), "plot_leaderboard")]

    return _parts([win_rate, deal_size, velocity, leaderboard], notes)


def _channels(inp: Inputs, notes: list[str]) -> list[Item]:
    def channel_yield() -> list[Item]:
        func = _fn("channel_yield")
        _need_columns(inp.deals, ["channel"], inp.label("deals"))
        res = func(inp.deals, costs=inp.costs)
        return [_item("Channel yield", res, "plot_channel_yield")]

    return _parts([channel_yield], notes)


def _touches(inp: Inputs, notes: list[str]) -> list[Item]:
    touches = inp.touches

    def need() -> pd.DataFrame:
        if touches is None:
            msg = "needs a touch log (touches=, --touches)"
            raise _Skip(msg)
        return touches

    def to_response() -> list[Item]:
        func = _fn("touches_to_response")
        res = func(need(), positive=inp.positive)
        return [_item("Response by touch number", res, "plot_touches")]

    def summary() -> list[Item]:
        func = _fn("touches_summary")
        return [_item("Touches summary", func(need(), positive=inp.positive))]

    return _parts([to_response, summary], notes)


def _triggers(inp: Inputs, notes: list[str]) -> list[Item]:
    def triggers() -> list[Item]:
        func = _fn("triggers")
        if inp.events is None or inp.steps is None:
            msg = "needs an event log and its steps (events= and steps=, --events and --steps)"
            raise _Skip(msg)
        candidates = behaviours(inp.events, inp.steps)
        if not candidates:
            msg = "the event log has no events besides the steps and terminal events"
            raise _Skip(msg)
        items: list[Item] = []
        for at_step in range(1, len(inp.steps)):
            res = func(inp.events, inp.steps, at_step=at_step, candidates=candidates)
            if "entities_with" in res.columns:  # behaviours nobody did at this step
                res = res[res["entities_with"] > 0].reset_index(drop=True)
            if res.empty or ("small_sample" in res.columns and bool(res["small_sample"].all())):
                continue  # too few entities did anything at this step: nothing to read
            before, after = _label(inp.steps[at_step - 1]), _label(inp.steps[at_step])
            title = f"Behaviours between {before} and {after}"
            items.append(_item(title, res, "plot_triggers"))
        if not items:
            msg = "every behaviour has too few entities at every step"
            raise _Skip(msg)
        notes.append(
            "Triggers show association, not causation: leads who request a demo may "
            "differ from those who do not in ways the data does not record."
        )
        return items

    return _parts([triggers], notes)


def _label(step: Any) -> str:
    """A step's readable name: ``"demo | trial"`` for a list of events."""
    return step if isinstance(step, str) else " | ".join(str(s) for s in step)


def behaviours(events: pd.DataFrame, steps: Sequence[Any]) -> list[str]:
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
    ev = events[["user_id", "timestamp", "event"]].dropna()
    ev = ev.sort_values(["user_id", "timestamp"], kind="stable")
    is_last = ~ev["user_id"].duplicated(keep="last")
    share_last = is_last.groupby(ev["event"].astype(str), observed=True).mean()
    return sorted(
        str(name)
        for name, share in share_last.items()
        if str(name) not in step_names and share < 1.0
    )


def _stalled(inp: Inputs, notes: list[str]) -> list[Item]:
    def stalled() -> list[Item]:
        func = _fn("stalled")
        if inp.history is None:
            msg = "stalled deals need a stage history (history=, --history)"
            raise _Skip(msg)
        res = func(inp.history, _stages(inp), deals=inp.deals, **_as_of(inp))
        return [_item("Stalled open deals", res)]

    def lost() -> list[Item]:
        func = _fn("lost_deals")
        _need_columns(inp.deals, ["lost_reason"], inp.label("deals"))
        kws = {} if inp.stages is None and inp.history is None else {"stages": _stages(inp)}
        res = func(inp.deals, inp.history, **kws)
        return [_item("Lost deals by stage and reason", res)]

    def revival() -> list[Item]:
        func = _fn("revival_candidates")
        _need_columns(inp.deals, ["lost_reason"], inp.label("deals"))
        stages = _stages(inp, "the revival list")
        res = func(inp.deals, inp.history, stages=stages, **_as_of(inp))
        return [_item("Lost deals worth reviving", res)]

    return _parts([stalled, lost, revival], notes)


def _plan(inp: Inputs, notes: list[str]) -> list[Item]:
    def plan() -> list[Item]:
        func = _fn("plan")
        if inp.target is None:
            msg = "the revenue plan needs a target (target=, --target)"
            raise _Skip(msg)
        kws: dict[str, Any] = {"history": inp.history, **_as_of(inp)}
        if inp.history is not None or inp.stages is not None:
            kws["stages"] = pre_sale_stages(_stages(inp), inp.deals, inp.history)
        res = func(inp.deals, inp.target, **kws)
        return [_item(f"Plan for a target of {inp.target:,.0f}", res, "plot_plan")]

    return _parts([plan], notes)


#: The report's sections, in order: (name, builder).
SECTIONS: list[tuple[str, Callable[[Inputs, list[str]], list[Item]]]] = [
    ("Pipeline now", _pipeline_now),
    ("Funnel and drop-off", _funnel),
    ("Cycle length", _cycle),
    ("Win rate and reps", _win_rate),
    ("Channels", _channels),
    ("Touches", _touches),
    ("Triggers", _triggers),
    ("Stalled and revival lists", _stalled),
    ("Revenue plan", _plan),
]


#: Horizons at which a long curve (``win_curve``) is read in the page.
MILESTONE_DAYS = (7, 14, 30, 60, 90, 180, 365, 730)


def at_milestones(curve: pd.DataFrame, *, column: str = "t") -> pd.DataFrame:
    """The rows of a step curve in effect at 7, 14, 30, ... days (the last row at or before).

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"t": pd.to_timedelta([1, 8, 20, 400], unit="D"),
    ...                       "probability": [0.0, 0.1, 0.2, 0.3]})
    >>> at_milestones(curve)["probability"].tolist()
    [0.0, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.3]
    >>> at_milestones(curve)["t"].dt.days.tolist()
    [7, 14, 30, 60, 90, 180, 365, 730]
    """
    if column not in curve.columns or not pd.api.types.is_timedelta64_dtype(curve[column]):
        return curve
    by = [c for c in curve.columns[: list(curve.columns).index(column)]]
    horizons = pd.to_timedelta(list(MILESTONE_DAYS), unit="D")
    blocks = []
    groups: Any = curve.groupby(by, sort=False, dropna=False) if by else [((), curve)]
    for _, block in groups:
        block = block.sort_values(column, kind="stable")
        pos = block[column].searchsorted(horizons, side="right") - 1
        keep = pos >= 0
        rows = block.iloc[pos[keep]].copy()
        rows[column] = horizons[keep]
        blocks.append(rows)
    out = pd.concat(blocks, ignore_index=True) if blocks else curve.iloc[:0].copy()
    return cast(pd.DataFrame, out)


def _stages(inp: Inputs, what: str = "this part") -> list[str]:
    """The stage order: as given, else inferred from the history."""
    if inp.stages is not None:
        return inp.stages
    if inp.history is None:
        msg = (
            f"{what} needs the stage order (stages=, --stages) "
            "or a stage history (history=, --history)"
        )
        raise _Skip(msg)
    return infer_stages(inp.history)


def pre_sale_stages(
    stages: Sequence[str], deals: pd.DataFrame, history: pd.DataFrame | None
) -> list[str]:
    """Drop trailing stages that only won deals enter (retention, onboarding, ...).

    A revenue plan counts the deals needed *before* the sale; a stage after it
    is not a step towards the target.

    Examples
    --------
    >>> import pandas as pd
    >>> deals = pd.DataFrame({"deal_id": [1, 2], "status": ["won", "lost"],
    ...                       "stage": ["retention", "demo"]})
    >>> pre_sale_stages(["lead", "demo", "retention"], deals, None)
    ['lead', 'demo']
    """
    if "deal_id" not in deals.columns or "status" not in deals.columns:
        return list(stages)
    entries = history if history is not None else deals
    if "stage" not in entries.columns or "deal_id" not in entries.columns:
        return list(stages)
    status = deals.set_index("deal_id")["status"]
    status = status[~status.index.duplicated()]
    entered = entries[["deal_id", "stage"]].assign(
        status=entries["deal_id"].map(status).astype(object)
    )
    only_won = entered.groupby(entered["stage"].astype(str))["status"].agg(
        lambda s: bool(len(s)) and bool((s == "won").all())
    )
    out = list(stages)
    while len(out) > 1 and bool(only_won.get(str(out[-1]), False)):
        out.pop()
    return out


def infer_stages(history: pd.DataFrame) -> list[str]:
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
    h = history[["deal_id", "stage", "entered_at"]].dropna()
    first = h.groupby(["deal_id", "stage"], sort=False, observed=True)["entered_at"].min()
    rank = first.groupby(level="deal_id", observed=True).rank(method="first")
    order = rank.groupby(level="stage", observed=True).mean().sort_values(kind="stable")
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
    sections: Sequence[tuple[str, Callable[[Inputs, list[str]], list[Item]]]] = SECTIONS,
) -> list[SectionResult]:
    """Run every section; a FunnelkitError names the input file and stops the run."""
    results: list[SectionResult] = []
    used = [t for t in _TABLE_NAMES if getattr(inp, t) is not None]
    for i, (name, build) in enumerate(sections, start=1):
        if echo is not None:
            echo(f"[{i}/{len(sections)}] {name} ...")
        res = SectionResult(name)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res.items = build(inp, res.notes)
            except _Skip as skip:
                res.skipped = str(skip)
            except FunnelkitError as exc:
                raise _with_file(exc, inp, used) from None
        res.notes.extend(dict.fromkeys(str(w.message) for w in caught))
        res.seconds = time.perf_counter() - start
        if echo is not None:
            if res.skipped is not None:
                echo(f"      skipped: {res.skipped}")
            else:
                echo(f"      {len(res.items)} table(s) in {res.seconds:.1f} s")
            for note in res.notes:
                echo(f"      note: {note}")
        results.append(res)
    return results


# ----------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------
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
.notes { color: var(--muted); font-size: .85rem; margin: .4rem 0; padding-left: 1.2rem; }
figure { margin: .6rem 0 1rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85rem; margin: .3rem 0 .2rem;
        font-variant-numeric: tabular-nums; }
th, td { padding: .28rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { text-align: left; background: var(--band); font-weight: 600; }
td.num, th.num { text-align: right; }
tbody tr:nth-child(even) { background: #fafbfc; }
.more { color: var(--muted); font-size: .8rem; margin: 0 0 1rem; }
footer { color: var(--muted); font-size: .8rem; max-width: 1080px; margin: 2rem auto;
         padding: 0 1.5rem; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt_datetime(v: Any) -> str:
    if pd.isna(v):
        return "–"
    ts = pd.Timestamp(v)
    if ts == ts.normalize():
        return str(ts.strftime("%Y-%m-%d"))
    return str(ts.strftime("%Y-%m-%d %H:%M"))


def table_html(df: pd.DataFrame, *, max_rows: int = MAX_HTML_ROWS) -> str:
    """Render a result table as an HTML ``<table>`` (every cell escaped).

    Examples
    --------
    >>> import pandas as pd
    >>> print(table_html(pd.DataFrame({"step": ["<b>"], "entities": [1200]})))
    <div class="table-wrap"><table>
    <thead><tr><th>step</th><th class="num">entities</th></tr></thead>
    <tbody>
    <tr><td>&lt;b&gt;</td><td class="num">1,200</td></tr>
    </tbody></table></div>
    """
    shown = df.head(max_rows)
    formatters = column_formatters(shown)
    numeric: list[bool] = []
    cells: list[list[str]] = []
    for name, dtype in shown.dtypes.items():
        fmt = formatters.get(name)
        if fmt is None and pd.api.types.is_datetime64_any_dtype(dtype):
            fmt = _fmt_datetime
        numeric.append(
            fmt is not None
            and not pd.api.types.is_datetime64_any_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
        )
        values = shown[name].tolist()
        if fmt is None:
            cells.append(["–" if _missing(v) else str(v) for v in values])
        else:
            cells.append([fmt(v) for v in values])
    head = "".join(
        f'<th class="num">{_esc(c)}</th>' if num else f"<th>{_esc(c)}</th>"
        for c, num in zip(shown.columns, numeric, strict=True)
    )
    rows = []
    for r in range(len(shown)):
        tds = "".join(
            f'<td class="num">{_esc(col[r])}</td>' if num else f"<td>{_esc(col[r])}</td>"
            for col, num in zip(cells, numeric, strict=True)
        )
        rows.append(f"<tr>{tds}</tr>")
    body = "\n".join(rows)
    text = (
        f'<div class="table-wrap"><table>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body + chr(10) if rows else ''}</tbody></table></div>"
    )
    if len(df) > max_rows:
        text += f'\n<p class="more">First {max_rows} of {len(df):,} rows; all in the CSV file.</p>'
    return text


def _missing(v: Any) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    return isinstance(v, float) and bool(np.isnan(v))


def render_png(draw: Draw) -> bytes:
    """Draw on a fresh, stand-alone Figure (no pyplot, no global state); PNG bytes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    draw(ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def _anchor(i: int, name: str) -> str:
    from funnelkit._demo import slug

    return f"s{i}-{slug(name)}"


@dataclass
class _Rendered:
    title: str
    table: pd.DataFrame
    png: bytes | None
    stem: str
    error: str | None = None


def write_report(
    out: Path,
    results: Sequence[SectionResult],
    *,
    title: str,
    summary: Sequence[str] = (),
    echo: Callable[[str], None] | None = None,
) -> Path:
    """Write ``report.html`` plus one CSV per table and one PNG per picture."""
    from funnelkit._demo import slug

    out.mkdir(parents=True, exist_ok=True)
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
        for item in res.items:
            item_title, table = item[0], item[1]
            stem = f"{i:02d}_{slug(item_title)}"
            table.to_csv(out / f"{stem}.csv", index=False)
            body.append(f"<h3>{_esc(item_title)}</h3>")
            if len(item) == 3:
                try:
                    png = render_png(item[2])
                except Exception as exc:  # a picture must not cost the whole report
                    msg = f"picture not drawn: {type(exc).__name__}: {exc}"
                    body.append(f'<p class="skipped">{_esc(msg)}</p>')
                    if echo is not None:
                        echo(f"      warning: {item_title}: {msg}")
                else:
                    (out / f"{stem}.png").write_bytes(png)
                    n_pictures += 1
                    data = base64.b64encode(png).decode("ascii")
                    body.append(
                        f'<figure><img src="data:image/png;base64,{data}" '
                        f'alt="{_esc(item_title)}"></figure>'
                    )
            body.append(table_html(table))
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
<p class="meta">{n_shown} of {len(results)} sections shown; skipped sections say why.</p>
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
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    if echo is not None:
        echo(
            f"Wrote {path.resolve()} ({n_shown} sections, {n_pictures} pictures) "
            f"and its CSV/PNG files"
        )
    return path


# ----------------------------------------------------------------------------
# the public function
# ----------------------------------------------------------------------------
def _prepare(
    df: pd.DataFrame | None,
    table: str,
    required: Mapping[str, str],
    times: Sequence[str],
    column_map: Mapping[str, str],
    label: str,
) -> pd.DataFrame | None:
    """Rename, check the columns every section needs and parse the dates."""
    if df is None:
        return None
    check_frame(df, table=table, func="report")
    renamed = df.rename(columns=dict(column_map)) if column_map else df
    try:
        require_columns(renamed, required, table=table)
        parsed = {c: as_datetime(renamed, c, table=table) for c in times if c in renamed.columns}
    except FunnelkitError as exc:
        if label != table:
            exc.args = (f"{label}: {exc}", *exc.args[1:])
        raise
    if not parsed and renamed is df:
        return df
    return cast(pd.DataFrame, renamed.assign(**parsed))


def report(
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
    won: str = "won",
    lost: str = "lost",
    positive: str = "positive",
    column_map: Mapping[str, str] | None = None,
    out: str | os.PathLike[str] = "funnelkit-report",
    title: str = "Funnel report",
    progress: bool = False,
) -> Path:
    """Write an HTML report of every analysis the given tables allow.

    Runs, in order, the sections *pipeline now*, *funnel and drop-off*,
    *cycle length*, *win rate and reps*, *channels*, *touches*, *triggers*,
    *stalled and revival lists* and *revenue plan* and writes one
    self-contained ``report.html`` (pictures embedded as PNG, tables as HTML,
    no network access needed to open it) into ``out``, beside one CSV file
    per table and one PNG file per picture. A section whose inputs are not
    given (no stage history, no event log, no target) is listed in the report
    as skipped, with the reason.

    Parameters
    ----------
    deals : pandas.DataFrame
        The deal table: ``deal_id``, ``created_at``, ``closed_at``, ``status``
        (``won`` / ``lost`` / anything else is open) and, for the sections
        that use them, ``amount``, ``stage``, ``owner``, ``channel`` and
        ``lost_reason``.
    history : pandas.DataFrame, optional
        Stage history, one row per stage entry: ``deal_id``, ``stage``,
        ``entered_at``.
    events : pandas.DataFrame, optional
        Event log: ``user_id``, ``timestamp``, ``event``. Needs ``steps``.
    steps : list, optional
        The funnel steps of ``events``, in order: event names, or lists of
        names (any of them fills the step), as in :func:`funnelkit.conversion`.
    touches : pandas.DataFrame, optional
        Outreach log: ``user_id``, ``timestamp``, ``response``.
    costs : pandas.DataFrame, optional
        Spend per channel (``channel``, ``month``, ``cost``) for the channel
        section.
    stages : list of str, optional
        The stage order. Default: inferred from ``history`` (stages ordered
        by when deals typically enter them).
    target : float, optional
        Revenue target for the coverage figure and the revenue plan; both are
        skipped without it.
    as_of : datetime-like, optional
        Observation date: deals still open at this date are censored here. Default: the latest
        date in the data (never "today").
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    positive : str, default="positive"
        Value of ``touches['response']`` that marks a positive reply.
    column_map : dict of str to str, optional
        Renames applied to every table first, e.g. ``{"Opportunity ID":
        "deal_id"}``. The tables passed in are not modified.
    out : str or path, default="funnelkit-report"
        Folder to write into (created if needed).
    title : str, default="Funnel report"
        Title of the page.
    progress : bool, default=False
        Print one line per section (and what was skipped) while running.

    Returns
    -------
    pathlib.Path
        The path of the written ``report.html``.

    Raises
    ------
    ColumnNotFoundError
        A table lacks a column every section needs (``deal_id``,
        ``created_at``, ``closed_at``, ``status``; ``deal_id``, ``stage``,
        ``entered_at``; ``user_id``, ``timestamp`` and ``event`` or
        ``response``). A column only some sections need (``amount``,
        ``owner``, ``channel``, ``lost_reason``, ...) skips those sections,
        with the reason.
    InvalidDataError
        A table's values cannot be used (unparseable dates, negative amounts,
        ...); the message starts with the table's name (the file name, from
        the command line).
    InvalidParameterError
        ``events`` without ``steps`` (or the reverse), or a non-positive
        ``target``.

    See Also
    --------
    funnelkit.datasets.load_sample : tables in the expected shape.

    Notes
    -----
    Every name that comes from the data (stages, channels, reps, reasons) is
    HTML-escaped, so a stage called ``<script>`` shows as text. Rows a metric
    cannot use are left out of it with a note under the section (the
    :class:`~funnelkit.FunnelkitWarning` the metric emitted). Tables longer
    than 25 rows show their first 25 rows; the CSV files hold every row.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": ["D1", "D2", "D3", "D4"],
    ...     "created_at": pd.to_datetime(["2025-01-02", "2025-01-05", "2025-02-01",
    ...                                   "2025-02-10"]),
    ...     "closed_at": pd.to_datetime(["2025-02-01", "2025-03-01", None, None]),
    ...     "status": ["won", "lost", "open", "open"],
    ...     "amount": [12_000.0, 8_000.0, 20_000.0, 5_000.0],
    ...     "stage": ["proposal", "demo", "proposal", "demo"],
    ... })
    >>> path = fk.report(deals, out=tempfile.mkdtemp())
    >>> path.name
    'report.html'
    >>> "Pipeline now" in path.read_text()
    True
    """
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
        won=won,
        lost=lost,
        positive=positive,
        column_map=column_map,
    )
    echo = print if progress else None
    results = run_sections(inp, echo=echo)
    return write_report(Path(out), results, title=title, summary=describe(inp), echo=echo)


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
    won: str = "won",
    lost: str = "lost",
    positive: str = "positive",
    column_map: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> Inputs:
    """Check and prepare the report's tables (renamed, dates parsed; inputs untouched)."""
    labels = dict(labels or {})
    cmap = dict(column_map or {})
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
    if as_of is not None:
        try:
            as_of = pd.Timestamp(as_of)
        except (ValueError, TypeError):
            err = param_error("report", "as_of", "a date such as '2025-06-30' or None", as_of)
            raise err from None
        if pd.isna(as_of):
            err = param_error("report", "as_of", "a date such as '2025-06-30' or None", as_of)
            raise err
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int | float) or not target > 0
    ):
        err = param_error("report", "target", "a positive number or None", target)
        raise err
    specs = {
        "deals": (
            deals,
            {
                "deal": "deal_id",
                "created": "created_at",
                "closed": "closed_at",
                "status": "status",
            },
            ["created_at", "closed_at"],
        ),
        "history": (
            history,
            {"deal": "deal_id", "stage": "stage", "time": "entered_at"},
            ["entered_at"],
        ),
        "events": (
            events,
            {"entity": "user_id", "time": "timestamp", "event": "event"},
            ["timestamp"],
        ),
        "touches": (
            touches,
            {"entity": "user_id", "time": "timestamp", "response": "response"},
            ["timestamp"],
        ),
        "costs": (costs, {}, []),
    }
    prepared = {
        table: _prepare(df, table, required, times, cmap, labels.get(table, table))
        for table, (df, required, times) in specs.items()
    }
    deals_ready = cast(pd.DataFrame, prepared["deals"])  # deals is required: never None
    if (won, lost) != ("won", "lost"):  # the sections call the metrics with the defaults
        status = deals_ready["status"]
        renamed = status.where(status != won, "won").where(status != lost, "lost")
        deals_ready = deals_ready.assign(status=renamed.astype(object))
    return Inputs(
        deals=deals_ready,
        history=prepared["history"],
        events=prepared["events"],
        steps=None if steps is None else [s if isinstance(s, str) else list(s) for s in steps],
        touches=prepared["touches"],
        costs=prepared["costs"],
        stages=None if stages is None else [str(s) for s in stages],
        target=None if target is None else float(target),
        as_of=None if as_of is None else pd.Timestamp(as_of),
        positive=positive,
        labels=labels,
    )


def describe(inp: Inputs) -> list[str]:
    """Lines for the page header: the input tables (rows, source) and the settings."""
    tables = [
        f"{inp.label(t)} ({len(df):,} rows)"
        for t in _TABLE_NAMES
        if (df := getattr(inp, t)) is not None
    ]
    lines = ["Inputs: " + ", ".join(tables) + "."]
    settings = []
    if inp.as_of is not None:
        settings.append(f"as of {inp.as_of:%Y-%m-%d}")
    if inp.target is not None:
        settings.append(f"revenue target {inp.target:,.0f}")
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


def add_report_parser(sub: Any) -> None:
    """Add the ``report`` subcommand to the CLI's subparsers."""
    p = sub.add_parser(
        "report",
        help="write the HTML report for your own CSV/Parquet exports",
        description=(
            "Run every analysis your exports allow and write report.html (pictures "
            "embedded), one CSV per table and one PNG per picture into --out. "
            "Sections the inputs do not allow are listed as skipped, with the reason. "
            "Expected columns: deals deal_id, created_at, closed_at, status, amount, stage, "
            "owner, channel, lost_reason; history deal_id, stage, entered_at; events "
            "user_id, timestamp, event; touches user_id, timestamp, response. "
            "Rename yours with --column-map."
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
    p.add_argument("--won", default="won", help="status value of a won deal (default: won)")
    p.add_argument("--lost", default="lost", help="status value of a lost deal (default: lost)")
    p.add_argument("--positive", default="positive", help="response value meaning a positive reply")
    p.add_argument(
        "--column-map",
        type=_column_map,
        default={},
        metavar="OLD=NEW,...",
        help="rename columns in every file, e.g. 'Opportunity ID=deal_id,Close Date=closed_at'",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("funnelkit-report"),
        help="folder to write into (default: ./funnelkit-report)",
    )
    p.add_argument("--title", default="Funnel report", help="title of the page")


def run_report_command(args: Any, *, echo: Callable[[str], None] = print) -> int:
    """Run ``funnelkit report`` from parsed arguments; return the exit code."""
    if (args.events is None) != (args.steps is None):
        import sys

        print("funnelkit report: error: --events and --steps go together", file=sys.stderr)
        return 2
    files = {t: getattr(args, t) for t in _TABLE_NAMES if getattr(args, t, None) is not None}
    tables: dict[str, pd.DataFrame] = {}
    for table, path in files.items():
        echo(f"Reading {table} from {path} ...")
        tables[table] = read_table(path, table)
    labels = {t: f"{t} file '{p}'" for t, p in files.items()}
    try:
        inp = _cli_inputs(args, tables, labels)
    except ColumnNotFoundError as exc:
        exc.args = (f"{exc} Map your column names with --column-map OLD=NEW,...",)
        raise
    results = run_sections(inp, echo=echo)
    write_report(args.out, results, title=args.title, summary=describe(inp), echo=echo)
    skipped = [r for r in results if r.skipped is not None]
    if skipped:
        echo(f"Skipped {len(skipped)} of {len(results)} sections:")
        for r in skipped:
            echo(f"  {r.name}: {r.skipped}")
    return 0


def _cli_inputs(args: Any, tables: dict[str, pd.DataFrame], labels: dict[str, str]) -> Inputs:
    return make_inputs(
        tables["deals"],
        history=tables.get("history"),
        events=tables.get("events"),
        steps=args.steps,
        touches=tables.get("touches"),
        costs=tables.get("costs"),
        stages=args.stages,
        target=args.target,
        as_of=args.as_of,
        won=args.won,
        lost=args.lost,
        positive=args.positive,
        column_map=args.column_map,
        labels=labels,
    )
