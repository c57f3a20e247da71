"""The output of FreeSWITCH's ``show channels`` api: one dict per active channel (``uuid``, ``direction``, ...).

Delimited (the default, ``show channels`` or ``show channels as delim |``)::

    uuid,direction,created,created_epoch,name,state,...      ← column names
    9f0c...,inbound,2024-01-05 10:00:00,1704448800,...       ← one line per channel
                                                               ← a blank line
    1 total.                                                   ← the count

A value may itself hold the delimiter inside ``{}``, ``[]`` or ``()`` (channel names with variables, codec lists),
so splitting respects those groups. With no channel FreeSWITCH prints only ``\\n0 total.\\n`` (no column line).

JSON (``show channels as json``): ``{"row_count": 1, "rows": [{"uuid": ..., ...}]}``, or ``{"row_count": 0}``.
"""

from __future__ import annotations

import re

import orjson

from .esl import ESLError

_TOTAL = re.compile(r"\d+ total\.")
_OPEN = {"{": "}", "[": "]", "(": ")"}


def parse_show_channels(output: str, delimiter: str = ",") -> list[dict[str, str]]:
    """The channels in delimited ``show channels`` output; lines that do not fit the columns are left out."""
    if output.lstrip().startswith("-ERR"):
        raise ESLError(f"show channels failed: {output.strip()}")
    lines = [line.rstrip("\r") for line in output.split("\n")]
    lines = [line for line in lines if line and not _TOTAL.fullmatch(line.strip())]
    if len(lines) < 2:
        return []
    columns = lines[0].split(delimiter)
    channels = []
    for line in lines[1:]:
        values = split_grouped(line, delimiter)
        if len(values) == len(columns):
            channels.append(dict(zip(columns, values, strict=True)))
    return channels


def parse_show_channels_json(output: str) -> list[dict[str, str]]:
    """The channels in ``show channels as json`` output."""
    try:
        obj = orjson.loads(output)
    except orjson.JSONDecodeError:
        raise ESLError(f"show channels as json: not JSON: {output[:80]!r}") from None
    if not isinstance(obj, dict):
        raise ESLError("show channels as json: not a JSON object")
    rows = obj.get("rows") or []
    return [{str(k): "" if v is None else str(v) for k, v in row.items()} for row in rows if isinstance(row, dict)]


def split_grouped(line: str, delimiter: str) -> list[str]:
    """Split on ``delimiter`` except inside ``{}``, ``[]`` and ``()`` groups."""
    if not delimiter:
        return [line]
    out: list[str] = []
    depth = {"}": 0, "]": 0, ")": 0}
    start = i = 0
    n, width = len(line), len(delimiter)
    while i < n:
        if not any(depth.values()) and line.startswith(delimiter, i):
            out.append(line[start:i])
            i = start = i + width
            continue
        ch = line[i]
        if ch in _OPEN:
            depth[_OPEN[ch]] += 1
        elif ch in depth and depth[ch] > 0:
            depth[ch] -= 1
        i += 1
    out.append(line[start:])
    return out


__all__ = ["parse_show_channels", "parse_show_channels_json", "split_grouped"]
