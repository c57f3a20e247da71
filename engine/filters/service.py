"""FilterS: whether an event passes a list of filters (CGRateS's ``FilterS.Pass``), for every service.

At least one active filter of the list must pass, and every rule of each active one. Compiled filters come from
:mod:`.rules` (inline ones kept in memory, stored ones decoded once by the DataManager); remote paths
(``~*accounts.<id>`` ...) are fetched once per check through the ``filters`` section's connections; the candidate
profiles of an event come from the indexes (:mod:`.indexes`). Stored filters are administered through
``APIerSv1.GetFilter``, ``SetFilter``, ``RemoveFilter`` and ``GetFilterIDs``, the methods every stored type gets from
:mod:`pycgrates.engine.profiles.crud`.
"""


from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pycgrates.engine.filters.index_api import FilterIndexAPI
from pycgrates.engine.filters.indexes import FilterIndexer
from pycgrates.engine.filters.rules import (
    Filter,
    FilterError,
    FilterRule,
    activation_json,
    compile_filter,
    decode_filter,
    decode_index,
    inline_filter,
)
from pycgrates.engine.profiles.crud import CrudService, CrudSpec
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.storage.datamanager import INDEX_PARTITIONS
from pycgrates.engine.template.dataprovider import (
    DataProvider,
    MapDataProvider,
    NotFoundError,
    as_string,
    navigate,
)
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.units import now as utc_now


def _with_resource_totals(reply: Any) -> Any:
    """A ResourceWithConfig as CGRateS's filters read it: its methods TotalUsage (the units in use) and Available
    (the profile's Limit less those) beside its fields."""
    if not isinstance(reply, dict):
        return reply
    total = sum(float((u or {}).get("Units") or 0) for u in (reply.get("Usages") or {}).values())
    limit = float(((reply.get("Config") or {}).get("Limit")) or 0)
    return {**reply, "TotalUsage": total, "Available": limit - total}


def _tenant_id(tenant: str, item_id: str) -> dict:
    return {"Tenant": tenant, "ID": item_id}


#: remote paths: the section option of the Conn, the method, its argument and how the reply is read
REMOTE: dict[str, tuple[str, str, Callable[[str, str], dict], Callable[[Any], Any]]] = {
    "*accounts": ("apiers_conns", "APIerSv2.GetAccount", lambda tnt, i: {"Tenant": tnt, "Account": i},
                  lambda reply: reply),
    "*stats": ("stats_conns", "StatSv1.GetQueueFloatMetrics", _tenant_id, lambda reply: reply),
    "*resources": ("resources_conns", "ResourceSv1.GetResourceWithConfig", _tenant_id, _with_resource_totals),
}
#: the AccountSummary of the event itself (an AccountUpdate event), as CGRateS's dynamicDP reads ``~*asm``
ACCOUNT_SUMMARY = "*asm"
BALANCE_SUMMARIES = "BalanceSummaries"


def account_summary_field(summary: Any, path: Sequence[str]) -> Any:
    """A field of an AccountSummary (CGRateS's AccountSummary.FieldAsInterface): ``Tenant``, ``AccountID``,
    ``AllowNegative``, ``Disabled``, ``BalanceSummaries``, ``BalanceSummaries[<index>]...`` and
    ``BalanceSummaries.<balance ID>...`` (the first balance with that ID)."""
    if not isinstance(summary, Mapping) or not path:
        raise NotFoundError()
    if path[0] == BALANCE_SUMMARIES and len(path) > 1:
        for balance in summary.get(BALANCE_SUMMARIES) or ():
            if isinstance(balance, Mapping) and as_string(balance.get("ID")) == path[1]:
                return navigate(balance, path[2:])
        raise NotFoundError()
    return navigate(summary, path)


# ---------------------------------------------------------------------------------------------------- dynamic DP


class DynamicDataProvider:
    """Wraps an event DataProvider; ``*accounts.<id>``, ``*stats.<id>``, ``*resources.<id>`` come from the
    services, fetched once per check (:meth:`ensure`), and ``*asm`` is the event's own AccountSummary."""

    __slots__ = ("base", "fs", "loaded", "tenant", "timezone")

    def __init__(self, base: DataProvider, fs: FilterService, tenant: str) -> None:
        self.base = base
        self.fs = fs
        self.tenant = tenant
        self.loaded: dict[tuple[str, str], Any] = {}
        self.timezone = getattr(base, "timezone", None) or fs.timezone

    def field_as_any(self, path: Sequence[str]) -> Any:
        if path and path[0] == ACCOUNT_SUMMARY:
            return account_summary_field(self.base.field_as_any(("*req",)), path[1:])
        if path and path[0] in REMOTE:
            if len(path) < 2:
                raise NotFoundError()
            obj = self.loaded.get((path[0], path[1]))
            if obj is None:
                raise NotFoundError()
            return navigate(obj, path[2:]) if len(path) > 2 else obj
        return self.base.field_as_any(path)

    def field_as_string(self, path: Sequence[str]) -> str:
        return as_string(self.field_as_any(path))

    async def ensure(self, path: Sequence[str]) -> None:
        if len(path) >= 2 and path[0] in REMOTE and (path[0], path[1]) not in self.loaded:
            self.loaded[(path[0], path[1])] = await self.fs.fetch_remote(path[0], self.tenant, path[1])


