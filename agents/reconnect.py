"""A client connection to a switch that stays up: dial, handshake, read, and reconnect with back-off when it drops.

CGRateS dials its switches (FreeSWITCH's event socket, Kamailio's evapi listener) and keeps each connection up:
when the switch restarts, the connection is dialled again ``reconnects`` times (-1: forever), waiting a growing
delay between attempts up to ``max_reconnect_interval``. Both the ESL and the evapi client are this one
:class:`ReconnectingClient` with a codec plugged in: a subclass resets its codec state per connection
(:meth:`~ReconnectingClient._reset`), consumes bytes (:meth:`~ReconnectingClient._data_received`), runs its
handshake (:meth:`~ReconnectingClient._handshake`: ESL auth and subscriptions; nothing for evapi) and fails what
waits on a lost connection (:meth:`~ReconnectingClient._connection_lost`).

A stream that breaks the codec's framing cannot be resynchronised: the connection is dropped (one log line naming
it) and dialled again. A single unusable message inside a good stream is skipped, logged at most once per
:data:`BAD_INPUT_LOG_INTERVAL` with the count of those not logged, so a peer that floods garbage cannot flood the log.

The owner learns of the connection's life through callbacks: ``on_reconnect(client)`` after the connection came
back (sessions may have been lost: re-sync them; :attr:`ReconnectingClient.lost_at` says when it went),
``on_down(client)`` when the client gave up. Each callback may be a plain function or return an awaitable (run as
a supervised task). Every task runs under the client's :class:`~pycgrates.engine.tasks.Supervisor`.

:meth:`ReconnectingClient.start` connects once and raises when the switch cannot be reached;
``start(wait=False)`` does not wait for the switch: the first attempt failing is logged and the client keeps
dialling under its back-off (an agent whose switch starts after the engine). :meth:`ReconnectingClient.drop`
closes the current connection as a network failure would, and the client dials again.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pycgrates.engine.log import Throttle
from pycgrates.engine.rpc.client import split_address
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.units import SECOND, parse_duration

log = logging.getLogger("cgr.agents.switch")

READ_CHUNK = 65536
#: seconds of silence before TCP keep-alive probes start (Go's default for dialled connections)
KEEPALIVE_IDLE = 15
#: seconds between two log lines about skipped malformed messages on one connection
BAD_INPUT_LOG_INTERVAL = 10.0

Callback = Callable[..., Awaitable[Any] | None]


class ConnectionLost(ConnectionError):
    """The switch is not reachable on this client: never connected, dropped, or the client stopped."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """When to dial again after a connection dropped.

    ``reconnects`` attempts (-1: forever, 0: never); the first at once, then after ``first_delay`` seconds,
    each wait ``factor`` times the one before, capped at ``max_interval`` seconds (0: no cap).
    """

    reconnects: int = -1
    max_interval: float = 0.0
    first_delay: float = 1.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        """The wait in seconds before each reconnect attempt."""
        attempt = 0
        delay = self.first_delay
        while self.reconnects < 0 or attempt < self.reconnects:
            if attempt == 0:
                yield 0.0
            else:
                yield min(delay, self.max_interval) if self.max_interval > 0 else delay
                delay *= self.factor
            attempt += 1

    @classmethod
    def from_config(cls, conn: Mapping[str, Any], first_delay: float = 1.0) -> Backoff:
        """From an ``event_socket_conns``/``evapi_conns`` entry: ``reconnects`` and ``max_reconnect_interval``."""
        reconnects = conn.get("reconnects", -1)
        try:
            reconnects = int(-1 if reconnects is None else reconnects)
        except (TypeError, ValueError):
            raise ValueError(f"reconnects {reconnects!r} is not an integer (-1 reconnects forever)") from None
        max_interval = parse_duration(conn.get("max_reconnect_interval") or 0) / SECOND
        return cls(reconnects=reconnects, max_interval=max_interval, first_delay=first_delay)


class ReconnectingClient:
    """One switch connection kept up; subclasses plug in the codec (see the module docstring)."""

    #: what the peer is, for log lines ("FreeSWITCH", "Kamailio")
    kind: ClassVar[str] = "switch"
    #: exceptions of the codec meaning the byte stream is broken (the connection is dropped and dialled again)
    protocol_errors: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(
        self,
        address: str,
        *,
        alias: str = "",
        backoff: Backoff | None = None,
        connect_timeout: float = 3.0,
        handshake_timeout: float = 5.0,
        on_reconnect: Callback | None = None,
        on_down: Callback | None = None,
    ) -> None:
        self.address = address
        self.host, self.port = split_address(address)
        self.alias = alias
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.handshake_timeout = handshake_timeout
        self.on_reconnect = on_reconnect
        self.on_down = on_down
        self.name = f"{self.kind} {address}" + (f" ({alias})" if alias else "")
        self.supervisor = Supervisor(self.name)
        #: times the connection came back after a drop
        self.reconnections = 0
        self._bad = Throttle(BAD_INPUT_LOG_INTERVAL)
        #: when (time.monotonic()) the last connection was lost; None while the first one holds
        self.lost_at: float | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[BaseException | None] | None = None
        self._connected = False
        self._stopping = False
        self._done: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {'connected' if self._connected else 'disconnected'}>"

    # ---- public surface -------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Connected and past the handshake."""
        return self._connected

    @property
    def remote_address(self) -> str:
        """``ip:port`` of the switch on the current connection ("" when disconnected)."""
        if self._writer is None:
            return ""
        peer = self._writer.get_extra_info("peername")
        return f"{peer[0]}:{peer[1]}" if peer else ""

    @property
    def local_address(self) -> str:
        """Our ``ip:port`` on the current connection ("" when disconnected)."""
        if self._writer is None:
            return ""
        local = self._writer.get_extra_info("sockname")
        return f"{local[0]}:{local[1]}" if local else ""

    async def start(self, wait: bool = True) -> None:
        """Connect once (raising when the switch cannot be reached or refuses us), then keep the connection up.

        With ``wait=False`` a first attempt that fails is logged and the client goes on dialling under its
        back-off; ``on_reconnect`` runs once it is connected."""
        if self._done is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._done = asyncio.get_running_loop().create_future()
        try:
            await self._open()
        except BaseException as exc:
            if wait or not isinstance(exc, Exception):
                self._finish(None)
                raise
            log.error("%s: cannot connect (%s); dialling again in the background", self.name,
                      exc or type(exc).__name__)
            self.lost_at = time.monotonic()
            self._reader_task = None
            self.supervisor.spawn(self._keep_connected(), "keep-connected")
            return
        log.info("%s: connected", self.name)
        self.supervisor.spawn(self._keep_connected(), "keep-connected")

    async def stop(self) -> None:
        """Close the connection and stop every task of this client; no reconnect follows."""
        self._stopping = True
        if self._writer is not None and self._connected:
            with contextlib.suppress(Exception):
                await self._goodbye()
        self._close_transport()
        await self.supervisor.stop()
        self._finish(None)

    async def wait_closed(self) -> None:
        """Wait until the client stopped for good: returns after :meth:`stop`, raises ConnectionLost when it gave
        up reconnecting."""
        if self._done is None:
            raise RuntimeError(f"{self.name}: not started")
        await asyncio.shield(self._done)

    # ---- for subclasses -------------------------------------------------------------------------------------

    def _reset(self) -> None:
        """Fresh codec state for a new connection."""

    def _data_received(self, data: bytes) -> None:
        """Bytes from the switch; raise one of :attr:`protocol_errors` when the stream is broken."""
        raise NotImplementedError

    async def _handshake(self) -> None:
        """Run after the TCP connection opened, before the client counts as connected."""

    def _connection_lost(self, exc: BaseException | None) -> None:
        """The connection ended: fail whatever waits on it."""

    async def _goodbye(self) -> None:
        """Say goodbye before a deliberate close (best effort)."""

    def _write(self, data: bytes) -> None:
        """Queue bytes on the current connection."""
        writer = self._writer
        if writer is None or writer.is_closing():
            raise ConnectionLost(f"{self.name}: not connected")
        writer.write(data)

    async def _drain(self) -> None:
        writer = self._writer
        if writer is None:
            raise ConnectionLost(f"{self.name}: not connected")
        try:
            await writer.drain()
        except (ConnectionError, OSError) as exc:
            raise ConnectionLost(f"{self.name}: {exc}") from exc

    def _require_connected(self) -> None:
        if not self._connected:
            raise ConnectionLost(f"{self.name}: not connected")

    def _notify(self, callback: Callback | None, *args: Any, what: str) -> None:
        """Call an owner callback; an awaitable it returns runs as a supervised task. It never breaks the reader."""
        if callback is None:
            return
        try:
            result = callback(*args)
        except Exception:
            log.exception("%s: %s callback failed", self.name, what)
            return
        if inspect.isawaitable(result):
            self.supervisor.spawn(_await(result), what)

    def drop(self) -> None:
        """Close the current connection as a network failure would: the client dials again."""
        writer = self._writer
        if writer is not None:
            writer.transport.abort()

    @property
    def malformed(self) -> int:
        """Malformed messages skipped (the connection survived them)."""
        return self._bad.count

    def bad_input(self, what: str, exc: BaseException | str) -> None:
        """A malformed message (or event) from the switch was skipped; log it with the connection's name, at most
        once per BAD_INPUT_LOG_INTERVAL seconds (with the count of those not logged)."""
        more = self._bad.hit()
        if more is not None:
            log.warning("%s: skipped malformed %s: %s%s", self.name, what, exc, more)

    # ---- the connection's life ------------------------------------------------------------------------------

    async def _open(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.connect_timeout)
        _keepalive(writer)
        self._reset()
        self._writer = writer
        self._reader_task = self.supervisor.spawn(self._read(reader, writer), "read")
        try:
            await asyncio.wait_for(self._handshake(), self.handshake_timeout)
        except BaseException:
            self._close_transport()
            with contextlib.suppress(BaseException):
                await self._reader_task
            raise
        if self._reader_task.done():
            raise ConnectionLost(f"{self.name}: closed by the switch after the handshake")
        self._connected = True

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> BaseException | None:
        """Feed the codec until the connection ends; returns why it ended (None: closed by the switch)."""
        reason: BaseException | None = None
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    break
                self._data_received(data)
        except self.protocol_errors as exc:
            log.warning("%s: dropping the connection, the stream is broken: %s", self.name, exc)
            reason = exc
        except (ConnectionError, OSError) as exc:
            reason = exc
        except Exception as exc:
            log.exception("%s: dropping the connection after an unexpected error", self.name)
            reason = exc
        finally:
            self._connected = False
            self.lost_at = time.monotonic()
            if self._writer is writer:
                self._writer = None
            writer.close()
            self._connection_lost(reason)
        return reason

    async def _keep_connected(self) -> None:
        while True:
            task = self._reader_task
            if task is not None:
                reason = await task
                if self._stopping:
                    return
                log.warning("%s: connection lost (%s); reconnecting", self.name, reason or "closed by the switch")
            if not await self._reconnect():
                log.error("%s: gave up after %d reconnect attempts", self.name, self.backoff.reconnects)
                self._finish(ConnectionLost(f"{self.name}: gave up reconnecting"))
                self._notify(self.on_down, self, what="on_down")
                return
            self.reconnections += 1
            log.info("%s: reconnected", self.name)
            self._notify(self.on_reconnect, self, what="on_reconnect")

    async def _reconnect(self) -> bool:
        for attempt, delay in enumerate(self.backoff.delays(), 1):
            if delay:
                await asyncio.sleep(delay)
            if self._stopping:
                return False
            try:
                await self._open()
                return True
            except (OSError, TimeoutError, ConnectionError) as exc:
                log.info("%s: reconnect attempt %d failed: %s", self.name, attempt, exc or type(exc).__name__)
            except Exception as exc:  # refused by the handshake, broken stream: try again all the same
                log.warning("%s: reconnect attempt %d failed: %s", self.name, attempt, exc)
        return False

    def _close_transport(self) -> None:
        self._connected = False
        if self._writer is not None:
            self._writer.close()

    def _finish(self, exc: BaseException | None) -> None:
        done = self._done
        if done is None or done.done():
            return
        if exc is None:
            done.set_result(None)
        else:
            done.set_exception(exc)
            done.exception()  # retrieved: nobody has to await it


def _keepalive(writer: asyncio.StreamWriter) -> None:
    """TCP keep-alive probes after KEEPALIVE_IDLE seconds of silence, as Go's dialer does for CGRateS: a switch
    that vanished without closing (power loss, a cut link) is noticed and dialled again."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", KEEPALIVE_IDLE), ("TCP_KEEPINTVL", KEEPALIVE_IDLE),
                              ("TCP_KEEPCNT", 4)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


__all__ = ["BAD_INPUT_LOG_INTERVAL", "Backoff", "ConnectionLost", "ReconnectingClient"]
