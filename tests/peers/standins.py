"""StatS and ResourceS as RouteS sees them, answering CGRateS's methods with values a test chooses.

RouteS reads queue metrics with ``StatSv1.GetQueueFloatMetrics`` and resources with ``ResourceSv1.GetResource``
(``{"Tenant", "ID"}``); these stand-ins answer exactly those, NOT_FOUND for what they do not hold, and record what
they were asked. Register them in a test's registry (``*internal``), or serve them on a JSON-RPC listener of their
own with :class:`StandInServer` for an engine process to reach through ``rpc_conns``.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry, rpc
from pycgrates.engine.rpc.server import StreamServer


class StandInStatS:
    """``StatSv1.GetQueueFloatMetrics`` over ``queues`` (queue ID → metric ID → value)."""

    def __init__(self, queues: dict[str, dict[str, float]] | None = None) -> None:
        self.queues = queues if queues is not None else {}
        self.asked: list[dict] = []

    @rpc("StatSv1.GetQueueFloatMetrics")
    async def float_metrics(self, args: dict) -> dict[str, float]:
        self.asked.append(args)
        if args["ID"] not in self.queues:
            raise RPCError("NOT_FOUND")
        return dict(self.queues[args["ID"]])


class StandInResourceS:
    """``ResourceSv1.GetResource`` over ``in_use`` (resource ID → units of each usage), in CGRateS's Resource
    shape."""

    def __init__(self, in_use: dict[str, list[float]] | None = None) -> None:
        self.in_use = in_use if in_use is not None else {}
        self.asked: list[dict] = []

    @rpc("ResourceSv1.GetResource")
    async def get_resource(self, args: dict) -> dict:
        self.asked.append(args)
        if args["ID"] not in self.in_use:
            raise RPCError("NOT_FOUND")
        tenant = args.get("Tenant") or "cgrates.org"
        usages = {f"u{i}": {"Tenant": tenant, "ID": f"u{i}", "ExpiryTime": "0001-01-01T00:00:00Z", "Units": units}
                  for i, units in enumerate(self.in_use[args["ID"]])}
        return {"Tenant": tenant, "ID": args["ID"], "Usages": usages, "TTLIdx": None}


class StandInServer:
    """The stand-ins on a JSON-RPC listener (127.0.0.1, an ephemeral port), served by a thread with its own event
    loop so that a test may call an engine synchronously while the engine calls them."""

    def __init__(self, *services: Any) -> None:
        registry = Registry()
        for svc in services:
            registry.register_object(svc)
        self.loop = asyncio.new_event_loop()
        self.server = StreamServer(Dispatcher(registry), "127.0.0.1", 0, name="standins", max_message=1 << 20)
        self.thread = threading.Thread(target=self.loop.run_forever, name="standins", daemon=True)
        self.port = 0

    def __enter__(self) -> StandInServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.port = self.server.port
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(1.0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def rpc_conn(self) -> dict:
        """An ``rpc_conns`` entry reaching this listener."""
        return {"strategy": "*first", "conns": [{"address": f"127.0.0.1:{self.port}", "transport": "*json"}]}
