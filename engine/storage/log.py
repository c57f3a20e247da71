"""The append-only log under the ``*internal`` stores: record framing, recovery on open, fsync policy, compaction.

File layout: an 8-byte magic (format and version), then records. A record is::

    length (4 bytes, little-endian) | crc32 of payload (4 bytes, little-endian) | payload (``length`` bytes)

The payload is opaque here (the stores put orjson there). One record is written with one ``os.write``: once that
returns, the record is in the kernel and survives ``kill -9`` of the process; surviving a power cut needs an fsync,
which the policy decides (``*always`` before acknowledging, ``*interval`` from a background task, ``*never``).
The log's tasks (the interval flusher, the fsync that concurrent committers share) run under its own
:class:`~pycgrates.engine.tasks.Supervisor`, which :meth:`AppendLog.close` stops.

Recovery on open (:func:`scan` is pure and tested without files):

* a torn or CRC-failing record at the tail (nothing valid after it) is what a crash mid-write leaves: the file is
  truncated there and a WARNING names the file, the offset and the bytes dropped;
* a bad record *followed by valid records* is not a crash artefact but damage (disk, manual edit). Dropping the
  valid records after it would silently lose acknowledged data, and skipping the bad one would replay a history
  with a hole in it (a debit without its top-up). So opening fails with a :class:`StorageError` that says where
  and how to proceed; with ``repair=True`` the whole file is first copied aside and then truncated at the damage,
  logged as an ERROR.

Compaction replaces the log with a snapshot of the live state: the snapshot is written to ``<name>.log.tmp`` and
fsynced, records appended meanwhile are copied after it, then it is ``os.replace``-d over the log and the directory
is fsynced. A crash at any point leaves either the old log or the new one, both complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import shutil
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pycgrates.engine.storage.base import StorageError
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.units import SECOND

log = logging.getLogger("cgr.storage")

MAGIC = b"PCGRLOG1"
HEADER = struct.Struct("<II")
HEADER_SIZE = HEADER.size
MAX_RECORD = 0xFFFF_FFFF

FSYNC_ALWAYS = "*always"
FSYNC_INTERVAL = "*interval"
FSYNC_NEVER = "*never"
FSYNC_POLICIES = (FSYNC_ALWAYS, FSYNC_INTERVAL, FSYNC_NEVER)


def frame(payload: bytes) -> bytes:
    """One record: header + payload."""
    if len(payload) > MAX_RECORD:
        raise StorageError(f"record of {len(payload)} bytes exceeds the 4 GiB record limit; split the batch")
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _valid_at(buf: memoryview, pos: int, end: int) -> int:
    """The end offset of a valid record starting at ``pos``, or -1."""
    if pos + HEADER_SIZE > end:
        return -1
    length, crc = HEADER.unpack_from(buf, pos)
    stop = pos + HEADER_SIZE + length
    if length == 0 or stop > end:
        return -1
    if zlib.crc32(buf[pos + HEADER_SIZE : stop]) != crc:
        return -1
    return stop


@dataclass
class ScanResult:
    """What :func:`scan` found: the payloads of the valid prefix and, if it stopped early, where and why."""

    payloads: list[memoryview]
    good_end: int
    size: int
    #: Offset of the first valid record after the damage (damage in the middle), else None.
    resync_at: int | None = None

    @property
    def clean(self) -> bool:
        return self.good_end == self.size


def scan(data: bytes, start: int = 0) -> ScanResult:
    """Walk the records of ``data`` from ``start``; stops at the first invalid one.

    Payloads are views into ``data`` (no copy). When the walk stops before the end, the rest is searched for a
    valid record so the caller can tell a torn tail from damage in the middle. Payloads always start with ``[``
    (JSON lists), which keeps that search cheap.
    """
    buf = memoryview(data)
    end = len(data)
    payloads: list[memoryview] = []
    pos = start
    while pos < end:
        stop = _valid_at(buf, pos, end)
        if stop < 0:
            break
        payloads.append(buf[pos + HEADER_SIZE : stop])
        pos = stop
    result = ScanResult(payloads, pos, end)
    if pos < end:
        probe = pos + 1 + HEADER_SIZE
        while True:
            probe = data.find(b"[", probe)
            if probe < 0:
                break
            cand = probe - HEADER_SIZE
            if _valid_at(buf, cand, end) > 0:
                result.resync_at = cand
                break
            probe += 1
    return result


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)


class AppendLog:
    """One log file ``<directory>/<name>.log`` guarded by ``<directory>/<name>.lock``.

    Several stores may share a directory as long as their names differ (the DataDB and the StorDB do).
    """

    def __init__(
        self,
        directory: Path,
        name: str,
        *,
        fsync: str = FSYNC_INTERVAL,
        fsync_interval_ns: int = SECOND,
        repair: bool = False,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise StorageError(f"fsync policy {fsync!r} is not valid (use {', '.join(FSYNC_POLICIES)})")
        if fsync == FSYNC_INTERVAL and fsync_interval_ns <= 0:
            raise StorageError(f"fsync interval {fsync_interval_ns}ns must be positive (for example '1s')")
        self.directory = Path(directory)
        self.path = self.directory / f"{name}.log"
        self.lock_path = self.directory / f"{name}.lock"
        self._tmp_path = self.directory / f"{name}.log.tmp"
        self.policy = fsync
        self._interval_s = fsync_interval_ns / SECOND
        self._repair = repair
        self._fd = -1
        self._lock_fd = -1
        #: Bytes in the log file, and at the last open or compaction (the base of the compaction ratio).
        self.size = 0
        self.base_size = 0
        self._written = 0
        self._synced = 0
        self._sync_future: asyncio.Future | None = None
        self._flusher: asyncio.Task | None = None
        self._tasks = Supervisor(f"internal DB {name} log")
        self._capture: list[bytes] | None = None

    # ------------------------------------------------------------------------------------------------ open

    def open(self) -> list[memoryview]:
        """Lock, recover and open the log; returns the payloads to replay, oldest first."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the store directory {self.directory}: {exc.strerror}") from exc
        self._lock()
        try:
            return self._recover_and_open()
        except OSError as exc:
            self._unlock()
            raise StorageError(f"cannot open {self.path}: {exc.strerror}") from exc
        except BaseException:
            self._unlock()
            raise

    def _lock(self) -> None:
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open the lock file {self.lock_path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StorageError(
                    f"the store {self.path} is already open in another engine (lock {self.lock_path} is held); "
                    "stop that engine or point internalDBDumpPath at another directory"
                ) from exc
            raise StorageError(f"cannot lock {self.lock_path}: {exc.strerror}") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _recover_and_open(self) -> list[memoryview]:
        with contextlib.suppress(FileNotFoundError):
            self._tmp_path.unlink()  # an interrupted compaction; the log itself is intact
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        if len(data) < len(MAGIC):
            if not MAGIC.startswith(data):
                raise StorageError(f"{self.path} is not a pycgrates log (bad header); move it away")
            _write_synced(self._tmp_path, MAGIC)
            os.replace(self._tmp_path, self.path)
            _fsync_dir(self.directory)
            data = MAGIC
        elif not data.startswith(MAGIC):
            raise StorageError(f"{self.path} is not a pycgrates log (bad header); move it away")
        result = scan(data, len(MAGIC))
        if not result.clean:
            self._handle_damage(result)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        if not result.clean:
            os.ftruncate(self._fd, result.good_end)
            os.fsync(self._fd)
        self.size = self.base_size = result.good_end
        return result.payloads

    def _handle_damage(self, result: ScanResult) -> None:
        dropped = result.size - result.good_end
        if result.resync_at is None:
            log.warning(
                "internal DB %s: incomplete or corrupt record at offset %d (end of log); "
                "dropping the last %d bytes and keeping everything before",
                self.path,
                result.good_end,
                dropped,
            )
            return
        where = (
            f"internal DB {self.path}: corrupt record at offset {result.good_end} followed by valid records "
            f"from offset {result.resync_at} ({dropped} bytes after the damage)"
        )
        if not self._repair:
            raise StorageError(
                f"{where}; refusing to start with a gap in the history. Restore the file from a backup, or set "
                "opts.internalDBRepair to true to keep only the records before the damage (the whole file is "
                "copied aside first)"
            )
        saved = self.path.with_name(f"{self.path.name}.corrupt-{time.time_ns()}")
        shutil.copy2(self.path, saved)
        log.error(
            "%s; repair requested: the file is saved as %s and truncated at offset %d", where, saved, result.good_end
        )

    # ---------------------------------------------------------------------------------------------- writes

    def append(self, payload: bytes) -> None:
        """Hand one record to the kernel (one ``os.write``); on failure the log is left as it was."""
        rec = frame(payload)
        try:
            n = os.write(self._fd, rec)
        except OSError as exc:
            self._rollback()
            raise StorageError(f"writing to {self.path} failed: {exc.strerror}") from exc
        if n != len(rec):
            self._rollback()
            raise StorageError(f"writing to {self.path} failed: short write ({n} of {len(rec)} bytes; disk full?)")
        self.size += n
        self._written += 1
        if self._capture is not None:
            self._capture.append(rec)
        if self._flusher is None and self.policy == FSYNC_INTERVAL:
            self._flusher = self._tasks.spawn(self._flush_every_interval(), name="fsync every interval")

    def _rollback(self) -> None:
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, self.size)

    @property
    def dirty(self) -> bool:
        return self._synced < self._written

    async def commit(self) -> None:
        """Wait for durability per policy: ``*always`` returns once an fsync covered every record written."""
        if self.policy == FSYNC_ALWAYS and self._synced < self._written:
            await self.sync()

    async def sync(self) -> None:
        """fsync everything written so far; concurrent callers share one fsync (group commit)."""
        target = self._written
        while self._synced < target:
            if self._sync_future is None:
                self._sync_future = self._tasks.spawn(self._fsync_once(), name="fsync")
            await asyncio.shield(self._sync_future)

    async def _fsync_once(self) -> None:
        target = self._written
        # A duplicate descriptor: a compaction may swap and close ``self._fd`` while the worker thread syncs.
        fd = os.dup(self._fd)
        try:
            await asyncio.to_thread(os.fsync, fd)
        except OSError as exc:
            raise StorageError(f"fsync of {self.path} failed: {exc.strerror}") from exc
        finally:
            os.close(fd)
            self._sync_future = None
        self._synced = max(self._synced, target)

    async def _flush_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            if self._synced < self._written:
                with contextlib.suppress(StorageError):  # the failed fsync task was logged by the supervisor
                    await self.sync()

    # ------------------------------------------------------------------------------------------ compaction

    def begin_capture(self) -> None:
        """Mark the point of a snapshot: records appended from now on are also kept for the new log."""
        self._capture = []

    async def rewrite(self, snapshot: Iterable[bytes]) -> None:
        """Replace the log by ``snapshot`` (payloads) + records appended since :meth:`begin_capture`.

        The snapshot is written and fsynced in a worker thread; writers keep appending to the old log meanwhile.
        """
        data = MAGIC + b"".join(frame(p) for p in snapshot)
        try:
            await asyncio.to_thread(_write_synced, self._tmp_path, data)
            self._install(len(data))
        except BaseException:
            self._abort_rewrite()
            raise

    def rewrite_now(self, snapshot: Iterable[bytes]) -> None:
        """:meth:`rewrite` without yielding to the loop (used at close, when nothing else writes)."""
        self._capture = []
        data = MAGIC + b"".join(frame(p) for p in snapshot)
        try:
            _write_synced(self._tmp_path, data)
            self._install(len(data))
        except BaseException:
            self._abort_rewrite()
            raise

    def _install(self, snapshot_size: int) -> None:
        tail = b"".join(self._capture or ())
        self._capture = None
        fd = os.open(self._tmp_path, os.O_WRONLY | os.O_APPEND)
        try:
            if tail:
                os.write(fd, tail)
            os.fsync(fd)
            os.replace(self._tmp_path, self.path)
        except BaseException:
            os.close(fd)
            raise
        old, self._fd = self._fd, fd
        os.close(old)
        _fsync_dir(self.directory)
        self.size = self.base_size = snapshot_size + len(tail)
        self._synced = self._written

    def _abort_rewrite(self) -> None:
        self._capture = None
        with contextlib.suppress(OSError):
            self._tmp_path.unlink()

    # ---------------------------------------------------------------------------------------------- close

    async def close(self) -> None:
        """Let a running fsync finish (its thread holds a descriptor), stop the flusher, final fsync, release."""
        while self._sync_future is not None:
            with contextlib.suppress(StorageError):
                await asyncio.shield(self._sync_future)
        await self._tasks.stop()
        self._flusher = None
        self.close_now()

    def close_now(self) -> None:
        """Final fsync and release (no loop needed)."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        if self._fd >= 0:
            try:
                if self._synced < self._written:
                    os.fsync(self._fd)
                    self._synced = self._written
            finally:
                os.close(self._fd)
                self._fd = -1
        self._unlock()

    @property
    def closed(self) -> bool:
        return self._fd < 0


def iter_records(data: bytes) -> Iterator[memoryview]:
    """Payloads of a whole log file's bytes (for tools and tests); stops at the first invalid record."""
    if not data.startswith(MAGIC):
        raise StorageError("not a pycgrates log (bad header)")
    yield from scan(data, len(MAGIC)).payloads
