"""Fraud detection with automatic mitigation, end to end in a real cgr-engine over JSON-RPC (the seed's fraud loop
on CGRateS v0.11's services):

    CDRsV1.ProcessEvent (*stats) ─▶ StatS (cdrs.stats_conns): the account's *tcd crosses 15m
      ─▶ ThresholdS (stats.thresholds_conns): the StatUpdate passes FRAUD_TH's filters
      ─▶ RALs (thresholds.apiers_conns, APIerSv1.ExecuteAction): *disable_account, then *http_post
      ─▶ the operator's HTTP endpoint (an aiohttp listener here) receives the account, disabled
      ─▶ the next SessionSv1.AuthorizeEvent of that account is refused.

A StatUpdate names no account: the CDRs carry CGRateS's ``*accountID`` option, which StatS passes on with the
event's options and ThresholdS takes as the account of its actions.

The threshold half of the loop is checked without StatS too, with the StatUpdate that StatS sends for that queue
(ThresholdSv1.ProcessEvent); the whole loop runs through the engine's own StatS, fed by real CDRs over JSON-RPC.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from pycgrates.engine.units import MINUTE
from tests.conftest import shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides

T = "cgrates.org"
QUEUE = "FRAUD_1001"
LIMIT = 15 * MINUTE  # total call duration of the queue that counts as fraud

CONFIG = {
    "general": {"log_level": 6, "default_timezone": "UTC"},
    "rals": {"enabled": True},
    "apiers": {"enabled": True},
    "schedulers": {"enabled": True},
    "chargers": {"enabled": True, "attributes_conns": ["*internal"]},
    "attributes": {"enabled": True},
    "cdrs": {"enabled": True, "rals_conns": ["*internal"], "stats_conns": ["*internal"]},
    "stats": {"enabled": True, "store_interval": "-1", "thresholds_conns": ["*internal"]},
    "thresholds": {"enabled": True, "store_interval": "-1", "apiers_conns": ["*internal"]},
    "sessions": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"],
                 "attributes_conns": ["*internal"]},
}


class Hook:
    """The operator's endpoint: an aiohttp listener on a loopback port keeping what is posted."""

    def __init__(self) -> None:
        self.posts: list[Any] = []
        self.received = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.posts.append(await request.json())
        self.received.set()
        return web.Response(text="ok")


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    h = Hook()
    app = web.Application()
    app.router.add_post("/fraud", h.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    h.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/fraud"  # type: ignore[union-attr]
    try:
        yield h
    finally:
        await runner.cleanup()


class Engine:
    """A cgr-engine process whose blocking JSON-RPC calls run in a thread, so the test's listener keeps serving."""

    def __init__(self, proc: EngineProcess) -> None:
        self.proc = proc

    async def call(self, method: str, arg: Any) -> Any:
        return await asyncio.to_thread(self.proc.call, method, arg)

    async def error(self, method: str, arg: Any) -> str:
        with pytest.raises(RuntimeError) as exc:
            await self.call(method, arg)
        return str(exc.value)


@pytest.fixture
async def engine(tmp_path: Path, hook: Hook) -> AsyncIterator[Engine]:
    port = free_port()
    overrides = storage_overrides(tmp_path, port)
    overrides.update(CONFIG)
    proc = EngineProcess(make_config_dir(tmp_path / "cfg", overrides=overrides), port, tmp_path / "engine.log")
    await asyncio.to_thread(proc.start)
    eng = Engine(proc)
    try:
        tutorial = shared_data("tariffplans", "tutorial")
        assert await eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(tutorial)}) == "OK"
        # 10 units: under the tutorial's STANDARD_TRIGGERS on 1001 (*max_balance 20 logs, 100 disables)
        await eng.call("APIerSv1.SetBalance", {"Tenant": T, "Account": "1001", "BalanceType": "*monetary",
                                               "Value": 10, "Balance": {"ID": "MAIN"}})
        assert await eng.call("APIerSv1.SetActions", {"ActionsId": "ACT_FRAUD", "Overwrite": True, "Actions": [
            {"Identifier": "*disable_account", "Weight": 20},
            {"Identifier": "*http_post", "ExtraParameters": hook.url, "Weight": 10}]}) == "OK"
        assert await eng.call("APIerSv1.SetThresholdProfile", {
            "Tenant": T, "ID": "FRAUD_TH", "FilterIDs": [f"*string:~*req.StatID:{QUEUE}", "*gte:~*req.*tcd:15m"],
            "MaxHits": -1, "MinHits": 1, "MinSleep": 0, "Weight": 10, "ActionIDs": ["ACT_FRAUD"]}) == "OK"
        yield eng
    finally:
        proc.kill()


