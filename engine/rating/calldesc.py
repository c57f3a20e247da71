"""The call descriptor and the rating of a call (CGRateS calldesc.go, ratingprofile.go).

Rating a call:

1. find the rating profile ``*out:<tenant>:<category>:<subject>`` (longest subject prefix with
   ``rals.rp_subject_prefix_matching``), else the ``*any`` subject;
2. for each rating plan activation in force during the call, pick the destination rates of the longest prefix of
   the called number held by a destination of the plan (a destination whose timings are active at the call start;
   the highest weight among several), else the plan's ``*any`` destination; parts not covered follow the
   activation's fallback subjects (up to ``rals.fallback_depth`` levels);
3. split the call at activation times, at midnight (voice), at GroupIntervalStart slots and where timings start
   or end; stretch each span to a whole RateIncrement;
4. charge each span in increments, each rounded to ``general.rounding_decimals`` (*middle); add the connect fee
   of the first span; apply MaxCost *free; round the total with the destination rate's method and decimals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from pycgrates.engine.models.tariffplan import ANY, MAX_COST_FREE, RatingProfile, rating_profile_key, time_to_json
from pycgrates.engine.rating import timings as tm
from pycgrates.engine.rating.callcost import CallCost
from pycgrates.engine.rating.rater import Rater, as_rater
from pycgrates.engine.rating.timespans import (
    Increment,
    RatingInfo,
    TimeSpan,
    max_cost,
    rate_parameters,
    remove_overlapped_from_index,
    round_duration,
)
from pycgrates.engine.rpc.errors import (
    MAX_USAGE_EXCEEDED,
    NOT_FOUND,
    RATING_PLAN_NOT_FOUND,
    UNAUTHORIZED_DESTINATION,
)
from pycgrates.engine.units import get_timezone, money_json, parse_duration, parse_time, to_decimal

VOICE = "*voice"
DATA = "*data"
SMS = "*sms"
ZERO = Decimal(0)


class RatingError(Exception):
    """A call that cannot be rated; ``code`` is CGRateS's error (UNAUTHORIZED_DESTINATION, ...)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail

    def __str__(self) -> str:
        return self.code


def _exact_ns(raw: Any, parsed: Any) -> int:
    """Nanoseconds since the epoch of a CallDescriptor time, without losing the digits datetime cannot hold."""
    if isinstance(raw, str) and raw[:1].isdigit() and "T" in raw and (raw.endswith("Z") or "+" in raw[19:]):
        from pycgrates.engine.models.tariffplan import time_from_json

        return time_from_json(raw)
    return tm.to_ns(parsed)


#: The APIOpts key carrying SessionS's journal key on the wire (see :attr:`CallDescriptor.journal_key`).
JOURNAL_OPT = "*journalKey"


