"""SIP server transactions and the transaction layer, driven by events and a hand-moved clock alone."""

from __future__ import annotations

import pytest

from pycgrates.agents.sip.codec import SipRequest, parse_message, response_to
from pycgrates.agents.sip.transaction import (
    TRANSITIONS,
    Cancelled,
    Deliver,
    Send,
    ServerTransaction,
    SipTimers,
    Terminated,
    TransactionLayer,
    TxInput,
    TxKind,
    TxState,
    transaction_key,
)

T = SipTimers(t1=0.5, t2=4.0, t4=5.0)
SRC = ("udp", "192.0.2.1", 5060)


def request(method: str = "INVITE", branch: str = "z9hG4bK-1", cseq: int = 1, to_tag: str = "",
            call_id: str = "call-1", sent_by: str = "192.0.2.1:5060") -> SipRequest:
    to = "<sip:1002@example.org>" + (f";tag={to_tag}" if to_tag else "")
    raw = (f"{method} sip:1002@example.org SIP/2.0\r\nVia: SIP/2.0/UDP {sent_by};branch={branch}\r\n"
           f"From: <sip:1001@example.org>;tag=from-1\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
           f"CSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n\r\n")
    msg = parse_message(raw.encode())
    assert isinstance(msg, SipRequest)
    return msg


def statuses(effects) -> list[int]:
    return [e.response.status for e in effects if isinstance(e, Send)]


def run_until(tx_or_layer, start: float, end: float) -> list:
    """Fire every deadline up to ``end``, in order; the effects of all of them."""
    effects = []
    now = start
    while True:
        deadline = tx_or_layer.deadline if isinstance(tx_or_layer, ServerTransaction) else tx_or_layer.next_deadline
        if deadline is None or deadline > end:
            return effects
        now = max(now, deadline)
        fire = tx_or_layer.timer_expired if isinstance(tx_or_layer, ServerTransaction) else tx_or_layer.timers_due
        effects += [(now, e) for e in fire(now)]


# ---- the table -------------------------------------------------------------------------------------------------
def test_every_action_in_the_table_exists_and_terminated_is_final():
    for kind, states in TRANSITIONS.items():
        assert states[TxState.TERMINATED] == {}, kind
        for state, inputs in states.items():
            for inp, (target, action) in inputs.items():
                assert callable(getattr(ServerTransaction, action, None)), (kind, state, inp, action)
                assert target in states, (kind, state, inp)
    invite = TRANSITIONS[TxKind.INVITE]
    assert invite[TxState.COMPLETED][TxInput.ACK] == (TxState.CONFIRMED, "confirm")
    assert invite[TxState.COMPLETED][TxInput.TIMER_H] == (TxState.TERMINATED, "give_up_on_ack")
    assert TxInput.FAILURE not in invite[TxState.COMPLETED]  # one final response per transaction


# ---- INVITE ----------------------------------------------------------------------------------------------------
def test_invite_sends_100_at_once_and_delivers():
    tx = ServerTransaction(("k",), request(), SRC, reliable=False, timers=T)
    effects = tx.start(0.0)
    assert statuses(effects) == [100] and [type(e) for e in effects] == [Send, Deliver]
    assert tx.state is TxState.PROCEEDING and tx.deadline is None
    assert statuses(tx.receive_request(request(), 0.1)) == [100]  # a retransmission gets the last response


def test_final_response_retransmitted_on_timer_g_until_h():
    tx = ServerTransaction(("k",), request(), SRC, reliable=False, timers=T)
    tx.start(0.0)
    final = response_to(tx.request, 302)
    assert statuses(tx.respond(final, 1.0)) == [302]
    assert tx.state is TxState.COMPLETED and tx.deadline == 1.5
    fired = run_until(tx, 1.0, 100.0)
    times = [t for t, e in fired if isinstance(e, Send)]
    # G: T1, 2T1, 4T1, then T2 each; H at 64*T1 = 32 s after the response
    assert times == [1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5]
    assert all(e.data == final.pack() for _, e in fired if isinstance(e, Send))
    assert fired[-1] == (33.0, Terminated(("k",), "no ACK for 302 within 32s (10 retransmissions)"))
    assert tx.state is TxState.TERMINATED and tx.deadline is None


def test_retransmitted_invite_in_completed_gets_the_final_response():
    tx = ServerTransaction(("k",), request(), SRC, reliable=False, timers=T)
    tx.start(0.0)
    tx.respond(response_to(tx.request, 486), 0.2)
    assert statuses(tx.receive_request(request(), 0.3)) == [486]


def test_ack_confirms_stops_g_and_h_and_timer_i_ends():
    tx = ServerTransaction(("k",), request(), SRC, reliable=False, timers=T)
    tx.start(0.0)
    tx.respond(response_to(tx.request, 302), 0.0)
    run_until(tx, 0.0, 1.6)  # two retransmissions
    assert tx.retransmissions == 2
    assert tx.receive_request(request("ACK"), 2.0) == []
    assert tx.state is TxState.CONFIRMED and tx.deadline == 7.0  # T4
    assert tx.receive_request(request("ACK"), 3.0) == [] and tx.receive_request(request(), 3.1) == []
    assert run_until(tx, 2.0, 100.0) == [(7.0, Terminated(("k",), ""))]


