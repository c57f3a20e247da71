"""The ARI codecs without a network: the client WebSocket (RFC 6455) and the ARI events → CGREvent mapping of
CGRateS's AsteriskAgent."""

from __future__ import annotations

import struct

import orjson
import pytest

from pycgrates.agents.asterisk import ari
from pycgrates.agents.asterisk.websocket import (
    Accepted,
    Closed,
    Message,
    Ping,
    Rejected,
    WebSocketCodec,
    WebSocketError,
    accept_key,
)


def server_frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes = b"") -> bytes:
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + payload


def opened() -> WebSocketCodec:
    ws = WebSocketCodec("127.0.0.1:8088", "/ari/events?app=cgrates_auth", key="dGhlIHNhbXBsZSBub25jZQ==")
    answer = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Accept: {accept_key(ws.key)}\r\n\r\n").encode()
    assert ws.receive_data(answer) == [Accepted()]
    return ws


def test_handshake_and_the_rfc_example_key():
    ws = WebSocketCodec("h:1", "/ari/events?app=x", headers={"Origin": "http://cgrates.org"},
                        key="dGhlIHNhbXBsZSBub25jZQ==")
    request = ws.handshake().decode()
    assert request.startswith("GET /ari/events?app=x HTTP/1.1\r\nHost: h:1\r\n") and request.endswith("\r\n\r\n")
    assert "Sec-WebSocket-Version: 13" in request and "Origin: http://cgrates.org" in request
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 section 1.3


