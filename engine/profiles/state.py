"""The live state of the stateful profile services: resources (usages), stat queues (metrics), thresholds (hits).

A :class:`StateStore` keeps each item in memory once loaded (from the DataDB, or new from its profile), gives one
lock per item so a read-modify-write of an item is atomic, and writes changed items to the DataDB as the section's
``store_interval`` says (CGRateS's semantics):

- ``-1``: every change is written before the call that made it returns (it survives ``kill -9``);
- a period (``"1s"``, ``"5m"``): changed items are written together every period, and at stop;
- ``""`` or ``0``: written at stop only.

Only items whose profile says ``Stored`` are written (the caller tells :meth:`StateStore.changed`); the others
live in memory and start afresh after a restart, as in CGRateS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.units import SECOND, DurationError, parse_duration

log = logging.getLogger("cgr.profiles")

T = TypeVar("T")
EVERY_CHANGE = -1


def store_interval(value: Any, where: str) -> int:
    """``store_interval`` as nanoseconds: -1 (every change), 0 (at stop) or a period; ValueError names ``where``."""
    if value in (None, "", 0, "0"):
        return 0
    try:
        ns = parse_duration(value)
    except DurationError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if ns < 0 and ns != EVERY_CHANGE:
        # CGRateS treats every negative value as "on every change"; so do we
        return EVERY_CHANGE
    return ns


class StateStore(Generic[T]):
    """Live items of one kind (``tenant:id`` keys), loaded once, locked per item, written per ``store_interval``."""

    def __init__(self, dm: Any, kind: str, *, encode: Callable[[T], dict], decode: Callable[[dict], T],
                 interval: int, name: str) -> None:
        self.dm = dm
        self.kind = kind
        self.encode = encode
        self.decode = decode
        self.interval = interval
        self.name = name
        self._items: dict[str, T] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._dirty: set[str] = set()
        self._tasks = Supervisor(name)

    def start(self) -> None:
        if self.interval > 0:
            self._tasks.spawn(self._flush_every_interval(), "store")

    async def stop(self) -> None:
        """Write what changed and stop the periodic writer."""
        await self._tasks.stop()
        await self.flush()

    def lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def get(self, key: str, new: Callable[[], Awaitable[T | None]] | None = None) -> T | None:
        """The live item: in memory, else the stored one, else ``new()`` (None: there is none)."""
        item = self._items.get(key)
        if item is not None:
            return item
        raw = await self.dm.datadb.get(self.kind, key)  # the live copy is ours: no cache partition in between
        if raw is not None:
            item = self.decode(raw)
        elif new is not None:
            item = await new()
        if item is not None:
            self._items[key] = item
        return item

    def cached(self, key: str) -> T | None:
        return self._items.get(key)

    async def changed(self, key: str, stored: bool) -> None:
        """``key``'s item changed; written now when ``store_interval`` is -1 (before the caller answers)."""
        if not stored:
            return
        if self.interval == EVERY_CHANGE:
            item = self._items.get(key)
            if item is not None:
                await self.dm.set(self.kind, key, self.encode(item))
            return
        self._dirty.add(key)

    async def replace(self, key: str, item: T, stored: bool) -> None:
        """Put a new live item (a reset), written as any change."""
        self._items[key] = item
        await self.changed(key, stored)

    async def remove(self, key: str) -> None:
        """Forget an item and its stored copy (its profile was removed)."""
        self._items.pop(key, None)
        self._dirty.discard(key)
        await self.dm.remove(self.kind, key)

    def forget(self, key: str) -> None:
        """Drop the in-memory copy only (the next get reads the DataDB again)."""
        self._items.pop(key, None)

    async def flush(self) -> int:
        """Write every changed item in one batch; returns how many."""
        keys, self._dirty = sorted(self._dirty), set()
        ops = [("set", self.kind, k, self.encode(self._items[k])) for k in keys if k in self._items]
        if not ops:
            return 0
        try:
            await self.dm.write_batch(ops)
        except BaseException:
            self._dirty.update(keys)  # still to be written
            raise
        return len(ops)

    async def _flush_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.interval / SECOND)
            try:
                await self.flush()
            except Exception as exc:  # the next period tries again; the items stay dirty
                log.error("%s: storing changed items failed: %s", self.name, exc)


__all__ = ["EVERY_CHANGE", "StateStore", "store_interval"]
