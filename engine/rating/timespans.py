"""Time spans of a call and the increments they are charged in (CGRateS timespans.go, rateinterval.go).

A :class:`TimeSpan` is a piece of the call rated by one rate interval; it is charged in :class:`Increment` steps
of the rate's RateIncrement. Times are integer nanoseconds since the epoch and durations integer nanoseconds (a
*data or *sms unit is one nanosecond, as in CGRateS); money is ``Decimal``.

Increments come *compressed*: one :class:`Increment` with ``compress_factor`` N stands for N equal increments.
Use :meth:`TimeSpan.decompress` (or :func:`iter_increments`) to walk them one at a time and
:meth:`TimeSpan.compress` to fold them back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from pycgrates.engine.models.tariffplan import RateInterval
from pycgrates.engine.rating import timings as tm
from pycgrates.engine.units import ROUNDING_MIDDLE, round_money

ZERO = Decimal(0)

# ---------------------------------------------------------------------------------------------------- rate intervals


def rate_parameters(ri: RateInterval | None, group_start: int) -> tuple[Decimal, int, int]:
    """(price, rate increment, rate unit) of the slot applying ``group_start`` ns into the call.

    A zero RateIncrement or RateUnit counts as one second, as in CGRateS. A call position before the first slot
    uses the first slot.
    """
    if ri is None or ri.Rating is None or not ri.Rating.Rates:
        return Decimal(-1), -1, -1
    rates = ri.Rating.Rates
    chosen = rates[0]
    for rate in rates:
        if rate.GroupIntervalStart <= group_start:
            chosen = rate
        else:
            break
    return chosen.Value, chosen.RateIncrement or tm.SECOND, chosen.RateUnit or tm.SECOND


def interval_cost(ri: RateInterval, duration: int, group_start: int) -> Decimal:
    """Unrounded price of ``duration`` ns at the slot applying from ``group_start`` (RateInterval.GetCost)."""
    price, _, unit = rate_parameters(ri, group_start)
    return price * duration / unit


def max_cost(ri: RateInterval | None) -> tuple[Decimal, str]:
    if ri is None or ri.Rating is None:
        return ZERO, ""
    return ri.Rating.MaxCost, ri.Rating.MaxCostStrategy


def round_duration(whole: int, amount: int) -> int:
    """``amount`` rounded up to a multiple of ``whole`` (CGRateS utils.RoundDuration)."""
    if whole <= 0:
        return amount
    rem = amount % whole
    return amount if rem == 0 else amount + whole - rem


# ---------------------------------------------------------------------------------------------------- rating infos


@dataclass(slots=True)
class RatingInfo:
    """What rates a part of the call: the rating plan matched for the destination from an activation time on.

    ``RateIntervals`` None means "not covered here": ``FallbackKeys`` name the rating profiles to try instead.
    """

    MatchedSubject: str = ""
    RatingPlanId: str = ""
    MatchedPrefix: str = ""
    MatchedDestId: str = ""
    ActivationTime: int = 0
    RateIntervals: list[RateInterval] | None = None
    FallbackKeys: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- increments


@dataclass(slots=True)
class Increment:
    """``compress_factor`` equal charging steps of ``duration`` ns costing ``cost`` each.

    ``balance_info`` is for accounting (which balance paid); rating leaves it None. ``accounting_id`` names the
    EventCost Accounting entry the increment was paid from, when accounting fills one in.
    """

    duration: int
    cost: Decimal
    compress_factor: int = 1
    balance_info: Any = None
    accounting_id: str = ""
    paid: bool = False

    @property
    def total_cost(self) -> Decimal:
        return self.cost * self.compress_factor

    @property
    def total_duration(self) -> int:
        return self.duration * self.compress_factor

    def clone(self, compress_factor: int | None = None) -> Increment:
        return Increment(
            duration=self.duration,
            cost=self.cost,
            compress_factor=self.compress_factor if compress_factor is None else compress_factor,
            balance_info=self.balance_info,
            accounting_id=self.accounting_id,
            paid=self.paid,
        )

    def same_as(self, other: Increment) -> bool:
        """Equal apart from the compress factor (can be folded together)."""
        return (
            self.duration == other.duration
            and self.cost == other.cost
            and self.balance_info == other.balance_info
            and self.accounting_id == other.accounting_id
        )

    def to_json(self) -> dict:
        return {
            "Duration": self.duration,
            "Cost": _num(self.cost),
            "BalanceInfo": _balance_info_json(self.balance_info),
            "CompressFactor": self.compress_factor,
        }

    @classmethod
    def from_json(cls, d: dict) -> Increment:
        """From CGRateS's Increment JSON; BalanceInfo stays the JSON object it came as."""
        return cls(duration=int(d.get("Duration") or 0), cost=Decimal(str(d.get("Cost") or 0)),
                   compress_factor=int(d.get("CompressFactor") or 1), balance_info=d.get("BalanceInfo"))


