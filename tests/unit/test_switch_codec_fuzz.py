"""100,000 malformed ESL frames and 100,000 malformed evapi frames and JSON documents through the codecs: each
fails only with the codec's own errors (framing or message), never anything else; good input after it still
decodes."""

from __future__ import annotations

import random

import pytest

from pycgrates.agents.freeswitch.esl import (
    ESLEventError,
    ESLFramer,
    ESLProtocolError,
    parse_event,
)
from pycgrates.agents.kamailio.evapi import (
    EvapiDecodeError,
    EvapiFramingError,
    decode_event,
    frame,
    make_framer,
)

COUNT = 100_000
PLAIN = b"Event-Name: CHANNEL_PARK\nUnique-ID: 3f1c%2D9\nCaller-Destination-Number: 1002\n\n"
JSON = b'{"Event-Name":"CHANNEL_ANSWER","Unique-ID":"3f1c-9","_body":"x"}'
XML = b"<event><headers><Event-Name>X</Event-Name></headers></event>"


def esl_frame(content_type: bytes, body: bytes, length: bytes | None = None) -> bytes:
    return b"Content-Length: " + (length if length is not None else str(len(body)).encode()) + \
        b"\nContent-Type: " + content_type + b"\n\n" + body


def mutate(rng: random.Random, data: bytes) -> bytes:
    """Flip, drop, duplicate or insert bytes."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        i = rng.randrange(len(buf) or 1)
        if op == 0 and buf:
            buf[i] = rng.randrange(256)
        elif op == 1 and buf:
            del buf[i]
        elif op == 2:
            buf[i:i] = bytes([rng.choice(b"\n:{}\"\\,0123456789%\r")])
        else:
            buf[i:i] = buf[i:i + rng.randint(1, 8)]
    return bytes(buf)


def malformed_esl(rng: random.Random) -> bytes:
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randbytes(rng.randint(1, 120))
    if kind == 1:
        return esl_frame(b"text/event-plain", PLAIN, rng.choice([b"-1", b"abc", b"1e3", b"99999999999999", b""]))
    if kind == 2:
        return b"header line without a colon\n" + esl_frame(b"api/response", b"+OK")
    if kind == 3:
        return esl_frame(b"text/event-plain", mutate(rng, PLAIN))
    if kind == 4:
        return esl_frame(b"text/event-json", mutate(rng, JSON))
    if kind == 5:
        return esl_frame(b"text/event-xml", mutate(rng, XML))
    if kind == 6:
        return mutate(rng, esl_frame(b"text/event-plain", PLAIN))
    return esl_frame(rng.choice([b"text/event-json", b"text/event-plain"]), rng.randbytes(rng.randint(0, 60)))


def test_100k_malformed_esl_frames():
    rng = random.Random(20240105)
    errors = {"protocol": 0, "event": 0, "ok": 0}
    for _ in range(COUNT):
        framer = ESLFramer(max_body=1 << 20)
        framer.feed(malformed_esl(rng))
        try:
            for msg in framer:
                if msg.content_type.startswith("text/event-"):
                    try:
                        parse_event(msg)
                        errors["ok"] += 1
                    except ESLEventError:
                        errors["event"] += 1
        except ESLProtocolError:
            errors["protocol"] += 1
    assert errors["protocol"] > 10_000 and errors["event"] > 10_000
    # the framer of a healthy connection still reads good input
    framer = ESLFramer()
    framer.feed(esl_frame(b"text/event-plain", PLAIN))
    assert parse_event(next(iter(framer))).unique_id == "3f1c-9"


def malformed_netstring(rng: random.Random) -> bytes:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.randbytes(rng.randint(1, 60))
    if kind == 1:
        return mutate(rng, frame(b'{"event":"CGR_CALL_START","h_entry":"1"}'))
    if kind == 2:
        return b"%d:%s;" % (rng.randint(0, 9), rng.randbytes(9))
    if kind == 3:
        return frame(mutate(rng, b'{"event":"CGR_CALL_END","OriginID":"abc"}'))
    return frame(rng.choice([b"[]", b"null", b'{"Event":"x"}', b'{"event":1}', b"", b"\xff\xfe"]))


def malformed_document(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randbytes(rng.randint(1, 60))
    if kind == 1:
        return mutate(rng, b'{"event":"CGR_AUTH_REQUEST",\n\t"tr_index":"1",\n\t"tr_label":"2"}')
    if kind == 2:
        return b"{" + rng.randbytes(rng.randint(0, 30)).replace(b"}", b"") + b"}"
    return rng.choice([b'{"no":"event"}', b"{}", b'{"event":null}', b"{oops}", b'{"event":"x",}'])


@pytest.mark.parametrize("netstring_format, generate", [(True, malformed_netstring), (False, malformed_document)],
                         ids=["netstring", "bare"])
def test_100k_malformed_evapi_frames_and_documents(netstring_format, generate):
    rng = random.Random(1789914305)
    seen = {"framing": 0, "decode": 0, "ok": 0}
    for _ in range(COUNT):
        framer = make_framer(netstring_format, max_length=4096)
        framer.feed(generate(rng))
        try:
            for payload in framer:
                try:
                    decode_event(payload)
                    seen["ok"] += 1
                except EvapiDecodeError:
                    seen["decode"] += 1
        except EvapiFramingError:
            seen["framing"] += 1
    assert seen["framing"] > 5_000 and seen["decode"] > 5_000
    framer = make_framer(netstring_format)
    framer.feed(frame(b'{"event":"CGR_CALL_END","OriginID":"abc"}', netstring_format))
    assert decode_event(next(iter(framer))).name == "CGR_CALL_END"
