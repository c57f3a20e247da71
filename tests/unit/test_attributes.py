"""AttributeS: matching by context and filters, weights, substitution types, process runs, blockers, *tenant."""

from __future__ import annotations

from typing import Any

import pytest

from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.filters.service import FilterService
from pycgrates.engine.profiles.attributes import AttributeService, decode_attribute_profile, inline_attribute_profile
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager

TENANT = "cgrates.org"


def make_ctx(overrides: dict | None = None) -> EngineContext:
    registry = Registry()
    ctx = EngineContext(cfg=config_from_dict(overrides or {}), dm=DataManager(MemoryDataDB(), Cache()),
                        stordb=None, registry=registry, conns=ConnManager(Dispatcher(registry), {}))
    ctx.services["filters"] = FilterService(ctx)
    return ctx


@pytest.fixture
def ctx() -> EngineContext:
    return make_ctx()


@pytest.fixture
def attrs(ctx) -> AttributeService:
    svc = AttributeService(ctx)
    ctx.registry.register_object(svc)
    return svc


def attr(path: str, value: Any, atype: str = "*constant", filter_ids: list[str] | None = None) -> dict:
    return {"FilterIDs": filter_ids or [], "Path": path, "Type": atype, "Value": value}


async def add(svc: AttributeService, pid: str, attributes: list[dict], *, contexts: Any = ("*sessions",),
              filters: Any = ("*string:~*req.Account:1001",), weight: float = 10, blocker: bool = False,
              tenant: str = TENANT, **extra: Any) -> None:
    await svc.set_profile({"Tenant": tenant, "ID": pid, "Contexts": list(contexts), "FilterIDs": list(filters),
                           "ActivationInterval": extra.pop("ai", None), "Attributes": attributes,
                           "Blocker": blocker, "Weight": weight, **extra})


def event(ev: dict | None = None, tenant: str = TENANT, **opts: Any) -> dict:
    return {"Tenant": tenant, "ID": "ev1", "Event": {"Account": "1001", "Destination": "1002", **(ev or {})},
            "APIOpts": {"*context": "*sessions", **opts}}


async def test_constant_substitution_and_reply_shape(attrs):
    await add(attrs, "ATTR_1", [attr("*req.Password", "CGRateS.org"), attr("*req.RequestType", "*prepaid")])
    reply = await attrs.v1_process_event(event())
    assert reply["MatchedProfiles"] == ["cgrates.org:ATTR_1"]
    assert reply["AlteredFields"] == ["*req.Password", "*req.RequestType"]
    assert reply["Event"] == {"Account": "1001", "Destination": "1002", "Password": "CGRateS.org",
                              "RequestType": "*prepaid"}
    assert reply["Tenant"] == TENANT and reply["ID"] == "ev1"
    assert reply["CGREvent"]["Event"] == reply["Event"]


async def test_input_event_is_not_mutated(attrs):
    await add(attrs, "ATTR_1", [attr("*req.Password", "x")])
    ev = event()
    await attrs.v1_process_event(ev)
    assert "Password" not in ev["Event"]


async def test_context_and_any_context(attrs, ctx):
    await add(attrs, "ATTR_SIMPLE", [attr("*req.Password", "p1")], contexts=["simpleauth"], weight=20)
    await add(attrs, "ATTR_ANY", [attr("*req.Alias", "a")], contexts=["*any"], weight=5)
    reply = await attrs.v1_process_event(event(**{"*context": "simpleauth"}))
    assert reply["MatchedProfiles"] == ["cgrates.org:ATTR_SIMPLE"]
    reply = await attrs.v1_process_event(event(**{"*context": "*cdrs"}))
    assert reply["MatchedProfiles"] == ["cgrates.org:ATTR_ANY"]
    reply = await attrs.v1_process_event({"Tenant": TENANT, "Event": {"Account": "1001"}, "Context": "simpleauth"})
    assert reply["MatchedProfiles"] == ["cgrates.org:ATTR_SIMPLE"]


async def test_not_found(attrs):
    await add(attrs, "ATTR_1", [attr("*req.Password", "x")])
    with pytest.raises(RPCError) as exc:
        await attrs.v1_process_event(event({"Account": "2002"}))
    assert exc.value.message == "NOT_FOUND"
    with pytest.raises(RPCError) as exc:
        await attrs.v1_process_event({"Tenant": TENANT})
    assert exc.value.message == "MANDATORY_IE_MISSING: [Event]"


async def test_heaviest_profile_wins(attrs):
    await add(attrs, "LIGHT", [attr("*req.Who", "light")], weight=10)
    await add(attrs, "HEAVY", [attr("*req.Who", "heavy")], weight=20)
    reply = await attrs.v1_process_event(event())
    assert reply["MatchedProfiles"] == ["cgrates.org:HEAVY"] and reply["Event"]["Who"] == "heavy"
    got = await attrs.get_attribute_for_event(event())
    assert got["ID"] == "HEAVY" and got["Weight"] == 20
    assert got["Attributes"] == [{"FilterIDs": None, "Path": "*req.Who", "Type": "*constant",
                                  "Value": [{"Rules": "heavy"}]}]


