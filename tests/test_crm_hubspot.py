"""read_hubspot on hand-made UI and API exports; expected tables written by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk

DATA = Path(__file__).parent / "data" / "crm"
T = pd.Timestamp


def test_ui_export_with_pipelines():
    data = fk.crm.read_hubspot(
        DATA / "hubspot_deals.csv",
        pipelines=DATA / "hubspot_pipelines.json",
        pipeline="Sales Pipeline",
    )
    d = data.deals
    assert d["deal_id"].tolist() == [101, 102, 103, 104]
    assert d["status"].tolist() == ["won", "lost", "open", "open"]
    np.testing.assert_array_equal(d["amount"].to_numpy(), [12500.0, 800.0, np.nan, 3000.0])
    assert d["closed_at"].tolist()[:2] == [T("2024-02-10 15:30"), T("2024-01-25 08:00")]
    assert d["closed_at"].iloc[2:].isna().all()
    # an open deal's close date is the expected one
    assert d["expected_close"].tolist()[2:] == [T("2024-03-31"), T("2024-04-15")]
    assert d["expected_close"].iloc[:2].isna().all()
    assert d["stage"].tolist() == [
        "Contract Sent", "Qualified To Buy", "Contract Sent", "Appointment Scheduled",
    ]  # fmt: skip
    assert d["lost_reason"].tolist() == [None, "Price", None, None]
    assert d["channel"].tolist() == ["Organic Search", "Paid Search", "Referrals", "Direct Traffic"]
    assert data.stages == ("Appointment Scheduled", "Qualified To Buy", "Contract Sent")
    expected = pd.DataFrame(
        {
            "deal_id": [101, 101, 101, 102, 102, 103, 103, 104],
            "stage": [
                "Appointment Scheduled", "Qualified To Buy", "Contract Sent",
                "Appointment Scheduled", "Qualified To Buy",
                "Appointment Scheduled", "Contract Sent", "Appointment Scheduled",
            ],
            "entered_at": pd.to_datetime([
                "2024-01-02 09:00", "2024-01-09 10:00", "2024-01-20 11:00",
                "2024-01-05 12:00", "2024-01-12 12:00",
                "2024-01-10 10:00", "2024-02-01 09:00", "2024-02-01 08:00",
            ]),
            "pipeline": "Sales Pipeline",
        }
    )  # fmt: skip
    # the readers' dtypes on every pandas version: text as object, dates in ns (a frame
    # built from lists holds pandas 3's str and, from parsed strings, datetime64[us])
    expected = expected.astype(
        {"stage": "object", "pipeline": "object", "entered_at": "datetime64[ns]"}
    )
    pd.testing.assert_frame_equal(data.history, expected)
    assert fk.win_rate(data.deals)["win_rate"].iloc[0] == 0.5


def test_ui_export_without_metadata_infers_order_with_a_warning():
    with pytest.warns(fk.FunnelkitWarning, match=r"inferred from the history.*stages="):
        data = fk.crm.read_hubspot(DATA / "hubspot_deals.csv")
    assert data.stages == ("Appointment Scheduled", "Qualified To Buy", "Contract Sent")
    # Closed Won / Closed Lost labels are read as statuses
    assert data.deals["status"].tolist() == ["won", "lost", "open", "open"]


def test_api_objects_with_history_and_two_pipelines():
    src = DATA / "hubspot_deals_api.json"
    pipes = DATA / "hubspot_pipelines.json"
    with pytest.raises(
        fk.InvalidParameterError, match=r"2 pipelines.*'Sales Pipeline'.*'Partners'.*pipeline="
    ):
        fk.crm.read_hubspot(src, pipelines=pipes)
    data = fk.crm.read_hubspot(src, pipelines=pipes, pipeline="Sales Pipeline")
    d = data.deals
    assert d["deal_id"].tolist() == [9001, 9002]
    assert d["status"].tolist() == ["won", "open"]
    assert d["currency"].tolist() == ["EUR", "USD"]
    assert d["created_at"].tolist() == [
        T("2024-03-01 10:00", tz="UTC"),
        T("2024-03-02 11:00", tz="UTC"),
    ]
    assert d["closed_at"].iloc[0] == T("2024-03-20 16:00", tz="UTC")
    assert pd.isna(d["closed_at"].iloc[1])
    assert d["expected_close"].iloc[1] == T("2024-06-30", tz="UTC")
    assert np.isnan(d["amount"].iloc[1])  # empty amount is unknown, not 0
    assert data.history["stage"].tolist() == [
        "Appointment Scheduled", "Qualified To Buy", "Appointment Scheduled", "Qualified To Buy",
    ]  # fmt: skip
    partners = fk.crm.read_hubspot(src, pipelines=pipes, pipeline="Partners")
    assert partners.deals["status"].tolist() == ["lost"]
    assert partners.deals["lost_reason"].tolist() == ["No budget"]
    assert partners.stages == ("Intro",)
    assert partners.deals["stage"].tolist() == ["Intro"]


def test_long_property_history_wins_over_the_wide_columns(tmp_path):
    hist = pd.DataFrame(
        {
            "dealId": [104, 104, 104, 104],
            "property": ["dealstage", "amount", "dealstage", "dealstage"],
            "value": ["appointmentscheduled", "3000", "qualifiedtobuy", "appointmentscheduled"],
            "timestamp": [
                "2024-02-01 08:00",
                "2024-02-02 08:00",
                "2024-02-03 08:00",
                "2024-02-05 08:00",
            ],
        }
    )
    deals = pd.read_csv(DATA / "hubspot_deals.csv").iloc[[3]]
    data = fk.crm.read_hubspot(deals, history=hist, pipelines=DATA / "hubspot_pipelines.json")
    assert data.history["stage"].tolist() == [
        "Appointment Scheduled", "Qualified To Buy", "Appointment Scheduled",
    ]  # fmt: skip
    assert data.history["entered_at"].tolist() == [
        T("2024-02-01 08:00"), T("2024-02-03 08:00"), T("2024-02-05 08:00"),
    ]  # fmt: skip


def test_errors_name_the_problem():
    sf = pd.DataFrame({"Id": ["006A"], "StageName": ["Prospecting"]})
    with pytest.raises(fk.ColumnNotFoundError, match=r"no deal id column.*Is this a HubSpot file"):
        fk.crm.read_hubspot(sf)
    bad = pd.read_csv(DATA / "hubspot_deals.csv")
    bad.loc[1, "Create Date"] = "yesterday"
    with pytest.raises(fk.InvalidDataError, match=r"'Create Date' has 1 of 4 values.*'yesterday'"):
        fk.crm.read_hubspot(bad, pipelines=DATA / "hubspot_pipelines.json")
    unknown = pd.DataFrame(
        {
            "dealId": [101],
            "property": ["dealstage"],
            "value": ["999"],
            "timestamp": ["2024-01-03 00:00"],
        }
    )
    with pytest.raises(fk.InvalidDataError, match=r"not in the stage metadata: \['999'\]"):
        fk.crm.read_hubspot(
            DATA / "hubspot_deals.csv",
            history=unknown,
            pipelines=DATA / "hubspot_pipelines.json",
            pipeline="Sales Pipeline",
        )
    with pytest.raises(fk.InvalidParameterError, match=r"'deals' argument of read_hubspot"):
        fk.crm.read_hubspot(42)  # type: ignore[arg-type]


def test_input_frame_unchanged():
    deals = pd.read_csv(DATA / "hubspot_deals.csv")
    before = deals.copy()
    fk.crm.read_hubspot(deals, pipelines=DATA / "hubspot_pipelines.json")
    pd.testing.assert_frame_equal(deals, before)


def test_legacy_v1_deals_with_versions_and_ms_timestamps():
    deals = [
        {
            "dealId": 5,
            "properties": {
                "dealstage": {
                    "value": "closedlost",
                    "timestamp": 1706778000000,
                    "versions": [
                        {"value": "closedlost", "timestamp": 1706778000000},
                        {"value": "qualifiedtobuy", "timestamp": 1706432400000},
                        {"value": "appointmentscheduled", "timestamp": 1706346000000},
                    ],
                },
                "createdate": {"value": "2024-01-27T09:00:00Z"},
                "closedate": {"value": "2024-02-01T09:00:00Z"},
                "amount": {"value": "250"},
                "pipeline": {"value": "default"},
            },
        }
    ]
    data = fk.crm.read_hubspot(deals, pipelines=DATA / "hubspot_pipelines.json")
    d = data.deals
    assert d["deal_id"].tolist() == [5]
    assert d["status"].tolist() == ["lost"]
    assert d["closed_at"].iloc[0] == T("2024-02-01 09:00", tz="UTC")
    assert d["stage"].tolist() == ["Qualified To Buy"]
    assert data.history["entered_at"].tolist() == [
        T("2024-01-27 09:00", tz="UTC"), T("2024-01-28 09:00", tz="UTC"),
    ]  # fmt: skip
