"""RADIUS numbers and names: packet codes, the attributes the codec itself handles, sizes, and the codec's errors
(RFC 2865, 2866, 5176, 5997)."""

from __future__ import annotations

import struct

# Packet codes (RFC 2865, 2866, 5176, 5997).
ACCESS_REQUEST = 1
ACCESS_ACCEPT = 2
ACCESS_REJECT = 3
ACCOUNTING_REQUEST = 4
ACCOUNTING_RESPONSE = 5
ACCESS_CHALLENGE = 11
STATUS_SERVER = 12
STATUS_CLIENT = 13
DISCONNECT_REQUEST = 40
DISCONNECT_ACK = 41
DISCONNECT_NAK = 42
COA_REQUEST = 43
COA_ACK = 44
COA_NAK = 45

CODE_NAMES = {
    ACCESS_REQUEST: "Access-Request", ACCESS_ACCEPT: "Access-Accept", ACCESS_REJECT: "Access-Reject",
    ACCOUNTING_REQUEST: "Accounting-Request", ACCOUNTING_RESPONSE: "Accounting-Response",
    ACCESS_CHALLENGE: "Access-Challenge", STATUS_SERVER: "Status-Server", STATUS_CLIENT: "Status-Client",
    DISCONNECT_REQUEST: "Disconnect-Request", DISCONNECT_ACK: "Disconnect-ACK", DISCONNECT_NAK: "Disconnect-NAK",
    COA_REQUEST: "CoA-Request", COA_ACK: "CoA-ACK", COA_NAK: "CoA-NAK",
}
CODES_BY_NAME = {name.lower().replace("-", ""): code for code, name in CODE_NAMES.items()}
REQUEST_CODES = frozenset({ACCESS_REQUEST, ACCOUNTING_REQUEST, STATUS_SERVER, DISCONNECT_REQUEST, COA_REQUEST})
#: Requests whose Request Authenticator is an MD5 over the packet (not a random nonce).
SIGNED_REQUEST_CODES = frozenset({ACCOUNTING_REQUEST, DISCONNECT_REQUEST, COA_REQUEST})
#: The usual positive reply to each request code.
REPLY_CODES = {
    ACCESS_REQUEST: ACCESS_ACCEPT, ACCOUNTING_REQUEST: ACCOUNTING_RESPONSE, STATUS_SERVER: ACCESS_ACCEPT,
    DISCONNECT_REQUEST: DISCONNECT_ACK, COA_REQUEST: COA_ACK,
}

USER_PASSWORD = 2
CHAP_PASSWORD = 3
PROXY_STATE = 33
VENDOR_SPECIFIC = 26
EAP_MESSAGE = 79
MESSAGE_AUTHENTICATOR = 80

HEADER = struct.Struct("!BBH16s")
MAX_PACKET = 4096
ZERO_VECTOR = bytes(16)


class RadiusError(Exception):
    """Base of every error the RADIUS codec raises."""


class DecodeError(RadiusError):
    """The bytes are not a well-formed RADIUS packet."""


class EncodeError(RadiusError):
    """A value cannot be put on the wire; the message names the attribute."""


class AuthenticatorError(RadiusError):
    """A Request/Response Authenticator or Message-Authenticator does not verify (wrong secret or forgery)."""


def code_of(name_or_code: str | int) -> int:
    """``"AccessAccept"``, ``"Access-Accept"`` or ``2`` -> 2."""
    if isinstance(name_or_code, int):
        return name_or_code
    try:
        return CODES_BY_NAME[name_or_code.lower().replace("-", "").replace("_", "")]
    except KeyError:
        if name_or_code.isdigit():
            return int(name_or_code)
        raise ValueError(f"unknown RADIUS packet code {name_or_code!r} (use e.g. AccessAccept, AccessReject, "
                         "AccessChallenge, CoAACK)") from None
