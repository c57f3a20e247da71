"""The positional loader kept only to check the table-driven one against it (to be removed).

Loading a CGRateS tariff plan folder (CSV files) into DataDB.

Every file of a CGRateS tariff plan is read: the rating ones (Timings, Destinations, Rates, DestinationRates,
RatingPlans, RatingProfiles) become the rating engine's objects; the accounting ones (SharedGroups, Actions,
ActionPlans, ActionTriggers, AccountActions) are handed as rows to ``engine.accounts.loading.load_accounting``;
the profiles (Filters, Attributes, Chargers, Resources, Stats, Thresholds, Routes, DispatcherProfiles,
DispatcherHosts) are stored as CGRateS's profile JSON under ``tenant:id``, multi-row profiles merged. Other CSV
files (Trends, Rankings, ...) are kept as raw rows.

CSV rules: ``#`` lines and blank lines are skipped; fields are trimmed; ``;`` separates list items; durations are
Go durations (``60s``, ``1m``) or plain numbers counted in nanoseconds (units for *data/*sms).

Every error is a :class:`LoaderError` naming the file, the line, the column (the CSV field number, from 1) and, for
dangling references, the ID that is missing.

The rows handed to accounting are dicts keyed by the column names in :data:`COLUMNS` (CGRateS's header names),
plus ``_file`` and ``_line``; ``tables`` also carries the ``Timings`` rows so action plans can resolve their
timing IDs.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pycgrates.engine.models.tariffplan import (
    ANY,
    ASAP,
    MAX_COST_DISCONNECT,
    MAX_COST_FREE,
    ROUNDING_METHODS,
    Destination,
    DestinationRateBinding,
    RateInterval,
    RateSlot,
    RatingActivation,
    RatingPlan,
    RatingPlanBinding,
    RatingProfile,
    RIRate,
    TPDestinationRate,
    TPRate,
    TPRatingPlan,
    TPTiming,
    fallback_keys,
    rating_profile_key,
)
from pycgrates.engine.models.tariffplan import Rate as PriceSlot
from pycgrates.engine.rating.timings import to_ns
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.units import DurationError, TimeError, format_time, get_timezone, parse_duration, parse_time

log = logging.getLogger("cgr.loader")


class LoaderError(Exception):
    """A tariff-plan error at ``file:line:column`` (column: CSV field number, or a column name)."""

    def __init__(self, file: str, line: int, column: int | str, message: str) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


# ---------------------------------------------------------------------------------------------------- file layouts


@dataclass(frozen=True)
class FileSpec:
    table: str
    columns: tuple[str, ...]
    min_fields: int = 0  # 0: exactly len(columns)

    @property
    def file(self) -> str:
        return self.table + ".csv"

    @property
    def fewest(self) -> int:
        return self.min_fields or len(self.columns)


def _spec(table: str, columns: str, min_fields: int = 0) -> FileSpec:
    return FileSpec(table, tuple(columns.split(",")), min_fields)


SPECS: dict[str, FileSpec] = {
    s.table: s
    for s in (
        _spec("Timings", "ID,Years,Months,MonthDays,WeekDays,Time"),
        _spec("Destinations", "ID,Prefix"),
        _spec("Rates", "ID,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart"),
        _spec(
            "DestinationRates",
            "ID,DestinationsID,RatesID,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy",
        ),
        _spec("RatingPlans", "ID,DestinationRatesID,TimingID,Weight"),
        _spec("RatingProfiles", "Tenant,Category,Subject,ActivationTime,RatingPlanID,FallbackSubject", 5),
        _spec("SharedGroups", "Id,Account,Strategy,RatingSubject"),
        _spec(
            "Actions",
            "ActionsId,Action,ExtraParameters,Filter,BalanceId,BalanceType,Categories,DestinationIds,RatingSubject,"
            "SharedGroup,ExpiryTime,TimingIds,Units,BalanceWeight,BalanceBlocker,BalanceDisabled,Weight",
        ),
        _spec("ActionPlans", "Id,ActionsId,TimingId,Weight"),
        _spec(
            "ActionTriggers",
            "Tag,UniqueId,ThresholdType,ThresholdValue,Recurrent,MinSleep,ExpiryTime,ActivationTime,BalanceTag,"
            "BalanceType,BalanceCategories,BalanceDestinationIds,BalanceRatingSubject,BalanceSharedGroup,"
            "BalanceExpiryTime,BalanceTimingIds,BalanceWeight,BalanceBlocker,BalanceDisabled,ActionsId,Weight",
        ),
        _spec("AccountActions", "Tenant,Account,ActionPlanId,ActionTriggersId,AllowNegative,Disabled"),
        _spec("Filters", "Tenant,ID,Type,Element,Values,ActivationInterval"),
        _spec(
            "Attributes",
            "Tenant,ID,Contexts,FilterIDs,ActivationInterval,AttributeFilterIDs,Path,Type,Value,Blocker,Weight",
        ),
        _spec("Chargers", "Tenant,ID,FilterIDs,ActivationInterval,RunID,AttributeIDs,Weight"),
        _spec(
            "Resources",
            "Tenant,ID,FilterIDs,ActivationInterval,UsageTTL,Limit,AllocationMessage,Blocker,Stored,Weight,"
            "ThresholdIDs",
        ),
        _spec(
            "Stats",
            "Tenant,ID,FilterIDs,ActivationInterval,QueueLength,TTL,MinItems,Metrics,MetricFilterIDs,Stored,"
            "Blocker,Weight,ThresholdIDs",
        ),
        _spec(
            "Thresholds",
            "Tenant,ID,FilterIDs,ActivationInterval,MaxHits,MinHits,MinSleep,Blocker,Weight,ActionIDs,Async,EeIDs",
            11,
        ),
        _spec(
            "Routes",
            "Tenant,ID,FilterIDs,ActivationInterval,Sorting,SortingParameters,RouteID,RouteFilterIDs,"
            "RouteAccountIDs,RouteRatingPlanIDs,RouteResourceIDs,RouteStatIDs,RouteWeight,RouteBlocker,"
            "RouteParameters,Weight",
        ),
        _spec(
            "DispatcherProfiles",
            "Tenant,ID,Subsystems,FilterIDs,ActivationInterval,Strategy,StrategyParameters,ConnID,ConnFilterIDs,"
            "ConnWeight,ConnBlocker,ConnParameters,Weight",
        ),
        _spec(
            "DispatcherHosts",
            "Tenant,ID,Address,Transport,ConnectAttempts,Reconnects,MaxReconnectInterval,ConnectTimeout,"
            "ReplyTimeout,TLS,ClientKey,ClientCertificate,CaCertificate",
            4,
        ),
    )
}

#: Column names of each table, as keys of the row dicts handed to accounting.
COLUMNS: dict[str, tuple[str, ...]] = {t: s.columns for t, s in SPECS.items()}

RATING_TABLES = ("Timings", "Destinations", "Rates", "DestinationRates", "RatingPlans", "RatingProfiles")
ACCOUNTING_TABLES = ("SharedGroups", "Actions", "ActionPlans", "ActionTriggers", "AccountActions")
PROFILE_KINDS = {
    "Filters": kinds.FILTER,
    "Attributes": kinds.ATTRIBUTE_PROFILE,
    "Chargers": kinds.CHARGER_PROFILE,
    "Resources": kinds.RESOURCE_PROFILE,
    "Stats": kinds.STATQUEUE_PROFILE,
    "Thresholds": kinds.THRESHOLD_PROFILE,
    "Routes": kinds.ROUTE_PROFILE,
    "DispatcherProfiles": kinds.DISPATCHER_PROFILE,
    "DispatcherHosts": kinds.DISPATCHER_HOST,
}
#: Kinds holding the raw accounting rows when the accounting part is not available.
RAW_ACCOUNTING_KINDS = {
    "SharedGroups": "tp_shared_groups",
    "Actions": "tp_actions",
    "ActionPlans": "tp_action_plans",
    "ActionTriggers": "tp_action_triggers",
    "AccountActions": "tp_account_actions",
}
BUILTIN_TIMINGS = (
    ANY,
    ASAP,
    "*every_minute",
    "*hourly",
    "*daily",
    "*weekly",
    "*monthly",
    "*monthly_estimated",
    "*month_end",
    "*yearly",
)
_HMS = re.compile(r"^\d{1,2}:\d{1,2}:\d{1,2}$")
_ZERO_TIME = "0001-01-01T00:00:00Z"


# ---------------------------------------------------------------------------------------------------- rows


@dataclass(slots=True)
class Row:
    file: str
    line: int
    fields: list[str]

    def __getitem__(self, index: int) -> str:
        return self.fields[index] if index < len(self.fields) else ""

    def error(self, index: int, message: str) -> LoaderError:
        """An error on field ``index`` (0-based)."""
        return LoaderError(self.file, self.line, index + 1, message)

    def as_dict(self, columns: tuple[str, ...]) -> dict[str, Any]:
        d: dict[str, Any] = {name: self[i] for i, name in enumerate(columns)}
        d["_file"] = self.file
        d["_line"] = self.line
        return d


def read_rows(path: Path, spec: FileSpec | None) -> Iterator[Row]:
    """The data rows of a CSV file (comments and blank lines skipped), with their line numbers."""
    name = path.name
    lines: list[int] = []

    with open(path, newline="", encoding="utf-8-sig") as fh:

        def source() -> Iterator[str]:
            for number, text in enumerate(fh, 1):
                stripped = text.strip()
                if not stripped or stripped.startswith("#"):
                    continue
                lines.append(number)
                yield text

        reader = csv.reader(source(), skipinitialspace=False)
        consumed = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = lines[consumed] if consumed < len(lines) else (lines[-1] if lines else 0)
                raise LoaderError(name, line, 1, f"malformed CSV: {exc}") from None
            line = lines[consumed]
            consumed = len(lines)
            fields = [f.strip() for f in record]
            if spec is not None:
                if len(fields) > len(spec.columns) or len(fields) < spec.fewest:
                    expected = (
                        str(len(spec.columns))
                        if spec.fewest == len(spec.columns)
                        else f"{spec.fewest} to {len(spec.columns)}"
                    )
                    raise LoaderError(
                        name,
                        line,
                        min(len(fields), len(spec.columns)) + 1,
                        f"expected {expected} fields ({','.join(spec.columns)}), found {len(fields)}",
                    )
            yield Row(name, line, fields)


# ---------------------------------------------------------------------------------------------------- field parsers


def split_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()] if value else []


def _decimal(row: Row, i: int, what: str, default: str | None = None) -> Decimal:
    text = row[i]
    if text == "" and default is not None:
        text = default
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        raise row.error(i, f"{what} {text!r} is not a number") from None


def _float(row: Row, i: int, what: str) -> float:
    text = row[i]
    if text == "":
        return 0.0
    try:
        return float(text)
    except ValueError:
        raise row.error(i, f"{what} {text!r} is not a number") from None


def _int(row: Row, i: int, what: str, default: int = 0) -> int:
    text = row[i]
    if text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise row.error(i, f"{what} {text!r} is not an integer") from None


def _bool(row: Row, i: int, what: str) -> bool:
    text = row[i].lower()
    if text in ("", "false", "0"):
        return False
    if text in ("true", "1"):
        return True
    raise row.error(i, f"{what} {row[i]!r} is not a boolean (use true or false)")


def _duration(row: Row, i: int, what: str) -> int:
    text = row[i]
    if text in ("*unlimited", "-1"):
        return -1
    try:
        return parse_duration(text)
    except DurationError:
        raise row.error(i, f"{what} {text!r} is not a duration (use 60s, 1m30s, or a number of units)") from None


def _time_ns(row: Row, i: int, what: str, tz: str) -> int:
    try:
        dt = parse_time(row[i], tz)
    except TimeError:
        raise row.error(i, f"{what} {row[i]!r} is not a time (use RFC3339, e.g. 2014-01-14T00:00:00Z)") from None
    if dt is None:
        raise row.error(i, f"{what} is empty")
    return to_ns(dt)


def _int_list(row: Row, i: int, what: str, low: int, high: int) -> list[int]:
    text = row[i]
    if text in ("", ANY):
        return []
    out = []
    for part in text.split(";"):
        part = part.strip()
        if part == ANY:
            return []
        try:
            value = int(part)
        except ValueError:
            raise row.error(i, f"{what} {part!r} is not a number (use numbers separated by ';' or *any)") from None
        if not low <= value <= high:
            raise row.error(i, f"{what} {value} is out of range ({low}..{high})")
        out.append(value)
    return out


def _activation_interval(row: Row, i: int, tz: str) -> dict | None:
    text = row[i]
    if not text:
        return None
    parts = text.split(";")
    try:
        start = parse_time(parts[0], tz)
        end = parse_time(parts[1], tz) if len(parts) > 1 else None
    except TimeError:
        raise row.error(i, f"ActivationInterval {text!r} is not a time or 'start;end' times (RFC3339)") from None
    return {
        "ActivationTime": format_time(start) if start else _ZERO_TIME,
        "ExpiryTime": format_time(end) if end else _ZERO_TIME,
    }


def _append_unique(target: list, items: Iterable) -> None:
    for item in items:
        if item not in target:
            target.append(item)


# ---------------------------------------------------------------------------------------------------- the tariff plan


@dataclass
class LoadResult:
    """What a load found (and, unless a dry run, stored)."""

    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ids: dict[str, list[str]] = field(default_factory=dict)
    ops: int = 0


class TariffPlan:
    """A tariff plan folder read into memory, validated, and turned into DataDB writes."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.timezone = timezone
        self.loaded_at = datetime.now(get_timezone(timezone))
        self.timings: dict[str, tuple[TPTiming, Row]] = {}
        #: destination ID → {prefix: line} (insertion ordered; lines only, so 1M prefixes stay small)
        self.destinations: dict[str, dict[str, int]] = {}
        self.rates: dict[str, TPRate] = {}
        self.rate_rows: dict[tuple[str, int], Row] = {}
        self.destination_rates: dict[str, TPDestinationRate] = {}
        self.dr_rows: dict[tuple[str, str], Row] = {}
        self.rating_plans: dict[str, TPRatingPlan] = {}
        self.rp_rows: dict[tuple[str, str, str], Row] = {}
        self.rating_profiles: dict[str, list[tuple[RatingActivation, Row]]] = {}
        self.tables: dict[str, list[dict]] = {}
        self.headers: dict[str, list[str]] = {}
        self.profiles: dict[str, dict[str, dict]] = {}
        self.raw: dict[str, list[dict]] = {}
        self.files: list[str] = []

    # ------------------------------------------------------------------------------------------ reading

    @classmethod
    def from_folder(
        cls, folder: str | Path, timezone: str = "UTC", progress: Callable[[str, int], None] | None = None
    ) -> TariffPlan:
        path = Path(folder)
        if not path.is_dir():
            raise LoaderError(str(folder), 0, 0, "not a directory (give the tariff plan folder with -path)")
        tp = cls(timezone)
        files = {p.name: p for p in sorted(path.glob("*.csv"))}
        order = [s.file for s in SPECS.values()]
        for name in order + sorted(n for n in files if n not in order):
            p = files.get(name)
            if p is None:
                continue
            tp.read_file(p, progress)
        return tp

    def read_file(self, path: Path, progress: Callable[[str, int], None] | None = None) -> None:
        table = path.stem
        spec = SPECS.get(table)
        self.files.append(path.name)
        self.headers[table] = _header(path)
        parse = getattr(self, f"_row_{table.lower()}", None)
        count = 0
        for row in read_rows(path, spec):
            count += 1
            if spec is None:
                self.raw.setdefault(table, []).append({"_line": row.line, "fields": row.fields})
            elif table in ACCOUNTING_TABLES:
                self.tables.setdefault(table, []).append(row.as_dict(spec.columns))
            elif parse is not None:
                parse(row)
            else:
                self._profile_row(table, row)
            if progress is not None and count % 5000 == 0:
                progress(path.name, count)
        if progress is not None:
            progress(path.name, count)
        if table == "Timings":
            # accounting resolves the timing IDs of action plans from these too
            self.tables.setdefault(table, [])

    # -------------------------------------------------------------------------------- rating rows

    def _row_timings(self, row: Row) -> None:
        tid = row[0]
        if not tid:
            raise row.error(0, "missing timing ID")
        if tid in self.timings:
            raise row.error(0, f"duplicate timing ID {tid} (first defined at line {self.timings[tid][1].line})")
        years = _int_list(row, 1, "Years", 1, 9999)
        months = _int_list(row, 2, "Months", 1, 12)
        month_days = _int_list(row, 3, "MonthDays", -1, 31)
        week_days = [d % 7 for d in _int_list(row, 4, "WeekDays", 0, 7)]
        times = row[5].split(";") if row[5] else ["00:00:00"]
        start = times[0].strip() or "00:00:00"
        end = times[1].strip() if len(times) > 1 else ""
        for text in (start, end):
            if text and text not in (ASAP, "*now") and not _HMS.match(text):
                raise row.error(5, f"Time {text!r} is not HH:MM:SS (or *asap)")
        if start == "*now":
            start = ASAP
        self.timings[tid] = (TPTiming(tid, years, months, month_days, week_days, start, end), row)
        self.tables.setdefault("Timings", []).append(row.as_dict(SPECS["Timings"].columns))

    def _row_destinations(self, row: Row) -> None:
        did, prefix = row[0], row[1]
        if not did:
            raise row.error(0, "missing destination ID")
        if not prefix:
            raise row.error(1, f"missing prefix for destination {did}")
        prefixes = self.destinations.get(did)
        if prefixes is None:
            prefixes = self.destinations[did] = {}
        elif prefix in prefixes:
            raise row.error(1, f"duplicate prefix {prefix} in destination {did} (first at line {prefixes[prefix]})")
        prefixes[prefix] = row.line

    def _row_rates(self, row: Row) -> None:
        rid = row[0]
        if not rid:
            raise row.error(0, "missing rate ID")
        slot = RateSlot(
            ConnectFee=_decimal(row, 1, "ConnectFee", "0"),
            Rate=_decimal(row, 2, "Rate"),
            RateUnit=_duration(row, 3, "RateUnit"),
            RateIncrement=_duration(row, 4, "RateIncrement"),
            GroupIntervalStart=_duration(row, 5, "GroupIntervalStart"),
        )
        if slot.RateUnit < 0:
            raise row.error(3, "RateUnit must not be negative")
        if slot.RateIncrement < 0:
            raise row.error(4, "RateIncrement must not be negative")
        if slot.GroupIntervalStart < 0:
            raise row.error(5, "GroupIntervalStart must not be negative")
        key = (rid, slot.GroupIntervalStart)
        if key in self.rate_rows:
            first = self.rate_rows[key].line
            raise row.error(5, f"duplicate GroupIntervalStart {row[5]} for rate {rid} (first at line {first})")
        self.rate_rows[key] = row
        self.rates.setdefault(rid, TPRate(rid)).RateSlots.append(slot)

    def _row_destinationrates(self, row: Row) -> None:
        drid, dest, rate = row[0], row[1], row[2]
        if not drid:
            raise row.error(0, "missing destination rate ID")
        if not dest:
            raise row.error(1, "missing destination ID (use *any for every destination)")
        if not rate:
            raise row.error(2, "missing rate ID")
        method = row[3] or "*middle"
        if method not in ROUNDING_METHODS:
            raise row.error(3, f"RoundingMethod {method!r} is not one of {', '.join(ROUNDING_METHODS)}")
        decimals = _int(row, 4, "RoundingDecimals", 4)
        if not 0 <= decimals <= 12:
            raise row.error(4, f"RoundingDecimals {decimals} is out of range (0..12)")
        strategy = row[6]
        if strategy not in ("", MAX_COST_FREE, MAX_COST_DISCONNECT):
            raise row.error(6, f"MaxCostStrategy {strategy!r} is not *free or *disconnect")
        key = (drid, dest)
        if key in self.dr_rows:
            first = self.dr_rows[key].line
            raise row.error(1, f"duplicate destination {dest} in destination rate {drid} (first at line {first})")
        self.dr_rows[key] = row
        binding = DestinationRateBinding(dest, rate, method, decimals, _decimal(row, 5, "MaxCost", "0"), strategy)
        self.destination_rates.setdefault(drid, TPDestinationRate(drid)).DestinationRates.append(binding)

    def _row_ratingplans(self, row: Row) -> None:
        rpid, drid, timing = row[0], row[1], row[2] or ANY
        if not rpid:
            raise row.error(0, "missing rating plan ID")
        if not drid:
            raise row.error(1, "missing destination rates ID")
        key = (rpid, drid, timing)
        if key in self.rp_rows:
            first = self.rp_rows[key].line
            raise row.error(1, f"duplicate binding {drid}/{timing} in rating plan {rpid} (first at line {first})")
        self.rp_rows[key] = row
        binding = RatingPlanBinding(drid, timing, _float(row, 3, "Weight"))
        self.rating_plans.setdefault(rpid, TPRatingPlan(rpid)).RatingPlanBindings.append(binding)

    def _row_ratingprofiles(self, row: Row) -> None:
        tenant, category, subject = row[0], row[1], row[2]
        if tenant.startswith("*") and tenant in ("*out", "*in") and len(row.fields) >= 7:
            raise row.error(0, "the Direction column is gone: start rows with Tenant")
        for i, name in ((0, "Tenant"), (1, "Category"), (2, "Subject"), (4, "RatingPlanID")):
            if not row[i]:
                raise row.error(i, f"missing {name}")
        at = _time_ns(row, 3, "ActivationTime", self.timezone)
        key = rating_profile_key(tenant, category, subject)
        acts = self.rating_profiles.setdefault(key, [])
        for other, orow in acts:
            if other.ActivationTime == at:
                raise row.error(
                    3, f"duplicate activation {row[3]} for rating profile {key} (first at line {orow.line})"
                )
        act = RatingActivation(at, row[4], fallback_keys(tenant, category, row[5]))
        acts.append((act, row))

    # -------------------------------------------------------------------------------- profiles

    def _profile_row(self, table: str, row: Row) -> None:
        tenant, pid = row[0], row[1]
        if not tenant:
            raise row.error(0, "missing Tenant")
        if not pid:
            raise row.error(1, "missing ID")
        key = f"{tenant}:{pid}"
        store = self.profiles.setdefault(table, {})
        prof = store.get(key)
        if prof is None:
            prof = store[key] = _new_profile(table, tenant, pid)
        _merge_profile(table, prof, row, self.timezone)

    # ------------------------------------------------------------------------------------------ building

    async def build(self, dm: Any) -> tuple[list[kinds.BatchOp], LoadResult]:
        """Validate references (against this plan and what DataDB already holds) and return the writes."""
        result = LoadResult()
        reader = getattr(dm, "datadb", dm)
        ops: list[kinds.BatchOp] = []

        async def stored(kind: str, key: str) -> bool:
            return await reader.get(kind, key) is not None

        # timings
        for tid, (timing, _) in self.timings.items():
            ops.append(("set", kinds.TIMING, tid, timing.to_json()))
        # destinations and the reverse index
        added: dict[str, list[str]] = {}
        removed: dict[str, list[str]] = {}
        for did, prefixes in self.destinations.items():
            old_raw = await reader.get(kinds.DESTINATION, did)
            old = Destination.from_json(old_raw).Prefixes if old_raw else ()
            for p in old:
                if p not in prefixes:
                    removed.setdefault(p, []).append(did)
            old_set = set(old)
            for p in prefixes:
                if p not in old_set:
                    added.setdefault(p, []).append(did)
            ops.append(("set", kinds.DESTINATION, did, {"Id": did, "Prefixes": list(prefixes)}))
        for prefix in added.keys() | removed.keys():
            current = await reader.get(kinds.REVERSE_DESTINATION, prefix)
            new_ids = added.get(prefix, ())
            gone = removed.get(prefix, ())
            if not current and not gone:
                updated = sorted(set(new_ids))
            else:
                updated = sorted((set(current or ()) | set(new_ids)) - set(gone))
            if updated:
                ops.append(("set", kinds.REVERSE_DESTINATION, prefix, updated))
            elif current:
                ops.append(("remove", kinds.REVERSE_DESTINATION, prefix, None))
        reverse_ids = added.keys() | removed.keys()
        # destination rates: their destinations and rates must exist
        for drid, dr in self.destination_rates.items():
            for b in dr.DestinationRates:
                row = self.dr_rows[(drid, b.DestinationId)]
                if b.RateId not in self.rates:
                    raise row.error(2, f"destination rate {drid} names unknown rate {b.RateId}")
                if (
                    b.DestinationId != ANY
                    and b.DestinationId not in self.destinations
                    and not await stored(kinds.DESTINATION, b.DestinationId)
                ):
                    raise row.error(1, f"destination rate {drid} names unknown destination {b.DestinationId}")
        # rating plans
        asap_hms = self.loaded_at.strftime("%H:%M:%S")
        for rpid, tprp in self.rating_plans.items():
            plan = RatingPlan(Id=rpid)
            for b in tprp.RatingPlanBindings:
                row = self.rp_rows[(rpid, b.DestinationRatesId, b.TimingId)]
                dr = self.destination_rates.get(b.DestinationRatesId)
                if dr is None:
                    raise row.error(1, f"rating plan {rpid} names unknown destination rates {b.DestinationRatesId}")
                timing = await self._timing(b.TimingId, reader)
                if timing is None:
                    raise row.error(2, f"rating plan {rpid} names unknown timing {b.TimingId}")
                ri_timing = timing.as_ri_timing()
                if ri_timing.StartTime == ASAP:
                    ri_timing = TPTiming(**{**timing.to_json(), "StartTime": asap_hms}).as_ri_timing()
                for drb in dr.DestinationRates:
                    rate = self.rates[drb.RateId]
                    rating = RIRate(
                        ConnectFee=rate.RateSlots[0].ConnectFee,
                        RoundingMethod=drb.RoundingMethod,
                        RoundingDecimals=drb.RoundingDecimals,
                        MaxCost=drb.MaxCost,
                        MaxCostStrategy=drb.MaxCostStrategy,
                        Rates=[
                            PriceSlot(s.GroupIntervalStart, s.Rate, s.RateIncrement, s.RateUnit) for s in rate.RateSlots
                        ],
                    )
                    plan.add_rate_interval(drb.DestinationId, RateInterval(ri_timing, rating, b.Weight))
            ops.append(("set", kinds.RATING_PLAN, rpid, plan.to_json()))
        # rating profiles
        for key, acts in self.rating_profiles.items():
            for act, row in acts:
                if act.RatingPlanId not in self.rating_plans and not await stored(kinds.RATING_PLAN, act.RatingPlanId):
                    raise row.error(4, f"rating profile {key} names unknown rating plan {act.RatingPlanId}")
            rpf = RatingProfile(Id=key, RatingPlanActivations=[a for a, _ in acts])
            ops.append(("set", kinds.RATING_PROFILE, key, rpf.to_json()))
        # profiles
        for table, items in self.profiles.items():
            kind = PROFILE_KINDS[table]
            for key, prof in items.items():
                ops.append(("set", kind, key, _finish_profile(table, prof)))
        for table, rows in self.raw.items():
            ops.append(("set", "tp_" + _snake(table), "rows", rows))
            result.warnings.append(f"{table}.csv: kept as {len(rows)} raw rows (not used by this engine)")

        result.counts = {
            "Timings": len(self.timings),
            "Destinations": len(self.destinations),
            "Rates": len(self.rates),
            "DestinationRates": len(self.destination_rates),
            "RatingPlans": len(self.rating_plans),
            "RatingProfiles": len(self.rating_profiles),
            **{t: len(v) for t, v in self.profiles.items()},
            **{t: len(v) for t, v in self.tables.items() if t in ACCOUNTING_TABLES},
        }
        result.ids = {
            "DestinationIDs": sorted(self.destinations),
            "ReverseDestinationIDs": sorted(reverse_ids),
            "RatingPlanIDs": sorted(self.rating_plans),
            "RatingProfileIDs": sorted(self.rating_profiles),
            "TimingIDs": sorted(self.timings),
        }
        for table, kind_ids in (
            ("Filters", "FilterIDs"),
            ("Attributes", "AttributeProfileIDs"),
            ("Chargers", "ChargerProfileIDs"),
            ("Resources", "ResourceProfileIDs"),
            ("Stats", "StatsQueueProfileIDs"),
            ("Thresholds", "ThresholdProfileIDs"),
            ("Routes", "RouteProfileIDs"),
            ("DispatcherProfiles", "DispatcherProfileIDs"),
            ("DispatcherHosts", "DispatcherHostIDs"),
        ):
            if table in self.profiles:
                result.ids[kind_ids] = sorted(self.profiles[table])
        return ops, result

    async def _timing(self, tid: str, reader: Any) -> TPTiming | None:
        if tid in self.timings:
            return self.timings[tid][0]
        if tid == ANY:
            return TPTiming(ANY)
        if tid == ASAP:
            return TPTiming(ASAP, StartTime=ASAP)
        raw = await reader.get(kinds.TIMING, tid)
        return TPTiming.from_json(raw) if raw else None

    def accounting_tables(self) -> dict[str, list[dict]]:
        return {t: rows for t, rows in self.tables.items()}

    def column_of(self, table: str, name: str) -> int | str:
        """The field number of a column named by accounting (header names compared loosely)."""
        wanted = _norm(name)
        for names in (self.headers.get(table) or [], list(SPECS[table].columns) if table in SPECS else []):
            for i, n in enumerate(names):
                if _norm(n) == wanted:
                    return i + 1
        return name


