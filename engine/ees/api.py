"""The APIerSv1 methods of exports: ``APIerSv1.ExportCDRs`` (stored CDRs to exporters) and
``APIerSv1.ReplayFailedPosts`` (the failed posts sent again, see :mod:`.failedposts`).

CGRateS serves them in its APIer, which reaches EEs through ``apiers.ees_conns``. Here the engine running EEs serves
them (the EEs service inherits :class:`ExportAPI`): ExportCDRs reads this engine's StorDB and sends the CDRs through
``apiers.ees_conns`` when that is set, else to this engine's own exporters; ReplayFailedPosts builds its exporters
in this engine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pycgrates.engine.cdrs.service import filter_from_args
from pycgrates.engine.ees.exporter import Exporter
from pycgrates.engine.ees.failedposts import FailedPosts, FailedTarget, read_failed, write_failed
from pycgrates.engine.ees.settings import compile_exporter
from pycgrates.engine.models import cdr as C
from pycgrates.engine.rpc.errors import NOT_FOUND, PARTIALLY_EXECUTED, RPCError, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.tasks import Supervisor

log = logging.getLogger("cgr.ees")


class _ReplayHost:
    """What an exporter built for a replay needs from a service: tasks, failed posts (unused: *none), settings."""

    def __init__(self, ctx: Any, tenant: str, timezone: str) -> None:
        self.ctx = ctx
        self.tasks = Supervisor("ReplayFailedPosts")
        self.failed = FailedPosts(0)
        self.filter_service = None
        self.settings = type("S", (), {"tenant": tenant, "timezone": timezone})()


def replay_exporter(target: FailedTarget, host: Any) -> Exporter:
    from pycgrates.engine.ees.service import build_exporter

    raw = {"id": target.exporter_id, "type": target.type, "export_path": target.export_path, "opts": target.opts,
           "attempts": target.attempts, "synchronous": True, "failed_posts_dir": "*none"}
    settings = compile_exporter(raw, templates={}, sep=";", cache={}, default_failed_dir="*none", index=0)
    assert settings is not None
    return build_exporter(settings, host)


async def replay_file(path: Path, failover: Path | None, host: Any) -> tuple[int, int]:
    """Send one failed-posts file again; (payloads sent, payloads that failed again)."""
    target, payloads = await asyncio.to_thread(read_failed, path)
    exporter = replay_exporter(target, host)
    again: list[Any] = []
    try:
        for start in range(0, len(payloads), exporter.settings.batch):
            batch = payloads[start:start + exporter.settings.batch]
            if not await exporter.deliver(batch):
                again.extend(batch)
    finally:
        await exporter.close()
    if again and failover is not None:
        await asyncio.to_thread(write_failed, failover, target, again)
    return len(payloads) - len(again), len(again)


class ExportAPI:
    """APIerSv1.ExportCDRs and APIerSv1.ReplayFailedPosts, for a service that has ``ctx`` and ``process_event``."""

    ctx: Any

    async def process_event(self, args: Any) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def _cfg(self, section: str, option: str, default: Any = None) -> Any:
        return self.ctx.cfg.get(section, option, default=default)

    @rpc("APIerSv1.ExportCDRs")
    async def export_cdrs(self, args: Any) -> dict[str, Any]:
        """Stored CDRs matching the filter (CGRateS's RPCCDRsFilter) to ``ExporterIDs`` (all when empty)."""
        args = dict(args or {}) if isinstance(args, Mapping) else {}
        conn = self.ctx.conns.get(self._cfg("apiers", "ees_conns") or [])
        cdrs = await self.ctx.stordb.get_cdrs(filter_from_args(args))
        if not cdrs:
            raise RPCError(NOT_FOUND)
        reply: dict[str, Any] = {}
        errors = 0
        for cdr in cdrs:
            event = {"EeIDs": list(args.get("ExporterIDs") or []), "Tenant": cdr[C.TENANT], "ID": cdr[C.CGRID],
                     "Event": C.cdr_to_event(cdr), "APIOpts": {"*eesVerbose": {}} if args.get("Verbose") else {}}
            try:
                reply = await (conn.call("EeSv1.ProcessEvent", event) if conn is not None else
                               self.process_event(event))
            except RPCError as exc:
                errors += 1
                log.warning("<APIerSv1> exporting CDR %s/%s: %s", cdr[C.CGRID], cdr[C.RUN_ID], exc)
        if errors:
            raise RPCError(PARTIALLY_EXECUTED)
        return dict(reply)

    @rpc("APIerSv1.ReplayFailedPosts")
    async def replay_failed_posts(self, args: Any) -> str:
        """Send the failed posts of ``SourcePath`` (``ees.failed_posts.dir``) again; what fails again goes to
        ``FailedPath`` (the source path; ``*none`` drops it); ``Modules`` limits the files by name prefix."""
        args = dict(args or {}) if isinstance(args, Mapping) else {}
        source = str(args.get("SourcePath") or self.ctx.cfg.get("ees", "failed_posts", "dir", default="") or "")
        failed = str(args.get("FailedPath") or source)
        modules = [str(m) for m in args.get("Modules") or []]
        if not source:
            raise RPCError("MANDATORY_IE_MISSING: [SourcePath]")
        host = _ReplayHost(self.ctx, self._cfg("general", "default_tenant", "cgrates.org"),
                           self._cfg("general", "default_timezone", ""))
        sent = again = 0
        try:
            for path in sorted(p for p in Path(source).iterdir() if p.is_file()):
                if modules and not any(path.name.startswith(m) for m in modules):
                    continue
                failover = None if failed == "*none" else Path(failed) / path.name
                try:
                    ok, bad = await replay_file(path, failover, host)
                except (OSError, ValueError, KeyError) as exc:
                    raise server_error(f"failed to replay {path}: {exc}") from None
                sent, again = sent + ok, again + bad
        except FileNotFoundError:
            raise server_error(f"no such directory: {source}") from None
        finally:
            await host.tasks.stop()
        log.info("<APIerSv1> ReplayFailedPosts from %s: %d sent, %d failed again", source, sent, again)
        return "OK"


__all__ = ["ExportAPI", "replay_file"]
