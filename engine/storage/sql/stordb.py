"""The ``*postgres`` and ``*mysql`` StorDB: CDRs, session costs and tariff plans under edit in CGRateS's tables.

One implementation over :mod:`engine.storage.sql.dialect`: the CDR filters of :class:`CDRFilter` become one WHERE
clause (equality lists as ``IN``, destination prefixes as ``LIKE 'p%'``, times, usage and cost as ranges), ordering
and paging run in the database, so GetCDRs reads only the page it answers. ``OrderID`` is the ``id`` column.
``stor_db.string_indexed_fields`` and ``prefix_indexed_fields`` name CDR fields that get an index at start (a
prefix index on PostgreSQL is a ``varchar_pattern_ops`` one, which ``LIKE 'p%'`` can use in any collation).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from pycgrates.engine.rpc.errors import EXISTS, RPCError
from pycgrates.engine.storage.base import CDRFilter, StorageError, StorDB, cdr_order, dumps
from pycgrates.engine.storage.sql.dialect import Dialect
from pycgrates.engine.storage.sql.schema import MIGRATIONS, SCHEMA_TABLE, TP_TABLES, TPTable
from pycgrates.engine.units import format_time, parse_duration, parse_time, to_decimal

log = logging.getLogger("cgr.storage")

_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time, what CGRateS writes for an unset time

#: CDR field → ``cdrs`` column (OrderID is ``id``).
CDR_COLUMNS: dict[str, str] = {
    "CGRID": "cgrid",
    "RunID": "run_id",
    "OriginHost": "origin_host",
    "Source": "source",
    "OriginID": "origin_id",
    "ToR": "tor",
    "RequestType": "request_type",
    "Tenant": "tenant",
    "Category": "category",
    "Account": "account",
    "Subject": "subject",
    "Destination": "destination",
    "SetupTime": "setup_time",
    "AnswerTime": "answer_time",
    "Usage": "usage",
    "ExtraFields": "extra_fields",
    "CostSource": "cost_source",
    "Cost": "cost",
    "CostDetails": "cost_details",
    "ExtraInfo": "extra_info",
}
_ORDER_COLUMNS = {"OrderID": "id", "AnswerTime": "answer_time", "SetupTime": "setup_time", "Cost": "cost",
                  "Usage": "usage"}
_EQUAL_FILTERS = (
    ("cgrids", "cgrid"),
    ("run_ids", "run_id"),
    ("origin_ids", "origin_id"),
    ("origin_hosts", "origin_host"),
    ("sources", "source"),
    ("tors", "tor"),
    ("request_types", "request_type"),
    ("tenants", "tenant"),
    ("categories", "category"),
    ("accounts", "account"),
    ("subjects", "subject"),
)
_TEXT_COLUMNS = ("cgrid", "run_id", "origin_host", "source", "origin_id", "tor", "request_type", "tenant",
                 "category", "account", "subject", "destination", "cost_source")
_SMC_COLUMNS = ("cgrid", "run_id", "origin_host", "origin_id", "cost_source", "usage", "cost_details")
_NO_LIMIT = 18446744073709551615  # MySQL takes OFFSET only after a LIMIT


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _time(value: Any) -> datetime:
    return parse_time(value) or _ZERO_TIME


def _format_time(value: datetime | None) -> str:
    return format_time(None if value is None or value.year == 1 else value)  # year 1: Go's zero time


def _loads(text: Any) -> Any:
    if text is None or text == "":
        return None
    return orjson.loads(text)


def _text_number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return "0" if value == 0 else format(value.normalize(), "f")
    return str(value)


class SQLStorDB(StorDB):
    """A StorDB in PostgreSQL or MySQL/MariaDB; open with :meth:`open` (connects and migrates)."""

    def __init__(self, dialect: Dialect, *, string_indexed_fields: Iterable[str] = (),
                 prefix_indexed_fields: Iterable[str] = ()) -> None:
        self.dialect = dialect
        self.q = dialect.q
        self.string_indexed_fields = list(string_indexed_fields or ())
        self.prefix_indexed_fields = list(prefix_indexed_fields or ())
        cols = ", ".join(self.q(c) for c in ("id", *CDR_COLUMNS.values()))
        self._cdr_select = f"SELECT {cols} FROM {self.q('cdrs')}"

    async def open(self) -> SQLStorDB:
        """Connect, apply the missing migrations and the configured CDR indexes; StorageError says what failed."""
        s = self.dialect.settings
        where = f"{self.dialect.name} at {s.host}:{s.port} database {s.database!r} as {s.user!r}"
        try:
            await self.dialect.open()
        except StorageError:
            raise
        except Exception as exc:
            if self.dialect.is_unreachable(exc):
                raise StorageError(f"stor_db: cannot reach {where}: {exc}; start the server or fix stor_db.db_host "
                                   "and db_port") from exc
            raise StorageError(f"stor_db: cannot open {where}: {exc}; fix stor_db.db_name, db_user and db_password, "
                               "or create that user and database") from exc
        try:
            await self.migrate()
            await self.ensure_cdr_indexes()
        except BaseException as exc:
            await self.dialect.close()
            if isinstance(exc, Exception) and not isinstance(exc, StorageError):
                raise StorageError(f"stor_db: cannot create or update the tables in {where}: {exc}; grant that "
                                   "user the right to create tables and indexes there") from exc
            raise
        return self

    # ------------------------------------------------------------------------------------------ schema

    async def migrate(self) -> list[int]:
        """Apply the migrations this database lacks (under a server lock); returns the versions applied."""
        if self.dialect.name == "postgres":
            return await self._migrate_postgres()
        return await self._migrate_mysql()

    async def _pending(self, s: Any) -> list:
        q = self.q
        exists = self.dialect.sql("SELECT 1 AS found FROM information_schema.tables WHERE table_name = ? AND "
                                  + ("table_schema = current_schema()" if self.dialect.name == "postgres"
                                     else "table_schema = DATABASE()"))
        if not await s.fetch(exists, (SCHEMA_TABLE,)):
            await s.execute(f"CREATE TABLE IF NOT EXISTS {q(SCHEMA_TABLE)} ({q('version')} INTEGER PRIMARY KEY, "
                            f"{q('description')} VARCHAR(255) NOT NULL, {q('applied_at')} VARCHAR(40) NOT NULL)")
        done = {r["version"] for r in await s.fetch(f"SELECT {q('version')} FROM {q(SCHEMA_TABLE)}")}
        return [m for m in MIGRATIONS if m.version not in done]

    async def _record(self, s: Any, version: int, description: str) -> None:
        q = self.q
        await s.execute(self.dialect.sql(f"INSERT INTO {q(SCHEMA_TABLE)} ({q('version')}, {q('description')}, "
                                          f"{q('applied_at')}) VALUES (?, ?, ?)"),
                        (version, description, format_time(datetime.now(UTC))))

    async def _migrate_postgres(self) -> list[int]:
        applied = []
        async with self.dialect.transaction() as s:  # DDL is transactional here: all of it or none
            await s.execute("SELECT pg_advisory_xact_lock(7305923801)")
            if self.dialect.settings.schema:
                await s.execute(f"CREATE SCHEMA IF NOT EXISTS {self.q(self.dialect.settings.schema)}")
            for m in await self._pending(s):
                for statement in m.statements["postgres"]:
                    await s.execute(statement)
                await self._record(s, m.version, m.description)
                applied.append(m.version)
        return applied

    async def _migrate_mysql(self) -> list[int]:
        applied = []
        lock = f"pycgrates_schema.{self.dialect.settings.database}"
        async with self.dialect.session() as s:
            got = await s.fetch(self.dialect.sql("SELECT GET_LOCK(?, 60) AS got"), (lock,))
            if not got or got[0]["got"] != 1:
                raise StorageError(f"stor_db: another engine has held the schema lock {lock} for 60s; retry")
            try:
                for m in await self._pending(s):
                    for statement in m.statements["mysql"]:  # DDL commits itself; each statement re-runs safely
                        await s.execute(statement)
                    await self._record(s, m.version, m.description)
                    applied.append(m.version)
            finally:
                await s.fetch(self.dialect.sql("SELECT RELEASE_LOCK(?) AS released"), (lock,))
        return applied

    async def ensure_cdr_indexes(self) -> list[str]:
        """Indexes for ``string_indexed_fields`` / ``prefix_indexed_fields``; returns the names created or found."""
        wanted: dict[str, tuple[str, bool]] = {}
        for fields, prefix in ((self.string_indexed_fields, False), (self.prefix_indexed_fields, True)):
            for name in fields:
                field = str(name).removeprefix("~").removeprefix("*req.")
                column = CDR_COLUMNS.get(field)
                if column not in _TEXT_COLUMNS:
                    log.warning("stor_db: %r is not a text column of the cdrs table; no index for it (columns: %s)",
                                name, ", ".join(k for k, v in CDR_COLUMNS.items() if v in _TEXT_COLUMNS))
                    continue
                if prefix and self.dialect.name == "postgres":
                    wanted[f"cdrs_{column}_prefix_idx"] = (column, True)
                else:
                    wanted[f"cdrs_{column}_idx"] = (column, False)
        q = self.q
        async with self.dialect.session() as s:
            for index, (column, pattern) in wanted.items():
                if self.dialect.name == "postgres":
                    ops = " varchar_pattern_ops" if pattern else ""
                    await s.execute(f"CREATE INDEX IF NOT EXISTS {q(index)} ON {q('cdrs')} ({q(column)}{ops})")
                    continue
                found = await s.fetch(self.dialect.sql(
                    "SELECT 1 AS found FROM information_schema.statistics WHERE table_schema = DATABASE() "
                    "AND table_name = 'cdrs' AND index_name = ?"), (index,))
                if not found:
                    await s.execute(f"CREATE INDEX {q(index)} ON {q('cdrs')} ({q(column)})")
        return list(wanted)

    # ------------------------------------------------------------------------------------------ CDRs

    def _cdr_values(self, cdr: dict) -> list[Any]:
        d = self.dialect
        cost = cdr.get("Cost")
        details = cdr.get("CostDetails")
        return [
            *(str(cdr.get(f) or "") for f in ("CGRID", "RunID", "OriginHost", "Source", "OriginID", "ToR",
                                              "RequestType", "Tenant", "Category", "Account", "Subject",
                                              "Destination")),
            d.to_db_time(_time(cdr.get("SetupTime"))),
            d.to_db_time(_time(cdr.get("AnswerTime"))),
            parse_duration(cdr.get("Usage") or 0),
            dumps(cdr.get("ExtraFields") or {}).decode(),
            str(cdr.get("CostSource") or ""),
            Decimal(-1) if cost is None or cost == "" else to_decimal(cost),
            None if details is None else dumps(details).decode(),
            str(cdr.get("ExtraInfo") or ""),
        ]

    async def set_cdr(self, cdr: dict, allow_update: bool = False) -> dict:
        d, q = self.dialect, self.q
        columns = [*CDR_COLUMNS.values(), "created_at"]
        values = [*self._cdr_values(cdr), d.to_db_time(datetime.now(UTC))]
        marks = ", ".join(["?"] * len(columns))
        sql = f"INSERT INTO {q('cdrs')} ({', '.join(q(c) for c in columns)}) VALUES ({marks})"
        if allow_update:
            updated = [c for c in CDR_COLUMNS.values() if c not in ("cgrid", "run_id")]
            sql += self._upsert(("cgrid", "run_id"), updated, stamp="updated_at")
        async with d.session() as s:
            try:
                order_id = await s.insert(d.sql(sql), values)
            except d.unique_violation as exc:
                if d.is_unique_violation(exc):
                    raise RPCError(EXISTS) from None
                raise
        return {**cdr, "OrderID": order_id}

    def _upsert(self, keys: tuple[str, ...], columns: list[str], stamp: str = "") -> str:
        q = self.q
        if self.dialect.name == "postgres":
            sets = [f"{q(c)} = EXCLUDED.{q(c)}" for c in columns]
            if stamp:
                sets.append(f"{q(stamp)} = now()")
            return f" ON CONFLICT ({', '.join(q(k) for k in keys)}) DO UPDATE SET {', '.join(sets)}"
        sets = [f"{q(c)} = VALUES({q(c)})" for c in columns]
        if stamp:
            sets.append(f"{q(stamp)} = UTC_TIMESTAMP()")
        sets.append(f"{q('id')} = LAST_INSERT_ID({q('id')})")  # the kept row's id comes back as the insert id
        return f" ON DUPLICATE KEY UPDATE {', '.join(sets)}"

    def _where(self, flt: CDRFilter) -> tuple[str, list[Any]]:
        q, d = self.q, self.dialect
        parts = [f"{q('deleted_at')} IS NULL"]
        args: list[Any] = []

        def add(sql: str, *values: Any) -> None:
            parts.append(sql)
            args.extend(values)

        for attr, column in _EQUAL_FILTERS:
            values = getattr(flt, attr)
            if values:
                add(f"{q(column)} IN ({', '.join(['?'] * len(values))})", *values)
        if flt.not_run_ids:
            add(f"{q('run_id')} NOT IN ({', '.join(['?'] * len(flt.not_run_ids))})", *flt.not_run_ids)
        if flt.destination_prefixes:
            likes = " OR ".join([f"{q('destination')} LIKE ?"] * len(flt.destination_prefixes))
            add(f"({likes})", *(_like_prefix(p) for p in flt.destination_prefixes))
        for value, column, op in (
            (flt.setup_time_start, "setup_time", ">="),
            (flt.setup_time_end, "setup_time", "<"),
            (flt.answer_time_start, "answer_time", ">="),
            (flt.answer_time_end, "answer_time", "<"),
        ):
            when = parse_time(value)
            if when is not None:
                add(f"{q(column)} {op} ?", d.to_db_time(when))
        if flt.order_id_start is not None:
            add(f"{q('id')} >= ?", flt.order_id_start)
        if flt.order_id_end is not None:
            add(f"{q('id')} < ?", flt.order_id_end)
        if flt.min_usage is not None:
            add(f"{q('usage')} >= ?", parse_duration(flt.min_usage))
        if flt.max_usage is not None:
            add(f"{q('usage')} < ?", parse_duration(flt.max_usage))
        self._cost_where(flt, add)
        return " WHERE " + " AND ".join(parts), args

    def _cost_where(self, flt: CDRFilter, add: Any) -> None:
        """CGRateS's MinCost/MaxCost rules (as the *internal StorDB): MinCost 0 with MaxCost -1 skips unrated
        CDRs (Cost >= 0), MaxCost -1 alone keeps only them (Cost < 0)."""
        cost = f"COALESCE({self.q('cost')}, -1)"
        lo = None if flt.min_cost is None else to_decimal(flt.min_cost)
        hi = None if flt.max_cost is None else to_decimal(flt.max_cost)
        if lo is not None and hi is None:
            add(f"{cost} >= ?", lo)
        elif lo is None and hi is not None:
            add(f"{cost} < ?", Decimal(0) if hi == -1 else hi)
        elif lo is not None and hi is not None:
            if lo == 0 and hi == -1:
                add(f"{cost} >= ?", Decimal(0))
            else:
                add(f"{cost} >= ? AND {cost} < ?", lo, hi)

    def _order_page(self, flt: CDRFilter) -> tuple[str, list[Any]]:
        q = self.q
        order = f" ORDER BY {q('id')}"
        if flt.order_by:
            field, descending = cdr_order(flt.order_by)
            column = _ORDER_COLUMNS[field]
            if column != "id":
                order = f" ORDER BY {q(column)}{' DESC' if descending else ''}, {q('id')}"
            elif descending:
                order = f" ORDER BY {q('id')} DESC"
        offset = max(flt.offset or 0, 0)
        if flt.limit is None and not offset:
            return order, []
        if flt.limit is None and self.dialect.name == "postgres":
            return order + " OFFSET ?", [offset]
        limit = _NO_LIMIT if flt.limit is None else max(flt.limit, 0)
        return order + " LIMIT ? OFFSET ?", [limit, offset]

    def _cdr_from_row(self, row: dict) -> dict:
        d = self.dialect
        cost = row["cost"]
        cdr = {field: row[column] for field, column in CDR_COLUMNS.items()}
        cdr.update(
            OrderID=int(row["id"]),
            SetupTime=_format_time(d.from_db_time(row["setup_time"])),
            AnswerTime=_format_time(d.from_db_time(row["answer_time"])),
            Usage=int(row["usage"]),
            ExtraFields=_loads(row["extra_fields"]) or {},
            Cost=-1.0 if cost is None else float(cost),
            CostDetails=_loads(row["cost_details"]),
            ExtraInfo=row["extra_info"] or "",
            Partial=False,
            PreRated=False,
        )
        return cdr

    async def get_cdrs(self, flt: CDRFilter, remove: bool = False) -> list[dict]:
        where, args = self._where(flt)
        page, page_args = self._order_page(flt)
        sql = self.dialect.sql(self._cdr_select + where + page)
        if not remove:
            async with self.dialect.session() as s:
                rows = await s.fetch(sql, [*args, *page_args])
            return [self._cdr_from_row(r) for r in rows]
        async with self.dialect.transaction() as s:
            rows = await s.fetch(sql + " FOR UPDATE", [*args, *page_args])
            ids = [r["id"] for r in rows]
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                await s.execute(self.dialect.sql(
                    f"DELETE FROM {self.q('cdrs')} WHERE {self.q('id')} IN ({', '.join(['?'] * len(chunk))})"), chunk)
        return [self._cdr_from_row(r) for r in rows]

    async def count_cdrs(self, flt: CDRFilter) -> int:
        where, args = self._where(flt)
        q = self.q
        if flt.limit is None and not flt.offset:
            sql = f"SELECT COUNT(*) AS n FROM {q('cdrs')}{where}"
            page_args: list[Any] = []
        else:
            page, page_args = self._order_page(flt)
            sql = f"SELECT COUNT(*) AS n FROM (SELECT {q('id')} FROM {q('cdrs')}{where}{page}) AS page"
        async with self.dialect.session() as s:
            rows = await s.fetch(self.dialect.sql(sql), [*args, *page_args])
        return int(rows[0]["n"])

    # ------------------------------------------------------------------------------------------ session costs

    async def set_session_cost(self, cost: dict) -> None:
        d, q = self.dialect, self.q
        details = cost.get("CostDetails")
        values = [
            str(cost.get("CGRID") or ""),
            str(cost.get("RunID") or ""),
            str(cost.get("OriginHost") or ""),
            str(cost.get("OriginID") or ""),
            str(cost.get("CostSource") or ""),
            parse_duration(cost.get("Usage") or 0),
            None if details is None else dumps(details).decode(),
            d.to_db_time(datetime.now(UTC)),
        ]
        columns = [*_SMC_COLUMNS, "created_at"]
        sql = (f"INSERT INTO {q('session_costs')} ({', '.join(q(c) for c in columns)}) "
               f"VALUES ({', '.join(['?'] * len(columns))})")
        sql += self._upsert(("cgrid", "run_id"), [c for c in columns if c not in ("cgrid", "run_id")])
        async with d.session() as s:
            await s.execute(d.sql(sql), values)

    async def get_session_costs(
        self, cgrid: str, run_id: str = "", origin_host: str = "", origin_id: str = ""
    ) -> list[dict]:
        """Costs matching every non-empty argument; ``origin_id`` matches as a prefix (as CGRateS)."""
        q = self.q
        parts, args = [f"{q('deleted_at')} IS NULL"], []
        for value, column in ((cgrid, "cgrid"), (run_id, "run_id"), (origin_host, "origin_host")):
            if value:
                parts.append(f"{q(column)} = ?")
                args.append(value)
        if origin_id:
            parts.append(f"{q('origin_id')} LIKE ?")
            args.append(_like_prefix(origin_id))
        sql = (f"SELECT {', '.join(q(c) for c in _SMC_COLUMNS)} FROM {q('session_costs')} "
               f"WHERE {' AND '.join(parts)} ORDER BY {q('cgrid')}, {q('run_id')}")
        async with self.dialect.session() as s:
            rows = await s.fetch(self.dialect.sql(sql), args)
        return [
            {
                "CGRID": r["cgrid"],
                "RunID": r["run_id"],
                "OriginHost": r["origin_host"],
                "OriginID": r["origin_id"],
                "CostSource": r["cost_source"],
                "Usage": int(r["usage"]),
                "CostDetails": _loads(r["cost_details"]),
            }
            for r in rows
        ]

    async def remove_session_costs(self, cgrid: str, run_id: str = "") -> None:
        q = self.q
        sql = f"DELETE FROM {q('session_costs')} WHERE {q('cgrid')} = ?"
        args = [cgrid]
        if run_id:
            sql += f" AND {q('run_id')} = ?"
            args.append(run_id)
        async with self.dialect.session() as s:
            await s.execute(self.dialect.sql(sql), args)

    # ------------------------------------------------------------------------------------------ tariff plans

    def _tp_table(self, kind: str) -> TPTable:
        table = TP_TABLES.get(kind)
        if table is None:
            raise StorageError(f"the SQL StorDB has no table for tariff-plan rows of {kind!r} "
                               f"(known: {', '.join(TP_TABLES)})")
        return table

    @staticmethod
    def _tp_value(table: TPTable, col: Any, row: dict) -> Any:
        if not col.csv:
            return col.const
        text = row.get(col.csv)
        text = "" if text is None else str(text).strip() if col.type in "nib" else str(text)
        try:
            if col.type == "n":
                return Decimal(text or 0)
            if col.type == "i":
                return int(text or 0)
            if col.type == "b":
                return text.lower() in ("true", "1")
        except (InvalidOperation, ValueError):
            raise StorageError(f"{table.kind}: {col.csv} {text!r} is not a number ({table.table}.{col.column})") \
                from None
        return text

    async def set_tp(self, tpid: str, kind: str, rows: list[dict]) -> None:
        """Replace the rows of ``kind`` under ``tpid`` (cells by CSV column name; other keys are not kept)."""
        if not tpid or not kind:
            raise StorageError("set_tp needs a TPid and a kind (Destinations, Rates, ...)")
        table = self._tp_table(kind)
        q, d = self.q, self.dialect
        columns = ["tpid", *(c.column for c in table.columns), "created_at"]
        now = d.to_db_time(datetime.now(UTC))
        values = [[tpid, *(self._tp_value(table, c, row) for c in table.columns), now] for row in rows]
        insert = (f"INSERT INTO {q(table.table)} ({', '.join(q(c) for c in columns)}) "
                  f"VALUES ({', '.join(['?'] * len(columns))})")
        async with d.transaction() as s:
            await s.execute(d.sql(f"DELETE FROM {q(table.table)} WHERE {q('tpid')} = ?"), [tpid])
            await s.executemany(d.sql(insert), values)

    async def get_tp(self, tpid: str, kind: str) -> list[dict]:
        table = self._tp_table(kind)
        q = self.q
        cols = [c for c in table.columns if c.csv]
        sql = (f"SELECT {', '.join(q(c.column) for c in cols)} FROM {q(table.table)} WHERE {q('tpid')} = ? "
               f"ORDER BY {q(table.pk)}")
        async with self.dialect.session() as s:
            rows = await s.fetch(self.dialect.sql(sql), [tpid])
        out = []
        for r in rows:
            out.append({c.csv: _text_number(bool(r[c.column]) if c.type == "b" else r[c.column]) for c in cols})
        return out

    async def remove_tp(self, tpid: str, kind: str = "") -> None:
        tables = [self._tp_table(kind)] if kind else list(TP_TABLES.values())
        async with self.dialect.transaction() as s:
            for table in tables:
                await s.execute(self.dialect.sql(f"DELETE FROM {self.q(table.table)} WHERE {self.q('tpid')} = ?"),
                                [tpid])

    async def tp_ids(self) -> list[str]:
        q = self.q
        sql = " UNION ".join(f"SELECT DISTINCT {q('tpid')} AS tpid FROM {q(t.table)}" for t in TP_TABLES.values())
        async with self.dialect.session() as s:
            rows = await s.fetch(sql)
        return sorted({r["tpid"] for r in rows})

    # ------------------------------------------------------------------------------------------ lifecycle

    async def flush(self) -> None:
        """Remove every CDR, session cost and tariff-plan row (ids keep counting: OrderIDs never repeat)."""
        tables = ["cdrs", "session_costs", *(t.table for t in TP_TABLES.values())]
        async with self.dialect.transaction() as s:
            for table in tables:
                await s.execute(f"DELETE FROM {self.q(table)}")

    async def close(self) -> None:
        await self.dialect.close()
