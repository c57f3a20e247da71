"""Dispatcher profiles and hosts: CGRateS's stored JSON, compiled once by the DataManager decoders.

A profile (DispatcherProfiles.csv, ``APIerSv1.SetDispatcherProfile``) selects events of some subsystems by its
filters and names the hosts they go to, with a strategy; a host (DispatcherHosts.csv, ``SetDispatcherHost``) is the
address of an engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pycgrates.engine.filters.rules import ActivationInterval, activation_json, parse_activation_interval
from pycgrates.engine.profiles.base import json_number, str_list
from pycgrates.engine.units import parse_duration

#: CGRateS's strategies, plus ``*first`` (its older name of ``*weight``), ``*load`` (``*weight`` with load ratios
#: even without ratio parameters) and ``*hash`` (ours: one event field keeps its traffic on one host)
STRATEGIES = ("*weight", "*first", "*random", "*round_robin", "*load", "*hash",
              "*broadcast", "*broadcast_sync", "*broadcast_async")
TRANSPORTS = ("*json", "*birpc_json", "*gob", "*birpc_gob", "")


@dataclass(slots=True)
class HostRef:
    """One host of a profile (a ConnID row): its filters, weight, blocker and parameters (``*ratio``)."""

    id: str
    filter_ids: tuple[str, ...] = ()
    weight: float = 0.0
    blocker: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"ID": self.id, "FilterIDs": list(self.filter_ids), "Weight": json_number(self.weight),
                "Params": dict(self.params), "Blocker": self.blocker}


@dataclass(slots=True)
class DispatcherProfile:
    tenant: str
    id: str
    contexts: tuple[str, ...] = ()  # the Subsystems (ProfileService matches them as contexts)
    filter_ids: tuple[str, ...] = ()
    activation: ActivationInterval | None = None
    strategy: str = "*weight"
    strategy_params: dict[str, Any] = field(default_factory=dict)
    weight: float = 0.0
    hosts: tuple[HostRef, ...] = ()

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "Subsystems": list(self.contexts),
                "FilterIDs": list(self.filter_ids), "ActivationInterval": activation_json(self.activation),
                "Strategy": self.strategy, "StrategyParams": dict(self.strategy_params),
                "Weight": json_number(self.weight), "Hosts": [h.to_json() for h in self.hosts]}


@dataclass(slots=True)
class DispatcherHost:
    tenant: str
    id: str
    address: str
    transport: str = "*json"
    connect_attempts: int = 1
    reconnects: int = 0
    max_reconnect_interval: int = 0  # ns
    connect_timeout: int = 0  # ns
    reply_timeout: int = 0  # ns
    tls: bool = False
    client_key: str = ""
    client_certificate: str = ""
    ca_certificate: str = ""

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "Address": self.address, "Transport": self.transport,
                "ConnectAttempts": self.connect_attempts, "Reconnects": self.reconnects,
                "MaxReconnectInterval": self.max_reconnect_interval, "ConnectTimeout": self.connect_timeout,
                "ReplyTimeout": self.reply_timeout, "TLS": self.tls, "ClientKey": self.client_key,
                "ClientCertificate": self.client_certificate, "CaCertificate": self.ca_certificate}


def _params(value: Any, what: str) -> dict[str, Any]:
    """A parameter map: JSON's object, or the CSV's ``key:value;key:value`` text."""
    if not value:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str):
        out: dict[str, Any] = {}
        for item in value.split(";"):
            if item:
                key, _, val = item.partition(":")
                out[key] = val
        return out
    raise ValueError(f"{what} must be an object of parameter → value (got {value!r})")


def _ratio(params: dict[str, Any], key: str, what: str) -> None:
    if key in params:
        try:
            int(str(params[key]))
        except ValueError:
            raise ValueError(f"{what} {key} must be a whole number (got {params[key]!r})") from None


def decode_profile(raw: dict) -> DispatcherProfile:
    strategy = raw.get("Strategy") or "*weight"
    if strategy not in STRATEGIES:
        raise ValueError(f"Strategy {strategy!r} is not a dispatch strategy (use one of {', '.join(STRATEGIES)})")
    params = _params(raw.get("StrategyParams"), "StrategyParams")
    _ratio(params, "*default_ratio", "StrategyParams")
    hosts = []
    for h in raw.get("Hosts") or []:
        if not isinstance(h, dict) or not h.get("ID"):
            raise ValueError(f"each of Hosts needs an ID (got {h!r})")
        hp = _params(h.get("Params"), f"Hosts {h['ID']} Params")
        _ratio(hp, "*ratio", f"Hosts {h['ID']} Params")
        hosts.append(HostRef(id=str(h["ID"]), filter_ids=str_list(h.get("FilterIDs")),
                             weight=float(h.get("Weight") or 0), blocker=bool(h.get("Blocker")), params=hp))
    return DispatcherProfile(
        tenant=raw.get("Tenant") or "", id=raw.get("ID") or "", contexts=str_list(raw.get("Subsystems")),
        filter_ids=str_list(raw.get("FilterIDs")), activation=parse_activation_interval(raw.get("ActivationInterval")),
        strategy=strategy, strategy_params=params, weight=float(raw.get("Weight") or 0), hosts=tuple(hosts))


def _ns(value: Any) -> int:
    return parse_duration(value) if value not in (None, "", 0) else 0


def decode_host(raw: dict) -> DispatcherHost:
    address = raw.get("Address") or ""
    if not address:
        raise ValueError("Address is empty; give host:port, or *internal for this engine")
    transport = raw.get("Transport") or "*json"
    if transport not in TRANSPORTS:
        raise ValueError(f"Transport {transport!r} is not supported (use *json or *birpc_json)")
    return DispatcherHost(
        tenant=raw.get("Tenant") or "", id=raw.get("ID") or "", address=address, transport=transport,
        connect_attempts=int(raw.get("ConnectAttempts") or 1), reconnects=int(raw.get("Reconnects") or 0),
        max_reconnect_interval=_ns(raw.get("MaxReconnectInterval")), connect_timeout=_ns(raw.get("ConnectTimeout")),
        reply_timeout=_ns(raw.get("ReplyTimeout")), tls=bool(raw.get("TLS")), client_key=raw.get("ClientKey") or "",
        client_certificate=raw.get("ClientCertificate") or "", ca_certificate=raw.get("CaCertificate") or "")
