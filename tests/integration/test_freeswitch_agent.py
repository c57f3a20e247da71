"""The FreeSWITCH agent in an engine run from tutorials/freeswitch (its config, tariff plan and user directory),
against FreeSWITCH event-socket peers (tests/peers/freeswitch.py, written from the event-socket documentation,
running the tutorial's dialplan): park → authorize → unpark, answer, hangup with its charge and its one CDR, a
call refused for want of credit, a call outliving its credit, SessionS's disconnect, its channel sync, two
FreeSWITCH servers at once, a FreeSWITCH restart and a network failure mid-call, 100,000 malformed events, and
the agent's CDR beside FreeSWITCH's own JSON CDR."""

from __future__ import annotations

import asyncio
import json
import logging
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from pycgrates.agents.freeswitch.agent import FreeSWITCHAgent
from pycgrates.engine.app import Engine
from pycgrates.engine.config import load_config
from pycgrates.engine.rpc.errors import RPCError
from tests.conftest import REPO, shared_data
from tests.engine_proc import free_port, make_config_dir
from tests.peers.freeswitch import Channel, FreeSWITCHPeer

TUTORIAL = REPO / "tutorials" / "freeswitch"
SECOND = 1_000_000_000


def directory_variables(user: str) -> dict[str, str]:
    """The channel variables the tutorial's user directory gives ``user``'s calls."""
    root = ET.parse(TUTORIAL / "freeswitch" / "directory" / "default" / f"{user}.xml").getroot()
    return {v.get("name", ""): v.get("value", "") for v in root.iter("variable")
            if v.get("name", "").startswith("cgr_")}


def user_call(fs: FreeSWITCHPeer, caller: str, destination: str = "1002") -> Channel:
    return fs.add_channel(caller, destination, **directory_variables(caller))


async def until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        await asyncio.sleep(0.02)


class Rig:
    """An engine on the tutorial's config and tariff plan, its FreeSWITCH agent dialling the ``peers``."""

    def __init__(self, engine: Engine, peers: list[FreeSWITCHPeer]) -> None:
        self.engine = engine
        self.peers = peers
        agent = engine.ctx.services.get("freeswitch_agent")
        assert isinstance(agent, FreeSWITCHAgent)
        self.agent = agent

    async def call(self, method: str, args) -> object:
        return await self.engine.dispatcher.registry.dispatch(method, args)

    async def balance(self, account: str) -> Decimal:
        acc = await self.call("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": account})
        return sum((Decimal(str(b["Value"])) for b in acc["BalanceMap"].get("*monetary") or []), Decimal(0))

    async def cdrs(self, channel: Channel) -> list[dict]:
        try:
            return await self.call("CDRsV1.GetCDRs", {"OriginIDs": [channel.uuid]})
        except RPCError as exc:
            assert exc.message == "NOT_FOUND"
            return []

    async def one_cdr(self, channel: Channel, timeout: float = 10.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (cdrs := await self.cdrs(channel)):
            if loop.time() > deadline:
                raise TimeoutError(f"no CDR of {channel.uuid}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # a second one would be here by now
        cdrs = await self.cdrs(channel)
        assert len(cdrs) == 1, cdrs
        return cdrs[0]

    async def active(self) -> list[dict]:
        try:
            return await self.call("SessionSv1.GetActiveSessions", {})
        except RPCError as exc:
            assert exc.message == "NOT_FOUND"
            return []

    async def answered(self, fs: FreeSWITCHPeer, channel: Channel, seconds_ago: float = 0) -> None:
        """Answer ``channel`` and wait for its session; ``seconds_ago`` backdates the answer (a longer call)."""
        fs.answer(channel)
        channel.answered_us -= int(seconds_ago * 1_000_000)
        await until(lambda: self.tracked(channel), what=f"session of {channel.uuid}")

    def tracked(self, channel: Channel) -> bool:
        return any(t.key[1] == channel.uuid for t in self.agent.tracked)


async def start_rig(tmp_path: Path, peers: list[FreeSWITCHPeer], http_port: int = 0,
                    engine: dict | None = None, **agent_options) -> Rig:
    conns = [{"address": fs.address, "password": "ClueCon", "reconnects": -1, "max_reconnect_interval": "200ms",
              "alias": f"fs{i}"} for i, fs in enumerate(peers)]
    overrides = {
        "listen": {"rpc_json": "", "http": f"127.0.0.1:{http_port}" if http_port else "", "birpc_json": ""},
        "data_db": {"opts": {"internalDBDumpPath": ""}}, "stor_db": {"opts": {"internalDBDumpPath": ""}},
        "sessions": {"channel_sync_interval": "0"},  # the tests sync when they mean to
        "freeswitch_agent": {"event_socket_conns": conns, **agent_options},
    }
    for section, values in (engine or {}).items():
        overrides[section] = {**overrides.get(section, {}), **values}
    cfg_dir = make_config_dir(tmp_path, TUTORIAL / "engine", overrides=overrides)
    engine = Engine(load_config(cfg_dir))
    await engine.start()
    rig = Rig(engine, peers)
    assert await rig.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(TUTORIAL / "tariffplan")}) == "OK"
    return rig


