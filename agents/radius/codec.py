"""RADIUS packets and attributes, bytes <-> objects (RFC 2865/2866/2868/2869/3162/3579/5176/6929).

Sans-IO: no sockets, no asyncio, no engine code. ``Packet.decode(data, dictionary, secret)`` and
``packet.encode()`` are symmetric; the authenticator checks work on raw bytes so a server can drop a forged packet
before decoding it (``check_request``).

Decoding is lenient below the packet level, as FreeRADIUS is: an attribute whose value does not fit its type (an
ipaddr of 3 bytes, a broken VSA, a password that is not a multiple of 16) is kept as an unknown raw attribute
(``Attr-N``). Only a packet whose framing is broken raises ``DecodeError``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import struct
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .dictionary import FIXED_SIZE, INTEGER_TYPES, AttrDef, Dictionary

# Packet codes (RFC 2865, 2866, 5176, 5997).
ACCESS_REQUEST = 1
ACCESS_ACCEPT = 2
ACCESS_REJECT = 3
ACCOUNTING_REQUEST = 4
ACCOUNTING_RESPONSE = 5
ACCESS_CHALLENGE = 11
STATUS_SERVER = 12
STATUS_CLIENT = 13
DISCONNECT_REQUEST = 40
DISCONNECT_ACK = 41
DISCONNECT_NAK = 42
COA_REQUEST = 43
COA_ACK = 44
COA_NAK = 45

CODE_NAMES = {
    ACCESS_REQUEST: "Access-Request", ACCESS_ACCEPT: "Access-Accept", ACCESS_REJECT: "Access-Reject",
    ACCOUNTING_REQUEST: "Accounting-Request", ACCOUNTING_RESPONSE: "Accounting-Response",
    ACCESS_CHALLENGE: "Access-Challenge", STATUS_SERVER: "Status-Server", STATUS_CLIENT: "Status-Client",
    DISCONNECT_REQUEST: "Disconnect-Request", DISCONNECT_ACK: "Disconnect-ACK", DISCONNECT_NAK: "Disconnect-NAK",
    COA_REQUEST: "CoA-Request", COA_ACK: "CoA-ACK", COA_NAK: "CoA-NAK",
}
CODES_BY_NAME = {name.lower().replace("-", ""): code for code, name in CODE_NAMES.items()}
REQUEST_CODES = frozenset({ACCESS_REQUEST, ACCOUNTING_REQUEST, STATUS_SERVER, DISCONNECT_REQUEST, COA_REQUEST})
#: Requests whose Request Authenticator is an MD5 over the packet (not a random nonce).
SIGNED_REQUEST_CODES = frozenset({ACCOUNTING_REQUEST, DISCONNECT_REQUEST, COA_REQUEST})
#: The usual positive reply to each request code.
REPLY_CODES = {
    ACCESS_REQUEST: ACCESS_ACCEPT, ACCOUNTING_REQUEST: ACCOUNTING_RESPONSE, STATUS_SERVER: ACCESS_ACCEPT,
    DISCONNECT_REQUEST: DISCONNECT_ACK, COA_REQUEST: COA_ACK,
}

USER_PASSWORD = 2
CHAP_PASSWORD = 3
PROXY_STATE = 33
VENDOR_SPECIFIC = 26
EAP_MESSAGE = 79
MESSAGE_AUTHENTICATOR = 80

HEADER = struct.Struct("!BBH16s")
MAX_PACKET = 4096
ZERO_VECTOR = bytes(16)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RadiusError(Exception):
    """Base of every error the RADIUS codec raises."""


class DecodeError(RadiusError):
    """The bytes are not a well-formed RADIUS packet."""


class EncodeError(RadiusError):
    """A value cannot be put on the wire; the message names the attribute."""


class AuthenticatorError(RadiusError):
    """A Request/Response Authenticator or Message-Authenticator does not verify (wrong secret or forgery)."""


def code_of(name_or_code: str | int) -> int:
    """``"AccessAccept"``, ``"Access-Accept"`` or ``2`` -> 2."""
    if isinstance(name_or_code, int):
        return name_or_code
    try:
        return CODES_BY_NAME[name_or_code.lower().replace("-", "").replace("_", "")]
    except KeyError:
        if name_or_code.isdigit():
            return int(name_or_code)
        raise ValueError(f"unknown RADIUS packet code {name_or_code!r} (use e.g. AccessAccept, AccessReject, "
                         "AccessChallenge, CoAACK)") from None


# ====================================================================== hiding (RFC 2865 §5.2, RFC 2868 §3.5)

def _md5(*parts: bytes) -> bytes:
    h = hashlib.md5()
    for p in parts:
        h.update(p)
    return h.digest()


def _xor16(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(16, "big")


def hide_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """User-Password hiding (RFC 2865 §5.2): NUL-pad to 16n (max 128) and chain MD5(secret + previous)."""
    if len(password) > 128:
        raise EncodeError("User-Password is longer than 128 bytes (RFC 2865 §5.2)")
    padded = password + bytes(-len(password) % 16 or (16 if not password else 0))
    out = bytearray()
    prev = authenticator
    for i in range(0, len(padded), 16):
        block = _xor16(padded[i:i + 16], _md5(secret, prev))
        out += block
        prev = block
    return bytes(out)


def unhide_password(hidden: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """The inverse of ``hide_password``; trailing NULs are removed. DecodeError when the length is not 16n."""
    if not hidden or len(hidden) % 16 or len(hidden) > 128:
        raise DecodeError("User-Password length is not a multiple of 16 up to 128")
    out = bytearray()
    prev = authenticator
    for i in range(0, len(hidden), 16):
        block = hidden[i:i + 16]
        out += _xor16(block, _md5(secret, prev))
        prev = block
    return bytes(out).rstrip(b"\x00")


def salt_encrypt(value: bytes, secret: bytes, authenticator: bytes, salt: bytes | None = None) -> bytes:
    """Salt encryption of Tunnel-Password / MS-MPPE keys (RFC 2868 §3.5, RFC 2548 §2.4.2): salt + ciphertext."""
    if len(value) > 239:
        raise EncodeError("a salt-encrypted value is longer than 239 bytes")
    if salt is None:
        salt = os.urandom(2)
    salt = bytes([salt[0] | 0x80, salt[1]])
    plain = bytes([len(value)]) + value
    plain += bytes(-len(plain) % 16)
    out = bytearray(salt)
    prev = authenticator + salt
    for i in range(0, len(plain), 16):
        block = _xor16(plain[i:i + 16], _md5(secret, prev))
        out += block
        prev = block
    return bytes(out)


def salt_decrypt(data: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """The inverse of ``salt_encrypt``; DecodeError when the framing is wrong."""
    if len(data) < 18 or (len(data) - 2) % 16:
        raise DecodeError("salt-encrypted value has a bad length")
    salt, cipher = data[:2], data[2:]
    out = bytearray()
    prev = authenticator + salt
    for i in range(0, len(cipher), 16):
        block = cipher[i:i + 16]
        out += _xor16(block, _md5(secret, prev))
        prev = block
    n = out[0]
    if n > len(out) - 1:
        raise DecodeError("salt-encrypted value: inner length exceeds the data")
    return bytes(out[1:1 + n])


# ====================================================================== value types

def _ether_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _ifid_text(raw: bytes) -> str:
    return ":".join(raw[i:i + 2].hex() for i in range(0, 8, 2))


def _decode_value(type_: str, raw: bytes) -> Any:
    if type_ == "string":
        return raw.decode("utf-8", "replace")
    if type_ in INTEGER_TYPES:
        return int.from_bytes(raw, "big", signed=type_ == "signed")
    if type_ == "ipaddr":
        return ipaddress.IPv4Address(raw)
    if type_ == "date":
        return datetime.fromtimestamp(int.from_bytes(raw, "big"), UTC)
    if type_ == "ipv6addr":
        return ipaddress.IPv6Address(raw)
    if type_ == "combo-ip":
        return ipaddress.ip_address(raw)
    if type_ == "ipv6prefix":
        plen = raw[1]
        return ipaddress.IPv6Network((raw[2:].ljust(16, b"\x00"), plen), strict=False)
    if type_ == "ipv4prefix":
        return ipaddress.IPv4Network((raw[2:6], raw[1] & 0x3F), strict=False)
    if type_ == "ether":
        return _ether_text(raw)
    if type_ == "ifid":
        return _ifid_text(raw)
    return raw  # octets, abinary


def _valid_length(defn: AttrDef, raw: bytes) -> bool:
    t = defn.type
    size = FIXED_SIZE.get(t)
    if size is not None:
        return len(raw) == size
    if t == "combo-ip":
        return len(raw) in (4, 16)
    if t == "ipv6prefix":
        return 2 <= len(raw) <= 18 and raw[1] <= 128
    if t == "ipv4prefix":
        return len(raw) == 6 and (raw[1] & 0x3F) <= 32
    return True


def _int_range(type_: str) -> tuple[int, int]:
    if type_ == "signed":
        return -(1 << 31), (1 << 31) - 1
    return 0, (1 << (8 * FIXED_SIZE[type_])) - 1


def encode_value(defn: AttrDef, value: Any) -> bytes:
    """A Python value, or its text form, to the attribute's raw value bytes (before tag and encryption)."""
    t = defn.type
    try:
        if isinstance(value, str):
            return _encode_text(defn, value)
        if t in ("string", "octets", "abinary") and isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if t in INTEGER_TYPES or (t == "date" and isinstance(value, int)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError
            lo, hi = _int_range("integer" if t == "date" else t)
            if not lo <= value <= hi:
                raise EncodeError(f"{defn.name}: {value} is out of range {lo}..{hi} for a {t}")
            return value.to_bytes(FIXED_SIZE[t], "big", signed=t == "signed")
        if t == "date" and isinstance(value, datetime):
            if value.tzinfo is None:
                raise EncodeError(f"{defn.name}: the datetime {value} has no timezone")
            return encode_value(defn, int(value.timestamp()))
        if t == "ipaddr" and isinstance(value, ipaddress.IPv4Address):
            return value.packed
        if t == "ipv6addr" and isinstance(value, ipaddress.IPv6Address):
            return value.packed
        if t == "combo-ip" and isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return value.packed
        if t == "ipv6prefix" and isinstance(value, ipaddress.IPv6Network):
            nbytes = (value.prefixlen + 7) // 8
            return bytes([0, value.prefixlen]) + value.network_address.packed[:nbytes]
        if t == "ipv4prefix" and isinstance(value, ipaddress.IPv4Network):
            return bytes([0, value.prefixlen]) + value.network_address.packed
    except EncodeError:
        raise
    except (TypeError, ValueError, OverflowError):
        pass
    raise EncodeError(f"{defn.name}: cannot encode {value!r} as a {t}")


def _encode_text(defn: AttrDef, text: str) -> bytes:
    t = defn.type
    try:
        if t == "string":
            return text.encode("utf-8")
        if t in ("octets", "abinary"):
            if text[:2] in ("0x", "0X") and len(text) % 2 == 0:
                try:
                    return bytes.fromhex(text[2:])
                except ValueError:
                    pass
            return text.encode("utf-8")
        if t in INTEGER_TYPES:
            number = defn.values.get(text)
            if number is None:
                number = defn.values.get(text.lower())
            if number is None:
                number = int(text, 16) if text[:2] in ("0x", "0X") else int(text)
            return encode_value(defn, number)
        if t == "date":
            s = text.strip()
            if s.lstrip("-").isdigit():
                return encode_value(defn, int(s))
            dt = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return encode_value(defn, dt)
        if t == "ipaddr":
            return ipaddress.IPv4Address(text.strip()).packed
        if t == "ipv6addr":
            return ipaddress.IPv6Address(text.strip()).packed
        if t == "combo-ip":
            return ipaddress.ip_address(text.strip()).packed
        if t == "ipv6prefix":
            return encode_value(defn, ipaddress.IPv6Network(text.strip(), strict=False))
        if t == "ipv4prefix":
            return encode_value(defn, ipaddress.IPv4Network(text.strip(), strict=False))
        if t == "ether":
            digits = text.replace(":", "").replace("-", "").replace(".", "")
            raw = bytes.fromhex(digits)
            if len(raw) == 6:
                return raw
        if t == "ifid":
            groups = text.split(":")
            if len(groups) == 4:
                return b"".join(int(g, 16).to_bytes(2, "big") for g in groups)
    except EncodeError:
        raise
    except (ValueError, OverflowError):
        pass
    raise EncodeError(f"{defn.name}: {text!r} is not a valid {t}"
                      + (f" (known values: {', '.join(sorted(defn.value_names.values())[:8])})"
                         if defn.value_names else ""))


def value_text(defn: AttrDef | None, value: Any) -> str:
    """The string form a request template sees: VALUE names for enums, RFC 3339 for dates, dotted IPs..."""
    if defn is None:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return defn.value_names.get(value) or str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, tuple):
        return ",".join(f"{a.name}={a.text}" for a in value)
    return str(value)


