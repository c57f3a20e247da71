"""The HTTP listener (``listen.http``): JSON-RPC over POST and over WebSocket, /metrics, and routes that
other services add (CDR endpoints, agents). Basic auth per ``http.use_basic_auth`` / ``http.auth_users``."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from pycgrates.engine.rpc.codec import FramingError, InvalidMessage, Request, classify, dumps, encode_response, loads
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.tasks import Supervisor

log = logging.getLogger("cgr.http")

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def decode_auth_users(users: dict[str, str]) -> dict[str, bytes]:
    """``auth_users`` hold base64-encoded passwords, as in CGRateS; a value that is not base64 is taken as is."""
    out = {}
    for user, value in users.items():
        try:
            out[user] = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            out[user] = value.encode()
    return out


class HTTPServer:
    def __init__(
        self,
        dispatcher: Dispatcher,
        host: str,
        port: int,
        *,
        json_rpc_url: str = "/jsonrpc",
        ws_url: str = "/ws",
        metrics_url: str = "/metrics",
        auth_users: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_message: int = 4 * 1024 * 1024,
        name: str = "http",
    ) -> None:
        self.dispatcher = dispatcher
        self.host, self.port, self.name = host, port, name
        self.ssl_context = ssl_context
        self.max_message = max_message
        self._users = decode_auth_users(auth_users) if auth_users is not None else None
        middlewares = [self._auth] if self._users is not None else []
        self.app = web.Application(client_max_size=max_message, middlewares=middlewares)
        if json_rpc_url:
            self.app.router.add_post(json_rpc_url, self._jsonrpc)
        if ws_url:
            self.app.router.add_get(ws_url, self._websocket)
        if metrics_url:
            self.app.router.add_get(metrics_url, self._metrics)
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    def add_route(self, method: str, path: str, handler: RouteHandler) -> None:
        """Other services (CDRs, HTTP agent) add their endpoints before :meth:`start`."""
        self.app.router.add_route(method, path, handler)

    @web.middleware
    async def _auth(self, request: web.Request, handler: RouteHandler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            expected = self._users.get(user) if self._users else None
            if expected is not None and hmac.compare_digest(expected, password.encode()):
                return await handler(request)
        challenge = {"WWW-Authenticate": 'Basic realm="cgrates"'}
        return web.Response(status=401, text="401 Unauthorized\n", headers=challenge)

    async def _jsonrpc(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            msg = loads(body)
            req = classify(msg)
            if not isinstance(req, Request):
                raise InvalidMessage(getattr(req, "id", None), "rpc: expected a request")
        except InvalidMessage as exc:
            return self._json(encode_response(exc.id, error=exc.message))
        except ValueError as exc:
            return self._json(encode_response(None, error=f"rpc: invalid JSON: {exc}"), status=400)
        result, error = await self.dispatcher.call(req.method, req.arg)
        try:
            return self._json(encode_response(req.id, result, error))
        except TypeError as exc:
            return self._json(encode_response(req.id, error=f"SERVER_ERROR: {exc}"))

    @staticmethod
    def _json(data: bytes, status: int = 200) -> web.Response:
        return web.Response(body=data, status=status, content_type="application/json")

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=self.max_message, heartbeat=30)
        await ws.prepare(request)
        self._sockets.add(ws)
        self.dispatcher.metrics.connections.inc(self.name + "_ws")
        tasks = Supervisor(f"{self.name} websocket")  # the requests being handled on this socket
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    req = classify(loads(msg.data))
                    if not isinstance(req, Request):
                        raise InvalidMessage(getattr(req, "id", None), "rpc: expected a request")
                except InvalidMessage as exc:
                    await ws.send_bytes(encode_response(exc.id, error=exc.message))
                    continue
                except (ValueError, FramingError) as exc:
                    await ws.send_bytes(encode_response(None, error=f"rpc: invalid JSON: {exc}"))
                    await ws.close()
                    break
                tasks.spawn(self._ws_serve(ws, req), name=req.method)
        finally:
            try:
                await tasks.drain()
            finally:
                await tasks.stop()
                self._sockets.discard(ws)
        return ws

    async def _ws_serve(self, ws: web.WebSocketResponse, req: Request) -> None:
        result, error = await self.dispatcher.call(req.method, req.arg)
        try:
            data = encode_response(req.id, result, error)
        except TypeError as exc:
            data = encode_response(req.id, error=f"SERVER_ERROR: {exc}")
        if not ws.closed:
            await ws.send_str(data.decode())

    async def _metrics(self, request: web.Request) -> web.Response:
        # the figures of this engine's own services, even where DispatcherS routes the listeners' calls
        text = await self.dispatcher.metrics.exposition(self.dispatcher.local)
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context, reuse_address=True)
        await site.start()
        server = site._server  # aiohttp keeps the asyncio server here; we need the bound port for port 0
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("%s listening on %s:%d%s", self.name, self.host, self.port, " (TLS)" if self.ssl_context else "")

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


__all__ = ["HTTPServer", "dumps"]
