"""The DNS codec over dnslib: records CGRateS answers with, EDNS0, errors, truncation."""

from __future__ import annotations

import pytest
from dnslib import QTYPE, DNSRecord, EDNSOption

from pycgrates.agents.dns.codec import (
    BADVERS,
    FORMERR,
    NOTIMP,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    DnsError,
    address,
    edns_version,
    formerr,
    naptr,
    notimp,
    nxdomain,
    opt_record,
    options_of,
    pack_reply,
    parse_message,
    parse_query,
    qtype_name,
    query_problem,
    refused,
    reply_to,
    servfail,
    srv,
    udp_payload_size,
)
from pycgrates.engine.template.dataprovider import as_string

ENUM = "4.6.9.4.7.1.7.1.5.6.8.9.4.e164.arpa."


def query(name: str = ENUM, qtype: str = "NAPTR", *, payload: int | None = None, do: bool = False,
          options: list[EDNSOption] | None = None, version: int = 0) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    q.header.cd = 1
    if payload is not None:
        from dnslib import RR
        q.add_ar(RR(".", 41, rclass=payload, ttl=(version << 16) | (0x8000 if do else 0), rdata=options or []))
    return parse_query(q.pack())


def test_records_round_trip():
    q = query()
    reply = reply_to(q)
    reply.add_answer(naptr(ENUM, 100, 10, "U", "E2U+SIP", "!^(.*)$!sip:\\1@172.16.1.10.!", "."))
    reply.add_answer(srv("_sip._udp.opensips.org.", 0, 50, 5060, "opensips.org.", ttl=300))
    reply.add_answer(address("cgrates.org.", "51.38.77.188"))
    reply.add_answer(address("cgrates.org.", "2001:db8::10"))
    parsed = parse_message(pack_reply(reply))
    kinds = [qtype_name(rr.rtype) for rr in parsed.rr]
    assert kinds == ["NAPTR", "SRV", "A", "AAAA"]
    n = parsed.rr[0].rdata
    assert (n.order, n.preference, n.flags, n.service, n.regexp, str(n.replacement)) == (
        100, 10, b"U", b"E2U+SIP", b"!^(.*)$!sip:\\1@172.16.1.10.!", ".")
    s = parsed.rr[1].rdata
    assert (s.priority, s.weight, s.port, str(s.target), parsed.rr[1].ttl) == (0, 50, 5060, "opensips.org.", 300)
    assert str(parsed.rr[2].rdata) == "51.38.77.188" and str(parsed.rr[3].rdata) == "2001:db8::10"
    with pytest.raises(ValueError):
        address("x.", "not-an-ip")


def test_reply_copies_id_flags_question_and_echoes_edns():
    esu = EDNSOption(4, b"sip:cgrates@cgrates.org")
    q = query(payload=1232, do=True, options=[esu])
    reply = reply_to(q)
    assert reply.header.id == q.header.id and reply.header.qr == 1 and reply.header.rd == 1
    assert reply.header.cd == 1 and reply.header.aa == 0 and reply.header.rcode == 0
    assert reply.questions == q.questions
    opt = opt_record(parse_message(pack_reply(reply)))
    assert opt is not None and opt.rclass == 1232 and opt.ttl & 0x8000 and edns_version(opt) == 0
    assert [(o.code, o.data) for o in options_of(q)] == [(4, b"sip:cgrates@cgrates.org")]
    assert options_of(reply) == []  # options are per message: reply templates add their own
    assert opt_record(reply_to(query())) is None  # no EDNS0 asked, none given


def test_error_helpers_set_the_rcode():
    q = query(payload=4096)
    for helper, rcode in ((nxdomain, NXDOMAIN), (servfail, SERVFAIL), (formerr, FORMERR), (refused, REFUSED),
                          (notimp, NOTIMP)):
        reply = parse_message(pack_reply(helper(q)))
        assert reply.header.rcode == rcode and reply.header.id == q.header.id and not reply.rr


def test_query_problems():
    assert query_problem(query()) is None
    notify = query()
    notify.header.opcode = 4
    assert query_problem(notify) == NOTIMP
    two = query()
    two.add_question(two.questions[0])
    assert query_problem(two) == FORMERR
    empty = query()
    empty.questions.clear()
    assert query_problem(empty) == FORMERR
    v1 = query(payload=1232, version=1)
    assert query_problem(v1) == BADVERS
    bad = parse_message(pack_reply(reply_to(v1, BADVERS)))
    assert bad.header.rcode == 0 and opt_record(bad).ttl >> 24 == 1  # 16 = ext 1 << 4 | 0 (RFC 6891 §6.1.3)


def test_udp_payload_size():
    assert udp_payload_size(query()) == 512
    assert udp_payload_size(query(payload=1232)) == 1232
    assert udp_payload_size(query(payload=100)) == 512  # below 512 counts as 512 (RFC 6891 §6.2.5)


def test_truncation_sets_tc_and_keeps_question_and_opt():
    for payload, room in ((None, 512), (1232, 1232)):
        q = query(payload=payload)
        reply = reply_to(q)
        for i in range(60):
            reply.add_answer(naptr(ENUM, 100, i, "U", "E2U+SIP", f"!^(.*)$!sip:\\1@172.16.1.{i}.!"))
        full = pack_reply(reply)
        assert len(full) > room and not parse_message(full).header.tc
        cut = parse_message(pack_reply(reply, udp_payload_size(q)))
        assert cut.header.tc == 1 and not cut.rr and cut.questions == q.questions
        assert len(pack_reply(reply, udp_payload_size(q))) <= room
        assert (opt_record(cut) is not None) == (payload is not None)
    fits = reply_to(query())
    fits.add_answer(address("a.", "1.2.3.4"))
    assert parse_message(pack_reply(fits, 512)).header.tc == 0


@pytest.mark.parametrize("data, error", [
    (b"", "shorter than a DNS header"),
    (b"\x00" * 11, "shorter than a DNS header"),
    (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example", "unpacking"),
    (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01", "Recursive pointer"),
    (b"\xff" * 40, "Invalid pointer"),
])
def test_garbage_raises_dns_error(data, error):
    with pytest.raises(DnsError, match=error):
        parse_message(data)


def test_a_response_is_no_query():
    reply = reply_to(query())
    with pytest.raises(DnsError, match="is a response"):
        parse_query(pack_reply(reply))


def test_unpackable_reply_is_a_dns_error():
    reply = reply_to(query())
    reply.add_answer(naptr(ENUM, 1, 1, "U", "E2U+SIP", "x" * 300))
    with pytest.raises(DnsError, match="cannot be packed"):
        pack_reply(reply)


def test_names():
    assert qtype_name(QTYPE.NAPTR) == "NAPTR" and qtype_name(65280) == "TYPE65280"
    assert as_string(qtype_name(33)) == "SRV"
