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

import ipaddress
import json
import math
import random
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlencode, urlsplit, urlunsplit

from pycgrates.engine.template.dataprovider import (
    DYNAMIC_PREFIX,
    DataProvider,
    Duration,
    NotFoundError,
    as_duration,
    as_float,
    as_int,
    as_string,
    as_time,
    dynamic_path,
    format_float,
    split_path,
)

DEFAULT_SEP = ";"
CONST_QUOTE = "`"


class RSRError(ValueError):
    """An RSR rule that cannot be compiled; the message names the rule."""


# ---------------------------------------------------------------------------------------------------- Go regexps

_GO_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


@lru_cache(maxsize=2048)
def compile_go_regex(pattern: str) -> re.Pattern[str]:
    """A Go (RE2) regular expression as a Python pattern (``(?<name>`` groups, ``\\z``)."""
    py = _GO_NAMED_GROUP.sub("(?P<", pattern).replace(r"\z", r"\Z")
    try:
        return re.compile(py)
    except re.error as exc:
        raise RSRError(f"invalid regular expression <{pattern}>: {exc}") from None


_NAME_CHARS = re.compile(r"[A-Za-z0-9_]+")


def go_expand(template: str, match: re.Match[str]) -> str:
    """Go's ``Regexp.ExpandString``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; unknown groups are empty."""
    if "$" not in template:
        return template
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        i = j + 1
        if i < n and template[i] == "$":
            out.append("$")
            i += 1
            continue
        if i < n and template[i] == "{":
            end = template.find("}", i + 1)
            name = template[i + 1 : end] if end > 0 else ""
            if end < 0 or not name or not _NAME_CHARS.fullmatch(name):
                out.append("$")
                continue
            i = end + 1
        else:
            m = _NAME_CHARS.match(template, i)
            if m is None:
                out.append("$")
                continue
            name = m.group(0)
            i = m.end()
        out.append(_group(match, name))
    return "".join(out)


def _group(match: re.Match[str], name: str) -> str:
    if name.isdigit():
        num = int(name)
        return (match.group(num) or "") if num <= match.re.groups else ""
    try:
        return match.group(name) or ""
    except IndexError:
        return ""


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


# ---------------------------------------------------------------------------------------------------- converters

Converter = Callable[[Any], Any]
ConverterFactory = Callable[[str], Converter]

#: name → (factory(params) → converter, whether the name takes ``:params``)
_CONVERTERS: dict[str, tuple[ConverterFactory, bool]] = {}


def register_converter(name: str, factory: ConverterFactory, *, takes_params: bool = False) -> None:
    """Make ``{*name}`` (or ``{*name:params}`` when ``takes_params``) available to every RSR value."""
    _CONVERTERS[name] = (factory, takes_params)


def converter_names() -> list[str]:
    return sorted(_CONVERTERS)


@lru_cache(maxsize=1024)
def new_converter(definition: str) -> Converter:
    """The converter for one definition (``*round:2:*up``); RSRError for an unknown or malformed one."""
    name, sep, params = definition.partition(":")
    entry = _CONVERTERS.get(name)
    if entry is None or (sep and not entry[1]):
        raise RSRError(f"unsupported converter definition: <{definition}>")
    try:
        return entry[0](params)
    except RSRError:
        raise
    except ValueError as exc:
        raise RSRError(f"invalid converter <{definition}>: {exc}") from None


def convert_string(converters: Sequence[Converter], value: str) -> str:
    out: Any = value
    for conv in converters:
        out = conv(out)
    return as_string(out)


def _simple(fn: Converter) -> ConverterFactory:
    return lambda _params: fn


def go_round(x: float, decimals: int, method: str) -> float:
    """CGRateS ``utils.Round`` on floats (*up, *down, *middle), cutting float noise past 7 digits."""
    max_prec = max(7, decimals)
    pow10 = math.pow(10, decimals)
    intermed = x * pow10
    frac = math.modf(intermed)[0]
    if method == "*up":
        rounder = math.ceil(intermed) if frac >= math.pow(10, -max_prec) else math.floor(intermed)
    elif method == "*down":
        rounder = math.floor(intermed)
    elif method == "*middle":
        rounder = math.ceil(intermed) if frac >= 0.5 else math.floor(intermed)
    else:
        rounder = intermed
    return rounder / pow10


def _seconds(value: Any) -> float:
    d = as_duration(value)
    sec, nsec = divmod(abs(d), 1_000_000_000)
    out = float(sec) + nsec / 1e9
    return -out if d < 0 else out


def _minutes(value: Any) -> float:
    d = as_duration(value)
    mins, nsec = divmod(abs(d), 60_000_000_000)
    out = float(mins) + nsec / 6e10
    return -out if d < 0 else out


