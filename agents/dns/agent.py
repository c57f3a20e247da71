"""The DNS agent (CGRateS's DNSAgent): NAPTR (ENUM, LCR), SRV and A/AAAA answers built by request processors.

The listeners of ``dns_agent.listeners`` (or the older ``listen`` + ``listen_net``) serve UDP, TCP and TLS (the
certificate and key of the ``tls`` section); what is no DNS query is dropped there, unanswerable queries get
NOTIMP/FORMERR/BADVERS there (:mod:`.transport`). Each query runs the ``dns_agent.request_processors`` over ``*req``
(miekg/dns's field names, EDNS0 options included) and ``*vars`` (``QueryType``, ``QueryName``, ``RemoteHost``);
``*rep`` fills the reply (:mod:`.fields`): answers of the question's type, header fields (``Rcode`` among them),
EDNS0 options. The reply echoes the client's EDNS0 payload size and DO bit.

A query no processor matched gets NXDOMAIN (the agent knows nothing of that name; CGRateS answers SERVFAIL); a
template or SessionS failure that leaves no reply gets SERVFAIL, as in CGRateS. A NAPTR regexp is written as it
is in the template or the route (``!^(.*)$!sip:\\1@host!`` keeps its backslash: the ENUM client needs the
back-reference; CGRateS's DNS library reads it as zone-file text and drops it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pycgrates.agents.base import Agent, AgentSettings
from pycgrates.agents.request import RequestError, describe
from pycgrates.engine.rpc.client import join_address
from pycgrates.engine.template.fields import TemplateError

from .codec import DnsError, DNSRecord, nxdomain, reply_to, servfail
from .fields import DnsDataProvider, apply_reply_fields, request_vars
from .transport import DnsListener, DnsServer, Source, server_tls_context

if TYPE_CHECKING:
    from pycgrates.engine.config import Config
    from pycgrates.engine.context import EngineContext

log = logging.getLogger("cgr.dns")

AGENT = "DNSAgent"
SECTION = "dns_agent"


@dataclass(slots=True, kw_only=True)
class DnsSettings(AgentSettings):
    """The ``dns_agent`` options besides the common ones; ``listener_key`` covers the listeners and the TLS files."""

    listeners: tuple[DnsListener, ...] = ()
    certificate: str = ""
    key: str = ""


def dns_listeners(sect: Mapping[str, Any]) -> tuple[DnsListener, ...]:
    """The listeners: ``listen`` + ``listen_net`` when set (CGRateS before 0.11), else ``listeners``."""
    entries: list[Any] = ([{"address": sect["listen"], "network": sect.get("listen_net") or "udp"}]
                          if sect.get("listen") else list(sect.get("listeners") or []))
    try:
        return tuple(DnsListener.parse(entry) for entry in entries)
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


class DNSAgent(Agent[DnsSettings]):
    """DNS listeners in front of SessionS (RouteS for LCR answers, AttributeS for ENUM data)."""

    name = AGENT
    section = SECTION

    def __init__(self, ctx: EngineContext) -> None:
        super().__init__(ctx)
        self.server: DnsServer | None = None

    # ------------------------------------------------------------------------------------------ config, listeners

    def configure(self, cfg: Config, sect: Mapping[str, Any], common: AgentSettings) -> DnsSettings:
        listeners = dns_listeners(sect)
        tls = cfg.section("tls") or {}
        certificate, key = str(tls.get("server_certificate") or ""), str(tls.get("server_key") or "")
        if any(lst.network == "tcp-tls" for lst in listeners) and not (certificate and key):
            raise TemplateError(f"{SECTION}: a tcp-tls listener needs tls.server_certificate and tls.server_key")
        return common.extend(
            DnsSettings, listeners=listeners, certificate=certificate, key=key,
            timezone=str(sect.get("timezone") or "") or common.timezone,
            listener_key=(listeners, certificate, key))

    async def open_listeners(self, settings: DnsSettings) -> None:
        tls = None
        if any(lst.network == "tcp-tls" for lst in settings.listeners):
            tls = server_tls_context(settings.certificate, settings.key)
        self.server = DnsServer(self.handle, listeners=settings.listeners, tls_context=tls, name=AGENT,
                                tasks=self.tasks)
        await self.server.start()

    async def close_listeners(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    @property
    def addresses(self) -> list[tuple[str, int, str]]:
        """Where the listeners are bound: (host, port, network)."""
        return list(self.server.addresses) if self.server is not None else []

    # ------------------------------------------------------------------------------------------ queries

    async def handle(self, query: DNSRecord, source: Source) -> DNSRecord:
        """One query (exactly one question, checked by the transport): its reply."""
        s = self.settings
        dp = DnsDataProvider(query)
        vars = request_vars(query, join_address(source.host, source.port))
        try:
            rep, processed = await self.process(dp, vars, settings=s)
        except RequestError as exc:
            log.warning("<%s> error: %s processing message: %s from %s; answering SERVFAIL", AGENT, exc,
                        describe(dp), source)
            return servfail(query)
        if not processed:
            log.warning("<%s> no request processor enabled, answering NXDOMAIN to %s %s from %s", AGENT,
                        vars["QueryType"], vars["QueryName"], source)
            return nxdomain(query)
        reply = reply_to(query)
        try:
            apply_reply_fields(reply, rep.leaves())
        except DnsError as exc:
            log.warning("<%s> error: %s updating the answer to %s %s from %s; answering SERVFAIL", AGENT, exc,
                        vars["QueryType"], vars["QueryName"], source)
            return servfail(query)
        return reply


__all__ = ["AGENT", "SECTION", "DNSAgent", "DnsSettings", "dns_listeners"]
