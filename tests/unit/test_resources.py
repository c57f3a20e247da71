"""ResourceS: the usage bookkeeping on its own (the clock passed in), then the service in process over a real
FilterS and DataDB: option forms, TTLs, re-allocation, locking, store_interval, profile writes, threshold events
sent to a real JSON-RPC listener."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pycgrates.engine.cli.console import all_commands
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.filters.service import FilterService
from pycgrates.engine.metrics import Metrics
from pycgrates.engine.profiles.resources import (
    Claim,
    Resource,
    ResourceProfile,
    ResourceService,
    ResourceUsage,
    allocate,
    decode_resource,
    decode_resource_profile,
    release,
    usage_ttl,
)
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry, rpc
from pycgrates.engine.rpc.server import StreamServer
from pycgrates.engine.storage.base import RESOURCE, MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from pycgrates.engine.storage.internal import InternalDataDB
from pycgrates.engine.units import SECOND

T = "cgrates.org"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def prf(pid: str, limit: float, ttl: int = -1, message: str = "", **kw: Any) -> ResourceProfile:
    return ResourceProfile(T, pid, limit=limit, usage_ttl=ttl, allocation_message=message, **kw)


def claims(*profiles: ResourceProfile, option: int | None = None) -> list[Claim]:
    return [Claim(Resource(T, p.id), p, usage_ttl(option, p)) for p in profiles]


def usage(uid: str, units: float = 1) -> ResourceUsage:
    return ResourceUsage(T, uid, units)


# ---------------------------------------------------------------------------------------------------- bookkeeping


def test_limit_reached_then_freed_and_the_reply_is_the_message_or_the_id():
    [c] = claims(prf("RES", 3))
    assert [allocate([c], usage(f"u{i}"), T0, dry_run=False) for i in range(3)] == ["RES"] * 3
    with pytest.raises(RPCError, match=r"^RESOURCE_UNAVAILABLE$"):
        allocate([c], usage("u3"), T0, dry_run=False)
    release([c], "u1")
    assert allocate([c], usage("u3"), T0, dry_run=False) == "RES"
    assert sorted(c.resource.usages) == ["u0", "u2", "u3"] and c.resource.total_usage() == 3
    [m] = claims(prf("RES", 1, message="SPECIAL"))
    assert allocate([m], usage("u"), T0, dry_run=False) == "SPECIAL"


def test_reallocating_a_usage_replaces_it():
    [c] = claims(prf("RES", 3))
    allocate([c], usage("call", 2), T0, dry_run=False)
    allocate([c], usage("other", 1), T0, dry_run=False)
    # 3 of 3 taken: the same usage again with 2 units fits because its own 2 are given back first
    assert allocate([c], usage("call", 2), T0, dry_run=False) == "RES"
    assert c.resource.total_usage() == 3 and c.resource.usages["call"].units == 2
    # asking for more than fits leaves the earlier allocation as it was
    with pytest.raises(RPCError, match="RESOURCE_UNAVAILABLE"):
        allocate([c], usage("call", 3), T0, dry_run=False)
    assert c.resource.usages["call"].units == 2 and c.resource.total_usage() == 3


def test_authorize_simulates_and_counts_the_usage_already_held():
    [c] = claims(prf("RES", 3))
    allocate([c], usage("call", 2), T0, dry_run=False)
    assert allocate([c], usage("x", 1), T0, dry_run=True) == "RES"
    with pytest.raises(RPCError, match="RESOURCE_UNAVAILABLE"):
        allocate([c], usage("call", 2), T0, dry_run=True)  # no replacement when only simulating, as CGRateS
    assert list(c.resource.usages) == ["call"]


def test_first_resource_with_room_answers_and_every_resource_counts_the_usage():
    big, small = prf("BIG", 2, message="BIG_MSG", weight=20), prf("SMALL", 5, weight=10)
    cs = claims(big, small)
    assert allocate(cs, usage("a", 2), T0, dry_run=False) == "BIG_MSG"
    assert allocate(cs, usage("b", 2), T0, dry_run=False) == "SMALL"  # BIG full: the next one answers
    assert [c.resource.total_usage() for c in cs] == [4, 4]  # over BIG's limit: counted on all, as CGRateS
    with pytest.raises(RPCError, match="RESOURCE_UNAVAILABLE"):
        allocate(cs, usage("c", 2), T0, dry_run=False)
    assert [sorted(c.resource.usages) for c in cs] == [["a", "b"], ["a", "b"]]  # none took it
    with pytest.raises(RPCError, match="RESOURCE_UNAVAILABLE"):
        allocate([], usage("c"), T0, dry_run=False)


def test_unlimited_resource_always_has_room():
    [c] = claims(prf("RES", -1))
    for i in range(50):
        allocate([c], usage(f"u{i}", 10), T0, dry_run=False)
    assert c.resource.total_usage() == 500


def test_usages_expire_after_their_ttl():
    [c] = claims(prf("RES", 2, ttl=10 * SECOND))
    allocate([c], usage("a"), T0, dry_run=False)
    allocate([c], usage("b"), T0 + timedelta(seconds=5), dry_run=False)
    assert c.resource.usages["a"].expiry == T0 + timedelta(seconds=10)
    assert c.resource.ttl_idx == ["a", "b"]
    with pytest.raises(RPCError, match="RESOURCE_UNAVAILABLE"):
        allocate([c], usage("c"), T0 + timedelta(seconds=9.999), dry_run=False)
    assert allocate([c], usage("c"), T0 + timedelta(seconds=10), dry_run=False) == "RES"  # a expired
    assert sorted(c.resource.usages) == ["b", "c"] and c.resource.ttl_idx == ["b", "c"]
    assert c.resource.expire(T0 + timedelta(seconds=30)) and c.resource.usages == {} and c.resource.ttl_idx == []


def test_the_ttl_of_a_call():
    assert usage_ttl(None, prf("R", 1, ttl=5)) == 5
    assert usage_ttl(7, prf("R", 1, ttl=5)) == 7
    assert usage_ttl(0, prf("R", 1, ttl=5)) == 5  # 0 is no option
    assert usage_ttl(None, prf("R", 1, ttl=-1)) is None  # *unlimited: never expires
    assert usage_ttl(None, prf("R", 1, ttl=0)) == 0
    [zero] = claims(prf("R", 1, ttl=0))
    # a TTL of 0 answers but records nothing (CGRateS); its release finds nothing and that is no error
    assert allocate([zero], usage("a"), T0, dry_run=False) == "R" and zero.resource.usages == {}
    release([zero], "a")
    [never] = claims(prf("R", 1, ttl=-1))
    release([never], "nosuch")  # usages without a TTL: releasing an unknown one is no error either
    [timed] = claims(prf("R", 1, ttl=SECOND))
    with pytest.raises(RPCError, match=r"^cannot find usage record with id: nosuch$"):
        release([timed], "nosuch")


def test_json_shapes_round_trip():
    [c] = claims(prf("RES", 5, ttl=SECOND))
    assert c.resource.to_json() == {"Tenant": T, "ID": "RES", "Usages": {}, "TTLIdx": None}
    allocate([c], usage("a", 1.5), T0, dry_run=False)
    doc = c.resource.to_json()
    assert doc == {"Tenant": T, "ID": "RES", "TTLIdx": ["a"],
                   "Usages": {"a": {"Tenant": T, "ID": "a", "ExpiryTime": "2024-05-01T12:00:01Z", "Units": 1.5}}}
    assert decode_resource(doc).to_json() == doc
    [n] = claims(prf("RES", 5))
    allocate([n], usage("a", 2), T0, dry_run=False)
    assert n.resource.to_json()["Usages"]["a"] == {"Tenant": T, "ID": "a", "ExpiryTime": "0001-01-01T00:00:00Z",
                                                   "Units": 2}
    raw = {"Tenant": T, "ID": "R", "FilterIDs": ["FLTR_RES"], "ActivationInterval": None, "UsageTTL": -1,
           "Limit": 7, "AllocationMessage": "", "Blocker": False, "Stored": True, "Weight": 10,
           "ThresholdIDs": ["*none"]}
    assert decode_resource_profile(raw).to_json() == raw
    assert decode_resource_profile({**raw, "UsageTTL": "*unlimited"}).usage_ttl == -1
    assert decode_resource_profile({**raw, "UsageTTL": "1m"}).usage_ttl == 60 * SECOND
    with pytest.raises(ValueError, match="Limit"):
        decode_resource_profile({**raw, "Limit": "many"})


# ---------------------------------------------------------------------------------------------------- the service


class ThresholdPeer:
    """ThresholdS as a peer on a real JSON-RPC listener: records the events, answers as told."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.answer: str | None = None

    @rpc("ThresholdSv1.ProcessEvent")
    async def process_event(self, args: dict) -> list[str]:
        self.events.append(args)
        if self.answer:
            raise RPCError(self.answer)
        return ["TH1"]


