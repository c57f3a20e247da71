"""The ESL client against a FreeSWITCH event-socket peer on a loopback port: auth, subscriptions and filters, api,
bgapi, sendmsg, events, reply ordering and timeouts, several switches at once, restarts with back-off."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from pycgrates.agents.freeswitch import ESLAuthError, ESLClient, ESLCommandError, ESLEvent, parse_show_channels
from pycgrates.agents.freeswitch.channels import parse_show_channels_json
from pycgrates.agents.reconnect import Backoff, ConnectionLost
from tests.engine_proc import free_port
from tests.peers.freeswitch import FreeSWITCHPeer

CALL_EVENTS = ["CHANNEL_PARK", "CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]
FAST = Backoff(reconnects=-1, first_delay=0.05, max_interval=0.2)


@pytest.fixture
async def fs():
    peer = FreeSWITCHPeer(password="ClueCon")
    await peer.start()
    yield peer
    await peer.stop()


class Inbox:
    """Collects events; ``await inbox.next(name)``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[ESLClient, ESLEvent]] = asyncio.Queue()

    def __call__(self, client: ESLClient, event: ESLEvent) -> None:
        self.queue.put_nowait((client, event))

    async def next(self, name: str | None = None, timeout: float = 3.0) -> ESLEvent:
        while True:
            _, event = await asyncio.wait_for(self.queue.get(), timeout)
            if name is None or event.name == name:
                return event


async def connect(peer: FreeSWITCHPeer, **kwargs) -> ESLClient:
    kwargs.setdefault("backoff", FAST)
    client = ESLClient(peer.address, kwargs.pop("password", "ClueCon"), **kwargs)
    await client.start()
    return client


async def test_wrong_password_is_refused_and_never_logged(fs, caplog):
    caplog.set_level(logging.DEBUG)
    client = ESLClient(fs.address, "not-the-secret-pw", backoff=FAST)
    with pytest.raises(ESLAuthError, match="refused the password"):
        await client.start()
    assert not client.connected
    assert fs.sessions[0].commands == ["auth not-the-secret-pw"] and not fs.sessions[0].authed
    await fs.wait_for(lambda: all(s.writer.is_closing() for s in fs.sessions))
    assert "not-the-secret-pw" not in caplog.text and "not-the-secret-pw" not in repr(client)
    await client.stop()


@pytest.mark.parametrize("event_format", ["plain", "json", "xml"])
async def test_subscription_filters_and_events(fs, event_format):
    inbox = Inbox()
    client = await connect(fs, events=CALL_EVENTS, filters={"Call-Direction": ["inbound"]},
                           event_format=event_format, on_event=inbox)
    session = fs.authed_sessions()[0]
    assert session.format == event_format
    assert session.events == {*CALL_EVENTS, "BACKGROUND_JOB"}
    assert session.filters == [("Call-Direction", "inbound"), ("Event-Name", "BACKGROUND_JOB")]

    outbound = fs.add_channel("2001", "2002")
    outbound.direction = "outbound"
    assert fs.park(outbound) == 0                       # filtered out by FreeSWITCH, never sent
    call = fs.add_channel("1001", "1002", cgr_reqtype="*prepaid", cgr_flags="*resources;*accounts")
    assert fs.park(call) == 1
    event = await inbox.next()
    assert event.name == "CHANNEL_PARK" and event.format == event_format
    assert event.unique_id == call.uuid
    assert event["Caller-Destination-Number"] == "1002" and event["Caller-Username"] == "1001"
    assert event["Channel-Name"] == "sofia/internal/1001@127.0.0.1"
    assert event["variable_cgr_flags"] == "*resources;*accounts"
    assert event["FreeSWITCH-IPv4"] == fs.ipv4
    assert inbox.queue.empty()
    await client.stop()


async def test_api_answers_and_errors(fs):
    client = await connect(fs, events=CALL_EVENTS)
    call = fs.add_channel("1001", "1002")
    rows = parse_show_channels(await client.api("show channels"))
    assert [(r["uuid"], r["cid_num"], r["dest"]) for r in rows] == [(call.uuid, "1001", "1002")]
    rows = parse_show_channels(await client.api("show channels as delim |"), "|")
    assert [r["uuid"] for r in rows] == [call.uuid]
    assert [r["uuid"] for r in parse_show_channels_json(await client.api("show channels as json"))] == [call.uuid]
    assert await client.api(f"uuid_setvar {call.uuid} cgr_max_usage 60") == "+OK\n"
    assert call.variables["cgr_max_usage"] == "60"
    with pytest.raises(ESLCommandError, match="No such channel") as err:
        await client.api("uuid_kill 00000000-no-such")
    assert err.value.command == "uuid_kill 00000000-no-such"
    with pytest.raises(ESLCommandError, match="Command not found"):
        await client.api("no_such_api")
    assert await client.api("status") == "UP 0 years, 0 days\nFreeSWITCH (fs-test) is ready\n"
    await client.stop()


