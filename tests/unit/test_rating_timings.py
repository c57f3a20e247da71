"""When timings apply, and how spans are cut, independently of any tariff plan."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pycgrates.engine.models.tariffplan import Rate, RateInterval, RIRate, RITiming
from pycgrates.engine.rating import timings as tm
from pycgrates.engine.rating.timespans import (
    Increment,
    TimeSpan,
    rate_parameters,
    remove_overlapped_from_index,
    round_duration,
)

S = 10**9


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_week_days_follow_go_with_seven_as_sunday():
    weekend = RITiming(WeekDays=(6, 0))  # the loader stores 7 as 0
    assert tm.is_active_at(weekend, dt("2024-01-13T10:00:00"))  # Saturday
    assert tm.is_active_at(weekend, dt("2024-01-14T10:00:00"))  # Sunday
    assert not tm.is_active_at(weekend, dt("2024-01-15T10:00:00"))  # Monday


def test_years_months_month_days_and_start_end_times():
    t = RITiming(Years=(2024,), Months=(12,), MonthDays=(24, 25), StartTime="08:00:00", EndTime="17:00:00")
    assert tm.is_active_at(t, dt("2024-12-25T08:00:00"))
    assert tm.is_active_at(t, dt("2024-12-24T17:00:00"))
    assert not tm.is_active_at(t, dt("2024-12-25T07:59:59"))
    assert not tm.is_active_at(t, dt("2024-12-25T17:00:01"))
    assert not tm.is_active_at(t, dt("2023-12-25T10:00:00"))
    assert not tm.is_active_at(t, dt("2024-12-26T10:00:00"))
    assert tm.is_active_at(RITiming(), dt("2024-02-29T23:59:59"))  # *any


def test_margins():
    t = RITiming(StartTime="19:00:00")
    at = dt("2024-01-08T21:30:00")
    assert tm.left_margin(t, at) == dt("2024-01-08T19:00:00")
    assert tm.right_margin(t, at) == dt("2024-01-09T00:00:00")
    # an end time exactly at midnight belongs to the day before
    assert tm.contains(RITiming(WeekDays=(1,)), tm.to_ns(dt("2024-01-09T00:00:00")), UTC, end_time=True)
    assert not tm.contains(RITiming(WeekDays=(1,)), tm.to_ns(dt("2024-01-09T00:00:00")), UTC)


def test_nanosecond_times_round_trip():
    ns = tm.to_ns(dt("2024-01-08T10:00:00")) + 123
    assert tm.to_datetime(ns).isoformat() == "2024-01-08T10:00:00+00:00"


def _ri() -> RateInterval:
    rating = RIRate(
        Rates=[
            Rate(60 * S, Decimal("0.3"), S, 60 * S),
            Rate(0, Decimal("0.6"), 60 * S, 60 * S),
        ]
    )
    return RateInterval(Timing=RITiming(), Rating=rating, Weight=10)


def test_rate_parameters_pick_the_slot_by_call_position():
    ri = _ri()
    # slots are sorted by GroupIntervalStart whatever their order
    assert rate_parameters(ri, 0) == (Decimal("0.6"), 60 * S, 60 * S)
    assert rate_parameters(ri, 59 * S) == (Decimal("0.6"), 60 * S, 60 * S)
    assert rate_parameters(ri, 60 * S) == (Decimal("0.3"), S, 60 * S)
    # zero increment and unit count as one second
    zero = RateInterval(Timing=None, Rating=RIRate(Rates=[Rate(0, Decimal(1), 0, 0)]))
    assert rate_parameters(zero, 0) == (Decimal(1), S, S)


def test_round_duration():
    assert round_duration(60 * S, 61 * S) == 120 * S
    assert round_duration(60 * S, 120 * S) == 120 * S
    assert round_duration(1024, 2500) == 3072


def test_split_by_increment_with_compressed_increments():
    start = tm.to_ns(dt("2024-01-08T10:00:00"))
    ts = TimeSpan(time_start=start, time_end=start + 10 * S, duration_index=10 * S)
    ts.increments = [Increment(0, Decimal("0.4")), Increment(S, Decimal("0.01"), 10)]
    nts = ts.split_by_increment(4)  # before the 4th single step: connect fee + 3 seconds stay
    assert ts.duration == 3 * S and nts.duration == 7 * S
    assert [(i.cost, i.compress_factor) for i in ts.increments] == [(Decimal("0.4"), 1), (Decimal("0.01"), 3)]
    assert [(i.cost, i.compress_factor) for i in nts.increments] == [(Decimal("0.01"), 7)]
    assert ts.duration_index == 3 * S and nts.duration_index == 10 * S
    assert ts.cost == Decimal("0.43") and nts.cost == Decimal("0.07")


def test_split_by_duration_cuts_a_straddling_increment():
    start = 0
    ts = TimeSpan(time_start=start, time_end=120 * S, duration_index=120 * S)
    ts.increments = [Increment(60 * S, Decimal("0.5"), 2)]
    nts = ts.split_by_duration(90 * S)
    assert ts.duration == 90 * S and nts.duration == 30 * S
    assert [i.duration for i in ts.increments] == [60 * S, 30 * S]
    assert [i.duration for i in nts.increments] == [30 * S]


def test_remove_overlapped_from_index():
    spans = [TimeSpan(0, 60), TimeSpan(10, 20), TimeSpan(20, 30), TimeSpan(30, 90)]
    remove_overlapped_from_index(spans, 0)
    assert [(s.time_start, s.time_end) for s in spans] == [(0, 60), (60, 90)]
