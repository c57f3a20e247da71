"""APIerSv1's profile and filter methods over JSON-RPC against a running cgr-engine: CGRateS's names, argument
and reply shapes, errors, pagination, cache actions, and AttributeS/ChargerS using what was set at once."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from pycgrates.engine.cli import command
from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides

T = "cgrates.org"
CONSOLE = command("console")


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[EngineProcess]:
    tmp = tmp_path_factory.mktemp("profiles_api")
    port = free_port()
    overrides = storage_overrides(tmp, port)
    overrides.update({"apiers": {"enabled": True}, "attributes": {"enabled": True},
                      "chargers": {"enabled": True, "attributes_conns": ["*internal"]}})
    eng = EngineProcess(make_config_dir(tmp / "cfg", overrides=overrides), port, tmp / "engine.log").start()
    try:
        yield eng
    finally:
        eng.kill()


def error_of(eng: EngineProcess, method: str, arg: Any) -> str:
    with pytest.raises(RuntimeError) as exc:
        eng.call(method, arg)
    return str(exc.value)


def attribute_profile(pid: str, account: str = "1001", weight: float = 10, **extra: Any) -> dict:
    return {"Tenant": T, "ID": pid, "Contexts": ["*sessions"], "FilterIDs": [f"*string:~*req.Account:{account}"],
            "ActivationInterval": None, "Blocker": False, "Weight": weight,
            "Attributes": [{"FilterIDs": None, "Path": "*req.RequestType", "Type": "*constant",
                            "Value": [{"Rules": "*prepaid"}]}], **extra}


def process(eng: EngineProcess, account: str) -> dict:
    return eng.call("AttributeSv1.ProcessEvent", {"Tenant": T, "ID": "e", "Event": {"Account": account},
                                                  "APIOpts": {"*context": "*sessions"}})


def test_attribute_profile_crud_and_attributes_use_it_at_once(engine):
    assert error_of(engine, "AttributeSv1.ProcessEvent", {"Tenant": T, "Event": {"Account": "1001"},
                                                          "APIOpts": {"*context": "*sessions"}}) == "NOT_FOUND"
    prf = attribute_profile("ATTR_1")
    assert engine.call("APIerSv1.SetAttributeProfile", {**prf, "APIOpts": {}}) == "OK"
    assert engine.call("APIerSv1.GetAttributeProfile", {"Tenant": T, "ID": "ATTR_1"}) == prf
    assert process(engine, "1001")["MatchedProfiles"] == ["cgrates.org:ATTR_1"]
    # replaced with another filter: the index follows
    assert engine.call("APIerSv1.SetAttributeProfile", attribute_profile("ATTR_1", account="1002")) == "OK"
    assert error_of(engine, "AttributeSv1.ProcessEvent", {"Tenant": T, "Event": {"Account": "1001"},
                                                          "APIOpts": {"*context": "*sessions"}}) == "NOT_FOUND"
    assert process(engine, "1002")["Event"]["RequestType"] == "*prepaid"
    # the tenant defaults to general.default_tenant; APIerSv2 takes the value as RSR text
    v2 = {"ID": "ATTR_2", "Contexts": ["*sessions"], "FilterIDs": ["*string:~*req.Account:1003"], "Weight": 20,
          "Attributes": [{"Path": "*req.Subject", "Type": "*variable", "Value": "~*req.Account"}]}
    assert engine.call("APIerSv2.SetAttributeProfile", v2) == "OK"
    got = engine.call("APIerSv1.GetAttributeProfile", {"ID": "ATTR_2"})
    assert got["Tenant"] == T and got["Attributes"][0]["Value"] == [{"Rules": "~*req.Account"}]
    assert process(engine, "1003")["Event"]["Subject"] == "1003"
    assert engine.call("APIerSv1.GetAttributeProfileIDs", {"Tenant": T}) == ["ATTR_1", "ATTR_2"]
    assert engine.call("APIerSv1.GetAttributeProfileIDs", {"Limit": 1, "Offset": 1}) == ["ATTR_2"]
    assert engine.call("APIerSv1.GetAttributeProfileIDs", {"Search": "_2"}) == ["ATTR_2"]
    assert engine.call("APIerSv1.GetAttributeProfileCount", {"Tenant": T}) == 2
    assert engine.call("APIerSv1.RemoveAttributeProfile", {"Tenant": T, "ID": "ATTR_2"}) == "OK"
    assert error_of(engine, "APIerSv1.GetAttributeProfile", {"ID": "ATTR_2"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.RemoveAttributeProfile", {"ID": "ATTR_2"}) == "NOT_FOUND"
    assert error_of(engine, "AttributeSv1.ProcessEvent", {"Tenant": T, "Event": {"Account": "1003"},
                                                          "APIOpts": {"*context": "*sessions"}}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.GetAttributeProfileIDs", {"Tenant": "other.org"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.GetAttributeProfileCount", {"Tenant": "other.org"}) == "NOT_FOUND"


def test_attribute_profile_errors_as_cgrates_words_them(engine):
    call = "APIerSv1.SetAttributeProfile"
    assert error_of(engine, call, {"Tenant": T}) == "MANDATORY_IE_MISSING: [ID Attributes]"
    assert error_of(engine, "APIerSv2.SetAttributeProfile", {"Tenant": T}) == "MANDATORY_IE_MISSING: [ID]"
    assert error_of(engine, call, {"ID": "X", "Attributes": [{"Type": "*constant", "Value": [{"Rules": "1"}]}]}) \
        == "MANDATORY_IE_MISSING: [Path]"
    assert error_of(engine, call, {"ID": "X", "Attributes": [{"Path": "*req.A", "Value": [{"Rules": ""}]}]}) \
        == "MANDATORY_IE_MISSING: [Rules]"
    assert error_of(engine, "APIerSv1.GetAttributeProfile", {"Tenant": T}) == "MANDATORY_IE_MISSING: [ID]"
    assert error_of(engine, call, attribute_profile("X", FilterIDs=["FLTR_NOPE"])) == (
        "SERVER_ERROR: broken reference to filter: <FLTR_NOPE> for item with ID: cgrates.org:X")
    broken = attribute_profile("X")
    broken["Attributes"][0]["Value"] = [{"Rules": "~*req.A{*nosuch}"}]
    assert error_of(engine, call, broken).startswith("SERVER_ERROR: ")
    assert error_of(engine, call, {**attribute_profile("X"), "APIOpts": {"*cache": "*sometimes"}}).startswith(
        "SERVER_ERROR: APIOpts *cache '*sometimes' is not a cache action")
    assert error_of(engine, "APIerSv1.GetAttributeProfile", {"ID": "X"}) == "NOT_FOUND"  # nothing was stored


def test_cache_action_of_a_write(engine):
    has = {"CacheID": "*attribute_profiles", "ItemID": "cgrates.org:ATTR_C"}
    assert engine.call("APIerSv1.SetAttributeProfile", {**attribute_profile("ATTR_C", account="1009"),
                                                        "APIOpts": {"*cache": "*reload"}}) == "OK"
    assert engine.call("CacheSv1.HasItem", has) is True  # read again, compiled, at once
    assert engine.call("APIerSv1.SetAttributeProfile", {**attribute_profile("ATTR_C", account="1009"),
                                                        "APIOpts": {"*cache": "*remove"}}) == "OK"
    assert engine.call("CacheSv1.HasItem", has) is False
    engine.call("APIerSv1.GetAttributeProfile", {"ID": "ATTR_C"})
    assert engine.call("CacheSv1.HasItem", has) is True  # the next read caches it
    assert engine.call("APIerSv1.RemoveAttributeProfile", {"ID": "ATTR_C", "APIOpts": {"*cache": "*reload"}}) == "OK"
    assert engine.call("CacheSv1.HasItem", has) is False


def test_charger_profile_crud_and_chargers_use_it_at_once(engine):
    prf = {"Tenant": T, "ID": "CH_RESELLER", "FilterIDs": ["*string:~*req.Account:2001"],
           "ActivationInterval": None, "RunID": "reseller", "AttributeIDs": ["*none"], "Weight": 10}
    assert engine.call("APIerSv1.SetChargerProfile", {**prf, "APIOpts": {}}) == "OK"
    assert engine.call("APIerSv1.GetChargerProfile", {"Tenant": T, "ID": "CH_RESELLER"}) == prf
    assert engine.call("APIerSv1.GetChargerProfileIDs", {"Tenant": T}) == ["CH_RESELLER"]
    runs = engine.call("ChargerSv1.ProcessEvent", {"Tenant": T, "ID": "e", "Event": {"Account": "2001"}})
    assert [r["CGREvent"]["Event"]["RunID"] for r in runs] == ["reseller"]
    assert error_of(engine, "APIerSv1.SetChargerProfile", {"RunID": "x"}) == "MANDATORY_IE_MISSING: [ID]"
    assert error_of(engine, "APIerSv1.GetChargerProfileCount", {}).startswith("rpc: can't find method")
    assert engine.call("APIerSv1.RemoveChargerProfile", {"ID": "CH_RESELLER"}) == "OK"
    assert error_of(engine, "ChargerSv1.ProcessEvent", {"Tenant": T, "Event": {"Account": "2001"}}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.GetChargerProfileIDs", {}) == "NOT_FOUND"


def test_filter_crud_reindexes_and_guards_its_users(engine):
    flt = {"Tenant": T, "ID": "FLTR_ACC", "Rules": [{"Type": "*string", "Element": "~*req.Account",
                                                     "Values": ["3001", "3002"]}], "ActivationInterval": None}
    assert engine.call("APIerSv1.SetFilter", {**flt, "APIOpts": {}}) == "OK"
    assert engine.call("APIerSv1.GetFilter", {"Tenant": T, "ID": "FLTR_ACC"}) == flt
    assert engine.call("APIerSv1.SetAttributeProfile", attribute_profile("ATTR_F", FilterIDs=["FLTR_ACC"])) == "OK"
    assert process(engine, "3002")["MatchedProfiles"] == ["cgrates.org:ATTR_F"]
    # the filter changes: the profiles using it are re-indexed
    flt["Rules"][0]["Values"] = ["3003"]
    assert engine.call("APIerSv1.SetFilter", flt) == "OK"
    assert error_of(engine, "AttributeSv1.ProcessEvent", {"Tenant": T, "Event": {"Account": "3002"},
                                                          "APIOpts": {"*context": "*sessions"}}) == "NOT_FOUND"
    assert process(engine, "3003")["MatchedProfiles"] == ["cgrates.org:ATTR_F"]
    assert engine.call("APIerSv1.GetFilterIDs", {"Tenant": T}) == ["FLTR_ACC"]
    assert error_of(engine, "APIerSv1.RemoveFilter", {"ID": "FLTR_ACC"}) == (
        "SERVER_ERROR: cannot remove filter <cgrates.org:FLTR_ACC> because will broken the reference to following "
        'items: {"*attribute_filter_indexes":{"ATTR_F":{}}}')
    assert engine.call("APIerSv1.RemoveAttributeProfile", {"ID": "ATTR_F"}) == "OK"
    assert engine.call("APIerSv1.RemoveFilter", {"ID": "FLTR_ACC"}) == "OK"
    assert error_of(engine, "APIerSv1.GetFilter", {"ID": "FLTR_ACC"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.RemoveFilter", {"ID": "FLTR_ACC"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.SetFilter", {"Rules": []}) == "MANDATORY_IE_MISSING: [ID]"
    bad = {"ID": "BAD", "Rules": [{"Type": "*nosuch", "Element": "~*req.A", "Values": ["1"]}]}
    assert error_of(engine, "APIerSv1.SetFilter", bad) == "SERVER_ERROR: Unsupported filter Type: *nosuch"


def test_console_commands_reach_the_generated_methods(engine):
    assert engine.call("APIerSv1.SetFilter", {"ID": "FLTR_CONSOLE", "Rules": [
        {"Type": "*prefix", "Element": "~*req.Destination", "Values": ["+49"]}]}) == "OK"

    def console(*words: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{engine.rpc_port}", *words], cwd=REPO,
                              capture_output=True, text=True, timeout=30)

    out = console("filter", 'ID="FLTR_CONSOLE"')
    assert out.returncode == 0, out.stderr
    assert '"Element": "~*req.Destination"' in out.stdout
    out = console("attributes_profile_set", 'ID="ATTR_CONSOLE"', 'Contexts=["*sessions"]',
                  'Attributes=[{"Path":"*req.Category","Type":"*constant","Value":"call"}]')
    assert out.returncode == 0 and out.stdout.strip() == '"OK"', out.stderr
    out = console("attributes_profile_ids")
    assert out.returncode == 0 and '"ATTR_CONSOLE"' in out.stdout, out.stderr
    out = console("chargers_profile", 'ID="NOPE"')
    assert out.returncode == 1 and "NOT_FOUND" in out.stderr
