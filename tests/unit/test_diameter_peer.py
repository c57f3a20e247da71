"""Diameter peer state machine (sans-IO) and the transport's request handling rules."""

from __future__ import annotations

import asyncio

import pytest

from pycgrates.agents.diameter import (
    DiameterServer,
    Message,
    ResultCode,
    Timers,
    identity_from_config,
    load_dictionaries,
)
from pycgrates.agents.diameter.codec import AVP, FLAG_REQUEST
from pycgrates.agents.diameter.dictionary import RELAY_APPLICATION_ID
from pycgrates.agents.diameter.peer import (
    TRANSITIONS,
    ApplicationAnswer,
    ApplicationRequest,
    CloseConnection,
    LocalIdentity,
    PeerConnection,
    PeerOpened,
    PeerState,
)

DICT = load_dictionaries()
OURS = LocalIdentity("ocs.cgrates.org", "cgrates.org", ["192.0.2.1"], 0, "CGRateS", auth_application_ids=[4],
                     supported_vendor_ids=[10415])


def _msg(code: int, app: int = 0, request: bool = True, hop: int = 1, **avps) -> Message:
    m = Message(code, app, FLAG_REQUEST if request else 0, hop, hop, dictionary=DICT)
    for name, value in avps.items():
        m.add(name.replace("_", "-"), value)
    return m


def _cer(*apps: int, relay: bool = False) -> Message:
    m = _msg(257, Origin_Host="pcef.example.net", Origin_Realm="example.net", Host_IP_Address="127.0.0.1",
             Vendor_Id=0, Product_Name="pcef")
    for app in apps:
        m.add("Auth-Application-Id", app)
    if relay:
        m.add("Acct-Application-Id", RELAY_APPLICATION_ID)
    return m


def _replies(peer: PeerConnection) -> list[Message]:
    data, out = peer.data_to_send(), []
    while data:
        length = int.from_bytes(data[1:4], "big")
        out.append(Message.parse(data[:length], DICT))
        data = data[length:]
    return out


def _open(timers: Timers | None = None) -> PeerConnection:
    peer = PeerConnection(OURS, DICT, timers or Timers(watchdog=30, dwa=10, dpa=5, capabilities_exchange=10))
    assert peer.start(False, 0.0) == []
    assert peer.state is PeerState.WAIT_CER and peer.deadline == 10
    events = peer.receive_data(_cer(4).pack(), 1.0)
    assert events == [PeerOpened("pcef.example.net", "example.net", {4})]
    (cea,) = _replies(peer)
    assert cea.command_name == "CEA" and cea.value("Result-Code") == ResultCode.SUCCESS
    return peer


def test_every_action_of_the_table_exists():
    for state, row in TRANSITIONS.items():
        for inp, (nxt, action) in row.items():
            assert callable(getattr(PeerConnection, action)), (state, inp, action)
            assert isinstance(nxt, PeerState)


def test_cer_gets_a_cea_with_our_capabilities():
    peer = PeerConnection(OURS, DICT)
    peer.start(False, 0.0)
    peer.receive_data(_cer(4, 16777238).pack(), 0.5)
    (cea,) = _replies(peer)
    assert [a.name for a in cea.avps][:3] == ["Result-Code", "Origin-Host", "Origin-Realm"]
    assert cea.value("Origin-Host") == "ocs.cgrates.org" and cea.value("Host-IP-Address") == "192.0.2.1"
    assert cea.value("Vendor-Id") == 0 and cea.value("Product-Name") == "CGRateS"
    assert cea.value("Supported-Vendor-Id") == 10415 and cea.value("Auth-Application-Id") == 4
    assert peer.state is PeerState.OPEN and peer.common_applications == {4}
    assert peer.deadline == 0.5 + peer.timers.watchdog


def test_cer_without_common_application_gets_5010_and_close():
    peer = PeerConnection(OURS, DICT)
    peer.start(False, 0.0)
    events = peer.receive_data(_cer(16777238).pack(), 0.1)
    assert isinstance(events[0], CloseConnection) and "no common application" in events[0].reason
    (cea,) = _replies(peer)
    assert cea.value("Result-Code") == ResultCode.NO_COMMON_APPLICATION and not cea.is_error
    assert peer.state is PeerState.CLOSED


def test_relay_peer_is_accepted():
    peer = PeerConnection(OURS, DICT)
    peer.start(False, 0.0)
    assert isinstance(peer.receive_data(_cer(relay=True).pack(), 0.1)[0], PeerOpened)
    assert peer.common_applications == {4}


