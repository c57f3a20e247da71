"""Tariff-plan objects: what the loader reads from CSV and what RALs rates with.

Two layers, as in CGRateS:

* the *TP* shapes read from the CSV files (``TPTiming``, ``TPRate`` with its ``RateSlot`` rows,
  ``TPDestinationRate``, ``TPRatingPlan``), and
* the *runtime* shapes stored in DataDB and used by the rating engine: ``Destination``, ``RatingPlan`` (timings and
  ratings by content hash, and per destination the list of ``RPRate`` bindings), ``RatingProfile`` with its
  ``RatingActivation`` list.

``to_json``/``from_json`` give and read CGRateS's JSON shapes (durations in integer nanoseconds, money as JSON
numbers, times RFC3339). Money is ``Decimal`` in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

ANY = "*any"
ASAP = "*asap"
META_OUT = "*out"
MAX_COST_FREE = "*free"
MAX_COST_DISCONNECT = "*disconnect"
ROUNDING_METHODS = ("*up", "*down", "*middle")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _num(value: Decimal | float | int) -> float | int:
    """A JSON number for money (CGRateS sends float64)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _dec(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if value is None or value == "":
        return Decimal(0)
    return Decimal(str(value))


def _time_json(ns: int | None) -> str:
    if ns is None:
        return "0001-01-01T00:00:00Z"
    secs, rem = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if rem:
        base += ("." + f"{rem:09d}").rstrip("0")
    return base + "Z"


def _time_from_json(value: Any) -> int:
    """RFC3339 (or unix seconds) to integer nanoseconds since the epoch."""
    if isinstance(value, int | float):
        return int(value * 1_000_000_000)
    s = str(value).strip()
    if not s or s.startswith("0001-01-01"):
        return 0
    frac_ns = 0
    if "." in s:
        head, _, tail = s.partition(".")
        digits = ""
        for ch in tail:
            if ch.isdigit():
                digits += ch
            else:
                break
        rest = tail[len(digits) :]
        frac_ns = int((digits + "000000000")[:9])
        s = head + rest
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return ((dt - _EPOCH) // _MICRO) * 1000 + frac_ns


_MICRO = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def short_hash(text: str) -> str:
    """An 8-character content hash, as CGRateS keys a rating plan's timings and ratings."""
    return hashlib.sha1(text.encode()).hexdigest()[:8]


# ---------------------------------------------------------------------------------------------------- destinations


@dataclass(slots=True)
class Destination:
    """A named set of number prefixes (``DST_1002`` → ``["1002"]``)."""

    Id: str
    Prefixes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"Id": self.Id, "Prefixes": list(self.Prefixes)}

    @classmethod
    def from_json(cls, d: dict) -> Destination:
        return cls(Id=d.get("Id") or d.get("ID") or "", Prefixes=[str(p) for p in d.get("Prefixes") or []])


# ---------------------------------------------------------------------------------------------------- timings


@dataclass(slots=True)
class TPTiming:
    """A row of Timings.csv (CGRateS utils.TPTiming). Week days follow Go: 0 = Sunday (7 is stored as 0)."""

    ID: str
    Years: list[int] = field(default_factory=list)
    Months: list[int] = field(default_factory=list)
    MonthDays: list[int] = field(default_factory=list)
    WeekDays: list[int] = field(default_factory=list)
    StartTime: str = "00:00:00"
    EndTime: str = ""

    def to_json(self) -> dict:
        return {
            "ID": self.ID,
            "Years": list(self.Years),
            "Months": list(self.Months),
            "MonthDays": list(self.MonthDays),
            "WeekDays": list(self.WeekDays),
            "StartTime": self.StartTime,
            "EndTime": self.EndTime,
        }

    @classmethod
    def from_json(cls, d: dict) -> TPTiming:
        return cls(
            ID=d.get("ID") or "",
            Years=[int(x) for x in d.get("Years") or []],
            Months=[int(x) for x in d.get("Months") or []],
            MonthDays=[int(x) for x in d.get("MonthDays") or []],
            WeekDays=[int(x) % 7 for x in d.get("WeekDays") or []],
            StartTime=d.get("StartTime") or "00:00:00",
            EndTime=d.get("EndTime") or "",
        )

    def as_ri_timing(self) -> RITiming:
        return RITiming(
            ID=self.ID,
            Years=tuple(self.Years),
            Months=tuple(self.Months),
            MonthDays=tuple(self.MonthDays),
            WeekDays=tuple(self.WeekDays),
            StartTime=self.StartTime,
            EndTime=self.EndTime,
        )


def _hms(text: str) -> tuple[int, int, int] | None:
    if not text:
        return None
    parts = text.split(":")
    if len(parts) != 3:
        return None
    try:
        return int(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        return None


@dataclass(slots=True, eq=False)
class RITiming:
    """When a rate interval applies (CGRateS RITiming): empty lists mean any; StartTime/EndTime are "HH:MM:SS"."""

    ID: str = ""
    Years: tuple[int, ...] = ()
    Months: tuple[int, ...] = ()
    MonthDays: tuple[int, ...] = ()
    WeekDays: tuple[int, ...] = ()
    StartTime: str = "00:00:00"
    EndTime: str = ""
    start: tuple[int, int, int] | None = field(default=None, repr=False)
    end: tuple[int, int, int] | None = field(default=None, repr=False)
    always: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.start = _hms(self.StartTime)
        self.end = _hms(self.EndTime)
        # *any: every instant of every day (lets rating skip calendar work)
        self.always = (
            not (self.Years or self.Months or self.MonthDays or self.WeekDays)
            and self.start in (None, (0, 0, 0))
            and self.end is None
        )

    def key(self) -> tuple:
        return (self.Years, self.Months, self.MonthDays, self.WeekDays, self.StartTime, self.EndTime)

    def stringify(self) -> str:
        return short_hash(repr(self.key()))

    def to_json(self) -> dict:
        return {
            "ID": self.ID,
            "Years": list(self.Years),
            "Months": list(self.Months),
            "MonthDays": list(self.MonthDays),
            "WeekDays": list(self.WeekDays),
            "StartTime": self.StartTime,
            "EndTime": self.EndTime,
        }

    @classmethod
    def from_json(cls, d: dict) -> RITiming:
        return cls(
            ID=d.get("ID") or "",
            Years=tuple(int(x) for x in d.get("Years") or ()),
            Months=tuple(int(x) for x in d.get("Months") or ()),
            MonthDays=tuple(int(x) for x in d.get("MonthDays") or ()),
            WeekDays=tuple(int(x) % 7 for x in d.get("WeekDays") or ()),
            StartTime=d.get("StartTime") or "",
            EndTime=d.get("EndTime") or "",
        )


# ---------------------------------------------------------------------------------------------------- rates


@dataclass(slots=True)
class RateSlot:
    """A row of Rates.csv: one price slot of a rate, starting at ``GroupIntervalStart`` of the call (ns)."""

    ConnectFee: Decimal
    Rate: Decimal
    RateUnit: int
    RateIncrement: int
    GroupIntervalStart: int

    def to_json(self) -> dict:
        return {
            "ConnectFee": _num(self.ConnectFee),
            "Rate": _num(self.Rate),
            "RateUnit": self.RateUnit,
            "RateIncrement": self.RateIncrement,
            "GroupIntervalStart": self.GroupIntervalStart,
        }


@dataclass(slots=True)
class TPRate:
    ID: str
    RateSlots: list[RateSlot] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"ID": self.ID, "RateSlots": [s.to_json() for s in self.RateSlots]}


@dataclass(slots=True)
class DestinationRateBinding:
    """A row of DestinationRates.csv: a rate for a destination, with the total's rounding and cost cap."""

    DestinationId: str
    RateId: str
    RoundingMethod: str = "*middle"
    RoundingDecimals: int = 4
    MaxCost: Decimal = Decimal(0)
    MaxCostStrategy: str = ""

    def to_json(self) -> dict:
        return {
            "DestinationId": self.DestinationId,
            "RateId": self.RateId,
            "RoundingMethod": self.RoundingMethod,
            "RoundingDecimals": self.RoundingDecimals,
            "MaxCost": _num(self.MaxCost),
            "MaxCostStrategy": self.MaxCostStrategy,
        }


@dataclass(slots=True)
class TPDestinationRate:
    ID: str
    DestinationRates: list[DestinationRateBinding] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"ID": self.ID, "DestinationRates": [b.to_json() for b in self.DestinationRates]}


