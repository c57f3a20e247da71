"""What one charging run of a session has been charged: the CallCost spans of its debits, trimmed on refund.

The ledger keeps the TimeSpans of the CallCosts RALs answered (Timespans → Increments with the BalanceInfo of
the balance that paid), so a refund gives back the very increments that were taken, and the CDR's cost is the
sum of what the balances paid — rounded once at the end as CGRateS rounds it, with the rounding difference
charged to the balance. In process the spans are RALs' own objects; a snapshot stores their CGRateS JSON.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pycgrates.engine.rating.callcost import CallCost
from pycgrates.engine.rating.calldesc import CallDescriptor
from pycgrates.engine.rating.timespans import Increment, TimeSpan, balance_part
from pycgrates.engine.units import round_money, to_decimal

ZERO = Decimal(0)


class RunCost:
    """The spans a run was charged with, in order."""

    def __init__(self) -> None:
        self.timespans: list[TimeSpan] = []
        self.rounding_adjust = ZERO  # charged (+) or refunded (-) by rounding at the end

    # ------------------------------------------------------------------ adding

    def add(self, call_cost: CallCost | None) -> None:
        """Take the spans of a RALs reply (the reply is ours: its spans are kept, not copied)."""
        if call_cost is not None:
            self.timespans.extend(call_cost.Timespans)

    # ------------------------------------------------------------------ reading

    @staticmethod
    def span_usage(ts: TimeSpan) -> int:
        return sum(inc.duration * inc.compress_factor for inc in ts.increments)

    @staticmethod
    def span_cost(ts: TimeSpan) -> Decimal:
        return sum((inc.cost * inc.compress_factor for inc in ts.increments), ZERO)

    @property
    def usage(self) -> int:
        return sum(self.span_usage(ts) for ts in self.timespans)

    @property
    def raw_cost(self) -> Decimal:
        return sum((self.span_cost(ts) for ts in self.timespans), ZERO)

    @property
    def cost(self) -> Decimal:
        return self.raw_cost + self.rounding_adjust

    def longest_rounding(self) -> tuple[int, str]:
        decimals, method = 0, ""
        for ts in self.timespans:
            rating = ts.rate_interval.Rating if ts.rate_interval is not None else None
            if rating is None:
                continue
            d = int(rating.RoundingDecimals or 0)
            if rating.RoundingMethod and d >= decimals:
                decimals, method = d, rating.RoundingMethod
        return decimals, method

    def last_monetary_payer(self) -> dict | None:
        """BalanceInfo naming the money balance that paid last (where rounding is charged, as CGRateS's round
        increment does); the account alone when only unit balances paid."""
        account = ""
        for ts in reversed(self.timespans):
            for inc in reversed(ts.increments):
                bi = inc.balance_info
                if bi is None:
                    continue
                money = balance_part(bi, "Monetary")
                if isinstance(money, dict) and money.get("UUID"):
                    return {"Monetary": {"UUID": money["UUID"], "ID": money.get("ID", "")},
                            "AccountID": _balance_account(bi)}
                account = account or _balance_account(bi)
        return {"AccountID": account} if account else None

    # ------------------------------------------------------------------ trimming

    def trim_to(self, keep_usage: int) -> list[Increment]:
        """Keep only the first ``keep_usage`` of charged usage; return the increments cut off (to refund).

        An increment is indivisible: one that straddles the cut is kept whole (it was charged whole).
        """
        removed: list[Increment] = []
        usage = self.usage
        while self.timespans and usage > keep_usage:
            ts = self.timespans[-1]
            incs = ts.increments
            if not incs:
                self.timespans.pop()
                continue
            inc = incs[-1]
            dur, factor = inc.duration, inc.compress_factor
            if dur == 0:  # the connect fee opens the call: a usage trim never reaches past it
                break
            whole = min(factor, (usage - keep_usage) // dur)
            if whole == 0:
                break
            removed.append(inc.clone(whole))
            if whole == factor:
                incs.pop()
            else:
                inc.compress_factor = factor - whole
            usage -= whole * dur
            ts.cost = self.span_cost(ts)
            if not incs:
                self.timespans.pop()
        return removed

    # ------------------------------------------------------------------ rounding

    def rounding_difference(self) -> Decimal:
        """How much rounding the total by the rates' method changes it (CGRateS rounds a session's cost once)."""
        decimals, method = self.longest_rounding()
        if not method:
            return ZERO
        raw = self.raw_cost
        return round_money(raw, decimals, method) - raw

    # ------------------------------------------------------------------ shapes

    def as_call_cost(self, base: CallDescriptor) -> CallCost:
        """A CallCost view of the ledger, read-only: its spans are the ledger's own (not copied)."""
        return CallCost(Category=base.Category, Tenant=base.Tenant, Subject=base.Subject, Account=base.Account,
                        Destination=base.Destination, ToR=base.ToR, Cost=self.cost, Timespans=self.timespans,
                        RatedUsage=self.usage)

    def to_json(self) -> dict:
        return {"Timespans": [ts.to_json() for ts in self.timespans], "RoundingAdjust": str(self.rounding_adjust)}

    @classmethod
    def from_json(cls, data: dict) -> RunCost:
        rc = cls()
        rc.timespans = [TimeSpan.from_json(ts) for ts in data.get("Timespans") or []]
        rc.rounding_adjust = to_decimal(data.get("RoundingAdjust") or 0)
        return rc


def _balance_account(bi: Any) -> str:
    for part in ("Monetary", "Unit"):
        sub = balance_part(bi, part)
        if isinstance(sub, dict) and sub.get("AccountID"):
            return sub["AccountID"]
    return balance_part(bi, "AccountID") or ""
