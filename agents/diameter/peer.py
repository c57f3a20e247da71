"""Diameter peer state machine (RFC 6733 §5, watchdog after RFC 3539), sans-IO.

One ``PeerConnection`` per transport connection. The transport feeds it bytes (``receive_data``), timer expiries
(``timer_expired``) and local wishes (``disconnect``); it answers with events for the transport (application
requests to run, connection to close) and bytes to write (``data_to_send``). Every transition is in the
``TRANSITIONS`` table below; a pair missing from the table is a protocol violation handled by ``_out_of_state``.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from dataclasses import dataclass, field

from .codec import (
    AVP,
    CMD_CAPABILITIES_EXCHANGE,
    CMD_DEVICE_WATCHDOG,
    CMD_DISCONNECT_PEER,
    FLAG_ERROR,
    FLAG_REQUEST,
    HEADER_LEN,
    MAX_MESSAGE_LEN,
    DecodeError,
    ResultCode,
    decode_header,
    frame_length,
    unsupported_mandatory,
)
from .dictionary import RELAY_APPLICATION_ID, Dictionary
from .messages import Message

log = logging.getLogger(__name__)

DISCONNECT_REBOOTING = 0
DISCONNECT_BUSY = 1
DISCONNECT_DO_NOT_WANT_TO_TALK_TO_YOU = 2


class PeerState(enum.Enum):
    CLOSED = "closed"
    WAIT_CER = "wait-CER"        # we accepted the connection, the peer must speak first
    WAIT_CEA = "wait-CEA"        # we connected and sent CER
    OPEN = "open"
    WAIT_DWA = "open, wait-DWA"  # open, a watchdog request is outstanding
    CLOSING = "closing"          # we sent DPR and wait for DPA


class Input(enum.Enum):
    START_RESPONDER = "start-responder"
    START_INITIATOR = "start-initiator"
    RECV_CER = "CER"
    RECV_CEA = "CEA"
    RECV_DWR = "DWR"
    RECV_DWA = "DWA"
    RECV_DPR = "DPR"
    RECV_DPA = "DPA"
    RECV_REQUEST = "application request"
    RECV_ANSWER = "application answer"
    TIMEOUT = "timer"
    STOP = "stop"
    CONNECTION_LOST = "connection lost"


S, In = PeerState, Input
#: state → input → (next state, action). The action is a method name of PeerConnection.
TRANSITIONS: dict[PeerState, dict[Input, tuple[PeerState, str]]] = {
    S.CLOSED: {
        In.START_RESPONDER: (S.WAIT_CER, "arm_ce_timer"),
        In.START_INITIATOR: (S.WAIT_CEA, "send_cer"),
    },
    S.WAIT_CER: {
        In.RECV_CER: (S.OPEN, "answer_cer"),         # answer_cer may close instead (no common application)
        In.TIMEOUT: (S.CLOSED, "close_no_ce"),
        In.STOP: (S.CLOSED, "close_quietly"),
        In.CONNECTION_LOST: (S.CLOSED, "forget"),
    },
    S.WAIT_CEA: {
        In.RECV_CEA: (S.OPEN, "accept_cea"),         # accept_cea may close instead (CER rejected)
        In.TIMEOUT: (S.CLOSED, "close_no_ce"),
        In.STOP: (S.CLOSED, "close_quietly"),
        In.CONNECTION_LOST: (S.CLOSED, "forget"),
    },
    S.OPEN: {
        In.RECV_CER: (S.OPEN, "answer_cer"),
        In.RECV_DWR: (S.OPEN, "answer_dwr"),
        In.RECV_DWA: (S.OPEN, "note_activity"),
        In.RECV_DPR: (S.CLOSED, "answer_dpr"),
        In.RECV_REQUEST: (S.OPEN, "deliver_request"),
        In.RECV_ANSWER: (S.OPEN, "deliver_answer"),
        In.TIMEOUT: (S.WAIT_DWA, "send_dwr"),
        In.STOP: (S.CLOSING, "send_dpr"),
        In.CONNECTION_LOST: (S.CLOSED, "forget"),
    },
    S.WAIT_DWA: {
        In.RECV_CER: (S.WAIT_DWA, "answer_cer"),
        In.RECV_DWR: (S.WAIT_DWA, "answer_dwr"),
        In.RECV_DWA: (S.OPEN, "note_activity"),
        In.RECV_DPR: (S.CLOSED, "answer_dpr"),
        In.RECV_REQUEST: (S.WAIT_DWA, "deliver_request"),
        In.RECV_ANSWER: (S.WAIT_DWA, "deliver_answer"),
        In.TIMEOUT: (S.CLOSED, "close_watchdog"),
        In.STOP: (S.CLOSING, "send_dpr"),
        In.CONNECTION_LOST: (S.CLOSED, "forget"),
    },
    S.CLOSING: {
        In.RECV_DPA: (S.CLOSED, "close_quietly"),
        In.RECV_DPR: (S.CLOSED, "answer_dpr"),
        In.RECV_DWR: (S.CLOSING, "answer_dwr"),
        In.RECV_DWA: (S.CLOSING, "ignore"),
        In.RECV_ANSWER: (S.CLOSING, "deliver_answer"),  # answers to requests sent before DPR still count
        In.RECV_REQUEST: (S.CLOSING, "refuse_request"),
        In.TIMEOUT: (S.CLOSED, "close_quietly"),
        In.STOP: (S.CLOSING, "ignore"),
        In.CONNECTION_LOST: (S.CLOSED, "forget"),
    },
}
del S, In

_BASE_INPUTS = {
    (CMD_CAPABILITIES_EXCHANGE, True): Input.RECV_CER, (CMD_CAPABILITIES_EXCHANGE, False): Input.RECV_CEA,
    (CMD_DEVICE_WATCHDOG, True): Input.RECV_DWR, (CMD_DEVICE_WATCHDOG, False): Input.RECV_DWA,
    (CMD_DISCONNECT_PEER, True): Input.RECV_DPR, (CMD_DISCONNECT_PEER, False): Input.RECV_DPA,
}


# ---- what the transport gets back -----------------------------------------------------------------------------
@dataclass(slots=True)
class PeerOpened:
    origin_host: str
    origin_realm: str
    applications: set[int]


@dataclass(slots=True)
class ApplicationRequest:
    """A request for the application handler; answer it with ``PeerConnection.send_answer``."""

    message: Message


@dataclass(slots=True)
class ApplicationAnswer:
    """An answer to a request we sent (matched by the transport on hop-by-hop id)."""

    message: Message


@dataclass(slots=True)
class CloseConnection:
    """Flush what ``data_to_send`` holds, then close the connection."""

    reason: str


PeerEvent = PeerOpened | ApplicationRequest | ApplicationAnswer | CloseConnection


@dataclass(slots=True)
class LocalIdentity:
    """Who we are in CER/CEA and in the Origin-* of our messages."""

    origin_host: str
    origin_realm: str
    host_ip_addresses: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    vendor_id: int = 0
    product_name: str = "CGRateS"
    firmware_revision: int | None = 1
    auth_application_ids: list[int] = field(default_factory=list)
    acct_application_ids: list[int] = field(default_factory=list)
    # (vendor id, application id, "auth" | "acct")
    vendor_specific_applications: list[tuple[int, int, str]] = field(default_factory=list)
    supported_vendor_ids: list[int] = field(default_factory=list)
    origin_state_id: int = field(default_factory=lambda: int(time.time()) & 0xFFFFFFFF)

    @property
    def application_ids(self) -> set[int]:
        return {*self.auth_application_ids, *self.acct_application_ids,
                *(app for _, app, _ in self.vendor_specific_applications)}


@dataclass(slots=True)
class Timers:
    """Seconds. ``watchdog`` is Tw of RFC 3539 (idle time before a DWR)."""

    capabilities_exchange: float = 10.0
    watchdog: float = 30.0
    dwa: float = 10.0
    dpa: float = 5.0


def identity_from_config(origin_host: str, origin_realm: str, vendor_id: int, product_name: str,
                         ce_applications: list[str | int], dictionary: Dictionary,
                         host_ip_addresses: list[str] | None = None) -> LocalIdentity:
    """A ``LocalIdentity`` whose applications are ``ce_applications`` (names or ids) looked up in the dictionaries.

    Applications of the 3GPP/vendor range that the dictionary ties to a vendor go into
    Vendor-Specific-Application-Id; the others into Auth-/Acct-Application-Id by their dictionary type.
    """
    ident = LocalIdentity(origin_host, origin_realm, host_ip_addresses or ["127.0.0.1"], vendor_id, product_name)
    vendors: set[int] = set()
    for entry in ce_applications:
        app = dictionary.application(entry)
        if app is None:
            raise ValueError(f"diameter_agent.ce_applications: application {entry!r} is in no loaded dictionary; "
                             f"add its dictionary to dictionaries_path or use a numeric id")
        vendors.update(v for v in app.vendors if v)
        vendor = next((v for v in app.vendors if v), 0)
        if vendor and app.id >= 16777216:
            ident.vendor_specific_applications.append((vendor, app.id, app.type))
        elif app.type == "acct":
            ident.acct_application_ids.append(app.id)
        else:
            ident.auth_application_ids.append(app.id)
    ident.supported_vendor_ids = sorted(vendors)
    return ident


class PeerConnection:
    """The protocol side of one Diameter connection."""

    def __init__(self, identity: LocalIdentity, dictionary: Dictionary, timers: Timers | None = None,
                 max_message_length: int = MAX_MESSAGE_LEN) -> None:
        self.identity = identity
        self.dictionary = dictionary
        self.timers = timers or Timers()
        self.max_message_length = max_message_length
        self.state = PeerState.CLOSED
        self.remote_host: str | None = None
        self.remote_realm: str | None = None
        self.common_applications: set[int] = set()
        self.deadline: float | None = None
        self._inbuf = bytearray()
        self._outbuf = bytearray()
        self._events: list[PeerEvent] = []
        self._now = 0.0
        self._disconnect_cause = DISCONNECT_REBOOTING
        self._hop_by_hop = random.getrandbits(32)
        self._end_to_end = ((int(time.time()) & 0xFFF) << 20) | random.getrandbits(20)

    # ---- inputs ---------------------------------------------------------------------------------------------
    def start(self, initiator: bool, now: float) -> list[PeerEvent]:
        return self._fire(Input.START_INITIATOR if initiator else Input.START_RESPONDER, None, now)

    def receive_data(self, data: bytes, now: float) -> list[PeerEvent]:
        """Feed bytes read from the connection; returns the events they caused, in order."""
        if self.state is PeerState.CLOSED:
            return []
        self._inbuf += data
        events: list[PeerEvent] = []
        while self.state is not PeerState.CLOSED:
            try:
                length = frame_length(self._inbuf, self.max_message_length)
            except DecodeError as exc:
                events += self._fatal(str(exc))
                break
            if length is None or len(self._inbuf) < length:
                break
            raw = bytes(self._inbuf[:length])
            del self._inbuf[:length]
            events += self._receive_message(raw, now)
        return events

    def timer_expired(self, now: float) -> list[PeerEvent]:
        if self.deadline is None or now < self.deadline:
            return []
        self.deadline = None
        return self._fire(Input.TIMEOUT, None, now)

    def disconnect(self, now: float, cause: int = DISCONNECT_REBOOTING) -> list[PeerEvent]:
        """Start DPR/DPA (or just close when capabilities were never exchanged)."""
        self._disconnect_cause = cause
        return self._fire(Input.STOP, None, now)

    def connection_lost(self, now: float) -> list[PeerEvent]:
        if self.state is PeerState.CLOSED:
            return []
        return self._fire(Input.CONNECTION_LOST, None, now)

    def data_to_send(self) -> bytes:
        out = bytes(self._outbuf)
        self._outbuf.clear()
        return out

    # ---- outputs the application uses -----------------------------------------------------------------------
    def send_answer(self, answer: Message) -> None:
        self._outbuf += answer.pack()

    def send_request(self, request: Message) -> int:
        """Queue a request (ASR, RAR ...); returns its hop-by-hop id for matching the answer."""
        request.flags |= FLAG_REQUEST
        request.hop_by_hop = self._next_hop_by_hop()
        if not request.end_to_end:
            request.end_to_end = self._next_end_to_end()
        self._outbuf += request.pack()
        return request.hop_by_hop

    def error_answer(self, request: Message, result_code: int, failed_avp: AVP | None = None,
                     error_message: str | None = None, error_bit: bool | None = None) -> Message:
        """An answer carrying ``result_code``; the E bit follows RFC 6733 §7.1 (protocol errors, 3xxx) unless
        ``error_bit`` says otherwise."""
        if error_bit is None:
            error_bit = 3000 <= result_code < 4000
        ans = request.answer(result_code, self.identity.origin_host, self.identity.origin_realm, error=error_bit)
        if error_message:
            ans.add("Error-Message", error_message)
        if failed_avp is not None:
            ans.add("Failed-AVP", [failed_avp])
        return ans

    # ---- the machine ----------------------------------------------------------------------------------------
    def _fire(self, inp: Input, msg: Message | None, now: float) -> list[PeerEvent]:
        self._now = now
        transition = TRANSITIONS[self.state].get(inp)
        if transition is None:
            return self._out_of_state(inp, msg)
        next_state, action = transition
        previous = self.state
        self.state = next_state
        getattr(self, action)(msg)
        if self.state is not previous:
            log.debug("diameter peer %s: %s --%s--> %s", self.remote_host or "?", previous.value, inp.value,
                      self.state.value)
        events, self._events = self._events, []
        return events

    def _receive_message(self, raw: bytes, now: float) -> list[PeerEvent]:
        try:
            _, flags, code, app, hbh, _ = decode_header(raw)
        except DecodeError as exc:
            if exc.fatal:
                return self._fatal(str(exc))
            # E bit on a request: answer 3008 (we can still read the identifiers)
            return self._answer_undecodable(raw, exc)
        is_request = bool(flags & FLAG_REQUEST)
        try:
            msg = Message.parse(raw, self.dictionary)
        except DecodeError as exc:
            if is_request:
                return self._answer_undecodable(raw, exc)
            log.warning("diameter peer %s: dropping an undecodable answer (command %d, hop-by-hop %d): %s",
                        self.remote_host or "?", code, hbh, exc)
            return []
        if self.state is PeerState.OPEN and self.timers.watchdog:
            self.deadline = now + self.timers.watchdog  # any traffic proves the peer alive (RFC 3539 §3.4.1)
        inp = _BASE_INPUTS.get((code, is_request))
        if inp is None or app != 0:
            inp = Input.RECV_REQUEST if is_request else Input.RECV_ANSWER
        else:
            # Base messages are small and their values drive the state machine: check every value now.
            try:
                _decode_all(msg.avps)
            except DecodeError as exc:
                if is_request:
                    return self._answer_undecodable(raw, exc)
                if self.state in (PeerState.WAIT_CER, PeerState.WAIT_CEA):
                    return self._fatal(f"invalid {inp.value}: {exc}")
                log.warning("diameter peer %s: dropping an invalid %s: %s", self.remote_host or "?", inp.value, exc)
                return []
        return self._fire(inp, msg, now)

    def _answer_undecodable(self, raw: bytes, exc: DecodeError) -> list[PeerEvent]:
        _, flags, code, app, hbh, e2e = _loose_header(raw)
        request = Message(code, app, flags | FLAG_REQUEST, hbh, e2e, [], self.dictionary)
        session = _session_id_of(raw, self.dictionary)
        if session is not None:
            request.avps.append(session)
        self.send_answer(self.error_answer(request, exc.result_code, exc.avp, str(exc)))
        log.warning("diameter peer %s: answered %d to an undecodable request: %s", self.remote_host or "?",
                    exc.result_code, exc)
        return []

    def _fatal(self, reason: str) -> list[PeerEvent]:
        log.warning("diameter peer %s: closing the connection: %s", self.remote_host or "?", reason)
        self.state = PeerState.CLOSED
        self.deadline = None
        self._inbuf.clear()
        return [CloseConnection(reason)]

    def _out_of_state(self, inp: Input, msg: Message | None) -> list[PeerEvent]:
        if self.state in (PeerState.WAIT_CER, PeerState.WAIT_CEA):
            # RFC 6733 §5.3: nothing but CER/CEA before the capabilities exchange
            return self._fatal(f"{inp.value} received in state {self.state.value}")
        if msg is not None and msg.is_request:
            self.send_answer(self.error_answer(msg, ResultCode.UNABLE_TO_COMPLY,
                                               error_message=f"{inp.value} in state {self.state.value}"))
        else:
            log.info("diameter peer %s: ignoring %s in state %s", self.remote_host or "?", inp.value,
                     self.state.value)
        return []

    # ---- actions (named in TRANSITIONS) ---------------------------------------------------------------------
    def arm_ce_timer(self, _msg: Message | None) -> None:
        self.deadline = self._now + self.timers.capabilities_exchange

    def send_cer(self, _msg: Message | None) -> None:
        cer = Message(CMD_CAPABILITIES_EXCHANGE, 0, FLAG_REQUEST, dictionary=self.dictionary)
        self._add_capabilities(cer)
        self.send_request(cer)
        self.deadline = self._now + self.timers.capabilities_exchange

    def answer_cer(self, cer: Message | None) -> None:
        assert cer is not None
        self.remote_host = _text(cer.value("Origin-Host"))
        self.remote_realm = _text(cer.value("Origin-Realm"))
        theirs = _advertised_applications(cer)
        common = self._common(theirs)
        if not common:
            cea = self.error_answer(cer, ResultCode.NO_COMMON_APPLICATION, error_bit=False)
            self._add_capabilities(cea, with_origin=False)
            self.send_answer(cea)
            self._events.append(CloseConnection(
                f"no common application with {self.remote_host} (it offers {sorted(theirs)}, we "
                f"{sorted(self.identity.application_ids)})"))
            self.state = PeerState.CLOSED
            self.deadline = None
            return
        cea = cer.answer(ResultCode.SUCCESS, self.identity.origin_host, self.identity.origin_realm)
        self._add_capabilities(cea, with_origin=False)
        self.send_answer(cea)
        self._open(common)

    def accept_cea(self, cea: Message | None) -> None:
        assert cea is not None
        self.remote_host = _text(cea.value("Origin-Host"))
        self.remote_realm = _text(cea.value("Origin-Realm"))
        result = cea.value("Result-Code")
        if result != ResultCode.SUCCESS:
            self._events.append(CloseConnection(f"CER rejected by {self.remote_host} with Result-Code {result}"))
            self.state = PeerState.CLOSED
            self.deadline = None
            return
        self._open(self._common(_advertised_applications(cea)) or self.identity.application_ids)

    def _open(self, common: set[int]) -> None:
        self.common_applications = common
        self.deadline = self._now + self.timers.watchdog if self.timers.watchdog else None
        self._events.append(PeerOpened(self.remote_host or "", self.remote_realm or "", common))

    def _common(self, theirs: set[int]) -> set[int]:
        ours = self.identity.application_ids
        if RELAY_APPLICATION_ID in theirs:
            return set(ours) or {RELAY_APPLICATION_ID}
        if RELAY_APPLICATION_ID in ours:
            return theirs
        return ours & theirs

    def answer_dwr(self, dwr: Message | None) -> None:
        assert dwr is not None
        dwa = dwr.answer(ResultCode.SUCCESS, self.identity.origin_host, self.identity.origin_realm)
        dwa.add("Origin-State-Id", self.identity.origin_state_id)
        self.send_answer(dwa)

    def note_activity(self, _msg: Message | None) -> None:
        self.deadline = self._now + self.timers.watchdog if self.timers.watchdog else None

    def send_dwr(self, _msg: Message | None) -> None:
        dwr = Message(CMD_DEVICE_WATCHDOG, 0, FLAG_REQUEST, dictionary=self.dictionary)
        dwr.add("Origin-Host", self.identity.origin_host)
        dwr.add("Origin-Realm", self.identity.origin_realm)
        dwr.add("Origin-State-Id", self.identity.origin_state_id)
        self.send_request(dwr)
        self.deadline = self._now + self.timers.dwa

    def close_watchdog(self, _msg: Message | None) -> None:
        self.deadline = None
        self._events.append(CloseConnection(f"no DWA from {self.remote_host} within {self.timers.dwa}s"))

    def close_no_ce(self, _msg: Message | None) -> None:
        self.deadline = None
        self._events.append(CloseConnection("capabilities exchange did not complete in "
                                            f"{self.timers.capabilities_exchange}s"))

    def answer_dpr(self, dpr: Message | None) -> None:
        assert dpr is not None
        self.send_answer(dpr.answer(ResultCode.SUCCESS, self.identity.origin_host, self.identity.origin_realm))
        self.deadline = None
        self._events.append(CloseConnection(f"DPR from {self.remote_host} (cause {dpr.value('Disconnect-Cause')})"))

    def send_dpr(self, _msg: Message | None) -> None:
        dpr = Message(CMD_DISCONNECT_PEER, 0, FLAG_REQUEST, dictionary=self.dictionary)
        dpr.add("Origin-Host", self.identity.origin_host)
        dpr.add("Origin-Realm", self.identity.origin_realm)
        dpr.add("Disconnect-Cause", self._disconnect_cause)
        self.send_request(dpr)
        self.deadline = self._now + self.timers.dpa

    def close_quietly(self, _msg: Message | None) -> None:
        self.deadline = None
        self._events.append(CloseConnection("disconnected"))

    def forget(self, _msg: Message | None) -> None:
        self.deadline = None

    def ignore(self, _msg: Message | None) -> None:
        pass

    def deliver_request(self, msg: Message | None) -> None:
        assert msg is not None
        if msg.application_id not in self.common_applications and RELAY_APPLICATION_ID not in \
                self.common_applications and msg.application_id != 0:
            self.send_answer(self.error_answer(msg, ResultCode.APPLICATION_UNSUPPORTED))
            return
        unknown = unsupported_mandatory(msg.avps)
        if unknown is not None:
            self.send_answer(self.error_answer(msg, ResultCode.AVP_UNSUPPORTED, unknown,
                                               f"AVP {unknown.code} (vendor {unknown.vendor_id}) is not supported"))
            return
        self._events.append(ApplicationRequest(msg))

    def refuse_request(self, msg: Message | None) -> None:
        assert msg is not None
        self.send_answer(self.error_answer(msg, ResultCode.UNABLE_TO_DELIVER, error_message="peer is closing"))

    def deliver_answer(self, msg: Message | None) -> None:
        assert msg is not None
        self._events.append(ApplicationAnswer(msg))

    # ---- internals ------------------------------------------------------------------------------------------
    def _add_capabilities(self, msg: Message, with_origin: bool = True) -> None:
        ident = self.identity
        if with_origin:
            msg.add("Origin-Host", ident.origin_host)
            msg.add("Origin-Realm", ident.origin_realm)
        for ip in ident.host_ip_addresses:
            msg.add("Host-IP-Address", ip)
        msg.add("Vendor-Id", ident.vendor_id)
        msg.add("Product-Name", ident.product_name)
        msg.add("Origin-State-Id", ident.origin_state_id)
        for vendor in ident.supported_vendor_ids:
            msg.add("Supported-Vendor-Id", vendor)
        for app in ident.auth_application_ids:
            msg.add("Auth-Application-Id", app)
        for app in ident.acct_application_ids:
            msg.add("Acct-Application-Id", app)
        for vendor, app, kind in ident.vendor_specific_applications:
            msg.add("Vendor-Specific-Application-Id", [
                msg.new_avp("Vendor-Id", vendor),
                msg.new_avp("Acct-Application-Id" if kind == "acct" else "Auth-Application-Id", app)])
        if ident.firmware_revision is not None:
            msg.add("Firmware-Revision", ident.firmware_revision)

    def _next_hop_by_hop(self) -> int:
        self._hop_by_hop = (self._hop_by_hop + 1) & 0xFFFFFFFF
        return self._hop_by_hop

    def _next_end_to_end(self) -> int:
        self._end_to_end = (self._end_to_end + 1) & 0xFFFFFFFF
        return self._end_to_end


def _decode_all(avps: list[AVP]) -> None:
    for avp in avps:
        value = avp.value
        if isinstance(value, list):
            _decode_all(value)


def _advertised_applications(msg: Message) -> set[int]:
    apps: set[int] = set()
    for name in ("Auth-Application-Id", "Acct-Application-Id"):
        apps.update(a.value for a in msg.avps_by_path([name]))
    for path in (["Vendor-Specific-Application-Id", "Auth-Application-Id"],
                 ["Vendor-Specific-Application-Id", "Acct-Application-Id"]):
        apps.update(a.value for a in msg.avps_by_path(path))
    return apps


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if value is None else str(value)


def _loose_header(raw: bytes) -> tuple[int, int, int, int, int, int]:
    import struct

    w0, w1, app, hbh, e2e = struct.unpack_from(">IIIII", raw, 0)
    return w0 & 0xFFFFFF, (w1 >> 24) & ~FLAG_ERROR, w1 & 0xFFFFFF, app, hbh, e2e


def _session_id_of(raw: bytes, dictionary: Dictionary) -> AVP | None:
    """Session-Id when it leads the message as RFC 6733 wants, so even a broken request's answer carries it."""
    import struct

    if len(raw) < HEADER_LEN + 8:
        return None
    code, word = struct.unpack_from(">II", raw, HEADER_LEN)
    length = word & 0xFFFFFF
    if code != 263 or word >> 24 & 0x80 or length < 8 or HEADER_LEN + length > len(raw):
        return None
    definition = dictionary.find_avp(263)
    try:
        value = raw[HEADER_LEN + 8:HEADER_LEN + length].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return AVP(263, value, word >> 24, 0, definition)
