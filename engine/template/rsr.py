"""RSR values as CGRateS parses them: ``~*req.Account:s/^(\\d+)$/+49$1/{*duration_seconds&*round:2}``.

An RSR value is one or more parsers joined by ``;`` (``general.rsr_separator``); back-quoted text is literal and
never split (``~*req.Account;`-`;~*req.Destination``). Each parser is either a constant or ``~path`` followed by
search-and-replace rules (``:s/regex/template/``, Go's regexp and ``$1``/``${name}`` expansion: the result is the
expanded template, the input unchanged when nothing matched) and ``{*conv1&*conv2:param}`` converters. A path may
embed another value in angle brackets: ``~*req.<~*req.FieldName>``.

Everything is compiled once (:func:`parse_rsr`); parsing an event then only reads fields and runs the compiled
rules. Converters live in a registry (:func:`register_converter`) so more can be added where they are needed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pycgrates.engine.template.converters import Converter, convert_string, new_converter
from pycgrates.engine.template.dataprovider import (
    DYNAMIC_PREFIX,
    DataProvider,
    NotFoundError,
    as_string,
    dynamic_path,
    format_float,
    split_path,
    string_to_value,
)
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.gocompat import compile_go_regex, go_expand

DEFAULT_SEP = ";"
CONST_QUOTE = "`"



class SearchReplace:
    """One ``:s/regex/template/`` rule (CGRateS ReSearchReplace): first match, expanded; input if no match."""

    __slots__ = ("regex", "template")

    def __init__(self, regex: str, template: str) -> None:
        self.regex = compile_go_regex(regex)
        self.template = template

    def process(self, source: str) -> str:
        m = self.regex.search(source)
        if m is None:
            return source
        return go_expand(self.template, m)




# ---------------------------------------------------------------------------------------------------- parsers

_SR_SPLIT = re.compile(r":s/")
_SR_RULE = re.compile(r"(?:(.*[^\\])/(.*[^\\])*/){1,}")


class RSRParser:
    """One compiled RSR rule: a constant or a path, with search-and-replace rules and converters."""

    __slots__ = ("converters", "dyn_end", "dyn_rules", "dyn_start", "path", "rules", "search_replace", "sep",
                 "static")

    def __init__(self, rules: str, sep: str = DEFAULT_SEP) -> None:
        if not rules:
            raise RSRError("empty RSR rule")
        self.rules = rules
        self.sep = sep
        self.static: str | None = None
        self.path: tuple[str, ...] = ()
        self.search_replace: tuple[SearchReplace, ...] = ()
        self.converters: tuple[Converter, ...] = ()
        self.dyn_rules: RSRParsers | None = None
        self.dyn_start = self.dyn_end = 0
        text = rules
        start = text.find("<")
        if start >= 0:
            end = text.find(">", start)
            if end >= 0:
                self.dyn_rules = parse_rsr(text[start + 1 : end], sep)
                self.dyn_start, self.dyn_end = start, end + 1
                return
        idx = text.find("{*")
        if idx >= 0:
            if not text.endswith("}"):
                raise RSRError(f"invalid converter terminator in rule: <{rules}>")
            self.converters = tuple(new_converter(c) for c in text[idx + 1 : -1].split("&"))
            text = text[:idx]
        if not text.startswith(DYNAMIC_PREFIX) or len(text) == 1:
            self.static = text
            return
        parts = _SR_SPLIT.split(text)
        self.path = split_path(parts[0][1:])
        rules_sr = []
        for rule in parts[1:]:
            m = _SR_RULE.search(rule)
            if m is None:
                raise RSRError(f"not enough members in Search&Replace, ruleStr: <{rule}> (use :s/regex/template/)")
            try:
                rules_sr.append(SearchReplace(m.group(1), m.group(2) or ""))
            except RSRError:
                raise RSRError(f"invalid Search&Replace subfield rule: <{m.group(1)}>") from None
        self.search_replace = tuple(rules_sr)

    def __repr__(self) -> str:
        return f"RSRParser({self.rules!r})"

    @property
    def is_dynamic(self) -> bool:
        return self.static is None

    def _finish(self, value: str) -> str:
        for sr in self.search_replace:
            value = sr.process(value)
        if self.converters:
            return convert_string(self.converters, value)
        return value

    def _resolved(self, dp: DataProvider) -> RSRParser:
        assert self.dyn_rules is not None
        inner = self.dyn_rules.parse(dp)
        return _cached_parser(self.rules[: self.dyn_start] + inner + self.rules[self.dyn_end :], self.sep)

    def parse_value(self, value: Any) -> str:
        """The rule applied to a given value (constants give themselves): CGRateS's ParseValue."""
        out = self.static if self.static is not None else as_string(value)
        return self._finish(out if out is not None else "")

    def parse(self, dp: DataProvider) -> str:
        """The rule applied to a DataProvider, reading its path as a string (ParseDataProvider)."""
        if self.dyn_rules is not None:
            return self._resolved(dp).parse(dp)
        if self.static is not None:
            return self._finish(self.static)
        return self._finish(dp.field_as_string(self.path))

    def parse_any(self, dp: DataProvider) -> str:
        """As :meth:`parse`, reading the field with its own type first (ParseDataProviderWithInterfaces)."""
        if self.dyn_rules is not None:
            return self._resolved(dp).parse_any(dp)
        if self.static is not None:
            return self._finish(self.static)
        return self._finish(as_string(dp.field_as_any(self.path)))

    def compile_dyn_rule(self, dp: DataProvider) -> str:
        """The rule text with its ``<...>`` part resolved."""
        if self.dyn_rules is None:
            return self.rules
        return self.rules[: self.dyn_start] + self.dyn_rules.parse(dp) + self.rules[self.dyn_end :]

    def read_path(self, dp: DataProvider | None = None) -> tuple[str, ...] | None:
        """The path this rule reads (resolving ``<...>`` through ``dp``); None for a constant."""
        if self.dyn_rules is not None:
            if dp is None:
                return None
            return self._resolved(dp).read_path(dp)
        return self.path if self.static is None else None

    def paths(self) -> list[str]:
        """Every path text this rule may read, its ``<...>`` part included (to know what it depends on)."""
        out = [self.rules] if self.dyn_rules is not None else []
        if self.static is None and self.dyn_rules is None:
            out.append(DYNAMIC_PREFIX + ".".join(self.path))
        if self.dyn_rules is not None:
            out.extend(p for r in self.dyn_rules for p in r.paths())
        return out


