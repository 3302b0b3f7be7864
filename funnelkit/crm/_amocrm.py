"""amoCRM / Kommo: leads export or API v4 leads, status-change events, pipelines."""

from __future__ import annotations

from typing import Any

import pandas as pd

from funnelkit._sales_data import SalesData
from funnelkit.crm._common import (
    Source,
    Stages,
    amounts,
    as_ids,
    column,
    dates,
    derive_status,
    finish,
    first_stage_rows,
    load,
    need,
    pick,
    text,
)

CRM = "amoCRM"
WON_ID, LOST_ID = "142", "143"
_WON_LABELS = {"успешно реализовано", "closed - won", "closed won", "successfully realized"}
_LOST_LABELS = {"закрыто и не реализовано", "closed - lost", "closed lost", "unrealized"}


def _pipelines(source: Source | None, func: str) -> Stages:
    st = Stages()
    if source is None:
        return st
    src = load(source, what="pipelines", func=func)
    recs = src.records
    rows = []
    if recs is not None:
        for p in recs:
            statuses = (p.get("_embedded") or {}).get("statuses") or p.get("statuses") or []
            for s in statuses:
                rows.append(
                    {
                        "pipeline_id": str(p.get("id")),
                        "pipeline": str(p.get("name", p.get("id"))),
                        "status_id": str(s.get("id")),
                        "name": str(s.get("name")),
                        "sort": s.get("sort", 0),
                    }
                )
        df = pd.DataFrame(rows)
    else:
        df = src.table()
        w = src.where
        df = df.rename(
            columns={
                need(df, ["pipeline", "pipeline_name"], what="pipeline", where=w, crm=CRM): (
                    "pipeline"
                ),
                need(df, ["status_id", "id"], what="status id", where=w, crm=CRM): "status_id",
                need(df, ["name", "status"], what="status name", where=w, crm=CRM): "name",
                need(df, ["sort"], what="sort", where=w, crm=CRM): "sort",
            }
        )
        if "pipeline_id" not in df:
            df["pipeline_id"] = df["pipeline"]
        df = df.astype({"status_id": str, "pipeline": str, "pipeline_id": str, "name": str})
    if df.empty:
        return st
    df = df.sort_values(["pipeline", "sort"], kind="stable")
    for row in df.itertuples(index=False):  # metadata: a few dozen statuses
        st.pipelines[str(row.pipeline_id)] = str(row.pipeline)
        for key in (str(row.status_id), str(row.name)):
            st.labels[(str(row.pipeline), key)] = str(row.name)
            st.labels[(str(row.pipeline_id), key)] = str(row.name)
            st.labels.setdefault((None, key), str(row.name))
        if str(row.status_id) == WON_ID:
            st.won.add(str(row.name))
        elif str(row.status_id) == LOST_ID:
            st.lost.add(str(row.name))
        else:
            st.order.setdefault(str(row.pipeline), []).append(str(row.name))
    return st


def _label(st: Stages, status: pd.Series, pipe: pd.Series) -> pd.Series:
    keys = pd.DataFrame({"s": status.astype("string"), "p": pipe.astype("string")})
    uniq = keys.drop_duplicates().copy()
    uniq["label"] = [st.label(s, p) for s, p in zip(uniq["s"], uniq["p"], strict=True)]
    got = keys.merge(uniq, on=["s", "p"], how="left")["label"]
    result: pd.Series = got.astype("object").where(status.notna().to_numpy(), None)
    return result


