"""What the FreeSWITCH and Kamailio agents share (agents/switch.py): cgr_flags as SessionS's arguments (CGRateS's
ParseFlags), the connections list, the order of one call's events, the digests of routes and attributes."""

from __future__ import annotations

import asyncio

import pytest

from pycgrates.agents.switch import (
    CallOrder,
    attributes_digest,
    routes_with_params,
    session_call,
    switch_conns,
)
from pycgrates.engine.template.fields import TemplateError


def event() -> dict:
    return {"Tenant": "cgrates.org", "ID": "e1", "Time": None, "Event": {"Account": "1001"},
            "APIOpts": {"*routesLimit": "2"}}


def test_cgr_flags_choose_the_arguments_parse_flags_would():
    method, args, wants = session_call(
        "*authorize", "*resources;*attributes:ATTR_A&ATTR_B;*routes;*routes_maxcost:0.5;*thresholds;*stats:SQ1;"
        "*accounts", event())
    assert method.name == "SessionSv1.AuthorizeEvent" and wants
    assert (args["GetAttributes"], args["AttributeIDs"], args["AuthorizeResources"], args["GetMaxUsage"]) == (
        True, ["ATTR_A", "ATTR_B"], True, True)
    assert (args["GetRoutes"], args["RoutesMaxCost"], args["ProcessThresholds"], args["ThresholdIDs"]) == (
        True, "0.5", True, [])  # no IDs: every matching profile
    assert (args["ProcessStats"], args["StatIDs"], args["Limit"], args["Event"]) == (
        True, ["SQ1"], 2, {"Account": "1001"})
    method, args, wants = session_call("*initiate", "*attributes;*resources;*accounts", event())
    assert (method.name, args["InitSession"], args["AllocateResources"], args["GetAttributes"], wants) == (
        "SessionSv1.InitiateSession", True, True, True, True)
    method, args, _ = session_call("*terminate", "*resources;*accounts;*fd", event())
    assert (method.name, args["TerminateSession"], args["ReleaseResources"], args["ForceDuration"]) == (
        "SessionSv1.TerminateSession", True, True, True)
    _, args, _ = session_call("*authorize", "*routes_event_cost;*routes", event())
    assert args["RoutesMaxCost"] == "*event_cost"


def test_without_cgr_flags_the_call_is_charged_and_nothing_else():
    _, args, wants = session_call("*authorize", None, event())
    assert (args["GetMaxUsage"], args["GetAttributes"], args["AuthorizeResources"], wants) == (True, False, False, True)
    _, args, wants = session_call("*authorize", "", event())      # set, but empty: nothing asked
    assert (args["GetMaxUsage"], wants) == (False, False)
    _, args, _ = session_call("*message", None, event(), when_absent=())
    assert args["Debit"] is False


def test_connections_list_is_checked_entry_by_entry():
    [a, b] = switch_conns([{"address": "10.0.0.1:8021", "password": "pw", "reconnects": -1,
                            "max_reconnect_interval": "30s"},
                           {"address": "10.0.0.2:8021", "alias": "fs-b", "reconnects": 3}], "x.conns")
    assert (a.index, a.origin_host, a.option("password"), a.backoff.reconnects, a.backoff.max_interval) == (
        0, "10.0.0.1:8021", "pw", -1, 30.0)
    assert (b.origin_host, b.backoff.reconnects) == ("fs-b", 3)
    for raw, message in (([{"password": "x"}], r"x.conns\[0\]: no address"),
                         ([{"address": "nohostport"}], r"x.conns\[0\]"),
                         ([{"address": "a:1", "reconnects": "many"}], "reconnects"),
                         ([{"address": "a:1", "max_reconnect_interval": "soon"}], r"x.conns\[0\]"),
                         ([{"address": "a:1", "alias": "same"}, {"address": "b:1", "alias": "same"}],
                          "own alias"),
                         ("a:1", "expecting a list")):
        with pytest.raises(TemplateError, match=message):
            switch_conns(raw, "x.conns")


async def test_one_calls_events_run_in_arrival_order_calls_in_parallel():
    order = CallOrder()
    log: list[str] = []

    async def handle(key: str, name: str, delay: float) -> None:
        before, release = order.turn(key)
        try:
            if before is not None:
                await asyncio.wait({before})
            await asyncio.sleep(delay)
            log.append(f"{key}:{name}")
        finally:
            release()

    await asyncio.gather(handle("a", "answer", 0.05), handle("a", "hangup", 0), handle("b", "answer", 0.01),
                         handle("b", "hangup", 0))
    assert log == ["b:answer", "b:hangup", "a:answer", "a:hangup"]
    assert len(order) == 0          # nothing kept once a call's events are done

    first_turn, release = order.turn("c")
    after, release_after = order.turn("c")
    assert first_turn is None and after is not None and not after.done()
    release()                       # a handler cancelled before it ran still releases its turn
    assert after.done()
    release_after()
    assert len(order) == 0


def test_digests_of_routes_and_attributes():
    profiles = [{"ProfileID": "ROUTE_1001", "Routes": [{"RouteID": "route1", "RouteParameters": "gw1"},
                                                       {"RouteID": "route2", "RouteParameters": ""}]},
                {"ProfileID": "ROUTE_ANY", "Routes": [{"RouteID": "route3"}]}]
    assert routes_with_params(profiles) == ["route1:gw1", "route2", "route3"]
    assert routes_with_params(None) == []
    assert attributes_digest({"RequestType": "*prepaid", "MaxCost": 2.5}) == "RequestType:*prepaid,MaxCost:2.5"
    assert attributes_digest(None) == ""
