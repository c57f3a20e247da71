"""The Asterisk agent (CGRateS's AsteriskAgent): ARI events of each Asterisk in ``asterisk_conns`` driven through
SessionS, and SessionS's back-calls done with ARI.

- **StasisStart** (the dialplan's ``Stasis(cgrates_auth,...)``): SessionSv1.AuthorizeEvent with the call's
  ``cgr_flags``; an error or no usage granted hangs the channel up (``DELETE channels/{id}?reason=congestion``),
  else the answer is set back on the channel — each altered attribute, ``CGRMaxSessionTime`` (milliseconds, for
  ``Dial(...,L(${CGRMaxSessionTime}))``), ``CGRResourceAllocation``, ``CGRRoute1..n``, the other Stasis arguments
  and ``cgr_reqtype`` — and the channel continues in the dialplan (``POST channels/{id}/continue``).
- **ChannelStateChange** to ``Up`` of such a channel (it carries ``cgr_reqtype``): SessionSv1.InitiateSession;
  refused or granted nothing, the channel is hung up.
- **ChannelDestroyed** of such a channel: SessionSv1.TerminateSession (Usage from ``CDR(billsec)``), then with
  ``create_cdr`` SessionSv1.ProcessCDR of the same event.
- **AgentV1.DisconnectSession** hangs the channel up; **AgentV1.GetActiveSessionIDs** lists each Asterisk's
  channels (``GET channels``; for an Asterisk that cannot be reached, the sessions it had, so SessionS does not end
  them while the link is down).
- When a connection comes back after a drop (Asterisk restarted), the calls the agent started there and that
  Asterisk no longer has are ended in SessionS, charged up to the moment the connection was lost, with their CDR
  under ``create_cdr`` — once (SessionS answers a repeated terminate without charging).

The events of one channel are handled in the order they came, different channels in parallel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pycgrates.agents.base import Agent, AgentSettings, BackCall
from pycgrates.agents.processors import PROCESS_CDR
from pycgrates.agents.reconnect import Backoff, ConnectionLost
from pycgrates.engine.rpc.client import split_address
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Method, rpc
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.template.fields import TemplateError
from pycgrates.engine.units import SECOND, DurationError, TimeError, parse_time

from . import ari
from .cdr import CDRError, cdr_event
from .client import ARIClient

if TYPE_CHECKING:
    from pycgrates.engine.config import Config

log = logging.getLogger("cgr.agents.asterisk")

#: what a session ended for a lost connection is given as its DisconnectCause
LOST = "LOST_CONNECTION"
_SESSION_ERRORS = (RPCError, TimeoutError, OSError)
_ARI_ERRORS = (ConnectionLost, TimeoutError, OSError, ari.ARIError)


@dataclass(frozen=True, slots=True)
class AsteriskConn:
    """One entry of ``asterisk_conns``."""

    address: str
    alias: str
    user: str
    password: str
    connect_attempts: int
    backoff: Backoff
    ari_websocket: bool

    @property
    def origin_host(self) -> str:
        """What its calls are known by: the alias, else the address's host (CGRateS)."""
        return self.alias or split_address(self.address)[0]


@dataclass(slots=True, kw_only=True)
class AsteriskSettings(AgentSettings):
    conns: tuple[AsteriskConn, ...] = ()
    create_cdr: bool = False
    default_request_type: str = "*rated"
    #: path on the engine's HTTP listener Asterisk posts its CDRs to ("" = none)
    cdrs_url: str = ""


