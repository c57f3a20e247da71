"""DNS over UDP, TCP (RFC 1035 §4.2.2, RFC 7766) and TLS (RFC 7858): asyncio listeners feeding one handler.

Every query that parses goes to ``async handler(query, source) -> reply`` (a ``dnslib.DNSRecord``), unless
:func:`~.codec.query_problem` already knows its answer (NOTIMP, FORMERR, BADVERS). A handler that raises, times out
or returns nothing gets the client a SERVFAIL. Over UDP the reply is cut to the client's payload size with TC set;
over TCP and TLS every message has its 2-byte length, a connection carries as many queries as the client sends
(answered as they are ready, RFC 7766 §6.2.1.1) and is closed after ``idle_timeout`` seconds without one. What does
not parse as a DNS query is dropped with a log line naming the peer, never answered (a reply to garbage from a
forged address would make us an amplifier).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from pycgrates.agents.sip.transport import enlarge_receive_buffer
from pycgrates.engine.rpc.client import join_address
from pycgrates.engine.tasks import Supervisor

from .codec import (
    MAX_MESSAGE_SIZE,
    DnsError,
    DNSRecord,
    error_reply,
    pack_reply,
    parse_query,
    query_problem,
    servfail,
    udp_payload_size,
)

log = logging.getLogger(__name__)

NETWORKS = ("udp", "tcp", "tcp-tls")


@dataclass(slots=True, frozen=True)
class Source:
    """Where a query came from."""

    network: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{join_address(self.host, self.port)}/{self.network}"


Handler = Callable[[DNSRecord, Source], Awaitable[DNSRecord | None]]


@dataclass(slots=True, frozen=True)
class DnsListener:
    host: str
    port: int
    network: str = "udp"

    @classmethod
    def parse(cls, entry: dict | str) -> DnsListener:
        """From a ``dns_agent.listeners`` entry: ``{"address": ":2053", "network": "udp" | "tcp" | "tcp-tls"}``."""
        if isinstance(entry, str):
            entry = {"address": entry}
        address = str(entry.get("address") or "")
        network = str(entry.get("network") or "udp").lstrip("*").lower()
        if network not in NETWORKS:
            raise ValueError(f"dns_agent.listeners: network {network!r} of {address} is not one of "
                             f"{', '.join(NETWORKS)}")
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"dns_agent.listeners: address {address!r} is not host:port")
        return cls(host.strip("[]") or "0.0.0.0", int(port), network)


def server_tls_context(certificate: str, key: str) -> ssl.SSLContext:
    """A TLS server context from the ``tls`` section's ``server_certificate`` and ``server_key``."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(certificate, key)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"tls.server_certificate {certificate} / tls.server_key {key}: cannot load them ({exc}); "
                         "point them at a PEM certificate and its key") from None
    return ctx


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.server.received(data, Source("udp", addr[0], addr[1]), self._reply)

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS UDP: %s", exc)

    def _reply(self, query: DNSRecord | None, reply: DNSRecord | None, source: Source) -> None:
        if query is None or reply is None or self.transport is None or self.transport.is_closing():
            return
        try:
            data = pack_reply(reply, udp_payload_size(query))
        except DnsError as exc:
            log.warning("DNS reply to %s: %s; answering SERVFAIL", source, exc)
            data = pack_reply(servfail(query), udp_payload_size(query))
        self.transport.sendto(data, (source.host, source.port))


class _Stream(asyncio.Protocol):
    """One TCP or TLS connection: 2-byte length framing, several queries, an idle timeout."""

    def __init__(self, server: DnsServer, network: str) -> None:
        self.server = server
        self.network = network
        self.transport: asyncio.Transport | None = None
        self.source = Source(network, "?", 0)
        self._buf = bytearray()
        self._idle: asyncio.TimerHandle | None = None
        self._pending = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.source = Source(self.network, peer[0], peer[1])
        self.server.connections.add(self)
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while len(buf) >= 2:
            length = int.from_bytes(buf[:2], "big")
            if len(buf) < 2 + length:
                break
            message = bytes(buf[2:2 + length])
            del buf[:2 + length]
            self._pending += 1
            self.server.received(message, self.source, self._reply)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()

    def _reply(self, query: DNSRecord | None, reply: DNSRecord | None, source: Source) -> None:
        self._pending -= 1
        self._arm_idle()
        if reply is None or query is None or self.transport is None or self.transport.is_closing():
            return
        try:
            data = pack_reply(reply)
        except DnsError as exc:
            log.warning("DNS reply to %s: %s; answering SERVFAIL", source, exc)
            data = pack_reply(servfail(query))
        self.transport.write(len(data).to_bytes(2, "big") + data)

    def _arm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        timeout = self.server.idle_timeout
        if timeout and self._pending <= 0 and self.transport is not None and not self.transport.is_closing():
            self._idle = asyncio.get_running_loop().call_later(timeout, self._close_idle)

    def _close_idle(self) -> None:
        log.debug("DNS: closing the idle connection from %s", self.source)
        if self.transport is not None:
            self.transport.close()


