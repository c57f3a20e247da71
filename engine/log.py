"""Logging: one line per event with time, level and subsystem; CGRateS's syslog-style levels 0..7."""

from __future__ import annotations

import logging
import sys
import time

# CGRateS log_level is syslog severity: 0 emerg … 3 err, 4 warning, 5 notice, 6 info, 7 debug.
_SYSLOG_TO_PY = {0: logging.CRITICAL, 1: logging.CRITICAL, 2: logging.CRITICAL, 3: logging.ERROR, 4: logging.WARNING,
                 5: logging.INFO, 6: logging.INFO, 7: logging.DEBUG}


def python_level(syslog_level: int) -> int:
    return _SYSLOG_TO_PY.get(max(0, min(7, int(syslog_level))), logging.INFO)


class _Formatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        subsystem = record.name[4:] if record.name.startswith("cgr.") else record.name
        line = f"{ts} {record.levelname:<7} [{subsystem}] {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(syslog_level: int = 6, stream=None) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_cgr", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._cgr = True  # type: ignore[attr-defined]
    handler.setFormatter(_Formatter())
    root.addHandler(handler)
    root.setLevel(python_level(syslog_level))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class Throttle:
    """Repeated problems of one source (a peer sending garbage) counted, and logged at most once per ``interval``
    seconds: :meth:`hit` answers the text to add to the line ("" or how many were not logged), or None when this
    one is only counted."""

    __slots__ = ("_logged_at", "_unlogged", "count", "interval")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.count = 0
        self._logged_at = -interval
        self._unlogged = 0

    def hit(self) -> str | None:
        self.count += 1
        now = time.monotonic()
        if now - self._logged_at < self.interval:
            self._unlogged += 1
            return None
        more = f" ({self._unlogged} more not logged)" if self._unlogged else ""
        self._logged_at = now
        self._unlogged = 0
        return more


class DropLog:
    """At most ``per_second`` log lines a second about dropped input (on ``logger``); the rest counted and reported
    in the next line ("<source>: N more dropped <what> were not logged"). ``dropped`` counts every drop."""

    def __init__(self, logger: logging.Logger, source: str, what: str, per_second: int = 10) -> None:
        self.logger = logger
        self.source = source
        self.what = what
        self.per_second = per_second
        self.window = 0.0
        self.count = 0
        self.suppressed = 0
        self.dropped = 0

    def __call__(self, msg: str, *args: object) -> None:
        self.dropped += 1
        now = time.monotonic()
        if now - self.window >= 1.0:
            if self.suppressed:
                self.logger.warning("%s: %d more dropped %s were not logged", self.source, self.suppressed,
                                    self.what)
            self.window, self.count, self.suppressed = now, 0, 0
        if self.count < self.per_second:
            self.count += 1
            self.logger.warning(msg, *args)
        else:
            self.suppressed += 1
