"""What every exporter shares: the export request its fields fill, its metrics, and delivery — batches, attempts,
failed posts.

An event to export becomes a *payload* once: with ``fields``, an :class:`ExportRequest` (``*req`` the event,
``*opts``, ``*vars`` with ``*tenant``/``*exporterID``, ``*em`` the exporter's metrics) fills the ``*exp`` map the
exporter turns into its payload (a CSV row, a JSON body, an SQL row ...); without fields the event itself is.
Payloads queue per exporter and one task sends them in batches of up to ``batch`` (the target's batch where it has
one: a file write, an SQL transaction, publishes confirmed together); a synchronous export waits for the batch it
went out in, an asynchronous one does not. A batch is tried ``attempts`` times (1s, 1s, 2s, 3s ... apart, the
connection made anew after a failure); what still fails goes to the failed posts (:mod:`.failedposts`) of the
exporter's ``failed_posts_dir`` (``*none``: dropped, logged).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pycgrates.engine.ees.failedposts import FailedTarget
from pycgrates.engine.ees.settings import ExporterSettings
from pycgrates.engine.template.dataprovider import MapDataProvider, as_duration, as_float, as_string, as_time
from pycgrates.engine.template.fields import NavMap, TemplateContext

log = logging.getLogger("cgr.ees")


class ExportRequest(TemplateContext):
    """The DataProvider an exporter's fields read (``*req``, ``*opts``, ``*vars``, ``*em``) and write (``*exp``,
    ``*hdr``, ``*trl``)."""

    def __init__(self, event: dict[str, Any] | None, exporter_id: str, *, tenant: str, timezone: str,
                 metrics: dict[str, Any], filter_service: Any = None) -> None:
        ev = event or {}
        super().__init__({"*req": MapDataProvider(ev.get("Event") or {}), "*opts": ev.get("APIOpts") or {},
                          "*vars": {"*tenant": ev.get("Tenant") or tenant, "*exporterID": exporter_id},
                          "*em": MapDataProvider(metrics), "*tmp": {}, "*exp": NavMap(), "*hdr": NavMap(),
                          "*trl": NavMap()},
                         tenant=ev.get("Tenant") or tenant, timezone=timezone, filter_service=filter_service)

    def out(self, prefix: str = "*exp") -> NavMap:
        return self.sources[prefix]


def flat(nm: NavMap) -> dict[str, Any]:
    """An ``*exp`` map as one level: ``A.B`` keys, in the order the fields wrote them."""
    return {".".join(leaf.path): leaf.value for leaf in nm.leaves()}


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, default=as_string, separators=(",", ":")).encode()


class Metrics:
    """CGRateS's exporter metrics: events, the CGRIDs exported and failed, answer-time span, cost and usage."""

    def __init__(self, timezone: str = "") -> None:
        self.timezone = timezone
        self.reset()

    def reset(self) -> None:
        self.data: dict[str, Any] = {"NumberOfEvents": 0, "PositiveExports": set(), "NegativeExports": set()}

    def event(self) -> None:
        self.data["NumberOfEvents"] += 1

    def record(self, event: dict[str, Any], ok: bool) -> None:
        d = self.data
        fields = event.get("Event") or {}
        (d["PositiveExports"] if ok else d["NegativeExports"]).add(as_string(fields.get("CGRID") or event.get("ID")))
        try:
            atime = as_time(fields["AnswerTime"], self.timezone or None)
            if "FirstEventATime" not in d or atime < d["FirstEventATime"]:
                d["FirstEventATime"] = atime
            if "LastEventATime" not in d or atime > d["LastEventATime"]:
                d["LastEventATime"] = atime
        except (KeyError, ValueError):
            pass
        try:
            d["TotalCost"] = d.get("TotalCost", 0.0) + as_float(fields["Cost"])
        except (KeyError, ValueError):
            pass
        tor = fields.get("ToR")
        key = {"*voice": "TotalDuration", "*data": "TotalDataUsage", "*sms": "TotalSMSUsage",
               "*mms": "TotalMMSUsage", "*generic": "TotalGenericUsage"}.get(as_string(tor or ""))
        if key:
            try:
                d[key] = d.get(key, 0) + as_duration(fields["Usage"])
            except (KeyError, ValueError):
                pass

    def as_reply(self) -> dict[str, Any]:
        return {k: sorted(v) if isinstance(v, set) else v for k, v in self.data.items()}


