"""Full prepaid session cycles (authorize, initiate, update, terminate, CDR) per second over JSON-RPC.

Measured with cgr-tester's cycle mode against an engine on durable embedded storage with the project's
tutorial tariff plan; then p50/p99 latency at half the measured rate; the echo baseline in the same run.

    python benchmarks/bench_sessions.py [--runs 3000] [--write]
"""

from __future__ import annotations

import json
import sys

from common import REPO, base_args, engine, free_port, machine, measured, process, rpc, tester, write_section

CYCLE = str(REPO / "benchmarks" / "cycles" / "session_prepaid.json")
CONFIG = {
    "rals": {"enabled": True}, "apiers": {"enabled": True},
    "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"]},
    "chargers": {"enabled": True}, "attributes": {"enabled": True},
    "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                 "chargers_conns": ["*internal"]},
}
CONNECTIONS = 8


def main() -> int:
    args = base_args(__doc__).parse_args()
    runs = args.runs if args.runs != 50000 else 3000
    port = free_port()
    with process([sys.executable, "benchmarks/echo_server.py", str(port)], port) as proc:
        echo = measured(proc.pid, lambda: tester(f"127.0.0.1:{port}", "Echo.Ping", runs=50000, parallel=8,
                                                 inflight=16))
    with engine(CONFIG, tariffplan=REPO / "tutorials" / "tariffplans" / "basic", durable=True) as (addr, proc):
        port = int(addr.rpartition(":")[2])
        for i in range(CONNECTIONS):
            rpc(port, "APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": f"bench{i}"})
            rpc(port, "APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": f"bench{i}",
                                              "BalanceType": "*monetary", "Value": 1e9, "Balance": {"ID": "MAIN"}})
        tester(addr, "", runs=200, parallel=CONNECTIONS, inflight=4, cycle=CYCLE)  # warm-up
        full = measured(proc.pid, lambda: tester(addr, "", runs=runs, parallel=CONNECTIONS, inflight=8, cycle=CYCLE))
        half_rate = max(1.0, full["req_per_s"] / 2)
        half = tester(addr, "", runs=max(200, runs // 3), parallel=CONNECTIONS, inflight=8, cycle=CYCLE,
                      cps=half_rate)
    calls_per_s = full["req_per_s"] * 5
    ratio = calls_per_s / echo["req_per_s"] if echo["req_per_s"] else 0
    out = {"echo": echo, "cycles": full, "half_load": half, "session_calls_per_s": round(calls_per_s, 1),
           "ratio_calls_to_echo": round(ratio, 4)}
    print(json.dumps(out, indent=1))
    if full["errors"] or half["errors"]:
        print(f"errors: {full['first_error'] or half['first_error']}", file=sys.stderr)
        return 1
    if args.write:
        write_section(
            "Session cycles (issue: SessionS)",
            f"Measured with `python benchmarks/bench_sessions.py --runs {runs} --write` ({machine()}). One cycle ="
            " AuthorizeEvent + InitiateSession + UpdateSession + TerminateSession + ProcessCDR for a *prepaid call"
            " (debit, refund, rounding, CDR stored), cgr-tester cycle mode, "
            f"{CONNECTIONS} connections × 8 cycles in flight, durable embedded storage (fsync every 1s).\n\n"
            "| measure | value |\n|---|---|\n"
            f"| session cycles/s (max) | {full['req_per_s']:.0f} |\n"
            f"| session RPC calls/s (5 per cycle) | {calls_per_s:.0f} |\n"
            f"| engine CPU per cycle | {full['server_cpu_us_per_req'] / 1000:.2f} ms |\n"
            f"| latency per cycle at half load ({half_rate:.0f}/s): p50 / p99 | {half['p50_ms']} ms /"
            f" {half['p99_ms']} ms |\n"
            f"| echo baseline, same run | {echo['req_per_s']:.0f} req/s |\n\n"
            f"Session calls/s ÷ echo req/s: **{ratio:.3f}**.",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