async def test_process_runs_chain_profiles(attrs):
    await add(attrs, "STEP1", [attr("*req.Account", "2002")], filters=["*string:~*req.Account:1001"], weight=20)
    await add(attrs, "STEP2", [attr("*req.Plan", "gold")], filters=["*string:~*req.Account:2002"], weight=10)
    reply = await attrs.v1_process_event(event(**{"*attrProcessRuns": 1}))
    assert reply["MatchedProfiles"] == ["cgrates.org:STEP1"] and "Plan" not in reply["Event"]
    reply = await attrs.v1_process_event(event(**{"*attrProcessRuns": 3}))
    assert reply["MatchedProfiles"] == ["cgrates.org:STEP1", "cgrates.org:STEP2"]
    assert reply["Event"]["Account"] == "2002" and reply["Event"]["Plan"] == "gold"
    assert reply["AlteredFields"] == ["*req.Account", "*req.Plan"]


async def test_same_profile_not_twice_in_a_row_and_profile_runs(attrs):
    await add(attrs, "A", [attr("*req.Count", "~*req.Count;x", "*variable")], filters=[], weight=20)
    await add(attrs, "B", [attr("*req.Other", "y")], filters=[], weight=10)
    ev = event({"Count": ""}, **{"*attrProcessRuns": 4})
    reply = await attrs.v1_process_event(ev)
    assert reply["MatchedProfiles"] == ["cgrates.org:A", "cgrates.org:B"] * 2
    assert reply["Event"]["Count"] == "xx"
    reply = await attrs.v1_process_event(event({"Count": ""}, **{"*attrProcessRuns": 4, "*attrProfileRuns": 1}))
    assert reply["MatchedProfiles"] == ["cgrates.org:A", "cgrates.org:B"]


async def test_blocker_stops_the_runs(attrs):
    await add(attrs, "STEP1", [attr("*req.Account", "2002")], weight=20, blocker=True)
    await add(attrs, "STEP2", [attr("*req.Plan", "gold")], filters=["*string:~*req.Account:2002"])
    reply = await attrs.v1_process_event(event(**{"*attrProcessRuns": 3}))
    assert reply["MatchedProfiles"] == ["cgrates.org:STEP1"]


async def test_tenant_rewrite(attrs):
    await add(attrs, "ATTR_TNT", [attr("*tenant", "cgrates.org")], tenant="cgrates.com", contexts=["*any"])
    await add(attrs, "ATTR_ORG", [attr("*req.Plan", "org")], contexts=["*any"], weight=5)
    reply = await attrs.v1_process_event(event(tenant="cgrates.com", **{"*attrProcessRuns": 2}))
    assert reply["Tenant"] == TENANT
    assert reply["MatchedProfiles"] == ["cgrates.com:ATTR_TNT", "cgrates.org:ATTR_ORG"]
    assert reply["AlteredFields"] == ["*tenant", "*req.Plan"]


async def test_remove_none_composed_and_opts(attrs):
    await add(attrs, "A", [attr("*req.Destination", "*remove"), attr("*req.Account", "-suffix", "*composed"),
                           attr("*req.Fresh", "new", "*composed"), attr("*opts.*routesLimit", "2"),
                           attr("*req.Blank", "ignored", "*none")])
    reply = await attrs.v1_process_event(event())
    ev = reply["Event"]
    assert "Destination" not in ev
    assert ev["Account"] == "1001-suffix" and ev["Fresh"] == "new" and ev["Blank"] == ""
    assert reply["APIOpts"]["*routesLimit"] == "2"


@pytest.mark.parametrize("atype, value, extra, expected", [
    ("*variable", "~*req.Account;`@`;~*req.Destination", {}, "1001@1002"),
    ("*variable", r"~*req.Account:s/^(\d+)$/+49$1/", {}, "+491001"),
    ("*usage_difference", "~*req.End;~*req.Start", {"Start": "2014-07-29T15:00:00Z", "End": "2014-07-29T15:01:30Z"},
     "1m30s"),
    ("*sum", "10;~*req.N;2", {"N": "5"}, "17"),
    ("*sum", "10s;~*req.U", {"U": "5s"}, "15s"),
    ("*sum", "1.5;1", {}, "2.5"),
    ("*difference", "10;~*req.N", {"N": "3"}, "7"),
    ("*multiply", "2.5;~*req.N", {"N": "4"}, "10"),
    ("*divide", "10;4", {}, "2"),
    ("*divide", "10.0;4", {}, "2.5"),
    ("*value_exponent", "~*req.Amount;~*req.Exp", {"Amount": "1234", "Exp": "-2"}, "12.34"),
    ("*unix_timestamp", "~*req.At", {"At": "2014-07-29T15:00:00Z"}, "1406646000"),
    ("*datetime", "~*req.At", {"At": "1406646000"}, "2014-07-29T15:00:00Z"),
    ("*prefix", "+49", {}, "+491001"),
    ("*suffix", "@cgrates.org", {}, "1001@cgrates.org"),
    ("*cc_usage", "~*req.ReqNr;~*req.Used;5m", {"ReqNr": "3", "Used": "30s"}, "10m30s"),
    ("*sipcid", "~*req.CallID;~*req.ToTag;~*req.FromTag", {"CallID": "cid", "ToTag": "t2", "FromTag": "t1"},
     "cid;t1;t2"),
])
async def test_substitution_types(attrs, atype, value, extra, expected):
    await add(attrs, "A", [attr("*req.Account" if atype in ("*prefix", "*suffix") else "*req.Out", value, atype)])
    reply = await attrs.v1_process_event(event(extra))
    field = "Account" if atype in ("*prefix", "*suffix") else "Out"
    assert reply["Event"][field] == expected


