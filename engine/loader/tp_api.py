"""APIerSv1's offline tariff plans: ``Set/Get/Remove<TPType>`` and ``Get<TPType>Ids`` edit the StorDB's
tariff-plan rows under a TPid (the types and their rows: ``engine.loader.tp_types``); ImportTariffPlanFromFolder
and ExportTPToFolder move a TPid between a folder of CSV files and the StorDB; LoadTariffPlanFromStorDb loads a
TPid into the DataDB as LoadTariffPlanFromFolder loads a folder.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pycgrates.engine.loader.rows import LoaderError, read_rows
from pycgrates.engine.loader.specs import SPECS
from pycgrates.engine.loader.tp_types import TP_TYPES, TPType
from pycgrates.engine.models.cdr import as_string
from pycgrates.engine.profiles.crud import config_option
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, mandatory_ie_missing, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage import StorageError

OK = "OK"


def _args(args: Any) -> dict:
    if not isinstance(args, dict):
        raise server_error("arguments must be a JSON object")
    return args


class TariffPlanService:
    """The TP* methods of APIerSv1 (and the few APIerSv2 repeats), over the StorDB."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    @property
    def stordb(self) -> Any:
        return self.ctx.stordb

    def _default_tenant(self) -> str:
        return config_option(self.ctx, "general", "default_tenant", "cgrates.org")

    async def _rows(self, tpid: str, table: str) -> list[dict]:
        try:
            return await self.stordb.get_tp(tpid, table)
        except StorageError as exc:
            raise server_error(exc) from None

    async def _store(self, tpid: str, table: str, rows: list[dict]) -> None:
        try:
            if rows:
                await self.stordb.set_tp(tpid, table, rows)
            else:
                await self.stordb.remove_tp(tpid, table)
        except StorageError as exc:
            raise server_error(exc) from None

    def _key_of(self, tp: TPType, args: dict) -> str:
        """The object's ID from a Get/Remove argument: its key fields, or the composite ``key_arg``
        (``RatingProfileID`` "loadid:tenant:category:subject": the LoadId is not kept)."""
        if tp.key_arg != "ID":
            parts = str(args.get(tp.key_arg) or "").split(":")
            if len(parts) < len(tp.key) or not all(parts[-len(tp.key):]):
                raise mandatory_ie_missing(*([] if args.get("TPid") else ["TPid"]), tp.key_arg)
            return ":".join(parts[-len(tp.key):])
        values = []
        for name in tp.key_fields:
            value = args.get(name) or (self._default_tenant() if name == "Tenant" else "")
            values.append(str(value))
        missing = [f for f, v in (("TPid", args.get("TPid")), *zip(tp.key_fields, values, strict=True)) if not v]
        if missing:
            raise mandatory_ie_missing(*missing)
        return ":".join(values)

    # ------------------------------------------------------------------------------------------ per type

    async def set_tp_object(self, tp: TPType, args: Any) -> str:
        obj = dict(_args(args))
        if "Tenant" in tp.key_fields and not obj.get("Tenant"):
            obj["Tenant"] = self._default_tenant()
        missing = tp.missing(obj)
        if missing:
            raise mandatory_ie_missing(*missing)
        tpid = str(obj["TPid"])
        oid = ":".join(str(obj.get(f)) for f in tp.key_fields)
        rows = [r for r in await self._rows(tpid, tp.table) if self._row_id(tp, r) != oid]
        await self._store(tpid, tp.table, [*rows, *tp.rows(obj)])
        return OK

    @staticmethod
    def _row_id(tp: TPType, row: dict) -> str:
        return ":".join(str(row.get(col) or "") for _, col, _ in tp.key)

    async def get_tp_object(self, tp: TPType, args: Any) -> dict:
        args = _args(args)
        oid = self._key_of(tp, args)
        tpid = str(args["TPid"])
        obj = tp.objects(tpid, await self._rows(tpid, tp.table)).get(oid)
        if obj is None:
            raise RPCError(NOT_FOUND)
        return obj

    async def remove_tp_object(self, tp: TPType, args: Any) -> str:
        args = _args(args)
        oid = self._key_of(tp, args)
        tpid = str(args["TPid"])
        rows = await self._rows(tpid, tp.table)
        kept = [r for r in rows if self._row_id(tp, r) != oid]
        if len(kept) == len(rows):
            raise RPCError(NOT_FOUND)
        await self._store(tpid, tp.table, kept)
        return OK

    async def get_tp_ids(self, tp: TPType, args: Any) -> list[str]:
        """``{"TPid", "Limit", "Offset", "Search"}`` → the objects' IDs, sorted (key fields joined with ':')."""
        args = _args(args)
        if not args.get("TPid"):
            raise mandatory_ie_missing("TPid")
        search = str(args.get("Search") or "")
        ids = sorted(oid for oid in tp.objects(args["TPid"], await self._rows(args["TPid"], tp.table))
                     if search in oid)
        offset = int(args.get("Offset") or 0)
        limit = args.get("Limit")
        ids = ids[offset:offset + int(limit)] if limit else ids[offset:]
        if not ids:
            raise RPCError(NOT_FOUND)
        return ids

    # ------------------------------------------------------------------------------------------ folders

    @rpc("APIerSv1.ImportTariffPlanFromFolder")
    async def import_tariff_plan_from_folder(self, args: Any) -> str:
        """``{"TPid", "FolderPath"}``: the folder's CSV files become the TPid's rows in the StorDB."""
        args = _args(args)
        missing = [f for f in ("TPid", "FolderPath") if not args.get(f)]
        if missing:
            raise mandatory_ie_missing(*missing)
        folder = Path(args["FolderPath"])
        if not folder.is_dir():
            raise RPCError("INVALID_PATH")
        try:
            for path in sorted(folder.glob("*.csv")):
                spec = SPECS.get(path.stem)
                if spec is None:
                    continue
                rows = [r.cells(spec.columns) for r in read_rows(path, spec)]
                await self._store(str(args["TPid"]), spec.table, rows)
        except LoaderError as exc:
            raise server_error(exc) from None
        return OK

    @rpc("APIerSv1.ExportTPToFolder")
    async def export_tp_to_folder(self, args: Any) -> dict:
        """``{"TPid", "ExportPath"}`` → CGRateS's ExportedTPStats: a CSV file per table the TPid has rows of."""
        args = _args(args)
        if not args.get("TPid"):
            raise mandatory_ie_missing("TPid")
        path = str(args.get("ExportPath") or config_option(self.ctx, "general", "tpexport_dir", "") or "")
        if not path:
            raise mandatory_ie_missing("ExportPath")
        os.makedirs(path, exist_ok=True)
        files = await self._write_folder(str(args["TPid"]), Path(path))
        if not files:
            raise RPCError(NOT_FOUND)
        return {"ExportPath": path, "ExportedFiles": files, "Compressed": False}

    async def _write_folder(self, tpid: str, folder: Path) -> list[str]:
        """The TPid's rows as CSV files in ``folder``, one per table (their names)."""
        tables = {table: rows for table in SPECS if (rows := await self._rows(tpid, table))}
        return await asyncio.to_thread(_write_csv_files, folder, tables)

    async def _load_rows(self, tables: dict[str, list[dict]], dry_run: bool = False) -> str:
        """Load some tariff-plan rows into the DataDB, as LoadTariffPlanFromFolder loads a folder of them."""
        with tempfile.TemporaryDirectory(prefix="tp-") as folder:
            await asyncio.to_thread(_write_csv_files, Path(folder), {t: r for t, r in tables.items() if r})
            return await self.ctx.registry.dispatch("APIerSv1.LoadTariffPlanFromFolder",
                                                    {"FolderPath": folder, "DryRun": dry_run})

    async def _select(self, tpid: str, table: str, column: str, wanted: set[str]) -> list[dict]:
        return [r for r in await self._rows(tpid, table) if as_string(r.get(column)) in wanted]

    async def _rating_plans_closure(self, tpid: str, plan_rows: list[dict]) -> dict[str, list[dict]]:
        """Rating plan rows with the destination rates, rates, destinations and timings they use."""
        dr_rows = await self._select(tpid, "DestinationRates", "ID",
                                     {as_string(r.get("DestinationRatesID")) for r in plan_rows})
        return {
            "RatingPlans": plan_rows, "DestinationRates": dr_rows,
            "Rates": await self._select(tpid, "Rates", "ID", {as_string(r.get("RatesID")) for r in dr_rows}),
            "Destinations": await self._select(tpid, "Destinations", "ID",
                                               {as_string(r.get("DestinationsID")) for r in dr_rows}),
            "Timings": await self._select(tpid, "Timings", "ID", {as_string(r.get("TimingID")) for r in plan_rows}),
        }

    @rpc("APIerSv1.LoadRatingPlan")
    async def load_rating_plan(self, args: Any) -> str:
        """``{"TPid", "RatingPlanId"}``: one rating plan of the StorDB (every one when RatingPlanId is empty), with
        what it uses, into the DataDB."""
        args = _args(args)
        if not args.get("TPid"):
            raise mandatory_ie_missing("TPid")
        plan_id = as_string(args.get("RatingPlanId"))
        rows = [r for r in await self._rows(args["TPid"], "RatingPlans")
                if not plan_id or as_string(r.get("ID")) == plan_id]
        if not rows:
            raise RPCError(NOT_FOUND)
        return await self._load_rows(await self._rating_plans_closure(args["TPid"], rows))

    @rpc("APIerSv1.LoadRatingProfile")
    async def load_rating_profile(self, args: Any) -> str:
        """``{"TPid", "LoadId", "Tenant", "Category", "Subject"}`` (empty: any): those rating profiles of the StorDB,
        with the rating plans they activate, into the DataDB."""
        args = _args(args)
        if not args.get("TPid"):
            raise mandatory_ie_missing("TPid")
        wanted = {k: as_string(args.get(k)) for k in ("Tenant", "Category", "Subject") if args.get(k)}
        rows = [r for r in await self._rows(args["TPid"], "RatingProfiles")
                if all(as_string(r.get(k)) == v for k, v in wanted.items())]
        if not rows:
            raise RPCError(NOT_FOUND)
        plans = await self._select(args["TPid"], "RatingPlans", "ID", {as_string(r.get("RatingPlanID")) for r in rows})
        return await self._load_rows({**await self._rating_plans_closure(args["TPid"], plans),
                                      "RatingProfiles": rows})

    @rpc("APIerSv1.LoadAccountActions")
    async def load_account_actions(self, args: Any) -> str:
        """``{"TPid", "LoadId", "Tenant", "Account"}`` (empty: any): those accounts of the StorDB, with their action
        plan, action triggers, the actions they run and the plan's timings, into the DataDB."""
        args = _args(args)
        if not args.get("TPid"):
            raise mandatory_ie_missing("TPid")
        tpid = args["TPid"]
        wanted = {k: as_string(args.get(k)) for k in ("Tenant", "Account") if args.get(k)}
        rows = [r for r in await self._rows(tpid, "AccountActions")
                if all(as_string(r.get(k)) == v for k, v in wanted.items())]
        if not rows:
            raise RPCError(NOT_FOUND)
        plans = await self._select(tpid, "ActionPlans", "Id", {as_string(r.get("ActionPlanId")) for r in rows})
        triggers = await self._select(tpid, "ActionTriggers", "Tag",
                                      {as_string(r.get("ActionTriggersId")) for r in rows})
        actions = await self._select(tpid, "Actions", "ActionsId",
                                     {as_string(r.get("ActionsId")) for r in (*plans, *triggers)})
        groups = {g for r in actions for g in as_string(r.get("SharedGroup")).split(";") if g}
        return await self._load_rows({
            "Timings": await self._select(tpid, "Timings", "ID", {as_string(r.get("TimingId")) for r in plans}),
            "SharedGroups": await self._select(tpid, "SharedGroups", "Id", groups), "Actions": actions,
            "ActionPlans": plans, "ActionTriggers": triggers, "AccountActions": rows})

    @rpc("APIerSv1.LoadTariffPlanFromStorDb")
    async def load_tariff_plan_from_stordb(self, args: Any) -> str:
        """``{"TPid", "DryRun"}``: load the TPid's rows into the DataDB, as LoadTariffPlanFromFolder does."""
        args = _args(args)
        if not args.get("TPid"):
            raise mandatory_ie_missing("TPid")
        tables = {table: rows for table in SPECS if (rows := await self._rows(str(args["TPid"]), table))}
        if not tables:
            raise RPCError(NOT_FOUND)
        return await self._load_rows(tables, bool(args.get("DryRun")))


