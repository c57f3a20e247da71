"""The services of this build, by config section: the one list start-up and ``cgr-engine -check_config`` read.

Each entry names the config section that enables a service and the class that implements it (``module:Class``,
constructed with the :class:`EngineContext`), in start order. A section of a CGRateS service that this build does
not have names no class, or a module that is not there: enabling it is an error at start and in -check_config
(never a silent skip), the message naming the section and the way out.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pycgrates.engine.config import Config


@dataclass(frozen=True)
class ServiceSpec:
    section: str
    title: str  # as CGRateS names the service
    target: str | None  # "module:Class"; None: no implementation in this build

    def load(self) -> type | None:
        """The class, or None when this build does not have it (its module is absent)."""
        if self.target is None:
            return None
        module_name, _, cls_name = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                return None
            raise
        return getattr(module, cls_name, None)


#: Start order; a section may list several services (rals: rating, then accounting).
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("rals", "RALs", "pycgrates.engine.rating.service:RatingService"),
    ServiceSpec("rals", "RALs", "pycgrates.engine.accounts.service:AccountingService"),
    ServiceSpec("rals", "RALs", "pycgrates.engine.rating.route_costs:RouteCostService"),
    ServiceSpec("schedulers", "SchedulerS", "pycgrates.engine.scheduler:Scheduler"),
    ServiceSpec("apiers", "APIerSv1", "pycgrates.engine.loader.service:LoaderService"),
    ServiceSpec("apiers", "APIerSv1", "pycgrates.engine.loader.tp_api:TariffPlanService"),
    ServiceSpec("apiers", "APIerSv1", "pycgrates.engine.storage.admin_api:StorageAdminService"),
    ServiceSpec("filters", "FilterS", "pycgrates.engine.filters.service:FilterService"),
    ServiceSpec("attributes", "AttributeS", "pycgrates.engine.profiles.attributes:AttributeService"),
    ServiceSpec("chargers", "ChargerS", "pycgrates.engine.profiles.chargers:ChargerService"),
    ServiceSpec("resources", "ResourceS", "pycgrates.engine.profiles.resources:ResourceService"),
    ServiceSpec("stats", "StatS", "pycgrates.engine.profiles.stats:StatService"),
    ServiceSpec("thresholds", "ThresholdS", "pycgrates.engine.profiles.thresholds:ThresholdService"),
    ServiceSpec("routes", "RouteS", "pycgrates.engine.profiles.routes:RouteService"),
    ServiceSpec("cdrs", "CDRs", "pycgrates.engine.cdrs.service:CDRService"),
    ServiceSpec("sessions", "SessionS", "pycgrates.engine.sessions.service:SessionService"),
    ServiceSpec("sessions", "SessionS", "pycgrates.engine.sessions.diagnostics:SessionDiagnostics"),
    ServiceSpec("dispatchers", "DispatcherS", "pycgrates.engine.dispatchers:DispatcherService"),
    ServiceSpec("diameter_agent", "DiameterAgent", "pycgrates.agents.diameter.agent:DiameterAgent"),
    ServiceSpec("radius_agent", "RadiusAgent", "pycgrates.agents.radius.agent:RadiusAgent"),
    ServiceSpec("dns_agent", "DNSAgent", "pycgrates.agents.dns.agent:DNSAgent"),
    ServiceSpec("sip_agent", "SIPAgent", "pycgrates.agents.sip.agent:SIPAgent"),
    ServiceSpec("freeswitch_agent", "FreeSWITCHAgent", "pycgrates.agents.freeswitch.agent:FreeSWITCHAgent"),
    ServiceSpec("kamailio_agent", "KamailioAgent", "pycgrates.agents.kamailio.agent:KamailioAgent"),
    ServiceSpec("asterisk_agent", "AsteriskAgent", "pycgrates.agents.asterisk:AsteriskAgent"),
    ServiceSpec("opensips_agent", "OpenSIPSAgent", "pycgrates.agents.opensips:OpenSIPSAgent"),
    ServiceSpec("http_agent", "HTTPAgent", "pycgrates.agents.http.agent:HTTPAgents"),
    ServiceSpec("ers", "ERs", "pycgrates.engine.ers:EventReaderService"),
    ServiceSpec("ees", "EEs", "pycgrates.engine.ees:EventExporterService"),
    ServiceSpec("http", "web console", "pycgrates.engine.web.console:WebConsole"),
    # CGRateS services without an implementation here yet
    ServiceSpec("trends", "TrendS", None),
    ServiceSpec("rankings", "RankingS", None),
    ServiceSpec("ips", "IPs", None),
    ServiceSpec("analyzers", "AnalyzerS", None),
    ServiceSpec("loaders", "LoaderS", None),
    ServiceSpec("registrarc", "RegistrarC", None),
    ServiceSpec("configs", "ConfigS (configs over HTTP)", None),
    ServiceSpec("prometheus_agent", "PrometheusAgent", "pycgrates.agents.prometheus:PrometheusAgent"),
    ServiceSpec("janus_agent", "JanusAgent", None),
    # CGRateS 1.0 sections
    ServiceSpec("admins", "AdminS (CGRateS 1.0)", None),
    ServiceSpec("actions", "ActionS (CGRateS 1.0)", None),
    ServiceSpec("accounts", "AccountS (CGRateS 1.0)", None),
    ServiceSpec("rates", "RateS (CGRateS 1.0)", None),
)

_SECTIONS = frozenset(spec.section for spec in SERVICES)

#: Sections whose services always run (they have no "enabled" option).
ALWAYS_ON = frozenset({"filters"})


def enabled(cfg: Config, section: str) -> bool:
    """Whether the configuration turns the service of ``section`` on."""
    if section in ALWAYS_ON:
        return True
    value = cfg.data.get(section)
    if section == "apiers":  # as CGRateS: the API comes with RALs
        return _flag(value) or _flag(cfg.data.get("rals"))
    if section == "http":  # the web console, in the HTTP listener's section
        return isinstance(value, Mapping) and _flag(value.get("console"))
    if section == "http_agent":  # a list of agents: each one given runs
        return bool(value)
    if section == "loaders":
        return isinstance(value, list) and any(_flag(item) for item in value)
    if section == "registrarc":
        return isinstance(value, Mapping) and any(_flag(value.get(part)) for part in ("rpc", "dispatchers"))
    return _flag(value)


def active(cfg: Config, section: str) -> bool:
    """Whether a section is in use: a service's section when it is enabled, any other unless it says
    ``"enabled": false`` (what the config checks look at)."""
    if section in _SECTIONS:
        return enabled(cfg, section)
    value = cfg.data.get(section)
    return not (isinstance(value, Mapping) and value.get("enabled") is False)


def _flag(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("enabled") is True


def _how_to_disable(section: str) -> str:
    if section == "http_agent":
        return 'remove the "http_agent" entries'
    if section == "loaders":
        return 'set "enabled": false in each of the "loaders"'
    if section == "registrarc":
        return 'set registrarc.rpc.enabled and registrarc.dispatchers.enabled to false'
    if section == "apiers":
        return 'set apiers.enabled and rals.enabled to false'
    return f'set {section}.enabled to false'


def unavailable_sections(cfg: Config) -> list[ServiceSpec]:
    """The services the config enables that this build does not have (one per section)."""
    out: list[ServiceSpec] = []
    for spec in SERVICES:
        if all(o.section != spec.section for o in out) and enabled(cfg, spec.section) and spec.load() is None:
            out.append(spec)
    return out


def unavailable(cfg: Config) -> list[str]:
    """A problem per section the config enables whose service this build does not have."""
    return [f"{spec.section}: enabled, but {spec.title} is not available in this build; "
            f"{_how_to_disable(spec.section)}" for spec in unavailable_sections(cfg)]


def enabled_services(cfg: Config) -> list[tuple[str, type]]:
    """(section, class) of every enabled service this build has, in start order."""
    out = []
    for spec in SERVICES:
        if enabled(cfg, spec.section):
            cls = spec.load()
            if cls is not None:
                out.append((spec.section, cls))
    return out


__all__ = ["ALWAYS_ON", "SERVICES", "ServiceSpec", "active", "enabled", "enabled_services", "unavailable",
           "unavailable_sections"]
