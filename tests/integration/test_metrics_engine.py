"""/metrics and the PrometheusAgent of a real cgr-engine, read with prometheus_client's text parser: every metric
the engine promises is there and moves under load (RPC and RADIUS requests, a retransmission, a prepaid session's
debit loop, durable writes, StatS events)."""

from __future__ import annotations

import time
import urllib.request

import pytest

from tests.conftest import shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides, without_unavailable_services
from tests.integration.test_radius_agent import INTERIM_DEBIT, exchange, interim

parser = pytest.importorskip("prometheus_client.parser")

TENANT = "cgrates.org"
SQ = {"Tenant": TENANT, "ID": "SQ_METRICS", "FilterIDs": ["*string:~*req.Account:3001"], "QueueLength": 10,
      "TTL": -1, "MinItems": 1, "Metrics": [{"MetricID": "*asr"}, {"MetricID": "*tcc"}], "Stored": False,
      "Weight": 50, "ThresholdIDs": ["*none"]}
#: (family, sample, labels that must match) of every figure the engine promises, and how it moves under load
MOVING = (
    ("cgr_rpc_requests", "cgr_rpc_requests_total", {"method": "SessionSv1.InitiateSession"}),
    ("cgr_rpc_request_seconds", "cgr_rpc_request_seconds_count", {"method": "StatSv1.ProcessEvent"}),
    ("cgr_agent_requests", "cgr_agent_requests_total", {"agent": "RadiusAgent", "type": "*radAcctUpdate"}),
    ("cgr_agent_request_duration_seconds", "cgr_agent_request_duration_seconds_count",
     {"agent": "RadiusAgent", "type": "*radAcctUpdate"}),
    ("cgr_agent_duplicate_requests", "cgr_agent_duplicate_requests_total", {}),
    ("cgr_session_debit_lag_seconds", "cgr_session_debit_lag_seconds_count", {}),
    ("cgr_storage_write_duration_seconds", "cgr_storage_write_duration_seconds_count", {"db": "datadb"}),
    ("cgr_storage_write_duration_seconds", "cgr_storage_write_duration_seconds_count", {"db": "stordb"}),
)


def scrape(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.headers.get_content_type() == "text/plain"
        text = reply.read().decode()
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def value(families: dict, family: str, sample: str, labels: dict) -> float:
    """The sample's value (0 when the family is there without it yet); KeyError when the family is absent."""
    found = [s.value for s in families[family].samples if s.name == sample and labels.items() <= s.labels.items()]
    return sum(found)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("metrics")
    port, http, acct = free_port(), free_port(), free_port()
    overrides = storage_overrides(tmp, port, http)
    overrides["radius_agent"] = {
        "listeners": [{"network": "udp", "auth_address": f"127.0.0.1:{free_port()}",
                       "acct_address": f"127.0.0.1:{acct}"}],
        "client_dictionaries": {"*default": [str(shared_data("radius", "dict"))]},
        "request_processors": [INTERIM_DEBIT],
    }
    overrides["stats"] = {"enabled": True, "store_interval": "-1"}
    overrides["cdrs"] = {"enabled": True, "chargers_conns": ["*internal"], "rals_conns": ["*internal"]}
    overrides["prometheus_agent"] = {"enabled": True, "stats_conns": ["*internal"], "apiers_conns": ["*internal"],
                                     "caches_conns": ["*internal"], "cores_conns": ["*internal"],
                                     "cache_ids": ["*rating_plans"], "collect_process_metrics": True,
                                     "collect_go_metrics": True}
    src = shared_data("conf", "samples", "radagent_internal")
    overrides.update(without_unavailable_services(src))
    eng = EngineProcess(make_config_dir(tmp / "cfg", src, overrides=overrides), port, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "oldtutorial"))}) == "OK"
        eng.http = f"http://127.0.0.1:{http}"  # type: ignore[attr-defined]
        eng.acct = acct  # type: ignore[attr-defined]
        yield eng
    finally:
        eng.kill()


