"""Account and balance shapes, and which balances apply to a call (destinations, categories, timings, order)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pycgrates.engine.accounts.balances import balances_for, destination_precision, match_filter, timing_active
from pycgrates.engine.accounts.store import AccountLocks
from pycgrates.engine.models.account import Account, ActionTrigger, Balance, BalanceFilter

AT = datetime(2024, 1, 10, 12, tzinfo=UTC)  # a Wednesday
# what the rating engine's reverse index gives for 10021234: longest prefix first
PREFIXES = [("1002", ["DST_1002", "DST_FS"]), ("10", ["DST_FS"])]


def test_account_roundtrip_keeps_values_exact():
    acc = Account(Tenant="cgrates.org", Account="1001", AllowNegative=True)
    acc.BalanceMap["*monetary"] = [Balance(Uuid="u1", ID="m", Value=Decimal("0.1") + Decimal("0.2"), Weight=10,
                                           DestinationIDs={"DST_1002": True, "DST_X": False},
                                           ExpirationDate=datetime(2030, 1, 1, tzinfo=UTC))]
    acc.ActionTriggers = [ActionTrigger(ID="T", UniqueID="t1", ThresholdType="*max_balance",
                                        ThresholdValue=Decimal(100), Balance=BalanceFilter(Type="*monetary"))]
    stored = acc.to_dict(storage=True)
    back = Account.from_dict(stored)
    assert back == acc
    assert stored["BalanceMap"]["*monetary"][0]["Value"] == "0.3"
    wire = acc.to_dict()
    assert wire["ID"] == "cgrates.org:1001"
    assert wire["BalanceMap"]["*monetary"][0]["ExpirationDate"] == "2030-01-01T00:00:00Z"
    assert wire["BalanceMap"]["*monetary"][0]["Weight"] == 10
    assert wire["ActionTriggers"][0]["Balance"]["Type"] == "*monetary"


def test_destination_precision_and_exclusions():
    assert destination_precision(Balance(), PREFIXES) == 1  # no destinations: applies, lowest precision
    assert destination_precision(Balance(DestinationIDs={"*any": True}), PREFIXES) == 1
    assert destination_precision(Balance(DestinationIDs={"DST_1002": True}), PREFIXES) == 5  # 1 + len("1002")
    assert destination_precision(Balance(DestinationIDs={"DST_FS": True}), PREFIXES) == 5  # also on 1002
    assert destination_precision(Balance(DestinationIDs={"DST_1003": True}), PREFIXES) == 0
    assert destination_precision(Balance(DestinationIDs={"DST_1002": False}), PREFIXES) == 0  # excluded
    assert destination_precision(Balance(DestinationIDs={"DST_1003": False}), PREFIXES) == 5  # all but 1003
    assert destination_precision(Balance(DestinationIDs={"DST_FS": True, "DST_1002": False}), PREFIXES) == 0


def test_balances_for_order_and_filters():
    acc = Account(Tenant="cgrates.org", Account="1001")
    acc.BalanceMap["*voice"] = [
        Balance(ID="any_low", Value=Decimal(1), Weight=5),
        Balance(ID="any_high", Value=Decimal(1), Weight=50),
        Balance(ID="dst", Value=Decimal(1), Weight=1, DestinationIDs={"DST_1002": True}),
        Balance(ID="empty", Value=Decimal(0), Weight=90),
        Balance(ID="sms_cat", Value=Decimal(1), Categories={"sms": True}),
        Balance(ID="expired", Value=Decimal(1), ExpirationDate=datetime(2020, 1, 1, tzinfo=UTC)),
        Balance(ID="off", Value=Decimal(1), Disabled=True),
        Balance(ID="blocker", Value=Decimal(0), Blocker=True, Weight=-1),
        Balance(ID="weekend", Value=Decimal(1), Timings=[{"WeekDays": [6, 0], "StartTime": "00:00:00"}]),
    ]
    acc.BalanceMap["*generic"] = [Balance(ID="generic", Value=Decimal(1), Weight=3)]
    chosen = [b.ID for b in balances_for(acc, "*voice", "call", AT, PREFIXES)]
    # destination precision first, then weight; *generic joins the unit balances; empty (not blocker) dropped
    assert chosen == ["dst", "any_high", "any_low", "generic", "weekend", "blocker"]
    # the weekend balance is chosen (it may become active during the call) but is not active on a Wednesday
    assert not timing_active(acc.BalanceMap["*voice"][8].Timings, AT)
    assert timing_active(acc.BalanceMap["*voice"][8].Timings, datetime(2024, 1, 13, 12, tzinfo=UTC))


def test_match_filter_ids_decide_alone_and_sets_include():
    b = Balance(Uuid="u", ID="main", Weight=10, DestinationIDs={"DST_1002": True, "DST_FS": True})
    assert match_filter(b, BalanceFilter(ID="main", Weight=99))  # the ID decides alone
    assert not match_filter(b, BalanceFilter(ID="other"))
    assert match_filter(b, BalanceFilter(DestinationIDs={"DST_1002": True}, Weight=10))
    assert not match_filter(b, BalanceFilter(DestinationIDs={"DST_1003": True}))
    assert not match_filter(b, BalanceFilter(Weight=5))


async def test_account_locks_serialize_and_are_dropped_when_free():
    import asyncio

    locks = AccountLocks()
    order: list[str] = []

    async def hold(name: str, *keys: str) -> None:
        async with locks.hold(*keys):
            order.append(name + ">")
            await asyncio.sleep(0.01)
            order.append("<" + name)

    await asyncio.gather(hold("a", "k1", "k2"), hold("b", "k2", "k1"), hold("c", "k3"))
    # a and b share keys (taken in sorted order by both): never interleaved; c runs alongside
    ab = [x for x in order if "a" in x or "b" in x]
    assert ab in (["a>", "<a", "b>", "<b"], ["b>", "<b", "a>", "<a"])
    assert not locks._locks and not locks._users
