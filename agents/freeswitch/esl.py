"""FreeSWITCH event socket (mod_event_socket) codec: bytes ↔ messages, event bodies, commands. No I/O.

The wire, inbound mode (we dial FreeSWITCH, it speaks first)::

    Content-Type: auth/request                         ← on connect
    auth ClueCon\\n\\n                                   → a command is one line (plus header lines) and a blank line
    Content-Type: command/reply                        ← replies come back in the order the commands were sent
    Reply-Text: +OK accepted

    api show channels\\n\\n                              →
    Content-Type: api/response                         ← the command's output is the body
    Content-Length: 123
    <123 bytes>

    Content-Length: 942                                ← an event: its serialization is the body
    Content-Type: text/event-plain                     (text/event-json, text/event-xml as subscribed)
    <942 bytes: "Name: url-encoded value" lines, a blank line, optional Content-Length body>

A message is header lines up to a blank line, then ``Content-Length`` bytes of body. :class:`ESLFramer` cuts a
byte stream into :class:`ESLMessage` objects; :func:`parse_event` turns an event message into an
:class:`ESLEvent` (plain, json or xml serialization, one header map either way); the ``*_command`` functions build
what we send. A broken frame raises :class:`ESLProtocolError` (the stream cannot be trusted after it); an event
body that cannot be read raises :class:`ESLEventError` (skip it, the stream is fine).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import orjson

# Content-Type values FreeSWITCH sends
AUTH_REQUEST = "auth/request"
COMMAND_REPLY = "command/reply"
API_RESPONSE = "api/response"
EVENT_PLAIN = "text/event-plain"
EVENT_JSON = "text/event-json"
EVENT_XML = "text/event-xml"
DISCONNECT_NOTICE = "text/disconnect-notice"
RUDE_REJECTION = "text/rude-rejection"
LOG_DATA = "log/data"

EVENT_FORMATS = ("plain", "json", "xml")
BACKGROUND_JOB = "BACKGROUND_JOB"

#: a header block longer than this without its blank line is not FreeSWITCH talking
MAX_HEADER_BYTES = 64 * 1024
#: the largest body accepted (``show channels`` on a busy switch is the biggest thing FreeSWITCH sends)
MAX_BODY_BYTES = 64 * 1024 * 1024

_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_DIGITS = re.compile(r"[0-9]{1,12}")


class ESLError(Exception):
    """Any event-socket failure."""


class ESLProtocolError(ESLError):
    """The byte stream is not event-socket framing; nothing after this point can be trusted."""


class ESLEventError(ESLError):
    """A well-framed event whose body cannot be read."""


class ESLCommandError(ESLError):
    """FreeSWITCH answered a command with -ERR (or -USAGE)."""

    def __init__(self, command: str, reply: str) -> None:
        super().__init__(f"{command}: {reply}")
        self.command = command
        self.reply = reply


class ESLAuthError(ESLError):
    """FreeSWITCH refused our password (or our address)."""


@dataclass(slots=True)
class ESLMessage:
    """One framed message: its headers (as sent, not URL-decoded) and its body bytes."""

    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")

    @property
    def ok(self) -> bool:
        """A command/reply that succeeded (``Reply-Text: +OK ...``)."""
        return self.reply_text.startswith("+OK")

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(slots=True)
class ESLEvent:
    """A FreeSWITCH event: decoded headers (``Event-Name``, ``Unique-ID``, ``variable_*``, ...) and its body."""

    headers: dict[str, str]
    body: str = ""
    format: str = field(default="plain", compare=False)

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    @property
    def subclass(self) -> str:
        """``Event-Subclass`` of a CUSTOM event ("" otherwise)."""
        return self.headers.get("Event-Subclass", "")

    @property
    def unique_id(self) -> str:
        return self.headers.get("Unique-ID", "")

    def get(self, header: str, default: str = "") -> str:
        return self.headers.get(header, default)

    def __getitem__(self, header: str) -> str:
        return self.headers[header]

    def __contains__(self, header: object) -> bool:
        return header in self.headers


# ---- framing ------------------------------------------------------------------------------------------------


class ESLFramer:
    """Cuts the byte stream from FreeSWITCH into :class:`ESLMessage` objects.

    ``feed(bytes)`` appends; iterating yields every complete message, leaving a partial one buffered.
    """

    __slots__ = ("_buf", "_headers", "_need", "_scan", "max_body", "max_header")

    def __init__(self, max_header: int = MAX_HEADER_BYTES, max_body: int = MAX_BODY_BYTES) -> None:
        self.max_header = max_header
        self.max_body = max_body
        self._buf = bytearray()
        self._scan = 0                      # where the search for the blank line resumes
        self._headers: dict[str, str] | None = None
        self._need = 0                      # body bytes the parsed headers announced

    def feed(self, data: bytes) -> None:
        self._buf += data

    def __iter__(self) -> Iterator[ESLMessage]:
        while (msg := self.next_message()) is not None:
            yield msg

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def next_message(self) -> ESLMessage | None:
        """The next complete message, or None until more bytes arrive."""
        if self._headers is None:
            self._skip_blank_lines()
            match = _BLANK_LINE.search(self._buf, max(0, self._scan - 3))
            if match is None:
                if len(self._buf) > self.max_header:
                    raise ESLProtocolError(f"no end of headers within {self.max_header} bytes")
                self._scan = len(self._buf)
                return None
            if match.start() > self.max_header:
                raise ESLProtocolError(f"header block of {match.start()} bytes exceeds {self.max_header}")
            headers = parse_header_block(bytes(self._buf[: match.start()]))
            del self._buf[: match.end()]
            self._scan = 0
            self._need = content_length(headers, self.max_body)
            self._headers = headers
        if len(self._buf) < self._need:
            return None
        body = bytes(self._buf[: self._need])
        del self._buf[: self._need]
        headers, self._headers, self._need = self._headers, None, 0
        return ESLMessage(headers, body)

    def _skip_blank_lines(self) -> None:
        # a stray newline between messages (some clients and proxies add one) is not a message
        n = 0
        buf = self._buf
        while n < len(buf) and buf[n] in (0x0A, 0x0D):
            n += 1
        if n:
            del buf[:n]
            self._scan = max(0, self._scan - n)


def parse_header_block(block: bytes) -> dict[str, str]:
    """``Name: value`` lines into a dict (values as sent); a line without a colon is a protocol error."""
    headers: dict[str, str] = {}
    for raw in block.split(b"\n"):
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        name, sep, value = line.partition(":")
        name = name.strip()
        if not sep or not name:
            raise ESLProtocolError(f"malformed header line {line[:80]!r} (expected 'Name: value')")
        headers[name] = value[1:] if value.startswith(" ") else value
    return headers


def content_length(headers: Mapping[str, str], max_body: int = MAX_BODY_BYTES) -> int:
    """The body length a message announces (0 without the header); a bad value is a protocol error."""
    value = headers.get("Content-Length")
    if value is None:
        return 0
    value = value.strip()
    if not _DIGITS.fullmatch(value):
        raise ESLProtocolError(f"Content-Length {value[:40]!r} is not a byte count")
    length = int(value)
    if length > max_body:
        raise ESLProtocolError(f"Content-Length {length} exceeds the limit of {max_body} bytes")
    return length


# ---- event bodies -------------------------------------------------------------------------------------------


def parse_event(msg: ESLMessage) -> ESLEvent:
    """The event carried by a ``text/event-*`` message."""
    parser = _EVENT_PARSERS.get(msg.content_type)
    if parser is None:
        raise ESLEventError(f"Content-Type {msg.content_type!r} is not an event")
    event = parser(msg.body)
    if not event.name:
        raise ESLEventError("event without Event-Name")
    return event


def parse_plain_event(body: bytes) -> ESLEvent:
    """``Name: url-encoded value`` lines, a blank line, then the event's own body (its Content-Length bytes)."""
    text = body.decode("utf-8", "replace")
    head, sep, rest = text.partition("\n\n")
    headers: dict[str, str] = {}
    for line in head.split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name:
            raise ESLEventError(f"malformed event header line {line[:80]!r}")
        headers[name] = unquote(value.strip())
    inner = ""
    if sep:
        inner = rest
        length = headers.get("Content-Length", "")
        if _DIGITS.fullmatch(length):
            # the count is in bytes of the encoded body
            inner = rest.encode("utf-8")[: int(length)].decode("utf-8", "replace")
    return ESLEvent(headers, inner, "plain")


