"""The Python code in the README and the docs pages runs, block after block.

Each page's ```python blocks run in order in one namespace (as a reader would
paste them), in a temporary folder, on the Agg backend. Every block runs: a
block that calls a name funnelkit does not have fails the test.
"""

from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path

import pytest

import funnelkit as fk
from funnelkit.errors import FunnelkitWarning

from .conftest import ROOT

#: Pages with runnable examples. docs/pictures.md is exercised by the docs build instead:
#: its images are drawn by tools/mkdocs_gallery.py from the same calls.
#: The CRM pages run on the bundled sample written in each CRM's format
#: (fk.datasets.export_sample), as a reader would try them.
PAGES = [
    "README.md",
    "docs/getting-started.md",
    "docs/crm.md",
    "docs/crm/hubspot.md",
    "docs/crm/salesforce.md",
    "docs/crm/pipedrive.md",
    "docs/crm/amocrm.md",
    "docs/crm/bitrix24.md",
]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(page: str) -> list[str]:
    return BLOCK.findall((ROOT / page).read_text(encoding="utf-8"))


def check_report_call(deals, *, out="funnelkit-report", title="", progress=False, **kwargs):
    from funnelkit._report import make_inputs

    make_inputs(deals, **kwargs)  # raises as fk.report would on bad arguments or tables
    return Path(out) / "report.html"


def test_pages_have_examples():
    for page in PAGES:
        assert blocks(page), f"{page} has no python examples"


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    # the same tables, fewer leads: the examples' code runs unchanged, faster
    monkeypatch.setattr(
        fk.datasets, "load_sample", functools.partial(fk.datasets.load_sample, n_leads=800)
    )
    # fk.report(...) calls are checked (arguments and tables), not run: tests/test_report.py
    # runs the report itself
    monkeypatch.setattr(fk, "report", check_report_call)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for i, code in enumerate(blocks(page), start=1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FunnelkitWarning)
                exec(compile(code, f"{page} example {i}", "exec"), namespace)
        finally:
            plt.close("all")
