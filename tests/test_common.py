"""Checks every public data function passes, whatever it computes.

For each function, one ordinary call on the bundled sample, then:
the inputs are left unchanged; a table that is not a DataFrame, and a
column that is not there, get funnelkit's documented errors (never a pandas
traceback); the result is a tidy DataFrame with a RangeIndex; shuffling the
input rows does not change the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

import funnelkit as fk


@pytest.fixture(scope="module")
def sample():
    return fk.datasets.load_sample()


@dataclass
class Case:
    name: str
    #: builds the call's data tables from the sample: {argument name: DataFrame}
    tables: Callable[[Any], dict[str, pd.DataFrame]]
    #: calls the function with those tables
    call: Callable[..., pd.DataFrame]
    #: (table argument, keyword, column) used to provoke a missing-column error
    missing: tuple[str, str, str]
    #: whether the result is defined independently of input row order
    shuffle_ok: bool = True


def _deals(s):
    return {"deals": s.deals}


def _history(s):
    return {"history": s.history}


def _history_deals(s):
    return {"history": s.history, "deals": s.deals}


CASES = [
    Case(
        "win_rate",
        _deals,
        lambda deals: fk.win_rate(deals, by="channel"),
        ("deals", "status", "status"),
    ),
    Case(
        "deal_size",
        _deals,
        lambda deals: fk.deal_size(deals, by="owner"),
        ("deals", "amount", "amount"),
    ),
    Case(
        "sales_cycle", _deals, lambda deals: fk.sales_cycle(deals), ("deals", "closed", "closed_at")
    ),
    Case(
        "win_curve", _deals, lambda deals: fk.win_curve(deals), ("deals", "created", "created_at")
    ),
    Case(
        "pipeline",
        _deals,
        lambda deals: fk.pipeline(deals, stages=list(fk.datasets.STAGES)),
        ("deals", "stage", "stage"),
    ),
    Case(
        "sales_velocity",
        _deals,
        lambda deals: fk.sales_velocity(deals),
        ("deals", "amount", "amount"),
    ),
    Case(
        "coverage", _deals, lambda deals: fk.coverage(deals, 500_000), ("deals", "amount", "amount")
    ),
    Case("leaderboard", _deals, lambda deals: fk.leaderboard(deals), ("deals", "owner", "owner")),
    Case(
        "channel_yield",
        _deals,
        lambda deals: fk.channel_yield(deals),
        ("deals", "channel", "channel"),
    ),
    Case(
        "stage_conversion",
        _history,
        lambda history: fk.stage_conversion(history, list(fk.datasets.STAGES)),
        ("history", "deal", "deal_id"),
    ),
    Case(
        "time_in_stage",
        _history,
        lambda history: fk.time_in_stage(history, list(fk.datasets.STAGES)),
        ("history", "entered", "entered_at"),
    ),
    Case(
        "stalled",
        _history_deals,
        lambda history, deals: fk.stalled(history, list(fk.datasets.STAGES), deals=deals),
        ("history", "stage", "stage"),
    ),
    Case(
        "lost_deals",
        _history_deals,
        lambda history, deals: fk.lost_deals(deals, history=history),
        ("deals", "lost_reason", "lost_reason"),
    ),
    Case(
        "revival_candidates",
        _history_deals,
        lambda history, deals: fk.revival_candidates(
            deals, history=history, stages=list(fk.datasets.STAGES)
        ),
        ("deals", "status", "status"),
    ),
    Case(
        "deal_entities",
        _history_deals,
        lambda history, deals: fk.deal_entities(
            deals, history=history, stages=list(fk.datasets.STAGES), as_of="2025-06-30"
        ),
        ("history", "entered", "entered_at"),
        shuffle_ok=False,  # one row per deal, in the deal table's order
    ),
    Case(
        "plan",
        _history_deals,
        lambda history, deals: fk.plan(
            deals,
            1_500_000,
            history=history,
            stages=list(fk.datasets.STAGES[:-1]),
            period_end="2025-10-01",
        ),
        ("deals", "closed", "closed_at"),
    ),
    Case(
        "target_probability",
        lambda s: {
            "open_deals": s.deals.loc[s.deals["status"] == "open", ["deal_id", "amount"]].assign(
                probability=0.2
            )
        },
        lambda open_deals: fk.target_probability(500_000, open_deals=open_deals),
        ("open_deals", "amount", "amount"),
    ),
    Case(
        "touches_to_response",
        lambda s: {"touches": s.touches},
        lambda touches: fk.touches_to_response(touches, channel="channel"),
        ("touches", "response", "response"),
    ),
    Case(
        "touches_summary",
        lambda s: {"touches": s.touches},
        lambda touches: fk.touches_summary(touches),
        ("touches", "time", "timestamp"),
    ),
    Case(
        "touches_from_counts",
        lambda s: {
            "prospects": s.touches.groupby("user_id", as_index=False).agg(
                contacts=("response", "size"),
                response=("response", lambda r: "positive" if (r == "positive").any() else "no"),
            )
        },
        lambda prospects: fk.touches_from_counts(prospects),
        ("prospects", "contacts", "contacts"),
        shuffle_ok=False,  # the log lists prospects in input order
    ),
    Case(
        "triggers",
        lambda s: {"events": s.events},
        lambda events: fk.triggers(events, list(fk.datasets.STAGES), at_step=3),
        ("events", "event", "event"),
    ),
    Case(
        "compare_segments",
        lambda s: {"events": s.events},
        lambda events: fk.compare_segments(events, list(fk.datasets.STAGES[:4]), by="channel"),
        ("events", "entity", "user_id"),
    ),
]
STAGES = list(fk.datasets.STAGES)
CASES += [
    Case(
        "funnel_entities",
        lambda s: {"events": s.events},
        lambda events: fk.funnel_entities(events, STAGES, window="60D", by="channel"),
        ("events", "entity", "user_id"),
    ),
    Case(
        "conversion",
        lambda s: {"events": s.events},
        lambda events: fk.conversion(events, STAGES, by="industry"),
        ("events", "by", "industry"),
    ),
    Case(
        "dropoff",
        lambda s: {"events": s.events},
        lambda events: fk.dropoff(events, STAGES, order="strict", by="region"),
        ("events", "time", "timestamp"),
    ),
    Case(
        "time_to_convert",
        lambda s: {"events": s.events},
        lambda events: fk.time_to_convert(events, STAGES, to_step="proposal", by="owner"),
        ("events", "event", "event"),
    ),
]
CASES += [
    Case(
        "conversion_over_time",
        lambda s: {"events": s.events},
        lambda events: fk.conversion_over_time(events, STAGES[:4], period="M", window="60D"),
        ("events", "time", "timestamp"),
    ),
    Case(
        "next_events",
        lambda s: {"events": s.events},
        lambda events: fk.next_events(events, STAGES, after_step=2),
        ("events", "entity", "user_id"),
    ),
]
IDS = [c.name for c in CASES]


def _run(case, tables):
    return case.call(**tables)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_inputs_unchanged_and_result_tidy(case, sample):
    tables = case.tables(sample)
    before = {k: v.copy(deep=True) for k, v in tables.items()}
    result = _run(case, tables)
    for k, v in tables.items():
        pd.testing.assert_frame_equal(v, before[k])
    assert isinstance(result, pd.DataFrame)
    assert isinstance(result.index, pd.RangeIndex)
    assert result.index.start == 0
    assert len(result.columns) == len(set(result.columns))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_not_a_dataframe(case, sample):
    tables = case.tables(sample)
    arg = case.missing[0]
    tables[arg] = tables[arg].to_dict("list")
    with pytest.raises(fk.FunnelkitError):
        _run(case, tables)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_missing_column_names_the_keyword(case, sample):
    tables = case.tables(sample)
    arg, keyword, column = case.missing
    tables[arg] = tables[arg].drop(columns=[column])
    with pytest.raises(fk.ColumnNotFoundError, match=rf"{keyword}=.*Available columns"):
        _run(case, tables)


@pytest.mark.parametrize("case", [c for c in CASES if c.shuffle_ok], ids=lambda c: c.name)
def test_row_order_does_not_matter(case, sample):
    tables = case.tables(sample)
    rng = np.random.default_rng(7)
    shuffled = {
        k: v.iloc[rng.permutation(len(v))].reset_index(drop=True) for k, v in tables.items()
    }
    expected = _run(case, tables)
    got = _run(case, shuffled)
    pd.testing.assert_frame_equal(got, expected)


#: Result-column spellings retired by the one vocabulary of results (docs/data-model.md,
#: "One vocabulary of results"): each concept has one name in every result.
RETIRED_COLUMNS = {
    # won / closed is win_rate; a denominator of closed deals is closed
    "rate": "win_rate (or response_rate, conversion)",
    "rate_low": "win_rate_low",
    "rate_high": "win_rate_high",
    "denominator": "closed",
    "closed_deals": "closed",
    "n_closed": "closed",
    "open_deals": "open",
    "n_open": "open",
    # the censoring-aware figure has the plain name, the naive one a qualifier
    "median_adjusted": "median",
    "median_closed": "naive_median",
    "median_cycle": "naive_median_cycle",
    # one name for the average won deal and for money totals ("value" + qualifier)
    "avg_deal": "avg_won_deal",
    "revenue": "won_value",
    "revenue_per_lead": "won_value_per_lead",
    "value_at_risk": "the amount column's name",
    "total": "value",
    # unit counts are named after the unit; steps are from_step / to_step
    "count": "entities",
    "n": "the unit's name (deals, entities, ...)",
    "n_other": "other_outcome",
    "next_step": "to_step",
    # four meanings of "probability", four names
    "probability": "win_probability, cumulative_win or p_hit_target",
    "probability_low": "win_probability_low or cumulative_win_low",
    "probability_high": "win_probability_high or cumulative_win_high",
}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_result_columns_use_the_one_vocabulary(case, sample):
    result = _run(case, case.tables(sample))
    retired = {c: RETIRED_COLUMNS[c] for c in result.columns if c in RETIRED_COLUMNS}
    assert not retired, f"{case.name} returns retired column names (use instead): {retired}"
    # an interval column always sits beside the figure it bounds
    for col in result.columns:
        if isinstance(col, str) and col.endswith(("_low", "_high")):
            base = col.rsplit("_", 1)[0]
            assert base in result.columns, f"{case.name}: {col} without {base}"


#: Public functions that read a table but are not data functions of the common checks,
#: each with the reason and where it is checked instead.
NOT_COMMON = {
    # writes files and returns their path; tests/test_report.py compares every table it
    # writes with the public function it calls
    "report",
    # plans from numbers; its only table (stage_rates= as a stage_conversion result) is
    # optional and checked in tests/test_planning.py
    "deals_needed",
}


def _reads_a_table(name: str) -> bool:
    import inspect

    func = getattr(fk, name)
    if not inspect.isfunction(func) or name.startswith("plot_"):
        return False  # plots take a result table: tests/test_api.py and test_plot_*.py
    params = list(inspect.signature(func).parameters.values())
    return any("DataFrame" in str(p.annotation) for p in params)


def test_every_public_data_function_has_a_case():
    """A new public function that reads a table fails here until it gets a Case."""
    data_functions = {n for n in fk.__all__ if _reads_a_table(n)}
    assert data_functions  # the detection itself works
    missing = sorted(data_functions - {c.name for c in CASES} - NOT_COMMON)
    assert not missing, f"public data functions without a common-checks Case: {missing}"
    unknown = sorted({c.name for c in CASES} - set(fk.__all__))
    assert not unknown, f"Cases of names that are not public: {unknown}"
    assert data_functions >= NOT_COMMON
