"""The Diameter message object: header fields, AVPs, navigation by AVP name path.

``Message.parse(bytes, dictionary)`` and ``message.pack()`` are the symmetric codec entry points. Paths are lists
of AVP names, e.g. ``["Multiple-Services-Credit-Control", "Used-Service-Unit", "CC-Time"]``; the CGRateS
selector form ``Leaf[~Sibling(value)]`` is resolved by the template engine on top of ``avps_by_path``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from .codec import (
    AVP,
    FLAG_ERROR,
    FLAG_PROXIABLE,
    FLAG_REQUEST,
    FLAG_RETRANSMIT,
    HEADER_LEN,
    DecodeError,
    EncodeError,
    decode_avps,
    decode_header,
    encode_message,
)
from .dictionary import AVPDef, CommandDef, Dictionary

_INT_TYPES = frozenset({"Integer32", "Integer64", "Unsigned32", "Unsigned64", "Enumerated"})
_TEXT_TYPES = frozenset({"UTF8String", "DiameterIdentity", "DiameterURI", "IPFilterRule", "QoSFilterRule"})


class Message:
    """One Diameter request or answer."""

    __slots__ = ("application_id", "avps", "command_code", "dictionary", "end_to_end", "flags", "hop_by_hop")

    def __init__(self, command_code: int, application_id: int = 0, flags: int = FLAG_REQUEST,
                 hop_by_hop: int = 0, end_to_end: int = 0, avps: list[AVP] | None = None,
                 dictionary: Dictionary | None = None) -> None:
        self.command_code = command_code
        self.application_id = application_id
        self.flags = flags
        self.hop_by_hop = hop_by_hop
        self.end_to_end = end_to_end
        self.avps: list[AVP] = avps if avps is not None else []
        self.dictionary = dictionary

    # ---- codec ----------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, data: bytes, dictionary: Dictionary) -> Message:
        """Decode one complete message; raises ``DecodeError`` only."""
        _, flags, code, app, hbh, e2e = decode_header(data)
        avps = decode_avps(data, HEADER_LEN, len(data), dictionary)
        return cls(code, app, flags, hbh, e2e, avps, dictionary)

    def pack(self) -> bytes:
        return encode_message(self.flags, self.command_code, self.application_id, self.hop_by_hop,
                              self.end_to_end, self.avps)

    # ---- header ---------------------------------------------------------------------------------------------
    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_REQUEST)

    @property
    def is_proxiable(self) -> bool:
        return bool(self.flags & FLAG_PROXIABLE)

    @property
    def is_error(self) -> bool:
        return bool(self.flags & FLAG_ERROR)

    @property
    def is_retransmit(self) -> bool:
        return bool(self.flags & FLAG_RETRANSMIT)

    @property
    def command(self) -> CommandDef | None:
        return self.dictionary.command(self.command_code, self.application_id) if self.dictionary else None

    @property
    def command_name(self) -> str:
        """The short name as CGRateS's ``*cmd`` sees it: ``CCR``, ``CCA``, ``DWR`` ... (or the code)."""
        cmd = self.command
        suffix = "R" if self.is_request else "A"
        return cmd.short + suffix if cmd is not None else f"{self.command_code}{suffix}"

    # ---- AVPs -----------------------------------------------------------------------------------------------
    def _definition(self, name: str) -> AVPDef:
        if self.dictionary is None:
            raise KeyError(f"AVP {name!r}: the message has no dictionary")
        return self.dictionary.avp(name)

    def new_avp(self, name: str, value: Any) -> AVP:
        """An AVP named ``name`` holding ``value`` coerced to its data type (strings are accepted for all)."""
        definition = self._definition(name)
        return AVP.of(definition, coerce_value(definition, value))

    def add(self, name: str, value: Any) -> AVP:
        avp = self.new_avp(name, value)
        self.avps.append(avp)
        return avp

    def find(self, name: str) -> AVP | None:
        """The first top-level AVP named ``name``."""
        found = _children(self.avps, self._key(name))
        return found[0] if found else None

    def value(self, name: str, default: Any = None) -> Any:
        avp = self.find(name)
        return avp.value if avp is not None else default

    def _key(self, name: str) -> int:
        definition = self.dictionary.avp_by_name(name) if self.dictionary else None
        return definition.key if definition is not None else -1

    def avps_by_path(self, path: Sequence[str]) -> list[AVP]:
        """Every AVP reached by following ``path`` through all matching groups, in message order."""
        level = self.avps
        for depth, name in enumerate(path):
            key = self._key(name)
            if key < 0:
                return []
            matched = _children(level, key)
            if depth == len(path) - 1:
                return matched
            level = [child for avp in matched if isinstance(avp.value, list) for child in avp.value]
        return []

    def set_avp_by_path(self, path: Sequence[str], value: Any, new_branch: bool = False) -> AVP:
        """Write ``value`` at ``path``, as CGRateS does for reply fields.

        Without ``new_branch`` the leaf joins the last existing group on its path (the deepest one found), or
        replaces the last top-level AVP of that name; with ``new_branch`` a whole new branch is appended.
        """
        if not path:
            raise ValueError("empty AVP path")
        defs = [self._definition(name) for name in path]
        if defs[-1].type == "Grouped":
            raise ValueError(f"AVP path {'.'.join(path)}: the last AVP cannot be Grouped")
        leaf = AVP.of(defs[-1], coerce_value(defs[-1], value))
        branch = leaf
        for i in range(len(path) - 1, -1, -1):
            if i < len(path) - 1:
                branch = AVP.of(defs[i], [branch])
            if i > 0 and not new_branch:
                parents = self.avps_by_path(path[:i])
                if parents and isinstance(parents[-1].value, list):
                    parents[-1].value.append(branch)
                    return leaf
        if not new_branch:
            existing = self.avps_by_path(path)
            if existing:
                target = existing[-1]
                target.value, target.flags, target.definition = branch.value, branch.flags, branch.definition
                return target
        self.avps.append(branch)
        return leaf

    def remove(self, name: str) -> int:
        """Remove every top-level AVP named ``name``; returns how many went."""
        key = self._key(name)
        before = len(self.avps)
        self.avps = [a for a in self.avps if (a.vendor_id << 32) | a.code != key]
        return before - len(self.avps)

    # ---- answers --------------------------------------------------------------------------------------------
    def answer(self, result_code: int | None = None, origin_host: str | None = None,
               origin_realm: str | None = None, error: bool = False) -> Message:
        """An answer skeleton: same command, application and identifiers, R cleared, P kept; Session-Id first."""
        flags = self.flags & FLAG_PROXIABLE
        if error:
            flags |= FLAG_ERROR
        ans = Message(self.command_code, self.application_id, flags, self.hop_by_hop, self.end_to_end, [],
                      self.dictionary)
        session_id = self.find("Session-Id") if self.dictionary else None
        if session_id is not None:
            ans.avps.append(session_id.copy())
        if result_code is not None:
            ans.add("Result-Code", result_code)
        if origin_host is not None:
            ans.add("Origin-Host", origin_host)
        if origin_realm is not None:
            ans.add("Origin-Realm", origin_realm)
        return ans

    def __repr__(self) -> str:
        kind = "request" if self.is_request else "answer"
        return (f"<Diameter {self.command_name} {kind} app={self.application_id} hbh={self.hop_by_hop} "
                f"e2e={self.end_to_end} avps={self.avps!r}>")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view for logs (``*log`` flag)."""
        return {"command": self.command_name, "application_id": self.application_id, "flags": self.flags,
                "hop_by_hop": self.hop_by_hop, "end_to_end": self.end_to_end, "avps": _avps_dict(self.avps)}


def _children(avps: Iterable[AVP], key: int) -> list[AVP]:
    return [a for a in avps if (a.vendor_id << 32) | a.code == key]


def _avps_dict(avps: list[AVP]) -> list[dict[str, Any]]:
    out = []
    for a in avps:
        v = a.value
        if isinstance(v, list):
            v = _avps_dict(v)
        elif isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        elif isinstance(v, datetime):
            v = v.isoformat()
        out.append({a.name: v})
    return out


def coerce_value(definition: AVPDef, value: Any) -> Any:
    """``value`` as the Python type the codec writes for ``definition``; strings are parsed.

    Raises ``EncodeError`` naming the AVP when the value cannot be that type.
    """
    kind = definition.type
    try:
        if kind == "Grouped":
            if isinstance(value, list) and all(isinstance(a, AVP) for a in value):
                return value
            raise TypeError("a Grouped AVP holds a list of AVPs")
        if kind in _INT_TYPES:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                text = value.strip()
                if kind == "Enumerated" and definition.enum and not _is_number(text):
                    return definition.enum_code(text)
                return int(float(text)) if "." in text or "e" in text.lower() else int(text, 10)
            return int(value)
        if kind in ("Float32", "Float64"):
            return float(value)
        if kind in _TEXT_TYPES:
            return value.decode("utf-8") if isinstance(value, bytes) else str(value)
        if kind == "OctetString":
            if isinstance(value, bytes | bytearray):
                return bytes(value)
            return str(value).encode("utf-8")
        if kind == "Time":
            return _to_datetime(value)
        if kind in ("Address", "IPv4"):
            return value if isinstance(value, bytes) else str(value)
    except (TypeError, ValueError, KeyError) as exc:
        raise EncodeError(f"AVP {definition.name}: {value!r} is not a valid {kind} ({exc})") from None
    return value


def _is_number(text: str) -> bool:
    return text.lstrip("+-").isdigit()


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    if _is_number(text):
        return datetime.fromtimestamp(int(text), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


__all__ = ["DecodeError", "EncodeError", "Message", "coerce_value"]
