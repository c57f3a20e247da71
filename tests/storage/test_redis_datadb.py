"""What only the Redis DataDB does: CGRateS's key names, a resent batch applied once, two engine processes
debiting one account, Sentinel, a Redis Cluster, and the data_db options it reads."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pycgrates.engine.storage import base as k
from pycgrates.engine.storage import store_problems
from pycgrates.engine.storage.base import StorageError
from pycgrates.engine.storage.redis import RedisDataDB, redis_settings
from tests.conftest import REPO, require_binary
from tests.engine_proc import free_port, port_is_free
from tests.storage.conftest import REDIS_DB, open_redis, redis_section, unique


@pytest.fixture
async def redis_db():
    db = await open_redis(unique("pycgrates-test:") + ":")
    yield db
    await db.flush()
    await db.close()


async def _raw_keys(db: RedisDataDB) -> list[str]:
    return sorted(n.decode()[len(db.namespace):] for n in await db.client.keys(db.namespace + "*")
                  if not n.decode()[len(db.namespace):].startswith("bat_"))


async def test_objects_are_under_cgrates_keys(redis_db):
    await redis_db.write_batch([
        ("set", k.ACCOUNT, "cgrates.org:1001", {"ID": "cgrates.org:1001"}),
        ("set", k.DESTINATION, "DST_1002", ["1002"]),
        ("set", k.STATQUEUE, "cgrates.org:Stats2", {}),
        ("set", k.SESSIONS_BACKUP, "node1", {}),
        ("set", k.FILTER_INDEX, "alp:cgrates.org:*sessions:*string:*req.Account:1001", ["ATTR_1"]),
        ("set", k.FILTER_INDEX, "thp:cgrates.org:*none:*any:*any", ["TH_1"]),
        ("set", k.FILTER_INDEX, "ftr:cgrates.org:FLTR_1", {}),
    ])
    assert await _raw_keys(redis_db) == sorted([
        "acc_cgrates.org:1001", "dst_DST_1002", "stq_cgrates.org:Stats2", "sbk_node1",
        "afi_cgrates.org:*sessions:*string:*req.Account:1001", "tfi_cgrates.org:*none:*any:*any",
        "fii_ftr:cgrates.org:FLTR_1"])
    raw = await redis_db.client.get(redis_db.namespace + "acc_cgrates.org:1001")
    assert raw == b'{"ID":"cgrates.org:1001"}'


async def test_a_resent_batch_is_applied_once(redis_db):
    """The client resends a script whose reply a broken connection lost: the resent one writes nothing."""
    await redis_db.set(k.ACCOUNT, "cgrates.org:1001", {"Balance": "10"})
    _, version = await redis_db.get_versioned(k.ACCOUNT, "cgrates.org:1001")
    keys, args, _ = redis_db.batch_call([("set", k.ACCOUNT, "cgrates.org:1001", {"Balance": "9"}),
                                         ("set", k.RALS_JOURNAL, "d1", {"Debit": 1})],
                                        {(k.ACCOUNT, "cgrates.org:1001"): version})
    assert await redis_db._script(keys=keys, args=args) == 0
    await redis_db.set(k.RALS_JOURNAL, "d1", {"Refunded": True})  # what happened after the debit
    assert await redis_db._script(keys=keys, args=args) == 0  # the resend: no conflict, no second write
    assert await redis_db.get(k.ACCOUNT, "cgrates.org:1001") == {"Balance": "9"}
    assert await redis_db.get(k.RALS_JOURNAL, "d1") == {"Refunded": True}
    ttl = await redis_db.client.ttl(keys[0])
    assert 0 < ttl <= 60


_ENGINE = """
import asyncio, sys
from decimal import Decimal
from pycgrates.engine.storage.base import WriteConflict
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from pycgrates.engine.storage.redis import RedisDataDB

