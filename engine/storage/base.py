"""The storage seam: DataDB (profiles, accounts, tariff plans in use) and StorDB (CDRs, session costs).

DataDB is a typed key-value store: every object lives under a *kind* (CGRateS's key prefixes, below) and a
key (``tenant:id`` for tenanted objects, ``id`` otherwise). Values are JSON-able (dicts, lists, str, numbers,
Decimals are stored as strings). ``write_batch`` applies several changes as one atomic step, which is what lets a
debit and its record land together.

Several engines may share one DataDB (Redis). A read-modify-write that must not lose a concurrent update reads with
:meth:`DataDB.get_versioned` and writes with ``write_batch(ops, expect={(kind, key): version})``: the batch lands
only if every expected key still has the version that was read, else nothing is written and :class:`WriteConflict`
is raised; the caller reads again and redoes its change. A version is opaque: compare it with nothing, keep it only
between the read and the write. It changes whenever the value does (a rewrite of identical content may keep it:
then nothing was lost either).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import orjson

from pycgrates.engine.rpc.errors import RPCError

# Kinds (CGRateS DataDB key prefixes without the trailing underscore).
DESTINATION = "dst"
REVERSE_DESTINATION = "rds"
TIMING = "tmg"
RATING_PLAN = "rpl"
RATING_PROFILE = "rpf"
ACTIONS = "act"
ACTION_PLAN = "apl"
ACCOUNT_ACTION_PLANS = "aap"
ACTION_TRIGGERS = "atr"
SHARED_GROUP = "shg"
ACCOUNT = "acc"
FILTER = "ftr"
ATTRIBUTE_PROFILE = "alp"
CHARGER_PROFILE = "cpp"
RESOURCE_PROFILE = "rsp"
RESOURCE = "res"
STATQUEUE_PROFILE = "sqp"
STATQUEUE = "sqs"
THRESHOLD_PROFILE = "thp"
THRESHOLD = "thd"
ROUTE_PROFILE = "rpp"
DISPATCHER_PROFILE = "dpp"
DISPATCHER_HOST = "dph"
FILTER_INDEX = "fii"
LOAD_HISTORY = "lhs"
SCHEDULER_STATE = "sch"
SESSIONS_BACKUP = "sbk"
RALS_JOURNAL = "sjr"  # RALs' record of a keyed debit/refund, written with it (SessionS, CDRs replay or drop them)
VERSIONS = "vrs"

BatchOp = tuple[Literal["set", "remove"], str, str, Any]
#: What a conditional ``write_batch`` expects: (kind, key) → the version :meth:`DataDB.get_versioned` returned.
Expectations = Mapping[tuple[str, str], Any]


class StorageError(Exception):
    """A storage backend failure (I/O, corruption, unreachable server)."""


class WriteConflict(StorageError):
    """A conditional ``write_batch`` found a key changed since it was read; nothing was written."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key} changed since it was read; read it again and redo the change")
        self.kind = kind
        self.key = key


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} ({value!r}); convert it to JSON data first")


