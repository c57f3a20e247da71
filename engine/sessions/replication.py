"""Session replication: this engine's sessions copied to standby engines, and a standby taking them over.

- With ``sessions.replication_conns``, every snapshot SessionS writes of a session (at start and after each step
  that charged it, :mod:`engine.sessions.recovery`) is sent as ``SessionSv1.SetPassiveSession`` to those engines,
  and its end as a SetPassiveSession with an empty EventStart (CGRateS's removal). Sending runs in the background
  and coalesces: a standby that is slow gets the newest state of each session, never an older one after a newer.
- A standby keeps the copies as passive sessions (``GetPassiveSessions``). An UpdateSession or TerminateSession
  for a session it holds passive — the agent's traffic moved over because the active engine is gone — activates
  it first, as CGRateS's getActivateSession: debit loop and TTL re-armed, the charges made so far carried over.
  Where the engines share the DataDB, the activation reads the session's stored snapshot and the journal RALs
  wrote with each debit, so a debit acknowledged after the last copy was sent is counted too.
- ``ActivateSessions``/``DeactivateSessions`` move sessions between the two lists by hand, ``ReplicateSessions``
  sends them to the connections named, ``BackupActiveSessions`` writes every active session's snapshot again.

Snapshots name ``general.node_id`` when it is configured: engines that share a DataDB need one each, so that a
restarted engine restores its own sessions and leaves the others' to them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pycgrates.engine.rpc.errors import NotFound, PartiallyExecuted, RPCError, mandatory_ie_missing
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.sessions.recovery import SESSION_SNAPSHOT
from pycgrates.engine.sessions.session import Session

log = logging.getLogger("cgr.sessions")

SET_PASSIVE = "SessionSv1.SetPassiveSession"
#: how long a stopping engine waits for the copies still to be sent
FLUSH_SECONDS = 2.0


def passive_payload(cgrid: str, state: dict | None) -> dict:
    """SetPassiveSession's argument: CGRateS's Session fields, with this engine's whole snapshot beside them (what
    a standby needs to resume it); an ended session is CGRateS's removal, an empty EventStart."""
    if state is None:
        return {"CGRID": cgrid, "EventStart": None}
    return {"CGRID": cgrid, "Tenant": state.get("Tenant", ""), "ResourceID": state.get("OriginID", ""),
            "ClientConnID": "", "EventStart": state.get("EventStart") or {},
            "DebitInterval": state.get("DebitInterval", 0), "Chargeable": state.get("Chargeable", True),
            "OptsStart": state.get("Opts") or {}, "Snapshot": state}


class Replication:
    """The passive copies held here and the copies of this engine's sessions on their way to the standbys."""

    def __init__(self, service: Any) -> None:
        self.service = service
        #: CGRID → the snapshot of a session another engine runs (or one deactivated here)
        self.passive: dict[str, dict] = {}
        self._outbox: dict[str, dict | None] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set when every queued copy has been sent
        self._sender: asyncio.Task | None = None
        self._activating = asyncio.Lock()

    def _conn(self) -> Any:
        return self.service._conn("replication_conns")

    def start(self) -> None:
        if self.service.cfg.get("replication_conns") and self._sender is None:
            self._sender = self.service._spawn(self._send_loop(), "session replication")

    async def stop(self) -> None:
        if self._sender is None:
            return
        if self._outbox:
            self._wake.set()
            try:
                await asyncio.wait_for(self._drained(), FLUSH_SECONDS)
            except TimeoutError:
                log.warning("session replication: %d copies not sent at shutdown", len(self._outbox))
        self._sender.cancel()
        self._sender = None

    async def _drained(self) -> None:
        await self._idle.wait()

    def sent(self, cgrid: str, state: dict | None) -> None:
        """Queue the newest state of a session (None: it ended) for the standbys."""
        if self._sender is None:
            return
        self._outbox.pop(cgrid, None)  # re-queued at the end: the standby gets sessions in the order they changed
        self._outbox[cgrid] = state
        self._idle.clear()
        self._wake.set()

    def changed(self, s: Session) -> None:
        """A session was charged: its newest state goes to the standbys (the DataDB has it in RALs' journal)."""
        if self._sender is not None:
            self.sent(s.cgrid, self.service.recovery._state(s))

    async def _send_loop(self) -> None:
        failed = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                cgrid = next(iter(self._outbox))
                state = self._outbox.pop(cgrid)
                conn = self._conn()
                if conn is None:
                    continue
                try:
                    await conn.call(SET_PASSIVE, passive_payload(cgrid, state))
                except (RPCError, OSError, TimeoutError) as exc:
                    failed += 1
                    if failed == 1 or failed % 1000 == 0:
                        log.warning("session replication: %s not copied (%s; %d failed so far)", cgrid, exc, failed)
            if not self._outbox:
                self._idle.set()

    def keep(self, state: dict) -> None:
        """Hold a snapshot as a passive session."""
        self.passive[state["CGRID"]] = state

    async def take_over(self, cgrid: str) -> Session | None:
        """The session, activated, when it is held here as passive; None otherwise."""
        if cgrid not in self.passive:
            return None
        return await self.activate(cgrid)

    async def activate(self, cgrid: str) -> Session | None:
        """Make a passive session (or one a stopped engine left in the shared DataDB) active here."""
        service = self.service
        async with self._activating:
            s = service.active.get(cgrid)
            if s is not None:
                return s
            copy = self.passive.pop(cgrid, None)
            stored = await service.recovery.dm.get(SESSION_SNAPSHOT, cgrid)
            data = stored or copy
            if not data or "Runs" not in data:
                if copy is not None:
                    log.error("passive session %s came without this engine's snapshot: it cannot be resumed", cgrid)
                return None
            data = {**data, "Passive": False}
            s = await service.recovery.load(cgrid, data)
            resumed = await service.recovery.resume(s)
            log.warning("session %s taken over from %s", cgrid, data.get("NodeID") or "a passive copy")
            return s if resumed else None

    async def deactivate(self, cgrid: str) -> bool:
        """Make an active session passive here: its timers stop, its snapshot stays, nothing is settled."""
        service = self.service
        s = service.active.get(cgrid)
        if s is None:
            return False
        async with s.lock:
            s.stop_timers()
            service.active.pop(cgrid, None)
            await service.recovery.snapshot(s, passive=True)
            self.passive[cgrid] = {**service.recovery._state(s), "Passive": True}
        return True


