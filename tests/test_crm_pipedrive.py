"""read_pipedrive on a hand-made UI export, API deals, deal flow and stages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk

DATA = Path(__file__).parent / "data" / "crm"
T = pd.Timestamp


def test_ui_export_with_flow_and_stages():
    with pytest.warns(fk.FunnelkitWarning, match=r"1 of 4 deals .* are deleted"):
        data = fk.crm.read_pipedrive(
            DATA / "pipedrive_deals.csv",
            flow=DATA / "pipedrive_flow.json",
            stages=DATA / "pipedrive_stages.json",
        )
    d = data.deals
    assert d["deal_id"].tolist() == [1, 2, 3]
    assert d["status"].tolist() == ["won", "lost", "open"]
    # a value of 0 is a value; an empty one is unknown
    np.testing.assert_array_equal(d["amount"].to_numpy(), [1500.0, 0.0, np.nan])
    assert d["currency"].tolist() == ["EUR", "USD", "EUR"]
    assert d["closed_at"].tolist()[:2] == [T("2024-02-01 10:00"), T("2024-01-10 12:00")]
    assert pd.isna(d["closed_at"].iloc[2])
    assert pd.isna(d["expected_close"].iloc[0])  # closed: the expected date is not kept
    assert d["expected_close"].iloc[2] == T("2024-03-15")
    assert d["lost_reason"].tolist() == [None, "Too expensive", None]
    assert data.stages == ("Qualified", "Contact Made", "Proposal Made")
    expected = pd.DataFrame(
        {
            "deal_id": [1, 1, 1, 2, 3, 3],
            "stage": [
                "Qualified", "Contact Made", "Proposal Made",
                "Qualified",
                "Qualified", "Contact Made",
            ],
            "entered_at": pd.to_datetime([
                "2024-01-02 09:00", "2024-01-10 09:00", "2024-01-20 09:00",
                "2024-01-03 09:00", "2024-01-04 09:00", "2024-01-06 09:00",
            ]),
            "pipeline": "Sales",
        }
    )  # fmt: skip
    # the readers' dtypes on every pandas version: text as object, dates in ns (a frame
    # built from lists holds pandas 3's str and, from parsed strings, datetime64[us])
    expected = expected.astype(
        {"stage": "object", "pipeline": "object", "entered_at": "datetime64[ns]"}
    )
    pd.testing.assert_frame_equal(data.history, expected)


def test_api_deals_are_utc():
    data = fk.crm.read_pipedrive(
        DATA / "pipedrive_deals_api.json", stages=DATA / "pipedrive_stages.json"
    )
    d = data.deals
    assert d["deal_id"].tolist() == [51, 52]
    assert d["stage"].tolist() == ["Proposal Made", "Qualified"]
    assert d["owner"].tolist() == ["Cleo", "Dan"]
    assert d["created_at"].iloc[0] == T("2024-02-01 08:00", tz="UTC")
    assert d["closed_at"].iloc[0] == T("2024-02-20 10:00", tz="UTC")
    assert d["expected_close"].iloc[1] == T("2024-04-30")
    assert d["amount"].tolist() == [2000.0, 0.0]


def test_errors():
    deals = pd.read_csv(DATA / "pipedrive_deals.csv").iloc[:3]
    bad = deals.assign(**{"Deal - Status": ["Won", "lost", "open"]})
    with pytest.raises(fk.InvalidDataError, match=r"'Deal - Status' has 1 of 3 values.*'Won'"):
        fk.crm.read_pipedrive(bad)
    with pytest.warns(fk.FunnelkitWarning, match=r"stage order is unknown"):
        assert fk.crm.read_pipedrive(deals).stages == ()
    with pytest.raises(fk.ColumnNotFoundError, match=r"no status column.*Pipedrive"):
        fk.crm.read_pipedrive(deals.drop(columns="Deal - Status"))
    flow = pd.DataFrame(
        {
            "item_id": [3],
            "field_key": ["stage_id"],
            "old_value": ["1"],
            "new_value": ["9"],
            "log_time": ["2024-01-06 09:00:00"],
        }
    )
    with pytest.raises(fk.InvalidDataError, match=r"not in the stage metadata: \['9'\]"):
        fk.crm.read_pipedrive(deals, flow=flow, stages=DATA / "pipedrive_stages.json")
    bad_date = deals.assign(
        **{"Deal - Deal created": ["2024-01-02 09:00:00", "32.13.2024", "2024-01-04 09:00:00"]}
    )
    with pytest.raises(
        fk.InvalidDataError, match=r"'Deal - Deal created' has 1 of 3 values that are not dates"
    ):
        fk.crm.read_pipedrive(bad_date)


def test_flow_in_utc_next_to_a_local_export_with_timezone():
    deals = pd.read_csv(DATA / "pipedrive_deals.csv").iloc[:3]
    data = fk.crm.read_pipedrive(
        deals,
        flow=DATA / "pipedrive_flow.json",
        stages=DATA / "pipedrive_stages.json",
        timezone="Europe/Berlin",
    )
    # the flow's 09:00 UTC is 10:00 in Berlin in January; creation rows keep the export's clock
    assert data.history["entered_at"].tolist() == [
        T("2024-01-02 09:00"), T("2024-01-10 10:00"), T("2024-01-20 10:00"),
        T("2024-01-03 09:00"), T("2024-01-04 09:00"), T("2024-01-06 10:00"),
    ]  # fmt: skip


def test_duplicate_ids_and_unknown_current_stages_are_errors():
    deals = pd.read_csv(DATA / "pipedrive_deals.csv").iloc[:3]
    twice = pd.concat([deals, deals.iloc[[2]]], ignore_index=True)
    with pytest.raises(fk.InvalidDataError, match=r"1 deal ids appear more than once \(first: 3\)"):
        fk.crm.read_pipedrive(twice, stages=DATA / "pipedrive_stages.json")
    odd = deals.assign(**{"Deal - Stage": ["Proposal Made", "Qualified", "Negotiation"]})
    with pytest.raises(fk.InvalidDataError, match=r"1 open deals sit at .*'Negotiation'"):
        fk.crm.read_pipedrive(odd, stages=DATA / "pipedrive_stages.json")
