"""Field templates: the request-template engine every agent (and event reader) shares.

A field template (CGRateS's FCTemplate) says where a value goes (``path``: ``*cgreq.Account``, ``*rep.Result-Code``,
``*vars.X``), how it is computed (``type`` and an RSR ``value``), and when (``filters``). Templates are compiled once
(:func:`compile_fields`) — RSR values, inline filters, dynamic ``<...>`` paths, ``*template`` references — so a wrong
template is a config error naming where it sits and which field; evaluating one against a request parses nothing.

Values are written into a :class:`NavMap` (CGRateS's OrderedNavigableMap) or into plain dicts (``*vars``,
``*cgrep``, ``*opts``, ``*tmp``). :class:`TemplateContext` is the DataProvider the fields read from and write into.
The map and the Diameter selector (:class:`SelectorDataProvider`) live in :mod:`.navmap` and are re-exported
here for the agents.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pycgrates.engine.config.loader import ConfigError
from pycgrates.engine.filters.rules import Filter, FilterError, inline_filter
from pycgrates.engine.rpc.errors import mandatory_ie_missing
from pycgrates.engine.template.dataprovider import (
    DataProvider,
    Duration,
    MapDataProvider,
    NotFoundError,
    as_duration,
    as_float,
    as_int,
    as_string,
    as_time,
    format_float,
    parse_segment,
    split_path,
)
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.gocompat import format_go_time, go_round
from pycgrates.engine.template.navmap import (  # re-exported: the agents' single import point
    AVPTree,
    Leaf,
    NavMap,
    NestedAVPs,
    SelectorDataProvider,
    _selector,
    navigate_reply,
    path_keys,
    set_field,
)
from pycgrates.engine.template.rsr import DEFAULT_SEP, RSRParsers, parse_rsr
from pycgrates.engine.units import TimeError, get_timezone

RFC3339 = "2006-01-02T15:04:05Z07:00"

FIELD_TYPES = frozenset({
    "*constant", "*variable", "*composed", "*group", "*filler", "*usage_difference", "*cc_usage", "*sum",
    "*difference", "*multiply", "*divide", "*value_exponent", "*unix_timestamp", "*datetime", "*template",
    "*remove", "*removeall", "*none",
})
#: types whose output is a string formatted by width/strip/padding (CGRateS's isString)
_STRING_TYPES = frozenset({"*constant", "*variable", "*composed", "*group", "*filler", "*usage_difference"})
_NO_VALUE_TYPES = frozenset({"*none", "*remove", "*removeall"})
_ARITY = {"*usage_difference": 2, "*cc_usage": 3, "*value_exponent": 2}
STRIP = frozenset({"", "*right", "*xright", "*left", "*xleft"})
PADDING = frozenset({"", "*right", "*left", "*zeroleft"})

#: prefixes request and reply fields may write (agents add theirs, e.g. ``*radDAReq``)
WRITABLE_PREFIXES = frozenset({"*cgreq", "*cgrep", "*rep", "*diamreq", "*opts", "*vars", "*tmp"})


class TemplateError(ConfigError):
    """A field template that cannot be compiled; the message names where it is and which field."""


class FieldError(ValueError):
    """A field that could not be computed for one request (a value of the wrong kind, a bad time, ...)."""


# ---------------------------------------------------------------------------------------------------- filters


class FieldFilters:
    """Filter IDs compiled once: inline rules are kept compiled; stored filter IDs go to FilterS when checked."""

    __slots__ = ("ids", "inline", "local")

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = tuple(ids)
        inline: list[Filter] = []
        for fid in self.ids:
            if fid.startswith("*"):
                inline.append(inline_filter("", fid))  # raises FilterError
        self.inline = tuple(inline)
        #: every filter is inline and needs no service (no *destinations, *timings or remote paths)
        self.local = len(inline) == len(self.ids) and not any(
            r.remote or r.base in ("*destinations", "*timings") for f in inline for r in f.rules)

    def __repr__(self) -> str:
        return f"FieldFilters({list(self.ids)!r})"

    async def passes(self, tenant: str, dp: DataProvider, filter_service: Any = None) -> bool:
        """Whether ``dp`` passes all the filters (CGRateS's FilterS.Pass)."""
        if not self.local:
            if filter_service is None:
                raise FilterError(f"filters {list(self.ids)} need FilterS (stored filters, *destinations, *timings "
                                  "or account/stat/resource paths) and the agent has none")
            return await filter_service.pass_filters(tenant, self.ids, dp)
        fs = filter_service if filter_service is not None else _NO_FILTERS
        for f in self.inline:
            for rule in f.rules:
                try:
                    ok = await rule.passes(dp, fs)
                except (FilterError, RSRError):
                    raise
                except ValueError as exc:
                    raise FilterError(str(exc)) from None
                if not ok:
                    return False
        return True


class _NoFilterService:
    timezone = None


_NO_FILTERS = _NoFilterService()


def compile_filters(ids: Any, where: str) -> FieldFilters | None:
    if not ids:
        return None
    if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
        raise TemplateError(f"{where}: filters must be a list of strings, have {ids!r}")
    try:
        return FieldFilters(ids)
    except (FilterError, RSRError) as exc:
        raise TemplateError(f"{where}: filter: {exc}") from None


# ---------------------------------------------------------------------------------------------------- templates


class FieldTemplate:
    """One compiled field (CGRateS's FCTemplate)."""

    __slots__ = ("blocker", "const", "cost_shift_digits", "dyn_path", "filters", "item_path",
                 "keys", "layout", "mandatory", "mode", "new_branch", "padding", "path", "prefix",
                 "rounding_decimals", "strip", "tag", "timezone", "type", "value", "width")

    def __init__(self, tag: str, ftype: str, path: str, value: RSRParsers, **opts: Any) -> None:
        self.tag = tag
        self.type = ftype
        self.path = path
        self.value = value
        self.filters: FieldFilters | None = opts.get("filters")
        self.mandatory: bool = bool(opts.get("mandatory"))
        self.width: int = int(opts.get("width") or 0)
        self.strip: str = opts.get("strip") or ""
        self.padding: str = "*right" if ftype == "*filler" else opts.get("padding") or ""
        self.layout: str = opts.get("layout") or RFC3339
        self.timezone: str = opts.get("timezone") or ""
        self.new_branch: bool = bool(opts.get("new_branch"))
        self.blocker: bool = bool(opts.get("blocker"))
        self.rounding_decimals: int | None = opts.get("rounding_decimals")
        self.cost_shift_digits: int = int(opts.get("cost_shift_digits") or 0)
        self.prefix, self.item_path, self.dyn_path = _split_field_path(path)
        self.keys = path_keys(self.item_path)
        #: how the value is stored: *group appends, *composed concatenates, the rest replace
        self.mode = "append" if ftype == "*group" else "compose" if ftype == "*composed" else "set"
        #: the output of a *constant/*filler value, computed once
        self.const: str | None = None
        if ftype in ("*constant", "*filler") and all(not p.converters and p.dyn_rules is None for p in value):
            self.const = value.parse_value("")

    def __repr__(self) -> str:
        return f"FieldTemplate({self.tag!r}, {self.type}, {self.path!r}, {self.value.rule!r})"


def _split_field_path(path: str) -> tuple[str, tuple[str, ...], tuple[str | RSRParsers, ...] | None]:
    """``*cgreq.A.B`` → ("*cgreq", ("A", "B"), None); a path with ``<...>`` parts keeps them compiled."""
    if not path:
        return "", (), None
    if "<" in path:
        pieces: list[str | RSRParsers] = []
        rest = path
        while "<" in rest:
            start = rest.index("<")
            end = rest.find(">", start)
            if end < 0:
                raise RSRError(f"unclosed <...> in path <{path}>")
            if start:
                pieces.append(rest[:start])
            pieces.append(parse_rsr(rest[start + 1 : end]))
            rest = rest[end + 1 :]
        if rest:
            pieces.append(rest)
        head = pieces[0] if isinstance(pieces[0], str) else ""
        return split_path(head)[0] if head else "", (), tuple(pieces)
    parts = split_path(path)
    return parts[0], parts[1:], None


def _opt_int(raw: dict, key: str, where: str) -> int | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TemplateError(f"{where}: {key} must be an integer, have {value!r}")
    try:
        return int(value)
    except ValueError:
        raise TemplateError(f"{where}: {key} must be an integer, have {value!r}") from None


def compile_template(raw: Mapping[str, Any], *, where: str, prefixes: Collection[str] | None = None,
                     sep: str = DEFAULT_SEP) -> FieldTemplate:
    """One field dict compiled; TemplateError names ``where`` and the field's tag.

    ``prefixes`` limits where the field may write (None: any ``*prefix``). A ``*template`` field compiles to a
    reference only: :func:`compile_fields` expands it.
    """
    if not isinstance(raw, Mapping):
        raise TemplateError(f"{where}: a field must be an object, have {raw!r}")
    path = raw.get("path") or ""
    tag = str(raw.get("tag") or path or raw.get("type") or "")
    here = f"{where}: field <{tag}>"
    ftype = raw.get("type") or "*variable"
    if ftype not in FIELD_TYPES:
        raise TemplateError(f"{here}: unsupported type <{ftype}> (one of {', '.join(sorted(FIELD_TYPES))})")
    if not isinstance(path, str):
        raise TemplateError(f"{here}: path must be a string, have {path!r}")
    value = raw.get("value")
    value = "" if value is None else value if isinstance(value, str) else as_string(value)
    if ftype == "*template":
        if not value:
            raise TemplateError(f"{here}: *template needs the template name as value")
        return FieldTemplate(tag, ftype, "", RSRParsers(), filters=None)
    if not path and ftype != "*none":
        raise TemplateError(f"{here}: MANDATORY_IE_MISSING: [Path]")
    try:
        parsers = parse_rsr(value, sep) if value and ftype not in _NO_VALUE_TYPES else RSRParsers()
        opts: dict[str, Any] = {k: raw.get(k) for k in ("mandatory", "strip", "padding", "layout", "timezone",
                                                        "new_branch", "blocker")}
        opts["filters"] = compile_filters(raw.get("filters"), here)
        opts["width"] = _opt_int(raw, "width", here)
        opts["rounding_decimals"] = _opt_int(raw, "rounding_decimals", here)
        opts["cost_shift_digits"] = _opt_int(raw, "cost_shift_digits", here)
        tpl = FieldTemplate(tag, ftype, path, parsers, **opts)
    except RSRError as exc:
        raise TemplateError(f"{here}: {exc}") from None
    if path and not tpl.prefix.startswith("*"):
        raise TemplateError(f"{here}: path <{path}> must start with a prefix such as *cgreq, *rep or *vars")
    if prefixes is not None and tpl.prefix and tpl.prefix not in prefixes:
        raise TemplateError(f"{here}: unsupported field prefix <{tpl.prefix}> in path <{path}> "
                            f"(one of {', '.join(sorted(prefixes))})")
    if ftype == "*removeall" and (tpl.item_path or tpl.dyn_path):
        raise TemplateError(f"{here}: *removeall takes a bare prefix as path, have <{path}>")
    for parser in parsers:
        idxs = parse_segment(parser.path[-1])[1] if parser.path else ()
        if idxs and idxs[0].startswith("~"):
            try:
                _selector(idxs[0])
            except NotFoundError as exc:
                raise TemplateError(f"{here}: {exc}") from None
    arity = _ARITY.get(ftype)
    if arity is not None and len(parsers) != arity:
        raise TemplateError(f"{here}: {ftype} needs {arity} values separated by '{sep}', have <{value}>")
    if tpl.strip not in STRIP:
        raise TemplateError(f"{here}: strip <{tpl.strip}> is not one of {', '.join(sorted(STRIP - {''}))}")
    if tpl.padding not in PADDING:
        raise TemplateError(f"{here}: padding <{tpl.padding}> is not one of {', '.join(sorted(PADDING - {''}))}")
    if tpl.timezone:
        try:
            get_timezone(tpl.timezone)
        except TimeError as exc:
            raise TemplateError(f"{here}: {exc}") from None
    return tpl


def compile_fields(raw_fields: Any, *, where: str, templates: Mapping[str, Sequence[FieldTemplate]] | None = None,
                   prefixes: Collection[str] | None = None, sep: str = DEFAULT_SEP) -> tuple[FieldTemplate, ...]:
    """A list of field dicts compiled, ``*template`` fields replaced by the named template's fields."""
    if raw_fields is None:
        return ()
    if not isinstance(raw_fields, list):
        raise TemplateError(f"{where}: fields must be a list, have {type(raw_fields).__name__}")
    out: list[FieldTemplate] = []
    for raw in raw_fields:
        tpl = compile_template(raw, where=where, prefixes=prefixes, sep=sep)
        if tpl.type != "*template":
            out.append(tpl)
            continue
        name = raw.get("value")
        ref = (templates or {}).get(name)
        if ref is None:
            raise TemplateError(f"{where}: field <{tpl.tag}>: no template with id <{name}> in the templates section")
        if not ref:
            raise TemplateError(f"{where}: field <{tpl.tag}>: empty template with id <{name}>")
        if prefixes is not None:
            for f in ref:
                if f.prefix and f.prefix not in prefixes:
                    raise TemplateError(f"{where}: field <{tpl.tag}>: template <{name}> field <{f.tag}> writes "
                                        f"the unsupported prefix <{f.prefix}>")
        out.extend(ref)
    return tuple(out)


def compile_named_templates(section: Mapping[str, Any] | None, *, sep: str = DEFAULT_SEP,
                            where: str = "templates") -> dict[str, tuple[FieldTemplate, ...]]:
    """The ``templates`` config section compiled; templates may use other templates (cycles are errors)."""
    raw = dict(section or {})
    done: dict[str, tuple[FieldTemplate, ...]] = {}

    def build(name: str, chain: tuple[str, ...]) -> tuple[FieldTemplate, ...]:
        if name in done:
            return done[name]
        if name in chain:
            raise TemplateError(f"{where}: template <{name}> includes itself ({' -> '.join((*chain, name))})")
        fields = raw[name]
        refs = {}
        for f in fields if isinstance(fields, list) else ():
            if isinstance(f, Mapping) and f.get("type") == "*template" and f.get("value") in raw:
                refs[f["value"]] = build(f["value"], (*chain, name))
        done[name] = compile_fields(fields, where=f"{where} <{name}>", templates=refs, sep=sep)
        return done[name]

    for name in raw:
        build(name, ())
    return done


# ---------------------------------------------------------------------------------------------------- values


def _arith(op: str, values: list[Any]) -> Any:
    """CGRateS's utils.Sum/Difference/Multiply/Divide: the first value's type decides the arithmetic."""
    if len(values) < 2:
        raise FieldError("NOT_ENOUGH_PARAMETERS")
    first, rest = values[0], values[1:]
    if isinstance(first, datetime):
        out: Any = first
        for v in rest:
            if op == "-" and isinstance(v, datetime):
                return Duration(int((out - v) / timedelta(microseconds=1)) * 1000)
            if op not in "+-":
                raise FieldError(f"cannot {op} a time")
            step = timedelta(microseconds=as_duration(v) / 1000)
            out = out + step if op == "+" else out - step
        return out
    if isinstance(first, bool) or not isinstance(first, int | float):
        raise FieldError(f"unsupported type for arithmetic: <{as_string(first)}>")
    integer = isinstance(first, int)
    acc: Any = first
    for v in rest:
        b = (as_duration(v) if isinstance(first, Duration) and op in "+-" else as_int(v)) if integer else as_float(v)
        if op == "+":
            acc = acc + b
        elif op == "-":
            acc = acc - b
        elif op == "*":
            acc = acc * b
        elif b == 0:
            if integer:
                raise FieldError("integer divide by zero")
            acc = math.copysign(math.inf, acc) if acc else math.nan
        elif integer:
            q = abs(acc) // abs(b)
            acc = q if (acc >= 0) == (b >= 0) else -q
        else:
            acc = acc / b
    return Duration(acc) if isinstance(first, Duration) else acc


def _fmt_width(tpl: FieldTemplate, text: str) -> str:
    """CGRateS's FmtFieldWidth."""
    width = tpl.width
    n = len(text)
    if not width or n == width:
        return text
    if n > width:
        strip = tpl.strip
        if strip == "*right":
            return text[:width]
        if strip == "*xright":
            return text[: width - 1] + "x"
        if strip == "*left":
            return text[n - width :]
        if strip == "*xleft":
            return "x" + text[n - width + 1 :]
        raise FieldError(f"field <{tpl.tag}>: value {text} is longer than the width {width} and no strip is set")
    padding = tpl.padding
    if padding == "*right":
        return text.ljust(width)
    if padding == "*left":
        return text.rjust(width)
    if padding == "*zeroleft":
        return text.rjust(width, "0")
    raise FieldError(f"field <{tpl.tag}>: value {text} is shorter than the width {width} and no padding is set")


def _shift_round(tpl: FieldTemplate, out: Any) -> Any:
    """``cost_shift_digits`` then ``rounding_decimals`` on a numeric value (a number stays a number, text text)."""
    if isinstance(out, Duration | bool):
        return out
    try:
        number = out if isinstance(out, int | float | Decimal) else float(as_string(out))
    except ValueError:
        return out
    value = float(number) * math.pow(10, tpl.cost_shift_digits) if tpl.cost_shift_digits else float(number)
    if tpl.rounding_decimals is not None:
        value = go_round(value, tpl.rounding_decimals, "*middle")
    return format_float(value) if isinstance(out, str) else value


def evaluate(tpl: FieldTemplate, dp: DataProvider, timezone: str = "", rounding_decimals: int = 5) -> Any:
    """The value a field computes (CGRateS's ParseField); NotFoundError when what it reads is absent."""
    ftype = tpl.type
    value = tpl.value
    tz = tpl.timezone or timezone or None
    out: Any
    if tpl.const is not None:
        out = tpl.const
    elif ftype in ("*variable", "*composed", "*group"):
        out = value[0].parse(dp) if len(value) == 1 else value.parse(dp)
    elif ftype in ("*constant", "*filler"):
        out = value.parse_value("")
    elif ftype in ("*sum", "*difference", "*multiply", "*divide"):
        out = _arith({"*sum": "+", "*difference": "-", "*multiply": "*", "*divide": "/"}[ftype], value.values(dp))
    elif ftype == "*usage_difference":
        end = _time(value[0].parse(dp), tz, tpl)
        start = _time(value[1].parse(dp), tz, tpl)
        out = str(Duration(int((end - start) / timedelta(microseconds=1)) * 1000))
    elif ftype == "*cc_usage":
        text = value[0].parse(dp)
        try:
            req_nr = int(text)
        except ValueError:
            raise FieldError(f"field <{tpl.tag}>: invalid requestNumber <{text}> to *cc_usage") from None
        used, debit = _duration(value[1].parse(dp), tpl), _duration(value[2].parse(dp), tpl)
        out = Duration(used + debit * max(req_nr - 1, 0))
    elif ftype == "*value_exponent":
        text = value[0].parse(dp)
        try:
            number, exp = float(text), int(value[1].parse(dp))
        except ValueError:
            raise FieldError(f"field <{tpl.tag}>: invalid value <{text}> to *value_exponent") from None
        decimals = tpl.rounding_decimals if tpl.rounding_decimals is not None else rounding_decimals
        return format_float(go_round(number * math.pow(10, exp), decimals, "*middle"))
    elif ftype == "*unix_timestamp":
        out = str(int(_time(value.parse(dp), tz, tpl).timestamp()))
    elif ftype == "*datetime":
        out = format_go_time(_time(value.parse(dp), tz, tpl), tpl.layout)
    elif ftype == "*none":
        return None
    else:
        raise FieldError(f"field <{tpl.tag}>: type {ftype} computes no value")
    if ftype in _STRING_TYPES:
        if tpl.mandatory and out == "":
            raise mandatory_ie_missing(tpl.tag)
        if tpl.width:
            out = _fmt_width(tpl, out)
    if tpl.cost_shift_digits or tpl.rounding_decimals is not None:
        out = _shift_round(tpl, out)
    return out


def _time(text: str, tz: str | None, tpl: FieldTemplate) -> datetime:
    """CGRateS's ParseTimeDetectLayout: a unix time is shown in ``tz``; a time with an offset keeps it."""
    try:
        t = as_time(text, tz)
        return t.astimezone(get_timezone(tz)) if tz and text.isdigit() else t
    except (ValueError, TimeError) as exc:
        raise FieldError(f"field <{tpl.tag}>: {exc}") from None


def _duration(text: str, tpl: FieldTemplate) -> int:
    try:
        return as_duration(text)
    except ValueError as exc:
        raise FieldError(f"field <{tpl.tag}>: {exc}") from None


# ---------------------------------------------------------------------------------------------------- context


class TemplateContext:
    """The DataProvider field templates read and write: one source per prefix.

    ``sources`` maps a prefix to a DataProvider (read only: ``*req``, ``*cfg``, ...), a :class:`NavMap` or a plain
    dict (both writable). Subclasses add what their requests carry (tenant, timezone, filters).
    """

    __slots__ = ("filter_service", "rounding_decimals", "sources", "tenant", "timezone")

    def __init__(self, sources: dict[str, Any], *, tenant: str = "", timezone: str = "",
                 filter_service: Any = None, rounding_decimals: int = 5) -> None:
        self.sources = sources
        self.tenant = tenant
        self.timezone = timezone
        self.filter_service = filter_service
        self.rounding_decimals = rounding_decimals

    def field_as_any(self, path: Sequence[str]) -> Any:
        src = self.sources.get(path[0]) if path else None
        if src is None:
            raise NotFoundError(f"NOT_FOUND: unsupported field prefix <{path[0] if path else ''}>")
        if isinstance(src, dict):
            return navigate_reply(src, path[1:])
        if len(path) == 1:
            return src.to_dict() if isinstance(src, NavMap) else src
        return src.field_as_any(path[1:])

    def field_as_string(self, path: Sequence[str]) -> str:
        return as_string(self.field_as_any(path))

    def _target(self, prefix: str) -> NavMap | dict:
        dest = self.sources.get(prefix)
        if not isinstance(dest, NavMap | dict):
            raise FieldError(f"unsupported field prefix: <{prefix}> when set field")
        return dest

    def _resolve(self, tpl: FieldTemplate) -> tuple[str, tuple[str, ...]]:
        if tpl.dyn_path is None:
            return tpl.prefix, tpl.item_path
        text = "".join(p if isinstance(p, str) else p.parse(self) for p in tpl.dyn_path)
        parts = split_path(text)
        return parts[0], parts[1:]

    def write(self, tpl: FieldTemplate, value: Any) -> None:
        """Store a computed value as the field's type says (set, ``*group`` append, ``*composed`` concat)."""
        if tpl.dyn_path is None:
            prefix, path, keys = tpl.prefix, tpl.item_path, tpl.keys
        else:
            prefix, path = self._resolve(tpl)
            keys = path_keys(path)
        dest = self.sources.get(prefix)
        if not path:
            raise FieldError(f"field <{tpl.tag}>: path <{tpl.path}> names no field under {prefix}")
        try:
            if type(dest) is NavMap:
                dest.put(tpl.mode, path, Leaf(value, path, tpl.new_branch, tpl.tag), keys)
            elif isinstance(dest, dict):
                set_field(dest, path, value, mode="compose" if tpl.mode == "compose" else "set")
            else:
                self._target(prefix)
        except ValueError as exc:
            raise FieldError(f"field <{tpl.tag}>: {exc}") from None

    def remove(self, tpl: FieldTemplate) -> None:
        prefix, path = self._resolve(tpl)
        dest = self._target(prefix)
        if isinstance(dest, NavMap):
            dest.remove(path)
        elif path:
            MapDataProvider(dest).remove(path)
        else:
            dest.clear()

    def remove_all(self, prefix: str) -> None:
        self._target(prefix).clear()


async def set_fields(ctx: TemplateContext, fields: Sequence[FieldTemplate]) -> None:
    """Run ``fields`` over ``ctx`` in order (CGRateS's SetFields): filters, then the type; a missing value skips
    the field unless it is mandatory (``MANDATORY_IE_MISSING: [<tag>]``); a blocker stops after its field."""
    if "*tmp" in ctx.sources:
        ctx.sources["*tmp"] = {}
    tenant = ctx.tenant
    for tpl in fields:
        if tpl.filters is not None and not await tpl.filters.passes(tenant, ctx, ctx.filter_service):
            continue
        ftype = tpl.type
        if ftype == "*remove":
            ctx.remove(tpl)
        elif ftype == "*removeall":
            ctx.remove_all(tpl.prefix)
        elif ftype != "*none":
            try:
                out = evaluate(tpl, ctx, ctx.timezone, ctx.rounding_decimals)
            except NotFoundError:
                if tpl.mandatory:
                    raise mandatory_ie_missing(tpl.tag) from None
                continue
            except FieldError:
                raise
            except ValueError as exc:
                raise FieldError(f"field <{tpl.tag}>: {exc}") from None
            ctx.write(tpl, out)
        if tpl.blocker:
            break


__all__ = [
    "FIELD_TYPES",
    "WRITABLE_PREFIXES",
    "AVPTree",
    "FieldError",
    "FieldFilters",
    "FieldTemplate",
    "Leaf",
    "NavMap",
    "NestedAVPs",
    "SelectorDataProvider",
    "TemplateContext",
    "TemplateError",
    "compile_fields",
    "compile_filters",
    "compile_named_templates",
    "compile_template",
    "evaluate",
    "navigate_reply",
    "set_field",
    "set_fields",
]
