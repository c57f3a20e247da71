"""The *internal DataDB/StorDB: log codec, replay, recovery, compaction, fsync policies, locking, CDR queries."""

from __future__ import annotations

import asyncio
import logging
import os
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.storage import (
    CDRFilter,
    InternalDataDB,
    InternalStorDB,
    StorageError,
    open_datadb,
    open_stordb,
    store_problems,
)
from pycgrates.engine.storage import log as logmod
from pycgrates.engine.storage.log import HEADER_SIZE, MAGIC, frame, iter_records, scan

# ------------------------------------------------------------------------------------------------ codec


def test_frame_and_scan_round_trip():
    payloads = [b'["set","dst","D1",["+49"]]', b'[["set","a","1",1],["remove","a","2",null]]']
    data = MAGIC + b"".join(frame(p) for p in payloads)
    result = scan(data, len(MAGIC))
    assert [bytes(p) for p in result.payloads] == payloads
    assert result.clean and result.resync_at is None


def test_scan_torn_tail_and_middle_damage():
    recs = [frame(b'["set","k","%d",%d]' % (i, i)) for i in range(3)]
    good = MAGIC + b"".join(recs)
    torn = scan(good[:-3], len(MAGIC))
    assert len(torn.payloads) == 2 and torn.good_end == len(MAGIC) + len(recs[0]) + len(recs[1])
    assert torn.resync_at is None
    damaged = bytearray(good)
    damaged[len(MAGIC) + HEADER_SIZE + 2] ^= 0xFF  # inside the first payload
    middle = scan(bytes(damaged), len(MAGIC))
    assert middle.payloads == [] and middle.good_end == len(MAGIC)
    assert middle.resync_at == len(MAGIC) + len(recs[0])


# ------------------------------------------------------------------------------------------------ DataDB


async def test_round_trip_and_reopen(tmp_path: Path):
    db = InternalDataDB(tmp_path)
    await db.set("acc", "cgrates.org:1001", {"Balance": Decimal("10.50"), "Tags": {"a"}})
    await db.set("dst", "DST_49", ["+49"])
    await db.set("dst", "DST_33", ["+33"])
    assert await db.remove("dst", "DST_33") is True
    assert await db.remove("dst", "nope") is False
    assert await db.get("acc", "cgrates.org:1001") == {"Balance": "10.50", "Tags": ["a"]}
    assert await db.keys("dst") == ["DST_49"]
    await db.close()
    db2 = InternalDataDB(tmp_path)
    assert await db2.get("acc", "cgrates.org:1001") == {"Balance": "10.50", "Tags": ["a"]}
    assert await db2.keys("dst") == ["DST_49"]
    assert await db2.get("dst", "DST_33") is None
    await db2.close()


async def test_stored_value_is_isolated_from_caller(tmp_path: Path):
    db = InternalDataDB(None)
    value = {"x": [1]}
    await db.set("k", "1", value)
    value["x"].append(2)
    assert await db.get("k", "1") == {"x": [1]}
    assert not list(tmp_path.iterdir())


async def test_unserializable_value_is_refused(tmp_path: Path):
    db = InternalDataDB(tmp_path)
    with pytest.raises(StorageError, match="object"):
        await db.set("k", "1", object())
    assert await db.get("k", "1") is None
    await db.close()


async def test_batch_is_one_record_and_atomic_on_replay(tmp_path: Path, caplog):
    db = InternalDataDB(tmp_path, fsync="*never")
    await db.set("acc", "before", 1)
    await db.write_batch([("set", "acc", "a", 1), ("set", "acc", "b", 2), ("remove", "acc", "before", None)])
    assert await db.keys("acc") == ["a", "b"]
    db.log.close_now()  # as a crash would leave it: no compaction at close
    raw = bytearray((tmp_path / "datadb.log").read_bytes())
    assert len(list(iter_records(bytes(raw)))) == 2
    raw[-5] ^= 0x55  # corrupt the batch record
    (tmp_path / "datadb.log").write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="cgr.storage"):
        db2 = InternalDataDB(tmp_path)
    assert await db2.keys("acc") == ["before"]  # none of the batch, all of what preceded it
    assert "datadb.log" in caplog.text and "dropping" in caplog.text
    await db2.close()


