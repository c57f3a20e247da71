"""Errors on the RPC surface, worded as CGRateS words them so existing clients keep matching on them.

Each CGRateS error code has its own :class:`RPCError` subclass (``InsufficientCredit``, ``NotFound``, ...), so a
caller tests ``isinstance(exc, InsufficientCredit)`` and never compares text. The message stays CGRateS's exact
wording and is all that travels on the wire; :func:`error_from_message` turns a message read off the wire (or
an untyped ``RPCError``) back into its typed error, so in-process and network Conns raise the same classes.
"""

from __future__ import annotations

from typing import ClassVar

NOT_FOUND = "NOT_FOUND"
EXISTS = "EXISTS"
SERVER_ERROR = "SERVER_ERROR"
MANDATORY_IE_MISSING = "MANDATORY_IE_MISSING"
UNAUTHORIZED_DESTINATION = "UNAUTHORIZED_DESTINATION"
INSUFFICIENT_CREDIT = "INSUFFICIENT_CREDIT"
ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND"
ACCOUNT_DISABLED = "ACCOUNT_DISABLED"
RATING_PLAN_NOT_FOUND = "RATING_PLAN_NOT_FOUND"
MAX_USAGE_EXCEEDED = "MAX_USAGE_EXCEEDED"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
PARTIALLY_EXECUTED = "PARTIALLY_EXECUTED"
DISCONNECTED = "DISCONNECTED"
UNAUTHORIZED = "UNAUTHORIZED"
TIMEOUT = "TIMEOUT"
SERVICE_NOT_AVAILABLE = "SERVICE_NOT_AVAILABLE"


class RPCError(Exception):
    """An error whose message travels verbatim in the reply's ``error`` field.

    Subclasses name one CGRateS code (``code``); constructed without a message they carry the bare code, with
    one (``ServerError("SERVER_ERROR: x")`` or a message read off the wire) they keep it exactly.
    """

    code: ClassVar[str] = ""

    def __init__(self, message: str | None = None) -> None:
        if message is None:
            message = self.code
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RPCError):
            return self.message == other.message
        if isinstance(other, str):
            return self.message == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.message)


class NotFound(RPCError):
    code = NOT_FOUND


class Exists(RPCError):
    code = EXISTS


class ServerError(RPCError):
    code = SERVER_ERROR


class MandatoryIEMissing(RPCError):
    code = MANDATORY_IE_MISSING


class UnauthorizedDestination(RPCError):
    code = UNAUTHORIZED_DESTINATION


class InsufficientCredit(RPCError):
    code = INSUFFICIENT_CREDIT


class AccountNotFound(RPCError):
    code = ACCOUNT_NOT_FOUND


class AccountDisabled(RPCError):
    code = ACCOUNT_DISABLED


class RatingPlanNotFound(RPCError):
    code = RATING_PLAN_NOT_FOUND


class MaxUsageExceeded(RPCError):
    code = MAX_USAGE_EXCEEDED


class NotImplementedRPC(RPCError):
    code = NOT_IMPLEMENTED


class PartiallyExecuted(RPCError):
    code = PARTIALLY_EXECUTED


class Disconnected(RPCError):
    """The request got no answer: the connection is down or went down while waiting."""

    code = DISCONNECTED


class Unauthorized(RPCError):
    code = UNAUTHORIZED


class Timeout(RPCError):
    """No reply within the reply timeout."""

    code = TIMEOUT


class ServiceNotAvailable(RPCError):
    code = SERVICE_NOT_AVAILABLE


_BY_CODE: dict[str, type[RPCError]] = {cls.code: cls for cls in (
    NotFound, Exists, ServerError, MandatoryIEMissing, UnauthorizedDestination, InsufficientCredit, AccountNotFound,
    AccountDisabled, RatingPlanNotFound, MaxUsageExceeded, NotImplementedRPC, PartiallyExecuted, Disconnected,
    Unauthorized, Timeout, ServiceNotAvailable,
)}


def error_from_message(message: str) -> RPCError:
    """The typed error for a CGRateS error message (its code is the text before the first ``:``)."""
    cls = _BY_CODE.get(message.partition(":")[0], RPCError)
    return cls(message)


def typed(exc: RPCError) -> RPCError:
    """``exc`` as its typed class: an untyped ``RPCError("NOT_FOUND")`` becomes ``NotFound``; typed ones pass."""
    if type(exc) is not RPCError:
        return exc
    out = error_from_message(exc.message)
    return exc if type(out) is RPCError else out


def not_found() -> NotFound:
    return NotFound()


def mandatory_ie_missing(*fields: str) -> MandatoryIEMissing:
    """``MANDATORY_IE_MISSING: [Account Destination]`` exactly as CGRateS prints the missing fields."""
    return MandatoryIEMissing(f"{MANDATORY_IE_MISSING}: [{' '.join(fields)}]")


def server_error(detail: object) -> ServerError:
    return ServerError(f"{SERVER_ERROR}: {detail}")


def missing_fields(args: dict, *fields: str) -> list[str]:
    """Names of ``fields`` that are absent or empty in ``args`` (CGRateS's MissingStructFields)."""
    return [f for f in fields if args.get(f) in (None, "", [], {})]


def require(args: dict, *fields: str) -> None:
    missing = missing_fields(args, *fields)
    if missing:
        raise mandatory_ie_missing(*missing)
