"""The result of rating: CallCost (what a debit walks) and its EventCost form (what the APIs and CDRs carry)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from pycgrates.engine.models.tariffplan import MAX_COST_DISCONNECT, RateInterval, time_to_json
from pycgrates.engine.rating.timespans import Increment, TimeSpan, balance_part, iter_increments, max_cost
from pycgrates.engine.units import ROUNDING_MIDDLE, round_money

ZERO = Decimal(0)


def _num(v: Decimal) -> float | int:
    return int(v) if v == v.to_integral_value() else float(v)


@dataclass(slots=True)
class CallCost:
    """Cost of a call, split in time spans (CGRateS CallCost). ``Cost`` is rounded by the longest rounding of the
    destination rates involved; ``Timespans[i].increments`` hold the charging steps."""

    Category: str = ""
    Tenant: str = ""
    Subject: str = ""
    Account: str = ""
    Destination: str = ""
    ToR: str = "*voice"
    Cost: Decimal = ZERO
    Timespans: list[TimeSpan] = field(default_factory=list)
    RatedUsage: int = 0
    AccountSummary: Any = None
    deduct_connect_fee: bool = True
    negative_connect_fee: bool = False
    max_cost_disconnect: bool = False

    def get_duration(self) -> int:
        return sum(ts.duration for ts in self.Timespans)

    def get_start_time(self) -> int | None:
        return self.Timespans[0].time_start if self.Timespans else None

    def get_end_time(self) -> int | None:
        return self.Timespans[-1].time_end if self.Timespans else None

    def get_connect_fee(self) -> Decimal:
        """The connect fee of the first span's rate interval (charged once per call)."""
        if not self.Timespans:
            return ZERO
        ri = self.Timespans[0].rate_interval
        if ri is None or ri.Rating is None:
            return ZERO
        return ri.Rating.ConnectFee

    def longest_rounding(self) -> tuple[int, str]:
        """The largest RoundingDecimals among the spans' destination rates, with its method."""
        decimals, method = 0, ""
        for ts in self.Timespans:
            ri = ts.rate_interval
            if ri is not None and ri.Rating is not None and ri.Rating.RoundingDecimals > decimals:
                decimals, method = ri.Rating.RoundingDecimals, ri.Rating.RoundingMethod
        return decimals, method

    def round_total(self, value: Decimal) -> Decimal:
        decimals, method = self.longest_rounding()
        if not method:
            return value
        return round_money(value, decimals, method)

    def update_cost(self, rounding_decimals: int = 5) -> Decimal:
        """Recompute ``Cost`` from the spans (and the connect fee when it is not among the increments)."""
        total = ZERO
        for ts in self.Timespans:
            ts.cost = ts.calculate_cost()
            total += ts.cost
        self.Cost = round_money(total, rounding_decimals, ROUNDING_MIDDLE)
        return self.Cost

    def update_rated_usage(self) -> int:
        self.RatedUsage = self.get_duration()
        return self.RatedUsage

    def decompress(self) -> None:
        for ts in self.Timespans:
            ts.decompress()

    def compress(self) -> None:
        for ts in self.Timespans:
            ts.compress()

    def usage_within_max_cost(self, max_cost_so_far: Decimal = ZERO) -> int | None:
        """For a *disconnect MaxCost: the usage charged before the cost so far reaches MaxCost, else None.

        Walks the increments in order, as a debit does: an increment is refused once the cost so far has reached
        the span's MaxCost (the connect fee counts towards it).
        """
        so_far = max_cost_so_far
        usage = 0
        for ts in self.Timespans:
            cap, strategy = max_cost(ts.rate_interval)
            for inc in ts.increments:
                if strategy == MAX_COST_DISCONNECT and cap > 0 and inc.cost > 0:
                    room = cap - so_far
                    if room <= 0:
                        return usage
                    # increments paid while the cost so far is still below the cap
                    allowed = int((room / inc.cost).to_integral_value(rounding=ROUND_CEILING))
                    if allowed < inc.compress_factor:
                        return usage + allowed * inc.duration
                so_far += inc.cost * inc.compress_factor
                usage += inc.duration * inc.compress_factor
        return None

    @classmethod
    def from_json(cls, d: dict) -> CallCost:
        """From CGRateS's CallCost JSON (what Responder.Debit/MaxDebit/GetCost send back)."""
        return cls(
            Category=d.get("Category") or "", Tenant=d.get("Tenant") or "", Subject=d.get("Subject") or "",
            Account=d.get("Account") or "", Destination=d.get("Destination") or "", ToR=d.get("ToR") or "*voice",
            Cost=Decimal(str(d.get("Cost") or 0)), Timespans=[TimeSpan.from_json(t) for t in d.get("Timespans") or []],
            RatedUsage=int(d.get("RatedUsage") or 0), AccountSummary=d.get("AccountSummary"),
        )

    def to_json(self) -> dict:
        return {
            "Category": self.Category,
            "Tenant": self.Tenant,
            "Subject": self.Subject,
            "Account": self.Account,
            "Destination": self.Destination,
            "ToR": self.ToR,
            "Cost": _num(self.Cost),
            "Timespans": [ts.to_json() for ts in self.Timespans],
            "RatedUsage": self.RatedUsage,
            "AccountSummary": self.AccountSummary,
        }