def _int_text(defn: AttrDef, raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    return defn.value_names.get(number) or str(number)


#: Text straight from the raw bytes for the common types (no intermediate value object).
_TEXT = {
    "string": lambda d, raw: raw.decode("utf-8", "replace"),
    "octets": lambda d, raw: raw.decode("utf-8", "replace"),
    "integer": _int_text,
    "byte": _int_text,
    "short": _int_text,
    "integer64": _int_text,
    "ipaddr": lambda d, raw: f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}",
    "date": lambda d, raw: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int.from_bytes(raw, "big"))),
}


# ====================================================================== attributes

_UNSET: Any = object()


class Attribute:
    """One attribute: its definition (None when unknown), tag and raw value; ``value`` is decoded on first use.

    ``raw`` is the plain value (after un-hiding a password, without the tag byte). For tlv attributes ``value``
    is the tuple of child attributes. Unknown attributes carry ``code`` and ``vendor`` and their raw bytes.
    """

    __slots__ = ("_value", "code", "defn", "raw", "tag", "vendor")

    def __init__(self, defn: AttrDef | None, raw: bytes, tag: int | None = None, *, code: int | None = None,
                 vendor: int | None = None, value: Any = _UNSET) -> None:
        self.defn = defn
        self.raw = raw
        self.tag = tag
        self.code = defn.code if defn is not None else (code or 0)
        self.vendor = defn.vendor if defn is not None else (vendor or 0)
        self._value = value

    @classmethod
    def from_value(cls, defn: AttrDef, value: Any, tag: int | None = None) -> Attribute:
        """Build from a Python value or its text form (``"Start"`` for Acct-Status-Type, ``"10.0.0.1"``...)."""
        if defn.virtual:
            raise EncodeError(f"{defn.name} is a server-internal attribute and has no wire form")
        if defn.type in ("tlv", "vsa", "extended", "long-extended", "evs"):
            if isinstance(value, (bytes, bytearray)):
                return cls(defn, bytes(value))
            raise EncodeError(f"{defn.name} is a {defn.type}: add its member attributes instead")
        if tag is not None and not (defn.has_tag and 0 <= tag <= 0x1F):
            raise EncodeError(f"{defn.name}: tag {tag} not allowed (needs has_tag and 0..31)")
        raw = encode_value(defn, value)
        if defn.has_tag and defn.type in INTEGER_TYPES and len(raw) == 4 and raw[0]:
            raise EncodeError(f"{defn.name}: a tagged integer holds 24 bits, {value!r} is too large")
        return cls(defn, raw, tag)

    @property
    def name(self) -> str:
        if self.defn is not None:
            return self.defn.name
        return f"Attr-26.{self.vendor}.{self.code}" if self.vendor else f"Attr-{self.code}"

    @property
    def value(self) -> Any:
        v = self._value
        if v is _UNSET:
            d = self.defn
            if d is None or d.type in ("tlv", "vsa", "extended", "long-extended", "evs"):
                v = self.raw if d is None else ()
            elif d.has_tag and d.type in INTEGER_TYPES:
                v = int.from_bytes(self.raw[-3:], "big")
            else:
                v = _decode_value(d.type, self.raw)
            self._value = v
        return v

    @property
    def text(self) -> str:
        """The value as the string a request template sees (see ``value_text``)."""
        d = self.defn
        if d is not None:
            fast = _TEXT.get(d.type)
            if fast is not None:
                return fast(d, self.raw)
        return value_text(d, self.value)

    def walk(self) -> Iterator[Attribute]:
        yield self
        if self.defn is not None and self.defn.type == "tlv":
            for child in self.value:
                yield from child.walk()

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Attribute) and self.defn is other.defn and self.raw == other.raw
                and (self.tag or 0) == (other.tag or 0) and self.code == other.code and self.vendor == other.vendor)

    def __hash__(self) -> int:
        return hash((self.code, self.vendor, self.raw))

    def __repr__(self) -> str:
        shown = "***" if self.defn is not None and self.defn.encrypt else repr(self.value)
        tag = f":{self.tag}" if self.tag else ""
        return f"<{self.name}{tag} = {shown}>"


