"""SIP listeners on real loopback sockets: UDP and TCP clients of ours, and sipp (Debian sip-tester) as the peer."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
from pathlib import Path

import pytest

from pycgrates.agents.sip.codec import SipRequest, SipResponse, StreamFramer, parse_message, response_to
from pycgrates.agents.sip.transaction import SipTimers
from pycgrates.agents.sip.transport import SipListener, SipServer, Source
from tests.conftest import require_binary

FAST = SipTimers(t1=0.05, t2=0.4, t4=0.5)


class Recorder:
    """A handler that answers 302 to INVITE (200 to the rest), after ``delay``, and remembers what it saw."""

    def __init__(self, delay: float = 0.0, status: int = 302) -> None:
        self.delay = delay
        self.status = status
        self.seen: list[tuple[SipRequest, Source]] = []
        self.cancelled = 0

    async def __call__(self, request: SipRequest, source: Source) -> SipResponse:
        self.seen.append((request, source))
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if request.method == "INVITE":
            return response_to(request, self.status, headers=[("Contact", "<sip:1002@10.0.0.2:5060>;q=0.7")])
        return response_to(request, 200)


async def start(handler, network: str = "udp", timers: SipTimers = FAST, **kw) -> tuple[SipServer, int]:
    server = SipServer(handler, listeners=[SipListener("127.0.0.1", 0, network)], timers=timers, **kw)
    await server.start()
    return server, server.addresses[0][1]


def invite(port: int, method: str = "INVITE", branch: str = "z9hG4bK-t1", call_id: str = "c1",
           transport: str = "UDP", to_tag: str = "") -> bytes:
    to = "<sip:1002@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    return (f"{method} sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} 127.0.0.1:{port};branch={branch}"
            f";rport\r\nFrom: <sip:1001@127.0.0.1>;tag=f1\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


class UdpPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr) -> None:
        self.inbox.put_nowait(data)

    async def next(self, timeout: float = 2.0) -> SipResponse:
        msg = parse_message(await asyncio.wait_for(self.inbox.get(), timeout))
        assert isinstance(msg, SipResponse)
        return msg


async def udp_peer(port: int) -> tuple[asyncio.DatagramTransport, UdpPeer, int]:
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(UdpPeer, local_addr=("127.0.0.1", 0),
                                                          remote_addr=("127.0.0.1", port))
    return transport, peer, transport.get_extra_info("sockname")[1]


async def test_udp_invite_100_then_302_then_ack_stops_retransmissions():
    handler = Recorder()
    server, port = await start(handler)
    transport, peer, my_port = await udp_peer(port)
    try:
        transport.sendto(invite(my_port))
        trying, final = await peer.next(), await peer.next()
        assert (trying.status, final.status) == (100, 302)
        assert final.headers.get("Contact") == "<sip:1002@10.0.0.2:5060>;q=0.7"
        assert final.top_via.params["rport"] == str(my_port) and final.top_via.params["received"] == "127.0.0.1"
        again = await peer.next(0.5)  # timer G
        assert again.status == 302 and again.to_tag == final.to_tag
        transport.sendto(invite(my_port, "ACK", to_tag=final.to_tag))
        await asyncio.sleep(0.3)
        while not peer.inbox.empty():  # one may have crossed the ACK
            assert (await peer.next()).status == 302
        await asyncio.sleep(0.5)
        assert peer.inbox.empty()
        assert len(handler.seen) == 1 and server.layer.stats.ack_timeouts == 0
    finally:
        transport.close()
        await server.stop()


async def test_retransmitted_invite_reaches_the_handler_once():
    handler = Recorder(delay=0.3)
    server, port = await start(handler)
    transport, peer, my_port = await udp_peer(port)
    try:
        transport.sendto(invite(my_port))
        assert (await peer.next()).status == 100
        transport.sendto(invite(my_port))
        assert (await peer.next()).status == 100  # the last response again
        assert (await peer.next()).status == 302
        assert len(handler.seen) == 1 and server.layer.stats.retransmissions_absorbed == 1
    finally:
        transport.close()
        await server.stop()


async def test_cancel_answers_200_and_487_and_cancels_the_handler():
    handler = Recorder(delay=5.0)
    server, port = await start(handler)
    transport, peer, my_port = await udp_peer(port)
    try:
        transport.sendto(invite(my_port))
        assert (await peer.next()).status == 100
        await asyncio.sleep(0.05)
        transport.sendto(invite(my_port, "CANCEL"))
        responses = {(r.status, r.cseq[1]) for r in [await peer.next(), await peer.next()]}
        assert responses == {(200, "CANCEL"), (487, "INVITE")}
        await asyncio.sleep(0.05)
        assert handler.cancelled == 1
    finally:
        transport.close()
        await server.stop()


async def test_options_garbage_and_failing_handler(caplog):
    async def failing(request: SipRequest, source: Source) -> SipResponse:
        raise RuntimeError("routes unavailable")

    server, port = await start(failing)
    transport, peer, my_port = await udp_peer(port)
    try:
        transport.sendto(invite(my_port, "OPTIONS", branch="z9hG4bK-o"))
        options = await peer.next()
        assert options.status == 200 and "INVITE" in options.headers.get("Allow")
        with caplog.at_level(logging.WARNING, "pycgrates.agents.sip"):
            transport.sendto(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            transport.sendto(invite(my_port).replace(b"CSeq: 1 INVITE", b"CSeq: x"))
            transport.sendto(b"\r\n\r\n")  # a keep-alive: silently ignored
            await asyncio.sleep(0.3)
        assert peer.inbox.empty() and server.stats_garbage == 2
        assert sum(f"127.0.0.1:{my_port}/udp" in r.getMessage() for r in caplog.records) == 2
        transport.sendto(invite(my_port, branch="z9hG4bK-f"))
        assert [(await peer.next()).status, (await peer.next()).status] == [100, 500]
    finally:
        transport.close()
        await server.stop()


async def test_tcp_framing_pipelining_keepalive_and_garbage():
    handler = Recorder()
    server, port = await start(handler, "tcp")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framer = StreamFramer()

    async def responses(n: int) -> list[SipResponse]:
        out: list = []
        while len(out) < n:
            out += framer.feed(await asyncio.wait_for(reader.read(65536), 2))
        return out

    try:
        one = invite(port, branch="z9hG4bK-a", call_id="a", transport="TCP")
        two = invite(port, branch="z9hG4bK-b", call_id="b", transport="TCP")
        writer.write(one + two[:30])
        await asyncio.sleep(0.05)
        writer.write(two[30:] + b"\r\n\r\n")
        messages = [parse_message(f) for f in await responses(4)]  # the pong (CRLF) is no frame
        assert sorted((m.call_id, m.status) for m in messages) == [("a", 100), ("a", 302), ("b", 100), ("b", 302)]
        assert len(handler.seen) == 2 and all(src.network == "tcp" for _, src in handler.seen)
        writer.write(b"NOT SIP AT ALL\r\nContent-Length: 0\r\n\r\n")  # delimited garbage: dropped
        writer.write(invite(port, "OPTIONS", branch="z9hG4bK-c", transport="TCP"))
        (options,) = [parse_message(f) for f in await responses(1)]
        assert options.status == 200 and server.stats_garbage == 1
        writer.write(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: many\r\n\r\n")  # the stream is lost: closed
        assert await asyncio.wait_for(reader.read(), 2) == b""
    finally:
        writer.close()
        await server.stop()


async def test_tcp_pong():
    server, port = await start(Recorder(), "tcp")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"\r\n\r\n")
        assert await asyncio.wait_for(reader.read(100), 2) == b"\r\n"
    finally:
        writer.close()
        await server.stop()


# ---- sipp -----------------------------------------------------------------------------------------------------------
SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="{name}">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:1001@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="302"/>
{after}
</scenario>
"""
ACK = """  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="200"/>"""


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def sipp(tmp_path: Path, port: int, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    binary = require_binary("sipp")
    cmd = [binary, f"127.0.0.1:{port}", "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)), "-s", "1002",
           "-nostdin", "-timeout", f"{int(timeout)}s", "-trace_err", "-trace_msg", *args]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout + 10)
    return subprocess.CompletedProcess(cmd, proc.returncode or 0, out.decode(errors="replace"), "")


