"""Timings and the scheduler: next starts, once per period across restarts, one-time plans never twice."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from pycgrates.engine.accounts.service import AccountingService
from pycgrates.engine.accounts.timings import builtin_timing, next_start, timing_from_record
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.models.account import Timing
from pycgrates.engine.scheduler import Scheduler
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.internal import InternalDataDB

T = "cgrates.org"


def dt(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


# ------------------------------------------------------------------------------------------------ timings


def test_next_start_monthly_weekly_daily():
    loaded = dt(2024, 1, 15, 10, 20, 30)
    monthly = builtin_timing("*monthly", loaded)
    assert next_start(monthly, loaded, UTC) == dt(2024, 2, 15, 10, 20, 30)  # strictly after: next month
    assert next_start(monthly, dt(2024, 2, 15, 10, 20, 29), UTC) == dt(2024, 2, 15, 10, 20, 30)
    weekly = builtin_timing("*weekly", loaded)  # a Monday
    assert next_start(weekly, loaded, UTC) == dt(2024, 1, 22, 10, 20, 30)
    daily = builtin_timing("*daily", loaded)
    assert next_start(daily, loaded, UTC) == dt(2024, 1, 16, 10, 20, 30)
    month_end = builtin_timing("*month_end", loaded)
    assert next_start(month_end, loaded, UTC) == dt(2024, 1, 31, 10, 20, 30)
    assert next_start(month_end, dt(2024, 2, 1), UTC) == dt(2024, 2, 29, 10, 20, 30)  # leap year


def test_next_start_from_timing_records():
    peak = timing_from_record({"Years": "*any", "Months": "*any", "MonthDays": "*any", "WeekDays": "1;2;3;4;5",
                               "Time": "08:00:00"})
    assert next_start(peak, dt(2024, 1, 13, 9), UTC) == dt(2024, 1, 15, 8)  # Saturday → Monday 08:00
    once = timing_from_record({"Years": "2024", "Months": "3", "MonthDays": "1", "WeekDays": "", "Time": "00:00:00"})
    assert next_start(once, dt(2024, 1, 1), UTC) == dt(2024, 3, 1)
    assert next_start(once, dt(2024, 3, 1), UTC) is None  # one-time: nothing after its own slot
    day31 = Timing(MonthDays=[31], StartTime="12:00:00")
    assert next_start(day31, dt(2024, 4, 1), UTC) == dt(2024, 5, 31, 12)  # April has no 31st
    every_minute = Timing(StartTime="*:*:05")
    assert next_start(every_minute, dt(2024, 1, 1, 0, 0, 5), UTC) == dt(2024, 1, 1, 0, 1, 5)
    assert next_start(Timing(StartTime="*asap"), dt(2024, 1, 1), UTC) is None


# ------------------------------------------------------------------------------------------------ scheduler


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def make(dm) -> tuple[AccountingService, SimpleNamespace]:
    ctx = SimpleNamespace(dm=dm, cfg=config_from_dict({"general": {"default_timezone": "UTC"}}), conns=None,
                          stordb=None, services={})
    return AccountingService(ctx), ctx


async def value(svc: AccountingService, account: str, balance_id: str = "fee") -> Decimal:
    acc = await svc.acc.store.get(f"{T}:{account}")
    return sum((b.Value for b in acc.BalanceMap.get("*monetary", []) if b.ID == balance_id), Decimal(0))


async def setup_plan(svc: AccountingService, plan: dict, accounts=("1001",)) -> None:
    await svc.set_actions({"ActionsId": "TOPUP_10", "Overwrite": True, "Actions": [
        {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "fee", "Units": 10}]})
    await svc.set_action_plan({"Id": "PLAN", "Overwrite": True, "ActionPlan": [{"ActionsId": "TOPUP_10", **plan}]})
    for a in accounts:
        await svc.set_account({"Tenant": T, "Account": a, "ActionPlanID": "PLAN"})


async def test_monthly_topup_once_per_period_across_restarts(tmp_path):
    clock = Clock(dt(2024, 1, 15, 9))
    dm = InternalDataDB(tmp_path)
    svc, ctx = make(dm)
    await setup_plan(svc, {"MonthDays": "15", "Time": "10:00:00"})
    sched = Scheduler(ctx, clock=clock)
    await sched.load()
    assert [q["NextRunTime"] for q in sched.queue()] == ["2024-01-15T10:00:00Z"]
    assert await sched.run_due() == 0  # 09:00: not yet
    clock.t = dt(2024, 1, 15, 10, 0, 1)
    assert await sched.run_due() == 1
    assert await value(svc, "1001") == 10
    # kill -9 here: restart from what is on disk at this moment (no close, no compaction, no flush)
    crashed = tmp_path / "after_kill"
    shutil.copytree(tmp_path, crashed, ignore=shutil.ignore_patterns("*.lock", "after_kill"))
    await dm.close()
    tmp_path = crashed

    # restart the same day: January's slot is recorded, the next is February's
    dm = InternalDataDB(tmp_path)
    svc, ctx = make(dm)
    clock.t = dt(2024, 1, 15, 10, 30)
    sched = Scheduler(ctx, clock=clock)
    await sched.load()
    assert await sched.run_due() == 0
    assert [q["NextRunTime"] for q in sched.queue()] == ["2024-02-15T10:00:00Z"]
    assert await value(svc, "1001") == 10
    clock.t = dt(2024, 2, 15, 10, 0, 0)
    assert await sched.run_due() == 1
    assert await sched.run_due() == 0  # same instant, no second run
    assert await value(svc, "1001") == 20  # 10 + 10
    await dm.close()

    # down from February to late April: the missed March and April slots coalesce into one run
    dm = InternalDataDB(tmp_path)
    svc, ctx = make(dm)
    clock.t = dt(2024, 4, 20)
    sched = Scheduler(ctx, clock=clock)
    await sched.load()
    assert await sched.run_due() == 1
    assert await value(svc, "1001") == 30  # 20 + 10, once
    assert [q["NextRunTime"] for q in sched.queue()] == ["2024-05-15T10:00:00Z"]
    await dm.close()


async def test_one_time_plan_never_fires_twice(tmp_path):
    clock = Clock(dt(2024, 2, 1))
    dm = InternalDataDB(tmp_path)
    svc, ctx = make(dm)
    await setup_plan(svc, {"Years": "2024", "Months": "3", "MonthDays": "1", "Time": "00:00:00"})
    sched = Scheduler(ctx, clock=clock)
    await sched.load()
    clock.t = dt(2024, 3, 1, 0, 0, 1)
    assert await sched.run_due() == 1
    assert sched.queue() == []
    await dm.close()
    for later in (dt(2024, 3, 1, 0, 0, 2), dt(2024, 6, 1), dt(2025, 3, 1, 0, 0, 1)):
        dm = InternalDataDB(tmp_path)
        svc, ctx = make(dm)
        clock.t = later
        sched = Scheduler(ctx, clock=clock)
        await sched.load()
        assert await sched.run_due() == 0
        assert await value(svc, "1001") == 10
        await dm.close()


async def test_slot_interrupted_half_way_resumes_without_repeating():
    clock = Clock(dt(2024, 1, 1))
    dm = MemoryDataDB()
    svc, ctx = make(dm)
    await setup_plan(svc, {"MonthDays": "2", "Time": "00:00:00"}, accounts=("A", "B", "C"))
    sched = Scheduler(ctx, clock=clock)
    await sched.load()
    clock.t = dt(2024, 1, 2, 0, 0, 1)
    # the first account is served, then the engine dies before the others
    real = svc.acc.execute_on_account
    served: list[str] = []

    async def dying(key, actions_id, **kw):
        if served:
            raise asyncio.CancelledError
        served.append(key)
        await real(key, actions_id, **kw)

    svc.acc.execute_on_account = dying
    with pytest.raises(asyncio.CancelledError):
        await sched.run_due()
    svc.acc.execute_on_account = real
    sched = Scheduler(ctx, clock=clock)
    await sched.load()
    assert await sched.run_due() == 1
    assert [await value(svc, a) for a in ("A", "B", "C")] == [10, 10, 10]  # A not topped up twice


async def test_scheduler_loop_runs_due_plans_and_reloads_on_plan_change():
    dm = MemoryDataDB()
    svc, ctx = make(dm)
    await svc.set_actions({"ActionsId": "TOPUP_10", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "fee", "Units": 10}]})
    await svc.set_account({"Tenant": T, "Account": "1001"})
    sched = Scheduler(ctx)
    await sched.start()
    try:
        assert svc.acc.scheduler is sched
        soon = datetime.now(UTC) + timedelta(seconds=2)
        await svc.set_action_plan({"Id": "SOON", "ActionPlan": [{
            "ActionsId": "TOPUP_10", "Years": str(soon.year), "Months": str(soon.month),
            "MonthDays": str(soon.day), "Time": soon.strftime("%H:%M:%S")}]})
        await svc.set_account({"Tenant": T, "Account": "1001", "ActionPlanID": "SOON"})
        (queued,) = await svc.get_scheduled_actions({"Tenant": T, "Account": "1001"})
        assert queued["ActionPlanID"] == "SOON" and queued["Accounts"] == 1
        for _ in range(60):
            if await value(svc, "1001") == 10:
                break
            await asyncio.sleep(0.1)
        assert await value(svc, "1001") == 10
        assert await svc.get_scheduled_actions({}) == []
    finally:
        await sched.stop()


async def test_the_plan_loop_runs_under_the_schedulers_supervisor_and_stops_with_it():
    _, ctx = make(MemoryDataDB())
    sched = Scheduler(ctx)

    def loops() -> list[str]:
        return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("scheduler")]

    await sched.start()
    assert loops() == ["scheduler:action plans"]
    await sched.stop()
    assert loops() == []


async def test_asap_runs_when_attached_and_is_not_scheduled():
    dm = MemoryDataDB()
    svc, ctx = make(dm)
    await setup_plan(svc, {"Time": "*asap"})
    assert await value(svc, "1001") == 10
    sched = Scheduler(ctx)
    await sched.load()
    assert sched.queue() == []


async def test_scheduler_filters_decide_which_tasks_run():
    from pycgrates.engine.filters.service import FilterService

    clock = Clock(dt(2024, 1, 15, 9))
    dm = MemoryDataDB()
    svc, ctx = make(dm)
    ctx.cfg = config_from_dict({"general": {"default_timezone": "UTC"},
                                "schedulers": {"filters": ["*string:~*req.AccountID:cgrates.org:1002"]}})
    from pycgrates.engine.storage.cache import Cache
    from pycgrates.engine.storage.datamanager import DataManager

    ctx.services["filters"] = FilterService(SimpleNamespace(dm=DataManager(dm, Cache()), cfg=ctx.cfg, conns=None,
                                                            services={}))
    await setup_plan(svc, {"MonthDays": "15", "Time": "10:00:00"}, accounts=("1001", "1002"))
    sched = Scheduler(ctx, clock=clock)
    await sched.load()
    clock.t = dt(2024, 1, 15, 10, 0, 1)
    await sched.run_due()
    assert await value(svc, "1002") == 10  # passes the filter: topped up
    assert await value(svc, "1001") == 0  # filtered out: not run
