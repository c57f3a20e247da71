"""cgr-tester: load generator for any JSON-RPC method; prints throughput and latency percentiles.

    cgr-tester -server 127.0.0.1:2012 -method CoreSv1.Ping -params '{}' -runs 100000 -parallel 8 [-cps 5000]

``-parallel`` is the number of TCP connections, ``-inflight`` the requests outstanding on each, ``-procs`` the
client processes (so the client itself is not the bottleneck on a small machine). ``-cps`` caps the total rate.
``-params`` may hold ``{{n}}`` (the request number), ``{{conn}}`` (the connection) and ``{{run}}`` (unique to
each cgr-tester run) to make each request distinct.

``-cycle FILE`` runs a sequence instead of one method: FILE is a JSON list of ``[method, params]`` steps (a step
may add ``{"sleep": seconds}`` as a third element), all sent in order per iteration with the same ``{{n}}``;
throughput and latency are then per cycle — e.g. a whole session: authorize, initiate, update, terminate, CDR.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass, field

import orjson

RUN_TOKEN = os.urandom(4).hex().encode()


@dataclass
class Result:
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""
    elapsed: float = 0.0


class _LoadProtocol(asyncio.Protocol):
    """Sends pre-encoded requests and matches replies by id; nothing else."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.pending: dict[int, tuple[float, asyncio.Future]] = {}
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                return
            line, self.buf = self.buf[:nl], self.buf[nl + 1 :]
            if not line.strip():
                continue
            msg = orjson.loads(line)
            entry = self.pending.pop(msg.get("id"), None)
            if entry is not None:
                entry[1].set_result((time.perf_counter() - entry[0], msg.get("error")))

    def connection_lost(self, exc) -> None:
        for _, fut in self.pending.values():
            if not fut.done():
                fut.set_result((0.0, "DISCONNECTED"))
        if not self.lost.done():
            self.lost.set_result(None)


def _template(method: str, params: str) -> tuple[bytes, bool]:
    templated = "{{n}}" in params or "{{conn}}" in params or "{{run}}" in params
    return params.encode(), templated


async def _run_cycles(host, port, steps, count, inflight, conn_no, limiter, result: Result) -> None:
    """Each iteration sends every step in order (waiting for each reply); latency is the whole cycle's."""
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(_LoadProtocol, host, port)
    next_id = 0
    encoded = [(m.encode(), p.encode(), pause) for m, p, pause in steps]

    async def one(n: int) -> None:
        nonlocal next_id
        t0 = time.perf_counter()
        for method, params, pause in encoded:
            next_id += 1
            fut = loop.create_future()
            proto.pending[next_id] = (time.perf_counter(), fut)
            body = params.replace(b"{{n}}", str(n).encode()).replace(b"{{conn}}", str(conn_no).encode()) \
                .replace(b"{{run}}", RUN_TOKEN)
            proto.transport.write(b'{"method":"' + method + b'","params":[' + body + b'],"id":'
                                  + str(next_id).encode() + b"}\n")
            _, err = await fut
            if err is not None:
                result.errors += 1
                result.first_error = result.first_error or f"{method.decode()}: {err}"
                return
            if pause:
                await asyncio.sleep(pause)
        result.ok += 1
        result.latencies.append(time.perf_counter() - t0)

    sem = asyncio.Semaphore(inflight)
    tasks = []
    for i in range(count):
        await sem.acquire()
        if limiter is not None:
            await limiter()
        task = loop.create_task(one(conn_no * 10_000_000 + i))
        task.add_done_callback(lambda _t: sem.release())
        tasks.append(task)
    await asyncio.gather(*tasks)
    proto.transport.close()


async def _run_conn(host, port, method, params, templated, count, inflight, conn_no, limiter, result: Result) -> None:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(_LoadProtocol, host, port)
    head = b'{"method":"' + method.encode() + b'","params":['
    next_id = 0
    sem = asyncio.Semaphore(inflight)
    waits: set[asyncio.Future] = set()

    async def one(fut: asyncio.Future) -> None:
        try:
            latency, err = await fut
        finally:
            sem.release()
        if err is None:
            result.ok += 1
            result.latencies.append(latency)
        else:
            result.errors += 1
            result.first_error = result.first_error or str(err)

    for _ in range(count):
        await sem.acquire()
        if limiter is not None:
            await limiter()
        next_id += 1
        p = params
        if templated:
            n = str(conn_no * 10_000_000 + next_id).encode()
            p = p.replace(b"{{n}}", n).replace(b"{{conn}}", str(conn_no).encode()).replace(b"{{run}}", RUN_TOKEN)
        fut = loop.create_future()
        proto.pending[next_id] = (time.perf_counter(), fut)
        proto.transport.write(head + p + b'],"id":' + str(next_id).encode() + b"}\n")
        t = loop.create_task(one(fut))
        waits.add(t)
        t.add_done_callback(waits.discard)
    if waits:
        await asyncio.gather(*waits)
    proto.transport.close()


def _make_limiter(cps: float):
    if cps <= 0:
        return None
    interval = 1.0 / cps
    state = {"next": time.perf_counter()}

    async def wait() -> None:
        now = time.perf_counter()
        if state["next"] > now:
            await asyncio.sleep(state["next"] - now)
        state["next"] = max(state["next"], now) + interval

    return wait


