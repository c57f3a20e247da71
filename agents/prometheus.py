"""PrometheusAgent (``prometheus_agent``): CGRateS's Prometheus endpoint, on the engine's HTTP listener at ``path``.

Not a protocol agent in front of SessionS: it answers Prometheus's scrapes, asking at each scrape, as CGRateS's
agents/prometheus.go does, every connection of

- ``stats_conns`` for the metrics of ``stat_queue_ids`` (``[tenant:]ID``; empty: every queue profile that
  ``APIerSv1.GetStatQueueProfileIDs`` on the ``apiers_conns`` connection at the same position lists), with
  ``StatSv1.GetQueueFloatMetrics``: ``cgrates_stats_metrics{tenant,queue,metric}``, N/A (-1) as CGRateS reports it;
- ``caches_conns`` for ``CacheSv1.GetCacheStats`` of ``cache_ids`` (empty: all): ``cgrates_cache_items_total`` and
  ``cgrates_cache_groups_total{cache,node_id}``;
- ``cores_conns`` for ``CoreSv1.Status``: ``cgrates_core_info{node_id,version,runtime}``, uptime, memory and the
  running tasks (goroutines in Go) of each node.

``collect_process_metrics`` adds this process's standard ``process_*`` figures and ``collect_go_metrics`` its
runtime's (Python here: ``python_info`` and the garbage collector's ``python_gc_*``), named as Prometheus's client
libraries name them. A connection that fails is logged and left out of that scrape; the others still answer.

The engine's own figures (RPC and agent requests, latencies, active sessions, debit lag, storage writes,
duplicates, and this engine's stat queues) are on the listener's ``/metrics`` (:mod:`pycgrates.engine.metrics`),
which ``path`` therefore may not take.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import platform
import resource
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from pycgrates.engine.config import Config, ConfigError
from pycgrates.engine.metrics import SCRAPE_TIMEOUT, STAT_METRICS_HELP, family, stat_queue_samples
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.units import SECOND, parse_duration

log = logging.getLogger("cgr.prometheus")

SECTION = "prometheus_agent"
AGENT = "PrometheusAgent"
#: the listener's own metrics path (engine.rpc.http)
ENGINE_METRICS_PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_SIZE_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def parse_size(text: Any) -> float | None:
    """``49.08MiB`` (CoreSv1.Status's MemoryUsage) in bytes; None when it is not such a size."""
    text = str(text or "")
    for unit in sorted(_SIZE_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            try:
                return float(text[: -len(unit)]) * _SIZE_UNITS[unit]
            except ValueError:
                return None
    return None


def queue_ref(ref: str, default_tenant: str) -> tuple[str, str]:
    """``cgrates.org:SQ_1`` or ``SQ_1`` (the default tenant) as (tenant, ID)."""
    tenant, sep, queue_id = ref.partition(":")
    return (tenant or default_tenant, queue_id) if sep else (default_tenant, ref)


class PrometheusAgent:
    name = AGENT

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._configure(ctx.cfg)
        #: fixed at start: the listeners' routes are built once
        self.path: str = self._path

    def _configure(self, cfg: Config) -> None:
        sec = cfg.section(SECTION) or {}
        path = str(sec.get("path") or "")
        if not path.startswith("/"):
            raise ConfigError(f'{SECTION}.path: {path!r} is not an HTTP path; write one such as "/prometheus"')
        if path.rstrip("/") == ENGINE_METRICS_PATH:
            raise ConfigError(f"{SECTION}.path: {ENGINE_METRICS_PATH} is the engine's own metrics endpoint (with "
                              "this engine's cgrates_stats_metrics already); choose another, such as \"/prometheus\"")
        self._path = path
        self.stats_conns: list[str] = list(sec.get("stats_conns") or [])
        self.apiers_conns: list[str] = list(sec.get("apiers_conns") or [])
        self.stat_queue_ids: list[str] = [str(i) for i in sec.get("stat_queue_ids") or []]
        if self.stats_conns and not self.stat_queue_ids and len(self.apiers_conns) != len(self.stats_conns):
            raise ConfigError(f"{SECTION}.apiers_conns: with stat_queue_ids empty, each of stats_conns needs the "
                              "APIerS listing its queues at the same position; list as many apiers_conns as "
                              "stats_conns, or name the queues in stat_queue_ids")
        self.caches_conns: list[str] = list(sec.get("caches_conns") or [])
        self.cache_ids: list[str] = [str(i) for i in sec.get("cache_ids") or []]
        self.cores_conns: list[str] = list(sec.get("cores_conns") or [])
        self.process_metrics = bool(sec.get("collect_process_metrics"))
        self.runtime_metrics = bool(sec.get("collect_go_metrics"))
        self.default_tenant = cfg.get("general", "default_tenant", default="cgrates.org") or "cgrates.org"
        for conn_id in {*self.stats_conns, *self.apiers_conns, *self.caches_conns, *self.cores_conns}:
            self.ctx.conns.get([conn_id])  # an undefined connection is refused here, at start

    async def reload(self, cfg: Config) -> None:
        self._configure(cfg)
        if self._path != self.path:
            log.warning("<%s> path %s takes effect at the next start; still serving %s", AGENT, self._path, self.path)

    def http_routes(self, http_cfg: dict) -> list[tuple[str, str, Any]]:
        return [("GET", self.path, self._serve)]

    async def _serve(self, request: web.Request) -> web.Response:
        return web.Response(body=(await self.exposition()).encode(), headers={"Content-Type": CONTENT_TYPE})

    # ------------------------------------------------------------------------------------------ the scrape

    async def exposition(self) -> str:
        """The figures of every configured connection, read now."""
        stats, items, groups, core = [], [], [], []
        for i, conn_id in enumerate(self.stats_conns):
            stats += await self._from(conn_id, self._stat_samples(conn_id, i))
        for conn_id in self.caches_conns:
            for cache_items, cache_groups in await self._from(conn_id, self._cache_samples(conn_id)):
                items.append(cache_items)
                groups.append(cache_groups)
        for conn_id in self.cores_conns:
            core.append(await self._from(conn_id, self._core_status(conn_id)))
        lines = family("cgrates_stats_metrics", STAT_METRICS_HELP, "gauge", stats)
        if self.caches_conns:
            lines += family("cgrates_cache_groups_total", "Total number of cache groups", "gauge", groups)
            lines += family("cgrates_cache_items_total", "Total number of cache items", "gauge", items)
        if self.cores_conns:
            lines += _core_families([status for status in core if status])
        if self.process_metrics:
            lines += process_families()
        if self.runtime_metrics:
            lines += runtime_families()
        return "\n".join(lines) + "\n"

    async def _from(self, conn_id: str, work: Any) -> Any:
        """``work``'s result, or nothing (logged) when that connection fails or is too slow."""
        try:
            return await asyncio.wait_for(work, SCRAPE_TIMEOUT)
        except (RPCError, OSError, TimeoutError, ValueError, TypeError) as exc:
            log.warning("<%s> connection %s left out of this scrape: %s", AGENT, conn_id, exc)
            return []

    async def _stat_samples(self, conn_id: str, index: int) -> list:
        queues = [queue_ref(ref, self.default_tenant) for ref in self.stat_queue_ids]
        if not queues:
            apier = self.ctx.conns.get([self.apiers_conns[index]])
            try:
                ids = await apier.call("APIerSv1.GetStatQueueProfileIDs", {"Tenant": self.default_tenant}) or []
            except RPCError as exc:
                if exc.message != NOT_FOUND:
                    raise
                ids = []
            queues = [(self.default_tenant, queue_id) for queue_id in ids]
        return await stat_queue_samples(self.ctx.conns.get([conn_id]), queues)

    async def _cache_samples(self, conn_id: str) -> list[tuple]:
        conn = self.ctx.conns.get([conn_id])
        node_id = str((await conn.call("CoreSv1.Status", {}) or {}).get("NodeID") or "")
        reply = await conn.call("CacheSv1.GetCacheStats", {"CacheIDs": self.cache_ids or None}) or {}
        out = []
        for cache_id in sorted(reply):
            stats = reply[cache_id]
            if stats:
                labels = {"cache": cache_id, "node_id": node_id}
                out.append(((labels, int(stats.get("Items") or 0)), (labels, int(stats.get("Groups") or 0))))
        return out

    async def _core_status(self, conn_id: str) -> dict:
        return await self.ctx.conns.get([conn_id]).call("CoreSv1.Status", {}) or {}


def _core_families(statuses: Sequence[dict]) -> list[str]:
    info, uptime, memory, tasks = [], [], [], []
    for status in statuses:
        node = {"node_id": str(status.get("NodeID") or "")}
        info.append(({**node, "version": str(status.get("Version") or ""),
                      "runtime": str(status.get("GoVersion") or "")}, 1))
        if status.get("Uptime"):
            uptime.append((node, parse_duration(status["Uptime"]) / SECOND))
        size = parse_size(status.get("MemoryUsage"))
        if size is not None:
            memory.append((node, size))
        if isinstance(status.get("ActiveGoroutines"), int | float):
            tasks.append((node, status["ActiveGoroutines"]))
    return [
        *family("cgrates_core_info", "The node's version and runtime (CoreSv1.Status)", "gauge", info),
        *family("cgrates_core_uptime_seconds", "Time since the node started", "gauge", uptime),
        *family("cgrates_core_memory_bytes", "Memory the node uses, as CoreSv1.Status reports it", "gauge", memory),
        *family("cgrates_core_active_tasks", "Tasks the node runs now (goroutines in Go, asyncio tasks here)", "gauge",
                tasks),
    ]


def process_families() -> list[str]:
    """This process's standard figures, as Prometheus's client libraries name them (Linux /proc)."""
    times = os.times()
    page = os.sysconf("SC_PAGE_SIZE")
    lines = family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter",
                   [({}, times.user + times.system)])
    try:
        with open("/proc/self/statm") as f:
            vsize, rss = (int(v) for v in f.read().split()[:2])
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rpartition(")")[2].split()[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        open_fds = len(os.listdir("/proc/self/fd"))
    except (OSError, ValueError, StopIteration):
        return lines
    lines += family("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", [({}, vsize * page)])
    lines += family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", [({}, rss * page)])
    lines += family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge",
                    [({}, boot + start_ticks / os.sysconf("SC_CLK_TCK"))])
    lines += family("process_open_fds", "Number of open file descriptors.", "gauge", [({}, open_fds)])
    lines += family("process_max_fds", "Maximum number of open file descriptors.", "gauge",
                    [({}, resource.getrlimit(resource.RLIMIT_NOFILE)[0])])
    return lines


def runtime_families() -> list[str]:
    """The Python runtime's figures, as Prometheus's Python client names them."""
    major, minor, patch = platform.python_version_tuple()
    info = {"implementation": platform.python_implementation(), "major": major, "minor": minor,
            "patchlevel": patch, "version": platform.python_version()}
    stats = gc.get_stats()
    per_gen = [(str(i), s) for i, s in enumerate(stats)]
    return [
        *family("python_info", "Python platform information", "gauge", [(info, 1)]),
        *family("python_gc_objects_collected_total", "Objects collected during gc", "counter",
                [({"generation": g}, s["collected"]) for g, s in per_gen]),
        *family("python_gc_objects_uncollectable_total", "Uncollectable objects found during GC", "counter",
                [({"generation": g}, s["uncollectable"]) for g, s in per_gen]),
        *family("python_gc_collections_total", "Number of times this generation was collected", "counter",
                [({"generation": g}, s["collections"]) for g, s in per_gen]),
    ]


__all__ = ["AGENT", "SECTION", "PrometheusAgent", "parse_size", "process_families", "queue_ref", "runtime_families"]
