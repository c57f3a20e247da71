"""The DataDB contract, one set of tests for every backend (*internal and Redis): reads, keys by prefix, atomic
batches, conditional batches, and two engines doing read-modify-write on one account without losing an update."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from pycgrates.engine.storage import base as k
from pycgrates.engine.storage.base import StorageError, WriteConflict
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager

ACC = "cgrates.org:1001"


async def test_set_get_remove_round_trip(datadb):
    assert await datadb.get(k.ACCOUNT, ACC) is None
    value = {"ID": ACC, "BalanceMap": {"*monetary": [{"Value": Decimal("10.5"), "ID": "b1"}]}, "Disabled": False,
             "Tags": {"a", "b"} - {"b"}, "Weights": [1, 2.5, None]}
    await datadb.set(k.ACCOUNT, ACC, value)
    got = await datadb.get(k.ACCOUNT, ACC)
    assert got == {"ID": ACC, "BalanceMap": {"*monetary": [{"Value": "10.5", "ID": "b1"}]}, "Disabled": False,
                   "Tags": ["a"], "Weights": [1, 2.5, None]}
    value["Disabled"] = True  # the caller's object is not the stored one
    assert (await datadb.get(k.ACCOUNT, ACC))["Disabled"] is False
    await datadb.set(k.ACCOUNT, ACC, {"ID": ACC, "v": 2})
    assert await datadb.get(k.ACCOUNT, ACC) == {"ID": ACC, "v": 2}
    assert await datadb.remove(k.ACCOUNT, ACC) is True
    assert await datadb.remove(k.ACCOUNT, ACC) is False
    assert await datadb.get(k.ACCOUNT, ACC) is None


async def test_unserializable_value_is_refused(datadb):
    with pytest.raises(StorageError, match="object"):
        await datadb.set(k.ACCOUNT, ACC, {"x": object()})
    assert await datadb.get(k.ACCOUNT, ACC) is None


async def test_kinds_are_separate_and_keys_are_sorted_by_prefix(datadb):
    every_kind = [v for name, v in vars(k).items() if name.isupper() and isinstance(v, str) and len(v) == 3]
    assert len(every_kind) > 25
    for kind in every_kind:
        await datadb.set(kind, "cgrates.org:B", kind)
        await datadb.set(kind, "cgrates.org:A", kind)
        await datadb.set(kind, "other.org:A*[x]?", kind)  # glob characters are plain text in keys
    for kind in every_kind:
        assert await datadb.keys(kind) == ["cgrates.org:A", "cgrates.org:B", "other.org:A*[x]?"], kind
        assert await datadb.keys(kind, "cgrates.org:") == ["cgrates.org:A", "cgrates.org:B"], kind
        assert await datadb.keys(kind, "other.org:A*") == ["other.org:A*[x]?"], kind
        assert await datadb.keys(kind, "x") == [], kind
        assert await datadb.get(kind, "cgrates.org:A") == kind
    assert await datadb.get_many(k.FILTER, ["cgrates.org:A", "nope", "cgrates.org:B"]) == {
        "cgrates.org:A": k.FILTER, "cgrates.org:B": k.FILTER}


async def test_filter_index_keys_of_every_indexed_kind(datadb):
    keys = [
        "alp:cgrates.org:*sessions:*string:*req.Account:1001",
        "cpp:cgrates.org:*string:*req.Account:1001",
        "rsp:cgrates.org:*prefix:*req.Destination:49",
        "sqp:cgrates.org:*none:*any:*any",
        "thp:cgrates.org:*string:*req.Account:1002",
        "rpp:cgrates.org:*string:*req.Account:1003",
        "dpp:cgrates.org:*any:*string:*req.Account:1001",
        "ftr:cgrates.org:FLTR_1",
        "zzz:unknown:kind",
    ]
    for n, key in enumerate(keys):
        await datadb.set(k.FILTER_INDEX, key, {"ID": n})
    assert await datadb.keys(k.FILTER_INDEX) == sorted(keys)
    assert await datadb.keys(k.FILTER_INDEX, "alp:") == [keys[0]]
    assert await datadb.keys(k.FILTER_INDEX, "r") == sorted([keys[2], keys[5]])
    assert await datadb.keys(k.FILTER_INDEX, "thp:cgrates.org:*string") == [keys[4]]
    assert await datadb.keys(k.FILTER_INDEX, "ftr:cgrates") == [keys[7]]
    assert await datadb.get(k.FILTER_INDEX, keys[3]) == {"ID": 3}
    await datadb.write_batch([("remove", k.FILTER_INDEX, key, None) for key in keys[:4]])
    assert await datadb.keys(k.FILTER_INDEX) == sorted(keys[4:])


async def test_write_batch_applies_in_order_and_all_or_nothing(datadb):
    await datadb.set(k.ACCOUNT, "t:gone", {"v": 0})
    await datadb.write_batch([
        ("set", k.ACCOUNT, ACC, {"v": 1}),
        ("set", k.RALS_JOURNAL, "debit-1", {"account": ACC}),
        ("set", k.ACCOUNT, ACC, {"v": 2}),  # the later operation on a key wins
        ("remove", k.ACCOUNT, "t:gone", None),
        ("set", k.ACCOUNT, "t:back", {"v": 3}),
        ("remove", k.ACCOUNT, "t:back", None),
    ])
    assert await datadb.get(k.ACCOUNT, ACC) == {"v": 2}
    assert await datadb.get(k.RALS_JOURNAL, "debit-1") == {"account": ACC}
    assert await datadb.keys(k.ACCOUNT) == [ACC]
    for bad in (
        [("set", k.ACCOUNT, ACC, {"v": 9}), ("set", k.ACCOUNT, "t:x", {"no": object()})],  # cannot be encoded
        [("set", k.ACCOUNT, ACC, {"v": 9}), ("upsert", k.ACCOUNT, "t:x", {})],  # no such operation
        [("set", k.ACCOUNT, ACC, {"v": 9}), ("set", k.ACCOUNT)],  # malformed
    ):
        with pytest.raises(StorageError):
            await datadb.write_batch(bad)
        assert await datadb.get(k.ACCOUNT, ACC) == {"v": 2}
        assert await datadb.keys(k.ACCOUNT) == [ACC]
    await datadb.write_batch([])


async def test_conditional_batch_writes_only_over_the_versions_read(datadb):
    value, version = await datadb.get_versioned(k.ACCOUNT, ACC)
    assert value is None
    await datadb.write_batch([("set", k.ACCOUNT, ACC, {"v": 1})], expect={(k.ACCOUNT, ACC): version})
    value, version = await datadb.get_versioned(k.ACCOUNT, ACC)
    assert value == {"v": 1}
    _, other_absent = await datadb.get_versioned(k.ACCOUNT, "t:other")
    # another writer changes the account: the write over the old version is refused and writes nothing
    await datadb.set(k.ACCOUNT, ACC, {"v": 5})
    with pytest.raises(WriteConflict) as err:
        await datadb.write_batch(
            [("set", k.ACCOUNT, ACC, {"v": 2}), ("set", k.RALS_JOURNAL, "debit-2", {"ok": True})],
            expect={(k.ACCOUNT, ACC): version, (k.ACCOUNT, "t:other"): other_absent},
        )
    assert (err.value.kind, err.value.key) == (k.ACCOUNT, ACC)
    assert await datadb.get(k.ACCOUNT, ACC) == {"v": 5}
    assert await datadb.get(k.RALS_JOURNAL, "debit-2") is None
    # an expected key need not be written (a read that decided the change), and "absent" is a version too
    value, version = await datadb.get_versioned(k.ACCOUNT, ACC)
    await datadb.write_batch([("set", k.RALS_JOURNAL, "debit-3", {"ok": True})],
                             expect={(k.ACCOUNT, ACC): version, (k.ACCOUNT, "t:other"): other_absent})
    assert await datadb.get(k.RALS_JOURNAL, "debit-3") == {"ok": True}
    await datadb.set(k.ACCOUNT, "t:other", {"v": 0})
    with pytest.raises(WriteConflict) as err:
        await datadb.write_batch([("remove", k.ACCOUNT, ACC, None)], expect={(k.ACCOUNT, "t:other"): other_absent})
    assert err.value.key == "t:other"
    assert await datadb.get(k.ACCOUNT, ACC) == {"v": 5}
    # a removal is a change as well
    _, version = await datadb.get_versioned(k.ACCOUNT, "t:other")
    await datadb.remove(k.ACCOUNT, "t:other")
    with pytest.raises(WriteConflict):
        await datadb.write_batch([("set", k.ACCOUNT, "t:other", {"v": 1})],
                                 expect={(k.ACCOUNT, "t:other"): version})


async def test_flush_empties_every_kind(datadb):
    await datadb.write_batch([("set", k.ACCOUNT, ACC, {}), ("set", k.FILTER_INDEX, "alp:x", {}),
                              ("set", k.STATQUEUE, "cgrates.org:S", {})])
    await datadb.flush()
    for kind in (k.ACCOUNT, k.FILTER_INDEX, k.STATQUEUE):
        assert await datadb.keys(kind) == []


async def _debit(dm: DataManager, cents: int, stats: dict) -> None:
    """Read the balance, think, write it back over the version read; redo the change on a conflict."""
    while True:
        raw, version = await dm.get_versioned(k.ACCOUNT, ACC)
        balance = Decimal(raw["Balance"]) - Decimal(cents) / 100
        await asyncio.sleep(0)  # the rating of a real debit: the other engine runs meanwhile
        try:
            await dm.write_batch(
                [("set", k.ACCOUNT, ACC, {"Balance": balance}),
                 ("set", k.RALS_JOURNAL, f"{ACC}:{stats['engine']}:{stats['done']}", {"Debit": cents})],
                expect={(k.ACCOUNT, ACC): version},
            )
        except WriteConflict:
            stats["conflicts"] += 1
            continue
        stats["done"] += 1
        return


async def test_two_engines_debiting_one_account_lose_no_update(datadb_factory):
    """Two DataManagers (two engines, each with its own connection to the store) debit one account 60 times each,
    interleaved: every debit is in the balance and in the journal, and the engines did collide."""
    dms = [DataManager(await datadb_factory(), Cache({})) for _ in range(2)]
    await dms[0].set(k.ACCOUNT, ACC, {"Balance": Decimal("100")})
    stats = [{"engine": n, "done": 0, "conflicts": 0} for n in range(2)]

    async def engine(n: int) -> None:
        for _ in range(60):
            await _debit(dms[n], 7, stats[n])

    await asyncio.gather(engine(0), engine(1))
    assert [s["done"] for s in stats] == [60, 60]
    assert sum(s["conflicts"] for s in stats) > 0  # they did race
    assert Decimal((await dms[1].get_versioned(k.ACCOUNT, ACC))[0]["Balance"]) == Decimal("100") - Decimal("8.40")
    assert len(await dms[0].keys(k.RALS_JOURNAL)) == 120
