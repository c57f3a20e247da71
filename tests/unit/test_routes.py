"""RouteS: profiles and their routes, sorting data from RALs (the real rating and accounts of this build), from
StatS and ResourceS (stand-ins answering CGRateS's methods with values chosen here), options, paging, errors.

Costs are worked out from the tutorial CSVs: RT_10CNT (RP_1002_LOW) is a 0.2 connect fee, 0.1 for the first
minute in one 60s step, then 0.05 per minute in 1s steps, each step rounded to 5 decimals (0.00083); RT_20CNT
(RP_1002) twice that with 0.00167 steps. 2m: 0.2 + 0.1 + 60 x 0.00083 = 0.3498 and 0.4 + 0.2 + 60 x 0.00167 =
0.7002; 1m: 0.3 and 0.6.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pycgrates.engine.accounts.service import AccountingService
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.filters.service import FilterService
from pycgrates.engine.loader.tariffplan import load_tariff_plan
from pycgrates.engine.profiles.attributes import AttributeService
from pycgrates.engine.profiles.routes import CONSOLE_COMMANDS, RouteService
from pycgrates.engine.rating.route_costs import RouteCostService
from pycgrates.engine.rating.service import RatingService
from pycgrates.engine.rpc.codec import dumps, loads
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry, rpc
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from tests.conftest import shared_data
from tests.peers.standins import StandInResourceS, StandInStatS

T = "cgrates.org"
S = 10**9
SETUP = "2017-12-01T14:25:00Z"


def make_routes(routes_cfg: dict | None = None, *, with_attributes: bool = False) -> RouteService:
    registry = Registry()
    cfg = {"routes": {"rals_conns": ["*internal"], "stats_conns": ["*internal"], "resources_conns": ["*internal"],
                      "opts": {"*profileCount": 0}, **(routes_cfg or {})}}
    ctx = EngineContext(cfg=config_from_dict(cfg), dm=DataManager(MemoryDataDB(), Cache()), stordb=None,
                        registry=registry, conns=ConnManager(Dispatcher(registry), {}))
    ctx.services["filters"] = FilterService(ctx)
    services: list[Any] = [RatingService(ctx), AccountingService(ctx), RouteCostService(ctx)]
    if with_attributes:
        services.append(AttributeService(ctx))
    for svc in services:
        registry.register_object(svc)
    routes = RouteService(ctx)
    registry.register_object(routes)
    return routes


def stand_in(routes: RouteService, service: object) -> None:
    routes.ctx.registry.register_object(service)


async def loaded(plan: str, routes_cfg: dict | None = None) -> RouteService:
    routes = make_routes(routes_cfg)
    await load_tariff_plan(routes.dm, shared_data("tariffplans", plan), timezone="UTC")
    return routes


def profile(pid: str, sorting: str, routes: list[dict], *, filters: tuple[str, ...] = (), weight: float = 10,
            params: tuple[str, ...] = ()) -> dict:
    return {"Tenant": T, "ID": pid, "FilterIDs": list(filters), "Sorting": sorting, "SortingParameters": list(params),
            "Routes": routes, "Weight": weight}


def rt(rid: str, weight: float = 0, **fields: Any) -> dict:
    return {"ID": rid, "Weight": weight, **fields}


def event(opts: dict | None = None, **fields: Any) -> dict:
    return {"Tenant": T, "ID": "ev1", "Event": fields, "APIOpts": opts or {}}


async def get(routes: RouteService, args: dict) -> list[dict]:
    """GetRoutes as a JSON-RPC client sees it."""
    return loads(dumps(await routes.get_routes(args)))


def ids(reply: list[dict]) -> list[tuple[str, list[str]]]:
    return [(p["ProfileID"], [r["RouteID"] for r in p["Routes"]]) for p in reply]


async def error_of(coro: Any) -> str:
    with pytest.raises(RPCError) as exc:
        await coro
    return exc.value.message


# ---------------------------------------------------------------------------------------------------- profiles


async def test_route_profile_crud_in_cgrates_shape():
    routes = make_routes()
    prf = profile("RP1", "*lc", [rt("r1", 20, RatingPlanIDs=["RP_1"], FilterIDs=["*string:~*req.X:1"],
                                    AccountIDs=["acc"], ResourceIDs=["Res1", "ResGroup2"], StatIDs=["Stat1"],
                                    Blocker=True, RouteParameters="p1")],
                  filters=("*string:~*req.Account:1001",), params=("*acd",))
    prf["ActivationInterval"] = {"ActivationTime": "2017-11-27T00:00:00Z", "ExpiryTime": "0001-01-01T00:00:00Z"}
    assert await routes.rpc_set_RouteProfile({**prf, "APIOpts": {}}) == "OK"
    got = await routes.rpc_get_RouteProfile({"Tenant": T, "ID": "RP1"})
    assert got == {"Tenant": T, "ID": "RP1", "FilterIDs": ["*string:~*req.Account:1001"],
                   "ActivationInterval": {"ActivationTime": "2017-11-27T00:00:00Z",
                                          "ExpiryTime": "0001-01-01T00:00:00Z"},
                   "Sorting": "*lc", "SortingParameters": ["*acd"],
                   "Routes": [{"ID": "r1", "FilterIDs": ["*string:~*req.X:1"], "AccountIDs": ["acc"],
                               "RatingPlanIDs": ["RP_1"], "ResourceIDs": ["Res1", "ResGroup2"],
                               "StatIDs": ["Stat1"], "Weight": 20, "Blocker": True, "RouteParameters": "p1"}],
                   "Weight": 10}
    assert await routes.rpc_ids_RouteProfile({"Tenant": T}) == ["RP1"]
    # CGRateS accepts any Sorting when the profile is set, and refuses it when routes are asked
    assert await routes.rpc_set_RouteProfile(profile("ODD", "Sort1", [rt("r1")])) == "OK"
    assert await error_of(routes.rpc_set_RouteProfile(profile("X", "*weight", [], filters=("FLTR_NO",)))) == (
        "SERVER_ERROR: broken reference to filter: <FLTR_NO> for item with ID: cgrates.org:X")
    assert (await error_of(routes.rpc_set_RouteProfile(profile("L", "*load", [rt("r1")], params=("r1",))))
            ).startswith("SERVER_ERROR: SortingParameters of *load are routeID:ratio")
    assert await routes.rpc_remove_RouteProfile({"Tenant": T, "ID": "RP1"}) == "OK"
    assert await error_of(routes.rpc_get_RouteProfile({"Tenant": T, "ID": "RP1"})) == "NOT_FOUND"


async def test_console_commands_have_cgrates_names():
    assert CONSOLE_COMMANDS["routes"][0] == "RouteSv1.GetRoutes"
    assert CONSOLE_COMMANDS["routes_profiles_for_event"][0] == "RouteSv1.GetRouteProfilesForEvent"
    assert CONSOLE_COMMANDS["routes_profile"][0] == "APIerSv1.GetRouteProfile"
    assert CONSOLE_COMMANDS["routes_profile_set"][0] == "APIerSv1.SetRouteProfile"
    assert CONSOLE_COMMANDS["routes_profile_remove"][0] == "APIerSv1.RemoveRouteProfile"
    assert CONSOLE_COMMANDS["route_profile_ids"][0] == "APIerSv1.GetRouteProfileIDs"
    assert "routes_profile_ids" not in CONSOLE_COMMANDS


# ---------------------------------------------------------------------------------------------------- matching


async def test_weight_routes_filters_and_duplicate_ids():
    routes = make_routes()
    await routes.set_profile(profile("P", "*weight", [
        rt("route1", 10), rt("route2", 20, FilterIDs=["*prefix:~*req.Destination:+49"]),
        rt("route3", 15, FilterIDs=["*string:~*req.Account:dan"]),
        # two routes with one ID: the heavier of those passing their filters answers
        rt("twin", 5, RouteParameters="light"), rt("twin", 25, RouteParameters="heavy",
                                                   FilterIDs=["*string:~*req.Account:1007"])]))
    reply = await get(routes, event(Account="1007", Destination="+491511231234"))
    assert reply == [{"ProfileID": "P", "Sorting": "*weight", "Routes": [
        {"RouteID": "twin", "RouteParameters": "heavy", "SortingData": {"Weight": 25}},
        {"RouteID": "route2", "RouteParameters": "", "SortingData": {"Weight": 20}},
        {"RouteID": "route1", "RouteParameters": "", "SortingData": {"Weight": 10}}]}]
    assert ids(await get(routes, event(Account="1001", Destination="+33"))) == [("P", ["route1", "twin"])]
    assert (await get(routes, event(Account="1001")))[0]["Routes"][1]["RouteParameters"] == "light"
    assert await routes.get_routes_list(event(Account="1007", Destination="+49")) == [
        "twin:heavy", "route2", "route1"]


async def test_profiles_heaviest_first_count_and_activation():
    routes = make_routes()
    await routes.set_profile(profile("GENERAL", "*weight", [rt("g1")], weight=5))
    await routes.set_profile(profile("ACNT", "*weight", [rt("a1")], filters=("*string:~*req.Account:1001",),
                                     weight=20))
    await routes.set_profile({**profile("OLD", "*weight", [rt("o1")], weight=50),
                              "ActivationInterval": {"ActivationTime": "2010-01-01T00:00:00Z",
                                                     "ExpiryTime": "2011-01-01T00:00:00Z"}})
    ev = {**event(Account="1001"), "Time": "2017-12-01T14:25:00Z"}
    assert ids(await get(routes, ev)) == [("ACNT", ["a1"]), ("GENERAL", ["g1"])]
    assert ids(await get(routes, {**ev, "APIOpts": {"*rouProfileCount": 1}})) == [("ACNT", ["a1"])]
    assert ids(await get(routes, {**ev, "APIOpts": {"*routesProfilesCount": 1}})) == [("ACNT", ["a1"])]
    assert ids(await get(routes, event(Account="1002"))) == [("OLD", ["o1"]), ("GENERAL", ["g1"])]
    got = await routes.get_route_profiles_for_event(ev)
    assert [p["ID"] for p in got] == ["ACNT", "GENERAL"] and got[0]["Routes"][0]["ID"] == "a1"
    # routes.opts.*profileCount is the default count
    counted = make_routes({"opts": {"*profileCount": 1}})
    await counted.set_profile(profile("GENERAL", "*weight", [rt("g1")], weight=5))
    await counted.set_profile(profile("ACNT", "*weight", [rt("a1")], weight=20))
    assert ids(await get(counted, event(Account="1001"))) == [("ACNT", ["a1"])]


async def test_paging_over_profiles():
    routes = make_routes()
    await routes.set_profile(profile("P1", "*weight", [rt("a", 30), rt("b", 20), rt("c", 10)], weight=20))
    await routes.set_profile(profile("P2", "*weight", [rt("d", 30), rt("e", 20)], weight=10))

    async def page(**opts: Any) -> list:
        return ids(await get(routes, event(opts, Account="1001")))

    assert await page(**{"*rouLimit": 2}) == [("P1", ["a", "b"])]
    assert await page(**{"*rouLimit": 4}) == [("P1", ["a", "b", "c"]), ("P2", ["d"])]
    assert await page(**{"*rouOffset": 2}) == [("P1", ["c"]), ("P2", ["d", "e"])]
    assert await page(**{"*rouOffset": 3}) == [("P2", ["d", "e"])]
    assert await page(**{"*rouOffset": 2, "*rouLimit": 2}) == [("P1", ["c"]), ("P2", ["d"])]
    # the older names: APIOpts *routes_limit/*routes_offset, and v0.10's Limit/Offset arguments
    assert await page(**{"*routes_limit": 1, "*routes_offset": 1}) == [("P1", ["b"])]
    assert ids(await get(routes, {**event(Account="1001"), "Limit": 1, "Offset": 3})) == [("P2", ["d"])]
    assert await error_of(routes.get_routes(event({"*rouOffset": 5}, Account="1001"))) == "NOT_FOUND"
    assert await error_of(routes.get_routes(event({"*rouLimit": "two"}, Account="1001"))) == (
        "SERVER_ERROR: option *rouLimit must be a whole number, not 'two'")


async def test_argument_and_strategy_errors():
    routes = make_routes()
    assert await error_of(routes.get_routes({"Tenant": T, "Event": {}})) == "MANDATORY_IE_MISSING: [ID]"
    assert await error_of(routes.get_routes({"Tenant": T, "ID": "e"})) == "MANDATORY_IE_MISSING: [Event]"
    assert await error_of(routes.get_routes(None)) == "MANDATORY_IE_MISSING: [CGREvent]"
    assert await error_of(routes.get_routes(event(Account="1001"))) == "NOT_FOUND"
    await routes.set_profile(profile("ODD", "Sort1", [rt("r1")]))
    assert await error_of(routes.get_routes(event(Account="1001"))) == (
        "SERVER_ERROR: unsupported sorting strategy: Sort1")
    await routes.set_profile(profile("ODD", "*lc", [rt("r1")]))
    assert await error_of(routes.get_routes(event(Account="1001"))) == (
        "SERVER_ERROR: MANDATORY_IE_MISSING: [RatingPlanIDs or AccountIDs]")
    await routes.set_profile(profile("ODD", "*weight", [rt("r1", FilterIDs=["FLTR_GONE"])]))
    assert await error_of(routes.get_routes(event(Account="1001"))) == "SERVER_ERROR: NOT_FOUND:FLTR_GONE"
    assert await error_of(routes.get_route_profiles_for_event({"Event": {}})) == "MANDATORY_IE_MISSING: [ID]"


# ---------------------------------------------------------------------------------------------------- costs


def call(account: str = "1002", usage: str | None = "2m", opts: dict | None = None, **extra: Any) -> dict:
    fields = {"Account": account, "Destination": "1001", "SetupTime": SETUP, **extra}
    if usage is not None:
        fields["Usage"] = usage
    return event(opts, **fields)


async def test_least_and_highest_cost_on_the_tutorial_plans():
    routes = await loaded("tutorial")
    reply = await get(routes, call())
    assert reply == [{"ProfileID": "ROUTE_ACNT_1002", "Sorting": "*lc", "Routes": [
        {"RouteID": "route1", "RouteParameters": "",
         "SortingData": {"Cost": 0.3498, "RatingPlanID": "RP_1002_LOW", "Weight": 10}},
        {"RouteID": "route2", "RouteParameters": "",
         "SortingData": {"Cost": 0.7002, "RatingPlanID": "RP_1002", "Weight": 20}}]}]
    # without Usage the event is priced for a minute
    assert [r["SortingData"]["Cost"] for r in (await get(routes, call(usage=None)))[0]["Routes"]] == [0.3, 0.6]
    # *hc: the same routes the other way round
    await routes.set_profile(profile("ROUTE_HC", "*hc", [rt("route1", 10, RatingPlanIDs=["RP_1002_LOW"]),
                                                         rt("route2", 20, RatingPlanIDs=["RP_1002"])],
                                     filters=("*string:~*req.Account:1002",), weight=30))
    reply = await get(routes, call(opts={"*rouProfileCount": 1}))
    assert [(r["RouteID"], r["SortingData"]["Cost"]) for r in reply[0]["Routes"]] == [
        ("route2", 0.7002), ("route1", 0.3498)]


async def test_max_cost_and_event_cost():
    routes = await loaded("tutorial")
    assert ids(await get(routes, call(opts={"*rouMaxCost": 0.5}))) == [("ROUTE_ACNT_1002", ["route1"])]
    assert ids(await get(routes, call(opts={"*rouMaxCost": "0.7002"}))) == [("ROUTE_ACNT_1002",
                                                                             ["route1", "route2"])]
    assert ids(await get(routes, {**call(), "MaxCost": "0.4"})) == [("ROUTE_ACNT_1002", ["route1"])]
    assert await error_of(routes.get_routes(call(opts={"*rouMaxCost": 0.1}))) == "NOT_FOUND"
    # *event_cost: the event's own cost; 1003 is rated by RP_1003 (RT_10CNT to 1001): 0.3498
    assert ids(await get(routes, call(opts={"*rouMaxCost": "*event_cost"}, Subject="1003"))) == [
        ("ROUTE_ACNT_1002", ["route1"])]
    # ... 1002 by RP_1002: 0.7002, both routes stay
    assert len((await get(routes, call(opts={"*rouMaxCost": "*event_cost"})))[0]["Routes"]) == 2
    assert await error_of(routes.get_routes(call(opts={"*rouMaxCost": "cheap"}))) == (
        "SERVER_ERROR: option *rouMaxCost must be a number or *event_cost, not 'cheap'")


async def test_cost_errors_fail_unless_ignored():
    routes = await loaded("tutorial")
    no_setup = event(Account="1002", Destination="1001")
    assert await error_of(routes.get_routes(no_setup)) == "SERVER_ERROR: MANDATORY_IE_MISSING: [SetupTime]"
    await routes.set_profile(profile("ROUTE_ACNT_1002", "*lc", [
        rt("good", 10, RatingPlanIDs=["RP_1002_LOW"]), rt("bad", 20, RatingPlanIDs=["RP_1001"])],
        filters=("FLTR_ACNT_1002",)))
    # RP_1001 does not rate 1001
    assert await error_of(routes.get_routes(call())) == "SERVER_ERROR: UNAUTHORIZED_DESTINATION"
    assert ids(await get(routes, call(opts={"*rouIgnoreErrors": True}))) == [("ROUTE_ACNT_1002", ["good"])]
    assert ids(await get(routes, {**call(), "IgnoreErrors": True})) == [("ROUTE_ACNT_1002", ["good"])]
    quiet = await loaded("tutorial", {"opts": {"*profileCount": 0, "*ignoreErrors": True}})
    await quiet.set_profile(profile("ROUTE_ACNT_1002", "*lc", [
        rt("good", 10, RatingPlanIDs=["RP_1002_LOW"]), rt("bad", 20, RatingPlanIDs=["RP_1001"])],
        filters=("FLTR_ACNT_1002",)))
    assert ids(await get(quiet, call())) == [("ROUTE_ACNT_1002", ["good"])]
    unpriced = make_routes({"rals_conns": []})
    await unpriced.set_profile(profile("P", "*lc", [rt("r", RatingPlanIDs=["RP_1"])]))
    assert (await error_of(unpriced.get_routes(call()))).startswith("SERVER_ERROR: routes.rals_conns is empty")


async def test_accounts_cover_first_the_rating_plans_the_rest():
    # tut_sip_redirect: 1001 has 30s of *voice; routes price the rest on RP_10CNT/RP_20CNT/RP_1CNT (any
    # destination): 30s → 0.2 + 0.1 = 0.3, 0.4 + 0.2 = 0.6, 0.01
    routes = await loaded("tut_sip_redirect")
    reply = await get(routes, event(Account="1001", Destination="1002", SetupTime=SETUP))
    assert reply == [{"ProfileID": "ROUTE_ACNT_1001", "Sorting": "*weight", "Routes": [
        {"RouteID": "route1", "RouteParameters": "cgrates.org", "SortingData": {
            "Account": "1001", "Cost": 0.3, "MaxUsage": 30 * S, "RatingPlanID": "RP_10CNT", "Weight": 20}},
        {"RouteID": "route2", "RouteParameters": "cgrates.net", "SortingData": {
            "Account": "1001", "Cost": 0.6, "MaxUsage": 30 * S, "RatingPlanID": "RP_20CNT", "Weight": 10}},
        {"RouteID": "route3", "RouteParameters": "cgrates.com", "SortingData": {
            "Account": "1001", "Cost": 0.01, "MaxUsage": 30 * S, "RatingPlanID": "RP_1CNT", "Weight": 5}}]}]
    # 20s: the account covers it all, nothing is rated
    covered = await get(routes, event(Account="1001", Destination="1002", SetupTime=SETUP, Usage="20s"))
    assert covered[0]["Routes"][0]["SortingData"] == {"Account": "1001", "Cost": 0, "MaxUsage": 20 * S,
                                                      "Weight": 20}
    # an account-only route whose account does not cover the call cannot be priced
    await routes.set_profile(profile("ACC_ONLY", "*lc", [rt("r", AccountIDs=["1001"])],
                                     filters=("*string:~*req.Account:1001",), weight=50))
    assert await error_of(routes.get_routes(event({"*rouProfileCount": 1}, Account="1001", Destination="1002",
                                                  SetupTime=SETUP))) == (
        "SERVER_ERROR: no rating plans defined for remaining usage")


async def test_route_filters_on_the_sorting_data():
    routes = await loaded("tutorial")
    await routes.set_profile(profile("ROUTE_ACNT_1002", "*lc", [
        rt("route1", 10, RatingPlanIDs=["RP_1002_LOW"]),
        rt("route2", 20, RatingPlanIDs=["RP_1002"], FilterIDs=["*lte:~*vars.Cost:0.65"])],
        filters=("FLTR_ACNT_1002",)))
    assert ids(await get(routes, call())) == [("ROUTE_ACNT_1002", ["route1"])]  # route2: 0.7002
    assert ids(await get(routes, call(usage="1m"))) == [("ROUTE_ACNT_1002", ["route1", "route2"])]  # 0.6
    await routes.set_profile(profile("ROUTE_ACNT_1002", "*lc", [
        rt("route1", 10, RatingPlanIDs=["RP_1002_LOW"]),
        rt("route2", 20, RatingPlanIDs=["RP_1002"], FilterIDs=["*gte:~*vars.Weight:20"])],
        filters=("FLTR_ACNT_1002",)))
    assert ids(await get(routes, call())) == [("ROUTE_ACNT_1002", ["route1", "route2"])]


# ---------------------------------------------------------------------------------------------------- StatS, ResourceS


async def test_qos_on_stats_metrics():
    routes = make_routes()
    stats = StandInStatS({"Stats2": {"*tcc": 10.5, "*tcd": 120 * S},
                          "Stats2_1": {"*tcc": 10.5, "*tcd": 180 * S},
                          "Stats3": {"*tcc": 12.25, "*tcd": 60 * S, "*pdd": 3 * S},
                          "Stats3_b": {"*tcc": 11.75, "*tcd": 40 * S, "*pdd": 1 * S}})
    stand_in(routes, stats)
    await routes.set_profile(profile("QOS", "*qos", [
        rt("route1", 10, StatIDs=["Stats2"]), rt("route2", 20, StatIDs=["Stats2_1"]),
        rt("route3", 5, StatIDs=["Stats3", "Stats3_b"]), rt("nostats", 30)], params=("*tcc", "*tcd")))
    reply = await get(routes, event(Account="1003"))
    # route3's queues average *tcc 12, *tcd 50s: first on *tcc; route1 and route2 tie on *tcc, *tcd decides;
    # the route without queues counts 0
    assert [(r["RouteID"], r["SortingData"]) for r in reply[0]["Routes"]] == [
        ("route3", {"*pdd": 2 * S, "*tcc": 12, "*tcd": 50 * S, "Weight": 5}),
        ("route2", {"*tcc": 10.5, "*tcd": 180 * S, "Weight": 20}),
        ("route1", {"*tcc": 10.5, "*tcd": 120 * S, "Weight": 10}),
        ("nostats", {"Weight": 30})]
    assert {a["ID"] for a in stats.asked} == {"Stats2", "Stats2_1", "Stats3", "Stats3_b"}
    assert all(a["Tenant"] == T for a in stats.asked)
    # *pdd: lowest first; a queue that lacks it counts as the worst
    await routes.set_profile(profile("QOS", "*qos", [
        rt("route1", 10, StatIDs=["Stats2"]), rt("route3", 5, StatIDs=["Stats3"]),
        rt("route4", 1, StatIDs=["Stats3_b"]), rt("unknown", 50, StatIDs=["NOSUCH"])], params=("*pdd", "*acd")))
    reply = await get(routes, event(Account="1003"))
    assert [r["RouteID"] for r in reply[0]["Routes"]] == ["route4", "route3", "unknown", "route1"]
    data = {r["RouteID"]: r["SortingData"] for r in reply[0]["Routes"]}
    assert data["route1"]["*pdd"] == 1.7976931348623157e308 and data["route1"]["*acd"] == -1
    assert data["unknown"] == {"*pdd": 1.7976931348623157e308, "*acd": -1, "Weight": 50}


async def test_resource_usage_ascending_and_descending():
    routes = make_routes()
    stand_in(routes, StandInResourceS({"ResGroup1": [1, 2], "ResGroup2": [4], "ResGroup3": [], "Res4": [0.5]}))
    for sorting in ("*reas", "*reds"):
        await routes.set_profile(profile("RES", sorting, [
            rt("busy", 10, ResourceIDs=["ResGroup2", "Res4"]), rt("some", 20, ResourceIDs=["ResGroup1"]),
            rt("idle", 5, ResourceIDs=["ResGroup3", "NOSUCH"]), rt("idle2", 15, ResourceIDs=["ResGroup3"])]))
        reply = await get(routes, event(Account="1001"))
        got = [(r["RouteID"], r["SortingData"]["ResourceUsage"]) for r in reply[0]["Routes"]]
        if sorting == "*reas":
            assert got == [("idle2", 0), ("idle", 0), ("some", 3), ("busy", 4.5)]
        else:
            assert got == [("busy", 4.5), ("some", 3), ("idle2", 0), ("idle", 0)]
    await routes.set_profile(profile("RES", "*reas", [rt("r", 1)]))
    assert await error_of(routes.get_routes(event(Account="1001"))) == (
        "SERVER_ERROR: MANDATORY_IE_MISSING: [ResourceIDs]")


async def test_load_distribution():
    routes = make_routes({"default_ratio": 2})
    stand_in(routes, StandInStatS({"S1": {"*sum#1": 3, "*acd": 10}, "S2": {"*sum#1": 5}, "S3": {"*sum#1": 1},
                                   "S4": {"*sum#1": 4}}))
    await routes.set_profile(profile("LOAD", "*load", [
        rt("r1", 10, StatIDs=["S1:*sum#1"]), rt("r2", 10, StatIDs=["S2"]), rt("r3", 30, StatIDs=["S3", "S4"]),
        rt("r4", 40, StatIDs=["S1"])], params=("r1:4", "r2:10", "*default:5")))
    reply = await get(routes, event(Account="1001"))
    # Load/Ratio: r1 3/4, r2 5/10, r3 (1+4)/5, r4 (3+10)/5
    assert [(r["RouteID"], r["SortingData"]) for r in reply[0]["Routes"]] == [
        ("r2", {"Load": 5, "Ratio": 10, "Weight": 10}), ("r1", {"Load": 3, "Ratio": 4, "Weight": 10}),
        ("r3", {"Load": 5, "Ratio": 5, "Weight": 30}), ("r4", {"Load": 13, "Ratio": 5, "Weight": 40})]
    # no *default: routes.default_ratio
    await routes.set_profile(profile("LOAD", "*load", [rt("r1", 10, StatIDs=["S3"])], params=("r9:4",)))
    assert (await get(routes, event(Account="1001")))[0]["Routes"][0]["SortingData"]["Ratio"] == 2
    # a named metric the queue lacks is an error (ignorable)
    await routes.set_profile(profile("LOAD", "*load", [rt("r1", 10, StatIDs=["S2:*acd"]), rt("r2", StatIDs=["S2"])]))
    assert await error_of(routes.get_routes(event(Account="1001"))) == (
        "SERVER_ERROR: <RouteS> error: NOT_FOUND metric *acd for statID: S2")
    assert ids(await get(routes, event({"*rouIgnoreErrors": True}, Account="1001"))) == [("LOAD", ["r2"])]


async def test_stats_and_resources_errors_and_missing_conns():
    routes = make_routes()

    class BrokenStatS:
        @rpc("StatSv1.GetQueueFloatMetrics")
        async def float_metrics(self, args: dict) -> dict:
            raise RPCError("SERVER_ERROR: queue store down")

    stand_in(routes, BrokenStatS())
    await routes.set_profile(profile("QOS", "*qos", [rt("r1", 10, StatIDs=["S1"]), rt("r2", 5)], params=("*acd",)))
    assert await error_of(routes.get_routes(event(Account="1001"))) == (
        "SERVER_ERROR: StatSv1.GetQueueFloatMetrics cgrates.org:S1: SERVER_ERROR: queue store down")
    assert ids(await get(routes, event({"*rouIgnoreErrors": True}, Account="1001"))) == [("QOS", ["r2"])]
    # without stats_conns/resources_conns the data is simply absent (CGRateS)
    bare = make_routes({"stats_conns": [], "resources_conns": []})
    await bare.set_profile(profile("QOS", "*qos", [rt("r1", 10, StatIDs=["S1"])], params=("*acd",)))
    assert (await get(bare, event(Account="1001")))[0]["Routes"][0]["SortingData"] == {"*acd": -1, "Weight": 10}
    await bare.set_profile(profile("QOS", "*reds", [rt("r1", 10, ResourceIDs=["R1"])]))
    assert (await get(bare, event(Account="1001")))[0]["Routes"][0]["SortingData"] == {"ResourceUsage": 0,
                                                                                       "Weight": 10}


# ---------------------------------------------------------------------------------------------------- AttributeS


async def test_attributes_alter_the_event_first():
    routes = make_routes({"attributes_conns": ["*internal"]}, with_attributes=True)
    attrs = AttributeService(routes.ctx)
    await attrs.set_profile({"Tenant": T, "ID": "ATTR_ROUTES", "Contexts": ["*routes"],
                             "FilterIDs": ["*string:~*req.Account:1001"],
                             "Attributes": [{"Path": "*req.Category", "Type": "*constant", "Value": "premium"}],
                             "Weight": 10})
    await routes.set_profile(profile("PREMIUM", "*weight", [rt("gold")], filters=("*string:~*req.Category:premium",)))
    assert ids(await get(routes, event(Account="1001"))) == [("PREMIUM", ["gold"])]
    assert await error_of(routes.get_routes(event(Account="1002"))) == "NOT_FOUND"
    # another AttributeS context by option
    assert await error_of(routes.get_routes(event({"*context": "other"}, Account="1001"))) == "NOT_FOUND"


async def test_costs_are_decimal_in_process():
    routes = await loaded("tutorial")
    [answer] = await routes.sorted_routes(call())
    assert [r.keys["Cost"] for r in answer.routes] == [Decimal("0.3498"), Decimal("0.7002")]
