"""CGRateS's reference tariff plans load unchanged and give CGRateS's costs through APIerSv1.GetCost."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pycgrates.engine.config import config_from_dict
from pycgrates.engine.loader.tariffplan import load_tariff_plan
from pycgrates.engine.rating.service import RatingService
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from tests.conftest import shared_data


async def service_for(plan: str) -> RatingService:
    dm = DataManager(MemoryDataDB(), Cache.from_config({}))
    await load_tariff_plan(dm, shared_data("tariffplans", plan))
    return RatingService(SimpleNamespace(dm=dm, cfg=config_from_dict({"general": {"default_timezone": "UTC"}})))


async def get_cost(svc: RatingService, **args) -> float:
    return (await svc.apier_get_cost(args))["Cost"]


@pytest.mark.parametrize("plan", ["tutorial", "tutorial2", "oldtutorial", "tut_sip_redirect", "dnsagent"])
async def test_reference_plans_load(plan):
    await service_for(plan)


async def test_tutorial():
    svc = await service_for("tutorial")
    # RP_1001 (activated 2014, after RP_1002's 2010) rates DST_1002 with RT_20CNT:
    # 0.4 connect + 0.2 first minute + 70 x round(0.1/60, 5) = 70 x 0.00167 = 0.1169 → 0.7169
    cost = await get_cost(
        svc,
        Tenant="cgrates.org",
        Category="call",
        Subject="1001",
        Destination="1002",
        AnswerTime="*now",
        Usage="2m10s",
    )
    assert cost == 0.7169
    # 2m: 0.4 + 0.2 + 60 x 0.00167 = 0.7002 (CGRateS's 0.700200)
    cost = await get_cost(
        svc,
        Tenant="cgrates.org",
        Category="call",
        Subject="1001",
        Destination="1002",
        AnswerTime="*now",
        Usage="120000000000",
    )
    assert cost == 0.7002
    # 1002 → 1001 on RP_1002 (RT_20CNT): 0.4 + 0.2 = 0.6 for a minute
    assert await get_cost(svc, Subject="1002", Destination="1001", AnswerTime="*now", Usage="1m") == 0.6
    # DR_1003_MAXCOST_DISC: 0.01 per second, *disconnect does not cap the cost asked: 20 x 0.01 = 0.2
    assert await get_cost(svc, Subject="1001", Destination="1003", AnswerTime="*now", Usage="20s") == 0.2
    # sms *any subject: 0.01 per unit, 5 units = 0.05
    assert await get_cost(svc, Category="sms", Subject="1001", Destination="1002", AnswerTime="*now", Usage="5") == 0.05


async def test_tutorial2():
    svc = await service_for("tutorial2")
    # standard pricing 1001→1002 (RP_1001, RT_60C): 0.1 + 45 x 0.01 = 0.55
    assert await get_cost(svc, Subject="1001", Destination="1002", AnswerTime="*now", Usage="45s") == 0.55
    # fallback to *any (RP_STANDARD), Monday 09:00 PEAK on DST_10 (RT_120C): 0.2 + 1.2 (45s → a whole minute)
    assert (
        await get_cost(svc, Subject="1001", Destination="1003", AnswerTime="2019-03-11T09:00:00Z", Usage="45s") == 1.4
    )
    # Monday 21:00: OFFPEAK_EVENING (19:00) is closer than PEAK (08:00): RT_60C 0.1 + 0.45 = 0.55
    assert (
        await get_cost(svc, Subject="1001", Destination="1003", AnswerTime="2019-03-11T21:00:00Z", Usage="45s") == 0.55
    )
    # *any to 2001: DST_20 (weight 20) applies only on NEW_YEAR, so DST_2030 (RT_120C) → 1.4
    assert (
        await get_cost(svc, Subject="1002", Destination="2001", AnswerTime="2019-03-11T10:00:00Z", Usage="45s") == 1.4
    )
    # on NEW_YEAR: DST_20 with RT_60C → 0.55
    assert (
        await get_cost(svc, Subject="1002", Destination="2001", AnswerTime="2020-01-01T21:00:00Z", Usage="45s") == 0.55
    )
    with pytest.raises(RPCError) as err:
        await get_cost(svc, Subject="1001", Destination="4003", AnswerTime="2019-03-11T09:00:00Z", Usage="1m")
    assert err.value.message == "SERVER_ERROR: UNAUTHORIZED_DESTINATION"
    # data: 2048 units at 1 per 1024 → 2
    assert await get_cost(svc, Category="data", Subject="1001", AnswerTime="*now", Usage="2048") == 2
    # sms to 1002 (0.1 per unit) and to 10xx (0.2 per unit); none to 2001
    assert await get_cost(svc, Category="sms", Subject="1003", Destination="1002", AnswerTime="*now", Usage="1") == 0.1
    assert await get_cost(svc, Category="sms", Subject="1001", Destination="1003", AnswerTime="*now", Usage="1") == 0.2
    with pytest.raises(RPCError) as err:
        await get_cost(svc, Category="sms", Subject="1001", Destination="2001", AnswerTime="*now", Usage="1")
    assert err.value.message == "SERVER_ERROR: UNAUTHORIZED_DESTINATION"
    # per call charges: connect fee only
    assert await get_cost(svc, Subject="RPF_SPECIAL_BLC", Destination="1002", AnswerTime="*now", Usage="5m") == 0.1
    for usage in ("45s", "10m45s"):
        cost = await get_cost(
            svc, Category="reseller1", Subject="1001", Destination="1002", AnswerTime="*now", Usage=usage
        )
        assert cost == 0.1


async def test_oldtutorial():
    svc = await service_for("oldtutorial")
    monday_peak = "2024-01-08T10:00:00Z"
    # DR_1007_MAXCOST_FREE: 120 x 0.01 = 1.2, capped at 0.62
    assert await get_cost(svc, Subject="1001", Destination="1007", AnswerTime=monday_peak, Usage="2m") == 0.62
    # *any subject on RP_RETAIL1: DR_1007_MAXCOST_DISC, not capped → 1.2
    assert await get_cost(svc, Subject="1002", Destination="1007", AnswerTime=monday_peak, Usage="2m") == 1.2
    # RP_RETAIL2 PEAK, RT_20CNT: 0.4 + 0.2 + 30 x 0.00167 = 0.6501
    assert await get_cost(svc, Subject="1001", Destination="1002", AnswerTime=monday_peak, Usage="90s") == 0.6501
    # OFFPEAK_EVENING, RT_10CNT: 0.2 + 0.1 + 30 x round(0.05/60, 5) = 30 x 0.00083 = 0.0249 → 0.3249
    cost = await get_cost(svc, Subject="1001", Destination="1002", AnswerTime="2024-01-08T20:00:00Z", Usage="90s")
    assert cost == 0.3249
    # DST_1003 PEAK, RT_40CNT: 0.8 + 0.4 (first minute, two 30s steps) + 3 x 10s at 0.2/60 (0.03333 each)
    # = 1.29999 → *up 4 → 1.3
    assert await get_cost(svc, Subject="1001", Destination="1003", AnswerTime=monday_peak, Usage="90s") == 1.3
    # Saturday, *any subject, DST_FS OFFPEAK_WEEKEND RT_10CNT: 0.2 + 0.1 + 0.00083 = 0.30083 → 0.3009
    assert (
        await get_cost(svc, Subject="1002", Destination="1005", AnswerTime="2024-01-06T10:00:00Z", Usage="61s")
        == 0.3009
    )
    # generic category: 1 per unit
    assert await get_cost(svc, Category="generic", Subject="1001", AnswerTime="*now", Usage="10") == 10
    with pytest.raises(RPCError) as err:
        await get_cost(svc, Subject="1001", Destination="+49151123", AnswerTime=monday_peak, Usage="1m")
    assert err.value.message == "SERVER_ERROR: UNAUTHORIZED_DESTINATION"
