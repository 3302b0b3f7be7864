"""Bitrix24: deals export or crm.deal.list, crm.stagehistory.list, stage lists."""

from __future__ import annotations

import pandas as pd

from funnelkit._sales_data import SalesData
from funnelkit._validate import plain
from funnelkit.crm._common import (
    Source,
    Stages,
    amounts,
    column,
    dates,
    derive_status,
    finish,
    load,
    need,
    pick,
    text,
    truthy,
)
from funnelkit.errors import InvalidDataError

CRM = "Bitrix24"
_WON = {"WON"}
_LOST = {"LOSE", "APOLOGY"}
_PREFIX = r"^C\d+:"


def _strip(s: pd.Series) -> pd.Series:
    return s.astype("string").str.replace(_PREFIX, "", regex=True)


def _strip_cat(s: pd.Series) -> pd.Series:
    return s.astype("string").str.extract(r"^C(\d+):", expand=False).fillna("0")


def out_ids(df: pd.DataFrame, deal: str) -> pd.Series:
    """The deal ids as strings, for lookups."""
    ids: pd.Series = (
        df[deal].reset_index(drop=True).astype(str).str.replace(r"\.0$", "", regex=True)
    )
    return ids


def _stages(source: Source | None, func: str) -> Stages:
    st = Stages()
    if source is None:
        return st
    src = load(source, what="stages", func=func)
    df = src.table()
    w = src.where
    sid = need(df, ["STATUS_ID"], what="STATUS_ID", where=w, crm=CRM)
    name = need(df, ["NAME"], what="NAME", where=w, crm=CRM)
    sort = need(df, ["SORT"], what="SORT", where=w, crm=CRM)
    sem = pick(df, ["SEMANTICS", "EXTRA.SEMANTICS", "STATUS_SEMANTIC_ID"])
    cat = pick(df, ["ENTITY_ID", "CATEGORY_ID"])
    entity = pick(df, ["ENTITY_ID"])
    if entity is not None:
        keep = df[entity].astype(str).str.match(r"^DEAL_STAGE(_\d+)?$").to_numpy()
        df = df[keep]
    df = df.assign(
        _sort=pd.to_numeric(df[sort], errors="coerce"),
        _cat=df[cat].astype(str).str.replace(r"^DEAL_STAGE_?", "", regex=True).replace("", "0")
        if cat
        else _strip_cat(df[sid]),
    ).sort_values(["_cat", "_sort"], kind="stable")
    semantic = (
        df[sem].astype("string").str.upper().str[0]
        if sem
        else pd.Series(pd.NA, index=df.index, dtype="string")
    )
    bare = _strip(df[sid])
    semantic = semantic.where(
        semantic.isin(["S", "F"]).fillna(False),
        bare.map(lambda s: "S" if s in _WON else ("F" if s in _LOST else "P")),
    )
    for s, label, sm, c in zip(
        df[sid].astype(str), df[name].astype(str), semantic, df["_cat"], strict=True
    ):
        st.labels[(None, s)] = label
        st.labels[(None, label)] = label
        if sm == "S":
            st.won.add(label)
        elif sm == "F":
            st.lost.add(label)
        else:
            st.order.setdefault(str(c), []).append(label)
        st.pipelines[str(c)] = str(c)
    return st


