"""read_table: sniffed encodings and separators, Excel, JSON; money and date parsing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelkit as fk
from funnelkit._io import parse_amounts, parse_dates


def test_cp1251_semicolon_russian_headers_without_options(tmp_path):
    text = (
        "ID;Название сделки;Бюджет;Дата создания\r\n"
        "101;Поставка;1 234 567,50 руб.;05.01.2024 10:30:00\r\n"
        "102;Монтаж;;06.02.2024 09:05:00\r\n"
    )
    path = tmp_path / "leads.csv"
    path.write_bytes(text.encode("cp1251"))
    df = fk.read_table(path, amounts=["Бюджет"], dates=["Дата создания"])
    assert list(df.columns) == ["ID", "Название сделки", "Бюджет", "Дата создания"]
    assert df["ID"].tolist() == [101, 102]
    assert df["Название сделки"].tolist() == ["Поставка", "Монтаж"]
    assert df["Бюджет"].iloc[0] == 1234567.5
    assert np.isnan(df["Бюджет"].iloc[1])
    assert df["Дата создания"].tolist() == [
        pd.Timestamp("2024-01-05 10:30:00"),
        pd.Timestamp("2024-02-06 09:05:00"),
    ]
    # without options the money column stays text, as written
    raw = fk.read_table(path)
    assert raw["Бюджет"].iloc[0] == "1 234 567,50 руб."


def test_utf8_bom_comma_and_tab(tmp_path):
    a = tmp_path / "a.csv"
    a.write_bytes("\ufeffid,name,amount\n1,Ана,10.5\n2,Bo,\n".encode())
    df = fk.read_table(a)
    assert list(df.columns) == ["id", "name", "amount"]
    assert df["name"].tolist() == ["Ана", "Bo"]
    assert df["amount"].iloc[0] == 10.5
    b = tmp_path / "b.txt"
    b.write_text("id\tstage\n1\tnew\n2\twon\n", encoding="utf-8")
    assert fk.read_table(b)["stage"].tolist() == ["new", "won"]


def test_leading_zeros_keep_a_column_as_text(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("code,n\n007,1\n010,2\n", encoding="utf-8")
    df = fk.read_table(path)
    assert df["code"].tolist() == ["007", "010"]
    assert df["n"].tolist() == [1, 2]


def test_xlsx_written_with_openpyxl(tmp_path):
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is the [excel] extra")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ID", "Бюджет", "Дата создания", "Этап сделки"])
    ws.append([1, "150 000,00 ₽", "05.01.2024 10:30:00", "Переговоры"])
    ws.append([2, 2500.5, pd.Timestamp("2024-01-06 11:00:00").to_pydatetime(), "Новая"])
    path = tmp_path / "amocrm_export.xlsx"
    wb.save(path)
    df = fk.read_table(path, amounts=["Бюджет"], dates=["Дата создания"])
    assert df["Бюджет"].tolist() == [150000.0, 2500.5]
    assert df["Дата создания"].tolist() == [
        pd.Timestamp("2024-01-05 10:30:00"),
        pd.Timestamp("2024-01-06 11:00:00"),
    ]
    assert df["Этап сделки"].tolist() == ["Переговоры", "Новая"]


def test_json_list_wrapped_and_jsonl(tmp_path):
    recs = [{"id": 1, "properties": {"amount": "5"}}, {"id": 2, "properties": {"amount": "7"}}]
    (tmp_path / "a.json").write_text(json.dumps(recs), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"results": recs, "paging": {}}), encoding="utf-8")
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in recs), encoding="utf-8")
    (tmp_path / "d.json").write_text(json.dumps({"result": {"items": recs}}), encoding="utf-8")
    for name in ("a.json", "b.json", "c.jsonl", "d.json"):
        df = fk.read_table(tmp_path / name)
        assert df["id"].tolist() == [1, 2]
        assert df["properties.amount"].tolist() == ["5", "7"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            ["1 234 567,50 ₽", "12\u00a0300,00 ₽", "100\u202f000 руб."],
            [1234567.5, 12300.0, 100000.0],
        ),
        (["$1,234.50", "$99", "USD 2,000,000"], [1234.5, 99.0, 2000000.0]),
        (["€1.234,50", "€3,5", "1.000.000 €"], [1234.5, 3.5, 1000000.0]),
        (["8000.0", "12.5", "-3"], [8000.0, 12.5, -3.0]),
        (["", None, "1 000"], [np.nan, np.nan, 1000.0]),
    ],
)
def test_amounts(values, expected):
    got = parse_amounts(pd.Series(values, dtype="object"), where="f.csv", column="Amount")
    np.testing.assert_array_equal(got.to_numpy(), np.array(expected))


def test_bad_amount_names_the_file_column_count_and_fix(tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("id,Amount\n1,100\n2,n/a\n3,-\n", encoding="utf-8")
    with pytest.raises(
        fk.InvalidDataError, match=r"deals\.csv.*'Amount' has 2 of 3 values.*'n/a'"
    ) as e:
        fk.read_table(path, amounts=["Amount"])
    assert e.value.n_rows == 2
    assert e.value.column == "Amount"


def test_ambiguous_and_mixed_decimal_marks():
    with pytest.raises(
        fk.InvalidDataError, match=r"decimal comma or a thousands separator.*decimal="
    ):
        parse_amounts(pd.Series(["1,500", "2,000"]), where="f.csv", column="Sum")
    got = parse_amounts(pd.Series(["1,500", "2,000"]), where="f.csv", column="Sum", decimal=",")
    assert got.tolist() == [1.5, 2.0]
    with pytest.raises(fk.InvalidDataError, match=r"mixes decimal marks"):
        parse_amounts(pd.Series(["1.234,50", "1,234.50"]), where="f.csv", column="Sum")


def test_dates_iso_utc_naive_and_dotted():
    aware = parse_dates(
        pd.Series(["2024-01-05T10:30:00Z", "2024-01-05T13:30:00.000+03:00"]), where="f", column="d"
    )
    assert str(aware.dtype) == "datetime64[ns, UTC]"
    assert aware.tolist() == [pd.Timestamp("2024-01-05 10:30", tz="UTC")] * 2
    naive = parse_dates(pd.Series(["2024-01-05 10:30", "2024-01-06"]), where="f", column="d")
    assert str(naive.dtype) == "datetime64[ns]"
    dotted = parse_dates(
        pd.Series(["05.01.2024 10:30:15", "06.01.2024 10:30", "07.01.2024", ""]),
        where="f",
        column="d",
    )
    assert dotted.tolist()[:3] == [
        pd.Timestamp("2024-01-05 10:30:15"),
        pd.Timestamp("2024-01-06 10:30"),
        pd.Timestamp("2024-01-07"),
    ]
    assert pd.isna(dotted.iloc[3])


def test_slashed_dates_need_dayfirst_when_they_do_not_tell(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("d\n01/02/2024\n03/04/2024\n", encoding="utf-8")
    with pytest.raises(fk.InvalidDataError, match=r"day/month or month/day.*dayfirst"):
        fk.read_table(path, dates=["d"])
    got = fk.read_table(path, dates=["d"], dayfirst=True)["d"]
    assert got.tolist() == [pd.Timestamp("2024-02-01"), pd.Timestamp("2024-04-03")]
    # a first field above 12 decides it
    tells = parse_dates(pd.Series(["13/02/2024", "01/02/2024"]), where="f", column="d")
    assert tells.tolist() == [pd.Timestamp("2024-02-13"), pd.Timestamp("2024-02-01")]
    fmt = fk.read_table(path, dates=["d"], date_format="%m/%d/%Y")["d"]
    assert fmt.tolist() == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-03-04")]


def test_bad_and_mixed_dates():
    with pytest.raises(
        fk.InvalidDataError, match=r"'Close' has 1 of 2 values that are not dates.*'soon'"
    ):
        parse_dates(pd.Series(["2024-01-05", "soon"]), where="f.csv", column="Close")
    with pytest.raises(fk.InvalidDataError, match=r"mixes dates with a time zone"):
        parse_dates(pd.Series(["2024-01-05T10:00:00Z", "2024-01-05 10:00"]), where="f", column="d")
    with pytest.raises(fk.InvalidDataError, match=r"Numbers are not dates"):
        parse_dates(pd.Series([1704450600, 1704450601]), where="f", column="d")
    secs = parse_dates(pd.Series([1704450600]), where="f", column="d", unit="s")
    assert secs.iloc[0] == pd.Timestamp("2024-01-05 10:30", tz="UTC")


def test_file_errors(tmp_path):
    with pytest.raises(fk.FunnelkitError, match=r"no such file"):
        fk.read_table(tmp_path / "missing.csv")
    (tmp_path / "x.doc").write_text("hi", encoding="utf-8")
    with pytest.raises(fk.FunnelkitError, match=r"unknown file type '\.doc'.*\.csv"):
        fk.read_table(tmp_path / "x.doc")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(fk.FunnelkitError, match=r"bad\.json.*not valid JSON"):
        fk.read_table(tmp_path / "bad.json")
    (tmp_path / "ok.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(fk.ColumnNotFoundError, match=r"'amount' \(amounts=\).*Available columns"):
        fk.read_table(tmp_path / "ok.csv", amounts=["amount"])
    with pytest.raises(fk.InvalidParameterError, match=r"'decimal' parameter"):
        fk.read_table(tmp_path / "ok.csv", decimal=";")


def test_input_file_unchanged(tmp_path):
    path = tmp_path / "a.csv"
    raw = "id;sum\n1;1 000,50\n".encode("cp1251")
    path.write_bytes(raw)
    fk.read_table(path, amounts=["sum"])
    assert path.read_bytes() == raw


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=10**11), st.sampled_from(["ru", "us", "de"]))
def test_formatted_amounts_parse_back(cents, style):
    value = cents / 100
    us = f"{value:,.2f}"
    text = {
        "ru": us.replace(",", "\u00a0").replace(".", ",") + " ₽",
        "us": "$" + us,
        "de": "€" + us.replace(",", "_").replace(".", ",").replace("_", "."),
    }[style]
    got = parse_amounts(pd.Series([text]), where="f", column="a")
    assert got.iloc[0] == pytest.approx(value, rel=0, abs=1e-6)
