"""Debits, refunds and rounding of a session run, through RALs (the typed Responder methods on a Conn).

Each accounting call carries a journal key of SessionS's own (``journal_key`` of the CallDescriptor,
``APIOpts["*journalKey"]`` on the wire; a key the client put in its APIOpts is never forwarded): RALs writes a
journal record of the operation in the same atomic DataDB write as the account change. A session's snapshot
plus the journal records after it are enough to rebuild what every run was charged after a crash (see
:mod:`engine.sessions.recovery`).
"""

from __future__ import annotations

import logging
from typing import Any

from pycgrates.engine.rating import api
from pycgrates.engine.rating.calldesc import CallDescriptor
from pycgrates.engine.rating.timespans import Increment, compress_increments
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.sessions.costs import RunCost
from pycgrates.engine.sessions.session import Session, SRun

log = logging.getLogger("cgr.sessions")


def journal_key(session: Session, run: SRun, seq: int) -> str:
    return f"{session.cgrid}:{run.run_id}:{seq:08d}"


class Charger:
    """Charging of session runs over the RALs Conn; the journal sequence is the session's."""

    def __init__(self, rals: Any, rounding_decimals: int = 5) -> None:
        self.rals = rals
        self.rounding_decimals = rounding_decimals

    @staticmethod
    def _for_call(session: Session, run: SRun, cd: CallDescriptor, *, deny_negative: bool | None = None,
                  increments: list[Increment] | None = None) -> CallDescriptor:
        """``cd`` made ready for one accounting call: the run's IDs, the client's options and a fresh journal key
        (remembered on the session until its next snapshot)."""
        session.journal_seq += 1
        key = journal_key(session, run, session.journal_seq)
        session.journal_pending.append(key)
        cd.CgrID = session.cgrid
        cd.RunID = run.run_id
        cd.APIOpts = session.rals_opts
        cd.journal_key = key
        cd.DenyNegativeAccount = deny_negative
        cd.Increments = increments or []
        return cd

    @staticmethod
    def _advance(run: SRun, usage: int) -> CallDescriptor:
        """Move the run's descriptor on to the next ``usage`` to charge."""
        cd = run.cd
        if run.loop_index > 0:
            cd.TimeStart = cd.TimeEnd
        cd.TimeEnd = cd.TimeStart + usage
        cd.DurationIndex += usage
        cd.LoopIndex = run.loop_index
        return cd

    async def debit(self, session: Session, run: SRun, dur: int, last_used: int | None) -> int:
        """Reserve ``dur`` more usage for a run; return the usage granted (CGRateS debitSession)."""
        rest = run.debit_reserve(dur, last_used)
        if rest == 0:
            return dur
        from_reserve = dur - rest
        cd = self._advance(run, rest)
        cc = await api.MAX_DEBIT.call(self.rals, self._for_call(session, run, cd))
        charged = cc.RatedUsage or sum(RunCost.span_usage(ts) for ts in cc.Timespans)
        if cc.Timespans:
            cd.TimeEnd = cc.Timespans[-1].time_end
        if charged > rest:
            run.extra_duration = charged - rest
        run.last_usage = dur if charged >= rest else charged + from_reserve
        cd.DurationIndex = cd.DurationIndex - rest + charged
        cd.MaxCostSoFar += cc.Cost
        run.loop_index += 1
        run.total_usage += run.last_usage
        run.cost.add(cc)
        return run.last_usage

    async def debit_exact(self, session: Session, run: SRun, usage: int) -> None:
        """Charge usage that happened beyond what was reserved (Responder.Debit: all or error)."""
        cd = self._advance(run, usage)
        cc = await api.DEBIT.call(self.rals, self._for_call(session, run, cd, deny_negative=False))
        run.loop_index += 1
        run.cost.add(cc)

    async def refund_to(self, session: Session, run: SRun, keep_usage: int) -> None:
        """Give back the increments charged beyond ``keep_usage`` (CGRateS refundSession)."""
        removed = run.cost.trim_to(keep_usage)
        paid = [inc for inc in removed if inc.balance_info]
        if not paid:
            return
        cd = self._for_call(session, run, run.cd.clone(), increments=compress_increments(paid))
        await api.REFUND_INCREMENTS.call(self.rals, cd)

    async def round_cost(self, session: Session, run: SRun) -> None:
        """Round the run's total as its rates say and charge (or give back) the difference."""
        diff = run.cost.rounding_difference() - run.cost.rounding_adjust
        if diff == 0:
            return
        payer = run.cost.last_monetary_payer()
        if payer is None:
            run.cost.rounding_adjust += diff
            return
        rounding = Increment(duration=0, cost=diff, compress_factor=1, balance_info=payer)
        cd = self._for_call(session, run, run.cd.clone(), increments=[rounding])
        try:
            await api.REFUND_ROUNDING.call(self.rals, cd)
        except RPCError as exc:
            log.warning("rounding of session %s run %s not charged: %s", session.cgrid, run.run_id, exc)
            return
        run.cost.rounding_adjust += diff
