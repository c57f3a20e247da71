"""The Kamailio agent's side of every evapi event CGRateS's Kamailio scripts exchange, in an engine run from
tutorials/kamailio (config and tariff plan), against bare evapi listeners (tests/peers/kamailio.EvapiPeer) that
send what a test wants and read what the agent answers: authorization replies, call start and end with their
charge and CDR, messages, CDRs, the dialog list of SessionS's sync and of the re-sync after a reconnection, two
Kamailios at once, and 100,000 malformed frames and events."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pycgrates.agents.kamailio.agent import KamailioAgent
from pycgrates.agents.kamailio.evapi import frame
from pycgrates.engine.app import Engine
from pycgrates.engine.config import load_config
from pycgrates.engine.rpc.errors import RPCError
from tests.conftest import REPO, shared_data
from tests.engine_proc import make_config_dir
from tests.peers.kamailio import EvapiPeer

TUTORIAL = REPO / "tutorials" / "kamailio"
SECOND = 1_000_000_000


async def until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        await asyncio.sleep(0.02)


class Kam:
    """A bare evapi listener playing Kamailio's script: sends events, reads the agent's messages."""

    def __init__(self, peer: EvapiPeer, netstring_format: bool = True) -> None:
        self.peer = peer
        self.netstring_format = netstring_format
        self.dialogs: list[dict] = []   # what it answers CGR_DLG_LIST with (dlg.list's result)
        self.answered = 0

    async def send(self, event: dict) -> None:
        await self.peer.send(frame(json.dumps(event).encode(), self.netstring_format))

    def messages(self, name: str) -> list[dict]:
        return [m for m in self.peer.messages(self.netstring_format) if m.get("Event") == name]

    async def reply(self, name: str, count: int = 1, timeout: float = 10.0) -> dict:
        await until(lambda: len(self.messages(name)) >= count, timeout, f"{count} {name}")
        return self.messages(name)[count - 1]

    async def answer_dialog_lists(self) -> None:
        """Answer every CGR_DLG_LIST with the dialogs, as the script's CGR_DLG_LIST route does."""
        while True:
            asked = len(self.messages("CGR_DLG_LIST"))
            while self.answered < asked:
                self.answered += 1
                await self.send({"event": "CGR_DLG_LIST_REPLY",
                                 "jsonrpl_body": {"jsonrpc": "2.0", "id": 1, "result": self.dialogs}})
            await asyncio.sleep(0.01)


def dialog(origin_id: str) -> dict:
    return {"h_entry": 1, "h_id": 2, "call-id": origin_id.split(";")[0], "caller": {"tag": "t"},
            "variables": [{"cgrOriginID": origin_id}]}


def call_start(origin_id: str, account: str = "1001", h_entry: str = "3120", h_id: str = "9801",
               answered_ago: int = 0) -> dict:
    now = int(time.time())
    return {"event": "CGR_CALL_START", "h_entry": h_entry, "h_id": h_id, "cgr_flags": "*accounts",
            "OriginID": origin_id, "RequestType": "*prepaid", "Account": account, "Destination": "1002",
            "SetupTime": str(now - answered_ago - 2), "AnswerTime": str(now - answered_ago)}


def call_end(start: dict, usage: int) -> dict:
    return {**{k: v for k, v in start.items() if k not in ("h_entry", "h_id")}, "event": "CGR_CALL_END",
            "Usage": str(usage)}


class Rig:
    def __init__(self, engine: Engine, kams: list[Kam]) -> None:
        self.engine = engine
        self.kams = kams
        agent = engine.ctx.services.get("kamailio_agent")
        assert isinstance(agent, KamailioAgent)
        self.agent = agent

    async def call(self, method: str, args) -> object:
        return await self.engine.dispatcher.registry.dispatch(method, args)

    async def balance(self, account: str) -> Decimal:
        acc = await self.call("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": account})
        return sum((Decimal(str(b["Value"])) for b in acc["BalanceMap"].get("*monetary") or []), Decimal(0))

    async def cdrs(self, origin_id: str) -> list[dict]:
        try:
            return await self.call("CDRsV1.GetCDRs", {"OriginIDs": [origin_id]})
        except RPCError as exc:
            assert exc.message == "NOT_FOUND"
            return []

    async def one_cdr(self, origin_id: str) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not await self.cdrs(origin_id):
            assert loop.time() < deadline, f"no CDR of {origin_id}"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        [cdr] = await self.cdrs(origin_id)
        return cdr

    def tracked(self, origin_id: str) -> bool:
        return self.agent.tracked_call(origin_id) is not None