async def test_batch_rejects_bad_operation(tmp_path: Path):
    db = InternalDataDB(tmp_path)
    with pytest.raises(StorageError, match="batch operation"):
        await db.write_batch([("set", "a", "1", 1), ("upsert", "a", "2", 2)])
    assert await db.get("a", "1") is None
    await db.close()


async def test_tail_truncation_recovery_warns_and_truncates(tmp_path: Path, caplog):
    db = InternalDataDB(tmp_path, fsync="*never")
    for i in range(10):
        await db.set("acc", f"k{i}", {"i": i})
    db.log.close_now()
    path = tmp_path / "datadb.log"
    full = path.stat().st_size
    os.truncate(path, full - 7)  # a torn last record
    with caplog.at_level(logging.WARNING, logger="cgr.storage"):
        db2 = InternalDataDB(tmp_path)
    assert await db2.keys("acc") == [f"k{i}" for i in range(9)]
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning, caplog.text
    msg = warning[0].getMessage()
    assert str(path) in msg and "offset" in msg
    last_len = len(frame(orjson.dumps(["set", "acc", "k9", {"i": 9}])))
    assert f"{last_len - 7} bytes" in msg
    assert path.stat().st_size == full - last_len  # truncated at the good end
    await db2.set("acc", "k9", {"i": 9})  # appends after the recovered prefix
    db2.log.close_now()
    db3 = InternalDataDB(tmp_path)
    assert len(await db3.keys("acc")) == 10
    await db3.close()


async def test_middle_corruption_refuses_then_repairs(tmp_path: Path, caplog):
    db = InternalDataDB(tmp_path, fsync="*never")
    for i in range(5):
        await db.set("acc", f"k{i}", i)
    db.log.close_now()
    path = tmp_path / "datadb.log"
    raw = bytearray(path.read_bytes())
    second = len(MAGIC) + len(frame(orjson.dumps(["set", "acc", "k0", 0])))
    raw[second + HEADER_SIZE + 3] ^= 0x20  # damage record #2 of 5
    path.write_bytes(bytes(raw))
    with pytest.raises(StorageError, match="followed by valid records") as err:
        InternalDataDB(tmp_path)
    assert "internalDBRepair" in str(err.value)
    assert path.read_bytes() == bytes(raw)  # nothing touched
    with caplog.at_level(logging.ERROR, logger="cgr.storage"):
        db2 = InternalDataDB(tmp_path, repair=True)
    assert await db2.keys("acc") == ["k0"]
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    saved = list(tmp_path.glob("datadb.log.corrupt-*"))
    assert len(saved) == 1 and saved[0].read_bytes() == bytes(raw)
    await db2.close()


async def test_foreign_file_is_refused(tmp_path: Path):
    (tmp_path / "datadb.log").write_bytes(b"this is not ours at all")
    with pytest.raises(StorageError, match="not a pycgrates log"):
        InternalDataDB(tmp_path)


async def test_compaction_keeps_state_and_shrinks(tmp_path: Path):
    db = InternalDataDB(tmp_path, fsync="*never")
    for i in range(2000):
        await db.set("acc", f"k{i % 20}", {"n": i, "pad": "x" * 50})
    await db.remove("acc", "k0")
    before = db.log.size
    await db.compact()
    after = db.log.size
    assert after < before / 20
    assert (tmp_path / "datadb.log").stat().st_size == after
    await db.set("acc", "new", 1)
    db.log.close_now()
    db2 = InternalDataDB(tmp_path)
    keys = await db2.keys("acc")
    assert "k0" not in keys and "new" in keys and len(keys) == 20
    assert await db2.get("acc", "k19") == {"n": 1999, "pad": "x" * 50}
    await db2.close()