async def _run_process(args, runs: int, proc_no: int) -> Result:
    host, _, port = args.server.rpartition(":")
    params, templated = _template(args.method, args.params)
    result = Result()
    per_conn = [runs // args.parallel + (1 if i < runs % args.parallel else 0) for i in range(args.parallel)]
    limiter = _make_limiter(args.cps / max(1, args.procs))
    t0 = time.perf_counter()
    if args.cycle:
        steps = load_cycle(args.cycle)
        await asyncio.gather(*[
            _run_cycles(host or "127.0.0.1", int(port), steps, n, args.inflight, proc_no * 1000 + i, limiter, result)
            for i, n in enumerate(per_conn) if n
        ])
    else:
        await asyncio.gather(*[
            _run_conn(host or "127.0.0.1", int(port), args.method, params, templated, n, args.inflight,
                      proc_no * 1000 + i, limiter, result)
            for i, n in enumerate(per_conn) if n
        ])
    result.elapsed = time.perf_counter() - t0
    return result


def _proc_entry(args, runs, proc_no, queue) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    r = asyncio.run(_run_process(args, runs, proc_no))
    queue.put((r.ok, r.errors, r.latencies, r.first_error, r.elapsed))


def load_cycle(path: str) -> list[tuple[str, str, float]]:
    """Read a -cycle file: [[method, params], [method, params, {"sleep": s}], ...]."""
    with open(path) as f:
        raw = json.load(f)
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: a cycle is a non-empty JSON list of [method, params] steps")
    steps = []
    for i, step in enumerate(raw):
        if not isinstance(step, list) or len(step) < 2 or not isinstance(step[0], str):
            raise ValueError(f"{path}: step {i} must be [method, params] or [method, params, {{\"sleep\": s}}]")
        pause = float(step[2].get("sleep", 0)) if len(step) > 2 and isinstance(step[2], dict) else 0.0
        steps.append((step[0], json.dumps(step[1]), pause))
    return steps


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[i]


def run_load(args) -> dict:
    """Run the load as configured; return the summary (also used by benchmark scripts)."""
    global RUN_TOKEN
    RUN_TOKEN = os.urandom(4).hex().encode()  # {{run}}: fresh for every run, shared by its processes
    if args.procs <= 1:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        r = asyncio.run(_run_process(args, args.runs, 0))
        parts = [(r.ok, r.errors, r.latencies, r.first_error, r.elapsed)]
    else:
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        share = [args.runs // args.procs + (1 if i < args.runs % args.procs else 0) for i in range(args.procs)]
        procs = [ctx.Process(target=_proc_entry, args=(args, share[i], i, q)) for i in range(args.procs)]
        for p in procs:
            p.start()
        parts = [q.get() for _ in procs]
        for p in procs:
            p.join()
    ok = sum(p[0] for p in parts)
    errors = sum(p[1] for p in parts)
    lat = sorted(x for p in parts for x in p[2])
    elapsed = max(p[4] for p in parts) or 1e-9
    return {
        "method": args.cycle or args.method,
        "runs": args.runs,
        "ok": ok,
        "errors": errors,
        "first_error": next((p[3] for p in parts if p[3]), ""),
        "elapsed_s": round(elapsed, 4),
        "req_per_s": round(ok / elapsed, 1),
        "p50_ms": round(percentile(lat, 50) * 1000, 3),
        "p90_ms": round(percentile(lat, 90) * 1000, 3),
        "p99_ms": round(percentile(lat, 99) * 1000, 3),
        "max_ms": round((lat[-1] if lat else 0) * 1000, 3),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cgr-tester", description="JSON-RPC load generator for pycgrates")
    p.add_argument("-server", "--server", default="127.0.0.1:2012", help="JSON-RPC TCP address")
    p.add_argument("-method", "--method", default="CoreSv1.Ping", help="method to call")
    p.add_argument("-params", "--params", default="{}", help="JSON argument; {{n}} and {{conn}} are substituted")
    p.add_argument("-runs", "--runs", type=int, default=10000, help="total requests")
    p.add_argument("-parallel", "--parallel", type=int, default=4, help="TCP connections (per process)")
    p.add_argument("-inflight", "--inflight", type=int, default=8, help="outstanding requests per connection")
    p.add_argument("-procs", "--procs", type=int, default=1, help="client processes")
    p.add_argument("-cps", "--cps", type=float, default=0, help="cap on calls per second (0: as fast as possible)")
    p.add_argument("-cycle", "--cycle", default="", help="JSON file of [method, params] steps run per iteration")
    p.add_argument("-json", "--json", action="store_true", help="print the summary as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        json.loads(args.params.replace("{{n}}", "0").replace("{{conn}}", "0"))
        if args.cycle:
            load_cycle(args.cycle)
    except (ValueError, OSError) as exc:
        print(f"cgr-tester: {exc}", file=sys.stderr)
        return 2
    try:
        summary = run_load(args)
    except OSError as exc:
        print(f"cgr-tester: cannot reach {args.server}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['method']}: {summary['ok']} ok, {summary['errors']} errors in {summary['elapsed_s']}s "
              f"→ {summary['req_per_s']} req/s; latency p50 {summary['p50_ms']} ms, p90 {summary['p90_ms']} ms, "
              f"p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms")
        if summary["first_error"]:
            print(f"first error: {summary['first_error']}")
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
