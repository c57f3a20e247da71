"""The Agent base: what every protocol agent shares, so that an agent is a codec, a transport and a small subclass.

To add an agent:

1. a **codec**: bytes ↔ objects, no I/O, and a DataProvider reading the decoded request as ``*req``;
2. a **transport**: asyncio listeners that only move bytes and call the agent once per request, spawning their work
   under the agent's :attr:`Agent.tasks` Supervisor;
3. a subclass of :class:`Agent` naming its ``name`` (logs, errors) and config ``section``, that
   - compiles its own options in :meth:`Agent.configure` into its settings (a subclass of :class:`AgentSettings`)
     with ``listener_key`` = what its listeners depend on, and opens/closes them in :meth:`Agent.open_listeners`/
     :meth:`Agent.close_listeners`;
   - per request: decodes, runs :meth:`Agent.process`, encodes the ``*rep`` it returns;
   - declares its own template ``outputs`` (``*diamreq``) and ``request_types`` (``*radauth``, with
     :meth:`Agent.request_handlers`) and implements the AgentV1 hooks it supports (``on_disconnect_session`` ...);
4. its line in engine/app.py's SERVICES. tests/line_agent.py is a whole agent (a line protocol) in 60 lines.

The base compiles the settings once per config and swaps them whole on reload (a request in flight keeps those it
started with); reload reopens the listeners only when ``listener_key`` changed. It reaches SessionS through
``sessions_conns`` on a Conn that carries SessionS's AgentV1 back-calls to this agent, tracks the sessions its
requests started (fed by the pipeline, :class:`SessionTracker`; ``AgentV1.GetActiveSessionIDs`` answers from it)
and owns the Supervisor of its background tasks.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pycgrates.agents.request import (
    AgentRequest,
    RequestError,
    RequestHandler,
    RequestProcessor,
    SessionKey,
    build_message,
    compile_processor,
    process_request,
)
from pycgrates.engine.metrics import agent_request_metrics
from pycgrates.engine.rpc.errors import NOT_IMPLEMENTED, RPCError, mandatory_ie_missing
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.sessions.api import V1InitSessionArgs, V1TerminateSessionArgs
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.template.dataprovider import DataProvider, as_string
from pycgrates.engine.template.fields import FieldTemplate, NavMap, TemplateError, compile_named_templates
from pycgrates.engine.template.rsr import DEFAULT_SEP

if TYPE_CHECKING:
    from pycgrates.engine.config import Config
    from pycgrates.engine.context import EngineContext

log = logging.getLogger("cgr.agents")

#: This engine's own addresses as CGRateS configs write them in an agent's sessions_conns.
SELF_CONNS = {"*localhost": "*birpc_internal", "*bijson_localhost": "*birpc_internal"}
_TEMPLATE_IN_ERROR = re.compile(r"^templates <([^>]+)>")


# ---------------------------------------------------------------------------------------------------- settings


@dataclass(slots=True, kw_only=True)
class AgentSettings:
    """What the config decides for every agent, compiled once; an agent's settings class adds its own fields."""

    tenant: str = "cgrates.org"
    timezone: str = ""
    rounding_decimals: int = 5
    separator: str = DEFAULT_SEP
    templates: dict[str, tuple[FieldTemplate, ...]] = field(default_factory=dict)
    processors: tuple[RequestProcessor, ...] = ()
    #: what the listeners depend on: a reload reopens them only when it changed
    listener_key: Any = None

    def extend(self, cls: type[S], **own: Any) -> S:
        """These settings with an agent's own options, as its settings class."""
        values = {f.name: getattr(self, f.name) for f in fields(AgentSettings)}
        values.update(own)
        return cls(**values)


S = TypeVar("S", bound=AgentSettings)


