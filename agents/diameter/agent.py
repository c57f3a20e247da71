"""The Diameter agent (CGRateS's DiameterAgent): credit control (Gy/Ro) and any other application request through
SessionS, and the ASR/RAR/DPR SessionS asks for.

Every application request runs the ``diameter_agent.request_processors`` (agents/request.py) over the message
(``*req``: AVP paths with the ``Leaf[~Sibling(value)]`` selector) and ``*vars`` (``OriginHost``, ``OriginRealm``,
``ProductName`` of this agent; ``*app``, ``*appid``, ``*cmd`` of the request; ``RemoteHost`` = the peer's
``ip:port``). What the reply fields wrote under ``*rep`` is the answer (:mod:`agents.diameter.gy`). A request no
processor matched, whose templates failed, or whose reply cannot be encoded, is answered from the ``*err``
template with Result-Code 5012 and the E bit, as CGRateS does: never dropped.

A request that arrives again (the same CCR Session-Id and CC-Request-Number, or Origin-Host and End-to-End id;
T flag or not, in either order) gets the first one's answer and is not processed again (:mod:`.duplicates`).

SessionS reaches back through ``AgentV1``: ``DisconnectSession`` sends an Abort-Session-Request built with
``asr_template`` (or a Re-Auth-Request with ``rar_template`` when ``forced_disconnect`` is ``*rar``; nothing with
``*none``), ``AlterSession`` a Re-Auth-Request; both over the session's own connection (or another open one to the
same peer), and fail unless the peer answers 2001. The session is found by its OriginID (or InitialOriginID, where
one Diameter session is several in SessionS) among the Session-Ids of the credit-control sessions still running.
The templates read ``*req`` = the session's latest request, ``*vars`` = its variables and ``*ev`` = the event
SessionS sent (``DisconnectCause`` holds the reason). ``DisconnectPeer`` sends a DPR to the peer named by
``OriginHost`` (and ``OriginRealm``). ``GetActiveSessionIDs`` lists the sessions initiated and not yet terminated
through this agent (:mod:`agents.base`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pycgrates.agents.base import Agent, AgentSettings, BackCall, config_folders, dictionary_folder
from pycgrates.agents.dedup import DuplicateDetector
from pycgrates.agents.request import RequestError, describe
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, mandatory_ie_missing
from pycgrates.engine.template.dataprovider import MapDataProvider, as_string
from pycgrates.engine.template.fields import SelectorDataProvider, TemplateError

from .codec import DecodeError, EncodeError, ResultCode, python_value
from .dictionary import SHIPPED_DIR, Dictionary, DictionaryError, load_dictionaries
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

if TYPE_CHECKING:
    from pycgrates.engine.config import Config
    from pycgrates.engine.context import EngineContext

log = logging.getLogger("cgr.diameter")

AGENT = "DiameterAgent"
SECTION = "diameter_agent"
#: what the ASR/RAR templates write: the request's AVPs
DIAMREQ = "*diamreq"
#: the dictionary folder CGRateS installs; the shipped dictionaries/diameter tree (always loaded) stands in
CGRATES_DICT_DIR = "/usr/share/cgrates/diameter/dict"
#: advertised in CER/CEA when ce_applications is empty: what the shipped templates serve
DEFAULT_APPLICATIONS = (4, 3)  # Diameter Credit Control, Diameter Base Accounting
FORCED_DISCONNECT = ("*none", "*asr", "*rar")
PEER_ANSWER_TIMEOUT = 5.0  # seconds an ASR/RAR waits for its answer


@dataclass(slots=True, kw_only=True)
class DiameterSettings(AgentSettings):
    """The ``diameter_agent`` options besides the common ones; ``listener_key`` covers the listeners and our
    identity (CER/CEA)."""

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


class DiameterAgent(Agent[DiameterSettings]):
    """Diameter listeners in front of SessionS, and SessionS's ASR/RAR/DPR channel to the peers."""

    name = AGENT
    section = SECTION
    outputs = (DIAMREQ,)

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(ctx)
        self.server: DiameterServer | None = None
        self.duplicates: DuplicateDetector[Key, Message] = DuplicateDetector()
        self.requests = SessionRequests()

    # ------------------------------------------------------------------------------------------ config, listeners

    def configure(self, cfg: Config, sect: Mapping[str, Any], common: AgentSettings) -> DiameterSettings:
        origin_host = str(sect.get("origin_host") or "CGR-DA")
        origin_realm = str(sect.get("origin_realm") or "cgrates.org")
        product_name = str(sect.get("product_name") or "CGRateS")
        dict_path = dictionary_folder(sect.get("dictionaries_path"), config_folders(cfg), cgrates_dir=CGRATES_DICT_DIR,
                                      shipped=SHIPPED_DIR, where=f"{SECTION}.dictionaries_path")
        try:
            dictionary = load_dictionaries(*([dict_path] if dict_path else []))
        except DictionaryError as exc:
            raise TemplateError(f"{SECTION}.dictionaries_path: {exc}") from None
        applications = list(sect.get("ce_applications") or DEFAULT_APPLICATIONS)
        try:
            identity = identity_from_config(origin_host, origin_realm, int(sect.get("vendor_id") or 0),
                                            product_name, applications, dictionary)
        except ValueError as exc:
            raise TemplateError(str(exc)) from None
        forced_disconnect = str(sect.get("forced_disconnect") or "*none")
        if forced_disconnect not in FORCED_DISCONNECT:
            raise TemplateError(f"{SECTION}.forced_disconnect: {forced_disconnect!r}; use one of "
                                f"{', '.join(FORCED_DISCONNECT)}")
        listeners = _listeners(sect)
        limit = sect.get("concurrent_requests")
        return common.extend(
            DiameterSettings, origin_host=origin_host, origin_realm=origin_realm, product_name=product_name,
            identity=identity, dictionary=dictionary, listeners=listeners,
            concurrent_requests=int(limit) if limit is not None else -1,
            synced_conn_requests=bool(sect.get("synced_conn_requests")),
            asr_template=str(sect.get("asr_template") or "*asr"), rar_template=str(sect.get("rar_template") or "*rar"),
            forced_disconnect=forced_disconnect,
            listener_key=repr((listeners, identity.origin_host, identity.origin_realm, identity.vendor_id,
                               identity.product_name, identity.application_ids, dict_path)))

    async def open_listeners(self, settings: DiameterSettings) -> None:
        assert settings.identity is not None
        self.server = DiameterServer(settings.identity, settings.dictionary, self.handle,
                                     listeners=settings.listeners, concurrent_requests=settings.concurrent_requests,
                                     synced_conn_requests=settings.synced_conn_requests, tasks=self.tasks)
        await self.server.start()

    async def close_listeners(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    def keep_listeners(self, settings: DiameterSettings) -> None:
        if self.server is not None:
            self.server.dictionary = settings.dictionary
            self.server.concurrent_requests = settings.concurrent_requests

    @property
    def addresses(self) -> list[tuple[str, int, str]]:
        """Where the listeners are bound (host, port, network): a port 0 in config is resolved here."""
        return list(self.server.addresses) if self.server is not None else []

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

    async def _process(self, s: DiameterSettings, request: Message, conn: DiameterConnection) -> Message:
        if request.command is None:
            log.warning("<%s> command %d of application %d is in no loaded dictionary; answering %d", AGENT,
                        request.command_code, request.application_id, ResultCode.COMMAND_UNSUPPORTED)
            return error_answer(request, ResultCode.COMMAND_UNSUPPORTED, s.origin_host, s.origin_realm)
        vars = request_vars(request, conn, s.origin_host, s.origin_realm, s.product_name)
        dp = SelectorDataProvider(request, value_of=python_value)
        session_id = self._remember(request, conn, vars)
        try:
            rep, processed = await self.process(dp, vars, settings=s)
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

    async def _error_answer(self, s: DiameterSettings, request: Message, dp: SelectorDataProvider,
                            vars: dict[str, Any], error: RequestError | str | None) -> Message:
        """5012 with the E bit and what the ``*err`` template writes; the bare answer when even that fails."""
        fields = s.templates.get("*err")
        if fields:
            try:
                ar = await self.apply_template(fields, dp, vars, error=error, settings=s)
                return error_answer(request, ResultCode.UNABLE_TO_COMPLY, s.origin_host, s.origin_realm,
                                    ar.reply.leaves())
            except Exception as exc:  # any failure here still gets the bare answer below
                log.warning("<%s> error: %s building the *err answer to %s", AGENT, _reason(exc), describe(dp))
        return error_answer(request, ResultCode.UNABLE_TO_COMPLY, s.origin_host, s.origin_realm)

    # ------------------------------------------------------------------------------------------ to the peers

    async def _request_about_session(self, command: int, template: str, call: BackCall) -> str:
        """Build an ASR/RAR for a session with ``template``, send it over its peer's connection, expect 2001."""
        s = self.settings
        origin_id, event = call.origin_id, call.event
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
            ar = await self.apply_template(fields, SelectorDataProvider(cached.message, value_of=python_value),
                                           dict(cached.vars), providers={"*ev": MapDataProvider(dict(event))})
            message = new_request(command, cached.message, ar.output(DIAMREQ).leaves())
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

    async def on_disconnect_session(self, call: BackCall) -> str:
        """ASR (or RAR, per ``forced_disconnect``) to the session's peer."""
        s = self.settings
        if s.forced_disconnect == "*none":
            return "OK"
        if s.forced_disconnect == "*rar":
            return await self._request_about_session(CMD_RE_AUTH, s.rar_template, call)
        return await self._request_about_session(CMD_ABORT_SESSION, s.asr_template, call)

    async def on_alter_session(self, call: BackCall) -> str:
        """RAR to the session's peer."""
        return await self._request_about_session(CMD_RE_AUTH, self.settings.rar_template, call)

    async def on_disconnect_peer(self, args: Any) -> str:
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


# ---------------------------------------------------------------------------------------------------- helpers


def python_value_of(message: Message, name: str) -> Any:
    try:
        return message.value(name)
    except (DecodeError, KeyError):
        return None


def _reason(exc: BaseException) -> str:
    """An exception as a one-line reason (KeyError's repr quotes would read oddly in logs and *cgrep.Error)."""
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _listeners(sect: Mapping[str, Any]) -> list[Listener]:
    """``listeners``, or the older single ``listen``/``listen_net`` when set."""
    try:
        if sect.get("listen"):
            return [Listener.parse({"address": sect["listen"], "network": sect.get("listen_net") or "tcp"})]
        return [Listener.parse(entry) for entry in sect.get("listeners") or []]
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


__all__ = ["DiameterAgent", "DiameterSettings"]