def _events(source: Source, st: Stages, func: str) -> tuple[pd.DataFrame, str]:
    src = load(source, what="events", func=func)
    w = src.where
    if src.records is not None:
        rows = []
        for e in src.records:
            if e.get("type", "lead_status_changed") != "lead_status_changed":
                continue
            after = (e.get("value_after") or [{}])[0].get("lead_status") or {}
            before = (e.get("value_before") or [{}])[0].get("lead_status") or {}
            rows.append(
                {
                    "deal_id": e.get("entity_id"),
                    "stage": after.get("id"),
                    "pipeline": after.get("pipeline_id"),
                    "old": before.get("id"),
                    "old_pipeline": before.get("pipeline_id"),
                    "created_at": e.get("created_at"),
                }
            )
        df = pd.DataFrame(
            rows,
            columns=["deal_id", "stage", "pipeline", "old", "old_pipeline", "created_at"],
        )
    else:
        raw = src.table()
        typ = pick(raw, ["type"])
        if typ is not None:
            raw = raw[(raw[typ] == "lead_status_changed").to_numpy()]
        df = pd.DataFrame(
            {
                "deal_id": raw[need(raw, ["entity_id"], what="entity_id", where=w, crm=CRM)],
                "stage": raw[
                    need(
                        raw,
                        ["status_id", "value_after.status_id", "new_status_id"],
                        what="new status id",
                        where=w,
                        crm=CRM,
                    )
                ],
                "pipeline": column(raw, ["pipeline_id", "value_after.pipeline_id"]),
                "old": column(raw, ["old_status_id", "value_before.status_id"]),
                "old_pipeline": column(raw, ["old_pipeline_id", "value_before.pipeline_id"]),
                "created_at": raw[need(raw, ["created_at"], what="created_at", where=w, crm=CRM)],
            }
        ).reset_index(drop=True)
    df["deal_id"] = as_ids(df["deal_id"]).to_numpy()
    unit = "s" if pd.api.types.is_numeric_dtype(df["created_at"]) else None
    df["entered_at"] = dates(df["created_at"], where=w, column="created_at", unit=unit).to_numpy()
    pipe_label = df["pipeline"].astype("string").map(lambda p: st.pipelines.get(p, p))
    old_label = df["old_pipeline"].astype("string").map(lambda p: st.pipelines.get(p, p))
    df["stage"] = _label(st, df["stage"], df["pipeline"]).to_numpy()
    df["old"] = _label(st, df["old"], df["old_pipeline"]).to_numpy()
    df["pipeline"] = pipe_label.astype("object").to_numpy()
    df["old_pipeline"] = old_label.astype("object").to_numpy()
    return df, w


