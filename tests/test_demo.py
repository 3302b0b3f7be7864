"""`funnelkit demo` and the command's conventions (exit codes, one-line errors).

The demo is the report's sections on the sample, computed once: what it prints
and what it writes are the same tables.
"""

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
    assert "== Win rate and reps ==" in text


def test_demo_win_rate_by_channel_matches_plain_pandas(demo_run):
    _, text, out = demo_run
    table = pd.read_csv(out / "04_win_rate_by_channel.csv")
    deals = datasets.load_sample().deals
    closed = deals[deals["status"].isin(["won", "lost"])]
    expected = (closed["status"] == "won").groupby(closed["channel"]).agg(["sum", "size"])
    assert table["channel"].tolist() == sorted(expected.index)
    for _, row in table.iterrows():
        won, n = expected.loc[row["channel"]]
        assert row["won"] == won
        assert row["win_rate"] == pytest.approx(won / n)
    assert "Win rate by channel" in text


def test_demo_runs_every_section_of_the_report_once(demo_run):
    from funnelkit._report import SECTIONS

    _, text, out = demo_run
    for i, section in enumerate(SECTIONS, start=1):
        assert text.count(f"[{i}/{len(SECTIONS)}] {section.name}") == 1
        assert text.count(f"== {section.name} ==") == 1
    assert "skipped:" not in text  # the sample has every input
    # the printed tables are the written ones: one CSV per printed title
    csvs = sorted(out.glob("*.csv"))
    assert len(csvs) >= 20


def test_demo_prints_thousands_separators(demo_run):
    _, text, _ = demo_run
    assert "4,000" in text  # leads at the first step of the funnel


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


@pytest.fixture(scope="module")
def demo_tables():
    """The demo's tables by title: its inputs through the report's sections."""
    from funnelkit import _demo
    from funnelkit._report import run_sections

    results = run_sections(_demo.sample_inputs(datasets.load_sample()))
    return {item[0]: item[1] for res in results for item in res.items}


def test_demo_deal_tables_match_plain_pandas(demo_tables):
    import numpy as np

    sample = datasets.load_sample()
    deals = sample.deals
    before = deals.copy()
    cy = demo_tables["Channel yield"]
    spend = sample.costs.groupby("channel")["cost"].sum()
    assert np.allclose(cy["cost"], spend.loc[cy["channel"]].to_numpy())
    revenue = deals[deals["status"] == "won"].groupby("channel")["amount"].sum()
    assert np.allclose(cy["won_value"], revenue.loc[cy["channel"]].to_numpy())
    assert demo_tables["Rep leaderboard"]["deals"].sum() == len(deals)
    pl = demo_tables["Open pipeline by stage"]
    assert pl["stage"].tolist() == list(sample.stages)
    assert pl["open"].sum() == (deals["status"] == "open").sum()
    conv = demo_tables["Stage-to-stage conversion"]
    # plain pandas: deals whose history reaches each stage, or a later one
    order = {s: i for i, s in enumerate(sample.stages)}
    furthest = sample.history["stage"].map(order).groupby(sample.history["deal_id"]).max()
    expected = [(furthest >= i).sum() for i in range(len(sample.stages))]
    assert conv["deals"].tolist() == expected
    revive = demo_tables["Lost deals worth reviving"]
    assert (deals.set_index("deal_id").loc[revive["deal_id"], "status"] == "lost").all()
    pd.testing.assert_frame_equal(sample.deals, before)
