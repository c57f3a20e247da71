"""ERs (CGRateS's ERService, ``ErSv1``): event readers turning records into events for SessionS and the CDR server.

Each reader (:mod:`.files`, :mod:`.amqp`, :mod:`.nats`, :mod:`.sql`) decodes its source into records
(:mod:`.records`) and hands each to :meth:`EventReaderService.feed` with the record's :class:`~.progress.Ticket`.
A record goes through the reader's fields as a request processor of the agents' pipeline (filters, then
``fields`` writing ``*cgreq``/``*opts``, tenant and timezone); the event is sent with the reader's flags
(``*cdrs``, ``*message``, ``*event``, ``*dryrun``, ``*log``..., :func:`agents.request.dispatch_event`) through
``ers.sessions_conns``, at most ``ers.concurrent_events`` at once. Partial events wait in the partial cache
(:mod:`.partial`).

What happens to a record decides when its ticket is settled (see :mod:`.progress` for why that gives
exactly-once):

- accepted, or refused as a duplicate (``EXISTS``, or SessionS's "already stored"): settled;
- a connection problem (the peer down, a timeout): retried with back-off (``reconnects`` times, -1 forever, up to
  ``max_reconnect_interval`` apart), never settled while the engine stops — the record is read again after a restart;
- malformed (a CSV line with the wrong number of fields, bad JSON, a mandatory field missing, a template error) or
  refused by SessionS/CDRs for good: counted, logged with its file (or queue) and line, its raw text appended to
  ``<failed_path>/<file name>.failed`` (``failed_path`` defaults to ``processed_path``; queue readers write
  ``<failed_path>/<reader id>.failed``), exported to ``ees_failed_ids``, then settled; the other records go on.
  (A record caught by a crash between being written aside and being settled is written aside again after the
  restart: what is written aside is at least once, what reaches the CDR server exactly once.)

``ErSv1.RunReader`` runs a file reader whose ``run_delay`` is 0 over its directory once; ``ErSv1.GetReaderCounters``
(pycgrates) answers what each reader has counted since start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycgrates.agents.request import AgentRequest, dispatch_event
from pycgrates.engine.ers.partial import (
    DUMP_TO_FILE,
    DUMP_TO_JSON,
    PARTIAL,
    POST_CDR,
    PartialCache,
    PartialGroup,
    dump,
    is_partial,
    merge,
)
from pycgrates.engine.ers.progress import Ticket, settle_all
from pycgrates.engine.ers.records import Record
from pycgrates.engine.ers.settings import (
    AMQP,
    FILE_TYPES,
    FLATSTORE,
    NATS,
    PARTIAL_CSV,
    SQL,
    ERsSettings,
    ReaderSettings,
    compile_settings,
)
from pycgrates.engine.filters.rules import FilterError
from pycgrates.engine.models.event import CGREvent
from pycgrates.engine.rpc.errors import (
    DISCONNECTED,
    EXISTS,
    NOT_FOUND,
    SERVICE_NOT_AVAILABLE,
    TIMEOUT,
    RPCError,
)
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.fields import FieldError, set_fields
from pycgrates.engine.units import SECOND

log = logging.getLogger("cgr.ers")

_TRANSIENT = (DISCONNECTED, TIMEOUT, SERVICE_NOT_AVAILABLE)
_TEMPLATE_ERRORS = (FieldError, FilterError, RSRError, RPCError, ValueError)


@dataclass(slots=True)
class Counters:
    """What one reader did since start."""

    read: int = 0  # records decoded (files, messages, rows)
    processed: int = 0  # events accepted downstream
    duplicates: int = 0  # events refused as already processed (a replay)
    failed: int = 0  # events refused downstream
    malformed: int = 0  # records that could not be decoded or templated
    filtered: int = 0  # records the reader's filters let through to nothing
    partial: int = 0  # partial records received

    def as_dict(self) -> dict[str, int]:
        return {"Read": self.read, "Processed": self.processed, "Duplicates": self.duplicates,
                "Failed": self.failed, "Malformed": self.malformed, "Filtered": self.filtered,
                "Partial": self.partial}


class _Watched:
    """The SessionS Conn for one delivery, noting whether a call failed for want of a connection."""

    __slots__ = ("conn", "transient")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.transient = False

    async def call(self, method: str, args: Any, timeout: float | None = None) -> Any:
        try:
            return await self.conn.call(method, args)
        except RPCError as exc:
            if exc.message.startswith(_TRANSIENT):
                self.transient = True
            raise
        except (TimeoutError, OSError):
            self.transient = True
            raise


class FailedSink:
    """Where the raw text of a source's bad records goes: appended to one file, made on first use."""

    def __init__(self, folder: str, name: str) -> None:
        self.path = Path(folder) / name if folder else None
        self.count = 0

    def write(self, raw: str) -> None:
        self.count += 1
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(raw if raw.endswith("\n") else raw + "\n")


