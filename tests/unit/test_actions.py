"""Action types on accounts, through the APIer methods and ExecuteAction (no rating involved)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from pycgrates.engine.accounts.service import AccountingService
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.storage.base import ACCOUNT, SHARED_GROUP, MemoryDataDB


def make_service(**cfg) -> AccountingService:
    ctx = SimpleNamespace(dm=MemoryDataDB(), cfg=config_from_dict({"general": {"default_timezone": "UTC"}, **cfg}),
                          conns=None, stordb=None, services={})
    return AccountingService(ctx)


async def balances(svc: AccountingService, account: str, btype: str = "*monetary") -> dict[str, Decimal]:
    acc = await svc.acc.store.get(f"cgrates.org:{account}")
    return {b.ID: b.Value for b in acc.BalanceMap.get(btype, [])}


async def set_actions(svc: AccountingService, aid: str, *actions: dict) -> None:
    assert await svc.set_actions({"ActionsId": aid, "Actions": list(actions), "Overwrite": True}) == "OK"


async def test_topup_creates_then_adds_and_topup_reset_replaces():
    svc = make_service()
    args = {"Tenant": "cgrates.org", "Account": "1001", "BalanceType": "*monetary", "Value": 10,
            "Balance": {"ID": "main", "Weight": 10}}
    assert await svc.add_balance(args) == "OK"
    assert await svc.add_balance(args) == "OK"
    assert await balances(svc, "1001") == {"main": Decimal(20)}  # 10 + 10
    assert await svc.add_balance({**args, "Value": 7, "Overwrite": True}) == "OK"
    assert await balances(svc, "1001") == {"main": Decimal(7)}  # reset to 0, then + 7


async def test_debit_balance_refuses_to_go_negative_unless_allowed():
    svc = make_service()
    base = {"Tenant": "cgrates.org", "Account": "1001", "BalanceType": "*monetary", "Balance": {"ID": "main"}}
    await svc.add_balance({**base, "Value": 5})
    await svc.debit_balance({**base, "Value": 3})
    assert await balances(svc, "1001") == {"main": Decimal(2)}  # 5 - 3
    with pytest.raises(RPCError, match="INSUFFICIENT_CREDIT"):
        await svc.debit_balance({**base, "Value": 3})  # 2 - 3 < 0
    assert await balances(svc, "1001") == {"main": Decimal(2)}  # unchanged
    await svc.set_account({"Tenant": "cgrates.org", "Account": "1001", "AllowNegative": True})
    await svc.debit_balance({**base, "Value": 3})
    assert await balances(svc, "1001") == {"main": Decimal(-1)}  # 2 - 3


async def test_set_balance_without_id_sets_the_default_balance():
    svc = make_service()
    await svc.set_balance({"Tenant": "cgrates.org", "Account": "1003", "Value": 23})
    assert await balances(svc, "1003") == {"*default": Decimal(23)}


async def test_voice_units_are_nanoseconds_and_accept_go_durations():
    svc = make_service()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "BalanceType": "*voice", "Value": "90s",
                           "Balance": {"ID": "free", "DestinationIDs": "DST_1002"}})
    acc = await svc.acc.store.get("cgrates.org:1001")
    (b,) = acc.BalanceMap["*voice"]
    assert b.Value == 90 * 10**9
    assert b.DestinationIDs == {"DST_1002": True}


async def test_remove_balances_and_not_found():
    svc = make_service()
    base = {"Tenant": "cgrates.org", "Account": "1001", "BalanceType": "*monetary"}
    await svc.add_balance({**base, "Value": 1, "Balance": {"ID": "a"}})
    await svc.add_balance({**base, "Value": 2, "Balance": {"ID": "b"}})
    await svc.remove_balances({**base, "Balance": {"ID": "a"}})
    assert await balances(svc, "1001") == {"b": Decimal(2)}
    with pytest.raises(RPCError, match="NOT_FOUND"):
        await svc.remove_balances({**base, "Balance": {"ID": "zzz"}})


async def test_failed_action_leaves_account_untouched():
    svc = make_service()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 10, "Balance": {"ID": "m"}})
    # *topup runs first (higher weight), then *transfer_balance fails: nothing of the list may be stored
    await set_actions(svc, "BROKEN",
                      {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "m", "Units": 5,
                       "Weight": 20},
                      {"Identifier": "*transfer_balance", "BalanceId": "m", "Units": 500, "Weight": 10,
                       "ExtraParameters": '{"DestinationAccountID":"cgrates.org:1001","DestinationBalanceID":"x"}'})
    with pytest.raises(RPCError, match="insufficient credits"):
        await svc.execute_action({"Tenant": "cgrates.org", "Account": "1001", "ActionsId": "BROKEN"})
    assert await balances(svc, "1001") == {"m": Decimal(10)}


async def test_transfer_balance_between_accounts():
    svc = make_service()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "A", "Value": 10, "Balance": {"ID": "m"}})
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "B", "Value": 1, "Balance": {"ID": "n"}})
    await set_actions(svc, "MOVE",
                      {"Identifier": "*transfer_balance", "BalanceId": "m", "Units": 4,
                       "ExtraParameters": '{"DestinationAccountID":"cgrates.org:B","DestinationBalanceID":"n"}'})
    await svc.execute_action({"Tenant": "cgrates.org", "Account": "A", "ActionsId": "MOVE"})
    assert await balances(svc, "A") == {"m": Decimal(6)}  # 10 - 4
    assert await balances(svc, "B") == {"n": Decimal(5)}  # 1 + 4


async def test_account_flags_and_reset_account():
    svc = make_service()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 10, "Balance": {"ID": "m"}})
    await set_actions(svc, "FLAGS", {"Identifier": "*disable_account", "Weight": 30},
                      {"Identifier": "*allow_negative", "Weight": 20}, {"Identifier": "*reset_account", "Weight": 10})
    await svc.execute_action({"Tenant": "cgrates.org", "Account": "1001", "ActionsId": "FLAGS"})
    acc = await svc.get_account({"Tenant": "cgrates.org", "Account": "1001"})
    assert acc["Disabled"] is True and acc["AllowNegative"] is True
    assert [b["Value"] for b in acc["BalanceMap"]["*monetary"]] == [0]
    await set_actions(svc, "UNFLAG", {"Identifier": "*enable_account"}, {"Identifier": "*deny_negative"})
    await svc.execute_action({"Tenant": "cgrates.org", "Account": "1001", "ActionsId": "UNFLAG"})
    acc = await svc.get_account({"Tenant": "cgrates.org", "Account": "1001"})
    assert acc["Disabled"] is False and acc["AllowNegative"] is False


async def test_set_expiry_and_expired_balances_are_dropped():
    svc = make_service()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 10, "Balance": {"ID": "m"}})
    await set_actions(svc, "EXP", {"Identifier": "*set_expiry", "BalanceType": "*monetary", "BalanceId": "m",
                                   "ExpiryTime": "2001-01-01T00:00:00Z"})
    await svc.execute_action({"Tenant": "cgrates.org", "Account": "1001", "ActionsId": "EXP"})
    acc = await svc.acc.store.get("cgrates.org:1001")
    assert acc.BalanceMap["*monetary"][0].ExpirationDate.year == 2001
    # the next change of the account cleans expired balances (rals.remove_expired)
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 1, "Balance": {"ID": "n"}})
    assert await balances(svc, "1001") == {"n": Decimal(1)}


async def test_remove_account_detaches_it_from_plans():
    svc = make_service()
    await set_actions(svc, "TOPUP", {"Identifier": "*topup", "BalanceType": "*monetary", "Units": 1})
    await svc.set_action_plan({"Id": "PLAN", "ActionPlan": [{"ActionsId": "TOPUP", "Time": "*monthly"}]})
    await svc.set_account({"Tenant": "cgrates.org", "Account": "1001", "ActionPlanID": "PLAN"})
    (plan,) = await svc.get_action_plan({"ID": "PLAN"})
    assert plan["AccountIDs"] == {"cgrates.org:1001": True}
    await svc.remove_account({"Tenant": "cgrates.org", "Account": "1001"})
    (plan,) = await svc.get_action_plan({"ID": "PLAN"})
    assert not plan["AccountIDs"]
    with pytest.raises(RPCError, match="NOT_FOUND"):
        await svc.get_account({"Tenant": "cgrates.org", "Account": "1001"})


async def test_session_and_cdr_actions_err_clearly_without_connections():
    svc = make_service()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 1})
    await set_actions(svc, "KILL", {"Identifier": "*force_disconnect_sessions"})
    with pytest.raises(RPCError, match="needs a SessionS connection"):
        await svc.execute_action({"Tenant": "cgrates.org", "Account": "1001", "ActionsId": "KILL"})
    await set_actions(svc, "ALTER", {"Identifier": "*alter_sessions"})
    with pytest.raises(RPCError, match="needs a SessionS connection"):
        await svc.execute_action({"Tenant": "cgrates.org", "Account": "1001", "ActionsId": "ALTER"})
    await set_actions(svc, "CDRLOG", {"Identifier": "*topup", "BalanceType": "*monetary", "Units": 1},
                      {"Identifier": "*cdrlog"})
    with pytest.raises(RPCError, match="No connection with CDR Server"):
        await svc.execute_action({"Tenant": "cgrates.org", "Account": "1001", "ActionsId": "CDRLOG"})


class FakeConn:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    async def call(self, method: str, args: dict):
        self.calls.append((method, args))
        return "OK"


class FakeConns:
    def __init__(self) -> None:
        self.conn = FakeConn()

    def get(self, ids):
        return self.conn if ids else None


async def test_session_actions_call_sessions_after_commit():
    svc = make_service(thresholds={"sessions_conns": ["*internal"]}, schedulers={"cdrs_conns": ["*internal"]})
    svc.acc.conns = FakeConns()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 1})
    await set_actions(svc, "KILL", {"Identifier": "*disable_account", "Weight": 20},
                      {"Identifier": "*force_disconnect_sessions", "Weight": 10},
                      {"Identifier": "*alter_sessions", "Weight": 5,
                       "ExtraParameters": "cgrates.org;*string:~*req.Account:1001;1;*radCoATemplate:mycoa;X:y"})
    await svc.execute_action({"Tenant": "cgrates.org", "Account": "1001", "ActionsId": "KILL"})
    calls = svc.acc.conns.conn.calls
    assert calls[0] == ("SessionSv1.ForceDisconnect", {
        "Tenant": "cgrates.org", "Filters": ["*string:~*req.Account:1001"], "Limit": None, "APIOpts": {},
        "Event": {}})
    assert calls[1] == ("SessionSv1.AlterSessions", {
        "Tenant": "cgrates.org", "Filters": ["*string:~*req.Account:1001"], "Limit": 1,
        "APIOpts": {"*radCoATemplate": "mycoa"}, "Event": {"X": "y"}})


async def test_cdrlog_sends_one_cdr_per_balance_change():
    svc = make_service(schedulers={"cdrs_conns": ["*internal"]})
    svc.acc.conns = FakeConns()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 1, "Cdrlog": True,
                           "Balance": {"ID": "m"}})
    ((method, ev),) = svc.acc.conns.conn.calls
    assert method == "CDRsV1.ProcessEvent" and ev["Flags"] == ["*chargers:false"]
    assert ev["Event"]["RunID"] == "*topup" and ev["Event"]["Cost"] == 1
    assert ev["Event"]["Account"] == "1001" and ev["Event"]["ToR"] == "*monetary"
    assert ev["Event"]["RequestType"] == "*none" and ev["Event"]["Source"] == "*cdrlog"


async def test_http_post_posts_the_account(aiohttp_free_port=None):
    from aiohttp import web

    got: list[dict] = []

    async def handler(request):
        got.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        svc = make_service()
        await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 3})
        await set_actions(svc, "HOOK", {"Identifier": "*http_post", "ExtraParameters": f"http://127.0.0.1:{port}/hook"},
                          {"Identifier": "*http_post_async",
                           "ExtraParameters": f"http://127.0.0.1:{port}/hook", "Weight": -1})
        await svc.execute_action({"Tenant": "cgrates.org", "Account": "1001", "ActionsId": "HOOK"})
        await svc.acc.drain()
        assert len(got) == 2 and got[0]["ID"] == "cgrates.org:1001"
    finally:
        await runner.cleanup()


async def test_shared_group_membership_recorded_with_the_topup():
    svc = make_service()
    await svc.acc.dm.set(SHARED_GROUP, "SG", {"Id": "SG", "AccountParameters": {"*any": {"Strategy": "*highest"}},
                                             "MemberIds": {}})
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 5,
                           "Balance": {"ID": "s", "SharedGroups": ["SG"]}})
    sg = await svc.acc.dm.get(SHARED_GROUP, "SG")
    assert sg["MemberIds"] == {"cgrates.org:1001": True}


async def test_action_filter_selects_accounts():
    svc = make_service()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "rich", "Value": 200, "Balance": {"ID": "m"}})
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "poor", "Value": 2, "Balance": {"ID": "m"}})
    await set_actions(svc, "BONUS", {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "m",
                                     "Units": 10, "Filter": '{"Type":"*monetary","Value":{"*gte":100}}'})
    for a in ("rich", "poor"):
        await svc.execute_action({"Tenant": "cgrates.org", "Account": a, "ActionsId": "BONUS"})
    assert await balances(svc, "rich") == {"m": Decimal(210)}  # 200 >= 100: +10
    assert await balances(svc, "poor") == {"m": Decimal(2)}  # filtered out


async def test_stored_account_shape_matches_cgrates():
    svc = make_service()
    await svc.add_balance({"Tenant": "cgrates.org", "Account": "1001", "Value": 1.5, "Balance": {"ID": "m"}})
    raw = await svc.acc.dm.get(ACCOUNT, "cgrates.org:1001")
    assert raw["ID"] == "cgrates.org:1001"
    assert raw["BalanceMap"]["*monetary"][0]["Value"] == "1.5"  # exact in storage
    reply = await svc.get_account({"Tenant": "cgrates.org", "Account": "1001"})
    b = reply["BalanceMap"]["*monetary"][0]
    assert b["Value"] == 1.5 and b["ExpirationDate"] == "0001-01-01T00:00:00Z"
    assert set(b) >= {"Uuid", "ID", "Value", "Weight", "DestinationIDs", "RatingSubject", "Categories",
                      "SharedGroups", "TimingIDs", "Disabled", "Blocker", "Factor"}