def dumps(obj: Any) -> bytes:
    """A value as every store encodes it: JSON, Decimals as strings, sets as lists."""
    try:
        return orjson.dumps(obj, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise StorageError(str(exc)) from exc


def check_batch(ops: Iterable[BatchOp]) -> list[BatchOp]:
    """The batch as a list of well-formed operations (a remove carries no value)."""
    rows: list[BatchOp] = []
    for op in ops:
        if len(op) != 4 or op[0] not in ("set", "remove"):
            raise StorageError(f"batch operation {op!r} is not ('set'|'remove', kind, key, value)")
        rows.append(op if op[0] == "set" else ("remove", op[1], op[2], None))
    return rows


class DataDB(ABC):
    """Runtime data: everything the engine reads while rating and charging."""

    @abstractmethod
    async def get(self, kind: str, key: str) -> Any | None:
        """The stored value, or None. Callers must not mutate what they get: copy first."""

    @abstractmethod
    async def set(self, kind: str, key: str, value: Any) -> None:
        """Store ``value``; when this returns, the write is acknowledged (durable per the backend's policy)."""

    @abstractmethod
    async def remove(self, kind: str, key: str) -> bool:
        """Remove; True if something was there."""

    @abstractmethod
    async def keys(self, kind: str, prefix: str = "") -> list[str]:
        """Keys of ``kind`` starting with ``prefix``, sorted."""

    @abstractmethod
    async def get_versioned(self, kind: str, key: str) -> tuple[Any | None, Any]:
        """The stored value (or None) and its version, for a later ``write_batch(..., expect=...)``."""

    @abstractmethod
    async def write_batch(self, ops: Iterable[BatchOp], *, expect: Expectations | None = None) -> None:
        """Apply ``("set", kind, key, value)`` / ``("remove", kind, key, None)`` changes as one atomic step.

        With ``expect``, only if each (kind, key) there still has the version read; else raise WriteConflict.
        """

    @abstractmethod
    async def flush(self) -> None:
        """Remove everything (cgr-loader -flushdb)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and connections."""

    async def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        out = {}
        for k in keys:
            v = await self.get(kind, k)
            if v is not None:
                out[k] = v
        return out


class MemoryDataDB(DataDB):
    """Memory-only DataDB (``db_type: *internal`` with persistence off); the base of the durable one."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}

    async def get(self, kind: str, key: str) -> Any | None:
        return self._data.get(kind, {}).get(key)

    async def set(self, kind: str, key: str, value: Any) -> None:
        self._apply("set", kind, key, value)

    async def remove(self, kind: str, key: str) -> bool:
        existed = key in self._data.get(kind, {})
        self._apply("remove", kind, key, None)
        return existed

    async def keys(self, kind: str, prefix: str = "") -> list[str]:
        return sorted(k for k in self._data.get(kind, {}) if k.startswith(prefix))

    async def get_versioned(self, kind: str, key: str) -> tuple[Any | None, Any]:
        # Every write stores a new object, so the stored object itself is the version (compared by identity).
        value = self._data.get(kind, {}).get(key)
        return value, value

    def check_expected(self, expect: Expectations | None) -> None:
        """Raise WriteConflict unless every expected key still holds the object that was read."""
        for (kind, key), version in (expect or {}).items():
            if self._data.get(kind, {}).get(key) is not version:
                raise WriteConflict(kind, key)

    async def write_batch(self, ops: Iterable[BatchOp], *, expect: Expectations | None = None) -> None:
        rows = check_batch(ops)
        self.check_expected(expect)
        for op, kind, key, value in rows:
            self._apply(op, kind, key, value)

    async def flush(self) -> None:
        self._data.clear()

    def _apply(self, op: str, kind: str, key: str, value: Any) -> None:
        if op == "set":
            self._data.setdefault(kind, {})[key] = copy.deepcopy(value)
        elif op == "remove":
            self._data.get(kind, {}).pop(key, None)
        else:
            raise StorageError(f"unknown batch operation {op!r} (use 'set' or 'remove')")


@dataclass
class CDRFilter:
    """Which CDRs to read (CGRateS's utils.CDRsFilter, the fields in use)."""

    cgrids: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    not_run_ids: list[str] = field(default_factory=list)
    origin_ids: list[str] = field(default_factory=list)
    origin_hosts: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    tors: list[str] = field(default_factory=list)
    request_types: list[str] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    destination_prefixes: list[str] = field(default_factory=list)
    setup_time_start: str | None = None
    setup_time_end: str | None = None
    answer_time_start: str | None = None
    answer_time_end: str | None = None
    order_id_start: int | None = None
    order_id_end: int | None = None
    min_usage: int | None = None
    max_usage: int | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    order_by: str = ""
    limit: int | None = None
    offset: int = 0


_ORDER_FIELDS = {
    "orderid": "OrderID",
    "answertime": "AnswerTime",
    "setuptime": "SetupTime",
    "cost": "Cost",
    "usage": "Usage",
}


def cdr_order(order_by: str) -> tuple[str, bool]:
    """CGRateS's OrderBy ("Cost", "AnswerTime;desc", ...) as (CDR field, descending)."""
    name, _, direction = order_by.partition(";")
    field_name = _ORDER_FIELDS.get(name.strip().replace("_", "").lower())
    direction = direction.strip().lower()
    if field_name is None or direction not in ("", "asc", "desc"):
        raise RPCError(
            f"invalid OrderBy {order_by!r} (use OrderID, AnswerTime, SetupTime, Cost or Usage, "
            "optionally followed by ';desc')"
        )
    return field_name, direction == "desc"


class StorDB(ABC):
    """Offline data: CDRs (unique on CGRID+RunID), session costs, offline tariff plans.

    What every StorDB keeps of a CDR: CGRateS's CDR columns (``cdrs`` table: CGRID, RunID, OrderID, OriginHost,
    Source, OriginID, ToR, RequestType, Tenant, Category, Account, Subject, Destination, SetupTime, AnswerTime,
    Usage, ExtraFields, CostSource, Cost, CostDetails, ExtraInfo). Times compare and come back as the same instants
    (SQL stores them in UTC, to the microsecond); Partial and PreRated are not columns and come back false from SQL.
    Filters, ordering and paging have the same meaning everywhere (the SQL stores run them in the database).
    """

    @abstractmethod
    async def set_cdr(self, cdr: dict, allow_update: bool = False) -> dict:
        """Store a CDR (a dict in CGRateS's CDR shape); returns it with OrderID set.

        Raises RPCError("EXISTS") when (CGRID, RunID) is already stored and ``allow_update`` is False.
        """

    @abstractmethod
    async def get_cdrs(self, flt: CDRFilter, remove: bool = False) -> list[dict]:
        """CDRs matching ``flt`` (removed as well when ``remove``)."""

    @abstractmethod
    async def count_cdrs(self, flt: CDRFilter) -> int: ...

    @abstractmethod
    async def set_session_cost(self, cost: dict) -> None:
        """Store an SMCost {CGRID, RunID, OriginHost, OriginID, CostSource, Usage, CostDetails}."""

    @abstractmethod
    async def get_session_costs(
        self, cgrid: str, run_id: str = "", origin_host: str = "", origin_id: str = ""
    ) -> list[dict]: ...

    @abstractmethod
    async def remove_session_costs(self, cgrid: str, run_id: str = "") -> None: ...

    @abstractmethod
    async def set_tp(self, tpid: str, kind: str, rows: list[dict]) -> None:
        """Store offline tariff-plan rows of one kind (Destinations, Rates, ...) under a TPid."""

    @abstractmethod
    async def get_tp(self, tpid: str, kind: str) -> list[dict]: ...

    @abstractmethod
    async def remove_tp(self, tpid: str, kind: str = "") -> None: ...

    @abstractmethod
    async def flush(self) -> None: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and connections."""
