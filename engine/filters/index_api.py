"""APIerSv1's filter-index methods over the stored indexes (``engine.filters.indexes``): GetFilterIndexes,
ComputeFilterIndexes, ComputeFilterIndexIDs, RemoveFilterIndexes, the Get<Subsystem>IndexesHealth checks and
GetReverseFilterHealth (the filter → profiles index).

CGRateS names an index by its item type (``*attributes``, ``*chargers``, ...) and ``tenant[:context]``, and an
entry as ``filterType:path:value:itemID`` (``*string:*req.Account:1001:ATTR_1``); the health checks answer its
FilterIHReply: index entries whose profile is gone (MissingObjects), entries a profile should have and has not
(MissingIndexes), entries a profile has but should not (BrokenIndexes), and stored filters profiles name that do
not exist (MissingFilters).
"""

from __future__ import annotations

from typing import Any

from pycgrates.engine.filters.indexes import FilterIndexer, Subsystem, subsystem
from pycgrates.engine.profiles.crud import config_option
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, mandatory_ie_missing, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage import base as kinds

#: CGRateS's item types, the ComputeFilterIndexes flags and ComputeFilterIndexIDs lists naming them
ITEM_TYPES = {"*attributes": "attributes", "*chargers": "chargers", "*resources": "resources", "*stats": "stats",
              "*thresholds": "thresholds", "*routes": "routes", "*dispatchers": "dispatchers"}
_FLAGS = {"AttributeS": "attributes", "ChargerS": "chargers", "ResourceS": "resources", "StatS": "stats",
          "ThresholdS": "thresholds", "RouteS": "routes", "DispatcherS": "dispatchers"}
_ID_LISTS = {"AttributeIDs": "attributes", "ChargerIDs": "chargers", "ResourceIDs": "resources",
             "StatIDs": "stats", "ThresholdIDs": "thresholds", "RouteIDs": "routes", "DispatcherIDs": "dispatchers"}
_RESERVED = (":*items:", ":*computed")


#: the item types whose reverse filter indexes GetReverseFilterHealth checks, by CGRateS's index names
_REVERSE_CHECKED = (("*attribute_filter_indexes", "attributes"), ("*charger_filter_indexes", "chargers"),
                    ("*resource_filter_indexes", "resources"), ("*stat_filter_indexes", "stats"),
                    ("*threshold_filter_indexes", "thresholds"), ("*route_filter_indexes", "routes"),
                    ("*dispatcher_filter_indexes", "dispatchers"))


