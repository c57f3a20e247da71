"""What a reader's ``fields`` read as ``*req``: records out of CSV, fixed-width, XML and JSON sources (no I/O here).

Each decoder turns a source (the lines of a file, a parsed document) into :class:`Record` items in order: the
record's number (1-based, CGRateS's ``*fileLineNumber``; a CSV header line does not count), the physical line it
ends on (for logs), its raw text (written aside when it is malformed) and a DataProvider, or the error that made it
malformed. Decoding never stops at a bad record: the next one is decoded as if the bad one was not there.

- CSV (``*file_csv``, ``*partial_csv``, ``*flatstore``): ``~*req.3`` is the fourth column; a first line starting
  with ``csvHeaderDefineChar`` (``:``) names the columns, which ``~*req.Name`` then reads. ``csvRowLength`` 0 takes
  the column count of the first record as the rule, -1 accepts any; ``#`` starts a comment line.
- Fixed width (``*file_fwv``): ``~*req.14-30`` is the text between two offsets; ``*hdr`` and ``*trl`` read the
  first and the last line when the reader's fields use them (those lines are then no records).
- XML (``*file_xml``): one record per element at ``xmlRootPath`` (dot separated, from the document root), read with
  its full path (``~*req.broadWorksCDR.cdrData.basicModule.localCallId``; ``Tag[1]`` picks a sibling,
  ``Tag.@attr`` an attribute); an empty root path makes the whole document one record.
- JSON (``*file_json``): the file is one JSON object, one record.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pycgrates.engine.template.dataprovider import MapDataProvider, NotFoundError, parse_segment

COMMENT = "#"


@dataclass(slots=True)
class Record:
    """One record of a source: a DataProvider to read, or the error that makes it malformed."""

    number: int  # 1-based, among the records of the source
    line: int  # the physical line the record ends on (1-based), for logs
    raw: str  # the record's text as read (what is written aside when malformed)
    data: Any = None  # the DataProvider of ``*req``
    error: str = ""  # why the record is malformed


# ---------------------------------------------------------------------------------------------------- CSV


class CSVRecord:
    """``*req`` of one CSV row: columns by index, or by the names of a header line."""

    __slots__ = ("columns", "values")

    def __init__(self, values: Sequence[str], columns: dict[str, int] | None = None) -> None:
        self.values = values
        self.columns = columns

    def __repr__(self) -> str:
        return f"CSVRecord({list(self.values)!r})"

    def field_as_any(self, path: Sequence[str]) -> Any:
        if len(path) != 1:
            raise NotFoundError()
        key, idxs = parse_segment(path[0])
        if idxs:
            raise NotFoundError()
        if self.columns is not None and key in self.columns:
            pos = self.columns[key]
        else:
            try:
                pos = int(key)
            except ValueError:
                raise NotFoundError() from None
        if 0 <= pos < len(self.values):
            return self.values[pos]
        raise NotFoundError()

    def field_as_string(self, path: Sequence[str]) -> str:
        return self.field_as_any(path)

    def to_dict(self) -> list[str]:
        return list(self.values)


class _LineTap:
    """The lines the csv module reads, kept so each record's raw text is known."""

    __slots__ = ("lines", "number", "source")

    def __init__(self, source: Iterable[str]) -> None:
        self.source = iter(source)
        self.lines: list[str] = []
        self.number = 0

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self.source)
        self.number += 1
        self.lines.append(line)
        return line

    def take(self) -> str:
        text = "".join(self.lines)
        self.lines.clear()
        return text


def csv_records(lines: Iterable[str], *, separator: str = ",", header_char: str = ":", row_length: int = 0,
                lazy_quotes: bool = True) -> Iterator[Record]:
    """The records of a CSV source (``lines`` keep their line ends)."""
    tap = _LineTap(lines)
    reader = csv.reader(tap, delimiter=separator or ",", strict=not lazy_quotes)
    columns: dict[str, int] | None = None
    expected = row_length if row_length > 0 else None
    number = 0
    first = True
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            number += 1
            yield Record(number, tap.number, tap.take(), error=f"CSV: {exc}")
            continue
        raw = tap.take()
        if not row or (len(row) == 1 and not row[0].strip()) or row[0].startswith(COMMENT):
            continue
        if first and header_char and row[0].startswith(header_char):
            first = False
            columns = {name: i for i, name in enumerate([row[0][len(header_char):], *row[1:]])}
            continue
        first = False
        number += 1
        if expected is None and row_length == 0:
            expected = len(row)
        if expected is not None and len(row) != expected:
            yield Record(number, tap.number, raw, error=f"CSV: wrong number of fields: have {len(row)}, "
                                                         f"want {expected}")
            continue
        yield Record(number, tap.number, raw, CSVRecord(row, columns))


