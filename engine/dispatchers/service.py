"""DispatcherS: dispatcher profiles and hosts (APIerSv1), DispatcherSv1, and the routing of a dispatching engine.

Profiles are a :class:`~pycgrates.engine.profiles.base.ProfileService` type bound to contexts: their Subsystems
(``*any`` serves all; ``dispatchers.any_subsystem`` adds the ``*any`` profiles to a subsystem's own). Hosts are a
plain stored type (:class:`HostStore`, kind DISPATCHER_HOST). The routing itself is :class:`~.router.Router`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pycgrates.engine.dispatchers.profiles import DispatcherHost, DispatcherProfile, decode_host, decode_profile
from pycgrates.engine.dispatchers.router import META_DISPATCHERS, Router, dispatcher_error, event_of
from pycgrates.engine.profiles.base import ProfileError, ProfileService
from pycgrates.engine.profiles.crud import USER_ERRORS, CrudService, CrudSpec, maps_errors, words
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, mandatory_ie_missing
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import DISPATCHER_HOST, DISPATCHER_PROFILE
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.template.dataprovider import DataProvider, as_string

log = logging.getLogger("cgr.dispatchers")

UNKNOWN_API_KEY = "UNKNOWN_API_KEY"
UNAUTHORIZED_API = "UNAUTHORIZED_API"


class HostStore(CrudService):
    """APIerSv1's dispatcher hosts (Get/Set/RemoveDispatcherHost, GetDispatcherHostIDs)."""

    crud = CrudSpec("DispatcherHost", DISPATCHER_HOST, console="dispatchers_host")

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.dm = ctx.dm
        self.dm.register_decoder(DISPATCHER_HOST, self.decode_stored)

    def decode(self, raw: dict) -> DispatcherHost:
        return decode_host(raw)

    def decode_stored(self, raw: dict) -> DispatcherHost | ProfileError:
        try:
            return decode_host(raw)
        except USER_ERRORS as exc:
            return ProfileError(f"{words(self.crud.name)} {raw.get('Tenant')}:{raw.get('ID')}: {exc}")

    async def load(self, tenant: str, item_id: str) -> DispatcherHost | None:
        host = await self.dm.get(DISPATCHER_HOST, f"{tenant}:{item_id}", self.decode_stored)
        if isinstance(host, Exception):
            raise host
        return host

    async def store(self, raw: dict) -> None:
        await self.dm.set(DISPATCHER_HOST, f"{raw['Tenant']}:{raw['ID']}", raw)

    async def delete(self, tenant: str, item_id: str) -> bool:
        return await self.dm.remove(DISPATCHER_HOST, f"{tenant}:{item_id}")


