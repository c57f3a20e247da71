"""Reading the rows of a tariff-plan CSV file, and their cells by the column specs of ``engine.loader.specs``.

CSV rules: ``#`` lines and blank lines are skipped (the first ``#`` line may name the columns); fields are trimmed;
``;`` separates list items; durations are Go durations (``60s``, ``1m``) or plain numbers counted in nanoseconds
(units for *data/*sms). A row must have as many fields as its file has columns (a few files allow trailing ones to
be left out).

Every error is a :class:`LoaderError` at ``file:line:column`` (the column is the CSV field number, from 1) whose
message names the column by CGRateS's header name.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pycgrates.engine.loader.specs import Column, FileSpec, Kind
from pycgrates.engine.models.tariffplan import ANY, ASAP
from pycgrates.engine.rating.timings import to_ns
from pycgrates.engine.units import DurationError, TimeError, format_time, parse_duration, parse_time

_HMS = re.compile(r"^\d{1,2}:\d{1,2}:\d{1,2}$")
_ZERO_TIME = "0001-01-01T00:00:00Z"


class LoaderError(Exception):
    """A tariff-plan error at ``file:line:column`` (column: CSV field number, or a column name)."""

    def __init__(self, file: str, line: int, column: int | str, message: str) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass(slots=True)
class Row:
    """One data row: its file, line number and trimmed fields."""

    file: str
    line: int
    fields: list[str]

    def __getitem__(self, index: int) -> str:
        return self.fields[index] if index < len(self.fields) else ""

    def error(self, index: int, message: str) -> LoaderError:
        """An error on field ``index`` (0-based)."""
        return LoaderError(self.file, self.line, index + 1, message)

    def cells(self, columns: Iterable[Column | str]) -> dict[str, str]:
        """The row's text by column name (trailing fields left out read as empty)."""
        return {_name(c): self[i] for i, c in enumerate(columns)}

    def as_dict(self, columns: Iterable[Column | str]) -> dict[str, Any]:
        """The row's text by column name, with ``_file`` and ``_line`` (what accounting and StorDB keep)."""
        d: dict[str, Any] = self.cells(columns)
        d["_file"] = self.file
        d["_line"] = self.line
        return d


def _name(column: Column | str) -> str:
    return column if isinstance(column, str) else column.name


def read_rows(path: Path, spec: FileSpec | None) -> Iterator[Row]:
    """The data rows of a CSV file (comments and blank lines skipped), with their line numbers."""
    name = path.name
    lines: list[int] = []

    with open(path, newline="", encoding="utf-8-sig") as fh:

        def source() -> Iterator[str]:
            for number, text in enumerate(fh, 1):
                stripped = text.strip()
                if not stripped or stripped.startswith("#"):
                    continue
                lines.append(number)
                yield text

        reader = csv.reader(source(), skipinitialspace=False)
        consumed = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = lines[consumed] if consumed < len(lines) else (lines[-1] if lines else 0)
                raise LoaderError(name, line, 1, f"malformed CSV: {exc}") from None
            line = lines[consumed]
            consumed = len(lines)
            fields = [f.strip() for f in record]
            if spec is not None:
                _check_width(spec, name, line, len(fields))
            yield Row(name, line, fields)


def _check_width(spec: FileSpec, file: str, line: int, found: int) -> None:
    most = len(spec.columns)
    if spec.fewest <= found <= most:
        return
    expected = str(most) if spec.fewest == most else f"{spec.fewest} to {most}"
    raise LoaderError(
        file, line, min(found, most) + 1, f"expected {expected} fields ({','.join(spec.names)}), found {found}"
    )


def read_header(path: Path) -> list[str]:
    """The column names of the first comment line, if it looks like a header."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            for text in fh:
                s = text.strip()
                if not s:
                    continue
                if s.startswith("#"):
                    return [c.strip() for c in s.lstrip("#").split(",")]
                return []
    except OSError:
        return []
    return []


# ---------------------------------------------------------------------------------------------------- cells


class CellError(ValueError):
    """A cell that cannot be read as its column's kind (the message names the column)."""


def split_list(value: str) -> list[str]:
    """``a;b;c`` as a list (items trimmed, empty items dropped)."""
    return [v.strip() for v in value.split(";") if v.strip()] if value else []


def _bounded(value: int, col: Column) -> int:
    if (col.low is not None and value < col.low) or (col.high is not None and value > col.high):
        if col.high is None and col.low == 0:
            raise CellError(f"{col.name} must not be negative")
        raise CellError(f"{col.name} {value} is out of range ({col.low}..{col.high})")
    return value


def _string(text: str, col: Column, tz: str) -> str:
    return text


def _choice(text: str, col: Column, tz: str) -> str:
    if text in col.choices:
        return text
    named = [c for c in col.choices if c]
    allowed = " or ".join(named) if len(named) == 2 else "one of " + ", ".join(named)
    raise CellError(f"{col.name} {text!r} is not {allowed}")


