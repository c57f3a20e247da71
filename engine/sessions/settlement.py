"""Settling sessions: charging the runs, ending a session (extra debit or refund, rounding, Usage and Cost on the
runs' events), the closed sessions that wait for their CDRs, and writing CDRs and session costs.

SessionS reaches CDRs only through ``sessions.cdrs_conns`` (:mod:`engine.cdrs.api`): the CDRs themselves, the
session costs, and the check whether a session's CDRs are stored already — a check that fails is an error.

A mixin of :class:`engine.sessions.service.SessionService`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pycgrates.engine.cdrs import api as cdrs_api
from pycgrates.engine.cdrs.api import ArgV1ProcessEvent, AttrCDRSStoreSMCost, CDRsQuery, SMCost
from pycgrates.engine.models import cdr as C
from pycgrates.engine.rating.callcost import event_cost_of
from pycgrates.engine.rpc.errors import AccountDisabled, Exists, InsufficientCredit, RPCError
from pycgrates.engine.sessions.session import Event, Session, SRun, State
from pycgrates.engine.storage.base import CDRFilter
from pycgrates.engine.units import SECOND, format_time, parse_duration

log = logging.getLogger("cgr.sessions")

#: request types whose CDRs are rated by CDRs (SessionS did not charge them)
UNRATED_TYPES = ("*postpaid", "*pseudoprepaid", "*rated")


def jsonable_event(event: dict) -> dict:
    """The event with times as CGRateS writes them (for CDRs and the agents)."""
    out = {}
    for k, v in event.items():
        if hasattr(v, "isoformat"):
            v = format_time(v)
        out[k] = v
    return out


class Settlement:
    async def _charge(self, s: Session, usage: int, last_used: int | None, force: bool = False) -> int:
        """Debit every prepaid run for ``usage``; MaxUsage is the least any run was granted."""
        max_usage: int | None = None
        for run in s.runs:
            if not run.prepaid or not s.chargeable:
                granted = usage
            else:
                try:
                    granted = await self.charger.debit(s, run, usage, last_used)
                except (InsufficientCredit, AccountDisabled):
                    if force:
                        raise
                    granted = 0
            max_usage = granted if max_usage is None else min(max_usage, granted)
        self.replication.changed(s)
        return usage if max_usage is None else max_usage

    async def _end_session(self, s: Session, total_usage: int | None, last_used: int | None, answer_time: Any,
                           *, reason: str = "") -> None:
        """Settle every run (extra debit or refund, rounding), set Usage/Cost on the runs' events, close. A session
        SessionS ends itself (a ``reason``: TTL, forced disconnect, stale, shutdown) also gives back its resources,
        as nobody else will."""
        s.stop_timers()
        min_dur = parse_duration(self.cfg.get("min_call_duration") or 0)
        for run in s.runs:
            if total_usage is not None:
                run.total_usage = total_usage
            elif last_used is not None and run.last_usage != last_used:
                run.total_usage += last_used - run.last_usage
                run.last_usage = last_used
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
        if reason:
            await self._release_session_resources(s)

    @staticmethod
    def _finish_run_event(s: Session, run: SRun, answer_time: Any) -> None:
        ev = run.event
        ev[C.USAGE] = run.total_usage
        if answer_time:
            ev[C.ANSWER_TIME] = answer_time
        if run.prepaid and s.chargeable:
            ev[C.COST] = float(run.cost.cost)
            ev[C.COST_DETAILS] = event_cost_of(run.cost.as_call_cost(run.cd), s.cgrid, run.run_id)
            ev[C.COST_SOURCE] = "*sessions"
            ev[C.PRE_RATED] = True

    # ------------------------------------------------------------------------------------- closed sessions

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

    # ------------------------------------------------------------------------------------- through CDRs

    async def _cdr_exists(self, cgrid: str) -> bool:
        """Whether CDRs holds CDRs of the session (False without CDRs: none of them can exist)."""
        conn = self._conn("cdrs_conns")
        if conn is None:
            return False
        return await cdrs_api.GET_CDRS_COUNT.call(conn, CDRsQuery(CDRFilter(cgrids=[cgrid]))) > 0

    async def _store_session_costs(self, s: Session) -> None:
        conn = self._conn("cdrs_conns")
        if conn is None:
            log.warning("session %s: store_session_costs needs sessions.cdrs_conns; costs not stored", s.cgrid)
            return
        for run in s.runs:
            if not run.prepaid:
                continue
            cost = SMCost(CGRID=s.cgrid, RunID=run.run_id, OriginHost=s.origin_host, OriginID=s.origin_id,
                          CostSource="*sessions", Usage=run.total_usage, CostDetails=run.event.get(C.COST_DETAILS))
            try:
                await cdrs_api.STORE_SESSION_COST.call(conn, AttrCDRSStoreSMCost(Cost=cost))
            except RPCError as exc:
                log.warning("storing the cost of session %s run %s: %s", s.cgrid, run.run_id, exc)

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
                await cdrs_api.PROCESS_EVENT.call(cdrs, ArgV1ProcessEvent(Flags=flags, Tenant=s.tenant, ID=s.cgrid,
                                                                          Event=jsonable_event(ev)))
            except Exists:
                pass
            except RPCError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        s.cdr_written = True
        self.closed.pop(s.cgrid, None)
        await self.recovery.forget(s)

    async def _try_write_cdrs(self, s: Session) -> None:
        if self._conn("cdrs_conns") is None:
            return
        try:
            await self.write_cdrs(s)
        except RPCError as exc:
            log.warning("CDRs of session %s: %s", s.cgrid, exc)
