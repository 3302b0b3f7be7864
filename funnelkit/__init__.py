"""funnelkit: sales and product funnel analytics on pandas.

Pure functions take event or deal DataFrames and return tidy DataFrames;
``plot_*`` functions draw those results with matplotlib.  Importing funnelkit
does not import pyplot, registers no accessors and sets no global state.

Examples
--------
>>> import funnelkit as fk
>>> fk.__version__
'0.1.0'
"""

from __future__ import annotations

from funnelkit import datasets
from funnelkit._report import report
from funnelkit._version import __version__
from funnelkit.errors import (
    ColumnNotFoundError,
    FunnelkitError,
    FunnelkitWarning,
    InvalidDataError,
    InvalidParameterError,
)

__all__ = [
    "ColumnNotFoundError",
    "FunnelkitError",
    "FunnelkitWarning",
    "InvalidDataError",
    "InvalidParameterError",
    "__version__",
    "datasets",
    "report",
]
