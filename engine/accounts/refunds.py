"""Giving back what debits took (CGRateS RefundIncrements, RefundRounding, refunds of a rated CDR's EventCost).

A refund works from the increments that were charged: each names, in its BalanceInfo, the account and the
balance that paid it (a unit balance by the units it consumed, a monetary one by the increment's cost).
BalanceInfo is accounting's DebitInfo when the increments come from a debit in this process, or its JSON when
they came over the wire or out of storage; both read the same (:func:`engine.rating.timespans.balance_part`).

Each refund is one atomic change of every account it touches. A refund made for a session carries a journal
key: its record is written in the same change, and a repeated call with that key changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from pycgrates.engine.accounts.accounting import Accounting, Transaction
from pycgrates.engine.accounts.debit import JOURNAL_KIND, find_balance
from pycgrates.engine.models.account import MONETARY, Account
from pycgrates.engine.rating.timespans import Increment, balance_part

log = logging.getLogger("cgr.accounts")


def _by_account(increments: list[Increment], paid_only: bool) -> dict[str, list[Increment]]:
    out: dict[str, list[Increment]] = {}
    for inc in increments:
        bi = inc.balance_info
        if not bi or (paid_only and not (balance_part(bi, "Unit") or balance_part(bi, "Monetary"))):
            continue
        out.setdefault(balance_part(bi, "AccountID") or "", []).append(inc)
    out.pop("", None)
    return out


async def _journal_once(accounting: Accounting, tx: Transaction, journal: tuple[str, str] | None,
                        increments: list[Increment]) -> bool:
    """Add SessionS's journal record to the transaction; False when the key is journaled already (a repeated
    call: nothing is to be done again)."""
    if not journal:
        return True
    if await tx.read(JOURNAL_KIND, journal[0]) is not None:
        return False
    tx.extra_ops.append(("set", JOURNAL_KIND, journal[0],
                         {"Method": journal[1], "Increments": [inc.to_json() for inc in increments]}))
    return True


async def _refund(accounting: Accounting, increments: list[Increment], journal: tuple[str, str] | None,
                  what: str, apply: Callable[[Transaction, Account, list[Increment]], Awaitable[None]], *,
                  paid_only: bool) -> dict[str, Account]:
    """One atomic change applying ``apply`` to every account the increments name (after the journal check)."""
    by_account = _by_account(increments, paid_only)
    if not by_account:
        return {}

    async def change(tx: Transaction) -> dict[str, Account]:
        out: dict[str, Account] = {}
        if not await _journal_once(accounting, tx, journal, increments):
            return out
        for key, incs in by_account.items():
            acc = await tx.load(key)
            if acc is None:
                log.warning("%s: account %s not found", what, key)
                continue
            await apply(tx, acc, incs)
            out[key] = acc
        return out

    return await accounting.atomic(change, *by_account, from_debit=True)


async def refund_increments(accounting: Accounting, tor: str, increments: list[Increment],
                            journal: tuple[str, str] | None = None) -> dict[str, Account]:
    """Give back what increments took (by their BalanceInfo): units to the unit balance, Cost to the money one."""

    async def give_back(tx: Transaction, acc: Account, incs: list[Increment]) -> None:
        for inc in incs:
            n = inc.compress_factor
            unit = balance_part(inc.balance_info, "Unit")
            if unit and unit.get("UUID"):
                b = find_balance(acc, unit["UUID"], tor)
                if b is not None:
                    amount = Decimal(str(unit.get("Consumed") or inc.duration or 0)) * n
                    tx.set_value(acc, b, b.Value + amount)
                    await accounting.count_units(tx, acc, -amount, unit.get("ToR") or tor, None, b)
            money = balance_part(inc.balance_info, "Monetary")
            if money and money.get("UUID"):
                b = next((x for x in acc.BalanceMap.get(MONETARY, []) if x.Uuid == money["UUID"]), None)
                if b is not None:
                    amount = inc.cost * n
                    tx.set_value(acc, b, b.Value + amount)
                    await accounting.count_units(tx, acc, -amount, MONETARY, None, b)
        tx.put(acc)

    return await _refund(accounting, increments, journal, "refund", give_back, paid_only=True)


async def refund_rounding(accounting: Accounting, increments: list[Increment],
                          journal: tuple[str, str] | None = None) -> dict[str, Account]:
    """Charge (positive Cost) or give back (negative) the rounding of a session's cost (CGRateS RefundRounding):
    on the increment's monetary balance, else on the account's default balance."""

    async def settle(tx: Transaction, acc: Account, incs: list[Increment]) -> None:
        for inc in incs:
            money = balance_part(inc.balance_info, "Monetary") or {}
            b = find_balance(acc, money["UUID"], MONETARY) if money.get("UUID") else None
            if b is None:
                b = accounting.default_money_balance(tx, acc)
            amount = inc.cost * inc.compress_factor
            tx.set_value(acc, b, b.Value - amount)
            await accounting.count_units(tx, acc, amount, MONETARY, None, b)
        tx.put(acc)
        await accounting.run_triggers(tx, acc)

    return await _refund(accounting, increments, journal, "rounding", settle, paid_only=False)


def event_cost_increments(ec: dict) -> list[Increment]:
    """The increments (with CGRateS BalanceInfo JSON) an EventCost charged, for a refund."""
    accounting = ec.get("Accounting") or {}
    out: list[Increment] = []
    for charge in ec.get("Charges") or []:
        cf_charge = int(charge.get("CompressFactor") or 1)
        for inc in charge.get("Increments") or []:
            bc = accounting.get(inc.get("AccountingID") or "")
            if not bc:
                continue
            n = cf_charge * int(inc.get("CompressFactor") or 1)
            info: dict[str, Any] = {"AccountID": bc.get("AccountID") or ""}
            extra_id = bc.get("ExtraChargeID") or ""
            cost: Any = 0
            if extra_id:  # a unit balance ("*none": free units, else its money charge)
                info["Unit"] = {"UUID": bc.get("BalanceUUID"), "Consumed": bc.get("Units") or 0}
                extra = accounting.get(extra_id)
                if extra:
                    info["Monetary"] = {"UUID": extra.get("BalanceUUID")}
                    cost = extra.get("Units") or 0
            else:
                info["Monetary"] = {"UUID": bc.get("BalanceUUID")}
                cost = bc.get("Units") or 0
            out.append(Increment(duration=int(inc.get("Usage") or 0), cost=Decimal(str(cost)), compress_factor=n,
                                 balance_info=info))
    return out
