"""The loader's faces: APIerSv1.LoadTariffPlanFromFolder, and cgr-loader's progress bar.

A load through the API also keeps the engine's live state right: a resource, stat queue or threshold whose profile
the load changed follows it as it would have followed ``APIerSv1.Set<Type>Profile`` (:class:`LiveStateFollowers`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pycgrates.engine.loader.rows import LoaderError
from pycgrates.engine.loader.tariffplan import load_tariff_plan
from pycgrates.engine.profiles.crud import USER_ERRORS
from pycgrates.engine.profiles.stateful import StatefulService
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import BatchOp

log = logging.getLogger("cgr.loader")


class LiveStateFollowers:
    """The live items of the stateful services (resources, stat queues, thresholds) follow the profiles a load
    writes, as they follow those written through the API: the profiles a load replaces are read before its write,
    then each service is told of every profile written (``StatefulService.profile_written``)."""

    def __init__(self, services: Iterable[Any]) -> None:
        self.by_kind: dict[str, StatefulService] = {svc.crud.kind: svc for svc in services
                                                    if isinstance(svc, StatefulService)}
        self.written: list[tuple[StatefulService, Any, dict]] = []

    async def read_replaced(self, ops: list[BatchOp]) -> None:
        for op, kind, key, raw in ops:
            svc = self.by_kind.get(kind)
            if svc is None or op != "set" or not isinstance(raw, dict):
                continue
            tenant, _, profile_id = key.partition(":")
            self.written.append((svc, await svc.profile_or_none(tenant, profile_id), raw))

    async def follow(self) -> None:
        for svc, old, raw in self.written:
            try:
                new = svc.decode(raw)
            except USER_ERRORS as exc:
                log.warning("loaded %s %s:%s does not compile: %s", svc.crud.name, raw.get("Tenant"), raw.get("ID"),
                            exc)
                continue
            await svc.profile_written(old, new)


class LoaderService:
    """APIerSv1.LoadTariffPlanFromFolder."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    @rpc("APIerSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    async def _caches(self, method: str, args: Any) -> Any:
        """A CacheSv1 method through apiers.caches_conns (the engine's own CacheS by default)."""
        names = self.ctx.cfg.get("apiers", "caches_conns", default=["*internal"]) if self.ctx.cfg else ["*internal"]
        return await self.ctx.conns.get(names or ["*internal"]).call(method, args)

    @rpc("APIerSv1.GetCacheStats", "APIerSv2.GetCacheStats")
    async def get_cache_stats(self, args: Any) -> Any:
        """CacheSv1.GetCacheStats through apiers.caches_conns."""
        return await self._caches("CacheSv1.GetCacheStats", args)

    @rpc("APIerSv1.ReloadCache")
    async def reload_cache(self, args: Any) -> Any:
        """CacheSv1.ReloadCache through apiers.caches_conns."""
        return await self._caches("CacheSv1.ReloadCache", args)

    @rpc("APIerSv2.LoadTariffPlanFromFolder")
    async def load_tariff_plan_from_folder_v2(self, args: dict) -> dict:
        """APIerSv1.LoadTariffPlanFromFolder answering CGRateS's LoadInstance: ``*dryrun`` IDs for a dry run, else
        the latest of the load history, which CGRateS no longer writes (so its zero value, as CGRateS answers)."""
        await self.load_tariff_plan_from_folder(args)
        dry = "*dryrun" if (args or {}).get("DryRun") else ""
        return {"LoadID": "", "RatingLoadID": dry, "AccountingLoadID": dry, "LoadTime": "0001-01-01T00:00:00Z"}

    @rpc("APIerSv1.LoadTariffPlanFromFolder")
    async def load_tariff_plan_from_folder(self, args: dict) -> str:
        args = args or {}
        folder = args.get("FolderPath") or ""
        if not folder:
            raise mandatory_ie_missing("FolderPath")
        if not os.path.isdir(folder):
            raise RPCError("INVALID_PATH")
        tz = self.ctx.cfg.get("general", "default_timezone", default="UTC") if self.ctx.cfg is not None else "UTC"
        followers = LiveStateFollowers((getattr(self.ctx, "services", None) or {}).values())
        try:
            result = await load_tariff_plan(self.ctx.dm, folder, dry_run=bool(args.get("DryRun")), timezone=tz,
                                            before_write=followers.read_replaced)
        except LoaderError as exc:
            raise server_error(exc) from None
        for w in result.warnings:
            log.warning("load %s: %s", folder, w)
        if not args.get("DryRun"):
            await self._after_load()
            await followers.follow()
        return "OK"

    async def _after_load(self) -> None:
        """A load writes profiles and plans in bulk: filter indexes are recomputed on next use, and the
        scheduler re-reads the action plans."""
        from pycgrates.engine.filters.indexes import reset_filter_indexes

        await reset_filter_indexes(self.ctx.dm)
        scheduler = getattr(self.ctx, "services", {}).get("schedulers")
        if scheduler is not None:
            await scheduler.reload()


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