class Replicated:
    """The SessionSv1 replication methods (a mixin of :class:`engine.sessions.service.SessionService`)."""

    @rpc(SET_PASSIVE)
    async def set_passive_session(self, args: dict) -> str:
        cgrid = str((args or {}).get("CGRID") or "")
        if not cgrid:
            raise mandatory_ie_missing("CGRID")
        if not args.get("EventStart"):  # CGRateS: an empty EventStart removes the passive copy
            self.replication.passive.pop(cgrid, None)
            return "OK"
        s = self.active.get(cgrid)
        if s is not None:  # CGRateS: the engine sending the copy runs it now; this one lets it go
            s.stop_timers()
            self.active.pop(cgrid, None)
        self.replication.passive[cgrid] = args.get("Snapshot") or dict(args)
        return "OK"

    async def _passive_matching(self, args: dict) -> list[Session]:
        held = [self.recovery._session(state) for state in list(self.replication.passive.values()) if "Runs" in state]
        return await self._matching(args, held)

    @rpc("SessionSv1.GetPassiveSessions")
    async def get_passive_sessions(self, args: dict) -> list[dict]:
        out = [e for s in await self._passive_matching(args) for e in self._external(s)]
        if not out:
            raise NotFound()
        return out

    @rpc("SessionSv1.GetPassiveSessionsCount")
    async def get_passive_sessions_count(self, args: dict) -> int:
        return sum(len(s.runs) for s in await self._passive_matching(args))

    @staticmethod
    def _ids(args: Any) -> list[str]:
        return [str(i) for i in ((args or {}).get("IDs") or [])] if isinstance(args, dict) else []

    @rpc("SessionSv1.ActivateSessions")
    async def activate_sessions(self, args: dict) -> str:
        ids = self._ids(args) or list(self.replication.passive)
        missing = [cgrid for cgrid in ids if await self.replication.activate(cgrid) is None]
        if missing:
            log.warning("ActivateSessions: no passive session %s", ", ".join(missing))
            raise PartiallyExecuted()
        return "OK"

    @rpc("SessionSv1.DeactivateSessions")
    async def deactivate_sessions(self, args: dict) -> str:
        ids = self._ids(args) or list(self.active)
        missing = [cgrid for cgrid in ids if not await self.replication.deactivate(cgrid)]
        if missing:
            log.warning("DeactivateSessions: no active session %s", ", ".join(missing))
            raise PartiallyExecuted()
        return "OK"

    @rpc("SessionSv1.ReplicateSessions")
    async def replicate_sessions(self, args: dict) -> str:
        """Send the active (or, with Passive, the passive) sessions — one CGRID or all — to ConnIDs."""
        conn = self.ctx.conns.get(list((args or {}).get("ConnIDs") or []))
        if conn is None:
            raise mandatory_ie_missing("ConnIDs")
        cgrid = str(args.get("CGRID") or "")
        if args.get("Passive"):
            states = [st for k, st in self.replication.passive.items() if not cgrid or k == cgrid]
        else:
            states = [self.recovery._state(s) for s in list(self.active.values()) if not cgrid or s.cgrid == cgrid]
        for state in states:
            await conn.call(SET_PASSIVE, passive_payload(state["CGRID"], state))
        return "OK"

    @rpc("SessionSv1.BackupActiveSessions")
    async def backup_active_sessions(self, args: Any) -> int:
        """Write every active session's snapshot again; the number written."""
        count = 0
        for s in list(self.active.values()):
            async with s.lock:
                if self.active.get(s.cgrid) is s:
                    await self.recovery.snapshot(s)
                    count += 1
        return count
