"""The tutorial tariff plan's Filters, Attributes and Chargers resolve as CGRateS resolves them.

The CSVs are read from ../shared/data/tariffplans/tutorial. Each check runs twice: once with the profiles stored by
``engine.loader`` (skipped until the loader is in the build) and once with the CSV rows turned into CGRateS JSON
here, so the services are checked against the reference data either way.
"""

from __future__ import annotations

import csv
import importlib
import inspect
from pathlib import Path
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
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from pycgrates.engine.template.dataprovider import MapDataProvider
from tests.conftest import shared_data

LOADER_FUNCTIONS = ("load_tariff_plan", "load_tariffplan", "load_tp_dir", "load_folder")


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return [r for r in csv.reader(fh) if r and any(c.strip() for c in r) and not r[0].startswith("#")]


def _split(text: str) -> list[str]:
    return [x for x in text.split(";") if x]


def _ai(text: str) -> dict | None:
    if not text:
        return None
    start, _, end = text.partition(";")
    return {"ActivationTime": start, "ExpiryTime": end}


async def store_from_csv(dm: Any, folder: Path) -> None:
    """CSV rows → the CGRateS JSON profiles (what the loader stores), written to the DataDB."""
    filters: dict[tuple[str, str], dict] = {}
    for tnt, fid, ftype, element, values, ai, *_ in _rows(folder / "Filters.csv"):
        f = filters.setdefault((tnt, fid), {"Tenant": tnt, "ID": fid, "Rules": [], "ActivationInterval": None})
        f["Rules"].append({"Type": ftype, "Element": element, "Values": _split(values)})
        f["ActivationInterval"] = f["ActivationInterval"] or _ai(ai)
    attrs: dict[tuple[str, str], dict] = {}
    for row in _rows(folder / "Attributes.csv"):
        tnt, pid, contexts, fids, ai, afids, path, atype, value, blocker, weight = (row + [""] * 11)[:11]
        a = attrs.setdefault((tnt, pid), {"Tenant": tnt, "ID": pid, "Contexts": [], "FilterIDs": [],
                                          "ActivationInterval": None, "Attributes": [], "Blocker": False,
                                          "Weight": 0})
        a["Contexts"] += [c for c in _split(contexts) if c not in a["Contexts"]]
        a["FilterIDs"] += [f for f in _split(fids) if f not in a["FilterIDs"]]
        a["ActivationInterval"] = a["ActivationInterval"] or _ai(ai)
        if path:
            a["Attributes"].append({"FilterIDs": _split(afids), "Path": path, "Type": atype, "Value": value})
        if blocker:
            a["Blocker"] = blocker == "true"
        if weight:
            a["Weight"] = float(weight)
    chargers = {}
    for tnt, pid, fids, ai, run_id, attr_ids, weight, *_ in _rows(folder / "Chargers.csv"):
        chargers[(tnt, pid)] = {"Tenant": tnt, "ID": pid, "FilterIDs": _split(fids), "ActivationInterval": _ai(ai),
                                "RunID": run_id, "AttributeIDs": _split(attr_ids), "Weight": float(weight or 0)}
    reverse: dict[str, list[str]] = {}
    for dst_id, prefix, *_ in _rows(folder / "Destinations.csv"):
        reverse.setdefault(prefix, []).append(dst_id)
    for kind, items in ((kinds.FILTER, filters), (kinds.ATTRIBUTE_PROFILE, attrs), (kinds.CHARGER_PROFILE, chargers)):
        for (tnt, pid), raw in items.items():
            await dm.set(kind, f"{tnt}:{pid}", raw)
    for prefix, ids in reverse.items():
        await dm.set(kinds.REVERSE_DESTINATION, prefix, ids)


async def store_with_loader(ctx: EngineContext, folder: Path) -> None:
    loader = importlib.import_module("pycgrates.engine.loader.tariffplan")
    fn = next((getattr(loader, n) for n in LOADER_FUNCTIONS if callable(getattr(loader, n, None))), None)
    if fn is None:
        pytest.skip(f"engine.loader.tariffplan has none of {', '.join(LOADER_FUNCTIONS)}(dm, path) yet")
    params = list(inspect.signature(fn).parameters)
    target = ctx if params and params[0] in ("ctx", "context") else ctx.dm
    result = fn(target, folder)
    if inspect.isawaitable(result):
        await result


@pytest.fixture(params=["csv", "pycgrates.engine.loader.tariffplan"])
async def services(request) -> tuple[EngineContext, AttributeService, ChargerService]:
    folder = shared_data("tariffplans", "tutorial")
    registry = Registry()
    ctx = EngineContext(cfg=config_from_dict({"chargers": {"attributes_conns": ["*internal"]}}),
                        dm=DataManager(MemoryDataDB(), Cache()), stordb=None, registry=registry,
                        conns=ConnManager(Dispatcher(registry), {}))
    ctx.services["filters"] = FilterService(ctx)
    attrs = AttributeService(ctx)
    chargers = ChargerService(ctx)
    registry.register_object(attrs)
    registry.register_object(chargers)
    if request.param == "csv":
        await store_from_csv(ctx.dm, folder)
    else:
        await store_with_loader(ctx, folder)
    return ctx, attrs, chargers


def ev(event: dict, tenant: str = "cgrates.org", **opts: Any) -> dict:
    return {"Tenant": tenant, "ID": "tut", "Event": event, "APIOpts": opts}