async def main(namespace, name, debits):
    db = await RedisDataDB.connect({"db_name": sys.argv[4]}, namespace=namespace)
    dm = DataManager(db, Cache({}))
    print("ready", flush=True)
    while not await db.client.exists(namespace + "go"):  # both engines start debiting together
        await asyncio.sleep(0.001)
    conflicts = 0
    for n in range(debits):
        while True:
            raw, version = await dm.get_versioned("acc", "cgrates.org:1001")
            balance = Decimal(raw["Balance"]) - Decimal("0.01")
            try:
                await dm.write_batch([("set", "acc", "cgrates.org:1001", {"Balance": balance}),
                                      ("set", "sjr", f"{name}:{n}", {"Debit": "0.01"})],
                                     expect={("acc", "cgrates.org:1001"): version})
                break
            except WriteConflict:
                conflicts += 1
    print(conflicts)
    await dm.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_two_engine_processes_debiting_one_account_lose_no_update(redis_db):
    await redis_db.set(k.ACCOUNT, "cgrates.org:1001", {"Balance": "10"})
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", _ENGINE, redis_db.namespace, f"engine{n}", "300", REDIS_DB, cwd=REPO,
        stdout=asyncio.subprocess.PIPE) for n in range(2)]
    for p in procs:
        assert await p.stdout.readline() == b"ready\n"
    await redis_db.client.set(redis_db.namespace + "go", 1)
    outs = await asyncio.gather(*(p.communicate() for p in procs))
    assert [p.returncode for p in procs] == [0, 0]
    conflicts = [int(out.decode()) for out, _ in outs]
    assert Decimal((await redis_db.get(k.ACCOUNT, "cgrates.org:1001"))["Balance"]) == Decimal("4.00")
    assert len(await redis_db.keys(k.RALS_JOURNAL)) == 600
    assert sum(conflicts) > 0  # they did collide, and every collision was redone


class Servers:
    """redis-server processes of the test's own (Sentinel, Cluster), stopped at the end."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[subprocess.Popen] = []
        self.binary = require_binary("redis-server")

    def start(self, *args: str, conf: str = "", bus: bool = False) -> int:
        port = free_port()
        while bus and not (port < 55536 and port_is_free(port + 10000)):  # a cluster node also listens on +10000
            port = free_port()
        d = self.workdir / str(port)
        d.mkdir()
        argv = [self.binary]
        if conf:
            (d / "redis.conf").write_text(conf.format(port=port))
            argv.append(str(d / "redis.conf"))
        argv += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(d), "--save", "", *args]
        self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.cli(port, "PING", wait=True)
        return port

    def cli(self, port: int, *args: str, wait: bool = False) -> str:
        deadline = time.monotonic() + 15
        while True:
            out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True)
            if (out.returncode == 0 and not out.stdout.startswith(("Could not connect", "ERR"))) or not wait:
                return out.stdout
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis on {port}: {out.stdout}{out.stderr}")
            time.sleep(0.05)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(10)


@pytest.fixture
def servers(tmp_path):
    s = Servers(tmp_path)
    yield s
    s.stop()


async def test_through_sentinel(servers):
    master = servers.start()
    sentinel = servers.start("--sentinel", conf=f"sentinel monitor cgrmaster 127.0.0.1 {master} 1\n")
    db = await RedisDataDB.connect({"db_host": f"127.0.0.1:{sentinel}", "db_name": "3",
                                    "opts": {"redisSentinel": "cgrmaster"}})
    try:
        _, version = await db.get_versioned(k.ACCOUNT, "cgrates.org:1001")
        await db.write_batch([("set", k.ACCOUNT, "cgrates.org:1001", {"v": 1})],
                             expect={(k.ACCOUNT, "cgrates.org:1001"): version})
        assert servers.cli(master, "-n", "3", "GET", "acc_cgrates.org:1001").strip() == '{"v":1}'
    finally:
        await db.close()


@pytest.fixture
def cluster(servers) -> int:
    """Three cluster masters of the test's own; the port of the first."""
    require_binary("redis-cli")
    ports = [servers.start("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", bus=True)
             for _ in range(3)]
    created = subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                              "--cluster-yes"], capture_output=True, text=True)
    assert created.returncode == 0, created.stdout + created.stderr
    deadline = time.monotonic() + 15
    while "cluster_state:ok" not in servers.cli(ports[0], "CLUSTER", "INFO"):
        assert time.monotonic() < deadline, "the cluster did not come up"
        time.sleep(0.1)
    return ports[0]