# ====================================================================== decoding


def _plain_size(defn: AttrDef) -> int:
    """-1 (any length), n (exactly n bytes) or 0 (needs the full checks of ``_Decoder._leaf``)."""
    if defn.has_tag or defn.encrypt or defn.concat or defn.type not in _SIMPLE_TYPES:
        size = 0
    else:
        size = FIXED_SIZE.get(defn.type, -1)
    defn.plain_size = size
    return size


_SIMPLE_TYPES = frozenset({"string", "octets", "abinary", *FIXED_SIZE})


def _new_attribute(defn: AttrDef, raw: bytes) -> Attribute:
    attr = object.__new__(Attribute)
    attr.defn = defn
    attr.raw = raw
    attr.tag = None
    attr.code = defn.code
    attr.vendor = defn.vendor
    attr._value = _UNSET
    return attr


class _Decoder:
    """Walks one packet's attribute area; a new one per packet (holds the secret and the hiding vector)."""

    __slots__ = ("dictionary", "secret", "vector")

    def __init__(self, dictionary: Dictionary, secret: bytes, vector: bytes) -> None:
        self.dictionary = dictionary
        self.secret = secret
        self.vector = vector

    def attributes(self, body: bytes) -> list[Attribute]:
        out: list[Attribute] = []
        top = self.dictionary.top
        i, n = 0, len(body)
        while i < n:
            if n - i < 2:
                raise DecodeError(f"attribute at offset {20 + i} is truncated")
            code, length = body[i], body[i + 1]
            if length < 2 or i + length > n:
                raise DecodeError(f"attribute {code} at offset {20 + i} has a bad length {length}")
            value = body[i + 2:i + length]
            i += length
            defn = top.get(code)
            if defn is not None:
                size = defn.plain_size
                if size is None:
                    size = _plain_size(defn)
                if size == -1 or size == len(value):  # the common case: no tag, no hiding, right length
                    out.append(_new_attribute(defn, value))
                    continue
            if code == VENDOR_SPECIFIC and (defn is None or defn.type == "vsa"):
                i = self._vsa(value, body, i, out)
            elif defn is None:
                out.append(Attribute(None, value, code=code))
            elif defn.type in ("extended", "long-extended"):
                i = self._extended(defn, value, body, i, out)
            elif defn.concat and out and out[-1].defn is defn:
                out[-1].raw += value
            else:
                out.append(self._leaf(defn, value) or Attribute(None, value, code=code))
        return out

    def _leaf(self, defn: AttrDef, value: bytes) -> Attribute | None:
        """A non-container attribute, or a tlv; None when the value does not fit the definition."""
        if defn.type == "tlv":
            children = self._tlvs(defn, value)
            return None if children is None else Attribute(defn, value, value=tuple(children))
        if defn.type in ("vsa", "extended", "long-extended", "evs"):
            return None
        tag = None
        raw = value
        if defn.has_tag:
            if defn.type in INTEGER_TYPES:
                if len(raw) != 4:
                    return None
                tag = raw[0] if raw[0] <= 0x1F else None
                raw = b"\x00" + raw[1:]
            elif defn.encrypt == 2:
                if not raw:
                    return None
                tag, raw = (raw[0] if raw[0] <= 0x1F else None), raw[1:]
            elif raw and raw[0] <= 0x1F:
                tag, raw = raw[0], raw[1:]
        if defn.encrypt == 1:
            try:
                raw = unhide_password(raw, self.secret, self.vector)
            except DecodeError:
                return None
        elif defn.encrypt == 2:
            try:
                raw = salt_decrypt(raw, self.secret, self.vector)
            except DecodeError:
                return None
        if not _valid_length(defn, raw):
            return None
        return Attribute(defn, raw, tag)

    def _tlvs(self, parent: AttrDef, data: bytes) -> list[Attribute] | None:
        out: list[Attribute] = []
        i, n = 0, len(data)
        while i < n:
            if n - i < 2:
                return None
            code, length = data[i], data[i + 1]
            if length < 2 or i + length > n:
                return None
            value = data[i + 2:i + length]
            i += length
            defn = parent.children.get(code)
            attr = self._leaf(defn, value) if defn is not None else None
            out.append(attr or Attribute(None, value, code=code, vendor=parent.vendor))
        return out

    def _vsa(self, value: bytes, body: bytes, i: int, out: list[Attribute]) -> int:
        """One Vendor-Specific attribute (maybe continued, WiMAX style, into the following ones)."""
        vendor = self.dictionary.vendors.get(int.from_bytes(value[:4], "big")) if len(value) >= 5 else None
        if vendor is None:
            out.append(Attribute(None, value, code=VENDOR_SPECIFIC))
            return i
        ts, ls, cont = vendor.type_size, vendor.length_size, vendor.continuation
        hdr = ts + ls + (1 if cont else 0)
        data = value[4:]
        subs: list[tuple[int, bytes]] = []
        j, n = 0, len(data)
        while j < n:
            if n - j < hdr:
                out.append(Attribute(None, value, code=VENDOR_SPECIFIC))
                return i
            code = int.from_bytes(data[j:j + ts], "big")
            if ls == 0:
                length = n - j
            else:
                length = int.from_bytes(data[j + ts:j + ts + ls], "big")
                if length < hdr or j + length > n:
                    out.append(Attribute(None, value, code=VENDOR_SPECIFIC))
                    return i
            sub = data[j + hdr:j + length]
            if cont and data[j + ts + ls] & 0x80:
                # RFC-less WiMAX continuation: the value goes on in the next VSA of the same vendor and type.
                if j + length != n:
                    out.append(Attribute(None, value, code=VENDOR_SPECIFIC))
                    return i
                sub, i, ok = self._continued(vendor.id, code, sub, body, i)
                if not ok:
                    out.append(Attribute(None, value, code=VENDOR_SPECIFIC))
                    return i
            subs.append((code, sub))
            j += length
        for code, sub in subs:
            defn = vendor.attributes.get(code)
            if defn is not None:
                size = defn.plain_size
                if size is None:
                    size = _plain_size(defn)
                if size == -1 or size == len(sub):
                    out.append(_new_attribute(defn, sub))
                    continue
            if defn is not None and defn.concat and out and out[-1].defn is defn:
                out[-1].raw += sub
                continue
            attr = self._leaf(defn, sub) if defn is not None else None
            out.append(attr or Attribute(None, sub, code=code, vendor=vendor.id))
        return i

    @staticmethod
    def _continued(vendor_id: int, code: int, first: bytes, body: bytes, i: int) -> tuple[bytes, int, bool]:
        parts = [first]
        n = len(body)
        while True:
            if n - i < 9 or body[i] != VENDOR_SPECIFIC:
                return b"", i, False
            length = body[i + 1]
            if length < 9 or i + length > n:
                return b"", i, False
            if int.from_bytes(body[i + 2:i + 6], "big") != vendor_id or body[i + 6] != code:
                return b"", i, False
            if body[i + 7] != length - 6:
                return b"", i, False
            more = body[i + 8] & 0x80
            parts.append(body[i + 9:i + length])
            i += length
            if not more:
                return b"".join(parts), i, True

    def _extended(self, defn: AttrDef, value: bytes, body: bytes, i: int, out: list[Attribute]) -> int:
        """RFC 6929 Extended-Type (241..244) and Long-Extended-Type (245, 246) attributes."""
        long = defn.type == "long-extended"
        if len(value) < (2 if long else 1):
            out.append(Attribute(None, value, code=defn.code))
            return i
        ext = value[0]
        fragments = [value]
        if long:
            data = value[2:]
            if value[1] & 0x80:
                parts, j, n = [data], i, len(body)
                while True:
                    if n - j < 4 or body[j] != defn.code or body[j + 1] < 4 or j + body[j + 1] > n \
                            or body[j + 2] != ext:
                        out.append(Attribute(None, value, code=defn.code))
                        return i  # the following attributes are read on their own
                    length = body[j + 1]
                    fragments.append(body[j + 2:j + length])
                    parts.append(body[j + 4:j + length])
                    j += length
                    if not body[j - length + 3] & 0x80:
                        break
                data, i = b"".join(parts), j
        else:
            data = value[1:]
        child = defn.children.get(ext)
        attr = None
        if child is not None and child.type == "evs":
            vendor_attrs = child.vendor_children.get(int.from_bytes(data[:4], "big")) if len(data) >= 5 else None
            sub = vendor_attrs.get(data[4]) if vendor_attrs else None
            attr = self._leaf(sub, data[5:]) if sub is not None else None
        elif child is not None:
            attr = self._leaf(child, data)
        if attr is not None:
            out.append(attr)
        else:
            out.extend(Attribute(None, f, code=defn.code) for f in fragments)
        return i