async def test_concurrent_commands_get_their_own_replies(fs):
    client = await connect(fs, events=CALL_EVENTS)
    call = fs.add_channel()
    call.variables.update({f"v{i}": f"value-{i}" for i in range(60)})
    outs = await asyncio.gather(*(client.api(f"uuid_getvar {call.uuid} v{i}") for i in range(60)))
    assert outs == [f"value-{i}" for i in range(60)]
    await client.stop()


async def test_a_reply_after_its_timeout_does_not_answer_the_next_command(fs):
    client = await connect(fs, events=CALL_EVENTS, reply_timeout=0.1)
    call = fs.add_channel()
    call.variables.update(first="one", second="two")
    fs.answer_delay = 0.3
    with pytest.raises(TimeoutError, match="no answer to uuid_getvar"):
        await client.api(f"uuid_getvar {call.uuid} first")
    fs.answer_delay = 0.0
    assert await client.api(f"uuid_getvar {call.uuid} second", timeout=2) == "two"
    await client.stop()


async def test_bgapi_waits_for_its_background_job(fs):
    inbox = Inbox()
    client = await connect(fs, events=CALL_EVENTS, filters={"Call-Direction": "inbound"}, on_event=inbox)
    calls = [fs.add_channel(f"10{i:02}") for i in range(5)]
    for i, c in enumerate(calls):
        c.variables["n"] = str(i)
    outs = await asyncio.gather(*(client.bgapi(f"uuid_getvar {c.uuid} n") for c in calls))
    assert outs == ["0", "1", "2", "3", "4"]
    with pytest.raises(ESLCommandError, match="No such channel"):
        await client.bgapi("uuid_kill 00000000-no-such")
    jobs = [cmd for cmd in fs.authed_sessions()[0].commands if cmd.startswith("bgapi")]
    assert len(jobs) == 6
    assert inbox.queue.empty()                          # our BACKGROUND_JOBs are consumed by bgapi
    await client.stop()


async def test_sendmsg_hangup_and_execute(fs):
    inbox = Inbox()
    client = await connect(fs, events=CALL_EVENTS, on_event=inbox)
    call = fs.add_channel("1001", "1002")
    assert await client.execute(call.uuid, "playback", "/tmp/low_balance.wav") == "+OK"
    assert await client.hangup(call.uuid) == "+OK"
    event = await inbox.next("CHANNEL_HANGUP_COMPLETE")
    assert (event.unique_id, event["Hangup-Cause"]) == (call.uuid, "MANAGER_REQUEST")
    sent = fs.authed_sessions()[0].sendmsgs
    assert sent[0] == (call.uuid, {"call-command": "execute", "execute-app-name": "playback",
                                   "execute-app-arg": "/tmp/low_balance.wav"}, "")
    assert sent[1][1] == {"call-command": "hangup", "hangup-cause": "MANAGER_REQUEST"}
    with pytest.raises(ESLCommandError, match="invalid session id"):
        await client.hangup(call.uuid)
    await client.stop()


async def test_event_handler_may_call_back_on_the_same_connection(fs):
    answered: asyncio.Queue[str] = asyncio.Queue()

    async def on_event(client: ESLClient, event: ESLEvent) -> None:
        # an agent sets channel variables from inside its event handler: the reader must keep reading meanwhile
        await client.api(f"uuid_setvar {event.unique_id} cgr_notify AUTH_OK")
        await client.api(f"uuid_transfer {event.unique_id} {event['Caller-Destination-Number']}")
        await answered.put(event.unique_id)

    client = await connect(fs, events=CALL_EVENTS, on_event=on_event)
    calls = [fs.add_channel() for _ in range(10)]
    for c in calls:
        fs.park(c)
    done = {await asyncio.wait_for(answered.get(), 3) for _ in calls}
    assert done == {c.uuid for c in calls}
    assert all(c.variables["cgr_notify"] == "AUTH_OK" for c in calls)
    await client.stop()


async def test_several_switches_at_once(fs):
    other = FreeSWITCHPeer(password="other-pw", ipv4="10.0.0.6")
    await other.start()
    inbox = Inbox()
    one = await connect(fs, events=CALL_EVENTS, on_event=inbox, alias="fs1")
    two = await connect(other, password="other-pw", events=CALL_EVENTS, on_event=inbox, alias="fs2")
    fs.park(fs.add_channel("1001"))
    other.park(other.add_channel("2001"))
    got = {}
    for _ in range(2):
        client, event = await asyncio.wait_for(inbox.queue.get(), 3)
        got[client.alias] = event["Caller-Username"]
    assert got == {"fs1": "1001", "fs2": "2001"}
    await one.stop()
    await two.stop()
    await other.stop()