async def test_background_compaction_while_writing(tmp_path: Path):
    db = InternalDataDB(tmp_path, fsync="*never", compact_ratio=2.0, compact_min_bytes=20_000)
    compactions = 0
    real_rewrite = db.log.rewrite

    async def counting_rewrite(snapshot):
        nonlocal compactions
        compactions += 1
        await real_rewrite(snapshot)

    db.log.rewrite = counting_rewrite
    for i in range(3000):
        await db.set("acc", f"k{i % 50}", {"n": i})
        if i % 100 == 0:
            await asyncio.sleep(0)  # let the compaction task run while writes continue
    await asyncio.sleep(0.05)
    assert compactions >= 1
    expected = {f"k{i % 50}": {"n": i} for i in range(3000)}
    db.log.close_now()
    db2 = InternalDataDB(tmp_path)
    assert {k: await db2.get("acc", k) for k in await db2.keys("acc")} == expected
    await db2.close()


async def test_close_compacts(tmp_path: Path):
    db = InternalDataDB(tmp_path)
    for i in range(200):
        await db.set("acc", "same", i)
    grown = db.log.size
    await db.close()
    assert (tmp_path / "datadb.log").stat().st_size < grown / 50
    db2 = InternalDataDB(tmp_path)
    assert await db2.get("acc", "same") == 199
    await db2.close()


async def test_flush_empties_durably(tmp_path: Path):
    db = InternalDataDB(tmp_path)
    await db.set("a", "1", 1)
    await db.flush()
    assert await db.keys("a") == []
    db.log.close_now()
    db2 = InternalDataDB(tmp_path)
    assert await db2.keys("a") == []
    await db2.close()


@pytest.fixture
def fsync_counter(monkeypatch):
    calls = []
    real = os.fsync

    def counting(fd):
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(logmod.os, "fsync", counting)
    return calls


async def test_fsync_always_syncs_before_ack(tmp_path: Path, fsync_counter):
    db = InternalDataDB(tmp_path, fsync="*always")
    fsync_counter.clear()
    await db.set("a", "1", 1)
    assert len(fsync_counter) == 1 and not db.log.dirty
    # concurrent writers share fsyncs (group commit)
    fsync_counter.clear()
    await asyncio.gather(*(db.set("a", str(i), i) for i in range(50)))
    assert not db.log.dirty and 1 <= len(fsync_counter) < 50
    await db.close()


async def test_fsync_interval_syncs_in_background_only_when_dirty(tmp_path: Path, fsync_counter):
    db = InternalDataDB(tmp_path, fsync="*interval", fsync_interval_ns=20_000_000)
    fsync_counter.clear()
    await db.set("a", "1", 1)
    assert db.log.dirty and fsync_counter == []
    for _ in range(50):
        await asyncio.sleep(0.01)
        if not db.log.dirty:
            break
    assert not db.log.dirty and len(fsync_counter) == 1
    await asyncio.sleep(0.1)
    assert len(fsync_counter) == 1  # nothing new written: no more fsyncs
    await db.close()


async def test_fsync_never_leaves_it_to_the_os(tmp_path: Path, fsync_counter):
    db = InternalDataDB(tmp_path, fsync="*never")
    fsync_counter.clear()
    for i in range(20):
        await db.set("a", str(i), i)
    await asyncio.sleep(0.05)
    assert fsync_counter == [] and db.log.dirty
    await db.close()  # a clean close still syncs
    assert fsync_counter


def _store_tasks() -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("internal DB "))