@pytest.fixture
async def threshold_peer():
    peer = ThresholdPeer()
    reg = Registry()
    reg.register_object(peer)
    srv = StreamServer(Dispatcher(reg, Metrics()), "127.0.0.1", 0, name="rpc_json", max_message=1 << 20)
    await srv.start()
    peer.port = srv.port  # type: ignore[attr-defined]
    yield peer
    await srv.stop()


class Engine:
    """ResourceS in process: config, a real FilterS, a DataDB, the dispatcher its RPC methods are served by."""

    def __init__(self, dm: DataManager, section: dict | None = None, rpc_conns: dict | None = None) -> None:
        self.registry = Registry()
        self.dispatcher = Dispatcher(self.registry)
        cfg = config_from_dict({"resources": {"enabled": True, **(section or {})}, "rpc_conns": rpc_conns or {}})
        self.ctx = EngineContext(cfg=cfg, dm=dm, stordb=None, registry=self.registry,
                                 conns=ConnManager(self.dispatcher, rpc_conns or {}))
        self.ctx.services["filters"] = FilterService(self.ctx)
        self.rs = ResourceService(self.ctx)
        self.registry.register_object(self.rs)

    async def call(self, method: str, arg: Any) -> Any:
        result, error = await self.dispatcher.call(method, arg)
        if error is not None:
            raise RPCError(error)
        return result

    async def error(self, method: str, arg: Any) -> str:
        with pytest.raises(RPCError) as exc:
            await self.call(method, arg)
        return exc.value.message


