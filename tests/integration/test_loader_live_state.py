"""A tariff-plan load and the live state of ResourceS, ThresholdS and StatS, in a real cgr-engine over JSON-RPC.

A load through APIerSv1.LoadTariffPlanFromFolder resets a resource, threshold or stat queue whose profile it changed
in the fields that reset it when the profile is set through APIerSv1.Set<Type>Profile (CGRateS's loader writes its
profiles through the same DataManager.Set<Type>Profile); a load that changes nothing leaves them as they are.

From the tutorial's CSVs: ResGroup1 (Account 1001/1002/1003, Limit 7), THD_ACNT_1001 (MaxHits 1) and
THD_ACNT_1002 (MaxHits -1, MinSleep 1s) on the account's events, Stats2 (1001/1002, QueueLength 100, *tcc;*tcd).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides

T = "cgrates.org"


@pytest.fixture
def engine(tmp_path) -> Iterator[EngineProcess]:
    port = free_port()
    overrides = storage_overrides(tmp_path, port)
    overrides.update({"general": {"default_timezone": "UTC"}, "rals": {"enabled": True}, "apiers": {"enabled": True},
                      "resources": {"enabled": True, "store_interval": "-1"},
                      "stats": {"enabled": True, "store_interval": "-1"},
                      "thresholds": {"enabled": True, "store_interval": "-1", "apiers_conns": ["*internal"]}})
    eng = EngineProcess(make_config_dir(tmp_path / "cfg", overrides=overrides), port, tmp_path / "engine.log").start()
    try:
        yield eng
    finally:
        eng.kill()


def load(eng: EngineProcess, folder: Path) -> None:
    assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(folder)}) == "OK"


def changed_tutorial(tmp: Path, edits: dict[str, tuple[str, str]]) -> Path:
    """A copy of the tutorial with one line of some CSVs rewritten."""
    folder = tmp / "tutorial_changed"
    shutil.copytree(shared_data("tariffplans", "tutorial"), folder)
    for name, (old, new) in edits.items():
        text = (folder / name).read_text()
        assert old in text
        (folder / name).write_text(text.replace(old, new))
    return folder


def usages(eng: EngineProcess) -> list[str]:
    return sorted(eng.call("ResourceSv1.GetResource", {"Tenant": T, "ID": "ResGroup1"})["Usages"])


def hits(eng: EngineProcess, tid: str) -> int:
    return eng.call("ThresholdSv1.GetThreshold", {"Tenant": T, "ID": tid})["Hits"]


def tcc(eng: EngineProcess) -> str:
    return eng.call("StatSv1.GetQueueStringMetrics", {"Tenant": T, "ID": "Stats2"})["*tcc"]


def test_a_load_resets_what_its_changed_profiles_reset(engine, tmp_path):
    tutorial = shared_data("tariffplans", "tutorial")
    load(engine, tutorial)
    for uid in ("u1", "u2"):
        assert engine.call("ResourceSv1.AllocateResources", {"Tenant": T, "ID": uid, "Event": {"Account": "1001"},
                                                             "APIOpts": {"*rsUsageID": uid}}) == "ResGroup1"
    for n, account in enumerate(("1001", "1002", "1002")):
        assert engine.call("ThresholdSv1.ProcessEvent", {"Tenant": T, "ID": f"th{n}",
                                                         "Event": {"Account": account}}) == [f"THD_ACNT_{account}"]
    assert engine.call("StatSv1.ProcessEvent", {"Tenant": T, "ID": "st1", "Event": {
        "Account": "1001", "RunID": "*default", "Destination": "1002", "Usage": "1m", "Cost": 1.5}}) == ["Stats2"]
    state = (usages(engine), hits(engine, "THD_ACNT_1001"), hits(engine, "THD_ACNT_1002"), tcc(engine))
    assert state == (["u1", "u2"], 1, 2, "1.5")

    load(engine, tutorial)  # the same profiles again: nothing to reset
    assert (usages(engine), hits(engine, "THD_ACNT_1001"), hits(engine, "THD_ACNT_1002"), tcc(engine)) == state

    load(engine, changed_tutorial(tmp_path, {
        "Resources.csv": ("-1,7,", "-1,8,"),  # ResGroup1's Limit
        "Thresholds.csv": ("1002,2014-07-29T15:00:00Z,-1,1,1s", "1002,2014-07-29T15:00:00Z,-1,1,2s"),  # MinSleep
        "Stats.csv": ("Stats2,FLTR_ACNT_1001_1002,2014-07-29T15:00:00Z,100", "Stats2,FLTR_ACNT_1001_1002,"
                                                                           "2014-07-29T15:00:00Z,50")}))
    assert usages(engine) == []
    assert (hits(engine, "THD_ACNT_1001"), hits(engine, "THD_ACNT_1002")) == (1, 0)  # 1001's profile unchanged
    assert tcc(engine) == "N/A"
    assert engine.call("ResourceSv1.GetResourceWithConfig", {"ID": "ResGroup1"})["Config"]["Limit"] == 8
