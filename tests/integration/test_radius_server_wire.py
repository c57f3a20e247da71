"""The RADIUS server on real sockets with radclient (Debian freeradius-utils) as the NAS, and the Disconnect/CoA
client against a test NAS written from RFC 5176 (and RFC 6613 for TCP)."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from dataclasses import dataclass, field

import pytest

from pycgrates.agents.radius import (
    ACCESS_ACCEPT,
    ACCESS_REJECT,
    ACCESS_REQUEST,
    ACCOUNTING_REQUEST,
    COA_ACK,
    COA_NAK,
    COA_REQUEST,
    DISCONNECT_ACK,
    DISCONNECT_NAK,
    DISCONNECT_REQUEST,
    ClientTable,
    DynAuthClient,
    DynAuthNak,
    DynAuthTimeout,
    Packet,
    RadiusError,
    RadiusServer,
    check_request,
    check_response,
    load_dictionary,
)
from pycgrates.agents.radius.auth import (
    check_chap,
    check_mschap,
    check_mschapv2,
    check_pap,
    mppe_keys,
    mschapv2_nt_response,
)
from tests.conftest import require_binary, shared_data

SECRET = "testing123"
USERS = {"alice": "alicepw", "User": "clientPass"}


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary()


@dataclass
class Harness:
    server: RadiusServer
    calls: list = field(default_factory=list)
    delay: float = 0.0

    def addr(self, network: str = "udp", kind: str = "auth") -> str:
        host, port = self.server.address(network, kind)
        return f"{host}:{port}"


async def nas_handler(h: Harness, request: Packet, client) -> Packet | None:
    """A small AAA policy: the password checks of agents.radius.auth, accounting always answered."""
    h.calls.append((request, client))
    if h.delay:
        await asyncio.sleep(h.delay)
    if request.code == ACCOUNTING_REQUEST:
        return request.reply()
    user = request.text("User-Name", "")
    password = USERS.get(user)
    reply = request.reply(ACCESS_REJECT)
    if password is None:
        return reply
    ok = False
    if pap := request.find("User-Password"):
        ok = check_pap(pap[0].raw, password)
    elif chap := request.find("CHAP-Password"):
        ok = check_chap(chap[0].raw, request.get("CHAP-Challenge") or request.authenticator, password)
    elif v2 := request.get("MS-CHAP2-Response"):
        success = check_mschapv2(user, password, request.get("MS-CHAP-Challenge", b""), v2)
        if success is not None:
            ok = True
            send_key, recv_key = mppe_keys(password, v2[26:50])
            reply.add("MS-CHAP2-Success", success)
            reply.add("MS-MPPE-Send-Key", send_key)
            reply.add("MS-MPPE-Recv-Key", recv_key)
    elif v1 := request.get("MS-CHAP-Response"):
        ok = check_mschap(password, request.get("MS-CHAP-Challenge", b""), v1)
    if ok:
        reply.code = ACCESS_ACCEPT
        reply.add("Reply-Message", f"welcome {user}")
        reply.add("Session-Timeout", 3600)
    return reply


@pytest.fixture
async def harness(dictionary):
    h = Harness(server=None)  # type: ignore[arg-type]
    h.server = RadiusServer(lambda req, client: nas_handler(h, req, client),
                            secrets={"127.0.0.1": SECRET}, dictionaries=dictionary, duplicate_window=5)
    await h.server.start([
        {"network": "udp", "auth_address": "127.0.0.1:0", "acct_address": "127.0.0.1:0"},
        {"network": "tcp", "auth_address": "127.0.0.1:0", "acct_address": "127.0.0.1:0"},
    ])
    yield h
    await h.server.close()


async def radclient(address: str, command: str, attributes: str, secret: str = SECRET, *options: str,
                    timeout: float = 1.0, retries: int = 1) -> tuple[int, str]:
    """Run radclient (``retries`` counts every send, 1 = no retransmission); returns (exit code, output)."""
    exe = require_binary("radclient")
    proc = await asyncio.create_subprocess_exec(
        exe, "-x", "-t", str(timeout), "-r", str(retries), *options, address, command, secret,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate(attributes.encode())
    return proc.returncode or 0, out.decode(errors="replace")


def answered(out: str) -> bool:
    return re.search(r"^Received (Access|Accounting)-", out, re.M) is not None


# ---------------------------------------------------------------- authentication


async def test_pap_accept_and_reject(harness):
    rc, out = await radclient(harness.addr(), "auth", "User-Name=alice,User-Password=alicepw")
    assert rc == 0 and "Received Access-Accept" in out and 'Reply-Message = "welcome alice"' in out
    assert "Session-Timeout = 3600" in out
    _rc, out = await radclient(harness.addr(), "auth", "User-Name=alice,User-Password=wrong")
    assert "Received Access-Reject" in out
    request, client = harness.calls[0]
    assert request.get("User-Password") == "alicepw"
    assert (client.host, client.transport, client.listener) == ("127.0.0.1", "udp", "auth")
    assert "alicepw" not in repr(request) and SECRET not in repr(client)


async def test_chap(harness):
    _rc, out = await radclient(harness.addr(), "auth", "User-Name=alice,CHAP-Password=alicepw")
    assert "Received Access-Accept" in out, out
    _rc, out = await radclient(harness.addr(), "auth", "User-Name=alice,CHAP-Password=nope")
    assert "Received Access-Reject" in out, out


async def test_mschap_v1_computed_by_radclient(harness):
    _rc, out = await radclient(harness.addr(), "auth", "User-Name=alice,MS-CHAP-Password=alicepw")
    assert "MS-CHAP-Response" in out and "Received Access-Accept" in out, out


async def test_mschap_v2_with_success_and_mppe_keys(harness):
    # radclient has no MS-CHAPv2 of its own: it sends the challenge/response computed here (RFC 2759 §9.2).
    auth_challenge = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
    peer_challenge = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
    nt = mschapv2_nt_response(auth_challenge, peer_challenge, "User", "clientPass")
    response = b"\x07\x00" + peer_challenge + bytes(8) + nt
    attrs = f"User-Name=User,MS-CHAP-Challenge=0x{auth_challenge.hex()},MS-CHAP2-Response=0x{response.hex()}"
    _rc, out = await radclient(harness.addr(), "auth", attrs)
    assert "Received Access-Accept" in out, out
    success = b"\x07S=407A5589115FD0D6209F510FE9C04566932CDA56"
    assert f"MS-CHAP2-Success = 0x{success.hex()}" in out
    assert "MS-MPPE-Send-Key = 0x8b7cdc149b993a1ba118cb153f56dccb" in out  # radclient un-hid it with the secret
    bad = response[:-1] + bytes([response[-1] ^ 1])
    _rc, out = await radclient(harness.addr(), "auth",
                              f"User-Name=User,MS-CHAP-Challenge=0x{auth_challenge.hex()},"
                              f"MS-CHAP2-Response=0x{bad.hex()}")
    assert "Received Access-Reject" in out and "MS-CHAP2-Success" not in out


async def test_message_authenticator_is_checked_and_replies_are_signed(harness):
    _rc, out = await radclient(harness.addr(), "auth",
                              "User-Name=alice,User-Password=alicepw,Message-Authenticator=0x00")
    assert "Received Access-Accept" in out and "Message-Authenticator = 0x" in out.split("Received")[1]


async def test_tcp_listener(harness):
    _rc, out = await radclient(harness.addr("tcp", "auth"), "auth", "User-Name=alice,User-Password=alicepw",
                              SECRET, "-P", "tcp")
    assert "Received Access-Accept" in out, out
    _rc, out = await radclient(harness.addr("tcp", "acct"), "acct", "Acct-Status-Type=Stop,Acct-Session-Id=t1",
                              SECRET, "-P", "tcp")
    assert "Received Accounting-Response" in out, out
    assert harness.calls[-1][1].transport == "tcp"


# ---------------------------------------------------------------- accounting, Status-Server


async def test_accounting_request(harness):
    rc, out = await radclient(harness.addr("udp", "acct"), "acct",
                              "Acct-Status-Type=Start,Acct-Session-Id=sess-1,User-Name=alice,"
                              "Event-Timestamp=1700000000,NAS-IP-Address=10.1.1.1,Acct-Input-Octets=1234,"
                              "Proxy-State=0x70726f7879")
    assert rc == 0 and "Received Accounting-Response" in out, out
    assert "Proxy-State = 0x70726f7879" in out.split("Received")[1]  # echoed (RFC 2865 §5.33)
    request, client = harness.calls[-1]
    assert request.code == ACCOUNTING_REQUEST and client.listener == "acct"
    assert request.as_dict() == {
        "Acct-Status-Type": ["Start"], "Acct-Session-Id": ["sess-1"], "User-Name": ["alice"],
        "Event-Timestamp": ["2023-11-14T22:13:20Z"], "NAS-IP-Address": ["10.1.1.1"], "Acct-Input-Octets": ["1234"],
        "Proxy-State": ["proxy"]}


async def test_codes_are_served_on_their_own_port(harness):
    _rc, out = await radclient(harness.addr("udp", "acct"), "auth", "User-Name=alice,User-Password=alicepw",
                              timeout=0.3, retries=1)
    assert not answered(out)
    assert harness.calls == [] and harness.server.stats["dropped_code"] == 1


async def test_status_server(harness):
    rc, out = await radclient(harness.addr(), "status", "Message-Authenticator=0x00")
    assert rc == 0 and "Received Access-Accept" in out, out
    _rc, out = await radclient(harness.addr("udp", "acct"), "status", "Message-Authenticator=0x00")
    assert "Received Accounting-Response" in out, out
    _rc, out = await radclient(harness.addr("tcp", "auth"), "status", "Message-Authenticator=0x00", SECRET,
                              "-P", "tcp")
    assert "Received Access-Accept" in out, out
    assert harness.calls == []  # answered by the server itself
    assert harness.server.stats["status_server"] == 3


# ---------------------------------------------------------------- forged packets


async def test_wrong_secret_gets_no_reply(harness):
    attempts = [
        ("acct", "acct", "Acct-Status-Type=Start,Acct-Session-Id=x"),
        ("auth", "auth", "User-Name=alice,User-Password=alicepw,Message-Authenticator=0x00"),
        ("auth", "status", "Message-Authenticator=0x00"),
    ]
    for kind, command, attrs in attempts:
        rc, out = await radclient(harness.addr("udp", kind), command, attrs, "not-the-secret", timeout=0.3)
        assert rc != 0 and not answered(out), out
    _rc, out = await radclient(harness.addr("tcp", "acct"), "acct", "Acct-Status-Type=Start,Acct-Session-Id=x",
                              "not-the-secret", "-P", "tcp", timeout=0.3, retries=1)
    assert not answered(out)
    assert harness.calls == []
    assert harness.server.stats["dropped_authenticator"] == 4
    assert harness.server.stats["replies"] == 0


async def test_require_message_authenticator(dictionary):
    calls = []

    async def handler(request, client):
        calls.append(request)
        return request.reply()

    server = RadiusServer(handler, secrets={"*default": SECRET}, dictionaries=dictionary,
                          require_message_authenticator=True)
    host, port = await server.listen("udp", "127.0.0.1:0", "auth")
    try:
        _rc, out = await radclient(f"{host}:{port}", "auth", "User-Name=alice,User-Password=alicepw",
                                  timeout=0.3, retries=1)
        assert not answered(out) and calls == []
        _rc, out = await radclient(f"{host}:{port}", "auth",
                                  "User-Name=alice,User-Password=alicepw,Message-Authenticator=0x00")
        assert "Received Access-Accept" in out and len(calls) == 1
    finally:
        await server.close()


async def test_unknown_client_is_dropped(dictionary):
    server = RadiusServer(lambda r, c: pytest.fail("handler called"), secrets={"192.0.2.9": SECRET},
                          dictionaries=dictionary)
    host, port = await server.listen("udp", "127.0.0.1:0", "acct")
    try:
        _rc, out = await radclient(f"{host}:{port}", "acct", "Acct-Status-Type=Start", timeout=0.3, retries=1)
        assert not answered(out)
        assert server.stats["dropped_unknown_client"] == 1
    finally:
        await server.close()


def test_client_table_lookup():
    table = ClientTable({"10.0.0.1": "exact", "10.0.0.0/8": "net8", "10.1.0.0/16": "net16", "*default": "dflt"})
    assert table.lookup("10.0.0.1") == "exact"
    assert table.lookup("::ffff:10.0.0.1") == "exact"
    assert table.lookup("10.1.2.3") == "net16"
    assert table.lookup("10.9.9.9") == "net8"
    assert table.lookup("192.0.2.1") == "dflt"
    assert ClientTable({"10.0.0.1": 1}).lookup("10.0.0.2") is None
    with pytest.raises(ValueError, match="client_secrets: 'bogus/x'"):
        ClientTable({"bogus/x": 1}, "client_secrets")


# ---------------------------------------------------------------- duplicates (RFC 5080 §2.2.2)


class UDPNas:
    """One client socket, so that copies of a request come from the same source port."""

    def __init__(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self.target = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(1.0)

    def exchange(self, datagrams: list[bytes], expect: int) -> list[bytes]:
        for data in datagrams:
            self.sock.sendto(data, self.target)
            time.sleep(0.05)
        replies = []
        try:
            while len(replies) < expect:
                replies.append(self.sock.recv(4096))
        except TimeoutError:
            pass
        return replies

    def close(self) -> None:
        self.sock.close()


async def test_duplicates_get_the_same_reply_and_one_handler_call(harness, dictionary):
    harness.delay = 0.3  # the copies arrive while the first is still being processed
    p = Packet("Accounting-Request", 77, dictionary=dictionary, secret=SECRET)
    p.add("Acct-Status-Type", "Interim-Update")
    p.add("Acct-Session-Id", "dup-1")
    data = p.encode()
    nas = UDPNas(harness.addr("udp", "acct"))
    try:
        replies = await asyncio.to_thread(nas.exchange, [data, data, data], 3)
        assert len(replies) == 3 and replies[0] == replies[1] == replies[2]
        assert check_response(replies[0], SECRET.encode(), p.authenticator) == 5
        assert len(harness.calls) == 1
        # After the first answer, a late copy is answered from the cache.
        harness.delay = 0
        assert await asyncio.to_thread(nas.exchange, [data], 1) == replies[:1]
        assert len(harness.calls) == 1
        # A new request (new authenticator) with the same Identifier is processed.
        p.authenticator = None
        p.add("Acct-Delay-Time", 1)
        assert len(await asyncio.to_thread(nas.exchange, [p.encode()], 1)) == 1
        assert len(harness.calls) == 2
        # The same bytes from another source port are another client's request.
        other = UDPNas(harness.addr("udp", "acct"))
        assert len(await asyncio.to_thread(other.exchange, [data], 1)) == 1
        other.close()
        assert len(harness.calls) == 3
    finally:
        nas.close()
    assert harness.server.stats["duplicates"] == 3


async def test_radclient_retransmissions_are_not_processed_twice(harness):
    harness.delay = 1.5
    _rc, out = await radclient(harness.addr(), "auth", "User-Name=alice,User-Password=alicepw",
                              timeout=0.3, retries=5)
    assert "Received Access-Accept" in out, out
    sent = out.count("Sent Access-Request")
    assert sent >= 2
    assert len(harness.calls) == 1
    assert harness.server.stats["duplicates"] == sent - 1


# ---------------------------------------------------------------- per-client dictionaries


async def test_client_dictionary_from_its_source_address(dictionary):
    kamailio = load_dictionary(shared_data("radius", "dict"))
    seen = []

    async def handler(request, client):
        seen.append((request.text("Sip-From-Tag"), request.text("Sip-Method"), client.dictionary is kamailio))
        return request.reply()

    server = RadiusServer(handler, secrets={"*default": SECRET},
                          dictionaries={"127.0.0.1": kamailio, "*default": dictionary})
    host, port = await server.listen("udp", "127.0.0.1:0", "acct")
    try:
        p = Packet("Accounting-Request", 1, dictionary=kamailio, secret=SECRET)
        p.add("Acct-Status-Type", "Start")
        p.add("Sip-From-Tag", "12345678")
        p.add("Sip-Method", "Invite")
        nas = UDPNas(f"{host}:{port}")
        replies = await asyncio.to_thread(nas.exchange, [p.encode()], 1)
        nas.close()
        assert len(replies) == 1
        assert seen == [("12345678", "Invite", True)]
    finally:
        await server.close()


# ---------------------------------------------------------------- Disconnect / CoA (RFC 5176)


class TestNAS(asyncio.DatagramProtocol):
    """A NAS's Dynamic Authorization Server: ACKs a known Acct-Session-Id, NAKs with Error-Cause otherwise."""

    __test__ = False

    def __init__(self, dictionary, secret=SECRET, sessions=("sess-1",), drop_first=0, silent=False,
                 reply_secret=None):
        self.dictionary = dictionary
        self.secret = secret.encode()
        self.reply_secret = (reply_secret or secret).encode()
        self.sessions = set(sessions)
        self.drop_first = drop_first
        self.silent = silent
        self.received: list[bytes] = []

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.received.append(data)
        try:
            code = check_request(data, self.secret)
        except RadiusError:
            return  # RFC 5176 §5.2: silently discard
        if self.silent or len(self.received) <= self.drop_first:
            return
        request = Packet.decode(data, self.dictionary, self.secret)
        reply = self.answer(code, request)
        reply.secret = self.reply_secret
        self.transport.sendto(reply.encode(), addr)

    def answer(self, code: int, request: Packet) -> Packet:
        known = request.text("Acct-Session-Id") in self.sessions
        if code == DISCONNECT_REQUEST:
            reply = request.reply(DISCONNECT_ACK if known else DISCONNECT_NAK)
        else:
            known = known and request.find("Filter-Id")
            reply = request.reply(COA_ACK if known else COA_NAK)
        if not known:
            cause = "Session-Context-Not-Found" if code == DISCONNECT_REQUEST else "Missing-Attribute"
            reply.add("Error-Cause", cause)
        return reply


