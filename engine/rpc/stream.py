"""A JSON-RPC endpoint over one stream connection, usable in both directions (BiRPC).

The same class serves an accepted server connection (requests in, replies out), a client connection (requests
out, replies in) and a BiRPC connection (both). Requests are handled concurrently, as Go's net/rpc does, so a
slow handler never holds up the others on the same connection; each runs under the connection's supervisor
(``tasks``), which the server drains on stop. An error reply becomes its typed RPCError on the calling side.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from pycgrates.engine.log import Throttle
from pycgrates.engine.rpc.codec import (
    DEFAULT_MAX_MESSAGE,
    FramingError,
    InvalidMessage,
    Request,
    StreamDecoder,
    classify,
    encode_request,
    encode_response,
)
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import DISCONNECTED, Disconnected, Timeout, error_from_message
from pycgrates.engine.tasks import Supervisor, SupervisorStopped

log = logging.getLogger("cgr.rpc")

#: seconds between two warnings about documents that are no JSON-RPC message, per connection (a flood of them
#: is counted, not logged line by line)
BAD_MESSAGE_LOG_INTERVAL = 10.0


class JSONRPCStream(asyncio.Protocol):
    """One connection. ``dispatcher`` None means this end answers no requests (a plain client)."""

    def __init__(
        self,
        dispatcher: Dispatcher | None = None,
        *,
        bidirectional: bool = False,
        max_message: int = DEFAULT_MAX_MESSAGE,
        name: str = "",
        on_close: Any = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.bidirectional = bidirectional
        self.name = name
        self._decoder = StreamDecoder(max_message)
        self._transport: asyncio.Transport | None = None
        self._pending: dict[int, asyncio.Future] = {}
        self._out: list[bytes] = []  # written this turn of the event loop, sent together (_flush)
        self._ids = itertools.count(1)
        #: the requests being handled on this connection
        self.tasks = Supervisor(f"rpc {name or 'connection'}")
        self._on_close = on_close
        self.closed = asyncio.get_running_loop().create_future()
        self.peer = ""
        #: documents received that were JSON but no JSON-RPC message (each answered with an error)
        self._bad = Throttle(BAD_MESSAGE_LOG_INTERVAL)

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer or "")

    def data_received(self, data: bytes) -> None:
        try:
            messages = self._decoder.feed(data)
        except FramingError as exc:
            log.warning("closing RPC connection from %s: %s", self.peer, exc)
            self._write(encode_response(None, error=f"rpc: {exc}"))
            self.close()
            return
        for msg in messages:
            self._handle(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(Disconnected())
        self._pending.clear()
        if not self.closed.done():
            self.closed.set_result(None)
        if self._on_close is not None:
            self._on_close(self)

    # ------------------------------------------------------------------ incoming

    def _handle(self, msg: Any) -> None:
        try:
            kind = classify(msg)
        except InvalidMessage as exc:
            self._bad_message(exc.message)
            self._write(encode_response(exc.id, error=exc.message))
            return
        if isinstance(kind, Request):
            if self.dispatcher is None:
                self._write(encode_response(kind.id, error=f"rpc: can't find service {kind.method}"))
                return
            try:
                self.tasks.spawn(self._serve(kind), name=kind.method)
            except SupervisorStopped:  # the connection is being shut down
                self._write(encode_response(kind.id, error=DISCONNECTED))
            return
        fut = self._pending.pop(kind.id, None) if isinstance(kind.id, int) else None
        if fut is None or fut.done():
            log.debug("reply for unknown request id %r from %s", kind.id, self.peer)
            return
        if kind.error is not None:
            fut.set_exception(error_from_message(kind.error))
        else:
            fut.set_result(kind.result)

    @property
    def malformed(self) -> int:
        """Documents that were no JSON-RPC message (answered, or dropped, and counted)."""
        return self._bad.count

    def _bad_message(self, problem: str) -> None:
        """Log a document that is no JSON-RPC message with the peer's address, at most once per
        BAD_MESSAGE_LOG_INTERVAL seconds on this connection (with the count of those not logged)."""
        more = self._bad.hit()
        if more is not None:
            log.warning("malformed JSON-RPC document from %s on %s: %s%s", self.peer, self.name or "a connection",
                        problem, more)

    async def _serve(self, req: Request) -> None:
        assert self.dispatcher is not None
        caller = self if self.bidirectional else None
        result, error = await self.dispatcher.call(req.method, req.arg, caller)
        try:
            data = encode_response(req.id, result, error)
        except TypeError as exc:
            log.error("reply of %s is not serializable: %s", req.method, exc)
            data = encode_response(req.id, error=f"SERVER_ERROR: {exc}")
        self._write(data)

    # ------------------------------------------------------------------ outgoing

    async def call(self, method: str, arg: Any, timeout: float | None = None) -> Any:
        """Send a request on this connection and wait for its reply."""
        if self._transport is None:
            raise Disconnected()
        msg_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        self._write(encode_request(method, arg, msg_id))
        try:
            if timeout is None:
                return await fut
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise Timeout() from None
        finally:
            self._pending.pop(msg_id, None)

    def _write(self, data: bytes) -> None:
        # Messages written in one turn of the event loop leave in one send: under load a connection carries
        # many requests or replies per turn, and a system call per message costs more than the JSON.
        if self._transport is None or self._transport.is_closing():
            return
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and self._transport is not None and not self._transport.is_closing():
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))

    def close(self) -> None:
        if self._transport is not None:
            self._flush()
            self._transport.close()

    @property
    def is_connected(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    async def drain(self) -> None:
        """Wait for the requests being handled on this connection to be answered."""
        await self.tasks.drain()
