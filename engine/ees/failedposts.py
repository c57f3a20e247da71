"""Failed posts: the exports that failed after every attempt, kept on disk and sent again by
``APIerSv1.ReplayFailedPosts`` (CGRateS's ees/failedposts.go, JSON lines instead of gob).

A file ``<failed_posts_dir>/EEs|<uuid>.json`` starts with one JSON line describing the target (exporter type,
export path, options, attempts, synchronous, exporter id) and holds one JSON line per payload: what the exporter had
prepared (the CSV row, the JSON body, the SQL row ...), so a replay sends exactly what failed. A payload is appended
with one ``write`` as soon as its export failed — it survives ``kill -9`` — to the file of its exporter and target;
that file takes appends for ``ees.failed_posts.ttl``, then a new one is started.

A replay reads a file (and removes it), sends its payloads with an exporter built from the header, and writes what
failed again to a file of the same name in the failed path (the source path by default; ``*none`` drops them).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycgrates.engine.template.dataprovider import as_string

log = logging.getLogger("cgr.ees")

PREFIX = "EEs"


def encode(payload: Any) -> str:
    if isinstance(payload, bytes | bytearray):
        return json.dumps({"b": payload.decode("utf-8", "surrogateescape")})
    return json.dumps({"v": payload}, default=as_string)


def decode(line: str) -> Any:
    item = json.loads(line)
    if "b" in item:
        return item["b"].encode("utf-8", "surrogateescape")
    return item["v"]


@dataclass(slots=True)
class FailedTarget:
    """What a failed payload was for: enough to build an exporter that sends it again."""

    type: str
    export_path: str
    opts: dict[str, Any]
    attempts: int
    synchronous: bool
    exporter_id: str

    def header(self) -> str:
        return json.dumps({"Type": self.type, "ExportPath": self.export_path, "Opts": self.opts,
                           "Attempts": self.attempts, "Synchronous": self.synchronous,
                           "ExporterID": self.exporter_id}, default=as_string)

    @classmethod
    def from_header(cls, line: str) -> FailedTarget:
        h = json.loads(line)
        return cls(h["Type"], h.get("ExportPath") or "", h.get("Opts") or {}, int(h.get("Attempts") or 1),
                   bool(h.get("Synchronous")), h.get("ExporterID") or "ReplayFailedPosts")


@dataclass(slots=True)
class _OpenFile:
    path: Path
    fd: int
    opened: float
    count: int = 0


@dataclass
class FailedPosts:
    """The failed-posts files being written, one per (directory, target)."""

    ttl: float
    _files: dict[tuple[str, str], _OpenFile] = field(default_factory=dict)

    def add(self, directory: str, target: FailedTarget, payloads: list[Any]) -> Path | None:
        """Append ``payloads`` (one line each, one write) to the current file of ``target``."""
        if not directory or directory == "*none":
            return None
        key = (directory, target.header())
        now = time.monotonic()
        current = self._files.get(key)
        if current is not None and now - current.opened > self.ttl:
            self._close(key)
            current = None
        if current is None:
            folder = Path(directory)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{PREFIX}|{uuid.uuid4().hex}.json"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(fd, (target.header() + "\n").encode())
            current = self._files[key] = _OpenFile(path, fd, now)
        os.write(current.fd, "".join(encode(p) + "\n" for p in payloads).encode())
        current.count += len(payloads)
        return current.path

    def _close(self, key: tuple[str, str]) -> None:
        f = self._files.pop(key)
        os.close(f.fd)
        log.info("<EEs> %d failed export(s) kept in %s", f.count, f.path)

    def close(self) -> None:
        for key in list(self._files):
            self._close(key)


def read_failed(path: Path) -> tuple[FailedTarget, list[Any]]:
    """A failed-posts file's target and payloads; the file is removed once read."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path}: empty")
    target = FailedTarget.from_header(lines[0])
    payloads = [decode(line) for line in lines[1:] if line.strip()]
    path.unlink()
    return target, payloads


def write_failed(path: Path, target: FailedTarget, payloads: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        if f.tell() == 0:
            f.write(target.header() + "\n")
        f.write("".join(encode(p) + "\n" for p in payloads))


__all__ = ["PREFIX", "FailedPosts", "FailedTarget", "read_failed", "write_failed"]
