"""OpenSIPS acc events as the seed's SM-OpenSIPS read them, turned into CGREvent fields. No I/O.

The script names the call's CGRateS fields in acc's ``evi_extra`` (``cgr_reqtype``, ``cgr_account``,
``cgr_destination``, optionally ``cgr_subject``, ``cgr_tenant``, ``cgr_category``, ``cgr_answertime``,
``cgr_originhost``, ``cgr_flags``, and ``dialog_id`` for the MI): :func:`call_fields` gives OriginID (the Call-ID),
OriginHost (``cgr_originhost`` or the address the event came from), Source (``OSIPS_<event>``), RequestType,
Tenant, Category, Account, Subject, Destination, SetupTime (``created``, else ``time``), AnswerTime, Usage and
DisconnectCause (the SIP code), and keeps every other parameter as an extra field:

- E_ACC_EVENT of an INVITE (the call was answered): SetupTime its ``time`` (the INVITE's), AnswerTime
  ``cgr_answertime`` or when the event arrived;
- E_ACC_EVENT of a BYE: its ``time`` is when the call ended (:func:`usage_until`);
- E_ACC_CDR (a whole call): AnswerTime its ``time``, SetupTime ``created``, Usage ``duration`` seconds;
- E_ACC_MISSED_EVENT: a call that failed: Usage 0, no AnswerTime.
"""

from __future__ import annotations

from typing import Any

from pycgrates.engine.units import SECOND, TimeError, parse_time

from .datagram import E_ACC_CDR, E_ACC_EVENT, E_ACC_MISSED_EVENT, OpenSIPSEvent

#: parameters that are the call's primary fields (never copied as extra fields)
_PRIMARY = frozenset({"method", "callid", "time", "created", "setuptime", "duration", "ms_duration", "sip_code",
                      "cgr_reqtype", "cgr_account", "cgr_subject", "cgr_destination", "cgr_tenant", "cgr_category",
                      "cgr_answertime", "cgr_originhost"})
CGR_FLAGS = "cgr_flags"
DIALOG_ID = "dialog_id"


class EventFieldError(ValueError):
    """An event without a field the agent needs (MANDATORY_IE_MISSING)."""


def call_fields(event: OpenSIPSEvent, *, origin_host: str, default_request_type: str,
                received_at: float) -> dict[str, Any]:
    """The Event of the CGREvent an acc event gives (see the module docstring)."""
    get = event.get
    out: dict[str, Any] = {"OriginID": get("callid"), "OriginHost": get("cgr_originhost") or origin_host,
                           "Source": f"OSIPS_{event.name}", "RequestType": get("cgr_reqtype") or default_request_type}
    for param, name in (("cgr_tenant", "Tenant"), ("cgr_category", "Category")):
        if get(param):
            out[name] = get(param)
    out["Account"] = get("cgr_account")
    out["Subject"] = get("cgr_subject") or get("cgr_account")
    out["Destination"] = get("cgr_destination")
    out["SetupTime"] = get("created") or get("time")
    if event.name == E_ACC_CDR:
        out["AnswerTime"] = get("cgr_answertime") or get("time")
        out["Usage"] = f"{get('duration') or '0'}s"
    elif event.name == E_ACC_MISSED_EVENT:
        out["Usage"] = "0s"
    elif event.name == E_ACC_EVENT and get("method") == "INVITE":
        out["AnswerTime"] = get("cgr_answertime") or f"{received_at:.3f}"
    if get("sip_code"):
        out["DisconnectCause"] = get("sip_code")
    for key, value in event.fields.items():
        if key not in _PRIMARY:
            out[key] = value
    return out


def check_start(fields: dict[str, Any]) -> None:
    """What a session start needs (the seed's MissingParameter): Call-ID, account and destination."""
    missing = [name for name in ("OriginID", "Account", "Destination") if not fields.get(name)]
    if missing:
        raise EventFieldError(f"MANDATORY_IE_MISSING: [{', '.join(missing)}]")


def usage_until(answer_time: Any, end_time: str, timezone: str | None = None) -> int:
    """Nanoseconds from the answer to ``end_time`` (a BYE's unix ``time``); 0 when either is unknown."""
    try:
        start, end = parse_time(answer_time, timezone), parse_time(end_time, timezone)
    except TimeError:
        return 0
    if start is None or end is None:
        return 0
    return max(0, round((end - start).total_seconds())) * SECOND


__all__ = ["CGR_FLAGS", "DIALOG_ID", "EventFieldError", "call_fields", "check_start", "usage_until"]