class DispatcherService(ProfileService[DispatcherProfile]):
    """DispatcherSv1, APIerSv1's dispatcher profiles and hosts, and the :class:`Router` of the listeners."""

    crud = CrudSpec("DispatcherProfile", DISPATCHER_PROFILE, console="dispatchers_profile")
    index = "*dispatcher_filter_indexes"
    any_context_option = "any_subsystem"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.hosts = HostStore(ctx)
        if getattr(ctx, "registry", None) is not None:
            ctx.registry.register_object(self.hosts)
        #: broadcast calls left running (*broadcast, *broadcast_async)
        self.tasks = Supervisor("dispatchers")
        self.router = Router(self)

    def decode(self, raw: dict) -> DispatcherProfile:
        return decode_profile(raw)

    async def get_host(self, tenant: str, host_id: str) -> DispatcherHost | None:
        return await self.hosts.load(tenant, host_id)

    async def stop(self) -> None:
        await self.tasks.stop()
        await self.router.close()

    # ------------------------------------------------------------------------------------------ matching

    async def profiles_for_event(self, tenant: str, ev: dict, dp: DataProvider, subsys: str) -> list[DispatcherProfile]:
        """The profiles of an event for ``subsys`` (``*any`` when empty), heaviest first; NOT_FOUND when none."""
        opts = ev.get("APIOpts") or {}
        limit = opts.get("*dispatchersProfilesCount")
        try:
            limit = int(limit) if limit not in (None, "") else None
        except (TypeError, ValueError):
            raise RPCError(f"*dispatchersProfilesCount must be a whole number (got {limit!r})") from None
        return await self.matching_profiles(tenant, dp, event_time=ev.get("Time"), context=subsys or "*any",
                                            blockers=False, limit=limit)

    async def authorize(self, method: str, tenant: str, api_key: str, event_time: Any) -> None:
        """CGRateS's API key check: AttributeS (context ``*auth``) gives the key's ``APIMethods``."""
        if not api_key:
            raise mandatory_ie_missing("ApiKey")
        conn = self.ctx.conns.get(self.option("dispatchers", "attributes_conns", []) or [])
        ev = {"Tenant": tenant, "ID": uuid.uuid4().hex, "Time": event_time, "Event": {"ApiKey": api_key},
              "APIOpts": {"*subsys": META_DISPATCHERS, "*context": "*auth"}}
        try:
            reply = await conn.call("AttributeSv1.ProcessEvent", ev)
        except RPCError as exc:
            if exc.message == NOT_FOUND:
                raise RPCError(UNKNOWN_API_KEY) from None
            raise
        reply = event_of(reply)
        altered = reply.get("CGREvent") or reply
        methods = (altered.get("Event") or {}).get("APIMethods")
        if methods is None:
            raise RPCError(NOT_FOUND)
        allowed = set() if as_string(methods) == "*zero" else set(as_string(methods).split("&"))
        if method not in allowed:
            raise RPCError(UNAUTHORIZED_API)

    # ------------------------------------------------------------------------------------------ DispatcherSv1

    @rpc("DispatcherSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    @rpc("DispatcherSv1.GetProfilesForEvent")
    @maps_errors
    async def get_profiles_for_event(self, args: Any) -> list[dict]:
        if not isinstance(args, dict):
            raise mandatory_ie_missing("CGREvent")
        opts = args.get("APIOpts") or {}
        subsys = as_string(opts.get("*subsys"))
        dp = self.filters.event_dp(args.get("Event") or {}, opts, **{"*vars": {"*reqMethod": opts.get("*reqMethod")}})
        try:
            profiles = await self.profiles_for_event(self.tenant_of(args), args, dp, subsys)
        except RPCError as exc:
            raise dispatcher_error(exc.message) from None
        return [p.to_json() for p in profiles]

    @rpc("DispatcherSv1.RemotePing")
    async def remote_ping(self, args: Any) -> Any:
        """CoreSv1.Ping of the engine the event dispatches to (subsystem ``*core``)."""
        return await self.router.dispatch("CoreSv1.Ping", args or {}, subsys="*core")

    @rpc("DispatcherSv1.RemoteStatus")
    async def remote_status(self, args: Any) -> Any:
        """CoreSv1.Status of the engine the event dispatches to (subsystem ``*core``)."""
        return await self.router.dispatch("CoreSv1.Status", args or {}, subsys="*core")

    @rpc("DispatcherSv1.Apier")
    async def apier(self, args: Any) -> Any:
        """CGRateS's generic APIer pass-through: ``{"Method": "APIerSv1.<Name>", "Parameters": {...}}`` is sent as
        that method with the Parameters as its argument, where the profiles of subsystem ``*apier`` send an event
        made of the Parameters (``APIKey`` and ``RouteID`` among them acting as ``*apiKey`` and ``*routeID``)."""
        if not isinstance(args, dict) or not args.get("Method"):
            raise mandatory_ie_missing("Method")
        method = str(args["Method"])
        service, _, name = method.partition(".")
        if service not in ("APIerSv1", "APIerSv2") or not name or "." in name:
            raise RPCError("UNSUPPORTED_SERVICE_METHOD")
        params = args.get("Parameters")
        if not isinstance(params, dict):
            raise mandatory_ie_missing("ArgDispatcher")
        opts = {k: params[k] for k in ("APIKey", "RouteID") if params.get(k)}
        opts = {{"APIKey": "*apiKey", "RouteID": "*routeID"}[k]: v for k, v in opts.items()}
        opts.update(params.get("APIOpts") or {})
        event = {"Tenant": params.get("Tenant") or "", "Event": params, "APIOpts": opts}
        return await self.router.dispatch(method, params, subsys="*apier", event=event)

    @rpc("DispatcherSv1.RemoteSleep")
    async def remote_sleep(self, args: Any) -> Any:
        """CoreSv1.Sleep of the engine the event dispatches to (subsystem ``*core``)."""
        return await self.router.dispatch("CoreSv1.Sleep", args or {}, subsys="*core")


#: cgr-console commands (CGRateS's names)
CONSOLE_COMMANDS: dict[str, tuple[str, str]] = {**DispatcherService.crud.console_commands(),
                                                **HostStore.crud.console_commands()}
