"""StatS in a running cgr-engine over JSON-RPC: the Stats.csv profiles of the tutorial, tutorial2 and oldtutorial
tariff plans, fed events whose string and float metrics are worked out by hand from the CSVs; threshold events
received by a ThresholdS peer listening on its own port; the stat queues back after kill -9 (store_interval -1)."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pycgrates.engine.cli import command
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry, rpc
from pycgrates.engine.rpc.server import StreamServer
from tests.conftest import shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, pipeline, storage_overrides

T = "cgrates.org"
S = 1_000_000_000
CONSOLE = command("console")


class ThresholdPeer:
    """A ThresholdS on its own listener: records the events StatS sends it."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.answer: str | None = None

    @rpc("ThresholdSv1.ProcessEvent")
    async def process_event(self, args: dict) -> list[str]:
        self.events.append(args)
        if self.answer is not None:
            raise RPCError(self.answer)
        return ["THD_X"]


@pytest.fixture(scope="module")
def threshold_peer() -> Iterator[tuple[ThresholdPeer, int]]:
    peer = ThresholdPeer()
    registry = Registry()
    registry.register_object(peer)
    loop = asyncio.new_event_loop()
    server = StreamServer(Dispatcher(registry), "127.0.0.1", 0, name="thresholds", max_message=1 << 20)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield peer, server.port
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def start_engine(tmp: Path, peer_port: int | None = None) -> EngineProcess:
    port = free_port()
    overrides = storage_overrides(tmp, port)
    stats: dict[str, Any] = {"enabled": True, "store_interval": "-1"}
    if peer_port is not None:
        stats["thresholds_conns"] = ["thresholds_peer"]
        overrides["rpc_conns"] = {"thresholds_peer": {"conns": [{"address": f"127.0.0.1:{peer_port}",
                                                                 "transport": "*json"}]}}
    overrides.update({"apiers": {"enabled": True}, "stats": stats, "general": {"default_timezone": "UTC"}})
    return EngineProcess(make_config_dir(tmp / "cfg", overrides=overrides), port, tmp / "engine.log").start()


@pytest.fixture
def engine(tmp_path) -> Iterator[EngineProcess]:
    eng = start_engine(tmp_path)
    try:
        yield eng
    finally:
        eng.kill()


def load(eng: EngineProcess, plan: str) -> None:
    assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                    {"FolderPath": str(shared_data("tariffplans", plan))}) == "OK"


def error_of(eng: EngineProcess, method: str, arg: Any) -> str:
    with pytest.raises(RuntimeError) as exc:
        eng.call(method, arg)
    return str(exc.value)


def event(ev_id: str, **fields: Any) -> dict:
    return {"Tenant": T, "ID": ev_id, "Event": fields}


def metrics(eng: EngineProcess, qid: str) -> tuple[dict, dict]:
    arg = {"Tenant": T, "ID": qid}
    return eng.call("StatSv1.GetQueueStringMetrics", arg), eng.call("StatSv1.GetQueueFloatMetrics", arg)