def compile_agent_templates(raw: Mapping[str, Any] | None, sep: str, agent: str) -> dict[str, tuple]:
    """The ``templates`` section for an agent; a template that does not compile is left out (logged), the rest
    stay usable."""
    remaining = dict(raw or {})
    while True:
        try:
            return compile_named_templates(remaining, sep=sep)
        except TemplateError as exc:
            match = _TEMPLATE_IN_ERROR.match(str(exc))
            if match is None or match.group(1) not in remaining:
                log.error("config: %s; the %s uses no named templates", exc, agent)
                return {}
            log.error("config: %s; template <%s> is not available to the %s", exc, match.group(1), agent)
            del remaining[match.group(1)]


def compile_agent_processors(raw: Sequence[Any], templates: Mapping[str, Sequence[Any]], sep: str, *,
                             section: str, request_types: Collection[str] = (),
                             prefixes: Collection[str] = ()) -> tuple[RequestProcessor, ...]:
    """Each processor on its own: one that does not compile is disabled with a config error naming it and the
    field (CGRateS loads such processors and fails only when one matches a request); the others run."""
    out = []
    for i, proc in enumerate(raw):
        try:
            out.append(compile_processor(proc, section=section, templates=templates, request_types=request_types,
                                         prefixes=prefixes, sep=sep, index=i))
        except TemplateError as exc:
            log.error("config: %s; this processor is disabled", exc)
    return tuple(out)


def agent_sessions_conns(cfg: Any, section: str) -> list[str]:
    """An agent's ``sessions_conns``, with this engine's own addresses (*localhost, *bijson_localhost) taken in
    process — refused with the fix named when this engine runs no SessionS; with DispatcherS running they stay
    as they are (ConnManager reaches them in process through DispatcherS)."""
    out = []
    for cid in cfg.get(section, "sessions_conns", default=None) or []:
        if cid in SELF_CONNS and cfg.get("dispatchers", "enabled", default=False):
            # this engine's address answers through its DispatcherS: so does the in-process Conn to it
            log.info("%s.sessions_conns: %s is this engine, whose DispatcherS routes the calls", section, cid)
        elif cid in SELF_CONNS:
            if not cfg.get("sessions", "enabled", default=False):
                raise TemplateError(f"{section}.sessions_conns: {cid} names this engine, whose SessionS is not "
                                    "enabled; list an rpc_conns pool of *birpc_json connections to the SessionS "
                                    "engine instead")
            log.info("%s.sessions_conns: %s is this engine; its SessionS is reached in process, where it can call "
                     "the agent back", section, cid)
            cid = SELF_CONNS[cid]
        out.append(cid)
    return out


def config_folders(cfg: Any) -> list[Path]:
    """Where relative paths of the config are looked for: the config directory, then beside its JSON files."""
    folders: list[Path] = []
    base = Path(cfg.config_dir) if getattr(cfg, "config_dir", None) else Path.cwd()
    for folder in [base.parent if base.is_file() else base,
                   *(Path(s).parent for s in getattr(cfg, "sources", None) or ())]:
        if folder not in folders:
            folders.append(folder)
    return folders


def dictionary_folder(raw: Any, folders: Sequence[Path], *, cgrates_dir: str, shipped: Path, where: str) -> str:
    """An extra dictionaries folder named in config (relative ones under ``folders``); "" for the shipped folder,
    for CGRateS's own (``cgrates_dir``, which the shipped dictionaries stand in for) and, with a warning, for one
    that does not exist: the shipped dictionaries are always loaded."""
    text = str(raw or "").strip()
    if not text:
        return ""
    candidates = [Path(text)] if Path(text).is_absolute() else [f / text for f in folders]
    path = next((c for c in candidates if c.exists()), None)
    if path is not None:
        return "" if path.resolve() == shipped else str(path)
    if text.rstrip("/") == cgrates_dir:
        log.debug("%s: %s is served by the shipped dictionaries", where, text)
    else:
        log.warning("%s: %s does not exist; skipped (the shipped dictionaries are loaded)", where, candidates[0])
    return ""


def _section_or_empty(cfg: Any, section: str) -> Any:
    try:
        return cfg.section(section)
    except KeyError:
        return {}


# ---------------------------------------------------------------------------------------------------- sessions


