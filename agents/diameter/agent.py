"""The Diameter agent (CGRateS's DiameterAgent): credit control (Gy/Ro) and any other application request through
SessionS, and the ASR/RAR/DPR SessionS asks for.

Every application request runs the ``diameter_agent.request_processors`` (agents/request.py) over the message
(``*req``: AVP paths with the ``Leaf[~Sibling(value)]`` selector) and ``*vars`` (``OriginHost``, ``OriginRealm``,
``ProductName`` of this agent; ``*app``, ``*appid``, ``*cmd`` of the request; ``RemoteHost`` = the peer's
``ip:port``). What the reply fields wrote under ``*rep`` is the answer (:mod:`agents.diameter.gy`). A request no
processor matched, whose templates failed, or whose reply cannot be encoded, is answered from the ``*err``
template with Result-Code 5012 and the E bit, as CGRateS does: never dropped.

A request that arrives again (the same CCR Session-Id and CC-Request-Number, or Origin-Host and End-to-End id;
T flag or not, in either order) gets the first one's answer and is not processed again (:mod:`.dedup`).

SessionS reaches back through ``AgentV1``: ``DisconnectSession`` sends an Abort-Session-Request built with
``asr_template`` (or a Re-Auth-Request with ``rar_template`` when ``forced_disconnect`` is ``*rar``; nothing with
``*none``), ``AlterSession`` a Re-Auth-Request; both over the session's own connection (or another open one to the
same peer), and fail unless the peer answers 2001. The session is found by its OriginID (or InitialOriginID, where
one Diameter session is several in SessionS) among the Session-Ids of the credit-control sessions still running.
The templates read ``*req`` = the session's latest request, ``*vars`` = its variables and ``*ev`` = the event
SessionS sent (``DisconnectCause`` holds the reason). ``DisconnectPeer`` sends a DPR to the peer named by
``OriginHost`` (and ``OriginRealm``). ``GetActiveSessionIDs`` lists the sessions initiated and not yet terminated
through this agent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycgrates.agents.dedup import DuplicateDetector
from pycgrates.agents.request import (
    RequestError,
    RequestProcessor,
    agent_sessions_conns,
    back_call_event,
    build_message,
    compile_agent_processors,
    compile_agent_templates,
    describe,
    process_request,
)
from pycgrates.engine.rpc.errors import NOT_FOUND, NOT_IMPLEMENTED, RPCError, mandatory_ie_missing
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.template.dataprovider import MapDataProvider, as_string
from pycgrates.engine.template.fields import FieldTemplate, SelectorDataProvider, TemplateError
from pycgrates.engine.template.rsr import DEFAULT_SEP

from .codec import DecodeError, EncodeError, ResultCode, python_value
from .dictionary import Dictionary, DictionaryError, load_dictionaries
from .duplicates import Key, duplicate_key, replay
from .gy import (
    CC_TERMINATION_REQUEST,
    CMD_ABORT_SESSION,
    CMD_CREDIT_CONTROL,
    CMD_RE_AUTH,
    SessionRequests,
    answer_from_reply,
    error_answer,
    new_request,
    request_vars,
    result_code,
)
from .messages import Message
from .peer import LocalIdentity, identity_from_config
from .transport import DiameterConnection, DiameterServer, Listener

log = logging.getLogger("cgr.diameter")

AGENT = "DiameterAgent"
SECTION = "diameter_agent"
#: the dictionary folder CGRateS installs; the shipped dictionaries/diameter tree (always loaded) stands in
CGRATES_DICT_DIR = "/usr/share/cgrates/diameter/dict"
#: connections naming this very engine: in one process the in-process bidirectional connection reaches the same
#: SessionS and carries its back-calls
#: advertised in CER/CEA when ce_applications is empty: what the shipped templates serve
DEFAULT_APPLICATIONS = (4, 3)  # Diameter Credit Control, Diameter Base Accounting
FORCED_DISCONNECT = ("*none", "*asr", "*rar")
INITIATE = "SessionSv1.InitiateSession"
TERMINATE = "SessionSv1.TerminateSession"
PEER_ANSWER_TIMEOUT = 5.0  # seconds an ASR/RAR waits for its answer


@dataclass(slots=True)
class _Settings:
    """Everything the config decides, compiled once (swapped whole on reload)."""

    processors: tuple[RequestProcessor, ...] = ()
    templates: dict[str, tuple[FieldTemplate, ...]] = field(default_factory=dict)
    tenant: str = "cgrates.org"
    timezone: str = ""
    rounding_decimals: int = 5
    origin_host: str = "CGR-DA"
    origin_realm: str = "cgrates.org"
    product_name: str = "CGRateS"
    identity: LocalIdentity | None = None
    dictionary: Dictionary = field(default_factory=Dictionary)
    listeners: list[Listener] = field(default_factory=list)
    concurrent_requests: int = -1
    synced_conn_requests: bool = False
    asr_template: str = "*asr"
    rar_template: str = "*rar"
    forced_disconnect: str = "*none"
    server_key: Any = None


class DiameterAgent:
    """Diameter listeners in front of SessionS, and SessionS's ASR/RAR/DPR channel to the peers."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.settings = self._compile(ctx.cfg)
        ids = agent_sessions_conns(ctx.cfg, SECTION)
        self.sessions = ctx.conns.bidirectional(ids, self) if ids else None
        self._sessions_conn = _TrackingConn(self) if self.sessions is not None else None
        self.server: DiameterServer | None = None
        self.duplicates: DuplicateDetector[Key, Message] = DuplicateDetector()
        self.requests = SessionRequests()
        self._active: dict[tuple[str, str], None] = {}

    # ------------------------------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self.server = self._new_server(self.settings)
        try:
            await self.server.start()
        except BaseException:
            await self.server.stop(drain_timeout=0)
            raise

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def reload(self, cfg: Any) -> None:
        """New processors, templates and dictionaries; the listeners reopen only when they or our identity
        changed."""
        settings = self._compile(cfg)
        self.cfg = cfg
        old, self.settings = self.settings, settings
        if self.server is None:
            return
        if settings.server_key != old.server_key:
            await self.server.stop()
            self.server = self._new_server(settings)
            await self.server.start()
        else:
            self.server.dictionary = settings.dictionary
            self.server.concurrent_requests = settings.concurrent_requests

    def _new_server(self, s: _Settings) -> DiameterServer:
        assert s.identity is not None
        return DiameterServer(s.identity, s.dictionary, self.handle, listeners=s.listeners,
                              concurrent_requests=s.concurrent_requests,
                              synced_conn_requests=s.synced_conn_requests)

    @property
    def filter_service(self) -> Any:
        return self.ctx.services.get("filters")

    @property
    def addresses(self) -> list[tuple[str, int, str]]:
        """Where the listeners are bound (host, port, network): a port 0 in config is resolved here."""
        return list(self.server.addresses) if self.server is not None else []

    # ------------------------------------------------------------------------------------------ config

    def _compile(self, cfg: Any) -> _Settings:
        sect = cfg.section(SECTION) or {}
        sep = cfg.get("general", "rsr_separator", default=DEFAULT_SEP) or DEFAULT_SEP
        s = _Settings()
        s.tenant = cfg.get("general", "default_tenant", default="cgrates.org") or "cgrates.org"
        s.timezone = cfg.get("general", "default_timezone", default="") or ""
        s.rounding_decimals = int(cfg.get("general", "rounding_decimals", default=5) or 5)
        s.templates = compile_agent_templates(_section_or_empty(cfg, "templates"), sep, AGENT)
        s.processors = compile_agent_processors(sect.get("request_processors") or [], s.templates, sep, section=SECTION)
        s.origin_host = str(sect.get("origin_host") or "CGR-DA")
        s.origin_realm = str(sect.get("origin_realm") or "cgrates.org")
        s.product_name = str(sect.get("product_name") or "CGRateS")
        dict_path = _dictionary_path(sect.get("dictionaries_path"), cfg.config_dir)
        try:
            s.dictionary = load_dictionaries(*([dict_path] if dict_path else []))
        except DictionaryError as exc:
            raise TemplateError(f"{SECTION}.dictionaries_path: {exc}") from None
        applications = list(sect.get("ce_applications") or DEFAULT_APPLICATIONS)
        try:
            s.identity = identity_from_config(s.origin_host, s.origin_realm, int(sect.get("vendor_id") or 0),
                                              s.product_name, applications, s.dictionary)
        except ValueError as exc:
            raise TemplateError(str(exc)) from None
        s.listeners = _listeners(sect)
        limit = sect.get("concurrent_requests")
        s.concurrent_requests = int(limit) if limit is not None else -1
        s.synced_conn_requests = bool(sect.get("synced_conn_requests"))
        s.asr_template = str(sect.get("asr_template") or "*asr")
        s.rar_template = str(sect.get("rar_template") or "*rar")
        s.forced_disconnect = str(sect.get("forced_disconnect") or "*none")
        if s.forced_disconnect not in FORCED_DISCONNECT:
            raise TemplateError(f"{SECTION}.forced_disconnect: {s.forced_disconnect!r}; use one of "
                                f"{', '.join(FORCED_DISCONNECT)}")
        ident = s.identity
        s.server_key = repr((s.listeners, ident.origin_host, ident.origin_realm, ident.vendor_id, ident.product_name,
                             ident.application_ids, dict_path))
        return s

    # ------------------------------------------------------------------------------------------ requests

    async def handle(self, request: Message, conn: DiameterConnection) -> Message:
        """One application request from a peer: its answer (a duplicate gets the first arrival's answer)."""
        s = self.settings
        key = duplicate_key(request)
        if key is None:
            return await self._process(s, request, conn)
        answer, duplicate = await self.duplicates.once(key, asyncio.get_running_loop().time,
                                                       lambda: self._process(s, request, conn))
        if not duplicate:
            return answer
        log.info("<%s> %s %s from %s (%s) is a duplicate%s: answered as the first one", AGENT,
                 request.command_name, key[1:], conn.remote_host, conn.remote_address,
                 " (T flag)" if request.is_retransmit else "")
        return replay(answer, request)

    async def _process(self, s: _Settings, request: Message, conn: DiameterConnection) -> Message:
        if request.command is None:
            log.warning("<%s> command %d of application %d is in no loaded dictionary; answering %d", AGENT,
                        request.command_code, request.application_id, ResultCode.COMMAND_UNSUPPORTED)
            return error_answer(request, ResultCode.COMMAND_UNSUPPORTED, s.origin_host, s.origin_realm)
        vars = request_vars(request, conn, s.origin_host, s.origin_realm, s.product_name)
        dp = SelectorDataProvider(request, value_of=python_value)
        session_id = self._remember(request, conn, vars)
        try:
            rep, processed = await process_request(
                s.processors, dp, vars, self._sessions_conn, tenant_default=s.tenant, timezone_default=s.timezone,
                filter_service=self.filter_service, agent=AGENT, rounding_decimals=s.rounding_decimals)
        except RequestError as exc:
            log.warning("<%s> error: %s processing message: %s from %s", AGENT, exc, describe(dp),
                        conn.remote_address)
            return await self._error_answer(s, request, dp, vars, exc)
        if not processed:
            log.warning("<%s> no request processor enabled, ignoring message %s from %s", AGENT, describe(dp),
                        conn.remote_address)
            return await self._error_answer(s, request, dp, vars, None)
        try:
            answer = answer_from_reply(request, rep.leaves(), s.origin_host, s.origin_realm)
        except (EncodeError, KeyError, ValueError) as exc:
            log.warning("<%s> error: %s, replying to message: %s from %s", AGENT, _reason(exc), describe(dp),
                        conn.remote_address)
            return await self._error_answer(s, request, dp, vars, _reason(exc))
        if session_id is not None and python_value_of(request, "CC-Request-Type") == CC_TERMINATION_REQUEST:
            self.requests.forget(session_id)
        return answer

    def _remember(self, request: Message, conn: DiameterConnection, vars: dict[str, Any]) -> str | None:
        """Keep a credit-control request as its session's latest, for an ASR/RAR about that session."""
        if request.command_code != CMD_CREDIT_CONTROL:
            return None
        session_id = python_value_of(request, "Session-Id")
        if session_id is None:
            return None
        session_id = str(session_id)
        self.requests.remember(session_id, request, conn, vars)
        return session_id

    async def _error_answer(self, s: _Settings, request: Message, dp: SelectorDataProvider, vars: dict[str, Any],
                            error: RequestError | str | None) -> Message:
        """5012 with the E bit and what the ``*err`` template writes; the bare answer when even that fails."""
        fields = s.templates.get("*err")
        if fields:
            try:
                ar = await build_message(fields, dp, vars, error=error, tenant=s.tenant, timezone=s.timezone,
                                         filter_service=self.filter_service)
                return error_answer(request, ResultCode.UNABLE_TO_COMPLY, s.origin_host, s.origin_realm,
                                    ar.reply.leaves())
            except Exception as exc:  # any failure here still gets the bare answer below
                log.warning("<%s> error: %s building the *err answer to %s", AGENT, _reason(exc), describe(dp))
        return error_answer(request, ResultCode.UNABLE_TO_COMPLY, s.origin_host, s.origin_realm)

    # ------------------------------------------------------------------------------------------ to the peers

    async def _request_about_session(self, command: int, template: str, origin_id: str,
                                     event: Mapping[str, Any]) -> str:
        """Build an ASR/RAR for a session with ``template``, send it over its peer's connection, expect 2001."""
        s = self.settings
        what = "ASR" if command == CMD_ABORT_SESSION else "RAR"
        fields = s.templates.get(template)
        if fields is None:
            raise RPCError(f"{NOT_FOUND}: {what} template {template} (templates section)")
        cached = self.requests.get(origin_id)
        if cached is None and event.get("InitialOriginID"):
            # a session per Rating-Group has OriginID <Session-Id>_rg<N>; CGRateS's data samples and ours keep the
            # Diameter Session-Id as InitialOriginID
            cached = self.requests.get(as_string(event["InitialOriginID"]))
        if cached is None:
            raise RPCError(f"{what} for session {origin_id}: no request of this Session-Id is known to the "
                           f"agent (ended, or started before a restart): {NOT_FOUND}")
        try:
            ar = await build_message(fields, SelectorDataProvider(cached.message, value_of=python_value),
                                     dict(cached.vars), tenant=s.tenant, timezone=s.timezone,
                                     filter_service=self.filter_service, providers={"*ev": MapDataProvider(
                                         dict(event))})
            message = new_request(command, cached.message, ar.diam_request.leaves())
            conn = self.requests.connection(cached, self.server.connections if self.server else ())
        except (EncodeError, KeyError, ValueError, RPCError, ConnectionError) as exc:
            raise RPCError(f"{what} for session {origin_id}: {_reason(exc)}") from None
        try:
            answer = await conn.send_request(message, PEER_ANSWER_TIMEOUT)
        except (ConnectionError, TimeoutError) as exc:
            reason = str(exc) or f"no answer within {PEER_ANSWER_TIMEOUT}s"
            raise RPCError(f"{what} for session {origin_id} to {conn.remote_host}: {reason}") from None
        code = result_code(answer)
        if code != ResultCode.SUCCESS:
            raise RPCError(f"{what} for session {origin_id}: {conn.remote_host} answered Result-Code {code}")
        log.info("<%s> %s for session %s answered %d by %s", AGENT, what, origin_id, code, conn.remote_host)
        return "OK"

    @rpc("AgentV1.DisconnectSession")
    async def disconnect_session(self, args: Mapping[str, Any]) -> str:
        """SessionS asks to end a session: ASR (or RAR, per ``forced_disconnect``) to its peer."""
        event, _ = back_call_event(args, AGENT)
        origin_id = as_string(event.get("OriginID") or args.get("OriginID") or "")
        if not origin_id:
            raise mandatory_ie_missing("OriginID")
        reason = args.get("Reason") or event.get("DisconnectCause")
        if reason:
            event.setdefault("DisconnectCause", reason)
        s = self.settings
        if s.forced_disconnect == "*none":
            return "OK"
        if s.forced_disconnect == "*rar":
            return await self._request_about_session(CMD_RE_AUTH, s.rar_template, origin_id, event)
        return await self._request_about_session(CMD_ABORT_SESSION, s.asr_template, origin_id, event)

    @rpc("AgentV1.AlterSession")
    async def alter_session(self, args: Mapping[str, Any]) -> str:
        """SessionS asks to re-authorize a session: RAR to its peer."""
        event, _ = back_call_event(args, AGENT)
        origin_id = as_string(event.get("OriginID") or "")
        if not origin_id:
            raise mandatory_ie_missing("OriginID")
        return await self._request_about_session(CMD_RE_AUTH, self.settings.rar_template, origin_id, event)

    @rpc("AgentV1.DisconnectPeer")
    async def disconnect_peer(self, args: Mapping[str, Any]) -> str:
        """DPR to the peer ``OriginHost`` (optionally of ``OriginRealm``) with ``DisconnectCause`` (0 rebooting,
        1 busy, 2 do not want to talk to you)."""
        if not isinstance(args, Mapping) or not args.get("OriginHost"):
            raise mandatory_ie_missing("OriginHost")
        host, realm = str(args["OriginHost"]), str(args.get("OriginRealm") or "")
        try:
            cause = int(args.get("DisconnectCause") or 0)
        except (TypeError, ValueError):
            raise RPCError(f"DisconnectPeer: DisconnectCause {args.get('DisconnectCause')!r} is not 0, 1 or 2") \
                from None
        conns = [c for c in (self.server.connections if self.server else ())
                 if c.remote_host == host and (not realm or c.remote_realm == realm)]
        if not conns:
            raise RPCError(f"{NOT_FOUND}: no connection to diameter peer {host}")
        await asyncio.gather(*(c.disconnect(cause) for c in conns))
        return "OK"

    @rpc("AgentV1.GetActiveSessionIDs")
    async def get_active_session_ids(self, args: Any) -> list[dict[str, str]]:
        """The sessions this agent initiated and has not seen terminate (for SessionS's session sync)."""
        return [{"OriginHost": host, "OriginID": oid} for host, oid in self._active]

    @rpc("AgentV1.WarnDisconnect")
    async def warn_disconnect(self, args: Any) -> str:
        raise RPCError(NOT_IMPLEMENTED)

    def _track(self, method: str, args: Any) -> None:
        if not isinstance(args, Mapping):
            return
        event = args.get("Event") or {}
        key = (as_string(event.get("OriginHost") or ""), as_string(event.get("OriginID") or ""))
        if method == INITIATE and args.get("InitSession"):
            self._active[key] = None
        elif method == TERMINATE:
            self._active.pop(key, None)