class FilterIndexAPI:
    """Mixed into FilterService (which supplies ``ctx``, ``dm`` and ``indexer``)."""

    ctx: Any
    dm: Any
    indexer: FilterIndexer

    def _tenant_of(self, args: dict) -> str:
        return str(args.get("Tenant") or config_option(self.ctx, "general", "default_tenant", "cgrates.org"))

    def _index_of(self, args: Any) -> tuple[Subsystem, str, str]:
        """(subsystem, tenant, "kind:tenant[:context]:") of AttrGetFilterIndexes / AttrRemFilterIndexes."""
        if not isinstance(args, dict) or not args.get("ItemType"):
            raise mandatory_ie_missing("ItemType")
        section = ITEM_TYPES.get(str(args["ItemType"]))
        if section is None:
            raise server_error(f"unknown ItemType {args['ItemType']!r} (use one of {', '.join(ITEM_TYPES)})")
        sub = subsystem(section)
        tenant = self._tenant_of(args)
        if sub.contexts is not None and not args.get("Context"):
            raise mandatory_ie_missing("Context")
        scope = f"{tenant}:{args['Context']}" if sub.contexts is not None else tenant
        return sub, tenant, f"{sub.kind}:{scope}:"

    async def _entries(self, prefix: str) -> dict[str, list[str]]:
        """The stored index under ``prefix``: ``filterType:path:value`` → item IDs."""
        out = {}
        for key in await self.dm.keys(kinds.FILTER_INDEX, prefix):
            rest = key[len(prefix):]
            if any(r in ":" + rest for r in _RESERVED) or not rest.startswith("*"):
                continue
            ids = await self.dm.get(kinds.FILTER_INDEX, key)
            if ids:
                out[rest] = sorted(ids)
        return out

    @rpc("APIerSv1.GetFilterIndexes")
    async def get_filter_indexes(self, args: Any) -> list[str]:
        """AttrGetFilterIndexes → ``filterType:path:value:itemID`` entries, narrowed by FilterType (a prefix),
        FilterField and FilterValue (contained); NOT_FOUND when none."""
        sub, tenant, prefix = self._index_of(args)
        await self.indexer._ensure_computed(sub, tenant)
        wanted_type, field, value = (str(args.get(k) or "") for k in ("FilterType", "FilterField", "FilterValue"))
        out = [f"{key}:{item}" for key, items in (await self._entries(prefix)).items()
               if key.startswith(wanted_type) and field in key and value in key for item in items]
        if not out:
            raise RPCError(NOT_FOUND)
        out.sort()
        offset = int(args.get("Offset") or 0)
        return out[offset:offset + int(args["Limit"])] if args.get("Limit") else out[offset:]

    @rpc("APIerSv1.RemoveFilterIndexes")
    async def remove_filter_indexes(self, args: Any) -> str:
        """Drop an item type's indexes for a tenant (and context): its profiles match nothing until the indexes are
        computed again (ComputeFilterIndexes), as in CGRateS."""
        sub, tenant, prefix = self._index_of(args)
        keys = [k for k in await self.dm.keys(kinds.FILTER_INDEX, prefix) if not k.endswith(":*computed")]
        keys += await self.dm.keys(kinds.FILTER_INDEX, f"{sub.kind}:{tenant}:*items:")
        if keys:
            await self.dm.write_batch([("remove", kinds.FILTER_INDEX, k, None) for k in keys])
        return "OK"

    @rpc("APIerSv1.ComputeFilterIndexes")
    async def compute_filter_indexes(self, args: Any) -> str:
        """``{"Tenant", "AttributeS": true, "ThresholdS": true, ...}``: rebuild those item types' indexes."""
        args = args if isinstance(args, dict) else {}
        tenant = self._tenant_of(args)
        for flag, section in _FLAGS.items():
            if args.get(flag):
                await self.indexer.compute_indexes(section, tenant)
        return "OK"

    @rpc("APIerSv1.ComputeFilterIndexIDs")
    async def compute_filter_index_ids(self, args: Any) -> str:
        """``{"Tenant", "AttributeIDs": [...], ...}``: index those profiles again."""
        args = args if isinstance(args, dict) else {}
        tenant = self._tenant_of(args)
        for field, section in _ID_LISTS.items():
            sub = subsystem(section)
            for item_id in args.get(field) or []:
                raw = await self.indexer._read_raw(sub.kind, f"{tenant}:{item_id}")
                if raw is None:
                    raise RPCError(NOT_FOUND)
                await self.indexer.profile_updated(section, tenant, item_id, raw)
        return "OK"

    async def _computed(self, sub: Subsystem) -> None:
        """Index the tenants whose index was never computed (after a bulk load this engine indexes on first use;
        CGRateS indexes at the load): a check reports what is wrong, not what is only not built yet."""
        for tenant in sorted({k.partition(":")[0] for k in await self.dm.keys(sub.kind)}):
            await self.indexer._ensure_computed(sub, tenant)

    async def index_health(self, section: str) -> dict[str, Any]:
        """CGRateS's FilterIHReply for one item type, over every tenant."""
        sub = subsystem(section)
        await self._computed(sub)
        expected: dict[str, set[str]] = {}
        missing_filters: dict[str, list[str]] = {}
        profiles: set[str] = set()
        for pkey in await self.dm.keys(sub.kind):
            raw = await self.indexer._read_raw(sub.kind, pkey)
            if raw is None:
                continue
            tenant, _, item_id = pkey.partition(":")
            profiles.add(pkey)
            keys, stored = await self.indexer.profile_keys(sub, tenant, raw)
            for key in keys:
                expected.setdefault(key, set()).add(item_id)
            absent = sorted([fid for fid in stored if await self.dm.get(kinds.FILTER, f"{tenant}:{fid}") is None])
            if absent:
                missing_filters[pkey] = absent
        actual: dict[str, set[str]] = {}
        for key in await self.dm.keys(kinds.FILTER_INDEX, f"{sub.kind}:"):
            if any(r in key for r in _RESERVED):
                continue
            actual[key] = set(await self.dm.get(kinds.FILTER_INDEX, key) or ())
        strip = len(sub.kind) + 1
        missing_objects = sorted({f"{k[strip:].split(':', 1)[0]}:{i}" for k, ids in actual.items() for i in ids}
                                 - profiles)
        missing_indexes = {k[strip:]: sorted(ids - actual.get(k, set())) for k, ids in expected.items()
                           if ids - actual.get(k, set())}
        broken = {k[strip:]: sorted(i for i in ids - expected.get(k, set())
                                    if f"{k[strip:].split(':', 1)[0]}:{i}" in profiles)
                  for k, ids in actual.items()}
        return {"MissingObjects": missing_objects, "MissingIndexes": missing_indexes,
                "BrokenIndexes": {k: v for k, v in broken.items() if v}, "MissingFilters": missing_filters}

    @rpc("APIerSv1.GetAttributesIndexesHealth")
    async def attributes_index_health(self, args: Any) -> dict[str, Any]:
        return await self.index_health("attributes")

    @rpc("APIerSv1.GetChargersIndexesHealth")
    async def chargers_index_health(self, args: Any) -> dict[str, Any]:
        return await self.index_health("chargers")

    @rpc("APIerSv1.GetResourcesIndexesHealth")
    async def resources_index_health(self, args: Any) -> dict[str, Any]:
        return await self.index_health("resources")

    @rpc("APIerSv1.GetStatsIndexesHealth")
    async def stats_index_health(self, args: Any) -> dict[str, Any]:
        return await self.index_health("stats")

    @rpc("APIerSv1.GetThresholdsIndexesHealth")
    async def thresholds_index_health(self, args: Any) -> dict[str, Any]:
        return await self.index_health("thresholds")

    @rpc("APIerSv1.GetRoutesIndexesHealth")
    async def routes_index_health(self, args: Any) -> dict[str, Any]:
        return await self.index_health("routes")

    @rpc("APIerSv1.GetReverseFilterHealth")
    async def reverse_filter_health(self, args: Any) -> dict[str, dict[str, Any]]:
        """Per index type with a problem, CGRateS's ReverseFilterIHReply: profiles the filter → profiles index
        misses (MissingReverseIndexes: profile → filters), names wrongly (BrokenReverseIndexes), names but that are
        gone (MissingObjects), and stored filters profiles use that do not exist (MissingFilters: filter →
        profiles)."""
        out: dict[str, dict[str, Any]] = {}
        for index_name, section in _REVERSE_CHECKED:
            sub = subsystem(section)
            await self._computed(sub)
            uses: dict[str, set[str]] = {}  # "tenant:profile" → stored filters it names
            missing_filters: dict[str, list[str]] = {}
            for pkey in await self.dm.keys(sub.kind):
                raw = await self.indexer._read_raw(sub.kind, pkey)
                if raw is None:
                    continue
                tenant = pkey.partition(":")[0]
                uses[pkey] = {f for f in raw.get("FilterIDs") or () if not f.startswith("*")}
                for fid in sorted(uses[pkey]):
                    if await self.dm.get(kinds.FILTER, f"{tenant}:{fid}") is None:
                        missing_filters.setdefault(f"{tenant}:{fid}", []).append(pkey)
            named: dict[str, set[str]] = {}  # "tenant:profile" → filters whose reverse index names it
            for rkey in await self.dm.keys(kinds.FILTER_INDEX, f"{kinds.FILTER}:"):
                _, tenant, fid = rkey.split(":", 2)
                for ref in await self.dm.get(kinds.FILTER_INDEX, rkey) or ():
                    kind, _, item_id = ref.partition(":")
                    if kind == sub.kind:
                        named.setdefault(f"{tenant}:{item_id}", set()).add(fid)
            report = {
                "MissingObjects": sorted(set(named) - set(uses)),
                "MissingReverseIndexes": {p: sorted(f - named.get(p, set())) for p, f in uses.items()
                                          if f - named.get(p, set())},
                "BrokenReverseIndexes": {p: sorted(f - uses[p]) for p, f in named.items()
                                         if p in uses and f - uses[p]},
                "MissingFilters": missing_filters,
            }
            if any(report.values()):
                out[index_name] = report
        return out