# ---------------------------------------------------------------------------------------------------- EventCost


_IDS: dict[tuple, str] = {}


def _id_of(key: tuple) -> str:
    """A short content ID for an EventCost table entry (memoised: the same rating gives the same ID)."""
    found = _IDS.get(key)
    if found is None:
        if len(_IDS) > 50_000:
            _IDS.clear()
        found = _IDS[key] = hashlib.sha1(repr(key).encode()).hexdigest()[:7]
    return found


def event_cost(
    cc: CallCost,
    cgrid: str = "",
    run_id: str = "",
    *,
    cost: Decimal | None = None,
    accounting: dict | None = None,
    account_summary: Any = None,
) -> dict:
    """CGRateS's EventCost JSON for a CallCost.

    ``Charges`` hold one ChargingInterval per time span with its increments (the connect fee is the first
    increment, of usage 0). ``Cost`` is ``cost`` when given, else ``cc.Cost``; ``Usage`` is the increments' usage.
    ``accounting`` is the Accounting map the increments' ``accounting_id`` refer to (filled by a debit).
    """
    tables: dict[str, dict] = {"Rating": {}, "Rates": {}, "Timings": {}, "RatingFilters": {}}
    charges = []
    usage = 0
    for ts in cc.Timespans:
        rating_id = _rating_id(ts, ts.rate_interval, tables)
        incs = []
        for inc in ts.increments:
            incs.append(
                {
                    "Usage": inc.duration,
                    "Cost": _num(inc.cost),
                    "AccountingID": inc.accounting_id,
                    "CompressFactor": inc.compress_factor,
                }
            )
            usage += inc.duration * inc.compress_factor * ts.compress_factor
        charges.append({"RatingID": rating_id, "Increments": incs, "CompressFactor": ts.compress_factor})
    start = cc.Timespans[0].time_start if cc.Timespans else None
    return {
        "CGRID": cgrid,
        "RunID": run_id,
        "StartTime": time_to_json(start),
        "Usage": usage,
        "Cost": _num(cc.Cost if cost is None else cost),
        "Charges": charges,
        "AccountSummary": account_summary if account_summary is not None else cc.AccountSummary,
        "Rating": tables["Rating"],
        "Accounting": accounting or {},
        "RatingFilters": tables["RatingFilters"],
        "Rates": tables["Rates"],
        "Timings": tables["Timings"],
    }


