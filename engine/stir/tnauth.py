"""TNAuthList (RFC 8226): the telephone numbers and service provider codes a STI certificate may sign for.

The extension's DER is read and written here (explicit tags as the RFC writes them, implicit ones tolerated on
input); :func:`tn_authorized` says whether an originating number or SPC is covered. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography import x509

#: RFC 8226 id-pe-TNAuthList.
TN_AUTH_LIST_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.26")


@dataclass(frozen=True)
class TNAuthEntry:
    """One TNEntry of a TNAuthList: ``spc`` (service provider code), ``one`` number, or a ``range``."""

    kind: str  # "spc" | "one" | "range"
    value: str
    count: int = 1

    def covers(self, tn: str) -> bool:
        if self.kind == "one":
            return normalize_tn(self.value) == tn
        if self.kind == "range":
            start = normalize_tn(self.value)
            if not tn.isdigit() or not start.isdigit() or len(tn) != len(start):
                return False
            return int(start) <= int(tn) < int(start) + self.count
        return False

    def __str__(self) -> str:
        if self.kind == "range":
            return f"range {self.value}+{self.count}"
        return f"{self.kind} {self.value}"



def normalize_tn(tn: str) -> str:
    """A telephone number as digits (and ``#``/``*``): no ``+``, spaces, dashes, dots or brackets."""
    return re.sub(r"[+\s().\-]", "", tn)


def tn_authorized(entries: Iterable[TNAuthEntry], tn: str, spc: str | None = None) -> bool:
    """True when ``tn`` is one of the numbers or ranges, or ``spc`` is one of the service provider codes."""
    digits = normalize_tn(tn)
    for entry in entries:
        if entry.kind == "spc":
            if spc is not None and entry.value.strip().lower() == spc.strip().lower():
                return True
        elif digits and entry.covers(digits):
            return True
    return False


def spc_for_tn(tn: str, tn_spc: Mapping[str, str]) -> str | None:
    """The SPC of the longest ``tn_spc`` prefix that ``tn`` starts with."""
    digits = normalize_tn(tn)
    best: str | None = None
    best_len = -1
    for prefix, spc in tn_spc.items():
        p = normalize_tn(prefix)
        if digits.startswith(p) and len(p) > best_len:
            best, best_len = spc, len(p)
    return best


# -------------------------------------------------------------------------------------- DER (RFC 8226)


def _der_read(buf: bytes, pos: int) -> tuple[int, bytes, int]:
    """One TLV at ``pos``: (tag, value, position after it)."""
    if pos + 2 > len(buf):
        raise ValueError("truncated DER")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte DER tags are not used by TNAuthList")
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(buf):
            raise ValueError("bad DER length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    end = pos + length
    if end > len(buf):
        raise ValueError("truncated DER")
    return tag, buf[pos:end], end


def _der_items(buf: bytes) -> list[tuple[int, bytes]]:
    items, pos = [], 0
    while pos < len(buf):
        tag, value, pos = _der_read(buf, pos)
        items.append((tag, value))
    return items


def _der_tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        return bytes([tag, n]) + value
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + value


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    return _der_tlv(0x02, raw)


def _ia5(value: bytes) -> str:
    return value.decode("ascii")


def decode_tn_auth_list(der: bytes) -> tuple[TNAuthEntry, ...]:
    """Parse a DER TNAuthorizationList (RFC 8226 §9; explicit tags, implicit ones tolerated)."""
    tag, body, end = _der_read(der, 0)
    if tag != 0x30 or end != len(der):
        raise ValueError("TNAuthList is not a DER SEQUENCE")
    entries: list[TNAuthEntry] = []
    for tag, value in _der_items(body):
        number = tag & 0x1F
        inner = value
        if tag & 0x20 and number in (0, 2):  # explicit [0]/[2]: an IA5String inside
            itag, inner, iend = _der_read(value, 0)
            if itag != 0x16 or iend != len(value):
                raise ValueError("TNAuthList entry is not an IA5String")
        if tag & 0xC0 != 0x80:
            raise ValueError(f"unexpected tag 0x{tag:02x} in TNAuthList")
        if number == 0:
            entries.append(TNAuthEntry("spc", _ia5(inner)))
        elif number == 2:
            entries.append(TNAuthEntry("one", _ia5(inner)))
        elif number == 1:
            parts = _der_items(value)
            if len(parts) == 1 and parts[0][0] == 0x30:  # explicit [1] wraps the SEQUENCE
                parts = _der_items(parts[0][1])
            if len(parts) < 2 or parts[0][0] != 0x16 or parts[1][0] != 0x02:
                raise ValueError("TNAuthList range is not {start IA5String, count INTEGER}")
            entries.append(TNAuthEntry("range", _ia5(parts[0][1]), int.from_bytes(parts[1][1], "big", signed=True)))
        else:
            raise ValueError(f"unknown TNEntry [{number}]")
    if not entries:
        raise ValueError("empty TNAuthList")
    return tuple(entries)


def encode_tn_auth_list(entries: Iterable[TNAuthEntry]) -> bytes:
    """DER of a TNAuthorizationList with RFC 8226's explicit tags (for issuing test and lab certificates)."""
    body = b""
    for e in entries:
        if e.kind == "spc":
            body += _der_tlv(0xA0, _der_tlv(0x16, e.value.encode("ascii")))
        elif e.kind == "one":
            body += _der_tlv(0xA2, _der_tlv(0x16, e.value.encode("ascii")))
        elif e.kind == "range":
            seq = _der_tlv(0x30, _der_tlv(0x16, e.value.encode("ascii")) + _der_int(e.count))
            body += _der_tlv(0xA1, seq)
        else:
            raise ValueError(f"unknown TNEntry kind {e.kind!r}")
    return _der_tlv(0x30, body)


def tn_auth_list_of(cert: x509.Certificate) -> tuple[TNAuthEntry, ...] | None:
    """The certificate's TNAuthList, or None when it has none."""
    try:
        ext = cert.extensions.get_extension_for_oid(TN_AUTH_LIST_OID)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else value.public_bytes()
    return decode_tn_auth_list(raw)


__all__ = [
    "TN_AUTH_LIST_OID",
    "TNAuthEntry",
    "decode_tn_auth_list",
    "encode_tn_auth_list",
    "normalize_tn",
    "spc_for_tn",
    "tn_auth_list_of",
    "tn_authorized",
]