async def test_background_work_runs_under_the_stores_supervisors_and_stops_at_close(tmp_path: Path):
    db = InternalDataDB(tmp_path, fsync="*interval", compact_ratio=2.0, compact_min_bytes=1)
    await db.set("a", "1", 1)
    await db.set("a", "1", 2)  # the log outgrew twice its size: a compaction starts in the background
    assert _store_tasks() == ["internal DB datadb log:fsync every interval", "internal DB datadb:compaction"]
    await db.close()
    assert _store_tasks() == []
    db2 = InternalDataDB(tmp_path)
    assert await db2.get("a", "1") == 2
    await db2.close()


def test_bad_fsync_policy(tmp_path: Path):
    with pytest.raises(StorageError, match=r"\*always, \*interval, \*never"):
        InternalDataDB(tmp_path, fsync="*sometimes")


async def test_lock_prevents_second_open(tmp_path: Path):
    db = InternalDataDB(tmp_path)
    with pytest.raises(StorageError, match="already open in another engine"):
        InternalDataDB(tmp_path)
    stor = InternalStorDB(tmp_path)  # a different log in the same directory is fine
    await stor.close()
    await db.close()
    db2 = InternalDataDB(tmp_path)
    await db2.close()


# ------------------------------------------------------------------------------------------------ factory


async def test_factory_internal_options(tmp_path: Path, caplog):
    section = {
        "db_type": "*internal",
        "db_password": "s3cr3t-pw",
        "opts": {
            "internalDBDumpPath": str(tmp_path / "dd"),
            "internalDBFsync": "*always",
            "internalDBFsyncInterval": "250ms",
        },
    }
    with caplog.at_level(logging.DEBUG):
        db = await open_datadb(section)
    assert isinstance(db, InternalDataDB) and db.log.policy == "*always"
    assert (tmp_path / "dd" / "datadb.log").exists()
    await db.close()
    assert "s3cr3t-pw" not in caplog.text
    mem = await open_datadb({"db_type": "*internal", "opts": {"internalDBDumpPath": ""}})
    assert mem.log is None
    off = await open_datadb({"opts": {"internalDBDumpPath": str(tmp_path / "x"), "internalDBPersist": False}})
    assert off.log is None and not (tmp_path / "x").exists()
    over = await open_stordb({"db_type": "internal", "opts": {}}, data_dir_override=tmp_path / "o")
    assert (tmp_path / "o" / "stordb.log").exists()
    await over.close()


async def test_factory_errors():
    with pytest.raises(StorageError, match=r"db_type \*mongo is not available yet in this build \(use \*internal or "
                       r"\*redis"):
        await open_datadb({"db_type": "*mongo", "db_password": "pw"})
    with pytest.raises(StorageError, match=r"db_type \*mongo is not available yet in this build \(use \*internal or "
                       r"\*postgres or \*mysql"):
        await open_stordb({"db_type": "*mongo"})
    with pytest.raises(StorageError, match=r"data_db.db_type 'cassandra'.*\*internal, \*redis, \*mongo"):
        await open_datadb({"db_type": "cassandra"})
    with pytest.raises(StorageError, match="internalDBFsync"):
        await open_datadb({"db_type": "*internal", "opts": {"internalDBFsync": "*maybe"}})
    with pytest.raises(StorageError, match="internalDBFsyncInterval"):
        await open_datadb({"db_type": "*internal", "opts": {"internalDBFsyncInterval": "soon"}})


async def test_a_store_directory_this_user_may_not_create_names_the_fix():
    """/sys takes no new directory from anyone (root included): the open fails with the way out."""
    with pytest.raises(StorageError) as err:
        await open_datadb({"opts": {"internalDBDumpPath": "/sys/pycgrates-test/datadb"}})
    assert str(err.value).startswith("data_db: cannot create the store directory /sys/pycgrates-test/datadb: ")
    assert str(err.value).endswith("; set data_db.opts.internalDBDumpPath to a directory this user may write, or "
                                   "run cgr-engine as a user who may write it")


