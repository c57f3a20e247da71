#!/usr/bin/env python3
"""The BNG's Dynamic Authorization Server (RFC 5176) for the tutorial: what accel-ppp's ``dae-server`` does when
the RADIUS agent sends a Disconnect-Request or a CoA-Request. It checks the Request Authenticator against the
shared secret, prints the request and answers ACK (or NAK with Error-Cause 503, Session-Context-Not-Found, with
``--nak``). A real BNG would then tear the session down and send its accounting Stop: do that with radclient.

    python3 tutorials/radius/nas/dae_server.py                  # 127.0.0.1:3799, secret bngsecret
    python3 tutorials/radius/nas/dae_server.py --nak            # refuse every request

Standard library only: the BNG's side is written from RFC 5176, independently of pycgrates.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import socket
import sys

DISCONNECT_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK, COA_REQUEST, COA_ACK, COA_NAK = 40, 41, 42, 43, 44, 45
#: request code → (its name, the ACK, the NAK)
ANSWERS = {DISCONNECT_REQUEST: ("Disconnect-Request", DISCONNECT_ACK, DISCONNECT_NAK),
           COA_REQUEST: ("CoA-Request", COA_ACK, COA_NAK)}
ANSWER_NAMES = {DISCONNECT_ACK: "Disconnect-ACK", DISCONNECT_NAK: "Disconnect-NAK", COA_ACK: "CoA-ACK",
                COA_NAK: "CoA-NAK"}
#: the attributes the agent's *dmr and *coa templates send, by type (RFC 2865, 2866, 2869)
NAMES = {1: "User-Name", 4: "NAS-IP-Address", 8: "Framed-IP-Address", 11: "Filter-Id", 18: "Reply-Message",
         27: "Session-Timeout", 31: "Calling-Station-Id", 44: "Acct-Session-Id", 55: "Event-Timestamp",
         80: "Message-Authenticator"}
ADDRESSES, INTEGERS = {4, 8}, {27, 55}
ERROR_CAUSE, SESSION_CONTEXT_NOT_FOUND = 101, 503


def attributes(body: bytes) -> list[tuple[str, str]]:
    """(name, value as text) of each attribute; unknown ones as Attr-N = 0x<hex>."""
    out, i = [], 0
    while i + 2 <= len(body):
        typ, length = body[i], body[i + 1]
        if length < 2:
            break
        value = body[i + 2:i + length]
        i += length
        if typ in ADDRESSES and len(value) == 4:
            text = str(ipaddress.IPv4Address(value))
        elif typ in INTEGERS and len(value) == 4:
            text = str(int.from_bytes(value, "big"))
        elif typ in NAMES and typ != 80:
            text = value.decode(errors="replace")
        else:
            text = "0x" + value.hex()
        out.append((NAMES.get(typ, f"Attr-{typ}"), text))
    return out


def answer(data: bytes, secret: bytes, nak: bool) -> tuple[bytes, str] | None:
    """The ACK or NAK for a Disconnect-Request or CoA-Request and a line about it; None when it is not one or
    its Request Authenticator does not match the secret (RFC 5176 §3.5: silently discarded)."""
    if len(data) < 20:
        return None
    code, ident, length = data[0], data[1], int.from_bytes(data[2:4], "big")
    if code not in ANSWERS or not 20 <= length <= len(data):
        return None
    authenticator, body = data[4:20], data[20:length]
    if hashlib.md5(data[:4] + bytes(16) + body + secret).digest() != authenticator:
        return None
    name, ack, refusal = ANSWERS[code]
    reply_code = refusal if nak else ack
    reply_attrs = bytes([ERROR_CAUSE, 6]) + SESSION_CONTEXT_NOT_FOUND.to_bytes(4, "big") if nak else b""
    head = bytes([reply_code, ident]) + (20 + len(reply_attrs)).to_bytes(2, "big")
    reply = head + hashlib.md5(head + authenticator + reply_attrs + secret).digest() + reply_attrs
    shown = ", ".join(f"{k} = {v}" for k, v in attributes(body))
    return reply, f"<- {name} id={ident}: {shown}\n-> {ANSWER_NAMES[reply_code]} id={ident}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default="127.0.0.1", help="where to listen (radius_agent.client_da_addresses)")
    parser.add_argument("--port", type=int, default=3799)
    parser.add_argument("--secret", default="bngsecret", help="the secret shared with the agent (client_secrets)")
    parser.add_argument("--nak", action="store_true", help="refuse: NAK with Error-Cause 503")
    args = parser.parse_args(argv)
    secret = args.secret.encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((args.address, args.port))
        print(f"BNG dynamic authorization server on {args.address}:{args.port}/udp (Ctrl-C stops it)", flush=True)
        try:
            while True:
                data, peer = sock.recvfrom(4096)
                result = answer(data, secret, args.nak)
                if result is None:
                    print(f"dropped a packet from {peer[0]}:{peer[1]} (not a DM/CoA request, or another secret)",
                          flush=True)
                    continue
                reply, line = result
                sock.sendto(reply, peer)
                print(line, flush=True)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
