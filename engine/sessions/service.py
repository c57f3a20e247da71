"""SessionS: authorize, initiate, update, terminate and bill sessions; disconnect them when money runs out.

The flows follow CGRateS's SessionS (v0.11): an event is forked by ChargerS into runs; each *prepaid run is
debited through RALs (``Responder.MaxDebit``) as the session goes on, corrected by ``LastUsed``, refunded on
terminate and rounded once; CDRs are written through CDRs from the runs' events. As in CGRateS, every Update and
Terminate is a new request even when its event ID repeats, and an Initiate of a session that is active already is
refused (EXISTS). A client that may send a call again names it with ``APIOpts["*idempotencyKey"]``
(:mod:`~engine.sessions.idempotency`). Difference on purpose: a Terminate of a session that has ended already is
answered OK and not charged again (CGRateS would charge it as a new one-time event).

This module holds the per-method flows; :mod:`~engine.sessions.subsystems` the calls to AttributeS, ChargerS
and the others, :mod:`~engine.sessions.settlement` charging, ending and billing a session,
:mod:`~engine.sessions.control` watching sessions (queries, disconnects, debit loop, TTL, sync). The methods
take the typed arguments of :mod:`engine.sessions.api` (dicts are decoded into them); RALs and CDRs are reached
through their Conns with models (:mod:`engine.rating.api`, :mod:`engine.cdrs.api`). Background work (debit
loops, timers, disconnects, warnings, channel sync) runs under the service's supervisor, stopped with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pycgrates.engine.cdrs import api as cdrs_api
from pycgrates.engine.cdrs.api import ArgV1ProcessEvent
from pycgrates.engine.models import cdr as C
from pycgrates.engine.rating import api as rals_api
from pycgrates.engine.rating.callcost import event_cost_of
from pycgrates.engine.rating.calldesc import CallDescriptor
from pycgrates.engine.rpc.errors import (
    INSUFFICIENT_CREDIT,
    Exists,
    InsufficientCredit,
    NotFound,
    PartiallyExecuted,
    RPCError,
    mandatory_ie_missing,
    server_error,
)
from pycgrates.engine.rpc.registry import rpc, rpc_caller
from pycgrates.engine.sessions import api
from pycgrates.engine.sessions.api import (
    SessionArgs,
    V1AuthorizeArgs,
    V1GetCostArgs,
    V1InitSessionArgs,
    V1ProcessCDRArgs,
    V1ProcessEventArgs,
    V1ProcessMessageArgs,
    V1TerminateSessionArgs,
    V1UpdateSessionArgs,
)
from pycgrates.engine.sessions.charging import Charger
from pycgrates.engine.sessions.control import SessionControl, _opt
from pycgrates.engine.sessions.idempotency import IdempotentCalls
from pycgrates.engine.sessions.index import ActiveSessions
from pycgrates.engine.sessions.replication import Replicated, Replication
from pycgrates.engine.sessions.session import Event, Session, SRun, State
from pycgrates.engine.sessions.settlement import Settlement
from pycgrates.engine.sessions.smgeneric import SMGenericV1, seconds
from pycgrates.engine.sessions.subsystems import (
    ALLOCATE_RESOURCES,
    AUTHORIZE_RESOURCES,
    RELEASE_RESOURCES,
    Subsystems,
    attributes_digest,
    routes_digest,
    with_event_id,
)
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.units import SECOND, parse_duration, parse_time

log = logging.getLogger("cgr.sessions")

PREPAID_TYPES = ("*prepaid", "*pseudoprepaid")


def _time_ns(value: Any, tz: str | None) -> int | None:
    dt = parse_time(value, tz)
    if dt is None:
        return None
    return int(dt.timestamp()) * SECOND + dt.microsecond * 1000


def _present(reply: dict) -> dict:
    """The reply without a MaxUsage nobody asked for: CGRateS never answers it null (v0.10 answers 0, later
    versions leave it out), and the OpenSIPS module takes a MaxUsage that is present but null for an invalid
    reply. The other fields stay null when not asked, as the v0.10 replies show them."""
    if "MaxUsage" in reply and reply["MaxUsage"] is None:
        return {k: v for k, v in reply.items() if k != "MaxUsage"}
    return reply


def _opt_duration(event: dict, name: str) -> int | None:
    value = event.get(name)
    if value is None or value == "":
        return None
    return parse_duration(value)


class SessionService(SessionControl, Settlement, Subsystems, SMGenericV1, Replicated):
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.active = ActiveSessions(ctx.cfg.section("sessions").get("session_indexes") or [])
        self.closed: dict[str, tuple[Session, float]] = {}  # insertion order is closing order
        self.clients: dict[int, Any] = {}
        #: debit loops, TTL timers, disconnects, warnings, channel sync
        self.tasks = Supervisor("sessions")
        self._sync_task: asyncio.Task | None = None
        self.recovery = None
        self.replication = Replication(self)
        self._stir_keys = None
        self.idempotent = IdempotentCalls.from_config(self.cfg)

    # ======================================================================================== config & wiring

    @property
    def cfg(self) -> dict:
        return self.ctx.cfg.section("sessions")

    @property
    def timezone(self) -> str:
        """Where naive times are placed (general.default_timezone)."""
        return self._general("default_timezone", "Local")

    def _conn(self, option: str) -> Any:
        return self.ctx.conns.get(self.cfg.get(option) or [])

    def _required_conn(self, option: str, what: str) -> Any:
        conn = self._conn(option)
        if conn is None:
            raise server_error(f"{what} is not configured (sessions.{option})")
        return conn

    def _general(self, name: str, default: Any = "") -> Any:
        return self.ctx.cfg.get("general", name, default=default)

    def default_usage(self, tor: str) -> int:
        usages = self.cfg.get("default_usage") or {}
        value = usages.get(tor) or usages.get("*any") or "3h"
        return parse_duration(value) if tor == C.META_VOICE or not str(value).isdigit() else int(value)

    @property
    def charger(self) -> Charger:
        return Charger(self._required_conn("rals_conns", "RALs"),
                       int(self._general("rounding_decimals", 5)))

    def _spawn(self, coro: Any, name: str) -> asyncio.Task:
        return self.tasks.spawn(coro, name)

    async def start(self) -> None:
        from pycgrates.engine.sessions.recovery import Recovery

        self.recovery = Recovery(self)
        self.replication.start()
        await self.recovery.restore()
        interval = parse_duration(self.cfg.get("channel_sync_interval") or 0)
        if interval > 0:
            self._sync_task = self._spawn(self._sync_loop(interval), "channel sync")

    async def reload(self, cfg: Any) -> None:
        self.active.set_indexed_fields(cfg.section("sessions").get("session_indexes") or [])
        self.idempotent.set_window(parse_duration(cfg.section("sessions").get("idempotency_window") or 0))

    async def stop(self) -> None:
        """Shutdown. ``*persist``: sessions stay recorded (snapshot + journal) and are restored on the next start;
        ``*terminate``: each is settled for the usage charged so far and its CDRs are written."""
        if self._sync_task is not None:
            self._sync_task.cancel()
        for s in list(self.active.values()):
            s.stop_timers()
        if self.cfg.get("shutdown_action") == "*terminate":
            for s in list(self.active.values()):
                try:
                    async with s.lock:
                        if s.state is not State.TERMINATED:
                            await self._end_session(s, None, None, None, reason="SHUTDOWN")
                    await self._try_write_cdrs(s)
                except Exception:
                    log.exception("terminating session %s at shutdown", s.cgrid)
        await self.replication.stop()
        await self.tasks.stop()
        if self._stir_keys is not None:
            await self._stir_keys.close()

    def add_client(self, client: Any) -> str:
        """Know a bidirectional client (an agent, OpenSIPS) until its connection closes; its key as a string.
        CGRateS registers a BiRPC client as it connects: the channel sync asks every one of them."""
        key = id(client)
        if key not in self.clients:
            self.clients[key] = client
            closed = getattr(client, "closed", None)
            if isinstance(closed, asyncio.Future):
                closed.add_done_callback(lambda _f, k=key: self.clients.pop(k, None))
        return str(key)

    def _register_client(self) -> tuple[Any, str]:
        client = rpc_caller.get()
        if client is None:
            return None, ""
        return client, self.add_client(client)

    # ======================================================================================== building blocks

    def _tenant(self, args: SessionArgs) -> str:
        return args.Tenant or args.Event.get("Tenant") or self._general("default_tenant", "cgrates.org")

    def _call_descriptor(self, event: dict, tenant: str) -> CallDescriptor:
        tz = self.timezone
        start = _time_ns(event.get(C.ANSWER_TIME), tz) or _time_ns(event.get(C.SETUP_TIME), tz)
        if start is None:
            start = time.time_ns()
        account = C.as_string(event.get(C.ACCOUNT))
        return CallDescriptor(
            Category=C.as_string(event.get(C.CATEGORY)) or self._general("default_category", "call"),
            Tenant=C.as_string(event.get(C.TENANT)) or tenant,
            Subject=C.as_string(event.get(C.SUBJECT)) or account,
            Account=account,
            Destination=C.as_string(event.get(C.DESTINATION)),
            ToR=C.as_string(event.get(C.TOR)) or C.META_VOICE,
            TimeStart=start, TimeEnd=start,
            ExtraFields={k: C.as_string(v) for k, v in event.items() if k not in C.PRIMARY_FIELDS
                         and k != C.SUBJECT and not isinstance(v, dict | list)},
        )

    def _new_session(self, args: SessionArgs, runs: list[dict], debit_interval: int) -> Session:
        event = args.Event
        tenant = self._tenant(args)
        cgrid = C.event_cgrid(event)
        srun_list = []
        for run in runs:
            ev = dict(run.get("Event") or {})
            ev[C.CGRID] = cgrid
            rt = C.as_string(ev.get(C.REQUEST_TYPE)) or self._general("default_request_type", C.RATED)
            srun_list.append(SRun(run_id=C.as_string(ev.get(C.RUN_ID)) or C.META_DEFAULT, event=ev,
                                  cd=self._call_descriptor(ev, tenant), request_type=rt))
        client, client_id = self._register_client()
        opts = dict(args.APIOpts)
        return Session(cgrid=cgrid, tenant=tenant, origin_id=C.as_string(event.get(C.ORIGIN_ID)),
                       origin_host=C.as_string(event.get(C.ORIGIN_HOST)), event_start=dict(event), opts=opts,
                       runs=srun_list, debit_interval=debit_interval, client=client, client_id=client_id,
                       chargeable=str(_opt(opts, "*sessionsChargeable", "*sessionChargeable", "*chargeable",
                                           default=True)).lower() != "false",
                       last_activity=time.monotonic())

    def _update_runs(self, s: Session, event: dict) -> None:
        """Alterable fields of a later event change the runs' events (CGRateS UpdateSRuns)."""
        alterable = self.cfg.get("alterable_fields") or []
        for field_name in alterable:
            if field_name in event:
                for run in s.runs:
                    run.event[field_name] = event[field_name]

    def _limit_usage(self, usage: int) -> int:
        max_dur = parse_duration(self.cfg.get("max_call_duration") or 0)
        return min(usage, max_dur) if max_dur > 0 else usage

    def _requested_usage(self, event: dict, tor: str = "") -> int:
        usage = _opt_duration(event, C.USAGE)
        if usage is None:
            usage = self.default_usage(tor or C.as_string(event.get(C.TOR)) or C.META_VOICE)
        return usage

    # ======================================================================================== authorize

    async def _max_usage_for(self, args: SessionArgs, usage: int) -> int:
        runs = await self._runs(args)
        tenant = self._tenant(args)
        result: int | None = None
        for run in runs:
            ev = run.get("Event") or {}
            rt = C.as_string(ev.get(C.REQUEST_TYPE)) or self._general("default_request_type", C.RATED)
            if rt not in PREPAID_TYPES:
                allowed = usage
            else:
                cd = self._call_descriptor(ev, tenant)
                cd.TimeEnd = cd.TimeStart + usage
                cd.DurationIndex = usage
                rals = self._required_conn("rals_conns", "RALs")
                allowed = int(await rals_api.GET_MAX_SESSION_TIME.call(rals, cd))
                if allowed < 0 or allowed > usage:  # -1: no limit (AllowNegative)
                    allowed = usage
            result = allowed if result is None else min(result, allowed)
        return usage if result is None else result

    @rpc(api.AUTHORIZE)
    async def authorize_event(self, args: V1AuthorizeArgs) -> dict:
        reply: dict[str, Any] = {"Attributes": None, "ResourceAllocation": None, "MaxUsage": None,
                                 "RouteProfiles": None, "ThresholdIDs": None, "StatQueueIDs": None}
        if not (args.GetAttributes or args.AuthorizeResources or args.GetMaxUsage or args.ProcessThresholds
                or args.ProcessStats or args.GetRoutes):
            raise mandatory_ie_missing("Subsystems")
        args = with_event_id(args)
        if args.GetAttributes:
            args = await self._attributes(args, reply)
        if args.AuthorizeResources:
            reply["ResourceAllocation"] = await self._resources(
                AUTHORIZE_RESOURCES, args, self._usage_id(args.Event, new_when_missing=True))
        if args.GetMaxUsage:
            usage = self._requested_usage(args.Event)
            reply["MaxUsage"] = await self._max_usage_for(args, self._limit_usage(usage))
        if args.GetRoutes:
            reply["RouteProfiles"] = await self._routes(args, args.Paginator, ignore_errors=args.RoutesIgnoreErrors,
                                                        max_cost=args.RoutesMaxCost)
        if not await self._thresholds_stats(args, reply, thresholds=args.ProcessThresholds, stats=args.ProcessStats):
            raise PartiallyExecuted()
        return _present(reply)

    @rpc(api.AUTHORIZE_WITH_DIGEST)
    async def authorize_event_with_digest(self, args: V1AuthorizeArgs) -> dict:
        rep = await self.authorize_event(args)
        # CGRateS: what was not asked stays null (the digests are pointers without omitempty); MaxUsage is 0
        return {
            "AttributesDigest": attributes_digest(rep["Attributes"])
            if args.GetAttributes and rep.get("Attributes") is not None else None,
            "ResourceAllocation": rep.get("ResourceAllocation") if args.AuthorizeResources else None,
            "MaxUsage": seconds(rep.get("MaxUsage") or 0) if args.GetMaxUsage else 0,
            "RoutesDigest": routes_digest(rep.get("RouteProfiles")) if args.GetRoutes else None,
            "Thresholds": ",".join(rep.get("ThresholdIDs") or []) if args.ProcessThresholds else None,
            "StatQueues": ",".join(rep.get("StatQueueIDs") or []) if args.ProcessStats else None,
        }

    # ======================================================================================== initiate

    @rpc(api.INITIATE)
    async def initiate_session(self, args: V1InitSessionArgs) -> dict:
        return _present(await self.idempotent.once(api.INITIATE.name, self._tenant(args), args.APIOpts,
                                                   lambda: self._initiate(args)))

    async def _initiate(self, args: V1InitSessionArgs) -> dict:
        reply: dict[str, Any] = {"Attributes": None, "ResourceAllocation": None, "MaxUsage": None,
                                 "ThresholdIDs": None, "StatQueueIDs": None}
        args = with_event_id(args)
        if args.GetAttributes:
            args = await self._attributes(args, reply)
        if args.AllocateResources:
            reply["ResourceAllocation"] = await self._resources(ALLOCATE_RESOURCES, args, self._usage_id(args.Event))
        if args.InitSession:
            reply["MaxUsage"] = await self._init_session(args)
        if not await self._thresholds_stats(args, reply, thresholds=args.ProcessThresholds, stats=args.ProcessStats):
            raise PartiallyExecuted()
        return reply

    @rpc(api.INITIATE_WITH_DIGEST)
    async def initiate_session_with_digest(self, args: V1InitSessionArgs) -> dict:
        rep = await self.initiate_session(args)
        return {"AttributesDigest": attributes_digest(rep["Attributes"])
                if args.GetAttributes and rep.get("Attributes") is not None else None,
                "ResourceAllocation": rep.get("ResourceAllocation") if args.AllocateResources else None,
                "MaxUsage": seconds(rep.get("MaxUsage") or 0) if args.InitSession else 0,
                "Thresholds": ",".join(rep.get("ThresholdIDs") or []) if args.ProcessThresholds else None,
                "StatQueues": ",".join(rep.get("StatQueueIDs") or []) if args.ProcessStats else None}

    async def _init_session(self, args: SessionArgs) -> int:
        event = args.Event
        cgrid = C.event_cgrid(event)
        if cgrid in self.active or cgrid in self.closed or await self._cdr_exists(cgrid):
            raise Exists()  # CGRateS: the session is indexed already
        interval = parse_duration(_opt(args.APIOpts, "*sessionsDebitInterval", "*sessionDebitInterval")
                                  or self.cfg.get("debit_interval") or 0)
        runs = await self._runs(args)
        if cgrid in self.active:  # raced with a concurrent Initiate of the same session
            raise Exists()
        s = self._new_session(args, runs, interval)
        has_loop = interval > 0 and any(r.prepaid for r in s.runs) and s.chargeable
        self.active[cgrid] = s
        async with s.lock:
            await self.recovery.snapshot(s)
            tor = C.as_string(event.get(C.TOR)) or C.META_VOICE
            try:
                if has_loop:
                    granted = await self._charge(s, interval, None)
                    max_usage = self.default_usage(tor) if granted >= interval else granted
                else:
                    max_usage = await self._charge(s, self._limit_usage(self._requested_usage(event, tor)), None)
            except Exception:
                self.active.pop(cgrid, None)
                await self.recovery.forget(s)
                raise
            s.max_usage = max_usage
            if has_loop:
                if max_usage < interval:  # the loop's first debit (CGRateS debits it as the loop starts)
                    self.warn_low_balance(s, max_usage, interval)
                    s.tasks.append(self._spawn(self._disconnect_after(s, max_usage, INSUFFICIENT_CREDIT),
                                               f"disconnect {cgrid}"))
                else:
                    s.tasks.append(self._spawn(self._debit_loop(s, interval), f"debit loop {cgrid}"))
            self._arm_ttl(s, args.APIOpts)
        return max_usage

    # ======================================================================================== update

    @rpc(api.UPDATE)
    async def update_session(self, args: V1UpdateSessionArgs) -> dict:
        return _present(await self.idempotent.once(api.UPDATE.name, self._tenant(args), args.APIOpts,
                                                   lambda: self._update(args)))

    async def _update(self, args: V1UpdateSessionArgs) -> dict:
        reply: dict[str, Any] = {"Attributes": None, "MaxUsage": None}
        if args.GetAttributes:
            args = await self._attributes(args, reply)
        if not args.UpdateSession:
            return reply
        event = args.Event
        cgrid = C.event_cgrid(event)
        s = self.active.get(cgrid) or await self.replication.take_over(cgrid)
        if s is None:
            if cgrid in self.closed or await self._cdr_exists(cgrid):
                reply["MaxUsage"] = 0  # an update after the end: nothing more is granted, nothing charged
                return reply
            # CGRateS: an update for an unknown session initiates it
            reply["MaxUsage"] = await self._init_session(args)
            return reply
        async with s.lock:
            if s.state is State.DISCONNECTING:
                s.apply(Event.UPDATE)
                reply["MaxUsage"] = 0
                return reply
            s.apply(Event.UPDATE)
            self._update_runs(s, event)
            s.last_activity = time.monotonic()
            self._arm_ttl(s, args.APIOpts)
            last_used = _opt_duration(event, C.LAST_USED)
            if s.debit_interval > 0:
                max_usage = self.default_usage(s.runs[0].cd.ToR)
                # The loop debits; an update only corrects LastUsed.
                if last_used is not None:
                    for run in s.runs:
                        if run.prepaid:
                            run.debit_reserve(0, last_used)
            else:
                usage = self._requested_usage(event, C.as_string(event.get(C.TOR)) or s.runs[0].cd.ToR)
                max_usage = await self._charge(s, self._limit_usage(usage), last_used)
            s.max_usage = max_usage
            reply["MaxUsage"] = max_usage
        return reply

    # ======================================================================================== terminate

    @rpc(api.TERMINATE)
    async def terminate_session(self, args: V1TerminateSessionArgs) -> str:
        return await self.idempotent.once(api.TERMINATE.name, self._tenant(args), args.APIOpts,
                                          lambda: self._terminate_call(args))

    async def _terminate_call(self, args: V1TerminateSessionArgs) -> str:
        args = with_event_id(args)
        event = args.Event
        if args.ReleaseResources:
            await self._resources(RELEASE_RESOURCES, args, self._usage_id(event))
        if args.TerminateSession and not await self._terminate(args):
            return "OK"  # a repeated Terminate: answered as before, nothing counted again
        if not await self._thresholds_stats(args, {}, thresholds=args.ProcessThresholds, stats=args.ProcessStats):
            raise PartiallyExecuted()
        return "OK"

    async def _terminate(self, args: V1TerminateSessionArgs) -> bool:
        """End the event's session; False when it had ended already (a second Terminate is never charged again)."""
        event = args.Event
        cgrid = C.event_cgrid(event)
        if cgrid in self.closed:
            return False
        s = await self._find_session(cgrid)
        if s is None:
            if await self._cdr_exists(cgrid):
                return False
            # never seen (or lost): charge it as a one-time event, as CGRateS does
            await self._one_shot(args)
            return True
        async with s.lock:
            if s.state is State.TERMINATED:
                return False
            self._update_runs(s, event)
            await self._end_session(s, _opt_duration(event, C.USAGE), _opt_duration(event, C.LAST_USED),
                                    event.get(C.ANSWER_TIME))
        return True

    async def _find_session(self, cgrid: str) -> Session | None:
        """The active session, waiting a little for an Initiate that is still on its way (terminate_attempts)."""
        attempts = int(self.cfg.get("terminate_attempts") or 1)
        delay = 0.005
        for i in range(max(1, attempts)):
            s = self.active.get(cgrid) or await self.replication.take_over(cgrid)
            if s is not None:
                return s
            if i + 1 < attempts:
                await asyncio.sleep(delay)
                delay *= 1.6
        return None

    async def _one_shot(self, args: SessionArgs) -> Session:
        event = args.Event
        runs = await self._runs(args)
        s = self._new_session(args, runs, 0)
        async with s.lock:
            self.active[s.cgrid] = s
            await self.recovery.snapshot(s)
            usage = _opt_duration(event, C.USAGE) or 0
            try:
                for run in s.runs:
                    if run.prepaid and s.chargeable and usage > 0:
                        await self.charger.debit_exact(s, run, usage)
                        run.total_usage = usage
                        run.last_usage = usage
                    else:
                        run.total_usage = usage
            except Exception:
                self.active.pop(s.cgrid, None)
                await self.recovery.forget(s)
                raise
            await self._end_session(s, usage, None, event.get(C.ANSWER_TIME))
        return s

    # ======================================================================================== CDRs

    @rpc(api.PROCESS_CDR)
    async def process_cdr(self, args: V1ProcessCDRArgs) -> str:
        event = {**args.Event}
        event.setdefault(C.SOURCE, "*sessions")
        cgrid = C.event_cgrid(event)
        closed = self.closed.get(cgrid)
        cdrs = self._required_conn("cdrs_conns", "CDRs")
        if closed is None and await self._cdr_exists(cgrid):
            log.info("ProcessCDR for %s: its CDRs are stored already; nothing to do", cgrid)
            return "OK"
        if closed is None:
            await cdrs_api.PROCESS_EVENT.call(cdrs, ArgV1ProcessEvent(
                Flags=["*rals", "*chargers:true"], Tenant=self._tenant(args), ID=args.ID, Time=args.Time, Event=event,
                APIOpts=args.APIOpts))
            return "OK"
        await self.write_cdrs(closed[0], event)
        return "OK"

    # ======================================================================================== one-time events

    @rpc(api.PROCESS_MESSAGE)
    async def process_message(self, args: V1ProcessMessageArgs) -> dict:
        reply: dict[str, Any] = {"Attributes": None, "ResourceAllocation": None, "RouteProfiles": None,
                                 "MaxUsage": None, "ThresholdIDs": None, "StatQueueIDs": None}
        args = with_event_id(args)
        if args.GetAttributes:
            args = await self._attributes(args, reply)
        if args.AllocateResources:
            reply["ResourceAllocation"] = await self._resources(ALLOCATE_RESOURCES, args, self._usage_id(args.Event))
        if args.GetRoutes:
            reply["RouteProfiles"] = await self._routes(args, args.Paginator, ignore_errors=args.RoutesIgnoreErrors,
                                                        max_cost=args.RoutesMaxCost)
        if args.Debit:
            reply["MaxUsage"] = await self._message_debit(args)
        if not await self._thresholds_stats(args, reply, thresholds=args.ProcessThresholds, stats=args.ProcessStats):
            raise PartiallyExecuted()
        return _present(reply)

    async def _message_debit(self, args: SessionArgs) -> int:
        event = args.Event
        cgrid = C.event_cgrid(event)
        if cgrid in self.closed:
            s = self.closed[cgrid][0]
            return min((r.total_usage for r in s.runs), default=0)
        usage = self._requested_usage(event)
        runs = await self._runs(args)
        s = self._new_session(args, runs, 0)
        async with s.lock:
            self.active[cgrid] = s
            await self.recovery.snapshot(s)
            try:
                granted = await self._charge(s, usage, None, force=False)
            except Exception:
                self.active.pop(cgrid, None)
                await self.recovery.forget(s)
                raise
            if granted < usage and any(r.prepaid for r in s.runs):
                # not enough credit for the whole message: give back what was taken, refuse it
                for run in s.runs:
                    if run.prepaid:
                        await self.charger.refund_to(s, run, 0)
                self.active.pop(cgrid, None)
                await self.recovery.forget(s)
                raise InsufficientCredit()
            await self._end_session(s, usage, None, event.get(C.ANSWER_TIME))
        return granted

    @rpc(api.PROCESS_EVENT)
    async def process_event(self, args: V1ProcessEventArgs) -> dict:
        """Flag-driven processing (CGRateS V1ProcessEvent)."""
        from pycgrates.engine.sessions import flags as F

        return await F.process_event(self, args)

    @rpc(api.GET_COST)
    async def get_cost(self, args: V1GetCostArgs) -> dict:
        reply: dict[str, Any] = {"Attributes": None, "EventCost": None}
        if "*attributes" in args.Flags:
            args = await self._attributes(args, reply)
        event = args.Event
        cd = self._call_descriptor(event, self._tenant(args))
        usage = _opt_duration(event, C.USAGE) or self.default_usage(cd.ToR)
        cd.TimeEnd = cd.TimeStart + usage
        cd.DurationIndex = usage
        cc = await rals_api.GET_COST.call(self._required_conn("rals_conns", "RALs"), cd)
        reply["EventCost"] = event_cost_of(cc, C.event_cgrid(event), C.META_DEFAULT)
        return reply

    # ======================================================================================== agents, STIR

    @rpc("SessionSv1.DisconnectPeer")
    async def disconnect_peer(self, args: dict) -> str:
        """Ask the connected agents to close a Diameter peer (DPR): {OriginHost, OriginRealm, DisconnectCause}."""
        if not self.clients:
            raise server_error("no agent is connected to SessionS")
        answered, last = False, None
        for client in list(self.clients.values()):
            try:
                await client.call("AgentV1.DisconnectPeer", args, timeout=10)
                answered = True
            except RPCError as exc:
                last = exc
        if not answered:
            raise last or NotFound()
        return "OK"

    @rpc("SessionSv1.RegisterInternalBiJSONConn")
    async def register_internal_bijson_conn(self, args: Any) -> str:
        self._register_client()
        return "OK"

    @rpc("SessionSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    def stir_keys(self):
        if self._stir_keys is None:
            from pycgrates.engine.stir.keys import KeyStore
            from pycgrates.engine.stir.service import StirConfig

            self._stir_keys = KeyStore.from_config(StirConfig.from_config(self.cfg.get("stir") or {}))
        return self._stir_keys

    @rpc("SessionSv1.STIRAuthenticate")
    async def stir_authenticate(self, args: dict) -> str:
        from pycgrates.engine.stir.service import StirConfig, api_stir_authenticate

        await api_stir_authenticate(args, StirConfig.from_config(self.cfg.get("stir") or {}), self.stir_keys())
        return "OK"

    @rpc("SessionSv1.STIRIdentity")
    async def stir_identity(self, args: dict) -> str:
        from pycgrates.engine.stir.service import StirConfig, api_stir_identity

        return await api_stir_identity(args, StirConfig.from_config(self.cfg.get("stir") or {}), self.stir_keys())
