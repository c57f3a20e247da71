"""RALs rating: the cost of a call from the tariff plan in DataDB (CGRateS's rating engine).

Public API (for accounting, sessions, CDRs, routes)
===================================================

Rating a call::

    from pycgrates.engine.rating import CallDescriptor, get_cost, RatingError

    cd = CallDescriptor.new(tenant="cgrates.org", category="call", subject="1001", destination="1002",
                            answer_time=datetime(...tz...), usage=130 * SECOND, tor="*voice")
    cc = await get_cost(ctx_or_rater, cd)      # CallCost; raises RatingError(code)
    cc.Cost                                    # Decimal, rounded by the destination rate's method/decimals
    for ts in cc.Timespans:                    # TimeSpan
        ts.time_start, ts.time_end             # int ns since the Unix epoch (UTC)
        ts.duration, ts.duration_index         # int ns; duration_index = usage so far at ts.time_end
        ts.cost                                # Decimal (sum of its increments)
        ts.rate_interval                       # RateInterval(Timing: RITiming, Rating: RIRate, Weight)
        ts.rate_interval.Rating                # RIRate(ConnectFee, RoundingMethod, RoundingDecimals, MaxCost,
                                               #        MaxCostStrategy, Rates=[Rate(GroupIntervalStart, Value,
                                               #        RateIncrement, RateUnit)])
        ts.matched_subject, ts.matched_prefix, ts.matched_dest_id, ts.rating_plan_id
        for inc in ts.increments:              # Increment(duration ns, cost Decimal, compress_factor,
            ...                                #           balance_info, accounting_id)

``get_cost(rater_ctx, cd)``: ``rater_ctx`` is an EngineContext, a DataManager or a :class:`Rater`. Error codes
(``RatingError.code``): ``RATING_PLAN_NOT_FOUND``, ``UNAUTHORIZED_DESTINATION``, ``MAX_USAGE_EXCEEDED``.

``CallDescriptor`` fields follow CGRateS: Category, Tenant, Subject, Account, Destination, TimeStart, TimeEnd
(int ns since the epoch), LoopIndex (0 = first part of the call: the connect fee is charged), DurationIndex (usage
so far at TimeEnd; selects GroupIntervalStart slots), FallbackSubjects, ToR (``*voice`` by time; ``*data``/``*sms``
by units, 1 unit = 1 ns), MaxCostSoFar, PerformRounding, DryRun, CgrID, RunID, ExtraFields, and ``tz`` (the
timezone timings are evaluated in). ``cd.clone()``; ``CallDescriptor.from_json(d, tz)`` reads CGRateS's JSON.

Increments are **compressed**: one Increment with ``compress_factor`` N stands for N equal steps. The connect
fee, when charged, is the first increment of the first span, with duration 0. Walk single steps with
``iter_increments(ts.increments)`` or ``ts.decompress()``; fold back with ``ts.compress()``.

Splitting and re-rating a portion (what a debit does with a balance's RatingSubject):

* ``ts.split_by_increment(index)`` / ``ts.split_by_duration(ns)`` → the new TimeSpan after the cut (or None);
* ``ts.round_to_duration(ns)``, ``remove_overlapped_from_index(spans, i)``;
* re-rate a part with another subject: ``sub = cd.clone(); sub.Subject = b.RatingSubject;
  sub.TimeStart, sub.TimeEnd, sub.DurationIndex = ...; await get_cost(ctx, sub)``;
* ``*zero<duration>`` subjects: ``parse_zero_rating_subject(tor, subject, rater.balance_rating_subject)`` gives
  the increment (None for regular subjects); ``zero_cost(cd, increment)`` builds the free CallCost.

MaxCost: ``*free`` is applied by ``get_cost`` (increments past the cap cost 0; the one crossing it only the rest);
``*disconnect`` is left to the caller: ``cc.usage_within_max_cost(cost_so_far)`` is the usage payable before the
cap is reached (None when never reached).

CallCost: ``cc.Timespans``, ``cc.Cost``, ``cc.get_duration()``, ``cc.get_connect_fee()``,
``cc.longest_rounding()``, ``cc.round_total(x)``, ``cc.update_cost()``, ``cc.to_json()`` (CGRateS CallCost JSON);
``event_cost(cc, cgrid, run_id, accounting=...)`` gives CGRateS's EventCost JSON.

Prefix index: ``rater.reverse_destinations(number)`` → ``[(prefix, [destination IDs]), ...]`` longest first,
``rater.destination_ids_for(number)``; one dict probe per digit whatever the number of prefixes.

Cached forms in the DataManager (decoders registered by the Rater): ``rpl`` → RatingPlan, ``rpf`` →
RatingProfile, ``rds`` (reverse destinations) → tuple of destination IDs; ``dst`` stays the stored dict.

The RPC surface (APIerSv1.GetCost, Responder.GetCost, Get/Set/Remove of rating profiles, plans, destinations) is
:class:`engine.rating.service.RatingService`.
"""

from pycgrates.engine.models.tariffplan import RateInterval, RatingPlan, RatingProfile, RIRate, RITiming
from pycgrates.engine.rating.callcost import CallCost, event_cost, walk_increments
from pycgrates.engine.rating.calldesc import (
    DATA,
    SMS,
    VOICE,
    CallDescriptor,
    RatingError,
    apply_max_cost_free,
    get_cost,
    load_rating_plans,
    split_in_timespans,
)
from pycgrates.engine.rating.rater import Rater, as_rater
from pycgrates.engine.rating.special import parse_zero_rating_subject, zero_cost
from pycgrates.engine.rating.timespans import (
    Increment,
    RatingInfo,
    TimeSpan,
    compress_increments,
    iter_increments,
    rate_parameters,
    remove_overlapped_from_index,
    round_duration,
)

create_increments = TimeSpan.create_increments

__all__ = [
    "DATA",
    "SMS",
    "VOICE",
    "CallCost",
    "CallDescriptor",
    "Increment",
    "RIRate",
    "RITiming",
    "RateInterval",
    "Rater",
    "RatingError",
    "RatingInfo",
    "RatingPlan",
    "RatingProfile",
    "TimeSpan",
    "apply_max_cost_free",
    "as_rater",
    "compress_increments",
    "create_increments",
    "event_cost",
    "get_cost",
    "iter_increments",
    "load_rating_plans",
    "parse_zero_rating_subject",
    "rate_parameters",
    "remove_overlapped_from_index",
    "round_duration",
    "split_in_timespans",
    "walk_increments",
    "zero_cost",
]