@pytest.fixture
async def fs():
    peer = FreeSWITCHPeer(hostname="fs-a")
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
async def rig(tmp_path, fs):
    r = await start_rig(tmp_path, [fs])
    yield r
    await r.engine.stop()


def commands(fs: FreeSWITCHPeer, channel: Channel) -> list[str]:
    """The api commands FreeSWITCH got about ``channel``, its UUID written <uuid>."""
    return [c.replace(channel.uuid, "<uuid>") for c in fs.api_log if channel.uuid in c]


async def test_authorized_call_is_unparked_answered_charged_and_gets_one_cdr(rig, fs):
    call = user_call(fs, "1001")
    assert fs.park(call) == 1
    await until(lambda: call.routed, what="unpark")
    # 10.00 at the tutorial's rate: 0.60 the first minute, then 0.00167 a second (0.10 a minute, each second
    # rounded to 5 decimals): 60 + 5628 seconds
    assert commands(fs, call) == [
        "uuid_setvar <uuid> RequestType *prepaid",
        "uuid_setvar <uuid> cgr_max_usage 5688",
        "uuid_setvar <uuid> execute_on_answer sched_hangup +5688 ALLOTTED_TIMEOUT",
        "uuid_setvar <uuid> cgr_notify AUTH_OK",
        "uuid_transfer <uuid> 1002",
    ]
    await rig.answered(fs, call, seconds_ago=65)
    [session] = await rig.active()
    assert (session["OriginID"], session["OriginHost"], session["Account"]) == (call.uuid, "fs0", "1001")
    assert call.variables["cgr_originhost"] == "fs0"
    assert fs.hangup(call) == 1
    cdr = await rig.one_cdr(call)
    # 65 s: 0.40 + 0.20 + 5 s at 0.10 a minute, rounded up to 4 decimals
    assert (cdr["RunID"], cdr["Usage"], cdr["Cost"]) == ("*default", 65 * SECOND, 0.6084)
    assert (cdr["OriginHost"], cdr["Account"], cdr["Destination"], cdr["RequestType"]) == (
        "fs0", "1001", "1002", "*prepaid")
    assert await rig.balance("1001") == Decimal("9.3916")
    assert await rig.active() == [] and not rig.tracked(call)


async def test_call_without_credit_is_refused_before_it_rings(rig, fs):
    call = user_call(fs, "1004")
    fs.park(call)
    await until(lambda: call.uuid not in fs.channels, what="refusal")
    assert not call.routed and call.answered_us == 0
    assert call.hangup_cause == "OUTGOING_CALL_BARRED"          # the tutorial dialplan: SIP 403
    assert commands(fs, call)[-2:] == ["uuid_setvar <uuid> cgr_notify INSUFFICIENT_CREDIT", "uuid_transfer <uuid> 1002"]
    cdr = await rig.one_cdr(call)                               # create_cdr: the attempt is recorded, free
    assert (cdr["Usage"], cdr["Cost"], cdr["ExtraFields"]["DisconnectCause"]) == (0, 0, "OUTGOING_CALL_BARRED")
    assert await rig.balance("1004") == 0 and await rig.active() == []

    stranger = fs.add_channel("1099", "1002", cgr_reqtype="*prepaid", cgr_flags="*accounts")
    fs.park(stranger)
    await until(lambda: stranger.uuid not in fs.channels, what="refusal")
    assert stranger.variables["cgr_notify"].startswith("SERVER_ERROR") or "NOT_FOUND" in stranger.variables[
        "cgr_notify"]
    assert stranger.hangup_cause == "NORMAL_TEMPORARY_FAILURE"   # any other refusal: SIP 503


