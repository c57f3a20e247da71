"""The debit order on mixed balances, MaxDebit/GetMaxSessionTime/Refund, shared groups and concurrency.

Every expected value is worked out by hand in the comments, from this small tariff plan:

- DST_1002 (prefix 1002): 0.60 per minute charged per second (0.01 per 1s increment), no connect fee;
- DST_1003 (prefix 1003): 1.20 per minute charged per started minute, connect fee 0.40;
- subject SPECIAL_1002 on DST_1002: 0.30 per minute per second (0.005 per 1s increment);
- DST_ONE (prefix 1111): 1.00 per call of up to a minute (one 60s increment);
- DST_UP (prefix 1444): 0.30 per minute per second (0.005 per 1s increment), totals rounded *up to 2 decimals.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from pycgrates.engine.accounts.debit import debit, max_session_time
from pycgrates.engine.accounts.service import AccountingService
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.models.account import Account, Balance
from pycgrates.engine.models.tariffplan import Rate as PriceSlot
from pycgrates.engine.models.tariffplan import (
    RateInterval,
    RatingActivation,
    RatingPlan,
    RatingProfile,
    RIRate,
    RITiming,
)
from pycgrates.engine.rating import CallDescriptor
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.storage.base import (
    DESTINATION,
    RATING_PLAN,
    RATING_PROFILE,
    REVERSE_DESTINATION,
    SHARED_GROUP,
    MemoryDataDB,
)

S = 10**9
T = "cgrates.org"
START = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)


def _ri(per_unit: str, unit: int, step: int, fee: str = "0",
        rounding: tuple[str, int] = ("*middle", 4)) -> RateInterval:
    return RateInterval(
        Timing=RITiming(StartTime="00:00:00"),
        Rating=RIRate(ConnectFee=Decimal(fee), RoundingMethod=rounding[0], RoundingDecimals=rounding[1],
                      Rates=[PriceSlot(GroupIntervalStart=0, Value=Decimal(per_unit), RateIncrement=step,
                                       RateUnit=unit)]),
        Weight=10,
    )


async def load_tariff(db) -> None:
    std = RatingPlan(Id="RP_STD")
    std.add_rate_interval("DST_1002", _ri("0.6", 60 * S, S))
    std.add_rate_interval("DST_1003", _ri("1.2", 60 * S, 60 * S, fee="0.4"))
    std.add_rate_interval("DST_ONE", _ri("1", 60 * S, 60 * S))
    std.add_rate_interval("DST_UP", _ri("0.3", 60 * S, S, rounding=("*up", 2)))
    special = RatingPlan(Id="RP_SPECIAL")
    special.add_rate_interval("DST_1002", _ri("0.3", 60 * S, S))
    for plan in (std, special):
        await db.set(RATING_PLAN, plan.Id, plan.to_json())
    for subject, plan_id in (("*any", "RP_STD"), ("SPECIAL_1002", "RP_SPECIAL")):
        rpf = RatingProfile(Id=f"*out:{T}:call:{subject}",
                            RatingPlanActivations=[RatingActivation(ActivationTime=0, RatingPlanId=plan_id)])
        await db.set(RATING_PROFILE, rpf.Id, rpf.to_json())
    for dst, prefix in (("DST_1002", "1002"), ("DST_1003", "1003"), ("DST_ONE", "1111"), ("DST_UP", "1444")):
        await db.set(DESTINATION, dst, {"Id": dst, "Prefixes": [prefix]})
        await db.set(REVERSE_DESTINATION, prefix, [dst])


async def make() -> AccountingService:
    db = MemoryDataDB()
    await load_tariff(db)
    ctx = SimpleNamespace(dm=db, cfg=config_from_dict({"general": {"default_timezone": "UTC"}}), conns=None,
                          stordb=None, services={})
    return AccountingService(ctx)


async def put_account(svc: AccountingService, name: str, *balances: tuple[str, Balance], allow_negative=False):
    acc = Account(Tenant=T, Account=name, AllowNegative=allow_negative)
    for btype, b in balances:
        b.Uuid = b.Uuid or f"{name}-{b.ID}"
        acc.BalanceMap.setdefault(btype, []).append(b)
    await svc.acc.store.save(acc)


def cd(dest: str, seconds: int, account: str = "1001", **kw) -> CallDescriptor:
    return CallDescriptor.new(tenant=T, category="call", subject=account, account=account, destination=dest,
                              answer_time=START, usage=seconds * S, **kw)


async def values(svc: AccountingService, account: str = "1001") -> dict[str, Decimal]:
    acc = await svc.acc.store.get(f"{T}:{account}")
    return {b.ID: b.Value for chain in acc.BalanceMap.values() for b in chain}


def paid_by(cc) -> list[tuple[str, int]]:
    """(balance ID, usage in seconds) per increment chunk, in order."""
    out = []
    for ts in cc.Timespans:
        for inc in ts.increments:
            bi = inc.balance_info
            who = (bi.Unit or bi.Monetary or {}).get("ID", "") if bi else ""
            secs = inc.duration * inc.compress_factor // S
            if out and out[-1][0] == who:
                out[-1] = (who, out[-1][1] + secs)
            else:
                out.append((who, secs))
    return out


# ------------------------------------------------------------------------------------------------ debit order


async def test_free_minutes_for_one_destination_then_money():
    svc = await make()
    await put_account(svc, "1001",
                      ("*voice", Balance(ID="free_1002", Value=Decimal(60 * S), Weight=20,
                                         DestinationIDs={"DST_1002": True})),
                      ("*monetary", Balance(ID="main", Value=Decimal(5), Weight=10)))
    cc = await debit(svc.acc, cd("1002", 90))
    # 60s from the free minutes (no RatingSubject: *zero1s), the other 30s at 0.01/s = 0.30 from main
    assert paid_by(cc) == [("free_1002", 60), ("main", 30)]
    assert cc.Cost == Decimal("0.3")
    assert await values(svc) == {"free_1002": 0, "main": Decimal("4.7")}  # 5 - 0.30
    # the free minutes do not apply to 1003: 0.40 connect fee + 2 minutes x 1.20 = 2.80 from main
    cc = await debit(svc.acc, cd("1003", 120))
    assert cc.Cost == Decimal("2.8")
    assert await values(svc) == {"free_1002": 0, "main": Decimal("1.9")}  # 4.70 - 2.80


async def test_unit_balance_priced_by_its_rating_subject():
    svc = await make()
    await put_account(svc, "1001",
                      ("*voice", Balance(ID="special", Value=Decimal(90 * S), Weight=20,
                                         DestinationIDs={"DST_1002": True}, RatingSubject="SPECIAL_1002")),
                      ("*monetary", Balance(ID="main", Value=Decimal(5), Weight=10)))
    cc = await debit(svc.acc, cd("1002", 60))
    # 60s of units at SPECIAL_1002's 0.005/s: 0.30 paid by main; 30s of units left
    assert paid_by(cc) == [("special", 60)]
    assert cc.Cost == Decimal("0.3")
    assert await values(svc) == {"special": 30 * S, "main": Decimal("4.7")}


async def test_zero1m_consumes_whole_minutes():
    svc = await make()
    await put_account(svc, "1001", ("*voice", Balance(ID="FREE_MINS", Value=Decimal(300 * S),
                                                      RatingSubject="*zero1m", Weight=20)))
    cc = await debit(svc.acc, cd("1002", 90))
    # 90s rounded up to 2 whole minutes of units, free
    assert cc.Cost == 0 and cc.get_duration() == 120 * S
    assert await values(svc) == {"FREE_MINS": 180 * S}  # 300 - 120


async def test_mixed_free_money_and_shared_group():
    svc = await make()
    await svc.acc.dm.set(SHARED_GROUP, "SG", {"Id": "SG", "AccountParameters": {"*any": {"Strategy": "*highest"}},
                                             "MemberIds": {f"{T}:1001": True, f"{T}:1099": True}})
    await put_account(svc, "1001",
                      ("*voice", Balance(ID="free_1002", Value=Decimal(30 * S), Weight=20,
                                         DestinationIDs={"DST_1002": True})),
                      ("*monetary", Balance(ID="main", Value=Decimal("1.9"), Weight=10)),
                      ("*monetary", Balance(ID="sg_mine", Value=Decimal(0), Weight=5, SharedGroups={"SG": True})))
    await put_account(svc, "1099", ("*monetary", Balance(ID="sg_other", Value=Decimal(10), SharedGroups={"SG": True})))
    # to 1003 for 3 minutes: fee 0.40 + 3 x 1.20 = 4.00. The free minutes are for 1002 only.
    # main (weight 10) pays 0.40 + 1.20 = 1.60 and cannot pay the 2nd minute (0.30 left);
    # the shared group (*highest first: 1099's 10.00) pays the other 2 minutes: 2.40 (no second connect fee)
    cc = await debit(svc.acc, cd("1003", 180))
    assert cc.Cost == Decimal(4)
    assert paid_by(cc) == [("main", 60), ("sg_other", 120)]
    assert await values(svc, "1001") == {"free_1002": 30 * S, "main": Decimal("0.3"), "sg_mine": 0}
    assert await values(svc, "1099") == {"sg_other": Decimal("7.6")}  # 10 - 2.40, stored with the debit
    # and 45s to 1002: 30s free, then main 0.30 pays 15s at 0.01/s = 0.15
    cc = await debit(svc.acc, cd("1002", 45))
    assert paid_by(cc) == [("free_1002", 30), ("main", 15)]
    assert await values(svc, "1001") == {"free_1002": 0, "main": Decimal("0.15"), "sg_mine": 0}


async def test_expired_and_disabled_balances_are_skipped():
    svc = await make()
    await put_account(svc, "1001",
                      ("*monetary", Balance(ID="old", Value=Decimal(100), Weight=30,
                                            ExpirationDate=datetime(2020, 1, 1, tzinfo=UTC))),
                      ("*monetary", Balance(ID="off", Value=Decimal(100), Weight=20, Disabled=True)),
                      ("*monetary", Balance(ID="main", Value=Decimal(1), Weight=10)))
    await debit(svc.acc, cd("1002", 10))
    vals = await values(svc)
    assert vals["main"] == Decimal("0.9")  # 1 - 10 x 0.01; "old" expired, "off" disabled
    assert vals.get("off") == 100


async def test_blocker_stops_the_search():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="cap", Value=Decimal(1), Weight=30, Blocker=True)),
                      ("*monetary", Balance(ID="main", Value=Decimal(100), Weight=10)))
    # the blocker pays 1.00 / 0.01 = 100s and the search stops there
    assert await max_session_time(svc.acc, cd("1002", 3600)) == 100 * S
    await put_account(svc, "1002", ("*monetary", Balance(ID="cap", Value=Decimal(1), Weight=30)),
                      ("*monetary", Balance(ID="main", Value=Decimal(100), Weight=10)))
    assert await max_session_time(svc.acc, cd("1002", 3600, account="1002")) == 3600 * S


# ------------------------------------------------------------------------------------------ all or as much as possible


async def test_debit_all_or_insufficient_credit_and_max_debit_as_much_as_possible():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal("0.5"))))
    with pytest.raises(RPCError, match="INSUFFICIENT_CREDIT"):
        await debit(svc.acc, cd("1002", 90))  # 0.90 > 0.50
    assert await values(svc) == {"main": Decimal("0.5")}  # nothing taken
    assert await max_session_time(svc.acc, cd("1002", 90)) == 50 * S  # 0.50 / 0.01
    cc = await debit(svc.acc, cd("1002", 90), max_debit=True)
    assert cc.get_duration() == 50 * S and cc.Cost == Decimal("0.5")
    assert await values(svc) == {"main": 0}
    with pytest.raises(RPCError, match="INSUFFICIENT_CREDIT"):
        await debit(svc.acc, cd("1002", 10, ForceDuration=True), max_debit=True)


async def test_allow_negative_goes_on_the_default_balance():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal("0.5"))), allow_negative=True)
    assert await max_session_time(svc.acc, cd("1002", 90)) == -1
    cc = await debit(svc.acc, cd("1002", 90))
    assert cc.Cost == Decimal("0.9")
    assert await values(svc) == {"main": 0, "*default": Decimal("-0.4")}  # 0.50 from main, 0.40 owed


async def test_responder_rpc_faces_and_refund():
    svc = await make()
    await put_account(svc, "1001",
                      ("*voice", Balance(ID="free_1002", Value=Decimal(60 * S), DestinationIDs={"DST_1002": True},
                                         Weight=20)),
                      ("*monetary", Balance(ID="main", Value=Decimal(5), Weight=10)))
    args = {"Tenant": T, "Category": "call", "Account": "1001", "Subject": "1001", "Destination": "1002",
            "ToR": "*voice", "TimeStart": "2024-01-10T12:00:00Z", "TimeEnd": "2024-01-10T12:01:30Z"}
    assert await svc.responder_max_session_time(args) == 90 * S  # 60s free + 30s of 5.00 (500s) ≥ 90s
    cc = await svc.responder_max_debit(args)
    assert cc["Cost"] == 0.3 and cc["RatedUsage"] == 90 * S
    bal = {b["ID"]: b for b in cc["AccountSummary"]["BalanceSummaries"]}
    assert bal["main"]["Initial"] == 5 and bal["main"]["Value"] == 4.7
    # the session used only 70s: give back the last 20 one-second increments (paid by main, 0.01 each)
    money_incs = [inc for ts in cc["Timespans"] for inc in ts["Increments"]
                  if inc["BalanceInfo"] and inc["BalanceInfo"]["Monetary"]]
    assert sum(i["CompressFactor"] for i in money_incs) == 30
    refund = {**args, "Increments": [{**money_incs[-1], "CompressFactor": 20}]}
    acc = await svc.responder_refund_increments(refund)
    assert {b["ID"]: b["Value"] for b in acc["BalanceMap"]["*monetary"]} == {"main": 4.9}  # 4.70 + 20 x 0.01
    # free units come back by their Consumed amount
    unit_incs = [inc for ts in cc["Timespans"] for inc in ts["Increments"] if inc["BalanceInfo"]["Unit"]]
    await svc.responder_refund_increments({**args, "Increments": [{**unit_incs[0], "CompressFactor": 10}]})
    assert (await values(svc))["free_1002"] == 10 * S  # 0 + 10 x 1s


async def test_disabled_and_missing_accounts():
    svc = await make()
    with pytest.raises(RPCError, match="ACCOUNT_NOT_FOUND"):
        await debit(svc.acc, cd("1002", 10))
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(5))))
    await svc.set_account({"Tenant": T, "Account": "1001", "Disabled": True})
    with pytest.raises(RPCError, match="ACCOUNT_DISABLED"):
        await debit(svc.acc, cd("1002", 10))
    with pytest.raises(RPCError, match="MAX_USAGE_EXCEEDED"):
        await debit(svc.acc, cd("1002", 73 * 3600))  # rals.max_computed_usage *voice: 72h


async def test_event_counter_trigger_after_debits():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(5))))
    await svc.set_actions({"ActionsId": "FLAG", "Actions": [{"Identifier": "*disable_account"}]})
    await svc.set_action_trigger({"GroupID": "SPEND", "UniqueID": "spend", "ActionTrigger": {
        "ThresholdType": "*max_event_counter", "ThresholdValue": 1, "BalanceType": "*monetary",
        "BalanceDestinationIds": "DST_1003", "ActionsID": "FLAG"}})
    await svc.set_account({"Tenant": T, "Account": "1001", "ActionTriggersID": "SPEND"})
    await debit(svc.acc, cd("1002", 60))  # 0.60 to 1002: not counted (the counter is for DST_1003)
    assert not (await svc.acc.store.get(f"{T}:1001")).Disabled
    await debit(svc.acc, cd("1003", 30))  # 0.40 + 1.20 = 1.60 to 1003 ≥ 1: fires, in the same write
    acc = await svc.acc.store.get(f"{T}:1001")
    assert acc.Disabled
    assert acc.UnitCounters["*monetary"][0].Counters[0].Value == Decimal("1.6")


async def test_200_concurrent_debits_on_100_units():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(100))))
    # each call to 1111 costs exactly 1.00 (one minute increment)
    results = await asyncio.gather(*(debit(svc.acc, cd("1111", 60)) for _ in range(200)), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, Exception)]
    failed = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 100 and all(str(e) == "INSUFFICIENT_CREDIT" for e in failed)
    assert await values(svc) == {"main": 0}


async def test_postpaid_debit_goes_negative_when_the_request_does_not_deny_it():
    svc = await make()
    await put_account(svc, "1002", ("*monetary", Balance(ID="main", Value=Decimal("0.5"))))
    args = {"Tenant": T, "Category": "call", "Account": "1002", "Subject": "1002", "Destination": "1002",
            "TimeStart": "2024-01-10T12:00:00Z", "TimeEnd": "2024-01-10T12:01:30Z"}
    with pytest.raises(RPCError, match="INSUFFICIENT_CREDIT"):
        await svc.responder_debit(args)  # 0.90 > 0.50 and nothing allows negative
    # CGRateS clients send DenyNegativeAccount: false for postpaid debits: the rest goes on *default
    cc = await svc.responder_debit({**args, "DenyNegativeAccount": False})
    assert cc["Cost"] == 0.9
    assert await values(svc, "1002") == {"main": 0, "*default": Decimal("-0.4")}


class FakeConns:
    """Records what would go to SessionS."""

    def __init__(self) -> None:
        self.conn = SimpleNamespace(calls=[])

        async def call(method: str, args: dict) -> str:
            self.conn.calls.append((method, args))
            return "OK"

        self.conn.call = call

    def get(self, ids):
        return self.conn if ids else None


async def test_fraud_trigger_during_a_debit_disables_and_disconnects_after_the_write():
    svc = await make()
    svc.acc.configure(config_from_dict({"general": {"default_timezone": "UTC"},
                                        "thresholds": {"sessions_conns": ["*internal"]}}))
    svc.acc.conns = FakeConns()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(2))))
    await svc.set_actions({"ActionsId": "CUT", "Actions": [{"Identifier": "*disable_account", "Weight": 20},
                                                           {"Identifier": "*force_disconnect_sessions"}]})
    await svc.set_action_trigger({"GroupID": "LOW", "UniqueID": "low", "ActionTrigger": {
        "ThresholdType": "*min_balance", "ThresholdValue": 1, "BalanceType": "*monetary", "ActionsID": "CUT"}})
    await svc.set_account({"Tenant": T, "Account": "1001", "ActionTriggersID": "LOW"})
    await debit(svc.acc, cd("1002", 150))  # 2.00 - 1.50 = 0.50 ≤ 1: the trigger fires
    acc = await svc.acc.store.get(f"{T}:1001")
    assert acc.Disabled and acc.BalanceMap["*monetary"][0].Value == Decimal("0.5")
    await svc.acc.drain()  # the disconnect runs in the background, after the debit's write
    assert svc.acc.conns.conn.calls == [("SessionSv1.ForceDisconnect", {
        "Tenant": T, "Filters": ["*string:~*req.Account:1001"], "Limit": None, "APIOpts": {}, "Event": {}})]


async def test_event_cost_accounting_of_a_debit():
    from pycgrates.engine.accounts.debit import accounting_for
    from pycgrates.engine.rating import event_cost

    svc = await make()
    await put_account(svc, "1001",
                      ("*voice", Balance(ID="free_1002", Value=Decimal(60 * S), Weight=20,
                                         DestinationIDs={"DST_1002": True})),
                      ("*monetary", Balance(ID="main", Value=Decimal(5), Weight=10)))
    cc = await debit(svc.acc, cd("1002", 90))
    ec = event_cost(cc, "cgrid", "*default", accounting=accounting_for(cc))
    charges = [ec["Accounting"][i["AccountingID"]] for c in ec["Charges"] for i in c["Increments"]]
    assert {(c["BalanceUUID"], c["Units"]) for c in charges} == {
        ("1001-free_1002", S),  # each free 1s step: 1e9 units (ns) of the *voice balance
        ("1001-main", 0.01),  # each paid 1s step: 0.01 from main
    }
    assert ec["Usage"] == 90 * S and ec["Cost"] == 0.3


async def test_refund_event_cost_gives_back_what_the_debit_took():
    from pycgrates.engine.accounts.debit import accounting_for
    from pycgrates.engine.rating import event_cost

    svc = await make()
    await put_account(svc, "1001",
                      ("*voice", Balance(ID="special", Value=Decimal(90 * S), Weight=20,
                                         DestinationIDs={"DST_1002": True}, RatingSubject="SPECIAL_1002")),
                      ("*monetary", Balance(ID="main", Value=Decimal(5), Weight=10)))
    cc = await debit(svc.acc, cd("1002", 120))
    # 90s of units priced by SPECIAL_1002 (0.005/s = 0.45 from main), then 30s at 0.01/s = 0.30 from main
    assert await values(svc) == {"special": 0, "main": Decimal("4.25")}  # 5 - 0.45 - 0.30
    ec = event_cost(cc, "cgrid", "*default", accounting=accounting_for(cc))
    assert await svc.responder_refund_event_cost({"Tenant": T, "ToR": "*voice", "EventCost": ec}) == "OK"
    assert await values(svc) == {"special": 90 * S, "main": Decimal(5)}


async def test_refund_rounding_charges_the_difference():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(5))))
    inc = {"Duration": 0, "Cost": 0.004, "CompressFactor": 1, "BalanceInfo": {"AccountID": f"{T}:1001"}}
    await svc.responder_refund_rounding({"Tenant": T, "Account": "1001", "Increments": [inc]})
    assert await values(svc) == {"main": Decimal(5), "*default": Decimal("-0.004")}  # on *default, no UUID given
    inc["BalanceInfo"]["Monetary"] = {"UUID": "1001-main"}
    inc["Cost"] = -0.5  # negative: given back
    await svc.responder_refund_rounding({"Tenant": T, "Account": "1001", "Increments": [inc]})
    assert await values(svc) == {"main": Decimal("5.5"), "*default": Decimal("-0.004")}


async def test_session_journal_written_with_the_debit_and_retries_not_charged_twice():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(5))))
    args = {"Tenant": T, "Category": "call", "Account": "1001", "Subject": "1001", "Destination": "1002",
            "TimeStart": "2024-01-10T12:00:00Z", "TimeEnd": "2024-01-10T12:00:30Z",
            "APIOpts": {"*journalKey": "cgrid1:*default:1"}}
    first = await svc.responder_max_debit(args)
    again = await svc.responder_max_debit(args)  # a retry of the same call (e.g. after a reconnect)
    assert first == again and first["Cost"] == 0.3
    assert await values(svc) == {"main": Decimal("4.7")}  # 5 - 30 x 0.01, once
    record = await svc.acc.dm.get("sjr", "cgrid1:*default:1")
    assert record["Method"] == "Responder.MaxDebit" and record["Reply"]["Cost"] == 0.3
    inc = first["Timespans"][0]["Increments"][-1]  # the 1s steps (the first is the 0 connect fee)
    refund = {**args, "Increments": [{**inc, "CompressFactor": 10}], "APIOpts": {"*journalKey": "cgrid1:*default:2"}}
    await svc.responder_refund_increments(refund)
    await svc.responder_refund_increments(refund)
    assert await values(svc) == {"main": Decimal("4.8")}  # + 10 x 0.01, once
    assert (await svc.acc.dm.get("sjr", "cgrid1:*default:2"))["Method"] == "Responder.RefundIncrements"


async def test_perform_rounding_charges_the_rounded_cost():
    svc = await make()
    await put_account(svc, "1001", ("*monetary", Balance(ID="main", Value=Decimal(5))))
    # 1003: 0.40 + 1.20 per minute, rates rounded *middle to 4 decimals: 1.60 is already round
    cc = await debit(svc.acc, cd("1003", 30, PerformRounding=True))
    assert cc.Cost == Decimal("1.6")
    # a per-second call of 0.01 x 7 = 0.07 stays 0.07; the rounding changes nothing when already round
    cc = await debit(svc.acc, cd("1002", 7, PerformRounding=True))
    assert cc.Cost == Decimal("0.07")
    assert await values(svc) == {"main": Decimal("3.33")}  # 5 - 1.60 - 0.07
    # 7s to 1444: 7 x 0.005 = 0.035, rounded *up to 2 decimals: 0.04; the 0.005 difference is charged too
    cc = await debit(svc.acc, cd("1444", 7, PerformRounding=True))
    assert cc.Cost == Decimal("0.04")
    assert await values(svc) == {"main": Decimal("3.29")}  # 3.33 - 0.04
