"""Kamailio evapi wire: framing (netstrings or bare JSON documents) and the CGRateS messages. No I/O.

Kamailio's evapi module (``modparam("evapi", "netstring_format", 1)``, the default) wraps every message, both
ways, as a netstring: ``<byte length>:<payload>,``; between frames it skips whitespace. With
``netstring_format`` 0 the payload travels bare: Kamailio writes each ``evapi_relay()`` as it is and treats each
read from the socket as one message. The payloads of CGRateS's Kamailio scripts are JSON objects spanning several
lines (the strings in kamailio-cgrates.cfg hold line breaks), so a bare stream is cut at the end of each JSON
document, not at line ends: :class:`JSONStreamFramer`. Each document we send in bare mode ends with a newline, so a
line-reading peer sees one message per line. :class:`AutoFramer` finds which of the two Kamailio uses from its
first message (a netstring starts with a digit, a bare message with ``{``).

Messages Kamailio sends (key ``event``; the other keys are the route's fields, strings)::

    CGR_AUTH_REQUEST    tr_index tr_label cgr_flags [cgr_context] reply_route Account [Destination SetupTime]
    CGR_CALL_START      h_entry h_id cgr_flags OriginID OriginHost RequestType Tenant Account Destination
                        SetupTime AnswerTime
    CGR_CALL_END        cgr_flags OriginID OriginHost RequestType Tenant Account Destination AnswerTime
                        SetupTime Usage (seconds) [+ any extra field, e.g. PaypalAccount]
    CGR_PROCESS_MESSAGE tr_index tr_label [cgr_flags] [reply_route] + event fields  (CGR_PROCESS_EVENT before 2019)
    CGR_PROCESS_CDR     tr_index tr_label OriginID + event fields
    CGR_DLG_LIST_REPLY  jsonrpl_body: Kamailio's JSON-RPC answer to dlg.list

Messages we send (key ``Event``): the reply to an auth/process request (:func:`reply_message`, event name the
request's ``reply_route`` or CGR_AUTH_REPLY), CGR_SESSION_DISCONNECT (:func:`session_disconnect`) and the
CGR_DLG_LIST request (:func:`dlg_list_request`).

A broken frame raises :class:`EvapiFramingError` (the stream cannot be trusted after it); a frame whose payload
is not a JSON object with an ``event`` raises :class:`EvapiDecodeError` (skip it, the stream is fine).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# event names, as CGRateS's kamevent.go and its Kamailio scripts spell them
CGR_AUTH_REQUEST = "CGR_AUTH_REQUEST"
CGR_AUTH_REPLY = "CGR_AUTH_REPLY"
CGR_CALL_START = "CGR_CALL_START"
CGR_CALL_END = "CGR_CALL_END"
CGR_PROCESS_MESSAGE = "CGR_PROCESS_MESSAGE"
CGR_PROCESS_EVENT = "CGR_PROCESS_EVENT"      # the name of CGR_PROCESS_MESSAGE in CGRateS before July 2019
CGR_PROCESS_CDR = "CGR_PROCESS_CDR"
CGR_SESSION_DISCONNECT = "CGR_SESSION_DISCONNECT"
CGR_DLG_LIST = "CGR_DLG_LIST"
CGR_DLG_LIST_REPLY = "CGR_DLG_LIST_REPLY"

# field names of incoming messages
EVENT = "event"
TR_INDEX = "tr_index"
TR_LABEL = "tr_label"
HASH_ENTRY = "h_entry"
HASH_ID = "h_id"
REPLY_ROUTE = "reply_route"
CGR_FLAGS = "cgr_flags"
CGR_CONTEXT = "cgr_context"
JSONRPL_BODY = "jsonrpl_body"
#: fields that steer the exchange and are not event data (CGRateS keeps them out of the CGREvent)
RESERVED_FIELDS = frozenset({EVENT, TR_INDEX, TR_LABEL, CGR_FLAGS, REPLY_ROUTE})

#: the largest message accepted (Kamailio's own read buffer is 32 KiB; dlg.list replies can be larger)
MAX_MESSAGE = 4 * 1024 * 1024

_WHITESPACE = b" \t\r\n"
_STRUCTURE = re.compile(rb'[{}\[\]"]')
_STRING_STOP = re.compile(rb'["\\]')


class EvapiError(ValueError):
    """Any evapi failure."""


class EvapiFramingError(EvapiError):
    """The byte stream is not evapi framing; nothing after this point can be trusted."""


class EvapiDecodeError(EvapiError):
    """A well-framed message that is not a usable JSON event."""


@dataclass(slots=True)
class EvapiEvent:
    """A message from Kamailio: its ``event`` name, all its fields (as decoded JSON) and the payload bytes."""

    name: str
    fields: dict[str, Any]
    raw: bytes

    def get(self, key: str, default: str = "") -> Any:
        return self.fields.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def __contains__(self, key: object) -> bool:
        return key in self.fields


# ---- framing ------------------------------------------------------------------------------------------------


class NetstringFramer:
    """``<length>:<payload>,`` frames; whitespace between frames is skipped, as Kamailio does."""

    __slots__ = ("_buf", "max_length")

    def __init__(self, max_length: int = MAX_MESSAGE) -> None:
        self.max_length = max_length
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def __iter__(self) -> Iterator[bytes]:
        while (payload := self.next_payload()) is not None:
            yield payload

    def next_payload(self) -> bytes | None:
        buf = self._buf
        start = 0
        while start < len(buf) and buf[start] in _WHITESPACE:
            start += 1
        if start:
            del buf[:start]
        if not buf:
            return None
        limit = len(str(self.max_length)) + 1
        colon = buf.find(b":", 0, limit)
        if colon < 0:
            prefix = bytes(buf[:limit])
            if not prefix.isdigit():
                raise EvapiFramingError(f"netstring length expected, got {prefix[:20]!r}")
            if len(buf) >= limit:
                raise EvapiFramingError(f"netstring length {prefix.decode()}... exceeds the limit of {self.max_length}")
            return None
        digits = bytes(buf[:colon])
        if not digits.isdigit():
            raise EvapiFramingError(f"netstring length {digits[:20]!r} is not a number")
        length = int(digits)
        if length > self.max_length:
            raise EvapiFramingError(f"netstring of {length} bytes exceeds the limit of {self.max_length}")
        end = colon + 1 + length
        if len(buf) <= end:
            return None
        if buf[end] != 0x2C:  # ','
            got = bytes(buf[end:end + 1])
            raise EvapiFramingError(f"netstring of {length} bytes does not end with ',' but {got!r}")
        payload = bytes(buf[colon + 1:end])
        del buf[:end + 1]
        return payload


class JSONStreamFramer:
    """Bare mode: a stream of concatenated JSON objects (whitespace and line breaks between or inside them)."""

    __slots__ = ("_buf", "_depth", "_escape", "_in_string", "_pos", "max_length")

    def __init__(self, max_length: int = MAX_MESSAGE) -> None:
        self.max_length = max_length
        self._buf = bytearray()
        self._pos = 0             # how far the current document has been scanned
        self._depth = 0
        self._in_string = False
        self._escape = False

    def feed(self, data: bytes) -> None:
        self._buf += data

    def __iter__(self) -> Iterator[bytes]:
        while (payload := self.next_payload()) is not None:
            yield payload

    def next_payload(self) -> bytes | None:
        buf = self._buf
        if self._pos == 0:
            start = 0
            while start < len(buf) and buf[start] in _WHITESPACE:
                start += 1
            if start:
                del buf[:start]
            if not buf:
                return None
            if buf[0] != 0x7B:  # '{'
                raise EvapiFramingError(f"JSON object expected, got {bytes(buf[:20])!r}")
        depth, in_string, escape = self._depth, self._in_string, self._escape
        i, n = self._pos, len(buf)
        while i < n:
            if escape:                      # the character after a backslash, whatever it is
                escape = False
                i += 1
                continue
            if in_string:
                m = _STRING_STOP.search(buf, i)
                if m is None:
                    i = n
                    break
                i = m.end()
                if buf[m.start()] == 0x5C:  # backslash
                    escape = True
                else:
                    in_string = False
                continue
            m = _STRUCTURE.search(buf, i)
            if m is None:
                i = n
                break
            i = m.end()
            c = buf[m.start()]
            if c == 0x22:                   # '"'
                in_string = True
            elif c in (0x7B, 0x5B):         # '{' '['
                depth += 1
            else:                           # '}' ']'
                depth -= 1
                if depth == 0:
                    payload = bytes(buf[:i])
                    del buf[:i]
                    self._pos, self._depth, self._in_string, self._escape = 0, 0, False, False
                    return payload
        if i > self.max_length:
            raise EvapiFramingError(f"JSON document longer than {self.max_length} bytes without its end")
        self._pos, self._depth, self._in_string, self._escape = i, depth, in_string, escape
        return None


class AutoFramer:
    """Either framing, found from the first byte Kamailio sends that is not whitespace: a digit starts a netstring,
    ``{`` a bare JSON message. :attr:`netstring_format` is None until then."""

    __slots__ = ("_buf", "_framer", "max_length")

    def __init__(self, max_length: int = MAX_MESSAGE) -> None:
        self.max_length = max_length
        self._buf = bytearray()
        self._framer: NetstringFramer | JSONStreamFramer | None = None

    @property
    def netstring_format(self) -> bool | None:
        return None if self._framer is None else isinstance(self._framer, NetstringFramer)

    def feed(self, data: bytes) -> None:
        if self._framer is not None:
            self._framer.feed(data)
            return
        self._buf += data
        start = len(self._buf) - len(self._buf.lstrip(_WHITESPACE))
        if start == len(self._buf):
            return
        first = self._buf[start]
        if 0x30 <= first <= 0x39:   # a digit
            self._framer = NetstringFramer(self.max_length)
        elif first == 0x7B:         # '{'
            self._framer = JSONStreamFramer(self.max_length)
        else:
            raise EvapiFramingError(f"neither a netstring nor a JSON object: {bytes(self._buf[start:start + 20])!r}")
        self._framer.feed(bytes(self._buf))
        self._buf.clear()

    def __iter__(self) -> Iterator[bytes]:
        while (payload := self.next_payload()) is not None:
            yield payload

    def next_payload(self) -> bytes | None:
        return None if self._framer is None else self._framer.next_payload()


Framer = NetstringFramer | JSONStreamFramer | AutoFramer


def make_framer(netstring_format: bool | None = True, max_length: int = MAX_MESSAGE) -> Framer:
    """The framer Kamailio's ``netstring_format`` modparam selects; None: found from what Kamailio sends."""
    if netstring_format is None:
        return AutoFramer(max_length)
    return NetstringFramer(max_length) if netstring_format else JSONStreamFramer(max_length)


def frame(payload: bytes, netstring_format: bool = True) -> bytes:
    """One message on the wire."""
    if netstring_format:
        return b"%d:%s," % (len(payload), payload)
    return payload + b"\n"


# ---- messages -----------------------------------------------------------------------------------------------


def decode_event(payload: bytes) -> EvapiEvent:
    """A message from Kamailio: a JSON object naming its ``event``."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise EvapiDecodeError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise EvapiDecodeError(f"a JSON {type(obj).__name__}, not an object")
    name = obj.get(EVENT)
    if not isinstance(name, str) or not name:
        raise EvapiDecodeError(f'no "{EVENT}" name in {payload[:80]!r}')
    return EvapiEvent(name, obj, payload)


def encode_message(message: Mapping[str, Any]) -> bytes:
    """A message to Kamailio as compact JSON (its json_get_field reads any JSON)."""
    return orjson.dumps(dict(message))


def reply_message(
    event: str,
    transaction_index: str,
    transaction_label: str,
    *,
    attributes: str = "",
    resource_allocation: str = "",
    max_usage: int = 0,
    routes: str = "",
    thresholds: str = "",
    stat_queues: str = "",
    error: str = "",
) -> dict[str, Any]:
    """The reply to CGR_AUTH_REQUEST / CGR_PROCESS_MESSAGE / CGR_PROCESS_CDR (CGRateS's KamReply: every field
    present; ``MaxUsage`` in whole seconds, -1 unlimited)."""
    return {
        "Event": event,
        "TransactionIndex": transaction_index,
        "TransactionLabel": transaction_label,
        "Attributes": attributes,
        "ResourceAllocation": resource_allocation,
        "MaxUsage": max_usage,
        "Routes": routes,
        "Thresholds": thresholds,
        "StatQueues": stat_queues,
        "Error": error,
    }


def reply_event_name(request: EvapiEvent, default: str = CGR_AUTH_REPLY) -> str:
    """The event name a reply carries: the request's ``reply_route`` when it names one."""
    route = request.fields.get(REPLY_ROUTE)
    return route if isinstance(route, str) and route else default


def session_disconnect(hash_entry: str, hash_id: str, reason: str) -> dict[str, str]:
    """Ask Kamailio to end a dialog (its script runs dlg.end_dlg on HashEntry/HashId)."""
    return {"Event": CGR_SESSION_DISCONNECT, "HashEntry": hash_entry, "HashId": hash_id, "Reason": reason}


def dlg_list_request() -> dict[str, str]:
    """Ask Kamailio for its active dialogs (answered by CGR_DLG_LIST_REPLY)."""
    return {"Event": CGR_DLG_LIST}


@dataclass(frozen=True, slots=True)
class DialogID:
    """An active dialog in a dlg.list reply, identified as CGRateS identifies sessions."""

    origin_id: str
    origin_host: str


def parse_dlg_list_reply(event: EvapiEvent, default_host: str) -> list[DialogID]:
    """The dialogs of a CGR_DLG_LIST_REPLY: OriginID is the ``cgrOriginID`` dialog variable, else
    ``<call-id>;<caller tag>``; OriginHost the ``cgrOriginHost`` variable, else ``default_host``."""
    body = event.fields.get(JSONRPL_BODY)
    if body is None:
        return []
    if not isinstance(body, dict):
        raise EvapiDecodeError(f"{JSONRPL_BODY} is not a JSON-RPC answer object")
    result = body.get("result") or []
    if not isinstance(result, list):
        raise EvapiDecodeError(f"{JSONRPL_BODY}.result is not a list of dialogs")
    dialogs = []
    for dlg in result:
        if not isinstance(dlg, dict):
            continue
        origin_id = str(dlg.get("call-id") or "")
        caller = dlg.get("caller")
        tag = caller.get("tag") if isinstance(caller, dict) else dlg.get("from_tag")
        if tag:
            origin_id += f";{tag}"
        host = default_host
        for var in dlg.get("variables") or []:
            if not isinstance(var, dict):
                continue
            if var.get("cgrOriginHost"):
                host = str(var["cgrOriginHost"])
            if var.get("cgrOriginID"):
                origin_id = str(var["cgrOriginID"])
        dialogs.append(DialogID(origin_id, host))
    return dialogs


__all__ = [
    "CGR_AUTH_REPLY",
    "CGR_AUTH_REQUEST",
    "CGR_CALL_END",
    "CGR_CALL_START",
    "CGR_DLG_LIST",
    "CGR_DLG_LIST_REPLY",
    "CGR_PROCESS_CDR",
    "CGR_PROCESS_EVENT",
    "CGR_PROCESS_MESSAGE",
    "CGR_SESSION_DISCONNECT",
    "MAX_MESSAGE",
    "RESERVED_FIELDS",
    "AutoFramer",
    "DialogID",
    "EvapiDecodeError",
    "EvapiError",
    "EvapiEvent",
    "EvapiFramingError",
    "JSONStreamFramer",
    "NetstringFramer",
    "decode_event",
    "dlg_list_request",
    "encode_message",
    "frame",
    "make_framer",
    "parse_dlg_list_reply",
    "reply_event_name",
    "reply_message",
    "session_disconnect",
]
