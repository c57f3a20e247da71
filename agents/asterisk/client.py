"""An asyncio client of one Asterisk's ARI: the event WebSocket kept up across Asterisk's restarts, and REST.

CGRateS dials each of ``asterisk_agent.asterisk_conns``: a WebSocket on ``/ari/events?api_key=user:password&
app=cgrates_auth&subscribeAll=true`` for the events (subscribeAll: the channel's events keep coming after it left
Stasis for the dialplan), REST for the commands — over HTTP (``http://address/ari/...``, basic auth, with
aiohttp), or, with ``ari_websocket``, as ``RESTRequest`` messages on the same WebSocket::

    client = ARIClient("127.0.0.1:8088", "cgrates", "CGRateS.org", on_event=handle, on_reconnect=resync)
    await client.start()
    await client.rest(ari.continue_in_dialplan(channel_id))
    await client.stop()

The WebSocket rides on :class:`~pycgrates.agents.reconnect.ReconnectingClient` (dial, back-off, ``on_reconnect``,
the rate-limited log of skipped input) with :mod:`agents.asterisk.websocket` as its codec: the handshake runs in
``_handshake``, frames are decoded as they come. A frame that breaks the framing drops the connection, which is
dialled again; a well-framed message that is not an ARI event is skipped and logged (at most once per ten
seconds, naming the connection). Events go to ``on_event(client, event)``; a RESTResponse resolves the request
that waits for it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from pycgrates.agents.reconnect import Backoff, Callback, ConnectionLost, ReconnectingClient

from . import ari
from .websocket import Accepted, Closed, Message, Ping, Rejected, WebSocketCodec, WebSocketError

EventCallback = Callable[["ARIClient", ari.ARIEvent], Any]
USER_AGENT = "pycgrates"


class ARIRejected(ConnectionError):
    """Asterisk refused the WebSocket (wrong credentials, ARI disabled, unknown application)."""


class ARIClient(ReconnectingClient):
    """One Asterisk's ARI (see the module docstring)."""

    kind = "Asterisk"
    protocol_errors = (WebSocketError,)

    def __init__(self, address: str, user: str, password: str, *, alias: str = "", origin_host: str = "",
                 app: str = ari.APP, rest_over_websocket: bool = False, on_event: EventCallback | None = None,
                 backoff: Backoff | None = None, connect_timeout: float = 3.0, reply_timeout: float = 5.0,
                 on_reconnect: Callback | None = None, on_down: Callback | None = None) -> None:
        super().__init__(address, alias=alias, backoff=backoff, connect_timeout=connect_timeout,
                         on_reconnect=on_reconnect, on_down=on_down)
        self.user, self.password, self.app = user, password, app
        #: what this Asterisk's calls are known by in SessionS (OriginHost): the alias, else the address's host
        self.origin_host = origin_host or alias or self.host
        self.rest_over_websocket = rest_over_websocket
        self.on_event = on_event
        self.reply_timeout = reply_timeout
        self.target = (f"/ari/events?api_key={quote(user, safe='')}:{quote(password, safe='')}"
                       f"&app={quote(app, safe='')}&subscribeAll=true")
        self._codec = self._new_codec()
        self._accepted: asyncio.Future[None] | None = None
        self._pending: dict[str, asyncio.Future[ari.RESTResult]] = {}
        self._ids = itertools.count(1)
        self._http: aiohttp.ClientSession | None = None
        #: when (time.time()) the last WebSocket was lost; None while the first one holds
        self.lost_at: float | None = None
        self._open_ws = False

    @classmethod
    def from_config(cls, conn: Mapping[str, Any], **kwargs: Any) -> ARIClient:
        """From an ``asterisk_conns`` entry (address, user, password, alias, reconnects, max_reconnect_interval,
        ari_websocket)."""
        address = str(conn.get("address") or "")
        if not address:
            raise ValueError("asterisk_conns: an entry has no address (host:port of Asterisk's HTTP server)")
        kwargs.setdefault("backoff", Backoff.from_config(conn))
        return cls(address, str(conn.get("user") or ""), str(conn.get("password") or ""),
                   alias=str(conn.get("alias") or ""), rest_over_websocket=bool(conn.get("ari_websocket")),
                   **kwargs)

    # ------------------------------------------------------------------------------------------ REST

    async def rest(self, call: ari.RESTCall) -> ari.RESTResult:
        """Run one REST request; ConnectionLost when Asterisk cannot be reached, TimeoutError when it did not
        answer within ``reply_timeout``."""
        if self.rest_over_websocket:
            return await self._rest_over_websocket(call)
        return await self._rest_over_http(call)

    async def _rest_over_websocket(self, call: ari.RESTCall) -> ari.RESTResult:
        self._require_connected()
        request_id = f"cgr-{next(self._ids)}"
        future: asyncio.Future[ari.RESTResult] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._write(self._codec.text(orjson.dumps(call.request(request_id)).decode()))
            await self._drain()
            return await asyncio.wait_for(future, self.reply_timeout)
        finally:
            self._pending.pop(request_id, None)

    async def _rest_over_http(self, call: ari.RESTCall) -> ari.RESTResult:
        if self._http is None or self._http.closed:
            auth = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            self._http = aiohttp.ClientSession(
                headers={"User-Agent": USER_AGENT, "Authorization": auth},
                timeout=aiohttp.ClientTimeout(total=self.reply_timeout, connect=self.connect_timeout))
        headers = {"Content-Type": "application/json"} if call.body is not None else None
        try:
            async with self._http.request(call.method, f"http://{self.address}/ari/{call.uri}", data=call.body,
                                          headers=headers) as resp:
                return ari.RESTResult(resp.status, resp.reason or "", await resp.text())
        except aiohttp.ClientError as exc:
            raise ConnectionLost(f"{self.name}: {exc}") from exc

    async def stop(self) -> None:
        await super().stop()
        if self._http is not None:
            await self._http.close()
            self._http = None

    # ------------------------------------------------------------------------------------------ the WebSocket

    def _new_codec(self) -> WebSocketCodec:
        return WebSocketCodec(self.address, self.target, headers={"Origin": "http://cgrates.org",
                                                                   "User-Agent": USER_AGENT})

    def _reset(self) -> None:
        self._codec = self._new_codec()
        self._accepted = asyncio.get_running_loop().create_future()

    async def _handshake(self) -> None:
        assert self._accepted is not None
        self._write(self._codec.handshake())
        await self._drain()
        await self._accepted

    def _data_received(self, data: bytes) -> None:
        for event in self._codec.receive_data(data):
            if isinstance(event, Message):
                self._message(event.data)
            elif isinstance(event, Ping):
                self._write(self._codec.pong(event.payload))
            elif isinstance(event, Accepted):
                self._open_ws = True
                if self._accepted is not None and not self._accepted.done():
                    self._accepted.set_result(None)
            elif isinstance(event, Rejected):
                if self._accepted is not None and not self._accepted.done():
                    self._accepted.set_exception(ARIRejected(
                        f"{self.name}: the events WebSocket was refused: {event.status} {event.reason}"))
                raise WebSocketError(f"handshake refused with {event.status}")
            elif isinstance(event, Closed):  # answered, then the TCP stream ends: dialled again
                self._write(self._codec.close(event.code))
                self._close_transport()

    def _message(self, text: str | bytes) -> None:
        try:
            event = ari.ARIEvent.parse(text)
            if event.type == ari.REST_RESPONSE:
                request_id, result = ari.rest_response(event)
                future = self._pending.get(request_id)
                if future is not None and not future.done():
                    future.set_result(result)
                return
        except ari.ARIError as exc:
            self.bad_input("ARI message", exc)
            return
        self._notify(self.on_event, self, event, what=f"event {event.type}")

    def _connection_lost(self, exc: BaseException | None) -> None:
        if self._open_ws:  # an established WebSocket, not a reconnect attempt that failed
            self.lost_at = time.time()
            self._open_ws = False
        if self._accepted is not None and not self._accepted.done():
            self._accepted.set_exception(ConnectionLost(f"{self.name}: closed during the WebSocket handshake"))
            self._accepted.exception()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost(f"{self.name}: connection lost"))
        self._pending.clear()

    async def _goodbye(self) -> None:
        self._write(self._codec.close())
        await self._drain()


__all__ = ["ARIClient", "ARIRejected", "EventCallback"]