async def start_nas(**kw) -> tuple[TestNAS, asyncio.DatagramTransport, int]:
    loop = asyncio.get_running_loop()
    transport, nas = await loop.create_datagram_endpoint(lambda: TestNAS(**kw), local_addr=("127.0.0.1", 0))
    return nas, transport, transport.get_extra_info("sockname")[1]


async def test_disconnect_ack_and_nak(dictionary):
    _nas, transport, port = await start_nas(dictionary=dictionary)
    try:
        client = DynAuthClient("127.0.0.1", port, secret=SECRET, dictionary=dictionary, timeout=0.5)
        result = await client.disconnect({"User-Name": "alice", "Acct-Session-Id": "sess-1",
                                          "NAS-IP-Address": "127.0.0.1"})
        assert result.acked and result.code == DISCONNECT_ACK and result.error_cause is None
        assert result.raise_for_nak() is result
        result = await client.disconnect([("Acct-Session-Id", "gone")])
        assert not result.acked and result.code == DISCONNECT_NAK
        assert (result.error_cause, result.error_cause_name) == (503, "Session-Context-Not-Found")
        with pytest.raises(DynAuthNak, match=rf"Disconnect-NAK from NAS 127.0.0.1:{port}: Error-Cause "
                                             r"Session-Context-Not-Found \(503\)"):
            result.raise_for_nak()
    finally:
        transport.close()


