"""SessionSv1.ProcessEvent: one event, the subsystems its flags name (CGRateS V1ProcessEvent).

Flags are CGRateS's FlagsWithParams: ``*name``, ``*name:*option`` or ``*name:*option:value1&value2``, a subsystem's
options spread over several flags (``*name:*option1;*option2`` is read as two options too); ``*name:false`` turns
a flag off. Options of the subsystems that work on the event:

- ``*routes``: ``*ignore_errors``, ``*event_cost`` (the route may cost no more than the event), ``*maxcost:<cost>``;
- ``*resources``: ``*authorize``, ``*allocate`` or ``*release`` (without one nothing is asked);
- ``*thresholds``/``*stats``: ``*ids:<ID1&ID2>`` (these profiles only);
- each of them ``*derived_reply``: with ``*chargers`` among the flags, the event of every charger run is sent too.

Their answers are keyed as CGRateS keys them: ``*raw`` for the event as it came, and the RunID of each charger run
(``*derived_reply``). Errors of ResourceS, ThresholdS and StatS are logged and the call answers
``PARTIALLY_EXECUTED`` once everything else is done, unless ``*blocker_error`` asks to stop at the first one
(``RESOURCES_ERROR:...``, ``THRESHOLDS_ERROR:...``, ``STATS_ERROR:...``); RouteS's stop the call
(``ROUTES_ERROR:...``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from pycgrates.engine.cdrs import api as cdrs_api
from pycgrates.engine.cdrs.api import ArgV1ProcessEvent
from pycgrates.engine.models import cdr as C
from pycgrates.engine.models.event import CGREvent
from pycgrates.engine.rpc.errors import PartiallyExecuted, RPCError
from pycgrates.engine.sessions import api
from pycgrates.engine.sessions.api import V1ProcessEventArgs
from pycgrates.engine.sessions.subsystems import (
    ALLOCATE_RESOURCES,
    AUTHORIZE_RESOURCES,
    RELEASE_RESOURCES,
    STATS,
    THRESHOLDS,
    EventCounter,
    with_event_id,
)

log = logging.getLogger("cgr.sessions")

RALS_SUBFLAGS = ("*authorize", "*initiate", "*update", "*terminate")
DERIVED_REPLY = "*derived_reply"
BLOCKER_ERROR = "*blocker_error"
#: ``*resources`` options and the ResourceS method each asks, in CGRateS's order of precedence
RESOURCE_METHODS = (("*authorize", AUTHORIZE_RESOURCES), ("*allocate", ALLOCATE_RESOURCES),
                    ("*release", RELEASE_RESOURCES))

Flags = dict[str, dict[str, list[str]]]


def parse_flags(flags: list[str]) -> Flags:
    """``["*rals:*initiate", "*routes:*maxcost:0.5", "*attributes"]`` → {"*rals": {"*initiate": []}, "*routes":
    {"*maxcost": ["0.5"]}, "*attributes": {}}; bare ``*initiate`` etc. are read as ``*rals:*initiate``."""
    out: Flags = {}
    for flag in flags:
        name, _, rest = str(flag).partition(":")
        options = out.setdefault(name, {})
        option, _, values = rest.partition(":")
        if values:
            options[option] = [v for v in values.split("&") if v]
        else:
            options.update((o, []) for o in option.split(";") if o)
    for sub in RALS_SUBFLAGS:  # bare *initiate etc. are accepted as *rals:*initiate
        if sub in out:
            out.setdefault("*rals", {})[sub] = []
    if "*message" in out:
        out.setdefault("*rals", {})["*message"] = []
    return out


def flag_on(flags: Flags, name: str) -> bool:
    """Present and not switched off with ``name:false`` (CGRateS's GetBool)."""
    options = flags.get(name)
    if options is None:
        return False
    return "true" in options or "false" not in options


def derived_events(events: dict[str, CGREvent], options: dict[str, list[str]]) -> dict[str, CGREvent]:
    """The events a subsystem works on: the raw one, and the charger runs' with ``*derived_reply``."""
    return events if DERIVED_REPLY in options else {C.META_RAW: events[C.META_RAW]}


async def process_event(svc: Any, args: V1ProcessEventArgs) -> dict:
    from pycgrates.engine.stir.service import (
        META_STIR_AUTHENTICATE,
        META_STIR_INITIATE,
        StirConfig,
        authenticate_event,
        initiate_event,
    )

    args = with_event_id(args)
    flags = parse_flags(args.Flags)
    blocker_error = flag_on(flags, BLOCKER_ERROR)
    failures: list[str] = []
    reply: dict[str, Any] = {"MaxUsage": None, "Cost": None, "ResourceAllocation": None, "Attributes": None,
                             "RouteProfiles": None, "ThresholdIDs": None, "StatQueueIDs": None, "STIRIdentity": None}
    events: dict[str, CGREvent] = {C.META_RAW: args.cgr_event()}
    runs: list[dict] | None = None
    if flag_on(flags, "*chargers"):
        runs = await svc._runs(args)
        for run in runs:
            ev = CGREvent.from_json({**run, "Tenant": run.get("Tenant") or args.Tenant}, svc.timezone)
            events[C.as_string(ev.Event.get(C.RUN_ID)) or C.META_DEFAULT] = ev
    if flag_on(flags, "*attributes"):
        args, reply["Attributes"] = await _attributes_per_run(svc, args, flags["*attributes"], events)
    event = args.Event

    if flag_on(flags, "*routes"):
        options = flags["*routes"]
        max_cost = "*event_cost" if "*event_cost" in options else next(iter(options.get("*maxcost") or ()), "")
        reply["RouteProfiles"] = {}
        for run_id, ev in derived_events(events, options).items():
            routes = await svc._routes(ev, args.Paginator, ignore_errors="*ignore_errors" in options,
                                       max_cost=max_cost)
            if routes is not None:
                reply["RouteProfiles"][run_id] = routes
    for counter in (THRESHOLDS, STATS):
        name = "*thresholds" if counter is THRESHOLDS else "*stats"
        if flag_on(flags, name):
            reply[counter.reply_key] = await _count_events(svc, counter, flags[name], events, blocker_error,
                                                           failures)

    stir_cfg = StirConfig.from_config(svc.cfg.get("stir") or {})
    if META_STIR_AUTHENTICATE in flags:
        await authenticate_event(event, args.APIOpts, stir_cfg, svc.stir_keys())
    if META_STIR_INITIATE in flags:
        identity = await initiate_event(args.ID, event, args.APIOpts, stir_cfg, svc.stir_keys())
        reply["STIRIdentity"] = {C.META_DEFAULT: identity}

    if flag_on(flags, "*resources"):
        svc._required_conn("resources_conns", "ResourceS")
        options = flags["*resources"]
        method = next((m for option, m in RESOURCE_METHODS if option in options), None)
        if method is not None:
            reply["ResourceAllocation"] = {}
            for run_id, ev in derived_events(events, options).items():
                usage_id = svc._usage_id(ev.Event)
                try:
                    reply["ResourceAllocation"][run_id] = await svc._resources(method, ev, usage_id)
                except RPCError as exc:
                    if blocker_error:
                        raise
                    log.warning("event %s run %s: %s: %s", args.ID, run_id, method, exc)
                    failures.append(exc.message)
                    reply["ResourceAllocation"][run_id] = ""

    rals = flags.get("*rals", {})
    runs_ids = [C.META_DEFAULT]
    if rals:
        runs = runs if runs is not None else await svc._runs(args)
        runs_ids = [C.as_string((r.get("Event") or {}).get(C.RUN_ID)) or C.META_DEFAULT for r in runs]
    usage: int | None = None
    if "*authorize" in rals:
        usage = (await svc.authorize_event(api.V1AuthorizeArgs.of(args, GetMaxUsage=True)))["MaxUsage"]
    if "*initiate" in rals:
        usage = (await svc.initiate_session(api.V1InitSessionArgs.of(args, InitSession=True)))["MaxUsage"]
    if "*update" in rals:
        usage = (await svc.update_session(api.V1UpdateSessionArgs.of(args, UpdateSession=True)))["MaxUsage"]
    if "*terminate" in rals:
        await svc.terminate_session(api.V1TerminateSessionArgs.of(args, TerminateSession=True))
    if "*message" in rals:
        usage = (await svc.process_message(api.V1ProcessMessageArgs.of(args, Debit=True)))["MaxUsage"]
    if usage is not None:
        reply["MaxUsage"] = {run: usage for run in runs_ids}
    if "*cost" in flags:
        ec = (await svc.get_cost(api.V1GetCostArgs.of(args, Flags=args.Flags)))["EventCost"]
        reply["Cost"] = {C.META_DEFAULT: (ec or {}).get("Cost") if isinstance(ec, dict) else None}
    if "*cdrs" in flags:
        cdr_flags = [f"*{k.lstrip('*')}" for k in flags["*cdrs"]] or ["*rals"]
        conn = svc._required_conn("cdrs_conns", "CDRs")
        closed = svc.closed.get(C.event_cgrid(event))
        if closed is not None:
            await svc.write_cdrs(closed[0], event)
        else:
            await cdrs_api.PROCESS_EVENT.call(conn, ArgV1ProcessEvent(
                Flags=[*cdr_flags, "*chargers:true"], Tenant=svc._tenant(args), ID=args.ID, Time=args.Time,
                Event=event, APIOpts=args.APIOpts))
    if failures:
        raise PartiallyExecuted()
    return reply


async def _attributes_per_run(svc: Any, args: V1ProcessEventArgs, options: dict[str, list[str]],
                              events: dict[str, CGREvent]) -> tuple[V1ProcessEventArgs, dict[str, Any]]:
    """AttributeS for the raw event (key ``*raw``) and, with ``*derived_reply``, for each charger run's (key: its
    RunID), as CGRateS: each event is replaced by its altered one, a run no profile matches has no entry, and the
    rest of the flow follows the altered raw event. ``*attributes:*ids:ID1&ID2`` limits the profiles."""
    replies: dict[str, Any] = {}
    ids = options.get("*ids") or ()
    altered_raw = args
    for run_id, ev in derived_events(events, options).items():
        opts = {**ev.APIOpts, "*attrProfileIDs": list(ids)} if ids else ev.APIOpts
        run_args = dataclasses.replace(args, Tenant=ev.Tenant or args.Tenant, ID=ev.ID or args.ID,
                                       Event=ev.Event, APIOpts=opts)
        holder: dict[str, Any] = {}
        run_args = await svc._attributes(run_args, holder)
        if holder.get("Attributes") is None:  # no profile matched this run's event
            continue
        replies[run_id] = holder["Attributes"]
        events[run_id] = run_args.cgr_event()
        if run_id == C.META_RAW:
            altered_raw = dataclasses.replace(args, Tenant=run_args.Tenant, Event=run_args.Event,
                                              APIOpts={k: v for k, v in run_args.APIOpts.items()
                                                       if k != "*attrProfileIDs" or k in args.APIOpts})
    return altered_raw, replies


async def _count_events(svc: Any, counter: EventCounter, options: dict[str, list[str]], events: dict[str, CGREvent],
                        blocker_error: bool, failures: list[str]) -> dict[str, list[str] | None]:
    """ThresholdS or StatS for each event the flag's options name: the IDs per run."""
    out: dict[str, list[str] | None] = {}
    for run_id, ev in derived_events(events, options).items():
        try:
            out[run_id] = await svc._count_event(counter, ev, options.get("*ids") or ())
        except RPCError as exc:
            if blocker_error:
                raise RPCError(f"{counter.error}:{exc.message}") from None
            log.warning("event %s run %s: %s: %s", ev.ID, run_id, counter.method, exc)
            failures.append(exc.message)
            out[run_id] = None
    return out
