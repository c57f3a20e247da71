"""The RADIUS agent (CGRateS's RadiusAgent): NAS authorization and accounting through SessionS, and RFC 5176
Disconnect/CoA requests back to the NAS when SessionS asks for them.

Access-Request and Accounting-Request run the ``radius_agent.request_processors`` (agents/request.py) over the
packet (``*req``, see :mod:`agents.radius.processing`). A request no processor matched, or whose templates failed,
gets no reply (the NAS retries or fails over), as in CGRateS, and a log line names the packet. ``*radauth``
processors check the password left in ``*vars.UserPassword`` (by AttributeS, typically) against the PAP, CHAP,
MS-CHAP or MS-CHAPv2 credentials of the request; a failure sets ``*cgrep.Error`` to ``RADAUTH_FAILED``.

Accounting-On and Accounting-Off (the NAS restarted) end every session this agent started for that NAS: each is
terminated in SessionS with the time since its Start and its CDR is processed; the request is answered even when
no processor matched it.

For dynamic authorization, Accounting-Requests from the NASes listed in ``client_da_addresses`` are kept under
``requests_cache_key`` (until their Stop). ``AgentV1.DisconnectSession`` builds a Disconnect-Request with the
``dmr_template`` (``*req`` is the session's event with DisconnectCause, ``*oreq`` the cached packet) and
``AgentV1.AlterSession`` a CoA-Request with the ``coa_template``; both go to the NAS's port 3799 and fail with a
clear error on a NAK or when the NAS does not answer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycgrates.agents.request import (
    AgentRequest,
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
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.fields import FieldTemplate, TemplateError
from pycgrates.engine.template.rsr import DEFAULT_SEP, RSRParsers, parse_rsr
from pycgrates.engine.units import SECOND, format_time, now

from .codec import (
    ACCESS_ACCEPT,
    ACCESS_REQUEST,
    ACCOUNTING_REQUEST,
    ACCOUNTING_RESPONSE,
    COA_REQUEST,
    DISCONNECT_REQUEST,
    Packet,
    RadiusError,
)
from .dictionary import SHIPPED_DIR, Dictionary, DictionaryError, load_client_dictionaries
from .dynauth import DEFAULT_PORT, DynAuthClient, DynAuthError
from .processing import (
    DA_REQUEST,
    NAS_RESTART,
    ORIGINAL_REQUEST,
    RADAUTH,
    RADAUTH_FAILED,
    USER_PASSWORD_VAR,
    RadiusDataProvider,
    acct_status,
    add_attributes,
    authenticate,
    queue_auth_reply,
    request_vars,
)
from .server import DEFAULT_CLIENT, ClientTable, RadiusServer

log = logging.getLogger("cgr.radius")

AGENT = "RadiusAgent"
SECTION = "radius_agent"
#: the dictionary folder CGRateS installs; here the shipped dictionaries/radius tree (always loaded) stands in
CGRATES_DICT_DIR = "/usr/share/cgrates/radius/dict"
#: connections that name this very engine; a plain JSON connection cannot carry SessionS's back-calls, and in
#: one process the in-process bidirectional connection reaches the same SessionS
INITIATE = "SessionSv1.InitiateSession"
TERMINATE = "SessionSv1.TerminateSession"
PROCESS_CDR = "SessionSv1.ProcessCDR"
#: cached Accounting-Requests kept for Disconnect/CoA (least recently refreshed dropped first)
DA_CACHE_SIZE = 200_000
DA_TIMEOUT = 1.0  # seconds per attempt towards the NAS
DA_RETRIES = 2


@dataclass(frozen=True, slots=True)
class DAClient:
    """Where Disconnect/CoA requests for one NAS go (``client_da_addresses``)."""

    client: str
    host: str
    port: int
    transport: str
    log: bool


@dataclass(slots=True)
class _Tracked:
    """A session this agent initiated, kept to end it when its NAS restarts and to answer session syncs."""

    started: float
    args: dict[str, Any]


@dataclass(slots=True)
class _Settings:
    """Everything the config decides, compiled once (swapped whole on reload)."""

    processors: tuple[RequestProcessor, ...] = ()
    templates: dict[str, tuple[FieldTemplate, ...]] = field(default_factory=dict)
    tenant: str = "cgrates.org"
    timezone: str = ""
    rounding_decimals: int = 5
    cache_key: RSRParsers | None = None
    dmr_template: str = "*dmr"
    coa_template: str = "*coa"
    da_clients: dict[str, DAClient] = field(default_factory=dict)
    listeners: list[dict[str, Any]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    dictionaries: dict[str, Dictionary] = field(default_factory=dict)
    secret_of: ClientTable[str] = field(default_factory=lambda: ClientTable({}))
    dictionary_of: ClientTable[Dictionary] = field(default_factory=lambda: ClientTable({}))
    server_key: Any = None


class RadiusAgent:
    """RADIUS auth/acct listeners in front of SessionS, and SessionS's Disconnect/CoA channel to the NASes."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.settings = self._compile(ctx.cfg)
        ids = agent_sessions_conns(ctx.cfg, SECTION)
        self.sessions = ctx.conns.bidirectional(ids, self) if ids else None
        self.server: RadiusServer | None = None
        self._da_cache: OrderedDict[str, tuple[Packet, str]] = OrderedDict()
        self._active: dict[str, dict[tuple[str, str], _Tracked]] = {}

    # ------------------------------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self.server = self._new_server(self.settings)
        try:
            await self.server.start(self.settings.listeners)
        except BaseException:
            await self.server.close()
            raise

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    async def reload(self, cfg: Any) -> None:
        """New processors, templates and clients; the listeners are reopened only when they changed."""
        settings = self._compile(cfg)
        self.cfg = cfg
        old, self.settings = self.settings, settings
        if self.server is not None and settings.server_key != old.server_key:
            await self.server.close()
            self.server = self._new_server(settings)
            await self.server.start(settings.listeners)

    def _new_server(self, settings: _Settings) -> RadiusServer:
        return RadiusServer(self.handle, secrets=settings.secrets, dictionaries=settings.dictionaries)

    @property
    def filter_service(self) -> Any:
        return self.ctx.services.get("filters")

    # ------------------------------------------------------------------------------------------ config

    def _compile(self, cfg: Any) -> _Settings:
        sect = cfg.section(SECTION) or {}
        sep = cfg.get("general", "rsr_separator", default=DEFAULT_SEP) or DEFAULT_SEP
        s = _Settings()
        s.tenant = cfg.get("general", "default_tenant", default="cgrates.org") or "cgrates.org"
        s.timezone = cfg.get("general", "default_timezone", default="") or ""
        s.rounding_decimals = int(cfg.get("general", "rounding_decimals", default=5) or 5)
        s.templates = compile_agent_templates(cfg.section("templates") if _has(cfg, "templates") else {}, sep, AGENT)
        s.processors = compile_agent_processors(sect.get("request_processors") or [], s.templates, sep, section=SECTION,
                                                request_types=(RADAUTH,), prefixes=(DA_REQUEST,))
        key = sect.get("requests_cache_key") or ""
        if key:
            try:
                s.cache_key = parse_rsr(key, sep)
            except RSRError as exc:
                raise TemplateError(f"{SECTION}.requests_cache_key: {exc}") from None
        s.dmr_template = sect.get("dmr_template") or "*dmr"
        s.coa_template = sect.get("coa_template") or "*coa"
        s.listeners = _listeners(sect)
        s.secrets = dict(sect.get("client_secrets") or {})
        if DEFAULT_CLIENT not in s.secrets and not s.secrets:
            log.warning("%s.client_secrets is empty: every RADIUS packet will be dropped", SECTION)
        dict_paths = _dictionary_paths(sect.get("client_dictionaries") or {}, _config_folders(cfg))
        try:
            s.dictionaries = load_client_dictionaries(dict_paths)
        except DictionaryError as exc:
            raise TemplateError(str(exc)) from None
        s.secret_of = ClientTable(s.secrets, f"{SECTION}.client_secrets")
        s.dictionary_of = ClientTable(s.dictionaries, f"{SECTION}.client_dictionaries")
        s.da_clients = _da_clients(sect.get("client_da_addresses") or {})
        s.server_key = repr((s.listeners, sorted(s.secrets.items()), sorted(dict_paths.items())))
        return s

    # ------------------------------------------------------------------------------------------ requests

    async def handle(self, request: Packet, client: Any) -> Packet | None:
        """One Access-Request or Accounting-Request from a NAS: the reply, or None for no reply."""
        s = self.settings
        dp = RadiusDataProvider(request)
        vars = request_vars(request, client.remote_address)
        is_auth = request.code == ACCESS_REQUEST
        status = acct_status(request) if request.code == ACCOUNTING_REQUEST else ""
        conn = _NASConn(self, client.host) if self.sessions is not None and not is_auth else self.sessions
        try:
            rep, processed = await process_request(
                s.processors, dp, vars, conn, tenant_default=s.tenant, timezone_default=s.timezone,
                filter_service=self.filter_service, agent=AGENT, handlers={RADAUTH: self._radauth},
                rounding_decimals=s.rounding_decimals)
        except RequestError as exc:
            log.warning("<%s> error: <%s> ignoring %s from %s: %s", AGENT, exc, request.code_name,
                        client.remote_address, describe(dp))
            return None
        if status in NAS_RESTART:
            await self._nas_restarted(client.host, status)
        elif not processed:
            log.warning("<%s> no request processor enabled, ignoring %s from %s: %s", AGENT, request.code_name,
                        client.remote_address, describe(dp))
            return None
        if request.code == ACCOUNTING_REQUEST and s.cache_key is not None:
            self._cache_for_da(s, dp, vars, client.host, status)
        reply = request.reply(ACCESS_ACCEPT if is_auth else ACCOUNTING_RESPONSE)
        try:
            add_attributes(reply, rep.leaves(), f"{SECTION} reply")
        except RadiusError as exc:
            log.error("<%s> %s; not replying to %s from %s: %s", AGENT, exc, request.code_name,
                      client.remote_address, describe(dp))
            return None
        if dp.auth_reply and reply.code == ACCESS_ACCEPT:
            queue_auth_reply(reply, dp)
        return reply

    async def _radauth(self, ar: AgentRequest) -> None:
        """``*radauth``: the request's credentials against ``*vars.UserPassword``."""
        dp = ar.request
        assert isinstance(dp, RadiusDataProvider) and ar.processor is not None
        password = ar.vars.get(USER_PASSWORD_VAR)
        if password is None:
            ar.cgr_reply = {**ar.cgr_reply, "Error": NOT_FOUND}
            return
        try:
            ok = authenticate(ar.processor.flags, dp, as_string(password))
        except (RPCError, ValueError) as exc:
            ar.cgr_reply = {**ar.cgr_reply, "Error": str(exc)}
            return
        if not ok:
            dp.auth_reply.clear()
            ar.cgr_reply = {**ar.cgr_reply, "Error": RADAUTH_FAILED}

    # ------------------------------------------------------------------------------------------ NAS sessions

    def _track(self, nas: str, args: Mapping[str, Any]) -> None:
        event = args.get("Event") or {}
        key = (as_string(event.get("OriginHost") or ""), as_string(event.get("OriginID") or ""))
        self._active.setdefault(nas, {})[key] = _Tracked(time.monotonic(), dict(args))

    def _untrack(self, nas: str, args: Mapping[str, Any]) -> None:
        event = args.get("Event") or {}
        key = (as_string(event.get("OriginHost") or ""), as_string(event.get("OriginID") or ""))
        sessions = self._active.get(nas)
        if sessions is not None and sessions.pop(key, None) is not None and not sessions:
            del self._active[nas]

    async def _nas_restarted(self, nas: str, status: str) -> None:
        """Accounting-On/Off: the NAS lost its sessions; end ours for it, each with its CDR."""
        sessions = self._active.pop(nas, {})
        for key in [k for k, (_, host) in self._da_cache.items() if host == nas]:
            del self._da_cache[key]
        if not sessions or self.sessions is None:
            return
        log.info("<%s> %s from NAS %s: ending its %d sessions", AGENT, status, nas, len(sessions))
        limit = asyncio.Semaphore(64)

        async def end(tracked: _Tracked) -> None:
            async with limit:
                await self._end_lost_session(tracked)

        await asyncio.gather(*(end(t) for t in sessions.values()))

    async def _end_lost_session(self, tracked: _Tracked) -> None:
        args = tracked.args
        event = {**(args.get("Event") or {}), "Usage": int((time.monotonic() - tracked.started) * SECOND),
                 "DisconnectCause": "NAS-Reboot"}
        cgr_event = {"Tenant": args.get("Tenant") or self.settings.tenant, "ID": secrets.token_hex(4)[:7],
                     "Time": format_time(now()), "Event": event, "APIOpts": dict(args.get("APIOpts") or {})}
        assert self.sessions is not None
        try:
            await self.sessions.call(TERMINATE, {**cgr_event, "TerminateSession": True,
                                                 "ReleaseResources": bool(args.get("AllocateResources"))})
            await self.sessions.call(PROCESS_CDR, cgr_event)
        except (RPCError, OSError, TimeoutError) as exc:
            log.warning("<%s> ending session %s after its NAS restarted: %s", AGENT, event.get("OriginID"), exc)

    # ------------------------------------------------------------------------------------------ Disconnect/CoA

    def _cache_for_da(self, s: _Settings, dp: RadiusDataProvider, vars: dict[str, Any], nas: str,
                      status: str) -> None:
        if nas not in s.da_clients or s.cache_key is None:
            return
        try:
            key = s.cache_key.parse(AgentRequest(dp, vars))
        except (RPCError, ValueError) as exc:
            log.warning("<%s> requests_cache_key of a packet from %s: %s", AGENT, nas, exc)
            return
        if status == "Stop":
            self._da_cache.pop(key, None)
            return
        self._da_cache[key] = (dp.packet, nas)
        self._da_cache.move_to_end(key)
        while len(self._da_cache) > DA_CACHE_SIZE:
            self._da_cache.popitem(last=False)

    async def _send_da(self, code: int, template: str, origin_id: str, event: Mapping[str, Any]) -> str:
        s = self.settings
        what = "Disconnect-Request" if code == DISCONNECT_REQUEST else "CoA-Request"
        fields = s.templates.get(template)
        if fields is None:
            raise RPCError(f"{NOT_FOUND}: {'DMR' if code == DISCONNECT_REQUEST else 'CoA'} Template {template}")
        cached = self._da_cache.get(origin_id)
        if cached is None:
            raise RPCError(f"{what} for session {origin_id}: no Accounting-Request of it is cached "
                           f"(requests_cache_key, client_da_addresses): {NOT_FOUND}")
        packet, nas = cached
        target = s.da_clients.get(nas)
        if target is None:
            raise RPCError(f"{what} for session {origin_id}: NAS {nas} is not in client_da_addresses: {NOT_FOUND}")
        ar = await build_message(fields, MapDataProvider(dict(event)), None, tenant=s.tenant, timezone=s.timezone,
                                 filter_service=self.filter_service,
                                 providers={ORIGINAL_REQUEST: RadiusDataProvider(packet)}, outputs=(DA_REQUEST,))
        secret = s.secret_of.lookup(nas)
        if secret is None:
            raise RPCError(f"{what} to NAS {nas}: no client_secrets entry for it")
        client = DynAuthClient(target.host, target.port, secret=secret,
                               dictionary=s.dictionary_of.lookup(nas) or packet.dictionary,
                               transport=target.transport, timeout=DA_TIMEOUT, retries=DA_RETRIES)
        request = client.new_request(code)
        try:
            add_attributes(request, ar.output(DA_REQUEST).leaves(), f"template {template}")
        except RadiusError as exc:
            raise RPCError(f"{what} for session {origin_id}: {exc}") from None
        if target.log:
            log.info("<%s> LOG, sending %s for session with ID '%s' to '%s': %s", AGENT, what, origin_id,
                     client.nas, request)
        try:
            result = await client.send(request)
        except DynAuthError as exc:
            raise RPCError(f"{what} for session {origin_id}: {exc}") from None
        if not result.acked:
            cause = result.error_cause_name
            raise RPCError(f"{what} for session {origin_id}: received {result.code_name} from NAS {client.nas}"
                           + (f" (Error-Cause {cause})" if cause else ""))
        return "OK"

    @rpc("AgentV1.DisconnectSession")
    async def disconnect_session(self, args: Mapping[str, Any]) -> str:
        """SessionS asks to hang a session up: a Disconnect-Request to its NAS."""
        event, opts = back_call_event(args, AGENT)
        origin_id = as_string(event.get("OriginID") or args.get("OriginID") or "")
        if not origin_id:
            raise mandatory_ie_missing("OriginID")
        reason = args.get("Reason") or event.get("DisconnectCause")
        if reason:
            event.setdefault("DisconnectCause", reason)
        template = as_string(opts.get("*radDMRTemplate") or self.settings.dmr_template)
        return await self._send_da(DISCONNECT_REQUEST, template, origin_id, event)

    @rpc("AgentV1.AlterSession")
    async def alter_session(self, args: Mapping[str, Any]) -> str:
        """SessionS asks to change a session's authorization: a CoA-Request to its NAS."""
        event, opts = back_call_event(args, AGENT)
        origin_id = as_string(event.get("OriginID") or "")
        if not origin_id:
            raise mandatory_ie_missing("OriginID")
        template = as_string(opts.get("*radCoATemplate") or self.settings.coa_template)
        return await self._send_da(COA_REQUEST, template, origin_id, event)

    @rpc("AgentV1.GetActiveSessionIDs")
    async def get_active_session_ids(self, args: Any) -> list[dict[str, str]]:
        """The sessions this agent initiated and has not seen end (for SessionS's session sync)."""
        return [{"OriginHost": host, "OriginID": oid} for sessions in self._active.values() for host, oid in sessions]

    @rpc("AgentV1.WarnDisconnect")
    async def warn_disconnect(self, args: Any) -> str:
        raise RPCError(NOT_IMPLEMENTED)

    @rpc("AgentV1.DisconnectPeer")
    async def disconnect_peer(self, args: Any) -> str:
        raise RPCError(NOT_IMPLEMENTED)


