"""The SIP codec: parsing (compact forms, folding, lists, Content-Length), errors, responses, framing, *req view."""

from __future__ import annotations

import pytest

from pycgrates.agents.sip.codec import (
    KEEPALIVE_PING,
    Headers,
    SipError,
    SipRequest,
    SipResponse,
    StreamFramer,
    Via,
    address_uri,
    canonical_name,
    header_params,
    local_tag,
    parse_message,
    parse_status_line,
    response_to,
    split_list,
    stamp_received,
)

INVITE = (
    b"INVITE sip:1002@cgrates.org SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-top;rport\r\n"
    b"Via: SIP/2.0/TCP proxy.example:5070;branch=z9hG4bK-mid, SIP/2.0/UDP [2001:db8::1]:5080;branch=z9hG4bK-low\r\n"
    b"f: \"Smith, J\" <sip:1001@cgrates.org>;tag=abc\r\n"
    b"t: <sip:1002@cgrates.org>\r\n"
    b"i: call-1@10.0.0.1\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Subject: lunch\r\n"
    b"\tat noon\r\n"
    b"m: <sip:1001@10.0.0.1:5060>\r\n"
    b"Timestamp: 54\r\n"
    b"User-Agent: softphone\r\n"
    b"c: application/sdp\r\n"
    b"l: 5\r\n"
    b"\r\n"
    b"v=0\r\nsurplus"
)


def test_parse_request_with_compact_forms_folding_and_lists():
    msg = parse_message(INVITE)
    assert isinstance(msg, SipRequest)
    assert (msg.method, msg.uri) == ("INVITE", "sip:1002@cgrates.org")
    assert msg.call_id == "call-1@10.0.0.1"
    assert msg.cseq == (7, "INVITE")
    assert msg.from_tag == "abc" and msg.to_tag == ""
    assert msg.headers.get("Subject") == "lunch at noon"
    assert msg.headers.get("content-type") == "application/sdp"
    assert [v.sent_by for v in msg.vias] == ["10.0.0.1:5060", "proxy.example:5070", "[2001:db8::1]:5080"]
    assert msg.top_via.branch == "z9hG4bK-top" and msg.top_via.transport == "UDP"
    assert msg.body == b"v=0\r\n"  # Content-Length cuts it; the rest of the datagram is ignored (§18.3)
    assert len(msg.headers.fields("Via")) == 2 and len(msg.headers.values("Via")) == 3


def test_parse_response_and_leading_crlf():
    raw = b"\r\n\r\nSIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n" \
          b"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n"
    msg = parse_message(raw)
    assert isinstance(msg, SipResponse)
    assert (msg.status, msg.reason, msg.to_tag, msg.body) == (180, "Ringing", "2", b"")


def test_bare_lf_line_ends_are_accepted():
    raw = INVITE.replace(b"\r\n", b"\n").replace(b"l: 5", b"l: 4")
    assert parse_message(raw).body == b"v=0\n"


