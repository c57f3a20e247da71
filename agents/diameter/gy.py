"""Credit-control (Gy/Ro, RFC 4006) message shaping for the Diameter agent.

What the request processors write under ``*rep`` (and the ASR/RAR templates under ``*diamreq``) becomes AVPs here,
with the semantics CGRateS gives a reply path: ``*rep.Granted-Service-Unit.CC-Time`` joins the last group of that
name, ``new_branch`` starts a new one (a second Multiple-Services-Credit-Control), a top-level name written twice
keeps the last value. An answer always has Session-Id, Origin-Host, Origin-Realm and a Result-Code (2001 unless a
field wrote one); a CCA also gets Auth-Application-Id, CC-Request-Type and CC-Request-Number from its CCR when the
templates did not write them, since RFC 4006 §3.2 requires them.

The latest request of each credit-control session is kept (:class:`SessionRequests`), so that SessionS can have
the session aborted (ASR) or re-authorized (RAR) with the session's own Session-Id, hosts and application.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.dataprovider import parse_segment

from .codec import FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST, DecodeError, ResultCode
from .messages import Message
from .peer import PeerState

if TYPE_CHECKING:
    from .transport import DiameterConnection

CMD_CREDIT_CONTROL = 272
CMD_RE_AUTH = 258
CMD_ABORT_SESSION = 274
CC_TERMINATION_REQUEST = 3
#: credit-control sessions whose latest request is kept for ASR/RAR (the least recently active go first)
MAX_SESSIONS = 500_000

_CCA_ECHO = ("Auth-Application-Id", "CC-Request-Type", "CC-Request-Number")


def request_vars(request: Message, conn: DiameterConnection, origin_host: str, origin_realm: str,
                 product_name: str) -> dict[str, Any]:
    """``*vars`` of one request, as CGRateS fills them: our identity, the application, the command, the peer."""
    app = request.dictionary.application(request.application_id) if request.dictionary else None
    return {
        "OriginHost": origin_host,
        "OriginRealm": origin_realm,
        "ProductName": product_name,
        "*app": app.name if app is not None else str(request.application_id),
        "*appid": request.application_id,
        "*cmd": request.command_name,
        "RemoteHost": remote_address(conn),
    }


def remote_address(conn: DiameterConnection) -> str:
    """The peer's address as Go prints a net.Addr: ``ip:port``, ``[ipv6]:port``."""
    addr = conn.remote_address
    if not addr:
        return ""
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def apply_leaves(message: Message, leaves: Iterable[Any]) -> None:
    """Write template output (NavMap leaves) into ``message``.

    Raises KeyError for an AVP no dictionary defines, EncodeError for a value its type cannot hold, ValueError for
    a path that ends on a Grouped AVP: the caller turns them into an error answer.
    """
    for leaf in leaves:
        path = [parse_segment(step)[0] for step in leaf.path]
        if not path or path[0].startswith("*"):
            continue  # agent-level keys (none defined for Diameter yet) are not AVPs
        message.set_avp_by_path(path, leaf.value, leaf.new_branch)


def answer_from_reply(request: Message, leaves: Iterable[Any], origin_host: str, origin_realm: str) -> Message:
    """The answer to ``request`` out of what the reply fields wrote."""
    answer = request.answer(None, origin_host, origin_realm)
    apply_leaves(answer, leaves)
    if answer.find("Result-Code") is None and answer.find("Experimental-Result") is None:
        answer.add("Result-Code", ResultCode.SUCCESS)
    if request.command_code == CMD_CREDIT_CONTROL:
        for name in _CCA_ECHO:
            if answer.find(name) is None:
                avp = request.find(name)
                if avp is not None:
                    answer.avps.append(avp.copy())
    return answer


def error_answer(request: Message, result_code: int, origin_host: str, origin_realm: str,
                 leaves: Iterable[Any] = ()) -> Message:
    """An answer with the E bit and ``result_code``, then what the ``*err`` template wrote (as CGRateS)."""
    answer = request.answer(result_code, origin_host, origin_realm, error=True)
    apply_leaves(answer, leaves)
    return answer


def new_request(command_code: int, template_of: Message, leaves: Iterable[Any]) -> Message:
    """A request we originate (ASR, RAR) in the application of ``template_of``, its AVPs from a template."""
    msg = Message(command_code, template_of.application_id, FLAG_REQUEST | FLAG_PROXIABLE,
                  dictionary=template_of.dictionary)
    apply_leaves(msg, leaves)
    return msg


def result_code(answer: Message) -> int | None:
    """Result-Code, or Experimental-Result-Code, of an answer."""
    try:
        code = answer.value("Result-Code")
        if code is None:
            found = answer.avps_by_path(["Experimental-Result", "Experimental-Result-Code"])
            code = found[0].value if found else None
    except DecodeError:
        return None
    return int(code) if code is not None else None


def is_error(answer: Message) -> bool:
    return bool(answer.flags & FLAG_ERROR)


@dataclass(slots=True)
class SessionRequest:
    """The latest request of a session, where it came from and the ``*vars`` it was processed with."""

    message: Message
    conn: DiameterConnection
    vars: dict[str, Any]
    peer: str | None


class SessionRequests:
    """Latest request per Session-Id of the sessions still running (a CCR-T ends one)."""

    def __init__(self, limit: int = MAX_SESSIONS) -> None:
        self.limit = limit
        self._by_session: OrderedDict[str, SessionRequest] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_session)

    def remember(self, session_id: str, message: Message, conn: DiameterConnection, vars: dict[str, Any]) -> None:
        sessions = self._by_session
        sessions[session_id] = SessionRequest(message, conn, vars, conn.remote_host)
        sessions.move_to_end(session_id)
        if len(sessions) > self.limit:
            sessions.popitem(last=False)

    def forget(self, session_id: str) -> None:
        self._by_session.pop(session_id, None)

    def get(self, session_id: str) -> SessionRequest | None:
        return self._by_session.get(session_id)

    def connection(self, cached: SessionRequest, connections: Iterable[DiameterConnection]) -> DiameterConnection:
        """Where a request about this session goes: its own connection while open, else another open one to the
        same peer (it reconnected). ConnectionError when there is none."""
        if _is_open(cached.conn):
            return cached.conn
        for conn in connections:
            if _is_open(conn) and conn.remote_host == cached.peer:
                cached.conn = conn
                return conn
        raise ConnectionError(f"no open connection to diameter peer {cached.peer}")


def _is_open(conn: DiameterConnection) -> bool:
    return not conn.closed.is_set() and conn.peer.state in (PeerState.OPEN, PeerState.WAIT_DWA)


__all__ = [
    "CC_TERMINATION_REQUEST",
    "CMD_ABORT_SESSION",
    "CMD_CREDIT_CONTROL",
    "CMD_RE_AUTH",
    "SessionRequest",
    "SessionRequests",
    "answer_from_reply",
    "apply_leaves",
    "error_answer",
    "is_error",
    "new_request",
    "remote_address",
    "request_vars",
    "result_code",
]
