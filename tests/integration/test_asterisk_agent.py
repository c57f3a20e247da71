"""The Asterisk agent in the Asterisk tutorial's engine, against an ARI server played from Asterisk's ARI documentation
(tests/peers/asterisk.py) over a real WebSocket and real HTTP.

The tariff plan is tutorials/asterisk/tariffplan: extension calls 0.05 to connect then 0.01 a second; 1001 has
10.00, 1002 0.08 (the connect fee and three seconds), 1003 nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import pytest

from tests.peers.asterisk import AsteriskPeer
from tests.tutorial_engine import TUTORIALS, call, cdrs, monetary, start_tutorial_engine

TUTORIAL = TUTORIALS / "asterisk"
T0 = 1_700_000_000.0
ARGS = ["cgr_reqtype=*prepaid", "cgr_flags=*accounts+*attributes"]


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


async def start(tmp_path, peer: AsteriskPeer, ari_websocket: bool = False, **sessions):
    await peer.start()
    conn = {"address": peer.address, "user": "cgrates", "password": "CGRateS.org", "connect_attempts": 3,
            "reconnects": -1, "max_reconnect_interval": "200ms", "ari_websocket": ari_websocket}
    engine = await start_tutorial_engine(tmp_path, TUTORIAL / "engine", TUTORIAL / "tariffplan",
                                         {"asterisk_agent": {"asterisk_conns": [conn]}, "sessions": sessions})
    await peer.wait_connected()
    return engine


def agent_of(engine):
    return next(svc for section, svc in engine.services if section == "asterisk_agent")


async def active(engine) -> list:
    try:
        return await call(engine, "SessionSv1.GetActiveSessions", {})
    except Exception:
        return []


async def the_cdr(engine, origin_id: str) -> dict:
    async def written() -> bool:
        return bool(await cdrs(engine, origin_id))

    await until(written)
    [cdr] = await cdrs(engine, origin_id)
    return cdr


@pytest.mark.parametrize("ari_websocket", [False, True], ids=["rest-over-http", "rest-over-websocket"])
async def test_authorize_start_end_with_cdr_and_exact_cost(tmp_path, ari_websocket):
    clock = Clock()
    peer = AsteriskPeer(clock=clock)
    engine = await start(tmp_path, peer, ari_websocket)
    try:
        assert peer.event_filters["cgrates_auth"]["allowed"][0] == {"type": "StasisStart"}
        ch = await peer.dial("1001", "1002", ARGS)
        await asyncio.wait_for(ch.continued.wait(), 5)
        # 9.95 after the connect fee at 0.01 a second: 995 seconds, in milliseconds for Dial's L()
        assert ch.variables == {"CGRMaxSessionTime": "995000", "cgr_flags": "*accounts+*attributes",
                                "cgr_reqtype": "*prepaid"}
        clock.now += 3
        await peer.answer(ch)

        async def started() -> bool:
            return len(await active(engine)) == 1

        await until(started)
        [session] = await active(engine)
        assert (session["OriginID"], session["Account"], session["Destination"]) == (ch.id, "1001", "1002")
        assert session["OriginHost"] == "127.0.0.1"
        clock.now += 65
        await peer.hangup(ch)
        cdr = await the_cdr(engine, ch.id)
        assert cdr["Usage"] == 65 * 10**9 and Decimal(str(cdr["Cost"])) == Decimal("0.70")
        assert cdr["Source"] == "AsteriskAgent"
        assert await monetary(engine, "1001") == Decimal("9.30")
        assert await active(engine) == []
        transports = {transport for *_, transport in peer.requests}
        assert transports == {"ws" if ari_websocket else "http"}
    finally:
        await engine.stop()
        await peer.stop()


async def test_no_credit_hangs_the_channel_up(tmp_path):
    peer = AsteriskPeer()
    engine = await start(tmp_path, peer)
    try:
        ch = await peer.dial("1003", "1002", ARGS)
        await asyncio.wait_for(ch.destroyed.wait(), 5)
        assert ch.hangup_reason == "congestion" and not ch.continued.is_set()
        assert ("DELETE", f"channels/{ch.id}", {"reason": "congestion"}, "http") in peer.requests
        unknown = await peer.dial("1009", "1002", ARGS)  # no such account: SessionS answers an error
        await asyncio.wait_for(unknown.destroyed.wait(), 5)
        assert await monetary(engine, "1003") == 0 and await active(engine) == []
    finally:
        await engine.stop()
        await peer.stop()


async def test_disconnect_at_credit_exhaustion_charges_exactly_what_was_allowed(tmp_path):
    peer = AsteriskPeer()
    engine = await start(tmp_path, peer, debit_interval="1s")
    try:
        ch = await peer.dial("1002", "1003", ARGS)
        await asyncio.wait_for(ch.continued.wait(), 5)
        assert ch.variables["CGRMaxSessionTime"] == "3000"
        await peer.answer(ch)
        await asyncio.wait_for(ch.destroyed.wait(), 10)  # SessionS found the credit gone: the agent hung up
        assert ch.hangup_reason == "congestion"
        cdr = await the_cdr(engine, ch.id)
        assert Decimal(str(cdr["Cost"])) == Decimal("0.08")  # the connect fee and the three seconds it bought
        assert await monetary(engine, "1002") == 0
    finally:
        await engine.stop()
        await peer.stop()


async def test_channel_sync_ends_a_session_asterisk_no_longer_has(tmp_path):
    clock = Clock()
    peer = AsteriskPeer(clock=clock)
    engine = await start(tmp_path, peer, channel_sync_interval="1s")
    try:
        ch = await peer.dial("1001", "1002", ARGS)
        await asyncio.wait_for(ch.continued.wait(), 5)
        await peer.answer(ch)

        async def started() -> bool:
            return len(await active(engine)) == 1

        await until(started)
        ids = await agent_of(engine).get_active_session_ids("")
        assert {"OriginHost": "127.0.0.1", "OriginID": ch.id} in ids
        del peer.channels[ch.id]  # its ChannelDestroyed never reached the agent

        async def ended() -> bool:
            return await active(engine) == []

        await until(ended, 10)
        cdr = await the_cdr(engine, ch.id)
        # what SessionS had charged: the connect fee and one debit interval (5s) ahead
        assert Decimal(str(cdr["Cost"])) == Decimal("0.10")
        assert await monetary(engine, "1001") == Decimal("9.90")
    finally:
        await engine.stop()
        await peer.stop()


async def test_asterisk_restart_mid_call_ends_the_call_once_charged_up_to_the_loss(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    peer = AsteriskPeer()
    engine = await start(tmp_path, peer)
    agent = agent_of(engine)
    try:
        ch = await peer.dial("1001", "1002", ARGS)
        await asyncio.wait_for(ch.continued.wait(), 5)
        await peer.answer(ch)
        answered = time.time()

        async def started() -> bool:
            return len(await active(engine)) == 1

        await until(started)
        await asyncio.sleep(max(0.0, answered + 2.5 - time.time()))
        await peer.restart(downtime=0.3)  # Asterisk restarts: the call is gone with it
        await peer.wait_connected()
        cdr = await the_cdr(engine, ch.id)
        seconds = cdr["Usage"] // 10**9
        assert seconds == 2 and Decimal(str(cdr["Cost"])) == Decimal("0.05") + Decimal("0.01") * seconds
        assert any(f"channel {ch.id} is gone after the connection was lost" in r.getMessage()
                   for r in caplog.records)
        assert await active(engine) == [] and len(agent.tracked) == 0
        await call(engine, "SessionSv1.SyncSessions", "")
        assert len(await cdrs(engine, ch.id)) == 1
        assert await monetary(engine, "1001") == Decimal("10") - Decimal(str(cdr["Cost"]))

        # a WebSocket lost while Asterisk keeps the call: the call goes on and is charged once, at its end
        clock_call = await peer.dial("1001", "1002", ARGS)
        await asyncio.wait_for(clock_call.continued.wait(), 5)
        await peer.answer(clock_call)
        await until(started)
        connections = peer.connections
        for ws, *_ in list(peer.sockets):
            await ws.close()
        await until(lambda: _true(peer.connections > connections and len(peer.sockets) == 1))
        assert len(await active(engine)) == 1
        await peer.hangup(clock_call)
        second = await the_cdr(engine, clock_call.id)
        assert await monetary(engine, "1001") == Decimal("10") - Decimal(str(cdr["Cost"])) \
            - Decimal(str(second["Cost"]))
    finally:
        await engine.stop()
        await peer.stop()


async def _true(value: bool) -> bool:
    return value


async def test_100k_malformed_documents_and_broken_frames(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    peer = AsteriskPeer()
    engine = await start(tmp_path, peer)
    client = next(iter(agent_of(engine).clients.values()))
    try:
        junk = ['{"type": "StasisStart", "channel": ', "[1, 2]", "null", '{"no": "type"}', "\u00ff not json",
                '{"type": 42}', '{"type": "RESTResponse"}', "{}"]
        await peer.send_raw([junk[i % len(junk)] for i in range(100_000)])

        async def skipped() -> bool:
            return client.malformed == 100_000

        await until(skipped, 60)
        logged = [r.getMessage() for r in caplog.records if "skipped malformed" in r.getMessage()]
        assert 1 <= len(logged) <= 5 and all(f"Asterisk {peer.address}" in line for line in logged)
        for broken in (b"\x8f\x03abc", b"\x81\x7f" + b"\xff" * 8, b"\xc1\x01x"):  # bad opcode, 2^64 length, RSV1
            connections = peer.connections
            peer.write_raw(broken)
            await until(lambda c=connections: _true(peer.connections > c and len(peer.sockets) == 1))
        drops = [r.getMessage() for r in caplog.records if "the stream is broken" in r.getMessage()]
        assert len(drops) == 3 and all(client.name in d for d in drops)
        ch = await peer.dial("1001", "1002", ARGS)
        await asyncio.wait_for(ch.continued.wait(), 5)
    finally:
        await engine.stop()
        await peer.stop()


async def test_cdrs_posted_by_asterisk(tmp_path):
    """The hangup handler posts cdr_custom's variables (JSON or a form): a call no session charged is rated from it,
    a call a session charged gets that session's CDR once."""
    import aiohttp

    clock = Clock()
    peer = AsteriskPeer(clock=clock)
    await peer.start()
    conn = {"address": peer.address, "user": "cgrates", "password": "CGRateS.org", "ari_websocket": False}
    engine = await start_tutorial_engine(tmp_path, TUTORIAL / "engine", TUTORIAL / "tariffplan", {
        "asterisk_agent": {"asterisk_conns": [conn], "create_cdr": False, "cdrs_url": "/asterisk_cdrs"}})
    url = f"http://127.0.0.1:{engine.ports['http']}/asterisk_cdrs"
    try:
        await peer.wait_connected()
        async with aiohttp.ClientSession() as http:
            cdr = {"clid": '"1001" <1001>', "src": "1001", "dst": "1002", "dcontext": "internal",
                   "channel": "PJSIP/1001-00000001", "start": "2024-01-05 10:00:00", "answer": "2024-01-05 10:00:03",
                   "end": "2024-01-05 10:01:08", "duration": "68", "billsec": "65", "disposition": "ANSWERED",
                   "uniqueid": "1704448800.1", "cgr_reqtype": "*postpaid"}
            async with http.post(url, json=cdr) as resp:
                assert resp.status == 200 and await resp.text() == "OK\n"
            async with http.post(url, data={**cdr, "uniqueid": "1704448800.2", "billsec": "5"}) as resp:
                assert resp.status == 200
            async with http.post(url, json={"src": "1001"}) as resp:
                assert resp.status == 400 and "uniqueid" in await resp.text()
        posted = await the_cdr(engine, "1704448800.1")
        assert posted["Usage"] == 65 * 10**9 and Decimal(str(posted["Cost"])) == Decimal("0.70")
        assert posted["Source"] == "Asterisk_cdr_custom" and posted["ExtraFields"]["dcontext"] == "internal"
        assert Decimal(str((await the_cdr(engine, "1704448800.2"))["Cost"])) == Decimal("0.10")

        ch = await peer.dial("1001", "1002", ARGS)  # charged by its session; create_cdr is off
        await asyncio.wait_for(ch.continued.wait(), 5)
        await peer.answer(ch)

        async def started() -> bool:
            return len(await active(engine)) == 1

        await until(started)
        clock.now += 20
        await peer.hangup(ch)

        async def ended() -> bool:
            return await active(engine) == []

        await until(ended)
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json={**cdr, "uniqueid": ch.id, "billsec": "20",
                                            "cgr_reqtype": "*prepaid"}) as resp:
                assert resp.status == 200
        session_cdr = await the_cdr(engine, ch.id)
        assert Decimal(str(session_cdr["Cost"])) == Decimal("0.25") and session_cdr["Source"] == "AsteriskAgent"
        # the two postpaid calls are debited from their CDRs, the prepaid one by its session, each once
        assert await monetary(engine, "1001") == Decimal("10") - Decimal("0.70") - Decimal("0.10") - Decimal("0.25")
    finally:
        await engine.stop()
        await peer.stop()


