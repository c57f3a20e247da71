"""The agents in front of switches they dial: FreeSWITCH over its event socket, Kamailio over evapi.

CGRateS's freeswitch_agent and kamailio_agent run no request processors: each builds the CGREvent from the
switch's event itself and takes SessionS's arguments from the call's ``cgr_flags`` (``*accounts;*attributes;
*resources;*routes;*stats;*thresholds``, ``;`` between flags, ``*attributes:ID1&ID2`` naming profiles). What the
two share is here, on top of :class:`~pycgrates.agents.base.Agent`:

- **connections**: one :class:`~pycgrates.agents.reconnect.ReconnectingClient` per entry of the agent's
  ``*_conns`` list (address, alias, reconnects, max_reconnect_interval). They are dialled at start without
  waiting for the switch (one that is down is logged and dialled under the back-off, so the engine need not start
  after its switches) and kept up; a reload redials only when the list changed. A connection's *origin host* is its
  alias, or its address when it has none (CGRateS's default alias).
- **order**: the events of one call are handled one after the other, in the order they came (a hangup never
  overtakes its answer), different calls in parallel (:class:`CallOrder`).
- **sessions**: each session a connection started is tracked under that connection's origin host. When the
  connection comes back after a drop (the switch restarted, the network failed), :meth:`SwitchAgent.resync` asks
  the switch which calls it still has and ends the others in SessionS, charged up to the moment the connection was
  lost, with their CDR when ``create_cdr`` is on — once: SessionS answers a repeated terminate without charging
  and CDRs refuse a second CDR of a call. ``AgentV1.GetActiveSessionIDs`` (SessionS's channel sync) asks every
  switch and answers for a connection that is down with the sessions it had: they are re-synced when it comes
  back, not lost.
- **flags**: :func:`session_call` turns ``cgr_flags`` into the SessionS method and arguments CGRateS's
  ParseFlags gives, through the one flag table of agents/processors.py.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pycgrates.agents.base import Agent, AgentSettings, BackCall, TrackedSession
from pycgrates.agents.processors import PROCESS_CDR, call_sessions, channel_call
from pycgrates.agents.reconnect import Backoff, ReconnectingClient
from pycgrates.agents.request import session_key
from pycgrates.engine.rpc.client import split_address
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing
from pycgrates.engine.rpc.registry import Method, rpc
from pycgrates.engine.sessions import api
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.template.fields import TemplateError
from pycgrates.engine.units import SECOND, DurationError, format_time, now, parse_duration

if TYPE_CHECKING:
    from pycgrates.engine.config import Config

log = logging.getLogger("cgr.agents")

TERMINATE = api.TERMINATE
#: how long a reload or a stop lets the calls in hand finish before the connections close
DRAIN_SECONDS = 5.0


# ---------------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class SwitchConn:
    """One entry of an agent's ``*_conns`` list."""

    index: int
    address: str
    alias: str
    backoff: Backoff
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def origin_host(self) -> str:
        """What the sessions of this connection are known by: the alias, else the address."""
        return self.alias or self.address

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


@dataclass(slots=True, kw_only=True)
class SwitchSettings(AgentSettings):
    """The options every switch agent has besides the base's."""

    conns: tuple[SwitchConn, ...] = ()
    create_cdr: bool = False
    default_request_type: str = "*rated"
    default_category: str = "call"
    #: Usage put on authorization events (``sessions.default_usage`` of ``*voice``), nanoseconds
    default_usage: int = 3 * 3600 * SECOND


def switch_conns(raw: Any, where: str) -> tuple[SwitchConn, ...]:
    """An agent's ``*_conns`` list compiled; TemplateError names the entry and the fix."""
    if not isinstance(raw, list):
        raise TemplateError(f"{where}: expecting a list of connections, have {type(raw).__name__}")
    conns = []
    hosts: dict[str, int] = {}
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise TemplateError(f"{where}[{i}]: expecting an object with the switch's address")
        address = str(entry.get("address") or "").strip()
        if not address:
            raise TemplateError(f"{where}[{i}]: no address (host:port of the switch)")
        try:
            split_address(address)
            backoff = Backoff.from_config(entry)
        except (ValueError, DurationError) as exc:
            raise TemplateError(f"{where}[{i}]: {exc}") from None
        alias = str(entry.get("alias") or "").strip()
        conn = SwitchConn(i, address, alias, backoff, tuple((k, v) for k, v in entry.items()
                                                            if k not in ("address", "alias")))
        if conn.origin_host in hosts:
            raise TemplateError(f"{where}[{i}]: origin host {conn.origin_host} is also the one of entry "
                                f"{hosts[conn.origin_host]}; give each connection its own alias")
        hosts[conn.origin_host] = i
        conns.append(conn)
    return tuple(conns)