Replier = Callable[..., None]


class DnsServer:
    """The listeners of one DNS endpoint and the handler tasks answering their queries."""

    def __init__(self, handler: Handler, *, listeners: Iterable[DnsListener] = (),
                 tls_context: ssl.SSLContext | None = None, request_timeout: float | None = None,
                 idle_timeout: float = 10.0, name: str = "dns", tasks: Supervisor | None = None,
                 drain_timeout: float = 5.0) -> None:
        self.handler = handler
        self.listeners = list(listeners)
        self.tls_context = tls_context
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        #: where the answers are computed: the owner's supervisor (an agent's), or one of this server's own
        self.supervisor = tasks if tasks is not None else Supervisor(name)
        self._own_supervisor = tasks is None
        self.drain_timeout = drain_timeout
        self._answering: set[asyncio.Task] = set()
        self._closing = False
        self.addresses: list[tuple[str, int, str]] = []
        self.connections: set[_Stream] = set()
        #: messages received, and those dropped because they were no DNS query
        self.stats_messages = 0
        self.stats_garbage = 0
        self._endpoints: list[asyncio.DatagramTransport] = []
        self._servers: list[asyncio.AbstractServer] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for lst in self.listeners:
            if lst.network == "udp":
                transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(self),
                                                                   local_addr=(lst.host, lst.port))
                enlarge_receive_buffer(transport)
                self._endpoints.append(transport)
                name = transport.get_extra_info("sockname")
                self.addresses.append((name[0], name[1], "udp"))
                continue
            tls = None
            if lst.network == "tcp-tls":
                if self.tls_context is None:
                    raise ValueError(f"dns_agent listener {lst.host}:{lst.port}/tcp-tls needs a TLS certificate: "
                                     "set tls.server_certificate and tls.server_key")
                tls = self.tls_context
            network = lst.network
            server = await loop.create_server(lambda network=network: _Stream(self, network), lst.host, lst.port,
                                              reuse_address=True, ssl=tls)
            self._servers.append(server)
            self.addresses += [(s.getsockname()[0], s.getsockname()[1], network) for s in server.sockets]
        for host, port, network in self.addresses:
            log.info("DNS agent listening on %s:%d/%s", host, port, network)

    async def stop(self) -> None:
        """Stop listening and close the connections. With an owner's supervisor, the queries in flight first get
        ``drain_timeout`` seconds to be answered (new ones are dropped meanwhile), then this server's are cancelled;
        the supervisor itself is the owner's to stop."""
        self._closing = True
        for server in self._servers:
            server.close()
        if not self._own_supervisor and self._answering:
            await asyncio.wait(list(self._answering), timeout=self.drain_timeout)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        for transport in self._endpoints:
            transport.close()
        if self._own_supervisor:
            await self.supervisor.stop()
        else:
            pending = [task for task in self._answering if not task.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
        self._endpoints.clear()

    def received(self, data: bytes, source: Source, reply: Replier) -> None:
        """One message from a client: a query is answered through ``reply(query, answer, source)``; garbage is
        dropped (``reply(None, None, source)``: nothing to send)."""
        self.stats_messages += 1
        if self._closing:
            reply(None, None, source)
            return
        try:
            query = parse_query(data)
        except DnsError as exc:
            self.stats_garbage += 1
            log.warning("DNS: dropping %d bytes from %s that are no DNS query: %s", len(data), source, exc)
            reply(None, None, source)  # nothing is sent: the connection only counts it as done
            return
        rcode = query_problem(query)
        if rcode is not None:
            reply(query, error_reply(query, rcode), source)
            return
        task = self.supervisor.spawn(self._answer(query, source, reply), name=f"query {query.header.id} from {source}")
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _answer(self, query: DNSRecord, source: Source, reply: Replier) -> None:
        answer: DNSRecord | None = None
        try:
            coro = self.handler(query, source)
            answer = await (asyncio.wait_for(coro, self.request_timeout) if self.request_timeout else coro)
            if answer is None:
                raise LookupError("the handler gave no reply")
        except asyncio.CancelledError:
            reply(query, None, source)
            raise
        except Exception as exc:
            level = logging.WARNING if isinstance(exc, LookupError | TimeoutError | DnsError) else logging.ERROR
            log.log(level, "DNS query %d (%s) from %s: %s; answering SERVFAIL", query.header.id,
                    query.q.qname if query.questions else "?", source, exc or type(exc).__name__,
                    exc_info=level == logging.ERROR)
            answer = servfail(query)
        answer.header.id = query.header.id
        reply(query, answer, source)


__all__ = ["MAX_MESSAGE_SIZE", "DnsListener", "DnsServer", "Handler", "Source", "server_tls_context"]
