"""CDRs → ThresholdS and StatS in a real cgr-engine over JSON-RPC (CGRateS's cdrs.go thdSProcessEvent and
statSProcessEvent): each stored CDR is an event of its own with a new ID (CDR.AsCGREvent), and ThresholdS's copy
of the options says ``*eventType`` CDR.

From the oldtutorial's CSVs: THD_CDRS_1 matches FLTR_ACNT_1007 (Account 1007) and FLTR_CDR_UPDATE
(``*string:~*opts.*eventType:CDR``), MaxHits 1, LOG_WARNING (``*log``); the charger DEFAULT runs *default.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pycgrates.engine.models.cdr import event_cgrid
from tests.engine_proc import EngineProcess
from tests.integration.test_sessions import start_engine

T = "cgrates.org"
CALL = {"Account": "1007", "Subject": "1007", "Destination": "1002", "OriginID": "cdr-ev-1", "OriginHost": "pbx",
        "RequestType": "*rated", "ToR": "*voice", "SetupTime": "2024-05-01T11:00:00Z",
        "AnswerTime": "2024-05-01T11:00:05Z", "Usage": "90s"}


@pytest.fixture
def oldtutorial(tmp_path) -> Iterator[EngineProcess]:
    eng = start_engine(tmp_path, "oldtutorial", {
        "cdrs": {"thresholds_conns": ["*internal"], "stats_conns": ["*internal"]},
        "stats": {"enabled": True, "store_interval": "-1"},
        "thresholds": {"enabled": True, "store_interval": "-1", "apiers_conns": ["*internal"]}})
    yield eng
    eng.kill()


def test_cdr_events_reach_thresholds_and_stats_as_cgrates_sends_them(oldtutorial):
    assert oldtutorial.call("APIerSv1.SetStatQueueProfile", {
        "Tenant": T, "ID": "CDR_Q", "FilterIDs": ["*string:~*req.Account:1007"], "QueueLength": 10, "TTL": -1,
        "MinItems": 1, "Metrics": [{"MetricID": "*tcc"}], "Stored": True, "Weight": 10,
        "ThresholdIDs": ["*none"]}) == "OK"
    assert oldtutorial.call("CDRsV1.ProcessEvent", {"Flags": ["*rals", "*thresholds", "*stats"], "Tenant": T,
                                                    "ID": "cdr1", "Event": CALL}) == "OK"
    assert oldtutorial.call("ThresholdSv1.GetThreshold", {"Tenant": T, "ID": "THD_CDRS_1"})["Hits"] == 1
    # a second call of 1007: MaxHits 1 reached; its CDR is a new event in the queue
    assert oldtutorial.call("CDRsV1.ProcessEvent", {"Flags": ["*rals", "*thresholds", "*stats"], "Tenant": T,
                                                    "ID": "cdr2", "Event": {**CALL, "OriginID": "cdr-ev-2"}}) == "OK"
    assert oldtutorial.call("ThresholdSv1.GetThreshold", {"Tenant": T, "ID": "THD_CDRS_1"})["Hits"] == 1
    queue = oldtutorial.call("StatSv1.GetStatQueue", {"Tenant": T, "ID": "CDR_Q"})
    ids = [item["EventID"] for item in queue["SQItems"]]
    cgrids = {event_cgrid({**CALL, "OriginID": o}) for o in ("cdr-ev-1", "cdr-ev-2")}
    assert len(ids) == len(set(ids)) == 2 and all(ids) and not cgrids & set(ids)