class _NASConn:
    """The SessionS connection as one NAS's accounting uses it: remembers the sessions it starts and ends."""

    __slots__ = ("agent", "nas")

    def __init__(self, agent: RadiusAgent, nas: str) -> None:
        self.agent = agent
        self.nas = nas

    async def call(self, method: str, args: Any, timeout: float | None = None) -> Any:
        conn = self.agent.sessions
        assert conn is not None
        result = await (conn.call(method, args) if timeout is None else conn.call(method, args, timeout))
        if method == INITIATE and args.get("InitSession"):
            self.agent._track(self.nas, args)
        elif method == TERMINATE:
            self.agent._untrack(self.nas, args)
        return result


# ---------------------------------------------------------------------------------------------------- config


def _has(cfg: Any, section: str) -> bool:
    try:
        cfg.section(section)
    except KeyError:
        return False
    return True







def _listeners(sect: Mapping[str, Any]) -> list[dict[str, Any]]:
    if sect.get("listen_net"):
        return [{"network": sect["listen_net"], "auth_address": sect.get("listen_auth") or "",
                 "acct_address": sect.get("listen_acct") or ""}]
    return [dict(item) for item in sect.get("listeners") or []]


def _config_folders(cfg: Any) -> list[Path]:
    """Where relative paths of the config are looked for: the config directory, then beside its JSON files."""
    folders: list[Path] = []
    base = Path(cfg.config_dir) if getattr(cfg, "config_dir", None) else Path.cwd()
    for folder in [base.parent if base.is_file() else base,
                   *(Path(s).parent for s in getattr(cfg, "sources", None) or ())]:
        if folder not in folders:
            folders.append(folder)
    return folders


