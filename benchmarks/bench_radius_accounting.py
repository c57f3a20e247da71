"""RADIUS accounting (Start, Interim-Update, Stop) per second through the agent with charging on, side by side
with FreeRADIUS writing detail files, measured in the same run by the same multi-socket load client.

pycgrates: cgr-engine with the RADIUS agent running templates/radius/bng_data.json (Start = InitiateSession with
the first debit, Interim-Update = UpdateSession, Stop = TerminateSession + CDR), the tutorial's internet tariff,
prepaid accounts spread over --accounts, durable embedded storage. FreeRADIUS: Debian's freeradius, a minimal
config (one client, the detail module as the whole accounting section) on another loopback port.

The load client keeps --sockets UDP sockets with --window sessions each in flight; each session sends Start,
then Interim-Update on its answer, then Stop on that one's, then the next session starts; unanswered requests
are sent again (same bytes) after 2 s. Throughput = answered Accounting-Requests per second; latency is per
request.

    python benchmarks/bench_radius_accounting.py [--sessions 4000] [--write]
"""

from __future__ import annotations

import json
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from common import REPO, base_args, cpu_seconds, free_port, machine, process, rpc, write_section

sys.path.insert(0, str(REPO))

from pycgrates.agents.radius import Packet, load_dictionary

SECRET = "benchsecret"
RETRANSMIT = 2.0


# ---------------------------------------------------------------------------------------------------- load client


def session_packets(dictionary, identifier: int, n: int, accounts: int, run: str) -> list[bytes]:
    """Start, Interim-Update and Stop of one PPP session, encoded for one slot's Identifier."""
    common = (("Acct-Session-Id", f"{run}-{n:07d}"), ("User-Name", f"bench{n % accounts}"),
              ("NAS-IP-Address", "127.0.0.1"), ("NAS-Port-Id", f"eth1.{n % 4000}"), ("NAS-Port-Type", "Virtual"),
              ("Service-Type", "Framed-User"), ("Framed-Protocol", "PPP"),
              ("Framed-IP-Address", f"100.64.{n // 250 % 250}.{n % 250 + 1}"),
              ("Calling-Station-Id", f"02:00:5e:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"))
    steps = (
        (("Acct-Status-Type", "Start"), ("Acct-Delay-Time", 0)),
        (("Acct-Status-Type", "Interim-Update"), ("Acct-Session-Time", 60), ("Acct-Input-Octets", 5242880),
         ("Acct-Output-Octets", 73400320), ("Acct-Input-Packets", 4000), ("Acct-Output-Packets", 52000)),
        (("Acct-Status-Type", "Stop"), ("Acct-Session-Time", 120), ("Acct-Input-Octets", 10485760),
         ("Acct-Input-Gigawords", 0), ("Acct-Output-Octets", 146800640), ("Acct-Output-Gigawords", 1),
         ("Acct-Terminate-Cause", "User-Request")),
    )
    out = []
    for step in steps:
        p = Packet("Accounting-Request", identifier, dictionary=dictionary, secret=SECRET)
        for name, value in (*step, *common):
            p.add(name, value)
        out.append(p.encode())
    return out