def voice_default_usage(cfg: Config) -> int:
    """``sessions.default_usage`` of ``*voice`` (CGRateS puts it on authorization events), nanoseconds."""
    usages = cfg.get("sessions", "default_usage", default=None) or {}
    try:
        return parse_duration(usages.get("*voice") or usages.get("*any") or "3h") or 3 * 3600 * SECOND
    except DurationError:
        return 3 * 3600 * SECOND


# ---------------------------------------------------------------------------------------------------- flags


def session_call(rtype: str, cgr_flags: str | None, event: dict[str, Any],
                 when_absent: Sequence[str] = ("*accounts",)) -> tuple[Method, dict[str, Any], bool]:
    """(method, arguments, whether MaxUsage is wanted) of the SessionS call ``rtype`` (``*authorize``,
    ``*initiate``, ``*terminate``, ``*message``) for a CGREvent whose call carries ``cgr_flags``; without them,
    ``when_absent`` (CGRateS: charge)."""
    return channel_call(rtype, when_absent if cgr_flags is None else cgr_flags.split(";"), event)



def routes_with_params(route_profiles: Any) -> list[str]:
    """``RouteID`` or ``RouteID:RouteParameters`` of every route of a RouteProfiles reply, in order."""
    out = []
    for profile in route_profiles if isinstance(route_profiles, list) else ():
        for route in (profile.get("Routes") or ()) if isinstance(profile, Mapping) else ():
            if isinstance(route, Mapping):
                text = as_string(route.get("RouteID"))
                if route.get("RouteParameters"):
                    text += ":" + as_string(route["RouteParameters"])
                out.append(text)
    return out


def attributes_digest(altered: Mapping[str, Any] | None) -> str:
    """The altered fields of an AttributeS reply as ``Field:value,Field2:value2`` (CGRateS's Digest)."""
    return ",".join(f"{name}:{as_string(value)}" for name, value in (altered or {}).items())


def new_cgr_event(tenant: str, time: Any, event: dict[str, Any], opts: dict[str, Any] | None = None) -> dict:
    """A CGREvent (the ID a short random one, as CGRateS's UUIDSha1Prefix)."""
    return {"Tenant": tenant, "ID": secrets.token_hex(4)[:7], "Time": format_time(time) if time else None,
            "Event": event, "APIOpts": dict(opts or {})}


# ---------------------------------------------------------------------------------------------------- call order


