"""Exporters without a remote target of their own: ``*log`` (one log line per event), ``*virt`` (the fields run,
nothing sent: metrics and ``*vars`` only) and ``*rpc`` (the event to ``opts.serviceMethod`` over the
``opts.rpcConnIDs`` connections, the event's fields as the argument)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pycgrates.engine.ees.exporter import Exporter, flat
from pycgrates.engine.template.fields import NavMap

log = logging.getLogger("cgr.ees")


class LogExporter(Exporter):
    def payload(self, event: dict[str, Any], exp: NavMap | None) -> Any:
        return flat(exp) if exp is not None else dict(event.get("Event") or {})

    async def send(self, payloads: Sequence[Any]) -> None:
        for p in payloads:
            log.info("<EEs> <%s> exported event: %s", self.settings.id, p)


class VirtualExporter(Exporter):
    def payload(self, event: dict[str, Any], exp: NavMap | None) -> Any:
        return None

    async def send(self, payloads: Sequence[Any]) -> None:
        return None


class RPCExporter(Exporter):
    def payload(self, event: dict[str, Any], exp: NavMap | None) -> Any:
        if exp is None:
            return {k: event.get(k) for k in ("Tenant", "ID", "Event", "APIOpts")}
        return {"Tenant": event.get("Tenant"), "ID": event.get("ID"), "Event": flat(exp),
                "APIOpts": event.get("APIOpts") or {}}

    async def send(self, payloads: Sequence[Any]) -> None:
        s = self.settings
        conn_ids = s.opt("rpcConnIDs") or ([s.export_path] if s.export_path else [])
        conn = self.service.ctx.conns.get(list(conn_ids))
        method = s.opt("serviceMethod")
        if conn is None or not method:
            raise ValueError(f"exporter <{s.id}>: *rpc needs opts.rpcConnIDs and opts.serviceMethod")
        for p in payloads:
            await conn.call(method, p)


__all__ = ["LogExporter", "RPCExporter", "VirtualExporter"]
