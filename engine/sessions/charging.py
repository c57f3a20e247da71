"""Debits, refunds and rounding of a session run, through RALs (the ``Responder`` methods on a Conn).

Each accounting call carries ``APIOpts["*journalKey"]``: RALs writes a journal record of the operation in the
same atomic DataDB write as the account change. A session's snapshot plus the journal records after it are
enough to rebuild what every run was charged after a crash (see :mod:`engine.sessions.recovery`).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from pycgrates.engine.models.tariffplan import time_from_json, time_to_json
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.sessions.costs import RunCost, compress
from pycgrates.engine.sessions.session import Session, SRun

log = logging.getLogger("cgr.sessions")

JOURNAL_KEY = "*journalKey"


def journal_key(session: Session, run: SRun, seq: int) -> str:
    return f"{session.cgrid}:{run.run_id}:{seq:08d}"


class Charger:
    """Charging of session runs; holds the RALs Conn and the per-session journal sequence."""

    def __init__(self, rals: Any, rounding_decimals: int = 5) -> None:
        self.rals = rals
        self.rounding_decimals = rounding_decimals

    def _opts(self, session: Session, run: SRun) -> dict:
        """The call's APIOpts: the session's options plus a fresh journal key for this operation."""
        session.opts["_seq"] = int(session.opts.get("_seq", 0)) + 1
        key = journal_key(session, run, session.opts["_seq"])
        session.opts.setdefault("_journal", []).append(key)
        return {**{k: v for k, v in session.opts.items() if not k.startswith("_")}, JOURNAL_KEY: key}

    async def debit(self, session: Session, run: SRun, dur: int, last_used: int | None) -> int:
        """Reserve ``dur`` more usage for a run; return the usage granted (CGRateS debitSession)."""
        rest = run.debit_reserve(dur, last_used)
        if rest == 0:
            return dur
        from_reserve = dur - rest
        cd = run.cd
        if run.loop_index > 0:
            cd["TimeStart"] = cd["TimeEnd"]
        cd["TimeEnd"] = int(cd["TimeStart"]) + rest
        cd["DurationIndex"] = int(cd.get("DurationIndex") or 0) + rest
        cd["LoopIndex"] = run.loop_index
        args = {**wire_cd(cd), "CgrID": session.cgrid, "RunID": run.run_id, "APIOpts": self._opts(session, run)}
        cc = await self.rals.call("Responder.MaxDebit", args)
        charged = int(cc.get("RatedUsage") or 0) or sum(
            RunCost.span_usage(ts) for ts in cc.get("Timespans") or []
        )
        if cc.get("Timespans"):
            cd["TimeEnd"] = _time_end(cc, cd["TimeEnd"])
        if charged > rest:
            run.extra_duration = charged - rest
        run.last_usage = dur if charged >= rest else charged + from_reserve
        cd["DurationIndex"] = int(cd["DurationIndex"]) - rest + charged
        cd["MaxCostSoFar"] = float(Decimal(str(cd.get("MaxCostSoFar") or 0)) + Decimal(str(cc.get("Cost") or 0)))
        run.loop_index += 1
        run.total_usage += run.last_usage
        run.cost.add(cc)
        return run.last_usage

    async def debit_exact(self, session: Session, run: SRun, usage: int) -> None:
        """Charge usage that happened beyond what was reserved (Responder.Debit: all or error)."""
        cd = run.cd
        if run.loop_index > 0:
            cd["TimeStart"] = cd["TimeEnd"]
        cd["TimeEnd"] = int(cd["TimeStart"]) + usage
        cd["DurationIndex"] = int(cd.get("DurationIndex") or 0) + usage
        cd["LoopIndex"] = run.loop_index
        args = {**wire_cd(cd), "CgrID": session.cgrid, "RunID": run.run_id, "DenyNegativeAccount": False,
                "APIOpts": self._opts(session, run)}
        cc = await self.rals.call("Responder.Debit", args)
        run.loop_index += 1
        run.cost.add(cc)

    async def refund_to(self, session: Session, run: SRun, keep_usage: int) -> None:
        """Give back the increments charged beyond ``keep_usage`` (CGRateS refundSession)."""
        removed = run.cost.trim_to(keep_usage)
        paid = [inc for inc in removed if inc.get("BalanceInfo")]
        if not paid:
            return
        args = {"Tenant": run.cd.get("Tenant"), "Account": run.cd.get("Account"), "ToR": run.cd.get("ToR"),
                "Category": run.cd.get("Category"), "Subject": run.cd.get("Subject"),
                "Destination": run.cd.get("Destination"), "CgrID": session.cgrid, "RunID": run.run_id,
                "Increments": compress(paid), "APIOpts": self._opts(session, run)}
        await self.rals.call("Responder.RefundIncrements", args)

    async def round_cost(self, session: Session, run: SRun) -> None:
        """Round the run's total as its rates say and charge (or give back) the difference."""
        diff = run.cost.rounding_difference() - run.cost.rounding_adjust
        if diff == 0:
            return
        payer = run.cost.last_monetary_payer()
        if payer is None:
            run.cost.rounding_adjust += diff
            return
        args = {"Tenant": run.cd.get("Tenant"), "Account": run.cd.get("Account"), "ToR": run.cd.get("ToR"),
                "CgrID": session.cgrid, "RunID": run.run_id,
                "Increments": [{"Duration": 0, "Cost": float(diff), "CompressFactor": 1, "BalanceInfo": payer}],
                "APIOpts": self._opts(session, run)}
        try:
            await self.rals.call("Responder.RefundRounding", args)
        except RPCError as exc:
            log.warning("rounding of session %s run %s not charged: %s", session.cgrid, run.run_id, exc)
            return
        run.cost.rounding_adjust += diff


def wire_cd(cd: dict) -> dict:
    """The CallDescriptor as CGRateS sends it: times RFC3339 (to the nanosecond)."""
    return {**cd, "TimeStart": time_to_json(int(cd["TimeStart"])), "TimeEnd": time_to_json(int(cd["TimeEnd"]))}


def _time_end(cc: dict, default: int) -> int:
    ts = (cc.get("Timespans") or [])[-1]
    end = ts.get("TimeEnd")
    if isinstance(end, int):
        return end
    if not end:
        return default
    return time_from_json(end)
