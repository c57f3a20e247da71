"""ARI (the Asterisk REST Interface) as CGRateS's AsteriskAgent reads and drives it: events in, CGREvents out, the
REST requests it makes. No I/O.

The dialplan hands a call to the Stasis application ``cgrates_auth`` with the call's CGRateS fields as
arguments::

    same => n,Stasis(cgrates_auth,cgr_reqtype=*prepaid,cgr_flags=*accounts+*attributes+*resources)

and ``ari.conf`` lists the variables every Channel in an event carries (``channelvars =
cgr_reqtype,cgr_flags,CDR(answer),CDR(billsec)``). From an event's JSON (:class:`ARIEvent`):

- the call's fields (:func:`call_fields`): ``OriginID`` the channel's id, ``Account`` its caller number (or
  ``cgr_account``), ``Destination`` its dialplan extension (or ``cgr_destination``), ``SetupTime`` its creation
  time, ``RequestType`` ``cgr_reqtype`` (else the default), ``Tenant``/``Category``/``Subject``/``Route`` from
  ``cgr_tenant``/``cgr_category``/``cgr_subject``/``cgr_route``, ``OriginHost`` ``cgr_originhost`` or the
  connection's alias or address, ``Source`` ``AsteriskAgent``, ``EventName`` ``SMA_AUTHORIZATION``/
  ``SMA_SESSION_START``/``SMA_SESSION_TERMINATE``; any other ``key=value`` Stasis argument is kept as an event
  field, those named ``*...`` become APIOpts;
- then the channel variables (:func:`restore_channel_vars`): ``cgr_flags`` (Asterisk turned its ``+`` into
  spaces), ``CDR(answer)`` → AnswerTime, ``CDR(billsec)`` → Usage (on ChannelDestroyed), ``cgr_reqtype`` →
  RequestType, any other one as an event field; ChannelStateChange's time is the AnswerTime; ChannelDestroyed's
  cause text (else its cause code) the DisconnectCause;
- the SessionS call (:func:`session_args`): ``cgr_flags`` (``*accounts+*attributes:ID1&ID2+...``) read as
  CGRateS's ParseFlags reads them, through the processors' flag table; without ``cgr_flags`` the call charges.

REST requests go over HTTP or, with ``ari_websocket`` (Asterisk 20.14/21.9/22.4 and later), over the event
WebSocket as ``RESTRequest`` messages answered by ``RESTResponse`` events (:func:`rest_request`).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from pycgrates.agents.processors import channel_call
from pycgrates.engine.rpc.registry import Method
from pycgrates.engine.template.dataprovider import as_string

APP = "cgrates_auth"
STASIS_START = "StasisStart"
CHANNEL_STATE_CHANGE = "ChannelStateChange"
CHANNEL_DESTROYED = "ChannelDestroyed"
REST_RESPONSE = "RESTResponse"
#: the events the agent asks Asterisk for (PUT applications/cgrates_auth/eventFilter)
EVENT_FILTER = {"allowed": [{"type": t} for t in (STASIS_START, CHANNEL_STATE_CHANGE, CHANNEL_DESTROYED,
                                                  REST_RESPONSE)]}
EVENT_NAMES = {STASIS_START: "SMA_AUTHORIZATION", CHANNEL_STATE_CHANGE: "SMA_SESSION_START",
               CHANNEL_DESTROYED: "SMA_SESSION_TERMINATE"}
SOURCE = "AsteriskAgent"

CGR_REQTYPE = "cgr_reqtype"
CGR_FLAGS = "cgr_flags"
CGR_ORIGINHOST = "cgr_originhost"
MAX_SESSION_TIME = "CGRMaxSessionTime"
RESOURCE_ALLOCATION = "CGRResourceAllocation"
ROUTE_VAR = "CGRRoute"
#: Stasis arguments that are the call's primary fields (never copied as extra fields or set back on the channel)
_PRIMARY = {"cgr_account": "Account", "cgr_destination": "Destination", CGR_REQTYPE: "RequestType",
            "cgr_tenant": "Tenant", "cgr_category": "Category", "cgr_subject": "Subject", "cgr_pdd": "PDD",
            "cgr_route": "Route", "cgr_disconnectcause": "DisconnectCause"}


class ARIError(ValueError):
    """An ARI message without what the agent needs."""


@dataclass(frozen=True, slots=True)
class ARIEvent:
    """One event of the ARI WebSocket."""

    type: str
    data: dict[str, Any]

    @classmethod
    def parse(cls, text: str | bytes) -> ARIEvent:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ARIError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ARIError(f"a JSON {type(data).__name__}, not an event object")
        kind = data.get("type")
        if not isinstance(kind, str) or not kind:
            raise ARIError("an event without its type")
        return cls(kind, data)

    @property
    def channel(self) -> dict[str, Any]:
        channel = self.data.get("channel")
        return channel if isinstance(channel, dict) else {}

    @property
    def channel_id(self) -> str:
        return as_string(self.channel.get("id") or "")

    @property
    def state(self) -> str:
        return as_string(self.channel.get("state") or "")

    @property
    def timestamp(self) -> str:
        return as_string(self.data.get("timestamp") or "")

    @property
    def channel_vars(self) -> dict[str, Any]:
        found = self.channel.get("channelvars")
        return found if isinstance(found, dict) else {}

    @property
    def is_cgr_channel(self) -> bool:
        """A channel the agent authorized: it carries ``cgr_reqtype`` (set back on it at StasisStart)."""
        return bool(self.channel_vars.get(CGR_REQTYPE))

    @property
    def disconnect_cause(self) -> str:
        text = self.data.get("cause_txt")
        if isinstance(text, str) and text:
            return text
        cause = self.data.get("cause")
        return "" if cause is None else as_string(cause)


def stasis_args(event: ARIEvent) -> tuple[dict[str, str], dict[str, str]]:
    """The ``key=value`` arguments of Stasis(): (call fields, APIOpts)."""
    fields: dict[str, str] = {}
    opts: dict[str, str] = {}
    args = event.data.get("args")
    for arg in args if isinstance(args, list) else ():
        key, sep, value = str(arg).partition("=")
        if sep and key:
            (opts if key.startswith("*") else fields)[key] = value
    return fields, opts


def call_fields(event: ARIEvent, args: Mapping[str, str], *, origin_host: str,
                default_request_type: str) -> dict[str, Any]:
    """The CGREvent's Event of an ARI event (before the channel variables are restored)."""
    channel = event.channel
    caller = channel.get("caller") if isinstance(channel.get("caller"), dict) else {}
    dialplan = channel.get("dialplan") if isinstance(channel.get("dialplan"), dict) else {}
    out: dict[str, Any] = {"EventName": EVENT_NAMES.get(event.type, event.type), "OriginID": event.channel_id}
    request_type = args.get(CGR_REQTYPE) or default_request_type
    if request_type:
        out["RequestType"] = request_type
    for arg in ("cgr_tenant", "cgr_category", "cgr_subject"):
        if args.get(arg):
            out[_PRIMARY[arg]] = args[arg]
    out["OriginHost"] = args.get(CGR_ORIGINHOST) or origin_host
    out["Account"] = args.get("cgr_account") or as_string(caller.get("number") or "")
    out["Destination"] = args.get("cgr_destination") or as_string(dialplan.get("exten") or "")
    out["SetupTime"] = as_string(channel.get("creationtime") or "")
    if args.get("cgr_route"):
        out["Route"] = args["cgr_route"]
    for key, value in args.items():
        if key not in _PRIMARY:
            out[key] = value
    out["Source"] = SOURCE
    return out


