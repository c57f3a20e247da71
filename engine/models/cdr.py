"""CGREvent helpers and the CDR shape (CGRateS's engine.CDR as JSON), with no dependency on services."""

from __future__ import annotations

import hashlib
from typing import Any

from pycgrates.engine.rpc.codec import dumps
from pycgrates.engine.units import format_duration, format_time, parse_duration, parse_time

# Standard event fields (CGRateS utils constants)
TOR = "ToR"
ORIGIN_ID = "OriginID"
ORIGIN_HOST = "OriginHost"
SOURCE = "Source"
REQUEST_TYPE = "RequestType"
TENANT = "Tenant"
CATEGORY = "Category"
ACCOUNT = "Account"
SUBJECT = "Subject"
DESTINATION = "Destination"
SETUP_TIME = "SetupTime"
ANSWER_TIME = "AnswerTime"
USAGE = "Usage"
LAST_USED = "LastUsed"
COST = "Cost"
COST_DETAILS = "CostDetails"
CGRID = "CGRID"
RUN_ID = "RunID"
ORDER_ID = "OrderID"
PARTIAL = "Partial"
PRE_RATED = "PreRated"
COST_SOURCE = "CostSource"
EXTRA_INFO = "ExtraInfo"
DISCONNECT_CAUSE = "DisconnectCause"

META_DEFAULT = "*default"
META_RAW = "*raw"
META_VOICE = "*voice"
META_DATA = "*data"
META_SMS = "*sms"
PREPAID = "*prepaid"
PSEUDOPREPAID = "*pseudoprepaid"
POSTPAID = "*postpaid"
RATED = "*rated"
NONE = "*none"

#: Fields that are columns of a CDR; everything else of an event goes to ExtraFields.
PRIMARY_FIELDS = frozenset({
    CGRID, RUN_ID, ORDER_ID, ORIGIN_HOST, SOURCE, ORIGIN_ID, TOR, REQUEST_TYPE, TENANT, CATEGORY, ACCOUNT,
    SUBJECT, DESTINATION, SETUP_TIME, ANSWER_TIME, USAGE, COST, COST_DETAILS, PARTIAL, PRE_RATED, COST_SOURCE,
    EXTRA_INFO,
})


def cgrid(origin_id: str, origin_host: str) -> str:
    """sha1(OriginID + OriginHost) in hex, as CGRateS's utils.Sha1."""
    return hashlib.sha1((origin_id + origin_host).encode()).hexdigest()


def event_cgrid(event: dict) -> str:
    """The event's CGRID (computed and set when absent)."""
    value = event.get(CGRID)
    if not value:
        value = event[CGRID] = cgrid(str(event.get(ORIGIN_ID, "")), str(event.get(ORIGIN_HOST, "")))
    return value


def as_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "yes")


def event_to_cdr(event: dict, *, tenant: str, default_tenant: str, default_category: str,
                 default_request_type: str, timezone: str | None) -> dict:
    """Build a CDR dict from an event map (CGRateS's MapEvent.AsCDR)."""
    cdr: dict[str, Any] = {
        CGRID: event.get(CGRID) or cgrid(as_string(event.get(ORIGIN_ID)), as_string(event.get(ORIGIN_HOST))),
        RUN_ID: as_string(event.get(RUN_ID)) or META_DEFAULT,
        ORDER_ID: 0,
        ORIGIN_HOST: as_string(event.get(ORIGIN_HOST)),
        SOURCE: as_string(event.get(SOURCE)),
        ORIGIN_ID: as_string(event.get(ORIGIN_ID)),
        TOR: as_string(event.get(TOR)) or META_VOICE,
        REQUEST_TYPE: as_string(event.get(REQUEST_TYPE)) or default_request_type,
        TENANT: as_string(event.get(TENANT)) or tenant or default_tenant,
        CATEGORY: as_string(event.get(CATEGORY)) or default_category,
        ACCOUNT: as_string(event.get(ACCOUNT)),
        DESTINATION: as_string(event.get(DESTINATION)),
        SETUP_TIME: format_time(parse_time(event.get(SETUP_TIME), timezone)),
        ANSWER_TIME: format_time(parse_time(event.get(ANSWER_TIME), timezone)),
        USAGE: parse_duration(event.get(USAGE)),
        PARTIAL: _bool(event.get(PARTIAL, False)),
        PRE_RATED: _bool(event.get(PRE_RATED, False)),
        COST_SOURCE: as_string(event.get(COST_SOURCE)),
        COST: float(event[COST]) if event.get(COST) not in (None, "") else -1.0,
        COST_DETAILS: event.get(COST_DETAILS),
        EXTRA_INFO: as_string(event.get(EXTRA_INFO)),
        "ExtraFields": {},
    }
    cdr[SUBJECT] = as_string(event.get(SUBJECT)) or cdr[ACCOUNT]
    extra = cdr["ExtraFields"]
    for key, value in event.items():
        if key not in PRIMARY_FIELDS and key != SUBJECT:
            extra[key] = as_string(value) if not isinstance(value, dict | list) else value
    return cdr