def parse_json_event(body: bytes) -> ESLEvent:
    """A JSON object of headers (values not URL-encoded); ``_body`` holds the event's body."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ESLEventError(f"event body is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ESLEventError(f"JSON event is a {type(obj).__name__}, not an object")
    inner = obj.pop("_body", "")
    headers = {str(k): _header_text(v) for k, v in obj.items()}
    return ESLEvent(headers, inner if isinstance(inner, str) else _header_text(inner), "json")


def parse_xml_event(body: bytes) -> ESLEvent:
    """``<event><headers><Name>value</Name>...</headers><body>...</body></event>``."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ESLEventError(f"event body is not XML: {exc}") from None
    heads = root.find("headers")
    if heads is None:
        raise ESLEventError("XML event without <headers>")
    headers = {child.tag: unquote(child.text or "") for child in heads}
    inner = root.find("body")
    return ESLEvent(headers, inner.text or "" if inner is not None else "", "xml")


def _header_text(value: object) -> str:
    # FreeSWITCH serializes an array header as a JSON array; in plain events it reads "ARRAY::a|:b"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "ARRAY::" + "|:".join(_header_text(v) for v in value)
    return "" if value is None else str(value)


_EVENT_PARSERS = {EVENT_PLAIN: parse_plain_event, EVENT_JSON: parse_json_event, EVENT_XML: parse_xml_event}
EVENT_CONTENT_TYPES = frozenset(_EVENT_PARSERS)