# ====================================================================== encoding


class _Encoder:
    __slots__ = ("dictionary", "secret", "vector")

    def __init__(self, dictionary: Dictionary, secret: bytes, vector: bytes) -> None:
        self.dictionary = dictionary
        self.secret = secret
        self.vector = vector

    def attribute(self, attr: Attribute) -> bytes:
        defn = attr.defn
        if defn is None:
            if attr.vendor:
                return self._vsa(attr.vendor, attr.code, attr.raw, attr.name)
            return self._top(attr.code, attr.raw, attr.name, False)
        return self._wrap(defn, self._payload(attr))

    def _payload(self, attr: Attribute) -> bytes:
        """The value bytes as they sit inside this attribute's own header (tag, encryption applied)."""
        defn = attr.defn
        assert defn is not None
        raw = attr.raw
        if defn.type == "tlv" and attr._value is not _UNSET and attr._value:
            raw = b"".join(self._tlv_member(child) for child in attr._value)
        if defn.encrypt == 1:
            raw = hide_password(raw, self.secret, self.vector)
        elif defn.encrypt == 2:
            raw = salt_encrypt(raw, self.secret, self.vector)
        if defn.has_tag:
            tag = attr.tag or 0
            if defn.type in INTEGER_TYPES:
                raw = bytes([tag]) + raw[-3:]
            elif tag or defn.encrypt == 2 or (raw and raw[0] <= 0x1F):
                # A first byte <= 0x1F would read back as a tag (RFC 2868 §3), so say "tag 0" explicitly.
                raw = bytes([tag]) + raw
        return raw

    def _tlv_member(self, child: Attribute) -> bytes:
        payload = self._payload(child) if child.defn is not None else child.raw
        if len(payload) > 253:
            raise EncodeError(f"{child.name}: a tlv member longer than 253 bytes")
        return bytes([child.code, len(payload) + 2]) + payload

    def _wrap(self, defn: AttrDef, payload: bytes) -> bytes:
        parent = defn.parent
        if parent is None:
            if defn.vendor:
                return self._vsa(defn.vendor, defn.code, payload, defn.name)
            return self._top(defn.code, payload, defn.name, defn.concat)
        if parent.type == "tlv":
            if len(payload) > 253:
                raise EncodeError(f"{defn.name}: a tlv member longer than 253 bytes")
            return self._wrap(parent, bytes([defn.code, len(payload) + 2]) + payload)
        if parent.type == "evs":
            return self._wrap(parent, defn.vendor.to_bytes(4, "big") + bytes([defn.code]) + payload)
        if parent.type == "extended":
            if len(payload) > 252:
                raise EncodeError(f"{defn.name}: value longer than 252 bytes for an extended attribute")
            return bytes([parent.code, len(payload) + 3, defn.code]) + payload
        if parent.type == "long-extended":
            chunks = [payload[k:k + 251] for k in range(0, len(payload), 251)] or [b""]
            out = bytearray()
            for k, chunk in enumerate(chunks):
                more = 0x80 if k < len(chunks) - 1 else 0
                out += bytes([parent.code, len(chunk) + 4, defn.code, more]) + chunk
            return bytes(out)
        raise EncodeError(f"{defn.name}: cannot place an attribute under a {parent.type}")

    @staticmethod
    def _top(code: int, payload: bytes, name: str, concat: bool) -> bytes:
        if len(payload) <= 253:
            return bytes([code, len(payload) + 2]) + payload
        if not concat:
            raise EncodeError(f"{name}: value of {len(payload)} bytes is longer than 253")
        return b"".join(bytes([code, len(c) + 2]) + c for c in (payload[k:k + 253]
                                                                 for k in range(0, len(payload), 253)))

    def _vsa(self, vendor_id: int, code: int, payload: bytes, name: str) -> bytes:
        """Vendor-Specific attribute(s) in the vendor's format; continued over several when it allows (WiMAX)."""
        vendor = self.dictionary.vendors.get(vendor_id)
        ts, ls, cont = (vendor.type_size, vendor.length_size, vendor.continuation) if vendor else (1, 1, False)
        vid = vendor_id.to_bytes(4, "big")
        if cont:
            room = 255 - 2 - 4 - 3
            chunks = [payload[k:k + room] for k in range(0, len(payload), room)] or [b""]
            out = bytearray()
            for k, chunk in enumerate(chunks):
                flag = 0x80 if k < len(chunks) - 1 else 0
                out += bytes([VENDOR_SPECIFIC, len(chunk) + 9]) + vid + bytes([code, len(chunk) + 3, flag]) + chunk
            return bytes(out)
        if code >= 1 << (8 * ts):
            raise EncodeError(f"{name}: number {code} does not fit the vendor's {ts}-byte type field")
        head = code.to_bytes(ts, "big")
        if ls:
            size = ts + ls + len(payload)
            if size >= 1 << (8 * ls):
                raise EncodeError(f"{name}: value too long for the vendor's length field")
            head += size.to_bytes(ls, "big")
        sub = head + payload
        if len(sub) > 249:
            raise EncodeError(f"{name}: vendor attribute of {len(payload)} bytes does not fit in one "
                              "Vendor-Specific attribute (253 bytes)")
        return bytes([VENDOR_SPECIFIC, len(sub) + 6]) + vid + sub


