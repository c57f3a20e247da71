"""What makes two Diameter requests the same one (RFC 4006 §5.7, RFC 6733 §3 and Appendix C), for
:class:`agents.dedup.DuplicateDetector`.

The pair (Session-Id, CC-Request-Number) is globally unique for a CCR, and (Origin-Host, End-to-End-Identifier) for
any request, so a second arrival of the same key is a duplicate whichever comes first, T flag or not: the T-flagged
copy can overtake a late original (Appendix C), which is then the duplicate. A copy gets the first one's answer
readdressed to its own hop-by-hop and end-to-end identifiers.
"""

from __future__ import annotations

from .codec import DecodeError
from .gy import CMD_CREDIT_CONTROL
from .messages import Message

Key = tuple[str, str, int]


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


def replay(answer: Message, request: Message) -> Message:
    """``answer`` (given to the first arrival) readdressed to ``request``: its hop-by-hop and end-to-end ids."""
    return Message(answer.command_code, answer.application_id, answer.flags, request.hop_by_hop,
                   request.end_to_end, answer.avps, answer.dictionary)


__all__ = ["Key", "duplicate_key", "replay"]
