"""CoreSv1: the engine's own status, ping and sleep."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import resource
import time
from typing import Any

from pycgrates.engine import VERSION_NAME
from pycgrates.engine.profiling import MemoryProfiling, Profiler, ProfilingError
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.units import SECOND, format_duration, format_time, now, parse_duration


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.2f}{unit}"
        n /= 1024
    return f"{n:.2f}GiB"


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


log = logging.getLogger("cgr.core")


def _dir_path(args: Any) -> str:
    path = args.get("DirPath") if isinstance(args, dict) else None
    if not path:
        raise mandatory_ie_missing("DirPath")
    return str(path)


class CoreService:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.started = now()
        self._t0 = time.monotonic()
        self.profiler = Profiler()

    async def stop(self) -> None:
        await self.profiler.close()

    @rpc("CoreSv1.Status")
    async def status(self, args: Any) -> dict:
        rss = _rss_bytes()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return {
            "NodeID": self.node_id,
            "Version": VERSION_NAME,
            "RunningSince": format_time(self.started),
            "Uptime": format_duration(int((time.monotonic() - self._t0) * SECOND)),
            "ActiveGoroutines": len(asyncio.all_tasks()),
            "MemoryUsage": _size(rss),
            "Footprint": _size(peak),
            "GoVersion": f"Python {platform.python_version()}",
            "PID": os.getpid(),
        }

    @rpc("CoreSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    @rpc("CoreSv1.Sleep")
    async def sleep(self, args: Any) -> str:
        d = parse_duration((args or {}).get("Duration", 0) if isinstance(args, dict) else args)
        await asyncio.sleep(max(0, d) / SECOND)
        return "OK"

    @rpc("CoreSv1.StartCPUProfiling")
    async def start_cpu_profiling(self, args: Any) -> str:
        """``{"DirPath"}``: profile the engine into ``<DirPath>/cpu.prof`` (a cProfile dump) until stopped."""
        try:
            self.profiler.start_cpu(_dir_path(args))
        except ProfilingError as exc:
            raise RPCError(str(exc)) from None
        return "OK"

    @rpc("CoreSv1.StopCPUProfiling")
    async def stop_cpu_profiling(self, args: Any) -> str:
        try:
            self.profiler.stop_cpu()
        except ProfilingError as exc:
            raise RPCError(str(exc)) from None
        return "OK"

    @rpc("CoreSv1.StartMemoryProfiling")
    async def start_memory_profiling(self, args: Any) -> str:
        """``{"DirPath", "Interval", "MaxFiles", "UseTimestamp"}``: a tracemalloc snapshot every Interval
        (default 15s) as ``mem_<n>.prof``, keeping the last MaxFiles (0: all), and ``mem_final.prof`` at stop."""
        path = _dir_path(args)
        params = MemoryProfiling(path, parse_duration(args.get("Interval") or 0), int(args.get("MaxFiles") or 0),
                                 bool(args.get("UseTimestamp")))
        try:
            self.profiler.start_memory(params)
        except ProfilingError as exc:
            raise RPCError(str(exc)) from None
        return "OK"

    @rpc("CoreSv1.StopMemoryProfiling")
    async def stop_memory_profiling(self, args: Any) -> str:
        try:
            await self.profiler.stop_memory()
        except ProfilingError as exc:
            raise RPCError(str(exc)) from None
        return "OK"

    @rpc("CoreSv1.Panic")
    async def panic(self, args: Any) -> str:
        """``{"Message"}``: end the process at once with the message, as CGRateS's panic does (no reply)."""
        message = args.get("Message") if isinstance(args, dict) else ""
        log.critical("panic: %s", message)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(2)