async def start_rig(tmp_path: Path, kams: list[Kam], engine: dict | None = None) -> Rig:
    conns = [{"address": k.peer.address, "reconnects": -1, "max_reconnect_interval": "200ms", "alias": f"kam{i}"}
             for i, k in enumerate(kams)]
    overrides = {
        "listen": {"rpc_json": "", "http": "", "birpc_json": ""},
        "data_db": {"opts": {"internalDBDumpPath": ""}}, "stor_db": {"opts": {"internalDBDumpPath": ""}},
        "sessions": {"channel_sync_interval": "0"},
        "kamailio_agent": {"evapi_conns": conns}}
    for section, values in (engine or {}).items():
        overrides[section] = {**overrides.get(section, {}), **values}
    cfg_dir = make_config_dir(tmp_path, TUTORIAL / "engine", overrides=overrides)
    engine = Engine(load_config(cfg_dir))
    await engine.start()
    rig = Rig(engine, kams)
    assert await rig.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(TUTORIAL / "tariffplan")}) == "OK"
    for kam in kams:
        await kam.peer.wait_clients()
    return rig


@pytest.fixture
async def kam():
    peer = EvapiPeer()
    await peer.start()
    yield Kam(peer)
    await peer.stop()


@pytest.fixture
async def rig(tmp_path, kam):
    r = await start_rig(tmp_path, [kam])
    yield r
    await r.engine.stop()


async def test_authorization_replies(rig, kam):
    now = str(int(time.time()))
    await kam.send({"event": "CGR_AUTH_REQUEST", "tr_index": "35215", "tr_label": "852221", "cgr_flags":
                    "*attributes;*accounts", "reply_route": "CGR_SESSIONAUTH_REPLY", "Account": "1001",
                    "Destination": "1002", "SetupTime": now})
    assert await kam.reply("CGR_SESSIONAUTH_REPLY") == {
        "Event": "CGR_SESSIONAUTH_REPLY", "TransactionIndex": "35215", "TransactionLabel": "852221",
        "Attributes": "RequestType:*prepaid", "ResourceAllocation": "", "MaxUsage": 5688, "Routes": "",
        "Thresholds": "", "StatQueues": "", "Error": ""}
    await kam.send({"event": "CGR_AUTH_REQUEST", "tr_index": "1", "tr_label": "2", "cgr_flags": "*attributes;*accounts",
                    "Account": "1004", "Destination": "1002", "SetupTime": now})
    refused = await kam.reply("CGR_AUTH_REPLY")                  # no reply_route: CGR_AUTH_REPLY
    assert (refused["MaxUsage"], refused["Error"], refused["TransactionIndex"]) == (0, "", "1")
    await kam.send({"event": "CGR_AUTH_REQUEST", "tr_index": "3", "tr_label": "4", "Account": "1001",
                    "Destination": "1002", "SetupTime": "not a time"})
    bad = await kam.reply("CGR_AUTH_REPLY", 2)
    assert bad["TransactionIndex"] == "3" and bad["Error"].startswith("SERVER_ERROR") and bad["MaxUsage"] == 0
    await kam.send({"event": "CGR_AUTH_REQUEST", "tr_index": "5", "tr_label": "6", "RequestType": "*none",
                    "Account": "1001"})
    await asyncio.sleep(0.3)
    assert len(kam.messages("CGR_AUTH_REPLY")) == 2              # *none: not ours, no answer (as CGRateS)


