"""The Responder methods (RALs' rating and debit face) as typed signatures.

Declared once, used by the services that answer them (``engine.accounts.responder``, ``engine.rating.service``)
and by their callers (SessionS, CDRs): ``cc = await MAX_DEBIT.call(conn, cd)`` gives a CallCost whether RALs is
in this process (the CallDescriptor and the CallCost cross as objects) or behind a network Conn (CGRateS's
CallDescriptorWithAPIOpts and CallCost JSON on the wire).
"""

from __future__ import annotations

from pycgrates.engine.models.account import Account
from pycgrates.engine.rating.callcost import CallCost
from pycgrates.engine.rating.calldesc import CallDescriptor
from pycgrates.engine.rpc.registry import Method

#: the cost of a call, nothing debited
GET_COST: Method[CallDescriptor, CallCost] = Method("Responder.GetCost", CallDescriptor, CallCost)
#: debit the whole usage (INSUFFICIENT_CREDIT unless negative is allowed)
DEBIT: Method[CallDescriptor, CallCost] = Method("Responder.Debit", CallDescriptor, CallCost)
#: debit as much of the usage as the balances allow
MAX_DEBIT: Method[CallDescriptor, CallCost] = Method("Responder.MaxDebit", CallDescriptor, CallCost)
#: the usage (int ns) the balances allow, -1 when the account may go negative
GET_MAX_SESSION_TIME: Method[CallDescriptor, int] = Method("Responder.GetMaxSessionTime", CallDescriptor)
#: give back what the descriptor's Increments took; the refunded account (None when none was touched)
REFUND_INCREMENTS: Method[CallDescriptor, Account] = Method("Responder.RefundIncrements", CallDescriptor, Account)
#: charge (positive Cost) or give back (negative) a session's rounding
REFUND_ROUNDING: Method[CallDescriptor, Account] = Method("Responder.RefundRounding", CallDescriptor, Account)
