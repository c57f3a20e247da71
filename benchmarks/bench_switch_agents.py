"""Call set-ups per second through the FreeSWITCH and the Kamailio agent with charging on, beside the same calls
sent as JSON-RPC, in one run against one cgr-engine.

A call set-up is a 60 s *prepaid call charged from start to end: AuthorizeEvent, InitiateSession (the first
5 s debited, as the tutorials' debit_interval), TerminateSession (the rest debited, rounding) and ProcessCDR (one
CDR stored), on durable embedded storage with the project's basic tariff plan, over --accounts accounts (8 by
default: the accounts of cgr-tester's 8 connections).

- FreeSWITCH: the engine's freeswitch_agent dials an event-socket peer in this process (tests/peers/freeswitch.py)
  which, per call, sends CHANNEL_PARK (the agent authorizes, writes uuid_setvar cgr_max_usage, execute_on_answer,
  cgr_notify, and unparks with uuid_transfer), then CHANNEL_ANSWER (the agent sets cgr_originhost and initiates)
  and CHANNEL_HANGUP_COMPLETE with billsec 60 (terminate, CDR): --window calls between park and unpark at once.
- Kamailio: the engine's kamailio_agent dials an evapi listener in this process which, per call, sends
  CGR_AUTH_REQUEST and waits for its reply, then CGR_CALL_START and CGR_CALL_END (Usage 60): --window
  authorizations in flight.
- JSON-RPC: cgr-tester's cycle mode (benchmarks/cycles/switch_call.json: the four calls in turn), 8 connections
  × 8 cycles in flight.

An agent's rate is its calls over the time until the last CDR is stored; engine CPU per call is measured on the
engine process for each.

    python benchmarks/bench_switch_agents.py [--calls 2000] [--write]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time

from common import REPO, base_args, cpu_seconds, engine, machine, measured, rpc, tester, write_section

sys.path.insert(0, str(REPO))

from pycgrates.agents.kamailio.evapi import NetstringFramer, frame
from tests.peers.freeswitch import FreeSWITCHPeer

CYCLE = str(REPO / "benchmarks" / "cycles" / "switch_call.json")
TARIFF_PLAN = REPO / "tutorials" / "tariffplans" / "basic"
CONFIG = {
    "rals": {"enabled": True}, "apiers": {"enabled": True},
    "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"]},
    "chargers": {"enabled": True},
    "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                 "chargers_conns": ["*internal"], "debit_interval": "5s"},   # as the tutorials: 5 s ahead
}


class EvapiListener:
    """Kamailio's evapi side for the load: sends events, hands the agent's auth replies to who waits for them."""

    def __init__(self) -> None:
        self.port = 0
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()
        self.replies: dict[str, asyncio.Future[dict]] = {}
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def send(self, event: dict) -> None:
        assert self.writer is not None
        self.writer.write(frame(json.dumps(event).encode()))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.connected.set()
        framer = NetstringFramer()
        while data := await reader.read(65536):
            framer.feed(data)
            for payload in framer:
                reply = json.loads(payload)
                waiter = self.replies.pop(reply.get("TransactionIndex", ""), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(reply)


async def freeswitch_calls(fs: FreeSWITCHPeer, calls: int, window: int, accounts: int, run: str) -> int:
    """Park, answer and hang up ``calls`` calls; returns how many were refused."""
    limit = asyncio.Semaphore(window)
    refused = 0

    async def one(i: int) -> None:
        nonlocal refused
        async with limit:
            ch = fs.add_channel(f"bench{i % accounts}", "1004", cgr_reqtype="*prepaid", cgr_flags="*accounts",
                                bench_run=run)
            fs.park(ch)
            await fs.wait_for(lambda: ch.routed or ch.uuid not in fs.channels, timeout=120)
        if not ch.routed:
            refused += 1
            return
        fs.answer(ch)
        ch.answered_us -= 60_000_000            # a 60 s call, hung up once the agent took its answer
        await fs.wait_for(lambda: "cgr_originhost" in ch.variables, timeout=120)
        fs.hangup(ch)

    await asyncio.gather(*(one(i) for i in range(calls)))
    return refused


async def kamailio_calls(kam: EvapiListener, calls: int, window: int, accounts: int, run: str) -> int:
    """Authorize, start and end ``calls`` calls; returns how many were refused."""
    limit = asyncio.Semaphore(window)
    refused = 0
    loop = asyncio.get_running_loop()

    async def one(i: int) -> None:
        nonlocal refused
        now = str(int(time.time()))
        fields = {"cgr_flags": "*accounts", "RequestType": "*prepaid", "Account": f"bench{i % accounts}",
                  "Destination": "1004", "SetupTime": now}
        async with limit:
            index = f"{run}{i}"
            reply = kam.replies[index] = loop.create_future()
            kam.send({"event": "CGR_AUTH_REQUEST", "tr_index": index, "tr_label": "1", **fields})
            answer = await asyncio.wait_for(reply, 120)
        if answer["Error"] or not answer["MaxUsage"]:
            refused += 1
            return
        call = {**fields, "OriginID": f"kam-{run}-{i}", "AnswerTime": now}
        kam.send({"event": "CGR_CALL_START", "h_entry": str(i), "h_id": "1", **call})
        kam.send({"event": "CGR_CALL_END", **call, "Usage": "60"})

    await asyncio.gather(*(one(i) for i in range(calls)))
    return refused


async def until_cdrs(port: int, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while await asyncio.to_thread(rpc, port, "CDRsV1.GetCDRsCount", {}) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} CDRs after {timeout}s")
        await asyncio.sleep(0.05)


async def agent_run(drive, port: int, pid: int, cdrs_before: int, calls: int) -> dict:
    cpu, started = cpu_seconds(pid), time.monotonic()
    refused = await drive()
    await until_cdrs(port, cdrs_before + calls - refused)
    elapsed = time.monotonic() - started
    return {"calls": calls, "refused": refused, "seconds": round(elapsed, 2),
            "setups_per_s": round((calls - refused) / elapsed, 1),
            "engine_cpu_ms_per_call": round((cpu_seconds(pid) - cpu) / max(1, calls - refused) * 1000, 3)}


async def run(args) -> dict:
    fs = FreeSWITCHPeer()
    kam = EvapiListener()
    await fs.start()
    await kam.start()
    agents = {
        "freeswitch_agent": {"enabled": True, "create_cdr": True, "event_socket_conns": [
            {"address": fs.address, "password": "ClueCon", "reconnects": -1, "alias": "bench-fs"}]},
        "kamailio_agent": {"enabled": True, "create_cdr": True, "evapi_conns": [
            {"address": f"127.0.0.1:{kam.port}", "reconnects": -1, "alias": "bench-kam"}]},
    }
    stack = contextlib.ExitStack()
    try:
        addr, proc = await asyncio.to_thread(stack.enter_context,
                                             engine({**CONFIG, **agents}, tariffplan=TARIFF_PLAN, durable=True))
        port = int(addr.rpartition(":")[2])
        for i in range(args.accounts):
            await asyncio.to_thread(rpc, port, "APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": f"bench{i}"})
            await asyncio.to_thread(rpc, port, "APIerSv1.SetBalance", {
                "Tenant": "cgrates.org", "Account": f"bench{i}", "BalanceType": "*monetary", "Value": 1e9,
                "Balance": {"ID": "MAIN"}})
        await asyncio.wait_for(kam.connected.wait(), 10)
        await fs.wait_for(lambda: bool(fs.authed_sessions()), timeout=10)
        results: dict = {}
        warm = min(200, args.calls // 5)
        await freeswitch_calls(fs, warm, args.window, args.accounts, "fw")
        await kamailio_calls(kam, warm, args.window, args.accounts, "kw")
        await until_cdrs(port, 2 * warm)
        cdrs = 2 * warm
        results["freeswitch"] = await agent_run(
            lambda: freeswitch_calls(fs, args.calls, args.window, args.accounts, "f"), port, proc.pid, cdrs,
            args.calls)
        cdrs += args.calls - results["freeswitch"]["refused"]
        results["kamailio"] = await agent_run(
            lambda: kamailio_calls(kam, args.calls, args.window, args.accounts, "k"), port, proc.pid, cdrs,
            args.calls)
        await asyncio.to_thread(tester, addr, "", runs=200, parallel=8, inflight=4, cycle=CYCLE)   # warm-up
        results["jsonrpc"] = await asyncio.to_thread(
            measured, proc.pid, lambda: tester(addr, "", runs=args.calls, parallel=8, inflight=8, cycle=CYCLE))
    finally:
        await asyncio.to_thread(stack.close)   # the engine stops: its connections to the peers end
        await asyncio.sleep(0.2)
        await fs.stop()
        await kam.stop()
    return results


def main() -> int:
    p = base_args(__doc__)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--window", type=int, default=64, help="calls being authorized at once through each agent")
    p.add_argument("--accounts", type=int, default=8, help="accounts the calls are spread over")
    args = p.parse_args()
    results = asyncio.run(run(args))
    fs, kam, rpc_run = results["freeswitch"], results["kamailio"], results["jsonrpc"]
    rpc_rate = rpc_run["req_per_s"]
    rpc_cpu = rpc_run["server_cpu_us_per_req"] / 1000
    for r in (fs, kam):
        r["ratio_to_jsonrpc"] = round(r["setups_per_s"] / rpc_rate, 3) if rpc_rate else 0
        r["cpu_ratio_to_jsonrpc"] = round(rpc_cpu / r["engine_cpu_ms_per_call"], 3)
    print(json.dumps(results, indent=1))
    if fs["refused"] or kam["refused"] or rpc_run["errors"]:
        print(f"refused or failed calls: {rpc_run['first_error']}", file=sys.stderr)
        return 1
    if args.write:
        write_section(
            "Switch agents: call set-ups (FreeSWITCH, Kamailio)",
            f"Measured with `python benchmarks/bench_switch_agents.py --calls {args.calls} --write` ({machine()}). "
            "A call set-up is a 60 s *prepaid call charged from start to end: AuthorizeEvent, InitiateSession "
            "(5 s debited ahead), TerminateSession (the rest debited, rounded) and ProcessCDR (a CDR stored), "
            f"durable embedded storage, the basic tariff plan, {args.accounts} accounts; one cgr-engine serves the "
            "three runs one after the other. FreeSWITCH: freeswitch_agent on an event-socket peer (the tests' "
            "FreeSWITCH stand-in, in the load process) sending CHANNEL_PARK, CHANNEL_ANSWER and "
            "CHANNEL_HANGUP_COMPLETE per call, the agent answering the park with three uuid_setvar and a "
            f"uuid_transfer and the answer with one uuid_setvar; {args.window} calls between park and unpark at "
            "once. Kamailio: kamailio_agent on an evapi listener in the load process sending CGR_AUTH_REQUEST "
            f"(waiting for its reply), CGR_CALL_START and CGR_CALL_END; {args.window} authorizations in flight. "
            "JSON-RPC: cgr-tester cycle mode, the same four calls per cycle (benchmarks/cycles/switch_call.json), "
            "8 connections × 8 cycles in flight. An agent's rate counts its calls until the last CDR is stored.\n\n"
            "| path | call set-ups/s | engine CPU ms per call | ÷ JSON-RPC set-ups/s | JSON-RPC CPU ÷ its CPU |\n"
            "|---|---|---|---|---|\n"
            f"| FreeSWITCH agent (event socket) | {fs['setups_per_s']:.0f} | {fs['engine_cpu_ms_per_call']} | "
            f"**{fs['ratio_to_jsonrpc']:.3f}** | {fs['cpu_ratio_to_jsonrpc']:.3f} |\n"
            f"| Kamailio agent (evapi) | {kam['setups_per_s']:.0f} | {kam['engine_cpu_ms_per_call']} | "
            f"**{kam['ratio_to_jsonrpc']:.3f}** | {kam['cpu_ratio_to_jsonrpc']:.3f} |\n"
            f"| JSON-RPC (cgr-tester, 4 calls a cycle) | {rpc_rate:.0f} | {rpc_cpu:.3f} | 1 | 1 |\n\n"
            "The agents make the same four SessionS calls in process (no JSON in between) but do the switch's "
            "part on top: decoding its events, building each CGREvent from the channel or the evapi fields, and "
            "for FreeSWITCH the five api commands a call costs on the event socket (each a round trip answered in "
            "order). The load process shares the machine's cores with the engine and with whatever else runs "
            f"there (load average {os.getloadavg()[0]:.1f} at the end of this run): rates moved by a fifth from one "
            "run to the next while engine CPU per call stayed within a tenth, so the CPU ratio is the figure to "
            "trust. Most of a call's CPU is SessionS's (rating, the debit and its refund, the CDR); the FreeSWITCH "
            "agent's own share is mostly reading FreeSWITCH's events (some 70 URL-encoded headers each, three a "
            "call). The FreeSWITCH stand-in writes those events in Python in the load process, which costs it more "
            "CPU per call than the agent spends reading them: its set-up rate is bounded by the load process as "
            "much as by the engine.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
