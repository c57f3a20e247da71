"""Diameter over TCP (and SCTP where the kernel has it): asyncio listeners and client connections.

The transport only moves bytes between sockets and ``PeerConnection``, runs timers, and runs the application
handler ``async handler(request, connection) -> answer`` for each application request (a task of the server's
Supervisor: the agent's, when it gives one). Every request gets an
answer: 3004 when ``concurrent_requests`` are already in flight, the error hook's answer (5012 by default, the
``*err`` template later) when the handler raises, times out or returns nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from pycgrates.engine.tasks import Supervisor, SupervisorStopped

from .codec import MAX_MESSAGE_LEN, DecodeError, EncodeError, ResultCode
from .dictionary import Dictionary
from .messages import Message
from .peer import (
    DISCONNECT_REBOOTING,
    ApplicationAnswer,
    ApplicationRequest,
    CloseConnection,
    LocalIdentity,
    PeerConnection,
    PeerEvent,
    PeerOpened,
    PeerState,
    Timers,
)

log = logging.getLogger(__name__)

RequestHandler = Callable[[Message, "DiameterConnection"], Awaitable[Message | None]]
ErrorHook = Callable[[Message, int, "DiameterConnection"], Message]

SCTP_AVAILABLE = hasattr(socket, "IPPROTO_SCTP")


@dataclass(slots=True, frozen=True)
class Listener:
    host: str
    port: int
    network: str = "tcp"   # tcp | sctp

    @classmethod
    def parse(cls, entry: dict | str) -> Listener:
        """From a ``diameter_agent.listeners`` entry: {"address": "host:port", "network"|"transport": "tcp"}."""
        if isinstance(entry, str):
            entry = {"address": entry}
        address = str(entry.get("address") or "")
        network = str(entry.get("network") or entry.get("transport") or "tcp").lstrip("*").lower()
        if network not in ("tcp", "sctp"):
            raise ValueError(f"diameter_agent.listeners: network {network!r} of {address} is not tcp or sctp")
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"diameter_agent.listeners: address {address!r} is not host:port")
        return cls(host.strip("[]") or "0.0.0.0", int(port), network)


def default_error_answer(request: Message, result_code: int, conn: DiameterConnection) -> Message:
    """What CGRateS answers without an ``*err`` template: Session-Id, Result-Code, Origin-*, E bit set."""
    return conn.peer.error_answer(request, result_code, error_bit=True)


class DiameterConnection(asyncio.Protocol):
    """One peer connection: bytes ↔ PeerConnection, timers, handler tasks, requests we send."""

    def __init__(self, server: DiameterServer, initiator: bool) -> None:
        self.server = server
        self.initiator = initiator
        self.peer = PeerConnection(copy.copy(server.identity), server.dictionary, server.timers,
                                   server.max_message_length)
        self.transport: asyncio.Transport | None = None
        self.remote_address: tuple | None = None
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._pending: dict[int, asyncio.Future[Message]] = {}
        self._sync_lock = asyncio.Lock() if server.synced_conn_requests else None

    @property
    def remote_host(self) -> str | None:
        return self.peer.remote_host

    @property
    def remote_realm(self) -> str | None:
        return self.peer.remote_realm

    # ---- asyncio.Protocol -----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport is no asyncio.Transport
        self.remote_address = transport.get_extra_info("peername")
        if not self.peer.identity.host_ip_addresses:
            sock = transport.get_extra_info("sockname")
            self.peer.identity.host_ip_addresses = [sock[0] if sock else "127.0.0.1"]
        self.server.connections.add(self)
        self._after(self.peer.start(self.initiator, self._loop.time()))

    def data_received(self, data: bytes) -> None:
        self._after(self.peer.receive_data(data, self._loop.time()))

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.peer.connection_lost(self._loop.time())
        if self._timer is not None:
            self._timer.cancel()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError(f"diameter peer {self.remote_host} went away"))
        self._pending.clear()
        self.server.connections.discard(self)
        self.closed.set()
        log.info("diameter peer %s (%s) disconnected%s", self.remote_host or "?", self.remote_address,
                 f": {exc}" if exc else "")

    # ---- what the application calls -------------------------------------------------------------------------
    async def send_request(self, request: Message, timeout: float = 10.0) -> Message:
        """Send a request (ASR, RAR, ...) to this peer and wait for its answer."""
        if self.peer.state not in (PeerState.OPEN, PeerState.WAIT_DWA):
            raise ConnectionError(f"diameter peer {self.remote_host} is not open ({self.peer.state.value})")
        hop = self.peer.send_request(request)
        fut: asyncio.Future[Message] = self._loop.create_future()
        self._pending[hop] = fut
        self._flush()
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(hop, None)

    async def disconnect(self, cause: int = DISCONNECT_REBOOTING, timeout: float | None = None) -> None:
        """DPR/DPA, then close; waits until the connection is gone."""
        self._after(self.peer.disconnect(self._loop.time(), cause))
        wait = timeout if timeout is not None else self.server.timers.dpa + 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), wait)
        if not self.closed.is_set() and self.transport is not None:
            self.transport.abort()

    # ---- internals ------------------------------------------------------------------------------------------
    def _after(self, events: list[PeerEvent]) -> None:
        for event in events:
            if isinstance(event, ApplicationRequest):
                self._dispatch(event.message)
            elif isinstance(event, ApplicationAnswer):
                fut = self._pending.pop(event.message.hop_by_hop, None)
                if fut is not None and not fut.done():
                    fut.set_result(event.message)
                else:
                    log.warning("diameter peer %s: answer with unknown hop-by-hop %d dropped", self.remote_host,
                                event.message.hop_by_hop)
            elif isinstance(event, PeerOpened):
                log.info("diameter peer %s (realm %s, %s) is open; common applications %s", event.origin_host,
                         event.origin_realm, self.remote_address, sorted(event.applications))
                self.opened.set()
            elif isinstance(event, CloseConnection):
                log.info("diameter peer %s (%s): closing: %s", self.remote_host or "?", self.remote_address,
                         event.reason)
                self._flush()
                if self.transport is not None:
                    self.transport.close()
        self._flush()
        self._rearm()

    def _flush(self) -> None:
        data = self.peer.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.peer.deadline is not None and not self.closed.is_set():
            self._timer = self._loop.call_at(self.peer.deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._after(self.peer.timer_expired(self._loop.time()))

    def _dispatch(self, request: Message) -> None:
        server = self.server
        if 0 <= server.concurrent_requests <= server.active_requests:
            log.warning("diameter peer %s: %d requests in flight (concurrent_requests), answering 3004 to %s",
                        self.remote_host, server.active_requests, request.command_name)
            self._answer(self._error_answer(request, ResultCode.TOO_BUSY))
            return
        server.active_requests += 1
        try:
            server.tasks.spawn(self._run_handler(request), f"{request.command_name} from {self.remote_host}")
        except SupervisorStopped:  # the agent is stopping: the request is not taken in
            server.active_requests -= 1
            self._answer(self._error_answer(request, ResultCode.TOO_BUSY))

    async def _run_handler(self, request: Message) -> None:
        server = self.server
        try:
            if self._sync_lock is not None:
                async with self._sync_lock:
                    answer = await self._call_handler(request)
            else:
                answer = await self._call_handler(request)
            self._answer(answer)
        finally:
            server.active_requests -= 1

    async def _call_handler(self, request: Message) -> Message:
        server = self.server
        try:
            if server.handler is None:
                raise LookupError("no application handler is installed")
            coro = server.handler(request, self)
            answer = await (asyncio.wait_for(coro, server.request_timeout) if server.request_timeout else coro)
            if answer is None:
                raise LookupError("the handler produced no answer")
            answer.pack()  # an answer that cannot be encoded is a processing error too
            return answer
        except DecodeError as exc:
            log.warning("diameter peer %s: %s carries an invalid AVP: %s", self.remote_host, request.command_name,
                        exc)
            return self.peer.error_answer(request, exc.result_code, exc.avp, str(exc))
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            log.warning("diameter peer %s: %s not processed within %ss, answering %d", self.remote_host,
                        request.command_name, server.request_timeout, ResultCode.UNABLE_TO_COMPLY)
            return self._error_answer(request, ResultCode.UNABLE_TO_COMPLY)
        except Exception as exc:
            level = logging.WARNING if isinstance(exc, LookupError | EncodeError) else logging.ERROR
            log.log(level, "diameter peer %s: error processing %s (session %s): %s", self.remote_host,
                    request.command_name, _session(request), exc, exc_info=level == logging.ERROR)
            return self._error_answer(request, ResultCode.UNABLE_TO_COMPLY)

    def _error_answer(self, request: Message, result_code: int) -> Message:
        try:
            return self.server.error_hook(request, result_code, self)
        except Exception as exc:
            log.warning("diameter error hook failed for %s: %s", request.command_name, exc)
            return self.peer.error_answer(request, result_code, error_message=f"error template failed: {exc}",
                                          error_bit=True)

    def _answer(self, answer: Message) -> None:
        if self.transport is None or self.transport.is_closing():
            log.warning("diameter peer %s gone before the answer to hop-by-hop %d", self.remote_host,
                        answer.hop_by_hop)
            return
        self.peer.send_answer(answer)
        self._flush()


class DiameterServer:
    """Listeners and connections of one Diameter node."""

    def __init__(self, identity: LocalIdentity, dictionary: Dictionary, handler: RequestHandler | None = None, *,
                 listeners: Iterable[dict | str | Listener] = (), concurrent_requests: int = -1,
                 synced_conn_requests: bool = False, timers: Timers | None = None,
                 request_timeout: float | None = None, error_hook: ErrorHook | None = None,
                 max_message_length: int = MAX_MESSAGE_LEN, tasks: Supervisor | None = None) -> None:
        self.identity = identity
        self.dictionary = dictionary
        self.handler = handler
        self.listeners = [entry if isinstance(entry, Listener) else Listener.parse(entry) for entry in listeners]
        self.concurrent_requests = concurrent_requests
        self.synced_conn_requests = synced_conn_requests
        self.timers = timers or Timers()
        self.request_timeout = request_timeout
        self.error_hook: ErrorHook = error_hook or default_error_answer
        self.max_message_length = max_message_length
        self.connections: set[DiameterConnection] = set()
        #: the application requests being handled
        self.tasks = tasks if tasks is not None else Supervisor("diameter server")
        self.active_requests = 0
        self.servers: list[asyncio.AbstractServer] = []
        self.addresses: list[tuple[str, int, str]] = []

    async def start(self) -> None:
        """Open every listener (an SCTP one is skipped with an error line when the kernel cannot)."""
        loop = asyncio.get_running_loop()
        for lst in self.listeners:
            if lst.network == "sctp":
                sock = _sctp_socket(lst)
                if sock is None:
                    continue
                server = await loop.create_server(lambda: DiameterConnection(self, False), sock=sock)
            else:
                server = await loop.create_server(lambda: DiameterConnection(self, False), lst.host, lst.port,
                                                  reuse_address=True)
            self.servers.append(server)
            for s in server.sockets:
                name = s.getsockname()
                self.addresses.append((name[0], name[1], lst.network))
                log.info("diameter agent listening on %s:%d/%s", name[0], name[1], lst.network)

    async def connect(self, host: str, port: int, network: str = "tcp", timeout: float = 10.0) -> DiameterConnection:
        """Connect to a peer as initiator (CER); returns once capabilities were exchanged."""
        loop = asyncio.get_running_loop()
        if network.lstrip("*") == "sctp":
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM,
                                 socket.IPPROTO_SCTP)
            sock.setblocking(False)
            await loop.sock_connect(sock, (host, port))
            _, conn = await loop.create_connection(lambda: DiameterConnection(self, True), sock=sock)
        else:
            _, conn = await loop.create_connection(lambda: DiameterConnection(self, True), host, port)
        done, _ = await asyncio.wait([asyncio.ensure_future(conn.opened.wait()),
                                      asyncio.ensure_future(conn.closed.wait())], timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        for fut in done:
            fut.result()
        if not conn.opened.is_set():
            if conn.transport is not None:
                conn.transport.abort()
            raise ConnectionError(f"capabilities exchange with {host}:{port} failed")
        return conn

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Stop listening, let in-flight requests answer, DPR every open peer, close."""
        for server in self.servers:
            server.close()
        await self.tasks.drain(timeout=drain_timeout)
        conns = list(self.connections)
        if conns:
            await asyncio.gather(*(c.disconnect() for c in conns), return_exceptions=True)
        for server in self.servers:
            with contextlib.suppress(Exception):
                await server.wait_closed()
        self.servers.clear()


def _sctp_socket(lst: Listener) -> socket.socket | None:
    if not SCTP_AVAILABLE:
        log.error("diameter listener %s:%d/sctp skipped: this Python has no socket.IPPROTO_SCTP", lst.host, lst.port)
        return None
    family = socket.AF_INET6 if ":" in lst.host else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    except OSError as exc:
        log.error("diameter listener %s:%d/sctp skipped: the kernel refuses SCTP sockets (%s); "
                  "load the sctp module (modprobe sctp) or use network tcp", lst.host, lst.port, exc)
        return None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((lst.host, lst.port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _session(request: Message) -> object:
    try:
        return request.value("Session-Id")
    except DecodeError:
        return "?"