def test_reliable_transport_has_no_timer_g_and_no_timer_i():
    tx = ServerTransaction(("k",), request(), SRC, reliable=True, timers=T)
    tx.start(0.0)
    tx.respond(response_to(tx.request, 302), 0.0)
    assert tx.deadline == 32.0  # H only
    tx.receive_request(request("ACK"), 1.0)
    assert run_until(tx, 1.0, 2.0) == [(1.0, Terminated(("k",), ""))]


def test_2xx_is_retransmitted_until_its_ack_then_accepted_until_l():
    tx = ServerTransaction(("k",), request(), SRC, reliable=True, timers=T)
    tx.start(0.0)
    assert statuses(tx.respond(response_to(tx.request, 200), 0.0)) == [200]
    assert tx.state is TxState.ACCEPTED
    assert [t for t, e in run_until(tx, 0.0, 3.0) if isinstance(e, Send)] == [0.5, 1.5]  # even over TCP
    tx.receive_request(request("ACK", branch="z9hG4bK-ack", to_tag="x"), 3.0)
    assert tx.acknowledged and tx.receive_request(request(), 4.0) == []
    assert run_until(tx, 3.0, 100.0) == [(32.0, Terminated(("k",), ""))]


def test_2xx_without_ack_reports_it():
    tx = ServerTransaction(("k",), request(), SRC, reliable=False, timers=SipTimers(0.1, 0.4, 0.5))
    tx.start(0.0)
    tx.respond(response_to(tx.request, 200), 0.0)
    *_, (when, last) = run_until(tx, 0.0, 100.0)
    assert when == pytest.approx(6.4) and last.reason == "no ACK for 200"


def test_late_response_after_the_final_is_absorbed():
    tx = ServerTransaction(("k",), request(), SRC, reliable=False, timers=T)
    tx.start(0.0)
    tx.respond(response_to(tx.request, 487), 0.0)
    assert tx.respond(response_to(tx.request, 302), 0.1) == [] and tx.last_response.status == 487


def test_transport_error_terminates():
    tx = ServerTransaction(("k",), request(), SRC, reliable=True, timers=T)
    tx.start(0.0)
    assert tx.transport_error(0.1) == [Terminated(("k",), "transport error")]
    assert tx.state is TxState.TERMINATED


# ---- non-INVITE --------------------------------------------------------------------------------------------------
def test_non_invite_trying_completed_and_timer_j():
    req = request("BYE", to_tag="t")
    tx = ServerTransaction(("k",), req, SRC, reliable=False, timers=T)
    effects = tx.start(0.0)
    assert [type(e) for e in effects] == [Deliver] and tx.state is TxState.TRYING  # no 100 for non-INVITE
    assert tx.receive_request(req, 0.1) == []  # nothing to resend yet: absorbed
    assert statuses(tx.respond(response_to(req, 100), 0.2)) == [100] and tx.state is TxState.PROCEEDING
    assert statuses(tx.receive_request(req, 0.3)) == [100]
    assert statuses(tx.respond(response_to(req, 200), 0.4)) == [200] and tx.state is TxState.COMPLETED
    assert statuses(tx.receive_request(req, 0.5)) == [200]
    assert run_until(tx, 0.5, 100.0) == [(32.4, Terminated(("k",), ""))]  # J = 64*T1, no retransmissions


def test_non_invite_over_a_reliable_transport_ends_at_once():
    req = request("BYE", to_tag="t")
    tx = ServerTransaction(("k",), req, SRC, reliable=True, timers=T)
    tx.start(0.0)
    tx.respond(response_to(req, 200), 1.0)
    assert run_until(tx, 1.0, 2.0) == [(1.0, Terminated(("k",), ""))]


# ---- keys --------------------------------------------------------------------------------------------------------
def test_transaction_keys_follow_17_2_3():
    invite = request()
    assert transaction_key(invite) == ("z9hG4bK-1", "192.0.2.1:5060", "INVITE")
    assert transaction_key(request("ACK", to_tag="x")) == transaction_key(invite)
    assert transaction_key(request("CANCEL")) != transaction_key(invite)
    assert transaction_key(request("CANCEL"), method="INVITE") == transaction_key(invite)
    assert transaction_key(request(sent_by="192.0.2.9:5060")) != transaction_key(invite)
    old = request(branch="1")  # RFC 2543: no magic cookie
    assert transaction_key(old)[0] == "2543"
    assert transaction_key(request("ACK", branch="1", to_tag="ours")) == transaction_key(old)
    assert transaction_key(request(branch="1", cseq=2)) != transaction_key(old)


