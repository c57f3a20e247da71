"""Times as integer nanoseconds, and the one rule of when a timing (years, months, month days, week days, start/end
time) applies: rating's rate intervals, balance timings, the ``*timings`` filter and the action plans' schedule all
ask :func:`day_matches` and :func:`is_active_at`.

Rating works on integer nanoseconds since the Unix epoch so that *data and *sms units (1 unit = 1 ns, as in
CGRateS) stay exact; calendar questions are asked in the call's timezone.

CGRateS's semantics (engine/rateinterval.go ``RITiming.IsActiveAt``, utils/dateseries.go, engine/action_plan.go):

* an empty list is any value; week days count from Sunday = 0, and 7 is Sunday too (``WeekDays.Parse`` stores
  ``day % 7``);
* month days match literally when asking whether a timing is active, so -1 is no day there; only the schedule of
  an action plan reads -1 as the last day of the month (``CronString`` turns it into cron's ``L``);
* a timing is active from its StartTime to its EndTime *inclusive* (``t.After(rightMargin)`` is the only way out):
  at EndTime exactly it is still active, one nanosecond later it is not; with no EndTime it runs to midnight.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from pycgrates.engine.models.tariffplan import RITiming

SECOND = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_ns(dt: datetime) -> int:
    """A timezone-aware datetime as nanoseconds since the epoch."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return ((dt - _EPOCH) // _ONE_US) * 1000


