"""The engine process: config checks → storage → services → listeners, and back down on shutdown.

Services are started per config section (``"rals": {"enabled": true}`` …) from the one list of
:mod:`engine.services`. Each service is a class constructed with the :class:`EngineContext`; its ``@rpc`` methods
are registered once; ``start``/``stop``/``reload`` are optional coroutines.

Start-up is all or nothing. :meth:`Engine.start` first runs :func:`startup_problems` (the config checks, what
opening the stores would refuse, the enabled sections this build has no service for), then opens the stores,
builds and starts the services and the listeners. What fails is a :class:`ConfigError` or a :class:`StartupError`
whose one-line message names the section or option and the fix, and whatever had started is stopped again:
:meth:`Engine.stop` works on a half-started engine. :meth:`Engine.check` is ``cgr-engine -check_config``: the same
checks and the same construction of the services (templates compiled, dictionaries loaded) over in-memory stores,
opening no file and no socket. The engine's own background work (reloads) runs under :attr:`Engine.tasks`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import uuid
from pathlib import Path
from typing import Any

from pycgrates.engine import services as catalogue
from pycgrates.engine.config import Config, ConfigError, load_config
from pycgrates.engine.config.checks import ConfigProblems, config_problems
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
from pycgrates.engine.storage import StorageError, store_problems
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.units import SECOND

log = logging.getLogger("cgr.engine")


class StartupError(Exception):
    """The engine cannot start; the message (one line) names what failed and how to fix it."""


def startup_problems(cfg: Config) -> list[str]:
    """Everything that would stop this configuration from starting, found without opening a file or a socket."""
    problems = config_problems(cfg, active=catalogue.active)
    for name in ("data_db", "stor_db"):
        problems += store_problems(cfg.section(name), name)
    problems += catalogue.unavailable(cfg)
    return problems


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _in_section(section: str, exc: Exception) -> str:
    text = _one_line(exc)
    return text if text.startswith(section) else f"{section}: {text}"


def _os_problem(where: str, exc: OSError, fix: str) -> str:
    """An OSError of a listener or a service's start, with the fix that fits its errno."""
    what = _one_line(exc.strerror or exc)
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: {what}; stop the program holding that address or {fix}"
    if exc.errno == errno.EACCES:
        return f"{where}: {what}; ports below 1024 need root (or CAP_NET_BIND_SERVICE), or {fix}"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {what}; the address is not one of this host's, {fix}"
    return f"{where}: {what}"


