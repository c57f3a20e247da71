"""EEs in a real cgr-engine: rated CDRs exported by the CDR server to a CSV file, RabbitMQ and a PostgreSQL
reporting table; an exporter whose target is down keeps every CDR in failed posts and delivers them all on
APIerSv1.ReplayFailedPosts once it is back; EeSv1.ProcessEvent with filters, HTTP targets, headers and trailers,
verbose metrics and its errors; APIerSv1.ExportCDRs."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

import pytest
from aiohttp import web

from tests.integration.cdrs_io import (
    AMQP_URL,
    FS_FIELDS,
    T,
    TCPForwarder,
    amqp_drain,
    cdr_count,
    engine_overrides,
    fs_line,
    pg,
    require,
    run_id,
    start_engine,
    wait_for,
)

CDR_FIELDS = [
    {"tag": "CGRID", "path": "*exp.CGRID", "type": "*variable", "value": "~*req.CGRID"},
    {"tag": "RunID", "path": "*exp.RunID", "type": "*variable", "value": "~*req.RunID"},
    {"tag": "OriginID", "path": "*exp.OriginID", "type": "*variable", "value": "~*req.OriginID"},
    {"tag": "Account", "path": "*exp.Account", "type": "*variable", "value": "~*req.Account"},
    {"tag": "Destination", "path": "*exp.Destination", "type": "*variable", "value": "~*req.Destination"},
    {"tag": "AnswerTime", "path": "*exp.AnswerTime", "type": "*variable", "value": "~*req.AnswerTime"},
    {"tag": "Usage", "path": "*exp.Usage", "type": "*variable", "value": "~*req.Usage{*duration_seconds}"},
    {"tag": "Cost", "path": "*exp.Cost", "type": "*variable", "value": "~*req.Cost{*round:4}"},
]
SQL_FIELDS = [
    {"tag": "cgrid", "path": "*exp.cgrid", "type": "*variable", "value": "~*req.CGRID"},
    {"tag": "origin_id", "path": "*exp.origin_id", "type": "*variable", "value": "~*req.OriginID"},
    {"tag": "account", "path": "*exp.account", "type": "*variable", "value": "~*req.Account"},
    {"tag": "answer_time", "path": "*exp.answer_time", "type": "*variable", "value": "~*req.AnswerTime"},
    {"tag": "usage_s", "path": "*exp.usage_s", "type": "*variable", "value": "~*req.Usage{*duration_seconds}"},
    {"tag": "cost", "path": "*exp.cost", "type": "*variable", "value": "~*req.Cost"},
]


def reader(src: Path, out: Path) -> dict:
    return {"id": "fs_csv", "type": "*file_csv", "run_delay": "-1", "source_path": str(src),
            "processed_path": str(out), "flags": ["*cdrs"], "fields": FS_FIELDS}


def make_table(table: str) -> None:
    pg(f"CREATE TABLE {table} (id serial PRIMARY KEY, cgrid text, origin_id text, account text, "
       "answer_time timestamptz, usage_s numeric, cost numeric(20,4))")


def drop_table(table: str) -> None:
    pg(f"DROP TABLE IF EXISTS {table}")


def drop(tmp: Path, folder: Path, name: str, text: str) -> None:
    staging = tmp / f"{name}.part"
    staging.write_text(text)
    os.rename(staging, folder / name)


def test_cdrs_out_to_csv_rabbitmq_and_postgres(tmp_path):
    require(5672, "RabbitMQ")
    require(5432, "PostgreSQL")
    run = run_id()
    queue, table = f"cdrs_{run}", f"cdrs_{run}"
    src, out, csv_dir = tmp_path / "in", tmp_path / "out", tmp_path / "csv"
    src.mkdir()
    make_table(table)
    exporters = [
        {"id": "csv", "type": "*file_csv", "export_path": str(csv_dir), "fields": CDR_FIELDS,
         "failed_posts_dir": str(tmp_path / "fp")},
        {"id": "amqp", "type": "*amqp_json_map", "export_path": AMQP_URL, "opts": {"amqpQueueID": queue},
         "fields": CDR_FIELDS, "failed_posts_dir": str(tmp_path / "fp")},
        {"id": "pg", "type": "*sql", "export_path": "*postgres://postgres@127.0.0.1:5432",
         "opts": {"sqlDBName": "postgres", "sqlTableName": table}, "fields": SQL_FIELDS,
         "failed_posts_dir": str(tmp_path / "fp")},
    ]
    eng = start_engine(tmp_path, lambda p: engine_overrides(
        tmp_path, p, ers={"concurrent_events": 32, "readers": [reader(src, out)]},
        ees={"exporters": exporters}, cdrs={"ees_conns": ["*internal"]}))
    n = 300
    try:
        drop(tmp_path, src, "fs.csv", "".join(fs_line(i, run=run) for i in range(n)))
        wait_for("the file processed", lambda: (out / "fs.csv").exists())
        assert cdr_count(eng) == n
        rows = wait_for("the SQL rows", lambda: (r := pg(f"SELECT * FROM {table} ORDER BY origin_id")) and
                        len(r) >= n and r, timeout=30)
        assert len(rows) == n
        assert rows[0]["origin_id"] == f"{run}-0000000" and rows[0]["account"] == "1001"
        assert str(rows[0]["answer_time"]) == "2024-01-15 10:00:05+00:00"
        cdr0 = eng.call("CDRsV1.GetCDRs", {"OriginIDs": [f"{run}-0000000"]})[0]
        assert float(rows[0]["cost"]) == pytest.approx(cdr0["Cost"])
        bodies = [json.loads(b) for b in amqp_drain(queue, n)]
        assert len(bodies) == n and len({b["OriginID"] for b in bodies}) == n
        assert {"CGRID", "RunID", "OriginID", "Account", "Destination", "AnswerTime", "Usage", "Cost"} == set(bodies[0])
        eng.terminate()  # closes the CSV file
        [csv_file] = list(csv_dir.glob("csv_*.csv"))
        lines = csv_file.read_text().splitlines()
        assert len(lines) == n and lines[0].split(",")[2].startswith(run)
    finally:
        eng.kill()
        drop_table(table)


def test_exporter_target_down_keeps_failed_posts_and_replay_delivers_all(tmp_path):
    require(5672, "RabbitMQ")
    require(5432, "PostgreSQL")
    run = run_id()
    queue, table = f"fp_{run}", f"fp_{run}"
    make_table(table)
    src, out, fp = tmp_path / "in", tmp_path / "out", tmp_path / "failed_posts"
    src.mkdir()
    amqp_proxy, pg_proxy = TCPForwarder(5672), TCPForwarder(5432)  # both down until started
    exporters = [
        {"id": "amqp", "type": "*amqp_json_map", "export_path": f"amqp://guest:guest@127.0.0.1:{amqp_proxy.port}/",
         "opts": {"amqpQueueID": queue}, "fields": CDR_FIELDS, "failed_posts_dir": str(fp), "attempts": 2},
        {"id": "pg", "type": "*sql", "export_path": f"*postgres://postgres@127.0.0.1:{pg_proxy.port}",
         "opts": {"sqlDBName": "postgres", "sqlTableName": table}, "fields": SQL_FIELDS, "failed_posts_dir": str(fp),
         "synchronous": True},
    ]
    eng = start_engine(tmp_path, lambda p: engine_overrides(
        tmp_path, p, ers={"concurrent_events": 16, "readers": [reader(src, out)]},
        ees={"exporters": exporters, "failed_posts": {"dir": str(fp), "ttl": "1s"}},
        cdrs={"ees_conns": ["*internal"]}))
    n = 200
    try:
        drop(tmp_path, src, "fs.csv", "".join(fs_line(i, run=run) for i in range(n)))
        wait_for("the file processed", lambda: (out / "fs.csv").exists(), timeout=120)
        assert cdr_count(eng) == n  # rating does not wait for the exports
        files = wait_for("failed posts", lambda: (f := list(fp.glob("EEs|*.json"))) and
                         sum(len(x.read_text().splitlines()) - 1 for x in f) >= 2 * n and f, timeout=60)
        kept = sum(len(x.read_text().splitlines()) - 1 for x in files)
        assert kept == 2 * n  # every CDR, for both targets
        assert "could not export" in eng.log()
        # the targets are back
        amqp_proxy.start()
        pg_proxy.start()
        assert eng.call("APIerSv1.ReplayFailedPosts", {"SourcePath": str(fp)}) == "OK"
        assert list(fp.glob("EEs|*")) == []
        bodies = [json.loads(b) for b in amqp_drain(queue, n)]
        assert sorted(b["OriginID"] for b in bodies) == [f"{run}-{i:07d}" for i in range(n)]
        rows = pg(f"SELECT origin_id FROM {table}")
        assert sorted(r["origin_id"] for r in rows) == [f"{run}-{i:07d}" for i in range(n)]
    finally:
        eng.kill()
        amqp_proxy.close()
        pg_proxy.close()
        drop_table(table)


class HTTPSink:
    """A real HTTP server recording what it is sent; answers 500 while ``failing``."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        self.failing = False
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def handle(request: web.Request) -> web.Response:
            self.bodies.append((request.content_type, await request.read()))
            return web.Response(status=500 if self.failing else 200, text="ok")

        async def go() -> tuple[web.AppRunner, int]:
            app = web.Application()
            app.router.add_post("/cdrs", handle)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return runner, site._server.sockets[0].getsockname()[1]

        self.runner, self.port = asyncio.run_coroutine_threadsafe(go(), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_eesv1_process_event_exporters_filters_and_errors(tmp_path):
    sink = HTTPSink()
    fp = tmp_path / "fp"
    exporters = [
        {"id": "json", "type": "*http_json_map", "export_path": f"http://127.0.0.1:{sink.port}/cdrs",
         "synchronous": True, "filters": ["*string:~*req.RunID:*default"], "failed_posts_dir": str(fp),
         "fields": [{"tag": "Account", "path": "*exp.Account", "type": "*variable", "value": "~*req.Account"},
                    {"tag": "Cost", "path": "*exp.Cost", "type": "*variable", "value": "~*req.Cost"}]},
        {"id": "form", "type": "*http_post", "export_path": f"http://127.0.0.1:{sink.port}/cdrs",
         "synchronous": True, "filters": ["*string:~*req.RunID:*raw"], "failed_posts_dir": str(fp)},
        {"id": "fwv", "type": "*file_fwv", "export_path": str(tmp_path / "fwv"), "synchronous": True,
         "fields": [
             {"tag": "H", "path": "*hdr.Type", "type": "*constant", "value": "HDR"},
             {"tag": "A", "path": "*exp.Account", "type": "*variable", "value": "~*req.Account", "width": 6,
              "padding": "*right"},
             {"tag": "U", "path": "*exp.Usage", "type": "*variable", "value": "~*req.Usage{*duration_seconds}",
              "width": 5, "padding": "*zeroleft"},
             {"tag": "T", "path": "*trl.Count", "type": "*variable", "value": "~*em.NumberOfEvents", "width": 4,
              "padding": "*zeroleft"}]},
        {"id": "virt", "type": "*virt", "synchronous": True, "filters": ["*string:~*req.Account:nobody"]},
    ]
    eng = start_engine(tmp_path, lambda p: engine_overrides(tmp_path, p, ees={"exporters": exporters}),
                       load_plan=False)
    try:
        ev = {"Tenant": T, "ID": "e1", "Event": {"RunID": "*default", "Account": "1001", "Usage": 90_000_000_000,
                                                 "Cost": 1.25, "ToR": "*voice", "AnswerTime": "2024-01-15T10:00:00Z"},
              "APIOpts": {"*eesVerbose": {}}}
        reply = eng.call("EeSv1.ProcessEvent", ev)
        assert set(reply) == {"json", "fwv"}
        assert reply["json"]["NumberOfEvents"] == 1 and reply["json"]["PositiveExports"] == ["e1"]
        assert reply["json"]["TotalCost"] == 1.25 and reply["json"]["TotalDuration"] == 90_000_000_000
        assert sink.bodies == [("application/json", b'{"Account":"1001","Cost":"1.25"}')]
        raw = {**ev, "ID": "e2", "Event": {**ev["Event"], "RunID": "*raw"}, "APIOpts": {}}
        assert eng.call("EeSv1.ProcessEvent", {**raw, "EeIDs": ["form"]}) == {"form": {}}
        assert sink.bodies[1][0] == "application/x-www-form-urlencoded"
        assert b"RunID=%2Araw" in sink.bodies[1][1] and b"Account=1001" in sink.bodies[1][1]
        assert "NOT_FOUND" in _error(eng, {**raw, "EeIDs": ["json"]})  # the filter leaves no exporter
        sink.failing = True
        assert "PARTIALLY_EXECUTED" in _error(eng, {**ev, "ID": "e3", "EeIDs": ["json"]})
        [failed] = list(fp.glob("EEs|*.json"))
        assert json.loads(failed.read_text().splitlines()[0])["Type"] == "*http_json_map"
        sink.failing = False
        assert eng.call("APIerSv1.ReplayFailedPosts", {"SourcePath": str(fp)}) == "OK"
        assert sink.bodies[-1] == ("application/json", b'{"Account":"1001","Cost":"1.25"}') and len(sink.bodies) == 4
        assert eng.call("EeSv1.ResetExporterMetrics", {"ExporterID": "json"}) == "OK"
        eng.terminate()
        [fwv] = list((tmp_path / "fwv").glob("fwv_*.fwv"))
        assert fwv.read_text().splitlines() == ["HDR", "1001  00090", "0001"]
    finally:
        eng.kill()
        sink.close()


def _error(eng, arg) -> str:
    with pytest.raises(RuntimeError) as exc:
        eng.call("EeSv1.ProcessEvent", arg)
    return str(exc.value)


def test_apiers_export_cdrs(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    exporters = [{"id": "csv", "type": "*file_csv", "export_path": str(tmp_path / "csv"), "synchronous": True,
                  "fields": CDR_FIELDS}]
    eng = start_engine(tmp_path, lambda p: engine_overrides(
        tmp_path, p, ers={"readers": [reader(src, out)]}, ees={"exporters": exporters},
        apiers={"ees_conns": ["*internal"]}))
    try:
        run = run_id()
        drop(tmp_path, src, "a.csv", "".join(fs_line(i, run=run) for i in range(20)))
        wait_for("the file processed", lambda: (out / "a.csv").exists())
        reply = eng.call("APIerSv1.ExportCDRs", {"ExporterIDs": ["csv"], "Accounts": ["1001"], "Verbose": True})
        assert reply["csv"]["NumberOfEvents"] == 5
        with pytest.raises(RuntimeError, match="NOT_FOUND"):
            eng.call("APIerSv1.ExportCDRs", {"Accounts": ["9999"]})
    finally:
        eng.kill()


def test_samples_build(tmp_path):
    """Our ERs/EEs samples and tutorial, and CGRateS's ers_internal and ees_internal, are accepted as they are
    (-check_config: templates compiled, readers and exporters built)."""
    from pycgrates.engine.app import Engine
    from pycgrates.engine.config import load_config
    from tests.conftest import shared_data
    from tests.engine_proc import REPO

    dirs = [REPO / "config" / "samples" / n for n in ("ers_fs_csv", "ers_partial", "ees_amqp_postgres")]
    dirs.append(REPO / "tutorials" / "cdrs-in-out" / "engine")
    for d in dirs:
        cfg = load_config(d)
        assert cfg.warnings == []
        asyncio.run(Engine(cfg).check())
    for name in ("ers_internal", "ees_internal"):
        asyncio.run(Engine(load_config(shared_data("conf", "samples", name))).check())
