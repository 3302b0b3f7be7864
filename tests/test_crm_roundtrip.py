"""The bundled sample, written in each CRM's export format and read back, gives the same metrics."""

from __future__ import annotations

import pandas as pd
import pytest

import funnelkit as fk

CRMS = ["hubspot", "salesforce", "pipedrive", "amocrm", "bitrix24"]


@pytest.fixture(scope="module")
def sample():
    return fk.datasets.load_sample(n_leads=1500)


@pytest.fixture(scope="module", params=CRMS)
def read_back(request, sample, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    paths = fk.datasets.export_sample(request.param, folder, n_leads=1500)
    return request.param, paths, fk.crm.read_crm(request.param, **paths)


def _naive(df: pd.DataFrame) -> pd.DataFrame:
    """API exports give UTC instants; the sample is naive (its clock is UTC)."""
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.tz_localize(None)
    return out


def test_files_are_named_as_the_crm_names_them(read_back):
    crm, paths, _ = read_back
    names = {p.name for p in paths.values()}
    expected = {
        "hubspot": {
            "hubspot-crm-exports-all-deals-2025-06-30.csv",
            "deal_property_history.csv",
            "pipelines.json",
        },
        "salesforce": {"Opportunity.csv", "OpportunityHistory.csv", "OpportunityStage.csv"},
        "pipedrive": {"deals.csv", "deal_flow.json", "stages.json"},
        "amocrm": {"leads.json", "events.json", "pipelines.json"},
        "bitrix24": {"deals.csv", "stagehistory.json", "crm.status.list.json"},
    }[crm]
    assert names == expected
    assert all(p.is_file() for p in paths.values())


def test_deals_and_history_come_back(read_back, sample):
    _, _, data = read_back
    assert data.stages == sample.stages
    d = _naive(data.deals).sort_values("created_at", kind="stable").reset_index(drop=True)
    s = sample.deals.sort_values("created_at", kind="stable").reset_index(drop=True)
    for col in ("status", "amount", "stage", "created_at", "closed_at"):
        pd.testing.assert_series_equal(d[col], s[col], check_dtype=False, check_names=False)
    assert set(d["status"]) == {"won", "lost", "open"}
    # an open deal's close date is its expected close date, never a close
    assert d.loc[d["status"] == "open", "closed_at"].isna().all()
    if "expected_close" in d:
        assert d.loc[d["status"] != "open", "expected_close"].isna().all()
        assert d.loc[d["status"] == "open", "expected_close"].notna().all()
    h = _naive(data.history)
    assert len(h) == len(sample.history)
    assert h["deal_id"].dtype == data.deals["deal_id"].dtype
    assert h["deal_id"].isin(data.deals["deal_id"]).all()


def test_same_metrics_as_the_sample(read_back, sample):
    _, _, data = read_back
    d, h = _naive(data.deals), _naive(data.history)
    stages = list(data.stages)
    pairs = [
        (fk.win_rate(d), fk.win_rate(sample.deals)),
        (fk.win_rate(d, by="channel"), fk.win_rate(sample.deals, by="channel")),
        (fk.win_rate(d, weighted=True), fk.win_rate(sample.deals, weighted=True)),
        (fk.sales_cycle(d), fk.sales_cycle(sample.deals)),
        (fk.deal_size(d), fk.deal_size(sample.deals)),
        (
            fk.pipeline(d, stages=stages, as_of=sample.as_of),
            fk.pipeline(sample.deals, stages=list(sample.stages), as_of=sample.as_of),
        ),
        (fk.stage_conversion(h, stages), fk.stage_conversion(sample.history, list(sample.stages))),
        (
            fk.time_in_stage(h, stages, as_of=sample.as_of),
            fk.time_in_stage(sample.history, list(sample.stages), as_of=sample.as_of),
        ),
    ]
    for got, expected in pairs:
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_lost_reasons_and_channels_survive(read_back, sample):
    _, _, data = read_back
    d = _naive(data.deals).sort_values("created_at", kind="stable").reset_index(drop=True)
    s = sample.deals.sort_values("created_at", kind="stable").reset_index(drop=True)
    assert (d["lost_reason"].fillna("-") == s["lost_reason"].fillna("-")).all()
    assert (d["channel"].fillna("-") == s["channel"].fillna("-")).all()


def test_unknown_crm_is_an_error(tmp_path):
    with pytest.raises(fk.InvalidParameterError, match=r"'crm' parameter.*hubspot"):
        fk.datasets.export_sample("zoho", tmp_path)
    with pytest.raises(fk.InvalidParameterError, match=r"'crm' parameter of read_crm"):
        fk.crm.read_crm("zoho", pd.DataFrame())


def test_kommo_is_amocrm(tmp_path):
    paths = fk.datasets.export_sample("kommo", tmp_path, n_leads=60)
    a = fk.crm.read_crm("kommo", **paths)
    b = fk.crm.read_amocrm(paths["deals"], events=paths["history"], pipelines=paths["stages"])
    pd.testing.assert_frame_equal(a.deals, b.deals)


def _as_input(path):
    """A file as a reader also takes it: a DataFrame, or API records (list of dicts)."""
    from funnelkit._io import load_records

    if path.suffix == ".json":
        return load_records(path)
    return fk.read_table(path)


def test_inputs_unchanged_and_row_order_does_not_matter(read_back, sample):
    import copy

    import numpy as np

    crm, paths, data = read_back
    tables = {k: _as_input(p) for k, p in paths.items()}
    before = copy.deepcopy(tables)
    rng = np.random.default_rng(3)
    shuffled = {}
    for k, v in tables.items():
        if isinstance(v, pd.DataFrame):
            shuffled[k] = v.iloc[rng.permutation(len(v))].reset_index(drop=True)
        else:
            shuffled[k] = [v[i] for i in rng.permutation(len(v))]
    got = fk.crm.read_crm(crm, **shuffled)
    for k, v in tables.items():
        if isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(v, before[k])
        else:
            assert v == before[k]
    assert got.stages == data.stages
    a = got.deals.sort_values("deal_id").reset_index(drop=True)
    b = data.deals.sort_values("deal_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(
        got.history.reset_index(drop=True), data.history.reset_index(drop=True)
    )
