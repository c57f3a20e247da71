"""The HTTP agent (CGRateS's HTTPAgent): request processors mounted on URLs of the engine's HTTP listener.

``http_agent`` is a list; each entry (``id``, ``url``, ``sessions_conns``, ``request_payload``, ``reply_payload``,
``request_processors``) is one :class:`HTTPAgent` on the :class:`~agents.base.Agent` base, with its own SessionS
connection and processors. :class:`HTTPAgents`, the service, holds them and gives the engine's HTTP listeners
(``listen.http``, ``listen.http_tls``) one route per URL, any method (``http_routes``).

A request is decoded by its entry's ``request_payload`` into ``*req`` (:mod:`.payloads`), ``*vars.RemoteHost`` is the
client's ``ip:port``; the processors run as in every agent; ``*rep`` is encoded by ``reply_payload`` into a
``200`` (an empty body when no processor matched or none wrote a reply, as CGRateS). Where CGRateS writes an empty
``200`` and a log line, this agent answers ``400`` for a body its payload cannot read and ``500`` naming the error
for a processor whose templates failed.

Reload applies new processors and payloads to the URLs mounted at start; an entry that is new or moved to another
URL is mounted at the next start (the listener's routes are fixed once it runs; a log line says so).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pycgrates.agents.base import Agent, AgentSettings, agent_sessions_conns
from pycgrates.agents.request import RequestError, describe
from pycgrates.engine.config import Config
from pycgrates.engine.rpc.client import join_address
from pycgrates.engine.template.fields import TemplateError

from .payloads import DECODERS, ENCODERS, URL, XML, PayloadError, RequestInput

if TYPE_CHECKING:
    from pycgrates.engine.context import EngineContext

log = logging.getLogger("cgr.http_agent")

AGENT = "HTTPAgent"
SECTION = "http_agent"

Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


@dataclass(slots=True, kw_only=True)
class HttpSettings(AgentSettings):
    """One ``http_agent`` entry's options besides the common ones; ``listener_key`` is its URL."""

    url: str = ""
    request_payload: str = URL
    reply_payload: str = XML


def entries(cfg: Config) -> list[dict[str, Any]]:
    """The ``http_agent`` entries, each with an ``id`` (its position when it has none)."""
    try:
        raw = cfg.section(SECTION)
    except KeyError:
        return []
    return [{**entry, "id": str(entry.get("id") or f"#{i}")} for i, entry in enumerate(raw or [])
            if isinstance(entry, Mapping)]


def entry_config(cfg: Config, agent_id: str) -> Config:
    """``cfg`` with the ``http_agent`` section replaced by one entry, so the Agent base reads it as its section."""
    entry = next((e for e in entries(cfg) if e["id"] == agent_id), {})
    return Config({**cfg.data, SECTION: entry}, config_dir=cfg.config_dir, sources=cfg.sources)


