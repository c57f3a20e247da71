"""The RADIUS agent (CGRateS's RadiusAgent): NAS authorization and accounting through SessionS, and RFC 5176
Disconnect/CoA requests back to the NAS when SessionS asks for them.

Access-Request and Accounting-Request run the ``radius_agent.request_processors`` (agents/request.py) over the
packet (``*req``, see :mod:`agents.radius.processing`). A request no processor matched, or whose templates failed,
gets no reply (the NAS retries or fails over), as in CGRateS, and a log line names the packet. ``*radauth``
processors check the password left in ``*vars.UserPassword`` (by AttributeS, typically) against the PAP, CHAP,
MS-CHAP or MS-CHAPv2 credentials of the request; a failure sets ``*cgrep.Error`` to ``RADAUTH_FAILED``.

Accounting-On and Accounting-Off (the NAS restarted) end every session this agent started for that NAS (the
sessions are tracked per NAS, :mod:`agents.base`): each is terminated in SessionS with the time since its Start
and its CDR is processed; the request is answered even when no processor matched it.

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
from typing import TYPE_CHECKING, Any

from pycgrates.agents.base import (
    Agent,
    AgentSettings,
    BackCall,
    TrackedSession,
    config_folders,
    dictionary_folder,
)
from pycgrates.agents.request import AgentRequest, RequestError, RequestHandler, describe
from pycgrates.engine.models.event import CGREvent
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.sessions import api
from pycgrates.engine.template.dataprovider import MapDataProvider, as_string
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.fields import TemplateError
from pycgrates.engine.template.rsr import RSRParsers, parse_rsr
from pycgrates.engine.units import SECOND, now

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
from .server import DEFAULT_CLIENT, ClientTable, RadiusClient, RadiusServer

if TYPE_CHECKING:
    from pycgrates.engine.config import Config
    from pycgrates.engine.context import EngineContext

log = logging.getLogger("cgr.radius")

AGENT = "RadiusAgent"
SECTION = "radius_agent"
#: the dictionary folder CGRateS installs; here the shipped dictionaries/radius tree (always loaded) stands in
CGRATES_DICT_DIR = "/usr/share/cgrates/radius/dict"
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


@dataclass(slots=True, kw_only=True)
class RadiusSettings(AgentSettings):
    """The ``radius_agent`` options besides the common ones; ``listener_key`` covers the listeners, the client
    secrets and their dictionaries."""

    cache_key: RSRParsers | None = None
    dmr_template: str = "*dmr"
    coa_template: str = "*coa"
    da_clients: dict[str, DAClient] = field(default_factory=dict)
    listeners: list[dict[str, Any]] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    dictionaries: dict[str, Dictionary] = field(default_factory=dict)
    secret_of: ClientTable[str] = field(default_factory=lambda: ClientTable({}))
    dictionary_of: ClientTable[Dictionary] = field(default_factory=lambda: ClientTable({}))


class RadiusAgent(Agent[RadiusSettings]):
    """RADIUS auth/acct listeners in front of SessionS, and SessionS's Disconnect/CoA channel to the NASes."""

    name = AGENT
    section = SECTION
    outputs = (DA_REQUEST,)
    request_types = (RADAUTH,)

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(ctx)
        self.server: RadiusServer | None = None
        self._da_cache: OrderedDict[str, tuple[Packet, str]] = OrderedDict()

    # ------------------------------------------------------------------------------------------ config, listeners

    def configure(self, cfg: Config, sect: Mapping[str, Any], common: AgentSettings) -> RadiusSettings:
        cache_key = None
        if sect.get("requests_cache_key"):
            try:
                cache_key = parse_rsr(sect["requests_cache_key"], common.separator)
            except RSRError as exc:
                raise TemplateError(f"{SECTION}.requests_cache_key: {exc}") from None
        listeners = _listeners(sect)
        client_secrets = dict(sect.get("client_secrets") or {})
        if DEFAULT_CLIENT not in client_secrets and not client_secrets:
            log.warning("%s.client_secrets is empty: every RADIUS packet will be dropped", SECTION)
        dict_paths = _dictionary_paths(sect.get("client_dictionaries") or {}, config_folders(cfg))
        try:
            dictionaries = load_client_dictionaries(dict_paths)
        except DictionaryError as exc:
            raise TemplateError(str(exc)) from None
        return common.extend(
            RadiusSettings, cache_key=cache_key, dmr_template=sect.get("dmr_template") or "*dmr",
            coa_template=sect.get("coa_template") or "*coa",
            da_clients=_da_clients(sect.get("client_da_addresses") or {}), listeners=listeners,
            secrets=client_secrets, dictionaries=dictionaries,
            secret_of=ClientTable(client_secrets, f"{SECTION}.client_secrets"),
            dictionary_of=ClientTable(dictionaries, f"{SECTION}.client_dictionaries"),
            listener_key=repr((listeners, sorted(client_secrets.items()), sorted(dict_paths.items()))))

    async def open_listeners(self, settings: RadiusSettings) -> None:
        self.server = RadiusServer(self.handle, secrets=settings.secrets, dictionaries=settings.dictionaries,
                                   tasks=self.tasks)
        await self.server.start(settings.listeners)

    async def close_listeners(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.close()

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {RADAUTH: self._radauth}

    # ------------------------------------------------------------------------------------------ requests

    async def handle(self, request: Packet, client: RadiusClient) -> Packet | None:
        """One Access-Request or Accounting-Request from a NAS: the reply, or None for no reply."""
        s = self.settings
        dp = RadiusDataProvider(request)
        vars = request_vars(request, client.remote_address)
        is_auth = request.code == ACCESS_REQUEST
        status = acct_status(request) if request.code == ACCOUNTING_REQUEST else ""
        try:
            rep, processed = await self.process(dp, vars, settings=s, peer=client.host)
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

    async def _nas_restarted(self, nas: str, status: str) -> None:
        """Accounting-On/Off: the NAS lost its sessions; end ours for it, each with its CDR."""
        sessions = self.tracked.end_peer(nas)
        for key in [k for k, (_, host) in self._da_cache.items() if host == nas]:
            del self._da_cache[key]
        if not sessions or self.sessions is None:
            return
        log.info("<%s> %s from NAS %s: ending its %d sessions", AGENT, status, nas, len(sessions))
        limit = asyncio.Semaphore(64)

        async def end(tracked: TrackedSession) -> None:
            async with limit:
                await self._end_lost_session(tracked)

        await asyncio.gather(*(end(t) for t in sessions))

    async def _end_lost_session(self, tracked: TrackedSession) -> None:
        args = tracked.args
        event = CGREvent(Tenant=args.Tenant or self.settings.tenant, ID=secrets.token_hex(4)[:7], Time=now(),
                         Event={**args.Event, "Usage": int((time.monotonic() - tracked.started) * SECOND),
                                "DisconnectCause": "NAS-Reboot"},
                         APIOpts=dict(args.APIOpts))
        assert self.sessions is not None
        try:
            await api.TERMINATE.call(self.sessions, api.V1TerminateSessionArgs.of(
                event, TerminateSession=True, ReleaseResources=args.AllocateResources))
            await api.PROCESS_CDR.call(self.sessions, api.V1ProcessCDRArgs.of(event))
        except (RPCError, OSError, TimeoutError) as exc:
            log.warning("<%s> ending session %s after its NAS restarted: %s", AGENT, event.Event.get("OriginID"), exc)

    # ------------------------------------------------------------------------------------------ Disconnect/CoA

    def _cache_for_da(self, s: RadiusSettings, dp: RadiusDataProvider, vars: dict[str, Any], nas: str,
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

    async def _send_da(self, code: int, template: str, call: BackCall) -> str:
        s = self.settings
        origin_id = call.origin_id
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
        ar = await self.apply_template(fields, MapDataProvider(dict(call.event)), None,
                                       providers={ORIGINAL_REQUEST: RadiusDataProvider(packet)})
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

    async def on_disconnect_session(self, call: BackCall) -> str:
        """A Disconnect-Request to the session's NAS."""
        template = as_string(call.opts.get("*radDMRTemplate") or self.settings.dmr_template)
        return await self._send_da(DISCONNECT_REQUEST, template, call)

    async def on_alter_session(self, call: BackCall) -> str:
        """A CoA-Request to the session's NAS."""
        template = as_string(call.opts.get("*radCoATemplate") or self.settings.coa_template)
        return await self._send_da(COA_REQUEST, template, call)


# ---------------------------------------------------------------------------------------------------- config


def _listeners(sect: Mapping[str, Any]) -> list[dict[str, Any]]:
    if sect.get("listen_net"):
        return [{"network": sect["listen_net"], "auth_address": sect.get("listen_auth") or "",
                 "acct_address": sect.get("listen_acct") or ""}]
    return [dict(item) for item in sect.get("listeners") or []]


def _dictionary_paths(raw: Mapping[str, Any], folders: Sequence[Path]) -> dict[str, list[str]]:
    """Each client's extra dictionary folders (``client_dictionaries``: {client: folder | [folders]})."""
    out: dict[str, list[str]] = {}
    for client, paths in raw.items():
        found = (dictionary_folder(p, folders, cgrates_dir=CGRATES_DICT_DIR, shipped=SHIPPED_DIR,
                                   where=f"{SECTION}.client_dictionaries[{client}]")
                 for p in ([paths] if isinstance(paths, str) else list(paths or [])))
        out[client] = [path for path in found if path]
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


__all__ = ["DA_REQUEST", "RADAUTH", "SECTION", "RadiusAgent", "RadiusSettings"]