def test_tutorial_stats(engine):
    load(engine, "tutorial")
    assert engine.call("StatSv1.GetQueueIDs", {"Tenant": T}) == ["Stats2", "Stats2_1"]
    assert engine.call("APIerSv1.GetStatQueueProfileIDs", {"Tenant": T}) == ["Stats2", "Stats2_1"]
    # cgrates.org,Stats2,FLTR_ACNT_1001_1002,2014-07-29T15:00:00Z,100,-1,0,*tcc;*tcd,,false,true,30,*none
    assert engine.call("APIerSv1.GetStatQueueProfile", {"Tenant": T, "ID": "Stats2"}) == {
        "Tenant": T, "ID": "Stats2", "FilterIDs": ["FLTR_ACNT_1001_1002"],
        "ActivationInterval": {"ActivationTime": "2014-07-29T15:00:00Z", "ExpiryTime": "0001-01-01T00:00:00Z"},
        "QueueLength": 100, "TTL": -1, "MinItems": 0,
        "Metrics": [{"FilterIDs": None, "MetricID": "*tcc"}, {"FilterIDs": None, "MetricID": "*tcd"}],
        "Stored": False, "Blocker": True, "Weight": 30, "ThresholdIDs": ["*none"]}
    # no events yet: N/A even with MinItems 0
    assert metrics(engine, "Stats2") == ({"*tcc": "N/A", "*tcd": "N/A"}, {"*tcc": -1, "*tcd": -1})
    # FLTR_ACNT_1001_1002: Account 1001|1002, RunID *default, Destination 1001|1002|1003
    # FLTR_ACNT_1003_1001: Account 1003, RunID *default, Destination 1001
    t1 = event("t1", Account="1001", Destination="1002", RunID="*default", Usage=60 * S, Cost=1.2)
    assert engine.call("StatSv1.GetStatQueuesForEvent", t1) == ["Stats2"]
    assert engine.call("StatSv1.ProcessEvent", t1) == ["Stats2"]
    assert engine.call("StatSv1.ProcessEvent", event("t2", Account="1002", Destination="1003", RunID="*default",
                                                     Usage="1m30s", Cost=0.6)) == ["Stats2"]
    assert engine.call("StatSv1.ProcessEvent", event("t3", Account="1003", Destination="1001", RunID="*default",
                                                     Usage=10 * S, Cost=0.1)) == ["Stats2_1"]
    for miss in (event("t4", Account="1001", Destination="1002", RunID="*raw", Usage=S, Cost=1),
                 event("t5", Account="1001", Destination="1005", RunID="*default", Usage=S, Cost=1)):
        assert error_of(engine, "StatSv1.ProcessEvent", miss) == "NOT_FOUND"
    # Stats2: *tcc 1.2 + 0.6, *tcd 60s + 90s; Stats2_1: t3 alone
    assert metrics(engine, "Stats2") == ({"*tcc": "1.8", "*tcd": "2m30s"}, {"*tcc": 1.8, "*tcd": 150 * S})
    assert metrics(engine, "Stats2_1") == ({"*tcc": "0.1", "*tcd": "10s"}, {"*tcc": 0.1, "*tcd": 10 * S})
    queue = engine.call("StatSv1.GetStatQueue", {"Tenant": T, "ID": "Stats2"})
    assert queue["SQItems"] == [{"EventID": "t1", "ExpiryTime": None}, {"EventID": "t2", "ExpiryTime": None}]
    assert queue["SQMetrics"]["*tcc"]["Sum"] == 1.8 and queue["SQMetrics"]["*tcd"]["Count"] == 2
    assert engine.call("StatSv1.ResetStatQueue", {"Tenant": T, "ID": "Stats2"}) == "OK"
    assert metrics(engine, "Stats2")[0] == {"*tcc": "N/A", "*tcd": "N/A"}


def test_tutorial2_stats(engine):
    load(engine, "tutorial2")
    assert engine.call("StatSv1.GetQueueIDs", {}) == ["Stats"]
    # cgrates.org,Stats,FLTR_ACNT_1001_1002,2019-03-01T00:00:00Z,100,-1,0,*tcc;*tcd,,false,true,30,*none
    # FLTR_ACNT_1001_1002 here: Account 1001|1002, RunID *default, Destination 1001|1002 (no 1003)
    assert engine.call("StatSv1.ProcessEvent", event("u1", Account="1001", Destination="1002", RunID="*default",
                                                     Usage="2m", Cost=0.5)) == ["Stats"]
    assert error_of(engine, "StatSv1.ProcessEvent", event("u2", Account="1002", Destination="1003",
                                                          RunID="*default", Usage="1m", Cost=1)) == "NOT_FOUND"
    assert engine.call("StatSv1.ProcessEvent", event("u3", Account="1002", Destination="1001", RunID="*default",
                                                     Usage=45 * S, Cost=0.25)) == ["Stats"]
    assert metrics(engine, "Stats") == ({"*tcc": "0.75", "*tcd": "2m45s"}, {"*tcc": 0.75, "*tcd": 165 * S})


OLD_NA = {m: "N/A" for m in ("*asr", "*acc", "*tcc", "*acd", "*tcd", "*sum#~*req.Usage", "*average#~*req.Usage",
                             "*pdd")}


