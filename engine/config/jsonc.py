"""JSON with comments, as CGRateS reads its configuration files.

Accepted on top of strict JSON: ``//`` line comments and ``/* */`` block comments (outside strings), trailing
commas before ``}`` or ``]`` and after the top-level value, and bare ``*env:NAME`` values (read as the string
``"*env:NAME"`` for the loader to resolve). Comments are blanked with spaces, newlines kept, so an error points
at the line and column of the original text.

Pure functions: no I/O beyond :func:`load_file`, no asyncio, no engine imports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["JsoncError", "load_file", "loads", "strip"]

# One alternation, tried left to right at each position: a string is consumed whole (so "//" or "/*" inside it
# is left alone), then comments, then an unterminated block comment, then a bare *env: reference, then a comma
# that only comments/whitespace separate from a closing bracket or from the end of the text. The gap is matched
# possessively: a comment must not be cut short to find a bracket inside its own text.
_GAP = r"(?:\s|//[^\n]*+|(?>/\*.*?\*/))*+"
_TOKEN = re.compile(
    r'(?P<str>"(?:[^"\\\n]|\\.)*")'
    r"|(?P<line>//[^\n]*)"
    r"|(?P<block>/\*.*?\*/)"
    r"|(?P<open>/\*)"
    r"|(?P<env>\*env:[A-Za-z_][A-Za-z0-9_]*)"
    rf"|(?P<comma>,(?={_GAP}(?:[\]}}]|\Z)))",
    re.S,
)
_NOT_NEWLINE = re.compile(r"[^\n]")


class JsoncError(ValueError):
    """Text that is not valid JSON-with-comments; carries the source name, 1-based line and column."""

    def __init__(self, source: str, line: int, column: int, reason: str) -> None:
        super().__init__(f"{source}:{line}:{column}: {reason}")
        self.source = source
        self.line = line
        self.column = column
        self.reason = reason


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def strip(text: str, source: str = "<string>") -> str:
    """Blank comments and trailing commas out of ``text``, keeping every other character where it was.

    Bare ``*env:NAME`` references are quoted (the only change that moves columns, and only on their line).
    """
    pieces: list[str] = []
    last = 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "str":
            continue
        start, end = m.span()
        pieces.append(text[last:start])
        if kind == "comma":
            pieces.append(" ")
        elif kind == "env":
            pieces.append(f'"{m.group()}"')
        elif kind == "open":
            line, col = _line_col(text, start)
            raise JsoncError(source, line, col, "unterminated /* comment")
        else:
            pieces.append(_NOT_NEWLINE.sub(" ", m.group()))
        last = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def loads(text: str, source: str = "<string>") -> Any:
    """Parse JSON-with-comments; :class:`JsoncError` names ``source``, line and column on failure."""
    if text.startswith("\ufeff"):
        text = " " + text[1:]
    clean = strip(text, source)
    try:
        return json.loads(clean)
    except json.JSONDecodeError as exc:
        raise JsoncError(source, exc.lineno, exc.colno, exc.msg) from None


def load_file(path: str | Path) -> Any:
    """Read and parse one file; the error names the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise JsoncError(str(p), 1, 1, f"not UTF-8 text ({exc.reason})") from None
    return loads(text, str(p))
