"""Exceptions and warnings raised by funnelkit.

Every error funnelkit raises derives from :class:`FunnelkitError`, so a caller
can catch all of them at once; each also derives from the built-in exception
a Python user would expect (``KeyError`` for a missing column, ``ValueError``
for bad data or a bad parameter).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

__all__ = [
    "ColumnNotFoundError",
    "FunnelkitError",
    "FunnelkitWarning",
    "InvalidDataError",
    "InvalidParameterError",
    "Reason",
]


class Reason(str, Enum):
    """Every value of :attr:`InvalidDataError.reason`: one code per kind of problem.

    A member equals its text (``Reason.NULL == "null"``), so a caller can test
    ``err.reason == Reason.DUPLICATE`` or ``err.reason == "duplicate"``.  The
    table in the errors page of the docs gives each code's meaning and fix.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> from funnelkit.errors import Reason
    >>> deals = pd.DataFrame({"deal_id": [1, 1], "status": ["won", "lost"],
    ...                       "created_at": pd.to_datetime(["2025-01-01"] * 2),
    ...                       "closed_at": pd.to_datetime(["2025-02-01"] * 2)})
    >>> try:
    ...     fk.win_rate(deals)
    ... except fk.InvalidDataError as err:
    ...     print(err.reason == Reason.DUPLICATE)
    True
    """

    AMBIGUOUS_DATE = "ambiguous_date"
    AMBIGUOUS_DECIMAL = "ambiguous_decimal"
    BAD_STATUS = "bad_status"
    BOOLEAN = "boolean"
    CLOSED_BEFORE_CREATED = "closed_before_created"
    CLOSED_WITHOUT_DATE = "closed_without_date"
    CONTRADICTION = "contradiction"
    DUPLICATE = "duplicate"
    DUPLICATE_COLUMNS = "duplicate_columns"
    EMPTY = "empty"
    ID_MISMATCH = "id_mismatch"
    MISSING = "missing"
    MISSING_DEAL = "missing_deal"
    MIXED_CURRENCY = "mixed_currency"
    MIXED_TZ = "mixed_tz"
    MULTIINDEX_COLUMNS = "multiindex_columns"
    NEGATIVE = "negative"
    NO_DATES = "no_dates"
    NO_WON_DEALS = "no_won_deals"
    NOT_COUNT = "not_count"
    NOT_DATETIME = "not_datetime"
    NOT_FINITE = "not_finite"
    NOT_NUMERIC = "not_numeric"
    NOT_PROBABILITY = "not_probability"
    NULL = "null"
    NUMERIC = "numeric"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_SEMANTICS = "unknown_semantics"
    UNKNOWN_STAGE = "unknown_stage"
    UNREADABLE_FILE = "unreadable_file"
    VALUE_LABEL = "value_label"


class FunnelkitError(Exception):
    """Base class of every error raised by funnelkit."""


class ColumnNotFoundError(FunnelkitError, KeyError):
    """A column named by a keyword argument is not in the table.

    The message names the keyword (``entity=``), lists the available columns
    and suggests the closest one.
    """

    def __str__(self) -> str:
        # KeyError quotes its message; show it as written.
        return str(self.args[0]) if self.args else ""


class InvalidDataError(FunnelkitError, ValueError):
    """Values in a column cannot be used as they are.

    Parameters
    ----------
    message : str
        The full, human-readable message.
    column : str or None
        The offending column.
    reason : str
        A short machine-readable reason, e.g. ``"null"`` or ``"not_datetime"``: one of
        :class:`Reason`.
    n_rows : int
        How many rows are affected.
    examples : pandas.DataFrame or None
        A few offending rows (index kept), for inspection.
    """

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        reason: str = "",
        n_rows: int = 0,
        examples: Any = None,
    ) -> None:
        super().__init__(message)
        self.column = column
        self.reason = reason
        self.n_rows = n_rows
        self.examples = examples


class InvalidParameterError(FunnelkitError, ValueError):
    """A parameter value is outside what the function accepts."""


class FunnelkitWarning(UserWarning):
    """Rows were left out of a metric, or a result should be read with care."""
