"""One timing rule for every caller: rate intervals, balance timings, the *timings filter and action plan schedules.

CGRateS's semantics, case by case (github.com/cgrates/cgrates):

* MonthDays -1: ``RITiming.IsActiveAt`` asks ``MonthDays.Contains(t.Day())`` (engine/rateinterval.go), a literal
  membership test (utils/dateseries.go ``MonthDays.Contains``), so -1 is no day for rating, balances
  (``Balance.IsActiveAt`` → ``RITiming.IsActiveAt``) and the *timings filter (``passTimings`` → ``IsActiveAt``).
  Action plans are scheduled by ``CronString`` (``monthday == "-1"`` becomes cron's ``L``, the last day).
* WeekDays: Sunday is 0 (Go's ``time.Weekday``) and ``WeekDays.Parse`` stores ``day % 7``, so 7 is Sunday too.
* EndTime: ``IsActiveAt`` fails only when ``t.After(getRightMargin(t))``; the right margin is EndTime at 0 ns, so the
  instant of EndTime and one nanosecond before are active, any later instant is not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, timedelta
from typing import Any

import pytest

from pycgrates.engine.accounts.balances import timing_active
from pycgrates.engine.accounts.timings import next_start, timing_from_record
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.filters.service import FilterService
from pycgrates.engine.models.tariffplan import RITiming
from pycgrates.engine.rating import timings as tm
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.registry import Registry
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from pycgrates.engine.template.dataprovider import MapDataProvider
from pycgrates.engine.units import parse_time

US = 1000


def ns(text: str) -> int:
    return tm.to_ns(parse_time(text, "UTC"))


def record(**fields: Any) -> dict[str, Any]:
    """A stored timing record (CGRateS's TPTiming JSON)."""
    return {"ID": "TM", "Years": [], "Months": [], "MonthDays": [], "WeekDays": [], "StartTime": "00:00:00",
            "EndTime": "", **fields}


LAST_DAY = record(MonthDays=[-1])
SUNDAY_0 = record(WeekDays=[0])
SUNDAY_7 = record(WeekDays=[7])
WORK_HOURS = record(StartTime="08:00:00", EndTime="18:00:00")
END = ns("2024-01-15T18:00:00Z")

#: (case, timing record, instant in ns, active at it, due then as an action plan's schedule; None: no schedule case)
CASES = [
    ("-1 on Feb 29 of a leap year", LAST_DAY, ns("2024-02-29T00:00:00Z"), False, True),
    ("-1 on Feb 28", LAST_DAY, ns("2023-02-28T00:00:00Z"), False, True),
    ("-1 on Feb 28 of a leap year", LAST_DAY, ns("2024-02-28T00:00:00Z"), False, False),
    ("-1 on Jan 31", LAST_DAY, ns("2024-01-31T00:00:00Z"), False, True),
    ("-1 on Jan 30", LAST_DAY, ns("2024-01-30T00:00:00Z"), False, False),
    ("Sunday as 0", SUNDAY_0, ns("2024-01-14T00:00:00Z"), True, True),
    ("Sunday as 7", SUNDAY_7, ns("2024-01-14T00:00:00Z"), True, True),
    ("7 on a Monday", SUNDAY_7, ns("2024-01-15T00:00:00Z"), False, False),
    ("0 on a Saturday", SUNDAY_0, ns("2024-01-13T00:00:00Z"), False, False),
    ("at EndTime", WORK_HOURS, END, True, None),
    ("one nanosecond before EndTime", WORK_HOURS, END - 1, True, None),
    ("one second after EndTime", WORK_HOURS, END + tm.SECOND, False, None),
    ("one second before StartTime", WORK_HOURS, ns("2024-01-15T07:59:59Z"), False, None),
    ("at StartTime", WORK_HOURS, ns("2024-01-15T08:00:00Z"), True, None),
]


# ------------------------------------------------------------------------------------------------ the callers


async def rate_interval(rec: dict, at: int) -> bool:
    """Rating picks rate intervals by their timing (engine.rating.calldesc) as stored in the rating plan."""
    return tm.is_active_at(RITiming.from_json(rec), tm.to_datetime(at), at % US)


async def rate_interval_span(rec: dict, at: int) -> bool:
    """Rating cuts time spans where a rate interval's timing stops covering them (engine.rating.timespans)."""
    return tm.contains(RITiming(**{k: tuple(v) if isinstance(v, list) else v for k, v in rec.items()}), at, UTC)


async def balance(rec: dict, at: int) -> bool:
    """A balance applies to a debit only while one of its timings is active (engine.accounts.debit)."""
    return timing_active([rec], tm.to_datetime(at))


async def timings_filter(rec: dict, at: int) -> bool:
    """``*timings:~*req.AnswerTime:TM`` against the Timings record stored in DataDB."""
    registry = Registry()
    ctx = EngineContext(cfg=config_from_dict({}), dm=DataManager(MemoryDataDB(), Cache()), stordb=None,
                        registry=registry, conns=ConnManager(Dispatcher(registry), {}))
    await ctx.dm.set(kinds.TIMING, "TM", rec)
    event = MapDataProvider({"*req": {"AnswerTime": tm.to_datetime(at)}})
    return await FilterService(ctx).pass_filters("cgrates.org", ["*timings:~*req.AnswerTime:TM"], event)


ACTIVE_CALLERS: dict[str, Callable[[dict, int], Awaitable[bool]]] = {
    "rating": rate_interval,
    "rating spans": rate_interval_span,
    "balances": balance,
    "filters": timings_filter,
}


@pytest.mark.parametrize("caller", ACTIVE_CALLERS)
@pytest.mark.parametrize(("case", "rec", "at", "active", "_due"), CASES, ids=[c[0] for c in CASES])
async def test_active_at(caller, case, rec, at, active, _due):
    assert await ACTIVE_CALLERS[caller](rec, at) is active


SCHEDULE_CASES = [(c, r, a, d) for c, r, a, _, d in CASES if d is not None]


@pytest.mark.parametrize(("case", "rec", "at", "due"), SCHEDULE_CASES, ids=[c[0] for c in SCHEDULE_CASES])
def test_action_plan_schedule(case, rec, at, due):
    """The scheduler runs an action plan at the next start of its timing (engine.scheduler)."""
    when = tm.to_datetime(at)
    assert (next_start(timing_from_record(rec), when - timedelta(seconds=1), UTC) == when) is due


def test_one_nanosecond_after_end_time_is_outside():
    """Rating counts nanoseconds: the first instant after EndTime is no longer covered."""
    timing = RITiming(StartTime="08:00:00", EndTime="18:00:00")
    assert tm.contains(timing, END, UTC)
    assert not tm.contains(timing, END + 1, UTC)
    assert not tm.is_active_at(timing, tm.to_datetime(END + 1), (END + 1) % US)


async def test_filters_read_the_event_time_to_the_second():
    """CGRateS's passTimings reads the field as text (``ParseDataProviderWithInterfaces`` → ``IfaceAsString``, which
    formats a time as RFC3339 without fractions), so within EndTime's second the filter still passes; rating and
    balances see the fraction."""
    assert await timings_filter(WORK_HOURS, END + US)
    assert not await balance(WORK_HOURS, END + US)
    assert not await rate_interval(WORK_HOURS, END + US)


def test_balance_timing_loaded_from_a_timings_row_keeps_its_end_time():
    """Timings.csv's Time column is "start;end" (CGRateS utils.NewTiming); a balance timing built from the row
    (engine.accounts.loading) ends at its EndTime."""
    rec = timing_from_record({"ID": "WORK", "WeekDays": "1;2;3;4;5", "Time": "08:00:00;18:00:00"}).to_dict()
    assert timing_active([rec], tm.to_datetime(END))
    assert not timing_active([rec], tm.to_datetime(END + US))
