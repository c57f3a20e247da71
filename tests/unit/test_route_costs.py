"""What RALs answers RouteS about a route: the cost of a call on the route's own rating plans
(Responder.GetCostOnRatingPlans) and the usage its accounts cover (Responder.GetMaxSessionTimeOnAccounts).

Expected values from the tutorial and tut_sip_redirect CSVs (RT_10CNT: connect fee 0.2, 0.1 per minute in 60s
steps the first minute, then 0.05 per minute in 1s steps, each step rounded to 5 decimals; RT_20CNT: twice that).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from pycgrates.engine.accounts.service import AccountingService
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.loader.tariffplan import load_tariff_plan
from pycgrates.engine.rating.route_costs import RouteCostService
from pycgrates.engine.rating.service import RatingService
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from tests.conftest import shared_data

S = 10**9
SETUP = "2017-12-01T14:25:00Z"


async def rals_with(plan: str) -> tuple[EngineContext, RouteCostService]:
    registry = Registry()
    ctx = EngineContext(cfg=config_from_dict({}), dm=DataManager(MemoryDataDB(), Cache()), stordb=None,
                        registry=registry, conns=ConnManager(Dispatcher(registry), {}))
    for cls in (RatingService, AccountingService):
        registry.register_object(cls(ctx))
    svc = RouteCostService(ctx)
    registry.register_object(svc)
    await load_tariff_plan(ctx.dm, shared_data("tariffplans", plan), timezone="UTC")
    return ctx, svc


def on_plans(plans: list[str], usage: object = "2m", **extra: object) -> dict:
    return {"Tenant": "cgrates.org", "Account": "1002", "Subject": "1002", "Destination": "1001", "SetupTime": SETUP,
            "Usage": usage, "RatingPlanIDs": plans, "APIOpts": {}, **extra}


async def test_cost_on_the_route_plans_whatever_the_subject_profile():
    _, svc = await rals_with("tutorial")
    # 2m on RT_10CNT: 0.2 + 0.1 + 60 x 0.00083 = 0.3498
    assert await svc.get_cost_on_rating_plans(on_plans(["RP_1002_LOW"])) == {
        "Cost": Decimal("0.3498"), "RatingPlanID": "RP_1002_LOW"}
    # 1001's own rating profile (RP_1001) does not rate 1001: the route's plan does
    reply = await svc.get_cost_on_rating_plans(on_plans(["RP_1002"], Subject="1001", Account="1001"))
    assert reply == {"Cost": Decimal("0.7002"), "RatingPlanID": "RP_1002"}
    # usage in nanoseconds (the wire form), one minute: connect fee and the first step
    reply = await svc.get_cost_on_rating_plans(on_plans(["RP_1002_LOW"], usage=60 * S))
    assert reply["Cost"] == Decimal("0.3")


async def test_the_first_plan_decides_and_none_is_null():
    _, svc = await rals_with("tutorial")
    # RP_1001 does not rate 1001: CGRateS stops at that plan's error rather than trying the next one
    with pytest.raises(RPCError, match="UNAUTHORIZED_DESTINATION"):
        await svc.get_cost_on_rating_plans(on_plans(["RP_1001", "RP_1002"]))
    reply = await svc.get_cost_on_rating_plans(on_plans(["RP_1002", "RP_1001"]))
    assert reply == {"Cost": Decimal("0.7002"), "RatingPlanID": "RP_1002"}
    assert await svc.get_cost_on_rating_plans(on_plans([])) is None
    with pytest.raises(RPCError, match="UNAUTHORIZED_DESTINATION"):  # a plan that does not exist rates nothing
        await svc.get_cost_on_rating_plans(on_plans(["RP_NOSUCH"]))


def on_accounts(accounts: list[str], usage: object = "1m") -> dict:
    return {"Tenant": "cgrates.org", "Subject": "1001", "Destination": "1002", "SetupTime": SETUP, "Usage": usage,
            "AccountIDs": accounts, "APIOpts": {}}


async def test_usage_the_accounts_cover():
    ctx, svc = await rals_with("tut_sip_redirect")
    # ACT_TOPUP_RST_10 gives 1001 30s of *voice; nothing is debited by asking
    for _ in range(2):
        assert await svc.get_max_session_time_on_accounts(on_accounts(["1001"])) == {
            "MaxUsage": 30 * S, "Cost": 0, "Account": "1001"}
    assert (await svc.get_max_session_time_on_accounts(on_accounts(["1001"], "20s")))["MaxUsage"] == 20 * S
    # an account that cannot answer is skipped
    assert (await svc.get_max_session_time_on_accounts(on_accounts(["NOSUCH", "1002"])))["Account"] == "1002"
    assert await svc.get_max_session_time_on_accounts(on_accounts(["NOSUCH"])) is None
    # an account that may go negative covers anything: -1
    assert await ctx.conns.get(["*internal"]).call("APIerSv1.SetAccount", {
        "Tenant": "cgrates.org", "Account": "POSTPAID", "ExtraOptions": {"AllowNegative": True}}) == "OK"
    assert (await svc.get_max_session_time_on_accounts(on_accounts(["POSTPAID"])))["MaxUsage"] == -1


async def test_over_the_registry_with_cgrates_names():
    ctx, _ = await rals_with("tutorial")
    rals = ctx.conns.get(["*internal"])
    reply = await rals.call("Responder.GetCostOnRatingPlans", on_plans(["RP_1002"], usage=120 * S))
    assert reply == {"Cost": Decimal("0.7002"), "RatingPlanID": "RP_1002"}
    with pytest.raises(RPCError, match="SERVER_ERROR"):
        await rals.call("Responder.GetCostOnRatingPlans", on_plans(["RP_1002"], usage="two minutes"))
