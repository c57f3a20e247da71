"""Diameter wire codec (RFC 6733 §3, §4): message header, AVPs, base data types, padding.

Pure bytes ↔ objects: no sockets, no asyncio, no engine imports. Every malformed input raises ``DecodeError``
(carrying the Diameter Result-Code and, when one AVP is at fault, that AVP for Failed-AVP) and nothing else.
"""

from __future__ import annotations

import ipaddress
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from .dictionary import AVPDef, Dictionary

HEADER_LEN = 20
VERSION = 1
MAX_MESSAGE_LEN = 1 << 20   # a peer announcing more than this is closed; the field itself allows 16 MiB
MAX_GROUP_DEPTH = 32

# Command flags (RFC 6733 §3)
FLAG_REQUEST = 0x80
FLAG_PROXIABLE = 0x40
FLAG_ERROR = 0x20
FLAG_RETRANSMIT = 0x10
# AVP flags (RFC 6733 §4.1)
AVP_VENDOR = 0x80
AVP_MANDATORY = 0x40
AVP_PROTECTED = 0x20

# Base protocol command codes
CMD_CAPABILITIES_EXCHANGE = 257
CMD_DEVICE_WATCHDOG = 280
CMD_DISCONNECT_PEER = 282


class ResultCode:
    """Result-Code values used by the agent (RFC 6733 §7.1, RFC 4006 §9)."""

    SUCCESS = 2001
    COMMAND_UNSUPPORTED = 3001
    UNABLE_TO_DELIVER = 3002
    TOO_BUSY = 3004
    APPLICATION_UNSUPPORTED = 3007
    INVALID_HDR_BITS = 3008
    INVALID_AVP_BITS = 3009
    UNKNOWN_PEER = 3010
    AVP_UNSUPPORTED = 5001
    INVALID_AVP_VALUE = 5004
    MISSING_AVP = 5005
    NO_COMMON_APPLICATION = 5010
    UNSUPPORTED_VERSION = 5011
    UNABLE_TO_COMPLY = 5012
    INVALID_AVP_LENGTH = 5014
    INVALID_MESSAGE_LENGTH = 5015


class DecodeError(ValueError):
    """Bytes that are not a valid Diameter message.

    ``result_code`` is what an answer should carry; ``avp`` (when set) is the offending AVP for Failed-AVP;
    ``fatal`` means the byte stream cannot be framed any more and the connection must be closed.
    """

    def __init__(self, message: str, result_code: int = ResultCode.UNABLE_TO_COMPLY,
                 avp: AVP | None = None, fatal: bool = False) -> None:
        super().__init__(message)
        self.result_code = result_code
        self.avp = avp
        self.fatal = fatal


class EncodeError(ValueError):
    """A value that cannot be written as the AVP's data type; the message names the AVP."""


class AVP:
    """One AVP. ``value`` is typed by the dictionary definition: int, float, str, bytes, datetime or list[AVP]
    (Grouped). An AVP the dictionaries do not know keeps its raw bytes and ``definition`` is None.

    AVPs read from the wire keep their data bytes and decode a scalar value on first access (a request is
    mostly passed through or read in part); an invalid value then raises ``DecodeError`` at that access.
    Grouped AVPs are split into their children when the message is decoded.
    """

    __slots__ = ("_data", "_value", "code", "definition", "flags", "vendor_id")

    def __init__(self, code: int, value: Any, flags: int = 0, vendor_id: int = 0,
                 definition: AVPDef | None = None) -> None:
        self.code = code
        self._value = value
        self._data: bytes | None = None
        self.flags = flags | AVP_VENDOR if vendor_id else flags & ~AVP_VENDOR
        self.vendor_id = vendor_id
        self.definition = definition

    @classmethod
    def of(cls, definition: AVPDef, value: Any) -> AVP:
        """A new AVP of ``definition`` with the flags the dictionary prescribes."""
        return cls(definition.code, value, definition.flags, definition.vendor_id, definition)

    @property
    def value(self) -> Any:
        value = self._value
        if value is _UNDECODED:
            value = self._value = _decode_scalar(self)
        return value

    @value.setter
    def value(self, value: Any) -> None:
        self._value = value
        self._data = None

    @property
    def name(self) -> str:
        if self.definition is not None:
            return self.definition.name
        return f"Unknown-AVP-{self.vendor_id}-{self.code}" if self.vendor_id else f"Unknown-AVP-{self.code}"

    @property
    def type(self) -> str:
        return self.definition.type if self.definition is not None else "OctetString"

    @property
    def mandatory(self) -> bool:
        return bool(self.flags & AVP_MANDATORY)

    @property
    def is_grouped(self) -> bool:
        return isinstance(self._value, list)

    def encode(self) -> bytes:
        return encode_avp(self)

    def copy(self) -> AVP:
        """An independent copy (children copied too) that decodes nothing."""
        twin = AVP.__new__(AVP)
        twin.code, twin.flags, twin.vendor_id, twin.definition = self.code, self.flags, self.vendor_id, self.definition
        twin._data = self._data
        value = self._value
        twin._value = [child.copy() for child in value] if isinstance(value, list) else value
        return twin

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, AVP) and self.code == other.code and self.vendor_id == other.vendor_id
                and self.flags == other.flags and self.value == other.value)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        try:
            return f"AVP({self.name}={self.value!r})"
        except DecodeError:
            return f"AVP({self.name}=<invalid {self.type}: {self._data!r}>)"


