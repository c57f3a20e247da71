"""SessionSv1's argument models and method signatures (CGRateS v0.11 shapes), for SessionS and its callers.

Each argument object embeds the event (it is a :class:`~engine.models.event.CGREvent`) and adds the flags that
choose what the call does. An agent in this process builds one and calls, for example::

    reply = await api.INITIATE.call(conn, api.V1InitSessionArgs.of(event, InitSession=True))

JSON arguments (the wire, or a caller still passing dicts) are decoded into the same objects, the v0.10 names
(``GetSuppliers``, ``SuppliersMaxCost``, ``SuppliersIgnoreErrors``) included. Replies are CGRateS's reply maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Self

from pycgrates.engine.models.event import CGREvent, event_fields
from pycgrates.engine.rpc.errors import mandatory_ie_missing
from pycgrates.engine.rpc.registry import Method

#: v0.10 names still read on input
_ALIASES = {"GetRoutes": "GetSuppliers", "RoutesMaxCost": "SuppliersMaxCost",
            "RoutesIgnoreErrors": "SuppliersIgnoreErrors"}


_EVENT_FIELDS = frozenset(f.name for f in fields(CGREvent))
PAGINATOR = "Paginator"


def paginator_of(data: dict[str, Any]) -> dict[str, int]:
    """CGRateS's embedded utils.Paginator: ``Limit``/``Offset`` beside the event's keys (a nested ``Paginator``
    object is read too). Values that are not whole numbers are refused as CGRateS's decoder refuses them."""
    nested = data.get(PAGINATOR)
    source = nested if isinstance(nested, dict) else data
    out: dict[str, int] = {}
    for key in ("Limit", "Offset"):
        value = source.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise TypeError(f"{key} must be a whole number, have {value!r}")
        out[key] = int(value)
    return out
_FLAG_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(slots=True)
class SessionArgs(CGREvent):
    """What every SessionSv1 event argument shares: the event; its flags are the subclasses' fields."""

    @classmethod
    def flag_names(cls) -> tuple[str, ...]:
        """The fields besides the event's (found once per class)."""
        names = _FLAG_NAMES.get(cls)
        if names is None:
            names = _FLAG_NAMES[cls] = tuple(f.name for f in fields(cls) if f.name not in _EVENT_FIELDS)
        return names

    @classmethod
    def from_json(cls, data: Any, timezone: str | None = None) -> Self:
        """CGRateS's JSON: the event's keys and the flags side by side. The event must be an object."""
        if not isinstance(data, dict) or not isinstance(data.get("Event"), dict):
            raise mandatory_ie_missing("Event")
        flags: dict[str, Any] = {}
        for name in cls.flag_names():
            if name == PAGINATOR:
                flags[name] = paginator_of(data)
                continue
            value = data.get(name)
            if value is None and name in _ALIASES:
                value = data.get(_ALIASES[name])
            if value is not None:
                flags[name] = value
        return cls(**event_fields(data, timezone), **flags)

    def to_json(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.flag_names() if name != PAGINATOR}
        if PAGINATOR in self.flag_names():
            out.update(getattr(self, PAGINATOR))  # Go embeds utils.Paginator: Limit and Offset are top-level keys
        out.update(CGREvent.to_json(self))
        return out


# The flags the SessionSv1 arguments share, in layers (CGRateS repeats them in each struct).


@dataclass(slots=True)
class _WithThresholdsStats(SessionArgs):
    ForceDuration: bool = False
    ProcessThresholds: bool = False
    ProcessStats: bool = False
    ThresholdIDs: list[str] = field(default_factory=list)
    StatIDs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _WithAttributes(_WithThresholdsStats):
    GetAttributes: bool = False
    AttributeIDs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _WithRoutes(_WithAttributes):
    GetRoutes: bool = False
    RoutesMaxCost: str = ""
    RoutesIgnoreErrors: bool = False
    Paginator: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class V1AuthorizeArgs(_WithRoutes):
    AuthorizeResources: bool = False
    GetMaxUsage: bool = False


@dataclass(slots=True)
class V1InitSessionArgs(_WithAttributes):
    AllocateResources: bool = False
    InitSession: bool = False


@dataclass(slots=True)
class V1UpdateSessionArgs(SessionArgs):
    GetAttributes: bool = False
    UpdateSession: bool = False
    ForceDuration: bool = False
    AttributeIDs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class V1TerminateSessionArgs(_WithThresholdsStats):
    TerminateSession: bool = False
    ReleaseResources: bool = False


@dataclass(slots=True)
class V1ProcessMessageArgs(_WithRoutes):
    AllocateResources: bool = False
    Debit: bool = False


@dataclass(slots=True)
class V1ProcessEventArgs(SessionArgs):
    """SessionSv1.ProcessEvent: the flags name the subsystems (``*attributes``, ``*rals:*initiate``, ...)."""

    Flags: list[str] = field(default_factory=list)
    Paginator: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class V1ProcessCDRArgs(SessionArgs):
    """SessionSv1.ProcessCDR: the event alone."""


@dataclass(slots=True)
class V1GetCostArgs(SessionArgs):
    """SessionSv1.GetCost: the event and flags (``*attributes``)."""

    Flags: list[str] = field(default_factory=list)


AUTHORIZE: Method[V1AuthorizeArgs, dict] = Method("SessionSv1.AuthorizeEvent", V1AuthorizeArgs)
AUTHORIZE_WITH_DIGEST: Method[V1AuthorizeArgs, dict] = Method("SessionSv1.AuthorizeEventWithDigest",
                                                              V1AuthorizeArgs)
INITIATE: Method[V1InitSessionArgs, dict] = Method("SessionSv1.InitiateSession", V1InitSessionArgs)
INITIATE_WITH_DIGEST: Method[V1InitSessionArgs, dict] = Method("SessionSv1.InitiateSessionWithDigest",
                                                               V1InitSessionArgs)
UPDATE: Method[V1UpdateSessionArgs, dict] = Method("SessionSv1.UpdateSession", V1UpdateSessionArgs)
TERMINATE: Method[V1TerminateSessionArgs, str] = Method("SessionSv1.TerminateSession", V1TerminateSessionArgs)
PROCESS_CDR: Method[V1ProcessCDRArgs, str] = Method("SessionSv1.ProcessCDR", V1ProcessCDRArgs)
PROCESS_MESSAGE: Method[V1ProcessMessageArgs, dict] = Method("SessionSv1.ProcessMessage", V1ProcessMessageArgs)
PROCESS_EVENT: Method[V1ProcessEventArgs, dict] = Method("SessionSv1.ProcessEvent", V1ProcessEventArgs)
GET_COST: Method[V1GetCostArgs, dict] = Method("SessionSv1.GetCost", V1GetCostArgs)