def load(eng) -> None:
    """A little of everything the metrics count."""
    eng.call("APIerSv1.SetAccount", {"Tenant": TENANT, "Account": "1002"})
    eng.call("APIerSv1.SetBalance", {"Tenant": TENANT, "Account": "1002", "BalanceType": "*monetary",
                                     "Value": 10, "Balance": {"ID": "LOAD"}})  # below the *max_balance triggers
    retransmitted = interim(41, "metrics-dup")
    assert len(exchange(eng.acct, [retransmitted, retransmitted])) == 2
    for i in range(5):
        assert len(exchange(eng.acct, [interim(50 + i, f"metrics-{i}")])) == 1
    for i, answered in enumerate((True, False, True)):
        fields = {"Account": "3001", "Usage": "60s", "Cost": 1.25}
        if answered:
            fields["AnswerTime"] = "2024-03-01T10:00:00Z"
        eng.call("StatSv1.ProcessEvent", {"Tenant": TENANT, "ID": f"metrics-ev-{i}", "Event": fields})
    eng.call("SessionSv1.InitiateSession", {
        "InitSession": True, "Tenant": TENANT, "ID": "metrics-session",
        "APIOpts": {"*sessionsDebitInterval": "100ms"},
        "Event": {"Account": "1002", "Destination": "1001", "OriginID": "metrics-loop", "OriginHost": "m",
                  "RequestType": "*prepaid", "Category": "call", "SetupTime": "2024-03-01T10:00:00Z",
                  "AnswerTime": "2024-03-01T10:00:00Z"}})
    assert eng.call("SessionSv1.ProcessCDR", {"Tenant": TENANT, "ID": "metrics-cdr", "Event": {
        "Account": "1002", "Destination": "1001", "OriginID": "metrics-cdr", "OriginHost": "m", "Usage": "10s",
        "RequestType": "*postpaid", "Category": "call", "SetupTime": "2024-03-01T10:00:00Z",
        "AnswerTime": "2024-03-01T10:00:00Z"}}) == "OK"
    time.sleep(0.6)  # a few turns of the debit loop


def test_every_engine_metric_is_there_and_moves_under_load(engine):
    assert engine.call("APIerSv1.SetStatQueueProfile", SQ) == "OK"
    before = scrape(engine.http + "/metrics")
    for family, _, _ in MOVING:
        assert family in before, family
    assert value(before, "cgr_active_sessions", "cgr_active_sessions", {}) == 0
    load(engine)
    after = scrape(engine.http + "/metrics")
    for family, sample, labels in MOVING:
        assert value(after, family, sample, labels) > value(before, family, sample, labels), (sample, labels)
    assert before["cgr_rpc_request_seconds"].type == "histogram"
    assert after["cgr_session_debit_lag_seconds"].type == "histogram"
    active = engine.call("SessionSv1.GetActiveSessionsCount", {})
    assert active >= 1 and value(after, "cgr_active_sessions", "cgr_active_sessions", {}) == active
    reported = engine.call("StatSv1.GetQueueFloatMetrics", {"Tenant": TENANT, "ID": "SQ_METRICS"})
    shown = {s.labels["metric"]: s.value for s in after["cgrates_stats_metrics"].samples
             if s.labels["queue"] == "SQ_METRICS" and s.labels["tenant"] == TENANT}
    assert shown == reported and reported["*asr"] == pytest.approx(200 / 3, abs=0.01)
    engine.call("SessionSv1.TerminateSession", {"TerminateSession": True, "Tenant": TENANT, "ID": "metrics-end",
                                                "Event": {"OriginID": "metrics-loop", "OriginHost": "m",
                                                          "Account": "1002", "Destination": "1001",
                                                          "Usage": "1s"}})


def test_the_prometheus_agent_serves_cgrates_families(engine):
    families = scrape(engine.http + "/prometheus")
    queues = {(s.labels["queue"], s.labels["metric"]): s.value for s in families["cgrates_stats_metrics"].samples}
    for queue_id in engine.call("APIerSv1.GetStatQueueProfileIDs", {"Tenant": TENANT}):
        metrics = engine.call("StatSv1.GetQueueFloatMetrics", {"Tenant": TENANT, "ID": queue_id})
        assert {m: queues[(queue_id, m)] for m in metrics} == metrics
    [items] = [s for s in families["cgrates_cache_items_total"].samples]
    status = engine.call("CoreSv1.Status", {})
    assert items.labels == {"cache": "*rating_plans", "node_id": status["NodeID"]}
    assert items.value == engine.call("CacheSv1.GetCacheStats", {"CacheIDs": ["*rating_plans"]})["*rating_plans"][
        "Items"]
    [info] = families["cgrates_core_info"].samples
    assert info.labels["node_id"] == status["NodeID"] and info.labels["version"] == status["Version"]
    assert families["process_resident_memory_bytes"].samples[0].value > 0
    assert families["process_cpu_seconds"].type == "counter"
    assert families["python_info"].samples[0].labels["implementation"] == "CPython"