_UNDECODED: Any = object()


def _raw_avp(code: int, flags: int, vendor: int, data: bytes) -> AVP:
    avp = AVP(code, data, flags, vendor)
    avp.flags = flags
    return avp


def _decode_scalar(avp: AVP) -> Any:
    definition = avp.definition
    data = avp._data
    if definition is None or data is None:
        return data
    try:
        return _DECODERS[definition.type](data)
    except _BadLength:
        raise DecodeError(f"AVP {definition.name}: {len(data)} bytes is a wrong length for {definition.type}",
                          ResultCode.INVALID_AVP_LENGTH, _raw_avp(avp.code, avp.flags, avp.vendor_id, data)) from None
    except (_BadValue, ValueError):
        raise DecodeError(f"AVP {definition.name}: not a valid {definition.type}", ResultCode.INVALID_AVP_VALUE,
                          _raw_avp(avp.code, avp.flags, avp.vendor_id, data)) from None


# ---- value decoders -------------------------------------------------------------------------------------------
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")
_AVP_HEAD = struct.Struct(">II")
_AVP_HEAD_V = struct.Struct(">III")
_MSG_HEAD = struct.Struct(">IIIII")
NTP_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)
_NTP_ERA = 1 << 32


class _BadLength(Exception):
    pass


class _BadValue(Exception):
    pass


def _fixed(st: struct.Struct):
    size = st.size

    def decode(data: bytes) -> Any:
        if len(data) != size:
            raise _BadLength
        return st.unpack(data)[0]
    return decode


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadValue from None


def _time(data: bytes) -> datetime:
    if len(data) != 4:
        raise _BadLength
    secs = _U32.unpack(data)[0]
    if secs < 0x80000000:
        # RFC 6733 §4.3.1: values with the top bit clear are in the era that starts in 2036.
        secs += _NTP_ERA
    return NTP_EPOCH + timedelta(seconds=secs)


def _address(data: bytes) -> str | bytes:
    if len(data) < 2:
        raise _BadLength
    family = (data[0] << 8) | data[1]
    if family == 1:
        if len(data) != 6:
            raise _BadLength
        return str(ipaddress.IPv4Address(data[2:]))
    if family == 2:
        if len(data) != 18:
            raise _BadLength
        return str(ipaddress.IPv6Address(data[2:]))
    return bytes(data)  # another address family (E.164, ...): kept whole, family included


def _ipv4(data: bytes) -> str:
    if len(data) != 4:
        raise _BadLength
    return str(ipaddress.IPv4Address(data))


_DECODERS: dict[str, Any] = {
    "OctetString": bytes,
    "Integer32": _fixed(_I32),
    "Integer64": _fixed(_I64),
    "Unsigned32": _fixed(_U32),
    "Unsigned64": _fixed(_U64),
    "Float32": _fixed(_F32),
    "Float64": _fixed(_F64),
    "Enumerated": _fixed(_I32),
    "UTF8String": _text,
    "DiameterIdentity": _text,
    "DiameterURI": _text,
    "IPFilterRule": _text,
    "QoSFilterRule": _text,
    "Time": _time,
    "Address": _address,
    "IPv4": _ipv4,
}


# ---- value encoders -------------------------------------------------------------------------------------------
def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, int | float):
        return str(value).encode()
    raise TypeError


def _pack_int(st: struct.Struct):
    def encode(value: Any) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int):
            value = int(value)
        return st.pack(value)
    return encode


def _pack_float(st: struct.Struct):
    return lambda value: st.pack(float(value))


def _encode_time(value: Any) -> bytes:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        secs = int((value - NTP_EPOCH).total_seconds())
    else:
        secs = int(value) + 2208988800  # unix seconds
    return _U32.pack(secs % _NTP_ERA)


def _encode_address(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    ip = value if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address) else ipaddress.ip_address(value)
    return (b"\x00\x01" if ip.version == 4 else b"\x00\x02") + ip.packed


