"""Dynamic authorization end to end (RFC 5176): SessionS asks the RADIUS agent to hang up or alter a session and
the agent sends Disconnect-Request / CoA-Request to the NAS. The engine runs CGRateS's radius_coa_disconnect sample;
radclient plays the NAS's accounting side, and the NAS's dynamic authorization server is written here from
RFC 5176 (independently of agents/radius)."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import time
from dataclasses import dataclass, field

import pytest

from tests.conftest import require_binary, shared_data
from tests.engine_proc import (
    EngineProcess,
    free_port,
    make_config_dir,
    storage_overrides,
    without_unavailable_services,
)

SECRET = b"CGRateS.org"
DISCONNECT_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK, COA_REQUEST, COA_ACK, COA_NAK = 40, 41, 42, 43, 44, 45
NAMES = {1: "User-Name", 4: "NAS-IP-Address", 11: "Filter-Id", 18: "Reply-Message", 44: "Acct-Session-Id",
         55: "Event-Timestamp", 80: "Message-Authenticator"}
SESSION_CONTEXT_NOT_FOUND = 503


@dataclass
class NAS(asyncio.DatagramProtocol):
    """The NAS's Dynamic Authorization Server (RFC 5176 §2.3, §3.5): checks the Request Authenticator, records
    the request and answers ACK, NAK (Error-Cause 503) or nothing."""

    answer: str = "ack"
    requests: list[tuple[int, int, bytes, dict[str, str]]] = field(default_factory=list)
    forged: int = 0
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        code, ident, length = data[0], data[1], int.from_bytes(data[2:4], "big")
        authenticator, body = data[4:20], data[20:length]
        if hashlib.md5(data[:4] + bytes(16) + body + SECRET).digest() != authenticator:
            self.forged += 1
            return
        attrs, i = {}, 0
        while i < len(body):
            typ, alen = body[i], body[i + 1]
            value = body[i + 2:i + alen]
            i += alen
            name = NAMES.get(typ, f"Attr-{typ}")
            attrs[name] = str(ipaddress.IPv4Address(value)) if typ == 4 else \
                str(int.from_bytes(value, "big")) if typ == 55 else value.decode(errors="replace")
        self.requests.append((code, ident, authenticator, attrs))
        if self.answer == "silent" or code not in (DISCONNECT_REQUEST, COA_REQUEST):
            return
        ack = self.answer == "ack"
        rcode = {DISCONNECT_REQUEST: (DISCONNECT_ACK, DISCONNECT_NAK), COA_REQUEST: (COA_ACK, COA_NAK)}[code][not ack]
        rattrs = b"" if ack else bytes([101, 6]) + SESSION_CONTEXT_NOT_FOUND.to_bytes(4, "big")
        head = bytes([rcode, ident]) + (20 + len(rattrs)).to_bytes(2, "big")
        assert self.transport is not None
        self.transport.sendto(head + hashlib.md5(head + authenticator + rattrs + SECRET).digest() + rattrs, addr)


@dataclass
class Setup:
    engine: EngineProcess
    acct: int
    nas_port: int


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    require_binary("radclient")
    tmp = tmp_path_factory.mktemp("dynauth")
    port, birpc, auth, acct, nas_port = free_port(), free_port(), free_port(), free_port(), free_port()
    overrides = storage_overrides(tmp, port, birpc=f"127.0.0.1:{birpc}")
    overrides["radius_agent"] = {
        "listeners": [{"network": "udp", "auth_address": f"127.0.0.1:{auth}", "acct_address": f"127.0.0.1:{acct}"}],
        "client_da_addresses": {"127.0.0.1": {"transport": "udp", "host": "127.0.0.1", "port": nas_port,
                                              "flags": ["*log"]}},
    }
    src = shared_data("conf", "samples", "radius_coa_disconnect")
    overrides.update(without_unavailable_services(src))
    cfg = make_config_dir(tmp / "cfg", src, overrides=overrides)
    eng = EngineProcess(cfg, port, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "oldtutorial"))}) == "OK"
        yield Setup(eng, acct, nas_port)
    finally:
        eng.kill()


async def start_session(setup: Setup, session_id: str) -> str:
    """Accounting Start from radclient as the NAS; returns the session's OriginID."""
    attrs = (f'Acct-Status-Type = Start, Acct-Session-Id = "{session_id}", User-Name = "1001", '
             f'Called-Station-Id = "1002", NAS-IP-Address = 127.0.0.1, Event-Timestamp = {int(time.time())}')
    proc = await asyncio.create_subprocess_exec(
        require_binary("radclient"), "-r", "1", "-t", "2", f"127.0.0.1:{setup.acct}", "acct", SECRET.decode(),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate(attrs.encode())
    assert b"Received Accounting-Response" in out, out.decode()
    origin_id = f"{session_id}-modified"
    assert await call(setup, "SessionSv1.GetActiveSessions", {"Filters": [f"*string:~*req.OriginID:{origin_id}"]})
    return origin_id


async def call(setup: Setup, method: str, args: dict):
    return await asyncio.to_thread(setup.engine.call, method, args, 20.0)


async def nas(setup: Setup, answer: str) -> tuple[NAS, asyncio.DatagramTransport]:
    protocol = NAS(answer)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: protocol, local_addr=("127.0.0.1", setup.nas_port))
    return protocol, transport


