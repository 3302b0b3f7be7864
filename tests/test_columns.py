"""The column schema: one ``columns=`` mapping serves every function."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk
from funnelkit.columns import ROLES
from funnelkit.errors import InvalidParameterError

#: The sample's deal and history columns renamed as a CRM export might name them.
RENAME_DEALS = {
    "deal_id": "Opportunity ID",
    "created_at": "Created Date",
    "closed_at": "Close Date",
    "status": "Outcome",
    "amount": "Value",
    "stage": "Stage Name",
    "owner": "Rep",
    "channel": "Lead Source",
    "lost_reason": "Reason Lost",
}
RENAME_HISTORY = {"deal_id": "Opportunity ID", "stage": "Stage Name", "entered_at": "Entered"}
COLS = fk.Columns(
    deal="Opportunity ID",
    created="Created Date",
    closed="Close Date",
    status="Outcome",
    amount="Value",
    stage="Stage Name",
    owner="Rep",
    channel="Lead Source",
    lost_reason="Reason Lost",
    entered="Entered",
    won="Closed Won",
    lost="Closed Lost",
    # roles of other tables are ignored by the deal functions
    entity="who",
    time="when",
)


@pytest.fixture(scope="module")
def tables():
    s = fk.datasets.load_sample()
    deals = s.deals.rename(columns=RENAME_DEALS)
    deals["Outcome"] = deals["Outcome"].map(
        {"won": "Closed Won", "lost": "Closed Lost", "open": "Open"}
    )
    history = s.history.rename(columns=RENAME_HISTORY)
    return s, deals, history


def _calls(deals, history, stages, as_of):
    """Every deal and history function, as (name, callable taking **kw)."""
    stage_list = list(stages)
    return {
        "win_rate": lambda **kw: fk.win_rate(deals, by="channel_x", **kw),
        "deal_size": lambda **kw: fk.deal_size(deals, **kw),
        "sales_cycle": lambda **kw: fk.sales_cycle(deals, as_of=as_of, **kw),
        "win_curve": lambda **kw: fk.win_curve(deals, as_of=as_of, **kw),
        "pipeline": lambda **kw: fk.pipeline(
            deals, stages=stage_list[:-1], history=history, as_of=as_of, **kw
        ),
        "sales_velocity": lambda **kw: fk.sales_velocity(deals, as_of=as_of, **kw),
        "coverage": lambda **kw: fk.coverage(deals, 1_000_000, as_of=as_of, **kw),
        "leaderboard": lambda **kw: fk.leaderboard(deals, as_of=as_of, **kw),
        "channel_yield": lambda **kw: fk.channel_yield(deals, **kw),
        "stage_conversion": lambda **kw: fk.stage_conversion(history, stage_list, **kw),
        "time_in_stage": lambda **kw: fk.time_in_stage(
            history, stage_list, deals=deals, as_of=as_of, **kw
        ),
        "stalled": lambda **kw: fk.stalled(history, stage_list, deals=deals, as_of=as_of, **kw),
        "lost_deals": lambda **kw: fk.lost_deals(deals, history=history, stages=stage_list, **kw),
        "revival_candidates": lambda **kw: fk.revival_candidates(
            deals, history=history, stages=stage_list, as_of=as_of, **kw
        ),
        "plan": lambda **kw: fk.plan(
            deals,
            1_000_000,
            history=history,
            stages=stage_list[:-1],
            as_of=as_of,
            period_end="2025-12-31",
            **kw,
        ),
    }


def _rename_back(result: pd.DataFrame) -> pd.DataFrame:
    back = {v: k for k, v in RENAME_DEALS.items()} | {"Entered": "entered_at"}
    return result.rename(columns=back)


def test_one_mapping_runs_every_deal_and_history_function(tables):
    s, deals, history = tables
    # a by= column that is not a role, present in both spellings
    plain_deals = s.deals.assign(channel_x=s.deals["channel"])
    renamed_deals = deals.assign(channel_x=deals["Lead Source"])
    reference = _calls(plain_deals, s.history, s.stages, s.as_of)
    mapped = _calls(renamed_deals, history, s.stages, s.as_of)
    assert set(reference) == set(mapped)
    for name in reference:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            expected = reference[name]()
            got = mapped[name](columns=COLS)
        # renaming builds a new column Index (str-typed on pandas 3): compare the names
        pd.testing.assert_frame_equal(
            _rename_back(got), expected, obj=name, check_column_type=False
        )


def test_a_plain_dict_works_like_columns(tables):
    s, deals, _ = tables
    got = fk.win_rate(deals, columns=dict(COLS))
    pd.testing.assert_frame_equal(got, fk.win_rate(s.deals))


def test_explicit_keyword_overrides_the_mapping(tables):
    s, deals, _ = tables
    twice = deals.assign(Other=deals["Outcome"].replace({"Closed Won": "W"}))
    got = fk.win_rate(twice, columns=COLS, status="Other", won="W")
    pd.testing.assert_frame_equal(got, fk.win_rate(s.deals))


def test_win_rate_by_hand_with_mapping():
    deals = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "opened": pd.to_datetime(["2025-01-01"] * 5),
            "shut": pd.to_datetime(["2025-02-01", "2025-02-03", "2025-02-05", None, None]),
            "state": ["Won", "Lost", "Won", "Open", "Open"],
        }
    )
    cols = {"deal": "id", "created": "opened", "closed": "shut", "status": "state"}
    res = fk.win_rate(deals, columns={**cols, "won": "Won", "lost": "Lost"})
    # 2 won of 3 closed, counted by hand
    assert res["won"].tolist() == [2]
    assert res["lost"].tolist() == [1]
    assert res["win_rate"].tolist() == pytest.approx([2 / 3])


def test_unknown_role_is_an_error_with_a_hint():
    with pytest.raises(InvalidParameterError, match=r"unknown role 'dael'.*did you mean 'deal'"):
        fk.win_rate(pd.DataFrame(), columns={"dael": "id"})
    with pytest.raises(InvalidParameterError, match=r"must be a mapping.*Got list"):
        fk.win_rate(pd.DataFrame(), columns=["deal"])


def test_columns_value():
    cols = fk.Columns(deal="id", won="W")
    assert dict(cols) == {"deal": "id", "won": "W"}
    assert len(cols) == 2
    assert "stage" not in cols
    assert cols.replace(stage="s")["stage"] == "s"
    with pytest.raises(InvalidParameterError, match="unknown role 'stgae'"):
        cols.replace(stgae="s")
    with pytest.raises(AttributeError):
        cols.deal = "x"  # type: ignore[misc]
    assert set(ROLES) >= {"entity", "time", "event", "entered", "positive", "won", "lost"}


def test_old_time_keyword_of_history_functions_warns(tables):
    s, _, _ = tables
    with pytest.warns(FutureWarning, match=r"stage_conversion\(time=\.\.\.\) is now spelled"):
        old = fk.stage_conversion(s.history, list(s.stages), time="entered_at")
    pd.testing.assert_frame_equal(old, fk.stage_conversion(s.history, list(s.stages)))
    with pytest.raises(InvalidParameterError, match="pass entered= only"):
        fk.stage_conversion(s.history, list(s.stages), time="x", entered="entered_at")


def test_maven_crm_with_one_mapping_equals_plain_pandas(shared_data):
    path = shared_data / "maven_crm_sales_opportunities" / "sales_pipeline.csv"
    raw = pd.read_csv(path)
    deals = raw.assign(
        engage_date=pd.to_datetime(raw["engage_date"]),
        close_date=pd.to_datetime(raw["close_date"]),
    )
    # Maven's deal_stage is both the status and the stage; prospecting deals have no
    # engage date yet and stay out of the cycle figures
    cols = fk.Columns(
        deal="opportunity_id",
        created="engage_date",
        closed="close_date",
        status="deal_stage",
        stage="deal_stage",
        amount="close_value",
        owner="sales_agent",
        won="Won",
        lost="Lost",
    )
    res = fk.win_rate(deals, by="sales_agent", columns=cols)
    closed = raw[raw["deal_stage"].isin(["Won", "Lost"])]
    expected = closed.groupby("sales_agent")["deal_stage"].apply(lambda s: (s == "Won").mean())
    got = res.set_index("sales_agent")["win_rate"]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_exact=False
    )
    size = fk.deal_size(deals, columns=cols)
    won_values = raw.loc[raw["deal_stage"] == "Won", "close_value"]
    assert size["mean"].iloc[0] == pytest.approx(won_values.mean())
    assert size["deals"].iloc[0] == len(won_values)
    with pytest.warns(fk.FunnelkitWarning, match="have no amount"):
        board = fk.leaderboard(deals, columns=cols)
    won_by_rep = won_values.groupby(raw["sales_agent"]).sum()
    np.testing.assert_allclose(
        board.set_index("sales_agent")["won_value"].sort_index().to_numpy(),
        won_by_rep.sort_index().to_numpy(),
    )


def test_one_mapping_serves_the_event_and_touch_functions():
    s = fk.datasets.load_sample(n_leads=800)
    steps = list(s.stages[:4])
    events = s.events.rename(columns={"user_id": "lead", "timestamp": "at", "event": "what"})
    touches = s.touches.rename(columns={"user_id": "lead", "timestamp": "at", "response": "reply"})
    touches["reply"] = touches["reply"].replace({"positive": "yes"})
    cols = fk.Columns(
        entity="lead",
        time="at",
        event="what",
        response="reply",
        positive="yes",
        deal="ignored by these functions",
    )
    pairs = [
        (fk.conversion(events, steps, columns=cols), fk.conversion(s.events, steps)),
        (fk.dropoff(events, steps, columns=cols), fk.dropoff(s.events, steps)),
        (fk.time_to_convert(events, steps, columns=cols), fk.time_to_convert(s.events, steps)),
        (
            fk.funnel_entities(events, steps, columns=cols).rename(columns={"lead": "user_id"}),
            fk.funnel_entities(s.events, steps),
        ),
        (fk.triggers(events, steps, columns=cols), fk.triggers(s.events, steps)),
        (
            fk.touches_to_response(touches, columns=cols),
            fk.touches_to_response(s.touches),
        ),
        (fk.touches_summary(touches, columns=cols), fk.touches_summary(s.touches)),
    ]
    for got, expected in pairs:
        pd.testing.assert_frame_equal(got, expected)
