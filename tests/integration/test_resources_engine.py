"""ResourceS in a real cgr-engine over JSON-RPC, with the Resources.csv of the tutorial, tutorial2 and oldtutorial
tariff plans loaded. The expected values are worked out by hand from the CSVs:

- tutorial/tutorial2 ``ResGroup1``: FLTR_RES (Account 1001, 1002 or 1003), active from 2014-07-29T15:00:00Z
  (tutorial2: 2019-03-01), TTL -1 (usages never expire), Limit 7, no AllocationMessage (the reply is the ID),
  Stored, Weight 10, ThresholdIDs *none;
- oldtutorial ``ResGroup2``: FLTR_DST_FS (Account 1001, 1002 or dan, Destination in DST_FS = prefix 10), TTL 3600s,
  Limit 8, AllocationMessage SPECIAL_1002, Stored, Weight 10; ``ResGroup3``: FLTR_RES_GR3 (Account 3001), TTL
  *unlimited, Limit 3, Blocker, not Stored, Weight 20; ``ResGroup1``: FLTR_1 (Account 1001 or 1002, Destination
  prefix 10 or 20, Subject matching the *rsr ``~^1.*1$``, Destination containing 1002), TTL 1s, Limit 7, Weight 20.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pycgrates.engine.cli import command
from tests.conftest import shared_data
from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides

T = "cgrates.org"
CONSOLE = command("console")


def start_engine(tmp: Path, store_interval: Any = "-1") -> EngineProcess:
    port = free_port()
    overrides = storage_overrides(tmp, port)
    overrides.update({"general": {"default_timezone": "UTC"}, "apiers": {"enabled": True},
                      "rals": {"enabled": True},
                      "resources": {"enabled": True, "store_interval": store_interval},
                      "sessions": {"enabled": True, "resources_conns": ["*internal"]}})
    return EngineProcess(make_config_dir(tmp / "cfg", overrides=overrides), port, tmp / "engine.log").start()


def load(eng: EngineProcess, plan: str) -> None:
    assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                    {"FolderPath": str(shared_data("tariffplans", plan))}) == "OK"


def error_of(eng: EngineProcess, method: str, arg: Any) -> str:
    with pytest.raises(RuntimeError) as exc:
        eng.call(method, arg)
    return str(exc.value)


def ev(usage_id: str, units: float = 1, time_: str | None = None, **fields: Any) -> dict:
    return {"Tenant": T, "ID": f"ev-{usage_id}", "Time": time_, "Event": fields,
            "APIOpts": {"*rsUsageID": usage_id, "*rsUnits": units}}


def usages(eng: EngineProcess, rid: str) -> dict[str, float]:
    return {k: u["Units"] for k, u in eng.call("ResourceSv1.GetResource", {"Tenant": T, "ID": rid})["Usages"].items()}


# ---------------------------------------------------------------------------------------------------- tutorials


@pytest.fixture(scope="module", params=["tutorial", "tutorial2"])
def tutorial(request, tmp_path_factory) -> Iterator[tuple[EngineProcess, str]]:
    eng = start_engine(tmp_path_factory.mktemp(request.param))
    try:
        load(eng, request.param)
        yield eng, request.param
    finally:
        eng.kill()


def test_tutorial_resgroup1_limit_reached_and_freed(tutorial):
    eng, plan = tutorial
    active_from = {"tutorial": "2014-07-29T15:00:00Z", "tutorial2": "2019-03-01T00:00:00Z"}[plan]
    assert eng.call("ResourceSv1.GetResource", {"Tenant": T, "ID": "ResGroup1"}) == \
        {"Tenant": T, "ID": "ResGroup1", "Usages": {}, "TTLIdx": None}
    assert eng.call("ResourceSv1.GetResourceWithConfig", {"ID": "ResGroup1"})["Config"] == {
        "Tenant": T, "ID": "ResGroup1", "FilterIDs": ["FLTR_RES"],
        "ActivationInterval": {"ActivationTime": active_from, "ExpiryTime": "0001-01-01T00:00:00Z"},
        "UsageTTL": -1, "Limit": 7, "AllocationMessage": "", "Blocker": False, "Stored": True, "Weight": 10,
        "ThresholdIDs": ["*none"]}
    # seven calls from the three accounts of FLTR_RES fill the limit of 7; no AllocationMessage: the ID answers
    for i, account in enumerate(["1001", "1002", "1003", "1001", "1002", "1003", "1001"]):
        assert eng.call("ResourceSv1.AllocateResources", ev(f"call{i}", Account=account)) == "ResGroup1"
    assert error_of(eng, "ResourceSv1.AllocateResources", ev("call7", Account="1002")) == "RESOURCE_UNAVAILABLE"
    assert error_of(eng, "ResourceSv1.AuthorizeResources", ev("call7", Account="1002")) == "RESOURCE_UNAUTHORIZED"
    # a call already counted may allocate again: its own unit is given back first
    assert eng.call("ResourceSv1.AllocateResources", ev("call3", Account="1001")) == "ResGroup1"
    assert error_of(eng, "ResourceSv1.AllocateResources", ev("call3", 2, Account="1001")) == "RESOURCE_UNAVAILABLE"
    # other accounts, and events before the activation time, match nothing
    assert error_of(eng, "ResourceSv1.AllocateResources", ev("x", Account="1004")) == "NOT_FOUND"
    before = {"tutorial": "2014-07-29T14:59:59Z", "tutorial2": "2019-02-28T23:59:59Z"}[plan]
    assert error_of(eng, "ResourceSv1.AllocateResources", ev("x", time_=before, Account="1001")) == "NOT_FOUND"
    [res] = eng.call("ResourceSv1.GetResourcesForEvent", ev("any", Account="1003"))
    assert res["TTLIdx"] is None and len(res["Usages"]) == 7
    assert {u["ExpiryTime"] for u in res["Usages"].values()} == {"0001-01-01T00:00:00Z"}  # TTL -1: never
    # freed: one release makes room for exactly one more
    assert eng.call("ResourceSv1.ReleaseResources", ev("call5", Account="1003")) == "OK"
    assert eng.call("ResourceSv1.AuthorizeResources", ev("call7", Account="1002")) == "ResGroup1"
    assert eng.call("ResourceSv1.AllocateResources", ev("call7", Account="1002")) == "ResGroup1"
    assert error_of(eng, "ResourceSv1.AllocateResources", ev("call8", Account="1002")) == "RESOURCE_UNAVAILABLE"
    assert eng.call("ResourceSv1.ReleaseResources", ev("never-allocated", Account="1001")) == "OK"  # TTL -1
    assert sorted(usages(eng, "ResGroup1")) == ["call0", "call1", "call2", "call3", "call4", "call6", "call7"]
    for i in (0, 1, 2, 3, 4, 6, 7):
        assert eng.call("ResourceSv1.ReleaseResources", ev(f"call{i}", Account="1001")) == "OK"
    assert usages(eng, "ResGroup1") == {}


def test_sessions_resources_flags_reach_resources(tutorial):
    """What SessionS sends today (the whole SessionS argument plus a top-level UsageID from OriginID) is accepted."""
    eng, _ = tutorial
    event = {"Tenant": T, "ID": "sess-1", "Event": {"Account": "1002", "OriginID": "orig-1", "ToR": "*voice",
                                                    "Destination": "1001"}}
    reply = eng.call("SessionSv1.AuthorizeEvent", {**event, "AuthorizeResources": True})
    assert reply["ResourceAllocation"] == "ResGroup1"
    assert usages(eng, "ResGroup1") == {}
    reply = eng.call("SessionSv1.InitiateSession", {**event, "AllocateResources": True})
    assert reply["ResourceAllocation"] == "ResGroup1"
    assert usages(eng, "ResGroup1") == {"orig-1": 1}
    assert eng.call("SessionSv1.TerminateSession", {**event, "ReleaseResources": True}) == "OK"
    assert usages(eng, "ResGroup1") == {}


def test_resource_profiles_through_apiers_and_the_console(tutorial):
    eng, _ = tutorial
    prf = {"Tenant": T, "ID": "RES_GR_TEST", "FilterIDs": ["*string:~*req.Account:2001"],
           "ActivationInterval": {"ActivationTime": "2014-07-14T14:25:00Z", "ExpiryTime": "0001-01-01T00:00:00Z"},
           "UsageTTL": 3600 * 10**9, "Limit": 10, "AllocationMessage": "MessageAllocation", "Blocker": True,
           "Stored": True, "Weight": 20, "ThresholdIDs": ["Val1"]}
    assert error_of(eng, "APIerSv1.SetResourceProfile", {**prf, "FilterIDs": ["*wrong:inline"]}) == (
        "SERVER_ERROR: broken reference to filter: <*wrong:inline> for item with ID: cgrates.org:RES_GR_TEST")
    assert error_of(eng, "APIerSv1.GetResourceProfile", {"Tenant": T, "ID": "RES_GR_TEST"}) == "NOT_FOUND"
    assert eng.call("APIerSv1.SetResourceProfile", {**prf, "APIOpts": {}}) == "OK"
    assert eng.call("APIerSv1.GetResourceProfile", {"Tenant": T, "ID": "RES_GR_TEST"}) == prf
    assert eng.call("APIerSv1.GetResourceProfileIDs", {"Tenant": T}) == ["RES_GR_TEST", "ResGroup1"]
    assert eng.call("ResourceSv1.GetResource", {"ID": "RES_GR_TEST"})["Usages"] == {}
    assert error_of(eng, "APIerSv1.SetResourceProfile", {"Tenant": T}) == "MANDATORY_IE_MISSING: [ID]"

    def console(*words: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{eng.rpc_port}", *words], cwd=REPO,
                              capture_output=True, text=True, timeout=30)

    out = console("resources_allocate", 'ID="c1"', 'Event={"Account":"2001"}',
                  'APIOpts={"*rsUsageID":"console-1","*rsUnits":4}')
    assert out.returncode == 0 and out.stdout.strip() == '"MessageAllocation"', out.stderr
    out = console("resources", 'ID="RES_GR_TEST"')
    assert out.returncode == 0 and '"console-1"' in out.stdout, out.stderr
    out = console("resources_profile_remove", 'ID="RES_GR_TEST"')
    assert out.returncode == 0 and out.stdout.strip() == '"OK"', out.stderr
    assert error_of(eng, "ResourceSv1.GetResource", {"ID": "RES_GR_TEST"}) == "NOT_FOUND"
    assert error_of(eng, "APIerSv1.RemoveResourceProfile", {"ID": "RES_GR_TEST"}) == "NOT_FOUND"
    assert eng.call("ResourceSv1.Ping", {}) == "Pong"


# ---------------------------------------------------------------------------------------------------- oldtutorial


@pytest.fixture(scope="module")
def oldtutorial(tmp_path_factory) -> Iterator[EngineProcess]:
    eng = start_engine(tmp_path_factory.mktemp("oldtutorial"))
    try:
        load(eng, "oldtutorial")
        yield eng
    finally:
        eng.kill()


def matching_ids(eng: EngineProcess, **fields: Any) -> list[str] | str:
    try:
        return [r["ID"] for r in eng.call("ResourceSv1.GetResourcesForEvent", ev("probe", **fields))]
    except RuntimeError as exc:
        return str(exc)


def test_oldtutorial_matching(oldtutorial):
    eng = oldtutorial
    assert matching_ids(eng, Unknown="unknown") == "NOT_FOUND"
    assert matching_ids(eng, Account="1001", Destination="10") == ["ResGroup2"]  # no Subject: FLTR_1 fails
    assert matching_ids(eng, Destination="20") == "NOT_FOUND"
    assert matching_ids(eng, Account="1002", Subject="test", Destination="1002") == ["ResGroup2"]
    assert matching_ids(eng, Account="dan", Destination="1002") == ["ResGroup2"]
    assert matching_ids(eng, Account="dan", Destination="2002") == "NOT_FOUND"  # DST_FS is prefix 10
    assert matching_ids(eng, Account="3001", Destination="3002") == ["ResGroup3"]


def test_oldtutorial_resgroup1_through_fltr_1(oldtutorial):
    assert matching_ids(oldtutorial, Account="1002", Subject="1001", Destination="1002") == ["ResGroup1",
                                                                                            "ResGroup2"]


def test_oldtutorial_resgroup2_message_limit_and_ttl(oldtutorial):
    eng = oldtutorial
    t0 = datetime.now(UTC)
    assert eng.call("ResourceSv1.AllocateResources", ev("dan1", 5, Account="dan", Destination="1002")) == \
        "SPECIAL_1002"
    assert eng.call("ResourceSv1.AllocateResources", ev("dan2", 3, Account="dan", Destination="1002")) == \
        "SPECIAL_1002"
    assert error_of(eng, "ResourceSv1.AllocateResources", ev("dan3", 1, Account="dan", Destination="1002")) == \
        "RESOURCE_UNAVAILABLE"
    res = eng.call("ResourceSv1.GetResource", {"ID": "ResGroup2"})
    assert res["TTLIdx"] == ["dan1", "dan2"] and {k: u["Units"] for k, u in res["Usages"].items()} == \
        {"dan1": 5, "dan2": 3}
    expiry = datetime.fromisoformat(res["Usages"]["dan1"]["ExpiryTime"].replace("Z", "+00:00"))
    assert 3595 <= (expiry - t0).total_seconds() <= 3605  # UsageTTL 3600s
    # the same usage again with 1 unit instead of 5 (a re-allocation), then room for 4 more
    assert eng.call("ResourceSv1.AllocateResources", ev("dan1", 1, Account="dan", Destination="1002")) == \
        "SPECIAL_1002"
    assert eng.call("ResourceSv1.AllocateResources", ev("dan3", 4, Account="dan", Destination="1002")) == \
        "SPECIAL_1002"
    assert usages(eng, "ResGroup2") == {"dan1": 1, "dan2": 3, "dan3": 4}
    # TTL 3600s: releasing a usage it does not count is an error, worded as CGRateS words it
    assert error_of(eng, "ResourceSv1.ReleaseResources", ev("nosuch", Account="dan", Destination="1002")) == \
        "cannot find usage record with id: nosuch"
    for uid in ("dan1", "dan2", "dan3"):
        assert eng.call("ResourceSv1.ReleaseResources", ev(uid, Account="dan", Destination="1002")) == "OK"
    assert usages(eng, "ResGroup2") == {}


def test_oldtutorial_resgroup3_reallocation_and_call_ttl(oldtutorial):
    """CGRateS's testV1RsTTL0 on ResGroup3 (Limit 3, *unlimited TTL), then a TTL given by the call."""
    eng = oldtutorial
    acc = {"Account": "3001", "Destination": "3002"}
    assert eng.call("ResourceSv1.AllocateResources", ev("u21", 1, **acc)) == "ResGroup3"
    assert eng.call("ResourceSv1.AllocateResources", ev("u21", 2, **acc)) == "ResGroup3"  # replaces its 1
    assert error_of(eng, "ResourceSv1.AllocateResources", ev("u22", 4, **acc)) == "RESOURCE_UNAVAILABLE"
    [res] = eng.call("ResourceSv1.GetResourcesForEvent", ev("u21", **acc))
    assert res["ID"] == "ResGroup3" and res["Usages"] == {
        "u21": {"Tenant": T, "ID": "u21", "ExpiryTime": "0001-01-01T00:00:00Z", "Units": 2}}
    assert eng.call("ResourceSv1.ReleaseResources", ev("u25", **acc)) == "OK"  # unlimited TTL: no error
    assert eng.call("ResourceSv1.ReleaseResources", {**ev("u25", **acc), "Tenant": ""}) == "OK"
    # a usage given a TTL by the call expires: 1 unit held for 300ms, then the last unit is free again
    short = ev("u23", 1, **acc)
    short["APIOpts"]["*rsUsageTTL"] = "300ms"
    assert eng.call("ResourceSv1.AllocateResources", short) == "ResGroup3"
    assert error_of(eng, "ResourceSv1.AllocateResources", ev("u24", 1, **acc)) == "RESOURCE_UNAVAILABLE"
    time.sleep(0.4)
    assert eng.call("ResourceSv1.AllocateResources", ev("u24", 1, **acc)) == "ResGroup3"
    assert usages(eng, "ResGroup3") == {"u21": 2, "u24": 1}
    for uid in ("u21", "u24"):
        eng.call("ResourceSv1.ReleaseResources", ev(uid, **acc))


