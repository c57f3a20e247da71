"""What SessionS sends ResourceS, ThresholdS and StatS, and what it answers, in a real cgr-engine over JSON-RPC with
the tutorial tariff plan (CGRateS's sessions.go):

- ResourceS gets the CGREvent with ``*rsUsageID`` = OriginID and ``*rsUnits`` = 1 over the client's options; its
  errors come back as ``RESOURCES_ERROR:<error>``; a session SessionS ends itself releases its resources;
- ThresholdS and StatS get an event with an ID, and the call's ThresholdIDs/StatIDs as ``*thdProfileIDs`` and
  ``*stsProfileIDs``; ProcessEvent answers per run as CGRateS (``*raw``; charger runs with ``*derived_reply``).

From the tutorial's CSVs: ResGroup1 (Account 1001, 1002 or 1003; Limit 7; usages never expire), THD_ACNT_1001
(MaxHits 1), THD_ACNT_1002 (MaxHits -1), Stats2 (Account 1001/1002, RunID *default, Destination 1001-1003) and
Stats2_1 (Account 1003, RunID *default, Destination 1001); chargers DEFAULT (RunID *default) and Raw (RunID *raw).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.engine_proc import EngineProcess
from tests.integration.test_sessions import set_only_monetary, start_engine

T = "cgrates.org"
CONNS = {"resources_conns": ["*internal"], "thresholds_conns": ["*internal"], "stats_conns": ["*internal"]}
SERVICES = {"resources": {"enabled": True, "store_interval": "-1"},
            "stats": {"enabled": True, "store_interval": "-1"},
            "thresholds": {"enabled": True, "store_interval": "-1", "apiers_conns": ["*internal"]},
            "sessions": CONNS}


@pytest.fixture
def tutorial(tmp_path) -> Iterator[EngineProcess]:
    eng = start_engine(tmp_path, "tutorial", SERVICES)
    yield eng
    eng.kill()


def call(origin_id: str = "", account: str = "1001", opts: dict | None = None, **fields: Any) -> dict:
    event = {"Account": account, "Destination": "1002", "ToR": "*voice", "RequestType": "*prepaid",
             "SetupTime": "2024-05-01T11:00:00Z", "AnswerTime": "2024-05-01T11:00:00Z", "Usage": "1m", **fields}
    if origin_id:
        event["OriginID"] = origin_id
    return {"Tenant": T, "ID": f"ev-{origin_id}", "Event": event, "APIOpts": opts or {}}


def error_of(eng: EngineProcess, method: str, arg: Any) -> str:
    with pytest.raises(RuntimeError) as exc:
        eng.call(method, arg)
    return str(exc.value)


def usages(eng: EngineProcess) -> dict[str, float]:
    got = eng.call("ResourceSv1.GetResource", {"Tenant": T, "ID": "ResGroup1"})["Usages"]
    return {k: u["Units"] for k, u in got.items()}


def hits(eng: EngineProcess, tid: str) -> int:
    return eng.call("ThresholdSv1.GetThreshold", {"Tenant": T, "ID": tid})["Hits"]


# ---------------------------------------------------------------------------------------------------- ResourceS


def test_resources_count_the_origin_id_once(tutorial):
    client_opts = {"*rsUsageID": "the-client's", "*rsUnits": 8}  # 8 would not fit in ResGroup1 (Limit 7)
    auth = tutorial.call("SessionSv1.AuthorizeEvent", {**call("o1", opts=client_opts), "AuthorizeResources": True})
    assert auth["ResourceAllocation"] == "ResGroup1"
    init = tutorial.call("SessionSv1.InitiateSession", {**call("o1", opts=client_opts), "AllocateResources": True})
    assert init["ResourceAllocation"] == "ResGroup1" and usages(tutorial) == {"o1": 1}
    # authorizing without an OriginID asks under a new ID; allocating needs one
    assert tutorial.call("SessionSv1.AuthorizeEvent", {**call(), "AuthorizeResources": True})[
        "ResourceAllocation"] == "ResGroup1"
    assert error_of(tutorial, "SessionSv1.InitiateSession", {**call(), "AllocateResources": True}) == \
        "MANDATORY_IE_MISSING: [OriginID]"
    for n in range(2, 8):
        tutorial.call("SessionSv1.ProcessMessage", {**call(f"o{n}"), "AllocateResources": True})
    assert len(usages(tutorial)) == 7
    # ResourceS's refusal, as CGRateS wraps it
    assert error_of(tutorial, "SessionSv1.ProcessMessage", {**call("o8"), "AllocateResources": True}) == \
        "RESOURCES_ERROR:RESOURCE_UNAVAILABLE"
    assert error_of(tutorial, "SessionSv1.AuthorizeEvent", {**call("o8"), "AuthorizeResources": True}) == \
        "RESOURCES_ERROR:RESOURCE_UNAUTHORIZED"
    assert tutorial.call("SessionSv1.TerminateSession", {**call("o1"), "ReleaseResources": True}) == "OK"
    assert "o1" not in usages(tutorial) and len(usages(tutorial)) == 6


def test_process_event_resources_flags(tutorial):
    # *resources alone asks nothing
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("p1"), "Flags": ["*resources"]})
    assert reply.get("ResourceAllocation") is None and usages(tutorial) == {}
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("p1"), "Flags": ["*resources:*allocate"]})
    assert reply["ResourceAllocation"] == {"*raw": "ResGroup1"} and usages(tutorial) == {"p1": 1}
    # each charger run's event with *derived_reply (the Raw charger's RunID *raw takes the *raw key, as in CGRateS)
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("p1"), "Flags": [
        "*chargers", "*resources:*authorize", "*resources:*derived_reply"]})
    assert reply["ResourceAllocation"] == {"*raw": "ResGroup1", "*default": "ResGroup1"}
    assert error_of(tutorial, "SessionSv1.ProcessEvent", {**call(), "Flags": ["*resources:*allocate"]}) == \
        "MANDATORY_IE_MISSING: [OriginID]"
    for n in range(2, 8):
        tutorial.call("SessionSv1.ProcessEvent", {**call(f"p{n}"), "Flags": ["*resources:*allocate"]})
    # a refusal: logged and PARTIALLY_EXECUTED, or with *blocker_error ResourceS's error at once
    assert error_of(tutorial, "SessionSv1.ProcessEvent", {**call("p8"), "Flags": ["*resources:*allocate"]}) == \
        "PARTIALLY_EXECUTED"
    assert error_of(tutorial, "SessionSv1.ProcessEvent", {**call("p8"), "Flags": [
        "*resources:*allocate", "*blocker_error"]}) == "RESOURCES_ERROR:RESOURCE_UNAVAILABLE"
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("p1"), "Flags": ["*resources:*release"]})
    assert reply["ResourceAllocation"] == {"*raw": "OK"} and "p1" not in usages(tutorial)


def test_sessions_ended_by_sessions_release_their_resources(tutorial):
    set_only_monetary(tutorial, "1001", 10)
    ttl = tutorial.call("SessionSv1.InitiateSession", {**call("ttl1", opts={"*sessionsTTL": "1s"}),
                                                       "InitSession": True, "AllocateResources": True})
    assert ttl["ResourceAllocation"] == "ResGroup1"
    tutorial.call("SessionSv1.InitiateSession", {**call("forced1"), "InitSession": True, "AllocateResources": True})
    assert usages(tutorial) == {"ttl1": 1, "forced1": 1}
    # no agent to ask: the forced disconnect ends the session here, and its usage goes with it
    assert tutorial.call("SessionSv1.ForceDisconnect", {"Filters": ["*string:~*req.OriginID:forced1"]}) == "OK"
    assert usages(tutorial) == {"ttl1": 1}
    deadline = time.monotonic() + 10
    while usages(tutorial) and time.monotonic() < deadline:  # no update within the TTL: terminated, released
        time.sleep(0.1)
    assert usages(tutorial) == {}
    assert tutorial.call("SessionSv1.GetActiveSessionsCount", {}) == 0


# ---------------------------------------------------------------------------------------------------- ThresholdS, StatS


def test_thresholds_and_stats_get_an_event_id_and_the_profile_ids(tutorial):
    without_id = {**call("t1", account="1002"), "ID": "", "ProcessThresholds": True}
    assert tutorial.call("SessionSv1.AuthorizeEvent", without_id)["ThresholdIDs"] == ["THD_ACNT_1002"]
    # ThresholdIDs name the profiles: THD_ACNT_1001's filter does not pass for 1002, nothing is counted
    named = {**without_id, "ThresholdIDs": ["THD_ACNT_1001"]}
    assert tutorial.call("SessionSv1.AuthorizeEvent", named)["ThresholdIDs"] is None
    assert (hits(tutorial, "THD_ACNT_1001"), hits(tutorial, "THD_ACNT_1002")) == (0, 1)
    stats = {**call("s1", RunID="*default"), "ProcessStats": True}
    assert tutorial.call("SessionSv1.InitiateSession", {**stats, "StatIDs": ["Stats2_1"]})["StatQueueIDs"] is None
    assert tutorial.call("SessionSv1.InitiateSession", stats)["StatQueueIDs"] == ["Stats2"]


def test_process_event_thresholds_and_stats_flags(tutorial):
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("e1", account="1002"), "ID": "", "Flags": [
        "*thresholds:*ids:THD_ACNT_1001"]})
    assert reply["ThresholdIDs"] == {"*raw": None}
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("e1", account="1002"), "Flags": ["*thresholds"]})
    assert reply["ThresholdIDs"] == {"*raw": ["THD_ACNT_1002"]}
    # the charger runs: only the *default run's event (RunID *default) is in Stats2
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("e2"), "Flags": [
        "*chargers", "*stats:*derived_reply"]})
    assert reply["StatQueueIDs"] == {"*raw": None, "*default": ["Stats2"]}
    # a threshold whose actions cannot run: ThresholdS answers PARTIALLY_EXECUTED, and so does SessionS, unless
    # *blocker_error asks for ThresholdS's error
    assert tutorial.call("APIerSv1.SetThresholdProfile", {
        "Tenant": T, "ID": "TH_BROKEN", "FilterIDs": ["*string:~*req.Account:1003"], "MaxHits": -1, "MinHits": 1,
        "Weight": 10, "ActionIDs": ["NO_SUCH_ACTIONS"]}) == "OK"
    broken = {**call("e3", account="1003"), "Flags": ["*thresholds"]}
    assert error_of(tutorial, "SessionSv1.ProcessEvent", broken) == "PARTIALLY_EXECUTED"
    assert error_of(tutorial, "SessionSv1.ProcessEvent", {**broken, "Flags": ["*thresholds", "*blocker_error"]}) == \
        "THRESHOLDS_ERROR:PARTIALLY_EXECUTED"


def test_process_event_attributes_per_run(tutorial):
    # the raw event's attributes under *raw (CGRateS's key), the rest of the flow on the altered event
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("a1"), "Flags": ["*attributes"]})
    assert list(reply["Attributes"]) == ["*raw"]
    assert reply["Attributes"]["*raw"]["MatchedProfiles"] == ["cgrates.org:ATTR_1001_SESSIONAUTH"]
    assert reply["Attributes"]["*raw"]["CGREvent"]["Event"]["Password"] == "CGRateS.org"
    # with *chargers and *derived_reply each charger run's event too, keyed by its RunID
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("a2"), "Flags": [
        "*chargers", "*attributes:*derived_reply"]})
    assert set(reply["Attributes"]) == {"*raw", "*default"}
    assert reply["Attributes"]["*default"]["CGREvent"]["Event"]["RunID"] == "*default"
    # an account no profile matches: no entry at all
    reply = tutorial.call("SessionSv1.ProcessEvent", {**call("a3", account="1010"), "Flags": ["*attributes"]})
    assert not reply["Attributes"]
