"""Reading CRM exports: :func:`read_table` and the amount / date parsers.

A CRM export is rarely what ``pd.read_csv`` expects: Russian-speaking teams
get ``;``-separated cp1251 files with ``dd.mm.YYYY HH:MM:SS`` dates and
amounts such as ``1 234 567,50 ₽``; others get ``.xlsx`` workbooks or API
JSON.  Everything here reads such files without options, and every failure
names the file, the column and the fix.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnelkit.errors import FunnelkitError, InvalidDataError, InvalidParameterError

__all__ = ["load_records", "parse_amounts", "parse_dates", "read_table"]

#: File types read_table understands, by suffix.
_CSV = (".csv", ".tsv", ".txt")
_EXCEL = (".xlsx", ".xlsm")
_JSON = (".json",)
_JSONL = (".jsonl", ".ndjson")
_PARQUET = (".parquet", ".pq")
#: Keys under which CRM APIs wrap their list of records.
_WRAPPERS = ("results", "result", "records", "items", "data", "deals", "leads", "events")

_SPACES = "\u0020\u00a0\u202f\u2009\u2007\t"
_CURRENCY_SIGNS = {"₽": "RUB", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₴": "UAH"}
_CURRENCY_RE = r"(?:[₽$€£¥₴₸]|(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])|(?i:руб\.?|р\.))"


def _fail(msg: str) -> FunnelkitError:
    return FunnelkitError(msg)


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def sniff_encoding(raw: bytes) -> str:
    """UTF-8 with BOM, UTF-8, else cp1251 (the Russian Windows code page)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1251"
    return "utf-8"


def sniff_sep(text: str) -> str:
    """The separator (``,``, ``;`` or tab) that splits the header line most often."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {}
    for sep in (",", ";", "\t"):
        try:
            counts[sep] = len(next(csv.reader([header], delimiter=sep))) - 1
        except (csv.Error, StopIteration):  # pragma: no cover - csv accepts any line
            counts[sep] = 0
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] > 0 else ","


def _infer_numbers(df: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """Turn columns whose every value is a plain number into numbers.

    Text with a leading zero (``"007"``) stays text, so ids and codes keep
    their spelling.
    """
    out = {}
    d = "\\." if decimal == "." else decimal
    number = rf"[+-]?(?:0|[1-9]\d*)(?:{d}\d+)?|[+-]?{d}\d+"
    for name in df.columns:
        col = df[name]
        known = col.dropna()
        # a cheap look at the first values before reading the whole column
        if known.empty or not known.iloc[:50].astype(str).str.fullmatch(number).all():
            out[name] = col
            continue
        text = known.astype(str).str.strip()
        if not text.str.fullmatch(number).all():
            out[name] = col
            continue
        values = pd.to_numeric(col.str.replace(decimal, ".", regex=False))
        integer = not text.str.contains(d, regex=True).any()
        out[name] = values if integer and values.notna().all() else values.astype("float64")
    result: pd.DataFrame = pd.DataFrame(out, index=df.index)
    return result


def load_records(path: str | Path, *, what: str = "file") -> list[dict[str, Any]]:
    """Read a ``.json`` or ``.jsonl`` file as a list of API records.

    A list at the top level, or one under a wrapping key (``results``,
    ``result``, ``records``, ``items``, ``data``, amoCRM's
    ``_embedded.leads`` ...), is returned as it is.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding=sniff_encoding(path.read_bytes()))
    except OSError as exc:
        msg = f"cannot read the {what} file '{path}': {exc.strerror or exc}"
        raise _fail(msg) from None
    try:
        if _suffix(path) in _JSONL:
            data: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = (
            f"cannot read the {what} file '{path}': not valid JSON ({exc.msg} at line "
            f"{exc.lineno}). Export the records as a JSON list (or one object per line, .jsonl)."
        )
        raise _fail(msg) from None
    for _ in range(4):
        if isinstance(data, dict):
            if "_embedded" in data and isinstance(data["_embedded"], dict):
                data = data["_embedded"]
            key = next((k for k in (*_WRAPPERS, *data) if isinstance(data.get(k), list)), None)
            if key is None:
                key = next((k for k in _WRAPPERS if isinstance(data.get(k), dict)), None)
            if key is None:
                break
            data = data[key]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        msg = (
            f"the {what} file '{path}' holds no list of records: expected a JSON list of "
            f"objects (or an API response wrapping one under 'results' or 'result')."
        )
        raise _fail(msg)
    return data