def _encode_ipv4(value: Any) -> bytes:
    return ipaddress.IPv4Address(value).packed


_ENCODERS: dict[str, Any] = {
    "OctetString": _as_bytes,
    "Integer32": _pack_int(_I32),
    "Integer64": _pack_int(_I64),
    "Unsigned32": _pack_int(_U32),
    "Unsigned64": _pack_int(_U64),
    "Float32": _pack_float(_F32),
    "Float64": _pack_float(_F64),
    "Enumerated": _pack_int(_I32),
    "UTF8String": _as_bytes,
    "DiameterIdentity": _as_bytes,
    "DiameterURI": _as_bytes,
    "IPFilterRule": _as_bytes,
    "QoSFilterRule": _as_bytes,
    "Time": _encode_time,
    "Address": _encode_address,
    "IPv4": _encode_ipv4,
}


# ---- AVPs ------------------------------------------------------------------------------------------------------
def decode_avps(buf: bytes, start: int, end: int, dictionary: Dictionary, depth: int = 0) -> list[AVP]:
    """The AVPs in ``buf[start:end]``; Grouped AVPs known to the dictionary are decoded recursively."""
    avps: list[AVP] = []
    append = avps.append
    known_get = dictionary.avps.get
    unpack_head = _AVP_HEAD.unpack_from
    unpack_vendor = _U32.unpack_from
    new_avp = AVP.__new__
    undecoded = _UNDECODED
    pos = start
    while pos < end:
        if end - pos < 8:
            raise DecodeError(f"{end - pos} stray bytes after the last AVP", ResultCode.INVALID_MESSAGE_LENGTH)
        code, word = unpack_head(buf, pos)
        flags = word >> 24
        length = word & 0xFFFFFF
        if flags & 0x80:  # AVP_VENDOR
            if length < 12 or pos + 12 > end:
                raise DecodeError(f"AVP {code}: length {length} too short for a vendor-specific AVP",
                                  ResultCode.INVALID_AVP_LENGTH, _raw_avp(code, flags, 0, b""))
            vendor = unpack_vendor(buf, pos + 8)[0]
            head = pos + 12
        else:
            if length < 8:
                raise DecodeError(f"AVP {code}: length {length} is shorter than its header",
                                  ResultCode.INVALID_AVP_LENGTH, _raw_avp(code, flags, 0, b""))
            vendor = 0
            head = pos + 8
        stop = pos + length
        if stop > end:
            raise DecodeError(f"AVP {code}: length {length} runs past the end of its container",
                              ResultCode.INVALID_AVP_LENGTH, _raw_avp(code, flags, vendor, bytes(buf[head:end])))
        definition = known_get((vendor << 32) | code)
        avp = new_avp(AVP)
        avp.code = code
        avp.flags = flags
        avp.vendor_id = vendor
        avp.definition = definition
        if definition is None:
            avp._value = avp._data = buf[head:stop]
        elif definition.type != "Grouped":
            avp._data = buf[head:stop]
            avp._value = undecoded
        else:
            if depth >= MAX_GROUP_DEPTH:
                raise DecodeError(f"AVP {definition.name}: grouped AVPs nested deeper than {MAX_GROUP_DEPTH}",
                                  ResultCode.INVALID_AVP_VALUE, _raw_avp(code, flags, vendor, buf[head:stop]))
            try:
                avp._value = decode_avps(buf, head, stop, dictionary, depth + 1)
            except DecodeError as exc:
                if exc.avp is None:
                    exc.avp = _raw_avp(code, flags, vendor, buf[head:stop])
                raise
            avp._data = None
        append(avp)
        # The padding of the last AVP may be absent from a sloppy peer's length: stop at the end regardless.
        pos += (length + 3) & ~3
    return avps


def _scalar_data(avp: AVP) -> bytes:
    definition = avp.definition
    kind = definition.type if definition is not None else "OctetString"
    try:
        return _ENCODERS[kind](avp._value)
    except (TypeError, ValueError, OverflowError, struct.error) as exc:
        raise EncodeError(f"AVP {avp.name}: cannot write {avp._value!r} as {kind} ({exc})") from None


def _encode_into(out: bytearray, avp: AVP) -> None:
    """Append ``avp`` (header, data, padding) to ``out``; the header is written once the length is known."""
    start = len(out)
    vendor = avp.vendor_id
    flags = avp.flags
    if flags & AVP_VENDOR or vendor:
        flags |= AVP_VENDOR
        out += _HEAD_V_BLANK
    else:
        out += _HEAD_BLANK
    data = avp._data
    if data is not None:
        out += data
    else:
        value = avp._value
        if isinstance(value, list):
            for child in value:
                _encode_into(out, child)
        else:
            out += _scalar_data(avp)
    length = len(out) - start
    if length > 0xFFFFFF:
        raise EncodeError(f"AVP {avp.name}: {length} bytes do not fit a Diameter AVP")
    if flags & AVP_VENDOR:
        _AVP_HEAD_V.pack_into(out, start, avp.code, (flags << 24) | length, vendor)
    else:
        _AVP_HEAD.pack_into(out, start, avp.code, (flags << 24) | length)
    pad = -length & 3
    if pad:
        out += _PADDING[pad]


