"""The loop every reader of a server (AMQP, NATS, SQL) runs: wait ``start_delay``, connect, consume until the
connection drops, then connect again after a back-off (``reconnects`` times, -1 forever, at most
``max_reconnect_interval`` apart). A record in flight when the connection dropped was not acknowledged: the server
hands it out again (see :mod:`.progress`)."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from pycgrates.engine.ers.settings import ReaderSettings
from pycgrates.engine.units import SECOND

log = logging.getLogger("cgr.ers")


class ConnectedReader:
    """A reader of a server; subclasses implement :meth:`consume` (return or raise when the connection ends)."""

    kind = "server"

    def __init__(self, service: Any, settings: ReaderSettings) -> None:
        self.service = service
        self.settings = settings
        self.sink = service.reader_sink(settings, settings.id)
        self.number = 0  # records received since start, for the logs
        self.connected = asyncio.Event()

    async def consume(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Stop consuming (the service's supervisor cancels :meth:`run`)."""

    async def run(self) -> None:
        s = self.settings
        if s.start_delay > 0:
            await asyncio.sleep(s.start_delay / SECOND)
        failures = 0
        while True:
            try:
                await self.consume()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a connection refused or lost, a server-side error
                failures += 1
                self.connected.clear()
                if 0 <= s.reconnects < failures:
                    log.error("<ERs> reader <%s>: %s %s failed %d times, giving up: %s", s.id, self.kind,
                              _safe(s.source_path), failures, exc)
                    return
                cap = s.max_reconnect_interval / SECOND if s.max_reconnect_interval > 0 else 300.0
                delay = min(cap, 0.2 * 2 ** min(failures, 12)) * (0.5 + random.random() / 2)
                log.warning("<ERs> reader <%s>: %s %s: %s; reconnecting in %.1fs", s.id, self.kind,
                            _safe(s.source_path), exc or type(exc).__name__, delay)
                await asyncio.sleep(delay)


def _safe(url: str) -> str:
    """A source URL for the logs, its password hidden."""
    if "@" not in url or "://" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


__all__ = ["ConnectedReader"]
