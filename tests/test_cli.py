"""The ``funnelkit`` command line: ``plan`` (and ``demo`` still working).

Exit codes: 0 success, 1 a funnelkit error (one line on stderr), 2 a usage
error (argparse).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest

import funnelkit as fk
from funnelkit._format import format_frame
from funnelkit.cli import main

from .conftest import ROOT

#: The terminal width every line of the command fits.
WIDTH = 100

PLAN = ["plan", "--target", "1000000", "--avg-deal", "50000", "--win-rate", "0.25"]


def unwrap(text):
    """A sentence wrapped for the terminal, back on one line."""
    return " ".join(line.strip() for line in text.splitlines())


def run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plan_prints_the_table_and_one_sentence(capsys):
    code, out, err = run(capsys, [*PLAN, "--stage-rates", "lead=0.3,qualified=0.5"])
    assert code == 0
    assert err == ""
    expected = fk.deals_needed(
        1_000_000,
        avg_deal=50_000,
        win_rate=0.25,
        stage_rates={"lead": 0.3, "qualified": 0.5},
        confidence=0.9,
    )
    table, sentence = out.rstrip("\n").split("\n\n")
    assert table == format_frame(expected, width=WIDTH)  # narrow enough for one block
    lines = table.splitlines()
    assert lines[0].split() == [
        "stage",
        "conversion",
        "needed",
        "needed_for_confidence",
        "p_hit_target",
    ]
    # lead: 160 / 0.3 -> 534 in the expected-value plan
    assert lines[1].split()[:3] == ["lead", "30.0%", "534"]
    # one sentence, wrapped to the terminal width
    assert all(len(line) <= WIDTH for line in sentence.splitlines())
    p = expected["p_hit_target"].iloc[0]
    assert unwrap(sentence) == (
        f"The expected-value plan (534 deals at lead) reaches 1,000,000 with probability "
        f"{p:.0%}; needed_for_confidence ({expected['needed_for_confidence'].iloc[0]:,} at "
        f"lead) reaches it with probability at least 90%."
    )


def test_plan_confidence_and_no_stage_rates(capsys):
    code, out, _ = run(capsys, [*PLAN, "--confidence", "0.5"])
    assert code == 0
    expected = fk.deals_needed(1_000_000, avg_deal=50_000, win_rate=0.25, confidence=0.5)
    assert out.startswith(format_frame(expected, width=WIDTH))
    assert "at least 50%" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [*PLAN[:-1], "1.5"],
            "The 'win_rate' parameter of deals_needed must be a number in (0, 1]",
        ),
        ([*PLAN, "--confidence", "1"], "The 'confidence' parameter of deals_needed"),
        (["plan", "--target", "-1", "--avg-deal", "5", "--win-rate", "0.2"], "'target' parameter"),
        ([*PLAN, "--stage-rates", "lead=0"], "Got 0.0 for stage 'lead'"),
    ],
)
def test_plan_errors_are_one_line_exit_1(capsys, argv, message):
    code, out, err = run(capsys, argv)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("funnelkit: error: ")
    assert message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--avg-deal", "5", "--win-rate", "0.2"], "--target"),
        (["plan", "--target", "100", "--avg-deal", "5"], "give --avg-deal and --win-rate"),
        (["plan", "--target", "1e6x", "--avg-deal", "5", "--win-rate", "0.2"], "--target"),
        ([*PLAN, "--stage-rates", "lead:0.3"], "expected stage=rate pairs"),
        ([*PLAN, "--stage-rates", "lead=0.3,lead=0.2"], "each stage once"),
        ([*PLAN, "--history", "h.csv"], "--history needs --deals"),
        ([*PLAN, "--columns", "deal=id"], "--columns needs --deals"),
        (["plan", "--target", "1", "--deals", "d.csv", "--columns", "time=t,time=u"], "twice"),
        (["plan", "--target", "1", "--deals", "d.csv", "--win-rate", "0.2"], "cannot be combined"),
        (["plan", "--target", "1", "--deals", "d.csv", "--stages", "a,b"], "--stages needs"),
        (["plan", "--target", "1", "--deals", "d.csv", "--columns", "deal"], "ROLE=COLUMN"),
        (["plan", "--target", "1", "--deals", "d.csv", "--columns", "user=id"], "unknown role"),
    ],
)
def test_plan_usage_errors_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: funnelkit plan" in err
    assert message in err


@pytest.fixture(scope="module")
def sample():
    return fk.datasets.load_sample()


def test_plan_from_a_csv_export(capsys, tmp_path, sample):
    path = tmp_path / "deals.csv"
    sample.deals.to_csv(path, index=False)
    hist = tmp_path / "history.csv"
    sample.history.to_csv(hist, index=False)
    stages = list(sample.stages[:-1])
    argv = [
        "plan",
        "--deals",
        str(path),
        "--history",
        str(hist),
        "--stages",
        ",".join(stages),
        "--target",
        "2000000",
        "--period-end",
        "2025-10-01",
        "--as-of",
        "2025-06-30",
    ]
    code, out, err = run(capsys, argv)
    assert code == 0, err
    expected = fk.plan(
        pd.read_csv(path),
        2_000_000,
        history=pd.read_csv(hist),
        stages=stages,
        period_end="2025-10-01",
        as_of="2025-06-30",
    )
    assert out.startswith(format_frame(expected, width=WIDTH))
    assert "reaches 2,000,000 with probability" in out
    sentences = unwrap(out.rstrip("\n").split("\n\n")[-1])
    total = expected["open_expected"].sum()
    assert sentences.endswith(
        f"The 230 open deals are expected to bring {total:,.0f} ({total / 2e6:.0%} of the "
        f"target) by the end of the period; the needed columns count new deals for the rest."
    )


def test_plan_from_parquet_with_other_column_names(capsys, tmp_path, sample):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (in the test extra)")
    deals = sample.deals.rename(columns={"deal_id": "id", "amount": "amount_usd"})
    deals["status"] = deals["status"].map({"won": "Won", "lost": "Lost", "open": "Open"})
    path = tmp_path / "deals.parquet"
    deals.to_parquet(path)
    argv = ["plan", "--deals", str(path), "--target", "500000", "--period-end", "2025-10-01"]
    code, out, _ = run(capsys, [*argv, "--columns", "deal=id,amount=amount_usd,won=Won,lost=Lost"])
    assert code == 0
    expected = fk.plan(
        deals,
        500_000,
        period_end="2025-10-01",
        deal="id",
        amount="amount_usd",
        won="Won",
        lost="Lost",
    )
    assert out.startswith(format_frame(expected, width=WIDTH))
    # a column left out: one line naming the file, the hint spelled for the command line
    code, out, err = run(capsys, [*argv, "--columns", "deal=id,won=Won,lost=Lost"])
    assert code == 1
    assert err == (
        f"funnelkit: error: {path}: Column 'amount' (amount=) not found in deals. Available "
        f"columns: {list(deals.columns)!r}. Hint: pass --columns amount=amount_usd.\n"
    )


def test_plan_bad_files_exit_1(capsys, tmp_path):
    code, _, err = run(capsys, ["plan", "--deals", str(tmp_path / "nope.csv"), "--target", "1"])
    assert code == 1
    assert err == (
        f"funnelkit: error: cannot read the deals file '{tmp_path / 'nope.csv'}': "
        f"No such file or directory\n"
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = run(capsys, ["plan", "--deals", str(empty), "--target", "1"])
    assert code == 1
    assert err.startswith(f"funnelkit: error: cannot read the deals file '{empty}': ")
    assert err.count("\n") == 1
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    code, _, err = run(capsys, ["plan", "--deals", str(broken), "--target", "1"])
    assert code == 1
    assert err.startswith(f"funnelkit: error: cannot read the deals file '{broken}': ")
    assert err.count("\n") == 1
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "deal_id,created_at,closed_at,status,amount\n"
        "a,2025-01-01,2025-02-01,won,ten\n"
        "b,2025-01-02,,open,5\n"
    )
    code, _, err = run(capsys, ["plan", "--deals", str(bad), "--target", "1"])
    assert code == 1
    assert err.startswith(f"funnelkit: error: {bad}: deals['amount'] has 1 of 2 rows that are not")


def test_plan_warnings_print_as_one_line(capsys, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text(
        "deal_id,created_at,closed_at,status,amount\n"
        "a,2025-01-01,2025-02-01,won,100\n"
        "b,,2025-02-01,lost,100\n"
        "c,2025-01-03,2025-02-11,lost,100\n"
    )
    code, out, err = run(capsys, ["plan", "--deals", str(path), "--target", "1000"])
    assert code == 0
    assert err == (
        "funnelkit: warning: plan: left out 1 of 3 rows because they have no created date.\n"
    )
    assert "opportunity" in out


def test_plan_old_deal_size_flag_works_for_one_release(capsys):
    old = [*PLAN[:3], "--deal-size", *PLAN[4:], "--stage-rates", "lead=0.3,qualified=0.5"]
    assert old[3:5] == ["--deal-size", "50000"]
    code, out, err = run(capsys, old)
    assert code == 0
    assert err == (
        "funnelkit: warning: --deal-size is now spelled --avg-deal; --deal-size will stop "
        "working in the next release.\n"
    )
    # the same plan as the new spelling, and as the library with 50,000 per won deal
    new_code, new_out, new_err = run(capsys, [*PLAN, "--stage-rates", "lead=0.3,qualified=0.5"])
    assert (new_code, new_err) == (0, "")
    assert out == new_out
    # lead: 1,000,000 / 50,000 = 20 wins -> 80 opportunities -> 160 qualified -> 534 leads
    assert out.splitlines()[1].split()[:3] == ["lead", "30.0%", "534"]


@pytest.mark.parametrize(
    "flags",
    [
        ["--avg-deal", "5", "--deal-size", "5"],
        ["--deal-size", "5", "--avg-deal", "5"],
    ],
)
def test_plan_both_spellings_of_avg_deal_is_a_usage_error(capsys, flags):
    with pytest.raises(SystemExit) as info:
        main(["plan", "--target", "100", *flags, "--win-rate", "0.2"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: funnelkit plan" in err
    assert "give --avg-deal only (--deal-size is its old spelling)" in err


def test_plan_help_marks_deal_size_deprecated(capsys):
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--avg-deal AMOUNT average won-deal amount" in help_text
    assert "--deal-size AMOUNT deprecated, use --avg-deal" in help_text


def test_plan_old_flag_with_deals_is_still_refused(capsys):
    with pytest.raises(SystemExit) as info:
        main(["plan", "--target", "1", "--deals", "d.csv", "--deal-size", "5"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("funnelkit: warning: --deal-size is now spelled --avg-deal;")
    assert "--avg-deal cannot be combined with --deals" in err


def test_python_dash_m_funnelkit_plan():
    args = [sys.executable, "-m", "funnelkit", *PLAN, "--stage-rates", "lead=0.3,qualified=0.5"]
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].split()[:3] == ["lead", "30.0%", "534"]
    assert "Traceback" not in out.stderr


def test_demo_still_works(capsys, tmp_path):
    code = main(["demo", "--out", str(tmp_path)])
    assert code == 0
    assert "funnelkit demo" in capsys.readouterr().out


def test_demo_force_replaces_a_file_it_did_not_write(capsys, tmp_path):
    (tmp_path / "report.html").write_text("mine", encoding="utf-8")
    (tmp_path / "keep.txt").write_text("other", encoding="utf-8")
    assert main(["demo", "--out", str(tmp_path), "--force"]) == 0
    assert "Pipeline now" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "other"  # not its file


def test_plan_prints_durations_in_days(capsys, tmp_path, sample):
    path = tmp_path / "deals.csv"
    sample.deals.to_csv(path, index=False)
    code = main(["plan", "--target", "300000", "--deals", str(path), "--period-end", "2025-10-01"])
    out = capsys.readouterr().out
    assert code == 0
    (block,) = [b for b in out.split("\n\n") if "time_to_close" in b.splitlines()[0]]
    header, *rows = block.splitlines()
    at = header.index("time_to_close")
    cells = [row[at : at + len("time_to_close")].strip() for row in rows]
    assert cells
    assert all(c.endswith(" d") for c in cells), cells  # one unit: days


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "plan" in capsys.readouterr().out


def test_plan_columns_use_the_roles_of_every_subcommand(capsys, tmp_path, sample):
    """`--columns` of plan is the report's: `entered=` names the history's entry time."""
    deals = sample.deals.rename(columns={"deal_id": "opportunity"})
    history = sample.history.rename(columns={"deal_id": "opportunity", "entered_at": "entered"})
    deals.to_csv(tmp_path / "d.csv", index=False)
    history.to_csv(tmp_path / "h.csv", index=False)
    stages = list(sample.stages[:-1])
    argv = [
        "plan",
        "--deals",
        str(tmp_path / "d.csv"),
        "--history",
        str(tmp_path / "h.csv"),
        "--stages",
        ",".join(stages),
        "--target",
        "1000000",
        "--period-end",
        "2025-10-01",
    ]
    # roles plan does not read (entity, ...) are ignored: one mapping serves every command
    code, out, err = run(capsys, [*argv, "--columns", "deal=opportunity,entered=entered,entity=x"])
    assert code == 0, err
    expected = fk.plan(
        pd.read_csv(tmp_path / "d.csv"),
        1_000_000,
        history=pd.read_csv(tmp_path / "h.csv"),
        stages=stages,
        period_end="2025-10-01",
        deal="opportunity",
        entered="entered",
    )
    assert out.startswith(format_frame(expected, width=WIDTH))
    code, out, err = run(capsys, [*argv, "--columns", "deal=opportunity"])
    assert code == 1
    assert "'entered_at' (entered=) not found in history" in err
    assert "Hint: pass --columns entered=entered." in err


def parse_cell(cell):
    """A printed cell as (value, half of its last printed digit): %, days, dates, numbers."""
    if cell == "–":
        return None, 0.0
    if re.fullmatch(r"\d{4}-\d\d-\d\d( \d\d:\d\d)?", cell):
        return pd.Timestamp(cell), pd.Timedelta(minutes=1)
    scale = 1.0
    if cell.endswith("%"):
        cell, scale = cell[:-1], 0.01
    elif cell.endswith(" d"):
        cell = cell[:-2]
    digits = len(cell.partition(".")[2])
    return float(cell.replace(",", "")) * scale, 0.5 * 10.0**-digits * scale + 1e-12


def printed_table(out):
    """The column blocks of the printed plan as {column: [cells]}, and the stage of each row."""
    blocks = out.rstrip("\n").split("\n\n")[:-1]  # the last paragraph is the sentences
    columns: dict[str, list[str]] = {}
    stages = None
    for block in blocks:
        header, *rows = [re.split(r" {2,}", line.strip()) for line in block.splitlines()]
        assert all(len(r) == len(header) for r in rows), block
        assert header[0] == "stage"  # every block repeats the key column
        keys = [r[0] for r in rows]
        assert stages is None or keys == stages
        stages = keys
        for j, name in enumerate(header[1:], start=1):
            assert name not in columns, f"{name} printed twice"
            columns[name] = [r[j] for r in rows]
    return stages, columns


def plan_invocations(tmp_path, sample):
    deals, hist = tmp_path / "deals.csv", tmp_path / "history.csv"
    sample.deals.to_csv(deals, index=False)
    sample.history.to_csv(hist, index=False)
    stages = list(sample.stages[:-1])
    rates = {"lead": 0.3, "qualified": 0.5}
    return [
        (PLAN, lambda: fk.deals_needed(1e6, avg_deal=50_000, win_rate=0.25, confidence=0.9)),
        (
            [*PLAN, "--stage-rates", "lead=0.3,qualified=0.5"],
            lambda: fk.deals_needed(
                1e6, avg_deal=50_000, win_rate=0.25, stage_rates=rates, confidence=0.9
            ),
        ),
        (
            ["plan", "--deals", str(deals), "--target", "1000000"],
            lambda: fk.plan(pd.read_csv(deals), 1_000_000),
        ),
        (
            [
                "plan", "--deals", str(deals), "--history", str(hist), "--stages",
                ",".join(stages), "--target", "2000000", "--period-end", "2025-10-01",
            ],
            lambda: fk.plan(
                pd.read_csv(deals), 2_000_000, history=pd.read_csv(hist), stages=stages,
                period_end="2025-10-01",
            ),
        ),
    ]  # fmt: skip


def test_plan_fits_100_columns_and_prints_every_number(capsys, tmp_path, sample):
    for argv, compute in plan_invocations(tmp_path, sample):
        code, out, err = run(capsys, argv)
        assert code == 0, err
        wide = [line for line in out.splitlines() if len(line) > WIDTH]
        assert not wide, f"{argv}: lines wider than {WIDTH}: {wide}"
        expected = compute()
        stages, columns = printed_table(out)
        assert stages == [str(s) for s in expected["stage"]]
        # every column of the result is printed, none left out and none added
        assert list(columns) == [c for c in expected.columns if c != "stage"]
        for name, cells in columns.items():
            for cell, value in zip(cells, expected[name], strict=True):
                got, tol = parse_cell(cell)
                if got is None:
                    assert pd.isna(value), (name, cell, value)
                elif isinstance(got, pd.Timestamp):
                    assert abs(got - value) <= tol, (name, cell, value)
                else:
                    want = (
                        value / pd.Timedelta(days=1) if isinstance(value, pd.Timedelta) else value
                    )
                    assert abs(got - float(want)) <= tol, (name, cell, value)