@lru_cache(maxsize=4096)
def _cached_parser(rules: str, sep: str) -> RSRParser:
    return RSRParser(rules, sep)


class RSRParsers(tuple[RSRParser, ...]):
    """An RSR value: parsers whose outputs are concatenated."""

    __slots__ = ()

    def parse(self, dp: DataProvider) -> str:
        if len(self) == 1:
            return self[0].parse(dp)
        return "".join(p.parse(dp) for p in self)

    def parse_any(self, dp: DataProvider) -> str:
        return "".join(p.parse_any(dp) for p in self)

    def parse_value(self, value: Any) -> str:
        return "".join(p.parse_value(value) for p in self)

    def values(self, dp: DataProvider) -> list[Any]:
        """Each parser's output read back as a typed value (CGRateS's GetIfaceFromValues)."""
        from pycgrates.engine.template.dataprovider import string_to_value

        return [string_to_value(p.parse(dp)) for p in self]

    @property
    def rule(self) -> str:
        return ";".join(p.rules for p in self)

    def is_constant(self) -> bool:
        return all(p.static is not None and p.dyn_rules is None for p in self)


def split_rsr(rules: str, sep: str = DEFAULT_SEP) -> list[str]:
    """Split an RSR value on ``sep`` outside back-quotes; back-quotes are dropped, their content kept literally."""
    if CONST_QUOTE not in rules:
        return rules.split(sep)
    if rules.count(CONST_QUOTE) % 2:
        raise RSRError(f"unclosed back-quote in <{rules}>")
    out: list[str] = []
    buf: list[str] = []
    quoted = False
    i = 0
    n = len(rules)
    while i < n:
        ch = rules[i]
        if ch == CONST_QUOTE:
            quoted = not quoted
            i += 1
            continue
        if not quoted and rules.startswith(sep, i):
            out.append("".join(buf))
            buf = []
            i += len(sep)
            continue
        buf.append(ch)
        i += 1
    out.append("".join(buf))
    return out


