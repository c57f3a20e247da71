"""The engine process: config → storage → services → listeners, and back down on shutdown.

Services are started per config section (``"rals": {"enabled": true}`` …). Each service is a class constructed
with the :class:`EngineContext`; its ``@rpc`` methods are registered once; ``start``/``stop``/``reload`` are
optional coroutines. Sections whose service this build does not have yet are logged and skipped.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import uuid
from pathlib import Path
from typing import Any

from pycgrates.engine.config import Config, load_config
from pycgrates.engine.config.loader import parse_listen_address
from pycgrates.engine.context import EngineContext
from pycgrates.engine.core import CoreService
from pycgrates.engine.metrics import Metrics
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.http import HTTPServer
from pycgrates.engine.rpc.registry import Registry
from pycgrates.engine.rpc.server import StreamServer
from pycgrates.engine.rpc.tls import make_ssl_context
from pycgrates.engine.units import SECOND

log = logging.getLogger("cgr.engine")

#: (config section, "module:Class") in start order; a section may list several services.
SERVICES: list[tuple[str, str]] = [
    ("rals", "pycgrates.engine.rating.service:RatingService"),
    ("rals", "pycgrates.engine.accounts.service:AccountingService"),
    ("schedulers", "pycgrates.engine.scheduler:Scheduler"),
    ("apiers", "pycgrates.engine.loader.service:LoaderService"),
    ("filters", "pycgrates.engine.filters.service:FilterService"),
    ("attributes", "pycgrates.engine.profiles.attributes:AttributeService"),
    ("chargers", "pycgrates.engine.profiles.chargers:ChargerService"),
    ("resources", "pycgrates.engine.resources:ResourceService"),
    ("stats", "pycgrates.engine.stats:StatService"),
    ("thresholds", "pycgrates.engine.thresholds:ThresholdService"),
    ("routes", "pycgrates.engine.routes:RouteService"),
    ("cdrs", "pycgrates.engine.cdrs.service:CDRService"),
    ("sessions", "pycgrates.engine.sessions.service:SessionService"),
    ("dispatchers", "pycgrates.engine.dispatchers:DispatcherService"),
    ("diameter_agent", "pycgrates.agents.diameter.agent:DiameterAgent"),
    ("radius_agent", "pycgrates.agents.radius.agent:RadiusAgent"),
    ("dns_agent", "pycgrates.agents.dns.agent:DNSAgent"),
    ("sip_agent", "pycgrates.agents.sip.agent:SIPAgent"),
    ("freeswitch_agent", "pycgrates.agents.freeswitch.agent:FreeSWITCHAgent"),
    ("kamailio_agent", "pycgrates.agents.kamailio:KamailioAgent"),
    ("asterisk_agent", "pycgrates.agents.asterisk:AsteriskAgent"),
    ("http_agent", "pycgrates.agents.http.agent:HTTPAgents"),
    ("ers", "pycgrates.engine.ers:EventReaderService"),
    ("ees", "pycgrates.engine.ees:EventExporterService"),
]

#: Sections always on (no "enabled" option) whose services are part of the core.
ALWAYS_ON = {"filters"}


def _enabled(cfg: Config, section: str) -> bool:
    if section in ALWAYS_ON:
        return True
    value = cfg.get(section, "enabled", default=False) if isinstance(cfg.section(section), dict) else \
        cfg.section(section)  # a list section (http_agent) runs when it has entries
    if section == "apiers":
        return bool(value) or bool(cfg.get("rals", "enabled", default=False))
    return bool(value)


def _load_class(spec: str) -> type | None:
    module_name, _, cls_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise
    return getattr(module, cls_name, None)


class Engine:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.metrics = Metrics()
        self.registry = Registry()
        self.dispatcher = Dispatcher(self.registry, self.metrics)
        self.node_id = cfg.get("general", "node_id", default="") or uuid.uuid4().hex[:7]
        self.ctx: EngineContext | None = None
        self.services: list[tuple[str, Any]] = []
        self.listeners: list[Any] = []
        self.stopped = asyncio.Event()
        self._stopping = False

    # ---------------------------------------------------------------------------------------- start

    async def start(self) -> None:
        from pycgrates.engine.config.service import ConfigService
        from pycgrates.engine.storage import open_datadb, open_stordb
        from pycgrates.engine.storage.cache import Cache
        from pycgrates.engine.storage.cache_service import CacheService
        from pycgrates.engine.storage.datamanager import DataManager

        cfg = self.cfg
        for w in cfg.warnings:
            log.warning("config: %s", w)
        datadb = await open_datadb(cfg.section("data_db"))
        try:
            stordb = await open_stordb(cfg.section("stor_db"))
        except BaseException:
            await datadb.close()
            raise
        cache = Cache.from_config(cfg.section("caches"))
        dm = DataManager(datadb, cache)
        rpc_conns = cfg.section("rpc_conns") or {}
        listen = cfg.section("listen")
        local_host, local_port = parse_listen_address(listen.get("rpc_json") or "127.0.0.1:2012")
        self.conns = ConnManager(
            self.dispatcher,
            rpc_conns,
            localhost=f"{'127.0.0.1' if local_host in ('0.0.0.0', '::') else local_host}:{local_port}",
            ssl_context=make_ssl_context(cfg.section("tls") or {}, server=False),
            default_reply_timeout=cfg.duration("general", "reply_timeout") / SECOND,
        )
        ctx = self.ctx = EngineContext(cfg=cfg, dm=dm, stordb=stordb, registry=self.registry, conns=self.conns)
        ctx.engine = self  # type: ignore[attr-defined]
        ctx.metrics = self.metrics  # type: ignore[attr-defined]

        self._add_service("core", CoreService(self.node_id))
        self._add_service("config", ConfigService(lambda: self.cfg, self.reload))
        self._add_service("caches", CacheService(dm))
        for section, spec in SERVICES:
            if not _enabled(cfg, section):
                continue
            cls = _load_class(spec)
            if cls is None:
                log.warning("%s: enabled in config but not yet available in this build; skipped", section)
                continue
            self._add_service(section, cls(ctx))
        for _, svc in self.services:
            start = getattr(svc, "start", None)
            if start is not None:
                await start()
        await dm.precache_all() if hasattr(dm, "precache_all") else None
        await self._start_listeners()
        log.info("engine %s started with %d RPC methods", self.node_id, len(self.registry.methods()))

    def _add_service(self, section: str, svc: Any) -> None:
        # An agent's AgentV1 methods answer SessionS on that agent's own back channel (ConnManager.bidirectional);
        # in the engine's registry several agents would overwrite each other's.
        self.registry.register_object(svc, skip_services=("AgentV1",))
        self.services.append((section, svc))
        if self.ctx is not None:
            self.ctx.services.setdefault(section, svc)

    async def _start_listeners(self) -> None:
        cfg = self.cfg
        listen = cfg.section("listen")
        http_cfg = cfg.section("http") or {}
        tls = cfg.section("tls") or {}
        max_msg = int(listen.get("max_request_size") or 4 * 1024 * 1024)
        server_ssl = make_ssl_context(tls, server=True)
        specs = [
            ("rpc_json", False, None),
            ("birpc_json", True, None),
            ("rpc_json_tls", False, server_ssl),
        ]
        for opt, bidi, sslctx in specs:
            addr = listen.get(opt) or ""
            if not addr or (opt.endswith("_tls") and sslctx is None):
                continue
            host, port = parse_listen_address(addr)
            srv = StreamServer(self.dispatcher, host, port, name=opt, bidirectional=bidi, ssl_context=sslctx,
                               max_message=max_msg)
            await srv.start()
            self.listeners.append(srv)
        for opt, sslctx in (("http", None), ("http_tls", server_ssl)):
            addr = listen.get(opt) or ""
            if not addr or (opt.endswith("_tls") and sslctx is None):
                continue
            host, port = parse_listen_address(addr)
            users = http_cfg.get("auth_users") or {} if http_cfg.get("use_basic_auth") else None
            srv = HTTPServer(
                self.dispatcher, host, port,
                json_rpc_url=http_cfg.get("json_rpc_url", "/jsonrpc"),
                ws_url=http_cfg.get("ws_url", "/ws"),
                auth_users=users, ssl_context=sslctx, max_message=max_msg, name=opt,
            )
            for _, svc in self.services:
                add_routes = getattr(svc, "http_routes", None)
                if add_routes is not None:
                    for method, path, handler in add_routes(http_cfg):
                        srv.add_route(method, path, handler)
            await srv.start()
            self.listeners.append(srv)

    def listener(self, name: str) -> Any:
        return next((srv for srv in self.listeners if srv.name == name), None)

    # ---------------------------------------------------------------------------------------- reload / stop

    async def reload(self, section: str = "", path: str | None = None) -> list[str]:
        """Re-read the config; tell the services of changed sections. Returns the changed sections."""
        from pycgrates.engine.config.loader import diff_sections
        from pycgrates.engine.config.loader import load_config as _load

        new_cfg = _load(path or self.cfg.config_dir)
        changed = sorted(diff_sections(self.cfg, new_cfg))
        if section:
            changed = [s for s in changed if s == section]
        self.cfg = new_cfg
        if self.ctx is not None:
            self.ctx.cfg = new_cfg
        if "rpc_conns" in changed:
            self.conns.reset(new_cfg.section("rpc_conns") or {})
        if "general" in changed:
            from pycgrates.engine.log import python_level

            logging.getLogger().setLevel(python_level(int(new_cfg.get("general", "log_level", default=6))))
        for sec, svc in self.services:
            reload = getattr(svc, "reload", None)
            if reload is not None and (sec in changed or not changed):
                await reload(new_cfg)
        log.info("configuration reloaded; changed sections: %s", ", ".join(changed) or "none")
        return changed

    async def stop(self) -> None:
        """Drain: stop accepting, answer in-flight requests, stop services in reverse order, close storage."""
        if self._stopping:
            return
        self._stopping = True
        for srv in self.listeners:
            try:
                await srv.stop()
            except Exception:
                log.exception("stopping listener %s", getattr(srv, "name", srv))
        for section, svc in reversed(self.services):
            stop = getattr(svc, "stop", None)
            if stop is not None:
                try:
                    await stop()
                except Exception:
                    log.exception("stopping service %s", section)
        await self.conns.close()
        if self.ctx is not None:
            await self.ctx.dm.close() if hasattr(self.ctx.dm, "close") else await self.ctx.dm.datadb.close()
            await self.ctx.stordb.close()
        self.stopped.set()
        log.info("engine %s stopped", self.node_id)


async def run_engine(config_dir: str | Path | None) -> Engine:
    engine = Engine(load_config(config_dir))
    await engine.start()
    return engine
