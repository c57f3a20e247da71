"""cgr-engine on CGRateS's tutpostgres and tutmysql samples: Redis DataDB, SQL StorDB, the tutorial tariff plan.

The samples are used unmodified except for ports: the engine listens on free ports and its Redis (db 10, as the
samples say) is a redis-server of this test's own on a free port, so parallel runs do not share the tutorial's
database. tutmysql relies on CGRateS's default stor_db.db_type (*mysql); pycgrates's default is *internal, so the
test names *mysql there.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import require_binary, require_service, shared_data
from tests.engine_proc import ENGINE, EngineProcess, free_port, make_config_dir, without_unavailable_services
from tests.storage.conftest import HOST, PASSWORD, USER


class RedisServer:
    """A redis-server of the test's own on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [require_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                require_service("127.0.0.1", self.port, "redis-server")
                return
            except BaseException:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def keys(self, db: int) -> list[str]:
        out = subprocess.run(["redis-cli", "-p", str(self.port), "-n", str(db), "--scan"], capture_output=True,
                             text=True, check=True).stdout
        return sorted(out.split())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def _sql_rows(backend: str, sql: str, *args: object) -> list[dict]:
    if backend == "postgres":
        import asyncpg

        conn = await asyncpg.connect(host=HOST, port=5432, user=USER, password=PASSWORD, database="cgrates")
        try:
            return [dict(r) for r in await conn.fetch(sql.replace("?", "$1"), *args)]
        finally:
            await conn.close()
    import aiomysql

    conn = await aiomysql.connect(host=HOST, port=3306, user=USER, password=PASSWORD, db="cgrates")
    try:
        async with conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(sql.replace("?", "%s"), args)
            return list(await cur.fetchall())
    finally:
        conn.close()


@pytest.mark.parametrize(("sample", "backend"), [("tutpostgres", "postgres"), ("tutmysql", "mysql")])
def test_tutorial_on_redis_and_sql(tmp_path, sample, backend):
    src = shared_data("conf", "samples", sample)
    require_service(HOST, 5432 if backend == "postgres" else 3306, f"{backend} (bash .ci/services starts it)")
    redis = RedisServer(tmp_path)
    port = free_port()
    overrides: dict = {
        "listen": {"rpc_json": f"127.0.0.1:{port}", "rpc_gob": "", "http": "", "birpc_json": ""},
        "data_db": {"db_port": redis.port},
        **without_unavailable_services(src),
    }
    if backend == "mysql":
        overrides["stor_db"] = {"db_type": "*mysql"}
    eng = EngineProcess(make_config_dir(tmp_path, src, overrides=overrides), port, tmp_path / "engine.log")
    try:
        eng.start()
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "tutorial"))}) == "OK"
        # RP_1001 rates DST_1002 with RT_20CNT: 0.4 connect + 0.2 first minute + 70 x 0.00167 = 0.7169
        cost = eng.call("APIerSv1.GetCost", {"Tenant": "cgrates.org", "Category": "call", "Subject": "1001",
                                             "Destination": "1002", "AnswerTime": "*now", "Usage": "2m10s"})
        assert cost["Cost"] == 0.7169
        # the tariff plan and the accounts are in Redis db 10 under CGRateS's keys
        keys = redis.keys(10)
        assert "acc_cgrates.org:1001" in keys and "rpf_*out:cgrates.org:call:1001" in keys
        assert {"dst_DST_1002", "rpl_RP_1001", "cpp_cgrates.org:DEFAULT", "alp_cgrates.org:ATTR_1001_SESSIONAUTH"} \
            <= set(keys)

        # a prepaid call through SessionS: debited at its end, its CDR rated from the session's cost
        origin_id = f"storage-{uuid.uuid4().hex}"
        ev = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": origin_id, "OriginHost": "10.0.0.9",
              "RequestType": "*prepaid", "Account": "1001", "Subject": "1001", "Destination": "1002",
              "SetupTime": "2024-03-01T10:00:00Z", "AnswerTime": "2024-03-01T10:00:05Z", "Usage": "2m10s",
              "Cause": "normal"}
        assert eng.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": ev})["MaxUsage"] > 0
        assert eng.call("SessionSv1.TerminateSession", {"TerminateSession": True, "Event": ev}) == "OK"
        assert eng.call("SessionSv1.ProcessCDR", {"Event": ev}) == "OK"
        rows = asyncio.run(_sql_rows(
            backend, "SELECT id, cgrid, run_id, origin_host, source, origin_id, tor, request_type, tenant, category, "
            "account, subject, destination, setup_time, answer_time, {usage}, extra_fields, cost_source, cost, "
            "cost_details, extra_info FROM cdrs WHERE origin_id = ? ORDER BY run_id".format(
                usage="`usage`" if backend == "mysql" else "usage"), origin_id))
        by_run = {r["run_id"]: r for r in rows}
        assert sorted(by_run) == ["*default", "*raw"]  # the tutorial's two chargers
        rated = by_run["*default"]
        assert (rated["tenant"], rated["category"], rated["account"], rated["subject"], rated["destination"],
                rated["tor"], rated["request_type"], rated["origin_host"]) == (
                "cgrates.org", "call", "1001", "1001", "1002", "*voice", "*prepaid", "10.0.0.9")
        assert rated["usage"] == 130 * 10**9 and Decimal(rated["cost"]) == Decimal("0.7169")
        assert rated["cost_source"] and '"Cause"' in rated["extra_fields"] and '"Charges"' in rated["cost_details"]
        assert by_run["*raw"]["request_type"] == "*none" and Decimal(by_run["*raw"]["cost"]) == -1
        assert rated["answer_time"].replace(tzinfo=None).isoformat() == "2024-03-01T10:00:05"
        # and GetCDRs reads them back through the engine
        [cdr] = eng.call("CDRsV1.GetCDRs", {"OriginIDs": [origin_id], "RunIDs": ["*default"]})
        assert cdr["OrderID"] == rated["id"] and cdr["Cost"] == 0.7169
        assert eng.terminate() == 0
    finally:
        eng.kill()
        redis.stop()