def read_table(
    path: str | Path,
    *,
    sep: str | None = None,
    encoding: str | None = None,
    decimal: str | None = None,
    dayfirst: bool | None = None,
    date_format: str | None = None,
    sheet: str | int | None = None,
    amounts: Sequence[str] | None = None,
    dates: Sequence[str] | None = None,
) -> pd.DataFrame:
    r"""Read a CSV, Excel, JSON or Parquet export as a DataFrame.

    CSV files need no options: the encoding (UTF-8, UTF-8 with BOM, cp1251)
    and the separator (``,``, ``;``, tab) are sniffed, columns whose every
    value is a plain number become numbers, everything else stays text.
    Money and date columns named in ``amounts=`` and ``dates=`` are parsed
    with the rules below.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.csv`` / ``.tsv`` / ``.txt``, ``.xlsx`` (needs ``pip install
        "funnelkit[excel]"``), ``.json`` (a list of records, or an API
        response wrapping one), ``.jsonl`` or ``.parquet`` file.
    sep : str or None, default=None
        Field separator of a text file; None sniffs it from the header line.
    encoding : str or None, default=None
        Text encoding; None sniffs UTF-8 (with or without BOM), else cp1251.
    decimal : str or None, default=None
        Decimal mark (``"."`` or ``","``) of numbers and of the ``amounts=``
        columns; None infers it from the values.
    dayfirst : bool or None, default=None
        Whether ``01/02/2024`` in the ``dates=`` columns is 1 February;
        None decides from the values (a first field above 12) and raises when
        they do not tell. Dotted dates (``dd.mm.YYYY``) are always day-first.
    date_format : str or None, default=None
        An explicit ``strftime`` format for the ``dates=`` columns.
    sheet : str, int or None, default=None
        Sheet name or position of an Excel file; None reads the first.
    amounts : sequence of str or None, default=None
        Columns holding money: thousands separators, (no-break, thin) spaces,
        decimal commas and currency signs are removed (``"1 234 567,50 ₽"``,
        ``"$1,234.50"``, ``"€1.234,50"`` → float); empty cells become NaN.
    dates : sequence of str or None, default=None
        Columns holding dates: ISO 8601 (tz-aware UTC when the values carry a
        ``Z`` or an offset, naive otherwise), ``dd.mm.YYYY[ HH:MM[:SS]]`` or
        ``dd/mm/YYYY`` / ``mm/dd/YYYY`` (see ``dayfirst=``).

    Returns
    -------
    pandas.DataFrame
        The table with a RangeIndex, column names as in the file.

    Raises
    ------
    FunnelkitError
        The file cannot be read (missing, not the format its suffix says,
        openpyxl not installed for ``.xlsx``).
    ColumnNotFoundError
        A column of ``amounts=`` or ``dates=`` is not in the file.
    InvalidDataError
        Values of an ``amounts=`` or ``dates=`` column do not parse; the
        message names the file, the column, the count and the fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import funnelkit as fk
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> text = "ID;Бюджет;Дата создания\n1;1 234 567,50 руб.;05.01.2024 10:30:00\n"
    >>> _ = (folder / "leads.csv").write_bytes(text.encode("cp1251"))
    >>> df = fk.read_table(folder / "leads.csv", amounts=["Бюджет"], dates=["Дата создания"])
    >>> float(df.loc[0, "Бюджет"])
    1234567.5
    >>> df.loc[0, "Дата создания"]
    Timestamp('2024-01-05 10:30:00')
    """
    path = Path(path)
    where = path.name
    if decimal is not None and decimal not in (".", ","):
        msg = f"The 'decimal' parameter of read_table must be '.' or ','. Got {decimal!r} instead."
        raise InvalidParameterError(msg)
    suffix = _suffix(path)
    if not path.is_file():
        msg = f"cannot read '{path}': no such file. Check the path."
        raise _fail(msg)
    if suffix in _CSV:
        raw = path.read_bytes()
        enc = encoding or sniff_encoding(raw)
        try:
            text = raw.decode(enc)
        except (UnicodeDecodeError, LookupError) as exc:
            msg = (
                f"cannot read '{where}' as {enc}: {exc}. Pass encoding= (e.g. 'cp1251' or "
                f"'utf-8-sig')."
            )
            raise _fail(msg) from None
        separator = sep or ("\t" if suffix == ".tsv" else sniff_sep(text))
        try:
            df = pd.read_csv(
                io.StringIO(text),
                sep=separator,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                skipinitialspace=False,
            )
        except (ValueError, pd.errors.ParserError) as exc:
            reason = " ".join(str(exc).split())
            msg = f"cannot read '{where}' (separator {separator!r}): {reason}. Pass sep=."
            raise _fail(msg) from None
        df.columns = [str(c).strip() for c in df.columns]
        df = _infer_numbers(df, decimal or ".")
    elif suffix in _EXCEL:
        try:
            import openpyxl  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            msg = (
                f"reading '{where}' needs openpyxl: pip install \"funnelkit[excel]\" "
                f"(or save the sheet as CSV)."
            )
            raise _fail(msg) from None
        try:
            df = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, engine="openpyxl")
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:  # not a workbook
            reason = " ".join(str(exc).split())
            msg = f"cannot read '{where}': {reason}. Check sheet= and that it is an .xlsx file."
            raise _fail(msg) from None
        df.columns = [str(c).strip() for c in df.columns]
    elif suffix in _JSON + _JSONL:
        df = pd.json_normalize(load_records(path))
    elif suffix in _PARQUET:
        try:
            df = pd.read_parquet(path)
        except (OSError, ValueError, ImportError) as exc:
            reason = " ".join(str(exc).split())
            msg = f"cannot read '{where}': {reason}."
            raise _fail(msg) from None
    else:
        msg = (
            f"cannot read '{where}': unknown file type {suffix!r}. Use .csv, .tsv, .xlsx, "
            f".json, .jsonl or .parquet."
        )
        raise _fail(msg)
    from funnelkit._validate import require_columns

    for role, names in (("amounts", amounts), ("dates", dates)):
        for name in names or ():
            require_columns(df, {role: name}, table=f"'{where}'")
    if amounts or dates:
        df = df.copy()
    for name in amounts or ():
        df[name] = parse_amounts(df[name], where=where, column=name, decimal=decimal)
    for name in dates or ():
        df[name] = parse_dates(
            df[name], where=where, column=name, dayfirst=dayfirst, date_format=date_format
        )
    result: pd.DataFrame = df.reset_index(drop=True)
    return result


