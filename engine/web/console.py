"""The web console service: its pages, assets and JSON endpoints on the engine's HTTP listener (``http.console``).

Started like any service when ``http.console.enabled`` is true; the listeners (``listen.http`` and
``listen.http_tls``, with the listener's basic auth) take its routes through ``http_routes``. Under ``url``:

- ``/sessions``, ``/account``, ``/cdrs``, ``/stats``, ``/tariffs``: the pages (one layout, one fragment each);
- ``/assets/...``: the vendored stylesheets and scripts and the console's own, kept in memory (no CDN);
- ``/api/...``: the JSON the pages poll (:mod:`.views`, :mod:`.tariffs`), the CDR CSV, the StatS samples
  (:mod:`.history`, sampled every ``refresh_interval`` under the console's supervisor) and the actions
  (:mod:`.actions`, refused without a role).

Every answer forbids framing and content from anywhere but the console itself (Content-Security-Policy).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from string import Template
from typing import Any

import orjson
from aiohttp import web

from pycgrates.engine.config import Config, ConfigError
from pycgrates.engine.metrics import stat_queue_ids
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.units import SECOND, DurationError, now, parse_duration
from pycgrates.engine.web import actions as act
from pycgrates.engine.web import tariffs, views
from pycgrates.engine.web.history import StatHistory, sample_queues

log = logging.getLogger("cgr.web")

#: pages in the navigation order: (path, title)
PAGES = (("sessions", "Live sessions"), ("account", "Accounts"), ("cdrs", "CDRs"), ("stats", "StatS"),
         ("tariffs", "Tariff plans"))
CONTENT_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".txt": "text/plain",
                 ".svg": "image/svg+xml"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    url: str
    sessions_conns: tuple[str, ...]
    apiers_conns: tuple[str, ...]
    cdrs_conns: tuple[str, ...]
    stats_conns: tuple[str, ...]
    refresh_seconds: float
    stat_points: int
    granted: Mapping[str, frozenset[str]]
    basic_auth: bool
    tenant: str
    category: str

    @classmethod
    def from_config(cls, cfg: Config) -> ConsoleSettings:
        http = cfg.section("http") or {}
        sec = http.get("console") or {}
        url = "/" + str(sec.get("url") or "").strip("/")
        if url == "/":
            raise ConfigError('http.console.url: the console needs a path of its own, such as "/console"')
        try:
            refresh = parse_duration(sec.get("refresh_interval") or "10s")
        except DurationError as exc:
            raise ConfigError(f"http.console.refresh_interval: {exc}") from None
        if refresh <= 0:
            raise ConfigError('http.console.refresh_interval: must be positive, such as "10s"')
        return cls(
            url=url,
            sessions_conns=tuple(sec.get("sessions_conns") or ()), apiers_conns=tuple(sec.get("apiers_conns") or ()),
            cdrs_conns=tuple(sec.get("cdrs_conns") or ()), stats_conns=tuple(sec.get("stats_conns") or ()),
            refresh_seconds=refresh / SECOND, stat_points=int(sec.get("stat_points") or 360),
            granted=act.grants(sec.get("action_users") or {}), basic_auth=bool(http.get("use_basic_auth")),
            tenant=cfg.get("general", "default_tenant", default="cgrates.org") or "cgrates.org",
            category=cfg.get("general", "default_category", default="call") or "call",
        )


class Assets:
    """The console's static files, read once from the package (``static/``), and its pages built from them."""

    def __init__(self) -> None:
        root = resources.files("pycgrates.engine.web") / "static"
        self.files: dict[str, tuple[bytes, str, str]] = {}  # path → (body, content type, ETag)
        self._walk(root, "")
        layout = Template(self._text("layout.html"))
        self.pages: dict[str, bytes] = {}
        for page, title in PAGES:
            nav = "\n".join(
                f'<li><a href="{p}"{" aria-current=page" if p == page else ""}>{t}</a></li>' for p, t in PAGES)
            html = layout.substitute(title=title, page=page, nav=nav, main=self._text(f"pages/{page}.html"))
            self.pages[page] = html.encode()

    def _walk(self, node: Any, prefix: str) -> None:
        for child in node.iterdir():
            path = prefix + child.name
            if child.is_dir():
                self._walk(child, path + "/")
            elif not child.name.startswith("."):
                body = child.read_bytes()
                kind = CONTENT_TYPES.get("." + child.name.rpartition(".")[2], "application/octet-stream")
                self.files[path] = (body, kind, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')

    def _text(self, path: str) -> str:
        return self.files[path][0].decode()


class WebConsole:
    """The ``http.console`` service."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.settings = ConsoleSettings.from_config(ctx.cfg)
        self._conns_for(self.settings)  # undefined connections are refused at start
        #: fixed at start: the listeners take the routes once
        self.url = self.settings.url
        self.assets = Assets()
        self.history = StatHistory(self.settings.stat_points)
        self.tasks = Supervisor("web console")
        self._sampler: asyncio.Task | None = None

    def _conns_for(self, s: ConsoleSettings) -> dict[str, Any]:
        get = self.ctx.conns.get
        return {"sessions": get(s.sessions_conns), "apiers": get(s.apiers_conns), "cdrs": get(s.cdrs_conns),
                "stats": get(s.stats_conns)}

    def conn(self, name: str) -> Any:
        conn = self._conns_for(self.settings)[name]
        if conn is None:
            raise RPCError(f"the console has no {name}_conns (http.console.{name}_conns)")
        return conn

    # ------------------------------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self.tasks.stopped:
            self.tasks = Supervisor("web console")
        if self.settings.stats_conns:
            self._sampler = self.tasks.spawn(self._sample_loop(), name="StatS sampler")

    async def stop(self) -> None:
        await self.tasks.stop()

    async def reload(self, cfg: Config) -> None:
        settings = ConsoleSettings.from_config(cfg)
        self._conns_for(settings)
        if settings.url != self.url:
            log.warning("web console: url %s takes effect at the next start; still serving %s", settings.url, self.url)
        self.settings = settings
        self.history.resize(settings.stat_points)
        if self._sampler is not None:
            self._sampler.cancel()
            self._sampler = None
        if settings.stats_conns and not self.tasks.stopped:
            self._sampler = self.tasks.spawn(self._sample_loop(), name="StatS sampler")

    async def _sample_loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await sample_queues(self.conn("stats"), self.settings.tenant, self.history, time.time())
            except (RPCError, OSError) as exc:
                log.warning("web console: StatS sample failed: %s", exc)
            await asyncio.sleep(max(0.0, self.settings.refresh_seconds - (time.monotonic() - started)))

    # ------------------------------------------------------------------------------------------ routes

    def http_routes(self, http_cfg: dict) -> list[tuple[str, str, Handler]]:
        u = self.url
        routes: list[tuple[str, str, Handler]] = [
            ("GET", u, self._home), ("GET", u + "/", self._home),
            ("GET", u + "/assets/{path:.+}", self._asset),
            ("GET", u + "/api/me", self._json(self._me)),
            ("GET", u + "/api/sessions", self._json(self._sessions)),
            ("GET", u + "/api/account", self._json(self._account)),
            ("GET", u + "/api/cdrs", self._json(self._cdrs)),
            ("GET", u + "/api/cdrs.csv", self._cdrs_csv),
            ("GET", u + "/api/stats", self._json(self._stat_queues)),
            ("GET", u + "/api/stats/{queue}", self._json(self._stat_series)),
            ("GET", u + "/api/tariffs", self._json(self._tariffs)),
            ("POST", u + "/api/cost", self._json(self._cost)),
            ("POST", u + "/api/actions/{action}", self._json(self._action)),
        ]
        routes += [("GET", f"{u}/{page}", self._page) for page, _ in PAGES]
        return routes

    def _user(self, request: web.Request) -> str | None:
        """Who is asking: only a user the listener's basic auth checked counts."""
        if not self.settings.basic_auth:
            return None
        return act.basic_auth_user(request.headers.get("Authorization", ""))

    @staticmethod
    def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**SECURITY_HEADERS, **(extra or {})}

    async def _home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{self.url}/sessions", headers=self._headers())

    async def _page(self, request: web.Request) -> web.Response:
        page = request.path.rstrip("/").rpartition("/")[2]
        return web.Response(body=self.assets.pages[page], content_type="text/html", charset="utf-8",
                            headers=self._headers({"Cache-Control": "no-cache"}))

    async def _asset(self, request: web.Request) -> web.Response:
        found = self.assets.files.get(request.match_info["path"])
        if found is None:
            raise web.HTTPNotFound(headers=self._headers())
        body, kind, etag = found
        headers = self._headers({"ETag": etag, "Cache-Control": "no-cache"})
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type=kind, headers=headers)

    def _json(self, fn: Callable[[web.Request], Awaitable[Any]]) -> Handler:
        """An API handler: its result as JSON; service errors, bad forms and refusals as JSON errors."""

        async def handle(request: web.Request) -> web.Response:
            status = 200
            try:
                data = await fn(request)
            except act.Refused as exc:
                status, data = exc.status, {"error": str(exc)}
            except views.BadQuery as exc:
                status, data = 400, {"error": str(exc)}
            except RPCError as exc:
                status, data = (404 if exc.message == NOT_FOUND else 502), {"error": exc.message}
            except OSError as exc:
                status, data = 502, {"error": f"service unreachable: {exc}"}
            return web.Response(body=orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), status=status,
                                content_type="application/json", headers=self._headers({"Cache-Control": "no-store"}))

        return handle

    # ------------------------------------------------------------------------------------------ reads

    async def _me(self, request: web.Request) -> dict:
        user = self._user(request)
        return {"User": user, "Actions": act.allowed_actions(user, self.settings.granted),
                "Tenant": self.settings.tenant, "Category": self.settings.category,
                "RefreshInterval": self.settings.refresh_seconds}

    async def _sessions(self, request: web.Request) -> list[dict]:
        return await views.live_sessions(self.conn("sessions"), now())

    def _tenant(self, request: web.Request) -> str:
        return request.query.get("tenant", "").strip() or self.settings.tenant

    async def _account(self, request: web.Request) -> dict:
        account = request.query.get("account", "").strip()
        if not account:
            raise views.BadQuery("account: name the account")
        cdrs = self._conns_for(self.settings)["cdrs"]
        return await views.account_view(self.conn("apiers"), cdrs, self._tenant(request), account, now())

    async def _cdrs(self, request: web.Request) -> list[dict]:
        return await views.cdr_search(self.conn("cdrs"), views.cdr_query(request.query))

    async def _cdrs_csv(self, request: web.Request) -> web.Response:
        try:
            rows = await views.cdr_search(self.conn("cdrs"), views.cdr_query(request.query))
        except views.BadQuery as exc:
            raise web.HTTPBadRequest(text=str(exc), headers=self._headers()) from None
        except RPCError as exc:
            raise web.HTTPBadGateway(text=exc.message, headers=self._headers()) from None
        disposition = 'attachment; filename="cdrs.csv"'
        return web.Response(text=views.cdrs_csv(rows), content_type="text/csv", charset="utf-8",
                            headers=self._headers({"Content-Disposition": disposition, "Cache-Control": "no-store"}))

    async def _stat_queues(self, request: web.Request) -> dict:
        tenant = self._tenant(request)
        return {"Tenant": tenant, "Queues": await stat_queue_ids(self.conn("stats"), tenant),
                "RefreshInterval": self.settings.refresh_seconds}

    async def _stat_series(self, request: web.Request) -> dict:
        queue = f"{self._tenant(request)}:{request.match_info['queue']}"
        if queue not in self.history:  # not sampled yet (a queue new since the last sample): sample now
            await sample_queues(self.conn("stats"), self._tenant(request), self.history, time.time())
        return {"Queue": queue, **self.history.series(queue)}

    async def _tariffs(self, request: web.Request) -> dict:
        q = request.query
        subject = q.get("subject", "").strip()
        if not subject:
            raise views.BadQuery("subject: name the rating subject (usually the account)")
        number = "".join(q.get("number", "").split())
        return await tariffs.tariff_view(self.conn("apiers"), self._tenant(request),
                                         q.get("category", "").strip() or self.settings.category, subject, number,
                                         now())

    async def _cost(self, request: web.Request) -> dict:
        act.check_same_origin(request.method, request.headers, request.host)
        return await tariffs.call_cost(self.conn("apiers"), await _body(request))

    # ------------------------------------------------------------------------------------------ actions

    async def _action(self, request: web.Request) -> dict:
        action = "*" + request.match_info["action"]
        act.check_same_origin(request.method, request.headers, request.host)
        user = self._user(request)
        act.check(action, user, self.settings.granted)
        body = await _body(request)
        if action == act.FORCE_DISCONNECT:
            result = await act.force_disconnect(self.conn("sessions"), body)
        else:
            result = await act.add_balance(self.conn("apiers"), body)
        log.info("web console: %s by %s: %s", action, user, {k: body.get(k) for k in sorted(body)})
        return {"Result": result}


async def _body(request: web.Request) -> dict:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise act.Refused(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise act.Refused(400, "the request body is not a JSON object")
    return body


__all__ = ["PAGES", "Assets", "ConsoleSettings", "WebConsole"]
