"""RSR converters (``{*duration_seconds&*round:2}``): a registry of named value transforms every RSR value can use.

Built-in converters are CGRateS's; :func:`register_converter` adds more where they are needed."""

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
    Duration,
    as_duration,
    as_float,
    as_int,
    as_string,
    as_time,
)
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.gocompat import format_go_time, go_round

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