def run_load(port: int, sessions: int, sockets: int, window: int, accounts: int, run: str) -> dict:
    """Drive ``sessions`` sessions through 127.0.0.1:port; returns throughput and latency."""
    dictionary = load_dictionary()
    slots = sockets * window
    socks = []
    for _ in range(sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind(("127.0.0.1", 0))
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    # slot k = (socket k % sockets, Identifier k // sockets) runs sessions k, k + slots, k + 2 * slots, ...
    plans = [[session_packets(dictionary, k // sockets, n, accounts, run) for n in range(k, sessions, slots)]
             for k in range(slots)]
    position = [[0, 0] for _ in range(slots)]  # [session index in plan, step]
    sent_at = [0.0] * slots
    latencies: list[float] = []
    retries = 0
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        sel.register(s, selectors.EVENT_READ, i)

    def send(k: int) -> None:
        sess, step = position[k]
        socks[k % sockets].send(plans[k][sess][step])
        sent_at[k] = time.perf_counter()

    active = 0
    started = time.perf_counter()
    for k in range(slots):
        if plans[k]:
            send(k)
            active += 1
    answered = 0
    last_check = started
    while active:
        for key, _ in sel.select(0.05):
            s, i = key.fileobj, key.data
            while True:
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    break
                if len(data) < 20 or data[0] != 5:
                    continue
                k = data[1] * sockets + i
                if k >= slots or not plans[k] or position[k][0] >= len(plans[k]):
                    continue
                sess, step = position[k]
                if data[1] != plans[k][sess][step][1]:
                    continue
                now = time.perf_counter()
                latencies.append(now - sent_at[k])
                answered += 1
                step += 1
                if step == 3:
                    sess, step = sess + 1, 0
                position[k] = [sess, step]
                if sess < len(plans[k]):
                    send(k)
                else:
                    active -= 1
        now = time.perf_counter()
        if now - last_check > 0.5:
            last_check = now
            for k in range(slots):
                if plans[k] and position[k][0] < len(plans[k]) and now - sent_at[k] > RETRANSMIT:
                    retries += 1
                    send(k)
    elapsed = time.perf_counter() - started
    for s in socks:
        s.close()
    latencies.sort()
    return {"requests": answered, "sessions": sessions, "seconds": round(elapsed, 3),
            "req_per_s": round(answered / elapsed, 1), "sessions_per_s": round(sessions / elapsed, 1),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3), "retransmissions": retries}


def measured(pid: int, fn) -> dict:
    before = cpu_seconds(pid)
    out = fn()
    out["server_cpu_us_per_req"] = round((cpu_seconds(pid) - before) / max(1, out["requests"]) * 1e6, 1)
    return out


# ---------------------------------------------------------------------------------------------------- servers



@contextmanager
def pycgrates(accounts: int, charging: bool = True):
    """cgr-engine with the BNG processors (``charging`` off: their templates run, no SessionS call)."""
    rpc_port, acct = free_port(), free_port()
    with tempfile.TemporaryDirectory() as d:
        cfg = {
            "general": {"log_level": 3},
            "listen": {"rpc_json": f"127.0.0.1:{rpc_port}", "http": "", "birpc_json": ""},
            "data_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": f"{d}/datadb"}},
            "stor_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": f"{d}/stordb"}},
            "rals": {"enabled": True}, "apiers": {"enabled": True}, "attributes": {"enabled": True},
            "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"]},
            "chargers": {"enabled": True, "attributes_conns": ["*internal"]},
            "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                         "chargers_conns": ["*internal"], "attributes_conns": ["*internal"],
                         "debit_interval": "60s",
                         "alterable_fields": ["InputOctets", "OutputOctets", "DisconnectCause"]},
            "radius_agent": {"enabled": True, "sessions_conns": ["*birpc_internal"],
                             "listeners": [{"network": "udp", "auth_address": f"127.0.0.1:{free_port()}",
                                            "acct_address": f"127.0.0.1:{acct}"}],
                             "client_secrets": {"127.0.0.1": SECRET}},
        }
        if not charging:
            cfg["radius_agent"]["request_processors"] = [
                {"id": pid, "flags": ["*none"]}
                for pid in ("BNGAccountingStart", "BNGAccountingInterim", "BNGAccountingStop")]
        Path(d, "cgrates.json").write_text(json.dumps(cfg))
        shutil.copy(REPO / "templates" / "radius" / "bng_data.json", Path(d, "bng_data.json"))
        with process([sys.executable, "-m", "pycgrates.engine.cli.engine", "-config_dir", d], rpc_port) as proc:
            rpc(rpc_port, "APIerSv1.LoadTariffPlanFromFolder",
                {"FolderPath": str(REPO / "tutorials" / "radius" / "tariffplan")})
            for i in range(accounts):
                rpc(rpc_port, "APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": f"bench{i}"})
                rpc(rpc_port, "APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": f"bench{i}",
                                                      "BalanceType": "*monetary", "Value": 1e9,
                                                      "Balance": {"ID": "MAIN"}})
            yield acct, proc.pid, rpc_port


FREERADIUS_CONF = """
prefix = /usr
localstatedir = {d}
logdir = {d}
run_dir = {d}
raddbdir = {d}
libdir = /usr/lib/freeradius
pidfile = {d}/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 65536
hostname_lookups = no
log {{
	destination = files
	file = {d}/radius.log
}}
security {{
	allow_core_dumps = no
}}
client localhost {{
	ipaddr = 127.0.0.1
	secret = {secret}
}}
modules {{
	detail {{
		filename = {d}/detail/detail-%Y%m%d
		permissions = 0600
		header = "%t"
	}}
}}
server default {{
	listen {{
		type = acct
		ipaddr = 127.0.0.1
		port = {port}
	}}
	listen {{
		type = status
		ipaddr = 127.0.0.1
		port = {status}
	}}
	accounting {{
		detail
	}}
}}
"""


