"""``*file_csv`` and ``*file_fwv``: exported events as lines of a file in ``export_path``.

A file ``<export_path>/<exporter id>_<uuid>.csv`` (``.fwv``) is opened at the first export, starts with the
``*hdr`` fields' line and ends with the ``*trl`` fields' line (both may read ``*em``, the exporter's metrics);
it is closed once no event came for the ``ees.cache`` ttl of the type (5s by default), or at stop, and the next
export opens a new one. CSV rows are the ``*exp`` values in field order (``csvFieldSeparator``, "," by default);
fixed-width lines are those values side by side (their ``width``/``padding`` make the columns).
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pycgrates.engine.ees.exporter import Exporter, ExportRequest
from pycgrates.engine.ees.settings import FILE_FWV
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.template.fields import NavMap, set_fields


class FileExporter(Exporter):
    def __init__(self, settings: Any, service: Any) -> None:
        super().__init__(settings, service)
        self.fwv = settings.type == FILE_FWV
        self.path: Path | None = None
        self._file: Any = None
        self._idle: asyncio.TimerHandle | None = None

    def payload(self, event: dict[str, Any], exp: NavMap | None) -> Any:
        values = [as_string(leaf.value) for leaf in exp.leaves()] if exp is not None else \
            [as_string(v) for v in (event.get("Event") or {}).values()]
        return "".join(values) if self.fwv else values

    def _line(self, payload: Any) -> str:
        if self.fwv:
            return f"{payload}\n"
        buf = io.StringIO()
        csv.writer(buf, delimiter=str(self.settings.opt("csvFieldSeparator", ",")), lineterminator="\n") \
            .writerow(payload)
        return buf.getvalue()

    async def _edge(self, fields: Sequence[Any], prefix: str) -> str | None:
        if not fields:
            return None
        req = ExportRequest(None, self.settings.id, tenant=self.service.settings.tenant,
                            timezone=self.settings.timezone, metrics=self.metrics.as_reply(),
                            filter_service=self.service.filter_service)
        await set_fields(req, fields)
        return self._line(self.payload({}, req.out(prefix)))

    async def send(self, payloads: Sequence[Any]) -> None:
        if self._file is None:
            folder = Path(self.settings.export_path)
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / f"{self.settings.id}_{uuid.uuid4()}{'.fwv' if self.fwv else '.csv'}"
            self._file = self.path.open("w", encoding="utf-8")
            header = await self._edge(self.settings.header, "*hdr")
            if header:
                self._file.write(header)
        self._file.write("".join(self._line(p) for p in payloads))
        self._file.flush()
        if self._idle is not None:
            self._idle.cancel()
        self._idle = asyncio.get_running_loop().call_later(
            self.settings.idle_close, lambda: self.service.tasks.spawn(self._close_idle(), name=f"close {self.path}"))

    async def _close_idle(self) -> None:
        async with self._lock:
            await self.disconnect()

    async def disconnect(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._file is not None:
            trailer = await self._edge(self.settings.trailer, "*trl")
            if trailer:
                self._file.write(trailer)
            self._file.close()
            self._file = None


__all__ = ["FileExporter"]
