"""Times as integer nanoseconds, and when a timing (years, months, month days, week days, start/end time) applies.

Rating works on integer nanoseconds since the Unix epoch so that *data and *sms units (1 unit = 1 ns, as in
CGRateS) stay exact; calendar questions are asked in the call's timezone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

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


def weekday(dt: datetime) -> int:
    """Go's weekday: 0 = Sunday ... 6 = Saturday."""
    return dt.isoweekday() % 7


def is_active_at(timing: RITiming | None, dt: datetime) -> bool:
    """Whether the timing applies at ``dt`` (CGRateS RITiming.IsActiveAt)."""
    if timing is None or timing.always:
        return True
    if timing.Years and dt.year not in timing.Years:
        return False
    if timing.Months and dt.month not in timing.Months:
        return False
    if timing.MonthDays and dt.day not in timing.MonthDays:
        return False
    if timing.WeekDays and weekday(dt) not in timing.WeekDays:
        return False
    if dt < left_margin(timing, dt):
        return False
    return not dt > right_margin(timing, dt)


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
    return is_active_at(timing, dt)


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