class HTTPAgent(Agent[HttpSettings]):
    """One ``http_agent`` entry: its URL's requests through its processors."""

    name = AGENT
    section = SECTION

    def __init__(self, ctx: EngineContext, agent_id: str) -> None:
        self.agent_id = agent_id
        super().__init__(ctx)
        # the base read sessions_conns of the whole list (none): this entry's are its own
        ids = agent_sessions_conns(entry_config(ctx.cfg, agent_id), SECTION)
        self.sessions = ctx.conns.bidirectional(ids, self) if ids else None

    def compile(self, cfg: Config) -> HttpSettings:
        return super().compile(entry_config(cfg, self.agent_id))

    def configure(self, cfg: Config, sect: Mapping[str, Any], common: AgentSettings) -> HttpSettings:
        where = f"{SECTION} <{self.agent_id}>"
        url = str(sect.get("url") or "")
        if not url.startswith("/"):
            raise TemplateError(f"{where}: url {url!r} must be a path starting with /")
        request_payload = str(sect.get("request_payload") or URL)
        if request_payload not in DECODERS:
            raise TemplateError(f"{where}: request_payload {request_payload!r} is not one of "
                                f"{', '.join(DECODERS)}")
        reply_payload = str(sect.get("reply_payload") or XML)
        if reply_payload not in ENCODERS:
            raise TemplateError(f"{where}: reply_payload {reply_payload!r} is not one of {', '.join(ENCODERS)}")
        return common.extend(HttpSettings, url=url, request_payload=request_payload, reply_payload=reply_payload,
                             listener_key=url)

    async def open_listeners(self, settings: HttpSettings) -> None:
        """Nothing to open: the engine's HTTP listener serves the URL (:meth:`HTTPAgents.http_routes`)."""

    def keep_listeners(self, settings: HttpSettings) -> None:
        """New processors and payloads apply to the next request (handle reads the settings each time)."""

    async def handle(self, request: web.Request) -> web.Response:
        s = self.settings
        body = await request.read()
        try:
            dp = DECODERS[s.request_payload](RequestInput(request.query_string, body,
                                                          request.headers.get("Content-Type", "")))
        except PayloadError as exc:
            log.warning("<%s> %s: error decoding the %s request from %s: %s", AGENT, self.agent_id,
                        s.request_payload, request.remote, exc)
            return web.Response(status=400, text=f"{s.request_payload} request: {exc}\n")
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        vars = {"RemoteHost": join_address(peer[0], peer[1]) if peer else str(request.remote or "")}
        try:
            rep, processed = await self.process(dp, vars, settings=s)
        except RequestError as exc:
            log.warning("<%s> %s: error: %s processing request: %s", AGENT, self.agent_id, exc, describe(dp))
            return web.Response(status=500, text=f"{exc}\n")
        if not processed:
            log.warning("<%s> %s: no request processor enabled, ignoring request %s", AGENT, self.agent_id,
                        describe(dp))
        encoder = ENCODERS[s.reply_payload]
        return web.Response(body=encoder.encode(rep), headers={"Content-Type": encoder.content_type})


class HTTPAgents:
    """The ``http_agent`` service: one :class:`HTTPAgent` per entry, their URLs on the engine's HTTP listeners."""

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.agents: dict[str, HTTPAgent] = {}
        self._by_url: dict[str, HTTPAgent] = {}
        for entry in entries(ctx.cfg):
            agent = HTTPAgent(ctx, entry["id"])
            url = agent.settings.url
            if url in self._by_url:
                raise TemplateError(f"{SECTION} <{entry['id']}>: url {url} is already served by "
                                    f"<{self._by_url[url].agent_id}>")
            self.agents[entry["id"]] = agent
            self._by_url[url] = agent
        #: the URLs mounted on the listeners (fixed once they run)
        self.mounted: frozenset[str] = frozenset()

    def http_routes(self, http_cfg: Mapping[str, Any]) -> list[Route]:
        self.mounted = frozenset(self._by_url)
        return [("*", url, self._route(url)) for url in self._by_url]

    def _route(self, url: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            agent = self._by_url.get(url)
            if agent is None:
                raise web.HTTPNotFound(text=f"{url}: no http_agent serves it since the last reload\n")
            return await agent.handle(request)

        return serve

    async def start(self) -> None:
        for agent in self.agents.values():
            await agent.start()

    async def stop(self) -> None:
        for agent in self.agents.values():
            await agent.stop()

    async def reload(self, cfg: Config) -> None:
        """Entries kept get their new settings; new ones start; removed ones stop and their URL answers 404."""
        wanted = {e["id"] for e in entries(cfg)}
        for agent_id in [a for a in self.agents if a not in wanted]:
            await self.agents.pop(agent_id).stop()
        for agent_id in wanted:
            agent = self.agents.get(agent_id)
            if agent is None:
                agent = self.agents[agent_id] = HTTPAgent(self.ctx, agent_id)
                await agent.start()
            else:
                await agent.reload(cfg)
        self._by_url = {agent.settings.url: agent for agent in self.agents.values()}
        for url in set(self._by_url) - self.mounted:
            log.warning("<%s> %s: url %s is served from the next start (the HTTP listener's routes are fixed "
                        "while it runs)", AGENT, self._by_url[url].agent_id, url)


__all__ = ["AGENT", "SECTION", "HTTPAgent", "HTTPAgents", "HttpSettings", "entries"]
