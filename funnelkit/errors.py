"""Exceptions and warnings raised by funnelkit.

Every error funnelkit raises derives from :class:`FunnelkitError`, so a caller
can catch all of them at once; each also derives from the built-in exception
a Python user would expect (``KeyError`` for a missing column, ``ValueError``
for bad data or a bad parameter).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ColumnNotFoundError",
    "FunnelkitError",
    "FunnelkitWarning",
    "InvalidDataError",
    "InvalidParameterError",
]


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
        A short machine-readable reason, e.g. ``"null"`` or ``"not_datetime"``.
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
