"""SessionS's calls to the subsystems an event may ask for: AttributeS, ChargerS, ResourceS, RouteS, ThresholdS and
StatS, and the digests of their answers (the ``*WithDigest`` methods).

What crosses each Conn is CGRateS's (sessions.go): the CGREvent alone — its tenant defaulted, never SessionS's own
flags — with the options that carry what the call asks:

- **ResourceS**: ``*rsUsageID`` the event's OriginID and ``*rsUnits`` 1, over what the client sent. Authorizing
  without an OriginID uses a new ID; allocating or releasing without one is ``MANDATORY_IE_MISSING: [OriginID]``.
  ResourceS's errors come back as ``RESOURCES_ERROR:<error>``. A session ended by SessionS itself (TTL, forced
  disconnect, stale after a sync, shutdown) gives its resources back with its start event
  (:meth:`Subsystems._release_session_resources`; errors are logged);
- **RouteS**: ``RoutesMaxCost`` as ``*rouMaxCost``, ``RoutesIgnoreErrors`` as ``*rouIgnoreErrors``, the paginator's
  Limit and Offset as ``*rouLimit``/``*rouOffset`` (CGRateS takes them off the agent's options into the paginator,
  and RouteS reads them back from the options), Usage replaced by the event's ACD when it has one; errors come back
  as ``ROUTES_ERROR:<error>``;
- **ThresholdS/StatS**: the call's ThresholdIDs/StatIDs as ``*thdProfileIDs``/``*stsProfileIDs``; NOT_FOUND is no
  error; another error is logged and the call answers ``PARTIALLY_EXECUTED`` once everything else is done.

Every event has an ID by then: SessionS gives one to an event that comes without (:func:`with_event_id`).

A mixin of :class:`engine.sessions.service.SessionService` (which provides the Conns and the tenant default).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pycgrates.engine.models import cdr as C
from pycgrates.engine.models.event import CGREvent
from pycgrates.engine.rpc.errors import NotFound, RPCError, mandatory_ie_missing, server_error
from pycgrates.engine.sessions.api import SessionArgs
from pycgrates.engine.sessions.session import Session

log = logging.getLogger("cgr.sessions")

E = TypeVar("E", bound=CGREvent)

ACD = "ACD"
#: ResourceS's options (the usage an event allocates, and its units)
RS_USAGE_ID = "*rsUsageID"
RS_UNITS = "*rsUnits"
#: RouteS's options
ROU_MAX_COST = "*rouMaxCost"
ROU_IGNORE_ERRORS = "*rouIgnoreErrors"
ROU_PAGINATOR = (("Limit", "*rouLimit"), ("Offset", "*rouOffset"))

AUTHORIZE_RESOURCES = "ResourceSv1.AuthorizeResources"
ALLOCATE_RESOURCES = "ResourceSv1.AllocateResources"
RELEASE_RESOURCES = "ResourceSv1.ReleaseResources"


@dataclass(frozen=True, slots=True)
class EventCounter:
    """ThresholdS or StatS as SessionS reaches them: the Conn option, the method, the option naming the profiles,
    the reply key and the error prefix of ProcessEvent's ``*blocker_error``."""

    conns: str
    service: str
    method: str
    profile_ids_opt: str
    reply_key: str
    error: str


THRESHOLDS = EventCounter("thresholds_conns", "ThresholdS", "ThresholdSv1.ProcessEvent", "*thdProfileIDs",
                          "ThresholdIDs", "THRESHOLDS_ERROR")
STATS = EventCounter("stats_conns", "StatS", "StatSv1.ProcessEvent", "*stsProfileIDs", "StatQueueIDs",
                     "STATS_ERROR")


def new_event_id() -> str:
    return str(uuid.uuid4())


