"""The live state store of ResourceS/StatS/ThresholdS: store_interval semantics over a real *internal DataDB."""

from __future__ import annotations

import asyncio

import pytest

from pycgrates.engine.profiles.state import EVERY_CHANGE, StateStore, store_interval
from pycgrates.engine.storage.base import THRESHOLD
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from pycgrates.engine.storage.internal import InternalDataDB
from pycgrates.engine.units import MS


@pytest.mark.parametrize("raw, ns", [("", 0), (0, 0), (None, 0), (-1, EVERY_CHANGE), ("-1", EVERY_CHANGE),
                                     ("50ms", 50 * MS)])
def test_store_interval_values(raw, ns):
    assert store_interval(raw, "thresholds.store_interval") == ns


def test_bad_store_interval_names_the_option():
    with pytest.raises(ValueError, match=r"thresholds\.store_interval"):
        store_interval("soon", "thresholds.store_interval")


async def open_dm(path) -> DataManager:
    return DataManager(InternalDataDB(path), Cache())


def store(dm, interval):
    return StateStore(dm, THRESHOLD, encode=lambda v: {"Hits": v}, decode=lambda raw: raw["Hits"],
                      interval=interval, name="thresholds")


async def bump(st: StateStore, key: str, stored: bool = True) -> None:
    async def new():
        return 0
    async with st.lock(key):
        hits = await st.get(key, new)
        await st.replace(key, hits + 1, stored)


async def test_every_change_is_written_before_the_call_returns(tmp_path):
    dm = await open_dm(tmp_path)
    st = store(dm, EVERY_CHANGE)
    await bump(st, "cgrates.org:TH1")
    await bump(st, "cgrates.org:TH1")
    await bump(st, "cgrates.org:NOT_STORED", stored=False)
    assert await dm.datadb.get(THRESHOLD, "cgrates.org:TH1") == {"Hits": 2}
    assert await dm.datadb.get(THRESHOLD, "cgrates.org:NOT_STORED") is None
    await dm.datadb.close()
    dm = await open_dm(tmp_path)  # a restart: the stored item is read back
    assert await store(dm, EVERY_CHANGE).get("cgrates.org:TH1") == 2
    await dm.datadb.close()


async def test_periodic_and_at_stop(tmp_path):
    dm = await open_dm(tmp_path)
    st = store(dm, 30 * MS)
    st.start()
    await bump(st, "t:A")
    assert await dm.datadb.get(THRESHOLD, "t:A") is None
    await asyncio.sleep(0.1)
    assert await dm.datadb.get(THRESHOLD, "t:A") == {"Hits": 1}
    at_stop = store(dm, 0)
    await bump(at_stop, "t:B")
    await asyncio.sleep(0.05)
    assert await dm.datadb.get(THRESHOLD, "t:B") is None
    await at_stop.stop()
    await st.stop()
    assert await dm.datadb.get(THRESHOLD, "t:B") == {"Hits": 1}
    await dm.datadb.close()
