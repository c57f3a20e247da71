"""Errors on the RPC surface, worded as CGRateS words them so existing clients keep matching on them."""

from __future__ import annotations

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
    """An error whose message travels verbatim in the reply's ``error`` field."""

    def __init__(self, message: str) -> None:
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


def not_found() -> RPCError:
    return RPCError(NOT_FOUND)


def mandatory_ie_missing(*fields: str) -> RPCError:
    """``MANDATORY_IE_MISSING: [Account Destination]`` exactly as CGRateS prints the missing fields."""
    return RPCError(f"{MANDATORY_IE_MISSING}: [{' '.join(fields)}]")


def server_error(detail: object) -> RPCError:
    return RPCError(f"{SERVER_ERROR}: {detail}")


def missing_fields(args: dict, *fields: str) -> list[str]:
    """Names of ``fields`` that are absent or empty in ``args`` (CGRateS's MissingStructFields)."""
    return [f for f in fields if args.get(f) in (None, "", [], {})]


def require(args: dict, *fields: str) -> None:
    missing = missing_fields(args, *fields)
    if missing:
        raise mandatory_ie_missing(*missing)
