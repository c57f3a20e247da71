"""DataManager: the DataDB behind the cache, the one way services read and write runtime data.

Reads go through the cache partition of the object's kind (:data:`KIND_PARTITIONS`); what is cached is the
*decoded* object when a decoder is given (services cache compiled objects, not dicts), and misses are cached too
(as None), so a lookup that finds nothing does not reach the DataDB again. Every write goes to the DataDB first and
then drops the cache entry of each key it touched. Accounts and other kinds absent from the mapping are never
cached: they change with every debit and are always read from the DataDB.

A kind has one cached form: register its decoder (:meth:`DataManager.register_decoder`) before precaching, so
precached entries are what ``get`` would have cached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pycgrates.engine.storage import base as k
from pycgrates.engine.storage import cache as c
from pycgrates.engine.storage.base import BatchOp, DataDB, Expectations
from pycgrates.engine.storage.cache import Cache, Partition

log = logging.getLogger("cgr.storage")

Decoder = Callable[[Any], Any]

#: DataDB kind → cache partition. Kinds not listed (accounts, load history, scheduler state, versions) are not
#: cached. Filter indexes (``fii``) are listed separately: their partition follows the indexed item's kind.
KIND_PARTITIONS: dict[str, str] = {
    k.DESTINATION: c.DESTINATIONS,
    k.REVERSE_DESTINATION: c.REVERSE_DESTINATIONS,
    k.TIMING: c.TIMINGS,
    k.RATING_PLAN: c.RATING_PLANS,
    k.RATING_PROFILE: c.RATING_PROFILES,
    k.ACTIONS: c.ACTIONS,
    k.ACTION_PLAN: c.ACTION_PLANS,
    k.ACCOUNT_ACTION_PLANS: c.ACCOUNT_ACTION_PLANS,
    k.ACTION_TRIGGERS: c.ACTION_TRIGGERS,
    k.SHARED_GROUP: c.SHARED_GROUPS,
    k.FILTER: c.FILTERS,
    k.ATTRIBUTE_PROFILE: c.ATTRIBUTE_PROFILES,
    k.CHARGER_PROFILE: c.CHARGER_PROFILES,
    k.RESOURCE_PROFILE: c.RESOURCE_PROFILES,
    k.RESOURCE: c.RESOURCES,
    k.STATQUEUE_PROFILE: c.STATQUEUE_PROFILES,
    k.STATQUEUE: c.STATQUEUES,
    k.THRESHOLD_PROFILE: c.THRESHOLD_PROFILES,
    k.THRESHOLD: c.THRESHOLDS,
    k.ROUTE_PROFILE: c.ROUTE_PROFILES,
    k.DISPATCHER_PROFILE: c.DISPATCHER_PROFILES,
    k.DISPATCHER_HOST: c.DISPATCHER_HOSTS,
}

#: Filter-index keys are ``<indexed kind>:<tenant>:<context>:...``; the first part picks the partition, and the
#: rest is the item's ID in that partition (``cgrates.org:*string:*req.Account:1001``, as CGRateS names it).
INDEX_PARTITIONS: dict[str, str] = {
    k.ATTRIBUTE_PROFILE: c.ATTRIBUTE_FILTER_INDEXES,
    k.CHARGER_PROFILE: c.CHARGER_FILTER_INDEXES,
    k.RESOURCE_PROFILE: c.RESOURCE_FILTER_INDEXES,
    k.STATQUEUE_PROFILE: c.STATQUEUE_FILTER_INDEXES,
    k.THRESHOLD_PROFILE: c.THRESHOLD_FILTER_INDEXES,
    k.ROUTE_PROFILE: c.ROUTE_FILTER_INDEXES,
    k.DISPATCHER_PROFILE: c.DISPATCHER_FILTER_INDEXES,
    k.FILTER: c.REVERSE_FILTER_INDEXES,
}

#: Cache partition → DataDB kind (for reloads by partition name).
PARTITION_KINDS: dict[str, str] = {p: kind for kind, p in KIND_PARTITIONS.items()}
PARTITION_KINDS.update(dict.fromkeys(INDEX_PARTITIONS.values(), k.FILTER_INDEX))
_INDEX_PREFIX = {p: kind + ":" for kind, p in INDEX_PARTITIONS.items()}

_MISSING = object()


class DataManager:
    def __init__(self, datadb: DataDB, cache: Cache) -> None:
        self.datadb = datadb
        self.cache = cache
        self._decoders: dict[str, Decoder] = {}
        # kind → the partition's item dict when a hit needs no bookkeeping: the hot path is one look-up there.
        self._plain: dict[str, dict[str, Any]] = {}
        self._partitions: dict[str, Partition] = {}
        for kind, name in KIND_PARTITIONS.items():
            part = cache.partition(name)
            if not part.enabled:
                continue
            self._partitions[kind] = part
            items = part.plain_items()
            if items is not None:
                self._plain[kind] = items
        # Bumped by every write and invalidation: a read that raced with one does not fill the cache.
        self._generation = 0

    def register_decoder(self, kind: str, decode: Decoder) -> None:
        """The decoder ``get`` uses for ``kind`` when the caller passes none (and precache/reload always use)."""
        self._decoders[kind] = decode

    def slot(self, kind: str, key: str) -> tuple[Partition | None, str]:
        """Where (kind, key) is cached: its partition (None when not cached) and its ID there."""
        part = self._partitions.get(kind)
        if part is not None or kind != k.FILTER_INDEX:
            return part, key
        item_kind, _, item_id = key.partition(":")
        name = INDEX_PARTITIONS.get(item_kind)
        if name is None:
            return None, key
        part = self.cache.partition(name)
        return (part if part.enabled else None), item_id

    def datadb_key(self, partition: str, item_id: str) -> tuple[str, str] | None:
        """The DataDB (kind, key) behind a cached item, or None for partitions not backed by the DataDB."""
        kind = PARTITION_KINDS.get(partition)
        if kind is None:
            return None
        return kind, _INDEX_PREFIX.get(partition, "") + item_id

    # ------------------------------------------------------------------------------------------ reads

    async def get(self, kind: str, key: str, decode: Decoder | None = None) -> Any:
        """The (decoded) object, or None; served from the cache when there."""
        items = self._plain.get(kind)
        if items is not None:
            value = items.get(key, _MISSING)
            if value is not _MISSING:
                return value
        return await self._load(kind, key, decode)

    async def _load(self, kind: str, key: str, decode: Decoder | None) -> Any:
        part, item_id = self.slot(kind, key)
        if part is not None:
            value = part.get(item_id, _MISSING)
            if value is not _MISSING:
                return value
        generation = self._generation
        raw = await self.datadb.get(kind, key)
        decode = decode or self._decoders.get(kind)
        value = raw if raw is None or decode is None else decode(raw)
        if part is not None and generation == self._generation:
            part.set(item_id, value)
        return value

    async def keys(self, kind: str, prefix: str = "") -> list[str]:
        return await self.datadb.keys(kind, prefix)

    async def get_versioned(self, kind: str, key: str) -> tuple[Any | None, Any]:
        """The stored (raw) value and its version, from the DataDB itself (never the cache): a read-modify-write
        that must not lose another engine's update reads here and writes with ``write_batch(..., expect=...)``."""
        return await self.datadb.get_versioned(kind, key)

    # ------------------------------------------------------------------------------------------ writes

    def invalidate(self, kind: str, key: str) -> None:
        """Drop the cached entry of (kind, key)."""
        self._generation += 1
        part, item_id = self.slot(kind, key)
        if part is not None:
            part.remove(item_id)

    async def set(self, kind: str, key: str, value: Any) -> None:
        await self.datadb.set(kind, key, value)
        self.invalidate(kind, key)

    async def remove(self, kind: str, key: str) -> bool:
        removed = await self.datadb.remove(kind, key)
        self.invalidate(kind, key)
        return removed

    async def write_batch(self, ops: Iterable[BatchOp], *, expect: Expectations | None = None) -> None:
        """Write ``ops`` as one atomic step (only if the ``expect``ed versions still hold: else WriteConflict)."""
        ops = list(ops)
        await self.datadb.write_batch(ops, expect=expect)
        for _, kind, key, _ in ops:
            self.invalidate(kind, key)

    # ------------------------------------------------------------------------------------------ cache control

    async def precache(self, kinds: Iterable[str] | None = None) -> int:
        """Load whole kinds into the cache: the given ones, or those whose partition has ``precache: true``.

        Returns the number of objects cached.
        """
        if kinds is None:
            kinds = [kind for kind, part in self._partitions.items() if part.config.precache]
            if any(self.cache.partition(name).config.precache for name in INDEX_PARTITIONS.values()):
                kinds.append(k.FILTER_INDEX)
        count = 0
        for kind in kinds:
            if kind in self._partitions or kind == k.FILTER_INDEX:
                count += await self._cache_keys(kind, await self.datadb.keys(kind))
        return count

    async def _cache_keys(self, kind: str, keys: Iterable[str]) -> int:
        generation = self._generation
        found = await self.datadb.get_many(kind, keys)
        if generation != self._generation:  # a write raced with the load: leave those to lazy reads
            return 0
        decode = self._decoders.get(kind)
        count = 0
        for key, raw in found.items():
            part, item_id = self.slot(kind, key)
            if part is not None:
                part.set(item_id, raw if decode is None else decode(raw))
                count += 1
        return count

    async def reload_cache(self, args: Mapping[str, Iterable[str] | None]) -> None:
        """Reload partitions: ``{partition: [ids]}`` re-reads those IDs; ``{partition: None}`` the whole partition
        (emptied, then refilled from the DataDB when the partition is precached, else lazily)."""
        for name, ids in args.items():
            part = self.cache.partition(name)
            kind = PARTITION_KINDS.get(name)
            self._generation += 1
            if ids is None:
                part.clear()
                if kind is not None and part.config.precache:
                    await self._cache_keys(kind, await self.datadb.keys(kind, _INDEX_PREFIX.get(name, "")))
                continue
            ids = list(ids)
            for item_id in ids:
                part.remove(item_id)
            if kind is not None and part.enabled:
                prefix = _INDEX_PREFIX.get(name, "")
                await self._cache_keys(kind, [prefix + item_id for item_id in ids])

    async def precache_all(self) -> int:
        """Precache every partition configured with ``precache: true`` (at start-up)."""
        return await self.precache()

    def uncache(self, partition: str, ids: Iterable[str]) -> None:
        """Drop items from a cache partition (the DataDB keeps them; the next read loads them again)."""
        self._generation += 1
        part = self.cache.partition(partition)
        for item_id in ids:
            part.remove(item_id)

    def decode_cached(self, partition: str, raw: Any) -> Any:
        """A partition's item from its JSON form, decoded as a read from the DataDB decodes it."""
        kind = PARTITION_KINDS.get(partition)
        decode = self._decoders.get(kind) if kind is not None else None
        return raw if raw is None or decode is None else decode(raw)

    def cache_item(self, partition: str, item_id: str, value: Any) -> None:
        """Put an item into a cache partition as it is (a replica of another engine's cache)."""
        self._generation += 1
        self.cache.partition(partition).set(item_id, value)

    def clear(self, partitions: Iterable[str] | None = None) -> None:
        """Empty cache partitions (all when None)."""
        self._generation += 1
        self.cache.clear(partitions)

    async def close(self) -> None:
        """Empty the cache and close the DataDB."""
        self.clear()
        await self.datadb.close()
