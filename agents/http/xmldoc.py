"""XML payloads of the HTTP agent, sans-IO: a request body as ``*req`` (CGRateS's httpXmlDP over xmlquery) and a
``*rep`` as the XML CGRateS writes (``NMAsXMLElements`` printed by Go's ``xml.MarshalIndent(.., "", "  ")``).

Reading: a path is the element names from the document element down (``~*req.complete-datasession-notification.
callleg.bytes``), each step optionally with a 0-based index (``callleg[1]``) or an XPath attribute predicate
(``callleg[@calllegid='89357336']``), the last step optionally ``@name`` for an attribute; the first match in
document order gives its text (every descendant text node, concatenated). A path that matches nothing reads as
``""``, as CGRateS's provider returns no value and no error. Documents with a DOCTYPE (entity declarations:
expansion bombs, external entities) are refused.

Writing: each ``*rep`` leaf becomes an element on its path (indexes dropped), elements sharing a path prefix
nest under the same parent until a ``new_branch`` leaf starts new ones; a leaf on a path already written replaces
its value. The document is ``<?xml version="1.0" encoding="UTF-8"?>`` then the elements, two-space indented, with
Go's escapes; an empty ``*rep`` writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any
from xml.parsers import expat

from pycgrates.engine.template.dataprovider import NotFoundError, as_string, parse_segment
from pycgrates.engine.template.navmap import Leaf

XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'
INDENT = "  "
_PREDICATE = re.compile(r"""^@([\w.:-]+)(?:\s*=\s*(?:'([^']*)'|"([^"]*)"))?$""")


class XmlError(ValueError):
    """A body that is no acceptable XML document, or a path that cannot be read; the text says what."""


class XmlNode:
    """An element: its name, attributes and content (text and child elements in document order)."""

    __slots__ = ("attributes", "content", "name")

    def __init__(self, name: str, attributes: dict[str, str] | None = None) -> None:
        self.name = name
        self.attributes = attributes or {}
        self.content: list[str | XmlNode] = []

    @property
    def children(self) -> list[XmlNode]:
        return [c for c in self.content if isinstance(c, XmlNode)]

    def inner_text(self) -> str:
        return "".join(c if isinstance(c, str) else c.inner_text() for c in self.content)


def _refuse(*_args: Any) -> None:
    raise XmlError("a DOCTYPE or entity declaration is not accepted")


def parse_xml(data: bytes) -> XmlNode:
    """The document node (its one child is the document element); XmlError for anything else."""
    document = XmlNode("")
    stack = [document]
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse

    def start(name: str, attributes: dict[str, str]) -> None:
        node = XmlNode(name, attributes)
        stack[-1].content.append(node)
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop()

    def text(chunk: str) -> None:
        stack[-1].content.append(chunk)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise XmlError(f"not an XML document: {exc}") from None
    return document


def _step(segment: str) -> tuple[str, str]:
    """``name[predicate]`` → (name, predicate); the predicate is what is between the brackets."""
    bracket = segment.find("[")
    if bracket < 0:
        return segment, ""
    if not segment.endswith("]"):
        raise XmlError(f"selector <{segment[bracket:]}> needs to end in ]")
    return segment[:bracket], segment[bracket + 1:-1]


def _select(parents: list[XmlNode], name: str, predicate: str) -> list[XmlNode]:
    out: list[XmlNode] = []
    for parent in parents:
        found = [c for c in parent.children if c.name == name]
        if not predicate:
            out += found
        elif predicate.lstrip("-").isdigit():
            index = int(predicate)
            if 0 <= index < len(found):
                out.append(found[index])
        else:
            match = _PREDICATE.match(predicate.strip())
            if match is None:
                raise XmlError(f"selector <[{predicate}]> is neither an index nor [@attribute='value']")
            attribute, value = match.group(1), match.group(2) if match.group(2) is not None else match.group(3)
            out += [c for c in found if attribute in c.attributes
                    and (value is None or c.attributes[attribute] == value)]
    return out


