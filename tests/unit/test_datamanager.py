"""DataManager (cache in front of the DataDB) and the CacheSv1 service."""

from __future__ import annotations

import pytest

from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.cache_service import CacheService
from pycgrates.engine.storage.datamanager import KIND_PARTITIONS, DataManager


class CountingDB(MemoryDataDB):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, kind, key):
        self.reads += 1
        return await super().get(kind, key)


class Compiled:
    def __init__(self, raw) -> None:
        self.raw = raw


@pytest.fixture
def db() -> CountingDB:
    return CountingDB()


@pytest.fixture
def dm(db) -> DataManager:
    return DataManager(db, Cache())


async def test_get_caches_the_decoded_object(dm, db):
    await db.set("rpl", "RP1", {"ID": "RP1"})
    decodes = []

    def decode(raw):
        decodes.append(raw)
        return Compiled(raw)

    first = await dm.get("rpl", "RP1", decode)
    second = await dm.get("rpl", "RP1", decode)
    assert isinstance(first, Compiled) and first is second
    assert len(decodes) == 1 and db.reads == 1
    assert dm.cache.get("*rating_plans", "RP1") is first


async def test_misses_are_cached_and_writes_invalidate(dm, db):
    assert await dm.get("dst", "DST_49") is None
    assert await dm.get("dst", "DST_49") is None
    assert db.reads == 1
    await dm.set("dst", "DST_49", ["49"])
    assert await dm.get("dst", "DST_49") == ["49"]
    assert db.reads == 2
    await dm.write_batch([("set", "dst", "DST_49", ["4917"]), ("set", "dst", "DST_33", ["33"])])
    assert await dm.get("dst", "DST_49") == ["4917"]
    assert await dm.get("dst", "DST_33") == ["33"]
    assert await dm.remove("dst", "DST_49") is True
    assert await dm.get("dst", "DST_49") is None
    assert await dm.keys("dst") == ["DST_33"]


async def test_accounts_are_never_cached(dm, db):
    await dm.set("acc", "cgrates.org:1001", {"v": 1})
    for _ in range(3):
        assert await dm.get("acc", "cgrates.org:1001") == {"v": 1}
    assert db.reads == 3
    assert "acc" not in KIND_PARTITIONS


async def test_lru_partition_goes_through_partition(db):
    dm = DataManager(db, Cache.from_config({"partitions": {"*filters": {"limit": 1}}}))
    await db.set("ftr", "F1", 1)
    await db.set("ftr", "F2", 2)
    assert await dm.get("ftr", "F1") == 1
    assert await dm.get("ftr", "F2") == 2  # evicts F1
    assert await dm.get("ftr", "F1") == 1
    assert db.reads == 3


async def test_disabled_partition_is_not_used(db):
    dm = DataManager(db, Cache.from_config({"partitions": {"*filters": {"limit": 0}}}))
    await db.set("ftr", "F1", 1)
    await dm.get("ftr", "F1")
    await dm.get("ftr", "F1")
    assert db.reads == 2


async def test_read_racing_a_write_does_not_cache_stale(db):
    dm = DataManager(db, Cache())
    await db.set("dst", "D", "old")
    orig_get = db.get

    async def get_then_write(kind, key):
        value = await orig_get(kind, key)
        await dm.set("dst", "D", "new")  # lands while the read is in flight
        return value

    db.get = get_then_write
    assert await dm.get("dst", "D") == "old"
    db.get = orig_get
    assert await dm.get("dst", "D") == "new"


async def test_filter_indexes_cached_per_indexed_kind(dm, db):
    key = "alp:cgrates.org:*sessions:*string:*req.Account:1001"
    await dm.set("fii", key, ["ATTR_1"])
    assert await dm.get("fii", key) == ["ATTR_1"]
    assert dm.cache.item_ids("*attribute_filter_indexes") == ["cgrates.org:*sessions:*string:*req.Account:1001"]
    await dm.set("fii", key, ["ATTR_2"])
    assert await dm.get("fii", key) == ["ATTR_2"]
    assert await dm.get("fii", "unknownkind:x") is None  # not cached anywhere, still read


async def test_precache_and_registered_decoder(db):
    cache = Cache.from_config({"partitions": {"*destinations": {"precache": True}}})
    dm = DataManager(db, cache)
    dm.register_decoder("dst", Compiled)
    await db.set("dst", "D1", ["1"])
    await db.set("dst", "D2", ["2"])
    await db.set("rpl", "R1", {})
    assert await dm.precache() == 2
    assert cache.item_ids("*destinations") == ["D1", "D2"]
    assert cache.len("*rating_plans") == 0
    reads = db.reads
    obj = await dm.get("dst", "D1")
    assert isinstance(obj, Compiled) and db.reads == reads
    assert await dm.precache(["rpl"]) == 1
    dm.clear()
    assert await dm.precache_all() == 2
    await dm.close()
    assert cache.len("*destinations") == 0


