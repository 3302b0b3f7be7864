"""read_bitrix24 on a cp1251 export with Russian headers, crm.deal.list and stage history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk

DATA = Path(__file__).parent / "data" / "crm"
T = pd.Timestamp


def test_ui_export_with_stage_history_and_status_list():
    data = fk.crm.read_bitrix24(
        DATA / "bitrix24_deals.csv",
        history=DATA / "bitrix24_stagehistory.json",
        stages=DATA / "bitrix24_status_list.json",
    )
    d = data.deals
    assert d["deal_id"].tolist() == [201, 202, 203]
    assert d["status"].tolist() == ["won", "lost", "open"]
    np.testing.assert_array_equal(d["amount"].to_numpy(), [1250000.0, 80000.0, np.nan])
    assert d["currency"].tolist() == ["RUB", "RUB", "USD"]
    assert d["closed_at"].tolist()[:2] == [T("2024-01-25 17:30"), T("2024-01-15 12:00")]
    assert pd.isna(d["closed_at"].iloc[2])
    # the close date of an open deal is only expected
    assert d["expected_close"].tolist()[2] == T("2024-03-31")
    assert d["expected_close"].iloc[:2].isna().all()
    assert d["lost_reason"].tolist() == [None, "Нет бюджета", None]
    assert d["stage"].tolist() == ["Подготовка документов", "Новая", "Подготовка документов"]
    assert data.stages == ("Новая", "Подготовка документов")
    expected = pd.DataFrame(
        {
            "deal_id": [201, 201, 202, 203, 203],
            "stage": ["Новая", "Подготовка документов", "Новая", "Новая", "Подготовка документов"],
            # the portal's offsets next to a local export: wall time as written
            "entered_at": pd.to_datetime(
                [
                    "2024-01-10 09:00",
                    "2024-01-15 14:00",
                    "2024-01-11 10:00",
                    "2024-01-12 11:00",
                    "2024-01-13 08:00",
                ]
            ),
            "pipeline": "Общая",
        }
    )
    # the readers' dtypes on every pandas version: text as object, dates in ns (a frame
    # built from lists holds pandas 3's str and, from parsed strings, datetime64[us])
    expected = expected.astype(
        {"stage": "object", "pipeline": "object", "entered_at": "datetime64[ns]"}
    )
    pd.testing.assert_frame_equal(data.history, expected)


def test_deal_list_with_prefixed_stages_and_two_pipelines():
    src = DATA / "bitrix24_deal_list.json"
    stages = DATA / "bitrix24_status_list.json"
    with pytest.raises(
        fk.InvalidParameterError, match=r"2 pipelines.*'2' \(2 deals\).*'0' \(1 deals\).*pipeline="
    ):
        fk.crm.read_bitrix24(src, stages=stages)
    data = fk.crm.read_bitrix24(src, stages=stages, pipeline="2")
    d = data.deals
    assert d["deal_id"].tolist() == [301, 302]
    assert d["status"].tolist() == ["won", "open"]
    assert d["amount"].tolist() == [50000.0, 0.0]
    assert d["created_at"].iloc[0] == T("2024-02-01 07:00", tz="UTC")
    assert d["closed_at"].iloc[0] == T("2024-02-10 15:00", tz="UTC")
    assert d["expected_close"].iloc[1] == T("2024-02-29 21:00", tz="UTC")
    assert d["stage"].tolist() == [None, "Замер"]
    assert data.stages == ("Заявка", "Замер")
    other = fk.crm.read_bitrix24(src, stages=stages, pipeline="0")
    assert other.deals["status"].tolist() == ["lost"]  # APOLOGY is a failure
    assert other.stages == ("Новая", "Подготовка документов")


def test_without_stage_list_the_codes_after_the_prefix_decide():
    deals = pd.DataFrame(
        {
            "ID": [1, 2, 3, 4],
            "STAGE_ID": ["C14:WON", "C14:LOSE", "C14:APOLOGY", "C14:NEW"],
            "DATE_CREATE": ["2024-02-01T10:00:00+03:00"] * 4,
            "CLOSEDATE": ["2024-02-05T10:00:00+03:00"] * 4,
            "CLOSED": ["Y", "Y", "Y", "N"],
        }
    )
    with pytest.warns(fk.FunnelkitWarning, match=r"stage order is unknown"):
        data = fk.crm.read_bitrix24(deals)
    assert data.deals["status"].tolist() == ["won", "lost", "lost", "open"]
    assert data.deals["stage"].tolist() == [None, None, None, "C14:NEW"]


def test_ui_export_and_history_without_stage_list():
    # names in the export, codes in the history: each deal's last code gives its status
    with pytest.warns(fk.FunnelkitWarning, match=r"inferred from the history"):
        data = fk.crm.read_bitrix24(
            DATA / "bitrix24_deals.csv", history=DATA / "bitrix24_stagehistory.json"
        )
    assert data.deals["status"].tolist() == ["won", "lost", "open"]
    assert data.stages == ("NEW", "PREPARATION")
    assert data.history["stage"].tolist() == ["NEW", "PREPARATION", "NEW", "NEW", "PREPARATION"]
    assert data.deals["stage"].tolist() == ["PREPARATION", "NEW", "PREPARATION"]


def test_errors():
    df = fk.read_table(DATA / "bitrix24_deals.csv")
    # stage names without the stage list: which closed deals are won is unknown
    with pytest.raises(
        fk.InvalidDataError, match=r"2 of 3 deals have a 'Закрыта' flag.*crm\.status\.list"
    ):
        fk.crm.read_bitrix24(df)
    # stage names, no stage list, no history and no 'Закрыта' column: every deal would
    # read as open; an error says what to pass (before: all open, without a word)
    with pytest.raises(fk.InvalidDataError, match=r"3 of 3 deals have a stage name.*stages="):
        fk.crm.read_bitrix24(df.drop(columns="Закрыта"))
    # stage codes need no list: WON / LOSE / APOLOGY after the C<n>: prefix
    codes = df.drop(columns="Закрыта").assign(
        **{"Стадия сделки": ["C2:WON", "C2:LOSE", "C2:PREPARATION"]}
    )
    with pytest.warns(fk.FunnelkitWarning, match="stage order is unknown"):
        read = fk.crm.read_bitrix24(codes)
    assert read.deals["status"].tolist() == ["won", "lost", "open"]
    with pytest.raises(
        fk.ColumnNotFoundError, match=r"no stage \(Стадия сделки\) column.*Bitrix24"
    ):
        fk.crm.read_bitrix24(df.drop(columns="Стадия сделки"))
    bad = df.assign(**{"Дата создания": ["10.01.2024 09:00:00", "вчера", "12.01.2024 11:00:00"]})
    with pytest.raises(
        fk.InvalidDataError, match=r"'Дата создания' has 1 of 3 values that are not dates.*'вчера'"
    ):
        fk.crm.read_bitrix24(bad, stages=DATA / "bitrix24_status_list.json")
    hist = pd.DataFrame(
        {"OWNER_ID": [201], "STAGE_ID": ["UC_GHOST"], "CREATED_TIME": ["2024-01-12T11:00:00+03:00"]}
    )
    with pytest.raises(fk.InvalidDataError, match=r"not in the stage metadata: \['UC_GHOST'\]"):
        fk.crm.read_bitrix24(df, history=hist, stages=DATA / "bitrix24_status_list.json")
    # a HubSpot file is not a Bitrix24 file
    with pytest.raises(fk.ColumnNotFoundError, match=r"Bitrix24"):
        fk.crm.read_bitrix24(DATA / "hubspot_deals.csv")
