"""CacheSv1: inspect and control the engine cache over RPC, with CGRateS's argument and reply shapes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pycgrates.engine.rpc.codec import dumps
from pycgrates.engine.rpc.errors import RPCError, not_found, server_error
from pycgrates.engine.rpc.registry import json_form, rpc
from pycgrates.engine.storage import cache as c
from pycgrates.engine.storage.datamanager import DataManager
from pycgrates.engine.units import format_time, now

#: ReloadCache argument fields → partitions (CGRateS's AttrReloadCache / ArgsCache names).
RELOAD_FIELDS: dict[str, str] = {
    "DestinationIDs": c.DESTINATIONS,
    "ReverseDestinationIDs": c.REVERSE_DESTINATIONS,
    "RatingPlanIDs": c.RATING_PLANS,
    "RatingProfileIDs": c.RATING_PROFILES,
    "ActionIDs": c.ACTIONS,
    "ActionPlanIDs": c.ACTION_PLANS,
    "AccountActionPlanIDs": c.ACCOUNT_ACTION_PLANS,
    "ActionTriggerIDs": c.ACTION_TRIGGERS,
    "SharedGroupIDs": c.SHARED_GROUPS,
    "TimingIDs": c.TIMINGS,
    "ResourceProfileIDs": c.RESOURCE_PROFILES,
    "ResourceIDs": c.RESOURCES,
    "StatsQueueIDs": c.STATQUEUES,
    "StatsQueueProfileIDs": c.STATQUEUE_PROFILES,
    "ThresholdIDs": c.THRESHOLDS,
    "ThresholdProfileIDs": c.THRESHOLD_PROFILES,
    "FilterIDs": c.FILTERS,
    "RouteProfileIDs": c.ROUTE_PROFILES,
    "SupplierProfileIDs": c.ROUTE_PROFILES,
    "AttributeProfileIDs": c.ATTRIBUTE_PROFILES,
    "ChargerProfileIDs": c.CHARGER_PROFILES,
    "DispatcherProfileIDs": c.DISPATCHER_PROFILES,
    "DispatcherHostIDs": c.DISPATCHER_HOSTS,
    "AttributeFilterIndexIDs": c.ATTRIBUTE_FILTER_INDEXES,
    "ResourceFilterIndexIDs": c.RESOURCE_FILTER_INDEXES,
    "StatFilterIndexIDs": c.STATQUEUE_FILTER_INDEXES,
    "ThresholdFilterIndexIDs": c.THRESHOLD_FILTER_INDEXES,
    "RouteFilterIndexIDs": c.ROUTE_FILTER_INDEXES,
    "ChargerFilterIndexIDs": c.CHARGER_FILTER_INDEXES,
    "DispatcherFilterIndexIDs": c.DISPATCHER_FILTER_INDEXES,
    "FilterIndexIDs": c.REVERSE_FILTER_INDEXES,
}

#: An ID list of just this reloads the whole partition.
_WHOLE = ("*any", "*all")


class CacheService:
    """The CacheSv1 RPC service over a :class:`DataManager`."""

    def __init__(self, dm: DataManager) -> None:
        self.dm = dm
        self.cache = dm.cache

    def _partition_names(self, ids: Any, field: str = "CacheIDs") -> list[str]:
        """Validated partition names; None/empty → every partition."""
        if ids is None or ids == []:
            return self.cache.names()
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise RPCError(f"SERVER_ERROR: {field} must be a list of cache partition names")
        unknown = [i for i in ids if i not in self.cache]
        if unknown:
            raise RPCError(f"SERVER_ERROR: unknown cache partition(s) {', '.join(unknown)} in {field}")
        return ids

    @staticmethod
    def _args(args: Any) -> dict:
        if args is None:
            return {}
        if not isinstance(args, dict):
            raise RPCError("SERVER_ERROR: expecting an object as argument")
        return args

    @rpc("CacheSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    @rpc("CacheSv1.Clear")
    async def clear(self, args: Any) -> str:
        """``{"CacheIDs": [...] | null}``: empty the given partitions (all when null)."""
        names = self._partition_names(self._args(args).get("CacheIDs"))
        self.dm.clear(names)
        return "OK"

    @rpc("CacheSv1.ReloadCache", "CacheSv1.LoadCache")
    async def reload_cache(self, args: Any) -> str:
        """Re-read the given IDs from the DataDB. Fields as CGRateS (``DestinationIDs``, ...), or ``ArgsCache``
        mapping field or partition names to IDs. Null/empty lists leave a partition alone; ``["*any"]`` reloads
        the whole partition."""
        await self.dm.reload_cache(self._id_plan(self._args(args)))
        return "OK"

    def _id_plan(self, args: dict) -> dict[str, list[str] | None]:
        """AttrReloadCache's fields (or ``ArgsCache``) as ``{partition: IDs}``; None: the whole partition."""
        plan: dict[str, list[str] | None] = {}

        def add(name: str, ids: Any) -> None:
            partition = RELOAD_FIELDS.get(name, name)
            if partition not in self.cache:
                raise RPCError(f"SERVER_ERROR: unknown cache partition or field {name!r} in ArgsCache")
            if ids is None or ids == []:
                return
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise RPCError(f"SERVER_ERROR: {name} must be a list of IDs")
            if len(ids) == 1 and ids[0] in _WHOLE:
                plan[partition] = None
            elif plan.get(partition, []) is not None:
                plan[partition] = [*plan.get(partition, []), *ids]

        for field in RELOAD_FIELDS:
            if field in args:
                add(field, args[field])
        extra = args.get("ArgsCache")
        if extra is not None:
            if not isinstance(extra, dict):
                raise RPCError("SERVER_ERROR: ArgsCache must map partition names to lists of IDs")
            for name, ids in extra.items():
                add(name, ids)
        return plan

    @rpc("CacheSv1.GetItemIDs")
    async def get_item_ids(self, args: Any) -> list[str]:
        """``{"CacheID", "ItemIDPrefix"}`` → IDs, or NOT_FOUND when there are none."""
        args = self._args(args)
        name = args.get("CacheID") or ""
        if name not in self.cache:
            raise not_found()
        ids = self.cache.item_ids(name, args.get("ItemIDPrefix") or "")
        if not ids:
            raise not_found()
        return ids

    @rpc("CacheSv1.HasItem")
    async def has_item(self, args: Any) -> bool:
        """``{"CacheID", "ItemID"}`` → whether the item is cached."""
        args = self._args(args)
        name = args.get("CacheID") or ""
        if name not in self.cache:
            return False
        return self.cache.has_item(name, args.get("ItemID") or "")

    def _item(self, args: Any) -> tuple[str, str]:
        """``{"CacheID", "ItemID"}`` of ArgsGetCacheItem; an unknown partition is NOT_FOUND."""
        args = self._args(args)
        name = args.get("CacheID") or ""
        if name not in self.cache:
            raise not_found()
        return name, str(args.get("ItemID") or "")

    @rpc("CacheSv1.GetItem", "CacheSv1.GetItemWithRemote")
    async def get_item(self, args: Any) -> Any:
        """``{"CacheID", "ItemID"}`` → the cached item in its JSON form, or NOT_FOUND. This engine's cache has no
        remote partitions: GetItemWithRemote answers from the local cache."""
        name, item_id = self._item(args)
        if not self.cache.has_item(name, item_id):
            raise not_found()
        value = json_form(self.cache.get(name, item_id))
        try:
            dumps(value)
        except TypeError as exc:
            raise server_error(f"{name} item {item_id} has no JSON form: {exc}") from None
        return value

    @rpc("CacheSv1.GetItemExpiryTime")
    async def get_item_expiry_time(self, args: Any) -> str:
        """``{"CacheID", "ItemID"}`` → when the item expires (RFC3339; Go's zero time when it never does), or
        NOT_FOUND."""
        name, item_id = self._item(args)
        left = self.cache.expires_in(name, item_id)
        if left is None:
            raise not_found()
        return format_time(now() + dt.timedelta(microseconds=left // 1000) if left else None)

    @rpc("CacheSv1.RemoveItem", "CacheSv1.ReplicateRemove")
    async def remove_item(self, args: Any) -> str:
        """``{"CacheID", "ItemID"}``: drop the item from the cache (the DataDB keeps it)."""
        name, item_id = self._item(args)
        self.dm.uncache(name, [item_id])
        return "OK"

    @rpc("CacheSv1.RemoveItems")
    async def remove_items(self, args: Any) -> str:
        """AttrReloadCache (``DestinationIDs``, ..., or ``ArgsCache``): drop those items from the cache."""
        for name, ids in self._id_plan(self._args(args)).items():
            if ids is None:
                self.dm.clear([name])
            else:
                self.dm.uncache(name, ids)
        return "OK"

    @rpc("CacheSv1.ReplicateSet")
    async def replicate_set(self, args: Any) -> str:
        """``{"CacheID", "ItemID", "Value"}``: what another engine cached, decoded as this engine's DataDB
        reader decodes the partition's items."""
        args = self._args(args)
        name, item_id = self._item(args)
        self.dm.cache_item(name, item_id, self.dm.decode_cached(name, args.get("Value")))
        return "OK"

    def _group(self, args: Any) -> tuple[str, str]:
        args = self._args(args)
        name = args.get("CacheID") or ""
        if name not in self.cache:
            raise not_found()
        return name, str(args.get("GroupID") or "")

    def _group_ids(self, name: str, group: str) -> list[str]:
        # CGRateS groups a partition's items under their tenant (and context) key, which prefixes their IDs
        return self.cache.item_ids(name, group + ":") if group else []

    @rpc("CacheSv1.HasGroup")
    async def has_group(self, args: Any) -> bool:
        """``{"CacheID", "GroupID"}`` → whether any cached item belongs to the group."""
        return bool(self._group_ids(*self._group(args)))

    @rpc("CacheSv1.GetGroupItemIDs")
    async def get_group_item_ids(self, args: Any) -> list[str]:
        """``{"CacheID", "GroupID"}`` → the IDs of the group's cached items, or NOT_FOUND."""
        ids = self._group_ids(*self._group(args))
        if not ids:
            raise not_found()
        return ids

    @rpc("CacheSv1.RemoveGroup")
    async def remove_group(self, args: Any) -> str:
        name, group = self._group(args)
        self.dm.uncache(name, self._group_ids(name, group))
        return "OK"

    @rpc("CacheSv1.PrecacheStatus")
    async def precache_status(self, args: Any) -> dict[str, str]:
        """``{"CacheIDs"}`` → ``{partition: "*ready"}``: precaching completes before the engine listens."""
        names = self._partition_names(self._args(args).get("CacheIDs"))
        return dict.fromkeys(names, "*ready")

    @rpc("CacheSv1.GetCacheStats", "CacheSv1.GetStats")
    async def get_cache_stats(self, args: Any) -> dict[str, dict[str, int]]:
        """``{"CacheIDs": [...] | null}`` → ``{partition: {"Items": n, "Groups": 0}}``."""
        names = self._partition_names(self._args(args).get("CacheIDs"))
        return self.cache.stats(names)
