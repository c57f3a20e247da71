"""ResourceS: counted resources (concurrent calls, channels, licences) that events allocate and release (CGRateS v0.11
``ResourceSv1``; the seed's ResourceLimiter).

**Profiles** live under DataDB kind RESOURCE_PROFILE, key ``tenant:id``: ``{"Tenant","ID","FilterIDs",
"ActivationInterval","UsageTTL","Limit","AllocationMessage","Blocker","Stored","Weight","ThresholdIDs"}``
(``UsageTTL`` in nanoseconds; ``Limit`` -1 is unlimited). Matching is the ProfileService base's: filter index,
activation at the event time, FilterIDs, heaviest first, cut after the first Blocker.

**Resources** are the live state, one per profile (kind RESOURCE, same key): ``{"Tenant","ID","Usages": {usage ID:
{"Tenant","ID","ExpiryTime","Units"}},"TTLIdx"}``, kept by a :class:`~.state.StateStore` (one lock per resource;
written per ``resources.store_interval``, only for profiles with ``Stored``).

**An event** names its usage with ``APIOpts["*rsUsageID"]`` and its units with ``APIOpts["*rsUnits"]``, optionally
overriding the profiles' TTL with ``APIOpts["*rsUsageTTL"]``; v0.10 clients send the same as top-level ``UsageID``,
``Units`` and ``UsageTTL``; the defaults are ``resources.opts`` (``*usageID``, ``*units``, ``*usageTTL``).

**Allocating** (:func:`allocate`, CGRateS's ``Resources.allocateResource``) locks every matching resource together
(in key order, so two allocations never wait on each other crosswise), drops expired usages, takes out an earlier
usage of the same ID (a re-allocation replaces it), and succeeds when one resource, heaviest first, still has room
for the units: the reply is that resource's AllocationMessage, or its ID. The usage is then recorded on every
matching resource, or, when none has room, on none (``RESOURCE_UNAVAILABLE``; ``RESOURCE_UNAUTHORIZED`` for
AuthorizeResources, which only simulates). A usage expires ``UsageTTL`` after it was allocated: ``*rsUsageTTL`` when
the call gives one (not 0), else the profile's when not negative; a negative TTL never expires; a TTL of 0 allocates
without recording anything, as CGRateS does.

**Thresholds**: after an allocation or a release each resource whose ThresholdIDs are not ``[*none]`` sends
``ThresholdSv1.ProcessEvent`` on ``resources.thresholds_conns`` with ``{"EventType": "ResourceUpdate",
"ResourceID", "Usage": <total units>}`` and the call's APIOpts plus ``*eventType`` and ``*thdProfileIDs`` (the
profile's ThresholdIDs, or null for all); a failed event answers ``PARTIALLY_EXECUTED`` once the allocation is done.

Profiles are administered through ``APIerSv1.Get/Set/RemoveResourceProfile`` and ``GetResourceProfileIDs``; setting
a new profile, or changing its UsageTTL or Limit, or un-storing it, starts its resource afresh, and removing it
removes its resource (CGRateS's DataManager.SetResourceProfile).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pycgrates.engine.filters.rules import ActivationInterval, activation_json, parse_activation_interval
from pycgrates.engine.profiles.base import event_option, json_number, str_list
from pycgrates.engine.profiles.crud import USER_ERRORS, CrudSpec, api_error
from pycgrates.engine.profiles.stateful import StatefulService
from pycgrates.engine.rpc.errors import PARTIALLY_EXECUTED, RPCError, mandatory_ie_missing, not_found
from pycgrates.engine.rpc.errors import require as require_fields
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import RESOURCE, RESOURCE_PROFILE
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.units import DurationError, TimeError, format_time, parse_duration, parse_time
from pycgrates.engine.units import now as utc_now

RESOURCE_UNAVAILABLE = "RESOURCE_UNAVAILABLE"
RESOURCE_UNAUTHORIZED = "RESOURCE_UNAUTHORIZED"
RESOURCE_UPDATE = "ResourceUpdate"
UNLIMITED = -1

#: option names: the APIOpts key (v0.11), then the v0.10 top-level field
OPT_USAGE_ID = ("*rsUsageID", "UsageID")
OPT_UNITS = ("*rsUnits", "Units")
OPT_USAGE_TTL = ("*rsUsageTTL", "UsageTTL")


# ---------------------------------------------------------------------------------------------------- profiles


@dataclass(slots=True)
class ResourceProfile:
    tenant: str
    id: str
    filter_ids: tuple[str, ...] = ()
    activation: ActivationInterval | None = None
    usage_ttl: int = 0  # ns; negative: usages never expire; 0: usages are not recorded
    limit: float = 0.0  # -1: unlimited
    allocation_message: str = ""
    blocker: bool = False
    stored: bool = False
    weight: float = 0.0
    threshold_ids: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "FilterIDs": list(self.filter_ids),
                "ActivationInterval": activation_json(self.activation), "UsageTTL": self.usage_ttl,
                "Limit": json_number(self.limit), "AllocationMessage": self.allocation_message,
                "Blocker": self.blocker, "Stored": self.stored, "Weight": json_number(self.weight),
                "ThresholdIDs": list(self.threshold_ids)}


def _ttl(value: Any, what: str) -> int:
    """A TTL as CGRateS reads one: nanoseconds, a Go duration, or ``*unlimited`` (-1)."""
    if isinstance(value, str) and value.strip() == "*unlimited":
        return UNLIMITED
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {value!r} is not a number") from None


def _flag(value: Any, what: str) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    raise ValueError(f"{what} {value!r} is not a boolean (use true or false)")


def decode_resource_profile(raw: dict) -> ResourceProfile:
    """A ResourceProfile from CGRateS's JSON; ValueError names the field that is wrong."""
    return ResourceProfile(
        tenant=raw.get("Tenant") or "", id=raw.get("ID") or "",
        filter_ids=str_list(raw.get("FilterIDs")),
        activation=parse_activation_interval(raw.get("ActivationInterval")),
        usage_ttl=_ttl(raw.get("UsageTTL") or 0, "UsageTTL"),
        limit=_number(raw.get("Limit") or 0, "Limit"),
        allocation_message=as_string(raw.get("AllocationMessage")),
        blocker=_flag(raw.get("Blocker"), "Blocker"), stored=_flag(raw.get("Stored"), "Stored"),
        weight=_number(raw.get("Weight") or 0, "Weight"),
        threshold_ids=str_list(raw.get("ThresholdIDs")))


