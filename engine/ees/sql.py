"""``*sql``: one row per event into ``sqlTableName`` of a PostgreSQL or MySQL/MariaDB database (``export_path``:
``*postgres://user:password@host:port``, ``sqlDBName``), each batch in one transaction. The ``*exp`` paths are the
columns (the path ``*row`` gives values for every column in table order). With ``sqlUpdateIndexedFields`` the row
is updated where those columns match instead of inserted. Values are converted to each column's type as the
database reports it (a time string into a timestamp column, a number string into a numeric one)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pycgrates.engine.ees.exporter import Exporter
from pycgrates.engine.ers.brokers import opt
from pycgrates.engine.ers.sql import SQLServer, identifier
from pycgrates.engine.template.dataprovider import as_float, as_int, as_string, as_time
from pycgrates.engine.template.fields import NavMap

_TYPES = {
    "timestamp with time zone": "time", "timestamp without time zone": "time", "timestamp": "time",
    "datetime": "time", "date": "time", "integer": "int", "bigint": "int", "smallint": "int", "int": "int",
    "numeric": "decimal", "decimal": "decimal", "double precision": "float", "real": "float", "double": "float",
    "float": "float", "boolean": "bool", "tinyint": "int",
}


def _convert(kind: str, value: Any) -> Any:
    if value is None or value == "":
        return None if kind != "text" else ("" if value == "" else None)
    if kind == "time":
        return as_time(value, "UTC")
    if kind == "int":
        return as_int(value)
    if kind == "decimal":
        return Decimal(as_string(value))
    if kind == "float":
        return as_float(value)
    if kind == "bool":
        return value if isinstance(value, bool) else as_string(value).lower() in ("true", "1")
    return as_string(value)


class SQLExporter(Exporter):
    connected_target = True

    def __init__(self, settings: Any, service: Any) -> None:
        super().__init__(settings, service)
        self.table = identifier(str(opt(settings.opts, "sqlTableName", "cdrs")), "sqlTableName")
        self.update_by = [identifier(str(f), "sqlUpdateIndexedFields")
                          for f in opt(settings.opts, "sqlUpdateIndexedFields", []) or []]
        self._server: SQLServer | None = None
        self._columns: dict[str, str] = {}
        self._order: list[str] = []

    def payload(self, event: dict[str, Any], exp: NavMap | None) -> Any:
        if exp is None:
            return {"cols": list(event.get("Event") or {}), "vals": list((event.get("Event") or {}).values())}
        cols, vals = [], []
        for leaf in exp.leaves():
            name = ".".join(leaf.path)
            cols.append(None if name == "*row" else name)
            vals.append(leaf.value)
        return {"cols": cols, "vals": vals}

    async def connect(self) -> None:
        server = SQLServer(self.settings.export_path, self.settings.opts)
        await server.connect()
        query = ("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
                 f"{server.ph(1)}" + (" AND table_schema = DATABASE()" if server.kind == "mysql" else "") +
                 " ORDER BY ordinal_position")
        rows = await server.fetch(query, self.table)
        self._order = [r.get("column_name") or r.get("COLUMN_NAME") for r in rows]
        self._columns = {c: _TYPES.get(str(r.get("data_type") or r.get("DATA_TYPE")).lower(), "text")
                         for c, r in zip(self._order, rows, strict=True)}
        self._server = server

    async def disconnect(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.close()

    def _statement(self, cols: list[str]) -> str:
        server = self._server
        assert server is not None
        for c in cols:
            identifier(c, "column")
        if self.update_by:
            sets = [c for c in cols if c not in self.update_by]
            n = len(sets)
            return (f"UPDATE {self.table} SET " + ", ".join(f"{c} = {server.ph(i)}" for i, c in enumerate(sets, 1))
                    + " WHERE " + " AND ".join(f"{c} = {server.ph(n + i)}" for i, c in enumerate(self.update_by, 1)))
        return (f"INSERT INTO {self.table} ({', '.join(cols)}) VALUES "
                f"({', '.join(server.ph(i) for i in range(1, len(cols) + 1))})")

    def _row(self, payload: dict[str, Any]) -> tuple[list[str], tuple[Any, ...]]:
        cols: list[str] = []
        vals: list[Any] = []
        rest = iter(c for c in self._order)
        for col, val in zip(payload["cols"], payload["vals"], strict=True):
            name = col if col is not None else next(rest)
            cols.append(name)
            vals.append(_convert(self._columns.get(name, "text"), val))
        if self.update_by:
            pairs = dict(zip(cols, vals, strict=True))
            sets = [c for c in cols if c not in self.update_by]
            return cols, (*(pairs[c] for c in sets), *(pairs[c] for c in self.update_by))
        return cols, tuple(vals)

    async def send(self, payloads: Sequence[Any]) -> None:
        assert self._server is not None
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for p in payloads:
            cols, vals = self._row(p)
            groups.setdefault(tuple(cols), []).append(vals)
        for cols, rows in groups.items():
            await self._server.execute_many(self._statement(list(cols)), rows)


__all__ = ["SQLExporter"]
