"""Two cgr-engine processes on one Redis DataDB debiting one account (APIerSv1.DebitBalance, Responder.Debit,
SessionSv1.ProcessMessage): no update lost, every acknowledged debit in Redis (read there directly), and across
kill -9 of one of them.

Each test takes a Redis database number of its own on the loopback Redis (6379), empties it before and after:
the engine has no key prefix option (CGRateS has none), so the database is the test's space.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service, shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir

T = "cgrates.org"
ACCOUNT_KEY = "acc_cgrates.org:1001"
RATE = Decimal("0.0123")  # per second, in 1s increments
START = Decimal("100000")
MAIN = {"Tenant": T, "Account": "1001", "BalanceType": "*monetary", "Balance": {"ID": "main"}}


@pytest.fixture
def redis_db(request) -> Iterator[Any]:
    """A Redis database of this test's own (``@pytest.mark.parametrize("redis_db", [n], indirect=True)``)."""
    require_service("127.0.0.1", 6379, "Redis (bash .ci/services starts it)")
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=request.param)
    client.flushdb()
    client.db_number = request.param  # type: ignore[attr-defined]
    yield client
    client.flushdb()
    client.close()


def write_plan(folder: Path) -> Path:
    """One rate for calls to 1002, for Responder.Debit."""
    folder.mkdir(parents=True)
    files = {
        "Destinations.csv": "#Id,Prefix\nDST_1002,1002\n",
        "Rates.csv": f"#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_1002,0,{RATE},1s,1s,0s\n",
        "DestinationRates.csv": "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n"
                                "DR_1002,DST_1002,RT_1002,*up,4,0,\n",
        "RatingPlans.csv": "#Id,DestinationRatesId,TimingTag,Weight\nRP_1002,DR_1002,*any,10\n",
        "RatingProfiles.csv": "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n"
                              f"{T},call,*any,2014-01-14T00:00:00Z,RP_1002,\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def engine_on_redis(tmp: Path, name: str, db: int, extra: dict | None = None) -> EngineProcess:
    port, http = free_port(), free_port()
    overrides: dict = {
        "general": {"default_timezone": "UTC", "node_id": name},
        "listen": {"rpc_json": f"127.0.0.1:{port}", "http": f"127.0.0.1:{http}", "birpc_json": "",
                   "rpc_json_tls": "", "http_tls": ""},
        "data_db": {"db_type": "*redis", "db_host": "127.0.0.1", "db_port": 6379, "db_name": str(db)},
        "stor_db": {"opts": {"internalDBDumpPath": str(tmp / name / "stordb")}},
        "apiers": {"enabled": True}, "rals": {"enabled": True},
    }
    for section, values in (extra or {}).items():
        overrides.setdefault(section, {}).update(values)
    eng = EngineProcess(make_config_dir(tmp / name, overrides=overrides), port, tmp / f"{name}.log")
    eng.http_port = http  # type: ignore[attr-defined]
    return eng


def conflicts(eng: EngineProcess) -> float:
    """cgr_account_write_conflicts_total on the engine's /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{eng.http_port}/metrics", timeout=10) as r:  # type: ignore
        for line in r.read().decode().splitlines():
            if line.startswith("cgr_account_write_conflicts_total"):
                return float(line.split()[-1])
    return 0.0


def redis_main(client: Any) -> Decimal:
    """The main balance as Redis holds it, read directly."""
    acc = json.loads(client.get(ACCOUNT_KEY))
    return sum((Decimal(str(b["Value"])) for b in acc["BalanceMap"]["*monetary"] if b["ID"] == "main"), Decimal(0))


def debit_call(amount: Decimal) -> tuple[str, dict]:
    return "APIerSv1.DebitBalance", {**MAIN, "Value": float(amount)}


def rated_call(seconds: int) -> tuple[str, dict]:
    return "Responder.Debit", {"Tenant": T, "Category": "call", "Account": "1001", "Subject": "1001",
                               "Destination": "1002", "ToR": "*voice", "TimeStart": "2024-01-10T12:00:00Z",
                               "TimeEnd": f"2024-01-10T12:{seconds // 60:02d}:{seconds % 60:02d}Z"}


class Client:
    """JSON-RPC calls one after the other on one connection; tells a call never sent from one whose reply was lost."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""
        self.seq = 0

    def call(self, method: str, arg: Any) -> tuple[str, Any]:
        """("ok", result) | ("error", message) | ("unsent", None) | ("lost", None)."""
        if self.sock is None:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            except OSError:
                return "unsent", None
        self.seq += 1
        try:
            self.sock.sendall(json.dumps({"method": method, "params": [arg], "id": self.seq}).encode() + b"\n")
        except OSError:
            self.close()
            return "unsent", None
        try:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
        except OSError:
            self.close()
            return "lost", None
        line, self.buf = self.buf.split(b"\n", 1)
        reply = json.loads(line)
        return ("error", reply["error"]) if reply.get("error") else ("ok", reply["result"])

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf = b""


def run_clients(jobs: dict[int, list[tuple[int, str, dict]]], clients_per_engine: int,
                stop: threading.Event | None = None) -> list[tuple[int, str, Any]]:
    """Send each engine (by port) its calls from several client threads at once: (call number, outcome, result)."""
    outcomes: list[tuple[int, str, Any]] = []
    lock = threading.Lock()

    def worker(port: int, calls: list[tuple[int, str, dict]]) -> None:
        client = Client(port)
        for n, method, arg in calls:
            if stop is not None and stop.is_set():
                return
            outcome, result = client.call(method, arg)
            with lock:
                outcomes.append((n, outcome, result))
        client.close()

    threads = [threading.Thread(target=worker, args=(port, calls[i::clients_per_engine]))
               for port, calls in jobs.items() for i in range(clients_per_engine)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def start_pair(tmp_path: Path, db: int, extra: dict | None = None) -> list[EngineProcess]:
    engines = [engine_on_redis(tmp_path, f"engine{n}", db, extra) for n in range(2)]
    for eng in engines:
        eng.start()
    return engines


@pytest.mark.parametrize("redis_db", [12], indirect=True)
def test_two_engines_1000_concurrent_debits_on_one_account_lose_no_update(tmp_path, redis_db):
    """Each engine takes 250 DebitBalance and 250 Responder.Debit calls from 8 clients at once: the balance in
    Redis is the start less every amount and every call's cost, to the last decimal, and the engines did race."""
    engines = start_pair(tmp_path, redis_db.db_number)
    try:
        a, b = engines
        assert a.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(write_plan(tmp_path / "tp"))}) == "OK"
        assert a.call("APIerSv1.AddBalance", {**MAIN, "Value": float(START)}) == "OK"
        rng = random.Random(20261202)
        amounts: dict[int, Decimal] = {}
        usages: dict[int, int] = {}
        jobs: dict[int, list[tuple[int, str, dict]]] = {a.rpc_port: [], b.rpc_port: []}
        for n in range(1000):
            port = (a, b)[n % 2].rpc_port
            if n % 4 < 2:
                amounts[n] = Decimal(rng.randint(1, 99999)) / 10000  # up to four decimals
                jobs[port].append((n, *debit_call(amounts[n])))
            else:
                usages[n] = rng.randint(1, 600)
                jobs[port].append((n, *rated_call(usages[n])))
        outcomes = run_clients(jobs, clients_per_engine=8)
        assert sorted(o for _, o, _ in outcomes) == ["ok"] * 1000, [x for x in outcomes if x[1] != "ok"][:3]
        costs = {n: Decimal(str(result["Cost"])) for n, _, result in outcomes if n in usages}
        assert costs == {n: usages[n] * RATE for n in usages}
        expected = START - sum(amounts.values()) - sum(costs.values())
        assert redis_main(redis_db) == expected
        # both engines read the account from Redis, not from a cache of their own
        for eng in engines:
            acc = eng.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1001"})
            assert Decimal(str(acc["BalanceMap"]["*monetary"][0]["Value"])) == expected
        assert conflicts(a) + conflicts(b) > 0  # they did overtake each other, and every loser was redone
        assert [eng.terminate() for eng in engines] == [0, 0]
    finally:
        for eng in engines:
            eng.kill()


