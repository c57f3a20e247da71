"""What templates read of a DNS query (*req, *vars) and write into its reply (*rep), on dnsagent_internal's paths."""

from __future__ import annotations

import pytest
from dnslib import RR, DNSRecord, EDNSOption

from pycgrates.agents.dns.codec import DnsError, pack_reply, parse_message, parse_query, qtype_name, reply_to
from pycgrates.agents.dns.fields import DnsDataProvider, apply_reply_fields, option_fields, request_vars
from pycgrates.engine.template.dataprovider import MapDataProvider, NotFoundError
from pycgrates.engine.template.navmap import Leaf, NavMap
from pycgrates.engine.template.rsr import parse_rsr

ENUM = "5.6.9.4.7.1.7.1.5.6.8.9.5.e164.arpa."


def query(name: str = ENUM, qtype: str = "NAPTR", options: list[EDNSOption] | None = None) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    if options is not None:
        q.add_ar(RR(".", 41, rclass=1232, ttl=0, rdata=options))
    return parse_query(q.pack())


SUBNET = EDNSOption(8, b"\x00\x01\x18\x00\xc0\x00\x02")  # 192.0.2.0/24
ESU = EDNSOption(4, b"sip:cgrates@cgrates.org")


def test_req_paths_follow_miekg_names():
    q = query(options=[ESU, SUBNET, EDNSOption(10, b"\x01\x02")])
    dp = DnsDataProvider(q)
    assert dp.field_as_any(("Id",)) == q.header.id and dp.field_as_any(("RecursionDesired",)) is True
    assert dp.field_as_any(("Response",)) is False and dp.field_as_any(("Rcode",)) == 0
    assert dp.field_as_any(("Question[0]", "Name")) == ENUM and dp.field_as_any(("Question", "Qtype")) == 35
    assert dp.field_as_any(("Option[0]", "Uri")) == "sip:cgrates@cgrates.org"
    assert option_fields(SUBNET) == {"Code": 8, "Family": 1, "SourceNetmask": 24, "SourceScope": 0,
                                     "Address": "192.0.2.0"}
    assert dp.field_as_any(("Option[2]", "Cookie")) == "0102"
    for path in (("Option[3]", "Uri"), ("Option[0]", "Nsid"), ("Question[1]", "Name"), ("Answer",), ("Id", "x")):
        with pytest.raises(NotFoundError):
            dp.field_as_any(path)
    root = MapDataProvider({"*req": dp, "*vars": request_vars(q, "127.0.0.1:5353")})
    assert parse_rsr("~*req.Option[0].Uri{*sipuri_user}").parse(root) == "cgrates"
    assert parse_rsr("~*vars.QueryName{*e164}").parse(root) == "5986517174965"
    assert parse_rsr("~*vars.QueryType").parse(root) == "NAPTR"


def naptr_branch(rep: NavMap, regexp: str, new_branch: bool) -> None:
    """dnsagent_internal/suppliers.json's NAPTRSuppliers processors: *group fields, new_branch on the second."""
    for n, (field, value) in enumerate((("Order", "100"), ("Preference", "10"), ("Flags", "U"),
                                        ("Service", "E2U+SIP"), ("Regexp", regexp), ("Replacement", "."))):
        rep.append(("Answer", field), value, new_branch=new_branch and n == 0)


def test_rep_naptr_answers_one_per_branch():
    q = query()
    rep = NavMap()
    naptr_branch(rep, "!^(.*)$!sip:\\1@172.16.1.11!", False)
    naptr_branch(rep, "!^(.*)$!sip:\\1@172.16.1.12!", True)
    reply = reply_to(q)
    apply_reply_fields(reply, rep.leaves())
    wire = parse_message(pack_reply(reply))
    assert [str(rr.rname) for rr in wire.rr] == [ENUM, ENUM] and {rr.ttl for rr in wire.rr} == {60}
    assert [(rr.rdata.order, rr.rdata.preference, rr.rdata.flags, rr.rdata.service, rr.rdata.regexp,
             str(rr.rdata.replacement)) for rr in wire.rr] == [
        (100, 10, b"U", b"E2U+SIP", b"!^(.*)$!sip:\\1@172.16.1.11!", "."),
        (100, 10, b"U", b"E2U+SIP", b"!^(.*)$!sip:\\1@172.16.1.12!", ".")]


