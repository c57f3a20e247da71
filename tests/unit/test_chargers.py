"""ChargerS: matching charger profiles, *default/*raw runs and reseller runs through AttributeS."""

from __future__ import annotations

from typing import Any

import pytest

from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.filters.service import FilterService
from pycgrates.engine.profiles.attributes import AttributeService
from pycgrates.engine.profiles.chargers import ChargerService
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager

TENANT = "cgrates.org"


def make_ctx(overrides: dict | None = None, with_attributes: bool = True) -> EngineContext:
    registry = Registry()
    ctx = EngineContext(cfg=config_from_dict(overrides or {}), dm=DataManager(MemoryDataDB(), Cache()),
                        stordb=None, registry=registry, conns=ConnManager(Dispatcher(registry), {}))
    ctx.services["filters"] = FilterService(ctx)
    if with_attributes:
        ctx.services["attributes"] = AttributeService(ctx)
        registry.register_object(ctx.services["attributes"])
    return ctx


@pytest.fixture
def ctx() -> EngineContext:
    return make_ctx({"chargers": {"attributes_conns": ["*internal"]}})


@pytest.fixture
def chargers(ctx) -> ChargerService:
    svc = ChargerService(ctx)
    ctx.registry.register_object(svc)
    return svc


async def add(svc: ChargerService, pid: str, run_id: str, attribute_ids: list[str], *, filters: Any = (),
              weight: float = 0, **extra: Any) -> None:
    await svc.set_profile({"Tenant": TENANT, "ID": pid, "FilterIDs": list(filters), "RunID": run_id,
                           "AttributeIDs": attribute_ids, "Weight": weight, **extra})


def event(**fields: Any) -> dict:
    return {"Tenant": TENANT, "ID": "ev1",
            "Event": {"Account": "1001", "Destination": "1002", "RequestType": "*prepaid", **fields},
            "APIOpts": {}}


async def test_tutorial_default_and_raw_runs(chargers):
    await add(chargers, "DEFAULT", "*default", ["*none"])
    await add(chargers, "Raw", "*raw", ["*constant:*req.RequestType:*none"])
    replies = await chargers.v1_process_event(event())
    assert [r["ChargerSProfile"] for r in replies] == ["DEFAULT", "Raw"]
    default, raw = replies
    assert default == {"ChargerSProfile": "DEFAULT", "AttributeSProfiles": None, "AlteredFields": ["*req.RunID"],
                       "CGREvent": {"Tenant": TENANT, "ID": "ev1", "Time": None,
                                    "Event": {"Account": "1001", "Destination": "1002", "RequestType": "*prepaid",
                                              "RunID": "*default"},
                                    "APIOpts": {"*subsys": "*chargers"}}}
    assert raw["AttributeSProfiles"] == ["*constant:*req.RequestType:*none"]
    assert raw["AlteredFields"] == ["*req.RunID", "*req.RequestType"]
    assert raw["CGREvent"]["Event"]["RequestType"] == "*none"
    assert raw["CGREvent"]["Event"]["RunID"] == "*raw"
    assert raw["CGREvent"]["APIOpts"] == {"*subsys": "*chargers"}


async def test_reseller_run_with_attribute_profiles(ctx, chargers):
    attrs: AttributeService = ctx.services["attributes"]
    await attrs.set_profile({"Tenant": TENANT, "ID": "ATTR_RESELLER", "Contexts": ["*chargers"],
                             "FilterIDs": ["*string:~*req.RunID:reseller1"],
                             "Attributes": [{"Path": "*req.Subject", "Type": "*constant", "Value": "reseller1"},
                                            {"Path": "*req.Category", "Type": "*constant", "Value": "wholesale"}],
                             "Weight": 10})
    await add(chargers, "RESELLER", "reseller1", [], filters=["*prefix:~*req.Destination:10"], weight=20)
    await add(chargers, "DEFAULT", "*default", ["*none"], weight=10)
    replies = await chargers.v1_process_event(event(Subject="1001"))
    assert [r["ChargerSProfile"] for r in replies] == ["RESELLER", "DEFAULT"]
    res = replies[0]
    assert res["AttributeSProfiles"] == ["cgrates.org:ATTR_RESELLER"]
    assert res["CGREvent"]["Event"]["Subject"] == "reseller1"
    assert res["CGREvent"]["Event"]["Category"] == "wholesale"
    assert res["AlteredFields"] == ["*req.RunID", "*req.Subject", "*req.Category"]
    assert replies[1]["CGREvent"]["Event"]["Subject"] == "1001"


async def test_attribute_not_found_keeps_the_run(chargers):
    await add(chargers, "RUN", "run1", [])
    replies = await chargers.v1_process_event(event())
    assert replies[0]["AttributeSProfiles"] is None
    assert replies[0]["CGREvent"]["Event"]["RunID"] == "run1"


async def test_filters_weights_and_activation(chargers):
    await add(chargers, "ONLY_1002", "r2", ["*none"], filters=["*string:~*req.Account:1002"], weight=30)
    await add(chargers, "HEAVY", "r1", ["*none"], weight=20)
    await add(chargers, "LIGHT", "r0", ["*none"], weight=5)
    await add(chargers, "EXPIRED", "old", ["*none"], weight=50,
              ActivationInterval={"ActivationTime": "2010-01-01T00:00:00Z", "ExpiryTime": "2011-01-01T00:00:00Z"})
    got = await chargers.get_chargers_for_event(event())
    assert [p["ID"] for p in got] == ["EXPIRED", "HEAVY", "LIGHT"]
    ev = event()
    ev["Time"] = "2014-07-29T15:00:00Z"
    got = await chargers.get_chargers_for_event(ev)
    assert [p["ID"] for p in got] == ["HEAVY", "LIGHT"]
    assert got[0] == {"Tenant": TENANT, "ID": "HEAVY", "FilterIDs": [], "ActivationInterval": None, "RunID": "r1",
                      "AttributeIDs": ["*none"], "Weight": 20}


async def test_not_found_and_mandatory_event(chargers):
    await add(chargers, "ONLY_1002", "r2", ["*none"], filters=["*string:~*req.Account:1002"])
    with pytest.raises(RPCError) as exc:
        await chargers.v1_process_event(event())
    assert exc.value.message == "NOT_FOUND"
    with pytest.raises(RPCError) as exc:
        await chargers.get_chargers_for_event(event())
    assert exc.value.message == "NOT_FOUND"
    with pytest.raises(RPCError) as exc:
        await chargers.v1_process_event({"Tenant": TENANT})
    assert exc.value.message == "MANDATORY_IE_MISSING: [Event]"


async def test_attribute_ids_need_a_connection():
    ctx = make_ctx(with_attributes=False)
    svc = ChargerService(ctx)
    await svc.set_profile({"Tenant": TENANT, "ID": "Raw", "RunID": "*raw",
                           "AttributeIDs": ["*constant:*req.RequestType:*none"]})
    with pytest.raises(RPCError) as exc:
        await svc.v1_process_event(event())
    assert "chargers.attributes_conns" in exc.value.message


async def test_rpc_names(ctx, chargers):
    assert {"ChargerSv1.Ping", "ChargerSv1.ProcessEvent", "ChargerSv1.GetChargersForEvent"} <= set(
        ctx.registry.methods())
    assert await ctx.registry.dispatch("ChargerSv1.Ping", {}) == "Pong"
