"""Cache partitions: LRU, TTL (sliding and static), disabled partitions, config parsing, stats."""

from __future__ import annotations

import pytest

from pycgrates.engine.storage.cache import PARTITIONS, Cache, CacheConfigError, PartitionConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1e9)


def make(clock=None, **parts) -> Cache:
    return Cache.from_config({"partitions": parts}, clock=clock or Clock())


def test_every_partition_exists_by_default():
    cache = Cache()
    for name in PARTITIONS:
        assert name in cache and cache.len(name) == 0
    assert "*attribute_filter_indexes" in cache
    with pytest.raises(KeyError, match="unknown cache partition '\\*nope'"):
        cache.get("*nope", "x")


def test_get_set_remove_has_ids():
    cache = Cache()
    cache.set("*destinations", "DST_49", ["49"])
    cache.set("*destinations", "DST_33", ["33"])
    cache.set("*destinations", "OTHER", None)  # a cached miss is an item too
    assert cache.get("*destinations", "DST_49") == ["49"]
    assert cache.get("*destinations", "nope", "dflt") == "dflt"
    assert cache.has_item("*destinations", "OTHER")
    assert cache.item_ids("*destinations", "DST_") == ["DST_33", "DST_49"]
    assert cache.remove("*destinations", "DST_33") is True
    assert cache.remove("*destinations", "DST_33") is False
    assert cache.len("*destinations") == 2
    cache.clear(["*destinations"])
    assert cache.len("*destinations") == 0


def test_lru_eviction():
    cache = make(**{"*rating_plans": {"limit": 3}})
    for k in "abc":
        cache.set("*rating_plans", k, k)
    cache.get("*rating_plans", "a")  # a becomes most recent
    cache.set("*rating_plans", "d", "d")  # evicts b
    assert cache.item_ids("*rating_plans") == ["a", "c", "d"]
    cache.set("*rating_plans", "c", "C")  # an update refreshes too
    cache.set("*rating_plans", "e", "e")  # evicts a
    assert cache.item_ids("*rating_plans") == ["c", "d", "e"]
    assert not cache.has_item("*rating_plans", "a")


def test_limit_zero_disables():
    cache = make(**{"*rpc_responses": {"limit": 0, "ttl": "2s"}})
    cache.set("*rpc_responses", "k", 1)
    assert cache.get("*rpc_responses", "k") is None
    assert cache.len("*rpc_responses") == 0
    assert not cache.partition("*rpc_responses").enabled


def test_sliding_ttl():
    clock = Clock()
    cache = make(clock, **{"*closed_sessions": {"limit": -1, "ttl": "10s"}})
    cache.set("*closed_sessions", "s1", 1)
    clock.advance(8)
    assert cache.get("*closed_sessions", "s1") == 1  # read: TTL starts over
    clock.advance(8)
    assert cache.get("*closed_sessions", "s1") == 1
    clock.advance(10)
    assert cache.get("*closed_sessions", "s1") is None
    assert cache.len("*closed_sessions") == 0


def test_static_ttl_and_purge():
    clock = Clock()
    cache = make(clock, **{"*cdr_ids": {"ttl": "10s", "static_ttl": True}})
    cache.set("*cdr_ids", "a", 1)
    clock.advance(6)
    cache.set("*cdr_ids", "b", 2)
    assert cache.get("*cdr_ids", "a") == 1  # reading does not extend a static TTL
    clock.advance(5)
    assert cache.has_item("*cdr_ids", "a") is False
    assert cache.item_ids("*cdr_ids") == ["b"]
    clock.advance(10)
    cache.set("*cdr_ids", "c", 3)  # writes purge expired items from the oldest end
    assert dict(cache.partition("*cdr_ids")._items) == {"c": 3}


def test_plain_partition_exposes_its_dict():
    cache = make(**{"*destinations": {"limit": -1}, "*rating_plans": {"limit": 10}, "*uch": {"ttl": "3h"}})
    plain = cache.partition("*destinations").plain_items()
    cache.set("*destinations", "x", 1)
    assert plain == {"x": 1}
    assert cache.partition("*rating_plans").plain_items() is None
    assert cache.partition("*uch").plain_items() is None


def test_from_config_parses_and_validates():
    cache = make(
        **{"*destinations": {"limit": "100", "ttl": "1m", "static_ttl": True, "precache": True, "replicate": False}}
    )
    cfg = cache.partition("*destinations").config
    assert cfg == PartitionConfig(limit=100, ttl_ns=60_000_000_000, static_ttl=True, precache=True)
    with pytest.raises(CacheConfigError, match=r"caches.partitions.\*destinations.ttl"):
        make(**{"*destinations": {"ttl": "forever"}})
    with pytest.raises(CacheConfigError, match=r"limit 'many' must be an integer"):
        make(**{"*destinations": {"limit": "many"}})
    with pytest.raises(CacheConfigError, match="must be an object"):
        Cache.from_config({"partitions": {"*destinations": 5}})
    assert Cache.from_config(None).len("*destinations") == 0
    # a partition only the config knows is usable too
    assert "*custom" in Cache.from_config({"partitions": {"*custom": {"limit": 2}}})


def test_stats():
    cache = Cache()
    cache.set("*filters", "f1", 1)
    assert cache.stats(["*filters", "*actions"]) == {
        "*filters": {"Items": 1, "Groups": 0},
        "*actions": {"Items": 0, "Groups": 0},
    }
    assert set(cache.stats()) == set(cache.names())
