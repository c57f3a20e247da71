"""SessionSv1.ProcessEvent: one event, the subsystems its flags name (CGRateS V1ProcessEvent)."""

from __future__ import annotations

from typing import Any

from pycgrates.engine.cdrs import api as cdrs_api
from pycgrates.engine.cdrs.api import ArgV1ProcessEvent
from pycgrates.engine.models import cdr as C
from pycgrates.engine.sessions import api
from pycgrates.engine.sessions.api import V1ProcessEventArgs

RALS_SUBFLAGS = ("*authorize", "*initiate", "*update", "*terminate")


def parse_flags(flags: list[str]) -> dict[str, set[str]]:
    """``["*rals:*initiate", "*attributes", "*cdrs"]`` → {"*rals": {"*initiate"}, "*attributes": set(), ...}."""
    out: dict[str, set[str]] = {}
    for flag in flags:
        name, _, subs = str(flag).partition(":")
        out.setdefault(name, set()).update(s for s in subs.split(";") if s)
    for sub in RALS_SUBFLAGS:  # bare *initiate etc. are accepted as *rals:*initiate
        if sub in out:
            out.setdefault("*rals", set()).add(sub)
    if "*message" in out:
        out.setdefault("*rals", set()).add("*message")
    return out


async def process_event(svc: Any, args: V1ProcessEventArgs) -> dict:
    from pycgrates.engine.stir.service import (
        META_STIR_AUTHENTICATE,
        META_STIR_INITIATE,
        StirConfig,
        authenticate_event,
        initiate_event,
    )

    flags = parse_flags(args.Flags)
    event = args.Event
    reply: dict[str, Any] = {"MaxUsage": None, "Cost": None, "ResourceAllocation": None, "Attributes": None,
                             "RouteProfiles": None, "ThresholdIDs": None, "StatQueueIDs": None, "STIRIdentity": None}
    if "*attributes" in flags:
        holder: dict[str, Any] = {}
        args = await svc._attributes(args, holder)
        event = args.Event
        reply["Attributes"] = {C.META_DEFAULT: holder.get("Attributes")}
    stir_cfg = StirConfig.from_config(svc.cfg.get("stir") or {})
    if META_STIR_AUTHENTICATE in flags:
        await authenticate_event(event, args.APIOpts, stir_cfg, svc.stir_keys())
    if META_STIR_INITIATE in flags:
        identity = await initiate_event(args.ID, event, args.APIOpts, stir_cfg, svc.stir_keys())
        reply["STIRIdentity"] = {C.META_DEFAULT: identity}
    rals = flags.get("*rals", set())
    runs_ids = [C.META_DEFAULT]
    if rals:
        runs = await svc._runs(args)
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
    if "*resources" in flags:
        subs = flags["*resources"]
        method = ("ResourceSv1.AllocateResources" if "*allocate" in subs else
                  "ResourceSv1.ReleaseResources" if "*release" in subs else "ResourceSv1.AuthorizeResources")
        reply["ResourceAllocation"] = {C.META_DEFAULT: await svc._resources(method, args)}
    if "*routes" in flags:
        reply["RouteProfiles"] = {C.META_DEFAULT: await svc._routes(args)}
    holder2: dict[str, Any] = {}
    await svc._thresholds_stats(args, holder2, thresholds="*thresholds" in flags, stats="*stats" in flags)
    if "ThresholdIDs" in holder2:
        reply["ThresholdIDs"] = {C.META_DEFAULT: holder2["ThresholdIDs"]}
    if "StatQueueIDs" in holder2:
        reply["StatQueueIDs"] = {C.META_DEFAULT: holder2["StatQueueIDs"]}
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
    return reply