def _num(v: Decimal) -> float | int:
    return int(v) if v == v.to_integral_value() else float(v)


def balance_part(bi: Any, name: str) -> Any:
    """A part of an increment's BalanceInfo (``Unit``, ``Monetary``, ``AccountID``), whether it is accounting's
    DebitInfo (in process) or its JSON (a reply read off the wire, a record restored from storage)."""
    if bi is None:
        return None
    return bi.get(name) if isinstance(bi, dict) else getattr(bi, name, None)


def _balance_info_json(bi: Any) -> Any:
    if bi is None:
        return None
    to_json = getattr(bi, "to_json", None)
    return to_json() if callable(to_json) else bi


def compress_increments(incs: list[Increment]) -> list[Increment]:
    """Fold consecutive equal increments into one with a larger compress factor."""
    out: list[Increment] = []
    for inc in incs:
        if out and out[-1].same_as(inc):
            out[-1].compress_factor += inc.compress_factor
        else:
            out.append(inc.clone())
    return out


def iter_increments(incs: list[Increment]) -> Iterator[Increment]:
    """Each single increment (compress factor 1), in order."""
    for inc in incs:
        for _ in range(inc.compress_factor):
            yield inc.clone(1)


# ---------------------------------------------------------------------------------------------------- time spans


@dataclass(slots=True)
class TimeSpan:
    """A piece of the call [time_start, time_end) rated by one rate interval.

    ``duration_index`` is the call's usage so far at ``time_end`` (it selects the GroupIntervalStart slot).
    """

    time_start: int
    time_end: int
    cost: Decimal = ZERO
    rate_interval: RateInterval | None = None
    duration_index: int = 0
    increments: list[Increment] = field(default_factory=list)
    matched_subject: str = ""
    matched_prefix: str = ""
    matched_dest_id: str = ""
    rating_plan_id: str = ""
    compress_factor: int = 1
    rating_info: RatingInfo | None = field(default=None, repr=False)
    round_increment: Increment | None = None

    # -------------------------------------------------------------------------------- basics

    @property
    def duration(self) -> int:
        return self.time_end - self.time_start

    @property
    def match_destination_id(self) -> str:
        return self.matched_dest_id

    def group_start(self) -> int:
        """How far into the call this span starts."""
        return max(0, self.duration_index - self.duration)

    def group_end(self) -> int:
        return self.duration_index

    def contains(self, t: int) -> bool:
        return self.time_start < t < self.time_end

    def set_rating_info(self, ri: RatingInfo) -> None:
        self.rating_info = ri
        self.matched_subject = ri.MatchedSubject
        self.matched_prefix = ri.MatchedPrefix
        self.matched_dest_id = ri.MatchedDestId
        self.rating_plan_id = ri.RatingPlanId

    def copy_rating_info(self, other: TimeSpan) -> None:
        if other.rating_info is not None:
            self.set_rating_info(other.rating_info)
        else:
            self.matched_subject = other.matched_subject
            self.matched_prefix = other.matched_prefix
            self.matched_dest_id = other.matched_dest_id
            self.rating_plan_id = other.rating_plan_id

    def set_new_duration_index(self, nts: TimeSpan) -> None:
        """After cutting ``nts`` off the end of this span, this span's usage-so-far shrinks by its duration."""
        self.duration_index = max(0, self.duration_index - nts.duration)

    def rate_parameters(self) -> tuple[Decimal, int, int]:
        return rate_parameters(self.rate_interval, self.group_start())

    # -------------------------------------------------------------------------------- choosing the rate interval

    def has_better_rate_interval_than(self, interval: RateInterval, tz: tzinfo) -> bool:
        """Whether the span's current interval should stay rather than ``interval`` (CGRateS's rules).

        An interval starting after the span is unusable; a higher weight wins; on equal weights the interval whose
        start is closer before the span wins.
        """
        if interval.Timing is None:
            return False
        other_distance = self.time_start - tm.left_margin_ns(interval.Timing, self.time_start, tz)
        if other_distance < 0:
            return True
        own = self.rate_interval
        if own is None:
            return False
        if own.Weight < interval.Weight:
            return False
        own_distance = self.time_start - tm.left_margin_ns(own.Timing, self.time_start, tz)
        return not own_distance > other_distance

    def set_rate_interval(self, interval: RateInterval | None, tz: tzinfo) -> None:
        if interval is not None and not self.has_better_rate_interval_than(interval, tz):
            self.rate_interval = interval

    # -------------------------------------------------------------------------------- splitting

    def _cut(self, at: int) -> TimeSpan:
        """Cut the span at ``at``: this span ends there, the returned one runs from there to the old end."""
        nts = TimeSpan(time_start=at, time_end=self.time_end)
        nts.copy_rating_info(self)
        nts.duration_index = self.duration_index
        self.time_end = at
        self.set_new_duration_index(nts)
        return nts

    def split_by_rate_interval(self, interval: RateInterval, data: bool, tz: tzinfo) -> TimeSpan | None:
        """Attach ``interval`` where it applies; cut the span where a price slot or the interval's timing starts
        or ends inside it. Returns the new span after the cut, or None."""
        starts_in = tm.contains(interval.Timing, self.time_start, tz)
        ends_in = tm.contains(interval.Timing, self.time_end, tz, end_time=True)
        if not (starts_in or ends_in):
            return None
        if interval.Rating is not None:
            gstart, gend = self.group_start(), self.group_end()
            for rate in interval.Rating.Rates:
                gis = rate.GroupIntervalStart
                if gstart < gis < gend:
                    self.set_rate_interval(interval, tz)
                    nts = self._cut(self.time_start + gis - gstart)
                    nts.set_rate_interval(interval, tz)
                    return nts
        if data:
            if starts_in:
                self.set_rate_interval(interval, tz)
            return None
        if starts_in and ends_in:
            self.set_rate_interval(interval, tz)
            return None
        if starts_in:
            split = tm.right_margin_ns(interval.Timing, self.time_start, tz)
            self.set_rate_interval(interval, tz)
            if split <= self.time_start or split >= self.time_end:
                return None
            return self._cut(split)
        # only the end is inside: the interval starts within the span
        end_dt = tm.to_datetime(self.time_end, tz)
        left = tm.left_margin(interval.Timing, end_dt) if interval.Timing is not None else end_dt
        split = tm.to_ns(tm.copy_hour(left, tm.to_datetime(self.time_start, tz)))
        if split >= self.time_end or split <= self.time_start:
            return None
        nts = self._cut(split)
        nts.set_rate_interval(interval, tz)
        return nts

    def split_by_rating_plan(self, ri: RatingInfo) -> TimeSpan | None:
        """Cut at the activation time of ``ri`` when inside the span; the new span is rated by ``ri``."""
        if not self.contains(ri.ActivationTime):
            return None
        nts = self._cut(ri.ActivationTime)
        nts.set_rating_info(ri)
        return nts

    def split_by_day(self, tz: tzinfo) -> TimeSpan | None:
        """Cut at the first midnight inside the span."""
        if tm.same_day(self.time_start, self.time_end, tz) or tm.ends_at_midnight(self.time_end, tz):
            return None
        split = tm.next_midnight_ns(self.time_start, tz)
        if not self.contains(split):
            return None
        return self._cut(split)

    def split_by_increment(self, index: int) -> TimeSpan | None:
        """Cut before the ``index``-th single increment (0-based, counting compressed ones one by one).

        The increments move with their part; returns the new span, or None when ``index`` is not inside.
        """
        total = sum(inc.compress_factor for inc in self.increments)
        if index <= 0 or index >= total:
            return None
        offset = 0
        left: list[Increment] = []
        right: list[Increment] = []
        for inc in self.increments:
            if offset + inc.compress_factor <= index:
                left.append(inc)
            elif offset >= index:
                right.append(inc)
            else:
                k = index - offset
                left.append(inc.clone(k))
                right.append(inc.clone(inc.compress_factor - k))
            offset += inc.compress_factor
        at = self.time_start + sum(i.total_duration for i in left)
        nts = TimeSpan(time_start=at, time_end=self.time_end, rate_interval=self.rate_interval)
        nts.copy_rating_info(self)
        nts.duration_index = self.duration_index
        self.time_end = at
        nts.increments = right
        self.increments = left
        self.set_new_duration_index(nts)
        self.cost = self.calculate_cost()
        nts.cost = nts.calculate_cost()
        return nts

    def split_by_duration(self, duration: int) -> TimeSpan | None:
        """Cut ``duration`` ns after the start; an increment straddling the cut is split in two durations."""
        if duration <= 0 or duration >= self.duration:
            return None
        incs = list(iter_increments(self.increments)) if self.increments else []
        nts = TimeSpan(time_start=self.time_start + duration, time_end=self.time_end, rate_interval=self.rate_interval)
        nts.copy_rating_info(self)
        nts.duration_index = self.duration_index
        self.time_end = nts.time_start
        left: list[Increment] = []
        right: list[Increment] = []
        rest = duration
        for i, inc in enumerate(incs):
            if rest - inc.duration >= 0:
                rest -= inc.duration
                left.append(inc)
                continue
            if rest > 0:
                cut = inc.clone(1)
                cut.duration = inc.duration - rest
                inc.duration = rest
                left.append(inc)
                right.append(cut)
            else:
                right.append(inc)
            right.extend(incs[i + 1 :])
            break
        self.increments = compress_increments(left)
        nts.increments = compress_increments(right)
        self.set_new_duration_index(nts)
        return nts

    def round_to_duration(self, duration: int) -> None:
        """Stretch the span to a multiple of ``duration`` (at least ``duration``)."""
        if duration < self.duration:
            duration = round_duration(duration, self.duration)
        if duration > self.duration:
            initial = self.duration
            self.time_end = self.time_start + duration
            self.duration_index += duration - initial

    # -------------------------------------------------------------------------------- costs

    def create_increments(self, rounding_decimals: int) -> None:
        """Charge the span in RateIncrement steps, each step's cost rounded to ``rounding_decimals`` (*middle)."""
        self.increments = []
        if self.rate_interval is None:
            return
        _, step, _ = rate_parameters(self.rate_interval, self.group_start())
        if step <= 0:
            return
        count = self.duration // step
        if count <= 0:
            self.cost = ZERO
            return
        step_cost = round_money(self.calculate_cost() / count, rounding_decimals, ROUNDING_MIDDLE)
        self.increments = [Increment(duration=step, cost=step_cost, compress_factor=count)]
        self.cost = step_cost * count

    def calculate_cost(self) -> Decimal:
        """The span's cost: its increments when there are some, else the rate's price for its duration."""
        if self.increments:
            total = ZERO
            for inc in self.increments:
                total += inc.cost * inc.compress_factor
            return total * self.compress_factor
        if self.rate_interval is None:
            return ZERO
        return interval_cost(self.rate_interval, self.duration, self.group_start())

    def decompress(self) -> None:
        """One Increment per charging step (compress factor 1 each)."""
        self.increments = list(iter_increments(self.increments))

    def compress(self) -> None:
        self.increments = compress_increments(self.increments)

    def increments_count(self) -> int:
        return sum(inc.compress_factor for inc in self.increments)

    @classmethod
    def from_json(cls, d: dict) -> TimeSpan:
        """From CGRateS's TimeSpan JSON (a RALs reply), times RFC3339 to the nanosecond."""
        from pycgrates.engine.models.tariffplan import time_from_json

        incs = [Increment.from_json(i) for i in d.get("Increments") or []]
        round_inc = d.get("RoundIncrement")
        return cls(
            time_start=time_from_json(d.get("TimeStart") or ""),
            time_end=time_from_json(d.get("TimeEnd") or ""),
            cost=Decimal(str(d.get("Cost") or 0)),
            rate_interval=RateInterval.from_json(d.get("RateInterval")),
            duration_index=int(d.get("DurationIndex") or 0),
            increments=incs,
            matched_subject=d.get("MatchedSubject") or "",
            matched_prefix=d.get("MatchedPrefix") or "",
            matched_dest_id=d.get("MatchedDestId") or "",
            rating_plan_id=d.get("RatingPlanId") or "",
            compress_factor=int(d.get("CompressFactor") or 1),
            round_increment=Increment.from_json(round_inc) if round_inc else None,
        )

    def to_json(self) -> dict:
        from pycgrates.engine.models.tariffplan import time_to_json

        return {
            "TimeStart": time_to_json(self.time_start),
            "TimeEnd": time_to_json(self.time_end),
            "Cost": _num(self.cost),
            "RateInterval": self.rate_interval.to_json() if self.rate_interval is not None else None,
            "DurationIndex": self.duration_index,
            "Increments": [inc.to_json() for inc in self.increments],
            "RoundIncrement": self.round_increment.to_json() if self.round_increment is not None else None,
            "MatchedSubject": self.matched_subject,
            "MatchedPrefix": self.matched_prefix,
            "MatchedDestId": self.matched_dest_id,
            "RatingPlanId": self.rating_plan_id,
            "CompressFactor": self.compress_factor,
        }


def remove_overlapped_from_index(timespans: list[TimeSpan], index: int) -> None:
    """After stretching ``timespans[index]``, drop the spans it now covers and trim the one it overlaps."""
    ts = timespans[index]
    end_overlap = index
    for i in range(index + 1, len(timespans)):
        other = timespans[i]
        if other.time_end <= ts.time_end:
            end_overlap = i
        elif other.time_start < ts.time_end:
            other.time_start = ts.time_end
            break
    if end_overlap > index:
        del timespans[index + 1 : end_overlap + 1]


def timespans_duration(timespans: list[TimeSpan]) -> int:
    return sum(ts.duration for ts in timespans)
