"""RADIUS packets, bytes <-> objects: ``Packet.decode(data, dictionary, secret)`` and ``packet.encode()``, and the
reply to a request."""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Iterator
from typing import Any

from ..dictionary import AttrDef, Dictionary
from .attributes import Attribute, AttributeDecoder, AttributeEncoder
from .codes import (
    CODE_NAMES,
    HEADER,
    MAX_PACKET,
    MESSAGE_AUTHENTICATOR,
    REPLY_CODES,
    SIGNED_REQUEST_CODES,
    STATUS_SERVER,
    ZERO_VECTOR,
    EncodeError,
    code_of,
)
from .secret import md5, packet_length


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
        attrs = AttributeDecoder(dictionary, secret, vector).attributes(data[20:length])
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
        enc = AttributeEncoder(self.dictionary, self.secret, vector)
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
            auth = md5(head, vector, body, self.secret)
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
