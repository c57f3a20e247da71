"""The dispatch hop: CoreSv1.Ping calls/s straight to an engine vs through a dispatching engine to it, same run.

A backend cgr-engine, and a second one with DispatcherS whose only profile (``*any`` subsystem, no filters) sends
every call to the backend: by ``*weight``, then by ``*hash`` of the Account (the event carries one), so the
figures show what routing costs per call and what the hash adds.

    python benchmarks/bench_dispatchers.py [--runs 20000] [--repeat 3] [--write]
"""

from __future__ import annotations

import json
import sys

from common import base_args, cpu_seconds, engine, machine, rpc, tester, write_section


def profile(strategy: str) -> dict:
    return {"Tenant": "cgrates.org", "ID": "BENCH", "Subsystems": ["*any"], "Strategy": strategy,
            "StrategyParams": {"*hash": "~*req.Account"} if strategy == "*hash" else {}, "Weight": 10,
            "Hosts": [{"ID": "BACKEND", "Weight": 10}]}


def run(addr: str, pids: list[int], params: str, load: dict) -> dict:
    """A tester run; adds the CPU µs per successful call of each process in ``pids``."""
    before = [cpu_seconds(p) for p in pids]
    summary = tester(addr, "CoreSv1.Ping", params=params, **load)
    ok = max(1, summary["ok"])
    summary["cpu_us_per_req"] = [round((cpu_seconds(p) - b) / ok * 1e6, 1) for p, b in zip(pids, before, strict=True)]
    return summary


def main() -> int:
    parser = base_args(__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; the best is reported")
    args = parser.parse_args()
    load = {"runs": args.runs, "parallel": 8, "inflight": 16, "procs": 1}
    params = json.dumps({"Tenant": "cgrates.org", "Event": {"Account": "1001"}})
    with engine() as (backend, bproc), engine({"dispatchers": {"enabled": True}}) as (dsp, dproc):
        port = int(dsp.rsplit(":", 1)[1])
        assert rpc(port, "APIerSv1.SetDispatcherHost", {"Tenant": "cgrates.org", "ID": "BACKEND",
                                                         "Address": backend, "Transport": "*json"}) == "OK"
        out: dict[str, dict] = {}
        tester(backend, "CoreSv1.Ping", params=params, runs=2000)  # warm-up
        for _ in range(args.repeat):  # interleaved, the best of each kept: the machine is shared
            runs = {"direct": run(backend, [bproc.pid], params, load)}
            for strategy in ("*weight", "*hash"):
                assert rpc(port, "APIerSv1.SetDispatcherProfile", profile(strategy)) == "OK"
                tester(dsp, "CoreSv1.Ping", params=params, runs=2000)
                runs[strategy] = run(dsp, [dproc.pid, bproc.pid], params, load)
            for name, r in runs.items():
                if name not in out or r["req_per_s"] > out[name]["req_per_s"]:
                    out[name] = r
    direct = out["direct"]["req_per_s"]
    for strategy in ("*weight", "*hash"):
        out[strategy]["vs_direct"] = round(out[strategy]["req_per_s"] / direct, 3) if direct else 0.0
    print(json.dumps(out, indent=1))
    if args.write:
        rows = [f"| direct to the engine | {direct:.0f} | {out['direct']['p50_ms']} | {out['direct']['p99_ms']} "
                f"| – | {out['direct']['cpu_us_per_req'][0]} |"]
        for strategy in ("*weight", "*hash"):
            r = out[strategy]
            rows.append(f"| through DispatcherS, {strategy} | {r['req_per_s']:.0f} | {r['p50_ms']} | {r['p99_ms']} "
                        f"| {r['cpu_us_per_req'][0]} | {r['cpu_us_per_req'][1]} |")
        write_section(
            "DispatcherS: the dispatch hop",
            f"Measured with `python benchmarks/bench_dispatchers.py --runs {args.runs} --repeat {args.repeat} --write` "
            f"({machine()}; the best of {args.repeat} interleaved runs of each path, the machine being shared); "
            f"cgr-tester sends CoreSv1.Ping (an event with an Account) over JSON-RPC, {load['parallel']} "
            f"connections × {load['inflight']} in flight, one client process; the dispatching engine forwards "
            "each call over one JSON-RPC connection to the backend engine. All three processes share the 2 cores, "
            "so the CPU per call is the truer measure of the hop.\n\n"
            "| path | calls/s | p50 ms | p99 ms | dispatcher CPU µs/call | backend CPU µs/call |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            f"Through the dispatcher / direct: **{out['*weight']['vs_direct']:.2f}** (*weight), "
            f"**{out['*hash']['vs_direct']:.2f}** (*hash of the Account). Where the dispatcher's CPU goes "
            "(cProfile of the dispatching engine under this load): about half is matching the profiles through the "
            "filter indexes (FilterS; the subsystem's index and the *any one, every event field looked up), the rest "
            "decoding the request, encoding the forwarded call, decoding its reply and encoding the answer; the "
            "strategy itself is a few µs.",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
