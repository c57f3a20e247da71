"""The ProfileService base: matching (index, weights, blockers, activation, explicit IDs, limit), decoding once, and
the APIerSv1 methods it generates for a profile type declared the way ThresholdS will declare its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.filters.rules import ActivationInterval, activation_json, parse_activation_interval
from pycgrates.engine.filters.service import FilterService
from pycgrates.engine.profiles.base import ProfileService, json_number, str_list
from pycgrates.engine.profiles.crud import CrudSpec, paginate
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry
from pycgrates.engine.storage.base import THRESHOLD_PROFILE, MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager

TENANT = "cgrates.org"


@dataclass(slots=True)
class ThresholdLike:
    tenant: str
    id: str
    filter_ids: tuple[str, ...]
    activation: ActivationInterval | None
    weight: float
    blocker: bool

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "FilterIDs": list(self.filter_ids),
                "ActivationInterval": activation_json(self.activation), "Blocker": self.blocker,
                "Weight": json_number(self.weight)}


class ThresholdLikeService(ProfileService[ThresholdLike]):
    crud = CrudSpec("ThresholdProfile", THRESHOLD_PROFILE, console="thresholds_profile", count=True)
    index = "*threshold_filter_indexes"
    profile_ids_opts = ("*thdProfileIDs", "ThresholdIDs")
    ignore_filters_opts = ("*thdProfileIgnoreFilters",)
    decoded = 0

    def decode(self, raw: dict) -> ThresholdLike:
        ThresholdLikeService.decoded += 1
        weight = raw.get("Weight") or 0
        if not isinstance(weight, int | float):
            raise ValueError(f"Weight {weight!r} is not a number")
        return ThresholdLike(raw.get("Tenant") or "", raw.get("ID") or "", str_list(raw.get("FilterIDs")),
                             parse_activation_interval(raw.get("ActivationInterval")), float(weight),
                             bool(raw.get("Blocker")))


@pytest.fixture
def ctx() -> EngineContext:
    registry = Registry()
    ctx = EngineContext(cfg=config_from_dict({}), dm=DataManager(MemoryDataDB(), Cache()), stordb=None,
                        registry=registry, conns=ConnManager(Dispatcher(registry), {}))
    ctx.services["filters"] = FilterService(ctx)
    return ctx


@pytest.fixture
def svc(ctx) -> ThresholdLikeService:
    service = ThresholdLikeService(ctx)
    ctx.registry.register_object(service)
    return service


async def add(svc: ThresholdLikeService, pid: str, weight: float = 0, filters: Any = ("*string:~*req.Account:1001",),
              **extra: Any) -> None:
    await svc.set_profile({"Tenant": TENANT, "ID": pid, "FilterIDs": list(filters), "Weight": weight, **extra})


def event(time: str | None = None, **opts: Any) -> dict:
    return {"Tenant": TENANT, "ID": "e1", "Time": time, "Event": {"Account": "1001"}, "APIOpts": opts}


async def ids(svc: ThresholdLikeService, args: dict, **kw: Any) -> list[str]:
    return [p.id for p in await svc.matching_for_event(args, **kw)]


async def test_heaviest_first_and_ties_by_id(svc):
    await add(svc, "B", 10)
    await add(svc, "A", 10)
    await add(svc, "HEAVY", 30)
    await add(svc, "LIGHT", 5)
    await add(svc, "OTHER", 99, filters=["*string:~*req.Account:2002"])
    assert await ids(svc, event()) == ["HEAVY", "A", "B", "LIGHT"]
    assert await ids(svc, event(), limit=2) == ["HEAVY", "A"]


async def test_a_blocker_ends_the_list_after_itself(svc):
    await add(svc, "FIRST", 30)
    await add(svc, "STOP", 20, Blocker=True)
    await add(svc, "NEVER", 10)
    assert await ids(svc, event()) == ["FIRST", "STOP"]
    assert await ids(svc, event(), blockers=False) == ["FIRST", "STOP", "NEVER"]


async def test_activation_interval_at_the_event_time(svc):
    await add(svc, "JANUARY", 10, ActivationInterval={"ActivationTime": "2024-01-01T00:00:00Z",
                                                       "ExpiryTime": "2024-02-01T00:00:00Z"})
    await add(svc, "ALWAYS", 0)
    assert await ids(svc, event("2024-01-15T10:00:00Z")) == ["JANUARY", "ALWAYS"]
    assert await ids(svc, event("2024-02-01T00:00:00Z")) == ["ALWAYS"]  # the expiry is exclusive
    assert await ids(svc, event()) == ["JANUARY", "ALWAYS"]  # no event time: the interval is not checked


async def test_explicit_ids_bypass_the_index_and_may_skip_filters(svc):
    await add(svc, "MINE", 10)
    await add(svc, "NOT_MINE", 20, filters=["*string:~*req.Account:2002"])
    assert await ids(svc, event(**{"*thdProfileIDs": ["NOT_MINE", "MINE"]})) == ["MINE"]
    assert await ids(svc, event(**{"*thdProfileIDs": ["NOT_MINE", "MISSING"], "*thdProfileIgnoreFilters": True})) \
        == ["NOT_MINE"]
    legacy = {**event(), "ThresholdIDs": ["NOT_MINE"]}  # the older top-level field
    with pytest.raises(RPCError, match=r"^NOT_FOUND$"):
        await svc.matching_for_event(legacy)
    # without explicit IDs the filters are always checked
    with pytest.raises(RPCError, match=r"^NOT_FOUND$"):
        await svc.matching_for_event({**event(**{"*thdProfileIgnoreFilters": True}), "Event": {"Account": "3003"}})


async def test_config_default_profile_ids(ctx, svc):
    await add(svc, "MINE", 10)
    await add(svc, "NOT_MINE", 20, filters=[])
    assert await ids(svc, event()) == ["NOT_MINE", "MINE"]
    ctx.cfg = config_from_dict({"thresholds": {"opts": {"*profileIDs": ["MINE"]}}})
    assert await ids(svc, event()) == ["MINE"]


async def test_stored_profiles_are_decoded_once_and_broken_ones_answer_server_error(ctx, svc):
    await add(svc, "P", 10)
    before = ThresholdLikeService.decoded
    first = await svc.get_profile(TENANT, "P")
    assert await svc.get_profile(TENANT, "P") is first
    assert ThresholdLikeService.decoded - before == 1
    await ctx.dm.set(THRESHOLD_PROFILE, f"{TENANT}:BROKEN", {"Tenant": TENANT, "ID": "BROKEN", "Weight": "x"})
    with pytest.raises(RPCError, match=r"^SERVER_ERROR: threshold profile cgrates.org:BROKEN: Weight 'x'"):
        await ctx.registry.dispatch("APIerSv1.GetThresholdProfile", {"ID": "BROKEN"})


async def test_a_declared_type_gets_cgrates_methods_and_console_commands(ctx, svc):
    call = ctx.registry.dispatch
    names = {m for m in ctx.registry.methods() if m.startswith("APIerSv1.")}
    assert names == {"APIerSv1.GetThresholdProfile", "APIerSv1.SetThresholdProfile",
                     "APIerSv1.RemoveThresholdProfile", "APIerSv1.GetThresholdProfileIDs",
                     "APIerSv1.GetThresholdProfileCount"}
    assert set(ThresholdLikeService.crud.console_commands()) == {
        "thresholds_profile", "thresholds_profile_set", "thresholds_profile_remove", "thresholds_profile_ids"}
    assert await call("APIerSv1.SetThresholdProfile", {"ID": "T1", "FilterIDs": ["*string:~*req.Account:1001"],
                                                       "Weight": 20, "APIOpts": {}}) == "OK"
    assert await call("APIerSv1.GetThresholdProfile", {"ID": "T1"}) == {
        "Tenant": TENANT, "ID": "T1", "FilterIDs": ["*string:~*req.Account:1001"], "ActivationInterval": None,
        "Blocker": False, "Weight": 20}
    assert await call("APIerSv1.GetThresholdProfileCount", {}) == 1
    assert await ids(svc, event()) == ["T1"]  # indexed on the way in
    assert await call("APIerSv1.RemoveThresholdProfile", {"ID": "T1"}) == "OK"
    with pytest.raises(RPCError, match=r"^NOT_FOUND$"):
        await svc.matching_for_event(event())
    with pytest.raises(RPCError, match=r"^NOT_FOUND$"):
        await call("APIerSv1.GetThresholdProfileCount", {})


def test_pagination_as_cgrates():
    items = ["a", "b", "c", "d"]
    assert paginate(items, {}) == items
    assert paginate(items, {"Limit": 2}) == ["a", "b"]
    assert paginate(items, {"Limit": 2, "Offset": 3}) == ["d"]
    assert paginate(items, {"Offset": 1}) == ["b", "c", "d"]
    assert paginate(items, {"Offset": 4}) == []
    assert paginate(items, {"Offset": 5}) is None  # Go's nil slice: null on the wire
