"""Salesforce: Opportunity, OpportunityHistory, OpportunityStage."""

from __future__ import annotations

import pandas as pd

from funnelkit._sales_data import SalesData
from funnelkit.crm._common import (
    Source,
    Stages,
    amounts,
    column,
    dates,
    dedupe_history,
    derive_status,
    finish,
    load,
    need,
    pick,
    text,
    truthy,
)

CRM = "Salesforce"


def _stages(source: Source | None, func: str) -> Stages:
    st = Stages()
    if source is None:
        return st
    src = load(source, what="stages", func=func)
    df = src.table()
    w = src.where
    label = need(df, ["MasterLabel", "ApiName", "StageName"], what="stage label", where=w, crm=CRM)
    api = pick(df, ["ApiName"]) or label
    order = need(df, ["SortOrder"], what="SortOrder", where=w, crm=CRM)
    closed = need(df, ["IsClosed"], what="IsClosed", where=w, crm=CRM)
    won = need(df, ["IsWon"], what="IsWon", where=w, crm=CRM)
    active = pick(df, ["IsActive"])
    df = df.assign(
        _order=pd.to_numeric(df[order], errors="coerce"),
        _closed=truthy(df[closed]).to_numpy(),
        _won=truthy(df[won]).to_numpy(),
    ).sort_values("_order", kind="stable")
    if active is not None:
        df = df[truthy(df[active]).to_numpy() | df["_closed"].to_numpy()]
    for lab, key, is_closed, is_won in zip(
        df[label].astype(str), df[api].astype(str), df["_closed"], df["_won"], strict=True
    ):
        st.labels[(None, key)] = lab
        st.labels[(None, lab)] = lab
        if is_closed:
            (st.won if is_won else st.lost).add(lab)
        else:
            st.order.setdefault("", []).append(lab)
    return st


