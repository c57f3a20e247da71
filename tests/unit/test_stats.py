"""StatS in process: a series of events with every metric worked out by hand (N/A below MinItems, TTL expiry), metric
filters, weights and blockers, what ThresholdS hears, queues following their profiles, and store_interval -1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.filters.service import FilterService
from pycgrates.engine.profiles.stats import CONSOLE_COMMANDS, StatService
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry, rpc
from pycgrates.engine.storage.base import STATQUEUE, MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from pycgrates.engine.storage.internal import InternalDataDB
from pycgrates.engine.units import SECOND

T = "cgrates.org"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class ThresholdPeer:
    """Stands in for ThresholdS (another service): records what StatS sends, answers as told."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.answer: str | None = None

    @rpc("ThresholdSv1.ProcessEvent")
    async def process_event(self, args: dict) -> list[str]:
        self.events.append(args)
        if self.answer is not None:
            raise RPCError(self.answer)
        return ["TH_1"]


def make_stats(overrides: dict | None = None, datadb: Any = None) -> tuple[StatService, Clock, ThresholdPeer]:
    registry = Registry()
    cfg = {"stats": {"store_interval": -1, "thresholds_conns": ["*internal"]}, **(overrides or {})}
    ctx = EngineContext(cfg=config_from_dict(cfg), dm=DataManager(datadb or MemoryDataDB(), Cache()), stordb=None,
                        registry=registry, conns=ConnManager(Dispatcher(registry), {}))
    ctx.services["filters"] = FilterService(ctx)
    svc = StatService(ctx)
    registry.register_object(svc)
    peer = ThresholdPeer()
    registry.register_object(peer)
    clock = Clock()
    svc.clock = clock
    return svc, clock, peer


ALL_METRICS = ["*asr", "*acd", "*tcd", "*acc", "*tcc", "*pdd", "*ddc", "*sum#~*req.Usage", "*average#~*req.Cost",
               "*distinct#~*req.Account", "*highest#~*req.Cost", "*lowest#~*req.Cost", "*repsc", "*repfc"]


def queue_profile(pid: str = "SQ_ALL", metrics: list | None = None, **extra: Any) -> dict:
    return {"Tenant": T, "ID": pid, "FilterIDs": ["*string:~*req.Tenant:cgrates.org"], "ActivationInterval": None,
            "QueueLength": 100, "TTL": 0, "MinItems": 2,
            "Metrics": [m if isinstance(m, dict) else {"MetricID": m, "FilterIDs": None}
                        for m in (ALL_METRICS if metrics is None else metrics)],
            "Stored": True, "Blocker": False, "Weight": 10, "ThresholdIDs": [], **extra}


async def process(svc: StatService, ev_id: str, **fields: Any) -> list[str]:
    return await svc.v1_process_event({"Tenant": T, "ID": ev_id, "Event": {"Tenant": T, **fields}})


async def strings(svc: StatService, qid: str = "SQ_ALL") -> dict:
    return await svc.get_queue_string_metrics({"Tenant": T, "ID": qid})


async def floats(svc: StatService, qid: str = "SQ_ALL") -> dict:
    return await svc.get_queue_float_metrics({"Tenant": T, "ID": qid})


NA = {m: "N/A" for m in ALL_METRICS}