@pytest.mark.parametrize("raw, error", [
    (b"", "empty message"),
    (b"\r\n\r\n", "empty message"),
    (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n", "no empty line"),
    (b"INVITE sip:a@b SIP/3.0\r\n\r\n", "version"),
    (b"INVITE  SIP/2.0\r\n\r\n", "request line"),
    (b"INV ITE sip:a@b SIP/2.0\r\n\r\n", "request line"),
    (b"SIP/2.0 99 Low\r\n\r\n", "status code"),
    (b"SIP/2.0 700 High\r\n\r\n", "status code"),
    (b"INVITE sip:a@b SIP/2.0\r\n Via: x\r\n\r\n", "continuation line"),
    (b"INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", "is not 'name: value'"),
    (b"INVITE sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n", "is not 'name: value'"),
    (b"INVITE sip:a@b SIP/2.0\r\nContent-Length: ten\r\n\r\n", "Content-Length <ten>"),
    (b"INVITE sip:a@b SIP/2.0\r\nFrom: <sip:a@b>\rVia: x\r\n\r\n", "bare CR"),
    (b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 10\r\n\r\nabc", "Content-Length 10 but 3"),
])
def test_malformed_messages_raise_sip_error(raw, error):
    with pytest.raises(SipError, match=error):
        parse_message(raw)


def _request(**changes: str | None) -> bytes:
    headers = {"Via": "SIP/2.0/UDP h:5060;branch=z9hG4bK1", "From": "<sip:a@b>;tag=1", "To": "<sip:c@d>",
               "Call-ID": "x", "CSeq": "1 INVITE"}
    headers.update(changes)
    lines = ["INVITE sip:c@d SIP/2.0", *(f"{k}: {v}" for k, v in headers.items() if v is not None)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("changes, error", [
    ({"Via": None}, "missing: Via"),
    ({"Call-ID": None, "CSeq": None}, "missing: Call-ID, CSeq"),
    ({"CSeq": "one INVITE"}, "CSeq <one INVITE>"),
    ({"CSeq": "1"}, "CSeq <1>"),
    ({"CSeq": "4294967296 INVITE"}, "CSeq"),
    ({"CSeq": "1 BYE"}, "differs from the request method"),
    ({"Via": "HTTP/1.1 h"}, "not SIP/2.0"),
    ({"Via": "SIP/2.0/UDP h:99999;branch=z9hG4bK1"}, "not a port"),
])
def test_mandatory_headers_are_checked(changes, error):
    with pytest.raises(SipError, match=error):
        parse_message(_request(**changes))
    if "Via" not in changes:  # the message itself is well formed: a caller may take it as it is
        assert parse_message(_request(**changes), require_mandatory=False).method == "INVITE"


def test_header_helpers():
    assert canonical_name("call-id") == "Call-ID" and canonical_name("i") == "Call-ID"
    assert canonical_name("x-my-header") == "X-My-Header" and canonical_name("cseq") == "CSeq"
    assert split_list('"a, b" <sip:x@y;p=1,2>, <sip:z@w>') == ['"a, b" <sip:x@y;p=1,2>', "<sip:z@w>"]
    assert header_params('"A" <sip:a@b;user=phone>;tag=9;q=0.5') == {"tag": "9", "q": "0.5"}
    assert header_params("sip:a@b;tag=9") == {"tag": "9"}
    assert address_uri('"A" <sip:a@b;user=phone>;tag=9') == "sip:a@b;user=phone"
    assert address_uri("sip:a@b;tag=9") == "sip:a@b"
    via = Via.parse("SIP/2.0/tls [::1]:5061;branch=z9hG4bKx;received=1.2.3.4")
    assert (via.transport, via.host, via.port, via.branch, via.sent_by) == ("TLS", "[::1]", 5061, "z9hG4bKx",
                                                                            "[::1]:5061")


def test_headers_set_add_remove_keep_order():
    h = Headers([("Via", "a"), ("To", "t"), ("via", "b")])
    h.set("Contact", "<sip:x@y>")
    h.set("VIA", "c")
    assert list(h) == [("Via", "c"), ("To", "t"), ("Contact", "<sip:x@y>")]
    h.add("m", "<sip:z@w>")
    assert h.values("Contact") == ["<sip:x@y>", "<sip:z@w>"] and h.joined("contact") == "<sip:x@y>,<sip:z@w>"
    h.remove("contact")
    assert "Contact" not in h and "To" in h
    with pytest.raises(SipError, match="line break"):
        h.set("X-Evil", "a\r\nVia: injected")


def test_response_to_follows_8_2_6():
    request = parse_message(INVITE)
    response = response_to(request, 302, headers=[("Contact", "<sip:1002@10.0.0.9>")])
    assert response.start_line() == "SIP/2.0 302 Moved Temporarily"
    assert response.headers.fields("Via") == request.headers.fields("Via")
    assert response.headers.get("From") == request.headers.get("From")
    assert response.headers.get("Call-ID") == request.call_id and response.cseq == (7, "INVITE")
    tag = local_tag(request)
    assert response.to_tag == tag and len(tag) == 16
    assert response_to(request, 487).to_tag == tag  # one transaction, one tag
    assert "Timestamp" not in response.headers and "User-Agent" not in response.headers
    trying = response_to(request, 100)
    assert trying.to_tag == "" and trying.headers.get("Timestamp") == "54"
    other = parse_message(INVITE.replace(b"branch=z9hG4bK-top", b"branch=z9hG4bK-new"))
    assert local_tag(other) != tag


def test_pack_round_trips_with_content_length():
    request = parse_message(INVITE)
    again = parse_message(request.pack())
    assert again.headers.fields("Via") == request.headers.fields("Via") and again.body == b"v=0\r\n"
    assert request.pack().count(b"Content-Length") == 1 and b"Content-Length: 5\r\n" in request.pack()
    response = response_to(request, 200)
    response.body = b"hello"
    assert parse_message(response.pack()).body == b"hello"


def test_status_line():
    assert parse_status_line("SIP/2.0 302 Moved Temporarily") == (302, "Moved Temporarily")
    assert parse_status_line("SIP/2.0 503") == (503, "Service Unavailable")
    response = response_to(parse_message(INVITE), 200)
    response.set_status_line("SIP/2.0 405 Method Not Allowed")
    assert response.start_line() == "SIP/2.0 405 Method Not Allowed"
    with pytest.raises(SipError, match="not a SIP status line"):
        parse_status_line("HTTP/1.1 200 OK")


def test_stamp_received_fills_rport_and_received():
    request = parse_message(INVITE)
    stamp_received(request, "192.0.2.7", 40000)
    top = request.top_via
    assert top.params["rport"] == "40000" and top.params["received"] == "192.0.2.7"
    assert len(request.vias) == 3
    plain = parse_message(_request())
    stamp_received(plain, "192.0.2.7", 5060)
    assert plain.top_via.params == {"branch": "z9hG4bK1", "received": "192.0.2.7"}


def test_stream_framer_cuts_by_content_length():
    one = parse_message(INVITE).pack()
    two = response_to(parse_message(INVITE), 180).pack()
    framer = StreamFramer()
    assert framer.feed(one + b"\r\n" + two + KEEPALIVE_PING + one[:10]) == [one, two, KEEPALIVE_PING]
    assert framer.buffered == 10
    frames = []
    for i in range(10, len(one)):
        frames += framer.feed(one[i:i + 1])
    assert frames == [one] and framer.buffered == 0
    assert framer.feed(b"\r\n") == [] and framer.feed(b"\r\n") == [KEEPALIVE_PING]


def test_stream_framer_errors():
    with pytest.raises(SipError, match="Content-Length <x>"):
        StreamFramer().feed(b"INVITE sip:a@b SIP/2.0\r\nl: x\r\n\r\n")
    with pytest.raises(SipError, match="exceeds"):
        StreamFramer(max_size=100).feed(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 500\r\n\r\n")
    with pytest.raises(SipError, match="no end of headers"):
        StreamFramer(max_size=100).feed(b"X" * 101)
