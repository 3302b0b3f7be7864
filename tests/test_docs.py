"""The documentation site builds with warnings as errors (``mkdocs build --strict``).

This is how CI builds the docs: broken links, pages missing from the nav,
API-reference entries that do not resolve and unparseable docstrings all fail
the build, and so does a picture of the gallery that cannot be drawn.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT


def nav_pages() -> list[str]:
    text = (ROOT / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:") : text.index("\nmarkdown_extensions:")]
    return re.findall(r":\s*([\w\-/]+\.md)\s*$", nav, flags=re.MULTILINE)


def test_nav_lists_every_page_and_they_exist():
    pages = nav_pages()
    assert pages[0] == "index.md"
    docs = ROOT / "docs"
    on_disk = {p.relative_to(docs).as_posix() for p in docs.rglob("*.md")}  # crm/hubspot.md too
    assert on_disk <= set(pages), f"pages missing from the nav: {on_disk - set(pages)}"
    # the notebook pages are generated at build time from notebooks/<name>.py
    generated = {f"notebooks/{p.stem}.md" for p in (ROOT / "notebooks").glob("*.py")}
    missing = [p for p in pages if p not in on_disk | generated]
    assert not missing, f"nav pages that do not exist: {missing}"


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None
    or importlib.util.find_spec("mkdocstrings_handlers") is None
    or importlib.util.find_spec("material") is None,
    reason="mkdocs, mkdocs-material or mkdocstrings[python] is not installed "
    "(pip install -e '.[test]' or '.[docs]')",
)
def test_docs_build_strict(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", src / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", src / "docs")
    for folder in ("funnelkit", "tools", "notebooks"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "PYTHONPATH": str(src),
        "FUNNELKIT_GALLERY_LEADS": "800",  # the gallery's pictures from a smaller sample
    }
    out = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=src,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    # the API reference is generated from the docstrings
    assert "Write an HTML report of every analysis" in api
    pictures = (tmp_path / "site" / "pictures" / "index.html").read_text()
    # the gallery's images are drawn at build time, one PNG per plot function
    images = re.findall(r'src="\.\./img/(plot_\w+)\.png"', pictures)
    assert len(images) >= 13
    for name in images:
        png = (tmp_path / "site" / "img" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG")
    # the notebooks are executed at build time and shown with their outputs
    for page in generated_notebook_pages():
        html = (tmp_path / "site" / "notebooks" / page / "index.html").read_text()
        shown = re.findall(r'<img alt="output of cell \d+" src="([\w-]+\.png)"', html)
        assert shown, f"notebooks/{page}: no picture on the page"
        for src in shown:
            png = (tmp_path / "site" / "notebooks" / page / src).read_bytes()
            assert png.startswith(b"\x89PNG")


def generated_notebook_pages() -> list[str]:
    return sorted(p.stem for p in (ROOT / "notebooks").glob("*.py"))
