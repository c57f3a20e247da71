"""ProfileService: what every profile service shares (AttributeS, ChargerS; ResourceS, StatS, ThresholdS, RouteS and
DispatcherS build on it the same way).

- **Stored profiles**: CGRateS's JSON in the DataDB under the type's kind (engine/storage/base.py), key
  ``tenant:id``. The kind's DataManager decoder compiles a profile once and its cache partition keeps the compiled
  object; a profile that does not compile is kept as its error and raised where it is used.
- **Tenants and options**: an empty Tenant is ``general.default_tenant``; per-event options are read from
  ``APIOpts`` (v0.11 names), then from the older top-level argument fields, then from the section's ``opts``.
- **Matching** (:meth:`ProfileService.matching_profiles`): candidates from the filter index (under the event's
  context and ``*any`` for types bound to contexts), or an explicit ID list that bypasses the index as CGRateS's
  ``*<svc>ProfileIDs`` options do; then the profile's context, its activation interval at the event time and its
  own FilterIDs; sorted by Weight, heaviest first; the list ends at the first Blocker; an optional limit.
- **Administration**: the APIerSv1 Get/Set/Remove/IDs(/Count) methods of the type and their console commands,
  generated from the type's :class:`~.crud.CrudSpec` (:mod:`.crud`); every write keeps the filter indexes right
  (FilterIndexer.profile_updated) and refreshes the kind's cache partition.
- **Errors**: RPC methods wrapped with :func:`~.crud.maps_errors` answer ``NOT_FOUND``, ``MANDATORY_IE_MISSING:
  [...]`` or ``SERVER_ERROR: ...`` as CGRateS does.

Adding a profile service (ThresholdS, say):

1. the compiled profile: a dataclass with ``tenant``, ``id``, ``filter_ids``, ``activation``, ``weight`` (and
   ``blocker``, ``contexts`` where the type has them) and ``to_json()`` printing CGRateS's JSON of it;
2. ``class ThresholdService(ProfileService[ThresholdProfile])`` declaring ``crud = CrudSpec("ThresholdProfile",
   THRESHOLD_PROFILE, console="thresholds_profile", count=True)``, ``index = "*threshold_filter_indexes"``,
   ``profile_ids_opts = ("*thdProfileIDs",)``, ``ignore_filters_opts = ("*thdProfileIgnoreFilters",)`` and a
   ``decode(raw)`` that raises ValueError on an invalid profile. A type bound to contexts (its filter-index
   subsystem names the profile field, engine/filters/indexes.py) keeps them as ``contexts`` on the compiled
   profile: DispatcherS its Subsystems, with ``any_context_option = "any_subsystem"``;
3. its ThresholdSv1 methods, each ``@rpc(...)`` and ``@maps_errors``, finding profiles with
   ``await self.matching_for_event(args)``;
4. the class in engine/app.py's SERVICES, and its module (with ``CONSOLE_COMMANDS =
   ThresholdService.crud.console_commands()``) in engine/cli/console.py's COMMAND_MODULES.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pycgrates.engine.filters.indexes import Subsystem, subsystem
from pycgrates.engine.filters.rules import ActivationInterval, FilterError
from pycgrates.engine.filters.service import FilterService, filter_service
from pycgrates.engine.profiles.crud import USER_ERRORS, CrudService, words
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing, not_found, server_error
from pycgrates.engine.template.dataprovider import DataProvider, MapDataProvider, as_string
from pycgrates.engine.units import parse_time

META_ANY = "*any"


class Profile(Protocol):
    """What matching reads of a compiled profile (``blocker`` and ``contexts`` are read where present)."""

    tenant: str
    id: str
    filter_ids: tuple[str, ...]
    activation: ActivationInterval | None
    weight: float


P = TypeVar("P", bound=Profile)


class ProfileError(ValueError):
    """A stored profile that does not compile; the message names it."""


def json_number(value: float) -> float | int:
    """Weights as Go prints float64: ``20``, not ``20.0``."""
    return int(value) if value == int(value) else value


def str_list(value: Any) -> tuple[str, ...]:
    """A list field as JSON gives it, or the CSV's ``;``-joined text."""
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split(";") if v)
    return tuple(value)


def clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data (events are altered per run, never the caller's)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def event_option(args: dict, names: Sequence[str], default: Any) -> Any:
    """An option of an event: ``APIOpts[names[0]]``, else the older top-level fields ``names[1:]``, else
    ``default``."""
    opts = args.get("APIOpts") or args.get("Opts") or {}
    if names[0] in opts:
        return opts[names[0]]
    for name in names[1:]:
        if args.get(name) is not None:
            return args[name]
    return default


def is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def check_event_args(args: Any) -> dict:
    """A CGREvent argument as CGRateS's StatS, ThresholdS and RouteS check one: ``MANDATORY_IE_MISSING`` without an
    object, then without an ID, then without an Event."""
    if not isinstance(args, dict):
        raise mandatory_ie_missing("CGREvent")
    if not as_string(args.get("ID")).strip():
        raise mandatory_ie_missing("ID")
    if args.get("Event") is None:
        raise mandatory_ie_missing("Event")
    return args


class ProfileService(CrudService, Generic[P]):
    """The base of the profile services; a subclass declares ``crud``, ``index`` and ``decode`` (module docstring)."""

    #: filter-index subsystem of the profiles (engine/filters/indexes.py), which also names the config section
    index: ClassVar[str]
    #: option names of an explicit profile ID list: the APIOpts key, then older top-level fields
    profile_ids_opts: ClassVar[tuple[str, ...]] = ()
    #: option names of "apply the explicit profiles without checking their filters"
    ignore_filters_opts: ClassVar[tuple[str, ...]] = ()
    #: section option saying whether ``*any`` profiles also match a named context (types bound to contexts)
    any_context_option: ClassVar[str] = "any_context"

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.dm = ctx.dm
        self.subsystem: Subsystem = subsystem(self.index)
        self.dm.register_decoder(self.crud.kind, self.decode_stored)

    @property
    def filters(self) -> FilterService:
        return filter_service(self.ctx)

    @property
    def section(self) -> str:
        return self.subsystem.section

    def config_opt(self, name: str, default: Any) -> Any:
        """``<section>.opts.<name>``: the default of a per-event option."""
        opts = self.option(self.section, "opts", None) or {}
        return opts.get(name, default)

    # ------------------------------------------------------------------------------------------ stored profiles

    def decode_stored(self, raw: dict) -> P | ProfileError:
        """The DataManager decoder of the kind: the compiled profile, or the error that names it."""
        try:
            return self.decode(raw)
        except USER_ERRORS as exc:
            return ProfileError(f"{words(self.crud.name)} {raw.get('Tenant')}:{raw.get('ID')}: {exc}")

    async def get_profile(self, tenant: str, profile_id: str) -> P | None:
        """The compiled profile, or None; a stored profile that does not compile raises its ProfileError."""
        prf = await self.dm.get(self.crud.kind, f"{tenant}:{profile_id}", self.decode_stored)
        if isinstance(prf, Exception):
            raise prf
        return prf

    async def set_profile(self, raw: dict) -> None:
        """Validate a profile (CGRateS's JSON; an empty Tenant is the default one), store it and index it."""
        prf = self.decode({**raw, "Tenant": self.tenant_of(raw)})
        await self.check_references(prf)
        await self.store(self.to_json(prf))

    async def remove_profile(self, tenant: str, profile_id: str) -> bool:
        """Remove a profile and its index entries; False when there was none."""
        return await self.delete(tenant, profile_id)

    async def load(self, tenant: str, item_id: str) -> P | None:
        return await self.get_profile(tenant, item_id)

    async def store(self, raw: dict) -> None:
        tenant, profile_id = raw["Tenant"], raw["ID"]
        await self.dm.set(self.crud.kind, f"{tenant}:{profile_id}", raw)
        await self.filters.indexer.profile_updated(self.index, tenant, profile_id, raw)

    async def delete(self, tenant: str, item_id: str) -> bool:
        removed = await self.dm.remove(self.crud.kind, f"{tenant}:{item_id}")
        if removed:
            await self.filters.indexer.profile_updated(self.index, tenant, item_id, None)
        return removed

    async def check_references(self, obj: Any) -> None:
        """Every filter the profile names compiles, and the stored ones exist (CGRateS's checkFilters)."""
        for fid in obj.filter_ids:
            try:
                await self.filters.get_filter(obj.tenant, fid)
            except (RPCError, FilterError):
                raise server_error(f"broken reference to filter: <{fid}> for item with ID: "
                                   f"{obj.tenant}:{obj.id}") from None

    # ------------------------------------------------------------------------------------------ matching

    def in_context(self, prf: P, context: str | None) -> bool:
        """Whether a profile bound to contexts serves ``context`` (``[*any]`` serves all)."""
        if self.subsystem.contexts is None or context is None:
            return True
        contexts = getattr(prf, "contexts", ())
        return (len(contexts) == 1 and contexts[0] == META_ANY) or context in contexts

    async def candidate_ids(self, tenant: str, dp: DataProvider, context: str | None = None) -> list[str]:
        """The IDs the filter index selects for the event (their filters are still to be checked)."""
        fs = self.filters
        if self.subsystem.contexts is None:
            return await fs.matching_profiles(self.index, tenant, dp)
        context = context or META_ANY
        ids = await fs.matching_profiles(self.index, tenant, dp, context)
        if context != META_ANY and (not ids or self.option(self.section, self.any_context_option, True)):
            any_ids = await fs.matching_profiles(self.index, tenant, dp, META_ANY)
            ids = sorted(set(ids) | set(any_ids)) if ids else any_ids
        return ids

    def on_candidate(self, prf: P, dp: DataProvider) -> None:
        """Called for each candidate before its filters are checked (AttributeS names it in ``*vars``)."""

    async def matching_profiles(self, tenant: str, dp: DataProvider, *, event_time: Any = None,
                                profile_ids: Sequence[str] = (), ignore_filters: bool = False,
                                context: str | None = None, blockers: bool = True,
                                limit: int | None = None) -> list[P]:
        """The profiles matching an event, heaviest first; NOT_FOUND when none.

        ``profile_ids``, when given, replace the filter index (and only then may ``ignore_filters`` skip their
        filters). Ties in Weight keep the candidates' order (IDs sorted, or as given): CGRateS leaves them to Go's
        map order, so any order is its order, and this one does not change between calls. With ``blockers`` the
        list ends at the first profile whose Blocker is set; ``limit`` keeps that many.
        """
        if profile_ids:
            ids: Sequence[str] = list(dict.fromkeys(profile_ids))
        else:
            ignore_filters = False
            ids = await self.candidate_ids(tenant, dp, context)
        at: datetime | None = parse_time(event_time) if event_time else None
        matched: list[P] = []
        for pid in ids:
            prf = await self.get_profile(tenant, pid)
            if prf is None or not self.in_context(prf, context):
                continue
            if prf.activation is not None and at is not None and not prf.activation.is_active_at(at):
                continue
            self.on_candidate(prf, dp)
            if not ignore_filters and not await self.filters.pass_filters(tenant, prf.filter_ids, dp):
                continue
            matched.append(prf)
        if not matched:
            raise not_found()
        matched.sort(key=lambda p: -p.weight)
        if blockers:
            end = next((i for i, p in enumerate(matched) if getattr(p, "blocker", False)), len(matched) - 1)
            matched = matched[:end + 1]
        return matched[:limit] if limit is not None and limit >= 0 else matched

    def event_profile_ids(self, args: dict) -> tuple[str, ...]:
        """The event's explicit profile IDs (``profile_ids_opts``, default ``<section>.opts.*profileIDs``)."""
        if not self.profile_ids_opts:
            return ()
        return str_list(event_option(args, self.profile_ids_opts, self.config_opt("*profileIDs", None)))

    def event_ignore_filters(self, args: dict) -> bool:
        """Whether the event's explicit profiles skip their filters (default
        ``<section>.opts.*profileIgnoreFilters``)."""
        if not self.ignore_filters_opts:
            return False
        return is_true(event_option(args, self.ignore_filters_opts, self.config_opt("*profileIgnoreFilters", False)))

    def event_dp(self, args: dict) -> MapDataProvider:
        """The DataProvider of a CGREvent argument: ``*req`` the Event, ``*opts`` the APIOpts."""
        return self.filters.event_dp(args.get("Event") or {}, args.get("APIOpts") or {})

    async def matching_for_event(self, args: dict, *, context: str | None = None, blockers: bool = True,
                                 limit: int | None = None) -> list[P]:
        """:meth:`matching_profiles` for a CGREvent argument, its options read as the type declares them."""
        return await self.matching_profiles(
            self.tenant_of(args), self.event_dp(args), event_time=args.get("Time"),
            profile_ids=self.event_profile_ids(args), ignore_filters=self.event_ignore_filters(args),
            context=context, blockers=blockers, limit=limit)