def with_event_id(args: E) -> E:
    """The arguments with an event ID: a new one when the caller sent none (CGRateS gives each event one)."""
    return args if args.ID else dataclasses.replace(args, ID=new_event_id())


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

    def _subsystem_event(self, ev: CGREvent, **opts: Any) -> dict:
        """The CGREvent a subsystem receives: the event alone, its tenant defaulted, ``opts`` over its options."""
        out = CGREvent.to_json(ev)
        out["Tenant"] = ev.Tenant or self._tenant(ev)
        out["Event"] = dict(ev.Event)
        out["APIOpts"] = {**ev.APIOpts, **opts}
        return out

    # ------------------------------------------------------------------------------------------ ResourceS

    @staticmethod
    def _usage_id(event: dict, *, new_when_missing: bool = False) -> str:
        """The usage ID of an event's resources: its OriginID; a new one for an authorization without one."""
        origin_id = C.as_string(event.get(C.ORIGIN_ID))
        if origin_id:
            return origin_id
        if new_when_missing:
            return new_event_id()
        raise mandatory_ie_missing(C.ORIGIN_ID)

    async def _resources(self, method: str, ev: CGREvent, usage_id: str) -> str:
        """One unit of ``usage_id`` through ResourceS; its errors as ``RESOURCES_ERROR:<error>``."""
        conn = self._required_conn("resources_conns", "ResourceS")
        try:
            return await conn.call(method, self._subsystem_event(ev, **{RS_USAGE_ID: usage_id, RS_UNITS: 1}))
        except RPCError as exc:
            raise RPCError(f"RESOURCES_ERROR:{exc.message}") from None

    async def _release_session_resources(self, s: Session) -> None:
        """Give back what a session SessionS ends itself holds (CGRateS's forceSTerminate): its start event with
        ``*rsUsageID`` its OriginID; an error is only logged."""
        if not s.origin_id or self._conn("resources_conns") is None:
            return
        start = CGREvent(Tenant=s.tenant, ID=new_event_id(), Event=s.event_start, APIOpts=s.opts)
        try:
            await self._resources(RELEASE_RESOURCES, start, s.origin_id)
        except RPCError as exc:
            log.warning("session %s: could not release the resources of usage %s: %s", s.cgrid, s.origin_id, exc)

    # ------------------------------------------------------------------------------------------ RouteS

    async def _routes(self, ev: CGREvent, paginator: dict[str, Any], *, ignore_errors: bool = False,
                      max_cost: str = "") -> Any:
        """RouteS's SortedRoutesList for an event; its errors as ``ROUTES_ERROR:<error>``."""
        conn = self._required_conn("routes_conns", "RouteS")
        opts: dict[str, Any] = {opt: paginator[key] for key, opt in ROU_PAGINATOR if paginator.get(key) is not None}
        if max_cost:
            opts[ROU_MAX_COST] = max_cost
        if ignore_errors:
            opts[ROU_IGNORE_ERRORS] = True
        req = self._subsystem_event(ev, **opts)
        if ACD in req["Event"]:
            req["Event"][C.USAGE] = req["Event"][ACD]
        try:
            return await conn.call("RouteSv1.GetRoutes", req)
        except RPCError as exc:
            raise RPCError(f"ROUTES_ERROR:{exc.message}") from None

    # ------------------------------------------------------------------------------------------ ThresholdS, StatS

    async def _count_event(self, counter: EventCounter, ev: CGREvent, profile_ids: Sequence[str]) -> list[str] | None:
        """The IDs of the thresholds or queues that counted the event (None: it matched none)."""
        conn = self._required_conn(counter.conns, counter.service)
        opts = {counter.profile_ids_opt: list(profile_ids)} if profile_ids else {}
        try:
            return await conn.call(counter.method, self._subsystem_event(ev, **opts))
        except NotFound:
            return None

    async def _thresholds_stats(self, args: SessionArgs, reply: dict, *, thresholds: bool, stats: bool) -> bool:
        """ThresholdS and StatS as the call asks, their answers in ``reply``; False when one failed (logged)."""
        complete = True
        for wanted, counter, ids in ((thresholds, THRESHOLDS, getattr(args, "ThresholdIDs", ())),
                                     (stats, STATS, getattr(args, "StatIDs", ()))):
            if not wanted:
                continue
            try:
                reply[counter.reply_key] = await self._count_event(counter, args, ids)
            except RPCError as exc:
                log.warning("event %s: %s with %s: %s", args.ID, counter.method, counter.service, exc)
                complete = False
        return complete


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
