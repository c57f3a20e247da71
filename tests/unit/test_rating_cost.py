"""GetCost on small tariff plans, every expected cost worked out by hand in the comments.

Conventions of the arithmetic: each increment's cost is rounded to 5 decimals (general.rounding_decimals,
*middle); the connect fee of the first span is added; the total is rounded by the destination rate's method and
decimals (4, *up unless said otherwise). Weekdays: 2024-01-08 is a Monday, 2024-01-12 a Friday.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pycgrates.engine.loader.tariffplan import load_tariff_plan
from pycgrates.engine.rating import CallDescriptor, Rater, RatingError, event_cost, get_cost, iter_increments
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager

S = 10**9
M = 60 * S
T = "cgrates.org"


async def plan(tmp_path: Path, files: dict[str, str], **settings) -> Rater:
    """Load CSV files (given as text) and return a Rater over them."""
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(textwrap.dedent(text).strip() + "\n")
    dm = DataManager(MemoryDataDB(), Cache.from_config({}))
    await load_tariff_plan(dm, tmp_path)
    return Rater(dm, **settings)


async def cost(rater: Rater, subject: str, dest: str, start: datetime, usage: int, **kw) -> Decimal:
    cd = CallDescriptor.new(
        tenant=T,
        category=kw.pop("category", "call"),
        subject=subject,
        destination=dest,
        answer_time=start,
        usage=usage,
        **kw,
    )
    return (await get_cost(rater, cd)).Cost


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


PROFILE = """
    #Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
    cgrates.org,call,1001,2014-01-01T00:00:00Z,RP_1,
