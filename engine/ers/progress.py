"""What a reader has handed over, so that a restart (even after ``kill -9``) neither loses nor repeats a record.

A record is *settled* once its event was accepted downstream (SessionS/CDRs answered, or refused it as a duplicate
— ``EXISTS``: the CDR server keeps (CGRID, RunID) unique), was found malformed and written aside, was filtered out,
or ended in a partial merge that was itself settled. Each record travels with a :class:`Ticket`; settling it is the
acknowledgement:

- queue messages (AMQP, NATS JetStream) are acked to the broker only then, so the broker redelivers whatever was
  in flight when the engine died;
- SQL rows are deleted or marked only then;
- file records advance a :class:`FileProgress`: the highest record number N such that records 1..N are all settled
  (records settle out of order when ``concurrent_events`` > 1). That watermark is written to the DataDB (kind
  :data:`PROGRESS`, key ``<readerID>:<file name>``) at most every :data:`SAVE_INTERVAL` and when the file is done;
  after a restart the file is read again from record N+1. Records after N that had been accepted before the crash
  are sent again and refused as duplicates by the CDR server, which is what makes the whole exactly-once: the
  watermark bounds the replay, the CDR server's uniqueness absorbs it. A stored watermark carries the file's
  fingerprint (size and a hash of its first bytes), so a new file under an old name starts from the beginning.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

#: DataDB kind of the readers' progress records (pycgrates: CGRateS's readers keep none)
PROGRESS = "erp"
#: how often a file's watermark is written while the file is read (seconds)
SAVE_INTERVAL = 0.2
_FINGERPRINT_BYTES = 65536


class Ticket(Protocol):
    """The acknowledgement of one record: called once, when the record is settled."""

    async def settle(self) -> None: ...


class CallbackTicket:
    """A ticket settled by calling a coroutine function (a broker ack, a row delete)."""

    __slots__ = ("_done", "_fn")

    def __init__(self, fn: Callable[[], Awaitable[Any]]) -> None:
        self._fn = fn
        self._done = False

    async def settle(self) -> None:
        if not self._done:
            self._done = True
            await self._fn()


def fingerprint(path: Path) -> str:
    """Size and the hash of the first bytes: tells a file from another that took its name."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(_FINGERPRINT_BYTES)
    return f"{size}:{hashlib.sha1(head).hexdigest()}"


class FileProgress:
    """The settled records of one file: a contiguous watermark plus the numbers settled above it."""

    def __init__(self, dm: Any, key: str, print_: str, start: int = 0, *, done: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dm = dm
        self.key = key
        self.fingerprint = print_
        #: records up to this one were settled by a previous run
        self.start = start
        #: a previous run settled the whole file (left in place: no processed_path)
        self.done = done
        self.watermark = start
        self.issued = 0
        self._above: set[int] = set()
        self._saved = start
        self._saved_at = clock()
        self._clock = clock
        self._all_settled = asyncio.Event()
        self._all_settled.set()
        self._reading = True

    @classmethod
    async def resume(cls, dm: Any, reader_id: str, path: Path) -> FileProgress:
        """Where to go on with ``path``: after its stored watermark, unless the stored one is of another file."""
        key = f"{reader_id}:{path.name}"
        print_ = await asyncio.to_thread(fingerprint, path)
        stored = await dm.get(PROGRESS, key)
        if isinstance(stored, dict) and stored.get("Fingerprint") == print_:
            return cls(dm, key, print_, int(stored.get("Settled") or 0), done=bool(stored.get("Done")))
        return cls(dm, key, print_)

    def skip(self, number: int) -> bool:
        """Whether record ``number`` was settled in a previous run."""
        return number <= self.start

    def ticket(self, number: int) -> FileTicket:
        self.issued += 1
        self._all_settled.clear()
        return FileTicket(self, number)

    async def settled(self, number: int) -> None:
        self.issued -= 1
        if number == self.watermark + 1:
            self.watermark = number
            while self.watermark + 1 in self._above:
                self.watermark += 1
                self._above.discard(self.watermark)
        elif number > self.watermark:
            self._above.add(number)
        if self.issued == 0 and not self._reading:
            self._all_settled.set()
        if self._clock() - self._saved_at >= SAVE_INTERVAL and self.watermark != self._saved:
            await self.save()

    async def save(self, *, done: bool = False) -> None:
        self._saved, self._saved_at = self.watermark, self._clock()
        await self.dm.set(PROGRESS, self.key, {"Fingerprint": self.fingerprint, "Settled": self.watermark,
                                               "Done": done})

    async def finished_reading(self, last: int) -> None:
        """All records were read (``last`` is the number of the last one): wait until every one is settled."""
        self._reading = False
        if self.issued == 0:
            self._all_settled.set()
        await self._all_settled.wait()
        self.watermark = max(self.watermark, last)

    async def forget(self) -> None:
        await self.dm.remove(PROGRESS, self.key)


class FileTicket:
    __slots__ = ("_done", "number", "progress")

    def __init__(self, progress: FileProgress, number: int) -> None:
        self.progress = progress
        self.number = number
        self._done = False

    async def settle(self) -> None:
        if not self._done:
            self._done = True
            await self.progress.settled(self.number)


async def settle_all(tickets: list[Ticket]) -> None:
    for t in tickets:
        await t.settle()


def move_file(src: Path, dest_dir: str) -> Path:
    """Move a finished file into ``dest_dir`` (made if missing); a name taken there gets a numbered suffix."""
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / src.name
    n = 1
    while dest.exists():
        dest = folder / f"{src.name}.{n}"
        n += 1
    os.replace(src, dest)
    return dest


__all__ = ["PROGRESS", "SAVE_INTERVAL", "CallbackTicket", "FileProgress", "FileTicket", "Ticket", "fingerprint",
           "move_file", "settle_all"]
