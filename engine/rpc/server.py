"""TCP listeners for JSON-RPC (``listen.rpc_json``) and BiRPC (``listen.birpc_json``), plain or TLS."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.stream import JSONRPCStream

log = logging.getLogger("cgr.rpc")


class StreamServer:
    """Accepts connections and serves each with a :class:`JSONRPCStream`."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        host: str,
        port: int,
        *,
        name: str,
        bidirectional: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        max_message: int,
        on_connect: Callable[[JSONRPCStream], None] | None = None,
        on_disconnect: Callable[[JSONRPCStream], None] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.host, self.port, self.name = host, port, name
        self.bidirectional = bidirectional
        self.ssl_context = ssl_context
        self.max_message = max_message
        self.on_connect, self.on_disconnect = on_connect, on_disconnect
        self.connections: set[JSONRPCStream] = set()
        self._server: asyncio.Server | None = None

    def _make_protocol(self) -> JSONRPCStream:
        metrics = self.dispatcher.metrics
        metrics.connections.inc(self.name)
        stream = JSONRPCStream(
            self.dispatcher,
            bidirectional=self.bidirectional,
            max_message=self.max_message,
            name=self.name,
            on_close=self._closed,
        )
        self.connections.add(stream)
        metrics.open_connections.value += 1
        if self.on_connect is not None:
            self.on_connect(stream)
        return stream

    def _closed(self, stream: JSONRPCStream) -> None:
        if stream in self.connections:
            self.connections.discard(stream)
            self.dispatcher.metrics.open_connections.value -= 1
        if self.on_disconnect is not None:
            self.on_disconnect(stream)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._make_protocol, self.host, self.port, ssl=self.ssl_context, reuse_address=True, backlog=1024
        )
        sock = self._server.sockets[0].getsockname()
        self.port = sock[1]
        log.info("%s listening on %s:%d%s", self.name, self.host, self.port, " (TLS)" if self.ssl_context else "")

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Stop accepting, let in-flight requests be answered, then close the connections (what still runs after
        ``drain_timeout`` is cancelled)."""
        if self._server is None:
            return
        self._server.close()
        conns = list(self.connections)
        if conns:
            try:
                await asyncio.wait_for(asyncio.gather(*(c.drain() for c in conns)), drain_timeout)
            except TimeoutError:
                log.warning("%s: in-flight requests still running after %.1fs; closing", self.name, drain_timeout)
        for c in conns:
            c.close()
        for c in conns:
            await c.tasks.stop()
        await self._server.wait_closed()
        self._server = None
