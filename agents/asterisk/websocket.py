"""The client end of a WebSocket (RFC 6455) as a sans-IO codec: bytes in, events out; messages in, bytes out.

ARI's event stream (``GET /ari/events``) is a WebSocket. The connection to each Asterisk is kept up by
:class:`~pycgrates.agents.reconnect.ReconnectingClient` (the same dial/back-off/re-sync machinery as the
FreeSWITCH and Kamailio clients), which moves bytes over a TCP stream; this codec is what turns that stream into
a WebSocket. aiohttp's WebSocket client owns its socket and cannot be fed from such a stream, hence this small one.

    ws = WebSocketCodec("127.0.0.1:8088", "/ari/events?app=cgrates_auth")
    transport.write(ws.handshake())
    for event in ws.receive_data(data):   # Accepted, Rejected, Message, Ping, Closed
        ...
    transport.write(ws.text('{"type": "RESTRequest", ...}'))

What the client sends is masked, as RFC 6455 requires of clients; what the server sends must not be (a masked
frame is accepted all the same). Pings are answered by the owner with :meth:`WebSocketCodec.pong`. Text
messages split over continuation frames are joined. A handshake that is not ``101 Switching Protocols`` with the
right ``Sec-WebSocket-Accept``, a frame breaking the framing rules or a message over ``max_message`` raise
:class:`WebSocketError`: the stream cannot be trusted after it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE = 4 * 1024 * 1024
MAX_HANDSHAKE = 16 * 1024

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_CONTROL = frozenset({CLOSE, PING, PONG})
_DATA = frozenset({CONTINUATION, TEXT, BINARY})

#: the connection's states and what each accepts: the handshake answer, then frames, then nothing
CONNECTING, OPEN, CLOSED = "CONNECTING", "OPEN", "CLOSED"


class WebSocketError(ValueError):
    """The peer broke the WebSocket protocol; the stream cannot be read further."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """The server switched to the WebSocket protocol."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """The server answered the handshake with something else than 101 (401: wrong credentials, ...)."""

    status: int
    reason: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Message:
    """A whole data message: ``str`` for a text one, ``bytes`` for a binary one."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Ping:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The server closed the WebSocket (answer with :meth:`WebSocketCodec.close`)."""

    code: int
    reason: str


