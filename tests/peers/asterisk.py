"""An Asterisk as its ARI shows it to an application, written from Asterisk's ARI documentation: the events
WebSocket (``GET /ari/events?api_key=user:password&app=...&subscribeAll=...``), the REST resources the agent uses
(``channels``, ``channels/{id}``, ``channels/{id}/continue``, ``channels/{id}/variable``,
``applications/{app}/eventFilter``) over HTTP with basic auth or ``api_key``, and the same requests as
``RESTRequest`` messages on the WebSocket answered by ``RESTResponse`` events (Asterisk 20.14+).

Channels are driven by the test as the dialplan and the phones would: :meth:`AsteriskPeer.dial` creates a caller
channel and hands it to the Stasis application with its arguments (StasisStart); ``continue`` sends it on in the
dialplan; :meth:`AsteriskPeer.answer` brings it Up (ChannelStateChange); :meth:`AsteriskPeer.hangup` or a REST
``DELETE`` destroys it (ChannelDestroyed with Q.850 cause and text). Every Channel in an event or a REST answer
carries ``channelvars``, the variables ari.conf's ``channelvars`` lists ("" when unset), ``CDR(answer)`` and
``CDR(billsec)`` as Asterisk's CDR engine gives them. Without ``subscribeAll`` a socket only gets the events of
channels in its application, as Asterisk does. Times come from ``clock()``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import WSMsgType, web

CHANNELVARS = ("cgr_reqtype", "cgr_flags", "CDR(answer)", "CDR(billsec)")
HANGUP_CAUSES = {"normal": (16, "Normal Clearing"), "busy": (17, "User busy"),
                 "congestion": (34, "Circuit/channel congestion"), "no_answer": (19, "No answer"),
                 "timeout": (19, "No answer"), "rejected": (21, "Call Rejected")}


def ari_time(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


@dataclass
class Channel:
    id: str
    name: str
    caller: str
    exten: str
    created: float
    args: list[str]
    state: str = "Ring"
    app: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    answered: float = 0.0
    continued: asyncio.Event = field(default_factory=asyncio.Event)
    destroyed: asyncio.Event = field(default_factory=asyncio.Event)
    hangup_reason: str = ""


class AsteriskPeer:
    """One Asterisk's ARI on a loopback port (see the module docstring)."""

    def __init__(self, user: str = "cgrates", password: str = "CGRateS.org", *,
                 channelvars: tuple[str, ...] = CHANNELVARS, clock: Callable[[], float] | None = None,
                 asterisk_id: str = "02:42:ac:11:00:02") -> None:
        self.user, self.password = user, password
        self.channelvars = channelvars
        self.clock = clock or time.time
        self.asterisk_id = asterisk_id
        self.channels: dict[str, Channel] = {}
        self.sockets: list[tuple[web.WebSocketResponse, str, bool, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str], str]] = []  # method, path, query, transport
        self.event_filters: dict[str, Any] = {}
        self.connections = 0
        self.port = 0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._connected = asyncio.Event()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # ------------------------------------------------------------------------------------------ life cycle

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest_http)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port or self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Asterisk stops: its WebSockets close and its channels are gone."""
        for ws, *_ in list(self.sockets):
            await ws.close(code=1001, message=b"shutdown")
        self.sockets.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.channels.clear()
        self._connected.clear()

    async def restart(self, downtime: float = 0.0) -> None:
        await self.stop()
        await asyncio.sleep(downtime)
        await self.start(self.port)

    async def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.sockets) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("no ARI client connected")
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------------------------------ auth

    def _authorized(self, request: web.Request) -> bool:
        api_key = request.query.get("api_key")
        if api_key is not None:
            return api_key == f"{self.user}:{self.password}"
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == (self.user, self.password)
        return False

    # ------------------------------------------------------------------------------------------ events

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        app = request.query.get("app", "")
        if not app:
            return web.json_response({"message": "Missing parameter app"}, status=400)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        entry = (ws, app, request.query.get("subscribeAll") == "true", request.transport)
        self.sockets.append(entry)
        self.connections += 1
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._ws_message(ws, app, msg.data)
        finally:
            if entry in self.sockets:
                self.sockets.remove(entry)
        return ws

    async def _ws_message(self, ws: web.WebSocketResponse, app: str, text: str) -> None:
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            return
        if not isinstance(msg, dict) or msg.get("type") != "RESTRequest":
            return
        uri = str(msg.get("uri") or "")
        path, _, query_text = uri.partition("?")
        from urllib.parse import parse_qsl

        query = dict(parse_qsl(query_text))
        body = msg.get("message_body")
        status, reason, answer = await self._rest(str(msg.get("method") or ""), path, query,
                                                  orjson.loads(body) if body else None, "ws")
        reply = {"type": "RESTResponse", "request_id": msg.get("request_id"), "status_code": status,
                 "reason_phrase": reason, "uri": uri, "timestamp": ari_time(self.clock()),
                 "asterisk_id": self.asterisk_id, "application": app}
        if answer is not None:
            reply["content_type"] = "application/json"
            reply["message_body"] = orjson.dumps(answer).decode()
        await ws.send_str(orjson.dumps(reply).decode())

    def channel_json(self, ch: Channel) -> dict[str, Any]:
        cdr = {"CDR(answer)": datetime.fromtimestamp(ch.answered, UTC).strftime("%Y-%m-%d %H:%M:%S")
               if ch.answered else "",
               "CDR(billsec)": str(int(self.clock() - ch.answered)) if ch.answered else "0"}
        return {"id": ch.id, "name": ch.name, "state": ch.state, "protocol_id": f"{ch.id}@127.0.0.1",
                "caller": {"name": "", "number": ch.caller}, "connected": {"name": "", "number": ""},
                "accountcode": "", "dialplan": {"context": "internal", "exten": ch.exten, "priority": 3,
                                                "app_name": "Stasis" if ch.app else "Dial",
                                                "app_data": ",".join([ch.app, *ch.args]) if ch.app else ""},
                "creationtime": ari_time(ch.created), "language": "en",
                "channelvars": {name: cdr[name] if name in cdr else ch.variables.get(name, "")
                                for name in self.channelvars}}

    async def emit(self, event_type: str, ch: Channel, **extra: Any) -> None:
        for ws, app, subscribe_all, _ in list(self.sockets):
            if not subscribe_all and ch.app != app:
                continue
            allowed = (self.event_filters.get(app) or {}).get("allowed")
            if allowed and not any(a.get("type") == event_type for a in allowed):
                continue
            event = {"type": event_type, "timestamp": ari_time(self.clock()), **extra,
                     "channel": self.channel_json(ch), "asterisk_id": self.asterisk_id, "application": app}
            await ws.send_str(orjson.dumps(event).decode())

    async def send_raw(self, texts: list[str]) -> None:
        """Text messages as they are, to every socket (malformed input)."""
        for ws, *_ in list(self.sockets):
            for text in texts:
                await ws.send_str(text)

    def write_raw(self, data: bytes) -> None:
        """Bytes straight onto every WebSocket's TCP stream (broken framing)."""
        for _, _, _, transport in list(self.sockets):
            transport.write(data)

    # ------------------------------------------------------------------------------------------ the calls

    async def dial(self, caller: str, exten: str, args: list[str], app: str = "cgrates_auth") -> Channel:
        """A phone calls: the channel enters Stasis(app, args...)."""
        n = next(self._ids)
        created = self.clock()
        ch = Channel(id=f"{int(created)}.{n}", name=f"PJSIP/{caller}-{n:08x}", caller=caller, exten=exten,
                     created=created, args=list(args), app=app)
        self.channels[ch.id] = ch
        await self.emit("StasisStart", ch, args=list(args))
        return ch

    async def answer(self, ch: Channel) -> None:
        """The callee answers: the caller channel is Up."""
        ch.state = "Up"
        ch.answered = self.clock()
        await self.emit("ChannelStateChange", ch)

    async def hangup(self, ch: Channel, reason: str = "normal") -> None:
        if ch.id not in self.channels:
            return
        cause, text = HANGUP_CAUSES.get(reason, (16, "Normal Clearing"))
        ch.hangup_reason = reason
        await self.emit("ChannelDestroyed", ch, cause=cause, cause_txt=text)
        self.channels.pop(ch.id, None)
        ch.destroyed.set()

    # ------------------------------------------------------------------------------------------ REST

    async def _rest_http(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        body = await request.read()
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return web.json_response({"message": "Invalid JSON"}, status=400)
        status, reason, answer = await self._rest(request.method, request.match_info["tail"], dict(request.query),
                                                  payload, "http")
        if answer is None:
            return web.Response(status=status, reason=reason)
        return web.json_response(answer, status=status, reason=reason)

    async def _rest(self, method: str, path: str, query: dict[str, str], body: Any,
                    transport: str) -> tuple[int, str, Any]:
        self.requests.append((method, path, query, transport))
        parts = path.strip("/").split("/")
        if parts == ["channels"] and method == "GET":
            return 200, "OK", [self.channel_json(ch) for ch in self.channels.values()]
        if len(parts) == 3 and parts[0] == "applications" and parts[2] == "eventFilter" and method == "PUT":
            self.event_filters[parts[1]] = body or {}
            return 200, "OK", {"name": parts[1], "channel_ids": [], "bridge_ids": [], "endpoint_ids": [],
                               "device_names": [], "events_allowed": (body or {}).get("allowed", []),
                               "events_disallowed": []}
        if len(parts) >= 2 and parts[0] == "channels":
            ch = self.channels.get(parts[1])
            if ch is None:
                return 404, "Not Found", {"message": "Channel not found"}
            if len(parts) == 2 and method == "DELETE":
                await self.hangup(ch, query.get("reason", "normal"))
                return 204, "No Content", None
            if parts[2:] == ["continue"] and method == "POST":
                if not ch.app:
                    return 409, "Conflict", {"message": "Channel not in Stasis application"}
                ch.app = ""
                ch.continued.set()
                return 204, "No Content", None
            if parts[2:] == ["variable"] and method == "POST":
                if not query.get("variable"):
                    return 400, "Bad Request", {"message": "Variable name is required"}
                ch.variables[query["variable"]] = query.get("value", "")
                return 204, "No Content", None
        return 404, "Not Found", {"message": "Resource not found"}


__all__ = ["CHANNELVARS", "AsteriskPeer", "Channel", "ari_time"]