def profile(pid: str, limit: float, **kw: Any) -> dict:
    return {"Tenant": T, "ID": pid, "FilterIDs": ["*string:~*req.Account:1001"], "ActivationInterval": None,
            "UsageTTL": -1, "Limit": limit, "AllocationMessage": "", "Blocker": False, "Stored": True,
            "Weight": 10, "ThresholdIDs": ["*none"], **kw}


def event(usage_id: str | None = None, units: float | None = None, account: str = "1001", **top: Any) -> dict:
    opts: dict[str, Any] = {}
    if usage_id is not None:
        opts["*rsUsageID"] = usage_id
    if units is not None:
        opts["*rsUnits"] = units
    return {"Tenant": T, "ID": "ev", "Event": {"Account": account}, "APIOpts": opts, **top}


async def new_engine(tmp_path, **kw: Any) -> Engine:
    return Engine(DataManager(InternalDataDB(tmp_path / "datadb"), Cache()), **kw)


async def test_option_forms_apiopts_v010_top_level_and_config_defaults(tmp_path):
    eng = await new_engine(tmp_path, section={"opts": {"*units": 2}})
    await eng.call("APIerSv1.SetResourceProfile", profile("RES", 6))
    assert await eng.call("ResourceSv1.AllocateResources", event("a")) == "RES"  # *units from config: 2
    assert await eng.call("ResourceSv1.AllocateResources", {**event(), "UsageID": "b", "Units": 3}) == "RES"
    got = await eng.call("ResourceSv1.GetResource", {"Tenant": T, "ID": "RES"})
    assert {k: u["Units"] for k, u in got["Usages"].items()} == {"a": 2, "b": 3}
    # APIOpts win over the v0.10 fields
    assert await eng.error("ResourceSv1.AllocateResources", {**event("c", 2), "Units": 1}) == "RESOURCE_UNAVAILABLE"
    assert await eng.error("ResourceSv1.AllocateResources", event()) == "MANDATORY_IE_MISSING: [UsageID]"
    assert await eng.error("ResourceSv1.AllocateResources", {"Tenant": T, "Event": {"A": 1}}) == \
        "MANDATORY_IE_MISSING: [ID]"
    assert await eng.error("ResourceSv1.AuthorizeResources", {"ID": "x", "Event": {}}) == \
        "MANDATORY_IE_MISSING: [Event]"
    assert await eng.error("ResourceSv1.ReleaseResources", None) == "MANDATORY_IE_MISSING: [Event]"
    assert (await eng.error("ResourceSv1.AllocateResources", event("d", "lots"))).startswith("SERVER_ERROR: *rsUnits")
    assert await eng.error("ResourceSv1.AllocateResources", event("d", account="2002")) == "NOT_FOUND"
    eng2 = await new_engine(tmp_path / "2", section={"opts": {"*usageID": "default-usage"}})
    await eng2.call("APIerSv1.SetResourceProfile", profile("RES", 1))
    assert await eng2.call("ResourceSv1.AllocateResources", event()) == "RES"
    assert list((await eng2.call("ResourceSv1.GetResource", {"ID": "RES"}))["Usages"]) == ["default-usage"]