class _TrackingConn:
    """The SessionS connection as the processors use it: notes the sessions started and ended through it."""

    __slots__ = ("agent",)

    def __init__(self, agent: DiameterAgent) -> None:
        self.agent = agent

    async def call(self, method: str, args: Any, timeout: float | None = None) -> Any:
        conn = self.agent.sessions
        assert conn is not None
        result = await (conn.call(method, args) if timeout is None else conn.call(method, args, timeout))
        if method in (INITIATE, TERMINATE):
            self.agent._track(method, args)
        return result


# ---------------------------------------------------------------------------------------------------- helpers


def python_value_of(message: Message, name: str) -> Any:
    try:
        return message.value(name)
    except (DecodeError, KeyError):
        return None


def _reason(exc: BaseException) -> str:
    """An exception as a one-line reason (KeyError's repr quotes would read oddly in logs and *cgrep.Error)."""
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _section_or_empty(cfg: Any, section: str) -> Any:
    try:
        return cfg.section(section)
    except KeyError:
        return {}






def _listeners(sect: Mapping[str, Any]) -> list[Listener]:
    """``listeners``, or the older single ``listen``/``listen_net`` when set."""
    try:
        if sect.get("listen"):
            return [Listener.parse({"address": sect["listen"], "network": sect.get("listen_net") or "tcp"})]
        return [Listener.parse(entry) for entry in sect.get("listeners") or []]
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


def _dictionary_path(raw: Any, config_dir: Any) -> str:
    """The extra dictionaries folder: relative to the config directory; CGRateS's own folder and a missing one
    leave the shipped dictionaries alone (the latter with a warning)."""
    text = str(raw or "").strip()
    if not text:
        return ""
    base = Path(config_dir) if config_dir else Path.cwd()
    if base.is_file():
        base = base.parent
    path = Path(text) if Path(text).is_absolute() else base / text
    if path.exists():
        return str(path)
    if text.rstrip("/") == CGRATES_DICT_DIR:
        log.debug("%s.dictionaries_path: %s is served by the shipped dictionaries", SECTION, text)
    else:
        log.warning("%s.dictionaries_path: %s does not exist; only the shipped dictionaries are loaded", SECTION,
                    path)
    return ""


__all__ = ["DiameterAgent"]
