"""Duplicate request detection, one detector for every agent: a request that arrives again gets the first one's
answer and is not processed twice.

Clients retransmit: a Diameter credit-control client sends the CCR again with the T flag, often over another
connection (RFC 4006 §5.7, RFC 6733 Appendix C); a NAS sends the Accounting-Request again with the same Identifier
and authenticator (RFC 5080 §2.2.2). A copy must not be charged twice. The agent says what makes two requests the
same (the *key*, any hashable value) and what an answer is (anything, even None for "no reply"); the detector keeps
the first arrival per key. While it is being processed a copy waits for its answer (the handler runs once per
request, whichever copy came first); once answered, the answer is kept ``window`` seconds for late copies. A first
arrival that gets no answer of its own (it failed or was cancelled) is forgotten, so the next copy is processed in
its place.

Pure bookkeeping over asyncio futures: no transport, no clock of its own (the caller passes ``now``). The Diameter
keys and the readdressing of an answer live with the Diameter agent (:mod:`agents.diameter.duplicates`), the RADIUS
ones with its server (:mod:`agents.radius.server`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from pycgrates.engine.metrics import DUPLICATE_REQUESTS

#: seconds an answer is kept for its retransmissions: well past RFC 4006's Tx (10 s) plus a failover
DUPLICATE_WINDOW = 60.0
#: answers kept at most (the oldest go first)
MAX_ANSWERS = 200_000

K = TypeVar("K", bound=Hashable)
A = TypeVar("A")


class DuplicateDetector(Generic[K, A]):
    """First arrivals by key: those in flight (their answer to come) and those answered in the last ``window``.

    The requests in flight are bounded by the transport that admits them (one entry per running handler); the
    answers kept by ``max_answers``.
    """

    def __init__(self, window: float = DUPLICATE_WINDOW, max_answers: int = MAX_ANSWERS) -> None:
        self.window = window
        self.max_answers = max_answers
        self._in_flight: dict[K, asyncio.Future[A]] = {}
        #: answered first arrivals in the order they were answered, so in the order they expire
        self._answered: OrderedDict[K, tuple[float, asyncio.Future[A]]] = OrderedDict()
        #: copies seen since start
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._in_flight) + len(self._answered)

    @property
    def in_flight(self) -> int:
        """First arrivals still being processed."""
        return len(self._in_flight)

    def claim(self, key: K, now: float) -> asyncio.Future[A] | None:
        """None: ``key`` is new, process the request and call :meth:`done` (or :meth:`failed`). Otherwise the
        future of the first arrival's answer (done already when it was answered)."""
        answered = self._answered
        while answered:  # drop what expired
            oldest, (expires, _) = next(iter(answered.items()))
            if expires > now:
                break
            del answered[oldest]
        first = self._in_flight.get(key)
        if first is None:
            kept = answered.get(key)
            first = kept[1] if kept is not None else None
        if first is not None:
            self.duplicates += 1
            DUPLICATE_REQUESTS.inc()
            return first
        self._in_flight[key] = asyncio.get_running_loop().create_future()
        return None

    def done(self, key: K, answer: A, now: float) -> None:
        """The first arrival was answered: the copies get ``answer`` until ``now + window``."""
        first = self._in_flight.pop(key, None)
        if first is None:
            return
        first.set_result(answer)
        self._answered[key] = (now + self.window, first)
        while len(self._answered) > self.max_answers:
            self._answered.popitem(last=False)

    def failed(self, key: K, exc: BaseException) -> None:
        """The first arrival got no answer of its own: forget it, so a copy is processed afresh. The copies waiting
        see ``exc`` (or a cancellation)."""
        first = self._in_flight.pop(key, None)
        if first is None:
            return
        if isinstance(exc, asyncio.CancelledError):
            first.cancel()
        else:
            first.set_exception(exc)
            first.exception()  # no copy may be waiting: nothing to report at garbage collection

    def forget(self, key: K) -> None:
        """Drop a claim whose request will not be processed at all (the agent is overloaded)."""
        self.failed(key, asyncio.CancelledError())

    async def once(self, key: K, now: Callable[[], float], process: Callable[[], Awaitable[A]]) -> tuple[A, bool]:
        """The answer to the request of ``key``, processing it only when it is the first arrival; the flag says
        whether it is a copy (then the answer is the first arrival's). A copy whose first arrival got no answer of
        its own is processed in its place."""
        while True:
            first = self.claim(key, now())
            if first is None:
                try:
                    answer = await process()
                except BaseException as exc:
                    self.failed(key, exc)
                    raise
                self.done(key, answer, now())
                return answer, False
            try:
                return await asyncio.shield(first), True
            except asyncio.CancelledError:
                if not first.cancelled():
                    raise  # this request's own task is being cancelled
            except Exception:  # the first arrival failed: claim again, and maybe process this one
                pass


__all__ = ["DUPLICATE_WINDOW", "MAX_ANSWERS", "DuplicateDetector"]
