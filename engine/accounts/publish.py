"""The account events RALs sends ThresholdS and StatS (CGRateS's Account.Publish): after a debit changed an account,
and for the ``*publish_account`` action.

The event is CGRateS v0.11's (engine/account.go: AsAccountSummary, AccountSummary.AsMapInterface)::

    {"Tenant", "ID": <uuid>, "Time": <now>,
     "Event": {"Tenant", "AccountID", "AllowNegative", "Disabled",
               "BalanceSummaries": [{"UUID", "ID" (the UUID when empty), "Type", "Initial", "Value", "Weight",
                                     "Disabled", "Factors"}]},
     "APIOpts": {"*eventType": "AccountUpdate"}}

with the balances of the six balance types in CGRateS's order; ``Initial`` is a balance's value before the change
(CGRateS leaves it 0 for the balances the debit could not use; here they keep their value). It goes out as
``ThresholdSv1.ProcessEvent`` on ``rals.thresholds_conns`` and ``StatSv1.ProcessEvent`` on ``rals.stats_conns``, in
the background under the accounting Supervisor once the change is written: neither the write nor the reply waits
for them. NOT_FOUND (nothing matched) is no error; other errors are logged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pycgrates.engine.models.account import Account, num_json
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.units import format_time

if TYPE_CHECKING:
    from pycgrates.engine.accounts.accounting import Accounting, Transaction

log = logging.getLogger("cgr.accounts")

ACCOUNT_UPDATE = "AccountUpdate"
OPT_EVENT_TYPE = "*eventType"
#: the balance types an AccountSummary lists, in CGRateS's order
SUMMARY_BALANCE_TYPES = ("*data", "*sms", "*mms", "*voice", "*generic", "*monetary")
#: (rals option, method) of the services an account event goes to
TARGETS = (("thresholds_conns", "ThresholdSv1.ProcessEvent"), ("stats_conns", "StatSv1.ProcessEvent"))


def balance_values(acc: Account) -> dict[str, Decimal]:
    """Each balance's value by UUID: what an AccountUpdate event gives as ``Initial``."""
    return {b.Uuid: b.Value for chain in acc.BalanceMap.values() for b in chain}


def account_summary(acc: Account, initial: Mapping[str, Decimal]) -> dict[str, Any]:
    """CGRateS's AccountSummary of ``acc`` as a map (the AccountUpdate event's fields)."""
    summaries = []
    for btype in SUMMARY_BALANCE_TYPES:
        for b in acc.BalanceMap.get(btype) or ():
            bs: dict[str, Any] = {"UUID": b.Uuid, "ID": b.ID or b.Uuid, "Type": btype,
                                  "Initial": num_json(initial.get(b.Uuid, Decimal(0))), "Value": num_json(b.Value)}
            if b.Weight:
                bs["Weight"] = b.Weight
            bs["Disabled"] = b.Disabled
            if b.Factor:
                bs["Factors"] = dict(b.Factor)
            summaries.append(bs)
    return {"Tenant": acc.Tenant, "AccountID": acc.Account, "AllowNegative": acc.AllowNegative,
            "Disabled": acc.Disabled, "BalanceSummaries": summaries}


def publish_after_commit(tx: Transaction, acc: Account, initial: Mapping[str, Decimal]) -> None:
    """Send ``acc``'s AccountUpdate event, as it is now, once ``tx`` is written (nothing when no service listens)."""
    accounting = tx.acc
    targets = [(accounting.conns.get(ids), method) for option, method in TARGETS
               if (ids := _conn_ids(accounting, option))]
    if not targets:
        return
    event = {"Tenant": acc.Tenant, "ID": str(uuid.uuid4()), "Time": format_time(tx.now),
             "Event": account_summary(acc, initial), "APIOpts": {OPT_EVENT_TYPE: ACCOUNT_UPDATE}}

    async def publish_account() -> None:
        for conn, method in targets:
            try:
                await conn.call(method, event)
            except RPCError as exc:
                if exc.message != NOT_FOUND:
                    log.warning("account %s: %s: %s", acc.key, method, exc)
            except (OSError, TimeoutError) as exc:
                log.warning("account %s: %s: %s", acc.key, method, exc)

    tx.after_commit(publish_account, background=True)


def _conn_ids(accounting: Accounting, option: str) -> list[str]:
    if accounting.cfg is None or accounting.conns is None:
        return []
    return list(accounting.cfg.get("rals", option, default=[]) or [])