def _decimal(text: str, col: Column, tz: str) -> Decimal:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        raise CellError(f"{col.name} {text!r} is not a number") from None


def _number(text: str, col: Column, tz: str) -> float:
    if text == "":
        return 0.0
    try:
        return float(text)
    except ValueError:
        raise CellError(f"{col.name} {text!r} is not a number") from None


def _int(text: str, col: Column, tz: str) -> int:
    if text == "":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise CellError(f"{col.name} {text!r} is not an integer") from None
    return _bounded(value, col)


def _bool(text: str, col: Column, tz: str) -> bool:
    low = text.lower()
    if low in ("", "false", "0"):
        return False
    if low in ("true", "1"):
        return True
    raise CellError(f"{col.name} {text!r} is not a boolean (use true or false)")


def _duration(text: str, col: Column, tz: str) -> int:
    if text in ("*unlimited", "-1"):
        value = -1
    else:
        try:
            value = parse_duration(text)
        except DurationError:
            raise CellError(f"{col.name} {text!r} is not a duration (use 60s, 1m30s, or a number of units)") from None
    return _bounded(value, col)


def _time(text: str, col: Column, tz: str) -> int:
    try:
        dt = parse_time(text, tz)
    except TimeError:
        raise CellError(f"{col.name} {text!r} is not a time (use RFC3339, e.g. 2014-01-14T00:00:00Z)") from None
    if dt is None:
        raise CellError(f"{col.name} is empty")
    return to_ns(dt)


def _list(text: str, col: Column, tz: str) -> list[str]:
    return split_list(text)


def _int_list(text: str, col: Column, tz: str) -> list[int]:
    if text in ("", ANY):
        return []
    out = []
    for part in text.split(";"):
        part = part.strip()
        if part == ANY:
            return []
        try:
            value = int(part)
        except ValueError:
            raise CellError(f"{col.name} {part!r} is not a number (use numbers separated by ';' or *any)") from None
        out.append(_bounded(value, col))
    return out


def _interval(text: str, col: Column, tz: str) -> dict | None:
    if not text:
        return None
    parts = text.split(";")
    try:
        start = parse_time(parts[0], tz)
        end = parse_time(parts[1], tz) if len(parts) > 1 else None
    except TimeError:
        raise CellError(f"{col.name} {text!r} is not a time or 'start;end' times (RFC3339)") from None
    return {
        "ActivationTime": format_time(start) if start else _ZERO_TIME,
        "ExpiryTime": format_time(end) if end else _ZERO_TIME,
    }


def _params(text: str, col: Column, tz: str) -> dict[str, str]:
    """``k:v;k2:v2`` (or bare items, numbered) into a dict."""
    out: dict[str, str] = {}
    for i, part in enumerate(split_list(text)):
        k, sep, v = part.partition(":")
        if sep:
            out[k] = v
        else:
            out[str(i)] = part
    return out


def _day_times(text: str, col: Column, tz: str) -> tuple[str, str]:
    times = text.split(";") if text else ["00:00:00"]
    start = times[0].strip() or "00:00:00"
    end = times[1].strip() if len(times) > 1 else ""
    for hms in (start, end):
        if hms and hms not in (ASAP, "*now") and not _HMS.match(hms):
            raise CellError(f"{col.name} {hms!r} is not HH:MM:SS (or *asap)")
    return (ASAP if start == "*now" else start), end


#: How each kind of cell is read: (text, column, timezone) → value, or CellError.
READERS: dict[Kind, Callable[[str, Column, str], Any]] = {
    Kind.STRING: _string,
    Kind.CHOICE: _choice,
    Kind.DECIMAL: _decimal,
    Kind.NUMBER: _number,
    Kind.INT: _int,
    Kind.BOOL: _bool,
    Kind.DURATION: _duration,
    Kind.TIME: _time,
    Kind.LIST: _list,
    Kind.INT_LIST: _int_list,
    Kind.INTERVAL: _interval,
    Kind.PARAMS: _params,
    Kind.DAY_TIMES: _day_times,
}


def read_cell(row: Row, index: int, col: Column, tz: str, cells: dict[str, str] | None = None) -> Any:
    """The value of field ``index`` read as ``col`` says (its default standing for an empty cell)."""
    text = row[index] or col.default
    if not text and col.required:
        raise row.error(index, col.required.format_map(cells or {}))
    try:
        return READERS[col.kind](text, col, tz)
    except CellError as exc:
        raise row.error(index, str(exc)) from None


def read_row(row: Row, spec: FileSpec, tz: str) -> dict[str, Any]:
    """Every cell of the row read by its column, keyed by the field it fills."""
    cells = row.cells(spec.columns)
    return {col.target: read_cell(row, index, col, tz, cells) for index, col in enumerate(spec.columns)}