@contextmanager
def freeradius():
    """FreeRADIUS (minimal config, detail-file accounting); yields (acct port, pid, detail folder)."""
    exe = shutil.which("freeradius") or shutil.which("radiusd")
    if exe is None:
        raise SystemExit("freeradius is not installed (Debian: apt-get install freeradius)")
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        Path(d, "detail").mkdir()
        Path(d, "radiusd.conf").write_text(FREERADIUS_CONF.format(d=d, secret=SECRET, port=port,
                                                                 status=free_port()))
        proc = subprocess.Popen([exe, "-f", "-d", d, "-n", "radiusd"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            wait_udp(port)
            yield port, proc.pid, Path(d, "detail")
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_udp(port: int, timeout: float = 20.0) -> None:
    """Until an Accounting-Request on ``port`` is answered."""
    d = load_dictionary()
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        while time.monotonic() < deadline:
            p = Packet("Accounting-Request", 1, dictionary=d, secret=SECRET)
            p.add("Acct-Status-Type", "Accounting-On")
            p.add("NAS-IP-Address", "127.0.0.2")
            s.sendto(p.encode(), ("127.0.0.1", port))
            try:
                s.recv(4096)
                return
            except (TimeoutError, ConnectionRefusedError):
                time.sleep(0.1)
    raise RuntimeError(f"no RADIUS server answers on 127.0.0.1:{port}")


# ---------------------------------------------------------------------------------------------------- main


def main() -> int:
    p = base_args(__doc__)
    p.add_argument("--sessions", type=int, default=4000)
    p.add_argument("--freeradius-sessions", type=int, default=0,
                   help="sessions for FreeRADIUS (default: 10 × --sessions, so that both runs last long enough)")
    p.add_argument("--sockets", type=int, default=8)
    p.add_argument("--window", type=int, default=16, help="sessions in flight per socket")
    p.add_argument("--accounts", type=int, default=200)
    args = p.parse_args()
    load = dict(sockets=args.sockets, window=args.window, accounts=args.accounts)
    results = {}
    with freeradius() as (port, pid, detail):
        run_load(port, 300, run="fw", **load)  # warm-up
        fr_sessions = args.freeradius_sessions or 10 * args.sessions
        results["freeradius"] = measured(pid, lambda: run_load(port, fr_sessions, run="fr", **load))
        written = sum(f.read_text().count("Acct-Status-Type") for f in detail.iterdir())
        results["freeradius"]["detail_records"] = written
    with pycgrates(args.accounts, charging=False) as (port, pid, _rpc_port):
        wait_udp(port)
        run_load(port, 300, run="aw", **load)  # warm-up
        results["agent_only"] = measured(pid, lambda: run_load(port, fr_sessions // 2, run="ao", **load))
    with pycgrates(args.accounts) as (port, pid, rpc_port):
        wait_udp(port)
        run_load(port, 300, run="pw", **load)  # warm-up
        results["pycgrates"] = measured(pid, lambda: run_load(port, args.sessions, run="pc", **load))
        results["pycgrates"]["cdrs"] = rpc(rpc_port, "CDRsV1.GetCDRsCount", {})
    ours, theirs, bare = results["pycgrates"], results["freeradius"], results["agent_only"]
    ratio = ours["req_per_s"] / theirs["req_per_s"] if theirs["req_per_s"] else 0
    cpu_ratio = theirs["server_cpu_us_per_req"] / ours["server_cpu_us_per_req"] if ours["server_cpu_us_per_req"] \
        else 0
    results["ratio_req_per_s"] = round(ratio, 4)
    results["ratio_cpu"] = round(cpu_ratio, 4)
    print(json.dumps(results, indent=1))
    if args.write:
        rows = "".join(
            f"| {name} | {r['req_per_s']:.0f} | {r['sessions_per_s']:.0f} | {r['p50_ms']} | {r['p99_ms']} | "
            f"{r['server_cpu_us_per_req']} | {r['retransmissions']} |\n"
            for name, r in (("FreeRADIUS (detail file)", theirs), ("pycgrates agent + SessionS charging", ours),
                            ("pycgrates agent, templates only (flags *none)", bare)))
        write_section(
            "RADIUS accounting (agent)",
            f"Measured with `python benchmarks/bench_radius_accounting.py --sessions {args.sessions} --write` "
            f"({machine()}). PPP sessions ({args.sessions} charged, {fr_sessions} to FreeRADIUS, "
            f"{fr_sessions // 2} to the agent without charging), each Start, "
            "Interim-Update and Stop in turn, from one "
            f"load-client process with {args.sockets} UDP sockets × {args.window} sessions in flight, against each "
            "server in the same run on its own loopback port. FreeRADIUS: Debian's freeradius, minimal config, the"
            " detail module as the whole accounting section. pycgrates: cgr-engine with the RADIUS agent running "
            "templates/radius/bng_data.json (Start: InitiateSession with its first debit, Interim: UpdateSession,"
            f" Stop: TerminateSession + CDR), prepaid accounts spread over {args.accounts}, durable embedded "
            "storage.\n\n"
            "| server | Accounting-Requests/s | sessions/s | p50 ms | p99 ms | server CPU µs/request | "
            "retransmissions |\n|---|---|---|---|---|---|---|\n" + rows + "\n"
            f"pycgrates ÷ FreeRADIUS requests/s: **{ratio:.3f}**; by server CPU per request (FreeRADIUS µs ÷ "
            f"pycgrates µs): **{cpu_ratio:.3f}**. FreeRADIUS only appends each request to a file; the agent also "
            "runs the request templates and SessionS charges every session (rating, balance debit and refund, "
            "CDR), so the ratio is the price of online charging per accounting packet. The last row runs the same "
            "request templates with the SessionS calls switched off (flags *none): the agent's own RADIUS handling, "
            f"{bare['req_per_s'] / theirs['req_per_s']:.3f} of FreeRADIUS's rate ("
            f"{theirs['server_cpu_us_per_req'] / bare['server_cpu_us_per_req']:.3f} by CPU), most of it the shared "
            "request pipeline (each processor tried builds its AgentRequest and checks its filters) rather than the "
            "codec. The load client and the servers share the machine's cores with whatever else runs there, so "
            "server CPU per request is the steadier figure.",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