class EventReaderService:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.settings: ERsSettings = compile_settings(ctx.cfg)
        self.sessions = ctx.conns.get(self.settings.sessions_conns)
        self.ees = ctx.conns.get(self.settings.ees_conns)
        self.tasks = Supervisor("ERs")
        self.counters: dict[str, Counters] = {r.id: Counters() for r in self.settings.readers}
        self.readers: dict[str, Any] = {}
        self._slots = asyncio.Semaphore(self.settings.concurrent_events)
        self.partials = PartialCache(self.settings.partial_cache_ttl / SECOND, None, self._partial_complete)
        self._build_readers()

    @property
    def filter_service(self) -> Any:
        return self.ctx.services.get("filters")

    def _build_readers(self) -> None:
        from pycgrates.engine.ers.amqp import AMQPReader
        from pycgrates.engine.ers.files import FileReader
        from pycgrates.engine.ers.nats import NATSReader
        from pycgrates.engine.ers.sql import SQLReader

        kinds = {AMQP: AMQPReader, NATS: NATSReader, SQL: SQLReader}
        for reader in self.settings.readers:
            cls = FileReader if reader.type in FILE_TYPES else kinds[reader.type]
            self.readers[reader.id] = cls(self, reader)

    # ------------------------------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self.tasks.stopped:
            self.tasks = Supervisor("ERs")
        self.partials.filter_service = self.filter_service
        self.tasks.spawn(self.partials.sweep_forever(self._partial_expired), name="partial cache")
        for rid, reader in self.readers.items():
            self.tasks.spawn(reader.run(), name=f"reader {rid}")
        log.info("<ERs> started %d reader(s): %s", len(self.readers), ", ".join(self.readers) or "none")

    async def stop(self) -> None:
        for reader in self.readers.values():
            await reader.close()
        await self.tasks.stop()

    async def reload(self, cfg: Any) -> None:
        await self.stop()
        self.settings = compile_settings(cfg)
        self.sessions = self.ctx.conns.get(self.settings.sessions_conns)
        self.ees = self.ctx.conns.get(self.settings.ees_conns)
        self.counters = {r.id: self.counters.get(r.id, Counters()) for r in self.settings.readers}
        self._slots = asyncio.Semaphore(self.settings.concurrent_events)
        self.partials = PartialCache(self.settings.partial_cache_ttl / SECOND, self.filter_service,
                                     self._partial_complete)
        self.readers = {}
        self._build_readers()
        await self.start()

    # ------------------------------------------------------------------------------------------ RPC

    @rpc("ErSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    @rpc("ErSv1.RunReader")
    async def run_reader(self, args: Any) -> str:
        """Process the files of a reader whose run_delay is 0, once (CGRateS's V1RunReader)."""
        rid = str((args or {}).get("ReaderID") or "") if isinstance(args, Mapping) else ""
        reader = self.readers.get(rid)
        if reader is None:
            raise RPCError(NOT_FOUND)
        if reader.settings.run_delay != 0:
            raise RPCError("readers with RunDelay different from 0 are not supported")
        if reader.settings.type not in FILE_TYPES:
            raise RPCError("reader type does not yet support manual processing")
        await reader.run_once()
        return "OK"

    @rpc("ErSv1.GetReaderCounters")
    async def get_reader_counters(self, args: Any) -> dict[str, dict[str, int]]:
        """pycgrates: what each reader (or the one named by ReaderID) counted since start."""
        rid = str((args or {}).get("ReaderID") or "") if isinstance(args, Mapping) else ""
        if rid:
            if rid not in self.counters:
                raise RPCError(NOT_FOUND)
            return {rid: self.counters[rid].as_dict()}
        return {k: c.as_dict() for k, c in self.counters.items()}

    # ------------------------------------------------------------------------------------------ records

    async def feed(self, reader: ReaderSettings, rec: Record, vars: dict[str, Any], tickets: list[Ticket], *,
                   origin: str, sink: FailedSink, providers: Mapping[str, Any] | None = None) -> None:
        """One record of a reader: templated into an event and sent on (or cached while partial). Returns once
        the event is on its way (a slot of ``concurrent_events`` taken); its tickets settle when it is done."""
        counters = self.counters[reader.id]
        counters.read += 1
        if rec.error:
            await self._malformed(reader, rec.raw, origin, rec.error, tickets, sink)
            return
        s = self.settings
        proc = reader.processor
        ar = AgentRequest(rec.data, vars, proc, tenant=s.tenant, timezone=s.timezone,
                          filter_service=self.filter_service, providers=providers)
        try:
            if proc.filters is not None and not await proc.filters.passes(ar.tenant, ar, ar.filter_service):
                counters.filtered += 1
                await settle_all(tickets)
                return
            await set_fields(ar, proc.request_fields)
        except _TEMPLATE_ERRORS as exc:
            await self._malformed(reader, rec.raw, origin, str(exc), tickets, sink)
            return
        event = ar.cgr_event().to_json()  # readers keep events as CGRateS's JSON (merged, dumped, exported)
        if reader.type == FLATSTORE:
            event["APIOpts"].setdefault(PARTIAL, "true")
        elif reader.type == PARTIAL_CSV and PARTIAL not in event["APIOpts"]:
            event["APIOpts"][PARTIAL] = as_string(event["Event"].get("Partial", "false"))
        if is_partial(event):
            counters.partial += 1
            await self.partials.add(reader, reader.partial, event, tickets, rec.raw)
            return
        await self.submit(reader, event, tickets, raw=rec.raw, origin=origin, sink=sink)

    async def submit(self, reader: ReaderSettings, event: dict[str, Any], tickets: list[Ticket], *, raw: str,
                     origin: str, sink: FailedSink | None) -> None:
        await self._slots.acquire()
        try:
            self.tasks.spawn(self._deliver(reader, event, tickets, raw, origin, sink), name=f"event {origin}")
        except BaseException:
            self._slots.release()
            raise

    async def _deliver(self, reader: ReaderSettings, event: dict[str, Any], tickets: list[Ticket], raw: str,
                       origin: str, sink: FailedSink | None) -> None:
        counters = self.counters[reader.id]
        proc = reader.processor
        try:
            if proc.flags.has("*log") or proc.request_type == "*dryrun":
                log.info("<ERs> %s, reader: <%s>, CGREvent: %s", "DRY_RUN" if proc.request_type == "*dryrun"
                         else "LOG", reader.id, json.dumps(event, default=as_string))
            attempt = 0
            while True:
                conn = _Watched(self.sessions) if self.sessions is not None else None
                # the model shares the event's maps: a *message debit's Usage lands in ``event`` too
                error = (await dispatch_event(proc, CGREvent.from_json(event), conn)).get("Error") or ""
                if not error or error == EXISTS:
                    if error:
                        counters.duplicates += 1
                    else:
                        counters.processed += 1
                    await self._export_raw(reader.ees_success_ids, event)
                    break
                if conn is not None and conn.transient and (reader.reconnects < 0 or attempt < reader.reconnects):
                    attempt += 1
                    await asyncio.sleep(self._backoff(reader, attempt))
                    continue
                counters.failed += 1
                log.warning("<ERs> reader <%s>: %s: event refused: %s; event: %s", reader.id, origin, error,
                            json.dumps(event, default=as_string))
                if sink is not None:
                    sink.write(raw)
                await self._export_raw(reader.ees_failed_ids, event)
                break
            await settle_all(tickets)
        finally:
            self._slots.release()

    @staticmethod
    def _backoff(reader: ReaderSettings, attempt: int) -> float:
        cap = reader.max_reconnect_interval / SECOND if reader.max_reconnect_interval > 0 else 300.0
        return min(cap, 0.1 * 2 ** min(attempt, 16)) * (0.5 + random.random() / 2)

    async def _malformed(self, reader: ReaderSettings, raw: str, origin: str, why: str, tickets: list[Ticket],
                         sink: FailedSink) -> None:
        self.counters[reader.id].malformed += 1
        log.warning("<ERs> reader <%s>: %s: malformed record, moved aside: %s; record: %s", reader.id, origin, why,
                    raw.rstrip("\r\n")[:512])
        sink.write(raw)
        await self._export_raw(reader.ees_failed_ids, {"Tenant": self.settings.tenant, "Event": {"Raw": raw}})
        await settle_all(tickets)

    async def _export_raw(self, exporter_ids: tuple[str, ...], event: dict[str, Any]) -> None:
        if not exporter_ids or self.ees is None:
            return
        try:
            await self.ees.call("EeSv1.ProcessEvent", {"EeIDs": list(exporter_ids), "Tenant": event.get("Tenant"),
                                                       "ID": event.get("ID"), "Event": event.get("Event") or {},
                                                       "APIOpts": event.get("APIOpts") or {}})
        except (RPCError, TimeoutError, OSError) as exc:
            log.warning("<ERs> exporting event %s to %s: %s", event.get("ID"), list(exporter_ids), exc)

    # ------------------------------------------------------------------------------------------ partial events

    async def _partial_complete(self, group: PartialGroup, merged: dict[str, Any]) -> None:
        await self.submit(group.reader, merged, group.tickets, raw="".join(group.raws),
                          origin=f"partial {merged['Event'].get('OriginID')}", sink=self._partial_sink(group))

    async def _partial_expired(self, key: str, group: PartialGroup) -> None:
        action = group.rules.action
        merged = await merge(group, self.filter_service)
        if action == POST_CDR:
            merged["APIOpts"].pop(PARTIAL, None)
            await self._partial_complete(group, merged)
            return
        if action in (DUMP_TO_FILE, DUMP_TO_JSON):
            path = await dump(key, group, merged, self.filter_service)
            log.info("<ERs> reader <%s>: partial event %s expired, dumped to %s", group.reader.id, key, path)
        await settle_all(group.tickets)

    def _partial_sink(self, group: PartialGroup) -> FailedSink:
        reader = group.reader
        return FailedSink(reader.failed_path or (reader.processed_path if reader.type in FILE_TYPES else ""),
                          f"{reader.id}.partial.failed")

    def reader_sink(self, reader: ReaderSettings, name: str) -> FailedSink:
        """Where a source's bad records go (see the module docstring)."""
        folder = reader.failed_path or (reader.processed_path if reader.type in FILE_TYPES else "")
        return FailedSink(folder, f"{name}.failed")


__all__ = ["Counters", "EventReaderService", "FailedSink"]
