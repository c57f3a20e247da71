"""Account changes over the versioned write, on every DataDB (*internal and Redis): two Accountings, each on its
own DataManager (two engines, each with its own locks), changing one account at once lose no update; a journal
record read by a change makes a second change with that key a no-op even across engines; a change that keeps
losing gives up with nothing written; only the attempt that committed has effects; two engines' schedulers run a
slot once."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from pycgrates.engine.accounts import accounting as accounting_module
from pycgrates.engine.accounts.accounting import Accounting, Transaction
from pycgrates.engine.accounts.service import AccountingService
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.metrics import ACCOUNT_WRITE_CONFLICTS
from pycgrates.engine.models.account import MONETARY, Account, Balance
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.scheduler import Scheduler
from pycgrates.engine.storage import base as k
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager

KEY = "cgrates.org:1001"


async def two_engines(datadb_factory) -> list[Accounting]:
    engines = [Accounting(DataManager(await datadb_factory(), Cache({}))) for _ in range(2)]
    acc = Account(Tenant="cgrates.org", Account="1001",
                  BalanceMap={MONETARY: [Balance(Uuid="u-main", ID="main", Value=Decimal(100))]})
    await engines[0].dm.set(k.ACCOUNT, KEY, acc.to_dict(storage=True))
    return engines


def main_value(acc: Account | None) -> Decimal:
    assert acc is not None
    return acc.BalanceMap[MONETARY][0].Value


async def test_two_engines_changing_one_account_lose_no_update(datadb_factory):
    engines = await two_engines(datadb_factory)
    conflicts_before = sum(ACCOUNT_WRITE_CONFLICTS.values.values())
    attempts = [0, 0]
    effects: list[int] = []

    def debit(n: int, cents: int):
        async def change(tx: Transaction) -> Decimal:
            attempts[n] += 1
            acc = await tx.load(KEY)
            assert acc is not None
            await asyncio.sleep(0)  # the rating of a real debit: the other engine runs meanwhile
            b = acc.BalanceMap[MONETARY][0]
            tx.set_value(acc, b, b.Value - Decimal(cents) / 100)
            tx.put(acc)

            async def effect() -> None:
                effects.append(n)

            tx.after_commit(effect)
            return b.Value

        return change

    async def engine(n: int) -> list[Decimal]:
        return [await engines[n].atomic(debit(n, 7 + n), KEY) for _ in range(60)]

    left = await asyncio.gather(engine(0), engine(1))
    final = main_value(await engines[1].store.get(KEY))
    assert final == Decimal(100) - 60 * Decimal("0.07") - 60 * Decimal("0.08")
    assert min(min(values) for values in left) == final  # every change saw the one before it
    assert len(set(left[0]) | set(left[1])) == 120
    redone = sum(ACCOUNT_WRITE_CONFLICTS.values.values()) - conflicts_before
    assert redone > 0 and sum(attempts) == 120 + redone  # they raced, and each lost attempt was run again
    assert sorted(effects) == [0] * 60 + [1] * 60  # effects of the committed attempts only


async def test_a_journal_key_is_applied_once_across_engines(datadb_factory):
    engines = await two_engines(datadb_factory)

    def refund(engine: int):
        async def change(tx: Transaction) -> bool:
            if await tx.read(k.RALS_JOURNAL, "session-1:refund") is not None:
                return False
            acc = await tx.load(KEY)
            await asyncio.sleep(0)
            b = acc.BalanceMap[MONETARY][0]
            tx.set_value(acc, b, b.Value + Decimal("2.5"))
            tx.put(acc)
            tx.extra_ops.append(("set", k.RALS_JOURNAL, "session-1:refund", {"By": engine}))
            return True

        return change

    done = await asyncio.gather(engines[0].atomic(refund(0), KEY), engines[1].atomic(refund(1), KEY))
    assert sorted(done) == [False, True]
    assert main_value(await engines[0].store.get(KEY)) == Decimal("102.5")
    assert await engines[0].dm.get(k.RALS_JOURNAL, "session-1:refund") == {"By": done.index(True)}


async def test_a_change_always_overtaken_gives_up_with_nothing_written(datadb_factory, monkeypatch):
    monkeypatch.setattr(accounting_module, "MAX_ATTEMPTS", 4)
    engines = await two_engines(datadb_factory)
    other = engines[1]
    runs = 0

    async def change(tx: Transaction) -> None:
        nonlocal runs
        runs += 1
        acc = await tx.load(KEY)
        b = acc.BalanceMap[MONETARY][0]
        tx.set_value(acc, b, b.Value - 1)
        tx.put(acc)
        # meanwhile the other engine changes the account every time
        await other.atomic(top_up, KEY)

    async def top_up(tx: Transaction) -> None:
        acc = await tx.load(KEY)
        b = acc.BalanceMap[MONETARY][0]
        tx.set_value(acc, b, b.Value + 10)
        tx.put(acc)

    with pytest.raises(RPCError, match=re.escape("SERVER_ERROR: acc cgrates.org:1001 was changed by other engines 4 ")):
        await engines[0].atomic(change, KEY)
    assert runs == 4
    assert main_value(await engines[0].store.get(KEY)) == Decimal(140)  # the four top-ups, none of the debits


async def test_two_schedulers_on_one_datadb_run_a_slot_once(datadb_factory):
    """Both engines' schedulers reach the same monthly top-up slot at once: each account is topped up once."""
    clock = Clock(datetime(2024, 1, 15, 9, tzinfo=UTC))
    engines = []
    for _ in range(2):
        ctx = SimpleNamespace(dm=DataManager(await datadb_factory(), Cache({})), conns=None, stordb=None,
                              services={}, cfg=config_from_dict({"general": {"default_timezone": "UTC"}}))
        engines.append((AccountingService(ctx), ctx))
    svc = engines[0][0]
    await svc.set_actions({"ActionsId": "TOPUP_10", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "fee", "Units": 10}]})
    await svc.set_action_plan({"Id": "PLAN", "ActionPlan": [{"ActionsId": "TOPUP_10", "MonthDays": "15",
                                                             "Time": "10:00:00"}]})
    accounts = ["A", "B", "C", "D"]
    for name in accounts:
        await svc.set_account({"Tenant": "cgrates.org", "Account": name, "ActionPlanID": "PLAN"})
    schedulers = [Scheduler(ctx, clock=clock) for _, ctx in engines]
    for sched in schedulers:
        await sched.load()
    clock.t = datetime(2024, 1, 15, 10, 0, 1, tzinfo=UTC)
    assert await asyncio.gather(*(sched.run_due() for sched in schedulers)) == [1, 1]
    for name in accounts:
        acc = await engines[1][0].acc.store.get(f"cgrates.org:{name}")
        assert [b.Value for b in acc.BalanceMap[MONETARY] if b.ID == "fee"] == [Decimal(10)]
    for sched in schedulers:
        await sched.stop()