async def test_a_series_of_events_worked_out_by_hand():
    svc, clock, _ = make_stats()
    await svc.api_set(queue_profile())
    assert await strings(svc) == NA and set((await floats(svc)).values()) == {-1.0}
    # e1: answered, 1m30s, cost 1.5, PDD 3s
    assert await process(svc, "e1", Account="1001", Destination="1002", AnswerTime="2024-05-01T11:58:30Z",
                         Usage=90 * SECOND, Cost=1.5, PDD="3s", ReplyState="OK") == ["SQ_ALL"]
    assert await strings(svc) == NA  # one event, MinItems 2: every metric N/A (*sum too)
    # e2: not answered, no usage, no cost, no PDD, failed
    clock.advance(1)
    await process(svc, "e2", Account="1002", Destination="1003", Usage=0, Cost=0, ReplyState="ERR_X;ERR_Y")
    assert await strings(svc) == {
        "*asr": "50%",  # 1 answered of 2
        "*acd": "45s", "*tcd": "1m30s",  # (90s + 0) / 2, 90s + 0
        "*acc": "0.75", "*tcc": "1.5",  # (1.5 + 0) / 2
        "*pdd": "N/A",  # only e1 has a PDD (e2 is left out of *pdd): 1 < MinItems
        "*ddc": "2",  # 1002, 1003
        "*sum#~*req.Usage": "90000000000", "*average#~*req.Cost": "0.75",
        "*distinct#~*req.Account": "2", "*highest#~*req.Cost": "1.5", "*lowest#~*req.Cost": "0",
        "*repsc": "N/A", "*repfc": "N/A",  # one OK, one failed: each below MinItems
    }
    # e3: answered, "2m" as text, cost "2.25", PDD 5s
    clock.advance(1)
    await process(svc, "e3", Account="1001", Destination="1002", AnswerTime="2024-05-01T11:58:00Z", Usage="2m",
                  Cost="2.25", PDD=5 * SECOND, ReplyState="OK")
    assert await strings(svc) == {
        "*asr": "66.66667%",  # 2/3 rounded to 5 decimals
        "*acd": "1m10s", "*tcd": "3m30s",  # 210s / 3, 210s
        "*acc": "1.25", "*tcc": "3.75",  # 3.75 / 3
        "*pdd": "4s",  # (3s + 5s) / 2
        "*ddc": "2", "*sum#~*req.Usage": "210000000000", "*average#~*req.Cost": "1.25",
        "*distinct#~*req.Account": "2", "*highest#~*req.Cost": "2.25", "*lowest#~*req.Cost": "0",
        "*repsc": "2", "*repfc": "N/A",
    }
    assert await floats(svc) == {
        "*asr": 66.66667, "*acd": 70e9, "*tcd": 210e9, "*acc": 1.25, "*tcc": 3.75, "*pdd": 4e9, "*ddc": 2.0,
        "*sum#~*req.Usage": 210e9, "*average#~*req.Cost": 1.25, "*distinct#~*req.Account": 2.0,
        "*highest#~*req.Cost": 2.25, "*lowest#~*req.Cost": 0.0, "*repsc": 2.0, "*repfc": -1.0}
    queue = await svc.get_stat_queue({"Tenant": T, "ID": "SQ_ALL"})
    assert [i["EventID"] for i in queue["SQItems"]] == ["e1", "e2", "e3"]
    assert queue["SQItems"][0]["ExpiryTime"] is None  # no TTL
    assert queue["SQMetrics"]["*acd"] == {"FilterIDs": None, "Sum": 210 * SECOND, "Count": 3, "MinItems": 2,
                                          "Events": {"e1": {"Duration": 90 * SECOND, "CompressFactor": 1},
                                                     "e2": {"Duration": 0, "CompressFactor": 1},
                                                     "e3": {"Duration": 120 * SECOND, "CompressFactor": 1}}}


async def test_ttl_expiry_takes_events_out_of_every_metric():
    svc, clock, _ = make_stats()
    await svc.api_set(queue_profile(metrics=["*tcd", "*acc", "*asr"], TTL="10s", MinItems=2))
    await process(svc, "e1", Usage="60s", Cost=1, AnswerTime=T0)  # expires at T0+10s
    clock.advance(4)
    await process(svc, "e2", Usage="30s", Cost=2)  # T0+14s
    clock.advance(4)
    await process(svc, "e3", Usage="15s", Cost=4, AnswerTime=T0)  # T0+18s
    assert await strings(svc) == {"*tcd": "1m45s", "*acc": "2.33333", "*asr": "66.66667%"}
    clock.advance(2)  # T0+10s: e1 is gone
    assert await strings(svc) == {"*tcd": "45s", "*acc": "3", "*asr": "50%"}
    clock.advance(4)  # T0+14s: e2 gone, one event left < MinItems
    assert await strings(svc) == {"*tcd": "N/A", "*acc": "N/A", "*asr": "N/A"}
    assert [i["EventID"] for i in (await svc.get_stat_queue({"ID": "SQ_ALL"}))["SQItems"]] == ["e3"]
    clock.advance(4)
    await process(svc, "e4", Usage="1s", Cost=0)  # e3 expired as e4 came in
    assert await floats(svc) == {"*tcd": -1.0, "*acc": -1.0, "*asr": -1.0}


async def test_queue_length_pushes_the_oldest_out():
    svc, _, _ = make_stats()
    await svc.api_set(queue_profile(metrics=["*tcc"], QueueLength=2, MinItems=0))
    for i, cost in enumerate((1, 2, 4)):
        await process(svc, f"e{i}", Cost=cost)
    assert await strings(svc) == {"*tcc": "6"}


