"""Many concurrent prepaid sessions with a debit loop: every cent debited is in a CDR, also across kill -9."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from pycgrates.engine.rpc.client import RPCClient
from pycgrates.engine.rpc.errors import RPCError
from tests.integration.test_sessions import start_engine

SESSIONS = 1000
ACCOUNTS = 100
START_CREDIT = Decimal(100)


def _account(i: int) -> str:
    return f"load{i % ACCOUNTS:03d}"


async def _retrying(client: RPCClient, method: str, args: dict, deadline: float = 60.0):
    """Call until the engine answers (it may be restarting); errors from the engine itself are returned."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        try:
            return await client.call(method, args)
        except RPCError as exc:
            if exc.message not in ("DISCONNECTED", "TIMEOUT") or loop.time() > end:
                raise
            await asyncio.sleep(0.2)


async def _run_sessions(port: int, on_half_way=None) -> None:
    clients = [RPCClient(f"127.0.0.1:{port}", reply_timeout=30, reconnects=-1) for _ in range(20)]
    rnd = random.Random(7)
    started = asyncio.Event()
    count = {"initiated": 0}

    async def one(i: int) -> None:
        client = clients[i % len(clients)]
        ev = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": f"load-{i}", "OriginHost": "loadgen",
              "RequestType": "*prepaid", "Account": _account(i), "Destination": "1004", "AnswerTime": "*now"}
        await _retrying(client, "SessionSv1.InitiateSession", {"InitSession": True, "Event": ev})
        count["initiated"] += 1
        if count["initiated"] == SESSIONS:
            started.set()
        talk = rnd.uniform(1.2, 3.5)
        await asyncio.sleep(talk)
        usage = f"{int(talk * 1000)}ms"
        await _retrying(client, "SessionSv1.TerminateSession", {"TerminateSession": True,
                                                                "Event": {**ev, "Usage": usage}})
        await _retrying(client, "SessionSv1.ProcessCDR", {"Event": {**ev, "Usage": usage}})

    tasks = [asyncio.ensure_future(one(i)) for i in range(SESSIONS)]
    if on_half_way is not None:
        await started.wait()
        await asyncio.sleep(0.6)
        await on_half_way()
    try:
        await asyncio.gather(*tasks)
    finally:
        for c in clients:
            await c.close()


def _prepare(eng) -> None:
    for i in range(ACCOUNTS):
        acc = _account(i)
        eng.call("APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": acc})
        eng.call("APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": acc, "BalanceType": "*monetary",
                                         "Value": float(START_CREDIT), "Balance": {"ID": "MAIN"}})


def _money_spent(eng) -> Decimal:
    spent = Decimal(0)
    for i in range(ACCOUNTS):
        acc = eng.call("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": _account(i)})
        left = sum((Decimal(str(b["Value"])) for b in acc["BalanceMap"].get("*monetary") or []), Decimal(0))
        spent += START_CREDIT - left
    return spent


def _cdr_costs(eng) -> tuple[int, Decimal]:
    cdrs = eng.call("CDRsV1.GetCDRs", {"OriginHosts": ["loadgen"]}, timeout=60)
    keys = {(c["CGRID"], c["RunID"]) for c in cdrs}
    assert len(keys) == len(cdrs)
    return len(cdrs), sum((Decimal(str(c["Cost"])) for c in cdrs), Decimal(0))


def test_thousand_concurrent_sessions_balance_equals_cdr_costs(tmp_path):
    eng = start_engine(tmp_path, "oldtutorial", {"sessions": {"debit_interval": "1s"}})
    try:
        _prepare(eng)
        asyncio.run(_run_sessions(eng.rpc_port))
        count, costs = _cdr_costs(eng)
        assert count == SESSIONS
        assert eng.call("SessionSv1.GetActiveSessionsCount", {}) == 0
        assert _money_spent(eng) == costs
    finally:
        eng.kill()


def test_thousand_sessions_survive_kill_9_mid_run(tmp_path):
    eng = start_engine(tmp_path, "oldtutorial", {"sessions": {"debit_interval": "1s"}})
    try:
        _prepare(eng)

        async def crash_and_restart() -> None:
            eng.kill()
            await asyncio.get_running_loop().run_in_executor(None, eng.start)

        asyncio.run(_run_sessions(eng.rpc_port, on_half_way=crash_and_restart))
        count, costs = _cdr_costs(eng)
        assert count == SESSIONS
        assert _money_spent(eng) == costs
        assert "restored" in eng.log()
    finally:
        eng.kill()
