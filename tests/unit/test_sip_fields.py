"""What templates read of a SIP request (*req, *vars) and write into its response (*rep)."""

from __future__ import annotations

import pytest

from pycgrates.agents.sip.codec import SipError, SipRequest, parse_message, response_to
from pycgrates.agents.sip.fields import SipDataProvider, apply_reply_fields, request_vars
from pycgrates.engine.template.dataprovider import MapDataProvider, NotFoundError
from pycgrates.engine.template.navmap import NavMap
from pycgrates.engine.template.rsr import parse_rsr

INVITE = (
    b"INVITE sip:1002@cgrates.org SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-top\r\n"
    b"Via: SIP/2.0/TCP proxy.example:5070;branch=z9hG4bK-mid, SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK-low\r\n"
    b"f: \"Smith, J\" <sip:1001@cgrates.org>;tag=abc\r\n"
    b"t: <sip:1002@cgrates.org>\r\n"
    b"i: call-1@10.0.0.1\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"l: 5\r\n"
    b"\r\n"
    b"v=0\r\n"
)


def invite() -> SipRequest:
    msg = parse_message(INVITE)
    assert isinstance(msg, SipRequest)
    return msg


def test_data_provider_reads_headers_the_cgrates_way():
    dp = SipDataProvider(invite())
    assert dp.field_as_any(("Request",)) == "INVITE sip:1002@cgrates.org SIP/2.0"
    assert dp.field_as_any(("Request-URI",)) == "sip:1002@cgrates.org"
    assert dp.field_as_any(("Method",)) == "INVITE"
    assert dp.field_as_any(("From",)) == '"Smith, J" <sip:1001@cgrates.org>;tag=abc'
    assert dp.field_as_any(("f",)) == dp.field_as_any(("from",))
    assert dp.field_as_any(("Via[1]",)) == "SIP/2.0/TCP proxy.example:5070;branch=z9hG4bK-mid"
    assert dp.field_as_any(("Via",)).count(",") == 2  # the fields joined, as CGRateS reads them
    assert dp.field_as_any(("Content",)) == "v=0\r\n"
    for path in (("Missing",), ("Via[3]",), ("Via[x]",), ("From", "tag")):
        with pytest.raises(NotFoundError):
            dp.field_as_any(path)
    assert dp.to_dict()["Call-ID"] == "call-1@10.0.0.1"


def test_rsr_converters_read_the_parts():
    root = MapDataProvider({"*req": SipDataProvider(invite()), "*vars": request_vars(invite(), "10.0.0.1:5060")})
    assert parse_rsr("~*req.From{*sipuri_user}").parse(root) == "1001"
    assert parse_rsr("~*req.To{*sipuri_host}").parse(root) == "cgrates.org"
    assert parse_rsr("~*req.Request{*sipuri_method}").parse(root) == "INVITE"
    assert parse_rsr("~*vars.Method").parse(root) == "INVITE"
    assert parse_rsr("~*vars.RemoteHost").parse(root) == "10.0.0.1:5060"


def test_reply_fields_make_the_302_of_the_redirect_sample():
    """*rep as sipagent_internal's RoutesQueryOneRoute/TwoRoutes write it: status line, composed Contact."""
    rep = NavMap()
    rep.set(("Request",), "SIP/2.0 302 Moved Temporarily")
    for part in ('"', "1002", '" <sip:', "1002", "@", "172.16.1.11:5060", ">;q=0.7; expires=3600;cgr_cost=", "0.01"):
        rep.compose(("Contact",), part)
    for part in (',"', "1002", '" <sip:', "1002", "@", "172.16.1.12:5060", ">;q=0.2"):
        rep.compose(("Contact",), part)
    rep.set(("P-Charge-Info",), "<sip:+4986517174963@cgrates.org>")
    response = response_to(invite(), 500)
    apply_reply_fields(response, rep.leaves())
    wire = parse_message(response.pack())
    assert wire.start_line() == "SIP/2.0 302 Moved Temporarily"
    assert wire.headers.values("Contact") == ['"1002" <sip:1002@172.16.1.11:5060>;q=0.7; expires=3600;cgr_cost=0.01',
                                              '"1002" <sip:1002@172.16.1.12:5060>;q=0.2']
    assert wire.headers.get("P-Charge-Info") == "<sip:+4986517174963@cgrates.org>"
    assert wire.call_id == "call-1@10.0.0.1" and wire.to_tag


def test_reply_field_errors_name_the_field():
    rep = NavMap()
    rep.set(("Request",), "302 Moved")
    with pytest.raises(SipError, match=r"\*rep\.Request"):
        apply_reply_fields(response_to(invite(), 500), rep.leaves())
    bad = NavMap()
    bad.set(("X-Note",), "a\r\nVia: forged")
    with pytest.raises(SipError, match=r"\*rep\.X-Note"):
        apply_reply_fields(response_to(invite(), 500), bad.leaves())