async def test_attribute_filters_and_activation(attrs):
    await add(attrs, "A", [attr("*req.Mobile", "yes", filter_ids=["*prefix:~*req.Destination:07"]),
                           attr("*req.Checked", "true")])
    reply = await attrs.v1_process_event(event())
    assert "Mobile" not in reply["Event"] and reply["AlteredFields"] == ["*req.Checked"]
    reply = await attrs.v1_process_event(event({"Destination": "0712"}))
    assert reply["Event"]["Mobile"] == "yes"
    await add(attrs, "FUTURE", [attr("*req.Late", "1")], weight=50, ai={"ActivationTime": "2100-01-01T00:00:00Z"})
    ev = event()
    ev["Time"] = "2020-01-01T00:00:00Z"
    assert (await attrs.v1_process_event(ev))["MatchedProfiles"] == ["cgrates.org:A"]
    ev["Time"] = "2100-06-01T00:00:00Z"
    assert (await attrs.v1_process_event(ev))["MatchedProfiles"] == ["cgrates.org:FUTURE"]


async def test_profile_ids_option_and_ignore_filters(attrs):
    await add(attrs, "A", [attr("*req.Who", "a")], weight=20)
    await add(attrs, "B", [attr("*req.Who", "b")], filters=["*string:~*req.Account:9999"], weight=10)
    with pytest.raises(RPCError, match="NOT_FOUND"):
        await attrs.v1_process_event(event(**{"*attrProfileIDs": ["B"]}))
    reply = await attrs.v1_process_event(event(**{"*attrProfileIDs": ["A", "B"]}))
    assert reply["MatchedProfiles"] == ["cgrates.org:A"]
    reply = await attrs.v1_process_event(event(**{"*attrProfileIDs": ["B"], "*attrProfileIgnoreFilters": True}))
    assert reply["Event"]["Who"] == "b"


async def test_inline_profile_ids(attrs):
    reply = await attrs.v1_process_event(event(**{"*attrProfileIDs": ["*constant:*req.RequestType:*none"]}))
    assert reply["MatchedProfiles"] == ["*constant:*req.RequestType:*none"]
    assert reply["Event"]["RequestType"] == "*none"
    prf = inline_attribute_profile(TENANT, "*constant:*req.A:1;*variable:*req.B:~*req.Account&`-x`")
    assert [a.path for a in prf.attributes] == ["*req.A", "*req.B"]


async def test_requested_attributes_must_be_filled(attrs):
    await add(attrs, "A", [attr("*req.Password", "x")])
    with pytest.raises(RPCError) as exc:
        await attrs.v1_process_event(event({"Missing": "*attributes"}))
    assert exc.value.message == "MANDATORY_IE_MISSING: [Missing]"
    reply = await attrs.v1_process_event(event({"Password": "*attributes"}))
    assert reply["Event"]["Password"] == "x"


async def test_errors_are_server_errors(attrs):
    await add(attrs, "A", [attr("*req.X", "~*req.Nope", "*variable")])
    with pytest.raises(RPCError) as exc:
        await attrs.v1_process_event(event())
    assert exc.value.message == "NOT_FOUND"
    await add(attrs, "B", [attr("*req.X", "1", "*http#unsupported")], weight=99)
    with pytest.raises(RPCError) as exc:
        await attrs.v1_process_event(event())
    assert exc.value.message.startswith("SERVER_ERROR: unsupported type")


async def test_rpc_registration(attrs, ctx):
    assert {"AttributeSv1.Ping", "AttributeSv1.ProcessEvent", "AttributeSv1.GetAttributeForEvent"} <= set(
        ctx.registry.methods())
    assert await ctx.registry.dispatch("AttributeSv1.Ping", {}) == "Pong"


def test_decode_accepts_csv_text_and_api_values():
    prf = decode_attribute_profile({"Tenant": TENANT, "ID": "X", "Contexts": "*sessions;*cdrs", "Attributes": [
        {"Path": "*req.A", "Type": "*variable", "Value": [{"Rules": "~*req.B"}]},
        {"Path": "*req.C", "Type": "*constant", "Value": "c1;c2"}]})
    assert prf.contexts == ("*sessions", "*cdrs")
    assert [len(a.value) for a in prf.attributes] == [1, 2]
