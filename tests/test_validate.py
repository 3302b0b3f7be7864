"""The validation layer: every kind of bad input gets the documented error."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from funnelkit import (
    ColumnNotFoundError,
    FunnelkitError,
    FunnelkitWarning,
    InvalidDataError,
    InvalidParameterError,
)
from funnelkit import _validate as v


@pytest.fixture
def events():
    return pd.DataFrame(
        {
            "uid": [1, 2, 2, 3],
            "event": ["a", "b", "a", "c"],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]),
        }
    )


def test_error_hierarchy():
    assert issubclass(ColumnNotFoundError, KeyError)
    assert issubclass(ColumnNotFoundError, FunnelkitError)
    assert issubclass(InvalidDataError, ValueError)
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(FunnelkitWarning, UserWarning)


def test_missing_column_names_keyword_lists_columns_and_hints(events):
    with pytest.raises(ColumnNotFoundError) as info:
        v.require_columns(events, {"entity": "user_id", "time": "ts"}, table="events")
    msg = str(info.value)
    assert msg.startswith("Column 'user_id' (entity=) not found in events.")
    assert "Available columns: ['uid', 'event', 'ts']" in msg
    # no close match for user_id among these: no misleading hint
    with pytest.raises(ColumnNotFoundError, match=r"Hint: pass time='ts'"):
        v.require_columns(events, {"time": "tss"}, table="events")


def test_missing_column_case_insensitive_hint():
    df = pd.DataFrame({"User_ID": [1]})
    with pytest.raises(ColumnNotFoundError, match=r"Hint: pass entity='User_ID'"):
        v.require_columns(df, {"entity": "user_id"}, table="events")


def test_null_ids_raise_with_count_and_examples(events):
    df = events.astype({"uid": "float"})
    df.loc[[1, 3], "uid"] = np.nan
    before = df.copy()
    with pytest.raises(InvalidDataError) as info:
        v.check_not_null(df, "uid", table="events", keyword="entity", dropna=False)
    err = info.value
    assert err.column == "uid"
    assert err.n_rows == 2
    assert err.reason == "null"
    assert list(err.examples.index) == [1, 3]
    assert "2 of 4 rows" in str(err)
    assert "dropna=True" in str(err)
    pd.testing.assert_frame_equal(df, before)


def test_null_ids_dropped_with_warning(events):
    df = events.astype({"uid": "float"})
    df.loc[1, "uid"] = np.nan
    with pytest.warns(FunnelkitWarning, match=r"left out 1 of 4 rows"):
        out = v.check_not_null(df, "uid", table="events", keyword="entity", dropna=True)
    assert list(out.index) == [0, 2, 3]


def test_unparseable_timestamps(events):
    df = events.assign(ts=["2024-01-01", "n/a", "2024-01-03", "yesterday"])
    with pytest.raises(InvalidDataError) as info:
        v.as_datetime(df, "ts", table="events")
    msg = str(info.value)
    assert "events['ts'] has 2 of 4 rows that are not datetimes" in msg
    assert "first: 'n/a' at index 1" in msg
    assert "pd.to_datetime" in msg
    assert info.value.n_rows == 2


def test_numeric_timestamps_refused(events):
    df = events.assign(ts=[1, 2, 3, 4])
    with pytest.raises(InvalidDataError, match=r"holds numbers .* unit='s'"):
        v.as_datetime(df, "ts", table="events")


def test_mixed_time_zones_refused():
    df = pd.DataFrame(
        {
            "ts": [
                pd.Timestamp("2024-01-01", tz="UTC"),
                pd.Timestamp("2024-01-01", tz="Europe/Berlin"),
            ]
        },
        dtype=object,
    )
    with pytest.raises(InvalidDataError, match="mix time zones"):
        v.as_datetime(df, "ts", table="events")
    naive_aware = pd.DataFrame(
        {"ts": [dt.datetime(2024, 1, 1), pd.Timestamp("2024-01-01", tz="UTC")]}, dtype=object
    )
    with pytest.raises(InvalidDataError, match="without a time zone while 1 carry one"):
        v.as_datetime(naive_aware, "ts", table="events")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_any_datetime_unit_becomes_ns(unit):
    s = pd.Series(pd.to_datetime(["2024-01-01 00:00:01.5", None])).astype(f"datetime64[{unit}]")
    out = v.as_datetime(pd.DataFrame({"t": s}), "t", table="events")
    assert out.dtype == "datetime64[ns]"
    assert out.isna().tolist() == [False, True]


def test_tz_aware_roundtrip_through_ns():
    s = pd.Series(pd.date_range("2024-03-30 22:00", periods=4, freq="h", tz="Europe/Berlin"))
    out = v.as_datetime(pd.DataFrame({"t": s}), "t", table="events")
    ns = v.datetime_to_ns(out)
    # UTC nanoseconds: one hour apart, regardless of the DST change
    assert np.diff(ns).tolist() == [3_600_000_000_000] * 3
    back = v.ns_to_datetime(ns, v.time_zone(out))
    pd.testing.assert_series_equal(back, out.reset_index(drop=True), check_names=False)


def test_iso_strings_parse():
    df = pd.DataFrame({"t": ["2024-01-01", "2024-01-02T10:00:00", None]})
    out = v.as_datetime(df, "t", table="deals")
    assert out.iloc[1] == pd.Timestamp("2024-01-02 10:00")
    assert pd.isna(out.iloc[2])


def test_negative_and_non_numeric_amounts():
    df = pd.DataFrame({"amount": [10.0, -5.0, 3.0, -1.0]})
    with pytest.raises(InvalidDataError, match=r"2 of 4 rows with negative values") as info:
        v.as_amount(df, "amount", table="deals")
    assert info.value.reason == "negative"
    text = pd.DataFrame({"amount": ["10", "$5", None]})
    with pytest.raises(InvalidDataError, match=r"1 of 3 rows that are not numbers"):
        v.as_amount(text, "amount", table="deals")
    ok = v.as_amount(pd.DataFrame({"amount": ["10", "2.5", None]}), "amount", table="deals")
    assert ok.tolist()[:2] == [10.0, 2.5]


def test_parameter_error_format():
    with pytest.raises(InvalidParameterError) as info:
        v.check_duration("-3D", name="window", func="conversion")
    assert str(info.value) == (
        "The 'window' parameter of conversion must be a non-negative duration or None. "
        "Got '-3D' instead."
    )
    assert v.check_duration("7D", name="window", func="conversion") == pd.Timedelta(days=7)
    assert v.check_duration(None, name="window", func="conversion") is None
    with pytest.raises(InvalidParameterError, match="Got 7 instead"):
        v.check_duration(7, name="window", func="conversion")
    with pytest.raises(InvalidParameterError, match="Got 'soon' instead"):
        v.check_duration("soon", name="window", func="conversion")


def test_option_and_fraction_checks():
    with pytest.raises(InvalidParameterError, match=r"one of 'ordered', 'strict', 'any'"):
        v.check_option("loose", ["ordered", "strict", "any"], name="order", func="conversion")
    for bad in (0, 1, 1.5, -0.1, float("nan"), True, "0.9"):
        with pytest.raises(InvalidParameterError, match=r"'ci' parameter .* in \(0, 1\)"):
            v.check_ci(bad, func="conversion")
    assert v.check_fraction(1, name="rate", func="f", high_inclusive=True) == 1.0
    for bad in (0, -3, float("inf"), 2.5):
        with pytest.raises(InvalidParameterError):
            v.check_positive(bad, name="n", func="f", integer=True)


def test_not_a_dataframe():
    with pytest.raises(InvalidParameterError, match=r"pandas DataFrame .*Got list instead"):
        v.check_frame([1, 2], table="events", func="conversion")


def test_warn_dropped_is_a_funnelkit_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v.warn_dropped(3, 10, "closed_at is null", func="sales_cycle")
    assert caught[0].category is FunnelkitWarning
    assert str(caught[0].message) == "sales_cycle: left out 3 of 10 rows because closed_at is null."


def test_check_date_reads_dates_in_the_data_zone():
    berlin = v.check_date("2024-06-01 12:00", tz="Europe/Berlin", name="as_of", func="f")
    assert berlin == pd.Timestamp("2024-06-01 10:00", tz="UTC")
    # nanoseconds are UTC for aware dates, wall-clock for naive ones
    assert v.timestamp_ns(berlin) == pd.Timestamp("2024-06-01 10:00").value
    utc = v.check_date(pd.Timestamp("2024-06-01", tz="UTC"), tz="Europe/Berlin", name="x", func="f")
    assert str(utc.tz) == "Europe/Berlin"
    naive = v.check_date("2024-06-01", tz=None, name="as_of", func="f")
    assert v.timestamp_ns(naive) == pd.Timestamp("2024-06-01").value
    with pytest.raises(InvalidParameterError, match=r"'as_of' parameter of f must be a date"):
        v.check_date("not a date", tz=None, name="as_of", func="f")
    with pytest.raises(InvalidParameterError, match=r"'as_of' parameter of f must be a date"):
        v.check_date(None, tz=None, name="as_of", func="f")
    with pytest.raises(InvalidParameterError, match=r"naive date .* time-zone-aware"):
        v.check_date(pd.Timestamp("2024-06-01", tz="UTC"), tz=None, name="as_of", func="f")


def test_row_errors_print_index_labels_as_python_values():
    deals = pd.DataFrame(
        {
            "deal_id": [1, 2],
            "created_at": pd.to_datetime(["2024-01-05", "2024-01-01"]),
            "closed_at": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "status": ["won", "lost"],
            "amount": [1.0, 2.0],
        },
        index=pd.Index([10, 11], dtype="int64"),
    )
    import funnelkit as fk

    with pytest.raises(InvalidDataError, match=r"first at index 10\)") as info:
        fk.win_rate(deals)
    assert "np.int64" not in str(info.value)
