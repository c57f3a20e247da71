"""What only the SQL StorDBs do: CGRateS's tables and columns, versioned migrations under a lock, indexes for
string_indexed_fields / prefix_indexed_fields used by the queries GetCDRs sends, pools sized from the config."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pycgrates.engine.storage import open_stordb, store_problems
from pycgrates.engine.storage.base import CDRFilter, StorageError
from pycgrates.engine.storage.sql.schema import MIGRATIONS, SCHEMA_TABLE, TP_TABLES
from tests.storage.conftest import SQLSpace
from tests.storage.test_stordb_contract import DESTINATIONS, _cdr

BACKENDS = ["postgres", "mysql"]


@pytest.fixture(params=BACKENDS)
async def space(request):
    async with SQLSpace(request.param) as sp:
        yield sp


async def _rows(store, sql: str, *args) -> list[dict]:
    async with store.dialect.session() as s:
        return await s.fetch(store.dialect.sql(sql), args)


async def test_rows_are_in_cgrates_tables_and_columns(space):
    st = await space.open()
    stored = await st.set_cdr(_cdr("g1", ExtraFields={"Caller": "+4917"}, Cost=0.00001, CostSource="*sessions"))
    await st.set_session_cost({"CGRID": "g1", "RunID": "*default", "OriginHost": "h", "OriginID": "o",
                               "CostSource": "*sessions", "Usage": 60_000_000_000, "CostDetails": {"Cost": 1}})
    await st.set_tp("TP1", "Destinations", DESTINATIONS)
    await st.set_tp("TP1", "RatingProfiles", [{"Tenant": "cgrates.org", "Category": "call", "Subject": "*any",
                                               "ActivationTime": "2014-01-14T00:00:00Z", "RatingPlanID": "RP_1",
                                               "FallbackSubject": ""}])
    q = st.q
    [cdr] = await _rows(st, f"SELECT id, cgrid, run_id, account, destination, {q('usage')}, cost, extra_fields, "
                            "cost_source, setup_time FROM cdrs")
    assert (cdr["id"], cdr["cgrid"], cdr["run_id"], cdr["account"], cdr["destination"], cdr["usage"]) == (
        stored["OrderID"], "g1", "*default", "1001", "1002", 60_000_000_000)
    assert str(cdr["cost"]).rstrip("0") == "0.00001" and cdr["cost_source"] == "*sessions"  # the 5th decimal kept
    assert '"Caller"' in cdr["extra_fields"]
    [smc] = await _rows(st, f"SELECT cgrid, run_id, origin_host, origin_id, cost_source, {q('usage')}, cost_details "
                            "FROM session_costs")
    assert (smc["cgrid"], smc["origin_id"], smc["usage"]) == ("g1", "o", 60_000_000_000)
    assert [(r["tag"], r["prefix"]) for r in await _rows(st, "SELECT tag, prefix FROM tp_destinations WHERE tpid = ? "
                                                             "ORDER BY id", "TP1")] == [
        ("DST_49", "49"), ("DST_49", "4917"), ("DST_33", "33")]
    [rpf] = await _rows(st, "SELECT loadid, tenant, subject, rating_plan_tag FROM tp_rating_profiles")
    assert rpf == {"loadid": "CSVLOAD", "tenant": "cgrates.org", "subject": "*any", "rating_plan_tag": "RP_1"}


async def test_migrations_are_recorded_and_applied_once_even_by_engines_starting_together(space):
    stores = await asyncio.gather(*(space.open() for _ in range(3)))
    rows = await _rows(stores[0], f"SELECT version, description FROM {SCHEMA_TABLE} ORDER BY version")
    assert [(r["version"], r["description"]) for r in rows] == [(m.version, m.description) for m in MIGRATIONS]
    assert await stores[1].migrate() == []
    for table in ("cdrs", "session_costs", *(t.table for t in TP_TABLES.values())):
        await _rows(stores[2], f"SELECT COUNT(*) AS n FROM {stores[2].q(table)}")


async def test_indexed_fields_get_indexes_that_the_cdr_queries_use(space, caplog):
    with caplog.at_level(logging.WARNING, logger="cgr.storage"):
        st = await space.open(string_indexed_fields=["Account", "*req.RunID", "Caller"],
                              prefix_indexed_fields=["Destination"])
    assert "'Caller' is not a text column of the cdrs table" in caplog.text
    for n in range(200):
        await st.set_cdr(_cdr(f"g{n}", Account=f"1{n % 50:03d}", Destination=f"49{n}"))
    if space.backend == "postgres":
        names = {r["indexname"] for r in await _rows(
            st, "SELECT indexname FROM pg_indexes WHERE schemaname = ? AND tablename = 'cdrs'", space.name)}
        wanted = {"cdrs_account_idx", "cdrs_run_id_idx", "cdrs_destination_prefix_idx"}
    else:
        names = {r["INDEX_NAME"] if "INDEX_NAME" in r else r["index_name"] for r in await _rows(
            st, "SELECT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() "
                "AND table_name = 'cdrs'")}
        wanted = {"cdrs_account_idx", "cdrs_run_id_idx", "cdrs_destination_idx"}
    assert wanted <= names
    await _rows(st, "ANALYZE cdrs" if space.backend == "postgres" else "ANALYZE TABLE cdrs")
    # the very query GetCDRs sends, planned by the server: the index serves the filter
    prefix_index = "cdrs_destination_prefix_idx" if space.backend == "postgres" else "cdrs_destination_idx"
    for flt, index in ((CDRFilter(accounts=["1007"], limit=5), "cdrs_account_idx"),
                       (CDRFilter(destination_prefixes=["4912"]), prefix_index)):
        where, args = st._where(flt)
        page, page_args = st._order_page(flt)
        async with st.dialect.session() as s:
            if space.backend == "postgres":
                await s.execute("SET enable_seqscan = off")  # a small table: make the planner show what it can use
            plan = await s.fetch(st.dialect.sql("EXPLAIN " + st._cdr_select + where + page), [*args, *page_args])
        assert index in str(plan), plan
    assert len(await st.get_cdrs(CDRFilter(destination_prefixes=["4912"]))) == 11  # 4912, 49120..49129
    assert len(await st.get_cdrs(CDRFilter(accounts=["1007"]))) == 4
    again = await space.open(string_indexed_fields=["Account"])  # indexes already there: found, not recreated
    assert await again.ensure_cdr_indexes() == ["cdrs_account_idx"]


async def test_the_pool_is_sized_from_the_config(space):
    st = await space.open(opts={**space.section()["opts"], "sqlMaxOpenConns": 2, "sqlMaxIdleConns": 1})
    pool = st.dialect.pool
    assert (pool.get_max_size() if space.backend == "postgres" else pool.maxsize) == 2
    await asyncio.gather(*(st.set_cdr(_cdr(f"p{n}")) for n in range(20)))  # more callers than connections wait
    assert await st.count_cdrs(CDRFilter()) == 20
    assert (pool.get_size() if space.backend == "postgres" else pool.size) <= 2


@pytest.mark.parametrize("backend", BACKENDS)
async def test_open_failures_name_the_fix(backend):
    async with SQLSpace(backend) as sp:
        with pytest.raises(StorageError, match=r"cannot open .* fix stor_db.db_name, db_user and db_password"):
            await open_stordb(sp.section(db_user="nobody_" + sp.name[-12:]))
        with pytest.raises(StorageError, match=r"cannot reach .*:1 .* start the server or fix stor_db.db_host"):
            await open_stordb(sp.section(db_port=1))


def test_settings_are_checked_without_connecting():
    assert store_problems({"db_type": "*postgres", "db_port": "x"}, "stor_db") == [
        "stor_db.db_port 'x' must be a port number (-1 for the server's usual one)"]
    assert store_problems({"db_type": "*mysql", "opts": {"sqlMaxOpenConns": 0}}, "stor_db") == [
        "stor_db.opts.sqlMaxOpenConns 0 must be at least 1 (default 100)"]
    assert store_problems({"db_type": "postgres", "opts": {"pgSSLMode": "maybe"}}, "stor_db") == [
        "stor_db.opts.pgSSLMode 'maybe' is not valid (use disable, allow, prefer, require, verify-ca or verify-full)"]
    assert store_problems({"db_type": "*mysql", "db_port": -1}, "stor_db") == []
