"""read_hubspot on hand-made UI and API exports; expected tables written by hand."""

from __future__ import annotations

import json
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


# ---- the long stage history in the shapes that exist ------------------------------------
# Deal 104 of the UI export: Appointment Scheduled on 1 Feb 08:00 UTC, Qualified To Buy on
# 3 Feb, back to Appointment Scheduled on 5 Feb; an amount edit on 2 Feb is not a stage.
MS = {"2024-02-01 08:00": 1706774400000, "2024-02-02 08:00": 1706860800000,
      "2024-02-03 08:00": 1706947200000, "2024-02-05 08:00": 1707120000000}  # fmt: skip
STEPS = [("appointmentscheduled", "2024-02-01 08:00"), ("qualifiedtobuy", "2024-02-03 08:00"),
         ("appointmentscheduled", "2024-02-05 08:00")]  # fmt: skip


def _iso(t):
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _v3(tmp_path):
    # GET /crm/v3/objects/deals?propertiesWithHistory=dealstage: newest version first
    versions = [
        {"value": v, "timestamp": _iso(t), "sourceType": "CRM_UI", "sourceId": "userId:7",
         "updatedByUserId": 7}
        for v, t in reversed(STEPS)
    ]  # fmt: skip
    body = {
        "results": [
            {"id": "104", "properties": {"dealstage": "appointmentscheduled",
                                         "hs_object_id": "104"},
             "propertiesWithHistory": {"dealstage": versions},
             "createdAt": _iso("2024-02-01 08:00"), "updatedAt": _iso("2024-02-05 08:00"),
             "archived": False}
        ],
        "paging": {"next": {"after": "105"}},
    }  # fmt: skip
    path = tmp_path / "deals_with_history.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def _v1(tmp_path):
    # legacy GET /deals/v1/deal/paged?propertiesWithHistory=dealstage: epoch milliseconds
    versions = [
        {"name": "dealstage", "value": v, "timestamp": MS[t], "source": "CRM_UI",
         "sourceVid": []}
        for v, t in reversed(STEPS)
    ]  # fmt: skip
    stage = {"value": "appointmentscheduled", "timestamp": MS["2024-02-05 08:00"],
             "source": "CRM_UI", "sourceId": "ana@example.com", "versions": versions}  # fmt: skip
    body = {"deals": [{"portalId": 62515, "dealId": 104, "isDeleted": False,
                       "properties": {"dealstage": stage}}],
            "hasMore": False, "offset": 104}  # fmt: skip
    path = tmp_path / "deals_v1.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def _rows_with_amount():
    rows = [(v, t) for v, t in STEPS]
    return [*rows[:1], ("3000", "2024-02-02 08:00"), *rows[1:]]


def _airbyte(tmp_path):
    # Airbyte's deals_property_history stream (HubSpot v3 versions, ISO times)
    rows = _rows_with_amount()
    table = pd.DataFrame(
        {
            "dealId": 104,
            "property": ["dealstage", "amount", "dealstage", "dealstage"],
            "archived": False,
            "value": [v for v, _ in rows],
            "timestamp": [_iso(t) for _, t in rows],
            "sourceType": "CRM_UI",
            "sourceId": "userId:7",
            "updatedByUserId": 7,
        }
    )
    path = tmp_path / "deals_property_history.csv"
    table.to_csv(path, index=False)
    return path


def _airbyte_legacy(tmp_path):
    # Airbyte's older deals_property_history schema: epoch milliseconds, property and name
    rows = _rows_with_amount()
    props = ["dealstage", "amount", "dealstage", "dealstage"]
    table = pd.DataFrame(
        {
            "updatedByUserId": 7, "requestId": "r-1", "source": "CRM_UI", "portalId": 62515,
            "isDeleted": False, "timestamp": [MS[t] for _, t in rows], "property": props,
            "persistenceTimestamp": [MS[t] for _, t in rows], "name": props, "sourceVid": "[]",
            "useTimestampAsPersistenceTimestamp": True, "sourceMetadata": None, "dealId": 104,
            "sourceId": "userId:7", "value": [v for v, _ in rows],
        }
    )  # fmt: skip
    path = tmp_path / "deals_property_history.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in table.to_dict("records")), encoding="utf-8")
    return path


def _fivetran(tmp_path):
    # Fivetran's deal_property_history table as a warehouse writes it (UTC, no zone)
    rows = _rows_with_amount()
    table = pd.DataFrame(
        {
            "_fivetran_synced": "2024-02-06 00:00:00.000",
            "deal_id": 104,
            "name": ["dealstage", "amount", "dealstage", "dealstage"],
            "source": "CRM_UI",
            "source_id": "userId:7",
            "timestamp": [f"{t}:00.000" for _, t in rows],
            "value": [v for v, _ in rows],
        }
    )
    path = tmp_path / "deal_property_history.csv"
    table.to_csv(path, index=False)
    return path


