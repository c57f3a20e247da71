"""CDRs: the CDR server (CGRateS CDRsV1): attributes → chargers → rating → store → export/stats/thresholds.

A CDR is unique on (CGRID, RunID). Uniqueness is checked *before* rating, and CDRs being processed are held in
an in-flight set, so a duplicate is refused without ever being debited twice — even when both copies arrive at
the same moment.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import parse_qsl

from pycgrates.engine.cdrs import api
from pycgrates.engine.cdrs.api import ArgV1ProcessEvent, AttrCDRSStoreSMCost, AttrGetCdrs, CDRsQuery
from pycgrates.engine.models import cdr as C
from pycgrates.engine.rating import api as api_rals
from pycgrates.engine.rating.callcost import event_cost_of
from pycgrates.engine.rating.calldesc import CallDescriptor
from pycgrates.engine.rpc.errors import Exists, NotFound, RPCError, mandatory_ie_missing, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import RALS_JOURNAL, CDRFilter
from pycgrates.engine.units import SECOND, parse_time

log = logging.getLogger("cgr.cdrs")

DEBIT_REQUEST_TYPES = (C.PREPAID, C.PSEUDOPREPAID, C.POSTPAID)
COST_SOURCE_CDRS = "*cdrs"
COST_SOURCE_SESSIONS = "*sessions"
OPT_EVENT_TYPE = "*eventType"
EVENT_TYPE_CDR = "CDR"


def debit_journal_key(cdr: dict) -> str:
    return f"cdr:{cdr[C.CGRID]}:{cdr[C.RUN_ID]}"


def call_descriptor_for(cdr: dict) -> CallDescriptor:
    """The CallDescriptor rating a CDR (CGRateS's CDRServer.getCostFromRater)."""
    start = parse_time(cdr.get(C.ANSWER_TIME)) or parse_time(cdr.get(C.SETUP_TIME))
    if start is None:
        raise mandatory_ie_missing("AnswerTime")
    usage = int(cdr.get(C.USAGE) or 0)
    start_ns = int(start.timestamp()) * SECOND + start.microsecond * 1000
    return CallDescriptor(
        CgrID=cdr[C.CGRID], RunID=cdr[C.RUN_ID], ToR=cdr[C.TOR], Tenant=cdr[C.TENANT], Category=cdr[C.CATEGORY],
        Subject=cdr[C.SUBJECT], Account=cdr[C.ACCOUNT], Destination=str(cdr[C.DESTINATION] or ""),
        TimeStart=start_ns, TimeEnd=start_ns + usage, DurationIndex=usage, PerformRounding=True,
        ExtraFields=dict(cdr.get("ExtraFields") or {}),
    )


def filter_from_args(args: dict) -> CDRFilter:
    """CGRateS's RPCCDRsFilter (JSON) → CDRFilter."""
    return CDRsQuery.from_json(args).filter


class CDRService:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._in_flight: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------------------------------ config

    @property
    def cfg(self) -> dict:
        return self.ctx.cfg.section("cdrs")

    def _conn(self, option: str):
        return self.ctx.conns.get(self.cfg.get(option) or [])

    def _general(self, option: str, default: Any = "") -> Any:
        return self.ctx.cfg.get("general", option, default=default)

    # ------------------------------------------------------------------------------------------ RPC

    @rpc("CDRsV1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    def _event_opts(self, flag_list: list[str]) -> dict[str, bool]:
        """What ProcessEvent does with an event: its flags, else the cdrs section (CGRateS's
        newCDRProcessingArgs)."""
        flags = _flags(flag_list)
        cfg = self.cfg
        return_opts = {
            "attributes": flags.get("*attributes", bool(cfg.get("attributes_conns"))),
            "chargers": flags.get("*chargers", bool(cfg.get("chargers_conns"))),
            "rals": flags.get("*rals", False),
            "rerate": flags.get("*rerate", False),
            "refund": flags.get("*refund", False),
            "store": flags.get("*store", bool(cfg.get("store_cdrs", True))),
            "export": flags.get("*export", bool(cfg.get("ees_conns") or cfg.get("online_cdr_exports"))),
            "thresholds": flags.get("*thresholds", bool(cfg.get("thresholds_conns"))),
            "stats": flags.get("*stats", bool(cfg.get("stats_conns"))),
        }
        if return_opts["rerate"]:
            return_opts["rals"] = True
        return return_opts

    @rpc(api.PROCESS_EVENT)
    async def process_event_rpc(self, args: ArgV1ProcessEvent) -> str:
        await self.process_event(args.cgr_event().to_json(), **self._event_opts(args.Flags))
        return "OK"

    @rpc(api.V2_PROCESS_EVENT)
    async def process_event_v2(self, args: ArgV1ProcessEvent) -> list[dict]:
        """CDRsV1.ProcessEvent answering the events it processed (CGRateS's EventWithFlags: one per CDR)."""
        cdrs = await self.process_event(args.cgr_event().to_json(), **self._event_opts(args.Flags))
        return [{"Flags": [], "Event": C.cdr_to_event(cdr)} for cdr in cdrs]

    @rpc("CDRsV1.ProcessEvents")
    async def process_events_rpc(self, args: Any) -> str:
        """``{"Flags", "CGREvents": [...], "APIOpts"}``: each event as ProcessEvent, with the same flags."""
        if not isinstance(args, dict):
            raise server_error("arguments must be a JSON object")
        opts = self._event_opts([str(f) for f in args.get("Flags") or []])
        tz = self._general("default_timezone", "Local")
        for event in args.get("CGREvents") or []:
            cgr_event = ArgV1ProcessEvent.from_json(event, tz).cgr_event().to_json()
            cgr_event["ID"] = cgr_event.get("ID") or uuid.uuid4().hex
            cgr_event["APIOpts"] = {**(args.get("APIOpts") or {}), **(cgr_event.get("APIOpts") or {})}
            await self.process_event(cgr_event, **opts)
        return "OK"

    @rpc("CDRsV1.ProcessExternalCDR")
    async def process_external_cdr(self, args: Any) -> str:
        """A CDR in CGRateS's ExternalCDR shape (Usage and times as text, CostDetails as JSON text), processed as
        ProcessCDR processes a CDR."""
        if not isinstance(args, dict):
            raise server_error("arguments must be a JSON object (an ExternalCDR)")
        try:
            cdr = C.from_external_cdr(args)
        except ValueError as exc:
            raise server_error(exc) from None
        return await self.process_cdr_rpc(cdr)

    @rpc("CDRsV1.ReprocessCDRs")
    async def reprocess_cdrs(self, args: Any) -> str:
        """``{RPCCDRsFilter..., "Flags"}``: the stored CDRs processed again as events, only by what the flags
        name (nothing from the cdrs section), each stored over itself."""
        args = args if isinstance(args, dict) else {}
        flags = _flags(args.get("Flags") or [])
        for cdr in await self.ctx.stordb.get_cdrs(filter_from_args(args)):
            await self.process_event(
                {"Tenant": cdr[C.TENANT], "ID": cdr[C.CGRID], "Event": C.cdr_to_event(cdr),
                 "APIOpts": args.get("APIOpts") or {}},
                attributes=flags.get("*attributes", False), chargers=flags.get("*chargers", False),
                rals=flags.get("*rals", False) or flags.get("*rerate", False), rerate=True,
                refund=flags.get("*refund", False), store=flags.get("*store", True),
                export=flags.get("*export", False), thresholds=flags.get("*thresholds", False),
                stats=flags.get("*stats", False))
        return "OK"

    @rpc("CDRsV1.ProcessCDR")
    async def process_cdr_rpc(self, args: dict) -> str:
        """A CDR in CGRateS's CDR shape: rated unless PreRated, charged through ChargerS when configured."""
        event = dict(args.get("ExtraFields") or {})
        event.update({k: v for k, v in args.items() if k not in ("ExtraFields", "APIOpts")})
        pre_rated = bool(args.get(C.PRE_RATED))
        cfg = self.cfg
        await self.process_event(
            {"Tenant": args.get(C.TENANT) or "", "ID": args.get(C.CGRID) or "", "Event": event,
             "APIOpts": args.get("APIOpts") or {}},
            attributes=bool(cfg.get("attributes_conns")),
            chargers=bool(cfg.get("chargers_conns")) and not pre_rated,
            rals=not pre_rated, rerate=False, refund=False, store=bool(cfg.get("store_cdrs", True)),
            export=bool(cfg.get("ees_conns")), thresholds=bool(cfg.get("thresholds_conns")),
            stats=bool(cfg.get("stats_conns")),
        )
        return "OK"

    @rpc(api.GET_CDRS)
    async def get_cdrs(self, query: CDRsQuery) -> list[dict]:
        """The stored CDRs in CGRateS's CDR shape (engine.CDR)."""
        cdrs = await self.ctx.stordb.get_cdrs(query.filter)
        if not cdrs:
            raise NotFound()
        return cdrs

    @rpc(api.APIER_V2_GET_CDRS)
    async def apier_v2_get_cdrs(self, query: CDRsQuery) -> list[dict]:
        """The stored CDRs as CGRateS's ExternalCDR (usage and times as text, CostDetails as JSON text)."""
        return [C.as_external_cdr(cdr) for cdr in await self.get_cdrs(query)]

    @rpc(api.APIER_V1_GET_CDRS)
    async def apier_v1_get_cdrs(self, query: AttrGetCdrs) -> list[dict]:
        """APIerSv2.GetCDRs with APIerSv1's older filter names (AttrGetCdrs)."""
        return await self.apier_v2_get_cdrs(CDRsQuery(query.filter))

    @rpc("APIerSv1.GetEventCost")
    async def get_event_cost(self, args: Any) -> dict:
        """``{"CgrId", "RunId"}`` (RunId *default when empty) → the stored CDR's CostDetails (an EventCost)."""
        args = args if isinstance(args, dict) else {}
        if not args.get("CgrId"):
            raise mandatory_ie_missing("CgrId")
        cdrs = await self.ctx.stordb.get_cdrs(CDRFilter(cgrids=[str(args["CgrId"])],
                                                        run_ids=[str(args.get("RunId") or C.META_DEFAULT)]))
        if not cdrs or not cdrs[0].get(C.COST_DETAILS):
            raise NotFound()
        return cdrs[0][C.COST_DETAILS]

    @rpc(api.GET_CDRS_COUNT, "APIerSv1.CountCDRs", "APIerSv2.CountCDRs")
    async def count_cdrs(self, query: CDRsQuery) -> int:
        return await self.ctx.stordb.count_cdrs(query.filter)

    @rpc(api.REMOVE_CDRS)
    async def remove_cdrs(self, query: CDRsQuery) -> str:
        """Remove the stored CDRs the filter matches (none matching is not an error)."""
        await self.ctx.stordb.get_cdrs(query.filter, remove=True)
        return "OK"

    @rpc("CDRsV1.RateCDRs")
    async def rate_cdrs(self, args: dict) -> str:
        """Re-rate stored CDRs: refund what they cost, rate again, store over the old ones."""
        flags = _flags(args.get("Flags") or [])
        cdrs = await self.ctx.stordb.get_cdrs(filter_from_args(args or {}))
        for cdr in cdrs:
            await self.process_event(
                {"Tenant": cdr[C.TENANT], "ID": cdr[C.CGRID], "Event": C.cdr_to_event(cdr), "APIOpts": {}},
                attributes=flags.get("*attributes", False), chargers=flags.get("*chargers", False), rals=True,
                rerate=True, refund=False, store=flags.get("*store", True), export=flags.get("*export", False),
                thresholds=flags.get("*thresholds", False), stats=flags.get("*stats", False),
            )
        return "OK"

    @rpc(api.STORE_SESSION_COST, "CDRsV2.StoreSessionCost")
    async def store_session_cost(self, args: AttrCDRSStoreSMCost) -> str:
        cost = args.Cost
        if args.CheckDuplicate and await self.ctx.stordb.get_session_costs(cost.CGRID, cost.RunID):
            raise Exists()
        await self.ctx.stordb.set_session_cost(cost.to_json())
        return "OK"

    # ------------------------------------------------------------------------------------------ processing

    async def process_event(self, cgr_event: dict, *, attributes: bool, chargers: bool, rals: bool, rerate: bool,
                            refund: bool, store: bool, export: bool, thresholds: bool, stats: bool) -> list[dict]:
        event = cgr_event
        if attributes:
            event = await self._attributes(event)
        runs = await self._charger_runs(event) if chargers else [event]
        tz = self._general("default_timezone", "Local")
        cdrs = [
            C.event_to_cdr(run.get("Event") or {}, tenant=run.get("Tenant") or "",
                           default_tenant=self._general("default_tenant", "cgrates.org"),
                           default_category=self._general("default_category", "call"),
                           default_request_type=self._general("default_request_type", C.RATED), timezone=tz)
            for run in runs
        ]
        keys = [(cdr[C.CGRID], cdr[C.RUN_ID]) for cdr in cdrs]
        if not (rerate or refund):
            await self._refuse_duplicates(keys)
        for key in keys:
            self._in_flight.add(key)
        try:
            rated: list[dict] = []
            for cdr in cdrs:
                if refund and cdr.get(C.COST_DETAILS):
                    await self._refund(cdr)
                if rals:
                    rated.extend(await self._rate(cdr, rerate))
                else:
                    rated.append(cdr)
            if store:
                for cdr in rated:
                    await self.ctx.stordb.set_cdr(cdr, allow_update=rerate or refund)
                    if cdr.get(C.COST_SOURCE) == COST_SOURCE_CDRS:
                        await self.ctx.dm.remove(RALS_JOURNAL, debit_journal_key(cdr))
        finally:
            for key in keys:
                self._in_flight.discard(key)
        await self._after(rated, export, thresholds, stats, cgr_event.get("APIOpts") or {})
        return rated

    async def _refuse_duplicates(self, keys: list[tuple[str, str]]) -> None:
        for cg, run in keys:
            if (cg, run) in self._in_flight:
                raise Exists()
            if await self.ctx.stordb.count_cdrs(CDRFilter(cgrids=[cg], run_ids=[run])):
                raise Exists()

    async def _attributes(self, event: dict) -> dict:
        conn = self._conn("attributes_conns")
        if conn is None:
            return event
        args = {**event, "APIOpts": {**(event.get("APIOpts") or {}), "*context": "*cdrs"}}
        try:
            reply = await conn.call("AttributeSv1.ProcessEvent", args)
        except NotFound:
            return event
        return reply.get("CGREvent") or event

    async def _charger_runs(self, event: dict) -> list[dict]:
        conn = self._conn("chargers_conns")
        if conn is None:
            raise server_error("ChargerS is not configured (cdrs.chargers_conns)")
        try:
            reply = await conn.call("ChargerSv1.ProcessEvent", event)
        except NotFound:
            return [event]
        return [r["CGREvent"] for r in reply]

    async def _rate(self, cdr: dict, rerate: bool) -> list[dict]:
        """Price a CDR (CGRateS's rateCDR): session cost when SessionS charged it, else rate or debit now."""
        cdr[C.EXTRA_INFO] = ""
        if cdr[C.REQUEST_TYPE] == C.NONE:
            return [cdr]
        if cdr[C.REQUEST_TYPE] in (C.PREPAID,) and not rerate:
            costs = await self._session_costs(cdr)
            if costs:
                return [self._from_session_cost(cdr, sc) for sc in costs]
            log.warning("no session cost for CGRID %s RunID %s; rating the CDR", cdr[C.CGRID], cdr[C.RUN_ID])
        if rerate and cdr.get(C.COST_DETAILS) and cdr[C.REQUEST_TYPE] in DEBIT_REQUEST_TYPES:
            await self._refund(cdr)
        conn = self._conn("rals_conns")
        if conn is None:
            cdr[C.EXTRA_INFO] = "RALs not configured (cdrs.rals_conns)"
            cdr[C.COST] = -1.0
            return [cdr]
        method = api_rals.DEBIT if cdr[C.REQUEST_TYPE] in DEBIT_REQUEST_TYPES else api_rals.GET_COST
        cd = call_descriptor_for(cdr)
        if cdr[C.REQUEST_TYPE] in (C.POSTPAID, C.PSEUDOPREPAID):
            cd.DenyNegativeAccount = False  # usage already happened: it is owed even past the balance
        if method is api_rals.DEBIT:
            # journaled with the debit: a retry after a crash between the debit and the CDR write is answered
            # from the journal instead of charging again; the record goes once the CDR is stored
            cd.journal_key = debit_journal_key(cdr)
        try:
            cc = await method.call(conn, cd)
        except RPCError as exc:
            cdr[C.EXTRA_INFO] = exc.message
            cdr[C.COST] = -1.0
            cdr[C.COST_DETAILS] = None
            return [cdr]
        cdr[C.COST] = float(cc.Cost)
        cdr[C.COST_DETAILS] = event_cost_of(cc, cdr[C.CGRID], cdr[C.RUN_ID])
        cdr[C.COST_SOURCE] = COST_SOURCE_CDRS
        return [cdr]

    async def _session_costs(self, cdr: dict) -> list[dict]:
        retries = int(self.cfg.get("session_cost_retries", 5) or 0)
        delay = 0.05
        for attempt in range(max(1, retries)):
            costs = await self.ctx.stordb.get_session_costs(cdr[C.CGRID], cdr[C.RUN_ID])
            if costs:
                return costs
            if attempt < retries - 1:
                await asyncio.sleep(delay)
                delay = min(delay * 1.6, 1.0)
        return []

    @staticmethod
    def _from_session_cost(cdr: dict, sc: dict) -> dict:
        out = dict(cdr)
        if not out.get(C.USAGE):
            out[C.USAGE] = int(sc.get("Usage") or 0)
        details = sc.get("CostDetails")
        out[C.COST] = float(details.get("Cost", 0)) if isinstance(details, dict) else float(sc.get("Cost", 0) or 0)
        out[C.COST_DETAILS] = details
        out[C.COST_SOURCE] = sc.get("CostSource") or COST_SOURCE_SESSIONS
        return out

    async def _refund(self, cdr: dict) -> None:
        """Give back what a previously rated CDR took (its EventCost's increments) before re-rating."""
        conn = self._conn("rals_conns")
        details = cdr.get(C.COST_DETAILS)
        if conn is None or not isinstance(details, dict):
            return
        await conn.call("Responder.RefundEventCost", {"CgrID": cdr[C.CGRID], "RunID": cdr[C.RUN_ID],
                                                       "Tenant": cdr[C.TENANT], "ToR": cdr[C.TOR],
                                                       "EventCost": details})

    async def _after(self, cdrs: list[dict], export: bool, thresholds: bool, stats: bool, opts: dict) -> None:
        """The stored CDRs to EEs, ThresholdS and StatS, each as a CGREvent of its own (a new ID per CDR, as
        CGRateS's CDR.AsCGREvent gives it: the runs of one call are distinct events); ThresholdS's copy of the
        options says ``*eventType`` CDR (CGRateS's thdSProcessEvent), what CDR thresholds filter on."""
        targets = []
        if export:
            targets.append(("ees_conns", "EeSv1.ProcessEvent", {}))
        if thresholds:
            targets.append(("thresholds_conns", "ThresholdSv1.ProcessEvent", {OPT_EVENT_TYPE: EVENT_TYPE_CDR}))
        if stats:
            targets.append(("stats_conns", "StatSv1.ProcessEvent", {}))
        events = [(cdr, {"Tenant": cdr[C.TENANT], "ID": str(uuid.uuid4()), "Event": C.cdr_to_event(cdr)})
                  for cdr in cdrs]
        for option, method, extra_opts in targets:
            conn = self._conn(option)
            if conn is None:
                continue
            for cdr, ev in events:
                try:
                    await conn.call(method, {**ev, "APIOpts": {**opts, **extra_opts}})
                except NotFound:
                    pass
                except RPCError as exc:
                    log.warning("%s for CDR %s/%s: %s", method, cdr[C.CGRID], cdr[C.RUN_ID], exc)

    # ------------------------------------------------------------------------------------------ HTTP

    def http_routes(self, http_cfg: dict) -> list[tuple[str, str, Any]]:
        routes = []
        if http_cfg.get("http_cdrs"):
            routes.append(("POST", http_cfg["http_cdrs"], self._http_cdr))
            routes.append(("GET", http_cfg["http_cdrs"], self._http_cdr))
        if http_cfg.get("freeswitch_cdrs_url"):
            routes.append(("POST", http_cfg["freeswitch_cdrs_url"], self._freeswitch_cdr))
        return routes

    async def _http_cdr(self, request: Any) -> Any:
        """The seed's /cdr_http: CDR fields as a form (or query string), as CGRateS's NewCDRFromHTTPReq."""
        from aiohttp import web

        fields = dict(parse_qsl(await request.text())) if request.method == "POST" else dict(request.query)
        if not fields:
            fields = dict(request.query)
        try:
            await self.process_cdr_rpc(fields)
        except RPCError as exc:
            return web.Response(status=409 if isinstance(exc, Exists) else 400, text=exc.message + "\n")
        return web.Response(text="OK\n")

    async def _freeswitch_cdr(self, request: Any) -> Any:
        """FreeSWITCH mod_json_cdr posts the call's JSON; CGRateS maps its variables into a CDR."""
        from aiohttp import web

        try:
            body = await request.json()
            cdr = freeswitch_json_to_cdr(body)
            await self.process_cdr_rpc(cdr)
        except (ValueError, KeyError) as exc:
            return web.Response(status=400, text=f"invalid FreeSWITCH CDR: {exc}\n")
        except RPCError as exc:
            return web.Response(status=409 if isinstance(exc, Exists) else 400, text=exc.message + "\n")
        return web.Response(text="OK\n")


def freeswitch_json_to_cdr(body: dict) -> dict:
    """Map a mod_json_cdr document to CDR fields the way CGRateS's FSCdr does (cgr_* variables override)."""
    v = body.get("variables") or {}
    if not isinstance(v, dict):
        raise ValueError("variables must be an object")

    def fs_time(name: str) -> str:
        raw = v.get(name) or "0"
        usec = int(raw) if str(raw).isdigit() else 0
        if not usec:
            return ""
        sec, us = divmod(usec, 1_000_000)
        return f"{sec}.{us:06d}"

    uuid = v.get("uuid") or (body.get("callflow") or [{}])[0].get("caller_profile", {}).get("uuid", "")
    usage = v.get("billsec") or "0"
    cdr = {
        C.ORIGIN_ID: uuid,
        C.ORIGIN_HOST: v.get("cgr_originhost") or (body.get("core-uuid") or ""),
        C.SOURCE: "freeswitch_json",
        C.TOR: v.get("cgr_tor") or C.META_VOICE,
        C.REQUEST_TYPE: v.get("cgr_reqtype") or "",
        C.TENANT: v.get("cgr_tenant") or "",
        C.CATEGORY: v.get("cgr_category") or "",
        C.ACCOUNT: v.get("cgr_account") or v.get("user_name") or "",
        C.SUBJECT: v.get("cgr_subject") or v.get("cgr_account") or v.get("user_name") or "",
        C.DESTINATION: v.get("cgr_destination") or v.get("dialed_extension") or v.get("destination_number") or "",
        C.SETUP_TIME: fs_time("start_uepoch"),
        C.ANSWER_TIME: fs_time("answer_uepoch"),
        C.USAGE: f"{int(usage)}s" if str(usage).isdigit() else usage,
        C.DISCONNECT_CAUSE: v.get("hangup_cause") or "",
    }
    for key, value in v.items():
        if key.startswith("cgr_") and key[4:] not in ("tor", "reqtype", "tenant", "category", "account", "subject",
                                                       "destination", "originhost"):
            cdr[key[4:]] = value
    return cdr


def _flags(flags: list[str]) -> dict[str, bool]:
    """``["*rals", "*store:false", "*attributes:true"]`` → {"*rals": True, "*store": False, ...}."""
    out: dict[str, bool] = {}
    for flag in flags:
        name, _, value = str(flag).partition(":")
        out[name] = value.lower() not in ("false", "0") if value else True
    return out


__all__ = ["CDRService", "call_descriptor_for", "freeswitch_json_to_cdr"]