def sipp_log(tmp_path: Path, kind: str) -> str:
    return "".join(p.read_text(errors="replace") for p in tmp_path.glob(f"*_{kind}.log"))


@pytest.mark.parametrize("network, flag", [("udp", "u1"), ("tcp", "t1")])
async def test_sipp_redirected_calls_with_ack(tmp_path, network, flag):
    handler = Recorder()
    server, port = await start(handler, network)
    (tmp_path / "redirect.xml").write_text(SCENARIO.format(name="redirect", after=ACK))
    try:
        result = await sipp(tmp_path, port, "-sf", "redirect.xml", "-t", flag, "-m", "20", "-r", "50")
        assert result.returncode == 0, result.stdout + sipp_log(tmp_path, "errors")
        assert len(handler.seen) == 20
        await asyncio.sleep(0.2)
        assert server.layer.stats.ack_timeouts == 0
        assert not any(tx.state.value == "completed" for tx in server.layer.transactions.values())
    finally:
        await server.stop()


async def test_sipp_lost_ack_gets_the_302_on_rfc_timers(tmp_path):
    handler = Recorder()
    server, port = await start(handler)
    (tmp_path / "lost_ack.xml").write_text(SCENARIO.format(name="lost ACK",
                                                           after='  <pause milliseconds="4500"/>'))
    try:
        result = await sipp(tmp_path, port, "-sf", "lost_ack.xml", "-m", "1")
        assert result.returncode == 0, result.stdout + sipp_log(tmp_path, "errors")
        received = sipp_log(tmp_path, "messages").count("SIP/2.0 302 Moved Temporarily")
        # G at T1, 2T1, 4T1, then every T2, until H = 64*T1: 0.05 0.15 0.35 0.75 1.15 ... 3.15 → 10 retransmissions
        assert received == 1 + 10
        assert server.layer.stats.final_retransmissions == 10 and server.layer.stats.ack_timeouts == 1
        assert len(server.layer) == 0
    finally:
        await server.stop()


