"""The canonical container of one sales team's tables: :class:`SalesData`."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["SalesData"]


@dataclass(frozen=True)
class SalesData:
    """One sales team's tables in funnelkit's canonical columns.

    Returned by :func:`funnelkit.datasets.load_sample` and by every reader of
    :mod:`funnelkit.crm`; each table goes straight into the metric functions
    (``fk.win_rate(data.deals)``, ``fk.stage_conversion(data.history,
    data.stages)``).

    Parameters
    ----------
    deals : pandas.DataFrame
        One row per deal: ``deal_id``, ``created_at``, ``closed_at`` (NaT
        while open), ``status`` (exactly ``"won"``, ``"lost"`` or
        ``"open"``), ``amount`` (float, NaN when unknown), ``stage`` (the last
        working stage entered), ``owner``, ``channel``, ``lost_reason`` and,
        when the source has them, ``currency``, ``expected_close`` (an open
        deal's expected close date), ``pipeline`` and ``name``.
    history : pandas.DataFrame
        One row per stage entry: ``deal_id``, ``stage``, ``entered_at`` (and
        ``pipeline`` when the source has pipelines). Its ``deal_id`` has the
        dtype of ``deals['deal_id']``.
    stages : tuple of str
        The working stages in funnel order (closing stages such as "Closed
        won" are statuses, not stages).
    events : pandas.DataFrame or None, default=None
        An event log (``user_id``, ``timestamp``, ``event``), when known.
    touches : pandas.DataFrame or None, default=None
        Outreach touches (``user_id``, ``timestamp``, ``channel``,
        ``response``), when known.
    costs : pandas.DataFrame or None, default=None
        Spend per channel (``channel``, ``cost``, ...), when known.
    as_of : pandas.Timestamp or None, default=None
        The export date, when known.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({"deal_id": [1], "status": ["open"]})
    >>> history = pd.DataFrame(
    ...     {"deal_id": [1], "stage": ["new"], "entered_at": pd.to_datetime(["2024-01-02"])}
    ... )
    >>> data = fk.SalesData(deals=deals, history=history, stages=("new", "won"))
    >>> data.stages
    ('new', 'won')
    >>> data.events is None
    True
    """

    deals: pd.DataFrame
    history: pd.DataFrame
    stages: tuple[str, ...]
    events: pd.DataFrame | None = None
    touches: pd.DataFrame | None = None
    costs: pd.DataFrame | None = None
    as_of: pd.Timestamp | None = None