def find_text(document: XmlNode, path: Sequence[str]) -> str:
    """The text at ``path`` (see the module docstring); "" when nothing matches."""
    if not path:
        raise XmlError("empty path")
    nodes = [document]
    for pos, segment in enumerate(path):
        if segment.startswith("@") and pos == len(path) - 1:
            name = segment[1:]
            for node in nodes:
                if name in node.attributes:
                    return node.attributes[name]
            return ""
        name, predicate = _step(segment)
        nodes = _select(nodes, name, predicate)
        if not nodes:
            return ""
    return nodes[0].inner_text()


class XmlDataProvider:
    """An XML request body as ``*req``; values found are cached per path."""

    __slots__ = ("_cache", "document")

    def __init__(self, document: XmlNode) -> None:
        self.document = document
        self._cache: dict[tuple[str, ...], str] = {}

    @classmethod
    def parse(cls, data: bytes) -> XmlDataProvider:
        return cls(parse_xml(data))

    def __repr__(self) -> str:
        root = self.document.children
        return f"XmlDataProvider(<{root[0].name if root else ''}>)"

    def field_as_any(self, path: Sequence[str]) -> Any:
        key = tuple(path)
        value = self._cache.get(key)
        if value is None:
            try:
                value = self._cache[key] = find_text(self.document, key)
            except XmlError as exc:
                raise NotFoundError(f"NOT_FOUND: {exc}") from None
        return value

    def field_as_string(self, path: Sequence[str]) -> str:
        return as_string(self.field_as_any(path))


# ---------------------------------------------------------------------------------------------------- writing


class _Element:
    __slots__ = ("children", "name", "value")

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = ""
        self.children: list[_Element] = []


def _escape(text: str) -> str:
    """Go's xml.EscapeText."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif (code < 0x20 and ch not in "\t\n\r") or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


_ESCAPES = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\t": "&#x9;", "\n": "&#xA;",
            "\r": "&#xD;"}


def _elements(leaves: Iterable[Leaf]) -> list[_Element]:
    roots: list[_Element] = []
    index: dict[tuple[str, ...], _Element] = {}
    for leaf in leaves:
        if leaf.new_branch:
            index = {}  # the same paths start new elements from here on
        path = tuple(parse_segment(p)[0] for p in leaf.path)
        value = as_string(leaf.value)
        depth = next((i for i in range(len(path), 0, -1) if path[:i] in index), 0)
        if depth == len(path):
            index[path].value = value
            continue
        top = None
        parent = index.get(path[:depth])
        for i in range(depth, len(path)):
            element = _Element(path[i])
            index[path[:i + 1]] = element
            if parent is None:
                top = element
            else:
                parent.children.append(element)
            parent = element
        assert parent is not None
        parent.value = value
        if top is not None:
            roots.append(top)
    return roots


class _Printer:
    """Go's xml printer with prefix "" and indent "  " (MarshalIndent)."""

    __slots__ = ("depth", "indented_in", "out", "put_newline")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.depth = 0
        self.indented_in = False
        self.put_newline = False

    def indent(self, delta: int) -> None:
        if delta < 0:
            self.depth -= 1
            if self.indented_in:
                self.indented_in = False
                return
            self.indented_in = False
        if self.put_newline:
            self.out.append("\n")
        else:
            self.put_newline = True
        self.out.append(INDENT * self.depth)
        if delta > 0:
            self.depth += 1
            self.indented_in = True

    def element(self, element: _Element) -> None:
        self.indent(1)
        self.out.append(f"<{element.name}>")
        self.out.append(_escape(element.value))
        for child in element.children:
            self.element(child)
        self.indent(-1)
        self.out.append(f"</{element.name}>")


def encode_xml(leaves: Iterable[Leaf]) -> bytes:
    """``*rep`` as CGRateS's XML reply (b"" when there is nothing to write)."""
    roots = _elements(leaves)
    if not roots:
        return b""
    printer = _Printer()
    for root in roots:
        printer.element(root)
    return (XML_HEADER + "".join(printer.out)).encode()


__all__ = ["XmlDataProvider", "XmlError", "XmlNode", "encode_xml", "find_text", "parse_xml"]