# ----------------------------------------------------------------------------
# values
# ----------------------------------------------------------------------------
def _bad_values(
    s: pd.Series, bad: Any, *, where: str, column: str, what: str, fix: str, reason: str
) -> InvalidDataError:
    bad = np.asarray(bad, dtype=bool)
    positions = np.flatnonzero(bad)
    first = positions[0]
    value = s.iloc[first]
    value = value.item() if isinstance(value, np.generic) else value
    label = s.index[first]
    label = label.item() if isinstance(label, np.generic) else label
    msg = (
        f"{where}: column {column!r} has {positions.size:,} of {len(s):,} values that are not "
        f"{what} (first: {value!r} at row {label!r}). {fix}"
    )
    return InvalidDataError(
        msg,
        column=column,
        reason=reason,
        n_rows=int(positions.size),
        examples=s.iloc[positions[:5]].to_frame(),
    )


def amount_currency(s: pd.Series) -> pd.Series:
    """The currency a money string names (``"₽"`` → ``"RUB"``, ``"USD 10"`` → ``"USD"``)."""
    if pd.api.types.is_numeric_dtype(s):
        result: pd.Series = pd.Series(pd.NA, index=s.index, dtype="object")
        return result
    found = s.astype("string").str.extract(
        r"([₽$€£¥₴₸]|(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])|(?i:руб|р\.))", expand=False
    )
    mapping = {**_CURRENCY_SIGNS, "₸": "KZT", "р.": "RUB"}
    lowered = found.str.lower()
    out = found.map(lambda v: mapping.get(v, v), na_action="ignore").astype("object")
    out[lowered.str.startswith("руб").fillna(False).to_numpy(bool)] = "RUB"
    labelled: pd.Series = out.where(found.notna().to_numpy(), None)
    return labelled