@dataclass(slots=True)
class CallDescriptor:
    """What to rate or debit (CGRateS CallDescriptor; with ``APIOpts`` the CallDescriptorWithAPIOpts that the
    Responder methods take). TimeStart/TimeEnd are integer nanoseconds since the epoch (pass datetimes to
    :meth:`new`); ``tz`` is the timezone timings are evaluated in.

    ``DenyNegativeAccount`` None means the caller did not say (only an explicit False lets a debit go negative).
    ``journal_key`` names the journal record RALs writes with the debit (SessionS and CDRs set it; on the wire
    it travels as ``APIOpts["*journalKey"]``). ``Increments`` are what a refund gives back.
    """

    Category: str = ""
    Tenant: str = ""
    Subject: str = ""
    Account: str = ""
    Destination: str = ""
    TimeStart: int = 0
    TimeEnd: int = 0
    LoopIndex: float = 0
    DurationIndex: int = 0
    FallbackSubjects: list[str] = field(default_factory=list)
    RatingInfos: list[RatingInfo] = field(default_factory=list)
    Increments: list[Increment] = field(default_factory=list)
    ToR: str = VOICE
    ExtraFields: dict[str, Any] = field(default_factory=dict)
    MaxRate: Decimal = ZERO
    MaxRateUnit: int = 0
    MaxCostSoFar: Decimal = ZERO
    CgrID: str = ""
    RunID: str = ""
    ForceDuration: bool = False
    PerformRounding: bool = False
    DryRun: bool = False
    DenyNegativeAccount: bool | None = None
    APIOpts: dict[str, Any] = field(default_factory=dict)
    journal_key: str = ""
    tz: tzinfo = field(default_factory=lambda: get_timezone("UTC"))

    # ------------------------------------------------------------------------------------------ construction

    @classmethod
    def new(
        cls,
        *,
        tenant: str,
        category: str,
        subject: str,
        destination: str,
        answer_time: datetime,
        usage: int,
        account: str = "",
        tor: str = VOICE,
        **extra: Any,
    ) -> CallDescriptor:
        """A descriptor for ``usage`` ns (or units) from ``answer_time``."""
        start = tm.to_ns(answer_time)
        return cls(
            Category=category,
            Tenant=tenant,
            Subject=subject or account,
            Account=account,
            Destination=destination,
            TimeStart=start,
            TimeEnd=start + usage,
            DurationIndex=usage,
            ToR=tor or VOICE,
            tz=answer_time.tzinfo or get_timezone("UTC"),
            **extra,
        )

    @classmethod
    def from_json(cls, d: Any, timezone: str | None = None) -> CallDescriptor:
        """From CGRateS's CallDescriptor(WithAPIOpts) JSON (times RFC3339, durations in ns); naive times are
        placed in ``timezone``."""
        if not isinstance(d, dict):
            raise TypeError("arguments must be a JSON object")
        tz = get_timezone(timezone)
        start_dt = parse_time(d.get("TimeStart"), tz) or parse_time("*now")
        end_raw = d.get("TimeEnd")
        # datetime holds microseconds; *data and *sms count 1 unit = 1 ns, so keep RFC3339 nanoseconds exact
        start = _exact_ns(d.get("TimeStart"), start_dt)
        end = _exact_ns(end_raw, parse_time(end_raw, tz)) if end_raw not in (None, "", "0001-01-01T00:00:00Z") \
            else start
        fallback = d.get("FallbackSubjects") or d.get("FallbackSubject") or []
        if isinstance(fallback, str):
            fallback = [s for s in fallback.split(";") if s]
        incs = d.get("Increments") or []
        if not isinstance(incs, list):  # a compressed EventCost-like shape is not supported here
            raise TypeError("Increments must be a list of CGRateS Increments")
        opts = d.get("APIOpts") or {}
        deny = d.get("DenyNegativeAccount")
        return cls(
            Category=d.get("Category") or "",
            Tenant=d.get("Tenant") or "",
            Subject=d.get("Subject") or "",
            Account=d.get("Account") or "",
            Destination=str(d.get("Destination") or ""),
            TimeStart=start,
            TimeEnd=end,
            LoopIndex=float(d.get("LoopIndex") or 0),
            DurationIndex=parse_duration(d.get("DurationIndex") or 0),
            FallbackSubjects=list(fallback),
            Increments=[Increment.from_json(i) for i in incs],
            ToR=d.get("ToR") or d.get("TOR") or VOICE,
            ExtraFields=dict(d.get("ExtraFields") or {}),
            MaxRate=to_decimal(d.get("MaxRate") or 0),
            MaxRateUnit=parse_duration(d.get("MaxRateUnit") or 0),
            MaxCostSoFar=to_decimal(d.get("MaxCostSoFar") or 0),
            CgrID=d.get("CgrID") or "",
            RunID=d.get("RunID") or "",
            ForceDuration=bool(d.get("ForceDuration")),
            PerformRounding=bool(d.get("PerformRounding")),
            DryRun=bool(d.get("DryRun")),
            DenyNegativeAccount=None if deny is None else bool(deny),
            APIOpts=dict(opts),
            journal_key=str(opts.get(JOURNAL_OPT) or ""),
            tz=start_dt.tzinfo or tz,
        )

    def to_json(self) -> dict:
        out = {
            "Category": self.Category,
            "Tenant": self.Tenant,
            "Subject": self.Subject,
            "Account": self.Account,
            "Destination": self.Destination,
            "TimeStart": time_to_json(self.TimeStart),
            "TimeEnd": time_to_json(self.TimeEnd),
            "LoopIndex": self.LoopIndex,
            "DurationIndex": self.DurationIndex,
            "FallbackSubject": ";".join(self.FallbackSubjects),
            "ToR": self.ToR,
            "ExtraFields": dict(self.ExtraFields),
            "MaxRate": money_json(self.MaxRate),
            "MaxRateUnit": self.MaxRateUnit,
            "MaxCostSoFar": money_json(self.MaxCostSoFar),
            "CgrID": self.CgrID,
            "RunID": self.RunID,
            "ForceDuration": self.ForceDuration,
            "PerformRounding": self.PerformRounding,
            "DryRun": self.DryRun,
        }
        if self.DenyNegativeAccount is not None:
            out["DenyNegativeAccount"] = self.DenyNegativeAccount
        if self.Increments:
            out["Increments"] = [inc.to_json() for inc in self.Increments]
        if self.APIOpts or self.journal_key:
            out["APIOpts"] = {**self.APIOpts, JOURNAL_OPT: self.journal_key} if self.journal_key else self.APIOpts
        return out

    def clone(self) -> CallDescriptor:
        return CallDescriptor(
            Category=self.Category,
            Tenant=self.Tenant,
            Subject=self.Subject,
            Account=self.Account,
            Destination=self.Destination,
            TimeStart=self.TimeStart,
            TimeEnd=self.TimeEnd,
            LoopIndex=self.LoopIndex,
            DurationIndex=self.DurationIndex,
            FallbackSubjects=list(self.FallbackSubjects),
            Increments=list(self.Increments),
            ToR=self.ToR,
            ExtraFields=dict(self.ExtraFields),
            MaxRate=self.MaxRate,
            MaxRateUnit=self.MaxRateUnit,
            MaxCostSoFar=self.MaxCostSoFar,
            CgrID=self.CgrID,
            RunID=self.RunID,
            ForceDuration=self.ForceDuration,
            PerformRounding=self.PerformRounding,
            DryRun=self.DryRun,
            DenyNegativeAccount=self.DenyNegativeAccount,
            APIOpts=self.APIOpts,
            journal_key=self.journal_key,
            tz=self.tz,
        )

    # ------------------------------------------------------------------------------------------ helpers

    def get_duration(self) -> int:
        return self.TimeEnd - self.TimeStart

    def key(self, subject: str) -> str:
        return rating_profile_key(self.Tenant, self.Category, subject)

    def account_key(self) -> str:
        return f"{self.Tenant}:{self.Account or self.Subject}"

    def create_call_cost(self) -> CallCost:
        return CallCost(
            Category=self.Category,
            Tenant=self.Tenant,
            Subject=self.Subject,
            Account=self.Account,
            Destination=self.Destination,
            ToR=self.ToR,
            deduct_connect_fee=self.LoopIndex == 0,
        )

    def continuous_rating_infos(self) -> bool:
        """Whether rating infos cover the whole call."""
        ris = self.RatingInfos
        if not ris or ris[0].ActivationTime > self.TimeStart:
            return False
        return all(ri.RateIntervals is not None for ri in ris)