# ---------------------------------------------------------------------------------------------------- live state


@dataclass(slots=True)
class ResourceUsage:
    tenant: str
    id: str
    units: float
    expiry: datetime | None = None  # None: never expires

    def active_at(self, now: datetime) -> bool:
        return self.expiry is None or self.expiry > now

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "ExpiryTime": format_time(self.expiry),
                "Units": json_number(self.units)}


@dataclass(slots=True)
class Resource:
    """The usages counted against one profile; not safe to change without the StateStore's lock of its key."""

    tenant: str
    id: str
    usages: dict[str, ResourceUsage] = field(default_factory=dict)
    #: IDs of the usages that expire, in allocation order (None until one was recorded: Go's nil slice)
    ttl_idx: list[str] | None = None

    @property
    def key(self) -> str:
        return f"{self.tenant}:{self.id}"

    def total_usage(self) -> float:
        return sum(u.units for u in self.usages.values())

    def expire(self, now: datetime) -> bool:
        """Drop the usages expired at ``now``; whether any were."""
        if not self.ttl_idx:
            return False
        gone = [uid for uid in self.ttl_idx if uid not in self.usages or not self.usages[uid].active_at(now)]
        for uid in gone:
            self.usages.pop(uid, None)
        if gone:
            self.ttl_idx = [uid for uid in self.ttl_idx if uid in self.usages]
        return bool(gone)

    def record(self, usage: ResourceUsage, ttl: int | None, now: datetime) -> None:
        """Count ``usage`` (its ID not counted yet): expiring ``ttl`` ns from ``now`` when positive, never when None
        or negative, and not at all when 0."""
        if ttl == 0:
            return
        expiry = now + timedelta(microseconds=ttl / 1000) if ttl is not None and ttl > 0 else None
        self.usages[usage.id] = ResourceUsage(usage.tenant, usage.id, usage.units, expiry)
        if expiry is not None:
            self.ttl_idx = [*(self.ttl_idx or ()), usage.id]

    def clear(self, usage_id: str) -> ResourceUsage | None:
        """Give back the units of a usage; the usage, or None when it was not counted here."""
        usage = self.usages.pop(usage_id, None)
        if usage is not None and usage.expiry is not None and self.ttl_idx:
            self.ttl_idx = [uid for uid in self.ttl_idx if uid != usage_id]
        return usage

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "Usages": {k: u.to_json() for k, u in self.usages.items()},
                "TTLIdx": None if self.ttl_idx is None else list(self.ttl_idx)}