async def test_matching_weights_blockers_and_explicit_ids():
    svc, _, _ = make_stats()
    await svc.api_set(queue_profile("SQ_LOW", metrics=["*tcc"], MinItems=1, Weight=5))
    await svc.api_set(queue_profile("SQ_HIGH", metrics=["*tcc"], MinItems=1, Weight=20))
    await svc.api_set(queue_profile("SQ_1002", metrics=["*tcc"], FilterIDs=["*string:~*req.Account:1002"],
                                    Weight=30, Blocker=True))
    event = {"Tenant": T, "ID": "e", "Event": {"Tenant": T, "Account": "1001", "Cost": 1}}
    assert await svc.get_stat_queues_for_event(event) == ["SQ_HIGH", "SQ_LOW"]
    assert await svc.get_stat_queues_for_event({**event, "Event": {**event["Event"], "Account": "1002"}}) == [
        "SQ_1002"]  # the blocker ends the list
    assert await svc.v1_process_event({**event, "APIOpts": {"*stsProfileIDs": ["SQ_LOW"]}}) == ["SQ_LOW"]
    assert (await strings(svc, "SQ_LOW"), await strings(svc, "SQ_HIGH")) == ({"*tcc": "1"}, {"*tcc": "N/A"})
    with pytest.raises(RPCError, match="NOT_FOUND"):
        await svc.v1_process_event({"Tenant": "other.org", "ID": "e", "Event": {"Account": "1001"}})
    assert await svc.get_queue_ids({"Tenant": T}) == ["SQ_1002", "SQ_HIGH", "SQ_LOW"]
    assert await svc.get_queue_ids({"Tenant": "other.org"}) == []


async def test_metric_filters_choose_the_events_a_metric_counts():
    svc, _, _ = make_stats()
    await svc.api_set(queue_profile(metrics=["*tcd", {"MetricID": "*pdd", "FilterIDs": ["*exists:~*req.PDD:"]},
                                             {"MetricID": "*acd", "FilterIDs": ["*gte:~*req.Usage:1m"]}], MinItems=1))
    await process(svc, "e1", Usage="30s")
    await process(svc, "e2", Usage="2m", PDD="4s")
    assert await strings(svc) == {"*tcd": "2m30s", "*pdd": "4s", "*acd": "2m0s"}


async def test_threshold_events_have_cgrates_shape():
    svc, _, peer = make_stats()
    await svc.api_set(queue_profile("SQ_TH", metrics=["*tcd", "*acc"], MinItems=1, ThresholdIDs=["TH_1", "TH_2"]))
    await svc.api_set(queue_profile("SQ_ANY", metrics=["*asr"], MinItems=2, Weight=5))
    await svc.api_set(queue_profile("SQ_NONE", metrics=["*tcc"], ThresholdIDs=["*none"], Weight=1))
    await svc.v1_process_event({"Tenant": T, "ID": "e1", "Event": {"Tenant": T, "Usage": "1m", "Cost": 2},
                                "APIOpts": {"*thdProfileIDs": ["FROM_THE_CALLER"], "Extra": 1}})
    assert len(peer.events) == 2  # none for SQ_NONE
    first, second = peer.events
    assert first["Tenant"] == T and len(first["ID"]) == 36
    assert first["Event"] == {"EventType": "StatUpdate", "StatID": "SQ_TH", "*acc": 2.0, "*tcd": 60 * SECOND}
    assert first["APIOpts"] == {"*thdProfileIDs": ["TH_1", "TH_2"], "Extra": 1, "*eventType": "StatUpdate"}
    assert second["Event"] == {"EventType": "StatUpdate", "StatID": "SQ_ANY", "*asr": -1.0}  # N/A below MinItems
    assert second["APIOpts"]["*thdProfileIDs"] is None  # no ThresholdIDs: ThresholdS matches by its filters
    peer.answer = "NOT_FOUND"
    assert await process(svc, "e2", Usage="1m", Cost=1) == ["SQ_TH", "SQ_ANY", "SQ_NONE"]
    peer.answer = "SERVER_ERROR: boom"
    with pytest.raises(RPCError) as exc:
        await process(svc, "e3", Usage="1m", Cost=3)
    assert exc.value.message == "PARTIALLY_EXECUTED"
    assert (await strings(svc, "SQ_TH"))["*acc"] == "2"  # the queues were updated all the same


async def test_a_queue_follows_its_profile_set_again():
    svc, _, _ = make_stats()
    await svc.api_set(queue_profile(metrics=["*tcc", "*tcd"], MinItems=1))
    await process(svc, "e1", Cost=1, Usage="1m")
    await svc.api_set(queue_profile(metrics=["*tcc", "*asr"], MinItems=1))
    assert await strings(svc) == {"*tcc": "1", "*asr": "N/A"}  # kept, added, *tcd gone
    await svc.api_set(queue_profile(metrics=["*tcc", "*asr"], MinItems=0))  # MinItems changed: a fresh queue
    assert await strings(svc) == {"*tcc": "N/A", "*asr": "N/A"}
    assert (await svc.get_stat_queue({"ID": "SQ_ALL"}))["SQItems"] == []


