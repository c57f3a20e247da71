"""The route sorting strategies (CGRateS's libroutes.go): each one's order, ties by weight then by chance, what a
strategy needs of every route, and the reply shapes."""

from __future__ import annotations

import random
from decimal import Decimal
from types import SimpleNamespace

import pytest

from pycgrates.engine.profiles.route_sorting import (
    STRATEGIES,
    SortedRoute,
    SortedRoutes,
    go_number,
    routes_with_params,
    sort_routes,
    strategy_of,
)
from pycgrates.engine.rpc.codec import dumps
from pycgrates.engine.rpc.errors import RPCError


def route(rid: str, weight: float, **numbers: float | str) -> SortedRoute:
    sr = SortedRoute(rid, "", {})
    sr.set("Weight", Decimal(repr(weight)))
    for name, value in numbers.items():
        sr.set(name, Decimal(str(value)))
    return sr


def order(sorting: str, routes: list[SortedRoute], params: tuple[str, ...] = (), seed: int = 1) -> list[str]:
    return [r.route_id for r in sort_routes(STRATEGIES[sorting], list(routes), params, random.Random(seed))]


def test_weight_cost_and_resource_orders():
    routes = [route("a", 10, Cost=0.5, ResourceUsage=3), route("b", 20, Cost=0.2, ResourceUsage=1),
              route("c", 15, Cost=0.9, ResourceUsage=2)]
    assert order("*weight", routes) == ["b", "c", "a"]
    assert order("*lc", routes) == ["b", "a", "c"]
    assert order("*hc", routes) == ["c", "a", "b"]
    assert order("*reas", routes) == ["b", "c", "a"]
    assert order("*reds", routes) == ["a", "c", "b"]


def test_equal_keys_go_to_the_heavier_route():
    routes = [route("light", 10, Cost=0.0136), route("heavy", 15, Cost=0.0136), route("dear", 20, Cost=1.2667)]
    for seed in range(5):
        assert order("*lc", routes, seed=seed) == ["heavy", "light", "dear"]
        assert order("*hc", routes, seed=seed) == ["dear", "heavy", "light"]


def test_full_ties_are_broken_by_chance():
    routes = [route("a", 10), route("b", 10), route("c", 5)]
    seen = {tuple(order("*weight", routes, seed=seed)) for seed in range(40)}
    assert seen == {("a", "b", "c"), ("b", "a", "c")}


def test_qos_metric_by_metric_pdd_lowest_first():
    routes = [route("r1", 10, **{"*acd": 30, "*tcd": 100, "*pdd": 2}),
              route("r2", 20, **{"*acd": 30, "*tcd": 90, "*pdd": 1}),
              route("r3", 5, **{"*acd": 45, "*tcd": 10, "*pdd": 3})]
    assert order("*qos", routes, ("*acd", "*tcd")) == ["r3", "r1", "r2"]
    assert order("*qos", routes, ("*pdd",)) == ["r2", "r1", "r3"]
    assert order("*qos", routes, ("*pdd", "*acd")) == ["r2", "r1", "r3"]
    # a metric no route has counts 0 everywhere: the weight decides
    assert order("*qos", routes, ("*asr",)) == ["r2", "r1", "r3"]
    # a route without the metric counts 0 (below any positive value)
    partial = [route("with", 1, **{"*asr": 50}), route("without", 100)]
    assert order("*qos", partial, ("*asr",)) == ["with", "without"]


def test_load_per_ratio():
    # r1 carries 3 calls for a share of 4, r2 5 for 10, r3 1 for 1: r2 (0.5) < r1 (0.75) < r3 (1)
    routes = [route("r1", 10, Load=3, Ratio=4), route("r2", 10, Load=5, Ratio=10), route("r3", 30, Load=1, Ratio=1)]
    assert order("*load", routes) == ["r2", "r1", "r3"]
    # no share at all: last, whatever its load
    idle = [route("zero", 50, Load=1, Ratio=0), route("busy", 1, Load=9, Ratio=1)]
    assert order("*load", idle) == ["busy", "zero"]


def test_strategy_needs():
    bare = SimpleNamespace(rating_plan_ids=(), account_ids=(), resource_ids=(), stat_ids=())
    for sorting, words in (("*lc", "RatingPlanIDs or AccountIDs"), ("*hc", "RatingPlanIDs or AccountIDs"),
                           ("*reas", "ResourceIDs"), ("*reds", "ResourceIDs"), ("*load", "StatIDs")):
        with pytest.raises(RPCError) as exc:
            strategy_of(sorting).check(bare)
        assert exc.value.message == f"MANDATORY_IE_MISSING: [{words}]"
    strategy_of("*lc").check(SimpleNamespace(rating_plan_ids=(), account_ids=("1001",)))
    for sorting in ("*weight", "*qos"):
        strategy_of(sorting).check(bare)
    with pytest.raises(ValueError, match="unsupported sorting strategy: Sort1"):
        strategy_of("Sort1")


def test_reply_shapes_as_go_prints_them():
    sr = route("route1", 20, Cost=0.3)
    sr.params = "cgrates.org"
    sr.data["RatingPlanID"] = "RP_10CNT"
    sr.data["MaxUsage"] = 30 * 10**9
    sr.data["Account"] = "1001"
    answer = SortedRoutes("ROUTE_ACNT_1001", "*weight", [sr, route("route2", 10)])
    assert dumps(answer.to_json()) == (
        b'{"ProfileID":"ROUTE_ACNT_1001","Sorting":"*weight","Routes":['
        b'{"RouteID":"route1","RouteParameters":"cgrates.org","SortingData":'
        b'{"Account":"1001","Cost":0.3,"MaxUsage":30000000000,"RatingPlanID":"RP_10CNT","Weight":20}},'
        b'{"RouteID":"route2","RouteParameters":"","SortingData":{"Weight":10}}]}')
    assert routes_with_params([answer]) == ["route1:cgrates.org", "route2"]
    assert go_number(Decimal("1.7976931348623157e308")) == 1.7976931348623157e308
    assert go_number(Decimal("-1")) == -1 and go_number(Decimal("0.3498")) == 0.3498
