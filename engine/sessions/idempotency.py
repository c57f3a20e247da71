"""Client-chosen idempotency keys for InitiateSession, UpdateSession and TerminateSession.

CGRateS treats every call as a new request, even when the CGREvent ID repeats (its clients reuse one ID across a
session's updates), so SessionS does too. A JSON-RPC client that may send a call again (a timeout, a reconnect)
says so explicitly: ``APIOpts: {"*idempotencyKey": "<unique per request>"}``. A call carrying a key already seen
for the same method and tenant within ``sessions.idempotency_window`` gets the first call's answer and charges
nothing; while the first is still running, the copy waits for its answer. A first call that failed is not kept: a
copy runs afresh. Without a key nothing is remembered.

Wire protocols that identify their own retransmissions (Diameter, RADIUS) are deduplicated in their agents; this
is the same detector (:class:`agents.dedup.DuplicateDetector`), keyed by what the client chose.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pycgrates.agents.dedup import DuplicateDetector
from pycgrates.engine.units import SECOND, parse_duration

#: the APIOpts key naming a request for deduplication
IDEMPOTENCY_KEY_OPT = "*idempotencyKey"

R = TypeVar("R")


class IdempotentCalls:
    """The answers of keyed calls, kept for the configured window."""

    def __init__(self, window_ns: int) -> None:
        self._detector: DuplicateDetector[tuple[str, str, str], Any] = DuplicateDetector(
            window=max(0, window_ns) / SECOND)

    @classmethod
    def from_config(cls, sessions_cfg: dict) -> IdempotentCalls:
        return cls(parse_duration(sessions_cfg.get("idempotency_window") or 0))

    def set_window(self, window_ns: int) -> None:
        self._detector.window = max(0, window_ns) / SECOND

    @property
    def repeats(self) -> int:
        """Calls answered from an earlier one since start."""
        return self._detector.duplicates

    async def once(self, method: str, tenant: str, opts: dict, process: Callable[[], Awaitable[R]]) -> R:
        """``process()``'s answer, or, for a key seen already, the first call's."""
        key = opts.get(IDEMPOTENCY_KEY_OPT) if opts else None
        if key in (None, "") or self._detector.window <= 0:
            return await process()
        answer, _copy = await self._detector.once((method, tenant, str(key)), time.monotonic, process)
        return answer


__all__ = ["IDEMPOTENCY_KEY_OPT", "IdempotentCalls"]
