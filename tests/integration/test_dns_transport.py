"""DNS listeners on real loopback sockets: UDP, TCP (several queries per connection), DoT; dig and kdig as peers."""

from __future__ import annotations

import asyncio
import logging
import ssl

import pytest
from dnslib import DNSRecord

from pycgrates.agents.dns.codec import (
    NOTIMP,
    NXDOMAIN,
    SERVFAIL,
    address,
    naptr,
    nxdomain,
    opt_record,
    parse_message,
    qtype_name,
    reply_to,
    srv,
)
from pycgrates.agents.dns.transport import DnsListener, DnsServer, Source, server_tls_context
from tests.conftest import require_binary, shared_data

ENUM = "4.6.9.4.7.1.7.1.5.6.8.9.4.e164.arpa."


class Zone:
    """A handler answering as the dnsagent tariff plan's processors do; ``routes`` NAPTRs for ENUM names."""

    def __init__(self, routes: int = 2, delay: float = 0.0) -> None:
        self.routes = routes
        self.delay = delay
        self.seen: list[tuple[str, str, Source]] = []

    async def __call__(self, query: DNSRecord, source: Source) -> DNSRecord:
        name, qtype = str(query.q.qname), qtype_name(query.q.qtype)
        self.seen.append((name, qtype, source))
        await asyncio.sleep(self.delay)
        if name == "boom.example.":
            raise RuntimeError("processor failed")
        reply = reply_to(query)
        if qtype == "NAPTR" and name.endswith(".e164.arpa."):
            for i in range(self.routes):
                reply.add_answer(naptr(name, 100, 10 + i, "U", "E2U+SIP", f"!^(.*)$!sip:\\1@172.16.1.{10 + i}.!"))
        elif qtype == "SRV":
            reply.add_answer(srv(name, 0, 50, 5060, "opensips.org."))
        elif qtype == "A":
            reply.add_answer(address(name, "51.38.77.188"))
        elif qtype == "AAAA":
            reply.add_answer(address(name, "2001:db8::188"))
        else:
            return nxdomain(query)
        return reply


async def start(handler, *networks: str, tls: ssl.SSLContext | None = None, **kw) -> tuple[DnsServer, dict]:
    server = DnsServer(handler, listeners=[DnsListener("127.0.0.1", 0, n) for n in networks], tls_context=tls, **kw)
    await server.start()
    return server, {network: port for _, port, network in server.addresses}


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr) -> None:
        self.inbox.put_nowait(data)


async def udp_client(port: int) -> tuple[asyncio.DatagramTransport, UdpClient]:
    transport, client = await asyncio.get_running_loop().create_datagram_endpoint(
        UdpClient, remote_addr=("127.0.0.1", port))
    return transport, client


async def test_udp_answers_and_errors(caplog):
    server, ports = await start(Zone(), "udp")
    transport, client = await udp_client(ports["udp"])
    try:
        q = DNSRecord.question(ENUM, "NAPTR")
        transport.sendto(q.pack())
        reply = parse_message(await asyncio.wait_for(client.inbox.get(), 2))
        assert reply.header.id == q.header.id and [rr.rdata.preference for rr in reply.rr] == [10, 11]
        transport.sendto(DNSRecord.question("cgrates.org.", "MX").pack())
        assert parse_message(await asyncio.wait_for(client.inbox.get(), 2)).header.rcode == NXDOMAIN
        transport.sendto(DNSRecord.question("boom.example.", "A").pack())
        assert parse_message(await asyncio.wait_for(client.inbox.get(), 2)).header.rcode == SERVFAIL
        status = DNSRecord.question("cgrates.org.", "A")
        status.header.opcode = 2
        transport.sendto(status.pack())
        assert parse_message(await asyncio.wait_for(client.inbox.get(), 2)).header.rcode == NOTIMP
        with caplog.at_level(logging.WARNING, "pycgrates.agents.dns"):
            transport.sendto(b"\x00" * 5)
            transport.sendto(b"\xff" * 64)
            transport.sendto(reply.pack())  # a response is no query
            await asyncio.sleep(0.3)
        assert client.inbox.empty() and server.stats_garbage == 3
        me = transport.get_extra_info("sockname")
        assert sum(f"127.0.0.1:{me[1]}/udp" in r.getMessage() and "dropping" in r.getMessage()
                   for r in caplog.records) == 3
    finally:
        transport.close()
        await server.stop()


async def test_udp_truncates_to_the_client_payload_size():
    server, ports = await start(Zone(routes=40), "udp")
    transport, client = await udp_client(ports["udp"])
    try:
        transport.sendto(DNSRecord.question(ENUM, "NAPTR").pack())
        data = await asyncio.wait_for(client.inbox.get(), 2)
        plain = parse_message(data)
        assert plain.header.tc == 1 and len(data) <= 512 and not plain.rr
        edns = DNSRecord.question(ENUM, "NAPTR")
        edns.add_ar(opt_for(4096))
        transport.sendto(edns.pack())
        data = await asyncio.wait_for(client.inbox.get(), 2)
        big = parse_message(data)
        assert big.header.tc == 0 and len(big.rr) == 40 and 512 < len(data) <= 4096
        assert opt_record(big).rclass == 4096  # echoed as the client sent it
    finally:
        transport.close()
        await server.stop()


def opt_for(payload: int):
    from dnslib import RR
    return RR(".", 41, rclass=payload, ttl=0, rdata=[])


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, queries: list[DNSRecord],
                   split: bool = False) -> list[DNSRecord]:
    data = b"".join(len(p).to_bytes(2, "big") + p for p in (q.pack() for q in queries))
    if split:
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await writer.drain()
    else:
        writer.write(data)
    replies = []
    for _ in queries:
        length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 2), "big")
        replies.append(parse_message(await reader.readexactly(length)))
    return replies


