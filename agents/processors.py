"""Request-processor flags and the SessionS calls they choose (CGRateS's ``processRequest`` in libagents.go).

A processor's flags name one request type — ``*dryrun *authorize *initiate *update *terminate *message *cdrs *event
*none`` (the first present, in that order) or one an agent adds (``*radauth``) — and the options of the call:
``*attributes *resources *routes *thresholds *stats`` (``*attributes:*ids:ATTR1&ATTR2`` limits the profiles),
``*accounts`` (charge: GetMaxUsage/InitSession/UpdateSession/TerminateSession/Debit), ``*fd`` (ForceDuration),
``*routes_ignore_errors``, ``*routes_event_cost``, ``*routes_maxcost:<cost>``. ``*cdrs`` with another type also
sends the event to ``SessionSv1.ProcessCDR``; ``*continue`` goes on to the next processor; ``*log`` logs the
request and the reply.

The reply is mapped into the ``*cgrep`` dict as CGRateS's ``AsNavigableMap`` does: ``Error`` (always set, empty on
success), ``MaxUsage`` (a Duration: ``~*cgrep.MaxUsage{*duration_seconds}``), ``Attributes`` (the altered fields
and their new values), ``ResourceAllocation``, ``RouteProfiles``, ``Thresholds``, ``StatQueues``; a ProcessEvent
reply keeps its per-run maps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pycgrates.engine.models.event import CGREvent
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Method
from pycgrates.engine.sessions import api
from pycgrates.engine.template.dataprovider import Duration, as_duration

#: the request types CGRateS recognises, in the order it looks for them
REQUEST_TYPES = ("*dryrun", "*authorize", "*initiate", "*update", "*terminate", "*message", "*cdrs", "*event",
                 "*none")
PROCESS_CDR = api.PROCESS_CDR
RALS_ERROR_PREFIX = "RALS_ERROR"


class Flags:
    """Processor flags with their parameters (CGRateS's FlagsWithParams): ``*name[:*option[:v1&v2]]``."""

    __slots__ = ("params", "raw")

    def __init__(self, raw: Sequence[str]) -> None:
        self.raw = tuple(raw)
        self.params: dict[str, dict[str, list[str]]] = {}
        for flag in self.raw:
            name, _, rest = str(flag).partition(":")
            opts = self.params.setdefault(name, {})
            if rest:
                option, _, values = rest.partition(":")
                opts.setdefault(option, []).extend(v for v in values.replace(";", "&").split("&") if v)

    def __repr__(self) -> str:
        return f"Flags({list(self.raw)!r})"

    def __contains__(self, name: str) -> bool:
        return name in self.params

    def has(self, name: str) -> bool:
        return name in self.params

    def get_bool(self, name: str) -> bool:
        """Present, and not switched off with ``name:false``."""
        opts = self.params.get(name)
        if opts is None:
            return False
        return not any(o in ("false", "*false") for o in opts)

    def ids(self, name: str, option: str = "*ids") -> list[str]:
        """The values of ``name:option:v1&v2`` (CGRateS's ParamsSlice)."""
        return list(self.params.get(name, {}).get(option, ()))

    def value(self, name: str) -> str:
        """The first option of ``name:option`` (CGRateS's ParamValue), "" when none."""
        opts = self.params.get(name)
        return next(iter(opts), "") if opts else ""

    def request_type(self, extra: Sequence[str] = ()) -> str:
        """The request type these flags select; "" when there is none."""
        for rtype in REQUEST_TYPES:
            if rtype in self.params:
                return rtype
        for rtype in extra:
            if rtype in self.params:
                return rtype
        return ""


def _route_paginator(opts: dict[str, Any]) -> dict[str, Any]:
    """``*routesLimit``/``*routesOffset`` taken out of the options into the call's paginator."""
    out: dict[str, Any] = {}
    for opt, name in (("*routesLimit", "Limit"), ("*routesOffset", "Offset")):
        if opt in opts:
            raw = opts.pop(opt)
            try:
                out[name] = int(raw)
            except (TypeError, ValueError):
                continue
    return out


# How a flag gives an argument its value:
HAS = "has"  # the flag is present (``*accounts``, ``*fd``)
ON = "on"  # present and not ``:false`` (``*attributes``, ``*resources``)
IDS = "ids"  # the ``*ids`` option's values, None when none (``*attributes:*ids:ATTR1&ATTR2``)
MAX_COST = "max_cost"  # ``*event_cost`` with *routes_event_cost, else the option of *routes_maxcost
ALL = "all"  # every flag, as written (ProcessEvent reads them itself)

_READ: dict[str, Callable[[Flags, str], Any]] = {
    HAS: lambda flags, name: flags.has(name),
    ON: lambda flags, name: flags.get_bool(name),
    IDS: lambda flags, name: flags.ids(name) or None,
    MAX_COST: lambda flags, name: "*event_cost" if flags.has("*routes_event_cost") else flags.value(name),
    ALL: lambda flags, name: list(flags.raw),
}


@dataclass(frozen=True, slots=True)
class SessionCall:
    """What one request type asks SessionS: the method, each argument with the flag that sets it and how, the
    argument whose truth means the reply's MaxUsage is wanted, and whether ``*routesLimit``/``*routesOffset``
    become the call's paginator."""

    method: Method
    arguments: tuple[tuple[str, str, str], ...]  # (argument, how, flag)
    max_usage: str = ""
    paginated: bool = False


_ATTRIBUTES = (("GetAttributes", ON, "*attributes"), ("AttributeIDs", IDS, "*attributes"))
_THRESHOLDS_STATS = (("ProcessThresholds", ON, "*thresholds"), ("ThresholdIDs", IDS, "*thresholds"),
                     ("ProcessStats", ON, "*stats"), ("StatIDs", IDS, "*stats"))
_ROUTES = (("GetRoutes", ON, "*routes"), ("RoutesIgnoreErrors", HAS, "*routes_ignore_errors"),
           ("RoutesMaxCost", MAX_COST, "*routes_maxcost"))
_FORCE_DURATION = ("ForceDuration", HAS, "*fd")

#: the SessionS call of each request type (CGRateS's processRequest in libagents.go)
CALLS: dict[str, SessionCall] = {
    "*authorize": SessionCall(api.AUTHORIZE, (
        *_ATTRIBUTES, *_THRESHOLDS_STATS, ("AuthorizeResources", ON, "*resources"),
        ("GetMaxUsage", HAS, "*accounts"), *_ROUTES, _FORCE_DURATION), max_usage="GetMaxUsage", paginated=True),
    "*initiate": SessionCall(api.INITIATE, (
        *_ATTRIBUTES, *_THRESHOLDS_STATS, ("AllocateResources", ON, "*resources"),
        ("InitSession", HAS, "*accounts"), _FORCE_DURATION), max_usage="InitSession"),
    "*update": SessionCall(api.UPDATE, (
        *_ATTRIBUTES, ("UpdateSession", HAS, "*accounts"), _FORCE_DURATION), max_usage="UpdateSession"),
    "*terminate": SessionCall(api.TERMINATE, (
        ("TerminateSession", HAS, "*accounts"), ("ReleaseResources", ON, "*resources"), *_THRESHOLDS_STATS,
        _FORCE_DURATION)),
    "*message": SessionCall(api.PROCESS_MESSAGE, (
        *_ATTRIBUTES, *_THRESHOLDS_STATS, ("AllocateResources", ON, "*resources"), ("Debit", HAS, "*accounts"),
        *_ROUTES, _FORCE_DURATION), max_usage="Debit", paginated=True),
    "*event": SessionCall(api.PROCESS_EVENT, (("Flags", ALL, ""),), paginated=True),
}
#: the SessionS method each request type calls
METHODS = {rtype: call.method.name for rtype, call in CALLS.items()}


def build_call(rtype: str, flags: Flags, event: CGREvent) -> tuple[Method, Any, bool]:
    """(method, argument object, whether the reply's MaxUsage is wanted) for one request type: SessionS's own
    argument model (engine/sessions/api.py) embedding ``event``, whose ``*routesLimit``/``*routesOffset``
    options move into the paginator of a paginated call."""
    call = CALLS.get(rtype)
    if call is None:
        raise ValueError(f"unknown request type: <{rtype}>")
    values = {name: _READ[how](flags, flag) for name, how, flag in call.arguments}
    values = {name: value for name, value in values.items() if value is not None}
    if call.paginated:
        values["Paginator"] = _route_paginator(event.APIOpts)
    args = call.method.arg.of(event, **values)  # type: ignore[union-attr]
    return call.method, args, bool(call.max_usage and values[call.max_usage])


def build_json_call(rtype: str, flags: Flags, event: Mapping[str, Any]) -> tuple[Method, dict[str, Any], bool]:
    """:func:`build_call` for an agent that builds its CGREvent as JSON (the switch agents): the arguments come
    back as JSON too, ready for a Conn and for the agent's session tracking."""
    method, args, needs_max_usage = build_call(rtype, flags, CGREvent.from_json(dict(event)))
    return method, args.to_json(), needs_max_usage


#: flags whose ``:ID1&ID2`` part, on a switch's channel, names profiles (CGRateS's getFlagIDs)
CHANNEL_ID_FLAGS = ("*attributes", "*thresholds", "*stats")


def _channel_flag(flag: str) -> str:
    """``*attributes:ID1&ID2`` (a channel's flag) as a processor flag, ``*attributes:*ids:ID1&ID2``."""
    name, sep, ids = flag.partition(":")
    if sep and name in CHANNEL_ID_FLAGS and not ids.startswith("*"):
        return f"{name}:*ids:{ids}"
    return flag


def channel_call(rtype: str, flags: Sequence[str], event: Mapping[str, Any]) -> tuple[Method, dict[str, Any], bool]:
    """:func:`build_json_call` for the flags a switch sets on a call (``cgr_flags``, CGRateS's ParseFlags form)."""
    return build_json_call(rtype, Flags([_channel_flag(f.strip()) for f in flags if f.strip()]), event)


def _altered(attrs: Any) -> dict[str, Any] | None:
    """An AttributeS reply as ``*cgrep.Attributes``: each altered field with its new value."""
    if not isinstance(attrs, Mapping):
        return None
    inner = attrs.get("CGREvent")
    event = (inner if isinstance(inner, Mapping) else attrs).get("Event") or {}
    out = {}
    for name in attrs.get("AlteredFields") or ():
        name = str(name).removeprefix("*req.")
        if name in event:
            out[name] = event[name]
    return out


def _duration(value: Any) -> Duration:
    return Duration(as_duration(value)) if value is not None else Duration(0)


def reply_map(rtype: str, reply: Any, needs_max_usage: bool) -> dict[str, Any]:
    """A SessionS reply as the ``*cgrep`` map (``Error`` empty)."""
    out: dict[str, Any] = {}
    if isinstance(reply, Mapping):
        if rtype == "*event":
            return _event_reply_map(reply)
        if reply.get("Attributes") is not None:
            out["Attributes"] = _altered(reply["Attributes"])
        if reply.get("ResourceAllocation") is not None:
            out["ResourceAllocation"] = reply["ResourceAllocation"]
        if needs_max_usage or reply.get("MaxUsage") is not None:
            out["MaxUsage"] = _duration(reply.get("MaxUsage"))
        routes = reply.get("RouteProfiles")
        if routes is None:
            routes = reply.get("Routes")
        if routes is not None:
            out["RouteProfiles"] = routes
        if reply.get("ThresholdIDs") is not None:
            out["Thresholds"] = list(reply["ThresholdIDs"])
        if reply.get("StatQueueIDs") is not None:
            out["StatQueues"] = list(reply["StatQueueIDs"])
    elif needs_max_usage:
        out["MaxUsage"] = Duration(0)
    out["Error"] = ""
    return out


def _event_reply_map(reply: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name in (("MaxUsage", "MaxUsage"), ("Cost", "Cost"), ("ResourceAllocation", "ResourceAllocation"),
                      ("RouteProfiles", "RouteProfiles"), ("ThresholdIDs", "Thresholds"),
                      ("StatQueueIDs", "StatQueues"), ("STIRIdentity", "STIRIdentity")):
        per_run = reply.get(key)
        if isinstance(per_run, Mapping):
            out[name] = {run: _duration(v) for run, v in per_run.items()} if key == "MaxUsage" else dict(per_run)
    attrs = reply.get("Attributes")
    if isinstance(attrs, Mapping):
        out["Attributes"] = {run: _altered(v) for run, v in attrs.items()}
    out["Error"] = ""
    return out


def run_max_usage(cgrep: Mapping[str, Any]) -> Any:
    """The usage a ProcessEvent reply granted (its ``*raw`` or ``*default`` run)."""
    usage = cgrep.get("MaxUsage")
    if isinstance(usage, Mapping):
        return usage.get("*raw", usage.get("*default"))
    return usage


async def call_sessions(conn: Any, method: Method, args: Any) -> tuple[Any, str | None]:
    """(reply, None) or (None, error text): SessionS errors go into ``*cgrep.Error``, never up."""
    try:
        return await method.call(conn, args), None
    except RPCError as exc:
        return None, exc.message
    except (TimeoutError, OSError) as exc:
        return None, str(exc) or type(exc).__name__


__all__ = [
    "CALLS",
    "METHODS",
    "PROCESS_CDR",
    "RALS_ERROR_PREFIX",
    "REQUEST_TYPES",
    "Flags",
    "SessionCall",
    "build_call",
    "build_json_call",
    "call_sessions",
    "channel_call",
    "reply_map",
    "run_max_usage",
]
