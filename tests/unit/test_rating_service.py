"""The rating RPC surface: APIerSv1.GetCost (EventCost), Responder.GetCost (CallCost), rating data APIs, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from pycgrates.engine.config import config_from_dict
from pycgrates.engine.loader.tariffplan import load_tariff_plan
from pycgrates.engine.rating.service import RatingService
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager

S = 10**9

FILES = {
    "Destinations": """
        DST_1002,1002
        DST_1003,1003
    """,
    "Rates": """
        RT_20CNT,0.4,0.2,60s,60s,0s
        RT_20CNT,0,0.1,60s,1s,60s
    """,
    "DestinationRates": "DR_1002,DST_1002,RT_20CNT,*up,4,0,",
    "RatingPlans": "RP_1001,DR_1002,*any,10",
    "RatingProfiles": "cgrates.org,call,1001,2014-01-14T00:00:00Z,RP_1001,",
}


@pytest.fixture
async def svc(tmp_path: Path) -> RatingService:
    for name, text in FILES.items():
        (tmp_path / f"{name}.csv").write_text(textwrap.dedent(text).strip() + "\n")
    dm = DataManager(MemoryDataDB(), Cache.from_config({}))
    await load_tariff_plan(dm, tmp_path)
    ctx = SimpleNamespace(dm=dm, cfg=config_from_dict({"general": {"default_timezone": "UTC"}}))
    return RatingService(ctx)


def test_registers_its_methods():
    reg = Registry()
    ctx = SimpleNamespace(dm=DataManager(MemoryDataDB(), Cache.from_config({})), cfg=config_from_dict({}))
    names = reg.register_object(RatingService(ctx))
    for name in (
        "APIerSv1.GetCost",
        "Responder.GetCost",
        "APIerSv1.GetRatingProfile",
        "APIerSv1.SetRatingProfile",
        "APIerSv1.RemoveRatingProfile",
        "APIerSv1.GetRatingPlan",
        "APIerSv1.GetDestination",
        "APIerSv1.SetDestination",
    ):
        assert name in names


async def test_apier_get_cost_event_cost(svc):
    ec = await svc.apier_get_cost(
        {
            "Tenant": "cgrates.org",
            "Category": "call",
            "Subject": "1001",
            "Destination": "1002",
            "AnswerTime": "2024-01-08T10:00:00Z",
            "Usage": "2m10s",
        }
    )
    # 0.4 connect + 0.2 first minute + 70 x round(0.1/60, 5) = 70 x 0.00167 = 0.1169 → 0.7169
    assert ec["Cost"] == 0.7169
    assert ec["Usage"] == 130 * S
    assert ec["StartTime"] == "2024-01-08T10:00:00Z"
    first, second = ec["Charges"]
    assert first["Increments"] == [
        {"Usage": 0, "Cost": 0.4, "AccountingID": "", "CompressFactor": 1},
        {"Usage": 60 * S, "Cost": 0.2, "AccountingID": "", "CompressFactor": 1},
    ]
    assert second["Increments"] == [{"Usage": S, "Cost": 0.00167, "AccountingID": "", "CompressFactor": 70}]
    rating = ec["Rating"][first["RatingID"]]
    assert rating["ConnectFee"] == 0.4 and rating["RoundingMethod"] == "*up" and rating["RoundingDecimals"] == 4
    assert ec["RatingFilters"][rating["RatingFiltersID"]] == {
        "DestinationID": "DST_1002",
        "DestinationPrefix": "1002",
        "RatingPlanID": "RP_1001",
        "Subject": "*out:cgrates.org:call:1001",
    }
    assert len(ec["Rates"][rating["RatesID"]]) == 2
    assert ec["Timings"][rating["TimingID"]]["StartTime"] == "00:00:00"


async def test_get_cost_defaults_and_errors(svc):
    # tenant and category from the config defaults; usage in nanoseconds
    ec = await svc.apier_get_cost({"Subject": "1001", "Destination": "1002", "AnswerTime": "*now", "Usage": 60 * S})
    assert ec["Cost"] == 0.6
    with pytest.raises(RPCError) as err:
        await svc.apier_get_cost({"Subject": "1001", "Destination": "1003", "AnswerTime": "*now", "Usage": "1m"})
    assert err.value.message == "SERVER_ERROR: UNAUTHORIZED_DESTINATION"
    with pytest.raises(RPCError) as err:
        await svc.apier_get_cost({"Subject": "1009", "Destination": "1002", "Usage": "1m"})
    assert err.value.message == "SERVER_ERROR: RATING_PLAN_NOT_FOUND"


async def test_responder_get_cost_call_cost(svc):
    cc = await svc.responder_get_cost(
        {
            "Tenant": "cgrates.org",
            "Category": "call",
            "Account": "1001",
            "Destination": "1002",
            "TimeStart": "2024-01-08T10:00:00Z",
            "TimeEnd": "2024-01-08T10:02:00Z",
        }
    )
    # subject taken from the account; 0.4 + 0.2 + 60 x 0.00167 = 0.7002
    assert cc["Cost"] == 0.7002
    assert cc["Subject"] == "1001"
    assert [ts["DurationIndex"] for ts in cc["Timespans"]] == [60 * S, 120 * S]
    assert cc["Timespans"][0]["MatchedDestId"] == "DST_1002"
    assert cc["Timespans"][1]["Increments"][0]["CompressFactor"] == 60
    assert cc["Timespans"][0]["RateInterval"]["Rating"]["ConnectFee"] == 0.4


async def test_rating_profiles(svc):
    rpf = await svc.get_rating_profile({"Tenant": "cgrates.org", "Category": "call", "Subject": "1001"})
    assert rpf == {
        "Id": "*out:cgrates.org:call:1001",
        "RatingPlanActivations": [
            {"ActivationTime": "2014-01-14T00:00:00Z", "RatingPlanId": "RP_1001", "FallbackKeys": []}
        ],
    }
    with pytest.raises(RPCError) as err:
        await svc.get_rating_profile({"Category": "call"})
    assert err.value.message == "MANDATORY_IE_MISSING: [Subject]"
    with pytest.raises(RPCError) as err:
        await svc.get_rating_profile({"Category": "call", "Subject": "nobody"})
    assert err.value.message == "NOT_FOUND"

    reply = await svc.set_rating_profile(
        {
            "Category": "call",
            "Subject": "1005",
            "RatingPlanActivations": [
                {"ActivationTime": "2024-01-01T00:00:00Z", "RatingPlanId": "RP_1001", "FallbackSubjects": "1001;*any"}
            ],
        }
    )
    assert reply == "OK"
    rpf = await svc.get_rating_profile({"Category": "call", "Subject": "1005"})
    assert rpf["RatingPlanActivations"][0]["FallbackKeys"] == [
        "*out:cgrates.org:call:1001",
        "*out:cgrates.org:call:*any",
    ]
    ec = await svc.apier_get_cost(
        {"Subject": "1005", "Destination": "1002", "AnswerTime": "2024-02-01T00:00:00Z", "Usage": "1m"}
    )
    assert ec["Cost"] == 0.6
    with pytest.raises(RPCError) as err:
        await svc.set_rating_profile(
            {
                "Category": "call",
                "Subject": "1005",
                "RatingPlanActivations": [{"ActivationTime": "2024-01-01T00:00:00Z", "RatingPlanId": "RP_NONE"}],
            }
        )
    assert err.value.message == "NOT_FOUND:RatingPlanId:RP_NONE"
    with pytest.raises(RPCError) as err:
        await svc.set_rating_profile(
            {"Category": "call", "Subject": "1005", "RatingPlanActivations": [{"RatingPlanId": "RP_1001"}]}
        )
    assert err.value.message == "MANDATORY_IE_MISSING:RatingPlanActivation:[ActivationTime]"
    with pytest.raises(RPCError) as err:
        await svc.set_rating_profile({"Category": "call", "Subject": "1005"})
    assert err.value.message == "MANDATORY_IE_MISSING: [RatingPlanActivations]"

    assert await svc.remove_rating_profile({"Category": "call", "Subject": "1005"}) == "OK"
    with pytest.raises(RPCError) as err:
        await svc.remove_rating_profile({"Category": "call", "Subject": "1005"})
    assert err.value.message == "NOT_FOUND"
    with pytest.raises(RPCError):
        await svc.get_rating_profile({"Category": "call", "Subject": "1005"})


async def test_rating_plan_and_destinations(svc):
    plan = await svc.get_rating_plan("RP_1001")
    assert plan["Id"] == "RP_1001"
    (binding,) = plan["DestinationRates"]["DST_1002"]
    rating = plan["Ratings"][binding["Rating"]]
    assert rating["Rates"] == [
        {"GroupIntervalStart": 0, "Value": 0.2, "RateIncrement": 60 * S, "RateUnit": 60 * S},
        {"GroupIntervalStart": 60 * S, "Value": 0.1, "RateIncrement": S, "RateUnit": 60 * S},
    ]
    assert plan["Timings"][binding["Timing"]]["StartTime"] == "00:00:00"
    with pytest.raises(RPCError) as err:
        await svc.get_rating_plan("RP_NONE")
    assert err.value.message == "NOT_FOUND"

    assert await svc.get_destination("DST_1002") == {"Id": "DST_1002", "Prefixes": ["1002"]}
    with pytest.raises(RPCError) as err:
        await svc.set_destination({"Id": "DST_1002", "Prefixes": ["10020"]})
    assert err.value.message == "EXISTS"
    with pytest.raises(RPCError) as err:
        await svc.set_destination({"Id": "DST_X"})
    assert err.value.message == "MANDATORY_IE_MISSING: [Prefixes]"
    # moving DST_1002 to another prefix updates the prefix index
    assert await svc.set_destination({"Id": "DST_1002", "Prefixes": ["2002"], "Overwrite": True}) == "OK"
    assert await svc.get_reverse_destination("2002") == ["DST_1002"]
    with pytest.raises(RPCError):
        await svc.get_reverse_destination("1002")
    ec = await svc.apier_get_cost({"Subject": "1001", "Destination": "20025", "Usage": "1m"})
    assert ec["Cost"] == 0.6
    assert await svc.reverse_destinations("20025") == [("2002", ["DST_1002"])]
    assert await svc.remove_destination({"DestinationIDs": ["DST_1002"]}) == "OK"
    with pytest.raises(RPCError) as err:
        await svc.get_destination("DST_1002")
    assert err.value.message == "NOT_FOUND"
    with pytest.raises(RPCError) as err:
        await svc.apier_get_cost({"Subject": "1001", "Destination": "20025", "Usage": "1m"})
    assert err.value.message == "SERVER_ERROR: UNAUTHORIZED_DESTINATION"