# ---- commands -----------------------------------------------------------------------------------------------


def _one_line(what: str, value: str) -> str:
    # a line break would end the command early and let the rest be read as another command
    if "\n" in value or "\r" in value:
        raise ValueError(f"ESL {what} must be one line: {value[:60]!r} contains a line break")
    return value


def _command(line: str, headers: Iterable[tuple[str, str]] = (), body: str | None = None) -> bytes:
    out = [line]
    for name, value in headers:
        out.append(f"{_one_line('header name', name)}: {_one_line(f'header {name}', value)}")
    if body:
        out.append(f"Content-Length: {len(body.encode())}")
        return ("\n".join(out) + "\n\n" + body).encode()
    return ("\n".join(out) + "\n\n").encode()


def auth_command(password: str) -> bytes:
    return _command("auth " + _one_line("password", password))


def event_command(names: Iterable[str], fmt: str = "plain") -> bytes:
    """``event <plain|json|xml> NAME ...``; CUSTOM subclasses go last, as FreeSWITCH requires."""
    if fmt not in EVENT_FORMATS:
        raise ValueError(f"ESL event format {fmt!r} is not one of {', '.join(EVENT_FORMATS)}")
    plain: list[str] = []
    custom: list[str] = []
    for name in names:
        name = _one_line("event name", name).strip()
        if not name:
            continue
        if name.upper() == "ALL":
            return _command(f"event {fmt} ALL")
        if name.startswith("CUSTOM"):
            custom.extend(name[len("CUSTOM"):].split())
        elif name not in plain:
            plain.append(name)
    if not plain and not custom:
        raise ValueError("ESL event subscription names no event")
    words = plain + (["CUSTOM", *custom] if custom else [])
    return _command(f"event {fmt} " + " ".join(words))


def filter_command(header: str, value: str) -> bytes:
    """Only events whose ``header`` equals ``value`` pass (filters add up: any match passes)."""
    if not header or " " in header:
        raise ValueError(f"ESL filter header {header!r} must be one word")
    return _command(f"filter {_one_line('filter header', header)} {_one_line('filter value', value)}")


def api_command(command: str) -> bytes:
    return _command("api " + _one_line("api command", command.strip()))


def bgapi_command(command: str, job_uuid: str) -> bytes:
    """``bgapi`` answered at once with +OK; the output arrives later as a BACKGROUND_JOB event with this Job-UUID."""
    return _command("bgapi " + _one_line("bgapi command", command.strip()), [("Job-UUID", job_uuid)])


def sendmsg_command(uuid: str, headers: Mapping[str, str] | Iterable[tuple[str, str]],
                    body: str | None = None) -> bytes:
    """``sendmsg <uuid>`` with ``call-command`` and its header lines (and an optional body)."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    if not items:
        raise ValueError("ESL sendmsg needs at least a call-command header")
    return _command("sendmsg " + _one_line("channel uuid", uuid.strip()), items, body)


def execute_command(uuid: str, app: str, arg: str = "", *, event_lock: bool = False) -> bytes:
    """Run a dialplan application on a channel: ``call-command: execute``."""
    headers = [("call-command", "execute"), ("execute-app-name", app)]
    if arg:
        headers.append(("execute-app-arg", arg))
    if event_lock:
        headers.append(("event-lock", "true"))
    return sendmsg_command(uuid, headers)


def hangup_command(uuid: str, cause: str = "MANAGER_REQUEST") -> bytes:
    """Hang a channel up: ``call-command: hangup`` with ``hangup-cause``."""
    return sendmsg_command(uuid, [("call-command", "hangup"), ("hangup-cause", cause)])


def exit_command() -> bytes:
    return _command("exit")


def api_failed(output: str) -> bool:
    """An api output reporting failure (``-ERR no such channel``, ``-USAGE: ...``)."""
    return output.lstrip().startswith(("-ERR", "-USAGE"))


__all__ = [
    "API_RESPONSE",
    "AUTH_REQUEST",
    "BACKGROUND_JOB",
    "COMMAND_REPLY",
    "DISCONNECT_NOTICE",
    "EVENT_CONTENT_TYPES",
    "EVENT_FORMATS",
    "EVENT_JSON",
    "EVENT_PLAIN",
    "EVENT_XML",
    "LOG_DATA",
    "RUDE_REJECTION",
    "ESLAuthError",
    "ESLCommandError",
    "ESLError",
    "ESLEvent",
    "ESLEventError",
    "ESLFramer",
    "ESLMessage",
    "ESLProtocolError",
    "api_command",
    "api_failed",
    "auth_command",
    "bgapi_command",
    "content_length",
    "event_command",
    "execute_command",
    "exit_command",
    "filter_command",
    "hangup_command",
    "parse_event",
    "parse_header_block",
    "parse_json_event",
    "parse_plain_event",
    "parse_xml_event",
    "sendmsg_command",
]
