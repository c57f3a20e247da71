"""The evapi codec on bytes: netstring and bare-JSON framing, the CGRateS messages both ways, dlg.list replies."""

from __future__ import annotations

import orjson
import pytest

from pycgrates.agents.kamailio.evapi import (
    CGR_AUTH_REPLY,
    CGR_DLG_LIST_REPLY,
    AutoFramer,
    DialogID,
    EvapiDecodeError,
    EvapiFramingError,
    JSONStreamFramer,
    NetstringFramer,
    decode_event,
    dlg_list_request,
    encode_message,
    frame,
    make_framer,
    parse_dlg_list_reply,
    reply_event_name,
    reply_message,
    session_disconnect,
)

# the example of Kamailio's evapi documentation: evapi_relay of a JSON document spanning lines
README_FRAME = b'47:{\n "event": "test",\n "data": { "fU": "test" }\n},'

# what kamailio-cgrates.cfg's CGRATES_SESSIONAUTH_REQUEST relays: line breaks and tabs between the fields
AUTH_REQUEST = (b'{"event":"CGR_AUTH_REQUEST",\n\t\t"tr_index":"31284",\n\t\t"tr_label":"1789914305",\n'
                b'\t\t"cgr_flags":"*attributes;*accounts;*routes;*resources;*thresholds",\n'
                b'\t\t"reply_route":"CGR_SESSIONAUTH_REPLY",\n\t\t"Account":"1001",\n'
                b'\t\t"Destination":"1002",\n\t\t"SetupTime":"1704448800"}')


def cut(framer, data: bytes, chunk: int | None = None) -> list[bytes]:
    out: list[bytes] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        framer.feed(data[i:i + step])
        out.extend(framer)
    return out


@pytest.mark.parametrize("chunk", [None, 1, 5])
def test_netstrings_whatever_the_chunking(chunk):
    data = README_FRAME + b"\n" + frame(AUTH_REQUEST) + b"  3:abc,0:,"
    payloads = cut(NetstringFramer(), data, chunk)
    assert payloads == [README_FRAME[3:-1], AUTH_REQUEST, b"abc", b""]
    assert decode_event(payloads[0]).fields == {"event": "test", "data": {"fU": "test"}}


@pytest.mark.parametrize("data, fault", [
    (b"abc:{},", "not a number"),
    (b"garbage without colon", "length expected"),
    (b"12a:hello world!,", "not a number"),
    (b"5:hello;", "does not end with ','"),
    (b"99999999999:x", "exceeds"),
    (b"9999999:x", "exceeds"),
])
def test_broken_netstrings(data, fault):
    with pytest.raises(EvapiFramingError, match=fault):
        cut(NetstringFramer(max_length=1024), data)


def test_partial_netstring_waits():
    framer = NetstringFramer()
    for part in (b"1", b"1:hello", b" world"):
        framer.feed(part)
        assert framer.next_payload() is None
    framer.feed(b",")
    assert framer.next_payload() == b"hello world"


@pytest.mark.parametrize("chunk", [None, 1, 3, 17])
def test_bare_json_documents_cut_at_their_end_not_at_line_ends(chunk):
    tricky = b'{"event":"X","v":"a } \\" { [ ]","nested":{"list":[1,{"b":"}"}]},"bs":"\\\\"}'
    data = AUTH_REQUEST + b"\n" + tricky + b"\r\n\t" + README_FRAME[3:-1]
    payloads = cut(JSONStreamFramer(), data, chunk)
    assert payloads == [AUTH_REQUEST, tricky, README_FRAME[3:-1]]
    assert orjson.loads(payloads[1])["v"] == 'a } " { [ ]'
    assert orjson.loads(payloads[1])["bs"] == "\\"


def test_bare_json_framing_faults():
    with pytest.raises(EvapiFramingError, match="JSON object expected"):
        cut(JSONStreamFramer(), b"hello {}")
    framer = JSONStreamFramer(max_length=64)
    framer.feed(b'{"event": "' + b"x" * 100)
    with pytest.raises(EvapiFramingError, match="longer than 64"):
        framer.next_payload()