async def test_coa_ack_and_nak(dictionary):
    nas, transport, port = await start_nas(dictionary=dictionary)
    try:
        client = DynAuthClient("127.0.0.1", port, secret=SECRET, dictionary=dictionary, timeout=0.5)
        result = await client.coa({"Acct-Session-Id": "sess-1", "Filter-Id": "gold", "Session-Timeout": 60})
        assert result.acked and result.code == COA_ACK
        request = Packet.decode(nas.received[-1], dictionary, SECRET)
        assert request.code == COA_REQUEST and request.get("Session-Timeout") == 60
        result = await client.coa({"Acct-Session-Id": "sess-1"})
        assert result.code == COA_NAK and result.error_cause_name == "Missing-Attribute"
    finally:
        transport.close()


async def test_retries_resend_the_same_bytes(dictionary):
    nas, transport, port = await start_nas(dictionary=dictionary, drop_first=2)
    try:
        client = DynAuthClient("127.0.0.1", port, secret=SECRET, dictionary=dictionary, timeout=0.2, retries=2)
        result = await client.disconnect({"Acct-Session-Id": "sess-1"})
        assert result.acked
        assert len(nas.received) == 3 and len(set(nas.received)) == 1
    finally:
        transport.close()


async def test_timeout_and_forged_replies_are_clear_errors(dictionary):
    for kw in ({"silent": True}, {"reply_secret": "forged"}):
        nas, transport, port = await start_nas(dictionary=dictionary, **kw)
        try:
            client = DynAuthClient("127.0.0.1", port, secret=SECRET, dictionary=dictionary, timeout=0.15,
                                   retries=1)
            with pytest.raises(DynAuthTimeout, match=rf"Disconnect-Request to NAS 127.0.0.1:{port}: no answer "
                                                     r"after 2 attempts"):
                await client.disconnect({"Acct-Session-Id": "sess-1"})
            assert len(nas.received) == 2
        finally:
            transport.close()