# ====================================================================== authenticators


def _walk_attributes(data: bytes, length: int) -> tuple[int, int]:
    """Check the attribute framing of data[20:length]; return (count of Message-Authenticator, its offset)."""
    i = 20
    ma_count, ma_offset = 0, -1
    while i < length:
        if length - i < 2:
            raise DecodeError(f"attribute at offset {i} is truncated")
        code, alen = data[i], data[i + 1]
        if alen < 2 or i + alen > length:
            raise DecodeError(f"attribute {code} at offset {i} has a bad length {alen}")
        if code == MESSAGE_AUTHENTICATOR:
            if alen != 18:
                raise DecodeError("Message-Authenticator is not 16 bytes")
            ma_count += 1
            ma_offset = i
        i += alen
    return ma_count, ma_offset


def packet_length(data: bytes) -> int:
    """The Length field after checking it against the datagram (extra bytes past Length are padding)."""
    if len(data) < 20:
        raise DecodeError(f"packet of {len(data)} bytes is shorter than the 20-byte header")
    length = (data[2] << 8) | data[3]
    if length < 20 or length > MAX_PACKET:
        raise DecodeError(f"Length field {length} is outside 20..4096")
    if length > len(data):
        raise DecodeError(f"Length field {length} is larger than the {len(data)} bytes received")
    return length