def to_datetime(ns: int, tz: tzinfo = UTC) -> datetime:
    """Nanoseconds since the epoch as a datetime in ``tz`` (sub-microsecond digits are dropped)."""
    return (_EPOCH + timedelta(microseconds=ns // 1000)).astimezone(tz)


def _at(dt: datetime, hms: tuple[int, int, int]) -> datetime:
    """``dt``'s date at hh:mm:ss (hours past 23 roll over, as Go's time.Date normalises)."""
    h, m, s = hms
    base = dt.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    if 0 <= h < 24 and 0 <= m < 60 and 0 <= s < 60:
        return base.replace(hour=h, minute=m, second=s)
    return (base.replace(tzinfo=None) + timedelta(hours=h, minutes=m, seconds=s)).replace(tzinfo=dt.tzinfo)


def left_margin(timing: RITiming, dt: datetime) -> datetime:
    """When the timing starts on ``dt``'s day."""
    return _at(dt, timing.start or (0, 0, 0))


def right_margin(timing: RITiming, dt: datetime) -> datetime:
    """When the timing ends on ``dt``'s day: its EndTime, else the following midnight."""
    if timing.end is not None:
        return _at(dt, timing.end)
    next_day = dt.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return next_day.replace(tzinfo=dt.tzinfo)


def weekday(day: date) -> int:
    """Go's weekday: 0 = Sunday ... 6 = Saturday."""
    return day.isoweekday() % 7


class Calendar(Protocol):
    """The day part of a timing (RITiming, TPTiming, an action plan's Timing; CGRateS's field names): empty lists
    mean any."""

    @property
    def Years(self) -> Sequence[int]: ...

    @property
    def Months(self) -> Sequence[int]: ...

    @property
    def MonthDays(self) -> Sequence[int]: ...

    @property
    def WeekDays(self) -> Sequence[int]: ...


def day_matches(timing: Calendar, day: date, *, month_end: bool = False) -> bool:
    """Whether ``day`` is one of the timing's days.

    ``month_end`` is the action plans' reading, where month day -1 is the month's last day (CGRateS's cron "L");
    whether a timing is active matches month days literally (CGRateS ``MonthDays.Contains``).
    """
    if timing.Years and day.year not in timing.Years:
        return False
    if timing.Months and day.month not in timing.Months:
        return False
    if timing.MonthDays and day.day not in timing.MonthDays:
        if not (month_end and -1 in timing.MonthDays and day.day == calendar.monthrange(day.year, day.month)[1]):
            return False
    if timing.WeekDays:
        wd = weekday(day)
        if wd not in timing.WeekDays and not (wd == 0 and 7 in timing.WeekDays):
            return False
    return True


def is_active_at(timing: RITiming | None, dt: datetime, nanos: int = 0) -> bool:
    """Whether the timing applies at ``dt`` plus ``nanos`` nanoseconds (below its microsecond), as CGRateS's
    RITiming.IsActiveAt: on one of its days, not before StartTime and not after EndTime."""
    if timing is None or timing.always:
        return True
    if not day_matches(timing, dt):
        return False
    if dt < left_margin(timing, dt):
        return False
    end = right_margin(timing, dt)
    return dt < end or (dt == end and not nanos)


class TimingError(ValueError):
    """A timing that cannot be read."""


def int_list(value: Any) -> list[int]:
    """CGRateS's ';'-separated integer lists; "*any" and "" mean any (empty list)."""
    if value is None or value == "" or value == "*any":
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(";") if p.strip()]
    else:
        parts = list(value)
    out = []
    for p in parts:
        if p == "*any":
            return []
        try:
            out.append(int(p))
        except (TypeError, ValueError) as exc:
            raise TimingError(f"{value!r} is not a list of numbers separated by ';' (or *any)") from exc
    return out


def timing_of(record: RITiming | Mapping[str, Any] | Any) -> RITiming:
    """A timing record in any of its stored shapes (TPTiming or RITiming JSON, an action plan's Timing, lists or
    ';'-separated text; StartTime and EndTime, or the CSV's Time "start;end") as an RITiming."""
    if isinstance(record, RITiming):
        return record
    if not isinstance(record, Mapping):
        record = record.to_json() if hasattr(record, "to_json") else record.to_dict()
    start = record.get("StartTime")
    if start is None:
        start = record.get("Time")
    start, _, end = str(start or "").partition(";")
    return RITiming(
        ID=record.get("ID") or "",
        Years=tuple(int_list(record.get("Years"))),
        Months=tuple(int_list(record.get("Months"))),
        MonthDays=tuple(int_list(record.get("MonthDays"))),
        WeekDays=tuple(int_list(record.get("WeekDays"))),
        StartTime=start.strip(),
        EndTime=str(record.get("EndTime") or end).strip(),
    )


def is_midnight(dt: datetime) -> bool:
    return dt.hour == 0 and dt.minute == 0 and dt.second == 0


def contains(timing: RITiming | None, ns: int, tz: tzinfo, end_time: bool = False) -> bool:
    """Whether a rate interval's timing covers the instant ``ns``.

    An end time at exactly midnight belongs to the day before (it is read as 23:59:59).
    """
    if timing is None or timing.always:
        return True
    dt = to_datetime(ns, tz)
    if end_time and is_midnight(dt):
        dt = dt - timedelta(seconds=1)
    return is_active_at(timing, dt, ns % 1000)


def left_margin_ns(timing: RITiming | None, ns: int, tz: tzinfo) -> int:
    if timing is None:
        return to_ns(to_datetime(ns, tz).replace(hour=0, minute=0, second=0, microsecond=0))
    return to_ns(left_margin(timing, to_datetime(ns, tz)))


def right_margin_ns(timing: RITiming | None, ns: int, tz: tzinfo) -> int:
    dt = to_datetime(ns, tz)
    if timing is None:
        return to_ns(right_margin(RITiming(), dt))
    return to_ns(right_margin(timing, dt))


def next_midnight_ns(ns: int, tz: tzinfo) -> int:
    dt = to_datetime(ns, tz)
    nxt = dt.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return to_ns(nxt.replace(tzinfo=tz))


DAY = 86_400 * SECOND


def same_day(a_ns: int, b_ns: int, tz: tzinfo) -> bool:
    """Whether two instants fall on the same day of month (what CGRateS compares to split calls at midnight)."""
    if tz is UTC:
        return a_ns // DAY == b_ns // DAY
    return to_datetime(a_ns, tz).day == to_datetime(b_ns, tz).day


def ends_at_midnight(ns: int, tz: tzinfo) -> bool:
    if tz is UTC:
        return (ns % DAY) // SECOND == 0
    return is_midnight(to_datetime(ns, tz))


def copy_hour(src: datetime, dest: datetime) -> datetime:
    """``src``'s time of day on ``dest``'s date (CGRateS utils.CopyHour); midnight stays as it is."""
    if is_midnight(src):
        return src
    return dest.replace(hour=src.hour, minute=src.minute, second=src.second, microsecond=src.microsecond)
