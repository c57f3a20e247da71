"""CGRateS's offline tariff-plan objects (utils.TPDestination, TPRateRALs, TPAttributeProfile, ...) as the rows of
the StorDB's tariff-plan tables, both ways: one literal table of types.

A StorDB keeps a tariff plan as the rows of its CSV files (cells by CGRateS's header names, ``engine.loader.specs``),
under a TPid. The API speaks objects: one object spans the rows that share its key columns (an ID, or Tenant and
ID, or Tenant, Category and Subject). A :class:`TPType` says which object fields come from which columns:

- ``key``: the object's key fields and their columns;
- ``head``: fields of the object itself, written on its first row (lists merge over every row, as the loader reads);
- ``items``: the object's list of sub-objects, one per row that fills any of ``item_columns``; ``flat`` when the
  list holds the cell itself (a destination's Prefixes).

Each field has a type: ``s`` text, ``f`` number, ``i`` integer, ``b`` bool, ``l`` a ';'-separated list, ``a`` an
activation interval ("start;end" as ``{"ActivationTime", "ExpiryTime"}``), ``n`` always null (a field CGRateS fills
from elsewhere, as DestinationRate.Rate).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pycgrates.engine.models.cdr import as_string

Fields = tuple[tuple[str, str, str], ...]  # (object field, CSV column, type)


@dataclass(frozen=True)
class TPType:
    name: str  # in the method names: Set<name>, Get<name>, Remove<name>
    table: str  # the CSV file / StorDB table
    key: Fields
    head: Fields = ()
    items: str = ""
    item_columns: Fields = ()
    flat: bool = False
    ids_method: str = ""  # the Get...IDs method's name when CGRateS has one
    key_arg: str = "ID"  # the Get/Remove argument naming the object ("ID", or a composite "RatingProfileID")
    load_id: bool = False  # CGRateS keys it with a LoadId as well (not a column: not kept)
    aliases: tuple[str, ...] = field(default=())  # more Service names answering the same (APIerSv2)

    @property
    def key_fields(self) -> tuple[str, ...]:
        return tuple(f for f, _, _ in self.key)

    # ------------------------------------------------------------------------------------------ rows → objects

    def objects(self, tpid: str, rows: Iterable[dict]) -> dict[str, dict]:
        """The objects the rows hold, by their ID (key fields joined with ':')."""
        out: dict[str, dict] = {}
        for row in rows:
            key = tuple(as_string(row.get(col)) for _, col, _ in self.key)
            oid = ":".join(key)
            obj = out.get(oid)
            if obj is None:
                obj = out[oid] = {"TPid": tpid, **({"LoadId": ""} if self.load_id else {})}
                obj.update({f: v for (f, _, _), v in zip(self.key, key, strict=True)})
                obj.update({f: _empty(t) for f, _, t in self.head})
                if self.items:
                    obj[self.items] = []
            for f, col, t in self.head:
                value = _read(row.get(col), t)
                if t == "l":
                    obj[f] += [v for v in value if v not in obj[f]]
                elif value not in ("", None) and obj[f] in ("", None, 0, 0.0, False):
                    obj[f] = value
            if self.items and any(as_string(row.get(col)) for _, col, _ in self.item_columns):
                if self.flat:
                    obj[self.items].append(as_string(row.get(self.item_columns[0][1])))
                else:
                    obj[self.items].append({f: _read(row.get(col), t) for f, col, t in self.item_columns})
        return out

    # ------------------------------------------------------------------------------------------ objects → rows

    def rows(self, obj: dict) -> list[dict]:
        """The rows of one object (head cells on the first; key cells on each)."""
        key = {col: as_string(obj.get(f)) for f, col, _ in self.key}
        head = {col: _write(obj.get(f), t) for f, col, t in self.head}
        items = obj.get(self.items) or [] if self.items else []
        if not items:
            return [{**key, **head}]
        out = []
        for i, item in enumerate(items):
            if self.flat:
                cells = {self.item_columns[0][1]: as_string(item)}
            else:
                cells = {col: _write(item.get(f), t) for f, col, t in self.item_columns
                         if col and col not in key}
            out.append({**key, **(head if i == 0 else {}), **cells})
        return out

    def missing(self, obj: dict) -> list[str]:
        """The key fields an object to set leaves empty (TPid first)."""
        return [f for f in ("TPid", *self.key_fields) if not obj.get(f)]


def _empty(t: str) -> Any:
    return {"s": "", "f": 0.0, "i": 0, "b": False, "l": [], "a": None, "n": None}[t]



def _read(value: Any, t: str) -> Any:
    text = as_string(value).strip()
    if t == "s":
        return text
    if t == "n":
        return None
    if t == "l":
        return [v for v in text.split(";") if v]
    if t == "b":
        return text.lower() in ("true", "1")
    if t == "a":
        if not text:
            return None
        start, _, end = text.partition(";")
        return {"ActivationTime": start, "ExpiryTime": end}
    if not text:
        return 0 if t == "i" else 0.0
    number = float(text)
    return int(number) if t == "i" else number


def _write(value: Any, t: str) -> str:
    if t == "n" or value is None:
        return ""
    if t == "l":
        return ";".join(as_string(v) for v in value or [])
    if t == "a":
        if not isinstance(value, dict):
            return ""
        start, end = as_string(value.get("ActivationTime")), as_string(value.get("ExpiryTime"))
        return f"{start};{end}" if end else start
    return as_string(value)


_PROFILE_KEY: Fields = (("Tenant", "Tenant", "s"), ("ID", "ID", "s"))
_FILTER_IDS = ("FilterIDs", "FilterIDs", "l")
_INTERVAL = ("ActivationInterval", "ActivationInterval", "a")
_WEIGHT = ("Weight", "Weight", "f")
_BLOCKER = ("Blocker", "Blocker", "b")

TP_TYPES: tuple[TPType, ...] = (
    TPType("TPTiming", "Timings", (("ID", "ID", "s"),),
           head=(("Years", "Years", "s"), ("Months", "Months", "s"), ("MonthDays", "MonthDays", "s"),
                 ("WeekDays", "WeekDays", "s"), ("Time", "Time", "s")),
           ids_method="GetTPTimingIds", aliases=("APIerSv2",)),
    TPType("TPDestination", "Destinations", (("ID", "ID", "s"),), items="Prefixes",
           item_columns=(("Prefix", "Prefix", "s"),), flat=True, ids_method="GetTPDestinationIDs",
           aliases=("APIerSv2",)),
    TPType("TPRate", "Rates", (("ID", "ID", "s"),), items="RateSlots",
           item_columns=(("ConnectFee", "ConnectFee", "f"), ("Rate", "Rate", "f"), ("RateUnit", "RateUnit", "s"),
                         ("RateIncrement", "RateIncrement", "s"),
                         ("GroupIntervalStart", "GroupIntervalStart", "s")),
           ids_method="GetTPRateIds"),
    TPType("TPDestinationRate", "DestinationRates", (("ID", "ID", "s"),), items="DestinationRates",
           item_columns=(("DestinationId", "DestinationsID", "s"), ("RateId", "RatesID", "s"), ("Rate", "", "n"),
                         ("RoundingMethod", "RoundingMethod", "s"), ("RoundingDecimals", "RoundingDecimals", "i"),
                         ("MaxCost", "MaxCost", "f"), ("MaxCostStrategy", "MaxCostStrategy", "s")),
           ids_method="GetTPDestinationRateIds"),
    TPType("TPRatingPlan", "RatingPlans", (("ID", "ID", "s"),), items="RatingPlanBindings",
           item_columns=(("DestinationRatesId", "DestinationRatesID", "s"), ("TimingId", "TimingID", "s"),
                         ("Weight", "Weight", "f")),
           ids_method="GetTPRatingPlanIds"),
    TPType("TPRatingProfile", "RatingProfiles",
           (("Tenant", "Tenant", "s"), ("Category", "Category", "s"), ("Subject", "Subject", "s")),
           items="RatingPlanActivations",
           item_columns=(("ActivationTime", "ActivationTime", "s"), ("RatingPlanId", "RatingPlanID", "s"),
                         ("FallbackSubjects", "FallbackSubject", "s")),
           ids_method="GetTPRatingProfileIds", key_arg="RatingProfileID", load_id=True),
    TPType("TPSharedGroups", "SharedGroups", (("ID", "Id", "s"),), items="SharedGroups",
           item_columns=(("Account", "Account", "s"), ("Strategy", "Strategy", "s"),
                         ("RatingSubject", "RatingSubject", "s")),
           ids_method="GetTPSharedGroupIds"),
    TPType("TPActions", "Actions", (("ID", "ActionsId", "s"),), items="Actions",
           item_columns=(("Identifier", "Action", "s"), ("BalanceId", "BalanceId", "s"), ("BalanceUuid", "", "s"),
                         ("BalanceType", "BalanceType", "s"), ("Units", "Units", "s"),
                         ("ExpiryTime", "ExpiryTime", "s"), ("Filters", "Filter", "s"),
                         ("TimingTags", "TimingIds", "s"), ("DestinationIds", "DestinationIds", "s"),
                         ("RatingSubject", "RatingSubject", "s"), ("Categories", "Categories", "s"),
                         ("SharedGroups", "SharedGroup", "s"), ("BalanceWeight", "BalanceWeight", "s"),
                         ("ExtraParameters", "ExtraParameters", "s"), ("BalanceBlocker", "BalanceBlocker", "s"),
                         ("BalanceDisabled", "BalanceDisabled", "s"), ("Weight", "Weight", "f")),
           ids_method="GetTPActionIds"),
    TPType("TPActionPlan", "ActionPlans", (("ID", "Id", "s"),), items="ActionPlan",
           item_columns=(("ActionsId", "ActionsId", "s"), ("TimingId", "TimingId", "s"), ("Weight", "Weight", "f")),
           ids_method="GetTPActionPlanIds"),
    TPType("TPActionTriggers", "ActionTriggers", (("ID", "Tag", "s"),), items="ActionTriggers",
           item_columns=(("Id", "Tag", "s"), ("UniqueID", "UniqueId", "s"), ("ThresholdType", "ThresholdType", "s"),
                         ("ThresholdValue", "ThresholdValue", "f"), ("Recurrent", "Recurrent", "b"),
                         ("MinSleep", "MinSleep", "s"), ("ExpirationDate", "ExpiryTime", "s"),
                         ("ActivationDate", "ActivationTime", "s"), ("BalanceId", "BalanceTag", "s"),
                         ("BalanceType", "BalanceType", "s"), ("BalanceDestinationIds", "BalanceDestinationIds", "s"),
                         ("BalanceWeight", "BalanceWeight", "s"),
                         ("BalanceExpirationDate", "BalanceExpiryTime", "s"),
                         ("BalanceTimingTags", "BalanceTimingIds", "s"),
                         ("BalanceRatingSubject", "BalanceRatingSubject", "s"),
                         ("BalanceCategories", "BalanceCategories", "s"),
                         ("BalanceSharedGroups", "BalanceSharedGroup", "s"), ("BalanceBlocker", "BalanceBlocker", "s"),
                         ("BalanceDisabled", "BalanceDisabled", "s"), ("ActionsId", "ActionsId", "s"),
                         ("Weight", "Weight", "f")),
           ids_method="GetTPActionTriggerIds"),
    TPType("TPAccountActions", "AccountActions", (("Tenant", "Tenant", "s"), ("Account", "Account", "s")),
           head=(("ActionPlanId", "ActionPlanId", "s"), ("ActionTriggersId", "ActionTriggersId", "s"),
                 ("AllowNegative", "AllowNegative", "b"), ("Disabled", "Disabled", "b")),
           ids_method="GetTPAccountActionIds", key_arg="AccountActionsId", load_id=True),
    TPType("TPFilterProfile", "Filters", _PROFILE_KEY, head=(_INTERVAL,), items="Filters",
           item_columns=(("Type", "Type", "s"), ("Element", "Element", "s"), ("Values", "Values", "l")),
           ids_method="GetTPFilterProfileIds"),
    TPType("TPAttributeProfile", "Attributes", _PROFILE_KEY,
           head=(_FILTER_IDS, _INTERVAL, ("Contexts", "Contexts", "l"), _BLOCKER, _WEIGHT), items="Attributes",
           item_columns=(("FilterIDs", "AttributeFilterIDs", "l"), ("Path", "Path", "s"), ("Type", "Type", "s"),
                         ("Value", "Value", "s")),
           ids_method="GetTPAttributeProfileIds"),
    TPType("TPCharger", "Chargers", _PROFILE_KEY,
           head=(_FILTER_IDS, _INTERVAL, ("RunID", "RunID", "s"), ("AttributeIDs", "AttributeIDs", "l"), _WEIGHT),
           ids_method="GetTPChargerIDs"),
    TPType("TPResource", "Resources", _PROFILE_KEY,
           head=(_FILTER_IDS, _INTERVAL, ("UsageTTL", "UsageTTL", "s"), ("Limit", "Limit", "s"),
                 ("AllocationMessage", "AllocationMessage", "s"), _BLOCKER, ("Stored", "Stored", "b"), _WEIGHT,
                 ("ThresholdIDs", "ThresholdIDs", "l"))),
    TPType("TPStat", "Stats", _PROFILE_KEY,
           head=(_FILTER_IDS, _INTERVAL, ("QueueLength", "QueueLength", "i"), ("TTL", "TTL", "s"),
                 _BLOCKER, ("Stored", "Stored", "b"), _WEIGHT, ("MinItems", "MinItems", "i"),
                 ("ThresholdIDs", "ThresholdIDs", "l")),
           items="Metrics", item_columns=(("FilterIDs", "MetricFilterIDs", "l"), ("MetricID", "Metrics", "s"))),
    TPType("TPThreshold", "Thresholds", _PROFILE_KEY,
           head=(_FILTER_IDS, _INTERVAL, ("MaxHits", "MaxHits", "i"), ("MinHits", "MinHits", "i"),
                 ("MinSleep", "MinSleep", "s"), _BLOCKER, _WEIGHT, ("ActionIDs", "ActionIDs", "l"),
                 ("EeIDs", "EeIDs", "l"), ("Async", "Async", "b")),
           ids_method="GetTPThresholdIDs"),
    TPType("TPRouteProfile", "Routes", _PROFILE_KEY,
           head=(_FILTER_IDS, _INTERVAL, ("Sorting", "Sorting", "s"), ("SortingParameters", "SortingParameters", "l"),
                 _WEIGHT),
           items="Routes",
           item_columns=(("ID", "RouteID", "s"), ("FilterIDs", "RouteFilterIDs", "l"),
                         ("AccountIDs", "RouteAccountIDs", "l"), ("RatingPlanIDs", "RouteRatingPlanIDs", "l"),
                         ("ResourceIDs", "RouteResourceIDs", "l"), ("StatIDs", "RouteStatIDs", "l"),
                         ("Weight", "RouteWeight", "f"), ("Blocker", "RouteBlocker", "b"),
                         ("RouteParameters", "RouteParameters", "s")),
           ids_method="GetTPRouteProfileIDs"),
)