async def test_tcp_several_queries_per_connection_no_truncation():
    zone = Zone(routes=40)
    server, ports = await start(zone, "tcp", idle_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", ports["tcp"])
    try:
        queries = [DNSRecord.question(ENUM, "NAPTR"), DNSRecord.question("cgrates.org.", "A"),
                   DNSRecord.question("_sip._tcp.opensips.org.", "SRV")]
        replies = await exchange(reader, writer, queries)
        by_id = {r.header.id: r for r in replies}
        assert len(by_id[queries[0].header.id].rr) == 40 and by_id[queries[0].header.id].header.tc == 0
        assert str(by_id[queries[1].header.id].rr[0].rdata) == "51.38.77.188"
        assert [r.header.id for r in await exchange(reader, writer, queries[1:], split=True)] == \
            [q.header.id for q in queries[1:]]
        writer.write(b"\x00\x03abc")  # a frame that is no DNS message: dropped, the connection stays
        replies = await exchange(reader, writer, [DNSRecord.question("x.e164.arpa.", "NAPTR")])
        assert len(replies[0].rr) == 40 and server.stats_garbage == 1
        assert all(src.network == "tcp" for _, _, src in zone.seen)
        assert await asyncio.wait_for(reader.read(), 2) == b""  # closed after idle_timeout
    finally:
        writer.close()
        await server.stop()


def tls_files() -> tuple[str, str, str]:
    root = shared_data("tls")
    return str(root / "server.crt"), str(root / "server.key"), str(root / "ca.crt")


async def test_dns_over_tls():
    cert, key, ca = tls_files()
    server, ports = await start(Zone(), "tcp-tls", tls=server_tls_context(cert, key))
    client_ctx = ssl.create_default_context(cafile=ca)
    reader, writer = await asyncio.open_connection("127.0.0.1", ports["tcp-tls"], ssl=client_ctx,
                                                   server_hostname="localhost")
    try:
        replies = await exchange(reader, writer, [DNSRecord.question(ENUM, "NAPTR"),
                                                  DNSRecord.question("cgrates.org.", "AAAA")])
        assert sorted(qtype_name(r.rr[0].rtype) for r in replies) == ["AAAA", "NAPTR"]
    finally:
        writer.close()
        await server.stop()


def test_tls_needs_a_certificate(tmp_path):
    with pytest.raises(ValueError, match=r"tls\.server_certificate"):
        server_tls_context(str(tmp_path / "none.crt"), str(tmp_path / "none.key"))


async def test_listener_parsing_and_missing_tls():
    assert DnsListener.parse({"address": ":2053", "network": "udp"}) == DnsListener("0.0.0.0", 2053, "udp")
    assert DnsListener.parse({"address": "[::1]:2054", "network": "tcp-tls"}) == DnsListener("::1", 2054, "tcp-tls")
    with pytest.raises(ValueError, match="is not one of"):
        DnsListener.parse({"address": ":53", "network": "sctp"})
    server = DnsServer(Zone(), listeners=[DnsListener("127.0.0.1", 0, "tcp-tls")])
    with pytest.raises(ValueError, match="needs a TLS certificate"):
        await server.start()
    await server.stop()


# ---- dig and kdig ---------------------------------------------------------------------------------------------------
async def run(*cmd: str) -> str:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    return out.decode()


async def test_dig_naptr_srv_a_and_tcp_retry_after_truncation():
    dig = require_binary("dig")
    zone = Zone(routes=30)
    server = DnsServer(zone, listeners=[DnsListener("127.0.0.1", 0, "udp")])
    await server.start()
    port = server.addresses[0][1]
    server.listeners = [DnsListener("127.0.0.1", port, "tcp")]  # TCP on the same port, as dig retries there
    await server.start()
    try:
        out = await run(dig, "@127.0.0.1", "-p", str(port), "+bufsize=512", "+time=2", "+tries=1", ENUM, "NAPTR")
        assert "Truncated, retrying in TCP mode" in out and "ANSWER: 30" in out and "status: NOERROR" in out
        assert 'E2U+SIP" "!^(.*)$!sip:\\\\1@172.16.1.10.!" .' in out
        out = await run(dig, "@127.0.0.1", "-p", str(port), "+short", "_sip._tcp.opensips.org", "SRV")
        assert out.strip() == "0 50 5060 opensips.org."
        out = await run(dig, "@127.0.0.1", "-p", str(port), "+short", "cgrates.org", "A")
        assert out.strip() == "51.38.77.188"
        out = await run(dig, "@127.0.0.1", "-p", str(port), "+noedns", "+time=2", "+tries=1", "cgrates.org", "MX")
        assert "status: NXDOMAIN" in out and "OPT PSEUDOSECTION" not in out
        out = await run(dig, "@127.0.0.1", "-p", str(port), "+bufsize=1232", "cgrates.org", "AAAA")
        assert "2001:db8::188" in out and "udp: 1232" in out
        assert {network for *_, src in zone.seen for network in [src.network]} == {"udp", "tcp"}
    finally:
        await server.stop()


async def test_kdig_over_tls():
    kdig = require_binary("kdig")
    cert, key, ca = tls_files()
    server, ports = await start(Zone(), "tcp-tls", tls=server_tls_context(cert, key))
    try:
        out = await run(kdig, "@127.0.0.1", "-p", str(ports["tcp-tls"]), f"+tls-ca={ca}", "+tls-hostname=localhost",
                        ENUM, "NAPTR")
        assert "TLS session" in out and "status: NOERROR" in out and "ANSWER: 2" in out, out
        assert "172.16.1.11" in out
    finally:
        await server.stop()
