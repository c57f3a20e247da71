"""RADIUS dictionaries in the FreeRADIUS (v3) text format.

Keywords: ATTRIBUTE, VALUE, VENDOR (``format=t,l[,c]``), BEGIN-VENDOR/END-VENDOR (``format=Extended-Vendor-
Specific-N``), BEGIN-TLV/END-TLV, ``$INCLUDE`` (and the optional ``$INCLUDE-``). Attribute numbers may be dotted
(``1.2`` is child 2 of the TLV 1; ``241.1`` is an RFC 6929 extended attribute). Flags: ``has_tag``,
``encrypt=1|2|3``, ``concat``, ``array``, ``virtual``; the old-style fifth column naming a vendor is accepted.

Names are case-insensitive, as in FreeRADIUS. When two names share a number, the last one defined is the one
a decoded attribute carries (both names still encode). VALUE lines may precede their ATTRIBUTE; those that never
find one are dropped with a warning when the load finishes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pycgrates.engine.shipped import shipped_path

log = logging.getLogger("cgr.radius")

#: Our own dictionary tree, written from the RFCs (loaded under every client dictionary).
SHIPPED_DIR = shipped_path("dictionaries/radius")

#: Types with a wire codec. ``abinary`` is carried as octets.
LEAF_TYPES = frozenset({
    "string", "octets", "abinary", "ipaddr", "ipv6addr", "ipv6prefix", "ipv4prefix", "integer", "integer64",
    "date", "byte", "short", "signed", "ether", "ifid", "combo-ip",
})
CONTAINER_TYPES = frozenset({"tlv", "vsa", "extended", "long-extended", "evs"})
TYPE_ALIASES = {
    "uint8": "byte", "uint16": "short", "uint32": "integer", "uint64": "integer64", "int32": "signed",
    "ipv4addr": "ipaddr", "time": "date", "combo-ipaddr": "combo-ip",
}
#: Fixed value sizes (bytes) of the leaf types that have one.
FIXED_SIZE = {
    "integer": 4, "date": 4, "signed": 4, "byte": 1, "short": 2, "integer64": 8, "ipaddr": 4, "ipv6addr": 16,
    "ether": 6, "ifid": 8,
}
INTEGER_TYPES = frozenset({"integer", "byte", "short", "signed", "integer64"})

_FORMAT_RE = re.compile(r"^format=(\d),(\d)(,c)?$")
_EVS_FORMAT_RE = re.compile(r"^format=Extended-Vendor-Specific-(\d)$")
_SIZED_TYPE_RE = re.compile(r"^([a-z0-9-]+)\[(\d+)\]$")


class DictionaryError(ValueError):
    """A dictionary file that cannot be loaded; the message names the file and line."""

    located = False


@dataclass(slots=True, eq=False)
class AttrDef:
    """One attribute definition: where it sits on the wire and how its value is coded."""

    name: str
    code: int
    type: str
    vendor: int = 0
    parent: AttrDef | None = None
    size: int | None = None
    encrypt: int = 0
    has_tag: bool = False
    concat: bool = False
    array: bool = False
    virtual: bool = False
    values: dict[str, int] = field(default_factory=dict)
    value_names: dict[int, str] = field(default_factory=dict)
    children: dict[int, AttrDef] = field(default_factory=dict)
    #: For ``evs`` attributes: vendor id -> that vendor's attributes inside this extended space.
    vendor_children: dict[int, dict[int, AttrDef]] = field(default_factory=dict)
    #: The codec's memo of its fast decoding path (None: not worked out yet).
    plain_size: int | None = None

    @property
    def oid(self) -> str:
        """The dotted number, e.g. ``26.311.25`` or ``241.26.11344.1``."""
        parts: list[str] = []
        node: AttrDef | None = self
        while node is not None:
            parts.append(str(node.code))
            if node.parent is None and node.vendor:
                parts.append(f"26.{node.vendor}")
            elif node.parent is not None and node.parent.type == "evs":
                parts.append(str(node.vendor))
            node = node.parent
        return ".".join(reversed(parts))

    def __repr__(self) -> str:
        return f"AttrDef({self.name!r}, {self.oid}, {self.type})"


@dataclass(slots=True, eq=False)
class Vendor:
    """A vendor of Vendor-Specific attributes and its sub-attribute format (RFC 2865 §5.26)."""

    name: str
    id: int
    type_size: int = 1
    length_size: int = 1
    continuation: bool = False
    attributes: dict[int, AttrDef] = field(default_factory=dict)


class Dictionary:
    """Attribute and vendor definitions, looked up by name (any case) or by number."""

    def __init__(self) -> None:
        self.top: dict[int, AttrDef] = {}
        self.vendors: dict[int, Vendor] = {}
        self._names: dict[str, AttrDef] = {}
        self._vendor_names: dict[str, Vendor] = {}
        self._pending_values: list[tuple[str, str, int, str]] = []
        self.sources: list[str] = []

    # ---------------------------------------------------------------- look-ups

    def attribute(self, name: str) -> AttrDef:
        """The definition named ``name``; KeyError names the attribute and the dictionaries searched."""
        found = self._names.get(name) or self._names.get(name.lower())
        if found is None:
            raise KeyError(f"RADIUS attribute {name!r} is not in the dictionary (loaded: "
                           f"{', '.join(self.sources) or 'nothing'}); add it to a client_dictionaries folder")
        return found

    def get(self, name: str) -> AttrDef | None:
        return self._names.get(name) or self._names.get(name.lower())

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def vendor(self, name_or_id: str | int) -> Vendor | None:
        if isinstance(name_or_id, int):
            return self.vendors.get(name_or_id)
        return self._vendor_names.get(name_or_id.lower())

    def names(self) -> list[str]:
        """Every attribute name as defined (original spelling)."""
        return sorted({d.name for d in self._names.values()})

    # ---------------------------------------------------------------- loading

    def load(self, path: str | Path) -> Dictionary:
        """Load a dictionary file, or a folder (its ``dictionary`` file if there is one, else every file in it)."""
        p = Path(path)
        if p.is_dir():
            main = p / "dictionary"
            files = [main] if main.is_file() else sorted(
                f for f in p.iterdir() if f.is_file() and not f.name.startswith(".") and not f.name.endswith("~"))
        elif p.is_file():
            files = [p]
        else:
            raise DictionaryError(f"RADIUS dictionary path {str(p)!r} does not exist")
        for f in files:
            self._load_file(f, depth=0)
        self.sources.append(str(p))
        self._resolve_pending_values(final=True)
        return self

    def load_text(self, text: str, source: str = "<text>", base_dir: Path | None = None) -> Dictionary:
        """Load dictionary lines from a string (``$INCLUDE`` is resolved against ``base_dir``)."""
        self._parse(text.splitlines(), source, base_dir or Path.cwd(), depth=0)
        self.sources.append(source)
        self._resolve_pending_values(final=True)
        return self

    def _load_file(self, path: Path, depth: int) -> None:
        if depth > 32:
            raise DictionaryError(f"{path}: $INCLUDE nested more than 32 deep (an include loop?)")
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            raise DictionaryError(f"cannot read RADIUS dictionary {path}: {exc.strerror}") from exc
        self._parse(lines, str(path), path.parent, depth)

    def _parse(self, lines: Iterable[str], source: str, base_dir: Path, depth: int) -> None:
        vendor: Vendor | None = None
        evs_parent: AttrDef | None = None  # the ``evs`` attribute of a BEGIN-VENDOR ... format=Extended-...
        tlv_stack: list[AttrDef] = []
        for lineno, line in enumerate(lines, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            where = f"{source}:{lineno}"
            keyword = fields[0]
            try:
                if keyword == "ATTRIBUTE":
                    self._attribute(fields, vendor, evs_parent, tlv_stack[-1] if tlv_stack else None, where)
                elif keyword == "VALUE":
                    self._value(fields, where)
                elif keyword == "VENDOR":
                    self._vendor(fields, where)
                elif keyword == "BEGIN-VENDOR":
                    vendor, evs_parent = self._begin_vendor(fields, where)
                elif keyword == "END-VENDOR":
                    if vendor is None:
                        raise DictionaryError("END-VENDOR without BEGIN-VENDOR")
                    vendor, evs_parent = None, None
                elif keyword == "BEGIN-TLV":
                    if len(fields) < 2:
                        raise DictionaryError("BEGIN-TLV needs the name of a tlv attribute")
                    parent = self.get(fields[1])
                    if parent is None or parent.type != "tlv":
                        raise DictionaryError(f"BEGIN-TLV {fields[1]}: no tlv attribute of that name is defined")
                    tlv_stack.append(parent)
                elif keyword == "END-TLV":
                    if not tlv_stack:
                        raise DictionaryError("END-TLV without BEGIN-TLV")
                    tlv_stack.pop()
                elif keyword in ("$INCLUDE", "$INCLUDE-"):
                    if len(fields) < 2:
                        raise DictionaryError(f"{keyword} needs a file name")
                    target = Path(fields[1])
                    target = target if target.is_absolute() else base_dir / target
                    if not target.exists() and keyword == "$INCLUDE-":
                        continue
                    if target.is_dir():
                        for f in sorted(target.iterdir()):
                            if f.is_file() and not f.name.startswith("."):
                                self._load_file(f, depth + 1)
                    else:
                        self._load_file(target, depth + 1)
                else:
                    raise DictionaryError(f"unknown keyword {keyword!r}")
            except DictionaryError as exc:
                if exc.located:
                    raise
                located = DictionaryError(f"{where}: {exc}")
                located.located = True
                raise located from None
        if vendor is not None:
            log.debug("%s: BEGIN-VENDOR %s without END-VENDOR", source, vendor.name)

    def _vendor(self, fields: list[str], where: str) -> None:
        if len(fields) < 3:
            raise DictionaryError("VENDOR needs a name and a number")
        name, number = fields[1], _number(fields[2])
        type_size, length_size, continuation = 1, 1, False
        for opt in fields[3:]:
            m = _FORMAT_RE.match(opt)
            if not m:
                raise DictionaryError(f"VENDOR {name}: unknown option {opt!r} (expected format=t,l[,c])")
            type_size, length_size, continuation = int(m.group(1)), int(m.group(2)), bool(m.group(3))
            if type_size not in (1, 2, 4) or length_size not in (0, 1, 2):
                raise DictionaryError(f"VENDOR {name}: format={type_size},{length_size} is not 1|2|4,0|1|2")
            if continuation and (type_size, length_size) != (1, 1):
                raise DictionaryError(f"VENDOR {name}: continuation (,c) needs format=1,1")
        existing = self.vendors.get(number)
        if existing is not None:
            existing.name = name
            existing.type_size, existing.length_size, existing.continuation = type_size, length_size, continuation
            v = existing
        else:
            v = Vendor(name, number, type_size, length_size, continuation)
            self.vendors[number] = v
        self._vendor_names[name.lower()] = v

    def _begin_vendor(self, fields: list[str], where: str) -> tuple[Vendor, AttrDef | None]:
        if len(fields) < 2:
            raise DictionaryError("BEGIN-VENDOR needs a vendor name")
        v = self.vendor(fields[1])
        if v is None:
            raise DictionaryError(f"BEGIN-VENDOR {fields[1]}: the vendor is not defined (VENDOR line missing)")
        evs_parent = None
        for opt in fields[2:]:
            m = _EVS_FORMAT_RE.match(opt)
            if not m:
                raise DictionaryError(f"BEGIN-VENDOR {fields[1]}: unknown option {opt!r}")
            ext = self.top.get(240 + int(m.group(1)))
            evs_parent = ext.children.get(26) if ext is not None else None
            if evs_parent is None or evs_parent.type != "evs":
                raise DictionaryError(f"BEGIN-VENDOR {fields[1]} {opt}: attribute {240 + int(m.group(1))}.26 "
                                      "(evs) is not defined; include the RFC 6929 dictionary first")
        return v, evs_parent

    def _attribute(self, fields: list[str], vendor: Vendor | None, evs_parent: AttrDef | None,
                   tlv_parent: AttrDef | None, where: str) -> None:
        if len(fields) < 4:
            raise DictionaryError("ATTRIBUTE needs a name, a number and a type")
        name, number, type_name = fields[1], fields[2], fields[3]
        size = None
        m = _SIZED_TYPE_RE.match(type_name.lower())
        if m:
            type_name, size = m.group(1), int(m.group(2))
        type_name = type_name.lower()
        type_name = TYPE_ALIASES.get(type_name, type_name)
        if type_name not in LEAF_TYPES and type_name not in CONTAINER_TYPES:
            raise DictionaryError(f"ATTRIBUTE {name}: unknown type {fields[3]!r}")
        defn = AttrDef(name=name, code=0, type=type_name, size=size)
        for opt in fields[4:]:
            for flag in opt.split(","):
                if flag == "has_tag":
                    defn.has_tag = True
                elif flag.startswith("encrypt="):
                    try:
                        defn.encrypt = int(flag[8:])
                    except ValueError:
                        raise DictionaryError(f"ATTRIBUTE {name}: bad flag {flag!r}") from None
                elif flag == "concat":
                    defn.concat = True
                elif flag == "array":
                    defn.array = True
                elif flag == "virtual":
                    defn.virtual = True
                elif flag and "=" not in flag and self.vendor(flag) is not None:
                    vendor = self.vendor(flag)  # old style: vendor name in the fifth column
                elif flag in ("abinary", "long", "internal", "secret"):
                    continue
                else:
                    raise DictionaryError(f"ATTRIBUTE {name}: unknown flag {flag!r}")
        parts = [_number(p) for p in number.split(".")]
        # Where the first number component lives.
        if tlv_parent is not None:
            space, parent, vid = tlv_parent.children, tlv_parent, tlv_parent.vendor
        elif evs_parent is not None and vendor is not None:
            space, parent, vid = evs_parent.vendor_children.setdefault(vendor.id, {}), evs_parent, vendor.id
        elif vendor is not None:
            space, parent, vid = vendor.attributes, None, vendor.id
        else:
            space, parent, vid = self.top, None, 0
        for i, code in enumerate(parts[:-1]):
            node = space.get(code)
            if node is None or node.type not in ("tlv", "extended", "long-extended", "evs"):
                raise DictionaryError(f"ATTRIBUTE {name} {number}: parent {'.'.join(map(str, parts[:i + 1]))} "
                                      "is not a defined tlv/extended attribute")
            if node.type == "evs":
                if i + 2 >= len(parts):
                    raise DictionaryError(f"ATTRIBUTE {name} {number}: evs needs <vendor>.<number>")
                vid = parts[i + 1]
                space, parent = node.vendor_children.setdefault(vid, {}), node
                rest = parts[i + 2:-1]
                for code2 in rest:
                    node2 = space.get(code2)
                    if node2 is None or node2.type != "tlv":
                        raise DictionaryError(f"ATTRIBUTE {name} {number}: parent is not a defined tlv")
                    space, parent = node2.children, node2
                break
            space, parent = node.children, node
        code = parts[-1]
        max_code = 255
        if parent is None and vid:
            v = self.vendors[vid]
            max_code = (1 << (8 * v.type_size)) - 1
        if parent is None and not vid and code > 255:
            # Server-internal attributes (FreeRADIUS numbers them above 255): named, never on the wire.
            defn.virtual = True
            max_code = 1 << 32
        if not 0 <= code <= max_code:
            raise DictionaryError(f"ATTRIBUTE {name}: number {code} is out of range 0..{max_code}")
        defn.code, defn.parent, defn.vendor = code, parent, vid
        if type_name in ("extended", "long-extended") and (parent is not None or vid or not 241 <= code <= 246):
            raise DictionaryError(f"ATTRIBUTE {name}: {type_name} attributes are the top-level numbers 241..246")
        old = self._names.get(name.lower())
        if old is not None and (old.code, old.vendor, old.type) == (code, vid, type_name) and old.parent is parent:
            # A repeated identical definition keeps its VALUEs and children.
            old.encrypt, old.has_tag, old.concat = defn.encrypt or old.encrypt, defn.has_tag or old.has_tag, \
                defn.concat or old.concat
            old.plain_size = None
            space[code] = old
            return
        previous = space.get(code)
        if previous is not None and previous.type == type_name:
            defn.values, defn.value_names = previous.values, previous.value_names
            defn.children, defn.vendor_children = previous.children, previous.vendor_children
        if not defn.virtual:
            space[code] = defn
        self._names[name] = defn
        self._names[name.lower()] = defn

    def _value(self, fields: list[str], where: str) -> None:
        if len(fields) < 4:
            raise DictionaryError("VALUE needs an attribute, a name and a number")
        try:
            number = _number(fields[3])
        except DictionaryError:
            raise DictionaryError(f"VALUE {fields[1]} {fields[2]}: {fields[3]!r} is not a number") from None
        self._pending_values.append((fields[1], fields[2], number, where))
        if len(self._pending_values) > 4096:
            self._resolve_pending_values(final=False)

    def _resolve_pending_values(self, final: bool) -> None:
        keep = []
        for attr_name, value_name, number, where in self._pending_values:
            defn = self.get(attr_name)
            if defn is None:
                if final:
                    log.warning("%s: VALUE %s %s ignored: attribute %s is not defined",
                                where, attr_name, value_name, attr_name)
                else:
                    keep.append((attr_name, value_name, number, where))
                continue
            defn.values[value_name] = number
            defn.values.setdefault(value_name.lower(), number)
            defn.value_names.setdefault(number, value_name)  # the first name given to a number prints
        self._pending_values = keep


def _number(text: str) -> int:
    try:
        return int(text, 16) if text[:2].lower() == "0x" else int(text, 10)
    except ValueError:
        raise DictionaryError(f"{text!r} is not a number") from None


def load_dictionary(*paths: str | Path, shipped: bool = True) -> Dictionary:
    """A dictionary with our shipped RFC tree (unless ``shipped=False``) and then ``paths`` on top."""
    d = Dictionary()
    if shipped:
        d.load(SHIPPED_DIR)
    for p in paths:
        d.load(p)
    return d


def load_client_dictionaries(config: Mapping[str, Sequence[str | Path] | str | Path] | None,
                             *, shipped: bool = True) -> dict[str, Dictionary]:
    """``radius_agent.client_dictionaries`` ({client ip | *default: [paths]}) to {client: Dictionary}.

    Each client gets the shipped dictionary plus its own paths; ``*default`` is always present. Clients that list
    the same paths share one Dictionary object.
    """
    built: dict[tuple[str, ...], Dictionary] = {}
    result: dict[str, Dictionary] = {}
    for client, paths in (config or {}).items():
        if isinstance(paths, (str, Path)):
            paths = [paths]
        key = tuple(str(p) for p in paths)
        if key not in built:
            try:
                built[key] = load_dictionary(*key, shipped=shipped)
            except DictionaryError as exc:
                raise DictionaryError(f"radius_agent.client_dictionaries[{client!r}]: {exc}") from None
        result[client] = built[key]
    if "*default" not in result:
        result["*default"] = built.get((), None) or load_dictionary(shipped=shipped)
    return result
