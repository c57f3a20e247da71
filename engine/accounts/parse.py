"""Reading accounting definitions from tariff-plan rows and API arguments (CGRateS's TP field names).

Rows from CSV files and dicts from ``APIerSv1.SetActions``/``SetActionTrigger`` carry the same fields under
slightly different names (``BalanceId``/``BalanceID``/``BalanceTag``, ``TimingIds``/``TimingTags``...);
:func:`norm_row` folds them to lower case without the ``#`` and ``[n]`` decorations of CGRateS's headers.
Each parser raises :class:`FieldError` naming the column and the fix.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from pycgrates.engine.models.account import (
    ANY,
    BALANCE_TYPES,
    VOICE,
    Action,
    ActionTrigger,
    BalanceFilter,
    smap,
)
from pycgrates.engine.units import DurationError, TimeError, parse_duration, parse_time

_HEADER_DECOR = re.compile(r"\[\d+\]$")

TRIGGER_TYPES = ("*min_balance", "*max_balance", "*balance_expired", "*min_event_counter", "*max_event_counter",
                 "*min_balance_counter", "*max_balance_counter")


class FieldError(ValueError):
    """A field that cannot be read: ``column`` names it, the message says what is expected."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"{column}: {message}")
        self.column = column
        self.message = message


def norm_key(key: str) -> str:
    return _HEADER_DECOR.sub("", str(key).strip().lstrip("#").strip()).lower()


def norm_row(row: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in ("_file", "_line"):
            out[k] = v
            continue
        out[norm_key(k)] = v.strip() if isinstance(v, str) else v
    return out


def col(row: dict, *names: str, default: Any = "") -> Any:
    for n in names:
        v = row.get(n)
        if v is not None and v != "":
            return v
    return default


def parse_bool(value: Any, column: str) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value or "").strip().lower()
    if s in ("", "false", "0", "no"):
        return False
    if s in ("true", "1", "yes"):
        return True
    raise FieldError(column, f"{value!r} is not a boolean (use true or false)")


def parse_number(value: Any, column: str) -> Decimal:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise FieldError(column, f"{value!r} is not a number") from exc


def parse_units(value: Any, balance_type: str, column: str = "Units") -> Decimal:
    """Balance units: *voice in nanoseconds (Go durations accepted: "90s", "10m"); others plain numbers."""
    if balance_type == VOICE and not isinstance(value, int | float | Decimal):
        try:
            return Decimal(parse_duration(value))
        except DurationError as exc:
            raise FieldError(column, f"{value!r} is not a duration (use nanoseconds or '90s', '10m')") from exc
    return parse_number(value, column)


def balance_filter_from(row: dict, timings: dict[str, dict] | None = None) -> BalanceFilter:
    """The balance part of an Action row (or of a trigger, its Balance* columns renamed to the action ones)."""
    bf = BalanceFilter()
    bid = col(row, "balanceid", "balancetag")
    if bid and bid != ANY:
        bf.ID = str(bid)
    buuid = col(row, "balanceuuid")
    if buuid:
        bf.Uuid = str(buuid)
    btype = col(row, "balancetype")
    if btype and btype != ANY:
        if btype not in BALANCE_TYPES:
            raise FieldError("BalanceType", f"unknown balance type {btype!r} (use one of {', '.join(BALANCE_TYPES)})")
        bf.Type = str(btype)
    units = col(row, "units")
    if units != "" and units != ANY:
        bf.Value = parse_units(units, bf.Type or "", "Units")
    weight = col(row, "balanceweight")
    if weight != "" and weight != ANY:
        bf.Weight = float(parse_number(weight, "BalanceWeight"))
    rs = col(row, "ratingsubject", "balanceratingsubject")
    if rs and rs != ANY:
        bf.RatingSubject = str(rs)
    dests = col(row, "destinationids", "balancedestinationids")
    if dests:
        bf.DestinationIDs = smap(dests)
    cats = col(row, "categories", "balancecategories")
    if cats and cats != ANY:
        bf.Categories = smap(cats)
    sgs = col(row, "sharedgroup", "sharedgroups", "balancesharedgroup")
    if sgs and sgs != ANY:
        bf.SharedGroups = smap(sgs)
    tids = col(row, "timingids", "timingtags", "balancetimingids", "balancetimingtags")
    if tids and tids != ANY:
        bf.TimingIDs = smap(tids)
        if timings is not None:
            resolved = []
            for tid in bf.TimingIDs:
                rec = timings.get(tid)
                if rec is None:
                    raise FieldError("TimingIds", f"timing {tid!r} is not defined in Timings")
                resolved.append(rec)
            bf.Timings = resolved
    blocker = col(row, "balanceblocker")
    if blocker != "":
        bf.Blocker = parse_bool(blocker, "BalanceBlocker")
    disabled = col(row, "balancedisabled")
    if disabled != "":
        bf.Disabled = parse_bool(disabled, "BalanceDisabled")
    return bf


