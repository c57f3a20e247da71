"""What the console's pages show, read from the services through their RPC methods and shaped for the page.

Each function takes the Conn of the service it reads and returns JSON-shaped data; an RPCError (NOT_FOUND among
them) goes back to the caller, which answers it as an HTTP status. Values stay as the APIs report them (money as
JSON numbers, durations in nanoseconds); the page formats them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.units import SECOND, TimeError, money_json, parse_time, to_decimal

#: CDRs a search returns at most (the form's limit is capped to it)
MAX_CDRS = 10_000
DEFAULT_CDRS = 100
#: debits the account page lists
RECENT_DEBITS = 20


class BadQuery(ValueError):
    """A form field the console cannot use; the message names it."""


async def _listed(conn: Any, method: str, arg: Any) -> list:
    """A list reply, NOT_FOUND being the empty list (as CGRateS answers an empty result)."""
    try:
        return list(await conn.call(method, arg) or [])
    except RPCError as exc:
        if exc.message == NOT_FOUND:
            return []
        raise


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except TimeError:
        return None


# ---------------------------------------------------------------------------------------------- live sessions


async def live_sessions(sessions: Any, now: datetime) -> list[dict]:
    """One row per session run (``SessionSv1.GetActiveSessions``), the longest running first."""
    rows = []
    for run in await _listed(sessions, "SessionSv1.GetActiveSessions", {}):
        answered = _time(run.get("AnswerTime"))
        rows.append({
            "CGRID": run.get("CGRID"), "RunID": run.get("RunID"), "OriginID": run.get("OriginID"),
            "OriginHost": run.get("OriginHost"), "Tenant": run.get("Tenant"), "Account": run.get("Account"),
            "Subject": run.get("Subject"), "Destination": run.get("Destination"), "ToR": run.get("ToR"),
            "RequestType": run.get("RequestType"), "State": run.get("State", "active"),
            "AnswerTime": run.get("AnswerTime"),
            "Duration": int((now - answered).total_seconds() * SECOND) if answered is not None else None,
            "Usage": run.get("Usage"), "Debited": run.get("MaxCostSoFar"), "MaxUsage": run.get("MaxUsage"),
        })
    rows.sort(key=lambda r: (-(r["Duration"] or 0), r["CGRID"] or "", r["RunID"] or ""))
    return rows


# ---------------------------------------------------------------------------------------------- accounts


def _expiry(value: Any) -> str | None:
    return None if _time(value) is None else str(value)


def balance_rows(balance_map: Mapping[str, list] | None, now: datetime) -> dict[str, list[dict]]:
    """The balances by type, each with its expiry (None: never) and whether it still counts."""
    out: dict[str, list[dict]] = {}
    for btype in sorted(balance_map or {}):
        rows = []
        for b in balance_map[btype] or []:
            expires = _time(b.get("ExpirationDate"))
            rows.append({
                "ID": b.get("ID"), "Uuid": b.get("Uuid"), "Value": b.get("Value"),
                "ExpirationDate": _expiry(b.get("ExpirationDate")), "Expired": expires is not None and expires <= now,
                "Weight": b.get("Weight"), "Disabled": bool(b.get("Disabled")),
                "DestinationIDs": sorted(k if v else "!" + k for k, v in (b.get("DestinationIDs") or {}).items()),
                "Categories": sorted(k for k, v in (b.get("Categories") or {}).items() if v),
            })
        out[btype] = rows
    return out


def balance_totals(balances: Mapping[str, list[dict]]) -> dict[str, float | int]:
    """What each balance type holds now: the balances neither expired nor disabled, summed exactly."""
    totals = {}
    for btype, rows in balances.items():
        total = sum((to_decimal(r["Value"]) for r in rows if not r["Expired"] and not r["Disabled"]), Decimal(0))
        totals[btype] = money_json(total)
    return totals


def trigger_rows(triggers: list | None) -> list[dict]:
    return [{
        "ID": t.get("ID"), "UniqueID": t.get("UniqueID"), "ThresholdType": t.get("ThresholdType"),
        "ThresholdValue": t.get("ThresholdValue"), "BalanceType": (t.get("Balance") or {}).get("Type"),
        "ActionsID": t.get("ActionsID"), "Recurrent": bool(t.get("Recurrent")), "Executed": bool(t.get("Executed")),
        "LastExecutionTime": _expiry(t.get("LastExecutionTime")),
    } for t in triggers or []]


async def account_view(apiers: Any, cdrs: Any | None, tenant: str, account: str, now: datetime) -> dict:
    """An account as ``APIerSv2.GetAccount`` reports it, with its recent debits (its rated CDRs, newest first)."""
    acc = await apiers.call("APIerSv2.GetAccount", {"Tenant": tenant, "Account": account})
    balances = balance_rows(acc.get("BalanceMap"), now)
    debits: list[dict] = []
    if cdrs is not None:
        query = {"Tenants": [tenant], "Accounts": [account], "MinCost": 0, "OrderBy": "OrderID;desc",
                 "Limit": RECENT_DEBITS}
        debits = [cdr_row(c) for c in await _listed(cdrs, "CDRsV1.GetCDRs", query)]
    return {"ID": acc.get("ID"), "Tenant": tenant, "Account": account, "AllowNegative": bool(acc.get("AllowNegative")),
            "Disabled": bool(acc.get("Disabled")), "UpdateTime": acc.get("UpdateTime"), "Balances": balances,
            "Totals": balance_totals(balances), "ActionTriggers": trigger_rows(acc.get("ActionTriggers")),
            "RecentDebits": debits}


# ---------------------------------------------------------------------------------------------- CDRs

#: the CDR fields a search shows and its CSV holds, in order
CDR_FIELDS = ("CGRID", "RunID", "OrderID", "OriginID", "OriginHost", "ToR", "RequestType", "Tenant", "Category",
              "Account", "Subject", "Destination", "SetupTime", "AnswerTime", "Usage", "Cost")


def cdr_row(cdr: Mapping[str, Any]) -> dict:
    return {name: cdr.get(name) for name in CDR_FIELDS}


def _number(params: Mapping[str, str], name: str) -> float | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return float(to_decimal(text))
    except ValueError:
        raise BadQuery(f"{name}: {text!r} is not a number") from None


def _time_param(params: Mapping[str, str], name: str) -> str | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        parse_time(text)
    except TimeError:
        raise BadQuery(f"{name}: {text!r} is not a time (write 2024-01-31T10:00:00Z)") from None
    return text


def cdr_query(params: Mapping[str, str]) -> dict:
    """The CDRsV1.GetCDRs filter of a search form: ``from``/``to`` (setup time), ``tenant``, ``account``,
    ``destination`` (a prefix), ``min_cost``/``max_cost``, ``limit``."""
    query: dict[str, Any] = {"OrderBy": "OrderID;desc"}
    for form, field in (("from", "SetupTimeStart"), ("to", "SetupTimeEnd")):
        value = _time_param(params, form)
        if value is not None:
            query[field] = value
    for form, field in (("tenant", "Tenants"), ("account", "Accounts"), ("destination", "DestinationPrefixes")):
        value = (params.get(form) or "").strip()
        if value:
            query[field] = [value]
    for form, field in (("min_cost", "MinCost"), ("max_cost", "MaxCost")):
        value = _number(params, form)
        if value is not None:
            query[field] = value
    limit = _number(params, "limit")
    query["Limit"] = max(1, min(MAX_CDRS, int(limit))) if limit is not None else DEFAULT_CDRS
    return query


async def cdr_search(cdrs: Any, query: dict) -> list[dict]:
    return [cdr_row(c) for c in await _listed(cdrs, "CDRsV1.GetCDRs", query)]


def _cell(value: Any) -> Any:
    """A CSV cell; text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is quoted with ``'``:
    accounts and destinations come from the switches."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def cdrs_csv(rows: list[dict]) -> str:
    """The rows as CSV, a header first (Usage in nanoseconds, as on the wire)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CDR_FIELDS)
    for row in rows:
        writer.writerow([_cell(row.get(f)) for f in CDR_FIELDS])
    return out.getvalue()


__all__ = ["CDR_FIELDS", "BadQuery", "account_view", "balance_rows", "balance_totals", "cdr_query", "cdr_search",
           "cdrs_csv", "live_sessions"]
