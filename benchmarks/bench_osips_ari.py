"""Call set-ups per second, prepaid charging on, through each switch integration and as plain JSON-RPC, one run.

One cgr-engine (subprocess) with SessionS charging every call, the OpenSIPS agent and the Asterisk agent; the
switches are the test peers written from each protocol's documentation (tests/peers), run in this process. A
set-up is what each way does before the call talks:

- plain JSON-RPC: SessionSv1.AuthorizeEvent + SessionSv1.InitiateSession on rpc_json;
- OpenSIPS cgrates module: AuthorizeEventWithDigest + InitiateSession on birpc_json (json-c framing);
- OpenSIPS event_datagram: one E_ACC_EVENT datagram → the agent's InitiateSession;
- Asterisk ARI: StasisStart → AuthorizeEvent, three channel variables and continue over REST (HTTP) →
  ChannelStateChange Up → InitiateSession.

Each way keeps ``--window`` calls in flight; a set-up ends when the engine holds the call's session (for the
ways that get no answer, the engine's active session count is polled).

    python benchmarks/bench_osips_ari.py [--runs 1000] [--write]
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time

from common import REPO, base_args, cpu_seconds, engine, free_port, machine, rpc, write_section

sys.path.insert(0, str(REPO))

from pycgrates.engine.rpc.client import RPCClient
from tests.peers.asterisk import AsteriskPeer
from tests.peers.opensips_datagram import OpenSIPSPeer
from tests.peers.opensips_module import OpenSIPSModule

ACCOUNTS = 8
KVS = {"RequestType": "*prepaid", "OriginHost": "127.0.0.1"}


def config(asterisk: str, mi: str, events: str, birpc: int) -> dict:
    return {
        "general": {"log_level": 3, "default_request_type": "*prepaid"},
        "listen": {"birpc_json": f"127.0.0.1:{birpc}"},
        "rals": {"enabled": True}, "apiers": {"enabled": True}, "schedulers": {"enabled": True},
        "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"]},
        "chargers": {"enabled": True}, "attributes": {"enabled": True},
        "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                     "chargers_conns": ["*internal"], "debit_interval": "0s"},
        "opensips_agent": {"enabled": True, "listen_udp": events, "mi_addr": mi,
                           "events_subscribe_interval": "600s"},
        "asterisk_agent": {"enabled": True, "asterisk_conns": [
            {"address": asterisk, "user": "cgrates", "password": "CGRateS.org", "ari_websocket": False}]},
    }


class Engine:
    def __init__(self, port: int, pid: int) -> None:
        self.port, self.pid = port, pid
        self.client = RPCClient(f"127.0.0.1:{port}", reply_timeout=30)

    async def active(self) -> int:
        return int(await self.client.call("SessionSv1.GetActiveSessionsCount", {}))


async def windowed(n: int, window: int, start_one, eng: Engine) -> float:
    """Seconds to set up ``n`` calls, ``window`` in flight; ``start_one(i)`` returns when the call is set up,
    or returns False when only the engine's session count tells."""
    base = await eng.active()
    sem = asyncio.Semaphore(window)
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        async with sem:
            await start_one(i)

    await asyncio.gather(*(one(i) for i in range(n)))
    while await eng.active() < base + n:  # noqa: ASYNC110 - the engine tells only when asked
        await asyncio.sleep(0.002)
    return time.perf_counter() - t0


async def counted(n: int, window: int, send_one, eng: Engine) -> float:
    """Like :func:`windowed` for ways that answer nothing: ``send_one(i)`` fires a call; in flight = sent −
    sessions the engine holds."""
    base = await eng.active()
    t0 = time.perf_counter()
    sent = 0
    while True:
        done = await eng.active() - base
        if done >= n:
            break
        while sent < n and sent - done < window:
            await send_one(sent)
            sent += 1
        await asyncio.sleep(0.001)
    return time.perf_counter() - t0


async def measure(eng: Engine, name: str, runs: int, window: int, fn) -> dict:
    cpu0 = cpu_seconds(eng.pid)
    seconds = await fn()
    cpu = cpu_seconds(eng.pid) - cpu0
    return {"way": name, "calls": runs, "seconds": round(seconds, 3), "setups_per_s": round(runs / seconds, 1),
            "engine_cpu_ms_per_setup": round(cpu / runs * 1000, 2)}