def test_anything_but_cer_first_closes():
    peer = PeerConnection(OURS, DICT)
    peer.start(False, 0.0)
    events = peer.receive_data(_msg(272, 4, Session_Id="s").pack(), 0.1)
    assert isinstance(events[0], CloseConnection) and peer.state is PeerState.CLOSED
    assert peer.receive_data(_cer(4).pack(), 0.2) == []  # closed stays closed


def test_capabilities_exchange_timeout_closes():
    peer = PeerConnection(OURS, DICT, Timers(capabilities_exchange=2))
    peer.start(False, 0.0)
    assert peer.timer_expired(1.0) == []
    assert isinstance(peer.timer_expired(2.0)[0], CloseConnection)


def test_dwr_is_answered():
    peer = _open()
    assert peer.receive_data(_msg(280, hop=5, Origin_Host="pcef", Origin_Realm="example.net").pack(), 2.0) == []
    (dwa,) = _replies(peer)
    assert dwa.command_name == "DWA" and dwa.hop_by_hop == 5 and dwa.value("Result-Code") == ResultCode.SUCCESS
    assert dwa.value("Origin-State-Id") == OURS.origin_state_id


def test_watchdog_sends_dwr_and_closes_without_dwa():
    peer = _open()
    assert peer.timer_expired(31.0) == []
    (dwr,) = _replies(peer)
    assert dwr.command_name == "DWR" and peer.state is PeerState.WAIT_DWA and peer.deadline == 41.0
    dwa = dwr.answer(ResultCode.SUCCESS, "pcef", "example.net")
    peer.receive_data(dwa.pack(), 32.0)
    assert peer.state is PeerState.OPEN and peer.deadline == 62.0
    peer.timer_expired(62.0)
    _replies(peer)
    events = peer.timer_expired(72.0)
    assert isinstance(events[0], CloseConnection) and "DWA" in events[0].reason


def test_traffic_postpones_the_watchdog():
    peer = _open()
    peer.receive_data(_msg(272, 4, Session_Id="s").pack(), 20.0)
    assert peer.deadline == 50.0


def test_dpr_is_answered_and_closes():
    peer = _open()
    events = peer.receive_data(_msg(282, Origin_Host="pcef", Origin_Realm="example.net", Disconnect_Cause=0).pack(), 3)
    assert isinstance(events[0], CloseConnection)
    (dpa,) = _replies(peer)
    assert dpa.command_name == "DPA" and dpa.value("Result-Code") == ResultCode.SUCCESS
    assert peer.state is PeerState.CLOSED


def test_our_disconnect_waits_for_dpa():
    peer = _open()
    assert peer.disconnect(5.0, 1) == []
    (dpr,) = _replies(peer)
    assert dpr.command_name == "DPR" and dpr.value("Disconnect-Cause") == 1 and peer.state is PeerState.CLOSING
    # requests arriving now are refused, answers still delivered
    peer.receive_data(_msg(272, 4, hop=9, Session_Id="s").pack(), 5.1)
    (refused,) = _replies(peer)
    assert refused.value("Result-Code") == ResultCode.UNABLE_TO_DELIVER and refused.is_error
    events = peer.receive_data(dpr.answer(ResultCode.SUCCESS, "pcef", "example.net").pack(), 5.2)
    assert isinstance(events[0], CloseConnection) and peer.state is PeerState.CLOSED


def test_dpa_timeout_closes():
    peer = _open()
    peer.disconnect(5.0)
    assert isinstance(peer.timer_expired(10.0)[0], CloseConnection)


def test_application_request_is_delivered():
    peer = _open()
    events = peer.receive_data(_msg(272, 4, Session_Id="s;1").pack(), 2.0)
    assert isinstance(events[0], ApplicationRequest) and events[0].message.value("Session-Id") == "s;1"
    ans = events[0].message.answer(2001, "ocs", "cgrates.org")
    peer.send_answer(ans)
    assert _replies(peer)[0].hop_by_hop == 1


def test_request_for_an_application_not_agreed_gets_3007():
    peer = _open()
    assert peer.receive_data(_msg(272, 16777238, Session_Id="s").pack(), 2.0) == []
    (ans,) = _replies(peer)
    assert ans.value("Result-Code") == ResultCode.APPLICATION_UNSUPPORTED and ans.is_error


