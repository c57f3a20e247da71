"""The flags → SessionS call table produces the arguments the former chain of ifs produced, for every request type
and a broad set of flag combinations (options moved into the paginator included)."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from pycgrates.agents.processors import CALLS, Flags, _route_paginator, build_call
from pycgrates.engine.models.event import CGREvent

#: each flag that sets an argument, with its ``:false`` and ``*ids`` forms (where "present" and "on" differ)
FLAGS = ("*accounts", "*accounts:false", "*attributes", "*attributes:*ids:A1&A2", "*attributes:false",
         "*thresholds", "*thresholds:*ids:T1", "*thresholds:false", "*stats", "*stats:*ids:S1;S2", "*stats:false",
         "*resources", "*resources:false", "*routes", "*routes:false", "*routes_ignore_errors",
         "*routes_ignore_errors:false", "*routes_event_cost", "*routes_maxcost:10", "*fd", "*fd:false",
         "*rals:*initiate")
OPTS = ({}, {"*routesLimit": "2", "*routesOffset": 1, "*other": "x"}, {"*routesLimit": "many"})


# ---------------------------------------------------------------------------------------------------- the reference
# The mapping as it was written before the table (one branch per request type), kept as the oracle.


METHODS = {
    "*authorize": "SessionSv1.AuthorizeEvent",
    "*initiate": "SessionSv1.InitiateSession",
    "*update": "SessionSv1.UpdateSession",
    "*terminate": "SessionSv1.TerminateSession",
    "*message": "SessionSv1.ProcessMessage",
    "*event": "SessionSv1.ProcessEvent",
}


def _routes_max_cost(flags: Flags) -> str:
    return "*event_cost" if flags.has("*routes_event_cost") else flags.value("*routes_maxcost")


def _build_call_chain(rtype: str, flags: Flags, event: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
    """(method, args, whether the reply's MaxUsage is wanted) for one request type; ``event`` is the CGREvent."""
    fd = flags.has("*fd")
    if rtype == "*authorize":
        args = {"GetAttributes": flags.get_bool("*attributes"), "AttributeIDs": flags.ids("*attributes") or None,
                "ProcessThresholds": flags.get_bool("*thresholds"), "ThresholdIDs": flags.ids("*thresholds") or None,
                "ProcessStats": flags.get_bool("*stats"), "StatIDs": flags.ids("*stats") or None,
                "AuthorizeResources": flags.get_bool("*resources"), "GetMaxUsage": flags.has("*accounts"),
                "GetRoutes": flags.get_bool("*routes"), "RoutesIgnoreErrors": flags.has("*routes_ignore_errors"),
                "RoutesMaxCost": _routes_max_cost(flags), "ForceDuration": fd,
                **_route_paginator(event["APIOpts"]), **event}
        return METHODS[rtype], args, args["GetMaxUsage"]
    if rtype == "*initiate":
        args = {"GetAttributes": flags.get_bool("*attributes"), "AttributeIDs": flags.ids("*attributes") or None,
                "ProcessThresholds": flags.get_bool("*thresholds"), "ThresholdIDs": flags.ids("*thresholds") or None,
                "ProcessStats": flags.get_bool("*stats"), "StatIDs": flags.ids("*stats") or None,
                "AllocateResources": flags.get_bool("*resources"), "InitSession": flags.has("*accounts"),
                "ForceDuration": fd, **event}
        return METHODS[rtype], args, args["InitSession"]
    if rtype == "*update":
        args = {"GetAttributes": flags.get_bool("*attributes"), "AttributeIDs": flags.ids("*attributes") or None,
                "UpdateSession": flags.has("*accounts"), "ForceDuration": fd, **event}
        return METHODS[rtype], args, args["UpdateSession"]
    if rtype == "*terminate":
        args = {"TerminateSession": flags.has("*accounts"), "ReleaseResources": flags.get_bool("*resources"),
                "ProcessThresholds": flags.get_bool("*thresholds"), "ThresholdIDs": flags.ids("*thresholds") or None,
                "ProcessStats": flags.get_bool("*stats"), "StatIDs": flags.ids("*stats") or None,
                "ForceDuration": fd, **event}
        return METHODS[rtype], args, False
    if rtype == "*message":
        args = {"GetAttributes": flags.get_bool("*attributes"), "AttributeIDs": flags.ids("*attributes") or None,
                "ProcessThresholds": flags.get_bool("*thresholds"), "ThresholdIDs": flags.ids("*thresholds") or None,
                "ProcessStats": flags.get_bool("*stats"), "StatIDs": flags.ids("*stats") or None,
                "AllocateResources": flags.get_bool("*resources"), "Debit": flags.has("*accounts"),
                "GetRoutes": flags.get_bool("*routes"), "RoutesIgnoreErrors": flags.has("*routes_ignore_errors"),
                "RoutesMaxCost": _routes_max_cost(flags), "ForceDuration": fd,
                **_route_paginator(event["APIOpts"]), **event}
        return METHODS[rtype], args, args["Debit"]
    if rtype == "*event":
        args = {"Flags": list(flags.raw), **_route_paginator(event["APIOpts"]), **event}
        return METHODS[rtype], args, False
    raise ValueError(f"unknown request type: <{rtype}>")


# ---------------------------------------------------------------------------------------------------- comparison


def as_wire(call: tuple[Any, Any, bool]) -> tuple[str, dict[str, Any], bool]:
    """The typed call as the chain wrote it: the argument object's JSON (an ID list the chain left None is [])."""
    method, args, needs = call
    return method.name, args.to_json(), needs


def chain_as_wire(call: tuple[str, dict[str, Any], bool]) -> tuple[str, dict[str, Any], bool]:
    method, args, needs = call
    return method, {k: [] if v is None and k.endswith("IDs") else v for k, v in args.items()}, needs


def combinations():
    for size in range(4):
        yield from itertools.combinations(FLAGS, size)
    yield FLAGS


def test_the_table_gives_the_arguments_of_the_chain():
    compared = 0
    for rtype in CALLS:
        for extra in combinations():
            flags = Flags([rtype, *extra])
            for opts in OPTS:
                event = {"Tenant": "cgrates.org", "ID": "e1", "Time": None, "Event": {"Account": "1001"},
                         "APIOpts": dict(opts)}
                old_event, new_event = copy.deepcopy(event), CGREvent.from_json(copy.deepcopy(event))
                assert as_wire(build_call(rtype, flags, new_event)) == \
                    chain_as_wire(_build_call_chain(rtype, flags, old_event)), (rtype, extra, opts)
                assert new_event.to_json() == old_event  # the options left for ProcessCDR too
                compared += 1
    assert compared == len(CALLS) * (sum(1 for _ in combinations())) * len(OPTS)