def _rating_id(ts: TimeSpan, ri: RateInterval | None, tables: dict[str, dict]) -> str:
    if ri is None or ri.Rating is None:
        return ""
    filters_key = ("rf", ts.matched_dest_id, ts.matched_prefix, ts.rating_plan_id, ts.matched_subject)
    rf_id = _id_of(filters_key)
    if rf_id not in tables["RatingFilters"]:
        tables["RatingFilters"][rf_id] = {
            "DestinationID": ts.matched_dest_id,
            "DestinationPrefix": ts.matched_prefix,
            "RatingPlanID": ts.rating_plan_id,
            "Subject": ts.matched_subject,
        }
    tm_id = ""
    t = ri.Timing
    if t is not None:
        tm_id = _id_of(("tm", t.Years, t.Months, t.MonthDays, t.WeekDays, t.StartTime))
        if tm_id not in tables["Timings"]:
            tables["Timings"][tm_id] = {
                "Years": list(t.Years),
                "Months": list(t.Months),
                "MonthDays": list(t.MonthDays),
                "WeekDays": list(t.WeekDays),
                "StartTime": t.StartTime,
            }
    r = ri.Rating
    rt_id = ""
    if r.Rates:
        rt_id = _id_of(("rt", *(x.key() for x in r.Rates)))
        if rt_id not in tables["Rates"]:
            tables["Rates"][rt_id] = [x.to_json() for x in r.Rates]
    key = ("ru", r.ConnectFee, r.RoundingMethod, r.RoundingDecimals, r.MaxCost, r.MaxCostStrategy, tm_id, rt_id, rf_id)
    rating_id = _id_of(key)
    if rating_id not in tables["Rating"]:
        tables["Rating"][rating_id] = {
            "ConnectFee": _num(r.ConnectFee),
            "RoundingMethod": r.RoundingMethod,
            "RoundingDecimals": r.RoundingDecimals,
            "MaxCost": _num(r.MaxCost),
            "MaxCostStrategy": r.MaxCostStrategy,
            "TimingID": tm_id,
            "RatesID": rt_id,
            "RatingFiltersID": rf_id,
        }
    return rating_id


def accounting_map(cc: CallCost) -> dict[str, dict]:
    """CGRateS's EventCost ``Accounting`` map for a debited CallCost, setting each increment's ``accounting_id``.

    A unit-paid increment charges its balance ``Consumed`` units (``ExtraChargeID`` names the money charge of a
    priced unit, else "*none"); a money-paid increment charges its Cost. Equal charges share one ID.
    BalanceInfo may be accounting's DebitInfo or its JSON (a RALs reply).
    """
    out: dict[str, dict] = {}

    def id_for(charge: dict) -> str:
        key = hashlib.sha1(json.dumps(charge, sort_keys=True).encode()).hexdigest()[:7]
        out[key] = charge
        return key

    for ts in cc.Timespans:
        for inc in ts.increments:
            bi = inc.balance_info
            unit, money = balance_part(bi, "Unit"), balance_part(bi, "Monetary")
            if not (unit or money):
                continue
            account = balance_part(bi, "AccountID") or ""
            if unit:
                extra = "*none"
                if money:
                    extra = id_for({"AccountID": account, "BalanceUUID": money["UUID"], "RatingID": "",
                                    "Units": _num(inc.cost), "ExtraChargeID": ""})
                charge = {"AccountID": account, "BalanceUUID": unit["UUID"], "RatingID": "",
                          "Units": unit.get("Consumed"), "ExtraChargeID": extra}
            else:
                charge = {"AccountID": account, "BalanceUUID": money["UUID"], "RatingID": "",
                          "Units": _num(inc.cost), "ExtraChargeID": ""}
            inc.accounting_id = id_for(charge)
    return out


def event_cost_of(cc: CallCost, cgrid: str, run_id: str) -> dict:
    """EventCost JSON for a debited (or rated) CallCost, with the Accounting map of the balances that paid (the
    increments' ``accounting_id`` are set)."""
    return event_cost(cc, cgrid, run_id, accounting=accounting_map(cc))


def event_cost_from_json(cc_json: dict, cgrid: str, run_id: str) -> dict:
    """EventCost JSON for a CallCost JSON (a RALs reply read off the wire)."""
    return event_cost_of(CallCost.from_json(cc_json), cgrid, run_id)


def walk_increments(cc: CallCost, visit: Callable[[TimeSpan, Increment], None]) -> None:
    """Call ``visit(span, single_increment)`` for every charging step of the call, in order."""
    for ts in cc.Timespans:
        for inc in iter_increments(ts.increments):
            visit(ts, inc)
