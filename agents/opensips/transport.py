"""The OpenSIPS agent's sockets: the UDP listener event_datagram sends to, and the MI client (mi_datagram over UDP,
mi_http over HTTP). They move bytes; :mod:`agents.opensips.datagram` reads them.

    listener = await EventListener.open("127.0.0.1:2020", on_datagram)
    mi = mi_client("127.0.0.1:8020")              # or "http://127.0.0.1:8888/mi"
    await mi.call("event_subscribe", {"event": "E_ACC_CDR", "socket": "udp:127.0.0.1:2020", "expire": 61})

A datagram that is not an event is dropped and logged naming its sender, at most ten lines a second, the others
counted in the next line: a flood cannot flood the log.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import aiohttp
import orjson

from pycgrates.engine.rpc.client import split_address

from .datagram import MAX_DATAGRAM, MIError, mi_reply, mi_request

log = logging.getLogger("cgr.agents.opensips")

Address = tuple[str, int]



class EventListener(asyncio.DatagramProtocol):
    """The UDP socket OpenSIPS's event_datagram sends events to."""

    def __init__(self, on_datagram: Callable[[bytes, Address], None]) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls, address: str, on_datagram: Callable[[bytes, Address], None]) -> EventListener:
        host, port = split_address(address)
        loop = asyncio.get_running_loop()
        _, listener = await loop.create_datagram_endpoint(lambda: cls(on_datagram), local_addr=(host or "0.0.0.0",
                                                                                                 port))
        return listener

    @property
    def address(self) -> Address:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[:2]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.on_datagram(data, addr[:2])

    def error_received(self, exc: Exception) -> None:
        log.warning("OpenSIPS events socket: %s", exc)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class MIClient(Protocol):
    address: str

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any: ...

    async def close(self) -> None: ...

    def local_host(self) -> str: ...


class MIDatagram(asyncio.DatagramProtocol):
    """mi_datagram over UDP: one socket towards OpenSIPS's MI, answers matched to requests by their id."""

    def __init__(self, address: str, timeout: float = 2.0) -> None:
        self.address = address
        self.timeout = timeout
        self.transport: asyncio.DatagramTransport | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)

    async def _open(self) -> None:
        host, port = split_address(self.address)
        await asyncio.get_running_loop().create_datagram_endpoint(lambda: self, remote_addr=(host, port))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: OpenSIPS is down
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionRefusedError(f"OpenSIPS MI {self.address}: {exc}"))

    def datagram_received(self, data: bytes, addr: Address) -> None:
        try:
            msg_id, result = mi_reply(data)
        except MIError as exc:
            future = self._pending.get(_id_of(data)) or next(
                (f for f in self._pending.values() if not f.done()), None)
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        future = self._pending.get(msg_id) if isinstance(msg_id, int) else None
        if future is not None and not future.done():
            future.set_result(result)

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        if self.transport is None:
            await self._open()
        assert self.transport is not None
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            data = mi_request(method, params, request_id)
            if len(data) > MAX_DATAGRAM:
                raise MIError(0, f"MI request of {len(data)} bytes does not fit a datagram")
            self.transport.sendto(data)
            return await asyncio.wait_for(future, self.timeout)
        finally:
            self._pending.pop(request_id, None)

    def local_host(self) -> str:
        if self.transport is None:
            return ""
        return self.transport.get_extra_info("sockname")[0]

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


def _id_of(data: bytes) -> int:
    try:
        msg = orjson.loads(data)
        return msg.get("id") if isinstance(msg, dict) and isinstance(msg.get("id"), int) else -1
    except ValueError:
        return -1


class MIHTTP:
    """mi_http: the same JSON-RPC requests POSTed to OpenSIPS's MI URL (``http://host:8888/mi``)."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self.address = url
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.post(self.address, data=mi_request(method, params, next(self._ids)),
                                          headers={"Content-Type": "application/json"}) as resp:
                body = await resp.read()
        except aiohttp.ClientError as exc:
            raise ConnectionRefusedError(f"OpenSIPS MI {self.address}: {exc}") from exc
        return mi_reply(body)[1]

    def local_host(self) -> str:
        return ""

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def mi_client(address: str, timeout: float = 2.0) -> MIClient:
    """``host:port`` is mi_datagram's UDP socket, ``http://...`` mi_http's URL."""
    if address.startswith(("http://", "https://")):
        return MIHTTP(address, timeout)
    split_address(address)
    return MIDatagram(address, timeout)


__all__ = ["MIHTTP", "EventListener", "MIClient", "MIDatagram", "mi_client"]
