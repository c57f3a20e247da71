"""A Kamailio evapi event read as CGRateS reads it (its kamevent.go): the CGREvent of an authorization, a call's
start and end, a message, a CDR; and the replies Kamailio's script waits for. No I/O.

Every field of the event goes into the CGREvent's Event as text, except those steering the exchange (``event``,
``tr_index``, ``tr_label``, ``cgr_flags``, ``reply_route``) and the options (names starting with ``*``, such as
``*sessionsTTL``: into APIOpts). ``Usage`` is seconds (CGRateS's scripts send whole seconds, ours milliseconds as
``12.345``), given on as nanoseconds. ``OriginHost`` is the event's, else the connection's alias (its address when
it has none); ``Source`` defaults to KamailioAgent, ``RequestType`` and ``Tenant`` to the general defaults. The
CGREvent's time is the SetupTime of an authorization, the AnswerTime of the others, now for a CDR.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pycgrates.agents.switch import attributes_digest, first, new_cgr_event, routes_with_params
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.units import SECOND, DurationError, now, parse_duration, parse_time

from .evapi import (
    CGR_AUTH_REQUEST,
    CGR_CALL_END,
    CGR_CALL_START,
    CGR_FLAGS,
    CGR_PROCESS_CDR,
    CGR_PROCESS_EVENT,
    CGR_PROCESS_MESSAGE,
    HASH_ENTRY,
    HASH_ID,
    RESERVED_FIELDS,
    TR_INDEX,
    TR_LABEL,
    EvapiEvent,
    reply_event_name,
    reply_message,
)

#: where the connection's index travels in the event, for SessionS to give it back (CGRateS's name)
EVAPI_CONN_ID = "EvapiConnID"
META_NONE = "*none"
_CALL_FIELDS = ("OriginID", "AnswerTime", "Account", "Destination")
#: what each event must carry (CGRateS's MissingParameter); a processed message with cgr_flags also _CALL_FIELDS
MANDATORY: dict[str, tuple[str, ...]] = {
    CGR_AUTH_REQUEST: (TR_INDEX, TR_LABEL),
    CGR_CALL_START: (HASH_ENTRY, HASH_ID, *_CALL_FIELDS),
    CGR_CALL_END: _CALL_FIELDS,
    CGR_PROCESS_MESSAGE: (TR_INDEX, TR_LABEL),
    CGR_PROCESS_EVENT: (TR_INDEX, TR_LABEL),
    CGR_PROCESS_CDR: (TR_INDEX, TR_LABEL, "OriginID"),
}
#: the field whose time is the CGREvent's
_TIME_FIELD = {CGR_AUTH_REQUEST: "SetupTime", CGR_PROCESS_CDR: ""}


@dataclass(frozen=True, slots=True)
class KamDefaults:
    """What the engine's config gives an event that does not say it."""

    tenant: str = "cgrates.org"
    request_type: str = "*rated"
    timezone: str = ""
    origin_host: str = ""


class KamEvent:
    """One event from Kamailio's script, read as CGRateS reads it (see the module docstring)."""

    __slots__ = ("defaults", "fields", "name", "source")

    def __init__(self, event: EvapiEvent, defaults: KamDefaults) -> None:
        self.source = event
        self.name = event.name
        self.fields = {str(k): as_string(v) for k, v in event.fields.items()}
        self.defaults = defaults

    def get(self, name: str) -> str:
        return self.fields.get(name, "")

    @property
    def flags(self) -> str | None:
        """``cgr_flags`` as sent (None when the event has none)."""
        return self.fields.get(CGR_FLAGS)

    @property
    def request_type(self) -> str:
        return first(self.get("RequestType"), self.defaults.request_type)

    def missing_parameter(self) -> str:
        """The first mandatory field the event lacks ("" when none)."""
        mandatory = MANDATORY.get(self.name, ())
        if self.name in (CGR_PROCESS_MESSAGE, CGR_PROCESS_EVENT) and self.flags is not None:
            mandatory = (*mandatory, *_CALL_FIELDS)  # flags make it a charged event
        return next((name for name in mandatory if not self.get(name)), "")

    def event(self) -> dict[str, Any]:
        """The CGREvent's Event (CGRateS's AsMapStringInterface)."""
        out: dict[str, Any] = {}
        for name, value in self.fields.items():
            if name in RESERVED_FIELDS or name.startswith("*"):
                continue
            out[name] = _usage(value) if name == "Usage" else value
        out["OriginHost"] = first(out.get("OriginHost"), self.defaults.origin_host)
        out.setdefault("Source", "KamailioAgent")
        out["RequestType"] = self.request_type
        return out

    def time(self) -> datetime | None:
        """The CGREvent's time. TimeError when the field it is read from is not a time."""
        name = _TIME_FIELD.get(self.name, "AnswerTime")
        return parse_time(self.get(name), self.defaults.timezone or None) if name else now()

    def cgr_event(self) -> dict[str, Any]:
        """The CGREvent (CGRateS's AsCGREvent). TimeError when its time is not one."""
        opts = {name: value for name, value in self.fields.items() if name.startswith("*")}
        return new_cgr_event(first(self.get("Tenant"), self.defaults.tenant), self.time(), self.event(), opts)

    # ---- replies --------------------------------------------------------------------------------------------

    def reply(self, default_event: str, args: Mapping[str, Any] | None = None,
              cgrep: Mapping[str, Any] | None = None, error: str = "") -> dict[str, Any]:
        """The reply to this event (CGRateS's KamReply: every field present) from the SessionS call's arguments
        and its reply as ``*cgrep`` (agents/processors.py's reply_map), or its error."""
        name = reply_event_name(self.source, default_event)
        if error or args is None or cgrep is None:
            return reply_message(name, self.get(TR_INDEX), self.get(TR_LABEL), error=error)
        max_usage = 0
        if args.get("GetMaxUsage") or args.get("Debit"):
            usage = cgrep.get("MaxUsage")
            max_usage = math.floor(int(usage) / SECOND + 0.5) if usage is not None else 0  # rounded *middle
        return reply_message(
            name, self.get(TR_INDEX), self.get(TR_LABEL),
            attributes=attributes_digest(cgrep.get("Attributes")) if args.get("GetAttributes") else "",
            resource_allocation=as_string(cgrep.get("ResourceAllocation")) if (
                args.get("AuthorizeResources") or args.get("AllocateResources")) else "",
            max_usage=max_usage,
            routes=",".join(routes_with_params(cgrep.get("RouteProfiles"))) if args.get("GetRoutes") else "",
            thresholds=",".join(cgrep.get("Thresholds") or ()) if args.get("ProcessThresholds") else "",
            stat_queues=",".join(cgrep.get("StatQueues") or ()) if args.get("ProcessStats") else "")


def _usage(value: str) -> Any:
    try:
        return parse_duration(value, SECOND)  # seconds, as CGRateS appends "s"
    except DurationError:
        return value


__all__ = ["EVAPI_CONN_ID", "MANDATORY", "META_NONE", "KamDefaults", "KamEvent"]
