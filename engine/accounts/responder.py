"""The Responder face of RALs accounting: Debit, MaxDebit, GetMaxSessionTime, RefundIncrements, RefundRounding
and RefundEventCost, as CGRateS names them.

The methods are typed (:mod:`engine.rating.api`): they take a :class:`~engine.rating.CallDescriptor` and answer
a :class:`~engine.rating.CallCost` (or the refunded Account), so SessionS and CDRs in this process hand over the
objects themselves; JSON from the wire is decoded once and answered as CGRateS's JSON. A descriptor carrying a
journal key (``APIOpts["*journalKey"]`` on the wire) is journaled with its debit; a repeated call with the same
key is answered from the journal and charges nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pycgrates.engine.accounts.accounting import Accounting, ActionError, rpc_error
from pycgrates.engine.accounts.debit import Replayed, debit, max_session_time
from pycgrates.engine.accounts.refunds import event_cost_increments, refund_increments, refund_rounding
from pycgrates.engine.models.account import Account
from pycgrates.engine.rating import api
from pycgrates.engine.rating.callcost import CallCost
from pycgrates.engine.rating.calldesc import CallDescriptor
from pycgrates.engine.rpc.errors import mandatory_ie_missing, server_error
from pycgrates.engine.rpc.registry import rpc


class Responder:
    """A part of :class:`engine.accounts.service.AccountingService` (which provides ``acc``)."""

    acc: Accounting

    @property
    def timezone(self) -> str:
        """Where naive times of JSON arguments are placed (general.default_timezone)."""
        return self.acc.timezone

    def _descriptor(self, cd: CallDescriptor) -> CallDescriptor:
        """The caller's descriptor with the engine's defaults (a copy: what a caller hands over is not changed)."""
        cd = cd.clone()
        if not cd.Tenant:
            cd.Tenant = self.acc.default_tenant
        if not cd.Category:
            cd.Category = self.acc.default_category
        if not (cd.Account or cd.Subject):
            raise mandatory_ie_missing("Account")
        return cd

    async def _debit(self, cd: CallDescriptor, method: str, **how: Any) -> CallCost:
        cd = self._descriptor(cd)
        journal = (cd.journal_key, method) if cd.journal_key else None
        try:
            return await debit(self.acc, cd, dry_run=cd.DryRun, journal=journal, **how)
        except Replayed as done:
            return CallCost.from_json(done.record.get("Reply") or {})
        except ActionError as exc:
            raise rpc_error(exc) from exc

    @rpc("Responder.Ping")
    async def responder_ping(self, args: Any) -> str:
        return "Pong"

    @rpc("Responder.Shutdown")
    async def responder_shutdown(self, args: Any) -> str:
        """Stop the engine, as CGRateS's Responder.Shutdown does: the reply first, then the orderly stop SIGTERM
        starts (cgr-engine hands the engine its ``request_stop``)."""
        request_stop = getattr(getattr(getattr(self, "ctx", None), "engine", None), "request_stop", None)
        if request_stop is None:
            raise server_error("this engine was not started by cgr-engine: stop it where it was started")
        asyncio.get_running_loop().call_later(0.05, request_stop)
        return "Done!"

    @rpc(api.DEBIT)
    async def responder_debit(self, cd: CallDescriptor) -> CallCost:
        """Debit the whole usage of a CallDescriptor; returns the CallCost (which balance paid what)."""
        return await self._debit(cd, api.DEBIT.name, negative_ok=cd.DenyNegativeAccount is False)

    @rpc(api.MAX_DEBIT)
    async def responder_max_debit(self, cd: CallDescriptor) -> CallCost:
        """Debit as much of the usage as the balances allow; returns the CallCost of what was debited."""
        return await self._debit(cd, api.MAX_DEBIT.name, max_debit=True)

    @rpc(api.GET_MAX_SESSION_TIME)
    async def responder_max_session_time(self, cd: CallDescriptor) -> int:
        """The usage (ns) the balances allow for a CallDescriptor, without debiting (-1: AllowNegative)."""
        try:
            return await max_session_time(self.acc, self._descriptor(cd))
        except ActionError as exc:
            raise rpc_error(exc) from exc

    @rpc(api.REFUND_INCREMENTS)
    async def responder_refund_increments(self, cd: CallDescriptor) -> Account | None:
        """Give back what the increments of a CallDescriptor took; returns the refunded account."""
        cd = self._descriptor(cd)
        journal = (cd.journal_key, api.REFUND_INCREMENTS.name) if cd.journal_key else None
        try:
            refunded = await refund_increments(self.acc, cd.ToR, cd.Increments, journal)
        except ActionError as exc:
            raise rpc_error(exc) from exc
        return refunded.get(cd.account_key()) or next(iter(refunded.values()), None)

    @rpc(api.REFUND_ROUNDING)
    async def responder_refund_rounding(self, cd: CallDescriptor) -> Account | None:
        """Charge the rounding of a session's cost (positive Cost) or give it back (negative)."""
        journal = (cd.journal_key, api.REFUND_ROUNDING.name) if cd.journal_key else None
        try:
            refunded = await refund_rounding(self.acc, cd.Increments, journal)
        except ActionError as exc:
            raise rpc_error(exc) from exc
        return next(iter(refunded.values()), None)

    @rpc("Responder.RefundEventCost")
    async def responder_refund_event_cost(self, args: dict) -> str:
        """Give back what an EventCost (a rated CDR's CostDetails) charged, before re-rating it."""
        if not isinstance(args, dict):
            raise server_error("arguments must be a JSON object")
        ec = args.get("EventCost") or {}
        if not isinstance(ec, dict):
            raise mandatory_ie_missing("EventCost")
        try:
            await refund_increments(self.acc, args.get("ToR") or "*voice", event_cost_increments(ec))
        except ActionError as exc:
            raise rpc_error(exc) from exc
        return "OK"