@pytest.mark.parametrize("redis_db", [13], indirect=True)
def test_an_acknowledged_debit_is_in_redis(tmp_path, redis_db):
    """After each reply, from either engine, Redis holds that debit (and the other engine sees it at once)."""
    engines = start_pair(tmp_path, redis_db.db_number)
    try:
        assert engines[0].call("APIerSv1.AddBalance", {**MAIN, "Value": 50}) == "OK"
        balance = redis_main(redis_db)
        assert balance == 50
        rng = random.Random(7)
        for n in range(40):
            amount = Decimal(rng.randint(1, 99999)) / 100000
            this, other = engines[n % 2], engines[1 - n % 2]
            assert this.call(*debit_call(amount)) == "OK"
            balance -= amount
            assert redis_main(redis_db) == balance
            acc = other.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1001"})
            assert Decimal(str(acc["BalanceMap"]["*monetary"][0]["Value"])) == balance
    finally:
        for eng in engines:
            eng.kill()


def possible_subsets(candidates: list[int], count: int, total: int) -> bool:
    """Whether ``count`` of the ``candidates`` (distinct small integers) add up to ``total``."""
    reachable = {(0, 0)}
    for c in candidates:
        reachable |= {(k + 1, s + c) for k, s in reachable if k < count and s + c <= total}
    return (count, total) in reachable