# ---------------------------------------------------------------------------------------------------- rating plans


async def _rating_infos_for_profile(rater: Rater, rpf: RatingProfile, cd: CallDescriptor) -> list[RatingInfo]:
    """The rating infos of a profile for the call's destination (CGRateS GetRatingPlansForPrefix)."""
    ris: list[RatingInfo] = []
    start_dt = None
    for index, rpa in enumerate(rpf.active_for_call(cd.TimeStart, cd.TimeEnd)):
        plan = await rater.rating_plan(rpa.RatingPlanId)
        if plan is None:
            continue
        prefix = dest_id = ""
        intervals = None
        if cd.Destination in ("", ANY):
            if ANY in plan.DestinationRates:
                intervals, prefix, dest_id = plan.rate_intervals(ANY), ANY, ANY
        else:
            number = cd.Destination
            for i in range(len(number), 0, -1):
                p = number[:i]
                dest_ids = await rater.reverse_destination(p)
                if not dest_ids:
                    continue
                best_weight = None
                for did in dest_ids if len(dest_ids) == 1 else sorted(dest_ids):
                    if did not in plan.DestinationRates:
                        continue
                    candidate = plan.rate_intervals(did)
                    if start_dt is None:
                        start_dt = tm.to_datetime(cd.TimeStart, cd.tz)
                    if not any(tm.is_active_at(ri.Timing, start_dt, cd.TimeStart % 1000) for ri in candidate):
                        continue
                    weight = max((ri.Weight for ri in candidate), default=0.0)
                    if best_weight is None or weight > best_weight:
                        best_weight, intervals, prefix, dest_id = weight, candidate, p, did
                if intervals is not None:
                    break
            if intervals is None and ANY in plan.DestinationRates:
                intervals, prefix, dest_id = plan.rate_intervals(ANY), ANY, ANY
        if index == 0 and cd.TimeStart < rpa.ActivationTime:
            # the start of the call is before the first activation: leave it to the *any subject
            ris.append(RatingInfo(ActivationTime=cd.TimeStart, RateIntervals=None, FallbackKeys=[cd.key(ANY)]))
        if prefix:
            ris.append(
                RatingInfo(
                    MatchedSubject=rpf.Id,
                    RatingPlanId=plan.Id,
                    MatchedPrefix=prefix,
                    MatchedDestId=dest_id,
                    ActivationTime=rpa.ActivationTime,
                    RateIntervals=intervals,
                    FallbackKeys=list(rpa.FallbackKeys),
                )
            )
        elif rpa.FallbackKeys:
            ris.append(
                RatingInfo(ActivationTime=rpa.ActivationTime, RateIntervals=None, FallbackKeys=list(rpa.FallbackKeys))
            )
    return ris


