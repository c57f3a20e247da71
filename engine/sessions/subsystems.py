"""SessionS's calls to the subsystems an event may ask for: AttributeS, ChargerS, ResourceS, RouteS, ThresholdS and
StatS, and the digests of their answers (the ``*WithDigest`` methods).

A mixin of :class:`engine.sessions.service.SessionService` (which provides the Conns and the tenant default).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pycgrates.engine.models import cdr as C
from pycgrates.engine.rpc.errors import NotFound, server_error
from pycgrates.engine.sessions.api import SessionArgs


class Subsystems:
    async def _attributes(self, args: SessionArgs, reply: dict) -> SessionArgs:
        """Run the event through AttributeS; the rest of the flow follows the altered event (and tenant)."""
        conn = self._required_conn("attributes_conns", "AttributeS")
        opts = {**args.APIOpts, "*context": args.APIOpts.get("*context", "*sessions")}
        attribute_ids = getattr(args, "AttributeIDs", None)
        if attribute_ids:
            opts["*attrProfileIDs"] = attribute_ids
        req = {**args.cgr_event().to_json(), "Tenant": self._tenant(args), "APIOpts": opts}
        try:
            rep = await conn.call("AttributeSv1.ProcessEvent", req)
        except NotFound:
            reply["Attributes"] = None
            return args
        reply["Attributes"] = rep
        ev = rep.get("CGREvent") or rep
        # AttributeS may move the event to another tenant (*tenant): the rest of the flow follows it
        return dataclasses.replace(args, Tenant=ev.get("Tenant") or args.Tenant, Event=ev.get("Event", args.Event),
                                   APIOpts=ev.get("APIOpts", args.APIOpts))

    async def _runs(self, args: SessionArgs) -> list[dict]:
        """Charger runs of an event: [{"RunID", "Event"}]; without ChargerS, one *default run."""
        event = args.Event
        conn = self._conn("chargers_conns")
        if conn is None:
            return [{"Event": {**event, C.RUN_ID: event.get(C.RUN_ID) or C.META_DEFAULT}}]
        req = {"Tenant": self._tenant(args), "ID": args.ID, "Event": event, "APIOpts": args.APIOpts}
        try:
            reply = await conn.call("ChargerSv1.ProcessEvent", req)
        except NotFound:
            raise server_error("CHARGERS_ERROR:NOT_FOUND") from None
        return [r["CGREvent"] for r in reply]

    async def _resources(self, method: str, args: SessionArgs) -> Any:
        conn = self._required_conn("resources_conns", "ResourceS")
        return await conn.call(method, {**args.to_json(), "UsageID": C.as_string(args.Event.get(C.ORIGIN_ID))})

    async def _routes(self, args: SessionArgs) -> Any:
        conn = self._required_conn("routes_conns", "RouteS")
        return await conn.call("RouteSv1.GetRoutes", args.to_json())

    async def _thresholds_stats(self, args: SessionArgs, reply: dict, *, thresholds: bool, stats: bool) -> None:
        for wanted, option, method, key in ((thresholds, "thresholds_conns", "ThresholdSv1.ProcessEvent",
                                             "ThresholdIDs"),
                                            (stats, "stats_conns", "StatSv1.ProcessEvent", "StatQueueIDs")):
            if not wanted:
                continue
            conn = self._required_conn(option, method.split("Sv1")[0] + "S")
            try:
                reply[key] = await conn.call(method, args.cgr_event().to_json())
            except NotFound:
                pass


def attributes_digest(attr_reply: Any) -> str:
    if not isinstance(attr_reply, dict):
        return ""
    ev = (attr_reply.get("CGREvent") or {}).get("Event") or {}
    parts = []
    for altered in attr_reply.get("AlteredFields") or []:
        for f in altered.get("Fields") or []:
            name = f.split(".", 1)[1] if f.startswith("*req.") else f
            if name in ev:
                parts.append(f"{name}:{C.as_string(ev[name])}")
    return ",".join(parts)


def routes_digest(routes: Any) -> str:
    if not isinstance(routes, list):
        return ""
    ids = [r.get("RouteID", "") for prof in routes for r in (prof.get("Routes") or [])]
    return ",".join(ids)