@dataclass(slots=True)
class RatingPlanBinding:
    """A row of RatingPlans.csv: destination rates applied during a timing, with a weight."""

    DestinationRatesId: str
    TimingId: str
    Weight: float = 0.0

    def to_json(self) -> dict:
        return {"DestinationRatesId": self.DestinationRatesId, "TimingId": self.TimingId, "Weight": self.Weight}


@dataclass(slots=True)
class TPRatingPlan:
    ID: str
    RatingPlanBindings: list[RatingPlanBinding] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"ID": self.ID, "RatingPlanBindings": [b.to_json() for b in self.RatingPlanBindings]}


# ---------------------------------------------------------------------------------------------------- runtime rating


@dataclass(slots=True, eq=False)
class Rate:
    """One price slot at runtime: ``Value`` per ``RateUnit`` (ns), charged in ``RateIncrement`` steps."""

    GroupIntervalStart: int
    Value: Decimal
    RateIncrement: int
    RateUnit: int

    def key(self) -> tuple:
        return (self.GroupIntervalStart, self.Value, self.RateIncrement, self.RateUnit)

    def to_json(self) -> dict:
        return {
            "GroupIntervalStart": self.GroupIntervalStart,
            "Value": _num(self.Value),
            "RateIncrement": self.RateIncrement,
            "RateUnit": self.RateUnit,
        }

    @classmethod
    def from_json(cls, d: dict) -> Rate:
        return cls(
            GroupIntervalStart=int(d.get("GroupIntervalStart") or 0),
            Value=_dec(d.get("Value")),
            RateIncrement=int(d.get("RateIncrement") or 0),
            RateUnit=int(d.get("RateUnit") or 0),
        )


