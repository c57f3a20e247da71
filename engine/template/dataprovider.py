"""Reading (and writing) fields of nested event data by path, as CGRateS's DataProviders do.

A path is a tuple of segments: ``~*req.Nested.Field[1]`` reads ``("*req", "Nested", "Field[1]")``. A segment may
carry indexes (``Field[1]``, ``Field[-1]``, ``Map[key]``); a numeric segment also indexes a list (``~*req.2`` on a CSV
record). Whatever is not there raises :class:`NotFoundError` (``NOT_FOUND`` on the RPC surface), and every
DataProvider raises it the same way, so filters and templates treat "absent" alike over any source.

Values keep their types; :func:`as_string` renders them as Go's ``utils.IfaceAsString`` does, and
:func:`string_to_value` reads a string back the way ``utils.StringToInterface`` does (what filters compare).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError
from pycgrates.engine.units import (
    DurationError,
    TimeError,
    format_duration,
    parse_go_duration,
    parse_time,
    timedelta_to_ns,
)

DYNAMIC_PREFIX = "~"
NESTING_SEP = "."

# Top-level names of the request-processing data (CGRateS utils.Meta*).
REQ = "*req"
OPTS = "*opts"
VARS = "*vars"
CGREQ = "*cgreq"
CGREP = "*cgrep"
REP = "*rep"
TENANT = "*tenant"

Path = tuple[str, ...]


class NotFoundError(RPCError):
    """The path leads nowhere (CGRateS's ``ErrNotFound``)."""

    def __init__(self, message: str = NOT_FOUND) -> None:
        super().__init__(message)


#: Marks "no such key" in look-ups. Never raise a shared exception instance instead: every raise chains another
#: traceback onto it, keeping each request it passed through alive.
MISSING: Any = object()


@runtime_checkable
class DataProvider(Protocol):
    """A source of fields addressed by path (an event, a Diameter message, a RADIUS packet, ...)."""

    def field_as_any(self, path: Sequence[str]) -> Any:
        """The value at ``path`` with its own type; raises :class:`NotFoundError` when absent."""
        ...

    def field_as_string(self, path: Sequence[str]) -> str:
        """The value at ``path`` as a string (:func:`as_string`); raises :class:`NotFoundError` when absent."""
        ...


# ---------------------------------------------------------------------------------------------------- paths


def split_path(path: str) -> Path:
    """``"*req.A[x.y].B"`` → ``("*req", "A[x.y]", "B")``: dots inside brackets do not split."""
    if "[" not in path:
        return tuple(path.split(NESTING_SEP))
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(path):
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
        elif ch == NESTING_SEP and depth == 0:
            parts.append(path[start:i])
            start = i + 1
    parts.append(path[start:])
    return tuple(parts)


@lru_cache(maxsize=4096)
def dynamic_path(text: str) -> Path | None:
    """The path of a dynamic value (``~*req.Account`` → ``("*req", "Account")``); None for a constant."""
    if len(text) > 1 and text[0] == DYNAMIC_PREFIX:
        return split_path(text[1:])
    return None


@lru_cache(maxsize=8192)
def parse_segment(segment: str) -> tuple[str, tuple[str, ...]]:
    """``"Field[1][k]"`` → ``("Field", ("1", "k"))``; a segment without brackets has no indexes."""
    if not segment.endswith("]") or "[" not in segment:
        return segment, ()
    key, _, rest = segment.partition("[")
    return key, tuple(rest[:-1].split("]["))


def index_node(node: Any, idx: str) -> Any:
    """``node[idx]`` for lists (int index), mappings and DataProviders; NOT_FOUND otherwise."""
    if isinstance(node, list | tuple):
        try:
            i = int(idx)
        except ValueError:
            raise NotFoundError() from None
        if -len(node) <= i < len(node):
            return node[i]
        raise NotFoundError()
    if isinstance(node, Mapping):
        if idx in node:
            return node[idx]
        raise NotFoundError()
    if isinstance(node, DataProvider):
        return node.field_as_any((idx,))
    raise NotFoundError()


def navigate(node: Any, path: Sequence[str]) -> Any:
    """Follow ``path`` through dicts, lists and nested DataProviders; raises :class:`NotFoundError`."""
    for pos, segment in enumerate(path):
        if isinstance(node, Mapping):
            value = node.get(segment, MISSING)
            if value is not MISSING:
                node = value
                continue
            key, idxs = parse_segment(segment)
            if not idxs or key not in node:
                raise NotFoundError()
            node = node[key]
            for idx in idxs:
                node = index_node(node, idx)
        elif isinstance(node, list | tuple):
            key, idxs = parse_segment(segment)
            node = index_node(node, key) if key else node
            for idx in idxs:
                node = index_node(node, idx)
        elif isinstance(node, DataProvider):
            return node.field_as_any(tuple(path[pos:]))
        else:
            raise NotFoundError()
    return node


# ---------------------------------------------------------------------------------------------------- providers


class MapDataProvider:
    """A DataProvider over nested dicts/lists (CGRateS's MapStorage), writable for templates and AttributeS."""

    __slots__ = ("data",)

    def __init__(self, data: MutableMapping[str, Any] | None = None) -> None:
        self.data: MutableMapping[str, Any] = {} if data is None else data

    def __repr__(self) -> str:
        return f"MapDataProvider({self.data!r})"

    def field_as_any(self, path: Sequence[str]) -> Any:
        if not path:
            raise NotFoundError("empty field path")
        return navigate(self.data, path)

    def field_as_string(self, path: Sequence[str]) -> str:
        return as_string(self.field_as_any(path))

    def get(self, path: Sequence[str], default: Any = None) -> Any:
        try:
            return navigate(self.data, path)
        except NotFoundError:
            return default

    def set(self, path: Sequence[str], value: Any) -> None:
        """Write ``value`` at ``path``, creating the dicts on the way (``Field[i]`` replaces or appends)."""
        if not path:
            raise ValueError("cannot set an empty path")
        node: Any = self.data
        last = len(path) - 1
        for pos, segment in enumerate(path):
            key, idxs = parse_segment(segment)
            if pos == last and not idxs:
                _assign(node, key, value)
                return
            child = _lookup(node, key)
            if child is None:
                child = [] if idxs else {}
                _assign(node, key, child)
            for n, idx in enumerate(idxs):
                if pos == last and n == len(idxs) - 1:
                    _assign(child, idx, value)
                    return
                grand = _lookup(child, idx)
                if grand is None:
                    grand = {}
                    _assign(child, idx, grand)
                child = grand
            node = child

    def remove(self, path: Sequence[str]) -> None:
        """Remove the value at ``path``; a missing path is not an error."""
        if not path:
            return
        try:
            parent = navigate(self.data, path[:-1]) if len(path) > 1 else self.data
        except NotFoundError:
            return
        key, idxs = parse_segment(path[-1])
        if idxs:
            node = _lookup(parent, key) if key else parent
            if node is None:
                return
            try:
                for idx in idxs[:-1]:
                    node = index_node(node, idx)
            except NotFoundError:
                return
            parent, key = node, idxs[-1]
        if isinstance(parent, MutableMapping):
            parent.pop(key, None)
        elif isinstance(parent, list):
            try:
                del parent[int(key)]
            except (ValueError, IndexError):
                pass

    def keys(self, nested: bool = False, prefix: str = "") -> list[str]:
        """Paths of the leaf values (``*req.Account``, ...): two levels deep, or all levels when ``nested``."""
        return list(_leaf_paths(self.data, prefix, 2 if not nested else -1))


def _leaf_paths(node: Mapping, prefix: str, depth: int) -> Iterator[str]:
    for k, v in node.items():
        if isinstance(v, Mapping) and depth != 1:
            yield from _leaf_paths(v, f"{prefix}{k}.", depth - 1)
        else:
            yield prefix + str(k)


def _lookup(node: Any, key: str) -> Any:
    if isinstance(node, Mapping):
        return node.get(key)
    if isinstance(node, list):
        try:
            i = int(key)
        except ValueError:
            return None
        return node[i] if -len(node) <= i < len(node) else None
    return None


def _assign(node: Any, key: str, value: Any) -> None:
    if isinstance(node, MutableMapping):
        node[key] = value
        return
    if isinstance(node, list):
        try:
            i = int(key)
        except ValueError:
            raise ValueError(f"cannot index a list with {key!r}") from None
        if -len(node) <= i < len(node):
            node[i] = value
        elif i == len(node):
            node.append(value)
        else:
            raise ValueError(f"index {i} is past the end of a list of {len(node)}")
        return
    raise ValueError(f"cannot set {key!r} inside a {type(node).__name__}")


def dynamic_any(text: str, dp: DataProvider) -> Any:
    """``~path`` → the field's value; a constant → :func:`string_to_value` of it (Go's DPDynamicInterface)."""
    path = dynamic_path(text)
    if path is None:
        return string_to_value(text)
    return dp.field_as_any(path)


def dynamic_string(text: str, dp: DataProvider) -> str:
    """``~path`` → the field as string; a constant → itself (Go's DPDynamicString)."""
    path = dynamic_path(text)
    if path is None:
        return text
    return dp.field_as_string(path)


# ---------------------------------------------------------------------------------------------------- Go values


class Duration(int):
    """Nanoseconds that print as Go's time.Duration (``"1m30s"``): what a duration is inside dynamic values."""

    __slots__ = ()

    def __str__(self) -> str:
        return format_duration(int(self))

    def __repr__(self) -> str:
        return f"Duration({format_duration(int(self))})"


def format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(f, 'f', -1, 64)``: shortest round-trip digits, never an exponent."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return text


def format_rfc3339(dt: datetime) -> str:
    """Go's ``time.RFC3339`` (no fractional seconds)."""
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    off = dt.utcoffset()
    if off is None or off == timedelta(0):
        return base + "Z"
    z = dt.strftime("%z")
    return f"{base}{z[:3]}:{z[3:5]}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return timedelta_to_ns(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def as_string(value: Any) -> str:
    """Any value as a string, as Go's ``utils.IfaceAsString`` renders it."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, Decimal):
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text or "0"
    if isinstance(value, datetime):
        return format_rfc3339(value)
    if isinstance(value, timedelta):
        return format_duration(timedelta_to_ns(value))
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return json.dumps(value, separators=(",", ":"), default=_json_default, ensure_ascii=False)


_GO_INT = re.compile(r"[+-]?\d+")
_GO_FLOAT = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf(inity)?|nan)", re.IGNORECASE)
_GO_BOOL = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}
_INT64 = 1 << 63


_GO_DURATION = re.compile(r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")


def string_to_value(text: str, timezone: str | tzinfo | None = None) -> Any:
    """Read a string the way Go's ``utils.StringToInterface`` does: int, bool, float, time, duration or itself."""
    if _GO_INT.fullmatch(text):
        n = int(text)
        if -_INT64 <= n < _INT64:
            return n
    b = _GO_BOOL.get(text)
    if b is not None:
        return b
    if _GO_FLOAT.fullmatch(text):
        return float(text)
    if _GO_DURATION.fullmatch(text):  # never a time: skip the costly time parse (same result as Go's order)
        return Duration(parse_go_duration(text))
    if text and (text[0].isdigit() or text.startswith("*now")):
        try:
            t = parse_time(text, timezone)
        except (TimeError, ValueError, OverflowError):
            t = None
        if t is not None:
            return t
    try:
        return Duration(parse_go_duration(text))
    except DurationError:
        return text


def as_duration(value: Any) -> int:
    """Go's ``IfaceAsDuration``: numbers are nanoseconds, strings plain integers (ns) or Go durations."""
    if isinstance(value, bool):
        raise ValueError(f"cannot convert field: {value!r} to time.Duration")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal):
        return int(value)
    if isinstance(value, timedelta):
        return timedelta_to_ns(value)
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return 0
        if s == "*unlimited":
            return -1
        if _GO_INT.fullmatch(s):
            return int(s)
        try:
            return parse_go_duration(s)
        except DurationError:
            if _GO_FLOAT.fullmatch(s):
                return int(float(s))
            raise ValueError(f"cannot convert field: {value!r} to time.Duration") from None
    raise ValueError(f"cannot convert field: {value!r} to time.Duration")


