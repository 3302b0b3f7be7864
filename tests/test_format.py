"""The one formatter of tables: terminal, report and CSV (funnelkit._format).

Expected texts are written out by hand here, never taken from the formatter.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnelkit._format import (
    column_blocks,
    column_formatters,
    csv_frame,
    duration_unit,
    format_frame,
    neutralise,
    to_csv_text,
)


def cells(df: pd.DataFrame, column: str, **kwargs) -> list[str]:
    fmt = column_formatters(df, **kwargs)[column]
    return [fmt(v) for v in df[column]]


# ----------------------------------------------------------------------------
# durations: one unit per column
# ----------------------------------------------------------------------------
def test_sales_durations_are_days_in_every_cell():
    # the issue: `median 1.0 d` beside `naive_median 24.0 h`
    df = pd.DataFrame(
        {
            "median": pd.to_timedelta(["1D", "16D 4h 48min"]),
            "naive_median": pd.to_timedelta(["23h 59min", "15D 9h 36min"]),
        }
    )
    assert cells(df, "median", durations="d") == ["1.0 d", "16.2 d"]
    assert cells(df, "naive_median", durations="d") == ["1.0 d", "15.4 d"]


def test_event_durations_choose_one_unit_from_the_column():
    minutes = pd.DataFrame({"t": pd.to_timedelta(["90s", "30min", "45min"])})
    assert cells(minutes, "t", durations="auto") == ["1.5 min", "30.0 min", "45.0 min"]
    hours = pd.DataFrame({"t": pd.to_timedelta(["30min", "3h", "5h"])})
    assert cells(hours, "t", durations="auto") == ["0.5 h", "3.0 h", "5.0 h"]  # not 30 min
    days = pd.DataFrame({"t": pd.to_timedelta(["20h", "2D", "9D"])})
    assert cells(days, "t", durations="auto") == ["0.8 d", "2.0 d", "9.0 d"]


def test_terminal_tables_default_to_days():
    df = pd.DataFrame({"time_to_close": pd.to_timedelta(["0s", "2h", "3D"])})
    assert format_frame(df).splitlines()[1:] == ["        0.0 d", "        0.1 d", "        3.0 d"]


def test_negative_and_missing_durations():
    df = pd.DataFrame({"time_left": pd.to_timedelta(["-29D 9h 21min 36s", None, "93D"])})
    assert cells(df, "time_left", durations="d") == ["-29.4 d", "–", "93.0 d"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-(10**15), 10**15), min_size=1, max_size=12))
def test_every_cell_of_a_duration_column_has_the_same_unit(ns):
    df = pd.DataFrame({"t": pd.to_timedelta(ns, unit="ns")})
    units = {c.rsplit(" ", 1)[1] for c in cells(df, "t", durations="auto")}
    assert len(units) == 1
    assert units <= {"d", "h", "min"}
    assert duration_unit(df["t"]) in {"d", "h", "min"}


# ----------------------------------------------------------------------------
# money, counts, ratios, rates
# ----------------------------------------------------------------------------
def test_money_has_no_stray_decimals():
    # the issue: cost_per_lead `91.26` beside `142`
    df = pd.DataFrame({"cost_per_lead": [91.26, 17.9, 142.4], "open_value": [6107700.0, 1.5, 0.0]})
    assert cells(df, "cost_per_lead") == ["91", "18", "142"]
    assert cells(df, "open_value") == ["6,107,700", "2", "0"]


def test_small_money_keeps_its_cents_in_every_cell():
    df = pd.DataFrame({"cost_per_lead": [2.5, 3.75, 4.0]})
    assert cells(df, "cost_per_lead") == ["2.50", "3.75", "4.00"]


def test_whole_numbers_in_a_float_column_show_no_decimals():
    df = pd.DataFrame({"median_touches": [2.0, 4.0, np.nan], "mean_touches": [2.74, 1.5, 3.0]})
    assert cells(df, "median_touches") == ["2", "4", "–"]
    assert cells(df, "mean_touches") == ["2.74", "1.50", "3.00"]  # one precision per column


def test_rates_are_percentages_and_ratios_are_times():
    df = pd.DataFrame(
        {
            "win_rate": [0.0512, 1.0, np.nan],
            "coverage": [6.1077, 0.5, 12.0],
            "lift": [1.1, 0.949, 2],
        }
    )
    assert cells(df, "win_rate") == ["5.1%", "100.0%", "–"]
    assert cells(df, "coverage") == ["6.11×", "0.50×", "12.00×"]
    assert cells(df, "lift") == ["1.10×", "0.95×", "2.00×"]


def test_velocity_says_its_unit():
    df = pd.DataFrame({"velocity": [4687.32]})
    assert cells(df, "velocity") == ["4,687 / day"]


def test_counts_and_p_values():
    df = pd.DataFrame({"deals": [1200, 3], "p_value": [0.0004, 0.3212]})
    assert cells(df, "deals") == ["1,200", "3"]
    assert cells(df, "p_value") == ["<0.001", "0.321"]


# ----------------------------------------------------------------------------
# dates
# ----------------------------------------------------------------------------
def test_dates_without_a_time_when_they_are_dates():
    df = pd.DataFrame({"as_of": pd.to_datetime(["2025-06-30", None])})
    assert cells(df, "as_of") == ["2025-06-30", "–"]


def test_times_to_the_minute_never_the_second():
    df = pd.DataFrame(
        {"enter_by": pd.to_datetime(["2025-05-31 14:39:11", "2025-10-01"], format="ISO8601")}
    )
    assert cells(df, "enter_by") == ["2025-05-31 14:39", "2025-10-01 00:00"]


# ----------------------------------------------------------------------------
# CSV files for a spreadsheet
# ----------------------------------------------------------------------------
def read_back(df: pd.DataFrame) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(to_csv_text(df)), keep_default_na=False, na_values=[""])


def test_csv_durations_are_numbers_of_days_in_a_column_named_so():
    # the issue: `-30 days +18:55:11` reaches a spreadsheet as text it cannot add up
    minus = pd.Timedelta(days=-30) + pd.Timedelta(hours=18, minutes=55, seconds=12)
    df = pd.DataFrame({"stage": ["a", "b", "c"], "median": [pd.Timedelta("36h"), minus, pd.NaT]})
    back = read_back(df)
    assert list(back.columns) == ["stage", "median_days"]
    assert back["median_days"].iloc[0] == pytest.approx(1.5)
    assert back["median_days"].iloc[1] == pytest.approx(-30 + (18 * 60 + 55.2) / 1440)
    assert np.isnan(back["median_days"].iloc[2])
    assert back["median_days"].sum() == pytest.approx(1.5 - 29.2117, abs=1e-4)  # adds up


def test_csv_dates_are_iso():
    df = pd.DataFrame(
        {
            "as_of": pd.to_datetime(["2025-06-30", "2025-07-01"]),
            "entered_at": pd.to_datetime(["2025-05-26 11:13:21.5", None]),
            "utc": pd.to_datetime(["2025-01-02 03:04:05", "2025-01-02 00:00:01"]).tz_localize(
                "Europe/Moscow"
            ),
        }
    )
    back = read_back(df)
    assert back["as_of"].tolist() == ["2025-06-30", "2025-07-01"]
    assert back["entered_at"].iloc[0] == "2025-05-26T11:13:21"
    assert np.isnan(back["entered_at"].iloc[1])
    assert back["utc"].tolist() == ["2025-01-02T03:04:05+03:00", "2025-01-02T00:00:01+03:00"]


@pytest.mark.parametrize("text", ["=1+1", "+31 555", "-2+3", "@SUM(A1)", "\tx", "\r=1"])
def test_csv_cells_that_would_run_as_formulas_are_neutralised(text):
    df = pd.DataFrame({"stage": [text, "demo"], "deals": [-5, 3], "amount": [-1.5, 2.0]})
    back = read_back(df)
    assert back["stage"].tolist() == ["'" + text, "demo"]
    assert back["deals"].tolist() == [-5, 3]  # numbers stay numbers, signs and all
    assert back["amount"].tolist() == [-1.5, 2.0]


def test_csv_headers_and_categories_are_neutralised_too():
    df = pd.DataFrame({"=cmd": pd.Categorical(["=HYPERLINK(1)", "ok"]), "n": [1, 2]})
    back = read_back(df)
    assert list(back.columns) == ["'=cmd", "n"]
    assert back["'=cmd"].tolist() == ["'=HYPERLINK(1)", "ok"]


def test_neutralise_leaves_numbers_and_plain_text():
    assert neutralise(-5) == -5
    assert neutralise(-5.5) == -5.5
    assert neutralise("web") == "web"
    assert neutralise("a=b") == "a=b"


def test_csv_frame_does_not_change_its_input():
    df = pd.DataFrame({"t": pd.to_timedelta(["1D"]), "s": ["=x"]})
    before = df.copy()
    csv_frame(df)
    pd.testing.assert_frame_equal(df, before)


# ----------------------------------------------------------------------------
# layout: blocks of columns instead of a sideways scroll
# ----------------------------------------------------------------------------
def test_a_wide_table_is_cut_into_blocks_that_repeat_the_labels():
    df = pd.DataFrame(
        {"stage": ["lead", "demo"], **{f"measure_{i}": [i, 2 * i] for i in range(12)}}
    )
    text = format_frame(df, width=60)
    blocks = text.split("\n\n")
    assert len(blocks) > 1
    assert all(len(line) <= 60 for line in text.splitlines())
    headers = [block.splitlines()[0].split() for block in blocks]
    assert all(h[0] == "stage" for h in headers)
    shown = [name for h in headers for name in h[1:]]
    assert shown == [f"measure_{i}" for i in range(12)]  # each column once, in order


def test_a_wide_single_row_is_a_list_of_name_and_value():
    df = pd.DataFrame({f"measure_{i}": [float(i)] for i in range(1, 15)})
    lines = format_frame(df, width=40).splitlines()
    assert lines[0].split() == ["measure_1", "1"]
    assert len(lines) == 14


def test_long_text_is_cut_with_an_ellipsis():
    df = pd.DataFrame({"why": ["x" * 100], "n": [1]})
    assert format_frame(df, max_text=10).splitlines()[1].startswith("xxxxxxxxx… ")


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(1, 40), min_size=1, max_size=20),
    st.integers(0, 3),
    st.integers(20, 120),
)
def test_column_blocks_show_every_column_once_and_fit(widths, keys, width):
    keys = min(keys, len(widths))
    blocks = column_blocks(widths, keys=keys, width=width)
    rest = [j for block in blocks for j in block if j >= keys]
    assert rest == list(range(keys, len(widths)))
    assert blocks[0][:keys] == list(range(keys))
    for block in blocks:
        own = [j for j in block if j >= keys]
        used = sum(widths[j] for j in block) + 2 * (len(block) - 1)
        assert used <= width or len(own) <= 1  # only a column (or keys) too wide alone overflows


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(["cost_per_lead", "mean_touches", "roi", "coverage", "deals"]),
    st.lists(st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False), min_size=1, max_size=10),
)
def test_every_cell_of_a_number_column_has_the_same_decimals(name, values):
    texts = cells(pd.DataFrame({name: values}), name)
    decimals = {len(t.rstrip("×").split(".")[1]) if "." in t else 0 for t in texts}
    assert len(decimals) == 1, texts
    (places,) = decimals
    for t, v in zip(texts, values, strict=True):  # and the number is the value, rounded
        shown = float(t.rstrip("×").replace(",", ""))
        assert shown == pytest.approx(v, abs=0.5 * 10**-places + 1e-9)
