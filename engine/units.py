"""Durations, times and money rounding with CGRateS semantics.

Durations travel as integer nanoseconds (Go's time.Duration); strings use Go's syntax ("1h30m", "5m0.5s").
Times are timezone-aware datetimes. Money is decimal.Decimal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NS = 1
US = 1_000
MS = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNIT_NS = {"ns": NS, "us": US, "µs": US, "μs": US, "ms": MS, "s": SECOND, "m": MINUTE, "h": HOUR}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


class DurationError(ValueError):
    """A value that cannot be read as a duration."""


def parse_go_duration(text: str) -> int:
    """Parse Go's duration syntax ("1h30m", "-1.5s", "300ms") into integer nanoseconds."""
    s = text.strip()
    if not s:
        raise DurationError("empty duration")
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    pos = 0
    total = Decimal(0)
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += Decimal(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise DurationError(f"invalid duration {text!r} (use Go syntax such as '90s', '1h30m', '5m0.5s')")
    return sign * int(total)


def parse_duration(value: Any, plain_unit: int = NS) -> int:
    """Read a duration from an RPC/config value into integer nanoseconds.

    Integers and numeric strings are counted in ``plain_unit`` (nanoseconds by default, as CGRateS does for
    ``Usage``; seconds where CGRateS parses "with secs"); strings with units use Go's syntax.
    """
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise DurationError(f"invalid duration {value!r}")
    if isinstance(value, int):
        return value * plain_unit
    if isinstance(value, float):
        return round(value * plain_unit)
    if isinstance(value, Decimal):
        return int(value * plain_unit)
    if isinstance(value, timedelta):
        return timedelta_to_ns(value)
    if isinstance(value, str):
        s = value.strip()
        if _INT_RE.fullmatch(s):
            return int(s) * plain_unit
        if _FLOAT_RE.fullmatch(s):
            return int(Decimal(s) * plain_unit)
        return parse_go_duration(s)
    raise DurationError(f"invalid duration {value!r}")


def timedelta_to_ns(td: timedelta) -> int:
    return (td.days * 86_400 + td.seconds) * SECOND + td.microseconds * US


def ns_to_timedelta(ns: int) -> timedelta:
    return timedelta(microseconds=ns / US) if ns % US else timedelta(microseconds=ns // US)


def _fmt_frac(v: int, prec: int) -> tuple[str, int]:
    """Format the fractional part of v (with prec digits) the way Go's fmtFrac does."""
    digits = []
    printed = False
    for _ in range(prec):
        digit = v % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        v //= 10
    frac = ("." + "".join(reversed(digits))) if printed else ""
    return frac, v


def format_duration(ns: int) -> str:
    """Format integer nanoseconds exactly as Go's time.Duration.String() does ("1h30m0s", "1.5s", "300ms")."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < SECOND:
        if u < US:
            out = f"{u}ns"
        elif u < MS:
            frac, whole = _fmt_frac(u, 3)
            out = f"{whole}{frac}µs"
        else:
            frac, whole = _fmt_frac(u, 6)
            out = f"{whole}{frac}ms"
    else:
        frac, whole = _fmt_frac(u, 9)
        secs = whole % 60
        mins_total = whole // 60
        out = f"{secs}{frac}s"
        if mins_total > 0:
            mins = mins_total % 60
            hours = mins_total // 60
            out = f"{mins}m" + out
            if hours > 0:
                out = f"{hours}h" + out
    return "-" + out if neg else out


# ---------------------------------------------------------------------------------------------------- times

_SQL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?$")


class TimeError(ValueError):
    """A value that cannot be read as a time."""


def get_timezone(name: str | None) -> tzinfo:
    if not name or name in ("Local", "UTC", "*utc"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimeError(f"unknown timezone {name!r}") from exc


def now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: Any, timezone: str | tzinfo | None = None) -> datetime | None:
    """Read a time as CGRateS does: RFC3339, ``*now``, unix seconds (or ms/ns by size), SQL datetime.

    Naive inputs are placed in ``timezone`` (default UTC). Empty values give None (CGRateS's zero time).
    """
    if value is None or value == "" or value == "0001-01-01T00:00:00Z":
        return None
    tz = get_timezone(timezone) if isinstance(timezone, str | None) else timezone
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, bool):
        raise TimeError(f"cannot read time from {value!r}")
    if isinstance(value, int | float | Decimal):
        return _from_unix(float(value))
    if not isinstance(value, str):
        raise TimeError(f"cannot read time from {value!r}")
    s = value.strip()
    if s in ("*now", "*asap"):
        return now()
    if s.startswith("*now+") or s.startswith("+"):
        return now() + ns_to_timedelta(parse_go_duration(s.split("+", 1)[1]))
    if _INT_RE.fullmatch(s) or _FLOAT_RE.fullmatch(s):
        return _from_unix(float(s))
    iso = s.replace("Z", "+00:00") if s.endswith("Z") else s
    if _SQL_TIME.match(s) or "T" in s or "+" in s[10:] or s[10:].count("-") > 0:
        try:
            iso = _trim_fraction(iso)
            dt = datetime.fromisoformat(iso)
        except ValueError as exc:
            raise TimeError(f"cannot read time from {value!r}") from exc
        return dt if dt.tzinfo else dt.replace(tzinfo=tz)
    try:
        dt = datetime.fromisoformat(s)
    except ValueError as exc:
        raise TimeError(f"cannot read time from {value!r}") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def _trim_fraction(iso: str) -> str:
    """Python accepts at most 6 fractional digits; RFC3339 from Go may carry 9."""
    m = re.search(r"\.(\d+)", iso)
    if m and len(m.group(1)) > 6:
        iso = iso[: m.start(1)] + m.group(1)[:6] + iso[m.end(1) :]
    return iso


def _from_unix(v: float) -> datetime:
    if v > 1e17:  # nanoseconds
        v /= 1e9
    elif v > 1e14:  # microseconds
        v /= 1e6
    elif v > 1e11:  # milliseconds
        v /= 1e3
    return datetime.fromtimestamp(v, UTC)


def format_time(dt: datetime | None) -> str:
    """RFC3339 with nanosecond-style trimming as Go prints it; None → Go's zero time."""
    if dt is None:
        return "0001-01-01T00:00:00Z"
    if dt.utcoffset() == timedelta(0):
        base = dt.strftime("%Y-%m-%dT%H:%M:%S")
        suffix = "Z"
    else:
        base = dt.strftime("%Y-%m-%dT%H:%M:%S")
        off = dt.strftime("%z")
        suffix = off[:3] + ":" + off[3:]
    if dt.microsecond:
        base += ("." + f"{dt.microsecond:06d}").rstrip("0")
    return base + suffix


# ---------------------------------------------------------------------------------------------------- money

ROUNDING_UP = "*up"
ROUNDING_DOWN = "*down"
ROUNDING_MIDDLE = "*middle"
_ROUNDING = {ROUNDING_UP: ROUND_CEILING, ROUNDING_DOWN: ROUND_FLOOR, ROUNDING_MIDDLE: ROUND_HALF_UP}


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def round_money(value: Decimal, decimals: int, method: str = ROUNDING_MIDDLE) -> Decimal:
    """Round as CGRateS's utils.Round: *up (ceiling), *down (floor), *middle (half away from zero)."""
    if method not in _ROUNDING:
        raise ValueError(f"unknown rounding method {method!r} (use *up, *down or *middle)")
    q = Decimal(1).scaleb(-decimals)
    return value.quantize(q, rounding=_ROUNDING[method])


def money_json(value: Decimal) -> float | int:
    """Money as a JSON number (CGRateS sends float64)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)