async def test_reset_remove_and_errors():
    svc, _, _ = make_stats()
    await svc.api_set(queue_profile(metrics=["*tcc", {"MetricID": "*acc", "FilterIDs": ["*gt:~*req.Cost:0"]}],
                                    MinItems=1))
    await process(svc, "e1", Cost=1)
    assert await svc.reset_stat_queue({"Tenant": T, "ID": "SQ_ALL"}) == "OK"
    queue = await svc.get_stat_queue({"ID": "SQ_ALL"})
    assert queue["SQItems"] == [] and queue["SQMetrics"]["*acc"]["FilterIDs"] == ["*gt:~*req.Cost:0"]
    assert queue["SQMetrics"]["*acc"]["MinItems"] == 1 and await strings(svc) == {"*tcc": "N/A", "*acc": "N/A"}
    for call, arg, error in (
            (svc.v1_process_event, {"Tenant": T, "Event": {}}, "MANDATORY_IE_MISSING: [ID]"),
            (svc.v1_process_event, {"Tenant": T, "ID": "e"}, "MANDATORY_IE_MISSING: [Event]"),
            (svc.get_queue_string_metrics, {"Tenant": T}, "MANDATORY_IE_MISSING: [ID]"),
            (svc.get_queue_float_metrics, {"ID": "NOPE"}, "NOT_FOUND"),
            (svc.get_stat_queue, {"ID": "NOPE"}, "NOT_FOUND"),
            (svc.reset_stat_queue, {"ID": "NOPE"}, "NOT_FOUND"),
            (svc.rpc_set_StatQueueProfile, queue_profile("BAD", metrics=["*foo"]),
             "SERVER_ERROR: unsupported metric type <*foo>"),
            (svc.rpc_set_StatQueueProfile, queue_profile("BAD", FilterIDs=["FLTR_NOPE"]),
             "SERVER_ERROR: broken reference to filter: <FLTR_NOPE> for item with ID: cgrates.org:BAD")):
        with pytest.raises(RPCError) as exc:
            await call(arg)
        assert exc.value.message == error
    assert await svc.api_remove({"ID": "SQ_ALL"}) == "OK"
    assert await svc.dm.datadb.get(STATQUEUE, f"{T}:SQ_ALL") is None
    with pytest.raises(RPCError, match="NOT_FOUND"):
        await strings(svc)


async def test_profile_json_round_trips_as_cgrates_prints_it():
    svc, _, _ = make_stats()
    prf = queue_profile(metrics=["*tcc", {"MetricID": "*pdd", "FilterIDs": ["*exists:~*req.PDD:"]}], TTL=3 * SECOND,
                        ActivationInterval={"ActivationTime": "2014-07-29T15:00:00Z",
                                            "ExpiryTime": "0001-01-01T00:00:00Z"})
    assert await svc.api_set(prf) == "OK"
    assert await svc.api_get({"ID": "SQ_ALL"}) == prf
    assert await svc.api_ids({}) == ["SQ_ALL"]
    assert {"stats_profile", "stats_profile_set", "stats_profile_remove", "stats_profile_ids", "stats_metrics",
            "stats_for_event", "stats_process_event", "stats_reset_queue"} <= CONSOLE_COMMANDS.keys()


async def test_every_change_is_stored_and_read_back_after_a_restart(tmp_path):
    svc, clock, _ = make_stats(datadb=InternalDataDB(tmp_path))
    await svc.api_set(queue_profile("SQ_STORED", metrics=["*tcd", "*asr"], MinItems=1, TTL="1h"))
    await svc.api_set(queue_profile("SQ_MEMORY", metrics=["*tcd"], MinItems=1, Stored=False))
    await process(svc, "e1", Usage="1m", AnswerTime=T0)
    await process(svc, "e2", Usage="2m")
    before = await svc.get_stat_queue({"ID": "SQ_STORED"})
    await svc.dm.datadb.close()  # no stop(): nothing written at shutdown
    svc, clock, _ = make_stats(datadb=InternalDataDB(tmp_path))
    assert await svc.get_stat_queue({"ID": "SQ_STORED"}) == before
    assert await strings(svc, "SQ_STORED") == {"*tcd": "3m0s", "*asr": "50%"}
    assert await strings(svc, "SQ_MEMORY") == {"*tcd": "N/A"}  # not Stored: back empty
    clock.advance(3601)
    assert await strings(svc, "SQ_STORED") == {"*tcd": "N/A", "*asr": "N/A"}  # the TTL counts across the restart
    await svc.dm.datadb.close()