async def test_call_start_and_end_are_charged_once_with_their_cdr(rig, kam):
    start = call_start("call-1@10.0.0.1;from-tag", answered_ago=65)
    await kam.send(start)
    await until(lambda: rig.tracked(start["OriginID"]), what="the session")
    [session] = await rig.call("SessionSv1.GetActiveSessions", {})
    assert (session["OriginHost"], session["Account"]) == ("kam0", "1001")
    await kam.send(call_end(start, 65))
    cdr = await rig.one_cdr(start["OriginID"])
    assert (cdr["Usage"], cdr["Cost"], cdr["OriginHost"], cdr["Source"]) == (65 * SECOND, 0.6084, "kam0",
                                                                                "KamailioAgent")
    await kam.send(call_end(start, 65))                          # Kamailio sending its end twice: nothing more
    await asyncio.sleep(0.3)
    assert len(await rig.cdrs(start["OriginID"])) == 1 and await rig.balance("1001") == Decimal("9.3916")
    # a start that cannot be charged is ended at once
    await kam.send({**call_start("call-2"), "Account": ""})
    end = await kam.reply("CGR_SESSION_DISCONNECT")
    assert end == {"Event": "CGR_SESSION_DISCONNECT", "HashEntry": "3120", "HashId": "9801",
                   "Reason": "MANDATORY_IE_MISSING: [Account]"}


async def test_disconnect_and_channel_sync_go_through_the_dialogs(rig, kam):
    answering = asyncio.ensure_future(kam.answer_dialog_lists())
    try:
        kept, gone = call_start("kept-1", h_entry="11", h_id="12"), call_start("gone-1", "1002", "21", "22")
        for start in (kept, gone):
            await kam.send(start)
            await until(lambda s=start: rig.tracked(s["OriginID"]))
        kam.dialogs = [dialog("kept-1")]
        ids = await rig.agent.get_active_session_ids("")
        assert ids == [{"OriginHost": "kam0", "OriginID": "kept-1"}]
        assert await rig.call("SessionSv1.SyncSessions", "") == "OK"
        assert [s["OriginID"] for s in await rig.call("SessionSv1.GetActiveSessions", {})] == ["kept-1"]
        assert (await rig.one_cdr("gone-1"))["Account"] == "1002"
        assert await rig.call("SessionSv1.ForceDisconnect", {"Filters": ["*string:~*req.OriginID:kept-1"]}) == "OK"
        assert await kam.reply("CGR_SESSION_DISCONNECT") == {
            "Event": "CGR_SESSION_DISCONNECT", "HashEntry": "11", "HashId": "12", "Reason": "FORCED_DISCONNECT"}
    finally:
        answering.cancel()


async def test_sessions_are_resynced_after_the_connection_comes_back(rig, kam, caplog):
    caplog.set_level(logging.INFO)
    answering = asyncio.ensure_future(kam.answer_dialog_lists())
    try:
        alive, ended = call_start("alive-1", h_entry="1"), call_start("ended-1", "1002", "2")
        for start in (alive, ended):
            await kam.send(start)
            await until(lambda s=start: rig.tracked(s["OriginID"]))
        await asyncio.sleep(1.0)
        kam.dialogs = [dialog("alive-1")]         # ended-1's CGR_CALL_END was lost with the connection
        kam.peer.drop_clients()
        await until(lambda: kam.peer.accepted == 2, what="the reconnection")
        cdr = await rig.one_cdr("ended-1")
        assert (cdr["Cost"], cdr["ExtraFields"].get("DisconnectCause")) == (0.6, "SWITCH_DISCONNECT")
        assert 1 * SECOND <= cdr["Usage"] < 2 * SECOND  # up to when the connection was lost
        assert rig.tracked("alive-1") and not rig.tracked("ended-1")
        await kam.send(call_end(alive, 3))
        assert (await rig.one_cdr("alive-1"))["Cost"] == 0.6
        assert await rig.balance("1001") == Decimal("9.4") and await rig.balance("1002") == Decimal("9.4")
    finally:
        answering.cancel()


