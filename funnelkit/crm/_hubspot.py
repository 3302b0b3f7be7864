"""HubSpot: deals export or API deal objects, stage history, pipelines."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from funnelkit._sales_data import SalesData
from funnelkit.crm._common import (
    Loaded,
    Source,
    Stages,
    amounts,
    column,
    dates,
    derive_status,
    finish,
    load,
    map_labels,
    need,
    pick,
    text,
    truthy,
)
from funnelkit.errors import ColumnNotFoundError, InvalidDataError

CRM = "HubSpot"
_WIDE = re.compile(r'^Date entered "(?P<stage>.+) \((?P<pipeline>.+)\)"$')
_WIDE_API = re.compile(r"^hs(?:_v2)?_date_entered_(?P<stage>.+)$")


def _pipelines(source: Source | None, func: str) -> Stages:
    st = Stages()
    if source is None:
        return st
    src = load(source, what="pipelines", func=func)
    if src.records is not None and src.records and "stages" in src.records[0]:
        rows = []
        for p in src.records:
            for s in p.get("stages") or []:
                meta = s.get("metadata") or {}
                rows.append(
                    {
                        "pipeline_id": str(p.get("id")),
                        "pipeline": str(p.get("label", p.get("id"))),
                        "pipeline_order": p.get("displayOrder", 0),
                        "stage_id": str(s.get("id", s.get("stageId"))),
                        "label": str(s.get("label")),
                        "display_order": s.get("displayOrder", 0),
                        "is_closed": meta.get("isClosed", s.get("closedWon") is not None),
                        "probability": meta.get("probability", s.get("probability")),
                    }
                )
        df = pd.DataFrame(rows)
    else:
        df = src.table()
        ren = {
            pick(df, ["pipeline_id", "pipelineId"]): "pipeline_id",
            need(df, ["pipeline", "pipeline_label"], what="pipeline", where=src.where, crm=CRM): (
                "pipeline"
            ),
            need(df, ["stage_id", "id", "stageId"], what="stage id", where=src.where, crm=CRM): (
                "stage_id"
            ),
            need(df, ["label", "stage"], what="stage label", where=src.where, crm=CRM): "label",
            need(
                df,
                ["display_order", "displayOrder"],
                what="display order",
                where=src.where,
                crm=CRM,
            ): "display_order",
            pick(df, ["is_closed", "isClosed", "metadata.isClosed"]): "is_closed",
            pick(df, ["probability", "metadata.probability"]): "probability",
        }
        df = df.rename(columns={k: v for k, v in ren.items() if k is not None})
        if "pipeline_id" not in df:
            df["pipeline_id"] = df["pipeline"]
    if df.empty:
        return st
    if "is_closed" not in df:
        msg = (
            f"{src.where}: the pipelines table has no is_closed column (metadata.isClosed in "
            f"HubSpot's pipelines API), so funnelkit cannot tell closed stages from open ones "
            f"and every deal would read as open. Pass the pipelines API response, or add "
            f"is_closed and probability columns."
        )
        raise InvalidDataError(msg, column="is_closed", reason="missing", n_rows=len(df))
    df["is_closed"] = truthy(df["is_closed"].astype("string"))
    prob = (
        pd.to_numeric(df["probability"], errors="coerce")
        if "probability" in df
        else pd.Series(np.nan, index=df.index)
    )
    unknown = df["is_closed"] & prob.isna()
    if bool(np.any(unknown)):
        names = ", ".join(repr(str(v)) for v in df.loc[unknown, "label"].head(5))
        msg = (
            f"{src.where}: {int(np.sum(unknown))} closed stage(s) of the pipelines table have no "
            f"probability ({names}), so funnelkit cannot tell won (probability 1.0) from "
            f"lost (0.0). Add the probability column (metadata.probability in HubSpot's "
            f"pipelines API)."
        )
        raise InvalidDataError(
            msg, column="probability", reason="missing", n_rows=int(np.sum(unknown))
        )
    df["won"] = df["is_closed"] & (prob >= 1.0)
    df["lost"] = df["is_closed"] & ~df["won"]
    df = df.sort_values(["pipeline", "display_order"], kind="stable")
    for pid, plabel in zip(df["pipeline_id"], df["pipeline"], strict=True):
        st.pipelines[str(pid)] = str(plabel)
    for row in df.itertuples(index=False):  # metadata: a few dozen stages, not deals
        for key in (str(row.stage_id), str(row.label)):
            st.labels[(str(row.pipeline), key)] = str(row.label)
            st.labels[(str(row.pipeline_id), key)] = str(row.label)
            st.labels.setdefault((None, key), str(row.label))
        if row.won:
            st.won.add(str(row.label))
        elif row.lost:
            st.lost.add(str(row.label))
        else:
            st.order.setdefault(str(row.pipeline), []).append(str(row.label))
    return st


def _api_deals(src: Loaded) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Flatten API deal objects; return the properties table and any stage history."""
    recs = src.records or []
    props = []
    hist = []
    for r in recs:
        p = dict(r.get("properties") or {})
        # legacy v1: {"dealId": 1, "properties": {"dealstage": {"value": ..., "versions": [...]}}}
        for k, v in list(p.items()):
            if isinstance(v, dict) and "value" in v:
                if k == "dealstage":
                    for ver in v.get("versions") or []:
                        hist.append((r.get("dealId"), ver.get("value"), ver.get("timestamp")))
                p[k] = v["value"]
        deal_id = r.get("id", r.get("dealId", p.get("hs_object_id")))
        p["hs_object_id"] = deal_id
        props.append(p)
        for ver in (r.get("propertiesWithHistory") or {}).get("dealstage") or []:
            hist.append((deal_id, ver.get("value"), ver.get("timestamp")))
    df = pd.DataFrame(props)
    h = None
    if hist:
        h = pd.DataFrame(hist, columns=["deal_id", "stage", "entered_at"])
    return df, h


