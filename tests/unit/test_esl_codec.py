"""The event-socket codec on bytes: framing, event bodies (plain, json, xml), commands, show channels output."""

from __future__ import annotations

import pytest

from pycgrates.agents.freeswitch.channels import parse_show_channels, parse_show_channels_json, split_grouped
from pycgrates.agents.freeswitch.esl import (
    ESLError,
    ESLEventError,
    ESLFramer,
    ESLMessage,
    ESLProtocolError,
    api_command,
    api_failed,
    auth_command,
    bgapi_command,
    event_command,
    execute_command,
    exit_command,
    filter_command,
    hangup_command,
    parse_event,
    sendmsg_command,
)

# a CHANNEL_HANGUP_COMPLETE as FreeSWITCH serializes it (URL-encoded values), trimmed
PLAIN_HANGUP = (
    b"Event-Name: CHANNEL_HANGUP_COMPLETE\n"
    b"Core-UUID: 651a8db2-4f67-4cf8-b622-169e8a482e50\n"
    b"FreeSWITCH-IPv4: 10.0.3.15\n"
    b"FreeSWITCH-IPv6: %3A%3A1\n"
    b"Event-Date-Local: 2015-07-07%2016%3A53%3A14\n"
    b"Channel-Name: sofia/cgrtest/1001%40127.0.0.1\n"
    b"Unique-ID: e3133bf7-dcde-4daf-9663-9a79ffcef5ad\n"
    b"Hangup-Cause: NORMAL_CLEARING\n"
    b"variable_cgr_flags: *resources%3B*attributes%3B*sessions\n"
    b"variable_plus: a%2Bb+c\n"
    b"variable_utf8: M%C3%BCnchen\n"
    b"\n"
)


def framed(content_type: str, body: bytes) -> bytes:
    return f"Content-Length: {len(body)}\nContent-Type: {content_type}\n\n".encode() + body


def messages(data: bytes, chunk: int | None = None) -> list[ESLMessage]:
    framer = ESLFramer()
    out: list[ESLMessage] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        framer.feed(data[i:i + step])
        out.extend(framer)
    return out


# ---- framing ------------------------------------------------------------------------------------------------


