"""The limit baseline: echo server req/s vs the engine's CoreSv1.Ping req/s over TCP JSON-RPC, same run.

    python benchmarks/bench_rpc.py [--runs 50000] [--write]
"""

from __future__ import annotations

import json
import sys

from common import base_args, engine, free_port, machine, measured, process, tester, write_section


def main() -> int:
    args = base_args(__doc__).parse_args()
    load = {"runs": args.runs, "parallel": 8, "inflight": 16, "procs": 1}
    port = free_port()
    with process([sys.executable, "benchmarks/echo_server.py", str(port)], port) as proc:
        tester(f"127.0.0.1:{port}", "Echo.Ping", runs=2000)  # warm-up
        echo = measured(proc.pid, lambda: tester(f"127.0.0.1:{port}", "Echo.Ping", **load))
    with engine() as (addr, proc):
        tester(addr, "CoreSv1.Ping", runs=2000)
        ping = measured(proc.pid, lambda: tester(addr, "CoreSv1.Ping", **load))
    ratio = ping["req_per_s"] / echo["req_per_s"] if echo["req_per_s"] else 0.0
    cpu_ratio = echo["server_cpu_us_per_req"] / ping["server_cpu_us_per_req"] if ping["server_cpu_us_per_req"] else 0
    print(json.dumps({"echo": echo, "engine_ping": ping, "ratio": round(ratio, 3), "cpu_ratio": round(cpu_ratio, 3)},
                     indent=1))
    if args.write:
        write_section(
            "RPC baseline (issue: engine foundation)",
            f"Measured with `python benchmarks/bench_rpc.py --runs {args.runs} --write` ({machine()}); cgr-tester, "
            f"{load['parallel']} connections × {load['inflight']} in flight, one client process.\n\n"
            "| server | req/s | p50 ms | p99 ms | server CPU µs/request |\n|---|---|---|---|---|\n"
            f"| plain asyncio echo (baseline) | {echo['req_per_s']:.0f} | {echo['p50_ms']} | {echo['p99_ms']} "
            f"| {echo['server_cpu_us_per_req']} |\n"
            f"| cgr-engine CoreSv1.Ping | {ping['req_per_s']:.0f} | {ping['p50_ms']} | {ping['p99_ms']} "
            f"| {ping['server_cpu_us_per_req']} |\n\n"
            f"Engine / echo throughput ratio: **{ratio:.2f}**; by server CPU per request (echo µs / engine µs): "
            f"**{cpu_ratio:.2f}**. On this 2-core machine one client process is near its own limit at these rates, "
            "so the CPU ratio is the truer measure of what the engine's layers cost.",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
