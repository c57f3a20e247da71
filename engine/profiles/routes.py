"""RouteS: which routes (carriers, gateways, next hops) an event may take, in the order a profile's strategy ranks
them (CGRateS v0.11 ``RouteSv1``; the seed's LCR/SupplierS).

Profiles live under DataDB kind ROUTE_PROFILE, key ``tenant:id``: ``{"Tenant", "ID", "FilterIDs",
"ActivationInterval", "Sorting", "SortingParameters", "Routes": [{"ID", "FilterIDs", "AccountIDs", "RatingPlanIDs",
"ResourceIDs", "StatIDs", "Weight", "Blocker", "RouteParameters"}], "Weight"}``; the ProfileService base
(:mod:`.base`) matches them (filter index, activation, FilterIDs; heaviest first) and serves
``APIerSv1.Get/Set/RemoveRouteProfile`` and ``GetRouteProfileIDs``.

``RouteSv1.GetRoutes`` (a CGREvent with an ID) answers a SortedRoutesList, ``[{"ProfileID", "Sorting", "Routes":
[{"RouteID", "RouteParameters", "SortingData"}]}]``, one entry per matching profile that gave routes:

1. with ``routes.attributes_conns`` the event first goes through ``AttributeSv1.ProcessEvent`` (``*subsys``
   ``*routes``, context ``*context`` or ``routes.opts.*context``);
2. an event without Usage is priced for one minute (the Usage is added before profiles are matched);
3. per profile, heaviest first: its routes whose filters pass (rules reading ``~*req``, ``~*accounts``,
   ``~*resources``, ``~*stats`` now, those reading the sorting data once it is known; of routes sharing an ID the
   heaviest), their sorting data (:mod:`.route_data`), sorted by the profile's strategy (:mod:`.route_sorting`);
4. ``*rouProfileCount`` profiles at most (0 or absent: all), routes paged over the profiles by ``*rouLimit``
   and ``*rouOffset``;
5. NOT_FOUND when no profile gave a route; any other error is ``SERVER_ERROR: <error>``.

Options (APIOpts, then the older names CGRateS took, then ``routes.opts``): ``*rouIgnoreErrors``
(``IgnoreErrors``; a route whose data cannot be had is dropped instead of failing the request), ``*rouMaxCost``
(``MaxCost``; a number, or ``*event_cost``: the cost of the event itself from RALs; 0 or empty: none),
``*rouLimit``/``*routes_limit`` (``Limit``), ``*rouOffset``/``*routes_offset`` (``Offset``),
``*rouProfileCount``/``*routesProfilesCount``. ``RouteSv1.GetRoutesList`` answers the same as ``["route",
"route:parameters", ...]``; ``RouteSv1.GetRouteProfilesForEvent`` the matching profiles themselves.

A route's Blocker is kept and answered but decides nothing, as in CGRateS. *load's SortingParameters are
``routeID:ratio`` (``*default:ratio`` for the others, else ``routes.default_ratio``); a profile whose ratios are
not ``name:integer`` is refused when set (CGRateS refuses it when read).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pycgrates.engine.filters.rules import ActivationInterval, activation_json, parse_activation_interval
from pycgrates.engine.profiles.base import ProfileService, check_event_args, is_true, json_number, str_list
from pycgrates.engine.profiles.crud import CrudSpec, maps_errors
from pycgrates.engine.profiles.route_data import RouteData, RouteQuery
from pycgrates.engine.profiles.route_sorting import (
    META_LOAD,
    RATIO,
    SortedRoute,
    SortedRoutes,
    routes_with_params,
    sort_routes,
    strategy_of,
)
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import ROUTE_PROFILE
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.units import MINUTE, to_decimal

log = logging.getLogger("cgr.routes")

META_ROUTES = "*routes"
META_EVENT_COST = "*event_cost"
META_DEFAULT = "*default"
#: the paths a route's filter rules may read before its sorting data is known (CGRateS's LazyPass prefixes)
EARLY_PATHS = ("~*req", "~*accounts", "~*resources", "~*stats")

# option: (APIOpts names, older top-level argument names, routes.opts name)
OPT_IGNORE_ERRORS = (("*rouIgnoreErrors",), ("IgnoreErrors",), "*ignoreErrors")
OPT_MAX_COST = (("*rouMaxCost",), ("MaxCost",), "*maxCost")
OPT_LIMIT = (("*rouLimit", "*routes_limit"), ("Limit",), "*limit")
OPT_OFFSET = (("*rouOffset", "*routes_offset"), ("Offset",), "*offset")
OPT_PROFILE_COUNT = (("*rouProfileCount", "*routesProfilesCount"), (), "*profileCount")


@dataclass(slots=True)
class Route:
    id: str
    filter_ids: tuple[str, ...] = ()
    account_ids: tuple[str, ...] = ()
    rating_plan_ids: tuple[str, ...] = ()
    resource_ids: tuple[str, ...] = ()
    stat_ids: tuple[str, ...] = ()
    weight: float = 0.0
    blocker: bool = False
    params: str = ""
    #: the weight as the exact number routes are sorted on
    weight_key: Decimal = field(default=Decimal(0), compare=False)

    def __post_init__(self) -> None:
        self.weight_key = Decimal(repr(self.weight))

    def to_json(self) -> dict:
        return {"ID": self.id, "FilterIDs": list(self.filter_ids), "AccountIDs": list(self.account_ids),
                "RatingPlanIDs": list(self.rating_plan_ids), "ResourceIDs": list(self.resource_ids),
                "StatIDs": list(self.stat_ids), "Weight": json_number(self.weight), "Blocker": self.blocker,
                "RouteParameters": self.params}


@dataclass(slots=True)
class RouteProfile:
    tenant: str
    id: str
    sorting: str = ""
    sorting_params: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    filter_ids: tuple[str, ...] = ()
    activation: ActivationInterval | None = None
    weight: float = 0.0
    #: *load: route ID (or *default) → ratio, from SortingParameters
    ratios: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "FilterIDs": list(self.filter_ids),
                "ActivationInterval": activation_json(self.activation), "Sorting": self.sorting,
                "SortingParameters": list(self.sorting_params), "Routes": [r.to_json() for r in self.routes],
                "Weight": json_number(self.weight)}


def decode_route(raw: Any) -> Route:
    if not isinstance(raw, dict):
        raise ValueError(f"a route is a JSON object, not {raw!r}")
    return Route(id=str(raw.get("ID") or ""), filter_ids=str_list(raw.get("FilterIDs")),
                 account_ids=str_list(raw.get("AccountIDs")), rating_plan_ids=str_list(raw.get("RatingPlanIDs")),
                 resource_ids=str_list(raw.get("ResourceIDs")), stat_ids=str_list(raw.get("StatIDs")),
                 weight=float(raw.get("Weight") or 0), blocker=is_true(raw.get("Blocker")),
                 params=as_string(raw.get("RouteParameters")))


def load_ratios(sorting_params: tuple[str, ...]) -> dict[str, int]:
    """*load's ``routeID:ratio`` SortingParameters."""
    ratios = {}
    for param in sorting_params:
        route_id, sep, ratio = param.partition(":")
        try:
            ratios[route_id] = int(ratio)
        except ValueError:
            raise ValueError(f"SortingParameters of *load are routeID:ratio with a whole ratio, not {param!r}") \
                from None
        if not sep:
            raise ValueError(f"SortingParameters of *load are routeID:ratio, not {param!r}")
    return ratios


