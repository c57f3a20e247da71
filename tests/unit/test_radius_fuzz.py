"""Mutation fuzzing of the RADIUS decoder and of the server's validation path.

Only RadiusError may come out of the codec, and the server answers exactly the packets that still verify.
RADIUS_FUZZ_COUNT sets the number of mutated packets per test (20 000 by default; 1 000 000 was run by hand).
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from pycgrates.agents.radius import Packet, RadiusError, RadiusServer, check_request, load_dictionary
from pycgrates.agents.radius.server import ACCT_CODES, AUTH_CODES, _Listener

FUZZ_COUNT = int(os.environ.get("RADIUS_FUZZ_COUNT", "20000"))
SECRET = b"fuzz-secret"
EXTRA = """
ATTRIBUTE	F-Tlv		218	tlv
ATTRIBUTE	F-Tlv-Int	218.1	integer
ATTRIBUTE	F-Tlv-Str	218.2	string
ATTRIBUTE	F-Ext		241.200	integer
ATTRIBUTE	F-Long		245.200	octets
VENDOR		F-Two-One	65001	format=2,1
BEGIN-VENDOR	F-Two-One
ATTRIBUTE	F-V21		300	string
END-VENDOR	F-Two-One
"""


@pytest.fixture(scope="module")
def d():
    return load_dictionary().load_text(EXTRA, "fuzz")


def seed_packets(d) -> list[tuple[bytes, bytes | None]]:
    """Valid packets as (bytes, request authenticator for replies)."""
    out: list[tuple[bytes, bytes | None]] = []

    def add(code, attrs, ma=False):
        p = Packet(code, random.Random(len(out)).randrange(256), dictionary=d, secret=SECRET,
                   add_message_authenticator=ma)
        for name, value, *tag in attrs:
            p.add(name, value, tag=tag[0] if tag else None)
        out.append((p.encode(), None))
        return p

    req = add("Access-Request", [("User-Name", "alice"), ("User-Password", "pw"), ("NAS-IP-Address", "10.0.0.1"),
                                 ("Tunnel-Type", "L2TP", 1), ("Tunnel-Password", "tp", 2),
                                 ("MS-CHAP-Challenge", b"c" * 16), ("MS-CHAP2-Response", b"r" * 50),
                                 ("WiMAX-Release", "1.0"), ("WiMAX-AAA-Session-Id", b"w" * 400)], ma=True)
    add("Access-Request", [("User-Name", "bob"), ("CHAP-Password", b"\x01" + b"h" * 16),
                           ("EAP-Message", b"e" * 300), ("F-Tlv-Int", 3), ("F-Tlv-Str", "x"), ("F-Ext", 9),
                           ("F-Long", b"l" * 400), ("F-V21", "v"), ("Framed-IPv6-Prefix", "2001:db8::/32")], ma=True)
    add("Accounting-Request", [("Acct-Status-Type", "Start"), ("Acct-Session-Id", "s-1"),
                               ("Event-Timestamp", 1700000000), ("Cisco-AVPair", "a=b"),
                               ("Framed-Interface-Id", "0:1:2:3"), ("Delegated-IPv6-Prefix", "2001:db8:1::/48")])
    add("Accounting-Request", [("Acct-Status-Type", "Stop"), ("Acct-Session-Time", 60),
                               ("Acct-Terminate-Cause", "User-Request")], ma=True)
    add("Status-Server", [], ma=True)
    add("CoA-Request", [("Acct-Session-Id", "s-1"), ("Filter-Id", "gold")])
    rep = req.reply()
    rep.add("Reply-Message", "hi")
    rep.add("MS-MPPE-Send-Key", b"k" * 16)
    rep.add("MS-CHAP2-Success", b"\x01S=" + b"0" * 40)
    out.append((rep.encode(), req.authenticator))
    return out


def mutate(rng: random.Random, data: bytes, seeds: list[tuple[bytes, bytes | None]]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        if op == 0 and buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 2 and len(buf) > 21:
            # an attribute length byte (or any byte past the header) to an edge value
            buf[rng.randrange(21, len(buf))] = rng.choice((0, 1, 2, 3, 6, 9, 18, 127, 128, 253, 254, 255))
        elif op == 3:
            del buf[rng.randrange(len(buf) + 1):]
        elif op == 4:
            buf += rng.randbytes(rng.randrange(1, 40))
        elif op == 5:
            i = rng.randrange(len(buf) + 1)
            buf[i:i] = rng.randbytes(rng.randrange(1, 12))
        elif op == 6 and len(buf) >= 4:
            buf[2:4] = rng.choice((0, 19, 20, len(buf), len(buf) + 1, rng.randrange(4200))).to_bytes(2, "big")
        elif op == 7 and len(buf) > 2:
            i, j = sorted(rng.sample(range(len(buf)), 2))
            buf[j:j] = buf[i:j]
        elif op == 8:
            other = rng.choice(seeds)[0]
            cut = rng.randrange(20, len(other) + 1)
            buf = buf[:rng.randrange(len(buf) + 1)] + bytearray(other[cut:])
    return bytes(buf[:5000])


def exercise(p: Packet) -> None:
    for attr in p.attributes:
        for a in attr.walk():
            _ = a.value, a.text, a.name
    repr(p)
    p.as_dict()
    p.encode()


def test_decoder_only_raises_radius_errors(d):
    rng = random.Random(20240611)
    seeds = seed_packets(d)
    decoded = 0
    for n in range(FUZZ_COUNT):
        data, req_auth = seeds[n % len(seeds)]
        m = mutate(rng, data, seeds)
        try:
            check_request(m, SECRET)
        except RadiusError:
            pass
        except Exception as exc:  # pragma: no cover - the failure report
            pytest.fail(f"check_request raised {exc!r} on {m.hex()}")
        try:
            exercise(Packet.decode(m, d, SECRET, request_authenticator=req_auth))
            decoded += 1
        except RadiusError:
            pass
        except Exception as exc:  # pragma: no cover - the failure report
            pytest.fail(f"decode raised {exc!r} on {m.hex()}")
    assert decoded > FUZZ_COUNT // 10  # the mutations reach the attribute decoders, not only the header


def test_random_bytes_only_raise_radius_errors(d):
    rng = random.Random(7)
    for _ in range(max(1000, FUZZ_COUNT // 10)):
        m = bytes([rng.choice((1, 2, 4, 12, 40, 43))]) + rng.randbytes(rng.randrange(0, 300))
        if len(m) >= 4 and rng.random() < 0.8:
            m = m[:2] + len(m).to_bytes(2, "big") + m[4:]
        try:
            exercise(Packet.decode(m, d, SECRET))
        except RadiusError:
            pass


async def test_server_answers_only_packets_that_verify(d):
    calls = 0

    async def handler(request, client):
        nonlocal calls
        calls += 1
        return request.reply()

    server = RadiusServer(handler, secrets={"*default": SECRET}, dictionaries=d,
                          require_message_authenticator=True)
    listener = _Listener("udp", "auth+acct", AUTH_CODES | ACCT_CODES, "127.0.0.1", 1812)
    seeds = [(data, None) for data, auth in seed_packets(d) if auth is None and data[0] != 43]
    rng = random.Random(99)
    sent: list[bytes] = []
    valid = 0
    for n in range(FUZZ_COUNT):
        original = seeds[n % len(seeds)][0]
        m = mutate(rng, original, seeds)
        # Every byte up to Length is covered by an authenticator, so only the untouched packet (with padding
        # after it) still verifies.
        ok = m.startswith(original)
        valid += ok
        server.receive(m, "192.0.2.1", 40000 + n % len(seeds), listener, sent.append)
        if n % 500 == 0:
            await asyncio.sleep(0)
    await server.tasks.drain()
    await asyncio.sleep(0.01)  # the duplicates' done-callbacks
    assert len(sent) == valid, (len(sent), valid)
    assert calls <= len(seeds)  # duplicates are answered from the cache
    assert server.stats["dropped_authenticator"] + server.stats["dropped_malformed"] \
        + server.stats["dropped_code"] == FUZZ_COUNT - valid
    await server.close()