def _norm(name: str) -> str:
    return re.sub(r"\[\d+\]$", "", str(name).strip().lstrip("#").strip()).lower()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _header(path: Path) -> list[str]:
    """The column names of the first comment line, if it looks like a header."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            for text in fh:
                s = text.strip()
                if not s:
                    continue
                if s.startswith("#"):
                    return [c.strip() for c in s.lstrip("#").split(",")]
                return []
    except OSError:
        return []
    return []


# ---------------------------------------------------------------------------------------------------- profile shapes


def _new_profile(table: str, tenant: str, pid: str) -> dict:
    base: dict[str, Any] = {"Tenant": tenant, "ID": pid}
    if table == "Filters":
        base.update(Rules=[], ActivationInterval=None)
    elif table == "Attributes":
        base.update(FilterIDs=[], ActivationInterval=None, Contexts=[], Attributes=[], Blocker=False, Weight=0.0)
    elif table == "Chargers":
        base.update(FilterIDs=[], ActivationInterval=None, RunID="", AttributeIDs=[], Weight=0.0)
    elif table == "Resources":
        base.update(
            FilterIDs=[],
            ActivationInterval=None,
            UsageTTL=0,
            Limit=0.0,
            AllocationMessage="",
            Blocker=False,
            Stored=False,
            Weight=0.0,
            ThresholdIDs=[],
        )
    elif table == "Stats":
        base.update(
            FilterIDs=[],
            ActivationInterval=None,
            QueueLength=0,
            TTL=0,
            MinItems=0,
            Metrics=[],
            Stored=False,
            Blocker=False,
            Weight=0.0,
            ThresholdIDs=[],
        )
    elif table == "Thresholds":
        base.update(
            FilterIDs=[],
            ActivationInterval=None,
            MaxHits=0,
            MinHits=0,
            MinSleep=0,
            Blocker=False,
            Weight=0.0,
            ActionIDs=[],
            Async=False,
            EeIDs=[],
        )
    elif table == "Routes":
        base.update(FilterIDs=[], ActivationInterval=None, Sorting="", SortingParameters=[], Routes=[], Weight=0.0)
    elif table == "DispatcherProfiles":
        base.update(
            Subsystems=[], FilterIDs=[], ActivationInterval=None, Strategy="", StrategyParams={}, Weight=0.0, Hosts=[]
        )
    elif table == "DispatcherHosts":
        base.update(
            Address="",
            Transport="*json",
            ConnectAttempts=0,
            Reconnects=0,
            MaxReconnectInterval=0,
            ConnectTimeout=0,
            ReplyTimeout=0,
            TLS=False,
            ClientKey="",
            ClientCertificate="",
            CaCertificate="",
        )
    return base


def _params(text: str) -> dict:
    """``k:v;k2:v2`` (or bare items, numbered) into a dict."""
    out: dict[str, Any] = {}
    for i, part in enumerate(split_list(text)):
        k, sep, v = part.partition(":")
        if sep:
            out[k] = v
        else:
            out[str(i)] = part
    return out


def _merge_profile(table: str, prof: dict, row: Row, tz: str) -> None:
    """Fold one CSV row into the profile: lists grow, the last non-empty scalar wins."""
    if table == "Filters":
        if row[2]:
            if not row[3] and not row[2].startswith("*never"):
                raise row.error(3, f"filter {prof['ID']}: rule {row[2]} needs an Element (e.g. ~*req.Account)")
            prof["Rules"].append({"Type": row[2], "Element": row[3], "Values": split_list(row[4])})
        ai = _activation_interval(row, 5, tz)
        if ai and prof["ActivationInterval"] is None:
            prof["ActivationInterval"] = ai
        return
    if table == "DispatcherHosts":
        names = SPECS[table].columns
        for i in range(2, len(names)):
            if not row[i]:
                continue
            name = names[i]
            if name in ("ConnectAttempts", "Reconnects"):
                prof[name] = _int(row, i, name)
            elif name in ("MaxReconnectInterval", "ConnectTimeout", "ReplyTimeout"):
                prof[name] = _duration(row, i, name)
            elif name == "TLS":
                prof[name] = _bool(row, i, name)
            else:
                prof[name] = row[i]
        return
    shifted = table in ("Attributes", "DispatcherProfiles")  # these have a column before FilterIDs
    _append_unique(prof["FilterIDs"], split_list(row[3] if shifted else row[2]))
    ai = _activation_interval(row, 4 if shifted else 3, tz)
    if ai and prof.get("ActivationInterval") is None:
        prof["ActivationInterval"] = ai
    if table == "Attributes":
        _append_unique(prof["Contexts"], split_list(row[2]))
        if row[6]:
            if not row[7]:
                raise row.error(7, f"attribute {row[6]} of {prof['ID']} needs a Type (e.g. *constant)")
            prof["Attributes"].append(
                {"FilterIDs": split_list(row[5]), "Path": row[6], "Type": row[7], "Value": row[8]}
            )
        elif row[7] or row[8]:
            raise row.error(6, f"attribute of {prof['ID']} has a Type or Value but no Path")
        if row[9]:
            prof["Blocker"] = _bool(row, 9, "Blocker")
        if row[10]:
            prof["Weight"] = _float(row, 10, "Weight")
    elif table == "Chargers":
        if row[4]:
            prof["RunID"] = row[4]
        _append_unique(prof["AttributeIDs"], split_list(row[5]))
        if row[6]:
            prof["Weight"] = _float(row, 6, "Weight")
    elif table == "Resources":
        if row[4]:
            prof["UsageTTL"] = _duration(row, 4, "UsageTTL")
        if row[5]:
            prof["Limit"] = _float(row, 5, "Limit")
        if row[6]:
            prof["AllocationMessage"] = row[6]
        if row[7]:
            prof["Blocker"] = _bool(row, 7, "Blocker")
        if row[8]:
            prof["Stored"] = _bool(row, 8, "Stored")
        if row[9]:
            prof["Weight"] = _float(row, 9, "Weight")
        _append_unique(prof["ThresholdIDs"], split_list(row[10]))
    elif table == "Stats":
        if row[4]:
            prof["QueueLength"] = _int(row, 4, "QueueLength")
        if row[5]:
            prof["TTL"] = _duration(row, 5, "TTL")
        if row[6]:
            prof["MinItems"] = _int(row, 6, "MinItems")
        metric_filters = split_list(row[8])
        for metric in split_list(row[7]):
            existing = next((m for m in prof["Metrics"] if m["MetricID"] == metric), None)
            if existing is None:
                prof["Metrics"].append({"FilterIDs": list(metric_filters), "MetricID": metric})
            else:
                _append_unique(existing["FilterIDs"], metric_filters)
        if row[9]:
            prof["Stored"] = _bool(row, 9, "Stored")
        if row[10]:
            prof["Blocker"] = _bool(row, 10, "Blocker")
        if row[11]:
            prof["Weight"] = _float(row, 11, "Weight")
        _append_unique(prof["ThresholdIDs"], split_list(row[12]))
    elif table == "Thresholds":
        if row[4]:
            prof["MaxHits"] = _int(row, 4, "MaxHits")
        if row[5]:
            prof["MinHits"] = _int(row, 5, "MinHits")
        if row[6]:
            prof["MinSleep"] = _duration(row, 6, "MinSleep")
        if row[7]:
            prof["Blocker"] = _bool(row, 7, "Blocker")
        if row[8]:
            prof["Weight"] = _float(row, 8, "Weight")
        _append_unique(prof["ActionIDs"], split_list(row[9]))
        if row[10]:
            prof["Async"] = _bool(row, 10, "Async")
        _append_unique(prof["EeIDs"], split_list(row[11]))
    elif table == "Routes":
        if row[4]:
            prof["Sorting"] = row[4]
        _append_unique(prof["SortingParameters"], split_list(row[5]))
        if row[6]:
            route = next((r for r in prof["Routes"] if r["ID"] == row[6]), None)
            if route is None:
                route = {
                    "ID": row[6],
                    "FilterIDs": [],
                    "AccountIDs": [],
                    "RatingPlanIDs": [],
                    "ResourceIDs": [],
                    "StatIDs": [],
                    "Weight": 0.0,
                    "Blocker": False,
                    "RouteParameters": "",
                }
                prof["Routes"].append(route)
            _append_unique(route["FilterIDs"], split_list(row[7]))
            _append_unique(route["AccountIDs"], split_list(row[8]))
            _append_unique(route["RatingPlanIDs"], split_list(row[9]))
            _append_unique(route["ResourceIDs"], split_list(row[10]))
            _append_unique(route["StatIDs"], split_list(row[11]))
            if row[12]:
                route["Weight"] = _float(row, 12, "RouteWeight")
            if row[13]:
                route["Blocker"] = _bool(row, 13, "RouteBlocker")
            if row[14]:
                route["RouteParameters"] = row[14]
        if row[15]:
            prof["Weight"] = _float(row, 15, "Weight")
    elif table == "DispatcherProfiles":
        _append_unique(prof["Subsystems"], split_list(row[2]))
        if row[5]:
            prof["Strategy"] = row[5]
        prof["StrategyParams"].update(_params(row[6]))
        if row[7]:
            host = next((h for h in prof["Hosts"] if h["ID"] == row[7]), None)
            if host is None:
                host = {"ID": row[7], "FilterIDs": [], "Weight": 0.0, "Params": {}, "Blocker": False}
                prof["Hosts"].append(host)
            _append_unique(host["FilterIDs"], split_list(row[8]))
            if row[9]:
                host["Weight"] = _float(row, 9, "ConnWeight")
            if row[10]:
                host["Blocker"] = _bool(row, 10, "ConnBlocker")
            host["Params"].update(_params(row[11]))
        if row[12]:
            prof["Weight"] = _float(row, 12, "Weight")


def _finish_profile(table: str, prof: dict) -> dict:
    if table == "Routes":
        prof["Routes"].sort(key=lambda r: -r["Weight"])
    return prof


# ---------------------------------------------------------------------------------------------------- loading


async def load_tariff_plan(
    dm: Any,
    folder: str | Path,
    *,
    dry_run: bool = False,
    timezone: str = "UTC",
    progress: Callable[[str, int], None] | None = None,
) -> LoadResult:
    """Read, validate and (unless ``dry_run``) store a tariff plan folder; raises LoaderError.

    The rating and profile objects are written in one batch; the accounting part is validated before anything is
    written and stored after.
    """
    tp = TariffPlan.from_folder(folder, timezone, progress)
    ops, result = await tp.build(dm)
    tables = tp.accounting_tables()
    has_accounting = any(tables.get(t) for t in ACCOUNTING_TABLES)
    loading = _accounting_module() if has_accounting else None
    if has_accounting and loading is not None:
        # validate first: a bad account action must not leave half a tariff plan behind
        result.warnings.extend(await _accounting(loading, tp, dm, tables, True, timezone))
    elif has_accounting:
        result.warnings.append("accounting is not available in this build: accounting rows stored raw")
        log.warning("accounting is not available: storing raw rows of %s", ", ".join(ACCOUNTING_TABLES))
        for table in ACCOUNTING_TABLES:
            if tables.get(table):
                ops.append(("set", RAW_ACCOUNTING_KINDS[table], "rows", tables[table]))
    result.ops = len(ops)
    if dry_run:
        return result
    await dm.write_batch(ops)
    if has_accounting and loading is not None:
        await _accounting(loading, tp, dm, tables, False, timezone)
    return result


def _accounting_module() -> Any:
    try:
        from pycgrates.engine.accounts import loading
    except ImportError:
        return None
    return loading if hasattr(loading, "load_accounting") else None


async def _accounting(loading: Any, tp: TariffPlan, dm: Any, tables: dict, dry_run: bool, tz: str) -> list[str]:
    try:
        return list(await loading.load_accounting(dm, tables, dry_run=dry_run, timezone=tz) or [])
    except LoaderError as exc:
        if isinstance(exc.column, str):
            table = exc.file[:-4] if exc.file.endswith(".csv") else exc.file
            exc.column = tp.column_of(table, exc.column)
        raise


# ---------------------------------------------------------------------------------------------------- the API


class LoaderService:
    """APIerSv1.LoadTariffPlanFromFolder."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    @rpc("APIerSv1.LoadTariffPlanFromFolder")
    async def load_tariff_plan_from_folder(self, args: dict) -> str:
        args = args or {}
        folder = args.get("FolderPath") or ""
        if not folder:
            raise mandatory_ie_missing("FolderPath")
        if not os.path.isdir(folder):
            raise RPCError("INVALID_PATH")
        tz = self.ctx.cfg.get("general", "default_timezone", default="UTC") if self.ctx.cfg is not None else "UTC"
        try:
            result = await load_tariff_plan(self.ctx.dm, folder, dry_run=bool(args.get("DryRun")), timezone=tz)
        except LoaderError as exc:
            raise server_error(exc) from None
        for w in result.warnings:
            log.warning("load %s: %s", folder, w)
        if not args.get("DryRun"):
            await self._after_load()
        return "OK"

    async def _after_load(self) -> None:
        """A load writes profiles and plans in bulk: filter indexes are recomputed on next use, and the
        scheduler re-reads the action plans."""
        from pycgrates.engine.filters.indexes import reset_filter_indexes

        await reset_filter_indexes(self.ctx.dm)
        scheduler = getattr(self.ctx, "services", {}).get("schedulers")
        if scheduler is not None:
            await scheduler.reload()


# ---------------------------------------------------------------------------------------------------- progress


class ProgressBar:
    """A one-line progress bar on a terminal (silent when the stream is not a terminal)."""

    def __init__(self, stream: Any = None, total: int = 0) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total = total
        self.rows: dict[str, int] = {}
        self._last = 0.0

    def __call__(self, file: str, rows: int) -> None:
        self.rows[file] = rows
        if not self.enabled:
            return
        now_ = time.monotonic()
        if now_ - self._last < 0.1:
            return
        self._last = now_
        done = sum(self.rows.values())
        width = 30
        if self.total:
            frac = min(1.0, done / self.total)
            filled = int(frac * width)
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r[{bar}] {frac * 100:5.1f}% {file:<24} {done:>9} rows")
        else:
            self.stream.write(f"\r{file:<24} {done:>9} rows")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 78 + "\r")
            self.stream.flush()


def count_rows(folder: str | Path) -> int:
    """Data lines in the CSV files of a folder (for the progress bar)."""
    total = 0
    for p in Path(folder).glob("*.csv"):
        with open(p, encoding="utf-8-sig", errors="replace") as fh:
            total += sum(1 for line in fh if line.strip() and not line.lstrip().startswith("#"))
    return total
