"""SIP server transactions (RFC 3261 §17.2, with RFC 6026's Accepted state) and the layer that routes to them.

A :class:`ServerTransaction` is one INVITE or non-INVITE server transaction as a sans-IO machine: it is fed the
request and its retransmissions, the TU's responses and timer expiries (the clock is passed in, T1/T2/T4 come from
the caller) and answers with effects: responses to send, the request to deliver to the TU, its end. Every
transition is in :data:`TRANSITIONS` (kind → state → input → (next state, action)); a pair missing from the table is
absorbed and logged. Timers: G (final response retransmission, T1 doubling up to T2, unreliable transports only for
3xx-6xx; always for 2xx, §13.3.1.4), H (64·T1 waiting for the ACK), I (T4 absorbing ACK retransmissions), J (64·T1
absorbing request retransmissions), L (64·T1 in Accepted).

:class:`TransactionLayer` matches messages to transactions by the §17.2.3 rules (:func:`transaction_key`), creates
them, answers CANCEL (200, and 487 to its INVITE when that had no final response yet, §9.2) and OPTIONS, and drops
responses and stray ACKs. The transport gives it messages and the time, and does what the effects say.
"""

from __future__ import annotations

import enum
import heapq
import logging
from collections.abc import Hashable
from dataclasses import dataclass, field

from .codec import MAGIC_COOKIE, SipError, SipRequest, SipResponse, response_to

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, CANCEL, OPTIONS"


