"""RADIUS attribute values: a type's raw bytes to a Python value and to the text templates read, and back
(the data types of RFC 2865 §5, RFC 3162, RFC 6929 and FreeRADIUS's dictionaries)."""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime
from typing import Any

from ..dictionary import FIXED_SIZE, INTEGER_TYPES, AttrDef
from .codes import EncodeError


def _ether_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _ifid_text(raw: bytes) -> str:
    return ":".join(raw[i:i + 2].hex() for i in range(0, 8, 2))


def decode_value(type_: str, raw: bytes) -> Any:
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


def valid_length(defn: AttrDef, raw: bytes) -> bool:
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
TEXT_OF = {
    "string": lambda d, raw: raw.decode("utf-8", "replace"),
    "octets": lambda d, raw: raw.decode("utf-8", "replace"),
    "integer": _int_text,
    "byte": _int_text,
    "short": _int_text,
    "integer64": _int_text,
    "ipaddr": lambda d, raw: f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}",
    "date": lambda d, raw: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int.from_bytes(raw, "big"))),
}
