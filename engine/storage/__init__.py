"""Storage backends, chosen from the ``data_db`` / ``stor_db`` config sections.

``*internal`` options (in ``opts``): ``internalDBDumpPath`` (directory of the log files; empty, or
``internalDBPersist`` false → memory only; the ``data_dir_override`` argument wins over both),
``internalDBFsync`` (``*always|*interval|*never``, default ``*interval``), ``internalDBFsyncInterval`` (duration,
default ``1s``), ``internalDBCompactRatio`` (default 4), ``internalDBCompactMinSize`` (bytes, default 16 MiB),
``internalDBRepair`` (true: start after damage in the middle of a log, keeping what precedes it).
The DataDB logs to ``datadb.log`` and the StorDB to ``stordb.log``, so both may share one directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pycgrates.engine.storage.base import CDRFilter, DataDB, MemoryDataDB, StorageError, StorDB
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
    "open_datadb",
    "open_stordb",
]

_LATER = {"data_db": ("*redis",), "stor_db": ("*postgres", "*mysql")}


def _db_type(section: dict, name: str) -> str:
    raw = str(section.get("db_type") or "*internal").strip()
    db_type = raw if raw.startswith("*") else "*" + raw
    if db_type == "*internal":
        return db_type
    if db_type in _LATER[name]:
        raise StorageError(f"{name}.db_type {db_type} is not available yet in this build (use *internal)")
    allowed = ", ".join(("*internal", *_LATER[name]))
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


async def open_datadb(section: dict, data_dir_override: Path | None = None) -> DataDB:
    """The DataDB the ``data_db`` section describes; ``data_dir_override`` replaces ``internalDBDumpPath``."""
    _db_type(section, "data_db")
    return InternalDataDB(**_internal_kwargs(section, "data_db", data_dir_override))


async def open_stordb(section: dict, data_dir_override: Path | None = None) -> StorDB:
    """The StorDB the ``stor_db`` section describes; ``data_dir_override`` replaces ``internalDBDumpPath``."""
    _db_type(section, "stor_db")
    return InternalStorDB(**_internal_kwargs(section, "stor_db", data_dir_override))
