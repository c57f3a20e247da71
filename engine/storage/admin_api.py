"""APIerSv1's maintenance of the *internal stores: Dump (make what was written durable), Rewrite (compact the
log), Backup (copy the log, or zip it, into a folder) and Snapshot (backup, then compact), for the DataDB and the
StorDB. As in CGRateS, they apply to the *internal stores only: Redis and SQL answer NOT_IMPLEMENTED.

A backup is a folder ``<BackupFolderPath>/<name>_<UTC time>`` (or that name with ``.zip``) holding the store's
log as it stood once every acknowledged write was in it; start an engine on a copy of it to restore (CGRateS's
RestoreDataDB works on an engine that is not running, which an RPC cannot be).
"""

from __future__ import annotations

import asyncio
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pycgrates.engine.profiles.crud import config_option
from pycgrates.engine.rpc.errors import NOT_IMPLEMENTED, RPCError, server_error
from pycgrates.engine.rpc.registry import rpc


def _log_of(store: Any) -> Any:
    """The append log of a durable *internal store; NOT_IMPLEMENTED for any other store."""
    log = getattr(store, "log", None)
    if log is None or getattr(log, "closed", True):
        raise RPCError(NOT_IMPLEMENTED)
    return log


def _copy(log_path: Path, size: int, target: Path, zipped: bool) -> Path:
    """``size`` bytes of the log (what was written when the backup began) into ``target`` (a folder or a zip)."""
    with open(log_path, "rb") as src:  # opened before any compaction renames a new file over it
        data = src.read(size)
    if zipped:
        out = target.with_name(target.name + ".zip")
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(log_path.name, data)
        return out
    target.mkdir(parents=True, exist_ok=False)
    (target / log_path.name).write_bytes(data)
    return target


class StorageAdminService:
    """The Dump/Rewrite/Backup/Snapshot methods of both stores."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def _stores(self, which: str) -> tuple[Any, str]:
        if which == "data_db":
            return getattr(self.ctx.dm, "datadb", None), "datadb"
        return self.ctx.stordb, "stordb"

    async def _dump(self, which: str) -> str:
        store, _ = self._stores(which)
        await _log_of(store).sync()
        return "OK"

    async def _rewrite(self, which: str) -> str:
        store, _ = self._stores(which)
        _log_of(store)
        await store.compact()
        return "OK"

    async def _backup(self, which: str, args: Any, then_compact: bool) -> str:
        store, name = self._stores(which)
        log = _log_of(store)
        args = args if isinstance(args, dict) else {}
        folder = str(args.get("BackupFolderPath") or "") or config_option(
            self.ctx, which, "opts", {}).get("internalDBBackupPath", "")
        if not folder:
            raise server_error("no BackupFolderPath given and no opts.internalDBBackupPath configured")
        await log.sync()
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(_copy, Path(log.path), log.size, Path(folder) / f"{name}_{stamp}",
                                    bool(args.get("Zip")))
        except OSError as exc:
            raise server_error(f"backup to {folder}: {exc.strerror or exc}") from None
        if then_compact:
            await store.compact()
        return "OK"

    @rpc("APIerSv1.DumpDataDB")
    async def dump_datadb(self, args: Any) -> str:
        return await self._dump("data_db")

    @rpc("APIerSv1.DumpStorDB")
    async def dump_stordb(self, args: Any) -> str:
        return await self._dump("stor_db")

    @rpc("APIerSv1.RewriteDataDB")
    async def rewrite_datadb(self, args: Any) -> str:
        return await self._rewrite("data_db")

    @rpc("APIerSv1.RewriteStorDB")
    async def rewrite_stordb(self, args: Any) -> str:
        return await self._rewrite("stor_db")

    @rpc("APIerSv1.BackupDataDB")
    async def backup_datadb(self, args: Any) -> str:
        """``{"BackupFolderPath", "Zip"}``."""
        return await self._backup("data_db", args, then_compact=False)

    @rpc("APIerSv1.BackupStorDB")
    async def backup_stordb(self, args: Any) -> str:
        return await self._backup("stor_db", args, then_compact=False)

    @rpc("APIerSv1.SnapshotDataDB")
    async def snapshot_datadb(self, args: Any) -> str:
        """A backup, then the live log rewritten from the current state."""
        return await self._backup("data_db", args, then_compact=True)

    @rpc("APIerSv1.SnapshotStorDB")
    async def snapshot_stordb(self, args: Any) -> str:
        return await self._backup("stor_db", args, then_compact=True)

