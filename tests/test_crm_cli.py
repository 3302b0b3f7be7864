"""``funnelkit report`` and ``funnelkit plan`` with ``--crm`` and the plain-file options."""

from __future__ import annotations

import pytest

import funnelkit as fk
from funnelkit._format import format_frame
from funnelkit.cli import main

#: The terminal width the command's table fits.
WIDTH = 100


def run(capsys, argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def pipedrive(tmp_path_factory):
    return fk.datasets.export_sample("pipedrive", tmp_path_factory.mktemp("pd"), n_leads=400)


def test_plan_with_crm_files_equals_plan_on_the_read_tables(capsys, pipedrive):
    argv = ["plan", "--target", "300000", "--crm", "pipedrive", "--deals", pipedrive["deals"],
            "--history", pipedrive["history"], "--stage-metadata", pipedrive["stages"],
            "--period-end", "2025-10-01"]  # fmt: skip
    code, out, err = run(capsys, argv)
    assert code == 0, err
    data = fk.crm.read_pipedrive(
        pipedrive["deals"], flow=pipedrive["history"], stages=pipedrive["stages"]
    )
    expected = fk.plan(
        data.deals,
        300_000,
        history=data.history,
        stages=list(data.stages),
        period_end="2025-10-01",
        confidence=0.9,
        seed=0,
    )
    assert out.startswith(format_frame(expected, width=WIDTH))


def test_report_with_crm_bitrix24(capsys, tmp_path):
    paths = fk.datasets.export_sample("bitrix24", tmp_path / "export", n_leads=300)
    argv = ["report", "--crm", "bitrix24", "--deals", paths["deals"],
            "--history", paths["history"], "--stage-metadata", paths["stages"],
            "--out", tmp_path / "rep"]  # fmt: skip
    code, out, err = run(capsys, argv)
    assert code == 0, err
    assert (tmp_path / "rep" / "report.html").is_file()
    assert "Reading deals" in out


def test_plain_cp1251_semicolon_file_with_dayfirst(capsys, tmp_path):
    sample = fk.datasets.load_sample(n_leads=400)
    d = sample.deals[["deal_id", "created_at", "closed_at", "status", "amount"]].copy()
    for c in ("created_at", "closed_at"):
        d[c] = d[c].dt.strftime("%d/%m/%Y %H:%M:%S")
    path = tmp_path / "deals.csv"
    d.to_csv(path, sep=";", index=False, encoding="cp1251")
    argv = ["plan", "--target", "300000", "--deals", path, "--sep", ";", "--encoding", "cp1251",
            "--dayfirst", "--period-end", "2025-10-01"]  # fmt: skip
    code, out, err = run(capsys, argv)
    assert code == 0, err
    expected = fk.plan(sample.deals, 300_000, period_end="2025-10-01", confidence=0.9, seed=0)
    assert out.startswith(format_frame(expected, width=WIDTH))


def test_usage_errors(capsys, pipedrive):
    with pytest.raises(SystemExit) as e:
        main(["plan", "--target", "1", "--deals", str(pipedrive["deals"]), "--pipeline", "x"])
    assert e.value.code == 2
    assert "--pipeline needs --crm" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plan", "--target", "1", "--crm", "zoho", "--deals", "x.csv"])
    assert "invalid choice: 'zoho'" in capsys.readouterr().err


def test_wrong_crm_is_one_clear_line(capsys, pipedrive):
    code, _, err = run(
        capsys, ["plan", "--target", "300000", "--crm", "hubspot", "--deals", pipedrive["deals"]]
    )
    assert code == 1
    assert err.startswith("funnelkit: error: --crm hubspot:")
    assert "Is this a HubSpot file?" in err
    assert "Traceback" not in err
