"""Diameter dictionaries loaded at run time from XML.

Two XML shapes are read, because users keep both:

* the CGRateS / go-diameter shape — ``<diameter><application id type name><vendor id name/>
  <command code short name><request><rule avp required max/></request><answer>...</answer></command>
  <avp name code must may must-not may-encrypt vendor-id><data type><item code name/> | <rule .../></data></avp>``;
* the Wireshark / freeDiameter-style shape — ``<typedefn type-name type-parent/>``, ``<vendor vendor-id code name/>``,
  ``<avp name code mandatory vendor-bit vendor-id protected may-encrypt><type type-name/>
  <grouped><gavp name/></grouped><enum name code/></avp>``.

Later definitions replace earlier ones with the same code and vendor (or the same name), so an operator's
dictionaries may correct the shipped ones. This module is pure: no sockets, no asyncio, no engine imports.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from pycgrates.engine.shipped import shipped_path

log = logging.getLogger(__name__)

SHIPPED_DIR = shipped_path("dictionaries/diameter")

#: The base data types of RFC 6733 §4.2/§4.3 plus the few extra names found in the wild (IPv4, QoSFilterRule).
BASE_TYPES = frozenset({
    "OctetString", "Integer32", "Integer64", "Unsigned32", "Unsigned64", "Float32", "Float64", "Grouped",
    "Address", "Time", "UTF8String", "DiameterIdentity", "DiameterURI", "Enumerated", "IPFilterRule",
    "QoSFilterRule", "IPv4",
})
# Names other dictionaries use for the same base types.
_TYPE_ALIASES = {
    "AppId": "Unsigned32", "VendorId": "Unsigned32", "IPAddress": "Address", "UTF8": "UTF8String",
    "DiamIdent": "DiameterIdentity", "DiamURI": "DiameterURI", "OctetStringOrUTF8": "OctetString",
    "Integer": "Integer32", "Unsigned": "Unsigned32",
}
RELAY_APPLICATION_ID = 0xFFFFFFFF


class DictionaryError(ValueError):
    """A dictionary file that cannot be read; the message names the file and the element."""


@dataclass(slots=True, frozen=True)
class Rule:
    """One entry of a command's or grouped AVP's layout: which AVP, how often."""

    avp: str
    required: bool = False
    min: int = 0
    max: int | None = None


@dataclass(slots=True)
class AVPDef:
    """The definition of one AVP."""

    name: str
    code: int
    vendor_id: int = 0
    type: str = "OctetString"
    mandatory: bool = False      # the M bit is set when we build this AVP
    may_encrypt: bool = False
    protected: bool = False      # the P bit
    enum: dict[int, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()  # children of a Grouped AVP
    application_id: int = 0

    @property
    def key(self) -> int:
        return (self.vendor_id << 32) | self.code

    @property
    def flags(self) -> int:
        """AVP flags byte for an AVP we build: V when vendor specific, M when the definition says must."""
        return (0x80 if self.vendor_id else 0) | (0x40 if self.mandatory else 0) | (0x20 if self.protected else 0)

    def enum_code(self, name: str) -> int:
        for code, item in self.enum.items():
            if item == name:
                return code
        raise KeyError(f"AVP {self.name}: no enumerated value named {name!r}")


@dataclass(slots=True)
class CommandDef:
    code: int
    name: str
    short: str
    application_id: int = 0
    request: tuple[Rule, ...] = ()
    answer: tuple[Rule, ...] = ()


@dataclass(slots=True)
class ApplicationDef:
    id: int
    name: str
    type: str = "auth"   # auth | acct
    vendors: list[int] = field(default_factory=list)


def avp_key(code: int, vendor_id: int = 0) -> int:
    """The look-up key of an AVP: vendor and code in one int (cheaper to hash than a tuple)."""
    return (vendor_id << 32) | code


class Dictionary:
    """All AVPs, commands, applications and vendors known to one agent."""

    def __init__(self) -> None:
        self.avps: dict[int, AVPDef] = {}
        self.avps_by_name: dict[str, AVPDef] = {}
        self._folded_names: dict[str, AVPDef] = {}
        self.commands: dict[tuple[int, int], CommandDef] = {}
        self.commands_by_code: dict[int, CommandDef] = {}
        self.applications: dict[int, ApplicationDef] = {}
        self.vendors: dict[int, str] = {0: "IETF"}
        self.sources: list[str] = []
        self._typedefs: dict[str, str] = {}

    # ---- look-ups -------------------------------------------------------------------------------------------
    def find_avp(self, code: int, vendor_id: int = 0) -> AVPDef | None:
        return self.avps.get((vendor_id << 32) | code)

    def avp(self, name: str) -> AVPDef:
        """The AVP named ``name``; ``KeyError`` naming it when no loaded dictionary defines it."""
        found = self.avps_by_name.get(name) or self._folded_names.get(name.casefold())
        if found is None:
            raise KeyError(f"AVP {name!r} is not in the loaded Diameter dictionaries")
        return found

    def avp_by_name(self, name: str) -> AVPDef | None:
        """Like ``avp`` but None when unknown; names match case-insensitively when no exact match exists
        (dictionaries in the wild spell ``Message-Id`` / ``Message-ID``)."""
        return self.avps_by_name.get(name) or self._folded_names.get(name.casefold())

    def command(self, code: int, application_id: int | None = None) -> CommandDef | None:
        if application_id is not None:
            found = self.commands.get((application_id, code))
            if found is not None:
                return found
        return self.commands_by_code.get(code)

    def application(self, ident: int | str) -> ApplicationDef | None:
        """An application by id or (case-insensitive) name."""
        if isinstance(ident, int) or (isinstance(ident, str) and ident.isdigit()):
            return self.applications.get(int(ident))
        wanted = ident.lower()
        for app in self.applications.values():
            if app.name.lower() == wanted:
                return app
        return None

    # ---- loading --------------------------------------------------------------------------------------------
    def load_dir(self, path: str | Path) -> None:
        """Load every ``*.xml`` under ``path`` (recursively, in name order)."""
        root = Path(path)
        if not root.is_dir():
            raise DictionaryError(f"diameter dictionaries_path {root} is not a directory")
        for file in sorted(root.rglob("*.xml")):
            self.load_file(file)

    def load_file(self, path: str | Path) -> None:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DictionaryError(f"{path}: cannot read ({exc})") from exc
        self.load_xml(text, str(path))

    def load_xml(self, text: str, source: str = "<string>") -> None:
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise DictionaryError(f"{source}: not well-formed XML ({exc})") from exc
        if root.tag != "diameter":
            raise DictionaryError(f"{source}: root element is <{root.tag}>, expected <diameter>")
        self.sources.append(source)
        vendor_names: dict[str, int] = {}
        # Type definitions and vendors first: AVPs may refer to them before their position in the file.
        for elem in root.iter("typedefn"):
            name = elem.get("type-name")
            if name:
                self._typedefs[name] = elem.get("type-parent") or name
        for elem in root.iter("vendor"):
            self._load_vendor(elem, source, vendor_names)
        for elem in root:
            if elem.tag == "application":
                self._load_application(elem, source, vendor_names)
            elif elem.tag == "base":
                self._load_avps_and_commands(elem, 0, source, vendor_names)
            elif elem.tag == "avp":
                self._load_avp(elem, 0, source, vendor_names)
            elif elem.tag == "command":
                self._load_command(elem, 0, source)

    def _load_vendor(self, elem: ET.Element, source: str, vendor_names: dict[str, int]) -> None:
        # go-diameter: <vendor id="10415" name="3GPP"/>; Wireshark: <vendor vendor-id="TGPP" code="10415" .../>
        raw = elem.get("code") if elem.get("code") is not None else elem.get("id")
        code = _int(raw, source, elem, "vendor id")
        name = elem.get("name") or str(code)
        self.vendors[code] = name
        vendor_names[name] = code
        if elem.get("vendor-id"):
            vendor_names[elem.get("vendor-id", "")] = code

    def _load_application(self, elem: ET.Element, source: str, vendor_names: dict[str, int]) -> None:
        app_id = _int(elem.get("id"), source, elem, "application id")
        app = self.applications.get(app_id)
        name = elem.get("name")
        if app is None:
            app = ApplicationDef(app_id, name or f"Application-{app_id}", (elem.get("type") or "auth").lower())
            self.applications[app_id] = app
        else:
            if name:
                app.name = name
            if elem.get("type"):
                app.type = elem.get("type", "auth").lower()
        for vendor in elem.findall("vendor"):
            raw = vendor.get("code") if vendor.get("code") is not None else vendor.get("id")
            vid = _int(raw, source, vendor, "vendor id")
            if vid not in app.vendors:
                app.vendors.append(vid)
        self._load_avps_and_commands(elem, app_id, source, vendor_names)

    def _load_avps_and_commands(self, parent: ET.Element, app_id: int, source: str,
                                vendor_names: dict[str, int]) -> None:
        for child in parent:
            if child.tag == "avp":
                self._load_avp(child, app_id, source, vendor_names)
            elif child.tag == "command":
                self._load_command(child, app_id, source)

    def _load_command(self, elem: ET.Element, app_id: int, source: str) -> None:
        code = _int(elem.get("code"), source, elem, "command code")
        name = elem.get("name") or ""
        short = elem.get("short") or "".join(w[0] for w in name.split("-") if w)
        req, ans = elem.find("request"), elem.find("answer")
        cmd = CommandDef(code, name, short, app_id,
                         _rules(req, source) if req is not None else (),
                         _rules(ans, source) if ans is not None else ())
        self.commands[(app_id, code)] = cmd
        self.commands_by_code.setdefault(code, cmd)

    def _load_avp(self, elem: ET.Element, app_id: int, source: str, vendor_names: dict[str, int]) -> None:
        name = elem.get("name")
        if not name:
            raise DictionaryError(f"{source}: an <avp> has no name")
        code = _int(elem.get("code"), source, elem, f'code of AVP "{name}"')
        vendor_id = _vendor(elem.get("vendor-id"), vendor_names, source, name)
        must = elem.get("must") or ""
        mandatory = "M" in must.upper() or (elem.get("mandatory") or "").lower() == "must"
        protected = (elem.get("protected") or "").lower() == "must"
        may_encrypt = (elem.get("may-encrypt") or "").strip().upper() in ("Y", "YES")
        avp_type, enum, rules = "OctetString", {}, ()
        data = elem.find("data")
        if data is not None:
            avp_type = data.get("type") or "OctetString"
            enum = {_int(i.get("code"), source, i, f"item code of {name}"): i.get("name") or ""
                    for i in data.findall("item")}
            rules = _rules(data, source)
        typ = elem.find("type")
        if typ is not None:
            avp_type = typ.get("type-name") or avp_type
        grouped = elem.find("grouped")
        if grouped is not None:
            avp_type = "Grouped"
            rules = tuple(Rule(g.get("name") or "", g.get("required", "").lower() == "true",
                               int(g.get("min") or 0), _max(g.get("max")))
                          for g in grouped.findall("gavp"))
        for item in elem.findall("enum"):
            enum[_int(item.get("code"), source, item, f"enum code of {name}")] = item.get("name") or ""
        base_type = self._resolve_type(avp_type)
        if base_type not in BASE_TYPES:
            raise DictionaryError(f'{source}: AVP "{name}" has unknown data type "{avp_type}"')
        definition = AVPDef(name, code, vendor_id, base_type, mandatory, may_encrypt, protected, enum, rules, app_id)
        self.avps[definition.key] = definition
        previous = self.avps_by_name.get(name)
        if previous is not None and previous.vendor_id != vendor_id:
            # Another vendor reusing a standard name (e.g. a vendor's own Reporting-Reason): both codes decode,
            # the name keeps building the AVP it named first.
            log.debug("%s: AVP %s of vendor %d keeps the name of vendor %d's AVP %d", source, name, vendor_id,
                      previous.vendor_id, previous.code)
            return
        self.avps_by_name[name] = definition
        self._folded_names[name.casefold()] = definition

    def _resolve_type(self, name: str) -> str:
        seen: set[str] = set()
        while name not in BASE_TYPES and name not in seen:
            seen.add(name)
            name = _TYPE_ALIASES.get(name) or self._typedefs.get(name, name)
        return name


def _rules(parent: ET.Element, source: str) -> tuple[Rule, ...]:
    out = []
    for r in parent.findall("rule"):
        avp = r.get("avp")
        if not avp:
            raise DictionaryError(f"{source}: a <rule> has no avp attribute")
        out.append(Rule(avp, (r.get("required") or "").lower() == "true", int(r.get("min") or 0), _max(r.get("max"))))
    return tuple(out)


def _max(raw: str | None) -> int | None:
    if raw is None or raw.strip() in ("", "*"):
        return None
    return int(raw)


def _int(raw: str | None, source: str, elem: ET.Element, what: str) -> int:
    if raw is None or raw.strip() == "":
        raise DictionaryError(f"{source}: <{elem.tag} {_attrs(elem)}> has no {what}")
    try:
        return int(raw.strip(), 0)
    except ValueError:
        raise DictionaryError(f"{source}: <{elem.tag} {_attrs(elem)}>: {what} {raw!r} is not a number") from None


def _vendor(raw: str | None, names: dict[str, int], source: str, avp: str) -> int:
    if raw is None or raw.strip() in ("", "None", "0"):
        return 0
    raw = raw.strip()
    if raw.isdigit():
        return int(raw)
    if raw in names:
        return names[raw]
    raise DictionaryError(f'{source}: AVP "{avp}" names vendor-id "{raw}" which no <vendor> defines')


def _attrs(elem: ET.Element) -> str:
    return " ".join(f'{k}="{v}"' for k, v in elem.attrib.items())


def load_dictionaries(*paths: str | Path, shipped: bool = True) -> Dictionary:
    """The shipped dictionaries, then every file or directory in ``paths`` (later ones win)."""
    d = Dictionary()
    if shipped:
        d.load_dir(SHIPPED_DIR)
    for p in paths:
        if not p:
            continue
        p = Path(p)
        if p.is_dir():
            d.load_dir(p)
        elif p.is_file():
            d.load_file(p)
        else:
            raise DictionaryError(f"diameter dictionaries_path {p} does not exist")
    return d
