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

from funnelkit import crm, datasets
from funnelkit._io import read_table
from funnelkit._report import report
from funnelkit._sales_data import SalesData
from funnelkit._version import __version__
from funnelkit.columns import Columns
from funnelkit.deals import (
    channel_yield,
    coverage,
    deal_entities,
    deal_size,
    leaderboard,
    pipeline,
    sales_cycle,
    sales_velocity,
    win_curve,
    win_rate,
)
from funnelkit.errors import (
    ColumnNotFoundError,
    FunnelkitError,
    FunnelkitWarning,
    InvalidDataError,
    InvalidParameterError,
)
from funnelkit.event_features import conversion_over_time, next_events
from funnelkit.events import conversion, dropoff, funnel_entities, time_to_convert
from funnelkit.planning import deals_needed, plan, target_probability
from funnelkit.plotting._deals import (
    plot_channel_yield,
    plot_leaderboard,
    plot_pipeline,
    plot_sales_cycle,
    plot_win_curve,
)
from funnelkit.plotting._event_features import plot_conversion_over_time, plot_next_events
from funnelkit.plotting._events import plot_dropoff, plot_funnel, plot_time_to_convert
from funnelkit.plotting._planning import plot_plan
from funnelkit.plotting._stages import plot_stage_conversion, plot_time_in_stage
from funnelkit.plotting._touches import plot_touches, plot_triggers
from funnelkit.stages import (
    lost_deals,
    revival_candidates,
    stage_conversion,
    stalled,
    time_in_stage,
)
from funnelkit.touches import touches_from_counts, touches_summary, touches_to_response
from funnelkit.triggers import compare as compare  # deprecated alias, left out of __all__
from funnelkit.triggers import compare_segments, triggers

__all__ = [
    "ColumnNotFoundError",
    "Columns",
    "FunnelkitError",
    "FunnelkitWarning",
    "InvalidDataError",
    "InvalidParameterError",
    "SalesData",
    "__version__",
    "channel_yield",
    "compare_segments",
    "conversion",
    "conversion_over_time",
    "coverage",
    "crm",
    "datasets",
    "deal_entities",
    "deal_size",
    "deals_needed",
    "dropoff",
    "funnel_entities",
    "leaderboard",
    "lost_deals",
    "next_events",
    "pipeline",
    "plan",
    "plot_channel_yield",
    "plot_conversion_over_time",
    "plot_dropoff",
    "plot_funnel",
    "plot_leaderboard",
    "plot_next_events",
    "plot_pipeline",
    "plot_plan",
    "plot_sales_cycle",
    "plot_stage_conversion",
    "plot_time_in_stage",
    "plot_time_to_convert",
    "plot_touches",
    "plot_triggers",
    "plot_win_curve",
    "read_table",
    "report",
    "revival_candidates",
    "sales_cycle",
    "sales_velocity",
    "stage_conversion",
    "stalled",
    "target_probability",
    "time_in_stage",
    "time_to_convert",
    "touches_from_counts",
    "touches_summary",
    "touches_to_response",
    "triggers",
    "win_curve",
    "win_rate",
]
