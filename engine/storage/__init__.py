"""Storage backends, chosen from the ``data_db`` / ``stor_db`` config sections.

``data_db.db_type``: ``*internal`` (embedded, durable; the default) or ``*redis`` (:mod:`engine.storage.redis`,
shared by several engines). ``stor_db.db_type``: ``*internal``, ``*postgres`` or ``*mysql``
(:mod:`engine.storage.sql`). The server clients are optional dependencies (``pip install 'pycgrates[redis]'``,
``[postgres]``, ``[mysql]``); a missing one is named at start.

``*internal`` options (in ``opts``): ``internalDBDumpPath`` (directory of the log files; empty, or
``internalDBPersist`` false → memory only; the ``data_dir_override`` argument wins over both),
``internalDBFsync`` (``*always|*interval|*never``, default ``*interval``), ``internalDBFsyncInterval`` (duration,
default ``1s``), ``internalDBCompactRatio`` (default 4), ``internalDBCompactMinSize`` (bytes, default 16 MiB),
``internalDBRepair`` (true: start after damage in the middle of a log, keeping what precedes it).
The DataDB logs to ``datadb.log`` and the StorDB to ``stordb.log``, so both may share one directory.

:func:`store_problems` finds, without opening anything, what opening a store would refuse (``db_type``, the
options above, a directory this user may not create or write), for start-up and ``cgr-engine -check_config``.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from pycgrates.engine.storage.base import CDRFilter, DataDB, MemoryDataDB, StorageError, StorDB, WriteConflict
from pycgrates.engine.storage.internal import (
    DEFAULT_COMPACT_MIN_BYTES,
    DEFAULT_COMPACT_RATIO,
    InternalDataDB,
    InternalStorDB,
)
from pycgrates.engine.storage.log import FSYNC_INTERVAL, FSYNC_POLICIES
from pycgrates.engine.units import SECOND, DurationError, parse_duration

__all__ = [
    "CDRFilter",
    "DataDB",
    "InternalDataDB",
    "InternalStorDB",
    "MemoryDataDB",
    "StorDB",
    "StorageError",
    "WriteConflict",
    "open_datadb",
    "open_stordb",
    "store_problems",
]

#: The db_types this build opens, and CGRateS's others, which it cannot.
_SERVERS = {"data_db": ("*redis",), "stor_db": ("*postgres", "*mysql")}
_LATER = {"data_db": ("*mongo",), "stor_db": ("*mongo",)}
_LOG_NAMES = {"data_db": InternalDataDB.LOG_NAME, "stor_db": InternalStorDB.LOG_NAME}
_NO_ACCESS = (errno.EACCES, errno.EPERM, errno.EROFS)


def _db_type(section: dict, name: str) -> str:
    raw = str(section.get("db_type") or "*internal").strip()
    db_type = raw if raw.startswith("*") else "*" + raw
    if db_type == "*internal" or db_type in _SERVERS[name]:
        return db_type
    if db_type in _LATER[name]:
        usable = " or ".join(("*internal", *_SERVERS[name]))
        raise StorageError(f"{name}.db_type {db_type} is not available yet in this build (use {usable}: "
                           f'set {name}.db_type to "*internal" for the embedded durable store)')
    allowed = ", ".join(("*internal", *_SERVERS[name], *_LATER[name]))
    raise StorageError(f"{name}.db_type {raw!r} is not supported (allowed values: {allowed})")


def _internal_kwargs(section: dict, name: str, data_dir_override: Path | None) -> dict[str, Any]:
    opts = section.get("opts") or {}
    if data_dir_override is not None:
        path: Path | None = Path(data_dir_override)
    elif opts.get("internalDBPersist", True) in (False, "false"):
        path = None
    else:
        dump = opts.get("internalDBDumpPath") or ""
        path = Path(dump) if str(dump).strip() else None
    fsync = opts.get("internalDBFsync") or FSYNC_INTERVAL
    if fsync not in FSYNC_POLICIES:
        raise StorageError(f"{name}.opts.internalDBFsync {fsync!r} is not valid (use {', '.join(FSYNC_POLICIES)})")
    try:
        interval = parse_duration(opts.get("internalDBFsyncInterval") or "1s")
    except DurationError as exc:
        raise StorageError(f"{name}.opts.internalDBFsyncInterval: {exc}") from exc
    if interval <= 0:
        raise StorageError(f"{name}.opts.internalDBFsyncInterval must be positive (for example '1s')")
    try:
        ratio = float(opts.get("internalDBCompactRatio") or DEFAULT_COMPACT_RATIO)
        min_size = int(opts.get("internalDBCompactMinSize") or DEFAULT_COMPACT_MIN_BYTES)
    except (TypeError, ValueError) as exc:
        raise StorageError(
            f"{name}.opts.internalDBCompactRatio / internalDBCompactMinSize must be numbers: {exc}"
        ) from exc
    if ratio <= 1:
        raise StorageError(f"{name}.opts.internalDBCompactRatio {ratio} must be greater than 1 (default 4)")
    return {
        "path": path,
        "fsync": fsync,
        "fsync_interval_ns": interval or SECOND,
        "compact_ratio": ratio,
        "compact_min_bytes": min_size,
        "repair": bool(opts.get("internalDBRepair", False)),
    }


def _access_fix(name: str) -> str:
    return (f"set {name}.opts.internalDBDumpPath to a directory this user may write, or run cgr-engine as a user "
            "who may write it")


def _open_internal(cls: type, section: dict, name: str, data_dir_override: Path | None) -> Any:
    kwargs = _internal_kwargs(section, name, data_dir_override)
    try:
        return cls(**kwargs)
    except StorageError as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.errno in _NO_ACCESS:
            raise StorageError(f"{name}: {exc}; {_access_fix(name)}") from cause
        raise


async def open_datadb(section: dict, data_dir_override: Path | None = None) -> DataDB:
    """The DataDB the ``data_db`` section describes; ``data_dir_override`` replaces ``internalDBDumpPath``."""
    if _db_type(section, "data_db") == "*redis":
        from pycgrates.engine.storage.redis import RedisDataDB

        return await RedisDataDB.connect(section)
    return _open_internal(InternalDataDB, section, "data_db", data_dir_override)


async def open_stordb(section: dict, data_dir_override: Path | None = None) -> StorDB:
    """The StorDB the ``stor_db`` section describes; ``data_dir_override`` replaces ``internalDBDumpPath``."""
    db_type = _db_type(section, "stor_db")
    if db_type != "*internal":
        from pycgrates.engine.storage.sql import open_sql_stordb

        return await open_sql_stordb(section, db_type)
    return _open_internal(InternalStorDB, section, "stor_db", data_dir_override)


def _server_problems(section: dict, name: str, db_type: str) -> list[str]:
    try:
        if name == "data_db":
            from pycgrates.engine.storage.redis import redis_settings

            redis_settings(section)
        else:
            from pycgrates.engine.storage.sql import DIALECTS, sql_settings

            DIALECTS[db_type](sql_settings(section, db_type))
    except StorageError as exc:
        return [str(exc)]
    return []


def store_problems(section: dict, name: str) -> list[str]:
    """What opening the ``data_db``/``stor_db`` store would refuse, found without creating or opening anything."""
    try:
        db_type = _db_type(section, name)
        if db_type != "*internal":
            return _server_problems(section, name, db_type)
        path = _internal_kwargs(section, name, None)["path"]
    except StorageError as exc:
        return [str(exc)]
    if path is None:
        return []
    problem = _directory_problem(Path(path), _LOG_NAMES[name])
    return [f"{name}: cannot write the store directory {path} ({problem}); {_access_fix(name)}"] if problem else []


def _directory_problem(path: Path, log_name: str) -> str | None:
    """Why this process could not keep its log under ``path`` (created when missing), or None."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable" if existing == path else f"cannot create it: {existing} is not writable"
    if existing == path:
        for file in (path / f"{log_name}.log", path / f"{log_name}.lock"):
            if file.exists() and not os.access(file, os.R_OK | os.W_OK):
                return f"{file} is not writable"
    return None
