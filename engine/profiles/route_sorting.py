"""How RouteS orders the routes of a profile: the sorting strategies as one literal table (CGRateS's route_*.go and
libroutes.go), and the reply shapes (SortedRoute, SortedRoutes).

Each strategy names the route field it cannot work without (a route lacking it fails the whole request with
``MANDATORY_IE_MISSING: [...]``, as in CGRateS) and its sorting key over a route's sorting data:

======== ============================ ============================================================================
strategy required on every route      order
======== ============================ ============================================================================
*weight  —                            Weight, heaviest first
*lc      RatingPlanIDs or AccountIDs  Cost, cheapest first
*hc      RatingPlanIDs or AccountIDs  Cost, dearest first
*qos     —                            each metric of the profile's SortingParameters in turn, highest first
                                      (``*pdd``: lowest first); a route without the metric counts 0
*reas    ResourceIDs                  ResourceUsage, least used first
*reds    ResourceIDs                  ResourceUsage, most used first
*load    StatIDs                      Load / Ratio, least loaded for its ratio first
======== ============================ ============================================================================

Ties go to the heavier route, then to chance (CGRateS breaks them with a random bool, spreading traffic over equal
routes): the routes are shuffled, then stably sorted by ``(key, -Weight)``.

A route's sorting data (:class:`SortedRoute`) is answered as CGRateS answers it, ``SortingData`` (Weight, Cost,
RatingPlanID, Account, MaxUsage, metric values, ResourceUsage, Load, Ratio); the numbers it is sorted on are kept
apart as exact Decimals (CGRateS's ``sortingDataF64``), a missing one counting 0.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pycgrates.engine.rpc.errors import mandatory_ie_missing

WEIGHT = "Weight"
COST = "Cost"
RESOURCE_USAGE = "ResourceUsage"
LOAD = "Load"
RATIO = "Ratio"
META_PDD = "*pdd"
ZERO = Decimal(0)
INFINITY = Decimal("Infinity")

META_WEIGHT, META_LC, META_HC, META_QOS = "*weight", "*lc", "*hc", "*qos"
META_REAS, META_REDS, META_LOAD = "*reas", "*reds", "*load"


def go_number(value: Decimal) -> int | float:
    """A sorting number as Go's float64 prints in JSON: ``20``, ``0.35``, ``1.7976931348623157e+308``."""
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(value)


@dataclass(slots=True)
class SortedRoute:
    """One route of a reply: its ID, parameters and sorting data (``keys``: the numbers it is sorted on)."""

    route_id: str
    params: str
    data: dict[str, Any]
    keys: dict[str, Decimal] = field(default_factory=dict)

    def set(self, name: str, value: Decimal) -> None:
        """A number of the sorting data, answered and sorted on."""
        self.data[name] = go_number(value)
        self.keys[name] = value

    def key(self, name: str) -> Decimal:
        return self.keys.get(name, ZERO)

    def to_json(self) -> dict:
        # Go prints a map's keys sorted
        return {"RouteID": self.route_id, "RouteParameters": self.params,
                "SortingData": dict(sorted(self.data.items()))}


@dataclass(slots=True)
class SortedRoutes:
    """The routes one profile gives (CGRateS's SortedRoutes)."""

    profile_id: str
    sorting: str
    routes: list[SortedRoute]

    def to_json(self) -> dict:
        return {"ProfileID": self.profile_id, "Sorting": self.sorting, "Routes": [r.to_json() for r in self.routes]}


def routes_with_params(sorted_list: Sequence[SortedRoutes]) -> list[str]:
    """``RouteSv1.GetRoutesList``'s answer: ``route`` or ``route:parameters`` of every profile in turn."""
    return [f"{r.route_id}:{r.params}" if r.params else r.route_id for s in sorted_list for r in s.routes]


def _load_per_ratio(route: SortedRoute) -> Decimal:
    ratio = route.key(RATIO)
    if ratio == 0:  # Go divides by zero into +Inf: a route without share is the last choice
        return INFINITY if route.key(LOAD) else ZERO
    return route.key(LOAD) / ratio


def _qos(route: SortedRoute, params: Sequence[str]) -> tuple[Decimal, ...]:
    return tuple(route.key(p) if p == META_PDD else -route.key(p) for p in params)


@dataclass(frozen=True, slots=True)
class Strategy:
    """A sorting strategy: the route fields one of which it needs, and its key (route, SortingParameters)."""

    needs: tuple[str, ...]
    key: Callable[[SortedRoute, Sequence[str]], tuple[Decimal, ...]]

    def check(self, route: Any) -> None:
        """MANDATORY_IE_MISSING when the route has none of the fields the strategy needs."""
        if self.needs and not any(getattr(route, _ATTRIBUTES[n]) for n in self.needs):
            raise mandatory_ie_missing(" or ".join(self.needs))


_ATTRIBUTES = {"RatingPlanIDs": "rating_plan_ids", "AccountIDs": "account_ids", "ResourceIDs": "resource_ids",
               "StatIDs": "stat_ids"}

#: the sorting strategies by name (the table of the module docstring)
STRATEGIES: dict[str, Strategy] = {
    META_WEIGHT: Strategy((), lambda r, p: ()),
    META_LC: Strategy(("RatingPlanIDs", "AccountIDs"), lambda r, p: (r.key(COST),)),
    META_HC: Strategy(("RatingPlanIDs", "AccountIDs"), lambda r, p: (-r.key(COST),)),
    META_QOS: Strategy((), _qos),
    META_REAS: Strategy(("ResourceIDs",), lambda r, p: (r.key(RESOURCE_USAGE),)),
    META_REDS: Strategy(("ResourceIDs",), lambda r, p: (-r.key(RESOURCE_USAGE),)),
    META_LOAD: Strategy(("StatIDs",), lambda r, p: (_load_per_ratio(r),)),
}


def strategy_of(sorting: str) -> Strategy:
    """The strategy of a profile's Sorting; ValueError (CGRateS's words) when there is none."""
    strategy = STRATEGIES.get(sorting)
    if strategy is None:
        raise ValueError(f"unsupported sorting strategy: {sorting}")
    return strategy


def sort_routes(strategy: Strategy, routes: list[SortedRoute], params: Sequence[str],
                rng: random.Random | None = None) -> list[SortedRoute]:
    """The routes in the strategy's order; ties by Weight, then by chance."""
    (rng or random).shuffle(routes)
    routes.sort(key=lambda r: (*strategy.key(r, params), -r.key(WEIGHT)))
    return routes
