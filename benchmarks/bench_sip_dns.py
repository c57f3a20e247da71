"""SIP redirects and ENUM NAPTR answers per second through the agents, beside a plain RouteSv1.GetRoutes over
JSON-RPC to the same engine in the same run.

One cgr-engine (memory-only storage) runs the SIP agent (UDP, retransmission_timer 1 s) and the DNS agent (UDP)
with the tut_sip_redirect and dnsagent tariff plans loaded. The load client keeps --sockets UDP sockets with
--window requests each in flight: an INVITE is answered 100 then 302, ACKed at once, and the slot sends the next
INVITE (a new transaction, a new Call-ID); a NAPTR query is answered and the slot asks the next. Unanswered
requests are sent again after 2 s. JSON-RPC: cgr-tester, 8 connections × 16 in flight.

Variants, each measured in the same engine:
- SIP redirect with routes: ``*message`` + ``*routes`` (SessionS → RouteS), Contacts from the routes
  (the sip_redirect sample's processors without STIR);
- SIP redirect, templates only: the same reply built from constants (flags ``*none``);
- SIP redirect signed: the constant redirect plus ``*stir_initiate`` (SessionS signs a PASSporT per call);
- NAPTR with routes: the dns_enum sample's processors (SessionS → RouteS), one NAPTR per route;
- NAPTR, templates only: one constant NAPTR (flags ``*none``);
- RouteSv1.GetRoutes over JSON-RPC for the event the routed variants ask about.
Where this build serves no RouteSv1.GetRoutes, the variants that need it are reported as not measured.

    python benchmarks/bench_sip_dns.py [--runs 20000] [--write]
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from common import ENGINE, REPO, base_args, cpu_seconds, free_port, machine, process, rpc, tester, write_section

sys.path.insert(0, str(REPO))

from dnslib import DNSRecord

SHARED = REPO.parent / "shared" / "data"
RETRANSMIT = 2.0
ENUM = "2.0.0.1.e164.arpa."  # 1002
ROUTE_EVENT = {"Tenant": "cgrates.org", "ID": "bench", "Event": {
    "Account": "1001", "Destination": "1002", "SetupTime": "*now", "Usage": "1m", "Category": "call"}}


def composed(path: str, *values: str) -> list[dict]:
    return [{"tag": path, "path": f"*rep.{path}", "type": "*composed", "value": v} for v in values]


def sip_processors() -> list[dict]:
    invite = "*string:~*vars.Method:INVITE"
    redirect_status = {"tag": "Request", "path": "*rep.Request", "type": "*constant",
                       "value": "SIP/2.0 302 Moved Temporarily"}
    return [
        {"id": "Routes", "filters": [invite, "*string:~*req.X-Bench:routes"], "flags": ["*message", "*routes",
                                                                                       "*continue"],
         "request_fields": [
             {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": "~*req.From{*sipuri_user}"},
             {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable",
              "value": "~*req.To{*sipuri_user}"},
             {"tag": "OriginID", "path": "*cgreq.OriginID", "type": "*variable", "value": "~*req.Call-ID"},
             {"tag": "Category", "path": "*cgreq.Category", "type": "*constant", "value": "call"},
             {"tag": "SetupTime", "path": "*cgreq.SetupTime", "type": "*constant", "value": "*now"},
             {"tag": "Usage", "path": "*cgreq.Usage", "type": "*constant", "value": "1m"}],
         "reply_fields": [{**redirect_status, "value": "SIP/2.0 480 Temporarily Unavailable"}]},
        {"id": "RoutesRedirect", "filters": [invite, "*string:~*req.X-Bench:routes",
                                             "*gte:~*cgrep.RouteProfiles[0].Routes.Length:2"], "flags": ["*none"],
         "reply_fields": [redirect_status, *composed(
             "Contact", "<sip:", "~*req.To{*sipuri_user}", "@", "~*cgrep.RouteProfiles[0].Routes[0].RouteParameters",
             "`>;q=0.7,<sip:`", "~*req.To{*sipuri_user}", "@", "~*cgrep.RouteProfiles[0].Routes[1].RouteParameters",
             "`>;q=0.2`")]},
        {"id": "Sign", "filters": [invite, "*string:~*req.X-Bench:signed"], "flags": ["*stir_initiate", "*continue"]},
        {"id": "Constant", "filters": [invite, "*notstring:~*req.X-Bench:routes"], "flags": ["*none"],
         "reply_fields": [redirect_status, *composed(
             "Contact", "<sip:", "~*req.To{*sipuri_user}", "`@cgrates.org>;q=0.7,<sip:`", "~*req.To{*sipuri_user}",
             "`@cgrates.net>;q=0.2`")]},
    ]


def dns_processors() -> list[dict]:
    naptr = "*string:~*vars.QueryType:NAPTR"
    answer = [("Order", "100"), ("Preference", "10"), ("Flags", "U"), ("Service", "E2U+SIP"), ("Replacement", ".")]
    return [
        {"id": "Routes", "filters": [naptr, "*prefix:~*vars.QueryName:2.0.0.1."], "flags": ["*message", "*routes",
                                                                                             "*continue"],
         "request_fields": [
             {"tag": "Account", "path": "*cgreq.Account", "type": "*constant", "value": "1001"},
             {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable",
              "value": "~*vars.QueryName{*e164}"},
             {"tag": "Category", "path": "*cgreq.Category", "type": "*constant", "value": "call"},
             {"tag": "SetupTime", "path": "*cgreq.SetupTime", "type": "*constant", "value": "*now"},
             {"tag": "Usage", "path": "*cgreq.Usage", "type": "*constant", "value": "1m"}],
         "reply_fields": [{"tag": "Rcode", "path": "*rep.Rcode", "type": "*constant", "value": "3"}]},
        *({"id": f"Route{i}", "filters": [naptr, "*prefix:~*vars.QueryName:2.0.0.1.",
                                          f"*gte:~*cgrep.RouteProfiles[0].Routes.Length:{i + 1}"],
           "flags": ["*none", "*continue"],
           "reply_fields": [{"tag": "Rcode", "path": "*rep.Rcode", "type": "*constant", "value": "0"},
                            *({"tag": f, "path": f"*rep.Answer.{f}", "type": "*group", "value": v,
                               "new_branch": f == "Order"} for f, v in answer),
                            {"tag": "Regexp", "path": "*rep.Answer.Regexp", "type": "*group",
                             "value": f"~*cgrep.RouteProfiles[0].Routes[{i}].RouteParameters"}]}
          for i in range(2)),
        {"id": "Constant", "filters": [naptr, "*prefix:~*vars.QueryName:9.9.9."], "flags": ["*none"],
         "reply_fields": [*({"tag": f, "path": f"*rep.Answer.{f}", "type": "*constant", "value": v}
                            for f, v in answer),
                          {"tag": "Regexp", "path": "*rep.Answer.Regexp", "type": "*constant",
                           "value": "!^(.*)$!sip:\\1@172.16.1.10!"}]},
    ]


@contextmanager
def engine():
    """cgr-engine with both agents and both plans; yields (rpc port, sip port, dns port, pid, routes served)."""
    rpc_port, sip, dns = free_port(), free_port(), free_port()
    stir = SHARED / "stir"
    with tempfile.TemporaryDirectory() as d:
        cfg = {
            "general": {"log_level": 3},
            "listen": {"rpc_json": f"127.0.0.1:{rpc_port}", "http": "", "birpc_json": ""},
            "data_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": ""}},
            "stor_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": ""}},
            "rals": {"enabled": True}, "apiers": {"enabled": True}, "attributes": {"enabled": True},
            "chargers": {"enabled": True, "attributes_conns": ["*internal"]},
            "routes": {"enabled": True, "rals_conns": ["*internal"]},
            "sessions": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"],
                         "attributes_conns": ["*internal"], "routes_conns": ["*internal"],
                         "stir": {"publickey_path": "/usr/share/cgrates/stir/stir_pubkey.pem",
                                  "privatekey_path": str(stir / "stir_privatekey.pem")}},
            "sip_agent": {"enabled": True, "listen": f"127.0.0.1:{sip}", "listen_net": "udp",
                          "sessions_conns": ["*internal"], "retransmission_timer": "1s",
                          "request_processors": sip_processors()},
            "dns_agent": {"enabled": True, "listeners": [{"address": f"127.0.0.1:{dns}", "network": "udp"}],
                          "sessions_conns": ["*internal"], "request_processors": dns_processors()},
        }
        Path(d, "cgrates.json").write_text(json.dumps(cfg))
        with process([*ENGINE, "-config_dir", d], rpc_port) as proc:
            for plan in ("tut_sip_redirect", "dnsagent"):
                rpc(rpc_port, "APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(SHARED / "tariffplans" / plan)})
            try:
                rpc(rpc_port, "RouteSv1.GetRoutes", ROUTE_EVENT)
                routes = True
            except RuntimeError as exc:
                routes = "can't find" not in str(exc)
            yield rpc_port, sip, dns, proc.pid, routes


# ---------------------------------------------------------------------------------------------------- load clients


def invite(local_port: int, call_id: str, variant: str) -> bytes:
    return (f"INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-{call_id}"
            f"\r\nFrom: <sip:1001@127.0.0.1>;tag={call_id}\r\nTo: <sip:1002@127.0.0.1>\r\nCall-ID: {call_id}\r\n"
            f"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nX-Bench: {variant}\r\nContent-Length: 0\r\n\r\n").encode()


def ack(local_port: int, call_id: str, response: bytes) -> bytes:
    to = next(line for line in response.split(b"\r\n") if line.lower().startswith(b"to:"))
    return (f"ACK sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-{call_id}"
            f"\r\nFrom: <sip:1001@127.0.0.1>;tag={call_id}\r\n").encode() + to + (
        f"\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


def drive(port: int, requests: int, sockets: int, window: int, make, answer) -> dict:
    """Keep sockets × window requests in flight until ``requests`` are answered.

    ``make(slot, n, local_port) -> (key, bytes)`` builds request ``n`` of a slot (sent on socket slot % sockets);
    ``answer(data, socket index) -> (key, final, status, follow-up bytes or None)`` reads what came back."""
    socks = []
    for _ in range(sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.bind(("127.0.0.1", 0))
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    slots = sockets * window
    pending: dict[object, tuple[int, bytes, float]] = {}
    sent = 0
    answered, statuses, latencies, retries = 0, {}, [], 0

    def send_next(slot: int) -> None:
        nonlocal sent
        if sent >= requests:
            return
        s = socks[slot % sockets]
        key, data = make(slot, sent, s.getsockname()[1])
        sent += 1
        pending[key] = (slot, data, time.perf_counter())
        s.send(data)

    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)
    started = time.perf_counter()
    for slot in range(min(slots, requests)):
        send_next(slot)
    last_check = started
    while pending:
        for key, _ in sel.select(0.05):
            s = key.fileobj
            while True:
                try:
                    data = s.recv(65535)
                except BlockingIOError:
                    break
                rkey, final, status, follow = answer(data, key.data)
                entry = pending.get(rkey)
                if entry is None or not final:
                    continue
                slot, _, at = entry
                del pending[rkey]
                latencies.append(time.perf_counter() - at)
                statuses[status] = statuses.get(status, 0) + 1
                answered += 1
                if follow is not None:
                    s.send(follow)
                send_next(slot)
        now = time.perf_counter()
        if now - last_check > 0.5:
            last_check = now
            for rkey, (slot, data, at) in list(pending.items()):
                if now - at > RETRANSMIT:
                    retries += 1
                    socks[slot % sockets].send(data)
                    pending[rkey] = (slot, data, now)
    elapsed = time.perf_counter() - started
    for s in socks:
        s.close()
    latencies.sort()
    return {"answered": answered, "seconds": round(elapsed, 3), "per_s": round(answered / elapsed, 1),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3), "statuses": statuses,
            "retransmissions": retries}


def sip_load(port: int, requests: int, variant: str, sockets: int = 8, window: int = 16) -> dict:
    run = os.urandom(3).hex()

    def make(slot: int, n: int, local_port: int) -> tuple[str, bytes]:
        call_id = f"{run}-{n}"
        return call_id, invite(local_port, call_id, variant)

    def answer(data: bytes, _sock: int) -> tuple[str, bool, int, bytes | None]:
        head, _, _ = data.partition(b"\r\n")
        status = int(head[8:11]) if head.startswith(b"SIP/2.0 ") else 0
        call_id = next((line[8:].strip().decode() for line in data.split(b"\r\n")
                        if line.lower().startswith(b"call-id:")), "")
        final = status >= 200
        local = int(next(line for line in data.split(b"\r\n") if line.startswith(b"Via:")).split(b":")[2]
                    .split(b";")[0])
        return call_id, final, status, ack(local, call_id, data) if final else None

    return drive(port, requests, sockets, window, make, answer)


def dns_load(port: int, requests: int, name: str, sockets: int = 8, window: int = 16) -> dict:
    template = DNSRecord.question(name, "NAPTR").pack()

    def make(slot: int, n: int, _local_port: int) -> tuple[tuple[int, int], bytes]:
        qid = n % 65536  # unique among the requests in flight
        return (slot % sockets, qid), qid.to_bytes(2, "big") + template[2:]

    def answer(data: bytes, sock: int) -> tuple[tuple[int, int], bool, int, None]:
        return (sock, int.from_bytes(data[:2], "big")), True, data[3] & 0x0F, None

    return drive(port, requests, sockets, window, make, answer)


def measured(pid: int, fn) -> dict:
    before = cpu_seconds(pid)
    out = fn()
    out["server_cpu_us_per_req"] = round((cpu_seconds(pid) - before) / max(1, out["answered"]) * 1e6, 1)
    return out


# ---------------------------------------------------------------------------------------------------- main


def main() -> int:
    p = base_args(__doc__)
    p.set_defaults(runs=20000)
    args = p.parse_args()
    results: dict[str, dict | None] = {}
    with engine() as (rpc_port, sip, dns, pid, routes):
        sip_load(sip, 500, "constant")  # warm-up
        dns_load(dns, 500, "9.9.9.e164.arpa.")
        results["sip_constant"] = measured(pid, lambda: sip_load(sip, args.runs, "constant"))
        results["sip_signed"] = measured(pid, lambda: sip_load(sip, args.runs // 4, "signed"))
        results["naptr_constant"] = measured(pid, lambda: dns_load(dns, args.runs, "9.9.9.e164.arpa."))
        if routes:
            results["sip_routes"] = measured(pid, lambda: sip_load(sip, args.runs // 2, "routes"))
            results["naptr_routes"] = measured(pid, lambda: dns_load(dns, args.runs // 2, ENUM))
            summary = measured(pid, lambda: tester(f"127.0.0.1:{rpc_port}", "RouteSv1.GetRoutes",
                                                   json.dumps(ROUTE_EVENT), runs=args.runs // 2, parallel=8,
                                                   inflight=16))
            results["getroutes_jsonrpc"] = summary
        else:
            results["sip_routes"] = results["naptr_routes"] = results["getroutes_jsonrpc"] = None
    print(json.dumps(results, indent=1, default=str))
    if args.write:
        write(results, args.runs)
    return 0


def write(results: dict, runs: int) -> None:
    def row(name: str, r: dict | None, unit: str) -> str:
        if r is None:
            return f"| {name} | not measured: this build serves no RouteSv1.GetRoutes | | | | |\n"
        rate = r.get("per_s", r.get("req_per_s", r.get("rps")))
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.get("statuses", {}).items()))
        return (f"| {name} | {rate:.0f} {unit}/s | {r.get('p50_ms')} | {r.get('p99_ms')} | "
                f"{r['server_cpu_us_per_req']} | {statuses or 'ok: ' + str(r.get('ok'))} |\n")

    rows = (row("SIP INVITE → 302, Contacts from RouteS", results["sip_routes"], "redirects")
            + row("SIP INVITE → 302, templates only (flags *none)", results["sip_constant"], "redirects")
            + row("SIP INVITE → 302 with a signed Identity (*stir_initiate)", results["sip_signed"], "redirects")
            + row("DNS NAPTR, one per route from RouteS", results["naptr_routes"], "answers")
            + row("DNS NAPTR, templates only (flags *none)", results["naptr_constant"], "answers")
            + row("RouteSv1.GetRoutes over JSON-RPC (cgr-tester)", results["getroutes_jsonrpc"], "calls"))
    write_section("SIP redirects and NAPTR answers (agents)", (
        f"Measured with `python benchmarks/bench_sip_dns.py --runs {runs} --write` ({machine()}). One cgr-engine "
        "(memory-only storage) with the SIP agent (UDP) and the DNS agent (UDP), tut_sip_redirect and dnsagent "
        "loaded; one load-client process with 8 UDP sockets × 16 requests in flight (an INVITE's 302 is ACKed at "
        "once, then the slot sends the next INVITE), and cgr-tester (8 connections × 16 in flight) for the JSON-RPC "
        "row, all against the same engine in the same run. Statuses: the SIP final responses, the DNS rcodes.\n\n"
        "| path | rate | p50 ms | p99 ms | server CPU µs/request | answers |\n|---|---|---|---|---|---|\n"
        + rows + "\nA redirect is four datagrams and one server transaction (INVITE, 100 Trying, 302, ACK) and one run "
        "of the request processors; the signed row adds SessionSv1.STIRIdentity per call (an ES256 PASSporT). "
        "The rows with routes and the GetRoutes baseline need RouteS: where this build serves no "
        "RouteSv1.GetRoutes they are left unmeasured, and the script measures them as soon as it does. The load "
        "client shares the machine's two cores with the engine (and with whatever else runs there), so server CPU "
        "per request is the steadier figure."))


if __name__ == "__main__":
    raise SystemExit(main())
