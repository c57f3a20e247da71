"""SIP messages (RFC 3261 §7, §20, §25), sans-IO: bytes ↔ :class:`SipRequest` / :class:`SipResponse`.

:func:`parse_message` reads one message from a datagram (or a frame cut by :class:`StreamFramer` from a TCP stream):
the start line, the headers (compact forms expanded, folded lines joined, repeated fields kept in order), the body
as long as Content-Length says. Whatever is not a SIP message raises :class:`SipError` with what was wrong, never
another exception, whatever the bytes. :func:`response_to` builds a response to a request as §8.2.6 wants (Via,
From, Call-ID, CSeq copied; To copied and tagged); ``message.pack()`` serializes with a correct Content-Length.

What templates read and write of a message is in :mod:`.fields`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

SIP_VERSION = "SIP/2.0"
#: RFC 3261 §8.1.1.7: a branch starting with it was made by an RFC 3261 element (unique per transaction)
MAGIC_COOKIE = "z9hG4bK"
#: the largest message accepted (a UDP datagram cannot be larger; a TCP frame is refused beyond it)
MAX_MESSAGE_SIZE = 65535

#: compact form → full name (RFC 3261 §7.3.3 and the extensions that registered one)
COMPACT_FORMS = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "n": "Identity-Info", "o": "Event", "r": "Refer-To", "s": "Subject",
    "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires", "y": "Identity",
}
#: header names whose usual spelling is not plain title case
_SPELLING = {name.lower(): name for name in (
    "Call-ID", "CSeq", "WWW-Authenticate", "MIME-Version", "RAck", "RSeq", "SIP-ETag", "SIP-If-Match",
    "P-Asserted-Identity", "P-Preferred-Identity", "P-Charge-Info", "P-Charging-Vector", "P-Access-Network-Info",
    "P-Called-Party-ID", "Identity-Info", "Alert-Info", "Call-Info", "Error-Info", "Reply-To", "In-Reply-To",
)}
#: headers whose value is a comma-separated list (§7.3.1): several fields may be one, and one may hold several
LIST_HEADERS = frozenset(h.lower() for h in (
    "Via", "Contact", "Route", "Record-Route", "Path", "Service-Route", "Allow", "Supported", "Require",
    "Proxy-Require", "Unsupported", "Accept", "Accept-Encoding", "Accept-Language", "Content-Encoding",
    "Content-Language", "Alert-Info", "Call-Info", "Error-Info", "In-Reply-To", "Warning", "Allow-Events",
    "P-Asserted-Identity", "P-Preferred-Identity", "Diversion", "History-Info", "Reason", "Accept-Contact",
    "Reject-Contact", "Request-Disposition", "Security-Client", "Security-Server", "Security-Verify",
))
#: a request must carry these to be answerable (§8.1.1); a response to be matched
MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")

REASON_PHRASES = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    200: "OK", 202: "Accepted", 300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type", 416: "Unsupported URI Scheme",
    420: "Bad Extension", 421: "Extension Required", 423: "Interval Too Brief", 428: "Use Identity Header",
    436: "Bad Identity Info", 437: "Unsupported Credential", 438: "Invalid Identity Header",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 482: "Loop Detected",
    483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large", 600: "Busy Everywhere",
    603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}

_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE = re.compile(r"\r?\n")
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9][0-9])(?: (.*))?\Z", re.IGNORECASE)
_TAG_SECRET = secrets.token_bytes(16)


class SipError(ValueError):
    """Bytes that are no acceptable SIP message; the text says what was wrong."""


# ---------------------------------------------------------------------------------------------------- names


@lru_cache(maxsize=2048)
def canonical_name(name: str) -> str:
    """The full, usual spelling of a header name: ``v`` → ``Via``, ``call-id`` → ``Call-ID``, ``x-foo`` → ``X-Foo``."""
    low = name.lower()
    if len(low) == 1:
        full = COMPACT_FORMS.get(low)
        if full is not None:
            return full
    spelled = _SPELLING.get(low)
    if spelled is not None:
        return spelled
    return "-".join(part[:1].upper() + part[1:] for part in low.split("-"))


def split_list(value: str) -> list[str]:
    """A list header's value cut at the commas outside quotes and angle brackets, each part stripped."""
    if "," not in value:
        return [value.strip()] if value.strip() else []
    parts: list[str] = []
    start, quoted, angle, escaped = 0, False, False, False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            angle = True
        elif ch == ">":
            angle = False
        elif ch == "," and not angle:
            parts.append(value[start:i].strip())
            start = i + 1
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def header_params(value: str) -> dict[str, str]:
    """The ``;name=value`` parameters of a header value (after the ``>`` of a name-addr); names lowercased."""
    close = value.rfind(">")
    rest = value[close + 1:] if close >= 0 else value
    _, _, params = rest.partition(";")
    out: dict[str, str] = {}
    for item in params.split(";") if params else ():
        name, _, val = item.partition("=")
        name = name.strip().lower()
        if name:
            out[name] = val.strip().strip('"')
    return out


