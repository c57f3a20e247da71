"""Session replication between two real engines sharing one Redis DataDB: engine A runs the sessions and copies
them to B (``sessions.replication_conns``); A is killed with kill -9 with every session open; the agents' next
Update and Terminate reach B, which takes each session over from its passive copy and ends it with one CDR, and
the money balances: what left the accounts equals the CDRs' costs.

CGRateS's oldtutorial plan: 1001→1004 at peak is 0.8 connect fee, then 0.4/min in 30 s steps for the first
minute and 0.2/min in 10 s steps after it.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tests.conftest import shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides
from tests.integration.test_sessions import SESSIONS_CONFIG, balances, set_only_monetary
from tests.integration.test_storage_engines import RedisServer

SESSIONS = 12
ACCOUNTS = ("1001", "1002", "1003")
START_CREDIT = Decimal(100)


def engine(tmp_path, name: str, redis_port: int, extra: dict | None = None) -> EngineProcess:
    port = free_port()
    overrides = storage_overrides(tmp_path / name, port)
    for section, values in SESSIONS_CONFIG.items():
        overrides.setdefault(section, {}).update(values)
    overrides["general"] = {**overrides.get("general", {}), "node_id": name}
    overrides["data_db"] = {"db_type": "*redis", "db_host": "127.0.0.1", "db_port": redis_port, "db_name": "10"}
    for section, values in (extra or {}).items():
        overrides.setdefault(section, {}).update(values)
    return EngineProcess(make_config_dir(tmp_path / name / "cfg", overrides=overrides), port,
                         tmp_path / f"{name}.log").start()


def event(n: int, **fields: object) -> dict:
    return {"Tenant": "cgrates.org", "ID": f"ev{n}", "Event": {
        "ToR": "*voice", "OriginID": f"rep{n}", "OriginHost": "10.0.0.1", "RequestType": "*prepaid",
        "Account": ACCOUNTS[n % len(ACCOUNTS)], "Subject": ACCOUNTS[n % len(ACCOUNTS)], "Destination": "1004",
        "Category": "call", "SetupTime": "2016-01-05T18:30:49Z", "AnswerTime": "2016-01-05T18:31:05Z",
        **fields}}


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def passive_count(eng: EngineProcess) -> int:
    return eng.call("SessionSv1.GetPassiveSessionsCount", {})


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


def test_a_standby_takes_the_sessions_of_a_killed_engine_over_and_the_money_balances(tmp_path, redis):
    standby = engine(tmp_path, "B", redis.port)
    active = engine(tmp_path, "A", redis.port, {
        "rpc_conns": {"standby": {"conns": [{"address": f"127.0.0.1:{standby.rpc_port}", "transport": "*json"}]}},
        "sessions": {"replication_conns": ["standby"]}})
    try:
        folder = shared_data("tariffplans", "oldtutorial")
        assert active.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(folder)}) == "OK"
        for account in ACCOUNTS:
            set_only_monetary(active, account, float(START_CREDIT))

        for n in range(SESSIONS):
            init = active.call("SessionSv1.InitiateSession", {"InitSession": True, **event(n, Usage="90s")})
            assert init["MaxUsage"] == 90 * 10**9
        for n in range(0, SESSIONS, 2):  # half of them report 2 minutes on A before it dies
            active.call("SessionSv1.UpdateSession", {"UpdateSession": True, **event(n, Usage="30s")})
        # every session is copied to B as it changes; none of them is B's yet
        wait_for(lambda: passive_count(standby) == SESSIONS)
        assert standby.call("SessionSv1.GetActiveSessionsCount", {}) == 0
        [copy] = standby.call("SessionSv1.GetPassiveSessions", {"Filters": ["*string:~*req.OriginID:rep0"]})
        assert copy["Usage"] == 120 * 10**9 and copy["NodeID"] == "B"

        active.kill()

        # the agents' traffic now reaches B: each session is taken over and ended there, once
        for n in range(SESSIONS):
            upd = standby.call("SessionSv1.UpdateSession", {"UpdateSession": True, **event(n, Usage="20s")})
            assert upd["MaxUsage"] == 20 * 10**9
        assert passive_count(standby) == 0 and standby.call("SessionSv1.GetActiveSessionsCount", {}) == SESSIONS
        for n in range(SESSIONS):
            total = "140s" if n % 2 == 0 else "110s"
            assert standby.call("SessionSv1.TerminateSession", {"TerminateSession": True,
                                                                **event(n, Usage=total)}) == "OK"
            assert standby.call("SessionSv1.ProcessCDR", event(n, Usage=total)) == "OK"

        cdrs = standby.call("CDRsV1.GetCDRs", {"RunIDs": ["*default"]})
        assert sorted(c["OriginID"] for c in cdrs) == sorted(f"rep{n}" for n in range(SESSIONS))
        # 140 s: 0.8 + 2 × 0.2 (first minute) + 8 × 10 s at 0.2/min = 1.46667; 110 s: 0.8 + 0.4 + 5 × 10 s =
        # 1.36667; the CDR's cost rounded to the plan's 4 decimals
        costs = {c["OriginID"]: Decimal(str(c["Cost"])) for c in cdrs}
        assert costs["rep0"] == Decimal("1.4667") and costs["rep1"] == Decimal("1.3667")
        spent = sum(START_CREDIT - sum(balances(standby, a, "*monetary")) for a in ACCOUNTS)
        assert spent == sum(costs.values())
    finally:
        active.kill()
        standby.kill()


def test_activate_deactivate_and_backup_by_hand(tmp_path, redis):
    eng = engine(tmp_path, "A", redis.port)
    try:
        folder = shared_data("tariffplans", "oldtutorial")
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(folder)}) == "OK"
        set_only_monetary(eng, "1001", float(START_CREDIT))
        eng.call("SessionSv1.InitiateSession", {"InitSession": True, **event(0, Usage="90s")})
        [cgrid] = {s["CGRID"] for s in eng.call("SessionSv1.GetActiveSessions", {})}
        runs = eng.call("SessionSv1.GetActiveSessionsCount", {})
        assert eng.call("SessionSv1.BackupActiveSessions", {}) == 1
        assert eng.call("SessionSv1.DeactivateSessions", {"IDs": [cgrid]}) == "OK"
        assert eng.call("SessionSv1.GetActiveSessionsCount", {}) == 0 and passive_count(eng) == runs
        with pytest.raises(RuntimeError, match="PARTIALLY_EXECUTED"):
            eng.call("SessionSv1.DeactivateSessions", {"IDs": [cgrid]})
        assert eng.call("SessionSv1.ActivateSessions", {"IDs": [cgrid]}) == "OK"
        assert passive_count(eng) == 0
        eng.call("SessionSv1.TerminateSession", {"TerminateSession": True, **event(0, Usage="60s")})
        # 0.8 + 2 × 0.2: charged once, whatever the moves between the lists
        assert balances(eng, "1001", "*monetary") == [START_CREDIT - Decimal("1.2")]
    finally:
        eng.kill()
