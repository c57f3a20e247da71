"""The FreeSWITCH agent (CGRateS's freeswitch_agent): calls on FreeSWITCH's event socket charged through SessionS.

The agent dials every ``event_socket_conns`` entry (:mod:`agents.switch`: kept up across FreeSWITCH restarts, the
sessions of a connection re-synced when it comes back), subscribes to the channel events of inbound calls and
builds each call's CGREvent itself (:mod:`.event`), its SessionS subsystems from the channel's ``cgr_flags``:

- **CHANNEL_PARK** (``subscribe_park``: the dialplan parks each call until it is authorized):
  ``SessionSv1.AuthorizeEvent``; what it answers is written on the channel with ``uuid_setvar`` — the fields
  AttributeS altered, ``cgr_max_usage`` (seconds) with the hangup at the end of it armed for the answer
  (``execute_on_answer sched_hangup``; with ``empty_balance_context`` a ``sched_transfer`` there instead, with
  ``empty_balance_ann_file`` a ``sched_broadcast`` of it, played before the hangup), ``cgr_resource_allocation``,
  ``cgr_routes`` (``ARRAY::n|:route1|:route2``) — then ``cgr_notify`` is set to ``AUTH_OK`` and ``uuid_transfer``
  sends the call back to its destination in the dialplan. A refusal (an error, or no credit:
  ``INSUFFICIENT_CREDIT``) is set as ``cgr_notify`` instead, and the dialplan hangs the call up with the cause it
  chooses (tutorials/freeswitch).
- **CHANNEL_ANSWER**: ``cgr_originhost`` is set on the channel (its CDR then names the same call) and
  ``SessionSv1.InitiateSession`` starts the session; when it grants less than the park armed (or nothing was
  armed), ``sched_hangup`` ends the call after what it granted. A call lacking a mandatory field, or refused, is
  hung up with the reason as ``cgr_notify``.
- **CHANNEL_HANGUP_COMPLETE**: ``SessionSv1.TerminateSession`` (answered calls), then ``SessionSv1.ProcessCDR``
  with ``create_cdr``. FreeSWITCH's own JSON CDR of the call (mod_json_cdr posting to the engine's
  ``/freeswitch_json``) carries the same ``cgr_originhost`` and Unique-ID, so it names the same CDR and is refused
  as a duplicate: both can be on.

SessionS's back-calls: ``AgentV1.DisconnectSession`` sets ``cgr_notify`` to the reason and kills the channel
(``uuid_kill``); when the reason is INSUFFICIENT_CREDIT and ``empty_balance_context`` is set the call is
transferred there instead (or ``empty_balance_ann_file`` is played and the call hung up after it).
``AgentV1.WarnDisconnect`` plays ``low_balance_ann_file``. ``AgentV1.GetActiveSessionIDs`` lists every
FreeSWITCH's ``show channels`` (``active_session_delimiter``). Commands share the event connection (answered in
order, :class:`~agents.freeswitch.client.ESLClient`), so ``max_wait_connection`` (CGRateS's sender pool) has
nothing to wait for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pycgrates.agents.base import AgentSettings, BackCall
from pycgrates.agents.processors import PROCESS_CDR, reply_map
from pycgrates.agents.reconnect import ConnectionLost, ReconnectingClient
from pycgrates.agents.switch import (
    SwitchAgent,
    SwitchConn,
    SwitchSettings,
    first,
    routes_with_params,
    session_call,
)
from pycgrates.engine.rpc.errors import INSUFFICIENT_CREDIT, RPCError, mandatory_ie_missing
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.units import SECOND, DurationError, TimeError, parse_duration

from .channels import parse_show_channels
from .client import ESLClient
from .esl import ESLError, ESLEvent
from .event import (
    ANSWER,
    AUTH_OK,
    CALL_DEST_NR,
    CGR_MAX_USAGE,
    CGR_NOTIFY,
    CGR_ORIGIN_HOST,
    CGR_RESOURCE_ALLOCATION,
    CGR_ROUTES,
    FS_CONN_ID,
    HANGUP,
    META_NONE,
    PARK,
    ChannelEvent,
    EventDefaults,
    ExtraField,
    compile_extra_fields,
    fs_array,
)

if TYPE_CHECKING:
    from pycgrates.engine.config import Config

log = logging.getLogger("cgr.agents.freeswitch")

AGENT = "FreeSWITCHAgent"
SECTION = "freeswitch_agent"
#: FreeSWITCH's hangup cause for a call that used what it was allotted (CGRateS writes "alloted_timeout",
#: which FreeSWITCH does not know and replaces with NORMAL_CLEARING)
ALLOTTED_TIMEOUT = "ALLOTTED_TIMEOUT"
MANAGER_REQUEST = "MANAGER_REQUEST"
REPLY_TIMEOUT = 5.0
_COMMAND_ERRORS = (ESLError, ConnectionLost, TimeoutError, ValueError)


@dataclass(slots=True, kw_only=True)
class FreeSWITCHSettings(SwitchSettings):
    subscribe_park: bool = True
    extra_fields: tuple[ExtraField, ...] = ()
    low_balance_ann_file: str = ""
    empty_balance_context: str = ""
    empty_balance_ann_file: str = ""
    active_session_delimiter: str = ","


class FreeSWITCHAgent(SwitchAgent[FreeSWITCHSettings]):
    """FreeSWITCH's channel events in front of SessionS (see the module docstring)."""

    name = AGENT
    section = SECTION
    conns_option = "event_socket_conns"
    conn_id_field = FS_CONN_ID

    # ------------------------------------------------------------------------------------------ config, connections

    def configure(self, cfg: Config, section: Mapping[str, Any], common: AgentSettings) -> FreeSWITCHSettings:
        settings = self.switch_settings(
            cfg, section, common, FreeSWITCHSettings,
            subscribe_park=bool(section.get("subscribe_park", True)),
            extra_fields=compile_extra_fields(section.get("extra_fields") or [], f"{SECTION}.extra_fields",
                                              common.separator),
            low_balance_ann_file=str(section.get("low_balance_ann_file") or ""),
            empty_balance_context=str(section.get("empty_balance_context") or ""),
            empty_balance_ann_file=str(section.get("empty_balance_ann_file") or ""),
            active_session_delimiter=str(section.get("active_session_delimiter") or ","))
        # what is subscribed is part of each connection
        settings.listener_key = (settings.conns, settings.subscribe_park)
        return settings

    def connect(self, conn: SwitchConn, settings: FreeSWITCHSettings) -> ReconnectingClient:
        events = [ANSWER, HANGUP] + ([PARK] if settings.subscribe_park else [])
        try:
            reply_timeout = parse_duration(conn.option("reply_timeout") or 0) / SECOND or REPLY_TIMEOUT
        except DurationError:
            reply_timeout = REPLY_TIMEOUT
        return ESLClient(conn.address, str(conn.option("password") or ""), alias=conn.alias, events=events,
                         filters={"Call-Direction": "inbound"}, backoff=conn.backoff, reply_timeout=reply_timeout,
                         on_event=lambda client, event: self._on_event(conn, client, event),
                         on_reconnect=self.on_reconnected)

    async def switch_calls(self, client: Any, conn: SwitchConn) -> dict[str, str]:
        delimiter = self.settings.active_session_delimiter
        command = "show channels" if delimiter == "," else f"show channels as delim {delimiter}"
        output = await client.api(command)
        return {ch["uuid"]: "" for ch in parse_show_channels(output, delimiter) if ch.get("uuid")}

    # ------------------------------------------------------------------------------------------ events

    def _on_event(self, conn: SwitchConn, client: ESLClient, event: ESLEvent) -> None:
        """An event off the wire: checked and its CGREvent built here, charged in the call's turn."""
        s = self.settings
        handler = {PARK: self._authorize if s.subscribe_park else None, ANSWER: self._initiate,
                   HANGUP: self._terminate}.get(event.name)
        if handler is None:
            return
        ch = ChannelEvent(event.headers, EventDefaults(
            tenant=s.tenant, category=s.default_category, request_type=s.default_request_type,
            timezone=s.timezone, origin_host=conn.origin_host, extra_fields=s.extra_fields))
        if not ch.uuid:
            client.bad_input("event", f"{event.name} without Unique-ID")
            return
        if ch.request_type == META_NONE:
            return
        try:
            cgr_event = ch.cgr_event()
        except TimeError as exc:
            client.bad_input("event", f"{event.name} of channel {ch.uuid[:60]}: {exc}")
            return
        self.handle_call(conn, ch.uuid, lambda: handler(conn, client, ch, cgr_event), event.name)

    async def _authorize(self, conn: SwitchConn, client: ESLClient, ch: ChannelEvent, cgr_event: dict) -> None:
        """CHANNEL_PARK: authorize, write what SessionS answered on the channel, unpark."""
        uuid, destination = ch.uuid, ch.call_destination
        cgr_event["Event"]["Usage"] = self.settings.default_usage  # no billsec before the answer
        cgr_event["Event"][FS_CONN_ID] = conn.index
        method, args, wants_max_usage = session_call("*authorize", ch.flags, cgr_event)
        reply, error = await self.ask_sessions(method, args)
        if error is not None:
            log.error("<%s> could not authorize channel %s on %s: %s", AGENT, uuid, client.name, error)
            await self._unpark(client, uuid, destination, error)
            return
        rep = reply_map("*authorize", reply, wants_max_usage)
        try:
            for name, value in (rep.get("Attributes") or {}).items():
                await client.api(f"uuid_setvar {uuid} {name} {_one_line(value)}")
            if wants_max_usage:
                max_usage = rep.get("MaxUsage")
                if not max_usage:
                    await self._unpark(client, uuid, destination, INSUFFICIENT_CREDIT)
                    return
                await self._arm_max_usage(client, uuid, destination, int(max_usage))
            if rep.get("ResourceAllocation") is not None:
                await client.api(f"uuid_setvar {uuid} {CGR_RESOURCE_ALLOCATION} "
                                 f"{_one_line(rep['ResourceAllocation'])}")
            if rep.get("RouteProfiles") is not None:
                await client.api(f"uuid_setvar {uuid} {CGR_ROUTES} "
                                 f"{fs_array(routes_with_params(rep['RouteProfiles']))}")
        except _COMMAND_ERRORS as exc:
            log.warning("<%s> writing the authorization on channel %s (%s): %s", AGENT, uuid, client.name, exc)
            await self._unpark(client, uuid, destination, str(exc))
            return
        await self._unpark(client, uuid, destination, AUTH_OK)

    async def _arm_max_usage(self, client: ESLClient, uuid: str, destination: str, max_usage: int) -> None:
        """``cgr_max_usage`` on the channel and what ends the call once it is used (from the answer on)."""
        if max_usage < 0:  # unlimited
            return
        s = self.settings
        seconds = max_usage // SECOND
        try:
            await client.api(f"uuid_setvar {uuid} {CGR_MAX_USAGE} {seconds}")
            if s.empty_balance_context:
                await client.api(f"uuid_setvar {uuid} execute_on_answer sched_transfer +{seconds} {destination} "
                                 f"XML {s.empty_balance_context}")
            elif s.empty_balance_ann_file:
                # from the answer, as the hangup and the transfer are (CGRateS schedules it from the park, so the
                # ringing time came off the call)
                await client.api(f"uuid_setvar {uuid} execute_on_answer sched_broadcast +{seconds} "
                                 f"playback!{MANAGER_REQUEST.lower()}::{s.empty_balance_ann_file} aleg")
            else:
                await client.api(f"uuid_setvar {uuid} execute_on_answer sched_hangup +{seconds} {ALLOTTED_TIMEOUT}")
        except _COMMAND_ERRORS as exc:
            log.error("<%s> could not arm the end of channel %s after %ss (%s): %s", AGENT, uuid, seconds,
                      client.name, exc)

    async def _unpark(self, client: ESLClient, uuid: str, destination: str, notify: str) -> None:
        """``cgr_notify`` on the channel, then back into the dialplan at its destination."""
        try:
            await client.api(f"uuid_setvar {uuid} {CGR_NOTIFY} {_one_line(notify)}")
            await client.api(f"uuid_transfer {uuid} {destination}")
        except _COMMAND_ERRORS as exc:
            log.error("<%s> could not unpark channel %s (%s): %s", AGENT, uuid, client.name, exc)

    async def _initiate(self, conn: SwitchConn, client: ESLClient, ch: ChannelEvent, cgr_event: dict) -> None:
        """CHANNEL_ANSWER: the session starts (and the call ends when what SessionS granted is used)."""
        uuid = ch.uuid
        try:
            await client.api(f"uuid_setvar {uuid} {CGR_ORIGIN_HOST} {ch.origin_host}")
        except _COMMAND_ERRORS as exc:
            log.error("<%s> setting %s on channel %s (%s): %s", AGENT, CGR_ORIGIN_HOST, uuid, client.name, exc)
            return
        missing = ch.missing_parameter()
        if missing:
            await self._hang_up(client, uuid, "", str(mandatory_ie_missing(missing)))
            return
        cgr_event["Event"][FS_CONN_ID] = conn.index
        method, args, wants_max_usage = session_call("*initiate", ch.flags, cgr_event)
        reply, error = await self.ask_sessions(method, args)
        if error is not None:
            log.error("<%s> could not start the session of channel %s (%s): %s", AGENT, uuid, client.name, error)
            await self._hang_up(client, uuid, "", error)
            return
        if args.get("InitSession"):
            self.session_started(conn, args)
        max_usage = reply_map("*initiate", reply, wants_max_usage).get("MaxUsage")
        s = self.settings
        if max_usage is None or s.empty_balance_context or s.empty_balance_ann_file:
            return
        seconds = int(max_usage) // SECOND
        armed = ch.var(CGR_MAX_USAGE)
        if seconds >= 1 and not (armed.isdigit() and int(armed) <= seconds):
            try:
                await client.api(f"sched_hangup +{seconds} {uuid} {ALLOTTED_TIMEOUT}")
            except _COMMAND_ERRORS as exc:
                log.error("<%s> could not schedule the hangup of channel %s (%s): %s", AGENT, uuid, client.name,
                          exc)

    async def _terminate(self, conn: SwitchConn, client: ESLClient, ch: ChannelEvent, cgr_event: dict) -> None:
        """CHANNEL_HANGUP_COMPLETE: the session ends (answered calls); the CDR with ``create_cdr``."""
        if ch.answered:
            event = {**cgr_event, "Event": {**cgr_event["Event"], FS_CONN_ID: conn.index}}
            method, args, _ = session_call("*terminate", ch.flags, event)
            _, error = await self.ask_sessions(method, args)
            if error is not None:
                log.error("<%s> could not terminate the session of channel %s (%s): %s", AGENT, ch.uuid,
                          client.name, error)
            self.session_ended(conn, cgr_event)
        if self.settings.create_cdr:
            _, error = await self.ask_sessions(PROCESS_CDR, cgr_event)
            if error is not None:
                log.error("<%s> CDR of channel %s (%s): %s", AGENT, ch.uuid, client.name, error)

    async def _hang_up(self, client: ESLClient, uuid: str, redirect: str, notify: str) -> None:
        """``cgr_notify`` on the channel, then kill it (or, out of credit, send it to ``empty_balance_context``
        or play ``empty_balance_ann_file`` and hang up after it). Raises what FreeSWITCH answered."""
        s = self.settings
        await client.api(f"uuid_setvar {uuid} {CGR_NOTIFY} {_one_line(notify)}")
        if notify == INSUFFICIENT_CREDIT:
            if s.empty_balance_context:
                await client.api(f"uuid_transfer {uuid} {redirect} XML {s.empty_balance_context}")
                return
            if s.empty_balance_ann_file:
                await client.api(f"uuid_broadcast {uuid} "
                                 f"playback!{MANAGER_REQUEST.lower()}::{s.empty_balance_ann_file} aleg")
                return
        await client.api(f"uuid_kill {uuid} {MANAGER_REQUEST}")

    # ------------------------------------------------------------------------------------------ AgentV1

    async def on_disconnect_session(self, call: BackCall) -> str:
        _, client = self.client_for(call)
        redirect = first(call.event.get(CALL_DEST_NR), call.event.get("variable_sip_req_user"),
                         call.event.get("Destination"))
        try:
            await self._hang_up(client, call.origin_id, redirect, as_string(call.event.get("DisconnectCause")))
        except _COMMAND_ERRORS as exc:
            raise RPCError(f"{AGENT}: disconnecting channel {call.origin_id} on {client.name}: {exc}") from None
        return "OK"

    async def on_warn_disconnect(self, call: BackCall) -> str:
        announcement = self.settings.low_balance_ann_file
        if not announcement:
            return "OK"
        _, client = self.client_for(call)
        try:
            await client.api(f"uuid_broadcast {call.origin_id} playback::{announcement} aleg")
        except _COMMAND_ERRORS as exc:
            raise RPCError(f"{AGENT}: warning channel {call.origin_id} on {client.name}: {exc}") from None
        return "OK"


def _one_line(value: Any) -> str:
    """A value for the end of an api command line."""
    return " ".join(as_string(value).splitlines())


__all__ = ["AGENT", "SECTION", "FreeSWITCHAgent", "FreeSWITCHSettings"]