def _round_factory(params: str) -> Converter:
    parts = params.split(":") if params else []
    if len(parts) > 2:
        raise RSRError(f"unsupported *round converter parameters: <{params}>")
    decimals = 0
    if parts:
        try:
            decimals = int(parts[0])
        except ValueError:
            raise RSRError(f"*round converter needs integer as decimals, have: <{parts[0]}>") from None
    method = parts[1] if len(parts) == 2 else "*middle"
    return lambda v: go_round(as_float(v), decimals, method)


def _factor(name: str, op: Callable[[float, float], float]) -> ConverterFactory:
    def factory(params: str) -> Converter:
        if not params:
            raise RSRError(f"{name} converter needs a number: {{{name}:<number>}}")
        try:
            factor = float(params)
        except ValueError:
            raise RSRError(f"{name} converter needs a number, have: <{params}>") from None
        return lambda v: op(as_float(v), factor)

    return factory


def _divide(a: float, b: float) -> float:
    if b == 0:
        return math.copysign(math.inf, a) if a else math.nan
    return a / b


def _length(value: Any) -> int:
    if isinstance(value, list | tuple):
        return len(value)
    return len(as_string(value).encode("utf-8"))


def _slice(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return value
    src = as_string(value)
    if src.startswith("[") and src.endswith("]"):
        try:
            out = json.loads(src)
        except ValueError:
            return src
        if isinstance(out, list):
            return out
    return src


def _string2hex(value: Any) -> str:
    out = as_string(value).encode("utf-8").hex()
    return "0x" + out if out else out


def _ip2hex(value: Any) -> str:
    try:
        ip = ipaddress.ip_address(as_string(value).strip())
    except ValueError:
        return ""
    raw = ip.packed if ip.version == 6 else b"\x00" * 10 + b"\xff\xff" + ip.packed  # Go keeps IPv4 in 16 bytes
    hx = raw.hex()
    return "0x" + hx[-8:]


def _sip_uri(value: Any) -> str:
    text = as_string(value).strip()
    if "<" in text and ">" in text:
        text = text[text.index("<") + 1 : text.index(">")]
    for scheme in ("sips:", "sip:", "tel:"):
        if text.lower().startswith(scheme):
            return text[len(scheme) :]
    if " " in text:  # a request line: METHOD uri SIP/2.0
        parts = text.split()
        if len(parts) > 1:
            return _sip_uri(parts[1])
    return text


def _sipuri_host(value: Any) -> str:
    rest = _sip_uri(value).split(";", 1)[0].split("?", 1)[0]
    host = rest.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.split(":", 1)[0]


def _sipuri_user(value: Any) -> str:
    rest = _sip_uri(value).split(";", 1)[0]
    if "@" not in rest:
        return ""
    return rest.rsplit("@", 1)[0].split(":", 1)[0]


def _sipuri_method(value: Any) -> str:
    text = as_string(value).strip()
    first = text.split("\n", 1)[0].strip()
    if first.upper().startswith("SIP/"):
        return ""
    return first.split(" ", 1)[0] if " " in first else ""


def _unixtime(value: Any) -> int:
    return int(as_time(as_string(value)).timestamp())


def _e164(value: Any) -> str:
    name = as_string(value)
    i = name.find(".e164.")
    if i < 0:
        raise ValueError("unknown format")
    return name[:i].replace(".", "")[::-1]


def _e164_domain(value: Any) -> str:
    name = as_string(value)
    i = name.find(".e164.")
    if i >= 0:
        name = name[i:]
    return name.strip(".")


def _json(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), default=as_string, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _urldecode(value: Any) -> str:
    text = as_string(value)
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise ValueError(f'invalid URL escape in "{text}"')
    return unquote_plus(text)


def _urlencode(value: Any) -> str:
    text = as_string(value)
    parts = urlsplit(text)
    if not parts.netloc:
        return quote_plus(unquote_plus(parts.path.replace("+", "%2B")), safe="")
    if parts.query:
        pairs = sorted(parse_qsl(parts.query, keep_blank_values=True), key=lambda kv: kv[0])
        parts = parts._replace(query=urlencode(pairs))
    return urlunsplit(parts)


def _gigawords(value: Any) -> int:
    return as_int(value) * (1 << 32)


def _strip_factory(params: str) -> Converter:
    """Both syntaxes: ``*strip:*left|*right:<substr|*any>[:amount]`` and
    ``*strip:*prefix|*suffix|*both:<amount|*nil|*space[:amount]|*char:substr[:amount]>``."""
    p = ["*strip", *params.split(":")] if params else ["*strip"]
    if len(p) < 3:
        raise RSRError("strip converter: invalid number of parameters")
    side = p[1]
    if side in ("*left", "*right"):
        if len(p) > 4:
            raise RSRError("strip converter: invalid number of parameters (should have 3 or 4)")
        amount = int(p[3]) if len(p) == 4 else 1
        substr = p[2]
        if substr == "*any" and amount == -1:
            raise RSRError("strip converter: invalid combination of substr and amount values")
        if substr != "*any" and amount != -1:
            substr *= amount

        def strip_lr(value: Any) -> str:
            s = _require_str(value)
            if substr == "*any":
                if amount < len(s):
                    return s[amount:] if side == "*left" else s[: len(s) - amount]
                return s
            if amount != -1:
                return s.removeprefix(substr) if side == "*left" else s.removesuffix(substr)
            return s.lstrip(substr) if side == "*left" else s.rstrip(substr)

        return strip_lr
    if side not in ("*prefix", "*suffix", "*both"):
        raise RSRError("strip converter: invalid side parameter")
    if len(p) > 5:
        raise RSRError("strip converter: invalid number of parameters (should have 3, 4 or 5)")
    what = p[2]
    amount = -1
    if what == "":
        raise RSRError("strip converter: substr parameter cannot be empty")
    if what in ("*nil", "*space"):
        if len(p) == 5:
            raise RSRError("strip converter: cannot have 5 params in *nil/*space case")
        substr = "\x00" if what == "*nil" else " "
        if len(p) == 4:
            amount = int(p[3])
            substr *= amount
    elif what == "*char":
        if len(p) < 4 or not p[3]:
            raise RSRError("strip converter: usage of *char implies the need of 4 or 5 non-empty params")
        substr = p[3]
        if len(p) == 5:
            amount = int(p[4])
            substr *= amount
    else:
        if len(p) > 3:
            raise RSRError("strip converter: just the amount specified, cannot have more than 3 params")
        amount = int(what)
        substr = ""

    def strip_ps(value: Any) -> str:
        s = _require_str(value)
        if amount <= 0 and amount != -1:
            return s
        if not substr:
            if side == "*both":
                return s[amount : len(s) - amount] if amount * 2 < len(s) else ""
            if amount >= len(s):
                return ""
            return s[amount:] if side == "*prefix" else s[: len(s) - amount]
        if amount != -1:
            if side in ("*prefix", "*both"):
                s = s.removeprefix(substr)
            if side in ("*suffix", "*both"):
                s = s.removesuffix(substr)
            return s
        if side == "*prefix":
            return s.lstrip(substr)
        if side == "*suffix":
            return s.rstrip(substr)
        return s.strip(substr)

    return strip_ps


def _require_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("strip converter: CAST_FAILED")
    return value


def _timestring_factory(params: str) -> Converter:
    """``*timestring`` (RFC3339), ``*timestring:<Go layout>`` (v0.11) or ``*timestring:<zone>:<layout>``."""
    from pycgrates.engine.units import get_timezone

    tz = None
    layout = params or "2006-01-02T15:04:05Z07:00"
    zone, sep, rest = params.partition(":")
    if sep and not any(ch.isdigit() for ch in zone):
        tz = get_timezone(zone) if zone and zone != "Local" else None
        layout = rest or "2006-01-02 15:04:05"

    def timestring(value: Any) -> str:
        t = as_time(value) if isinstance(value, datetime) else as_time(as_string(value))
        if tz is not None:
            t = t.astimezone(tz)
        return format_go_time(t, layout)

    return timestring


def _random_factory(params: str) -> Converter:
    begin = end = 0
    if params:
        parts = params.split(":")
        if len(parts) >= 1 and parts[0]:
            begin = int(parts[0])
        if len(parts) == 2 and parts[1]:
            end = int(parts[1])

    def rnd(_value: Any) -> int:
        if begin == 0:
            return random.randrange(end) if end else random.getrandbits(62)
        if end == 0:
            return random.getrandbits(62) + begin
        return random.randrange(begin, end)

    return rnd


def _join_factory(params: str) -> Converter:
    sep = params or ","

    def join(value: Any) -> str:
        items = value if isinstance(value, list | tuple) else _slice(value)
        if not isinstance(items, list | tuple):
            return as_string(items)
        return sep.join(as_string(x) for x in items)

    return join


for _name, _fn in (
    ("*duration_seconds", _seconds),
    ("*duration_nanoseconds", as_duration),
    ("*duration_minutes", _minutes),
    ("*duration", lambda v: Duration(as_duration(v))),
    ("*len", _length),
    ("*slice", _slice),
    ("*float64", as_float),
    ("*string2hex", _string2hex),
    ("*ip2hex", _ip2hex),
    ("*sipuri_host", _sipuri_host),
    ("*sipuri_user", _sipuri_user),
    ("*sipuri_method", _sipuri_method),
    ("*unixtime", _unixtime),
    ("*e164", _e164),
    ("*e164Domain", _e164_domain),
    ("*json", _json),
    ("*urldecode", _urldecode),
    ("*urlencode", _urlencode),
    ("*gigawords", _gigawords),
):
    register_converter(_name, _simple(_fn))
register_converter("*round", _round_factory, takes_params=True)
register_converter("*multiply", _factor("*multiply", lambda a, b: a * b), takes_params=True)
register_converter("*divide", _factor("*divide", _divide), takes_params=True)
register_converter("*strip", _strip_factory, takes_params=True)
register_converter("*timestring", _timestring_factory, takes_params=True)
register_converter("*random", _random_factory, takes_params=True)
register_converter("*join", _join_factory, takes_params=True)


# ---------------------------------------------------------------------------------------------------- Go time layouts

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LAYOUT_TOKENS = (
    "January", "Jan", "Monday", "Mon", "MST", "2006", "002", "01", "02", "03", "04", "05", "06", "_2", "15",
    "Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07", "-07:00:00", "-070000", "-07:00", "-0700", "-07",
    "PM", "pm", "1", "2", "3", "4", "5",
)


def _offset(dt: datetime, token: str) -> str:
    off = dt.utcoffset()
    secs = int(off.total_seconds()) if off is not None else 0
    if token.startswith("Z") and secs == 0:
        return "Z"
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    hh, mm, ss = secs // 3600, (secs // 60) % 60, secs % 60
    body = token.lstrip("Z-")
    if body == "07":
        return f"{sign}{hh:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"


def format_go_time(dt: datetime, layout: str) -> str:
    """Format ``dt`` with a Go reference-time layout (``"2006-01-02 15:04:05"``, ``time.RFC3339``, ...)."""
    out: list[str] = []
    i = 0
    n = len(layout)
    while i < n:
        ch = layout[i]
        if ch in ".," and i + 1 < n and layout[i + 1] in "09":
            j = i + 1
            digit = layout[j]
            while j < n and layout[j] == digit:
                j += 1
            if j == n or not layout[j].isdigit():
                width = j - i - 1
                frac = f"{dt.microsecond:06d}000"[:width]
                if digit == "9":
                    frac = frac.rstrip("0")
                    out.append(ch + frac if frac else "")
                else:
                    out.append(ch + frac)
                i = j
                continue
        for tok in _LAYOUT_TOKENS:
            if layout.startswith(tok, i):
                out.append(_render_token(dt, tok))
                i += len(tok)
                break
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _render_token(dt: datetime, tok: str) -> str:
    match tok:
        case "January":
            return _MONTHS[dt.month - 1]
        case "Jan":
            return _MONTHS[dt.month - 1][:3]
        case "Monday":
            return _DAYS[dt.weekday()]
        case "Mon":
            return _DAYS[dt.weekday()][:3]
        case "MST":
            return dt.tzname() or "UTC"
        case "2006":
            return f"{dt.year:04d}"
        case "06":
            return f"{dt.year % 100:02d}"
        case "01":
            return f"{dt.month:02d}"
        case "1":
            return str(dt.month)
        case "02":
            return f"{dt.day:02d}"
        case "_2":
            return f"{dt.day:2d}"
        case "2":
            return str(dt.day)
        case "002":
            return f"{dt.timetuple().tm_yday:03d}"
        case "15":
            return f"{dt.hour:02d}"
        case "03":
            return f"{(dt.hour % 12) or 12:02d}"
        case "3":
            return str((dt.hour % 12) or 12)
        case "04":
            return f"{dt.minute:02d}"
        case "4":
            return str(dt.minute)
        case "05":
            return f"{dt.second:02d}"
        case "5":
            return str(dt.second)
        case "PM":
            return "PM" if dt.hour >= 12 else "AM"
        case "pm":
            return "pm" if dt.hour >= 12 else "am"
    return _offset(dt, tok)


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
    """One ``*rsr`` filter value: a Go regexp, negated by a leading ``!``; empty passes."""

    __slots__ = ("negative", "regex", "rule")

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.negative = False
        self.regex: re.Pattern[str] | None = None
        text = rule
        if text.startswith("!"):
            self.negative = True
            text = text[1:]
        if text:
            self.regex = compile_go_regex(text)

    def passes(self, value: str) -> bool:
        if self.regex is None:
            return not self.negative
        return (self.regex.search(value) is not None) != self.negative


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
    "compile_go_regex",
    "converter_names",
    "dynamic_path",
    "format_float",
    "format_go_time",
    "go_expand",
    "go_round",
    "new_converter",
    "parse_rsr",
    "parse_rsr_list",
    "parse_rsr_one",
    "register_converter",
    "split_rsr",
]