async def test_call_ttl_from_apiopts_v010_field_and_config(tmp_path):
    eng = await new_engine(tmp_path, section={"opts": {"*usageTTL": "1h"}})
    await eng.call("APIerSv1.SetResourceProfile", profile("RES", 5, UsageTTL=60 * SECOND))
    await eng.call("ResourceSv1.AllocateResources", event("cfg"))
    await eng.call("ResourceSv1.AllocateResources", {**event("opt"), "APIOpts": {"*rsUsageID": "opt",
                                                                                 "*rsUsageTTL": "2h"}})
    await eng.call("ResourceSv1.AllocateResources", {**event("old"), "UsageTTL": 3 * 3600 * SECOND})
    await eng.call("ResourceSv1.AllocateResources", {**event("unl"), "APIOpts": {"*rsUsageID": "unl",
                                                                                 "*rsUsageTTL": "*unlimited"}})
    usages = (await eng.call("ResourceSv1.GetResource", {"ID": "RES"}))["Usages"]
    expiry = {k: datetime.fromisoformat(u["ExpiryTime"].replace("Z", "+00:00")) for k, u in usages.items()}
    now = datetime.now(UTC)
    hours = {k: round((v - now).total_seconds() / 3600) for k, v in expiry.items() if v.year > 1}
    assert hours == {"cfg": 1, "opt": 2, "old": 3}
    assert usages["unl"]["ExpiryTime"] == "0001-01-01T00:00:00Z"


