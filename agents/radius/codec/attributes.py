"""RADIUS attributes and the attribute area of a packet: plain, tagged and hidden attributes, tlv, Vendor-Specific
in each vendor's format (WiMAX continuation included) and RFC 6929's Extended and Long-Extended types.

Decoding is lenient, as FreeRADIUS is: an attribute whose value does not fit its type (an ipaddr of 3 bytes, a
broken VSA, a password that is not a multiple of 16) is kept as an unknown raw attribute (``Attr-N``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..dictionary import FIXED_SIZE, INTEGER_TYPES, AttrDef, Dictionary
from .codes import VENDOR_SPECIFIC, DecodeError, EncodeError
from .secret import hide_password, salt_decrypt, salt_encrypt, unhide_password
from .values import TEXT_OF, decode_value, encode_value, valid_length, value_text

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
                v = decode_value(d.type, self.raw)
            self._value = v
        return v

    @property
    def text(self) -> str:
        """The value as the string a request template sees (see ``value_text``)."""
        d = self.defn
        if d is not None:
            fast = TEXT_OF.get(d.type)
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


# ---------------------------------------------------------------------------------------------------- decoding


def _plain_size(defn: AttrDef) -> int:
    """-1 (any length), n (exactly n bytes) or 0 (needs the full checks of ``AttributeDecoder._leaf``)."""
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


class AttributeDecoder:
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
        if not valid_length(defn, raw):
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


# ---------------------------------------------------------------------------------------------------- encoding


class AttributeEncoder:
    """Writes attributes in wire form for one packet (holds the secret and the hiding vector)."""

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
