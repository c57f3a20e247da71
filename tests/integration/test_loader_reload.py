"""A tariff plan loaded into a running engine is used at once: new profiles match, new plans are scheduled."""

from __future__ import annotations

import shutil

from pycgrates.engine.app import Engine
from pycgrates.engine.config import config_from_dict
from tests.conftest import shared_data


async def test_profiles_of_a_second_load_match_immediately(tmp_path):
    cfg = config_from_dict({
        "listen": {"rpc_json": "", "http": "", "birpc_json": ""},
        "data_db": {"opts": {"internalDBDumpPath": ""}}, "stor_db": {"opts": {"internalDBDumpPath": ""}},
        "rals": {"enabled": True}, "apiers": {"enabled": True}, "attributes": {"enabled": True},
        "schedulers": {"enabled": True},
    })
    eng = Engine(cfg)
    await eng.start()
    try:
        call = eng.dispatcher.registry.dispatch
        first = tmp_path / "first"
        shutil.copytree(shared_data("tariffplans", "tutorial"), first)
        (first / "Attributes.csv").write_text("#Tenant,ID,Contexts,FilterIDs,ActivationInterval,AttributeFilterIDs,"
                                              "Path,Type,Value,Blocker,Weight\n")
        assert await call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(first)}) == "OK"
        event = {"Tenant": "cgrates.org", "ID": "e1", "Event": {"Account": "1001"},
                 "APIOpts": {"*context": "*sessions"}}
        try:
            await call("AttributeSv1.ProcessEvent", event)
            raise AssertionError("no attribute profile should match yet")
        except Exception as exc:  # NOT_FOUND: nothing loaded yet
            assert "NOT_FOUND" in str(exc)
        second = tmp_path / "second"
        second.mkdir()
        (second / "Attributes.csv").write_text(
            "#Tenant,ID,Contexts,FilterIDs,ActivationInterval,AttributeFilterIDs,Path,Type,Value,Blocker,Weight\n"
            "cgrates.org,ATTR_NEW,*sessions,*string:~*req.Account:1001,,,*req.RequestType,*constant,*prepaid,"
            "false,10\n")
        assert await call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(second)}) == "OK"
        reply = await call("AttributeSv1.ProcessEvent", event)
        assert reply["MatchedProfiles"] and reply["CGREvent"]["Event"]["RequestType"] == "*prepaid"
    finally:
        await eng.stop()
