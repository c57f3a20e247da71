"""SIP over UDP and TCP: asyncio listeners that feed one :class:`TransactionLayer` and one handler.

The transport moves bytes: datagrams and TCP frames (cut by Content-Length) are parsed, matched to transactions by
the layer, and new requests go to ``async handler(request, source) -> SipResponse``, whose response the layer
sends (after the 100 Trying it sent at once for an INVITE) and retransmits on its timers. What is no SIP message is
dropped with a log line naming the peer and never answered; a TCP stream that cannot be framed any more is closed.
A handler that raises, takes longer than ``request_timeout`` (30 s by default: an INVITE transaction has no timer
of its own before its final response) or returns nothing is answered by ``error_response`` (500 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from pycgrates.engine.rpc.client import join_address
from pycgrates.engine.tasks import Supervisor

from .codec import (
    KEEPALIVE_PING,
    SipError,
    SipRequest,
    SipResponse,
    StreamFramer,
    parse_message,
    response_to,
    stamp_received,
)
from .transaction import Cancelled, Deliver, Effect, Send, SipTimers, Terminated, TransactionLayer, TxKey

log = logging.getLogger(__name__)

NETWORKS = ("udp", "tcp")


@dataclass(slots=True, frozen=True)
class Source:
    """Where a request came from, and so where its responses go: ``connection`` names the UDP socket or TCP
    connection it arrived on."""

    network: str
    host: str
    port: int
    connection: int = 0

    def __str__(self) -> str:
        return f"{join_address(self.host, self.port)}/{self.network}"


Handler = Callable[[SipRequest, Source], Awaitable[SipResponse | None]]
ErrorResponse = Callable[[SipRequest, BaseException], SipResponse]


@dataclass(slots=True, frozen=True)
class SipListener:
    host: str
    port: int
    network: str = "udp"

    @classmethod
    def parse(cls, address: str, network: str = "udp") -> SipListener:
        """From ``sip_agent.listen`` (``host:port``) and ``listen_net`` (``udp`` | ``tcp``)."""
        network = network.lstrip("*").lower()
        if network not in NETWORKS:
            raise ValueError(f"sip_agent.listen_net: {network!r} is not one of {', '.join(NETWORKS)}")
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError(f"sip_agent.listen: {address!r} is not host:port")
        return cls(host.strip("[]") or "0.0.0.0", int(port), network)


#: the receive buffer asked for a UDP listener (the kernel caps it at net.core.rmem_max): a burst of requests
#: waits there while the event loop is busy instead of being dropped (the default holds ~150 small datagrams)
UDP_RECEIVE_BUFFER = 4 << 20


def enlarge_receive_buffer(transport: asyncio.BaseTransport, size: int = UDP_RECEIVE_BUFFER) -> None:
    """Ask for a ``size`` receive buffer on a UDP listener's socket; a refusal leaves the default."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def server_error(request: SipRequest, exc: BaseException) -> SipResponse:
    """What a request gets when its handler failed: 500 Server Internal Error."""
    return response_to(request, 500)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, server: SipServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.id = self.server.register_connection(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.unregister_connection(self.id)

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.server.stats_messages += 1
        source = Source("udp", addr[0], addr[1], self.id)
        if not data.strip(b"\r\n\x00 "):
            return  # a keep-alive (RFC 5626 §4.4.1 over UDP is STUN; a CRLF is what many phones send)
        self.server.received(data, source, reliable=False, protocol=self)

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP UDP: %s", exc)

    def send(self, data: bytes, source: Source) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.sendto(data, (source.host, source.port))
        return True


class _Stream(asyncio.Protocol):
    def __init__(self, server: SipServer) -> None:
        self.server = server
        self.framer = StreamFramer(server.max_message_size)
        self.transport: asyncio.Transport | None = None
        self.source = Source("tcp", "?", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.source = Source("tcp", peer[0], peer[1], self.server.register_connection(self))

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.framer.feed(data)
        except SipError as exc:
            log.warning("SIP: closing the TCP connection from %s: %s", self.source, exc)
            self.server.stats_garbage += 1
            if self.transport is not None:
                self.transport.abort()
            return
        for frame in frames:
            self.server.stats_messages += 1
            if frame == KEEPALIVE_PING:
                self.send(b"\r\n", self.source)  # the pong (RFC 5626 §4.4.1)
                continue
            self.server.received(frame, self.source, reliable=True, protocol=self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.unregister_connection(self.source.connection)

    def send(self, data: bytes, source: Source) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        return True


class SipServer:
    """The listeners, the transaction layer and the handler tasks of one SIP endpoint."""

    def __init__(self, handler: Handler, *, listeners: Iterable[SipListener] = (), timers: SipTimers | None = None,
                 answer_options: bool = True, request_timeout: float | None = 30.0,
                 error_response: ErrorResponse = server_error, max_message_size: int = 65535,
                 name: str = "sip", tasks: Supervisor | None = None, drain_timeout: float = 5.0) -> None:
        self.handler = handler
        self.listeners = list(listeners)
        self.layer = TransactionLayer(timers or SipTimers(), answer_options)
        self.request_timeout = request_timeout
        self.error_response = error_response
        self.max_message_size = max_message_size
        #: where the handlers run: the owner's supervisor (an agent's), or one of this server's own
        self.supervisor = tasks if tasks is not None else Supervisor(name)
        self._own_supervisor = tasks is None
        self.drain_timeout = drain_timeout
        self._closing = False
        self.addresses: list[tuple[str, int, str]] = []
        #: datagrams and TCP frames received (keep-alives included), and those dropped because they were not SIP
        self.stats_messages = 0
        self.stats_garbage = 0
        self._endpoints: list[_Datagrams] = []
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: dict[int, _Datagrams | _Stream] = {}
        self._next_connection = 0
        self._handlers: dict[TxKey, asyncio.Task] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        for lst in self.listeners:
            if lst.network == "udp":
                transport, proto = await loop.create_datagram_endpoint(lambda: _Datagrams(self),
                                                                       local_addr=(lst.host, lst.port))
                enlarge_receive_buffer(transport)
                self._endpoints.append(proto)
                name = transport.get_extra_info("sockname")
                self.addresses.append((name[0], name[1], "udp"))
            else:
                server = await loop.create_server(lambda: _Stream(self), lst.host, lst.port, reuse_address=True)
                self._servers.append(server)
                self.addresses += [(s.getsockname()[0], s.getsockname()[1], "tcp") for s in server.sockets]
        for host, port, network in self.addresses:
            log.info("SIP agent listening on %s:%d/%s", host, port, network)

    async def stop(self) -> None:
        """Stop listening, cancel handlers and timers, close connections. With an owner's supervisor, the
        handlers in flight first get ``drain_timeout`` seconds to answer (new requests are dropped meanwhile) and
        only this server's are cancelled; the supervisor itself is the owner's to stop."""
        self._closing = True
        for server in self._servers:
            server.close()
        if not self._own_supervisor and self._handlers:
            await asyncio.wait(list(self._handlers.values()), timeout=self.drain_timeout)
        for conn in list(self._connections.values()):
            if conn.transport is not None:
                conn.transport.close()
        if self._timer is not None:
            self._timer.cancel()
        if self._own_supervisor:
            await self.supervisor.stop()
        else:
            pending = [task for task in self._handlers.values() if not task.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self._servers.clear()
        self._endpoints.clear()

    # ---- what the protocols call
    def register_connection(self, conn: _Datagrams | _Stream) -> int:
        self._next_connection += 1
        self._connections[self._next_connection] = conn
        return self._next_connection

    def unregister_connection(self, connection: int) -> None:
        self._connections.pop(connection, None)

    def received(self, data: bytes, source: Source, reliable: bool, protocol: _Datagrams | _Stream) -> None:
        if self._closing:
            return
        try:
            message = parse_message(data)
            if isinstance(message, SipRequest) and source.network == "udp":
                stamp_received(message, source.host, source.port)
        except SipError as exc:
            self.stats_garbage += 1
            log.warning("SIP: dropping %d bytes from %s that are no SIP message: %s", len(data), source, exc)
            return
        self._apply(self.layer.receive(message, source, reliable, self._now()))

    # ---- effects
    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._send(effect)
            elif isinstance(effect, Deliver):
                self._handlers[effect.key] = self.supervisor.spawn(
                    self._run_handler(effect.key, effect.request, effect.source),  # type: ignore[arg-type]
                    name=f"{effect.request.method} {effect.request.call_id}")
            elif isinstance(effect, Cancelled | Terminated):
                task = self._handlers.pop(effect.key, None)
                if task is not None and not task.done():
                    task.cancel()
        self._rearm()

    def _send(self, effect: Send) -> None:
        source: Source = effect.destination  # type: ignore[assignment]
        sender = self._connections.get(source.connection)
        ok = False
        if sender is not None:
            try:
                ok = sender.send(effect.data, source)
            except OSError as exc:
                log.warning("SIP: cannot send to %s: %s", source, exc)
        if not ok:
            log.warning("SIP: %d response to %s not sent: the connection is gone", effect.response.status, source)

    def _rearm(self) -> None:
        deadline = self.layer.next_deadline
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self._apply(self.layer.timers_due(self._now()))

    async def _run_handler(self, key: TxKey, request: SipRequest, source: Source) -> None:
        try:
            coro = self.handler(request, source)
            response = await (asyncio.wait_for(coro, self.request_timeout) if self.request_timeout else coro)
            if response is None:
                raise LookupError("the handler gave no response")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            level = logging.WARNING if isinstance(exc, LookupError | TimeoutError | SipError) else logging.ERROR
            log.log(level, "SIP %s %s from %s: %s", request.method, request.call_id, source,
                    exc or type(exc).__name__, exc_info=level == logging.ERROR)
            try:
                response = self.error_response(request, exc)
            except Exception as hook_exc:
                log.error("SIP: the error response for %s %s failed: %s", request.method, request.call_id, hook_exc)
                response = server_error(request, exc)
        finally:
            self._handlers.pop(key, None)
        self._apply(self.layer.respond(key, response, self._now()))


__all__ = ["ErrorResponse", "Handler", "SipListener", "SipServer", "Source", "enlarge_receive_buffer", "server_error"]
