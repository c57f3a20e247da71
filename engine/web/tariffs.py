"""The tariff plan browser: rating profile → rating plans → the rates that apply to a number, and a call's cost.

For ``(tenant, category, subject)`` the rating profile (``APIerSv1.GetRatingProfile``) lists its plans by activation
time; each plan (``APIerSv1.GetRatingPlan``) binds destination IDs to timings and ratings. A number matches the
destination of its longest prefix that the plan binds (``APIerSv1.GetReverseDestination`` per prefix, longest
first), as rating does. The cost form asks ``APIerSv1.GetCost``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.units import TimeError, parse_time

#: digits of a number looked up at most (as many GetReverseDestination calls)
MAX_NUMBER_LENGTH = 32


async def destinations_by_prefix(apiers: Any, number: str) -> list[tuple[str, list[str]]]:
    """(prefix, destination IDs) for each prefix of ``number`` that some destination holds, longest first."""
    out = []
    for end in range(min(len(number), MAX_NUMBER_LENGTH), 0, -1):
        prefix = number[:end]
        try:
            ids = await apiers.call("APIerSv1.GetReverseDestination", prefix) or []
        except RPCError as exc:
            if exc.message == NOT_FOUND:
                continue
            raise
        out.append((prefix, sorted(ids)))
    return out


def rates_for(plan: Mapping[str, Any], matches: list[tuple[str, list[str]]]) -> dict | None:
    """The plan's binding for the longest matching prefix: {Prefix, DestinationID, Rates: [{Timing, Rating,
    Weight}]}, heaviest first; None when the plan rates none of the number's destinations."""
    bound = plan.get("DestinationRates") or {}
    for prefix, ids in matches:
        for dest_id in ids:
            bindings = bound.get(dest_id)
            if bindings:
                rates = [{"Timing": (plan.get("Timings") or {}).get(b.get("Timing")),
                          "Rating": (plan.get("Ratings") or {}).get(b.get("Rating")), "Weight": b.get("Weight")}
                         for b in bindings]
                rates.sort(key=lambda r: -(r["Weight"] or 0))
                return {"Prefix": prefix, "DestinationID": dest_id, "Rates": rates}
    return None


def active_plan(activations: list[dict], now: datetime) -> str | None:
    """The plan in force at ``now``: the latest activation not after it."""
    best: tuple[datetime, str] | None = None
    for act in activations:
        try:
            at = parse_time(act.get("ActivationTime"))
        except TimeError:
            continue
        if at is not None and at <= now and (best is None or at >= best[0]):
            best = (at, act.get("RatingPlanId") or "")
    return best[1] if best else None


async def tariff_view(apiers: Any, tenant: str, category: str, subject: str, number: str, now: datetime) -> dict:
    profile = await apiers.call("APIerSv1.GetRatingProfile", {"Tenant": tenant, "Category": category,
                                                               "Subject": subject})
    activations = list(profile.get("RatingPlanActivations") or [])
    matches = await destinations_by_prefix(apiers, number) if number else []
    plans = []
    for act in sorted(activations, key=lambda a: str(a.get("ActivationTime"))):
        plan_id = act.get("RatingPlanId") or ""
        try:
            plan = await apiers.call("APIerSv1.GetRatingPlan", plan_id)
        except RPCError as exc:
            if exc.message != NOT_FOUND:
                raise
            plan = {}
        plans.append({"RatingPlanId": plan_id, "ActivationTime": act.get("ActivationTime"),
                      "FallbackKeys": act.get("FallbackKeys") or [], "Found": bool(plan),
                      "Destinations": sorted(plan.get("DestinationRates") or {}),
                      "Match": rates_for(plan, matches) if number and plan else None})
    return {"Id": profile.get("Id"), "Tenant": tenant, "Category": category, "Subject": subject, "Number": number,
            "Active": active_plan(activations, now), "Plans": plans,
            "Prefixes": [{"Prefix": p, "DestinationIDs": i} for p, i in matches]}


async def call_cost(apiers: Any, form: Mapping[str, Any]) -> dict:
    """``APIerSv1.GetCost`` of the form's call: its EventCost as RALs answers it."""
    arg = {name: str(form.get(name) or "").strip() for name in ("Tenant", "Category", "Subject", "Account",
                                                                  "Destination", "AnswerTime", "Usage", "ToR")}
    return await apiers.call("APIerSv1.GetCost", {k: v for k, v in arg.items() if v})


__all__ = ["active_plan", "call_cost", "destinations_by_prefix", "rates_for", "tariff_view"]
