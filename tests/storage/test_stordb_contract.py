"""The StorDB contract, one set of tests for every backend (*internal, PostgreSQL, MariaDB): CDRs unique on
CGRID+RunID with growing OrderIDs, every GetCDRs filter, ordering, paging, counting and removal, session costs,
tariff-plan rows."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.storage.base import CDRFilter
from pycgrates.engine.units import parse_time


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
        "ExtraFields": {},
        "CostSource": "",
        "Cost": 1.5,
        "CostDetails": None,
        "ExtraInfo": "",
        "Partial": False,
        "PreRated": False,
    }
    base.update(fields)
    return base


def _same_cdr(got: dict, sent: dict) -> None:
    """What every StorDB keeps of a CDR comes back: times as the same instants, money as the same amount."""
    for field, value in sent.items():
        if field in ("SetupTime", "AnswerTime"):
            assert parse_time(got[field] or None) in (parse_time(value or None), None if value else parse_time(
                "0001-01-01T00:00:00Z")), field
        elif field == "Cost":
            assert Decimal(str(got[field])) == Decimal(str(value)), field
        elif field != "OrderID":
            assert got[field] == value, field


async def test_cdr_round_trip_uniqueness_and_order_ids(stordb):
    sent = _cdr("c1", ExtraFields={"Caller": "+4917", "Vars": {"a": 1}}, CostSource="*cdrs", ExtraInfo="note",
                CostDetails={"CGRID": "c1", "Cost": Decimal("0.0123456"), "Charges": [{"RatingID": "r1"}]},
                Cost=0.0123456, SetupTime="2024-01-01T12:00:00.123456+02:00", AnswerTime="")
    first = await stordb.set_cdr(sent)
    second = await stordb.set_cdr(_cdr("c1", "run2"))
    assert second["OrderID"] > first["OrderID"] > 0
    with pytest.raises(RPCError) as err:
        await stordb.set_cdr(_cdr("c1"))
    assert err.value == "EXISTS"
    [got] = await stordb.get_cdrs(CDRFilter(cgrids=["c1"], run_ids=["*default"]))
    assert got["OrderID"] == first["OrderID"]
    _same_cdr(got, {**sent, "CostDetails": {"CGRID": "c1", "Cost": "0.0123456", "Charges": [{"RatingID": "r1"}]}})
    updated = await stordb.set_cdr(_cdr("c1", Cost=2.0, OrderID=first["OrderID"]), allow_update=True)
    assert updated["OrderID"] == first["OrderID"]
    assert await stordb.count_cdrs(CDRFilter()) == 2
    removed = await stordb.get_cdrs(CDRFilter(run_ids=["run2"]), remove=True)
    assert [c["RunID"] for c in removed] == ["run2"]
    cdrs = await stordb.get_cdrs(CDRFilter())
    assert [(c["RunID"], c["Cost"]) for c in cdrs] == [("*default", 2.0)]
    third = await stordb.set_cdr(_cdr("c3"))
    assert third["OrderID"] > second["OrderID"]  # order ids never go back, not even after a removal
    await stordb.flush()
    assert await stordb.count_cdrs(CDRFilter()) == 0
    fourth = await stordb.set_cdr(_cdr("c4"))
    assert fourth["OrderID"] > third["OrderID"]


async def test_concurrent_writers_of_one_cdr_store_it_once(stordb):
    results = await asyncio.gather(*(stordb.set_cdr(_cdr("same")) for _ in range(8)), return_exceptions=True)
    assert sum(isinstance(r, dict) for r in results) == 1
    assert all(r == "EXISTS" for r in results if not isinstance(r, dict))
    assert await stordb.count_cdrs(CDRFilter(cgrids=["same"])) == 1


@pytest.fixture
async def stor(stordb):
    rows = [
        _cdr("a", Destination="491701", Usage=10_000_000_000, Cost=0.1, SetupTime="2024-01-01T10:00:00Z",
             AnswerTime="2024-01-01T10:00:01Z"),
        _cdr("a", "rater2", Destination="491701", Usage=10_000_000_000, Cost=0.2),
        _cdr("b", Destination="331234", Usage=120_000_000_000, Cost=3, Account="1002", Subject="1002",
             Tenant="other.org", ToR="*data", RequestType="*postpaid", Category="data", Source="cdrc",
             OriginHost="10.0.0.2", SetupTime="2024-01-02T10:00:00+02:00", AnswerTime="2024-01-02T10:00:00+02:00"),
        _cdr("c", Destination="4930", Usage=0, Cost=-1, AnswerTime="", SetupTime="2024-01-03T00:00:00Z"),
        _cdr("d", Destination="1002", Usage=30_000_000_000, Cost="0.75", SetupTime="2023-12-31T23:59:59Z",
             AnswerTime="2024-01-01T00:00:00Z"),
        _cdr("e", Destination="49_1%", Usage=1, Cost=0.5, SetupTime="2024-01-04T00:00:00Z"),
    ]
    for row in rows:
        await stordb.set_cdr(row)
    return stordb


async def _ids(st, **kw) -> list[str]:
    return [f"{c['CGRID']}/{c['RunID']}" for c in await st.get_cdrs(CDRFilter(**kw))]


A, A2, B, C, D, E = "a/*default", "a/rater2", "b/*default", "c/*default", "d/*default", "e/*default"


async def test_cdr_filters_each_field(stor):
    assert await _ids(stor) == [A, A2, B, C, D, E]
    assert await _ids(stor, cgrids=["a", "d"]) == [A, A2, D]
    assert await _ids(stor, run_ids=["rater2"]) == [A2]
    assert await _ids(stor, not_run_ids=["rater2"]) == [A, B, C, D, E]
    assert await _ids(stor, origin_ids=["o-b"]) == [B]
    assert await _ids(stor, origin_hosts=["10.0.0.2"]) == [B]
    assert await _ids(stor, sources=["cdrc"]) == [B]
    assert await _ids(stor, tors=["*data"]) == [B]
    assert await _ids(stor, request_types=["*postpaid"]) == [B]
    assert await _ids(stor, tenants=["other.org"]) == [B]
    assert await _ids(stor, categories=["data"]) == [B]
    assert await _ids(stor, accounts=["1002"]) == [B]
    assert await _ids(stor, subjects=["1002"]) == [B]
    assert await _ids(stor, destination_prefixes=["49"]) == [A, A2, C, E]
    assert await _ids(stor, destination_prefixes=["4917", "33"]) == [A, A2, B]
    assert await _ids(stor, destination_prefixes=["49_"]) == [E]  # _ and % are plain characters of a prefix
    assert await _ids(stor, destination_prefixes=["49_1%"]) == [E]
    assert await _ids(stor, destination_prefixes=["4%"]) == []
    # times compare as instants: b's 10:00+02:00 is 08:00Z
    assert await _ids(stor, setup_time_start="2024-01-02T08:00:00Z") == [B, C, E]
    assert await _ids(stor, setup_time_start="2024-01-02T08:00:01Z") == [C, E]
    assert await _ids(stor, setup_time_end="2024-01-01T00:00:00Z") == [D]
    assert await _ids(stor, answer_time_start="2024-01-01T00:00:00Z", answer_time_end="2024-01-01T10:00:02Z") == [A, D]
    assert await _ids(stor, answer_time_start="2023-01-01T00:00:00Z") == [A, A2, B, D, E]  # c has no answer time
    assert await _ids(stor, min_usage=30_000_000_000) == [B, D]
    assert await _ids(stor, max_usage=30_000_000_000) == [A, A2, C, E]
    assert await _ids(stor, min_usage="10s", max_usage="1m") == [A, A2, D]
    assert await _ids(stor, min_cost=0.2) == [A2, B, D, E]
    assert await _ids(stor, min_cost=0.1, max_cost=1) == [A, A2, D, E]
    assert await _ids(stor, max_cost=0.2) == [A, C]
    assert await _ids(stor, min_cost=0, max_cost=-1) == [A, A2, B, D, E]  # skip errored (unrated) CDRs
    assert await _ids(stor, max_cost=-1) == [C]  # only unrated
    all_cdrs = await stor.get_cdrs(CDRFilter())
    mid = all_cdrs[2]["OrderID"]
    assert await _ids(stor, order_id_start=mid) == [B, C, D, E]
    assert await _ids(stor, order_id_end=mid) == [A, A2]
    assert await _ids(stor, cgrids=["a"], run_ids=["rater2"], destination_prefixes=["49"]) == [A2]
    assert await _ids(stor, cgrids=["zzz"]) == []


async def test_cdr_ordering_paging_count_remove(stor):
    assert await _ids(stor, order_by="Cost") == [C, A, A2, E, D, B]
    assert await _ids(stor, order_by="Cost;desc") == [B, D, E, A2, A, C]
    assert await _ids(stor, order_by="Usage;desc") == [B, D, A, A2, E, C]
    assert await _ids(stor, order_by="AnswerTime") == [C, D, A, A2, E, B]
    assert await _ids(stor, order_by="OrderID;desc") == [E, D, C, B, A2, A]
    assert await _ids(stor, order_by="SetupTime") == [D, A, A2, B, C, E]
    assert await _ids(stor, order_by="Cost", offset=1, limit=2) == [A, A2]
    assert await _ids(stor, offset=4) == [D, E]
    assert await _ids(stor, limit=0) == []
    with pytest.raises(RPCError, match="invalid OrderBy"):
        await stor.get_cdrs(CDRFilter(order_by="Destination"))
    assert await stor.count_cdrs(CDRFilter(destination_prefixes=["49"])) == 4
    assert await stor.count_cdrs(CDRFilter(offset=1, limit=2)) == 2
    assert await stor.count_cdrs(CDRFilter(offset=5)) == 1
    # a page is what is removed
    removed = await stor.get_cdrs(CDRFilter(order_by="Cost;desc", limit=2), remove=True)
    assert [f"{c['CGRID']}/{c['RunID']}" for c in removed] == [B, D]
    removed = await stor.get_cdrs(CDRFilter(cgrids=["a"]), remove=True)
    assert len(removed) == 2
    assert await _ids(stor) == [C, E]
    assert await _ids(stor, cgrids=["a"]) == []


async def test_session_costs(stordb):
    smc = {
        "CGRID": "g1",
        "RunID": "*default",
        "OriginHost": "h1",
        "OriginID": "call-1",
        "CostSource": "SMG",
        "Usage": 60_000_000_000,
        "CostDetails": {"Cost": Decimal("0.6")},
    }
    await stordb.set_session_cost(smc)
    await stordb.set_session_cost({**smc, "RunID": "r2"})
    await stordb.set_session_cost({**smc, "CGRID": "g2", "OriginHost": "h2", "OriginID": "other"})
    await stordb.set_session_cost({**smc, "CGRID": "g3", "OriginID": "call_%"})
    assert [s["RunID"] for s in await stordb.get_session_costs("g1")] == ["*default", "r2"]
    assert [s["RunID"] for s in await stordb.get_session_costs("g1", run_id="r2")] == ["r2"]
    assert [s["CGRID"] for s in await stordb.get_session_costs("", origin_host="h2")] == ["g2"]
    assert [s["CGRID"] for s in await stordb.get_session_costs("", origin_id="call")] == ["g1", "g1", "g3"]
    assert [s["CGRID"] for s in await stordb.get_session_costs("", origin_id="call_%")] == ["g3"]
    got = (await stordb.get_session_costs("g1"))[0]
    assert {f: got[f] for f in smc} == {**smc, "CostDetails": {"Cost": "0.6"}}
    await stordb.set_session_cost({**smc, "Usage": 1, "CostDetails": None})  # stored again: replaced
    got = (await stordb.get_session_costs("g1", run_id="*default"))
    assert [(s["Usage"], s["CostDetails"]) for s in got] == [(1, None)]
    await stordb.remove_session_costs("g1", "r2")
    assert [s["RunID"] for s in await stordb.get_session_costs("g1")] == ["*default"]
    await stordb.remove_session_costs("g1")
    assert await stordb.get_session_costs("g1") == []
    assert [s["CGRID"] for s in await stordb.get_session_costs("")] == ["g2", "g3"]


DESTINATIONS = [{"ID": "DST_49", "Prefix": "49"}, {"ID": "DST_49", "Prefix": "4917"}, {"ID": "DST_33", "Prefix": "33"}]
RATES = [{"ID": "RT_1", "ConnectFee": "0.1", "Rate": "0.00001", "RateUnit": "1s", "RateIncrement": "1s",
          "GroupIntervalStart": "0s"},
         {"ID": "RT_1", "ConnectFee": "0", "Rate": "12", "RateUnit": "60s", "RateIncrement": "60s",
          "GroupIntervalStart": "1m"}]
STATS = [{"Tenant": "cgrates.org", "ID": "Stats1", "FilterIDs": "*string:~*req.Account:1001;FLTR_X",
          "ActivationInterval": "2014-07-29T15:00:00Z", "QueueLength": "100", "TTL": "1s", "MinItems": "2",
          "Metrics": "*asr;*acd", "MetricFilterIDs": "", "Stored": "true", "Blocker": "false", "Weight": "20",
          "ThresholdIDs": "*none"}]


async def test_tariff_plan_rows(stordb):
    await stordb.set_tp("TP1", "Destinations", [{**r, "_file": "Destinations.csv", "_line": n}
                                                 for n, r in enumerate(DESTINATIONS, 2)])
    await stordb.set_tp("TP1", "Rates", RATES)
    await stordb.set_tp("TP1", "Stats", STATS)
    await stordb.set_tp("TP2", "Rates", RATES[:1])
    assert [{f: r[f] for f in DESTINATIONS[0]} for r in await stordb.get_tp("TP1", "Destinations")] == DESTINATIONS
    assert [{f: r[f] for f in RATES[0]} for r in await stordb.get_tp("TP1", "Rates")] == RATES
    assert [{f: r[f] for f in STATS[0]} for r in await stordb.get_tp("TP1", "Stats")] == STATS
    assert await stordb.tp_ids() == ["TP1", "TP2"]
    await stordb.set_tp("TP1", "Destinations", DESTINATIONS[2:])  # a kind's rows are replaced
    assert [r["Prefix"] for r in await stordb.get_tp("TP1", "Destinations")] == ["33"]
    await stordb.remove_tp("TP1", "Rates")
    assert await stordb.get_tp("TP1", "Rates") == []
    assert len(await stordb.get_tp("TP2", "Rates")) == 1
    await stordb.remove_tp("TP1")
    assert await stordb.get_tp("TP1", "Destinations") == []
    assert await stordb.get_tp("TP1", "Stats") == []
    assert await stordb.tp_ids() == ["TP2"]
    await stordb.flush()
    assert await stordb.tp_ids() == []