#: The long stage-history shapes ``history=`` reads, for the error messages.
HISTORY_SHAPES = (
    "API v3 deal objects with propertiesWithHistory (.json)",
    "legacy v1 deals with properties.dealstage.versions (.json)",
    "Airbyte deals_property_history (dealId, property, value, timestamp)",
    "Fivetran deal_property_history (deal_id, name, value, timestamp)",
    "Fivetran deal_stage (deal_id, value, date_entered)",
)


def _is_v1(record: dict[str, Any]) -> bool:
    props = record.get("properties")
    return isinstance(props, dict) and isinstance(props.get("dealstage"), dict)


def _history_frame(source: Source, func: str) -> tuple[pd.DataFrame, str]:
    src = load(source, what="history", func=func)
    recs = src.records
    if recs and any("propertiesWithHistory" in r or _is_v1(r) for r in recs):
        _, h = _api_deals(src)
        if h is None:
            return pd.DataFrame(columns=["deal_id", "stage", "entered_at"]), src.where
        unit = "ms" if pd.api.types.is_numeric_dtype(h["entered_at"]) else None
        h["entered_at"] = dates(h["entered_at"], where=src.where, column="timestamp", unit=unit)
        return h, src.where
    df = src.table()
    w = src.where
    try:
        deal = need(df, ["dealId", "deal_id"], what="deal id", where=w, crm=CRM)
        value = need(df, ["value"], what="stage value", where=w, crm=CRM)
        when = need(df, ["timestamp", "date_entered"], what="time", where=w, crm=CRM)
    except ColumnNotFoundError as exc:
        msg = f"{exc} The stage history is read from: {'; '.join(HISTORY_SHAPES)}."
        raise ColumnNotFoundError(msg) from None
    prop = pick(df, ["property", "name"])
    if prop is not None:
        keep = df[prop].astype("string").str.strip().str.casefold() == "dealstage"
        df = df[keep.fillna(False).to_numpy(bool)]
    # Airbyte's older stream and the legacy API write epoch milliseconds
    unit = "ms" if pd.api.types.is_numeric_dtype(df[when]) else None
    return (
        pd.DataFrame(
            {
                "deal_id": df[deal].to_numpy(),
                "stage": df[value].to_numpy(),
                "entered_at": dates(df[when], where=w, column=when, unit=unit).to_numpy(),
            }
        ),
        w,
    )


