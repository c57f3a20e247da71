"""The SIP agent (CGRateS's SIPAgent): a redirect server that answers each request with what its processors decide.

One listener (``sip_agent.listen``, ``listen_net`` udp or tcp) runs the RFC 3261 server transactions
(:mod:`.transaction`): an INVITE gets ``100 Trying`` at once, the final response is retransmitted on timer G over
UDP until its ACK (``retransmission_timer`` is T1; T2 and T4 keep the RFC's 4 s and 5 s) and the ACK is absorbed;
CANCEL (200, and 487 to a pending INVITE) and OPTIONS (200 with Allow) are answered by the transaction layer.

Every other request runs the ``sip_agent.request_processors`` over ``*req`` (the headers, :mod:`.fields`) and
``*vars`` (``Method``, ``RemoteHost``). ``*rep.Request`` is the status line of the response, any other ``*rep`` path
a header it carries (``Contact`` of a 302 from the routes RouteS sorted); Via, From, To (tagged), Call-ID and CSeq
follow RFC 3261 §8.2.6, a 405 gets the Allow header §21.4.6 asks for. STIR/SHAKEN: the ``*stir_authenticate`` and
``*stir_initiate`` request types (:mod:`.stir`) verify the request's Identity and sign one for the response.

Where CGRateS sends nothing — no processor matched, the processors wrote no ``*rep``, a template failed — this
agent answers with the ``*err`` template (``*rep.Request`` = its status line), or a bare ``500`` when that template
is absent or fails: an INVITE transaction without a final response would hold the caller until its timer B.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pycgrates.agents.base import Agent, AgentSettings
from pycgrates.agents.request import AgentRequest, RequestError, RequestHandler, describe
from pycgrates.engine.rpc.client import join_address
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.template.dataprovider import NotFoundError
from pycgrates.engine.template.fields import FieldError, FieldTemplate, TemplateError
from pycgrates.engine.units import SECOND, DurationError, parse_duration

from . import stir
from .codec import SipError, SipRequest, SipResponse, response_to
from .fields import REQUEST_LINE, SipDataProvider, apply_reply_fields, request_vars
from .transaction import ALLOW, SipTimers
from .transport import SipListener, SipServer, Source

if TYPE_CHECKING:
    from pycgrates.engine.config import Config
    from pycgrates.engine.context import EngineContext

log = logging.getLogger("cgr.sip")

AGENT = "SIPAgent"
SECTION = "sip_agent"
ERROR_TEMPLATE = "*err"
#: RFC 3261's T1, for a retransmission_timer of 0 (CGRateS: no retransmission; RFC 3261 §17.2.1 requires them)
RFC_T1 = 0.5


@dataclass(slots=True, kw_only=True)
class SipSettings(AgentSettings):
    """The ``sip_agent`` options besides the common ones; ``listener_key`` is the listener."""

    listener: SipListener = field(default_factory=lambda: SipListener("127.0.0.1", 5060))
    timers: SipTimers = field(default_factory=SipTimers)
    error_template: tuple[FieldTemplate, ...] | None = None


def sip_timers(raw: Any) -> SipTimers:
    """``retransmission_timer`` as T1 (T2, T4 as RFC 3261 §17.1.1.1, T2 no shorter than T1)."""
    try:
        t1 = parse_duration(raw if raw not in (None, "") else "0s") / SECOND
    except DurationError as exc:
        raise TemplateError(f"{SECTION}.retransmission_timer: {exc}") from None
    if t1 < 0:
        raise TemplateError(f"{SECTION}.retransmission_timer: {raw!r} is negative; use a duration such as \"1s\"")
    if t1 == 0:
        log.warning("%s.retransmission_timer is 0: final responses over UDP are retransmitted anyway (RFC 3261 "
                    "§17.2.1), starting at %gs", SECTION, RFC_T1)
        t1 = RFC_T1
    defaults = SipTimers()
    return SipTimers(t1=t1, t2=max(defaults.t2, t1), t4=defaults.t4)


class SIPAgent(Agent[SipSettings]):
    """A SIP redirect server in front of SessionS."""

    name = AGENT
    section = SECTION
    request_types = (stir.STIR_AUTHENTICATE, stir.STIR_INITIATE)

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(ctx)
        self.server: SipServer | None = None

    # ------------------------------------------------------------------------------------------ config, listeners

    def configure(self, cfg: Config, sect: Mapping[str, Any], common: AgentSettings) -> SipSettings:
        try:
            listener = SipListener.parse(str(sect.get("listen") or "127.0.0.1:5060"),
                                         str(sect.get("listen_net") or "udp"))
        except ValueError as exc:
            raise TemplateError(f"{exc}; SIP listens on udp or tcp") from None
        return common.extend(
            SipSettings, listener=listener, timers=sip_timers(sect.get("retransmission_timer")),
            timezone=str(sect.get("timezone") or "") or common.timezone,
            error_template=common.templates.get(ERROR_TEMPLATE), listener_key=listener)

    async def open_listeners(self, settings: SipSettings) -> None:
        self.server = SipServer(self.handle, listeners=[settings.listener], timers=settings.timers, name=AGENT,
                                tasks=self.tasks)
        await self.server.start()

    async def close_listeners(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    def keep_listeners(self, settings: SipSettings) -> None:
        if self.server is not None:
            self.server.layer.timers = settings.timers  # the transactions started from now on

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {stir.STIR_AUTHENTICATE: self._stir_authenticate, stir.STIR_INITIATE: self._stir_initiate}

    @property
    def addresses(self) -> list[tuple[str, int, str]]:
        """Where the listener is bound: (host, port, network)."""
        return list(self.server.addresses) if self.server is not None else []

    # ------------------------------------------------------------------------------------------ requests

    async def handle(self, request: SipRequest, source: Source) -> SipResponse:
        """A new request (not ACK, CANCEL or OPTIONS: the transaction layer answers those): its final response."""
        s = self.settings
        dp = SipDataProvider(request)
        vars = request_vars(request, remote_host(source))
        try:
            rep, processed = await self.process(dp, vars, settings=s)
        except RequestError as exc:
            if isinstance(exc.cause, stir.IdentityRejected):
                log.info("<%s> %s %s from %s refused %d: %s", AGENT, request.method, request.call_id, source,
                         exc.cause.status, exc.cause.message)
                return exc.cause.response(request)
            log.warning("<%s> error: %s processing request: %s from %s", AGENT, exc, describe(dp), source)
            return await self._error_response(request, dp, vars, exc, s)
        if not processed:
            log.warning("<%s> no request processor enabled, answering %s from %s with %s: %s", AGENT,
                        request.method, source, ERROR_TEMPLATE, describe(dp))
            return await self._error_response(request, dp, vars, "no request processor matched", s)
        try:
            rep.field_as_any((REQUEST_LINE,))
        except NotFoundError:
            log.warning("<%s> the reply fields wrote no *rep.%s (the status line) for %s from %s: %s", AGENT,
                        REQUEST_LINE, request.method, source, describe(dp))
            return await self._error_response(request, dp, vars, f"no *rep.{REQUEST_LINE}", s)
        response = response_to(request, 500)
        try:
            apply_reply_fields(response, rep.leaves())
        except SipError as exc:
            log.warning("<%s> error: %s encoding the reply to %s from %s", AGENT, exc, request.method, source)
            return await self._error_response(request, dp, vars, str(exc), s)
        return with_allow(response)

    async def _error_response(self, request: SipRequest, dp: SipDataProvider, vars: dict[str, Any],
                              error: RequestError | str, s: SipSettings) -> SipResponse:
        """The ``*err`` template's response (``*cgrep.Error`` = the error), or a bare 500."""
        response = response_to(request, 500)
        if s.error_template is None:
            return response
        try:
            ar = await self.apply_template(s.error_template, dp, vars, error=error, settings=s)
            apply_reply_fields(response, ar.reply.leaves())
        except (FieldError, RPCError, SipError, ValueError) as exc:
            log.warning("<%s> error: %s building the %s reply to %s %s", AGENT, exc, ERROR_TEMPLATE,
                        request.method, request.call_id)
            return response_to(request, 500)
        return with_allow(response)

    async def _stir_authenticate(self, ar: AgentRequest) -> None:
        await stir.authenticate(ar, self.sessions.call if self.sessions is not None else None)

    async def _stir_initiate(self, ar: AgentRequest) -> None:
        await stir.initiate(ar, self.sessions.call if self.sessions is not None else None)


def remote_host(source: Source) -> str:
    """``ip:port`` as Go writes a remote address (``[::1]:5060`` for IPv6), CGRateS's ``*vars.RemoteHost``."""
    return join_address(source.host, source.port)


def with_allow(response: SipResponse) -> SipResponse:
    """A 405 lists the methods this server takes (RFC 3261 §21.4.6)."""
    if response.status == 405 and "Allow" not in response.headers:
        response.headers.add("Allow", ALLOW)
    return response


__all__ = ["AGENT", "SECTION", "SIPAgent", "SipSettings", "remote_host", "sip_timers"]