# ---------------------------------------------------------------------------------------------------- kill -9


def test_stored_usages_survive_kill_9(tmp_path):
    """store_interval -1: what an allocation answered is on disk; Stored resources come back, the others not."""
    eng = start_engine(tmp_path)
    try:
        load(eng, "oldtutorial")
        for uid, units in (("a", 3), ("b", 4)):
            eng.call("ResourceSv1.AllocateResources", ev(uid, units, Account="dan", Destination="1002"))
        eng.call("ResourceSv1.AllocateResources", ev("r3", 2, Account="3001"))
        eng.call("ResourceSv1.ReleaseResources", ev("a", Account="dan", Destination="1002"))
        eng.call("ResourceSv1.AllocateResources", ev("c", 1, Account="dan", Destination="1002"))
        before = eng.call("ResourceSv1.GetResource", {"ID": "ResGroup2"})
        eng.kill()
        eng = start_engine(tmp_path)
        assert eng.call("ResourceSv1.GetResource", {"ID": "ResGroup2"}) == before  # Stored: back, expiry times too
        assert usages(eng, "ResGroup2") == {"b": 4, "c": 1}
        assert usages(eng, "ResGroup3") == {}  # not Stored: afresh
        # the limit of 8 counts the usages that came back
        assert eng.call("ResourceSv1.AllocateResources", ev("d", 3, Account="dan", Destination="1002")) == \
            "SPECIAL_1002"
        assert error_of(eng, "ResourceSv1.AllocateResources", ev("e", 1, Account="dan", Destination="1002")) == \
            "RESOURCE_UNAVAILABLE"
    finally:
        eng.kill()