def read_amocrm(
    leads: Source,
    *,
    events: Source | None = None,
    pipelines: Source | None = None,
    pipeline: str | None = None,
    timezone: str | None = None,
) -> SalesData:
    """Read amoCRM / Kommo leads and their status changes into canonical tables.

    Parameters
    ----------
    leads : path, DataFrame or list of dict
        The leads ("сделки") export, ``.xlsx`` or CSV, with Russian headers
        (``ID``, ``Название сделки``, ``Бюджет``, ``Воронка``, ``Этап
        сделки``, ``Ответственный``, ``Дата создания``, ``Дата закрытия``,
        ``utm_source``, ``Причина отказа``) or English ones (``Lead title``,
        ``Budget``, ``Pipeline``, ``Stage``, ``Responsible user``, ``Date
        created``, ``Closed at``); or API v4 leads (``id``, ``price``,
        ``status_id``, ``pipeline_id``, ``created_at``, ``closed_at`` in unix
        seconds).
    events : path, DataFrame, list of dict or None, default=None
        ``GET /api/v4/events`` with ``type == "lead_status_changed"``
        (``entity_id``, ``created_at``, ``value_before`` / ``value_after``
        ``lead_status``). Each lead's creation row (its first status at the
        lead's creation time) is added.
    pipelines : path, DataFrame, list of dict or None, default=None
        ``GET /api/v4/leads/pipelines`` (each pipeline with its
        ``_embedded.statuses``: ``id``, ``name``, ``sort``), or a table with
        ``pipeline``, ``status_id``, ``name``, ``sort``: labels and order.
    pipeline : str or None, default=None
        Keep only the leads of this pipeline (its name). Required when the
        leads span pipelines with different statuses.
    timezone : str or None, default=None
        The account's time zone (e.g. ``"Europe/Moscow"``): API events carry
        unix seconds (UTC) while a UI export writes local times; pass it to
        combine the two.

    Returns
    -------
    SalesData
        ``deals`` (canonical columns), ``history`` and ``stages`` (working
        statuses in ``sort`` order; 142 "Успешно реализовано" is won and 143
        "Закрыто и не реализовано" is lost in every pipeline).

    Raises
    ------
    ColumnNotFoundError
        A required column is missing (e.g. not an amoCRM export).
    InvalidDataError
        Unparseable dates or budgets, events of unknown leads or statuses.
    InvalidParameterError
        UI times and API instants mixed without ``timezone=``; several
        pipelines without ``pipeline=``.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> export = pd.DataFrame(
    ...     {
    ...         "ID": [7, 8],
    ...         "Бюджет": ["150 000,00 ₽", ""],
    ...         "Этап сделки": ["Успешно реализовано", "Переговоры"],
    ...         "Дата создания": ["05.01.2024 10:30:00", "06.01.2024 11:00:00"],
    ...         "Дата закрытия": ["20.01.2024 18:00:00", ""],
    ...     }
    ... )
    >>> statuses = pd.DataFrame(
    ...     {
    ...         "pipeline": ["Воронка"] * 3,
    ...         "status_id": [1001, 142, 143],
    ...         "name": ["Переговоры", "Успешно реализовано", "Закрыто и не реализовано"],
    ...         "sort": [10, 10000, 11000],
    ...     }
    ... )
    >>> data = fk.crm.read_amocrm(export, pipelines=statuses)
    >>> data.deals[["deal_id", "status", "amount", "closed_at"]]
       deal_id status    amount           closed_at
    0        7    won  150000.0 2024-01-20 18:00:00
    1        8   open       NaN                 NaT
    """
    func = "read_amocrm"
    src = load(leads, what="leads", func=func)
    df = src.table()
    w = src.where
    st = _pipelines(pipelines, func)
    api = pick(df, ["status_id"]) is not None and pick(df, ["Этап сделки", "Stage"]) is None
    if api:
        names: dict[str, list[str]] = {
            "id": ["id"],
            "stage": ["status_id"],
            "pipeline": ["pipeline_id"],
            "amount": ["price"],
            "created": ["created_at"],
            "closed": ["closed_at"],
            "owner": ["responsible_user_id"],
            "channel": ["utm_source", "source_id"],
            "lost_reason": ["_embedded.loss_reason", "loss_reason", "loss_reason_id"],
            "name": ["name"],
        }
    else:
        names = {
            "id": ["ID"],
            "stage": ["Этап сделки", "Статус", "Stage", "Status", "Lead status"],
            "pipeline": ["Воронка", "Pipeline"],
            "amount": ["Бюджет", "Бюджет ₽", "Бюджет, ₽", "Сумма", "Budget", "Sale"],
            "created": ["Дата создания", "Date created", "Created at", "Created"],
            "closed": ["Дата закрытия", "Closed at", "Date closed", "Closed"],
            "owner": ["Ответственный", "Responsible user", "Responsible"],
            "channel": ["utm_source", "Источник", "Source"],
            "lost_reason": ["Причина отказа", "Loss reason", "Lost reason"],
            "name": ["Название сделки", "Название", "Lead title", "Name", "Lead name"],
        }
    deal = need(df, names["id"], what="lead id", where=w, crm=CRM)
    stage_col = need(df, names["stage"], what="stage (Этап сделки)", where=w, crm=CRM)
    created_col = need(df, names["created"], what="creation date", where=w, crm=CRM)
    unit = "s" if api else None
    created = dates(df[created_col], where=w, column=created_col, unit=unit)
    close_col = pick(df, names["closed"])
    if close_col is None:
        close = pd.Series(pd.NaT, index=range(len(df)), dtype=created.dtype)
    else:
        raw_close = df[close_col]
        if api:
            raw_close = pd.to_numeric(raw_close, errors="coerce")
            raw_close = raw_close.where(raw_close > 0)
        close = dates(raw_close, where=w, column=close_col, unit=unit)
        if api and not isinstance(close.dtype, pd.DatetimeTZDtype):
            close = close.dt.tz_localize("UTC")
    pipe_raw = text(column(df, names["pipeline"])).reset_index(drop=True)
    pipe = pipe_raw.map(lambda p: st.pipelines.get(p, p), na_action="ignore")
    raw_stage = text(df[stage_col]).reset_index(drop=True)
    stage = _label(st, raw_stage, pipe_raw)
    lowered = stage.astype("string").str.casefold()
    won = (
        raw_stage.eq(WON_ID) | stage.isin(st.won) | lowered.isin(_WON_LABELS).fillna(False)
    ).to_numpy(bool)
    lost = (
        raw_stage.eq(LOST_ID) | stage.isin(st.lost) | lowered.isin(_LOST_LABELS).fillna(False)
    ).to_numpy(bool)
    st.won.update(stage[won].dropna().astype(str))
    st.lost.update(stage[lost].dropna().astype(str))
    owner = column(df, names["owner"])
    out = pd.DataFrame(
        {
            "deal_id": df[deal].reset_index(drop=True),
            "created_at": created,
            "close_date": close,
            "status": derive_status(won, lost),
            "amount": amounts(
                column(df, names["amount"]), where=w, column=pick(df, names["amount"]) or "amount"
            ),
            "stage": stage,
            "owner": text(owner).reset_index(drop=True),
            "channel": text(column(df, names["channel"])).reset_index(drop=True),
            "lost_reason": _reason(column(df, names["lost_reason"])),
            "currency": _currency(df, names["amount"]),
            "pipeline": pipe,
            "name": text(column(df, names["name"])).reset_index(drop=True),
        }
    )
    out.loc[out["status"] != "lost", "lost_reason"] = None
    h = None
    where = "events"
    if events is not None:
        ev, where = _events(events, st, func)
        ids = out["deal_id"].astype(str)
        ev_ids = ev["deal_id"].astype(str)
        first = first_stage_rows(out.assign(deal_id=ids), ev.assign(deal_id=ev_ids))
        first = first.assign(deal_id=out["deal_id"].to_numpy(), pipeline=out["pipeline"])
        ev_first = ev.sort_values("entered_at", kind="stable").groupby(ev_ids)["old_pipeline"]
        first_pipe = ids.map(ev_first.first())
        first["pipeline"] = first_pipe.where(first_pipe.notna(), out["pipeline"]).to_numpy()
        cols = ["deal_id", "stage", "entered_at", "pipeline"]
        ev_part = ev[cols]
        if isinstance(first["entered_at"].dtype, pd.DatetimeTZDtype) != isinstance(
            ev_part["entered_at"].dtype, pd.DatetimeTZDtype
        ):
            from funnelkit.crm._common import align_zones

            tz = getattr(first["entered_at"].dtype, "tz", None)
            ev_part = align_zones(tz, ev_part, timezone=timezone, crm=CRM, where=where)
        h = pd.concat([first[cols], ev_part], ignore_index=True)
        if h["pipeline"].isna().all():
            h = h.drop(columns="pipeline")
    return finish(
        out, h, st, crm=CRM, func=func, pipeline=pipeline, history_where=where, timezone=timezone
    )


def _reason(s: pd.Series) -> pd.Series:
    if s.map(lambda v: isinstance(v, list)).any():
        s = s.map(lambda v: v[0].get("name") if isinstance(v, list) and v else None)
    return text(s).reset_index(drop=True)


def _currency(df: pd.DataFrame, names: list[str]) -> Any:
    from funnelkit._io import amount_currency

    col = pick(df, names)
    if col is None:
        return None
    return amount_currency(df[col]).reset_index(drop=True)