_HEAD_BLANK = bytes(8)
_HEAD_V_BLANK = bytes(12)
_PADDING = (b"", b"\x00", b"\x00\x00", b"\x00\x00\x00")


def encode_avp(avp: AVP) -> bytes:
    out = bytearray()
    _encode_into(out, avp)
    return bytes(out)


def encode_avps(avps: list[AVP]) -> bytes:
    out = bytearray()
    for avp in avps:
        _encode_into(out, avp)
    return bytes(out)


def unsupported_mandatory(avps: list[AVP]) -> AVP | None:
    """The first AVP (searching inside known Grouped AVPs too) with the M bit that no dictionary defines."""
    for avp in avps:
        if avp.definition is None:
            if avp.flags & AVP_MANDATORY:
                return avp
        elif isinstance(avp._value, list):  # grouped; scalars stay undecoded
            found = unsupported_mandatory(avp._value)
            if found is not None:
                return found
    return None


# ---- messages --------------------------------------------------------------------------------------------------
def frame_length(buf: bytes | bytearray, max_length: int = MAX_MESSAGE_LEN) -> int | None:
    """The length of the message at the start of ``buf``; None when fewer than 4 bytes are there.

    Raises a fatal ``DecodeError`` when the stream cannot be framed (wrong version, impossible length).
    """
    if len(buf) < 4:
        return None
    version = buf[0]
    length = (buf[1] << 16) | (buf[2] << 8) | buf[3]
    if version != VERSION:
        raise DecodeError(f"Diameter version {version} is not supported", ResultCode.UNSUPPORTED_VERSION,
                          fatal=True)
    if length < HEADER_LEN:
        raise DecodeError(f"message length {length} is shorter than the header", ResultCode.INVALID_MESSAGE_LENGTH,
                          fatal=True)
    if length > max_length:
        raise DecodeError(f"message length {length} exceeds the limit of {max_length}",
                          ResultCode.INVALID_MESSAGE_LENGTH, fatal=True)
    return length


def decode_header(buf: bytes) -> tuple[int, int, int, int, int, int]:
    """(length, flags, command_code, application_id, hop_by_hop, end_to_end) of a complete message."""
    if len(buf) < HEADER_LEN:
        raise DecodeError(f"{len(buf)} bytes are fewer than a Diameter header", ResultCode.INVALID_MESSAGE_LENGTH,
                          fatal=True)
    w0, w1, app, hbh, e2e = _MSG_HEAD.unpack_from(buf, 0)
    version, length = w0 >> 24, w0 & 0xFFFFFF
    if version != VERSION:
        raise DecodeError(f"Diameter version {version} is not supported", ResultCode.UNSUPPORTED_VERSION,
                          fatal=True)
    if length != len(buf):
        raise DecodeError(f"message length {length} does not match the {len(buf)} bytes received",
                          ResultCode.INVALID_MESSAGE_LENGTH, fatal=True)
    flags = w1 >> 24
    if flags & FLAG_REQUEST and flags & FLAG_ERROR:
        raise DecodeError("a request with the E bit set", ResultCode.INVALID_HDR_BITS)
    return length, flags, w1 & 0xFFFFFF, app, hbh, e2e


def encode_header(length: int, flags: int, command_code: int, application_id: int, hop_by_hop: int,
                  end_to_end: int) -> bytes:
    return _MSG_HEAD.pack((VERSION << 24) | length, (flags << 24) | command_code, application_id,
                          hop_by_hop, end_to_end)


def encode_message(flags: int, command_code: int, application_id: int, hop_by_hop: int, end_to_end: int,
                   avps: list[AVP]) -> bytes:
    out = bytearray(HEADER_LEN)
    for avp in avps:
        _encode_into(out, avp)
    length = len(out)
    if length > 0xFFFFFF:
        raise EncodeError(f"message of {length} bytes does not fit the Diameter length field")
    _MSG_HEAD.pack_into(out, 0, (VERSION << 24) | length, (flags << 24) | command_code, application_id,
                        hop_by_hop, end_to_end)
    return bytes(out)


def python_value(avp: AVP) -> Any:
    """The AVP's value as templates see it: Enumerated as int, OctetString as text where it is UTF-8."""
    value = avp.value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.hex()
    return value
