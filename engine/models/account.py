"""Accounting data shapes: accounts, balances, counters, actions, action plans, action triggers, shared groups.

Field names are CGRateS's, so what ``to_dict`` produces is what CGRateS's APIs return (``APIerSv2.GetAccount``
and friends) and what its clients decode. Inside, money and unit values are ``Decimal`` (*voice balances hold
nanoseconds, as in CGRateS), times are timezone-aware datetimes (None is Go's zero time) and string sets
(``DestinationIDs``, ``Categories``...) are ``dict[str, bool]`` where False marks an exclusion (``!DST_X``).

``to_dict(storage=True)`` keeps Decimals exact as strings for DataDB; ``to_dict()`` gives JSON numbers for RPC.
``from_dict`` reads both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# Balance types (CGRateS's ToRs plus *monetary).
MONETARY = "*monetary"
VOICE = "*voice"
DATA = "*data"
SMS = "*sms"
MMS = "*mms"
GENERIC = "*generic"
BALANCE_TYPES = (MONETARY, VOICE, DATA, SMS, MMS, GENERIC)

ANY = "*any"
DEFAULT_BALANCE_ID = "*default"

StringMap = dict[str, bool]

_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


# ------------------------------------------------------------------------------------------------ value codecs


def dec(value: Any) -> Decimal:
    """A Decimal from a stored string, a JSON number or a Decimal."""
    if isinstance(value, Decimal):
        return value
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def num_json(value: Decimal) -> int | float:
    """A Decimal as the JSON number CGRateS (float64) would send."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def weight_json(w: float) -> int | float:
    """Weights as Go prints float64: 10, not 10.0."""
    return int(w) if w == int(w) else w


def time_to_json(dt: datetime | None) -> str:
    """RFC3339 as Go prints time.Time; None is Go's zero time."""
    if dt is None:
        return _GO_ZERO_TIME
    if dt.utcoffset() is not None and dt.utcoffset().total_seconds() == 0:
        base, suffix = dt.strftime("%Y-%m-%dT%H:%M:%S"), "Z"
    else:
        off = dt.strftime("%z")
        base, suffix = dt.strftime("%Y-%m-%dT%H:%M:%S"), off[:3] + ":" + off[3:]
    if dt.microsecond:
        base += ("." + f"{dt.microsecond:06d}").rstrip("0")
    return base + suffix


def time_from_json(value: Any) -> datetime | None:
    if value is None or value == "" or value == _GO_ZERO_TIME or str(value).startswith("0001-01-01"):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    s = str(value).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    frac = s.find(".")
    if frac != -1:  # Go may print up to 9 fractional digits; Python reads 6
        end = frac + 1
        while end < len(s) and s[end].isdigit():
            end += 1
        if end - frac - 1 > 6:
            s = s[: frac + 7] + s[end:]
    dt = datetime.fromisoformat(s)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def smap(value: Any) -> StringMap:
    """A CGRateS StringMap from a map, a list or a ';'-separated string ('!X' excludes X)."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {str(k): bool(v) for k, v in value.items()}
    items = value.split(";") if isinstance(value, str) else list(value)
    out: StringMap = {}
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        if item.startswith("!"):
            out[item[1:]] = False
        else:
            out[item] = True
    return out


def smap_str(m: StringMap | None) -> str:
    """CGRateS's StringMap.String(): the keys joined by ';' ('!' before the excluded ones)."""
    if not m:
        return ""
    return ";".join(k if v else "!" + k for k, v in m.items())


def smap_includes(have: StringMap, want: StringMap) -> bool:
    """CGRateS's StringMap.Includes: every key of ``want`` is in ``have``."""
    return all(k in have for k in want)


def smap_equal(a: StringMap | None, b: StringMap | None) -> bool:
    return (a or {}) == (b or {})


# ------------------------------------------------------------------------------------------------ balances