# ---------------------------------------------------------------------------------------------------- FilterS


class FilterService(CrudService, FilterIndexAPI):
    """FilterS for the whole engine (``ctx.services["filters"]``), and APIerSv1's stored filters."""

    crud = CrudSpec("Filter", kinds.FILTER, console="filter")

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.dm = ctx.dm
        self._inline: dict[str, Filter | FilterError] = {}
        #: rules evaluated since start (what the index saves is visible here)
        self.evaluations = 0
        register = getattr(self.dm, "register_decoder", None)
        if register is not None:
            register(kinds.FILTER, decode_filter)
            register(kinds.FILTER_INDEX, decode_index)
        self.indexer = FilterIndexer(self)

    @property
    def timezone(self) -> str | None:
        return self.option("general", "default_timezone", None)

    async def get_filter(self, tenant: str, filter_id: str) -> Filter:
        """The compiled filter; ``NOT_FOUND:<id>`` when a stored one is missing, FilterError when it is broken."""
        if filter_id.startswith("*"):
            f = self._inline.get(filter_id)
            if f is None:
                try:
                    f = inline_filter(tenant, filter_id)
                except FilterError as exc:
                    f = exc
                if len(self._inline) > 50_000:
                    self._inline.clear()
                self._inline[filter_id] = f
        else:
            f = await self.dm.get(kinds.FILTER, f"{tenant}:{filter_id}", decode_filter)
            if f is None:
                raise RPCError(f"{NOT_FOUND}:{filter_id}")
            if isinstance(f, dict):
                f = decode_filter(f)
        if isinstance(f, FilterError):
            raise f
        return f

    async def pass_filters(self, tenant: str, filter_ids: Sequence[str], dp: DataProvider) -> bool:
        """Whether ``dp`` passes every active filter of ``filter_ids`` (and at least one is active)."""
        if not filter_ids:
            return True
        passed = False
        now: datetime | None = None
        ddp: DynamicDataProvider | None = None
        for fid in filter_ids:
            f = await self.get_filter(tenant, fid)
            if f.activation is not None:
                now = now or utc_now()
                if not f.activation.is_active_at(now):
                    continue
            for rule in f.rules:
                ok, ddp = await self._rule_passes(rule, dp, tenant, ddp)
                if not ok:
                    return False
            passed = True
        return passed

    async def lazy_pass(self, tenant: str, filter_ids: Sequence[str], dp: DataProvider,
                        prefixes: Sequence[str]) -> tuple[bool, list[FilterRule]]:
        """CGRateS's LazyPass: the rules of the active filters that read only paths under ``prefixes`` (``~*req``,
        ``~*stats`` ...) are checked on ``dp`` now; the others are handed back, to be checked with
        :meth:`pass_rules` once the data they read exists (RouteS's ``~*vars``: a route's sorting data). (False,
        []) when a rule checked now fails."""
        lazy: list[FilterRule] = []
        now: datetime | None = None
        ddp: DynamicDataProvider | None = None
        for fid in filter_ids:
            f = await self.get_filter(tenant, fid)
            if f.activation is not None:
                now = now or utc_now()
                if not f.activation.is_active_at(now):
                    continue
            for rule in f.rules:
                if not _reads_only(rule, prefixes):
                    lazy.append(rule)
                    continue
                ok, ddp = await self._rule_passes(rule, dp, tenant, ddp)
                if not ok:
                    return False, []
        return True, lazy

    async def pass_rules(self, tenant: str, rules: Sequence[FilterRule], dp: DataProvider) -> bool:
        """Whether ``dp`` passes every rule (those :meth:`lazy_pass` handed back)."""
        ddp: DynamicDataProvider | None = None
        for rule in rules:
            ok, ddp = await self._rule_passes(rule, dp, tenant, ddp)
            if not ok:
                return False
        return True

    async def _rule_passes(self, rule: FilterRule, dp: DataProvider, tenant: str,
                           ddp: DynamicDataProvider | None) -> tuple[bool, DynamicDataProvider | None]:
        """One rule on ``dp``; remote paths are fetched into ``ddp`` (made on first need and handed back, so that
        the rules of one check fetch each remote item once)."""
        self.evaluations += 1
        target: DataProvider = dp
        if rule.remote:
            if ddp is None:
                ddp = dp if isinstance(dp, DynamicDataProvider) else DynamicDataProvider(dp, self, tenant)
            for path in rule.read_paths(ddp):
                await ddp.ensure(path)
            target = ddp
        try:
            return await rule.passes(target, self), ddp
        except (FilterError, RSRError):
            raise
        except ValueError as exc:
            raise FilterError(str(exc)) from None

    async def fetch_remote(self, head: str, tenant: str, item_id: str) -> Any:
        option, method, args, read = REMOTE[head]
        conns = self.option("filters", option, None) or []
        conn = self.ctx.conns.get(conns) if conns else None
        if conn is None:
            return None
        try:
            return read(await conn.call(method, args(tenant, item_id)))
        except RPCError as exc:
            if exc.message.startswith(NOT_FOUND) or "NOT_FOUND" in exc.message:
                return None
            raise

    def event_dp(self, event: dict | None, opts: dict | None = None, **extra: Any) -> MapDataProvider:
        """The DataProvider services check filters on: ``{"*req": event, "*opts": opts, ...}``."""
        data: dict[str, Any] = {"*req": event if event is not None else {}, "*opts": opts if opts is not None else {}}
        data.update(extra)
        return MapDataProvider(data)

    async def matching_profiles(self, subsystem: str, tenant: str, event_dp: DataProvider,
                                context: str | None = None) -> list[str]:
        """Profile IDs the index selects for the event (candidates: their filters are still to be checked)."""
        return await self.indexer.matching_profiles(subsystem, tenant, event_dp, context)

    # ------------------------------------------------------------------------------------------ writes

    async def set_filter(self, raw: dict) -> None:
        """Store a filter (validated) and re-index the profiles using it."""
        compile_filter(raw)
        tenant, fid = raw.get("Tenant") or self.default_tenant, raw["ID"]
        await self.dm.set(kinds.FILTER, f"{tenant}:{fid}", raw)
        await self.indexer.filter_updated(tenant, fid)

    async def remove_filter(self, tenant: str, filter_id: str) -> bool:
        """Remove a stored filter no profile uses; False when there was none."""
        refs = await self.indexer.filter_refs(tenant, filter_id)
        if refs:
            users: dict[str, dict[str, dict]] = {}
            for ref in sorted(refs):
                kind, _, item_id = ref.partition(":")
                users.setdefault(INDEX_PARTITIONS.get(kind, kind), {})[item_id] = {}
            raise RPCError(f"cannot remove filter <{tenant}:{filter_id}> because will broken the reference to "
                           f"following items: {json.dumps(users, separators=(',', ':'))}")
        return await self.dm.remove(kinds.FILTER, f"{tenant}:{filter_id}")

    # ------------------------------------------------------------------------------------------ APIerSv1

    def decode(self, raw: dict) -> Filter:
        return compile_filter(raw)

    def to_json(self, obj: Filter) -> dict:
        """A filter as CGRateS prints it."""
        return {"Tenant": obj.tenant, "ID": obj.id,
                "Rules": [{"Type": r.type, "Element": r.element.rules, "Values": list(r.raw_values)}
                          for r in obj.rules],
                "ActivationInterval": activation_json(obj.activation)}

    async def load(self, tenant: str, item_id: str) -> Filter | None:
        try:
            return await self.get_filter(tenant, item_id)
        except RPCError as exc:
            if exc.message.startswith(NOT_FOUND):
                return None
            raise

    async def store(self, raw: dict) -> None:
        await self.set_filter(raw)

    async def delete(self, tenant: str, item_id: str) -> bool:
        return await self.remove_filter(tenant, item_id)


def _reads_only(rule: FilterRule, prefixes: Sequence[str]) -> bool:
    """Whether every dynamic part of the rule (element and values, ``~...``) starts with one of ``prefixes``
    (CGRateS's verifyPrefixes)."""
    return all(not text.startswith("~") or text.startswith(tuple(prefixes))
               for text in (rule.element.rules, *rule.raw_values))


def filter_service(ctx: Any) -> FilterService:
    """The engine's FilterS (``ctx.services["filters"]``), created on first use where the engine did not start one
    (services built alone, in tests and tools)."""
    fs = ctx.services.get("filters")
    if fs is None:
        fs = ctx.services["filters"] = FilterService(ctx)
    return fs


#: cgr-console commands (CGRateS's names)
CONSOLE_COMMANDS: dict[str, tuple[str, str]] = FilterService.crud.console_commands()
