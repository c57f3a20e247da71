"""What Go does its own way and CGRateS's templates rely on: RE2 regexps and their ``$1``/``${name}`` expansion,
``utils.Round`` on floats, and time layouts (``2006-01-02T15:04:05Z07:00``)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache

from pycgrates.engine.template.errors import RSRError

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


