"""Filters: inline and stored filter rules compiled once, and how each rule type checks an event.

A filter ID is either inline (``*string:~*req.Account:1001|1002``, compiled and kept in memory) or the ID of a
stored filter (DataDB kind FILTER, key ``tenant:id``, CGRateS JSON ``{"Tenant","ID","Rules":[{"Type","Element",
"Values"}],"ActivationInterval":{...}}``). Rules are ANDed; a stored filter outside its activation interval is
skipped. Types: ``*string *prefix *suffix *contains *exists *empty *gt *gte *lt *lte *eq *regex *rsr *timings
*destinations *ipnet *ai`` and their ``*not`` forms. Paths under ``~*accounts.<id>``, ``~*stats.<id>`` and
``~*resources.<id>`` are remote: FilterS fetches them before the rule is checked; ``~*asm`` reads the event as the
AccountSummary of an AccountUpdate event.
"""


from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pycgrates.engine.rating.timings import is_active_at, timing_of
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.template.dataprovider import (
    DataProvider,
    NotFoundError,
    as_string,
    as_time,
    string_to_value,
)
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.gocompat import compile_go_regex
from pycgrates.engine.template.rsr import RSRFilters, RSRParser, RSRParsers, parse_rsr_list, parse_rsr_one
from pycgrates.engine.units import parse_time

if TYPE_CHECKING:
    from pycgrates.engine.filters.service import FilterService


NOT_PREFIX = "*not"
INDEXABLE = frozenset({"*string", "*prefix", "*suffix"})
NONE_KEY = "*none:*any:*any"
_NO_VALUES = frozenset({"*exists", "*empty"})
_TYPES = frozenset({"*string", "*contains", "*prefix", "*suffix", "*timings", "*rsr", "*destinations", "*empty",
                    "*exists", "*lt", "*lte", "*gt", "*gte", "*eq", "*ipnet", "*ai", "*regex"})
#: path head → (filters-section connections option, method, argument builder)


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
        self.remote = any(t.startswith(("~*accounts", "~*stats", "~*resources", "~*asm")) or "<" in t for t in texts)

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
        if timing is not None and is_active_at(timing_of(timing), t):
            return True
    return False


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


def decode_filter(raw: Any) -> Any:
    try:
        return compile_filter(raw)
    except (FilterError, ValueError) as exc:
        return FilterError(f"filter {raw.get('Tenant')}:{raw.get('ID')}: {exc}")


def decode_index(raw: Any) -> Any:
    return frozenset(raw) if isinstance(raw, list) else raw