@lru_cache(maxsize=8192)
def parse_rsr(rules: str, sep: str = DEFAULT_SEP) -> RSRParsers:
    """Compile an RSR value (cached: the same text always gives the same compiled parsers)."""
    if not rules:
        return RSRParsers()
    return parse_rsr_list(tuple(split_rsr(rules, sep)), sep)


def parse_rsr_list(rules: Sequence[str], sep: str = DEFAULT_SEP) -> RSRParsers:
    """Compile one parser per item (CGRateS's NewRSRParsersFromSlice)."""
    out = []
    for rule in rules:
        if not rule:
            raise RSRError(f"empty RSRParser in rule: <{sep.join(rules)}>")
        out.append(RSRParser(rule, sep))
    return RSRParsers(out)


def parse_rsr_one(rule: str, sep: str = DEFAULT_SEP) -> RSRParser | None:
    """One parser (no splitting), None for an empty rule (CGRateS's NewRSRParser)."""
    return RSRParser(rule, sep) if rule else None


# ---------------------------------------------------------------------------------------------------- RSR filters


class RSRFilter:
    """One ``*rsr`` filter value as CGRateS's RSRFilter reads it: ``~regexp`` (Go's syntax); ``^$`` empty; ``^x$``
    exactly x; ``^x`` starts with x; ``x$`` ends with x; ``>=x``, ``<=x``, ``>x``, ``<x`` compared as Go compares
    numbers, durations and times (not comparable: fails); anything else: contains x. A leading ``!`` negates;
    empty passes."""

    __slots__ = ("negative", "regex", "rule", "text")

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.negative = False
        self.regex: re.Pattern[str] | None = None
        text = rule
        if text.startswith("!"):
            self.negative = True
            text = text[1:]
        self.text = text
        if text.startswith(DYNAMIC_PREFIX):
            self.regex = compile_go_regex(text[1:])

    def passes(self, value: str) -> bool:
        if not self.text:
            return not self.negative
        return self._matches(value) != self.negative

    def _matches(self, value: str) -> bool:
        text = self.text
        if self.regex is not None:
            return self.regex.search(value) is not None
        if text.startswith("^"):
            return value == text[1:-1] if text.endswith("$") else value.startswith(text[1:])
        if text.endswith("$"):
            return value.endswith(text[:-1])
        for op, greater, or_equal in ((">=", True, True), ("<=", False, True), (">", True, False),
                                      ("<", False, False)):
            if text.startswith(op) and (len(op) == 1 or len(text) > 2):
                return _compares(value, text[len(op):], greater, or_equal)
        return text in value


def _compares(value: str, bound: str, greater: bool, or_equal: bool) -> bool:
    """``value`` above (or below) ``bound``, both read as Go's StringToInterface reads them; False when they do not
    compare."""
    from pycgrates.engine.filters.rules import greater_than  # filters build on templates, not the other way

    a, b = string_to_value(value), string_to_value(bound)
    try:
        return greater_than(a, b, or_equal) if greater else greater_than(b, a, or_equal)
    except (ValueError, TypeError):
        return False


class RSRFilters(tuple[RSRFilter, ...]):
    __slots__ = ()

    @classmethod
    def parse(cls, rules: Sequence[str]) -> RSRFilters:
        return cls(RSRFilter(r) for r in rules)

    def passes(self, value: str, all_must_match: bool = False) -> bool:
        matched = False
        for f in self:
            matched = f.passes(value)
            if all_must_match:
                if not matched:
                    return False
            elif matched:
                return True
        return matched

    @property
    def rules(self) -> str:
        return "".join(f.rule for f in self)



__all__ = [
    "DEFAULT_SEP",
    "NotFoundError",
    "RSRError",
    "RSRFilter",
    "RSRFilters",
    "RSRParser",
    "RSRParsers",
    "SearchReplace",
    "dynamic_path",
    "format_float",
    "parse_rsr",
    "parse_rsr_list",
    "parse_rsr_one",
    "split_rsr",
]