async def _rating_plans_for_key(rater: Rater, cd: CallDescriptor, key: str, depth: int,
                                profile: RatingProfile | None = None) -> tuple[str | None, int]:
    """Fill ``cd.RatingInfos`` from the profile ``key`` (or ``profile`` itself), following fallbacks; returns
    (error code, depth)."""
    if depth > rater.fallback_depth:
        return "MAX_RECURSION_DEPTH", depth
    rpf = profile if profile is not None else await rater.rating_profile_matching(key)
    if rpf is None:
        return NOT_FOUND, depth
    ris = await _rating_infos_for_profile(rater, rpf, cd)
    cd.RatingInfos.extend(ris)
    if ris and cd.continuous_rating_infos():
        return None, depth
    depth += 1
    index = 0
    while index < len(cd.RatingInfos):
        ri = cd.RatingInfos[index]
        if ri.RateIntervals or not ri.FallbackKeys:
            index += 1
            continue
        slot_start = cd.TimeStart if index == 0 else ri.ActivationTime
        slot_end = cd.TimeEnd if index == len(cd.RatingInfos) - 1 else cd.RatingInfos[index + 1].ActivationTime
        for fbk in ri.FallbackKeys:
            temp = CallDescriptor(
                Category=cd.Category,
                Tenant=cd.Tenant,
                Destination=cd.Destination,
                TimeStart=slot_start,
                TimeEnd=slot_end,
                ToR=cd.ToR,
                tz=cd.tz,
            )
            err, _ = await _rating_plans_for_key(rater, temp, fbk, depth)
            if err is not None:
                continue
            filled = [r for r in temp.RatingInfos if r.RateIntervals]
            for n, new_ri in enumerate(filled):
                # the fallback rates this slot from the slot's start on, not from its own activation time
                placed = RatingInfo(
                    MatchedSubject=new_ri.MatchedSubject,
                    RatingPlanId=new_ri.RatingPlanId,
                    MatchedPrefix=new_ri.MatchedPrefix,
                    MatchedDestId=new_ri.MatchedDestId,
                    ActivationTime=max(new_ri.ActivationTime, ri.ActivationTime) if n else ri.ActivationTime,
                    RateIntervals=new_ri.RateIntervals,
                    FallbackKeys=new_ri.FallbackKeys,
                )
                if n == 0:
                    cd.RatingInfos[index] = placed
                else:
                    cd.RatingInfos.insert(index + n, placed)
            if temp.continuous_rating_infos():
                break
        index += 1
    return None, depth