def _message_authenticator(data: bytes, length: int, offset: int, secret: bytes, vector: bytes) -> bytes:
    buf = bytearray(data[:length])
    buf[4:20] = vector
    buf[offset + 2:offset + 18] = ZERO_VECTOR
    return hmac.new(secret, bytes(buf), hashlib.md5).digest()


def check_request(data: bytes, secret: bytes, *, require_message_authenticator: bool = False) -> int:
    """Validate a received request on raw bytes; return its code.

    Raises DecodeError for broken framing and AuthenticatorError when the Request Authenticator (signed request
    codes) or the Message-Authenticator does not verify with ``secret``. Status-Server without a
    Message-Authenticator is refused (RFC 5997), as is any Access-Request without one when
    ``require_message_authenticator`` is set.
    """
    length = packet_length(data)
    code = data[0]
    ma_count, ma_offset = _walk_attributes(data, length)
    if ma_count > 1:
        raise DecodeError("more than one Message-Authenticator")
    if code in SIGNED_REQUEST_CODES:
        expected = _md5(data[:4], ZERO_VECTOR, data[20:length], secret)
        if not hmac.compare_digest(expected, data[4:20]):
            raise AuthenticatorError(f"{CODE_NAMES[code]}: Request Authenticator does not verify (wrong secret?)")
        vector = ZERO_VECTOR
    else:
        vector = data[4:20]
    if ma_count:
        expected = _message_authenticator(data, length, ma_offset, secret, vector)
        if not hmac.compare_digest(expected, data[ma_offset + 2:ma_offset + 18]):
            raise AuthenticatorError(f"{CODE_NAMES.get(code, code)}: Message-Authenticator does not verify "
                                     "(wrong secret?)")
    elif code == STATUS_SERVER or (require_message_authenticator and code == ACCESS_REQUEST):
        raise AuthenticatorError(f"{CODE_NAMES[code]} without Message-Authenticator")
    return code


