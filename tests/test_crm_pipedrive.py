"""read_pipedrive on a hand-made UI export, API deals, deal flow and stages."""

from __future__ import annotations

import json
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
    with pytest.raises(fk.InvalidDataError, match=r"1 deal ids appear more than once \(first: 3\)"):
        fk.crm.read_pipedrive(
            twice, flow=DATA / "pipedrive_flow.json", stages=DATA / "pipedrive_stages.json"
        )
    odd = deals.assign(**{"Deal - Stage": ["Proposal Made", "Qualified", "Negotiation"]})
    with pytest.raises(fk.InvalidDataError, match=r"1 open deals sit at .*'Negotiation'"):
        fk.crm.read_pipedrive(odd, stages=DATA / "pipedrive_stages.json")


# ---- deals that move to another pipeline ------------------------------------------------
# Two pipelines; stage ids are unique across them, the name "Qualified" is in both.
TWO_PIPELINES = {
    "success": True,
    "data": [
        {"id": 1, "order_nr": 1, "name": "Qualified", "pipeline_id": 1, "pipeline_name": "Sales"},
        {"id": 2, "order_nr": 2, "name": "Contact Made", "pipeline_id": 1,
         "pipeline_name": "Sales"},
        {"id": 3, "order_nr": 3, "name": "Proposal Made", "pipeline_id": 1,
         "pipeline_name": "Sales"},
        {"id": 11, "order_nr": 1, "name": "Qualified", "pipeline_id": 2,
         "pipeline_name": "Partners"},
        {"id": 12, "order_nr": 2, "name": "Demo", "pipeline_id": 2, "pipeline_name": "Partners"},
        {"id": 13, "order_nr": 3, "name": "Contract", "pipeline_id": 2,
         "pipeline_name": "Partners"},
    ],
}  # fmt: skip


def _change(n, deal, key, old, new, when, old_name=None, new_name=None):
    extra = {}
    if old_name or new_name:
        extra = {"old_value_formatted": old_name, "new_value_formatted": new_name}
    return {
        "object": "dealChange",
        "timestamp": when,
        "data": {"id": n, "item_id": deal, "user_id": 5, "field_key": key, "old_value": old,
                 "new_value": new, "log_time": when, "additional_data": extra},
    }  # fmt: skip


def _moved_deals(tmp_path):
    """A UI deals export, the deal flow and the stages, in Pipedrive's own names."""
    deals = pd.DataFrame(
        {
            "Deal - ID": [1, 2, 3, 4],
            "Deal - Title": ["One", "Two", "Three", "Four"],
            "Deal - Pipeline": ["Partners", "Partners", "Partners", "Sales"],
            "Deal - Stage": ["Contract", "Demo", "Contract", "Contact Made"],
            "Deal - Status": ["open", "open", "won", "open"],
            "Deal - Value": [100, 200, 300, 400],
            "Deal - Deal created": [
                "2024-01-01 09:00:00", "2024-01-02 09:00:00", "2024-01-03 09:00:00",
                "2024-01-04 09:00:00",
            ],
            "Deal - Deal closed on": [None, None, "2024-01-20 09:00:00", None],
        }
    )  # fmt: skip
    flow = {
        "success": True,
        "data": [
            # deal 1: a stage move in Sales, then to Partners with the stage of the same update
            _change(1, 1, "stage_id", "1", "2", "2024-01-05 09:00:00"),
            _change(2, 1, "pipeline_id", "1", "2", "2024-01-10 09:00:00", "Sales", "Partners"),
            _change(3, 1, "stage_id", "2", "12", "2024-01-10 09:00:00", "Contact Made", "Demo"),
            _change(4, 1, "stage_id", "12", "13", "2024-01-15 09:00:00"),
            # deal 2: back to Qualified in Sales, then to Partners with no stage change logged;
            # the next stage change starts from Partners' Qualified (11)
            _change(5, 2, "stage_id", "2", "1", "2024-01-03 09:00:00"),
            _change(6, 2, "pipeline_id", "1", "2", "2024-01-04 09:00:00"),
            _change(7, 2, "stage_id", "11", "12", "2024-01-08 09:00:00"),
            # deal 3: to Partners with no stage change and none later: its current stage
            _change(8, 3, "stage_id", "1", "3", "2024-01-06 09:00:00"),
            _change(9, 3, "pipeline_id", "1", "2", "2024-01-09 09:00:00"),
            # deal 4 stays in Sales
            _change(10, 4, "stage_id", "1", "2", "2024-01-07 09:00:00"),
            _change(11, 4, "value", "0", "400", "2024-01-07 10:00:00"),
        ],
    }
    paths = {"deals": tmp_path / "deals.csv", "flow": tmp_path / "flow.json",
             "stages": tmp_path / "stages.json"}  # fmt: skip
    deals.to_csv(paths["deals"], index=False)
    paths["flow"].write_text(json.dumps(flow), encoding="utf-8")
    paths["stages"].write_text(json.dumps(TWO_PIPELINES), encoding="utf-8")
    return paths