class CallOrder:
    """Handle the events of one call in the order they came, calls in parallel.

    :meth:`turn` is taken when the event arrives (synchronously, so arrival order is kept); the handler waits
    for the turn before it and releases its own when it ends, however it ends."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[Hashable, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._last)

    def turn(self, key: Hashable) -> tuple[asyncio.Future[None] | None, Callable[[], None]]:
        """(the turn to wait for, the release of this one)."""
        before = self._last.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[key] = mine

        def release() -> None:
            if not mine.done():
                mine.set_result(None)
            if self._last.get(key) is mine:
                del self._last[key]

        return before, release


# ---------------------------------------------------------------------------------------------------- the agent


S = TypeVar("S", bound=SwitchSettings)


class SwitchAgent(Agent[S]):
    """An agent dialling its switches (see the module docstring); a subclass builds the clients
    (:meth:`connect`), handles their events through :meth:`handle_call`, and lists the calls a switch has
    (:meth:`switch_calls`)."""

    #: the connections option of the section (``event_socket_conns``)
    conns_option: ClassVar[str] = ""
    #: the event field CGRateS puts the connection's index in, for SessionS to give back (``FsConnID``)
    conn_id_field: ClassVar[str] = ""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        #: each connection with its client, as the listeners were opened
        self.links: list[tuple[SwitchConn, ReconnectingClient]] = []
        self.order = CallOrder()

    # ------------------------------------------------------------------------------------------ what a subclass adds

    def connect(self, conn: SwitchConn, settings: S) -> ReconnectingClient:
        """The client of one connection, its events handed to the agent (not started)."""
        raise NotImplementedError

    async def switch_calls(self, client: Any, conn: SwitchConn) -> dict[str, str]:
        """The calls the switch has now: OriginID → OriginHost as the switch tells it ("" when it does not).
        Raises when it cannot tell."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------ settings, life

    def switch_settings(self, cfg: Config, section: Mapping[str, Any], common: AgentSettings, cls: type[S],
                        **own: Any) -> S:
        """``common`` with the switch options and the agent's ``own``; ``listener_key`` = the connections."""
        conns = switch_conns(section.get(self.conns_option) or [], f"{self.section}.{self.conns_option}")
        return common.extend(
            cls, conns=conns, create_cdr=bool(section.get("create_cdr")),
            default_request_type=cfg.get("general", "default_request_type", default="") or "*rated",
            default_category=cfg.get("general", "default_category", default="") or "call",
            default_usage=voice_default_usage(cfg), listener_key=conns, **own)

    @property
    def clients(self) -> list[ReconnectingClient]:
        return [client for _, client in self.links]

    async def open_listeners(self, settings: S) -> None:
        self.links = [(conn, self.connect(conn, settings)) for conn in settings.conns]
        await asyncio.gather(*(client.start(wait=False) for _, client in self.links))
        for conn, client in self.links:
            if client.connected and self._tracked_of(conn):  # a reload redialled: settle what happened meanwhile
                self.tasks.spawn(self.resync(client, conn), f"resync {conn.origin_host}")

    async def close_listeners(self) -> None:
        await self.tasks.drain(DRAIN_SECONDS)
        links, self.links = self.links, []
        await asyncio.gather(*(client.stop() for _, client in links), return_exceptions=True)

    def conn_of(self, client: ReconnectingClient) -> SwitchConn | None:
        return next((conn for conn, mine in self.links if mine is client), None)

    # ------------------------------------------------------------------------------------------ events

    def handle_call(self, conn: SwitchConn, call_id: str, work: Callable[[], Awaitable[Any]], what: str) -> None:
        """Run ``work`` for an event of call ``call_id`` of ``conn`` after the events of that call before it."""
        before, release = self.order.turn((conn.index, call_id))

        async def in_turn() -> None:
            if before is not None:
                await asyncio.wait({before})
            await work()

        task = self.tasks.spawn(in_turn(), f"{what} {call_id}")
        task.add_done_callback(lambda _t: release())

    async def ask_sessions(self, method: Method, args: Any) -> tuple[Any, str | None]:
        """(reply, None) or (None, the error as SessionS words it)."""
        if self.sessions is None:
            return None, str(mandatory_ie_missing("connIDs"))
        return await call_sessions(self.sessions, method, args)

    # ------------------------------------------------------------------------------------------ sessions

    def session_started(self, conn: SwitchConn, args: Mapping[str, Any]) -> None:
        """SessionS accepted an InitiateSession with InitSession for a call of ``conn``."""
        self.tracked.started(conn.origin_host, session_key(args), args)

    def session_ended(self, conn: SwitchConn, cgr_event: Mapping[str, Any]) -> None:
        """The call of ``cgr_event`` ended on ``conn`` (its terminate was sent)."""
        host, origin_id = session_key(cgr_event)
        self.tracked.ended(conn.origin_host, (host, origin_id))
        for tracked in self._tracked_of(conn):
            if tracked.key[1] == origin_id:  # started under another OriginHost (a switch variable changed it)
                self.tracked.ended(conn.origin_host, tracked.key)

    def tracked_call(self, origin_id: str) -> TrackedSession | None:
        """The tracked session of a call, on whichever connection."""
        return next((t for t in self.tracked if t.key[1] == origin_id), None)

    def _tracked_of(self, conn: SwitchConn) -> list[TrackedSession]:
        return [t for t in self.tracked if t.peer == conn.origin_host]

    def client_for(self, call: BackCall) -> tuple[SwitchConn, ReconnectingClient]:
        """The connection a SessionS back-call is about: the one its session was started on, else the one CGRateS
        names in the event (``FsConnID``/``EvapiConnID``). RPCError when none is."""
        links = list(self.links)
        tracked = self.tracked_call(call.origin_id)
        if tracked is not None:
            for conn, client in links:
                if conn.origin_host == tracked.peer:
                    return conn, client
        raw = call.event.get(self.conn_id_field)
        try:
            index = int(raw) if raw is not None and raw != "" else -1
        except (TypeError, ValueError):
            index = -1
        if 0 <= index < len(links):
            return links[index]
        host = as_string(call.event.get("OriginHost"))
        for conn, client in links:
            if host and conn.origin_host == host:
                return conn, client
        raise RPCError(f"{self.name}: no connection for session {call.origin_id} "
                       f"({self.conn_id_field} {raw!r}, OriginHost {host!r})")

    async def on_reconnected(self, client: ReconnectingClient) -> None:
        """A connection came back: re-sync its sessions."""
        conn = self.conn_of(client)
        if conn is not None:
            await self.resync(client, conn)

    async def resync(self, client: ReconnectingClient, conn: SwitchConn) -> None:
        """End in SessionS the sessions of ``conn`` whose calls the switch no longer has (their hangup was lost
        with the connection): charged up to when the connection was lost, CDR when ``create_cdr``."""
        if not self._tracked_of(conn):
            return
        try:
            alive = await self.switch_calls(client, conn)
        except Exception as exc:
            log.warning("<%s> %s: cannot list the switch's calls to re-sync its sessions: %s", self.name,
                        client.name, exc)
            return
        lost_at = client.lost_at if client.lost_at is not None else time.monotonic()
        gone = [t for t in self._tracked_of(conn) if t.key[1] not in alive]
        if gone:
            log.warning("<%s> %s: %d session(s) ended while the connection was down; terminating them",
                        self.name, client.name, len(gone))
        for tracked in gone:
            before, release = self.order.turn((conn.index, tracked.key[1]))
            try:
                if before is not None:
                    await asyncio.wait({before})
                if tracked.key in {t.key for t in self._tracked_of(conn)}:  # no hangup handled it meanwhile
                    self.tracked.ended(conn.origin_host, tracked.key)
                    usage = max(0, int((lost_at - tracked.started) * SECOND))
                    await self.end_lost_session(tracked, usage, "SWITCH_DISCONNECT")
            finally:
                release()

    async def end_lost_session(self, tracked: TrackedSession, usage: int, cause: str) -> None:
        """Terminate a session whose end the switch could not tell, with ``usage``; its CDR when ``create_cdr``."""
        args = tracked.args
        event = {**(args.get("Event") or {}), "Usage": usage, "DisconnectCause": cause}
        cgr_event = new_cgr_event(args.get("Tenant") or self.settings.tenant, now(), event, args.get("APIOpts"))
        _, error = await self.ask_sessions(TERMINATE, {**cgr_event, "TerminateSession": True,
                                                       "ReleaseResources": bool(args.get("AllocateResources"))})
        if error is not None:
            log.warning("<%s> terminating lost session %s: %s", self.name, event.get("OriginID"), error)
        if self.settings.create_cdr:
            _, error = await self.ask_sessions(PROCESS_CDR, cgr_event)
            if error is not None:
                log.warning("<%s> CDR of lost session %s: %s", self.name, event.get("OriginID"), error)

    # ------------------------------------------------------------------------------------------ AgentV1

    @rpc("AgentV1.DisconnectSession")
    async def disconnect_session(self, args: Any) -> str:
        """SessionS asks to end a session: {EventStart, Reason, CGRID, OriginID}. The Reason is the
        DisconnectCause, over the one the session's event started with (empty, usually: BackCall.of keeps that)."""
        call = BackCall.of(args, self.name)
        reason = args.get("Reason") if isinstance(args, Mapping) else None
        if reason:
            call = BackCall({**call.event, "DisconnectCause": reason}, call.opts, call.origin_id)
        if not call.origin_id:
            raise mandatory_ie_missing("OriginID")
        return await self.on_disconnect_session(call)

    @rpc("AgentV1.GetActiveSessionIDs")
    async def get_active_session_ids(self, args: Any) -> list[dict[str, str]]:
        """The calls every switch has now (SessionS's channel sync); for a connection that is down, the sessions
        it had (re-synced when it comes back)."""
        out: list[dict[str, str]] = []
        for conn, client in list(self.links):
            tracked = self._tracked_of(conn)
            alive = None
            if client.connected:
                try:
                    alive = await self.switch_calls(client, conn)
                except Exception as exc:
                    log.warning("<%s> %s: cannot list the switch's calls: %s", self.name, client.name, exc)
            if alive is None:
                out.extend({"OriginHost": t.key[0], "OriginID": t.key[1]} for t in tracked)
                continue
            hosts = {t.key[1]: t.key[0] for t in tracked}
            out.extend({"OriginHost": host or hosts.get(origin_id) or conn.origin_host, "OriginID": origin_id}
                       for origin_id, host in alive.items())
        return out


def first(*values: Any) -> str:
    """The first non-empty value, as text (CGRateS's FirstNonEmpty)."""
    for value in values:
        text = as_string(value)
        if text:
            return text
    return ""


__all__ = [
    "DRAIN_SECONDS",
    "TERMINATE",
    "CallOrder",
    "SwitchAgent",
    "SwitchConn",
    "SwitchSettings",
    "attributes_digest",
    "first",
    "new_cgr_event",
    "routes_with_params",
    "session_call",
    "switch_conns",
    "voice_default_usage",
]