def extra_args(args: Mapping[str, str]) -> dict[str, str]:
    """The Stasis arguments set back on the channel as variables (they come back in later events)."""
    return {key: value for key, value in args.items() if key not in _PRIMARY}


def restore_channel_vars(event: ARIEvent, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with the channel's variables (CGRateS's RestoreAndUpdateFields)."""
    for key, value in event.channel_vars.items():
        text = value if isinstance(value, str) else ""
        if not text:
            continue
        if key == CGR_FLAGS:
            fields[CGR_FLAGS] = text.replace(" ", "+")  # Asterisk gave back "+" as " "
        elif key == "CDR(answer)":
            fields["AnswerTime"] = text
        elif key == "CDR(billsec)":
            if event.type == CHANNEL_DESTROYED:
                fields["Usage"] = text + "s"
        elif key == CGR_REQTYPE:
            fields["RequestType"] = text
        else:
            fields[key] = text
    if event.type == CHANNEL_STATE_CHANGE:
        fields["AnswerTime"] = event.timestamp
    elif event.type == CHANNEL_DESTROYED:
        fields["DisconnectCause"] = event.disconnect_cause
    return fields


def cgr_event(tenant: str, event: ARIEvent, fields: dict[str, Any], opts: Mapping[str, Any]) -> dict[str, Any]:
    """A CGREvent (its Time the ARI event's; the ID a short random one, as CGRateS's UUIDSha1Prefix)."""
    return {"Tenant": fields.get("Tenant") or tenant, "ID": secrets.token_hex(4)[:7],
            "Time": event.timestamp or None, "Event": fields, "APIOpts": dict(opts)}


def session_args(rtype: str, cgr_flags: str | None, event: dict[str, Any],
                 sep: str = "+") -> tuple[Method, dict[str, Any], bool]:
    """(method, arguments, whether MaxUsage is wanted) of the SessionS call ``rtype`` for a call carrying
    ``cgr_flags`` (``sep`` between flags, CGRateS's ParseFlags); without them the call charges (``*accounts``)."""
    return channel_call(rtype, cgr_flags.split(sep) if cgr_flags else ["*accounts"], event)



def route_ids(route_profiles: Any) -> list[str]:
    """The route IDs of a RouteProfiles reply, in order (CGRRoute1, CGRRoute2, ...)."""
    out = []
    for profile in route_profiles if isinstance(route_profiles, list) else ():
        for route in (profile.get("Routes") or ()) if isinstance(profile, Mapping) else ():
            if isinstance(route, Mapping) and route.get("RouteID"):
                out.append(as_string(route["RouteID"]))
    return out


# ---------------------------------------------------------------------------------------------------- REST


@dataclass(frozen=True, slots=True)
class RESTCall:
    """One ARI REST request: ``uri`` relative to ``/ari/`` with its query already encoded."""

    method: str
    uri: str
    body: bytes | None = None

    def request(self, request_id: str) -> dict[str, Any]:
        """As a RESTRequest message of the WebSocket."""
        msg: dict[str, Any] = {"type": "RESTRequest", "request_id": request_id, "method": self.method,
                               "uri": self.uri}
        if self.body is not None:
            msg["content_type"] = "application/json"
            msg["message_body"] = self.body.decode()
        return msg


def _uri(path: str, query: Mapping[str, str] | None = None) -> str:
    return f"{path}?{urlencode(dict(query))}" if query else path


def set_variable(channel_id: str, name: str, value: str) -> RESTCall:
    return RESTCall("POST", _uri(f"channels/{quote(channel_id, safe='')}/variable",
                                 {"variable": name, "value": value}))


def continue_in_dialplan(channel_id: str) -> RESTCall:
    return RESTCall("POST", f"channels/{quote(channel_id, safe='')}/continue")


def hangup(channel_id: str, reason: str = "congestion") -> RESTCall:
    return RESTCall("DELETE", _uri(f"channels/{quote(channel_id, safe='')}", {"reason": reason}))


def list_channels() -> RESTCall:
    return RESTCall("GET", "channels")


def event_filter(app: str = APP) -> RESTCall:
    return RESTCall("PUT", f"applications/{quote(app, safe='')}/eventFilter", orjson.dumps(EVENT_FILTER))


@dataclass(frozen=True, slots=True)
class RESTResult:
    """The answer to a REST request: its status and body (JSON text, "" when none)."""

    status: int
    reason: str
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return orjson.loads(self.body) if self.body else None
        except orjson.JSONDecodeError as exc:
            raise ARIError(f"REST answer is not JSON: {exc}") from None


def rest_response(event: ARIEvent) -> tuple[str, RESTResult]:
    """(request_id, result) of a RESTResponse event."""
    data = event.data
    status = data.get("status_code")
    if not isinstance(status, int):
        raise ARIError("RESTResponse without a status_code")
    body = data.get("message_body")
    if body is not None and not isinstance(body, str):
        body = orjson.dumps(body).decode()
    return as_string(data.get("request_id") or ""), RESTResult(status, as_string(data.get("reason_phrase") or ""),
                                                               body or "")


def channel_ids(result: RESTResult) -> list[str]:
    """The channel ids of a ``GET channels`` answer."""
    channels = result.json()
    if not isinstance(channels, list):
        raise ARIError("GET channels did not answer a list")
    return [as_string(c.get("id")) for c in channels if isinstance(c, dict) and c.get("id")]


__all__ = [
    "APP",
    "CGR_FLAGS",
    "CGR_REQTYPE",
    "CHANNEL_DESTROYED",
    "CHANNEL_STATE_CHANGE",
    "EVENT_FILTER",
    "MAX_SESSION_TIME",
    "RESOURCE_ALLOCATION",
    "REST_RESPONSE",
    "ROUTE_VAR",
    "STASIS_START",
    "ARIError",
    "ARIEvent",
    "RESTCall",
    "RESTResult",
    "call_fields",
    "cgr_event",
    "channel_ids",
    "continue_in_dialplan",
    "event_filter",
    "extra_args",
    "hangup",
    "list_channels",
    "rest_response",
    "restore_channel_vars",
    "route_ids",
    "session_args",
    "set_variable",
    "stasis_args",
]