def cdr_to_event(cdr: dict) -> dict:
    """The CDR as a flat event map (CGRateS's CDR.AsMapStringIface), for exporters, stats and thresholds."""
    event = dict(cdr.get("ExtraFields") or {})
    for key, value in cdr.items():
        if key != "ExtraFields":
            event[key] = value
    return event


def _rfc3339_seconds(value: Any) -> str:
    """A time as Go's ``Format(time.RFC3339)``: whole seconds, the zone kept (``Z`` for UTC)."""
    dt = parse_time(value) if value not in (None, "") else None
    return format_time(dt.replace(microsecond=0) if dt is not None else None)


def _usage_text(tor: str, usage: Any) -> str:
    """Usage as CGRateS's ExternalCDR writes it: a Go duration for *voice, integer units otherwise."""
    ns = parse_duration(usage or 0)
    return format_duration(ns) if tor == META_VOICE else str(ns)


def as_external_cdr(cdr: dict) -> dict:
    """The CDR in CGRateS's ExternalCDR shape (engine.CDR.AsExternalCDR): Usage and times as text, CostDetails
    as its JSON text, ExtraFields as strings."""
    tor = as_string(cdr.get(TOR))
    extra = {k: v if isinstance(v, str) else dumps(v).decode() if isinstance(v, dict | list) else as_string(v)
             for k, v in (cdr.get("ExtraFields") or {}).items()}
    return {
        CGRID: as_string(cdr.get(CGRID)), RUN_ID: as_string(cdr.get(RUN_ID)), ORDER_ID: int(cdr.get(ORDER_ID) or 0),
        ORIGIN_HOST: as_string(cdr.get(ORIGIN_HOST)), SOURCE: as_string(cdr.get(SOURCE)),
        ORIGIN_ID: as_string(cdr.get(ORIGIN_ID)), TOR: tor, REQUEST_TYPE: as_string(cdr.get(REQUEST_TYPE)),
        TENANT: as_string(cdr.get(TENANT)), CATEGORY: as_string(cdr.get(CATEGORY)),
        ACCOUNT: as_string(cdr.get(ACCOUNT)), SUBJECT: as_string(cdr.get(SUBJECT)),
        DESTINATION: as_string(cdr.get(DESTINATION)), SETUP_TIME: _rfc3339_seconds(cdr.get(SETUP_TIME)),
        ANSWER_TIME: _rfc3339_seconds(cdr.get(ANSWER_TIME)), USAGE: _usage_text(tor, cdr.get(USAGE)),
        "ExtraFields": extra, COST_SOURCE: as_string(cdr.get(COST_SOURCE)),
        COST: float(cdr[COST]) if cdr.get(COST) not in (None, "") else -1.0,
        COST_DETAILS: dumps(cdr.get(COST_DETAILS)).decode(), EXTRA_INFO: as_string(cdr.get(EXTRA_INFO)),
        PRE_RATED: _bool(cdr.get(PRE_RATED, False)),
    }


def from_external_cdr(ext: dict) -> dict:
    """An ExternalCDR as a CDR (CGRateS's NewCDRFromExternalCDR): Usage read per ToR, CostDetails parsed from its
    JSON text, the CGRID computed when absent."""
    import orjson

    cdr = {k: v for k, v in ext.items() if k != "APIOpts"}
    cdr[USAGE] = parse_duration(ext.get(USAGE) or 0)  # "1m30s", or plain nanoseconds/units
    details = ext.get(COST_DETAILS)
    if isinstance(details, str):
        try:
            cdr[COST_DETAILS] = orjson.loads(details) if details not in ("", "null") else None
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"CostDetails is not JSON: {exc}") from None
    if not cdr.get(CGRID):
        cdr[CGRID] = cgrid(as_string(ext.get(ORIGIN_ID)), as_string(ext.get(ORIGIN_HOST)))
    cdr["APIOpts"] = ext.get("APIOpts") or {}
    return cdr