async def test_call_outliving_its_credit_ends_after_exactly_what_it_could_pay(rig, fs):
    call = user_call(fs, "1003")                                 # 0.07 at 0.01 a second
    fs.park(call)
    await until(lambda: call.routed, what="unpark")
    assert call.variables["cgr_max_usage"] == "7"
    await rig.answered(fs, call)
    await until(lambda: call.uuid not in fs.channels, timeout=12, what="the end of the credit")
    cdr = await rig.one_cdr(call)
    assert (cdr["Usage"], cdr["Cost"]) == (7 * SECOND, 0.07)
    assert await rig.balance("1003") == 0
    assert await rig.active() == []


async def test_disconnect_from_sessions_kills_the_channel(rig, fs):
    call = user_call(fs, "1001")
    fs.park(call)
    await until(lambda: call.routed)
    await rig.answered(fs, call, seconds_ago=30)
    assert await rig.call("SessionSv1.ForceDisconnect", {"Filters": [f"*string:~*req.OriginID:{call.uuid}"]}) == "OK"
    await until(lambda: call.uuid not in fs.channels, what="the disconnect")
    assert commands(fs, call)[-2:] == ["uuid_setvar <uuid> cgr_notify FORCED_DISCONNECT",
                                       "uuid_kill <uuid> MANAGER_REQUEST"]
    cdr = await rig.one_cdr(call)
    assert (cdr["Usage"], cdr["Cost"], cdr["ExtraFields"]["DisconnectCause"]) == (30 * SECOND, 0.6, "MANAGER_REQUEST")
    assert await rig.balance("1001") == Decimal("9.4")
    # a channel FreeSWITCH does not have: SessionS hears why
    with pytest.raises(RPCError, match="No such channel"):
        await rig.agent.disconnect_session({"EventStart": {"OriginID": call.uuid, "FsConnID": 0},
                                            "Reason": "FORCED_DISCONNECT"})


async def test_out_of_credit_goes_to_the_empty_balance_context_and_low_balance_is_announced(tmp_path, fs):
    rig = await start_rig(tmp_path, [fs], empty_balance_context="cgrates_no_credit")
    try:
        call = user_call(fs, "1003")
        fs.park(call)
        await until(lambda: call.routed)
        assert call.variables["execute_on_answer"] == "sched_transfer +7 1002 XML cgrates_no_credit"
        await rig.answered(fs, call)
        await until(lambda: call.context == "cgrates_no_credit", timeout=12, what="the transfer")
        assert call.uuid in fs.channels                          # the context's dialplan ends it, not the agent
        assert await rig.agent.warn_disconnect({"OriginID": call.uuid, "FsConnID": 0}) == "OK"
        assert call.played == ["tone_stream://%(200,100,440)"]   # the tutorial's low_balance_ann_file
        fs.hangup(call, "NORMAL_CLEARING")
        cdr = await rig.one_cdr(call)
        assert cdr["Cost"] == 0.07 and await rig.balance("1003") == 0
    finally:
        await rig.engine.stop()


async def test_out_of_credit_with_an_announcement_plays_it_and_hangs_up(tmp_path, fs):
    rig = await start_rig(tmp_path, [fs], empty_balance_ann_file="/sounds/no_credit.wav")
    try:
        call = user_call(fs, "1003")
        fs.park(call)
        await until(lambda: call.routed)
        assert call.variables["execute_on_answer"] == (
            "sched_broadcast +7 playback!manager_request::/sounds/no_credit.wav aleg")
        await rig.answered(fs, call)
        await until(lambda: call.uuid not in fs.channels, timeout=12, what="the end of the credit")
        assert call.played[0] == "/sounds/no_credit.wav" and call.hangup_cause == "MANAGER_REQUEST"
        assert (await rig.one_cdr(call))["Cost"] == 0.07 and await rig.balance("1003") == 0
    finally:
        await rig.engine.stop()