def action_from_row(actions_id: str, row: dict, timings: dict[str, dict] | None = None) -> Action:
    """One Action from a normalized Actions.csv row or an APIerSv1.SetActions entry."""
    from pycgrates.engine.accounts.actions import ACTION_FUNCS

    atype = col(row, "action", "identifier", "actiontype")
    if not atype:
        raise FieldError("Action", "missing action type")
    if atype not in ACTION_FUNCS:
        raise FieldError("Action", f"unknown action type {atype!r}")
    weight = col(row, "weight", default="0")
    return Action(
        Id=actions_id,
        ActionType=str(atype),
        ExtraParameters=str(col(row, "extraparameters")),
        Filter=str(col(row, "filter")),
        ExpirationString=str(col(row, "expirytime", "expirationstring")),
        Weight=float(parse_number(weight, "Weight")),
        Balance=balance_filter_from(row, timings),
    )


def trigger_from_row(group_id: str, row: dict, timezone: str, index: int = 0,
                     timings: dict[str, dict] | None = None) -> ActionTrigger:
    """One ActionTrigger from a normalized ActionTriggers.csv row or an API trigger definition."""
    ttype = col(row, "thresholdtype")
    if ttype not in TRIGGER_TYPES:
        raise FieldError("ThresholdType", f"{ttype!r} is not an account trigger type (use one of "
                         f"{', '.join(TRIGGER_TYPES)})")
    unique = col(row, "uniqueid") or str(uuid.uuid5(uuid.NAMESPACE_OID, f"{group_id}:{index}"))
    bf = balance_filter_from({"balanceid": col(row, "balancetag", "balanceid"),
                              "balancetype": col(row, "balancetype"),
                              "balanceweight": col(row, "balanceweight"),
                              "ratingsubject": col(row, "balanceratingsubject"),
                              "destinationids": col(row, "balancedestinationids"),
                              "categories": col(row, "balancecategories"),
                              "sharedgroup": col(row, "balancesharedgroup", "balancesharedgroups"),
                              "timingids": col(row, "balancetimingids", "balancetimingtags"),
                              "balanceblocker": col(row, "balanceblocker"),
                              "balancedisabled": col(row, "balancedisabled")}, timings)
    bexp = col(row, "balanceexpirytime", "balanceexpirationdate")
    if bexp:
        from pycgrates.engine.accounts.balances import expiry_from_string

        try:
            bf.HasExpiration, bf.ExpirationDate = expiry_from_string(str(bexp), parse_time("*now"))
        except TimeError as exc:
            raise FieldError("BalanceExpiryTime", str(exc)) from exc
    try:
        min_sleep = parse_duration(col(row, "minsleep", default="0"))
    except DurationError as exc:
        raise FieldError("MinSleep", f"{exc} (use a duration such as '1m')") from exc
    times = {}
    for name, keys in (("ExpiryTime", ("expirytime", "expirationdate")),
                       ("ActivationTime", ("activationtime", "activationdate"))):
        v = col(row, *keys)
        try:
            times[name] = parse_time(v, timezone) if v else None
        except TimeError as exc:
            raise FieldError(name, f"{exc} (use RFC3339, e.g. 2024-01-31T00:00:00Z)") from exc
    actions_id = col(row, "actionsid", "actionsids")
    if not actions_id:
        raise FieldError("ActionsId", "missing the actions the trigger runs")
    return ActionTrigger(
        ID=group_id,
        UniqueID=str(unique),
        ThresholdType=str(ttype),
        ThresholdValue=parse_number(col(row, "thresholdvalue", default="0"), "ThresholdValue"),
        Recurrent=parse_bool(col(row, "recurrent"), "Recurrent"),
        MinSleep=min_sleep,
        ExpirationDate=times["ExpiryTime"],
        ActivationDate=times["ActivationTime"],
        Balance=bf,
        Weight=float(parse_number(col(row, "weight", default="0"), "Weight")),
        ActionsID=str(actions_id),
        MinQueuedItems=int(parse_number(col(row, "minqueueditems", default="0"), "MinQueuedItems")),
    )
