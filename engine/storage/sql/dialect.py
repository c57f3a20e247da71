"""The two SQL servers behind one small seam: a pool, sessions that fetch and execute, transactions.

Queries are written once with ``?`` placeholders and ``{q}``-free identifiers quoted by :meth:`Dialect.q`;
:meth:`Dialect.sql` turns ``?`` into ``$1, $2...`` (asyncpg) or ``%s`` (aiomysql). Values cross as Python objects:
aware datetimes (MySQL gets naive UTC, its DATETIME has no zone), Decimals, ints, bools, and JSON as text.
"""

from __future__ import annotations

import ssl as ssl_module
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pycgrates.engine.storage.base import StorageError

try:
    import asyncpg
except ImportError:  # pragma: no cover - reported by open
    asyncpg = None
try:
    import aiomysql
    import pymysql
except ImportError:  # pragma: no cover - reported by open
    aiomysql = None


@dataclass
class SQLSettings:
    """Where the StorDB is and how many connections it may hold (from the ``stor_db`` section)."""

    host: str
    port: int
    database: str
    user: str
    password: str
    max_open: int = 100
    max_idle: int = 10
    max_lifetime: float = 0.0  # seconds; 0 = forever
    schema: str = ""  # PostgreSQL schema
    ssl: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Session(ABC):
    """One connection, in or out of a transaction."""

    @abstractmethod
    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run a statement; returns the number of rows it changed."""

    @abstractmethod
    async def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run an INSERT into a table with an ``id`` column; returns the new row's id."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class Dialect(ABC):
    name: str
    quote: str
    #: the server error of a duplicate unique key
    unique_violation: tuple[type[BaseException], ...] = ()

    def __init__(self, settings: SQLSettings) -> None:
        self.settings = settings

    def q(self, ident: str) -> str:
        return f"{self.quote}{ident}{self.quote}"

    @abstractmethod
    def sql(self, text: str) -> str:
        """``?`` placeholders in this driver's style."""

    @abstractmethod
    def to_db_time(self, dt: datetime) -> Any: ...

    def from_db_time(self, value: Any) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, self.unique_violation)

    def is_unreachable(self, exc: BaseException) -> bool:
        """The server could not be reached at all (as opposed to a refused login or an unknown database)."""
        return isinstance(exc, OSError)

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    def session(self) -> Any:
        """``async with dialect.session() as s``: a pooled connection."""

    @abstractmethod
    def transaction(self) -> Any:
        """``async with dialect.transaction() as s``: a pooled connection inside a transaction."""

    @abstractmethod
    async def close(self) -> None: ...


# ------------------------------------------------------------------------------------------------ PostgreSQL


class _PgSession(Session):
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.conn.fetch(sql, *args)]

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        status = await self.conn.execute(sql, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        return int(await self.conn.fetchval(sql + " RETURNING id", *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self.conn.executemany(sql, rows)


def pg_ssl(opts: dict) -> Any:
    mode = str(opts.get("pgSSLMode") or "disable")
    if mode not in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"):
        raise StorageError(f"stor_db.opts.pgSSLMode {mode!r} is not valid (use disable, allow, prefer, require, "
                           "verify-ca or verify-full)")
    root, cert, key = opts.get("pgSSLRootCert") or "", opts.get("pgSSLCert") or "", opts.get("pgSSLKey") or ""
    if mode == "disable" or not (root or cert):
        return mode
    ctx = ssl_module.create_default_context(cafile=root or None)
    ctx.check_hostname = mode == "verify-full"
    if mode not in ("verify-ca", "verify-full"):
        ctx.verify_mode = ssl_module.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key or None, password=opts.get("pgSSLPassword") or None)
    return ctx


class Postgres(Dialect):
    name = "postgres"
    quote = '"'

    def __init__(self, settings: SQLSettings) -> None:
        super().__init__(settings)
        if asyncpg is None:
            raise StorageError("stor_db.db_type *postgres needs asyncpg: pip install 'pycgrates[postgres]'")
        self.unique_violation = (asyncpg.UniqueViolationError,)
        self.pool: Any = None

    def sql(self, text: str) -> str:
        parts = text.split("?")
        out = [parts[0]]
        for n, part in enumerate(parts[1:], 1):
            out.append(f"${n}{part}")
        return "".join(out)

    def to_db_time(self, dt: datetime) -> Any:
        return dt

    async def open(self) -> None:
        s = self.settings
        server_settings = {"timezone": "UTC"}
        if s.schema:
            server_settings["search_path"] = s.schema
        self.pool = await asyncpg.create_pool(
            host=s.host, port=s.port, user=s.user, password=s.password or None, database=s.database,
            min_size=min(s.max_idle, s.max_open), max_size=s.max_open, ssl=s.ssl,
            max_inactive_connection_lifetime=s.max_lifetime or 300.0, server_settings=server_settings,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        async with self.pool.acquire() as conn:
            yield _PgSession(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield _PgSession(conn)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None


# ------------------------------------------------------------------------------------------------ MySQL/MariaDB


class _MySession(Session):
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        async with self.conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(sql, tuple(args))
            return list(await cur.fetchall())

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        async with self.conn.cursor() as cur:
            await cur.execute(sql, tuple(args))
            return cur.rowcount

    async def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        async with self.conn.cursor() as cur:
            await cur.execute(sql, tuple(args))
            return int(cur.lastrowid)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            async with self.conn.cursor() as cur:
                await cur.executemany(sql, [tuple(r) for r in rows])


class MySQL(Dialect):
    name = "mysql"
    quote = "`"

    def __init__(self, settings: SQLSettings) -> None:
        super().__init__(settings)
        if aiomysql is None:
            raise StorageError("stor_db.db_type *mysql needs aiomysql: pip install 'pycgrates[mysql]'")
        self.unique_violation = (pymysql.err.IntegrityError,)
        self.pool: Any = None

    def sql(self, text: str) -> str:
        return text.replace("%", "%%").replace("?", "%s")

    def to_db_time(self, dt: datetime) -> Any:
        return dt.astimezone(UTC).replace(tzinfo=None)

    def is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, self.unique_violation) and bool(exc.args) and exc.args[0] == 1062

    def is_unreachable(self, exc: BaseException) -> bool:
        # CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_SERVER_LOST
        return isinstance(exc, OSError) or (isinstance(exc, pymysql.err.OperationalError) and bool(exc.args)
                                            and exc.args[0] in (2002, 2003, 2013))

    async def open(self) -> None:
        s = self.settings
        self.pool = await aiomysql.create_pool(
            host=s.host, port=s.port, user=s.user, password=s.password, db=s.database,
            minsize=min(s.max_idle, s.max_open), maxsize=s.max_open, autocommit=True, charset="utf8mb4",
            pool_recycle=int(s.max_lifetime) if s.max_lifetime else -1, init_command="SET time_zone = '+00:00'",
            ssl=s.ssl, **s.extra,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        async with self.pool.acquire() as conn:
            yield _MySession(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with self.pool.acquire() as conn:
            await conn.begin()
            try:
                yield _MySession(conn)
            except BaseException:
                await conn.rollback()
                raise
            await conn.commit()

    async def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            await self.pool.wait_closed()
            self.pool = None


DIALECTS: dict[str, type[Dialect]] = {"*postgres": Postgres, "*mysql": MySQL}