def decode_route_profile(raw: dict) -> RouteProfile:
    sorting = as_string(raw.get("Sorting"))
    params = str_list(raw.get("SortingParameters"))
    return RouteProfile(
        tenant=raw.get("Tenant") or "", id=raw.get("ID") or "", sorting=sorting, sorting_params=params,
        routes=tuple(decode_route(r) for r in raw.get("Routes") or ()), filter_ids=str_list(raw.get("FilterIDs")),
        activation=parse_activation_interval(raw.get("ActivationInterval")), weight=float(raw.get("Weight") or 0),
        ratios=load_ratios(params) if sorting == META_LOAD else {})


def _option(args: dict, names: tuple[tuple[str, ...], tuple[str, ...], str], default: Any) -> Any:
    """An option of the request: its APIOpts names, its older top-level names (empty ones skipped), else the
    default (``routes.opts``)."""
    opts = args.get("APIOpts") or {}
    for name in names[0]:
        if name in opts:
            return opts[name]
    for name in names[1]:
        if args.get(name) not in (None, ""):
            return args[name]
    return default


def _int_option(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"option {name} must be a whole number, not {value!r}") from None


class RouteService(ProfileService[RouteProfile]):
    """RouteSv1, and APIerSv1's route profiles, over the DataManager, FilterS and the ``routes`` connections."""

    crud = CrudSpec("RouteProfile", ROUTE_PROFILE, console="routes_profile")
    index = "*route_filter_indexes"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.data = RouteData(ctx)

    def decode(self, raw: dict) -> RouteProfile:
        return decode_route_profile(raw)

    # ------------------------------------------------------------------------------------------ the routes

    async def _with_attributes(self, args: dict) -> dict:
        """The event as AttributeS alters it (``routes.attributes_conns``), else as it came."""
        conns = self.option(self.section, "attributes_conns", None) or []
        if not conns:
            return args
        opts = dict(args.get("APIOpts") or {})
        opts["*subsys"] = META_ROUTES
        opts["*context"] = opts.get("*context") or self.config_opt("*context", META_ROUTES) or META_ROUTES
        try:
            reply = await self.ctx.conns.get(conns).call("AttributeSv1.ProcessEvent", {**args, "APIOpts": opts})
        except RPCError as exc:
            if exc.message == NOT_FOUND:
                return args
            raise RPCError(f"ROUTES_ERROR:{exc.message}") from None
        if not reply or not reply.get("AlteredFields"):
            return args
        altered = reply.get("CGREvent") or {k: reply.get(k) for k in ("Tenant", "ID", "Time", "Event", "APIOpts")}
        return {**args, **altered}

    async def _query(self, tenant: str, args: dict) -> RouteQuery:
        """The request's options (CGRateS's newOptsGetRoutes); the max cost is computed here."""
        query = RouteQuery(tenant=tenant, event=args["Event"], opts=args.get("APIOpts") or {},
                           ignore_errors=is_true(_option(args, OPT_IGNORE_ERRORS,
                                                         self.config_opt("*ignoreErrors", False))))
        max_cost = _option(args, OPT_MAX_COST, self.config_opt("*maxCost", ""))
        if max_cost == META_EVENT_COST:
            query.max_cost = await self.data.event_cost(query)
        elif max_cost not in (None, ""):
            try:
                query.max_cost = to_decimal(max_cost)
            except ValueError:
                raise ValueError(f"option *rouMaxCost must be a number or *event_cost, not {max_cost!r}") from None
        return query

    async def sorted_routes(self, args: dict) -> list[SortedRoutes]:
        """The SortedRoutesList of an event (module docstring); NOT_FOUND when no profile gives a route."""
        tenant = self.tenant_of(args)
        event = dict(args.get("Event") or {})
        if "Usage" not in event:
            event["Usage"] = MINUTE
        args = {**args, "Event": event}
        profiles = await self.matching_profiles(tenant, self.event_dp(args), event_time=args.get("Time"),
                                                blockers=False)
        count = _int_option(_option(args, OPT_PROFILE_COUNT, self.config_opt("*profileCount", None)),
                            "*rouProfileCount")
        if count is None or count > len(profiles):
            count = len(profiles)
        limit = _int_option(_option(args, OPT_LIMIT, self.config_opt("*limit", None)), "*rouLimit")
        skip = _int_option(_option(args, OPT_OFFSET, self.config_opt("*offset", None)), "*rouOffset") or 0
        query = await self._query(tenant, args)
        answered: list[SortedRoutes] = []
        routes_given = 0
        for prf in profiles:
            page_limit = page_offset = None
            if limit is not None:
                if routes_given >= limit:
                    break
                if routes_given + len(prf.routes) > limit:
                    page_limit = limit - routes_given
            if skip > 0:
                if skip >= len(prf.routes):  # the offset passes over this whole profile
                    skip -= len(prf.routes)
                    continue
                page_offset, skip = skip, 0
            sorted_prf = await self.profile_routes(prf, query)
            routes = sorted_prf.routes[page_offset or 0:]
            sorted_prf.routes = routes[:page_limit] if page_limit is not None else routes
            if sorted_prf.routes:
                routes_given += len(sorted_prf.routes)
                answered.append(sorted_prf)
                if len(answered) == count:
                    break
        if not answered:
            raise RPCError(NOT_FOUND)
        return answered

    async def profile_routes(self, prf: RouteProfile, query: RouteQuery) -> SortedRoutes:
        """The routes of one profile with their sorting data, in the order of its strategy."""
        query.sorting, query.sorting_params = prf.sorting, prf.sorting_params
        fs = self.filters
        dp = fs.event_dp(query.event, query.opts)
        passed: dict[str, tuple[Route, list]] = {}
        for route in prf.routes:
            ok, lazy = await fs.lazy_pass(query.tenant, route.filter_ids, dp, EARLY_PATHS) if route.filter_ids \
                else (True, [])
            if not ok:
                continue
            prev = passed.get(route.id)
            if prev is None or prev[0].weight < route.weight:
                passed[route.id] = (route, lazy)
        strategy = strategy_of(prf.sorting)
        sorted_routes: list[SortedRoute] = []
        default_ratio = prf.ratios.get(META_DEFAULT, self.option(self.section, "default_ratio", 1))
        for route, lazy in passed.values():
            strategy.check(route)
            sr = await self.data.sorted_route(query, route, lazy)
            if sr is None:
                continue
            if prf.sorting == META_LOAD:
                sr.set(RATIO, Decimal(int(prf.ratios.get(route.id, default_ratio))))
            sorted_routes.append(sr)
        return SortedRoutes(prf.id, prf.sorting, sort_routes(strategy, sorted_routes, prf.sorting_params))

    # ------------------------------------------------------------------------------------------ RPC

    @rpc("RouteSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    async def _sorted_for_rpc(self, args: Any) -> list[SortedRoutes]:
        """GetRoutes' errors as CGRateS words them: the argument's MANDATORY_IE_MISSING and AttributeS's
        ROUTES_ERROR as they are, NOT_FOUND, anything else ``SERVER_ERROR: ...``."""
        args = await self._with_attributes(check_event_args(args))
        try:
            return await self.sorted_routes(args)
        except RPCError as exc:
            if exc.message == NOT_FOUND:
                raise
            raise server_error(exc.message) from None
        except (ValueError, TypeError) as exc:
            raise server_error(exc) from None

    @rpc("RouteSv1.GetRoutes")
    async def get_routes(self, args: Any) -> list[dict]:
        return [s.to_json() for s in await self._sorted_for_rpc(args)]

    @rpc("RouteSv1.GetRoutesList")
    async def get_routes_list(self, args: Any) -> list[str]:
        return routes_with_params(await self._sorted_for_rpc(args))

    @rpc("RouteSv1.GetRouteProfilesForEvent")
    @maps_errors
    async def get_route_profiles_for_event(self, args: Any) -> list[dict]:
        args = check_event_args(args)
        return [p.to_json() for p in await self.matching_for_event(args, blockers=False)]


def _console_commands() -> dict[str, tuple[str, str]]:
    table = RouteService.crud.console_commands()
    table["route_profile_ids"] = table.pop("routes_profile_ids")  # CGRateS's console spells this one so
    table["routes"] = ("RouteSv1.GetRoutes", 'sorted routes of an event: Tenant="cgrates.org" ID="..." '
                                             'Event={"Account":"1001",...} APIOpts={"*rouProfileCount":1}')
    table["routes_profiles_for_event"] = ("RouteSv1.GetRouteProfilesForEvent",
                                          'route profiles matching an event: Tenant="cgrates.org" ID="..." '
                                          'Event={"Account":"1001",...}')
    return table


#: cgr-console commands (CGRateS's names)
CONSOLE_COMMANDS: dict[str, tuple[str, str]] = _console_commands()
