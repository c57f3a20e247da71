"""The APIer, CDRs, CacheSv1, ConfigSv1, CoreSv1, RALsV1 and Responder methods CGRateS has, over JSON-RPC against
a running cgr-engine: their argument and reply shapes (ExternalCDR from APIerSv1/APIerSv2.GetCDRs, the CDR itself
from CDRsV1.GetCDRs), errors, and their effect on what the engine does next."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pycgrates.engine.units import format_duration, parse_duration, parse_time
from tests.engine_proc import EngineProcess
from tests.integration.apier_io import balance_of, error_of
from tests.integration.cdrs_io import T, engine_overrides, start_engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[EngineProcess]:
    tmp = tmp_path_factory.mktemp("api_surface")
    eng = start_engine(tmp, lambda port: engine_overrides(tmp, port))
    try:
        yield eng
    finally:
        eng.kill()


def process_cdr(eng: EngineProcess, origin_id: str, **event: Any) -> None:
    fields = {"ToR": "*voice", "OriginID": origin_id, "OriginHost": "api", "RequestType": "*rated", "Tenant": T,
              "Category": "call", "Account": "1001", "Destination": "33612345678",
              "SetupTime": "2024-01-15T10:00:00+02:00", "AnswerTime": "2024-01-15T10:00:05.250+02:00",
              "Usage": "1m30s", **event}
    assert eng.call("CDRsV1.ProcessEvent", {"Flags": ["*rals"], "Tenant": T, "ID": origin_id,
                                            "Event": fields}) == "OK"


def test_apier_get_cdrs_answer_external_cdrs_and_cdrs_v1_the_cdr_itself(engine):
    process_cdr(engine, "ext-voice", Hangup="NORMAL_CLEARING", PDD=3)
    process_cdr(engine, "ext-data", ToR="*data", Usage=2048, Destination="data")
    [raw] = engine.call("CDRsV1.GetCDRs", {"OriginIDs": ["ext-voice"]})
    [v1] = engine.call("APIerSv1.GetCDRs", {"CgrIds": [raw["CGRID"]], "MediationRunIds": ["*default"]})
    [v2] = engine.call("APIerSv2.GetCDRs", {"CGRIDs": [raw["CGRID"]], "RunIDs": ["*default"]})
    assert v1 == v2
    # the CDR keeps its shape on CDRsV1: Usage in nanoseconds, CostDetails an object
    assert isinstance(raw["Usage"], int) and isinstance(raw["CostDetails"], dict)
    # ExternalCDR: CGRateS's fields, in its order
    assert list(v1) == ["CGRID", "RunID", "OrderID", "OriginHost", "Source", "OriginID", "ToR", "RequestType",
                        "Tenant", "Category", "Account", "Subject", "Destination", "SetupTime", "AnswerTime",
                        "Usage", "ExtraFields", "CostSource", "Cost", "CostDetails", "ExtraInfo", "PreRated"]
    for same in ("CGRID", "RunID", "OrderID", "OriginHost", "Source", "OriginID", "ToR", "RequestType", "Tenant",
                 "Category", "Account", "Subject", "Destination", "CostSource", "ExtraInfo", "PreRated"):
        assert v1[same] == raw[same], same
    assert v1["Usage"] == "1m30s" == format_duration(raw["Usage"])
    assert isinstance(v1["Cost"], float) and v1["Cost"] == raw["Cost"] > 0
    assert json.loads(v1["CostDetails"]) == raw["CostDetails"]
    assert v1["ExtraFields"] == {"Hangup": "NORMAL_CLEARING", "PDD": "3"}
    # times as Go's time.RFC3339: whole seconds, the zone kept
    for name in ("SetupTime", "AnswerTime"):
        assert "." not in v1[name] and v1[name][19:] == raw[name][-len(v1[name][19:]):], (v1[name], raw[name])
        assert parse_time(v1[name]) == parse_time(raw[name]).replace(microsecond=0)
    [data] = engine.call("APIerSv2.GetCDRs", {"OriginIDs": ["ext-data"]})
    assert data["Usage"] == "2048" and data["ToR"] == "*data"
    # APIerSv1's older filter names select as RPCCDRsFilter's do
    assert [c["OriginID"] for c in engine.call("APIerSv1.GetCDRs", {"TORs": ["*data"], "CdrHosts": ["api"]})] == [
        "ext-data"]
    assert error_of(engine, "APIerSv1.GetCDRs", {"Accounts": ["nobody"]}) == "NOT_FOUND"


def test_count_and_remove_cdrs(engine):
    process_cdr(engine, "rm-1", Account="2001")
    process_cdr(engine, "rm-2", Account="2001", Usage="30s")
    assert engine.call("APIerSv2.CountCDRs", {"Accounts": ["2001"]}) == 2
    assert engine.call("APIerSv1.CountCDRs", {"Accounts": ["2001"], "MinUsage": "1m"}) == 1
    assert engine.call("APIerSv1.RemoveCDRs", {"Accounts": ["2001"], "OriginIDs": ["rm-1"]}) == "OK"
    assert [c["OriginID"] for c in engine.call("CDRsV1.GetCDRs", {"Accounts": ["2001"]})] == ["rm-2"]
    assert engine.call("APIerSv1.RemoveCDRs", {"Accounts": ["nobody"]}) == "OK"
    assert engine.call("APIerSv2.CountCDRs", {"Accounts": ["2001"]}) == 1


def test_get_cost_of_nothing_is_an_empty_event_cost_as_cgrates_answers(engine):
    # CGRateS (apier/v1/costs.go): an empty Usage and AnswerTime are zero, and rating zero usage is no error; the
    # reply is NewEventCostFromCallCost of a CallCost without timespans, computed
    assert engine.call("APIerSv1.GetCost", {}) == {
        "CGRID": "", "RunID": "", "StartTime": "0001-01-01T00:00:00Z", "Usage": 0, "Cost": 0, "Charges": [],
        "AccountSummary": None, "Rating": {}, "Accounting": {}, "RatingFilters": {}, "Rates": {}, "Timings": {}}
    rated = engine.call("APIerSv1.GetCost", {"Tenant": T, "Category": "call", "Subject": "1001",
                                             "Destination": "33612345678", "AnswerTime": "2024-01-15T10:00:00Z",
                                             "Usage": "90s"})
    assert rated["Cost"] > 0


# ---------------------------------------------------------------------------------------------------- CacheSv1

DST = {"CacheID": "*destinations", "ItemID": "DST_FR"}


def test_cache_items_read_removed_and_replicated(engine):
    assert engine.call("CacheSv1.ReloadCache", {"DestinationIDs": ["DST_FR", "DST_DE"]}) == "OK"
    destination = engine.call("APIerSv1.GetDestination", "DST_FR")
    assert engine.call("CacheSv1.GetItem", DST) == destination
    assert engine.call("CacheSv1.GetItemWithRemote", DST) == destination
    assert engine.call("CacheSv1.GetItemExpiryTime", DST) == "0001-01-01T00:00:00Z"  # no TTL: never expires
    assert engine.call("CacheSv1.RemoveItem", DST) == "OK"
    assert engine.call("CacheSv1.HasItem", DST) is False
    for method in ("CacheSv1.GetItem", "CacheSv1.GetItemExpiryTime"):
        assert error_of(engine, method, DST) == "NOT_FOUND"
    assert error_of(engine, "CacheSv1.GetItem", {"CacheID": "*nothing", "ItemID": "x"}) == "NOT_FOUND"
    # the DataDB still has it: the next read caches it again
    assert engine.call("APIerSv1.GetDestination", "DST_FR") == destination
    assert engine.call("CacheSv1.ReloadCache", {"DestinationIDs": ["DST_FR"]}) == "OK"
    assert engine.call("CacheSv1.HasItem", DST) is True
    assert engine.call("CacheSv1.RemoveItems", {"DestinationIDs": ["DST_FR", "DST_DE"]}) == "OK"
    assert engine.call("CacheSv1.HasItem", DST) is False
    assert engine.call("CacheSv1.HasItem", {"CacheID": "*destinations", "ItemID": "DST_DE"}) is False
    # another engine's cache item, set as it sent it
    copy = {**destination, "Id": "DST_COPY"} if "Id" in destination else {**destination, "ID": "DST_COPY"}
    assert engine.call("CacheSv1.ReplicateSet", {"CacheID": "*destinations", "ItemID": "DST_COPY",
                                                 "Value": copy}) == "OK"
    assert engine.call("CacheSv1.GetItem", {"CacheID": "*destinations", "ItemID": "DST_COPY"}) == copy
    assert engine.call("CacheSv1.ReplicateRemove", {"CacheID": "*destinations", "ItemID": "DST_COPY"}) == "OK"
    assert engine.call("CacheSv1.HasItem", {"CacheID": "*destinations", "ItemID": "DST_COPY"}) is False


def test_cache_groups_status_and_stats(engine):
    process_cdr(engine, "cache-groups")  # ChargerS reads (and caches) its filter index
    partition = "*charger_filter_indexes"
    ids = engine.call("CacheSv1.GetItemIDs", {"CacheID": partition})
    group = ids[0].split(":")[0]
    args = {"CacheID": partition, "GroupID": group}
    assert engine.call("CacheSv1.HasGroup", args) is True
    assert engine.call("CacheSv1.GetGroupItemIDs", args) == [i for i in ids if i.startswith(group + ":")]
    assert engine.call("CacheSv1.RemoveGroup", args) == "OK"
    assert engine.call("CacheSv1.HasGroup", args) is False
    assert error_of(engine, "CacheSv1.GetGroupItemIDs", args) == "NOT_FOUND"
    assert engine.call("CacheSv1.PrecacheStatus", {"CacheIDs": ["*destinations", partition]}) == {
        "*destinations": "*ready", partition: "*ready"}
    assert set(engine.call("CacheSv1.PrecacheStatus", {})) == set(engine.call("CacheSv1.GetCacheStats", {}))
    assert engine.call("CacheSv1.GetStats", {"CacheIDs": [partition]}) == engine.call(
        "CacheSv1.GetCacheStats", {"CacheIDs": [partition]})


# ---------------------------------------------------------------------------------------------------- ConfigSv1


def test_config_as_json_and_set_config(engine):
    general = engine.call("ConfigSv1.GetConfig", {"Section": "general"})
    text = engine.call("ConfigSv1.GetConfigAsJSON", {"Section": "general"})
    assert json.loads(text) == general and "\n\t" in text  # CGRateS's utils.ToJSON: tab-indented
    assert json.loads(engine.call("ConfigSv1.GetConfigAsJSON", {})) == engine.call("ConfigSv1.GetConfig", {})
    assert error_of(engine, "ConfigSv1.GetConfigAsJSON", {"Section": "nosuch"}) == "Invalid section"
    # a dry run checks and changes nothing
    assert engine.call("ConfigSv1.SetConfig", {"Config": {"cdrs": {"store_cdrs": False}}, "DryRun": True}) == "OK"
    assert engine.call("ConfigSv1.GetConfig", {"Section": "cdrs"})["cdrs"]["store_cdrs"] is True
    # applied: CDRs stops storing at once
    assert engine.call("ConfigSv1.SetConfig", {"Config": {"cdrs": {"store_cdrs": False}}}) == "OK"
    process_cdr(engine, "not-stored")
    assert error_of(engine, "CDRsV1.GetCDRs", {"OriginIDs": ["not-stored"]}) == "NOT_FOUND"
    assert engine.call("ConfigSv1.SetConfigFromJSON", {"Config": '{"cdrs": {"store_cdrs": true}}'}) == "OK"
    process_cdr(engine, "stored-again")
    assert len(engine.call("CDRsV1.GetCDRs", {"OriginIDs": ["stored-again"]})) == 1
    assert engine.call("ConfigSv1.SetConfigFromJSON", {"Config": ""}) == "OK"
    assert error_of(engine, "ConfigSv1.SetConfigFromJSON", {"Config": "{nope"}).startswith("SERVER_ERROR")
    refused = error_of(engine, "ConfigSv1.SetConfig", {"Config": {"general": {"rounding_decimals": "many"}}})
    assert refused.startswith("SERVER_ERROR") and "rounding_decimals" in refused
    assert engine.call("ConfigSv1.GetConfig", {"Section": "general"}) == general


# ---------------------------------------------------------------------------------------------------- CoreSv1


def test_cpu_profiling_writes_a_cprofile_dump(engine, tmp_path):
    import pstats

    assert error_of(engine, "CoreSv1.StartCPUProfiling", {}) == "MANDATORY_IE_MISSING: [DirPath]"
    assert error_of(engine, "CoreSv1.StopCPUProfiling", {}) == "stop CPU profiling: not started yet"
    assert engine.call("CoreSv1.StartCPUProfiling", {"DirPath": str(tmp_path)}) == "OK"
    assert error_of(engine, "CoreSv1.StartCPUProfiling", {"DirPath": str(tmp_path)}) == (
        "start CPU profiling: already started")
    engine.call("APIerSv1.GetCost", {"Tenant": T, "Category": "call", "Subject": "1001",
                                     "Destination": "33612345678", "AnswerTime": "2024-01-15T10:00:00Z",
                                     "Usage": "90s"})
    assert engine.call("CoreSv1.StopCPUProfiling", {}) == "OK"
    stats = pstats.Stats(str(tmp_path / "cpu.prof"))
    assert any("get_cost" in func for _, _, func in stats.stats)  # type: ignore[attr-defined]


def test_memory_profiling_keeps_the_last_files_and_a_final_one(engine, tmp_path):
    import time
    import tracemalloc

    assert error_of(engine, "CoreSv1.StopMemoryProfiling", {}) == "stop memory profiling: not started yet"
    assert engine.call("CoreSv1.StartMemoryProfiling", {"DirPath": str(tmp_path), "Interval": "150ms",
                                                        "MaxFiles": 2}) == "OK"
    assert error_of(engine, "CoreSv1.StartMemoryProfiling", {"DirPath": str(tmp_path)}) == (
        "start memory profiling: already started")
    deadline = time.monotonic() + 20
    while not (tmp_path / "mem_4.prof").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine.call("CoreSv1.StopMemoryProfiling", {}) == "OK"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "mem_final.prof" in names and "mem_1.prof" not in names
    assert len([n for n in names if n != "mem_final.prof"]) == 2
    assert tracemalloc.Snapshot.load(str(tmp_path / "mem_final.prof")).traces
    assert error_of(engine, "CoreSv1.StopMemoryProfiling", {}) == "stop memory profiling: already stopped"


def test_panic_ends_the_engine_without_a_reply(tmp_path):
    from tests.engine_proc import pipeline

    eng = start_engine(tmp_path, lambda port: engine_overrides(tmp_path, port), load_plan=False)
    try:
        assert pipeline(eng.rpc_port, [("CoreSv1.Panic", {"Message": "test panic"})], timeout=10) == []
        assert eng.proc is not None and eng.proc.wait(10) == 2
        assert "panic: test panic" in eng.log()
    finally:
        eng.kill()


# ---------------------------------------------------------------------------------------------------- APIerSv2


def test_v2_actions(engine):
    assert engine.call("APIerSv2.GetActionsCount", {}) == 1  # ACT_TOPUP_100 of the plan
    stored = engine.call("APIerSv2.GetActions", {})
    assert list(stored) == ["ACT_TOPUP_100"] and stored["ACT_TOPUP_100"][0]["ActionType"] == "*topup_reset"
    topup = {"Identifier": "*topup", "BalanceType": "*monetary", "Units": "5", "Weight": 10}
    assert error_of(engine, "APIerSv2.SetActions", {"ActionsId": "ACT_V2", "Actions": [
        {**topup, "Units": ""}]}) == "MANDATORY_IE_MISSING:Action:*topup:[Units]"
    assert engine.call("APIerSv2.SetActions", {"ActionsId": "ACT_V2", "Actions": [topup]}) == "OK"
    assert error_of(engine, "APIerSv2.SetActions", {"ActionsId": "ACT_V2", "Actions": [topup]}) == "EXISTS"
    assert engine.call("APIerSv2.GetActionsCount", {}) == 2
    assert list(engine.call("APIerSv2.GetActions", {"ActionIDs": ["ACT_V2"]})) == ["ACT_V2"]
    assert list(engine.call("APIerSv2.GetActions", {"Offset": 1, "Limit": 1})) == ["ACT_V2"]
    # the stored actions run: the topup lands on the account
    before = engine.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1004"})
    assert engine.call("APIerSv1.ExecuteAction", {"Tenant": T, "Account": "1004", "ActionsId": "ACT_V2"}) == "OK"
    after = engine.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1004"})
    assert after["BalanceMap"]["*monetary"] != before["BalanceMap"]["*monetary"]
    assert engine.call("APIerSv2.RemoveActions", {"ActionIDs": ["ACT_V2"]}) == "OK"
    assert engine.call("APIerSv2.GetActionsCount", {}) == 1
    assert engine.call("APIerSv2.GetAccountsCount", {"Tenant": T}) == engine.call(
        "APIerSv1.GetAccountsCount", {"Tenant": T}) >= 4


def test_v2_destinations_cache_stats_and_load(engine):
    every = engine.call("APIerSv2.GetDestinations", {})
    assert every == [engine.call("APIerSv1.GetDestination", d) for d in ("DST_DE", "DST_FR", "DST_US")]
    assert engine.call("APIerSv2.GetDestinations", {"DestinationIDs": ["DST_US"]}) == every[2:]
    assert error_of(engine, "APIerSv2.GetDestinations", {"DestinationIDs": ["NOPE"]}) == "NOT_FOUND"
    assert engine.call("APIerSv2.GetCacheStats", {}) == engine.call("CacheSv1.GetCacheStats", {}) == engine.call(
        "APIerSv1.GetCacheStats", {})
    assert engine.call("APIerSv1.ReloadCache", {"DestinationIDs": ["DST_US"]}) == "OK"
    assert engine.call("CacheSv1.HasItem", {"CacheID": "*destinations", "ItemID": "DST_US"}) is True
    assert engine.call("APIerSv1.Ping", {}) == engine.call("Responder.Ping", {}) == "Pong"
    from tests.integration.cdrs_io import PLAN

    dry = engine.call("APIerSv2.LoadTariffPlanFromFolder", {"FolderPath": str(PLAN), "DryRun": True})
    assert dry["RatingLoadID"] == dry["AccountingLoadID"] == "*dryrun"
    # CGRateS answers the latest load history entry, and writes none any more: the zero LoadInstance
    assert engine.call("APIerSv2.LoadTariffPlanFromFolder", {"FolderPath": str(PLAN)}) == {
        "LoadID": "", "RatingLoadID": "", "AccountingLoadID": "", "LoadTime": "0001-01-01T00:00:00Z"}
    assert error_of(engine, "APIerSv2.LoadTariffPlanFromFolder", {"FolderPath": "/nonexistent"}) == "INVALID_PATH"


# ---------------------------------------------------------------------------------------------------- usage


def test_max_usage_debit_usage_and_account_cost(engine):
    record = {"Tenant": T, "Category": "call", "Account": "1003", "Destination": "33612345678",
              "SetupTime": "2024-01-15T10:00:00Z", "AnswerTime": "2024-01-15T10:00:00Z", "Usage": "10m"}
    account = engine.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1003"})
    balance = account["BalanceMap"]["*monetary"][0]["Value"]
    # the EU rate: 0.05 connect fee, 0.12 a minute by the second
    assert engine.call("APIerSv1.GetMaxUsage", record) == parse_duration("10m")  # affordable: all of it
    max_usage = engine.call("APIerSv1.GetMaxUsage", {**record, "Usage": "24h"})  # not: what the balance buys
    assert max_usage == int((balance - 0.05) / 0.12 * 60) * 1_000_000_000
    cost = engine.call("APIerSv1.GetAccountCost", {"Tenant": T, "Event": {**record, "Usage": "90s"}})
    assert cost["Cost"] == engine.call("APIerSv1.GetCost", {**record, "Subject": "1003", "Usage": "90s"})["Cost"]
    assert engine.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1003"}) == account  # a dry run
    assert engine.call("APIerSv1.DebitUsage", {**record, "Usage": "90s"}) == "OK"
    after = engine.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1003"})
    assert after["BalanceMap"]["*monetary"][0]["Value"] == pytest.approx(balance - cost["Cost"])
    assert error_of(engine, "APIerSv1.DebitUsage", {"Account": "1003"}) == (
        "MANDATORY_IE_MISSING: [Destination Usage]")
    # with options: the account may not go negative unless allowed
    left = balance_of(engine, "1003", "MONETARY")
    too_much = {"UsageRecord": {**record, "Usage": "48h"}, "AllowNegativeAccount": False}
    assert error_of(engine, "APIerSv1.DebitUsageWithOptions", too_much).startswith("SERVER_ERROR")
    assert balance_of(engine, "1003", "MONETARY") == pytest.approx(left)
    assert engine.call("APIerSv1.DebitUsageWithOptions", {**too_much, "AllowNegativeAccount": True}) == "OK"
    monetary = engine.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1003"})["BalanceMap"]["*monetary"]
    assert sum(b["Value"] for b in monetary) < 0  # what the balance did not cover went on *default
    assert error_of(engine, "APIerSv1.DebitUsage", {**record, "Account": "nobody"}).startswith("SERVER_ERROR")


def test_data_cost(engine, tmp_path):
    plan = {"Rates.csv": "RT_DATA,0,0.01,1,1,0", "DestinationRates.csv": "DR_DATA,*any,RT_DATA,*up,4,0,",
            "RatingPlans.csv": "RP_DATA,DR_DATA,*any,10",
            "RatingProfiles.csv": "cgrates.org,data,*any,2014-01-14T00:00:00Z,RP_DATA,"}
    for name, row in plan.items():
        (tmp_path / name).write_text(row + "\n")
    assert engine.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(tmp_path)}) == "OK"
    data = engine.call("APIerSv1.GetDataCost", {"Tenant": T, "Category": "data", "Subject": "1003",
                                                "AnswerTime": "2024-01-15T10:00:00Z", "Usage": 10})
    assert data["ToR"] == "*data" and data["Cost"] == pytest.approx(10 * 0.01)
    [span] = data["DataSpans"]
    assert (span["DataStart"], span["DataEnd"]) == (0, 10) and span["RatingPlanId"] == "RP_DATA"
    assert sum(i["Amount"] * i["CompressFactor"] for i in span["Increments"]) == 10


# ---------------------------------------------------------------------------------------------------- filter indexes


def test_filter_indexes_read_removed_recomputed_and_checked(engine):
    charger = {"Tenant": T, "ID": "CHRG_IDX", "FilterIDs": ["*string:~*req.Account:idx_only"],
               "ActivationInterval": None, "RunID": "idx", "AttributeIDs": ["*none"], "Weight": 5}
    assert engine.call("APIerSv1.SetChargerProfile", charger) == "OK"
    try:
        entries = engine.call("APIerSv1.GetFilterIndexes", {"Tenant": T, "ItemType": "*chargers"})
        assert "*string:*req.Account:idx_only:CHRG_IDX" in entries
        assert engine.call("APIerSv1.GetFilterIndexes", {"ItemType": "*chargers", "FilterType": "*string",
                                                         "FilterValue": "idx_only"}) == [
            "*string:*req.Account:idx_only:CHRG_IDX"]
        assert error_of(engine, "APIerSv1.GetFilterIndexes", {"ItemType": "*chargers",
                                                              "FilterValue": "nothing"}) == "NOT_FOUND"
        assert error_of(engine, "APIerSv1.GetFilterIndexes", {}) == "MANDATORY_IE_MISSING: [ItemType]"
        assert error_of(engine, "APIerSv1.GetFilterIndexes", {"ItemType": "*attributes"}) == (
            "MANDATORY_IE_MISSING: [Context]")
        clean = {"MissingObjects": [], "MissingIndexes": {}, "BrokenIndexes": {}, "MissingFilters": {}}
        assert engine.call("APIerSv1.GetChargersIndexesHealth", {}) == clean
        # removed: the health check sees what is missing, and the charger no longer matches
        assert engine.call("APIerSv1.RemoveFilterIndexes", {"Tenant": T, "ItemType": "*chargers"}) == "OK"
        assert error_of(engine, "APIerSv1.GetFilterIndexes", {"ItemType": "*chargers"}) == "NOT_FOUND"
        health = engine.call("APIerSv1.GetChargersIndexesHealth", {})
        assert health["MissingIndexes"][f"{T}:*string:*req.Account:idx_only"] == ["CHRG_IDX"]
        event = {"Tenant": T, "ID": "e", "Event": {"Account": "idx_only"}}
        assert error_of(engine, "ChargerSv1.GetChargersForEvent", event) == "NOT_FOUND"
        assert engine.call("APIerSv1.ComputeFilterIndexes", {"Tenant": T, "ChargerS": True}) == "OK"
        assert engine.call("APIerSv1.GetChargersIndexesHealth", {}) == clean
        assert "CHRG_IDX" in [c["ID"] for c in engine.call("ChargerSv1.GetChargersForEvent", event)]
        assert engine.call("APIerSv1.ComputeFilterIndexIDs", {"Tenant": T, "ChargerIDs": ["CHRG_IDX"]}) == "OK"
        assert error_of(engine, "APIerSv1.ComputeFilterIndexIDs", {"ChargerIDs": ["NOPE"]}) == "NOT_FOUND"
        for method in ("Attributes", "Resources", "Stats", "Thresholds", "Routes"):
            assert set(engine.call(f"APIerSv1.Get{method}IndexesHealth", {})) == set(clean)
        # a stored filter the charger names: the filter → profiles index knows it (and so keeps the filter)
        assert engine.call("APIerSv1.SetFilter", {"Tenant": T, "ID": "FLTR_IDX", "Rules": [
            {"Type": "*string", "Element": "~*req.Account", "Values": ["idx_only"]}]}) == "OK"
        assert engine.call("APIerSv1.SetChargerProfile", {**charger, "FilterIDs": ["FLTR_IDX"]}) == "OK"
        assert engine.call("APIerSv1.GetReverseFilterHealth", {}) == {}
        assert "CHRG_IDX" in error_of(engine, "APIerSv1.RemoveFilter", {"Tenant": T, "ID": "FLTR_IDX"})
        assert "*string:*req.Account:idx_only:CHRG_IDX" in engine.call("APIerSv1.GetFilterIndexes",
                                                                         {"ItemType": "*chargers"})
    finally:
        engine.call("APIerSv1.RemoveChargerProfile", {"Tenant": T, "ID": "CHRG_IDX"})
        engine.call("APIerSv1.RemoveFilter", {"Tenant": T, "ID": "FLTR_IDX"})


# ---------------------------------------------------------------------------------------------------- rating data


def test_timings_rating_plans_and_reverse_destinations(engine):
    weekend = {"ID": "TM_WEEKEND", "Years": [], "Months": [], "MonthDays": [], "WeekDays": [6, 0],
               "StartTime": "00:00:00", "EndTime": ""}
    assert error_of(engine, "APIerSv1.SetTiming", {"Years": []}) == "MANDATORY_IE_MISSING: [ID]"
    assert engine.call("APIerSv1.SetTiming", weekend) == "OK"
    assert engine.call("APIerSv1.GetTiming", {"ID": "TM_WEEKEND"}) == weekend
    # 2024-01-13 was a Saturday, 2024-01-15 a Monday
    assert engine.call("APIerSv1.TimingIsActiveAt", {"TimingID": "TM_WEEKEND",
                                                     "Time": "2024-01-13T12:00:00Z"}) is True
    assert engine.call("APIerSv1.TimingIsActiveAt", {"TimingID": "TM_WEEKEND",
                                                     "Time": "2024-01-15T12:00:00Z"}) is False
    assert engine.call("APIerSv1.RemoveTiming", {"ID": "TM_WEEKEND"}) == "OK"
    assert error_of(engine, "APIerSv1.GetTiming", {"ID": "TM_WEEKEND"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.TimingIsActiveAt", {"TimingID": "TM_WEEKEND"}) == "NOT_FOUND"
    # the reverse index rebuilt from the destinations finds what GetReverseDestination found
    before = engine.call("APIerSv1.GetReverseDestination", "33")
    assert engine.call("APIerSv1.ComputeReverseDestinations", "") == "OK"
    assert engine.call("APIerSv1.GetReverseDestination", "33") == before
    plans = engine.call("APIerSv1.GetRatingPlanIDs", {})
    assert "RP_RETAIL" in plans
    assert engine.call("APIerSv1.RemoveRatingPlan", "RP_NOT_THERE") == "OK"


# ---------------------------------------------------------------------------------------------------- accounts


def test_set_balances_transfer_and_listings(engine):
    assert engine.call("APIerSv1.SetBalances", {"Tenant": T, "Account": "2002", "Balances": [
        {"BalanceType": "*monetary", "Value": 10, "Balance": {"ID": "main"}},
        {"BalanceType": "*monetary", "Value": 3, "Balance": {"ID": "bonus"}}]}) == "OK"
    assert (balance_of(engine, "2002", "main"), balance_of(engine, "2002", "bonus")) == (10, 3)
    assert error_of(engine, "APIerSv1.SetBalances", {"Account": "2002", "Balances": [{"Value": 1}]}) == (
        "MANDATORY_IE_MISSING: [BalanceID or BalanceUUID]")
    assert engine.call("APIerSv1.TransferBalance", {
        "Tenant": T, "SourceAccountID": "2002", "SourceBalanceID": "main", "DestinationAccountID": "1004",
        "DestinationBalanceID": "gift", "Units": 4}) == "OK"
    assert balance_of(engine, "2002", "main") == 6 and balance_of(engine, "1004", "gift") == 4
    refused = error_of(engine, "APIerSv1.TransferBalance", {
        "SourceAccountID": "2002", "SourceBalanceID": "bonus", "DestinationAccountID": "1004",
        "DestinationBalanceID": "gift", "Units": 50})
    assert refused.startswith("SERVER_ERROR") and balance_of(engine, "2002", "bonus") == 3
    assert error_of(engine, "APIerSv1.TransferBalance", {"SourceAccountID": "2002"}) == (
        "MANDATORY_IE_MISSING: [SourceBalanceID DestinationAccountID DestinationBalanceID Units]")
    ids = engine.call("APIerSv1.GetAccountIDs", {"Tenant": T})
    assert {"1001", "1004", "2002"} <= set(ids) and ids == sorted(ids)
    assert engine.call("APIerSv1.GetAccountIDs", {"Tenant": T, "Search": "200"}) == ["2002"]
    assert engine.call("APIerSv1.GetActionPlanIDs", {}) == ["AP_TOPUP"]
    assert engine.call("APIerSv1.GetSharedGroup", "NOPE") == {"Id": "", "AccountParameters": None,
                                                               "MemberIds": None}


def test_event_cost_of_a_stored_cdr(engine):
    process_cdr(engine, "ec-1", Account="1002")
    [cdr] = engine.call("CDRsV1.GetCDRs", {"OriginIDs": ["ec-1"]})
    assert engine.call("APIerSv1.GetEventCost", {"CgrId": cdr["CGRID"]}) == cdr["CostDetails"]
    assert error_of(engine, "APIerSv1.GetEventCost", {"CgrId": cdr["CGRID"], "RunId": "other"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.GetEventCost", {}) == "MANDATORY_IE_MISSING: [CgrId]"


def test_account_action_triggers(engine):
    assert engine.call("APIerSv1.SetAccount", {"Tenant": T, "Account": "3003"}) == "OK"
    assert engine.call("APIerSv1.SetActionTrigger", {"GroupID": "AT_LOW", "ActionTrigger": {
        "ThresholdType": "*min_balance", "ThresholdValue": 2, "BalanceType": "*monetary",
        "ActionsID": "ACT_TOPUP_100"}}) == "OK"
    acct = {"Tenant": T, "Account": "3003"}
    for _ in range(2):  # a group joins once
        assert engine.call("APIerSv1.AddAccountActionTriggers", {**acct, "ActionTriggerIDs": ["AT_LOW"],
                                                                 "Executed": True}) == "OK"
    [at] = engine.call("APIerSv1.GetAccountActionTriggers", acct)
    assert at["ID"] == "AT_LOW" and at["ThresholdValue"] == 2 and at["Executed"] is True
    assert engine.call("APIerSv1.SetAccountActionTriggers", {**acct, "GroupID": "AT_LOW",
                                                             "ActionTrigger": {"ThresholdValue": 5}}) == "OK"
    [at] = engine.call("APIerSv1.GetAccountActionTriggers", acct)
    assert at["ThresholdValue"] == 5 and at["ActionsID"] == "ACT_TOPUP_100"
    assert engine.call("APIerSv2.SetAccountActionTriggers", {**acct, "GroupID": "AT_NEW", "ActionTrigger": {
        "ThresholdType": "*max_balance", "ThresholdValue": 1000, "BalanceType": "*monetary",
        "ActionsID": "ACT_TOPUP_100"}}) == "OK"
    assert sorted(t["ID"] for t in engine.call("APIerSv1.GetAccountActionTriggers", acct)) == ["AT_LOW", "AT_NEW"]
    assert engine.call("APIerSv1.RemoveAccountActionTriggers", {**acct, "GroupID": "AT_NEW"}) == "OK"
    assert [t["ID"] for t in engine.call("APIerSv1.GetAccountActionTriggers", acct)] == ["AT_LOW"]
    trigger = {"ActionTriggersId": "AT_ADDED", "ThresholdType": "*max_event_counter", "ThresholdValue": 3,
               "BalanceType": "*monetary", "ActionsId": "ACT_TOPUP_100"}
    assert engine.call("APIerSv1.AddTriggeredAction", {**acct, **trigger}) == "OK"
    added = [t for t in engine.call("APIerSv1.GetAccountActionTriggers", acct) if t["ID"] == "AT_ADDED"]
    assert [(t["ThresholdType"], t["ThresholdValue"]) for t in added] == [("*max_event_counter", 3)]
    assert engine.call("APIerSv1.RemoveAccountActionTriggers", acct) == "OK"
    assert engine.call("APIerSv1.GetAccountActionTriggers", acct) == []
    assert error_of(engine, "APIerSv1.AddAccountActionTriggers", {"Account": "nobody"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.AddAccountActionTriggers", {**acct, "ActionTriggerIDs": ["NOPE"]}) == (
        "NOT_FOUND")


# ---------------------------------------------------------------------------------------------------- *internal stores


def test_internal_stores_dumped_rewritten_backed_up_and_restorable(engine, tmp_path):
    import zipfile

    timing = {"ID": "TM_BACKUP", "Years": [2030], "Months": [], "MonthDays": [], "WeekDays": [],
              "StartTime": "00:00:00", "EndTime": ""}
    assert engine.call("APIerSv1.SetTiming", timing) == "OK"
    process_cdr(engine, "backup-cdr", Account="1002")
    for store in ("DataDB", "StorDB"):
        assert engine.call(f"APIerSv1.Dump{store}", "") == "OK"
        assert engine.call(f"APIerSv1.Rewrite{store}", "") == "OK"
        assert engine.call(f"APIerSv1.Backup{store}", {"BackupFolderPath": str(tmp_path / "plain")}) == "OK"
        assert engine.call(f"APIerSv1.Snapshot{store}", {"BackupFolderPath": str(tmp_path / "zipped"),
                                                         "Zip": True}) == "OK"
    [datadb_dir] = (tmp_path / "plain").glob("datadb_*")
    [stordb_dir] = (tmp_path / "plain").glob("stordb_*")
    assert b"TM_BACKUP" in (datadb_dir / "datadb.log").read_bytes()
    assert b"backup-cdr" in (stordb_dir / "stordb.log").read_bytes()
    for name in ("datadb", "stordb"):
        [archive] = (tmp_path / "zipped").glob(f"{name}_*.zip")
        assert zipfile.ZipFile(archive).namelist() == [f"{name}.log"]
    assert engine.call("APIerSv1.GetTiming", {"ID": "TM_BACKUP"}) == timing  # still served after the rewrites
    # restoring is starting an engine on the backup
    restored = tmp_path / "restored"
    overrides = engine_overrides(restored, 0)
    overrides["data_db"]["opts"]["internalDBDumpPath"] = str(datadb_dir)
    overrides["stor_db"]["opts"]["internalDBDumpPath"] = str(stordb_dir)
    eng = start_engine(restored, lambda port: {**overrides, "listen": {**overrides["listen"],
                                                                        "rpc_json": f"127.0.0.1:{port}"}},
                       load_plan=False)
    try:
        assert eng.call("APIerSv1.GetTiming", {"ID": "TM_BACKUP"}) == timing
        assert len(eng.call("CDRsV1.GetCDRs", {"OriginIDs": ["backup-cdr"]})) == 1
    finally:
        eng.kill()


def test_redis_datadb_maintenance_is_not_implemented_as_in_cgrates(tmp_path):
    from tests.conftest import require_service

    require_service("127.0.0.1", 6379, "redis-server (bash .ci/services starts it)")

    def overrides(port: int) -> dict:
        out = engine_overrides(tmp_path, port)
        out["data_db"] = {"db_type": "*redis", "db_port": 6379, "db_name": "13"}  # nothing written: no flush
        return out

    eng = start_engine(tmp_path, overrides, load_plan=False)
    try:
        for method in ("DumpDataDB", "RewriteDataDB", "BackupDataDB", "SnapshotDataDB"):
            assert error_of(eng, f"APIerSv1.{method}", {"BackupFolderPath": str(tmp_path / "b")}) == "NOT_IMPLEMENTED"
        assert eng.call("APIerSv1.DumpStorDB", "") == "OK"  # the *internal StorDB
    finally:
        eng.kill()


def test_reverse_destination_and_account_plan_indexes_are_healthy_and_rebuilt(engine):
    healthy_reverse = {"MissingReverseDestinations": {}, "BrokenReferences": {}}
    assert engine.call("APIerSv1.GetReverseDestinationsIndexHealth", {}) == healthy_reverse
    assert engine.call("APIerSv1.ComputeReverseDestinations", "") == "OK"
    assert engine.call("APIerSv1.GetReverseDestinationsIndexHealth", {}) == healthy_reverse
    healthy_plans = {"MissingAccountActionPlans": {}, "BrokenReferences": {}}
    plans_of_1001 = engine.call("APIerSv1.GetAccountActionPlan", {"Tenant": T, "Account": "1001"})
    assert engine.call("APIerSv1.GetAccountActionPlansIndexHealth", {}) == healthy_plans
    for method in ("APIerSv1.ComputeAccountActionPlans", "APIerSv1.ComputeActionPlanIndexes"):
        assert engine.call(method, {"Tenant": T}) == "OK"
        assert engine.call("APIerSv1.GetAccountActionPlansIndexHealth", {}) == healthy_plans
    assert engine.call("APIerSv1.GetAccountActionPlan", {"Tenant": T, "Account": "1001"}) == plans_of_1001
    assert [p["ActionPlanId"] for p in plans_of_1001] == ["AP_TOPUP"]


# ---------------------------------------------------------------------------------------------------- CDRs


def test_cdrs_process_events_external_cdrs_and_reprocess(engine):
    base = {"ToR": "*voice", "OriginHost": "api", "RequestType": "*rated", "Tenant": T, "Category": "call",
            "Account": "4004", "Destination": "33612345678", "SetupTime": "2024-01-15T10:00:00Z",
            "AnswerTime": "2024-01-15T10:00:05Z", "Usage": "60s"}
    assert engine.call("CDRsV1.ProcessEvents", {"Flags": ["*rals"], "CGREvents": [
        {"Tenant": T, "Event": {**base, "OriginID": f"many-{i}"}} for i in range(3)]}) == "OK"
    stored = engine.call("CDRsV1.GetCDRs", {"Accounts": ["4004"]})
    assert sorted(c["OriginID"] for c in stored) == ["many-0", "many-1", "many-2"]
    assert all(c["Cost"] > 0 for c in stored)
    events = engine.call("CDRsV2.ProcessEvent", {"Flags": ["*rals"], "Tenant": T, "ID": "v2",
                                                 "Event": {**base, "OriginID": "v2-1"}})
    [cdr] = engine.call("CDRsV1.GetCDRs", {"OriginIDs": ["v2-1"]})
    assert [e["Event"]["CGRID"] for e in events] == [cdr["CGRID"]] and events[0]["Event"]["Cost"] == cdr["Cost"]
    # an ExternalCDR as APIerSv2.GetCDRs prints it comes back in as the same CDR
    [external] = engine.call("APIerSv2.GetCDRs", {"OriginIDs": ["v2-1"]})
    assert engine.call("APIerSv1.RemoveCDRs", {"OriginIDs": ["v2-1"]}) == "OK"
    assert engine.call("CDRsV1.ProcessExternalCDR", {**external, "PreRated": True}) == "OK"
    [again] = engine.call("CDRsV1.GetCDRs", {"OriginIDs": ["v2-1"]})
    assert (again["CGRID"], again["Usage"], again["Cost"], again["CostDetails"]) == (
        cdr["CGRID"], cdr["Usage"], cdr["Cost"], cdr["CostDetails"])
    # reprocessed: rated again from the stored CDR, stored over itself
    assert engine.call("CDRsV1.ReprocessCDRs", {"OriginIDs": ["many-0"], "Flags": ["*rals"]}) == "OK"
    [rerated] = engine.call("CDRsV1.GetCDRs", {"OriginIDs": ["many-0"]})
    first = next(c for c in stored if c["OriginID"] == "many-0")
    assert rerated["Cost"] == first["Cost"] and rerated["OrderID"] >= first["OrderID"]


# ---------------------------------------------------------------------------------------------------- SchedulerSv1


def test_scheduler_runs_plans_now_and_replays_a_window(engine):
    assert engine.call("APIerSv1.SetActions", {"ActionsId": "ACT_SCH", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*monetary", "BalanceId": "sch", "Units": 1, "Weight": 10}]}) == "OK"
    first_of_month = {"ActionsId": "ACT_SCH", "MonthDays": [1], "Time": "00:00:00", "Weight": 10}
    assert engine.call("APIerSv1.SetAccount", {"Tenant": T, "Account": "6006"}) == "OK"
    assert engine.call("APIerSv1.SetActionPlanAccounts", {"Id": "AP_SCH", "ActionPlan": [first_of_month],
                                                          "AccountIDs": [f"{T}:6006"]}) == "OK"
    assert balance_of(engine, "6006", "sch") is None  # not due now
    # replayed: 1 January, 1 February and 1 March
    assert engine.call("SchedulerSv1.ExecuteActions", {"TimeStart": "2024-01-01T00:00:00Z",
                                                       "TimeEnd": "2024-03-31T23:59:59Z"}) == "OK"
    assert balance_of(engine, "6006", "sch") == 3
    assert engine.call("SchedulerSv1.ExecuteActions", {"ActionPlanID": "AP_SCH"}) == "OK"
    assert balance_of(engine, "6006", "sch") == 4
    assert engine.call("SchedulerSv1.ExecuteActionPlans", {"ActionPlanIDs": ["AP_SCH"], "Tenant": T,
                                                           "AccountID": "6007"}) == "OK"
    assert balance_of(engine, "6007", "sch") == 1  # the account was created for it
    assert error_of(engine, "SchedulerSv1.ExecuteActions", {"ActionPlanID": "NOPE"}) == "NOT_FOUND"
    assert engine.call("SchedulerSv1.Reload", {}) == "OK" and engine.call("SchedulerSv1.Ping", {}) == "Pong"
    assert engine.call("APIerSv1.RemoveActionPlan", {"ID": "AP_SCH"}) == "OK"


# ---------------------------------------------------------------------------------------------------- RALsV1, Responder


def test_rating_plans_cost(engine):
    arg = {"RatingPlanIDs": ["RP_NOPE", "RP_RETAIL"], "Destination": "33612345678",
           "SetupTime": "2024-01-15T10:00:00Z", "Usage": "90s"}
    reply = engine.call("RALsV1.GetRatingPlansCost", arg)
    assert reply["RatingPlanID"] == "RP_RETAIL"
    assert reply["EventCost"]["Cost"] == engine.call("APIerSv1.GetCost", {
        "Tenant": T, "Category": "call", "Subject": "1001", "Destination": "33612345678",
        "AnswerTime": "2024-01-15T10:00:00Z", "Usage": "90s"})["Cost"]
    assert engine.call("RALsV1.GetRatingPlansCost", {**arg, "Destination": "999"}) == {
        "EventCost": None, "RatingPlanID": ""}
    assert error_of(engine, "RALsV1.GetRatingPlansCost", {"Destination": "1"}) == (
        "MANDATORY_IE_MISSING: [RatingPlanIDs SetupTime Usage]")
    assert engine.call("RALsV1.Ping", {}) == "Pong"


def test_responder_shutdown_stops_the_engine_in_order(tmp_path):
    eng = start_engine(tmp_path, lambda port: engine_overrides(tmp_path, port), load_plan=False)
    try:
        assert eng.call("Responder.Shutdown", {}) == "Done!"
        assert eng.proc is not None and eng.proc.wait(20) == 0
        assert "shutdown requested" in eng.log()
    finally:
        eng.kill()


def test_action_plan_accounts_and_timings(engine):
    assert engine.call("APIerSv1.SetAccount", {"Tenant": T, "Account": "5005"}) == "OK"
    timing = {"ActionsId": "ACT_TOPUP_100", "Time": "*asap", "Weight": 10}
    assert error_of(engine, "APIerSv1.SetActionPlanAccounts", {"Id": "AP_ACCS", "ActionPlan": [
        {**timing, "Time": ""}]}) == "MANDATORY_IE_MISSING:Action:ACT_TOPUP_100:[Time]"
    assert engine.call("APIerSv1.SetActionPlanAccounts", {"Id": "AP_ACCS", "ActionPlan": [timing],
                                                          "AccountIDs": [f"{T}:5005"]}) == "OK"
    acct = {"Tenant": T, "Account": "5005"}
    assert [p["ActionPlanId"] for p in engine.call("APIerSv1.GetAccountActionPlan", acct)] == ["AP_ACCS"]
    assert balance_of(engine, "5005", "MONETARY") == 100  # the *asap actions ran for the joining account
    [plan] = engine.call("APIerSv1.GetActionPlan", {"ID": "AP_ACCS"})
    assert list(plan["AccountIDs"]) == [f"{T}:5005"]
    assert engine.call("APIerSv1.RemoveActionTiming", {"ActionPlanId": "AP_ACCS", **acct}) == "OK"
    assert engine.call("APIerSv1.GetAccountActionPlan", acct) == []
    [plan] = engine.call("APIerSv1.GetActionPlan", {"ID": "AP_ACCS"})
    assert not plan["AccountIDs"]
    uuid = plan["ActionTimings"][0]["Uuid"]
    assert engine.call("APIerSv1.RemoveActionTiming", {"ActionPlanId": "AP_ACCS", "ActionTimingId": uuid}) == "OK"
    assert error_of(engine, "APIerSv1.GetActionPlan", {"ID": "AP_ACCS"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.RemoveActionTiming", {"ActionPlanId": "AP_ACCS"}) == "NOT_FOUND"
    assert engine.call("APIerSv1.GetAccountActionPlansIndexHealth", {}) == {
        "MissingAccountActionPlans": {}, "BrokenReferences": {}}


def test_apier_v2_repeats_answer_as_apier_v1(engine):
    acct = {"Tenant": T, "Account": "1001"}
    assert engine.call("APIerSv2.GetAccountActionTriggers", acct) == engine.call(
        "APIerSv1.GetAccountActionTriggers", acct)
    assert engine.call("APIerSv2.ResetAccountActionTriggers", {**acct, "Executed": False}) == "OK"
    plan = {"Id": "AP_V2", "ActionPlan": [{"ActionsId": "ACT_TOPUP_100", "Time": "*monthly", "Weight": 10}]}
    assert engine.call("APIerSv2.SetActionPlan", plan) == "OK"
    assert engine.call("APIerSv1.GetActionPlan", {"ID": "AP_V2"})[0]["Id"] == "AP_V2"
    assert engine.call("APIerSv1.RemoveActionPlan", {"ID": "AP_V2"}) == "OK"
    timing = {"TPid": "V2", "ID": "TM_V2", "Years": "2030", "Months": "", "MonthDays": "", "WeekDays": "1;2",
              "Time": "08:00:00"}
    assert engine.call("APIerSv2.SetTPTiming", timing) == "OK"
    assert engine.call("APIerSv2.GetTPTiming", {"TPid": "V2", "ID": "TM_V2"}) == engine.call(
        "APIerSv1.GetTPTiming", {"TPid": "V2", "ID": "TM_V2"}) == timing
    assert engine.call("APIerSv2.GetTPTimingIds", {"TPid": "V2"}) == ["TM_V2"]
    assert engine.call("APIerSv2.SetTPDestination", {"TPid": "V2", "ID": "DST_V2", "Prefixes": ["40"]}) == "OK"
    assert engine.call("APIerSv2.GetTPDestinationIDs", {"TPid": "V2"}) == ["DST_V2"]
    assert engine.call("APIerSv2.RemoveTPTiming", {"TPid": "V2", "ID": "TM_V2"}) == "OK"
    assert error_of(engine, "APIerSv1.GetTPTiming", {"TPid": "V2", "ID": "TM_V2"}) == "NOT_FOUND"


def test_session_diagnostics(engine):
    import time

    started = time.monotonic()
    assert engine.call("SessionSv1.Sleep", {"Duration": "200ms"}) == "OK"
    assert time.monotonic() - started >= 0.2
    assert error_of(engine, "SessionSv1.CapsError", {}) == "max concurrent rpc exceeded"