def asterisk_conns(raw: Any) -> tuple[AsteriskConn, ...]:
    """``asterisk_conns`` compiled; TemplateError names the entry and the fix."""
    if not isinstance(raw, list):
        raise TemplateError("asterisk_agent.asterisk_conns: expecting a list of Asterisk servers")
    conns, hosts = [], {}
    for i, entry in enumerate(raw):
        where = f"asterisk_agent.asterisk_conns[{i}]"
        if not isinstance(entry, Mapping) or not str(entry.get("address") or "").strip():
            raise TemplateError(f"{where}: no address (host:port of Asterisk's HTTP server, http.conf)")
        try:
            address = str(entry["address"]).strip()
            split_address(address)
            backoff = Backoff.from_config(entry)
            attempts = int(entry.get("connect_attempts") or 1)
        except (ValueError, DurationError) as exc:
            raise TemplateError(f"{where}: {exc}") from None
        conn = AsteriskConn(address, str(entry.get("alias") or "").strip(), str(entry.get("user") or ""),
                            str(entry.get("password") or ""), max(1, attempts), backoff,
                            bool(entry.get("ari_websocket")))
        if conn.origin_host in hosts:
            raise TemplateError(f"{where}: its calls would be known by {conn.origin_host}, as those of entry "
                                f"{hosts[conn.origin_host]}; give each Asterisk its own alias")
        hosts[conn.origin_host] = i
        conns.append(conn)
    return tuple(conns)


