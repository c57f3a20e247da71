"""The APIer, CDRs, CacheSv1, ConfigSv1, CoreSv1, RALsV1 and Responder methods CGRateS has, over JSON-RPC against
a running cgr-engine: their argument and reply shapes (ExternalCDR from APIerSv1/APIerSv2.GetCDRs, the CDR itself
from CDRsV1.GetCDRs), errors, and their effect on what the engine does next."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pycgrates.engine.units import format_duration, parse_time
from tests.engine_proc import EngineProcess
from tests.integration.cdrs_io import T, engine_overrides, start_engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[EngineProcess]:
    tmp = tmp_path_factory.mktemp("api_surface")
    eng = start_engine(tmp, lambda port: engine_overrides(tmp, port))
    try:
        yield eng
    finally:
        eng.kill()


def error_of(eng: EngineProcess, method: str, arg: Any) -> str:
    with pytest.raises(RuntimeError) as exc:
        eng.call(method, arg)
    return str(exc.value)


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
