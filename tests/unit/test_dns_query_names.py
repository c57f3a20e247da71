"""A question name no reply could carry back is no query: dnslib reads the reserved label types 0x40-0xBF as
lengths, and such a name (or one over 255 bytes) made even the SERVFAIL unwritable, failing the answer's task."""

from __future__ import annotations

import pytest
from dnslib import DNSRecord

from pycgrates.agents.dns.codec import DnsError, pack_reply, parse_message, parse_query, servfail

HEADER = DNSRecord.question("a.example.", "A").pack()[:12]
QTYPE_A = b"\x00\x01\x00\x01"


def name(*labels: bytes) -> bytes:
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\x00"


@pytest.mark.parametrize("wire, what", [
    (name(b"x" * 65), "a 65-byte label (length byte 0x41)"),
    (name(*[b"a" * 60] * 5), "a 306-byte name"),
])
def test_unwritable_question_names_are_refused(wire, what):
    data = HEADER + wire + QTYPE_A
    record = parse_message(data)  # dnslib reads it ...
    with pytest.raises(DnsError):
        pack_reply(servfail(record))  # ... but cannot write it back
    with pytest.raises(DnsError, match="over 63 bytes or is over 255"):
        parse_query(data)


def test_the_longest_names_still_pass():
    labels = [b"a" * 63, b"b" * 63, b"c" * 63, b"d" * 61]  # 255 bytes on the wire
    query = parse_query(HEADER + name(*labels) + QTYPE_A)
    assert len(pack_reply(servfail(query))) > 255