@dataclass(slots=True)
class Balance:
    Uuid: str = ""
    ID: str = ""
    Value: Decimal = Decimal(0)
    ExpirationDate: datetime | None = None
    Weight: float = 0.0
    DestinationIDs: StringMap = field(default_factory=dict)
    RatingSubject: str = ""
    Categories: StringMap = field(default_factory=dict)
    SharedGroups: StringMap = field(default_factory=dict)
    TimingIDs: StringMap = field(default_factory=dict)
    #: the resolved timings of TimingIDs (Years, Months, MonthDays, WeekDays, StartTime, EndTime)
    Timings: list[dict] = field(default_factory=list)
    Disabled: bool = False
    Blocker: bool = False
    Factor: dict[str, float] = field(default_factory=dict)

    def is_expired_at(self, t: datetime) -> bool:
        return self.ExpirationDate is not None and self.ExpirationDate <= t

    def is_default(self) -> bool:
        return self.ID == DEFAULT_BALANCE_ID

    def has_destination(self) -> bool:
        return bool(self.DestinationIDs) and not self.DestinationIDs.get(ANY, False)

    def match_category(self, category: str) -> bool:
        return not self.Categories or self.Categories.get(category, False)

    def clone(self) -> Balance:
        return Balance(
            self.Uuid, self.ID, self.Value, self.ExpirationDate, self.Weight, dict(self.DestinationIDs),
            self.RatingSubject, dict(self.Categories), dict(self.SharedGroups), dict(self.TimingIDs),
            list(self.Timings), self.Disabled, self.Blocker, dict(self.Factor),
        )

    def to_dict(self, storage: bool = False) -> dict:
        return {
            "Uuid": self.Uuid,
            "ID": self.ID,
            "Value": str(self.Value) if storage else num_json(self.Value),
            "ExpirationDate": time_to_json(self.ExpirationDate),
            "Weight": weight_json(self.Weight),
            "DestinationIDs": dict(self.DestinationIDs),
            "RatingSubject": self.RatingSubject,
            "Categories": dict(self.Categories),
            "SharedGroups": dict(self.SharedGroups),
            "Timings": list(self.Timings) if self.Timings else None,
            "TimingIDs": dict(self.TimingIDs),
            "Disabled": self.Disabled,
            "Factor": dict(self.Factor) if self.Factor else None,
            "Blocker": self.Blocker,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Balance:
        return cls(
            Uuid=d.get("Uuid") or "",
            ID=d.get("ID") or "",
            Value=dec(d.get("Value")),
            ExpirationDate=time_from_json(d.get("ExpirationDate")),
            Weight=float(d.get("Weight") or 0),
            DestinationIDs=smap(d.get("DestinationIDs")),
            RatingSubject=d.get("RatingSubject") or "",
            Categories=smap(d.get("Categories")),
            SharedGroups=smap(d.get("SharedGroups")),
            TimingIDs=smap(d.get("TimingIDs")),
            Timings=list(d.get("Timings") or []),
            Disabled=bool(d.get("Disabled")),
            Blocker=bool(d.get("Blocker")),
            Factor={k: float(v) for k, v in (d.get("Factor") or {}).items()},
        )


@dataclass(slots=True)
class BalanceFilter:
    """The balance part of an Action or an ActionTrigger: every field optional (None = not given)."""

    Uuid: str | None = None
    ID: str | None = None
    Type: str | None = None
    Value: Decimal | None = None
    ExpirationDate: datetime | None = None
    #: True when an expiry was given, even "*unlimited" (ExpirationDate None)
    HasExpiration: bool = False
    Weight: float | None = None
    DestinationIDs: StringMap | None = None
    RatingSubject: str | None = None
    Categories: StringMap | None = None
    SharedGroups: StringMap | None = None
    TimingIDs: StringMap | None = None
    #: the resolved timings of TimingIDs
    Timings: list[dict] | None = None
    Disabled: bool | None = None
    Blocker: bool | None = None
    Factor: dict[str, float] | None = None

    def get_type(self) -> str:
        return self.Type or ""

    def get_value(self) -> Decimal:
        return self.Value if self.Value is not None else Decimal(0)

    def clone(self) -> BalanceFilter:
        c = BalanceFilter(**{f: getattr(self, f) for f in _BF_FIELDS})
        for name in ("DestinationIDs", "Categories", "SharedGroups", "TimingIDs", "Factor"):
            v = getattr(c, name)
            if v is not None:
                setattr(c, name, dict(v))
        return c

    def is_empty_filter(self) -> bool:
        return all(getattr(self, f) is None for f in _BF_FIELDS if f not in ("HasExpiration", "Value", "Type"))

    def create_balance(self) -> Balance:
        """A Balance carrying the filter's given fields (CGRateS's BalanceFilter.CreateBalance)."""
        return Balance(
            Uuid=self.Uuid or "",
            ID=self.ID or "",
            Value=self.get_value(),
            ExpirationDate=self.ExpirationDate,
            Weight=self.Weight or 0.0,
            DestinationIDs=dict(self.DestinationIDs or {}),
            RatingSubject=self.RatingSubject or "",
            Categories=dict(self.Categories or {}),
            SharedGroups=dict(self.SharedGroups or {}),
            TimingIDs=dict(self.TimingIDs or {}),
            Timings=list(self.Timings or []),
            Disabled=bool(self.Disabled),
            Blocker=bool(self.Blocker),
            Factor=dict(self.Factor or {}),
        )

    def to_dict(self, storage: bool = False) -> dict:
        out: dict[str, Any] = {}
        for f in _BF_FIELDS:
            v = getattr(self, f)
            if f == "HasExpiration":
                continue
            if f == "ExpirationDate":
                out[f] = time_to_json(v) if self.HasExpiration else None
                continue
            if isinstance(v, Decimal):
                v = str(v) if storage else num_json(v)
            elif f == "Weight" and v is not None:
                v = weight_json(v)
            out[f] = v
        return out

    @classmethod
    def from_dict(cls, d: dict | None) -> BalanceFilter:
        if not d:
            return cls()
        exp = d.get("ExpirationDate")
        value = d.get("Value")
        if isinstance(value, dict):  # CGRateS ValueFormula {"Static": n}
            value = value.get("Static")
        return cls(
            Uuid=d.get("Uuid"),
            ID=d.get("ID"),
            Type=d.get("Type"),
            Value=None if value is None else dec(value),
            ExpirationDate=time_from_json(exp),
            HasExpiration=exp is not None,
            Weight=None if d.get("Weight") is None else float(d["Weight"]),
            DestinationIDs=None if d.get("DestinationIDs") is None else smap(d["DestinationIDs"]),
            RatingSubject=d.get("RatingSubject"),
            Categories=None if d.get("Categories") is None else smap(d["Categories"]),
            SharedGroups=None if d.get("SharedGroups") is None else smap(d["SharedGroups"]),
            TimingIDs=None if d.get("TimingIDs") is None else smap(d["TimingIDs"]),
            Timings=d.get("Timings"),
            Disabled=d.get("Disabled"),
            Blocker=d.get("Blocker"),
            Factor=d.get("Factor"),
        )


_BF_FIELDS = tuple(BalanceFilter.__dataclass_fields__)


# ------------------------------------------------------------------------------------------------ counters


@dataclass(slots=True)
class CounterFilter:
    Value: Decimal = Decimal(0)
    Filter: BalanceFilter = field(default_factory=BalanceFilter)

    def to_dict(self, storage: bool = False) -> dict:
        return {"Value": str(self.Value) if storage else num_json(self.Value), "Filter": self.Filter.to_dict(storage)}

    @classmethod
    def from_dict(cls, d: dict) -> CounterFilter:
        return cls(Value=dec(d.get("Value")), Filter=BalanceFilter.from_dict(d.get("Filter")))


COUNTER_EVENT = "*event"
COUNTER_BALANCE = "*balance"


@dataclass(slots=True)
class UnitCounter:
    CounterType: str = COUNTER_EVENT
    Counters: list[CounterFilter] = field(default_factory=list)

    def to_dict(self, storage: bool = False) -> dict:
        return {"CounterType": self.CounterType, "Counters": [c.to_dict(storage) for c in self.Counters]}

    @classmethod
    def from_dict(cls, d: dict) -> UnitCounter:
        return cls(
            CounterType=d.get("CounterType") or COUNTER_EVENT,
            Counters=[CounterFilter.from_dict(c) for c in d.get("Counters") or []],
        )


# ------------------------------------------------------------------------------------------------ triggers


@dataclass(slots=True)
class ActionTrigger:
    ID: str = ""
    UniqueID: str = ""
    ThresholdType: str = ""
    ThresholdValue: Decimal = Decimal(0)
    Recurrent: bool = False
    #: nanoseconds
    MinSleep: int = 0
    ExpirationDate: datetime | None = None
    ActivationDate: datetime | None = None
    Balance: BalanceFilter = field(default_factory=BalanceFilter)
    Weight: float = 0.0
    ActionsID: str = ""
    MinQueuedItems: int = 0
    Executed: bool = False
    LastExecutionTime: datetime | None = None

    def is_active(self, t: datetime) -> bool:
        return self.ActivationDate is None or t > self.ActivationDate

    def is_expired(self, t: datetime) -> bool:
        return self.ExpirationDate is not None and t > self.ExpirationDate

    def clone(self) -> ActionTrigger:
        return ActionTrigger(
            self.ID, self.UniqueID, self.ThresholdType, self.ThresholdValue, self.Recurrent, self.MinSleep,
            self.ExpirationDate, self.ActivationDate, self.Balance.clone(), self.Weight, self.ActionsID,
            self.MinQueuedItems, self.Executed, self.LastExecutionTime,
        )

    def to_dict(self, storage: bool = False) -> dict:
        return {
            "ID": self.ID,
            "UniqueID": self.UniqueID,
            "ThresholdType": self.ThresholdType,
            "ThresholdValue": str(self.ThresholdValue) if storage else num_json(self.ThresholdValue),
            "Recurrent": self.Recurrent,
            "MinSleep": self.MinSleep,
            "ExpirationDate": time_to_json(self.ExpirationDate),
            "ActivationDate": time_to_json(self.ActivationDate),
            "Balance": self.Balance.to_dict(storage),
            "Weight": weight_json(self.Weight),
            "ActionsID": self.ActionsID,
            "MinQueuedItems": self.MinQueuedItems,
            "Executed": self.Executed,
            "LastExecutionTime": time_to_json(self.LastExecutionTime),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ActionTrigger:
        return cls(
            ID=d.get("ID") or "",
            UniqueID=d.get("UniqueID") or "",
            ThresholdType=d.get("ThresholdType") or "",
            ThresholdValue=dec(d.get("ThresholdValue")),
            Recurrent=bool(d.get("Recurrent")),
            MinSleep=int(d.get("MinSleep") or 0),
            ExpirationDate=time_from_json(d.get("ExpirationDate")),
            ActivationDate=time_from_json(d.get("ActivationDate")),
            Balance=BalanceFilter.from_dict(d.get("Balance")),
            Weight=float(d.get("Weight") or 0),
            ActionsID=d.get("ActionsID") or "",
            MinQueuedItems=int(d.get("MinQueuedItems") or 0),
            Executed=bool(d.get("Executed")),
            LastExecutionTime=time_from_json(d.get("LastExecutionTime")),
        )


# ------------------------------------------------------------------------------------------------ accounts


@dataclass(slots=True)
class Account:
    Tenant: str = ""
    #: the account's own ID (without tenant); ``key`` is CGRateS's ID "tenant:account"
    Account: str = ""
    BalanceMap: dict[str, list[Balance]] = field(default_factory=dict)
    UnitCounters: dict[str, list[UnitCounter]] = field(default_factory=dict)
    ActionTriggers: list[ActionTrigger] = field(default_factory=list)
    AllowNegative: bool = False
    Disabled: bool = False
    UpdateTime: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.Tenant}:{self.Account}"

    def balances(self, balance_type: str) -> list[Balance]:
        return self.BalanceMap.get(balance_type, [])

    def find_balance(self, uuid: str) -> tuple[str, Balance] | None:
        for btype, chain in self.BalanceMap.items():
            for b in chain:
                if b.Uuid == uuid:
                    return btype, b
        return None

    def clone(self) -> Account:
        return Account(
            Tenant=self.Tenant,
            Account=self.Account,
            BalanceMap={k: [b.clone() for b in v] for k, v in self.BalanceMap.items()},
            UnitCounters={
                k: [UnitCounter(uc.CounterType, [CounterFilter(c.Value, c.Filter.clone()) for c in uc.Counters])
                    for uc in v]
                for k, v in self.UnitCounters.items()
            },
            ActionTriggers=[at.clone() for at in self.ActionTriggers],
            AllowNegative=self.AllowNegative,
            Disabled=self.Disabled,
            UpdateTime=self.UpdateTime,
        )

    def to_dict(self, storage: bool = False) -> dict:
        return {
            "ID": self.key,
            "BalanceMap": {k: [b.to_dict(storage) for b in v] for k, v in self.BalanceMap.items()},
            "UnitCounters": (
                {k: [uc.to_dict(storage) for uc in v] for k, v in self.UnitCounters.items()} if self.UnitCounters
                else None
            ),
            "ActionTriggers": [at.to_dict(storage) for at in self.ActionTriggers] if self.ActionTriggers else None,
            "AllowNegative": self.AllowNegative,
            "Disabled": self.Disabled,
            "UpdateTime": time_to_json(self.UpdateTime),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Account:
        tenant, _, acc = (d.get("ID") or "").partition(":")
        return cls(
            Tenant=tenant,
            Account=acc,
            BalanceMap={k: [Balance.from_dict(b) for b in v or []] for k, v in (d.get("BalanceMap") or {}).items()},
            UnitCounters={
                k: [UnitCounter.from_dict(uc) for uc in v or []] for k, v in (d.get("UnitCounters") or {}).items()
            },
            ActionTriggers=[ActionTrigger.from_dict(at) for at in d.get("ActionTriggers") or []],
            AllowNegative=bool(d.get("AllowNegative")),
            Disabled=bool(d.get("Disabled")),
            UpdateTime=time_from_json(d.get("UpdateTime")),
        )

    def to_json(self) -> dict:
        """CGRateS's Account JSON (what the RPC surface answers)."""
        return self.to_dict()

    @classmethod
    def from_json(cls, data: dict) -> Account:
        return cls.from_dict(data)


# ------------------------------------------------------------------------------------------------ actions


@dataclass(slots=True)
class Action:
    Id: str = ""
    ActionType: str = ""
    ExtraParameters: str = ""
    Filter: str = ""
    #: kept as text: relative values such as "+1h", "*month" resolve when the action runs
    ExpirationString: str = ""
    Weight: float = 0.0
    Balance: BalanceFilter = field(default_factory=BalanceFilter)

    def clone(self) -> Action:
        return Action(self.Id, self.ActionType, self.ExtraParameters, self.Filter, self.ExpirationString,
                      self.Weight, self.Balance.clone())

    def to_dict(self, storage: bool = False) -> dict:
        return {
            "Id": self.Id,
            "ActionType": self.ActionType,
            "ExtraParameters": self.ExtraParameters,
            "Filter": self.Filter,
            "ExpirationString": self.ExpirationString,
            "Weight": weight_json(self.Weight),
            "Balance": self.Balance.to_dict(storage),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Action:
        return cls(
            Id=d.get("Id") or d.get("ID") or "",
            ActionType=d.get("ActionType") or "",
            ExtraParameters=d.get("ExtraParameters") or "",
            Filter=d.get("Filter") or "",
            ExpirationString=d.get("ExpirationString") or "",
            Weight=float(d.get("Weight") or 0),
            Balance=BalanceFilter.from_dict(d.get("Balance")),
        )


@dataclass(slots=True)
class Timing:
    """When an ActionTiming runs: empty lists mean any; StartTime "*asap" or "HH:MM:SS" ("*" parts allowed)."""

    Years: list[int] = field(default_factory=list)
    Months: list[int] = field(default_factory=list)
    MonthDays: list[int] = field(default_factory=list)
    WeekDays: list[int] = field(default_factory=list)
    StartTime: str = ""
    ID: str = ""

    def is_asap(self) -> bool:
        return self.StartTime == "*asap"

    def to_dict(self) -> dict:
        return {"ID": self.ID, "Years": list(self.Years), "Months": list(self.Months),
                "MonthDays": list(self.MonthDays), "WeekDays": list(self.WeekDays), "StartTime": self.StartTime}

    @classmethod
    def from_dict(cls, d: dict | None) -> Timing:
        d = d or {}
        return cls(
            Years=[int(x) for x in d.get("Years") or []],
            Months=[int(x) for x in d.get("Months") or []],
            MonthDays=[int(x) for x in d.get("MonthDays") or []],
            WeekDays=[int(x) for x in d.get("WeekDays") or []],
            StartTime=d.get("StartTime") or d.get("Time") or "",
            ID=d.get("ID") or "",
        )


@dataclass(slots=True)
class ActionTiming:
    Uuid: str = ""
    Timing: Timing = field(default_factory=Timing)
    ActionsID: str = ""
    Weight: float = 0.0

    def to_dict(self) -> dict:
        # CGRateS nests the timing in a RateInterval: {"Timing": {"Timing": {...}}}
        return {"Uuid": self.Uuid, "Timing": {"Timing": self.Timing.to_dict()}, "ActionsID": self.ActionsID,
                "Weight": weight_json(self.Weight)}

    @classmethod
    def from_dict(cls, d: dict) -> ActionTiming:
        tm = d.get("Timing") or {}
        if "Timing" in tm:
            tm = tm["Timing"]
        return cls(Uuid=d.get("Uuid") or "", Timing=Timing.from_dict(tm), ActionsID=d.get("ActionsID") or "",
                   Weight=float(d.get("Weight") or 0))


@dataclass(slots=True)
class ActionPlan:
    Id: str = ""
    AccountIDs: StringMap = field(default_factory=dict)
    ActionTimings: list[ActionTiming] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"Id": self.Id, "AccountIDs": dict(self.AccountIDs) if self.AccountIDs else None,
                "ActionTimings": [at.to_dict() for at in self.ActionTimings]}

    @classmethod
    def from_dict(cls, d: dict) -> ActionPlan:
        return cls(Id=d.get("Id") or d.get("ID") or "", AccountIDs=smap(d.get("AccountIDs")),
                   ActionTimings=[ActionTiming.from_dict(x) for x in d.get("ActionTimings") or []])


# ------------------------------------------------------------------------------------------------ shared groups

STRATEGY_MINE_LOWEST = "*mine_lowest"
STRATEGY_MINE_HIGHEST = "*mine_highest"
STRATEGY_MINE_RANDOM = "*mine_random"
STRATEGY_LOWEST = "*lowest"
STRATEGY_HIGHEST = "*highest"
STRATEGY_RANDOM = "*random"
SHARED_GROUP_STRATEGIES = (STRATEGY_MINE_LOWEST, STRATEGY_MINE_HIGHEST, STRATEGY_MINE_RANDOM, STRATEGY_LOWEST,
                           STRATEGY_HIGHEST, STRATEGY_RANDOM)


@dataclass(slots=True)
class SharingParameters:
    Strategy: str = ""
    RatingSubject: str = ""


@dataclass(slots=True)
class SharedGroup:
    Id: str = ""
    #: per member account key ("tenant:account") or "*any"
    AccountParameters: dict[str, SharingParameters] = field(default_factory=dict)
    MemberIds: StringMap = field(default_factory=dict)

    def parameters_for(self, account_key: str) -> SharingParameters | None:
        return self.AccountParameters.get(account_key) or self.AccountParameters.get(ANY)

    def to_dict(self) -> dict:
        return {
            "Id": self.Id,
            "AccountParameters": {k: {"Strategy": v.Strategy, "RatingSubject": v.RatingSubject}
                                  for k, v in self.AccountParameters.items()},
            "MemberIds": dict(self.MemberIds),
        }

    @classmethod
    def from_dict(cls, d: dict) -> SharedGroup:
        return cls(
            Id=d.get("Id") or d.get("ID") or "",
            AccountParameters={k: SharingParameters(v.get("Strategy") or "", v.get("RatingSubject") or "")
                               for k, v in (d.get("AccountParameters") or {}).items()},
            MemberIds=smap(d.get("MemberIds")),
        )