def read_hubspot(
    deals: Source,
    *,
    history: Source | None = None,
    pipelines: Source | None = None,
    pipeline: str | None = None,
    timezone: str | None = None,
) -> SalesData:
    """Read HubSpot deals (UI export or API objects) into canonical tables.

    Parameters
    ----------
    deals : path, DataFrame or list of dict
        The deals: a UI export (``Record ID``, ``Deal Name``, ``Deal Stage``,
        ``Pipeline``, ``Amount``, ``Create Date``, ``Close Date``, optionally
        the ``Date entered "<stage> (<pipeline>)"`` columns), or API v3 deal
        objects (``id``, ``properties``, optionally
        ``propertiesWithHistory``) as a ``.json`` file or a list of dicts.
    history : path, DataFrame, list of dict or None, default=None
        The long stage history, in one of the shapes that exist: API v3
        deal objects with ``propertiesWithHistory`` (``dealstage``:
        ``value``, ``timestamp``, ``sourceType``, ...), legacy v1 deals
        with ``properties.dealstage.versions``, Airbyte's
        ``deals_property_history`` (``dealId``, ``property``, ``value``,
        ``timestamp`` as an ISO time or epoch milliseconds), Fivetran's
        ``deal_property_history`` (``deal_id``, ``name``, ``value``,
        ``timestamp``) or ``deal_stage`` (``deal_id``, ``value``,
        ``date_entered``). Rows of other properties are left out. Without
        it the wide ``Date entered`` columns (or ``hs_v2_date_entered_*``
        properties) are melted.
    pipelines : path, DataFrame, list of dict or None, default=None
        The pipelines API response (``/crm/v3/pipelines/deals``: each
        pipeline with its ``stages``, ``displayOrder`` and
        ``metadata.isClosed`` / ``probability``), or a table with
        ``pipeline``, ``stage_id``, ``label``, ``display_order``,
        ``is_closed``, ``probability``. Gives stage labels, order and won
        (closed, probability 1) / lost (closed, probability below 1).
    pipeline : str or None, default=None
        Keep only the deals of this pipeline (its label). Required when the
        deals span pipelines with different stages.
    timezone : str or None, default=None
        The account's time zone, to express API instants (UTC) in local time
        when a UI export (local times) and API records are mixed.

    Returns
    -------
    SalesData
        ``deals`` (canonical columns), ``history`` (``deal_id``, ``stage``,
        ``entered_at``, ``pipeline``) and ``stages`` (working stages in
        order; the closed-won / closed-lost stages are statuses).

    Raises
    ------
    ColumnNotFoundError
        A column the export must have is missing (e.g. not a HubSpot file).
    InvalidDataError
        Unparseable dates or amounts, history of unknown deals or stages.
    InvalidParameterError
        Several pipelines with different stages and no ``pipeline=``.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> export = pd.DataFrame(
    ...     {
    ...         "Record ID": [11, 12],
    ...         "Deal Stage": ["Closed Won", "Appointment Scheduled"],
    ...         "Amount": [5000, None],
    ...         "Create Date": ["2024-01-02 09:00", "2024-01-03 10:00"],
    ...         "Close Date": ["2024-02-01 12:00", "2024-03-31 00:00"],
    ...         'Date entered "Appointment Scheduled (Sales Pipeline)"': [
    ...             "2024-01-02 09:00", "2024-01-03 10:00"],
    ...     }
    ... )
    >>> pipelines = pd.DataFrame(
    ...     {
    ...         "pipeline": "Sales Pipeline",
    ...         "stage_id": ["appointmentscheduled", "closedwon", "closedlost"],
    ...         "label": ["Appointment Scheduled", "Closed Won", "Closed Lost"],
    ...         "display_order": [0, 1, 2],
    ...         "is_closed": [False, True, True],
    ...         "probability": [0.2, 1.0, 0.0],
    ...     }
    ... )
    >>> data = fk.crm.read_hubspot(export, pipelines=pipelines)
    >>> data.deals[["deal_id", "status", "closed_at", "expected_close"]]
       deal_id status           closed_at      expected_close
    0       11    won 2024-02-01 12:00:00                 NaT
    1       12   open                 NaT 2024-03-31
    >>> data.stages
    ('Appointment Scheduled',)
    """
    func = "read_hubspot"
    src = load(deals, what="deals", func=func)
    st = _pipelines(pipelines, func)
    api_hist = None
    if src.records is not None:
        df, api_hist = _api_deals(src)
        api = True
    else:
        df = src.table()
        api = "properties" in df.columns or pick(df, ["hs_object_id", "dealstage"]) is not None
        if "properties" in df.columns:
            sub = Loaded(
                None, [{str(k): v for k, v in r.items()} for r in df.to_dict("records")], src.where
            )
            df, api_hist = _api_deals(sub)
    w = src.where
    if api:
        names = {
            "deal_id": ["hs_object_id", "id"],
            "stage": ["dealstage"],
            "pipeline": ["pipeline"],
            "amount": ["amount"],
            "created": ["createdate"],
            "close": ["closedate"],
            "owner": ["hubspot_owner_id"],
            "channel": ["hs_analytics_source"],
            "lost_reason": ["closed_lost_reason"],
            "currency": ["deal_currency_code"],
            "name": ["dealname"],
            "won": ["hs_is_closed_won"],
            "closed": ["hs_is_closed"],
            "lost": ["hs_is_closed_lost"],
        }
    else:
        names = {
            "deal_id": ["Record ID", "Deal ID"],
            "stage": ["Deal Stage"],
            "pipeline": ["Pipeline"],
            "amount": ["Amount"],
            "created": ["Create Date"],
            "close": ["Close Date"],
            "owner": ["Deal owner", "Deal Owner"],
            "channel": ["Original Traffic Source", "Original Source Type", "Deal source"],
            "lost_reason": ["Closed Lost Reason"],
            "currency": ["Currency"],
            "name": ["Deal Name"],
            "won": ["Is Closed Won"],
            "closed": ["Is Deal Closed?", "Is Closed"],
            "lost": ["Is closed lost", "Is Closed Lost"],
        }
    deal_col = need(df, names["deal_id"], what="deal id", where=w, crm=CRM)
    stage_col = need(df, names["stage"], what="deal stage", where=w, crm=CRM)
    created_col = need(df, names["created"], what="create date", where=w, crm=CRM)
    pipe_raw = column(df, names["pipeline"])
    pipe = text(pipe_raw).map(lambda p: st.pipelines.get(p, p), na_action="ignore")
    if pipe.isna().all():
        pipe = pd.Series([None] * len(df), dtype="object")
    stage = map_labels(st, df[stage_col], pipe)
    close_name = pick(df, names["close"])
    close = (
        dates(df[close_name], where=w, column=close_name)
        if close_name
        else pd.Series(pd.NaT, index=range(len(df)), dtype="datetime64[ns]")
    )
    created = dates(df[created_col], where=w, column=created_col)
    # ---- status -------------------------------------------------------------------
    raw_stage = text(df[stage_col]).reset_index(drop=True)
    won_col, closed_col, lost_col = (pick(df, names[k]) for k in ("won", "closed", "lost"))
    if st.won or st.lost:
        won = stage.isin(st.won).to_numpy()
        lost = stage.isin(st.lost).to_numpy()
    elif won_col is not None and (closed_col is not None or lost_col is not None):
        won = truthy(df[won_col]).to_numpy()
        lost_flag = df[lost_col or closed_col]
        lost = truthy(lost_flag).to_numpy() & ~won
    else:
        numeric = raw_stage.str.fullmatch(r"\d+").fillna(False).to_numpy(bool)
        if numeric.any():  # a custom pipeline's stage ids: its closing stages are numbers too
            first = str(raw_stage[numeric].iloc[0])
            msg = (
                f"{w}: {int(numeric.sum()):,} of {len(df):,} deals have a numeric stage id "
                f"(first: {first!r}), a custom pipeline's, and nothing tells which of its "
                f"stages are won or lost, so every deal would read as open. Pass pipelines= "
                f"(GET /crm/v3/pipelines/deals) or export the Is Closed Won and Is Closed "
                f"columns (API: hs_is_closed_won, hs_is_closed)."
            )
            raise InvalidDataError(
                msg, column=stage_col, reason="unknown_semantics", n_rows=int(numeric.sum())
            )
        key = raw_stage.str.replace(" ", "").str.casefold()
        won = key.eq("closedwon").to_numpy(bool)
        lost = key.eq("closedlost").to_numpy(bool)
        st.won.update(stage[won].dropna().astype(str))
        st.lost.update(stage[lost].dropna().astype(str))
    if (won_col is not None) and (st.won or st.lost):
        st.won.update(stage[truthy(df[won_col]).to_numpy()].dropna().astype(str))
    out = pd.DataFrame(
        {
            "deal_id": df[deal_col].reset_index(drop=True),
            "created_at": created,
            "close_date": close,
            "status": derive_status(won, lost),
            "amount": amounts(column(df, names["amount"]), where=w, column="amount"),
            "stage": stage,
            "owner": text(column(df, names["owner"])).reset_index(drop=True),
            "channel": text(column(df, names["channel"])).reset_index(drop=True),
            "lost_reason": text(column(df, names["lost_reason"])).reset_index(drop=True),
            "currency": text(column(df, names["currency"])).reset_index(drop=True),
            "pipeline": pipe.reset_index(drop=True),
            "name": text(column(df, names["name"])).reset_index(drop=True),
        }
    )
    out.loc[out["status"] != "lost", "lost_reason"] = None
    # ---- history ------------------------------------------------------------------
    h: pd.DataFrame | None
    where = "history"
    if history is not None:
        h, where = _history_frame(history, func)
    elif api_hist is not None:
        h = api_hist
        unit = "ms" if pd.api.types.is_numeric_dtype(h["entered_at"]) else None
        h["entered_at"] = dates(h["entered_at"], where=w, column="dealstage history", unit=unit)
        where = w
    else:
        h = _melt_wide(df, out, w)
        where = w
    if h is not None:
        pipe_of = out.set_index(out["deal_id"].astype(str))["pipeline"]
        hp = h["deal_id"].astype(str).map(pipe_of) if "pipeline" not in h else h["pipeline"]
        h = h.assign(stage=map_labels(st, h["stage"], hp).to_numpy())
        if "pipeline" not in h:
            h["pipeline"] = hp.to_numpy()
    return finish(
        out, h, st, crm=CRM, func=func, pipeline=pipeline, history_where=where, timezone=timezone
    )