async def test_force_disconnect_sends_a_disconnect_request(setup):
    origin_id = await start_session(setup, "dmr-1")
    protocol, transport = await nas(setup, "ack")
    try:
        assert await call(setup, "SessionSv1.ForceDisconnect",
                          {"Filters": [f"*string:~*req.OriginID:{origin_id}"]}) == "OK"
    finally:
        transport.close()
    [(code, _ident, _auth, attrs)] = protocol.requests
    assert code == DISCONNECT_REQUEST and protocol.forged == 0
    assert attrs == {"User-Name": "1001", "NAS-IP-Address": "127.0.0.1", "Acct-Session-Id": "dmr-1",
                     "Reply-Message": "FORCED_DISCONNECT"}
    assert "LOG, sending Disconnect-Request for session with ID 'dmr-1-modified'" in setup.engine.log()


async def test_alter_sessions_sends_a_coa_request(setup):
    origin_id = await start_session(setup, "coa-1")
    protocol, transport = await nas(setup, "ack")
    try:
        assert await call(setup, "SessionSv1.AlterSessions", {
            "Filters": [f"*string:~*req.OriginID:{origin_id}"], "Event": {"CustomFilter": "mycustomvalue"},
            "APIOpts": {"*radCoATemplate": "mycoa"}}) == "OK"
    finally:
        transport.close()
    [(code, _ident, _auth, attrs)] = protocol.requests
    assert code == COA_REQUEST
    assert attrs == {"User-Name": "1001", "NAS-IP-Address": "127.0.0.1", "Acct-Session-Id": "coa-1",
                     "Filter-Id": "mycustomvalue"}


async def test_nak_is_a_clear_error(setup):
    origin_id = await start_session(setup, "nak-1")
    protocol, transport = await nas(setup, "nak")
    try:
        with pytest.raises(RuntimeError) as err:
            await call(setup, "SessionSv1.ForceDisconnect", {"Filters": [f"*string:~*req.OriginID:{origin_id}"]})
    finally:
        transport.close()
    assert "received Disconnect-NAK from NAS 127.0.0.1" in str(err.value)
    assert "Session-Context-Not-Found" in str(err.value) and len(protocol.requests) == 1


async def test_silent_nas_gets_retries_then_a_time_out_error(setup):
    origin_id = await start_session(setup, "silent-1")
    protocol, transport = await nas(setup, "silent")
    try:
        with pytest.raises(RuntimeError, match=r"Disconnect-Request .* no answer after 3 attempts"):
            await call(setup, "SessionSv1.ForceDisconnect", {"Filters": [f"*string:~*req.OriginID:{origin_id}"]})
    finally:
        transport.close()
    assert len(protocol.requests) == 3  # RFC 5080 §2.2.1: the same Identifier and authenticator each time
    assert len({(ident, auth) for _code, ident, auth, _attrs in protocol.requests}) == 1
