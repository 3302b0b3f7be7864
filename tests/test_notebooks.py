"""The notebooks in ``notebooks/`` run from top to bottom without an error.

They are stored without outputs; CI executes them here with nbclient
(kernel ``python3``), each in a temporary folder, with the checkout on the
path. The three kernels run side by side (each is its own process, driven by
one asyncio loop), so the
wall time is that of the slowest notebook.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from .conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300


def test_the_three_notebooks_exist():
    names = {p.name for p in NOTEBOOKS}
    assert {
        "sales_funnel_walkthrough.ipynb",
        "bank_marketing_touches.ipynb",
        "revenue_planning.ipynb",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has stored outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"


async def execute(path: Path, folder: Path):
    """Run one notebook; return the executed notebook or the exception it raised."""
    import nbclient
    import nbformat

    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        book,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        await client.async_execute()  # raises CellExecutionError (cell + traceback)
    except Exception as exc:
        return exc
    return book


async def execute_all(paths: list[Path], folders: list[Path]) -> list[object]:
    return await asyncio.gather(*(execute(p, f) for p, f in zip(paths, folders, strict=True)))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    pytest.importorskip("nbformat", reason="nbformat is not installed")
    pytest.importorskip("nbclient", reason="nbclient is not installed (pip install -e '.[test]')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed")
    mp = pytest.MonkeyPatch()
    # the kernels import funnelkit from this checkout and draw off-screen
    mp.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    mp.setenv("MPLBACKEND", "Agg")
    try:
        folders = [tmp_path_factory.mktemp(p.stem) for p in NOTEBOOKS]
        results = asyncio.run(execute_all(NOTEBOOKS, folders))
    finally:
        mp.undo()
    return dict(zip([p.name for p in NOTEBOOKS], results, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, executed):
    result = executed[path.name]
    if isinstance(result, Exception):
        pytest.fail(f"{path.name} failed:\n{result}")
    errors = [
        out
        for cell in result.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors
    ran = [c for c in result.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in ran), "a cell did not run"


def test_notebooks_are_up_to_date():
    """The stored notebooks are what tools/build_notebooks.py builds from this checkout."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_notebooks", ROOT / "tools" / "build_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, cells in module.NOTEBOOKS.items():
        expected = module.build(cells)
        stored = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        assert [c.source for c in stored.cells] == [c.source for c in expected.cells], (
            f"notebooks/{name} is out of date: run python tools/build_notebooks.py"
        )