async def load_rating_plans(rater: Rater, cd: CallDescriptor, profile: RatingProfile | None = None) -> None:
    """Fill ``cd.RatingInfos`` for the whole call, or raise RatingError (RATING_PLAN_NOT_FOUND,
    UNAUTHORIZED_DESTINATION). ``profile`` stands in for the stored rating profile of the subject (RouteS prices a
    route on its own rating plans this way, as CGRateS does with a temporary ``*tmp`` profile)."""
    cd.RatingInfos = []
    err, depth = await _rating_plans_for_key(rater, cd, cd.key(cd.Subject), 1, profile)
    if err == NOT_FOUND and depth == 1:
        for subject in [*cd.FallbackSubjects, ANY]:
            cd.RatingInfos = []
            err, _ = await _rating_plans_for_key(rater, cd, cd.key(subject), 1)
            if err != NOT_FOUND:
                break
    if err is not None:
        raise RatingError(RATING_PLAN_NOT_FOUND, f"no rating profile for {cd.key(cd.Subject)}")
    cd.RatingInfos.sort(key=lambda r: r.ActivationTime)
    if not cd.continuous_rating_infos():
        raise RatingError(UNAUTHORIZED_DESTINATION, f"destination {cd.Destination} not rated for {cd.key(cd.Subject)}")


# ---------------------------------------------------------------------------------------------------- time spans


def select_rate_intervals(ri: RatingInfo, ts: TimeSpan, tz: tzinfo) -> list:
    """The rate intervals to try on ``ts``: the one closest before its start (highest weight first), then those
    of at least that weight starting inside it (CGRateS SelectRatingIntevalsForTimespan)."""
    intervals = ri.RateIntervals or []
    if not intervals:
        return []
    start_dt = tm.to_datetime(ts.time_start, tz)
    keyed = []
    for interval in intervals:
        left = (
            tm.left_margin(interval.Timing, start_dt)
            if interval.Timing is not None
            else start_dt.replace(hour=0, minute=0, second=0, microsecond=0)
        )
        keyed.append((-interval.Weight, left, interval))
    keyed.sort(key=lambda k: (k[0], k[1]))
    best_index = 0
    best_weight = None
    delta = None
    for index, (neg_w, left, interval) in enumerate(keyed):
        if not tm.is_active_at(interval.Timing, start_dt, ts.time_start % 1000):
            continue
        if best_weight is not None and -neg_w < best_weight:
            break
        d = start_dt - left
        if left <= start_dt and (delta is None or d < delta):
            best_index, best_weight, delta = index, -neg_w, d
    result = [keyed[best_index][2]]
    end_ns = ts.time_end
    floor_weight = best_weight if best_weight is not None else float("-inf")
    for neg_w, left, interval in keyed[best_index + 1 :]:
        if -neg_w < floor_weight:
            break
        if tm.to_ns(left) < end_ns:
            result.append(interval)
    return result


def split_in_timespans(cd: CallDescriptor) -> list[TimeSpan]:
    """Split the call into time spans, each with its rate interval, stretched to whole increments."""
    first = TimeSpan(time_start=cd.TimeStart, time_end=cd.TimeEnd, duration_index=cd.DurationIndex)
    timespans = [first]
    if not cd.RatingInfos:
        return timespans
    first.set_rating_info(cd.RatingInfos[0])
    tz = cd.tz
    voice = cd.ToR == VOICE
    if voice:
        for ri in cd.RatingInfos:
            if ri.ActivationTime <= cd.TimeStart:
                if len(timespans) == 1:
                    first.set_rating_info(ri)
                continue
            nts = timespans[-1].split_by_rating_plan(ri)
            if nts is not None:
                timespans.append(nts)
        i = 0
        while i < len(timespans):
            nts = timespans[i].split_by_day(tz)
            if nts is not None:
                timespans.insert(i + 1, nts)
            i += 1
    i = 0
    while i < len(timespans):
        ts = timespans[i]
        ri = ts.rating_info
        if ri is not None:
            for interval in select_rate_intervals(ri, ts, tz):
                nts = ts.split_by_rate_interval(interval, not voice, tz)
                if nts is not None:
                    nts.set_rating_info(ri)
                    timespans.insert(i + 1, nts)
                    if ts.rate_interval is not None:
                        break
        i += 1
    round_timespans_to_increment(timespans)
    return timespans


