"""The engine cache: CGRateS's named partitions, each with its own size limit (LRU) and TTL.

Configured from the ``caches`` section: ``{"partitions": {"*destinations": {"limit": -1, "ttl": "",
"static_ttl": false, "precache": false, "replicate": false}, ...}}``. ``limit`` -1 is unlimited, 0 disables the
partition (nothing is kept). ``ttl`` is a duration ("" or "0s": items never expire); without ``static_ttl``
reading an item restarts its TTL.

Every operation is O(1) except listing. A partition that is unlimited and has no TTL (the usual case for the
tariff-plan partitions) is a plain dict; :meth:`Partition.plain_items` hands that dict to readers who want a hit
to cost one look-up.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pycgrates.engine.units import DurationError, parse_duration

DESTINATIONS = "*destinations"
REVERSE_DESTINATIONS = "*reverse_destinations"
RATING_PLANS = "*rating_plans"
RATING_PROFILES = "*rating_profiles"
ACTIONS = "*actions"
ACTION_PLANS = "*action_plans"
ACCOUNT_ACTION_PLANS = "*account_action_plans"
ACTION_TRIGGERS = "*action_triggers"
SHARED_GROUPS = "*shared_groups"
TIMINGS = "*timings"
FILTERS = "*filters"
ATTRIBUTE_PROFILES = "*attribute_profiles"
CHARGER_PROFILES = "*charger_profiles"
RESOURCE_PROFILES = "*resource_profiles"
RESOURCES = "*resources"
STATQUEUE_PROFILES = "*statqueue_profiles"
STATQUEUES = "*statqueues"
THRESHOLD_PROFILES = "*threshold_profiles"
THRESHOLDS = "*thresholds"
ROUTE_PROFILES = "*route_profiles"
DISPATCHER_PROFILES = "*dispatcher_profiles"
DISPATCHER_HOSTS = "*dispatcher_hosts"
LOAD_IDS = "*load_ids"
EVENT_CHARGES = "*event_charges"
CLOSED_SESSIONS = "*closed_sessions"
CDR_IDS = "*cdr_ids"
RPC_RESPONSES = "*rpc_responses"
UCH = "*uch"
STIR = "*stir"
APIBAN = "*apiban"
DIAMETER_MESSAGES = "*diameter_messages"
RPC_CONNECTIONS = "*rpc_connections"
ATTRIBUTE_FILTER_INDEXES = "*attribute_filter_indexes"
CHARGER_FILTER_INDEXES = "*charger_filter_indexes"
RESOURCE_FILTER_INDEXES = "*resource_filter_indexes"
STATQUEUE_FILTER_INDEXES = "*statqueue_filter_indexes"
THRESHOLD_FILTER_INDEXES = "*threshold_filter_indexes"
ROUTE_FILTER_INDEXES = "*route_filter_indexes"
DISPATCHER_FILTER_INDEXES = "*dispatcher_filter_indexes"
REVERSE_FILTER_INDEXES = "*reverse_filter_indexes"
DISPATCHER_ROUTES = "*dispatcher_routes"
DISPATCHER_LOADS = "*dispatcher_loads"
DISPATCHERS = "*dispatchers"
SESSIONS_BACKUP = "*sessions_backup"

#: Every partition the engine knows; all exist even when the config does not mention them (unlimited, no TTL).
PARTITIONS: tuple[str, ...] = (
    DESTINATIONS,
    REVERSE_DESTINATIONS,
    RATING_PLANS,
    RATING_PROFILES,
    ACTIONS,
    ACTION_PLANS,
    ACCOUNT_ACTION_PLANS,
    ACTION_TRIGGERS,
    SHARED_GROUPS,
    TIMINGS,
    FILTERS,
    ATTRIBUTE_PROFILES,
    CHARGER_PROFILES,
    RESOURCE_PROFILES,
    RESOURCES,
    STATQUEUE_PROFILES,
    STATQUEUES,
    THRESHOLD_PROFILES,
    THRESHOLDS,
    ROUTE_PROFILES,
    DISPATCHER_PROFILES,
    DISPATCHER_HOSTS,
    LOAD_IDS,
    EVENT_CHARGES,
    CLOSED_SESSIONS,
    CDR_IDS,
    RPC_RESPONSES,
    UCH,
    STIR,
    APIBAN,
    DIAMETER_MESSAGES,
    RPC_CONNECTIONS,
    ATTRIBUTE_FILTER_INDEXES,
    CHARGER_FILTER_INDEXES,
    RESOURCE_FILTER_INDEXES,
    STATQUEUE_FILTER_INDEXES,
    THRESHOLD_FILTER_INDEXES,
    ROUTE_FILTER_INDEXES,
    DISPATCHER_FILTER_INDEXES,
    REVERSE_FILTER_INDEXES,
    DISPATCHER_ROUTES,
    DISPATCHER_LOADS,
    DISPATCHERS,
    SESSIONS_BACKUP,
)

_MISSING = object()


class CacheConfigError(ValueError):
    """A ``caches`` section that cannot be used."""


@dataclass(frozen=True)
class PartitionConfig:
    limit: int = -1
    ttl_ns: int = 0
    static_ttl: bool = False
    precache: bool = False
    replicate: bool = False

    @classmethod
    def from_config(cls, name: str, raw: dict) -> PartitionConfig:
        where = f"caches.partitions.{name}"
        try:
            limit = int(raw.get("limit", -1))
        except (TypeError, ValueError) as exc:
            raise CacheConfigError(f"{where}.limit {raw.get('limit')!r} must be an integer (-1: unlimited)") from exc
        try:
            ttl = parse_duration(raw.get("ttl") or "")
        except DurationError as exc:
            raise CacheConfigError(f"{where}.ttl: {exc}") from exc
        if ttl < 0:
            raise CacheConfigError(f"{where}.ttl must not be negative (empty: no expiry)")
        return cls(
            limit=limit,
            ttl_ns=ttl,
            static_ttl=bool(raw.get("static_ttl", False)),
            precache=bool(raw.get("precache", False)),
            replicate=bool(raw.get("replicate", False)),
        )


class Partition:
    """One cache partition: LRU when limited, TTL when configured."""

    __slots__ = ("_clock", "_expiry", "_items", "_lru", "config", "name")

    def __init__(self, name: str, config: PartitionConfig, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._lru = config.limit > 0
        # Order matters only for LRU eviction and TTL purging (oldest first).
        self._items: dict[str, Any] = OrderedDict() if self._lru or config.ttl_ns else {}
        self._expiry: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        return self.config.limit != 0

    def plain_items(self) -> dict[str, Any] | None:
        """The item dict itself when reading it needs no bookkeeping (unlimited, no TTL); else None."""
        if self.config.limit < 0 and not self.config.ttl_ns:
            return self._items
        return None

    def get(self, key: str, default: Any = None) -> Any:
        value = self._items.get(key, _MISSING)
        if value is _MISSING:
            return default
        ttl = self.config.ttl_ns
        if ttl:
            now = self._clock()
            if self._expiry[key] <= now:
                del self._items[key]
                del self._expiry[key]
                return default
            if not self.config.static_ttl:
                self._expiry[key] = now + ttl
                self._items.move_to_end(key)
                return value
        if self._lru:
            self._items.move_to_end(key)
        return value

    def set(self, key: str, value: Any) -> None:
        limit = self.config.limit
        if limit == 0:
            return
        items = self._items
        ttl = self.config.ttl_ns
        if ttl:
            now = self._clock()
            self._purge(now)
            self._expiry[key] = now + ttl
        if key in items and (self._lru or ttl):
            items.move_to_end(key)
        items[key] = value
        if self._lru and len(items) > limit:
            old, _ = items.popitem(last=False)
            self._expiry.pop(old, None)

    def _purge(self, now: int) -> None:
        """Drop expired items from the oldest end (they are in expiry order unless LRU reads reorder them)."""
        items = self._items
        expiry = self._expiry
        while items:
            key = next(iter(items))
            if expiry[key] > now:
                return
            del items[key]
            del expiry[key]

    def remove(self, key: str) -> bool:
        self._expiry.pop(key, None)
        return self._items.pop(key, _MISSING) is not _MISSING

    def clear(self) -> None:
        self._items.clear()
        self._expiry.clear()

    def has_item(self, key: str) -> bool:
        """Whether ``key`` is cached (without touching its LRU position or TTL)."""
        if key not in self._items:
            return False
        if self.config.ttl_ns and self._expiry[key] <= self._clock():
            self.remove(key)
            return False
        return True

    def expires_in(self, key: str) -> int | None:
        """Nanoseconds until ``key`` expires: 0 when it never does, None when it is not cached."""
        if not self.has_item(key):
            return None
        if not self.config.ttl_ns:
            return 0
        return max(1, self._expiry[key] - self._clock())

    def item_ids(self, prefix: str = "") -> list[str]:
        if self.config.ttl_ns:
            self._purge_all()
        return sorted(k for k in self._items if k.startswith(prefix))

    def _purge_all(self) -> None:
        now = self._clock()
        for key in [k for k, t in self._expiry.items() if t <= now]:
            del self._items[key]
            del self._expiry[key]

    def __len__(self) -> int:
        if self.config.ttl_ns:
            self._purge_all()
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return self.has_item(key)


class Cache:
    """All partitions, by name. Unknown names raise ``KeyError`` naming the partition."""

    def __init__(
        self,
        partitions: dict[str, PartitionConfig] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        configs = dict.fromkeys(PARTITIONS, PartitionConfig())
        configs.update(partitions or {})
        self._partitions: dict[str, Partition] = {name: Partition(name, cfg, clock) for name, cfg in configs.items()}

    @classmethod
    def from_config(cls, caches_section: dict | None, clock: Callable[[], int] = time.monotonic_ns) -> Cache:
        """Build from the ``caches`` config section (partitions it does not name: unlimited, no TTL)."""
        raw_parts = (caches_section or {}).get("partitions") or {}
        if not isinstance(raw_parts, dict):
            raise CacheConfigError("caches.partitions must be an object of partition name → options")
        parts = {}
        for name, raw in raw_parts.items():
            if not isinstance(raw, dict):
                raise CacheConfigError(f'caches.partitions.{name} must be an object ({{"limit": -1, ...}})')
            parts[name] = PartitionConfig.from_config(name, raw)
        return cls(parts, clock)

    def partition(self, name: str) -> Partition:
        try:
            return self._partitions[name]
        except KeyError:
            raise KeyError(f"unknown cache partition {name!r}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._partitions

    def names(self) -> list[str]:
        return list(self._partitions)

    def get(self, partition: str, key: str, default: Any = None) -> Any:
        return self.partition(partition).get(key, default)

    def set(self, partition: str, key: str, value: Any) -> None:
        self.partition(partition).set(key, value)

    def remove(self, partition: str, key: str) -> bool:
        return self.partition(partition).remove(key)

    def has_item(self, partition: str, key: str) -> bool:
        return self.partition(partition).has_item(key)

    def expires_in(self, partition: str, key: str) -> int | None:
        return self.partition(partition).expires_in(key)

    def item_ids(self, partition: str, prefix: str = "") -> list[str]:
        return self.partition(partition).item_ids(prefix)

    def len(self, partition: str) -> int:
        return len(self.partition(partition))

    def clear(self, partitions: Iterable[str] | None = None) -> None:
        """Empty the named partitions (all when None)."""
        names = self._partitions if partitions is None else partitions
        for name in names:
            self.partition(name).clear()

    def stats(self, partitions: Iterable[str] | None = None) -> dict[str, dict[str, int]]:
        """``{partition: {"Items": n, "Groups": 0}}`` as CacheSv1.GetCacheStats replies."""
        names = self._partitions if partitions is None else partitions
        return {name: {"Items": len(self.partition(name)), "Groups": 0} for name in names}
