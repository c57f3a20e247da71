"""Asterisk's own CDRs posted to the engine (``asterisk_agent.cdrs_url`` on the HTTP listener). No I/O.

Asterisk writes CDRs with cdr_custom (``cdr_custom.conf``: one line per call from ``${CDR(...)}`` variables); the
same variables posted from the dialplan's hangup handler reach the engine as they happen::

    exten => hUP,1,Set(CURLOPT(httpheader)=Content-Type: application/json)
     same => n,Set(res=${CURL(http://127.0.0.1:2080/asterisk_cdrs,{"uniqueid":"${CDR(uniqueid)}",...})})

The body is a JSON object (or a form, CURL()'s default) whose names are cdr_custom's — ``clid src dst dcontext
channel dstchannel lastapp lastdata start answer end duration billsec disposition amaflags accountcode uniqueid
userfield sequence`` — plus the call's ``cgr_*`` variables. :func:`cdr_event` makes the CGREvent SessionSv1.ProcessCDR
takes: OriginID the ``uniqueid`` (the channel id ARI events carry, so a call charged by a session gets that
session's CDR), Account ``cgr_account``/``accountcode``/``src``, Destination ``cgr_destination``/``dst``,
SetupTime ``start``, AnswerTime ``answer``, Usage ``billsec`` seconds, DisconnectCause ``disposition``; the
other variables are kept as extra fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pycgrates.engine.template.dataprovider import as_string

from .ari import CGR_ORIGINHOST, CGR_REQTYPE

SOURCE = "Asterisk_cdr_custom"
_PRIMARY = frozenset({"uniqueid", "src", "dst", "start", "answer", "billsec", "disposition", "accountcode",
                      CGR_REQTYPE, CGR_ORIGINHOST, "cgr_account", "cgr_destination", "cgr_subject", "cgr_tenant",
                      "cgr_category"})


class CDRError(ValueError):
    """A posted CDR the engine cannot use."""


def cdr_event(doc: Mapping[str, Any], *, origin_host: str, tenant: str, default_request_type: str) -> dict[str, Any]:
    """The CGREvent of one posted CDR."""
    get = {str(k): as_string(v) for k, v in doc.items() if v is not None}.get
    uniqueid = get("uniqueid") or ""
    if not uniqueid:
        raise CDRError("MANDATORY_IE_MISSING: [uniqueid]")
    billsec = get("billsec") or "0"
    if not billsec.isdigit():
        raise CDRError(f"billsec {billsec!r} is not a number of seconds")
    event: dict[str, Any] = {
        "OriginID": uniqueid, "OriginHost": get(CGR_ORIGINHOST) or origin_host, "Source": SOURCE,
        "RequestType": get(CGR_REQTYPE) or default_request_type,
        "Account": get("cgr_account") or get("accountcode") or get("src") or "",
        "Destination": get("cgr_destination") or get("dst") or "",
        "SetupTime": get("start") or "", "AnswerTime": get("answer") or "", "Usage": f"{billsec}s",
        "DisconnectCause": get("disposition") or "",
    }
    for name, field in (("cgr_subject", "Subject"), ("cgr_tenant", "Tenant"), ("cgr_category", "Category")):
        if get(name):
            event[field] = get(name)
    for key, value in doc.items():
        if key not in _PRIMARY and value is not None:
            event[str(key)] = as_string(value)
    return {"Tenant": event.get("Tenant") or tenant, "ID": f"cdr:{uniqueid}", "Time": None, "Event": event,
            "APIOpts": {}}


__all__ = ["SOURCE", "CDRError", "cdr_event"]