class Engine:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.metrics = Metrics()
        self.registry = Registry()
        self.dispatcher = Dispatcher(self.registry, self.metrics)
        #: what the listeners (and in-process ``*localhost`` callers) reach: ``dispatcher``, or with DispatcherS
        #: running the same routed through it (the local services still call each other through ``dispatcher``)
        self.front = self.dispatcher
        self.node_id = cfg.get("general", "node_id", default="") or uuid.uuid4().hex[:7]
        self.ctx: EngineContext | None = None
        self.conns: ConnManager | None = None
        self.services: list[tuple[str, Any]] = []
        self.listeners: list[Any] = []
        #: the engine's own background work (configuration reloads)
        self.tasks = Supervisor("engine")
        self.stopped = asyncio.Event()
        self._running: list[tuple[str, Any]] = []  # services whose start completed, in start order
        self._stores: list[Any] = []  # opened stores not yet handed to a DataManager
        self._stopping = False

    # ---------------------------------------------------------------------------------------- start

    async def start(self) -> None:
        """Checks, stores, services, listeners; on any failure what had started is stopped and the error raised."""
        from pycgrates.engine.storage import open_datadb, open_stordb

        for w in self.cfg.warnings:
            log.warning("config: %s", w)
        try:
            _refuse(startup_problems(self.cfg))
            try:
                self._stores.append(await open_datadb(self.cfg.section("data_db")))
                self._stores.append(await open_stordb(self.cfg.section("stor_db")))
            except (StorageError, OSError) as exc:
                raise StartupError(_one_line(exc)) from exc
            self._build(*self._stores)
            await self._start_services()
            await self._start_listeners()
        except BaseException:
            await self.stop()
            raise
        log.info("engine %s started with %d RPC methods", self.node_id, len(self.registry.methods()))

    async def check(self) -> None:
        """What start would refuse, short of the stores' files and the sockets (``cgr-engine -check_config``)."""
        from pycgrates.engine.storage import InternalDataDB, InternalStorDB

        _refuse(startup_problems(self.cfg))
        try:
            self._stores = [InternalDataDB(None), InternalStorDB(None)]
            self._build(*self._stores)
            self._server_ssl_context()
        finally:
            await self.stop()

    def _build(self, datadb: Any, stordb: Any) -> None:
        """The context and every enabled service, constructed (their templates compiled) but not started."""
        from pycgrates.engine.config.service import ConfigService
        from pycgrates.engine.storage.cache import Cache
        from pycgrates.engine.storage.cache_service import CacheService
        from pycgrates.engine.storage.datamanager import DataManager

        cfg = self.cfg
        dm = DataManager(datadb, Cache.from_config(cfg.section("caches")))
        local_host, local_port = parse_listen_address(cfg.section("listen").get("rpc_json") or "127.0.0.1:2012")
        try:
            client_ssl = make_ssl_context(cfg.section("tls") or {}, server=False)
        except (OSError, ValueError) as exc:
            raise StartupError(f"tls: client certificate, key or CA: {_one_line(exc)}; fix the paths in the tls "
                               "section") from exc
        self.conns = ConnManager(
            self.dispatcher,
            cfg.section("rpc_conns") or {},
            localhost=f"{'127.0.0.1' if local_host in ('0.0.0.0', '::') else local_host}:{local_port}",
            ssl_context=client_ssl,
            default_reply_timeout=cfg.duration("general", "reply_timeout") / SECOND,
        )
        ctx = self.ctx = EngineContext(cfg=cfg, dm=dm, stordb=stordb, registry=self.registry, conns=self.conns)
        ctx.engine = self  # type: ignore[attr-defined]
        ctx.metrics = self.metrics  # type: ignore[attr-defined]
        self._add_service("core", CoreService(self.node_id))
        self._add_service("config", ConfigService(lambda: self.cfg, self.reload,
                                                  check=lambda c: config_problems(c, active=catalogue.active),
                                                  apply=self.apply_config))
        self._add_service("caches", CacheService(dm))
        for section, cls in catalogue.enabled_services(cfg):
            try:
                svc = cls(ctx)
            except ConfigError as exc:
                raise ConfigError(_in_section(section, exc)) from exc
            except (ValueError, KeyError, TypeError, OSError) as exc:
                raise StartupError(f"{section}: cannot be set up: {_one_line(exc)}") from exc
            self._add_service(section, svc)
            router = getattr(svc, "router", None) if section == "dispatchers" else None
            if router is not None:  # before the agents that follow it build their *localhost Conns
                self.front = self.conns.front = self.dispatcher.routed(router.route)

    def _add_service(self, section: str, svc: Any) -> None:
        # An agent's AgentV1 methods answer SessionS on that agent's own back channel (ConnManager.bidirectional);
        # in the engine's registry several agents would overwrite each other's.
        self.registry.register_object(svc, skip_services=("AgentV1",))
        self.services.append((section, svc))
        if self.ctx is not None:
            self.ctx.services.setdefault(section, svc)

    async def _start_services(self) -> None:
        for section, svc in self.services:
            start = getattr(svc, "start", None)
            if start is not None:
                try:
                    await start()
                except ConfigError as exc:
                    raise ConfigError(_in_section(section, exc)) from exc
                except OSError as exc:
                    raise StartupError(_os_problem(section, exc, f"change the {section} listen address")) from exc
                except StorageError as exc:
                    raise StartupError(_in_section(section, exc)) from exc
            self._running.append((section, svc))
        assert self.ctx is not None
        await self.ctx.dm.precache_all()

    def _server_ssl_context(self) -> Any:
        try:
            return make_ssl_context(self.cfg.section("tls") or {}, server=True)
        except (OSError, ValueError) as exc:
            raise StartupError(f"tls: server certificate or key: {_one_line(exc)}; fix tls.server_certificate "
                               "and tls.server_key, or leave rpc_json_tls and http_tls empty") from exc

    async def _start_listeners(self) -> None:
        cfg = self.cfg
        listen = cfg.section("listen")
        http_cfg = cfg.section("http") or {}
        max_msg = int(listen.get("max_request_size") or 4 * 1024 * 1024)
        server_ssl = self._server_ssl_context() if listen.get("rpc_json_tls") or listen.get("http_tls") else None
        for opt, bidi, sslctx in (("rpc_json", False, None), ("birpc_json", True, None),
                                  ("rpc_json_tls", False, server_ssl)):
            addr = listen.get(opt) or ""
            if not addr or (opt.endswith("_tls") and sslctx is None):
                continue
            host, port = parse_listen_address(addr)
            srv = StreamServer(self.front, host, port, name=opt, bidirectional=bidi, ssl_context=sslctx,
                               max_message=max_msg, on_connect=self._bidirectional_client if bidi else None)
            await self._listen(srv, opt, addr)
        for opt, sslctx in (("http", None), ("http_tls", server_ssl)):
            addr = listen.get(opt) or ""
            if not addr or (opt.endswith("_tls") and sslctx is None):
                continue
            host, port = parse_listen_address(addr)
            users = http_cfg.get("auth_users") or {} if http_cfg.get("use_basic_auth") else None
            srv = HTTPServer(
                self.front, host, port,
                json_rpc_url=http_cfg.get("json_rpc_url", "/jsonrpc"),
                ws_url=http_cfg.get("ws_url", "/ws"),
                auth_users=users, ssl_context=sslctx, max_message=max_msg, name=opt,
            )
            for _, svc in self.services:
                add_routes = getattr(svc, "http_routes", None)
                if add_routes is not None:
                    for method, path, handler in add_routes(http_cfg):
                        srv.add_route(method, path, handler)
            await self._listen(srv, opt, addr)

    def _bidirectional_client(self, stream: Any) -> None:
        """SessionS knows a BiRPC client from its connection on, as CGRateS's OnBiJSONConnect."""
        sessions = self.ctx.services.get("sessions")
        if sessions is not None:
            sessions.add_client(stream)

    async def _listen(self, srv: Any, option: str, address: str) -> None:
        self.listeners.append(srv)  # stopped with the others even when start fails half-way
        try:
            await srv.start()
        except OSError as exc:
            fix = f'set listen.{option} to a free address ("" turns it off)'
            raise StartupError(_os_problem(f"listen.{option} {address}", exc, fix)) from exc

    def listener(self, name: str) -> Any:
        return next((srv for srv in self.listeners if srv.name == name), None)

    # ---------------------------------------------------------------------------------------- reload / stop

    async def reload(self, section: str = "", path: str | None = None) -> list[str]:
        """Re-read the config; tell the services of changed sections. Returns the changed sections.

        A configuration the checks refuse is not applied (:class:`ConfigProblems`); the running one stays.
        """
        from pycgrates.engine.config.loader import load_config as _load

        return await self.apply_config(_load(path or self.cfg.config_dir), section)

    async def apply_config(self, new_cfg: Config, section: str = "") -> list[str]:
        """Run on ``new_cfg`` (a reload, or ``ConfigSv1.SetConfig``): tell the services of changed sections (only
        ``section``'s when given). A configuration the checks refuse is not applied; the running one stays."""
        from pycgrates.engine.config.loader import diff_sections

        _refuse(config_problems(new_cfg, active=catalogue.active))
        changed = sorted(diff_sections(self.cfg, new_cfg))
        if section:
            changed = [s for s in changed if s == section]
        self.cfg = new_cfg
        if self.ctx is not None:
            self.ctx.cfg = new_cfg
        if "rpc_conns" in changed and self.conns is not None:
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

    def request_reload(self) -> None:
        """Reload in the background (SIGHUP); a configuration that fails keeps the running one, logged."""
        if not self._stopping:
            self.tasks.spawn(self._reload_logged(), name="reload")

    async def _reload_logged(self) -> None:
        try:
            await self.reload()
        except ConfigError as exc:
            log.error("configuration reload failed, keeping the running configuration: %s", _one_line(exc))

    async def stop(self) -> None:
        """Drain: stop accepting, answer in-flight requests, stop services in reverse order, close storage.

        Safe on an engine that never started or started half-way: only what was started is stopped.
        """
        if self._stopping:
            return
        self._stopping = True
        await self.tasks.stop()
        for srv in self.listeners:
            try:
                await srv.stop()
            except Exception:
                log.exception("stopping listener %s", getattr(srv, "name", srv))
        for section, svc in reversed(self._running):
            stop = getattr(svc, "stop", None)
            if stop is not None:
                try:
                    await stop()
                except Exception:
                    log.exception("stopping service %s", section)
        if self.conns is not None:
            await self.conns.close()
        stores = list(self._stores)
        if self.ctx is not None:  # the DataManager closes its DataDB
            stores = [self.ctx.dm, *(s for s in stores if s is not self.ctx.dm.datadb)]
        for store in stores:
            try:
                await store.close()
            except Exception:
                log.exception("closing %s", type(store).__name__)
        self.stopped.set()
        if self.ctx is not None:
            log.info("engine %s stopped", self.node_id)


def _refuse(problems: list[str]) -> None:
    if problems:
        raise ConfigProblems([_one_line(p) for p in problems])


async def run_engine(config_dir: str | Path | None) -> Engine:
    engine = Engine(load_config(config_dir))
    await engine.start()
    return engine


__all__ = ["Engine", "StartupError", "run_engine", "startup_problems"]
