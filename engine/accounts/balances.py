"""Which balances apply to a charge, in which order; balance filters as actions and triggers use them.

CGRateS's rules: a balance applies when it is enabled, not expired, has value left (or is a blocker, or is
shared), its categories include the charge's category, its timings are active, and its destinations include the
called number (longest matching prefix wins; ``!DST`` excludes). Applicable balances are sorted by destination
precision (longer prefix first), then weight (higher first); ties keep the account's order.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from pycgrates.engine.models.account import ANY, Account, Balance, BalanceFilter, smap_equal, smap_includes
from pycgrates.engine.rating.timings import is_active_at, timing_of

#: prefix → destination IDs holding it, longest prefix first (what the rating engine's reverse index gives)
PrefixDestinations = list[tuple[str, list[str]]]


def destination_precision(b: Balance, prefixes: PrefixDestinations) -> int:
    """0 if the balance does not apply to the number, else 1 (no destinations) or 1 + the matched prefix length."""
    if not b.has_destination():
        return 1
    all_exclude = not any(b.DestinationIDs.values())
    for prefix, dest_ids in prefixes:
        if not dest_ids:
            continue
        found = False
        all_include = True
        for d in dest_ids:
            incl = b.DestinationIDs.get(d)
            if incl is not None:
                found = True
                all_include = all_include and incl
        if found or all_exclude:
            return len(prefix) + 1 if all_include else 0
    return 0


def matching_destination_id(b: Balance, prefixes: PrefixDestinations, number: str) -> tuple[str, str]:
    """(matched prefix, destination ID) for a balance with destinations, else (number, "*any")."""
    if b.has_destination():
        for prefix, dest_ids in prefixes:
            for d in dest_ids:
                if b.DestinationIDs.get(d):
                    return prefix, d
    return number, ANY


def timing_active(timings: list[dict], t: datetime) -> bool:
    """Whether any of a balance's timings (RITiming-like dicts) covers ``t``; no timings = always."""
    return not timings or any(is_active_at(timing_of(tm), t) for tm in timings)


def applicable(
    b: Balance, category: str, at: datetime, prefixes: PrefixDestinations, shared_group: str = ""
) -> int:
    """The balance's precision if it can pay for the charge, else 0."""
    if b.Disabled or b.is_expired_at(at):
        return 0
    if not b.SharedGroups and b.Value <= 0 and not b.Blocker:
        return 0
    if shared_group and not b.SharedGroups.get(shared_group):
        return 0
    if not b.match_category(category):
        return 0
    return destination_precision(b, prefixes)


def balances_for(
    acc: Account, balance_type: str, category: str, at: datetime, prefixes: PrefixDestinations,
    shared_group: str = "",
) -> list[Balance]:
    """The account's own balances of ``balance_type`` (unit types also take *generic) that apply, best first."""
    chain = list(acc.BalanceMap.get(balance_type, ()))
    if balance_type not in ("*monetary", "*generic"):
        chain += acc.BalanceMap.get("*generic", ())
    scored = []
    for idx, b in enumerate(chain):
        prec = applicable(b, category, at, prefixes, shared_group)
        if prec:
            scored.append((-prec, -b.Weight, idx, b))
    scored.sort(key=lambda x: x[:3])
    return [x[3] for x in scored]


# ------------------------------------------------------------------------------------------------ filters


def match_filter(b: Balance, f: BalanceFilter | None, skip_ids: bool = False, skip_expiry: bool = False) -> bool:
    """CGRateS's Balance.MatchFilter: IDs decide alone; otherwise every given field must match (sets include)."""
    if f is None:
        return True
    if not skip_ids and f.Uuid:
        return b.Uuid == f.Uuid
    if not skip_ids and f.ID:
        return b.ID == f.ID
    return (
        (skip_expiry or not f.HasExpiration or b.ExpirationDate == f.ExpirationDate)
        and (f.Weight is None or b.Weight == f.Weight)
        and (f.Blocker is None or b.Blocker == f.Blocker)
        and (f.Disabled is None or b.Disabled == f.Disabled)
        and (f.DestinationIDs is None or smap_includes(b.DestinationIDs, f.DestinationIDs))
        and (f.Categories is None or smap_includes(b.Categories, f.Categories))
        and (f.TimingIDs is None or smap_includes(b.TimingIDs, f.TimingIDs))
        and (f.SharedGroups is None or smap_includes(b.SharedGroups, f.SharedGroups))
        and (f.RatingSubject is None or b.RatingSubject == f.RatingSubject)
    )