def test_unknown_mandatory_avp_gets_5001_with_failed_avp():
    peer = _open()
    req = _msg(272, 4, Session_Id="s;2")
    req.avps.append(AVP(77777, b"\x01\x02", 0xC0, 4242))
    assert peer.receive_data(req.pack(), 2.0) == []
    (ans,) = _replies(peer)
    assert ans.value("Result-Code") == ResultCode.AVP_UNSUPPORTED and not ans.is_error
    assert ans.value("Session-Id") == "s;2"
    (failed,) = ans.value("Failed-AVP")
    assert (failed.code, failed.vendor_id, failed.value) == (77777, 4242, b"\x01\x02")
    # without the M bit it is ignored and the request goes through
    req.avps[-1].flags = 0x80
    assert isinstance(peer.receive_data(req.pack(), 2.1)[0], ApplicationRequest)


def test_undecodable_request_is_answered_not_dropped():
    peer = _open()
    good = _msg(272, 4, hop=44, Session_Id="s;3", CC_Request_Number=1).pack()
    broken = bytearray(good)
    broken[-5] = 0xFF  # CC-Request-Number's length now points past the end
    broken[-6] = 0xFF
    assert peer.receive_data(bytes(broken), 2.0) == []
    (ans,) = _replies(peer)
    assert ans.hop_by_hop == 44 and ans.value("Session-Id") == "s;3"
    assert ans.value("Result-Code") == ResultCode.INVALID_AVP_LENGTH
    assert ans.value("Failed-AVP")[0].code == 415


def test_initiator_sends_cer_and_opens_on_cea():
    peer = PeerConnection(OURS, DICT, Timers(capabilities_exchange=3))
    peer.start(True, 0.0)
    (cer,) = _replies(peer)
    assert cer.command_name == "CER" and cer.value("Origin-Host") == "ocs.cgrates.org"
    assert peer.state is PeerState.WAIT_CEA
    cea = cer.answer(ResultCode.SUCCESS, "pcef", "example.net")
    cea.add("Auth-Application-Id", 4)
    assert isinstance(peer.receive_data(cea.pack(), 0.1)[0], PeerOpened)
    hop = peer.send_request(_msg(274, 4, Session_Id="s"))
    (asr,) = _replies(peer)
    asa = asr.answer(ResultCode.SUCCESS)
    (event,) = peer.receive_data(asa.pack(), 0.2)
    assert isinstance(event, ApplicationAnswer) and event.message.hop_by_hop == hop


def test_initiator_rejected_cea_closes():
    peer = PeerConnection(OURS, DICT)
    peer.start(True, 0.0)
    (cer,) = _replies(peer)
    events = peer.receive_data(cer.answer(ResultCode.NO_COMMON_APPLICATION, "p", "r").pack(), 0.1)
    assert isinstance(events[0], CloseConnection) and peer.state is PeerState.CLOSED


# ---- the transport's rules, on a real loopback listener ---------------------------------------------------------
async def _client(server: DiameterServer):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.addresses[0][1])
    writer.write(_cer(4).pack())
    assert (await _read(reader)).value("Result-Code") == ResultCode.SUCCESS
    return reader, writer


async def _read(reader) -> Message:
    head = await asyncio.wait_for(reader.readexactly(4), 5)
    rest = await asyncio.wait_for(reader.readexactly(int.from_bytes(head[1:4], "big") - 4), 5)
    return Message.parse(head + rest, DICT)


async def _server(handler, **kwargs) -> DiameterServer:
    ident = identity_from_config("ocs.cgrates.org", "cgrates.org", 0, "CGRateS", [4], DICT)
    server = DiameterServer(ident, DICT, handler, listeners=["127.0.0.1:0"], **kwargs)
    await server.start()
    return server


async def test_concurrent_requests_cap_answers_3004():
    release = asyncio.Event()

    async def slow(request, conn):
        await release.wait()
        return request.answer(ResultCode.SUCCESS, "ocs", "cgrates.org")

    server = await _server(slow, concurrent_requests=2)
    reader, writer = await _client(server)
    try:
        for hop in (1, 2, 3):
            writer.write(_msg(272, 4, hop=hop, Session_Id=f"s;{hop}").pack())
        busy = await _read(reader)
        assert busy.hop_by_hop == 3 and busy.value("Result-Code") == ResultCode.TOO_BUSY and busy.is_error
        assert busy.value("Session-Id") == "s;3"
        release.set()
        assert sorted([(await _read(reader)).hop_by_hop for _ in range(2)]) == [1, 2]
        assert server.active_requests == 0
    finally:
        writer.close()
        await server.stop()