def test_backoff_delays():
    assert list(Backoff(reconnects=5, first_delay=1, max_interval=3).delays()) == [0, 1, 2, 3, 3]
    assert list(Backoff(reconnects=4, first_delay=0.5).delays()) == [0, 0.5, 1, 2]
    assert list(Backoff(reconnects=0).delays()) == []
    forever = Backoff(reconnects=-1, first_delay=1, max_interval=10).delays()
    assert [next(forever) for _ in range(8)] == [0, 1, 2, 4, 8, 10, 10, 10]
    conf = Backoff.from_config({"address": "x:1", "reconnects": 5, "max_reconnect_interval": "2s"})
    assert (conf.reconnects, conf.max_interval) == (5, 2.0)
    with pytest.raises(ValueError, match="reconnects"):
        Backoff.from_config({"reconnects": "five"})


async def test_freeswitch_restart_reconnects_resubscribes_and_tells_the_owner(fs, caplog):
    caplog.set_level(logging.INFO, logger="cgr.agents.switch")
    inbox = Inbox()
    reconnected: asyncio.Queue[ESLClient] = asyncio.Queue()
    client = await connect(fs, events=CALL_EVENTS, filters={"Call-Direction": "inbound"}, on_event=inbox,
                           on_reconnect=reconnected.put_nowait)
    pending = asyncio.ensure_future(client.bgapi("uuid_getvar none x", timeout=5))
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await fs.restart(downtime=0.5)
    with pytest.raises(ConnectionLost):
        await pending                                   # a job in flight dies with the connection
    assert await asyncio.wait_for(reconnected.get(), 3) is client
    elapsed = loop.time() - started
    assert 0.5 <= elapsed < 0.5 + FAST.max_interval + 0.5
    failures = [r for r in caplog.records if "reconnect attempt" in r.getMessage()]
    assert 2 <= len(failures) <= 8                      # 0, 0.05, 0.1, 0.2, 0.2... within the 0.5s downtime
    assert client.connected and client.reconnections == 1
    session = fs.authed_sessions()[0]                   # a new connection, subscribed again
    assert session.events == {*CALL_EVENTS, "BACKGROUND_JOB"}
    assert ("Call-Direction", "inbound") in session.filters
    fs.park(fs.add_channel("1001"))
    assert (await inbox.next("CHANNEL_PARK"))["Caller-Username"] == "1001"
    assert (await client.api("status")).startswith("UP")
    await client.stop()


async def test_gives_up_after_its_reconnects_and_says_so(fs):
    down: asyncio.Queue[ESLClient] = asyncio.Queue()
    client = await connect(fs, events=CALL_EVENTS, backoff=Backoff(reconnects=3, first_delay=0.01),
                           on_down=down.put_nowait)
    await fs.stop()
    assert await asyncio.wait_for(down.get(), 3) is client
    with pytest.raises(ConnectionLost, match="gave up"):
        await client.wait_closed()
    with pytest.raises(ConnectionLost, match="not connected"):
        await client.api("status")
    await client.stop()


async def test_stop_says_exit_and_does_not_reconnect(fs):
    client = await connect(fs, events=CALL_EVENTS)
    await client.stop()
    await fs.wait_for(lambda: "exit" in fs.sessions[0].commands if fs.sessions else True)
    await asyncio.sleep(0.2)
    assert fs.accepted == 1 and not client.connected
    await client.wait_closed()


async def test_connection_has_tcp_keepalive(fs):
    # a switch that vanishes without closing (power loss, a cut link) must be noticed, as Go's dialer does
    client = await connect(fs, events=CALL_EVENTS)
    sock = client._writer.get_extra_info("socket")
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 15
    await client.stop()


async def test_start_without_waiting_dials_a_switch_that_comes_up_later_and_drop_redials(caplog):
    caplog.set_level(logging.INFO, logger="cgr.agents.switch")
    port = free_port()
    reconnected: asyncio.Queue[ESLClient] = asyncio.Queue()
    client = ESLClient(f"127.0.0.1:{port}", "ClueCon", events=CALL_EVENTS, backoff=FAST,
                       on_reconnect=reconnected.put_nowait)
    await client.start(wait=False)                      # nobody listens yet: no error, dialled in the background
    assert not client.connected and client.lost_at is not None
    assert any("cannot connect" in r.getMessage() and client.name in r.getMessage() for r in caplog.records)
    late = FreeSWITCHPeer(port=port)
    await late.start()
    try:
        assert await asyncio.wait_for(reconnected.get(), 3) is client
        assert client.connected and (await client.api("status")).startswith("UP")
        before = client.lost_at
        client.drop()                                   # as if the network failed
        assert await asyncio.wait_for(reconnected.get(), 3) is client
        assert late.accepted == 2 and client.lost_at is not None and client.lost_at > before
    finally:
        await client.stop()
        await late.stop()
    with pytest.raises(ConnectionRefusedError):
        await ESLClient(f"127.0.0.1:{port}", "ClueCon", backoff=FAST).start()   # waiting: the failure is raised