def round_timespans_to_increment(timespans: list[TimeSpan]) -> None:
    """Stretch each span to a whole number of its RateIncrement (the call may end up longer than asked)."""
    i = 0
    while i < len(timespans):
        ts = timespans[i]
        if ts.rate_interval is not None:
            _, step, _ = rate_parameters(ts.rate_interval, ts.group_start())
            duration = ts.duration
            if 0 < step < duration:
                step = round_duration(step, duration)
            if step > duration:
                ts.time_end = ts.time_start + step
                ts.duration_index += step - duration
                remove_overlapped_from_index(timespans, i)
        i += 1


# ---------------------------------------------------------------------------------------------------- costs


def apply_max_cost_free(timespans: list[TimeSpan], so_far: Decimal) -> Decimal:
    """Make what exceeds a *free MaxCost free: increments beyond the cap cost 0, the one crossing it only the rest.

    ``so_far`` is the cost already charged (connect fee included); returns the cost so far after the spans.
    """
    for ts in timespans:
        cap, strategy = max_cost(ts.rate_interval)
        if strategy != MAX_COST_FREE or cap <= 0:
            so_far += sum((inc.cost * inc.compress_factor for inc in ts.increments), ZERO)
            continue
        capped: list[Increment] = []
        for inc in ts.increments:
            total = inc.cost * inc.compress_factor
            if so_far >= cap or inc.cost <= 0:
                if so_far >= cap and inc.cost > 0:
                    inc = inc.clone()
                    inc.cost = ZERO
                capped.append(inc)
                continue
            if so_far + total <= cap:
                so_far += total
                capped.append(inc)
                continue
            full = int((cap - so_far) // inc.cost)
            rest = inc.compress_factor
            if full:
                capped.append(inc.clone(full))
                so_far += inc.cost * full
                rest -= full
            partial = cap - so_far
            if partial > 0 and rest:
                part = inc.clone(1)
                part.cost = partial
                capped.append(part)
                so_far = cap
                rest -= 1
            if rest:
                free = inc.clone(rest)
                free.cost = ZERO
                capped.append(free)
        ts.increments = capped
    return so_far


async def get_cost(rater_ctx: Any, cd: CallDescriptor, profile: RatingProfile | None = None) -> CallCost:
    """Rate the call: a CallCost whose spans carry their increments (the connect fee first, usage 0).

    ``profile``, when given, rates the call instead of the subject's stored rating profile (:func:`load_rating_plans`).
    Raises RatingError (RATING_PLAN_NOT_FOUND, UNAUTHORIZED_DESTINATION, MAX_USAGE_EXCEEDED).
    """
    rater = as_rater(rater_ctx)
    if not cd.ToR:
        cd.ToR = VOICE
    duration = cd.get_duration()
    if duration < 0:
        raise RatingError("SERVER_ERROR", "TimeEnd before TimeStart")
    if not rater.usage_allowed(cd.ToR, duration):
        raise RatingError(MAX_USAGE_EXCEEDED)
    if duration == 0:
        cc = cd.create_call_cost()
        try:
            await load_rating_plans(rater, cd, profile)
        except RatingError:
            return cc
        if cd.RatingInfos:
            ts = TimeSpan(time_start=cd.TimeStart, time_end=cd.TimeEnd)
            ts.set_rating_info(cd.RatingInfos[0])
            cc.Timespans.append(ts)
        return cc
    if cd.DurationIndex < duration:
        cd.DurationIndex = duration
    await load_rating_plans(rater, cd, profile)
    timespans = split_in_timespans(cd)
    decimals = rater.rounding_decimals
    for ts in timespans:
        ts.create_increments(decimals)
    if cd.LoopIndex == 0 and timespans and timespans[0].rate_interval is not None:
        rating = timespans[0].rate_interval.Rating
        fee = rating.ConnectFee if rating is not None else ZERO
        timespans[0].increments.insert(0, Increment(duration=0, cost=fee, compress_factor=1))
    apply_max_cost_free(timespans, cd.MaxCostSoFar)
    total = ZERO
    for ts in timespans:
        ts.cost = ts.calculate_cost()
        total += ts.cost
    cc = cd.create_call_cost()
    cc.Timespans = timespans
    cc.Cost = cc.round_total(total)
    cc.update_rated_usage()
    return cc
