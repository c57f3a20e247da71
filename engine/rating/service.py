"""RALs rating on the RPC surface: APIerSv1.GetCost, Responder.GetCost and the rating data APIs."""

from __future__ import annotations

import logging
from typing import Any

from pycgrates.engine.models.tariffplan import (
    Destination,
    RatingActivation,
    RatingProfile,
    fallback_keys,
    rating_profile_key,
)
from pycgrates.engine.rating import api
from pycgrates.engine.rating.callcost import CallCost, event_cost
from pycgrates.engine.rating.calldesc import VOICE, CallDescriptor, RatingError, get_cost
from pycgrates.engine.rating.data_cost import NotADataCall, data_cost
from pycgrates.engine.rating.rater import Rater
from pycgrates.engine.rating.timing_api import RatingDataAPI, ReverseDestinationHealth
from pycgrates.engine.rating.timings import to_ns
from pycgrates.engine.rpc.errors import (
    EXISTS,
    MANDATORY_IE_MISSING,
    NOT_FOUND,
    RPCError,
    error_from_message,
    mandatory_ie_missing,
    missing_fields,
    not_found,
    require,
    server_error,
)
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.units import DurationError, TimeError, parse_duration, parse_time

log = logging.getLogger("cgr.rals")

OK = "OK"


def _string_arg(args: Any, *names: str) -> str:
    """APIs that take a bare string in CGRateS also accept {"ID": ...} here."""
    if isinstance(args, str):
        return args
    if isinstance(args, dict):
        for n in names:
            v = args.get(n)
            if v:
                return str(v)
    return ""


