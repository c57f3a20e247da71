"""The accounts CGRateS's tutorial tariff plans set up, with the balances CGRateS gives them."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from pycgrates.engine.accounts.loading import load_accounting
from pycgrates.engine.accounts.store import AccountStore
from pycgrates.engine.models.account import Account
from pycgrates.engine.storage.base import ACTION_PLAN, SHARED_GROUP, MemoryDataDB
from tests.conftest import shared_data

TABLES = ("SharedGroups", "Actions", "ActionPlans", "ActionTriggers", "AccountActions", "Timings")
S = 10**9  # *voice balances count nanoseconds


def read_rows(path: Path) -> list[dict]:
    """CSV rows keyed by the header's column names, with _file/_line (as the loader hands them over)."""
    if not path.exists():
        return []
    rows: list[dict] = []
    with path.open(newline="") as f:
        header: list[str] | None = None
        for line_no, row in enumerate(csv.reader(f), 1):
            if not row or not "".join(row).strip():
                continue
            if header is None:
                header = row
                continue
            if row[0].lstrip().startswith("#"):
                continue
            rows.append({**dict(zip(header, row, strict=False)), "_file": path.name, "_line": line_no})
    return rows


async def load(plan: str) -> tuple[MemoryDataDB, dict[str, Account]]:
    folder = shared_data("tariffplans", plan)
    db = MemoryDataDB()
    tables = {name: read_rows(folder / f"{name}.csv") for name in TABLES}
    warnings = await load_accounting(db, tables, dry_run=False, timezone="UTC")
    assert warnings == []
    store = AccountStore(db)
    return db, {k.split(":")[1]: await store.get(k) for k in await store.keys("cgrates.org:")}


def summary(acc: Account) -> dict[str, list[tuple]]:
    """(ID, Value, Weight, DestinationIDs, RatingSubject, SharedGroups) per balance type, in account order."""
    return {
        btype: [(b.ID, b.Value, b.Weight, sorted(b.DestinationIDs), b.RatingSubject, sorted(b.SharedGroups))
                for b in chain]
        for btype, chain in acc.BalanceMap.items()
    }


async def test_tutorial_accounts():
    _, accounts = await load("tutorial")
    assert sorted(accounts) == ["1001", "1002", "1003"]
    for acc in accounts.values():
        # ACT_TOPUP_RST_10: *topup_reset of balance "test" to 10, weight 10, any destination, unlimited
        assert summary(acc) == {"*monetary": [("test", Decimal(10), 10.0, ["*any"], "", [])]}
        assert acc.BalanceMap["*monetary"][0].ExpirationDate is None
        assert [(t.ThresholdType, t.ThresholdValue, t.ActionsID, t.Executed) for t in acc.ActionTriggers] == [
            ("*max_balance", Decimal(20), "ACT_LOG_WARNING", False),
            ("*max_balance", Decimal(100), "DISABLE_AND_LOG", False),
        ]
        assert not acc.AllowNegative and not acc.Disabled


async def test_tutorial2_accounts():
    db, accounts = await load("tutorial2")
    assert sorted(accounts) == ["1001", "1002", "1003"]
    for acc in accounts.values():
        assert summary(acc) == {
            # *default takes the value only (CGRateS ignores the other fields for the default balance)
            "*monetary": [("*default", Decimal(10), 0.0, [], "", [])],
            "*voice": [("FREE_MINS", Decimal(5 * 60 * S), 20.0, [], "*zero1m", []),
                       ("PER_CALL", Decimal(10 * 60 * S), 10.0, ["DST_10"], "RPF_SPECIAL_BLC", [])],
            "*sms": [("FREE_SMSes", Decimal(100), 20.0, [], "", [])],
            "*data": [("FREE_DATA", Decimal(1024), 20.0, [], "", [])],
        }
        assert [t.ThresholdType for t in acc.ActionTriggers] == ["*min_balance", "*max_balance"]
    # STANDARD_PLAN also tops the data up every day at noon (Timings.csv TM_NOON)
    plan = await db.get(ACTION_PLAN, "STANDARD_PLAN")
    noon = [t for t in plan["ActionTimings"] if t["Timing"]["Timing"]["StartTime"] == "12:00:00"]
    assert [t["ActionsID"] for t in noon] == ["TOPUP_RST_1024_DATA"]
    assert sorted(plan["AccountIDs"]) == ["cgrates.org:1001", "cgrates.org:1002", "cgrates.org:1003"]


async def test_oldtutorial_accounts_with_shared_and_destination_balances():
    db, accounts = await load("oldtutorial")
    assert sorted(accounts) == ["1001", "1002", "1003", "1004", "1007"]
    assert summary(accounts["1001"]) == {
        "*monetary": [("", Decimal(5), 20.0, ["*any"], "", []),              # TOPUP_RST_5
                      ("", Decimal(5), 10.0, ["*any"], "", ["SHARED_A"])],   # TOPUP_RST_SHARED_5
        "*voice": [("", Decimal(90 * S), 20.0, ["DST_1002"], "SPECIAL_1002", []),  # 90s to 1002, special rates
                   ("", Decimal(120 * S), 20.0, ["DST_1003"], "", [])],            # TOPUP_120_DST1003
        "*data": [("", Decimal(102400), 10.0, ["*any"], "", [])],                  # TOPUP_RST_DATA_100
    }
    for a in ("1002", "1003", "1004"):
        assert summary(accounts[a]) == {"*monetary": [("", Decimal(10), 10.0, ["*any"], "", [])]}
    assert summary(accounts["1007"]) == {"*monetary": [("", Decimal(0), 10.0, ["*any"], "", ["SHARED_A"])]}
    # 1007's balance was set to 0 ≤ 2: its *min_balance trigger fired at load (as in CGRateS) and is spent
    low = [t for t in accounts["1007"].ActionTriggers if t.ThresholdType == "*min_balance"]
    assert [t.Executed for t in low] == [True]
    sg = await db.get(SHARED_GROUP, "SHARED_A")
    assert sg["MemberIds"] == {"cgrates.org:1001": True, "cgrates.org:1007": True}
    assert sg["AccountParameters"] == {"*any": {"Strategy": "*highest", "RatingSubject": ""}}