def as_float(value: Any) -> float:
    """Go's ``IfaceAsFloat64``: numbers, numeric strings, and durations as nanoseconds (Go text too: ``"1m30s"``)."""
    if isinstance(value, bool):
        raise ValueError(f"cannot convert field: {value!r} to float64")
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, timedelta):
        return float(timedelta_to_ns(value))
    if isinstance(value, str):
        if value.endswith(("s", "m", "h")):  # Go reads "1m30s" as a duration: its nanoseconds
            try:
                return float(parse_go_duration(value))
            except DurationError:
                raise ValueError(f'time: invalid duration "{value}"') from None
        s = value.strip()
        if _GO_FLOAT.fullmatch(s):
            return float(s)
        raise ValueError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')
    raise ValueError(f"cannot convert field: {value!r} to float64")


def as_int(value: Any) -> int:
    """Go's ``IfaceAsInt64``."""
    if isinstance(value, bool):
        raise ValueError(f"cannot convert field: {value!r} to int")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float | Decimal):
        return int(value)
    if isinstance(value, timedelta):
        return timedelta_to_ns(value)
    if isinstance(value, str) and _GO_INT.fullmatch(value.strip()):
        return int(value.strip())
    raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax')


def as_time(value: Any, timezone: str | tzinfo | None = None) -> datetime:
    """Go's ``IfaceAsTime``: a datetime, or a string/number read by :func:`engine.units.parse_time`."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    t = parse_time(value if not isinstance(value, bytes) else value.decode(), timezone)
    if t is None:
        raise ValueError(f"cannot convert field: {value!r} to time.Time")
    return t