@dataclass(slots=True)
class TrackedSession:
    """A session this agent's requests started in SessionS."""

    peer: str
    key: SessionKey
    started: float  # monotonic seconds
    #: the InitiateSession arguments: the CGREvent and its flags (in JSON form from the switch agents, which build
    #: their events so)
    args: V1InitSessionArgs | Mapping[str, Any]


class SessionTracker:
    """The sessions started through this agent and not yet ended, per peer (the NAS, for RADIUS, whose restart ends
    its sessions; one peer "" where the agent needs no split). The pipeline reports to :meth:`peer`'s view."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._by_peer: dict[str, dict[SessionKey, TrackedSession]] = {}

    def __len__(self) -> int:
        return sum(len(sessions) for sessions in self._by_peer.values())

    def __iter__(self) -> Iterator[TrackedSession]:
        for sessions in self._by_peer.values():
            yield from sessions.values()

    def peer(self, peer: str = "") -> PeerSessions:
        """What the pipeline reports to for the requests of ``peer``."""
        return PeerSessions(self, peer)

    def started(self, peer: str, key: SessionKey, args: V1InitSessionArgs | Mapping[str, Any]) -> None:
        self._by_peer.setdefault(peer, {})[key] = TrackedSession(peer, key, self.clock(), args)

    def ended(self, peer: str, key: SessionKey) -> None:
        sessions = self._by_peer.get(peer)
        if sessions is not None and sessions.pop(key, None) is not None and not sessions:
            del self._by_peer[peer]

    def end_peer(self, peer: str) -> list[TrackedSession]:
        """Forget every session of ``peer`` (it restarted); returns them."""
        return list(self._by_peer.pop(peer, {}).values())


class PeerSessions:
    """One peer's view of a :class:`SessionTracker`: the :class:`~agents.request.SessionReport` of its requests."""

    __slots__ = ("peer", "tracker")

    def __init__(self, tracker: SessionTracker, peer: str) -> None:
        self.tracker = tracker
        self.peer = peer

    def started(self, key: SessionKey, args: V1InitSessionArgs) -> None:
        self.tracker.started(self.peer, key, args)

    def ended(self, key: SessionKey, args: V1TerminateSessionArgs) -> None:
        self.tracker.ended(self.peer, key)


@dataclass(frozen=True, slots=True)
class BackCall:
    """A SessionS back-call about one session: its event (DisconnectSession's EventStart with the Reason as
    DisconnectCause, AlterSession's Event, WarnDisconnect's whole argument), its APIOpts and its OriginID."""

    event: dict[str, Any]
    opts: Mapping[str, Any]
    origin_id: str

    @classmethod
    def of(cls, args: Any, agent: str) -> BackCall:
        if not isinstance(args, Mapping):
            raise RPCError(f"{agent}: expecting an object with the session's event, have {type(args).__name__}")
        event = args.get("Event")
        if not isinstance(event, Mapping):
            event = args.get("EventStart")
        if not isinstance(event, Mapping):
            event = {} if "Event" in args or "EventStart" in args else args
        event = dict(event)
        reason = args.get("Reason") or event.get("DisconnectCause")
        if reason:
            event.setdefault("DisconnectCause", reason)
        opts = args.get("APIOpts")
        return cls(event, opts if isinstance(opts, Mapping) else {},
                   as_string(event.get("OriginID") or args.get("OriginID") or ""))


# ---------------------------------------------------------------------------------------------------- the agent


