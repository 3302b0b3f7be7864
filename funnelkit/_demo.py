"""``funnelkit demo``: run every analysis on the bundled sample.

Each section is a function ``(sample) -> list[(title, table)]``; the demo
prints each table and writes it as CSV into the output folder.  Metric issues
add their sections to :data:`SECTIONS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from funnelkit._deals_demo import deal_metrics
from funnelkit._format import format_frame
from funnelkit.planning import _demo_section as _planning
from funnelkit.stages import _demo_section as _stage_history

Table = tuple[str, pd.DataFrame]
Section = Callable[[Any], list[Table]]


def _overview(sample: Any) -> list[Table]:
    deals = sample.deals
    by_stage = (
        deals.pivot_table(
            index="stage", columns="status", values="deal_id", aggfunc="count", fill_value=0
        )
        .reindex(list(sample.stages))
        .fillna(0)
        .astype("int64")
        .reset_index()
    )
    by_stage.columns.name = None
    events = sample.events["event"].value_counts().rename_axis("event").reset_index(name="events")
    return [("Deals by stage and status", by_stage), ("Events by type", events)]


def _funnel(sample: Any) -> list[Table]:
    from funnelkit.events import conversion, dropoff, time_to_convert

    events, stages = sample.events, list(sample.stages)
    return [
        ("Funnel over the sales stages", conversion(events, stages)),
        ("Where leads drop off", dropoff(events, stages)),
        ("Funnel by channel", conversion(events, stages[:5], by="channel")),
        (
            "Time from lead to proposal by company size",
            time_to_convert(events, stages, to_step="proposal", by="company_size"),
        ),
    ]


_BEHAVIOURS = [
    "content download",
    "demo request",
    "free trial",
    "video view",
    "newsletter open",
    "webinar",
]
_TRIGGER_COLUMNS = [
    "behaviour",
    "entities_with",
    "conversion_with",
    "conversion_without",
    "lift",
    "odds_ratio",
    "odds_ratio_low",
    "odds_ratio_high",
    "p_adjusted",
    "small_sample",
]


def _touches(sample: Any) -> list[Table]:
    from funnelkit.touches import touches_summary, touches_to_response

    per_touch = touches_to_response(sample.touches)
    summary = touches_summary(sample.touches)
    mix = touches_summary(sample.touches, channel="channel")
    return [
        ("Touches to a positive reply (prospecting outreach)", per_touch),
        ("Touches to response: summary", summary),
        ("Touches to response by channel of the touch", mix),
    ]


def _triggers(sample: Any) -> list[Table]:
    from funnelkit.triggers import triggers

    stages = list(sample.stages)
    present = set(sample.events["event"].unique())
    candidates = [b for b in _BEHAVIOURS if b in present]
    out: list[Table] = []
    for at_step in (3, 4):
        res = triggers(sample.events, stages, at_step=at_step, candidates=candidates)
        res = res[res["entities_with"] > 0][_TRIGGER_COLUMNS].reset_index(drop=True)
        title = f"Behaviour triggers: {stages[at_step - 1]} -> {stages[at_step]}"
        out.append((title, res))
    return out


SECTIONS: list[tuple[str, Section]] = [
    ("Sample overview", _overview),
    ("Event funnel", _funnel),
    ("Deal metrics", deal_metrics),
    ("Stage history", _stage_history),
    ("Revenue-target planning", _planning),
    ("Touches to response", _touches),
    ("Behaviour triggers", _triggers),
]


def slug(text: str) -> str:
    """File-name-safe version of a title."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def run_demo(out: Path, *, seed: int = 0, echo: Callable[[str], None] = print) -> list[Table]:
    """Run every section on ``load_sample(seed)``; print and write the tables."""
    from funnelkit.datasets import load_sample

    sample = load_sample(seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    echo(f"funnelkit demo on the bundled sample (seed={seed}); writing to {out.resolve()}")
    tables: list[Table] = []
    for name, section in SECTIONS:
        echo("")
        echo(f"== {name} ==")
        for title, table in section(sample):
            echo(f"\n{title}")
            echo(format_frame(table))
            table.to_csv(out / f"{slug(title)}.csv", index=False)
            tables.append((title, table))
    echo(f"\nWrote {len(tables)} tables to {out.resolve()}")
    return tables
