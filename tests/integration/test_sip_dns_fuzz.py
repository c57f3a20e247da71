"""Mutation fuzzing of the SIP and DNS codecs and of their listeners on real loopback sockets.

The codecs may raise only SipError / DnsError, whatever the bytes; what they accept packs again. The listeners
never answer what does not parse, answer each parsable DNS query exactly once, and survive everything (no failed
task, no exception reaching the event loop, still answering afterwards). SIPDNS_FUZZ_COUNT sets the number of
mutated messages per test (20 000 by default; 1 000 000 was run by hand).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random

from dnslib import RR, DNSRecord, EDNSOption

from pycgrates.agents.dns.codec import DnsError, pack_reply, parse_message, parse_query, query_problem, reply_to
from pycgrates.agents.dns.transport import DnsListener, DnsServer
from pycgrates.agents.sip.codec import SipError, SipResponse, StreamFramer, response_to
from pycgrates.agents.sip.codec import parse_message as parse_sip
from pycgrates.agents.sip.transaction import SipTimers
from pycgrates.agents.sip.transport import SipListener, SipServer

FUZZ_COUNT = int(os.environ.get("SIPDNS_FUZZ_COUNT", "20000"))
#: datagrams in flight at once: a loopback socket buffer holds a few hundred small ones at most
BATCH = 50


# ---- seeds and mutations ------------------------------------------------------------------------------------------
def sip_seeds() -> list[bytes]:
    via = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-{n};rport\r\n"
    common = "From: \"A, B\" <sip:1001@example.org>;tag=f{n}\r\nTo: <sip:1002@example.org>{to}\r\nCall-ID: c{n}\r\n"
    out = []
    for n, (method, to) in enumerate([("INVITE", ""), ("ACK", ";tag=t"), ("CANCEL", ""), ("OPTIONS", ""),
                                      ("BYE", ";tag=t"), ("REGISTER", "")]):
        body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n" if method == "INVITE" else ""
        out.append((f"{method} sip:1002@example.org SIP/2.0\r\n" + via.format(n=n) + common.format(n=n, to=to)
                    + f"CSeq: {n + 1} {method}\r\nMax-Forwards: 70\r\nContact: <sip:1001@192.0.2.1>, <sip:x@y>\r\n"
                    + f"Subject: a\r\n folded\r\nl: {len(body)}\r\n\r\n{body}").encode())
    out.append(b"i: c9\r\n".join([b"SIP/2.0 302 Moved Temporarily\r\n" + via.format(n=9).encode(),
                                  common.format(n=9, to=";tag=t").encode() + b"CSeq: 1 INVITE\r\n\r\n"]))
    return out


def dns_seeds() -> list[bytes]:
    out = []
    for name, qtype in (("4.6.9.4.7.1.7.1.5.6.8.9.4.e164.arpa.", "NAPTR"), ("_sip._udp.opensips.org.", "SRV"),
                        ("cgrates.org.", "A"), ("cgrates.org.", "AAAA")):
        q = DNSRecord.question(name, qtype)
        out.append(q.pack())
        q.add_ar(RR(".", 41, rclass=1232, ttl=0x8000, rdata=[EDNSOption(4, b"sip:cgrates@cgrates.org"),
                                                                EDNSOption(10, b"\x01" * 8)]))
        out.append(q.pack())
    return out


def mutate(rng: random.Random, data: bytes, seeds: list[bytes], text: bool) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(12 if text else 9)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(256)
        elif op == 2:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 16))
        elif op == 3 and buf:
            del buf[pos:pos + rng.randint(1, 16)]
        elif op == 4 and buf:
            end = min(len(buf), pos + rng.randint(1, 32))
            buf[pos:pos] = buf[pos:end]
        elif op == 5:
            del buf[pos:]
        elif op == 6:
            other = rng.choice(seeds)
            cut = rng.randrange(len(other) + 1)
            buf = buf[:pos] + bytearray(other[cut:])
        elif op == 7 and len(buf) > 2:
            i = rng.randrange(len(buf) - 1)
            buf[i:i + 2] = rng.choice([b"\x00\x00", b"\xff\xff", b"\xc0\x0c", b"\x3f\x3f", b"\x00\x29"])
        elif op == 8:
            buf = bytearray(rng.randbytes(rng.randint(0, 64)))
        elif op == 9:  # text: shuffle, drop or double a line
            lines = bytes(buf).split(b"\r\n")
            i = rng.randrange(len(lines))
            choice = rng.randrange(3)
            if choice == 0:
                rng.shuffle(lines)
            elif choice == 1:
                del lines[i]
            else:
                lines.insert(i, lines[i])
            buf = bytearray(b"\r\n".join(lines))
        elif op == 10:
            buf[pos:pos] = rng.choice([b"\r\n", b"\r\n\r\n", b":", b";", b",", b"<", b">", b"\"", b" ", b"\t",
                                       b"\r\n ", b"\xff\xfe", b"%00", b"l: 99999\r\n", b"Content-Length: -1\r\n",
                                       b"Via: SIP/2.0/UDP [::1\r\n", b"CSeq: 1\r\n"])
        elif op == 11:
            buf = bytearray(bytes(buf).replace(rng.choice([b"SIP/2.0", b"INVITE", b"CSeq", b"Via", b":", b"\r\n"]),
                                               rng.choice([b"", b"X", b"SIP/3.0", b"\n", b"::"]), 1))
    return bytes(buf)


def corpus(seeds: list[bytes], count: int, seed: int, text: bool) -> list[bytes]:
    rng = random.Random(seed)
    return [mutate(rng, rng.choice(seeds), seeds, text) for _ in range(count)]


def sip_is_garbage(data: bytes) -> bool:
    try:
        parse_sip(data)
    except SipError:
        return True
    return False


def dns_answerable(data: bytes) -> bool:
    try:
        parse_query(data)
    except DnsError:
        return False
    return True


class LoopErrors:
    """Exceptions that reach the event loop's handler (callbacks of protocols, orphaned futures)."""

    def __init__(self) -> None:
        self.errors: list[dict] = []
        self.loop = asyncio.get_running_loop()
        self.loop.set_exception_handler(lambda _loop, ctx: self.errors.append(ctx))

    def close(self) -> None:
        self.loop.set_exception_handler(None)


