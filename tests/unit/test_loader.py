"""The tariff-plan loader: CSV rules, line-precise errors, dry runs, profiles, the API and cgr-loader."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from pycgrates.engine.cli import loader as cli
from pycgrates.engine.config import config_from_dict, load_config
from pycgrates.engine.loader.service import LoaderService
from pycgrates.engine.loader.tariffplan import LoaderError, TariffPlan, load_tariff_plan
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.storage import base as k
from pycgrates.engine.storage import open_datadb, open_stordb
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager

RATING = {
    "Timings": """
        #Tag,Years,Months,MonthDays,WeekDays,Time
        PEAK,*any,*any,*any,1;2;3;4;5,08:00:00
    """,
    "Destinations": """
        #Id,Prefix
        DST_1002,1002

        DST_10,10
        DST_10,20
    """,
    "Rates": """
        #Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
        RT_1,0.4,0.2,1m,60s,0
        RT_1,0,0.1,60s,1s,60s
        RT_DATA,0,1,1024,1024,0
    """,
    "DestinationRates": """
        DR_1,DST_1002,RT_1,*up,4,0,
        DR_1,DST_10,RT_1,*up,4,0,
        DR_DATA,*any,RT_DATA,*up,4,0,
    """,
    "RatingPlans": """
        RP_1,DR_1,PEAK,10
        RP_1,DR_DATA,*any,10
    """,
    "RatingProfiles": """
        cgrates.org,call,1001,2014-01-14T00:00:00Z,RP_1,1002;*any
    """,
}


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(textwrap.dedent(text).strip() + "\n")
    return folder


def new_dm() -> DataManager:
    return DataManager(MemoryDataDB(), Cache.from_config({}))


async def load(folder: Path, dm: DataManager | None = None, **kw):
    dm = dm or new_dm()
    result = await load_tariff_plan(dm, folder, **kw)
    return dm, result


async def error_of(tmp_path: Path, files: dict[str, str]) -> str:
    folder = tmp_path / f"tp{len(list(tmp_path.iterdir()))}"  # a fresh folder per plan
    with pytest.raises(LoaderError) as err:
        await load(write(folder, files))
    return str(err.value)


# ---------------------------------------------------------------------------------------------------- storing


async def test_rating_objects_stored_in_cgrates_shapes(tmp_path):
    dm, result = await load(write(tmp_path, RATING))
    db = dm.datadb
    assert await db.get(k.DESTINATION, "DST_10") == {"Id": "DST_10", "Prefixes": ["10", "20"]}
    assert await db.get(k.REVERSE_DESTINATION, "1002") == ["DST_1002"]
    assert await db.get(k.REVERSE_DESTINATION, "20") == ["DST_10"]
    assert await db.get(k.TIMING, "PEAK") == {
        "ID": "PEAK",
        "Years": [],
        "Months": [],
        "MonthDays": [],
        "WeekDays": [1, 2, 3, 4, 5],
        "StartTime": "08:00:00",
        "EndTime": "",
    }
    plan = await db.get(k.RATING_PLAN, "RP_1")
    assert sorted(plan["DestinationRates"]) == ["*any", "DST_10", "DST_1002"]
    (binding,) = plan["DestinationRates"]["DST_1002"]
    assert binding["Weight"] == 10
    rating = plan["Ratings"][binding["Rating"]]
    # 1m and 60s are both 60s; plain "1024" counts units (nanoseconds)
    assert rating == {
        "ConnectFee": 0.4,
        "RoundingMethod": "*up",
        "RoundingDecimals": 4,
        "MaxCost": 0,
        "MaxCostStrategy": "",
        "Rates": [
            {"GroupIntervalStart": 0, "Value": 0.2, "RateIncrement": 60 * 10**9, "RateUnit": 60 * 10**9},
            {"GroupIntervalStart": 60 * 10**9, "Value": 0.1, "RateIncrement": 10**9, "RateUnit": 60 * 10**9},
        ],
    }
    data_rating = plan["Ratings"][plan["DestinationRates"]["*any"][0]["Rating"]]
    assert data_rating["Rates"][0]["RateUnit"] == 1024
    assert plan["Timings"][binding["Timing"]]["WeekDays"] == [1, 2, 3, 4, 5]
    assert await db.get(k.RATING_PROFILE, "*out:cgrates.org:call:1001") == {
        "Id": "*out:cgrates.org:call:1001",
        "RatingPlanActivations": [
            {
                "ActivationTime": "2014-01-14T00:00:00Z",
                "RatingPlanId": "RP_1",
                "FallbackKeys": ["*out:cgrates.org:call:1002", "*out:cgrates.org:call:*any"],
            }
        ],
    }
    assert result.counts["Destinations"] == 2 and result.counts["RatingProfiles"] == 1


async def test_dry_run_writes_nothing(tmp_path):
    folder = write(tmp_path, RATING)
    write(folder, {"Attributes": "cgrates.org,ATTR_1,*any,,,,*req.X,*constant,1,false,10"})
    dm, result = await load(folder, dry_run=True)
    for kind in (k.DESTINATION, k.REVERSE_DESTINATION, k.TIMING, k.RATING_PLAN, k.RATING_PROFILE, k.ATTRIBUTE_PROFILE):
        assert await dm.datadb.keys(kind) == []
    assert result.counts["RatingPlans"] == 1 and result.ops > 0


async def test_reload_moves_prefixes_in_the_index(tmp_path):
    dm, _ = await load(write(tmp_path / "a", RATING))
    await load(write(tmp_path / "b", {"Destinations": "DST_10,30"}), dm)
    db = dm.datadb
    assert await db.get(k.DESTINATION, "DST_10") == {"Id": "DST_10", "Prefixes": ["30"]}
    assert await db.get(k.REVERSE_DESTINATION, "10") is None
    assert await db.get(k.REVERSE_DESTINATION, "30") == ["DST_10"]
    # a later plan may name what an earlier load stored
    await load(write(tmp_path / "c", {"RatingProfiles": "cgrates.org,call,1009,2014-01-14T00:00:00Z,RP_1,"}), dm)
    assert await db.get(k.RATING_PROFILE, "*out:cgrates.org:call:1009") is not None


async def test_csv_rules(tmp_path):
    files = dict(RATING)
    files["Rates"] = """
        # a comment line, then a blank one

        "RT_1", 0.4 ,0.2,1m,60s,0
        RT_1,0,0.1,60s,1s,60s
        RT_DATA,0,1,1024,1024,0
    """
    _dm, result = await load(write(tmp_path, files))
    assert result.counts["Rates"] == 2


# ---------------------------------------------------------------------------------------------------- errors


async def test_malformed_rows(tmp_path):
    files = dict(RATING)
    files["Rates"] = """
        #Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
        RT_1,0.4,0.2,1m,60s,0
        RT_1,0,abc,60s,1s,60s
    """
    assert await error_of(tmp_path, files) == "Rates.csv:3:3: Rate 'abc' is not a number"
    files["Rates"] = "RT_1,0.4,0.2,1m,60x,0"
    msg = await error_of(tmp_path, files)
    assert msg.startswith("Rates.csv:1:5: RateIncrement '60x' is not a duration")
    files["Rates"] = """
        RT_1,0.4,0.2,1m,60s,0
        RT_1,0,0.1,60s,1s
    """
    msg = await error_of(tmp_path, files)
    assert msg.startswith("Rates.csv:2:6: expected 6 fields")
    files = dict(RATING)
    files["Timings"] = "PEAK,*any,13,*any,*any,08:00:00"
    assert await error_of(tmp_path, files) == "Timings.csv:1:3: Months 13 is out of range (1..12)"
    files["Timings"] = "PEAK,*any,*any,*any,*any,8am"
    assert await error_of(tmp_path, files) == "Timings.csv:1:6: Time '8am' is not HH:MM:SS (or *asap)"
    files = dict(RATING)
    files["DestinationRates"] = "DR_1,DST_1002,RT_1,*ceil,4,0,"
    msg = await error_of(tmp_path, files)
    assert msg.startswith("DestinationRates.csv:1:4: RoundingMethod '*ceil' is not one of")
    files = dict(RATING)
    files["RatingProfiles"] = "cgrates.org,call,1001,yesterday,RP_1,"
    msg = await error_of(tmp_path, files)
    assert msg.startswith("RatingProfiles.csv:1:4: ActivationTime 'yesterday' is not a time")


async def test_dangling_references(tmp_path):
    files = dict(RATING)
    files["RatingPlans"] = """
        RP_1,DR_1,PEAK,10
        RP_1,DR_NONE,*any,10
    """
    assert await error_of(tmp_path, files) == (
        "RatingPlans.csv:2:2: rating plan RP_1 names unknown destination rates DR_NONE"
    )
    files["RatingPlans"] = "RP_1,DR_1,NIGHT,10"
    assert await error_of(tmp_path, files) == "RatingPlans.csv:1:3: rating plan RP_1 names unknown timing NIGHT"
    files = dict(RATING)
    files["DestinationRates"] = """
        DR_1,DST_1002,RT_1,*up,4,0,
        DR_1,DST_NONE,RT_1,*up,4,0,
    """
    assert await error_of(tmp_path, files) == (
        "DestinationRates.csv:2:2: destination rate DR_1 names unknown destination DST_NONE"
    )
    files["DestinationRates"] = "DR_1,DST_1002,RT_NONE,*up,4,0,"
    assert await error_of(tmp_path, files) == (
        "DestinationRates.csv:1:3: destination rate DR_1 names unknown rate RT_NONE"
    )
    files = dict(RATING)
    files["RatingProfiles"] = """
        cgrates.org,call,1001,2014-01-14T00:00:00Z,RP_1,
        cgrates.org,call,1002,2014-01-14T00:00:00Z,RP_NONE,
    """
    assert await error_of(tmp_path, files) == (
        "RatingProfiles.csv:2:5: rating profile *out:cgrates.org:call:1002 names unknown rating plan RP_NONE"
    )


async def test_duplicate_ids(tmp_path):
    files = dict(RATING)
    files["Timings"] = """
        #Tag,Years,Months,MonthDays,WeekDays,Time
        PEAK,*any,*any,*any,1;2;3;4;5,08:00:00
        PEAK,*any,*any,*any,6;7,00:00:00
    """
    assert await error_of(tmp_path, files) == "Timings.csv:3:1: duplicate timing ID PEAK (first defined at line 2)"
    files = dict(RATING)
    files["Rates"] = """
        RT_1,0.4,0.2,1m,60s,0
        RT_1,0,0.1,60s,1s,0s
    """
    assert await error_of(tmp_path, files) == (
        "Rates.csv:2:6: duplicate GroupIntervalStart 0s for rate RT_1 (first at line 1)"
    )
    files = dict(RATING)
    files["Destinations"] = """
        DST_1002,1002
        DST_10,10
        DST_1002,1002
    """
    assert await error_of(tmp_path, files) == (
        "Destinations.csv:3:2: duplicate prefix 1002 in destination DST_1002 (first at line 1)"
    )
    files = dict(RATING)
    files["RatingProfiles"] = """
        cgrates.org,call,1001,2014-01-14T00:00:00Z,RP_1,
        cgrates.org,call,1001,2014-01-14T00:00:00Z,RP_1,
    """
    assert await error_of(tmp_path, files) == (
        "RatingProfiles.csv:2:4: duplicate activation 2014-01-14T00:00:00Z for rating profile "
        "*out:cgrates.org:call:1001 (first at line 1)"
    )


async def test_errors_from_the_accounting_part_name_the_column(tmp_path):
    files = dict(RATING)
    files["Actions"] = "ACT_1,*topup_reset,,,,*monetary,,*any,,,*unlimited,,10,10,false,false,10"
    files["ActionPlans"] = "AP_1,ACT_1,*asap,10"
    files["AccountActions"] = """
        #Tenant,Account,ActionPlanId,ActionTriggersId,AllowNegative,Disabled
        cgrates.org,1001,AP_1,,,
        cgrates.org,1002,AP_NONE,,,
    """
    msg = await error_of(tmp_path, files)
    assert msg.startswith("AccountActions.csv:3:3: ") and "AP_NONE" in msg


# ---------------------------------------------------------------------------------------------------- profiles

PROFILES = {
    "Filters": """
        #Tenant[0],ID[1],Type[2],Element[3],Values[4],ActivationInterval[5]
        cgrates.org,FLTR_1,*string,~*req.Account,1001;1002,2014-07-29T15:00:00Z
        cgrates.org,FLTR_1,*prefix,~*req.Destination,10;20,
    """,
    "Attributes": """
        #Tenant,ID,Contexts,FilterIDs,ActivationInterval,AttributeFilterIDs,Path,Type,Value,Blocker,Weight
        cgrates.org,ATTR_1,*sessions;*cdrs,*string:~*req.Account:1007,2014-01-14T00:00:00Z,,,,,false,10
        cgrates.org,ATTR_1,,,,,*req.Account,*constant,1001,,
        cgrates.org,ATTR_1,,FLTR_1,,*string:~*req.X:1,*req.Subject,*constant,"a,b",,
    """,
    "Chargers": """
        cgrates.org,DEFAULT,,,*default,*none,0
        cgrates.org,CRG_2,FLTR_1,,run2,ATTR_1;ATTR_2,20
    """,
    "Resources": "cgrates.org,RES_1,FLTR_1,2014-07-29T15:00:00Z,*unlimited,7,,false,true,10,*none",
    "Stats": """
        cgrates.org,Stats1,FLTR_1,2014-07-29T15:00:00Z,100,3s,2,,,true,false,20,*none
        cgrates.org,Stats1,,,,,,*asr;*acc,,,,,
        cgrates.org,Stats1,,,,,,*pdd,*exists:~*req.PDD:,,,,
    """,
    "Thresholds": "cgrates.org,THD_1,FLTR_1,2014-07-29T15:00:00Z,-1,1,1s,false,10,ACT_LOG,true",
    "Routes": """
        cgrates.org,ROUTE_1,FLTR_1,2017-11-27T00:00:00Z,*weight,,,,,,,,,,,10
        cgrates.org,ROUTE_1,,,,,route1,,,RP_1,,,10,,,
        cgrates.org,ROUTE_1,,,,,route2,,,,,Stats1,20,false,param2,
    """,
    "DispatcherProfiles": """
        cgrates.org,DSP_1,*any,,,*weight,,ALL,,20,false,,10
        cgrates.org,DSP_1,,,,,,ALL2,,10,,,
    """,
    "DispatcherHosts": "cgrates.org,ALL,127.0.0.1:2012,*json",
    "Trends": "cgrates.org,TR_1,0 1 * * *,Stats1,*acc,0,-1,1,*last,5,false,TD1",
}


async def test_profiles_stored_merged(tmp_path):
    dm, result = await load(write(tmp_path, PROFILES))
    db = dm.datadb
    assert await db.get(k.FILTER, "cgrates.org:FLTR_1") == {
        "Tenant": "cgrates.org",
        "ID": "FLTR_1",
        "Rules": [
            {"Type": "*string", "Element": "~*req.Account", "Values": ["1001", "1002"]},
            {"Type": "*prefix", "Element": "~*req.Destination", "Values": ["10", "20"]},
        ],
        "ActivationInterval": {"ActivationTime": "2014-07-29T15:00:00Z", "ExpiryTime": "0001-01-01T00:00:00Z"},
    }
    attr = await db.get(k.ATTRIBUTE_PROFILE, "cgrates.org:ATTR_1")
    assert attr["Contexts"] == ["*sessions", "*cdrs"]
    assert attr["FilterIDs"] == ["*string:~*req.Account:1007", "FLTR_1"]
    assert attr["Weight"] == 10 and attr["Blocker"] is False
    assert attr["Attributes"] == [
        {"FilterIDs": [], "Path": "*req.Account", "Type": "*constant", "Value": "1001"},
        {"FilterIDs": ["*string:~*req.X:1"], "Path": "*req.Subject", "Type": "*constant", "Value": "a,b"},
    ]
    crg = await db.get(k.CHARGER_PROFILE, "cgrates.org:CRG_2")
    assert crg["RunID"] == "run2" and crg["AttributeIDs"] == ["ATTR_1", "ATTR_2"] and crg["Weight"] == 20
    res = await db.get(k.RESOURCE_PROFILE, "cgrates.org:RES_1")
    assert res["UsageTTL"] == -1 and res["Limit"] == 7 and res["Stored"] is True and res["ThresholdIDs"] == ["*none"]
    stats = await db.get(k.STATQUEUE_PROFILE, "cgrates.org:Stats1")
    assert stats["TTL"] == 3 * 10**9 and stats["QueueLength"] == 100 and stats["MinItems"] == 2
    assert stats["Metrics"] == [
        {"FilterIDs": [], "MetricID": "*asr"},
        {"FilterIDs": [], "MetricID": "*acc"},
        {"FilterIDs": ["*exists:~*req.PDD:"], "MetricID": "*pdd"},
    ]
    thd = await db.get(k.THRESHOLD_PROFILE, "cgrates.org:THD_1")
    assert thd["MaxHits"] == -1 and thd["MinSleep"] == 10**9 and thd["Async"] is True and thd["EeIDs"] == []
    route = await db.get(k.ROUTE_PROFILE, "cgrates.org:ROUTE_1")
    assert route["Sorting"] == "*weight" and route["Weight"] == 10
    assert [(r["ID"], r["Weight"]) for r in route["Routes"]] == [("route2", 20), ("route1", 10)]
    assert route["Routes"][1]["RatingPlanIDs"] == ["RP_1"] and route["Routes"][0]["StatIDs"] == ["Stats1"]
    dsp = await db.get(k.DISPATCHER_PROFILE, "cgrates.org:DSP_1")
    assert dsp["Strategy"] == "*weight" and [h["ID"] for h in dsp["Hosts"]] == ["ALL", "ALL2"]
    host = await db.get(k.DISPATCHER_HOST, "cgrates.org:ALL")
    assert host["Address"] == "127.0.0.1:2012" and host["Transport"] == "*json"
    assert await db.get("tp_trends", "rows") == [
        {
            "_line": 1,
            "fields": [
                "cgrates.org",
                "TR_1",
                "0 1 * * *",
                "Stats1",
                "*acc",
                "0",
                "-1",
                "1",
                "*last",
                "5",
                "false",
                "TD1",
            ],
        }
    ]
    assert any("Trends.csv" in w for w in result.warnings)


async def test_profile_errors(tmp_path):
    files = {"Attributes": "cgrates.org,ATTR_1,*any,,,,*req.X,,1,false,10"}
    assert (
        await error_of(tmp_path, files)
        == "Attributes.csv:1:8: attribute *req.X of ATTR_1 needs a Type (e.g. *constant)"
    )
    files = {"Thresholds": "cgrates.org,THD_1,,,many,1,1s,false,10,ACT,true,"}
    assert await error_of(tmp_path, files) == "Thresholds.csv:1:5: MaxHits 'many' is not an integer"
    files = {"Chargers": ",C1,,,*default,*none,0"}
    assert await error_of(tmp_path, files) == "Chargers.csv:1:1: missing Tenant"


# ---------------------------------------------------------------------------------------------------- API and CLI


async def test_load_tariff_plan_from_folder_api(tmp_path):
    folder = write(tmp_path / "tp", RATING)
    dm = new_dm()
    svc = LoaderService(SimpleNamespace(dm=dm, cfg=config_from_dict({})))
    assert await svc.load_tariff_plan_from_folder({"FolderPath": str(folder), "DryRun": True}) == "OK"
    assert await dm.datadb.keys(k.RATING_PLAN) == []
    assert await svc.load_tariff_plan_from_folder({"FolderPath": str(folder)}) == "OK"
    assert await dm.datadb.keys(k.RATING_PLAN) == ["RP_1"]
    with pytest.raises(RPCError) as err:
        await svc.load_tariff_plan_from_folder({})
    assert err.value.message == "MANDATORY_IE_MISSING: [FolderPath]"
    with pytest.raises(RPCError) as err:
        await svc.load_tariff_plan_from_folder({"FolderPath": str(tmp_path / "none")})
    assert err.value.message == "INVALID_PATH"
    write(folder, {"RatingPlans": "RP_1,DR_NONE,*any,10"})
    with pytest.raises(RPCError) as err:
        await svc.load_tariff_plan_from_folder({"FolderPath": str(folder)})
    assert err.value.message == (
        "SERVER_ERROR: RatingPlans.csv:1:2: rating plan RP_1 names unknown destination rates DR_NONE"
    )


def _config_dir(tmp_path: Path) -> Path:
    cfg = tmp_path / "etc"
    cfg.mkdir()
    data = tmp_path / "data"
    (cfg / "cgrates.json").write_text(
        json.dumps(
            {
                "data_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": str(data)}},
                "stor_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": str(data)}},
            }
        )
    )
    return cfg


async def test_cgr_loader(tmp_path):
    cfg = _config_dir(tmp_path)
    folder = write(tmp_path / "tp", RATING)
    out, err = io.StringIO(), io.StringIO()
    args = cli.parse_args(["-config_dir", str(cfg), "-path", str(folder), "-dry_run"])
    assert await cli.run(args, out, err) == 0
    assert "would load RatingPlans: 1" in out.getvalue()
    conf = load_config(str(cfg))
    db = await open_datadb(conf.section("data_db"))
    try:
        assert await db.keys(k.RATING_PLAN) == []  # the dry run wrote nothing
    finally:
        await db.close()

    args = cli.parse_args(["-config_dir", str(cfg), "-path", str(folder), "-verbose", "-to_stordb", "-tpid", "T1"])
    assert await cli.run(args, out, err) == 0
    assert "loaded Destinations: 2" in out.getvalue()
    db = await open_datadb(conf.section("data_db"))
    try:
        assert await db.get(k.RATING_PLAN, "RP_1") is not None
    finally:
        await db.close()
    sdb = await open_stordb(conf.section("stor_db"))
    try:
        rows = await sdb.get_tp("T1", "Rates")
        assert [r["ID"] for r in rows] == ["RT_1", "RT_1", "RT_DATA"]
    finally:
        await sdb.close()

    write(folder, {"RatingPlans": "RP_1,DR_NONE,*any,10"})
    err = io.StringIO()
    args = cli.parse_args(["-config_dir", str(cfg), "-path", str(folder)])
    assert await cli.run(args, io.StringIO(), err) == 1
    assert "RatingPlans.csv:1:2: rating plan RP_1 names unknown destination rates DR_NONE" in err.getvalue()


def test_tariff_plan_reads_every_known_file(tmp_path):
    folder = write(tmp_path, {**RATING, **PROFILES})
    tp = TariffPlan.from_folder(folder)
    assert {"Rates.csv", "Attributes.csv", "DispatcherHosts.csv", "Trends.csv"} <= set(tp.files)


async def test_crlf_and_byte_order_mark(tmp_path):
    folder = write(tmp_path, RATING)
    (folder / "Destinations.csv").write_bytes(b"\xef\xbb\xbf#Id,Prefix\r\nDST_1002,1002\r\nDST_10,10\r\n")
    dm, _ = await load(folder)
    assert await dm.datadb.get(k.DESTINATION, "DST_1002") == {"Id": "DST_1002", "Prefixes": ["1002"]}
