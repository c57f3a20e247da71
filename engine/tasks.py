"""Background tasks owned by a supervisor: every long-lived or fire-and-forget task of a service runs under one.

A service keeps one :class:`Supervisor` and starts its tasks through :meth:`Supervisor.spawn` (debit loops, TTL
timers, reconnect loops, replies sent after a write, broadcast calls). A task that fails is logged once, with its
name, by the supervisor; nobody has to await it. :meth:`Supervisor.stop` cancels whatever still runs and waits
for it to finish, so a service that stops leaves nothing behind; :meth:`Supervisor.drain` waits without
cancelling (a graceful shutdown answering what is in flight).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("cgr.tasks")


class SupervisorStopped(RuntimeError):
    """A task was offered to a supervisor that has stopped."""


class Supervisor:
    """The tasks of one owner (a service, an agent, a connection), failures logged once, stopped together."""

    __slots__ = ("_stopped", "_tasks", "failures", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False
        #: tasks that ended with an exception since start (they were logged)
        self.failures = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def __repr__(self) -> str:
        return f"Supervisor({self.name!r}, tasks={len(self._tasks)})"

    @property
    def stopped(self) -> bool:
        return self._stopped

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task[Any]:
        """Run ``coro`` in the background under this supervisor; ``name`` says what it is in the logs."""
        if self._stopped:
            coro.close()
            raise SupervisorStopped(f"{self.name}: stopped, cannot start {name or coro!r}")
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}" if name else None)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.failures += 1
            log.error("%s: background task %s failed: %s", self.name, task.get_name(), exc,
                      exc_info=(type(exc), exc, exc.__traceback__))

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait for the running tasks (and those they start) to end; False when ``timeout`` passed first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            _, pending = await asyncio.wait(set(self._tasks), timeout=left)
            if pending and deadline is not None and loop.time() >= deadline:
                return False
        return True

    async def stop(self) -> None:
        """Refuse new tasks, cancel the running ones and wait until they have finished."""
        self._stopped = True
        current = asyncio.current_task()
        while True:
            tasks = [t for t in self._tasks if t is not current]
            if not tasks:
                return
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["Supervisor", "SupervisorStopped"]
