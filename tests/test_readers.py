"""The readers' shared rules: every bad input of a table gets the documented error.

Dates, containers, amounts and value labels, first on the low-level checks
every reader calls (``funnelkit._validate``), then through public functions.
Each error test checks the type, the column named, the row count in the
message and the fix; each "accepted" test checks that no number changes
(against plain pandas / numpy or hand-computed values).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelkit as fk
from funnelkit import FunnelkitWarning, InvalidDataError, InvalidParameterError
from funnelkit import _validate as v
from tests.test_common import CASES

UNITS = ["s", "ms", "us", "ns"]
NS_PER = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def _frame(values, dtype=None):
    return pd.DataFrame({"t": pd.Series(values, dtype=dtype)})


# ----------------------------------------------------------------------------
# dates: units and time zones
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Berlin"])
def test_any_unit_and_zone_gives_the_same_instants(unit, tz):
    base = pd.Series(pd.to_datetime(["2024-03-31 00:59:59", "2024-03-31 01:00:01", None]))
    if tz is not None:
        base = base.dt.tz_localize("UTC").dt.tz_convert(tz)
    ns = v.as_datetime(pd.DataFrame({"t": base}), "t", table="events")
    other = v.as_datetime(pd.DataFrame({"t": base.astype(base.dtype)}), "t", table="events")
    if unit != "ns":
        cast = pd.DatetimeTZDtype(unit, base.dtype.tz) if tz is not None else f"datetime64[{unit}]"
        other = v.as_datetime(pd.DataFrame({"t": base.astype(cast)}), "t", table="events")
    pd.testing.assert_series_equal(other, ns)
    # the instants, by hand: 00:59:59 and 01:00:01 UTC (the DST change in Berlin)
    expected = [
        pd.Timestamp("2024-03-31 00:59:59").value,
        pd.Timestamp("2024-03-31 01:00:01").value,
        np.iinfo(np.int64).min,
    ]
    assert v.datetime_to_ns(other).tolist() == expected


@settings(max_examples=150, deadline=None)
@given(
    unit=st.sampled_from(UNITS),
    values=st.lists(
        st.integers(
            min_value=v.DATE_MIN.value // 10**9 + 1, max_value=v.DATE_MAX.value // 10**9 - 1
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_any_unit_in_range_round_trips(unit, values):
    # seconds in range, written in the unit: the ns are exactly seconds * 1e9
    per = NS_PER[unit]
    raw = np.array([x * (10**9 // per) for x in values], dtype=np.int64).view(f"datetime64[{unit}]")
    out = v.as_datetime(pd.DataFrame({"t": raw}), "t", table="events")
    assert out.dtype == "datetime64[ns]"
    assert v.datetime_to_ns(out).tolist() == [x * 10**9 for x in values]


def test_seconds_unit_gives_the_same_touches_and_cycles(rng):
    sample = fk.datasets.load_sample()
    touches = sample.touches
    as_s = touches.assign(timestamp=touches["timestamp"].astype("datetime64[s]"))
    pd.testing.assert_frame_equal(fk.touches_summary(as_s), fk.touches_summary(touches))
    events = sample.events
    events_ms = events.assign(timestamp=events["timestamp"].astype("datetime64[ms]"))
    steps = list(fk.datasets.STAGES)
    pd.testing.assert_frame_equal(
        fk.conversion(events_ms, steps, window="60D"), fk.conversion(events, steps, window="60D")
    )
    deals = sample.deals
    deals_s = deals.astype({"created_at": "datetime64[s]", "closed_at": "datetime64[s]"})
    as_of = pd.Timestamp("2025-06-30")
    pd.testing.assert_frame_equal(
        fk.sales_cycle(deals_s, as_of=as_of), fk.sales_cycle(deals, as_of=as_of)
    )


# ----------------------------------------------------------------------------
# dates: out of range
# ----------------------------------------------------------------------------
def _sentinel_us(tz=None):
    values = np.array(["2024-01-01", "9999-12-31", "NaT", "9999-12-31"], dtype="datetime64[us]")
    s = pd.Series(values)
    return s.dt.tz_localize(tz) if tz else s


@pytest.mark.parametrize("tz", [None, "UTC"])
def test_far_future_sentinel_in_a_datetime64_us_column(tz):
    df = pd.DataFrame({"closed_at": _sentinel_us(tz).set_axis([10, 11, 12, 13])})
    before = df.copy()
    with pytest.raises(InvalidDataError) as info:
        v.as_datetime(df, "closed_at", table="deals", keyword="closed")
    err = info.value
    msg = str(err)
    assert err.reason == "out_of_range"
    assert err.column == "closed_at"
    assert err.n_rows == 2
    assert "deals['closed_at'] has 2 of 4 rows with dates out of range (closed=)" in msg
    assert "at index 11" in msg
    assert "9999-12-31" in msg
    assert "NaT" in msg
    assert list(err.examples.index) == [11, 13]
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize(
    "values",
    [
        ["2024-01-01", "9999-12-31", None],
        ["2024-01-01", "1000-01-01T00:00:00", None],
        [dt.datetime(2024, 1, 1), dt.datetime(9999, 12, 31), None],
    ],
    ids=["iso-future", "iso-past", "datetime-objects"],
)
def test_far_dates_as_strings_or_objects(values):
    df = _frame(values, dtype=object)
    with pytest.raises(InvalidDataError, match=r"1 of 3 rows with dates out of range") as info:
        v.as_datetime(df, "t", table="events")
    assert info.value.reason == "out_of_range"
    assert "at index 1" in str(info.value)


def test_arrow_backed_timestamps():
    pa = pytest.importorskip("pyarrow")
    far = pa.array([dt.datetime(2024, 1, 1), dt.datetime(9999, 12, 31), None], pa.timestamp("us"))
    df = pa.table({"t": far}).to_pandas(types_mapper=pd.ArrowDtype)
    with pytest.raises(InvalidDataError, match=r"1 of 3 rows with dates out of range"):
        v.as_datetime(df, "t", table="deals")
    aware = pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("us", tz="Europe/Berlin"))
    out = v.as_datetime(
        pa.table({"t": aware}).to_pandas(types_mapper=pd.ArrowDtype), "t", table="d"
    )
    # arrow stores UTC: midnight UTC is 01:00 in Berlin
    assert out.iloc[0] == pd.Timestamp("2024-01-01 01:00", tz="Europe/Berlin")
    assert v.datetime_to_ns(out)[0] == pd.Timestamp("2024-01-01").value


def test_datetime_to_ns_never_wraps_around():
    s = _sentinel_us()
    # numpy alone wraps 9999-12-31 around to 1816: a silent wrong number
    assert s.to_numpy().astype("datetime64[ns]")[1] < np.datetime64("2000-01-01")
    with pytest.raises(InvalidDataError, match="out of range"):
        v.datetime_to_ns(s)


def test_out_of_range_close_date_through_public_functions():
    deals = pd.DataFrame(
        {
            "deal_id": [1, 2, 3],
            "created_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "closed_at": np.array(["2024-02-01", "9999-12-31", "NaT"], dtype="datetime64[us]"),
            "status": ["won", "lost", "open"],
            "amount": [1.0, 2.0, 3.0],
        }
    )
    for call in (fk.sales_cycle, fk.win_rate):
        with pytest.raises(InvalidDataError, match=r"deals\['closed_at'\] has 1 of 3 rows"):
            call(deals)
    touches = pd.DataFrame(
        {
            "user_id": ["a", "a"],
            "timestamp": np.array(["2024-01-01", "9999-12-31"], dtype="datetime64[us]"),
            "response": ["no", "positive"],
        }
    )
    with pytest.raises(InvalidDataError, match=r"touches\['timestamp'\] has 1 of 2 rows"):
        fk.touches_summary(touches)


def test_durations_longer_than_int64_ns_are_refused():
    start = np.array([pd.Timestamp("1680-01-01").value, pd.Timestamp("2024-01-01").value, 0])
    end = np.array([pd.Timestamp("2260-01-01").value, pd.Timestamp("2024-01-02").value, 0])
    nat = np.iinfo(np.int64).min
    with np.errstate(over="ignore"):
        assert (end - start)[0] < 0  # what plain numpy gives: a negative duration
    with pytest.raises(InvalidDataError, match=r"1 duration\(s\) closed - created") as info:
        v.duration_ns(end, start, what="closed - created")
    assert info.value.n_rows == 1
    ok = v.duration_ns(end[1:], np.array([start[1], nat]), what="x")
    assert ok.tolist() == [86_400 * 10**9, nat]


# ----------------------------------------------------------------------------
# dates: offsets and zones in strings
# ----------------------------------------------------------------------------
def test_mixed_utc_offsets_across_dst_are_read_as_utc_instants():
    df = _frame(["2024-03-30T10:00:00+01:00", "2024-04-01T10:00:00+02:00", None])
    out = v.as_datetime(df, "t", table="touches")
    assert str(out.dtype.tz) == "UTC"
    # by hand: 10:00 at +01:00 is 09:00 UTC, 10:00 at +02:00 is 08:00 UTC
    assert out.iloc[0] == pd.Timestamp("2024-03-30 09:00", tz="UTC")
    assert out.iloc[1] == pd.Timestamp("2024-04-01 08:00", tz="UTC")
    assert pd.isna(out.iloc[2])


def test_one_offset_throughout_keeps_it():
    out = v.as_datetime(
        _frame(["2024-01-01T10:00+01:00", "2024-01-02T10:00+01:00"]), "t", table="e"
    )
    assert out.iloc[0].utcoffset() == pd.Timedelta(hours=1)
    assert v.datetime_to_ns(out)[0] == pd.Timestamp("2024-01-01 09:00").value


def test_mixed_offset_touch_log_equals_the_utc_one():
    times = ["2024-03-30T10:00:00+01:00", "2024-04-01T10:00:00+02:00", "2024-04-01T09:30:00+02:00"]
    log = pd.DataFrame(
        {"user_id": ["a", "a", "a"], "timestamp": times, "response": ["no", "no", "positive"]}
    )
    # the third touch (07:30 UTC) comes before the second (08:00 UTC): positive at touch 2
    res = fk.touches_summary(log)
    assert res["median_touches"].tolist() == [2.0]
    utc = log.assign(timestamp=pd.to_datetime(times, utc=True))
    pd.testing.assert_frame_equal(res, fk.touches_summary(utc))


def test_naive_and_aware_strings_mixed_are_refused():
    df = _frame(["2024-03-30T10:00:00+01:00", "2024-04-01T10:00:00", "2024-04-02", None])
    before = df.copy()
    with pytest.raises(InvalidDataError) as info:
        v.as_datetime(df, "t", table="events")
    err = info.value
    assert err.reason == "mixed_tz"
    assert err.column == "t"
    assert err.n_rows == 2
    msg = str(err)
    assert "events['t'] has 2 of 4 rows without a time zone while 1 carry one" in msg
    assert "utc=True" in msg
    pd.testing.assert_frame_equal(df, before)


def test_naive_and_aware_objects_mixed_are_refused():
    df = _frame([dt.datetime(2024, 1, 1), pd.Timestamp("2024-01-02", tz="UTC")], dtype=object)
    with pytest.raises(InvalidDataError, match=r"1 of 2 rows without a time zone") as info:
        v.as_datetime(df, "t", table="events")
    assert info.value.reason == "mixed_tz"


def test_datetime_objects_with_fixed_offsets_across_dst_are_utc_instants():
    values = [
        dt.datetime.fromisoformat(t) for t in ("2024-03-30T10:00+01:00", "2024-04-01T10:00+02:00")
    ]
    out = v.as_datetime(_frame(values, dtype=object), "t", table="events")
    assert out.tolist() == [
        pd.Timestamp("2024-03-30 09:00", tz="UTC"),
        pd.Timestamp("2024-04-01 08:00", tz="UTC"),
    ]


def test_objects_of_two_zones_are_refused():
    df = _frame(
        [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-01", tz="Asia/Tokyo")],
        dtype=object,
    )
    with pytest.raises(InvalidDataError, match=r"2 of 2 rows that mix time zones") as info:
        v.as_datetime(df, "t", table="events")
    assert "utc=True" in str(info.value)


# ----------------------------------------------------------------------------
# date parameters
# ----------------------------------------------------------------------------
def test_nonexistent_wall_time_in_the_data_zone():
    with pytest.raises(InvalidParameterError) as info:
        v.check_date("2024-03-31 02:30", tz="Europe/Berlin", name="as_of", func="pipeline")
    msg = str(info.value)
    assert "'as_of' parameter of pipeline" in msg
    assert "does not exist in Europe/Berlin" in msg
    assert "'2024-03-31T03:00:00'" in msg


def test_ambiguous_wall_time_in_the_data_zone():
    with pytest.raises(InvalidParameterError) as info:
        v.check_date("2024-10-27 02:30", tz="Europe/Berlin", name="period_end", func="plan")
    msg = str(info.value)
    assert "occurs twice in Europe/Berlin" in msg
    # both spellings the message offers are valid and 1 h apart
    first, second = re.findall(r"'(2024-10-27T02:30:00[+-]\d\d:\d\d)'", msg)
    a = v.check_date(first, tz="Europe/Berlin", name="as_of", func="f")
    b = v.check_date(second, tz="Europe/Berlin", name="as_of", func="f")
    assert v.timestamp_ns(b) - v.timestamp_ns(a) == 3_600 * 10**9


def test_dst_as_of_through_a_public_function():
    deals = fk.datasets.load_sample().deals
    aware = deals.assign(
        created_at=deals["created_at"].dt.tz_localize("UTC").dt.tz_convert("Europe/Berlin"),
        closed_at=deals["closed_at"].dt.tz_localize("UTC").dt.tz_convert("Europe/Berlin"),
    )
    with pytest.raises(InvalidParameterError, match=r"occurs twice in Europe/Berlin"):
        fk.sales_cycle(aware, as_of="2025-10-26 02:30")
    # an ordinary wall time is read in the data's zone: 03:30 CET is 02:30 UTC
    expected = fk.sales_cycle(aware, as_of=pd.Timestamp("2025-10-26 02:30", tz="UTC"))
    pd.testing.assert_frame_equal(fk.sales_cycle(aware, as_of="2025-10-26 03:30"), expected)


@pytest.mark.parametrize("value", ["9999-12-31", pd.Timestamp("1500-01-01"), 5, True])
def test_date_parameter_out_of_range_or_not_a_date(value):
    with pytest.raises(InvalidParameterError, match=r"'as_of' parameter of f must be a date"):
        v.check_date(value, tz=None, name="as_of", func="f")


# ----------------------------------------------------------------------------
# containers
# ----------------------------------------------------------------------------
def test_pandas_frame_is_returned_as_is():
    df = pd.DataFrame({"a": [1]})
    assert v.check_frame(df, table="events", func="conversion") is df


def test_duplicated_column_names():
    df = pd.DataFrame([[1, 2, 3, 4]], columns=["ts", "uid", "ts", "uid"])
    with pytest.raises(InvalidDataError) as info:
        v.check_frame(df, table="events", func="conversion")
    msg = str(info.value)
    assert info.value.reason == "duplicate_columns"
    assert "events has 2 duplicated column name(s): ['ts', 'uid']" in msg
    assert "columns.duplicated()" in msg


def test_multiindex_columns():
    df = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("b", "y")]))
    with pytest.raises(InvalidDataError, match=r"events has MultiIndex columns .*Flatten") as info:
        v.check_frame(df, table="events", func="conversion")
    assert info.value.reason == "multiindex_columns"


def test_by_naming_a_column_twice():
    log = fk.datasets.load_sample().touches
    with pytest.raises(
        InvalidParameterError,
        match=r"'by' parameter of touches_summary names \['channel'\] more than once",
    ):
        fk.touches_summary(log, by=["channel", "channel"])
    df = pd.DataFrame({"a": [1], "b": [2]})
    assert v.check_by(df, ("a", "b"), table="t", func="f") == ["a", "b"]
    assert v.check_by(df, pd.Index(["b"]), table="t", func="f") == ["b"]
    assert v.check_by(df, None, table="t", func="f") == []
    with pytest.raises(fk.ColumnNotFoundError, match=r"by=.*Hint: pass by='a'"):
        v.check_by(df, ["A"], table="t", func="f")


@pytest.mark.parametrize(
    "call",
    [
        lambda s: fk.conversion(s.events, list(fk.datasets.STAGES), by=["region", "region"]),
        lambda s: fk.win_rate(s.deals, by=("region", "channel", "region")),
        lambda s: fk.stage_conversion(s.history, list(fk.datasets.STAGES), by=["x", "x"]),
        lambda s: fk.touches_to_response(s.touches, by=["region", "region"]),
    ],
    ids=["conversion", "win_rate", "stage_conversion", "touches_to_response"],
)
def test_by_twice_is_refused_by_every_reader(call):
    sample = fk.datasets.load_sample()
    with pytest.raises(InvalidParameterError, match=r"'by' parameter .*more than once"):
        call(sample)


def _arrow_cases():
    for case in CASES:
        yield pytest.param(case, id=case.name)


@pytest.mark.parametrize("case", list(_arrow_cases()))
def test_every_function_takes_a_pyarrow_table(case):
    pa = pytest.importorskip("pyarrow")
    tables = case.tables(fk.datasets.load_sample())
    arrow = {k: pa.Table.from_pandas(t, preserve_index=False) for k, t in tables.items()}
    pd.testing.assert_frame_equal(case.call(**arrow), case.call(**tables))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_function_refuses_duplicated_columns(case):
    tables = case.tables(fk.datasets.load_sample())
    arg = next(iter(tables))
    twice = tables[arg].copy()
    twice.insert(0, "note", 1)
    twice.insert(1, "note", 2, allow_duplicates=True)
    tables[arg] = twice
    with pytest.raises(InvalidDataError, match=r"duplicated column name\(s\): \['note'\]"):
        case.call(**tables)


def test_pyarrow_table_is_converted_once():
    pa = pytest.importorskip("pyarrow")
    log = fk.datasets.load_sample().touches
    table = pa.Table.from_pandas(log, preserve_index=False)
    pd.testing.assert_frame_equal(
        fk.touches_summary(table, channel="channel"), fk.touches_summary(log, channel="channel")
    )
    # a 9999-12-31 sentinel in an arrow timestamp column keeps its unit and is refused
    far = pa.table(
        {
            "user_id": ["a", "b"],
            "timestamp": pa.array([dt.datetime(2024, 1, 1), dt.datetime(9999, 12, 31)]),
            "response": ["no", "positive"],
        }
    )
    with pytest.raises(InvalidDataError, match=r"1 of 2 rows with dates out of range"):
        fk.touches_summary(far)


def test_polars_frame_is_converted_once():
    pl = pytest.importorskip("polars")
    log = fk.datasets.load_sample().touches
    pd.testing.assert_frame_equal(fk.touches_summary(pl.from_pandas(log)), fk.touches_summary(log))


class _FakePolarsFrame:
    """Stands in for a Polars DataFrame: recognised by its module name, not imported."""

    __module__ = "polars.dataframe.frame"

    def __init__(self, frame):
        self.frame = frame
        self.calls = 0

    def to_pandas(self):
        self.calls += 1
        return self.frame.copy()


_FakePolarsFrame.__name__ = _FakePolarsFrame.__qualname__ = "DataFrame"


class _FakeLazyFrame:
    __module__ = "polars.lazyframe.frame"


_FakeLazyFrame.__name__ = _FakeLazyFrame.__qualname__ = "LazyFrame"


def test_polars_is_duck_typed_by_module_name():
    log = fk.datasets.load_sample().touches
    fake = _FakePolarsFrame(log)
    pd.testing.assert_frame_equal(fk.touches_summary(fake), fk.touches_summary(log))
    assert fake.calls == 1  # converted once, at the boundary
    with pytest.raises(InvalidParameterError, match=r"Got polars\.LazyFrame .*\.collect\(\)"):
        fk.touches_summary(_FakeLazyFrame())


def test_pyarrow_record_batch_is_converted():
    pa = pytest.importorskip("pyarrow")
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    batch = pa.RecordBatch.from_pandas(df, preserve_index=False)
    pd.testing.assert_frame_equal(v.check_frame(batch, table="t", func="f"), df)


@pytest.mark.parametrize(
    ("data", "name"),
    [([1, 2], "list"), (np.zeros((2, 2)), "numpy.ndarray"), (pd.Series([1]), "pandas.Series")],
)
def test_other_containers_are_named(data, name):
    with pytest.raises(InvalidParameterError, match=rf"Got {re.escape(name)} instead"):
        v.check_frame(data, table="touches", func="touches_summary")


# ----------------------------------------------------------------------------
# amounts
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_amounts(bad):
    df = pd.DataFrame({"amount": [1.0, bad, np.nan, 2.0]})
    with pytest.raises(InvalidDataError) as info:
        v.as_amount(df, "amount", table="deals", allow_negative=True)
    assert info.value.reason == "not_finite"
    assert "deals['amount'] has 1 of 4 rows that are infinite (amount=)" in str(info.value)


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([True, False, True]),
        pd.Series([True, None, False], dtype="boolean"),
        pd.Series([10.0, True, "3"], dtype=object),
    ],
    ids=["bool", "nullable-boolean", "object"],
)
def test_boolean_amounts_are_refused_not_coerced(values):
    df = pd.DataFrame({"value": values})
    with pytest.raises(InvalidDataError, match=r"that are booleans, not amounts \(cost=\)") as info:
        v.as_amount(df, "value", table="costs", keyword="cost")
    assert info.value.reason == "boolean"
    assert info.value.column == "value"


@pytest.mark.parametrize(
    ("bad", "reason"), [(np.inf, "not_finite"), (True, "boolean")], ids=["inf", "bool"]
)
def test_bad_amounts_through_public_functions(bad, reason):
    deals = fk.datasets.load_sample().deals
    amounts = deals["amount"].astype(object)
    amounts.iloc[3] = bad
    broken = deals.assign(amount=amounts)
    for call in (fk.deal_size, fk.leaderboard):
        with pytest.raises(
            InvalidDataError, match=r"deals\['amount'\] has 1 of 4,000 rows"
        ) as info:
            call(broken)
        assert info.value.reason == reason


def test_missing_amounts_stay_missing():
    df = pd.DataFrame(
        {"a": pd.array([1.5, None, 3.0], dtype="Float64"), "b": ["2", None, "4.5"]},
        index=[5, 6, 7],
    )
    a = v.as_amount(df, "a", table="deals")
    b = v.as_amount(df, "b", table="deals")
    assert a.dtype == b.dtype == np.float64
    assert list(a.index) == [5, 6, 7]
    np.testing.assert_array_equal(a.to_numpy(), [1.5, np.nan, 3.0])
    np.testing.assert_array_equal(b.to_numpy(), [2.0, np.nan, 4.5])


# ----------------------------------------------------------------------------
# messages suggest only the options a function has
# ----------------------------------------------------------------------------
def test_null_message_mentions_dropna_only_when_offered():
    df = pd.DataFrame({"uid": [1.0, np.nan, 3.0]})
    with pytest.raises(InvalidDataError) as no_option:
        v.check_not_null(df, "uid", table="touches", keyword="entity")
    assert "dropna" not in str(no_option.value).replace(".dropna(subset", "")
    assert "touches.dropna(subset=['uid'])" in str(no_option.value)
    with pytest.raises(InvalidDataError, match=r"or pass dropna=True"):
        v.check_not_null(df, "uid", table="events", keyword="entity", dropna=False)
    log = pd.DataFrame({"user_id": ["a", None], "timestamp": [1, 2], "response": ["positive"] * 2})
    with pytest.raises(InvalidDataError, match=r"1 of 2 rows that are null \(entity=\)") as info:
        fk.touches_summary(log)
    assert "pass dropna" not in str(info.value)


# ----------------------------------------------------------------------------
# value labels (status won/lost, response positive)
# ----------------------------------------------------------------------------
WON_LOST = {"won": "won", "lost": "lost"}


def _labels(values, expected=WON_LOST, **kw):
    v.check_value_labels(pd.Series(values), expected, table="deals", column="status", **kw)


@pytest.mark.parametrize(
    ("values", "fix"),
    [
        (["Won", "Lost", "open"], "won='Won', lost='Lost'"),
        ([" won", "lost ", "open"], "won=' won', lost='lost '"),
        (["Closed Won", "Closed Lost", "Open"], "won='Closed Won', lost='Closed Lost'"),
        (["won", "closed_lost", "open"], "won='won', lost='closed_lost'"),
        (["Won - signed", "lost"], "won='Won - signed', lost='lost'"),
    ],
)
def test_near_miss_labels_give_the_exact_fix_for_all_roles(values, fix):
    with pytest.raises(InvalidDataError) as info:
        _labels(values, keyword="status", func="win_rate")
    msg = str(info.value)
    assert info.value.reason == "value_label"
    assert info.value.column == "status"
    assert msg.startswith("win_rate: deals['status'] (status=) has no ")
    assert msg.endswith(f"Pass {fix}.")


def test_near_miss_counts_the_rows():
    with pytest.raises(InvalidDataError, match=r"'Closed Won' in 2 of 4 rows") as info:
        _labels(["Closed Won", "Closed Won", "lost", None])
    assert info.value.n_rows == 2


def test_unused_categories_are_not_values():
    status = pd.Series(pd.Categorical(["won", "open"], categories=["won", "open", "Lost"]))
    with pytest.warns(FunnelkitWarning, match=r"no lost='lost' value .*\['won', 'open'\]"):
        _labels(status)
    arrow = pd.Series(["Won", "lost", None], dtype="string[pyarrow]")
    with pytest.raises(InvalidDataError, match=r"Pass won='Won', lost='lost'\."):
        _labels(arrow)


def test_several_near_misses_of_one_role_give_a_list():
    with pytest.raises(InvalidDataError, match=r"Pass won=\['Won', 'won deal'\], lost='lost'\."):
        _labels(["Won", "won deal", "lost"])


@pytest.mark.parametrize(
    ("values", "fix"),
    [
        ([True, False, True], "won=True, lost=False"),
        (pd.Series([True, None], dtype="boolean"), "won=True, lost=False"),
        ([1, 0, 0], "won=1, lost=0"),
        ([1.0, 0.0, np.nan], "won=1, lost=0"),
    ],
)
def test_boolean_or_01_columns(values, fix):
    with pytest.raises(InvalidDataError, match=rf"Pass {re.escape(fix)}\.$") as info:
        _labels(values)
    assert info.value.reason == "boolean"


def test_boolean_roles_on_a_boolean_column_are_fine():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _labels([True, False], {"won": True, "lost": False})
        _labels(["won", "lost", "Won"])  # exact values present: no near-miss check


def test_absent_label_is_a_warning_naming_the_values():
    with pytest.warns(FunnelkitWarning, match=r"has no lost='lost' value in 3 rows") as rec:
        _labels(["won", "open", "open"])
    assert "['open', 'won']" in str(rec[0].message)


def test_negated_label_is_not_a_near_miss():
    with pytest.warns(FunnelkitWarning, match=r"no positive='positive' value"):
        v.check_value_labels(
            pd.Series(["not positive", "no reply"]),
            {"positive": "positive"},
            table="touches",
            column="response",
        )


def test_labels_skip_empty_columns_and_callables_and_warn_on_all_null():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _labels(pd.Series([], dtype=object))
        _labels(["x"], {"won": lambda s: s == "x"})
    with pytest.warns(FunnelkitWarning, match=r"holds only nulls in 2 rows"):
        _labels([None, None])


@settings(max_examples=100, deadline=None)
@given(
    left=st.sampled_from(["", " ", "  "]),
    right=st.sampled_from(["", " ", "\t"]),
    case=st.sampled_from([str.lower, str.upper, str.title]),
    extra=st.sampled_from(["", "Closed ", "closed-", "Deal_"]),
)
def test_any_case_space_or_prefix_variant_is_caught(left, right, case, extra):
    won = left + extra + case("won") + right
    if won == "won":
        return
    with pytest.raises(InvalidDataError) as info:
        _labels([won, "lost", "open"])
    assert f"won={won!r}" in str(info.value)


# ----------------------------------------------------------------------------
# the touches reader
# ----------------------------------------------------------------------------
def _log(responses):
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "b", "c"],
            "timestamp": [1, 2, 1, 2, 1],
            "response": responses,
        }
    )


@pytest.mark.parametrize(
    ("responses", "fix", "value", "n_responders"),
    [
        (["no", "Positive", "Positive", "no", "no"], "positive='Positive'", "Positive", 2),
        (["no", "positive ", "no", "no", "no"], "positive='positive '", "positive ", 1),
        (
            ["no", "Positive reply", "no", "no", "no"],
            "positive='Positive reply'",
            "Positive reply",
            1,
        ),
        ([False, True, True, False, False], "positive=True", True, 2),
        ([0, 1, 1, 0, 0], "positive=1", 1, 2),
    ],
)
@pytest.mark.parametrize("func", [fk.touches_summary, fk.touches_to_response])
def test_touch_responses_that_miss_positive(func, responses, fix, value, n_responders):
    log = _log(responses)
    before = log.copy()
    with pytest.raises(InvalidDataError, match=r"touches\['response'\] \(response=\)") as info:
        func(log)
    assert str(info.value).endswith(f"Pass {fix}.")
    assert info.value.column == "response"
    pd.testing.assert_frame_equal(log, before)
    # the suggested fix gives the hand-counted responders (a at touch 2, b at touch 1)
    res = fk.touches_summary(log, positive=value)
    assert res["responders"].tolist() == [n_responders]


def test_no_positive_response_at_all_is_a_warning():
    log = _log(["no", "meeting", "no", "no", "no"])
    with pytest.warns(FunnelkitWarning, match=r"values found are \['no', 'meeting'\]"):
        res = fk.touches_summary(log)
    assert res["responders"].tolist() == [0]
    assert res["prospects"].tolist() == [3]


def test_positive_list_and_callable():
    log = _log(["no", "Yes", "no", "no", "no"])
    with pytest.raises(InvalidDataError, match=r"Pass positive='Yes'\."):
        fk.touches_summary(log, positive=["yes", "y"])
    with pytest.warns(FunnelkitWarning, match=r"no positive=\['maybe'\] value"):
        fk.touches_summary(log, positive=["maybe"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # a callable is the user's own rule: matching nothing is not second-guessed
        res = fk.touches_summary(log, positive=lambda s: s.str.lower().eq("nope"))
    assert res["responders"].tolist() == [0]


def test_touches_from_counts_checks_the_response_labels():
    clients = pd.DataFrame({"client": ["a", "b"], "calls": [2, 1], "y": ["Yes", "no"]})
    with pytest.raises(
        InvalidDataError, match=r"prospects\['y'\] \(response=\) .*Pass positive='Yes'\."
    ):
        fk.touches_from_counts(
            clients, entity="client", contacts="calls", response="y", positive="yes"
        )
    with pytest.raises(InvalidDataError, match=r"Pass positive=True\."):
        fk.touches_from_counts(
            clients.assign(y=[True, False]), entity="client", contacts="calls", response="y"
        )


def test_out_of_range_event_times_are_refused_not_wrapped():
    # a "no end" sentinel in a microsecond column: numpy alone would wrap it to 1816
    times = np.array(["2024-01-01", "2024-01-02", "9999-12-31"], dtype="datetime64[us]")
    events = pd.DataFrame({"user_id": [1, 1, 2], "timestamp": times, "event": ["a", "b", "a"]})
    with pytest.raises(fk.InvalidDataError, match=r"events\['timestamp'\]") as info:
        fk.conversion(events, ["a", "b"])
    assert info.value.reason == "out_of_range"
    # in range, a microsecond column gives exactly the nanosecond answer
    ok = events.iloc[:2]
    pd.testing.assert_frame_equal(
        fk.conversion(ok, ["a", "b"]),
        fk.conversion(ok.astype({"timestamp": "datetime64[ns]"}), ["a", "b"]),
    )


def test_a_cycle_longer_than_int64_nanoseconds_is_an_error_not_negative():
    deals = pd.DataFrame(
        {
            "deal_id": [1, 2],
            "created_at": pd.to_datetime(["1700-01-01", "2024-01-01"]),
            "closed_at": pd.to_datetime(["2200-01-01", "2024-02-01"]),
            "status": ["won", "lost"],
        }
    )
    with pytest.raises(fk.InvalidDataError, match=r"1 duration\(s\) .* longer than the 292 years"):
        fk.sales_cycle(deals)
