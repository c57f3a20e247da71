"""One place where a decoded request becomes a reply: registry look-up, metrics, error translation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pycgrates.engine.metrics import Metrics
from pycgrates.engine.rpc.errors import RPCError, server_error, typed
from pycgrates.engine.rpc.registry import Handler, Registry, rpc_caller

log = logging.getLogger("cgr.rpc")


#: Answers some methods before the registry is looked at (DispatcherS on a dispatching engine's listeners)
Router = Callable[[str], Handler | None]


class Dispatcher:
    """Runs handlers for all transports; translates exceptions into CGRateS errors at one boundary.

    With a ``router`` (:meth:`routed`), a method the router has a handler for is answered by it instead of this
    process's service; the engine gives such a Dispatcher to its listeners when DispatcherS runs, while the
    services keep calling each other through the plain one.
    """

    def __init__(self, registry: Registry, metrics: Metrics | None = None, router: Router | None = None) -> None:
        self.registry = registry
        self.metrics = metrics or Metrics()
        self.router = router
        #: the Dispatcher of this process's own services (itself, unless :meth:`routed` made it)
        self.local: Dispatcher = self

    def routed(self, router: Router) -> Dispatcher:
        """A Dispatcher over the same registry and metrics that asks ``router`` first."""
        out = Dispatcher(self.registry, self.metrics, router)
        out.local = self
        return out

    async def invoke(self, method: str, arg: Any, caller: Any = None) -> Any:
        """The handler's reply, as it returned it (models stay models); failures raise typed RPCErrors
        (an unexpected exception is logged and becomes a SERVER_ERROR)."""
        m = self.metrics
        m.requests.inc(method)
        t0 = time.perf_counter()
        token = rpc_caller.set(caller) if caller is not None else None
        try:
            handler = self.router(method) if self.router is not None else None
            return await (handler or self.registry.lookup(method))(arg)
        except RPCError as exc:
            m.errors.inc(method)
            out = typed(exc)
            if out is exc:
                raise
            raise out from exc
        except Exception as exc:  # a handler bug must not take the connection down
            m.errors.inc(method)
            log.exception("handler of %s failed", method)
            raise server_error(exc) from exc
        finally:
            if token is not None:
                rpc_caller.reset(token)
            m.latency.observe(time.perf_counter() - t0, method)

    async def call(self, method: str, arg: Any, caller: Any = None) -> tuple[Any, str | None]:
        """Return (result, error message) for one request off the wire; never raises."""
        try:
            return await self.invoke(method, arg, caller), None
        except RPCError as exc:
            return None, exc.message
