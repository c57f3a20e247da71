"""Loading a CGRateS tariff plan folder (CSV files) into DataDB.

Every file of a CGRateS tariff plan is read by its spec (``engine.loader.specs``): the rating ones (Timings,
Destinations, Rates, DestinationRates, RatingPlans, RatingProfiles) become the rating engine's objects; the
accounting ones (SharedGroups, Actions, ActionPlans, ActionTriggers, AccountActions) are handed as rows to
``engine.accounts.loading.load_accounting``; the profiles (Filters, Attributes, Chargers, Resources, Stats,
Thresholds, Routes, DispatcherProfiles, DispatcherHosts) are stored as CGRateS's profile JSON under ``tenant:id``,
multi-row profiles merged (``engine.loader.profiles``). Other CSV files (Trends, Rankings, ...) are kept as raw rows.

Every error is a :class:`LoaderError` naming the file, the line, the column (the CSV field number, from 1) and, for
dangling references, the ID that is missing.

The rows handed to accounting are dicts keyed by their spec's column names (CGRateS's header names), plus ``_file``
and ``_line``; ``tables`` also carries the ``Timings`` rows so action plans can resolve their timing IDs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pycgrates.engine.loader.profiles import finish_profile, merge_row, new_profile
from pycgrates.engine.loader.rows import LoaderError, Row, read_cell, read_header, read_row, read_rows
from pycgrates.engine.loader.specs import ACCOUNTING_TABLES, SPECS, FileSpec
from pycgrates.engine.models.tariffplan import (
    ANY,
    ASAP,
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
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.units import get_timezone

__all__ = ["SPECS", "LoadResult", "LoaderError", "TariffPlan", "load_tariff_plan", "read_rows"]

log = logging.getLogger("cgr.loader")

#: Kinds holding the raw accounting rows when the accounting part is not available.
RAW_ACCOUNTING_KINDS = {
    "SharedGroups": "tp_shared_groups",
    "Actions": "tp_actions",
    "ActionPlans": "tp_action_plans",
    "ActionTriggers": "tp_action_triggers",
    "AccountActions": "tp_account_actions",
}


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
        self.headers[table] = read_header(path)
        count = 0
        for row in read_rows(path, spec):
            count += 1
            if spec is None:
                self.raw.setdefault(table, []).append({"_line": row.line, "fields": row.fields})
            elif table in ACCOUNTING_TABLES:
                self.tables.setdefault(table, []).append(row.as_dict(spec.columns))
            elif spec.is_profile:
                self._profile_row(spec, row)
            else:
                self.RATING_ROWS[table](self, row, read_row(row, spec, self.timezone))
            if progress is not None and count % 5000 == 0:
                progress(path.name, count)
        if progress is not None:
            progress(path.name, count)
        if table == "Timings":
            # accounting resolves the timing IDs of action plans from these too
            self.tables.setdefault(table, [])

    # -------------------------------------------------------------------------------- rating rows

    def _timing_row(self, row: Row, v: dict[str, Any]) -> None:
        tid = v["ID"]
        if tid in self.timings:
            raise row.error(0, f"duplicate timing ID {tid} (first defined at line {self.timings[tid][1].line})")
        start, end = v["Time"]
        week_days = [d % 7 for d in v["WeekDays"]]  # Sunday is 0; 7 is read as Sunday too, as CGRateS does
        self.timings[tid] = (TPTiming(tid, v["Years"], v["Months"], v["MonthDays"], week_days, start, end), row)
        self.tables.setdefault("Timings", []).append(row.as_dict(SPECS["Timings"].columns))

    def _destination_row(self, row: Row, v: dict[str, Any]) -> None:
        did, prefix = v["ID"], v["Prefix"]
        prefixes = self.destinations.get(did)
        if prefixes is None:
            prefixes = self.destinations[did] = {}
        elif prefix in prefixes:
            raise row.error(1, f"duplicate prefix {prefix} in destination {did} (first at line {prefixes[prefix]})")
        prefixes[prefix] = row.line

    def _rate_row(self, row: Row, v: dict[str, Any]) -> None:
        rid = v.pop("ID")
        slot = RateSlot(**v)
        key = (rid, slot.GroupIntervalStart)
        if key in self.rate_rows:
            first = self.rate_rows[key].line
            raise row.error(5, f"duplicate GroupIntervalStart {row[5]} for rate {rid} (first at line {first})")
        self.rate_rows[key] = row
        self.rates.setdefault(rid, TPRate(rid)).RateSlots.append(slot)

    def _destination_rate_row(self, row: Row, v: dict[str, Any]) -> None:
        drid = v.pop("ID")
        binding = DestinationRateBinding(**v)
        key = (drid, binding.DestinationId)
        if key in self.dr_rows:
            first = self.dr_rows[key].line
            raise row.error(1, f"duplicate destination {key[1]} in destination rate {drid} (first at line {first})")
        self.dr_rows[key] = row
        self.destination_rates.setdefault(drid, TPDestinationRate(drid)).DestinationRates.append(binding)

    def _rating_plan_row(self, row: Row, v: dict[str, Any]) -> None:
        rpid = v.pop("ID")
        binding = RatingPlanBinding(**v)
        key = (rpid, binding.DestinationRatesId, binding.TimingId)
        if key in self.rp_rows:
            first = self.rp_rows[key].line
            raise row.error(1, f"duplicate binding {key[1]}/{key[2]} in rating plan {rpid} (first at line {first})")
        self.rp_rows[key] = row
        self.rating_plans.setdefault(rpid, TPRatingPlan(rpid)).RatingPlanBindings.append(binding)

    def _rating_profile_row(self, row: Row, v: dict[str, Any]) -> None:
        tenant, category = v["Tenant"], v["Category"]
        key = rating_profile_key(tenant, category, v["Subject"])
        acts = self.rating_profiles.setdefault(key, [])
        for other, orow in acts:
            if other.ActivationTime == v["ActivationTime"]:
                raise row.error(
                    3, f"duplicate activation {row[3]} for rating profile {key} (first at line {orow.line})"
                )
        fallbacks = fallback_keys(tenant, category, v["FallbackSubject"])
        acts.append((RatingActivation(v["ActivationTime"], v["RatingPlanId"], fallbacks), row))

    #: What a parsed row of each rating file adds to the plan.
    RATING_ROWS: ClassVar[dict[str, Callable[[TariffPlan, Row, dict[str, Any]], None]]] = {
        "Timings": _timing_row,
        "Destinations": _destination_row,
        "Rates": _rate_row,
        "DestinationRates": _destination_rate_row,
        "RatingPlans": _rating_plan_row,
        "RatingProfiles": _rating_profile_row,
    }

    # -------------------------------------------------------------------------------- profiles

    def _profile_row(self, spec: FileSpec, row: Row) -> None:
        tenant = read_cell(row, 0, spec.columns[0], self.timezone)
        pid = read_cell(row, 1, spec.columns[1], self.timezone)
        key = f"{tenant}:{pid}"
        store = self.profiles.setdefault(spec.table, {})
        prof = store.get(key)
        if prof is None:
            prof = store[key] = new_profile(spec, tenant, pid)
        merge_row(spec, prof, row, self.timezone)

    # ------------------------------------------------------------------------------------------ building

    async def build(self, dm: Any) -> tuple[list[kinds.BatchOp], LoadResult]:
        """Validate references (against this plan and what DataDB already holds) and return the writes."""
        result = LoadResult()
        reader = getattr(dm, "datadb", dm)
        ops: list[kinds.BatchOp] = []
        for tid, (timing, _) in self.timings.items():
            ops.append(("set", kinds.TIMING, tid, timing.to_json()))
        reverse_ids = await self._destination_ops(reader, ops)
        await self._check_destination_rates(reader)
        await self._rating_plan_ops(reader, ops)
        for key, acts in self.rating_profiles.items():
            for act, row in acts:
                if act.RatingPlanId not in self.rating_plans and not await _stored(
                    reader, kinds.RATING_PLAN, act.RatingPlanId
                ):
                    raise row.error(4, f"rating profile {key} names unknown rating plan {act.RatingPlanId}")
            rpf = RatingProfile(Id=key, RatingPlanActivations=[a for a, _ in acts])
            ops.append(("set", kinds.RATING_PROFILE, key, rpf.to_json()))
        for table, items in self.profiles.items():
            spec = SPECS[table]
            for key, prof in items.items():
                ops.append(("set", spec.store, key, finish_profile(spec, prof)))
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
        for spec in SPECS.values():
            if spec.table in self.profiles:
                result.ids[spec.reload_ids] = sorted(self.profiles[spec.table])
        return ops, result

    async def _destination_ops(self, reader: Any, ops: list[kinds.BatchOp]) -> set[str]:
        """The destinations and the changes to the reverse (prefix → destination IDs) index; the prefixes touched."""
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
        return added.keys() | removed.keys()

    async def _check_destination_rates(self, reader: Any) -> None:
        """Every destination rate names rates of this plan and destinations of this plan or DataDB."""
        for drid, dr in self.destination_rates.items():
            for b in dr.DestinationRates:
                row = self.dr_rows[(drid, b.DestinationId)]
                if b.RateId not in self.rates:
                    raise row.error(2, f"destination rate {drid} names unknown rate {b.RateId}")
                if (
                    b.DestinationId != ANY
                    and b.DestinationId not in self.destinations
                    and not await _stored(reader, kinds.DESTINATION, b.DestinationId)
                ):
                    raise row.error(1, f"destination rate {drid} names unknown destination {b.DestinationId}")

    async def _rating_plan_ops(self, reader: Any, ops: list[kinds.BatchOp]) -> None:
        """The rating plans, each binding resolved to rate intervals (*asap starts at the load's time of day)."""
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
        for names in (self.headers.get(table) or [], list(SPECS[table].names) if table in SPECS else []):
            for i, n in enumerate(names):
                if _norm(n) == wanted:
                    return i + 1
        return name


async def _stored(reader: Any, kind: str, key: str) -> bool:
    return await reader.get(kind, key) is not None


def _norm(name: str) -> str:
    return re.sub(r"\[\d+\]$", "", str(name).strip().lstrip("#").strip()).lower()


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---------------------------------------------------------------------------------------------------- loading


async def load_tariff_plan(
    dm: Any,
    folder: str | Path,
    *,
    dry_run: bool = False,
    timezone: str = "UTC",
    progress: Callable[[str, int], None] | None = None,
    before_write: Callable[[list[kinds.BatchOp]], Awaitable[None]] | None = None,
) -> LoadResult:
    """Read, validate and (unless ``dry_run``) store a tariff plan folder; raises LoaderError.

    The rating and profile objects are written in one batch; the accounting part is validated before anything is
    written and stored after. ``before_write`` is given that batch just before it is written (what it replaces is
    still there to be read).
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
    if before_write is not None:
        await before_write(ops)
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
