"""CPU and memory profiles of the running engine (CoreSv1.Start/StopCPUProfiling, Start/StopMemoryProfiling).

CGRateS writes Go pprof files; this engine writes Python's: ``cpu.prof`` is a :mod:`cProfile` dump (read it with
``python -m pstats cpu.prof``), ``mem_<n>.prof`` and ``mem_final.prof`` are :mod:`tracemalloc` snapshots
(``tracemalloc.Snapshot.load(path)``). The file names, the arguments and the errors are CGRateS's.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import os
import tracemalloc
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pycgrates.engine.units import SECOND

log = logging.getLogger("cgr.core")

CPU_FILE = "cpu.prof"
MEM_FINAL_FILE = "mem_final.prof"
DEFAULT_MEM_INTERVAL = 15 * SECOND


class ProfilingError(Exception):
    """A profiling request that cannot be done now (already started, not started, unwritable path)."""


@dataclass(slots=True)
class MemoryProfiling:
    """CGRateS's MemoryProfilingParams: where, how often (ns), how many files to keep (0: all)."""

    dir_path: str
    interval_ns: int = DEFAULT_MEM_INTERVAL
    max_files: int = 0
    use_timestamp: bool = False


class Profiler:
    def __init__(self) -> None:
        self._cpu: cProfile.Profile | None = None
        self._cpu_path: Path | None = None
        self._mem_task: asyncio.Task | None = None
        self._mem_stop: asyncio.Event | None = None

    # ------------------------------------------------------------------------------------------ CPU

    def start_cpu(self, dir_path: str) -> None:
        if self._cpu is not None:
            raise ProfilingError("start CPU profiling: already started")
        path = Path(dir_path) / CPU_FILE
        try:
            path.touch()
        except OSError as exc:
            raise ProfilingError(f"could not create CPU profile: {exc}") from None
        profile = cProfile.Profile()
        try:
            profile.enable()
        except ValueError as exc:  # another profiler is active in this thread
            raise ProfilingError(f"could not start CPU profile: {exc}") from None
        self._cpu, self._cpu_path = profile, path

    def stop_cpu(self) -> str:
        """Stop and write the profile; its path."""
        if self._cpu is None or self._cpu_path is None:
            raise ProfilingError("stop CPU profiling: not started yet")
        profile, path = self._cpu, self._cpu_path
        self._cpu = self._cpu_path = None
        profile.disable()
        try:
            profile.dump_stats(path)
        except OSError as exc:
            raise ProfilingError(f"could not close profile file: {exc}") from None
        return str(path)

    # ------------------------------------------------------------------------------------------ memory

    def start_memory(self, params: MemoryProfiling) -> None:
        if self._mem_task is not None and not self._mem_task.done():
            raise ProfilingError("start memory profiling: already started")
        if not os.path.isdir(params.dir_path):
            raise ProfilingError(f"could not create memory profile: no directory {params.dir_path}")
        if params.interval_ns <= 0:
            params.interval_ns = DEFAULT_MEM_INTERVAL
        params.max_files = max(0, params.max_files)
        log.info("starting memory profiling loop, writing to directory %r", params.dir_path)
        self._mem_stop = asyncio.Event()
        self._mem_task = asyncio.get_running_loop().create_task(self._memory_loop(params, self._mem_stop),
                                                                name="memory-profiling")

    async def stop_memory(self) -> None:
        """Stop the loop; it writes ``mem_final.prof`` before it ends."""
        if self._mem_task is None:
            raise ProfilingError("stop memory profiling: not started yet")
        if self._mem_task.done() or self._mem_stop is None or self._mem_stop.is_set():
            raise ProfilingError("stop memory profiling: already stopped")
        log.info("stopping memory profiling loop")
        self._mem_stop.set()
        await asyncio.shield(self._mem_task)

    async def _memory_loop(self, params: MemoryProfiling, stop: asyncio.Event) -> None:
        started_here = not tracemalloc.is_tracing()
        if started_here:
            tracemalloc.start()
        kept: list[Path] = []
        n = 0
        try:
            while True:
                try:
                    await asyncio.wait_for(stop.wait(), params.interval_ns / SECOND)
                    break
                except TimeoutError:
                    pass
                n += 1
                path = Path(params.dir_path) / _mem_name(n, params)
                if not _write_snapshot(path):
                    return
                if params.max_files:
                    if len(kept) == params.max_files:
                        oldest = kept.pop(0)
                        log.info("removing old heap profile file %r", str(oldest))
                        oldest.unlink(missing_ok=True)
                    kept.append(path)
            _write_snapshot(Path(params.dir_path) / MEM_FINAL_FILE)
        finally:
            if started_here:
                tracemalloc.stop()

    async def close(self) -> None:
        """At engine stop: end what runs (the memory loop writes its final file)."""
        if self._cpu is not None:
            self.stop_cpu()
        if self._mem_task is not None and not self._mem_task.done():
            await self.stop_memory()


def _mem_name(n: int, params: MemoryProfiling) -> str:
    if not params.use_timestamp:
        return f"mem_{n}.prof"
    now = datetime.now()
    if params.interval_ns < SECOND:
        return f"mem_{now:%Y%m%d%H%M%S}_{now.microsecond}.prof"
    return f"mem_{now:%Y%m%d%H%M%S}.prof"


def _write_snapshot(path: Path) -> bool:
    log.info("writing heap profile to %r", str(path))
    try:
        tracemalloc.take_snapshot().dump(str(path))
    except OSError as exc:
        log.error("could not write memory profile: %s", exc)
        return False
    return True