async def test_stored_turned_off_forgets_the_stored_queue(tmp_path):
    svc, _, _ = make_stats(datadb=InternalDataDB(tmp_path))
    await svc.api_set(queue_profile(metrics=["*tcc"], MinItems=1))
    await process(svc, "e1", Cost=1)
    assert await svc.dm.datadb.get(STATQUEUE, f"{T}:SQ_ALL") is not None
    await svc.api_set(queue_profile(metrics=["*tcc"], MinItems=1, Stored=False))
    assert await svc.dm.datadb.get(STATQUEUE, f"{T}:SQ_ALL") is None
    await svc.dm.datadb.close()


async def test_periodic_store_interval_writes_at_stop(tmp_path):
    svc, _, _ = make_stats({"stats": {"store_interval": "1h"}}, datadb=InternalDataDB(tmp_path))
    await svc.start()
    await svc.api_set(queue_profile(metrics=["*tcc"], MinItems=1))
    await process(svc, "e1", Cost=1)
    assert await svc.dm.datadb.get(STATQUEUE, f"{T}:SQ_ALL") is None
    await svc.stop()
    assert [i["EventID"] for i in (await svc.dm.datadb.get(STATQUEUE, f"{T}:SQ_ALL"))["SQItems"]] == ["e1"]
    await svc.dm.datadb.close()


async def test_a_queue_follows_its_profile_reloaded_from_a_tariff_plan(tmp_path):
    from pycgrates.engine.filters.indexes import reset_filter_indexes
    from pycgrates.engine.loader.tariffplan import load_tariff_plan

    svc, _, _ = make_stats()
    header = "#Tenant,Id,FilterIDs,ActivationInterval,QueueLength,TTL,MinItems,Metrics,MetricFilterIDs,Stored," \
             "Blocker,Weight,ThresholdIDs\n"

    async def load(rows: str) -> None:
        (tmp_path / "Stats.csv").write_text(header + rows)
        await load_tariff_plan(svc.dm, tmp_path)
        await reset_filter_indexes(svc.dm)

    await load("cgrates.org,SQ_TP,*string:~*req.Account:1001,,10,,1,*tcc;*tcd,,true,false,10,*none\n")
    await process(svc, "e1", Account="1001", Cost=2, Usage="1m")
    assert await strings(svc, "SQ_TP") == {"*tcc": "2", "*tcd": "1m0s"}
    # a metric more, the others as they were: the events stay
    await load("cgrates.org,SQ_TP,*string:~*req.Account:1001,,10,,1,*tcc;*tcd;*acc,,true,false,10,*none\n")
    assert await strings(svc, "SQ_TP") == {"*tcc": "2", "*tcd": "1m0s", "*acc": "N/A"}
    # QueueLength changed: CGRateS starts the queue afresh
    await load("cgrates.org,SQ_TP,*string:~*req.Account:1001,,20,,1,*tcc;*tcd;*acc,,true,false,10,*none\n")
    assert await strings(svc, "SQ_TP") == {"*tcc": "N/A", "*tcd": "N/A", "*acc": "N/A"}


class EEsPeer:
    """Stands in for EEs: records the exports StatS asks for."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    @rpc("EeSv1.ProcessEvent")
    async def process_event(self, args: dict) -> dict:
        self.events.append(args)
        return {}


async def test_updates_are_exported_to_ees():
    svc, clock, _ = make_stats({"stats": {"store_interval": -1, "ees_conns": ["*internal"],
                                          "ees_exporter_ids": ["stats_csv"]}})
    ees = EEsPeer()
    svc.ctx.registry.register_object(ees)
    await svc.api_set(queue_profile(metrics=["*tcd", "*asr"], MinItems=1, ThresholdIDs=["*none"]))
    await svc.v1_process_event({"Tenant": T, "ID": "e1", "Event": {"Tenant": T, "Usage": "1m"},
                                "APIOpts": {"*ct": "x"}})
    [export] = ees.events
    assert export["Event"] == {"EventType": "StatUpdate", "StatID": "SQ_ALL",
                               "Metrics": {"*asr": 0.0, "*tcd": 60 * SECOND}}
    assert (export["Tenant"], export["Time"], export["EeIDs"], export["APIOpts"]) == (
        T, clock.at, ["stats_csv"], {"*ct": "x"})
