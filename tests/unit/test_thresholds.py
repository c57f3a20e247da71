"""ThresholdS: CGRateS's counting order (MaxHits, Hits, MinHits, MinSleep), the account its actions run on, the
actions run by RALs through APIerSv1.ExecuteAction (in process), and the live thresholds kept per store_interval.

The engine pieces are the real ones (DataManager over the *internal DataDB, FilterS, the accounting service behind
an *internal connection); only the clock is moved by hand.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from pycgrates.engine.accounts.service import AccountingService
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.filters.service import FilterService
from pycgrates.engine.profiles.thresholds import (
    CONSOLE_COMMANDS,
    ThresholdService,
    decode_threshold_profile,
    event_account,
)
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry, rpc
from pycgrates.engine.storage.base import THRESHOLD
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from pycgrates.engine.storage.internal import InternalDataDB
from pycgrates.engine.units import SECOND

T = "cgrates.org"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_ctx(path, cfg: dict | None = None) -> EngineContext:
    base = {"general": {"default_timezone": "UTC"},
            "thresholds": {"store_interval": "-1", "apiers_conns": ["*internal"]},
            "schedulers": {"thresholds_conns": ["*internal"], "stats_conns": ["*internal"]}}
    for section, values in (cfg or {}).items():
        base.setdefault(section, {}).update(values)
    registry = Registry()
    ctx = EngineContext(cfg=config_from_dict(base), dm=DataManager(InternalDataDB(path), Cache()), stordb=None,
                        registry=registry, conns=ConnManager(Dispatcher(registry), {}))
    ctx.services["filters"] = FilterService(ctx)
    return ctx


def start(ctx: EngineContext, *, rals: bool = True) -> ThresholdService:
    if rals:
        accounts = AccountingService(ctx)
        ctx.registry.register_object(accounts)
        ctx.services["rals"] = accounts
    svc = ThresholdService(ctx)
    ctx.registry.register_object(svc)
    svc.clock = Clock()
    return svc


@pytest.fixture
def svc(tmp_path) -> ThresholdService:
    return start(make_ctx(tmp_path))


def rals(svc: ThresholdService) -> AccountingService:
    return svc.ctx.services["rals"]


async def profile(svc: ThresholdService, pid: str, *, max_hits: int = -1, min_hits: int = 1, min_sleep: Any = 0,
                  actions: tuple[str, ...] = (), filters: tuple[str, ...] = ("*string:~*req.Account:1001",),
                  **extra: Any) -> None:
    assert await svc.rpc_set_ThresholdProfile({
        "Tenant": T, "ID": pid, "FilterIDs": list(filters), "MaxHits": max_hits, "MinHits": min_hits,
        "MinSleep": min_sleep, "Weight": 10, "ActionIDs": list(actions), **extra}) == "OK"


async def actions(svc: ThresholdService, aid: str, *acts: dict) -> None:
    assert await rals(svc).set_actions({"ActionsId": aid, "Actions": list(acts), "Overwrite": True}) == "OK"


async def money(svc: ThresholdService, account: str) -> Decimal:
    acc = await rals(svc).get_account({"Tenant": T, "Account": account})
    return sum((Decimal(str(b["Value"])) for b in acc["BalanceMap"].get("*monetary") or []), Decimal(0))


async def disabled(svc: ThresholdService, account: str) -> bool:
    return (await rals(svc).get_account({"Tenant": T, "Account": account}))["Disabled"]


async def process(svc: ThresholdService, event: dict | None = None, **opts: Any) -> list[str]:
    return await svc.v1_process_event({"Tenant": T, "ID": "ev", "Event": event or {"Account": "1001"},
                                       "APIOpts": opts})


async def hits(svc: ThresholdService, tid: str) -> dict:
    return await svc.v1_get_threshold({"Tenant": T, "ID": tid})


TOPUP_1 = {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "main", "Units": 1}


async def test_profile_json_round_trip_and_errors_naming_the_field(svc):
    raw = {"Tenant": T, "ID": "TH", "FilterIDs": ["*string:~*req.Account:1001"],
           "ActivationInterval": {"ActivationTime": "2014-07-29T15:00:00Z", "ExpiryTime": "0001-01-01T00:00:00Z"},
           "MaxHits": -1, "MinHits": 2, "MinSleep": "1m30s", "Blocker": True, "Weight": 20.5,
           "ActionIDs": ["A1", "A2"], "Async": True, "EeIDs": []}
    assert await svc.rpc_set_ThresholdProfile(raw) == "OK"
    assert await svc.rpc_get_ThresholdProfile({"Tenant": T, "ID": "TH"}) == {**raw, "MinSleep": 90 * SECOND}
    assert await svc.rpc_count_ThresholdProfile({"Tenant": T}) == 1
    with pytest.raises(ValueError, match="MinSleep"):
        decode_threshold_profile({"ID": "X", "MinSleep": "soon"})
    with pytest.raises(ValueError, match="MaxHits must be a whole number"):
        decode_threshold_profile({"ID": "X", "MaxHits": 1.5})
    with pytest.raises(RPCError, match=r"^SERVER_ERROR: MinHits must be a whole number"):
        await svc.rpc_set_ThresholdProfile({"ID": "X", "MinHits": "many"})
    with pytest.raises(RPCError, match=r"^MANDATORY_IE_MISSING: \[ID\]"):
        await svc.rpc_set_ThresholdProfile({"Tenant": T})


async def test_counting_order_min_hits_min_sleep_max_hits(svc):
    """MaxHits 3, MinHits 2, MinSleep 10s: the 1st event counts only, the 2nd fires, the 3rd (5s later) is snoozed,
    the 4th finds MaxHits reached and is not counted."""
    await actions(svc, "TOPUP", TOPUP_1)
    await rals(svc).set_account({"Tenant": T, "Account": "1001"})
    await profile(svc, "TH", max_hits=3, min_hits=2, min_sleep="10s", actions=("TOPUP",))
    clock = svc.clock
    assert await process(svc) == ["TH"]
    assert await hits(svc, "TH") == {"Tenant": T, "ID": "TH", "Hits": 1, "Snooze": "0001-01-01T00:00:00Z"}
    assert await money(svc, "1001") == 0  # 1 < MinHits 2
    assert await process(svc) == ["TH"]
    assert await money(svc, "1001") == 1  # fired
    assert (await hits(svc, "TH"))["Snooze"] == "2024-05-01T12:00:10Z"  # T0 + MinSleep
    clock.advance(5)
    assert await process(svc) == ["TH"]
    assert await money(svc, "1001") == 1  # snoozed until 12:00:10
    clock.advance(60)
    assert await process(svc) == []  # Hits 3 = MaxHits: disabled, not counted
    assert await hits(svc, "TH") == {"Tenant": T, "ID": "TH", "Hits": 3, "Snooze": "2024-05-01T12:00:10Z"}
    assert await money(svc, "1001") == 1
    # a reset counts from 0 again
    assert await svc.v1_reset_threshold({"Tenant": T, "ID": "TH"}) == "OK"
    assert await hits(svc, "TH") == {"Tenant": T, "ID": "TH", "Hits": 0, "Snooze": "0001-01-01T00:00:00Z"}
    assert await process(svc) == ["TH"]
    assert (await hits(svc, "TH"))["Hits"] == 1


async def test_min_sleep_is_respected_to_the_microsecond(svc):
    await actions(svc, "TOPUP", TOPUP_1)
    await rals(svc).set_account({"Tenant": T, "Account": "1001"})
    await profile(svc, "TH", min_sleep=10 * SECOND, actions=("TOPUP",))
    clock = svc.clock
    await process(svc)
    assert await money(svc, "1001") == 1
    clock.advance(10)  # exactly at the snooze: not after it
    await process(svc)
    assert await money(svc, "1001") == 1
    clock.advance(0.000001)
    await process(svc)
    assert await money(svc, "1001") == 2
    assert (await hits(svc, "TH"))["Hits"] == 3  # every event counted, snoozed or not


async def test_max_hits_zero_never_counts_and_no_match_is_not_found(svc):
    await profile(svc, "TH0", max_hits=0)
    assert await process(svc) == []
    assert (await hits(svc, "TH0"))["Hits"] == 0
    with pytest.raises(RPCError, match=r"^NOT_FOUND$"):
        await process(svc, {"Account": "2002"})
    with pytest.raises(RPCError, match=r"^MANDATORY_IE_MISSING: \[ID\]$"):
        await svc.v1_process_event({"Tenant": T, "Event": {"Account": "1001"}})
    with pytest.raises(RPCError, match=r"^MANDATORY_IE_MISSING: \[Event\]$"):
        await svc.v1_process_event({"Tenant": T, "ID": "x"})


def test_the_account_actions_run_on():
    assert event_account({"Event": {"Account": "1001"}}) == "1001"
    update = {"Event": {"AccountID": "1002", "Account": "x"}, "APIOpts": {"*eventType": "AccountUpdate"}}
    assert event_account(update) == "1002"
    assert event_account({"Event": {"EventType": "AccountUpdate", "Account": "1003"}}) == "1003"  # v0.10's shape
    assert event_account({"Event": {"Account": "1001"}, "APIOpts": {"*accountID": "1004"}}) == "1004"
    assert event_account({"Event": {"EventType": "StatUpdate", "StatID": "S"}}) == ""


async def test_account_update_event_disables_the_account_it_names(svc):
    await actions(svc, "DISABLE", {"Identifier": "*disable_account"})
    for acc in ("1001", "1002"):
        await rals(svc).set_account({"Tenant": T, "Account": acc})
    await profile(svc, "TH", actions=("DISABLE",), filters=("*string:~*opts.*eventType:AccountUpdate",))
    assert await process(svc, {"AccountID": "1002", "Disabled": False}, **{"*eventType": "AccountUpdate"}) == ["TH"]
    assert (await disabled(svc, "1001"), await disabled(svc, "1002")) == (False, True)


async def hook_listener() -> tuple[web.AppRunner, str, list[Any]]:
    got: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/hook", got


async def test_account_less_actions_carry_the_event_and_skip_account_actions(svc, caplog):
    """A StatUpdate names no account: *log logs the event, *http_post posts it, *disable_account is skipped (as
    CGRateS's ActionTiming without accounts)."""
    runner, url, got = await hook_listener()
    try:
        await actions(svc, "FRAUD", {"Identifier": "*log", "Weight": 30},
                      {"Identifier": "*disable_account", "Weight": 20},
                      {"Identifier": "*http_post", "ExtraParameters": url, "Weight": 10})
        await profile(svc, "TH", actions=("FRAUD",), filters=("*string:~*req.StatID:ST1", "*gte:~*req.*tcc:10"))
        stat_update = {"EventType": "StatUpdate", "StatID": "ST1", "*tcc": 12.5}
        with caplog.at_level(logging.INFO, logger="cgr.actions"):
            assert await process(svc, stat_update, **{"*eventType": "StatUpdate"}) == ["TH"]
        sent = {"Tenant": T, "ID": "ev", "Time": None, "Event": stat_update, "APIOpts": {"*eventType": "StatUpdate"}}
        assert got == [sent]
        assert [json.loads(r.getMessage().removeprefix("LOG ExtraData: ")) for r in caplog.records
                if r.getMessage().startswith("LOG ExtraData: ")] == [sent]
    finally:
        await runner.cleanup()


async def test_execute_action_takes_extra_data_only_as_our_optional_field(svc, caplog):
    await actions(svc, "LOG", {"Identifier": "*log"}, {"Identifier": "*topup", "BalanceType": "*monetary",
                                                         "Units": 1})
    with caplog.at_level(logging.INFO, logger="cgr.actions"):
        assert await rals(svc).execute_action({"Tenant": T, "ActionsId": "LOG", "ExtraData": {"Event": {"A": 1}}}) \
            == "OK"
        assert await rals(svc).execute_action({"Tenant": T, "Account": "", "ActionsId": "LOG"}) == "OK"
    assert [r.getMessage() for r in caplog.records] == ['LOG ExtraData: {"Event":{"A":1}}']


async def test_failed_actions_answer_partially_executed_after_counting(svc):
    await actions(svc, "DISABLE", {"Identifier": "*disable_account"})
    await profile(svc, "TH", actions=("DISABLE", "NO_SUCH_ACTIONS"))
    await rals(svc).set_account({"Tenant": T, "Account": "1001"})
    with pytest.raises(RPCError, match=r"^PARTIALLY_EXECUTED$"):
        await process(svc)
    assert (await hits(svc, "TH"))["Hits"] == 1
    assert await disabled(svc, "1001")  # the other action set ran


async def test_actions_need_rals_somewhere(tmp_path):
    svc = start(make_ctx(tmp_path, {"thresholds": {"apiers_conns": []}}), rals=False)
    await profile(svc, "TH", actions=("ANY",))
    with pytest.raises(RPCError, match=r"^PARTIALLY_EXECUTED$"):
        await process(svc)
    assert (await hits(svc, "TH"))["Hits"] == 1


async def test_without_apiers_conns_the_actions_run_in_this_engines_rals(tmp_path):
    svc = start(make_ctx(tmp_path, {"thresholds": {"apiers_conns": []}}))
    await actions(svc, "DISABLE", {"Identifier": "*disable_account"})
    await rals(svc).set_account({"Tenant": T, "Account": "1001"})
    await profile(svc, "TH", actions=("DISABLE",))
    assert await process(svc) == ["TH"]
    assert await disabled(svc, "1001")


async def test_async_profiles_run_their_actions_under_the_supervisor(svc):
    await actions(svc, "TOPUP", TOPUP_1)
    await rals(svc).set_account({"Tenant": T, "Account": "1001"})
    await profile(svc, "TH", actions=("TOPUP", "NO_SUCH_ACTIONS"), Async=True)
    assert await process(svc) == ["TH"]  # a failure in the background is no error of the call
    assert len(svc.tasks) == 2
    assert await svc.tasks.drain(timeout=5)
    assert await money(svc, "1001") == 1
    assert svc.tasks.failures == 0  # logged by the threshold, not a crashed task


class StatSPeer:
    """StatS's ResetStatQueue as the reset action reaches it (StatS itself is another service)."""

    def __init__(self) -> None:
        self.reset: list[dict] = []

    @rpc("StatSv1.ResetStatQueue")
    async def reset_stat_queue(self, args: dict) -> str:
        self.reset.append(args)
        return "OK"


async def test_reset_threshold_and_reset_stat_queue_actions(svc):
    stats = StatSPeer()
    svc.ctx.registry.register_object(stats)
    await rals(svc).set_account({"Tenant": T, "Account": "1001"})
    await profile(svc, "COUNTED", max_hits=5)
    await actions(svc, "RESETS", {"Identifier": "*reset_threshold", "ExtraParameters": "cgrates.org:COUNTED"},
                  {"Identifier": "*reset_threshold", "ExtraParameters": "SELF"},
                  {"Identifier": "*reset_stat_queue", "ExtraParameters": "cgrates.org:ST1"})
    await profile(svc, "SELF", actions=("RESETS",), filters=("*string:~*req.Reset:yes",))
    await process(svc)
    await process(svc)
    assert (await hits(svc, "COUNTED"))["Hits"] == 2
    # SELF resets itself from its own actions (no tenant: the default one) and COUNTED
    assert await process(svc, {"Account": "1001", "Reset": "yes"}) == ["COUNTED", "SELF"]
    assert (await hits(svc, "COUNTED"))["Hits"] == 0
    assert (await hits(svc, "SELF"))["Hits"] == 0
    assert stats.reset == [{"Tenant": T, "ID": "ST1", "APIOpts": {}}]


async def test_reset_actions_need_the_schedulers_conns(tmp_path):
    svc = start(make_ctx(tmp_path, {"schedulers": {"thresholds_conns": []}}))
    await actions(svc, "RESET", {"Identifier": "*reset_threshold", "ExtraParameters": "TH"})
    with pytest.raises(RPCError, match=r"needs a ThresholdS connection: set schedulers\.thresholds_conns"):
        await rals(svc).execute_action({"Tenant": T, "ActionsId": "RESET"})


async def test_setting_a_profile_anew_or_counting_differently_starts_again(svc):
    await profile(svc, "TH", max_hits=10)
    await process(svc)
    await process(svc)
    await profile(svc, "TH", max_hits=10, Weight=30)  # same counting: hits kept
    assert (await hits(svc, "TH"))["Hits"] == 2
    await profile(svc, "TH", max_hits=11)
    assert (await hits(svc, "TH"))["Hits"] == 0
    await process(svc)
    assert await svc.rpc_remove_ThresholdProfile({"Tenant": T, "ID": "TH"}) == "OK"
    assert await svc.dm.datadb.get(THRESHOLD, f"{T}:TH") is None
    with pytest.raises(RPCError, match=r"^NOT_FOUND$"):
        await hits(svc, "TH")
    await profile(svc, "TH", max_hits=11)  # a new profile: a new threshold
    assert (await hits(svc, "TH"))["Hits"] == 0


async def test_ids_and_thresholds_for_event_count_nothing(svc):
    await profile(svc, "TH_B")
    await profile(svc, "TH_A", filters=("*string:~*req.Account:1002",))
    assert await svc.v1_get_threshold_ids({"Tenant": T}) == ["TH_A", "TH_B"]
    assert await svc.v1_get_threshold_ids("other.org") == []
    args = {"Tenant": T, "ID": "e", "Event": {"Account": "1001"}}
    assert await svc.v1_get_thresholds_for_event(args) == [
        {"Tenant": T, "ID": "TH_B", "Hits": 0, "Snooze": "0001-01-01T00:00:00Z"}]
    assert (await hits(svc, "TH_B"))["Hits"] == 0
    with pytest.raises(RPCError, match=r"^NOT_FOUND$"):
        await svc.v1_get_threshold({"Tenant": T, "ID": "NONE"})
    with pytest.raises(RPCError, match=r"^MANDATORY_IE_MISSING: \[ID\]$"):
        await svc.v1_get_threshold({"Tenant": T})


async def test_explicit_profile_ids_as_stats_and_resources_send_them(svc):
    await profile(svc, "TH_1", filters=("*string:~*req.StatID:S1",))
    await profile(svc, "TH_2", filters=("*string:~*req.StatID:S1",))
    ev = {"EventType": "StatUpdate", "StatID": "S1"}
    assert await process(svc, ev, **{"*thdProfileIDs": ["TH_2"]}) == ["TH_2"]
    assert await process(svc, ev, **{"*thdProfileIDs": None}) == ["TH_1", "TH_2"]  # no list: the index decides


async def test_hits_survive_a_restart_when_every_change_is_stored(tmp_path):
    svc = start(make_ctx(tmp_path))
    await profile(svc, "TH", min_sleep="1h")
    await process(svc)
    await process(svc)
    await svc.dm.datadb.close()  # no stop: what a kill -9 leaves
    again = start(make_ctx(tmp_path))
    assert await hits(again, "TH") == {"Tenant": T, "ID": "TH", "Hits": 2, "Snooze": "2024-05-01T13:00:00Z"}
    await again.dm.datadb.close()


async def test_a_periodic_store_interval_writes_at_stop(tmp_path):
    svc = start(make_ctx(tmp_path, {"thresholds": {"store_interval": "1h"}}))
    await svc.start()
    await profile(svc, "TH")
    await process(svc)
    assert await svc.dm.datadb.get(THRESHOLD, f"{T}:TH") is None  # not yet
    await svc.stop()
    assert (await svc.dm.datadb.get(THRESHOLD, f"{T}:TH"))["Hits"] == 1
    await svc.dm.datadb.close()


def test_console_commands_have_cgrates_names():
    assert CONSOLE_COMMANDS["threshold"][0] == "ThresholdSv1.GetThreshold"
    assert CONSOLE_COMMANDS["thresholds_for_event"][0] == "ThresholdSv1.GetThresholdsForEvent"
    assert CONSOLE_COMMANDS["thresholds_process_event"][0] == "ThresholdSv1.ProcessEvent"
    assert {c: m for c, (m, _) in CONSOLE_COMMANDS.items() if c.startswith("thresholds_profile")} == {
        "thresholds_profile": "APIerSv1.GetThresholdProfile",
        "thresholds_profile_set": "APIerSv1.SetThresholdProfile",
        "thresholds_profile_remove": "APIerSv1.RemoveThresholdProfile",
        "thresholds_profile_ids": "APIerSv1.GetThresholdProfileIDs"}


async def test_concurrent_events_count_every_hit_and_fire_once_per_min_sleep(svc):
    import asyncio

    await actions(svc, "TOPUP", TOPUP_1)
    await rals(svc).set_account({"Tenant": T, "Account": "1001"})
    await profile(svc, "TH", min_sleep="1m", actions=("TOPUP",))
    replies = await asyncio.gather(*(process(svc) for _ in range(50)))
    assert replies == [["TH"]] * 50
    assert (await hits(svc, "TH"))["Hits"] == 50
    assert await money(svc, "1001") == 1  # the first fired; the other 49 found it snoozed
