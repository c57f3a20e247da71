"""The dispatching: a call of a dispatched service goes to the hosts of the profile its event matches.

When DispatcherS runs, the engine's listeners look calls up through :meth:`Router.route` first (the one boundary,
engine/rpc/dispatch.py): a method of a service that CGRateS's DispatcherS wraps (:data:`SUBSYSTEMS`) is answered by
:meth:`Router.dispatch`; everything else (APIerSv1, DispatcherSv1, ...) by this engine's own services. Calls this
engine's services make to each other over ``*internal`` are not dispatched, as in CGRateS.

:meth:`Router.dispatch` follows CGRateS's DispatcherService.Dispatch:

1. with ``dispatchers.attributes_conns`` set, the ``*apiKey`` option is checked with AttributeS (context ``*auth``,
   the key as ``ApiKey``; the matched profile's ``APIMethods``, ``&``-separated, must name the method);
2. ``"*dispatchers": false`` in the options, or ``dispatchers.prevent_loop`` with ``*subsys`` already
   ``*dispatchers``, answers from this engine;
3. a ``*routeID`` option sends the call where the first call of that route (per subsystem) went, while the
   ``*dispatcher_routes`` cache keeps it;
4. otherwise the matching profiles (subsystem, filters on ``*req``/``*opts``/``*vars``, heaviest first, at most
   ``*dispatchersProfilesCount``) are tried in turn; each orders its hosts by its strategy
   (:mod:`.strategies`), keeps those whose filters pass (up to a Blocker) and calls them in order: a network
   error (the host is down, the connection broke, no reply in time) moves on to the next host, then to the next
   profile; any other error is the answer. A host that failed with a network error is tried after the others for
   :data:`DOWN_FOR` seconds.

The forwarded argument carries ``*subsys: *dispatchers`` and ``*node_id`` in its APIOpts (loop protection).
Errors of DispatcherS itself read ``DISPATCHER_ERROR:<reason>``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pycgrates.engine.dispatchers.profiles import DispatcherHost, DispatcherProfile
from pycgrates.engine.dispatchers.strategies import HostSelector
from pycgrates.engine.rpc.client import RPCClient, is_network_error
from pycgrates.engine.rpc.conn import Pool
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.rpc.registry import json_form
from pycgrates.engine.storage.cache import DISPATCHER_ROUTES
from pycgrates.engine.template.dataprovider import NotFoundError, as_string, dynamic_string
from pycgrates.engine.units import SECOND

if TYPE_CHECKING:
    from pycgrates.engine.dispatchers.service import DispatcherService

log = logging.getLogger("cgr.dispatchers")

#: the services a dispatching engine answers through DispatcherS, and their subsystem (CGRateS's names)
SUBSYSTEMS: dict[str, str] = {
    "AttributeSv1": "*attributes", "CacheSv1": "*caches", "CDRsV1": "*cdrs", "CDRsV2": "*cdrs",
    "ChargerSv1": "*chargers", "ConfigSv1": "*config", "CoreSv1": "*core", "EeSv1": "*ees", "ErSv1": "*ers",
    "GuardianSv1": "*guardians", "RALsV1": "*rals", "ReplicatorSv1": "*replicator", "ResourceSv1": "*resources",
    "Responder": "*responder", "RouteSv1": "*routes", "SchedulerSv1": "*scheduler",
    "ServiceManagerV1": "*servicemanager", "SessionSv1": "*sessions", "StatSv1": "*stats",
    "ThresholdSv1": "*thresholds",
}

META_DISPATCHERS = "*dispatchers"
INTERNAL = "*internal"
#: seconds a host that failed with a network error is tried after the others
DOWN_FOR = 5.0

DSP_HOST_NOT_FOUND = "DSP_HOST_NOT_FOUND"


def dispatcher_error(reason: str) -> RPCError:
    return RPCError(f"DISPATCHER_ERROR:{reason}")


def event_of(arg: Any) -> dict:
    """The CGREvent part of an argument (CGRateS's argument types embed it, so its fields sit at the top)."""
    if not isinstance(arg, dict):
        arg = json_form(arg) if arg is not None else {}
    return arg if isinstance(arg, dict) else {}


def _hash_key(field: str, dp: Any) -> str:
    """The value the ``*hash`` strategy ranks the hosts by; empty when the event lacks the field."""
    try:
        return dynamic_string(field, dp)
    except NotFoundError:
        return ""


def _false(value: Any) -> bool:
    return value is False or str(value).lower() == "false"


class Router:
    """Routes the calls of the dispatched services to the pool of engines (module docstring)."""

    def __init__(self, service: DispatcherService) -> None:
        self.service = service
        self._handlers: dict[str, Callable[[Any], Awaitable[Any]]] = {}
        self._clients: dict[str, tuple[DispatcherHost, RPCClient]] = {}
        self._selectors: dict[str, tuple[DispatcherProfile, HostSelector]] = {}
        self._route_locks: dict[str, asyncio.Lock] = {}
        self._down_until: dict[str, float] = {}

    # ------------------------------------------------------------------------------------------ the boundary

    def route(self, method: str) -> Callable[[Any], Awaitable[Any]] | None:
        """The handler answering ``method`` through DispatcherS; None for the methods this engine answers itself."""
        handler = self._handlers.get(method)
        if handler is None:
            subsys = SUBSYSTEMS.get(method.partition(".")[0])
            if subsys is None:
                return None
            handler = self._handlers[method] = functools.partial(self.dispatch, method, subsys=subsys)
        return handler

    # ------------------------------------------------------------------------------------------ dispatching

    async def dispatch(self, method: str, arg: Any, *, subsys: str, event: dict | None = None) -> Any:
        """Send ``method`` with ``arg`` where the profiles matching the call's event send it; the event is the
        CGREvent inside ``arg`` unless given apart (DispatcherSv1.Apier routes on its Parameters)."""
        svc = self.service
        ev = event if event is not None else event_of(arg)
        opts = ev.get("APIOpts") or {}
        tenant = svc.tenant_of(ev)
        if svc.option("dispatchers", "attributes_conns", []):
            await svc.authorize(method, tenant, as_string(opts.get("*apiKey")), ev.get("Time"))
        if _false(opts.get(META_DISPATCHERS, True)) or (
                svc.option("dispatchers", "prevent_loop", False) and opts.get("*subsys") == META_DISPATCHERS):
            return await self.call_local(method, arg)
        dp = svc.filters.event_dp(ev.get("Event") or {}, opts, **{"*vars": {"*subsys": subsys, "*reqMethod": method}})
        engine = getattr(svc.ctx, "engine", None)
        fwd = {**event_of(arg), "APIOpts": {**opts, "*subsys": META_DISPATCHERS,
                                             "*node_id": engine.node_id if engine else ""}}
        route_id = as_string(opts.get("*routeID"))
        if not route_id:
            return await self._by_profiles(tenant, ev, dp, subsys, method, fwd, "")
        route_key = f"{route_id}:{subsys}"
        lock = self._route_locks.setdefault(route_key, asyncio.Lock())
        try:
            async with lock:  # the first call of a route settles its host before the next one looks
                return await self._by_route(tenant, ev, dp, subsys, method, fwd, route_key)
        finally:
            if not lock.locked() and self._route_locks.get(route_key) is lock:
                del self._route_locks[route_key]

    async def _by_route(self, tenant: str, ev: dict, dp: Any, subsys: str, method: str, fwd: dict,
                        route_key: str) -> Any:
        cached = self.service.dm.cache.get(DISPATCHER_ROUTES, route_key)
        if cached is not None:
            r_tenant, profile_id, host_id = cached
            try:
                prf = await self.service.get_profile(r_tenant, profile_id)
                if prf is not None:
                    return await self._call_host(self._selector(prf), tenant, host_id, method, fwd)
            except RPCError as exc:
                if not (is_network_error(exc) or exc.message == DSP_HOST_NOT_FOUND):
                    raise
                log.warning("route %s to host %s failed (%s); dispatching anew", route_key, host_id, exc.message)
        return await self._by_profiles(tenant, ev, dp, subsys, method, fwd, route_key)

    async def _by_profiles(self, tenant: str, ev: dict, dp: Any, subsys: str, method: str, fwd: dict,
                           route_key: str) -> Any:
        try:
            profiles = await self.service.profiles_for_event(tenant, ev, dp, subsys)
        except RPCError as exc:
            raise dispatcher_error(exc.message) from None
        last: RPCError | None = None
        for prf in profiles:
            try:
                return await self._with_profile(prf, tenant, dp, method, fwd, route_key)
            except RPCError as exc:
                if not (is_network_error(exc) or exc.message == DSP_HOST_NOT_FOUND):
                    raise
                log.warning("dispatching %s with profile %s:%s failed: %s", method, prf.tenant, prf.id, exc.message)
                last = exc
        raise last if last is not None else dispatcher_error(NOT_FOUND)

    async def _with_profile(self, prf: DispatcherProfile, tenant: str, dp: Any, method: str, fwd: dict,
                            route_key: str) -> Any:
        sel = self._selector(prf)
        hash_key = _hash_key(sel.hash_field, dp) if sel.strategy == "*hash" else ""
        hosts = []
        for ref in sel.order(hash_key):
            if await self.service.filters.pass_filters(tenant, ref.filter_ids, dp):
                hosts.append(ref.id)
                if ref.blocker:
                    break
        if sel.broadcast:
            return await self._broadcast(sel, tenant, hosts, method, fwd)
        if not hosts:
            raise RPCError(DSP_HOST_NOT_FOUND)
        now = time.monotonic()
        hosts.sort(key=lambda hid: self._down_until.get(f"{tenant}:{hid}", 0) > now)  # stable: down ones last
        last: RPCError = RPCError(DSP_HOST_NOT_FOUND)
        for host_id in hosts:
            if route_key:
                self.service.dm.cache.set(DISPATCHER_ROUTES, route_key, (prf.tenant, prf.id, host_id))
            try:
                return await self._call_host(sel, tenant, host_id, method, fwd)
            except RPCError as exc:
                if not (is_network_error(exc) or exc.message == DSP_HOST_NOT_FOUND):
                    raise
                log.warning("dispatching %s to host %s failed: %s", method, host_id, exc.message)
                last = exc
        raise last

    async def _broadcast(self, sel: HostSelector, tenant: str, host_ids: list[str], method: str, fwd: dict) -> Any:
        conns = []
        for host_id in host_ids:
            host = await self.service.get_host(tenant, host_id)
            if host is None:
                log.warning("dispatcher host %s:%s is not defined; left out of the broadcast", tenant, host_id)
                continue
            conns.append(_HostConn(self, host))
        if not conns:
            raise RPCError(DSP_HOST_NOT_FOUND)
        return await Pool(conns, sel.strategy, self.service.tasks).call(method, fwd)

    async def _call_host(self, sel: HostSelector, tenant: str, host_id: str, method: str, fwd: dict) -> Any:
        host = await self.service.get_host(tenant, host_id)
        if host is None:
            raise RPCError(DSP_HOST_NOT_FOUND)
        if sel.load is not None:
            sel.load.started(host_id)
        try:
            return await self.call_host(host, method, fwd)
        finally:
            if sel.load is not None:
                sel.load.ended(host_id)

    async def call_host(self, host: DispatcherHost, method: str, arg: Any) -> Any:
        """One call to one host (``*internal``: this engine's own service); a network error marks it down."""
        if host.address == INTERNAL:
            return await self.call_local(method, arg)
        try:
            return await self._client(host).call(method, arg)
        except RPCError as exc:
            if is_network_error(exc):
                self._down_until[f"{host.tenant}:{host.id}"] = time.monotonic() + DOWN_FOR
            raise

    async def call_local(self, method: str, arg: Any) -> Any:
        """This engine's own service (never dispatched again; the listener's Dispatcher already counted the call
        and maps its errors)."""
        return await self.service.ctx.registry.lookup(method)(arg)

    # ------------------------------------------------------------------------------------------ state per profile/host

    def _selector(self, prf: DispatcherProfile) -> HostSelector:
        """The profile's selector, kept while the profile is the same object (the cache's compiled one)."""
        key = f"{prf.tenant}:{prf.id}"
        held = self._selectors.get(key)
        if held is None or held[0] is not prf:
            held = self._selectors[key] = (prf, HostSelector(prf))
        return held[1]

    def _client(self, host: DispatcherHost) -> RPCClient:
        key = f"{host.tenant}:{host.id}"
        held = self._clients.get(key)
        if held is not None and held[0] == host:
            return held[1]
        if held is not None:
            self.service.tasks.spawn(held[1].close(), name=f"close dispatcher host {key}")
        if host.transport in ("*gob", "*birpc_gob"):
            log.warning("dispatcher host %s: %s is not supported by this engine; using *json", key, host.transport)
        default_timeout = self.service.option("general", "reply_timeout", None)
        reply_timeout = (host.reply_timeout / SECOND if host.reply_timeout else
                         _seconds_or(default_timeout, 2.0))
        client = RPCClient(
            host.address, reply_timeout=reply_timeout,
            connect_timeout=host.connect_timeout / SECOND if host.connect_timeout else 1.0,
            connect_attempts=host.connect_attempts, reconnects=-1,
            ssl_context=self.service.ctx.conns.ssl_context if host.tls else None)
        self._clients[key] = (host, client)
        return client

    async def close(self) -> None:
        for _, client in self._clients.values():
            await client.close()
        self._clients.clear()


class _HostConn:
    """A host as a Conn of a broadcast Pool."""

    def __init__(self, router: Router, host: DispatcherHost) -> None:
        self.router, self.host = router, host

    async def call(self, method: str, arg: Any, timeout: float | None = None) -> Any:
        return await self.router.call_host(self.host, method, arg)


def _seconds_or(value: Any, default: float) -> float:
    from pycgrates.engine.units import parse_duration

    if value in (None, "", 0):
        return default
    return parse_duration(value) / SECOND
