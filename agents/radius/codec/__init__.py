"""RADIUS packets and attributes, bytes <-> objects (RFC 2865/2866/2868/2869/3162/3579/5176/6929).

Sans-IO: no sockets, no asyncio, no engine code. ``Packet.decode(data, dictionary, secret)`` and
``packet.encode()`` are symmetric; the authenticator checks work on raw bytes so a server can drop a forged packet
before decoding it (``check_request``).

Decoding is lenient below the packet level, as FreeRADIUS is: an attribute whose value does not fit its type (an
ipaddr of 3 bytes, a broken VSA, a password that is not a multiple of 16) is kept as an unknown raw attribute
(``Attr-N``). Only a packet whose framing is broken raises ``DecodeError``.

By concept: :mod:`.codes` (numbers, names, errors), :mod:`.values` (a type's bytes, value and text),
:mod:`.secret` (hiding and authenticators), :mod:`.attributes` (the attribute area), :mod:`.packet` (packets).
"""

from .attributes import Attribute
from .codes import (
    ACCESS_ACCEPT,
    ACCESS_CHALLENGE,
    ACCESS_REJECT,
    ACCESS_REQUEST,
    ACCOUNTING_REQUEST,
    ACCOUNTING_RESPONSE,
    CHAP_PASSWORD,
    COA_ACK,
    COA_NAK,
    COA_REQUEST,
    CODE_NAMES,
    CODES_BY_NAME,
    DISCONNECT_ACK,
    DISCONNECT_NAK,
    DISCONNECT_REQUEST,
    EAP_MESSAGE,
    HEADER,
    MAX_PACKET,
    MESSAGE_AUTHENTICATOR,
    PROXY_STATE,
    REPLY_CODES,
    REQUEST_CODES,
    SIGNED_REQUEST_CODES,
    STATUS_CLIENT,
    STATUS_SERVER,
    USER_PASSWORD,
    VENDOR_SPECIFIC,
    ZERO_VECTOR,
    AuthenticatorError,
    DecodeError,
    EncodeError,
    RadiusError,
    code_of,
)
from .packet import Packet
from .secret import (
    check_request,
    check_response,
    hide_password,
    packet_length,
    salt_decrypt,
    salt_encrypt,
    unhide_password,
)
from .values import encode_value, value_text

__all__ = [
    "ACCESS_ACCEPT",
    "ACCESS_CHALLENGE",
    "ACCESS_REJECT",
    "ACCESS_REQUEST",
    "ACCOUNTING_REQUEST",
    "ACCOUNTING_RESPONSE",
    "CHAP_PASSWORD",
    "COA_ACK",
    "COA_NAK",
    "COA_REQUEST",
    "CODES_BY_NAME",
    "CODE_NAMES",
    "DISCONNECT_ACK",
    "DISCONNECT_NAK",
    "DISCONNECT_REQUEST",
    "EAP_MESSAGE",
    "HEADER",
    "MAX_PACKET",
    "MESSAGE_AUTHENTICATOR",
    "PROXY_STATE",
    "REPLY_CODES",
    "REQUEST_CODES",
    "SIGNED_REQUEST_CODES",
    "STATUS_CLIENT",
    "STATUS_SERVER",
    "USER_PASSWORD",
    "VENDOR_SPECIFIC",
    "ZERO_VECTOR",
    "Attribute",
    "AuthenticatorError",
    "DecodeError",
    "EncodeError",
    "Packet",
    "RadiusError",
    "check_request",
    "check_response",
    "code_of",
    "encode_value",
    "hide_password",
    "packet_length",
    "salt_decrypt",
    "salt_encrypt",
    "unhide_password",
    "value_text",
]