# ---------------------------------------------------------------------------------------------------- fixed width


class FWVRecord:
    """``*req`` (``*hdr``, ``*trl``) of one fixed-width line: ``~*req.14-30`` is ``line[14:30]``."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"FWVRecord({self.text!r})"

    def field_as_any(self, path: Sequence[str]) -> Any:
        if len(path) != 1:
            raise NotFoundError()
        start, sep, end = path[0].partition("-")
        try:
            a, b = int(start), int(end) if sep else None
        except ValueError:
            raise NotFoundError() from None
        if a > len(self.text) or (b is not None and b > len(self.text)):
            raise NotFoundError()
        return self.text[a:b]

    def field_as_string(self, path: Sequence[str]) -> str:
        return self.field_as_any(path)

    def to_dict(self) -> str:
        return self.text


def fwv_lines(lines: Iterable[str], *, header: bool, trailer: bool) -> tuple[str | None, str | None, list[Record]]:
    """(header line, trailer line, the records between); blank lines are no records."""
    numbered = [(i, line.rstrip("\r\n")) for i, line in enumerate(lines, 1)]
    numbered = [(i, text) for i, text in numbered if text.strip()]
    head = numbered.pop(0)[1] if header and numbered else None
    tail = numbered.pop()[1] if trailer and numbered else None
    return head, tail, [Record(n, i, text + "\n", FWVRecord(text)) for n, (i, text) in enumerate(numbered, 1)]


# ---------------------------------------------------------------------------------------------------- XML


class XMLRecord:
    """``*req`` of one XML element found at ``root`` (the path from the document root, tags included)."""

    __slots__ = ("element", "root")

    def __init__(self, element: ET.Element, root: tuple[str, ...]) -> None:
        self.element = element
        self.root = root

    def __repr__(self) -> str:
        return f"XMLRecord(<{self.element.tag}>)"

    def field_as_any(self, path: Sequence[str]) -> Any:
        n = len(self.root)
        if tuple(parse_segment(p)[0] for p in path[:n]) != self.root:
            raise NotFoundError()
        node = self.element
        for segment in path[n:]:
            if segment.startswith("@"):
                value = node.get(segment[1:])
                if value is None:
                    raise NotFoundError()
                return value
            tag, idxs = parse_segment(segment)
            children = [c for c in node if c.tag == tag]
            pos = int(idxs[0]) if idxs and idxs[0].lstrip("-").isdigit() else 0
            if not -len(children) <= pos < len(children) or not children:
                raise NotFoundError()
            node = children[pos]
        return (node.text or "").strip() if len(node) == 0 else node

    def field_as_string(self, path: Sequence[str]) -> str:
        value = self.field_as_any(path)
        return value if isinstance(value, str) else ET.tostring(value, encoding="unicode")

    def to_dict(self) -> str:
        return ET.tostring(self.element, encoding="unicode")


def xml_records(text: str, root_path: str) -> list[Record]:
    """One record per element at ``root_path`` (dot separated, from the document root)."""
    try:
        doc = ET.fromstring(text)
    except ET.ParseError as exc:
        return [Record(1, exc.position[0] if exc.position else 1, text, error=f"XML: {exc}")]
    parts = tuple(p for p in root_path.split(".") if p)
    if not parts:
        return [Record(1, 1, text, XMLRecord(_document(doc), ()))]
    if parts[0] != doc.tag:
        return []
    nodes = [doc]
    for tag in parts[1:]:
        nodes = [c for n in nodes for c in n if c.tag == tag]
    return [Record(i, i, ET.tostring(n, encoding="unicode"), XMLRecord(n, parts)) for i, n in enumerate(nodes, 1)]


def _document(root: ET.Element) -> ET.Element:
    """A wrapper element standing for the document, so paths start with the root tag."""
    wrapper = ET.Element("")
    wrapper.append(root)
    return wrapper


# ---------------------------------------------------------------------------------------------------- JSON


def json_record(text: str) -> Record:
    """A JSON object as one record."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Record(1, getattr(exc, "lineno", 1), text, error=f"JSON: {exc}")
    if not isinstance(data, dict):
        return Record(1, 1, text, error=f"JSON: expecting an object, have {type(data).__name__}")
    return Record(1, 1, text, MapDataProvider(data))


def message_record(body: bytes | str, number: int = 1) -> Record:
    """A queue message (AMQP, NATS) holding a JSON object."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    rec = json_record(text)
    rec.number = number
    return rec


__all__ = ["CSVRecord", "FWVRecord", "Record", "XMLRecord", "csv_records", "fwv_lines",
           "json_record", "message_record", "xml_records"]
