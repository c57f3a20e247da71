"""JSON-RPC framing as CGRateS speaks it (Go's net/rpc JSON codec, JSON-RPC 1.0), without any I/O.

A TCP stream carries JSON objects back to back (Go's encoder ends each with a newline; other clients may not).
:class:`StreamDecoder` turns arbitrary chunks into whole messages, remembering where it stopped scanning so a
large message arriving in many chunks is scanned once. Messages:

- request  ``{"method": "Service.Method", "params": [arg], "id": n}``
- response ``{"id": n, "result": ..., "error": null | "message"}``
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024

_STRUCTURAL = re.compile(rb'[{}\[\]"]')
_IN_STRING = re.compile(rb'["\\]')
_NON_SPACE = re.compile(rb"[^ \t\r\n]")


class FramingError(Exception):
    """The stream cannot be read further: malformed JSON or a message over the size limit."""


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    to_json = getattr(obj, "to_json", None)
    if to_json is not None:
        return to_json()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


# dataclasses pass through to _default: a model is written in its JSON form (to_json), not field by field
_DUMP_OPTS = (orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS
              | orjson.OPT_PASSTHROUGH_DATACLASS)


#: a number in exponent form (orjson writes 1e16 as "1e+16", Go as "10000000000000000"), or a string to step over
_EXPONENT = re.compile(rb'"(?:[^"\\]|\\.)*"|(-?\d+(?:\.\d+)?e[-+]?\d+)')


def go_float(text: bytes) -> bytes:
    """A float written as Go's encoding/json writes it: positional between 1e-6 and 1e21 ("0.00001",
    "10000000000000000"), else the shortest exponent form with no padded exponent ("1e-7", "1e+21")."""
    value = Decimal(text.decode())
    if value and not Decimal("1e-6") <= abs(value) < Decimal("1e21"):
        mantissa, _, exponent = text.partition(b"e")
        sign, digits = (exponent[:1], exponent[1:]) if exponent[:1] in (b"-", b"+") else (b"+", exponent)
        return mantissa + b"e" + sign + (digits.lstrip(b"0") or b"0")
    return format(value, "f").encode()


def _go_floats(match: re.Match) -> bytes:
    number = match.group(1)
    return match.group(0) if number is None else go_float(number)


def dumps(obj: Any) -> bytes:
    """Serialize for the wire: models by their ``to_json`` (CGRateS's shapes), Decimals as numbers, datetimes
    RFC3339 with Z, floats positional where Go's encoder writes them so (no "1e-05" for 0.00001)."""
    out = orjson.dumps(obj, default=_default, option=_DUMP_OPTS)
    # orjson already writes most numbers as Go does (0.00001, 1e-7); only [1e-6, 1e-5) ("5e-6") and [1e16, 1e21)
    # ("1e+16") differ. Byte searches keep the common reply from a regex pass: "+" alone is a memchr, rare in replies
    if (b"+" not in out or b"e+" not in out) and b"e-6" not in out:
        return out
    return _EXPONENT.sub(_go_floats, out)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def encode_request(method: str, arg: Any, msg_id: int | str) -> bytes:
    return dumps({"method": method, "params": [arg], "id": msg_id}) + b"\n"


def encode_response(msg_id: Any, result: Any = None, error: str | None = None) -> bytes:
    return dumps({"id": msg_id, "result": None if error is not None else result, "error": error}) + b"\n"


@dataclass(slots=True)
class Request:
    method: str
    arg: Any
    id: Any


@dataclass(slots=True)
class Response:
    id: Any
    result: Any
    error: str | None


class InvalidMessage(Exception):
    """A well-formed JSON object that is not a valid request or response; answerable, not fatal."""

    def __init__(self, msg_id: Any, message: str) -> None:
        super().__init__(message)
        self.id = msg_id
        self.message = message


def classify(msg: Any) -> Request | Response:
    """Tell a request from a response; raise InvalidMessage for objects that are neither."""
    if not isinstance(msg, dict):
        raise InvalidMessage(None, "rpc: request must be a JSON object")
    msg_id = msg.get("id")
    if "method" in msg:
        method = msg["method"]
        if not isinstance(method, str) or "." not in method:
            shown = method if isinstance(method, str) else ""
            raise InvalidMessage(msg_id, f"rpc: service/method request ill-formed: {shown}")
        params = msg.get("params")
        if not isinstance(params, list):
            raise InvalidMessage(msg_id, "rpc: params must be a list holding one argument")
        if len(params) > 1:
            raise InvalidMessage(msg_id, "rpc: params must hold exactly one argument")
        return Request(method, params[0] if params else None, msg_id)
    if "result" in msg or "error" in msg:
        err = msg.get("error")
        return Response(msg_id, msg.get("result"), None if err is None else str(err))
    raise InvalidMessage(msg_id, "rpc: message is neither a request (method, params, id) nor a response")


class StreamDecoder:
    """Split a byte stream into JSON values. Resumable: each byte is scanned at most once."""

    __slots__ = ("_buf", "_depth", "_in_string", "_max", "_scan")

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self._buf = bytearray()
        self._max = max_message
        self._scan = -1  # where scanning of the current (incomplete) value resumes; -1: between values
        self._depth = 0
        self._in_string = False

    def feed(self, data: bytes) -> list[Any]:
        """Add bytes; return the complete values now available. Raises FramingError when the stream is broken."""
        self._buf += data
        out: list[Any] = []
        buf = self._buf
        start = 0
        n = len(buf)
        while start < n:
            if self._scan < 0:
                m = _NON_SPACE.search(buf, start)
                if m is None:
                    start = n
                    break
                start = m.start()
                first = buf[start]
                if first not in (0x7B, 0x5B):  # '{' or '['
                    raise FramingError(f"invalid JSON-RPC message: expected an object, found {chr(first)!r}")
                # Fast path: one whole value on one line, the usual shape on the wire.
                nl = buf.find(b"\n", start)
                if nl >= 0:
                    try:
                        out.append(orjson.loads(bytes(buf[start:nl])))
                        start = nl + 1
                        continue
                    except orjson.JSONDecodeError:
                        pass
                self._scan = start
                self._depth = 0
                self._in_string = False
            end = self._find_end(buf, n)
            if end < 0:
                if n - start > self._max:
                    raise FramingError(f"message larger than {self._max} bytes")
                break
            try:
                out.append(orjson.loads(bytes(buf[start:end])))
            except orjson.JSONDecodeError as exc:
                raise FramingError(f"invalid JSON: {exc}") from exc
            start = end
        if start:
            del buf[:start]
            if self._scan >= 0:
                self._scan -= start
        if len(buf) > self._max:
            raise FramingError(f"message larger than {self._max} bytes")
        return out

    def _find_end(self, buf: bytearray, n: int) -> int:
        """Continue scanning from self._scan; return the end offset of the value, or -1 when incomplete."""
        pos = self._scan
        depth = self._depth
        in_string = self._in_string
        while pos < n:
            if in_string:
                m = _IN_STRING.search(buf, pos)
                if m is None:
                    pos = n
                    break
                if buf[m.start()] == 0x5C:  # backslash: skip the escaped byte
                    if m.start() + 1 >= n:
                        pos = m.start()  # resume at the backslash once more bytes arrive
                        break
                    pos = m.start() + 2
                    continue
                in_string = False
                pos = m.end()
                continue
            m = _STRUCTURAL.search(buf, pos)
            if m is None:
                pos = n
                break
            c = buf[m.start()]
            pos = m.end()
            if c == 0x22:
                in_string = True
            elif c in (0x7B, 0x5B):
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    self._scan = -1
                    return pos
                if depth < 0:
                    raise FramingError("invalid JSON: unbalanced brackets")
        self._scan = pos
        self._depth = depth
        self._in_string = in_string
        return -1

    @property
    def buffered(self) -> int:
        return len(self._buf)

