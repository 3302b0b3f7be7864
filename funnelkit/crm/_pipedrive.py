"""Pipedrive: deals export or API deals, deal flow / changelog, stages."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from funnelkit._sales_data import SalesData
from funnelkit._validate import plain
from funnelkit.crm._common import (
    Source,
    Stages,
    amounts,
    as_ids,
    column,
    dates,
    finish,
    first_stage_rows,
    load,
    map_labels,
    need,
    pick,
    text,
)
from funnelkit.errors import FunnelkitWarning, InvalidDataError

CRM = "Pipedrive"


def _stages(source: Source | None, func: str) -> Stages:
    st = Stages()
    if source is None:
        return st
    src = load(source, what="stages", func=func)
    df = src.table()
    w = src.where
    sid = need(df, ["id", "stage_id"], what="stage id", where=w, crm=CRM)
    name = need(df, ["name", "stage"], what="stage name", where=w, crm=CRM)
    order = need(df, ["order_nr"], what="order_nr", where=w, crm=CRM)
    pid = pick(df, ["pipeline_name", "pipeline_id"])
    df = df.assign(
        _p=df[pid].astype(str) if pid else "", _o=pd.to_numeric(df[order], errors="coerce")
    ).sort_values(["_p", "_o"], kind="stable")
    pid_col = pick(df, ["pipeline_id"])
    pname_col = pick(df, ["pipeline_name"])
    if pid_col and pname_col:
        st.pipelines.update(zip(df[pid_col].astype(str), df[pname_col].astype(str), strict=True))
    for s, label, p in zip(df[sid].astype(str), df[name].astype(str), df["_p"], strict=True):
        st.labels[(None, s)] = label
        st.labels[(None, label)] = label
        st.order.setdefault(str(p), []).append(label)
    return st


def _flow(source: Source, func: str) -> tuple[pd.DataFrame, str]:
    src = load(source, what="flow", func=func)
    recs = src.records
    if recs is not None and recs and isinstance(recs[0].get("data"), dict):
        recs = [{**r["data"], "_object": r.get("object")} for r in recs]
        df = pd.json_normalize(recs)
    else:
        df = src.table()
    w = src.where
    key = need(df, ["field_key"], what="field_key", where=w, crm=CRM)
    df = df[(df[key] == "stage_id").to_numpy()]
    deal = need(df, ["item_id", "deal_id", "Deal ID"], what="deal id", where=w, crm=CRM)
    new = need(df, ["new_value"], what="new_value", where=w, crm=CRM)
    old = pick(df, ["old_value"])
    when = need(df, ["log_time", "time", "timestamp"], what="log_time", where=w, crm=CRM)
    new_fmt = pick(df, ["additional_data.new_value_formatted"])
    old_fmt = pick(df, ["additional_data.old_value_formatted"])
    return (
        pd.DataFrame(
            {
                "deal_id": as_ids(df[deal]).to_numpy(),
                "stage": df[new].astype("string").to_numpy(),
                "old": (df[old].astype("string") if old else pd.Series(pd.NA, index=df.index))
                .astype("object")
                .to_numpy(),
                "stage_fmt": (df[new_fmt] if new_fmt else pd.Series(None, index=df.index))
                .astype("object")
                .to_numpy(),
                "old_fmt": (df[old_fmt] if old_fmt else pd.Series(None, index=df.index))
                .astype("object")
                .to_numpy(),
                "entered_at": dates(df[when], where=w, column=when).to_numpy(),
            }
        ),
        w,
    )


def read_pipedrive(
    deals: Source,
    *,
    flow: Source | None = None,
    stages: Source | None = None,
    pipeline: str | None = None,
    timezone: str | None = None,
) -> SalesData:
    """Read Pipedrive deals and their stage changes into canonical tables.

    Parameters
    ----------
    deals : path, DataFrame or list of dict
        The UI deals export (``Deal - ID``, ``Deal - Status``, ``Deal -
        Stage``, ``Deal - Value``, ``Deal - Deal created``, ``Deal - Deal
        closed on``, ...) or API deals (``id``, ``status``, ``stage_id``,
        ``value``, ``currency``, ``add_time``, ``close_time``,
        ``expected_close_date``, ...). ``status`` is literally
        open / won / lost; deleted deals are dropped with a warning.
    flow : path, DataFrame, list of dict or None, default=None
        The deal flow (``/deals/{id}/flow``: ``dealChange`` objects) or
        changelog rows: ``item_id``, ``field_key``, ``old_value``,
        ``new_value``, ``log_time``. Only ``field_key == "stage_id"`` rows
        are stage entries; each deal's creation row (its first stage at
        ``add_time``) is added, as the flow does not list it.
    stages : path, DataFrame, list of dict or None, default=None
        The stages (``/stages``: ``id``, ``name``, ``order_nr``,
        ``pipeline_id``, ``pipeline_name``): stage labels and order.
    pipeline : str or None, default=None
        Keep only the deals of this pipeline. Required when the deals span
        pipelines with different stages.
    timezone : str or None, default=None
        The account's time zone. The API (deals and the flow's ``log_time``)
        writes UTC without a zone marker, the UI export local time; with a
        UI export, the flow is taken at its clock as written unless
        ``timezone=`` is given, which converts it from UTC to local time.

    Returns
    -------
    SalesData
        ``deals`` (canonical columns; ``expected_close`` from the expected
        close date, ``currency`` from the value's currency), ``history`` and
        ``stages`` (in ``order_nr`` order).

    Raises
    ------
    ColumnNotFoundError
        A required column is missing (e.g. not a Pipedrive file).
    InvalidDataError
        Unknown status values, unparseable dates or amounts, flow rows of
        unknown deals or stages.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> export = pd.DataFrame(
    ...     {
    ...         "Deal - ID": [1, 2],
    ...         "Deal - Status": ["lost", "open"],
    ...         "Deal - Stage": ["Qualified", "Contact Made"],
    ...         "Deal - Value": [900, 1500],
    ...         "Deal - Currency of Value": ["EUR", "EUR"],
    ...         "Deal - Deal created": ["2024-01-02 09:00:00", "2024-01-05 11:00:00"],
    ...         "Deal - Deal closed on": ["2024-01-20 16:00:00", None],
    ...         "Deal - Lost reason": ["price", None],
    ...     }
    ... )
    >>> stages = pd.DataFrame(
    ...     {"id": [1, 2], "name": ["Qualified", "Contact Made"], "order_nr": [1, 2]}
    ... )
    >>> data = fk.crm.read_pipedrive(export, stages=stages)
    >>> data.deals[["deal_id", "status", "stage", "currency", "lost_reason"]]
       deal_id status         stage currency lost_reason
    0        1   lost     Qualified      EUR       price
    1        2   open  Contact Made      EUR        None
    >>> data.stages
    ('Qualified', 'Contact Made')
    """
    func = "read_pipedrive"
    src = load(deals, what="deals", func=func)
    df = src.table()
    w = src.where
    st = _stages(stages, func)
    ui = pick(df, ["Deal - ID"]) is not None
    if ui:
        names: dict[str, list[str]] = {
            "id": ["Deal - ID"],
            "status": ["Deal - Status"],
            "stage": ["Deal - Stage"],
            "pipeline": ["Deal - Pipeline"],
            "value": ["Deal - Value"],
            "currency": ["Deal - Currency of Value", "Deal - Currency"],
            "created": ["Deal - Deal created", "Deal - Creation date"],
            "closed": ["Deal - Deal closed on", "Deal - Closed on"],
            "won_time": ["Deal - Won time"],
            "lost_time": ["Deal - Lost time"],
            "expected": ["Deal - Expected close date"],
            "owner": ["Deal - Owner"],
            "channel": ["Deal - Source channel", "Deal - Source origin"],
            "lost_reason": ["Deal - Lost reason"],
            "name": ["Deal - Title"],
        }
    else:
        names = {
            "id": ["id"],
            "status": ["status"],
            "stage": ["stage_id"],
            "pipeline": ["pipeline_id"],
            "value": ["value"],
            "currency": ["currency"],
            "created": ["add_time"],
            "closed": ["close_time"],
            "won_time": ["won_time"],
            "lost_time": ["lost_time"],
            "expected": ["expected_close_date"],
            "owner": ["owner_name", "user_id.name", "user_id"],
            "channel": ["channel", "origin", "source_channel"],
            "lost_reason": ["lost_reason"],
            "name": ["title"],
        }
    deal = need(df, names["id"], what="deal id", where=w, crm=CRM)
    status_col = need(df, names["status"], what="status", where=w, crm=CRM)
    created_col = need(df, names["created"], what="creation date", where=w, crm=CRM)
    status = text(df[status_col]).reset_index(drop=True)
    deleted = (status == "deleted").to_numpy()
    if deleted.any():
        warnings.warn(
            f"{CRM}: {int(deleted.sum()):,} of {len(df):,} deals in {w} are deleted; they are "
            f"left out.",
            FunnelkitWarning,
            stacklevel=2,
        )
        df = df[~deleted].reset_index(drop=True)
        status = status[~deleted].reset_index(drop=True)
    bad = ~status.isin(["open", "won", "lost"]).to_numpy()
    if bad.any():
        first = plain(df[status_col].iloc[int(np.flatnonzero(bad)[0])])
        msg = (
            f"{w}: column {status_col!r} has {int(bad.sum()):,} of {len(df):,} values that are "
            f"not open / won / lost / deleted (first: {first!r}). Export the deal status as "
            f"Pipedrive writes it."
        )
        raise InvalidDataError(msg, column=status_col, reason="bad_status", n_rows=int(bad.sum()))
    utc = not ui  # API times are UTC, written without a zone
    created = dates(df[created_col], where=w, column=created_col)
    close = _time(df, names["closed"], w, len(df))
    for key in ("won_time", "lost_time"):
        alt = _time(df, names[key], w, len(df))
        close = close.where(close.notna(), alt)
    expected = _time(df, names["expected"], w, len(df))
    if utc:
        created = _utc(created)
        close = _utc(close)
    pipe = text(column(df, names["pipeline"])).reset_index(drop=True)
    pipe = pipe.map(lambda p: st.pipelines.get(p, p), na_action="ignore")
    stage = map_labels(st, column(df, names["stage"]))
    owner = column(df, names["owner"])
    if owner.map(lambda v: isinstance(v, dict)).any():
        owner = owner.map(lambda v: v.get("name") if isinstance(v, dict) else v)
    out = pd.DataFrame(
        {
            "deal_id": df[deal].reset_index(drop=True),
            "created_at": created,
            "close_date": close,
            "status": status.astype("object"),
            "amount": amounts(column(df, names["value"]), where=w, column="value"),
            "stage": stage,
            "owner": text(owner).reset_index(drop=True),
            "channel": text(column(df, names["channel"])).reset_index(drop=True),
            "lost_reason": text(column(df, names["lost_reason"])).reset_index(drop=True),
            "currency": text(column(df, names["currency"])).reset_index(drop=True),
            "expected_close": expected.where((status == "open").to_numpy()),
            "pipeline": pipe,
            "name": text(column(df, names["name"])).reset_index(drop=True),
        }
    )
    h = None
    where = "flow"
    if flow is not None:
        ch, where = _flow(flow, func)
        # labels: from the stage metadata, else from the flow's formatted names
        if st.labels:
            ch["stage"] = map_labels(st, ch["stage"]).to_numpy()
            ch["old"] = map_labels(st, ch["old"]).to_numpy()
        elif ch["stage_fmt"].notna().any():
            ch["stage"] = ch["stage_fmt"].to_numpy()
            ch["old"] = ch["old_fmt"].to_numpy()
        ids = out["deal_id"].astype(str)
        ch_ids = ch["deal_id"].astype(str)
        first = first_stage_rows(
            out.assign(deal_id=ids), ch.assign(deal_id=ch_ids), initial=out["stage"]
        )
        first = first.assign(deal_id=out["deal_id"].to_numpy())
        if not isinstance(ch["entered_at"].dtype, pd.DatetimeTZDtype):
            if utc:  # API deals: the flow's log_time is UTC too
                ch["entered_at"] = _utc(ch["entered_at"])
            elif timezone is not None:  # a UI export in local time: the flow's UTC in local time
                local = _utc(ch["entered_at"]).dt.tz_convert(timezone).dt.tz_localize(None)
                ch["entered_at"] = local
        h = pd.concat([first, ch[["deal_id", "stage", "entered_at"]]], ignore_index=True)
    return finish(
        out, h, st, crm=CRM, func=func, pipeline=pipeline, history_where=where, timezone=timezone
    )


def _time(df: pd.DataFrame, names: list[str], where: str, n: int) -> pd.Series:
    name = pick(df, names)
    if name is None:
        result: pd.Series = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
        return result
    return dates(df[name], where=where, column=name)


def _utc(s: pd.Series) -> Any:
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s
    return s.dt.tz_localize("UTC")