@pytest.mark.parametrize("redis_db", [14], indirect=True)
def test_kill_9_of_one_engine_loses_no_acknowledged_debit(tmp_path, redis_db):
    """Both engines take debits from 6 clients each; one is killed with -9 half-way. Debit n takes 10 + n/100000,
    so the amount gone tells how many debits landed and which: it must be every acknowledged one, plus only some
    whose reply the kill lost, each once. The surviving engine then spends the rest exactly."""
    engines = start_pair(tmp_path, redis_db.db_number)
    a, b = engines
    try:
        start = 10000
        assert a.call("APIerSv1.AddBalance", {**MAIN, "Value": start}) == "OK"
        calls = 600
        amount = {n: 10 + Decimal(n) / 100000 for n in range(1, calls + 1)}
        jobs = {a.rpc_port: [(n, *debit_call(amount[n])) for n in range(1, calls + 1, 2)],
                b.rpc_port: [(n, *debit_call(amount[n])) for n in range(2, calls + 1, 2)]}
        result: list[tuple[int, str, Any]] = []
        runner = threading.Thread(target=lambda: result.extend(run_clients(jobs, clients_per_engine=6)))
        runner.start()
        deadline = time.monotonic() + 120
        while redis_main(redis_db) > start - 1500 and time.monotonic() < deadline:
            time.sleep(0.005)
        a.kill()
        runner.join()
        outcomes = {n: o for n, o, _ in result}
        acked = [n for n, o in outcomes.items() if o == "ok"]
        in_doubt = [n for n, o in outcomes.items() if o == "lost"]
        assert len(acked) > 150
        assert {o for o in outcomes.values()} <= {"ok", "lost", "unsent"}, set(outcomes.values())
        assert all(outcomes[n] == "ok" for n in range(2, calls + 1, 2))  # the survivor answered all of its own
        assert any(outcomes.get(n) != "ok" for n in range(1, calls + 1, 2))  # the kill did cut the other short

        gone = (start - redis_main(redis_db)) * 100000
        assert gone == int(gone)
        landed, index_sum = divmod(int(gone), 1000000)  # the indexes add up to less than 10 (180,300 / 100000)
        # every acknowledged debit is there, once; what else is there was in flight when the engine died
        assert landed >= len(acked)
        assert possible_subsets(in_doubt, landed - len(acked), index_sum - sum(acked)), (landed, len(acked))

        # the rest is spent exactly through the surviving engine: nothing counted twice, nothing lost
        left = redis_main(redis_db)
        assert b.call("APIerSv1.DebitBalance", {**MAIN, "Value": float(left)}) == "OK"
        assert redis_main(redis_db) == 0
        with pytest.raises(RuntimeError, match="INSUFFICIENT_CREDIT"):
            b.call(*debit_call(Decimal("0.00001")))
        assert b.terminate() == 0
    finally:
        for eng in engines:
            eng.kill()


SESSIONS = {
    "chargers": {"enabled": True}, "attributes": {"enabled": True},
    "sessions": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"],
                 "attributes_conns": ["*internal"]},
}


@pytest.mark.parametrize("redis_db", [11], indirect=True)
def test_session_messages_through_two_engines_lose_no_debit(tmp_path, redis_db):
    """2 x 300 SMS events through SessionSv1.ProcessMessage (Debit) on one account, from 6 clients per engine at
    once: every message is charged (CGRateS's oldtutorial: 1 per *sms unit), none lost between the engines."""
    engines = start_pair(tmp_path, redis_db.db_number, SESSIONS)
    try:
        a, b = engines
        assert a.call("APIerSv1.LoadTariffPlanFromFolder",
                      {"FolderPath": str(shared_data("tariffplans", "oldtutorial"))}) == "OK"
        a.call("APIerSv1.RemoveAccount", {"Tenant": T, "Account": "1001"})
        assert a.call("APIerSv1.AddBalance", {**MAIN, "Value": 1000}) == "OK"
        messages = 600

        def message(n: int) -> tuple[int, str, dict]:
            return n, "SessionSv1.ProcessMessage", {"Debit": True, "Event": {
                "Tenant": T, "ToR": "*sms", "OriginID": f"sms-{n}", "OriginHost": "smsc", "RequestType": "*prepaid",
                "Account": "1001", "Destination": "1004", "Category": "generic",
                "AnswerTime": "2016-01-05T18:31:05Z", "Usage": 1}}

        jobs = {a.rpc_port: [message(n) for n in range(0, messages, 2)],
                b.rpc_port: [message(n) for n in range(1, messages, 2)]}
        outcomes = run_clients(jobs, clients_per_engine=6)
        assert len(outcomes) == messages
        assert {(o, r["MaxUsage"]) for _, o, r in outcomes} == {("ok", 1)}, [x for x in outcomes if x[1] != "ok"][:3]
        assert redis_main(redis_db) == 1000 - messages
        assert [eng.terminate() for eng in engines] == [0, 0]
    finally:
        for eng in engines:
            eng.kill()
