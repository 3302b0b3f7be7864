"""``funnelkit demo``: the report's sections on the bundled sample.

The demo is the report (:mod:`funnelkit._report`) run on
:func:`funnelkit.datasets.load_sample`: the same registry of sections
(:data:`funnelkit._report.SECTIONS`), computed once, with one funnel (the
sample's stages up to the sale, then ``won``) and one revenue target.  The
terminal shows each table in at most 100 columns (wide tables in blocks that
repeat their labels, long lists cut) and points to the report for the rest;
the same results are written once as ``report.html`` with one CSV per table
and one PNG per picture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from funnelkit._format import format_frame
from funnelkit._report import (
    SALES_WORDS,
    TERMINAL_WIDTH,
    Inputs,
    SectionResult,
    _claim,
    check_out,
    describe,
    make_inputs,
    pre_sale_stages,
    run_sections,
    sentences,
    wrap,
    write_report,
)
from funnelkit.datasets import load_sample

#: Revenue target of the demo's coverage figure and plan.
DEMO_TARGET = 1_000_000.0
TITLE = "funnelkit demo: a synthetic B2B sales team"
#: Rows of a table printed in the terminal (the report shows 25, the CSV files all).
DEMO_ROWS = 10
#: Blocks of columns printed per table (the report shows every column).
DEMO_BLOCKS = 3
#: Text cells longer than this are cut in the terminal.
DEMO_TEXT = 40


def sample_inputs(sample: Any) -> Inputs:
    """The report's inputs for the sample: every table, one funnel and one target."""
    stages = list(sample.stages)
    funnel = pre_sale_stages(stages, Inputs(sample.deals, history=sample.history))
    return make_inputs(
        sample.deals,
        history=sample.history,
        events=sample.events,
        steps=[*funnel, "won"],
        touches=sample.touches,
        costs=sample.costs,
        stages=stages,
        target=DEMO_TARGET,
        as_of=sample.as_of,
    )


def print_results(
    results: list[SectionResult],
    *,
    echo: Callable[[str], None] = print,
    width: int = TERMINAL_WIDTH,
    max_rows: int = DEMO_ROWS,
) -> None:
    """Print every table in at most ``width`` columns; what is cut is said."""
    for res in results:
        echo("")
        echo(f"== {res.name} ==")
        if res.skipped is not None:
            echo(wrap(f"skipped: {res.skipped}", width=width))
            continue
        for k, item in enumerate(res.items):
            title, table = item[0], item[1]
            echo("")
            echo(wrap(title, width=width))
            said, rest = sentences(table)
            for text in said:
                echo(wrap(text, width=width))
            text = format_frame(
                rest,
                max_rows=max_rows,
                width=width,
                durations=res.unit(k),
                max_text=DEMO_TEXT,
                rename=SALES_WORDS,
                max_blocks=DEMO_BLOCKS,
            )
            if text.endswith(("more column", "more columns")):
                text += " in report.html"
            echo(text)
            if len(table) > max_rows:
                echo(f"... {len(table) - max_rows:,} more rows in report.html")
        for text in res.notes:
            echo(wrap(f"note: {text}", width=width))


def run_demo(
    out: Path,
    *,
    seed: int = 0,
    echo: Callable[[str], None] = print,
    overwrite: bool = False,
) -> list[SectionResult]:
    """Run the report's sections on ``load_sample(seed)``; print them, write the report."""
    folder = check_out(out, func="demo")
    _claim(folder, ["report.html"], overwrite=overwrite, func="demo")  # before any work
    sample = load_sample(seed=seed)
    echo(f"funnelkit demo on the bundled sample (seed={seed}), writing to:")
    echo(f"  {folder}")
    inp = sample_inputs(sample)
    for line in describe(inp)[:-1]:  # inputs, funnels, settings (not the time stamp)
        echo(wrap(line, width=TERMINAL_WIDTH))
    results = run_sections(inp, echo=echo)
    print_results(results, echo=echo)
    echo("")
    path = write_report(
        folder, results, title=TITLE, summary=describe(inp), echo=echo, overwrite=overwrite
    )
    echo("The terminal shows the first rows and cuts long labels; the report has every")
    echo("row and column of each table, the pictures, and prints on A4:")
    echo(f"  {path}")
    return results
