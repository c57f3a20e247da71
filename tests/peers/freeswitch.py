"""A FreeSWITCH event socket (mod_event_socket, inbound mode) for tests, written from the protocol documentation.

It formats and parses its own bytes (nothing from ``pycgrates.agents.freeswitch``), so a codec bug does not
cancel itself out. What it does, as FreeSWITCH does:

- on connect: ``Content-Type: auth/request``; ``auth <password>`` → ``+OK accepted``, or ``-ERR invalid`` followed
  by a ``text/disconnect-notice`` and the close;
- ``event plain|json|xml <names>`` (``ALL``, ``CUSTOM <subclass>``), ``filter <header> <value>`` (an event passes
  when any filter matches, case-insensitively), ``nixevent``, ``noevents``, ``exit``;
- ``api <cmd>`` answered from :attr:`FreeSWITCHPeer.api` (command word → handler) with the stock ``status``,
  ``show channels [as json|as delim X]``, ``uuid_kill``, ``uuid_setvar``, ``uuid_getvar``, ``uuid_transfer``,
  ``sched_hangup``, ``sched_broadcast``, ``uuid_broadcast`` over its own channel table; unknown commands get
  ``-ERR <cmd> Command not found!``;
- the dialplan of tutorials/freeswitch on ``uuid_transfer <uuid> <destination>``: a channel whose ``cgr_notify``
  is ``AUTH_OK`` goes on (:attr:`Channel.routed`); ``INSUFFICIENT_CREDIT`` hangs it up with
  ``OUTGOING_CALL_BARRED`` (SIP 403), any other notification with ``NORMAL_TEMPORARY_FAILURE`` (SIP 503);
  ``uuid_transfer <uuid> <destination> XML <context>`` moves it to that context (:attr:`Channel.context`);
- timers as FreeSWITCH runs them: ``execute_on_answer`` (``sched_hangup +N cause``, ``sched_transfer +N ...``,
  ``sched_broadcast +N path``)
  armed by :meth:`FreeSWITCHPeer.answer`, ``sched_hangup +N <uuid> cause`` at once; a ``playback!cause::file``
  broadcast hangs the channel up with that cause once played (at once here);
- ``bgapi <cmd>`` with ``Job-UUID``: ``+OK Job-UUID: ...`` at once, then a BACKGROUND_JOB event carrying the output;
- ``sendmsg <uuid>`` (``call-command: hangup|execute``) recorded; a hangup ends the channel;
- channel events (CHANNEL_PARK, CHANNEL_ANSWER, CHANNEL_HANGUP_COMPLETE) with the headers FreeSWITCH puts on them,
  serialized plain (URL-encoded values), json or xml per connection;
- :meth:`FreeSWITCHPeer.restart` closes every connection and listens again on the same port, like a restart (the
  calls are gone); :meth:`FreeSWITCHPeer.drop_connections` closes the connections only (a network failure: the
  calls go on).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

# the characters FreeSWITCH's switch_url_encode escapes in plain event headers (plus controls and non-ASCII)
URL_UNSAFE = set("\r\n #%&+:;<=>?@[\\]^`{|}\"")

CHANNEL_COLUMNS = (
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data,"
    "dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,write_bit_rate,secure,hostname,"
    "presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,"
    "sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,initial_dest,"
    "initial_dialplan,initial_context"
).split(",")

GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def url_encode(value: str) -> str:
    out = []
    for ch in value:
        if ch in URL_UNSAFE or not 32 < ord(ch) < 127:
            out.extend(f"%{b:02X}" for b in ch.encode())
        else:
            out.append(ch)
    return "".join(out)


def serialize_plain(headers: dict[str, str], body: str = "") -> str:
    lines = "".join(f"{k}: {url_encode(v) if v != '' else '_undef_'}\n" for k, v in headers.items())
    if body:
        return lines + f"Content-Length: {len(body.encode())}\n\n" + body
    return lines + "\n"


def serialize_json(headers: dict[str, str], body: str = "") -> str:
    obj: dict[str, str] = dict(headers)
    if body:
        obj["Content-Length"] = str(len(body.encode()))
        obj["_body"] = body
    return json.dumps(obj)


def serialize_xml(headers: dict[str, str], body: str = "") -> str:
    heads = "".join(f"<{k}>{escape(url_encode(v))}</{k}>" for k, v in headers.items())
    tail = f"<body>{escape(body)}</body>" if body else ""
    return f"<event>\n  <headers>{heads}</headers>{tail}\n</event>"


SERIALIZERS = {"plain": serialize_plain, "json": serialize_json, "xml": serialize_xml}


@dataclass
class Channel:
    """One call leg on the fake switch."""

    uuid: str
    caller: str = "1001"
    destination: str = "1002"
    variables: dict[str, str] = field(default_factory=dict)
    direction: str = "inbound"
    created_us: int = field(default_factory=lambda: int(time.time() * 1_000_000))
    answered_us: int = 0
    hangup_us: int = 0
    hangup_cause: str = ""
    #: the tutorial dialplan let the call go on (cgr_notify AUTH_OK at the transfer)
    routed: bool = False
    #: the dialplan context it was transferred to
    context: str = ""
    #: files played to it (uuid_broadcast, sched_broadcast)
    played: list[str] = field(default_factory=list)
    timers: list[asyncio.TimerHandle] = field(default_factory=list)

    def csv_row(self, hostname: str) -> dict[str, str]:
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created_us / 1e6))
        row = dict.fromkeys(CHANNEL_COLUMNS, "")
        row.update(uuid=self.uuid, direction=self.direction, created=created,
                   created_epoch=str(self.created_us // 1_000_000), name=f"sofia/internal/{self.caller}@127.0.0.1",
                   state="CS_EXECUTE", cid_name=self.caller, cid_num=self.caller, ip_addr="127.0.0.1",
                   dest=self.destination, application="park", dialplan="XML", context="default",
                   read_codec="PCMU", read_rate="8000", read_bit_rate="64000", write_codec="PCMU",
                   write_rate="8000", write_bit_rate="64000", hostname=hostname,
                   presence_id=f"{self.caller}@127.0.0.1", callstate="ACTIVE" if self.answered_us else "RINGING",
                   call_uuid=self.uuid, initial_cid_name=self.caller, initial_cid_num=self.caller,
                   initial_ip_addr="127.0.0.1", initial_dest=self.destination, initial_dialplan="XML",
                   initial_context="default")
        return row


@dataclass
class Session:
    """One client connection to the fake switch."""

    writer: asyncio.StreamWriter
    authed: bool = False
    format: str = "plain"
    events: set[str] = field(default_factory=set)
    custom: set[str] = field(default_factory=set)
    filters: list[tuple[str, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    sendmsgs: list[tuple[str, dict[str, str], str]] = field(default_factory=list)

    def wants(self, headers: dict[str, str]) -> bool:
        if not self.authed:
            return False
        name = headers.get("Event-Name", "")
        if "ALL" not in self.events and name not in self.events:
            return False
        if name == "CUSTOM" and "ALL" not in self.events and headers.get("Event-Subclass") not in self.custom:
            return False
        if not self.filters:
            return True
        return any(headers.get(h, "").lower() == v.lower() for h, v in self.filters if h in headers)

    def send(self, data: str | bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data.encode() if isinstance(data, str) else data)

    def reply(self, text: str) -> None:
        self.send(f"Content-Type: command/reply\nReply-Text: {text}\n\n")


class FreeSWITCHPeer:
    """A FreeSWITCH event socket on a loopback port (see the module docstring)."""

    def __init__(self, password: str = "ClueCon", *, host: str = "127.0.0.1", port: int = 0,
                 hostname: str = "fs-test", ipv4: str = "10.0.0.5") -> None:
        self.password = password
        self.host = host
        self.port = port
        self.hostname = hostname
        self.ipv4 = ipv4
        self.core_uuid = str(uuidlib.uuid4())
        self.channels: dict[str, Channel] = {}
        self.sessions: list[Session] = []
        self.accepted = 0
        self.api_log: list[str] = []
        #: seconds to wait before answering each command (a slow or stuck switch)
        self.answer_delay = 0.0
        self.api: dict[str, Callable[[str], str]] = {
            "status": lambda args: f"UP 0 years, 0 days\nFreeSWITCH ({self.hostname}) is ready\n",
            "show": self._api_show,
            "uuid_kill": self._api_uuid_kill,
            "uuid_setvar": self._api_uuid_setvar,
            "uuid_getvar": self._api_uuid_getvar,
            "uuid_transfer": self._api_uuid_transfer,
            "uuid_broadcast": self._api_uuid_broadcast,
            "sched_broadcast": self._api_sched_broadcast,
            "sched_hangup": self._api_sched_hangup,
        }
        self._server: asyncio.Server | None = None
        self._sequence = 1000
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # ---- life -----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every connection at once (no goodbye: a crash or a restart)."""
        if self._server is not None:
            self._server.close()
        for session in self.sessions:
            session.writer.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        self.sessions.clear()

    async def restart(self, downtime: float = 0.0) -> None:
        """A FreeSWITCH restart: connections drop, channels are gone, the port listens again after ``downtime``."""
        await self.stop()
        for channel in self.channels.values():
            _cancel(channel)
        self.channels.clear()
        self.core_uuid = str(uuidlib.uuid4())
        if downtime:
            await asyncio.sleep(downtime)
        await self.start()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` holds (checked after every command and connection)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    def drop_connections(self) -> None:
        """Close every event-socket connection (a network failure); the calls go on."""
        for session in self.sessions:
            session.writer.transport.abort()

    def authed_sessions(self) -> list[Session]:
        return [s for s in self.sessions if s.authed and not s.writer.is_closing()]

    # ---- channels and events --------------------------------------------------------------------------------

    def add_channel(self, caller: str = "1001", destination: str = "1002", **variables: str) -> Channel:
        channel = Channel(str(uuidlib.uuid4()), caller, destination, dict(variables))
        self.channels[channel.uuid] = channel
        return channel

    def emit(self, headers: dict[str, str], body: str = "") -> int:
        """Send an event to every connection subscribed to it and passing its filters; how many got it."""
        sent = 0
        for session in self.authed_sessions():
            if session.wants(headers):
                text = SERIALIZERS[session.format](headers, body)
                session.send(f"Content-Length: {len(text.encode())}\nContent-Type: text/event-{session.format}\n\n")
                session.send(text)
                sent += 1
        return sent

    def send_raw(self, data: bytes) -> None:
        for session in self.authed_sessions():
            session.send(data)

    def park(self, channel: Channel) -> int:
        return self.emit(self.channel_headers("CHANNEL_PARK", channel))

    def answer(self, channel: Channel) -> int:
        channel.answered_us = int(time.time() * 1_000_000)
        app, _, arg = channel.variables.get("execute_on_answer", "").partition(" ")
        if app in ("sched_hangup", "sched_transfer", "sched_broadcast") and arg.startswith("+"):
            delay, _, rest = arg[1:].partition(" ")
            if app == "sched_hangup":
                self._later(channel, float(delay), lambda: self.hangup(channel, rest.upper() or "ALLOTTED_TIMEOUT"))
            elif app == "sched_transfer":
                self._later(channel, float(delay), lambda: self._transfer(channel, rest.split()))
            else:
                self._later(channel, float(delay), lambda: self._play(channel, rest.split()[0]))
        return self.emit(self.channel_headers("CHANNEL_ANSWER", channel))

    def hangup(self, channel: Channel, cause: str = "NORMAL_CLEARING") -> int:
        if self.channels.pop(channel.uuid, None) is None:
            return 0  # hung up already
        _cancel(channel)
        channel.hangup_us = int(time.time() * 1_000_000)
        channel.hangup_cause = cause
        return self.emit(self.channel_headers("CHANNEL_HANGUP_COMPLETE", channel))

    def json_cdr(self, channel: Channel) -> dict:
        """The CDR mod_json_cdr posts for a channel that hung up: its variables (``*_uepoch`` microseconds)."""
        billsec = (channel.hangup_us - channel.answered_us) // 1_000_000 if channel.answered_us else 0
        variables = {
            "uuid": channel.uuid, "direction": channel.direction, "user_name": channel.caller,
            "destination_number": channel.destination, "dialed_extension": channel.destination,
            "start_uepoch": str(channel.created_us), "answer_uepoch": str(channel.answered_us),
            "end_uepoch": str(channel.hangup_us), "billsec": str(billsec),
            "duration": str((channel.hangup_us - channel.created_us) // 1_000_000),
            "hangup_cause": channel.hangup_cause, **channel.variables,
        }
        return {"core-uuid": self.core_uuid, "switchname": self.hostname,
                "channel_data": {"state": "CS_REPORTING", "direction": channel.direction},
                "variables": variables,
                "callflow": [{"caller_profile": {"uuid": channel.uuid, "username": channel.caller,
                                                 "destination_number": channel.destination}}]}

    def _later(self, channel: Channel, delay: float, action: Callable[[], object]) -> None:
        channel.timers.append(asyncio.get_running_loop().call_later(delay, action))

    def _transfer(self, channel: Channel, words: list[str]) -> None:
        """``<destination> [XML <context>]``, through the tutorial dialplan."""
        if len(words) >= 3 and words[1] == "XML":
            channel.context = words[2]
            return
        notify = channel.variables.get("cgr_notify", "")
        if notify == "AUTH_OK":
            channel.routed = True
        else:
            self.hangup(channel, "OUTGOING_CALL_BARRED" if notify == "INSUFFICIENT_CREDIT"
                        else "NORMAL_TEMPORARY_FAILURE")

    def event_headers(self, name: str, calling: tuple[str, str, int]) -> dict[str, str]:
        """The headers FreeSWITCH puts on every event."""
        now = time.time()
        self._sequence += 1
        return {
            "Event-Name": name,
            "Core-UUID": self.core_uuid,
            "FreeSWITCH-Hostname": self.hostname,
            "FreeSWITCH-Switchname": self.hostname,
            "FreeSWITCH-IPv4": self.ipv4,
            "FreeSWITCH-IPv6": "::1",
            "Event-Date-Local": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
            "Event-Date-GMT": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)),
            "Event-Date-Timestamp": str(int(now * 1_000_000)),
            "Event-Calling-File": calling[0],
            "Event-Calling-Function": calling[1],
            "Event-Calling-Line-Number": str(calling[2]),
            "Event-Sequence": str(self._sequence),
        }

    def channel_headers(self, name: str, ch: Channel) -> dict[str, str]:
        """A channel event as FreeSWITCH 1.10 sends it (the header names CGRateS's fsevent.go reads included)."""
        answered = ch.answered_us > 0
        state, call_state, answer_state, state_number, calling = {
            "CHANNEL_PARK": ("CS_EXECUTE", "RINGING", "ringing", "4", ("switch_ivr.c", "switch_ivr_park", 993)),
            "CHANNEL_ANSWER": ("CS_EXECUTE", "ACTIVE", "answered", "4",
                               ("switch_channel.c", "switch_channel_perform_mark_answered", 3916)),
            "CHANNEL_HANGUP_COMPLETE": ("CS_REPORTING", "HANGUP", "hangup", "11",
                                        ("switch_core_state_machine.c", "switch_core_session_reporting_state", 947)),
        }[name]
        headers = self.event_headers(name, calling)
        headers.update({
            "Channel-State": state,
            "Channel-Call-State": call_state,
            "Channel-State-Number": state_number,
            "Channel-Name": f"sofia/internal/{ch.caller}@127.0.0.1",
            "Unique-ID": ch.uuid,
            "Call-Direction": ch.direction,
            "Presence-Call-Direction": ch.direction,
            "Channel-HIT-Dialplan": "true",
            "Channel-Call-UUID": ch.uuid,
            "Answer-State": answer_state,
        })
        if ch.hangup_cause:
            headers["Hangup-Cause"] = ch.hangup_cause
        headers.update({
            "Caller-Direction": ch.direction,
            "Caller-Logical-Direction": ch.direction,
            "Caller-Username": ch.caller,
            "Caller-Dialplan": "XML",
            "Caller-Caller-ID-Name": ch.caller,
            "Caller-Caller-ID-Number": ch.caller,
            "Caller-Orig-Caller-ID-Name": ch.caller,
            "Caller-Orig-Caller-ID-Number": ch.caller,
            "Caller-Network-Addr": "127.0.0.1",
            "Caller-ANI": ch.caller,
            "Caller-Destination-Number": ch.destination,
            "Caller-Unique-ID": ch.uuid,
            "Caller-Source": "mod_sofia",
            "Caller-Context": "default",
            "Caller-Channel-Name": f"sofia/internal/{ch.caller}@127.0.0.1",
            "Caller-Profile-Index": "1",
            "Caller-Profile-Created-Time": str(ch.created_us),
            "Caller-Channel-Created-Time": str(ch.created_us),
            "Caller-Channel-Answered-Time": str(ch.answered_us),
            "Caller-Channel-Progress-Time": "0",
            "Caller-Channel-Progress-Media-Time": str(ch.created_us + 20_000 if answered else 0),
            "Caller-Channel-Hangup-Time": str(ch.hangup_us),
            "Caller-Channel-Transfer-Time": "0",
            "Caller-Screen-Bit": "true",
            "Caller-Privacy-Hide-Name": "false",
            "Caller-Privacy-Hide-Number": "false",
            "variable_direction": ch.direction,
            "variable_uuid": ch.uuid,
            "variable_call_uuid": ch.uuid,
            "variable_sip_from_user": ch.caller,
            "variable_sip_to_user": ch.destination,
            "variable_sip_req_user": ch.destination,
            "variable_sip_call_id": f"{ch.uuid}@127.0.0.1",
            "variable_sip_user_agent": "sipp (test)",
        })
        if name == "CHANNEL_HANGUP_COMPLETE":
            billsec = (ch.hangup_us - ch.answered_us) // 1_000_000 if answered else 0
            headers.update({
                "variable_hangup_cause": ch.hangup_cause,
                "variable_answer_epoch": str(ch.answered_us // 1_000_000),
                "variable_billsec": str(billsec),
                "variable_duration": str((ch.hangup_us - ch.created_us) // 1_000_000),
                "variable_progress_mediamsec": "20" if answered else "0",
                "variable_progressmsec": "0",
            })
        headers.update({f"variable_{k}": v for k, v in ch.variables.items()})
        return headers

    # ---- the socket -----------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(writer)
        self.sessions.append(session)
        self.accepted += 1
        await self._notify()
        session.send("Content-Type: auth/request\n\n")
        try:
            while not writer.is_closing():
                block = await reader.readuntil(b"\n\n")
                lines = block.decode().strip("\n").split("\n")
                command, headers = lines[0].strip(), dict(_header(line) for line in lines[1:] if ":" in line)
                body = ""
                if "Content-Length" in headers:
                    body = (await reader.readexactly(int(headers["Content-Length"]))).decode()
                session.commands.append(command)
                if self.answer_delay:
                    await asyncio.sleep(self.answer_delay)
                keep = self._command(session, command, headers, body)
                await writer.drain()
                await self._notify()
                if not keep:
                    session.send(f"Content-Type: text/disconnect-notice\nContent-Length: {len(GOODBYE)}\n\n{GOODBYE}")
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _command(self, s: Session, command: str, headers: dict[str, str], body: str) -> bool:
        """Answer one command; False closes the connection."""
        word, _, args = command.partition(" ")
        word = word.lower()
        if word in ("exit", "..."):
            s.reply("+OK bye")
            return False
        if not s.authed:
            if word != "auth":
                s.reply("-ERR command not found")
                return True
            if args != self.password:
                s.reply("-ERR invalid")
                return False
            s.authed = True
            s.reply("+OK accepted")
            return True
        if word == "event":
            return self._subscribe(s, args)
        if word == "filter":
            header, _, value = args.strip().partition(" ")
            if not value:
                s.reply("-ERR invalid syntax")
            elif header.lower() == "delete":
                h, _, v = value.partition(" ")
                s.filters = [] if h.lower() == "all" else [f for f in s.filters if f != (h, v)]
                s.reply(f"+OK filter deleted. [{h}][{v}]")
            else:
                s.filters.append((header, value))
                s.reply(f"+OK filter added. [{header}]=[{value}]")
            return True
        if word in ("noevents", "nixevent"):
            s.events.clear()
            s.reply("+OK no longer listening for events" if word == "noevents" else "+OK events nixed")
            return True
        if word == "api":
            out = self._run_api(args.strip()) or "-ERR no reply\n"
            s.send(f"Content-Type: api/response\nContent-Length: {len(out.encode())}\n\n{out}")
            return True
        if word == "bgapi":
            job = headers.get("Job-UUID") or str(uuidlib.uuid4())
            s.send(f"Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job}\nJob-UUID: {job}\n\n")
            task = asyncio.get_running_loop().create_task(self._background_job(args.strip(), job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return True
        if word == "sendmsg":
            return self._sendmsg(s, args.strip(), headers, body)
        s.reply("-ERR command not found")
        return True

    def _subscribe(self, s: Session, args: str) -> bool:
        words = args.split()
        if words and words[0].lower() in SERIALIZERS:
            s.format = words.pop(0).lower()
        if not words:
            s.reply("-ERR no keywords supplied")
            return True
        custom = False
        for w in words:
            if custom:
                s.custom.add(w)
            elif w.upper() == "CUSTOM":
                custom = True
                s.events.add("CUSTOM")
            else:
                s.events.add(w.upper() if w.upper() == "ALL" else w)
        s.reply(f"+OK event listener enabled {s.format}")
        return True

    def _sendmsg(self, s: Session, uuid: str, headers: dict[str, str], body: str) -> bool:
        channel = self.channels.get(uuid)
        if channel is None:
            s.reply(f"-ERR invalid session id [{uuid}]")
            return True
        s.sendmsgs.append((uuid, headers, body))
        if headers.get("call-command") == "hangup":
            self.hangup(channel, headers.get("hangup-cause") or "NORMAL_CLEARING")
        s.reply("+OK")
        return True

    async def _background_job(self, command: str, job: str) -> None:
        await asyncio.sleep(0.01)
        out = self._run_api(command) or "-ERR no reply\n"
        cmd, _, arg = command.partition(" ")
        headers = self.event_headers("BACKGROUND_JOB", ("mod_event_socket.c", "api_exec", 1572))
        headers.update({"Job-UUID": job, "Job-Command": cmd})
        if arg:
            headers["Job-Command-Arg"] = arg
        self.emit(headers, out)

    # ---- api commands ---------------------------------------------------------------------------------------

    def _run_api(self, command: str) -> str:
        self.api_log.append(command)
        word, _, args = command.partition(" ")
        handler = self.api.get(word)
        if handler is None:
            return f"-ERR {word} Command not found!\n"
        return handler(args.strip())

    def _api_show(self, args: str) -> str:
        words = args.split()
        if not words or words[0] != "channels":
            return "-USAGE: show channels\n"
        rows = [c.csv_row(self.hostname) for c in self.channels.values()]
        if words[1:3] == ["as", "json"]:
            if not rows:
                return '{"row_count": 0}\n'
            return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))
        delim = words[3] if words[1:3] == ["as", "delim"] and len(words) > 3 else ","
        if not rows:
            return "\n0 total.\n"
        lines = [delim.join(CHANNEL_COLUMNS)] + [delim.join(r[c] for c in CHANNEL_COLUMNS) for r in rows]
        return "\n".join(lines) + f"\n\n{len(rows)} total.\n"

    def _api_uuid_kill(self, args: str) -> str:
        if not args:
            return "-USAGE: <uuid> [cause]\n"
        uuid, _, cause = args.partition(" ")
        channel = self.channels.get(uuid)
        if channel is None:
            return "-ERR No such channel!\n"
        self.hangup(channel, cause or "NORMAL_CLEARING")
        return "+OK\n"

    def _api_uuid_setvar(self, args: str) -> str:
        parts = args.split(" ", 2)
        if len(parts) < 2:
            return "-USAGE: <uuid> <var> [value]\n"
        channel = self.channels.get(parts[0])
        if channel is None:
            return "-ERR No such channel!\n"
        channel.variables[parts[1]] = parts[2] if len(parts) > 2 else ""
        return "+OK\n"

    def _api_uuid_getvar(self, args: str) -> str:
        parts = args.split(" ", 1)
        channel = self.channels.get(parts[0])
        if channel is None:
            return "-ERR No such channel!\n"
        return channel.variables.get(parts[1] if len(parts) > 1 else "", "_undef_")

    def _api_uuid_transfer(self, args: str) -> str:
        words = args.split()
        if len(words) < 2:
            return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        channel = self.channels.get(words[0])
        if channel is None:
            return "-ERR No such channel!\n"
        self._transfer(channel, words[1:])
        return "+OK\n"

    def _api_uuid_broadcast(self, args: str) -> str:
        words = args.split()
        if len(words) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
        channel = self.channels.get(words[0])
        if channel is None:
            return "-ERR No such channel!\n"
        self._play(channel, words[1])
        return "+OK Message sent\n"

    def _api_sched_broadcast(self, args: str) -> str:
        words = args.split()
        if len(words) < 3 or not words[0].startswith("+"):
            return "-USAGE: [[+]<time>|@time] <uuid> <path> [aleg|bleg|both]\n"
        channel = self.channels.get(words[1])
        if channel is None:
            return "-ERR No such channel!\n"
        self._later(channel, float(words[0][1:]), lambda: self._play(channel, words[2]))
        return "+OK\n"

    def _play(self, channel: Channel, path: str) -> None:
        """``playback::file``, or ``playback!cause::file``: played, then the channel hung up with the cause."""
        app, _, file = path.partition("::")
        channel.played.append(file)
        if "!" in app:
            self.hangup(channel, app.partition("!")[2].upper())

    def _api_sched_hangup(self, args: str) -> str:
        parts = args.split()
        if len(parts) < 2 or not parts[0].startswith("+"):
            return "-USAGE: [+]<time> <uuid> [<cause>]\n"
        channel = self.channels.get(parts[1])
        if channel is None:
            return "-ERR No such channel!\n"
        cause = parts[2].upper() if len(parts) > 2 else "ALLOTTED_TIMEOUT"
        self._later(channel, float(parts[0][1:]), lambda: self.hangup(channel, cause))
        return "+OK\n"


def _cancel(channel: Channel) -> None:
    for timer in channel.timers:
        timer.cancel()
    channel.timers.clear()


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()
