"""The evapi client against the real kamailio (Debian) running the CGRateS evapi exchange (tests/peers/kamailio/),
with sipp as caller and callee: authorization over evapi_async_relay/t_continue, call start, dialog list,
disconnect, call end; both framings Kamailio offers (netstring_format 1 and 0); a Kamailio restart."""

from __future__ import annotations

import asyncio

import pytest

from pycgrates.agents.kamailio import (
    DialogID,
    EvapiClient,
    EvapiEvent,
    dlg_list_request,
    parse_dlg_list_reply,
    reply_event_name,
    reply_message,
    session_disconnect,
)
from pycgrates.agents.reconnect import Backoff
from tests.conftest import IN_CI, require_binary
from tests.peers.kamailio import Kamailio, Sipp, free_port, kamailio_available

pytestmark = pytest.mark.slow


@pytest.fixture
def binaries():
    require_binary("sipp")
    if not kamailio_available():
        if IN_CI:
            pytest.fail("kamailio with evapi.so is not installed (.ci/run installs it)")
        pytest.skip("kamailio with evapi.so is not installed")


class Inbox:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[EvapiEvent] = asyncio.Queue()

    def __call__(self, client: EvapiClient, event: EvapiEvent) -> None:
        self.queue.put_nowait(event)

    async def next(self, name: str, timeout: float = 10.0) -> EvapiEvent:
        event = await asyncio.wait_for(self.queue.get(), timeout)
        assert event.name == name, f"expected {name}, got {event.name}: {event.fields}"
        return event


async def started(kam: Kamailio, inbox: Inbox, **kwargs) -> EvapiClient:
    client = EvapiClient(kam.evapi_address, netstring_format=kam.netstring_format, on_event=inbox,
                         backoff=Backoff(reconnects=-1, first_delay=0.1, max_interval=0.5), **kwargs)
    await client.start()
    await kam.wait_log(f"CGR_TEST evapi connection from {client.local_address}")
    return client


@pytest.mark.parametrize("netstring_format", [True, False], ids=["netstring", "bare"])
async def test_call_authorized_listed_and_disconnected(binaries, tmp_path, netstring_format):
    kam = Kamailio(tmp_path, netstring_format=netstring_format)
    await kam.start()
    inbox = Inbox()
    client = await started(kam, inbox)
    uas = Sipp(tmp_path, "uas_disconnected.xml", port=kam.uas_port)
    uac = Sipp(tmp_path, "uac_disconnected.xml", port=free_port(2), target=f"127.0.0.1:{kam.sip_port}")
    try:
        await uas.start()
        await uac.start()

        auth = await inbox.next("CGR_AUTH_REQUEST")
        assert auth["tr_index"].isdigit() and auth["tr_label"].isdigit()
        assert (auth["Account"], auth["Destination"], auth["cgr_flags"]) == ("1001", "1002", "*accounts;*attributes")
        assert auth["SetupTime"].isdigit()
        assert reply_event_name(auth) == "CGR_SESSIONAUTH_REPLY"
        await client.send(reply_message(reply_event_name(auth), auth["tr_index"], auth["tr_label"], max_usage=60))

        start = await inbox.next("CGR_CALL_START")
        assert start["h_entry"].isdigit() and start["h_id"].isdigit()
        assert (start["Account"], start["Destination"], start["OriginHost"]) == ("1001", "1002", "127.0.0.1")
        call_id = start["OriginID"]
        assert call_id.endswith("@127.0.0.1")
        assert "CGR_TEST authorized for 60s" in kam.log()

        await client.send(dlg_list_request())
        listing = await inbox.next("CGR_DLG_LIST_REPLY")
        assert parse_dlg_list_reply(listing, client.remote_address) == [DialogID(call_id, "127.0.0.1")]

        await client.send(session_disconnect(start["h_entry"], start["h_id"], "INSUFFICIENT_CREDIT"))
        end = await inbox.next("CGR_CALL_END")
        assert end["OriginID"] == call_id and end["Usage"].isdigit()
        assert await uac.wait() == 0, uac.failure()
        assert await uas.wait() == 0, uas.failure()
        assert f'CGR_TEST disconnect "{start["h_entry"]}":"{start["h_id"]}"' in kam.log()
        assert client.malformed == 0
    finally:
        await uac.kill()
        await uas.kill()
        await client.stop()
        await kam.stop()


@pytest.mark.parametrize("netstring_format", [True, False], ids=["netstring", "bare"])
async def test_no_credit_is_refused_by_the_script(binaries, tmp_path, netstring_format):
    kam = Kamailio(tmp_path, netstring_format=netstring_format)
    await kam.start()
    inbox = Inbox()
    client = await started(kam, inbox)
    uac = Sipp(tmp_path, "uac_rejected.xml", port=free_port(2), target=f"127.0.0.1:{kam.sip_port}")
    try:
        await uac.start()
        auth = await inbox.next("CGR_AUTH_REQUEST")
        await client.send(reply_message(reply_event_name(auth), auth["tr_index"], auth["tr_label"], max_usage=0))
        assert await uac.wait() == 0, uac.failure()     # the caller got 403
        await kam.wait_log("CGR_TEST insufficient credit")
    finally:
        await uac.kill()
        await client.stop()
        await kam.stop()


async def test_kamailio_restart_reconnects_and_tells_the_owner(binaries, tmp_path):
    kam = Kamailio(tmp_path)
    await kam.start()
    inbox = Inbox()
    reconnected: asyncio.Queue[EvapiClient] = asyncio.Queue()
    client = await started(kam, inbox, on_reconnect=reconnected.put_nowait)
    try:
        await kam.stop()
        await asyncio.sleep(0.3)
        assert not client.connected
        await kam.start()
        assert await asyncio.wait_for(reconnected.get(), 10) is client
        # a connection accepted while kamailio is still starting may be closed again: the client dials once more
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not (client.connected and f"CGR_TEST evapi connection from {client.local_address}" in kam.log()):
            assert loop.time() < deadline, f"no lasting connection; kamailio's log:\n{kam.log()[-2000:]}"
            await asyncio.sleep(0.05)
        assert client.reconnections >= 1
        await client.send(dlg_list_request())
        listing = await inbox.next("CGR_DLG_LIST_REPLY")
        assert parse_dlg_list_reply(listing, client.remote_address) == []
    finally:
        await client.stop()
        await kam.stop()
