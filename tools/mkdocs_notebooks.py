"""mkdocs hook: run the notebooks at build time and add each as a page with its outputs.

Each ``notebooks/<name>.py`` (a jupytext percent-format script: ``# %%`` code
cells, ``# %% [markdown]`` prose) is converted with jupytext, executed with
nbclient in a new ``python3`` kernel (all of them side by side, each in its
own temporary folder, with the checkout first on the kernel's path) and
written as the page ``notebooks/<name>.md``: the prose, each code cell, and
what it printed or showed — tables as HTML, pictures as PNG files
``notebooks/<name>/<cell>-<n>.png``. Nothing of it is stored in the
repository.

A cell that raises fails the build, and so does a notebook that cannot be
executed: there are no placeholder pages. ``tests/test_notebooks.py`` runs
the same functions. ``mkdocs serve`` executes the notebooks again only when
a notebook or a file of ``funnelkit/`` has changed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Seconds one cell may run before the build fails.
CELL_TIMEOUT = 300
#: The matplotlib backend of the kernels: figures become ``image/png`` outputs (CI sets
#: ``MPLBACKEND=Agg``, which would draw them nowhere).
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def notebook_paths(root: Path) -> list[Path]:
    """The notebooks of the checkout at ``root``: ``notebooks/*.py``, sorted."""
    return sorted((root / "notebooks").glob("*.py"))


def read(path: Path) -> Any:
    """The notebook (an nbformat ``NotebookNode``) of the percent-format script ``path``."""
    import jupytext

    return jupytext.read(path)


@contextmanager
def kernel_environment(root: Path) -> Iterator[None]:
    """Kernels started inside import funnelkit from ``root`` and draw inline figures."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "MPLBACKEND")}
    path = [str(root), *filter(None, [saved["PYTHONPATH"]])]
    os.environ["PYTHONPATH"] = os.pathsep.join(path)
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _execute(book: Any, folder: Path) -> Any:
    import nbclient

    client = nbclient.NotebookClient(
        book,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    await client.async_execute()  # raises CellExecutionError: the cell and its traceback
    return book


async def _execute_all(books: Sequence[Any], folders: Sequence[Path]) -> list[Any]:
    tasks = (_execute(b, f) for b, f in zip(books, folders, strict=True))
    return list(await asyncio.gather(*tasks, return_exceptions=True))


def execute(paths: Sequence[Path], root: Path) -> dict[str, Any]:
    """Run the notebooks ``paths`` side by side; name -> executed notebook.

    Each runs in its own temporary folder (what it writes is thrown away).
    Raises ``RuntimeError`` naming every notebook that failed, with the
    failing cell and its traceback.
    """
    books = [read(p) for p in paths]
    with tempfile.TemporaryDirectory() as tmp, kernel_environment(root):
        folders = [Path(tmp) / p.stem for p in paths]
        for folder in folders:
            folder.mkdir()
        results = asyncio.run(_execute_all(books, folders))
    failed = [
        f"notebooks/{p.name} failed:\n{r}"
        for p, r in zip(paths, results, strict=True)
        if isinstance(r, BaseException)
    ]
    if failed:
        raise RuntimeError("\n\n".join(failed))
    return {p.stem: r for p, r in zip(paths, results, strict=True)}


def _fence(text: str, lang: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _html(text: str) -> str:
    """A pandas table as plain HTML the theme styles (no inline style or classes)."""
    text = re.sub(r"<style scoped>.*?</style>", "", text, flags=re.DOTALL)
    text = re.sub(r' border="1" class="dataframe"', "", text)
    lines = [line for line in text.splitlines() if line.strip()]
    return '<div class="notebook-output">\n' + "\n".join(lines) + "\n</div>"


def _text(output: Any) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _data(output: Any, key: str) -> str:
    value = output["data"][key]
    return "".join(value) if isinstance(value, list) else str(value)


def render(book: Any, name: str) -> tuple[str, dict[str, bytes]]:
    """The markdown page of the executed notebook ``book`` and its images.

    Returns the page and ``{path: PNG bytes}``, the paths relative to the
    page's folder (``<name>/<cell>-<n>.png``). An error output raises
    ``ValueError``: an executed notebook has none.
    """
    parts = [f"<!-- generated from notebooks/{name}.py when the site was built: edit that file -->"]
    images: dict[str, bytes] = {}
    for i, cell in enumerate(book.cells):
        source = cell.source.strip("\n")
        if cell.cell_type == "markdown":
            parts.append(source)
            if i == 0:  # after the title: where the page comes from
                parts.append(
                    f"*This page is the notebook `notebooks/{name}.py`, executed when the "
                    "site was built.*"
                )
            continue
        if cell.cell_type != "code":
            continue
        parts.append(_fence(source, "python"))
        for j, out in enumerate(cell.get("outputs", [])):
            kind = out["output_type"]
            if kind == "error":
                msg = f"notebooks/{name}.py: cell {i} raised {out['ename']}: {out['evalue']}"
                raise ValueError(msg)
            if kind == "stream":
                parts.append(_fence(_text(out), "text"))
                continue
            data = out.get("data", {})
            if "image/png" in data:
                path = f"{name}/{i:02d}-{j}.png"
                images[path] = base64.b64decode(_data(out, "image/png"))
                parts.append(f"![output of cell {i}]({path})")
            elif "text/html" in data:
                parts.append(_html(_data(out, "text/html")))
            elif "text/plain" in data:
                parts.append(_fence(_data(out, "text/plain"), "text"))
    return "\n\n".join(parts) + "\n", images


def fingerprint(root: Path, paths: Sequence[Path]) -> str:
    """A digest of the notebooks and of every file of ``funnelkit/`` (their outputs depend on)."""
    digest = hashlib.sha256()
    package = sorted(p for p in (root / "funnelkit").rglob("*") if p.is_file())
    for path in [*paths, *package]:
        if "__pycache__" in path.parts:
            continue
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def require(modules: Sequence[str]) -> None:
    """Fail with the install command when a module the notebooks need is missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        msg = (
            f"the docs build executes the notebooks and needs {', '.join(missing)}: "
            "python -m pip install -e '.[docs]'"
        )
        raise ModuleNotFoundError(msg)


#: Rendered pages of the last build, by fingerprint (``mkdocs serve`` rebuilds in one process).
_RENDERED: dict[str, dict[str, tuple[str, dict[str, bytes]]]] = {}


def on_files(files: Any, config: Any) -> Any:
    """Add ``notebooks/<name>.md`` and its images for each notebook of the checkout."""
    from mkdocs.structure.files import File

    root = Path(config["config_file_path"]).resolve().parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    require(("jupytext", "nbclient", "nbformat", "ipykernel"))
    paths = notebook_paths(root)
    key = fingerprint(root, paths)
    if key not in _RENDERED:
        executed = execute(paths, root)
        _RENDERED.clear()
        _RENDERED[key] = {name: render(book, name) for name, book in executed.items()}
    for name, (page, images) in _RENDERED[key].items():
        files.append(File.generated(config, f"notebooks/{name}.md", content=page))
        for path, png in images.items():
            files.append(File.generated(config, f"notebooks/{path}", content=png))
    return files