def _melt_wide(df: pd.DataFrame, out: pd.DataFrame, where: str) -> pd.DataFrame | None:
    cols: list[tuple[str, str, str | None]] = []
    for c in df.columns:
        m = _WIDE.match(str(c))
        if m:
            cols.append((str(c), m["stage"], m["pipeline"]))
            continue
        m = _WIDE_API.match(str(c))
        if m:
            cols.append((str(c), m["stage"], None))
    if not cols:
        return None
    parts = []
    for name, stage, pipe in cols:  # one column per stage: a loop over stages, not rows
        when = dates(df[name], where=where, column=name)
        keep = when.notna().to_numpy(copy=True)  # written in place below
        if pipe is not None and out["pipeline"].notna().any():
            keep &= (out["pipeline"] == pipe).to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "deal_id": out["deal_id"][keep].to_numpy(),
                    "stage": np.full(int(keep.sum()), stage, dtype=object),
                    "entered_at": when[keep].to_numpy(),
                    "pipeline": np.full(int(keep.sum()), pipe, dtype=object),
                }
            )
        )
    h = pd.concat(parts, ignore_index=True)
    if h["pipeline"].isna().all():
        h = h.drop(columns="pipeline")
    if h.empty:
        msg = f"{where}: the 'Date entered' columns are all empty. Export them with values."
        raise InvalidDataError(msg, column="Date entered", reason="empty")
    result: pd.DataFrame | None = h
    return result