def test_store_problems_are_found_without_opening_anything(tmp_path: Path):
    (tmp_path / "file").write_text("x")
    assert store_problems({"opts": {"internalDBDumpPath": str(tmp_path / "file" / "db")}}, "data_db") == [
        f"data_db: cannot write the store directory {tmp_path}/file/db ({tmp_path}/file is not a directory); set "
        "data_db.opts.internalDBDumpPath to a directory this user may write, or run cgr-engine as a user who may "
        "write it"]
    assert store_problems({"opts": {"internalDBDumpPath": str(tmp_path / "new" / "db")}}, "stor_db") == []
    assert not (tmp_path / "new").exists()
    assert store_problems({"opts": {"internalDBDumpPath": ""}}, "data_db") == []
    assert store_problems({"db_type": "*mongo"}, "stor_db") == [
        'stor_db.db_type *mongo is not available yet in this build (use *internal or *postgres or *mysql: set '
        'stor_db.db_type to "*internal" for the embedded durable store)']
    assert store_problems({"opts": {"internalDBFsync": "*sometimes"}}, "data_db") == [
        "data_db.opts.internalDBFsync '*sometimes' is not valid (use *always, *interval, *never)"]


# ------------------------------------------------------------------------------------------------ StorDB


def _cdr(cgrid: str, run_id: str = "*default", **fields) -> dict:
    base = {
        "CGRID": cgrid,
        "RunID": run_id,
        "OriginID": f"o-{cgrid}",
        "OriginHost": "10.0.0.1",
        "Source": "test",
        "ToR": "*voice",
        "RequestType": "*prepaid",
        "Tenant": "cgrates.org",
        "Category": "call",
        "Account": "1001",
        "Subject": "1001",
        "Destination": "1002",
        "SetupTime": "2024-01-01T10:00:00Z",
        "AnswerTime": "2024-01-01T10:00:05Z",
        "Usage": 60_000_000_000,
        "Cost": 1.5,
    }
    base.update(fields)
    return base


async def test_cdr_uniqueness_and_order_ids(tmp_path: Path):
    st = InternalStorDB(tmp_path)
    first = await st.set_cdr(_cdr("c1"))
    second = await st.set_cdr(_cdr("c1", "run2"))
    assert second["OrderID"] > first["OrderID"] > 0
    with pytest.raises(RPCError) as err:
        await st.set_cdr(_cdr("c1"))
    assert err.value == "EXISTS"
    updated = await st.set_cdr(_cdr("c1", Cost=2.0, OrderID=first["OrderID"]), allow_update=True)
    assert updated["OrderID"] == first["OrderID"]
    assert await st.count_cdrs(CDRFilter()) == 2
    removed = await st.get_cdrs(CDRFilter(run_ids=["run2"]), remove=True)
    assert [c["RunID"] for c in removed] == ["run2"]
    await st.close()
    st2 = InternalStorDB(tmp_path)
    cdrs = await st2.get_cdrs(CDRFilter())
    assert [(c["RunID"], c["Cost"]) for c in cdrs] == [("*default", 2.0)]
    third = await st2.set_cdr(_cdr("c3"))
    assert third["OrderID"] > second["OrderID"]  # the counter survived the removal and the restart
    await st2.close()


@pytest.fixture
async def stor():
    st = InternalStorDB(None)
    rows = [
        _cdr(
            "a",
            Destination="491701",
            Usage=10_000_000_000,
            Cost=0.1,
            SetupTime="2024-01-01T10:00:00Z",
            AnswerTime="2024-01-01T10:00:01Z",
        ),
        _cdr("a", "rater2", Destination="491701", Usage=10_000_000_000, Cost=0.2),
        _cdr(
            "b",
            Destination="331234",
            Usage=120_000_000_000,
            Cost=3,
            Account="1002",
            Subject="1002",
            Tenant="other.org",
            ToR="*data",
            RequestType="*postpaid",
            Category="data",
            Source="cdrc",
            OriginHost="10.0.0.2",
            SetupTime="2024-01-02T10:00:00+02:00",
            AnswerTime="2024-01-02T10:00:00+02:00",
        ),
        _cdr("c", Destination="4930", Usage=0, Cost=-1, AnswerTime="", SetupTime="2024-01-03T00:00:00Z"),
        _cdr(
            "d",
            Destination="1002",
            Usage=30_000_000_000,
            Cost="0.75",
            SetupTime="2023-12-31T23:59:59Z",
            AnswerTime="2024-01-01T00:00:00Z",
        ),
    ]
    for row in rows:
        await st.set_cdr(row)
    return st


