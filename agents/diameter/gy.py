"""Credit-control (Gy/Ro, RFC 4006) message shaping for the Diameter agent.

What the request processors write under ``*rep`` (and the ASR/RAR templates under ``*diamreq``) becomes AVPs here,
with the semantics CGRateS gives a reply path (:func:`set_avp`): ``*rep.Granted-Service-Unit.CC-Time`` joins the
last group of that name, ``new_branch`` starts a new one (a second Multiple-Services-Credit-Control), a top-level
name written twice keeps the last value. An answer always has Session-Id, Origin-Host, Origin-Realm and a
Result-Code (2001 unless a field wrote one); a CCA also gets Auth-Application-Id, CC-Request-Type and
CC-Request-Number from its CCR when the templates did not write them, since RFC 4006 §3.2 requires them.

The latest request of each credit-control session is kept (:class:`SessionRequests`), so that SessionS can have
the session aborted (ASR) or re-authorized (RAR) with the session's own Session-Id, hosts and application.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pycgrates.engine.template.dataprovider import parse_segment

from .codec import AVP, FLAG_ERROR, FLAG_PROXIABLE, FLAG_REQUEST, DecodeError, ResultCode
from .dictionary import AVPDef
from .messages import Message, coerce_value
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
        set_avp(message, path, leaf.value, leaf.new_branch)


def set_avp(message: Message, path: Sequence[str], value: Any, new_branch: bool = False) -> AVP:
    """Write one value at an AVP path, as CGRateS writes a reply field.

    ``new_branch`` appends a whole new branch (a second Multiple-Services-Credit-Control). Otherwise a top-level
    AVP replaces the last one of its name, and a nested one goes into the last group of each name along its path,
    the missing groups created there. Unlike CGRateS, which takes the last group of the deepest level found
    anywhere in the message, the placement never reaches back into an earlier sibling: after a new MSCC for
    Rating-Group 2, ``Multiple-Services-Credit-Control.Granted-Service-Unit.CC-Total-Octets`` lands in that MSCC
    even when only the MSCC of Rating-Group 1 has a Granted-Service-Unit yet. Where CGRateS's placement is
    what a template means, both agree.
    """
    if message.dictionary is None:
        raise KeyError(f"AVP {path[-1]!r}: the message has no dictionary")
    defs = [message.dictionary.avp(name) for name in path]
    if defs[-1].type == "Grouped":
        raise ValueError(f"AVP path {'.'.join(path)}: the last AVP cannot be Grouped")
    leaf = AVP.of(defs[-1], coerce_value(defs[-1], value))
    if len(path) == 1 and not new_branch:
        for i in range(len(message.avps) - 1, -1, -1):
            if _is(message.avps[i], defs[0]):
                message.avps[i] = leaf
                return leaf
    level = message.avps
    depth = 0
    if not new_branch:
        while depth < len(path) - 1:
            group = next((a for a in reversed(level) if _is(a, defs[depth]) and isinstance(a.value, list)), None)
            if group is None:
                break
            level = group.value
            depth += 1
    branch = leaf
    for definition in reversed(defs[depth:-1]):
        branch = AVP.of(definition, [branch])
    level.append(branch)
    return leaf


def _is(avp: AVP, definition: AVPDef) -> bool:
    return avp.code == definition.code and avp.vendor_id == definition.vendor_id


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
    "set_avp",
]
