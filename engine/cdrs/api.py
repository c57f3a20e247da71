"""The CDRsV1 methods SessionS (and any service) reaches CDRs with, as typed signatures and argument models.

``await PROCESS_EVENT.call(conn, ArgV1ProcessEvent(Flags=[...], Event={...}))`` hands the event over as it is
when CDRs runs in this process, and sends CGRateS's JSON (``{"Flags": [...], "Tenant": ..., "Event": {...}}``)
when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

from pycgrates.engine.models.event import CGREvent, event_fields
from pycgrates.engine.rpc.registry import Method
from pycgrates.engine.storage.base import CDRFilter
from pycgrates.engine.units import parse_duration


@dataclass(slots=True)
class ArgV1ProcessEvent(CGREvent):
    """CGRateS's ArgV1ProcessEvent: an event and the flags choosing what CDRs does with it (``*rals``,
    ``*chargers:false``, ``*store``, ...)."""

    Flags: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any, timezone: str | None = None) -> Self:
        if not isinstance(data, dict):
            raise TypeError("arguments must be a JSON object")
        return cls(**event_fields(data, timezone), Flags=[str(f) for f in data.get("Flags") or []])

    def to_json(self) -> dict[str, Any]:
        return {"Flags": self.Flags, **CGREvent.to_json(self)}


@dataclass(slots=True)
class SMCost:
    """What a session cost, per run (CGRateS's SMCost); ``CostDetails`` is the EventCost JSON."""

    CGRID: str = ""
    RunID: str = ""
    OriginHost: str = ""
    OriginID: str = ""
    CostSource: str = ""
    Usage: int = 0
    CostDetails: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"CGRID": self.CGRID, "RunID": self.RunID, "OriginHost": self.OriginHost, "OriginID": self.OriginID,
                "CostSource": self.CostSource, "Usage": self.Usage, "CostDetails": self.CostDetails}


@dataclass(slots=True)
class AttrCDRSStoreSMCost:
    """CDRsV1.StoreSessionCost's argument: the cost and whether an existing one makes it EXISTS."""

    Cost: SMCost
    CheckDuplicate: bool = False

    @classmethod
    def from_json(cls, data: Any, timezone: str | None = None) -> Self:
        if not isinstance(data, dict):
            raise TypeError("arguments must be a JSON object")
        cost = data.get("Cost") or data  # a bare SMCost is accepted too
        return cls(Cost=SMCost(CGRID=str(cost.get("CGRID") or ""), RunID=str(cost.get("RunID") or ""),
                               OriginHost=str(cost.get("OriginHost") or ""),
                               OriginID=str(cost.get("OriginID") or ""), CostSource=str(cost.get("CostSource") or ""),
                               Usage=parse_duration(cost.get("Usage") or 0), CostDetails=cost.get("CostDetails")),
                   CheckDuplicate=bool(data.get("CheckDuplicate")))

    def to_json(self) -> dict[str, Any]:
        return {"Cost": self.Cost.to_json(), "CheckDuplicate": self.CheckDuplicate}


#: RPCCDRsFilter keys holding lists, and the CDRFilter attributes they fill
_LISTS = {
    "CGRIDs": "cgrids", "RunIDs": "run_ids", "NotRunIDs": "not_run_ids", "OriginIDs": "origin_ids",
    "OriginHosts": "origin_hosts", "Sources": "sources", "ToRs": "tors", "RequestTypes": "request_types",
    "Tenants": "tenants", "Categories": "categories", "Accounts": "accounts", "Subjects": "subjects",
    "DestinationPrefixes": "destination_prefixes",
}
_TIMES = {"SetupTimeStart": "setup_time_start", "SetupTimeEnd": "setup_time_end",
          "AnswerTimeStart": "answer_time_start", "AnswerTimeEnd": "answer_time_end"}
_ORDER_IDS = {"OrderIDStart": "order_id_start", "OrderIDEnd": "order_id_end"}
_USAGES = {"MinUsage": "min_usage", "MaxUsage": "max_usage"}
_COSTS = {"MinCost": "min_cost", "MaxCost": "max_cost"}


def _filter_from(data: Any, lists: dict[str, str]) -> tuple[dict, CDRFilter]:
    """The arguments as an object, and a CDRFilter with their list fields (``lists``: argument → filter field)."""
    args = data or {}
    if not isinstance(args, dict):
        raise TypeError("arguments must be a JSON object")
    f = CDRFilter()
    for key, attr in lists.items():
        if args.get(key):
            setattr(f, attr, list(args[key]))
    return args, f