def read_bitrix24(
    deals: Source,
    *,
    history: Source | None = None,
    stages: Source | None = None,
    pipeline: str | None = None,
    timezone: str | None = None,
) -> SalesData:
    """Read Bitrix24 deals and their stage history into canonical tables.

    Parameters
    ----------
    deals : path, DataFrame or list of dict
        The deals export (Russian headers: ``ID``, ``Название``, ``Воронка``,
        ``Стадия сделки``, ``Сумма``, ``Валюта``, ``Ответственный``, ``Дата
        создания``, ``Предполагаемая дата закрытия``, ``Закрыта``,
        ``Источник``, ``Причина отказа``) or ``crm.deal.list`` records
        (``ID``, ``STAGE_ID``, ``CATEGORY_ID``, ``OPPORTUNITY``,
        ``CURRENCY_ID``, ``DATE_CREATE``, ``CLOSEDATE``, ``CLOSED``, ...).
    history : path, DataFrame, list of dict or None, default=None
        ``crm.stagehistory.list`` items (``OWNER_ID``, ``STAGE_ID``,
        ``CREATED_TIME``, ``TYPE_ID``; the creation row included).
    stages : path, DataFrame, list of dict or None, default=None
        ``crm.status.list`` / ``crm.dealcategory.stage.list`` rows
        (``STATUS_ID``, ``NAME``, ``SORT``, ``SEMANTICS`` or
        ``EXTRA.SEMANTICS``, ``ENTITY_ID`` / ``CATEGORY_ID``): labels, order
        and semantics (P in progress, S won, F lost). Without it, ``WON`` is
        won and ``LOSE`` / ``APOLOGY`` are lost after the ``C<n>:`` prefix.
    pipeline : str or None, default=None
        Keep only the deals of this pipeline ("воронка", the ``CATEGORY_ID``
        or its name in the export). Required when the deals span pipelines
        with different stages.
    timezone : str or None, default=None
        The portal's time zone, to express UTC instants in local time when a
        UI export and API records are mixed. History times written with an
        offset (``2024-01-05T10:30:00+03:00``) next to a UI export (local
        times) are taken at the wall time as written.

    Returns
    -------
    SalesData
        ``deals`` (canonical columns; ``expected_close`` is the close date
        of a deal that is not closed), ``history`` and ``stages``.

    Raises
    ------
    ColumnNotFoundError
        A required column is missing (e.g. not a Bitrix24 export).
    InvalidDataError
        Unparseable dates or amounts, history of unknown deals or stages.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> export = pd.DataFrame(
    ...     {
    ...         "ID": [31, 32],
    ...         "Стадия сделки": ["C2:WON", "C2:PREPARATION"],
    ...         "Сумма": ["12 300,00", "5 000,50"],
    ...         "Валюта": ["RUB", "RUB"],
    ...         "Дата создания": ["05.01.2024 10:30:00", "06.01.2024 12:00:00"],
    ...         "Предполагаемая дата закрытия": ["20.01.2024", "31.03.2024"],
    ...         "Закрыта": ["Да", "Нет"],
    ...     }
    ... )
    >>> history = pd.DataFrame(
    ...     {
    ...         "OWNER_ID": [31, 31, 32],
    ...         "STAGE_ID": ["C2:NEW", "C2:WON", "C2:PREPARATION"],
    ...         "CREATED_TIME": ["2024-01-05T10:30:00+03:00", "2024-01-20T00:00:00+03:00",
    ...                          "2024-01-06T12:00:00+03:00"],
    ...     }
    ... )
    >>> data = fk.crm.read_bitrix24(export, history=history, stages=None)  # doctest: +SKIP
    >>> stages = pd.DataFrame(
    ...     {
    ...         "STATUS_ID": ["C2:NEW", "C2:PREPARATION", "C2:WON", "C2:LOSE"],
    ...         "NAME": ["Новая", "Подготовка", "Сделка успешна", "Сделка провалена"],
    ...         "SORT": [10, 20, 60, 70],
    ...     }
    ... )
    >>> data = fk.crm.read_bitrix24(export, history=history, stages=stages)
    >>> data.deals[["deal_id", "status", "amount", "stage", "expected_close"]]
       deal_id status   amount       stage expected_close
    0       31    won  12300.0       Новая            NaT
    1       32   open   5000.5  Подготовка     2024-03-31
    >>> data.stages
    ('Новая', 'Подготовка')
    """
    func = "read_bitrix24"
    src = load(deals, what="deals", func=func)
    df = src.table()
    w = src.where
    st = _stages(stages, func)
    api = pick(df, ["STAGE_ID"]) is not None
    if api:
        names: dict[str, list[str]] = {
            "id": ["ID"],
            "stage": ["STAGE_ID"],
            "pipeline": ["CATEGORY_ID"],
            "amount": ["OPPORTUNITY"],
            "currency": ["CURRENCY_ID"],
            "created": ["DATE_CREATE"],
            "closed": ["CLOSEDATE"],
            "is_closed": ["CLOSED"],
            "owner": ["ASSIGNED_BY_ID"],
            "channel": ["SOURCE_ID"],
            "lost_reason": ["LOST_REASON", "UF_LOST_REASON"],
            "name": ["TITLE"],
        }
    else:
        names = {
            "id": ["ID"],
            "stage": ["Стадия сделки", "Стадия"],
            "pipeline": ["Воронка", "Направление"],
            "amount": ["Сумма", "Сумма сделки"],
            "currency": ["Валюта"],
            "created": ["Дата создания"],
            "closed": ["Предполагаемая дата закрытия", "Дата завершения", "Дата закрытия"],
            "is_closed": ["Закрыта", "Сделка закрыта"],
            "owner": ["Ответственный"],
            "channel": ["Источник"],
            "lost_reason": ["Причина отказа", "Причина провала"],
            "name": ["Название", "Название сделки"],
        }
    deal = need(df, names["id"], what="deal id", where=w, crm=CRM)
    stage_col = need(df, names["stage"], what="stage (Стадия сделки)", where=w, crm=CRM)
    created_col = need(df, names["created"], what="creation date (Дата создания)", where=w, crm=CRM)
    created = dates(df[created_col], where=w, column=created_col)
    close_col = pick(df, names["closed"])
    close = (
        dates(df[close_col], where=w, column=close_col)
        if close_col
        else pd.Series(pd.NaT, index=range(len(df)), dtype="datetime64[ns]")
    )
    if isinstance(created.dtype, pd.DatetimeTZDtype) and not isinstance(
        close.dtype, pd.DatetimeTZDtype
    ):
        close = close.dt.tz_localize("UTC")
    raw_stage = text(df[stage_col]).reset_index(drop=True)
    stage = raw_stage.map(lambda s: st.labels.get((None, s), s), na_action="ignore")
    bare = _strip(raw_stage)
    had_meta = bool(st.won or st.lost)
    h = None
    where = "history"
    if history is not None:
        hs = load(history, what="history", func=func)
        hd = hs.table()
        where = hs.where
        owner = need(hd, ["OWNER_ID"], what="OWNER_ID", where=where, crm=CRM)
        hst = need(hd, ["STAGE_ID", "STATUS_ID"], what="STAGE_ID", where=where, crm=CRM)
        htime = need(hd, ["CREATED_TIME"], what="CREATED_TIME", where=where, crm=CRM)
        times = hd[htime]
        if not isinstance(created.dtype, pd.DatetimeTZDtype) and timezone is None:
            # the portal's offsets next to a local UI export: the wall time as written
            times = times.astype("string").str.replace(r"(?:Z|[+-]\d{2}:?\d{2})$", "", regex=True)
        raw_h = text(hd[hst])
        h = pd.DataFrame(
            {
                "deal_id": hd[owner].to_numpy(),
                "stage": raw_h.map(
                    lambda s: st.labels.get((None, s), s), na_action="ignore"
                ).to_numpy(),
                "entered_at": dates(times, where=where, column=htime).to_numpy(),
                "_raw": raw_h.to_numpy(),
            }
        )
        if not st.known:
            bare_h = _strip(raw_h).to_numpy()
            st.won.update(set(h["stage"][pd.Series(bare_h).isin(_WON).to_numpy()].dropna()))
            st.lost.update(set(h["stage"][pd.Series(bare_h).isin(_LOST).to_numpy()].dropna()))
    if not had_meta and h is not None and len(h):
        # stage names in the export, codes in the history: the deal's last code decides
        order = h.assign(_key=h["deal_id"].astype(str)).sort_values("entered_at", kind="stable")
        last = order.groupby("_key")["_raw"].last()
        last_code = _strip(out_ids(df, deal).map(last))
        from_history = last_code.notna().to_numpy()
        bare = bare.where(~from_history, last_code)
    if h is not None:
        h = h.drop(columns="_raw")
    if had_meta:
        won = stage.isin(st.won).to_numpy()
        lost = stage.isin(st.lost).to_numpy()
    else:
        # without the stage list only the codes say won (WON) or lost (LOSE, APOLOGY):
        # stage names (a UI export) would make every deal read as open
        # (a "closed" flag column, when there is one, is checked against the stages below)
        named = bare.notna() & ~bare.str.fullmatch(r"[A-Z][A-Z0-9_]*").fillna(False)
        if bool(named.any()) and pick(df, names["is_closed"]) is None:
            first = plain(raw_stage[named.to_numpy()].iloc[0])
            msg = (
                f"{w}: {int(named.sum()):,} of {len(df):,} deals have a stage name, not a "
                f"stage code (first: {first!r}), and no stage list tells which stages are "
                f"won or lost, so every deal would read as open. Pass stages= (the "
                f"crm.status.list / crm.dealcategory.stage.list rows) or history= "
                f"(crm.stagehistory.list, whose codes say it)."
            )
            raise InvalidDataError(
                msg, column=stage_col, reason="unknown_semantics", n_rows=int(named.sum())
            )
        won = bare.isin(_WON).fillna(False).to_numpy(bool)
        lost = bare.isin(_LOST).fillna(False).to_numpy(bool)
        st.won.update(stage[won].dropna().astype(str))
        st.lost.update(stage[lost].dropna().astype(str))
    closed_flag = pick(df, names["is_closed"])
    if closed_flag is not None:
        flag = truthy(df[closed_flag]).to_numpy()
        odd = flag != (won | lost)
        if odd.any():
            first = plain(raw_stage[odd].iloc[0])
            msg = (
                f"{w}: {int(odd.sum()):,} of {len(df):,} deals have a {closed_flag!r} flag that "
                f"contradicts their stage (first: stage {first!r}). Pass the stage list "
                f"(crm.status.list) so funnelkit knows which stages are final."
            )
            raise InvalidDataError(
                msg, column=closed_flag, reason="contradiction", n_rows=int(odd.sum())
            )
    pipe = text(column(df, names["pipeline"])).reset_index(drop=True)
    if pipe.isna().all():
        cat = raw_stage.astype("string").str.extract(r"^C(\d+):", expand=False).fillna("0")
        pipe = cat.astype("object") if (cat != "0").any() else pipe
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
            "owner": text(column(df, names["owner"])).reset_index(drop=True),
            "channel": text(column(df, names["channel"])).reset_index(drop=True),
            "lost_reason": text(column(df, names["lost_reason"])).reset_index(drop=True),
            "currency": text(column(df, names["currency"])).reset_index(drop=True),
            "pipeline": pipe.astype("object"),
            "name": text(column(df, names["name"])).reset_index(drop=True),
        }
    )
    out.loc[out["status"] != "lost", "lost_reason"] = None
    return finish(
        out, h, st, crm=CRM, func=func, pipeline=pipeline, history_where=where, timezone=timezone
    )
