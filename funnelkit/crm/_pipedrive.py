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
        if p:  # stage ids are unique across pipelines; stage names are not
            st.stage_pipeline[s] = str(p)
    return st


def _flow(source: Source, func: str) -> tuple[pd.DataFrame, str]:
    """The flow's ``stage_id`` and ``pipeline_id`` changes, ids as text."""
    src = load(source, what="flow", func=func)
    recs = src.records
    if recs is not None and recs and isinstance(recs[0].get("data"), dict):
        recs = [{**r["data"], "_object": r.get("object")} for r in recs]
        df = pd.json_normalize(recs)
    else:
        df = src.table()
    w = src.where
    key = need(df, ["field_key"], what="field_key", where=w, crm=CRM)
    df = df[df[key].isin(["stage_id", "pipeline_id"]).to_numpy()]
    deal = need(df, ["item_id", "deal_id", "Deal ID"], what="deal id", where=w, crm=CRM)
    new = need(df, ["new_value"], what="new_value", where=w, crm=CRM)
    old = pick(df, ["old_value"])
    when = need(df, ["log_time", "time", "timestamp"], what="log_time", where=w, crm=CRM)
    new_fmt = pick(df, ["additional_data.new_value_formatted"])
    old_fmt = pick(df, ["additional_data.old_value_formatted"])

    def none_for_missing(values: pd.Series) -> Any:
        # object with None for a missing value, on pandas 2 and 3 (str dtypes give NaN)
        return values.astype(object).where(values.notna().to_numpy(), None).to_numpy()

    def ids(name: str | None) -> Any:
        if name is None:
            return np.full(len(df), None, dtype=object)
        return none_for_missing(
            text(df[name].astype("string").str.replace(r"\.0$", "", regex=True))
        )

    def fmt(name: str | None) -> Any:
        if name is None:
            return np.full(len(df), None, dtype=object)
        return none_for_missing(text(df[name]))

    return (
        pd.DataFrame(
            {
                "deal_id": as_ids(df[deal]).to_numpy(),
                "key": df[key].to_numpy(),
                "stage": ids(new),
                "old": ids(old),
                "stage_fmt": fmt(new_fmt),
                "old_fmt": fmt(old_fmt),
                "entered_at": dates(df[when], where=w, column=when).to_numpy(),
            }
        ),
        w,
    )


