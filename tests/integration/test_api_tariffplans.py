"""APIerSv1's offline tariff plans over JSON-RPC against a running cgr-engine: every TP type set, read, removed
and listed as CGRateS's TP objects (on the *internal, PostgreSQL and MariaDB StorDBs), imported from and exported
to folders, and loaded into the DataDB whole or one object at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.engine_proc import EngineProcess
from tests.integration.apier_io import balance_of, error_of
from tests.integration.cdrs_io import T, engine_overrides, start_engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[EngineProcess]:
    tmp = tmp_path_factory.mktemp("api_tariffplans")
    eng = start_engine(tmp, lambda port: engine_overrides(tmp, port))
    try:
        yield eng
    finally:
        eng.kill()


def tp_types() -> list[Any]:
    from pycgrates.engine.loader.tp_types import TP_TYPES

    return list(TP_TYPES)


def tp_key(tp: Any, obj: dict) -> dict:
    if tp.key_arg != "ID":
        return {"TPid": obj["TPid"], tp.key_arg: ":".join(["", *(obj[f] for f in tp.key_fields)])}
    return {"TPid": obj["TPid"], **{f: obj[f] for f in tp.key_fields}}


def test_every_tp_type_round_trips_through_the_stordb(engine):
    assert_tp_round_trip(engine, "OLD")


@pytest.mark.parametrize(("backend", "port"), [("postgres", 5432), ("mysql", 3306)])
def test_tp_objects_round_trip_through_sql_stordbs(tmp_path, backend, port):
    import uuid

    from tests.conftest import require_service

    require_service("127.0.0.1", port, f"{backend} (bash .ci/services starts it)")

    def overrides(rpc_port: int) -> dict:
        out = engine_overrides(tmp_path, rpc_port)
        out["stor_db"] = {"db_type": f"*{backend}", "db_port": port, "db_user": "cgrates",
                          "db_password": "CGRateS.org", "db_name": "cgrates"}
        return out

    eng = start_engine(tmp_path, overrides, load_plan=False)
    tpid = f"API_{uuid.uuid4().hex[:10]}"
    try:
        assert_tp_round_trip(eng, tpid)
        assert_edited_plan_exports_and_loads(eng, tmp_path / "export", f"{tpid}_IT")
    finally:  # the SQL tables are shared: leave nothing behind
        for tp in tp_types():
            for owner in (tpid, f"{tpid}_IT"):
                try:
                    for oid in eng.call(f"APIerSv1.{tp.ids_method}", {"TPid": owner}) if tp.ids_method else []:
                        eng.call(f"APIerSv1.Remove{tp.name}", {"TPid": owner, **_key_args(tp, oid)})
                except RuntimeError:  # NOT_FOUND: nothing left of this type
                    pass
        eng.kill()


def _key_args(tp: Any, oid: str) -> dict:
    if tp.key_arg != "ID":
        return {tp.key_arg: ":" + oid}
    return dict(zip(tp.key_fields, oid.split(":"), strict=True))


def assert_tp_round_trip(engine: EngineProcess, tpid: str) -> None:
    """Import the old tutorial under ``tpid``; every object of every type reads, removes and sets back the same."""
    from tests.conftest import shared_data

    folder = shared_data("tariffplans", "oldtutorial")
    assert engine.call("APIerSv1.ImportTariffPlanFromFolder", {"TPid": tpid, "FolderPath": str(folder)}) == "OK"
    seen = 0
    for tp in tp_types():
        if tp.ids_method:
            ids = engine.call(f"APIerSv1.{tp.ids_method}", {"TPid": tpid})
        else:  # CGRateS has no Get...IDs for these: the IDs the CSV file holds
            rows = (folder / f"{tp.table}.csv").read_text().splitlines()[1:]
            ids = sorted({":".join(r.split(",")[:2]) for r in rows if r.strip()})
        assert ids and ids == sorted(ids), tp.name
        for oid in ids:
            args = {"TPid": tpid, **_key_args(tp, oid)}
            obj = engine.call(f"APIerSv1.Get{tp.name}", args)
            assert obj["TPid"] == tpid
            assert engine.call(f"APIerSv1.Remove{tp.name}", tp_key(tp, obj)) == "OK"
            assert error_of(engine, f"APIerSv1.Get{tp.name}", args) == "NOT_FOUND"
            assert engine.call(f"APIerSv1.Set{tp.name}", obj) == "OK"
            assert engine.call(f"APIerSv1.Get{tp.name}", args) == obj, (tp.name, oid)
            seen += 1
        if tp.ids_method:
            assert engine.call(f"APIerSv1.{tp.ids_method}", {"TPid": tpid}) == ids
    assert seen > 40
    assert error_of(engine, "APIerSv1.GetTPDestinationIDs", {"TPid": "NONE"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.GetTPDestination", {"ID": "x"}) == "MANDATORY_IE_MISSING: [TPid]"
    assert error_of(engine, "APIerSv1.SetTPRate", {"TPid": tpid}) == "MANDATORY_IE_MISSING: [ID]"
    assert engine.call("APIerSv1.GetTPDestinationIDs", {"TPid": tpid, "Limit": 1, "Offset": 1}) == [
        engine.call("APIerSv1.GetTPDestinationIDs", {"TPid": tpid})[1]]


def test_a_tariff_plan_edited_in_the_stordb_is_exported_and_loaded(engine, tmp_path):
    assert_edited_plan_exports_and_loads(engine, tmp_path, "EDIT")


def assert_edited_plan_exports_and_loads(engine: EngineProcess, tmp_path: Any, tpid: str) -> None:
    """A rating plan for Italy set object by object under ``tpid``, exported to ``tmp_path``, loaded and used."""
    assert engine.call("APIerSv2.SetTPDestination", {"TPid": tpid, "ID": "DST_IT", "Prefixes": ["39", "3934"]}) == "OK"
    assert engine.call("APIerSv2.GetTPDestination", {"TPid": tpid, "ID": "DST_IT"}) == {
        "TPid": tpid, "ID": "DST_IT", "Prefixes": ["39", "3934"]}
    assert engine.call("APIerSv1.SetTPRate", {"TPid": tpid, "ID": "RT_IT", "RateSlots": [
        {"ConnectFee": 0, "Rate": 0.3, "RateUnit": "60s", "RateIncrement": "60s", "GroupIntervalStart": "0s"}]}) == "OK"
    assert engine.call("APIerSv1.SetTPDestinationRate", {"TPid": tpid, "ID": "DR_IT", "DestinationRates": [
        {"DestinationId": "DST_IT", "RateId": "RT_IT", "RoundingMethod": "*up", "RoundingDecimals": 4}]}) == "OK"
    assert engine.call("APIerSv1.SetTPRatingPlan", {"TPid": tpid, "ID": "RP_IT", "RatingPlanBindings": [
        {"DestinationRatesId": "DR_IT", "TimingId": "*any", "Weight": 10}]}) == "OK"
    assert engine.call("APIerSv1.SetTPRatingProfile", {
        "TPid": tpid, "LoadId": "api", "Tenant": T, "Category": "call", "Subject": "it_caller",
        "RatingPlanActivations": [{"ActivationTime": "2014-01-14T00:00:00Z", "RatingPlanId": "RP_IT",
                                   "FallbackSubjects": ""}]}) == "OK"
    exported = engine.call("APIerSv1.ExportTPToFolder", {"TPid": tpid, "ExportPath": str(tmp_path)})
    assert exported["ExportPath"] == str(tmp_path) and sorted(exported["ExportedFiles"]) == sorted(
        p.name for p in tmp_path.iterdir())
    assert "39" in (tmp_path / "Destinations.csv").read_text()
    # nothing in the DataDB until loaded
    assert error_of(engine, "APIerSv1.GetDestination", "DST_IT") == "NOT_FOUND"
    assert engine.call("APIerSv1.LoadTariffPlanFromStorDb", {"TPid": tpid, "DryRun": True}) == "OK"
    assert error_of(engine, "APIerSv1.GetDestination", "DST_IT") == "NOT_FOUND"
    assert engine.call("APIerSv1.LoadTariffPlanFromStorDb", {"TPid": tpid}) == "OK"
    assert engine.call("APIerSv1.GetDestination", "DST_IT")["Prefixes"] == ["39", "3934"]
    cost = engine.call("APIerSv1.GetCost", {"Tenant": T, "Category": "call", "Subject": "it_caller",
                                            "Destination": "39061234", "AnswerTime": "2024-01-15T10:00:00Z",
                                            "Usage": "2m"})
    assert cost["Cost"] == pytest.approx(0.6)
    assert engine.call("APIerSv2.RemoveTPDestination", {"TPid": tpid, "ID": "DST_IT"}) == "OK"
    assert error_of(engine, "APIerSv1.LoadTariffPlanFromStorDb", {"TPid": "NONE"}) == "NOT_FOUND"


def set_tp_rating(engine: EngineProcess, tpid: str, name: str, prefix: str, rate: float) -> None:
    assert engine.call("APIerSv1.SetTPDestination", {"TPid": tpid, "ID": f"DST_{name}", "Prefixes": [prefix]}) == "OK"
    slot = {"ConnectFee": 0, "Rate": rate, "RateUnit": "60s", "RateIncrement": "60s", "GroupIntervalStart": "0s"}
    assert engine.call("APIerSv1.SetTPRate", {"TPid": tpid, "ID": f"RT_{name}", "RateSlots": [slot]}) == "OK"
    binding = {"DestinationId": f"DST_{name}", "RateId": f"RT_{name}", "RoundingMethod": "*up", "RoundingDecimals": 4}
    assert engine.call("APIerSv1.SetTPDestinationRate", {"TPid": tpid, "ID": f"DR_{name}",
                                                         "DestinationRates": [binding]}) == "OK"
    assert engine.call("APIerSv1.SetTPRatingPlan", {"TPid": tpid, "ID": f"RP_{name}", "RatingPlanBindings": [
        {"DestinationRatesId": f"DR_{name}", "TimingId": "*any", "Weight": 10}]}) == "OK"


def test_rating_plans_profiles_and_accounts_loaded_one_by_one_from_the_stordb(engine):
    tpid = "PARTS"
    set_tp_rating(engine, tpid, "ES", "34", 0.2)
    set_tp_rating(engine, tpid, "UNUSED", "99", 1)
    assert engine.call("APIerSv1.SetTPRatingProfile", {
        "TPid": tpid, "LoadId": "x", "Tenant": T, "Category": "call", "Subject": "es_caller",
        "RatingPlanActivations": [{"ActivationTime": "2014-01-14T00:00:00Z", "RatingPlanId": "RP_ES",
                                   "FallbackSubjects": ""}]}) == "OK"
    assert engine.call("APIerSv1.LoadRatingPlan", {"TPid": tpid, "RatingPlanId": "RP_ES"}) == "OK"
    assert engine.call("APIerSv1.GetDestination", "DST_ES")["Prefixes"] == ["34"]
    assert error_of(engine, "APIerSv1.GetDestination", "DST_UNUSED") == "NOT_FOUND"  # only what RP_ES uses
    assert error_of(engine, "APIerSv1.LoadRatingPlan", {"TPid": tpid, "RatingPlanId": "NOPE"}) == "NOT_FOUND"
    call = {"Tenant": T, "Category": "call", "Subject": "es_caller", "Destination": "3491",
            "AnswerTime": "2024-01-15T10:00:00Z", "Usage": "3m"}
    assert error_of(engine, "APIerSv1.GetCost", call).startswith("SERVER_ERROR")  # no rating profile yet
    assert engine.call("APIerSv1.LoadRatingProfile", {"TPid": tpid, "Tenant": T, "Category": "call",
                                                      "Subject": "es_caller"}) == "OK"
    assert engine.call("APIerSv1.GetCost", call)["Cost"] == pytest.approx(0.6)
    assert engine.call("APIerSv1.SetTPActions", {"TPid": tpid, "ID": "ACT_ES", "Actions": [
        {"Identifier": "*topup_reset", "BalanceType": "*monetary", "Units": "7", "BalanceId": "es",
         "Weight": 10}]}) == "OK"
    assert engine.call("APIerSv1.SetTPActionPlan", {"TPid": tpid, "ID": "AP_ES", "ActionPlan": [
        {"ActionsId": "ACT_ES", "TimingId": "*asap", "Weight": 10}]}) == "OK"
    assert engine.call("APIerSv1.SetTPAccountActions", {"TPid": tpid, "LoadId": "x", "Tenant": T,
                                                        "Account": "es_acc", "ActionPlanId": "AP_ES"}) == "OK"
    assert engine.call("APIerSv1.LoadAccountActions", {"TPid": tpid, "Tenant": T, "Account": "es_acc"}) == "OK"
    assert balance_of(engine, "es_acc", "es") == 7
    assert error_of(engine, "APIerSv1.LoadAccountActions", {"TPid": tpid, "Account": "nobody"}) == "NOT_FOUND"