class RatingService(RatingDataAPI, ReverseDestinationHealth):
    """The rating engine of the ``rals`` section."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.rater = Rater.for_context(ctx)

    @property
    def timezone(self) -> str:
        """Where naive times of JSON arguments are placed (general.default_timezone)."""
        return self.rater.timezone

    async def reload(self) -> None:
        self.rater.configure(self.ctx.cfg)

    # ------------------------------------------------------------------------------------------ in-process API

    async def get_cost(self, cd: CallDescriptor) -> CallCost:
        """Rate ``cd`` (raises RatingError)."""
        return await get_cost(self.rater, cd)

    async def reverse_destinations(self, number: str) -> list[tuple[str, list[str]]]:
        """(prefix, destination IDs) for the prefixes of ``number``, longest first."""
        return await self.rater.reverse_destinations(number)

    # ------------------------------------------------------------------------------------------ costs

    @rpc("APIerSv1.GetCost")
    async def apier_get_cost(self, args: dict) -> dict:
        """Cost of a call as an EventCost: {Tenant, Category, Subject, Destination, AnswerTime, Usage[, ToR]}."""
        args = args or {}
        rater = self.rater
        try:
            usage = parse_duration(args.get("Usage") or 0)
        except DurationError as exc:
            raise RPCError(str(exc)) from None
        try:
            answer = parse_time(args.get("AnswerTime") or "*now", rater.tz)
        except TimeError as exc:
            raise RPCError(str(exc)) from None
        cd = CallDescriptor.new(
            tenant=args.get("Tenant") or rater.default_tenant,
            category=args.get("Category") or rater.default_category,
            subject=args.get("Subject") or "",
            account=args.get("Account") or "",
            destination=str(args.get("Destination") or ""),
            answer_time=answer,
            usage=usage,
            tor=args.get("ToR") or VOICE,
        )
        try:
            cc = await get_cost(rater, cd)
        except RatingError as exc:
            raise server_error(exc.code) from None
        return event_cost(cc)

    @rpc("APIerSv1.GetDataCost")
    async def apier_get_data_cost(self, args: dict) -> dict:
        """What *data usage costs, as CGRateS's DataCost: {Tenant, Category, Subject, AnswerTime, Usage (units)}."""
        args = args or {}
        rater = self.rater
        try:
            usage = parse_duration(args.get("Usage") or 0)
            answer = parse_time(args.get("AnswerTime") or "*now", rater.tz)  # as GetCost here
        except (DurationError, TimeError) as exc:
            raise RPCError(str(exc)) from None
        assert answer is not None
        cd = CallDescriptor.new(tenant=args.get("Tenant") or rater.default_tenant,
                                category=args.get("Category") or rater.default_category,
                                subject=args.get("Subject") or "", destination="", answer_time=answer, usage=usage,
                                tor="*data")
        try:
            cc = await get_cost(rater, cd)
        except RatingError as exc:
            raise server_error(exc.code) from None
        try:
            return data_cost(cc)
        except NotADataCall as exc:
            raise server_error(exc) from None

    @rpc(api.GET_COST)
    async def responder_get_cost(self, cd: CallDescriptor) -> CallCost:
        """Cost of a call descriptor as a CallCost (CGRateS Responder.GetCost)."""
        cd = cd.clone()  # rating fills the descriptor in; the caller's stays as it was
        if not cd.Tenant:
            cd.Tenant = self.rater.default_tenant
        if not cd.Category:
            cd.Category = self.rater.default_category
        if not cd.Subject:
            cd.Subject = cd.Account
        try:
            return await get_cost(self.rater, cd)
        except RatingError as exc:
            raise error_from_message(exc.code) from None

    # ------------------------------------------------------------------------------------------ rating profiles

    @rpc("APIerSv1.GetRatingProfile")
    async def get_rating_profile(self, args: dict) -> dict:
        args = args or {}
        require(args, "Category", "Subject")
        key = rating_profile_key(args.get("Tenant") or self.rater.default_tenant, args["Category"], args["Subject"])
        rpf = await self.rater.rating_profile(key)
        if rpf is None:
            raise not_found()
        return rpf.to_json()

    @rpc("APIerSv1.GetRatingProfileIDs")
    async def get_rating_profile_ids(self, args: dict) -> list[str]:
        tenant = (args or {}).get("Tenant") or self.rater.default_tenant
        ids = await self.ctx.dm.keys(kinds.RATING_PROFILE, f"*out:{tenant}:")
        if not ids:
            raise not_found()
        return ids

    @rpc("APIerSv1.SetRatingProfile")
    async def set_rating_profile(self, args: dict) -> str:
        """{Tenant, Category, Subject, Overwrite, RatingPlanActivations: [{ActivationTime, RatingPlanId,
        FallbackSubjects}]}."""
        args = args or {}
        require(args, "Category", "Subject", "RatingPlanActivations")
        tenant = args.get("Tenant") or self.rater.default_tenant
        category, subject = args["Category"], args["Subject"]
        key = rating_profile_key(tenant, category, subject)
        activations: list[RatingActivation] = []
        for rpa in args["RatingPlanActivations"]:
            rpa = rpa or {}
            plan_id = rpa.get("RatingPlanId") or rpa.get("RatingPlanID") or ""
            missing = missing_fields(
                {"ActivationTime": rpa.get("ActivationTime"), "RatingPlanId": plan_id}, "ActivationTime", "RatingPlanId"
            )
            if missing:
                raise RPCError(f"{MANDATORY_IE_MISSING}:RatingPlanActivation:[{' '.join(missing)}]")
            try:
                at = parse_time(rpa["ActivationTime"], self.rater.tz)
            except TimeError:
                raise server_error(f"Cannot parse activation time from {rpa['ActivationTime']}") from None
            if await self.rater.rating_plan(plan_id) is None:
                raise RPCError(f"{NOT_FOUND}:RatingPlanId:{plan_id}")
            activations.append(
                RatingActivation(
                    ActivationTime=to_ns(at),
                    RatingPlanId=plan_id,
                    FallbackKeys=fallback_keys(tenant, category, rpa.get("FallbackSubjects") or ""),
                )
            )
        existing = None if args.get("Overwrite") else await self.rater.rating_profile(key)
        merged = list(existing.RatingPlanActivations) if existing is not None else []
        for act in activations:
            merged = [a for a in merged if a.ActivationTime != act.ActivationTime]
            merged.append(act)
        rpf = RatingProfile(Id=key, RatingPlanActivations=merged)
        await self.ctx.dm.set(kinds.RATING_PROFILE, key, rpf.to_json())
        return OK

    @rpc("APIerSv1.RemoveRatingProfile")
    async def remove_rating_profile(self, args: dict) -> str:
        args = args or {}
        require(args, "Category", "Subject")
        key = rating_profile_key(args.get("Tenant") or self.rater.default_tenant, args["Category"], args["Subject"])
        if not await self.ctx.dm.remove(kinds.RATING_PROFILE, key):
            raise not_found()
        return OK

    # ------------------------------------------------------------------------------------------ rating plans

    @rpc("APIerSv1.GetRatingPlan")
    async def get_rating_plan(self, args: Any) -> dict:
        plan_id = _string_arg(args, "ID", "Id", "RatingPlanId")
        if not plan_id:
            raise mandatory_ie_missing("ID")
        plan = await self.rater.rating_plan(plan_id)
        if plan is None:
            raise not_found()
        return plan.to_json()

    @rpc("APIerSv1.GetRatingPlanIDs")
    async def get_rating_plan_ids(self, args: Any) -> list[str]:
        ids = await self.ctx.dm.keys(kinds.RATING_PLAN)
        if not ids:
            raise not_found()
        return ids

    # ------------------------------------------------------------------------------------------ destinations

    @rpc("APIerSv2.GetDestinations")
    async def get_destinations(self, args: Any) -> list[dict]:
        """``{"DestinationIDs": [...]}`` → the destinations (every one when empty); NOT_FOUND names none."""
        ids = list((args or {}).get("DestinationIDs") or []) if isinstance(args, dict) else []
        if not ids:
            ids = sorted(await self.ctx.dm.keys(kinds.DESTINATION))
        out = []
        for dest_id in ids:
            raw = await self.ctx.dm.get(kinds.DESTINATION, dest_id)
            if raw is None:
                raise not_found()
            out.append(Destination.from_json(raw).to_json())
        return out

    @rpc("APIerSv1.GetDestination")
    async def get_destination(self, args: Any) -> dict:
        dest_id = _string_arg(args, "ID", "Id", "DestinationID")
        if not dest_id:
            raise mandatory_ie_missing("ID")
        raw = await self.ctx.dm.get(kinds.DESTINATION, dest_id)
        if raw is None:
            raise not_found()
        return Destination.from_json(raw).to_json()

    @rpc("APIerSv1.GetReverseDestination")
    async def get_reverse_destination(self, args: Any) -> list[str]:
        prefix = _string_arg(args, "Prefix", "ID")
        if not prefix:
            raise mandatory_ie_missing("Prefix")
        ids = await self.rater.reverse_destination(prefix)
        if not ids:
            raise not_found()
        return list(ids)

    @rpc("APIerSv1.SetDestination")
    async def set_destination(self, args: dict) -> str:
        """{Id, Prefixes, Overwrite}: store the destination and update the prefix index."""
        args = args or {}
        dest_id = args.get("Id") or args.get("ID") or ""
        prefixes = [str(p) for p in args.get("Prefixes") or [] if str(p)]
        missing = [n for n, v in (("Id", dest_id), ("Prefixes", prefixes)) if not v]
        if missing:
            raise mandatory_ie_missing(*missing)
        old_raw = await self.ctx.dm.get(kinds.DESTINATION, dest_id)
        if old_raw is not None and not args.get("Overwrite"):
            raise RPCError(EXISTS)
        old = set(Destination.from_json(old_raw).Prefixes) if old_raw else set()
        ops = [("set", kinds.DESTINATION, dest_id, Destination(dest_id, list(dict.fromkeys(prefixes))).to_json())]
        ops += await self._reverse_ops(dest_id, old, set(prefixes))
        await self.ctx.dm.write_batch(ops)
        return OK

    @rpc("APIerSv1.RemoveDestination")
    async def remove_destination(self, args: dict) -> str:
        """{DestinationIDs, Prefixes}: remove the destinations, or only the given prefixes from them."""
        args = args or {}
        ids = args.get("DestinationIDs") or []
        if isinstance(ids, str):
            ids = [ids]
        if not ids:
            raise mandatory_ie_missing("DestinationIDs")
        only = {str(p) for p in args.get("Prefixes") or []}
        ops: list = []
        found = False
        for dest_id in ids:
            raw = await self.ctx.dm.get(kinds.DESTINATION, dest_id)
            if raw is None:
                continue
            found = True
            old = set(Destination.from_json(raw).Prefixes)
            new = old - only if only else set()
            if new:
                kept = [p for p in Destination.from_json(raw).Prefixes if p in new]
                ops.append(("set", kinds.DESTINATION, dest_id, Destination(dest_id, kept).to_json()))
            else:
                ops.append(("remove", kinds.DESTINATION, dest_id, None))
            ops += await self._reverse_ops(dest_id, old, new)
        if not found:
            raise not_found()
        await self.ctx.dm.write_batch(ops)
        return OK

    async def _reverse_ops(self, dest_id: str, old: set[str], new: set[str]) -> list:
        ops = []
        for prefix in old ^ new:
            current = set(await self.ctx.dm.get(kinds.REVERSE_DESTINATION, prefix) or ())
            updated = current | {dest_id} if prefix in new else current - {dest_id}
            if updated:
                ops.append(("set", kinds.REVERSE_DESTINATION, prefix, sorted(updated)))
            else:
                ops.append(("remove", kinds.REVERSE_DESTINATION, prefix, None))
        return ops