def _history(rows, pipeline):
    frame = pd.DataFrame(rows, columns=["deal_id", "stage", "entered_at"])
    frame["entered_at"] = pd.to_datetime(frame["entered_at"]).astype("datetime64[ns]")
    frame["stage"] = frame["stage"].astype("object")
    frame["pipeline"] = pd.Series([pipeline] * len(frame), dtype="object")
    return frame


def test_a_pipeline_move_enters_the_stage_it_lands_in(tmp_path):
    p = _moved_deals(tmp_path)
    data = fk.crm.read_pipedrive(p["deals"], flow=p["flow"], stages=p["stages"],
                                 pipeline="Partners")  # fmt: skip
    assert data.stages == ("Qualified", "Demo", "Contract")
    assert data.deals["deal_id"].tolist() == [1, 2, 3]
    assert data.deals["stage"].tolist() == ["Contract", "Demo", "Contract"]
    # worked out by hand: only the entries in Partners; deal 2's Qualified is Partners' own
    # (stage 11), not a repeat of the Sales Qualified it left
    expected = _history(
        [
            (1, "Demo", "2024-01-10 09:00"), (1, "Contract", "2024-01-15 09:00"),
            (2, "Qualified", "2024-01-04 09:00"), (2, "Demo", "2024-01-08 09:00"),
            (3, "Contract", "2024-01-09 09:00"),
        ],
        "Partners",
    )  # fmt: skip
    pd.testing.assert_frame_equal(data.history, expected)
    sales = fk.crm.read_pipedrive(p["deals"], flow=p["flow"], stages=p["stages"],
                                  pipeline="Sales")  # fmt: skip
    assert sales.stages == ("Qualified", "Contact Made", "Proposal Made")
    expected = _history(
        [(4, "Qualified", "2024-01-04 09:00"), (4, "Contact Made", "2024-01-07 09:00")], "Sales"
    )
    pd.testing.assert_frame_equal(sales.history, expected)


def test_a_history_through_other_pipelines_asks_for_pipeline(tmp_path):
    p = _moved_deals(tmp_path)
    with pytest.raises(fk.InvalidParameterError, match=r"2 pipelines.*'Partners' \(3 deals\)"):
        fk.crm.read_pipedrive(p["deals"], flow=p["flow"], stages=p["stages"])
    # every deal is now in Partners, but the history passed through Sales
    deals = pd.read_csv(p["deals"]).iloc[:3]
    flow = [c for c in json.loads(p["flow"].read_text())["data"] if c["data"]["item_id"] != 4]
    with pytest.raises(fk.InvalidParameterError, match=r"through pipelines.*'Sales'.*pipeline="):
        fk.crm.read_pipedrive(deals, flow=flow, stages=p["stages"])


