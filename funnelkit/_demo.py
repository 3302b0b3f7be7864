"""``funnelkit demo``: the report's sections on the bundled sample.

The demo is the report (:mod:`funnelkit._report`) run on
:func:`funnelkit.datasets.load_sample`: the same registry of sections
(:data:`funnelkit._report.SECTIONS`), computed once.  Each table is printed,
then the same results are written as ``report.html`` with one CSV per table
and one PNG per picture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from funnelkit._format import format_frame
from funnelkit._report import (
    Inputs,
    SectionResult,
    describe,
    make_inputs,
    run_sections,
    write_report,
)
from funnelkit.datasets import load_sample

#: Revenue target of the demo's coverage figure and plan.
DEMO_TARGET = 1_000_000.0
TITLE = "funnelkit demo: a synthetic B2B sales team"


def sample_inputs(sample: Any) -> Inputs:
    """The report's inputs for the sample: every table, its funnel and the target."""
    return make_inputs(
        sample.deals,
        history=sample.history,
        events=sample.events,
        steps=[*sample.stages[:-1], "won"],
        touches=sample.touches,
        costs=sample.costs,
        stages=list(sample.stages),
        target=DEMO_TARGET,
        as_of=sample.as_of,
    )


def run_demo(
    out: Path, *, seed: int = 0, echo: Callable[[str], None] = print
) -> list[SectionResult]:
    """Run the report's sections on ``load_sample(seed)``; print them, write the report."""
    sample = load_sample(seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    echo(f"funnelkit demo on the bundled sample (seed={seed}); writing to {out.resolve()}")
    inp = sample_inputs(sample)
    results = run_sections(inp, echo=echo)
    for res in results:
        echo("")
        echo(f"== {res.name} ==")
        if res.skipped is not None:
            echo(f"skipped: {res.skipped}")
            continue
        for item in res.items:
            echo(f"\n{item[0]}")
            echo(format_frame(item[1]))
        for note in res.notes:
            echo(f"note: {note}")
    echo("")
    write_report(out, results, title=TITLE, summary=describe(inp), echo=echo)
    return results
