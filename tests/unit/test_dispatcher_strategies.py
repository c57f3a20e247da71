"""The dispatcher's host ordering (engine/dispatchers/strategies.py) and the profile/host codecs, without I/O."""

from __future__ import annotations

import collections
import random

import pytest

from pycgrates.engine.dispatchers.profiles import decode_host, decode_profile
from pycgrates.engine.dispatchers.strategies import HostSelector, hash_rank


def profile(strategy: str, hosts: list[tuple[str, float, dict]], params: dict | None = None):
    return decode_profile({"Tenant": "cgrates.org", "ID": "P", "Subsystems": ["*any"], "Strategy": strategy,
                           "StrategyParams": params or {},
                           "Hosts": [{"ID": h, "Weight": w, "Params": p} for h, w, p in hosts]})


def ids(hosts) -> list[str]:
    return [h.id for h in hosts]


THREE = [("A", 10, {}), ("B", 30, {}), ("C", 20, {})]


@pytest.mark.parametrize("strategy", ["*weight", "*first"])
def test_weight_orders_heaviest_first_every_time(strategy):
    sel = HostSelector(profile(strategy, THREE))
    assert [ids(sel.order()) for _ in range(3)] == [["B", "C", "A"]] * 3


def test_round_robin_rotates_by_one_per_call():
    sel = HostSelector(profile("*round_robin", THREE))
    assert [ids(sel.order()) for _ in range(4)] == [["B", "C", "A"], ["C", "A", "B"], ["A", "B", "C"],
                                                    ["B", "C", "A"]]


def test_random_reshuffles():
    sel = HostSelector(profile("*random", THREE), rng=random.Random(7))
    firsts = collections.Counter(sel.order()[0].id for _ in range(300))
    assert set(firsts) == {"A", "B", "C"} and min(firsts.values()) > 60


def test_load_ratio_prefers_the_least_loaded_and_leaves_ratio_zero_out():
    sel = HostSelector(profile("*weight", [("A", 30, {}), ("B", 20, {"*ratio": "2"}), ("C", 10, {"*ratio": "0"})],
                               params={"*default_ratio": "1"}))
    assert ids(sel.order()) == ["A", "B"]
    sel.load.started("A")
    assert ids(sel.order()) == ["B", "A"]  # A: 1/1, B: 0/2
    sel.load.started("B")
    assert ids(sel.order()) == ["B", "A"]  # B: 1/2 → 0 in whole calls
    sel.load.started("B")
    assert ids(sel.order()) == ["A", "B"]  # tie 1 and 1: weight order
    sel.load.ended("A")
    assert ids(sel.order()) == ["A", "B"]


def test_load_strategy_counts_calls_with_ratio_one_by_default():
    sel = HostSelector(profile("*load", THREE))
    sel.load.started("B")
    assert ids(sel.order()) == ["C", "A", "B"]


def test_negative_ratio_never_counts_as_loaded():
    sel = HostSelector(profile("*weight", [("A", 30, {"*ratio": "-1"}), ("B", 20, {})], params={"*default_ratio": 1}))
    for _ in range(5):
        sel.load.started("A")
    assert ids(sel.order()) == ["A", "B"]


def test_hash_ranks_per_key_and_moves_only_the_keys_of_a_removed_host():
    sel = HostSelector(profile("*hash", [("A", 10, {}), ("B", 10, {}), ("C", 10, {})]))
    keys = [f"acc{i}" for i in range(300)]
    first = {k: sel.order(k)[0].id for k in keys}
    assert all(sel.order(k)[0].id == first[k] for k in keys)  # stable
    spread = collections.Counter(first.values())
    assert set(spread) == {"A", "B", "C"} and min(spread.values()) > 60
    without_b = {k: hash_rank(k, [h for h in sel.hosts if h.id != "B"])[0].id for k in keys}
    assert all(without_b[k] == first[k] for k in keys if first[k] != "B")
    # and a key of B goes where B's ranking put its second choice
    assert all(without_b[k] == ids(sel.order(k))[1] for k in keys if first[k] == "B")


def test_hash_without_the_field_is_weight_order():
    sel = HostSelector(profile("*hash", THREE))
    assert ids(sel.order("")) == ["B", "C", "A"]


def test_broadcast_keeps_all_hosts():
    sel = HostSelector(profile("*broadcast_sync", THREE))
    assert sel.broadcast and ids(sel.order()) == ["B", "C", "A"]


def test_csv_parameters_and_stored_json_round_trip():
    prf = decode_profile({"Tenant": "t", "ID": "P", "Subsystems": "*sessions;*cdrs", "Strategy": "*weight",
                          "StrategyParams": "*default_ratio:2", "Hosts": [{"ID": "A", "Params": "*ratio:3"}]})
    assert prf.contexts == ("*sessions", "*cdrs") and prf.strategy_params == {"*default_ratio": "2"}
    assert prf.hosts[0].params == {"*ratio": "3"}
    assert decode_profile(prf.to_json()).to_json() == prf.to_json()


@pytest.mark.parametrize("raw, message", [
    ({"Strategy": "*fastest"}, "Strategy '\\*fastest' is not a dispatch strategy"),
    ({"StrategyParams": {"*default_ratio": "x"}}, "\\*default_ratio must be a whole number"),
    ({"Hosts": [{"Weight": 1}]}, "each of Hosts needs an ID"),
    ({"Hosts": [{"ID": "A", "Params": {"*ratio": "1.5"}}]}, "Hosts A Params \\*ratio must be a whole number"),
])
def test_invalid_profiles_name_the_field(raw, message):
    with pytest.raises(ValueError, match=message):
        decode_profile({"Tenant": "t", "ID": "P", **raw})


def test_hosts():
    host = decode_host({"Tenant": "t", "ID": "H", "Address": "127.0.0.1:2012", "ReplyTimeout": "2m",
                        "ConnectTimeout": 60000000000})
    assert host.reply_timeout == 120 * 10**9 and host.connect_timeout == 60 * 10**9 and host.transport == "*json"
    assert decode_host(host.to_json()) == host
    with pytest.raises(ValueError, match="Address is empty"):
        decode_host({"ID": "H"})
    with pytest.raises(ValueError, match="Transport '\\*udp' is not supported"):
        decode_host({"ID": "H", "Address": "a:1", "Transport": "*udp"})
