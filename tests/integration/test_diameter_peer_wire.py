"""The Diameter peer layer against an independent implementation: python-diameter's Node, over real TCP."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from pycgrates.agents.diameter import DiameterServer, Message, Timers, identity_from_config, load_dictionaries
from pycgrates.agents.diameter.codec import ResultCode

node_mod = pytest.importorskip("diameter.node")
from diameter.message import constants  # noqa: E402
from diameter.message.commands import CreditControlRequest  # noqa: E402
from diameter.node.application import SimpleThreadingApplication  # noqa: E402

AGENT_HOST = "cgr-da.cgrates.org"
AGENT_REALM = "cgrates.org"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionaries()


async def _agent(dictionary, handler=None, **kwargs) -> DiameterServer:
    ident = identity_from_config(AGENT_HOST, AGENT_REALM, 0, "pycgrates", ["Diameter Credit Control"], dictionary)
    server = DiameterServer(ident, dictionary, handler, listeners=[{"address": f"127.0.0.1:{_free_port()}",
                                                                    "network": "tcp"}], **kwargs)
    await server.start()
    return server


def _pcef(port: int, idle_timeout: int = 30):
    """A python-diameter client node with a credit-control application pointed at the agent."""
    node = node_mod.Node("pcef.example.net", "example.net")
    node.idle_timeout = idle_timeout
    node.wakeup_interval = 1
    node.dwa_timeout = 3
    peer = node.add_peer(f"aaa://{AGENT_HOST}:{port};transport=tcp", AGENT_REALM, ip_addresses=["127.0.0.1"],
                         is_persistent=True)
    app = SimpleThreadingApplication(constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
    node.add_application(app, [peer])
    return node, peer, app


async def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _ccr(app, session: str) -> CreditControlRequest:
    ccr = CreditControlRequest()
    ccr.session_id = session
    ccr.origin_host = b"pcef.example.net"
    ccr.origin_realm = b"example.net"
    ccr.destination_realm = AGENT_REALM.encode()
    ccr.auth_application_id = 4
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = constants.E_CC_REQUEST_TYPE_INITIAL_REQUEST
    ccr.cc_request_number = 0
    return ccr


async def test_cer_cea_then_ccr_and_dpr_from_client(dictionary):
    async def answer_ccr(request: Message, conn):
        assert request.command_name == "CCR"
        ans = request.answer(ResultCode.SUCCESS, AGENT_HOST, AGENT_REALM)
        ans.add("Auth-Application-Id", 4)
        ans.add("CC-Request-Type", request.value("CC-Request-Type"))
        ans.add("CC-Request-Number", request.value("CC-Request-Number"))
        ans.add("Granted-Service-Unit", [ans.new_avp("CC-Time", 300)])
        return ans

    server = await _agent(dictionary, answer_ccr)
    port = server.addresses[0][1]
    node, _peer, app = _pcef(port)
    try:
        await asyncio.to_thread(node.start)
        await asyncio.to_thread(app.wait_for_ready, 10)
        await _wait(lambda: any(c.opened.is_set() for c in server.connections))
        conn = next(iter(server.connections))
        assert conn.remote_host == "pcef.example.net"
        assert 4 in conn.peer.common_applications
        cca = await asyncio.to_thread(app.send_request, _ccr(app, "pcef;1;1"), 10)
        assert cca.result_code == ResultCode.SUCCESS
        assert cca.session_id == "pcef;1;1"
        assert cca.granted_service_unit.cc_time == 300
        # node.stop sends DPR and waits for our DPA
        started = time.monotonic()
        await asyncio.to_thread(node.stop, 10)
        assert time.monotonic() - started < 9, "DPA did not come back"
        await _wait(lambda: not server.connections)
    finally:
        if node._started and not node._stopping:
            node.stop(force=True)
        await server.stop()


async def test_dwr_dwa_both_directions(dictionary):
    timers = Timers(watchdog=30.0, dwa=3.0)
    server = await _agent(dictionary, timers=timers)
    port = server.addresses[0][1]
    node, _peer, app = _pcef(port, idle_timeout=1)
    dwas_seen: list[int] = []
    original = node.receive_dwa

    def spy_dwa(conn, message):
        dwas_seen.append(message.result_code)
        original(conn, message)

    node.receive_dwa = spy_dwa
    try:
        await asyncio.to_thread(node.start)
        await asyncio.to_thread(app.wait_for_ready, 10)
        await _wait(lambda: any(c.opened.is_set() for c in server.connections))
        conn = next(iter(server.connections))
        # 1. the node idles for 1 s, sends DWR, and our DWA reaches it
        await _wait(lambda: dwas_seen, timeout=10)
        assert dwas_seen[0] == ResultCode.SUCCESS
        # 2. now we idle first: our DWR must get the node's DWA, or the watchdog closes the connection
        node.idle_timeout = 60
        timers.watchdog = 0.5
        conn.peer.note_activity(None)
        conn._rearm()
        sent, answered = [], []
        send_dwr, note_activity = conn.peer.send_dwr, conn.peer.note_activity

        def spy_send(msg):
            sent.append(1)
            send_dwr(msg)

        def spy_answered(msg):
            answered.append(1)
            note_activity(msg)

        conn.peer.send_dwr, conn.peer.note_activity = spy_send, spy_answered
        await _wait(lambda: len(answered) >= 2, timeout=10)
        assert len(sent) >= 2
        assert conn in server.connections and conn.peer.state.value.startswith("open")
    finally:
        await asyncio.to_thread(node.stop, 5, True)
        await server.stop()


async def test_agent_initiated_dpr(dictionary):
    server = await _agent(dictionary)
    port = server.addresses[0][1]
    node, _peer, app = _pcef(port)
    got_dpr = []
    original = node.receive_dpr

    def spy_dpr(conn, message):
        got_dpr.append(message.disconnect_cause)
        original(conn, message)

    node.receive_dpr = spy_dpr
    try:
        await asyncio.to_thread(node.start)
        await asyncio.to_thread(app.wait_for_ready, 10)
        await _wait(lambda: any(c.opened.is_set() for c in server.connections))
        conn = next(iter(server.connections))
        await conn.disconnect(timeout=5)
        assert got_dpr == [constants.E_DISCONNECT_CAUSE_REBOOTING]
        assert conn.closed.is_set()
    finally:
        await asyncio.to_thread(node.stop, 5, True)
        await server.stop()
