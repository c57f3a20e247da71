"""FilterS: inline and stored filters, compiled once, and the filter indexes that make profile matching O(matched).

A filter ID is either inline (``*string:~*req.Account:1001|1002``, compiled and kept in memory) or the ID of a
stored filter (DataDB kind FILTER, key ``tenant:id``, CGRateS JSON ``{"Tenant","ID","Rules":[{"Type","Element",
"Values"}],"ActivationInterval":{...}}``), compiled by the DataManager's decoder and cached there. Rules are ANDed;
a stored filter outside its activation interval is skipped, and at least one active filter must pass (CGRateS's
``FilterS.Pass``). Types: ``*string *prefix *suffix *contains *exists *empty *gt *gte *lt *lte *eq *regex *rsr
*timings *destinations *ipnet *ai`` and their ``*not`` forms. Paths under ``~*accounts.<id>``, ``~*stats.<id>`` and
``~*resources.<id>`` are fetched once per check through the ``filters`` section's connections.

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
import ipaddress
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.template.dataprovider import (
    DataProvider,
    MapDataProvider,
    NotFoundError,
    as_string,
    as_time,
    dynamic_path,
    navigate,
    split_path,
    string_to_value,
)
from pycgrates.engine.template.rsr import (
    RSRError,
    RSRFilters,
    RSRParser,
    RSRParsers,
    compile_go_regex,
    parse_rsr_list,
    parse_rsr_one,
)
from pycgrates.engine.units import now as utc_now
from pycgrates.engine.units import parse_time

log = logging.getLogger("cgr.filters")

NOT_PREFIX = "*not"
INDEXABLE = frozenset({"*string", "*prefix", "*suffix"})
NONE_KEY = "*none:*any:*any"
_NO_VALUES = frozenset({"*exists", "*empty"})
_TYPES = frozenset({"*string", "*contains", "*prefix", "*suffix", "*timings", "*rsr", "*destinations", "*empty",
                    "*exists", "*lt", "*lte", "*gt", "*gte", "*eq", "*ipnet", "*ai", "*regex"})
#: path head → (filters-section connections option, method, argument builder)
REMOTE = {
    "*accounts": ("apiers_conns", "APIerSv2.GetAccount", lambda tnt, i: {"Tenant": tnt, "Account": i}),
    "*stats": ("stats_conns", "StatSv1.GetQueueFloatMetrics", lambda tnt, i: {"Tenant": tnt, "ID": i}),
    "*resources": ("resources_conns", "ResourceSv1.GetResource", lambda tnt, i: {"Tenant": tnt, "ID": i}),
}


class FilterError(ValueError):
    """A filter that cannot be compiled or evaluated (wrong type, bad regexp, incomparable values)."""


# ---------------------------------------------------------------------------------------------------- compiling


@dataclass(frozen=True, slots=True)
class ActivationInterval:
    activation: datetime | None = None
    expiry: datetime | None = None

    def is_active_at(self, t: datetime) -> bool:
        return (self.activation is None or self.activation <= t) and (self.expiry is None or t < self.expiry)


def parse_activation_interval(raw: Any) -> ActivationInterval | None:
    """``{"ActivationTime","ExpiryTime"}`` (or the CSV text ``start;end``) → interval; None when unbounded."""
    if not raw:
        return None
    if isinstance(raw, str):
        start, _, end = raw.partition(";")
        raw = {"ActivationTime": start, "ExpiryTime": end}
    start = parse_time(raw.get("ActivationTime") or None)
    end = parse_time(raw.get("ExpiryTime") or None)
    return None if start is None and end is None else ActivationInterval(start, end)


def activation_json(ai: ActivationInterval | None) -> dict | None:
    from pycgrates.engine.units import format_time

    if ai is None:
        return None
    return {"ActivationTime": format_time(ai.activation), "ExpiryTime": format_time(ai.expiry)}


class FilterRule:
    """One compiled rule; :meth:`passes` answers for a DataProvider (async only for the DataDB-backed types)."""

    __slots__ = ("base", "element", "negative", "raw_values", "regexes", "remote", "rsr_filters", "type", "values")

    def __init__(self, rtype: str, element: str, values: Sequence[str]) -> None:
        self.type = rtype
        self.negative = rtype.startswith(NOT_PREFIX)
        self.base = "*" + rtype[len(NOT_PREFIX):] if self.negative else rtype
        if self.base not in _TYPES:
            raise FilterError(f"Unsupported filter Type: {rtype}")
        if not element:
            raise FilterError(f"Element is mandatory for Type: {rtype}")
        self.raw_values = tuple(values)
        if not self.raw_values and self.base not in _NO_VALUES:
            raise FilterError(f"Values is mandatory for Type: {rtype}")
        try:
            self.element: RSRParser = parse_rsr_list([element])[0]
            self.values = RSRParsers()
            self.regexes = ()
            self.rsr_filters = RSRFilters()
            if self.base == "*regex":
                self.regexes = tuple(compile_go_regex(v) for v in self.raw_values)
            elif self.base == "*rsr":
                self.rsr_filters = RSRFilters.parse(self.raw_values)
            elif self.base == "*ai":  # an empty start means "until the end"
                self.values = RSRParsers(parse_rsr_one(v) for v in self.raw_values)  # type: ignore[misc]
            elif self.base not in _NO_VALUES:
                self.values = parse_rsr_list(self.raw_values)
        except RSRError as exc:
            raise FilterError(f"{rtype}:{element}: {exc}") from None
        texts = [element, *self.raw_values]
        self.remote = any(t.startswith(("~*accounts", "~*stats", "~*resources")) or "<" in t for t in texts)

    def __repr__(self) -> str:
        return f"FilterRule({self.type}:{self.element.rules}:{'|'.join(self.raw_values)})"

    def index_keys(self) -> list[tuple[str, str, str]] | None:
        """``("*string", "*req.Account", "1001")`` per value when the rule can be indexed, else None."""
        if self.negative or self.base not in INDEXABLE or not self.raw_values:
            return None
        el = self.element
        if el.dyn_rules is not None or el.search_replace or el.converters:
            return None
        if el.is_dynamic:
            if not all(v.static is not None and not v.converters and v.dyn_rules is None for v in self.values):
                return None
            path = ".".join(el.path)
            return [(self.base, path, v.static) for v in self.values]  # type: ignore[misc]
        if all(v.is_dynamic and v.dyn_rules is None and not v.search_replace and not v.converters
               for v in self.values):
            return [(self.base, ".".join(v.path), el.static) for v in self.values]  # type: ignore[misc]
        return None

    def read_paths(self, dp: DataProvider) -> list[tuple[str, ...]]:
        """Concrete paths this rule reads from ``dp`` (``<...>`` parts resolved where possible)."""
        out = []
        for p in (self.element, *self.values):
            if p is None:
                continue
            try:
                path = p.read_path(dp)
            except (NotFoundError, ValueError):
                continue
            if path:
                out.append(path)
        return out

    async def passes(self, dp: DataProvider, fs: FilterService) -> bool:
        check = _SYNC_CHECKS.get(self.base)
        if self.base == "*ai":
            result = _pass_ai(self, dp, fs.timezone)
        elif check is not None:
            result = check(self, dp)
        elif self.base == "*destinations":
            result = await _pass_destinations(self, dp, fs)
        else:
            result = await _pass_timings(self, dp, fs)
        return result != self.negative


def _element_string(rule: FilterRule, dp: DataProvider, typed: bool = False) -> str | None:
    try:
        return rule.element.parse_any(dp) if typed else rule.element.parse(dp)
    except NotFoundError:
        return None


def _value_strings(rule: FilterRule, dp: DataProvider, typed: bool = False) -> Iterable[str]:
    for v in rule.values:
        try:
            yield v.parse_any(dp) if typed else v.parse(dp)
        except (RPCError, ValueError):
            continue


def _pass_compare(op):
    def check(rule: FilterRule, dp: DataProvider) -> bool:
        field = _element_string(rule, dp)
        if field is None:
            return False
        return any(op(field, v) for v in _value_strings(rule, dp))

    return check


def _pass_exists(rule: FilterRule, dp: DataProvider) -> bool:
    try:
        _field_any(rule, dp)
    except NotFoundError:
        return False
    return True


def _pass_empty(rule: FilterRule, dp: DataProvider) -> bool:
    try:
        value = _field_any(rule, dp)
    except NotFoundError:
        return True
    if value is None:
        return True
    if isinstance(value, str | list | tuple | dict | set | frozenset):
        return len(value) == 0
    return False


def _field_any(rule: FilterRule, dp: DataProvider) -> Any:
    path = rule.element.read_path(dp)
    if path is None:
        return string_to_value(rule.element.compile_dyn_rule(dp))
    return dp.field_as_any(path)


def _basic(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal):
        return float(value)
    return value


def _uniform(a: Any, b: Any) -> tuple[Any, Any]:
    a, b = _basic(a), _basic(b)
    if type(a) is not type(b):
        if isinstance(a, int | float) and not isinstance(a, bool) and isinstance(b, int | float) \
                and not isinstance(b, bool):
            return float(a), float(b)
        raise FilterError(f"incomparable: <{as_string(a)}> with <{as_string(b)}>")
    return a, b


def greater_than(a: Any, b: Any, or_equal: bool) -> bool:
    """CGRateS ``utils.GreaterThan`` after ``StringToInterface``: numbers, durations, times (and strings)."""
    a, b = _uniform(a, b)
    if isinstance(a, bool):
        raise FilterError(f"incomparable: <{as_string(a)}> with <{as_string(b)}>")
    return a >= b if or_equal else a > b


def equal_to(a: Any, b: Any) -> bool:
    a, b = _uniform(a, b)
    return a == b


def _pass_order(rule: FilterRule, dp: DataProvider) -> bool:
    field = _element_string(rule, dp, typed=True)
    if field is None:
        return False
    fld = string_to_value(field)
    or_equal = rule.base in ("*gte", "*lt")
    greater = rule.base in ("*gt", "*gte")
    for sval in _value_strings(rule, dp, typed=True):
        gte = greater_than(fld, string_to_value(sval), or_equal)
        if gte == greater:
            return True
    return False


def _pass_eq(rule: FilterRule, dp: DataProvider) -> bool:
    field = _element_string(rule, dp, typed=True)
    if field is None:
        return False
    fld = string_to_value(field)
    return any(equal_to(fld, string_to_value(s)) for s in _value_strings(rule, dp, typed=True))


def _pass_regex(rule: FilterRule, dp: DataProvider) -> bool:
    field = _element_string(rule, dp)
    return field is not None and any(r.search(field) is not None for r in rule.regexes)


def _pass_rsr(rule: FilterRule, dp: DataProvider) -> bool:
    field = _element_string(rule, dp)
    if field is None:
        return rule.rsr_filters.rules == "^$"
    return rule.rsr_filters.passes(field)


def _pass_ipnet(rule: FilterRule, dp: DataProvider) -> bool:
    field = _element_string(rule, dp)
    if field is None:
        return False
    try:
        ip = ipaddress.ip_address(field.strip())
    except ValueError:
        return False
    for sval in _value_strings(rule, dp):
        try:
            if ip in ipaddress.ip_network(sval.strip(), strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


def _pass_ai(rule: FilterRule, dp: DataProvider, tz: str | None = None) -> bool:
    field = _element_string(rule, dp)
    if field is None:
        return False
    tz = tz or getattr(dp, "timezone", None)
    t = as_time(field, tz)

    def at(i: int) -> datetime | None:
        p = rule.values[i]
        return None if p is None else as_time(p.parse(dp), tz)

    if len(rule.values) >= 2:
        end = at(1)
        start = at(0)
        if end is None:
            return start is not None and start < t
        return (start is None or start < t) and t < end
    start = at(0)
    return start is not None and start < t


_SYNC_CHECKS = {
    "*string": _pass_compare(lambda f, v: f == v),
    "*contains": _pass_compare(lambda f, v: v in f),
    "*prefix": _pass_compare(lambda f, v: f.startswith(v)),
    "*suffix": _pass_compare(lambda f, v: f.endswith(v)),
    "*exists": _pass_exists,
    "*empty": _pass_empty,
    "*gt": _pass_order,
    "*gte": _pass_order,
    "*lt": _pass_order,
    "*lte": _pass_order,
    "*eq": _pass_eq,
    "*regex": _pass_regex,
    "*rsr": _pass_rsr,
    "*ipnet": _pass_ipnet,
    "*ai": _pass_ai,
}


async def _pass_destinations(rule: FilterRule, dp: DataProvider, fs: FilterService) -> bool:
    dst = _element_string(rule, dp)
    if not dst:
        return False
    wanted = set(_value_strings(rule, dp))
    for i in range(len(dst), 0, -1):
        ids = await fs.dm.get(kinds.REVERSE_DESTINATION, dst[:i])
        if ids and not wanted.isdisjoint(ids):
            return True
    return False


async def _pass_timings(rule: FilterRule, dp: DataProvider, fs: FilterService) -> bool:
    field = _element_string(rule, dp, typed=True)
    if field is None:
        return False
    t = as_time(field, fs.timezone)
    for v in rule.values:
        timing = await fs.dm.get(kinds.TIMING, v.parse(dp))
        if timing is not None and timing_active_at(timing, t):
            return True
    return False


def _ints(value: Any) -> set[int]:
    if value in (None, "", "*any"):
        return set()
    if isinstance(value, str):
        value = [x for x in value.replace(",", ";").split(";") if x and x != "*any"]
    return {int(x) for x in value}


def _hms(text: str) -> tuple[int, int, int] | None:
    if not text or text == "*any":
        return None
    parts = [int(x) for x in text.split(":")] + [0, 0]
    return parts[0], parts[1], parts[2]


def timing_active_at(timing: Any, t: datetime) -> bool:
    """Whether a Timings record (``{"Years","Months","MonthDays","WeekDays","StartTime","EndTime"}``) covers ``t``."""
    rec = timing if isinstance(timing, dict) else getattr(timing, "to_json", lambda: vars(timing))()
    years, months = _ints(rec.get("Years")), _ints(rec.get("Months"))
    days, weekdays = _ints(rec.get("MonthDays")), _ints(rec.get("WeekDays"))
    if (years and t.year not in years) or (months and t.month not in months):
        return False
    if days and t.day not in days:
        return False
    if weekdays and (t.isoweekday() % 7) not in weekdays:
        return False
    now_hms = (t.hour, t.minute, t.second)
    start, end = _hms(rec.get("StartTime") or ""), _hms(rec.get("EndTime") or "")
    if start and now_hms < start:
        return False
    return not (end and now_hms > end)


@dataclass(slots=True)
class Filter:
    tenant: str
    id: str
    rules: tuple[FilterRule, ...]
    activation: ActivationInterval | None = None
    raw: dict | None = None

def split_inline_values(text: str) -> list[str]:
    """Split on ``|`` outside ``<...>`` dynamic parts (CGRateS's splitDynFltrValues)."""
    if "<" not in text:
        return text.split("|")
    out, buf, depth = [], [], 0
    for ch in text:
        if ch == "<":
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    out.append("".join(buf))
    return out


def inline_filter(tenant: str, rule: str) -> Filter:
    """``*type:element:value1|value2`` compiled (raises FilterError)."""
    parts = rule.split(":", 2)
    if len(parts) != 3:
        raise FilterError(f"inline parse error for string: <{rule}>")
    values = split_inline_values(parts[2]) if parts[2] else []
    return Filter(tenant, rule, (FilterRule(parts[0], parts[1], values),))


def compile_filter(raw: dict) -> Filter:
    """A stored filter (CGRateS JSON) compiled; ``Values`` may also be the CSV's ``;``-joined text."""
    rules = []
    for r in raw.get("Rules") or ():
        values = r.get("Values") or []
        if isinstance(values, str):
            values = [v for v in values.split(";") if v]
        rules.append(FilterRule(r.get("Type") or "", r.get("Element") or r.get("FieldName") or "", values))
    return Filter(raw.get("Tenant") or "", raw.get("ID") or "", tuple(rules),
                  parse_activation_interval(raw.get("ActivationInterval")), raw)


def _decode_filter(raw: Any) -> Any:
    try:
        return compile_filter(raw)
    except (FilterError, ValueError) as exc:
        return FilterError(f"filter {raw.get('Tenant')}:{raw.get('ID')}: {exc}")


def _decode_index(raw: Any) -> Any:
    return frozenset(raw) if isinstance(raw, list) else raw


# ---------------------------------------------------------------------------------------------------- dynamic DP


class DynamicDataProvider:
    """Wraps an event DataProvider; ``*accounts.<id>``, ``*stats.<id>``, ``*resources.<id>`` come from the
    services, fetched once per check (:meth:`ensure`)."""

    __slots__ = ("base", "fs", "loaded", "tenant", "timezone")

    def __init__(self, base: DataProvider, fs: FilterService, tenant: str) -> None:
        self.base = base
        self.fs = fs
        self.tenant = tenant
        self.loaded: dict[tuple[str, str], Any] = {}
        self.timezone = getattr(base, "timezone", None) or fs.timezone

    def field_as_any(self, path: Sequence[str]) -> Any:
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


class FilterService:
    """FilterS for the whole engine (``ctx.services["filters"]``)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.dm = ctx.dm
        self._inline: dict[str, Filter | FilterError] = {}
        #: rules evaluated since start (what the index saves is visible here)
        self.evaluations = 0
        register = getattr(self.dm, "register_decoder", None)
        if register is not None:
            register(kinds.FILTER, _decode_filter)
            register(kinds.FILTER_INDEX, _decode_index)
        self.indexer = FilterIndexer(self)

    @property
    def timezone(self) -> str | None:
        return _cfg(self.ctx, "general", "default_timezone", None)

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
            f = await self.dm.get(kinds.FILTER, f"{tenant}:{filter_id}", _decode_filter)
            if f is None:
                raise RPCError(f"{NOT_FOUND}:{filter_id}")
            if isinstance(f, dict):
                f = _decode_filter(f)
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
                self.evaluations += 1
                target: DataProvider = dp
                if rule.remote:
                    if ddp is None:
                        ddp = dp if isinstance(dp, DynamicDataProvider) else DynamicDataProvider(dp, self, tenant)
                    for path in rule.read_paths(ddp):
                        await ddp.ensure(path)
                    target = ddp
                try:
                    ok = await rule.passes(target, self)
                except (FilterError, RSRError):
                    raise
                except ValueError as exc:
                    raise FilterError(str(exc)) from None
                if not ok:
                    return False
            passed = True
        return passed

    async def fetch_remote(self, head: str, tenant: str, item_id: str) -> Any:
        option, method, args = REMOTE[head]
        conns = _cfg(self.ctx, "filters", option, None) or []
        conn = self.ctx.conns.get(conns) if conns else None
        if conn is None:
            return None
        try:
            return await conn.call(method, args(tenant, item_id))
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
        tenant, fid = raw.get("Tenant") or _default_tenant(self.ctx), raw["ID"]
        await self.dm.set(kinds.FILTER, f"{tenant}:{fid}", raw)
        await self.indexer.filter_updated(tenant, fid)

    async def remove_filter(self, tenant: str, filter_id: str) -> bool:
        refs = await self.indexer.filter_refs(tenant, filter_id)
        if refs:
            raise RPCError(f"cannot remove filter <{tenant}:{filter_id}>: used by {', '.join(sorted(refs))}")
        return await self.dm.remove(kinds.FILTER, f"{tenant}:{filter_id}")


def _cfg(ctx: Any, section: str, option: str, default: Any) -> Any:
    cfg = getattr(ctx, "cfg", None)
    if cfg is None:
        return default
    try:
        return cfg.get(section, option, default=default)
    except KeyError:
        return default


def _default_tenant(ctx: Any) -> str:
    return _cfg(ctx, "general", "default_tenant", "cgrates.org") or "cgrates.org"


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


def filter_service(ctx: Any) -> FilterService:
    """The engine's FilterS (``ctx.services["filters"]``), created on first use where the engine did not start one
    (services built alone, in tests and tools)."""
    fs = ctx.services.get("filters")
    if fs is None:
        fs = ctx.services["filters"] = FilterService(ctx)
    return fs


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
        return await self.dm.get(kinds.FILTER_INDEX, key, _decode_index)

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
        ctx = self.fs.ctx

        def fields(option: str) -> tuple[str, ...] | None:
            value = _cfg(ctx, sub.section, option, None)
            return None if value is None else tuple(value)

        strings, prefixes, suffixes = (fields("string_indexed_fields"), fields("prefix_indexed_fields"),
                                       fields("suffix_indexed_fields"))
        nested = bool(_cfg(ctx, sub.section, "nested_fields", False))
        opts = IndexOptions(bool(_cfg(ctx, sub.section, "indexed_selects", True)), strings, prefixes, suffixes,
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


__all__ = [
    "ActivationInterval",
    "DynamicDataProvider",
    "Filter",
    "FilterError",
    "FilterIndexer",
    "FilterRule",
    "FilterService",
    "Subsystem",
    "activation_json",
    "compile_filter",
    "greater_than",
    "inline_filter",
    "parse_activation_interval",
    "reset_filter_indexes",
    "split_path",
    "subsystem",
    "timing_active_at",
]
