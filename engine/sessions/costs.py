"""What one charging run of a session has been charged: the CallCost spans of its debits, trimmed on refund.

The ledger keeps CGRateS's CallCost JSON (Timespans → Increments with BalanceInfo) exactly as RALs returned it,
so a refund gives back the very increments that were taken, and the CDR's cost is the sum of what the balances
paid — rounded once at the end as CGRateS rounds it, with the rounding difference charged to the balance.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pycgrates.engine.units import round_money, to_decimal

ZERO = Decimal(0)


def _dec(value: Any) -> Decimal:
    return to_decimal(value if value is not None else 0)


def _num(v: Decimal) -> float | int:
    return int(v) if v == v.to_integral_value() else float(v)


def _inc_key(inc: dict) -> tuple:
    return (int(inc.get("Duration") or 0), str(inc.get("Cost")), repr(inc.get("BalanceInfo")))


class RunCost:
    """The spans a run was charged with, in order."""

    def __init__(self) -> None:
        self.timespans: list[dict] = []
        self.rounding_adjust = ZERO  # charged (+) or refunded (-) by rounding at the end

    # ------------------------------------------------------------------ adding

    def add(self, call_cost: dict | None) -> None:
        """Take the spans of a RALs reply (the reply is ours: it is kept as it came, not copied)."""
        if not call_cost:
            return
        self.timespans.extend(call_cost.get("Timespans") or [])

    # ------------------------------------------------------------------ reading

    @staticmethod
    def span_usage(ts: dict) -> int:
        return sum(int(i.get("Duration") or 0) * int(i.get("CompressFactor") or 1) for i in ts.get("Increments") or [])

    @staticmethod
    def span_cost(ts: dict) -> Decimal:
        return sum((_dec(i.get("Cost")) * int(i.get("CompressFactor") or 1) for i in ts.get("Increments") or []),
                   ZERO)

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
            rating = ((ts.get("RateInterval") or {}).get("Rating")) or {}
            d = int(rating.get("RoundingDecimals") or 0)
            if rating.get("RoundingMethod") and d >= decimals:
                decimals, method = d, rating["RoundingMethod"]
        return decimals, method

    def last_monetary_payer(self) -> dict | None:
        """BalanceInfo naming the money balance that paid last (where rounding is charged, as CGRateS's round
        increment does); the account alone when only unit balances paid."""
        account = ""
        for ts in reversed(self.timespans):
            for inc in reversed(ts.get("Increments") or []):
                bi = inc.get("BalanceInfo")
                if not isinstance(bi, dict):
                    continue
                money = bi.get("Monetary")
                if isinstance(money, dict) and money.get("UUID"):
                    return {"Monetary": {"UUID": money["UUID"], "ID": money.get("ID", "")},
                            "AccountID": _balance_account(bi)}
                account = account or _balance_account(bi)
        return {"AccountID": account} if account else None

    # ------------------------------------------------------------------ trimming

    def trim_to(self, keep_usage: int) -> list[dict]:
        """Keep only the first ``keep_usage`` of charged usage; return the increments cut off (to refund).

        An increment is indivisible: one that straddles the cut is kept whole (it was charged whole).
        """
        removed: list[dict] = []
        usage = self.usage
        while self.timespans and usage > keep_usage:
            ts = self.timespans[-1]
            incs = ts.get("Increments") or []
            if not incs:
                self.timespans.pop()
                continue
            inc = incs[-1]
            dur = int(inc.get("Duration") or 0)
            factor = int(inc.get("CompressFactor") or 1)
            if dur == 0:  # the connect fee opens the call: a usage trim never reaches past it
                break
            excess = usage - keep_usage
            whole = min(factor, excess // dur) if dur else 0
            if whole == 0:
                break
            cut = dict(inc)
            cut["CompressFactor"] = whole
            removed.append(cut)
            if whole == factor:
                incs.pop()
            else:
                inc["CompressFactor"] = factor - whole
            usage -= whole * dur
            ts["Cost"] = _num(self.span_cost(ts))
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

    def as_call_cost(self, base: dict) -> dict:
        """A CallCost view of the ledger, read-only: its spans are the ledger's own (not copied)."""
        cc = {k: base.get(k, "") for k in ("Category", "Tenant", "Subject", "Account", "Destination", "ToR")}
        cc["Cost"] = _num(self.cost)
        cc["Timespans"] = self.timespans
        cc["RatedUsage"] = self.usage
        cc["AccountSummary"] = None
        return cc

    def to_json(self) -> dict:
        return {"Timespans": self.timespans, "RoundingAdjust": str(self.rounding_adjust)}

    @classmethod
    def from_json(cls, data: dict) -> RunCost:
        rc = cls()
        rc.timespans = list(data.get("Timespans") or [])
        rc.rounding_adjust = _dec(data.get("RoundingAdjust") or 0)
        return rc


def _balance_account(bi: Any) -> str:
    if not isinstance(bi, dict):
        return ""
    for part in ("Monetary", "Unit"):
        sub = bi.get(part)
        if isinstance(sub, dict) and sub.get("AccountID"):
            return sub["AccountID"]
    return bi.get("AccountID") or ""


def compress(incs: list[dict]) -> list[dict]:
    out: list[dict] = []
    for inc in incs:
        if out and _inc_key(out[-1]) == _inc_key(inc):
            out[-1]["CompressFactor"] = int(out[-1].get("CompressFactor") or 1) + int(inc.get("CompressFactor") or 1)
        else:
            out.append(dict(inc))
    return out
