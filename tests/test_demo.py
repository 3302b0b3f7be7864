"""`funnelkit demo` and the command's conventions (exit codes, one-line errors).

The demo is the report's sections on the sample, computed once: what it prints
and what it writes are the same tables.
"""

from __future__ import annotations

import re
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
    # one funnel: retention (entered only by won deals, after the sale) is not a stage of it
    funnel = [s for s in sample.stages if s != "retention"]
    assert pl["stage"].tolist() == funnel
    assert pl["open"].sum() == (deals["status"] == "open").sum()
    conv = demo_tables["Stage-to-stage conversion"]
    # plain pandas: deals whose history reaches each stage, or a later one
    order = {s: i for i, s in enumerate(funnel)}
    furthest = sample.history["stage"].map(order).groupby(sample.history["deal_id"]).max()
    expected = [(furthest >= i).sum() for i in range(len(funnel))]
    assert conv["deals"].tolist() == expected
    revive = demo_tables["Lost deals worth reviving"]
    assert (deals.set_index("deal_id").loc[revive["deal_id"], "status"] == "lost").all()
    pd.testing.assert_frame_equal(sample.deals, before)


def test_demo_fits_100_columns_and_points_to_the_report(tmp_path, monkeypatch):
    import contextlib
    import io

    monkeypatch.chdir(tmp_path)  # a short relative --out, as a user would type it
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["demo", "--out", "demo"]) == 0
    lines = buf.getvalue().splitlines()
    too_long = [line for line in lines if len(line) > 100]
    assert not too_long, too_long[:3]
    assert "demo/report.html" in lines[-1].replace("\\", "/")
    assert any("more rows in report.html" in line for line in lines)
    # one funnel and one target in the whole run
    found = [re.findall(r"target (?:of )?(\d[\d,]*\d)", line) for line in lines]
    targets = {t for ts in found for t in ts}
    assert targets == {"1,000,000"}
    funnels = [line for line in lines if line.startswith("Funnel:")]
    assert len(funnels) == 1


def test_demo_refuses_to_replace_files_it_did_not_write(tmp_path, capsys):
    (tmp_path / "report.html").write_text("mine", encoding="utf-8")
    assert main(["demo", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "--force" in err
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == "mine"


def test_demo_report_prints_on_a4_without_hidden_columns(demo_run):
    from funnelkit._report import MAX_BLOCK_COLUMNS

    _, _, out = demo_run
    page = (out / "report.html").read_text(encoding="utf-8")
    css = page[page.index("<style>") : page.index("</style>")]
    assert re.search(r"@page\s*\{\s*size:\s*A4", css)
    assert "overflow-x" not in css  # nothing scrolls sideways
    assert re.search(r"th, td \{[^}]*white-space: normal", css)  # text wraps in its cell
    tables = re.findall(r"<table[^>]*>.*?</table>", page, flags=re.S)
    assert len(tables) > 20
    for table in tables:
        for row in re.findall(r"<tr>.*?</tr>", table, flags=re.S):
            assert row.count("<td") + row.count("<th") <= MAX_BLOCK_COLUMNS
    # every column of every table is in the page: the channel yield's cost and ROI,
    # the leaderboard's open value, the plan's dates, the coverage verdict
    for name in ("roi", "cost_per_won", "open_value", "enter_by", "time_left"):
        assert f">{name}</th>" in page.replace("<wbr>", "")
    assert '<p class="verdict">' in page
    assert "verdict</th>" not in page
    titles = re.findall(r"<h3>([^<]+)</h3>", page)
    assert "Where leads drop off" in titles
    assert not [t for t in titles if "entities" in t]
    assert ">entities</th>" not in page