async def test_without_park_calls_are_charged_from_their_answer(tmp_path, fs):
    rig = await start_rig(tmp_path, [fs], subscribe_park=False,
                          extra_fields=["~*req.variable_sip_user_agent", "~*req.Caller-Caller-ID-Name"])
    try:
        assert fs.authed_sessions()[0].events == {"CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB"}
        call = user_call(fs, "1001")
        assert fs.park(call) == 0                                # not subscribed: FreeSWITCH does not send it
        await rig.answered(fs, call, seconds_ago=20)
        # nothing armed at park: the hangup after what InitiateSession granted (3h ahead, debited 5 s at a time)
        assert commands(fs, call) == ["uuid_setvar <uuid> cgr_originhost fs0",
                                      "sched_hangup +10800 <uuid> ALLOTTED_TIMEOUT"]
        fs.hangup(call)
        cdr = await rig.one_cdr(call)
        assert cdr["Cost"] == 0.6
        assert cdr["ExtraFields"]["variable_sip_user_agent"] == "sipp (test)"
        assert cdr["ExtraFields"]["Caller-Caller-ID-Name"] == "1001"
    finally:
        await rig.engine.stop()


async def test_channel_sync_ends_the_sessions_freeswitch_no_longer_has(rig, fs):
    kept, vanished = user_call(fs, "1001"), user_call(fs, "1002", "1001")
    for call in (kept, vanished):
        fs.park(call)
        await until(lambda c=call: c.routed)
        await rig.answered(fs, call)
    ids = await rig.agent.get_active_session_ids("")
    assert {(i["OriginHost"], i["OriginID"]) for i in ids} == {("fs0", kept.uuid), ("fs0", vanished.uuid)}
    del fs.channels[vanished.uuid]                               # its hangup never reached the agent
    assert await rig.call("SessionSv1.SyncSessions", "") == "OK"
    assert [s["OriginID"] for s in await rig.active()] == [kept.uuid]
    cdr = await rig.one_cdr(vanished)
    assert cdr["Account"] == "1002"
    fs.hangup(kept)
    await rig.one_cdr(kept)
    assert await rig.active() == []


async def test_two_freeswitch_servers_at_once(tmp_path, fs):
    other = FreeSWITCHPeer(hostname="fs-b")
    await other.start()
    rig = await start_rig(tmp_path, [fs, other])
    try:
        a, b = user_call(fs, "1001"), user_call(other, "1002", "1001")
        for peer, call in ((fs, a), (other, b)):
            peer.park(call)
            await until(lambda c=call: c.routed)
            await rig.answered(peer, call, seconds_ago=10)
        assert not commands(other, a) and not commands(fs, b)    # each call's commands went to its own switch
        assert {(s["OriginHost"], s["OriginID"]) for s in await rig.active()} == {("fs0", a.uuid), ("fs1", b.uuid)}
        ids = await rig.agent.get_active_session_ids("")
        assert {(i["OriginHost"], i["OriginID"]) for i in ids} == {("fs0", a.uuid), ("fs1", b.uuid)}
        await rig.call("SessionSv1.ForceDisconnect", {"Filters": [f"*string:~*req.OriginID:{b.uuid}"]})
        await until(lambda: b.uuid not in other.channels)
        assert "uuid_kill <uuid> MANAGER_REQUEST" in commands(other, b) and a.uuid in fs.channels
        fs.hangup(a)
        for call in (a, b):
            assert (await rig.one_cdr(call))["Cost"] == 0.6
    finally:
        await rig.engine.stop()
        await other.stop()


