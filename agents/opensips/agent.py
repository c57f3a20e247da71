"""The OpenSIPS agent, the seed's way (SM-OpenSIPS, ``opensips_agent``): acc events over event_datagram in, the
Management Interface out.

- Every ``events_subscribe_interval`` the agent subscribes (MI ``event_subscribe``) to E_ACC_EVENT, E_ACC_CDR and
  E_ACC_MISSED_EVENT for its ``listen_udp`` socket, each subscription expiring a second after the next renewal
  is due, as OpenSIPS requires; E_OPENSIPS_START (OpenSIPS restarted and forgot its subscribers) renews them at
  once.
- E_ACC_EVENT of an answered INVITE starts the session (SessionSv1.InitiateSession); a call SessionS refuses, or
  one without Call-ID, account or destination, is ended through the MI (``dlg_end_dlg``). E_ACC_EVENT of a BYE
  ends it (TerminateSession, Usage from the answer to the BYE) and, with ``create_cdr``, sends its CDR
  (SessionSv1.ProcessCDR).
- E_ACC_CDR (a whole call) and E_ACC_MISSED_EVENT (a failed one) go to SessionSv1.ProcessCDR: a call charged by a
  session gets that session's CDR, any other is rated by CDRs.
- SessionS's AgentV1.DisconnectSession is ``dlg_end_dlg`` (the ``dialog_id`` the script gave, else the
  Call-ID); AgentV1.GetActiveSessionIDs is ``dlg_list`` (when the MI cannot be reached, the sessions the agent
  started, so SessionS does not end them while OpenSIPS is out of reach).

``cgr_flags`` in an event (``*accounts;*resources;...``, ``;`` between flags) chooses the SessionS arguments as
the other switch agents' do; without it the call is charged. Events come one per datagram, handled one after the
other per call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pycgrates.agents.asterisk.agent import ChannelOrder
from pycgrates.agents.asterisk.ari import session_args
from pycgrates.agents.base import Agent, AgentSettings, BackCall
from pycgrates.agents.processors import PROCESS_CDR
from pycgrates.engine.log import DropLog
from pycgrates.engine.rpc.client import split_address
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Method, rpc
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.template.fields import TemplateError
from pycgrates.engine.units import SECOND, DurationError, parse_duration

from . import datagram as D
from .events import CGR_FLAGS, DIALOG_ID, EventFieldError, call_fields, check_start, usage_until
from .transport import Address, EventListener, MIClient, mi_client

if TYPE_CHECKING:
    from pycgrates.engine.config import Config

log = logging.getLogger("cgr.agents.opensips")

_SESSION_ERRORS = (RPCError, TimeoutError, OSError)
_MI_ERRORS = (D.MIError, TimeoutError, OSError)
#: the separator of cgr_flags in OpenSIPS events
FLAG_SEP = ";"


@dataclass(slots=True, kw_only=True)
class OpenSIPSSettings(AgentSettings):
    listen_udp: str = "127.0.0.1:2020"
    mi_addr: str = "127.0.0.1:8020"
    subscribe_interval: int = 60 * SECOND
    create_cdr: bool = False
    default_request_type: str = "*rated"


class OpenSIPSAgent(Agent[OpenSIPSSettings]):
    """See the module docstring."""

    name = "OpenSIPSAgent"
    section = "opensips_agent"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.listener: EventListener | None = None
        self.mi: MIClient | None = None
        self.drops = DropLog(log, "OpenSIPS", "datagrams")
        self.events = 0
        self._order = ChannelOrder()
        self._subscriber: asyncio.Task[None] | None = None
        self._resubscribe = asyncio.Event()

    # ------------------------------------------------------------------------------------------ settings

    def configure(self, cfg: Config, section: Mapping[str, Any], common: AgentSettings) -> OpenSIPSSettings:
        listen = str(section.get("listen_udp") or "").strip()
        mi_addr = str(section.get("mi_addr") or "").strip()
        try:
            split_address(listen)
            if not mi_addr.startswith(("http://", "https://")):
                split_address(mi_addr)
            interval = parse_duration(section.get("events_subscribe_interval") or 0)
        except (ValueError, DurationError) as exc:
            raise TemplateError(f"opensips_agent: {exc} (listen_udp and mi_addr are host:port; mi_addr may be "
                                "mi_http's URL)") from None
        return common.extend(OpenSIPSSettings, listen_udp=listen, mi_addr=mi_addr, subscribe_interval=interval,
                             create_cdr=bool(section.get("create_cdr")),
                             default_request_type=cfg.get("general", "default_request_type", default="") or "*rated",
                             listener_key=(listen, mi_addr, interval))

    async def open_listeners(self, settings: OpenSIPSSettings) -> None:
        self.listener = await EventListener.open(settings.listen_udp, self._datagram)
        self.mi = mi_client(settings.mi_addr)
        log.info("<%s> listening for OpenSIPS events on %s:%d; MI at %s", self.name, *self.listener.address,
                 settings.mi_addr)
        if settings.subscribe_interval > 0:
            self._subscriber = self.tasks.spawn(self._subscribe_loop(settings), "event subscriptions")

    async def close_listeners(self) -> None:
        if self._subscriber is not None:
            self._subscriber.cancel()
            await asyncio.gather(self._subscriber, return_exceptions=True)
            self._subscriber = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.mi is not None:
            await self.mi.close()
            self.mi = None

    # ------------------------------------------------------------------------------------------ subscriptions

    def event_socket(self) -> str:
        """Where OpenSIPS should send the events: ``udp:host:port`` of the listener (for a wildcard address, the
        local address towards the MI)."""
        assert self.listener is not None
        host, port = self.listener.address
        if host in ("0.0.0.0", "::", ""):
            host = (self.mi.local_host() if self.mi is not None else "") or "127.0.0.1"
        return f"udp:{host}:{port}"

    async def subscribe(self, settings: OpenSIPSSettings | None = None) -> bool:
        """One round of event_subscribe; False when OpenSIPS did not take them all."""
        s = settings or self.settings
        if self.mi is None:
            return False
        expire = s.subscribe_interval // SECOND + 1  # renewed before it lapses
        ok = True
        for event in D.SUBSCRIBED_EVENTS:
            try:
                await self.mi.call("event_subscribe", D.subscribe_params(event, self.event_socket(), expire))
            except _MI_ERRORS as exc:
                log.error("<%s> Failed subscribing to %s at OpenSIPS MI <%s>: %s", self.name, event, s.mi_addr, exc)
                ok = False
                break
        return ok

    async def _subscribe_loop(self, settings: OpenSIPSSettings) -> None:
        interval = settings.subscribe_interval / SECOND
        while True:
            ok = await self.subscribe(settings)
            self._resubscribe.clear()
            try:  # after a failure try again soon, OpenSIPS may be starting
                await asyncio.wait_for(self._resubscribe.wait(), interval if ok else min(interval, 1.0))
            except TimeoutError:
                pass

    # ------------------------------------------------------------------------------------------ events

    def _datagram(self, data: bytes, addr: Address) -> None:
        try:
            event = D.decode_event(data)
        except D.DatagramError as exc:
            self.drops("<%s> malformed datagram from OpenSIPS %s:%d dropped: %s", self.name, addr[0], addr[1], exc)
            return
        self.events += 1
        if event.name == D.E_OPENSIPS_START:
            log.info("<%s> OpenSIPS %s started: subscribing again", self.name, addr[0])
            self._resubscribe.set()
            return
        handler = {D.E_ACC_EVENT: self._acc_event, D.E_ACC_CDR: self._cdr,
                   D.E_ACC_MISSED_EVENT: self._cdr}.get(event.name)
        if handler is None:
            log.debug("<%s> event %s from %s ignored", self.name, event.name, addr[0])
            return
        received, settings = time.time(), self.settings
        self.tasks.spawn(self._order.run(event.get("callid"), lambda: handler(event, addr, received, settings)),
                         event.name)

    def _cgr_event(self, event: D.OpenSIPSEvent, addr: Address, received: float,
                   settings: OpenSIPSSettings) -> dict[str, Any]:
        fields = call_fields(event, origin_host=addr[0], default_request_type=settings.default_request_type,
                             received_at=received)
        return {"Tenant": fields.get("Tenant") or settings.tenant, "ID": f"{event.name}:{fields['OriginID']}",
                "Time": None, "Event": fields, "APIOpts": {}}

    async def _acc_event(self, event: D.OpenSIPSEvent, addr: Address, received: float,
                         settings: OpenSIPSSettings) -> None:
        method = event.get("method")
        if method == "INVITE":
            await self._start(event, addr, received, settings)
        elif method == "BYE":
            await self._stop(event, settings)

    async def _start(self, event: D.OpenSIPSEvent, addr: Address, received: float,
                     settings: OpenSIPSSettings) -> None:
        cgr_ev = self._cgr_event(event, addr, received, settings)
        fields = cgr_ev["Event"]
        if fields.get("RequestType") == "*none":
            return
        dialog_id = event.get(DIALOG_ID) or event.get("callid")
        try:
            check_start(fields)
            method, args, _ = session_args("*initiate", event.get(CGR_FLAGS) or None, cgr_ev, FLAG_SEP)
            reply = await self._call(method, args)
            if args.get("InitSession") and not (isinstance(reply, Mapping) and reply.get("MaxUsage")):
                raise RPCError("INSUFFICIENT_CREDIT")
        except (EventFieldError, *_SESSION_ERRORS) as exc:
            log.warning("<%s> call %s not started (%s): ending its dialog", self.name, fields.get("OriginID"), exc)
            await self._end_dialog(dialog_id)
            return
        if args.get("InitSession"):
            self.tracked.started(settings.mi_addr, (as_string(fields["OriginHost"]), fields["OriginID"]), args)

    async def _stop(self, event: D.OpenSIPSEvent, settings: OpenSIPSSettings) -> None:
        callid = event.get("callid")
        tracked = next((t for t in self.tracked if t.key[1] == callid), None)
        if tracked is None:
            log.debug("<%s> BYE of %s: no session started here", self.name, callid)
            return
        start = dict(tracked.args.get("Event") or {})
        start.update(Usage=usage_until(start.get("AnswerTime"), event.get("time"), settings.timezone or None),
                     DisconnectCause=event.get("sip_code") or start.get("DisconnectCause", ""))
        cgr_ev = {"Tenant": tracked.args.get("Tenant") or settings.tenant, "ID": f"{event.name}:{callid}",
                  "Time": None, "Event": start, "APIOpts": dict(tracked.args.get("APIOpts") or {})}
        await self._terminate(tracked.peer, cgr_ev, settings)

    async def _terminate(self, peer: str, cgr_ev: dict[str, Any], settings: OpenSIPSSettings) -> None:
        fields = cgr_ev["Event"]
        method, args, _ = session_args("*terminate", fields.get(CGR_FLAGS) or None, cgr_ev, FLAG_SEP)
        try:
            await self._call(method, args)
        except _SESSION_ERRORS as exc:
            log.error("<%s> Failed processing CALL_END of %s: %s", self.name, fields.get("OriginID"), exc)
        self.tracked.ended(peer, (as_string(fields.get("OriginHost")), as_string(fields.get("OriginID"))))
        if settings.create_cdr:
            await self._process_cdr(cgr_ev)

    async def _cdr(self, event: D.OpenSIPSEvent, addr: Address, received: float,
                   settings: OpenSIPSSettings) -> None:
        await self._process_cdr(self._cgr_event(event, addr, received, settings))

    async def _process_cdr(self, cgr_ev: dict[str, Any]) -> None:
        try:
            await self._call(PROCESS_CDR, cgr_ev)
        except _SESSION_ERRORS as exc:
            log.error("<%s> Failed processing CDR, OriginID: %s, error: <%s>", self.name,
                      cgr_ev["Event"].get("OriginID"), exc)

    async def _call(self, method: Method, args: Any) -> Any:
        if self.sessions is None:
            raise RPCError("NOT_CONNECTED: SessionS")
        return await method.call(self.sessions, args)

    async def _end_dialog(self, dialog_id: str) -> str:
        """dlg_end_dlg; "" when done, else why not."""
        if self.mi is None or not dialog_id:
            return "no MI connection" if dialog_id else "no dialog id"
        try:
            await self.mi.call("dlg_end_dlg", D.end_dialog_params(dialog_id))
        except _MI_ERRORS as exc:
            log.error("<%s> Failed disconnecting dialog %s: %s", self.name, dialog_id, exc)
            return str(exc) or type(exc).__name__
        return ""

    # ------------------------------------------------------------------------------------------ AgentV1

    async def on_disconnect_session(self, call: BackCall) -> str:
        dialog_id = as_string(call.event.get(DIALOG_ID) or "") or call.origin_id
        failure = await self._end_dialog(dialog_id)
        if failure:
            raise RPCError(f"SERVER_ERROR: dlg_end_dlg {dialog_id}: {failure}")
        return "OK"

    @rpc("AgentV1.GetActiveSessionIDs")
    async def get_active_session_ids(self, args: Any) -> list[dict[str, str]]:
        """OpenSIPS's dialogs (dlg_list); when its MI cannot be reached, the sessions started here."""
        hosts = {t.key[1]: t.key[0] for t in self.tracked}
        try:
            if self.mi is None:
                raise D.MIError(0, "no MI connection")
            callids = D.active_callids(await self.mi.call("dlg_list"))
        except _MI_ERRORS as exc:
            log.warning("<%s> dlg_list failed (%s); answering with the sessions started here", self.name, exc)
            callids = list(hosts)
        default_host = split_address(self.settings.mi_addr)[0] if "://" not in self.settings.mi_addr else ""
        return [{"OriginHost": hosts.get(c, default_host), "OriginID": c} for c in callids]


__all__ = ["OpenSIPSAgent", "OpenSIPSSettings"]