def decode_resource(raw: dict) -> Resource:
    """A Resource from its stored JSON (what GetResource answers)."""
    usages = {}
    for uid, u in (raw.get("Usages") or {}).items():
        try:
            expiry = parse_time(u.get("ExpiryTime"))
        except TimeError as exc:
            raise ValueError(f"resource {raw.get('Tenant')}:{raw.get('ID')} usage {uid}: {exc}") from None
        usages[uid] = ResourceUsage(u.get("Tenant") or raw.get("Tenant") or "", u.get("ID") or uid,
                                    _number(u.get("Units") or 0, "Units"), expiry)
    ttl_idx = raw.get("TTLIdx")
    return Resource(raw.get("Tenant") or "", raw.get("ID") or "", usages,
                    None if ttl_idx is None else list(ttl_idx))


@dataclass(slots=True)
class Claim:
    """A matching resource as one call uses it: with its profile and the TTL this call gives its usages."""

    resource: Resource
    profile: ResourceProfile
    ttl: int | None  # None: the usages never expire (CGRateS's nil ttl)


def usage_ttl(option: int | None, profile: ResourceProfile) -> int | None:
    """The TTL of a call's usages on ``profile``'s resource: the call's ``*rsUsageTTL`` when given and not 0, else
    the profile's UsageTTL when not negative, else None."""
    if option:
        return option
    return profile.usage_ttl if profile.usage_ttl >= 0 else None


def allocate(claims: Sequence[Claim], usage: ResourceUsage, now: datetime, *, dry_run: bool) -> str:
    """Allocate ``usage`` on the matching resources, heaviest first (CGRateS's ``Resources.allocateResource``).

    Expired usages go first; outside ``dry_run`` an earlier usage of the same ID is replaced. The first resource
    with room for the units (or an unlimited one) gives the reply: its AllocationMessage, or its ID. The usage is
    then recorded on every resource, or on none: ``RESOURCE_UNAVAILABLE`` leaves them as they were.
    """
    if not claims:
        raise RPCError(RESOURCE_UNAVAILABLE)
    for c in claims:
        c.resource.expire(now)
    saved = [(c.resource, dict(c.resource.usages), c.resource.ttl_idx) for c in claims]
    message = ""
    for c in claims:
        r, prf = c.resource, c.profile
        if not dry_run:
            r.clear(usage.id)
        if not message and (prf.limit == UNLIMITED or prf.limit >= r.total_usage() + usage.units):
            message = prf.allocation_message or prf.id
    if not message:
        for r, usages, ttl_idx in saved:
            r.usages, r.ttl_idx = usages, ttl_idx
        raise RPCError(RESOURCE_UNAVAILABLE)
    if not dry_run:
        for c in claims:
            c.resource.record(usage, c.ttl, now)
    return message


