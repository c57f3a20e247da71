"""Filter indexes: which profiles an event may match, so profile matching costs O(matched).

The index (:class:`FilterIndexer`) is stored in the DataDB under kind FILTER_INDEX, as CGRateS keeps it, rather than
in memory: it survives restarts without a rebuild, several engines sharing one DataDB see the same index, and
lookups go through the DataManager's ``*_filter_indexes`` cache partitions (one dict look-up per key when cached).
Keys: ``<profile kind>:<tenant>[:<context>]:<*string|*prefix|*suffix|*none>:<path>:<value>`` → profile IDs.
Whoever writes profiles or filters tells the indexer (:meth:`FilterIndexer.profile_updated`,
:meth:`FilterIndexer.filter_updated`, or :meth:`FilterIndexer.compute_indexes` after a bulk load); a tenant whose
index was never computed is computed on its first match.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pycgrates.engine.filters.rules import NONE_KEY, FilterError, decode_index
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.template.dataprovider import (
    DataProvider,
    NotFoundError,
    as_string,
    dynamic_path,
)

if TYPE_CHECKING:
    from pycgrates.engine.filters.service import FilterService

# ---------------------------------------------------------------------------------------------------- indexes


@dataclass(frozen=True, slots=True)
class Subsystem:
    kind: str  # DataDB kind of the profiles
    section: str  # config section holding the *_indexed_fields options
    contexts: str | None = None  # profile field listing the contexts it is indexed under


_SUBSYSTEMS = (
    ("*attribute_filter_indexes", Subsystem(kinds.ATTRIBUTE_PROFILE, "attributes", "Contexts")),
    ("*charger_filter_indexes", Subsystem(kinds.CHARGER_PROFILE, "chargers")),
    ("*resource_filter_indexes", Subsystem(kinds.RESOURCE_PROFILE, "resources")),
    ("*stat_filter_indexes", Subsystem(kinds.STATQUEUE_PROFILE, "stats")),
    ("*statqueue_filter_indexes", Subsystem(kinds.STATQUEUE_PROFILE, "stats")),
    ("*threshold_filter_indexes", Subsystem(kinds.THRESHOLD_PROFILE, "thresholds")),
    ("*route_filter_indexes", Subsystem(kinds.ROUTE_PROFILE, "routes")),
    ("*dispatcher_filter_indexes", Subsystem(kinds.DISPATCHER_PROFILE, "dispatchers", "Subsystems")),
)

log = logging.getLogger("cgr.filters")

SUBSYSTEMS: dict[str, Subsystem] = {}
for _name, _sub in _SUBSYSTEMS:
    SUBSYSTEMS[_name] = SUBSYSTEMS.setdefault(_sub.kind, _sub)
    SUBSYSTEMS.setdefault(_sub.section, _sub)


def subsystem(name: str) -> Subsystem:
    try:
        return SUBSYSTEMS[name]
    except KeyError:
        raise ValueError(f"no filter index for {name!r} (use one of {', '.join(n for n, _ in _SUBSYSTEMS)})") \
            from None


def profile_contexts(sub: Subsystem, raw: dict) -> list[str]:
    if sub.contexts is None:
        return []
    ctxs = raw.get(sub.contexts) or ["*any"]
    return [ctxs] if isinstance(ctxs, str) else list(ctxs)


def _raw(obj: Any) -> dict | None:
    if obj is None or isinstance(obj, dict):
        return obj
    return getattr(obj, "raw", None)


async def reset_filter_indexes(dm: Any, profile_kinds: Iterable[str] | None = None) -> int:
    """Mark the indexes of some profile kinds (all by default) stale after a bulk write that did not maintain
    them, such as a tariff-plan load: each tenant's index is recomputed on its next match. Returns the markers
    dropped."""
    wanted = set(profile_kinds) if profile_kinds is not None else {sub.kind for _, sub in _SUBSYSTEMS}
    ops = []
    for kind in sorted(wanted):
        for key in await dm.keys(kinds.FILTER_INDEX, f"{kind}:"):
            if key.endswith(":*computed"):
                ops.append(("remove", kinds.FILTER_INDEX, key, None))
    if ops:
        await dm.write_batch(ops)
    return len(ops)


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """A section's ``indexed_selects``, ``*_indexed_fields`` (None: every event field) and ``nested_fields``."""

    selects: bool
    strings: tuple[str, ...] | None
    prefixes: tuple[str, ...] | None
    suffixes: tuple[str, ...] | None
    nested: bool
    fingerprint: str

    def fields(self, ftype: str) -> tuple[str, ...] | None:
        return self.strings if ftype == "*string" else self.prefixes if ftype == "*prefix" else self.suffixes


