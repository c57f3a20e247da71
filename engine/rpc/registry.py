"""The method registry: ``"Service.Method" → async handler(args) -> reply``, filled once at start-up.

Services mark their RPC methods with :func:`rpc`; :meth:`Registry.register_object` finds them once.
Dispatch is one dict look-up. The connection a request came on (for BiRPC back-calls) is available to
handlers through :data:`rpc_caller`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from pycgrates.engine.rpc.errors import RPCError

Handler = Callable[[Any], Awaitable[Any]]

#: The Conn of the peer whose request is being handled (a BiRPC client or an in-process agent), else None.
rpc_caller: contextvars.ContextVar[Any] = contextvars.ContextVar("rpc_caller", default=None)

_RPC_ATTR = "__rpc_names__"


def rpc(*names: str) -> Callable[[Callable], Callable]:
    """Mark a coroutine method as serving the given ``Service.Method`` names."""

    def mark(fn: Callable) -> Callable:
        setattr(fn, _RPC_ATTR, (*getattr(fn, _RPC_ATTR, ()), *names))
        return fn

    return mark


class Registry:
    def __init__(self) -> None:
        self._methods: dict[str, Handler] = {}
        self._services: set[str] = set()

    def register(self, name: str, handler: Handler) -> None:
        service, _, method = name.partition(".")
        if not service or not method:
            raise ValueError(f"RPC name {name!r} must be 'Service.Method'")
        self._methods[name] = handler
        self._services.add(service)

    def register_object(self, obj: object, *, skip_services: tuple[str, ...] = ()) -> list[str]:
        """Register every method of ``obj`` marked with :func:`rpc` (except those of ``skip_services``)."""
        names: list[str] = []
        for attr in dir(type(obj)):
            fn = getattr(type(obj), attr, None)
            for name in getattr(fn, _RPC_ATTR, ()):
                if name.partition(".")[0] in skip_services:
                    continue
                self.register(name, getattr(obj, attr))
                names.append(name)
        return names

    def unregister_service(self, service: str) -> None:
        for name in [n for n in self._methods if n.partition(".")[0] == service]:
            del self._methods[name]
        self._services.discard(service)

    def lookup(self, name: str) -> Handler:
        handler = self._methods.get(name)
        if handler is None:
            service = name.partition(".")[0]
            if service in self._services:
                raise RPCError(f"rpc: can't find method {name}")
            raise RPCError(f"rpc: can't find service {name}")
        return handler

    async def dispatch(self, name: str, args: Any) -> Any:
        return await self.lookup(name)(args)

    def __contains__(self, name: str) -> bool:
        return name in self._methods

    def methods(self) -> list[str]:
        return sorted(self._methods)