class Agent(Generic[S]):
    """An agent in front of SessionS: settings, life cycle, the SessionS Conn and its AgentV1 back channel, the
    sessions its requests started, its background tasks."""

    #: the agent's name in logs and errors (CGRateS's: DiameterAgent, RadiusAgent, ...)
    name: ClassVar[str] = "Agent"
    #: its config section
    section: ClassVar[str] = ""
    #: template outputs of its own besides ``*cgreq *cgrep *rep *opts *vars *tmp`` (``*diamreq``, ``*radDAReq``)
    outputs: ClassVar[tuple[str, ...]] = ()
    #: request types of its own (``*radauth``), run by :meth:`request_handlers`
    request_types: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.settings: S = self.compile(ctx.cfg)
        ids = agent_sessions_conns(ctx.cfg, self.section)
        #: SessionS, on a Conn that carries its AgentV1 back-calls to this agent
        self.sessions = ctx.conns.bidirectional(ids, self) if ids else None
        self.tracked = SessionTracker()
        #: the agent's background tasks (its transports' request handlers among them)
        self.tasks = Supervisor(self.name)
        self.running = False
        self._handlers = dict(self.request_handlers())

    # ------------------------------------------------------------------------------------------ what a subclass adds

    def configure(self, cfg: Config, section: Mapping[str, Any], common: AgentSettings) -> S:
        """The agent's settings: ``common`` (compiled by the base) extended with its own options
        (``common.extend(MySettings, ...)``), ``listener_key`` among them. TemplateError names a bad option."""
        return common  # type: ignore[return-value]

    async def open_listeners(self, settings: S) -> None:
        """Open the transport's listeners for ``settings`` (a failure is cleaned up with close_listeners)."""

    async def close_listeners(self) -> None:
        """Close them, letting the requests in flight answer; nothing to do when none are open."""

    def keep_listeners(self, settings: S) -> None:
        """A reload kept the listeners: hand them what changed in ``settings`` besides ``listener_key``."""

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        """The agent's own request types (``request_types``) and what runs them."""
        return {}

    # ------------------------------------------------------------------------------------------ life cycle

    def compile(self, cfg: Config) -> S:
        """Everything the config decides for this agent, compiled once."""
        section = cfg.section(self.section) or {}
        sep = cfg.get("general", "rsr_separator", default=DEFAULT_SEP) or DEFAULT_SEP
        templates = compile_agent_templates(_section_or_empty(cfg, "templates"), sep, self.name)
        common = AgentSettings(
            tenant=cfg.get("general", "default_tenant", default="cgrates.org") or "cgrates.org",
            timezone=cfg.get("general", "default_timezone", default="") or "",
            rounding_decimals=int(cfg.get("general", "rounding_decimals", default=5) or 5),
            separator=sep,
            templates=templates,
            processors=compile_agent_processors(section.get("request_processors") or [], templates, sep,
                                                section=self.section, request_types=self.request_types,
                                                prefixes=self.outputs))
        return self.configure(cfg, section, common)

    async def start(self) -> None:
        if self.tasks.stopped:
            self.tasks = Supervisor(self.name)
        await self._open(self.settings)

    async def stop(self) -> None:
        """Close the listeners (the requests in flight answer), then end the background tasks."""
        if self.running:
            self.running = False
            await self.close_listeners()
        await self.tasks.stop()

    async def reload(self, cfg: Config) -> None:
        """New settings (processors, templates, the agent's options); the listeners reopen only when
        ``listener_key`` changed."""
        settings = self.compile(cfg)
        self.cfg = cfg
        old, self.settings = self.settings, settings
        if not self.running:
            return
        if settings.listener_key == old.listener_key:
            self.keep_listeners(settings)
            return
        log.info("<%s> listener settings changed: reopening the listeners", self.name)
        self.running = False
        await self.close_listeners()
        await self._open(settings)

    async def _open(self, settings: S) -> None:
        try:
            await self.open_listeners(settings)
        except BaseException:
            await self.close_listeners()
            raise
        self.running = True

    # ------------------------------------------------------------------------------------------ requests

    @property
    def filter_service(self) -> Any:
        return self.ctx.services.get("filters")

    @agent_request_metrics
    async def process(self, request: DataProvider, vars: dict[str, Any] | None, *, settings: S | None = None,
                      peer: str = "", providers: Mapping[str, DataProvider] | None = None) -> tuple[NavMap, bool]:
        """Run the request processors over one request (agents/request.py): the ``*rep`` and whether any matched.
        The sessions it starts and ends are tracked under ``peer``. Raises RequestError."""
        s = settings if settings is not None else self.settings
        return await process_request(
            s.processors, request, vars, self.sessions, tenant_default=s.tenant, timezone_default=s.timezone,
            filter_service=self.filter_service, agent=self.name, handlers=self._handlers or None,
            providers=providers, outputs=self.outputs, rounding_decimals=s.rounding_decimals,
            report=self.tracked.peer(peer))

    async def apply_template(self, fields: Sequence[FieldTemplate], request: DataProvider,
                             vars: dict[str, Any] | None = None, *, error: RequestError | str | None = None,
                             providers: Mapping[str, DataProvider] | None = None,
                             settings: S | None = None) -> AgentRequest:
        """A named template (``*err``, ``*asr``, ``*dmr`` ...) applied outside the processors; what it wrote is in
        the result's ``reply`` and ``output(prefix)``."""
        s = settings if settings is not None else self.settings
        return await build_message(fields, request, vars, error=error, tenant=s.tenant, timezone=s.timezone,
                                   filter_service=self.filter_service, providers=providers, outputs=self.outputs)

    # ------------------------------------------------------------------------------------------ AgentV1

    async def on_disconnect_session(self, call: BackCall) -> str:
        """End the session ``call`` names (hang up, ASR, Disconnect-Request ...)."""
        raise RPCError(NOT_IMPLEMENTED)

    async def on_alter_session(self, call: BackCall) -> str:
        """Change the session's authorization (RAR, CoA ...)."""
        raise RPCError(NOT_IMPLEMENTED)

    async def on_warn_disconnect(self, call: BackCall) -> str:
        """Warn the session's user that the credit is running out."""
        raise RPCError(NOT_IMPLEMENTED)

    async def on_disconnect_peer(self, args: Any) -> str:
        """Close the connection to a peer (DPR ...); ``args`` as SessionS sent them."""
        raise RPCError(NOT_IMPLEMENTED)

    def active_sessions(self) -> list[SessionKey]:
        """The sessions this agent started and has not seen end."""
        return [tracked.key for tracked in self.tracked]

    @rpc("AgentV1.DisconnectSession")
    async def disconnect_session(self, args: Any) -> str:
        """SessionS asks to end a session: {EventStart, Reason, CGRID, OriginID}."""
        return await self.on_disconnect_session(self._session_call(args))

    @rpc("AgentV1.AlterSession")
    async def alter_session(self, args: Any) -> str:
        """SessionS asks to change a session: a CGREvent with the session's fields and the changes."""
        return await self.on_alter_session(self._session_call(args))

    @rpc("AgentV1.WarnDisconnect")
    async def warn_disconnect(self, args: Any) -> str:
        """SessionS warns of a session about to run out of credit: its event."""
        return await self.on_warn_disconnect(BackCall.of(args, self.name))

    @rpc("AgentV1.DisconnectPeer")
    async def disconnect_peer(self, args: Any) -> str:
        """SessionS asks to close a peer connection: {OriginHost, OriginRealm, DisconnectCause}."""
        return await self.on_disconnect_peer(args)

    @rpc("AgentV1.GetActiveSessionIDs")
    async def get_active_session_ids(self, args: Any) -> list[dict[str, str]]:
        """The sessions this agent started and has not seen end (SessionS's session sync)."""
        return [{"OriginHost": host, "OriginID": origin_id} for host, origin_id in self.active_sessions()]

    def _session_call(self, args: Any) -> BackCall:
        call = BackCall.of(args, self.name)
        if not call.origin_id:
            raise mandatory_ie_missing("OriginID")
        return call


__all__ = [
    "SELF_CONNS",
    "Agent",
    "AgentSettings",
    "BackCall",
    "PeerSessions",
    "SessionTracker",
    "TrackedSession",
    "agent_sessions_conns",
    "compile_agent_processors",
    "compile_agent_templates",
    "config_folders",
    "dictionary_folder",
]
