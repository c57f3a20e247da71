"""Directory watching for file readers (``run_delay`` -1): Linux inotify through libc, polling elsewhere.

:class:`DirectoryWatch` yields the names of files that were closed after writing (``IN_CLOSE_WRITE``) or moved into
the directory (``IN_MOVED_TO``) — a file is announced once it is complete, which is how switches should drop CDR
files (write elsewhere, then move in). Where inotify is not available (another OS, the limit on watches reached)
the directory is listed every ``poll_interval`` instead and a file is announced once its size stopped changing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import logging
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger("cgr.ers")

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name, use_errno=True)
        lib.inotify_init1  # noqa: B018 - probe for the symbol
        return lib
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def parse_events(data: bytes) -> list[tuple[int, str]]:
    """(mask, name) of each ``struct inotify_event`` in one read."""
    out = []
    pos = 0
    while pos + _EVENT.size <= len(data):
        _wd, mask, _cookie, length = _EVENT.unpack_from(data, pos)
        pos += _EVENT.size
        name = data[pos:pos + length].split(b"\0", 1)[0].decode(errors="surrogateescape")
        pos += length
        out.append((mask, name))
    return out


class DirectoryWatch:
    """Names of files that became complete in ``directory``, as an async iterator; :meth:`close` ends it."""

    def __init__(self, directory: str | Path, poll_interval: float = 1.0) -> None:
        self.directory = Path(directory)
        self.poll_interval = poll_interval
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self.inotify = False

    def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        if _LIBC is None:
            return
        fd = _LIBC.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            log.warning("<ERs> inotify unavailable (%s); polling %s", os.strerror(ctypes.get_errno()), self.directory)
            return
        wd = _LIBC.inotify_add_watch(fd, os.fsencode(self.directory), IN_CLOSE_WRITE | IN_MOVED_TO)
        if wd < 0:
            err = ctypes.get_errno()
            os.close(fd)
            if err == errno.ENOENT:
                raise FileNotFoundError(err, os.strerror(err), str(self.directory))
            log.warning("<ERs> cannot watch %s (%s); polling it", self.directory, os.strerror(err))
            return
        self._fd = fd
        self.inotify = True
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        for _mask, name in parse_events(data):
            if name:
                self._queue.put_nowait(name)

    def close(self) -> None:
        if self._fd >= 0 and self._loop is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        self._queue.put_nowait(None)

    async def names(self) -> AsyncIterator[str]:
        if not self.inotify:
            async for name in self._poll():
                yield name
            return
        while True:
            name = await self._queue.get()
            if name is None:
                return
            yield name

    async def _poll(self) -> AsyncIterator[str]:
        sizes: dict[str, int] = {}
        announced: set[str] = set()
        while self._queue.empty():
            current: dict[str, int] = {}
            for entry in await asyncio.to_thread(lambda: list(os.scandir(self.directory))):
                if entry.is_file():
                    current[entry.name] = entry.stat().st_size
            for name, size in current.items():
                if name not in announced and sizes.get(name) == size:
                    announced.add(name)
                    yield name
            announced &= set(current)
            sizes = current
            try:
                await asyncio.wait_for(self._queue.get(), self.poll_interval)
                return
            except TimeoutError:
                continue


__all__ = ["DirectoryWatch", "parse_events"]