async def _ids(st: InternalStorDB, **kw) -> list[str]:
    return [f"{c['CGRID']}/{c['RunID']}" for c in await st.get_cdrs(CDRFilter(**kw))]


async def test_cdr_filters_each_field(stor):
    A, A2, B, C, D = "a/*default", "a/rater2", "b/*default", "c/*default", "d/*default"
    assert await _ids(stor) == [A, A2, B, C, D]
    assert await _ids(stor, cgrids=["a", "d"]) == [A, A2, D]
    assert await _ids(stor, run_ids=["rater2"]) == [A2]
    assert await _ids(stor, not_run_ids=["rater2"]) == [A, B, C, D]
    assert await _ids(stor, origin_ids=["o-b"]) == [B]
    assert await _ids(stor, origin_hosts=["10.0.0.2"]) == [B]
    assert await _ids(stor, sources=["cdrc"]) == [B]
    assert await _ids(stor, tors=["*data"]) == [B]
    assert await _ids(stor, request_types=["*postpaid"]) == [B]
    assert await _ids(stor, tenants=["other.org"]) == [B]
    assert await _ids(stor, categories=["data"]) == [B]
    assert await _ids(stor, accounts=["1002"]) == [B]
    assert await _ids(stor, subjects=["1002"]) == [B]
    assert await _ids(stor, destination_prefixes=["49"]) == [A, A2, C]
    assert await _ids(stor, destination_prefixes=["4917", "33"]) == [A, A2, B]
    # times compare as instants: b's 10:00+02:00 is 08:00Z
    assert await _ids(stor, setup_time_start="2024-01-02T08:00:00Z") == [B, C]
    assert await _ids(stor, setup_time_start="2024-01-02T08:00:01Z") == [C]
    assert await _ids(stor, setup_time_end="2024-01-01T00:00:00Z") == [D]
    assert await _ids(stor, answer_time_start="2024-01-01T00:00:00Z", answer_time_end="2024-01-01T10:00:02Z") == [A, D]
    assert await _ids(stor, answer_time_start="2023-01-01T00:00:00Z") == [A, A2, B, D]  # c has no answer time
    assert await _ids(stor, min_usage=30_000_000_000) == [B, D]
    assert await _ids(stor, max_usage=30_000_000_000) == [A, A2, C]
    assert await _ids(stor, min_usage="10s", max_usage="1m") == [A, A2, D]
    assert await _ids(stor, min_cost=0.2) == [A2, B, D]
    assert await _ids(stor, min_cost=0.1, max_cost=1) == [A, A2, D]
    assert await _ids(stor, max_cost=0.2) == [A, C]
    assert await _ids(stor, min_cost=0, max_cost=-1) == [A, A2, B, D]  # skip errored (unrated) CDRs
    assert await _ids(stor, max_cost=-1) == [C]  # only unrated
    all_cdrs = await stor.get_cdrs(CDRFilter())
    mid = all_cdrs[2]["OrderID"]
    assert await _ids(stor, order_id_start=mid) == [B, C, D]
    assert await _ids(stor, order_id_end=mid) == [A, A2]
    assert await _ids(stor, cgrids=["a"], run_ids=["rater2"], destination_prefixes=["49"]) == [A2]
    assert await _ids(stor, cgrids=["zzz"]) == []