def _dictionary_paths(raw: Mapping[str, Any], folders: Sequence[Path]) -> dict[str, list[str]]:
    """Each client's dictionary folders: relative ones under the config directory (or beside its files);
    CGRateS's own folder is the shipped tree; folders that do not exist are skipped with a warning."""
    out: dict[str, list[str]] = {}
    for client, paths in raw.items():
        keep: list[str] = []
        for p in [paths] if isinstance(paths, str) else list(paths or []):
            text = str(p)
            candidates = [Path(text)] if Path(text).is_absolute() else [f / text for f in folders]
            path = next((c for c in candidates if c.exists()), None)
            if path is not None:
                if path.resolve() != SHIPPED_DIR:
                    keep.append(str(path))
            elif text.rstrip("/") == CGRATES_DICT_DIR:
                log.debug("%s.client_dictionaries[%s]: %s is served by the shipped dictionaries", SECTION, client,
                          text)
            else:
                log.warning("%s.client_dictionaries[%s]: %s does not exist; skipped (the shipped dictionaries "
                            "are loaded)", SECTION, client, candidates[0])
        out[client] = keep
    return out


def _da_clients(raw: Mapping[str, Any]) -> dict[str, DAClient]:
    out = {}
    for client, opts in raw.items():
        opts = opts or {}
        transport = str(opts.get("transport") or "udp").lstrip("*").lower()
        if transport not in ("udp", "tcp"):
            raise TemplateError(f"{SECTION}.client_da_addresses[{client}].transport: {transport!r}; use udp or tcp")
        port = int(opts.get("port") or DEFAULT_PORT)
        flags = opts.get("flags") or []
        out[client] = DAClient(client, str(opts.get("host") or client), port, transport, "*log" in flags)
    return out


__all__ = ["RadiusAgent"]