@dataclass(slots=True, frozen=True)
class SipTimers:
    """RFC 3261 §17.1.1.1 timer values in seconds (defaults are the RFC's)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2 or self.t4 < 0:
            raise ValueError(f"SIP timers: need 0 < T1 ({self.t1}) <= T2 ({self.t2}) and T4 ({self.t4}) >= 0")


class TxKind(enum.Enum):
    INVITE = "INVITE"
    NON_INVITE = "non-INVITE"


class TxState(enum.Enum):
    IDLE = "idle"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    ACCEPTED = "accepted"
    TERMINATED = "terminated"


class TxInput(enum.Enum):
    REQUEST = "request"
    RETRANSMISSION = "request retransmission"
    ACK = "ACK"
    PROVISIONAL = "TU 1xx"
    SUCCESS = "TU 2xx"
    FAILURE = "TU 3xx-6xx"
    TIMER_G = "timer G"
    TIMER_H = "timer H"
    TIMER_I = "timer I"
    TIMER_J = "timer J"
    TIMER_L = "timer L"
    TRANSPORT_ERROR = "transport error"


S, In = TxState, TxInput
#: kind → state → input → (next state, action). The action is a method name of ServerTransaction.
TRANSITIONS: dict[TxKind, dict[TxState, dict[TxInput, tuple[TxState, str]]]] = {
    TxKind.INVITE: {
        S.IDLE: {
            In.REQUEST: (S.PROCEEDING, "send_trying_and_deliver"),
        },
        S.PROCEEDING: {
            In.RETRANSMISSION: (S.PROCEEDING, "resend_last"),
            In.PROVISIONAL: (S.PROCEEDING, "send_response"),
            In.SUCCESS: (S.ACCEPTED, "send_success"),
            In.FAILURE: (S.COMPLETED, "send_final"),
            In.TRANSPORT_ERROR: (S.TERMINATED, "fail"),
        },
        S.COMPLETED: {
            In.RETRANSMISSION: (S.COMPLETED, "resend_last"),
            In.ACK: (S.CONFIRMED, "confirm"),
            In.TIMER_G: (S.COMPLETED, "retransmit_final"),
            In.TIMER_H: (S.TERMINATED, "give_up_on_ack"),
            In.TRANSPORT_ERROR: (S.TERMINATED, "fail"),
        },
        S.CONFIRMED: {
            In.RETRANSMISSION: (S.CONFIRMED, "absorb"),
            In.ACK: (S.CONFIRMED, "absorb"),
            In.TIMER_I: (S.TERMINATED, "finish"),
        },
        S.ACCEPTED: {
            In.RETRANSMISSION: (S.ACCEPTED, "absorb"),
            In.ACK: (S.ACCEPTED, "stop_retransmitting"),
            In.SUCCESS: (S.ACCEPTED, "send_response"),
            In.TIMER_G: (S.ACCEPTED, "retransmit_final"),
            In.TIMER_L: (S.TERMINATED, "finish"),
            In.TRANSPORT_ERROR: (S.TERMINATED, "fail"),
        },
        S.TERMINATED: {},
    },
    TxKind.NON_INVITE: {
        S.IDLE: {
            In.REQUEST: (S.TRYING, "deliver"),
        },
        S.TRYING: {
            In.RETRANSMISSION: (S.TRYING, "absorb"),
            In.PROVISIONAL: (S.PROCEEDING, "send_response"),
            In.SUCCESS: (S.COMPLETED, "send_final"),
            In.FAILURE: (S.COMPLETED, "send_final"),
            In.TRANSPORT_ERROR: (S.TERMINATED, "fail"),
        },
        S.PROCEEDING: {
            In.RETRANSMISSION: (S.PROCEEDING, "resend_last"),
            In.PROVISIONAL: (S.PROCEEDING, "send_response"),
            In.SUCCESS: (S.COMPLETED, "send_final"),
            In.FAILURE: (S.COMPLETED, "send_final"),
            In.TRANSPORT_ERROR: (S.TERMINATED, "fail"),
        },
        S.COMPLETED: {
            In.RETRANSMISSION: (S.COMPLETED, "resend_last"),
            In.TIMER_J: (S.TERMINATED, "finish"),
            In.TRANSPORT_ERROR: (S.TERMINATED, "fail"),
        },
        S.TERMINATED: {},
    },
}
del S, In

_TIMER_INPUTS = {"G": TxInput.TIMER_G, "H": TxInput.TIMER_H, "I": TxInput.TIMER_I, "J": TxInput.TIMER_J,
                 "L": TxInput.TIMER_L}


# ---- effects: what the transport is told to do -----------------------------------------------------------------
@dataclass(slots=True)
class Send:
    """Write ``data`` (a packed response) to ``destination`` (the request's source, as the transport gave it)."""

    data: bytes
    destination: Hashable
    response: SipResponse


@dataclass(slots=True)
class Deliver:
    """A new request for the TU (the handler); answer it with ``TransactionLayer.respond(key, response, now)``."""

    key: TxKey
    request: SipRequest
    source: Hashable


@dataclass(slots=True)
class Cancelled:
    """The request of ``key`` was cancelled (and answered 487): its handler need not finish."""

    key: TxKey


@dataclass(slots=True)
class Terminated:
    """The transaction ``key`` is over; ``reason`` says why ("" for the normal end)."""

    key: TxKey
    reason: str


Effect = Send | Deliver | Cancelled | Terminated


# ---- keys ------------------------------------------------------------------------------------------------------
TxKey = tuple[str, ...]


def transaction_key(request: SipRequest, method: str | None = None) -> TxKey:
    """The §17.2.3 key of the server transaction ``request`` belongs to (an ACK to its INVITE's; ``method``
    overrides the request's, so a CANCEL finds its INVITE with ``method="INVITE"``)."""
    via = request.top_via
    method = method or ("INVITE" if request.method == "ACK" else request.method)
    if via.branch.startswith(MAGIC_COOKIE) and len(via.branch) > len(MAGIC_COOKIE):
        return (via.branch, via.sent_by, method)
    # RFC 2543 peers: no unique branch, match on the request's identity instead (To tag left out: an ACK
    # carries the tag of our response, the INVITE did not)
    top = request.headers.get("Via") or ""
    return ("2543", request.uri, request.from_tag, request.call_id, str(request.cseq[0]), top, method)


def _dialog_key(request: SipRequest) -> tuple[str, str, int]:
    """What matches an ACK to a 2xx (it has a branch of its own, §17.1.1.3): Call-ID, From tag, CSeq number."""
    return (request.call_id, request.from_tag, request.cseq[0])


# ---- the machine -----------------------------------------------------------------------------------------------
class ServerTransaction:
    """One server transaction; every input returns the effects it caused."""

    def __init__(self, key: TxKey, request: SipRequest, source: Hashable, reliable: bool,
                 timers: SipTimers | None = None) -> None:
        self.key = key
        self.kind = TxKind.INVITE if request.method == "INVITE" else TxKind.NON_INVITE
        self.request = request
        self.source = source
        self.reliable = reliable
        self.timers = timers or SipTimers()
        self.state = TxState.IDLE
        self.last_response: SipResponse | None = None
        self.acknowledged = False
        #: final response retransmissions sent on timer G (for metrics and tests)
        self.retransmissions = 0
        self._last_data = b""
        self._deadlines: dict[str, float] = {}
        self._interval_g = self.timers.t1
        self._g_due = 0.0
        self._effects: list[Effect] = []
        self._now = 0.0
        #: the deadline the layer has queued for this transaction
        self.scheduled: float | None = None

    def __repr__(self) -> str:
        return f"ServerTransaction({self.kind.value} {self.request.method} {self.key[0]!r}, {self.state.value})"

    @property
    def deadline(self) -> float | None:
        """When :meth:`timer_expired` next has something to do."""
        return min(self._deadlines.values()) if self._deadlines else None

    # ---- inputs
    def start(self, now: float) -> list[Effect]:
        return self._fire(TxInput.REQUEST, None, now)

    def receive_request(self, request: SipRequest, now: float) -> list[Effect]:
        """A retransmission of the request, or (INVITE) its ACK."""
        return self._fire(TxInput.ACK if request.method == "ACK" else TxInput.RETRANSMISSION, None, now)

    def respond(self, response: SipResponse, now: float) -> list[Effect]:
        """The TU's response."""
        if response.status < 200:
            inp = TxInput.PROVISIONAL
        elif response.status < 300:
            inp = TxInput.SUCCESS
        else:
            inp = TxInput.FAILURE
        return self._fire(inp, response, now)

    def timer_expired(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        while self._deadlines:
            name, when = min(self._deadlines.items(), key=lambda item: item[1])
            if when > now:
                break
            del self._deadlines[name]
            effects += self._fire(_TIMER_INPUTS[name], None, now)
        return effects

    def transport_error(self, now: float) -> list[Effect]:
        return self._fire(TxInput.TRANSPORT_ERROR, None, now)

    # ---- the table
    def _fire(self, inp: TxInput, response: SipResponse | None, now: float) -> list[Effect]:
        self._now = now
        transition = TRANSITIONS[self.kind][self.state].get(inp)
        if transition is None:
            log.debug("SIP %s: %s absorbed in state %s", self, inp.value, self.state.value)
            return []
        previous = self.state
        self.state = transition[0]
        getattr(self, transition[1])(response)
        if self.state is TxState.TERMINATED:
            self._deadlines.clear()
        if self.state is not previous:
            log.debug("SIP %s: %s --%s--> %s", self.key[0], previous.value, inp.value, self.state.value)
        effects, self._effects = self._effects, []
        return effects

    # ---- actions (named in TRANSITIONS)
    def send_trying_and_deliver(self, _response: SipResponse | None) -> None:
        # §17.2.1: the 100 goes at once, the handler (rating, routes) may take longer than 200 ms
        self._send(response_to(self.request, 100))
        self.deliver(None)

    def deliver(self, _response: SipResponse | None) -> None:
        self._effects.append(Deliver(self.key, self.request, self.source))

    def send_response(self, response: SipResponse | None) -> None:
        assert response is not None
        self._send(response)

    def send_final(self, response: SipResponse | None) -> None:
        assert response is not None
        self._send(response)
        if self.kind is TxKind.INVITE:
            if not self.reliable:
                self._g_due = self._deadlines["G"] = self._now + self._interval_g
            self._deadlines["H"] = self._now + 64 * self.timers.t1
        else:
            self._deadlines["J"] = self._now + (0 if self.reliable else 64 * self.timers.t1)

    def send_success(self, response: SipResponse | None) -> None:
        assert response is not None
        self._send(response)
        self._g_due = self._deadlines["G"] = self._now + self._interval_g  # §13.3.1.4: until the ACK, any transport
        self._deadlines["L"] = self._now + 64 * self.timers.t1

    def resend_last(self, _response: SipResponse | None) -> None:
        if self._last_data:
            self._effects.append(Send(self._last_data, self.source, self.last_response))  # type: ignore[arg-type]

    def retransmit_final(self, _response: SipResponse | None) -> None:
        self.retransmissions += 1
        self.resend_last(None)
        self._interval_g = min(2 * self._interval_g, self.timers.t2)
        # from when G was due, not from when it ran: a late timer must not stretch the schedule, or fewer
        # retransmissions fit before H; a timer late by a whole interval starts afresh rather than in a burst
        due = self._g_due + self._interval_g
        self._g_due = due if due > self._now else self._now + self._interval_g
        self._deadlines["G"] = self._g_due

    def confirm(self, _response: SipResponse | None) -> None:
        self.acknowledged = True
        self._deadlines.pop("G", None)
        self._deadlines.pop("H", None)
        self._deadlines["I"] = self._now + (0 if self.reliable else self.timers.t4)

    def stop_retransmitting(self, _response: SipResponse | None) -> None:
        self.acknowledged = True
        self._deadlines.pop("G", None)

    def give_up_on_ack(self, _response: SipResponse | None) -> None:
        status = self.last_response.status if self.last_response else "?"
        self._effects.append(Terminated(self.key, f"no ACK for {status} within {64 * self.timers.t1:g}s "
                                                  f"({self.retransmissions} retransmissions)"))

    def finish(self, _response: SipResponse | None) -> None:
        reason = "" if self.acknowledged or self.kind is TxKind.NON_INVITE or self.last_response is None \
            or self.last_response.status >= 300 else f"no ACK for {self.last_response.status}"
        self._effects.append(Terminated(self.key, reason))

    def fail(self, _response: SipResponse | None) -> None:
        self._effects.append(Terminated(self.key, "transport error"))

    def absorb(self, _response: SipResponse | None) -> None:
        pass

    def _send(self, response: SipResponse) -> None:
        self.last_response = response
        self._last_data = response.pack()
        self._effects.append(Send(self._last_data, self.source, response))


# ---- the layer -------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class LayerStats:
    requests: int = 0
    retransmissions_absorbed: int = 0
    final_retransmissions: int = 0
    ack_timeouts: int = 0
    dropped: int = 0


@dataclass
class TransactionLayer:
    """Every server transaction of one listener, matched and timed; sans-IO like the transactions.

    ``answer_options``: OPTIONS get 200 with ``Allow`` here instead of going to the handler (keep-alive pings).
    """

    timers: SipTimers = field(default_factory=SipTimers)
    answer_options: bool = True
    allow: str = ALLOW
    transactions: dict[TxKey, ServerTransaction] = field(default_factory=dict)
    stats: LayerStats = field(default_factory=LayerStats)
    _accepted: dict[tuple[str, str, int], TxKey] = field(default_factory=dict)
    _heap: list[tuple[float, int, TxKey]] = field(default_factory=list)
    _seq: int = 0

    def __len__(self) -> int:
        return len(self.transactions)

    @property
    def next_deadline(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def receive(self, message: SipRequest | SipResponse, source: Hashable, reliable: bool,
                now: float) -> list[Effect]:
        """A parsed message from ``source``. Responses are dropped: this side only serves."""
        if isinstance(message, SipResponse):
            self.stats.dropped += 1
            log.info("SIP: dropping a %d response from %s: this agent only serves requests", message.status, source)
            return []
        try:
            key = transaction_key(message)
        except SipError as exc:  # parse_message checked them already, unless it was told not to
            self.stats.dropped += 1
            log.warning("SIP: dropping %s from %s: %s", message.method, source, exc)
            return []
        tx = self.transactions.get(key)
        if tx is not None:
            if message.method != "ACK":
                self.stats.retransmissions_absorbed += 1
            return self._after(tx, tx.receive_request(message, now))
        if message.method == "ACK":
            return self._ack_without_transaction(message, source, now)
        self.stats.requests += 1
        tx = ServerTransaction(key, message, source, reliable, self.timers)
        self.transactions[key] = tx
        if message.method == "CANCEL":
            return self._cancel(tx, now)
        effects = tx.start(now)
        if message.method == "OPTIONS" and self.answer_options:
            effects = [e for e in effects if not isinstance(e, Deliver)]
            effects += tx.respond(response_to(message, 200, headers=[("Allow", self.allow)]), now)
        return self._after(tx, effects)

    def respond(self, key: TxKey, response: SipResponse, now: float) -> list[Effect]:
        """The handler's response to the request of ``key`` (nothing when the transaction has ended)."""
        tx = self.transactions.get(key)
        if tx is None:
            log.debug("SIP: response %d for an ended transaction %s dropped", response.status, key[0])
            return []
        effects = tx.respond(response, now)
        if tx.state is TxState.ACCEPTED:
            self._accepted[_dialog_key(tx.request)] = key
        return self._after(tx, effects)

    def transport_error(self, key: TxKey, now: float) -> list[Effect]:
        tx = self.transactions.get(key)
        return [] if tx is None else self._after(tx, tx.transport_error(now))

    def timers_due(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, key = heapq.heappop(heap)
            tx = self.transactions.get(key)
            if tx is not None and tx.deadline is not None and tx.deadline <= now:
                tx.scheduled = None
                before = tx.retransmissions
                effects += self._after(tx, tx.timer_expired(now))
                self.stats.final_retransmissions += tx.retransmissions - before
        return effects

    def _cancel(self, cancel_tx: ServerTransaction, now: float) -> list[Effect]:
        cancel = cancel_tx.request
        effects = cancel_tx.start(now)
        effects = [e for e in effects if not isinstance(e, Deliver)]
        try:
            invite_key = transaction_key(cancel, method="INVITE")
        except SipError:
            invite_key = ()
        invite_tx = self.transactions.get(invite_key)
        if invite_tx is None:
            effects += cancel_tx.respond(response_to(cancel, 481), now)
            return self._after(cancel_tx, effects)
        effects += cancel_tx.respond(response_to(cancel, 200), now)
        effects = self._after(cancel_tx, effects)
        if invite_tx.state is TxState.PROCEEDING:
            effects.append(Cancelled(invite_tx.key))
            effects += self._after(invite_tx, invite_tx.respond(response_to(invite_tx.request, 487), now))
        return effects

    def _ack_without_transaction(self, ack: SipRequest, source: Hashable, now: float) -> list[Effect]:
        try:
            key = self._accepted.get(_dialog_key(ack))
        except SipError:
            key = None
        tx = self.transactions.get(key) if key is not None else None
        if tx is None:
            log.debug("SIP: ACK from %s matches no transaction (Call-ID %s)", source, ack.call_id)
            return []
        return self._after(tx, tx.receive_request(ack, now))

    def _after(self, tx: ServerTransaction, effects: list[Effect]) -> list[Effect]:
        for effect in effects:
            if isinstance(effect, Terminated):
                self.transactions.pop(tx.key, None)
                if tx.kind is TxKind.INVITE and self._accepted.get(_dialog_key(tx.request)) == tx.key:
                    del self._accepted[_dialog_key(tx.request)]
                if effect.reason.startswith("no ACK"):
                    self.stats.ack_timeouts += 1
                    log.warning("SIP %s %s from %s: %s", tx.request.method, tx.request.call_id, tx.source,
                                effect.reason)
        deadline = tx.deadline
        if tx.state is not TxState.TERMINATED and deadline is not None and deadline != tx.scheduled:
            tx.scheduled = deadline
            self._seq += 1
            heapq.heappush(self._heap, (deadline, self._seq, tx.key))
        return effects


__all__ = [
    "ALLOW",
    "TRANSITIONS",
    "Cancelled",
    "Deliver",
    "Effect",
    "LayerStats",
    "Send",
    "ServerTransaction",
    "SipTimers",
    "Terminated",
    "TransactionLayer",
    "TxInput",
    "TxKey",
    "TxKind",
    "TxState",
    "transaction_key",
]
