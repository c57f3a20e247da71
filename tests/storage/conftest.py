"""The storage backends every contract test runs against: *internal (durable, in a temporary directory), Redis,
PostgreSQL and MariaDB on this machine's loopback servers (``.ci/services`` starts them and creates CGRateS's user).

Each test gets its own space so runs sharing the servers do not collide: a Redis key namespace, a PostgreSQL
schema, a MariaDB database, all removed afterwards. A backend whose server is down skips its tests (fails under
CI=true).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pycgrates.engine.storage import open_stordb
from pycgrates.engine.storage.base import DataDB, StorDB
from pycgrates.engine.storage.internal import InternalDataDB, InternalStorDB
from tests.conftest import require_service

HOST = "127.0.0.1"
USER, PASSWORD = "cgrates", "CGRateS.org"  # as ../shared/data/conf/samples/tutpostgres and tutmysql
REDIS_DB = "15"  # not the tutorial's 10

DATADB_BACKENDS = ["internal", "redis"]
STORDB_BACKENDS = ["internal", "postgres", "mysql"]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def redis_section(**extra: Any) -> dict:
    return {"db_type": "*redis", "db_host": HOST, "db_port": 6379, "db_name": REDIS_DB, **extra}


async def open_redis(namespace: str) -> DataDB:
    from pycgrates.engine.storage.redis import RedisDataDB

    require_service(HOST, 6379, "Redis (bash .ci/services starts it)")
    return await RedisDataDB.connect(redis_section(), namespace=namespace)


def sql_section(backend: str, space: str) -> dict:
    section: dict[str, Any] = {"db_type": f"*{backend}", "db_host": HOST, "db_user": USER, "db_password": PASSWORD,
                               "opts": {"sqlMaxOpenConns": 5, "sqlMaxIdleConns": 1}}
    if backend == "postgres":
        section.update(db_port=5432, db_name="cgrates")
        section["opts"]["pgSchema"] = space
    else:
        section.update(db_port=3306, db_name=space)
    return section


async def _admin(backend: str, sql: str) -> None:
    """One statement as CGRateS's user outside any test space (create/drop a space)."""
    if backend == "postgres":
        import asyncpg

        conn = await asyncpg.connect(host=HOST, port=5432, user=USER, password=PASSWORD, database="cgrates")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    else:
        import aiomysql

        conn = await aiomysql.connect(host=HOST, port=3306, user=USER, password=PASSWORD, autocommit=True)
        try:
            async with conn.cursor() as cur:
                await cur.execute(sql)
        finally:
            conn.close()


class SQLSpace:
    """A fresh PostgreSQL schema or MariaDB database, and the stor_db sections that point at it."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = unique("cgrates_t_")
        self.opened: list[StorDB] = []

    def section(self, **extra: Any) -> dict:
        return {**sql_section(self.backend, self.name), **extra}

    async def open(self, **extra: Any) -> StorDB:
        store = await open_stordb(self.section(**extra))
        self.opened.append(store)
        return store

    async def __aenter__(self) -> SQLSpace:
        port = 5432 if self.backend == "postgres" else 3306
        require_service(HOST, port, f"{self.backend} (bash .ci/services starts it and creates user cgrates)")
        if self.backend == "mysql":
            await _admin("mysql", f"CREATE DATABASE `{self.name}` DEFAULT CHARSET utf8mb4")
        return self

    async def __aexit__(self, *exc: Any) -> None:
        for store in self.opened:
            await store.close()
        if self.backend == "postgres":
            await _admin("postgres", f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        else:
            await _admin("mysql", f"DROP DATABASE IF EXISTS `{self.name}`")


@pytest.fixture(params=DATADB_BACKENDS)
async def datadb_factory(request, tmp_path: Path) -> AsyncIterator[Callable[[], Any]]:
    """Opens DataDB handles on one shared store (several handles = several engines, where the backend allows)."""
    opened: list[DataDB] = []
    backend = request.param
    if backend == "internal":
        store = InternalDataDB(tmp_path / "datadb")
        opened.append(store)

        async def make() -> DataDB:  # one process owns an *internal store: every "engine" shares the handle
            return store
    else:
        namespace = unique("pycgrates-test:") + ":"

        async def make() -> DataDB:
            db = await open_redis(namespace)
            opened.append(db)
            return db
    make.backend = backend  # type: ignore[attr-defined]
    yield make
    if opened:
        await opened[-1].flush()
    for db in {id(d): d for d in opened}.values():
        await db.close()


@pytest.fixture
async def datadb(datadb_factory) -> DataDB:
    return await datadb_factory()


@pytest.fixture(params=STORDB_BACKENDS)
async def stordb(request, tmp_path: Path) -> AsyncIterator[StorDB]:
    if request.param == "internal":
        store = InternalStorDB(tmp_path / "stordb")
        yield store
        await store.close()
        return
    async with SQLSpace(request.param) as space:
        yield await space.open()