async def wait_for(predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "the listener fell behind"
        await asyncio.sleep(0.002)


# ---- codecs ---------------------------------------------------------------------------------------------------------
def test_sip_codec_fuzz():
    seeds = sip_seeds()
    accepted = 0
    framer = StreamFramer()
    rng = random.Random(7)
    for data in corpus(seeds, FUZZ_COUNT, 1, text=True):
        try:
            message = parse_sip(data)
        except SipError:
            pass
        else:
            accepted += 1
            again = parse_sip(message.pack())
            assert again.start_line() == message.start_line() and again.body == message.body
            assert [h for h in again.headers if h[0] != "Content-Length"] == \
                [h for h in message.headers if h[0] != "Content-Length"]
            if not isinstance(message, SipResponse):
                response_to(message, 302).pack()
        try:
            framer.feed(data[: rng.randrange(len(data) + 1)])
        except SipError:
            framer = StreamFramer()
    assert 0 < accepted < FUZZ_COUNT  # the corpus holds both


def test_dns_codec_fuzz():
    seeds = dns_seeds()
    accepted = 0
    for data in corpus(seeds, FUZZ_COUNT, 2, text=False):
        try:
            message = parse_message(data)
        except DnsError:
            continue
        accepted += 1
        query_problem(message)
        try:
            pack_reply(reply_to(message), 512)
        except DnsError:
            pass  # a name dnslib read but cannot write again: the listener answers SERVFAIL then
    assert 0 < accepted < FUZZ_COUNT


# ---- listeners ------------------------------------------------------------------------------------------------------
class Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []

    def datagram_received(self, data: bytes, addr) -> None:
        self.received.append(data)


async def test_sip_udp_listener_fuzz():
    handled = []

    async def handler(request, source):
        handled.append(request)
        return response_to(request, 302, headers=[("Contact", "<sip:1002@10.0.0.2>")])

    loop_errors = LoopErrors()
    server = SipServer(handler, listeners=[SipListener("127.0.0.1", 0, "udp")], timers=SipTimers(0.05, 0.4, 0.5))
    await server.start()
    transport, client = await asyncio.get_running_loop().create_datagram_endpoint(
        Collector, remote_addr=("127.0.0.1", server.addresses[0][1]))
    try:
        messages = corpus(sip_seeds(), FUZZ_COUNT, 3, text=True)
        garbage = [m for m in messages if m.strip(b"\r\n\x00 ") and sip_is_garbage(m)]
        for i in range(0, len(garbage), BATCH):  # paced, so the socket buffer never drops any
            for data in garbage[i:i + BATCH]:
                transport.sendto(data[:65000])
            await wait_for(lambda n=min(i + BATCH, len(garbage)): server.stats_messages >= n)
        await asyncio.sleep(0.2)
        assert server.stats_garbage == len(garbage) and client.received == [] and handled == []
        valid = [m for m in messages if not sip_is_garbage(m)]
        sent = server.stats_messages
        for i in range(0, len(valid), BATCH):
            for data in valid[i:i + BATCH]:
                transport.sendto(data)
            await wait_for(lambda n=sent + min(i + BATCH, len(valid)): server.stats_messages >= n)
        await asyncio.sleep(0.2)
        assert all(isinstance(parse_sip(d), SipResponse) for d in client.received)
        assert server.supervisor.failures == 0 and loop_errors.errors == []
        client.received.clear()
        transport.sendto(sip_seeds()[0].replace(b"z9hG4bK-0", b"z9hG4bK-alive"))
        await wait_for(lambda: any(b"302 Moved" in d for d in client.received), 3)
    finally:
        transport.close()
        await server.stop()
        loop_errors.close()


async def test_sip_tcp_listener_fuzz():
    async def handler(request, source):
        return response_to(request, 302)

    loop_errors = LoopErrors()
    server = SipServer(handler, listeners=[SipListener("127.0.0.1", 0, "tcp")])
    await server.start()
    port = server.addresses[0][1]
    rng = random.Random(4)
    try:
        messages = corpus(sip_seeds(), FUZZ_COUNT, 5, text=True)
        for i in range(0, len(messages), 20):  # 20 messages a connection, written in random pieces
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            chunk = b"".join(messages[i:i + 20])
            pos = 0
            while pos < len(chunk):
                step = rng.randint(1, 1500)
                writer.write(chunk[pos:pos + step])
                pos += step
            with contextlib.suppress(ConnectionError):  # the server closes a stream it cannot frame
                await writer.drain()
                writer.write_eof()
                while await asyncio.wait_for(reader.read(65536), 5):
                    pass
            writer.close()
        assert server.stats_messages > len(messages) // 10 and server.stats_garbage > 0
        assert server.supervisor.failures == 0 and loop_errors.errors == []
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(sip_seeds()[3].replace(b"/UDP", b"/TCP"))  # OPTIONS
        assert b"200 OK" in await asyncio.wait_for(reader.read(65536), 3)
        writer.close()
    finally:
        await server.stop()
        loop_errors.close()


async def test_dns_listeners_fuzz():
    async def handler(query, source):
        reply = reply_to(query)
        reply.header.aa = 1
        return reply

    loop_errors = LoopErrors()
    server = DnsServer(handler, listeners=[DnsListener("127.0.0.1", 0, "udp"), DnsListener("127.0.0.1", 0, "tcp")])
    await server.start()
    ports = {network: port for _, port, network in server.addresses}
    transport, client = await asyncio.get_running_loop().create_datagram_endpoint(
        Collector, remote_addr=("127.0.0.1", ports["udp"]))
    try:
        messages = [m for m in corpus(dns_seeds(), FUZZ_COUNT, 6, text=False) if m]  # asyncio sends no b""
        answerable = sum(dns_answerable(m) for m in messages)
        for i in range(0, len(messages), BATCH):
            for data in messages[i:i + BATCH]:
                transport.sendto(data)
            await wait_for(lambda n=min(i + BATCH, len(messages)): server.stats_messages >= n)
        await wait_for(lambda: len(client.received) >= answerable)
        await asyncio.sleep(0.2)
        assert len(client.received) == answerable and server.stats_garbage == len(messages) - answerable
        assert all(parse_message(d).header.qr == 1 for d in client.received)

        reader, writer = await asyncio.open_connection("127.0.0.1", ports["tcp"])
        writer.write(b"".join(len(m).to_bytes(2, "big") + m for m in messages))
        replies = 0
        while replies < answerable:
            length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 10), "big")
            assert parse_message(await reader.readexactly(length)).header.qr == 1
            replies += 1
        await asyncio.sleep(0.2)
        assert replies == answerable and not reader._buffer  # nothing for the garbage frames
        writer.close()
        assert server.supervisor.failures == 0 and loop_errors.errors == []
    finally:
        transport.close()
        await server.stop()
        loop_errors.close()