async def test_reload_is_idempotent_for_topup_reset():
    folder = shared_data("tariffplans", "tutorial")
    db = MemoryDataDB()
    tables = {name: read_rows(folder / f"{name}.csv") for name in TABLES}
    for _ in range(2):
        await load_accounting(db, tables, dry_run=False, timezone="UTC")
    acc = await AccountStore(db).get("cgrates.org:1001")
    assert summary(acc)["*monetary"] == [("test", Decimal(10), 10.0, ["*any"], "", [])]


async def test_dry_run_writes_nothing_and_dangling_references_are_reported():
    folder = shared_data("tariffplans", "tutorial")
    tables = {name: read_rows(folder / f"{name}.csv") for name in TABLES}
    db = MemoryDataDB()
    assert await load_accounting(db, tables, dry_run=True, timezone="UTC") == []
    assert await db.keys("acc") == [] and await db.keys("act") == []
    tables["AccountActions"] = [{**tables["AccountActions"][0], "ActionPlanId": "NOPE"}]
    with pytest.raises(Exception, match=r"AccountActions.csv.*ActionPlanId.*unknown action plan 'NOPE'") as exc:
        await load_accounting(db, tables, dry_run=True, timezone="UTC")
    err = exc.value
    if hasattr(err, "line"):
        assert err.line == 2


async def test_full_loader_then_debit_on_tutorial_account():
    """The whole tutorial plan through the loader; 1001 calls 1002 and pays from balance "test"."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from pycgrates.engine.accounts.debit import debit, max_session_time
    from pycgrates.engine.accounts.service import AccountingService
    from pycgrates.engine.config import config_from_dict
    from pycgrates.engine.loader.tariffplan import load_tariff_plan
    from pycgrates.engine.rating import CallDescriptor

    db = MemoryDataDB()
    await load_tariff_plan(db, shared_data("tariffplans", "tutorial"), timezone="UTC")
    svc = AccountingService(SimpleNamespace(dm=db, cfg=config_from_dict({"general": {"default_timezone": "UTC"}}),
                                            conns=None, stordb=None, services={}))
    acc = await svc.get_account({"Tenant": "cgrates.org", "Account": "1001"})
    assert [(b["ID"], b["Value"]) for b in acc["BalanceMap"]["*monetary"]] == [("test", 10)]

    def call(seconds: int) -> CallDescriptor:
        return CallDescriptor.new(tenant="cgrates.org", category="call", subject="1001", account="1001",
                                  destination="1002", answer_time=datetime(2024, 5, 6, 10, tzinfo=UTC),
                                  usage=seconds * S)

    # RT_20CNT: connect fee 0.40, 0.20 for the first minute (one 60s step), then 0.10/min in 1s steps:
    # 0.1 / 60 = 0.0016666.. rounded per step to 5 decimals (general.rounding_decimals) = 0.00167
    cc = await debit(svc.acc, call(90))
    assert cc.Cost == Decimal("0.6501")  # 0.40 + 0.20 + 30 x 0.00167
    acc = await svc.get_account({"Tenant": "cgrates.org", "Account": "1001"})
    assert acc["BalanceMap"]["*monetary"][0]["Value"] == 9.3499  # 10 - 0.6501
    # what is left: 9.3499 - 0.40 - 0.20 = 8.7499 for 1s steps of 0.00167: 5239 steps (8.74913), + 60s
    assert await max_session_time(svc.acc, call(3 * 3600)) == (60 + 5239) * S


async def test_oldtutorial_1007_pays_from_the_shared_balance_of_1001():
    """The tutorial's shared-balance case: 1007 has nothing of its own, SHARED_A (*highest) pays from 1001."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from pycgrates.engine.accounts.debit import debit
    from pycgrates.engine.accounts.service import AccountingService
    from pycgrates.engine.config import config_from_dict
    from pycgrates.engine.loader.tariffplan import load_tariff_plan
    from pycgrates.engine.rating import CallDescriptor

    db = MemoryDataDB()
    await load_tariff_plan(db, shared_data("tariffplans", "oldtutorial"), timezone="UTC")
    svc = AccountingService(SimpleNamespace(dm=db, cfg=config_from_dict({"general": {"default_timezone": "UTC"}}),
                                            conns=None, stordb=None, services={}))
    cd = CallDescriptor.new(tenant="cgrates.org", category="call", subject="1007", account="1007",
                            destination="1002", answer_time=datetime(2024, 5, 6, 10, tzinfo=UTC),  # Monday, PEAK
                            usage=60 * S)
    cc = await debit(svc.acc, cd)
    # *any → RP_RETAIL1, DST_FS at PEAK: RT_40CNT: connect fee 0.80 + two 30s steps of 0.20 = 1.20
    assert cc.Cost == Decimal("1.2")
    store = AccountStore(db)
    a1001 = await store.get("cgrates.org:1001")
    a1007 = await store.get("cgrates.org:1007")
    shared = [b.Value for b in a1001.BalanceMap["*monetary"] if b.SharedGroups]
    own = [b.Value for b in a1001.BalanceMap["*monetary"] if not b.SharedGroups]
    assert shared == [Decimal("3.8")]  # 5 - 1.20
    assert own == [Decimal(5)]  # 1001's own balance untouched
    assert [b.Value for b in a1007.BalanceMap["*monetary"]] == [0]