async def test_accounts_attached_to_one_plan_at_once_are_all_on_it(datadb_factory):
    """SetAccount on 20 accounts with one action plan, through two engines at once: the plan lists them all (each
    change rewrites the plan's account list, over the version it read)."""
    services = []
    for _ in range(2):
        ctx = SimpleNamespace(dm=DataManager(await datadb_factory(), Cache({})), conns=None, stordb=None,
                              services={}, cfg=config_from_dict({"general": {"default_timezone": "UTC"}}))
        services.append(AccountingService(ctx))
    await services[0].set_actions({"ActionsId": "TOPUP_10", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "fee", "Units": 10}]})
    await services[0].set_action_plan({"Id": "PLAN", "ActionPlan": [{"ActionsId": "TOPUP_10", "MonthDays": "15",
                                                                     "Time": "10:00:00"}]})
    names = [f"acc{n}" for n in range(20)]
    await asyncio.gather(*(services[n % 2].set_account({"Tenant": "cgrates.org", "Account": name,
                                                        "ActionPlanID": "PLAN"}) for n, name in enumerate(names)))
    for svc in services:
        [plan] = await svc.get_action_plan({"ID": "PLAN"})
        assert sorted(plan["AccountIDs"]) == sorted(f"cgrates.org:{name}" for name in names)
    # and each account knows its plan
    for name in names:
        assert await services[1].acc.account_plan_ids(f"cgrates.org:{name}") == ["PLAN"]


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t
