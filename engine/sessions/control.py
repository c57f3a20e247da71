"""Watching and ending sessions: queries, disconnects through the agents, the debit loop, TTL and channel sync.

A mixin of :class:`engine.sessions.service.SessionService`; it works on the service's active sessions and calls
its settling steps (``_end_session``, ``_charge``, ``_try_write_cdrs``). Its timers and loops run under the
service's supervisor (``_spawn``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable
from typing import Any

from pycgrates.engine.metrics import DebitTick
from pycgrates.engine.models import cdr as C
from pycgrates.engine.rpc.errors import (
    INSUFFICIENT_CREDIT,
    NOT_IMPLEMENTED,
    SERVER_ERROR,
    UNAUTHORIZED_DESTINATION,
    NotFound,
    RPCError,
    server_error,
)
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.sessions.session import Event, Session, State
from pycgrates.engine.sessions.settlement import jsonable_event
from pycgrates.engine.units import SECOND, parse_duration

log = logging.getLogger("cgr.sessions")


def _opt(opts: dict, *names: str, default: Any = None) -> Any:
    """The first of an option's names present in APIOpts (CGRateS's ``*sessions…`` names first, then aliases)."""
    for name in names:
        if opts.get(name) not in (None, ""):
            return opts[name]
    return default


#: DisconnectSession's name by sessions.client_protocol below 2.0 (CGRateS's compatibility with OpenSIPS)
DISCONNECT_METHODS = {0.0: "SMGClientV1.DisconnectSession", 1.0: "SessionSv1.DisconnectSession"}


def _keeps_no_sessions(exc: RPCError) -> bool:
    """A channel sync answer meaning "no sessions here": CGRateS's NO_ACTIVE_SESSION, or a client that does not
    serve the method at all (it runs no calls: a console, a plain BiRPC client)."""
    text = str(exc)
    return (text.startswith(("NO_ACTIVE_SESSION", NOT_IMPLEMENTED)) or "can't find service" in text
            or "Unknown Method" in text)


class SessionControl:
    # ======================================================================================== session queries

    async def _matching(self, args: dict, sessions: Iterable[Session] | None = None) -> list[Session]:
        """The sessions (the active ones unless given) of the query's Tenant passing its Filters, at most Limit."""
        filters = (args or {}).get("Filters") or []
        tenant = (args or {}).get("Tenant") or ""
        if sessions is None:
            sessions = self.active.candidates(filters)
        out = []
        for s in sessions:
            if tenant and s.tenant != tenant:
                continue
            if filters and not await self._pass_filters(s, filters):
                continue
            out.append(s)
        limit = (args or {}).get("Limit")
        return out[: int(limit)] if limit else out

    async def _pass_filters(self, s: Session, filters: list[str]) -> bool:
        """A session matches when any of its runs' events passes the filters (FilterS syntax)."""
        fs = self.ctx.services.get("filters")
        if fs is None:
            raise server_error("FilterS is not running")
        for run in s.runs:
            if await fs.pass_filters(s.tenant, filters, fs.event_dp(run.event, s.opts)):
                return True
        return False

    def _external(self, s: Session) -> list[dict]:
        out = []
        for run in s.runs:
            ev = run.event
            out.append({
                "CGRID": s.cgrid, "RunID": run.run_id, "ToR": run.cd.ToR, "OriginID": s.origin_id,
                "OriginHost": s.origin_host, "Source": "SessionS_" + C.as_string(ev.get(C.SOURCE)),
                "RequestType": run.request_type, "Tenant": s.tenant, "Category": run.cd.Category,
                "Account": run.cd.Account, "Subject": run.cd.Subject, "Destination": run.cd.Destination,
                "SetupTime": C.as_string(ev.get(C.SETUP_TIME)), "AnswerTime": C.as_string(ev.get(C.ANSWER_TIME)),
                "Usage": run.total_usage, "ExtraFields": {k: C.as_string(v) for k, v in ev.items()
                                                          if k not in C.PRIMARY_FIELDS},
                "NodeID": self._general("node_id", ""), "LoopIndex": float(run.loop_index),
                "DurationIndex": run.cd.DurationIndex, "MaxRate": 0, "MaxRateUnit": 0,
                "MaxCostSoFar": float(run.cost.cost), "DebitInterval": s.debit_interval,
                "NextAutoDebit": None, "State": s.state.value,
                "MaxUsage": s.max_usage,
            })
        return out

    @rpc("SessionSv1.GetActiveSessions")
    async def get_active_sessions(self, args: dict) -> list[dict]:
        sessions = await self._matching(args)
        out = [e for s in sessions for e in self._external(s)]
        if not out:
            raise NotFound()
        return out

    @rpc("SessionSv1.GetActiveSessionsCount")
    async def get_active_sessions_count(self, args: dict) -> int:
        return sum(len(s.runs) for s in await self._matching(args))

    # ======================================================================================== disconnects

    @rpc("SessionSv1.ForceDisconnect")
    async def force_disconnect(self, args: dict) -> str:
        sessions = await self._matching(args)
        if not sessions:
            raise NotFound()
        errors = []
        for s in sessions:
            try:
                await self.disconnect(s, "FORCED_DISCONNECT")
            except RPCError as exc:
                errors.append(exc)
        if errors and len(errors) == len(sessions):
            raise errors[0]
        return "OK"

    @rpc("SessionSv1.AlterSessions")
    async def alter_sessions(self, args: dict) -> str:
        sessions = await self._matching(args)
        if not sessions:
            raise NotFound()
        event = args.get("Event") or {}
        for s in sessions:
            if s.client is None:
                raise server_error(f"session {s.cgrid} has no agent connection to alter it")
            await s.client.call("AgentV1.AlterSession", {"Tenant": s.tenant, "ID": s.cgrid,
                                                         "Event": {**s.event_start, **event},
                                                         "APIOpts": args.get("APIOpts") or {}})
        return "OK"

    async def disconnect(self, s: Session, reason: str) -> None:
        """Ask the agent the session came from to hang it up; without one, terminate it here."""
        if s.state is State.TERMINATED:
            return
        s.apply(Event.DISCONNECT)
        s.disconnect_reason = reason
        if s.client is None:
            async with s.lock:
                if s.state is not State.TERMINATED:
                    await self._end_session(s, None, None, None, reason=reason)
            await self._try_write_cdrs(s)
            return
        protocol = self.client_protocol
        if protocol >= 2.0:
            await s.client.call("AgentV1.DisconnectSession", {"EventStart": jsonable_event(s.event_start),
                                                              "Reason": reason, "CGRID": s.cgrid,
                                                              "OriginID": s.origin_id})
            return
        # client_protocol 1.0 (OpenSIPS 3.x) and 0 (OpenSIPS 2.3): CGRateS's {EventStart, Reason}, the EventStart
        # carrying the usage charged so far
        usage = max((run.total_usage for run in s.runs), default=0)
        await s.client.call(DISCONNECT_METHODS[protocol], {"EventStart": {**jsonable_event(s.event_start),
                                                                           C.USAGE: usage}, "Reason": reason})

    @property
    def client_protocol(self) -> float:
        """sessions.client_protocol: which names SessionS's back-calls to its BiRPC clients use (CGRateS: 0 for
        OpenSIPS 2.3, 1.0 for OpenSIPS 3.x, 2.0 for its agents' AgentV1)."""
        value = self.cfg.get("client_protocol")
        protocol = 2.0 if value in (None, "") else float(value)
        return 2.0 if protocol >= 2.0 else 1.0 if protocol >= 1.0 else 0.0

    async def _disconnect_after(self, s: Session, delay_ns: int, reason: str) -> None:
        """Let the session use what it was granted, then ask the agent to hang up (terminate_attempts times)."""
        await asyncio.sleep(max(0, delay_ns) / SECOND)
        attempts = max(1, int(self.cfg.get("terminate_attempts") or 1))
        backoff = 0.01
        for i in range(attempts):
            if s.state is State.TERMINATED:
                return
            try:
                await self.disconnect(s, reason)
                return
            except RPCError as exc:
                log.warning("disconnecting session %s (attempt %d/%d): %s", s.cgrid, i + 1, attempts, exc)
                await asyncio.sleep(backoff)
                backoff *= 2
        log.warning("session %s could not be disconnected; terminating it here", s.cgrid)
        async with s.lock:
            if s.state is not State.TERMINATED:
                await self._end_session(s, None, None, None, reason=reason)
        await self._try_write_cdrs(s)

    async def _debit_loop(self, s: Session, interval: int) -> None:
        """Debit every prepaid run one interval ahead; on exhausted credit, disconnect the session."""
        while True:
            tick = DebitTick(interval / SECOND)
            await asyncio.sleep(interval / SECOND)
            async with s.lock:
                tick.ran()
                if s.state is not State.ACTIVE:
                    return
                try:
                    granted = await self._charge(s, interval, None)
                except RPCError as exc:
                    # CGRateS: a failed debit disconnects at once, no warning; its reason is the error's when
                    # the destination is refused, SERVER_ERROR otherwise
                    log.warning("debit of session %s failed: %s; disconnecting", s.cgrid, exc)
                    reason = UNAUTHORIZED_DESTINATION if UNAUTHORIZED_DESTINATION in str(exc) else SERVER_ERROR
                    self._spawn(self._disconnect_after(s, 0, reason), f"disconnect {s.cgrid}")
                    return
            if granted < interval:
                self.warn_low_balance(s, granted, interval)
                self._spawn(self._disconnect_after(s, granted, INSUFFICIENT_CREDIT), f"disconnect {s.cgrid}")
                return

    def warn_low_balance(self, s: Session, granted: int, interval: int) -> None:
        """CGRateS's low balance warning: a debit of the loop that grants less than the interval (the session will
        be disconnected when that is used) and no more than ``min_dur_low_balance`` warns the agent the session
        came from (``AgentV1.WarnDisconnect``) before the disconnect. Once per session: the disconnect follows."""
        low = parse_duration(self.cfg.get("min_dur_low_balance") or 0)
        if low == 0 or granted >= interval:
            return
        if low >= interval:
            log.warning("session %s: no low balance warning: sessions.min_dur_low_balance (%ss) is not below the "
                        "debit interval (%ss); set it lower", s.cgrid, low / SECOND, interval / SECOND)
            return
        if granted <= low:
            self._spawn(self._warn(s), f"low balance warning {s.cgrid}")

    async def _warn(self, s: Session) -> None:
        if s.client is None:
            log.warning("session %s: calling AgentV1.WarnDisconnect requires a bidirectional connection; the session "
                        "did not come over one", s.cgrid)
            return
        try:
            await s.client.call("AgentV1.WarnDisconnect", jsonable_event(s.event_start))
        except RPCError as exc:
            if not str(exc).startswith(NOT_IMPLEMENTED):  # an agent without warnings: fine, as in CGRateS
                log.warning("low balance warning of session %s: %s", s.cgrid, exc)

    # ======================================================================================== TTL & sync

    def _arm_ttl(self, s: Session, opts: dict) -> None:
        """(Re)start the session's TTL timer, as the event's APIOpts (else the config) say."""
        ttl = parse_duration(_opt(opts, "*sessionsTTL", "*sessionTTL") or self.cfg.get("session_ttl") or 0)
        if ttl <= 0:
            return
        max_delay = parse_duration(_opt(opts, "*sessionsTTLMaxDelay", "*sessionTTLMaxDelay")
                                   or self.cfg.get("session_ttl_max_delay") or 0)
        if max_delay > 0:  # spread the expiries of sessions started together, as CGRateS does
            ttl += random.randrange(max_delay)
        if s.ttl_task is not None:
            s.ttl_task.cancel()
        usage = _opt(opts, "*sessionsTTLUsage", "*sessionTTLUsage") or self.cfg.get("session_ttl_usage")
        last_used = _opt(opts, "*sessionsTTLLastUsed", "*sessionTTLLastUsed") or self.cfg.get("session_ttl_last_used")
        s.ttl_task = self._spawn(self._ttl_expire(s, ttl, parse_duration(usage) if usage else None,
                                                  parse_duration(last_used) if last_used else None),
                                 f"ttl {s.cgrid}")

    async def _ttl_expire(self, s: Session, ttl: int, ttl_usage: int | None, ttl_last_used: int | None) -> None:
        await asyncio.sleep(ttl / SECOND)
        log.info("session %s: no update within the TTL; terminating", s.cgrid)
        async with s.lock:
            if s.state is State.TERMINATED:
                return
            usage = ttl_usage if ttl_usage is not None else ttl
            try:
                await self._charge(s, usage, ttl_last_used, force=True)
            except RPCError as exc:
                log.warning("TTL debit of session %s: %s", s.cgrid, exc)
            s.state = State.ACTIVE if s.state is State.DISCONNECTING else s.state
            s.apply(Event.TTL_EXPIRED)
            await self._end_session(s, None, None, None, reason="TTL")
        await self._try_write_cdrs(s)

    async def _sync_loop(self, interval: int) -> None:
        while True:
            await asyncio.sleep(interval / SECOND)
            try:
                await self.sync_sessions()
            except Exception:
                log.exception("session sync failed")

    @rpc("SessionSv1.SyncSessions")
    async def sync_sessions_rpc(self, args: Any) -> str:
        await self.sync_sessions()
        return "OK"

    async def sync_sessions(self) -> None:
        """CGRateS's channel sync: ask every connected BiRPC client which sessions it still has and terminate ours
        that none of them has. Only sessions that came from a bidirectional client are considered (one that came
        over plain JSON-RPC has nobody to ask), and a round in which a client cannot answer ends nothing."""
        sessions = [s for s in self.active.values() if s.client is not None]
        if not sessions:
            return
        method = "AgentV1.GetActiveSessionIDs" if self.client_protocol >= 2.0 else "SessionSv1.GetActiveSessionIDs"
        timeout = parse_duration(self.cfg.get("channel_sync_timeout") or 0) / SECOND or None
        alive: set[str] = set()
        for key, client in list(self.clients.items()):
            try:
                ids = await client.call(method, "", timeout=timeout)
            except RPCError as exc:
                if _keeps_no_sessions(exc):
                    continue
                log.warning("session sync: client %s did not answer %s (%s); no session is ended this round",
                            key, method, exc)
                return
            for i in ids or []:
                origin_id, host = C.as_string(i.get("OriginID")), C.as_string(i.get("OriginHost"))
                alive.add(C.event_cgrid({C.ORIGIN_ID: origin_id, C.ORIGIN_HOST: host}))
                if not host:  # an agent that does not know the host the session was given still names the call
                    alive.add(origin_id)
        for s in sessions:
            if s.cgrid in alive or (s.origin_id and s.origin_id in alive):
                continue
            log.info("session %s is gone at its agent; terminating", s.cgrid)
            async with s.lock:
                if s.state is not State.TERMINATED:
                    await self._end_session(s, None, None, None, reason="STALE")
            await self._try_write_cdrs(s)