def release(claims: Sequence[Claim], usage_id: str) -> None:
    """Give back a usage's units on every matching resource (CGRateS's ``Resources.clearUsage``); a resource that
    does not count it is an error only when its usages are recorded with a TTL ("cannot find usage record")."""
    missing = False
    for c in claims:
        if c.resource.clear(usage_id) is None and c.ttl is not None and c.ttl != 0:
            missing = True
    if missing:
        raise RPCError(f"cannot find usage record with id: {usage_id}")


# ---------------------------------------------------------------------------------------------------- the service


class ResourceService(StatefulService[ResourceProfile]):
    """ResourceSv1, and APIerSv1's resource profiles, over the DataManager, FilterS, the live StateStore and the
    ThresholdS connection."""

    crud = CrudSpec("ResourceProfile", RESOURCE_PROFILE, console="resources_profile")
    index = "*resource_filter_indexes"
    rpc_service = "ResourceSv1"
    update_event = RESOURCE_UPDATE
    item_field = "ResourceID"
    named_thresholds_must_match = True

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx, kind=RESOURCE, encode=Resource.to_json, decode=decode_resource)

    def decode(self, raw: dict) -> ResourceProfile:
        return decode_resource_profile(raw)

    def starts_afresh(self, old: ResourceProfile | None, new: ResourceProfile) -> bool:
        """A new profile, or a changed UsageTTL or Limit, or Stored turned off, starts its resource afresh, as
        CGRateS's SetResourceProfile resets it."""
        return old is None or old.usage_ttl != new.usage_ttl or old.limit != new.limit or \
            (old.stored and not new.stored)

    # ------------------------------------------------------------------------------------------ events

    def _usage_id(self, args: Any) -> str:
        """The checked CGREvent's usage ID; ``MANDATORY_IE_MISSING`` as CGRateS words them."""
        if not isinstance(args, dict):
            raise mandatory_ie_missing("Event")
        require_fields(args, "ID", "Event")
        usage_id = as_string(event_option(args, OPT_USAGE_ID, self.config_opt("*usageID", "")))
        if not usage_id:
            raise mandatory_ie_missing("UsageID")
        return usage_id

    def _usage_ttl_option(self, args: dict) -> int | None:
        value = event_option(args, OPT_USAGE_TTL, self.config_opt("*usageTTL", None))
        if value is None or value == "":
            return None
        try:
            return _ttl(value, "*rsUsageTTL")
        except ValueError as exc:
            raise api_error(exc) from None

    def _units(self, args: dict) -> float:
        try:
            return _number(event_option(args, OPT_UNITS, self.config_opt("*units", 1)), "*rsUnits")
        except ValueError as exc:
            raise api_error(exc) from None

    async def _matching(self, args: dict) -> list[ResourceProfile]:
        try:
            return await self.matching_for_event(args)
        except USER_ERRORS as exc:
            raise api_error(exc) from None

    async def _live(self, tenant: str, pid: str) -> Resource:
        resource = await self.state.get(f"{tenant}:{pid}", _fresh(tenant, pid))
        assert resource is not None
        return resource

    async def _serve(self, args: Any, action: str) -> Any:
        """One ResourceSv1 event call: ``get`` (the matching resources), ``authorize``, ``allocate``, ``release``."""
        usage_id = self._usage_id(args)
        tenant = self.tenant_of(args)
        ttl_option = self._usage_ttl_option(args)
        profiles = await self._matching(args)
        units = self._units(args) if action in ("authorize", "allocate") else 0.0
        updates: list[tuple[ResourceProfile, dict[str, Any]]] = []
        async with AsyncExitStack() as locks:
            for key in sorted({f"{p.tenant}:{p.id}" for p in profiles}):
                await locks.enter_async_context(self.state.lock(key))
            claims = [Claim(await self._live(p.tenant, p.id), p, usage_ttl(ttl_option, p)) for p in profiles]
            now = utc_now()
            expired = {c.resource.key for c in claims if c.resource.expire(now)}
            try:
                if action == "get":
                    reply: Any = [c.resource.to_json() for c in claims]
                elif action == "release":
                    release(claims, usage_id)
                    reply = "OK"
                else:
                    reply = allocate(claims, ResourceUsage(tenant, usage_id, units), now,
                                     dry_run=action == "authorize")
            except RPCError as exc:
                if exc.message == RESOURCE_UNAVAILABLE and action == "authorize":
                    raise RPCError(RESOURCE_UNAUTHORIZED) from None
                raise
            finally:
                writes = claims if action in ("allocate", "release") else \
                    [c for c in claims if c.resource.key in expired]
                for c in writes:
                    await self.state.changed(c.resource.key, c.profile.stored)
            if action in ("allocate", "release"):
                updates = [(c.profile, {"Usage": json_number(c.resource.total_usage())}) for c in claims]
        if not await self.notify_thresholds(updates, args.get("APIOpts") or {}):
            raise RPCError(PARTIALLY_EXECUTED)
        return reply

    # ------------------------------------------------------------------------------------------ RPC

    @rpc("ResourceSv1.GetResourcesForEvent")
    async def get_resources_for_event(self, args: Any) -> list[dict]:
        return await self._serve(args, "get")

    @rpc("ResourceSv1.AuthorizeResources")
    async def authorize_resources(self, args: Any) -> str:
        return await self._serve(args, "authorize")

    @rpc("ResourceSv1.AllocateResources")
    async def allocate_resources(self, args: Any) -> str:
        return await self._serve(args, "allocate")

    @rpc("ResourceSv1.ReleaseResources")
    async def release_resources(self, args: Any) -> str:
        return await self._serve(args, "release")

    async def _resource(self, args: Any) -> tuple[dict, ResourceProfile | None]:
        """The live resource of a ``{"Tenant","ID"}`` argument as CGRateS prints it, and its profile; NOT_FOUND when
        neither exists."""
        if not isinstance(args, dict) or not args.get("ID"):
            raise mandatory_ie_missing("ID")
        tenant, rid = self.tenant_of(args), str(args["ID"])
        key = f"{tenant}:{rid}"
        try:
            prf = await self.get_profile(tenant, rid)
        except USER_ERRORS as exc:
            raise api_error(exc) from None
        async with self.state.lock(key):
            resource = await self.state.get(key, _fresh(tenant, rid) if prf is not None else None)
            if resource is None:
                raise not_found()
            if resource.expire(utc_now()) and prf is not None:
                await self.state.changed(key, prf.stored)
            return resource.to_json(), prf

    @rpc("ResourceSv1.GetResource")
    async def get_resource(self, args: Any) -> dict:
        return (await self._resource(args))[0]

    @rpc("ResourceSv1.GetResourceWithConfig")
    async def get_resource_with_config(self, args: Any) -> dict:
        resource, prf = await self._resource(args)
        if prf is None:
            raise not_found()
        return {**resource, "Config": prf.to_json()}


def _fresh(tenant: str, rid: str) -> Any:
    """The StateStore's ``new`` for a resource that was never stored: empty, as a profile's set creates it."""

    async def new() -> Resource:
        return Resource(tenant, rid)

    return new


_EVENT = 'ID="ev1" Event={"Account":"1001",...} APIOpts={"*rsUsageID":"call1","*rsUnits":1}'

#: cgr-console commands (CGRateS's names)
CONSOLE_COMMANDS: dict[str, tuple[str, str]] = {
    "resources": ("ResourceSv1.GetResource", 'a resource and its usages: Tenant="cgrates.org" ID="ResGroup1"'),
    "resources_for_event": ("ResourceSv1.GetResourcesForEvent", f"the resources matching an event: {_EVENT}"),
    "resources_authorize": ("ResourceSv1.AuthorizeResources", f"could an event allocate: {_EVENT}"),
    "resources_allocate": ("ResourceSv1.AllocateResources", f"allocate units for a usage: {_EVENT}"),
    "resources_release": ("ResourceSv1.ReleaseResources", f"release a usage: {_EVENT}"),
    **ResourceService.crud.console_commands(),
}