class FilterIndexer:
    """Maintains and queries the filter indexes of every profile kind (see the module docstring)."""

    def __init__(self, fs: FilterService) -> None:
        self.fs = fs
        self.dm = fs.dm
        self._lock = asyncio.Lock()
        self._options_cache: dict[str, tuple[Any, IndexOptions]] = {}

    # keys --------------------------------------------------------------------------------------

    @staticmethod
    def _item_key(kind: str, tenant: str, item_id: str) -> str:
        return f"{kind}:{tenant}:*items:{item_id}"

    @staticmethod
    def _computed_key(kind: str, tenant: str) -> str:
        return f"{kind}:{tenant}:*computed"

    async def _get(self, key: str) -> Any:
        return await self.dm.get(kinds.FILTER_INDEX, key, decode_index)

    async def _read_raw(self, kind: str, key: str) -> dict | None:
        datadb = getattr(self.dm, "datadb", None)
        if datadb is not None:
            return await datadb.get(kind, key)
        return _raw(await self.dm.get(kind, key))

    def _options(self, sub: Subsystem) -> IndexOptions:
        """The section's index options, read once per loaded config."""
        cfg = getattr(self.fs.ctx, "cfg", None)
        hit = self._options_cache.get(sub.section)
        if hit is not None and hit[0] is cfg:
            return hit[1]
        option = self.fs.option

        def fields(name: str) -> tuple[str, ...] | None:
            value = option(sub.section, name, None)
            return None if value is None else tuple(value)

        strings, prefixes, suffixes = (fields("string_indexed_fields"), fields("prefix_indexed_fields"),
                                       fields("suffix_indexed_fields"))
        nested = bool(option(sub.section, "nested_fields", False))
        opts = IndexOptions(bool(option(sub.section, "indexed_selects", True)), strings, prefixes, suffixes,
                            nested, json.dumps([strings, prefixes, suffixes, nested], separators=(",", ":")))
        self._options_cache[sub.section] = (cfg, opts)
        return opts

    def _fingerprint(self, sub: Subsystem) -> str:
        return self._options(sub).fingerprint

    @staticmethod
    def _queried(key: tuple[str, str, str], options: IndexOptions) -> bool:
        """Whether matching will ever look this key up under the current options."""
        ftype, path, _ = key
        fields = options.fields(ftype)
        if fields is None:  # every event field: two levels deep unless nested_fields
            return options.nested or path.count(".") <= 1
        return path in fields

    async def profile_keys(self, sub: Subsystem, tenant: str, raw: dict) -> tuple[set[str], set[str]]:
        """(full index keys, stored filter IDs) of one profile.

        Only rules whose keys matching will look up (per the ``*_indexed_fields`` options) index the profile; a
        profile without such a rule goes under ``*none:*any:*any`` and is a candidate for every event, so an index
        never hides a profile whose filters would pass.
        """
        options = self._options(sub)
        keys: set[str] = set()
        stored: set[str] = set()
        for fid in raw.get("FilterIDs") or ():
            if not fid.startswith("*"):
                stored.add(fid)
            try:
                f = await self.fs.get_filter(tenant, fid)
            except (RPCError, FilterError) as exc:
                log.warning("%s %s:%s: filter %s not indexed (%s)", sub.kind, tenant, raw.get("ID"), fid, exc)
                continue
            if f.activation is not None:  # may be skipped when checked: indexing by it could hide the profile
                continue
            for rule in f.rules:
                rkeys = rule.index_keys()
                if rkeys and all(self._queried(k, options) for k in rkeys):
                    keys.update(":".join(k) for k in rkeys)
        if not keys:
            keys = {NONE_KEY}
        prefixes = [f"{tenant}:{c}" for c in profile_contexts(sub, raw)] or [tenant]
        return {f"{sub.kind}:{p}:{k}" for p in prefixes for k in keys}, stored

    # writes ------------------------------------------------------------------------------------

    async def compute_indexes(self, name: str, tenant: str | None = None) -> int:
        """Rebuild the indexes of one profile kind (one tenant or all) from the stored profiles."""
        sub = subsystem(name)
        async with self._lock:
            return await self._compute(sub, tenant)

    async def _compute(self, sub: Subsystem, tenant: str | None) -> int:
        profile_keys = await self.dm.keys(sub.kind, f"{tenant}:" if tenant else "")
        tenants = {tenant} if tenant else {k.split(":", 1)[0] for k in profile_keys}
        ops: list[tuple[str, str, str, Any]] = []
        count = 0
        for tnt in sorted(tenants):
            index: dict[str, set[str]] = {}
            reverse: dict[str, set[str]] = {}
            for key in await self.dm.keys(kinds.FILTER_INDEX, f"{sub.kind}:{tnt}:"):
                ops.append(("remove", kinds.FILTER_INDEX, key, None))
            for key in await self.dm.keys(kinds.FILTER_INDEX, f"{kinds.FILTER}:{tnt}:"):
                refs = set(await self._get(key) or ())
                reverse[key] = {r for r in refs if not r.startswith(sub.kind + ":")}
            for pkey in profile_keys:
                if not pkey.startswith(f"{tnt}:"):
                    continue
                raw = await self._read_raw(sub.kind, pkey)
                if raw is None:
                    continue
                item_id = pkey[len(tnt) + 1:]
                keys, stored = await self.profile_keys(sub, tnt, raw)
                for k in keys:
                    index.setdefault(k, set()).add(item_id)
                for fid in stored:
                    reverse.setdefault(f"{kinds.FILTER}:{tnt}:{fid}", set()).add(f"{sub.kind}:{item_id}")
                ops.append(("set", kinds.FILTER_INDEX, self._item_key(sub.kind, tnt, item_id),
                            {"Keys": sorted(keys), "Filters": sorted(stored)}))
                count += 1
            ops.extend(("set", kinds.FILTER_INDEX, k, sorted(v)) for k, v in index.items())
            ops.extend(("set", kinds.FILTER_INDEX, k, sorted(v)) if v else ("remove", kinds.FILTER_INDEX, k, None)
                       for k, v in reverse.items())
            ops.append(("set", kinds.FILTER_INDEX, self._computed_key(sub.kind, tnt), [self._fingerprint(sub)]))
        await self.dm.write_batch(ops)
        return count

    async def profile_updated(self, name: str, tenant: str, item_id: str, raw: dict | None) -> None:
        """Re-index one profile after it was stored (``raw``) or removed (``raw`` None)."""
        sub = subsystem(name)
        async with self._lock:
            await self._update(sub, tenant, item_id, raw)

    async def _update(self, sub: Subsystem, tenant: str, item_id: str, raw: dict | None) -> None:
        item_key = self._item_key(sub.kind, tenant, item_id)
        old = await self._get(item_key) or {}
        old_keys, old_filters = set(old.get("Keys") or ()), set(old.get("Filters") or ())
        new_keys, new_filters = await self.profile_keys(sub, tenant, raw) if raw is not None else (set(), set())
        ops: list[tuple[str, str, str, Any]] = []
        for key in old_keys ^ new_keys:
            ids = set(await self._get(key) or ())
            if key in new_keys:
                ids.add(item_id)
            else:
                ids.discard(item_id)
            ops.append(("set", kinds.FILTER_INDEX, key, sorted(ids)) if ids else
                       ("remove", kinds.FILTER_INDEX, key, None))
        ref = f"{sub.kind}:{item_id}"
        for fid in old_filters ^ new_filters:
            rkey = f"{kinds.FILTER}:{tenant}:{fid}"
            refs = set(await self._get(rkey) or ())
            if fid in new_filters:
                refs.add(ref)
            else:
                refs.discard(ref)
            ops.append(("set", kinds.FILTER_INDEX, rkey, sorted(refs)) if refs else
                       ("remove", kinds.FILTER_INDEX, rkey, None))
        if raw is None:
            ops.append(("remove", kinds.FILTER_INDEX, item_key, None))
        else:
            ops.append(("set", kinds.FILTER_INDEX, item_key, {"Keys": sorted(new_keys),
                                                                "Filters": sorted(new_filters)}))
        await self.dm.write_batch(ops)

    async def filter_refs(self, tenant: str, filter_id: str) -> set[str]:
        """``kind:ID`` of the profiles that use a stored filter."""
        return set(await self._get(f"{kinds.FILTER}:{tenant}:{filter_id}") or ())

    async def filter_updated(self, tenant: str, filter_id: str) -> None:
        """Re-index the profiles that use a stored filter after it changed."""
        for ref in sorted(await self.filter_refs(tenant, filter_id)):
            kind, _, item_id = ref.partition(":")
            raw = await self._read_raw(kind, f"{tenant}:{item_id}")
            await self.profile_updated(kind, tenant, item_id, raw)

    # reads -------------------------------------------------------------------------------------

    async def _ensure_computed(self, sub: Subsystem, tenant: str) -> None:
        """Compute a tenant's index on first use, and again when the indexed-fields options changed."""
        fingerprint = self._fingerprint(sub)
        if fingerprint in (await self._get(self._computed_key(sub.kind, tenant)) or ()):
            return
        async with self._lock:
            if fingerprint not in (await self._get(self._computed_key(sub.kind, tenant)) or ()):
                await self._compute(sub, tenant)

    async def matching_profiles(self, name: str, tenant: str, dp: DataProvider,
                                context: str | None = None) -> list[str]:
        sub = subsystem(name)
        options = self._options(sub)
        if not options.selects:
            prefix = f"{tenant}:"
            return [k[len(prefix):] for k in await self.dm.keys(sub.kind, prefix)]
        await self._ensure_computed(sub, tenant)
        base = f"{sub.kind}:{tenant}:{context}:" if context else f"{sub.kind}:{tenant}:"
        all_fields: list[str] | None = None
        found: set[str] = set()
        for ftype in ("*string", "*prefix", "*suffix"):
            fields: Sequence[str] | None = options.fields(ftype)
            if fields is None:
                if all_fields is None:
                    keys = getattr(dp, "keys", None)
                    all_fields = keys(options.nested) if callable(keys) else []
                fields = all_fields
            for fld in fields:
                path = dynamic_path("~" + fld) if fld else None
                if not path:
                    continue
                try:
                    value = as_string(dp.field_as_any(path))
                except NotFoundError:
                    continue
                if ftype == "*string":
                    candidates: Iterable[str] = (value,)
                elif ftype == "*prefix":
                    candidates = (value[:i] for i in range(len(value), 0, -1))
                else:
                    candidates = (value[-i:] for i in range(1, len(value) + 1))
                for val in candidates:
                    ids = await self._get(f"{base}{ftype}:{fld}:{val}")
                    if ids is not None:
                        found.update(ids)
                        break
        ids = await self._get(base + NONE_KEY)
        if ids:
            found.update(ids)
        return sorted(found)


