"""Session cycles per second through a dispatching engine onto one engine and onto two, in the same run.

Two cgr-engines (A and B) share one Redis DataDB (a redis-server of this run's own) and one PostgreSQL StorDB
(a schema of this run's own, dropped at the end), each copying its sessions to the other
(``sessions.replication_conns``): the high-availability set-up of docs/dispatchers.md. A third engine runs
DispatcherS with one ``*hash`` profile on the Account. A cycle is cgr-tester's prepaid session cycle
(AuthorizeEvent, InitiateSession, UpdateSession, TerminateSession with a refund, ProcessCDR) over --connections
connections, one account each. Measured, interleaved --repeat times, best of each:

- direct: the cycles sent to engine A itself (no dispatcher hop);
- one engine: through the dispatcher, its profile listing A only;
- two engines: through the dispatcher onto A and B.

Each figure comes with the CPU per cycle of every process (the dispatcher, A, B), so the hop's price and what the
second engine adds can be read apart. On a machine with fewer cores than processes the processes share them.

    python benchmarks/bench_scale_out.py [--runs 3000] [--repeat 2] [--write]
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

from common import (
    CONSOLE,
    ENGINE,
    REPO,
    base_args,
    cpu_seconds,
    free_port,
    machine,
    process,
    rpc,
    tester,
    wait_port,
    write_section,
)

GROWTH = (
    "How it grows. Each engine is one Python process on one core; the engines share nothing but the DataDB and the "
    "StorDB, so session throughput grows with the number of engines until one of three things saturates. (1) The "
    "dispatcher: one dispatching engine costs the CPU per cycle in its column; more dispatching engines, each "
    "with the same profiles, behind a plain TCP load balancer (or agents that list several in their "
    "sessions_conns), remove that limit, and `*hash` keeps one account's traffic on one engine whichever "
    "dispatcher routes it. (2) Redis: every debit is a versioned read and a conditional write of the account on "
    "one Redis; a Redis Cluster spreads accounts over shards, so the DataDB grows with shards (a write batch is "
    "atomic within one hash slot only, so there a debit and the session journal record written with it land as two "
    "steps). (3) The StorDB: one row per "
    "CDR and run on one PostgreSQL primary; replicas serve GetCDRs and reports, partitioning the cdrs table by "
    "time keeps inserts cheap, and beyond one primary's write rate CDRs go to several StorDBs (an engine each) or "
    "out through EEs. Where it stops: one account is always one key on one Redis shard, so the debits of one "
    "very busy account (a shared wholesale balance) are serialised there; and a session lives on one engine at a "
    "time, so a single session's debit loop never spreads."
)

CYCLE = str(REPO / "benchmarks" / "cycles" / "session_prepaid.json")
TARIFF_PLAN = REPO / "tutorials" / "tariffplans" / "basic"
PG = {"db_host": "127.0.0.1", "db_port": 5432, "db_name": "cgrates", "db_user": "cgrates",
      "db_password": "CGRateS.org"}
SESSIONS = {
    "rals": {"enabled": True}, "apiers": {"enabled": True},
    "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"]},
    "chargers": {"enabled": True}, "attributes": {"enabled": True},
    "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                 "chargers_conns": ["*internal"], "replication_conns": ["peer"]},
}


@contextmanager
def redis_server():
    port = free_port()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is needed (Debian: redis-server)")
    with process([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], port):
        yield port


@contextmanager
def postgres_schema():
    import asyncpg

    schema = f"bench{uuid.uuid4().hex[:10]}"

    async def drop() -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="cgrates", password="CGRateS.org",
                                     database="cgrates")
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    try:
        yield schema
    finally:
        asyncio.run(drop())


@contextmanager
def config_engine(cfg: dict, port: int):
    with tempfile.TemporaryDirectory() as d:
        Path(d, "cgrates.json").write_text(json.dumps(cfg))
        with process([*ENGINE, "-config_dir", d], port) as proc:
            yield proc


def shared_cores() -> str:
    """What the figures mean on this machine."""
    cores = os.cpu_count() or 1
    if cores >= 6:
        return ""
    return (f"This machine has {cores} cores for the three engines, Redis, PostgreSQL and the load client: the "
            "engines compete for the same CPU, so the two-engine figure shows what the second engine, the hop and "
            "the replication cost, not what a second machine gains; the per-process CPU columns show how the work "
            "splits.")


def pool_config(node: str, port: int, peer: int, redis: int, schema: str) -> dict:
    return {"general": {"node_id": node, "log_level": 3},
            "listen": {"rpc_json": f"127.0.0.1:{port}", "http": "", "birpc_json": ""},
            "data_db": {"db_type": "*redis", "db_host": "127.0.0.1", "db_port": redis, "db_name": "10"},
            "stor_db": {"db_type": "*postgres", **PG, "opts": {"pgSchema": schema}},
            "rpc_conns": {"peer": {"conns": [{"address": f"127.0.0.1:{peer}", "transport": "*json"}]}},
            **SESSIONS}


def set_pool(dsp: int, hosts: list[str]) -> None:
    rpc(dsp, "APIerSv1.SetDispatcherProfile", {
        "Tenant": "cgrates.org", "ID": "POOL", "Subsystems": ["*any"], "Strategy": "*hash",
        "StrategyParams": {"*hash": "~*req.Account"}, "Weight": 10,
        "Hosts": [{"ID": h, "Weight": 10} for h in hosts]})


def cycles(addr: str, pids: dict[str, int], runs: int, connections: int) -> dict:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    summary = tester(addr, "", runs=runs, parallel=connections, inflight=4, cycle=CYCLE)
    ok = max(1, summary["ok"])
    summary["cpu_ms_per_cycle"] = {name: round((cpu_seconds(pid) - before[name]) / ok * 1e3, 2)
                                   for name, pid in pids.items()}
    return summary


def main() -> int:
    parser = base_args(__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    runs = args.runs if args.runs != 50000 else 3000
    ports = {"A": free_port(), "B": free_port(), "D": free_port()}
    with ExitStack() as stack:
        redis = stack.enter_context(redis_server())
        schema = stack.enter_context(postgres_schema())
        pids = {}
        for node, peer in (("A", "B"), ("B", "A")):
            proc = stack.enter_context(config_engine(pool_config(node, ports[node], ports[peer], redis, schema),
                                                     ports[node]))
            pids[node] = proc.pid
        dsp_cfg = {"general": {"node_id": "D", "log_level": 3},
                   "listen": {"rpc_json": f"127.0.0.1:{ports['D']}", "http": "", "birpc_json": ""},
                   "data_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": ""}},
                   "stor_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": ""}},
                   "apiers": {"enabled": True}, "dispatchers": {"enabled": True}}
        pids["D"] = stack.enter_context(config_engine(dsp_cfg, ports["D"])).pid
        for port in ports.values():
            wait_port(port)
        subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{ports['A']}",
                        "load_tp_from_folder", f'FolderPath="{TARIFF_PLAN}"'], check=True, stdout=subprocess.DEVNULL)
        for i in range(args.connections):
            rpc(ports["A"], "APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": f"bench{i}"})
            rpc(ports["A"], "APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": f"bench{i}",
                                                    "BalanceType": "*monetary", "Value": 1e9,
                                                    "Balance": {"ID": "MAIN"}})
        for node in ("A", "B"):
            rpc(ports["D"], "APIerSv1.SetDispatcherHost", {
                "Tenant": "cgrates.org", "ID": node, "Address": f"127.0.0.1:{ports[node]}", "Transport": "*json"})
        direct, dsp = f"127.0.0.1:{ports['A']}", f"127.0.0.1:{ports['D']}"
        set_pool(ports["D"], ["A", "B"])
        tester(dsp, "", runs=300, parallel=args.connections, inflight=4, cycle=CYCLE)  # warm-up, both engines
        best: dict[str, dict] = {}
        for _ in range(args.repeat):
            for name, addr, hosts in (("direct", direct, None), ("one engine", dsp, ["A"]),
                                      ("two engines", dsp, ["A", "B"])):
                if hosts:
                    set_pool(ports["D"], hosts)
                got = cycles(addr, pids, runs, args.connections)
                if got["errors"]:
                    print(f"{name}: {got['errors']} errors, first: {got['first_error']}", file=sys.stderr)
                    return 1
                if name not in best or got["req_per_s"] > best[name]["req_per_s"]:
                    best[name] = got
    gain = best["two engines"]["req_per_s"] / best["one engine"]["req_per_s"]
    hop = best["one engine"]["req_per_s"] / best["direct"]["req_per_s"]
    out = {name: {"cycles_per_s": round(r["req_per_s"], 1), "p99_ms": r["p99_ms"],
                  "cpu_ms_per_cycle": r["cpu_ms_per_cycle"]} for name, r in best.items()}
    out |= {"two_over_one": round(gain, 3), "dispatched_over_direct": round(hop, 3)}
    print(json.dumps(out, indent=1))
    if args.write:
        rows = "\n".join(
            f"| {name} | {r['req_per_s']:.0f} | {r['p99_ms']} | {r['cpu_ms_per_cycle']['D']:.2f} | "
            f"{r['cpu_ms_per_cycle']['A']:.2f} | {r['cpu_ms_per_cycle']['B']:.2f} |" for name, r in best.items())
        write_section(
            "Two engines behind DispatcherS (session cycles)",
            f"Measured with `python benchmarks/bench_scale_out.py --runs {runs} --repeat {args.repeat} --write` "
            f"({machine()}). Engines A and B on one Redis DataDB and one PostgreSQL StorDB, each replicating its "
            "sessions to the other; a third engine dispatching by `*hash` of the Account; "
            f"{args.connections} connections × 4 prepaid cycles in flight (5 session calls each, with a refund at "
            "Terminate). Best of the interleaved runs; CPU per cycle of each process.\n\n"
            "| path | cycles/s | p99 ms | dispatcher CPU ms | A CPU ms | B CPU ms |\n|---|---|---|---|---|---|\n"
            f"{rows}\n\n"
            f"Two engines ÷ one engine through the dispatcher: **{gain:.2f}**; one engine through the dispatcher ÷ "
            f"the same engine direct: **{hop:.2f}**. {shared_cores()}\n\n" + GROWTH,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