def _moves(
    ch: pd.DataFrame, deals: pd.DataFrame, st: Stages, where: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage entries and creation rows from the flow's stage and pipeline changes.

    ``ch`` holds the flow rows (``key`` ``stage_id`` / ``pipeline_id``, ids as
    text); ``deals`` the deals (``deal_id`` as text, ``stage_id``: the current
    stage id or name, ``pipeline_key``: the current pipeline). Returns the
    stage-change rows (``deal_id, stage, old, pipeline, entered_at``; stage ids
    or names, not yet labels) and the creation rows (``deal_id, stage,
    pipeline``).
    """
    ch = ch.sort_values(["deal_id", "entered_at"], kind="stable").reset_index(drop=True)
    stage_rows = ch[(ch["key"] == "stage_id").to_numpy()]
    pipe_rows = ch[(ch["key"] == "pipeline_id").to_numpy()].copy()
    pipe_label = _pipeline_labels(pipe_rows, st)
    pipe_rows["pipeline"] = pipe_label["new"].to_numpy()
    pipe_rows["old_pipeline"] = pipe_label["old"].to_numpy()
    # a pipeline change and the stage change of the same update: the stage row says where it
    # landed; a pipeline change on its own lands in the stage the deal has from then on
    same = pipe_rows.merge(
        stage_rows[["deal_id", "entered_at"]].drop_duplicates(), how="left", indicator=True
    )["_merge"].eq("both")
    alone = pipe_rows[~same.to_numpy()].reset_index(drop=True)
    current = deals.drop_duplicates("deal_id").set_index("deal_id")["stage_id"]
    landing = []
    before = []
    for deal, t in zip(alone["deal_id"], alone["entered_at"], strict=True):  # one per move
        mine = stage_rows[(stage_rows["deal_id"] == deal).to_numpy()]
        later = mine[(mine["entered_at"] > t).to_numpy()]
        earlier = mine[(mine["entered_at"] < t).to_numpy()]
        landing.append(later["old"].iloc[0] if len(later) else current.get(deal))
        before.append(earlier["stage"].iloc[-1] if len(earlier) else None)
    alone["stage"] = pd.Series(landing, dtype="object").to_numpy()
    alone["old"] = pd.Series(before, dtype="object").to_numpy()
    bad = alone["stage"].isna().to_numpy()
    if st.stage_pipeline:
        # the stage it lands in must be a stage of the new pipeline
        of = alone["stage"].map(lambda s: st.stage_pipeline.get(str(s), _label_pipeline(st, s)))
        bad = bad | (of.notna() & (of != alone["pipeline"])).to_numpy()
    bad = bad & alone["deal_id"].isin(deals["deal_id"]).to_numpy()  # unknown deals: error later
    if bad.any():
        warnings.warn(
            f"{CRM}: {int(bad.sum()):,} pipeline changes in {where} (first: deal "
            f"{plain(alone['deal_id'][bad].iloc[0])!r}) come without a stage change, and the "
            f"deal's stage after the move is unknown or not a stage of the new pipeline; they "
            f"are left out of the history.",
            FunnelkitWarning,
            stacklevel=4,
        )
        alone = alone[~bad].reset_index(drop=True)
    moves = pd.concat(
        [
            stage_rows.assign(_alone=False),
            alone[["deal_id", "key", "stage", "old", "entered_at"]].assign(_alone=True),
        ],
        ignore_index=True,
    ).sort_values(["deal_id", "entered_at"], kind="stable")
    moves = moves.reset_index(drop=True)
    # the pipeline of each entry: the stage's own (stage ids are unique across pipelines),
    # else the one the deal was in at that time
    timeline = pipe_rows[["deal_id", "entered_at", "pipeline", "old_pipeline"]]
    at = _pipeline_at(moves[["deal_id", "entered_at"]], timeline, deals)
    own = moves["stage"].map(lambda s: st.stage_pipeline.get(str(s)) if s is not None else None)
    moves["pipeline"] = own.where(own.notna(), at).astype("object").to_numpy()
    # the creation row: the stage before the first change, in the pipeline before it
    first = moves.groupby("deal_id", sort=False).first()
    first_alone = moves.groupby("deal_id", sort=False)["_alone"].first()
    start = deals["deal_id"].map(first["old"])
    has_moves = deals["deal_id"].isin(first.index).to_numpy()
    start = start.where(has_moves, deals["stage_id"])
    # a flow that starts with a pipeline change naming no stage: the first stage is unknown
    unknown = deals["deal_id"].map(first_alone).eq(True).to_numpy() & start.isna().to_numpy()
    start = start.where(~unknown, None)
    first_pipe = timeline.groupby("deal_id", sort=False)["old_pipeline"].first()
    start_pipe = deals["deal_id"].map(first_pipe)
    start_pipe = start_pipe.where(start_pipe.notna(), deals["pipeline_key"])
    own_start = start.map(lambda s: st.stage_pipeline.get(str(s)) if s is not None else None)
    creation = pd.DataFrame(
        {
            "deal_id": deals["deal_id"].to_numpy(),
            "stage": start.astype("object").to_numpy(),
            "pipeline": own_start.where(own_start.notna(), start_pipe).astype("object").to_numpy(),
        }
    )
    return moves[["deal_id", "stage", "old", "pipeline", "entered_at"]], creation


def _label_pipeline(st: Stages, stage: Any) -> str | None:
    """The pipeline of a stage given by name, when only one pipeline has that name."""
    if stage is None:
        return None
    hits = [p for p, names in st.order.items() if str(stage) in names]
    return hits[0] if len(hits) == 1 else None


def _names(rows: pd.DataFrame) -> dict[Any, Any]:
    """Id -> name from the flow's formatted values, wherever a row names one."""
    named: dict[Any, Any] = {}
    for ids, fmts in ((rows["old"], rows["old_fmt"]), (rows["stage"], rows["stage_fmt"])):
        named.update(
            (k, v)
            for k, v in zip(ids, fmts, strict=True)
            if not pd.isna(k) and not pd.isna(v) and v != ""
        )
    return named


def _pipeline_labels(rows: pd.DataFrame, st: Stages) -> pd.DataFrame:
    """Pipeline ids of ``pipeline_id`` changes as the pipeline labels the stages use."""
    flow_names = _names(rows)

    def label(pid: Any, name: Any) -> Any:
        if pid is None or pd.isna(pid):
            return None
        if str(pid) in st.pipelines:
            return st.pipelines[str(pid)]
        if name is None or pd.isna(name):
            name = flow_names.get(pid)
        if str(pid) in st.order or name is None:
            return str(pid)
        return name  # the flow's own name of the pipeline

    result: pd.DataFrame = pd.DataFrame(
        {
            "new": [label(p, n) for p, n in zip(rows["stage"], rows["stage_fmt"], strict=True)],
            "old": [label(p, n) for p, n in zip(rows["old"], rows["old_fmt"], strict=True)],
        },
        index=rows.index,
        dtype="object",
    )
    return result


def _pipeline_at(at: pd.DataFrame, timeline: pd.DataFrame, deals: pd.DataFrame) -> pd.Series:
    """The pipeline each deal was in at each time (``pipeline_id`` changes, else its current)."""
    now = deals.drop_duplicates("deal_id").set_index("deal_id")["pipeline_key"]
    out: pd.Series = pd.Series(now.reindex(at["deal_id"]).to_numpy(), index=at.index, dtype=object)
    for deal, rows in timeline.groupby("deal_id", sort=False):  # deals that changed pipeline
        mine = (at["deal_id"] == deal).to_numpy()
        if not mine.any():
            continue
        times = rows["entered_at"].to_numpy()
        pos = np.searchsorted(times, at["entered_at"][mine].to_numpy(), side="right")
        new = rows["pipeline"].to_numpy()
        vals = np.where(pos > 0, new[np.maximum(pos - 1, 0)], rows["old_pipeline"].iloc[0])
        out[mine] = vals
    return out


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
        ``new_value``, ``log_time``. ``field_key == "stage_id"`` rows are
        stage entries; each deal's creation row (its first stage at
        ``add_time``) is added, as the flow does not list it. A
        ``pipeline_id`` change enters the deal into the stage it lands in
        (the ``stage_id`` change of the same update, else the deal's stage
        from then on); each history row keeps the pipeline of its stage.
    stages : path, DataFrame, list of dict or None, default=None
        The stages (``/stages``: ``id``, ``name``, ``order_nr``,
        ``pipeline_id``, ``pipeline_name``): stage labels and order.
    pipeline : str or None, default=None
        Keep only the deals of this pipeline, and their stage entries in
        it. Required when the deals (or their history) span pipelines with
        different stages.
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
    out.loc[out["status"] != "lost", "lost_reason"] = None  # as in every adapter
    h = None
    where = "flow"
    if flow is not None:
        ch, where = _flow(flow, func)
        ch["deal_id"] = ch["deal_id"].astype(str)
        if not isinstance(ch["entered_at"].dtype, pd.DatetimeTZDtype):
            if utc:  # API deals: the flow's log_time is UTC too
                ch["entered_at"] = _utc(ch["entered_at"])
            elif timezone is not None:  # a UI export in local time: the flow's UTC in local time
                local = _utc(ch["entered_at"]).dt.tz_convert(timezone).dt.tz_localize(None)
                ch["entered_at"] = local
        now = pd.DataFrame(
            {
                "deal_id": out["deal_id"].astype(str).to_numpy(),
                "stage_id": text(column(df, names["stage"])).to_numpy(),
                "pipeline_key": out["pipeline"].to_numpy(),
            }
        )
        moves, creation = _moves(ch, now, st, where)
        # labels: from the stage metadata, else from the flow's formatted names
        if st.labels:
            moves["stage"] = map_labels(st, moves["stage"]).to_numpy()
            creation["stage"] = map_labels(st, creation["stage"]).to_numpy()
        else:
            named = _names(ch[(ch["key"] == "stage_id").to_numpy()])
            moves["stage"] = moves["stage"].map(lambda s: named.get(s, s)).to_numpy()
            creation["stage"] = creation["stage"].map(lambda s: named.get(s, s)).to_numpy()
        creation["deal_id"] = out["deal_id"].to_numpy()
        creation["entered_at"] = out["created_at"].array
        cols = ["deal_id", "stage", "entered_at", "pipeline"]
        h = pd.concat([creation[cols], moves[cols]], ignore_index=True)
        if h["pipeline"].isna().all():
            h = h.drop(columns="pipeline")
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
