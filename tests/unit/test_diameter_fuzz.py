"""Random and mutated bytes into the Diameter decoder and the peer's stream framing: only clean errors.

The suite runs DIAMETER_FUZZ_COUNT messages (20 000 by default); run it once with DIAMETER_FUZZ_COUNT=1000000
for the full figure.
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycgrates.agents.diameter import (
    DecodeError,
    DiameterServer,
    Message,
    Timers,
    identity_from_config,
    load_dictionaries,
)
from pycgrates.agents.diameter.codec import ResultCode
from pycgrates.agents.diameter.peer import (
    ApplicationAnswer,
    ApplicationRequest,
    CloseConnection,
    LocalIdentity,
    PeerConnection,
    PeerOpened,
    PeerState,
)

FUZZ_COUNT = int(os.environ.get("DIAMETER_FUZZ_COUNT", "20000"))
DICT = load_dictionaries()


def _corpus() -> list[bytes]:
    from benchmarks.bench_diameter_codec import build_ccr_update

    ccr = build_ccr_update(DICT)
    cca = ccr.answer(2001, "ocs", "cgrates.org")
    cca.add("Multiple-Services-Credit-Control", [cca.new_avp("Granted-Service-Unit", [cca.new_avp("CC-Time", 300)]),
                                                 cca.new_avp("Rating-Group", 1)])
    cca.add("Failed-AVP", [cca.new_avp("Event-Timestamp", 1700000000)])
    cer = Message(257, 0, 0x80, 1, 2, dictionary=DICT)
    for name, value in (("Origin-Host", "a.b"), ("Origin-Realm", "b"), ("Host-IP-Address", "::1"),
                        ("Vendor-Id", 0), ("Product-Name", "x"), ("Auth-Application-Id", 4)):
        cer.add(name, value)
    unknown = Message(272, 4, 0x80, 3, 4, dictionary=DICT)
    unknown.add("Session-Id", "s;1")
    from pycgrates.agents.diameter.codec import AVP

    unknown.avps.append(AVP(99999, b"opaque", 0x40, 0))
    unknown.avps.append(AVP(1, b"vendor-opaque", 0xC0, 4242))
    return [m.pack() for m in (ccr, cca, cer, unknown)]


CORPUS = _corpus()


def _touch(avps) -> None:
    for avp in avps:
        value = avp.value
        if isinstance(value, list):
            _touch(value)


def decode_cleanly(data: bytes) -> None:
    """Parse, re-encode and read every value: anything but DecodeError fails the test."""
    try:
        msg = Message.parse(data, DICT)
    except DecodeError:
        return
    again = Message.parse(msg.pack(), DICT)
    assert again.command_code == msg.command_code
    try:
        _touch(msg.avps)
    except DecodeError:
        return


def mutate(rng: random.Random, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        if op == 0 and data:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 1 and len(data) > 24:  # rewrite an AVP length field somewhere
            pos = rng.randrange(20, len(data) - 3)
            data[pos + 1:pos + 4] = rng.randrange(1 << 24).to_bytes(3, "big")
        elif op == 2:  # truncate
            del data[rng.randrange(len(data) + 1):]
        elif op == 3 and data:  # duplicate a slice
            a = rng.randrange(len(data))
            data[a:a] = data[a:a + rng.randint(1, 64)]
        elif op == 4:  # insert random bytes
            a = rng.randrange(len(data) + 1)
            data[a:a] = rng.randbytes(rng.randint(1, 32))
        elif op == 5 and len(data) > 28:  # set the V or M bit of an AVP at random
            data[rng.randrange(24, len(data))] ^= rng.choice((0x80, 0x40, 0xC0))
        elif op == 6:  # deep nesting of a grouped AVP header chain
            nest = b""
            for _ in range(rng.randint(1, 80)):
                nest = struct.pack(">II", 456, 0x40000000 | (8 + len(nest))) + nest
            data[20:20] = nest
    if len(data) >= 4 and rng.random() < 0.8:  # mostly keep the header consistent so the AVP layer is reached
        data[0] = 1
        data[1:4] = min(len(data), 0xFFFFFF).to_bytes(3, "big")
    return bytes(data)


def random_message(rng: random.Random) -> bytes:
    body = rng.randbytes(rng.randint(0, 200))
    return struct.pack(">IIIII", (1 << 24) | (20 + len(body)), (rng.randrange(256) << 24) | rng.randrange(1 << 24),
                       rng.randrange(1 << 32), 1, 2) + body


def test_corpus_is_valid():
    for data in CORPUS:
        assert Message.parse(data, DICT).pack() == data


@pytest.mark.timeout(600)
def test_random_and_mutated_messages_give_only_clean_errors():
    rng = random.Random(20240501)
    started = time.monotonic()
    for i in range(FUZZ_COUNT):
        data = random_message(rng) if i % 4 == 0 else mutate(rng, rng.choice(CORPUS))
        try:
            decode_cleanly(data)
        except AssertionError:
            raise
        except Exception as exc:  # pragma: no cover - the failure report
            pytest.fail(f"message #{i} ({data.hex()}) raised {exc!r}")
    elapsed = time.monotonic() - started
    print(f"{FUZZ_COUNT} messages in {elapsed:.1f}s")


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_hypothesis_bytes_after_a_valid_header(body):
    data = struct.pack(">IIIII", (1 << 24) | (20 + len(body)), (0x80 << 24) | 272, 4, 1, 2) + body
    decode_cleanly(data)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(CORPUS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6))
def test_hypothesis_byte_substitutions(base, changes):
    data = bytearray(base)
    for pos, byte in changes:
        data[pos % len(data)] = byte
    decode_cleanly(bytes(data))


def _open_peer() -> PeerConnection:
    peer = PeerConnection(LocalIdentity("ocs", "cgrates.org", auth_application_ids=[4]), DICT, Timers())
    peer.start(False, 0.0)
    cer = Message(257, 0, 0x80, 1, 1, dictionary=DICT)
    for name, value in (("Origin-Host", "pcef"), ("Origin-Realm", "example"), ("Host-IP-Address", "127.0.0.1"),
                        ("Vendor-Id", 0), ("Product-Name", "t"), ("Auth-Application-Id", 4)):
        cer.add(name, value)
    peer.receive_data(cer.pack(), 0.0)
    peer.data_to_send()
    assert peer.state is PeerState.OPEN
    return peer


def test_stream_of_mutated_messages_into_an_open_peer():
    """The framing layer: chunks of mutated messages give events or a close, never an exception."""
    rng = random.Random(7)
    kinds = (PeerOpened, ApplicationRequest, ApplicationAnswer, CloseConnection)
    for _ in range(max(1, FUZZ_COUNT // 50)):
        peer = _open_peer()
        stream = b"".join(mutate(rng, rng.choice(CORPUS)) for _ in range(rng.randint(1, 5)))
        pos = 0
        while pos < len(stream) and peer.state is not PeerState.CLOSED:
            step = rng.randint(1, 300)
            for event in peer.receive_data(stream[pos:pos + step], 1.0):
                assert isinstance(event, kinds)
            peer.data_to_send()
            pos += step


# ---- a broken length closes that peer only ---------------------------------------------------------------------
async def _open_raw_peer(port: int, host: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    cer = Message(257, 0, 0x80, 1, 1, dictionary=DICT)
    for name, value in (("Origin-Host", host), ("Origin-Realm", "example"), ("Host-IP-Address", "127.0.0.1"),
                        ("Vendor-Id", 0), ("Product-Name", "t"), ("Auth-Application-Id", 4)):
        cer.add(name, value)
    writer.write(cer.pack())
    cea = await _read_message(reader)
    assert cea.value("Result-Code") == ResultCode.SUCCESS
    return reader, writer


async def _read_message(reader: asyncio.StreamReader) -> Message:
    head = await asyncio.wait_for(reader.readexactly(4), 5)
    rest = await asyncio.wait_for(reader.readexactly(int.from_bytes(head[1:4], "big") - 4), 5)
    return Message.parse(head + rest, DICT)


def _ccr(hop: int) -> bytes:
    m = Message(272, 4, 0xC0, hop, hop, dictionary=DICT)
    for name, value in (("Session-Id", f"s;{hop}"), ("Origin-Host", "pcef"), ("Origin-Realm", "example"),
                        ("Destination-Realm", "cgrates.org"), ("Auth-Application-Id", 4),
                        ("Service-Context-Id", "32251@3gpp.org"), ("CC-Request-Type", 1), ("CC-Request-Number", 0)):
        m.add(name, value)
    return m.pack()


@pytest.mark.parametrize("bad", [
    pytest.param(b"\x01\xff\xff\xff" + bytes(16), id="oversized-length"),
    pytest.param(b"\x01\x00\x00\x08" + bytes(16), id="length-shorter-than-header"),
    pytest.param(b"\x02\x00\x00\x14" + bytes(16), id="wrong-version"),
])
async def test_broken_length_closes_that_peer_only(bad):
    async def answer(request: Message, conn):
        return request.answer(ResultCode.SUCCESS, "ocs", "cgrates.org")

    ident = identity_from_config("ocs", "cgrates.org", 0, "t", [4], DICT)
    server = DiameterServer(ident, DICT, answer, listeners=["127.0.0.1:0"])
    await server.start()
    port = server.addresses[0][1]
    try:
        good_r, good_w = await _open_raw_peer(port, "good")
        bad_r, bad_w = await _open_raw_peer(port, "bad")
        bad_w.write(bad)
        assert await asyncio.wait_for(bad_r.read(), 5) == b""  # closed by the agent
        good_w.write(_ccr(7))
        cca = await _read_message(good_r)
        assert cca.hop_by_hop == 7 and cca.value("Result-Code") == ResultCode.SUCCESS
        assert len(server.connections) == 1
    finally:
        for w in (good_w, bad_w):
            w.close()
        await server.stop()


async def test_truncated_message_then_eof_closes_that_peer_only():
    async def answer(request: Message, conn):
        return request.answer(ResultCode.SUCCESS, "ocs", "cgrates.org")

    ident = identity_from_config("ocs", "cgrates.org", 0, "t", [4], DICT)
    server = DiameterServer(ident, DICT, answer, listeners=["127.0.0.1:0"])
    await server.start()
    port = server.addresses[0][1]
    try:
        good_r, good_w = await _open_raw_peer(port, "good")
        bad_r, bad_w = await _open_raw_peer(port, "bad")
        bad_w.write(_ccr(9)[:50])  # announces more than it sends
        bad_w.write_eof()
        assert await asyncio.wait_for(bad_r.read(), 5) == b""
        good_w.write(_ccr(8))
        cca = await _read_message(good_r)
        assert cca.hop_by_hop == 8
        await asyncio.sleep(0.05)
        assert len(server.connections) == 1
    finally:
        for w in (good_w, bad_w):
            w.close()
        await server.stop()