@dataclass(slots=True, eq=False)
class RIRate:
    """The price side of a rate interval (CGRateS RIRate). ``Rates`` are kept sorted by GroupIntervalStart."""

    ConnectFee: Decimal = Decimal(0)
    RoundingMethod: str = ""
    RoundingDecimals: int = 0
    MaxCost: Decimal = Decimal(0)
    MaxCostStrategy: str = ""
    Rates: list[Rate] = field(default_factory=list)
    ID: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        self.Rates.sort(key=lambda r: r.GroupIntervalStart)

    def key(self) -> tuple:
        return (
            self.ConnectFee,
            self.RoundingMethod,
            self.RoundingDecimals,
            self.MaxCost,
            self.MaxCostStrategy,
            tuple(r.key() for r in self.Rates),
        )

    def stringify(self) -> str:
        return short_hash(repr(self.key()))

    def to_json(self) -> dict:
        return {
            "ConnectFee": _num(self.ConnectFee),
            "RoundingMethod": self.RoundingMethod,
            "RoundingDecimals": self.RoundingDecimals,
            "MaxCost": _num(self.MaxCost),
            "MaxCostStrategy": self.MaxCostStrategy,
            "Rates": [r.to_json() for r in self.Rates],
        }

    @classmethod
    def from_json(cls, d: dict) -> RIRate:
        return cls(
            ConnectFee=_dec(d.get("ConnectFee")),
            RoundingMethod=d.get("RoundingMethod") or "",
            RoundingDecimals=int(d.get("RoundingDecimals") or 0),
            MaxCost=_dec(d.get("MaxCost")),
            MaxCostStrategy=d.get("MaxCostStrategy") or "",
            Rates=[Rate.from_json(r) for r in d.get("Rates") or []],
        )


@dataclass(slots=True, eq=False)
class RateInterval:
    """A timing, a rating and the weight that picks it among overlapping ones (CGRateS RateInterval)."""

    Timing: RITiming | None
    Rating: RIRate | None
    Weight: float = 0.0

    def to_json(self) -> dict:
        return {
            "Timing": self.Timing.to_json() if self.Timing is not None else None,
            "Rating": self.Rating.to_json() if self.Rating is not None else None,
            "Weight": self.Weight,
        }

    @classmethod
    def from_json(cls, d: dict | None) -> RateInterval | None:
        if not d:
            return None
        return cls(
            Timing=RITiming.from_json(d["Timing"]) if d.get("Timing") else None,
            Rating=RIRate.from_json(d["Rating"]) if d.get("Rating") else None,
            Weight=float(d.get("Weight") or 0),
        )


@dataclass(slots=True)
class RPRate:
    """Inside a rating plan: which timing and which rating (by their keys) apply to a destination."""

    Timing: str
    Rating: str
    Weight: float = 0.0

    def to_json(self) -> dict:
        return {"Timing": self.Timing, "Rating": self.Rating, "Weight": self.Weight}