async def run(runs: int, window: int) -> list[dict]:
    ari = AsteriskPeer()
    await ari.start()
    osips = OpenSIPSPeer()
    await osips.start()
    events = f"127.0.0.1:{free_port()}"
    birpc = free_port()
    results = []
    # the engine is started (and later stopped) in a thread: the switches it dials live in this event loop
    started = engine(config(ari.address, osips.mi_address, events, birpc),
                     tariffplan=REPO / "tutorials" / "opensips" / "tariffplan")
    addr, proc = await asyncio.to_thread(started.__enter__)
    try:
        port = int(addr.rpartition(":")[2])
        for i in range(ACCOUNTS):
            await asyncio.to_thread(rpc, port, "APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": f"b{i}"})
            await asyncio.to_thread(rpc, port, "APIerSv1.SetBalance", {
                "Tenant": "cgrates.org", "Account": f"b{i}", "BalanceType": "*monetary", "Value": 1e9,
                "Balance": {"ID": "MAIN"}})
        eng = Engine(port, proc.pid)
        await ari.wait_connected()
        while len(osips.subscriptions) < 3:  # noqa: ASYNC110 - subscribed by the engine, polled
            await asyncio.sleep(0.01)
        module = OpenSIPSModule(f"127.0.0.1:{birpc}", connections=window)
        await module.connect()

        def event(way: str, i: int) -> dict:
            return {**KVS, "OriginID": f"{way}-{i}", "Account": f"b{i % ACCOUNTS}", "Destination": "1002",
                    "SetupTime": "*now", "AnswerTime": "*now"}

        async def plain(i: int) -> None:
            ev = event("rpc", i)
            await eng.client.call("SessionSv1.AuthorizeEvent", {"GetMaxUsage": True, "Event": ev})
            await eng.client.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": ev})

        async def via_module(i: int) -> None:
            account = f"b{i % ACCOUNTS}"
            rc, _ = await module.cgrates_auth(f"mod-{i}", account, "1002", kvs=KVS)
            assert rc == 1
            await module.answered(module.new_dialog(f"mod-{i}", account, "1002", kvs=KVS))

        async def via_datagram(i: int) -> None:
            osips.answer(f"dgram-{i}", f"b{i % ACCOUNTS}", "1002")

        async def via_ari(i: int) -> None:
            ch = await ari.dial(f"b{i % ACCOUNTS}", "1002", ["cgr_reqtype=*prepaid", "cgr_flags=*accounts"])
            await asyncio.wait_for(ch.continued.wait(), 30)
            await ari.answer(ch)

        warm = max(20, runs // 20)
        await windowed(warm, window, lambda i: plain(runs + i), eng)
        results.append(await measure(eng, "plain JSON-RPC (rpc_json)", runs, window,
                                     lambda: windowed(runs, window, plain, eng)))
        results.append(await measure(eng, "OpenSIPS cgrates module (birpc_json)", runs, window,
                                     lambda: windowed(runs, window, via_module, eng)))
        results.append(await measure(eng, "OpenSIPS event_datagram + MI", runs, window,
                                     lambda: counted(runs, window, via_datagram, eng)))
        results.append(await measure(eng, "Asterisk ARI (REST over HTTP)", runs, window,
                                     lambda: windowed(runs, window, via_ari, eng)))
        await module.close()
        await eng.client.close()
    finally:
        await asyncio.to_thread(started.__exit__, None, None, None)
    await ari.stop()
    await osips.stop()
    return results


def main() -> int:
    p = base_args(__doc__)
    p.add_argument("--window", type=int, default=16)
    args = p.parse_args()
    runs = args.runs if args.runs != 50000 else 1000
    socket.setdefaulttimeout(60)
    results = asyncio.run(run(runs, args.window))
    print(json.dumps(results, indent=1))
    if args.write:
        plain = results[0]["setups_per_s"]
        rows = "".join(f"| {r['way']} | {r['setups_per_s']:.0f} | {r['setups_per_s'] / plain:.2f} |"
                       f" {r['engine_cpu_ms_per_setup']:.2f} ms |\n" for r in results)
        write_section(
            "Call set-ups through OpenSIPS and Asterisk (issue: OpenSIPS and Asterisk integrations)",
            f"Measured with `python benchmarks/bench_osips_ari.py --runs {runs} --write` ({machine()}). One "
            "cgr-engine (subprocess, memory storage) charging every call *prepaid (SessionS debit_interval 0: the "
            "set-up reserves the call's default usage); the switches are the test peers of tests/peers in the "
            f"benchmark's process; {args.window} calls in flight per way, the ways one after the other in the "
            "same run. Plain JSON-RPC = AuthorizeEvent + InitiateSession; the cgrates module = "
            "AuthorizeEventWithDigest + InitiateSession over BiRPC; event_datagram = one E_ACC_EVENT to "
            "InitiateSession; ARI = StasisStart to AuthorizeEvent, three channel variables and continue over "
            "REST, then ChannelStateChange to InitiateSession.\n\n"
            "| way | set-ups/s | ÷ plain JSON-RPC | engine CPU per set-up |\n|---|---|---|---|\n" + rows +
            "\nWith 16 calls in flight the rates are bounded by the round trips of each way and by the peers (Python, "
            "in one process on the same 2 cores), not by the engine's CPU (at these rates it uses well under one "
            "core): the last column is what each way costs the engine. ARI costs most — two events, the "
            "authorization, three REST requests setting channel variables and one to continue; event_datagram "
            "least — one session call and no authorization (the MI is only used to end calls)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
