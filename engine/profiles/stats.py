"""StatS: live statistics over the events that match each stat queue profile (CGRateS v0.11 ``StatSv1``; the seed's
CDRStatS), and APIerSv1's stat queue profiles.

``StatSv1.ProcessEvent`` (a CGREvent with an ID) finds the matching profiles through the filter index (or the
``*stsProfileIDs`` option, older ``StatIDs``; ``*stsProfileIgnoreFilters``), heaviest first, stopping after a
Blocker; each one's queue takes the event under the queue's lock: expired events leave, the oldest leaves when the
queue is full, and every metric whose own filters pass counts the event (:mod:`.statqueue`, :mod:`.statmetrics`).
The reply is the queue IDs. Then each queue's values go to ThresholdS (``ThresholdSv1.ProcessEvent`` on
``stats.thresholds_conns``) as CGRateS sends them::

    {"Tenant", "ID": <uuid>, "Event": {"EventType": "StatUpdate", "StatID": <queue>, "<metric>": <value>, ...},
     "APIOpts": {<the event's options>, "*eventType": "StatUpdate", "*thdProfileIDs": <ThresholdIDs or null>}}

(none for a profile whose ThresholdIDs are ``*none``; durations in nanoseconds, -1 for N/A), and to EEs
(``EeSv1.ProcessEvent`` on ``stats.ees_conns``, the values under ``Metrics``, with ``stats.ees_exporter_ids``). A
failure there, other than NOT_FOUND, answers ``PARTIALLY_EXECUTED`` after the queues were updated.

Reading: ``GetQueueStringMetrics``/``GetQueueFloatMetrics``/``GetStatQueue`` (``{"Tenant", "ID"}``) first let the
expired events leave; ``GetStatQueuesForEvent`` matches without counting; ``GetQueueIDs`` (``{"Tenant"}``) lists the
tenant's queues, one per profile (CGRateS creates the queue with its profile), ``[]`` when none; ``ResetStatQueue``
empties one. A queue follows its profile (set through APIerSv1 or loaded from a tariff plan) the next time it is
used, as :meth:`.StatQueue.follow` describes. Queues of Stored profiles are written through the
:class:`~.state.StateStore` per ``stats.store_interval`` (-1: before the call that changed them answers).

Where this differs from CGRateS, on purpose: an event whose field a metric cannot read (no Usage for ``*acd``) is
left out of that metric only (CGRateS stops at that metric, the others then depending on Go's map order); sums of
money-like values are Decimals; ``*average`` takes back negative values and ``*highest`` of negative values is
their highest (CGRateS's keep 0); the queue is not compressed on write (``store_uncompressed_limit``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pycgrates.engine.profiles.base import check_event_args
from pycgrates.engine.profiles.crud import CrudSpec, maps_errors, tenant_id_args
from pycgrates.engine.profiles.stateful import StatefulService
from pycgrates.engine.profiles.statmetrics import MetricError
from pycgrates.engine.profiles.statqueue import StatQueue, StatQueueProfile, decode_statqueue_profile
from pycgrates.engine.rpc.errors import not_found
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import STATQUEUE, STATQUEUE_PROFILE
from pycgrates.engine.template.dataprovider import REQ, DataProvider, MapDataProvider
from pycgrates.engine.units import now as utc_now

log = logging.getLogger("cgr.stats")

STAT_UPDATE = "StatUpdate"


class StatService(StatefulService[StatQueueProfile]):
    """StatSv1 over the engine's DataManager, FilterS and the ThresholdS/EEs connections, and APIerSv1's stat queue
    profiles."""

    crud = CrudSpec("StatQueueProfile", STATQUEUE_PROFILE, console="stats_profile")
    index = "*statqueue_filter_indexes"
    profile_ids_opts = ("*stsProfileIDs", "StatIDs")
    ignore_filters_opts = ("*stsProfileIgnoreFilters",)
    rpc_service = "StatSv1"
    update_event = STAT_UPDATE
    item_field = "StatID"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx, kind=STATQUEUE, encode=StatQueue.to_stored, decode=StatQueue.from_stored)
        self.clock: Callable[[], datetime] = utc_now

    def decode(self, raw: dict) -> StatQueueProfile:
        return decode_statqueue_profile(raw)

    @property
    def decimals(self) -> int:
        return int(self.option("general", "rounding_decimals", 5))

    @property
    def timezone(self) -> str:
        return self.option("general", "default_timezone", "UTC") or "UTC"

    # ------------------------------------------------------------------------------------------ queues

    async def _live(self, prf: StatQueueProfile) -> StatQueue:
        """The profile's queue, brought in line with the profile (call under the queue's lock)."""
        key = f"{prf.tenant}:{prf.id}"

        async def new() -> StatQueue:
            return StatQueue.new(prf)

        queue = await self.state.get(key, new)
        assert queue is not None
        was_stored = queue.shape.stored
        if queue.follow(prf):
            if was_stored and not prf.stored:
                await self.state.remove(key)  # its stored copy must not come back after a restart
                await self.state.replace(key, queue, False)
            else:
                await self.state.changed(key, prf.stored)
        return queue

    async def follow_profile(self, key: str, old: StatQueueProfile | None, new: StatQueueProfile) -> None:
        """A profile written (APIerSv1 or a tariff-plan load): its queue is created, or follows it, at once (as
        CGRateS's SetStatQueueProfile does)."""
        await self._live(new)

    async def _read_queue(self, args: Any) -> StatQueue:
        """The queue of ``{"Tenant", "ID"}`` with its expired events gone, NOT_FOUND without its profile (call under
        the queue's lock: :meth:`_locked_read`)."""
        tenant = self.tenant_of(args)
        prf = await self.get_profile(tenant, str(args["ID"]).strip())
        if prf is None:
            raise not_found()
        queue = await self._live(prf)
        if queue.remove_expired(self.clock()):
            await self.state.changed(f"{tenant}:{prf.id}", prf.stored)
        return queue

    async def _locked_read(self, args: Any, read: Callable[[StatQueue], Any]) -> Any:
        args, queue_id = tenant_id_args(args)
        async with self.state.lock(f"{self.tenant_of(args)}:{queue_id}"):
            return read(await self._read_queue(args))

    async def _metric_values(self, tenant: str, queue: StatQueue, filter_dp: DataProvider,
                             event_dp: DataProvider) -> dict[str, Any]:
        """What the event gives each metric of the queue that takes it."""
        values = {}
        for mid, metric in queue.metrics.items():
            if not await self.filters.pass_filters(tenant, metric.filter_ids, filter_dp):
                continue
            try:
                values[mid] = metric.read(event_dp, self.timezone)
            except MetricError as exc:
                log.warning("stat queue %s:%s, metric %s: event left out: %s", tenant, queue.id, mid, exc)
        return values

    # ------------------------------------------------------------------------------------------ processing

    async def process_event(self, args: dict) -> tuple[list[str], bool]:
        """Count an event in every matching queue: the queue IDs, and whether ThresholdS and EEs (when connected)
        heard of the new values without an error."""
        tenant = self.tenant_of(args)
        profiles = await self.matching_for_event(args)
        filter_dp = self.event_dp(args)
        event_dp = MapDataProvider({REQ: args.get("Event") or {}})  # metrics read the request alone, as CGRateS
        ev_id = str(args["ID"])
        updated: list[tuple[StatQueueProfile, dict[str, Any]]] = []
        for prf in profiles:
            key = f"{prf.tenant}:{prf.id}"
            async with self.state.lock(key):
                queue = await self._live(prf)
                values = await self._metric_values(tenant, queue, filter_dp, event_dp)
                queue.add_event(ev_id, values, self.clock())
                await self.state.changed(key, prf.stored)
                updated.append((prf, queue.event_metrics(self.decimals)))
        notified = await self.notify_thresholds(updated, args.get("APIOpts") or {})
        exported = await self._export(updated, args.get("APIOpts") or {})
        return [prf.id for prf in profiles], notified and exported

    async def _export(self, updated: list[tuple[StatQueueProfile, dict]], opts: dict) -> bool:
        """EeSv1.ProcessEvent per updated queue, its values under ``Metrics``; False when any call failed."""
        conn_ids = self.option("stats", "ees_conns", []) or []
        if not conn_ids:
            return True
        conn = self.ctx.conns.get(conn_ids)
        exporter_ids = self.option("stats", "ees_exporter_ids", []) or []
        ok = True
        for prf, values in updated:
            event = {"Tenant": prf.tenant, "ID": str(uuid.uuid4()), "Time": self.clock(),
                     "Event": {"EventType": STAT_UPDATE, "StatID": prf.id, "Metrics": values},
                     "APIOpts": dict(opts), "EeIDs": list(exporter_ids)}
            ok = await self.send(conn, "EeSv1.ProcessEvent", event, prf) and ok
        return ok

    # ------------------------------------------------------------------------------------------ RPC

    @rpc("StatSv1.GetStatQueuesForEvent")
    @maps_errors
    async def get_stat_queues_for_event(self, args: Any) -> list[str]:
        return [prf.id for prf in await self.matching_for_event(check_event_args(args))]

    @rpc("StatSv1.GetStatQueue")
    @maps_errors
    async def get_stat_queue(self, args: Any) -> dict:
        return await self._locked_read(args, StatQueue.to_json)

    @rpc("StatSv1.GetQueueStringMetrics")
    @maps_errors
    async def get_queue_string_metrics(self, args: Any) -> dict[str, str]:
        return await self._locked_read(args, lambda q: q.string_metrics(self.decimals))

    @rpc("StatSv1.GetQueueFloatMetrics")
    @maps_errors
    async def get_queue_float_metrics(self, args: Any) -> dict[str, float]:
        return await self._locked_read(args, lambda q: q.float_metrics(self.decimals))

    @rpc("StatSv1.GetQueueIDs")
    @maps_errors
    async def get_queue_ids(self, args: Any) -> list[str]:
        tenant = self.tenant_of(args if isinstance(args, dict) else {"Tenant": args})
        prefix = f"{tenant}:"
        return sorted(key[len(prefix):] for key in await self.dm.keys(STATQUEUE_PROFILE, prefix))

    @rpc("StatSv1.ResetStatQueue")
    @maps_errors
    async def reset_stat_queue(self, args: Any) -> str:
        args, queue_id = tenant_id_args(args)
        tenant = self.tenant_of(args)
        async with self.state.lock(f"{tenant}:{queue_id}"):
            prf = await self.get_profile(tenant, queue_id)
            if prf is None:
                raise not_found()
            queue = await self._live(prf)
            queue.reset()
            await self.state.changed(f"{tenant}:{queue_id}", prf.stored)
        return "OK"


#: cgr-console commands (CGRateS's names)
CONSOLE_COMMANDS: dict[str, tuple[str, str]] = {
    **StatService.crud.console_commands(),
    "stats_process_event": ("StatSv1.ProcessEvent",
                            'count an event in the matching queues: ID="ev1" Event={"Account":"1001","Usage":"1m"}'),
    "stats_for_event": ("StatSv1.GetStatQueuesForEvent", 'queues an event matches: ID="ev1" Event={...}'),
    "stats_metrics": ("StatSv1.GetQueueStringMetrics", 'metrics of a queue: Tenant="cgrates.org" ID="..."'),
    "stats_reset_queue": ("StatSv1.ResetStatQueue", 'empty a queue: Tenant="cgrates.org" ID="..."'),
}