async def test_simpleauth_profiles(services):
    _, attrs, _ = services
    for account in ("1001", "1002", "1003"):
        reply = await attrs.v1_process_event(ev({"Account": account}, **{"*context": "simpleauth"}))
        assert reply["MatchedProfiles"] == [f"cgrates.org:ATTR_{account}_SIMPLEAUTH"]
        assert reply["AlteredFields"] == ["*req.Password"]
        assert reply["Event"] == {"Account": account, "Password": "CGRateS.org"}
    got = await attrs.get_attribute_for_event(ev({"Account": "1001"}, **{"*context": "simpleauth"}))
    assert got["ID"] == "ATTR_1001_SIMPLEAUTH" and got["Contexts"] == ["simpleauth"]
    assert got["FilterIDs"] == ["*string:~*req.Account:1001"] and got["Weight"] == 20
    with pytest.raises(RPCError, match="NOT_FOUND"):
        await attrs.v1_process_event(ev({"Account": "1004"}, **{"*context": "simpleauth"}))


async def test_sessionauth_profiles(services):
    _, attrs, _ = services
    reply = await attrs.v1_process_event(ev({"Account": "1001"}, **{"*context": "*sessions"}))
    assert reply["MatchedProfiles"] == ["cgrates.org:ATTR_1001_SESSIONAUTH"]
    assert reply["Event"] == {"Account": "1001", "Password": "CGRateS.org", "RequestType": "*prepaid",
                              "PaypalAccount": "cgrates@paypal.com", "LCRProfile": "premium_cli"}
    reply = await attrs.v1_process_event(ev({"Account": "1002"}, **{"*context": "*sessions"}))
    assert reply["Event"]["RequestType"] == "*postpaid"
    # the path without *req. is altered outside the event, as CGRateS does
    assert "ResourceAllocation" in reply["AlteredFields"] and "ResourceAllocation" not in reply["Event"]


async def test_alias_and_tenant_rewrite(services):
    _, attrs, _ = services
    reply = await attrs.v1_process_event(ev({"SubscriberId": "1006"}, **{"*context": "*cdrs"}))
    assert reply["MatchedProfiles"] == ["cgrates.org:ATTR_ACC_ALIAS"]
    assert reply["Event"] == {"SubscriberId": "1006", "Account": "1001", "RequestType": "*prepaid"}
    reply = await attrs.v1_process_event(ev({"SubscriberId": "1006"}, tenant="cgrates.com",
                                            **{"*context": "*cdrs", "*attrProcessRuns": 2}))
    assert reply["Tenant"] == "cgrates.org"
    assert reply["MatchedProfiles"] == ["cgrates.com:ATTR_TNT_ALIAS", "cgrates.org:ATTR_ACC_ALIAS"]
    assert reply["Event"]["Account"] == "1001"
    reply = await attrs.v1_process_event(ev({"Account": "1001"}, tenant="cgrates.com", **{"*context": "*any"}))
    assert reply["MatchedProfiles"] == ["cgrates.com:ATTR_TNT_1001"] and reply["Tenant"] == "cgrates.org"


async def test_default_and_raw_chargers(services):
    _, _, chargers = services
    got = await chargers.get_chargers_for_event(ev({"Account": "1001"}))
    assert {p["ID"]: p["AttributeIDs"] for p in got} == {"DEFAULT": ["*none"],
                                                         "Raw": ["*constant:*req.RequestType:*none"]}
    replies = await chargers.v1_process_event(ev({"Account": "1001", "RequestType": "*prepaid"}))
    runs = {r["CGREvent"]["Event"]["RunID"]: r for r in replies}
    assert set(runs) == {"*default", "*raw"}
    assert runs["*default"]["CGREvent"]["Event"]["RequestType"] == "*prepaid"
    assert runs["*default"]["AttributeSProfiles"] is None
    assert runs["*raw"]["CGREvent"]["Event"]["RequestType"] == "*none"
    assert runs["*raw"]["AttributeSProfiles"] == ["*constant:*req.RequestType:*none"]
    assert runs["*raw"]["AlteredFields"] == ["*req.RunID", "*req.RequestType"]


@pytest.mark.parametrize("filter_id, event, expected", [
    ("FLTR_ACNT_1001", {"Account": "1001"}, True),
    ("FLTR_ACNT_1001", {"Account": "1002"}, False),
    ("FLTR_RES", {"Account": "1003"}, True),
    ("FLTR_ACNT_1001_1002", {"Account": "1002", "RunID": "*default", "Destination": "1003"}, True),
    ("FLTR_ACNT_1001_1002", {"Account": "1002", "RunID": "*raw", "Destination": "1003"}, False),
    ("FLTR_ACNT_1003_1001", {"Account": "1003", "RunID": "*default", "Destination": "1001"}, True),
    ("FLTR_DST_FS", {"Account": "1001", "Destination": "1002"}, True),
    ("FLTR_DST_FS", {"Account": "1001", "Destination": "2002"}, False),
])
async def test_tutorial_filters(services, filter_id, event, expected):
    ctx, _, _ = services
    dp = MapDataProvider({"*req": event, "*opts": {}})
    assert await ctx.services["filters"].pass_filters("cgrates.org", [filter_id], dp) is expected