def test_oldtutorial_stats_with_min_items_and_ttl(engine):
    load(engine, "oldtutorial")
    # Stats1: FLTR_STS1 (Account 1001|1002), QueueLength 100, TTL 3s, MinItems 2, Stored, Weight 20,
    # *asr;*acc;*tcc;*acd;*tcd, *sum#~*req.Usage;*average#~*req.Usage, and *pdd on *exists:~*req.PDD:
    prf = engine.call("APIerSv1.GetStatQueueProfile", {"Tenant": T, "ID": "Stats1"})
    assert (prf["TTL"], prf["MinItems"], prf["Stored"], prf["Metrics"][-1]) == (
        3 * S, 2, True, {"FilterIDs": ["*exists:~*req.PDD:"], "MetricID": "*pdd"})
    assert metrics(engine, "Stats1")[0] == OLD_NA
    get = ("StatSv1.GetQueueStringMetrics", {"Tenant": T, "ID": "Stats1"})
    replies = pipeline(engine.rpc_port, [  # well within the 3s TTL
        ("StatSv1.ProcessEvent", event("o1", Account="1001", AnswerTime="2014-07-14T14:25:00Z", Usage=135 * S,
                                       Cost=123.0, PDD=12 * S)),
        get,
        ("StatSv1.ProcessEvent", event("o2", Account="1002", AnswerTime="2014-07-14T14:26:00Z", Usage=45 * S,
                                       Cost=12.1, PDD="3s")),
        get,
        ("StatSv1.ProcessEvent", event("o3", Account="1002", SetupTime="2014-07-14T14:25:00Z", Usage=0, Cost=0)),
        get,
        ("StatSv1.GetQueueFloatMetrics", {"Tenant": T, "ID": "Stats1"}),
        ("StatSv1.ProcessEvent", event("o4", Account="1003", Usage=S, Cost=1)),
    ])
    assert [r["error"] for r in replies] == [None] * 7 + ["NOT_FOUND"]
    assert replies[0]["result"] == ["Stats1"]
    assert replies[1]["result"] == OLD_NA  # one event < MinItems 2
    assert replies[3]["result"] == {
        "*asr": "100%", "*acd": "1m30s", "*tcd": "3m0s",  # (135s + 45s) / 2
        "*acc": "67.55", "*tcc": "135.1",  # (123 + 12.1) / 2
        "*sum#~*req.Usage": "180000000000", "*average#~*req.Usage": "90000000000", "*pdd": "7.5s"}  # (12s + 3s) / 2
    assert replies[5]["result"] == {
        "*asr": "66.66667%", "*acd": "1m0s", "*tcd": "3m0s", "*acc": "45.03333", "*tcc": "135.1",
        "*sum#~*req.Usage": "180000000000", "*average#~*req.Usage": "60000000000",
        "*pdd": "7.5s"}  # o3 has no PDD: the metric's filter leaves it out
    assert replies[6]["result"] == {
        "*asr": 66.66667, "*acd": 60 * S, "*tcd": 180 * S, "*acc": 45.03333, "*tcc": 135.1,
        "*sum#~*req.Usage": 180 * S, "*average#~*req.Usage": 60 * S, "*pdd": 7.5 * S}
    time.sleep(3.2)  # TTL 3s: every event has expired
    assert metrics(engine, "Stats1") == (OLD_NA, dict.fromkeys(OLD_NA, -1))
    assert engine.call("StatSv1.GetStatQueue", {"Tenant": T, "ID": "Stats1"})["SQItems"] == []


def stored_profile(pid: str, account: str = "1005", **extra: Any) -> dict:
    return {"Tenant": T, "ID": pid, "FilterIDs": [f"*string:~*req.Account:{account}"], "QueueLength": 0,
            "TTL": "1h", "MinItems": 1, "Metrics": [{"MetricID": "*acd"}, {"MetricID": "*asr"},
                                                    {"MetricID": "*distinct#~*req.Destination"}],
            "Stored": True, "Blocker": False, "Weight": 10, "ThresholdIDs": [], **extra}


def test_stat_queues_are_back_after_kill_9(tmp_path):
    eng = start_engine(tmp_path)
    try:
        load(eng, "tutorial")  # Stats2 is not Stored
        assert eng.call("APIerSv1.SetStatQueueProfile", stored_profile("SQ_STORED")) == "OK"
        for i, (dst, usage, answered) in enumerate((("1002", 60, True), ("1003", 0, False), ("1002", 30, True))):
            ev = event(f"k{i}", Account="1005", Destination=dst, Usage=usage * S)
            if answered:
                ev["Event"]["AnswerTime"] = "2024-01-01T10:00:00Z"
            assert eng.call("StatSv1.ProcessEvent", ev) == ["SQ_STORED"]
        assert eng.call("StatSv1.ProcessEvent", event("k9", Account="1001", Destination="1002", RunID="*default",
                                                      Usage=90 * S, Cost=3)) == ["Stats2"]
        before = eng.call("StatSv1.GetStatQueue", {"Tenant": T, "ID": "SQ_STORED"})
        expected = {"*acd": "30s", "*asr": "66.66667%", "*distinct#~*req.Destination": "2"}  # 90s/3, 2 of 3
        assert metrics(eng, "SQ_STORED")[0] == expected
        assert metrics(eng, "Stats2")[0] == {"*tcc": "3", "*tcd": "1m30s"}
        eng.kill()
        eng = start_engine(tmp_path)  # same data dirs
        assert eng.call("StatSv1.GetStatQueue", {"Tenant": T, "ID": "SQ_STORED"}) == before
        assert metrics(eng, "SQ_STORED")[0] == expected
        assert metrics(eng, "Stats2")[0] == {"*tcc": "N/A", "*tcd": "N/A"}  # not Stored: back empty
        assert eng.call("StatSv1.ProcessEvent", event("k3", Account="1005", Destination="1004",
                                                      Usage=90 * S)) == ["SQ_STORED"]
        assert metrics(eng, "SQ_STORED")[0] == {"*acd": "45s", "*asr": "50%", "*distinct#~*req.Destination": "3"}
    finally:
        eng.kill()