def test_an_unreachable_server_stops_the_start_with_one_line(tmp_path):
    """-check_config accepts the settings (it opens nothing); the start names the server and the fix."""
    port, dead = free_port(), free_port()
    cfg = make_config_dir(tmp_path, overrides={
        "listen": {"rpc_json": f"127.0.0.1:{port}", "http": "", "birpc_json": "", "rpc_json_tls": "", "http_tls": ""},
        "data_db": {"db_type": "*redis", "db_port": dead, "opts": {"redisConnectAttempts": 1}},
        "stor_db": {"db_type": "*postgres", "db_port": dead},
    })
    checked = subprocess.run([*ENGINE, "-config_dir", str(cfg), "-check_config"], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0 and checked.stdout == "configuration OK\n", checked.stderr
    started = subprocess.run([*ENGINE, "-config_dir", str(cfg)], capture_output=True, text=True, timeout=60)
    assert started.returncode != 0 and "Traceback" not in started.stderr
    [line] = [line for line in started.stderr.splitlines() if line.startswith("cgr-engine:")]
    assert f"data_db: cannot reach Redis at 127.0.0.1:{dead} (db 10)" in line
    assert line.endswith("start Redis or fix data_db.db_host, db_port, db_password and opts")
    (cfg / "zz_test_overrides.json").write_text(json.dumps({
        "listen": {"rpc_json": f"127.0.0.1:{port}", "http": "", "birpc_json": "", "rpc_json_tls": "", "http_tls": ""},
        "data_db": {"opts": {"internalDBDumpPath": str(tmp_path / "datadb")}},
        "stor_db": {"db_type": "*postgres", "db_port": dead},
    }))
    started = subprocess.run([*ENGINE, "-config_dir", str(cfg)], capture_output=True, text=True, timeout=60)
    [line] = [line for line in started.stderr.splitlines() if line.startswith("cgr-engine:")]
    assert f"stor_db: cannot reach postgres at 127.0.0.1:{dead} database 'cgrates'" in line
    assert line.endswith("start the server or fix stor_db.db_host and db_port")