async def test_sipp_builtin_uac_full_call_against_a_200(tmp_path):
    handler = Recorder(status=200)
    server, port = await start(handler)
    try:
        result = await sipp(tmp_path, port, "-sn", "uac", "-m", "5", "-r", "20", "-d", "100")
        assert result.returncode == 0, result.stdout + sipp_log(tmp_path, "errors")
        assert [r.method for r, _ in handler.seen].count("INVITE") == 5
        assert [r.method for r, _ in handler.seen].count("BYE") == 5
        assert server.layer.stats.ack_timeouts == 0  # the ACKs to the 200s were matched by dialog
    finally:
        await server.stop()


async def test_sipp_builtin_uac_against_a_302_gets_no_ack_and_the_302_is_retransmitted(tmp_path):
    handler = Recorder()
    server, port = await start(handler)
    try:
        result = await sipp(tmp_path, port, "-sn", "uac", "-m", "3", "-r", "30", "-timeout_error")
        assert result.returncode != 0  # sipp's uac scenario wants 180/200: the calls fail on the 302
        assert len(handler.seen) == 3
        await asyncio.sleep(3.5)
        assert server.layer.stats.ack_timeouts == 3 and server.layer.stats.final_retransmissions == 30
    finally:
        await server.stop()


async def test_slow_handler_times_out_and_a_failing_error_hook_still_answers():
    def broken_hook(request: SipRequest, exc: BaseException) -> SipResponse:
        raise RuntimeError("the *err template failed")

    server, port = await start(Recorder(delay=5.0), request_timeout=0.2, error_response=broken_hook)
    transport, peer, my_port = await udp_peer(port)
    try:
        transport.sendto(invite(my_port))
        assert (await peer.next()).status == 100
        assert (await peer.next(1.0)).status == 500
    finally:
        transport.close()
        await server.stop()