def hard_match_filter(b: Balance, f: BalanceFilter | None) -> bool:
    """Like match_filter but sets must be equal (how triggers pick their balances)."""
    if f is None:
        return True
    if f.Uuid:
        return b.Uuid == f.Uuid
    if f.ID:
        return b.ID == f.ID
    return (
        (not f.HasExpiration or b.ExpirationDate == f.ExpirationDate)
        and (f.Weight is None or b.Weight == f.Weight)
        and (f.Blocker is None or b.Blocker == f.Blocker)
        and (f.Disabled is None or b.Disabled == f.Disabled)
        and (f.DestinationIDs is None or smap_equal(b.DestinationIDs, f.DestinationIDs))
        and (f.Categories is None or smap_equal(b.Categories, f.Categories))
        and (f.TimingIDs is None or smap_equal(b.TimingIDs, f.TimingIDs))
        and (f.SharedGroups is None or smap_equal(b.SharedGroups, f.SharedGroups))
        and (f.RatingSubject is None or b.RatingSubject == f.RatingSubject)
    )


def modify_balance(b: Balance, f: BalanceFilter) -> None:
    """Copy the filter's given fields onto a balance (CGRateS's BalanceFilter.ModifyBalance)."""
    if f.ID is not None:
        b.ID = f.ID
    if f.Value is not None:
        b.Value = f.Value
    if f.HasExpiration:
        b.ExpirationDate = f.ExpirationDate
    if f.Weight is not None:
        b.Weight = f.Weight
    if f.DestinationIDs is not None:
        b.DestinationIDs = dict(f.DestinationIDs)
    if f.RatingSubject is not None:
        b.RatingSubject = f.RatingSubject
    if f.Categories is not None:
        b.Categories = dict(f.Categories)
    if f.SharedGroups is not None:
        b.SharedGroups = dict(f.SharedGroups)
    if f.TimingIDs is not None:
        b.TimingIDs = dict(f.TimingIDs)
    if f.Timings is not None:
        b.Timings = list(f.Timings)
    if f.Disabled is not None:
        b.Disabled = f.Disabled
    if f.Blocker is not None:
        b.Blocker = f.Blocker
    if f.Factor is not None:
        b.Factor = dict(f.Factor)


def round_value(value: Decimal, decimals: int) -> Decimal:
    """CGRateS rounds every balance value it sets (*middle, general.rounding_decimals)."""
    out = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if out == out.to_integral_value():
        return Decimal(int(out))
    return out.normalize()


def expiry_from_string(text: str, now: datetime) -> tuple[bool, datetime | None]:
    """Resolve an action's ExpiryTime: (given?, date). "*unlimited" → (True, None); "" → (False, None)."""
    s = (text or "").strip()
    if not s:
        return False, None
    if s == "*unlimited":
        return True, None
    rel = {
        "*daily": lambda: now + timedelta(days=1),
        "*weekly": lambda: now + timedelta(days=7),
        "*monthly": lambda: _add_months(now, 1),
        "*month_end": lambda: _month_end(now),
        "*yearly": lambda: _add_months(now, 12),
    }
    if s in rel:
        return True, rel[s]()
    from pycgrates.engine.units import parse_time

    return True, parse_time(s)


def _add_months(t: datetime, months: int) -> datetime:
    m = t.month - 1 + months
    y = t.year + m // 12
    m = m % 12 + 1
    # Go's AddDate normalises overflowing days into the next month
    last = calendar.monthrange(y, m)[1]
    if t.day <= last:
        return t.replace(year=y, month=m)
    return t.replace(year=y, month=m, day=last) + timedelta(days=t.day - last)


def _month_end(t: datetime) -> datetime:
    last = calendar.monthrange(t.year, t.month)[1]
    return t.replace(day=last, hour=23, minute=59, second=59, microsecond=0)
