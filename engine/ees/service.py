"""EEs (CGRateS's EventExporterS, ``EeSv1``): events out to files, HTTP, message brokers, SQL, logs and RPC.

``EeSv1.ProcessEvent`` takes a CGREvent with ``EeIDs`` (CGRateS's CGREventWithEeIDs; none: every exporter). For
each configured exporter in order — named by ``EeIDs`` when given, ``*none`` ones skipped — whose ``filters`` pass
on ``*req``/``*opts``: the event goes through AttributeS first when the exporter's flags say ``*attributes``
(``attribute_ids``, ``attribute_context`` or ``*opts.*context``, else ``*ees``), then its fields make the payload
and the exporter sends it (:mod:`.exporter`: batches, attempts, failed posts). The reply maps each exporter that took
the event to its metrics when ``APIOpts.*eesVerbose`` is set and the exporter is synchronous, else to an empty map;
``PARTIALLY_EXECUTED`` when a synchronous export failed (it is in the failed posts), ``NOT_FOUND`` when no exporter
took the event.

Exporters live as long as the service (a file exporter closes its file after the type's cache ttl without exports)
and are rebuilt on reload. ``EeSv1.ResetExporterMetrics`` resets one's metrics. The service also answers
``APIerSv1.ExportCDRs`` and ``APIerSv1.ReplayFailedPosts`` (:mod:`.api`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pycgrates.engine.ees.api import ExportAPI
from pycgrates.engine.ees.brokers import AMQPExporter, NATSExporter
from pycgrates.engine.ees.exporter import Exporter, ExportRequest
from pycgrates.engine.ees.failedposts import FailedPosts
from pycgrates.engine.ees.files import FileExporter
from pycgrates.engine.ees.http import HTTPExporter
from pycgrates.engine.ees.local import LogExporter, RPCExporter, VirtualExporter
from pycgrates.engine.ees.settings import (
    AMQP,
    FILE_CSV,
    FILE_FWV,
    HTTP_JSON,
    HTTP_POST,
    LOG,
    NATS,
    RPC,
    SQL,
    VIRT,
    EEsSettings,
    ExporterSettings,
    compile_settings,
)
from pycgrates.engine.ees.sql import SQLExporter
from pycgrates.engine.filters.rules import FilterError
from pycgrates.engine.rpc.errors import NOT_FOUND, PARTIALLY_EXECUTED, RPCError, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.template.dataprovider import MapDataProvider
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.fields import FieldError, TemplateContext, set_fields

log = logging.getLogger("cgr.ees")

KINDS: dict[str, type[Exporter]] = {
    FILE_CSV: FileExporter, FILE_FWV: FileExporter, HTTP_POST: HTTPExporter, HTTP_JSON: HTTPExporter,
    AMQP: AMQPExporter, NATS: NATSExporter, SQL: SQLExporter, LOG: LogExporter, VIRT: VirtualExporter,
    RPC: RPCExporter,
}
VERBOSE = "*eesVerbose"

#: cgr-console commands (export_cdrs is CGRateS's; replay_failed_posts is pycgrates')
CONSOLE_COMMANDS = {
    "export_cdrs": ("APIerSv1.ExportCDRs", 'stored CDRs to exporters: ExporterIDs=["csv"] Accounts=["1001"] '
                                           "Verbose=true"),
    "replay_failed_posts": ("APIerSv1.ReplayFailedPosts", 'send failed exports again: SourcePath="/dir" '
                                                          'FailedPath="" Modules=[]'),
}


def build_exporter(settings: ExporterSettings, service: Any) -> Exporter:
    return KINDS[settings.type](settings, service)


class EventExporterService(ExportAPI):
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.settings: EEsSettings = compile_settings(ctx.cfg)
        self.tasks = Supervisor("EEs")
        self.failed = FailedPosts(self.settings.failed_posts_ttl)
        self.attributes = ctx.conns.get(self.settings.attributes_conns)
        self.exporters: dict[str, Exporter] = {e.id: build_exporter(e, self) for e in self.settings.exporters}

    @property
    def filter_service(self) -> Any:
        return self.ctx.services.get("filters")

    async def start(self) -> None:
        if self.tasks.stopped:
            self.tasks = Supervisor("EEs")
        log.info("<EEs> %d exporter(s): %s", len(self.exporters), ", ".join(self.exporters) or "none")

    async def stop(self) -> None:
        for exp in self.exporters.values():
            try:
                await exp.close()
            except Exception:
                log.exception("<EEs> closing exporter <%s>", exp.settings.id)
        self.failed.close()
        await self.tasks.stop()

    async def reload(self, cfg: Any) -> None:
        await self.stop()
        self.settings = compile_settings(cfg)
        self.failed = FailedPosts(self.settings.failed_posts_ttl)
        self.attributes = self.ctx.conns.get(self.settings.attributes_conns)
        self.exporters = {e.id: build_exporter(e, self) for e in self.settings.exporters}
        await self.start()

    # ------------------------------------------------------------------------------------------ RPC

    @rpc("EeSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    @rpc("EeSv1.ResetExporterMetrics")
    async def reset_metrics(self, args: Any) -> str:
        exp = self.exporters.get(str((args or {}).get("ExporterID") or "")) if isinstance(args, Mapping) else None
        if exp is None:
            raise RPCError(NOT_FOUND)
        exp.metrics.reset()
        return "OK"

    @rpc("EeSv1.ProcessEvent")
    async def process_event(self, args: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(args, Mapping):
            raise RPCError("MANDATORY_IE_MISSING: [Event]")
        event = {"Tenant": args.get("Tenant") or self.settings.tenant, "ID": args.get("ID") or "",
                 "Time": args.get("Time"), "Event": dict(args.get("Event") or {}),
                 "APIOpts": dict(args.get("APIOpts") or {})}
        wanted = set(args.get("EeIDs") or ())
        verbose = VERBOSE in event["APIOpts"]
        reply: dict[str, dict[str, Any]] = {}
        failed = False
        for exp_id, exp in self.exporters.items():
            s = exp.settings
            if wanted and exp_id not in wanted:
                continue
            if s.filters is not None:
                try:
                    view = TemplateContext({"*req": MapDataProvider(event["Event"]), "*opts": event["APIOpts"]})
                    if not await s.filters.passes(event["Tenant"], view, self.filter_service):
                        continue
                except (FilterError, RSRError, ValueError) as exc:
                    raise server_error(exc) from None
            ev = {**event, "APIOpts": {**event["APIOpts"], "*exporterID": exp_id}}
            if s.flags.get_bool("*attributes"):
                ev = await self._attributes(ev, s)
            try:
                payload = await self._payload(exp, ev)
            except (FieldError, FilterError, RSRError, RPCError, ValueError) as exc:
                log.warning("<EEs> Exporter <%s>: failed to populate the export fields: %s", exp_id, exc)
                failed = True
                continue
            ok = await exp.export(payload, ev)
            if not ok and s.synchronous:
                failed = True
            reply[exp_id] = exp.metrics.as_reply() if verbose and s.synchronous else {}
        if failed:
            raise RPCError(PARTIALLY_EXECUTED)
        if not reply:
            raise RPCError(NOT_FOUND)
        return reply

    async def _payload(self, exp: Exporter, event: dict[str, Any]) -> Any:
        s = exp.settings
        if not s.fields:
            return exp.payload(event, None)
        req = ExportRequest(event, s.id, tenant=self.settings.tenant, timezone=s.timezone or self.settings.timezone,
                            metrics=exp.metrics.as_reply(), filter_service=self.filter_service)
        await set_fields(req, s.fields)
        return exp.payload(event, req.out())

    async def _attributes(self, event: dict[str, Any], s: ExporterSettings) -> dict[str, Any]:
        if self.attributes is None:
            return event
        opts = {**event["APIOpts"], "*subsys": "*ees",
                "*context": s.attribute_context or event["APIOpts"].get("*context") or "*ees"}
        if s.attribute_ids:
            opts["*attributeIDs"] = list(s.attribute_ids)
        try:
            reply = await self.attributes.call("AttributeSv1.ProcessEvent", {**event, "APIOpts": opts})
        except RPCError as exc:
            if exc.message == NOT_FOUND:
                return event
            raise
        altered = reply.get("CGREvent") if isinstance(reply, Mapping) else None
        return {**event, "Event": dict((altered or {}).get("Event") or event["Event"])}


__all__ = ["CONSOLE_COMMANDS", "KINDS", "EventExporterService", "build_exporter"]
