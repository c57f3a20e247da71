"""FilterS's remote paths in a real cgr-engine over JSON-RPC, as CGRateS's dynamicDP reads them:
``~*resources.<ID>.<field>`` from ResourceSv1.GetResourceWithConfig (with its TotalUsage and Available) on
``filters.resources_conns``, and ``~*stats.<ID>.<metric>`` from StatSv1.GetQueueFloatMetrics on
``filters.stats_conns``. Threshold profiles carry the filters; ThresholdSv1.GetThresholdsForEvent says which pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides

T = "cgrates.org"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineProcess]:
    port = free_port()
    overrides = storage_overrides(tmp_path, port)
    overrides.update({"general": {"default_timezone": "UTC"}, "apiers": {"enabled": True},
                      "rals": {"enabled": True},
                      "filters": {"resources_conns": ["*internal"], "stats_conns": ["*internal"]},
                      "resources": {"enabled": True, "store_interval": "-1"},
                      "stats": {"enabled": True, "store_interval": "-1"},
                      "thresholds": {"enabled": True, "store_interval": "-1"}})
    eng = EngineProcess(make_config_dir(tmp_path / "cfg", overrides=overrides), port, tmp_path / "engine.log").start()
    try:
        yield eng
    finally:
        eng.kill()


def threshold(eng: EngineProcess, tid: str, *filters: str) -> None:
    assert eng.call("APIerSv1.SetThresholdProfile", {"Tenant": T, "ID": tid, "FilterIDs": list(filters),
                                                     "MaxHits": -1, "MinHits": 1, "Weight": 10}) == "OK"


def passing(eng: EngineProcess) -> list[str]:
    try:
        found = eng.call("ThresholdSv1.GetThresholdsForEvent", {"Tenant": T, "ID": "q", "Event": {"Account": "1"}})
    except RuntimeError as exc:
        assert str(exc) == "NOT_FOUND"
        return []
    return sorted(t["ID"] for t in found)


def test_resources_and_stats_paths(engine):
    assert engine.call("APIerSv1.SetResourceProfile", {
        "Tenant": T, "ID": "RES_LINES", "FilterIDs": ["*string:~*req.Account:1"], "UsageTTL": -1, "Limit": 3,
        "Weight": 10, "ThresholdIDs": ["*none"]}) == "OK"
    assert engine.call("APIerSv1.SetStatQueueProfile", {
        "Tenant": T, "ID": "SQ_CALLS", "FilterIDs": ["*string:~*req.Account:1"], "QueueLength": 10, "TTL": -1,
        "MinItems": 1, "Metrics": [{"MetricID": "*tcc"}, {"MetricID": "*tcd"}], "Weight": 10,
        "ThresholdIDs": ["*none"]}) == "OK"
    threshold(engine, "TH_BUSY", "*string:~*req.Account:1", "*gte:~*resources.RES_LINES.TotalUsage:2")
    threshold(engine, "TH_FULL", "*string:~*req.Account:1", "*lte:~*resources.RES_LINES.Available:0")
    threshold(engine, "TH_LIMIT", "*string:~*req.Account:1", "*gte:~*resources.RES_LINES.Config.Limit:3")
    threshold(engine, "TH_SPEND", "*string:~*req.Account:1", "*gt:~*stats.SQ_CALLS.*tcc:2.5")
    assert passing(engine) == ["TH_LIMIT"]
    for n in (1, 2):
        engine.call("ResourceSv1.AllocateResources", {"Tenant": T, "ID": f"a{n}", "Event": {"Account": "1"},
                                                      "APIOpts": {"*rsUsageID": f"call{n}"}})
    assert passing(engine) == ["TH_BUSY", "TH_LIMIT"]
    engine.call("ResourceSv1.AllocateResources", {"Tenant": T, "ID": "a3", "Event": {"Account": "1"},
                                                  "APIOpts": {"*rsUsageID": "call3"}})
    assert passing(engine) == ["TH_BUSY", "TH_FULL", "TH_LIMIT"]
    for n, cost in ((1, 1), (2, 2)):
        engine.call("StatSv1.ProcessEvent", {"Tenant": T, "ID": f"s{n}", "Event": {
            "Account": "1", "Usage": "1m", "Cost": cost}})
    assert passing(engine) == ["TH_BUSY", "TH_FULL", "TH_LIMIT", "TH_SPEND"]  # *tcc 3 > 2.5
