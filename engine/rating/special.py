"""Special rating subjects: ``*zero<duration>`` rates a call at no cost in increments of that duration.

A unit balance (*voice, *data, *sms) with RatingSubject ``*zero1s`` (or none: ``rals.balance_rating_subject``
gives the default per ToR) is consumed in 1s steps that cost nothing; ``*zero1m`` in whole minutes.
"""

from __future__ import annotations

from decimal import Decimal

from pycgrates.engine.models.tariffplan import ANY, RateInterval, RIRate
from pycgrates.engine.models.tariffplan import Rate as PriceSlot
from pycgrates.engine.rating.callcost import CallCost
from pycgrates.engine.rating.calldesc import CallDescriptor
from pycgrates.engine.rating.timespans import RatingInfo, TimeSpan
from pycgrates.engine.units import DurationError, parse_go_duration

ZERO_PREFIX = "*zero"
META_NONE = "*none"


def parse_zero_rating_subject(tor: str, subject: str, defaults: dict[str, str] | None = None) -> int | None:
    """The increment (ns) of a ``*zero<duration>`` subject; None when ``subject`` is a regular rating subject.

    An empty or ``*any`` subject takes the default of the ToR (else of ``*any``) from ``defaults``. A number
    without unit counts nanoseconds (``*zero1024`` for *data units).
    """
    subject = (subject or "").strip()
    if subject in ("", ANY):
        defaults = defaults or {}
        subject = defaults.get(tor) or defaults.get(ANY) or ""
    if not subject.startswith(ZERO_PREFIX):
        return None
    text = subject[len(ZERO_PREFIX) :]
    try:
        if text.isdigit():
            value = int(text)
        else:
            value = parse_go_duration(text)
    except DurationError:
        return None
    return value if value > 0 else None


def zero_cost(
    cd: CallDescriptor, increment: int, matched_subject: str = "", prefix: str = "", dest_id: str = ""
) -> CallCost:
    """A CallCost for ``cd`` charged in free increments of ``increment`` ns (the span stretched to whole ones)."""
    cc = cd.create_call_cost()
    ts = TimeSpan(time_start=cd.TimeStart, time_end=cd.TimeEnd, duration_index=cd.DurationIndex or cd.get_duration())
    ts.round_to_duration(increment)
    ts.rate_interval = RateInterval(
        Timing=None,
        Rating=RIRate(
            Rates=[PriceSlot(GroupIntervalStart=0, Value=Decimal(0), RateIncrement=increment, RateUnit=increment)]
        ),
    )
    ts.set_rating_info(
        RatingInfo(
            MatchedSubject=matched_subject,
            MatchedPrefix=prefix or cd.Destination,
            MatchedDestId=dest_id or ANY,
            RatingPlanId=META_NONE,
        )
    )
    ts.create_increments(5)
    cc.Timespans.append(ts)
    cc.Cost = Decimal(0)
    cc.update_rated_usage()
    return cc
