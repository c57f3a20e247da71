"""The OpenSIPS agent (event_datagram + MI) in the OpenSIPS tutorial's datagram engine, against an OpenSIPS played
from its modules' documentation (tests/peers/opensips_datagram.py): real UDP events, MI over UDP or HTTP.

The tariff plan is tutorials/opensips/tariffplan: on-net 0.01 a second; 1001 has 10.00, 1002 0.05, 1003 nothing.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from tests.engine_proc import free_port
from tests.peers.opensips_datagram import OpenSIPSPeer
from tests.tutorial_engine import TUTORIALS, call, cdrs, monetary, start_tutorial_engine

TUTORIAL = TUTORIALS / "opensips"
T0 = 1_700_000_000


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


async def _true(value) -> bool:
    return bool(value)


async def start(tmp_path, peer: OpenSIPSPeer, *, http_mi: bool = False, interval: str = "60s", **sessions):
    await peer.start()
    listen = f"127.0.0.1:{free_port()}"
    peer.start_subscriber = f"udp:{listen}"
    engine = await start_tutorial_engine(
        tmp_path, TUTORIAL / "engine-datagram", TUTORIAL / "tariffplan",
        {"opensips_agent": {"listen_udp": listen, "mi_addr": peer.mi_url if http_mi else peer.mi_address,
                            "events_subscribe_interval": interval}, "sessions": sessions})
    await until(lambda: _true(len(peer.subscriptions) == 3))
    return engine


def agent_of(engine):
    return next(svc for section, svc in engine.services if section == "opensips_agent")


async def active(engine) -> list:
    try:
        return await call(engine, "SessionSv1.GetActiveSessions", {})
    except Exception:
        return []


async def the_cdr(engine, origin_id: str) -> dict:
    await until(lambda: _cdrs_exist(engine, origin_id))
    [cdr] = await cdrs(engine, origin_id)
    return cdr


async def _cdrs_exist(engine, origin_id: str) -> bool:
    return bool(await cdrs(engine, origin_id))


@pytest.mark.parametrize("text_events", [False, True], ids=["json-rpc-events", "opensips-2-text-events"])
async def test_subscribe_start_end_with_cdr_and_exact_cost(tmp_path, text_events):
    clock = Clock()
    peer = OpenSIPSPeer(clock=clock, text_events=text_events)
    engine = await start(tmp_path, peer)
    agent = agent_of(engine)
    try:
        socket = f"udp:{agent.settings.listen_udp}"
        assert {(c["event"], c["socket"], c["expire"]) for c in peer.subscribe_calls} == {
            ("E_ACC_EVENT", socket, 61), ("E_ACC_CDR", socket, 61), ("E_ACC_MISSED_EVENT", socket, 61)}
        dialog = peer.answer("d1@osips", "1001", "1002")
        await until(lambda: _len_is(active(engine), 1))
        [session] = await active(engine)
        assert (session["OriginID"], session["Account"], session["Destination"]) == ("d1@osips", "1001", "1002")
        clock.now += 65
        peer.bye(dialog)
        cdr = await the_cdr(engine, "d1@osips")
        assert cdr["Usage"] == 65 * 10**9 and Decimal(str(cdr["Cost"])) == Decimal("0.65")
        assert cdr["Source"] == "OSIPS_E_ACC_EVENT" and cdr["OriginHost"] == "127.0.0.1"
        assert await monetary(engine, "1001") == Decimal("9.35")
        assert await active(engine) == []

        peer.missed("d2@osips", "1001", "1009")
        cdr = await the_cdr(engine, "d2@osips")
        assert cdr["Usage"] == 0 and cdr["RequestType"] == "*postpaid" and Decimal(str(cdr["Cost"])) == 0
        assert cdr["ExtraFields"]["sip_reason"] == "Busy Here"
    finally:
        await engine.stop()
        await peer.stop()


async def _len_is(coro, n: int) -> bool:
    return len(await coro) == n


@pytest.mark.parametrize("http_mi", [False, True], ids=["mi_datagram", "mi_http"])
async def test_refused_calls_are_ended_through_the_mi(tmp_path, http_mi):
    peer = OpenSIPSPeer()
    engine = await start(tmp_path, peer, http_mi=http_mi)
    try:
        dialog = peer.answer("d3@osips", "1003", "1002")
        await asyncio.wait_for(dialog.ended.wait(), 5)
        assert dialog.end_reason == "LOCAL_DISCONNECT"
        assert ("dlg_end_dlg", {"dialog_id": dialog.dialog_id}) in peer.mi_calls
        anonymous = peer.answer("d4@osips", "", "1002")  # no account: MANDATORY_IE_MISSING
        await asyncio.wait_for(anonymous.ended.wait(), 5)
        # SessionS's own disconnect of the refused session finds the dialog gone: it ends the session itself
        await until(lambda: _len_is(active(engine), 0))
        assert await monetary(engine, "1003") == 0
    finally:
        await engine.stop()
        await peer.stop()


async def test_postpaid_call_rated_from_its_acc_cdr(tmp_path):
    clock = Clock()
    peer = OpenSIPSPeer(clock=clock, cdr_events=True)
    engine = await start(tmp_path, peer)
    try:
        dialog = peer.answer("d5@osips", "1001", "0123456", reqtype="*postpaid")
        await until(lambda: _len_is(active(engine), 1))
        clock.now += 75
        peer.bye(dialog)
        cdr = await the_cdr(engine, "d5@osips")
        # 0.10 + 1.20 for the first minute + 15 seconds at 0.02
        assert cdr["Usage"] == 75 * 10**9 and Decimal(str(cdr["Cost"])) == Decimal("1.60")
        assert await monetary(engine, "1001") == Decimal("8.40")
    finally:
        await engine.stop()
        await peer.stop()


async def test_disconnect_at_credit_exhaustion_charges_exactly_what_was_allowed(tmp_path):
    peer = OpenSIPSPeer()
    engine = await start(tmp_path, peer, debit_interval="1s")
    try:
        dialog = peer.answer("d6@osips", "1002", "1003")
        await asyncio.wait_for(dialog.ended.wait(), 10)
        assert dialog.end_reason == "LOCAL_DISCONNECT"
        cdr = await the_cdr(engine, "d6@osips")
        assert Decimal(str(cdr["Cost"])) == Decimal("0.05")  # the five seconds 0.05 bought
        assert await monetary(engine, "1002") == 0
    finally:
        await engine.stop()
        await peer.stop()


async def test_channel_sync_ends_a_session_opensips_no_longer_has(tmp_path):
    peer = OpenSIPSPeer()
    engine = await start(tmp_path, peer, channel_sync_interval="1s")
    agent = agent_of(engine)
    try:
        peer.answer("d7@osips", "1001", "1002")
        await until(lambda: _len_is(active(engine), 1))
        assert await agent.get_active_session_ids("") == [{"OriginHost": "127.0.0.1", "OriginID": "d7@osips"}]
        del peer.dialogs["d7@osips"]  # its BYE never came
        await until(lambda: _len_is(active(engine), 0), 10)
        cdr = await the_cdr(engine, "d7@osips")
        assert Decimal(str(cdr["Cost"])) == Decimal("0.05")  # what was charged: one debit interval (5s) ahead
    finally:
        await engine.stop()
        await peer.stop()


async def test_restart_mid_call_subscribes_again_and_charges_once(tmp_path):
    clock = Clock()
    peer = OpenSIPSPeer(clock=clock)
    engine = await start(tmp_path, peer)
    try:
        dialog = peer.answer("d8@osips", "1001", "1002")
        await until(lambda: _len_is(active(engine), 1))
        calls = len(peer.subscribe_calls)
        await peer.restart(keep_dialogs=True)  # dialogs in its database; its subscribers forgotten
        await until(lambda: _true(len(peer.subscriptions) == 3 and len(peer.subscribe_calls) == calls + 3))
        clock.now += 42
        peer.bye(dialog)
        cdr = await the_cdr(engine, "d8@osips")
        assert cdr["Usage"] == 42 * 10**9 and Decimal(str(cdr["Cost"])) == Decimal("0.42")
        assert await monetary(engine, "1001") == Decimal("9.58")
        peer.bye(peer.answer("d9@osips", "1001", "1002"))  # no doubled charge for the first call afterwards
        await the_cdr(engine, "d9@osips")
        assert len(await cdrs(engine, "d8@osips")) == 1
    finally:
        await engine.stop()
        await peer.stop()


async def test_subscriptions_are_renewed_before_they_lapse(tmp_path):
    peer = OpenSIPSPeer()
    engine = await start(tmp_path, peer, interval="1s")
    try:
        assert {c["expire"] for c in peer.subscribe_calls} == {2}
        await until(lambda: _true(len(peer.subscribe_calls) >= 9), 5)
    finally:
        await engine.stop()
        await peer.stop()


async def read_up_to(agent, count: int, timeout: float = 0.5) -> None:
    """Let the agent read the datagrams sent so far (a few may be lost on loopback: give up after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while agent.drops.dropped < count and loop.time() < deadline:  # noqa: ASYNC110 - polling a counter
        await asyncio.sleep(0.0005)


async def test_100k_malformed_datagrams(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    peer = OpenSIPSPeer()
    engine = await start(tmp_path, peer)
    agent = agent_of(engine)
    try:
        junk = [b"{", b"[1]", b'{"jsonrpc":"2.0"}', b'{"method":"E_ACC_CDR","params":[1]}', b"\xff\xfe",
                b"E_ACC_CDR\ncallid::x", b"not an event\n\n", b'{"method": 42}', b"{" * 65_460]
        socket = f"udp:{agent.settings.listen_udp}"
        for i in range(0, 100_000, 50):  # paced as a switch sends: each burst read before the next
            peer.send_raw([junk[j % (len(junk) - 1)] if j % 1000 else junk[-1] for j in range(i, i + 50)], socket)
            await read_up_to(agent, i + 50)
        assert agent.drops.dropped >= 99_000 and agent.events == 0  # loopback UDP may still lose a few
        lines = [r.getMessage() for r in caplog.records if "malformed datagram from OpenSIPS 127.0.0.1" in
                 r.getMessage()]
        assert lines and len(lines) <= 10 * 40
        dialog = peer.answer("d10@osips", "1001", "1002")
        await until(lambda: _len_is(active(engine), 1))
        peer.bye(dialog)
        await the_cdr(engine, "d10@osips")
    finally:
        await engine.stop()
        await peer.stop()
