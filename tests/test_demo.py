"""`funnelkit demo` and the command's conventions (exit codes, one-line errors)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from funnelkit import datasets
from funnelkit.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["demo", "--out", str(out)])
    return code, buf.getvalue(), out


def test_demo_exits_zero_and_names_its_folder(demo_run):
    code, text, out = demo_run
    assert code == 0
    assert str(out.resolve()) in text
    assert "Deals by stage and status" in text


def test_demo_overview_matches_plain_pandas(demo_run):
    _, _, out = demo_run
    table = pd.read_csv(out / "deals_by_stage_and_status.csv")
    deals = datasets.load_sample().deals
    for _, row in table.iterrows():
        sel = deals[deals["stage"] == row["stage"]]
        for status in ("won", "lost", "open"):
            assert row[status] == (sel["status"] == status).sum()
    assert table["stage"].tolist() == list(datasets.STAGES)


def test_demo_prints_thousands_separators(demo_run):
    _, text, _ = demo_run
    assert "4,000" in text  # lead generation events


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert "funnelkit 0.1.0" in capsys.readouterr().out
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_error_is_one_line_not_a_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = subprocess.run(
        [sys.executable, "-m", "funnelkit", "demo", "--out", str(blocker / "sub")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert out.stderr.startswith("funnelkit: error:")
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_demo_writes_the_html_report(demo_run):
    """`funnelkit demo` writes DIR/report.html: every section, pictures embedded as PNG."""
    import base64
    import re

    _, text, out = demo_run
    page = (out / "report.html").read_text(encoding="utf-8")
    for name in ("Pipeline now", "Funnel and drop-off", "Revenue plan"):
        assert f"{name}</h2>" in page
    assert "<script" not in page.lower()
    assert not re.search(r'(src|href)="(https?:)?//', page)  # self-contained
    for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        assert base64.b64decode(data).startswith(b"\x89PNG")
    assert "[9/9] Revenue plan" in text
    assert str((out / "report.html").resolve()) in text
