"""The embedded ``*internal`` DataDB and StorDB: everything in memory, every change in an append-only log.

Both stores keep their state as ``{kind: {key: value}}`` and log changes as orjson records (see
:mod:`engine.storage.log`): ``["set", kind, key, value]``, ``["remove", kind, key, null]``, ``["flush", null, null,
null]``, or a list of those for a batch (one record, so all or nothing on replay).

What is held in memory is the decoded form of the record that was logged, not the caller's object: the decode is
the copy that protects the store from later mutation by the caller (it replaces a deepcopy and costs less), and it
makes a value read before a restart equal to the one read after (Decimals become strings in both cases).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from pycgrates.engine.metrics import STORAGE_WRITES
from pycgrates.engine.rpc.errors import EXISTS, RPCError
from pycgrates.engine.storage.base import (
    BatchOp,
    CDRFilter,
    Expectations,
    MemoryDataDB,
    StorageError,
    StorDB,
    cdr_order,
    check_batch,
    dumps,
)
from pycgrates.engine.storage.log import FSYNC_ALWAYS, FSYNC_INTERVAL, AppendLog
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.units import SECOND, parse_duration, parse_time, to_decimal

log = logging.getLogger("cgr.storage")

DEFAULT_COMPACT_RATIO = 4.0
DEFAULT_COMPACT_MIN_BYTES = 16 * 1024 * 1024
_SNAPSHOT_CHUNK = 4096  # ops per snapshot record


class DurableState:
    """``{kind: {key: value}}`` kept in memory and, when ``path`` is set, in an :class:`AppendLog`.

    Shared by the DataDB and the StorDB so the log, replay and compaction exist once. A compaction started by a
    write runs in the background under the state's supervisor; :meth:`close` waits for it.
    """

    def __init__(
        self,
        data: dict[str, dict[str, Any]],
        path: Path | None,
        name: str,
        *,
        fsync: str = FSYNC_INTERVAL,
        fsync_interval_ns: int = SECOND,
        compact_ratio: float = DEFAULT_COMPACT_RATIO,
        compact_min_bytes: int = DEFAULT_COMPACT_MIN_BYTES,
        repair: bool = False,
    ) -> None:
        if compact_ratio <= 1:
            raise StorageError(
                f"compact_ratio {compact_ratio} must be greater than 1 (default {DEFAULT_COMPACT_RATIO})"
            )
        self.data = data
        self.compact_ratio = compact_ratio
        self.compact_min_bytes = compact_min_bytes
        self._compaction: asyncio.Task | None = None
        self._tasks = Supervisor(f"internal DB {name}")
        self.log: AppendLog | None = None
        if path is not None:
            self.log = AppendLog(Path(path), name, fsync=fsync, fsync_interval_ns=fsync_interval_ns, repair=repair)
            started = time.monotonic()
            payloads = self.log.open()
            try:
                for payload in payloads:
                    self._apply_record(orjson.loads(payload))
            except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                self.log.close_now()
                raise StorageError(f"{self.log.path}: a record passed its checksum but cannot be read: {exc}") from exc
            log.info(
                "internal DB %s: loaded %d records (%d bytes) in %.3fs",
                self.log.path,
                len(payloads),
                self.log.size,
                time.monotonic() - started,
            )

    # ------------------------------------------------------------------------------------------ apply

    def _apply_op(self, op: str, kind: str, key: str, value: Any) -> None:
        if op == "set":
            bucket = self.data.get(kind)
            if bucket is None:
                bucket = self.data[kind] = {}
            bucket[key] = value
        elif op == "remove":
            bucket = self.data.get(kind)
            if bucket is not None:
                bucket.pop(key, None)
        elif op == "flush":
            self.data.clear()
        else:
            raise StorageError(f"unknown operation {op!r} in a stored record")

    def _apply_record(self, rec: list) -> None:
        if rec and isinstance(rec[0], list):
            for op in rec:
                self._apply_op(*op)
        else:
            self._apply_op(*rec)

    # ------------------------------------------------------------------------------------------ writes

    async def commit(self, payload: bytes) -> Any:
        """Log ``payload`` (one record), apply it, wait for durability per policy; returns the decoded record."""
        rec = orjson.loads(payload)
        lg = self.log
        if lg is None:
            self._apply_record(rec)
            return rec
        started = time.perf_counter()
        lg.append(payload)
        self._apply_record(rec)
        if lg.size > self.compact_min_bytes and lg.size > lg.base_size * self.compact_ratio:
            self._start_compaction()
        if lg.policy == FSYNC_ALWAYS:
            await lg.sync()
        STORAGE_WRITES.observe(time.perf_counter() - started, lg.path.stem)
        return rec

    async def set(self, kind: str, key: str, value: Any) -> Any:
        """Store and return the stored (decoded) value."""
        return (await self.commit(dumps(("set", kind, key, value))))[3]

    async def remove(self, kind: str, key: str) -> bool:
        bucket = self.data.get(kind)
        if bucket is None or key not in bucket:
            return False
        await self.commit(dumps(("remove", kind, key, None)))
        return True

    async def batch(self, ops: Iterable[BatchOp]) -> list | None:
        rows = check_batch(ops)
        if not rows:
            return None
        return await self.commit(dumps(rows))

    async def flush(self) -> None:
        await self.commit(b'["flush",null,null,null]')
        if self.log is not None:
            await self.compact()

    # ------------------------------------------------------------------------------------------ compaction

    def snapshot(self) -> list[bytes]:
        """The live state as batch payloads (a consistent point: built without yielding)."""
        out: list[bytes] = []
        chunk: list[tuple] = []
        for kind, bucket in self.data.items():
            for key, value in bucket.items():
                chunk.append(("set", kind, key, value))
                if len(chunk) >= _SNAPSHOT_CHUNK:
                    out.append(dumps(chunk))
                    chunk = []
        if chunk:
            out.append(dumps(chunk))
        return out

    def _start_compaction(self) -> None:
        if self._compaction is None or self._compaction.done():
            self._compaction = self._tasks.spawn(self.compact(), name="compaction")

    async def compact(self) -> None:
        """Rewrite the log as a snapshot of the live state (writers are not blocked while it is written)."""
        lg = self.log
        if lg is None or lg.closed:
            return
        running = self._compaction
        if running is not None and not running.done() and running is not asyncio.current_task():
            await running
            return
        before = lg.size
        started = time.monotonic()
        payloads = self.snapshot()
        lg.begin_capture()
        try:
            await lg.rewrite(payloads)
        except (OSError, StorageError) as exc:
            log.error("internal DB %s: compaction failed, the log is kept as it was: %s", lg.path, exc)
            return
        log.info(
            "internal DB %s: compacted %d → %d bytes in %.3fs", lg.path, before, lg.size, time.monotonic() - started
        )

    # ------------------------------------------------------------------------------------------ close

    async def close(self) -> None:
        lg = self.log
        if lg is None or lg.closed:
            return
        if self._compaction is not None and not self._compaction.done():
            await asyncio.gather(self._compaction, return_exceptions=True)  # a failure was logged by the supervisor
        await self._tasks.stop()
        if lg.size > lg.base_size:
            try:
                lg.rewrite_now(self.snapshot())
            except (OSError, StorageError) as exc:
                log.error("internal DB %s: compaction at close failed, the log is kept: %s", lg.path, exc)
        await lg.close()


# ------------------------------------------------------------------------------------------------ DataDB


class InternalDataDB(MemoryDataDB):
    """The ``*internal`` DataDB: memory + append-only log under ``path`` (a directory); ``path=None`` → memory only.

    ``fsync``: ``*always`` (fsync before acknowledging), ``*interval`` (every ``fsync_interval_ns`` when there were
    writes), ``*never`` (left to the OS). A write is acknowledged once its record is in the kernel, so it survives
    ``kill -9``; only power loss needs the fsync. The log is compacted when it grows past ``compact_ratio`` × its
    size after the last compaction (and ``compact_min_bytes``), and at close.
    """

    LOG_NAME = "datadb"

    def __init__(
        self,
        path: Path | None = None,
        fsync: str = FSYNC_INTERVAL,
        fsync_interval_ns: int = SECOND,
        compact_ratio: float = DEFAULT_COMPACT_RATIO,
        *,
        compact_min_bytes: int = DEFAULT_COMPACT_MIN_BYTES,
        repair: bool = False,
    ) -> None:
        super().__init__()
        self._state = DurableState(
            self._data,
            path,
            self.LOG_NAME,
            fsync=fsync,
            fsync_interval_ns=fsync_interval_ns,
            compact_ratio=compact_ratio,
            compact_min_bytes=compact_min_bytes,
            repair=repair,
        )

    @property
    def log(self) -> AppendLog | None:
        return self._state.log

    async def set(self, kind: str, key: str, value: Any) -> None:
        await self._state.set(kind, key, value)

    async def remove(self, kind: str, key: str) -> bool:
        return await self._state.remove(kind, key)

    async def write_batch(self, ops: Iterable[BatchOp], *, expect: Expectations | None = None) -> None:
        rows = check_batch(ops)
        self.check_expected(expect)
        await self._state.batch(rows)  # applied before its first suspension: nothing runs between check and write

    async def flush(self) -> None:
        await self._state.flush()

    async def compact(self) -> None:
        await self._state.compact()

    async def close(self) -> None:
        await self._state.close()


# ------------------------------------------------------------------------------------------------ StorDB

_CDR = "cdr"
_SMC = "smc"
_TP = "tp"
_META = "meta"
_SEP = "\x1f"  # between key parts: cannot occur in IDs
_ZERO_TIME = datetime.min.replace(tzinfo=UTC)


def _cost(cdr: dict) -> Decimal:
    value = cdr.get("Cost")
    return Decimal(-1) if value is None or value == "" else to_decimal(value)


def _usage(cdr: dict) -> int:
    value = cdr.get("Usage")
    return value if type(value) is int else parse_duration(value)


class InternalStorDB(StorDB):
    """The ``*internal`` StorDB on the same log mechanism as the DataDB (file ``stordb.log``)."""

    LOG_NAME = "stordb"

    def __init__(
        self,
        path: Path | None = None,
        fsync: str = FSYNC_INTERVAL,
        fsync_interval_ns: int = SECOND,
        compact_ratio: float = DEFAULT_COMPACT_RATIO,
        *,
        compact_min_bytes: int = DEFAULT_COMPACT_MIN_BYTES,
        repair: bool = False,
    ) -> None:
        self._data: dict[str, dict[str, Any]] = {}
        self._state = DurableState(
            self._data,
            path,
            self.LOG_NAME,
            fsync=fsync,
            fsync_interval_ns=fsync_interval_ns,
            compact_ratio=compact_ratio,
            compact_min_bytes=compact_min_bytes,
            repair=repair,
        )
        self._rebuild_indexes()

    @property
    def log(self) -> AppendLog | None:
        return self._state.log

    def _rebuild_indexes(self) -> None:
        self._by_cgrid: dict[str, set[str]] = {}
        self._smc_by_cgrid: dict[str, set[str]] = {}
        self._times: dict[str, tuple[datetime, datetime]] = {}
        last = self._data.get(_META, {}).get("last_order_id", 0)
        for key, cdr in self._data.get(_CDR, {}).items():
            self._by_cgrid.setdefault(cdr.get("CGRID", ""), set()).add(key)
            last = max(last, int(cdr.get("OrderID") or 0))
        for key, smc in self._data.get(_SMC, {}).items():
            self._smc_by_cgrid.setdefault(smc.get("CGRID", ""), set()).add(key)
        self._last_order_id = last

    def _next_order_id(self) -> int:
        # Nanoseconds as CGRateS, but never going back (clock steps, several CDRs in one nanosecond).
        self._last_order_id = max(time.time_ns(), self._last_order_id + 1)
        return self._last_order_id

    # ------------------------------------------------------------------------------------------ CDRs

    async def set_cdr(self, cdr: dict, allow_update: bool = False) -> dict:
        cgrid = cdr.get("CGRID") or ""
        key = f"{cgrid}{_SEP}{cdr.get('RunID') or ''}"
        cdrs = self._data.get(_CDR)
        if not allow_update and cdrs is not None and key in cdrs:
            raise RPCError(EXISTS)
        stored_cdr = dict(cdr)
        if not stored_cdr.get("OrderID"):
            stored_cdr["OrderID"] = self._next_order_id()
        else:
            self._last_order_id = max(self._last_order_id, int(stored_cdr["OrderID"]))
        stored = await self._state.set(_CDR, key, stored_cdr)
        self._by_cgrid.setdefault(cgrid, set()).add(key)
        self._times.pop(key, None)
        return dict(stored)

    def _cdr_times(self, key: str, cdr: dict) -> tuple[datetime, datetime]:
        cached = self._times.get(key)
        if cached is None:
            setup = parse_time(cdr.get("SetupTime")) or _ZERO_TIME
            answer = parse_time(cdr.get("AnswerTime")) or _ZERO_TIME
            cached = self._times[key] = (setup, answer)
        return cached

    def _select(self, flt: CDRFilter) -> list[tuple[str, dict]]:
        """Matching (key, cdr) pairs in OrderID order, then ``order_by``; before offset/limit."""
        cdrs = self._data.get(_CDR, {})
        if flt.cgrids:
            keys = {k for cgrid in flt.cgrids for k in self._by_cgrid.get(cgrid, ())}
            candidates = [(k, cdrs[k]) for k in keys]
        else:
            candidates = list(cdrs.items())
        equal = [
            (name, set(values))
            for name, values in (
                ("RunID", flt.run_ids),
                ("OriginID", flt.origin_ids),
                ("OriginHost", flt.origin_hosts),
                ("Source", flt.sources),
                ("ToR", flt.tors),
                ("RequestType", flt.request_types),
                ("Tenant", flt.tenants),
                ("Category", flt.categories),
                ("Account", flt.accounts),
                ("Subject", flt.subjects),
            )
            if values
        ]
        not_run_ids = set(flt.not_run_ids)
        prefixes = tuple(flt.destination_prefixes)
        setup_start, setup_end = parse_time(flt.setup_time_start), parse_time(flt.setup_time_end)
        answer_start, answer_end = parse_time(flt.answer_time_start), parse_time(flt.answer_time_end)
        need_times = any(t is not None for t in (setup_start, setup_end, answer_start, answer_end))
        min_usage = None if flt.min_usage is None else parse_duration(flt.min_usage)
        max_usage = None if flt.max_usage is None else parse_duration(flt.max_usage)
        cost_check = self._cost_check(flt)

        out = []
        for key, cdr in candidates:
            if any(cdr.get(name) not in values for name, values in equal):
                continue
            if not_run_ids and cdr.get("RunID") in not_run_ids:
                continue
            if prefixes and not str(cdr.get("Destination") or "").startswith(prefixes):
                continue
            order_id = cdr.get("OrderID") or 0
            if flt.order_id_start is not None and order_id < flt.order_id_start:
                continue
            if flt.order_id_end is not None and order_id >= flt.order_id_end:
                continue
            if need_times:
                setup, answer = self._cdr_times(key, cdr)
                if (
                    (setup_start is not None and setup < setup_start)
                    or (setup_end is not None and setup >= setup_end)
                    or (answer_start is not None and answer < answer_start)
                    or (answer_end is not None and answer >= answer_end)
                ):
                    continue
            if min_usage is not None or max_usage is not None:
                usage = _usage(cdr)
                if (min_usage is not None and usage < min_usage) or (max_usage is not None and usage >= max_usage):
                    continue
            if cost_check is not None and not cost_check(_cost(cdr)):
                continue
            out.append((key, cdr))
        out.sort(key=lambda kc: kc[1].get("OrderID") or 0)
        if flt.order_by:
            self._order(out, flt.order_by)
        return out

    @staticmethod
    def _cost_check(flt: CDRFilter):
        """CGRateS's MinCost/MaxCost rules, including MinCost=0 & MaxCost=-1 ("skip errors": Cost >= 0) and
        MaxCost=-1 alone ("not rated": Cost < 0)."""
        lo = None if flt.min_cost is None else to_decimal(flt.min_cost)
        hi = None if flt.max_cost is None else to_decimal(flt.max_cost)
        if lo is None and hi is None:
            return None
        if lo is not None and hi is None:
            return lambda c: c >= lo
        if lo is None:
            if hi == -1:
                return lambda c: c < 0
            return lambda c: c < hi
        if lo == 0 and hi == -1:
            return lambda c: c >= 0
        return lambda c: lo <= c < hi

    def _order(self, rows: list[tuple[str, dict]], order_by: str) -> None:
        field, descending = cdr_order(order_by)
        if field == "OrderID":
            key_fn = lambda kc: kc[1].get("OrderID") or 0  # noqa: E731
        elif field == "SetupTime":
            key_fn = lambda kc: self._cdr_times(*kc)[0]  # noqa: E731
        elif field == "AnswerTime":
            key_fn = lambda kc: self._cdr_times(*kc)[1]  # noqa: E731
        elif field == "Cost":
            key_fn = lambda kc: _cost(kc[1])  # noqa: E731
        else:
            key_fn = lambda kc: _usage(kc[1])  # noqa: E731
        rows.sort(key=key_fn, reverse=descending)

    @staticmethod
    def _page(rows: list, flt: CDRFilter) -> list:
        start = max(flt.offset or 0, 0)
        if flt.limit is None:
            return rows[start:]
        return rows[start : start + max(flt.limit, 0)]

    async def get_cdrs(self, flt: CDRFilter, remove: bool = False) -> list[dict]:
        rows = self._page(self._select(flt), flt)
        if remove and rows:
            ops: list[BatchOp] = [("remove", _CDR, key, None) for key, _ in rows]
            ops.append(("set", _META, "last_order_id", self._last_order_id))
            await self._state.batch(ops)
            for key, cdr in rows:
                cgrid = cdr.get("CGRID", "")
                keys = self._by_cgrid.get(cgrid)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._by_cgrid[cgrid]
                self._times.pop(key, None)
        return [dict(cdr) for _, cdr in rows]

    async def count_cdrs(self, flt: CDRFilter) -> int:
        return len(self._page(self._select(flt), flt))

    # ------------------------------------------------------------------------------------------ session costs

    async def set_session_cost(self, cost: dict) -> None:
        cgrid = cost.get("CGRID") or ""
        key = f"{cgrid}{_SEP}{cost.get('RunID') or ''}"
        await self._state.set(_SMC, key, cost)
        self._smc_by_cgrid.setdefault(cgrid, set()).add(key)

    async def get_session_costs(
        self, cgrid: str, run_id: str = "", origin_host: str = "", origin_id: str = ""
    ) -> list[dict]:
        """Costs matching every non-empty argument; ``origin_id`` matches as a prefix (as CGRateS)."""
        costs = self._data.get(_SMC, {})
        keys = self._smc_by_cgrid.get(cgrid, ()) if cgrid else costs.keys()
        out = []
        for key in keys:
            smc = costs[key]
            if run_id and smc.get("RunID") != run_id:
                continue
            if origin_host and smc.get("OriginHost") != origin_host:
                continue
            if origin_id and not str(smc.get("OriginID") or "").startswith(origin_id):
                continue
            out.append(dict(smc))
        out.sort(key=lambda s: (s.get("CGRID", ""), s.get("RunID", "")))
        return out

    async def remove_session_costs(self, cgrid: str, run_id: str = "") -> None:
        costs = self._data.get(_SMC, {})
        keys = [k for k in self._smc_by_cgrid.get(cgrid, ()) if not run_id or costs[k].get("RunID") == run_id]
        if not keys:
            return
        await self._state.batch([("remove", _SMC, k, None) for k in keys])
        index = self._smc_by_cgrid[cgrid]
        index.difference_update(keys)
        if not index:
            del self._smc_by_cgrid[cgrid]

    # ------------------------------------------------------------------------------------------ tariff plans

    async def set_tp(self, tpid: str, kind: str, rows: list[dict]) -> None:
        if not tpid or not kind:
            raise StorageError("set_tp needs a TPid and a kind (Destinations, Rates, ...)")
        await self._state.set(_TP, f"{tpid}{_SEP}{kind}", rows)

    async def get_tp(self, tpid: str, kind: str) -> list[dict]:
        rows = self._data.get(_TP, {}).get(f"{tpid}{_SEP}{kind}")
        return [dict(r) if isinstance(r, dict) else r for r in rows] if rows else []

    async def remove_tp(self, tpid: str, kind: str = "") -> None:
        tps = self._data.get(_TP, {})
        if kind:
            keys = [f"{tpid}{_SEP}{kind}"] if f"{tpid}{_SEP}{kind}" in tps else []
        else:
            keys = [k for k in tps if k.startswith(f"{tpid}{_SEP}")]
        if keys:
            await self._state.batch([("remove", _TP, k, None) for k in keys])

    async def tp_ids(self) -> list[str]:
        """TPids with rows stored."""
        return sorted({k.partition(_SEP)[0] for k in self._data.get(_TP, {})})

    # ------------------------------------------------------------------------------------------ lifecycle

    async def flush(self) -> None:
        last = self._last_order_id
        await self._state.flush()
        await self._state.set(_META, "last_order_id", last)
        self._rebuild_indexes()

    async def compact(self) -> None:
        await self._state.compact()

    async def close(self) -> None:
        await self._state.close()