def test_a_pipeline_move_into_no_stage_of_the_new_pipeline_is_left_out_with_a_warning():
    deals = pd.DataFrame(
        {
            "Deal - ID": [6],
            "Deal - Pipeline": ["Sales"],
            "Deal - Stage": ["Contact Made"],
            "Deal - Status": ["open"],
            "Deal - Deal created": ["2024-01-05 09:00:00"],
        }
    )
    # the pipeline changed, but the next stage change starts from Sales' Qualified (1)
    flow = [
        _change(1, 6, "pipeline_id", "1", "2", "2024-01-06 09:00:00"),
        _change(2, 6, "stage_id", "1", "2", "2024-01-07 09:00:00"),
    ]
    with pytest.warns(fk.FunnelkitWarning, match=r"1 pipeline changes .*deal '6'.*left out"):
        data = fk.crm.read_pipedrive(deals, flow=flow, stages=TWO_PIPELINES["data"],
                                     pipeline="Sales")  # fmt: skip
    expected = _history(
        [(6, "Qualified", "2024-01-05 09:00"), (6, "Contact Made", "2024-01-07 09:00")], "Sales"
    )
    pd.testing.assert_frame_equal(data.history, expected)


def test_pipeline_moves_without_stage_metadata_use_the_flow_names(tmp_path):
    p = _moved_deals(tmp_path)
    with pytest.warns(fk.FunnelkitWarning, match=r"inferred from the history"):
        data = fk.crm.read_pipedrive(p["deals"], flow=p["flow"], pipeline="Partners")
    # pipeline 2 is named "Partners" on deal 1's move, so deal 2's and 3's moves (which name
    # no pipeline) are in Partners too; the Sales entries are left out
    h = data.history
    assert h["deal_id"].tolist() == [1, 1, 2, 2, 3]
    assert h["pipeline"].tolist() == ["Partners"] * 5
    assert h["entered_at"].tolist() == [
        T("2024-01-10 09:00"), T("2024-01-15 09:00"),
        T("2024-01-04 09:00"), T("2024-01-08 09:00"), T("2024-01-09 09:00"),
    ]  # fmt: skip
    # stage ids the flow names get their names; the others stay ids (pass stages= for labels)
    assert h["stage"].tolist() == ["Demo", "13", "11", "Demo", "Contract"]


def test_a_lost_reason_is_kept_for_lost_deals_only():
    """A won or open deal keeps no lost reason, as in every other adapter."""
    deals = pd.read_csv(DATA / "pipedrive_deals.csv").iloc[:3]
    reasons = deals.assign(**{"Deal - Lost reason": ["left over", "Too expensive", "stale"]})
    with pytest.warns(fk.FunnelkitWarning, match="stage order"):
        data = fk.crm.read_pipedrive(reasons)
    assert data.deals["status"].tolist() == ["won", "lost", "open"]
    assert data.deals["lost_reason"].tolist() == [None, "Too expensive", None]


def test_ambiguous_amounts_and_dates_say_how_to_read_the_file_first():
    """The readers take no decimal= / dayfirst=: the fix names fk.read_table."""
    deals = pd.read_csv(DATA / "pipedrive_deals.csv").iloc[:3]
    value = next(c for c in deals.columns if c.endswith("Value"))
    commas = deals.assign(**{value: ["1,500", "2,000", "3,250"]})
    with pytest.raises(fk.InvalidDataError, match=r"fk\.read_table\(path, decimal=','\)") as err:
        fk.crm.read_pipedrive(commas)
    assert "Pass decimal=" not in str(err.value)
    assert err.value.reason == "ambiguous_decimal"
    created = next(c for c in deals.columns if "created" in c.lower())
    slashed = deals.assign(**{created: ["01/02/2024", "03/04/2024", "05/06/2024"]})
    with pytest.raises(fk.InvalidDataError, match=r"fk\.read_table\(path, dayfirst=True\)"):
        fk.crm.read_pipedrive(slashed)
