"""``*http_post`` (a form: the ``*exp`` fields as ``name=value`` pairs) and ``*http_json_map`` (a JSON object) to
``export_path``, one request per event; any status other than 2xx is a failed export."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from pycgrates.engine.ees.exporter import Exporter, flat, json_bytes
from pycgrates.engine.ees.settings import HTTP_POST
from pycgrates.engine.template.dataprovider import as_string
from pycgrates.engine.template.fields import NavMap


class HTTPExporter(Exporter):
    connected_target = True

    def __init__(self, settings: Any, service: Any) -> None:
        super().__init__(settings, service)
        self.form = settings.type == HTTP_POST
        self._session: Any = None

    def payload(self, event: dict[str, Any], exp: NavMap | None) -> Any:
        data = flat(exp) if exp is not None else dict(event.get("Event") or {})
        if self.form:
            return urlencode({k: as_string(v) for k, v in data.items()})
        return json_bytes(data)

    async def connect(self) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def disconnect(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(self, payloads: Sequence[Any]) -> None:
        ctype = "application/x-www-form-urlencoded" if self.form else "application/json"
        for body in payloads:
            data = body.encode() if isinstance(body, str) else body
            async with self._session.post(self.settings.export_path, data=data,
                                          headers={"Content-Type": ctype}) as resp:
                if resp.status // 100 != 2:
                    raise OSError(f"HTTP {resp.status} from {self.settings.export_path}")


__all__ = ["HTTPExporter"]