def read_salesforce(
    opportunities: Source,
    *,
    history: Source | None = None,
    stages: Source | None = None,
    timezone: str | None = None,
) -> SalesData:
    """Read Salesforce opportunities and their history into canonical tables.

    Parameters
    ----------
    opportunities : path, DataFrame or list of dict
        ``Opportunity`` records: the Data Export's ``Opportunity.csv`` or an
        API / SOQL JSON result (``records``) with ``Id``, ``StageName``,
        ``Amount``, ``CloseDate``, ``IsClosed``, ``IsWon``, ``CreatedDate``
        and optionally ``OwnerId`` / ``Owner.Name``, ``LeadSource``,
        ``CurrencyIsoCode``, ``Name``, ``Loss_Reason__c``.
    history : path, DataFrame, list of dict or None, default=None
        ``OpportunityHistory`` rows (``OpportunityId``, ``StageName``,
        ``CreatedDate``). A row that repeats the opportunity's previous stage
        (an amount, probability or close-date edit) is not a stage entry.
    stages : path, DataFrame, list of dict or None, default=None
        ``OpportunityStage`` rows (``MasterLabel``, ``SortOrder``,
        ``IsClosed``, ``IsWon``, ``IsActive``): the stage order and which
        stages close a deal. Without it the order is inferred from the
        history, with a ``FunnelkitWarning``.
    timezone : str or None, default=None
        The org's time zone, to express UTC instants in local time when a
        report export (local times) and API records are mixed.

    Returns
    -------
    SalesData
        ``deals`` (canonical columns), ``history`` (``deal_id``, ``stage``,
        ``entered_at``) and ``stages`` (open stages in ``SortOrder``).

    Raises
    ------
    ColumnNotFoundError
        A required field is missing (e.g. not an Opportunity export).
    InvalidDataError
        Unparseable dates or amounts, history of unknown opportunities or
        stages.

    Notes
    -----
    Status: won if ``IsWon``, lost if ``IsClosed`` and not ``IsWon``, else
    open. ``CloseDate`` is a date and, while the opportunity is open, only
    the *expected* close date (``expected_close``). A closed opportunity's
    ``closed_at`` is the time of the history row that moved it into its
    closing stage, when the history has one, else its ``CloseDate``.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> opps = pd.DataFrame(
    ...     {
    ...         "Id": ["006A", "006B"],
    ...         "StageName": ["Closed Won", "Prospecting"],
    ...         "Amount": [1200.0, None],
    ...         "CloseDate": ["2024-02-01", "2024-06-30"],
    ...         "IsClosed": [True, False],
    ...         "IsWon": [True, False],
    ...         "CreatedDate": ["2024-01-02T09:00:00.000Z", "2024-01-03T10:00:00.000Z"],
    ...     }
    ... )
    >>> stages = pd.DataFrame(
    ...     {
    ...         "MasterLabel": ["Prospecting", "Closed Won", "Closed Lost"],
    ...         "SortOrder": [1, 2, 3],
    ...         "IsClosed": [False, True, True],
    ...         "IsWon": [False, True, False],
    ...     }
    ... )
    >>> data = fk.crm.read_salesforce(opps, stages=stages)
    >>> data.deals[["deal_id", "status", "amount", "expected_close"]]
      deal_id status  amount            expected_close
    0    006A    won  1200.0                       NaT
    1    006B   open     NaN 2024-06-30 00:00:00+00:00
    >>> data.stages
    ('Prospecting',)
    """
    func = "read_salesforce"
    src = load(opportunities, what="opportunities", func=func)
    df = src.table()
    w = src.where
    st = _stages(stages, func)
    deal = need(df, ["Id", "Opportunity ID", "OpportunityId"], what="Id", where=w, crm=CRM)
    stage_col = need(df, ["StageName", "Stage"], what="StageName", where=w, crm=CRM)
    created_col = need(df, ["CreatedDate", "Created Date"], what="CreatedDate", where=w, crm=CRM)
    is_closed = need(df, ["IsClosed", "Closed"], what="IsClosed", where=w, crm=CRM)
    is_won = need(df, ["IsWon", "Won"], what="IsWon", where=w, crm=CRM)
    close_col = need(df, ["CloseDate", "Close Date"], what="CloseDate", where=w, crm=CRM)
    created = dates(df[created_col], where=w, column=created_col)
    close = dates(df[close_col], where=w, column=close_col)
    aware = isinstance(created.dtype, pd.DatetimeTZDtype)
    if aware and not isinstance(close.dtype, pd.DatetimeTZDtype):
        close = close.dt.tz_localize("UTC")  # a date: midnight UTC, as the API means it
    won = truthy(df[is_won]).to_numpy()
    lost = truthy(df[is_closed]).to_numpy() & ~won
    stage = text(df[stage_col]).map(lambda s: st.labels.get((None, s), s), na_action="ignore")
    if not st.known:
        # without metadata: a stage is closing when closed opportunities sit in it
        closed_stages = set(stage[won | lost].dropna())
        open_stages = set(stage[~(won | lost)].dropna())
        st.won.update(set(stage[won].dropna()) - open_stages)
        st.lost.update(closed_stages - open_stages - st.won)
    out = pd.DataFrame(
        {
            "deal_id": df[deal].reset_index(drop=True),
            "created_at": created,
            "close_date": close,
            "status": derive_status(won, lost),
            "amount": amounts(column(df, ["Amount"]), where=w, column="Amount"),
            "stage": stage.reset_index(drop=True),
            "owner": text(column(df, ["Owner.Name", "Owner Name", "OwnerId"])).reset_index(
                drop=True
            ),
            "channel": text(column(df, ["LeadSource", "Lead Source"])).reset_index(drop=True),
            "lost_reason": text(
                column(df, ["Loss_Reason__c", "Reason_Lost__c", "Lost_Reason__c"])
            ).reset_index(drop=True),
            "currency": text(column(df, ["CurrencyIsoCode"])).reset_index(drop=True),
            "name": text(column(df, ["Name", "Opportunity Name"])).reset_index(drop=True),
        }
    )
    out.loc[out["status"] != "lost", "lost_reason"] = None
    h = None
    where = "history"
    if history is not None:
        hs = load(history, what="history", func=func)
        hd = hs.table()
        where = hs.where
        hdeal = need(
            hd, ["OpportunityId", "Opportunity ID"], what="OpportunityId", where=where, crm=CRM
        )
        hstage = need(hd, ["StageName", "Stage"], what="StageName", where=where, crm=CRM)
        htime = need(hd, ["CreatedDate", "Created Date"], what="CreatedDate", where=where, crm=CRM)
        deleted = pick(hd, ["IsDeleted"])
        if deleted is not None:
            hd = hd[~truthy(hd[deleted]).to_numpy()]
        h = pd.DataFrame(
            {
                "deal_id": hd[hdeal].to_numpy(),
                "stage": text(hd[hstage])
                .map(lambda s: st.labels.get((None, s), s), na_action="ignore")
                .to_numpy(),
                "entered_at": dates(hd[htime], where=where, column=htime).to_numpy(),
            }
        )
        # a closed opportunity's close time: when it entered its closing stage
        moves = dedupe_history(h.assign(deal_id=h["deal_id"].astype(str)))
        closing = moves[moves["stage"].isin(st.won | st.lost).to_numpy()]
        when = closing.groupby(closing["deal_id"].astype(str))["entered_at"].max()
        moved = out["deal_id"].astype(str).map(when)
        has = moved.notna().to_numpy() & (out["status"] != "open").to_numpy()
        if has.any() and moved.dtype == out["close_date"].dtype:
            out.loc[has, "close_date"] = moved[has]
    return finish(
        out, h, st, crm=CRM, func=func, pipeline=None, history_where=where, timezone=timezone
    )