async def test_cdr_ordering_paging_count_remove(stor):
    A, A2, B, C, D = "a/*default", "a/rater2", "b/*default", "c/*default", "d/*default"
    assert await _ids(stor, order_by="Cost") == [C, A, A2, D, B]
    assert await _ids(stor, order_by="Cost;desc") == [B, D, A2, A, C]
    assert await _ids(stor, order_by="Usage;desc") == [B, D, A, A2, C]
    assert await _ids(stor, order_by="AnswerTime") == [C, D, A, A2, B]
    assert await _ids(stor, order_by="OrderID;desc") == [D, C, B, A2, A]
    assert await _ids(stor, order_by="SetupTime") == [D, A, A2, B, C]
    assert await _ids(stor, order_by="Cost", offset=1, limit=2) == [A, A2]
    assert await _ids(stor, offset=4) == [D]
    assert await _ids(stor, limit=0) == []
    with pytest.raises(RPCError, match="invalid OrderBy"):
        await stor.get_cdrs(CDRFilter(order_by="Destination"))
    assert await stor.count_cdrs(CDRFilter(destination_prefixes=["49"])) == 3
    assert await stor.count_cdrs(CDRFilter(offset=1, limit=2)) == 2
    removed = await stor.get_cdrs(CDRFilter(cgrids=["a"]), remove=True)
    assert len(removed) == 2
    assert await _ids(stor) == [B, C, D]
    assert await _ids(stor, cgrids=["a"]) == []


async def test_session_costs(tmp_path: Path):
    st = InternalStorDB(tmp_path)
    smc = {
        "CGRID": "g1",
        "RunID": "*default",
        "OriginHost": "h1",
        "OriginID": "call-1",
        "CostSource": "SMG",
        "Usage": 60_000_000_000,
        "CostDetails": {"Cost": Decimal("0.6")},
    }
    await st.set_session_cost(smc)
    await st.set_session_cost({**smc, "RunID": "r2"})
    await st.set_session_cost({**smc, "CGRID": "g2", "OriginHost": "h2", "OriginID": "other"})
    assert [s["RunID"] for s in await st.get_session_costs("g1")] == ["*default", "r2"]
    assert [s["RunID"] for s in await st.get_session_costs("g1", run_id="r2")] == ["r2"]
    assert [s["CGRID"] for s in await st.get_session_costs("", origin_host="h2")] == ["g2"]
    assert [s["CGRID"] for s in await st.get_session_costs("", origin_id="call")] == ["g1", "g1"]
    assert (await st.get_session_costs("g1"))[0]["CostDetails"] == {"Cost": "0.6"}
    await st.remove_session_costs("g1", "r2")
    await st.close()
    st2 = InternalStorDB(tmp_path)
    assert [s["RunID"] for s in await st2.get_session_costs("g1")] == ["*default"]
    await st2.remove_session_costs("g1")
    assert await st2.get_session_costs("g1") == []
    await st2.close()


async def test_tariff_plan_rows(tmp_path: Path):
    st = InternalStorDB(tmp_path)
    await st.set_tp("TP1", "Destinations", [{"ID": "DST_49", "Prefix": "49"}])
    await st.set_tp("TP1", "Rates", [{"ID": "RT_1", "Rate": "0.1"}])
    await st.set_tp("TP2", "Rates", [{"ID": "RT_2"}])
    assert await st.get_tp("TP1", "Destinations") == [{"ID": "DST_49", "Prefix": "49"}]
    assert await st.tp_ids() == ["TP1", "TP2"]
    await st.remove_tp("TP1", "Rates")
    assert await st.get_tp("TP1", "Rates") == []
    await st.remove_tp("TP1")
    assert await st.get_tp("TP1", "Destinations") == []
    await st.close()
    st2 = InternalStorDB(tmp_path)
    assert await st2.tp_ids() == ["TP2"]
    await st2.flush()
    assert await st2.tp_ids() == []
    await st2.close()
