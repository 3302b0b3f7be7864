"""The column schema: one mapping from role to column name for a whole analysis.

Every public function that reads a table takes ``columns=``, a mapping (or a
:class:`Columns` value) from *role* to column name, plus the *value roles*
``won``, ``lost`` and ``positive``.  A function uses the roles it needs and
ignores the others, so one mapping serves every call of an analysis; a
keyword given explicitly (``deal="id"``) overrides the mapping.

The roles, by table (default column in brackets):

* events: ``entity`` (``user_id``), ``time`` (``timestamp``), ``event``
  (``event``);
* deals: ``deal`` (``deal_id``), ``created`` (``created_at``), ``closed``
  (``closed_at``), ``status`` (``status``), ``amount`` (``amount``),
  ``stage`` (``stage``), ``owner`` (``owner``), ``channel`` (``channel``),
  ``lost_reason`` (``lost_reason``), ``currency`` (``currency``),
  ``expected_close`` (``expected_close``);
* stage history: ``deal``, ``stage`` and ``entered`` (``entered_at``);
* touches: ``entity``, ``time``, ``channel``, ``response`` (``response``);
* touch counts (one row per prospect, :func:`funnelkit.touches_from_counts`):
  ``entity``, ``contacts`` (``contacts``), ``response``;
* costs: ``channel``, ``cost`` (``cost``);
* values: ``won`` (``"won"``), ``lost`` (``"lost"``), ``positive``
  (``"positive"``).

A column may serve two roles (Maven CRM's ``deal_stage`` holds both the
status and the stage).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ParamSpec, TypeVar

from funnelkit.errors import InvalidParameterError

__all__ = ["COLUMNS_DOC", "Columns", "takes_columns"]

P = ParamSpec("P")
R = TypeVar("R")

#: Shared numpydoc text of the ``columns=`` keyword (identical in every function).
COLUMNS_DOC = """columns : mapping or Columns, optional
    Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
    shared by every function of an analysis: each function uses the roles it
    needs and ignores the rest; keywords given explicitly take precedence. See
    :class:`funnelkit.Columns` for the roles."""


@dataclass(frozen=True)
class Columns(Mapping[str, Any]):
    """Column names by role, for every table of an analysis.

    A frozen value that behaves as a read-only mapping of the roles that were
    set, so it can be passed as ``columns=`` to every function (and unpacked
    with ``**``).  Roles left as None take each function's default.

    Parameters
    ----------
    entity, time, event : str, optional
        Events and touches: who, when, what.
    deal, created, closed, status, amount, stage, owner, channel, lost_reason,
    currency, expected_close : str, optional
        Deal-table columns (``deal`` and ``stage`` also name the stage
        history's columns).
    entered : str, optional
        The stage history's entry-time column.
    response : str, optional
        The touches' response column (also the outcome column of the one row
        per prospect that :func:`funnelkit.touches_from_counts` reads).
    contacts : str, optional
        The number of contacts made to each prospect
        (:func:`funnelkit.touches_from_counts`).
    cost : str, optional
        The costs table's spend column.
    won, lost, positive : object, optional
        Status values meaning won and lost, and the response value meaning a
        positive reply.

    Examples
    --------
    >>> import funnelkit as fk
    >>> cols = fk.Columns(deal="opportunity_id", status="deal_stage", stage="deal_stage",
    ...                   won="Won", lost="Lost")
    >>> dict(cols)
    {'deal': 'opportunity_id', 'status': 'deal_stage', 'stage': 'deal_stage', 'won': 'Won', 'lost': 'Lost'}
    >>> cols.replace(amount="close_value")["amount"]
    'close_value'
    """  # noqa: E501

    entity: Hashable | None = None
    time: Hashable | None = None
    event: Hashable | None = None
    deal: Hashable | None = None
    created: Hashable | None = None
    closed: Hashable | None = None
    status: Hashable | None = None
    amount: Hashable | None = None
    stage: Hashable | None = None
    owner: Hashable | None = None
    channel: Hashable | None = None
    lost_reason: Hashable | None = None
    currency: Hashable | None = None
    expected_close: Hashable | None = None
    entered: Hashable | None = None
    response: Hashable | None = None
    cost: Hashable | None = None
    won: Any = None
    lost: Any = None
    positive: Any = None
    #: last, so that the fields before it keep their positions
    contacts: Hashable | None = None

    def _set(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {role: value for role, value in values.items() if value is not None}

    def __getitem__(self, role: str) -> Any:
        values = self._set()
        if role not in values:
            raise KeyError(role)
        return values[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self._set())

    def __len__(self) -> int:
        return len(self._set())

    def replace(self, **roles: Any) -> Columns:
        """A copy with the given roles changed (unknown roles are an error)."""
        merged = {**self._set(), **roles}
        return Columns.from_mapping(merged, func="Columns.replace")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, func: str = "Columns") -> Columns:
        """Build from a mapping of role to column, refusing unknown roles with a hint."""
        if isinstance(mapping, Columns):
            return mapping
        if not isinstance(mapping, Mapping):
            msg = (
                f"The 'columns' parameter of {func} must be a mapping of role to column name "
                f"(or fk.Columns). Got {type(mapping).__name__} instead."
            )
            raise InvalidParameterError(msg)
        unknown = [k for k in mapping if k not in ROLES]
        if unknown:
            key = unknown[0]
            hint = difflib.get_close_matches(str(key), ROLES, n=1, cutoff=0.5)
            msg = (
                f"The 'columns' parameter of {func} has an unknown role {key!r}. "
                f"Roles: {', '.join(ROLES)}."
            )
            if hint:
                msg += f" Hint: did you mean {hint[0]!r}?"
            raise InvalidParameterError(msg)
        return cls(**dict(mapping))


#: Every role name, in the order of :class:`Columns`.
ROLES: tuple[str, ...] = tuple(f.name for f in fields(Columns))


def takes_columns(
    *, renamed: Mapping[str, str] | None = None, moved_positional: Sequence[str] = ()
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a public function so that ``columns=`` fills its role keywords.

    For every keyword-only parameter named after a role, the value of the
    ``columns`` mapping is used unless the caller gave the keyword explicitly.
    ``renamed`` maps an old keyword to its new name: the old spelling keeps
    working with a :class:`FutureWarning` for one release.
    ``moved_positional`` names keyword-only parameters that used to be
    positional, in their former order after the positional ones: a call that
    still passes them positionally keeps working with a :class:`FutureWarning`
    for one release (passing one both ways is an
    :class:`~funnelkit.InvalidParameterError`).
    """
    old_names = dict(renamed or {})
    moved = tuple(moved_positional)

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        sig = inspect.signature(func)
        roles = [name for name in sig.parameters if name in ROLES]
        name = func.__name__
        positional = [
            p.name
            for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        for param in moved:
            if sig.parameters[param].kind is not inspect.Parameter.KEYWORD_ONLY:
                msg = f"{name}: moved_positional {param!r} must be keyword-only"
                raise TypeError(msg)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            extra = args[len(positional) :]
            if extra and len(extra) <= len(moved):
                given = moved[: len(extra)]
                for param, value in zip(given, extra, strict=True):
                    if param in kwargs:
                        msg = (
                            f"{name}() got {param} both positionally and as {param}=; "
                            f"pass {param}=... only."
                        )
                        raise InvalidParameterError(msg)
                    kwargs[param] = value
                old = ", ".join([*positional, *given])
                new = ", ".join([*positional, *(f"{param}=..." for param in given)])
                warnings.warn(
                    f"{name}({old}) is now {name}({new}): passing "
                    f"{' and '.join(given)} positionally will stop working in the next "
                    f"release.",
                    FutureWarning,
                    stacklevel=2,
                )
                args = args[: len(positional)]  # type: ignore[assignment]
            for old, new in old_names.items():
                if old in kwargs:
                    if new in kwargs:
                        msg = f"{name}: pass {new}= only ({old}= is its old spelling)."
                        raise InvalidParameterError(msg)
                    warnings.warn(
                        f"{name}({old}=...) is now spelled {new}=...; {old}= will stop "
                        f"working in the next release.",
                        FutureWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            columns = kwargs.get("columns")
            if columns is not None:
                mapping = Columns.from_mapping(columns, func=name)  # type: ignore[arg-type]
                for role in roles:
                    if role not in kwargs and role in mapping:
                        kwargs[role] = mapping[role]
                kwargs["columns"] = mapping
            return func(*args, **kwargs)

        return wrapper

    return decorate