async def test_several_asterisks_each_known_by_its_alias(tmp_path):
    """Two Asterisks: each call is known by its PBX's alias, listed from its own channels, hung up on its own PBX."""
    berlin, munich = AsteriskPeer(), AsteriskPeer()
    await berlin.start()
    await munich.start()
    conns = [{"alias": alias, "address": peer.address, "user": "cgrates", "password": "CGRateS.org",
              "ari_websocket": websocket} for alias, peer, websocket in
             (("pbx-berlin", berlin, False), ("pbx-munich", munich, True))]
    engine = await start_tutorial_engine(tmp_path, TUTORIAL / "engine", TUTORIAL / "tariffplan",
                                         {"asterisk_agent": {"asterisk_conns": conns}})
    try:
        await berlin.wait_connected()
        await munich.wait_connected()
        calls = {}
        for name, peer in (("berlin", berlin), ("munich", munich)):
            ch = await peer.dial("1001", "1002", ARGS)
            await asyncio.wait_for(ch.continued.wait(), 5)
            await peer.answer(ch)
            calls[name] = ch

        async def both() -> bool:
            return len(await active(engine)) == 2

        await until(both)
        assert {s["OriginHost"] for s in await active(engine)} == {"pbx-berlin", "pbx-munich"}
        ids = await agent_of(engine).get_active_session_ids("")
        assert sorted((i["OriginHost"], i["OriginID"]) for i in ids) == sorted(
            [("pbx-berlin", calls["berlin"].id), ("pbx-munich", calls["munich"].id)])
        assert await call(engine, "SessionSv1.ForceDisconnect", {
            "Filters": ["*string:~*req.OriginHost:pbx-munich"]}) == "OK"
        await asyncio.wait_for(calls["munich"].destroyed.wait(), 5)
        assert not calls["berlin"].destroyed.is_set()
        assert ("DELETE", f"channels/{calls['munich'].id}", {"reason": "congestion"}, "ws") in munich.requests
    finally:
        await engine.stop()
        await berlin.stop()
        await munich.stop()