async def test_freeswitch_restart_and_network_failure_mid_call_charge_each_call_once(tmp_path, fs, caplog):
    caplog.set_level(logging.INFO)
    other = FreeSWITCHPeer(hostname="fs-b")
    await other.start()
    rig = await start_rig(tmp_path, [fs, other])
    try:
        lost, survivor, blip = user_call(fs, "1001"), user_call(other, "1002", "1001"), user_call(other, "1001")
        for peer, call in ((fs, lost), (other, survivor), (other, blip)):
            peer.park(call)
            await until(lambda c=call: c.routed)
            await rig.answered(peer, call)
        await asyncio.sleep(1.0)
        await fs.restart(downtime=0.5)          # its calls are gone with it, their hangups never sent
        other.drop_connections()                # a network failure: the calls go on
        await until(lambda: fs.accepted == 2 and other.accepted == 2 and all(c.connected for c in rig.agent.clients),
                    what="both reconnected")
        cdr = await rig.one_cdr(lost)           # ended by the agent's re-sync after the restart
        assert cdr["ExtraFields"]["DisconnectCause"] == "SWITCH_DISCONNECT" and cdr["Cost"] == 0.6
        assert 1 * SECOND <= cdr["Usage"] < 2 * SECOND   # charged up to when the connection was lost
        assert {s["OriginID"] for s in await rig.active()} == {survivor.uuid, blip.uuid}
        assert await rig.cdrs(survivor) == [] and await rig.cdrs(blip) == []
        other.hangup(survivor)
        other.hangup(blip)
        for call in (survivor, blip):
            assert (await rig.one_cdr(call))["Cost"] == 0.6
        assert await rig.active() == []
        # 10.00 - 0.60 for each of 1001's two calls, 1002's one call once
        assert await rig.balance("1001") == Decimal("8.8") and await rig.balance("1002") == Decimal("9.4")
        assert any("fs0" in r.getMessage() and "reconnected" in r.getMessage() for r in caplog.records)
    finally:
        await rig.engine.stop()
        await other.stop()


async def test_reload_keeps_the_connections_or_dials_the_new_list(tmp_path, fs):
    rig = await start_rig(tmp_path, [fs])
    other = FreeSWITCHPeer(hostname="fs-b")
    await other.start()
    try:
        overrides = tmp_path / "etc" / "zz_test_overrides.json"
        data = json.loads(overrides.read_text())
        data["freeswitch_agent"]["low_balance_ann_file"] = "/sounds/low.wav"
        overrides.write_text(json.dumps(data))
        assert "freeswitch_agent" in await rig.engine.reload()
        assert fs.accepted == 1 and rig.agent.settings.low_balance_ann_file == "/sounds/low.wav"  # kept
        call = user_call(fs, "1001")
        fs.park(call)
        await until(lambda: call.routed)
        await rig.answered(fs, call, seconds_ago=10)
        data["freeswitch_agent"]["event_socket_conns"].append(
            {"address": other.address, "password": "ClueCon", "reconnects": -1, "alias": "fs1"})
        overrides.write_text(json.dumps(data))
        await rig.engine.reload()
        assert fs.accepted == 2 and other.accepted == 1 and len(rig.agent.clients) == 2   # dialled again
        assert rig.tracked(call)                                 # its session goes on: FreeSWITCH still has it
        fs.hangup(call)
        assert (await rig.one_cdr(call))["Cost"] == 0.6
    finally:
        await rig.engine.stop()
        await other.stop()


COUNT = 100_000


def malformed_event(i: int) -> bytes:
    """Events that frame and parse, but no call can be charged from."""
    headers = [
        "Event-Name: CHANNEL_ANSWER\nCall-Direction: inbound\n",                       # no Unique-ID
        f"Event-Name: CHANNEL_PARK\nCall-Direction: inbound\nUnique-ID: bad-{i}\n"
        "Caller-Channel-Created-Time: yesterday\n",                                   # an unreadable time
        f"Event-Name: CHANNEL_HANGUP_COMPLETE\nCall-Direction: inbound\nUnique-ID: bad-{i}\n"
        "Caller-Channel-Created-Time: 12\n",                                          # a time too short
    ][i % 3].encode()
    body = headers + b"\n"
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(body), body)


