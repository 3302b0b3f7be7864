"""Readers of CRM exports: HubSpot, Salesforce, Pipedrive, amoCRM / Kommo, Bitrix24.

Each reader takes the CRM's own files (UI exports or API records) and
returns a :class:`funnelkit.SalesData` in funnelkit's canonical columns, so
the metric functions work on it directly::

    data = fk.crm.read_bitrix24("deals.csv", history="stagehistory.json")
    fk.win_rate(data.deals)
    fk.stage_conversion(data.history, data.stages)

The documentation's "Importing from a CRM" section has the rules every
reader shares and one page per CRM: how to export it, which file goes to
which argument, what the reader derives and the pitfalls.
"""

from __future__ import annotations

from typing import Any

from funnelkit._sales_data import SalesData
from funnelkit.crm._amocrm import read_amocrm
from funnelkit.crm._bitrix24 import read_bitrix24
from funnelkit.crm._common import Source
from funnelkit.crm._hubspot import read_hubspot
from funnelkit.crm._pipedrive import read_pipedrive
from funnelkit.crm._salesforce import read_salesforce
from funnelkit.errors import InvalidParameterError

__all__ = [
    "CRMS",
    "read_amocrm",
    "read_bitrix24",
    "read_crm",
    "read_hubspot",
    "read_pipedrive",
    "read_salesforce",
]

#: The names ``read_crm`` (and the CLI's ``--crm``) accept.
CRMS: tuple[str, ...] = ("hubspot", "salesforce", "pipedrive", "amocrm", "kommo", "bitrix24")


def read_crm(
    crm: str,
    deals: Source,
    *,
    history: Source | None = None,
    stages: Source | None = None,
    pipeline: str | None = None,
    timezone: str | None = None,
) -> SalesData:
    """Read a CRM's deals and stage history by the CRM's name.

    Parameters
    ----------
    crm : str
        One of ``"hubspot"``, ``"salesforce"``, ``"pipedrive"``,
        ``"amocrm"``, ``"kommo"`` (amoCRM's international name) or
        ``"bitrix24"``.
    deals : path, DataFrame or list of dict
        The deals (HubSpot deals, Salesforce ``Opportunity``, Pipedrive
        deals, amoCRM leads, Bitrix24 deals): a ``.csv`` / ``.xlsx`` /
        ``.json`` / ``.jsonl`` path, a DataFrame or API records.
    history : path, DataFrame, list of dict or None, default=None
        The stage history: HubSpot property history, Salesforce
        ``OpportunityHistory``, Pipedrive deal flow, amoCRM
        ``lead_status_changed`` events, Bitrix24 ``crm.stagehistory.list``.
    stages : path, DataFrame, list of dict or None, default=None
        The stage metadata: HubSpot pipelines, Salesforce
        ``OpportunityStage``, Pipedrive stages, amoCRM pipelines, Bitrix24
        ``crm.status.list``.
    pipeline : str or None, default=None
        Keep only the deals of this pipeline (not used for Salesforce, which
        has one stage list).
    timezone : str or None, default=None
        The account's time zone, to combine a UI export (local times) with
        API records (UTC instants).

    Returns
    -------
    SalesData
        What the CRM's reader returns (``read_hubspot``,
        ``read_salesforce``, ...).

    Raises
    ------
    InvalidParameterError
        ``crm`` is not a known name, or ``pipeline=`` is given for
        Salesforce.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame(
    ...     {
    ...         "Deal - ID": [1],
    ...         "Deal - Status": ["won"],
    ...         "Deal - Stage": ["Qualified"],
    ...         "Deal - Value": [900],
    ...         "Deal - Deal created": ["2024-01-02 09:00:00"],
    ...         "Deal - Deal closed on": ["2024-01-20 16:00:00"],
    ...     }
    ... )
    >>> stages = pd.DataFrame({"id": [1], "name": ["Qualified"], "order_nr": [1]})
    >>> data = fk.crm.read_crm("pipedrive", deals, stages=stages)
    >>> data.deals.loc[0, "status"]
    'won'
    """
    name = crm.strip().lower() if isinstance(crm, str) else crm
    if name not in CRMS:
        msg = f"The 'crm' parameter of read_crm must be one of {list(CRMS)}. Got {crm!r} instead."
        raise InvalidParameterError(msg)
    common: dict[str, Any] = {"timezone": timezone}
    if name == "hubspot":
        return read_hubspot(deals, history=history, pipelines=stages, pipeline=pipeline, **common)
    if name == "salesforce":
        if pipeline is not None:
            msg = (
                "The 'pipeline' parameter of read_crm is not used for Salesforce (one stage "
                f"list per org). Got {pipeline!r}; filter the opportunities instead."
            )
            raise InvalidParameterError(msg)
        return read_salesforce(deals, history=history, stages=stages, **common)
    if name == "pipedrive":
        return read_pipedrive(deals, flow=history, stages=stages, pipeline=pipeline, **common)
    if name in ("amocrm", "kommo"):
        return read_amocrm(deals, events=history, pipelines=stages, pipeline=pipeline, **common)
    return read_bitrix24(deals, history=history, stages=stages, pipeline=pipeline, **common)