# ---- the layer ---------------------------------------------------------------------------------------------------
def test_layer_absorbs_retransmissions_and_matches_the_ack():
    layer = TransactionLayer(T)
    effects = layer.receive(request(), SRC, False, 0.0)
    (deliver,) = [e for e in effects if isinstance(e, Deliver)]
    assert statuses(layer.receive(request(), SRC, False, 0.2)) == [100]
    assert statuses(layer.respond(deliver.key, response_to(deliver.request, 302), 0.3)) == [302]
    assert statuses(layer.timers_due(0.8)) == [302]
    assert layer.receive(request("ACK", to_tag="x"), SRC, False, 1.0) == []
    assert layer.timers_due(100.0) == [Terminated(deliver.key, "")] and len(layer) == 0
    assert layer.stats.requests == 1 and layer.stats.retransmissions_absorbed == 1
    assert layer.stats.final_retransmissions == 1 and layer.stats.ack_timeouts == 0


def test_layer_counts_a_lost_ack():
    layer = TransactionLayer(SipTimers(0.05, 0.4, 0.5))
    (deliver,) = [e for e in layer.receive(request(), SRC, False, 0.0) if isinstance(e, Deliver)]
    layer.respond(deliver.key, response_to(deliver.request, 302), 0.0)
    fired = run_until(layer, 0.0, 10.0)
    assert statuses(e for _, e in fired) == [302] * 10  # 0.05 .1 .2 .4 .4 ... until H at 3.2 s
    assert layer.stats.final_retransmissions == 10 and layer.stats.ack_timeouts == 1 and len(layer) == 0


def test_cancel_before_the_final_response():
    layer = TransactionLayer(T)
    (deliver,) = [e for e in layer.receive(request(), SRC, False, 0.0) if isinstance(e, Deliver)]
    effects = layer.receive(request("CANCEL"), SRC, False, 0.5)
    assert statuses(effects) == [200, 487] and Cancelled(deliver.key) in effects
    cancel_ok = effects[0].response
    assert cancel_ok.cseq == (1, "CANCEL")
    assert effects[-1].response.to_tag == response_to(deliver.request, 487).to_tag
    assert layer.respond(deliver.key, response_to(deliver.request, 302), 0.6) == []  # the handler came too late
    assert statuses(layer.receive(request("CANCEL"), SRC, False, 0.7)) == [200]  # CANCEL retransmitted
    assert layer.receive(request("ACK", to_tag="x"), SRC, False, 0.8) == []
    assert layer.transactions[deliver.key].state is TxState.CONFIRMED


def test_cancel_after_the_final_response_and_without_invite():
    layer = TransactionLayer(T)
    (deliver,) = [e for e in layer.receive(request(), SRC, False, 0.0) if isinstance(e, Deliver)]
    layer.respond(deliver.key, response_to(deliver.request, 302), 0.1)
    effects = layer.receive(request("CANCEL"), SRC, False, 0.2)
    assert statuses(effects) == [200] and not any(isinstance(e, Cancelled) for e in effects)
    assert statuses(layer.receive(request("CANCEL", branch="z9hG4bK-none"), SRC, False, 0.3)) == [481]


def test_options_are_answered_by_the_layer():
    layer = TransactionLayer(T)
    effects = layer.receive(request("OPTIONS"), SRC, False, 0.0)
    assert statuses(effects) == [200] and not any(isinstance(e, Deliver) for e in effects)
    assert effects[0].response.headers.get("Allow") == "INVITE"
    assert effects[0].response.headers.fields("Allow") == ["INVITE, ACK, CANCEL, OPTIONS"]
    passing = TransactionLayer(T, answer_options=False)
    assert [type(e) for e in passing.receive(request("OPTIONS"), SRC, False, 0.0)] == [Deliver]


def test_responses_and_stray_acks_are_dropped():
    layer = TransactionLayer(T)
    response = response_to(request(), 200)
    assert layer.receive(response, SRC, False, 0.0) == [] and layer.stats.dropped == 1
    assert layer.receive(request("ACK", to_tag="x"), SRC, False, 0.0) == [] and len(layer) == 0


def test_ack_to_a_2xx_is_matched_by_dialog():
    layer = TransactionLayer(T)
    (deliver,) = [e for e in layer.receive(request(), SRC, False, 0.0) if isinstance(e, Deliver)]
    layer.respond(deliver.key, response_to(deliver.request, 200), 0.0)
    layer.receive(request("ACK", branch="z9hG4bK-other", to_tag="x"), SRC, False, 0.1)
    assert layer.transactions[deliver.key].acknowledged
    assert layer.timers_due(0.6) == []  # no more 2xx retransmissions
    assert layer.timers_due(40.0) == [Terminated(deliver.key, "")]


def test_a_late_timer_g_does_not_stretch_the_schedule():
    tx = ServerTransaction(("k",), request(), SRC, reliable=False, timers=T)
    tx.start(0.0)
    tx.respond(response_to(tx.request, 302), 0.0)
    tx.timer_expired(0.52)  # due at 0.5, ran 20 ms late
    assert tx.deadline == 1.5
    tx.timer_expired(4.0)  # stalled past a whole interval: starts afresh, no burst
    assert tx.retransmissions == 2 and tx.deadline == 6.0  # 4.0 + the next interval (2 s)
