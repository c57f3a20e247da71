"""RouteS in a real cgr-engine on CGRateS's tutinternal config, with the Routes.csv of ../shared/data/tariffplans
(tutorial, tutorial2, oldtutorial, tut_sip_redirect, dnsagent) loaded through APIerSv1.LoadTariffPlanFromFolder:
every strategy answered in order with its sorting data, over JSON-RPC.

Costs come from the engine's own RALs (``routes.rals_conns`` *internal); queue metrics and resource usage from
StatS/ResourceS stand-ins on a JSON-RPC listener of the test (``routes.stats_conns``/``resources_conns`` pointing at
it through ``rpc_conns``), answering with values chosen here. The last test uses the engine's own StatS and
ResourceS when this build serves them. Expected costs, worked out from the CSVs:

- tutorial, 2m to 1001: RP_1002_LOW (RT_10CNT) 0.2 + 0.1 + 60 x 0.00083 = 0.3498; RP_1002 (RT_20CNT) 0.4 + 0.2 +
  60 x 0.00167 = 0.7002 (each 1s step rounded to 5 decimals); one minute: 0.3 and 0.6.
- oldtutorial, 1m20s to 1002 on Friday 2017-12-01 14:25 (PEAK): RP_SPECIAL_1002 (RT_1CNT, 60s steps) 2 x 0.01 =
  0.02; RP_RETAIL1 (DR_FS_40CNT, RT_40CNT) 0.8 + 2 x 0.2 + 2 x 0.03333 = 1.26666, *up to 4 decimals 1.2667.
- tut_sip_redirect, a minute for 1001 (30s of *voice): the account covers 30s, the rest from SetupTime + 30s on
  RP_10CNT 0.2 + 0.1 = 0.3, RP_20CNT 0.6, RP_1CNT 0.01.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pycgrates.engine.cli import command
from tests.conftest import shared_data
from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides
from tests.peers.standins import StandInResourceS, StandInServer, StandInStatS

T = "cgrates.org"
S = 10**9
SETUP = "2017-12-01T14:25:00Z"
CONSOLE = command("console")


@pytest.fixture(scope="module")
def standins() -> Iterator[tuple[StandInStatS, StandInResourceS, StandInServer]]:
    stats, resources = StandInStatS(), StandInResourceS()
    with StandInServer(stats, resources) as server:
        yield stats, resources, server


def start_engine(tmp: Path, plan: str, standins: StandInServer | None) -> EngineProcess:
    port = free_port()
    overrides: dict[str, Any] = storage_overrides(tmp, port)
    if standins is not None:
        overrides["rpc_conns"] = {"standins": standins.rpc_conn()}
        overrides["routes"] = {"stats_conns": ["standins"], "resources_conns": ["standins"]}
    cfg = make_config_dir(tmp / "cfg", shared_data("conf", "samples", "tutinternal"), overrides=overrides)
    eng = EngineProcess(cfg, port, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", plan))}) == "OK"
    except BaseException:
        eng.kill()
        raise
    return eng


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory, standins) -> Iterator[EngineProcess]:
    eng = start_engine(tmp_path_factory.mktemp("routes_tutorial"), "tutorial", standins[2])
    try:
        yield eng
    finally:
        eng.kill()


def ev(opts: dict | None = None, **fields: Any) -> dict:
    return {"Tenant": T, "ID": "routes_it", "Event": fields, "APIOpts": opts or {}}


def error_of(eng: EngineProcess, method: str, arg: Any) -> str:
    with pytest.raises(RuntimeError) as exc:
        eng.call(method, arg)
    return str(exc.value)


def route(rid: str, params: str = "", **data: Any) -> dict:
    return {"RouteID": rid, "RouteParameters": params, "SortingData": data}


# ---------------------------------------------------------------------------------------------------- tutorial


def test_tutorial_weight(tutorial):
    assert tutorial.call("RouteSv1.GetRoutes", ev(Account="1001")) == [
        {"ProfileID": "ROUTE_ACNT_1001", "Sorting": "*weight",
         "Routes": [route("route2", Weight=20), route("route1", Weight=10)]}]
    assert tutorial.call("RouteSv1.GetRoutesList", ev(Account="1001")) == ["route2", "route1"]
    assert tutorial.call("RouteSv1.Ping", {}) == "Pong"


def test_tutorial_least_cost(tutorial):
    call = ev(Account="1002", Destination="1001", SetupTime=SETUP, Usage="2m")
    assert tutorial.call("RouteSv1.GetRoutes", call) == [
        {"ProfileID": "ROUTE_ACNT_1002", "Sorting": "*lc", "Routes": [
            route("route1", Cost=0.3498, RatingPlanID="RP_1002_LOW", Weight=10),
            route("route2", Cost=0.7002, RatingPlanID="RP_1002", Weight=20)]}]
    minute = ev(Account="1002", Destination="1001", SetupTime=SETUP)
    assert [r["SortingData"]["Cost"] for r in tutorial.call("RouteSv1.GetRoutes", minute)[0]["Routes"]] == [0.3, 0.6]
    assert [r["RouteID"] for r in tutorial.call("RouteSv1.GetRoutes", {**call, "APIOpts": {
        "*rouMaxCost": 0.5}})[0]["Routes"]] == ["route1"]
    assert error_of(tutorial, "RouteSv1.GetRoutes", ev(Account="1002", Destination="1001")) == (
        "SERVER_ERROR: MANDATORY_IE_MISSING: [SetupTime]")


def test_tutorial_qos_on_the_stats_queues(tutorial, standins):
    stats = standins[0]
    # ROUTE_ACNT_1003: route1 on Stats2 (weight 10), route2 on Stats2_1 (weight 20), *qos on *tcc then *tcd
    stats.queues.update({"Stats2": {"*tcc": 4.5, "*tcd": 300 * S}, "Stats2_1": {"*tcc": 4.5, "*tcd": 420 * S}})
    assert tutorial.call("RouteSv1.GetRoutes", ev(Account="1003")) == [
        {"ProfileID": "ROUTE_ACNT_1003", "Sorting": "*qos", "Routes": [
            route("route2", **{"*tcc": 4.5, "*tcd": 420 * S, "Weight": 20}),
            route("route1", **{"*tcc": 4.5, "*tcd": 300 * S, "Weight": 10})]}]
    stats.queues["Stats2"]["*tcc"] = 6.25  # *tcc decides before *tcd
    assert tutorial.call("RouteSv1.GetRoutesList", ev(Account="1003")) == ["route1", "route2"]
    stats.queues.clear()  # queues StatS does not know: both metrics -1, the weight decides
    assert tutorial.call("RouteSv1.GetRoutes", ev(Account="1003"))[0]["Routes"] == [
        route("route2", **{"*tcc": -1, "*tcd": -1, "Weight": 20}),
        route("route1", **{"*tcc": -1, "*tcd": -1, "Weight": 10})]
    assert {(a["Tenant"], a["ID"]) for a in stats.asked} >= {(T, "Stats2"), (T, "Stats2_1")}


def test_tutorial_plans_under_the_other_strategies(tutorial, standins):
    stats, resources, _ = standins
    # one profile for account 1005, replaced strategy after strategy
    base = {"Tenant": T, "ID": "R_1005", "FilterIDs": ["*string:~*req.Account:1005"], "ActivationInterval": None,
            "Weight": 10, "SortingParameters": []}

    def routes_of(prf: dict, **fields: Any) -> list[dict]:
        assert tutorial.call("APIerSv1.SetRouteProfile", {**base, **prf, "APIOpts": {}}) == "OK"
        return tutorial.call("RouteSv1.GetRoutes", ev(Account="1005", **fields))[0]["Routes"]

    def rt(rid: str, weight: float, **ids: list[str]) -> dict:
        return {"ID": rid, "FilterIDs": [], "AccountIDs": [], "RatingPlanIDs": [], "ResourceIDs": [], "StatIDs": [],
                "Weight": weight, "Blocker": False, "RouteParameters": "", **ids}

    # *hc over the tutorial's rating plans
    assert routes_of({"Sorting": "*hc", "Routes": [
        rt("low", 20, RatingPlanIDs=["RP_1002_LOW"]), rt("high", 10, RatingPlanIDs=["RP_1002"])]},
        Destination="1001", SetupTime=SETUP, Usage="2m") == [
        route("high", Cost=0.7002, RatingPlanID="RP_1002", Weight=10),
        route("low", Cost=0.3498, RatingPlanID="RP_1002_LOW", Weight=20)]
    # *reas / *reds over ResGroup1 (the tutorial's resource) and others, usages chosen here
    resources.in_use.update({"ResGroup1": [1, 1, 1], "ResGroup2": [5], "ResGroup3": []})
    res_routes = [rt("grp1", 10, ResourceIDs=["ResGroup1"]), rt("grp2", 20, ResourceIDs=["ResGroup2"]),
                  rt("grp3", 5, ResourceIDs=["ResGroup3", "ResGroupX"])]
    assert routes_of({"Sorting": "*reas", "Routes": res_routes}) == [
        route("grp3", ResourceUsage=0, Weight=5), route("grp1", ResourceUsage=3, Weight=10),
        route("grp2", ResourceUsage=5, Weight=20)]
    assert [r["RouteID"] for r in routes_of({"Sorting": "*reds", "Routes": res_routes})] == [
        "grp2", "grp1", "grp3"]
    # *load over the tutorial's queues: Load / Ratio, r1 6/2 = 3, r2 (4+2)/3 = 2, r3 *tcc only 4.5/1
    stats.queues.update({"Stats2": {"*tcc": 4, "*tcd": 2}, "Stats2_1": {"*tcc": 4.5, "*tcd": 1.5}})
    assert routes_of({"Sorting": "*load", "SortingParameters": ["r1:2", "r2:3"], "Routes": [
        rt("r1", 10, StatIDs=["Stats2"]), rt("r2", 20, StatIDs=["Stats2_1"]),
        rt("r3", 30, StatIDs=["Stats2_1:*tcc"])]}) == [
        route("r2", Load=6, Ratio=3, Weight=20), route("r1", Load=6, Ratio=2, Weight=10),
        route("r3", Load=4.5, Ratio=1, Weight=30)]
    assert tutorial.call("APIerSv1.RemoveRouteProfile", {"Tenant": T, "ID": "R_1005"}) == "OK"


def test_tutorial_route_profiles_through_apier_and_console(tutorial):
    assert tutorial.call("APIerSv1.GetRouteProfileIDs", {"Tenant": T}) == [
        "ROUTE_ACNT_1001", "ROUTE_ACNT_1002", "ROUTE_ACNT_1003"]
    assert tutorial.call("APIerSv1.GetRouteProfile", {"Tenant": T, "ID": "ROUTE_ACNT_1003"}) == {
        "Tenant": T, "ID": "ROUTE_ACNT_1003", "FilterIDs": ["FLTR_ACNT_1003"],
        "ActivationInterval": {"ActivationTime": "2017-11-27T00:00:00Z", "ExpiryTime": "0001-01-01T00:00:00Z"},
        "Sorting": "*qos", "SortingParameters": ["*tcc", "*tcd"],
        "Routes": [{"ID": "route2", "FilterIDs": [], "AccountIDs": [], "RatingPlanIDs": [], "ResourceIDs": [],
                    "StatIDs": ["Stats2_1"], "Weight": 20, "Blocker": False, "RouteParameters": ""},
                   {"ID": "route1", "FilterIDs": [], "AccountIDs": [], "RatingPlanIDs": [], "ResourceIDs": [],
                    "StatIDs": ["Stats2"], "Weight": 10, "Blocker": False, "RouteParameters": ""}],
        "Weight": 10}
    got = tutorial.call("RouteSv1.GetRouteProfilesForEvent", ev(Account="1002"))
    assert [p["ID"] for p in got] == ["ROUTE_ACNT_1002"]
    server = ["-server", f"127.0.0.1:{tutorial.rpc_port}"]
    out = subprocess.run([*CONSOLE, *server, "route_profile_ids", 'Tenant="cgrates.org"'], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "ROUTE_ACNT_1003" in out.stdout
    out = subprocess.run([*CONSOLE, *server, "routes", 'ID="c1"', 'Event={"Account":"1001"}'], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and '"route2"' in out.stdout and '"ROUTE_ACNT_1001"' in out.stdout


# ---------------------------------------------------------------------------------------------------- the other plans


def test_tutorial2_weight(tmp_path):
    eng = start_engine(tmp_path, "tutorial2", None)
    try:
        assert eng.call("RouteSv1.GetRoutes", ev(Account="1001")) == [
            {"ProfileID": "ROUTE_ACNT_1001", "Sorting": "*weight",
             "Routes": [route("route2", Weight=20), route("route1", Weight=10)]}]
        assert error_of(eng, "RouteSv1.GetRoutes", ev(Account="1002")) == "NOT_FOUND"
    finally:
        eng.kill()


def test_oldtutorial_weight_route_filters_and_least_cost(tmp_path):
    eng = start_engine(tmp_path, "oldtutorial", None)
    try:
        # ROUTE_WEIGHT_1: route2 needs a German mobile destination, route3 the account dan; ROUTE_WEIGHT_2
        # (weight 5, no filters) matches every event
        german = ev({"*rouProfileCount": 2}, Account="1007", Destination="+491511231234")
        assert eng.call("RouteSv1.GetRoutes", german) == [
            {"ProfileID": "ROUTE_WEIGHT_1", "Sorting": "*weight",
             "Routes": [route("route2", Weight=20), route("route1", Weight=10)]},
            {"ProfileID": "ROUTE_WEIGHT_2", "Sorting": "*weight", "Routes": [route("route1", Weight=10)]}]
        assert eng.call("RouteSv1.GetRoutesList", {**german, "APIOpts": {"*rouProfileCount": 1}}) == [
            "route2", "route1"]
        french = ev({"*rouProfileCount": 1}, Account="1007", Destination="+33612345678")
        assert eng.call("RouteSv1.GetRoutesList", french) == ["route1"]  # FLTR_DST_DE fails: ROUTE_WEIGHT_2
        # ROUTE_LEASTCOST_1 (FLTR_1: 1001/1002, a 10/20 prefix, Subject ^1.*1$, Destination 1002)
        call = ev({"*rouProfileCount": 1}, Account="1001", Subject="1001", Destination="1002", SetupTime=SETUP,
                  Usage="1m20s")
        assert eng.call("RouteSv1.GetRoutes", call) == [
            {"ProfileID": "ROUTE_LEASTCOST_1", "Sorting": "*lc", "Routes": [
                route("route3", Cost=0.02, RatingPlanID="RP_SPECIAL_1002", Weight=15),
                route("route1", Cost=0.02, RatingPlanID="RP_SPECIAL_1002", Weight=10),
                route("route2", Cost=1.2667, RatingPlanID="RP_RETAIL1", Weight=20)]}]
        cheap = {**call, "APIOpts": {"*rouProfileCount": 1, "*rouMaxCost": 0.3}}
        assert eng.call("RouteSv1.GetRoutesList", cheap) == ["route3", "route1"]
    finally:
        eng.kill()


def test_tut_sip_redirect_accounts_then_rating_plans(tmp_path):
    eng = start_engine(tmp_path, "tut_sip_redirect", None)
    try:
        reply = eng.call("RouteSv1.GetRoutes", ev(Account="1001", Destination="1002", SetupTime=SETUP))
        assert reply == [{"ProfileID": "ROUTE_ACNT_1001", "Sorting": "*weight", "Routes": [
            route("route1", "cgrates.org", Account="1001", Cost=0.3, MaxUsage=30 * S, RatingPlanID="RP_10CNT",
                  Weight=20),
            route("route2", "cgrates.net", Account="1001", Cost=0.6, MaxUsage=30 * S, RatingPlanID="RP_20CNT",
                  Weight=10),
            route("route3", "cgrates.com", Account="1001", Cost=0.01, MaxUsage=30 * S, RatingPlanID="RP_1CNT",
                  Weight=5)]}]
        assert eng.call("RouteSv1.GetRoutesList", ev(Account="1002", Destination="1001", SetupTime=SETUP)) == [
            "route1:1003@192.168.56.203", "route2:1004@192.168.57.203", "route3:1005@192.168.58.203"]
    finally:
        eng.kill()


def test_dnsagent_route_parameters(tmp_path):
    eng = start_engine(tmp_path, "dnsagent", None)
    try:
        assert eng.call("RouteSv1.GetRoutesList", ev(Account="1001")) == [
            "route1:!^(.*)$!sip:\\1@172.16.1.11!", "route2:!^(.*)$!sip:\\1@172.16.1.12!"]
        assert eng.call("RouteSv1.GetRoutes", ev(Account="1002"))[0]["Routes"] == [
            route("aroute1", "216.239.32.21", Weight=10), route("aroute2", "216.239.34.21", Weight=5)]
        assert eng.call("RouteSv1.GetRoutesList", ev(Account="1003")) == [
            "srvroute1:xmpp.xmpp.org.", "srvroute2:xmpp.xmpp.com."]
    finally:
        eng.kill()


# ---------------------------------------------------------------------------------------------------- real services


def test_tutorial_against_the_engines_own_stats_and_resources(tmp_path):
    eng = start_engine(tmp_path, "tutorial", None)  # tutinternal: routes.stats/resources_conns *internal
    try:
        # Stats2 counts 1001/1002 calls of the *default run to 1001-1003, Stats2_1 1003's calls to 1001
        for account, dest, usage, cost in (("1001", "1002", "60s", 1.5), ("1002", "1003", "90s", 2),
                                           ("1003", "1001", "30s", 4)):
            eng.call("StatSv1.ProcessEvent", ev(Account=account, Destination=dest, RunID="*default", Usage=usage,
                                                Cost=cost, AnswerTime=SETUP))
        stats2 = eng.call("StatSv1.GetQueueFloatMetrics", {"Tenant": T, "ID": "Stats2"})
        stats2_1 = eng.call("StatSv1.GetQueueFloatMetrics", {"Tenant": T, "ID": "Stats2_1"})
        assert stats2["*tcc"] == 3.5 and stats2_1["*tcc"] == 4
        # route1 on Stats2 (*tcc 3.5), route2 on Stats2_1 (*tcc 4): route2 first
        assert eng.call("RouteSv1.GetRoutes", ev(Account="1003"))[0]["Routes"] == [
            route("route2", **{"*tcc": 4, "*tcd": stats2_1["*tcd"], "Weight": 20}),
            route("route1", **{"*tcc": 3.5, "*tcd": stats2["*tcd"], "Weight": 10})]
        # ResGroup1 (FLTR_RES: 1001-1003) with 2 units in use against an unused resource
        eng.call("ResourceSv1.AllocateResources", ev({"*rsUsageID": "u1", "*rsUnits": 2}, Account="1001"))
        assert eng.call("APIerSv1.SetRouteProfile", {
            "Tenant": T, "ID": "R_REAS", "FilterIDs": ["*string:~*req.Account:1001"], "Sorting": "*reas",
            "Routes": [{"ID": "busy", "ResourceIDs": ["ResGroup1"], "Weight": 20},
                       {"ID": "free", "ResourceIDs": ["ResGroupNone"], "Weight": 10}], "Weight": 30}) == "OK"
        assert eng.call("RouteSv1.GetRoutes", ev({"*rouProfileCount": 1}, Account="1001"))[0]["Routes"] == [
            route("free", ResourceUsage=0, Weight=10), route("busy", ResourceUsage=2, Weight=20)]
    finally:
        eng.kill()


# ---------------------------------------------------------------------------------------------------- SessionS


def test_sessions_authorize_event_asks_routes(tutorial):
    call = ev(Account="1002", Destination="1001", SetupTime=SETUP, Usage="2m")
    reply = tutorial.call("SessionSv1.AuthorizeEvent", {**call, "GetRoutes": True})
    assert reply["RouteProfiles"] == tutorial.call("RouteSv1.GetRoutes", call)
    digest = tutorial.call("SessionSv1.AuthorizeEventWithDigest", {**call, "GetRoutes": True})
    assert digest["RoutesDigest"] == "route1,route2"


def test_sessions_pass_the_route_options(tutorial):
    call = ev(Account="1002", Destination="1001", SetupTime=SETUP, Usage="2m")
    reply = tutorial.call("SessionSv1.AuthorizeEvent", {**call, "GetRoutes": True, "RoutesMaxCost": "0.5"})
    assert [r["RouteID"] for r in reply["RouteProfiles"][0]["Routes"]] == ["route1"]


def test_sessions_process_event_routes_under_raw(tutorial):
    reply = tutorial.call("SessionSv1.ProcessEvent", {**ev(Account="1001"), "Flags": ["*routes"]})
    assert list(reply["RouteProfiles"]) == ["*raw"]


def _route_ids(reply: dict) -> list[str]:
    return [r["RouteID"] for prf in reply for r in prf["Routes"]]


def test_sessions_send_routes_the_event_alone_with_its_options(tutorial):
    call = ev(Account="1002", Destination="1001", SetupTime=SETUP, Usage="2m")
    authorize = {**call, "GetRoutes": True}
    # the paginator as CGRateS's agents fill it: one route, then the second one
    assert _route_ids(tutorial.call("SessionSv1.AuthorizeEvent", {**authorize, "Limit": 1})["RouteProfiles"]) == \
        ["route1"]
    assert _route_ids(tutorial.call("SessionSv1.ProcessMessage", {**authorize, "Limit": 1, "Offset": 1})[
        "RouteProfiles"]) == ["route2"]
    # an event's ACD prices the routes instead of its Usage: one minute, 0.3 and 0.6
    acd = tutorial.call("SessionSv1.AuthorizeEvent", {**authorize, "Event": {**call["Event"], "ACD": "1m"}})
    assert [r["SortingData"]["Cost"] for r in acd["RouteProfiles"][0]["Routes"]] == [0.3, 0.6]
    # no rate to 9999 on either rating plan: RouteS's error, or, ignoring errors, no route at all
    nowhere = {**authorize, "Event": {**call["Event"], "Destination": "9999"}}
    assert error_of(tutorial, "SessionSv1.AuthorizeEvent", nowhere).startswith("ROUTES_ERROR:SERVER_ERROR: ")
    assert error_of(tutorial, "SessionSv1.AuthorizeEvent", {**nowhere, "RoutesIgnoreErrors": True}) == \
        "ROUTES_ERROR:NOT_FOUND"
    assert error_of(tutorial, "SessionSv1.AuthorizeEvent", {**authorize, "Event": {
        "Account": "1002", "Destination": "1001"}}) == "ROUTES_ERROR:SERVER_ERROR: MANDATORY_IE_MISSING: [SetupTime]"


def test_sessions_process_event_routes_flags(tutorial):
    call = ev(Account="1002", Destination="1001", SetupTime=SETUP, Usage="2m")
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call, "Flags": ["*routes:*maxcost:0.5"]})
    assert list(reply["RouteProfiles"]) == ["*raw"] and _route_ids(reply["RouteProfiles"]["*raw"]) == ["route1"]
    # *event_cost: the event's own cost on the account's rating profile (RP_1002, 0.7002) caps the routes
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call, "Flags": ["*routes:*event_cost"]})
    assert _route_ids(reply["RouteProfiles"]["*raw"]) == ["route1", "route2"]
    nowhere = {**call, "Event": {**call["Event"], "Destination": "9999"}}
    assert error_of(tutorial, "SessionSv1.ProcessEvent", {**nowhere, "Flags": ["*routes:*ignore_errors"]}) == \
        "ROUTES_ERROR:NOT_FOUND"
    # *derived_reply with *chargers: the tutorial's chargers run *default and *raw (whose event takes the *raw key,
    # as in CGRateS), each answered under its RunID
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call, "Flags": ["*chargers", "*routes:*derived_reply"]})
    assert sorted(reply["RouteProfiles"]) == ["*default", "*raw"]
    assert _route_ids(reply["RouteProfiles"]["*default"]) == ["route1", "route2"]