async def test_100k_malformed_events_leave_the_agent_and_its_connection_working(rig, fs, caplog):
    caplog.set_level(logging.INFO)
    [client] = rig.agent.clients
    fs.send_raw(b"".join(malformed_event(i) for i in range(COUNT)))
    call = user_call(fs, "1001")
    fs.park(call)
    await until(lambda: call.routed, timeout=60, what="a good call after the bad events")
    assert client.malformed == COUNT and fs.accepted == 1
    lines = [r.getMessage() for r in caplog.records if "skipped malformed event" in r.getMessage()]
    assert 1 <= len(lines) <= 10 and all(client.name in line for line in lines)
    assert client.name == f"FreeSWITCH {fs.address} (fs0)"
    # a stream that cannot be read: the connection is dropped, dialled again, and serves calls
    fs.send_raw(b"Content-Length: many\n\n")
    await until(lambda: fs.accepted == 2 and client.connected, what="the reconnection")
    await rig.answered(fs, call, seconds_ago=5)
    fs.hangup(call)
    assert (await rig.one_cdr(call))["Cost"] == 0.6


async def test_agent_cdr_and_freeswitch_json_cdr_name_the_same_call(tmp_path, fs):
    http_port = free_port()
    rig = await start_rig(tmp_path, [fs], http_port=http_port)
    try:
        call = user_call(fs, "1001")
        fs.park(call)
        await until(lambda: call.routed)
        await rig.answered(fs, call, seconds_ago=20)
        fs.hangup(call)
        cdr = await rig.one_cdr(call)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{http_port}/freeswitch_json", json=fs.json_cdr(call)) as rep:
                assert (rep.status, (await rep.text()).strip()) == (409, "EXISTS")
        assert await rig.one_cdr(call) == cdr
        assert await rig.balance("1001") == Decimal("9.4")
    finally:
        await rig.engine.stop()


#: ResourceS and RouteS on, as CGRateS's fs_evsock tutorial has them
WITH_RESOURCES_AND_ROUTES = {
    "resources": {"enabled": True, "string_indexed_fields": ["*req.Account"]},
    "routes": {"enabled": True, "rals_conns": ["*internal"], "resources_conns": ["*internal"],
               "string_indexed_fields": ["*req.Account"]},
    "sessions": {"resources_conns": ["*internal"], "routes_conns": ["*internal"]},
}


async def test_resources_and_routes_are_written_on_the_channel(tmp_path, fs):
    reference = shared_data("tariffplans", "tutorial")
    rig = await start_rig(tmp_path, [fs], engine=WITH_RESOURCES_AND_ROUTES)
    try:
        assert await rig.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(reference)}) == "OK"
        call = fs.add_channel("1001", "1002", cgr_reqtype="*prepaid", cgr_flags="*resources;*routes;*accounts")
        fs.park(call)
        await until(lambda: call.routed)
        # CGRateS's tutorial: ResGroup1 allocated; ROUTE_ACNT_1001 sorts its routes by weight
        assert call.variables["cgr_resource_allocation"] == "ResGroup1"
        assert call.variables["cgr_routes"] == "ARRAY::2|:route2|:route1"
    finally:
        await rig.engine.stop()


async def test_cgrates_fs_evsock_config_runs_the_agent(tmp_path):
    """CGRateS's own engine config of its fs_evsock tutorial: the agent takes its freeswitch_agent section."""
    reference = shared_data("tutorial_tests", "fs_evsock", "cgrates", "etc", "cgrates")
    cfg_dir = make_config_dir(tmp_path, reference, overrides={
        "listen": {"rpc_json": "", "http": "", "birpc_json": ""},
        "data_db": {"opts": {"internalDBDumpPath": ""}}, "stor_db": {"opts": {"internalDBDumpPath": ""}}})
    engine = Engine(load_config(cfg_dir))
    await engine.start()
    try:
        agent = engine.ctx.services["freeswitch_agent"]
        [conn] = agent.settings.conns
        assert (conn.address, conn.origin_host, conn.backoff.reconnects, conn.option("password")) == (
            "127.0.0.1:8021", "127.0.0.1:8021", -1, "ClueCon")
        assert agent.settings.create_cdr and agent.settings.subscribe_park
        assert len(agent.clients) == 1          # dialled (in the background while no FreeSWITCH listens there)
    finally:
        await engine.stop()