@dataclass(slots=True, eq=False)
class RatingPlan:
    """CGRateS's runtime RatingPlan: shared timings and ratings, and the bindings per destination ID."""

    Id: str
    Timings: dict[str, RITiming] = field(default_factory=dict)
    Ratings: dict[str, RIRate] = field(default_factory=dict)
    DestinationRates: dict[str, list[RPRate]] = field(default_factory=dict)
    _intervals: dict[str, list[RateInterval]] = field(default_factory=dict, repr=False)

    def add_rate_interval(self, destination_id: str, ri: RateInterval) -> None:
        rpr = RPRate(Timing="", Rating="", Weight=ri.Weight)
        if ri.Timing is not None:
            tkey = ri.Timing.stringify()
            self.Timings.setdefault(tkey, ri.Timing)
            rpr.Timing = tkey
        if ri.Rating is not None:
            rkey = ri.Rating.stringify()
            self.Ratings.setdefault(rkey, ri.Rating)
            rpr.Rating = rkey
        bindings = self.DestinationRates.setdefault(destination_id, [])
        if not any(b.Timing == rpr.Timing and b.Rating == rpr.Rating and b.Weight == rpr.Weight for b in bindings):
            bindings.append(rpr)
        self._intervals.pop(destination_id, None)

    def rate_intervals(self, destination_id: str) -> list[RateInterval]:
        """The rate intervals for one destination ID (built once, then shared: do not mutate them)."""
        ris = self._intervals.get(destination_id)
        if ris is None:
            ris = []
            for rpr in self.DestinationRates.get(destination_id, ()):
                timing = self.Timings.get(rpr.Timing)
                rating = self.Ratings.get(rpr.Rating)
                if rating is not None and not rating.ID:
                    rating.ID = rpr.Rating
                if timing is not None and not timing.ID:
                    timing.ID = rpr.Timing
                ris.append(RateInterval(Timing=timing, Rating=rating, Weight=rpr.Weight))
            self._intervals[destination_id] = ris
        return ris

    def to_json(self) -> dict:
        return {
            "Id": self.Id,
            "Timings": {k: v.to_json() for k, v in self.Timings.items()},
            "Ratings": {k: v.to_json() for k, v in self.Ratings.items()},
            "DestinationRates": {k: [b.to_json() for b in v] for k, v in self.DestinationRates.items()},
        }

    @classmethod
    def from_json(cls, d: dict) -> RatingPlan:
        plan = cls(
            Id=d.get("Id") or d.get("ID") or "",
            Timings={k: RITiming.from_json(v) for k, v in (d.get("Timings") or {}).items()},
            Ratings={k: RIRate.from_json(v) for k, v in (d.get("Ratings") or {}).items()},
            DestinationRates={
                k: [
                    RPRate(
                        Timing=b.get("Timing") or "", Rating=b.get("Rating") or "", Weight=float(b.get("Weight") or 0)
                    )
                    for b in v or []
                ]
                for k, v in (d.get("DestinationRates") or {}).items()
            },
        )
        for key, rating in plan.Ratings.items():
            rating.ID = key
        return plan


# ---------------------------------------------------------------------------------------------------- rating profiles


def rating_profile_key(tenant: str, category: str, subject: str) -> str:
    """CGRateS's rating profile ID: ``*out:<tenant>:<category>:<subject>``."""
    return f"{META_OUT}:{tenant}:{category}:{subject}"


def fallback_keys(tenant: str, category: str, fallback_subjects: str | list[str]) -> list[str]:
    """Rating profile keys for a ``;``-separated list of fallback subjects (CGRateS FallbackSubjKeys)."""
    subjects = fallback_subjects.split(";") if isinstance(fallback_subjects, str) else list(fallback_subjects)
    return [rating_profile_key(tenant, category, s.strip()) for s in subjects if s and s.strip()]


@dataclass(slots=True)
class RatingActivation:
    """From ``ActivationTime`` (ns since the epoch) on, ``RatingPlanId`` rates the profile's calls."""

    ActivationTime: int
    RatingPlanId: str
    FallbackKeys: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "ActivationTime": _time_json(self.ActivationTime),
            "RatingPlanId": self.RatingPlanId,
            "FallbackKeys": list(self.FallbackKeys),
        }

    @classmethod
    def from_json(cls, d: dict) -> RatingActivation:
        return cls(
            ActivationTime=_time_from_json(d.get("ActivationTime") or ""),
            RatingPlanId=d.get("RatingPlanId") or d.get("RatingPlanID") or "",
            FallbackKeys=list(d.get("FallbackKeys") or []),
        )


@dataclass(slots=True)
class RatingProfile:
    """Rating plans of a (tenant, category, subject) over time (CGRateS RatingProfile)."""

    Id: str
    RatingPlanActivations: list[RatingActivation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.RatingPlanActivations.sort(key=lambda a: a.ActivationTime)

    def to_json(self) -> dict:
        return {"Id": self.Id, "RatingPlanActivations": [a.to_json() for a in self.RatingPlanActivations]}

    @classmethod
    def from_json(cls, d: dict) -> RatingProfile:
        return cls(
            Id=d.get("Id") or d.get("ID") or "",
            RatingPlanActivations=[RatingActivation.from_json(a) for a in d.get("RatingPlanActivations") or []],
        )

    def active_for_call(self, time_start: int, time_end: int) -> list[RatingActivation]:
        """The activation in force at ``time_start`` and those starting before ``time_end`` (GetActiveForCall)."""
        rpas = self.RatingPlanActivations
        last_before = 0
        first_after = len(rpas)
        for i, rpa in enumerate(rpas):
            if rpa.ActivationTime <= time_start:
                last_before = i
            if rpa.ActivationTime > time_end:
                first_after = i
                break
        return rpas[last_before:first_after]


def time_to_json(ns: int | None) -> str:
    """Nanoseconds since the epoch as RFC3339 UTC (Go's zero time for None)."""
    return _time_json(ns)


def time_from_json(value: Any) -> int:
    return _time_from_json(value)
