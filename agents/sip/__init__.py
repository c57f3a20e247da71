"""SIP: the message codec, the server transactions (RFC 3261 §17.2) and the UDP/TCP listeners that run them.

    from pycgrates.agents.sip import SipServer, SipRequest, response_to, SipDataProvider
"""

from .codec import (
    Headers,
    SipError,
    SipMessage,
    SipRequest,
    SipResponse,
    StreamFramer,
    Via,
    address_uri,
    header_params,
    parse_message,
    parse_status_line,
    response_to,
)
from .fields import SipDataProvider, apply_reply_fields, request_vars
from .transaction import ServerTransaction, SipTimers, TransactionLayer, TxState, transaction_key
from .transport import SipListener, SipServer, Source

__all__ = [
    "Headers",
    "ServerTransaction",
    "SipDataProvider",
    "SipError",
    "SipListener",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "SipServer",
    "SipTimers",
    "Source",
    "StreamFramer",
    "TransactionLayer",
    "TxState",
    "Via",
    "address_uri",
    "apply_reply_fields",
    "header_params",
    "parse_message",
    "parse_status_line",
    "request_vars",
    "response_to",
    "transaction_key",
]
