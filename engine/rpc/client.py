"""JSON-RPC client over TCP (optionally TLS, optionally BiRPC), reconnecting on demand."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from pycgrates.engine.rpc.codec import DEFAULT_MAX_MESSAGE
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import Disconnected, RPCError, Timeout, typed
from pycgrates.engine.rpc.stream import JSONRPCStream

log = logging.getLogger("cgr.rpc")


def is_network_error(exc: BaseException) -> bool:
    """Errors after which another connection of a pool may be tried (the request did not get an answer)."""
    if isinstance(exc, RPCError):
        return isinstance(typed(exc), Disconnected | Timeout)
    return isinstance(exc, OSError | ConnectionError)


def join_address(host: str, port: int) -> str:
    """``host:port`` as Go writes an address (``[::1]:5060`` for IPv6): the inverse of :func:`split_address`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def split_address(address: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address {address!r} must be host:port")
    host = host.strip("[]") or default_host
    return host, int(port)


class RPCClient:
    """A Conn to one remote JSON-RPC (or BiRPC) endpoint.

    Connects on first use; when the connection drops, the next call reconnects (up to ``reconnects`` attempts,
    -1 for unlimited, with ``connect_timeout`` each). ``reply_timeout`` bounds each call.
    """

    def __init__(
        self,
        address: str,
        *,
        reply_timeout: float | None = 120.0,
        connect_timeout: float = 2.0,
        connect_attempts: int = 1,
        reconnects: int = -1,
        ssl_context: ssl.SSLContext | None = None,
        dispatcher: Dispatcher | None = None,
        max_message: int = DEFAULT_MAX_MESSAGE,
    ) -> None:
        self.address = address
        self.host, self.port = split_address(address)
        self.reply_timeout = reply_timeout
        self.connect_timeout = connect_timeout
        self.connect_attempts = max(1, connect_attempts)
        self.reconnects = reconnects
        self.ssl_context = ssl_context
        self.dispatcher = dispatcher  # set: BiRPC, the server may call this end
        self.max_message = max_message
        self._stream: JSONRPCStream | None = None
        self._connecting: asyncio.Lock | None = None
        self._failures = 0

    async def connect(self) -> JSONRPCStream:
        if self._stream is not None and self._stream.is_connected:
            return self._stream
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._stream is not None and self._stream.is_connected:
                return self._stream
            if self.reconnects >= 0 and self._failures > self.reconnects:
                raise Disconnected()
            loop = asyncio.get_running_loop()
            last: Exception | None = None
            for _ in range(self.connect_attempts):
                try:
                    _, stream = await asyncio.wait_for(
                        loop.create_connection(
                            lambda: JSONRPCStream(
                                self.dispatcher,
                                bidirectional=self.dispatcher is not None,
                                max_message=self.max_message,
                                name=self.address,
                            ),
                            self.host,
                            self.port,
                            ssl=self.ssl_context,
                        ),
                        self.connect_timeout,
                    )
                except (OSError, TimeoutError) as exc:
                    last = exc
                    continue
                self._stream = stream
                self._failures = 0
                return stream
            self._failures += 1
            log.debug("cannot connect to %s: %s", self.address, last)
            raise Disconnected()

    async def call(self, method: str, arg: Any, timeout: float | None = None) -> Any:
        stream = await self.connect()
        return await stream.call(method, arg, self.reply_timeout if timeout is None else timeout)

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            await self._stream.closed
            await self._stream.tasks.stop()
            self._stream = None

    @property
    def stream(self) -> JSONRPCStream | None:
        return self._stream
