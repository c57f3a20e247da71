"""File readers (``*file_csv``, ``*partial_csv``, ``*flatstore``, ``*file_fwv``, ``*file_xml``, ``*file_json``).

A reader takes the files of ``source_path`` whose names end as its type says (``.csv``, ``.fwv``, ``.xml``,
``.json``): with ``run_delay`` -1 those present at start, then each one announced by the directory watch
(:mod:`.watch`: inotify); with a positive ``run_delay`` the directory is listed that often; with 0 only
``ErSv1.RunReader`` runs it. ``start_delay`` is waited first. At most ``concurrent_requests`` files are read at
once (0: no limit); a file already being read is not taken twice.

A file is read record by record from where its :class:`~.progress.FileProgress` says the last run stopped; every
record is fed to the service with its ticket. Once every record is settled the file is moved to
``processed_path`` (left in place, marked done, when that is empty), its progress record removed, and one line
logs what it held: records, events, duplicates, failures and malformed records (those are in
``<failed_path>/<name>.failed``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pycgrates.engine.ers.progress import FileProgress, move_file
from pycgrates.engine.ers.records import FWVRecord, Record, csv_records, fwv_lines, json_record, xml_records
from pycgrates.engine.ers.settings import FILE_FWV, FILE_JSON, FILE_XML, SUFFIXES, ReaderSettings
from pycgrates.engine.ers.watch import DirectoryWatch
from pycgrates.engine.units import SECOND

log = logging.getLogger("cgr.ers")


class FileReader:
    def __init__(self, service: Any, settings: ReaderSettings) -> None:
        self.service = service
        self.settings = settings
        self.suffix = SUFFIXES[settings.type]
        self.directory = Path(settings.source_path)
        limit = settings.concurrent_requests
        self._files = asyncio.Semaphore(limit) if limit > 0 else None
        self._busy: set[str] = set()
        self._watch: DirectoryWatch | None = None

    async def run(self) -> None:
        s = self.settings
        if s.run_delay == 0:
            return
        if s.start_delay > 0:
            await asyncio.sleep(s.start_delay / SECOND)
        if s.run_delay < 0:
            self._watch = DirectoryWatch(self.directory)
            self._watch.open()  # before the first listing: a file arriving in between is not missed
            await self.run_once()
            async for name in self._watch.names():
                if name.endswith(self.suffix):
                    self.service.tasks.spawn(self.process_file(name), name=f"{s.id} {name}")
            return
        while True:
            await self.run_once()
            await asyncio.sleep(s.run_delay / SECOND)

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    async def run_once(self) -> None:
        """Read every file of the directory that is waiting there, as many at once as allowed."""
        try:
            names = sorted(e.name for e in os.scandir(self.directory) if e.is_file() and e.name.endswith(self.suffix))
        except OSError as exc:
            log.warning("<ERs> reader <%s>: cannot list %s: %s", self.settings.id, self.directory, exc)
            return
        await asyncio.gather(*(self.process_file(n) for n in names))

    async def process_file(self, name: str) -> None:
        if name in self._busy:
            return
        self._busy.add(name)
        try:
            if self._files is None:
                await self._process(name)
            else:
                async with self._files:
                    await self._process(name)
        finally:
            self._busy.discard(name)

    async def _process(self, name: str) -> None:
        s = self.settings
        path = self.directory / name
        if not path.is_file():
            return
        started = time.monotonic()
        progress = await FileProgress.resume(self.service.ctx.dm, s.id, path)
        if progress.done:
            return
        if progress.start:
            log.info("<ERs> reader <%s>: going on with %s after record %d", s.id, path, progress.start)
        else:
            log.info("<ERs> reader <%s>: parsing <%s>", s.id, path)
        sink = self.service.reader_sink(s, name)
        counters = self.service.counters[s.id]
        before = counters.as_dict()
        vars_base = {"*fileName": name, "*readerID": s.id}
        providers, records = self._records(path)
        last = 0
        for rec in records:
            last = rec.number
            if progress.skip(rec.number):
                continue
            vars = {**vars_base, "*fileLineNumber": rec.number}
            await self.service.feed(s, rec, vars, [progress.ticket(rec.number)], origin=f"{path}:{rec.line}",
                                    sink=sink, providers=providers)
        await progress.finished_reading(last)
        if s.processed_path:
            dest = await asyncio.to_thread(move_file, path, s.processed_path)
            await progress.forget()
        else:
            dest = path
            await progress.save(done=True)
        after = counters.as_dict()
        delta = {k: after[k] - before[k] for k in after}
        log.info("<ERs> finished processing file <%s> (now %s): records %d, events processed %d, duplicates %d, "
                 "failed %d, malformed %d, filtered %d, partial %d, run duration %.3fs", path, dest, delta["Read"],
                 delta["Processed"], delta["Duplicates"], delta["Failed"], delta["Malformed"], delta["Filtered"],
                 delta["Partial"], time.monotonic() - started)

    def _records(self, path: Path) -> tuple[dict[str, Any] | None, Iterator[Record] | list[Record]]:
        s = self.settings
        if s.type == FILE_XML:
            return None, xml_records(path.read_text(errors="replace"), str(s.opt("xmlRootPath", "")))
        if s.type == FILE_JSON:
            return None, [json_record(path.read_text(errors="replace"))]
        if s.type == FILE_FWV:
            with path.open(encoding="utf-8", errors="replace", newline="") as f:
                head, tail, recs = fwv_lines(f, header=s.uses_header, trailer=s.uses_trailer)
            providers: dict[str, Any] = {}
            if head is not None:
                providers["*hdr"] = FWVRecord(head)
            if tail is not None:
                providers["*trl"] = FWVRecord(tail)
            return providers or None, recs
        return None, _csv_file(path, s)


def _csv_file(path: Path, s: ReaderSettings) -> Iterator[Record]:
    with path.open(encoding="utf-8", errors="replace", newline="") as f:
        yield from csv_records(f, separator=str(s.opt("csvFieldSeparator", ",")),
                               header_char=str(s.opt("csvHeaderDefineChar", ":")),
                               row_length=int(s.opt("csvRowLength", 0)),
                               lazy_quotes=bool(s.opt("csvLazyQuotes", True)))


__all__ = ["FileReader"]