AUTHORIZE = {"Tenant": T, "ID": "auth", "GetMaxUsage": True,
             "Event": {"Account": "1001", "Destination": "1002", "OriginID": "next-call", "RequestType": "*prepaid",
                       "ToR": "*voice", "SetupTime": "2024-05-01T12:00:00Z", "Usage": "1m"}}


async def authorized(eng: Engine) -> int:
    return (await eng.call("SessionSv1.AuthorizeEvent", AUTHORIZE))["MaxUsage"]


async def assert_mitigated(eng: Engine, hook: Hook) -> None:
    """The account is disabled, the endpoint got it (disabled: the post comes after), the next call is refused."""
    await asyncio.wait_for(hook.received.wait(), 10)
    (posted,) = hook.posts
    assert posted["ID"] == "cgrates.org:1001" and posted["Disabled"] is True
    assert (await eng.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1001"}))["Disabled"] is True
    assert "ACCOUNT_DISABLED" in await eng.error("SessionSv1.AuthorizeEvent", AUTHORIZE)


def stat_update(tcd: int) -> dict:
    """What StatS sends ThresholdS for the queue after an event (stats.go processThresholds), the CDR's options
    passed on."""
    return {"Tenant": T, "ID": f"su-{tcd}", "Event": {"EventType": "StatUpdate", "StatID": QUEUE, "*tcd": tcd},
            "APIOpts": {"*accountID": "1001", "*eventType": "StatUpdate", "*thdProfileIDs": None}}


async def test_threshold_half_of_the_loop(engine: Engine, hook: Hook):
    assert await authorized(engine) == MINUTE
    # 12 minutes so far: under the limit, no threshold matches
    assert await engine.error("ThresholdSv1.ProcessEvent", stat_update(12 * MINUTE)) == "NOT_FOUND"
    assert not hook.posts and await authorized(engine) == MINUTE
    # 18 minutes: FRAUD_TH is hit, its actions run
    assert await engine.call("ThresholdSv1.ProcessEvent", stat_update(18 * MINUTE)) == ["FRAUD_TH"]
    await assert_mitigated(engine, hook)
    assert (await engine.call("ThresholdSv1.GetThreshold", {"Tenant": T, "ID": "FRAUD_TH"}))["Hits"] == 1


async def test_cdrs_to_stats_to_thresholds_to_rals(engine: Engine, hook: Hook):
    assert await engine.call("APIerSv1.SetStatQueueProfile", {
        "Tenant": T, "ID": QUEUE, "FilterIDs": ["*string:~*req.Account:1001"], "QueueLength": 100, "TTL": 0,
        "MinItems": 1, "Metrics": [{"MetricID": "*tcd"}], "Stored": True, "Blocker": False, "Weight": 40,
        "ThresholdIDs": ["FRAUD_TH"]}) == "OK"  # heavier than the tutorial's Stats2, a Blocker for 1001
    assert await authorized(engine) == MINUTE
    for n in range(1, 4):  # three 6-minute calls: 6m, 12m, then 18m >= 15m
        cdr = {"Flags": ["*stats:true", "*chargers:false", "*rals:false"], "Tenant": T, "ID": f"cdr{n}",
               "Event": {"Account": "1001", "Subject": "1001", "Destination": "1002", "OriginID": f"call{n}",
                         "OriginHost": "fraud-test", "RequestType": "*postpaid", "ToR": "*voice",
                         "SetupTime": "2024-05-01T11:00:00Z", "AnswerTime": "2024-05-01T11:00:05Z",
                         "Usage": "6m"},
               "APIOpts": {"*accountID": "1001"}}
        assert await engine.call("CDRsV1.ProcessEvent", cdr) == "OK"
        if n < 3:
            assert not hook.posts and await authorized(engine) == MINUTE
    metrics = await engine.call("StatSv1.GetQueueFloatMetrics", {"Tenant": T, "ID": QUEUE})
    assert metrics == {"*tcd": 18 * MINUTE}  # CGRateS's float metrics: durations in nanoseconds
    await assert_mitigated(engine, hook)