@dataclass(slots=True)
class _Item:
    payload: Any
    event: dict[str, Any]
    done: asyncio.Future[bool] | None


def fib_delays() -> Any:
    a, b = 1.0, 1.0
    while True:
        yield a
        a, b = b, a + b


class Exporter:
    """One configured exporter; a subclass says how a payload is made (:meth:`payload`) and sent (:meth:`send`)."""

    #: whether the target keeps a connection (made in :meth:`connect`, dropped in :meth:`disconnect`)
    connected_target = False

    def __init__(self, settings: ExporterSettings, service: Any) -> None:
        self.settings = settings
        self.service = service
        self.metrics = Metrics(settings.timezone)
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._flusher: asyncio.Task[Any] | None = None
        self._connected = False
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings.id!r})"

    # ---- what a subclass provides

    def payload(self, event: dict[str, Any], exp: NavMap | None) -> Any:
        """What is sent for one event (``exp``: the ``*exp`` its fields wrote, None without fields)."""
        return json_bytes(flat(exp) if exp is not None else event.get("Event") or {})

    async def connect(self) -> None:
        """Open the connection to the target."""

    async def disconnect(self) -> None:
        """Drop the connection (after a failure, or at close)."""

    async def send(self, payloads: Sequence[Any]) -> None:
        """Send a batch; raise when the target did not take it."""
        raise NotImplementedError

    async def close(self) -> None:
        """Flush what is queued, then let go of the target."""
        await self.drain()
        await self.disconnect()
        self._connected = False

    # ---- delivery

    def target(self) -> FailedTarget:
        s = self.settings
        return FailedTarget(s.type, s.export_path, s.opts, s.attempts, s.synchronous, s.id)

    async def export(self, payload: Any, event: dict[str, Any]) -> bool:
        """Queue one payload; a synchronous exporter waits for its batch and answers whether it went out."""
        self.metrics.event()
        done = asyncio.get_running_loop().create_future() if self.settings.synchronous else None
        self._queue.put_nowait(_Item(payload, event, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = self.service.tasks.spawn(self._flush(), name=f"exporter {self.settings.id}")
        return await done if done is not None else True

    async def drain(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            await asyncio.wait({self._flusher})

    async def _flush(self) -> None:
        while not self._queue.empty():
            items = [self._queue.get_nowait()]
            while len(items) < self.settings.batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            ok = await self.deliver([i.payload for i in items])
            for item in items:
                self.metrics.record(item.event, ok)
                if item.done is not None and not item.done.done():
                    item.done.set_result(ok)
            await asyncio.sleep(0)

    async def deliver(self, payloads: list[Any]) -> bool:
        """Send a batch with the configured attempts; into the failed posts when they all fail."""
        s = self.settings
        delays = fib_delays()
        error: BaseException | None = None
        for attempt in range(s.attempts):
            try:
                async with self._lock:
                    if self.connected_target and not self._connected:
                        await self.connect()
                        self._connected = True
                    if s.flags.get_bool("*log"):
                        for p in payloads:
                            log.info("<EEs> LOG, exporter <%s>, message: %s", s.id,
                                     p.decode(errors="replace") if isinstance(p, bytes) else json_bytes(p).decode())
                    await self.send(payloads)
                return True
            except Exception as exc:
                error = exc
                if self.connected_target:
                    self._connected = False
                    try:
                        await self.disconnect()
                    except Exception:
                        log.debug("<EEs> exporter <%s>: dropping the connection", s.id, exc_info=True)
                if attempt + 1 < s.attempts:
                    await asyncio.sleep(next(delays))
        path = self.service.failed.add(s.failed_posts_dir, self.target(), payloads)
        log.warning("<EEs> Exporter <%s> could not export %d event(s): %s; %s", s.id, len(payloads),
                    error or "unknown error", f"kept in {path}" if path else "dropped (failed_posts_dir *none)")
        return False


__all__ = ["ExportRequest", "Exporter", "Metrics", "flat", "json_bytes"]
