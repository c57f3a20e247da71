"""CoreSv1: the engine's own status, ping and sleep."""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import time
from typing import Any

from pycgrates.engine import VERSION_NAME
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


class CoreService:
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.started = now()
        self._t0 = time.monotonic()

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