def _fivetran_deal_stage(tmp_path):
    # Fivetran's deal_stage table: one row per stage entry
    table = pd.DataFrame(
        {
            "deal_id": 104,
            "value": [v for v, _ in STEPS],
            "date_entered": [f"{t}:00.000" for _, t in STEPS],
            "source": "CRM_UI",
            "source_id": "userId:7",
            "_fivetran_start": [f"{t}:00.000" for _, t in STEPS],
            "_fivetran_end": ["2024-02-03 07:59:59.999", "2024-02-05 07:59:59.999",
                              "9999-12-31 23:59:59.999"],
            "_fivetran_active": [False, False, True],
            "_fivetran_synced": "2024-02-06 00:00:00.000",
        }
    )  # fmt: skip
    path = tmp_path / "deal_stage.csv"
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("shape", "utc"),
    [
        (_v3, True),
        (_v1, True),
        (_airbyte, True),
        (_airbyte_legacy, True),
        (_fivetran, False),
        (_fivetran_deal_stage, False),
    ],
)
def test_stage_history_shapes(tmp_path, shape, utc):
    deals = pd.read_csv(DATA / "hubspot_deals.csv").iloc[[3]]
    # UTC instants next to the UI export's local times: in Berlin, 08:00 UTC is 09:00
    tz = {"timezone": "Europe/Berlin"} if utc else {}
    data = fk.crm.read_hubspot(
        deals, history=shape(tmp_path), pipelines=DATA / "hubspot_pipelines.json", **tz
    )
    hour = "09:00" if utc else "08:00"
    expected = pd.DataFrame(
        {
            "deal_id": [104, 104, 104],
            "stage": ["Appointment Scheduled", "Qualified To Buy", "Appointment Scheduled"],
            "entered_at": pd.to_datetime(
                [f"2024-02-01 {hour}", f"2024-02-03 {hour}", f"2024-02-05 {hour}"]
            ),
            "pipeline": "Sales Pipeline",
        }
    )
    expected = expected.astype(
        {"stage": "object", "pipeline": "object", "entered_at": "datetime64[ns]"}
    )
    pd.testing.assert_frame_equal(data.history, expected)


def test_unknown_history_headers_list_the_shapes():
    guessed = pd.DataFrame(
        {
            "Record ID": [104],
            "Property": ["Deal Stage"],
            "New value": ["Qualified To Buy"],
            "Date changed": ["2024-02-03 08:00"],
        }
    )
    deals = pd.read_csv(DATA / "hubspot_deals.csv").iloc[[3]]
    with pytest.raises(
        fk.ColumnNotFoundError,
        match=r"no deal id column \(looked for \['dealId', 'deal_id'\]\).*"
        r"Airbyte deals_property_history.*Fivetran deal_property_history",
    ):
        fk.crm.read_hubspot(deals, history=guessed)


def test_pipelines_table_must_say_which_closed_stages_are_won():
    """Without is_closed or a closed stage's probability, won and lost cannot be told apart
    (before: every closed stage read as lost, "Closed Won" included)."""
    export = pd.DataFrame(
        {
            "Record ID": [11, 12],
            "Deal Stage": ["Closed Won", "Appointment Scheduled"],
            "Create Date": ["2024-01-02 09:00", "2024-01-03 10:00"],
            "Close Date": ["2024-02-01 12:00", "2024-03-31 00:00"],
        }
    )
    pipes = pd.DataFrame(
        {
            "pipeline": "Sales Pipeline",
            "stage_id": ["appointmentscheduled", "closedwon", "closedlost"],
            "label": ["Appointment Scheduled", "Closed Won", "Closed Lost"],
            "display_order": [0, 1, 2],
            "is_closed": [False, True, True],
            "probability": [0.2, 1.0, 0.0],
        }
    )
    ok = fk.crm.read_hubspot(export, pipelines=pipes)
    assert ok.deals["status"].tolist() == ["won", "open"]
    with pytest.raises(fk.InvalidDataError, match=r"2 closed stage\(s\).*no probability") as err:
        fk.crm.read_hubspot(export, pipelines=pipes.drop(columns="probability"))
    assert err.value.column == "probability"
    blank = pipes.assign(probability=[0.2, None, 0.0])
    with pytest.raises(fk.InvalidDataError, match=r"1 closed stage\(s\).*'Closed Won'"):
        fk.crm.read_hubspot(export, pipelines=blank)
    with pytest.raises(fk.InvalidDataError, match=r"no is_closed column.*every deal would"):
        fk.crm.read_hubspot(export, pipelines=pipes.drop(columns="is_closed"))


def test_custom_pipeline_stage_ids_need_the_pipelines_or_the_closed_flags():
    """Numeric stage ids without pipelines= or Is Closed columns: an error, not all open."""
    export = pd.DataFrame(
        {
            "Record ID": [11, 12, 13],
            "Deal Stage": ["1043522", "1043525", "1043522"],
            "Create Date": ["2024-01-02 09:00", "2024-01-03 10:00", "2024-01-04 10:00"],
            "Close Date": ["2024-02-01 12:00", "2024-03-31 00:00", "2024-03-31 00:00"],
        }
    )
    with pytest.raises(
        fk.InvalidDataError, match=r"3 of 3 deals have a numeric stage id.*pipelines="
    ):
        fk.crm.read_hubspot(export)
    flagged = export.assign(
        **{"Is Closed Won": [False, True, False], "Is Closed": [False, True, False]}
    )
    with pytest.warns(fk.FunnelkitWarning):
        data = fk.crm.read_hubspot(flagged)
    assert data.deals["status"].tolist() == ["open", "won", "open"]