def test_framing_selected_by_netstring_format():
    assert isinstance(make_framer(True), NetstringFramer) and isinstance(make_framer(False), JSONStreamFramer)
    assert isinstance(make_framer(None), AutoFramer)
    assert frame(b'{"Event":"CGR_DLG_LIST"}') == b'24:{"Event":"CGR_DLG_LIST"},'
    assert frame(b"{}", netstring_format=False) == b"{}\n"


def test_decode_events():
    event = decode_event(AUTH_REQUEST)
    assert event.name == "CGR_AUTH_REQUEST" and event["tr_index"] == "31284" and "SetupTime" in event
    assert reply_event_name(event) == "CGR_SESSIONAUTH_REPLY"
    assert reply_event_name(decode_event(b'{"event":"CGR_AUTH_REQUEST"}')) == CGR_AUTH_REPLY
    for payload, fault in [(b"{oops", "not JSON"), (b"[1]", "not an object"), (b'{"Event":"x"}', "no \"event\""),
                           (b'{"event": 7}', "no \"event\""), (b"", "not JSON")]:
        with pytest.raises(EvapiDecodeError, match=fault):
            decode_event(payload)


def test_messages_to_kamailio():
    reply = reply_message("CGR_SESSIONAUTH_REPLY", "31284", "1789914305", max_usage=3600, routes="route1,route2",
                          attributes="PaypalAccount:cgrates@cgrates.org,RequestType:*prepaid")
    assert list(reply) == ["Event", "TransactionIndex", "TransactionLabel", "Attributes", "ResourceAllocation",
                           "MaxUsage", "Routes", "Thresholds", "StatQueues", "Error"]
    assert orjson.loads(encode_message(reply))["MaxUsage"] == 3600
    assert session_disconnect("1234", "5678", "INSUFFICIENT_CREDIT") == {
        "Event": "CGR_SESSION_DISCONNECT", "HashEntry": "1234", "HashId": "5678", "Reason": "INSUFFICIENT_CREDIT"}
    assert encode_message(dlg_list_request()) == b'{"Event":"CGR_DLG_LIST"}'


def test_dlg_list_reply():
    body = {"jsonrpc": "2.0", "id": 1, "result": [
        {"h_entry": 1, "h_id": 2, "call-id": "abc@host", "caller": {"tag": "t1"}, "variables": []},
        {"call-id": "def@host", "from_tag": "t2", "variables": [{"cgrOriginID": "def-origin"},
                                                                 {"cgrOriginHost": "10.0.0.1"}]},
        "junk",
    ]}
    event = decode_event(encode_message({"event": CGR_DLG_LIST_REPLY, "jsonrpl_body": body}))
    assert parse_dlg_list_reply(event, "127.0.0.1:8448") == [
        DialogID("abc@host;t1", "127.0.0.1:8448"), DialogID("def-origin", "10.0.0.1")]
    assert parse_dlg_list_reply(decode_event(b'{"event":"CGR_DLG_LIST_REPLY"}'), "h") == []
    with pytest.raises(EvapiDecodeError):
        parse_dlg_list_reply(decode_event(b'{"event":"CGR_DLG_LIST_REPLY","jsonrpl_body":{"result":7}}'), "h")


@pytest.mark.parametrize("chunk", [None, 1, 4])
def test_framing_found_from_what_kamailio_sends_first(chunk):
    netstrings = AutoFramer()
    assert netstrings.netstring_format is None
    assert cut(netstrings, b"\r\n  " + frame(AUTH_REQUEST) + README_FRAME, chunk) == [AUTH_REQUEST,
                                                                                       README_FRAME[3:-1]]
    assert netstrings.netstring_format is True
    bare = AutoFramer()
    cut(bare, b"\n", chunk)
    assert bare.netstring_format is None                 # whitespace says nothing yet
    assert cut(bare, AUTH_REQUEST + b"\n" + README_FRAME[3:-1], chunk) == [AUTH_REQUEST, README_FRAME[3:-1]]
    assert bare.netstring_format is False
    with pytest.raises(EvapiFramingError, match="neither a netstring nor a JSON object"):
        cut(AutoFramer(), b"hello")
