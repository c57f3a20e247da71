"""RADIUS codec throughput: packets checked, decoded and encoded per second, in one process, no sockets.

    python benchmarks/bench_radius_codec.py --runs 50000 [--write]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import base_args, machine, write_section
from pycgrates.agents.radius import Packet, check_request, load_dictionary

SECRET = b"bench-secret"


def sample_packets(d) -> dict[str, bytes]:
    acct = Packet("Accounting-Request", 1, dictionary=d, secret=SECRET)
    for name, value in [
        ("Acct-Status-Type", "Interim-Update"), ("Acct-Session-Id", "5f1e-9a3c-0001"), ("User-Name", "1001"),
        ("NAS-IP-Address", "10.0.0.1"), ("NAS-Port", 17), ("NAS-Port-Type", "Ethernet"),
        ("Called-Station-Id", "1002"), ("Calling-Station-Id", "1001"), ("Event-Timestamp", 1700000000),
        ("Acct-Session-Time", 120), ("Acct-Input-Octets", 123456), ("Acct-Output-Octets", 654321),
        ("Acct-Input-Gigawords", 0), ("Framed-IP-Address", "100.64.0.7"), ("Cisco-AVPair", "subscriber:sa=x"),
        ("Acct-Delay-Time", 0),
    ]:
        acct.add(name, value)
    auth = Packet("Access-Request", 2, dictionary=d, secret=SECRET, add_message_authenticator=True)
    for name, value in [
        ("User-Name", "1001"), ("User-Password", "CGRateS.org"), ("NAS-IP-Address", "10.0.0.1"),
        ("Service-Type", "Framed-User"), ("Called-Station-Id", "1002"), ("Calling-Station-Id", "1001"),
        ("Acct-Session-Id", "5f1e-9a3c-0002"), ("MS-CHAP-Challenge", b"c" * 16),
        ("MS-CHAP2-Response", b"r" * 50), ("NAS-Identifier", "bng-1"),
    ]:
        auth.add(name, value)
    return {"Accounting-Request (16 attributes)": acct.encode(), "Access-Request (10 attributes, MA)": auth.encode()}


def measure(runs: int, data: bytes, d) -> dict[str, float]:
    t0 = time.perf_counter()
    for _ in range(runs):
        Packet.decode(data, d, SECRET)
    t1 = time.perf_counter()
    for _ in range(runs):
        p = Packet.decode(data, d, SECRET)
        for a in p.attributes:
            _ = a.text
    t2 = time.perf_counter()
    for _ in range(runs):
        check_request(data, SECRET)
        p = Packet.decode(data, d, SECRET)
        for a in p.attributes:
            _ = a.text
        reply = p.reply()
        reply.add("Session-Timeout", 3600)
        reply.add("Reply-Message", "ok")
        if p.code == 1:
            reply.add_message_authenticator = True
        reply.encode()
    t3 = time.perf_counter()
    return {"decode": runs / (t1 - t0), "decode_text": runs / (t2 - t1), "round": runs / (t3 - t2)}


def main() -> None:
    args = base_args("RADIUS codec throughput").parse_args()
    d = load_dictionary()
    rows = []
    for label, data in sample_packets(d).items():
        measure(min(2000, args.runs), data, d)  # warm-up
        r = measure(args.runs, data, d)
        rows.append((label, len(data), r))
        print(f"{label}: {len(data)} bytes, decode {r['decode']:.0f}/s, decode+text {r['decode_text']:.0f}/s, "
              f"check+decode+text+reply {r['round']:.0f}/s")
    if args.write:
        table = "\n".join(
            f"| {label} | {size} | {r['decode']:.0f} | {r['decode_text']:.0f} | {r['round']:.0f} |"
            for label, size, r in rows)
        body = (f"Measured with `python benchmarks/bench_radius_codec.py --runs {args.runs} --write` ({machine()}); "
                "one process, no sockets, our sans-IO codec and the shipped dictionary.\n\n"
                "| packet | bytes | decoded/s | decoded + every value as text/s | "
                "authenticator check + decode + text + reply encoded/s |\n|---|---|---|---|---|\n" + table + "\n\n"
                "The last column is the per-request codec work of the server (the authenticators are MD5/HMAC-MD5 "
                "over the packet); values are converted lazily, so a request template that reads few attributes "
                "pays for those only.")
        write_section("RADIUS codec", body)


if __name__ == "__main__":
    main()
