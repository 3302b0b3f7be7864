"""read_salesforce on a hand-made Data Export and an API result."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk

DATA = Path(__file__).parent / "data" / "crm"
T = pd.Timestamp
A1, A2, A3 = "0065g00000AAAAAAA1", "0065g00000AAAAAAA2", "0065g00000AAAAAAA3"


def read(**kw):
    return fk.crm.read_salesforce(
        DATA / "salesforce_Opportunity.csv",
        history=DATA / "salesforce_OpportunityHistory.csv",
        **kw,
    )


def test_data_export_with_history_and_stages():
    data = read(stages=DATA / "salesforce_OpportunityStage.csv")
    d = data.deals
    assert d["deal_id"].tolist() == [A1, A2, A3]
    assert d["status"].tolist() == ["won", "lost", "open"]
    np.testing.assert_array_equal(d["amount"].to_numpy(), [25000.0, np.nan, 7000.0])
    assert d["currency"].tolist() == ["USD", "USD", "EUR"]
    # closed: the time the history moved it into its closing stage
    assert d["closed_at"].tolist()[:2] == [
        T("2024-02-14 17:45", tz="UTC"),
        T("2024-01-31 11:00", tz="UTC"),
    ]
    assert pd.isna(d["closed_at"].iloc[2])
    assert d["expected_close"].iloc[2] == T("2024-05-31", tz="UTC")
    assert d["stage"].tolist() == ["Proposal/Price Quote", "Prospecting", "Proposal/Price Quote"]
    assert d["channel"].tolist() == ["Web", "Partner Referral", "Web"]
    # inactive stages are left out of the order
    assert data.stages == ("Prospecting", "Qualification", "Proposal/Price Quote")
    h = data.history
    # amount and close-date edits (rows 2 and 4 of A1) are not stage entries
    assert h["deal_id"].tolist() == [A1, A1, A2, A3, A3, A3, A3]
    assert h["stage"].tolist() == [
        "Prospecting", "Proposal/Price Quote", "Prospecting",
        "Prospecting", "Qualification", "Prospecting", "Proposal/Price Quote",
    ]  # fmt: skip
    assert h["entered_at"].iloc[1] == T("2024-01-20 12:00", tz="UTC")
    conv = fk.stage_conversion(h, list(data.stages))
    assert conv["deals"].tolist()[0] == 3


def test_without_stage_metadata_the_order_comes_from_history():
    with pytest.warns(fk.FunnelkitWarning, match=r"inferred from the history"):
        data = read()
    assert data.stages == ("Prospecting", "Qualification", "Proposal/Price Quote")
    assert data.deals["status"].tolist() == ["won", "lost", "open"]


def test_api_records():
    data = fk.crm.read_salesforce(
        DATA / "salesforce_opportunities_api.json", stages=DATA / "salesforce_OpportunityStage.csv"
    )
    d = data.deals
    assert d["deal_id"].tolist() == ["0065g00000BBBBBBB1", "0065g00000BBBBBBB2"]
    assert d["status"].tolist() == ["won", "open"]
    assert d["created_at"].iloc[0] == T("2024-03-01 10:00", tz="UTC")
    assert d["closed_at"].iloc[0] == T("2024-04-02", tz="UTC")  # CloseDate without history
    assert np.isnan(d["amount"].iloc[1])
    assert d["stage"].tolist() == [None, "Qualification"]


def test_errors():
    with pytest.raises(fk.ColumnNotFoundError, match=r"no IsWon column.*Salesforce"):
        fk.crm.read_salesforce(
            pd.read_csv(DATA / "salesforce_Opportunity.csv").drop(columns="IsWon")
        )
    hist = pd.read_csv(DATA / "salesforce_OpportunityHistory.csv")
    hist.loc[0, "OpportunityId"] = "006NOTTHERE"
    with pytest.raises(
        fk.InvalidDataError, match=r"1 of 11 history rows.*not in the deal table.*'006NOTTHERE'"
    ):
        fk.crm.read_salesforce(DATA / "salesforce_Opportunity.csv", history=hist)
    hist = pd.read_csv(DATA / "salesforce_OpportunityHistory.csv")
    hist.loc[8, "StageName"] = "Discovery"
    with pytest.raises(fk.InvalidDataError, match=r"not in the stage metadata: \['Discovery'\]"):
        fk.crm.read_salesforce(
            DATA / "salesforce_Opportunity.csv",
            history=hist,
            stages=DATA / "salesforce_OpportunityStage.csv",
        )
    with pytest.raises(fk.InvalidParameterError, match=r"'pipeline' parameter of read_crm"):
        fk.crm.read_crm("salesforce", DATA / "salesforce_Opportunity.csv", pipeline="x")