@pytest.mark.parametrize("failure", ["raise", "none", "timeout", "unencodable"])
async def test_processing_errors_answer_5012_through_the_error_hook(failure):
    hooked = []

    async def handler(request, conn):
        if failure == "raise":
            raise RuntimeError("boom")
        if failure == "timeout":
            await asyncio.sleep(5)
        if failure == "unencodable":
            ans = request.answer(ResultCode.SUCCESS)
            ans.avps.append(AVP.of(DICT.avp("CC-Request-Number"), -5))
            return ans
        return None

    def error_hook(request, result_code, conn):
        hooked.append(result_code)
        ans = conn.peer.error_answer(request, result_code, error_bit=True)
        ans.add("Error-Message", "from the *err template")
        return ans

    server = await _server(handler, request_timeout=0.2, error_hook=error_hook)
    reader, writer = await _client(server)
    try:
        writer.write(_msg(272, 4, hop=8, Session_Id="s;8").pack())
        ans = await _read(reader)
        assert ans.hop_by_hop == 8 and ans.value("Result-Code") == ResultCode.UNABLE_TO_COMPLY and ans.is_error
        assert ans.value("Error-Message") == "from the *err template" and hooked == [5012]
        assert ans.value("Origin-Host") == "ocs.cgrates.org"
    finally:
        writer.close()
        await server.stop()


async def test_invalid_value_met_by_the_handler_is_answered_with_its_code():
    async def handler(request, conn):
        request.value("Event-Timestamp")
        return request.answer(ResultCode.SUCCESS)

    server = await _server(handler)
    reader, writer = await _client(server)
    try:
        req = _msg(272, 4, hop=3, Session_Id="s")
        req.avps.append(AVP(55, b"\x00\x01", 0x40))  # Event-Timestamp of 2 bytes
        writer.write(req.pack())
        ans = await _read(reader)
        assert ans.value("Result-Code") == ResultCode.INVALID_AVP_LENGTH and ans.value("Failed-AVP")[0].code == 55
    finally:
        writer.close()
        await server.stop()


async def test_synced_conn_requests_run_one_at_a_time():
    running, peak = 0, 0

    async def handler(request, conn):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return request.answer(ResultCode.SUCCESS)

    server = await _server(handler, synced_conn_requests=True)
    reader, writer = await _client(server)
    try:
        for hop in range(5):
            writer.write(_msg(272, 4, hop=hop, Session_Id="s").pack())
        assert [(await _read(reader)).hop_by_hop for _ in range(5)] == list(range(5))
        assert peak == 1
    finally:
        writer.close()
        await server.stop()


async def test_agent_as_client_and_request_to_peer():
    async def echo(request, conn):
        ans = request.answer(ResultCode.SUCCESS, "ocs", "cgrates.org")
        ans.add("Auth-Application-Id", request.application_id)
        return ans

    far = await _server(echo)
    near_ident = LocalIdentity("da.cgrates.org", "cgrates.org", [], auth_application_ids=[4])
    near = DiameterServer(near_ident, DICT)
    try:
        conn = await near.connect("127.0.0.1", far.addresses[0][1])
        assert conn.remote_host == "ocs.cgrates.org" and conn.peer.state is PeerState.OPEN
        asa = await conn.send_request(_msg(274, 4, Session_Id="s;asr", Destination_Realm="cgrates.org"), timeout=5)
        assert asa.value("Result-Code") == ResultCode.SUCCESS and asa.command_name == "ASA"
        await conn.disconnect()
        assert conn.closed.is_set()
    finally:
        await near.stop()
        await far.stop()


async def test_sctp_listener_falls_back_to_a_log_line(caplog, monkeypatch):
    import pycgrates.agents.diameter.transport as transport

    monkeypatch.setattr(transport, "SCTP_AVAILABLE", False)
    server = DiameterServer(LocalIdentity("a", "b"), DICT, listeners=[{"address": "127.0.0.1:0", "network": "*sctp"}])
    await server.start()
    assert server.addresses == [] and "sctp skipped" in caplog.text
    await server.stop()


def test_listener_parsing():
    from pycgrates.agents.diameter import Listener

    assert Listener.parse({"address": "127.0.0.1:3868", "network": "tcp"}) == Listener("127.0.0.1", 3868, "tcp")
    assert Listener.parse({"address": "[::1]:3868", "transport": "*sctp"}) == Listener("::1", 3868, "sctp")
    assert Listener.parse(":3868").host == "0.0.0.0"
    with pytest.raises(ValueError, match="udp"):
        Listener.parse({"address": "1.2.3.4:1", "network": "udp"})
    with pytest.raises(ValueError, match="host:port"):
        Listener.parse({"address": "localhost"})
