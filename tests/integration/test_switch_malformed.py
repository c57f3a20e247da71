"""Malformed input on live connections: 100,000 unusable messages are skipped on the same connection (logged
once, naming it), a broken stream drops the connection and it is dialled again; the client works afterwards."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pycgrates.agents.freeswitch import ESLClient, ESLEvent
from pycgrates.agents.kamailio import EvapiClient, EvapiEvent
from pycgrates.agents.kamailio.evapi import frame
from pycgrates.agents.reconnect import Backoff
from tests.peers.freeswitch import FreeSWITCHPeer
from tests.peers.kamailio import EvapiPeer

COUNT = 100_000
FAST = Backoff(reconnects=-1, first_delay=0.05, max_interval=0.2)


def esl_message(content_type: str, body: bytes) -> bytes:
    return f"Content-Length: {len(body)}\nContent-Type: {content_type}\n\n".encode() + body


def unusable_esl(i: int) -> bytes:
    """Well framed, but nothing a client can use."""
    return [
        esl_message("text/event-json", b'{"Event-Name": "CHANNEL_PARK", "Unique-ID": '),
        esl_message("text/event-json", b"[1,2,3]"),
        esl_message("text/event-plain", b"no colon on this line\n\n"),
        esl_message("text/event-plain", b"Unique-ID: %d\n\n" % i),
        esl_message("text/event-xml", b"<event><headers>"),
        esl_message("text/unknown-thing", b"?"),
        b"Content-Type: command/reply\nReply-Text: +OK nobody asked\n\n",
        b"Content-Type: api/response\nContent-Length: 3\n\n+OK",
    ][i % 8]


async def until(predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)


async def test_esl_connection_survives_100k_unusable_messages_and_redials_after_a_broken_stream(caplog):
    caplog.set_level(logging.INFO)
    fs = FreeSWITCHPeer()
    await fs.start()
    events: asyncio.Queue[ESLEvent] = asyncio.Queue()
    reconnected: asyncio.Queue[ESLClient] = asyncio.Queue()
    client = ESLClient(fs.address, "ClueCon", events=["CHANNEL_PARK"], backoff=FAST,
                       on_event=lambda c, e: events.put_nowait(e), on_reconnect=reconnected.put_nowait)
    await client.start()
    try:
        fs.send_raw(b"".join(unusable_esl(i) for i in range(COUNT)))
        call = fs.add_channel("1001", "1002")
        fs.park(call)
        event = await asyncio.wait_for(events.get(), 30)
        assert event.unique_id == call.uuid
        assert client.malformed == COUNT and fs.accepted == 1 and client.connected
        warnings = [r.getMessage() for r in caplog.records if "skipped malformed" in r.getMessage()]
        assert 1 <= len(warnings) <= 5 and all(client.name in w for w in warnings)
        assert f"FreeSWITCH {fs.address}" in warnings[0]
        assert (await client.api("status")).startswith("UP")

        for broken in (b"Content-Type: api/response\nContent-Length: lots\n\n",
                       b"this is not a header block\n\n",
                       b"Content-Length: 99999999999\n\n"):
            accepted = fs.accepted
            fs.send_raw(broken)
            assert await asyncio.wait_for(reconnected.get(), 5) is client
            await until(lambda a=accepted: fs.accepted == a + 1 and client.connected)
            assert (await client.api("status")).startswith("UP")
        drops = [r.getMessage() for r in caplog.records if "the stream is broken" in r.getMessage()]
        assert len(drops) == 3 and all(client.name in d for d in drops)
        fs.park(fs.add_channel("1003"))
        assert (await asyncio.wait_for(events.get(), 5))["Caller-Username"] == "1003"
    finally:
        await client.stop()
        await fs.stop()


def unusable_evapi(i: int) -> bytes:
    return [b"not json at all", b"[1,2]", b'{"Event":"CGR_CALL_START"}', b'{"event": 42}', b"",
            b'{"event":"CGR_CALL_START",', b"\xff\xfe\x00", b"null"][i % 8]


def unusable_document(i: int) -> bytes:
    return [b'{"no":"event"}', b"{oops}", b'{"event":null}', b'{"event":"x",}', b"{}",
            b'{"event":"CGR_CALL_END"\n\t"OriginID":"a"}'][i % 6]


@pytest.mark.parametrize("netstring_format", [True, False], ids=["netstring", "bare"])
async def test_evapi_connection_survives_100k_unusable_messages_and_redials_after_a_broken_stream(
        caplog, netstring_format):
    caplog.set_level(logging.INFO)
    kam = EvapiPeer()
    await kam.start()
    events: asyncio.Queue[EvapiEvent] = asyncio.Queue()
    reconnected: asyncio.Queue[EvapiClient] = asyncio.Queue()
    client = EvapiClient(kam.address, netstring_format=netstring_format, backoff=FAST,
                         on_event=lambda c, e: events.put_nowait(e), on_reconnect=reconnected.put_nowait)
    await client.start()
    await kam.wait_clients()
    unusable = unusable_evapi if netstring_format else unusable_document
    try:
        burst = b"".join(frame(unusable(i), netstring_format) for i in range(COUNT))
        await kam.send(burst + frame(b'{"event":"CGR_CALL_START","OriginID":"call-1"}', netstring_format))
        event = await asyncio.wait_for(events.get(), 30)
        assert (event.name, event["OriginID"]) == ("CGR_CALL_START", "call-1")
        assert client.malformed == COUNT and kam.accepted == 1 and client.connected
        warnings = [r.getMessage() for r in caplog.records if "skipped malformed" in r.getMessage()]
        assert 1 <= len(warnings) <= 5 and all(f"Kamailio {kam.address}" in w for w in warnings)

        broken = [b"abc:{},", b"5:hello;", b"99999999999:"] if netstring_format else [b"hello", b"]", b"42"]
        for blob in broken:
            accepted = kam.accepted
            await kam.send(blob)
            assert await asyncio.wait_for(reconnected.get(), 5) is client
            await until(lambda a=accepted: kam.accepted == a + 1 and client.connected)
        drops = [r.getMessage() for r in caplog.records if "the stream is broken" in r.getMessage()]
        assert len(drops) == 3 and all(client.name in d for d in drops)

        await kam.send(frame(b'{"event":"CGR_CALL_END","OriginID":"call-1"}', netstring_format))
        assert (await asyncio.wait_for(events.get(), 5)).name == "CGR_CALL_END"
        kam.received.clear()
        await client.send({"Event": "CGR_DLG_LIST"})
        await until(lambda: bytes(kam.received) == frame(b'{"Event":"CGR_DLG_LIST"}', netstring_format))
    finally:
        await client.stop()
        await kam.stop()
