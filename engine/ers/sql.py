"""``*sql``: rows of a PostgreSQL or MySQL/MariaDB table as events; each row deleted or marked once settled.

``source_path`` names the server (``*postgres://user:password@127.0.0.1:5432``, ``*mysql://...:3306``); options:
``sqlDBName`` ("cgrates"), ``sqlTableName`` ("cdrs"), ``sqlBatchSize`` (rows per select; 0: all), ``pgSSLMode``
("disable"), ``sqlDeleteIndexedFields`` (the columns that identify a row; all columns but created_at,
updated_at and deleted_at when empty). With ``processed_path`` ``*delete`` a settled row is deleted; with the
pycgrates option ``sqlMarkColumn`` (a boolean column) it is marked instead and later selects skip marked rows.
With neither, rows stay and are read again at the next run, as in CGRateS. The table is selected every
``run_delay`` (1s when it is not positive); the next select waits until every row of the last one is settled,
so a row in flight is never handed out twice. A row whose event was accepted but whose delete was lost to a crash
is read again and refused as duplicate downstream.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from pycgrates.engine.ers.brokers import opt
from pycgrates.engine.ers.connected import ConnectedReader
from pycgrates.engine.ers.progress import CallbackTicket
from pycgrates.engine.ers.records import Record
from pycgrates.engine.template.dataprovider import MapDataProvider
from pycgrates.engine.units import SECOND

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQL_META = ("created_at", "updated_at", "deleted_at")


def identifier(name: str, what: str) -> str:
    """A table or column name, refused unless a plain identifier (names are put into SQL text)."""
    if not _IDENT.match(name):
        raise ValueError(f"{what} <{name}> is not a plain SQL identifier")
    return name


class SQLServer:
    """One connection to PostgreSQL (asyncpg) or MySQL/MariaDB (aiomysql), with ``$n``/``%s`` placeholders
    chosen for it; used by the reader and the exporter."""

    def __init__(self, url: str, opts: dict[str, Any]) -> None:
        parts = urlsplit(url.removeprefix("*"))
        if parts.scheme not in ("postgres", "mysql"):
            raise ValueError(f"unknown db_type {parts.scheme!r} in <{url}> (use *postgres:// or *mysql://)")
        self.kind = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (5432 if self.kind == "postgres" else 3306)
        self.user = unquote(parts.username or "cgrates")
        self.password = unquote(parts.password or "")
        self.database = str(opt(opts, "sqlDBName", "cgrates"))
        self.ssl = str(opt(opts, "pgSSLMode", "disable"))
        self.conn: Any = None

    def ph(self, n: int) -> str:
        """The n-th (1-based) placeholder."""
        return f"${n}" if self.kind == "postgres" else "%s"

    async def connect(self) -> None:
        if self.kind == "postgres":
            import asyncpg

            self.conn = await asyncpg.connect(host=self.host, port=self.port, user=self.user,
                                              password=self.password or None, database=self.database,
                                              ssl=None if self.ssl == "disable" else self.ssl, timeout=10)
        else:
            import aiomysql

            self.conn = await aiomysql.connect(host=self.host, port=self.port, user=self.user,
                                               password=self.password, db=self.database, autocommit=True,
                                               connect_timeout=10)

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if self.kind == "postgres":
            await conn.close()
        else:
            conn.close()

    async def fetch(self, query: str, *args: Any) -> list[dict[str, Any]]:
        if self.kind == "postgres":
            return [dict(r) for r in await self.conn.fetch(query, *args)]
        import aiomysql

        async with self.conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(query, args)
            return list(await cur.fetchall())

    async def execute(self, query: str, *args: Any) -> None:
        if self.kind == "postgres":
            await self.conn.execute(query, *args)
            return
        async with self.conn.cursor() as cur:
            await cur.execute(query, args)

    async def execute_many(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        """One statement over many rows, in one transaction."""
        if self.kind == "postgres":
            async with self.conn.transaction():
                await self.conn.executemany(query, rows)
            return
        async with self.conn.cursor() as cur:
            await self.conn.begin()
            try:
                await cur.executemany(query, rows)
                await self.conn.commit()
            except BaseException:
                await self.conn.rollback()
                raise


class SQLReader(ConnectedReader):
    kind = "SQL server"

    def __init__(self, service: Any, settings: Any) -> None:
        super().__init__(service, settings)
        opts = settings.opts
        self.table = identifier(str(opt(opts, "sqlTableName", "cdrs")), "sqlTableName")
        self.key_fields = [identifier(str(f), "sqlDeleteIndexedFields") for f in opt(opts, "sqlDeleteIndexedFields",
                                                                                     []) or []]
        mark = opt(opts, "sqlMarkColumn", "")
        self.mark = identifier(str(mark), "sqlMarkColumn") if mark else ""
        self.delete = settings.processed_path == "*delete"
        self.batch = int(opt(opts, "sqlBatchSize", 0) or 0)
        self._server: SQLServer | None = None
        self._lock = asyncio.Lock()

    async def consume(self) -> None:
        s = self.settings
        server = self._server = SQLServer(s.source_path, s.opts)
        await server.connect()
        try:
            self.connected.set()
            where = f" WHERE NOT COALESCE({self.mark}, FALSE)" if self.mark else ""
            limit = f" LIMIT {self.batch}" if self.batch > 0 else ""
            query = f"SELECT * FROM {self.table}{where}{limit}"
            period = s.run_delay / SECOND if s.run_delay > 0 else 1.0
            while True:
                rows = await server.fetch(query)
                settled = [asyncio.Event() for _ in rows]
                for row, done in zip(rows, settled, strict=True):
                    await self._one(server, row, done)
                for done in settled:
                    await done.wait()
                if not rows or not (self.delete or self.mark):
                    await asyncio.sleep(period)
        finally:
            self._server = None
            await server.close()

    async def _one(self, server: SQLServer, row: dict[str, Any], done: asyncio.Event) -> None:
        self.number += 1
        keys = self.key_fields or [c for c in row if c not in _SQL_META and c != self.mark]

        async def settle() -> None:
            try:
                if self.delete or self.mark:
                    present = [k for k in keys if row[k] is not None]
                    conds = " AND ".join([*(f"{k} = {server.ph(i)}" for i, k in enumerate(present, 1)),
                                          *(f"{k} IS NULL" for k in keys if row[k] is None)])
                    values = [row[k] for k in present]
                    action = f"DELETE FROM {self.table}" if self.delete else \
                        f"UPDATE {self.table} SET {self.mark} = TRUE"
                    async with self._lock:
                        await server.execute(f"{action} WHERE {conds}", *values)
            finally:
                done.set()

        data = {k: v for k, v in row.items() if k != self.mark}
        rec = Record(self.number, self.number, repr(data), MapDataProvider(data))
        await self.service.feed(self.settings, rec, {"*readerID": self.settings.id}, [CallbackTicket(settle)],
                                origin=f"table {self.table} row {self.number}", sink=self.sink)


__all__ = ["SQLReader", "SQLServer", "identifier"]