def test_rep_a_records_with_headers_and_indexes():
    """dnsagent_internal/attributes.json's AAttributes: two A answers, the second by index."""
    q = query("dns.google.", "A")
    rep = NavMap()
    for prefix, ip in (("Answer", "8.8.8.8"), ("Answer[1]", "8.8.4.4")):
        rep.set((prefix, "Hdr", "Name"), "dns.google.")
        rep.set((prefix, "Hdr", "Ttl"), "300")
        rep.set((prefix, "Hdr", "Class"), "1")
        rep.set((prefix, "Hdr", "Rrtype"), "1")
        rep.set((prefix, "A"), ip)
    reply = reply_to(q)
    apply_reply_fields(reply, rep.leaves())
    wire = parse_message(pack_reply(reply))
    assert [(str(rr.rname), rr.ttl, qtype_name(rr.rtype), str(rr.rdata)) for rr in wire.rr] == [
        ("dns.google.", 300, "A", "8.8.8.8"), ("dns.google.", 300, "A", "8.8.4.4")]


def test_rep_srv_aaaa_header_fields_and_options():
    rep = NavMap()
    for field, value in (("Hdr.Name", "_sip._udp.opensips.org."), ("Priority", "0"), ("Weight", "50"),
                         ("Port", "5060"), ("Target", "opensips.org.")):
        rep.set(("Answer", *field.split(".")), value)
    rep.set(("Rcode",), "0")
    rep.set(("Authoritative",), "true")
    # opts.json's OptsSRV, as the leaves its three Option fields leave in *rep (the middle one new_branch)
    options = [Leaf("sip:cgrates@cgrates.co", ("Option", "Uri")),
               Leaf("sip:cgrates@cgrates.net", ("Option", "Uri"), new_branch=True),
               Leaf("sip:cgrates@cgrates.com", ("Option[0]", "Uri"))]
    reply = reply_to(query("_sip._udp.opensips.org.", "SRV", options=[ESU]))
    apply_reply_fields(reply, [*rep.leaves(), *options])
    wire = parse_message(pack_reply(reply))
    s = wire.rr[0].rdata
    assert (s.priority, s.weight, s.port, str(s.target)) == (0, 50, 5060, "opensips.org.")
    assert wire.header.aa == 1
    assert [o["Uri"] for o in map(option_fields, DnsDataProvider(wire).query.ar[0].rdata)] == [
        "sip:cgrates@cgrates.com", "sip:cgrates@cgrates.net"]
    aaaa = NavMap()
    aaaa.set(("Answer", "AAAA"), "2001:db8::1")
    reply = reply_to(query("cgrates.org.", "AAAA"))
    apply_reply_fields(reply, aaaa.leaves())
    assert str(parse_message(pack_reply(reply)).rr[0].rdata) == "2001:db8::1"


def test_rcode_written_by_a_template():
    rep = NavMap()
    rep.set(("Rcode",), "3")
    reply = reply_to(query())
    apply_reply_fields(reply, rep.leaves())
    assert parse_message(pack_reply(reply)).header.rcode == 3


@pytest.mark.parametrize("path, value, error", [
    (("Answer", "A"), "1.2.3.4", "no field A"),
    (("Answer", "Order"), "70000", "16-bit"),
    (("Answer", "Order"), "ten", "Order: value <ten>"),
    (("Answer[3]", "Order"), "1", "out of range"),
    (("Answer", "Hdr", "Color"), "red", "Hdr has"),
    (("Rcode",), "x", "Rcode"),
    (("Option", "Color"), "red", "no option"),
])
def test_rep_errors_name_the_field(path, value, error):
    with pytest.raises(DnsError, match=error):
        apply_reply_fields(reply_to(query()), [Leaf(value, path)])


def test_no_answer_of_another_type():
    rep = NavMap()
    rep.set(("Answer", "Hdr", "Ttl"), "1")
    with pytest.raises(DnsError, match="no answer of type MX"):
        apply_reply_fields(reply_to(query("cgrates.org.", "MX")), rep.leaves())
