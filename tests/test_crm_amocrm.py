"""read_amocrm on a cp1251 export with Russian headers, an .xlsx export and API v4 JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk

DATA = Path(__file__).parent / "data" / "crm"
T = pd.Timestamp
STAGES = ("Неразобранное", "Первичный контакт", "Переговоры")


def test_cp1251_export_with_russian_headers():
    raw = (DATA / "amocrm_leads.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the fixture really is cp1251
    data = fk.crm.read_amocrm(DATA / "amocrm_leads.csv", pipelines=DATA / "amocrm_pipelines.json")
    d = data.deals
    assert d["deal_id"].tolist() == [5001, 5002, 5003]
    assert d["status"].tolist() == ["won", "lost", "open"]
    np.testing.assert_array_equal(d["amount"].to_numpy(), [1234567.5, 45000.0, np.nan])
    assert d["currency"].tolist() == ["RUB", "RUB", None]
    assert d["created_at"].tolist() == [
        T("2024-01-05 10:30"),
        T("2024-01-06 11:00"),
        T("2024-01-07"),
    ]
    assert d["closed_at"].tolist()[:2] == [T("2024-01-20 18:00"), T("2024-01-12 09:15")]
    assert pd.isna(d["closed_at"].iloc[2])
    assert d["owner"].tolist() == ["Иван Петров", "Мария Соколова", "Иван Петров"]
    assert d["channel"].tolist() == ["yandex", "google", None]
    assert d["lost_reason"].tolist() == [None, "Дорого", None]
    assert d["stage"].tolist() == [None, None, "Переговоры"]
    assert d["pipeline"].tolist() == ["Продажи"] * 3
    assert data.stages == STAGES
    assert data.history.empty


def test_xlsx_export_with_english_headers(tmp_path):
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is the [excel] extra")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(
        [
            "ID",
            "Lead title",
            "Budget",
            "Pipeline",
            "Stage",
            "Responsible user",
            "Date created",
            "Closed at",
        ]
    )
    ws.append(
        [
            11,
            "A",
            2500,
            "Продажи",
            "Closed - won",
            "Kim",
            "05.01.2024 10:30:00",
            "08.01.2024 12:00:00",
        ]
    )
    ws.append([12, "B", None, "Продажи", "Переговоры", "Lee", "06.01.2024 10:30:00", None])
    path = tmp_path / "kommo_leads.xlsx"
    wb.save(path)
    data = fk.crm.read_crm("kommo", path, stages=DATA / "amocrm_pipelines.json")
    d = data.deals
    assert d["status"].tolist() == ["won", "open"]
    np.testing.assert_array_equal(d["amount"].to_numpy(), [2500.0, np.nan])
    assert d["closed_at"].iloc[0] == T("2024-01-08 12:00")
    assert d["owner"].tolist() == ["Kim", "Lee"]


def test_api_leads_and_events():
    data = fk.crm.read_amocrm(
        DATA / "amocrm_leads_api.json",
        events=DATA / "amocrm_events.json",
        pipelines=DATA / "amocrm_pipelines.json",
    )
    d = data.deals
    assert d["deal_id"].tolist() == [7001, 7002, 7003]
    assert d["status"].tolist() == ["won", "lost", "open"]
    assert d["amount"].tolist() == [10000.0, 0.0, 5000.0]
    assert d["created_at"].iloc[0] == T("2024-01-05 10:30", tz="UTC")
    assert d["closed_at"].tolist()[:2] == [
        T("2024-01-20 16:00", tz="UTC"),
        T("2024-01-10 10:00", tz="UTC"),
    ]
    assert pd.isna(d["closed_at"].iloc[2])
    assert d["lost_reason"].tolist() == [None, "Дорого", None]
    assert d["stage"].tolist() == ["Переговоры", "Неразобранное", "Переговоры"]
    assert data.stages == STAGES
    expected = pd.DataFrame(
        {
            "deal_id": [7001, 7001, 7002, 7003],
            "stage": ["Первичный контакт", "Переговоры", "Неразобранное", "Переговоры"],
            "entered_at": pd.to_datetime(
                ["2024-01-05 10:30", "2024-01-10 09:30", "2024-01-06 10:30", "2024-01-07 10:30"]
            ).tz_localize("UTC"),
            "pipeline": "Продажи",
        }
    )
    # the readers' dtypes on every pandas version: text as object, dates in ns (a frame
    # built from lists holds pandas 3's str and, from parsed strings, datetime64[us])
    expected = expected.astype(
        {"stage": "object", "pipeline": "object", "entered_at": "datetime64[ns, UTC]"}
    )
    pd.testing.assert_frame_equal(data.history, expected)


def test_ui_times_and_api_events_need_the_time_zone():
    events = [
        {"type": "lead_status_changed", "entity_id": 5003, "created_at": 1704879000,
         "value_before": [{"lead_status": {"id": 32392159, "pipeline_id": 3177727}}],
         "value_after": [{"lead_status": {"id": 32392162, "pipeline_id": 3177727}}]},
    ]  # fmt: skip
    kw = {"events": events, "pipelines": DATA / "amocrm_pipelines.json"}
    with pytest.raises(fk.InvalidParameterError, match=r"local times.*UTC instants.*timezone="):
        fk.crm.read_amocrm(DATA / "amocrm_leads.csv", **kw)
    data = fk.crm.read_amocrm(DATA / "amocrm_leads.csv", timezone="Europe/Moscow", **kw)
    h = data.history
    assert h["entered_at"].tolist() == [T("2024-01-07"), T("2024-01-10 12:30")]  # UTC+3
    assert h["stage"].tolist() == ["Первичный контакт", "Переговоры"]


def test_errors():
    df = fk.read_table(DATA / "amocrm_leads.csv")
    with pytest.raises(fk.ColumnNotFoundError, match=r"no stage \(Этап сделки\) column.*amoCRM"):
        fk.crm.read_amocrm(df.drop(columns="Этап сделки"))
    bad = df.assign(Бюджет=["много", "1", ""])
    with pytest.raises(
        fk.InvalidDataError, match=r"'Бюджет' has 1 of 3 values that are not amounts.*'много'"
    ):
        fk.crm.read_amocrm(bad, pipelines=DATA / "amocrm_pipelines.json")
    with pytest.raises(
        fk.InvalidParameterError, match=r"'pipeline' parameter of read_amocrm.*Продажи"
    ):
        fk.crm.read_amocrm(df, pipelines=DATA / "amocrm_pipelines.json", pipeline="Опт")