def _write_csv_files(folder: Path, tables: dict[str, list[dict]]) -> list[str]:
    written = []
    for table, rows in tables.items():
        spec = SPECS[table]
        with open(folder / spec.file, "w", newline="", encoding="utf-8") as fh:
            fh.write("#" + ",".join(spec.names) + "\n")
            out = csv.writer(fh)
            for row in rows:
                out.writerow([as_string(row.get(name)) for name in spec.names])
        written.append(spec.file)
    return written



def _bind(tp: TPType, action: Callable, names: list[str]) -> Callable:
    async def handler(self: TariffPlanService, args: Any) -> Any:
        return await action(self, tp, args)

    functools.update_wrapper(handler, action)
    handler.__name__ = f"{action.__name__}_{tp.name}"
    return rpc(*names)(handler)


def _methods() -> None:
    """One handler per type and operation, under CGRateS's names, found by the registry like any ``@rpc``."""
    for tp in TP_TYPES:
        services = ("APIerSv1", *tp.aliases)
        for verb, action in (("Set", TariffPlanService.set_tp_object), ("Get", TariffPlanService.get_tp_object),
                             ("Remove", TariffPlanService.remove_tp_object)):
            handler = _bind(tp, action, [f"{s}.{verb}{tp.name}" for s in services])
            setattr(TariffPlanService, handler.__name__, handler)
        if tp.ids_method:
            handler = _bind(tp, TariffPlanService.get_tp_ids, [f"{s}.{tp.ids_method}" for s in services])
            setattr(TariffPlanService, handler.__name__, handler)


_methods()
