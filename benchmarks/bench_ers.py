"""CSV CDRs per second read, rated and exported to RabbitMQ, beside the plain CDRsV1.ProcessEvent rate, in one run.

One cgr-engine on durable embedded storage with the cdrs-in-out tutorial's tariff plan (one *default charger,
*rated CDRs priced per second): first cgr-tester sends CDRsV1.ProcessEvent (rate and store, no export) as fast as
the engine answers; then a FreeSWITCH CSV file of ``--runs`` lines is moved into the folder an ERs reader watches
(flags *cdrs through SessionS, concurrent_events 64) with the CDR server exporting each rated CDR to a RabbitMQ
queue (*amqp_json_map, asynchronous, batches with publisher confirms). Timed from the move until the last message
is in the queue.

    python benchmarks/bench_ers.py [--runs 20000] [--write]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import REPO, base_args, cpu_seconds, engine, machine, measured, rpc, tester, write_section

sys.path.insert(0, str(REPO))
from tests.integration.cdrs_io import AMQP_URL, FS_FIELDS, fs_line

PLAN = REPO / "tutorials" / "cdrs-in-out" / "tariffplan"
EVENT = {"Flags": ["*rals", "*export:false"], "Tenant": "cgrates.org",
         "Event": {"ToR": "*voice", "OriginID": "bench-{{conn}}-{{n}}", "OriginHost": "bench",
                   "RequestType": "*rated", "Tenant": "cgrates.org", "Category": "call", "Account": "1001",
                   "Subject": "1001", "Destination": "33612345678", "AnswerTime": "2024-01-15T10:00:05Z",
                   "Usage": "95s"}}


def queue_depth(queue: str) -> int:
    async def go() -> int:
        import aio_pika

        conn = await aio_pika.connect(AMQP_URL)
        async with conn:
            ch = await conn.channel()
            q = await ch.declare_queue(queue, durable=True)
            return q.declaration_result.message_count or 0

    return asyncio.run(go())


def delete_queue(queue: str) -> None:
    async def go() -> None:
        import aio_pika

        conn = await aio_pika.connect(AMQP_URL)
        async with conn:
            await (await conn.channel()).queue_delete(queue)

    asyncio.run(go())


def main() -> int:
    args = base_args(__doc__).parse_args()
    n = args.runs if args.runs != 50000 else 20000
    queue = f"bench_ers_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d, "in"), Path(d, "out")
        src.mkdir()
        config = {
            "chargers": {"enabled": True}, "rals": {"enabled": True}, "apiers": {"enabled": True},
            "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"],
                     "ees_conns": ["*internal"]},
            "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                         "chargers_conns": ["*internal"]},
            "ers": {"enabled": True, "sessions_conns": ["*internal"], "concurrent_events": 64,
                    "readers": [{"id": "fs", "type": "*file_csv", "run_delay": "-1", "source_path": str(src),
                                 "processed_path": str(out), "flags": ["*cdrs"], "fields": FS_FIELDS}]},
            "ees": {"enabled": True, "exporters": [{"id": "amqp", "type": "*amqp_json_map", "export_path": AMQP_URL,
                                                    "opts": {"amqpQueueID": queue},
                                                    "failed_posts_dir": str(Path(d, "fp"))}]},
        }
        try:
            with engine(config, tariffplan=PLAN, durable=True) as (addr, proc):
                port = int(addr.rpartition(":")[2])
                tester(addr, "CDRsV1.ProcessEvent", json.dumps(EVENT).replace("bench-", "warm-"), runs=500)
                plain = measured(proc.pid, lambda: tester(addr, "CDRsV1.ProcessEvent", json.dumps(EVENT),
                                                          runs=min(n, 20000), parallel=8, inflight=8))
                staging = Path(d, "fs.csv")
                staging.write_text("".join(fs_line(i, run="bench") for i in range(n)))
                cpu0 = cpu_seconds(proc.pid)
                t0 = time.monotonic()
                os.rename(staging, src / "fs.csv")
                while queue_depth(queue) < n:
                    if time.monotonic() - t0 > 3600:
                        raise RuntimeError("the CDRs did not all reach RabbitMQ within an hour")
                    time.sleep(0.2)
                elapsed = time.monotonic() - t0
                cpu = cpu_seconds(proc.pid) - cpu0
                counters = rpc(port, "ErSv1.GetReaderCounters", {})["fs"]
                stored = rpc(port, "CDRsV1.GetCDRsCount", {"OriginHosts": ["fs-csv"]})
        finally:
            delete_queue(queue)
    ers_rate = n / elapsed
    result = {"lines": n, "ers_seconds": round(elapsed, 2), "ers_cdrs_per_s": round(ers_rate, 1),
              "ers_cpu_us_per_cdr": round(cpu / n * 1e6, 1), "reader": counters, "stored": stored,
              "plain_process_event": plain}
    print(json.dumps(result, indent=1))
    if stored != n or plain["errors"]:
        print("errors: not every line became one CDR, or CDRsV1.ProcessEvent failed", file=sys.stderr)
        return 1
    if args.write:
        body = (
            f"Measured with `python benchmarks/bench_ers.py --runs {n} --write` ({machine()}). "
            f"{__doc__.split(chr(10) * 2)[1]}\n\n"
            "| path | CDRs/s | engine CPU µs per CDR | notes |\n|---|---|---|---|\n"
            f"| CDRsV1.ProcessEvent over JSON-RPC (rate + store) | {plain['req_per_s']:.0f} | "
            f"{plain['server_cpu_us_per_req']} | cgr-tester, 8 connections × 8 in flight, "
            f"p50 {plain['p50_ms']} ms, p99 {plain['p99_ms']} ms |\n"
            f"| CSV file → ERs → SessionS → CDRs (rate + store) → EEs → RabbitMQ | {ers_rate:.0f} | "
            f"{result['ers_cpu_us_per_cdr']} | {n} lines in {elapsed:.1f} s, every one stored once and "
            "in the queue |\n\n"
            f"ERs ÷ plain CDRsV1.ProcessEvent: **{ers_rate / plain['req_per_s']:.2f}**. The reader's path adds the CSV "
            "parsing and the templates, SessionSv1.ProcessCDR's duplicate check in front of the CDR server, and "
            "the export (a JSON body per CDR, published in batches with confirms); it needs no JSON-RPC round "
            "trip per CDR, which the plain path pays."
        )
        write_section("CDRs in from files, out to RabbitMQ (ERs/EEs)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
