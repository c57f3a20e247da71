"""SessionSv1's diagnostic methods, apart from the session lifecycle: ``Sleep`` (a request that takes the given
time, to observe concurrency limits) and ``CapsError`` (the error a caller gets when the concurrency cap refuses
a request), as CGRateS serves them."""

from __future__ import annotations

import asyncio
from typing import Any

from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.units import SECOND, parse_duration

#: CGRateS's utils.ErrMaxConcurrentRPCExceededNoCaps
MAX_CONCURRENT_RPC_EXCEEDED = "max concurrent rpc exceeded"


class SessionDiagnostics:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    @rpc("SessionSv1.Sleep")
    async def sleep(self, args: Any) -> str:
        """``{"Duration": "100ms"}`` (or nanoseconds): answer "OK" after that long."""
        duration = parse_duration((args or {}).get("Duration") if isinstance(args, dict) else args)
        await asyncio.sleep(max(0, duration) / SECOND)
        return "OK"

    @rpc("SessionSv1.CapsError")
    async def caps_error(self, args: Any) -> str:
        raise RPCError(MAX_CONCURRENT_RPC_EXCEEDED)
