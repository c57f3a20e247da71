"""APIerSv1's timings in the DataDB (GetTiming, SetTiming, RemoveTiming, TimingIsActiveAt), rating plans removal
and the reverse-destination rebuild: the rating data methods that work on one stored object each."""

from __future__ import annotations

from typing import Any

from pycgrates.engine.models.tariffplan import Destination, TPTiming
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing, not_found, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.units import TimeError, parse_time


def _id_of(args: Any, *names: str) -> str:
    if isinstance(args, str):
        return args
    if isinstance(args, dict):
        for name in names:
            if args.get(name):
                return str(args[name])
    return ""


class RatingDataAPI:
    """Mixed into RatingService (which supplies ``ctx`` and ``rater``)."""

    ctx: Any
    rater: Any

    @rpc("APIerSv1.GetTiming")
    async def get_timing(self, args: Any) -> dict:
        """``{"ID"}`` → the stored timing (utils.TPTiming), or NOT_FOUND."""
        timing_id = _id_of(args, "ID")
        if not timing_id:
            raise mandatory_ie_missing("ID")
        raw = await self.ctx.dm.get(kinds.TIMING, timing_id)
        if raw is None:
            raise not_found()
        return TPTiming.from_json(_plain(raw)).to_json()

    @rpc("APIerSv1.SetTiming")
    async def set_timing(self, args: Any) -> str:
        """A TPTiming (``ID``, ``Years``, ``Months``, ``MonthDays``, ``WeekDays``, ``StartTime``, ``EndTime``)."""
        if not isinstance(args, dict) or not args.get("ID"):
            raise mandatory_ie_missing("ID")
        try:
            timing = TPTiming.from_json(args)
        except (TypeError, ValueError) as exc:
            raise server_error(exc) from None
        await self.ctx.dm.set(kinds.TIMING, timing.ID, timing.to_json())
        return "OK"

    @rpc("APIerSv1.RemoveTiming")
    async def remove_timing(self, args: Any) -> str:
        timing_id = _id_of(args, "ID")
        if not timing_id:
            raise mandatory_ie_missing("ID")
        if not await self.ctx.dm.remove(kinds.TIMING, timing_id):
            raise not_found()
        return "OK"

    @rpc("APIerSv1.TimingIsActiveAt")
    async def timing_is_active_at(self, args: Any) -> bool:
        """``{"TimingID", "Time"}`` → whether the stored timing covers that time."""
        from pycgrates.engine.rating.timings import is_active_at

        timing_id = _id_of(args, "TimingID")
        raw = await self.ctx.dm.get(kinds.TIMING, timing_id) if timing_id else None
        if raw is None:
            raise not_found()
        try:
            when = parse_time(args.get("Time") or "*now", self.rater.tz)
        except TimeError as exc:
            raise RPCError(str(exc)) from None
        assert when is not None
        return is_active_at(TPTiming.from_json(_plain(raw)).as_ri_timing(), when)

    @rpc("APIerSv1.RemoveRatingPlan")
    async def remove_rating_plan(self, args: Any) -> str:
        """A rating plan ID (or ``{"ID"}``): removed from the DataDB (and so from the cache)."""
        plan_id = _id_of(args, "ID")
        if not plan_id:
            raise mandatory_ie_missing("ID")
        await self.ctx.dm.remove(kinds.RATING_PLAN, plan_id)  # CGRateS answers OK for an absent plan as well
        return "OK"

    @rpc("APIerSv1.ComputeReverseDestinations")
    async def compute_reverse_destinations(self, args: Any) -> str:
        """Rebuild the prefix → destination IDs index from the stored destinations."""
        reverse: dict[str, set[str]] = {}
        for dest_id in await self.ctx.dm.keys(kinds.DESTINATION):
            raw = await self.ctx.dm.get(kinds.DESTINATION, dest_id)
            if raw is None:
                continue
            for prefix in Destination.from_json(_plain(raw)).Prefixes:
                reverse.setdefault(prefix, set()).add(dest_id)
        ops: list[kinds.BatchOp] = [("remove", kinds.REVERSE_DESTINATION, p, None)
                                    for p in await self.ctx.dm.keys(kinds.REVERSE_DESTINATION) if p not in reverse]
        ops += [("set", kinds.REVERSE_DESTINATION, p, sorted(ids)) for p, ids in reverse.items()]
        if ops:
            await self.ctx.dm.write_batch(ops)
        return "OK"


def _plain(raw: Any) -> dict:
    """A stored object as its JSON form (the cache may hold the decoded model)."""
    if isinstance(raw, dict):
        return raw
    to_json = getattr(raw, "to_json", None)
    return to_json() if to_json is not None else dict(vars(raw))


class ReverseDestinationHealth:
    """Mixed into RatingService: APIerSv1.GetReverseDestinationsIndexHealth."""

    ctx: Any

    @rpc("APIerSv1.GetReverseDestinationsIndexHealth")
    async def reverse_destinations_index_health(self, args: Any) -> dict[str, Any]:
        """CGRateS's ReverseDestinationsIHReply: prefixes whose index lacks a destination that has them
        (MissingReverseDestinations: prefix → destination IDs), and destinations the index names for a prefix they
        do not have, or that are gone (BrokenReferences: destination → prefixes, null when gone)."""
        datadb = self.ctx.dm.datadb
        destinations: dict[str, list[str]] = {}
        for dest_id in await self.ctx.dm.keys(kinds.DESTINATION):
            raw = await datadb.get(kinds.DESTINATION, dest_id)
            if raw is not None:
                destinations[dest_id] = Destination.from_json(raw).Prefixes
        broken: dict[str, list[str] | None] = {}
        index: dict[str, set[str]] = {}
        for prefix in await self.ctx.dm.keys(kinds.REVERSE_DESTINATION):
            index[prefix] = set(await datadb.get(kinds.REVERSE_DESTINATION, prefix) or ())
            for dest_id in sorted(index[prefix]):
                if dest_id not in destinations:
                    broken[dest_id] = None
                elif prefix not in destinations[dest_id]:
                    broken.setdefault(dest_id, []).append(prefix)  # type: ignore[union-attr]
        missing: dict[str, list[str]] = {}
        for dest_id, prefixes in sorted(destinations.items()):
            for prefix in prefixes:
                if dest_id not in index.get(prefix, set()):
                    missing.setdefault(prefix, []).append(dest_id)
        return {"MissingReverseDestinations": missing, "BrokenReferences": broken}
