"""One place where a decoded request becomes a reply: registry look-up, metrics, error translation."""

from __future__ import annotations

import logging
import time
from typing import Any

from pycgrates.engine.metrics import Metrics
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry, rpc_caller

log = logging.getLogger("cgr.rpc")


class Dispatcher:
    """Runs handlers for all transports; translates exceptions into CGRateS error strings at one boundary."""

    def __init__(self, registry: Registry, metrics: Metrics | None = None) -> None:
        self.registry = registry
        self.metrics = metrics or Metrics()

    async def call(self, method: str, arg: Any, caller: Any = None) -> tuple[Any, str | None]:
        """Return (result, error) for one request; never raises."""
        m = self.metrics
        m.requests.inc(method)
        t0 = time.perf_counter()
        token = rpc_caller.set(caller) if caller is not None else None
        try:
            result = await self.registry.lookup(method)(arg)
            return result, None
        except RPCError as exc:
            m.errors.inc(method)
            return None, exc.message
        except Exception as exc:  # a handler bug must not take the connection down
            m.errors.inc(method)
            log.exception("handler of %s failed", method)
            return None, f"SERVER_ERROR: {exc}"
        finally:
            if token is not None:
                rpc_caller.reset(token)
            m.latency.observe(time.perf_counter() - t0, method)
