"""Sessions survive a crash: a snapshot per session plus the journal RALs writes with every debit.

- When a session starts, and after each step that charged it, SessionS stores a snapshot (kind
  ``SESSION_SNAPSHOT``) and drops the journal records the snapshot now includes — one atomic batch.
- RALs writes a journal record (kind ``SESSION_JOURNAL``, key ``cgrid:run:seq``) in the same atomic write as
  the account change of every debit, refund and rounding made for a session (the CallDescriptor's journal key).
- On start, each snapshot is loaded and the journal records written after it are applied, so every
  acknowledged debit is accounted for. Open sessions are restored as active; closed ones get their CDRs
  written (CDRs are unique on CGRID+RunID, so this never doubles one) and are forgotten.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

from pycgrates.engine.rating import api
from pycgrates.engine.rating.callcost import CallCost
from pycgrates.engine.sessions.costs import RunCost
from pycgrates.engine.sessions.session import Session, SRun, State
from pycgrates.engine.storage.base import RALS_JOURNAL

log = logging.getLogger("cgr.sessions")

SESSION_SNAPSHOT = "ssn"
SESSION_JOURNAL = RALS_JOURNAL

#: where snapshots of earlier versions kept SessionS's own state: inside the session's APIOpts
_LEGACY_PRIVATE = ("_seq", "_journal", "_init_max_usage", "_last_update_id", "_last_update_max_usage")


def _seq_of(key: str) -> int:
    try:
        return int(key.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


def _last_grant(data: dict, legacy: dict) -> int:
    """What was granted last; older snapshots kept the Initiate's and the last Update's grants apart."""
    if "MaxUsage" in data:
        return int(data["MaxUsage"] or 0)
    update_id = data.get("LastUpdateID", legacy.get("_last_update_id"))
    if update_id:
        return int(data.get("LastUpdateMaxUsage", legacy.get("_last_update_max_usage")) or 0)
    return int(data.get("InitMaxUsage", legacy.get("_init_max_usage")) or 0)


class Recovery:
    def __init__(self, service: Any) -> None:
        self.service = service
        self.dm = service.ctx.dm

    def _state(self, s: Session) -> dict:
        return {
            "CGRID": s.cgrid, "Tenant": s.tenant, "OriginID": s.origin_id, "OriginHost": s.origin_host,
            "EventStart": s.event_start, "Opts": s.opts, "DebitInterval": s.debit_interval,
            "State": s.state.value, "Chargeable": s.chargeable, "Seq": s.journal_seq,
            "MaxUsage": s.max_usage, "Runs": [r.to_json() for r in s.runs],
            "NodeID": self.node_id,
        }

    @staticmethod
    def _journaled(s: Session) -> list[tuple]:
        """Removal of the journal records the snapshot being written now includes."""
        ops: list[tuple] = [("remove", SESSION_JOURNAL, k, None) for k in s.journal_pending]
        s.journal_pending = []
        return ops

    async def snapshot(self, s: Session, passive: bool = False) -> None:
        state = self._state(s)
        if passive:
            state["Passive"] = True
        await self.dm.write_batch([("set", SESSION_SNAPSHOT, s.cgrid, state), *self._journaled(s)])
        if not passive:
            self.service.replication.sent(s.cgrid, state)

    async def forget(self, s: Session) -> None:
        ops: list[tuple] = [("remove", SESSION_SNAPSHOT, s.cgrid, None), *self._journaled(s)]
        for k in await self.dm.keys(SESSION_JOURNAL, s.cgrid + ":"):
            ops.append(("remove", SESSION_JOURNAL, k, None))
        await self.dm.write_batch(ops)
        self.service.replication.sent(s.cgrid, None)

    async def restore(self) -> None:
        """Restore this engine's sessions (a snapshot written by another engine sharing the DataDB, which names its
        ``general.node_id``, is that engine's: it is left to it, or to a take-over through replication)."""
        keys = await self.dm.keys(SESSION_SNAPSHOT)
        restored = closed = 0
        for cgrid in keys:
            data = await self.dm.get(SESSION_SNAPSHOT, cgrid)
            if not data or not self.owned(data):
                continue
            if data.get("Passive"):  # deactivated here: kept as a passive copy
                self.service.replication.keep(data)
                continue
            if await self.resume(await self.load(cgrid, data)):
                restored += 1
            else:
                closed += 1
        if restored or closed:
            log.warning("restored %d open sessions and closed %d after restart", restored, closed)

    def owned(self, data: dict) -> bool:
        """Whether a snapshot is this engine's: it names no node, or this one."""
        node = data.get("NodeID") or ""
        return not node or node == self.node_id

    @property
    def node_id(self) -> str:
        """``general.node_id`` as configured ("" when the engine generates one at each start)."""
        return str(self.service._general("node_id", "") or "")

    async def load(self, cgrid: str, data: dict) -> Session:
        """A session from its snapshot with the journal records RALs wrote after it applied."""
        s = self._session(data)
        journal = await self.dm.keys(SESSION_JOURNAL, cgrid + ":")
        seq = int(data.get("Seq") or 0)
        for key in journal:
            if _seq_of(key) > seq:
                self._apply(s, key, await self.dm.get(SESSION_JOURNAL, key))
                seq = max(seq, _seq_of(key))
        s.journal_seq = seq
        s.journal_pending = list(journal)
        return s

    async def resume(self, s: Session) -> bool:
        """Make a loaded session this engine's: active again with its debit loop and TTL (True), or, when it had
        ended, its CDRs written (False)."""
        service = self.service
        if s.state is State.TERMINATED:
            service.closed[s.cgrid] = (s, time.monotonic())
            await self.snapshot(s)
            await service._try_write_cdrs(s)
            return False
        s.state = State.ACTIVE
        service.active[s.cgrid] = s
        await self.snapshot(s)
        if s.debit_interval > 0 and any(r.prepaid for r in s.runs):
            loop = service._debit_loop(s, s.debit_interval)
            s.tasks.append(service._spawn(loop, f"debit loop {s.cgrid}"))
        service._arm_ttl(s, s.opts)
        return True

    @staticmethod
    def _session(data: dict) -> Session:
        opts = dict(data.get("Opts") or {})
        legacy = {k: opts.pop(k) for k in _LEGACY_PRIVATE if k in opts}
        return Session(
            cgrid=data["CGRID"], tenant=data.get("Tenant", ""), origin_id=data.get("OriginID", ""),
            origin_host=data.get("OriginHost", ""), event_start=data.get("EventStart") or {},
            opts=opts, runs=[SRun.from_json(r) for r in data.get("Runs") or []],
            debit_interval=int(data.get("DebitInterval") or 0), state=State(data.get("State", "active")),
            chargeable=bool(data.get("Chargeable", True)), last_activity=time.monotonic(),
            max_usage=_last_grant(data, legacy),
        )

    @staticmethod
    def _apply(s: Session, key: str, entry: Any) -> None:
        """Replay one journal record written by RALs after the snapshot."""
        if not isinstance(entry, dict):
            return
        run_id = key[len(s.cgrid) + 1 :].rsplit(":", 1)[0]
        run = next((r for r in s.runs if r.run_id == run_id), None)
        if run is None:
            log.error("journal %s names run %s, unknown to the session snapshot", key, run_id)
            return
        method = entry.get("Method", "")
        if method in (api.MAX_DEBIT.name, api.DEBIT.name):
            cc = CallCost.from_json(entry.get("Reply") or {})
            run.cost.add(cc)
            charged = sum(RunCost.span_usage(ts) for ts in cc.Timespans)
            run.loop_index += 1
            run.total_usage += charged
            run.last_usage = charged
            cd = run.cd
            cd.TimeStart = cd.TimeEnd
            cd.TimeEnd = cd.TimeStart + charged
            cd.DurationIndex += charged
        elif method == api.REFUND_INCREMENTS.name:
            back = sum(int(i.get("Duration") or 0) * int(i.get("CompressFactor") or 1)
                       for i in entry.get("Increments") or [])
            run.cost.trim_to(max(0, run.cost.usage - back))
        elif method == api.REFUND_ROUNDING.name:
            run.cost.rounding_adjust += sum((Decimal(str(i.get("Cost") or 0)) for i in entry.get("Increments") or []),
                                            Decimal(0))

