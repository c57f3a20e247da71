"""Two engines on one Redis DataDB and one PostgreSQL StorDB behind a dispatching engine: 1,000 concurrent prepaid
sessions over 100 accounts, spread over both engines by DispatcherS (``*hash`` of the Account), each engine
copying its sessions to the other (``sessions.replication_conns``). Then one engine is killed with kill -9 with
every session open: the dispatcher sends its accounts' traffic to the other, which takes each session over from
its passive copy; every session ends with one CDR and what left the accounts equals the CDRs' costs, to the last
decimal.

CGRateS's oldtutorial plan, 1001→1004 at peak: 0.8 connect fee, 0.4/min in 30 s steps for the first minute, then
0.2/min in 10 s steps; a call of 140 s costs 0.8 + 0.4 + 8 × 0.03333 = 1.46667, 1.4667 rounded to the plan's 4
decimals.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from pycgrates.engine.rpc.client import RPCClient
from tests.conftest import require_service, shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides
from tests.integration.test_sessions import SESSIONS_CONFIG
from tests.integration.test_storage_engines import RedisServer

pytestmark = pytest.mark.slow

SESSIONS = 1000
ACCOUNTS = [f"so{n:03d}" for n in range(100)]
CREDIT = Decimal(100)
T = "cgrates.org"


def pool_engine(tmp_path, name: str, port: int, peer_port: int, redis_port: int, schema: str) -> EngineProcess:
    over = storage_overrides(tmp_path / name, port)
    for section, values in SESSIONS_CONFIG.items():
        over.setdefault(section, {}).update(values)
    over["general"] = {**over.get("general", {}), "node_id": name, "log_level": 4}
    over["data_db"] = {"db_type": "*redis", "db_host": "127.0.0.1", "db_port": redis_port, "db_name": "10"}
    over["stor_db"] = {"db_type": "*postgres", "db_host": "127.0.0.1", "db_port": 5432, "db_name": "cgrates",
                       "db_user": "cgrates", "db_password": "CGRateS.org", "opts": {"pgSchema": schema}}
    over["rpc_conns"] = {"peer": {"conns": [{"address": f"127.0.0.1:{peer_port}", "transport": "*json"}]}}
    over["sessions"]["replication_conns"] = ["peer"]
    return EngineProcess(make_config_dir(tmp_path / name / "cfg", overrides=over), port,
                         tmp_path / f"{name}.log").start()


def dispatcher_engine(tmp_path, pool: dict[str, int]) -> EngineProcess:
    port = free_port()
    over = storage_overrides(tmp_path / "D", port)
    over["data_db"]["db_type"] = over["stor_db"]["db_type"] = "*internal"
    over["general"] = {"node_id": "D", "log_level": 4}
    over["dispatchers"] = {"enabled": True}
    over["apiers"] = {"enabled": True}
    eng = EngineProcess(make_config_dir(tmp_path / "D" / "cfg", overrides=over), port, tmp_path / "D.log").start()
    for name, host_port in pool.items():
        assert eng.call("APIerSv1.SetDispatcherHost", {
            "Tenant": T, "ID": name, "Address": f"127.0.0.1:{host_port}", "Transport": "*json",
            "Reconnects": 0, "ConnectTimeout": "1s", "ReplyTimeout": "10s"}) == "OK"
    assert eng.call("APIerSv1.SetDispatcherProfile", {
        "Tenant": T, "ID": "POOL", "Subsystems": ["*any"], "Strategy": "*hash",
        "StrategyParams": {"*hash": "~*req.Account"}, "Weight": 10,
        "Hosts": [{"ID": name, "Weight": 10} for name in pool]}) == "OK"
    return eng


def event(n: int, **fields: object) -> dict:
    return {"Tenant": T, "ID": f"so-{n}", "Event": {
        "ToR": "*voice", "OriginID": f"so-{n}", "OriginHost": "10.0.0.1", "RequestType": "*prepaid",
        "Account": ACCOUNTS[n % len(ACCOUNTS)], "Subject": "1001", "Destination": "1004", "Category": "call",
        "SetupTime": "2016-01-05T18:30:49Z", "AnswerTime": "2016-01-05T18:31:05Z", **fields}}


async def run_all(address: str, calls: list[tuple[str, dict]], in_flight: int = 64) -> list:
    clients = [RPCClient(address, reply_timeout=30) for _ in range(8)]
    gate = asyncio.Semaphore(in_flight)

    async def one(i: int, method: str, arg: dict):
        async with gate:
            return await clients[i % len(clients)].call(method, arg)

    try:
        return await asyncio.gather(*(one(i, m, a) for i, (m, a) in enumerate(calls)))
    finally:
        for c in clients:
            await c.close()


async def wait_for(condition, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.1)


@pytest.fixture
def postgres_schema():
    require_service("127.0.0.1", 5432, "PostgreSQL (bash .ci/services starts it)")
    schema = f"so{uuid.uuid4().hex[:10]}"
    yield schema
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="cgrates", password="CGRateS.org",
                                     database="cgrates")
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


async def test_two_engines_behind_a_dispatcher_survive_a_kill_9_with_the_money_balanced(tmp_path, postgres_schema):
    redis = RedisServer(tmp_path)
    ports = {"A": free_port(), "B": free_port()}
    engines: dict[str, EngineProcess] = {}
    dsp = None
    try:
        engines["A"] = pool_engine(tmp_path, "A", ports["A"], ports["B"], redis.port, postgres_schema)
        engines["B"] = pool_engine(tmp_path, "B", ports["B"], ports["A"], redis.port, postgres_schema)
        a, b = engines["A"], engines["B"]
        folder = shared_data("tariffplans", "oldtutorial")
        assert a.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(folder)}) == "OK"
        for account in ACCOUNTS:
            assert a.call("APIerSv1.SetAccount", {"Tenant": T, "Account": account}) == "OK"
            assert a.call("APIerSv1.AddBalance", {"Tenant": T, "Account": account, "BalanceType": "*monetary",
                                                  "Value": float(CREDIT)}) == "OK"
        dsp = dispatcher_engine(tmp_path, ports)
        address = f"127.0.0.1:{dsp.rpc_port}"

        inits = await run_all(address, [("SessionSv1.InitiateSession", {"InitSession": True,
                                                                          **event(n, Usage="90s")})
                                        for n in range(SESSIONS)])
        assert all(r["MaxUsage"] == 90 * 10**9 for r in inits)
        # both engines run sessions, each holding the other's as passive copies
        counts = {name: e.call("SessionSv1.GetActiveSessionsCount", {}) for name, e in engines.items()}
        assert sum(counts.values()) == SESSIONS and min(counts.values()) > 0, counts
        await wait_for(lambda: b.call("SessionSv1.GetPassiveSessionsCount", {}) == counts["A"]
                       and a.call("SessionSv1.GetPassiveSessionsCount", {}) == counts["B"])
        updates = await run_all(address, [("SessionSv1.UpdateSession", {"UpdateSession": True,
                                                                         **event(n, Usage="30s")})
                                          for n in range(SESSIONS)])
        assert all(r["MaxUsage"] == 30 * 10**9 for r in updates)
        await wait_for(lambda: sum(s["Usage"] for s in b.call("SessionSv1.GetPassiveSessions", {}))
                       == counts["A"] * 120 * 10**9)

        a.kill()  # every session open

        updates = await run_all(address, [("SessionSv1.UpdateSession", {"UpdateSession": True,
                                                                         **event(n, Usage="20s")})
                                          for n in range(SESSIONS)])
        assert all(r["MaxUsage"] == 20 * 10**9 for r in updates)
        assert b.call("SessionSv1.GetActiveSessionsCount", {}) == SESSIONS
        ends = await run_all(address, [("SessionSv1.TerminateSession", {"TerminateSession": True,
                                                                         **event(n, Usage="140s")})
                                       for n in range(SESSIONS)])
        assert ends == ["OK"] * SESSIONS
        cdrs = await run_all(address, [("SessionSv1.ProcessCDR", event(n, Usage="140s")) for n in range(SESSIONS)])
        assert cdrs == ["OK"] * SESSIONS

        stored = b.call("CDRsV1.GetCDRs", {"RunIDs": ["*default"], "Accounts": ACCOUNTS, "Limit": 2 * SESSIONS})
        assert sorted(c["OriginID"] for c in stored) == sorted(f"so-{n}" for n in range(SESSIONS))
        assert {Decimal(str(c["Cost"])) for c in stored} == {Decimal("1.4667")}
        spent = Decimal(0)
        for account in ACCOUNTS:
            acc = b.call("APIerSv2.GetAccount", {"Tenant": T, "Account": account})
            spent += CREDIT - sum(Decimal(str(x["Value"])) for x in acc["BalanceMap"]["*monetary"])
        assert spent == sum(Decimal(str(c["Cost"])) for c in stored)
    finally:
        if dsp is not None:
            dsp.kill()
        for e in engines.values():
            e.kill()
        redis.stop()
