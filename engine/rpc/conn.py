"""The Conn seam: how one service reaches another, in process or over the network, chosen by config.

Each ``*_conns`` option lists connection IDs: ``*internal`` (same process, no serialization),
``*birpc_internal`` (same process, the callee may call back), ``*localhost`` (this engine's own JSON-RPC
listener) or the ID of an ``rpc_conns`` pool. :meth:`ConnManager.get` turns such a list into one Conn.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Sequence
from typing import Any, Protocol

from pycgrates.engine.rpc.client import RPCClient, is_network_error
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import Disconnected, RPCError, error_from_message
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.units import SECOND, parse_duration

log = logging.getLogger("cgr.rpc")

INTERNAL = "*internal"
BIRPC_INTERNAL = "*birpc_internal"
LOCALHOST = "*localhost"
BIJSON_LOCALHOST = "*bijson_localhost"

STRATEGIES = (
    "*first",
    "*next",
    "*random",
    "*round_robin",
    "*broadcast",
    "*broadcast_sync",
    "*broadcast_async",
    "*first_positive",
    "*parallel",
)


class Conn(Protocol):
    async def call(self, method: str, arg: Any, timeout: float | None = None) -> Any: ...


class InternalConn:
    """Calls a service of this process directly: the argument and the reply cross as they are (models stay
    models) and errors as typed RPCErrors. ``caller`` is what the callee sees as the requesting peer."""

    def __init__(self, dispatcher: Dispatcher, caller: Any = None) -> None:
        self.dispatcher = dispatcher
        self.caller = caller

    async def call(self, method: str, arg: Any, timeout: float | None = None) -> Any:
        return await self.dispatcher.invoke(method, arg, self.caller)


class Pool:
    """Several Conns behind one strategy (CGRateS rpcclient pools). The calls a broadcast leaves running run
    under ``tasks`` (the ConnManager's supervisor; a pool of its own otherwise)."""

    def __init__(self, conns: Sequence[Any], strategy: str = "*first", tasks: Supervisor | None = None) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown rpc_conns strategy {strategy!r} (use one of {', '.join(STRATEGIES)})")
        if not conns:
            raise ValueError("an rpc_conns pool needs at least one connection")
        self.conns = list(conns)
        self.strategy = strategy
        self.tasks = tasks if tasks is not None else Supervisor(f"rpc pool {strategy}")
        self._counter = itertools.count()

    def _order(self) -> list[Any]:
        if self.strategy in ("*next", "*round_robin"):
            i = next(self._counter) % len(self.conns)
            return self.conns[i:] + self.conns[:i]
        if self.strategy == "*random":
            order = self.conns[:]
            random.shuffle(order)
            return order
        return self.conns

    async def call(self, method: str, arg: Any, timeout: float | None = None) -> Any:
        s = self.strategy
        if s.startswith("*broadcast"):
            return await self._broadcast(method, arg, timeout)
        if s == "*parallel":
            return await random.choice(self.conns).call(method, arg, timeout)
        last: BaseException = Disconnected()
        for conn in self._order():
            try:
                return await conn.call(method, arg, timeout)
            except RPCError as exc:
                last = exc
                if s != "*first_positive" and not is_network_error(exc):
                    raise
            except OSError as exc:
                last = exc
        if isinstance(last, RPCError):
            raise last
        raise Disconnected() from last

    async def _broadcast(self, method: str, arg: Any, timeout: float | None) -> Any:
        calls = [self.tasks.spawn(c.call(method, arg, timeout), name=f"broadcast {method}") for c in self.conns]
        if self.strategy == "*broadcast_async":
            return None  # failures are logged by the supervisor
        if self.strategy == "*broadcast_sync":
            results = await asyncio.gather(*calls, return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise errors[0] if isinstance(errors[0], RPCError) else error_from_message(str(errors[0]))
            return results[0]
        # *broadcast: the first answer without error wins; the others finish in the background
        last: BaseException | None = None
        for fut in asyncio.as_completed(calls):
            try:
                return await fut
            except Exception as exc:
                last = exc
        raise last if isinstance(last, RPCError) else error_from_message(str(last))


class ConnManager:
    """Resolves ``*_conns`` lists to Conns; one pool object per ID, built on first use."""

    def __init__(self, dispatcher: Dispatcher, rpc_conns: dict[str, Any], *, localhost: str = "127.0.0.1:2012",
                 ssl_context=None, default_reply_timeout: float = 2.0) -> None:
        self.dispatcher = dispatcher
        self.rpc_conns = rpc_conns
        self.localhost = localhost
        self.ssl_context = ssl_context
        self.default_reply_timeout = default_reply_timeout
        self._internal = InternalConn(dispatcher)
        #: what this engine's own address reaches in process (its listeners' Dispatcher: routed through
        #: DispatcherS when that runs); None: ``dispatcher``
        self.front: Dispatcher | None = None
        #: calls that broadcast pools leave running
        self.tasks = Supervisor("rpc conns")
        self._built: dict[str, Any] = {}
        self._lists: dict[tuple[str, ...], Any] = {}

    def get(self, conn_ids: Sequence[str]) -> Conn | None:
        """The Conn for a ``*_conns`` list; None when the list is empty (the feature is off)."""
        key = tuple(conn_ids)
        if not key:
            return None
        conn = self._lists.get(key)
        if conn is None:
            conns = [self._one(cid) for cid in key]
            conn = conns[0] if len(conns) == 1 else Pool(conns, "*first", self.tasks)
            self._lists[key] = conn
        return conn

    def bidirectional(self, conn_ids: Sequence[str], agent: object) -> Conn | None:
        """The Conn an agent talks to SessionS on, so SessionS can call the agent back (AgentV1.*).

        ``agent``'s ``@rpc`` methods answer the back-calls. ``*birpc_internal``/``*internal`` stay in process
        (no serialization); an ``rpc_conns`` pool of ``*birpc_json`` connections carries them over BiRPC.
        """
        if not conn_ids:
            return None
        from pycgrates.engine.rpc.registry import Registry

        registry = Registry()
        registry.register_object(agent)
        local = Dispatcher(registry, self.dispatcher.metrics)
        conns = []
        for cid in conn_ids:
            # this engine's own addresses (as CGRateS configs write them) are this process: no socket needed
            own = cid in (LOCALHOST, BIJSON_LOCALHOST) and cid not in self.rpc_conns
            if cid in (INTERNAL, BIRPC_INTERNAL) or own:
                target = self.front if own and self.front is not None else self.dispatcher
                conns.append(InternalConn(target, caller=InternalConn(local)))
                continue
            spec = self.rpc_conns.get(cid)
            if spec is None:
                raise ValueError(f"connection {cid!r} is not defined in rpc_conns")
            timeout = _seconds(spec.get("reply_timeout"), self.default_reply_timeout)
            members = [RPCClient(c.get("address", ""), reply_timeout=timeout, dispatcher=local,
                                 ssl_context=self.ssl_context if c.get("tls") else None)
                       for c in spec.get("conns") or []]
            conns.append(Pool(members, spec.get("strategy") or "*first", self.tasks) if len(members) != 1
                         else members[0])
        return conns[0] if len(conns) == 1 else Pool(conns, "*first", self.tasks)

    def _one(self, cid: str) -> Any:
        if cid in (INTERNAL, BIRPC_INTERNAL):
            return self._internal
        built = self._built.get(cid)
        if built is not None:
            return built
        spec = self.rpc_conns.get(cid)
        if spec is None:
            if cid == LOCALHOST:
                spec = {"conns": [{"address": self.localhost, "transport": "*json"}]}
            else:
                raise ValueError(f"connection {cid!r} is not defined in rpc_conns")
        built = self._build(cid, spec)
        self._built[cid] = built
        return built

    def _build(self, cid: str, spec: dict) -> Any:
        members = []
        timeout = _seconds(spec.get("reply_timeout"), self.default_reply_timeout)
        for c in spec.get("conns") or []:
            addr = c.get("address", "")
            if addr in (INTERNAL, BIRPC_INTERNAL):
                members.append(self._internal)
                continue
            if addr == LOCALHOST:
                addr = self.localhost
            transport = c.get("transport") or "*json"
            if transport not in ("*json", "*birpc_json", "*gob", "*birpc_gob", "*http_jsonrpc"):
                raise ValueError(
                    f"rpc_conns.{cid}: transport {transport!r} is not supported (use *json or *birpc_json)"
                )
            if transport in ("*gob", "*birpc_gob"):
                log.warning("rpc_conns.%s: %s is not supported by this engine; using *json", cid, transport)
            members.append(
                RPCClient(
                    addr,
                    reply_timeout=timeout,
                    ssl_context=self.ssl_context if c.get("tls") else None,
                    dispatcher=self.dispatcher if transport.startswith("*birpc") else None,
                    reconnects=int(spec.get("reconnects", -1)),
                    connect_attempts=int(spec.get("connect_attempts", 1) or 1),
                )
            )
        return Pool(members, spec.get("strategy") or "*first", self.tasks) if len(members) != 1 else members[0]

    async def close(self) -> None:
        await self.tasks.stop()
        for c in self._built.values():
            for m in c.conns if isinstance(c, Pool) else [c]:
                if isinstance(m, RPCClient):
                    await m.close()
        self._built.clear()
        self._lists.clear()

    def reset(self, rpc_conns: dict[str, Any]) -> None:
        """New rpc_conns after a config reload; existing clients are dropped on next use."""
        self.rpc_conns = rpc_conns
        self._lists.clear()
        old = self._built
        self._built = {}
        for c in old.values():
            for m in c.conns if isinstance(c, Pool) else [c]:
                if isinstance(m, RPCClient) and m.stream is not None:
                    m.stream.close()


def _seconds(value: Any, default: float) -> float:
    if value in (None, "", 0):
        return default
    return parse_duration(value) / SECOND