@dataclass(slots=True)
class CDRsQuery:
    """CGRateS's RPCCDRsFilter: which stored CDRs (GetCDRs, GetCDRsCount, RateCDRs)."""

    filter: CDRFilter = field(default_factory=CDRFilter)

    @classmethod
    def from_json(cls, data: Any, timezone: str | None = None) -> Self:
        args, f = _filter_from(data, _LISTS)
        for key, attr in _TIMES.items():
            if args.get(key):
                setattr(f, attr, args[key])
        for key, attr in _ORDER_IDS.items():
            if args.get(key) is not None:
                setattr(f, attr, int(args[key]))
        for key, attr in _USAGES.items():
            if args.get(key):
                setattr(f, attr, parse_duration(args[key]))
        for key, attr in _COSTS.items():
            if args.get(key) is not None:
                setattr(f, attr, float(args[key]))
        f.order_by = args.get("OrderBy") or ""
        paginator = args.get("Paginator") or args
        if paginator.get("Limit") is not None:
            f.limit = int(paginator["Limit"])
        if paginator.get("Offset") is not None:
            f.offset = int(paginator["Offset"])
        return cls(f)

    def to_json(self) -> dict[str, Any]:
        f = self.filter
        out: dict[str, Any] = {}
        for table in (_LISTS, _TIMES, _ORDER_IDS, _USAGES, _COSTS):
            for key, attr in table.items():
                value = getattr(f, attr)
                if value not in (None, [], ""):
                    out[key] = value
        if f.order_by:
            out["OrderBy"] = f.order_by
        if f.limit is not None or f.offset:
            out["Paginator"] = {"Limit": f.limit, "Offset": f.offset}
        return out


#: APIerSv1.GetCDRs's AttrGetCdrs keys holding lists, and the CDRFilter attributes they fill
_V1_LISTS = {
    "CgrIds": "cgrids", "MediationRunIds": "run_ids", "TORs": "tors", "CdrHosts": "origin_hosts",
    "CdrSources": "sources", "ReqTypes": "request_types", "Tenants": "tenants", "Categories": "categories",
    "Accounts": "accounts", "Subjects": "subjects", "DestinationPrefixes": "destination_prefixes",
}


@dataclass(slots=True)
class AttrGetCdrs:
    """APIerSv1.GetCDRs's argument (CGRateS's utils.AttrGetCdrs): older names than RPCCDRsFilter; TimeStart and
    TimeEnd bound the answer time; SkipRated keeps unrated CDRs, SkipErrors those rated without error."""

    filter: CDRFilter = field(default_factory=CDRFilter)

    @classmethod
    def from_json(cls, data: Any, timezone: str | None = None) -> Self:
        args, f = _filter_from(data, _V1_LISTS)
        if args.get("OrderIdStart") is not None:
            f.order_id_start = int(args["OrderIdStart"])
        if args.get("OrderIdEnd") is not None:
            f.order_id_end = int(args["OrderIdEnd"])
        f.answer_time_start = args.get("TimeStart") or None
        f.answer_time_end = args.get("TimeEnd") or None
        if args.get("SkipRated"):
            f.max_cost = -1.0
        elif args.get("SkipErrors"):
            f.min_cost, f.max_cost = 0.0, -1.0
        f.order_by = args.get("OrderBy") or ""
        if args.get("Limit") is not None:
            f.limit = int(args["Limit"])
        f.offset = int(args.get("Offset") or 0)
        return cls(f)

    def to_json(self) -> dict[str, Any]:
        f = self.filter
        out: dict[str, Any] = {key: getattr(f, attr) for key, attr in _V1_LISTS.items() if getattr(f, attr)}
        for key, value in (("OrderIdStart", f.order_id_start), ("OrderIdEnd", f.order_id_end),
                           ("TimeStart", f.answer_time_start), ("TimeEnd", f.answer_time_end),
                           ("Limit", f.limit)):
            if value is not None:
                out[key] = value
        if f.order_by:
            out["OrderBy"] = f.order_by
        if f.offset:
            out["Offset"] = f.offset
        return out


PROCESS_EVENT: Method[ArgV1ProcessEvent, str] = Method("CDRsV1.ProcessEvent", ArgV1ProcessEvent)
STORE_SESSION_COST: Method[AttrCDRSStoreSMCost, str] = Method("CDRsV1.StoreSessionCost", AttrCDRSStoreSMCost)
GET_CDRS_COUNT: Method[CDRsQuery, int] = Method("CDRsV1.GetCDRsCount", CDRsQuery)
GET_CDRS: Method[CDRsQuery, list] = Method("CDRsV1.GetCDRs", CDRsQuery)
APIER_V1_GET_CDRS: Method[AttrGetCdrs, list] = Method("APIerSv1.GetCDRs", AttrGetCdrs)
APIER_V2_GET_CDRS: Method[CDRsQuery, list] = Method("APIerSv2.GetCDRs", CDRsQuery)
REMOVE_CDRS: Method[CDRsQuery, str] = Method("APIerSv1.RemoveCDRs", CDRsQuery)
V2_PROCESS_EVENT: Method[ArgV1ProcessEvent, list] = Method("CDRsV2.ProcessEvent", ArgV1ProcessEvent)
