"""GetCost per second with 1k, 100k and 1M destination prefixes, in-process and over JSON-RPC.

The tariff plan has N 8-digit prefixes (10000000, 10000001, ...), 100 per destination, all rated by one rate
(connect fee 0.1, 0.6 per minute in 1s steps) through the *any subject. Each GetCost is a 2m10s call to an
11-digit number: the prefix index is probed for 11, 10 and 9 digits (misses) and hits on 8, whatever N.

In-process: APIerSv1.GetCost called on the rating service directly, numbers drawn from 10,000 random numbers over
the whole prefix space; each size runs in its own process so its memory figure is its own. JSON-RPC: cgr-tester
against cgr-engine started on the DataDB the in-process run loaded (one number, 8 connections x 16 in flight).

    python benchmarks/bench_getcost.py [--sizes 1000,100000,1000000] [--runs 20000] [--no-rpc] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ANSWER = "2024-01-08T10:00:00Z"
USAGE = "2m10s"
PER_DESTINATION = 100


def prefix(i: int) -> str:
    return str(10_000_000 + i)


def write_plan(folder: Path, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "Destinations.csv", "w") as fh:
        fh.write("#Id,Prefix\n")
        for i in range(size):
            fh.write(f"DST_{i // PER_DESTINATION},{prefix(i)}\n")
    (folder / "Rates.csv").write_text(
        "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_1,0.1,0.6,60s,1s,0s\n"
    )
    with open(folder / "DestinationRates.csv", "w") as fh:
        fh.write("#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n")
        for d in range((size + PER_DESTINATION - 1) // PER_DESTINATION):
            fh.write(f"DR_1,DST_{d},RT_1,*up,4,0,\n")
    (folder / "RatingPlans.csv").write_text("#Id,DestinationRatesId,TimingTag,Weight\nRP_1,DR_1,*any,10\n")
    (folder / "RatingProfiles.csv").write_text(
        "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n"
        "cgrates.org,call,*any,2014-01-14T00:00:00Z,RP_1,\n"
    )


def cost_args(destination: str) -> dict:
    return {
        "Tenant": "cgrates.org",
        "Category": "call",
        "Subject": "1001",
        "Destination": destination,
        "AnswerTime": ANSWER,
        "Usage": USAGE,
    }


def rss_mb() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Resident memory now (Linux; the peak elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss_mb()


async def load_service(size: int, data_dir: str | None, pool: int = 10_000) -> tuple:
    """A rating service over a freshly loaded plan of ``size`` prefixes, and the numbers to call."""
    from types import SimpleNamespace

    from pycgrates.engine.config import default_config
    from pycgrates.engine.loader.tariffplan import load_tariff_plan
    from pycgrates.engine.rating.service import RatingService
    from pycgrates.engine.storage.cache import Cache
    from pycgrates.engine.storage.datamanager import DataManager
    from pycgrates.engine.storage.internal import InternalDataDB

    cfg = default_config()
    with tempfile.TemporaryDirectory() as tp:
        folder = Path(tp)
        write_plan(folder, size)
        db = InternalDataDB(Path(data_dir) if data_dir else None)
        dm = DataManager(db, Cache.from_config(cfg.section("caches")))
        t0 = time.perf_counter()
        await load_tariff_plan(dm, folder, timezone="UTC")
        load_s = time.perf_counter() - t0
    svc = RatingService(SimpleNamespace(dm=dm, cfg=cfg))
    rnd = random.Random(7)
    numbers = [prefix(rnd.randrange(size)) + f"{rnd.randrange(1000):03d}" for _ in range(pool)]
    for n in numbers:  # warm-up: every number once (the index's misses are cached too)
        await svc.apier_get_cost(cost_args(n))
    return svc, db, load_s, numbers


async def one_pass(svc, numbers: list[str], runs: int) -> float:
    t0 = time.perf_counter()
    for i in range(runs):
        await svc.apier_get_cost(cost_args(numbers[i % len(numbers)]))
    return time.perf_counter() - t0


async def in_process(size: int, runs: int, data_dir: str | None) -> dict:
    """Load figures of one size (this process only), with its own GetCost rate."""
    base_rss = rss_mb()
    svc, db, load_s, numbers = await load_service(size, data_dir, min(10_000, runs))
    gc.collect()
    loaded_rss = current_rss_mb()
    expected = (await svc.apier_get_cost(cost_args(numbers[0])))["Cost"]
    best = min([await one_pass(svc, numbers, runs) for _ in range(3)])
    await db.close()
    return {
        "size": size,
        "cost": expected,
        "load_s": round(load_s, 2),
        "per_s": round(runs / best),
        "us_per_call": round(best / runs * 1e6, 1),
        "rss_mb": round(rss_mb(), 1),
        "rss_loaded_mb": round(loaded_rss, 1),
        "rss_growth_mb": round(rss_mb() - base_rss, 1),
    }


async def interleaved(sizes: list[int], runs: int, rounds: int = 3) -> dict[int, float]:
    """Microseconds per GetCost for each size, passes alternating between the sizes (so that the machine's other
    load weighs on all of them alike); best pass per size."""
    services = {size: await load_service(size, None, min(10_000, runs)) for size in sizes}
    best: dict[int, float] = {}
    for _ in range(rounds):
        for size, (svc, _db, _load, numbers) in services.items():
            elapsed = await one_pass(svc, numbers, runs)
            best[size] = min(best.get(size, elapsed), elapsed)
    for _svc, db, _load, _numbers in services.values():
        await db.close()
    return {size: round(t / runs * 1e6, 1) for size, t in best.items()}


def over_rpc(data_dir: str, runs: int) -> dict:
    from common import free_port, measured, tester, wait_port

    rpc_port, http_port = free_port(), free_port()
    cfg = {
        "general": {"log_level": 3},
        "listen": {"rpc_json": f"127.0.0.1:{rpc_port}", "http": f"127.0.0.1:{http_port}", "birpc_json": ""},
        "data_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": data_dir}},
        "stor_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": ""}},
        "rals": {"enabled": True},
        "apiers": {"enabled": True},
    }
    with tempfile.TemporaryDirectory() as d:
        Path(d, "cgrates.json").write_text(json.dumps(cfg))
        proc = subprocess.Popen(
            [sys.executable, "-m", "pycgrates.engine.cli.engine", "-config_dir", d],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(rpc_port, timeout=600)
            server = f"127.0.0.1:{rpc_port}"
            params = json.dumps(cost_args(prefix(0) + "123"))
            load = {"parallel": 8, "inflight": 16, "procs": 1}
            tester(server, "APIerSv1.GetCost", params, runs=1000, **load)
            result = measured(proc.pid, lambda: tester(server, "APIerSv1.GetCost", params, runs=runs, **load))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return result


def child(size: int, runs: int, data_dir: str | None) -> dict:
    """One size in a fresh interpreter (clean memory figures)."""
    cmd = [sys.executable, __file__, "--child", str(size), "--runs", str(runs)]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1000,100000,1000000", help="prefix counts, comma separated")
    p.add_argument("--runs", type=int, default=20000)
    p.add_argument("--no-rpc", action="store_true", help="only the in-process measurement")
    p.add_argument("--write", action="store_true", help="write the figures into docs/performance.md")
    p.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--interleaved", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.child:
        print(json.dumps(asyncio.run(in_process(args.child, args.runs, args.data_dir))))
        return 0
    if args.interleaved:
        print(json.dumps(asyncio.run(interleaved(sizes, args.runs))))
        return 0
    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as data_dir:
            r = child(size, args.runs, None if args.no_rpc else data_dir)
            if not args.no_rpc:
                r["rpc"] = over_rpc(data_dir, args.runs)
        results.append(r)
        print(json.dumps(r), file=sys.stderr)
    cmd = [sys.executable, __file__, "--interleaved", "--sizes", args.sizes, "--runs", str(args.runs)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    per_call = {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}
    for r in results:
        r["separate_us_per_call"] = r["us_per_call"]
        r["us_per_call"] = per_call[r["size"]]
        r["per_s"] = round(1e6 / per_call[r["size"]])
    ratio = results[-1]["us_per_call"] / results[0]["us_per_call"] if len(results) > 1 else 1.0
    report = {"results": results, "largest_over_smallest_time_ratio": round(ratio, 3)}
    print(json.dumps(report, indent=1))
    if args.write:
        write_docs(results, ratio, args)
    return 0


def write_docs(results: list[dict], ratio: float, args: argparse.Namespace) -> None:
    from common import machine, write_section

    def label(n: int) -> str:
        return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"

    rows = []
    for r in results:
        rpc = r.get("rpc")
        rpc_cell = (
            f"{rpc['req_per_s']:.0f} (p50 {rpc['p50_ms']} ms, p99 {rpc['p99_ms']} ms, "
            f"server {rpc['server_cpu_us_per_req']} µs)"
            if rpc
            else "not measured"
        )
        rows.append(
            f"| {label(r['size'])} | {r['per_s']} ({r['us_per_call']} µs) | {rpc_cell} | {r['load_s']} s "
            f"| {r.get('rss_loaded_mb', '?')} MB | {r['rss_mb']} MB |"
        )
    body = (
        f"Measured with `python benchmarks/bench_getcost.py --sizes {args.sizes} --runs {args.runs}"
        f"{' --no-rpc' if args.no_rpc else ''} --write` ({machine()}). One GetCost is `APIerSv1.GetCost` of a "
        "2m10s call to an 11-digit number (connect fee, 130 one-second increments, EventCost reply); the prefix "
        "index is probed for 11, 10 and 9 digits (misses) and hits on 8, whatever the number of prefixes. "
        "In-process: the rating service called directly, numbers drawn from 10,000 random ones over the whole "
        "prefix space; all the sizes loaded in one process and measured in alternating passes, best of 3 each (on "
        "a shared machine, separate runs drift more than the sizes differ). JSON-RPC: cgr-tester, 8 connections "
        "× 16 in flight, one client process, "
        "against cgr-engine on the DataDB the in-process run loaded. Load: cgr-loader's code reading the CSV into "
        "the *internal DataDB. Memory: resident size of the in-process run once loaded (DataDB and plan), and its "
        "peak (during the load, which is written as one batch).\n\n"
        "| prefixes | in-process GetCost/s (µs per call) | JSON-RPC GetCost/s | load | RSS loaded | RSS peak |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Time per in-process GetCost, largest over smallest plan: **{ratio:.3f}** (the prefix index is a dict "
        "probed once per digit of the number, so a call's cost does not grow with the number of prefixes)."
    )
    write_section("Rating (GetCost)", body)


if __name__ == "__main__":
    sys.exit(main())