def address_uri(value: str) -> str:
    """The URI of a name-addr or addr-spec (From, To, Contact): ``"A" <sip:a@b>;tag=1`` → ``sip:a@b``."""
    value = value.strip()
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        return value[lt + 1:gt if gt > 0 else len(value)].strip()
    return value.split(";", 1)[0].strip()


@dataclass(slots=True, frozen=True)
class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...`` (§20.42)."""

    transport: str
    host: str
    port: int | None
    params: dict[str, str]

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")

    @property
    def sent_by(self) -> str:
        return f"{self.host}:{self.port}" if self.port is not None else self.host

    @classmethod
    def parse(cls, value: str) -> Via:
        proto, _, rest = value.strip().partition(" ")
        parts = [p.strip() for p in proto.split("/")]
        if len(parts) != 3 or parts[0].upper() != "SIP" or not parts[2]:
            raise SipError(f"Via <{value}>: the protocol is not SIP/2.0/<transport>")
        sent_by, _, params = rest.strip().partition(";")
        sent_by = sent_by.strip()
        if sent_by.startswith("["):
            end = sent_by.find("]")
            if end < 0:
                raise SipError(f"Via <{value}>: unterminated IPv6 reference")
            host, port_text = sent_by[:end + 1], sent_by[end + 2:] if sent_by[end + 1:end + 2] == ":" else ""
        else:
            host, _, port_text = sent_by.partition(":")
        if not host:
            raise SipError(f"Via <{value}>: no sent-by host")
        port = None
        if port_text:
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise SipError(f"Via <{value}>: port <{port_text}> is not a port number")
            port = int(port_text)
        return cls(parts[2].upper(), host.lower(), port, header_params(";" + params) if params else {})


# ---------------------------------------------------------------------------------------------------- headers


class Headers:
    """The header fields of a message in order, as (name, value) with full names; names compare case-insensitively."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields: list[tuple[str, str]] = [(canonical_name(n), v) for n, v in fields]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        full = canonical_name(name)  # the names kept are canonical: equal names are equal strings
        return any(n == full for n, _ in self._fields)

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"

    def fields(self, name: str) -> list[str]:
        """The values of every field named ``name``, as they were written (a list header not split)."""
        full = canonical_name(name)
        return [v for n, v in self._fields if n == full]

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first field's value (the first list element for a list header)."""
        values = self.values(name)
        return values[0] if values else default

    def values(self, name: str) -> list[str]:
        """Every value of ``name``: the fields in order, list headers split at their commas (§7.3.1)."""
        found = self.fields(name)
        if canonical_name(name).lower() in LIST_HEADERS:
            return [part for value in found for part in split_list(value)]
        return found

    def joined(self, name: str) -> str | None:
        """Every field of ``name`` joined with ``,`` (what CGRateS's templates read); None when absent."""
        found = self.fields(name)
        return ",".join(found) if found else None

    def add(self, name: str, value: str) -> None:
        """Append a field (after the others of the same name)."""
        _check_value(name, value)
        self._fields.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every field of ``name`` by one, where the first one was (at the end when there was none)."""
        _check_value(name, value)
        full = canonical_name(name)
        low = full.lower()
        out: list[tuple[str, str]] = []
        placed = False
        for n, v in self._fields:
            if n.lower() != low:
                out.append((n, v))
            elif not placed:
                out.append((full, value))
                placed = True
        if not placed:
            out.append((full, value))
        self._fields = out

    def remove(self, name: str) -> None:
        full = canonical_name(name)
        self._fields = [(n, v) for n, v in self._fields if n != full]

    def copy(self) -> Headers:
        out = Headers()
        out._fields = list(self._fields)
        return out


def _check_value(name: str, value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"SIP header {name}: value {value!r} is not a string")
    if not _TOKEN.match(name):
        raise SipError(f"SIP header name <{name}> is not a token")
    if "\r" in value or "\n" in value:
        raise SipError(f"SIP header {name}: a value cannot hold a line break")


# ---------------------------------------------------------------------------------------------------- messages


@dataclass(slots=True)
class SipMessage:
    headers: Headers
    body: bytes = b""

    # ---- the fields every message must carry
    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(sequence number, method) of CSeq; SipError when it is missing or malformed."""
        return _parse_cseq(self.headers.get("CSeq") or "")

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.headers.values("Via")]

    @property
    def top_via(self) -> Via:
        value = self.headers.get("Via")
        if value is None:
            raise SipError("no Via header")
        return Via.parse(value)

    @property
    def from_tag(self) -> str:
        return header_params(self.headers.get("From") or "").get("tag", "")

    @property
    def to_tag(self) -> str:
        return header_params(self.headers.get("To") or "").get("tag", "")

    def start_line(self) -> str:
        raise NotImplementedError

    def pack(self) -> bytes:
        """The message on the wire; Content-Length is set to the body's length."""
        lines = [self.start_line()]
        lines.extend(f"{name}: {value}" for name, value in self.headers if name != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + self.body

    def __str__(self) -> str:
        return self.pack().decode("utf-8", "replace")


@dataclass(slots=True)
class SipRequest(SipMessage):
    method: str = "INVITE"
    uri: str = ""

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {SIP_VERSION}"


@dataclass(slots=True)
class SipResponse(SipMessage):
    status: int = 200
    reason: str = ""

    def start_line(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason}"

    @property
    def is_final(self) -> bool:
        return self.status >= 200

    def set_status_line(self, line: str) -> None:
        """From the text templates write (``*rep.Request`` = ``SIP/2.0 302 Moved Temporarily``)."""
        self.status, self.reason = parse_status_line(line)


def parse_status_line(line: str) -> tuple[int, str]:
    """``SIP/2.0 302 Moved Temporarily`` → (302, "Moved Temporarily"); a missing reason gets the usual one."""
    m = _STATUS_LINE.match(line.strip())
    if m is None:
        raise SipError(f"<{line}> is not a SIP status line (SIP/2.0 <code 100-699> <reason>)")
    status = int(m.group(1))
    return status, (m.group(2) or "").strip() or REASON_PHRASES.get(status, "")


def _parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10 or int(parts[0]) >= 2**31 \
            or not _TOKEN.match(parts[1]):
        raise SipError(f"CSeq <{value}> is not '<number below 2^31> <method>'")
    return int(parts[0]), parts[1]


# ---------------------------------------------------------------------------------------------------- parsing


def parse_message(data: bytes, *, require_mandatory: bool = True) -> SipRequest | SipResponse:
    """One SIP message from ``data`` (a datagram, or a frame cut by :class:`StreamFramer`).

    Leading CRLFs are skipped (§7.5); bytes past Content-Length are ignored (§18.3); a body shorter than
    Content-Length, a bad start line, header line, Content-Length or CSeq, or a missing Via/From/To/Call-ID/CSeq
    (unless ``require_mandatory`` is false) raise :class:`SipError`.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SipError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data).lstrip(b"\r\n")
    if not data:
        raise SipError("empty message")
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}")
    end = _HEADER_END.search(data)
    if end is None:
        raise SipError("no empty line ends the headers")
    head = data[:end.start()].decode("utf-8", "surrogateescape")
    lines = _LINE.split(head)
    if "\r" in head.replace("\r\n", ""):
        raise SipError("a bare CR in the start line or headers")  # it would split the line for another reader
    start = lines[0]
    headers = Headers()
    fields = headers._fields
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):  # folded onto the previous field (§7.3.1)
            if not fields:
                raise SipError("a continuation line precedes the first header")
            name, value = fields[-1]
            more = line.strip(" \t")
            if more:
                fields[-1] = (name, f"{value} {more}" if value else more)
            continue
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _TOKEN.match(name):
            raise SipError(f"header line <{_clip(line)}> is not 'name: value'")
        fields.append((canonical_name(name), value.strip(" \t")))
    body = data[end.end():]
    length_text = headers.get("Content-Length")
    if length_text is not None:
        if not length_text.isdigit() or len(length_text) > 6:
            raise SipError(f"Content-Length <{_clip(length_text)}> is not a number")
        length = int(length_text)
        if length > len(body):
            raise SipError(f"Content-Length {length} but {len(body)} bytes of body")
        body = body[:length]
    message = _start_line(start, headers, body)
    if require_mandatory:
        _check_mandatory(message)
    return message


def _start_line(line: str, headers: Headers, body: bytes) -> SipRequest | SipResponse:
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        if version.upper() != SIP_VERSION:
            raise SipError(f"status line <{_clip(line)}>: version {version} is not {SIP_VERSION}")
        code, _, reason = rest.partition(" ")
        if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
            raise SipError(f"status line <{_clip(line)}>: <{code}> is not a status code 100-699")
        return SipResponse(headers, body, int(code), reason.strip())
    parts = line.split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1] or ":" not in parts[1]:
        raise SipError(f"request line <{_clip(line)}> is not 'METHOD Request-URI SIP/2.0'")
    if parts[2].upper() != SIP_VERSION:
        raise SipError(f"request line <{_clip(line)}>: version {parts[2]} is not {SIP_VERSION}")
    return SipRequest(headers, body, parts[0], parts[1])


def _check_mandatory(message: SipRequest | SipResponse) -> None:
    missing = [name for name in MANDATORY if name not in message.headers]
    if missing:
        raise SipError(f"mandatory header(s) missing: {', '.join(missing)}")
    _, method = message.cseq
    if isinstance(message, SipRequest) and method != message.method:
        raise SipError(f"CSeq method {method} differs from the request method {message.method}")
    for via in message.headers.fields("Via"):
        if not split_list(via):
            raise SipError("an empty Via header")
    message.top_via  # noqa: B018  (parses the top Via: transactions need its branch and sent-by)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------------------------------------------- stream


#: what :meth:`StreamFramer.feed` yields for a CRLFCRLF keep-alive ping (RFC 5626 §3.5.1): answer it with CRLF
KEEPALIVE_PING = b"\r\n\r\n"


class StreamFramer:
    """Cuts a TCP byte stream into messages by their Content-Length (§18.3).

    ``feed(data)`` returns the complete frames received so far (bytes for :func:`parse_message`, or
    :data:`KEEPALIVE_PING`); a frame that cannot be delimited (no Content-Length value, too large) raises
    :class:`SipError`: the stream is lost and the connection should be closed.
    """

    __slots__ = ("_buf", "max_size")

    def __init__(self, max_size: int = MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self.max_size = max_size

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        while buf:
            if buf[:1] in (b"\r", b"\n"):
                lead = len(buf) - len(buf.lstrip(b"\r\n"))
                if buf.startswith(KEEPALIVE_PING):
                    frames.append(KEEPALIVE_PING)
                    del buf[:4]
                elif lead == len(buf) and len(buf) < 4 and KEEPALIVE_PING.startswith(bytes(buf)):
                    break  # perhaps the start of a ping
                else:
                    del buf[:lead]  # stray line ends between messages (§7.5)
                continue
            end = _HEADER_END.search(buf)
            if end is None:
                if len(buf) > self.max_size:
                    raise SipError(f"no end of headers within {self.max_size} bytes")
                break
            length = _content_length(bytes(buf[:end.start()]))
            total = end.end() + length
            if total > self.max_size:
                raise SipError(f"message of {total} bytes exceeds {self.max_size}")
            if len(buf) < total:
                break
            frames.append(bytes(buf[:total]))
            del buf[:total]
        return frames


_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


def _content_length(head: bytes) -> int:
    m = _CONTENT_LENGTH.search(head)
    if m is None:
        return 0
    text = m.group(1).strip()
    if not text.isdigit() or len(text) > 6:
        raise SipError(f"Content-Length <{_clip(text.decode('latin-1'))}> is not a number")
    return int(text)


# ---------------------------------------------------------------------------------------------------- responses


def local_tag(request: SipRequest) -> str:
    """The To tag of every response to ``request``: random to the world, the same for all responses of one
    transaction (its retransmissions, a 487 after CANCEL) without anybody keeping it (§19.3)."""
    key = "\x00".join((request.call_id, request.from_tag, _branch_or_empty(request), str(request.cseq[0])))
    return hmac.new(_TAG_SECRET, key.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:16]


def _branch_or_empty(request: SipRequest) -> str:
    try:
        return request.top_via.branch
    except SipError:
        return ""


def stamp_received(request: SipRequest, host: str, port: int) -> None:
    """Note where ``request`` came from in its top Via (§18.2.1 ``received``, RFC 3581 ``rport``), so responses
    carry it and a NAT-ed client gets them."""
    fields = request.headers._fields
    for i, (name, value) in enumerate(fields):
        if name != "Via":
            continue
        parts = split_list(value)
        if not parts:
            continue
        top = parts[0]
        via = Via.parse(top)
        if "rport" in via.params and not via.params["rport"]:
            top = re.sub(r";rport(?=;|$)", f";rport={port}", top, count=1, flags=re.IGNORECASE)
            top += f";received={host}" if "received" not in via.params else ""
        elif via.host.strip("[]") != host and "received" not in via.params:
            top += f";received={host}"
        fields[i] = (name, ", ".join([top, *parts[1:]]))
        return


def response_to(request: SipRequest, status: int, reason: str | None = None, *,
                headers: Iterable[tuple[str, str]] = (), to_tag: str | None = None) -> SipResponse:
    """A response to ``request`` (§8.2.6): every Via, From, Call-ID and CSeq copied; To copied with our tag
    added (not on 100, which also copies Timestamp); then ``headers``."""
    if not 100 <= status <= 699:
        raise SipError(f"status {status} is not 100-699")
    src = request.headers
    out = Headers()
    for via in src.fields("Via"):
        out.add("Via", via)
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = src.get(name)
        if value is not None:
            out.add(name, value)
    to = out.get("To")
    if to is not None and status > 100 and "tag" not in header_params(to):
        out.set("To", f"{to};tag={to_tag or local_tag(request)}")
    if status == 100:
        stamp = src.get("Timestamp")
        if stamp is not None:
            out.add("Timestamp", stamp)
    for name, value in headers:
        out.add(name, value)
    return SipResponse(out, b"", status, REASON_PHRASES.get(status, "") if reason is None else reason)


__all__ = [
    "COMPACT_FORMS",
    "KEEPALIVE_PING",
    "MAGIC_COOKIE",
    "MAX_MESSAGE_SIZE",
    "REASON_PHRASES",
    "Headers",
    "SipError",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "StreamFramer",
    "Via",
    "address_uri",
    "canonical_name",
    "header_params",
    "local_tag",
    "parse_message",
    "parse_status_line",
    "response_to",
    "split_list",
    "stamp_received",
]