def test_refused_and_wrong_handshakes():
    ws = WebSocketCodec("h:1", "/", key="a2V5a2V5a2V5a2V5a2V5aw==")
    [event] = ws.receive_data(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope")
    assert event == Rejected(401, "Unauthorized", b"nope")
    with pytest.raises(WebSocketError, match="Accept"):
        WebSocketCodec("h:1", "/").receive_data(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\n")
    with pytest.raises(WebSocketError, match="not an HTTP answer"):
        WebSocketCodec("h:1", "/").receive_data(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_frames_whatever_the_chunks():
    ws = opened()
    big = "x" * 70_000
    stream = (server_frame(1, b'{"type":"A"}') + server_frame(1, b"ab", fin=False) + server_frame(9, b"hi")
              + server_frame(0, b"cd", fin=False) + server_frame(0, b"ef") + server_frame(1, big.encode())
              + server_frame(1, b"m" * 300, mask=b"\x01\x02\x03\x04") + server_frame(8, struct.pack("!H", 1001)))
    events = []
    for i in range(len(stream)):  # one byte at a time
        events += ws.receive_data(stream[i:i + 1])
    assert events == [Message('{"type":"A"}'), Ping(b"hi"), Message("abcdef"), Message(big), Message("m" * 300),
                      Closed(1001, "")]


def test_what_the_client_sends_is_masked():
    ws = opened()
    frame = ws.text("hello")
    assert frame[0] == 0x81 and frame[1] == 0x80 | 5
    mask, body = frame[2:6], frame[6:]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == b"hello"
    assert len(ws.text("y" * 200)) == 2 + 2 + 4 + 200 and len(ws.text("y" * 70_000)) == 2 + 8 + 4 + 70_000


@pytest.mark.parametrize("broken", [
    server_frame(0xF, b"abc"), server_frame(1, b"a", fin=False) + server_frame(1, b"b"),
    server_frame(0, b"x"), server_frame(9, b"p" * 126), bytes([0xC1, 1]) + b"x",
    server_frame(1, b"\xff\xfe"), b"\x81\x7f" + b"\xff" * 8,
], ids=["opcode", "interleaved", "continuation", "long-ping", "rsv1", "utf8", "huge"])
def test_broken_framing_raises(broken):
    with pytest.raises(WebSocketError):
        opened().receive_data(broken)


EVENT = {
    "type": "StasisStart", "timestamp": "2024-01-05T10:00:00.120+0000",
    "args": ["cgr_reqtype=*prepaid", "cgr_flags=*accounts+*attributes:ATTR_1&ATTR_2+*stats", "cgr_tenant=t.org",
             "cgr_routes=supplier1", "*sessionsTTL=3h", "not-a-pair"],
    "channel": {"id": "1704448800.7", "state": "Ring", "caller": {"name": "", "number": "1001"},
                "dialplan": {"context": "internal", "exten": "1002", "priority": 3},
                "creationtime": "2024-01-05T10:00:00.100+0000", "channelvars": {}},
}


def test_stasis_start_as_cgrates_sees_it():
    event = ari.ARIEvent.parse(orjson.dumps(EVENT))
    args, opts = ari.stasis_args(event)
    assert opts == {"*sessionsTTL": "3h"} and "not-a-pair" not in args
    fields = ari.call_fields(event, args, origin_host="10.0.0.5", default_request_type="*rated")
    assert fields == {"EventName": "SMA_AUTHORIZATION", "OriginID": "1704448800.7", "RequestType": "*prepaid",
                      "Tenant": "t.org", "OriginHost": "10.0.0.5", "Account": "1001", "Destination": "1002",
                      "SetupTime": "2024-01-05T10:00:00.100+0000",
                      "cgr_flags": "*accounts+*attributes:ATTR_1&ATTR_2+*stats", "cgr_routes": "supplier1",
                      "Source": "AsteriskAgent"}
    assert ari.extra_args(args) == {"cgr_flags": "*accounts+*attributes:ATTR_1&ATTR_2+*stats",
                                    "cgr_routes": "supplier1"}
    cgr_ev = ari.cgr_event("cgrates.org", event, fields, opts)
    assert cgr_ev["Tenant"] == "t.org" and cgr_ev["APIOpts"] == opts
    method, args_out, wants = ari.session_args("*authorize", args["cgr_flags"], cgr_ev)
    assert method.name == "SessionSv1.AuthorizeEvent" and wants
    assert args_out["GetMaxUsage"] and args_out["GetAttributes"] and args_out["ProcessStats"]
    assert args_out["AttributeIDs"] == ["ATTR_1", "ATTR_2"] and not args_out["GetRoutes"]
    method, args_out, _ = ari.session_args("*initiate", None, cgr_ev)  # no cgr_flags: charge
    assert method.name == "SessionSv1.InitiateSession" and args_out["InitSession"] and not args_out["GetAttributes"]


def test_channel_variables_restored_on_state_change_and_destroy():
    channel = {**EVENT["channel"], "state": "Up", "channelvars": {
        "cgr_reqtype": "*postpaid", "cgr_flags": "*accounts *stats", "CDR(answer)": "2024-01-05 10:00:03",
        "CDR(billsec)": "65", "other": "", "PaypalAccount": "p@x"}}
    up = ari.ARIEvent("ChannelStateChange", {"type": "ChannelStateChange", "timestamp": "T_UP", "channel": channel})
    assert up.is_cgr_channel and up.state == "Up"
    fields = ari.restore_channel_vars(up, {})
    assert fields == {"RequestType": "*postpaid", "cgr_flags": "*accounts+*stats", "AnswerTime": "T_UP",
                      "PaypalAccount": "p@x"}
    gone = ari.ARIEvent("ChannelDestroyed", {"type": "ChannelDestroyed", "cause": 16, "channel": channel})
    fields = ari.restore_channel_vars(gone, {})
    assert fields["Usage"] == "65s" and fields["AnswerTime"] == "2024-01-05 10:00:03"
    assert fields["DisconnectCause"] == "16"
    assert not ari.ARIEvent("ChannelDestroyed", {"channel": {"channelvars": {"cgr_reqtype": ""}}}).is_cgr_channel


def test_rest_calls_and_answers():
    assert ari.set_variable("1.2", "CGRMaxSessionTime", "60000").uri == \
        "channels/1.2/variable?variable=CGRMaxSessionTime&value=60000"
    assert ari.hangup("a/b").uri == "channels/a%2Fb?reason=congestion"
    request = ari.event_filter().request("r1")
    assert request["type"] == "RESTRequest" and request["method"] == "PUT" and "StasisStart" in \
        request["message_body"]
    rid, result = ari.rest_response(ari.ARIEvent.parse(
        b'{"type":"RESTResponse","request_id":"r1","status_code":200,"reason_phrase":"OK",'
        b'"message_body":"[{\\"id\\":\\"c1\\"},{\\"id\\":\\"c2\\"}]"}'))
    assert rid == "r1" and result.ok and ari.channel_ids(result) == ["c1", "c2"]
    for bad in (b"[]", b"nope", b'{"type": ""}'):
        with pytest.raises(ari.ARIError):
            ari.ARIEvent.parse(bad)