def parse_amounts(
    s: pd.Series, *, where: str, column: str, decimal: str | None = None
) -> pd.Series:
    """Money strings to floats; NaN where empty; a clear error where not money."""
    if pd.api.types.is_bool_dtype(s):
        return _bad_amounts(s, s.notna(), where, column)
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    numbers = s.map(lambda v: isinstance(v, int | float | np.number) and not isinstance(v, bool))
    is_number = numbers.to_numpy(bool) & s.notna().to_numpy()
    if is_number.any():  # an Excel column mixing number cells and text cells
        out = parse_amounts(s.where(~is_number), where=where, column=column, decimal=decimal)
        out[is_number] = pd.to_numeric(s[is_number]).astype("float64")
        return out
    text = s.astype("string")
    present = text.str.strip().fillna("").str.len() > 0
    spaced_s = text.str.contains(r"\d[ \u00a0\u202f\u2009\u2007]\d{3}(?!\d)", regex=True)
    spaced = spaced_s.fillna(False).to_numpy(bool)
    clean = text.str.replace(_CURRENCY_RE, "", regex=True)
    clean = clean.str.replace(rf"[{_SPACES}']", "", regex=True)
    clean = clean.str.replace("\u2212", "-", regex=False)  # the minus sign
    ok = clean.str.fullmatch(r"[+-]?\d[\d.,]*|[+-]?[.,]\d+").fillna(False).to_numpy(bool)
    present_np = present.fillna(False).to_numpy(bool)
    if (present_np & ~ok).any():
        return _bad_amounts(s, present_np & ~ok, where, column)
    dec = decimal
    if dec is None:
        dec = _infer_decimal(clean[ok], spaced[ok], where=where, column=column)
    thousands = "," if dec == "." else "."
    number = clean.str.replace(thousands, "", regex=False).str.replace(dec, ".", regex=False)
    values = pd.to_numeric(number.where(pd.Series(ok, index=s.index)), errors="coerce")
    wrong = ok & values.isna().to_numpy()
    if wrong.any():  # e.g. "1,2,3" read with decimal=","
        return _bad_amounts(s, wrong, where, column)
    result: pd.Series = values.astype("float64")
    return result


def _bad_amounts(s: pd.Series, bad: Any, where: str, column: str) -> pd.Series:
    raise _bad_values(
        s,
        bad,
        where=where,
        column=column,
        what="amounts",
        reason="not_numeric",
        fix=(
            "Amounts may carry thousands separators, spaces, a decimal comma and a currency "
            "sign ('1 234 567,50 ₽', '$1,234.50'); fix or empty those cells."
        ),
    )


def _infer_decimal(clean: pd.Series, spaced: Any, *, where: str, column: str) -> str:
    """Decide the decimal mark of a money column from its values."""
    last_comma = clean.str.rfind(",")
    last_dot = clean.str.rfind(".")
    n_comma = clean.str.count(",")
    n_dot = clean.str.count(r"\.")
    length = clean.str.len()
    both = (n_comma > 0) & (n_dot > 0)
    votes_comma = both & (last_comma > last_dot)
    votes_dot = both & (last_dot > last_comma)
    # a single mark not followed by exactly three digits is a decimal mark
    votes_comma |= (n_dot == 0) & (n_comma == 1) & (length - last_comma - 1 != 3)
    votes_dot |= (n_comma == 0) & (n_dot == 1) & (length - last_dot - 1 != 3)
    # a mark used twice groups thousands, so the other one is the decimal mark
    votes_dot |= (n_comma > 1) & (n_dot == 0)
    votes_comma |= (n_dot > 1) & (n_comma == 0)
    # digits grouped by spaces (1 234,50) are the European / Russian style
    votes_comma |= pd.Series(spaced, index=clean.index) & (n_comma == 1) & (n_dot == 0)
    comma, dot = bool(votes_comma.any()), bool(votes_dot.any())
    if comma and dot:
        c = clean[votes_comma.to_numpy(bool)].iloc[0]
        d = clean[votes_dot.to_numpy(bool)].iloc[0]
        msg = (
            f"{where}: column {column!r} mixes decimal marks ({c!r} reads with a decimal "
            f"comma, {d!r} with a decimal point). Pass decimal=',' or decimal='.'."
        )
        raise InvalidDataError(msg, column=column, reason="ambiguous_decimal")
    if comma:
        return ","
    if dot:
        return "."
    ambiguous = (n_comma == 1) & (n_dot == 0)
    if ambiguous.any():
        first = clean[ambiguous.to_numpy(bool)].iloc[0]
        msg = (
            f"{where}: column {column!r} has {int(ambiguous.sum()):,} amounts such as "
            f"{first!r} where the comma may be a decimal comma or a thousands separator. "
            f"Pass decimal=',' or decimal='.'."
        )
        raise InvalidDataError(
            msg, column=column, reason="ambiguous_decimal", n_rows=int(ambiguous.sum())
        )
    return "."


_DOTTED = r"\d{1,2}\.\d{1,2}\.\d{4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?"
_SLASHED = r"\d{1,2}/\d{1,2}/\d{4}(?:,? \d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp][Mm])?)?"
_TZ = r"(?:Z|[+-]\d{2}:?\d{2})"


