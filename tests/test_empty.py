"""0 rows in, an empty, well-typed table out: every public data function.

Each function of ``funnelkit.__all__`` that reads data is called, as in
``tests/test_common.py``, once on the bundled sample and once on the same
tables cut to 0 rows (``.iloc[:0]``: the columns and dtypes stay).  The
result on 0 rows must be a DataFrame with no rows, a RangeIndex, the same
columns in the same order and the same dtypes as on the sample, and no
warning or error.

A summary whose answer on no data is a real number (``ONE_ROW_ANSWER``: the
chance of hitting a target with no open deal is 0) gives that one row.
"""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

import funnelkit as fk
from tests.test_common import CASES

#: Functions whose answer on 0 rows is a real one-row answer, not an empty table.
ONE_ROW_ANSWER = {
    # the chance of hitting the target with the open pipeline: with no open deal, 0
    "target_probability": "p_hit_target",
}

#: Public callables that do not read a data table.
NOT_DATA_FUNCTIONS = {"datasets", "report", "deals_needed", "__version__", "crm", "read_table"}

CASES_BY_NAME = {case.name: case for case in CASES}


def _data_functions() -> list[str]:
    names = []
    for name in fk.__all__:
        obj = getattr(fk, name)
        if name in NOT_DATA_FUNCTIONS or name.startswith("plot_") or inspect.isclass(obj):
            continue
        names.append(name)
    return names


def _holds_strings(column: pd.Series) -> bool:
    """object or a string dtype: pandas 3 infers ``str`` from strings, and 0 rows have none."""
    return column.dtype == object or pd.api.types.is_string_dtype(column.dtype)


@pytest.fixture(scope="module")
def sample():
    return fk.datasets.load_sample()


def test_every_public_data_function_is_covered():
    missing = [n for n in _data_functions() if n not in CASES_BY_NAME]
    assert not missing, f"add these to tests/test_common.py CASES: {missing}"
    unknown = [n for n in ONE_ROW_ANSWER if n not in CASES_BY_NAME]
    assert not unknown


@pytest.mark.parametrize("name", _data_functions())
def test_zero_rows_give_an_empty_well_typed_table(name, sample):
    case = CASES_BY_NAME[name]
    tables = case.tables(sample)
    full = case.call(**tables)
    empty = {key: table.iloc[:0] for key, table in tables.items()}
    before = {key: table.copy() for key, table in empty.items()}
    out = case.call(**empty)  # pytest turns any warning into an error
    for key, table in empty.items():
        pd.testing.assert_frame_equal(table, before[key])
    assert isinstance(out, pd.DataFrame)
    if name in ONE_ROW_ANSWER:
        assert len(out) == 1
        assert out[ONE_ROW_ANSWER[name]].iloc[0] == 0
    else:
        assert len(out) == 0, f"{name}: {len(out)} rows on 0 rows of input"
    assert isinstance(out.index, pd.RangeIndex)
    assert list(out.columns) == list(full.columns)
    wrong = {
        str(column): (str(out[column].dtype), str(full[column].dtype))
        for column in full.columns
        if out[column].dtype != full[column].dtype
        and not (_holds_strings(out[column]) and _holds_strings(full[column]))
    }
    assert not wrong, f"{name}: dtypes (0 rows, sample) differ: {wrong}"
