"""Duplicate request detection (RFC 4006 §5.7, RFC 6733 §3 and Appendix C).

A credit-control client that gets no answer in time sends the request again with the T flag, often over another
connection or relay. The copy must not be charged twice: it gets the answer of the first one. The pair
(Session-Id, CC-Request-Number) is globally unique for a CCR, and (Origin-Host, End-to-End-Identifier) for any
request, so a second arrival of the same key is a duplicate whichever comes first: the T-flagged copy can overtake
a late original (Appendix C), which is then the duplicate. While the first is still being processed, the copy
waits for its answer instead of being processed alongside it.

Pure bookkeeping over asyncio futures: no transport, no clock of its own (the caller passes ``now``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

from pycgrates.agents.diameter.codec import DecodeError
from pycgrates.agents.diameter.messages import Message

CMD_CREDIT_CONTROL = 272
#: seconds an answer is kept for its retransmissions: well past RFC 4006's Tx (10 s) plus a failover
DUPLICATE_WINDOW = 60.0
#: answers kept at most (the oldest go first); a few hundred bytes each
MAX_ANSWERS = 200_000

Key = tuple[str, str, int]


@dataclass(slots=True)
class _Entry:
    expires: float
    answer: asyncio.Future[Message] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def duplicate_key(request: Message) -> Key | None:
    """(Session-Id, CC-Request-Number) of a CCR; (Origin-Host, End-to-End-Identifier) of other requests."""
    try:
        if request.command_code == CMD_CREDIT_CONTROL:
            session, number = request.value("Session-Id"), request.value("CC-Request-Number")
            if session is not None and number is not None:
                return ("ccr", str(session), int(number))
        origin = request.value("Origin-Host")
    except (DecodeError, KeyError, TypeError, ValueError):
        return None
    if origin is None:
        return None
    return ("e2e", str(origin), request.end_to_end)


class DuplicateDetector:
    """Answers seen recently, by duplicate key; the first arrival of a key is processed, the others wait for it."""

    def __init__(self, window: float = DUPLICATE_WINDOW, max_answers: int = MAX_ANSWERS) -> None:
        self.window = window
        self.max_answers = max_answers
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, key: Key, now: float) -> asyncio.Future[Message] | None:
        """None: ``key`` is new, process the request and call :meth:`done` (or :meth:`failed`). Otherwise the
        future of the first arrival's answer."""
        self._expire(now)
        entry = self._entries.get(key)
        if entry is not None:
            self.duplicates += 1
            return entry.answer
        self._entries[key] = _Entry(now + self.window)
        while len(self._entries) > self.max_answers:
            _, old = self._entries.popitem(last=False)
            if not old.answer.done():
                old.answer.cancel()
        return None

    def done(self, key: Key, answer: Message) -> None:
        """The first arrival was answered: its answer is what the duplicates get."""
        entry = self._entries.get(key)
        if entry is not None and not entry.answer.done():
            entry.answer.set_result(answer)

    def failed(self, key: Key, exc: BaseException) -> None:
        """The first arrival got no answer of its own: forget it, so a retransmission is processed afresh."""
        entry = self._entries.pop(key, None)
        if entry is None or entry.answer.done():
            return
        if isinstance(exc, asyncio.CancelledError):
            entry.answer.cancel()
        else:
            entry.answer.set_exception(exc)
            entry.answer.exception()  # a duplicate may not be waiting: nothing to report at garbage collection

    def _expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, entry = next(iter(entries.items()))
            if entry.expires > now:
                return
            del entries[key]
            if not entry.answer.done():
                entry.answer.cancel()


def replay(answer: Message, request: Message) -> Message:
    """``answer`` (given to the first arrival) readdressed to ``request``: its hop-by-hop and end-to-end ids."""
    return Message(answer.command_code, answer.application_id, answer.flags, request.hop_by_hop,
                   request.end_to_end, answer.avps, answer.dictionary)


__all__ = ["DUPLICATE_WINDOW", "MAX_ANSWERS", "DuplicateDetector", "duplicate_key", "replay"]