def test_auth_request_and_replies_without_body():
    data = (b"Content-Type: auth/request\n\n"
            b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
            b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: 7f4d\nJob-UUID: 7f4d\n\n")
    msgs = messages(data)
    assert [m.content_type for m in msgs] == ["auth/request", "command/reply", "command/reply"]
    assert msgs[1].ok and msgs[1].reply_text == "+OK accepted"
    assert msgs[2].headers["Job-UUID"] == "7f4d" and msgs[2].body == b""


@pytest.mark.parametrize("chunk", [None, 1, 7])
def test_body_is_cut_by_content_length_whatever_the_chunking(chunk):
    body = b"+OK\n\nnot a header: block\n"
    data = framed("api/response", body) + b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"
    msgs = messages(data, chunk)
    assert msgs[0].body == body and msgs[0].content_type == "api/response"
    assert msgs[1].reply_text == "-ERR invalid" and not msgs[1].ok


def test_partial_message_waits_for_more_bytes():
    framer = ESLFramer()
    framer.feed(b"Content-Type: api/response\nContent-Length: 10\n\n12345")
    assert framer.next_message() is None
    framer.feed(b"67890Content-Type: auth/")
    assert framer.next_message().body == b"1234567890"
    assert framer.next_message() is None
    framer.feed(b"request\n\n")
    assert framer.next_message().content_type == "auth/request"


def test_crlf_and_stray_newlines_between_messages_are_tolerated():
    msgs = messages(b"\r\n\nContent-Type: command/reply\r\nReply-Text: +OK\r\n\r\n\n")
    assert [(m.content_type, m.reply_text) for m in msgs] == [("command/reply", "+OK")]


@pytest.mark.parametrize("data, fault", [
    (b"Content-Type: api/response\nContent-Length: ten\n\n", "Content-Length"),
    (b"Content-Type: api/response\nContent-Length: -1\n\n", "Content-Length"),
    (b"Content-Type: api/response\nContent-Length: 99999999999\n\n", "exceeds"),
    (b"just some garbage line\n\n", "malformed header line"),
    (b": no name\n\n", "malformed header line"),
])
def test_broken_frames_raise_protocol_errors(data, fault):
    with pytest.raises(ESLProtocolError, match=fault):
        messages(data)


def test_endless_header_block_is_refused():
    framer = ESLFramer(max_header=1024)
    framer.feed(b"X-Header: " + b"a" * 2000)
    with pytest.raises(ESLProtocolError, match="no end of headers"):
        framer.next_message()


# ---- events ---------------------------------------------------------------------------------------------------


def test_plain_event_headers_are_url_decoded():
    event = parse_event(ESLMessage({"Content-Type": "text/event-plain"}, PLAIN_HANGUP))
    assert event.name == "CHANNEL_HANGUP_COMPLETE" and event.format == "plain"
    assert event.unique_id == "e3133bf7-dcde-4daf-9663-9a79ffcef5ad"
    assert event["FreeSWITCH-IPv6"] == "::1"
    assert event["Event-Date-Local"] == "2015-07-07 16:53:14"
    assert event["Channel-Name"] == "sofia/cgrtest/1001@127.0.0.1"
    assert event["variable_cgr_flags"] == "*resources;*attributes;*sessions"
    # FreeSWITCH encodes '+' as %2B, so a literal '+' stays a '+' (not a space as in form decoding)
    assert event["variable_plus"] == "a+b+c"
    assert event["variable_utf8"] == "München"
    assert event.body == ""


def test_plain_event_with_its_own_body_background_job():
    inner = "+OK 7f4dc6f4-17d7-11dd-b7a0-db4edd065621\n"
    text = ("Event-Name: BACKGROUND_JOB\nJob-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621\n"
            "Job-Command: originate\nJob-Command-Arg: sofia/default/1005%20'%26park'\n"
            f"Content-Length: {len(inner)}\n\n{inner}")
    msgs = messages(framed("text/event-plain", text.encode()))
    event = parse_event(msgs[0])
    assert event.name == "BACKGROUND_JOB"
    assert event["Job-Command-Arg"] == "sofia/default/1005 '&park'"
    assert event.body == inner


def test_json_event_body_and_array_headers():
    body = (b'{"Event-Name":"BACKGROUND_JOB","Job-UUID":"abc","Content-Length":"4","_body":"+OK\\n",'
            b'"variable_codecs":["PCMU","PCMA"],"Event-Sequence":7}')
    event = parse_event(ESLMessage({"Content-Type": "text/event-json"}, body))
    assert (event.name, event["Job-UUID"], event.body, event.format) == ("BACKGROUND_JOB", "abc", "+OK\n", "json")
    assert event["variable_codecs"] == "ARRAY::PCMU|:PCMA"
    assert event["Event-Sequence"] == "7"


def test_xml_event():
    body = (b"<event>\n  <headers><Event-Name>CHANNEL_ANSWER</Event-Name>"
            b"<Channel-Name>sofia/internal/1001%40127.0.0.1</Channel-Name></headers>\n</event>")
    event = parse_event(ESLMessage({"Content-Type": "text/event-xml"}, body))
    assert event.name == "CHANNEL_ANSWER" and event["Channel-Name"] == "sofia/internal/1001@127.0.0.1"


@pytest.mark.parametrize("content_type, body, fault", [
    ("text/event-json", b"{not json", "not JSON"),
    ("text/event-json", b"[1, 2]", "not an object"),
    ("text/event-json", b'{"Unique-ID": "x"}', "without Event-Name"),
    ("text/event-plain", b"Unique-ID: x\n\n", "without Event-Name"),
    ("text/event-plain", b"garbage without a colon\n\n", "malformed event header"),
    ("text/event-xml", b"<event><headers>", "not XML"),
    ("text/event-xml", b"<event/>", "without <headers>"),
    ("api/response", b"+OK", "not an event"),
])
def test_unreadable_event_bodies_raise_event_errors(content_type, body, fault):
    with pytest.raises(ESLEventError, match=fault):
        parse_event(ESLMessage({"Content-Type": content_type}, body))


# ---- commands -----------------------------------------------------------------------------------------------


def test_commands_bytes():
    assert auth_command("ClueCon") == b"auth ClueCon\n\n"
    assert api_command("show channels ") == b"api show channels\n\n"
    assert bgapi_command("originate a b", "uuid-1") == b"bgapi originate a b\nJob-UUID: uuid-1\n\n"
    assert filter_command("Call-Direction", "inbound") == b"filter Call-Direction inbound\n\n"
    assert exit_command() == b"exit\n\n"
    assert hangup_command("u1") == b"sendmsg u1\ncall-command: hangup\nhangup-cause: MANAGER_REQUEST\n\n"
    assert execute_command("u1", "playback", "/tmp/low.wav") == (
        b"sendmsg u1\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: /tmp/low.wav\n\n")
    assert sendmsg_command("u1", {"call-command": "execute", "execute-app-name": "speak"}, "héllo") == (
        "sendmsg u1\ncall-command: execute\nexecute-app-name: speak\nContent-Length: 6\n\nhéllo".encode())


def test_event_subscription_puts_custom_subclasses_last():
    assert event_command(["CHANNEL_PARK", "CUSTOM sofia::register", "CHANNEL_ANSWER"]) == (
        b"event plain CHANNEL_PARK CHANNEL_ANSWER CUSTOM sofia::register\n\n")
    assert event_command(["CHANNEL_ANSWER", "all"], "json") == b"event json ALL\n\n"
    with pytest.raises(ValueError, match="format"):
        event_command(["CHANNEL_ANSWER"], "yaml")
    with pytest.raises(ValueError, match="names no event"):
        event_command([])


@pytest.mark.parametrize("build", [
    lambda: api_command("uuid_setvar u1 x 1\n\napi uuid_kill u2"),
    lambda: auth_command("pw\nevent plain ALL"),
    lambda: sendmsg_command("u1", {"call-command": "execute\nexecute-app-name: system"}),
    lambda: filter_command("Unique-ID", "a\rb"),
])
def test_line_breaks_cannot_smuggle_a_second_command(build):
    with pytest.raises(ValueError, match="line break"):
        build()


def test_api_failure_outputs():
    assert api_failed("-ERR No such channel!\n") and api_failed("-USAGE: <uuid>\n")
    assert not api_failed("+OK\n") and not api_failed("uuid,direction\n")


# ---- show channels --------------------------------------------------------------------------------------------

SHOW_CHANNELS = (
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data\n"
    "9f0c1e30-1,inbound,2024-01-05 10:00:00,1704448800,sofia/internal/1001@127.0.0.1,CS_EXECUTE,1001,1001,"
    "127.0.0.1,1002,park,\n"
    "9f0c1e30-2,outbound,2024-01-05 10:00:01,1704448801,{origination_caller_id_number=1,b=2}sofia/gw/1003,"
    "CS_EXECUTE,1001,1001,127.0.0.1,1003,bridge,[leg_timeout=30,x=y]sofia/gw/1003\n"
    "\n2 total.\n"
)


def test_show_channels_csv_respects_groups():
    rows = parse_show_channels(SHOW_CHANNELS)
    assert [r["uuid"] for r in rows] == ["9f0c1e30-1", "9f0c1e30-2"]
    assert rows[1]["name"] == "{origination_caller_id_number=1,b=2}sofia/gw/1003"
    assert rows[1]["application_data"] == "[leg_timeout=30,x=y]sofia/gw/1003"
    assert parse_show_channels("\n0 total.\n") == []


def test_show_channels_other_delimiter_and_json():
    text = SHOW_CHANNELS.replace(",", "|").replace("|b=2", ",b=2").replace("|x=y", ",x=y")
    assert [r["dest"] for r in parse_show_channels(text, "|")] == ["1002", "1003"]
    assert parse_show_channels_json('{"row_count":1,"rows":[{"uuid":"u1","created_epoch":1}]}') == [
        {"uuid": "u1", "created_epoch": "1"}]
    assert parse_show_channels_json('{"row_count": 0}\n') == []
    with pytest.raises(ESLError):
        parse_show_channels("-ERR SQL error [no such table]\n")
    assert split_grouped("a,(b,c),d", ",") == ["a", "(b,c)", "d"]
