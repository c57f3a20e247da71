"""SessionS: authorize, initiate, update, terminate and bill sessions; disconnect them when money runs out.

The flows follow CGRateS's SessionS (v0.11): an event is forked by ChargerS into runs; each *prepaid run is
debited through RALs (``Responder.MaxDebit``) as the session goes on, corrected by ``LastUsed``, refunded on
terminate and rounded once; CDRs are written through CDRs from the runs' events. Differences on purpose:
a repeated Initiate, Update (same event ID) or Terminate is answered again without charging again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pycgrates.engine.models import cdr as C
from pycgrates.engine.rpc.errors import (
    EXISTS,
    INSUFFICIENT_CREDIT,
    NOT_FOUND,
    RPCError,
    mandatory_ie_missing,
    server_error,
)
from pycgrates.engine.rpc.registry import rpc, rpc_caller
from pycgrates.engine.sessions.charging import Charger, wire_cd
from pycgrates.engine.sessions.control import SessionControl, _jsonable, _opt
from pycgrates.engine.sessions.index import ActiveSessions
from pycgrates.engine.sessions.session import Event, Session, SRun, State
from pycgrates.engine.units import SECOND, parse_duration, parse_time

log = logging.getLogger("cgr.sessions")

PREPAID_TYPES = ("*prepaid", "*pseudoprepaid")
UNRATED_TYPES = ("*postpaid", "*pseudoprepaid", "*rated")


def _ns_to_seconds(ns: int) -> float:
    return ns / SECOND


def _time_ns(value: Any, tz: str | None) -> int | None:
    dt = parse_time(value, tz)
    if dt is None:
        return None
    return int(dt.timestamp()) * SECOND + dt.microsecond * 1000


def _opt_duration(event: dict, name: str) -> int | None:
    value = event.get(name)
    if value is None or value == "":
        return None
    return parse_duration(value)


class SessionService(SessionControl):
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.active = ActiveSessions(ctx.cfg.section("sessions").get("session_indexes") or [])
        self.closed: dict[str, tuple[Session, float]] = {}  # insertion order is closing order
        self.clients: dict[int, Any] = {}
        self._bg: set[asyncio.Task] = set()
        self._sync_task: asyncio.Task | None = None
        self.recovery = None
        self._stir_keys = None

    # ======================================================================================== config & wiring

    @property
    def cfg(self) -> dict:
        return self.ctx.cfg.section("sessions")

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

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)
        return task

    async def start(self) -> None:
        from pycgrates.engine.sessions.recovery import Recovery

        self.recovery = Recovery(self)
        await self.recovery.restore()
        interval = parse_duration(self.cfg.get("channel_sync_interval") or 0)
        if interval > 0:
            self._sync_task = self._spawn(self._sync_loop(interval))

    async def reload(self, cfg: Any) -> None:
        self.active.set_indexed_fields(cfg.section("sessions").get("session_indexes") or [])

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
        for t in list(self._bg):
            t.cancel()
        if self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        if self._stir_keys is not None:
            await self._stir_keys.close()

    def _register_client(self) -> tuple[Any, str]:
        client = rpc_caller.get()
        if client is None:
            return None, ""
        key = id(client)
        if key not in self.clients:
            self.clients[key] = client
            closed = getattr(client, "closed", None)
            if isinstance(closed, asyncio.Future):
                closed.add_done_callback(lambda _f, k=key: self.clients.pop(k, None))
        return client, str(key)

    # ======================================================================================== building blocks

    def _event_of(self, args: dict) -> dict:
        if not isinstance(args, dict):
            raise RPCError("MANDATORY_IE_MISSING: [Event]")
        ev = args.get("Event")
        if not isinstance(ev, dict):
            raise mandatory_ie_missing("Event")
        return ev

    def _tenant(self, args: dict) -> str:
        return (args.get("Tenant") or args.get("Event", {}).get("Tenant")
                or self._general("default_tenant", "cgrates.org"))

    async def _attributes(self, args: dict, reply: dict) -> dict:
        conn = self._required_conn("attributes_conns", "AttributeS")
        req = {"Tenant": self._tenant(args), "ID": args.get("ID", ""), "Time": args.get("Time"),
               "Event": self._event_of(args),
               "APIOpts": {**(args.get("APIOpts") or {}), "*context": (args.get("APIOpts") or {}).get(
                   "*context", "*sessions")}}
        if args.get("AttributeIDs"):
            req["APIOpts"]["*attrProfileIDs"] = args["AttributeIDs"]
        try:
            rep = await conn.call("AttributeSv1.ProcessEvent", req)
        except RPCError as exc:
            if exc.message == NOT_FOUND:
                reply["Attributes"] = None
                return args
            raise
        reply["Attributes"] = rep
        ev = rep.get("CGREvent") or rep
        # AttributeS may move the event to another tenant (*tenant): the rest of the flow follows it
        return {**args, "Tenant": ev.get("Tenant") or args.get("Tenant"), "Event": ev.get("Event", args["Event"]),
                "APIOpts": ev.get("APIOpts", args.get("APIOpts"))}

    async def _runs(self, args: dict) -> list[dict]:
        """Charger runs of an event: [{"RunID", "Event"}]; without ChargerS, one *default run."""
        event = self._event_of(args)
        conn = self._conn("chargers_conns")
        if conn is None:
            return [{**args, "Event": {**event, C.RUN_ID: event.get(C.RUN_ID) or C.META_DEFAULT}}]
        req = {"Tenant": self._tenant(args), "ID": args.get("ID", ""), "Event": event,
               "APIOpts": args.get("APIOpts") or {}}
        try:
            reply = await conn.call("ChargerSv1.ProcessEvent", req)
        except RPCError as exc:
            if exc.message == NOT_FOUND:
                raise server_error("CHARGERS_ERROR:NOT_FOUND") from None
            raise
        return [r["CGREvent"] for r in reply]

    def _call_descriptor(self, event: dict, tenant: str) -> dict:
        tz = self._general("default_timezone", "Local")
        start = _time_ns(event.get(C.ANSWER_TIME), tz) or _time_ns(event.get(C.SETUP_TIME), tz)
        if start is None:
            start = time.time_ns()
        account = C.as_string(event.get(C.ACCOUNT))
        return {
            "Category": C.as_string(event.get(C.CATEGORY)) or self._general("default_category", "call"),
            "Tenant": C.as_string(event.get(C.TENANT)) or tenant,
            "Subject": C.as_string(event.get(C.SUBJECT)) or account,
            "Account": account,
            "Destination": C.as_string(event.get(C.DESTINATION)),
            "ToR": C.as_string(event.get(C.TOR)) or C.META_VOICE,
            "TimeStart": start, "TimeEnd": start, "DurationIndex": 0, "LoopIndex": 0,
            "ExtraFields": {k: C.as_string(v) for k, v in event.items() if k not in C.PRIMARY_FIELDS
                            and k != C.SUBJECT and not isinstance(v, dict | list)},
        }

    def _new_session(self, args: dict, runs: list[dict], debit_interval: int) -> Session:
        event = self._event_of(args)
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
        opts = dict(args.get("APIOpts") or {})
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

    async def _charge(self, s: Session, usage: int, last_used: int | None, force: bool = False) -> int:
        """Debit every prepaid run for ``usage``; MaxUsage is the least any run was granted."""
        max_usage: int | None = None
        for run in s.runs:
            if not run.prepaid or not s.chargeable:
                granted = usage
            else:
                try:
                    granted = await self.charger.debit(s, run, usage, last_used)
                except RPCError as exc:
                    if exc.message in (INSUFFICIENT_CREDIT, "ACCOUNT_DISABLED") and not force:
                        granted = 0
                    else:
                        raise
            max_usage = granted if max_usage is None else min(max_usage, granted)
        return usage if max_usage is None else max_usage

    # ======================================================================================== authorize

    async def _max_usage_for(self, args: dict, usage: int) -> int:
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
                cd["TimeEnd"] = cd["TimeStart"] + usage
                cd["DurationIndex"] = usage
                rals = self._required_conn("rals_conns", "RALs")
                allowed = int(await rals.call("Responder.GetMaxSessionTime", wire_cd(cd)))
                if allowed < 0 or allowed > usage:  # -1: no limit (AllowNegative)
                    allowed = usage
            result = allowed if result is None else min(result, allowed)
        return usage if result is None else result

    def _limit_usage(self, usage: int) -> int:
        max_dur = parse_duration(self.cfg.get("max_call_duration") or 0)
        return min(usage, max_dur) if max_dur > 0 else usage

    @rpc("SessionSv1.AuthorizeEvent")
    async def authorize_event(self, args: dict) -> dict:
        event = self._event_of(args)
        reply: dict[str, Any] = {"Attributes": None, "ResourceAllocation": None, "MaxUsage": None,
                                 "RouteProfiles": None, "ThresholdIDs": None, "StatQueueIDs": None}
        if not any(args.get(k) for k in ("GetAttributes", "AuthorizeResources", "GetMaxUsage", "ProcessThresholds",
                                          "ProcessStats", "GetRoutes", "GetSuppliers")):
            raise RPCError("MANDATORY_IE_MISSING: [Subsystems]")
        if args.get("GetAttributes"):
            args = await self._attributes(args, reply)
            event = args["Event"]
        if args.get("AuthorizeResources"):
            reply["ResourceAllocation"] = await self._resources("ResourceSv1.AuthorizeResources", args)
        if args.get("GetMaxUsage"):
            usage = _opt_duration(event, C.USAGE)
            if usage is None:
                usage = self.default_usage(C.as_string(event.get(C.TOR)) or C.META_VOICE)
            reply["MaxUsage"] = await self._max_usage_for(args, self._limit_usage(usage))
        if args.get("GetRoutes") or args.get("GetSuppliers"):
            reply["RouteProfiles"] = await self._routes(args)
        await self._thresholds_stats(args, reply)
        return reply

    @rpc("SessionSv1.AuthorizeEventWithDigest")
    async def authorize_event_with_digest(self, args: dict) -> dict:
        rep = await self.authorize_event(args)
        return {
            "AttributesDigest": _attributes_digest(rep.get("Attributes")),
            "ResourceAllocation": rep.get("ResourceAllocation"),
            "MaxUsage": _ns_to_seconds(rep["MaxUsage"]) if rep.get("MaxUsage") is not None else 0.0,
            "RoutesDigest": _routes_digest(rep.get("RouteProfiles")),
            "Thresholds": ",".join(rep.get("ThresholdIDs") or []),
            "StatQueues": ",".join(rep.get("StatQueueIDs") or []),
        }

    # ======================================================================================== initiate

    @rpc("SessionSv1.InitiateSession")
    async def initiate_session(self, args: dict) -> dict:
        self._event_of(args)
        reply: dict[str, Any] = {"Attributes": None, "ResourceAllocation": None, "MaxUsage": None,
                                 "ThresholdIDs": None, "StatQueueIDs": None}
        if args.get("GetAttributes"):
            args = await self._attributes(args, reply)
        if args.get("AllocateResources"):
            reply["ResourceAllocation"] = await self._resources("ResourceSv1.AllocateResources", args)
        if args.get("InitSession"):
            reply["MaxUsage"] = await self._init_session(args)
        await self._thresholds_stats(args, reply)
        return reply

    @rpc("SessionSv1.InitiateSessionWithDigest")
    async def initiate_session_with_digest(self, args: dict) -> dict:
        rep = await self.initiate_session(args)
        return {"AttributesDigest": _attributes_digest(rep.get("Attributes")),
                "ResourceAllocation": rep.get("ResourceAllocation"),
                "MaxUsage": _ns_to_seconds(rep["MaxUsage"]) if rep.get("MaxUsage") is not None else 0.0,
                "Thresholds": ",".join(rep.get("ThresholdIDs") or []),
                "StatQueues": ",".join(rep.get("StatQueueIDs") or [])}

    async def _init_session(self, args: dict) -> int:
        event = self._event_of(args)
        cgrid = C.event_cgrid(event)
        existing = self.active.get(cgrid)
        if existing is not None:  # a retransmitted Initiate: same answer, no second debit
            return int(existing.opts.get("_init_max_usage", 0))
        if cgrid in self.closed or await self._cdr_exists(cgrid):
            raise RPCError(EXISTS)
        opts = args.get("APIOpts") or {}
        interval = parse_duration(_opt(opts, "*sessionsDebitInterval", "*sessionDebitInterval")
                                  or self.cfg.get("debit_interval") or 0)
        runs = await self._runs(args)
        if cgrid in self.active:  # raced with a concurrent Initiate of the same session
            return int(self.active[cgrid].opts.get("_init_max_usage", 0))
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
                    usage = _opt_duration(event, C.USAGE)
                    if usage is None:
                        usage = self.default_usage(tor)
                    max_usage = await self._charge(s, self._limit_usage(usage), None)
            except Exception:
                self.active.pop(cgrid, None)
                await self.recovery.forget(s)
                raise
            s.opts["_init_max_usage"] = max_usage
            if has_loop:
                if max_usage < interval:
                    s.tasks.append(self._spawn(self._disconnect_after(s, max_usage, INSUFFICIENT_CREDIT)))
                else:
                    s.tasks.append(self._spawn(self._debit_loop(s, interval)))
            self._arm_ttl(s, args)
        return max_usage

    # ======================================================================================== update

    @rpc("SessionSv1.UpdateSession")
    async def update_session(self, args: dict) -> dict:
        event = self._event_of(args)
        reply: dict[str, Any] = {"Attributes": None, "MaxUsage": None}
        if args.get("GetAttributes"):
            args = await self._attributes(args, reply)
            event = args["Event"]
        if not args.get("UpdateSession"):
            return reply
        cgrid = C.event_cgrid(event)
        s = self.active.get(cgrid)
        if s is None:
            if cgrid in self.closed or await self._cdr_exists(cgrid):
                reply["MaxUsage"] = 0  # an update after the end: nothing more is granted, nothing charged
                return reply
            # CGRateS: an update for an unknown session initiates it
            reply["MaxUsage"] = await self._init_session({**args, "InitSession": True})
            return reply
        async with s.lock:
            event_id = args.get("ID") or ""
            if event_id and s.opts.get("_last_update_id") == event_id:
                reply["MaxUsage"] = int(s.opts.get("_last_update_max_usage", 0))
                return reply
            if s.state is State.DISCONNECTING:
                s.apply(Event.UPDATE)
                reply["MaxUsage"] = 0
                return reply
            s.apply(Event.UPDATE)
            self._update_runs(s, event)
            s.last_activity = time.monotonic()
            self._arm_ttl(s, args)
            usage = _opt_duration(event, C.USAGE)
            if usage is None:
                usage = self.default_usage(C.as_string(event.get(C.TOR)) or s.runs[0].cd["ToR"])
            last_used = _opt_duration(event, C.LAST_USED)
            if s.debit_interval > 0:
                max_usage = self.default_usage(s.runs[0].cd["ToR"])
                # The loop debits; an update only corrects LastUsed.
                if last_used is not None:
                    for run in s.runs:
                        if run.prepaid:
                            run.debit_reserve(0, last_used)
            else:
                max_usage = await self._charge(s, self._limit_usage(usage), last_used)
            s.opts["_last_update_id"] = event_id
            s.opts["_last_update_max_usage"] = max_usage
            reply["MaxUsage"] = max_usage
        return reply

    # ======================================================================================== terminate

    @rpc("SessionSv1.TerminateSession")
    async def terminate_session(self, args: dict) -> str:
        event = self._event_of(args)
        reply: dict[str, Any] = {}
        if args.get("ReleaseResources"):
            await self._resources("ResourceSv1.ReleaseResources", args)
        if not args.get("TerminateSession"):
            await self._thresholds_stats(args, reply)
            return "OK"
        cgrid = C.event_cgrid(event)
        if cgrid in self.closed:  # a second Terminate: answered, never charged again
            return "OK"
        s = await self._find_session(cgrid)
        if s is None:
            if await self._cdr_exists(cgrid):
                return "OK"
            # never seen (or lost): charge it as a one-time event, as CGRateS does
            s = await self._one_shot(args)
        else:
            async with s.lock:
                if s.state is State.TERMINATED:
                    return "OK"
                self._update_runs(s, event)
                await self._end_session(s, _opt_duration(event, C.USAGE), _opt_duration(event, C.LAST_USED),
                                        event.get(C.ANSWER_TIME))
        await self._thresholds_stats(args, reply)
        return "OK"

    async def _find_session(self, cgrid: str) -> Session | None:
        """The active session, waiting a little for an Initiate that is still on its way (terminate_attempts)."""
        attempts = int(self.cfg.get("terminate_attempts") or 1)
        delay = 0.005
        for i in range(max(1, attempts)):
            s = self.active.get(cgrid)
            if s is not None:
                return s
            if i + 1 < attempts:
                await asyncio.sleep(delay)
                delay *= 1.6
        return None

    async def _cdr_exists(self, cgrid: str) -> bool:
        from pycgrates.engine.storage.base import CDRFilter

        try:
            return bool(await self.ctx.stordb.count_cdrs(CDRFilter(cgrids=[cgrid])))
        except Exception:
            return False

    async def _one_shot(self, args: dict) -> Session:
        event = self._event_of(args)
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

    async def _end_session(self, s: Session, total_usage: int | None, last_used: int | None, answer_time: Any,
                           *, reason: str = "") -> None:
        """Settle every run (extra debit or refund, rounding), set Usage/Cost on the runs' events, close."""
        s.stop_timers()
        for run in s.runs:
            if total_usage is not None:
                run.total_usage = total_usage
            elif last_used is not None and run.last_usage != last_used:
                run.total_usage += last_used - run.last_usage
                run.last_usage = last_used
            min_dur = parse_duration(self.cfg.get("min_call_duration") or 0)
            if 0 < run.total_usage < min_dur:
                run.total_usage = min_dur
            if run.prepaid and s.chargeable and (run.cost.timespans or run.total_usage):
                charged = run.cost.usage
                if run.total_usage > charged:
                    try:
                        await self.charger.debit_exact(s, run, run.total_usage - charged)
                    except RPCError as exc:
                        log.warning("session %s run %s: extra usage not charged: %s", s.cgrid, run.run_id, exc)
                elif run.total_usage < charged:
                    await self.charger.refund_to(s, run, run.total_usage)
                await self.charger.round_cost(s, run)
            self._finish_run_event(s, run, answer_time)
        if s.state is not State.TERMINATED:
            s.apply(Event.TERMINATE)
        s.disconnect_reason = s.disconnect_reason or reason
        self.active.pop(s.cgrid, None)
        self.closed[s.cgrid] = (s, time.monotonic())
        self._prune_closed()
        await self.recovery.snapshot(s)
        if self.cfg.get("store_session_costs"):
            await self._store_session_costs(s)

    def _finish_run_event(self, s: Session, run: SRun, answer_time: Any) -> None:
        ev = run.event
        ev[C.USAGE] = run.total_usage
        if answer_time:
            ev[C.ANSWER_TIME] = answer_time
        if run.prepaid and s.chargeable:
            from pycgrates.engine.cdrs.service import event_cost_json

            cc = run.cost.as_call_cost(run.cd)
            ev[C.COST] = float(run.cost.cost)
            ev[C.COST_DETAILS] = event_cost_json(cc, s.cgrid, run.run_id)
            ev[C.COST_SOURCE] = "*sessions"
            ev[C.PRE_RATED] = True

    def _closed_ttl(self) -> float:
        """How long a closed session whose CDRs are not written yet waits for ProcessCDR (the ``*closed_sessions``
        cache TTL, at least 10s). Once written it is forgotten; the stored CDR then answers repeats."""
        part = self.ctx.cfg.get("caches", "partitions", "*closed_sessions", default={}) or {}
        ttl = parse_duration(part.get("ttl") or 0) / SECOND
        return max(ttl, 10.0)

    def _prune_closed(self) -> None:
        """Forget closed sessions past their TTL (oldest first; stops at the first young one)."""
        limit = time.monotonic() - self._closed_ttl()
        while self.closed:
            cgrid, (_, closed_at) = next(iter(self.closed.items()))
            if closed_at > limit:
                break
            del self.closed[cgrid]

    async def _store_session_costs(self, s: Session) -> None:
        for run in s.runs:
            if not run.prepaid:
                continue
            cost = {"CGRID": s.cgrid, "RunID": run.run_id, "OriginHost": s.origin_host, "OriginID": s.origin_id,
                    "CostSource": "*sessions", "Usage": run.total_usage,
                    "CostDetails": run.event.get(C.COST_DETAILS)}
            conn = self._conn("cdrs_conns")
            try:
                if conn is not None:
                    await conn.call("CDRsV1.StoreSessionCost", {"Cost": cost})
                else:
                    await self.ctx.stordb.set_session_cost(cost)
            except RPCError as exc:
                log.warning("storing the cost of session %s run %s: %s", s.cgrid, run.run_id, exc)

    # ======================================================================================== CDRs

    @rpc("SessionSv1.ProcessCDR")
    async def process_cdr(self, args: dict) -> str:
        event = self._event_of(args)
        event.setdefault(C.SOURCE, "*sessions")
        cgrid = C.event_cgrid(event)
        closed = self.closed.get(cgrid)
        cdrs = self._required_conn("cdrs_conns", "CDRs")
        if closed is None and await self._cdr_exists(cgrid):
            log.info("ProcessCDR for %s: its CDRs are stored already; nothing to do", cgrid)
            return "OK"
        if closed is None:
            await cdrs.call("CDRsV1.ProcessEvent", {"Flags": ["*rals", "*chargers:true"], "Tenant": self._tenant(args),
                                                    "ID": args.get("ID", ""), "Event": event,
                                                    "APIOpts": args.get("APIOpts") or {}})
            return "OK"
        s = closed[0]
        await self.write_cdrs(s, event)
        return "OK"

    async def write_cdrs(self, s: Session, event: dict | None = None) -> None:
        """One CDR per run through CDRs; duplicates (already written) are fine. Then forget the journal."""
        cdrs = self._required_conn("cdrs_conns", "CDRs")
        errors = []
        for run in s.runs:
            ev = dict(run.event)
            if event:
                for k in self.cfg.get("alterable_fields") or []:
                    if k in event:
                        ev[k] = event[k]
            ev[C.CGRID] = s.cgrid
            flags = ["*chargers:false", "*attributes:false"]
            if run.request_type in UNRATED_TYPES:
                flags.append("*rals:true")
            try:
                await cdrs.call("CDRsV1.ProcessEvent", {"Flags": flags, "Tenant": s.tenant, "ID": s.cgrid,
                                                        "Event": _jsonable(ev), "APIOpts": {}})
            except RPCError as exc:
                if exc.message != EXISTS:
                    errors.append(exc)
        if errors:
            raise errors[0]
        s.cdr_written = True
        self.closed.pop(s.cgrid, None)
        await self.recovery.forget(s)

    # ======================================================================================== one-time events

    @rpc("SessionSv1.ProcessMessage")
    async def process_message(self, args: dict) -> dict:
        self._event_of(args)
        reply: dict[str, Any] = {"Attributes": None, "ResourceAllocation": None, "RouteProfiles": None,
                                 "MaxUsage": None, "ThresholdIDs": None, "StatQueueIDs": None}
        if args.get("GetAttributes"):
            args = await self._attributes(args, reply)
        if args.get("AllocateResources"):
            reply["ResourceAllocation"] = await self._resources("ResourceSv1.AllocateResources", args)
        if args.get("GetRoutes"):
            reply["RouteProfiles"] = await self._routes(args)
        if args.get("Debit"):
            reply["MaxUsage"] = await self._message_debit(args)
        await self._thresholds_stats(args, reply)
        return reply

    async def _message_debit(self, args: dict) -> int:
        event = self._event_of(args)
        cgrid = C.event_cgrid(event)
        if cgrid in self.closed:
            s = self.closed[cgrid][0]
            return min((r.total_usage for r in s.runs), default=0)
        usage = _opt_duration(event, C.USAGE)
        if usage is None:
            usage = self.default_usage(C.as_string(event.get(C.TOR)) or C.META_VOICE)
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
                raise RPCError(INSUFFICIENT_CREDIT)
            await self._end_session(s, usage, None, event.get(C.ANSWER_TIME))
        return granted

    @rpc("SessionSv1.ProcessEvent")
    async def process_event(self, args: dict) -> dict:
        """Flag-driven processing (CGRateS V1ProcessEvent)."""
        from pycgrates.engine.sessions import flags as F

        return await F.process_event(self, args)

    @rpc("SessionSv1.GetCost")
    async def get_cost(self, args: dict) -> dict:
        event = self._event_of(args)
        reply: dict[str, Any] = {"Attributes": None, "EventCost": None}
        if "*attributes" in (args.get("Flags") or []):
            args = await self._attributes(args, reply)
            event = args["Event"]
        cd = self._call_descriptor(event, self._tenant(args))
        usage = _opt_duration(event, C.USAGE) or self.default_usage(cd["ToR"])
        cd["TimeEnd"] = cd["TimeStart"] + usage
        cd["DurationIndex"] = usage
        cc = await self._required_conn("rals_conns", "RALs").call("Responder.GetCost", wire_cd(cd))
        from pycgrates.engine.cdrs.service import event_cost_json

        reply["EventCost"] = event_cost_json(cc, C.event_cgrid(event), C.META_DEFAULT)
        return reply

    # ======================================================================================== other subsystems

    async def _resources(self, method: str, args: dict) -> Any:
        conn = self._required_conn("resources_conns", "ResourceS")
        return await conn.call(method, {**args, "UsageID": C.as_string(self._event_of(args).get(C.ORIGIN_ID))})

    async def _routes(self, args: dict) -> Any:
        conn = self._required_conn("routes_conns", "RouteS")
        return await conn.call("RouteSv1.GetRoutes", args)

    async def _thresholds_stats(self, args: dict, reply: dict) -> None:
        for flag, option, method, key in (("ProcessThresholds", "thresholds_conns", "ThresholdSv1.ProcessEvent",
                                           "ThresholdIDs"),
                                          ("ProcessStats", "stats_conns", "StatSv1.ProcessEvent", "StatQueueIDs")):
            if not args.get(flag):
                continue
            conn = self._required_conn(option, method.split("Sv1")[0] + "S")
            try:
                reply[key] = await conn.call(method, {k: args[k] for k in ("Tenant", "ID", "Event", "APIOpts")
                                                      if k in args})
            except RPCError as exc:
                if exc.message != NOT_FOUND:
                    raise

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
            raise last or RPCError(NOT_FOUND)
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


# ============================================================================================== helpers



def _attributes_digest(attr_reply: Any) -> str:
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


def _routes_digest(routes: Any) -> str:
    if not isinstance(routes, list):
        return ""
    ids = [r.get("RouteID", "") for prof in routes for r in (prof.get("Routes") or [])]
    return ",".join(ids)