"""


# ---------------------------------------------------------------------------------------------------- slots


async def test_group_interval_start_slots(tmp_path):
    rater = await plan(
        tmp_path,
        {
            "Destinations": "DST_1002,1002",
            "Rates": """
                RT_STEP,0.3,0.6,60s,60s,0s
                RT_STEP,0,0.3,60s,30s,60s
                RT_STEP,0,0.06,60s,1s,120s
            """,
            "DestinationRates": "DR_STEP,DST_1002,RT_STEP,*up,4,0,",
            "RatingPlans": "RP_1,DR_STEP,*any,10",
            "RatingProfiles": PROFILE,
        },
    )
    # 150s: [0,60) one 60s step of 0.6/60s = 0.6; [60,120) two 30s steps of 0.3*30/60 = 0.15 → 0.3;
    # [120,150) thirty 1s steps of 0.06/60 = 0.001 → 0.03; connect fee 0.3 → 0.3+0.6+0.3+0.03 = 1.23
    assert await cost(rater, "1001", "1002", at("2024-01-08T10:00:00"), 150 * S) == Decimal("1.23")
    # 100s: the 40s in the second slot are charged as two 30s steps (60s) → 0.3+0.6+0.3 = 1.2
    cd = CallDescriptor.new(
        tenant=T,
        category="call",
        subject="1001",
        destination="1002",
        answer_time=at("2024-01-08T10:00:00"),
        usage=100 * S,
    )
    cc = await get_cost(rater, cd)
    assert cc.Cost == Decimal("1.2")
    assert event_cost(cc)["Usage"] == 120 * S
    # 30s: stretched to the first slot's 60s increment → 0.3+0.6 = 0.9
    assert await cost(rater, "1001", "1002", at("2024-01-08T10:00:00"), 30 * S) == Decimal("0.9")


# ---------------------------------------------------------------------------------------------------- activation


async def test_activation_time_switches_mid_call(tmp_path):
    rater = await plan(
        tmp_path,
        {
            "Destinations": "DST_1002,1002",
            "Rates": """
                RT_OLD,0.1,0.6,60s,1s,0s
                RT_NEW,0.5,1.2,60s,1s,0s
            """,
            "DestinationRates": """
                DR_OLD,DST_1002,RT_OLD,*up,4,0,
                DR_NEW,DST_1002,RT_NEW,*up,4,0,
            """,
            "RatingPlans": """
                RP_OLD,DR_OLD,*any,10
                RP_NEW,DR_NEW,*any,10
            """,
            "RatingProfiles": """
                cgrates.org,call,1001,2024-01-01T00:00:00Z,RP_OLD,
                cgrates.org,call,1001,2024-06-01T12:00:00Z,RP_NEW,
            """,
        },
    )
    # 11:59 → 12:01: 60s on RP_OLD at 0.01/s = 0.6, then 60s on RP_NEW at 0.02/s = 1.2;
    # only the first span's connect fee (0.1) → 0.1 + 0.6 + 1.2 = 1.9
    cd = CallDescriptor.new(
        tenant=T,
        category="call",
        subject="1001",
        destination="1002",
        answer_time=at("2024-06-01T11:59:00"),
        usage=2 * M,
    )
    cc = await get_cost(rater, cd)
    assert cc.Cost == Decimal("1.9")
    assert [ts.rating_plan_id for ts in cc.Timespans] == ["RP_OLD", "RP_NEW"]
    assert [ts.duration for ts in cc.Timespans] == [M, M]
    # wholly after the switch: connect 0.5 + 60 x 0.02 = 1.7
    assert await cost(rater, "1001", "1002", at("2024-06-02T10:00:00"), M) == Decimal("1.7")
    # wholly before: 0.1 + 60 x 0.01 = 0.7
    assert await cost(rater, "1001", "1002", at("2024-03-02T10:00:00"), M) == Decimal("0.7")


async def test_call_before_first_activation_uses_any_subject(tmp_path):
    rater = await plan(
        tmp_path,
        {
            "Destinations": "DST_1002,1002",
            "Rates": """
                RT_A,0,0.6,60s,1s,0s
                RT_ANY,0,1.2,60s,1s,0s
            """,
            "DestinationRates": """
                DR_A,DST_1002,RT_A,*up,4,0,
                DR_ANY,DST_1002,RT_ANY,*up,4,0,
            """,
            "RatingPlans": """
                RP_A,DR_A,*any,10
                RP_ANY,DR_ANY,*any,10
            """,
            "RatingProfiles": """
                cgrates.org,call,1001,2024-06-01T12:00:00Z,RP_A,
                cgrates.org,call,*any,2014-01-01T00:00:00Z,RP_ANY,
            """,
        },
    )
    # 11:59 → 12:01: the minute before 1001's activation is rated by *any (0.02/s → 1.2), the rest by RP_A
    # (0.01/s → 0.6) → 1.8
    assert await cost(rater, "1001", "1002", at("2024-06-01T11:59:00"), 2 * M) == Decimal("1.8")


# ---------------------------------------------------------------------------------------------------- timings

TIMED = {
    "Timings": """
        #Tag,Years,Months,MonthDays,WeekDays,Time
        PEAK,*any,*any,*any,1;2;3;4;5,08:00:00
        OFFPEAK_MORNING,*any,*any,*any,1;2;3;4;5,00:00:00
        OFFPEAK_EVENING,*any,*any,*any,1;2;3;4;5,19:00:00
        OFFPEAK_WEEKEND,*any,*any,*any,6;7,00:00:00
        XMAS,*any,12,25,*any,00:00:00
    """,
    "Destinations": "DST_10,10",
    "Rates": """
        RT_PEAK,0,0.6,60s,1s,0s
        RT_OFF,0,0.12,60s,1s,0s
        RT_WEEKEND,0,0.06,60s,1s,0s
        RT_XMAS,0,0,60s,1s,0s
    """,
    "DestinationRates": """
        DR_PEAK,DST_10,RT_PEAK,*up,4,0,
        DR_OFF,DST_10,RT_OFF,*up,4,0,
        DR_WEEKEND,DST_10,RT_WEEKEND,*up,4,0,
        DR_XMAS,DST_10,RT_XMAS,*up,4,0,
    """,
    "RatingPlans": """
        RP_1,DR_PEAK,PEAK,10
        RP_1,DR_OFF,OFFPEAK_MORNING,10
        RP_1,DR_OFF,OFFPEAK_EVENING,10
        RP_1,DR_WEEKEND,OFFPEAK_WEEKEND,10
        RP_1,DR_XMAS,XMAS,20
    """,
    "RatingProfiles": PROFILE,
}


async def test_call_crossing_peak_to_offpeak(tmp_path):
    rater = await plan(tmp_path, TIMED)
    # Monday 18:58 for 5m: 120s of PEAK at 0.6/60 = 0.01/s → 1.2; 180s of OFFPEAK_EVENING at 0.12/60 = 0.002/s
    # → 0.36; total 1.56
    cd = CallDescriptor.new(
        tenant=T,
        category="call",
        subject="1001",
        destination="1003",
        answer_time=at("2024-01-08T18:58:00"),
        usage=5 * M,
    )
    cc = await get_cost(rater, cd)
    assert cc.Cost == Decimal("1.56")
    assert [ts.duration for ts in cc.Timespans] == [2 * M, 3 * M]
    assert [ts.rate_interval.Timing.StartTime for ts in cc.Timespans] == ["08:00:00", "19:00:00"]
    # Monday 07:59:30 for 1m: 30s OFFPEAK_MORNING (0.06) + 30s PEAK (0.3) = 0.36
    assert await cost(rater, "1001", "1003", at("2024-01-08T07:59:30"), M) == Decimal("0.36")
    # Monday 21:00: both PEAK (since 08:00) and OFFPEAK_EVENING (since 19:00) apply; the closer start wins →
    # 60 x 0.002 = 0.12
    assert await cost(rater, "1001", "1003", at("2024-01-08T21:00:00"), M) == Decimal("0.12")


async def test_call_crossing_midnight_into_the_weekend(tmp_path):
    rater = await plan(tmp_path, TIMED)
    # Friday 23:59 for 2m: 60s OFFPEAK_EVENING at 0.002/s = 0.12, split at midnight, then 60s OFFPEAK_WEEKEND at
    # 0.06/60 = 0.001/s → 0.06; total 0.18
    cd = CallDescriptor.new(
        tenant=T,
        category="call",
        subject="1001",
        destination="1003",
        answer_time=at("2024-01-12T23:59:00"),
        usage=2 * M,
    )
    cc = await get_cost(rater, cd)
    assert cc.Cost == Decimal("0.18")
    assert len(cc.Timespans) == 2


async def test_higher_weight_timing_wins(tmp_path):
    rater = await plan(tmp_path, TIMED)
    # 2024-12-25 is a Wednesday at 10:00: PEAK (weight 10) and XMAS (weight 20) both apply → XMAS, free
    assert await cost(rater, "1001", "1003", at("2024-12-25T10:00:00"), M) == Decimal("0")
    # the day after: PEAK → 60 x 0.01 = 0.6
    assert await cost(rater, "1001", "1003", at("2024-12-26T10:00:00"), M) == Decimal("0.6")


async def test_timings_follow_the_call_timezone(tmp_path):
    from zoneinfo import ZoneInfo

    rater = await plan(tmp_path, TIMED)
    # 18:30 UTC is 19:30 in Berlin (winter, UTC+1): OFFPEAK_EVENING there → 60 x 0.002 = 0.12
    berlin = datetime(2024, 1, 8, 19, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert await cost(rater, "1001", "1003", berlin, M) == Decimal("0.12")
    # the same instant read in UTC is PEAK → 0.6
    assert await cost(rater, "1001", "1003", at("2024-01-08T18:30:00"), M) == Decimal("0.6")


# ---------------------------------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("method", "seconds", "expected"),
    [
        # 0.1/60 per 1s step = 0.0016666... → 0.00167 each (5 decimals)
        # 71 steps → 0.11857: *up 0.12, *down 0.11, *middle 0.12 (2 decimals)
        ("*up", 71, "0.12"),
        ("*down", 71, "0.11"),
        ("*middle", 71, "0.12"),
        # 73 steps → 0.12191: *up 0.13, *down 0.12, *middle 0.12
        ("*up", 73, "0.13"),
        ("*down", 73, "0.12"),
        ("*middle", 73, "0.12"),
    ],
)
async def test_rounding_methods(tmp_path, method, seconds, expected):
    rater = await plan(
        tmp_path,
        {
            "Destinations": "DST_1002,1002",
            "Rates": "RT_1,0,0.1,60s,1s,0s",
            "DestinationRates": f"DR_1,DST_1002,RT_1,{method},2,0,",
            "RatingPlans": "RP_1,DR_1,*any,10",
            "RatingProfiles": PROFILE,
        },
    )
    assert await cost(rater, "1001", "1002", at("2024-01-08T10:00:00"), seconds * S) == Decimal(expected)


async def test_increments_rounded_to_general_rounding_decimals(tmp_path):
    files = {
        "Destinations": "DST_1002,1002",
        "Rates": "RT_1,0,0.1,60s,1s,0s",
        "DestinationRates": "DR_1,DST_1002,RT_1,*up,6,0,",
        "RatingPlans": "RP_1,DR_1,*any,10",
        "RatingProfiles": PROFILE,
    }
    # 3 decimals: 0.1/60 = 0.0016666 → 0.002 per step; 10 steps → 0.02
    rater = await plan(tmp_path, files, rounding_decimals=3)
    assert await cost(rater, "1001", "1002", at("2024-01-08T10:00:00"), 10 * S) == Decimal("0.02")
    # 5 decimals: 0.00167 per step → 0.0167
    rater = Rater(rater.dm, rounding_decimals=5)
    assert await cost(rater, "1001", "1002", at("2024-01-08T10:00:00"), 10 * S) == Decimal("0.0167")


# ---------------------------------------------------------------------------------------------------- max cost

MAXCOST = {
    "Destinations": """
        DST_1007,1007
        DST_1008,1008
        DST_1009,1009
    """,
    "Rates": """
        RT_1CNT,0,0.01,1s,1s,0s
        RT_1CNT_FEE,0.05,0.01,1s,1s,0s
        RT_4CNT,0,0.04,1s,1s,0s
    """,
    "DestinationRates": """
        DR_FREE,DST_1007,RT_1CNT,*up,4,0.62,*free
        DR_FREE_FEE,DST_1008,RT_1CNT_FEE,*up,4,0.62,*free
        DR_FREE_4,DST_1009,RT_4CNT,*up,4,0.62,*free
        DR_DISC,DST_1007,RT_1CNT,*up,4,0.12,*disconnect
    """,
    "RatingPlans": """
        RP_1,DR_FREE,*any,10
        RP_1,DR_FREE_FEE,*any,10
        RP_1,DR_FREE_4,*any,10
        RP_DISC,DR_DISC,*any,10
    """,
    "RatingProfiles": """
        cgrates.org,call,1001,2014-01-01T00:00:00Z,RP_1,
        cgrates.org,call,1002,2014-01-01T00:00:00Z,RP_DISC,
    """,
}


async def test_max_cost_free(tmp_path):
    rater = await plan(tmp_path, MAXCOST)
    start = at("2024-01-08T10:00:00")
    # 120 x 0.01 = 1.2, capped at 0.62: the 62 first seconds pay, the rest is free
    assert await cost(rater, "1001", "1007", start, 2 * M) == Decimal("0.62")
    # under the cap: 30 x 0.01 = 0.3
    assert await cost(rater, "1001", "1007", start, 30 * S) == Decimal("0.3")
    # the connect fee counts: 0.05 + 57 x 0.01 = 0.62, then free
    assert await cost(rater, "1001", "1008", start, 2 * M) == Decimal("0.62")
    # 0.04 steps: 15 x 0.04 = 0.60, the 16th costs the 0.02 left, the other 104 are free
    cd = CallDescriptor.new(
        tenant=T, category="call", subject="1001", destination="1009", answer_time=start, usage=2 * M
    )
    cc = await get_cost(rater, cd)
    assert cc.Cost == Decimal("0.62")
    steps = [(i.cost, i.compress_factor) for i in cc.Timespans[0].increments]
    assert steps == [(Decimal(0), 1), (Decimal("0.04"), 15), (Decimal("0.02"), 1), (Decimal(0), 104)]
    assert event_cost(cc)["Cost"] == 0.62


async def test_max_cost_disconnect(tmp_path):
    rater = await plan(tmp_path, MAXCOST)
    cd = CallDescriptor.new(
        tenant=T,
        category="call",
        subject="1002",
        destination="1007",
        answer_time=at("2024-01-08T10:00:00"),
        usage=20 * S,
    )
    cc = await get_cost(rater, cd)
    # the cost of the call asked is not capped: 20 x 0.01 = 0.2
    assert cc.Cost == Decimal("0.2")
    # but the call may only last while the cost so far is under 0.12: 12 seconds
    assert cc.usage_within_max_cost() == 12 * S
    # 10s never reach it
    cd = CallDescriptor.new(
        tenant=T,
        category="call",
        subject="1002",
        destination="1007",
        answer_time=at("2024-01-08T10:00:00"),
        usage=10 * S,
    )
    assert (await get_cost(rater, cd)).usage_within_max_cost() is None


# ---------------------------------------------------------------------------------------------------- subjects

FALLBACK = {
    "Destinations": """
        DST_1002,1002
        DST_1003,1003
    """,
    "Rates": """
        RT_A,0,0.6,60s,1s,0s
        RT_B,0,1.2,60s,1s,0s
        RT_C,0,1.8,60s,1s,0s
        RT_ANY,0,6,60s,1s,0s
    """,
    "DestinationRates": """
        DR_A,DST_1002,RT_A,*up,4,0,
        DR_B,DST_1003,RT_B,*up,4,0,
        DR_C,*any,RT_C,*up,4,0,
        DR_ANY,*any,RT_ANY,*up,4,0,
    """,
    "RatingPlans": """
        RP_A,DR_A,*any,10
        RP_B,DR_B,*any,10
        RP_C,DR_C,*any,10
        RP_ANY,DR_ANY,*any,10
    """,
    "RatingProfiles": """
        cgrates.org,call,A,2014-01-01T00:00:00Z,RP_A,B
        cgrates.org,call,B,2014-01-01T00:00:00Z,RP_B,C
        cgrates.org,call,C,2014-01-01T00:00:00Z,RP_C,
        cgrates.org,call,X,2014-01-01T00:00:00Z,RP_A,Y
        cgrates.org,call,Y,2014-01-01T00:00:00Z,RP_B,Z
        cgrates.org,call,Z,2014-01-01T00:00:00Z,RP_B,C
        cgrates.org,call,*any,2014-01-01T00:00:00Z,RP_ANY,
    """,
}


async def test_fallback_subject_chain(tmp_path):
    rater = await plan(tmp_path, FALLBACK)
    start = at("2024-01-08T10:00:00")
    # A has 1002 itself: 60 x 0.6/60 = 0.6
    assert await cost(rater, "A", "1002", start, M) == Decimal("0.6")
    # A has no 1003 → fallback B: 60 x 1.2/60 = 1.2
    assert await cost(rater, "A", "1003", start, M) == Decimal("1.2")
    # neither A nor B rate 1004 → B's fallback C (*any destination): 60 x 1.8/60 = 1.8
    assert await cost(rater, "A", "1004", start, M) == Decimal("1.8")
    # an unknown subject falls to *any: 60 x 6/60 = 6
    assert await cost(rater, "nobody", "1004", start, M) == Decimal("6")
    # X → Y → Z → C is one level deeper than rals.fallback_depth (3) allows: unauthorized
    with pytest.raises(RatingError) as err:
        await cost(rater, "X", "1004", start, M)
    assert err.value.code == "UNAUTHORIZED_DESTINATION"
    rater.fallback_depth = 4
    assert await cost(rater, "X", "1004", start, M) == Decimal("1.8")


async def test_descriptor_fallback_subjects_before_any(tmp_path):
    rater = await plan(tmp_path, FALLBACK)
    start = at("2024-01-08T10:00:00")
    # unknown subject, descriptor fallback C before *any: 1.8 instead of 6
    assert await cost(rater, "nobody", "1004", start, M, FallbackSubjects=["C"]) == Decimal("1.8")


async def test_subject_prefix_matching(tmp_path):
    files = dict(FALLBACK)
    rater = await plan(tmp_path, files)
    start = at("2024-01-08T10:00:00")
    # off: "A123" has no profile → *any: 6
    assert await cost(rater, "A123", "1002", start, M) == Decimal("6")
    # on: the longest existing subject prefix, "A": 0.6
    rater.rp_subject_prefix_matching = True
    assert await cost(rater, "A123", "1002", start, M) == Decimal("0.6")


async def test_longest_prefix_wins_and_unauthorized(tmp_path):
    rater = await plan(
        tmp_path,
        {
            "Destinations": """
                DST_10,10
                DST_1002,1002
            """,
            "Rates": """
                RT_10,0,0.6,60s,1s,0s
                RT_1002,0,1.2,60s,1s,0s
            """,
            "DestinationRates": """
                DR_10,DST_10,RT_10,*up,4,0,
                DR_1002,DST_1002,RT_1002,*up,4,0,
            """,
            "RatingPlans": """
                RP_1,DR_10,*any,10
                RP_1,DR_1002,*any,10
            """,
            "RatingProfiles": PROFILE,
        },
    )
    start = at("2024-01-08T10:00:00")
    assert await cost(rater, "1001", "10025", start, M) == Decimal("1.2")  # 1002 is the longer prefix
    assert await cost(rater, "1001", "1003", start, M) == Decimal("0.6")  # only 10 matches
    with pytest.raises(RatingError) as err:
        await cost(rater, "1001", "2001", start, M)
    assert err.value.code == "UNAUTHORIZED_DESTINATION"
    with pytest.raises(RatingError) as err:
        await cost(rater, "1001", "1002", start, M, category="sms")
    assert err.value.code == "RATING_PLAN_NOT_FOUND"


# ---------------------------------------------------------------------------------------------------- units


async def test_data_and_sms_by_units(tmp_path):
    rater = await plan(
        tmp_path,
        {
            "Destinations": "DST_1002,1002",
            "Rates": """
                RT_DATA,0,1,1024,1024,0
                RT_SMS,0,0.1,1,1,0
            """,
            "DestinationRates": """
                DR_DATA,*any,RT_DATA,*up,4,0,
                DR_SMS,DST_1002,RT_SMS,*up,4,0,
            """,
            "RatingPlans": """
                RP_DATA,DR_DATA,*any,10
                RP_SMS,DR_SMS,*any,10
            """,
            "RatingProfiles": """
                cgrates.org,data,*any,2014-01-01T00:00:00Z,RP_DATA,
                cgrates.org,sms,*any,2014-01-01T00:00:00Z,RP_SMS,
            """,
        },
    )
    start = at("2024-01-12T23:59:59")  # a data session's units ignore midnight and timings
    # 2500 units in 1024-unit steps → 3 steps (3072 units) x 1 = 3
    cd = CallDescriptor.new(
        tenant=T, category="data", subject="1001", destination="", answer_time=start, usage=2500, tor="*data"
    )
    cc = await get_cost(rater, cd)
    assert cc.Cost == Decimal("3")
    assert cc.get_duration() == 3072
    assert len(cc.Timespans) == 1
    # 3 SMS x 0.1 = 0.3
    assert await cost(rater, "1001", "1002", start, 3, category="sms", tor="*sms") == Decimal("0.3")


async def test_increments_walk_one_by_one(tmp_path):
    rater = await plan(
        tmp_path,
        {
            "Destinations": "DST_1002,1002",
            "Rates": "RT_1,0.4,0.6,60s,1s,0s",
            "DestinationRates": "DR_1,DST_1002,RT_1,*up,4,0,",
            "RatingPlans": "RP_1,DR_1,*any,10",
            "RatingProfiles": PROFILE,
        },
    )
    cd = CallDescriptor.new(
        tenant=T,
        category="call",
        subject="1001",
        destination="1002",
        answer_time=at("2024-01-08T10:00:00"),
        usage=5 * S,
    )
    cc = await get_cost(rater, cd)
    # connect fee step (0s, 0.4) then five 1s steps of 0.01 → 0.45
    singles = list(iter_increments(cc.Timespans[0].increments))
    assert [(i.duration, i.cost) for i in singles] == [(0, Decimal("0.4"))] + [(S, Decimal("0.01"))] * 5
    assert cc.Cost == Decimal("0.45")
    # a later part of the same call (LoopIndex 1) pays no connect fee: 0.05
    cd = CallDescriptor.new(
        tenant=T,
        category="call",
        subject="1001",
        destination="1002",
        answer_time=at("2024-01-08T10:00:00"),
        usage=5 * S,
    )
    cd.LoopIndex = 1
    assert (await get_cost(rater, cd)).Cost == Decimal("0.05")


async def test_max_computed_usage(tmp_path):
    rater = await plan(
        tmp_path,
        {
            "Destinations": "DST_1002,1002",
            "Rates": "RT_1,0,0.6,60s,1s,0s",
            "DestinationRates": "DR_1,DST_1002,RT_1,*up,4,0,",
            "RatingPlans": "RP_1,DR_1,*any,10",
            "RatingProfiles": PROFILE,
        },
        max_computed_usage={"*any": 10 * M, "*voice": 5 * M},
    )
    with pytest.raises(RatingError) as err:
        await cost(rater, "1001", "1002", at("2024-01-08T10:00:00"), 6 * M)
    assert err.value.code == "MAX_USAGE_EXCEEDED"
    # 5 minutes is allowed: 300 x 0.01 = 3
    assert await cost(rater, "1001", "1002", at("2024-01-08T10:00:00"), 5 * M) == Decimal("3")


def test_call_cost_json_round_trip_and_event_cost_accounting():
    """A RALs reply (CallCost JSON) read back gives the same JSON, and its EventCost names who paid."""
    from pycgrates.engine.rating.callcost import CallCost, event_cost_from_json

    reply = {
        "Category": "call", "Tenant": "cgrates.org", "Subject": "1001", "Account": "1001", "Destination": "1004",
        "ToR": "*voice", "Cost": 1.2, "RatedUsage": 60_000_000_000, "AccountSummary": None,
        "Timespans": [{
            "TimeStart": "2016-01-05T18:31:05Z", "TimeEnd": "2016-01-05T18:32:05.000000001Z", "Cost": 1.2,
            "RateInterval": {"Timing": None, "Rating": {"ConnectFee": 0.8, "RoundingMethod": "*up",
                                                         "RoundingDecimals": 4, "MaxCost": 0, "MaxCostStrategy": "",
                                                         "Rates": [{"GroupIntervalStart": 0, "Value": 0.4,
                                                                    "RateIncrement": 30_000_000_000,
                                                                    "RateUnit": 60_000_000_000}]}, "Weight": 10},
            "DurationIndex": 60_000_000_000, "RoundIncrement": None, "MatchedSubject": "s", "MatchedPrefix": "10",
            "MatchedDestId": "DST_FS", "RatingPlanId": "RP", "CompressFactor": 1,
            "Increments": [
                {"Duration": 0, "Cost": 0.8, "CompressFactor": 1,
                 "BalanceInfo": {"Unit": None, "Monetary": {"UUID": "m1", "ID": "MAIN"}, "AccountID": "t:1001"}},
                {"Duration": 30_000_000_000, "Cost": 0.2, "CompressFactor": 2,
                 "BalanceInfo": {"Unit": None, "Monetary": {"UUID": "m1", "ID": "MAIN"}, "AccountID": "t:1001"}},
            ]}],
    }
    assert CallCost.from_json(reply).to_json() == reply
    ec = event_cost_from_json(reply, "cg1", "*default")
    assert ec["Usage"] == 60_000_000_000 and ec["Cost"] == 1.2
    charged = [(inc["Cost"], inc["CompressFactor"], ec["Accounting"][inc["AccountingID"]])
               for inc in ec["Charges"][0]["Increments"]]
    assert [(c, n, a["BalanceUUID"], a["Units"]) for c, n, a in charged] == [(0.8, 1, "m1", 0.8), (0.2, 2, "m1", 0.2)]
