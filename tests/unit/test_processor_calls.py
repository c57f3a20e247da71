"""The flags → SessionS call table produces the arguments the former chain of ifs produced, for every request type
and a broad set of flag combinations (options moved into the paginator included)."""

from __future__ import annotations

import copy
import itertools

from pycgrates.agents.processors import CALLS, Flags, _build_call_chain, build_call

#: each flag that sets an argument, with its ``:false`` and ``*ids`` forms (where "present" and "on" differ)
FLAGS = ("*accounts", "*accounts:false", "*attributes", "*attributes:*ids:A1&A2", "*attributes:false",
         "*thresholds", "*thresholds:*ids:T1", "*thresholds:false", "*stats", "*stats:*ids:S1;S2", "*stats:false",
         "*resources", "*resources:false", "*routes", "*routes:false", "*routes_ignore_errors",
         "*routes_ignore_errors:false", "*routes_event_cost", "*routes_maxcost:10", "*fd", "*fd:false",
         "*rals:*initiate")
OPTS = ({}, {"*routesLimit": "2", "*routesOffset": 1, "*other": "x"}, {"*routesLimit": "many"})


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
                old_event, new_event = copy.deepcopy(event), copy.deepcopy(event)
                assert build_call(rtype, flags, new_event) == _build_call_chain(rtype, flags, old_event), \
                    (rtype, extra, opts)
                assert new_event == old_event  # the options left for ProcessCDR too
                compared += 1
    assert compared == len(CALLS) * (sum(1 for _ in combinations())) * len(OPTS)
