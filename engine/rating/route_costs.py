"""What RouteS asks RALs about a route (CGRateS's Responder.GetCostOnRatingPlans and
Responder.GetMaxSessionTimeOnAccounts, on ``routes.rals_conns``).

- ``Responder.GetCostOnRatingPlans`` ``{"Tenant", "Account", "Subject", "Destination", "SetupTime", "Usage",
  "RatingPlanIDs", "APIOpts"}`` prices the call on the route's own rating plans, whatever rating profile the
  subject has: each plan in turn stands alone as the subject's rating profile (CGRateS builds a temporary ``*tmp``
  profile activated at SetupTime), and the first one that rates the call answers ``{"Cost", "RatingPlanID"}``. A
  plan that does not rate the destination ends the search with its error (``UNAUTHORIZED_DESTINATION``), as in
  CGRateS; only NOT_FOUND moves on to the next plan. No plan: a null reply.
- ``Responder.GetMaxSessionTimeOnAccounts`` ``{"Tenant", "Subject", "Destination", "SetupTime", "Usage",
  "AccountIDs", "APIOpts"}`` asks, account by account, how much of the usage the account's balances cover
  (``Responder.GetMaxSessionTime`` of a category ``*routes`` call, nothing debited); the first account that
  answers gives ``{"MaxUsage": ns, "Cost": 0, "Account": id}`` (-1: the account may go negative). An account that
  fails (missing, disabled, ...) is logged and skipped; none answering: a null reply.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from pycgrates.engine.models.tariffplan import RatingActivation, RatingProfile
from pycgrates.engine.rating.callcost import event_cost
from pycgrates.engine.rating.calldesc import CallDescriptor, RatingError, get_cost
from pycgrates.engine.rating.rater import Rater
from pycgrates.engine.rating.timings import to_ns
from pycgrates.engine.rpc.conn import INTERNAL
from pycgrates.engine.rpc.errors import (
    NOT_FOUND,
    UNAUTHORIZED_DESTINATION,
    RPCError,
    mandatory_ie_missing,
    server_error,
)
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.units import DurationError, TimeError, parse_duration, parse_time

log = logging.getLogger("cgr.rals")

META_TMP = "*tmp"
META_ROUTES = "*routes"
META_RATING_PLAN_COST = "*rating_plan_cost"


class RouteCostService:
    """The RALs methods RouteS prices routes with (module docstring)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.rater = Rater.for_context(ctx)

    def _call(self, args: Any) -> tuple[dict, str, int, int]:
        """(args, tenant, setup time in ns, usage in ns) of a route cost request."""
        if not isinstance(args, dict):
            raise server_error("arguments must be a JSON object")
        try:
            setup = parse_time(args.get("SetupTime") or "*now", self.rater.tz)
            usage = parse_duration(args.get("Usage") or 0)
        except (TimeError, DurationError) as exc:
            raise server_error(exc) from None
        assert setup is not None
        return args, args.get("Tenant") or self.rater.default_tenant, to_ns(setup), usage

    @rpc("Responder.GetCostOnRatingPlans")
    async def get_cost_on_rating_plans(self, args: Any) -> dict | None:
        args, tenant, setup, usage = self._call(args)
        subject = str(args.get("Subject") or args.get("Account") or "")
        for plan_id in args.get("RatingPlanIDs") or ():
            cd = CallDescriptor(Category=META_TMP, Tenant=tenant, Subject=subject,
                                Account=str(args.get("Account") or ""), Destination=str(args.get("Destination") or ""),
                                TimeStart=setup, TimeEnd=setup + usage, DurationIndex=usage, tz=self.rater.tz)
            activation = RatingActivation(ActivationTime=setup, RatingPlanId=plan_id)
            profile = RatingProfile(Id=cd.key(subject), RatingPlanActivations=[activation])
            try:
                cc = await get_cost(self.rater, cd, profile)
            except RatingError as exc:
                if exc.code == NOT_FOUND:
                    continue
                raise RPCError(exc.code) from None
            return {"Cost": cc.Cost, "RatingPlanID": plan_id}
        return None

    @rpc("RALsV1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    @rpc("RALsV1.GetRatingPlansCost")
    async def get_rating_plans_cost(self, args: Any) -> dict:
        """``{"RatingPlanIDs", "Destination", "SetupTime", "Usage"}`` → ``{"EventCost", "RatingPlanID"}`` of the
        first plan that rates the destination (one that does not, or is missing, is skipped); both empty when none
        does."""
        if isinstance(args, dict):
            missing = [f for f in ("RatingPlanIDs", "Destination", "SetupTime", "Usage") if not args.get(f)]
            if missing:
                raise mandatory_ie_missing(*missing)
        args, _, setup, usage = self._call(args)
        tenant = subject = uuid.uuid4().hex[:7]  # CGRateS: a throw-away tenant and subject per request
        for plan_id in args["RatingPlanIDs"]:
            cd = CallDescriptor(Category=META_RATING_PLAN_COST, Tenant=tenant, Subject=subject,
                                Destination=str(args["Destination"]), TimeStart=setup, TimeEnd=setup + usage,
                                DurationIndex=usage, tz=self.rater.tz)
            activation = RatingActivation(ActivationTime=setup, RatingPlanId=plan_id)
            profile = RatingProfile(Id=cd.key(subject), RatingPlanActivations=[activation])
            try:
                cc = await get_cost(self.rater, cd, profile)
            except RatingError as exc:
                if exc.code in (NOT_FOUND, UNAUTHORIZED_DESTINATION):
                    continue
                raise RPCError(exc.code) from None
            return {"EventCost": event_cost(cc), "RatingPlanID": plan_id}
        return {"EventCost": None, "RatingPlanID": ""}

    @rpc("Responder.GetMaxSessionTimeOnAccounts")
    async def get_max_session_time_on_accounts(self, args: Any) -> dict | None:
        args, tenant, setup, usage = self._call(args)
        rals = self.ctx.conns.get([INTERNAL])
        for account in args.get("AccountIDs") or ():
            cd = CallDescriptor(Category=META_ROUTES, Tenant=tenant, Subject=str(args.get("Subject") or account),
                                Account=account, Destination=str(args.get("Destination") or ""),
                                TimeStart=setup, TimeEnd=setup + usage, DurationIndex=usage, tz=self.rater.tz)
            try:
                max_usage = await rals.call("Responder.GetMaxSessionTime", cd.to_json())
            except RPCError as exc:
                log.warning("<Responder> ignoring cost for account: %s, err: %s", account, exc)
                continue
            return {"MaxUsage": int(max_usage), "Cost": 0, "Account": account}
        return None
