"""More of SessionS and CDRs over the wire: HTTP CDR endpoints, messages, TTL, channel sync, flags, shutdown."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import aiohttp
import pytest

from pycgrates.engine.rpc.client import RPCClient
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.registry import Registry, rpc
from tests.engine_proc import free_port
from tests.integration.test_sessions import balances, set_only_monetary, start_engine


@pytest.fixture
def engine_http(tmp_path):
    http = free_port()
    eng = start_engine(tmp_path, "oldtutorial", {"listen": {"http": f"127.0.0.1:{http}"},
                                                 "sessions": {"session_ttl": "1s",
                                                              "session_indexes": ["*req.Account"]}})
    eng.http_port = http  # type: ignore[attr-defined]
    yield eng
    eng.kill()


def test_cdr_http_form_endpoint(engine_http):
    set_only_monetary(engine_http, "1001", 10)

    async def post() -> tuple[int, str]:
        async with aiohttp.ClientSession() as http:
            form = {"OriginID": "http1", "OriginHost": "pbx", "ToR": "*voice", "RequestType": "*postpaid",
                    "Tenant": "cgrates.org", "Category": "call", "Account": "1001", "Destination": "1004",
                    "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "60s", "field_extr1": "val_extr1"}
            async with http.post(f"http://127.0.0.1:{engine_http.http_port}/cdr_http", data=form) as r:
                return r.status, await r.text()

    status, text = asyncio.run(post())
    assert status == 200 and text.strip() == "OK"
    [cdr] = engine_http.call("CDRsV1.GetCDRs", {"OriginIDs": ["http1"]})
    assert Decimal(str(cdr["Cost"])) == Decimal("1.2") and cdr["ExtraFields"]["field_extr1"] == "val_extr1"
    assert balances(engine_http, "1001", "*monetary") == [Decimal("8.8")]


def test_freeswitch_json_cdr_endpoint(engine_http):
    doc = {"core-uuid": "fs-core-1", "variables": {
        "uuid": "fs-call-1", "cgr_reqtype": "*rated", "cgr_account": "1001", "cgr_tenant": "cgrates.org",
        "cgr_category": "call", "dialed_extension": "1004", "start_uepoch": "1452018649000000",
        "answer_uepoch": "1452018665000000", "billsec": "60", "hangup_cause": "NORMAL_CLEARING",
        "cgr_extra_code": "x1"}}

    async def post() -> int:
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{engine_http.http_port}/freeswitch_json"
            async with http.post(url, data=json.dumps(doc), headers={"Content-Type": "application/json"}) as r:
                return r.status

    assert asyncio.run(post()) == 200
    [cdr] = engine_http.call("CDRsV1.GetCDRs", {"OriginIDs": ["fs-call-1"]})
    assert cdr["OriginHost"] == "fs-core-1" and cdr["Usage"] == 60 * 10**9 and cdr["RequestType"] == "*rated"
    assert cdr["AnswerTime"].startswith("2016-01-05T18:31:05") and cdr["ExtraFields"]["extra_code"] == "x1"
    assert Decimal(str(cdr["Cost"])) == Decimal("1.2")  # rated, no balance touched


def test_sms_message_is_charged_once(engine_http):
    set_only_monetary(engine_http, "1001", 10)
    ev = {"Tenant": "cgrates.org", "ToR": "*sms", "OriginID": "sms1", "RequestType": "*prepaid", "Account": "1001",
          "Destination": "1004", "Category": "generic", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": 1}
    reply = engine_http.call("SessionSv1.ProcessMessage", {"Debit": True, "Event": ev})
    assert reply["MaxUsage"] == 1
    # RP_GENERIC: 1 per unit
    assert sum(balances(engine_http, "1001", "*monetary")) == Decimal(9)
    again = engine_http.call("SessionSv1.ProcessMessage", {"Debit": True, "Event": ev})
    assert again["MaxUsage"] == 1 and sum(balances(engine_http, "1001", "*monetary")) == Decimal(9)
    assert engine_http.call("SessionSv1.ProcessCDR", {"Event": ev}) == "OK"
    [cdr] = engine_http.call("CDRsV1.GetCDRs", {"OriginIDs": ["sms1"]})
    assert Decimal(str(cdr["Cost"])) == Decimal(1) and cdr["CostSource"] == "*sessions"


def test_session_without_updates_ends_after_its_ttl(engine_http):
    set_only_monetary(engine_http, "1001", 10)
    ev = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": "ttl1", "RequestType": "*prepaid",
          "Account": "1001", "Destination": "1004", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "30s"}
    engine_http.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": ev})
    assert engine_http.call("SessionSv1.GetActiveSessionsCount", {}) == 1
    deadline = time.monotonic() + 10
    while engine_http.call("SessionSv1.GetActiveSessionsCount", {}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert engine_http.call("SessionSv1.GetActiveSessionsCount", {}) == 0
    [cdr] = engine_http.call("CDRsV1.GetCDRs", {"OriginIDs": ["ttl1"]})
    # 30s granted at start + 1s TTL usage charged when it expired: 31s (a 30s increment more: 60s charged)
    assert cdr["Usage"] == 31 * 10**9 and Decimal(str(cdr["Cost"])) == Decimal("1.2")


def test_channel_sync_asks_each_agent_once_and_ends_stale_sessions(tmp_path):
    eng = start_engine(tmp_path, "oldtutorial", {"sessions": {"channel_sync_interval": "1s"}})
    try:
        set_only_monetary(eng, "1001", 10)
        asks: list[float] = []

        async def run() -> None:
            class Agent:
                alive = {"sync-keep"}

                @rpc("AgentV1.GetActiveSessionIDs")
                async def ids(self, args):
                    asks.append(time.monotonic())
                    return [{"OriginHost": "", "OriginID": i} for i in self.alive]

            reg = Registry()
            reg.register_object(Agent())
            client = RPCClient(f"127.0.0.1:{eng.birpc_port}", dispatcher=Dispatcher(reg))
            base = {"Tenant": "cgrates.org", "ToR": "*voice", "RequestType": "*prepaid", "Account": "1001",
                    "Destination": "1004", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "30s"}
            try:
                for oid in ("sync-keep", "sync-gone-1", "sync-gone-2"):
                    await client.call("SessionSv1.InitiateSession", {"InitSession": True,
                                                                     "Event": {**base, "OriginID": oid}})
                await asyncio.sleep(2.6)
            finally:
                await client.close()

        asyncio.run(run())
        active = eng.call("SessionSv1.GetActiveSessions", {})
        assert [s["OriginID"] for s in active] == ["sync-keep"]
        assert 2 <= len(asks) <= 3  # once per interval for the agent, not once per session
        assert {c["OriginID"] for c in eng.call("CDRsV1.GetCDRs", {})} == {"sync-gone-1", "sync-gone-2"}
    finally:
        eng.kill()


def test_process_event_flags(engine_http):
    set_only_monetary(engine_http, "1001", 10)
    ev = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": "pe1", "RequestType": "*prepaid",
          "Account": "1001", "Destination": "1004", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "60s"}
    rep = engine_http.call("SessionSv1.ProcessEvent", {"Flags": ["*rals:*initiate"], "Event": ev})
    assert rep["MaxUsage"] == {"*default": 60 * 10**9}
    engine_http.call("SessionSv1.ProcessEvent", {"Flags": ["*rals:*terminate", "*cdrs"], "Event": ev})
    [cdr] = engine_http.call("CDRsV1.GetCDRs", {"OriginIDs": ["pe1"]})
    assert Decimal(str(cdr["Cost"])) == Decimal("1.2")
    assert balances(engine_http, "1001", "*monetary") == [Decimal("8.8")]


def test_shutdown_terminate_action_settles_open_sessions(tmp_path):
    eng = start_engine(tmp_path, "oldtutorial", {"sessions": {"shutdown_action": "*terminate"}})
    set_only_monetary(eng, "1001", 10)
    ev = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": "sd1", "RequestType": "*prepaid",
          "Account": "1001", "Destination": "1004", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "60s"}
    eng.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": ev})
    assert eng.terminate() == 0
    eng.start()
    try:
        assert eng.call("SessionSv1.GetActiveSessionsCount", {}) == 0
        [cdr] = eng.call("CDRsV1.GetCDRs", {"OriginIDs": ["sd1"]})
        assert Decimal(str(cdr["Cost"])) == Decimal("1.2") and cdr["Usage"] == 60 * 10**9
    finally:
        eng.kill()


def test_rate_cdrs_rerates_without_charging_twice(engine_http):
    set_only_monetary(engine_http, "1001", 10)
    ev = {"Flags": ["*rals"], "Tenant": "cgrates.org", "Event": {
        "ToR": "*voice", "OriginID": "rr1", "OriginHost": "pbx", "RequestType": "*postpaid", "Account": "1001",
        "Destination": "1004", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "60s"}}
    engine_http.call("CDRsV1.ProcessEvent", ev)
    assert balances(engine_http, "1001", "*monetary") == [Decimal("8.8")]
    [before] = engine_http.call("CDRsV1.GetCDRs", {"OriginIDs": ["rr1"]})
    assert engine_http.call("CDRsV1.RateCDRs", {"OriginIDs": ["rr1"], "Flags": ["*rerate"]}) == "OK"
    [after] = engine_http.call("CDRsV1.GetCDRs", {"OriginIDs": ["rr1"]})
    assert Decimal(str(after["Cost"])) == Decimal("1.2") and after["CGRID"] == before["CGRID"]
    # the first charge was given back before charging again: one call's worth taken in all
    assert sum(balances(engine_http, "1001", "*monetary")) == Decimal("8.8")


def test_disconnect_peer_reaches_the_connected_agent(tmp_path):
    eng = start_engine(tmp_path, "oldtutorial")
    try:
        asked: list[dict] = []

        async def run() -> str:
            class Agent:
                @rpc("AgentV1.DisconnectPeer")
                async def dpr(self, args):
                    asked.append(args)
                    return "OK"

            reg = Registry()
            reg.register_object(Agent())
            client = RPCClient(f"127.0.0.1:{eng.birpc_port}", dispatcher=Dispatcher(reg))
            try:
                assert await client.call("SessionSv1.RegisterInternalBiJSONConn", "") == "OK"
                return await client.call("SessionSv1.DisconnectPeer", {"OriginHost": "pcef1", "OriginRealm": "r",
                                                                       "DisconnectCause": 0})
            finally:
                await client.close()

        assert asyncio.run(run()) == "OK"
        assert asked == [{"OriginHost": "pcef1", "OriginRealm": "r", "DisconnectCause": 0}]
    finally:
        eng.kill()