async def test_reload_and_clear(dm, db):
    await db.set("dst", "D1", ["1"])
    assert await dm.get("dst", "D1") == ["1"]
    await db.set("dst", "D1", ["changed behind the cache"])
    assert await dm.get("dst", "D1") == ["1"]
    await dm.reload_cache({"*destinations": ["D1", "MISSING"]})
    assert dm.cache.get("*destinations", "D1") == ["changed behind the cache"]
    assert not dm.cache.has_item("*destinations", "MISSING")
    await dm.reload_cache({"*destinations": None})
    assert dm.cache.len("*destinations") == 0
    await dm.get("dst", "D1")
    dm.clear(["*destinations"])
    assert dm.cache.len("*destinations") == 0


# ------------------------------------------------------------------------------------------------ CacheSv1


@pytest.fixture
def svc(dm) -> CacheService:
    return CacheService(dm)


async def test_cachesv1_registers_and_pings(svc):
    reg = Registry()
    names = reg.register_object(svc)
    for name in (
        "CacheSv1.Ping",
        "CacheSv1.Clear",
        "CacheSv1.ReloadCache",
        "CacheSv1.GetItemIDs",
        "CacheSv1.HasItem",
        "CacheSv1.GetCacheStats",
    ):
        assert name in names
    assert await reg.dispatch("CacheSv1.Ping", {}) == "Pong"


async def test_cachesv1_items_stats_clear(svc, dm):
    await dm.set("dst", "DST_49", ["49"])
    await dm.get("dst", "DST_49")
    await dm.get("dst", "DST_33")
    assert await svc.get_item_ids({"CacheID": "*destinations", "ItemIDPrefix": "DST_4"}) == ["DST_49"]
    with pytest.raises(RPCError) as err:
        await svc.get_item_ids({"CacheID": "*rating_plans", "ItemIDPrefix": ""})
    assert err.value == "NOT_FOUND"
    assert await svc.has_item({"CacheID": "*destinations", "ItemID": "DST_49"}) is True
    assert await svc.has_item({"CacheID": "*destinations", "ItemID": "nope"}) is False
    stats = await svc.get_cache_stats({"CacheIDs": ["*destinations"]})
    assert stats == {"*destinations": {"Items": 2, "Groups": 0}}
    assert "*rating_plans" in await svc.get_cache_stats({"CacheIDs": None})
    with pytest.raises(RPCError, match=r"unknown cache partition\(s\) \*nope"):
        await svc.get_cache_stats({"CacheIDs": ["*nope"]})
    assert await svc.clear({"CacheIDs": ["*destinations"]}) == "OK"
    assert dm.cache.len("*destinations") == 0
    await dm.get("dst", "DST_49")
    assert await svc.clear({"CacheIDs": None}) == "OK"
    assert dm.cache.len("*destinations") == 0


async def test_cachesv1_reload_cache_shapes(svc, dm, db):
    await db.set("dst", "D1", ["1"])
    await db.set("alp", "cgrates.org:A1", {"ID": "A1"})
    await db.set("fii", "alp:cgrates.org:*any:*string:*req.Account:1001", ["A1"])
    reply = await svc.reload_cache(
        {
            "DestinationIDs": ["D1"],
            "RatingPlanIDs": None,
            "AttributeFilterIndexIDs": ["cgrates.org:*any:*string:*req.Account:1001"],
            "APIOpts": {},
        }
    )
    assert reply == "OK"
    assert dm.cache.get("*destinations", "D1") == ["1"]
    assert dm.cache.get("*attribute_filter_indexes", "cgrates.org:*any:*string:*req.Account:1001") == ["A1"]
    assert await svc.reload_cache({"ArgsCache": {"*attribute_profiles": ["cgrates.org:A1"]}}) == "OK"
    assert dm.cache.get("*attribute_profiles", "cgrates.org:A1") == {"ID": "A1"}
    assert await svc.reload_cache({"ArgsCache": {"AttributeProfileIDs": ["*any"]}}) == "OK"
    assert dm.cache.len("*attribute_profiles") == 0  # whole partition reloaded (lazily: not precached)
    with pytest.raises(RPCError, match="unknown cache partition or field"):
        await svc.reload_cache({"ArgsCache": {"*nope": ["x"]}})
    with pytest.raises(RPCError, match="must be a list of IDs"):
        await svc.reload_cache({"DestinationIDs": "D1"})
