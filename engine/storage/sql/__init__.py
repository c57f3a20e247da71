"""SQL StorDBs (``stor_db.db_type *postgres`` and ``*mysql``), opened from the ``stor_db`` section.

Connection: ``db_host``, ``db_port`` (-1: the server's usual port), ``db_name``, ``db_user``, ``db_password``.
Options (``opts``): ``sqlMaxOpenConns`` (the pool's size), ``sqlMaxIdleConns`` (connections kept open when idle),
``sqlConnMaxLifetime`` (a duration; 0 = forever), ``pgSchema``, ``pgSSLMode`` (disable, allow, prefer, require,
verify-ca, verify-full) with ``pgSSLRootCert``, ``pgSSLCert``, ``pgSSLKey``, ``pgSSLPassword``. MySQL times are
stored in UTC whatever ``mysqlLocation`` says (the session's time_zone is set to +00:00).
"""

from __future__ import annotations

from pycgrates.engine.storage.base import StorageError
from pycgrates.engine.storage.sql.dialect import DIALECTS, SQLSettings, pg_ssl
from pycgrates.engine.storage.sql.stordb import SQLStorDB
from pycgrates.engine.units import DurationError, parse_duration

__all__ = ["SQLStorDB", "open_sql_stordb", "sql_settings"]

_DEFAULT_PORTS = {"*postgres": 5432, "*mysql": 3306}


def _int(opts: dict, name: str, default: int) -> int:
    raw = opts.get(name, default)
    try:
        value = int(default if raw in (None, "") else raw)
    except (TypeError, ValueError):
        raise StorageError(f"stor_db.opts.{name} {raw!r} must be a whole number (default {default})") from None
    if value < 1:
        raise StorageError(f"stor_db.opts.{name} {value} must be at least 1 (default {default})")
    return value


def sql_settings(section: dict, db_type: str) -> SQLSettings:
    """The server the ``stor_db`` section names; StorageError names the field and the fix."""
    opts = section.get("opts") or {}
    port = section.get("db_port")
    try:
        port = _DEFAULT_PORTS[db_type] if port in (None, "", -1, "-1") else int(port)
    except (TypeError, ValueError):
        raise StorageError(f"stor_db.db_port {port!r} must be a port number (-1 for the server's usual one)") \
            from None
    try:
        lifetime = parse_duration(opts.get("sqlConnMaxLifetime") or 0) / 1e9
    except DurationError as exc:
        raise StorageError(f"stor_db.opts.sqlConnMaxLifetime: {exc}") from exc
    database = str(section.get("db_name") or "cgrates")
    max_open = _int(opts, "sqlMaxOpenConns", 100)
    settings = SQLSettings(
        host=str(section.get("db_host") or "127.0.0.1"),
        port=port,
        database=database,
        user=str(section.get("db_user") or "cgrates"),
        password=str(section.get("db_password") or ""),
        max_open=max_open,
        max_idle=min(_int(opts, "sqlMaxIdleConns", 10), max_open),
        max_lifetime=max(lifetime, 0.0),
    )
    if db_type == "*postgres":
        settings.schema = str(opts.get("pgSchema") or "")
        settings.ssl = pg_ssl(opts)
    return settings


async def open_sql_stordb(section: dict, db_type: str) -> SQLStorDB:
    """Connect, apply missing migrations and the configured CDR indexes."""
    settings = sql_settings(section, db_type)
    dialect = DIALECTS[db_type](settings)
    store = SQLStorDB(dialect, string_indexed_fields=section.get("string_indexed_fields") or (),
                      prefix_indexed_fields=section.get("prefix_indexed_fields") or ())
    return await store.open()