Event = Accepted | Rejected | Message | Ping | Closed


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept a server answers a Sec-WebSocket-Key with."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class WebSocketCodec:
    """One client WebSocket connection's protocol state (see the module docstring)."""

    def __init__(self, host: str, target: str, *, headers: Mapping[str, str] | None = None,
                 max_message: int = MAX_MESSAGE, key: str | None = None) -> None:
        self.host = host
        self.target = target
        self.headers = dict(headers or {})
        self.max_message = max_message
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        self.state = CONNECTING
        self._buf = bytearray()
        self._parts: list[bytes] = []
        self._opcode = 0  # of the fragmented message being joined, 0 when none

    # ------------------------------------------------------------------------------------------ out

    def handshake(self) -> bytes:
        """The HTTP/1.1 upgrade request."""
        lines = [f"GET {self.target} HTTP/1.1", f"Host: {self.host}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {self.key}", "Sec-WebSocket-Version: 13",
                 *(f"{name}: {value}" for name, value in self.headers.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def text(self, text: str) -> bytes:
        return self._frame(TEXT, text.encode())

    def pong(self, payload: bytes) -> bytes:
        return self._frame(PONG, payload)

    def close(self, code: int = 1000, reason: str = "") -> bytes:
        """A close frame (the connection counts as closed from here on)."""
        self.state = CLOSED
        return self._frame(CLOSE, struct.pack("!H", code) + reason.encode()[:123])

    @staticmethod
    def _frame(opcode: int, payload: bytes) -> bytes:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        return head + mask + _masked(payload, mask)

    # ------------------------------------------------------------------------------------------ in

    def receive_data(self, data: bytes) -> list[Event]:
        """The events ``data`` completes. Raises WebSocketError when the stream is broken."""
        if self.state == CLOSED:
            return []
        self._buf += data
        events: list[Event] = []
        if self.state == CONNECTING:
            answer = self._handshake_answer()
            if answer is None:
                return events
            events.append(answer)
            if isinstance(answer, Rejected):
                self.state = CLOSED
                return events
            self.state = OPEN
        while self.state == OPEN:
            event = self._next_frame()
            if event is None:
                break
            if event is not False:
                events.append(event)
        return events

    def _handshake_answer(self) -> Accepted | Rejected | None:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HANDSHAKE:
                raise WebSocketError(f"handshake answer longer than {MAX_HANDSHAKE} bytes")
            return None
        head = bytes(self._buf[:end]).decode("latin-1")
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise WebSocketError(f"not an HTTP answer to the handshake: {status_line[:80]!r}")
        status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
        headers: dict[str, str] = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        del self._buf[:end + 4]
        if status != 101:
            length = int(headers.get("content-length", "0") or 0) if headers.get("content-length", "").isdigit() \
                else 0
            body = bytes(self._buf[:length])
            return Rejected(status, reason, body)
        if headers.get("upgrade", "").lower() != "websocket":
            raise WebSocketError("101 answer without Upgrade: websocket")
        if headers.get("sec-websocket-accept") != accept_key(self.key):
            raise WebSocketError("101 answer with a wrong Sec-WebSocket-Accept")
        return Accepted()

    def _next_frame(self) -> Event | bool | None:
        """The next event, None when more bytes are needed, False for a frame that completes nothing."""
        buf = self._buf
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        if b0 & 0x70:
            raise WebSocketError(f"reserved bits set in a frame header ({b0:#04x}): no extension was agreed")
        fin, opcode, masked, n = bool(b0 & 0x80), b0 & 0x0F, bool(b1 & 0x80), b1 & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                return None
            n = struct.unpack_from("!H", buf, 2)[0]
            pos = 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n = struct.unpack_from("!Q", buf, 2)[0]
            pos = 10
        if opcode in _CONTROL and (n > 125 or not fin):
            raise WebSocketError(f"control frame {opcode:#x} fragmented or longer than 125 bytes")
        if opcode not in _CONTROL and opcode not in _DATA:
            raise WebSocketError(f"unknown frame opcode {opcode:#x}")
        if n + sum(map(len, self._parts)) > self.max_message:
            raise WebSocketError(f"message longer than {self.max_message} bytes")
        mask = b""
        if masked:
            if len(buf) < pos + 4:
                return None
            mask = bytes(buf[pos:pos + 4])
            pos += 4
        if len(buf) < pos + n:
            return None
        payload = bytes(buf[pos:pos + n])
        del buf[:pos + n]
        if mask:
            payload = _masked(payload, mask)
        if opcode == PING:
            return Ping(payload)
        if opcode == PONG:
            return False
        if opcode == CLOSE:
            self.state = CLOSED
            code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else 1005
            return Closed(code, payload[2:].decode(errors="replace"))
        return self._data(fin, opcode, payload)

    def _data(self, fin: bool, opcode: int, payload: bytes) -> Event | bool:
        if opcode == CONTINUATION:
            if not self._opcode:
                raise WebSocketError("continuation frame without a message to continue")
        elif self._opcode:
            raise WebSocketError("a new message started before the fragmented one ended")
        else:
            self._opcode = opcode
        self._parts.append(payload)
        if not fin:
            return False
        data, kind = b"".join(self._parts), self._opcode
        self._parts, self._opcode = [], 0
        if kind == BINARY:
            return Message(data)
        try:
            return Message(data.decode())
        except UnicodeDecodeError:
            raise WebSocketError("text message that is not UTF-8") from None


def _masked(payload: bytes, mask: bytes) -> bytes:
    """XOR ``payload`` with the repeated 4-byte ``mask`` (done on whole integers: fast for long payloads)."""
    if not payload:
        return payload
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(n, "little")


__all__ = ["CLOSED", "CONNECTING", "OPEN", "Accepted", "Closed", "Event", "Message", "Ping", "Rejected",
           "WebSocketCodec", "WebSocketError", "accept_key"]
