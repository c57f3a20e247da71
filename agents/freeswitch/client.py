"""An asyncio event-socket client (inbound mode): one connection to one FreeSWITCH, kept up across its restarts.

    client = ESLClient("127.0.0.1:8021", "ClueCon", events=["CHANNEL_PARK", "CHANNEL_ANSWER"],
                       filters=[("Call-Direction", "inbound")], on_event=handle, on_reconnect=resync)
    await client.start()                     # connect, auth, filters, subscription (raises when refused)
    out = await client.api("show channels")  # the api/response body; ESLCommandError on -ERR
    out = await client.bgapi("originate ...")  # waits for the BACKGROUND_JOB carrying our Job-UUID
    await client.hangup(uuid)                # sendmsg call-command: hangup
    await client.stop()

Commands are answered in the order they were sent, so each waits on a queue of reply futures; a command that
timed out keeps its place in the queue so the late reply is consumed by it rather than by the next command.
Events go to ``on_event(client, event)``; when it returns an awaitable, that runs as a supervised task, so a
handler can itself call :meth:`ESLClient.api` on this connection without stalling the reader. BACKGROUND_JOB is
always subscribed (and let through the filters) because :meth:`ESLClient.bgapi` needs it; the jobs we started are
consumed here, other events reach ``on_event``.

The password is sent once per connection and never logged. Reconnection with back-off, re-subscription and the
``on_reconnect`` callback come from :class:`~pycgrates.agents.reconnect.ReconnectingClient`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid as uuidlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pycgrates.agents.reconnect import Backoff, Callback, ConnectionLost, ReconnectingClient

from .esl import (
    API_RESPONSE,
    AUTH_REQUEST,
    BACKGROUND_JOB,
    COMMAND_REPLY,
    DISCONNECT_NOTICE,
    EVENT_CONTENT_TYPES,
    LOG_DATA,
    RUDE_REJECTION,
    ESLAuthError,
    ESLCommandError,
    ESLEvent,
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

log = logging.getLogger("cgr.agents.freeswitch")

EventCallback = Callable[["ESLClient", ESLEvent], Any]
Filters = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def _filter_pairs(filters: Filters) -> list[tuple[str, str]]:
    if isinstance(filters, Mapping):
        pairs = []
        for header, values in filters.items():
            for value in [values] if isinstance(values, str) else values:
                pairs.append((header, value))
        return pairs
    return [(h, v) for h, v in filters]


class ESLClient(ReconnectingClient):
    """One FreeSWITCH event-socket connection (see the module docstring)."""

    kind = "FreeSWITCH"
    protocol_errors = (ESLProtocolError,)

    def __init__(
        self,
        address: str,
        password: str,
        *,
        alias: str = "",
        events: Iterable[str] = (),
        filters: Filters = (),
        event_format: str = "plain",
        on_event: EventCallback | None = None,
        reply_timeout: float = 5.0,
        backoff: Backoff | None = None,
        connect_timeout: float = 3.0,
        on_reconnect: Callback | None = None,
        on_down: Callback | None = None,
    ) -> None:
        super().__init__(address, alias=alias, backoff=backoff, connect_timeout=connect_timeout,
                         handshake_timeout=max(reply_timeout, 1.0) * 3, on_reconnect=on_reconnect,
                         on_down=on_down)
        self._password = password
        self.events = list(events)
        self.filters = _filter_pairs(filters)
        if self.filters and ("Event-Name", BACKGROUND_JOB) not in self.filters:
            # filters add up: without this one a Call-Direction filter would also hide our bgapi results
            self.filters.append(("Event-Name", BACKGROUND_JOB))
        if self.events and "ALL" not in (e.upper() for e in self.events) and BACKGROUND_JOB not in self.events:
            self.events.append(BACKGROUND_JOB)
        self._subscription = event_command(self.events, event_format) if self.events else None
        self.event_format = event_format
        self.on_event = on_event
        self.reply_timeout = reply_timeout
        self._framer = ESLFramer()
        self._replies: deque[asyncio.Future[ESLMessage]] = deque()
        self._jobs: dict[str, asyncio.Future[ESLEvent]] = {}
        self._auth_request: asyncio.Future[None] | None = None
        self._dispatch = {
            AUTH_REQUEST: self._on_auth_request,
            COMMAND_REPLY: self._on_reply,
            API_RESPONSE: self._on_reply,
            DISCONNECT_NOTICE: self._on_disconnect_notice,
            RUDE_REJECTION: self._on_rude_rejection,
            LOG_DATA: _ignore,
            **dict.fromkeys(EVENT_CONTENT_TYPES, self._on_event),
        }

    @classmethod
    def from_config(cls, conn: Mapping[str, Any], **kwargs: Any) -> ESLClient:
        """From an ``event_socket_conns`` entry (address, password, reconnects, max_reconnect_interval, alias)."""
        address = str(conn.get("address") or "")
        if not address:
            raise ValueError("event_socket_conns: an entry has no address (host:port of FreeSWITCH's event socket)")
        kwargs.setdefault("backoff", Backoff.from_config(conn))
        return cls(address, str(conn.get("password") or ""), alias=str(conn.get("alias") or ""), **kwargs)

    # ---- commands -------------------------------------------------------------------------------------------

    async def api(self, command: str, timeout: float | None = None) -> str:
        """Run an api command; its output. ESLCommandError when FreeSWITCH answers -ERR/-USAGE."""
        self._require_connected()
        reply = await self._request(api_command(command), command, timeout)
        output = reply.text()
        if api_failed(output):
            raise ESLCommandError(command, output.strip())
        return output

    async def bgapi(self, command: str, timeout: float | None = None) -> str:
        """Run an api command in the background; its output, from the BACKGROUND_JOB event for our Job-UUID."""
        self._require_connected()
        job_uuid = str(uuidlib.uuid4())
        job: asyncio.Future[ESLEvent] = asyncio.get_running_loop().create_future()
        self._jobs[job_uuid] = job
        try:
            reply = await self._request(bgapi_command(command, job_uuid), command, timeout)
            if not reply.ok:
                raise ESLCommandError(command, reply.reply_text)
            event = await self._wait(job, command, timeout)
        finally:
            self._jobs.pop(job_uuid, None)
        if api_failed(event.body):
            raise ESLCommandError(command, event.body.strip())
        return event.body

    async def sendmsg(self, uuid: str, headers: Mapping[str, str] | Iterable[tuple[str, str]],
                      body: str | None = None, timeout: float | None = None) -> str:
        """``sendmsg`` to a channel; the reply text (+OK ...). ESLCommandError on -ERR."""
        return await self._checked(sendmsg_command(uuid, headers, body), f"sendmsg {uuid}", timeout)

    async def execute(self, uuid: str, app: str, arg: str = "", timeout: float | None = None) -> str:
        """Execute a dialplan application on a channel (``playback``, ``transfer``, ...)."""
        return await self._checked(execute_command(uuid, app, arg), f"execute {app} on {uuid}", timeout)

    async def hangup(self, uuid: str, cause: str = "MANAGER_REQUEST", timeout: float | None = None) -> str:
        """Hang a channel up with a hangup cause."""
        return await self._checked(hangup_command(uuid, cause), f"hangup {uuid}", timeout)

    async def command(self, line: str, timeout: float | None = None) -> str:
        """Any one-line command answered by a command/reply (``filter``, ``nixevent``, ``log``, ...)."""
        if "\n" in line or "\r" in line:
            raise ValueError(f"ESL command must be one line: {line[:60]!r}")
        return await self._checked(f"{line}\n\n".encode(), line.split(" ", 1)[0], timeout)

    async def _checked(self, data: bytes, what: str, timeout: float | None) -> str:
        self._require_connected()
        reply = await self._request(data, what, timeout)
        if not reply.ok:
            raise ESLCommandError(what, reply.reply_text or reply.text().strip())
        return reply.reply_text

    async def _request(self, data: bytes, what: str, timeout: float | None) -> ESLMessage:
        fut: asyncio.Future[ESLMessage] = asyncio.get_running_loop().create_future()
        self._write(data)             # write and enqueue without a pause in between: replies come in send order
        self._replies.append(fut)
        await self._drain()
        return await self._wait(fut, what, timeout)

    async def _wait(self, fut: asyncio.Future[Any], what: str, timeout: float | None) -> Any:
        limit = self.reply_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(fut, limit)
        except TimeoutError:
            raise TimeoutError(f"{self.name}: no answer to {what.split(' ', 1)[0]} within {limit}s") from None

    # ---- the connection -------------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._framer = ESLFramer()
        self._replies = deque()
        self._auth_request = asyncio.get_running_loop().create_future()

    async def _handshake(self) -> None:
        assert self._auth_request is not None
        await self._auth_request
        reply = await self._request(auth_command(self._password), "auth", None)
        if not reply.ok:
            raise ESLAuthError(f"{self.name}: FreeSWITCH refused the password ({reply.reply_text}); "
                               "check the password of this event_socket_conns entry")
        for header, value in self.filters:
            reply = await self._request(filter_command(header, value), "filter", None)
            if not reply.ok:
                raise ESLCommandError(f"filter {header} {value}", reply.reply_text)
        if self._subscription is not None:
            reply = await self._request(self._subscription, "event", None)
            if not reply.ok:
                raise ESLCommandError(self._subscription.decode().strip(), reply.reply_text)

    async def _goodbye(self) -> None:
        self._write(exit_command())
        await asyncio.wait_for(self._drain(), 1.0)

    def _data_received(self, data: bytes) -> None:
        self._framer.feed(data)
        for msg in self._framer:
            handler = self._dispatch.get(msg.content_type)
            if handler is None:
                self.bad_input("message", ESLProtocolError(f"unknown Content-Type {msg.content_type!r}"))
                continue
            handler(msg)

    def _connection_lost(self, exc: BaseException | None) -> None:
        lost = ConnectionLost(f"{self.name}: connection lost" + (f" ({exc})" if exc else ""))
        waiting = [*self._replies, *self._jobs.values()]
        if self._auth_request is not None:
            waiting.append(self._auth_request)
        for fut in waiting:
            if not fut.done():
                fut.set_exception(lost)
                fut.exception()  # retrieved: a timed-out caller may no longer be listening
        self._replies.clear()

    # ---- what FreeSWITCH sends ------------------------------------------------------------------------------

    def _on_auth_request(self, msg: ESLMessage) -> None:
        if self._auth_request is not None and not self._auth_request.done():
            self._auth_request.set_result(None)

    def _on_reply(self, msg: ESLMessage) -> None:
        if self._replies:
            fut = self._replies.popleft()
            if not fut.done():        # a command that timed out (cancelled) still consumes its reply
                fut.set_result(msg)
            return
        self.bad_input("reply", ESLProtocolError(f"{msg.content_type} with no command waiting"))

    def _on_event(self, msg: ESLMessage) -> None:
        try:
            event = parse_event(msg)
        except ESLEventError as exc:
            self.bad_input("event", exc)
            return
        if event.name == BACKGROUND_JOB:
            job = self._jobs.get(event.get("Job-UUID"))
            if job is not None:
                if not job.done():
                    job.set_result(event)
                return
        self._notify(self.on_event, self, event, what=f"event {event.name}")

    def _on_disconnect_notice(self, msg: ESLMessage) -> None:
        log.info("%s: FreeSWITCH says goodbye: %s", self.name, msg.text().strip().replace("\n", " "))

    def _on_rude_rejection(self, msg: ESLMessage) -> None:
        log.error("%s: FreeSWITCH rejected this address: %s (check the acl of its event_socket.conf)",
                  self.name, msg.text().strip())
        if self._auth_request is not None and not self._auth_request.done():
            self._auth_request.set_exception(ESLAuthError(f"{self.name}: {msg.text().strip()}"))


def _ignore(msg: ESLMessage) -> None:
    return None


__all__ = ["ESLClient", "EventCallback"]