async def test_wrong_secret_on_our_side_is_discarded_by_the_nas(dictionary):
    _nas, transport, port = await start_nas(dictionary=dictionary)
    try:
        client = DynAuthClient("127.0.0.1", port, secret="other", dictionary=dictionary, timeout=0.15, retries=1)
        with pytest.raises(DynAuthTimeout):
            await client.coa({"Acct-Session-Id": "sess-1", "Filter-Id": "x"})
    finally:
        transport.close()


async def test_disconnect_over_tcp(dictionary):
    async def nas_connection(reader, writer):
        logic = TestNAS(dictionary)
        while True:
            try:
                head = await reader.readexactly(4)
            except asyncio.IncompleteReadError:
                break
            data = head + await reader.readexactly(int.from_bytes(head[2:4], "big") - 4)
            code = check_request(data, SECRET.encode())
            reply = logic.answer(code, Packet.decode(data, dictionary, SECRET))
            writer.write(reply.encode())
        writer.close()

    server = await asyncio.start_server(nas_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = DynAuthClient("127.0.0.1", port, secret=SECRET, dictionary=dictionary, transport="tcp",
                               timeout=0.5)
        assert (await client.disconnect({"Acct-Session-Id": "sess-1"})).acked
        assert (await client.disconnect({"Acct-Session-Id": "nope"})).error_cause == 503
    finally:
        server.close()
        await server.wait_closed()


def test_dynauth_argument_errors(dictionary):
    with pytest.raises(ValueError, match="udp or tcp"):
        DynAuthClient("h", secret="s", dictionary=dictionary, transport="sctp")
    client = DynAuthClient("h", secret="s", dictionary=dictionary)
    with pytest.raises(ValueError, match="not a Disconnect-Request or CoA-Request"):
        client.new_request(ACCESS_REQUEST)
