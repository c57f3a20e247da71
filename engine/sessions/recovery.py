"""Sessions survive a crash: a snapshot per session plus the journal RALs writes with every debit.

- When a session starts, and after each step that charged it, SessionS stores a snapshot (kind
  ``SESSION_SNAPSHOT``) and drops the journal records the snapshot now includes — one atomic batch.
- RALs writes a journal record (kind ``SESSION_JOURNAL``, key ``cgrid:run:seq``) in the same atomic write as
  the account change of every debit, refund and rounding made for a session (``APIOpts["*journalKey"]``).
- On start, each snapshot is loaded and the journal records written after it are applied, so every
  acknowledged debit is accounted for. Open sessions are restored as active; closed ones get their CDRs
  written (CDRs are unique on CGRID+RunID, so this never doubles one) and are forgotten.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

from pycgrates.engine.sessions.costs import RunCost
from pycgrates.engine.sessions.session import Session, SRun, State
from pycgrates.engine.storage.base import RALS_JOURNAL

log = logging.getLogger("cgr.sessions")

SESSION_SNAPSHOT = "ssn"
SESSION_JOURNAL = RALS_JOURNAL


def _seq_of(key: str) -> int:
    try:
        return int(key.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


class Recovery:
    def __init__(self, service: Any) -> None:
        self.service = service
        self.dm = service.ctx.dm

    def _state(self, s: Session) -> dict:
        return {
            "CGRID": s.cgrid, "Tenant": s.tenant, "OriginID": s.origin_id, "OriginHost": s.origin_host,
            "EventStart": s.event_start, "Opts": {k: v for k, v in s.opts.items() if k != "_journal"},
            "DebitInterval": s.debit_interval, "State": s.state.value, "Chargeable": s.chargeable,
            "Seq": int(s.opts.get("_seq", 0)), "Runs": [r.to_json() for r in s.runs],
        }

    async def snapshot(self, s: Session) -> None:
        ops: list[tuple] = [("set", SESSION_SNAPSHOT, s.cgrid, self._state(s))]
        ops += [("remove", SESSION_JOURNAL, k, None) for k in s.opts.pop("_journal", [])]
        await self.dm.write_batch(ops)

    async def forget(self, s: Session) -> None:
        ops: list[tuple] = [("remove", SESSION_SNAPSHOT, s.cgrid, None)]
        ops += [("remove", SESSION_JOURNAL, k, None) for k in s.opts.pop("_journal", [])]
        for k in await self.dm.keys(SESSION_JOURNAL, s.cgrid + ":"):
            ops.append(("remove", SESSION_JOURNAL, k, None))
        await self.dm.write_batch(ops)

    async def restore(self) -> None:
        keys = await self.dm.keys(SESSION_SNAPSHOT)
        restored = closed = 0
        for cgrid in keys:
            data = await self.dm.get(SESSION_SNAPSHOT, cgrid)
            if not data:
                continue
            s = self._session(data)
            journal = await self.dm.keys(SESSION_JOURNAL, cgrid + ":")
            seq = int(data.get("Seq") or 0)
            for key in journal:
                if _seq_of(key) > seq:
                    self._apply(s, key, await self.dm.get(SESSION_JOURNAL, key))
                    seq = max(seq, _seq_of(key))
            s.opts["_seq"] = seq
            s.opts["_journal"] = list(journal)
            if s.state is State.TERMINATED:
                self.service.closed[cgrid] = (s, time.monotonic())
                await self.snapshot(s)
                await self.service._try_write_cdrs(s)
                closed += 1
                continue
            s.state = State.ACTIVE
            self.service.active[cgrid] = s
            await self.snapshot(s)
            if s.debit_interval > 0 and any(r.prepaid for r in s.runs):
                s.tasks.append(self.service._spawn(self.service._debit_loop(s, s.debit_interval)))
            self.service._arm_ttl(s, {"APIOpts": s.opts})
            restored += 1
        if restored or closed:
            log.warning("restored %d open sessions and closed %d after restart", restored, closed)

    @staticmethod
    def _session(data: dict) -> Session:
        return Session(
            cgrid=data["CGRID"], tenant=data.get("Tenant", ""), origin_id=data.get("OriginID", ""),
            origin_host=data.get("OriginHost", ""), event_start=data.get("EventStart") or {},
            opts=dict(data.get("Opts") or {}), runs=[SRun.from_json(r) for r in data.get("Runs") or []],
            debit_interval=int(data.get("DebitInterval") or 0), state=State(data.get("State", "active")),
            chargeable=bool(data.get("Chargeable", True)), last_activity=time.monotonic(),
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
        if method in ("Responder.MaxDebit", "Responder.Debit"):
            cc = entry.get("Reply") or {}
            run.cost.add(cc)
            charged = sum(RunCost.span_usage(ts) for ts in cc.get("Timespans") or [])
            run.loop_index += 1
            run.total_usage += charged
            run.last_usage = charged
            cd = run.cd
            cd["TimeStart"] = cd.get("TimeEnd", cd.get("TimeStart"))
            cd["TimeEnd"] = int(cd["TimeStart"]) + charged
            cd["DurationIndex"] = int(cd.get("DurationIndex") or 0) + charged
        elif method == "Responder.RefundIncrements":
            back = sum(int(i.get("Duration") or 0) * int(i.get("CompressFactor") or 1)
                       for i in entry.get("Increments") or [])
            run.cost.trim_to(max(0, run.cost.usage - back))
        elif method == "Responder.RefundRounding":
            run.cost.rounding_adjust += sum((Decimal(str(i.get("Cost") or 0)) for i in entry.get("Increments") or []),
                                            Decimal(0))

