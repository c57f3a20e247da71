"""ThresholdS in a real cgr-engine over JSON-RPC, with the Thresholds.csv of CGRateS's tutorial and oldtutorial
tariff plans (tutorial2 has none): a threshold hit, MinSleep respected, MaxHits reached, the actions they run in
RALs, the APIerSv1 profile methods and console commands, and the hits back after kill -9 (store_interval -1).

Expected values come from the CSVs (../shared/data/tariffplans/<tp>/Thresholds.csv, Filters.csv, Actions.csv):

- tutorial ``THD_ACNT_1001``: ``*string:~*req.Account:1001``, active from 2014-07-29T15:00:00Z, MaxHits 1, MinHits 1,
  MinSleep 1s, ActionIDs ACT_LOG_WARNING (``*log``), Async. ``THD_ACNT_1002``: the same for 1002 with MaxHits -1.
- oldtutorial ``THD_STATS_3``: EventType StatUpdate, StatID STATS_DAILY_DE, ``*gt:~*req.TCD:3h``, MaxHits 1,
  TOPUP_100SMS_DE_MOBILE (``*topup`` 100 ``*sms`` on DST_DE_MOBILE). ``THD_STATS_2``: StatID STATS_HOURLY_DE,
  ``*gt:~*req.TCD:30m``, MaxHits -1, DISABLE_AND_LOG (``*log`` and ``*disable_account``). ``THD_RES_1``: EventType
  ResourceUpdate, ResourceID RES_GRP_1, ``*gte:~*req.Usage:10``. ``THD_CDRS_1``: Account 1007 and
  ``*string:~*opts.*eventType:CDR``, MaxHits 1.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pycgrates.engine.cli import command
from pycgrates.engine.units import HOUR, MINUTE, SECOND, parse_time
from tests.conftest import shared_data
from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides

T = "cgrates.org"
ZERO = "0001-01-01T00:00:00Z"
CONSOLE = command("console")


def engine_config(tmp: Path, port: int, extra: dict | None = None) -> Path:
    overrides = storage_overrides(tmp, port)
    overrides.update({"general": {"log_level": 6, "default_timezone": "UTC"}, "rals": {"enabled": True},
                      "apiers": {"enabled": True}, "schedulers": {"enabled": True},
                      "thresholds": {"enabled": True, "store_interval": "-1", "apiers_conns": ["*internal"]},
                      **(extra or {})})
    return make_config_dir(tmp / "cfg", overrides=overrides)


def start(tmp: Path, tariffplan: str | None, extra: dict | None = None) -> EngineProcess:
    port = free_port()
    eng = EngineProcess(engine_config(tmp, port, extra), port, tmp / "engine.log").start()
    if tariffplan:
        folder = shared_data("tariffplans", tariffplan)
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(folder)}) == "OK"
    return eng


@pytest.fixture
def tutorial(tmp_path) -> Iterator[EngineProcess]:
    eng = start(tmp_path, "tutorial")
    yield eng
    eng.kill()


@pytest.fixture
def oldtutorial(tmp_path) -> Iterator[EngineProcess]:
    eng = start(tmp_path, "oldtutorial")
    yield eng
    eng.kill()


def process(eng: EngineProcess, event: dict, **opts: Any) -> list[str] | str:
    """The reply, or the error string."""
    try:
        return eng.call("ThresholdSv1.ProcessEvent", {"Tenant": T, "ID": "ev", "Event": event, "APIOpts": opts})
    except RuntimeError as exc:
        return str(exc)


def threshold(eng: EngineProcess, tid: str) -> dict:
    return eng.call("ThresholdSv1.GetThreshold", {"Tenant": T, "ID": tid})


def log_lines(eng: EngineProcess, text: str) -> int:
    return eng.log().count(text)


def wait_for_log(eng: EngineProcess, text: str, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while log_lines(eng, text) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log_lines(eng, text) == count


LOG_1001 = 'LOG Account: {"ID":"cgrates.org:1001"'
LOG_1002 = 'LOG Account: {"ID":"cgrates.org:1002"'


def test_tutorial_profiles_load_as_the_csv_says(tutorial):
    assert tutorial.call("APIerSv1.GetThresholdProfileIDs", {"Tenant": T}) == ["THD_ACNT_1001", "THD_ACNT_1002"]
    assert tutorial.call("APIerSv1.GetThresholdProfileCount", {"Tenant": T}) == 2
    assert tutorial.call("APIerSv1.GetThresholdProfile", {"Tenant": T, "ID": "THD_ACNT_1001"}) == {
        "Tenant": T, "ID": "THD_ACNT_1001", "FilterIDs": ["FLTR_ACNT_1001"],
        "ActivationInterval": {"ActivationTime": "2014-07-29T15:00:00Z", "ExpiryTime": ZERO},
        "MaxHits": 1, "MinHits": 1, "MinSleep": SECOND, "Blocker": False, "Weight": 10,
        "ActionIDs": ["ACT_LOG_WARNING"], "Async": True, "EeIDs": []}
    assert tutorial.call("ThresholdSv1.GetThresholdIDs", {"Tenant": T}) == ["THD_ACNT_1001", "THD_ACNT_1002"]
    assert threshold(tutorial, "THD_ACNT_1002") == {"Tenant": T, "ID": "THD_ACNT_1002", "Hits": 0, "Snooze": ZERO}
    assert tutorial.call("ThresholdSv1.GetThresholdsForEvent", {"Tenant": T, "ID": "e", "Event": {
        "Account": "1002"}}) == [{"Tenant": T, "ID": "THD_ACNT_1002", "Hits": 0, "Snooze": ZERO}]


def test_tutorial_hit_max_hits_and_min_sleep(tutorial):
    # before the profiles' activation time nothing matches
    assert tutorial.call("ThresholdSv1.Ping", {}) == "Pong"
    with pytest.raises(RuntimeError, match=r"^NOT_FOUND$"):
        tutorial.call("ThresholdSv1.ProcessEvent", {"Tenant": T, "ID": "old", "Time": "2014-07-29T14:59:59Z",
                                                    "Event": {"Account": "1001"}})
    # THD_ACNT_1001: MaxHits 1 — the first event hits and logs the account (Async), the second is not counted
    assert process(tutorial, {"Account": "1001"}) == ["THD_ACNT_1001"]
    assert threshold(tutorial, "THD_ACNT_1001")["Hits"] == 1
    wait_for_log(tutorial, LOG_1001, 1)
    assert process(tutorial, {"Account": "1001"}) == []
    assert threshold(tutorial, "THD_ACNT_1001")["Hits"] == 1
    # THD_ACNT_1002: MaxHits -1, MinSleep 1s — hit 1 fires, hit 2 at once is snoozed, hit 3 after 1s fires again
    before = time.time()
    assert process(tutorial, {"Account": "1002"}) == ["THD_ACNT_1002"]
    first = threshold(tutorial, "THD_ACNT_1002")
    snooze = parse_time(first["Snooze"]).timestamp()
    assert first["Hits"] == 1 and before + 1 <= snooze <= time.time() + 1  # the hit's time + MinSleep
    wait_for_log(tutorial, LOG_1002, 1)
    assert process(tutorial, {"Account": "1002"}) == ["THD_ACNT_1002"]
    assert threshold(tutorial, "THD_ACNT_1002") == {**first, "Hits": 2}  # snoozed: Snooze unchanged
    time.sleep(max(0.0, snooze - time.time()) + 0.05)
    assert process(tutorial, {"Account": "1002"}) == ["THD_ACNT_1002"]
    third = threshold(tutorial, "THD_ACNT_1002")
    assert third["Hits"] == 3 and parse_time(third["Snooze"]).timestamp() >= snooze + 1
    wait_for_log(tutorial, LOG_1002, 2)
    # ResetThreshold: Hits 0 and no snooze, as CGRateS's
    assert tutorial.call("ThresholdSv1.ResetThreshold", {"Tenant": T, "ID": "THD_ACNT_1002"}) == "OK"
    assert threshold(tutorial, "THD_ACNT_1002") == {"Tenant": T, "ID": "THD_ACNT_1002", "Hits": 0, "Snooze": ZERO}


def test_oldtutorial_stat_resource_and_cdr_thresholds_run_their_actions(oldtutorial):
    eng = oldtutorial
    daily = {"EventType": "StatUpdate", "StatID": "STATS_DAILY_DE"}
    # THD_STATS_3: TCD must exceed 3h; the account comes from the *accountID option (a StatUpdate has none)
    assert process(eng, {**daily, "TCD": 3 * HOUR}, **{"*eventType": "StatUpdate"}) == "NOT_FOUND"
    assert process(eng, {**daily, "TCD": 3 * HOUR + SECOND}, **{"*accountID": "1001"}) == ["THD_STATS_3"]
    sms = eng.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1001"})["BalanceMap"]["*sms"]
    assert [(b["Value"], b["DestinationIDs"], b["Weight"]) for b in sms] == [(100, {"DST_DE_MOBILE": True}, 10)]
    assert process(eng, {**daily, "TCD": 4 * HOUR}, **{"*accountID": "1001"}) == []  # MaxHits 1 reached
    sms = eng.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1001"})["BalanceMap"]["*sms"]
    assert [b["Value"] for b in sms] == [100]
    assert threshold(eng, "THD_STATS_3")["Hits"] == 1
    # THD_STATS_2: TCD over 30m disables the account and logs it
    hourly = {"EventType": "StatUpdate", "StatID": "STATS_HOURLY_DE", "TCD": 30 * MINUTE + SECOND}
    assert eng.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1002"})["Disabled"] is False
    assert process(eng, hourly, **{"*accountID": "1002"}) == ["THD_STATS_2"]
    assert eng.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1002"})["Disabled"] is True
    wait_for_log(eng, 'LOG Account: {"ID":"cgrates.org:1002"', 1)
    # THD_RES_1: 10 units of RES_GRP_1 in use or more
    resource = {"EventType": "ResourceUpdate", "ResourceID": "RES_GRP_1"}
    assert process(eng, {**resource, "Usage": 9}) == "NOT_FOUND"
    assert process(eng, {**resource, "Usage": 10}) == ["THD_RES_1"]
    # THD_CDRS_1: CDR events of 1007 (as CDRs marks them), MaxHits 1
    assert process(eng, {"Account": "1007"}) == "NOT_FOUND"
    assert process(eng, {"Account": "1007"}, **{"*eventType": "CDR"}) == ["THD_CDRS_1"]
    assert process(eng, {"Account": "1007"}, **{"*eventType": "CDR"}) == []
    assert threshold(eng, "THD_CDRS_1")["Hits"] == 1


def test_profile_methods_and_console_commands(tmp_path):
    eng = start(tmp_path, None)
    try:
        prf = {"Tenant": T, "ID": "TH_API", "FilterIDs": ["*string:~*req.Account:3001"], "ActivationInterval": None,
               "MaxHits": 2, "MinHits": 1, "MinSleep": 0, "Blocker": False, "Weight": 20, "ActionIDs": [],
               "Async": False, "EeIDs": []}
        assert eng.call("APIerSv1.SetThresholdProfile", {**prf, "APIOpts": {}}) == "OK"
        assert eng.call("APIerSv1.GetThresholdProfile", {"Tenant": T, "ID": "TH_API"}) == prf
        assert process(eng, {"Account": "3001"}) == ["TH_API"]
        with pytest.raises(RuntimeError, match=r"^MANDATORY_IE_MISSING: \[ID\]$"):
            eng.call("ThresholdSv1.ProcessEvent", {"Tenant": T, "Event": {"Account": "3001"}})

        def console(*words: str) -> subprocess.CompletedProcess:
            return subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{eng.rpc_port}", *words], cwd=REPO,
                                  capture_output=True, text=True, timeout=30)

        out = console("threshold", 'ID="TH_API"')
        assert out.returncode == 0 and '"Hits": 1' in out.stdout, out.stderr
        out = console("thresholds_process_event", 'ID="c1"', 'Event={"Account":"3001"}')
        assert out.returncode == 0 and '"TH_API"' in out.stdout, out.stderr
        out = console("thresholds_profile_ids")
        assert out.returncode == 0 and '"TH_API"' in out.stdout, out.stderr
        assert threshold(eng, "TH_API")["Hits"] == 2
        assert process(eng, {"Account": "3001"}) == []  # MaxHits 2
        out = console("thresholds_profile_remove", 'ID="TH_API"')
        assert out.returncode == 0 and out.stdout.strip() == '"OK"', out.stderr
        with pytest.raises(RuntimeError, match=r"^NOT_FOUND$"):
            threshold(eng, "TH_API")
        assert eng.call("ThresholdSv1.GetThresholdIDs", {"Tenant": T}) == []
    finally:
        eng.kill()


def test_hits_are_back_after_kill_9(tmp_path):
    eng = start(tmp_path, "tutorial")
    try:
        assert process(eng, {"Account": "1001"}) == ["THD_ACNT_1001"]
        assert process(eng, {"Account": "1002"}) == ["THD_ACNT_1002"]
        assert process(eng, {"Account": "1002"}) == ["THD_ACNT_1002"]
        before = {tid: threshold(eng, tid) for tid in ("THD_ACNT_1001", "THD_ACNT_1002")}
        assert (before["THD_ACNT_1001"]["Hits"], before["THD_ACNT_1002"]["Hits"]) == (1, 2)
    finally:
        eng.kill()  # kill -9 right after the replies: store_interval -1 wrote them before answering
    eng = EngineProcess(eng.config_dir, eng.rpc_port, tmp_path / "engine2.log").start()
    try:
        assert {tid: threshold(eng, tid) for tid in before} == before
        assert process(eng, {"Account": "1001"}) == []  # MaxHits 1 still reached
        assert process(eng, {"Account": "1002"}) == ["THD_ACNT_1002"]
        assert threshold(eng, "THD_ACNT_1002")["Hits"] == 3
    finally:
        eng.kill()


def test_sessions_and_cdrs_send_their_events(tmp_path):
    """SessionS (*thresholds flags: ProcessThresholds) and CDRs (thresholds_conns, per charged run) reach ThresholdS."""
    eng = start(tmp_path, "tutorial", {
        "chargers": {"enabled": True, "attributes_conns": ["*internal"]}, "attributes": {"enabled": True},
        "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"],
                 "thresholds_conns": ["*internal"]},
        "sessions": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"],
                     "thresholds_conns": ["*internal"]}})
    try:
        ev = {"Account": "1002", "Destination": "1001", "OriginID": "th-1", "RequestType": "*postpaid",
              "ToR": "*voice", "SetupTime": "2024-05-01T11:00:00Z", "AnswerTime": "2024-05-01T11:00:00Z",
              "Usage": "1m"}
        auth = eng.call("SessionSv1.AuthorizeEvent", {"Tenant": T, "ID": "auth-1", "ProcessThresholds": True,
                                                      "Event": ev})
        assert auth["ThresholdIDs"] == ["THD_ACNT_1002"]
        assert threshold(eng, "THD_ACNT_1002")["Hits"] == 1
        assert eng.call("CDRsV1.ProcessEvent", {"Flags": ["*thresholds"], "Tenant": T, "ID": "cdr-1",
                                                "Event": {**ev, "OriginID": "th-2"}}) == "OK"
        assert threshold(eng, "THD_ACNT_1002")["Hits"] == 3  # the tutorial's two chargers: *default and *raw
    finally:
        eng.kill()


def test_hits_written_at_a_graceful_stop_when_store_interval_is_empty(tmp_path):
    eng = start(tmp_path, "tutorial", {"thresholds": {"enabled": True, "store_interval": "",
                                                      "apiers_conns": ["*internal"]}})
    try:
        assert process(eng, {"Account": "1002"}) == ["THD_ACNT_1002"]
        assert eng.terminate() == 0  # SIGTERM: ThresholdS writes what changed as it stops
    finally:
        eng.kill()
    eng = EngineProcess(eng.config_dir, eng.rpc_port, tmp_path / "engine2.log").start()
    try:
        assert threshold(eng, "THD_ACNT_1002")["Hits"] == 1
    finally:
        eng.kill()
