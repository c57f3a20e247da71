"""The method registry: ``"Service.Method" → async handler(args) -> reply``, filled once at start-up.

Services mark their RPC methods with :func:`rpc`; :meth:`Registry.register_object` finds them once.
Dispatch is one dict look-up. The connection a request came on (for BiRPC back-calls) is available to
handlers through :data:`rpc_caller`.

Typed seam. A :class:`Method` names a method together with the models of its argument and reply; it is declared
once (next to the service's API) and used by both sides:

- the service marks its handler ``@rpc(METHOD)``: the handler receives the argument model. A caller in the
  same process passes the model itself (nothing is encoded) and gets the reply model back; a JSON argument (a
  network request, or an in-process caller still speaking JSON) is decoded once with ``Model.from_json(data,
  timezone)`` and answered in JSON form (``reply.to_json()``) — each caller gets the form it spoke;
- the caller writes ``await METHOD.call(conn, arg)``: whatever the Conn, the reply comes back as the reply model
  (decoded from JSON only when the Conn is a network one).

The network transports encode models with their ``to_json`` (CGRateS's shapes) only when a request or reply
actually goes on the wire (:func:`engine.rpc.codec.dumps`).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pycgrates.engine.rpc.errors import RPCError, server_error

Handler = Callable[[Any], Awaitable[Any]]

A = TypeVar("A")
R = TypeVar("R")


class ArgModel(Protocol):
    """What an argument model offers: its JSON form both ways (naive times placed in ``timezone``)."""

    @classmethod
    def from_json(cls, data: Any, timezone: str | None = None) -> Any: ...

    def to_json(self) -> Any: ...


class ReplyModel(Protocol):
    @classmethod
    def from_json(cls, data: Any) -> Any: ...

    def to_json(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Method(Generic[A, R]):
    """One RPC method: its ``Service.Method`` name and the models of its argument and reply (None: plain JSON)."""

    name: str
    arg: type[A] | None = None
    reply: type[R] | None = None

    async def call(self, conn: Any, arg: A | dict, timeout: float | None = None) -> R:
        """Call through any Conn; the reply is the reply model whether the Conn was in process or not."""
        result = await (conn.call(self.name, arg) if timeout is None else conn.call(self.name, arg, timeout))
        model = self.reply
        if model is not None and result is not None and not isinstance(result, model):
            result = model.from_json(result)  # type: ignore[attr-defined]
        return result


def json_form(value: Any) -> Any:
    """A reply as JSON-shaped data: models by their ``to_json``, lists of them item by item."""
    to_json = getattr(type(value), "to_json", None)
    if to_json is not None:
        return to_json(value)
    if isinstance(value, list):
        return [json_form(v) for v in value]
    return value


def decode_arg(model: Any, data: Any, timezone: str | None = None) -> Any:
    """``data`` (JSON) as ``model``; malformed input is a SERVER_ERROR naming the problem (models raise their own
    CGRateS errors, such as MANDATORY_IE_MISSING, as they are)."""
    try:
        return model.from_json(data, timezone)
    except RPCError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise server_error(exc) from exc


def _typed(fn: Callable, model: Any) -> Callable:
    @functools.wraps(fn)
    async def handler(owner: Any, arg: Any) -> Any:
        if isinstance(arg, model):
            return await fn(owner, arg)
        decoded = decode_arg(model, arg, getattr(owner, "timezone", None))
        return json_form(await fn(owner, decoded))

    handler.__rpc_arg__ = model  # type: ignore[attr-defined]
    return handler

#: The Conn of the peer whose request is being handled (a BiRPC client or an in-process agent), else None.
rpc_caller: contextvars.ContextVar[Any] = contextvars.ContextVar("rpc_caller", default=None)

_RPC_ATTR = "__rpc_names__"


def rpc(*methods: str | Method) -> Callable[[Callable], Callable]:
    """Mark a coroutine method as serving the given ``Service.Method`` names (or typed :class:`Method` objects).

    With a Method that names an argument model, the handler always receives that model: JSON arguments are
    decoded (with the owner's ``timezone`` attribute, when it has one) and answered in JSON form.
    """
    names = tuple(m.name if isinstance(m, Method) else m for m in methods)
    models = {m.arg for m in methods if isinstance(m, Method) and m.arg is not None}
    if len(models) > 1:
        raise ValueError(f"one handler cannot take several argument models ({', '.join(names)})")

    def mark(fn: Callable) -> Callable:
        if models:
            fn = _typed(fn, next(iter(models)))
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
