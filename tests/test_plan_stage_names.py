"""``plan`` matches the ``stages`` by value: integer stage ids work like their text.

CRM exports (amoCRM, Bitrix24) often give stages as integer status ids.  The
reference for every check is the same data with the stage values and the
``stages`` converted to text: the plan must be the same apart from the labels,
which keep the values the user passed (as ``pipeline`` and ``stage_conversion``
label their rows).  A stage value that equals a stage only as text (``1``
against ``"1"``) can never match, and is refused with an error naming the
column and the fix.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnelkit as fk
from funnelkit.errors import FunnelkitWarning, InvalidDataError, InvalidParameterError
from tests.strategies import DEAL_STAGES, deal_tables

#: Integer ids for the strategy's stages, deliberately not in funnel order.
IDS = {"lead": 101, "demo": 7, "offer": 30, "contract": 42}


def day(n: int) -> pd.Timestamp:
    return pd.Timestamp("2025-01-01") + pd.Timedelta(days=n)


def as_text(values: pd.Series) -> pd.Series:
    """Stage ids as text, missing values kept (``10.0`` of a float column as ``'10'``)."""
    return values.map(lambda v: v if pd.isna(v) else str(int(v))).astype(object)


def text_tables(deals, history):
    return deals.assign(stage=as_text(deals["stage"])), history.assign(
        stage=as_text(history["stage"])
    )


@pytest.fixture
def numbered():
    """Six deals a-f with integer stages 10 < 20 < 30 (and 99, a stage outside them)."""
    deals = pd.DataFrame(
        {
            "deal_id": list("abcdef"),
            "created_at": [day(0)] * 6,
            "closed_at": [day(40), day(50), day(30), day(20), day(10), pd.NaT],
            "status": ["won", "won", "lost", "lost", "lost", "open"],
            "amount": [100.0, 200.0, 0.0, 0.0, 0.0, 50.0],
            # e has no stage: the column is float, as an export with gaps gives it
            "stage": [30, 30, 20, 10, np.nan, 20],
            "region": ["n", "s", "n", "s", "n", "s"],
        }
    )
    history = pd.DataFrame(
        {
            "deal_id": list("aabccdf"),
            "stage": [10, 20, 30, 10, 99, 10, 20],
            "entered_at": [day(0), day(5), day(20), day(0), day(8), day(0), day(3)],
        }
    )
    return deals, history


def run(deals, history, stages, **kwargs):
    kwargs.setdefault("as_of", day(60))
    kwargs.setdefault("period_end", day(90))
    return fk.plan(deals, 1_000, history=history, stages=stages, **kwargs)


def test_integer_stages_plan_like_their_text(numbered):
    deals, history = numbered
    res = run(deals, history, [10, 20, 30])
    ref = run(*text_tables(deals, history), ["10", "20", "30"])
    pd.testing.assert_frame_equal(res.drop(columns="stage"), ref.drop(columns="stage"))
    # the labels are the stages as passed
    assert res["stage"].tolist() == [10, 20, 30, "won"]
    assert ref["stage"].tolist() == ["10", "20", "30", "won"]
    # by hand: closed deals a-e all count at 10; at 20: a, b (won), c (deal table) = 3;
    # at 30: a, b (won) = 2 (c reached 20 only: 99 is outside the stages); won: a, b
    assert res["closed"].tolist() == [5, 3, 2, 2]
    np.testing.assert_allclose(res["conversion"].to_numpy()[:3], [3 / 5, 2 / 3, 1.0])
    assert res["open"].tolist() == [0, 1, 0, 0]  # f, at 20


def test_integer_stages_by_group_plan_like_their_text(numbered):
    deals, history = numbered
    deals = deals.assign(status=["won", "won", "lost", "lost", "won", "open"])
    res = run(deals, history, [10, 20, 30], by="region")
    ref = run(*text_tables(deals, history), ["10", "20", "30"], by="region")
    pd.testing.assert_frame_equal(res.drop(columns="stage"), ref.drop(columns="stage"))
    assert res["stage"].tolist() == [10, 20, 30, "won"] * 2


def test_numpy_and_float_stage_names_match_integer_values(numbered):
    deals, history = numbered
    res = run(deals, history, [10, 20, 30])
    for stages in ([np.int64(10), np.int64(20), np.int64(30)], [10.0, 20.0, 30.0]):
        other = run(deals, history, stages)
        pd.testing.assert_frame_equal(other.drop(columns="stage"), res.drop(columns="stage"))
        assert other["stage"].tolist() == [*stages, "won"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tables=deal_tables(),
    stages=st.lists(st.sampled_from(DEAL_STAGES), min_size=2, max_size=4, unique=True),
    latest=st.booleans(),
)
def test_generated_integer_stages_plan_like_their_text(tables, stages, latest):
    # a random subset of the stages in a random order: the others are outside them;
    # as_of the generated date or the latest observed one (more closed deals to plan from)
    deals, history, _, as_of = tables
    as_of = None if latest else as_of
    ints = (
        deals.assign(stage=deals["stage"].map(IDS)),
        history.assign(stage=history["stage"].map(IDS)),
    )
    texts = text_tables(*ints)
    outcomes = []
    for (d, h), names in ((ints, [IDS[s] for s in stages]), (texts, [str(IDS[s]) for s in stages])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FunnelkitWarning)
            try:
                res = fk.plan(d, 1_000, history=h, stages=names, as_of=as_of, period_end=day(100))
            except InvalidDataError as exc:  # e.g. no won deal with an amount
                outcomes.append(("error", exc.reason, str(exc)))
                continue
        outcomes.append(("plan", res.drop(columns="stage"), res["stage"].tolist()))
    (kind, *got), (ref_kind, *want) = outcomes
    assert kind == ref_kind
    if kind == "plan":
        pd.testing.assert_frame_equal(got[0], want[0])
        for labels, names in (
            (got[1], [IDS[s] for s in stages]),
            (want[1], [str(IDS[s]) for s in stages]),
        ):
            assert labels == [*names, "won"][: len(labels)]
    else:
        assert got == want


def test_text_stages_against_integer_history_are_refused(numbered):
    deals, history = numbered
    with pytest.raises(InvalidDataError) as info:
        run(deals, history, ["10", "20", "30"])
    exc = info.value
    assert (exc.column, exc.reason) == ("stage", "unknown_stage")
    assert exc.n_rows == 6  # every history row but the one at 99
    msg = str(exc)
    assert msg.startswith("history['stage'] has 6 of 7 rows")
    assert "10 (int) where 'stages' has '10' (str)" in msg
    assert "Pass the stages as the column holds them (stages=[10, 20, 30])" in msg
    assert len(exc.examples) == 5
    assert set(exc.examples["stage"]) <= {10, 20, 30}
    # one text stage among integers: refused as well, naming only that one
    with pytest.raises(InvalidDataError, match=r"'stages' has '20' \(str\).*\[10, 20, 30\]"):
        run(deals, history, [10, "20", 30])
    # with by=: the same error once, not worded as one group's failure
    with pytest.raises(InvalidDataError, match=r"^history\['stage'\] has 6 of 7 rows"):
        run(deals, history, ["10", "20", "30"], by="region")


def test_text_stages_against_the_deal_tables_stage_are_refused(numbered):
    deals, history = numbered
    text_history = history.assign(stage=as_text(history["stage"]))
    # the history matches; the deal table's stage (float ids) counts too, and does not
    with pytest.raises(
        InvalidDataError,
        match=r"^deals\['stage'\] has 5 of 6 rows .* only as text: 30\.0 \(float\) where "
        r"'stages' has '30' \(str\)",
    ) as info:
        run(deals, text_history, ["10", "20", "30"])
    assert info.value.column == "stage"
    # integer stages against text values: the other way round
    with pytest.raises(InvalidDataError, match=r"'stages' has 10 \(int\)"):
        run(*text_tables(deals, history), [10, 20, 30])


def test_other_stages_are_still_ignored(numbered):
    deals, history = numbered
    # 99 and the deal table's 30 are other stages (not 10 or 20 as text): no error
    res = run(deals, history, [10, 20])
    assert res["stage"].tolist() == [10, 20, "won"]
    assert res["closed"].tolist() == [5, 3, 2]


def test_stages_that_print_alike_are_refused(numbered):
    deals, history = numbered
    for stages in ([10, "10"], [10, [20]], [10, None]):
        with pytest.raises(InvalidParameterError, match=r"The 'stages' parameter of plan"):
            run(deals, history, stages)


@pytest.mark.parametrize("dtype", ["string", "category", object])
def test_stage_columns_of_every_dtype(numbered, dtype):
    deals, history = numbered
    texts = text_tables(deals, history)
    ref = run(*texts, ["10", "20", "30"])
    typed = [t.assign(stage=t["stage"].astype(dtype)) for t in texts]
    pd.testing.assert_frame_equal(run(*typed, ["10", "20", "30"]), ref)
    with pytest.raises(InvalidDataError, match=r"'stages' has 10 \(int\)"):
        run(*typed, [10, 20, 30])
    as_category = history.assign(stage=history["stage"].astype("category"))
    with pytest.raises(InvalidDataError, match=r"^history\['stage'\] has 6 of 7 rows"):
        run(deals, as_category, ["10", "20", "30"])