async def test_usages_expire_in_the_service_too(tmp_path):
    eng = await new_engine(tmp_path)
    await eng.call("APIerSv1.SetResourceProfile", profile("RES", 1, UsageTTL=SECOND // 5))
    assert await eng.call("ResourceSv1.AllocateResources", event("a")) == "RES"
    assert await eng.error("ResourceSv1.AllocateResources", event("b")) == "RESOURCE_UNAVAILABLE"
    assert await eng.error("ResourceSv1.AuthorizeResources", event("b")) == "RESOURCE_UNAUTHORIZED"
    await asyncio.sleep(0.25)
    assert (await eng.call("ResourceSv1.GetResource", {"ID": "RES"}))["Usages"] == {}
    assert await eng.call("ResourceSv1.AllocateResources", event("b")) == "RES"


class RemoteDataDB(MemoryDataDB):
    """A DataDB whose every read and write waits on the network, as Redis does: concurrent calls interleave there."""

    async def get(self, kind: str, key: str) -> Any | None:
        await asyncio.sleep(0.001)
        return await super().get(kind, key)

    async def set(self, kind: str, key: str, value: Any) -> None:
        await asyncio.sleep(0.001)
        await super().set(kind, key, value)


async def test_concurrent_allocations_never_pass_the_limit():
    eng = Engine(DataManager(RemoteDataDB(), Cache()), section={"store_interval": -1})
    await eng.call("APIerSv1.SetResourceProfile", profile("RES_A", 10, Weight=20))
    await eng.call("APIerSv1.SetResourceProfile", profile("RES_B", 25, Weight=10))
    results = await asyncio.gather(*(eng.dispatcher.call("ResourceSv1.AllocateResources", event(f"u{i}"))
                                     for i in range(40)))
    replies = [r for r, _ in results]
    assert replies.count("RES_A") == 10 and replies.count("RES_B") == 15
    assert [e for _, e in results].count("RESOURCE_UNAVAILABLE") == 15
    for rid in ("RES_A", "RES_B"):
        assert len((await eng.call("ResourceSv1.GetResource", {"ID": rid}))["Usages"]) == 25


async def test_store_interval_period_and_at_stop(tmp_path):
    for interval, wait in (("50ms", 0.2), ("", 0)):
        path = tmp_path / f"db{interval}"
        dm = DataManager(InternalDataDB(path), Cache())
        eng = Engine(dm, section={"store_interval": interval})
        await eng.rs.start()
        await eng.call("APIerSv1.SetResourceProfile", profile("RES", 5))
        await eng.call("APIerSv1.SetResourceProfile", profile("VOLATILE", 5, Stored=False))
        await eng.call("ResourceSv1.AllocateResources", event("a", 2))
        if wait:
            await asyncio.sleep(wait)
            assert (await dm.datadb.get(RESOURCE, f"{T}:RES"))["Usages"]["a"]["Units"] == 2
        else:
            assert await dm.datadb.get(RESOURCE, f"{T}:RES") is None  # written at stop only
        await eng.rs.stop()
        assert await dm.datadb.get(RESOURCE, f"{T}:VOLATILE") is None  # not Stored: never written
        await dm.datadb.close()
        again = Engine(DataManager(InternalDataDB(path), Cache()))
        assert list((await again.call("ResourceSv1.GetResource", {"ID": "RES"}))["Usages"]) == ["a"]
        assert (await again.call("ResourceSv1.GetResource", {"ID": "VOLATILE"}))["Usages"] == {}
        await again.ctx.dm.datadb.close()


async def test_profile_writes_reset_or_keep_the_resource(tmp_path):
    eng = await new_engine(tmp_path, section={"store_interval": -1})
    await eng.call("APIerSv1.SetResourceProfile", profile("RES", 5))
    await eng.call("ResourceSv1.AllocateResources", event("a"))
    await eng.call("APIerSv1.SetResourceProfile", profile("RES", 5, Weight=30, AllocationMessage="M"))
    assert list((await eng.call("ResourceSv1.GetResource", {"ID": "RES"}))["Usages"]) == ["a"]  # kept
    await eng.call("APIerSv1.SetResourceProfile", profile("RES", 6))  # Limit changed: afresh
    assert (await eng.call("ResourceSv1.GetResource", {"ID": "RES"}))["Usages"] == {}
    assert await eng.ctx.dm.datadb.get(RESOURCE, f"{T}:RES") is None
    await eng.call("ResourceSv1.AllocateResources", event("b"))
    with_cfg = await eng.call("ResourceSv1.GetResourceWithConfig", {"ID": "RES"})
    assert with_cfg["Config"] == profile("RES", 6) and list(with_cfg["Usages"]) == ["b"]
    assert await eng.call("APIerSv1.RemoveResourceProfile", {"ID": "RES"}) == "OK"
    assert await eng.error("ResourceSv1.GetResource", {"ID": "RES"}) == "NOT_FOUND"
    assert await eng.error("ResourceSv1.GetResourceWithConfig", {"ID": "RES"}) == "NOT_FOUND"
    assert await eng.ctx.dm.datadb.get(RESOURCE, f"{T}:RES") is None
    assert await eng.error("ResourceSv1.GetResource", {"Tenant": T}) == "MANDATORY_IE_MISSING: [ID]"


async def test_threshold_events_on_allocate_and_release(tmp_path, threshold_peer):
    conns = {"th": {"conns": [{"address": f"127.0.0.1:{threshold_peer.port}", "transport": "*json"}]}}
    eng = await new_engine(tmp_path, section={"thresholds_conns": ["th"]}, rpc_conns=conns)
    await eng.call("APIerSv1.SetResourceProfile", profile("RES_TH", 5, ThresholdIDs=["TH1", "TH2"], Weight=20))
    await eng.call("APIerSv1.SetResourceProfile", profile("RES_ALL", 5, ThresholdIDs=[]))
    await eng.call("APIerSv1.SetResourceProfile", profile("RES_NONE", 5))
    opts = {"*rsUsageID": "u1", "*rsUnits": 2, "Custom": "x"}
    assert await eng.call("ResourceSv1.AllocateResources", {**event(), "APIOpts": opts}) == "RES_TH"
    assert await eng.call("ResourceSv1.AuthorizeResources", event("u2")) == "RES_TH"  # no event: nothing changed
    assert await eng.call("ResourceSv1.ReleaseResources", event("u1")) == "OK"
    evs = threshold_peer.events
    assert [(e["Event"]["ResourceID"], e["Event"]["Usage"]) for e in evs] == [
        ("RES_TH", 2), ("RES_ALL", 2), ("RES_TH", 0), ("RES_ALL", 0)]
    first = evs[0]
    assert first["Tenant"] == T and first["ID"] and first["Event"]["EventType"] == "ResourceUpdate"
    assert first["APIOpts"] == {**opts, "*eventType": "ResourceUpdate", "*thdProfileIDs": ["TH1", "TH2"]}
    assert evs[1]["APIOpts"]["*thdProfileIDs"] is None
    # ThresholdS finding nothing is fine when no IDs were asked for; otherwise the call is partially executed
    threshold_peer.answer = "NOT_FOUND"
    threshold_peer.events.clear()
    assert await eng.error("ResourceSv1.AllocateResources", event("u3")) == "PARTIALLY_EXECUTED"
    assert len(threshold_peer.events) == 2
    got = await eng.call("ResourceSv1.GetResource", {"ID": "RES_TH"})
    assert list(got["Usages"]) == ["u3"]  # the allocation stands


async def test_console_commands_carry_cgrates_names():
    table = all_commands()
    assert {name: table[name][0] for name in ("resources", "resources_for_event", "resources_authorize",
                                              "resources_allocate", "resources_release", "resources_profile",
                                              "resources_profile_set", "resources_profile_remove",
                                              "resources_profile_ids")} == {
        "resources": "ResourceSv1.GetResource", "resources_for_event": "ResourceSv1.GetResourcesForEvent",
        "resources_authorize": "ResourceSv1.AuthorizeResources",
        "resources_allocate": "ResourceSv1.AllocateResources", "resources_release": "ResourceSv1.ReleaseResources",
        "resources_profile": "APIerSv1.GetResourceProfile", "resources_profile_set": "APIerSv1.SetResourceProfile",
        "resources_profile_remove": "APIerSv1.RemoveResourceProfile",
        "resources_profile_ids": "APIerSv1.GetResourceProfileIDs"}