def parse_dates(
    s: pd.Series,
    *,
    where: str,
    column: str,
    dayfirst: bool | None = None,
    date_format: str | None = None,
    unit: str | None = None,
) -> pd.Series:
    """Date strings (ISO, dotted day-first, slashed) to datetimes; NaT where empty."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        result: pd.Series = s.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        return result
    if pd.api.types.is_datetime64_dtype(s):
        return s.astype("datetime64[ns]")
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        if unit is None:
            _bad_dates(s, s.notna(), where, column, numbers=True)
        values = pd.to_numeric(s, errors="coerce")
        converted: pd.Series = pd.to_datetime(values, unit=unit, utc=True)  # type: ignore[arg-type]
        # pandas 3 may pick another resolution; funnelkit's dates are ns
        return converted.astype("datetime64[ns, UTC]")
    obj = s.astype("object")
    is_dt = obj.map(lambda v: isinstance(v, datetime | np.datetime64)).to_numpy(bool)
    text = obj.where(~is_dt, None).astype("string").str.strip()
    text = text.where(text.str.len() > 0)
    present = text.notna().to_numpy(bool)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    aware: pd.Series | None = None
    if is_dt.any():
        out[is_dt] = pd.to_datetime(obj[is_dt]).astype("datetime64[ns]")
    if date_format is not None:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            aware = parsed.dt.tz_convert("UTC")
        else:
            out = out.fillna(parsed.astype("datetime64[ns]"))
    else:
        dotted = text.str.fullmatch(_DOTTED).fillna(False).to_numpy(bool)
        slashed = text.str.fullmatch(_SLASHED).fillna(False).to_numpy(bool)
        iso = present & ~dotted & ~slashed
        if dotted.any():
            day, month = ("%d", "%m") if dayfirst is not False else ("%m", "%d")
            sub = text[dotted]
            got = pd.Series(pd.NaT, index=sub.index, dtype="datetime64[ns]")
            for fmt in (
                f"{day}.{month}.%Y %H:%M:%S",
                f"{day}.{month}.%Y %H:%M",
                f"{day}.{month}.%Y",
            ):
                parsed = pd.to_datetime(sub.str.replace("T", " "), format=fmt, errors="coerce")
                got = got.fillna(parsed.astype("datetime64[ns]"))
            out[dotted] = got
        if slashed.any():
            sub = text[slashed]
            first_two = sub.str.extract(r"^(\d{1,2})/(\d{1,2})/").astype("int64")
            day_first = dayfirst
            if day_first is None:
                if (first_two[0] > 12).any():
                    day_first = True
                elif (first_two[1] > 12).any():
                    day_first = False
                else:
                    msg = (
                        f"{where}: column {column!r} has dates such as {sub.iloc[0]!r} that read "
                        f"as day/month or month/day. Pass dayfirst=True or dayfirst=False (CLI: "
                        f"--dayfirst)."
                    )
                    raise InvalidDataError(msg, column=column, reason="ambiguous_date")
            out[slashed] = pd.to_datetime(
                sub, format="mixed", dayfirst=day_first, errors="coerce"
            ).astype("datetime64[ns]")
        if iso.any():
            sub = text[iso]
            has_tz = sub.str.contains(_TZ + "$", regex=True).fillna(False).to_numpy(bool)
            if has_tz.all():
                aware = pd.to_datetime(sub, format="ISO8601", utc=True, errors="coerce")
                aware = aware.reindex(s.index)
            elif has_tz.any():
                msg = (
                    f"{where}: column {column!r} mixes dates with a time zone "
                    f"({sub[has_tz].iloc[0]!r}) and without ({sub[~has_tz].iloc[0]!r}). "
                    f"Export all of them in one form."
                )
                raise InvalidDataError(msg, column=column, reason="mixed_tz")
            else:
                got = pd.to_datetime(sub, format="ISO8601", errors="coerce")
                out[iso] = got.astype("datetime64[ns]")
    if aware is not None:
        naive = out.notna().to_numpy()
        if naive.any():
            msg = (
                f"{where}: column {column!r} mixes UTC instants and local dates without a time "
                f"zone. Export all of them in one form."
            )
            raise InvalidDataError(msg, column=column, reason="mixed_tz")
        result = aware.astype("datetime64[ns, UTC]")
    else:
        result = out
    bad = present & result.isna().to_numpy()
    if bad.any():
        _bad_dates(s, bad, where, column)
    return result


def _bad_dates(s: pd.Series, bad: Any, where: str, column: str, numbers: bool = False) -> Any:
    fix = (
        "Dates must be ISO ('2024-01-05 10:30:00', '2024-01-05T10:30:00Z') or "
        "'dd.mm.YYYY HH:MM:SS'; pass date_format= for another format, "
        "or fix those cells."
    )
    if numbers:
        fix = "Numbers are not dates unless the source says they are unix seconds."
    raise _bad_values(
        s, bad, where=where, column=column, what="dates", fix=fix, reason="not_datetime"
    )