async def test_messages_and_cdrs(rig, kam):
    now = str(int(time.time()))
    await kam.send({"event": "CGR_PROCESS_MESSAGE", "tr_index": "7", "tr_label": "8", "reply_route": "MSG_REPLY",
                    "Account": "1001"})
    assert (await kam.reply("MSG_REPLY"))["Error"] == ""        # no cgr_flags: a ping, answered empty
    await kam.send({"event": "CGR_PROCESS_EVENT", "tr_index": "9", "tr_label": "10", "cgr_flags": "*accounts",
                    "OriginID": "msg-1", "RequestType": "*prepaid", "Account": "1001", "Destination": "1002",
                    "AnswerTime": now,
                    "Usage": "30"})
    charged = await kam.reply("CGR_PROCESS_EVENT")
    assert (charged["TransactionIndex"], charged["MaxUsage"], charged["Error"]) == ("9", 30, "")
    await kam.send({"event": "CGR_PROCESS_MESSAGE", "tr_index": "11", "tr_label": "12", "cgr_flags": "*accounts",
                    "Account": "1001"})
    missing = await kam.reply("CGR_PROCESS_MESSAGE", 1)
    assert missing["Error"] == "MANDATORY_IE_MISSING: [OriginID]"
    await kam.send({"event": "CGR_PROCESS_CDR", "tr_index": "13", "tr_label": "14", "OriginID": "cdr-1",
                    "RequestType": "*postpaid", "Account": "1002", "Destination": "1001", "AnswerTime": now,
                    "Usage": "61"})
    assert (await kam.reply("CGR_PROCESS_CDR"))["Error"] == ""
    cdr = await rig.one_cdr("cdr-1")
    assert (cdr["Usage"], cdr["Cost"]) == (61 * SECOND, 0.6017)  # 0.60 + a second at 0.00167, rounded up
    assert await rig.balance("1001") == Decimal("9.4")           # the message's 30 s


async def test_two_kamailios_at_once(tmp_path, kam):
    other = Kam(EvapiPeer())
    await other.peer.start()
    rig = await start_rig(tmp_path, [kam, other])
    try:
        a, b = call_start("a-1", h_entry="1", h_id="1"), call_start("b-1", "1002", h_entry="2", h_id="2")
        await kam.send(a)
        await other.send(b)
        await until(lambda: rig.tracked("a-1") and rig.tracked("b-1"))
        hosts = {s["OriginID"]: s["OriginHost"] for s in await rig.call("SessionSv1.GetActiveSessions", {})}
        assert hosts == {"a-1": "kam0", "b-1": "kam1"}
        await rig.call("SessionSv1.ForceDisconnect", {"Filters": ["*string:~*req.OriginID:b-1"]})
        assert (await other.reply("CGR_SESSION_DISCONNECT"))["HashEntry"] == "2"
        await asyncio.sleep(0.2)
        assert kam.messages("CGR_SESSION_DISCONNECT") == []      # only the Kamailio that has the dialog
    finally:
        await rig.engine.stop()
        await other.peer.stop()


COUNT = 100_000


def malformed(i: int) -> bytes:
    """Frames that cannot be used: not JSON events, events the agent does not know or cannot answer."""
    return [
        b"not json",
        b'{"event":"CGR_NO_SUCH_EVENT"}',
        b'{"event":"CGR_AUTH_REQUEST","Account":"1001"}',                 # no transaction to resume
        b'{"event":"CGR_CALL_START","OriginID":"x","Account":"1001"}',    # no dialog to end
        b'{"event":"CGR_CALL_END","OriginID":"x"}',                       # nothing to charge
        b'{"event":"CGR_PROCESS_CDR","OriginID":"x"}',                    # no transaction to answer
    ][i % 6]


