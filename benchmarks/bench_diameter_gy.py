"""Gy voice sessions per second through the Diameter agent with charging on: CCR-INITIAL, CCR-UPDATE and
CCR-TERMINATION triples over TCP from a multi-connection client, then the latency at half that load.

pycgrates: cgr-engine running templates/diameter/gy_voice.json (CCR-I = InitiateSession with its first debit of
300 s, CCR-U = UpdateSession reporting 60 s used, CCR-T = TerminateSession reporting 30 s + CDR), the tutorial's
tariff plan, prepaid accounts spread over --accounts, durable embedded storage.

The client is one process with --connections Diameter connections (CER/CEA each, our asyncio peer layer and
codec: a client that is not the bottleneck). Saturation: --window sessions in flight per connection, each
session's three requests in turn, until --sessions are done; throughput = triples (sessions) per second. Half
load: sessions started at a fixed rate of half that throughput for --seconds, spread over the same
connections; latency per request (send to answer).

    python benchmarks/bench_diameter_gy.py [--sessions 3000] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from common import REPO, base_args, cpu_seconds, free_port, machine, process, rpc, write_section

sys.path.insert(0, str(REPO))

from pycgrates.agents.diameter import (
    DiameterConnection,
    DiameterServer,
    Message,
    identity_from_config,
    load_dictionaries,
)
from pycgrates.agents.diameter.codec import FLAG_PROXIABLE, FLAG_REQUEST, ResultCode

TEMPLATE = REPO / "templates" / "diameter" / "gy_voice.json"


# ---------------------------------------------------------------------------------------------------- load client


class GyClient:
    """--connections peer connections to the agent and the CCRs of one voice session."""

    def __init__(self, port: int, connections: int, accounts: int, run: str) -> None:
        self.port = port
        self.connections = connections
        self.accounts = accounts
        self.run = run
        self.dictionary = load_dictionaries()
        ident = identity_from_config("pcef-bench.example.net", "example.net", 0, "bench", [4], self.dictionary)
        self.node = DiameterServer(ident, self.dictionary, None)
        self.conns: list[DiameterConnection] = []
        self.latencies: list[float] = []
        self.failures = 0

    async def open(self) -> None:
        self.conns = [await self.node.connect("127.0.0.1", self.port) for _ in range(self.connections)]

    async def close(self) -> None:
        await self.node.stop(drain_timeout=1)

    def ccr(self, session: str, account: str, request_type: int, number: int, requested: int | None,
            used: int | None) -> Message:
        m = Message(272, 4, FLAG_REQUEST | FLAG_PROXIABLE, dictionary=self.dictionary)
        m.add("Session-Id", session)
        m.add("Origin-Host", "pcef-bench.example.net")
        m.add("Origin-Realm", "example.net")
        m.add("Destination-Realm", "cgrates.org")
        m.add("Auth-Application-Id", 4)
        m.add("Service-Context-Id", "32260@3gpp.org")
        m.add("CC-Request-Type", request_type)
        m.add("CC-Request-Number", number)
        m.add("Event-Timestamp", int(time.time()))
        m.add("Subscription-Id", [m.new_avp("Subscription-Id-Type", 0), m.new_avp("Subscription-Id-Data", account)])
        ims = m.new_avp("IMS-Information", [m.new_avp("Calling-Party-Address", f"tel:+{account}"),
                                            m.new_avp("Called-Party-Address", "tel:+491709876543")])
        m.add("Service-Information", [ims])
        if requested is not None:
            m.add("Requested-Service-Unit", [m.new_avp("CC-Time", requested)])
        if used is not None:
            m.add("Used-Service-Unit", [m.new_avp("CC-Time", used)])
        return m

    async def request(self, conn: DiameterConnection, msg: Message) -> bool:
        started = time.perf_counter()
        try:
            answer = await conn.send_request(msg, timeout=30)
        except (ConnectionError, TimeoutError):
            self.failures += 1
            return False
        self.latencies.append(time.perf_counter() - started)
        ok = answer.value("Result-Code") == ResultCode.SUCCESS
        if not ok:
            self.failures += 1
        return ok

    async def session(self, n: int, conn: DiameterConnection) -> bool:
        session = f"pcef-bench.example.net;{self.run};{n}"
        account = f"4917{n % self.accounts:08d}"
        return (await self.request(conn, self.ccr(session, account, 1, 0, 300, None))
                and await self.request(conn, self.ccr(session, account, 2, 1, 300, 60))
                and await self.request(conn, self.ccr(session, account, 3, 2, None, 30)))


async def saturate(client: GyClient, sessions: int, window: int, first: int = 0) -> dict:
    """Every connection keeps ``window`` sessions in flight until ``sessions`` are done (numbered from ``first``:
    a Session-Id used before would be answered as a duplicate, without charging)."""
    counter = itertools.count(first)
    done = 0

    async def worker(conn: DiameterConnection) -> None:
        nonlocal done
        while (n := next(counter)) < first + sessions:
            if await client.session(n, conn):
                done += 1

    client.latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in client.conns for _ in range(window)))
    elapsed = time.perf_counter() - started
    return {"sessions": done, "seconds": elapsed, "triples_per_s": done / elapsed,
            "requests_per_s": len(client.latencies) / elapsed, **_percentiles(client.latencies)}


async def paced(client: GyClient, rate: float, seconds: float, first: int) -> dict:
    """Sessions started at ``rate`` per second (open loop) for ``seconds``, round-robin over the connections."""
    client.latencies.clear()
    tasks = []
    interval = 1.0 / rate
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = started + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(client.session(first + i, client.conns[i % len(client.conns)])))
    results = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return {"sessions": sum(results), "seconds": elapsed, "offered_per_s": rate, **_percentiles(client.latencies)}


def _percentiles(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50_ms": None, "p99_ms": None}
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50_ms": round(cuts[49] * 1000, 2), "p99_ms": round(cuts[98] * 1000, 2)}


# ---------------------------------------------------------------------------------------------------- server



@contextmanager
def pycgrates(accounts: int, charging: bool = True):
    """cgr-engine with the Gy voice processors (``charging`` off: their request templates run, no SessionS call,
    the CCA from the *cca template); yields (diameter port, engine pid)."""
    rpc_port, diameter_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as d:
        cfg = {
            "general": {"log_level": 3, "default_tenant": "cgrates.org"},
            "listen": {"rpc_json": f"127.0.0.1:{rpc_port}", "http": "", "birpc_json": ""},
            "data_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": f"{d}/datadb"}},
            "stor_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": f"{d}/stordb"}},
            "rals": {"enabled": True}, "apiers": {"enabled": True}, "attributes": {"enabled": True},
            "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"]},
            "chargers": {"enabled": True, "attributes_conns": ["*internal"]},
            "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                         "chargers_conns": ["*internal"], "attributes_conns": ["*internal"]},
            "diameter_agent": {"enabled": True, "sessions_conns": ["*birpc_internal"],
                               "listeners": [{"address": f"127.0.0.1:{diameter_port}", "network": "tcp"}],
                               "origin_host": "ocs.cgrates.org", "ce_applications": [4]},
        }
        if not charging:
            cfg["diameter_agent"]["request_processors"] = [
                {"id": pid, "flags": ["*none"], "reply_fields": [{"tag": "CCA", "type": "*template", "value": "*cca"}]}
                for pid in ("GyVoiceInitial", "GyVoiceUpdate", "GyVoiceTerminate")]
        shutil.copy(TEMPLATE, Path(d, TEMPLATE.name))
        Path(d, "zz_bench.json").write_text(json.dumps(cfg))
        with process([sys.executable, "-m", "pycgrates.engine.cli.engine", "-config_dir", d], rpc_port) as proc:
            rpc(rpc_port, "APIerSv1.LoadTariffPlanFromFolder",
                {"FolderPath": str(REPO / "tutorials" / "diameter" / "tariffplan")})
            for i in range(accounts):
                account = f"4917{i:08d}"
                rpc(rpc_port, "APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": account})
                rpc(rpc_port, "APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": account,
                                                      "BalanceType": "*monetary", "Value": 1e9,
                                                      "Balance": {"ID": "MAIN"}})
            yield diameter_port, proc.pid


# ---------------------------------------------------------------------------------------------------- main


async def measure(args, charging: bool = True) -> tuple[dict, dict]:
    with pycgrates(args.accounts, charging) as (port, pid):
        client = GyClient(port, args.connections, args.accounts, f"r{int(time.time())}")
        await client.open()
        try:
            warmup = min(300, args.sessions)
            await saturate(client, warmup, args.window)  # caches, indexes, connections in use
            before = cpu_seconds(pid)
            full = await saturate(client, args.sessions, args.window, first=warmup)
            full["server_cpu_us_per_triple"] = round((cpu_seconds(pid) - before) / max(1, full["sessions"]) * 1e6)
            full["failures"] = client.failures
            half = await paced(client, full["triples_per_s"] / 2, args.seconds, warmup + args.sessions)
            half["failures"] = client.failures - full["failures"]
        finally:
            await client.close()
    return full, half


def main() -> int:
    p = base_args(__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=3000)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--window", type=int, default=8, help="sessions in flight per connection at saturation")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the half-load run")
    p.add_argument("--accounts", type=int, default=200)
    args = p.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    full, half = asyncio.run(measure(args))
    bare, _ = asyncio.run(measure(argparse.Namespace(**{**vars(args), "seconds": 0.5}), charging=False))
    print(json.dumps({"saturation": full, "half_load": half, "templates_only": bare}, indent=1))
    if args.write:
        write_section(
            "Diameter Gy (agent)",
            f"Measured with `python benchmarks/bench_diameter_gy.py --sessions {args.sessions} --write` "
            f"({machine()}). Voice sessions of templates/diameter/gy_voice.json: CCR-INITIAL (InitiateSession, "
            f"first debit of 300 s), CCR-UPDATE (UpdateSession, 60 s used), CCR-TERMINATION (TerminateSession, 30 s "
            f"used, + CDR), each answered before the next is sent; prepaid accounts spread over {args.accounts}, "
            f"the tutorial's tariff plan, durable embedded storage. Load client: one process, {args.connections} "
            f"TCP connections (CER/CEA each), our asyncio peer layer and codec.\n\n"
            "| run | sessions (CCR-I/U/T triples) | triples/s | CCR/s | p50 ms | p99 ms | server CPU µs/triple |"
            " failures |\n|---|---|---|---|---|---|---|---|\n"
            f"| saturation ({args.window} sessions in flight per connection) | {full['sessions']} | "
            f"{full['triples_per_s']:.0f} | {full['requests_per_s']:.0f} | {full['p50_ms']} | {full['p99_ms']} | "
            f"{full['server_cpu_us_per_triple']} | {full['failures']} |\n"
            f"| half load ({half['offered_per_s']:.0f} sessions/s offered, open loop, {args.seconds:.0f} s) | "
            f"{half['sessions']} | {half['sessions'] / half['seconds']:.0f} | - | {half['p50_ms']} | "
            f"{half['p99_ms']} | - | {half['failures']} |\n"
            f"| saturation, templates only (flags *none: no SessionS call) | {bare['sessions']} | "
            f"{bare['triples_per_s']:.0f} | {bare['requests_per_s']:.0f} | {bare['p50_ms']} | {bare['p99_ms']} | "
            f"{bare['server_cpu_us_per_triple']} | {bare['failures']} |\n\n"
            "Each triple is three SessionS calls (AttributeS, ChargerS, rating, a balance debit and refund, a CDR "
            "written); the latency is per request, from the client's send to the answer. At half load p50 is the "
            "cost of one CCR and p99 adds the waits behind requests that arrive together (sessions start at a "
            "steady rate, their CCR-U/T follow on the answers); at saturation it is mostly queueing. The last "
            "row runs the same request templates with the SessionS calls switched off: the "
            f"agent's own share (decode, processors, templates, CCA encode) is "
            f"{bare['server_cpu_us_per_triple'] / max(1, full['server_cpu_us_per_triple']):.2f} of the engine's CPU "
            "per charged triple. The engine is one Python process on one core; the load client shares the "
            "machine's cores.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