class ChannelOrder:
    """The events of one channel one after the other, in arrival order; channels in parallel. :meth:`turn` is taken
    when the event arrives (synchronously), the handler waits for the turn before it."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[Hashable, asyncio.Future[None]] = {}

    def run(self, key: Hashable, handler: Callable[[], Awaitable[None]]) -> Awaitable[None]:
        before = self._last.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[key] = mine

        async def in_turn() -> None:
            try:
                if before is not None:
                    await asyncio.shield(before)
                await handler()
            finally:
                mine.set_result(None)
                if self._last.get(key) is mine:
                    del self._last[key]

        return in_turn()


class AsteriskAgent(Agent[AsteriskSettings]):
    """See the module docstring."""

    name = "AsteriskAgent"
    section = "asterisk_agent"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        #: one ARI client per Asterisk, by the origin host of its calls
        self.clients: dict[str, ARIClient] = {}
        self._order = ChannelOrder()

    # ------------------------------------------------------------------------------------------ settings

    def configure(self, cfg: Config, section: Mapping[str, Any], common: AgentSettings) -> AsteriskSettings:
        conns = asterisk_conns(section.get("asterisk_conns") or [])
        cdrs_url = str(section.get("cdrs_url") or "").strip()
        if cdrs_url and not cdrs_url.startswith("/"):
            raise TemplateError(f"asterisk_agent.cdrs_url: {cdrs_url!r} is not a path (write it as /asterisk_cdrs)")
        return common.extend(AsteriskSettings, conns=conns, create_cdr=bool(section.get("create_cdr")),
                             default_request_type=cfg.get("general", "default_request_type", default="") or "*rated",
                             cdrs_url=cdrs_url, listener_key=conns)

    async def open_listeners(self, settings: AsteriskSettings) -> None:
        for conn in settings.conns:
            client = await self._dial(conn)
            self.clients[conn.origin_host] = client
            await self._connected(client)

    async def close_listeners(self) -> None:
        clients, self.clients = list(self.clients.values()), {}
        for client in clients:
            await client.stop()

    def _client(self, conn: AsteriskConn) -> ARIClient:
        return ARIClient(conn.address, conn.user, conn.password, alias=conn.alias, origin_host=conn.origin_host,
                         rest_over_websocket=conn.ari_websocket, backoff=conn.backoff, on_event=self._on_event,
                         on_reconnect=self._on_reconnect)

    async def _dial(self, conn: AsteriskConn) -> ARIClient:
        """Connect, ``connect_attempts`` times with a growing pause between (CGRateS); the last failure raises.
        Once connected, the client keeps the connection up under the entry's back-off."""
        delay = 0.5
        for attempt in range(1, conn.connect_attempts + 1):
            client = self._client(conn)
            try:
                await client.start()
                return client
            except (OSError, TimeoutError) as exc:
                await client.stop()
                if attempt == conn.connect_attempts:
                    raise ConnectionLost(f"<{self.name}> cannot connect to Asterisk at {conn.address} after "
                                         f"{attempt} attempts: {exc or type(exc).__name__}; start Asterisk with "
                                         "ARI enabled (http.conf, ari.conf) or correct asterisk_conns") from exc
                log.warning("%s: connect attempt %d failed: %s", client.name, attempt, exc or type(exc).__name__)
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def _connected(self, client: ARIClient) -> None:
        """What follows each (re)connection: only our events, and SessionS told of this agent."""
        try:
            result = await client.rest(ari.event_filter())
            if not result.ok:
                log.warning("%s: eventFilter answered %d %s; every event will come", client.name, result.status,
                            result.reason)
        except _ARI_ERRORS as exc:
            log.warning("%s: eventFilter failed: %s", client.name, exc)
        if self.sessions is not None:
            try:  # the engine then knows this agent for its session sync, before any call
                await self.sessions.call("SessionSv1.Ping", {})
            except _SESSION_ERRORS as exc:
                log.warning("<%s> SessionS is not reachable: %s", self.name, exc)

    async def _on_reconnect(self, client: ARIClient) -> None:
        await self._connected(client)
        await self.resync(client)

    # ------------------------------------------------------------------------------------------ events

    def _on_event(self, client: ARIClient, event: ari.ARIEvent) -> Awaitable[None] | None:
        handler = {ari.STASIS_START: self._stasis_start, ari.CHANNEL_STATE_CHANGE: self._state_change,
                   ari.CHANNEL_DESTROYED: self._destroyed}.get(event.type)
        if handler is None or not event.channel_id:
            return None
        settings = self.settings
        return self._order.run((client.address, event.channel_id), lambda: handler(client, event, settings))

    def _fields(self, client: ARIClient, event: ari.ARIEvent, args: Mapping[str, str],
                settings: AsteriskSettings) -> dict[str, Any]:
        return ari.call_fields(event, args, origin_host=client.origin_host,
                               default_request_type=settings.default_request_type)

    async def _stasis_start(self, client: ARIClient, event: ari.ARIEvent, settings: AsteriskSettings) -> None:
        channel = event.channel_id
        args, opts = ari.stasis_args(event)
        fields = self._fields(client, event, args, settings)
        cgr_ev = ari.cgr_event(settings.tenant, event, fields, opts)
        if not args.get(ari.CGR_FLAGS):
            log.warning("<%s> channel %s: cgr_flags variable is not set, using defaults", self.name, channel)
        method, call_args, _ = ari.session_args("*authorize", args.get(ari.CGR_FLAGS), cgr_ev)
        try:
            reply = await self._call(method, call_args)
        except _SESSION_ERRORS as exc:
            await self._hangup(client, channel, f"error: {exc} authorizing session for channelID: {channel}")
            return
        variables: list[tuple[str, str]] = []
        attributes = reply.get("Attributes") if isinstance(reply, Mapping) else None
        if isinstance(attributes, Mapping):
            altered_event = (attributes.get("CGREvent") or {}).get("Event") or {}
            for name in attributes.get("AlteredFields") or ():
                name = str(name).removeprefix("*req.")
                if name in altered_event:
                    variables.append((name, as_string(altered_event[name])))
        if call_args.get("GetMaxUsage"):
            max_usage = reply.get("MaxUsage") if isinstance(reply, Mapping) else None
            if not max_usage:
                await self._hangup(client, channel, "")
                return
            variables.append((ari.MAX_SESSION_TIME, str(int(max_usage) // 1_000_000)))
        if isinstance(reply, Mapping) and reply.get("ResourceAllocation") is not None:
            variables.append((ari.RESOURCE_ALLOCATION, as_string(reply["ResourceAllocation"])))
        if isinstance(reply, Mapping):
            for i, route in enumerate(ari.route_ids(reply.get("RouteProfiles")), 1):
                variables.append((f"{ari.ROUTE_VAR}{i}", route))
        variables.extend(ari.extra_args(args).items())
        variables.append((ari.CGR_REQTYPE, as_string(fields.get("RequestType") or "")))
        for name, value in variables:
            if not await self._set_variable(client, channel, name, value):
                return
        try:
            await client.rest(ari.continue_in_dialplan(channel))
        except _ARI_ERRORS as exc:
            log.warning("<%s> channel %s: continue failed: %s", self.name, channel, exc)

    async def _state_change(self, client: ARIClient, event: ari.ARIEvent, settings: AsteriskSettings) -> None:
        if event.state != "Up" or not event.is_cgr_channel:
            return
        fields = ari.restore_channel_vars(event, self._fields(client, event, {}, settings))
        cgr_ev = ari.cgr_event(settings.tenant, event, fields, {})
        method, call_args, _ = ari.session_args("*initiate", fields.get(ari.CGR_FLAGS), cgr_ev)
        try:
            reply = await self._call(method, call_args)
        except _SESSION_ERRORS as exc:
            await self._hangup(client, event.channel_id,
                               f"error: {exc} when attempting to initiate session for channelID: {event.channel_id}")
            return
        if call_args.get("InitSession"):
            if not (isinstance(reply, Mapping) and reply.get("MaxUsage")):
                await self._hangup(client, event.channel_id, "")
                return
            self.tracked.started(client.origin_host,
                                 (as_string(fields["OriginHost"]), event.channel_id), call_args)

    async def _destroyed(self, client: ARIClient, event: ari.ARIEvent, settings: AsteriskSettings) -> None:
        if not event.is_cgr_channel:
            return
        fields = ari.restore_channel_vars(event, self._fields(client, event, {}, settings))
        cgr_ev = ari.cgr_event(settings.tenant, event, fields, {})
        await self._end(client, cgr_ev, fields.get(ari.CGR_FLAGS), settings)

    async def _end(self, client: ARIClient, cgr_ev: dict[str, Any], flags: str | None,
                   settings: AsteriskSettings) -> None:
        """TerminateSession, then the CDR under create_cdr."""
        fields = cgr_ev["Event"]
        method, call_args, _ = ari.session_args("*terminate", flags, cgr_ev)
        try:
            await self._call(method, call_args)
        except _SESSION_ERRORS as exc:
            log.error("<%s> Error: %s when attempting to terminate session for channelID: %s", self.name, exc,
                      fields.get("OriginID"))
        self.tracked.ended(client.origin_host,
                           (as_string(fields.get("OriginHost")), as_string(fields.get("OriginID"))))
        if settings.create_cdr:
            try:
                await self._call(PROCESS_CDR, cgr_ev)
            except _SESSION_ERRORS as exc:
                log.error("<%s> Error: %s when attempting to process CDR for channelID: %s", self.name, exc,
                          fields.get("OriginID"))

    async def _call(self, method: Method, args: Any) -> Any:
        if self.sessions is None:
            raise RPCError("NOT_CONNECTED: SessionS")
        return await method.call(self.sessions, args)

    async def _set_variable(self, client: ARIClient, channel: str, name: str, value: str) -> bool:
        """Set a channel variable; on failure the channel is hung up (CGRateS)."""
        try:
            result = await client.rest(ari.set_variable(channel, name, value))
            if result.ok:
                return True
            error = f"{result.status} {result.reason}"
        except _ARI_ERRORS as exc:
            error = str(exc)
        await self._hangup(client, channel, f"error: <{error}> setting <{name}> for channelID: <{channel}>")
        return False

    async def _hangup(self, client: ARIClient, channel: str, why: str) -> str:
        """Hang the channel up; "" when done, else why not."""
        if why:
            log.warning("<%s> %s", self.name, why)
        try:
            result = await client.rest(ari.hangup(channel))
            failure = "" if result.ok else f"{result.status} {result.reason}"
        except _ARI_ERRORS as exc:
            failure = str(exc) or type(exc).__name__
        if failure:
            log.warning("<%s> failed disconnecting channel <%s>, err: %s", self.name, channel, failure)
        return failure

    # ------------------------------------------------------------------------------------------ posted CDRs

    def http_routes(self, http_cfg: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
        """``POST cdrs_url``: Asterisk's CDRs (agents/asterisk/cdr.py), sent on to SessionSv1.ProcessCDR."""
        return [("POST", self.settings.cdrs_url, self._posted_cdr)] if self.settings.cdrs_url else []

    async def _posted_cdr(self, request: Any) -> Any:
        from aiohttp import web

        settings = self.settings
        try:
            if request.content_type == "application/json":
                doc = await request.json()
            else:
                doc = dict(await request.post())
            if not isinstance(doc, Mapping):
                raise CDRError("expecting one CDR as a JSON object or a form")
            remote = request.remote or ""
            host = next((h for h, c in self.clients.items() if split_address(c.address)[0] == remote), remote)
            cgr_ev = cdr_event(doc, origin_host=host, tenant=settings.tenant,
                               default_request_type=settings.default_request_type)
            await self._call(PROCESS_CDR, cgr_ev)
        except (CDRError, ValueError) as exc:
            log.warning("<%s> CDR posted from %s refused: %s", self.name, request.remote, exc)
            return web.Response(status=400, text=f"{exc}\n")
        except _SESSION_ERRORS as exc:
            return web.Response(status=409 if str(exc) == "EXISTS" else 500, text=f"{exc}\n")
        return web.Response(text="OK\n")

    # ------------------------------------------------------------------------------------------ re-sync

    async def resync(self, client: ARIClient) -> None:
        """After a reconnection: end the sessions started here whose channel Asterisk no longer has."""
        host = client.origin_host
        try:
            alive = set(ari.channel_ids(await client.rest(ari.list_channels())))
        except _ARI_ERRORS as exc:
            log.warning("%s: cannot list the channels to re-sync the sessions: %s", client.name, exc)
            return
        lost_at = client.lost_at or time.time()
        settings = self.settings
        for tracked in [t for t in self.tracked if t.peer == host and t.key[1] not in alive]:
            event = dict(tracked.args.get("Event") or {})
            event.update(EventName=ari.EVENT_NAMES[ari.CHANNEL_DESTROYED], DisconnectCause=LOST,
                         Usage=self._usage_until(event.get("AnswerTime"), lost_at))
            cgr_ev = {"Tenant": tracked.args.get("Tenant") or settings.tenant, "ID": tracked.args.get("ID", ""),
                      "Time": None, "Event": event, "APIOpts": dict(tracked.args.get("APIOpts") or {})}
            log.info("%s: channel %s is gone after the connection was lost; ending its session", client.name,
                     tracked.key[1])
            await self._end(client, cgr_ev, event.get(ari.CGR_FLAGS), settings)

    def _usage_until(self, answer_time: Any, lost_at: float) -> int:
        try:
            answered = parse_time(answer_time, self.settings.timezone or None)
        except TimeError:
            answered = None
        if answered is None:
            return 0
        return max(0, int(lost_at - answered.timestamp())) * SECOND

    # ------------------------------------------------------------------------------------------ AgentV1

    def _client_for(self, call: BackCall) -> ARIClient | None:
        host = as_string(call.event.get("OriginHost") or "")
        if host in self.clients:
            return self.clients[host]
        for tracked in self.tracked:
            if tracked.key[1] == call.origin_id and tracked.peer in self.clients:
                return self.clients[tracked.peer]
        return next(iter(self.clients.values()), None)

    async def on_disconnect_session(self, call: BackCall) -> str:
        client = self._client_for(call)
        if client is None:
            raise RPCError(f"{self.name}: no Asterisk connection for channel {call.origin_id}")
        failure = await self._hangup(client, call.origin_id, "")
        if failure:  # no channel to end (gone already) or no Asterisk: SessionS ends the session itself
            raise RPCError(f"SERVER_ERROR: hanging up channel {call.origin_id}: {failure}")
        return "OK"

    @rpc("AgentV1.GetActiveSessionIDs")
    async def get_active_session_ids(self, args: Any) -> list[dict[str, str]]:
        """Each Asterisk's channels; for one that cannot be reached, the sessions started there."""
        out: list[dict[str, str]] = []
        for host, client in list(self.clients.items()):
            hosts = {t.key[1]: t.key[0] for t in self.tracked if t.peer == host}
            try:
                if not client.connected:
                    raise ConnectionLost(client.name)
                ids = ari.channel_ids(await client.rest(ari.list_channels()))
            except _ARI_ERRORS as exc:
                log.warning("%s: listing channels failed (%s); answering with the sessions it had", client.name, exc)
                ids = list(hosts)
            out.extend({"OriginHost": hosts.get(i, host), "OriginID": i} for i in ids)
        return out


__all__ = ["AsteriskAgent", "AsteriskConn", "AsteriskSettings", "ChannelOrder", "asterisk_conns"]