async def test_on_a_redis_cluster(cluster):
    """Three masters; a batch over several hash slots lands part by part, the expected part first."""
    db = await RedisDataDB.connect({"db_host": f"127.0.0.1:{cluster}", "opts": {"redisCluster": True}})
    try:
        ops = [("set", k.ACCOUNT, f"cgrates.org:{n}", {"n": n}) for n in range(20)]
        assert len({db._slot(kind, key) for _, kind, key, _ in ops}) > 1
        await db.write_batch(ops)
        assert await db.keys(k.ACCOUNT) == sorted(f"cgrates.org:{n}" for n in range(20))
        assert await db.get_many(k.ACCOUNT, ["cgrates.org:3", "cgrates.org:19"]) == {
            "cgrates.org:3": {"n": 3}, "cgrates.org:19": {"n": 19}}
        _, version = await db.get_versioned(k.ACCOUNT, "cgrates.org:1")
        await db.set(k.ACCOUNT, "cgrates.org:1", {"n": "changed"})
        with pytest.raises(StorageError):
            await db.write_batch([("set", k.ACCOUNT, "cgrates.org:1", {"n": -1}),
                                  ("set", k.RALS_JOURNAL, "d1", {})], expect={(k.ACCOUNT, "cgrates.org:1"): version})
        assert await db.get(k.RALS_JOURNAL, "d1") is None  # the conflict stopped the batch before its other part
        await db.flush()
        assert await db.keys(k.ACCOUNT) == []
    finally:
        await db.close()


def test_options_are_read_and_checked_without_connecting():
    s = redis_settings({"db_host": "10.0.0.1:7000;10.0.0.2", "db_port": 6380, "db_name": "4", "db_user": "u",
                        "db_password": "p", "opts": {"redisMaxConns": 32, "redisConnectTimeout": "2s",
                                                     "redisReadTimeout": "1s", "redisWriteTimeout": "3s",
                                                     "redisBatchSize": 50, "redisTLS": True,
                                                     "redisCACertificate": "/etc/ca.pem"}})
    assert (s.addresses, s.db, s.username, s.password) == ([("10.0.0.1", 7000), ("10.0.0.2", 6380)], 4, "u", "p")
    assert (s.max_connections, s.connect_timeout, s.socket_timeout, s.scan_count) == (32, 2.0, 3.0, 50)
    assert s.tls["ssl"] is True and s.tls["ssl_ca_certs"] == "/etc/ca.pem"
    assert redis_settings({"db_user": "cgrates"}).username is None  # as CGRateS: no password, no AUTH
    assert store_problems(redis_section(db_name="ten"), "data_db") == [
        'data_db.db_name \'ten\' must be a Redis database number (for example "10")']
    assert store_problems(redis_section(opts={"redisTLS": True, "redisClientCertificate": "c.pem"}), "data_db") == [
        "data_db.opts: set both redisClientCertificate and redisClientKey, or neither"]
    assert store_problems(redis_section(opts={"redisSentinel": "m", "redisCluster": True}), "data_db") == [
        "data_db.opts: set redisSentinel or redisCluster, not both"]
    assert store_problems(redis_section(opts={"redisReadTimeout": "soon"}), "data_db")[0].startswith(
        "data_db.opts.redisReadTimeout: ")
    assert store_problems(redis_section(), "data_db") == []


async def test_an_unreachable_redis_names_the_fix():
    with pytest.raises(StorageError, match=r"cannot reach Redis at 127.0.0.1:1 \(db 15\).*start Redis or fix "
                                           r"data_db.db_host"):
        await RedisDataDB.connect(redis_section(db_port=1, opts={"redisConnectAttempts": 1}))