def test_threshold_events_reach_thresholds_conns(tmp_path, threshold_peer):
    peer, port = threshold_peer
    eng = start_engine(tmp_path, peer_port=port)
    try:
        assert eng.call("APIerSv1.SetStatQueueProfile", stored_profile("SQ_TH", ThresholdIDs=["THD_X"])) == "OK"
        assert eng.call("APIerSv1.SetStatQueueProfile", stored_profile(
            "SQ_NONE", Weight=5, ThresholdIDs=["*none"])) == "OK"
        ev = event("h1", Account="1005", Destination="1002", Usage=90 * S, AnswerTime="2024-01-01T10:00:00Z")
        ev["APIOpts"] = {"*stsProfileIgnoreFilters": False}
        assert eng.call("StatSv1.ProcessEvent", ev) == ["SQ_TH", "SQ_NONE"]
        assert len(peer.events) == 1
        [sent] = peer.events
        assert sent["Tenant"] == T and sent["ID"]
        assert sent["Event"] == {"EventType": "StatUpdate", "StatID": "SQ_TH", "*acd": 90 * S, "*asr": 100,
                                 "*distinct#~*req.Destination": 1}
        assert sent["APIOpts"] == {"*stsProfileIgnoreFilters": False, "*eventType": "StatUpdate",
                                   "*thdProfileIDs": ["THD_X"]}
        peer.answer = "SERVER_ERROR: down"
        assert error_of(eng, "StatSv1.ProcessEvent", {**ev, "ID": "h2"}) == "PARTIALLY_EXECUTED"
        assert metrics(eng, "SQ_TH")[0]["*acd"] == "1m30s"  # h2 counted all the same
    finally:
        peer.answer = None
        eng.kill()


def test_api_errors_and_console(engine):
    assert engine.call("StatSv1.Ping", {}) == "Pong"
    assert error_of(engine, "StatSv1.ProcessEvent", {"Tenant": T, "Event": {"Account": "1001"}}) == \
        "MANDATORY_IE_MISSING: [ID]"
    assert error_of(engine, "StatSv1.GetQueueStringMetrics", {"Tenant": T, "ID": "NOPE"}) == "NOT_FOUND"
    assert error_of(engine, "APIerSv1.SetStatQueueProfile", stored_profile("BAD", Metrics=[{"MetricID": "*nope"}])) \
        == "SERVER_ERROR: unsupported metric type <*nope>"
    assert engine.call("StatSv1.GetQueueIDs", {"Tenant": T}) == []
    assert error_of(engine, "APIerSv1.GetStatQueueProfileIDs", {"Tenant": T}) == "NOT_FOUND"

    def console(*words: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{engine.rpc_port}", *words],
                              capture_output=True, text=True, timeout=30)

    out = console("stats_profile_set", 'ID="SQ_CONSOLE"', 'FilterIDs=["*string:~*req.Account:1009"]',
                  'Metrics=[{"MetricID":"*tcd"}]')
    assert out.returncode == 0 and out.stdout.strip() == '"OK"', out.stderr
    out = console("stats_process_event", 'ID="c1"', 'Event={"Account":"1009","Usage":"75s"}')
    assert out.returncode == 0 and '"SQ_CONSOLE"' in out.stdout, out.stderr
    out = console("stats_metrics", 'ID="SQ_CONSOLE"')
    assert out.returncode == 0 and '"*tcd": "1m15s"' in out.stdout, out.stderr
    assert console("stats_profile_remove", 'ID="SQ_CONSOLE"').returncode == 0
    out = console("stats_metrics", 'ID="SQ_CONSOLE"')
    assert out.returncode == 1 and "NOT_FOUND" in out.stderr