def check_response(data: bytes, secret: bytes, request_authenticator: bytes) -> int:
    """Validate a received reply against the request it answers; return its code (errors as ``check_request``)."""
    length = packet_length(data)
    ma_count, ma_offset = _walk_attributes(data, length)
    if ma_count > 1:
        raise DecodeError("more than one Message-Authenticator")
    expected = _md5(data[:4], request_authenticator, data[20:length], secret)
    if not hmac.compare_digest(expected, data[4:20]):
        raise AuthenticatorError("Response Authenticator does not verify (wrong secret?)")
    if ma_count:
        mac = _message_authenticator(data, length, ma_offset, secret, request_authenticator)
        if not hmac.compare_digest(mac, data[ma_offset + 2:ma_offset + 18]):
            raise AuthenticatorError("Message-Authenticator of the reply does not verify")
    return data[0]


# ====================================================================== packets


class Packet:
    """A RADIUS packet. Requests carry their own authenticator; a reply made by ``request.reply()`` carries the
    request's (``request_authenticator``), which ``encode`` needs for the Response Authenticator and hiding."""

    __slots__ = ("add_message_authenticator", "attributes", "authenticator", "code", "dictionary", "identifier",
                 "request_authenticator", "secret")

    def __init__(self, code: int | str, identifier: int = 0, authenticator: bytes | None = None,
                 attributes: list[Attribute] | None = None, *, dictionary: Dictionary, secret: bytes | str = b"",
                 request_authenticator: bytes | None = None, add_message_authenticator: bool = False) -> None:
        self.code = code_of(code)
        self.identifier = identifier
        self.authenticator = authenticator
        self.attributes = attributes if attributes is not None else []
        self.dictionary = dictionary
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.request_authenticator = request_authenticator
        self.add_message_authenticator = add_message_authenticator

    # ------------------------------------------------------------ wire

    @classmethod
    def decode(cls, data: bytes, dictionary: Dictionary, secret: bytes | str = b"", *,
               request_authenticator: bytes | None = None) -> Packet:
        """Parse a packet (a reply when ``request_authenticator`` is given). Checks framing, not authenticators."""
        if isinstance(secret, str):
            secret = secret.encode()
        length = packet_length(data)
        code, identifier, _, auth = HEADER.unpack_from(data)
        if request_authenticator is not None:
            vector = request_authenticator
        elif code in SIGNED_REQUEST_CODES:
            vector = ZERO_VECTOR
        else:
            vector = auth
        attrs = _Decoder(dictionary, secret, vector).attributes(data[20:length])
        return cls(code, identifier, auth, attrs, dictionary=dictionary, secret=secret,
                   request_authenticator=request_authenticator)

    def encode(self) -> bytes:
        """The wire bytes; computes the authenticators and, when asked or present, the Message-Authenticator.

        A request of a signed code (Accounting/CoA/Disconnect) gets its MD5 Request Authenticator; an
        Access-Request or Status-Server keeps ``authenticator`` or gets 16 random bytes (stored back).
        """
        code = self.code
        is_reply = self.request_authenticator is not None
        if is_reply:
            vector = self.request_authenticator
        elif code in SIGNED_REQUEST_CODES:
            vector = ZERO_VECTOR
        else:
            if self.authenticator is None or len(self.authenticator) != 16:
                self.authenticator = os.urandom(16)
            vector = self.authenticator
        assert vector is not None
        enc = _Encoder(self.dictionary, self.secret, vector)
        with_ma = self.add_message_authenticator or code == STATUS_SERVER
        parts: list[bytes] = []
        for attr in self.attributes:
            if attr.code == MESSAGE_AUTHENTICATOR and not attr.vendor and attr.defn is not None \
                    and attr.defn.parent is None:
                with_ma = True
                continue
            parts.append(enc.attribute(attr))
        if with_ma:
            parts.insert(0, bytes([MESSAGE_AUTHENTICATOR, 18]) + ZERO_VECTOR)
        body = b"".join(parts)
        length = 20 + len(body)
        if length > MAX_PACKET:
            raise EncodeError(f"{CODE_NAMES.get(code, code)} of {length} bytes exceeds 4096")
        head = struct.pack("!BBH", code, self.identifier & 0xFF, length)
        if with_ma:
            mac = hmac.new(self.secret, head + vector + body, hashlib.md5).digest()
            body = body[:2] + mac + body[18:]
        if is_reply or code in SIGNED_REQUEST_CODES:
            auth = _md5(head, vector, body, self.secret)
            if not is_reply:
                self.authenticator = auth
        else:
            auth = vector
        return head + auth + body

    # ------------------------------------------------------------ attributes

    def definition(self, name: str) -> AttrDef:
        return self.dictionary.attribute(name)

    def add(self, name: str | AttrDef, value: Any, *, tag: int | None = None) -> Attribute:
        """Append an attribute from a Python value or its text form; returns it."""
        defn = name if isinstance(name, AttrDef) else self.dictionary.attribute(name)
        attr = Attribute.from_value(defn, value, tag)
        self.attributes.append(attr)
        return attr

    def find(self, name: str | AttrDef) -> list[Attribute]:
        """Every attribute of that name, tlv members included, in wire order."""
        defn = name if isinstance(name, AttrDef) else self.dictionary.get(name)
        if defn is None:
            if isinstance(name, str) and name.startswith("Attr-"):
                return [a for a in self.attributes if a.defn is None and a.name == name]
            return []
        nested = defn.parent is not None and defn.parent.type == "tlv"
        if not nested:
            return [a for a in self.attributes if a.defn is defn]
        return [x for a in self.attributes for x in a.walk() if x.defn is defn]

    def get(self, name: str | AttrDef, default: Any = None) -> Any:
        found = self.find(name)
        return found[0].value if found else default

    def get_all(self, name: str | AttrDef) -> list[Any]:
        return [a.value for a in self.find(name)]

    def text(self, name: str | AttrDef, default: str | None = None) -> str | None:
        """The first value of ``name`` in its string form, or ``default``."""
        found = self.find(name)
        return found[0].text if found else default

    def remove(self, name: str | AttrDef) -> int:
        defn = name if isinstance(name, AttrDef) else self.dictionary.get(name)
        before = len(self.attributes)
        self.attributes = [a for a in self.attributes if a.defn is not defn]
        return before - len(self.attributes)

    def __contains__(self, name: str) -> bool:
        return bool(self.find(name))

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.attributes)

    def as_dict(self, *, for_log: bool = False) -> dict[str, list[str]]:
        """{attribute name: [text values]} (tlv members flattened). ``for_log`` masks hidden values (passwords,
        keys) and shows binary values as ``0x`` hex."""
        out: dict[str, list[str]] = {}
        for attr in self.attributes:
            for a in attr.walk():
                d = a.defn
                if d is not None and d.type == "tlv":
                    continue
                if not for_log:
                    text = a.text
                elif d is not None and d.encrypt:
                    text = "***"
                elif d is None or d.type in ("octets", "abinary"):
                    text = "0x" + a.raw.hex()
                else:
                    text = a.text
                out.setdefault(a.name, []).append(text)
        return out

    # ------------------------------------------------------------ replies

    def reply(self, code: int | str | None = None) -> Packet:
        """An empty reply to this request: same Identifier, secret and dictionary."""
        if code is None:
            code = REPLY_CODES.get(self.code)
            if code is None:
                raise ValueError(f"{CODE_NAMES.get(self.code, self.code)} is not a request")
        if self.authenticator is None:
            raise ValueError("reply() needs a request with an authenticator (decode it or encode it first)")
        return Packet(code, self.identifier, None, [], dictionary=self.dictionary, secret=self.secret,
                      request_authenticator=self.authenticator)

    @property
    def code_name(self) -> str:
        return CODE_NAMES.get(self.code, str(self.code))

    def __repr__(self) -> str:
        return f"<{self.code_name} id={self.identifier} {self.as_dict(for_log=True)}>"
