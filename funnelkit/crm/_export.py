"""Write a SalesData in each CRM's export format (for round trips and tutorials)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnelkit._sales_data import SalesData

_AMO_WON, _AMO_LOST = 142, 143


def _prepare(data: SalesData) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """Deals with a numeric id and close/expected dates; history with closing rows."""
    d = data.deals.reset_index(drop=True).copy()
    d["num"] = np.arange(1, len(d) + 1, dtype=np.int64)
    d["stage_k"] = d["stage"].map({s: i for i, s in enumerate(data.stages)})
    as_of = data.as_of if data.as_of is not None else d["created_at"].max()
    # an open deal's close date in a CRM is its *expected* close date
    d["expected"] = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=30)
    h = data.history.merge(d[["deal_id", "num"]], on="deal_id", how="inner")
    h = h.assign(closing=None)
    closed = d[d["status"] != "open"]
    rows = pd.DataFrame(
        {
            "deal_id": closed["deal_id"].to_numpy(),
            "stage": None,
            "entered_at": closed["closed_at"].to_numpy(),
            "num": closed["num"].to_numpy(),
            "closing": closed["status"].to_numpy(),
        }
    )
    h = pd.concat([h, rows], ignore_index=True)
    h["order"] = np.where(h["closing"].notna(), 1, 0)
    h = h.sort_values(["num", "entered_at", "order"], kind="stable").reset_index(drop=True)
    h["first"] = ~h["num"].duplicated()
    return d, h, pd.Timestamp(as_of)


def _fmt(s: pd.Series, fmt: str) -> pd.Series:
    out = s.dt.strftime(fmt)
    result: pd.Series = out.where(s.notna(), "")
    return result


def _iso_z(s: pd.Series) -> pd.Series:
    return _fmt(s, "%Y-%m-%dT%H:%M:%S.000Z")


def _unix(s: pd.Series) -> pd.Series:
    secs = (s - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    result: pd.Series = secs.astype("Int64")
    return result


def _write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = df.astype(object).where(df.notna(), None).to_dict("records")
    return [{str(k): v for k, v in r.items()} for r in out]


def export_hubspot(data: SalesData, folder: Path) -> dict[str, Path]:
    d, h, as_of = _prepare(data)
    ids = {s: str(1001 + i) for i, s in enumerate(data.stages)}
    ids_won, ids_lost = "closedwon", "closedlost"
    stages = [
        {
            "id": ids[s],
            "label": s,
            "displayOrder": i,
            "metadata": {"isClosed": "false", "probability": f"{(i + 1) / 10:.1f}"},
        }
        for i, s in enumerate(data.stages)
    ]
    n = len(stages)
    stages += [
        {"id": ids_won, "label": "Closed Won", "displayOrder": n,
         "metadata": {"isClosed": "true", "probability": "1.0"}},
        {"id": ids_lost, "label": "Closed Lost", "displayOrder": n + 1,
         "metadata": {"isClosed": "true", "probability": "0.0"}},
    ]  # fmt: skip
    pipes = {"results": [{"id": "default", "label": "Sales Pipeline", "displayOrder": 0,
                          "stages": stages}]}  # fmt: skip
    fmt = "%Y-%m-%d %H:%M:%S"
    current = d["stage"].where(d["status"] == "open")
    current = current.where(d["status"] != "won", "Closed Won")
    current = current.where(d["status"] != "lost", "Closed Lost")
    close = d["closed_at"].where(d["status"] != "open", d["expected"])
    out = pd.DataFrame(
        {
            "Record ID": d["num"],
            "Deal Name": "Deal " + d["num"].astype(str),
            "Pipeline": "Sales Pipeline",
            "Deal Stage": current,
            "Amount": d["amount"],
            "Deal owner": d["owner"],
            "Create Date": _fmt(d["created_at"], fmt),
            "Close Date": _fmt(close, fmt),
            "Closed Lost Reason": d["lost_reason"],
            "Original Traffic Source": d["channel"],
        }
    )
    first = h[h["closing"].isna()].pivot_table(
        index="num", columns="stage", values="entered_at", aggfunc="min"
    )
    for s in data.stages:
        col = first[s] if s in first.columns else pd.Series(dtype="datetime64[ns]")
        out[f'Date entered "{s} (Sales Pipeline)"'] = _fmt(
            d["num"].map(col).astype("datetime64[ns]"), fmt
        )
    value = h["stage"].map(ids)
    value = value.where(h["closing"] != "won", ids_won).where(h["closing"] != "lost", ids_lost)
    hist = pd.DataFrame(  # Fivetran's deal_property_history table
        {
            "deal_id": h["num"],
            "name": "dealstage",
            "value": value,
            "timestamp": _fmt(h["entered_at"], fmt),
            "source": "CRM_UI",
            "source_id": "userId:1",
        }
    )
    day = as_of.strftime("%Y-%m-%d")
    paths = {
        "deals": folder / f"hubspot-crm-exports-all-deals-{day}.csv",
        "history": folder / "deal_property_history.csv",
        "stages": folder / "pipelines.json",
    }
    out.to_csv(paths["deals"], index=False)
    hist.to_csv(paths["history"], index=False)
    _write_json(paths["stages"], pipes)
    return paths


def export_salesforce(data: SalesData, folder: Path) -> dict[str, Path]:
    d, h, _ = _prepare(data)
    sf_id = "006" + d["num"].astype(str).str.zfill(12) + "AAA"
    owners = {o: f"005{i:012d}AAA" for i, o in enumerate(sorted(d["owner"].dropna().unique()))}
    close = d["closed_at"].where(d["status"] != "open", d["expected"])
    opp = pd.DataFrame(
        {
            "Id": sf_id,
            "Name": "Opportunity " + d["num"].astype(str),
            "StageName": d["stage"]
            .where(d["status"] != "won", "Closed Won")
            .where(d["status"] != "lost", "Closed Lost"),
            "Amount": d["amount"],
            "CloseDate": _fmt(close, "%Y-%m-%d"),
            "IsClosed": np.where(d["status"] != "open", "true", "false"),
            "IsWon": np.where(d["status"] == "won", "true", "false"),
            "CreatedDate": _iso_z(d["created_at"]),
            "OwnerId": d["owner"].map(owners),
            "LeadSource": d["channel"],
            "Loss_Reason__c": d["lost_reason"],
            "IsDeleted": "false",
        }
    )
    stage = h["stage"].where(h["closing"] != "won", "Closed Won")
    stage = stage.where(h["closing"] != "lost", "Closed Lost")
    hist = pd.DataFrame(
        {
            "OpportunityId": sf_id.to_numpy()[h["num"].to_numpy() - 1],
            "CreatedDate": h["entered_at"],
            "StageName": stage,
            "Amount": d["amount"].to_numpy()[h["num"].to_numpy() - 1],
        }
    )
    # an amount edit between two stage moves writes a row that repeats the stage
    nxt = hist.groupby("OpportunityId")["CreatedDate"].shift(-1)
    edit = hist[nxt.notna().to_numpy() & (np.arange(len(hist)) % 3 == 0)].copy()
    edit["CreatedDate"] = edit["CreatedDate"] + (nxt[edit.index] - edit["CreatedDate"]) / 2
    edit["Amount"] = edit["Amount"] * 1.1
    hist = pd.concat([hist, edit]).sort_values(["OpportunityId", "CreatedDate"], kind="stable")
    hist.insert(0, "Id", ["008" + str(i).zfill(12) + "AAA" for i in range(len(hist))])
    hist["CreatedDate"] = _iso_z(hist["CreatedDate"].dt.floor("s"))
    hist["IsDeleted"] = "false"
    labels = [*data.stages, "Closed Won", "Closed Lost"]
    n = len(data.stages)
    meta = pd.DataFrame(
        {
            "Id": [f"01J{i:012d}AAA" for i in range(n + 2)],
            "ApiName": labels,
            "MasterLabel": labels,
            "SortOrder": np.arange(1, n + 3),
            "IsActive": "true",
            "IsClosed": ["false"] * n + ["true", "true"],
            "IsWon": ["false"] * n + ["true", "false"],
            "DefaultProbability": [*(np.arange(1, n + 1) * 10), 100, 0],
        }
    )
    paths = {
        "deals": folder / "Opportunity.csv",
        "history": folder / "OpportunityHistory.csv",
        "stages": folder / "OpportunityStage.csv",
    }
    opp.to_csv(paths["deals"], index=False)
    hist.to_csv(paths["history"], index=False)
    meta.to_csv(paths["stages"], index=False)
    return paths


def export_pipedrive(data: SalesData, folder: Path) -> dict[str, Path]:
    d, h, _ = _prepare(data)
    ids = {s: i + 1 for i, s in enumerate(data.stages)}
    fmt = "%Y-%m-%d %H:%M:%S"
    won = d["closed_at"].where(d["status"] == "won")
    lost = d["closed_at"].where(d["status"] == "lost")
    deals = pd.DataFrame(
        {
            "Deal - ID": d["num"],
            "Deal - Title": "Deal " + d["num"].astype(str),
            "Deal - Owner": d["owner"],
            "Deal - Value": d["amount"],
            "Deal - Currency of Value": "USD",
            "Deal - Pipeline": "Pipeline",
            "Deal - Stage": d["stage"],
            "Deal - Status": d["status"],
            "Deal - Deal created": _fmt(d["created_at"], fmt),
            "Deal - Won time": _fmt(won, fmt),
            "Deal - Lost time": _fmt(lost, fmt),
            "Deal - Deal closed on": _fmt(d["closed_at"], fmt),
            "Deal - Lost reason": d["lost_reason"],
            "Deal - Expected close date": _fmt(d["expected"], "%Y-%m-%d"),
            "Deal - Source channel": d["channel"],
        }
    )
    moves = h[h["closing"].isna()].reset_index(drop=True)
    prev = moves.groupby("num")["stage"].shift()
    change = moves[prev.notna().to_numpy()]
    prev = prev[prev.notna()]
    flow = [
        {
            "object": "dealChange",
            "timestamp": t,
            "data": {
                "id": i + 1,
                "item_id": int(num),
                "user_id": 1,
                "field_key": "stage_id",
                "old_value": str(ids[old]),
                "new_value": str(ids[new]),
                "log_time": t,
                "additional_data": {"old_value_formatted": old, "new_value_formatted": new},
            },
        }
        for i, (num, old, new, t) in enumerate(
            zip(change["num"], prev, change["stage"], _fmt(change["entered_at"], fmt), strict=True)
        )
    ]
    # changes of other fields are in the flow too
    flow += [
        {"object": "dealChange", "timestamp": t,
         "data": {"id": 0, "item_id": int(num), "field_key": "value", "old_value": "0",
                  "new_value": "1", "log_time": t}}
        for num, t in zip(d["num"][::5], _fmt(d["created_at"][::5], fmt), strict=True)
    ]  # fmt: skip
    stages = {
        "success": True,
        "data": [
            {"id": ids[s], "order_nr": i + 1, "name": s, "pipeline_id": 1,
             "pipeline_name": "Pipeline", "active_flag": True}
            for i, s in enumerate(data.stages)
        ],
    }  # fmt: skip
    paths = {
        "deals": folder / "deals.csv",
        "history": folder / "deal_flow.json",
        "stages": folder / "stages.json",
    }
    deals.to_csv(paths["deals"], index=False)
    _write_json(paths["history"], flow)
    _write_json(paths["stages"], stages)
    return paths


def export_amocrm(data: SalesData, folder: Path) -> dict[str, Path]:
    d, h, _ = _prepare(data)
    ids = {s: 50001 + i for i, s in enumerate(data.stages)}
    pipe = 7001
    status = d["stage"].map(ids)
    status = status.where(d["status"] != "won", _AMO_WON).where(d["status"] != "lost", _AMO_LOST)
    leads = pd.DataFrame(
        {
            "id": d["num"],
            "name": "Сделка " + d["num"].astype(str),
            "price": d["amount"],
            "responsible_user_id": d["owner"],
            "status_id": status.astype("int64"),
            "pipeline_id": pipe,
            "created_at": _unix(d["created_at"]),
            "closed_at": _unix(d["closed_at"]),
            "utm_source": d["channel"],
        }
    )
    recs = _records(leads)
    for r, reason in zip(recs, d["lost_reason"], strict=True):
        r["_embedded"] = {"loss_reason": [{"id": 1, "name": reason}] if reason else []}
    sid = h["stage"].map(ids)
    sid = sid.where(h["closing"] != "won", _AMO_WON).where(h["closing"] != "lost", _AMO_LOST)
    h = h.assign(sid=sid.astype("int64"))
    prev = h.groupby("num")["sid"].shift()
    ch = h[prev.notna().to_numpy()]
    events = [
        {
            "id": f"e{i}",
            "type": "lead_status_changed",
            "entity_id": int(num),
            "entity_type": "lead",
            "created_by": 0,
            "created_at": int(t),
            "value_before": [{"lead_status": {"id": int(old), "pipeline_id": pipe}}],
            "value_after": [{"lead_status": {"id": int(new), "pipeline_id": pipe}}],
            "account_id": 1,
        }
        for i, (num, old, new, t) in enumerate(
            zip(ch["num"], prev[prev.notna()], ch["sid"], _unix(ch["entered_at"]), strict=True)
        )
    ]
    statuses = [
        {"id": ids[s], "name": s, "sort": 10 * (i + 1), "pipeline_id": pipe, "type": 0}
        for i, s in enumerate(data.stages)
    ]
    statuses += [
        {"id": _AMO_WON, "name": "Успешно реализовано", "sort": 10000, "pipeline_id": pipe},
        {"id": _AMO_LOST, "name": "Закрыто и не реализовано", "sort": 11000, "pipeline_id": pipe},
    ]
    pipelines = {"_embedded": {"pipelines": [
        {"id": pipe, "name": "Воронка", "sort": 1, "is_main": True,
         "_embedded": {"statuses": statuses}}]}}  # fmt: skip
    paths = {
        "deals": folder / "leads.json",
        "history": folder / "events.json",
        "stages": folder / "pipelines.json",
    }
    _write_json(paths["deals"], {"_embedded": {"leads": recs}})
    _write_json(paths["history"], {"_embedded": {"events": events}})
    _write_json(paths["stages"], pipelines)
    return paths


_BITRIX_IDS = ("NEW", "PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING", "FINAL_INVOICE")


def export_bitrix24(data: SalesData, folder: Path) -> dict[str, Path]:
    d, h, _ = _prepare(data)
    codes = [*_BITRIX_IDS, *(f"UC_{i:06d}" for i in range(max(len(data.stages) - 5, 0)))]
    ids = dict(zip(data.stages, codes, strict=False))
    names = {"WON": "Сделка успешна", "LOSE": "Сделка провалена"}
    fmt = "%d.%m.%Y %H:%M:%S"
    label = d["stage"].where(d["status"] != "won", names["WON"])
    label = label.where(d["status"] != "lost", names["LOSE"])
    close = d["closed_at"].where(d["status"] != "open", d["expected"])
    amount = d["amount"].map(
        lambda a: "" if pd.isna(a) else f"{a:,.2f}".replace(",", " ").replace(".", ",")
    )
    deals = pd.DataFrame(
        {
            "ID": d["num"],
            "Название": "Сделка №" + d["num"].astype(str),
            "Стадия сделки": label,
            "Сумма": amount,
            "Валюта": "RUB",
            "Ответственный": d["owner"],
            "Дата создания": _fmt(d["created_at"], fmt),
            "Предполагаемая дата закрытия": _fmt(close, fmt),
            "Закрыта": np.where(d["status"] != "open", "Да", "Нет"),
            "Источник": d["channel"],
            "Причина отказа": d["lost_reason"],
        }
    )
    sid = h["stage"].map(ids)
    sid = sid.where(h["closing"] != "won", "WON").where(h["closing"] != "lost", "LOSE")
    semantic = np.where(h["closing"] == "won", "S", np.where(h["closing"] == "lost", "F", "P"))
    type_id = np.where(h["first"], 1, np.where(h["closing"].notna(), 3, 2))
    items = pd.DataFrame(
        {
            "ID": np.arange(1, len(h) + 1),
            "TYPE_ID": type_id,
            "OWNER_ID": h["num"],
            "CREATED_TIME": _fmt(h["entered_at"], "%Y-%m-%dT%H:%M:%S+03:00"),
            "CATEGORY_ID": 0,
            "STAGE_SEMANTIC_ID": semantic,
            "STAGE_ID": sid,
        }
    )
    status = [
        {"ID": i + 1, "ENTITY_ID": "DEAL_STAGE", "STATUS_ID": ids[s], "NAME": s,
         "SORT": 10 * (i + 1), "SEMANTICS": None}
        for i, s in enumerate(data.stages)
    ]  # fmt: skip
    status += [
        {"ID": 90, "ENTITY_ID": "DEAL_STAGE", "STATUS_ID": "WON", "NAME": names["WON"],
         "SORT": 900, "SEMANTICS": "S"},
        {"ID": 91, "ENTITY_ID": "DEAL_STAGE", "STATUS_ID": "LOSE", "NAME": names["LOSE"],
         "SORT": 910, "SEMANTICS": "F"},
    ]  # fmt: skip
    paths = {
        "deals": folder / "deals.csv",
        "history": folder / "stagehistory.json",
        "stages": folder / "crm.status.list.json",
    }
    deals.to_csv(paths["deals"], index=False, sep=";", encoding="cp1251")
    _write_json(paths["history"], {"result": {"items": _records(items)}, "total": len(items)})
    _write_json(paths["stages"], {"result": status})
    return paths


EXPORTERS = {
    "hubspot": export_hubspot,
    "salesforce": export_salesforce,
    "pipedrive": export_pipedrive,
    "amocrm": export_amocrm,
    "kommo": export_amocrm,
    "bitrix24": export_bitrix24,
}