@pytest.mark.parametrize("netstring_format", [True, False], ids=["netstring", "bare"])
async def test_100k_malformed_frames_leave_the_agent_and_its_connection_working(tmp_path, caplog,
                                                                               netstring_format):
    caplog.set_level(logging.INFO)
    kam = Kam(EvapiPeer(), netstring_format)
    await kam.peer.start()
    rig = await start_rig(tmp_path, [kam])
    try:
        [client] = rig.agent.clients
        stream = b"".join(frame(malformed(i), netstring_format) for i in range(COUNT))
        if not netstring_format:   # a bare stream is JSON documents only: text that is none breaks it
            stream = b"".join(frame(malformed(i), False) for i in range(COUNT) if i % 6)
        expected = COUNT if netstring_format else COUNT - len(range(0, COUNT, 6))
        await kam.peer.send(stream)
        await kam.send({"event": "CGR_AUTH_REQUEST", "tr_index": "1", "tr_label": "1", "Account": "1001",
                        "cgr_flags": "*attributes;*accounts", "Destination": "1002",
                        "SetupTime": str(int(time.time()))})
        assert (await kam.reply("CGR_AUTH_REPLY", timeout=60))["MaxUsage"] == 5688
        assert client.malformed == expected and kam.peer.accepted == 1
        lines = [r.getMessage() for r in caplog.records if "skipped malformed" in r.getMessage()]
        assert 1 <= len(lines) <= 10 and all(client.name in line for line in lines)
        assert client.name == f"Kamailio {kam.peer.address} (kam0)"
        await kam.peer.send(b"}}}" if not netstring_format else b"abc:{},")   # a broken stream
        await until(lambda: kam.peer.accepted == 2 and client.connected, what="the reconnection")
        kam.peer.received.clear()
        await kam.send({"event": "CGR_AUTH_REQUEST", "tr_index": "2", "tr_label": "2", "Account": "1001",
                        "Destination": "1002", "SetupTime": str(int(time.time()))})
        assert (await kam.reply("CGR_AUTH_REPLY"))["TransactionIndex"] == "2"
    finally:
        await rig.engine.stop()
        await kam.peer.stop()


async def test_resources_and_routes_in_the_auth_reply(tmp_path, kam):
    reference = shared_data("tariffplans", "tutorial")
    rig = await start_rig(tmp_path, [kam], engine={
        "resources": {"enabled": True, "string_indexed_fields": ["*req.Account"]},
        "routes": {"enabled": True, "rals_conns": ["*internal"], "resources_conns": ["*internal"],
                   "string_indexed_fields": ["*req.Account"]},
        "sessions": {"resources_conns": ["*internal"], "routes_conns": ["*internal"]}})
    try:
        assert await rig.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(reference)}) == "OK"
        await kam.send({"event": "CGR_AUTH_REQUEST", "tr_index": "1", "tr_label": "2", "OriginID": "res-1",
                        "cgr_flags": "*resources;*routes;*accounts", "RequestType": "*prepaid", "Account": "1001",
                        "Destination": "1002", "SetupTime": str(int(time.time()))})
        reply = await kam.reply("CGR_AUTH_REPLY")
        # CGRateS's tutorial: ResGroup1 allocated; ROUTE_ACNT_1001 sorts its routes by weight
        assert (reply["ResourceAllocation"], reply["Routes"], reply["Error"]) == ("ResGroup1", "route2,route1", "")
    finally:
        await rig.engine.stop()


async def test_cgrates_kamevapi_config_runs_the_agent(tmp_path):
    """CGRateS's own engine config of its kamevapi tutorial: the agent takes its kamailio_agent section."""
    reference = shared_data("tutorial_tests", "kamevapi", "cgrates", "etc", "cgrates")
    cfg_dir = make_config_dir(tmp_path, reference, overrides={
        "listen": {"rpc_json": "", "http": "", "birpc_json": ""},
        "data_db": {"opts": {"internalDBDumpPath": ""}}, "stor_db": {"opts": {"internalDBDumpPath": ""}}})
    engine = Engine(load_config(cfg_dir))
    await engine.start()
    try:
        agent = engine.ctx.services["kamailio_agent"]
        [conn] = agent.settings.conns
        assert (conn.address, conn.origin_host, conn.backoff.reconnects) == ("127.0.0.1:8448", "127.0.0.1:8448", 5)
        assert agent.settings.create_cdr and agent.settings.dlg_list_timeout == 5.0
        assert len(agent.clients) == 1
    finally:
        await engine.stop()
