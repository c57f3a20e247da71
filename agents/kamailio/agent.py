"""The Kamailio agent (CGRateS's kamailio_agent): calls through Kamailio charged through SessionS over evapi.

The agent dials every ``evapi_conns`` entry (:mod:`agents.switch`: kept up across Kamailio restarts, the sessions
of a connection re-synced when it comes back) and takes the framing Kamailio's evapi module is configured with
(netstrings or bare JSON) from the first message Kamailio sends (``netstring_format`` in an entry fixes it), and
answers the events of Kamailio's script (:mod:`.event` builds their CGREvents, the SessionS
subsystems from their ``cgr_flags``):

- **CGR_AUTH_REQUEST** (the script suspended the INVITE's transaction, ``evapi_async_relay``):
  ``SessionSv1.AuthorizeEvent``, answered with the event the request's ``reply_route`` names (CGR_AUTH_REPLY by
  default): TransactionIndex/Label to resume it, MaxUsage in seconds, the Attributes, ResourceAllocation, Routes,
  Thresholds and StatQueues asked for, or the Error.
- **CGR_CALL_START** (the dialog started): ``SessionSv1.InitiateSession``; a call lacking a mandatory field, or
  refused, is ended at once (CGR_SESSION_DISCONNECT).
- **CGR_CALL_END**: ``SessionSv1.TerminateSession``, then ``SessionSv1.ProcessCDR`` with ``create_cdr`` or a
  ``*cdrs`` flag.
- **CGR_PROCESS_MESSAGE** (CGR_PROCESS_EVENT in older scripts): ``SessionSv1.ProcessMessage``, answered as an
  authorization; without ``cgr_flags`` it is a ping, answered empty. **CGR_PROCESS_CDR**: ``SessionSv1.ProcessCDR``,
  answered with its error, if any.

SessionS's back-calls: ``AgentV1.DisconnectSession`` sends CGR_SESSION_DISCONNECT with the dialog's hash entry
and id (from the session's CGR_CALL_START), the script ends the dialog (BYE both ways); ``AgentV1.
GetActiveSessionIDs`` asks every Kamailio for its dialogs (CGR_DLG_LIST, answered by CGR_DLG_LIST_REPLY).
Malformed events (an unknown name, no transaction to answer, no dialog to end) are skipped with a log line naming
the connection (rate-limited).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pycgrates.agents.base import AgentSettings, BackCall
from pycgrates.agents.processors import PROCESS_CDR, reply_map
from pycgrates.agents.reconnect import ConnectionLost, ReconnectingClient
from pycgrates.agents.switch import SwitchAgent, SwitchConn, SwitchSettings, first, session_call
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing, server_error
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.units import SECOND, DurationError, TimeError, parse_duration

from .client import EvapiClient
from .evapi import (
    CGR_AUTH_REPLY,
    CGR_AUTH_REQUEST,
    CGR_CALL_END,
    CGR_CALL_START,
    CGR_DLG_LIST_REPLY,
    CGR_PROCESS_CDR,
    CGR_PROCESS_EVENT,
    CGR_PROCESS_MESSAGE,
    HASH_ENTRY,
    HASH_ID,
    TR_INDEX,
    TR_LABEL,
    EvapiEvent,
    dlg_list_request,
    parse_dlg_list_reply,
    session_disconnect,
)
from .event import EVAPI_CONN_ID, META_NONE, KamDefaults, KamEvent

if TYPE_CHECKING:
    from pycgrates.engine.config import Config

log = logging.getLogger("cgr.agents.kamailio")

AGENT = "KamailioAgent"
SECTION = "kamailio_agent"
#: events that open a transaction the script waits on: without its index and label nothing can be answered
_TRANSACTIONS = (CGR_AUTH_REQUEST, CGR_PROCESS_MESSAGE, CGR_PROCESS_EVENT, CGR_PROCESS_CDR)


@dataclass(slots=True, kw_only=True)
class KamailioSettings(SwitchSettings):
    #: how long a dialog list may take (the general reply_timeout)
    dlg_list_timeout: float = 2.0


class KamailioAgent(SwitchAgent[KamailioSettings]):
    """Kamailio's evapi events in front of SessionS (see the module docstring)."""

    name = AGENT
    section = SECTION
    conns_option = "evapi_conns"
    conn_id_field = EVAPI_CONN_ID

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        #: the dialog lists asked of each connection (by index), answered in order
        self._dlg_lists: dict[int, deque[asyncio.Future[EvapiEvent]]] = {}

    # ------------------------------------------------------------------------------------------ config, connections

    def configure(self, cfg: Config, section: Mapping[str, Any], common: AgentSettings) -> KamailioSettings:
        try:
            timeout = parse_duration(cfg.get("general", "reply_timeout", default="2s") or "2s") / SECOND
        except DurationError:
            timeout = 2.0
        settings = self.switch_settings(cfg, section, common, KamailioSettings, dlg_list_timeout=timeout or 2.0)
        settings.timezone = first(section.get("timezone"), common.timezone)  # the timezone of Kamailio's times
        return settings

    def connect(self, conn: SwitchConn, settings: KamailioSettings) -> ReconnectingClient:
        framing = conn.option("netstring_format")
        return EvapiClient(conn.address, alias=conn.alias, netstring_format=None if framing is None else bool(framing),
                           backoff=conn.backoff, on_event=lambda client, event: self._on_event(conn, client, event),
                           on_reconnect=self.on_reconnected)

    async def switch_calls(self, client: Any, conn: SwitchConn) -> dict[str, str]:
        waiting = self._dlg_lists.setdefault(conn.index, deque())
        reply: asyncio.Future[EvapiEvent] = asyncio.get_running_loop().create_future()
        waiting.append(reply)
        try:
            await client.send(dlg_list_request())
            event = await asyncio.wait_for(asyncio.shield(reply), self.settings.dlg_list_timeout)
        except TimeoutError:
            raise TimeoutError(f"no CGR_DLG_LIST_REPLY within {self.settings.dlg_list_timeout}s") from None
        finally:
            if reply in waiting:
                waiting.remove(reply)
        return {dialog.origin_id: dialog.origin_host for dialog in parse_dlg_list_reply(event, "")}

    # ------------------------------------------------------------------------------------------ events

    def _on_event(self, conn: SwitchConn, client: EvapiClient, event: EvapiEvent) -> None:
        """An event off the wire: checked and its CGREvent built here, answered in its call's turn."""
        if event.name == CGR_DLG_LIST_REPLY:
            waiting = self._dlg_lists.get(conn.index)
            if waiting:
                reply = waiting.popleft()
                if not reply.done():
                    reply.set_result(event)
            return
        handler = {CGR_AUTH_REQUEST: self._authorize, CGR_CALL_START: self._initiate, CGR_CALL_END: self._terminate,
                   CGR_PROCESS_MESSAGE: self._process_message, CGR_PROCESS_EVENT: self._process_message,
                   CGR_PROCESS_CDR: self._process_cdr}.get(event.name)
        if handler is None:
            client.bad_input("event", f"unknown event {event.name[:60]!r}")
            return
        s = self.settings
        kev = KamEvent(event, KamDefaults(tenant=s.tenant, request_type=s.default_request_type, timezone=s.timezone,
                                          origin_host=conn.origin_host))
        if event.name in _TRANSACTIONS:
            if not kev.get(TR_INDEX) or not kev.get(TR_LABEL):
                client.bad_input("event", f"{event.name} without {TR_INDEX} and {TR_LABEL} to answer")
                return
            key = f"{kev.get(TR_INDEX)}:{kev.get(TR_LABEL)}"
        else:
            key = kev.get("OriginID")
            if event.name == CGR_CALL_START and not (kev.get(HASH_ENTRY) and kev.get(HASH_ID)):
                client.bad_input("event", f"{event.name} of {key[:60]!r} without {HASH_ENTRY} and {HASH_ID}")
                return
            if event.name == CGR_CALL_END and kev.missing_parameter():
                client.bad_input("event", f"{event.name} of {key[:60]!r} without {kev.missing_parameter()}")
                return
        if kev.request_type == META_NONE and event.name in (CGR_AUTH_REQUEST, CGR_CALL_START, CGR_CALL_END):
            return
        self.handle_call(conn, key, lambda: handler(conn, client, kev), event.name)

    async def _send(self, client: EvapiClient, message: Mapping[str, Any], what: str) -> None:
        try:
            await client.send(message)
        except ConnectionLost as exc:
            log.error("<%s> could not send %s to %s: %s", AGENT, what, client.name, exc)

    def _cgr_event(self, kev: KamEvent) -> tuple[dict[str, Any] | None, str]:
        try:
            return kev.cgr_event(), ""
        except TimeError as exc:
            return None, str(server_error(str(exc)))

    async def _authorize(self, conn: SwitchConn, client: EvapiClient, kev: KamEvent) -> None:
        """CGR_AUTH_REQUEST: AuthorizeEvent, answered to the suspended transaction."""
        cgr_event, error = self._cgr_event(kev)
        if cgr_event is None:
            await self._send(client, kev.reply(CGR_AUTH_REPLY, error=error), "the auth reply")
            return
        cgr_event["Event"][EVAPI_CONN_ID] = conn.index
        method, args, wants_max_usage = session_call("*authorize", kev.flags, cgr_event)
        reply, error = await self.ask_sessions(method, args)
        if error is not None:
            log.warning("<%s> authorization of %s from %s: %s", AGENT, kev.get("Account"), client.name, error)
            await self._send(client, kev.reply(CGR_AUTH_REPLY, error=error), "the auth reply")
            return
        cgrep = reply_map("*authorize", reply, wants_max_usage)
        await self._send(client, kev.reply(CGR_AUTH_REPLY, args, cgrep), "the auth reply")

    async def _initiate(self, conn: SwitchConn, client: EvapiClient, kev: KamEvent) -> None:
        """CGR_CALL_START: InitiateSession; the dialog is ended when it cannot be charged."""
        missing = kev.missing_parameter()
        cgr_event, error = self._cgr_event(kev)
        if missing or cgr_event is None:
            await self._end_dialog(client, kev.get(HASH_ENTRY), kev.get(HASH_ID),
                                   str(mandatory_ie_missing(missing)) if missing else error)
            return
        cgr_event["Event"][EVAPI_CONN_ID] = conn.index
        method, args, _ = session_call("*initiate", kev.flags, cgr_event)
        _, error = await self.ask_sessions(method, args)
        if error is not None:
            log.error("<%s> could not start the session of %s (%s): %s", AGENT, kev.get("OriginID"), client.name,
                      error)
            await self._end_dialog(client, kev.get(HASH_ENTRY), kev.get(HASH_ID), str(server_error(error)))
            return
        if args.get("InitSession"):
            self.session_started(conn, args)

    async def _terminate(self, conn: SwitchConn, client: EvapiClient, kev: KamEvent) -> None:
        """CGR_CALL_END: TerminateSession (always), the CDR with ``create_cdr`` or ``*cdrs``."""
        cgr_event, error = self._cgr_event(kev)
        if cgr_event is None:
            client.bad_input("event", f"{kev.name} of {kev.get('OriginID')[:60]!r}: {error}")
            return
        event = {**cgr_event, "Event": {**cgr_event["Event"], EVAPI_CONN_ID: conn.index}}
        method, args, _ = session_call("*terminate", kev.flags, event)
        _, error = await self.ask_sessions(method, {**args, "TerminateSession": True})
        if error is not None:
            log.error("<%s> could not terminate the session of %s (%s): %s", AGENT, kev.get("OriginID"),
                      client.name, error)
        self.session_ended(conn, cgr_event)
        if self.settings.create_cdr or "*cdrs" in (kev.flags or ""):
            _, error = await self.ask_sessions(PROCESS_CDR, cgr_event)
            if error is not None:
                log.error("<%s> CDR of %s (%s): %s", AGENT, kev.get("OriginID"), client.name, error)

    async def _process_message(self, conn: SwitchConn, client: EvapiClient, kev: KamEvent) -> None:
        """CGR_PROCESS_MESSAGE: ProcessMessage, answered like an authorization; without flags, a ping."""
        default = CGR_PROCESS_EVENT if kev.name == CGR_PROCESS_EVENT else CGR_PROCESS_MESSAGE
        if kev.flags is None:
            await self._send(client, kev.reply(default, {}, {}), "the empty reply")
            return
        missing = kev.missing_parameter()
        cgr_event, error = self._cgr_event(kev)
        if missing or cgr_event is None:
            error = str(mandatory_ie_missing(missing)) if missing else error
            await self._send(client, kev.reply(default, error=error), "the message reply")
            return
        cgr_event["Event"][EVAPI_CONN_ID] = conn.index
        method, args, wants_max_usage = session_call("*message", kev.flags, cgr_event, when_absent=())
        reply, error = await self.ask_sessions(method, args)
        if error is not None:
            await self._send(client, kev.reply(default, error=error), "the message reply")
            return
        await self._send(client, kev.reply(default, args, reply_map("*message", reply, wants_max_usage)),
                         "the message reply")

    async def _process_cdr(self, conn: SwitchConn, client: EvapiClient, kev: KamEvent) -> None:
        """CGR_PROCESS_CDR: ProcessCDR, answered with its error (empty when it went through)."""
        missing = kev.missing_parameter()
        cgr_event, error = self._cgr_event(kev)
        if not missing and cgr_event is not None:
            cgr_event["Event"][EVAPI_CONN_ID] = conn.index
            _, failed = await self.ask_sessions(PROCESS_CDR, cgr_event)
            error = failed or ""
        elif missing:
            error = str(mandatory_ie_missing(missing))
        await self._send(client, kev.reply(CGR_PROCESS_CDR, {}, {}, error=error), "the CDR reply")

    async def _end_dialog(self, client: EvapiClient, hash_entry: str, hash_id: str, reason: str) -> None:
        await self._send(client, session_disconnect(hash_entry, hash_id, reason), "the disconnect")

    # ------------------------------------------------------------------------------------------ AgentV1

    async def on_disconnect_session(self, call: BackCall) -> str:
        _, client = self.client_for(call)
        hash_entry, hash_id = as_string(call.event.get(HASH_ENTRY)), as_string(call.event.get(HASH_ID))
        if not hash_entry or not hash_id:
            raise mandatory_ie_missing(HASH_ENTRY if not hash_entry else HASH_ID)
        try:
            await client.send(session_disconnect(hash_entry, hash_id, as_string(call.event.get("DisconnectCause"))))
        except ConnectionLost as exc:
            raise RPCError(f"{AGENT}: disconnecting dialog {hash_entry}:{hash_id} on {client.name}: {exc}") from None
        return "OK"


__all__ = ["AGENT", "SECTION", "KamailioAgent", "KamailioSettings"]
