"""When action plans run: CGRateS's timing records and the next start after a given moment.

A timing is a set of years, months, month days, week days (empty = any) and a start time "HH:MM:SS" whose
parts may be "*" (any). ``*asap`` runs once, right away. Built-in IDs (``*daily``, ``*monthly``, ...) are
fixed relative to the moment the plan is loaded, as CGRateS's loader does: a plan loaded on the 15th at 10:20:30
with ``*monthly`` runs on the 15th of every month at 10:20:30. Which days are due is the one timing rule of
``engine.rating.timings.day_matches`` in its schedule reading: week days follow Go (0 = Sunday; 7 is read as Sunday
too) and a month day of -1 is the last day of the month (CGRateS's cron "L").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from pycgrates.engine.models.account import Timing
from pycgrates.engine.rating.timings import TimingError, day_matches, int_list

__all__ = ["ASAP", "TimingError", "builtin_timing", "int_list", "next_start", "timing_from_record", "validate"]

ASAP = "*asap"
_SEARCH_YEARS = 12


def timing_from_record(rec: dict, timing_id: str = "") -> Timing:
    """A Timing from a stored timing record (CGRateS TPTiming or RITiming field names)."""
    start = rec.get("StartTime") if rec.get("StartTime") is not None else rec.get("Time", "")
    return Timing(
        Years=int_list(rec.get("Years")),
        Months=int_list(rec.get("Months")),
        MonthDays=int_list(rec.get("MonthDays")),
        WeekDays=int_list(rec.get("WeekDays")),
        StartTime=str(start or "00:00:00"),
        ID=rec.get("ID") or timing_id,
    )


def builtin_timing(timing_id: str, loaded_at: datetime) -> Timing | None:
    """CGRateS's predefined timing IDs, relative to when the plan was loaded; None if not a built-in."""
    hms = loaded_at.strftime("%H:%M:%S")
    wd = (loaded_at.weekday() + 1) % 7
    table = {
        ASAP: Timing(StartTime=ASAP),
        "*any": Timing(StartTime="00:00:00"),
        "*every_minute": Timing(StartTime=f"*:*:{loaded_at.second:02d}"),
        "*hourly": Timing(StartTime=f"*:{loaded_at.minute:02d}:{loaded_at.second:02d}"),
        "*daily": Timing(StartTime=hms),
        "*weekly": Timing(WeekDays=[wd], StartTime=hms),
        "*monthly": Timing(MonthDays=[loaded_at.day], StartTime=hms),
        "*month_end": Timing(MonthDays=[-1], StartTime=hms),
        "*yearly": Timing(Months=[loaded_at.month], MonthDays=[loaded_at.day], StartTime=hms),
    }
    t = table.get(timing_id)
    if t is not None:
        t.ID = timing_id
    return t


def _parse_start(start: str) -> tuple[int | None, int | None, int | None]:
    parts = (start or "00:00:00").split(":")
    if len(parts) == 2:
        parts.append("00")
    if len(parts) != 3:
        raise TimingError(f"start time {start!r} must be HH:MM:SS ('*' for any part) or *asap")
    out: list[int | None] = []
    for p, hi in zip(parts, (23, 59, 59), strict=True):
        if p in ("*", "*any", ""):
            out.append(None)
            continue
        try:
            v = int(p)
        except ValueError as exc:
            raise TimingError(f"start time {start!r} must be HH:MM:SS ('*' for any part) or *asap") from exc
        if not 0 <= v <= hi:
            raise TimingError(f"start time {start!r} is out of range")
        out.append(v)
    return out[0], out[1], out[2]


def validate(timing: Timing) -> None:
    """Raise TimingError when the timing cannot be scheduled."""
    if timing.is_asap():
        return
    _parse_start(timing.StartTime)
    for m in timing.Months:
        if not 1 <= m <= 12:
            raise TimingError(f"month {m} is out of range 1..12")
    for d in timing.MonthDays:
        if d == 0 or not -31 <= d <= 31:
            raise TimingError(f"month day {d} is out of range 1..31 (or -1 for the last day)")
    for w in timing.WeekDays:
        if not 0 <= w <= 7:
            raise TimingError(f"week day {w} is out of range 0..6 (0 is Sunday)")


def _first_time_of_day(hms: tuple[int | None, int | None, int | None],
                       floor: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
    """The earliest (h, m, s) matching ``hms`` that is >= ``floor`` (None: from midnight)."""
    h_opts = range(24) if hms[0] is None else (hms[0],)
    m_opts = range(60) if hms[1] is None else (hms[1],)
    s_opts = range(60) if hms[2] is None else (hms[2],)
    for h in h_opts:
        if floor and h < floor[0]:
            continue
        for m in m_opts:
            if floor and (h, m) < floor[:2]:
                continue
            for s in s_opts:
                if floor and (h, m, s) < floor:
                    continue
                return h, m, s
    return None


def next_start(timing: Timing, after: datetime, tz: tzinfo) -> datetime | None:
    """The first moment strictly after ``after`` at which ``timing`` is due; None if never again."""
    if timing.is_asap():
        return None
    hms = _parse_start(timing.StartTime)
    local = after.astimezone(tz)
    # strictly after, on whole seconds
    floor_dt = (local + timedelta(seconds=1)).replace(microsecond=0)
    day = floor_dt.date()
    limit = date(local.year + _SEARCH_YEARS, 12, 31)
    years = sorted(set(timing.Years))
    while day <= limit:
        if years and day.year not in years:
            later = [y for y in years if y > day.year]
            if not later:
                return None
            day = date(later[0], 1, 1)
            continue
        if timing.Months and day.month not in timing.Months:
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            continue
        if day_matches(timing, day, month_end=True):
            floor = (floor_dt.hour, floor_dt.minute, floor_dt.second) if day == floor_dt.date() else None
            hit = _first_time_of_day(hms, floor)
            if hit is not None:
                return datetime(day.year, day.month, day.day, *hit, tzinfo=tz)
        day += timedelta(days=1)
    return None
